use super::*;
use crate::validation::testutil::{assert_errs, assert_has, lines};
use serde_json::json;

/// A container as the defaults leave it.
fn container(name: &str) -> Value {
    json!({
        "name": name,
        "image": "nginx:1.14.2",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent"
    })
}

/// A defaulted pod spec around the given containers.
fn spec(containers: Vec<Value>) -> Value {
    json!({
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": true,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0
    })
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

fn with(mut v: Value, path: &[&str], new: Value) -> Value {
    let mut cur = &mut v;
    for (i, p) in path.iter().enumerate() {
        let next = if let Ok(n) = p.parse::<usize>() {
            cur.get_mut(n)
        } else {
            if i + 1 == path.len() {
                if let Some(o) = cur.as_object_mut() {
                    o.insert((*p).to_string(), new);
                }
                return v;
            }
            cur.get_mut(*p)
        };
        match next {
            Some(n) => cur = n,
            None => return v,
        }
    }
    *cur = new;
    v
}

/// The nginx example from the docs, with probes, volumes and resources,
/// as the defaults leave it.
fn realistic_pod() -> Value {
    let mut c = container("nginx");
    c["ports"] = json!([{"name": "http", "containerPort": 80, "protocol": "TCP"}]);
    c["env"] = json!([
        {"name": "MODE", "value": "prod"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
        {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}
    ]);
    c["envFrom"] = json!([{"configMapRef": {"name": "settings"}}]);
    c["resources"] = json!({"requests": {"cpu": "250m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "128Mi"}});
    c["volumeMounts"] = json!([
        {"name": "html", "mountPath": "/usr/share/nginx/html", "readOnly": true},
        {"name": "cache", "mountPath": "/var/cache/nginx"},
        {"name": "token", "mountPath": "/var/run/secrets/tokens"}
    ]);
    c["livenessProbe"] = json!({"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
        "initialDelaySeconds": 3, "timeoutSeconds": 1, "periodSeconds": 10,
        "successThreshold": 1, "failureThreshold": 3});
    c["readinessProbe"] = json!({"tcpSocket": {"port": "http"}, "timeoutSeconds": 1,
        "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3});
    c["lifecycle"] = json!({"preStop": {"sleep": {"seconds": 5}}});
    c["securityContext"] = json!({"runAsUser": 101, "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}});
    let mut init = container("setup");
    init["command"] = json!(["sh", "-c", "echo hi"]);
    let mut s = spec(vec![c]);
    s["initContainers"] = json!([init]);
    s["serviceAccountName"] = json!("web");
    s["volumes"] = json!([
        {"name": "html", "configMap": {"name": "site", "defaultMode": 420}},
        {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "token", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607, "audience": "api"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]}}
    ]);
    s["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
    s["tolerations"] = json!([
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}
    ]);
    s["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}}}
    ]}});
    s["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}]);
    s["dnsConfig"] = json!({"nameservers": ["10.0.0.10"], "searches": ["svc.cluster.local", "_ldap._tcp.example.com."],
        "options": [{"name": "ndots", "value": "2"}]});
    s["hostAliases"] = json!([{"ip": "127.0.0.1", "hostnames": ["foo.local"]}]);
    pod(s)
}

#[test]
fn realistic_pod_is_valid() {
    let p = realistic_pod();
    assert_errs(&validate_pod(&p), &[]);
    assert_errs(&validate_pod_update(&p, &p), &[]);
    let minimal = pod(spec(vec![container("app")]));
    assert_errs(&validate_pod(&minimal), &[]);
}

#[test]
fn containers_are_required() {
    assert_errs(
        &validate_pod(&pod(spec(vec![]))),
        &["spec.containers: Required value"],
    );
    let mut s = spec(vec![container("app")]);
    s.as_object_mut().map(|m| m.remove("containers"));
    assert_errs(&validate_pod(&pod(s)), &["spec.containers: Required value"]);
}

#[test]
fn container_names() {
    let s = spec(vec![container("app"), container("app")]);
    assert_errs(
        &validate_pod(&pod(s)),
        &["spec.containers[1].name: Duplicate value: \"app\""],
    );
    let mut s = spec(vec![container("app")]);
    s["initContainers"] = json!([container("app")]);
    assert_errs(
        &validate_pod(&pod(s)),
        &["spec.initContainers[0].name: Duplicate value: \"app\""],
    );
    let s = spec(vec![container("App_1")]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].name: Invalid value: \"App_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ],
    );
    let s = spec(vec![with(container("x"), &["name"], json!(""))]);
    assert_errs(
        &validate_pod(&pod(s)),
        &["spec.containers[0].name: Required value"],
    );
}

#[test]
fn image_and_enums() {
    let s = spec(vec![with(container("app"), &["image"], json!(""))]);
    assert_errs(
        &validate_pod(&pod(s)),
        &["spec.containers[0].image: Required value"],
    );
    let s = spec(vec![with(container("app"), &["image"], json!(" nginx"))]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace",
        ],
    );
    let s = spec(vec![with(
        container("app"),
        &["imagePullPolicy"],
        json!("Sometimes"),
    )]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
        ],
    );
    let s = with(
        spec(vec![container("app")]),
        &["restartPolicy"],
        json!("Sometimes"),
    );
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
        ],
    );
    let s = with(
        spec(vec![container("app")]),
        &["dnsPolicy"],
        json!("Google"),
    );
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
        ],
    );
    let mut s = spec(vec![container("app")]);
    s.as_object_mut()
        .map(|m| m.remove("terminationGracePeriodSeconds"));
    assert_errs(
        &validate_pod(&pod(s)),
        &["spec.terminationGracePeriodSeconds: Required value"],
    );
}

