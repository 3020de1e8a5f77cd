//! Smaller kinds: PodDisruptionBudgets (policy), HorizontalPodAutoscalers
//! (autoscaling), PriorityClasses (scheduling),
//! RuntimeClasses (node) and Leases (coordination).

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::{is_dns1123_label, is_valid_path_segment_name};
use serde_json::Value;

use super::{
    IMMUTABLE_MSG, arr, at, child, enum_required, gofmt, idx, int_of, invalid_raw, opt_str, pod,
    present, push_msgs, quantity, selector, str_of,
};

// ---- PodDisruptionBudget ----

fn pdb_spec(errs: &mut ErrorList, spec: &Value, allow_invalid_values: bool) {
    let min = at(spec, "minAvailable");
    let max = at(spec, "maxUnavailable");
    if present(min) && present(max) {
        errs.push(invalid_raw(
            "spec",
            format!(
                "policy.PodDisruptionBudgetSpec{{MinAvailable:{}, Selector:{}, MaxUnavailable:{}, UnhealthyPodEvictionPolicy:{}}}",
                gofmt::pointer("intstr.IntOrString", min),
                gofmt::pointer("v1.LabelSelector", at(spec, "selector")),
                gofmt::pointer("intstr.IntOrString", max),
                gofmt::pointer("policy.UnhealthyPodEvictionPolicyType", at(spec, "unhealthyPodEvictionPolicy")),
            ),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (f, v) in [("minAvailable", min), ("maxUnavailable", max)] {
        if !present(v) {
            continue;
        }
        let p = child("spec", f);
        int_or_percent(errs, v, &p);
    }
    errs.extend(selector::validate(
        at(spec, "selector"),
        allow_invalid_values,
        "spec.selector",
    ));
    if let Some(p) = opt_str(spec, "unhealthyPodEvictionPolicy") {
        let valid = ["AlwaysAllow", "IfHealthyBudget"];
        if !valid.contains(&p) {
            errs.push(FieldError::not_supported(
                "spec.unhealthyPodEvictionPolicy",
                p,
                &valid,
            ));
        }
    }
}

/// `ValidatePositiveIntOrPercent` plus `IsNotMoreThan100Percent`.
fn int_or_percent(errs: &mut ErrorList, v: &Value, path: &str) {
    match v {
        Value::String(s) => {
            let pct = s
                .strip_suffix('%')
                .filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
            match pct {
                None => errs.push(invalid_raw(
                    path,
                    gofmt::int_or_string(v),
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                )),
                Some(n) if n.parse::<u64>().unwrap_or(u64::MAX) > 100 => errs.push(invalid_raw(
                    path,
                    gofmt::int_or_string(v),
                    "must not be greater than 100%",
                )),
                Some(_) => {}
            }
        }
        other => super::nonneg(errs, super::as_int(other).unwrap_or(0), path),
    }
}

/// `ValidatePodDisruptionBudget`.
pub fn validate_pdb(pdb: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    pdb_spec(&mut errs, at(pdb, "spec"), false);
    errs
}

pub fn validate_pdb_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let allow = selector::has_invalid_label_value(at(at(old, "spec"), "selector"));
    pdb_spec(&mut errs, at(new, "spec"), allow);
    errs
}

// ---- HorizontalPodAutoscaler ----

/// `ValidateHorizontalPodAutoscaler` on create.
pub fn validate_hpa(hpa: &Value) -> ErrorList {
    // HPAScaleToZero is off: at least one replica.
    hpa_spec(at(hpa, "spec"), 1)
}

/// `ValidateHorizontalPodAutoscalerUpdate`: an object already scaled to
/// zero may stay there.
pub fn validate_hpa_update(new: &Value, old: &Value) -> ErrorList {
    let bound = if int_of(at(old, "spec"), "minReplicas") == Some(0) {
        0
    } else {
        1
    };
    hpa_spec(at(new, "spec"), bound)
}

fn hpa_spec(spec: &Value, min_bound: i64) -> ErrorList {
    let mut errs = ErrorList::new();
    let min = int_of(spec, "minReplicas");
    let max = int_of(spec, "maxReplicas").unwrap_or(0);
    if let Some(m) = min
        && m < min_bound
    {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            format!("must be greater than or equal to {min_bound}"),
        ));
    }
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if let Some(m) = min
        && max < m
    {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    object_ref(&mut errs, at(spec, "scaleTargetRef"), "spec.scaleTargetRef");
    // autoscaling/v1 carries one CPU target, which converts to the first
    // metric of the internal (v2-shaped) object.
    let v1_metrics;
    let metrics = match at(spec, "targetCPUUtilizationPercentage") {
        Value::Null => arr(spec, "metrics"),
        u => {
            v1_metrics = [serde_json::json!({"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": u}}})];
            &v1_metrics[..]
        }
    };
    let mut scales_from_zero = false;
    for (i, m) in metrics.iter().enumerate() {
        metric_spec(&mut errs, m, &idx("spec.metrics", i));
        scales_from_zero |= matches!(str_of(m, "type"), "Object" | "External");
    }
    if min == Some(0) && !scales_from_zero {
        errs.push(FieldError::forbidden(
            "spec.metrics",
            "must specify at least one Object or External metric to support scaling to zero replicas",
        ));
    }
    let behavior = at(spec, "behavior");
    for dir in ["scaleUp", "scaleDown"] {
        let rules = at(behavior, dir);
        if present(rules) {
            scaling_rules(&mut errs, rules, &child("spec.behavior", dir));
        }
    }
    errs
}

