//! The built-in resource catalogue with kubectl and kube-rs: discovery as
//! upstream lists it, a realistic app applied unchanged with upstream's
//! defaults and columns, scale, Service IP allocation, bootstrap objects,
//! reviews, converted versions and deprecation warnings.

use std::collections::BTreeSet;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

use crate::harness::{Server, fails, json, ok};
use crate::kube_rs::client;

const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/testdata/app.yaml");
const GOLDEN: &str = include_str!("testdata/api-resources-1.33.txt");

/// Splits kubectl's aligned table into rows of cells, by the header's
/// column starts (cells may be empty).
fn table(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let mut starts = Vec::new();
    let mut prev_space = true;
    for (i, c) in header.char_indices() {
        if c != ' ' && prev_space {
            starts.push(i);
        }
        prev_space = c == ' ';
    }
    std::iter::once(header)
        .chain(lines)
        .map(|l| {
            starts
                .iter()
                .enumerate()
                .map(|(k, &s)| {
                    let e = starts.get(k + 1).copied().unwrap_or(l.len()).min(l.len());
                    l.get(s.min(l.len())..e).unwrap_or("").trim().to_string()
                })
                .collect()
        })
        .collect()
}

#[test]
fn api_resources_match_upstream() {
    let s = Server::start();
    let got = table(&ok(s.kubectl(&["api-resources", "-o", "wide"])));
    assert_eq!(
        got[0],
        [
            "NAME",
            "SHORTNAMES",
            "APIVERSION",
            "NAMESPACED",
            "KIND",
            "VERBS",
            "CATEGORIES"
        ]
    );
    let got: BTreeSet<String> = got[1..].iter().map(|r| r.join("|")).collect();
    let want: BTreeSet<String> = GOLDEN
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nunexpected: {extra:#?}"
    );
    // Group order in /apis is upstream's priority order.
    let groups = json(&ok(s.kubectl(&["get", "--raw", "/apis"])));
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(
        &names[..6],
        [
            "apiregistration.k8s.io",
            "apps",
            "events.k8s.io",
            "authentication.k8s.io",
            "authorization.k8s.io",
            "autoscaling"
        ]
    );
    let autoscaling = groups["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == "autoscaling"))
        .expect("autoscaling");
    assert_eq!(autoscaling["preferredVersion"]["version"], "v2");
    assert_eq!(autoscaling["versions"][1]["version"], "v1");
}

/// Every stored resource names the version its objects are stored in as
/// upstream does (`storageVersionHash`, which storage migrators watch):
/// versions served over another's objects share it, resources nothing
/// stores and subresources have none.
#[test]
fn discovery_names_each_resources_storage_version() {
    let s = Server::start();
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/testdata/crds");
    ok(s.kubectl(&["apply", "-f", &format!("{crds}/certificates.yaml")]));
    ok(s.kubectl(&[
        "wait",
        "--for=condition=Established",
        "crd/certificates.cert-manager.io",
        "--timeout=20s",
    ]));
    let hash = |path: &str, name: &str| -> Option<String> {
        let list = json(&ok(s.kubectl(&["get", "--raw", path])));
        let r = list["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["name"] == name))
            .unwrap_or_else(|| panic!("{name} in {path}"))
            .clone();
        r["storageVersionHash"].as_str().map(str::to_string)
    };
    // Values upstream's discovery shows for the same storage versions.
    for (path, name, want) in [
        ("/api/v1", "configmaps", "qFsyl6wFWjQ="),
        ("/api/v1", "services", "0/CO1lhkEBI="),
        ("/api/v1", "events", "r2yiGXH7wu8="),
        ("/apis/events.k8s.io/v1", "events", "r2yiGXH7wu8="),
        ("/apis/apps/v1", "deployments", "8aSe+NMegvE="),
        (
            "/apis/autoscaling/v2",
            "horizontalpodautoscalers",
            "qwQve8ut294=",
        ),
        (
            "/apis/autoscaling/v1",
            "horizontalpodautoscalers",
            "qwQve8ut294=",
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1",
            "clusterroles",
            "bYE5ZWDrJ44=",
        ),
    ] {
        assert_eq!(hash(path, name).as_deref(), Some(want), "{path} {name}");
    }
    for (path, name) in [
        ("/api/v1", "bindings"),
        ("/api/v1", "componentstatuses"),
        ("/api/v1", "pods/status"),
        ("/apis/authentication.k8s.io/v1", "tokenreviews"),
    ] {
        assert_eq!(hash(path, name), None, "{path} {name}");
    }
    // A custom resource's: its CRD's storage version.
    assert_eq!(
        hash("/apis/cert-manager.io/v1", "certificates").as_deref(),
        Some("QwYBQGuMyKo=")
    );
}

/// The header of `kubectl get <kind> -o wide`.
fn header(s: &Server, kind: &str) -> Vec<String> {
    let out = ok(s.kubectl(&["get", kind, "-o", "wide"]));
    table(&out).into_iter().next().unwrap_or_default()
}

#[test]
fn a_realistic_app_applies_unchanged_with_upstreams_defaults_and_columns() {
    let s = Server::start();
    let out = ok(s.kubectl(&["apply", "-f", APP]));
    assert_eq!(out.lines().count(), 14, "{out}");
    let cols = |kind: &str| header(&s, kind).join(" ");
    assert_eq!(
        cols("deploy"),
        "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR"
    );
    assert_eq!(
        cols("svc"),
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR"
    );
    assert_eq!(cols("ingress"), "NAME CLASS HOSTS ADDRESS PORTS AGE");
    assert_eq!(
        cols("hpa"),
        "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE"
    );
    assert_eq!(
        cols("pdb"),
        "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE"
    );
    assert_eq!(
        cols("cronjob"),
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE CONTAINERS IMAGES SELECTOR"
    );
    assert_eq!(cols("sts"), "NAME READY AGE CONTAINERS IMAGES");
    assert_eq!(
        cols("ds"),
        "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE CONTAINERS IMAGES SELECTOR"
    );
    assert_eq!(
        cols("rolebinding"),
        "NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS"
    );
    assert_eq!(cols("netpol"), "NAME POD-SELECTOR AGE");
    assert_eq!(
        cols("pvc"),
        "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE VOLUMEMODE"
    );
    let rows = table(&ok(s.kubectl(&["get", "deploy", "web"])));
    assert_eq!(rows[1][..4], ["web", "0/2", "0", "0"]);

    // Defaults as upstream stores them.
    let d = json(&ok(s.kubectl(&["get", "deploy", "web", "-o", "json"])));
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["status"], json!({}));
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    let pod = &d["spec"]["template"]["spec"];
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("securityContext", json!({})),
    ] {
        assert_eq!(pod[k], v, "{k}");
    }
    let c = &pod["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTP");
    assert_eq!(c["readinessProbe"]["periodSeconds"], 10);

    let svc = json(&ok(s.kubectl(&["get", "svc", "web", "-o", "json"])));
    let spec = &svc["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    let ip = spec["clusterIP"].as_str().expect("clusterIP");
    assert!(ip.starts_with("10.0.0.") && ip != "10.0.0.1", "{ip}");
    assert_eq!(spec["clusterIPs"], json!([ip]));

    let sts = json(&ok(s.kubectl(&["get", "sts", "db", "-o", "json"])));
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        sts["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
        "Filesystem"
    );
    let cj = json(&ok(s.kubectl(&["get", "cronjob", "cleanup", "-o", "json"])));
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
    let pvc = json(&ok(s.kubectl(&["get", "pvc", "scratch", "-o", "json"])));
    assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
    assert_eq!(pvc["status"]["phase"], "Pending");

    // Applying the same file again changes nothing. (kubectl still sends
    // patches for Secret stringData, replace-strategy selectors and atomic
    // lists with defaulted members, against upstream too; the server finds
    // nothing to change and writes nothing.)
    let before = ok(s.kubectl(&[
        "get",
        "all,cm,secret,pdb,netpol,pvc,ing,role,rolebinding",
        "-o",
        "jsonpath={.items[*].metadata.resourceVersion}",
    ]));
    let again = ok(s.kubectl(&["apply", "-f", APP]));
    for kind in [
        "configmap/web-config",
        "deployment.apps/web",
        "service/web",
        "cronjob.batch/cleanup",
        "daemonset.apps/agent",
        "horizontalpodautoscaler.autoscaling/web",
    ] {
        assert!(again.contains(&format!("{kind} unchanged")), "{again}");
    }
    let after = ok(s.kubectl(&[
        "get",
        "all,cm,secret,pdb,netpol,pvc,ing,role,rolebinding",
        "-o",
        "jsonpath={.items[*].metadata.resourceVersion}",
    ]));
    assert_eq!(before, after);
}

#[test]
fn scale_status_and_generation() {
    let s = Server::start();
    ok(s.kubectl(&["apply", "-f", APP]));
    ok(s.kubectl(&["scale", "deployment", "web", "--replicas=5"]));
    let d = json(&ok(s.kubectl(&["get", "deploy", "web", "-o", "json"])));
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["generation"], 2);
    let scale = json(&ok(s.kubectl(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
    ])));
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"]["selector"], "app=web");
    // A negative scale is refused with the field path.
    let err = fails(s.kubectl(&["scale", "deployment", "web", "--replicas=-1"]));
    assert!(err.contains("replicas"), "{err}");
    let (code, body) = s.send_json(
        "PATCH",
        "application/merge-patch+json",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        r#"{"spec":{"replicas":-2}}"#,
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("spec.replicas"), "{body}");
    // Status writes ignore the spec; main writes ignore status.
    ok(s.kubectl(&[
        "patch",
        "deploy",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":5,"readyReplicas":3},"spec":{"replicas":9}}"#,
    ]));
    ok(s.kubectl(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"status":{"readyReplicas":1}}"#,
    ]));
    let d = json(&ok(s.kubectl(&["get", "deploy", "web", "-o", "json"])));
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["status"]["readyReplicas"], 3);
    assert_eq!(d["metadata"]["generation"], 2);
    let rows = table(&ok(s.kubectl(&["get", "deploy", "web"])));
    assert_eq!(rows[1][1], "3/5");
    // An apply to the status owns only what the write may change: not the
    // spec, nor a Deployment's labels (upstream's reset fields).
    let (code, body) = s.send_json(
        "PATCH",
        "application/apply-patch+yaml",
        "/apis/apps/v1/namespaces/default/deployments/web/status?fieldManager=status-writer&force=true",
        r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"x":"y"},"annotations":{"a":"b"}},"spec":{"replicas":7},"status":{"availableReplicas":2}}"#,
    );
    assert_eq!(code, 200, "{body}");
    let d = json(&body);
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["annotations"]["a"], "b");
    assert!(d["metadata"]["labels"].get("x").is_none(), "{d}");
    let entry = d["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == "status-writer"))
        .cloned()
        .unwrap_or_else(|| panic!("no status-writer entry in {d}"));
    assert_eq!(entry["subresource"], "status");
    let owned = &entry["fieldsV1"];
    assert!(
        owned["f:status"]["f:availableReplicas"].is_object(),
        "{owned}"
    );
    assert!(
        owned["f:metadata"]["f:annotations"]["f:a"].is_object(),
        "{owned}"
    );
    assert!(owned.get("f:spec").is_none(), "{owned}");
    assert!(owned["f:metadata"].get("f:labels").is_none(), "{owned}");
    // Statefulsets and replication controllers scale too.
    ok(s.kubectl(&["scale", "sts", "db", "--replicas=3"]));
    let sts = json(&ok(s.kubectl(&["get", "sts", "db", "-o", "json"])));
    assert_eq!(sts["spec"]["replicas"], 3);
}

