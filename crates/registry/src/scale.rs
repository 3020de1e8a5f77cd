//! The `scale` subresource: an `autoscaling/v1` `Scale` view of a
//! resource's replica counts, read from and written back to the object at
//! the paths its [`ScalePaths`] name (fixed for built-ins, from
//! `subresources.scale` for custom resources).

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::{StatusError, labels, meta};
use serde_json::{Map, Value, json};

/// Where the replica counts and the selector live, as dotted paths
/// (`.spec.replicas`).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    /// A label selector: a string, a `metav1.LabelSelector`, or a plain map.
    pub label_selector: Option<String>,
}

impl ScalePaths {
    /// The paths of the built-in workloads.
    pub fn builtin() -> Self {
        ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: Some(".spec.selector".into()),
        }
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
}

fn at<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    segments(path).try_fold(obj, |cur, seg| cur.get(seg))
}

/// The selector at `path` in the query form `status.selector` carries.
fn selector_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(m))
            if m.contains_key("matchLabels") || m.contains_key("matchExpressions") =>
        {
            labels::from_label_selector(v)
                .map(|s| s.to_string())
                .unwrap_or_default()
        }
        // A replication controller's selector is a plain map.
        Some(Value::Object(m)) => {
            let sel = json!({ "matchLabels": m });
            labels::from_label_selector(Some(&sel))
                .map(|s| s.to_string())
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The `Scale` of `obj`.
pub fn view(obj: &Value, paths: &ScalePaths) -> Value {
    let mut md = Map::new();
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta::metadata(obj).and_then(|m| m.get(f)) {
            md.insert(f.into(), v.clone());
        }
    }
    let int = |p: &str| at(obj, p).and_then(Value::as_i64).unwrap_or(0);
    let mut status = json!({ "replicas": int(&paths.status_replicas) });
    if let Some(p) = &paths.label_selector {
        let sel = selector_string(at(obj, p));
        if !sel.is_empty() {
            status["selector"] = Value::from(sel);
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": md,
        "spec": { "replicas": int(&paths.spec_replicas) },
        "status": status,
    })
}

/// Checks a `Scale` a client sent and returns its `spec.replicas`.
pub fn replicas_of(scale: &Value, name: &str) -> Result<i64, StatusError> {
    if let Some(kind) = scale.get("kind").and_then(Value::as_str)
        && kind != "Scale"
    {
        return Err(StatusError::bad_request(format!(
            "expected a Scale, got {kind}"
        )));
    }
    let replicas = match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| {
            StatusError::bad_request("spec.replicas: must be an integer".to_string())
        })?,
    };
    let mut errs = ErrorList::new();
    if replicas < 0 {
        errs.push(FieldError::invalid(
            "spec.replicas",
            replicas,
            "must be greater than or equal to 0",
        ));
    } else if replicas > i64::from(i32::MAX) {
        errs.push(FieldError::invalid(
            "spec.replicas",
            replicas,
            "must be less than or equal to 2147483647",
        ));
    }
    if errs.is_empty() {
        Ok(replicas)
    } else {
        Err(StatusError::invalid("Scale", "autoscaling", name, &errs))
    }
}

/// Writes `replicas` into `obj` at the spec path; with the scale's
/// `resourceVersion` carried over so an update compares on it.
pub fn apply(obj: &mut Value, paths: &ScalePaths, replicas: i64, resource_version: &str) {
    let segs: Vec<&str> = segments(&paths.spec_replicas).collect();
    let mut cur = &mut *obj;
    for (i, seg) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(o) = cur.as_object_mut() else { return };
        if i + 1 == segs.len() {
            o.insert((*seg).to_string(), Value::from(replicas));
            break;
        }
        cur = o.entry(*seg).or_insert_with(|| Value::Object(Map::new()));
    }
    meta::set_str(obj, "resourceVersion", resource_version);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_and_applies_replicas() {
        let d = json!({"metadata": {"name": "web", "namespace": "a", "uid": "u", "resourceVersion": "7", "labels": {"x": "y"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"replicas": 2}});
        let s = view(&d, &ScalePaths::builtin());
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"], json!({"replicas": 2, "selector": "app=web"}));
        assert_eq!(s["metadata"]["resourceVersion"], "7");
        assert!(s["metadata"].get("labels").is_none());
        let mut d2 = d.clone();
        apply(&mut d2, &ScalePaths::builtin(), 5, "");
        assert_eq!(d2["spec"]["replicas"], 5);
        let rc = json!({"spec": {"selector": {"app": "web"}}});
        assert_eq!(
            view(&rc, &ScalePaths::builtin())["status"]["selector"],
            "app=web"
        );
        let mut empty = json!({});
        apply(&mut empty, &ScalePaths::builtin(), 1, "3");
        assert_eq!(empty["spec"]["replicas"], 1);
    }

    #[test]
    fn bad_scales_are_refused() {
        assert_eq!(
            replicas_of(&json!({"spec": {"replicas": 4}}), "a").ok(),
            Some(4)
        );
        let e = replicas_of(&json!({"spec": {"replicas": -1}}), "a").expect_err("negative");
        assert_eq!(e.code, 422);
        assert!(e.message.contains("spec.replicas"), "{}", e.message);
        assert_eq!(
            replicas_of(&json!({"kind": "Pod"}), "a").map_err(|e| e.code),
            Err(400)
        );
    }
}
