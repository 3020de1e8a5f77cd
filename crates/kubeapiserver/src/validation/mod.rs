//! Kind-specific validation of the built-in resources, as upstream's
//! `pkg/apis/*/validation`: the same field paths, error types and messages.
//!
//! Objects arrive in their v1 wire form, already defaulted and type-checked
//! against the schema; the object's own `metadata` is checked by the generic
//! store, so only nested metadata (pod templates) is checked here. Every
//! field may be absent: absent values read as Go's zero values.

pub mod admission;
pub mod apiregistration;
pub mod apps;
pub mod batch;
pub mod certificates;
pub mod core;
pub mod flowcontrol;
pub mod gofmt;
pub mod ipam;
mod meta;
pub mod misc;
pub mod net;
pub mod networking;
pub mod pod;
pub use kaiser_apimachinery::quantity;
pub mod rbac;
pub mod selector;
pub mod status;
pub mod storage;
mod tz;

use kaiser_apimachinery::field::{ErrorKind, ErrorList, FieldError};
use serde_json::{Map, Value};

const ADMISSION: &str = "admissionregistration.k8s.io";
const FLOW: &str = "flowcontrol.apiserver.k8s.io";
const NET: &str = "networking.k8s.io";

/// The checks of one kind.
pub struct Validator {
    pub create: fn(&Value) -> ErrorList,
    /// (new, old): includes everything `create` checks plus immutability rules.
    pub update: fn(&Value, &Value) -> ErrorList,
}

