use super::*;
use crate::validation::testutil::{assert_errs, assert_has};
use serde_json::json;

fn template(labels: Value) -> Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {
            "containers": [{"name": "nginx", "image": "nginx:1.14.2",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {}, "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"
        }
    })
}

/// The nginx Deployment from the docs, as the defaults leave it.
fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "nginx-deployment", "namespace": "default", "labels": {"app": "nginx"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": template(json!({"app": "nginx"})),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600
    }})
}

const EMPTY_SELECTOR: &str = "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}";

#[test]
fn valid_deployment() {
    let d = deployment();
    assert_errs(&validate_deployment(&d), &[]);
    assert_errs(&validate_deployment_update(&d, &d), &[]);
    let mut scaled = d.clone();
    scaled["spec"]["replicas"] = json!(5);
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    assert_errs(&validate_deployment_update(&scaled, &d), &[]);
}

#[test]
fn deployment_selectors() {
    let mut d = deployment();
    d["spec"].as_object_mut().map(|m| m.remove("selector"));
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.selector: Required value",
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"nginx\"}: `selector` does not match template `labels`",
        ],
    );
    let mut d = deployment();
    d["spec"]["selector"] = json!({"matchLabels": {"app": "x"}});
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"nginx\"}: `selector` does not match template `labels`",
        ],
    );
    let mut d = deployment();
    d["spec"]["selector"] = json!({});
    assert_errs(
        &validate_deployment(&d),
        &[&format!(
            "spec.selector: Invalid value: {EMPTY_SELECTOR}: empty selector is invalid for deployment"
        )],
    );
    let mut d = deployment();
    d["spec"]["selector"] =
        json!({"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]});
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.selector.matchExpressions[0].operator: Invalid value: \"Gt\": not a valid selector operator",
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"Gt\", Values:[]string{\"1\"}}}}: invalid label selector",
        ],
    );
    let mut d = deployment();
    d["spec"]["selector"] = json!({"matchLabels": {"app": "nginx", "tier": "-x"}});
    d["spec"]["template"]["metadata"]["labels"]["tier"] = json!("-x");
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.selector.matchLabels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"nginx\", \"tier\":\"-x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: invalid label selector",
        ],
    );
}

#[test]
fn deployment_spec_rules() {
    let mut d = deployment();
    d["spec"]["replicas"] = json!(-1);
    d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    d["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(10);
    d["spec"]["revisionHistoryLimit"] = json!(-1);
    d["spec"]["minReadySeconds"] = json!(600);
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
            "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
            "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
        ],
    );
    let mut d = deployment();
    d["spec"]["template"]["spec"]["containers"][0]["name"] = json!("");
    assert_errs(
        &validate_deployment(&d),
        &["spec.template.spec.containers[0].name: Required value"],
    );
}

#[test]
fn deployment_strategies() {
    let mut d = deployment();
    d["spec"]["strategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": 0});
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
        ],
    );
    let mut d = deployment();
    d["spec"]["strategy"]["rollingUpdate"] = json!({"maxUnavailable": "101%", "maxSurge": "x%"});
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x%\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"101%\"}: must not be greater than 100%",
        ],
    );
    let mut d = deployment();
    d["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}});
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
        ],
    );
    let mut d = deployment();
    d["spec"]["strategy"] = json!({"type": "BlueGreen"});
    assert_errs(
        &validate_deployment(&d),
        &[
            "spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\"",
        ],
    );
}

#[test]
fn deployment_selector_is_immutable() {
    let old = deployment();
    let mut new = deployment();
    new["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
    new["spec"]["template"]["metadata"]["labels"] = json!({"app": "web"});
    assert_errs(
        &validate_deployment_update(&new, &old),
        &[
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
        ],
    );
}

#[test]
fn replica_sets() {
    let rs = json!({"spec": {"replicas": 3, "selector": {"matchLabels": {"tier": "frontend"}},
        "template": template(json!({"tier": "frontend"}))}});
    assert_errs(&validate_replica_set(&rs), &[]);
    let mut bad = rs.clone();
    bad["spec"]["selector"] = json!({"matchLabels": {}});
    assert_errs(
        &validate_replica_set(&bad),
        &[
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
        ],
    );
    let mut moved = rs.clone();
    moved["spec"]["selector"]["matchLabels"]["extra"] = json!("1");
    moved["spec"]["template"]["metadata"]["labels"]["extra"] = json!("1");
    assert_has(
        &validate_replica_set_update(&moved, &rs),
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"extra\":\"1\", \"tier\":\"frontend\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
    );
}

/// The `web` StatefulSet from the docs, as the defaults leave it. Its
/// container mounts a claim template, not a pod volume.
fn stateful_set() -> Value {
    let mut t = template(json!({"app": "nginx"}));
    t["spec"]["terminationGracePeriodSeconds"] = json!(10);
    t["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "www", "mountPath": "/usr/share/nginx/html"}]);
    json!({"spec": {
        "selector": {"matchLabels": {"app": "nginx"}}, "serviceName": "nginx", "replicas": 3,
        "minReadySeconds": 10, "template": t,
        "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"],
            "storageClassName": "my-storage-class", "resources": {"requests": {"storage": "1Gi"}},
            "volumeMode": "Filesystem"}}],
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "revisionHistoryLimit": 10,
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}
    }})
}

