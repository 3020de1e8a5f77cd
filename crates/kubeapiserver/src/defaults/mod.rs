//! **Defaulting** of the built-in kinds: the fields upstream's versioned
//! defaulters (`pkg/apis/<group>/<version>/defaults.go`, and the generated
//! walkers that decide where each one applies) fill in, worked on the wire
//! form (`serde_json::Value`, camelCase) of one served version.
//!
//! Besides the defaulters proper, a few effects of upstream's conversion to
//! and from its internal types show in every stored object, so they live
//! here too: the `serviceAccount` alias of `serviceAccountName`, a Node's
//! `podCIDR`/`podCIDRs` pair and `apiVersion`/`kind` on a StatefulSet's
//! volume claim templates. Job selector generation (the registry strategy's,
//! it needs the uid) is [`job_generate_selector`].
//!
//! Rules every defaulter keeps: any field may be missing or of a shape the
//! code does not expect (then it is left alone), a value the client set is
//! kept unless upstream itself replaces it, and a second run changes nothing.
//! "Unset" follows Go: a missing or `null` pointer; for plain strings and
//! numbers also `""` and `0`, which Go cannot tell from missing.

mod apps;
mod batch;
mod core;
mod image;
mod other;
mod quantity;

use serde_json::{Map, Value};

pub use batch::job_generate_selector;

type Obj = Map<String, Value>;

/// The defaulter of a kind as served at `group`/`version` (`""` for core);
/// `None` when upstream defaults nothing for it.
pub fn defaulter(group: &str, version: &str, kind: &str) -> Option<fn(&mut Value)> {
    let f: fn(&mut Value) = match (group, version, kind) {
        ("", "v1", "Pod") => core::pod,
        ("", "v1", "PodTemplate") => core::pod_template,
        ("", "v1", "ReplicationController") => core::replication_controller,
        ("", "v1", "Service") => core::service,
        ("", "v1", "Endpoints") => core::endpoints,
        ("", "v1", "Secret") => core::secret,
        ("", "v1", "Namespace") => core::namespace,
        ("", "v1", "Node") => core::node,
        ("", "v1", "LimitRange") => core::limit_range,
        ("", "v1", "ResourceQuota") => core::resource_quota,
        ("", "v1", "PersistentVolume") => core::persistent_volume,
        ("", "v1", "PersistentVolumeClaim") => core::persistent_volume_claim,
        ("apps", "v1", "Deployment") => apps::deployment,
        ("apps", "v1", "ReplicaSet") => apps::replica_set,
        ("apps", "v1", "StatefulSet") => apps::stateful_set,
        ("apps", "v1", "DaemonSet") => apps::daemon_set,
        ("batch", "v1", "Job") => batch::job,
        ("batch", "v1", "CronJob") => batch::cron_job,
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => other::hpa_v1,
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => other::hpa_v2,
        ("networking.k8s.io", "v1", "NetworkPolicy") => other::network_policy,
        ("networking.k8s.io", "v1", "IngressClass") => other::ingress_class,
        ("rbac.authorization.k8s.io", "v1", "RoleBinding" | "ClusterRoleBinding") => {
            other::role_binding
        }
        ("storage.k8s.io", "v1", "StorageClass") => other::storage_class,
        ("storage.k8s.io", "v1", "CSIDriver") => other::csi_driver,
        ("storage.k8s.io", "v1", "VolumeAttachment") => other::volume_attachment,
        ("scheduling.k8s.io", "v1", "PriorityClass") => other::priority_class,
        ("apiregistration.k8s.io", "v1", "APIService") => other::api_service,
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => {
            other::validating_webhook_configuration
        }
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => {
            other::mutating_webhook_configuration
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy") => {
            other::validating_admission_policy
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding") => {
            other::validating_admission_policy_binding
        }
        ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema") => other::flow_schema,
        ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration") => {
            other::priority_level_configuration
        }
        ("discovery.k8s.io", "v1", "EndpointSlice") => other::endpoint_slice,
        _ => return None,
    };
    Some(f)
}

