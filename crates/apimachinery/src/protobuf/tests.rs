use serde_json::json;

use super::*;

/// A tiny protobuf encoder for building test bodies by field number.
#[derive(Default, Clone)]
struct Enc(Vec<u8>);

impl Enc {
    fn new() -> Self {
        Enc::default()
    }
    /// A length-delimited field, written even when empty (as gogo does).
    fn raw(mut self, n: u32, b: &[u8]) -> Self {
        write::message(&mut self.0, n, b);
        self
    }
    fn s(self, n: u32, s: &str) -> Self {
        self.raw(n, s.as_bytes())
    }
    fn m(self, n: u32, m: Enc) -> Self {
        self.raw(n, &m.0)
    }
    fn i(mut self, n: u32, v: i64) -> Self {
        write::int64(&mut self.0, n, v);
        self
    }
    fn b(mut self, n: u32, v: bool) -> Self {
        write::boolean(&mut self.0, n, v);
        self
    }
    fn d(mut self, n: u32, v: f64) -> Self {
        write::double(&mut self.0, n, v);
        self
    }
    /// One `map<string, string>` entry.
    fn kv(self, n: u32, k: &str, v: &str) -> Self {
        self.m(n, Enc::new().s(1, k).s(2, v))
    }
    /// One `map<string, message>` entry.
    fn km(self, n: u32, k: &str, v: Enc) -> Self {
        self.m(n, Enc::new().s(1, k).m(2, v))
    }
}

fn time(secs: i64) -> Enc {
    Enc::new().i(1, secs)
}

fn quantity(s: &str) -> Enc {
    Enc::new().s(1, s)
}

fn int_or_string_int(v: i64) -> Enc {
    Enc::new().i(1, 0).i(2, v).s(3, "")
}

fn int_or_string_str(v: &str) -> Enc {
    Enc::new().i(1, 1).i(2, 0).s(3, v)
}

fn decode(def: &str, e: &Enc) -> Value {
    decode_object(def, &e.0).expect("decodes")
}

const APPS: &str = "io.k8s.api.apps.v1";
const CORE: &str = "io.k8s.api.core.v1";

#[test]
fn the_table_parses_and_covers_the_built_in_kinds() {
    let t = table::table().expect("messages.txt parses");
    assert!(t.messages.len() > 500, "{} messages", t.messages.len());
    for def in [
        "io.k8s.api.core.v1.Pod",
        "io.k8s.api.core.v1.ConfigMap",
        "io.k8s.api.apps.v1.Deployment",
        "io.k8s.api.batch.v1.CronJob",
        "io.k8s.api.autoscaling.v1.Scale",
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
        "io.k8s.api.policy.v1.Eviction",
        "io.k8s.api.rbac.v1.ClusterRoleBinding",
        "io.k8s.api.networking.v1.Ingress",
        "io.k8s.api.storage.v1.StorageClass",
        "io.k8s.api.coordination.v1.Lease",
        "io.k8s.api.discovery.v1.EndpointSlice",
        "io.k8s.api.events.v1.Event",
        "io.k8s.api.scheduling.v1.PriorityClass",
        "io.k8s.api.node.v1.RuntimeClass",
        "io.k8s.api.certificates.v1.CertificateSigningRequest",
        "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy",
        "io.k8s.api.flowcontrol.v1.FlowSchema",
        "io.k8s.api.authentication.v1.TokenRequest",
        "io.k8s.api.authorization.v1.SubjectAccessReview",
        "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    ] {
        assert!(has_message(def), "{def}");
    }
    assert!(!has_message("com.example.stable.v1.CronTab"));
    assert!(decode_object("com.example.stable.v1.CronTab", b"").is_err());
}