#[test]
fn services_get_unique_cluster_ips_and_node_ports_in_range() {
    let s = Server::start_with(&[
        "--service-cluster-ip-range=10.96.0.0/24",
        "--service-node-port-range=30000-30100",
    ]);
    let svc = |name: &str, extra: Value| {
        let mut spec = json!({"ports": [{"port": 80}], "selector": {"app": name}});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
            .to_string()
    };
    let post = |body: String| {
        s.send_json(
            "POST",
            "application/json",
            "/api/v1/namespaces/default/services",
            &body,
        )
    };
    // 50 concurrent creates never share an address.
    let results: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let body = svc(&format!("s{i}"), json!({}));
                scope.spawn(move || post(body))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut ips = BTreeSet::new();
    for (code, body) in &results {
        assert_eq!(*code, 201, "{body}");
        let ip = json(body)["spec"]["clusterIP"]
            .as_str()
            .expect("ip")
            .to_string();
        assert!(ip.starts_with("10.96.0."), "{ip}");
        ips.insert(ip);
    }
    assert_eq!(ips.len(), 50);
    assert!(
        !ips.contains("10.96.0.1"),
        "the kubernetes Service's address was handed out"
    );
    let listed = ok(s.kubectl(&["get", "ipaddresses", "-o", "name"]));
    assert_eq!(listed.lines().count(), 51, "{listed}");

    // Out of range and taken addresses are 422 with upstream's wording.
    let (code, body) = post(svc("out", json!({"clusterIP": "10.1.2.3"})));
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("spec.clusterIPs"), "{body}");
    assert!(
        body.contains("is not in the valid range. The range of valid IPs is 10.96.0.0/24"),
        "{body}"
    );
    let (code, body) = post(svc("taken", json!({"clusterIP": "10.96.0.1"})));
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("provided IP is already allocated"), "{body}");
    // A chosen free address is honoured; deleting releases it.
    // (An address none of the 50 random allocations took.)
    let free = (2..255)
        .map(|n| format!("10.96.0.{n}"))
        .find(|ip| !ips.contains(ip))
        .expect("a free address");
    let (code, body) = post(svc("pick", json!({"clusterIP": free})));
    assert_eq!(code, 201, "{body}");
    ok(s.kubectl(&["delete", "svc", "pick"]));
    let (code, body) = post(svc("pick2", json!({"clusterIP": free})));
    assert_eq!(code, 201, "{body}");

    // Node ports come from the range; a port outside it is refused.
    let (code, body) = post(svc("np", json!({"type": "NodePort"})));
    assert_eq!(code, 201, "{body}");
    let port = json(&body)["spec"]["ports"][0]["nodePort"]
        .as_u64()
        .expect("nodePort");
    assert!((30000..=30100).contains(&port), "{port}");
    let (code, body) = post(svc(
        "np2",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31000}]}),
    ));
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("spec.ports[0].nodePort"), "{body}");
    let taken = format!(r#"{{"type": "NodePort", "ports": [{{"port": 80, "nodePort": {port}}}]}}"#);
    let (code, body) = post(svc("np3", serde_json::from_str(&taken).expect("json")));
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("provided port is already allocated"),
        "{body}"
    );

    // Addresses survive a restart: the next create does not reuse one.
    let headless = post(svc("hl", json!({"clusterIP": "None"})));
    assert_eq!(headless.0, 201, "{}", headless.1);
    assert_eq!(json(&headless.1)["spec"]["clusterIPs"], json!(["None"]));
}

