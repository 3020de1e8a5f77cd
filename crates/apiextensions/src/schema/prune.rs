//! Pruning: removes the fields a structural schema does not declare, as
//! upstream's `schema/pruning` plus the ObjectMeta coercion of
//! `schema/objectmeta` (unknown `metadata` fields of the root and of embedded
//! resources are dropped too).

use serde_json::{Map, Value};

use super::{Additional, EMBEDDED, MAX_DEPTH, PRESERVE, additional, flag, items, property};

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Anything under `metadata` that is not an `ObjectMeta` field is unknown.
use kaiser_apimachinery::meta::OBJECT_META_FIELDS;

/// Removes from `obj` (a whole custom resource) every field `schema` does not
/// declare and returns the removed paths (`spec.foo`, `spec.list[0].bar`,
/// `metadata.foo`), for `fieldValidation` warnings and strict errors.
///
/// The root is treated as an embedded resource: `apiVersion`, `kind` and
/// `metadata` stay, with `metadata` cut down to ObjectMeta's fields.
pub fn prune(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = String::new();
    walk(obj, Some(schema), true, &mut path, &mut out, 0);
    out
}

/// Prunes a value of `schema` that is not a whole custom resource (a
/// `default`); `resource_root` when `schema` is an embedded resource.
pub fn prune_value(v: &mut Value, schema: &Value, resource_root: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = String::new();
    walk(v, Some(schema), resource_root, &mut path, &mut out, 0);
    out
}

fn push_key(path: &mut String, k: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(k);
}

