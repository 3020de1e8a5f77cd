use super::*;
use crate::validation::testutil::{assert_errs, assert_has, lines};
use serde_json::json;

fn pod_template(labels: Value, restart: &str) -> Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {
            "containers": [{"name": "nginx", "image": "nginx", "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File", "imagePullPolicy": "Always",
                "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
            "restartPolicy": restart, "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"
        }
    })
}

#[test]
fn replication_controllers() {
    let rc = json!({"spec": {"replicas": 3, "selector": {"app": "nginx"},
        "template": pod_template(json!({"app": "nginx"}), "Always")}});
    assert_errs(&validate_rc(&rc), &[]);
    assert_errs(&validate_rc_update(&rc, &rc), &[]);
    let bad = json!({"spec": {"replicas": -1, "selector": {"app": "x"},
        "template": pod_template(json!({"app": "nginx"}), "Never")}});
    assert_errs(
        &validate_rc(&bad),
        &[
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"nginx\"}: `selector` does not match template `labels`",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
        ],
    );
    assert_errs(
        &validate_rc(&json!({"spec": {"replicas": 1}})),
        &[
            "spec.selector: Required value",
            "spec.template: Required value",
        ],
    );
}

fn service() -> Value {
    json!({"metadata": {"name": "my-service", "namespace": "default"}, "spec": {
        "selector": {"app.kubernetes.io/name": "MyApp"},
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376}],
        "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
        "clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"],
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"
    }})
}

#[test]
fn valid_services() {
    assert_errs(&validate_service(&service()), &[]);
    let headless = json!({"spec": {"clusterIP": "None", "type": "ClusterIP",
        "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "selector": {"app": "db"}}});
    assert_errs(&validate_service(&headless), &[]);
    let lb = json!({"spec": {"type": "LoadBalancer", "ports": [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080},
            {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443}],
        "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
        "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000,
        "allocateLoadBalancerNodePorts": true, "internalTrafficPolicy": "Cluster",
        "loadBalancerSourceRanges": ["10.0.0.0/8"]}});
    assert_errs(&validate_service(&lb), &[]);
    let ext = json!({"spec": {"type": "ExternalName", "externalName": "my.database.example.com.",
        "sessionAffinity": "None"}});
    assert_errs(&validate_service(&ext), &[]);
}

#[test]
fn service_ports() {
    let mut s = service();
    s["spec"]["ports"] = json!([
        {"protocol": "TCP", "port": 70000, "targetPort": 9376},
        {"protocol": "HTTP", "port": 80, "targetPort": "Http_1"},
        {"name": "web", "protocol": "TCP", "port": 80, "targetPort": 80}
    ]);
    assert_errs(
        &validate_service(&s),
        &[
            "spec.ports[0].name: Required value",
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.ports[1].name: Required value",
            "spec.ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.ports[1].targetPort: Invalid value: \"Http_1\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        ],
    );
    let mut s = service();
    s["spec"]["ports"] = json!([
        {"name": "a", "protocol": "TCP", "port": 80, "targetPort": 80},
        {"name": "a", "protocol": "TCP", "port": 80, "targetPort": 81}
    ]);
    assert_errs(
        &validate_service(&s),
        &[
            "spec.ports[1].name: Duplicate value: \"a\"",
            "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
        ],
    );
    let mut s = service();
    s["spec"]["ports"] = json!([]);
    assert_errs(&validate_service(&s), &["spec.ports: Required value"]);
}

#[test]
fn service_types_and_fields() {
    let mut s = service();
    s["spec"]["type"] = json!("Foo");
    s["spec"]["sessionAffinity"] = json!("Sticky");
    assert_errs(
        &validate_service(&s),
        &[
            "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
            "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
        ],
    );
    let ext = json!({"spec": {"type": "ExternalName", "sessionAffinity": "None", "clusterIP": "10.0.0.1"}});
    assert_errs(
        &validate_service(&ext),
        &[
            "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
            "spec.externalName: Required value",
        ],
    );
    let mut s = service();
    s["spec"]["clusterIP"] = json!("300.1.1.1");
    s["spec"]["clusterIPs"] = json!(["300.1.1.1"]);
    s["spec"]["ports"][0]["nodePort"] = json!(30000);
    assert_errs(
        &validate_service(&s),
        &[
            "spec.clusterIPs[0]: Invalid value: \"300.1.1.1\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        ],
    );
    let lb = json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "None",
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}], "internalTrafficPolicy": "Cluster",
        "externalTrafficPolicy": "Cluster"}});
    assert_errs(
        &validate_service(&lb),
        &["allocateLoadBalancerNodePorts: Required value"],
    );
}