#[test]
fn container_ports() {
    let ports = json!([
        {"containerPort": 70000, "protocol": "TCP"},
        {"containerPort": 0, "protocol": "TCP"},
        {"containerPort": 80, "hostPort": -1, "protocol": "HTTP"},
        {"name": "HTTP_port", "containerPort": 81, "protocol": "TCP"},
        {"name": "web", "containerPort": 82, "protocol": "TCP"},
        {"name": "web", "containerPort": 83, "protocol": "UDP"},
        {"name": "a-very-long-port-name", "containerPort": 84, "protocol": "TCP"}
    ]);
    let s = spec(vec![with(container("app"), &["ports"], ports)]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].containerPort: Required value",
            "spec.containers[0].ports[2].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[2].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].ports[3].name: Invalid value: \"HTTP_port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.containers[0].ports[5].name: Duplicate value: \"web\"",
            "spec.containers[0].ports[6].name: Invalid value: \"a-very-long-port-name\": must be no more than 15 characters",
        ],
    );
}

#[test]
fn host_port_conflicts() {
    let mut a = container("a");
    a["ports"] = json!([{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]);
    let mut b = container("b");
    b["ports"] = json!([{"containerPort": 81, "hostPort": 8080, "protocol": "TCP"}]);
    assert_errs(
        &validate_pod(&pod(spec(vec![a, b]))),
        &["spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\""],
    );
    let mut c = container("c");
    c["ports"] = json!([{"containerPort": 80, "hostPort": 81, "protocol": "TCP"}]);
    let s = with(spec(vec![c]), &["hostNetwork"], json!(true));
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true",
        ],
    );
}

#[test]
fn env_vars() {
    let env = json!([
        {"name": "", "value": "x"},
        {"name": "A=B", "value": "x"},
        {"name": "ok.name-1", "value": "x"},
        {"name": "FROM", "value": "v", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "NONE", "valueFrom": {}},
        {"name": "BAD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}}},
        {"name": "LABEL", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels['app']"}}},
        {"name": "HUH", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.foo"}}},
        {"name": "RES", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}},
        {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": ""}}}
    ]);
    let s = spec(vec![with(container("app"), &["env"], env)]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].env[0].name: Required value",
            "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            "spec.containers[0].env[3].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
            "spec.containers[0].env[4].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            "spec.containers[0].env[5].valueFrom.fieldRef.fieldPath: Unsupported value: \"metadata.labels\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
            "spec.containers[0].env[7].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.foo\": error converting fieldPath: field label not supported: spec.foo",
            "spec.containers[0].env[8].valueFrom.resourceFieldRef.resource: Unsupported value: \"limits.gpu\": supported values: \"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", \"requests.ephemeral-storage\", \"requests.memory\"",
            "spec.containers[0].env[9].valueFrom.configMapKeyRef.key: Required value",
        ],
    );
    let s = spec(vec![with(
        container("app"),
        &["envFrom"],
        json!([{"prefix": "P_"}]),
    )]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
        ],
    );
}