#[test]
fn bootstrap_objects_and_namespace_defaults() {
    let s = Server::start();
    let svc = json(&ok(s.kubectl(&["get", "svc", "kubernetes", "-o", "json"])));
    assert_eq!(svc["spec"]["clusterIP"], "10.0.0.1");
    assert_eq!(svc["spec"]["ports"][0]["port"], 443);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], s.port);
    // Endpoints may not hold loopback addresses (upstream validation), so a
    // server advertising 127.0.0.1 publishes none.
    let err = fails(s.kubectl(&["get", "endpoints", "kubernetes"]));
    assert!(err.contains("not found"), "{err}");
    let pcs = ok(s.kubectl(&["get", "priorityclass", "-o", "name"]));
    assert!(
        pcs.contains("system-node-critical") && pcs.contains("system-cluster-critical"),
        "{pcs}"
    );
    let fs = ok(s.kubectl(&["get", "flowschemas", "-o", "name"]));
    assert!(fs.contains("/exempt") && fs.contains("/catch-all"), "{fs}");
    let plc = ok(s.kubectl(&["get", "prioritylevelconfigurations", "-o", "name"]));
    assert!(
        plc.contains("/exempt") && plc.contains("/catch-all"),
        "{plc}"
    );

    // A new namespace gets its CA bundle and default service account.
    ok(s.kubectl(&["create", "namespace", "team"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let cm = s.kubectl(&["get", "cm", "kube-root-ca.crt", "-n", "team", "-o", "json"]);
        let sa = s.kubectl(&["get", "sa", "default", "-n", "team"]);
        if cm.status.success() && sa.status.success() {
            let ca = std::fs::read_to_string(s.pki("ca.crt")).expect("ca");
            assert_eq!(
                json(&String::from_utf8_lossy(&cm.stdout))["data"]["ca.crt"],
                ca
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "namespace defaults did not appear"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Deleted, it comes back.
    ok(s.kubectl(&["delete", "cm", "kube-root-ca.crt", "-n", "team"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s
        .kubectl(&["get", "cm", "kube-root-ca.crt", "-n", "team"])
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "kube-root-ca.crt was not recreated"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The namespace still goes away with its content.
    ok(s.kubectl(&["delete", "namespace", "team", "--timeout=20s"]));
}

#[test]
fn controllers_can_be_switched_off() {
    let s = Server::start_with(&["--controllers=*,-serviceaccount,-root-ca-cert-publisher"]);
    ok(s.kubectl(&["create", "namespace", "bare"]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = ok(s.kubectl(&["get", "cm,sa", "-n", "bare", "-o", "name"]));
    assert!(out.trim().is_empty(), "{out}");
}

#[test]
fn converted_versions_and_deprecation_warnings() {
    let s = Server::start();
    ok(s.kubectl(&["apply", "-f", APP]));
    // An HPA written as v2 reads as v1 with the CPU target, and back.
    let v1 = json(&ok(s.kubectl(&[
        "get",
        "--raw",
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web",
    ])));
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
    let (code, body) = s.send_json(
        "PATCH",
        "application/merge-patch+json",
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web",
        r#"{"spec":{"targetCPUUtilizationPercentage":55}}"#,
    );
    assert_eq!(code, 200, "{body}");
    let v2 = json(&ok(s.kubectl(&["get", "hpa", "web", "-o", "json"])));
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        55
    );
    // Events written through events.k8s.io read as core events.
    let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "e1", "namespace": "default"},
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "test",
        "reportingInstance": "test-1", "action": "Check", "reason": "Checked",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
        "note": "looked", "type": "Normal"});
    let (code, body) = s.post_json("/apis/events.k8s.io/v1/namespaces/default/events", &ev);
    assert_eq!(code, 201, "{body}");
    assert_eq!(json(&body)["note"], "looked");
    let core = json(&ok(s.kubectl(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/events/e1",
    ])));
    assert_eq!(core["message"], "looked");
    assert_eq!(core["involvedObject"]["name"], "p");
    // Deprecated versions warn, as upstream.
    let out = s.kubectl(&["get", "endpoints"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
        ),
        "{err}"
    );
    let out = s.kubectl(&["get", "componentstatuses"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("v1 ComponentStatus is deprecated in v1.19+"),
        "{err}"
    );
    let rows = table(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(rows[0], ["NAME", "STATUS", "MESSAGE", "ERROR"]);
    assert_eq!(rows[1][..2], ["storage-0", "Healthy"]);
}

#[test]
fn bindings_evictions_and_reviews() {
    let s = Server::start();
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    let post = |path: &str, body: &Value| s.post_json(path, body);
    let (code, body) = post("/api/v1/namespaces/default/pods", &pod);
    assert_eq!(code, 201, "{body}");
    let created = json(&body);
    assert_eq!(
        created["status"],
        json!({"phase": "Pending", "qosClass": "BestEffort"})
    );
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
        "target": {"kind": "Node", "name": "node-1"}});
    let (code, body) = post("/api/v1/namespaces/default/pods/p/binding", &binding);
    assert_eq!(code, 201, "{body}");
    let got = json(&ok(s.kubectl(&["get", "pod", "p", "-o", "json"])));
    assert_eq!(got["spec"]["nodeName"], "node-1");
    assert_eq!(got["status"]["conditions"][0]["type"], "PodScheduled");
    let (code, body) = post("/api/v1/namespaces/default/pods/p/binding", &binding);
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("already assigned to node"), "{body}");

    // A budget that allows no disruption stops the eviction with a 429.
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}});
    let (code, body) = post(
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        &pdb,
    );
    assert_eq!(code, 201, "{body}");
    ok(s.kubectl(&[
        "patch",
        "pod",
        "p",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Running"}}"#,
    ]));
    let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "default"}});
    let (code, body) = post("/api/v1/namespaces/default/pods/p/eviction", &eviction);
    assert_eq!(code, 429, "{body}");
    assert!(body.contains("disruption budget"), "{body}");
    ok(s.kubectl(&["patch", "pdb", "x", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"disruptionsAllowed":1,"currentHealthy":1,"desiredHealthy":1,"expectedPods":1,"observedGeneration":1}}"#]));
    let (code, body) = post("/api/v1/namespaces/default/pods/p/eviction", &eviction);
    assert_eq!(code, 201, "{body}");
    assert!(!s.kubectl(&["get", "pod", "p"]).status.success());
    let pdb = json(&ok(s.kubectl(&["get", "pdb", "x", "-o", "json"])));
    assert_eq!(pdb["status"]["disruptionsAllowed"], 0);

    // Reviews answer for the caller.
    let (code, body) = post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    );
    assert_eq!(code, 201, "{body}");
    assert!(
        json(&body)["status"]["userInfo"]["groups"]
            .as_array()
            .expect("groups")
            .contains(&json!("system:masters"))
    );
    let ssar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "delete", "resource": "pods", "namespace": "default"}}});
    let (code, body) = post(
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        &ssar,
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(json(&body)["status"]["allowed"], true);
    let sar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "jane", "groups": ["system:authenticated"], "resourceAttributes": {"verb": "get", "resource": "secrets"}}});
    let (code, body) = post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &sar);
    assert_eq!(code, 201, "{body}");
    assert_eq!(json(&body)["status"]["allowed"], false);
    let bad = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {"user": "jane"}});
    let (code, body) = post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &bad);
    assert_eq!(code, 422, "{body}");
}