#[test]
fn decodes_an_envelope_and_a_config_map() {
    let meta = Enc::new().s(1, "cm1").s(3, "ns").m(8, time(951_782_400));
    let obj = Enc::new()
        .m(1, meta)
        .kv(2, "k", "v")
        .m(3, Enc::new().s(1, "bin").raw(2, &[0, 1, 2]))
        .b(4, true);
    let tm = Enc::new().s(1, "v1").s(2, "ConfigMap");
    let unknown = Enc::new().m(1, tm).m(2, obj).s(3, "").s(4, "");
    let mut body = MAGIC.to_vec();
    body.extend(unknown.0);
    let (av, kind, raw) = decode_envelope(&body).expect("envelope");
    assert_eq!((av.as_str(), kind.as_str()), ("v1", "ConfigMap"));
    let v = decode_object("io.k8s.api.core.v1.ConfigMap", &raw).expect("message");
    assert_eq!(
        v,
        json!({
            "metadata": {"name": "cm1", "namespace": "ns", "creationTimestamp": "2000-02-29T00:00:00Z"},
            "data": {"k": "v"},
            "binaryData": {"bin": "AAEC"},
            "immutable": true
        })
    );
    assert!(decode_envelope(b"nope").is_err());
    let mut compressed = MAGIC.to_vec();
    compressed.extend(Enc::new().s(3, "gzip").0);
    assert!(decode_envelope(&compressed).is_err());
    assert!(decode_object("io.k8s.api.core.v1.ConfigMap", &[0x0a, 0x05, 0x01]).is_err());
}

/// What `kubectl create deployment web --image=nginx --port=80` sends, with
/// resources and a rolling update added; gogo writes every value field.
fn deployment() -> Enc {
    let labels = |e: Enc| e.kv(11, "app", "web");
    let container = Enc::new()
        .s(1, "nginx")
        .s(2, "nginx:1.27")
        .s(3, "nginx")
        .s(3, "-g")
        .s(5, "")
        .m(
            6,
            Enc::new()
                .s(1, "http")
                .i(2, 0)
                .i(3, 80)
                .s(4, "TCP")
                .s(5, ""),
        )
        .m(
            8,
            Enc::new()
                .km(1, "cpu", quantity("500m"))
                .km(1, "memory", quantity("128Mi"))
                .km(2, "cpu", quantity("250m")),
        )
        .s(13, "")
        .s(14, "IfNotPresent")
        .b(16, false)
        .b(17, false)
        .b(18, false)
        .s(20, "");
    let pod_spec = Enc::new()
        .m(2, container)
        .s(3, "Always")
        .i(4, 30)
        .s(6, "ClusterFirst")
        .s(8, "")
        .s(9, "")
        .s(10, "")
        .b(11, false)
        .b(12, false)
        .b(13, false)
        .m(14, Enc::new())
        .s(19, "default-scheduler");
    let template = Enc::new()
        .m(1, labels(Enc::new()).m(8, Enc::new()))
        .m(2, pod_spec);
    let strategy = Enc::new().s(1, "RollingUpdate").m(
        2,
        Enc::new()
            .m(1, int_or_string_int(1))
            .m(2, int_or_string_str("25%")),
    );
    let spec = Enc::new()
        .i(1, 3)
        .m(2, Enc::new().kv(1, "app", "web"))
        .m(3, template)
        .m(4, strategy)
        .i(5, 0)
        .i(6, 10)
        .b(7, false)
        .i(9, 600);
    let status = Enc::new().i(1, 0).i(2, 0).i(3, 0).i(4, 0).i(5, 0).i(7, 0);
    Enc::new()
        .m(
            1,
            labels(Enc::new().s(1, "web").s(2, "").s(3, "default")).m(8, Enc::new()),
        )
        .m(2, spec)
        .m(3, status)
}

#[test]
fn decodes_a_deployment() {
    let v = decode(&format!("{APPS}.Deployment"), &deployment());
    assert_eq!(
        v,
        json!({
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "command": ["nginx", "-g"],
                            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                            "resources": {
                                "limits": {"cpu": "500m", "memory": "128Mi"},
                                "requests": {"cpu": "250m"}
                            },
                            "imagePullPolicy": "IfNotPresent"
                        }],
                        "restartPolicy": "Always",
                        "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst",
                        "securityContext": {},
                        "schedulerName": "default-scheduler"
                    }
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            },
            "status": {}
        })
    );
}

