//! Smaller kinds: PodDisruptionBudgets (policy), HorizontalPodAutoscalers
//! (autoscaling, core rules only), PriorityClasses (scheduling),
//! RuntimeClasses (node) and Leases (coordination).

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::{is_dns1123_label, is_valid_path_segment_name};
use serde_json::Value;

use super::{
    IMMUTABLE_MSG, at, child, enum_required, gofmt, int_of, invalid_raw, opt_str, pod, present,
    push_msgs, selector, str_of,
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

/// The spec rules shared by autoscaling/v1 and v2: replica bounds and the
/// scale target reference.
pub fn validate_hpa(hpa: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(hpa, "spec");
    let min = int_of(spec, "minReplicas");
    let max = int_of(spec, "maxReplicas").unwrap_or(0);
    if let Some(m) = min
        && m < 1
    {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
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
    let r = at(spec, "scaleTargetRef");
    for f in ["kind", "name"] {
        let v = str_of(r, f);
        let p = child("spec.scaleTargetRef", f);
        if v.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else {
            push_msgs(&mut errs, &p, v, is_valid_path_segment_name(v));
        }
    }
    if let Some(u) = int_of(spec, "targetCPUUtilizationPercentage")
        && u < 1
    {
        errs.push(FieldError::invalid(
            "spec.targetCPUUtilizationPercentage",
            u,
            "must be greater than 0",
        ));
    }
    errs
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
            ],
        );
        let ok = json!({"spec": {"minReplicas": 1, "maxReplicas": 5,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}});
        assert!(validate_hpa(&ok).is_empty());
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