// ---- helpers over JSON objects ----

/// Whether `key` is missing or null (a nil pointer in Go).
fn unset(m: &Obj, key: &str) -> bool {
    matches!(m.get(key), None | Some(Value::Null))
}

/// Whether a plain Go string at `key` is unset: missing, null or `""`.
fn str_unset(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

/// Whether a plain Go number at `key` is unset: missing, null or zero.
fn num_unset(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(_) => false,
    }
}

/// Whether a Go slice or map at `key` has no entries (`len(x) == 0`).
fn len_zero(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// The string at `key`, `""` when missing or not a string.
fn str_at<'a>(m: &'a Obj, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Sets a pointer field that is nil.
fn set_ptr(m: &mut Obj, key: &str, value: impl Into<Value>) {
    if unset(m, key) {
        m.insert(key.to_owned(), value.into());
    }
}

/// Sets a plain string field that is empty.
fn set_str(m: &mut Obj, key: &str, value: &str) {
    if str_unset(m, key) {
        m.insert(key.to_owned(), Value::from(value));
    }
}

/// Sets a plain number field that is zero.
fn set_num(m: &mut Obj, key: &str, value: i64) {
    if num_unset(m, key) {
        m.insert(key.to_owned(), Value::from(value));
    }
}

/// The object at `key`, if there is one (a pointer struct: never created).
fn child<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key`, made `{}` when missing or null (a Go value struct
/// always exists); `None` when something else is there.
fn child_or_new<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    let v = m.entry(key.to_owned()).or_insert(Value::Null);
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
}

/// The top-level object, if the value is one.
fn root(obj: &mut Value) -> Option<&mut Obj> {
    obj.as_object_mut()
}

/// The objects in the array at `key` (other elements are skipped).
fn items<'a>(m: &'a mut Obj, key: &str) -> impl Iterator<Item = &'a mut Obj> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// The object at a path of keys, each one only if present.
fn path<'a>(m: &'a mut Obj, keys: &[&str]) -> Option<&'a mut Obj> {
    let mut cur = m;
    for k in keys {
        cur = child(cur, k)?;
    }
    Some(cur)
}

/// Runs a kind's defaulter twice and checks the second run changes nothing
/// (defaulting is idempotent); returns the defaulted object.
#[cfg(test)]
pub(crate) fn run_twice(
    group: &str,
    version: &str,
    kind: &str,
    mut obj: serde_json::Value,
) -> serde_json::Value {
    let Some(f) = defaulter(group, version, kind) else {
        panic!("no defaulter for {kind}");
    };
    f(&mut obj);
    let once = obj.clone();
    f(&mut obj);
    assert_eq!(obj, once, "{kind}: second run changed the object");
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every kind with a defaulter survives odd shapes without panicking
    /// and leaves a value that is not an object untouched.
    #[test]
    fn odd_shapes_do_not_panic() {
        let kinds: &[(&str, &str, &str)] = &[
            ("", "v1", "Pod"),
            ("", "v1", "PodTemplate"),
            ("", "v1", "ReplicationController"),
            ("", "v1", "Service"),
            ("", "v1", "Endpoints"),
            ("", "v1", "Secret"),
            ("", "v1", "Namespace"),
            ("", "v1", "Node"),
            ("", "v1", "LimitRange"),
            ("", "v1", "ResourceQuota"),
            ("", "v1", "PersistentVolume"),
            ("", "v1", "PersistentVolumeClaim"),
            ("apps", "v1", "Deployment"),
            ("apps", "v1", "ReplicaSet"),
            ("apps", "v1", "StatefulSet"),
            ("apps", "v1", "DaemonSet"),
            ("batch", "v1", "Job"),
            ("batch", "v1", "CronJob"),
            ("autoscaling", "v1", "HorizontalPodAutoscaler"),
            ("autoscaling", "v2", "HorizontalPodAutoscaler"),
            ("networking.k8s.io", "v1", "NetworkPolicy"),
            ("networking.k8s.io", "v1", "IngressClass"),
            ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
            ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
            ("storage.k8s.io", "v1", "StorageClass"),
            ("storage.k8s.io", "v1", "CSIDriver"),
            ("storage.k8s.io", "v1", "VolumeAttachment"),
            ("scheduling.k8s.io", "v1", "PriorityClass"),
            (
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
            ),
            (
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
            ),
            (
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingAdmissionPolicy",
            ),
            (
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingAdmissionPolicyBinding",
            ),
            ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"),
            (
                "flowcontrol.apiserver.k8s.io",
                "v1",
                "PriorityLevelConfiguration",
            ),
            ("discovery.k8s.io", "v1", "EndpointSlice"),
        ];
        let shapes = [
            json!(5),
            json!(null),
            json!("x"),
            json!([1, 2]),
            json!({}),
            json!({"spec": 5}),
            json!({"spec": null}),
            json!({"spec": {"template": "x"}}),
            json!({"spec": {"template": {"spec": 7, "metadata": 3}}}),
            json!({"spec": {"template": {"spec": {"containers": [1, {"ports": "p", "env": [{"valueFrom": 3}]}], "volumes": [null, {"secret": 1}]}}}}),
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": "c"}}}}}}),
            json!({"spec": {"containers": {"a": 1}, "volumes": 3, "initContainers": [[]]}}),
            json!({"spec": {"ports": [3, {"targetPort": {}}], "type": 4, "selector": 1}}),
            json!({"spec": {"behavior": 1, "metrics": "m", "limited": {"limitResponse": 2}}}),
            json!({"spec": {"updateStrategy": 1, "strategy": [], "volumeClaimTemplates": [1, {"spec": 2}]}}),
            json!({"webhooks": [1, {"rules": 2, "clientConfig": {"service": 3}}], "subjects": [1], "roleRef": 3}),
            json!({"metadata": 1, "status": 2, "subsets": [{"ports": [1]}], "ports": 4}),
            json!({"spec": {"limits": [1, {"type": "Container", "max": 3}]}}),
        ];
        for (g, v, k) in kinds {
            let Some(f) = defaulter(g, v, k) else {
                panic!("no defaulter for {g}/{v} {k}");
            };
            for shape in &shapes {
                let mut obj = shape.clone();
                f(&mut obj);
                if !shape.is_object() {
                    assert_eq!(&obj, shape, "{k} changed a non-object");
                }
                // Idempotent even on odd shapes.
                let once = obj.clone();
                f(&mut obj);
                assert_eq!(obj, once, "{k} is not idempotent on {shape}");
            }
        }
    }

    #[test]
    fn kinds_without_defaults() {
        for (g, v, k) in [
            ("", "v1", "ConfigMap"),
            ("", "v1", "Event"),
            ("policy", "v1", "PodDisruptionBudget"),
            ("networking.k8s.io", "v1", "Ingress"),
            ("coordination.k8s.io", "v1", "Lease"),
            ("rbac.authorization.k8s.io", "v1", "Role"),
            ("apps", "v1beta1", "Deployment"),
        ] {
            assert!(defaulter(g, v, k).is_none(), "{k} should have no defaults");
        }
        assert!(defaulter("apps", "v1", "Deployment").is_some());
    }

    #[test]
    fn helpers_follow_go_zero_values() {
        let mut m = json!({"a": "", "b": 0, "c": null, "d": [], "e": "x", "f": false})
            .as_object()
            .cloned()
            .unwrap_or_default();
        set_str(&mut m, "a", "A");
        set_num(&mut m, "b", 7);
        set_ptr(&mut m, "c", 1);
        set_ptr(&mut m, "f", true);
        set_str(&mut m, "e", "y");
        assert!(len_zero(&m, "d"));
        assert_eq!(
            Value::Object(m),
            json!({"a": "A", "b": 7, "c": 1, "d": [], "e": "x", "f": false})
        );
    }
}
