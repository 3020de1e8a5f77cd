use super::*;
use crate::validation::testutil::{assert_errs, assert_has};
use serde_json::json;

fn with_status(status: Value) -> Value {
    json!({"metadata": {"name": "x", "resourceVersion": "5"}, "spec": {}, "status": status})
}

#[test]
fn every_listed_kind_has_a_validator() {
    for (g, k) in [
        ("", "Pod"),
        ("", "Node"),
        ("", "Service"),
        ("", "ReplicationController"),
        ("", "PersistentVolumeClaim"),
        ("", "PersistentVolume"),
        ("", "ResourceQuota"),
        ("", "Namespace"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("networking.k8s.io", "Ingress"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
    ] {
        let f = status_validator(g, k).expect("validator");
        // Odd shapes do not panic.
        for v in [
            json!(null),
            json!({"status": 5}),
            json!({"status": {"conditions": [1]}}),
        ] {
            let _ = f(&v, &v);
        }
    }
    assert!(status_validator("batch", "CronJob").is_none());
}

#[test]
fn replica_counters() {
    let old = with_status(json!({"replicas": 3, "collisionCount": 2}));
    let new = with_status(
        json!({"replicas": 2, "readyReplicas": 3, "availableReplicas": 4,
        "updatedReplicas": -1, "collisionCount": 1}),
    );
    assert_errs(
        &deployment(&new, &old),
        &[
            "status.updatedReplicas: Invalid value: -1: must be greater than or equal to 0",
            "status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 4: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 4: cannot be greater than readyReplicas",
            "status.collisionCount: Invalid value: 1: cannot be decremented",
        ],
    );
    assert_errs(
        &replica_counts(
            &with_status(json!({"replicas": 1, "fullyLabeledReplicas": 2})),
            &old,
        ),
        &["status.fullyLabeledReplicas: Invalid value: 2: cannot be greater than status.replicas"],
    );
    assert_errs(
        &stateful_set(
            &with_status(json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 2})),
            &old,
        ),
        &[
            "status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 2: cannot be greater than status.readyReplicas",
            "status.collisionCount: Invalid value: 0: cannot be decremented",
        ],
    );
    assert_errs(
        &daemon_set(
            &with_status(json!({"numberReady": -1})),
            &with_status(json!({})),
        ),
        &["status.numberReady: Invalid value: -1: must be greater than or equal to 0"],
    );
    assert_errs(
        &hpa(&with_status(json!({"desiredReplicas": -2})), &old),
        &["status.desiredReplicas: Invalid value: -2: must be greater than or equal to 0"],
    );
    assert_has(
        &pdb(
            &with_status(
                json!({"expectedPods": -1, "conditions": [{"type": "x", "status": "True",
            "reason": "R", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}),
            ),
            &old,
        ),
        "status.expectedPods: Invalid value: -1: must be greater than or equal to 0",
    );
}

#[test]
fn load_balancer_status() {
    let mut svc =
        with_status(json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}]}}));
    svc["spec"] = json!({"type": "ClusterIP"});
    assert_errs(
        &service(&svc, &svc),
        &[
            "status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'",
        ],
    );
    svc["spec"] = json!({"type": "LoadBalancer"});
    assert!(service(&svc, &svc).is_empty());
    svc["status"]["loadBalancer"]["ingress"] = json!([{"ip": "nope"}, {"hostname": "1.2.3.4", "ipMode": "Proxy"},
        {"ip": "1.2.3.5", "ipMode": "Teleport"}]);
    assert_errs(
        &service(&svc, &svc),
        &[
            "status.loadBalancer.ingress[0].ip: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "status.loadBalancer.ingress[0].ipMode: Required value: must be specified when `ip` is set",
            "status.loadBalancer.ingress[1].ipMode: Forbidden: may not be specified when `ip` is not set",
            "status.loadBalancer.ingress[1].hostname: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address",
            "status.loadBalancer.ingress[2].ipMode: Unsupported value: \"Teleport\": supported values: \"Proxy\", \"VIP\"",
        ],
    );
    let ing = with_status(json!({"loadBalancer": {"ingress": [{"hostname": "Bad_Host"}]}}));
    assert_has(
        &ingress(&ing, &ing),
        "status.loadBalancer.ingress[0].hostname: Invalid value: \"Bad_Host\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
}

