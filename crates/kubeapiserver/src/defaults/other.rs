//! The smaller groups: autoscaling, networking, rbac, storage, scheduling,
//! admissionregistration, flowcontrol and discovery.

use serde_json::{Value, json};

use super::core::pv_spec;
use super::quantity::canonicalize;
use super::{
    Obj, child, child_or_new, items, len_zero, path, root, set_num, set_ptr, set_str, str_at,
    str_unset,
};

// ---- autoscaling ----

pub(super) fn hpa_v1(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(spec) = child_or_new(o, "spec") {
        // The CPU target stays unset here; v1 has no metrics list.
        set_ptr(spec, "minReplicas", 1);
    }
}

pub(super) fn hpa_v2(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_ptr(spec, "minReplicas", 1);
    if len_zero(spec, "metrics") {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    for m in items(spec, "metrics") {
        for source in [
            "resource",
            "containerResource",
            "pods",
            "object",
            "external",
        ] {
            if let Some(t) = path(m, &[source, "target"]) {
                for key in ["value", "averageValue"] {
                    if let Some(q) = t.get_mut(key) {
                        canonicalize(q);
                    }
                }
            }
        }
    }
    // A given behavior is completed rule by rule; none stays none.
    if let Some(b) = child(spec, "behavior") {
        scaling_rules(
            b,
            "scaleUp",
            json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}
            ]}),
        );
        // Scale-down keeps no window: the controller's flag decides it.
        scaling_rules(
            b,
            "scaleDown",
            json!({"selectPolicy": "Max", "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 15}
            ]}),
        );
    }
}