#[test]
fn volumes() {
    let mut s = spec(vec![with(
        container("app"),
        &["volumeMounts"],
        json!([
            {"name": "data", "mountPath": "/data"},
            {"name": "missing", "mountPath": "/data"},
            {"name": "bad", "mountPath": "/bad"}
        ]),
    )]);
    s["volumes"] = json!([
        {"name": "data", "emptyDir": {}},
        {"name": "data", "emptyDir": {}},
        {"name": "two", "emptyDir": {}, "configMap": {"name": "x"}},
        {"name": "none"},
        {"name": "Bad_Name", "emptyDir": {}},
        {"name": "bad", "hostPath": {"path": "/a/../b", "type": "Weird"}},
        {"name": "sec", "secret": {"secretName": "", "defaultMode": 1000}},
        {"name": "nfs", "nfs": {"server": "fs", "path": "relative"}}
    ]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.volumes[1].name: Duplicate value: \"data\"",
            "spec.volumes[2].configMap: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[3]: Required value: must specify a volume type",
            "spec.volumes[4].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.volumes[5].hostPath.path: Invalid value: \"/a/../b\": must not contain '..'",
            "spec.volumes[5].hostPath.type: Unsupported value: \"Weird\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"",
            "spec.volumes[6].secret.secretName: Required value",
            "spec.volumes[6].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
            "spec.volumes[7].nfs.path: Invalid value: \"relative\": must be an absolute path",
            "spec.containers[0].volumeMounts[1].name: Not found: \"missing\"",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique",
            "spec.containers[0].volumeMounts[2].name: Not found: \"bad\"",
        ],
    );
}

#[test]
fn projected_and_mount_paths() {
    let mut s = spec(vec![with(
        container("app"),
        &["volumeMounts"],
        json!([{"name": "p", "mountPath": "/p", "subPath": "../x", "mountPropagation": "Bidirectional"}]),
    )]);
    s["volumes"] = json!([{"name": "p", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 60}},
        {"secret": {"name": "a", "items": [{"key": "k", "path": "p1"}]},
         "configMap": {"name": "b", "items": [{"key": "k", "path": "p1"}]}}
    ]}}]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
            "spec.volumes[0].projected: Invalid value: \"b\": conflicting duplicate paths",
            "spec.volumes[0].projected.sources[1]: Forbidden: may not specify more than 1 volume type per source",
            // An invalid volume is not registered, so mounts of it are "not found" too.
            "spec.containers[0].volumeMounts[0].name: Not found: \"p\"",
            "spec.containers[0].volumeMounts.subPath: Invalid value: \"../x\": must not contain '..'",
            "spec.containers[0].volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers",
            "spec.volumes[0].projected.sources[0].serviceAccountToken: Forbidden: must not be specified when serviceAccountName is not set",
        ],
    );
}

#[test]
fn resources() {
    let r = json!({
        "requests": {"cpu": "600m", "memory": "-1Gi", "example.com/dongle": "500m"},
        "limits": {"cpu": "500m", "gpu": "1", "hugepages-2Mi": "3Mi"}
    });
    let s = spec(vec![with(container("app"), &["resources"], r)]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
            "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            "spec.containers[0].resources.limits[hugepages-2Mi]: Invalid value: \"3Mi\": 3Mi is not positive integer multiple of hugepages-2Mi",
            "spec.containers[0].resources.requests: Invalid value: \"600m\": must be less than or equal to cpu limit of 500m",
            "spec.containers[0].resources.requests[example.com/dongle]: Invalid value: resource.Quantity{i:resource.int64Amount{value:500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"500m\", Format:\"DecimalSI\"}: must be an integer",
            "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources",
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-1Gi\": must be greater than or equal to 0",
        ],
    );
    let s = spec(vec![with(
        container("app"),
        &["resources"],
        json!({"limits": {"cpu": "abc", "memory": "1Gix"}}),
    )]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].resources.limits[cpu]: Invalid value: \"abc\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.containers[0].resources.limits[memory]: Invalid value: \"1Gix\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ],
    );
    let s = spec(vec![with(
        container("app"),
        &["resources"],
        json!({"requests": {"cpu": "1", "memory": "1e3"}, "limits": {"cpu": "1000m", "memory": "0.5Gi"}}),
    )]);
    assert_errs(&validate_pod(&pod(s)), &[]);
}