/// group "" for core; kind as in `kind:`. None when there is nothing
/// kind-specific to check.
pub fn validator(group: &str, kind: &str) -> Option<Validator> {
    let v = |create: fn(&Value) -> ErrorList, update: fn(&Value, &Value) -> ErrorList| {
        Some(Validator { create, update })
    };
    match (group, kind) {
        ("", "Pod") => v(pod::validate_pod, pod::validate_pod_update),
        ("", "PodTemplate") => v(
            pod::validate_pod_template,
            pod::validate_pod_template_update,
        ),
        ("", "ReplicationController") => v(core::validate_rc, core::validate_rc_update),
        ("", "Service") => v(core::validate_service, core::validate_service_update),
        ("", "PersistentVolumeClaim") => v(core::validate_pvc, core::validate_pvc_update),
        ("", "PersistentVolume") => v(core::validate_pv, core::validate_pv_update),
        ("", "Endpoints") => v(core::validate_endpoints, |n, _| core::validate_endpoints(n)),
        ("", "ResourceQuota") => v(core::validate_quota, core::validate_quota_update),
        ("", "LimitRange") => v(core::validate_limit_range, |n, _| {
            core::validate_limit_range(n)
        }),
        ("", "Node") => v(core::validate_node, core::validate_node_update),
        ("apps", "Deployment") => v(apps::validate_deployment, apps::validate_deployment_update),
        ("apps", "ReplicaSet") => v(
            apps::validate_replica_set,
            apps::validate_replica_set_update,
        ),
        ("apps", "StatefulSet") => v(
            apps::validate_stateful_set,
            apps::validate_stateful_set_update,
        ),
        ("apps", "DaemonSet") => v(apps::validate_daemon_set, apps::validate_daemon_set_update),
        ("apps", "ControllerRevision") => v(
            apps::validate_controller_revision,
            apps::validate_controller_revision_update,
        ),
        ("batch", "Job") => v(batch::validate_job, batch::validate_job_update),
        ("batch", "CronJob") => v(batch::validate_cron_job, batch::validate_cron_job_update),
        ("networking.k8s.io", "Ingress") => v(
            networking::validate_ingress,
            networking::validate_ingress_update,
        ),
        ("networking.k8s.io", "IngressClass") => v(
            networking::validate_ingress_class,
            networking::validate_ingress_class_update,
        ),
        ("networking.k8s.io", "NetworkPolicy") => v(
            networking::validate_network_policy,
            networking::validate_network_policy_update,
        ),
        ("policy", "PodDisruptionBudget") => v(misc::validate_pdb, misc::validate_pdb_update),
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => {
            v(rbac::validate_role, |n, _| rbac::validate_role(n))
        }
        ("rbac.authorization.k8s.io", "RoleBinding") => v(
            rbac::validate_role_binding,
            rbac::validate_role_binding_update,
        ),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => v(
            rbac::validate_cluster_role_binding,
            rbac::validate_cluster_role_binding_update,
        ),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            v(misc::validate_hpa, misc::validate_hpa_update)
        }
        ("scheduling.k8s.io", "PriorityClass") => v(
            misc::validate_priority_class,
            misc::validate_priority_class_update,
        ),
        ("storage.k8s.io", "StorageClass") => v(
            storage::validate_storage_class,
            storage::validate_storage_class_update,
        ),
        ("storage.k8s.io", "CSIDriver") => v(
            storage::validate_csi_driver,
            storage::validate_csi_driver_update,
        ),
        ("node.k8s.io", "RuntimeClass") => v(
            misc::validate_runtime_class,
            misc::validate_runtime_class_update,
        ),
        ("coordination.k8s.io", "Lease") => v(misc::validate_lease, |n, _| misc::validate_lease(n)),
        ("apiregistration.k8s.io", "APIService") => v(
            apiregistration::validate_api_service,
            apiregistration::validate_api_service_update,
        ),
        ("discovery.k8s.io", "EndpointSlice") => v(
            networking::validate_endpoint_slice,
            networking::validate_endpoint_slice_update,
        ),
        (ADMISSION, "ValidatingWebhookConfiguration") => v(
            admission::validate_validating_webhook_configuration,
            admission::validate_validating_webhook_configuration_update,
        ),
        (ADMISSION, "MutatingWebhookConfiguration") => v(
            admission::validate_mutating_webhook_configuration,
            admission::validate_mutating_webhook_configuration_update,
        ),
        (ADMISSION, "ValidatingAdmissionPolicy") => v(
            admission::validate_validating_admission_policy,
            admission::validate_validating_admission_policy_update,
        ),
        (ADMISSION, "ValidatingAdmissionPolicyBinding") => v(
            admission::validate_validating_admission_policy_binding,
            admission::validate_validating_admission_policy_binding_update,
        ),
        (FLOW, "FlowSchema") => v(
            flowcontrol::validate_flow_schema,
            flowcontrol::validate_flow_schema_update,
        ),
        (FLOW, "PriorityLevelConfiguration") => v(
            flowcontrol::validate_priority_level,
            flowcontrol::validate_priority_level_update,
        ),
        (NET, "IPAddress") => v(ipam::validate_ip_address, ipam::validate_ip_address_update),
        (NET, "ServiceCIDR") => v(
            ipam::validate_service_cidr,
            ipam::validate_service_cidr_update,
        ),
        ("storage.k8s.io", "VolumeAttachment") => v(
            storage::validate_volume_attachment,
            storage::validate_volume_attachment_update,
        ),
        ("storage.k8s.io", "CSINode") => v(
            storage::validate_csi_node,
            storage::validate_csi_node_update,
        ),
        ("storage.k8s.io", "CSIStorageCapacity") => v(
            storage::validate_csi_storage_capacity,
            storage::validate_csi_storage_capacity_update,
        ),
        ("certificates.k8s.io", "CertificateSigningRequest") => v(
            certificates::validate_csr,
            certificates::validate_csr_update,
        ),
        _ => None,
    }
}

// ---- reading the wire form ----

static NULL: Value = Value::Null;

/// The member `k` of an object, or null.
pub(crate) fn at<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&NULL)
}

/// Whether a value is present (not absent, not null).
pub(crate) fn present(v: &Value) -> bool {
    !v.is_null()
}

pub(crate) fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    at(v, k).as_str().unwrap_or("")
}

/// A string member that may be absent (Go's `*string`).
pub(crate) fn opt_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    at(v, k).as_str()
}

/// An integer member (also from integral floats).
pub(crate) fn int_of(v: &Value, k: &str) -> Option<i64> {
    as_int(at(v, k))
}

pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                    .map(|f| f as i64)
            }),
        _ => None,
    }
}

pub(crate) fn bool_of(v: &Value, k: &str) -> bool {
    at(v, k).as_bool().unwrap_or(false)
}

pub(crate) fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    at(v, k).as_array().map(Vec::as_slice).unwrap_or(&[])
}

pub(crate) fn obj_of<'a>(v: &'a Value, k: &str) -> Option<&'a Map<String, Value>> {
    at(v, k).as_object()
}

