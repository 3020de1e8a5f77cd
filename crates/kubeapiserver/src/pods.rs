//! Pod facts the registry computes (the QoS class a new pod reports) and
//! the pod subresources that change one part of a running pod:
//! `ephemeralcontainers` (append debugging containers) and `resize`
//! (container resources).

use std::sync::Arc;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::meta;
use kaiser_registry::Strategy;
use serde_json::Value;

/// A quantity in thousandths, rounded up (`100m` → 100, `1Gi` →
/// 1073741824000); `None` when it does not parse.
pub fn quantity_milli(q: &str) -> Option<i128> {
    kaiser_apimachinery::quantity::parse(q.trim())
        .ok()
        .map(|q| q.milli_value())
}

fn amount(resources: Option<&Value>, field: &str, name: &str) -> Option<i128> {
    resources?
        .get(field)?
        .get(name)?
        .as_str()
        .and_then(quantity_milli)
        .filter(|v| *v != 0)
}

/// Upstream's QoS class: BestEffort without any cpu/memory request or limit,
/// Guaranteed when every container limits both and requests equal limits,
/// Burstable otherwise.
pub fn qos_class(pod: &Value) -> &'static str {
    let spec = pod.get("spec");
    let containers = ["containers", "initContainers"].into_iter().flat_map(|f| {
        spec.and_then(|s| s.get(f))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    });
    let mut any = false;
    let mut guaranteed = true;
    let mut requests = [0i128; 2];
    let mut limits = [0i128; 2];
    for c in containers {
        let res = c.get("resources");
        for (i, name) in ["cpu", "memory"].into_iter().enumerate() {
            let limit = amount(res, "limits", name);
            // Requests default to limits (the defaulter copies them).
            let request = amount(res, "requests", name).or(limit);
            any |= limit.is_some() || request.is_some();
            requests[i] += request.unwrap_or(0);
            limits[i] += limit.unwrap_or(0);
            guaranteed &= limit.is_some();
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed && requests == limits {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Which part of a pod a subresource may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodPart {
    EphemeralContainers,
    Resize,
    /// `pods/binding`: the node name, annotations and the PodScheduled
    /// condition (the scheduler's write, exempt from pod update rules).
    Binding,
}

/// The strategy of `pods/ephemeralcontainers` and `pods/resize`: the stored
/// pod with only that part taken from the request.
pub struct PodPartStrategy {
    pub pod: Arc<dyn Strategy>,
    pub part: PodPart,
}

fn containers(pod: &Value) -> &[Value] {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

impl Strategy for PodPartStrategy {
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let mut out = old.clone();
        match self.part {
            PodPart::EphemeralContainers => {
                let ec = new.pointer("/spec/ephemeralContainers").cloned();
                if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
                    match ec {
                        Some(ec) => spec.insert("ephemeralContainers".into(), ec),
                        None => spec.remove("ephemeralContainers"),
                    };
                }
            }
            PodPart::Binding => {
                for (ptr, field) in [
                    ("/spec/nodeName", "spec"),
                    ("/metadata/annotations", "metadata"),
                    ("/status/conditions", "status"),
                ] {
                    let Some(v) = new.pointer(ptr).cloned() else {
                        continue;
                    };
                    let key = ptr.rsplit('/').next().unwrap_or("");
                    if !out.get(field).is_some_and(Value::is_object) {
                        out[field] = serde_json::json!({});
                    }
                    out[field][key] = v;
                }
            }
            PodPart::Resize => {
                let wanted = containers(new).to_vec();
                if let Some(list) = out
                    .pointer_mut("/spec/containers")
                    .and_then(Value::as_array_mut)
                {
                    for c in list.iter_mut() {
                        let name = c.get("name").cloned();
                        let Some(w) = wanted.iter().find(|w| w.get("name") == name.as_ref()) else {
                            continue;
                        };
                        for f in ["resources", "resizePolicy"] {
                            match w.get(f) {
                                Some(v) => c[f] = v.clone(),
                                None => {
                                    if let Some(o) = c.as_object_mut() {
                                        o.remove(f);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let rv = meta::resource_version(new).to_string();
        meta::set_str(&mut out, "resourceVersion", &rv);
        // Managed fields an apply computed for this write stay.
        if let Some(mf) = meta::metadata(new).and_then(|m| m.get("managedFields")) {
            meta::metadata_mut(&mut out).insert("managedFields".into(), mf.clone());
        }
        *new = out;
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        let mut errs = ErrorList::new();
        match self.part {
            PodPart::EphemeralContainers => {
                let list = |p: &Value| {
                    p.pointer("/spec/ephemeralContainers")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                };
                let (n, o) = (list(new), list(old));
                if n.len() < o.len() || n[..o.len()] != o[..] {
                    errs.push(FieldError::forbidden(
                        "spec.ephemeralContainers",
                        "existing ephemeral containers may not be changed",
                    ));
                }
                for (i, c) in n.iter().enumerate().skip(o.len()) {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    let taken = containers(new)
                        .iter()
                        .chain(n[..i].iter())
                        .any(|x| x.get("name").and_then(Value::as_str) == Some(name));
                    if name.is_empty() {
                        errs.push(FieldError::required(
                            &format!("spec.ephemeralContainers[{i}].name"),
                            "",
                        ));
                    } else if taken {
                        errs.push(FieldError::duplicate(
                            &format!("spec.ephemeralContainers[{i}].name"),
                            name,
                        ));
                    }
                    if c.get("image")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .is_empty()
                    {
                        errs.push(FieldError::required(
                            &format!("spec.ephemeralContainers[{i}].image"),
                            "",
                        ));
                    }
                }
            }
            PodPart::Binding => {}
            PodPart::Resize => {
                for (i, c) in containers(new).iter().enumerate() {
                    for kind in ["requests", "limits"] {
                        for (k, v) in c
                            .pointer(&format!("/resources/{kind}"))
                            .and_then(Value::as_object)
                            .into_iter()
                            .flatten()
                        {
                            if v.as_str().and_then(quantity_milli).is_none_or(|q| q < 0) {
                                errs.push(FieldError::invalid(
                                    &format!("spec.containers[{i}].resources.{kind}[{k}]"),
                                    v.clone(),
                                    "must be a valid, non-negative quantity",
                                ));
                            }
                        }
                    }
                }
            }
        }
        errs
    }

    fn has_pending_finalizers(&self, obj: &Value) -> bool {
        self.pod.has_pending_finalizers(obj)
    }

    fn table_columns(&self) -> &[kaiser_apimachinery::table::Column] {
        self.pod.table_columns()
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        self.pod.table_row(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_in_milli_units() {
        assert_eq!(quantity_milli("100m"), Some(100));
        assert_eq!(quantity_milli("0.5"), Some(500));
        assert_eq!(quantity_milli("2"), Some(2000));
        assert_eq!(quantity_milli("1Ki"), Some(1_024_000));
        assert_eq!(quantity_milli("1e3"), Some(1_000_000));
        assert_eq!(quantity_milli("1E"), Some(1_000_000_000_000_000_000_000));
        assert_eq!(quantity_milli("1.5Gi"), Some(1_610_612_736_000));
        assert_eq!(quantity_milli("0.0001"), Some(1));
        assert_eq!(quantity_milli("abc"), None);
        assert_eq!(quantity_milli("1Zi"), None);
        assert_eq!(quantity_milli(""), None);
    }

    #[test]
    fn qos_classes() {
        let pod = |res: Value| json!({"spec": {"containers": [{"name": "a", "resources": res}]}});
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(qos_class(&json!({"spec": 5})), "BestEffort");
        assert_eq!(
            qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"},
                                  "requests": {"cpu": "1000m", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"},
                                  "requests": {"cpu": "500m"}}))),
            "Burstable"
        );
    }
}