#[test]
fn zero_values_follow_the_go_fields() {
    // pointer replicas 0 is kept; omitempty minReadySeconds 0 and paused
    // false are dropped; a pointer int-or-string 0 is kept
    let spec = Enc::new().i(1, 0).i(5, 0).b(7, false).m(
        4,
        Enc::new()
            .s(1, "")
            .m(2, Enc::new().m(1, int_or_string_int(0))),
    );
    let v = decode(&format!("{APPS}.DeploymentSpec"), &spec);
    assert_eq!(
        v,
        json!({"replicas": 0, "strategy": {"rollingUpdate": {"maxUnavailable": 0}}})
    );
    // DaemonSetStatus counters have no omitempty: zeros stay
    let status = Enc::new().i(1, 0).i(2, 0).i(3, 0).i(4, 0).i(5, 0).i(6, 0);
    assert_eq!(
        decode(&format!("{APPS}.DaemonSetStatus"), &status),
        json!({"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0})
    );
    // a non-omitempty string and bool stay; negative int32 is sign-extended
    let sa = Enc::new().s(1, "").b(4, false).i(5, -1);
    assert_eq!(
        decode(&format!("{CORE}.ContainerStatus"), &sa),
        json!({"name": "", "ready": false, "restartCount": -1})
    );
    // a value int-or-string with omitempty is dropped when zero
    let port = Enc::new()
        .s(1, "")
        .i(3, 80)
        .m(4, int_or_string_int(0))
        .i(5, 0);
    assert_eq!(
        decode(&format!("{CORE}.ServicePort"), &port),
        json!({"port": 80})
    );
}

#[test]
fn decodes_a_service() {
    let port = |name: &str, p: i64, target: Enc| {
        Enc::new()
            .s(1, name)
            .s(2, "TCP")
            .i(3, p)
            .m(4, target)
            .i(5, 0)
    };
    let spec = Enc::new()
        .m(1, port("http", 80, int_or_string_int(8080)))
        .m(1, port("metrics", 9090, int_or_string_str("metrics")))
        .kv(2, "app", "web")
        .s(3, "10.0.0.10")
        .s(4, "ClusterIP")
        .s(7, "None")
        .s(18, "10.0.0.10")
        .s(18, "fd00::10")
        .s(19, "IPv4")
        .s(19, "IPv6")
        .s(17, "PreferDualStack")
        .s(22, "Cluster");
    let svc = Enc::new()
        .m(1, Enc::new().s(1, "web"))
        .m(2, spec)
        .m(3, Enc::new().m(1, Enc::new()));
    assert_eq!(
        decode(&format!("{CORE}.Service"), &svc),
        json!({
            "metadata": {"name": "web"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"}
                ],
                "selector": {"app": "web"},
                "clusterIP": "10.0.0.10",
                "clusterIPs": ["10.0.0.10", "fd00::10"],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "ipFamilies": ["IPv4", "IPv6"],
                "ipFamilyPolicy": "PreferDualStack",
                "internalTrafficPolicy": "Cluster"
            },
            "status": {"loadBalancer": {}}
        })
    );
}

fn job_spec() -> Enc {
    let container = Enc::new()
        .s(1, "pi")
        .s(2, "perl")
        .s(3, "perl")
        .s(4, "-e")
        .s(4, "print 1");
    Enc::new()
        .i(1, 0)
        .i(7, 4)
        .m(
            6,
            Enc::new()
                .m(1, Enc::new())
                .m(2, Enc::new().m(2, container).s(3, "Never")),
        )
        .b(10, false)
}

#[test]
fn decodes_a_job_and_a_cron_job() {
    let job = Enc::new().m(1, Enc::new().s(1, "pi")).m(2, job_spec());
    let spec = json!({
        "parallelism": 0,
        "backoffLimit": 4,
        "template": {
            "metadata": {},
            "spec": {
                "containers": [{"name": "pi", "image": "perl", "command": ["perl"], "args": ["-e", "print 1"]}],
                "restartPolicy": "Never"
            }
        },
        "suspend": false
    });
    assert_eq!(
        decode("io.k8s.api.batch.v1.Job", &job),
        json!({"metadata": {"name": "pi"}, "spec": spec.clone()})
    );
    let cron = Enc::new().m(1, Enc::new().s(1, "hourly")).m(
        2,
        Enc::new()
            .s(1, "0 * * * *")
            .s(8, "Etc/UTC")
            .s(3, "Forbid")
            .m(5, Enc::new().m(1, Enc::new()).m(2, job_spec()))
            .i(6, 3)
            .i(7, 1),
    );
    assert_eq!(
        decode("io.k8s.api.batch.v1.CronJob", &cron),
        json!({
            "metadata": {"name": "hourly"},
            "spec": {
                "schedule": "0 * * * *",
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {"metadata": {}, "spec": spec},
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1
            }
        })
    );
}

#[test]
fn decodes_a_custom_resource_definition() {
    let string = Enc::new().s(5, "string").s(4, "").b(10, false).b(12, false);
    let replicas = Enc::new()
        .s(5, "integer")
        .d(11, 1.0)
        .d(9, 10.5)
        .m(8, Enc::new().raw(1, b"3"))
        .m(20, Enc::new().raw(1, b"1"))
        .m(20, Enc::new().raw(1, b"3"));
    let items = Enc::new().m(1, string.clone());
    let tags = Enc::new().s(5, "array").m(24, items);
    let labels = Enc::new()
        .s(5, "object")
        .m(30, Enc::new().b(1, false).m(2, string.clone()));
    let free = Enc::new()
        .s(5, "object")
        .b(38, true)
        .m(30, Enc::new().b(1, true));
    let spec_schema = Enc::new()
        .s(5, "object")
        .s(23, "replicas")
        .km(29, "replicas", replicas)
        .km(29, "tags", tags)
        .km(29, "labels", labels)
        .km(29, "free", free)
        .m(
            44,
            Enc::new()
                .s(1, "self.replicas >= 0")
                .s(2, "")
                .s(3, "")
                .s(5, ""),
        );
    let root = Enc::new().s(5, "object").km(29, "spec", spec_schema);
    let version = Enc::new()
        .s(1, "v1")
        .b(2, true)
        .b(3, true)
        .b(7, false)
        .m(4, Enc::new().m(1, root))
        .m(5, Enc::new().m(1, Enc::new()))
        .m(
            6,
            Enc::new()
                .s(1, "Replicas")
                .s(2, "integer")
                .s(3, "")
                .s(4, "")
                .i(5, 0)
                .s(6, ".spec.replicas"),
        );
    let names = Enc::new()
        .s(1, "crontabs")
        .s(2, "crontab")
        .s(3, "ct")
        .s(4, "CronTab")
        .s(5, "CronTabList");
    let crd = Enc::new()
        .m(1, Enc::new().s(1, "crontabs.stable.example.com"))
        .m(
            2,
            Enc::new()
                .s(1, "stable.example.com")
                .m(3, names)
                .s(4, "Namespaced")
                .m(7, version),
        );
    let v = decode(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        &crd,
    );
    assert_eq!(
        v,
        json!({
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {
                "group": "stable.example.com",
                "names": {"plural": "crontabs", "singular": "crontab", "shortNames": ["ct"], "kind": "CronTab", "listKind": "CronTabList"},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1",
                    "served": true,
                    "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {
                            "type": "object",
                            "required": ["replicas"],
                            "properties": {
                                "replicas": {"type": "integer", "minimum": 1.0, "maximum": 10.5, "default": 3, "enum": [1, 3]},
                                "tags": {"type": "array", "items": {"type": "string"}},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "additionalProperties": true}
                            },
                            "x-kubernetes-validations": [{"rule": "self.replicas >= 0"}]
                        }}
                    }},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}]
                }]
            }
        })
    );
}

