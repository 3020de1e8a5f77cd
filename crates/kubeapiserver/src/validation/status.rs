//! The checks of `status` subresource updates, where upstream has a
//! distinct `Validate…StatusUpdate` (replica counters, load balancer
//! ingress, claims' capacities, quota usage, namespace phase, job
//! transitions …). `status_validator` picks them by kind; the status
//! strategies in `crate::status` call them.

use std::collections::HashSet;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use serde_json::Value;

use super::{
    arr, at, child, dns_subdomain, idx, int_of, invalid_omit, meta, net, nonneg, opt_str, present,
    str_of, strings,
};

/// A status check: (new, old).
pub type StatusFn = fn(&Value, &Value) -> ErrorList;

/// group "" for core; None when upstream checks nothing beyond metadata.
pub fn status_validator(group: &str, kind: &str) -> Option<StatusFn> {
    Some(match (group, kind) {
        ("", "Pod") => super::pod::validate_pod_status_update,
        ("", "Node") => super::core::validate_node_update,
        ("", "Service") => service,
        ("", "ReplicationController") => replica_counts,
        ("", "PersistentVolumeClaim") => persistent_volume_claim,
        ("", "PersistentVolume") => resource_version_required,
        ("", "ResourceQuota") => super::core::validate_quota_status_update,
        ("", "Namespace") => namespace,
        ("apps", "Deployment") => deployment,
        ("apps", "ReplicaSet") => replica_counts,
        ("apps", "StatefulSet") => stateful_set,
        ("apps", "DaemonSet") => daemon_set,
        ("batch", "Job") => job,
        ("autoscaling", "HorizontalPodAutoscaler") => hpa,
        ("policy", "PodDisruptionBudget") => pdb,
        ("networking.k8s.io", "Ingress") => ingress,
        ("apiregistration.k8s.io", "APIService") => {
            |new, _| super::apiregistration::validate_api_service_status(new)
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema" | "PriorityLevelConfiguration") => {
            super::flowcontrol::validate_status_update
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            super::admission::validate_validating_admission_policy_status
        }
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            super::certificates::validate_csr_status_update
        }
        ("storage.k8s.io", "VolumeAttachment") => super::storage::validate_volume_attachment_update,
        _ => return None,
    })
}

/// `ValidateNonnegativeField` on counters of `status` (absent reads 0).
fn counters(errs: &mut ErrorList, status: &Value, fields: &[&str]) {
    for f in fields {
        nonneg(errs, int_of(status, f).unwrap_or(0), &child("status", f));
    }
}

/// `… cannot be greater than status.replicas` and the ready/available
/// ordering shared by the replica controllers.
fn not_above(errs: &mut ErrorList, status: &Value, fields: &[&str], limit: &str, msg: &str) {
    let max = int_of(status, limit).unwrap_or(0);
    for f in fields {
        let n = int_of(status, f).unwrap_or(0);
        if n > max {
            errs.push(FieldError::invalid(&child("status", f), n, msg));
        }
    }
}

/// `IsDecremented` on `status.collisionCount`.
fn collision_count(errs: &mut ErrorList, new: &Value, old: &Value) {
    let (n, o) = (
        int_of(at(new, "status"), "collisionCount"),
        int_of(at(old, "status"), "collisionCount"),
    );
    let decremented = match (n, o) {
        (None, Some(_)) => true,
        (Some(n), Some(o)) => n < o,
        _ => false,
    };
    if decremented {
        errs.push(FieldError::invalid(
            "status.collisionCount",
            n.unwrap_or(0),
            "cannot be decremented",
        ));
    }
}

fn optional_counters(errs: &mut ErrorList, status: &Value, fields: &[&str]) {
    for f in fields {
        if let Some(n) = int_of(status, f) {
            nonneg(errs, n, &child("status", f));
        }
    }
}

const ABOVE_REPLICAS: &str = "cannot be greater than status.replicas";

/// The counters of a replicated workload's status and how they bound each
/// other.
struct ReplicaStatus<'a> {
    counters: &'a [&'a str],
    /// Counters checked only when set.
    optional: &'a [&'a str],
    /// Counters that may not exceed `status.replicas`.
    at_most_replicas: &'a [&'a str],
    /// The message when `availableReplicas` exceeds `readyReplicas`.
    above_ready: &'a str,
    /// Whether `status.collisionCount` may not go down.
    collisions: bool,
}

