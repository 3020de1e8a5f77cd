//! Strategic merge patch: JSON merge patch whose lists follow the schema's
//! patch strategy (replace, merge primitives, or merge maps by a key) and
//! whose `$`-directives (`$patch`, `$retainKeys`, `$setElementOrder/…`,
//! `$deleteFromPrimitiveList/…`) refine the merge, as upstream's
//! `strategicpatch` package.

use serde_json::{Map, Value};

use crate::status::StatusError;

/// How a list field merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the original (no patch strategy).
    Replace,
    /// A list of scalars merged as a set (patchStrategy merge).
    MergePrimitives,
    /// A list of objects merged element by element on this key.
    MergeByKey(String),
}

/// The list strategy of a field, by its dotted path from the object root
/// (list elements add no segment: `spec.containers.ports`).
pub type PatchMeta<'a> = &'a dyn Fn(&str) -> ListStrategy;

fn bad(msg: impl Into<String>) -> StatusError {
    StatusError::bad_request(msg.into())
}

/// Applies `patch` (a JSON object) to `original`.
pub fn apply(original: &Value, patch: &[u8], meta: PatchMeta<'_>) -> Result<Value, StatusError> {
    let p: Value =
        serde_json::from_slice(patch).map_err(|e| bad(format!("error decoding patch: {e}")))?;
    let Value::Object(p) = p else {
        return Err(bad(
            "error decoding patch: a strategic merge patch must be a JSON object",
        ));
    };
    let orig = original.as_object().cloned().unwrap_or_default();
    match merge_map(orig, p, "", meta)? {
        Some(m) => Ok(Value::Object(m)),
        None => Err(bad(
            "a strategic merge patch may not delete the whole object",
        )),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Merges `patch` into `orig`; `None` when the patch deletes the map.
fn merge_map(
    mut orig: Map<String, Value>,
    mut patch: Map<String, Value>,
    path: &str,
    meta: PatchMeta<'_>,
) -> Result<Option<Map<String, Value>>, StatusError> {
    match patch.remove("$patch") {
        None => {}
        Some(Value::String(d)) if d == "replace" => {
            strip_directives(&mut patch);
            return Ok(Some(patch));
        }
        Some(Value::String(d)) if d == "delete" => return Ok(None),
        Some(Value::String(d)) if d == "merge" => {}
        Some(other) => return Err(bad(format!("Unknown patch type: {other}"))),
    }
    if let Some(retain) = patch.remove("$retainKeys") {
        let keep: Vec<String> = retain
            .as_array()
            .ok_or_else(|| bad("$retainKeys must be a list of field names"))?
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        orig.retain(|k, _| keep.contains(k));
    }
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    let mut deletions: Vec<(String, Vec<Value>)> = Vec::new();
    let keys: Vec<String> = patch.keys().cloned().collect();
    for k in keys {
        let list = |v: Value| match v {
            Value::Array(a) => Ok(a),
            _ => Err(bad(format!("{k} must be a list"))),
        };
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            let v = patch.remove(&k).unwrap_or(Value::Null);
            orders.push((field.to_string(), list(v)?));
        } else if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let v = patch.remove(&k).unwrap_or(Value::Null);
            deletions.push((field.to_string(), list(v)?));
        } else if k.starts_with('$') {
            return Err(bad(format!("unknown patch directive {k}")));
        }
    }
    for (field, remove) in deletions {
        if let Some(Value::Array(a)) = orig.get_mut(&field) {
            a.retain(|v| !remove.contains(v));
        }
    }
    for (k, pv) in patch {
        let child = join(path, &k);
        match pv {
            Value::Null => {
                orig.remove(&k);
            }
            Value::Object(pm) => {
                let base = match orig.remove(&k) {
                    Some(Value::Object(o)) => o,
                    _ => Map::new(),
                };
                if let Some(m) = merge_map(base, pm, &child, meta)? {
                    orig.insert(k, Value::Object(m));
                }
            }
            Value::Array(pl) => {
                let base = match orig.remove(&k) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                let merged = merge_list(base, pl, &child, meta)?;
                orig.insert(k, Value::Array(merged));
            }
            scalar => {
                orig.insert(k, scalar);
            }
        }
    }
    for (field, order) in orders {
        let child = join(path, &field);
        if let Some(Value::Array(a)) = orig.get_mut(&field) {
            reorder(a, &order, &meta(&child));
        }
    }
    Ok(Some(orig))
}

fn strip_directives(m: &mut Map<String, Value>) {
    m.retain(|k, _| !k.starts_with('$'));
}