/// Rules made of the defaults, with each field the client gave taken over.
fn scaling_rules(behavior: &mut Obj, key: &str, defaults: Value) {
    let Value::Object(mut rules) = defaults else {
        return;
    };
    match behavior.get(key) {
        Some(Value::Object(given)) => {
            for field in [
                "selectPolicy",
                "stabilizationWindowSeconds",
                "policies",
                "tolerance",
            ] {
                if let Some(v) = given.get(field).filter(|v| !v.is_null()) {
                    rules.insert(field.into(), v.clone());
                }
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => return,
    }
    behavior.insert(key.into(), Value::Object(rules));
}

// ---- networking ----

pub(super) fn network_policy(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    for dir in ["ingress", "egress"] {
        for rule in items(spec, dir) {
            for p in items(rule, "ports") {
                set_ptr(p, "protocol", "TCP");
            }
        }
    }
    // Without policy types a policy is about ingress, and egress too
    // when it has egress rules.
    if len_zero(spec, "policyTypes") {
        let mut types = vec![Value::from("Ingress")];
        if !len_zero(spec, "egress") {
            types.push(Value::from("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
}

pub(super) fn ingress_class(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(p) = path(o, &["spec", "parameters"]) {
        set_ptr(p, "scope", "Cluster");
    }
}

// ---- rbac ----

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

pub(super) fn role_binding(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(r) = child_or_new(o, "roleRef") {
        set_str(r, "apiGroup", RBAC_GROUP);
    }
    for s in items(o, "subjects") {
        if str_unset(s, "apiGroup") && matches!(str_at(s, "kind"), "User" | "Group") {
            s.insert("apiGroup".into(), Value::from(RBAC_GROUP));
        }
    }
}

// ---- storage ----

pub(super) fn storage_class(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    set_ptr(o, "reclaimPolicy", "Delete");
    set_ptr(o, "volumeBindingMode", "Immediate");
}

pub(super) fn csi_driver(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_ptr(spec, "attachRequired", true);
    set_ptr(spec, "podInfoOnMount", false);
    set_ptr(spec, "storageCapacity", false);
    set_ptr(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType");
    if len_zero(spec, "volumeLifecycleModes") {
        spec.insert("volumeLifecycleModes".into(), json!(["Persistent"]));
    }
    set_ptr(spec, "requiresRepublish", false);
    set_ptr(spec, "seLinuxMount", false);
}

pub(super) fn volume_attachment(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(pv) = path(o, &["spec", "source", "inlineVolumeSpec"]) {
        pv_spec(pv);
    }
}

// ---- scheduling ----

pub(super) fn priority_class(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    set_ptr(o, "preemptionPolicy", "PreemptLowerPriority");
}

// ---- apiregistration ----

/// An APIService's `spec.service.port` defaults to 443.
pub(super) fn api_service(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(service) = spec.get_mut("service").and_then(Value::as_object_mut) {
        set_ptr(service, "port", 443);
    }
}

// ---- admissionregistration ----

pub(super) fn validating_webhook_configuration(obj: &mut Value) {
    webhooks(obj, false);
}

pub(super) fn mutating_webhook_configuration(obj: &mut Value) {
    webhooks(obj, true);
}

fn webhooks(obj: &mut Value, mutating: bool) {
    let Some(o) = root(obj) else { return };
    for w in items(o, "webhooks") {
        set_ptr(w, "failurePolicy", "Fail");
        set_ptr(w, "matchPolicy", "Equivalent");
        set_ptr(w, "namespaceSelector", json!({}));
        set_ptr(w, "objectSelector", json!({}));
        set_ptr(w, "timeoutSeconds", 10);
        if mutating {
            set_ptr(w, "reinvocationPolicy", "Never");
        }
        if let Some(svc) = path(w, &["clientConfig", "service"]) {
            set_ptr(svc, "port", 443);
        }
        rules_scope(w, "rules");
    }
}

/// Rules without a scope apply to every scope.
fn rules_scope(m: &mut Obj, key: &str) {
    for r in items(m, key) {
        set_ptr(r, "scope", "*");
    }
}

pub(super) fn validating_admission_policy(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_ptr(spec, "failurePolicy", "Fail");
    if let Some(m) = child(spec, "matchConstraints") {
        match_resources(m);
    }
}

pub(super) fn validating_admission_policy_binding(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(m) = path(o, &["spec", "matchResources"]) {
        match_resources(m);
    }
}

fn match_resources(m: &mut Obj) {
    set_ptr(m, "matchPolicy", "Equivalent");
    set_ptr(m, "namespaceSelector", json!({}));
    set_ptr(m, "objectSelector", json!({}));
    rules_scope(m, "resourceRules");
    rules_scope(m, "excludeResourceRules");
}

// ---- flowcontrol ----

pub(super) fn flow_schema(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(spec) = child_or_new(o, "spec") {
        set_num(spec, "matchingPrecedence", 1000);
    }
}

pub(super) fn priority_level_configuration(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    if let Some(l) = child(spec, "limited") {
        // A pointer in v1: an explicit 0 is kept.
        set_ptr(l, "nominalConcurrencyShares", 30);
        set_ptr(l, "lendablePercent", 0);
        if let Some(q) = path(l, &["limitResponse", "queuing"]) {
            set_num(q, "handSize", 8);
            set_num(q, "queues", 64);
            set_num(q, "queueLengthLimit", 50);
        }
    }
    if let Some(e) = child(spec, "exempt") {
        set_ptr(e, "nominalConcurrencyShares", 0);
        set_ptr(e, "lendablePercent", 0);
    }
}

// ---- discovery ----

pub(super) fn endpoint_slice(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    for p in items(o, "ports") {
        set_ptr(p, "name", "");
        set_ptr(p, "protocol", "TCP");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::run_twice as run;

    const TARGET: &str = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}"#;

    fn target() -> Value {
        serde_json::from_str(TARGET).unwrap_or(Value::Null)
    }

    #[test]
    fn hpa_v2() {
        let got = run(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            json!({"spec": {"scaleTargetRef": target(), "maxReplicas": 5}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"scaleTargetRef": target(), "maxReplicas": 5, "minReplicas": 1,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80}}}]}})
        );
        let got = run(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            json!({"spec": {"minReplicas": 2, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1024Mi"}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"minReplicas": 2, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]}
            }}})
        );
        let got = run(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            json!({"spec": {"behavior": {"scaleUp": {"selectPolicy": "Disabled", "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}}}),
        );
        assert_eq!(
            got["spec"]["behavior"]["scaleUp"],
            json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled",
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]})
        );
    }

    #[test]
    fn hpa_v1() {
        let got = run(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            json!({"spec": {"scaleTargetRef": target(), "maxReplicas": 3}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"scaleTargetRef": target(), "maxReplicas": 3, "minReplicas": 1}})
        );
    }

    #[test]
    fn networking() {
        let got = run(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}],
                "egress": [{"ports": [{"port": 443}]}]}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"podSelector": {},
                "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}],
                "egress": [{"ports": [{"port": 443, "protocol": "TCP"}]}],
                "policyTypes": ["Ingress", "Egress"]}})
        );
        let got = run(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            json!({"spec": {"podSelector": {}}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
        );
        let got = run(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            json!({"spec": {"podSelector": {}, "policyTypes": ["Egress"]}}),
        );
        assert_eq!(got["spec"]["policyTypes"], json!(["Egress"]));
        assert_eq!(
            run(
                "networking.k8s.io",
                "v1",
                "IngressClass",
                json!({"spec": {"controller": "c", "parameters": {"kind": "K", "name": "n"}}})
            ),
            json!({"spec": {"controller": "c", "parameters": {"kind": "K", "name": "n", "scope": "Cluster"}}})
        );
        assert_eq!(
            run(
                "networking.k8s.io",
                "v1",
                "IngressClass",
                json!({"spec": {"controller": "c"}})
            ),
            json!({"spec": {"controller": "c"}})
        );
    }

    #[test]
    fn rbac_bindings() {
        for kind in ["RoleBinding", "ClusterRoleBinding"] {
            let got = run(
                "rbac.authorization.k8s.io",
                "v1",
                kind,
                json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
                    {"kind": "User", "name": "u"}, {"kind": "Group", "name": "g"},
                    {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
                    {"kind": "User", "name": "v", "apiGroup": "custom"}]}),
            );
            assert_eq!(
                got,
                json!({"roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"},
                    "subjects": [
                        {"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"},
                        {"kind": "Group", "name": "g", "apiGroup": "rbac.authorization.k8s.io"},
                        {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
                        {"kind": "User", "name": "v", "apiGroup": "custom"}]})
            );
        }
    }

    #[test]
    fn storage() {
        assert_eq!(
            run(
                "storage.k8s.io",
                "v1",
                "StorageClass",
                json!({"provisioner": "p"})
            ),
            json!({"provisioner": "p", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})
        );
        assert_eq!(
            run(
                "storage.k8s.io",
                "v1",
                "StorageClass",
                json!({"provisioner": "p", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"})
            ),
            json!({"provisioner": "p", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"})
        );
        assert_eq!(
            run(
                "storage.k8s.io",
                "v1",
                "CSIDriver",
                json!({"metadata": {"name": "d"}, "spec": {}})
            ),
            json!({"metadata": {"name": "d"}, "spec": {
                "attachRequired": true, "podInfoOnMount": false, "storageCapacity": false,
                "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                "requiresRepublish": false, "seLinuxMount": false}})
        );
        assert_eq!(
            run(
                "storage.k8s.io",
                "v1",
                "CSIDriver",
                json!({"spec": {"attachRequired": false, "volumeLifecycleModes": ["Ephemeral"], "fsGroupPolicy": "File"}})
            )["spec"],
            json!({"attachRequired": false, "podInfoOnMount": false, "storageCapacity": false,
                "fsGroupPolicy": "File", "volumeLifecycleModes": ["Ephemeral"],
                "requiresRepublish": false, "seLinuxMount": false})
        );
        assert_eq!(
            run(
                "storage.k8s.io",
                "v1",
                "VolumeAttachment",
                json!({"spec": {"attacher": "a", "nodeName": "n", "source": {"inlineVolumeSpec": {"hostPath": {"path": "/x"}}}}})
            ),
            json!({"spec": {"attacher": "a", "nodeName": "n", "source": {"inlineVolumeSpec": {"hostPath": {"path": "/x", "type": ""}}}}})
        );
    }

    #[test]
    fn priority_class() {
        assert_eq!(
            run(
                "scheduling.k8s.io",
                "v1",
                "PriorityClass",
                json!({"value": 1000})
            ),
            json!({"value": 1000, "preemptionPolicy": "PreemptLowerPriority"})
        );
        assert_eq!(
            run(
                "scheduling.k8s.io",
                "v1",
                "PriorityClass",
                json!({"value": 1, "preemptionPolicy": "Never"})
            ),
            json!({"value": 1, "preemptionPolicy": "Never"})
        );
    }

    #[test]
    fn webhook_configurations() {
        let user = json!({"webhooks": [{"name": "w.example.com", "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "ns", "name": "svc"}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}]});
        let want = json!({"webhooks": [{"name": "w.example.com", "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "ns", "name": "svc", "port": 443}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "*"}],
            "failurePolicy": "Fail", "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {},
            "timeoutSeconds": 10}]});
        assert_eq!(
            run(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
                user.clone()
            ),
            want
        );
        let mut want_m = want.clone();
        want_m["webhooks"][0]["reinvocationPolicy"] = json!("Never");
        assert_eq!(
            run(
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
                user
            ),
            want_m
        );
        let kept = json!({"webhooks": [{"name": "w", "failurePolicy": "Ignore", "matchPolicy": "Exact",
            "namespaceSelector": {"matchLabels": {"a": "b"}}, "objectSelector": {"matchLabels": {"c": "d"}},
            "timeoutSeconds": 3, "reinvocationPolicy": "IfNeeded",
            "clientConfig": {"url": "https://x"}, "rules": [{"scope": "Namespaced"}]}]});
        assert_eq!(
            run(
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
                kept.clone()
            ),
            kept
        );
    }

    #[test]
    fn admission_policies() {
        let got = run(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicy",
            json!({"spec": {"matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["deployments"]}]},
                "validations": [{"expression": "true"}]}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                    "operations": ["CREATE"], "resources": ["deployments"], "scope": "*"}],
                    "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}},
                "validations": [{"expression": "true"}]}})
        );
        let got = run(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicyBinding",
            json!({"spec": {"policyName": "p", "validationActions": ["Deny"],
                "matchResources": {"excludeResourceRules": [{"resources": ["pods"]}]}}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"policyName": "p", "validationActions": ["Deny"],
                "matchResources": {"excludeResourceRules": [{"resources": ["pods"], "scope": "*"}],
                    "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}}}})
        );
        let got = run(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicyBinding",
            json!({"spec": {"policyName": "p"}}),
        );
        assert_eq!(got, json!({"spec": {"policyName": "p"}}));
    }

    #[test]
    fn flowcontrol() {
        assert_eq!(
            run(
                "flowcontrol.apiserver.k8s.io",
                "v1",
                "FlowSchema",
                json!({"spec": {"priorityLevelConfiguration": {"name": "p"}}})
            ),
            json!({"spec": {"priorityLevelConfiguration": {"name": "p"}, "matchingPrecedence": 1000}})
        );
        assert_eq!(
            run(
                "flowcontrol.apiserver.k8s.io",
                "v1",
                "FlowSchema",
                json!({"spec": {"matchingPrecedence": 7}})
            )["spec"]["matchingPrecedence"],
            json!(7)
        );
        assert_eq!(
            run(
                "flowcontrol.apiserver.k8s.io",
                "v1",
                "PriorityLevelConfiguration",
                json!({"spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {"queues": 16}}}}})
            ),
            json!({"spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 30, "lendablePercent": 0,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 16, "handSize": 8, "queueLengthLimit": 50}}}}})
        );
        assert_eq!(
            run(
                "flowcontrol.apiserver.k8s.io",
                "v1",
                "PriorityLevelConfiguration",
                json!({"spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 0, "limitResponse": {"type": "Reject"}}}})
            ),
            json!({"spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 0, "lendablePercent": 0,
                "limitResponse": {"type": "Reject"}}}})
        );
        assert_eq!(
            run(
                "flowcontrol.apiserver.k8s.io",
                "v1",
                "PriorityLevelConfiguration",
                json!({"spec": {"type": "Exempt", "exempt": {}}})
            ),
            json!({"spec": {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}})
        );
    }

    #[test]
    fn endpoint_slice() {
        assert_eq!(
            run(
                "discovery.k8s.io",
                "v1",
                "EndpointSlice",
                json!({"addressType": "IPv4", "endpoints": [], "ports": [{"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]})
            ),
            json!({"addressType": "IPv4", "endpoints": [], "ports": [
                {"port": 80, "name": "", "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"}]})
        );
    }
}
