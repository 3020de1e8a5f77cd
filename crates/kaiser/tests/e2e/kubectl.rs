//! kubectl against kaiser: the everyday commands, in three kubectl versions.

use std::time::{Duration, Instant};

use crate::harness::{KUBECTL, Server, fails, json, kubectl_version, ok};

/// The whole everyday workflow with one kubectl binary, in namespace `ns`.
pub fn workflow(s: &Server, k: &str, ns: &str) {
    let run = |args: &[&str]| s.kubectl_with(k, args);
    assert!(ok(run(&["create", "namespace", ns])).contains(&format!("namespace/{ns} created")));
    ok(run(&[
        "-n",
        ns,
        "create",
        "configmap",
        "app",
        "--from-literal=color=blue",
        "--from-literal=size=3",
    ]));

    let yaml = ok(run(&["-n", ns, "get", "cm", "app", "-o", "yaml"]));
    assert!(
        yaml.contains("color: blue") && yaml.contains("kind: ConfigMap"),
        "{yaml}"
    );
    let obj = json(&ok(run(&["-n", ns, "get", "cm", "app", "-o", "json"])));
    assert_eq!(obj["data"]["size"], "3");
    assert_eq!(obj["metadata"]["namespace"], ns);
    assert!(
        obj["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(obj["metadata"]["creationTimestamp"].is_string());
    assert!(
        obj["metadata"].get("generateName").is_none(),
        "zero values are omitted"
    );
    assert_eq!(
        ok(run(&[
            "-n",
            ns,
            "get",
            "cm",
            "app",
            "-o",
            "jsonpath={.data.color}"
        ])),
        "blue"
    );
    let wide = ok(run(&["-n", ns, "get", "cm", "-o", "wide"]));
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "DATA", "AGE"]);
    assert!(
        wide.lines()
            .any(|l| l.starts_with("app ") && l.split_whitespace().nth(1) == Some("2")),
        "{wide}"
    );
    // Besides kube-root-ca.crt, which every namespace has.
    assert_eq!(
        ok(run(&["-n", ns, "get", "cm", "-o", "name"])).trim(),
        "configmap/app\nconfigmap/kube-root-ca.crt"
    );

    ok(run(&["-n", ns, "label", "cm", "app", "tier=web"]));
    ok(run(&["-n", ns, "annotate", "cm", "app", "owner=team-a"]));
    assert_eq!(
        ok(run(&[
            "-n", ns, "get", "cm", "-l", "tier=web", "-o", "name"
        ]))
        .trim(),
        "configmap/app"
    );
    assert_eq!(
        ok(run(&[
            "-n",
            ns,
            "get",
            "cm",
            "-l",
            "tier!=web",
            "-o",
            "name"
        ]))
        .trim(),
        "configmap/kube-root-ca.crt"
    );
    let obj = json(&ok(run(&["-n", ns, "get", "cm", "app", "-o", "json"])));
    assert_eq!(obj["metadata"]["annotations"]["owner"], "team-a");

    ok(run(&[
        "-n",
        ns,
        "patch",
        "cm",
        "app",
        "--type=merge",
        "-p",
        r#"{"data":{"size":"4","shape":"round"}}"#,
    ]));
    ok(run(&[
        "-n",
        ns,
        "patch",
        "cm",
        "app",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/data/color"}]"#,
    ]));
    let obj = json(&ok(run(&["-n", ns, "get", "cm", "app", "-o", "json"])));
    assert_eq!(
        obj["data"],
        serde_json::json!({"size": "4", "shape": "round"})
    );

    // replace with a stale resourceVersion: Conflict.
    let stale = s.dir.join(format!("stale-{ns}.json"));
    std::fs::write(&stale, serde_json::to_vec(&obj).expect("json")).expect("write");
    ok(run(&["-n", ns, "label", "cm", "app", "touched=yes"]));
    let err = fails(run(&["replace", "-f", stale.to_str().expect("path")]));
    assert!(
        err.contains("Conflict") || err.contains("the object has been modified"),
        "{err}"
    );

    // Pagination over 30 objects.
    s.create_configmaps(k, ns, "page", 30, 0, r#"{"page":"yes"}"#);
    let chunked = run(&[
        "-n",
        ns,
        "get",
        "cm",
        "-l",
        "page=yes",
        "--chunk-size=5",
        "-o",
        "name",
        "-v=6",
    ]);
    let stderr = String::from_utf8_lossy(&chunked.stderr).into_owned();
    let names = ok(chunked);
    assert_eq!(names.lines().count(), 30, "{names}");
    let requests = stderr.lines().filter(|l| l.contains("limit=5")).count();
    assert!(
        requests >= 6,
        "expected at least 6 paginated requests, saw {requests}:\n{stderr}"
    );

    ok(run(&["-n", ns, "delete", "cm", "app"]));
    let err = fails(run(&["-n", ns, "get", "cm", "app"]));
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );

    let resources = ok(run(&["api-resources"]));
    for want in [
        "configmaps",
        "namespaces",
        "secrets",
        "serviceaccounts",
        "events",
    ] {
        assert!(
            resources.lines().any(|l| l.starts_with(want)),
            "{want} missing:\n{resources}"
        );
    }
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["configmaps", "cm", "v1", "true", "ConfigMap"]),
        "{resources}"
    );
    let versions = ok(run(&["api-versions"]));
    for gv in [
        "v1",
        "apps/v1",
        "autoscaling/v1",
        "autoscaling/v2",
        "batch/v1",
        "events.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing: {versions}"
        );
    }
    let version = ok(run(&["version", "-o", "json"]));
    assert_eq!(
        json(&version)["serverVersion"]["gitVersion"],
        "v1.33.0-kaiser.0.1.0"
    );
}