#[tokio::test]
async fn kube_rs_typed_pods_deployments_and_services() {
    let s = Server::start();
    let c = client(&s).await;
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let deploys: Api<Deployment> = Api::namespaced(c.clone(), "default");
    let svcs: Api<Service> = Api::namespaced(c.clone(), "default");

    let mut w = pods
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "krs", "labels": {"app": "krs"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
    )
    .expect("pod");
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let spec = created.spec.expect("spec");
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(
        spec.containers[0].image_pull_policy.as_deref(),
        Some("Always")
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ev = tokio::time::timeout_at(deadline, w.next())
            .await
            .expect("watch event in time");
        if let Some(Ok(WatchEvent::Added(p))) = ev
            && p.metadata.name.as_deref() == Some("krs")
        {
            break;
        }
    }
    let patched = pods
        .patch(
            "krs",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "x"}}})),
        )
        .await
        .expect("patch pod");
    assert_eq!(
        patched
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("tier"))
            .map(String::as_str),
        Some("x")
    );

    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "krs"},
        "spec": {"selector": {"matchLabels": {"app": "krs"}},
                 "template": {"metadata": {"labels": {"app": "krs"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}))
    .expect("deploy");
    let d = deploys
        .create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
    assert_eq!(d.spec.as_ref().and_then(|s| s.replicas), Some(1));
    let scaled = deploys
        .patch(
            "krs",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("patch deployment");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(4));
    assert_eq!(scaled.metadata.generation, Some(2));
    let listed = deploys.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);

    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "krs"},
        "spec": {"selector": {"app": "krs"}, "ports": [{"port": 80, "targetPort": 8080}]}}))
    .expect("svc");
    let svc = svcs
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
    let spec = svc.spec.expect("spec");
    assert!(
        spec.cluster_ip
            .as_deref()
            .is_some_and(|ip| ip.starts_with("10.0.0."))
    );
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let all = svcs
        .list(&ListParams::default())
        .await
        .expect("list services");
    assert_eq!(all.items.len(), 2);
}

