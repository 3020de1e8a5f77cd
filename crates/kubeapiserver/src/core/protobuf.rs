//! Protobuf field tables of the core/v1 kinds served so far.

use kaiser_apimachinery::protobuf::{Field, Kind::*, Message, OBJECT_META, OBJECT_REFERENCE};

pub static CONFIG_MAP: Message = Message {
    fields: &[
        Field::one(1, "metadata", Message(&OBJECT_META)),
        Field::one(2, "data", MapStringString),
        Field::one(3, "binaryData", MapStringBytes),
        Field::ptr(4, "immutable", Bool),
    ],
};

pub static SECRET: Message = Message {
    fields: &[
        Field::one(1, "metadata", Message(&OBJECT_META)),
        Field::one(2, "data", MapStringBytes),
        Field::one(3, "type", String),
        Field::one(4, "stringData", MapStringString),
        Field::ptr(5, "immutable", Bool),
    ],
};

static LOCAL_OBJECT_REFERENCE: Message = Message {
    fields: &[Field::one(1, "name", String)],
};

pub static SERVICE_ACCOUNT: Message = Message {
    fields: &[
        Field::one(1, "metadata", Message(&OBJECT_META)),
        Field::many(2, "secrets", Message(&OBJECT_REFERENCE)),
        Field::many(3, "imagePullSecrets", Message(&LOCAL_OBJECT_REFERENCE)),
        Field::ptr(4, "automountServiceAccountToken", Bool),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    fields: &[Field::many(1, "finalizers", String)],
};

static NAMESPACE_CONDITION: Message = Message {
    fields: &[
        Field::one(1, "type", String),
        Field::one(2, "status", String),
        Field::one(4, "lastTransitionTime", Time),
        Field::one(5, "reason", String),
        Field::one(6, "message", String),
    ],
};

static NAMESPACE_STATUS: Message = Message {
    fields: &[
        Field::one(1, "phase", String),
        Field::many(2, "conditions", Message(&NAMESPACE_CONDITION)),
    ],
};

pub static NAMESPACE: Message = Message {
    fields: &[
        Field::one(1, "metadata", Message(&OBJECT_META)),
        Field::one(2, "spec", Message(&NAMESPACE_SPEC)),
        Field::one(3, "status", Message(&NAMESPACE_STATUS)),
    ],
};

static EVENT_SOURCE: Message = Message {
    fields: &[
        Field::one(1, "component", String),
        Field::one(2, "host", String),
    ],
};

static EVENT_SERIES: Message = Message {
    fields: &[
        Field::one(1, "count", Int32),
        Field::one(2, "lastObservedTime", MicroTime),
    ],
};

pub static EVENT: Message = Message {
    fields: &[
        Field::one(1, "metadata", Message(&OBJECT_META)),
        Field::one(2, "involvedObject", Message(&OBJECT_REFERENCE)),
        Field::one(3, "reason", String),
        Field::one(4, "message", String),
        Field::one(5, "source", Message(&EVENT_SOURCE)),
        Field::one(6, "firstTimestamp", Time),
        Field::one(7, "lastTimestamp", Time),
        Field::one(8, "count", Int32),
        Field::one(9, "type", String),
        Field::one(10, "eventTime", MicroTime),
        Field::one(11, "series", Message(&EVENT_SERIES)),
        Field::one(12, "action", String),
        Field::one(13, "related", Message(&OBJECT_REFERENCE)),
        Field::one(14, "reportingComponent", String),
        Field::one(15, "reportingInstance", String),
    ],
};
