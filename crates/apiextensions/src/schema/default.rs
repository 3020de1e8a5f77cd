//! Defaulting: fills in `default` values as upstream's `schema/defaulting`
//! (`PruneNonNullableNullsWithoutDefaults` followed by `Default`).

use serde_json::Value;

use super::{Additional, MAX_DEPTH, additional, flag, items, obj, properties, property};

fn default_of(s: &Value) -> Option<&Value> {
    obj(s)?.get("default")
}

fn non_nullable_null(x: &Value, s: Option<&Value>) -> bool {
    x.is_null() && s.is_some_and(|s| !flag(s, "nullable"))
}

fn value_schema<'a>(s: &'a Value, k: &str) -> Option<&'a Value> {
    property(s, k).or(match additional(s) {
        Additional::Schema(a) => Some(a),
        _ => None,
    })
}

/// Applies the schema's defaults to `obj`, as the custom-resource decoder
/// does: first nulls of non-nullable fields without a default are dropped,
/// then missing fields (and nulls of non-nullable fields) get their
/// `default`, and defaulting continues inside the values (so a parent default
/// is itself completed by the defaults of its children).
pub fn default(obj: &mut Value, schema: &Value) {
    prune_non_nullable_nulls(obj, schema);
    apply(obj, schema, 0);
}

/// Removes `null` values of fields whose schema is neither nullable nor
/// defaulted (the first half of [`default`]).
pub fn prune_non_nullable_nulls(obj: &mut Value, schema: &Value) {
    prune_nulls(obj, schema, 0);
}

fn prune_nulls(x: &mut Value, s: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match x {
        Value::Object(m) => {
            let mut drop = Vec::new();
            for (k, v) in m.iter_mut() {
                let Some(sub) = value_schema(s, k) else {
                    continue;
                };
                if v.is_null() {
                    if !flag(sub, "nullable") && default_of(sub).is_none() {
                        drop.push(k.clone());
                    }
                } else {
                    prune_nulls(v, sub, depth + 1);
                }
            }
            for k in drop {
                m.shift_remove(&k);
            }
        }
        Value::Array(a) => {
            if let Some(item) = items(s) {
                for v in a.iter_mut() {
                    prune_nulls(v, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn apply(x: &mut Value, s: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match x {
        Value::Object(m) => {
            if let Some(props) = properties(s) {
                for (k, p) in props {
                    let Some(d) = default_of(p) else {
                        continue;
                    };
                    let missing = m.get(k).is_none_or(|v| non_nullable_null(v, Some(p)));
                    if missing {
                        m.insert(k.clone(), d.clone());
                    }
                }
            }
            for (k, v) in m.iter_mut() {
                if let Some(p) = property(s, k) {
                    apply(v, p, depth + 1);
                } else if let Additional::Schema(a) = additional(s) {
                    if non_nullable_null(v, Some(a))
                        && let Some(d) = default_of(a)
                    {
                        *v = d.clone();
                    }
                    apply(v, a, depth + 1);
                }
            }
        }
        Value::Array(a) => {
            let Some(item) = items(s) else {
                return;
            };
            for v in a.iter_mut() {
                if non_nullable_null(v, Some(item))
                    && let Some(d) = default_of(item)
                {
                    *v = d.clone();
                }
                apply(v, item, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_missing_fields_and_nested_defaults_after_parent() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "default": {}, "properties": {
                "replicas": {"type": "integer", "default": 1},
                "mode": {"type": "string", "default": "fast"},
                "keep": {"type": "string", "default": "d"}
            }}
        }});
        let mut obj = json!({"apiVersion": "a/v1"});
        default(&mut obj, &schema);
        assert_eq!(
            obj,
            json!({"apiVersion": "a/v1", "spec": {"replicas": 1, "mode": "fast", "keep": "d"}})
        );
        let mut obj = json!({"spec": {"keep": "mine"}});
        default(&mut obj, &schema);
        assert_eq!(obj["spec"]["keep"], json!("mine"));
        assert_eq!(obj["spec"]["replicas"], json!(1));
    }

    #[test]
    fn null_handling() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string", "default": "x"},
            "b": {"type": "string", "nullable": true, "default": "y"},
            "c": {"type": "string"},
            "d": {"type": "string", "nullable": true}
        }});
        let mut obj = json!({"a": null, "b": null, "c": null, "d": null, "e": null});
        default(&mut obj, &schema);
        // a: non-nullable null with default → default; b: nullable null kept;
        // c: non-nullable without default → dropped; unknown e untouched.
        assert_eq!(obj, json!({"a": "x", "b": null, "d": null, "e": null}));
    }

    #[test]
    fn defaults_inside_additional_properties_and_items() {
        let schema = json!({"type": "object", "properties": {
            "m": {"type": "object", "additionalProperties":
                {"type": "object", "default": {"z": 0}, "properties": {"p": {"type": "integer", "default": 7}}}},
            "l": {"type": "array", "items":
                {"type": "object", "default": {}, "properties": {"q": {"type": "string", "default": "v"}}}}
        }});
        let mut obj = json!({"m": {"k": {}, "n": null}, "l": [{}, null, {"q": "own"}]});
        default(&mut obj, &schema);
        assert_eq!(
            obj,
            json!({"m": {"k": {"p": 7}, "n": {"z": 0, "p": 7}},
                   "l": [{"q": "v"}, {"q": "v"}, {"q": "own"}]})
        );
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        let mut v = json!([1, 2]);
        default(&mut v, &json!({"type": "object", "properties": 3}));
        assert_eq!(v, json!([1, 2]));
        let mut v = json!({"a": 1});
        default(&mut v, &json!(null));
        assert_eq!(v, json!({"a": 1}));
        let mut v = json!({"a": "scalar"});
        default(
            &mut v,
            &json!({"properties": {"a": {"properties": {"b": {"default": 1}}}}}),
        );
        assert_eq!(v, json!({"a": "scalar"}));
    }
}