/// An object's entries, sorted by key (Go iterates maps randomly; sorted
/// keeps the order of several errors stable).
pub(crate) fn sorted_entries(v: &Value) -> Vec<(&String, &Value)> {
    let mut out: Vec<(&String, &Value)> = v.as_object().into_iter().flatten().collect();
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// The strings of an array member.
pub(crate) fn strings<'a>(v: &'a Value, k: &str) -> Vec<&'a str> {
    arr(v, k).iter().map(|s| s.as_str().unwrap_or("")).collect()
}

/// Whether a member is set to something other than its zero value
/// (absent, null, empty string/list/map, 0, false).
pub(crate) fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

// ---- paths ----

pub(crate) fn child(path: &str, name: &str) -> String {
    kaiser_apimachinery::field::child(path, name)
}

pub(crate) fn idx(path: &str, i: usize) -> String {
    kaiser_apimachinery::field::key(path, i)
}

pub(crate) fn key(path: &str, k: &str) -> String {
    kaiser_apimachinery::field::key(path, k)
}

// ---- error shapes ----

/// An error whose value upstream renders with Go's `%#v` or `%s` (structs,
/// maps, slices, paths): the rendering is part of the detail so that the
/// body reads `Invalid value: <rendered>: <detail>`.
pub(crate) fn raw(kind: ErrorKind, field: &str, rendered: String, detail: &str) -> FieldError {
    let detail = if detail.is_empty() {
        rendered
    } else {
        format!("{rendered}: {detail}")
    };
    FieldError {
        kind,
        field: field.to_string(),
        value: None,
        detail,
    }
}

pub(crate) fn invalid_raw(field: &str, rendered: String, detail: &str) -> FieldError {
    raw(ErrorKind::Invalid, field, rendered, detail)
}

/// `field.Invalid` with an omitted value (`Invalid value: <detail>`).
pub(crate) fn invalid_omit(field: &str, detail: &str) -> FieldError {
    FieldError {
        kind: ErrorKind::Invalid,
        field: field.to_string(),
        value: None,
        detail: detail.to_string(),
    }
}

pub(crate) fn not_found(field: &str, value: &str) -> FieldError {
    FieldError {
        kind: ErrorKind::NotFound,
        field: field.to_string(),
        value: Some(Value::from(value)),
        detail: String::new(),
    }
}

pub(crate) fn too_many(field: &str, actual: usize, max: usize) -> FieldError {
    let items = if max == 1 { "item" } else { "items" };
    FieldError {
        kind: ErrorKind::TooMany,
        field: field.to_string(),
        value: Some(Value::from(actual)),
        detail: format!("must have at most {max} {items}"),
    }
}

/// `field.NotSupported` whose bad value upstream renders as a struct.
pub(crate) fn not_supported_raw(field: &str, rendered: String, valid: &[&str]) -> FieldError {
    let list: Vec<String> = valid.iter().map(|v| gofmt::quote(v)).collect();
    raw(
        ErrorKind::NotSupported,
        field,
        rendered,
        &format!("supported values: {}", list.join(", ")),
    )
}

pub(crate) const NEGATIVE_MSG: &str = "must be greater than or equal to 0";
pub(crate) const IMMUTABLE_MSG: &str = "field is immutable";

/// `ValidateNonnegativeField`.
pub(crate) fn nonneg(errs: &mut ErrorList, value: i64, path: &str) {
    if value < 0 {
        errs.push(FieldError::invalid(path, value, NEGATIVE_MSG));
    }
}

/// `ValidateNonnegativeField` on an optional integer member.
pub(crate) fn nonneg_member(errs: &mut ErrorList, v: &Value, k: &str, path: &str) {
    if let Some(n) = int_of(v, k) {
        nonneg(errs, n, &child(path, k));
    }
}

pub(crate) fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

/// Adds one `Invalid` error per message.
pub(crate) fn push_msgs(errs: &mut ErrorList, path: &str, value: &str, msgs: Vec<String>) {
    for m in msgs {
        errs.push(FieldError::invalid(path, value, m));
    }
}

/// `ValidateDNS1123Label`.
pub(crate) fn dns_label(errs: &mut ErrorList, value: &str, path: &str) {
    push_msgs(
        errs,
        path,
        value,
        kaiser_apimachinery::validation::is_dns1123_label(value),
    );
}