#[test]
fn decodes_a_secret() {
    let secret = Enc::new()
        .m(1, Enc::new().s(1, "creds"))
        .m(2, Enc::new().s(1, "password").raw(2, b"s3cr\xff"))
        .m(2, Enc::new().s(1, "empty").raw(2, b""))
        .s(3, "Opaque")
        .kv(4, "user", "admin");
    assert_eq!(
        decode(&format!("{CORE}.Secret"), &secret),
        json!({
            "metadata": {"name": "creds"},
            "data": {"password": "czNjcv8=", "empty": ""},
            "type": "Opaque",
            "stringData": {"user": "admin"}
        })
    );
}

#[test]
fn decodes_times() {
    let pod = Enc::new()
        .m(
            1,
            Enc::new()
                .s(1, "p")
                .m(8, time(1_700_000_000))
                .m(9, Enc::new())
                .i(10, 0),
        )
        .m(
            3,
            Enc::new()
                .s(1, "Running")
                .m(
                    2,
                    Enc::new()
                        .s(1, "Ready")
                        .s(2, "True")
                        .m(3, Enc::new())
                        .m(4, time(1_700_000_060)),
                )
                .m(7, time(1_700_000_001)),
        );
    assert_eq!(
        decode(&format!("{CORE}.Pod"), &pod),
        json!({
            "metadata": {"name": "p", "creationTimestamp": "2023-11-14T22:13:20Z", "deletionGracePeriodSeconds": 0},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2023-11-14T22:14:20Z"}],
                "startTime": "2023-11-14T22:13:21Z"
            }
        })
    );
    // MicroTime keeps microseconds; nanos past a second carry over
    let lease = Enc::new().m(
        2,
        Enc::new()
            .s(1, "node-1")
            .i(2, 40)
            .m(3, Enc::new().i(1, 1_700_000_000).i(2, 123_456_789))
            .m(4, Enc::new().i(1, 1_700_000_000).i(2, 1_500_000_000)),
    );
    assert_eq!(
        decode("io.k8s.api.coordination.v1.Lease", &lease),
        json!({"spec": {
            "holderIdentity": "node-1",
            "leaseDurationSeconds": 40,
            "acquireTime": "2023-11-14T22:13:20.123456Z",
            "renewTime": "2023-11-14T22:13:21.500000Z"
        }})
    );
    // a time beyond year 9999 cannot be shown and is left out
    let far = Enc::new().m(8, time(i64::MAX));
    assert_eq!(
        decode("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", &far),
        json!({})
    );
}

