//! apps/v1: Deployments, ReplicaSets, StatefulSets, DaemonSets and
//! ControllerRevisions (upstream's `pkg/apis/apps/validation` plus the
//! selector immutability its registry strategies add for apps/v1).
//!
//! As in 1.33, a StatefulSet's pod template is only checked for its
//! labels, annotations and restart policy, not as a full pod spec.

use kaiser_apimachinery::field::{ErrorList, FieldError};
use serde_json::Value;

use super::core::restart_always;
use super::pod::{self, PodOpts};
use super::{
    IMMUTABLE_MSG, at, child, gofmt, int_of, invalid_raw, nonneg, not_supported_raw, present,
    selector, sem_eq, str_of,
};

fn opts_for(old: Option<&Value>) -> PodOpts {
    PodOpts::for_spec(old.map(|o| at(at(at(o, "spec"), "template"), "spec")))
}

/// The checks of `spec.selector` shared by Deployments, ReplicaSets and
/// StatefulSets: required, strict syntax, not empty. Returns the selector
/// to match the template against, or None when it does not convert.
fn required_selector(errs: &mut ErrorList, spec: &Value, kind: &str) -> Option<selector::Selector> {
    let sel = at(spec, "selector");
    if !present(sel) {
        errs.push(FieldError::required("spec.selector", ""));
    } else {
        errs.extend(selector::validate(sel, false, "spec.selector"));
        if selector::has_no_terms(sel) {
            errs.push(invalid_raw(
                "spec.selector",
                gofmt::label_selector(sel),
                &format!("empty selector is invalid for {kind}"),
            ));
        }
    }
    selector::as_selector(sel)
}

