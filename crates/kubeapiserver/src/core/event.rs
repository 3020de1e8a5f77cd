//! Events (core/v1).

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::table::Column;
use kaiser_apimachinery::{meta, time};
use kaiser_registry::strategy::lookup_path;
use kaiser_registry::{ResourceInfo, Strategy};
use serde_json::Value;

use super::NAME;

pub fn info() -> ResourceInfo {
    ResourceInfo::new("", "v1", "events", "Event", true).short_names(&["ev"])
}

pub struct EventStrategy;

const COLUMNS: &[Column] = &[
    Column::new("Last Seen", "string", "When the event was last observed."),
    Column::new("Type", "string", "Normal or Warning."),
    Column::new("Reason", "string", "A short machine-readable reason."),
    Column::new("Object", "string", "The object the event is about."),
    Column::new("Subobject", "string", "The part of the object, if any.").wide(),
    Column::new("Source", "string", "The component that reported the event.").wide(),
    Column::new("Message", "string", "A human-readable description."),
    Column::new("First Seen", "string", "When the event was first observed.").wide(),
    Column::new("Count", "integer", "How many times it was observed.").wide(),
    Column {
        priority: 1,
        ..NAME
    },
];

const SELECTABLE: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

fn s<'a>(obj: &'a Value, path: &str) -> &'a str {
    obj.pointer(path).and_then(Value::as_str).unwrap_or("")
}

fn since(ts: &str) -> String {
    time::age((!ts.is_empty()).then_some(ts))
}

impl Strategy for EventStrategy {
    fn validate(&self, obj: &Value) -> ErrorList {
        let mut errs = ErrorList::new();
        let ns = meta::namespace(obj);
        let io_ns = s(obj, "/involvedObject/namespace");
        if !io_ns.is_empty() && io_ns != ns {
            errs.push(FieldError::invalid(
                "involvedObject.namespace",
                io_ns,
                "does not match event.namespace",
            ));
        }
        errs
    }

    fn extra_selectable_fields(&self) -> &[&'static str] {
        SELECTABLE
    }

    fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(meta::name(obj).to_string()),
            "metadata.namespace" => Some(meta::namespace(obj).to_string()),
            "source" => Some(s(obj, "/source/component").to_string()),
            "reportingComponent" => Some(s(obj, "/reportingComponent").to_string()),
            f => Some(lookup_path(obj, f).unwrap_or_default()),
        }
    }

    fn table_columns(&self) -> &[Column] {
        COLUMNS
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        let mut first = since(s(obj, "/firstTimestamp"));
        if s(obj, "/firstTimestamp").is_empty() {
            first = since(s(obj, "/eventTime"));
        }
        let mut last = if s(obj, "/lastTimestamp").is_empty() {
            first.clone()
        } else {
            since(s(obj, "/lastTimestamp"))
        };
        let mut count = obj.get("count").and_then(Value::as_i64).unwrap_or(0);
        if let Some(series) = obj.get("series").filter(|v| v.is_object()) {
            last = since(
                series
                    .get("lastObservedTime")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
            count = series.get("count").and_then(Value::as_i64).unwrap_or(0);
        } else if count == 0 {
            count = 1;
        }
        let kind = s(obj, "/involvedObject/kind").to_lowercase();
        let name = s(obj, "/involvedObject/name");
        let target = if name.is_empty() {
            kind
        } else {
            format!("{kind}/{name}")
        };
        let source = {
            let (c, h) = (s(obj, "/source/component"), s(obj, "/source/host"));
            let (rc, ri) = (s(obj, "/reportingComponent"), s(obj, "/reportingInstance"));
            match (c.is_empty(), h.is_empty()) {
                (false, true) => c.to_string(),
                (false, false) => format!("{c}, {h}"),
                _ if !rc.is_empty() && !ri.is_empty() => format!("{rc}, {ri}"),
                _ => rc.to_string(),
            }
        };
        vec![
            Value::from(last),
            Value::from(s(obj, "/type")),
            Value::from(s(obj, "/reason")),
            Value::from(target),
            Value::from(s(obj, "/involvedObject/fieldPath")),
            Value::from(source),
            Value::from(s(obj, "/message").trim()),
            Value::from(first),
            Value::from(count),
            Value::from(meta::name(obj)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_and_fields() {
        let e = json!({
            "metadata": {"name": "p.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Started", "type": "Normal", "message": " hi ",
            "source": {"component": "kubelet", "host": "n1"},
        });
        let row = EventStrategy.table_row(&e);
        assert_eq!(row.len(), COLUMNS.len());
        assert_eq!(row[3], "pod/p");
        assert_eq!(row[5], "kubelet, n1");
        assert_eq!(row[6], "hi");
        assert_eq!(row[8], 1);
        assert_eq!(
            EventStrategy
                .field_value(&e, "involvedObject.name")
                .as_deref(),
            Some("p")
        );
        assert!(EventStrategy.validate(&e).is_empty());
        let bad = json!({"metadata": {"namespace": "a"}, "involvedObject": {"namespace": "b"}});
        assert_eq!(EventStrategy.validate(&bad).0.len(), 1);
    }
}