fn replica_status(new: &Value, old: &Value, r: &ReplicaStatus) -> ErrorList {
    let mut errs = ErrorList::new();
    let s = at(new, "status");
    counters(&mut errs, s, r.counters);
    optional_counters(&mut errs, s, r.optional);
    not_above(&mut errs, s, r.at_most_replicas, "replicas", ABOVE_REPLICAS);
    not_above(
        &mut errs,
        s,
        &["availableReplicas"],
        "readyReplicas",
        r.above_ready,
    );
    if r.collisions {
        collision_count(&mut errs, new, old);
    }
    errs
}

/// `ValidateReplicationControllerStatusUpdate` and
/// `ValidateReplicaSetStatusUpdate` (the same checks).
const REPLICA_COUNTS: ReplicaStatus = ReplicaStatus {
    counters: &[
        "replicas",
        "fullyLabeledReplicas",
        "readyReplicas",
        "availableReplicas",
        "observedGeneration",
    ],
    optional: &[],
    at_most_replicas: &["fullyLabeledReplicas", "readyReplicas", "availableReplicas"],
    above_ready: "cannot be greater than readyReplicas",
    collisions: false,
};

fn replica_counts(new: &Value, old: &Value) -> ErrorList {
    replica_status(new, old, &REPLICA_COUNTS)
}

/// `ValidateDeploymentStatusUpdate`.
fn deployment(new: &Value, old: &Value) -> ErrorList {
    let r = ReplicaStatus {
        counters: &[
            "observedGeneration",
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ],
        optional: &["collisionCount"],
        at_most_replicas: &["updatedReplicas", "readyReplicas", "availableReplicas"],
        above_ready: "cannot be greater than readyReplicas",
        collisions: true,
    };
    replica_status(new, old, &r)
}

/// `ValidateStatefulSetStatusUpdate`.
fn stateful_set(new: &Value, old: &Value) -> ErrorList {
    let r = ReplicaStatus {
        counters: &[
            "replicas",
            "readyReplicas",
            "currentReplicas",
            "updatedReplicas",
            "availableReplicas",
        ],
        optional: &["observedGeneration", "collisionCount"],
        at_most_replicas: &[
            "readyReplicas",
            "currentReplicas",
            "updatedReplicas",
            "availableReplicas",
        ],
        above_ready: "cannot be greater than status.readyReplicas",
        collisions: true,
    };
    replica_status(new, old, &r)
}

/// `ValidateDaemonSetStatusUpdate`.
fn daemon_set(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let s = at(new, "status");
    counters(
        &mut errs,
        s,
        &[
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
            "observedGeneration",
            "updatedNumberScheduled",
            "numberAvailable",
            "numberUnavailable",
        ],
    );
    optional_counters(&mut errs, s, &["collisionCount"]);
    collision_count(&mut errs, new, old);
    errs
}

/// `ValidateHorizontalPodAutoscalerStatusUpdate`.
fn hpa(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    counters(
        &mut errs,
        at(new, "status"),
        &["currentReplicas", "desiredReplicas"],
    );
    errs
}

/// `ValidatePodDisruptionBudgetStatusAndConditions` (v1).
fn pdb(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let s = at(new, "status");
    meta::conditions(&mut errs, at(s, "conditions"), "status.conditions");
    counters(
        &mut errs,
        s,
        &[
            "disruptionsAllowed",
            "currentHealthy",
            "desiredHealthy",
            "expectedPods",
        ],
    );
    errs
}