/// `ValidatePodTemplateSpecForReplicaSet`.
fn template_for_replica_set(
    errs: &mut ErrorList,
    spec: &Value,
    sel: &selector::Selector,
    opts: &PodOpts,
) {
    let template = at(spec, "template");
    let tpath = "spec.template";
    if !sel.is_empty() && !sel.matches(at(at(template, "metadata"), "labels")) {
        errs.push(pod::selector_mismatch(template, tpath));
    }
    errs.extend(pod::validate_pod_template_spec(template, tpath, opts));
    restart_always(errs, template, tpath);
    if present(at(at(template, "spec"), "activeDeadlineSeconds")) {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
}

/// `ValidateImmutableField` on `spec.selector` (apps/v1 strategies).
fn immutable_selector(errs: &mut ErrorList, new: &Value, old: &Value) {
    let (n, o) = (
        at(at(new, "spec"), "selector"),
        at(at(old, "spec"), "selector"),
    );
    if !sem_eq(n, o) || n.is_null() != o.is_null() {
        errs.push(invalid_raw(
            "spec.selector",
            gofmt::label_selector(n),
            IMMUTABLE_MSG,
        ));
    }
}

// ---- Deployment ----

/// `ValidateDeploymentSpec`.
fn deployment_spec(spec: &Value, opts: &PodOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    nonneg(
        &mut errs,
        int_of(spec, "replicas").unwrap_or(0),
        "spec.replicas",
    );
    match required_selector(&mut errs, spec, "deployment") {
        Some(sel) => template_for_replica_set(&mut errs, spec, &sel, opts),
        None => errs.push(invalid_raw(
            "spec.selector",
            gofmt::label_selector(at(spec, "selector")),
            "invalid label selector",
        )),
    }
    deployment_strategy(&mut errs, at(spec, "strategy"));
    let min_ready = int_of(spec, "minReadySeconds").unwrap_or(0);
    nonneg(&mut errs, min_ready, "spec.minReadySeconds");
    if let Some(n) = int_of(spec, "revisionHistoryLimit") {
        nonneg(&mut errs, n, "spec.revisionHistoryLimit");
    }
    if let Some(n) = int_of(spec, "progressDeadlineSeconds") {
        nonneg(&mut errs, n, "spec.progressDeadlineSeconds");
        if n <= min_ready {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                n,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

fn deployment_strategy(errs: &mut ErrorList, strategy: &Value) {
    let path = "spec.strategy";
    let ru = at(strategy, "rollingUpdate");
    match str_of(strategy, "type") {
        "Recreate" => {
            if present(ru) {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            if !present(ru) {
                errs.push(FieldError::required(
                    "spec.strategy.rollingUpdate",
                    "this should be defaulted and never be nil",
                ));
            } else {
                let p = "spec.strategy.rollingUpdate";
                let (mu, ms) = (at(ru, "maxUnavailable"), at(ru, "maxSurge"));
                positive_int_or_percent(errs, mu, &child(p, "maxUnavailable"));
                positive_int_or_percent(errs, ms, &child(p, "maxSurge"));
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    errs.push(invalid_raw(
                        &child(p, "maxUnavailable"),
                        gofmt::int_or_string(mu),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                not_more_than_100(errs, mu, &child(p, "maxUnavailable"));
            }
        }
        t => errs.push(not_supported_raw(
            path,
            format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{}}}",
                gofmt::quote(t),
                gofmt::pointer("apps.RollingUpdateDeployment", ru)
            ),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

/// `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(errs: &mut ErrorList, v: &Value, path: &str) {
    match v {
        Value::String(s) => {
            if !is_percent(s) {
                errs.push(invalid_raw(
                    path,
                    gofmt::int_or_string(v),
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                ));
            }
        }
        other => nonneg(errs, super::as_int(other).unwrap_or(0), path),
    }
}

fn is_percent(s: &str) -> bool {
    s.strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// `getIntOrPercentValue`: a percent's number, an int, or a string's
/// integer value (0 when it is none).
fn int_or_percent_value(v: &Value) -> i64 {
    match v {
        Value::String(s) if is_percent(s) => s.trim_end_matches('%').parse().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        other => super::as_int(other).unwrap_or(0),
    }
}

/// `IsNotMoreThan100Percent`.
fn not_more_than_100(errs: &mut ErrorList, v: &Value, path: &str) {
    if let Value::String(s) = v
        && is_percent(s)
        && int_or_percent_value(v) > 100
    {
        errs.push(invalid_raw(
            path,
            gofmt::int_or_string(v),
            "must not be greater than 100%",
        ));
    }
}

/// `ValidateDeployment`.
pub fn validate_deployment(d: &Value) -> ErrorList {
    deployment_spec(at(d, "spec"), &opts_for(None))
}

/// `ValidateDeploymentUpdate` plus the apps/v1 selector immutability.
pub fn validate_deployment_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = deployment_spec(at(new, "spec"), &opts_for(Some(old)));
    immutable_selector(&mut errs, new, old);
    errs
}

// ---- ReplicaSet ----

fn replica_set_spec(spec: &Value, opts: &PodOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    nonneg(
        &mut errs,
        int_of(spec, "replicas").unwrap_or(0),
        "spec.replicas",
    );
    nonneg(
        &mut errs,
        int_of(spec, "minReadySeconds").unwrap_or(0),
        "spec.minReadySeconds",
    );
    // Upstream's ReplicaSet message says "deployment" too.
    match required_selector(&mut errs, spec, "deployment") {
        Some(sel) => template_for_replica_set(&mut errs, spec, &sel, opts),
        None => errs.push(invalid_raw(
            "spec.selector",
            gofmt::label_selector(at(spec, "selector")),
            "invalid label selector",
        )),
    }
    errs
}

/// `ValidateReplicaSet`.
pub fn validate_replica_set(rs: &Value) -> ErrorList {
    replica_set_spec(at(rs, "spec"), &opts_for(None))
}

pub fn validate_replica_set_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = replica_set_spec(at(new, "spec"), &opts_for(Some(old)));
    immutable_selector(&mut errs, new, old);
    errs
}

// ---- StatefulSet ----

fn stateful_set_spec(spec: &Value, opts: &PodOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    match str_of(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let us = at(spec, "updateStrategy");
    let ru = at(us, "rollingUpdate");
    let ru_go = || {
        format!(
            "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{}}}",
            int_of(ru, "partition").unwrap_or(0),
            gofmt::pointer("intstr.IntOrString", at(ru, "maxUnavailable"))
        )
    };
    match str_of(us, "type") {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if present(ru) {
                errs.push(invalid_raw(
                    "spec.updateStrategy.rollingUpdate",
                    ru_go(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if present(ru) {
                let p = "spec.updateStrategy.rollingUpdate";
                nonneg(
                    &mut errs,
                    int_of(ru, "partition").unwrap_or(0),
                    &child(p, "partition"),
                );
                let mu = at(ru, "maxUnavailable");
                if present(mu) {
                    let mp = child(p, "maxUnavailable");
                    positive_int_or_percent(&mut errs, mu, &mp);
                    if int_or_percent_value(mu) == 0 {
                        errs.push(invalid_raw(&mp, gofmt::int_or_string(mu), "cannot be 0"));
                    }
                    not_more_than_100(&mut errs, mu, &mp);
                }
            }
        }
        t => errs.push(invalid_raw(
            "spec.updateStrategy",
            format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                gofmt::quote(t),
                gofmt::pointer("apps.RollingUpdateStatefulSetStrategy", ru)
            ),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    let policy = at(spec, "persistentVolumeClaimRetentionPolicy");
    if present(policy) {
        for f in ["whenDeleted", "whenScaled"] {
            let v = str_of(policy, f);
            if v != "Retain" && v != "Delete" {
                errs.push(FieldError::not_supported(
                    &child("spec.persistentVolumeClaimRetentionPolicy", f),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    nonneg(
        &mut errs,
        int_of(spec, "replicas").unwrap_or(0),
        "spec.replicas",
    );
    nonneg(
        &mut errs,
        int_of(spec, "minReadySeconds").unwrap_or(0),
        "spec.minReadySeconds",
    );
    if present(at(spec, "ordinals")) {
        nonneg(
            &mut errs,
            int_of(at(spec, "ordinals"), "start").unwrap_or(0),
            "spec.ordinals.start",
        );
    }
    let template = at(spec, "template");
    let tpath = "spec.template";
    match required_selector(&mut errs, spec, "statefulset") {
        Some(sel) => {
            // Only the template's metadata; the pod spec is not validated.
            let meta = at(template, "metadata");
            if !sel.is_empty() && !sel.matches(at(meta, "labels")) {
                errs.push(pod::selector_mismatch(template, tpath));
            }
            super::labels(&mut errs, at(meta, "labels"), "spec.template.labels");
            super::annotations(
                &mut errs,
                at(meta, "annotations"),
                "spec.template.annotations",
            );
            pod::pod_specific_annotations(
                &mut errs,
                at(meta, "annotations"),
                at(template, "spec"),
                "spec.template.annotations",
                opts,
            );
        }
        None => errs.push(invalid_raw(
            "spec.selector",
            gofmt::label_selector(at(spec, "selector")),
            "",
        )),
    }
    restart_always(&mut errs, template, tpath);
    if present(at(at(template, "spec"), "activeDeadlineSeconds")) {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    errs
}

/// `ValidateStatefulSet`.
pub fn validate_stateful_set(s: &Value) -> ErrorList {
    stateful_set_spec(at(s, "spec"), &opts_for(None))
}

/// Spec members a StatefulSet update may change.
const STATEFUL_SET_MUTABLE: &[&str] = &[
    "replicas",
    "template",
    "updateStrategy",
    "minReadySeconds",
    "ordinals",
    "persistentVolumeClaimRetentionPolicy",
];

/// `ValidateStatefulSetUpdate`.
pub fn validate_stateful_set_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = stateful_set_spec(at(new, "spec"), &opts_for(Some(old)));
    let strip = |v: &Value| {
        let mut s = at(v, "spec").clone();
        if let Some(m) = s.as_object_mut() {
            for f in STATEFUL_SET_MUTABLE {
                m.remove(*f);
            }
        }
        s
    };
    if !sem_eq(&strip(new), &strip(old)) {
        errs.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
    errs
}

// ---- DaemonSet ----

fn daemon_set_spec(spec: &Value, opts: &PodOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    let sel = at(spec, "selector");
    errs.extend(selector::validate(
        sel,
        opts.allow_invalid_label_value_in_selector,
        "spec.selector",
    ));
    let template = at(spec, "template");
    if let Some(s) = selector::as_selector(sel)
        && !s.matches(at(at(template, "metadata"), "labels"))
    {
        errs.push(pod::selector_mismatch(template, "spec.template"));
    }
    if present(sel) && selector::has_no_terms(sel) {
        errs.push(invalid_raw(
            "spec.selector",
            gofmt::label_selector(sel),
            "empty selector is invalid for daemonset",
        ));
    }
    errs.extend(pod::validate_pod_template_spec(
        template,
        "spec.template",
        opts,
    ));
    restart_always(&mut errs, template, "spec.template");
    if present(at(at(template, "spec"), "activeDeadlineSeconds")) {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    nonneg(
        &mut errs,
        int_of(spec, "minReadySeconds").unwrap_or(0),
        "spec.minReadySeconds",
    );
    daemon_set_strategy(&mut errs, at(spec, "updateStrategy"));
    if let Some(n) = int_of(spec, "revisionHistoryLimit") {
        nonneg(&mut errs, n, "spec.revisionHistoryLimit");
    }
    errs
}

fn daemon_set_strategy(errs: &mut ErrorList, s: &Value) {
    let ru = at(s, "rollingUpdate");
    match str_of(s, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let p = "spec.updateStrategy.rollingUpdate";
            if !present(ru) {
                errs.push(FieldError::required(p, ""));
                return;
            }
            let (mu, ms) = (at(ru, "maxUnavailable"), at(ru, "maxSurge"));
            positive_int_or_percent(errs, mu, &child(p, "maxUnavailable"));
            positive_int_or_percent(errs, ms, &child(p, "maxSurge"));
            not_more_than_100(errs, mu, &child(p, "maxUnavailable"));
            not_more_than_100(errs, ms, &child(p, "maxSurge"));
            let has_unavailable = int_or_percent_value(mu) != 0;
            let has_surge = int_or_percent_value(ms) != 0;
            if has_unavailable && has_surge {
                errs.push(invalid_raw(
                    &child(p, "maxSurge"),
                    gofmt::int_or_string(ms),
                    "may not be set when maxUnavailable is non-zero",
                ));
            } else if !has_unavailable && !has_surge {
                errs.push(FieldError::required(
                    &child(p, "maxUnavailable"),
                    "cannot be 0 when maxSurge is 0",
                ));
            }
        }
        t => errs.push(not_supported_raw(
            "spec.updateStrategy",
            format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                gofmt::quote(t),
                gofmt::pointer("apps.RollingUpdateDaemonSet", ru)
            ),
            &["RollingUpdate", "OnDelete"],
        )),
    }
}

/// `ValidateDaemonSet`.
pub fn validate_daemon_set(ds: &Value) -> ErrorList {
    daemon_set_spec(at(ds, "spec"), &opts_for(None))
}

pub fn validate_daemon_set_update(new: &Value, old: &Value) -> ErrorList {
    let mut opts = opts_for(Some(old));
    opts.allow_invalid_label_value_in_selector |=
        selector::has_invalid_label_value(at(at(old, "spec"), "selector"));
    let mut errs = daemon_set_spec(at(new, "spec"), &opts);
    immutable_selector(&mut errs, new, old);
    errs
}

// ---- ControllerRevision ----

/// `ValidateControllerRevision`.
pub fn validate_controller_revision(cr: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    if !present(at(cr, "data")) {
        errs.push(FieldError::required("data", "data is mandatory"));
    }
    nonneg(&mut errs, int_of(cr, "revision").unwrap_or(0), "revision");
    errs
}

/// `ValidateControllerRevisionUpdate`: data never changes.
pub fn validate_controller_revision_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_controller_revision(new);
    if !sem_eq(at(new, "data"), at(old, "data")) {
        errs.push(invalid_raw(
            "data",
            gofmt::json(at(new, "data")),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

#[cfg(test)]
mod tests;