#[test]
fn probes_and_lifecycle() {
    let mut c = container("app");
    c["livenessProbe"] = json!({"httpGet": {"path": "/", "port": 0, "scheme": "FTP"},
        "successThreshold": 2, "failureThreshold": -1, "timeoutSeconds": 1, "periodSeconds": 10});
    c["readinessProbe"] = json!({"successThreshold": 1, "terminationGracePeriodSeconds": 5});
    c["startupProbe"] = json!({"exec": {"command": ["true"]}, "tcpSocket": {"port": 80},
        "successThreshold": 1, "failureThreshold": 3});
    c["lifecycle"] = json!({"preStop": {"sleep": {"seconds": 60}}, "postStart": {}});
    assert_errs(
        &validate_pod(&pod(spec(vec![c]))),
        &[
            "spec.containers[0].lifecycle.postStart: Required value: must specify a handler type",
            "spec.containers[0].lifecycle.preStop.sleep: Invalid value: 60: must be non-negative and less than terminationGracePeriodSeconds (30)",
            "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"",
            "spec.containers[0].livenessProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 0",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.containers[0].readinessProbe: Required value: must specify a handler type",
            "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",
            "spec.containers[0].startupProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
        ],
    );
    let mut init = container("init");
    init["livenessProbe"] = json!({"exec": {"command": ["true"]}, "successThreshold": 1});
    let mut s = spec(vec![container("app")]);
    s["initContainers"] = json!([init]);
    assert_errs(
        &validate_pod(&pod(s.clone())),
        &[
            "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
        ],
    );
    s["initContainers"][0]["restartPolicy"] = json!("Always");
    assert_errs(&validate_pod(&pod(s)), &[]);
}

#[test]
fn security_contexts() {
    let mut c = container("app");
    c["securityContext"] = json!({"runAsUser": -1, "procMount": "Unmasked",
        "seccompProfile": {"type": "Localhost"}});
    let mut s = spec(vec![c]);
    s["securityContext"] = json!({"fsGroup": 5000000000_i64, "fsGroupChangePolicy": "Sometimes",
        "sysctls": [{"name": "net.ipv4.ip_forward", "value": "1"}, {"name": "Bad Name", "value": "1"}]});
    s["hostNetwork"] = json!(true);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 4294967295, inclusive",
            "spec.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`",
            "spec.containers[0].securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
            "spec.securityContext.fsGroup: Invalid value: 5000000000: must be between 0 and 4294967295, inclusive",
            "spec.securityContext.sysctls[0].name: Invalid value: \"net.ipv4.ip_forward\": may not be specified when 'hostNetwork' is true",
            "spec.securityContext.sysctls[1].name: Invalid value: \"Bad Name\": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            "spec.securityContext.fsGroupChangePolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnRootMismatch\"",
        ],
    );
}

/// Without `--allow-privileged` (the default, never changed in these
/// tests) privileged containers are refused wherever they are.
#[test]
fn privileged_containers_need_the_flag() {
    let mut c = container("app");
    c["securityContext"] = json!({"privileged": true});
    let mut s = spec(vec![c]);
    let (mut init, mut init2) = (container("init"), container("init2"));
    init["securityContext"] = json!({"privileged": false});
    init2["securityContext"] = json!({"privileged": true});
    s["initContainers"] = json!([init, init2]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy",
            "spec.initContainers[1].securityContext.privileged: Forbidden: disallowed by cluster policy",
        ],
    );
}

#[test]
fn scheduling_fields() {
    let mut s = spec(vec![container("app")]);
    s["tolerations"] = json!([
        {"operator": "Equal", "value": "x"},
        {"key": "k", "operator": "Exists", "value": "v"},
        {"key": "k", "operator": "Maybe"},
        {"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}
    ]);
    s["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In"}]}
    ]}}, "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {}}]}});
    s["topologySpreadConstraints"] = json!([
        {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Always"}
    ]);
    s["nodeName"] = json!("Node_1");
    s["activeDeadlineSeconds"] = json!(0);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
            "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
            "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": name part must be non-empty",
            "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
            "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Always\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
            "spec.nodeName: Invalid value: \"Node_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            "spec.tolerations[1].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
            "spec.tolerations[2].operator: Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\"",
            "spec.tolerations[3].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
        ],
    );
}