/// `ValidateCrossVersionObjectReference`.
fn object_ref(errs: &mut ErrorList, r: &Value, path: &str) {
    for f in ["kind", "name"] {
        let v = str_of(r, f);
        let p = child(path, f);
        if v.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else {
            push_msgs(errs, &p, v, is_valid_path_segment_name(v));
        }
    }
}

fn scaling_rules(errs: &mut ErrorList, rules: &Value, path: &str) {
    if let Some(w) = int_of(rules, "stabilizationWindowSeconds") {
        let p = child(path, "stabilizationWindowSeconds");
        if w < 0 {
            errs.push(FieldError::invalid(
                &p,
                w,
                "must be greater than or equal to zero",
            ));
        }
        if w > 3600 {
            errs.push(FieldError::invalid(
                &p,
                w,
                "must be less than or equal to 3600",
            ));
        }
    }
    if let Some(sp) = opt_str(rules, "selectPolicy")
        && !["Disabled", "Max", "Min"].contains(&sp)
    {
        errs.push(FieldError::not_supported(
            &child(path, "selectPolicy"),
            sp,
            &["Disabled", "Max", "Min"],
        ));
    }
    let pp = child(path, "policies");
    let policies = arr(rules, "policies");
    if policies.is_empty() {
        errs.push(FieldError::required(
            &pp,
            "must specify at least one Policy",
        ));
    }
    for (i, pol) in policies.iter().enumerate() {
        let p = idx(&pp, i);
        let t = str_of(pol, "type");
        if t != "Pods" && t != "Percent" {
            errs.push(FieldError::not_supported(
                &child(&p, "type"),
                t,
                &["Percent", "Pods"],
            ));
        }
        let v = int_of(pol, "value").unwrap_or(0);
        if v <= 0 {
            errs.push(FieldError::invalid(
                &child(&p, "value"),
                v,
                "must be greater than zero",
            ));
        }
        let period = int_of(pol, "periodSeconds").unwrap_or(0);
        let pp = child(&p, "periodSeconds");
        if period <= 0 {
            errs.push(FieldError::invalid(
                &pp,
                period,
                "must be greater than zero",
            ));
        }
        if period > 1800 {
            errs.push(FieldError::invalid(
                &pp,
                period,
                "must be less than or equal to 1800",
            ));
        }
    }
}