#[test]
fn service_updates() {
    let old = service();
    let mut new = service();
    new["spec"]["clusterIP"] = json!("10.96.0.13");
    new["spec"]["clusterIPs"] = json!(["10.96.0.13"]);
    assert_errs(
        &validate_service_update(&new, &old),
        &["spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.13\"}: may not change once set"],
    );
    // An old client sending only the singular field keeps working.
    let mut new = service();
    new["spec"].as_object_mut().map(|m| m.remove("clusterIPs"));
    assert_errs(&validate_service_update(&new, &old), &[]);
    let mut new = service();
    new["spec"]["clusterIP"] = json!("10.96.0.13");
    new["spec"].as_object_mut().map(|m| m.remove("clusterIPs"));
    assert_errs(
        &validate_service_update(&new, &old),
        &[
            "spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset",
            "spec.clusterIPs: Required value",
        ],
    );
}

fn pvc() -> Value {
    json!({"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": "8Gi"}}, "storageClassName": "standard"}})
}

#[test]
fn persistent_volume_claims() {
    assert_errs(&validate_pvc(&pvc()), &[]);
    assert_errs(
        &validate_pvc(&json!({"spec": {}})),
        &[
            "spec.accessModes: Required value: at least 1 access mode is required",
            "spec.resources[storage]: Required value",
        ],
    );
    let bad = json!({"spec": {"accessModes": ["ReadWriteOncePod", "ReadWriteSome", "ReadOnlyMany"],
        "resources": {"requests": {"storage": "0"}}, "volumeMode": "Raw"}});
    assert_errs(
        &validate_pvc(&bad),
        &[
            "spec.accessModes: Unsupported value: \"ReadWriteSome\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
            "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
            "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
            "spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"",
        ],
    );
}

#[test]
fn persistent_volume_claim_updates() {
    let old = pvc();
    let mut bound_old = pvc();
    bound_old["status"] = json!({"phase": "Bound", "capacity": {"storage": "8Gi"}});
    let mut grown = bound_old.clone();
    grown["spec"]["resources"]["requests"]["storage"] = json!("16Gi");
    assert_errs(&validate_pvc_update(&grown, &bound_old), &[]);
    let mut shrunk = bound_old.clone();
    shrunk["spec"]["resources"]["requests"]["storage"] = json!("4Gi");
    assert_errs(
        &validate_pvc_update(&shrunk, &bound_old),
        &["spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"],
    );
    let mut changed = old.clone();
    changed["spec"]["accessModes"] = json!(["ReadWriteMany"]);
    let errs = validate_pvc_update(&changed, &old);
    assert_eq!(errs.0.len(), 1);
    assert!(lines(&errs)[0].starts_with(
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
    ));
    let mut named = old.clone();
    named["spec"]["volumeName"] = json!("pv-1");
    assert_errs(&validate_pvc_update(&named, &old), &[]);
}

#[test]
fn persistent_volumes() {
    let pv = json!({"metadata": {"name": "pv0003"}, "spec": {"capacity": {"storage": "5Gi"},
        "volumeMode": "Filesystem", "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Recycle", "storageClassName": "slow",
        "nfs": {"path": "/tmp", "server": "172.17.0.2"}}});
    assert_errs(&validate_pv(&pv), &[]);
    let bad = json!({"metadata": {"name": "pv"}, "spec": {"capacity": {"cpu": "1"},
        "hostPath": {"path": "/data"}, "nfs": {"path": "/x", "server": "s"}}});
    assert_errs(
        &validate_pv(&bad),
        &[
            "spec.accessModes: Required value",
            "spec.capacity: Unsupported value: core.ResourceList{\"cpu\":resource.Quantity{i:resource.int64Amount{value:1, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"1\", Format:\"DecimalSI\"}}: supported values: \"storage\"",
            "spec.nfs: Forbidden: may not specify more than 1 volume type",
        ],
    );
    let mut changed = pv.clone();
    changed["spec"]["nfs"]["path"] = json!("/other");
    assert!(lines(&validate_pv_update(&changed, &pv))[0]
        .starts_with("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\n"));
}