#[test]
fn dns_config_and_os() {
    let mut s = spec(vec![container("app")]);
    s["dnsPolicy"] = json!("None");
    assert_errs(
        &validate_pod(&pod(s.clone())),
        &["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"],
    );
    s["dnsConfig"] = json!({"nameservers": ["1.2.3.4", "not-an-ip"], "searches": ["Bad.Domain"]});
    s["os"] = json!({"name": "plan9"});
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.dnsConfig.nameservers[1]: Invalid value: \"not-an-ip\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "spec.dnsConfig.searches[0]: Invalid value: \"Bad.Domain\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')",
            "spec.os: Unsupported value: \"plan9\": supported values: \"linux\", \"windows\"",
        ],
    );
}

#[test]
fn pod_create_only_rules() {
    let mut s = spec(vec![container("app")]);
    s["ephemeralContainers"] = json!([with(
        container("debug"),
        &["targetContainerName"],
        json!("nope")
    )]);
    s["nodeName"] = json!("node-1");
    s["schedulingGates"] = json!([{"name": "example.com/gate"}]);
    assert_errs(
        &validate_pod(&pod(s)),
        &[
            "spec.ephemeralContainers[0].targetContainerName: Not found: \"nope\"",
            "spec.ephemeralContainers: Forbidden: cannot be set on create",
            "spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared",
        ],
    );
    let mut e = container("debug");
    e["ports"] = json!([{"containerPort": 80, "protocol": "TCP"}]);
    let mut s = spec(vec![container("app")]);
    s["ephemeralContainers"] = json!([e]);
    assert_has(
        &validate_pod_update(&pod(s.clone()), &pod(s)),
        "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
    );
}

#[test]
fn pod_updates() {
    let old = pod(spec(vec![container("app")]));
    let new = with(
        old.clone(),
        &["spec", "containers", "0", "image"],
        json!("nginx:1.27"),
    );
    assert_errs(&validate_pod_update(&new, &old), &[]);
    let new = with(old.clone(), &["spec", "restartPolicy"], json!("Never"));
    let errs = validate_pod_update(&new, &old);
    assert_eq!(errs.0.len(), 1);
    assert!(
        lines(&errs)[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"),
        "{errs}"
    );
    let new = with(
        old.clone(),
        &["spec", "containers"],
        json!([container("app"), container("sidecar")]),
    );
    assert_errs(
        &validate_pod_update(&new, &old),
        &["spec.containers: Forbidden: pod updates may not add or remove containers"],
    );
    let old_ads = with(old.clone(), &["spec", "activeDeadlineSeconds"], json!(30));
    let new_ads = with(old.clone(), &["spec", "activeDeadlineSeconds"], json!(60));
    assert_errs(
        &validate_pod_update(&new_ads, &old_ads),
        &[
            "spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value",
        ],
    );
    let tol_old = with(
        old.clone(),
        &["spec", "tolerations"],
        json!([{"key": "a", "operator": "Exists"}]),
    );
    let tol_new = with(
        old.clone(),
        &["spec", "tolerations"],
        json!([{"key": "b", "operator": "Exists"}]),
    );
    assert_has(
        &validate_pod_update(&tol_new, &tol_old),
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
    );
}

#[test]
fn pod_templates() {
    let template = json!({"metadata": {"labels": {"app": "-bad"}},
        "spec": spec(vec![with(container("app"), &["image"], json!(""))])});
    assert_errs(
        &validate_pod_template_spec(&template, "spec.template", &PodOpts::default()),
        &[
            "spec.template.labels: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            "spec.template.spec.containers[0].image: Required value",
        ],
    );
    let pt = json!({"template": {"metadata": {}, "spec": spec(vec![container("app")])}});
    assert_errs(&validate_pod_template(&pt), &[]);
}

#[test]
fn seccomp_and_apparmor_annotations() {
    let mut p = pod(spec(vec![container("app")]));
    p["metadata"]["annotations"] = json!({
        "seccomp.security.alpha.kubernetes.io/pod": "bogus",
        "container.apparmor.security.beta.kubernetes.io/other": "runtime/default",
        "controller.kubernetes.io/pod-deletion-cost": "lots"
    });
    assert_errs(
        &validate_pod(&p),
        &[
            "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: \"lots\": must be a 32bit integer",
            "metadata.annotations.seccomp.security.alpha.kubernetes.io/pod: Invalid value: \"bogus\": must be a valid seccomp profile",
            "metadata.annotations[container.apparmor.security.beta.kubernetes.io/other]: Invalid value: \"other\": container not found",
        ],
    );
}