const METRIC_TYPES: [&str; 5] = [
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

fn metric_spec(errs: &mut ErrorList, m: &Value, path: &str) {
    let t = str_of(m, "type");
    if t.is_empty() {
        errs.push(FieldError::required(
            &child(path, "type"),
            "must specify a metric source type",
        ));
    }
    if !METRIC_TYPES.contains(&t) {
        errs.push(FieldError::not_supported(
            &child(path, "type"),
            t,
            &METRIC_TYPES,
        ));
    }
    // Only the first source present is checked in depth.
    let mut present_sources = Vec::new();
    for f in [
        "object",
        "external",
        "pods",
        "resource",
        "containerResource",
    ] {
        let src = at(m, f);
        if !present(src) {
            continue;
        }
        present_sources.push(f);
        if present_sources.len() > 1 {
            continue;
        }
        let p = child(path, f);
        match f {
            "object" => {
                object_ref(
                    errs,
                    at(src, "describedObject"),
                    &child(&p, "describedObject"),
                );
                metric_identifier(errs, at(src, "metric"), &child(&p, "metric"));
                let target = at(src, "target");
                metric_target(errs, target, &child(&p, "target"));
                if !present(at(target, "value")) && !present(at(target, "averageValue")) {
                    errs.push(FieldError::required(
                        &child(&p, "target.averageValue"),
                        "must set either a target value or averageValue",
                    ));
                }
            }
            "external" => {
                metric_identifier(errs, at(src, "metric"), &child(&p, "metric"));
                let target = at(src, "target");
                metric_target(errs, target, &child(&p, "target"));
                let (v, av) = (
                    present(at(target, "value")),
                    present(at(target, "averageValue")),
                );
                if !v && !av {
                    errs.push(FieldError::required(
                        &child(&p, "target.averageValue"),
                        "must set either a target value for metric or a per-pod target",
                    ));
                }
                if v && av {
                    errs.push(FieldError::forbidden(
                        &child(&p, "target.value"),
                        "may not set both a target value for metric and a per-pod target",
                    ));
                }
            }
            "pods" => {
                metric_identifier(errs, at(src, "metric"), &child(&p, "metric"));
                let target = at(src, "target");
                metric_target(errs, target, &child(&p, "target"));
                if !present(at(target, "averageValue")) {
                    errs.push(FieldError::required(
                        &child(&p, "target.averageValue"),
                        "must specify a positive target averageValue",
                    ));
                }
            }
            _ => {
                let name = str_of(src, "name");
                let np = child(&p, "name");
                if name.is_empty() {
                    errs.push(FieldError::required(&np, "must specify a resource name"));
                } else if f == "containerResource" {
                    pod::container_resource_name(errs, name, &np);
                }
                if f == "containerResource" {
                    let c = str_of(src, "container");
                    let cp = child(&p, "container");
                    if c.is_empty() {
                        errs.push(FieldError::required(&cp, "must specify a container"));
                    } else {
                        push_msgs(errs, &cp, c, is_dns1123_label(c));
                    }
                }
                let target = at(src, "target");
                metric_target(errs, target, &child(&p, "target"));
                let (u, av) = (
                    present(at(target, "averageUtilization")),
                    present(at(target, "averageValue")),
                );
                if !u && !av {
                    errs.push(FieldError::required(
                        &child(&p, "target.averageUtilization"),
                        "must set either a target raw value or a target utilization",
                    ));
                }
                if u && av {
                    errs.push(FieldError::forbidden(
                        &child(&p, "target.averageValue"),
                        "may not set both a target raw value and a target utilization",
                    ));
                }
            }
        }
    }
    let expected = match t {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        "ContainerResource" => "containerResource",
        _ => {
            // upstream reports an unknown type a second time here
            errs.push(FieldError::not_supported(
                &child(path, "type"),
                t,
                &METRIC_TYPES,
            ));
            ""
        }
    };
    if !expected.is_empty() && !present(at(m, expected)) {
        errs.push(FieldError::required(
            &child(path, expected),
            "must populate information for the given metric source",
        ));
    }
    if present_sources.len() != 1 {
        // Go iterates a set here; sorted order keeps the output stable.
        let mut extra: Vec<&str> = present_sources
            .into_iter()
            .filter(|f| *f != expected)
            .collect();
        extra.sort_unstable();
        for f in extra {
            errs.push(FieldError::forbidden(
                &child(path, f),
                "must populate the given metric source only",
            ));
        }
    }
}

fn metric_identifier(errs: &mut ErrorList, id: &Value, path: &str) {
    let name = str_of(id, "name");
    let p = child(path, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&p, "must specify a metric name"));
    } else {
        push_msgs(errs, &p, name, is_valid_path_segment_name(name));
    }
}

