//! Secrets.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kaiser_apimachinery::field::{ErrorKind, ErrorList, FieldError};
use kaiser_apimachinery::table::Column;
use kaiser_registry::{ResourceInfo, Strategy};
use serde_json::{Map, Value};

use super::{AGE, MAX_DATA_BYTES, NAME, age_cell, map_len, validate_config_key};

pub fn info() -> ResourceInfo {
    ResourceInfo::new("", "v1", "secrets", "Secret", true)
}

pub struct SecretStrategy;

const COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Type",
        "string",
        "The secret's type, which says how its data is used.",
    ),
    Column::new("Data", "string", "Number of entries in data."),
    AGE,
];

/// Keys each well-known type requires in `data`.
fn required_keys(ty: &str) -> &'static [&'static str] {
    match ty {
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        _ => &[],
    }
}

impl Strategy for SecretStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else { return };
        if o.get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            o.insert("type".into(), Value::from("Opaque"));
        }
        // stringData is write-only: merged into data, base64-encoded.
        if let Some(Value::Object(sd)) = o.remove("stringData") {
            let data = o.entry("data").or_insert_with(|| Value::Object(Map::new()));
            if !data.is_object() {
                *data = Value::Object(Map::new());
            }
            if let Value::Object(d) = data {
                for (k, v) in sd {
                    if let Some(s) = v.as_str() {
                        d.insert(k, Value::from(STANDARD.encode(s)));
                    }
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> ErrorList {
        let mut errs = ErrorList::new();
        let mut total = 0;
        let data = obj.get("data").and_then(Value::as_object);
        for (k, v) in data.into_iter().flatten() {
            errs.extend(validate_config_key(k, "data"));
            match v.as_str().map(|s| STANDARD.decode(s)) {
                Some(Ok(b)) => total += b.len(),
                _ => errs.push(FieldError::invalid(
                    &format!("data[{k}]"),
                    "<secret contents redacted>",
                    "must be a base64-encoded string",
                )),
            }
        }
        if total > MAX_DATA_BYTES {
            errs.push(FieldError {
                kind: ErrorKind::TooLong,
                field: "data".into(),
                value: None,
                detail: format!("must have at most {MAX_DATA_BYTES} bytes"),
            });
        }
        let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
        for k in required_keys(ty) {
            if !data.is_some_and(|d| d.contains_key(*k)) {
                errs.push(FieldError::required(&format!("data[{k}]"), ""));
            }
        }
        if ty == "kubernetes.io/service-account-token" {
            let has = obj
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            if !has {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        if ty == "kubernetes.io/basic-auth"
            && !data.is_some_and(|d| d.contains_key("username") || d.contains_key("password"))
        {
            errs.push(FieldError::required("data[username]", ""));
            errs.push(FieldError::required("data[password]", ""));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        let mut errs = self.validate(new);
        if new.get("type") != old.get("type") {
            errs.push(FieldError::invalid(
                "type",
                new.get("type").cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
        if old.get("immutable").and_then(Value::as_bool) == Some(true) {
            if new.get("immutable").and_then(Value::as_bool) != Some(true) {
                errs.push(FieldError::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
            if new.get("data") != old.get("data") {
                errs.push(FieldError::forbidden(
                    "data",
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        errs
    }

    fn extra_selectable_fields(&self) -> &[&'static str] {
        &["type"]
    }

    fn table_columns(&self) -> &[Column] {
        COLUMNS
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        vec![
            Value::from(kaiser_apimachinery::meta::name(obj)),
            obj.get("type").cloned().unwrap_or_else(|| Value::from("")),
            Value::from(map_len(obj, "data")),
            age_cell(obj),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_data_and_types() {
        let s = SecretStrategy;
        let mut o = json!({"stringData": {"user": "admin"}});
        s.default(&mut o);
        assert_eq!(o["type"], "Opaque");
        assert_eq!(o["data"]["user"], "YWRtaW4=");
        assert!(o.get("stringData").is_none());
        assert!(s.validate(&o).is_empty());
        let tls = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": ""}});
        assert_eq!(
            s.validate(&tls).to_string(),
            "data[tls.key]: Required value"
        );
        let bad = json!({"type": "Opaque", "data": {"k": "not base64!"}});
        assert!(
            !s.validate(&bad).to_string().contains("not base64"),
            "secret values stay out of errors"
        );
        assert_eq!(
            s.validate_update(&json!({"type": "a"}), &json!({"type": "b"}))
                .0
                .len(),
            1
        );
    }
}