fn merge_list(
    orig: Vec<Value>,
    patch: Vec<Value>,
    path: &str,
    meta: PatchMeta<'_>,
) -> Result<Vec<Value>, StatusError> {
    // An element {"$patch": "replace"} replaces the whole list with the rest.
    if patch
        .iter()
        .any(|e| e.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .into_iter()
            .filter(|e| e.get("$patch").is_none())
            .collect());
    }
    match meta(path) {
        ListStrategy::Replace => Ok(patch),
        ListStrategy::MergePrimitives => {
            let mut out = orig;
            for v in patch {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Ok(out)
        }
        ListStrategy::MergeByKey(key) => {
            let mut out = orig;
            for pe in patch {
                let Value::Object(mut pm) = pe else {
                    return Err(bad(format!(
                        "{path}: elements of a list merged by {key:?} must be objects"
                    )));
                };
                let Some(kv) = pm.get(&key).cloned() else {
                    return Err(bad(format!(
                        "{path}: map in list does not contain the merge key {key:?}"
                    )));
                };
                let at = out.iter().position(|e| e.get(&key) == Some(&kv));
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    if let Some(i) = at {
                        out.remove(i);
                    }
                    continue;
                }
                match at {
                    Some(i) => {
                        let base = match out[i].take() {
                            Value::Object(o) => o,
                            _ => Map::new(),
                        };
                        match merge_map(base, pm, path, meta)? {
                            Some(m) => out[i] = Value::Object(m),
                            None => {
                                out.remove(i);
                            }
                        }
                    }
                    None => {
                        strip_directives(&mut pm);
                        out.push(Value::Object(pm));
                    }
                }
            }
            Ok(out)
        }
    }
}

/// Orders `list` as `order` says; elements it does not name keep their
/// relative order after the named ones.
fn reorder(list: &mut Vec<Value>, order: &[Value], strategy: &ListStrategy) {
    let key_of = |v: &Value| -> Value {
        match strategy {
            ListStrategy::MergeByKey(k) => v.get(k).cloned().unwrap_or(Value::Null),
            _ => v.clone(),
        }
    };
    let mut rest = std::mem::take(list);
    for o in order {
        let want = match strategy {
            ListStrategy::MergeByKey(k) => o.get(k).cloned().unwrap_or(Value::Null),
            _ => o.clone(),
        };
        if let Some(i) = rest.iter().position(|v| key_of(v) == want) {
            list.push(rest.remove(i));
        }
    }
    list.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(path: &str) -> ListStrategy {
        crate::schema::list_strategy("io.k8s.api.core.v1.Pod", path)
    }

    fn check(orig: Value, patch: Value, want: Value) {
        let got = apply(&orig, patch.to_string().as_bytes(), &meta).expect("patch applies");
        assert_eq!(got, want, "patch {patch}");
    }

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "finalizers": ["a"]}, "spec": {"containers": [
            {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "busybox"},
        ]}})
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        check(
            json!({"a": 1, "b": {"c": 2, "d": 3}}),
            json!({"b": {"c": null, "e": 4}, "f": 5}),
            json!({"a": 1, "b": {"d": 3, "e": 4}, "f": 5}),
        );
    }

    #[test]
    fn lists_merge_by_key() {
        let mut want = pod();
        want["spec"]["containers"][0]["image"] = json!("nginx:2");
        want["spec"]["containers"]
            .as_array_mut()
            .expect("list")
            .push(json!({"name": "new", "image": "x"}));
        check(
            pod(),
            json!({"spec": {"containers": [{"name": "web", "image": "nginx:2"}, {"name": "new", "image": "x"}]}}),
            want,
        );
    }

    #[test]
    fn delete_directive_removes_one_element() {
        let mut want = pod();
        want["spec"]["containers"]
            .as_array_mut()
            .expect("list")
            .remove(1);
        check(
            pod(),
            json!({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}),
            want,
        );
    }

    #[test]
    fn replace_directives() {
        let mut want = pod();
        want["spec"]["containers"] = json!([{"name": "only"}]);
        check(
            pod(),
            json!({"spec": {"containers": [{"name": "only"}, {"$patch": "replace"}]}}),
            want,
        );
        check(
            json!({"a": {"x": 1, "y": 2}}),
            json!({"a": {"$patch": "replace", "z": 3}}),
            json!({"a": {"z": 3}}),
        );
        check(
            json!({"a": {"x": 1}, "b": 2}),
            json!({"a": {"$patch": "delete"}}),
            json!({"b": 2}),
        );
    }

    #[test]
    fn primitive_lists_merge_as_sets_and_delete_from_them() {
        let mut want = pod();
        want["metadata"]["finalizers"] = json!(["a", "b"]);
        check(
            pod(),
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            want.clone(),
        );
        want["metadata"]["finalizers"] = json!(["b"]);
        check(
            pod(),
            json!({"metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
            want,
        );
    }

    #[test]
    fn set_element_order_and_retain_keys() {
        let got = apply(
            &pod(),
            json!({"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "web"}]}})
                .to_string()
                .as_bytes(),
            &meta,
        )
        .expect("applies");
        assert_eq!(got["spec"]["containers"][0]["name"], "side");
        check(
            json!({"s": {"type": "A", "a": 1, "b": 2}}),
            json!({"s": {"$retainKeys": ["type", "b"], "type": "B"}}),
            json!({"s": {"type": "B", "b": 2}}),
        );
    }

    #[test]
    fn unkeyed_lists_are_replaced_and_bad_patches_are_400() {
        check(
            json!({"args": [1, 2]}),
            json!({"args": [3]}),
            json!({"args": [3]}),
        );
        for bad in [
            json!({"spec": {"containers": [{"image": "no-name"}]}}),
            json!({"$patch": "explode"}),
            json!({"$unknown": 1}),
        ] {
            let e = apply(&pod(), bad.to_string().as_bytes(), &meta).expect_err("bad patch");
            assert_eq!(e.code, 400, "{bad}");
        }
        assert_eq!(
            apply(&pod(), b"[]", &meta).expect_err("not an object").code,
            400
        );
    }
}
