//! core/v1 resources: strategies with upstream's defaulting, validation,
//! selectable fields and table columns.

pub mod configmap;
pub mod event;
pub mod namespace;
pub mod secret;
pub mod serviceaccount;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::meta;
use kaiser_apimachinery::table::Column;
use kaiser_apimachinery::time;
use serde_json::Value;

/// The AGE cell of an object.
pub fn age_cell(obj: &Value) -> Value {
    let ts = meta::str_field(obj, "creationTimestamp");
    Value::from(time::age((!ts.is_empty()).then_some(ts)))
}

pub const AGE: Column = kaiser_apimachinery::table::AGE_COLUMN;
pub const NAME: Column = kaiser_apimachinery::table::NAME_COLUMN;

const MAX_CONFIG_KEY_LEN: usize = 253;
/// Upper bound on the total size of a ConfigMap's or Secret's data.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// Keys of ConfigMap and Secret data: `[-._a-zA-Z0-9]+`, not `.` or `..`.
pub fn validate_config_key(key: &str, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let field = kaiser_apimachinery::field::key(path, key);
    if key.len() > MAX_CONFIG_KEY_LEN {
        errs.push(FieldError::invalid(
            &field,
            key,
            format!("must be no more than {MAX_CONFIG_KEY_LEN} characters"),
        ));
    }
    let ok_chars = !key.is_empty()
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !ok_chars {
        errs.push(FieldError::invalid(
            &field,
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        ));
    }
    if key == "." || key == ".." {
        errs.push(FieldError::invalid(
            &field,
            key,
            format!("must not be '{key}'"),
        ));
    } else if key.starts_with("..") {
        errs.push(FieldError::invalid(&field, key, "must not start with '..'"));
    }
    errs
}

/// Number of entries in an optional JSON object field.
pub fn map_len(obj: &Value, field: &str) -> usize {
    obj.get(field)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}