/// `ValidateDNS1123Subdomain` (and every `NameIsDNSSubdomain(name, false)`).
pub(crate) fn dns_subdomain(errs: &mut ErrorList, value: &str, path: &str) {
    push_msgs(
        errs,
        path,
        value,
        kaiser_apimachinery::validation::is_dns1123_subdomain(value),
    );
}

/// `ValidateQualifiedName` / `ValidateLabelName`.
pub(crate) fn qualified_name(errs: &mut ErrorList, value: &str, path: &str) {
    push_msgs(
        errs,
        path,
        value,
        kaiser_apimachinery::validation::is_qualified_name(value),
    );
}

/// `IsDNS1035Label` (service names).
pub(crate) fn dns1035_label(s: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if s.len() > 63 {
        msgs.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        msgs.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".into());
    }
    msgs
}

/// `IsFullyQualifiedName`: a DNS subdomain of at least three labels.
pub(crate) fn fully_qualified_name(errs: &mut ErrorList, value: &str, path: &str) {
    if value.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let msgs = kaiser_apimachinery::validation::is_dns1123_subdomain(value);
    if !msgs.is_empty() {
        errs.push(FieldError::invalid(path, value, msgs.join(",")));
        return;
    }
    if value.split('.').count() < 3 {
        errs.push(FieldError::invalid(
            path,
            value,
            "should be a domain with at least three segments separated by dots",
        ));
    }
}