#[test]
fn stateful_sets() {
    let s = stateful_set();
    assert_errs(&validate_stateful_set(&s), &[]);
    let mut bad = s.clone();
    bad["spec"]["podManagementPolicy"] = json!("Random");
    bad["spec"]["updateStrategy"] = json!({"type": "Canary"});
    bad["spec"]["selector"] = json!({});
    bad["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    bad["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] = json!("Keep");
    assert_errs(
        &validate_stateful_set(&bad),
        &[
            "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
            "spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Canary\", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or 'OnDelete'",
            "spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
            &format!(
                "spec.selector: Invalid value: {EMPTY_SELECTOR}: empty selector is invalid for statefulset"
            ),
            "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
        ],
    );
    let mut bad = s.clone();
    bad["spec"]["updateStrategy"] = json!({"type": "OnDelete", "rollingUpdate": {"partition": 2}});
    assert_errs(
        &validate_stateful_set(&bad),
        &[
            "spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:2, MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy 'RollingUpdate'",
        ],
    );
}

#[test]
fn stateful_set_updates() {
    let old = stateful_set();
    let mut ok = old.clone();
    ok["spec"]["replicas"] = json!(5);
    ok["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    ok["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = json!(2);
    assert_errs(&validate_stateful_set_update(&ok, &old), &[]);
    let mut bad = old.clone();
    bad["spec"]["serviceName"] = json!("other");
    bad["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
        json!("2Gi");
    assert_errs(
        &validate_stateful_set_update(&bad, &old),
        &[
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ],
    );
}

/// The fluentd DaemonSet from the docs, as the defaults leave it.
fn daemon_set() -> Value {
    json!({"spec": {
        "selector": {"matchLabels": {"name": "fluentd-elasticsearch"}},
        "template": template(json!({"name": "fluentd-elasticsearch"})),
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "revisionHistoryLimit": 10
    }})
}

#[test]
fn daemon_sets() {
    let ds = daemon_set();
    assert_errs(&validate_daemon_set(&ds), &[]);
    assert_errs(&validate_daemon_set_update(&ds, &ds), &[]);
    let mut bad = ds.clone();
    bad["spec"]["updateStrategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": 0});
    assert_errs(
        &validate_daemon_set(&bad),
        &[
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
        ],
    );
    bad["spec"]["updateStrategy"]["rollingUpdate"] =
        json!({"maxUnavailable": 1, "maxSurge": "10%"});
    assert_errs(
        &validate_daemon_set(&bad),
        &[
            "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"10%\"}: may not be set when maxUnavailable is non-zero",
        ],
    );
    bad["spec"]["updateStrategy"] = json!({"type": "Sometimes"});
    assert_errs(
        &validate_daemon_set(&bad),
        &[
            "spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Sometimes\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\"",
        ],
    );
    let mut nosel = ds.clone();
    nosel["spec"].as_object_mut().map(|m| m.remove("selector"));
    assert_errs(
        &validate_daemon_set(&nosel),
        &[
            "spec.template.metadata.labels: Invalid value: map[string]string{\"name\":\"fluentd-elasticsearch\"}: `selector` does not match template `labels`",
        ],
    );
    let mut moved = ds.clone();
    moved["spec"]["selector"]["matchLabels"] = json!({"name": "fluentd"});
    moved["spec"]["template"]["metadata"]["labels"] = json!({"name": "fluentd"});
    assert_errs(
        &validate_daemon_set_update(&moved, &ds),
        &[
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"name\":\"fluentd\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
        ],
    );
}

#[test]
fn controller_revisions() {
    assert_errs(
        &validate_controller_revision(&json!({"revision": -1})),
        &[
            "data: Required value: data is mandatory",
            "revision: Invalid value: -1: must be greater than or equal to 0",
        ],
    );
    let cr = json!({"data": {"a": 1}, "revision": 1});
    let changed = json!({"data": {"a": 2}, "revision": 1});
    assert_errs(
        &validate_controller_revision_update(&changed, &cr),
        &["data: Invalid value: {\"a\":2}: field is immutable"],
    );
}