#[test]
fn claims_volumes_quotas_and_namespaces() {
    let mut pvc = with_status(json!({"capacity": {"storage": "-1Gi"},
        "allocatedResources": {"cpu": "1", "storage": "1Gi"},
        "allocatedResourceStatuses": {"storage": "Sleeping"}}));
    pvc["metadata"]["resourceVersion"] = json!("");
    assert_errs(
        &persistent_volume_claim(&pvc, &pvc),
        &[
            "resourceVersion: Required value",
            "Spec.accessModes: Required value",
            "status.capacity[storage]: Invalid value: -1073741824: must be a valid resource quantity",
            "status.allocatedResourceStatus: Unsupported value: \"storage\": supported values: \"ControllerResizeInProgress\", \"ControllerResizeInfeasible\", \"NodeResizeInProgress\", \"NodeResizeInfeasible\", \"NodeResizePending\"",
            "status.allocatedResources: Unsupported value: \"cpu\": supported values: \"storage\"",
        ],
    );
    assert_errs(
        &resource_version_required(&pvc, &pvc),
        &["resourceVersion: Required value"],
    );
    let quota = with_status(json!({"hard": {"pods": "-1"}, "used": {"foo": "1"}}));
    assert_errs(
        &super::super::core::validate_quota_status_update(&quota, &quota),
        &[
            "status.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0",
            "status.used[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
            "status.used[foo]: Invalid value: \"foo\": must be a standard resource for quota",
        ],
    );
    let ns = with_status(json!({"phase": "Terminating"}));
    assert_errs(
        &namespace(&ns, &ns),
        &[
            "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty",
        ],
    );
    let mut deleting = with_status(json!({"phase": "Active"}));
    deleting["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    assert_errs(
        &namespace(&deleting, &deleting),
        &[
            "status.Phase: Invalid value: \"Active\": may only be 'Terminating' if `deletionTimestamp` is not empty",
        ],
    );
}

#[test]
fn job_transitions() {
    let running = with_status(
        json!({"active": 1, "succeeded": 2, "failed": 1, "startTime": "2024-01-01T00:00:10Z"}),
    );
    let mut done = with_status(json!({"active": 1, "succeeded": 1, "failed": 0, "ready": 2,
        "completionTime": "2024-01-01T00:00:00Z", "startTime": "2024-01-01T00:00:10Z",
        "uncountedTerminatedPods": {"succeeded": ["a", ""], "failed": ["a"]},
        "conditions": [{"type": "Complete", "status": "True"}, {"type": "Failed", "status": "True"}]}));
    done["spec"] = json!({"completionMode": "NonIndexed"});
    assert_errs(
        &job(&done, &running),
        &[
            "status.uncountedTerminatedPods.succeeded[1]: Invalid value: \"\": must not be empty",
            "status.uncountedTerminatedPods.failed[0]: Duplicate value: \"a\"",
            "status.conditions: Invalid value: cannot set Complete=True and Failed=true conditions",
            "status.completionTime: Invalid value: 2024-01-01 00:00:00 +0000 UTC: completionTime cannot be set before startTime",
            "status.active: Invalid value: 1: active>0 is invalid for finished job",
            "status.uncountedTerminatedPods: Invalid value: {\"succeeded\":[\"a\",\"\"],\"failed\":[\"a\"]}: uncountedTerminatedPods needs to be empty for finished job",
            "status.ready: Invalid value: 2: cannot set more ready pods than active",
            "status.failed: Invalid value: 0: cannot decrease the failed counter",
            "status.succeeded: Invalid value: 1: cannot decrease the succeeded counter",
        ],
    );
    let mut reopened = running.clone();
    reopened["status"]["conditions"] = json!([{"type": "Complete", "status": "False"}]);
    let mut complete = running.clone();
    complete["status"]["conditions"] = json!([{"type": "Complete", "status": "True"}]);
    complete["status"]["completionTime"] = json!("2024-01-01T00:01:00Z");
    complete["status"]["active"] = json!(0);
    assert!(
        job(&complete, &running).is_empty(),
        "{:?}",
        job(&complete, &running)
    );
    assert_errs(
        &job(&reopened, &complete),
        &["status.conditions: Invalid value: cannot disable the terminal Complete=True condition"],
    );
}
