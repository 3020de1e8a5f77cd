//! Name, label and annotation syntax checks, as upstream's
//! `util/validation` and `api/validation`, with upstream's messages.

use crate::field::{ErrorList, FieldError, child};
use serde_json::{Map, Value};

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;
/// Total size of all annotations on one object.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push_str(&format!("'{e}', "));
    }
    s.push_str(&format!("regex used for validation is '{fmt}')"));
    s
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// Messages for a value that is not an RFC 1123 label (empty when valid).
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX));
    }
    if !matches_dns_label(s) {
        errs.push(regex_error(
            DNS1123_LABEL_MSG,
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

/// Messages for a value that is not an RFC 1123 subdomain (empty when valid).
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if s.is_empty() || !s.split('.').all(matches_dns_label) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

fn matches_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Label and annotation keys: an optional DNS subdomain prefix and a name part.
pub fn is_qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [n] => *n,
        [prefix, n] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            n
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX {
        errs.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX)));
    }
    if !matches_qualified_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Label values: empty, or a qualified name part of at most 63 characters.
pub fn is_valid_label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > LABEL_VALUE_MAX {
        errs.push(max_len_error(LABEL_VALUE_MAX));
    }
    if !s.is_empty() && !matches_qualified_part(s) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Names must be usable as one URL path segment.
pub fn is_valid_path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    let mut errs = Vec::new();
    for bad in ["/", "%"] {
        if name.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

/// A name check: given the name and whether it is a generateName prefix.
pub type NameValidator = fn(&str, bool) -> Vec<String>;

fn mask_trailing_dash(name: &str, prefix: bool) -> &str {
    if prefix && name.len() > 1 && name.ends_with('-') {
        &name[..name.len() - 1]
    } else {
        name
    }
}

/// Most kinds: a DNS subdomain.
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    is_dns1123_subdomain(mask_trailing_dash(name, prefix))
}

/// Namespaces and services: a DNS label.
pub fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    is_dns1123_label(mask_trailing_dash(name, prefix))
}

/// Kinds whose names only need to be a path segment (events, for example).
pub fn name_is_path_segment(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        return Vec::new();
    }
    is_valid_path_segment_name(name)
}

pub fn validate_labels(labels: Option<&Value>, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(map) = labels.and_then(Value::as_object) else {
        return errs;
    };
    for (k, v) in map {
        for m in is_qualified_name(k) {
            errs.push(FieldError::invalid(path, k.as_str(), m));
        }
        let v = v.as_str().unwrap_or("");
        for m in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, v, m));
        }
    }
    errs
}

pub fn validate_annotations(annotations: Option<&Value>, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(map) = annotations.and_then(Value::as_object) else {
        return errs;
    };
    let mut total = 0;
    for (k, v) in map {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), m));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError {
            kind: crate::field::ErrorKind::TooLong,
            field: path.to_string(),
            value: None,
            detail: format!("must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        });
    }
    errs
}

/// `ValidateObjectMeta`: name/generateName, namespace, labels, annotations.
pub fn validate_object_meta(
    meta: &Map<String, Value>,
    namespaced: bool,
    name_fn: NameValidator,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = "metadata";
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let generate_name = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !generate_name.is_empty() {
        for m in name_fn(generate_name, true) {
            errs.push(FieldError::invalid(
                &child(path, "generateName"),
                generate_name,
                m,
            ));
        }
    }
    if name.is_empty() {
        if generate_name.is_empty() {
            errs.push(FieldError::required(
                &child(path, "name"),
                "name or generateName is required",
            ));
        }
    } else {
        for m in name_fn(name, false) {
            errs.push(FieldError::invalid(&child(path, "name"), name, m));
        }
    }
    let ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required(&child(path, "namespace"), ""));
        } else {
            for m in is_dns1123_label(ns) {
                errs.push(FieldError::invalid(&child(path, "namespace"), ns, m));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            &child(path, "namespace"),
            "not allowed on this type",
        ));
    }
    errs.extend(validate_labels(meta.get("labels"), &child(path, "labels")));
    errs.extend(validate_annotations(
        meta.get("annotations"),
        &child(path, "annotations"),
    ));
    errs
}

/// `ValidateObjectMetaUpdate`: identity fields never change.
pub fn validate_object_meta_update(
    new: &Map<String, Value>,
    old: &Map<String, Value>,
) -> ErrorList {
    let mut errs = ErrorList::new();
    for f in ["name", "namespace", "uid", "creationTimestamp"] {
        let n = new.get(f).cloned().unwrap_or(Value::Null);
        let o = old.get(f).cloned().unwrap_or(Value::Null);
        if n != o {
            let shown = match &n {
                Value::String(s) => Value::String(s.clone()),
                other => other.clone(),
            };
            errs.push(FieldError::invalid(
                &child("metadata", f),
                shown,
                "field is immutable",
            ));
        }
    }
    if old.get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
        let names = |m: &Map<String, Value>| -> Vec<String> {
            m.get("finalizers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let before = names(old);
        let mut added: Vec<String> = names(new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        added.sort();
        added.dedup();
        if !added.is_empty() {
            let list: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
            errs.push(FieldError::forbidden(
                &child("metadata", "finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(is_dns1123_subdomain("example.com").is_empty());
        assert!(is_dns1123_subdomain("a").is_empty());
        assert_eq!(is_dns1123_subdomain("Bad_Name").len(), 1);
        assert!(is_dns1123_subdomain("a..b").len() == 1);
        assert!(is_dns1123_label("my-name").is_empty());
        assert!(!is_dns1123_label("my.name").is_empty());
        assert_eq!(is_dns1123_label(&"a".repeat(64)).len(), 1);
        assert!(name_is_dns_subdomain("gen-", true).is_empty());
    }

    #[test]
    fn qualified_names_and_values() {
        assert!(is_qualified_name("app").is_empty());
        assert!(is_qualified_name("example.com/app").is_empty());
        assert!(!is_qualified_name("/app").is_empty());
        assert!(!is_qualified_name("a/b/c").is_empty());
        assert!(is_valid_label_value("").is_empty());
        assert!(is_valid_label_value("My_value.1").is_empty());
        assert!(!is_valid_label_value("-x").is_empty());
    }

    #[test]
    fn object_meta() {
        let m = serde_json::json!({"name": "Bad_Name", "namespace": "default"});
        let errs = validate_object_meta(m.as_object().expect("obj"), true, name_is_dns_subdomain);
        assert_eq!(errs.0.len(), 1);
        assert!(errs.to_string().starts_with(
            "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
        ));
        let m = serde_json::json!({});
        let errs = validate_object_meta(m.as_object().expect("obj"), false, name_is_dns_subdomain);
        assert_eq!(
            errs.to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
    }
}