#[test]
fn workflow_default_kubectl() {
    let s = Server::start();
    workflow(&s, KUBECTL, "flow-default");
}

#[test]
fn workflow_kubectl_1_27() {
    let s = Server::start();
    workflow(&s, &kubectl_version("1.27"), "flow-127");
}

#[test]
fn workflow_kubectl_1_33() {
    let s = Server::start();
    workflow(&s, &kubectl_version("1.33"), "flow-133");
}

#[test]
fn zero_config_start_lists_the_default_namespaces() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // No flags at all: the default port and data dir.
    let s = Server::start_in(tmp.path(), &[]);
    assert_eq!(s.port, 6443);
    let out = ok(s.kubectl(&["get", "ns", "-o", "name"]));
    let mut names: Vec<&str> = out.lines().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "namespace/default",
            "namespace/kube-node-lease",
            "namespace/kube-public",
            "namespace/kube-system"
        ]
    );
    for f in [
        "ca.crt",
        "ca.key",
        "apiserver.crt",
        "apiserver.key",
        "admin.crt",
        "admin.key",
    ] {
        assert!(s.pki(f).is_file(), "{f} missing");
    }
    let ca = std::fs::read(s.pki("ca.crt")).expect("ca");
    drop(s);
    // A second start reuses the certificates.
    let s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    assert_eq!(std::fs::read(s.pki("ca.crt")).expect("ca"), ca);
    ok(s.kubectl(&["get", "ns", "default"]));
}

#[test]
fn get_watch_streams_creation_change_and_deletion() {
    let s = Server::start();
    ok(s.kubectl(&["create", "namespace", "w"]));
    ok(s.kubectl(&["-n", "w", "create", "cm", "sentinel"]));
    let (mut watch, rx) =
        s.kubectl_stream(&["-n", "w", "get", "cm", "-w", "--output-watch-events"]);
    // Once the sentinel is printed kubectl has listed; it then watches from
    // the list's resourceVersion, so nothing after this point is missed.
    crate::harness::wait_for_line(&rx, "sentinel");
    ok(s.kubectl(&["-n", "w", "create", "cm", "watched", "--from-literal=a=1"]));
    ok(s.kubectl(&["-n", "w", "label", "cm", "watched", "changed=yes"]));
    ok(s.kubectl(&["-n", "w", "delete", "cm", "watched"]));
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while events.len() < 3 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let cols: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            if cols.get(1).map(String::as_str) == Some("watched") {
                events.push(cols[0].clone());
            }
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(events, ["ADDED", "MODIFIED", "DELETED"]);
}

/// The storage flags a kube-apiserver manifest may carry start kaiser and
/// do what they say: without a garbage collector `kubectl delete
/// --cascade=orphan` deletes at once (nothing would ever drop the `orphan`
/// finalizer), a DELETE of the collection with several workers removes
/// every object, and an ignored storage media type is said so in the log.
#[test]
fn upstream_storage_flags_are_accepted_and_applied() {
    let s = Server::start_with(&[
        "--delete-collection-workers=4",
        "--enable-garbage-collector=false",
        "--lease-reuse-duration-seconds=120",
        "--storage-media-type=application/yaml",
        "--storage-initialization-timeout=30s",
        "--etcd-count-metric-poll-period=0",
        "--etcd-db-metric-poll-interval=0",
    ]);
    ok(s.kubectl(&["create", "configmap", "lone", "--from-literal=k=v"]));
    ok(s.kubectl(&[
        "delete",
        "configmap",
        "lone",
        "--cascade=orphan",
        "--timeout=20s",
    ]));
    let gone = s.kubectl(&["get", "configmap", "lone"]);
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("NotFound"),
        "{gone:?}"
    );

    s.create_configmaps(KUBECTL, "default", "bulk", 40, 16, r#"{"app":"bulk"}"#);
    let (code, body) = s.curl_admin(&[
        "-X",
        "DELETE",
        &s.url("/api/v1/namespaces/default/configmaps?labelSelector=app%3Dbulk"),
    ]);
    assert_eq!(code, 200, "{body}");
    let deleted = json(&body);
    assert_eq!(
        deleted["items"].as_array().map(Vec::len),
        Some(40),
        "{body}"
    );
    let left = ok(s.kubectl(&["get", "configmap", "-l", "app=bulk", "-o", "name"]));
    assert!(left.trim().is_empty(), "{left}");
    assert!(
        s.log().contains("--storage-media-type is ignored"),
        "{}",
        s.log()
    );
}