#[test]
fn service_account_tokens_authenticate_until_their_account_goes() {
    let s = Server::start();
    ok(s.kubectl(&["create", "serviceaccount", "robot"]));
    let token = ok(s.kubectl(&["create", "token", "robot"]))
        .trim()
        .to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let as_robot = |args: &[&str]| s.kubectl_as(&token, args);
    let who = ok(as_robot(&["auth", "whoami", "-o", "json"]));
    assert_eq!(
        json(&who)["status"]["userInfo"]["username"],
        "system:serviceaccount:default:robot"
    );
    // Authenticated, but RBAC grants a service account nothing by default.
    let err = fails(as_robot(&["get", "pods"]));
    assert!(
        err.contains("User \"system:serviceaccount:default:robot\" cannot list resource \"pods\""),
        "{err}"
    );
    // TokenReview answers for the token as the authenticator does.
    let review = |t: &str| {
        let (code, body) = s.post_json(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": t}}),
        );
        assert_eq!(code, 201, "{body}");
        json(&body)["status"].clone()
    };
    let st = review(&token);
    assert_eq!(st["authenticated"], true);
    assert_eq!(
        st["user"]["username"],
        "system:serviceaccount:default:robot"
    );
    assert!(review("not-a-token").get("authenticated").is_none());
    // Too short a lifetime is refused; a bound pod must exist.
    let (code, body) = s.send_json("POST", "application/json", "/api/v1/namespaces/default/serviceaccounts/robot/token", r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":60}}"#);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("spec.expirationSeconds"), "{body}");
    let (code, body) = s.send_json("POST", "application/json", "/api/v1/namespaces/default/serviceaccounts/robot/token", r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"nope"}}}"#);
    assert_eq!(code, 404, "{body}");
    // A tampered token, and any token of a deleted account, get 401.
    let mut tampered = token.clone();
    tampered.pop();
    let (code, _) = s.curl_anonymous(&[
        "-H",
        &format!("Authorization: Bearer {tampered}"),
        &s.url("/api"),
    ]);
    assert_eq!(code, 401);
    ok(s.kubectl(&["delete", "serviceaccount", "robot"]));
    let err = fails(as_robot(&["auth", "whoami"]));
    assert!(err.contains("Unauthorized"), "{err}");
}