/// The ingress points of a load balancer (Services and Ingresses).
fn load_balancer_ingress(errs: &mut ErrorList, list: &[Value], path: &str, ip_mode: bool) {
    for (i, ing) in list.iter().enumerate() {
        let p = idx(path, i);
        let ip = str_of(ing, "ip");
        if !ip.is_empty() {
            net::valid_ip(errs, &child(&p, "ip"), ip);
        }
        if ip_mode {
            let mp = child(&p, "ipMode");
            match opt_str(ing, "ipMode") {
                None if !ip.is_empty() => {
                    errs.push(FieldError::required(
                        &mp,
                        "must be specified when `ip` is set",
                    ));
                }
                Some(_) if ip.is_empty() => {
                    errs.push(FieldError::forbidden(
                        &mp,
                        "may not be specified when `ip` is not set",
                    ));
                }
                Some(m) if m != "Proxy" && m != "VIP" => {
                    errs.push(FieldError::not_supported(&mp, m, &["Proxy", "VIP"]));
                }
                _ => {}
            }
        }
        let host = str_of(ing, "hostname");
        if !host.is_empty() {
            let hp = child(&p, "hostname");
            dns_subdomain(errs, host, &hp);
            if net::parse_ip(host).is_some() {
                errs.push(FieldError::invalid(
                    &hp,
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
        }
    }
}

/// `ValidateServiceStatusUpdate`: ingress only for LoadBalancer Services.
fn service(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let list = arr(at(at(new, "status"), "loadBalancer"), "ingress");
    let path = "status.loadBalancer.ingress";
    if str_of(at(new, "spec"), "type") != "LoadBalancer" && !list.is_empty() {
        errs.push(FieldError::forbidden(
            path,
            "may only be used when `spec.type` is 'LoadBalancer'",
        ));
    } else {
        load_balancer_ingress(&mut errs, list, path, true);
    }
    errs
}

/// `ValidateIngressStatusUpdate`.
fn ingress(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let list = arr(at(at(new, "status"), "loadBalancer"), "ingress");
    load_balancer_ingress(&mut errs, list, "status.loadBalancer.ingress", false);
    errs
}

/// Status writes that must name the revision they replace.
fn resource_version_required(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    if str_of(at(new, "metadata"), "resourceVersion").is_empty() {
        errs.push(FieldError::required("resourceVersion", ""));
    }
    errs
}

/// `validateBasicResource`: the integer value is not negative.
fn basic_resource(errs: &mut ErrorList, v: &Value, path: &str) -> bool {
    if let Some(Ok(q)) = super::quantity::of(v)
        && q.value() < 0
    {
        errs.push(FieldError::invalid(
            path,
            q.value() as i64,
            "must be a valid resource quantity",
        ));
        return false;
    }
    true
}

/// `ValidatePersistentVolumeClaimStatusUpdate` (with recovery from failed
/// expansion, on by default in 1.33).
fn persistent_volume_claim(new: &Value, old: &Value) -> ErrorList {
    let mut errs = resource_version_required(new, old);
    if arr(at(new, "spec"), "accessModes").is_empty() {
        errs.push(FieldError::required("Spec.accessModes", ""));
    }
    let s = at(new, "status");
    for (k, v) in super::sorted_entries(at(s, "capacity")) {
        basic_resource(&mut errs, v, &super::key("status.capacity", k));
    }
    let resize = [
        "ControllerResizeInProgress",
        "ControllerResizeInfeasible",
        "NodeResizeInProgress",
        "NodeResizeInfeasible",
        "NodeResizePending",
    ];
    let rp = "status.allocatedResourceStatus";
    for (k, v) in super::sorted_entries(at(s, "allocatedResourceStatuses")) {
        super::pod::resource_name(&mut errs, k, rp);
        if !resize.contains(&v.as_str().unwrap_or("")) {
            errs.push(FieldError::not_supported(rp, k.as_str(), &resize));
        }
    }
    let ap = "status.allocatedResources";
    for (k, v) in super::sorted_entries(at(s, "allocatedResources")) {
        if k != "storage" {
            errs.push(FieldError::not_supported(ap, k.as_str(), &["storage"]));
            continue;
        }
        let p = super::key(ap, k);
        if basic_resource(&mut errs, v, &p)
            && let Some(Ok(q)) = super::quantity::of(v)
        {
            super::pod::resource_quantity_value(&mut errs, k, &q, &p);
        }
    }
    errs
}

/// `ValidateNamespaceStatusUpdate`: Active until deletion, then Terminating.
pub fn namespace(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let phase = str_of(at(new, "status"), "phase");
    let deleting = present(at(at(new, "metadata"), "deletionTimestamp"));
    let (want, msg) = if deleting {
        (
            "Terminating",
            "may only be 'Terminating' if `deletionTimestamp` is not empty",
        )
    } else {
        (
            "Active",
            "may only be 'Active' if `deletionTimestamp` is empty",
        )
    };
    if phase != want {
        errs.push(FieldError::invalid("status.Phase", phase, msg));
    }
    errs
}

// ---- Job ----

fn condition_true(obj: &Value, ty: &str) -> bool {
    arr(at(obj, "status"), "conditions")
        .iter()
        .any(|c| str_of(c, "type") == ty && str_of(c, "status") == "True")
}

fn finished(obj: &Value) -> bool {
    condition_true(obj, "Complete") || condition_true(obj, "Failed")
}

/// A `*metav1.Time` as Go prints it in messages.
fn go_time(v: &Value) -> String {
    let Some(s) = v.as_str() else {
        return "null".into();
    };
    match kaiser_apimachinery::time::parse_rfc3339(s) {
        Some(secs) => {
            let t = kaiser_apimachinery::time::format_rfc3339(secs);
            format!("{} +0000 UTC", t.trim_end_matches('Z').replace('T', " "))
        }
        None => s.to_string(),
    }
}

fn time_invalid(path: &str, v: &Value, msg: &str) -> FieldError {
    super::invalid_raw(path, go_time(v), msg)
}

/// `ValidateJobStatusUpdate` with the options upstream's strategy uses
/// when Jobs may be managed by other controllers (the default in 1.33):
/// each transition rule runs when the fields it looks at change.
fn job(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let (s, os) = (at(new, "status"), at(old, "status"));
    counters(&mut errs, s, &["active", "succeeded", "failed"]);
    optional_counters(&mut errs, s, &["ready", "terminating"]);
    let utp = at(s, "uncountedTerminatedPods");
    let mut seen = HashSet::new();
    for list in ["succeeded", "failed"] {
        for (i, uid) in strings(utp, list).into_iter().enumerate() {
            let p = idx(&format!("status.uncountedTerminatedPods.{list}"), i);
            if uid.is_empty() {
                errs.push(FieldError::invalid(&p, uid, "must not be empty"));
            } else if !seen.insert(uid) {
                errs.push(FieldError::duplicate(&p, uid));
            }
        }
    }
    let changed = |f: &str| at(s, f) != at(os, f);
    let complete = condition_true(new, "Complete");
    let failed = condition_true(new, "Failed");
    let complete_changed = complete != condition_true(old, "Complete");
    let failed_changed = failed != condition_true(old, "Failed");
    let finished_changed = finished(new) != finished(old);
    let target = condition_true(new, "FailureTarget");
    let target_changed = target != condition_true(old, "FailureTarget");
    let (start, completion) = (at(s, "startTime"), at(s, "completionTime"));
    let cp = "status.conditions";
    if (complete_changed || failed_changed) && complete && failed {
        errs.push(invalid_omit(
            cp,
            "cannot set Complete=True and Failed=true conditions",
        ));
    }
    if (complete_changed || target_changed) && complete && target {
        errs.push(invalid_omit(
            cp,
            "cannot set Complete=True and FailureTarget=true conditions",
        ));
    }
    let completion_changed = changed("completionTime");
    if (complete_changed || completion_changed) && present(completion) && !complete {
        errs.push(time_invalid(
            "status.completionTime",
            completion,
            "cannot set completionTime when there is no Complete=True condition",
        ));
    }
    if (complete_changed || completion_changed) && !present(completion) && complete {
        errs.push(FieldError::required(
            "status.completionTime",
            "completionTime is required for Complete jobs",
        ));
    }
    if (changed("startTime") || completion_changed)
        && let (Some(a), Some(b)) = (start.as_str(), completion.as_str())
        && kaiser_apimachinery::time::parse_rfc3339(b) < kaiser_apimachinery::time::parse_rfc3339(a)
    {
        errs.push(time_invalid(
            "status.completionTime",
            completion,
            "completionTime cannot be set before startTime",
        ));
    }
    let is_finished = finished(new);
    let active = int_of(s, "active").unwrap_or(0);
    if (finished_changed || changed("active")) && active > 0 && is_finished {
        errs.push(FieldError::invalid(
            "status.active",
            active,
            "active>0 is invalid for finished job",
        ));
    }
    if (finished_changed || changed("startTime")) && !present(start) && is_finished {
        errs.push(FieldError::required(
            "status.startTime",
            "startTime is required for finished job",
        ));
    }
    let uncounted = strings(utp, "succeeded").len() + strings(utp, "failed").len();
    if (finished_changed || !super::sem_eq(utp, at(os, "uncountedTerminatedPods")))
        && is_finished
        && uncounted > 0
    {
        errs.push(super::invalid_raw(
            "status.uncountedTerminatedPods",
            super::gofmt::json(utp),
            "uncountedTerminatedPods needs to be empty for finished job",
        ));
    }
    let spec = at(new, "spec");
    let indexed = str_of(spec, "completionMode") == "Indexed";
    let completed_indexes = str_of(s, "completedIndexes");
    if changed("completedIndexes") && !completed_indexes.is_empty() && !indexed {
        errs.push(FieldError::invalid(
            "status.completedIndexes",
            completed_indexes,
            "cannot set non-empty completedIndexes when non-indexed completion mode",
        ));
    }
    if changed("failedIndexes")
        && !present(at(spec, "backoffLimitPerIndex"))
        && let Some(f) = opt_str(s, "failedIndexes")
    {
        errs.push(FieldError::invalid(
            "status.failedIndexes",
            f,
            "cannot set non-null failedIndexes when backoffLimitPerIndex is null",
        ));
    }
    if (finished_changed || changed("terminating"))
        && let Some(t) = int_of(s, "terminating")
        && t > 0
        && is_finished
    {
        errs.push(FieldError::invalid(
            "status.terminating",
            t,
            "terminating>0 is invalid for finished job",
        ));
    }
    if (changed("ready") || changed("active"))
        && let Some(r) = int_of(s, "ready")
        && r > active
    {
        errs.push(FieldError::invalid(
            "status.ready",
            r,
            "cannot set more ready pods than active",
        ));
    }
    let met = condition_true(new, "SuccessCriteriaMet");
    if met && failed {
        errs.push(invalid_omit(
            cp,
            "cannot set SuccessCriteriaMet=True and Failed=true conditions",
        ));
    }
    if met && target {
        errs.push(invalid_omit(
            cp,
            "cannot set SuccessCriteriaMet=True and FailureTarget=true conditions",
        ));
    }
    if present(at(spec, "successPolicy")) && !met && complete {
        errs.push(invalid_omit(
            cp,
            "cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True",
        ));
    }
    // Transitions.
    for ty in ["Failed", "Complete", "FailureTarget"] {
        if condition_true(old, ty) && !condition_true(new, ty) {
            errs.push(invalid_omit(
                cp,
                &format!("cannot disable the terminal {ty}=True condition"),
            ));
        }
    }
    let count = |o: &Value, f: &str| int_of(at(o, "status"), f).unwrap_or(0);
    if count(new, "failed") < count(old, "failed") {
        errs.push(FieldError::invalid(
            "status.failed",
            count(new, "failed"),
            "cannot decrease the failed counter",
        ));
    }
    let scalable = indexed && at(spec, "completions") == at(spec, "parallelism");
    if !scalable && count(new, "succeeded") < count(old, "succeeded") {
        errs.push(FieldError::invalid(
            "status.succeeded",
            count(new, "succeeded"),
            "cannot decrease the succeeded counter",
        ));
    }
    let old_completion = at(os, "completionTime");
    if present(completion) && present(old_completion) && completion != old_completion {
        errs.push(time_invalid(
            "status.completionTime",
            completion,
            "completionTime cannot be mutated",
        ));
    }
    let suspended = at(spec, "suspend").as_bool().unwrap_or(false);
    if present(at(os, "startTime")) && changed("startTime") && !suspended {
        errs.push(FieldError::required(
            "status.startTime",
            "startTime cannot be removed for unsuspended job",
        ));
    }
    if condition_true(old, "SuccessCriteriaMet") && !met {
        errs.push(invalid_omit(
            cp,
            "cannot disable the SuccessCriteriaMet=True condition",
        ));
    }
    if condition_true(old, "Complete") && !condition_true(old, "SuccessCriteriaMet") && met {
        errs.push(invalid_omit(
            cp,
            "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions",
        ));
    }
    errs
}

#[cfg(test)]
mod tests;