#[test]
fn decodes_wrappers_raw_json_and_durations() {
    // map<string, ExtraValue> shows each value as a string array
    let review = Enc::new().m(
        2,
        Enc::new()
            .s(3, "alice")
            .km(5, "scopes", Enc::new().s(1, "a").s(1, "b")),
    );
    assert_eq!(
        decode("io.k8s.api.authorization.v1.SubjectAccessReview", &review),
        json!({"spec": {"user": "alice", "extra": {"scopes": ["a", "b"]}}})
    );
    // RawExtension and FieldsV1 carry JSON
    let rev = Enc::new()
        .m(2, Enc::new().raw(1, br#"{"spec":{"x":1}}"#))
        .i(3, 2);
    assert_eq!(
        decode(&format!("{APPS}.ControllerRevision"), &rev),
        json!({"data": {"spec": {"x": 1}}, "revision": 2})
    );
    let mf = Enc::new()
        .s(1, "kubectl")
        .s(2, "Update")
        .s(6, "FieldsV1")
        .m(7, Enc::new().raw(1, br#"{"f:data":{}}"#));
    assert_eq!(
        decode(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry",
            &mf
        ),
        json!({"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}})
    );
    let bad = Enc::new().m(2, Enc::new().raw(1, b"{nope"));
    assert!(decode_object(&format!("{APPS}.ControllerRevision"), &bad.0).is_err());
    for (nanos, s) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (1_500_000, "1.5ms"),
        (1_000_000_000, "1s"),
        (90_000_000_000, "1m30s"),
        (3_723_500_000_000, "1h2m3.5s"),
        (3_600_000_000_000, "1h0m0s"),
        (-2_000_000_000, "-2s"),
        (i64::MIN, "-2562047h47m16.854775808s"),
    ] {
        assert_eq!(decode::go_duration(nanos), s);
    }
}

#[test]
fn packed_and_unknown_fields() {
    // SupplementalGroups (repeated int64) packed in one field, an unknown
    // field number and an unknown wire-0 field are skipped
    let mut packed = Vec::new();
    for v in [1000u64, 2000] {
        write::varint(&mut packed, v);
    }
    let mut sc = Enc::new().raw(4, &packed).i(99, 7).s(98, "x");
    write::double(&mut sc.0, 97, 1.5);
    assert_eq!(
        decode(&format!("{CORE}.PodSecurityContext"), &sc),
        json!({"supplementalGroups": [1000, 2000]})
    );
}

#[test]
fn malformed_input_is_an_error() {
    let def = format!("{APPS}.Deployment");
    for bad in [
        &[0x0a][..],         // truncated length
        &[0x0a, 0x05, 0x01], // length past the end
        &[
            0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ], // huge length
        &[0x08],             // truncated varint
        &[
            0x08 | 0x80,
            0x80,
            0x80,
            0x80,
            0x80,
            0x80,
            0x80,
            0x80,
            0x80,
            0x80,
            0x80,
        ], // overlong varint
        &[0x0b],             // group wire type
        &[0x00, 0x01],       // field number 0
        &[0x12, 0x02, 0x08, 0x80], // truncated inside a nested message
        &[0x12, 0x02, 0x0d, 0x00], // replicas with wire type 5
    ] {
        assert!(decode_object(&def, bad).is_err(), "{bad:?}");
    }
    // a double that is not finite
    let mut e = Enc::new();
    write::double(&mut e.0, 9, f64::NAN);
    assert!(
        decode_object(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
            &e.0
        )
        .is_err()
    );
}

#[test]
fn deep_nesting_is_refused() {
    // JSONSchemaProps.not (28) nested far past any real schema
    let def = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
    let mut e = Enc::new().s(5, "string");
    for _ in 0..20 {
        e = Enc::new().m(28, e);
    }
    assert!(decode_object(def, &e.0).is_ok());
    for _ in 0..200 {
        e = Enc::new().m(28, e);
    }
    let err = decode_object(def, &e.0).expect_err("too deep");
    assert!(err.contains("nests too deeply"), "{err}");
}

/// A small deterministic generator (xorshift), to avoid a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_and_truncated_input_never_panics() {
    let t = table::table().expect("table");
    let mut names: Vec<&String> = t.by_name.keys().collect();
    names.sort();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..20_000 {
        let len = (rng.next() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let def = names[round % names.len()];
        let _ = decode_object(def, &bytes);
        let mut body = MAGIC.to_vec();
        body.extend(&bytes);
        let _ = decode_envelope(&body);
    }
    // every prefix of valid messages, and valid messages with one byte flipped
    let valid = [
        (format!("{APPS}.Deployment"), deployment().0),
        (
            "io.k8s.api.batch.v1.Job".to_string(),
            Enc::new().m(2, job_spec()).0,
        ),
    ];
    for (def, full) in &valid {
        assert!(decode_object(def, full).is_ok());
        for cut in 0..full.len() {
            let _ = decode_object(def, &full[..cut]);
        }
        for _ in 0..2_000 {
            let mut b = full.clone();
            let at = (rng.next() as usize) % b.len();
            b[at] = rng.next() as u8;
            let _ = decode_object(def, &b);
        }
    }
}

#[test]
fn a_typed_body_decodes_as_the_type_its_envelope_names() {
    let review = Enc::new().m(2, Enc::new().m(1, Enc::new().s(2, "list").s(5, "pods")));
    let tm = Enc::new()
        .s(1, "authorization.k8s.io/v1")
        .s(2, "SelfSubjectAccessReview");
    let mut body = MAGIC.to_vec();
    body.extend(Enc::new().m(1, tm).m(2, review).0);
    assert_eq!(
        decode_typed(&body).expect("typed"),
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}}
        })
    );
    let mut custom = MAGIC.to_vec();
    custom.extend(
        Enc::new()
            .m(1, Enc::new().s(1, "stable.example.com/v1").s(2, "CronTab"))
            .0,
    );
    assert!(decode_typed(&custom).is_err());
    assert!(is_media_type(Some(
        "application/vnd.kubernetes.protobuf; charset=x"
    )));
    assert!(!is_media_type(Some("application/json")));
    assert!(!is_media_type(None));
}

#[test]
fn values_kube_apiserver_stored_read_as_json() {
    // JSON (kaiser's own values, custom resources) is left alone.
    assert!(stored_json(br#"{"apiVersion":"v1","kind":"ConfigMap"}"#).is_none());
    assert!(stored_json(b"").is_none());
    let meta = Enc::new()
        .s(1, "legacy")
        .s(3, "ns")
        .s(5, "0b7c6e8e-0000-4000-8000-000000000001")
        .m(8, time(951_782_400))
        .kv(11, "app", "old");
    let obj = Enc::new().m(1, meta).kv(2, "k", "v");
    let tm = Enc::new().s(1, "v1").s(2, "ConfigMap");
    let mut value = MAGIC.to_vec();
    value.extend(Enc::new().m(1, tm).m(2, obj).0);
    let json = stored_json(&value)
        .expect("protobuf is claimed")
        .expect("decodes");
    let text = String::from_utf8(json).expect("utf-8");
    assert!(
        text.starts_with(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"#),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["metadata"]["labels"], json!({"app": "old"}));
    assert_eq!(v["metadata"]["creationTimestamp"], "2000-02-29T00:00:00Z");
    assert_eq!(v["data"], json!({"k": "v"}));

    // Truncated protobuf and unknown kinds are errors, not guesses.
    let cut = &value[..value.len() - 3];
    assert!(stored_json(cut).expect("claimed").is_err());
    let mut unknown = MAGIC.to_vec();
    let tm = Enc::new().s(1, "example.com/v1").s(2, "Widget");
    unknown.extend(Enc::new().m(1, tm).m(2, Enc::new()).0);
    let e = stored_json(&unknown)
        .expect("claimed")
        .expect_err("no such message");
    assert!(e.contains("com.example.v1.Widget"), "{e}");
    // Encrypted at rest: named, never decoded as garbage.
    let e = stored_json(b"k8s:enc:aescbc:v1:key1:\x00\x01\x02")
        .expect("claimed")
        .expect_err("encrypted");
    assert!(
        e.contains("encrypted at rest") && e.contains("aescbc"),
        "{e}"
    );
}

#[test]
fn beta_storage_versions_of_ga_kinds_read_as_ga() {
    let spec = Enc::new().s(1, "10.96.0.0/16");
    let obj = Enc::new().m(1, Enc::new().s(1, "kubernetes")).m(2, spec);
    let tm = Enc::new()
        .s(1, "networking.k8s.io/v1beta1")
        .s(2, "ServiceCIDR");
    let mut value = MAGIC.to_vec();
    value.extend(Enc::new().m(1, tm).m(2, obj).0);
    let json = stored_json(&value).expect("claimed").expect("decodes");
    let v: Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(v["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(v["kind"], "ServiceCIDR");
    assert_eq!(v["spec"]["cidrs"], json!(["10.96.0.0/16"]));
}

/// What `stored_json` makes of an object kube-apiserver stored as
/// `api_version`/`kind` with protobuf body `obj`.
fn read_stored(api_version: &str, kind: &str, obj: Enc) -> Value {
    let tm = Enc::new().s(1, api_version).s(2, kind);
    let mut value = MAGIC.to_vec();
    value.extend(Enc::new().m(1, tm).m(2, obj).0);
    let json = stored_json(&value).expect("claimed").expect("decodes");
    serde_json::from_slice(&json).expect("JSON")
}

#[test]
fn objects_older_releases_stored_in_beta_versions_read_as_ga() {
    let rule = Enc::new().s(1, "get").s(2, "").s(3, "pods");
    let role = Enc::new().m(1, Enc::new().s(1, "reader")).m(2, rule);
    let v = read_stored("rbac.authorization.k8s.io/v1beta1", "ClusterRole", role);
    assert_eq!(v["apiVersion"], "rbac.authorization.k8s.io/v1");
    assert_eq!(
        v["rules"],
        json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])
    );
    let fs = Enc::new().m(1, Enc::new().s(1, "mine")).m(
        2,
        Enc::new().m(1, Enc::new().s(1, "workload-low")).i(2, 900),
    );
    let v = read_stored("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", fs);
    assert_eq!(v["apiVersion"], "flowcontrol.apiserver.k8s.io/v1");
    assert_eq!(
        v["spec"]["priorityLevelConfiguration"]["name"],
        "workload-low"
    );
    assert_eq!(v["spec"]["matchingPrecedence"], 900);
}

#[test]
fn old_priority_levels_read_their_shares_as_upstream_converts_them() {
    let plc = |meta: Enc, shares: i64| {
        let limited = Enc::new().i(1, shares).m(2, Enc::new().s(1, "Reject"));
        Enc::new()
            .m(1, meta)
            .m(2, Enc::new().s(1, "Limited").m(2, limited))
    };
    let shares = |v: &Value| v["spec"]["limited"]["nominalConcurrencyShares"].clone();
    let named = || Enc::new().s(1, "level");
    // v1beta1/v1beta2: `assuredConcurrencyShares`, zero meaning 30.
    for version in ["v1beta1", "v1beta2"] {
        let api = format!("flowcontrol.apiserver.k8s.io/{version}");
        let v = read_stored(&api, "PriorityLevelConfiguration", plc(named(), 0));
        assert_eq!(v["apiVersion"], "flowcontrol.apiserver.k8s.io/v1");
        assert_eq!(shares(&v), 30);
        let v = read_stored(&api, "PriorityLevelConfiguration", plc(named(), 7));
        assert_eq!(shares(&v), 7);
    }
    // v1beta3: zero means 30 unless the annotation says it means zero.
    let api = "flowcontrol.apiserver.k8s.io/v1beta3";
    let v = read_stored(api, "PriorityLevelConfiguration", plc(named(), 0));
    assert_eq!(shares(&v), 30);
    let preserved = named().kv(
        12,
        "flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares",
        "",
    );
    let v = read_stored(api, "PriorityLevelConfiguration", plc(preserved, 0));
    assert_eq!(shares(&v), 0);
    assert!(v["metadata"].get("annotations").is_none(), "{v}");
}

#[test]
fn old_webhook_configurations_get_v1beta1_defaults() {
    let hook = Enc::new()
        .s(1, "a.example.com")
        .m(2, Enc::new().s(3, "https://a.example.com"))
        .s(4, "Fail");
    let cfg = Enc::new().m(1, Enc::new().s(1, "hooks")).m(2, hook);
    let v = read_stored(
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        cfg,
    );
    assert_eq!(v["apiVersion"], "admissionregistration.k8s.io/v1");
    let h = &v["webhooks"][0];
    assert_eq!(h["failurePolicy"], "Fail", "set values stay");
    assert_eq!(h["matchPolicy"], "Exact");
    assert_eq!(h["timeoutSeconds"], 30);
    assert_eq!(h["sideEffects"], "Unknown");
    assert_eq!(h["admissionReviewVersions"], json!(["v1beta1"]));
}

#[test]
fn old_disruption_budgets_keep_what_their_selector_selected() {
    const MARKER: &str = "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match";
    let pdb = |selector: Enc| {
        Enc::new()
            .m(1, Enc::new().s(1, "budget").s(3, "default"))
            .m(2, Enc::new().m(2, selector))
    };
    let expr = |key: &str, op: &str| Enc::new().s(1, key).s(2, op);
    let read = |selector: Enc| read_stored("policy/v1beta1", "PodDisruptionBudget", pdb(selector));
    // Empty selected nothing in v1beta1; v1 says so with the marker.
    let v = read(Enc::new());
    assert_eq!(v["apiVersion"], "policy/v1");
    assert_eq!(
        v["spec"]["selector"],
        json!({"matchExpressions": [{"key": MARKER, "operator": "Exists"}]})
    );
    // The marker's absence selected everything: v1's empty selector.
    let v = read(Enc::new().m(2, expr(MARKER, "DoesNotExist")));
    assert_eq!(v["spec"]["selector"], json!({}));
    // Any other selector keeps its own terms.
    let v = read(
        Enc::new()
            .kv(1, "app", "web")
            .m(2, expr(MARKER, "DoesNotExist")),
    );
    assert_eq!(
        v["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
}