#[test]
fn new_pods_claims_and_nodes_get_upstreams_admission_defaults() {
    let s = Server::start();
    let post = |path: &str, body: Value| s.post_json(path, &body);
    let pod = |name: &str, extra: Value| {
        let mut spec = json!({"containers": [{"name": "c", "image": "nginx:1.27"}]});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
    };
    let (code, body) = post("/api/v1/namespaces/default/pods", pod("plain", json!({})));
    assert_eq!(code, 201, "{body}");
    let spec = &json(&body)["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(spec["enableServiceLinks"], true);
    let volume = spec["volumes"][0]["name"].as_str().expect("token volume");
    assert!(
        volume.starts_with("kube-api-access-") && volume.len() == 21,
        "{volume}"
    );
    assert_eq!(
        spec["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        3607
    );
    assert_eq!(
        spec["containers"][0]["volumeMounts"][0],
        json!({"name": volume, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    );
    let keys: Vec<&str> = spec["tolerations"]
        .as_array()
        .expect("tolerations")
        .iter()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable"
        ]
    );

    // A priority class sets the priority; unknown classes and accounts are refused.
    let (code, body) = post(
        "/api/v1/namespaces/default/pods",
        pod(
            "critical",
            json!({"priorityClassName": "system-node-critical", "automountServiceAccountToken": false}),
        ),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(json(&body)["spec"]["priority"], 2_000_001_000);
    assert!(json(&body)["spec"].get("volumes").is_none(), "{body}");
    let (code, body) = post(
        "/api/v1/namespaces/default/pods",
        pod("nopc", json!({"priorityClassName": "nope"})),
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("no PriorityClass with name nope was found"),
        "{body}"
    );
    let (code, body) = post(
        "/api/v1/namespaces/default/pods",
        pod("nosa", json!({"serviceAccountName": "ghost"})),
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("serviceaccount \\\"ghost\\\" not found")
            || body.contains("serviceaccount \"ghost\" not found"),
        "{body}"
    );

    // Claims and volumes are protected by finalizers; new nodes start tainted.
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    let (code, body) = post("/api/v1/namespaces/default/persistentvolumeclaims", pvc);
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        json(&body)["metadata"]["finalizers"],
        json!(["kubernetes.io/pvc-protection"])
    );
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
    let (code, body) = post("/api/v1/nodes", node);
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        json(&body)["spec"]["taints"],
        json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])
    );
    let rows = table(&ok(s.kubectl(&["get", "pods"])));
    assert_eq!(rows[0][..5], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(
        rows.iter()
            .any(|r| r[0] == "plain" && r[1] == "0/1" && r[2] == "Pending"),
        "{rows:?}"
    );
}

