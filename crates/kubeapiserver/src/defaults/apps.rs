//! apps/v1: the workload controllers.

use serde_json::{Value, json};

use super::core::{pvc, template_pod_spec};
use super::{child, child_or_new, items, root, set_ptr, set_str, str_at, str_unset};

pub(super) fn deployment(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_ptr(spec, "replicas", 1);
    if let Some(strategy) = child_or_new(spec, "strategy") {
        set_str(strategy, "type", "RollingUpdate");
        if str_at(strategy, "type") == "RollingUpdate"
            && let Some(ru) = child_or_new(strategy, "rollingUpdate")
        {
            set_ptr(ru, "maxUnavailable", "25%");
            set_ptr(ru, "maxSurge", "25%");
        }
    }
    set_ptr(spec, "revisionHistoryLimit", 10);
    set_ptr(spec, "progressDeadlineSeconds", 600);
    template_pod_spec(spec);
}

pub(super) fn replica_set(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_ptr(spec, "replicas", 1);
    template_pod_spec(spec);
}

pub(super) fn daemon_set(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    if let Some(strategy) = child_or_new(spec, "updateStrategy") {
        set_str(strategy, "type", "RollingUpdate");
        if str_at(strategy, "type") == "RollingUpdate"
            && let Some(ru) = child_or_new(strategy, "rollingUpdate")
        {
            set_ptr(ru, "maxUnavailable", 1);
            set_ptr(ru, "maxSurge", 0);
        }
    }
    set_ptr(spec, "revisionHistoryLimit", 10);
    template_pod_spec(spec);
}

pub(super) fn stateful_set(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = child_or_new(spec, "updateStrategy") {
        // Only a defaulted type brings an empty rollingUpdate along.
        if str_unset(strategy, "type") {
            strategy.insert("type".into(), Value::from("RollingUpdate"));
            set_ptr(strategy, "rollingUpdate", json!({}));
        }
        if str_at(strategy, "type") == "RollingUpdate"
            && let Some(ru) = child(strategy, "rollingUpdate")
        {
            set_ptr(ru, "partition", 0);
        }
    }
    if let Some(policy) = child_or_new(spec, "persistentVolumeClaimRetentionPolicy") {
        set_str(policy, "whenDeleted", "Retain");
        set_str(policy, "whenScaled", "Retain");
    }
    set_ptr(spec, "replicas", 1);
    set_ptr(spec, "revisionHistoryLimit", 10);
    template_pod_spec(spec);
    for claim in items(spec, "volumeClaimTemplates") {
        // Conversion to v1 always writes the claim's type meta.
        claim.insert("apiVersion".into(), Value::from("v1"));
        claim.insert("kind".into(), Value::from("PersistentVolumeClaim"));
        pvc(claim);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    fn run(kind: &str, obj: Value) -> Value {
        super::super::run_twice("apps", "v1", kind, obj)
    }

    fn user_template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
    }

    fn defaulted_template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {},
            "schedulerName": "default-scheduler"
        }})
    }

    #[test]
    fn deployment() {
        let got = run(
            "Deployment",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": user_template()}}),
        );
        assert_eq!(
            got,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": defaulted_template(),
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            }})
        );
        // Recreate gets no rollingUpdate; given values stay.
        let got = run(
            "Deployment",
            json!({"spec": {"replicas": 0, "revisionHistoryLimit": 2, "progressDeadlineSeconds": 60,
                "strategy": {"type": "Recreate"}}}),
        );
        assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(got["spec"]["replicas"], json!(0));
        assert_eq!(got["spec"]["revisionHistoryLimit"], json!(2));
        assert_eq!(got["spec"]["progressDeadlineSeconds"], json!(60));
        let got = run(
            "Deployment",
            json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0}}}}),
        );
        assert_eq!(
            got["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}})
        );
    }

    #[test]
    fn replica_set() {
        let got = run(
            "ReplicaSet",
            json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": user_template()}}),
        );
        assert_eq!(
            got,
            json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": defaulted_template()}})
        );
    }

    #[test]
    fn daemon_set() {
        let got = run(
            "DaemonSet",
            json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": user_template()}}),
        );
        assert_eq!(
            got,
            json!({"spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": defaulted_template(),
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10
            }})
        );
        let got = run(
            "DaemonSet",
            json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
        );
        assert_eq!(got["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
    }

    #[test]
    fn stateful_set() {
        let got = run(
            "StatefulSet",
            json!({"spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                "template": user_template(),
                "volumeClaimTemplates": [{"metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
        );
        assert_eq!(
            got,
            json!({"spec": {
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": defaulted_template(),
                "replicas": 1,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "volumeClaimTemplates": [{
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                        "volumeMode": "Filesystem"},
                    "status": {"phase": "Pending"}
                }]
            }})
        );
        // A given RollingUpdate type without rollingUpdate stays without it.
        let got = run(
            "StatefulSet",
            json!({"spec": {"podManagementPolicy": "Parallel", "updateStrategy": {"type": "RollingUpdate"},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}}),
        );
        assert_eq!(
            got["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate"})
        );
        assert_eq!(got["spec"]["podManagementPolicy"], json!("Parallel"));
        assert_eq!(
            got["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Delete", "whenScaled": "Retain"})
        );
        let got = run(
            "StatefulSet",
            json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}}}),
        );
        assert_eq!(
            got["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 3}})
        );
    }
}