/// `embedded_root` forces the embedded-resource treatment for the object root.
fn walk(
    x: &mut Value,
    s: Option<&Value>,
    embedded_root: bool,
    path: &mut String,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    // Under `x-kubernetes-preserve-unknown-fields` declared fields are still
    // pruned inside; unknown ones are kept as they are.
    let preserve = s.is_some_and(|s| flag(s, PRESERVE));
    let len = path.len();
    match x {
        Value::Object(m) => {
            let Some(s) = s else {
                for k in m.keys() {
                    push_key(path, k);
                    out.push(path.clone());
                    path.truncate(len);
                }
                m.clear();
                return;
            };
            let embedded = embedded_root || flag(s, EMBEDDED);
            if embedded {
                prune_meta(m, path, out);
            }
            let mut drop = Vec::new();
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                push_key(path, k);
                if let Some(p) = property(s, k) {
                    walk(v, Some(p), false, path, out, depth + 1);
                } else {
                    match additional(s) {
                        Additional::Schema(a) => walk(v, Some(a), false, path, out, depth + 1),
                        Additional::Bool(_) => walk(v, None, false, path, out, depth + 1),
                        Additional::Absent if preserve => {}
                        Additional::Absent => {
                            out.push(path.clone());
                            drop.push(k.clone());
                        }
                    }
                }
                path.truncate(len);
            }
            for k in drop {
                m.shift_remove(&k);
            }
        }
        Value::Array(a) => {
            let item = s.and_then(items);
            for (i, v) in a.iter_mut().enumerate() {
                path.push_str(&format!("[{i}]"));
                walk(v, item, false, path, out, depth + 1);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Drops the fields of an embedded `metadata` object that ObjectMeta does not
/// have, as the typed round trip upstream does.
fn prune_meta(m: &mut Map<String, Value>, path: &mut String, out: &mut Vec<String>) {
    let Some(Value::Object(meta)) = m.get_mut("metadata") else {
        return;
    };
    let len = path.len();
    push_key(path, "metadata");
    let meta_len = path.len();
    let unknown: Vec<String> = meta
        .keys()
        .filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    for k in unknown {
        push_key(path, &k);
        out.push(path.clone());
        path.truncate(meta_len);
        meta.shift_remove(&k);
    }
    path.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_undeclared_fields_and_reports_paths() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "replicas": {"type": "integer"},
                "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}
            }}
        }});
        let mut obj = json!({
            "apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "bogus": 1},
            "spec": {"replicas": 1, "foo": true, "list": [{"a": "x", "b": 1}]},
            "extra": {}
        });
        let pruned = prune(&mut obj, &schema);
        assert_eq!(
            pruned,
            vec!["metadata.bogus", "spec.foo", "spec.list[0].b", "extra"]
        );
        assert_eq!(
            obj,
            json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"},
                   "spec": {"replicas": 1, "list": [{"a": "x"}]}})
        );
    }

    #[test]
    fn preserve_unknown_fields_keeps_unknown_but_prunes_declared() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                "known": {"type": "object", "properties": {"a": {"type": "string"}}}
            }}
        }});
        let mut obj = json!({"spec": {"anything": {"deep": 1}, "known": {"a": "x", "b": 2}}});
        let pruned = prune(&mut obj, &schema);
        assert_eq!(pruned, vec!["spec.known.b"]);
        assert_eq!(
            obj,
            json!({"spec": {"anything": {"deep": 1}, "known": {"a": "x"}}})
        );
    }

    #[test]
    fn preserve_at_array_does_not_reach_items() {
        let schema = json!({"type": "object", "properties": {
            "l": {"type": "array", "x-kubernetes-preserve-unknown-fields": true,
                  "items": {"type": "object", "properties": {"a": {"type": "string"}}}}
        }});
        let mut obj = json!({"l": [{"a": "x", "z": 1}]});
        assert_eq!(prune(&mut obj, &schema), vec!["l[0].z"]);
    }

    #[test]
    fn additional_properties_schema_and_bool() {
        let schema = json!({"type": "object", "properties": {
            "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
            "b": {"type": "object", "additionalProperties": true}
        }});
        let mut obj =
            json!({"m": {"k1": {"v": "x", "w": 1}}, "b": {"s": "kept", "o": {"gone": 1}}});
        let pruned = prune(&mut obj, &schema);
        assert_eq!(pruned, vec!["m.k1.w", "b.o.gone"]);
        assert_eq!(
            obj,
            json!({"m": {"k1": {"v": "x"}}, "b": {"s": "kept", "o": {}}})
        );
    }

    #[test]
    fn embedded_resource_keeps_type_meta_and_prunes_metadata() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                    "properties": {"spec": {"type": "object"}}}
            }}
        }});
        let mut obj = json!({"spec": {"template": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "b"}, "junk": 1},
            "spec": {"x": 1}, "status": {}
        }}});
        let pruned = prune(&mut obj, &schema);
        assert_eq!(
            pruned,
            vec![
                "spec.template.metadata.junk",
                "spec.template.spec.x",
                "spec.template.status"
            ]
        );
        assert_eq!(
            obj,
            json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {}}}})
        );
    }

    #[test]
    fn int_or_string_and_combinators_do_not_declare_fields() {
        let schema = json!({"type": "object", "properties": {
            "port": {"x-kubernetes-int-or-string": true},
            "o": {"type": "object", "anyOf": [{"properties": {"hidden": {"type": "string"}}}]}
        }});
        let mut obj = json!({"port": "http", "o": {"hidden": "x"}});
        assert_eq!(prune(&mut obj, &schema), vec!["o.hidden"]);
        assert_eq!(obj, json!({"port": "http", "o": {}}));
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        let mut scalar = json!(5);
        assert!(prune(&mut scalar, &json!({"type": "object"})).is_empty());
        let mut o = json!({"a": 1});
        assert_eq!(prune(&mut o, &json!("not a schema")), vec!["a"]);
        let mut o = json!({"a": [1, {"b": 2}]});
        assert_eq!(
            prune(&mut o, &json!({"properties": {"a": {"items": 7}}})),
            vec!["a[1].b"]
        );
        let mut deep = json!(1);
        for _ in 0..1000 {
            deep = json!({"a": deep});
        }
        let _ = prune(
            &mut deep,
            &json!({"x-kubernetes-preserve-unknown-fields": true}),
        );
        assert!(deep.get("a").is_some());
    }
}
