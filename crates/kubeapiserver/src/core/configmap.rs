//! ConfigMaps.

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::table::Column;
use kaiser_registry::{ResourceInfo, Strategy};
use serde_json::Value;

use super::{AGE, MAX_DATA_BYTES, NAME, age_cell, map_len, validate_config_key};

pub fn info() -> ResourceInfo {
    ResourceInfo::new("", "v1", "configmaps", "ConfigMap", true).short_names(&["cm"])
}

pub struct ConfigMapStrategy;

const COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Data",
        "string",
        "Number of entries in data and binaryData.",
    ),
    AGE,
];

impl Strategy for ConfigMapStrategy {
    fn validate(&self, obj: &Value) -> ErrorList {
        let mut errs = ErrorList::new();
        let mut total = 0;
        let data = obj.get("data").and_then(Value::as_object);
        let binary = obj.get("binaryData").and_then(Value::as_object);
        for (k, v) in data.into_iter().flatten() {
            errs.extend(validate_config_key(k, "data"));
            match v.as_str() {
                Some(s) => total += s.len(),
                None => errs.push(FieldError::type_invalid(
                    &format!("data[{k}]"),
                    v.clone(),
                    "must be a string",
                )),
            }
        }
        for (k, v) in binary.into_iter().flatten() {
            errs.extend(validate_config_key(k, "binaryData"));
            if data.is_some_and(|d| d.contains_key(k)) {
                errs.push(FieldError::invalid(
                    &format!("binaryData[{k}]"),
                    k.as_str(),
                    "duplicate of key present in data",
                ));
            }
            total += v.as_str().map_or(0, |s| s.len() * 3 / 4);
        }
        if total > MAX_DATA_BYTES {
            errs.push(FieldError {
                kind: kaiser_apimachinery::field::ErrorKind::TooLong,
                field: String::new(),
                value: None,
                detail: format!("must have at most {MAX_DATA_BYTES} bytes"),
            });
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        let mut errs = self.validate(new);
        if old.get("immutable").and_then(Value::as_bool) == Some(true) {
            if new.get("immutable").and_then(Value::as_bool) != Some(true) {
                errs.push(FieldError::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
            for f in ["data", "binaryData"] {
                if new.get(f) != old.get(f) {
                    errs.push(FieldError::forbidden(
                        f,
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
        }
        errs
    }

    fn table_columns(&self) -> &[Column] {
        COLUMNS
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        vec![
            Value::from(kaiser_apimachinery::meta::name(obj)),
            Value::from(map_len(obj, "data") + map_len(obj, "binaryData")),
            age_cell(obj),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_keys_and_immutability() {
        let s = ConfigMapStrategy;
        assert!(
            s.validate(&json!({"data": {"a.b": "1", "C_D-e": "2"}}))
                .is_empty()
        );
        let errs = s.validate(&json!({"data": {"bad key": "1"}}));
        assert_eq!(errs.0[0].field, "data[bad key]");
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let new = json!({"immutable": true, "data": {"a": "2"}});
        assert_eq!(s.validate_update(&new, &old).0.len(), 1);
        assert_eq!(
            s.table_row(
                &json!({"metadata": {"name": "x"}, "data": {"a": "1"}, "binaryData": {"b": ""}})
            )[1],
            2
        );
    }
}