#[test]
fn endpoints() {
    let ok = json!({"subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 9376, "protocol": "TCP"}]}]});
    assert_errs(&validate_endpoints(&ok), &[]);
    let bad = json!({"subsets": [{"addresses": [{"ip": "127.0.0.1"}, {"ip": "x"}],
        "ports": [{"port": 80, "protocol": "TCP"}, {"name": "b", "port": 0, "protocol": "TCP"}]}, {}]});
    assert_errs(
        &validate_endpoints(&bad),
        &[
            "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "subsets[0].addresses[1].ip: Invalid value: \"x\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "subsets[0].addresses[1].ip: Invalid value: \"x\": must be a valid IP address",
            "subsets[0].ports[0].name: Required value",
            "subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`",
        ],
    );
}

#[test]
fn resource_quotas() {
    let ok = json!({"spec": {"hard": {"pods": "10", "requests.cpu": "1", "requests.memory": "1Gi",
        "count/deployments.apps": "5"}}});
    assert_errs(&validate_quota(&ok), &[]);
    let bad = json!({"spec": {"hard": {"pods": "1.5", "foo": "1"}, "scopes": ["BestEffort", "NotBestEffort"]}});
    assert_errs(
        &validate_quota(&bad),
        &[
            "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
            "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource for quota",
            "spec.hard[pods]: Invalid value: resource.Quantity{i:resource.int64Amount{value:15, scale:-1}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"\", Format:\"DecimalSI\"}: must be an integer",
            "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"BestEffort\", \"NotBestEffort\"}: conflicting scopes",
        ],
    );
    let mut changed = ok.clone();
    changed["spec"]["scopes"] = json!(["Terminating"]);
    assert_has(
        &validate_quota_update(&changed, &ok),
        "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"Terminating\"}: field is immutable",
    );
}

#[test]
fn limit_ranges() {
    let ok = json!({"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"},
        "defaultRequest": {"cpu": "250m"}, "max": {"cpu": "1"}, "min": {"cpu": "100m"}}]}});
    assert_errs(&validate_limit_range(&ok), &[]);
    let bad = json!({"spec": {"limits": [
        {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
        {"type": "Pod", "default": {"cpu": "1"}},
        {"type": "PersistentVolumeClaim"}
    ]}});
    assert_errs(
        &validate_limit_range(&bad),
        &[
            "spec.limits[0].min[cpu]: Invalid value: resource.Quantity{i:resource.int64Amount{value:2, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"2\", Format:\"DecimalSI\"}: min value 2 is greater than max value 1",
            "spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'",
            "spec.limits[2].limits: Required value: either minimum or maximum storage value is required, but neither was provided",
        ],
    );
}

#[test]
fn nodes() {
    let node = json!({"spec": {"podCIDRs": ["10.244.0.0/24"], "providerID": "aws://i-1",
        "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}}});
    assert_errs(&validate_node(&node), &[]);
    assert_errs(&validate_node_update(&node, &node), &[]);
    let mut bad = node.clone();
    bad["spec"]["taints"] = json!([{"key": "a", "effect": "Sometimes"}, {"key": "b"}]);
    bad["spec"]["podCIDRs"] = json!(["10.245.0.0/24"]);
    assert_errs(
        &validate_node_update(&bad, &node),
        &[
            "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
            "metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            "metadata.taints[1].effect: Required value",
        ],
    );
}

#[test]
fn persistent_volume_sources() {
    let base = |src: &str, v: Value| {
        let mut pv = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain"}});
        pv["spec"][src] = v;
        pv
    };
    assert_errs(
        &validate_pv(&base("gcePersistentDisk", json!({"partition": 300}))),
        &[
            "spec.persistentDisk.pdName: Required value",
            "spec.persistentDisk.partition: Invalid value: 300: must be between 1 and 255, inclusive",
        ],
    );
    assert_errs(
        &validate_pv(&base(
            "cinder",
            json!({"volumeID": "v", "secretRef": {"name": "s"}}),
        )),
        &["spec.cinder.secretRef.namespace: Required value"],
    );
    assert_errs(
        &validate_pv(&base(
            "glusterfs",
            json!({"endpoints": "ep", "path": "vol", "endpointsNamespace": ""}),
        )),
        &[
            "spec.glusterfs.endpointsNamespace: Invalid value: \"\": if the endpointnamespace is set, it must be a valid namespace name",
        ],
    );
    assert_errs(
        &validate_pv(&base(
            "flexVolume",
            json!({"driver": "d", "options": {"kubernetes.io/x": "y"}}),
        )),
        &[
            "spec.flexVolume.options[kubernetes.io/x]: Invalid value: \"kubernetes.io/x\": kubernetes.io and k8s.io namespaces are reserved",
        ],
    );
    assert_errs(
        &validate_pv(&base("rbd", json!({"monitors": []}))),
        &[
            "spec.rbd.monitors: Required value",
            "spec.rbd.image: Required value",
        ],
    );
    assert_errs(
        &validate_pv(&base(
            "iscsi",
            json!({"targetPortal": "10.0.0.1:3260", "iqn": "iqn.2001-04.com.example:storage", "lun": 256, "chapAuthSession": true}),
        )),
        &[
            "spec.iscsi.lun: Invalid value: 256: must be between 0 and 255, inclusive",
            "spec.iscsi.secretRef: Required value",
        ],
    );
    assert_errs(
        &validate_pv(&base(
            "csi",
            json!({"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}),
        )),
        &[],
    );
}
