//! The `default` values of a CRD's schema checked when the CRD is written,
//! as upstream's `defaulting.ValidateDefaults`: a default must not carry
//! fields its schema prunes, must validate against its schema, and must
//! pass the schema's CEL rules.
//!
//! Not covered: defaults inside a resource's `metadata` (upstream builds a
//! surrounding object to check them; top-level ones are forbidden anyway).

use kaiser_apimachinery::field::{ErrorList, FieldError, child, key};
use serde_json::Value;

use super::{EMBEDDED, MAX_DEPTH, flag, items, obj, prune_value, validate};
use crate::cel;

/// The errors of every default under `schema` (at `path`).
pub fn validate_defaults(schema: &Value, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    walk(schema, path, true, false, &mut errs, 0);
    errs
}

/// A field path of an error found inside a default, moved under `at`.
fn under(at: &str, field: &str) -> String {
    match field {
        "<nil>" | "" => at.to_string(),
        f if f.starts_with('[') => format!("{at}{f}"),
        f => format!("{at}.{f}"),
    }
}

fn walk(s: &Value, path: &str, root: bool, inside_meta: bool, errs: &mut ErrorList, depth: usize) {
    let Some(m) = obj(s) else {
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    let embedded = flag(s, EMBEDDED);
    let inside_meta = inside_meta && !embedded;
    let resource_root = root || embedded;
    if let Some(d) = m.get("default").filter(|d| !d.is_null())
        && !inside_meta
    {
        let at = child(path, "default");
        let mut pruned = d.clone();
        prune_value(&mut pruned, s, embedded);
        if &pruned != d {
            errs.push(FieldError::invalid(
                &at,
                d.clone(),
                "must not have unknown fields",
            ));
        }
        let found = validate::validate_value(d, s);
        if found.is_empty() {
            for e in cel::validate_at(d, Some(d), s, resource_root).0 {
                errs.push(FieldError {
                    field: under(&at, &e.field),
                    ..e
                });
            }
        }
        for e in found {
            errs.push(FieldError {
                field: under(&at, &e.field),
                ..e
            });
        }
    }
    // Defaults are forbidden under additionalProperties: not followed.
    if let Some(it) = items(s) {
        walk(
            it,
            &child(path, "items"),
            false,
            inside_meta,
            errs,
            depth + 1,
        );
    }
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            let meta = inside_meta
                || ((root || embedded) && matches!(k.as_str(), "metadata" | "apiVersion" | "kind"));
            let sub = key(&child(path, "properties"), k);
            walk(p, &sub, false, meta, errs, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: &str = "spec.validation.openAPIV3Schema";

    fn msgs(s: Value) -> Vec<String> {
        validate_defaults(&s, P)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn defaults_must_be_pruned_valid_and_pass_rules() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "integer", "default": "x"},
            "o": {"type": "object", "default": {"known": 1, "unknown": 2},
                  "properties": {"known": {"type": "integer"}}},
            "r": {"type": "integer", "default": 3, "maximum": 2},
            "c": {"type": "integer", "default": 5,
                  "x-kubernetes-validations": [{"rule": "self < 5", "message": "too big"}]},
            "fine": {"type": "string", "default": "ok"}}}}});
        assert_eq!(
            msgs(s),
            [
                format!(
                    "{P}.properties[spec].properties[a].default: Invalid value: \"string\":  in body must be of type integer: \"string\""
                ),
                format!(
                    "{P}.properties[spec].properties[o].default: Invalid value: {{\"known\":1,\"unknown\":2}}: must not have unknown fields"
                ),
                format!(
                    "{P}.properties[spec].properties[r].default: Invalid value: 3:  in body should be less than or equal to 2"
                ),
                format!(
                    "{P}.properties[spec].properties[c].default: Invalid value: \"integer\": too big"
                ),
            ]
        );
    }
}