#[test]
fn debug_containers_and_resize_change_only_their_part() {
    let s = Server::start();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}});
    let (code, body) = s.post_json("/api/v1/namespaces/default/pods", &pod);
    assert_eq!(code, 201, "{body}");
    let out = s.kubectl(&[
        "debug",
        "p",
        "--image=busybox:1.36",
        "--container=dbg",
        "--",
        "sleep",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = json(&ok(s.kubectl(&["get", "pod", "p", "-o", "json"])));
    assert_eq!(got["spec"]["ephemeralContainers"][0]["name"], "dbg");
    // An ephemeral container cannot be removed again.
    let (code, body) = s.send_json(
        "PATCH",
        "application/json-patch+json",
        "/api/v1/namespaces/default/pods/p/ephemeralcontainers",
        r#"[{"op":"remove","path":"/spec/ephemeralContainers/0"}]"#,
    );
    assert_eq!(code, 422, "{body}");
    // resize changes resources and nothing else.
    ok(s.kubectl(&["patch", "pod", "p", "--subresource=resize", "--type=strategic", "-p",
        r#"{"spec":{"containers":[{"name":"c","image":"other","resources":{"requests":{"cpu":"250m"}}}]}}"#]));
    let got = json(&ok(s.kubectl(&["get", "pod", "p", "-o", "json"])));
    assert_eq!(
        got["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "250m"
    );
    assert_eq!(got["spec"]["containers"][0]["image"], "nginx:1.27");
}

#[test]
fn kubectl_create_scale_and_expose_a_deployment() {
    let s = Server::start_with(&["--service-cluster-ip-range=10.96.0.0/16"]);
    ok(s.kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=3",
    ]));
    ok(s.kubectl(&["scale", "deployment", "web", "--replicas=5"]));
    assert_eq!(
        ok(s.kubectl(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"])),
        "5"
    );
    ok(s.kubectl(&["expose", "deployment", "web", "--port=80"]));
    let ip = ok(s.kubectl(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]));
    assert!(ip.starts_with("10.96.") && ip != "10.96.0.1", "{ip}");
    let svc = json(&ok(s.kubectl(&["get", "svc", "web", "-o", "json"])));
    assert_eq!(svc["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
    // kubectl's typed commands speak protobuf: a job, a cronjob, a token.
    ok(s.kubectl(&["create", "job", "once", "--image=busybox"]));
    let job = json(&ok(s.kubectl(&["get", "job", "once", "-o", "json"])));
    assert_eq!(job["spec"]["backoffLimit"], 6);
    let uid = job["metadata"]["uid"].as_str().expect("uid");
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    let token = ok(s.kubectl(&["create", "token", "default"]));
    let who = json(&ok(
        s.kubectl_as(token.trim(), &["auth", "whoami", "-o", "json"])
    ));
    assert_eq!(
        who["status"]["userInfo"]["username"],
        "system:serviceaccount:default:default"
    );
    assert_eq!(
        ok(s.kubectl(&["auth", "can-i", "delete", "pods"])).trim(),
        "yes"
    );
    let out = s.kubectl_as(token.trim(), &["auth", "can-i", "delete", "pods"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
}

#[test]
fn invalid_objects_get_422_with_upstreams_field_paths() {
    let s = Server::start();
    let post = |path: &str, body: Value| s.post_json(path, &body);
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "a"}},
                 "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let (code, body) = post("/apis/apps/v1/namespaces/default/deployments", deploy);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("spec.template.metadata.labels"), "{body}");
    assert!(
        body.contains("`selector` does not match template `labels`"),
        "{body}"
    );

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "app", "image": "nginx"}, {"name": "app", "image": "busybox"}]}});
    let (code, body) = post("/api/v1/namespaces/default/pods", pod);
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(r#"spec.containers[1].name: Duplicate value: \"app\""#),
        "{body}"
    );

    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 70000}], "selector": {"app": "a"}}});
    let (code, body) = post("/api/v1/namespaces/default/services", svc);
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        ),
        "{body}"
    );
    // Nothing was allocated for the refused Service.
    let ips = ok(s.kubectl(&["get", "ipaddresses", "-o", "name"]));
    assert_eq!(ips.lines().count(), 1, "{ips}");

    // Immutable fields: a Deployment's selector, a Job's template.
    ok(s.kubectl(&["create", "deployment", "web", "--image=nginx"]));
    let err = fails(s.kubectl(&["patch", "deploy", "web", "--type=merge", "-p",
        r#"{"spec":{"selector":{"matchLabels":{"app":"web","x":"y"}},"template":{"metadata":{"labels":{"app":"web","x":"y"}}}}}"#]));
    assert!(
        err.contains("spec.selector") && err.contains("field is immutable"),
        "{err}"
    );
    ok(s.kubectl(&["create", "job", "j", "--image=busybox"]));
    let err = fails(s.kubectl(&[
        "patch",
        "job",
        "j",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"other"}]"#,
    ]));
    assert!(
        err.contains("spec.template") && err.contains("field is immutable"),
        "{err}"
    );
    // A Service's cluster IP may not change once set.
    ok(s.kubectl(&["create", "service", "clusterip", "fixed", "--tcp=80"]));
    // The allocator picks at random, so the new address must differ from the one it chose.
    let given = ok(s.kubectl(&["get", "svc", "fixed", "-o", "jsonpath={.spec.clusterIP}"]));
    let other = if given.trim() == "10.0.0.99" {
        "10.0.0.98"
    } else {
        "10.0.0.99"
    };
    let err = fails(s.kubectl(&[
        "patch",
        "svc",
        "fixed",
        "--type=merge",
        "-p",
        &format!(r#"{{"spec":{{"clusterIP":"{other}","clusterIPs":["{other}"]}}}}"#),
    ]));
    assert!(
        err.contains("spec.clusterIPs[0]") && err.contains("may not change once set"),
        "{err}"
    );
}

#[test]
fn the_kubernetes_endpoints_point_at_the_advertised_address() {
    let s = Server::start_with(&["--advertise-address=10.255.0.7"]);
    let ep = json(&ok(s.kubectl(&[
        "get",
        "endpoints",
        "kubernetes",
        "-o",
        "json",
    ])));
    assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "10.255.0.7");
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], s.port);
    let slice = json(&ok(s.kubectl(&[
        "get",
        "endpointslice",
        "kubernetes",
        "-o",
        "json",
    ])));
    assert_eq!(slice["endpoints"][0]["addresses"], json!(["10.255.0.7"]));
    assert_eq!(slice["ports"][0]["port"], s.port);
}