fn metric_target(errs: &mut ErrorList, mt: &Value, path: &str) {
    let t = str_of(mt, "type");
    if t.is_empty() {
        errs.push(FieldError::required(
            &child(path, "type"),
            "must specify a metric target type",
        ));
    }
    if !["Utilization", "Value", "AverageValue"].contains(&t) {
        errs.push(FieldError::invalid(
            &child(path, "type"),
            t,
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for f in ["value", "averageValue"] {
        // The error body dereferences the *Quantity and prints the struct.
        if let Some(Ok(q)) = quantity::of(at(mt, f))
            && (q.is_zero() || q.is_negative())
        {
            errs.push(invalid_raw(
                &child(path, f),
                q.go_repr(),
                "must be positive",
            ));
        }
    }
    if let Some(u) = int_of(mt, "averageUtilization")
        && u < 1
    {
        errs.push(FieldError::invalid(
            &child(path, "averageUtilization"),
            u,
            "must be greater than 0",
        ));
    }
}

// ---- PriorityClass ----

const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;

/// `ValidatePriorityClass`.
pub fn validate_priority_class(pc: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let name = str_of(at(pc, "metadata"), "name");
    let value = int_of(pc, "value").unwrap_or(0);
    let global = at(pc, "globalDefault").as_bool().unwrap_or(false);
    if name.starts_with("system-") {
        let known = [
            ("system-node-critical", 2_000_001_000),
            ("system-cluster-critical", 2_000_000_000),
        ];
        let problem = match known.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v)) if *v != value => Some(format!("value of {n} PriorityClass must be {v}")),
            Some((n, _)) if global => {
                Some(format!("globalDefault of {n} PriorityClass must be false"))
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            errs.push(FieldError::forbidden(
                "metadata.name",
                format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {p}"
                ),
            ));
        }
    } else if value > HIGHEST_USER_PRIORITY {
        errs.push(FieldError::forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    if let Some(p) = opt_str(pc, "preemptionPolicy") {
        enum_required(
            &mut errs,
            p,
            "preemptionPolicy",
            &["PreemptLowerPriority", "Never"],
        );
    }
    errs
}

/// `ValidatePriorityClassUpdate`: value and preemption policy are fixed.
pub fn validate_priority_class_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    if int_of(new, "value") != int_of(old, "value") {
        errs.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    if opt_str(new, "preemptionPolicy") != opt_str(old, "preemptionPolicy") {
        errs.push(FieldError::invalid(
            "preemptionPolicy",
            at(new, "preemptionPolicy").clone(),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

// ---- RuntimeClass ----

/// `ValidateRuntimeClass`.
pub fn validate_runtime_class(rc: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let handler = str_of(rc, "handler");
    push_msgs(&mut errs, "handler", handler, is_dns1123_label(handler));
    let overhead = at(rc, "overhead");
    if present(overhead) {
        pod::limits_only(&mut errs, at(overhead, "podFixed"), "overhead");
    }
    let sched = at(rc, "scheduling");
    if present(sched) {
        super::labels(
            &mut errs,
            at(sched, "nodeSelector"),
            "scheduling.nodeSelector",
        );
        pod::tolerations(&mut errs, sched, "scheduling.tolerations");
        let list = super::arr(sched, "tolerations");
        for (i, t) in list.iter().enumerate() {
            if list[..i].iter().any(|o| super::sem_eq(o, t)) {
                errs.push(super::raw(
                    kaiser_apimachinery::field::ErrorKind::Duplicate,
                    &super::idx("scheduling.tolerations", i),
                    gofmt::json(t),
                    "",
                ));
            }
        }
    }
    errs
}

/// `ValidateRuntimeClassUpdate`: the handler is immutable.
pub fn validate_runtime_class_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let (n, o) = (str_of(new, "handler"), str_of(old, "handler"));
    if n != o {
        errs.push(FieldError::invalid("handler", n, IMMUTABLE_MSG));
    }
    errs
}

// ---- Lease ----

/// `ValidateLeaseSpec`.
pub fn validate_lease(lease: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(lease, "spec");
    if let Some(d) = int_of(spec, "leaseDurationSeconds")
        && d <= 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = int_of(spec, "leaseTransitions")
        && t < 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseTransitions",
            t,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(s) = opt_str(spec, "strategy") {
        if s.is_empty() {
            errs.push(FieldError::required("spec.strategy", ""));
        } else if s != "OldestEmulationVersion" && !s.contains('/') {
            errs.push(FieldError::not_supported(
                "spec.strategy",
                s,
                &["OldestEmulationVersion"],
            ));
        }
    }
    if opt_str(spec, "preferredHolder").is_some_and(|h| !h.is_empty())
        && opt_str(spec, "strategy").is_none_or(str::is_empty)
    {
        errs.push(FieldError::forbidden(
            "spec.preferredHolder",
            "may only be specified if `strategy` is defined",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::testutil::{assert_errs, assert_has};
    use serde_json::json;

    #[test]
    fn pdb_rules() {
        let both = json!({"spec": {"minAvailable": 1, "maxUnavailable": "150%",
            "selector": {"matchLabels": {"app": "x"}}}});
        assert_errs(
            &validate_pdb(&both),
            &[
                "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0xc000000000), Selector:(*v1.LabelSelector)(0xc000000000), MaxUnavailable:(*intstr.IntOrString)(0xc000000000), UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)(nil)}: minAvailable and maxUnavailable cannot be both set",
                "spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%",
            ],
        );
        assert_errs(
            &validate_pdb(&json!({"spec": {"minAvailable": -1}})),
            &["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"],
        );
        assert!(
            validate_pdb(&json!({"spec": {"minAvailable": "50%",
            "selector": {"matchLabels": {"app": "x"}}}}))
            .is_empty()
        );
    }

    #[test]
    fn hpa_rules() {
        let hpa = json!({"spec": {"minReplicas": 0, "maxReplicas": 0, "scaleTargetRef": {"kind": "Deployment"}}});
        assert_errs(
            &validate_hpa(&hpa),
            &[
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.scaleTargetRef.name: Required value",
                "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
            ],
        );
        // Objects already at zero keep their lower bound on update.
        let mut zero = hpa_v2();
        zero["spec"]["minReplicas"] = json!(0);
        zero["spec"]["metrics"] = json!([{"type": "External", "external": {
            "metric": {"name": "queue_messages_ready"},
            "target": {"type": "AverageValue", "averageValue": "30"}}}]);
        assert_errs(&validate_hpa_update(&zero, &zero), &[]);
        assert_errs(
            &validate_hpa_update(&zero, &hpa_v2()),
            &["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"],
        );
        // autoscaling/v1's CPU target is the first internal metric.
        let v1 = json!({"spec": {"minReplicas": 1, "maxReplicas": 5,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "targetCPUUtilizationPercentage": 0}});
        assert_errs(
            &validate_hpa(&v1),
            &[
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
            ],
        );
    }

    /// The php-apache autoscaler from the walkthrough, as v2 defaults it.
    fn hpa_v2() -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "php-apache"},
            "spec": {"minReplicas": 1, "maxReplicas": 10,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}}})
    }

    #[test]
    fn hpa_metrics_and_behavior() {
        let ok = hpa_v2();
        assert_errs(&validate_hpa(&ok), &[]);
        assert_errs(&validate_hpa_update(&ok, &ok), &[]);
        let mut h = hpa_v2();
        h["spec"]["metrics"] = json!([
            {"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50, "averageValue": "0"}}},
            {"type": "Pods", "pods": {"metric": {"name": ""}, "target": {"type": "Average"}}},
            {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "main"},
                "metric": {"name": "requests"}, "target": {"type": "Value", "value": "-1"}},
             "external": {"metric": {"name": "x"}}},
            {"type": "Queue"},
            {"type": "ContainerResource", "containerResource": {"name": "gpu", "container": "App",
                "target": {"type": "Utilization", "averageUtilization": 60}}}
        ]);
        h["spec"]["behavior"] = json!({
            "scaleUp": {"stabilizationWindowSeconds": 4000, "selectPolicy": "Fastest", "policies": []},
            "scaleDown": {"policies": [{"type": "Nodes", "value": 0, "periodSeconds": 1801}]}
        });
        assert_errs(
            &validate_hpa(&h),
            &[
                &format!(
                    "spec.metrics[0].resource.target.averageValue: Invalid value: {}: must be positive",
                    quantity::parse("0")
                        .map(|q| q.go_repr())
                        .unwrap_or_default()
                ),
                "spec.metrics[0].resource.target.averageValue: Forbidden: may not set both a target raw value and a target utilization",
                "spec.metrics[1].pods.metric.name: Required value: must specify a metric name",
                "spec.metrics[1].pods.target.type: Invalid value: \"Average\": must be either Utilization, Value, or AverageValue",
                "spec.metrics[1].pods.target.averageValue: Required value: must specify a positive target averageValue",
                "spec.metrics[2].object.target.value: Invalid value: resource.Quantity{i:resource.int64Amount{value:-1, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"-1\", Format:\"DecimalSI\"}: must be positive",
                "spec.metrics[2].external: Forbidden: must populate the given metric source only",
                "spec.metrics[3].type: Unsupported value: \"Queue\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"",
                "spec.metrics[3].type: Unsupported value: \"Queue\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"",
                "spec.metrics[4].containerResource.name: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                "spec.metrics[4].containerResource.name: Invalid value: \"gpu\": must be a standard resource for containers",
                &format!(
                    "spec.metrics[4].containerResource.container: Invalid value: \"App\": {}",
                    is_dns1123_label("App").join("")
                ),
                "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600",
                "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Fastest\": supported values: \"Disabled\", \"Max\", \"Min\"",
                "spec.behavior.scaleUp.policies: Required value: must specify at least one Policy",
                "spec.behavior.scaleDown.policies[0].type: Unsupported value: \"Nodes\": supported values: \"Percent\", \"Pods\"",
                "spec.behavior.scaleDown.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleDown.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
            ],
        );
    }

    #[test]
    fn priority_class_rules() {
        let pc = json!({"metadata": {"name": "high"}, "value": 2_000_000_000});
        assert_errs(
            &validate_priority_class(&pc),
            &["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"],
        );
        let sys = json!({"metadata": {"name": "system-foo"}, "value": 1});
        assert_errs(
            &validate_priority_class(&sys),
            &[
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-foo is not a known system priority class",
            ],
        );
        let old = json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "PreemptLowerPriority"});
        let new = json!({"metadata": {"name": "high"}, "value": 2000, "preemptionPolicy": "Never"});
        assert_errs(
            &validate_priority_class_update(&new, &old),
            &[
                "value: Forbidden: may not be changed in an update.",
                "preemptionPolicy: Invalid value: \"Never\": field is immutable",
            ],
        );
    }

    #[test]
    fn runtime_class_and_lease() {
        assert_has(
            &validate_runtime_class(&json!({"handler": "Run_C"})),
            "handler: Invalid value: \"Run_C\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        );
        assert!(
            validate_runtime_class(
                &json!({"handler": "runc", "overhead": {"podFixed": {"cpu": "250m"}}})
            )
            .is_empty()
        );
        assert_errs(
            &validate_runtime_class_update(
                &json!({"handler": "kata"}),
                &json!({"handler": "runc"}),
            ),
            &["handler: Invalid value: \"kata\": field is immutable"],
        );
        assert_errs(
            &validate_lease(&json!({"spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}})),
            &[
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            ],
        );
    }
}