/// `IsValidPortNum`.
pub(crate) fn port_num_errors(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// `ValidatePathSegmentName` messages as `Invalid` errors.
pub(crate) fn path_segment(errs: &mut ErrorList, value: &str, path: &str) {
    push_msgs(
        errs,
        path,
        value,
        kaiser_apimachinery::validation::is_valid_path_segment_name(value),
    );
}

/// A Go `string` enum: `Required` when empty, else `NotSupported`.
pub(crate) fn enum_required(errs: &mut ErrorList, value: &str, path: &str, valid: &[&str]) {
    if value.is_empty() {
        errs.push(FieldError::required(path, ""));
    } else if !valid.contains(&value) {
        errs.push(FieldError::not_supported(path, value, valid));
    }
}

/// A Go pointer-to-enum: only checked when present.
pub(crate) fn enum_optional(errs: &mut ErrorList, v: &Value, path: &str, valid: &[&str]) {
    if let Some(s) = v.as_str()
        && !valid.contains(&s)
    {
        errs.push(FieldError::not_supported(path, s, valid));
    }
}

/// Labels of nested metadata (`ValidateLabels`).
pub(crate) fn labels(errs: &mut ErrorList, v: &Value, path: &str) {
    errs.extend(kaiser_apimachinery::validation::validate_labels(
        Some(v),
        path,
    ));
}

/// Annotations of nested metadata (`ValidateAnnotations`).
pub(crate) fn annotations(errs: &mut ErrorList, v: &Value, path: &str) {
    errs.extend(kaiser_apimachinery::validation::validate_annotations(
        Some(v),
        path,
    ));
}

/// Go's `apiequality.Semantic.DeepEqual` on wire values: absent, null and
/// empty lists/maps are equal, and quantities compare by value.
pub(crate) fn sem_eq(a: &Value, b: &Value) -> bool {
    sem_eq_in(a, b, false)
}

/// Members whose values are maps of quantities.
const QUANTITY_MAPS: &[&str] = &[
    "requests",
    "limits",
    "overhead",
    "capacity",
    "allocatable",
    "hard",
    "used",
    "min",
    "max",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
    "allocatedResources",
];

fn sem_eq_in(a: &Value, b: &Value, quantities: bool) -> bool {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Array(x) => x.is_empty(),
        Value::Object(x) => x.is_empty(),
        _ => false,
    };
    if empty(a) && empty(b) {
        return true;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().all(|k| {
                // Maps of quantities pass the flag on to their values.
                let q = quantities
                    || QUANTITY_MAPS.contains(&k.as_str())
                    || k == "sizeLimit"
                    || k == "divisor";
                sem_eq_in(x.get(k).unwrap_or(&NULL), y.get(k).unwrap_or(&NULL), q)
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| sem_eq_in(p, q, false))
        }
        _ if quantities => match (quantity::of(a), quantity::of(b)) {
            (Some(Ok(p)), Some(Ok(q))) => p.compare(&q).is_eq(),
            _ => a == b,
        },
        _ => a == b,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use kaiser_apimachinery::field::ErrorList;

    /// The rendered errors, one per line, for exact assertions.
    pub fn lines(errs: &ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    /// Asserts that `errs` holds exactly `want`, in order.
    #[track_caller]
    pub fn assert_errs(errs: &ErrorList, want: &[&str]) {
        assert_eq!(lines(errs), want, "errors were: {:#?}", lines(errs));
    }

    /// Asserts that one of the errors renders as `want`.
    #[track_caller]
    pub fn assert_has(errs: &ErrorList, want: &str) {
        assert!(
            lines(errs).iter().any(|l| l == want),
            "missing {want:?} in {:#?}",
            lines(errs)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_shapes_do_not_panic() {
        let kinds = [
            ("", "Pod"),
            ("", "PodTemplate"),
            ("", "ReplicationController"),
            ("", "Service"),
            ("", "PersistentVolumeClaim"),
            ("", "PersistentVolume"),
            ("", "Endpoints"),
            ("", "ResourceQuota"),
            ("", "LimitRange"),
            ("", "Node"),
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("apps", "ControllerRevision"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("networking.k8s.io", "Ingress"),
            ("networking.k8s.io", "IngressClass"),
            ("networking.k8s.io", "NetworkPolicy"),
            ("policy", "PodDisruptionBudget"),
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("scheduling.k8s.io", "PriorityClass"),
            ("storage.k8s.io", "StorageClass"),
            ("storage.k8s.io", "CSIDriver"),
            ("node.k8s.io", "RuntimeClass"),
            ("coordination.k8s.io", "Lease"),
            ("discovery.k8s.io", "EndpointSlice"),
            (ADMISSION, "ValidatingWebhookConfiguration"),
            (ADMISSION, "MutatingWebhookConfiguration"),
            (ADMISSION, "ValidatingAdmissionPolicy"),
            (ADMISSION, "ValidatingAdmissionPolicyBinding"),
            (FLOW, "FlowSchema"),
            (FLOW, "PriorityLevelConfiguration"),
            (NET, "IPAddress"),
            (NET, "ServiceCIDR"),
            ("storage.k8s.io", "VolumeAttachment"),
            ("storage.k8s.io", "CSINode"),
            ("storage.k8s.io", "CSIStorageCapacity"),
            ("certificates.k8s.io", "CertificateSigningRequest"),
        ];
        let shapes = [
            json!({}),
            json!(null),
            json!(5),
            json!({"spec": 5}),
            json!({"spec": {"template": 1, "containers": "x", "ports": {}, "selector": []}}),
            json!({"spec": {"template": {"spec": {"containers": [1, null, {"ports": [7]}]}}}}),
            json!({"spec": {"jobTemplate": {"spec": {"template": []}}, "schedule": 3}}),
            json!({"spec": {"rules": "x", "subjects": 1}, "rules": [1], "roleRef": 3, "subjects": [null]}),
            json!({"subsets": [1, {"addresses": [2]}], "endpoints": "x", "ports": [null]}),
            json!({"spec": {"metrics": [1, {"type": 5, "object": 2}], "behavior": {"scaleUp": 1},
                "targetCPUUtilizationPercentage": "x", "gcePersistentDisk": 1,
                "flexVolume": {"options": 1}, "ingress": [{"from": [1]}]}}),
        ];
        for (g, k) in kinds {
            let val = validator(g, k).expect("registered");
            for s in &shapes {
                let _ = (val.create)(s);
                let _ = (val.update)(s, s);
                let _ = (val.update)(s, &json!({}));
                let _ = (val.update)(&json!({}), s);
            }
        }
        assert!(validator("", "ConfigMap").is_none());
        assert!(validator("example.com", "Widget").is_none());
    }

    #[test]
    fn semantic_equality() {
        assert!(sem_eq(&json!({"a": []}), &json!({})));
        assert!(sem_eq(&json!({"a": null}), &json!({"a": {}})));
        assert!(!sem_eq(&json!({"a": 1}), &json!({"a": 2})));
        assert!(sem_eq(
            &json!({"resources": {"requests": {"cpu": "1000m"}}}),
            &json!({"resources": {"requests": {"cpu": "1"}}})
        ));
        assert!(!sem_eq(&json!({"image": "1"}), &json!({"image": "1.0"})));
    }
}