#[test]
fn rbac_roles_and_bindings_grant_a_service_account_what_they_say() {
    let s = Server::start();
    ok(s.kubectl(&["create", "namespace", "team"]));
    ok(s.kubectl(&["-n", "team", "create", "serviceaccount", "robot"]));
    let token = ok(s.kubectl(&["-n", "team", "create", "token", "robot"]))
        .trim()
        .to_string();
    let as_robot = |args: &[&str]| s.kubectl_as(&token, args);
    let err = fails(as_robot(&["-n", "team", "get", "configmaps"]));
    assert!(err.contains("cannot list resource \"configmaps\""), "{err}");
    ok(s.kubectl(&[
        "-n",
        "team",
        "create",
        "role",
        "reader",
        "--verb=get,list",
        "--resource=configmaps",
    ]));
    ok(s.kubectl(&[
        "-n",
        "team",
        "create",
        "rolebinding",
        "reader",
        "--role=reader",
        "--serviceaccount=team:robot",
    ]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !as_robot(&["-n", "team", "get", "configmaps"])
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the binding did not take effect"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Only what the role says, only where it is bound.
    assert_eq!(
        String::from_utf8_lossy(
            &as_robot(&["-n", "team", "auth", "can-i", "list", "configmaps"]).stdout
        )
        .trim(),
        "yes"
    );
    assert_eq!(
        String::from_utf8_lossy(
            &as_robot(&["-n", "team", "auth", "can-i", "delete", "configmaps"]).stdout
        )
        .trim(),
        "no"
    );
    let err = fails(as_robot(&["-n", "default", "get", "configmaps"]));
    assert!(err.contains("in the namespace \"default\""), "{err}");
    // The bootstrap policy is there as objects, as upstream's.
    let crb = json(&ok(s.kubectl(&[
        "get",
        "clusterrolebinding",
        "cluster-admin",
        "-o",
        "json",
    ])));
    assert_eq!(crb["subjects"][0]["name"], "system:masters");
}
