//! kaiser on etcd (`--etcd-servers`): the kubectl workflow, and two replicas
//! sharing one etcd.

use std::time::{Duration, Instant};

use kaiser_storage::testing::{EtcdCluster, EtcdProcess};

use crate::harness::{KUBECTL, Server, json, ok};
use crate::kubectl::workflow;

fn on_etcd(etcd: &EtcdProcess) -> Server {
    let flag = format!("--etcd-servers={}", etcd.endpoint);
    Server::start_with(&[&flag])
}

#[test]
fn kubectl_workflow_on_etcd() {
    let etcd = EtcdProcess::start();
    let s = on_etcd(&etcd);
    let (code, body) = s.curl_anonymous(&[&s.url("/readyz/etcd")]);
    assert_eq!((code, body.as_str()), (200, "ok"));
    // As upstream: etcd in both; its readiness check in /readyz only.
    let (_, readyz) = s.curl_anonymous(&[&s.url("/readyz?verbose")]);
    assert!(
        readyz.contains("[+]etcd ok\n[+]etcd-readiness ok"),
        "{readyz}"
    );
    let (_, livez) = s.curl_anonymous(&[&s.url("/livez?verbose")]);
    assert!(
        livez.contains("[+]etcd ok") && !livez.contains("readiness"),
        "{livez}"
    );
    workflow(&s, KUBECTL, "on-etcd");
}

#[test]
fn two_replicas_see_each_others_writes() {
    let etcd = EtcdProcess::start();
    let a = on_etcd(&etcd);
    let b = on_etcd(&etcd);
    ok(a.kubectl(&["create", "configmap", "sentinel"]));
    let (mut watch, rx) =
        a.kubectl_stream(&["get", "cm", "-w", "--output-watch-events", "-o", "name"]);
    crate::harness::wait_for_line(&rx, "configmap/sentinel");
    ok(b.kubectl(&["create", "configmap", "from-b", "--from-literal=x=1"]));
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen = line.contains("configmap/from-b");
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(
        seen,
        "replica A's watch did not see the configmap created through replica B"
    );
    // And reads agree.
    let on_a = ok(a.kubectl(&[
        "get",
        "cm",
        "from-b",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]));
    let on_b = ok(b.kubectl(&[
        "get",
        "cm",
        "from-b",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]));
    assert_eq!(on_a, on_b);
}

#[test]
fn etcd_outage_makes_kaiser_unready_until_etcd_returns() {
    let mut etcd = EtcdProcess::start();
    let s = on_etcd(&etcd);
    ok(s.kubectl(&["create", "configmap", "before", "--from-literal=a=1"]));
    etcd.kill();
    let (code, _) = s.curl_anonymous(&[&s.url("/readyz/etcd")]);
    assert_eq!(code, 500, "etcd is down");
    let (code, body) = s.curl_anonymous(&[&s.url("/readyz?verbose")]);
    assert_eq!(code, 500);
    assert!(
        body.contains("[-]etcd failed") && body.contains("[-]etcd-readiness failed"),
        "{body}"
    );
    let (code, _) = s.curl_anonymous(&[&s.url("/readyz/etcd-readiness")]);
    assert_eq!(code, 500);
    etcd.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, _) = s.curl_anonymous(&[&s.url("/readyz")]);
        if code == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "kaiser did not recover after etcd came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = ok(s.kubectl(&["get", "configmap", "before", "-o", "jsonpath={.data.a}"]));
    assert_eq!(got, "1");
    ok(s.kubectl(&["create", "configmap", "after", "--from-literal=a=2"]));
}

/// Polls `/readyz` until it answers `want` (at most 30 s).
fn wait_ready(s: &Server, want: u16, why: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.curl_anonymous(&[&s.url("/readyz")]).0 != want {
        assert!(Instant::now() < deadline, "{why}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// kaiser on a three-member etcd cluster. Through a member that loses its
/// quorum, kaiser reports not ready at once, and watches end once the watch
/// cache has tried to resume for 30 s ("no leader": kaiser asks for a
/// leader as upstream's watches do), rather than serving a watch cache that
/// silently stops; with every member listed, kaiser serves on through the
/// others when one dies.
#[test]
fn etcd_members_that_fail_are_noticed_and_others_serve_on() {
    let mut cluster = EtcdCluster::start(3);
    let only_first =
        Server::start_with(&[&format!("--etcd-servers={}", cluster.members[0].endpoint)]);
    let every = Server::start_with(&[&format!("--etcd-servers={}", cluster.endpoints())]);
    ok(only_first.kubectl(&["create", "configmap", "before"]));

    // The first member alone: its watches end once it has no leader.
    let mut watch = only_first
        .curl_admin_command()
        .arg("-N")
        .arg(only_first.url("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=120"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("curl watch");
    std::thread::sleep(Duration::from_millis(500));
    cluster.members[1].pause();
    cluster.members[2].pause();
    wait_ready(
        &only_first,
        500,
        "kaiser stayed ready without an etcd leader",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while watch.try_wait().expect("try_wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "a watch through a member without a leader was still open after 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.members[1].resume();
    cluster.members[2].resume();
    wait_ready(
        &only_first,
        200,
        "kaiser did not recover with the quorum back",
    );
    wait_ready(
        &every,
        200,
        "the second kaiser did not recover with the quorum back",
    );

    // Every member listed: one dies, kaiser goes on through the others, and
    // a watch started after sees what is written.
    cluster.members[0].kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !every
        .kubectl(&["create", "configmap", "after-failover"])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "no write went through the other members"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, body) =
        every.curl_admin(&[&every.url("/api/v1/namespaces/default/configmaps/before")]);
    assert_eq!(code, 200, "{body}");
    // The watch cache resumes its own watch through another member; until
    // it has, resourceVersion=0 may serve the state before (as upstream's).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = every.curl_admin(&[&every.url(
            "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=2&resourceVersion=0",
        )]);
        assert_eq!(code, 200, "{body}");
        if body.contains("after-failover") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watch cache did not follow the other members: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_live_under_the_etcd_prefix() {
    use kaiser_storage::Storage;
    let etcd = EtcdProcess::start();
    let flag = format!("--etcd-servers={}", etcd.endpoint);
    let s = Server::start_with(&[&flag, "--etcd-prefix=/kaiser-test"]);
    ok(s.kubectl(&["create", "configmap", "prefixed", "--from-literal=a=1"]));
    let raw = etcd.store().await;
    let (kv, _) = raw
        .get("/kaiser-test/configmaps/default/prefixed", None)
        .await
        .expect("get");
    let stored: serde_json::Value =
        serde_json::from_slice(&kv.expect("stored under the prefix").value).expect("json");
    assert_eq!(stored["data"]["a"], "1");
    assert!(
        stored["metadata"].get("resourceVersion").is_none(),
        "the revision is not stored"
    );
    let (none, _) = raw
        .get("/registry/configmaps/default/prefixed", None)
        .await
        .expect("get");
    assert!(none.is_none());
}

async fn stored(store: &kaiser_storage::etcd::EtcdStore, key: &str) -> bool {
    use kaiser_storage::Storage;
    store.get(key, None).await.expect("get").0.is_some()
}

/// `--etcd-servers-overrides=/events#…`: Events (in both API versions) live
/// in their own etcd, everything else in the main one, and readiness checks
/// both, the override under upstream's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_can_live_in_their_own_etcd() {
    let main = EtcdProcess::start();
    let events = EtcdProcess::start();
    let s = Server::start_with(&[
        &format!("--etcd-servers={}", main.endpoint),
        &format!("--etcd-servers-overrides=/events#{}", events.endpoint),
    ]);
    ok(s.kubectl(&["create", "configmap", "in-main"]));
    let ev = serde_json::json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "in-events"},
        "involvedObject": {"kind": "ConfigMap", "name": "in-main", "namespace": "default"},
        "reason": "Testing", "message": "m", "type": "Normal"});
    let (code, body) = s.post_json("/api/v1/namespaces/default/events", &ev);
    assert_eq!(code, 201, "{body}");
    let listed = ok(s.kubectl(&["get", "events.events.k8s.io", "-o", "name"]));
    assert_eq!(listed.trim(), "event.events.k8s.io/in-events");

    let (main_raw, events_raw) = (main.store().await, events.store().await);
    assert!(stored(&events_raw, "/registry/events/default/in-events").await);
    assert!(!stored(&main_raw, "/registry/events/default/in-events").await);
    assert!(stored(&main_raw, "/registry/configmaps/default/in-main").await);
    assert!(!stored(&events_raw, "/registry/configmaps/default/in-main").await);

    let (code, body) = s.curl_anonymous(&[&s.url("/readyz?verbose")]);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("[+]etcd ok") && body.contains("[+]etcd-override-0 ok"),
        "{body}"
    );
}

/// A CA and a certificate it signs, as PEM files in `dir`.
fn tls_files(
    dir: &std::path::Path,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, SanType,
    };
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.distinguished_name
        .push(DnType::CommonName, "etcd-test-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |cn: &str, eku: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().expect("ip"))];
        p.extended_key_usages = vec![eku, ExtendedKeyUsagePurpose::ClientAuth];
        (
            p.signed_by(&key, &issuer).expect("leaf").pem(),
            key.serialize_pem(),
        )
    };
    let write = |name: &str, pem: &str| {
        let p = dir.join(name);
        std::fs::write(&p, pem).expect("write");
        p
    };
    let (server_cert, server_key) = leaf("etcd", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf("kaiser", ExtendedKeyUsagePurpose::ClientAuth);
    (
        write("ca.crt", &ca_cert.pem()),
        write("server.crt", &server_cert),
        write("server.key", &server_key),
        write("client.crt", &client_cert),
        write("client.key", &client_key),
    )
}

#[test]
fn kaiser_talks_to_etcd_over_mutual_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, server_cert, server_key, client_cert, client_key) = tls_files(dir.path());
    let etcd = EtcdProcess::start_with_tls(Some((&ca, &server_cert, &server_key)));
    let args = [
        format!("--etcd-servers={}", etcd.endpoint),
        format!("--etcd-cafile={}", ca.display()),
        format!("--etcd-certfile={}", client_cert.display()),
        format!("--etcd-keyfile={}", client_key.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Server::start_with(&args);
    ok(s.kubectl(&["create", "configmap", "over-tls", "--from-literal=a=1"]));
    assert_eq!(
        ok(s.kubectl(&["get", "cm", "over-tls", "-o", "jsonpath={.data.a}"])),
        "1"
    );
    let (code, _) = s.curl_anonymous(&[&s.url("/readyz/etcd")]);
    assert_eq!(code, 200);
}

/// A built-in object as kube-apiserver stores it in etcd (protobuf).
fn upstream_value(api_version: &str, kind: &str, object: &[u8]) -> bytes::Bytes {
    crate::protobuf::envelope(api_version, kind, object).into()
}

/// ObjectMeta with a name, namespace, uid, creation time and labels, and
/// a `map<string, …>` entry: the protobuf pieces the objects below share.
fn meta(name: &str, namespace: &str, labels: &[(&str, &str)]) -> Vec<u8> {
    use kaiser_apimachinery::protobuf::write;
    let mut m = Vec::new();
    write::string(&mut m, 1, name);
    write::string(&mut m, 3, namespace);
    write::string(
        &mut m,
        5,
        &format!("5f0c4b7e-0000-4000-8000-{:012}", name.len()),
    );
    let mut time = Vec::new();
    write::int64(&mut time, 1, 1_700_000_000);
    write::message(&mut m, 8, &time);
    for (k, v) in labels {
        write::message(&mut m, 11, &entry(k, v.as_bytes()));
    }
    m
}

fn entry(key: &str, value: &[u8]) -> Vec<u8> {
    use kaiser_apimachinery::protobuf::write;
    let mut e = Vec::new();
    write::string(&mut e, 1, key);
    write::message(&mut e, 2, value);
    e
}

fn configmap_pb(name: &str, data: &[(&str, &str)]) -> bytes::Bytes {
    use kaiser_apimachinery::protobuf::write;
    let mut cm = Vec::new();
    write::message(&mut cm, 1, &meta(name, "legacy", &[("app", "old")]));
    for (k, v) in data {
        write::message(&mut cm, 2, &entry(k, v.as_bytes()));
    }
    upstream_value("v1", "ConfigMap", &cm)
}

/// An etcd that kube-apiserver wrote (built-in kinds as protobuf, its
/// default storage media type; CRDs under their group) is served as it
/// would serve it: reads, selectors and watches see the objects, custom
/// resources are served, writes store them back as JSON,
/// a value another apiserver writes while kaiser runs reaches its watch
/// cache, and a value encrypted at rest is refused by name and leaves the
/// rest of the resource readable once it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etcd_kube_apiserver_wrote_is_served() {
    use kaiser_apimachinery::protobuf::write;
    use kaiser_storage::Storage;
    let etcd = EtcdProcess::start();
    let store = etcd.store().await;
    let put = |key: &str, value: bytes::Bytes| {
        let (store, key) = (&store, key.to_string());
        async move { store.create(&key, value).await.expect("put") }
    };
    let mut ns = Vec::new();
    write::message(&mut ns, 1, &meta("legacy", "", &[]));
    let mut spec = Vec::new();
    write::string(&mut spec, 1, "kubernetes");
    write::message(&mut ns, 2, &spec);
    let mut status = Vec::new();
    write::string(&mut status, 1, "Active");
    write::message(&mut ns, 3, &status);
    put(
        "/registry/namespaces/legacy",
        upstream_value("v1", "Namespace", &ns),
    )
    .await;
    let settings_rev = put(
        "/registry/configmaps/legacy/settings",
        configmap_pb("settings", &[("mode", "fast")]),
    )
    .await;
    let mut secret = Vec::new();
    write::message(&mut secret, 1, &meta("token", "legacy", &[]));
    write::message(&mut secret, 2, &entry("password", b"s3cr3t"));
    write::string(&mut secret, 3, "Opaque");
    put(
        "/registry/secrets/legacy/token",
        upstream_value("v1", "Secret", &secret),
    )
    .await;
    // A CRD where kube-apiserver keeps them (`<prefix>/<group>/<resource>/`)
    // and one of its objects (custom resources are JSON upstream too); and
    // a CRD where kaiser kept them before, which moves on start-up.
    let crd = |plural: &str, kind: &str| -> bytes::Bytes {
        serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.stable.example.com"),
                         "uid": format!("7d2f0c1e-0000-4000-8000-{:012}", plural.len()),
                         "creationTimestamp": "2025-05-01T00:00:00Z"},
            "spec": {"group": "stable.example.com", "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind,
                               "listKind": format!("{kind}List")},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                     "properties": {"spec": {"type": "object",
                                       "x-kubernetes-preserve-unknown-fields": true}}}}}]}})
        .to_string()
        .into()
    };
    put(
        "/registry/apiextensions.k8s.io/customresourcedefinitions/crontabs.stable.example.com",
        crd("crontabs", "CronTab"),
    )
    .await;
    put(
        "/registry/stable.example.com/crontabs/legacy/nightly",
        serde_json::json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "nightly", "namespace": "legacy",
                         "uid": "7d2f0c1e-0000-4000-8000-0000000000aa",
                         "creationTimestamp": "2025-05-02T00:00:00Z"},
            "spec": {"schedule": "0 3 * * *"}})
        .to_string()
        .into(),
    )
    .await;
    put(
        "/registry/customresourcedefinitions/backups.stable.example.com",
        crd("backups", "Backup"),
    )
    .await;

    let s = on_etcd(&etcd);

    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["get", "-n", "legacy", "-o", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok(s.kubectl(&all))).expect("kubectl prints JSON")
    };
    let ns = json(&["namespace", "legacy"]);
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["spec"]["finalizers"], serde_json::json!(["kubernetes"]));
    let cm = json(&["configmap", "settings"]);
    assert_eq!(cm["apiVersion"], "v1");
    assert_eq!(cm["data"], serde_json::json!({"mode": "fast"}));
    assert_eq!(cm["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(cm["metadata"]["resourceVersion"], settings_rev.to_string());
    assert_eq!(
        cm["metadata"]["uid"],
        "5f0c4b7e-0000-4000-8000-000000000008"
    );
    let schedule = |kind: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = s.kubectl(&[
                "get",
                kind,
                "-n",
                "legacy",
                "-o",
                "jsonpath={.items[*].spec.schedule}",
            ]);
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            assert!(Instant::now() < deadline, "{kind} not served: {out:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    assert_eq!(schedule("crontabs"), "0 3 * * *");
    assert_eq!(schedule("backups"), "");
    let moved =
        "/registry/apiextensions.k8s.io/customresourcedefinitions/backups.stable.example.com";
    assert!(stored(&store, moved).await);
    assert!(
        !stored(
            &store,
            "/registry/customresourcedefinitions/backups.stable.example.com"
        )
        .await
    );
    let selected = ok(s.kubectl(&["get", "cm", "-n", "legacy", "-l", "app=old", "-o", "name"]));

    assert_eq!(selected.trim(), "configmap/settings");
    assert_eq!(
        json(&["secret", "token"])["data"]["password"],
        "czNjcjN0",
        "bytes come back base64 encoded"
    );

    // A write stores the object back as JSON, keeping what was there.
    ok(s.kubectl(&["label", "cm", "settings", "-n", "legacy", "touched=yes"]));
    let (kv, _) = store
        .get("/registry/configmaps/legacy/settings", None)
        .await
        .expect("get");
    let value = kv.expect("still stored").value;
    let back: serde_json::Value = serde_json::from_slice(&value).expect("stored as JSON now");
    assert_eq!(
        back["metadata"]["labels"],
        serde_json::json!({"app": "old", "touched": "yes"})
    );
    assert_eq!(back["data"], serde_json::json!({"mode": "fast"}));

    // Another apiserver's write reaches the watch cache and the watchers.
    let (mut watch, rx) = s.kubectl_stream(&["get", "cm", "-n", "legacy", "-w", "-o", "name"]);
    crate::harness::wait_for_line(&rx, "configmap/settings");
    put(
        "/registry/configmaps/legacy/later",
        configmap_pb("later", &[("written", "elsewhere")]),
    )
    .await;
    crate::harness::wait_for_line(&rx, "configmap/later");
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(
        json(&["configmap", "later"])["data"],
        serde_json::json!({"written": "elsewhere"})
    );

    // Encrypted at rest: a clear 500, and nothing else is lost.
    let sealed = "/registry/secrets/legacy/sealed";
    put(
        sealed,
        bytes::Bytes::from_static(b"k8s:enc:aescbc:v1:key1:\x8f\x01\x02"),
    )
    .await;
    let out = s.kubectl(&["get", "secret", "sealed", "-n", "legacy"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("InternalError") && err.contains("encrypted at rest") && err.contains(sealed),
        "{err}"
    );
    store
        .delete(sealed, None)
        .await
        .expect("remove the sealed value");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = s.kubectl(&["get", "secrets", "-n", "legacy", "-o", "name"]);
        if out.status.success() {
            let names = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(names.contains("secret/token"), "{names}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "secrets stayed unreadable: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        json(&["configmap", "settings"])["metadata"]["labels"]["touched"],
        "yes"
    );
}

/// The addresses of `default/kubernetes` as the Endpoints and the
/// EndpointSlice give them, each sorted.
fn kubernetes_endpoints(s: &Server) -> (Vec<String>, Vec<String>) {
    let get = |what: &str, path: &str| -> Vec<String> {
        let out = s.kubectl(&["get", what, "kubernetes", "-o", &format!("jsonpath={path}")]);
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    (
        get("endpoints", "{.subsets[*].addresses[*].ip}"),
        get(
            "endpointslices.discovery.k8s.io",
            "{.endpoints[*].addresses[*]}",
        ),
    )
}

fn wait_for_endpoints(s: &Server, want: &[&str], limit: Duration, why: &str) {
    let want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
    let deadline = Instant::now() + limit;
    loop {
        let (eps, slice) = kubernetes_endpoints(s);
        if eps == want && slice == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{why}: endpoints {eps:?}, slice {slice:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Upstream's lease endpoint reconciler: every replica on one etcd is in the
/// `kubernetes` endpoints; one that shuts down takes itself out at once, one
/// that dies drops out when its 15 s lease runs out. (The advertised
/// addresses are data only: all traffic stays on 127.0.0.1.)
#[test]
fn the_kubernetes_endpoints_list_every_live_replica() {
    let etcd = EtcdProcess::start();
    let flag = format!("--etcd-servers={}", etcd.endpoint);
    let replica = |ip: &str| Server::start_with(&[&flag, &format!("--advertise-address={ip}")]);
    let a = replica("10.0.0.1");
    wait_for_endpoints(&a, &["10.0.0.1"], Duration::from_secs(5), "one replica");
    let mut b = replica("10.0.0.2");
    wait_for_endpoints(
        &a,
        &["10.0.0.1", "10.0.0.2"],
        Duration::from_secs(5),
        "two replicas",
    );
    let eps = ok(a.kubectl(&["get", "endpoints", "kubernetes", "-o", "json"]));
    let eps: serde_json::Value = serde_json::from_str(&eps).expect("json");
    assert_eq!(
        eps["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"],
        "true"
    );
    assert_eq!(eps["subsets"].as_array().map(Vec::len), Some(1));

    // A graceful stop leaves the endpoints before draining.
    b.signal("TERM");
    assert_eq!(b.wait_exit(Duration::from_secs(30)), Some(0), "{}", b.log());
    wait_for_endpoints(&a, &["10.0.0.1"], Duration::from_secs(3), "after B stopped");

    // A replica killed outright stays until its lease expires.
    let mut c = replica("10.0.0.3");
    wait_for_endpoints(
        &a,
        &["10.0.0.1", "10.0.0.3"],
        Duration::from_secs(5),
        "C joined",
    );
    c.signal("KILL");
    let _ = c.wait_exit(Duration::from_secs(5));
    let killed = Instant::now();
    wait_for_endpoints(
        &a,
        &["10.0.0.1"],
        Duration::from_secs(40),
        "after C was killed",
    );
    assert!(
        killed.elapsed() >= Duration::from_secs(10),
        "dropped after {:?}, before its lease could run out",
        killed.elapsed()
    );
}

/// Writes an EncryptionConfiguration for Secrets with `providers` (YAML
/// list items) into `dir`; returns the flag that names it.
pub fn encryption_flag(dir: &std::path::Path, name: &str, providers: &str) -> String {
    let path = dir.join(name);
    let body = format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n{providers}"
    );
    std::fs::write(&path, body).expect("write the encryption config");
    format!("--encryption-provider-config={}", path.display())
}

/// Runs testdata/at_rest.py (Python's `cryptography`, not kaiser's code).
fn at_rest_py(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/testdata/at_rest.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "at_rest.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const GCM_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const CBC_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// `--encryption-provider-config` on etcd, checked against an independent
/// implementation of kube-apiserver's formats: what kaiser stores opens
/// with Python's `cryptography` (AES-GCM bound to the etcd key), and what
/// that writes (AES-CBC, as a kube-apiserver with an older key would) kaiser
/// reads; plain values still read through `identity`; other resources are
/// stored as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_encrypted_at_rest_as_kube_apiserver_does() {
    use kaiser_storage::Storage;
    let etcd = EtcdProcess::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = encryption_flag(
        dir.path(),
        "enc.yaml",
        &format!(
            "      - aesgcm: {{keys: [{{name: current, secret: {GCM_KEY}}}]}}\n      - aescbc: {{keys: [{{name: older, secret: {CBC_KEY}}}]}}\n      - identity: {{}}\n"
        ),
    );
    let s = Server::start_with(&[&format!("--etcd-servers={}", etcd.endpoint), &flag]);
    ok(s.kubectl(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=s3cr3t",
    ]));
    ok(s.kubectl(&["create", "configmap", "plain", "--from-literal=a=visible"]));
    let store = etcd.store().await;
    let stored = |key: &'static str| {
        let store = &store;
        async move {
            store
                .get(key, None)
                .await
                .expect("get")
                .0
                .expect("stored")
                .value
        }
    };
    let key = "/registry/secrets/default/creds";
    let sealed = stored(key).await;
    assert!(sealed.starts_with(b"k8s:enc:aesgcm:v1:current:"));
    for leak in [&b"s3cr3t"[..], b"czNjcjN0", b"creds"] {
        assert!(
            !sealed.windows(leak.len()).any(|w| w == leak),
            "plaintext at rest"
        );
    }
    let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
    let opened: serde_json::Value =
        serde_json::from_str(&at_rest_py(&["open", "aesgcm", GCM_KEY, key, &hex])).expect("JSON");
    assert_eq!(opened["data"]["password"], "czNjcjN0");
    assert_eq!(opened["metadata"]["name"], "creds");
    assert!(
        stored("/registry/configmaps/default/plain")
            .await
            .starts_with(b"{")
    );

    // Written elsewhere, with the older key, then plain: both read.
    let upstream_key = "/registry/secrets/default/from-upstream";
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "from-upstream", "namespace": "default",
                     "uid": "6b1c2a9e-0000-4000-8000-000000000001",
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "data": {"token": "dXBzdHJlYW0="}, "type": "Opaque"});
    let sealed_hex = at_rest_py(&[
        "seal",
        "aescbc",
        "older",
        CBC_KEY,
        upstream_key,
        &secret.to_string(),
    ]);
    let sealed: Vec<u8> = (0..sealed_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&sealed_hex[i..i + 2], 16).expect("hex"))
        .collect();
    store
        .create(upstream_key, sealed.into())
        .await
        .expect("put");
    let mut plain = secret.clone();
    plain["metadata"]["name"] = "plain-secret".into();
    store
        .create(
            "/registry/secrets/default/plain-secret",
            plain.to_string().into(),
        )
        .await
        .expect("put");
    let token =
        |name: &str| ok(s.kubectl(&["get", "secret", name, "-o", "jsonpath={.data.token}"]));
    assert_eq!(token("from-upstream"), "dXBzdHJlYW0=");
    assert_eq!(token("plain-secret"), "dXBzdHJlYW0=");
    // A write re-encrypts with the current key.
    ok(s.kubectl(&["label", "secret", "from-upstream", "rotated=yes"]));
    assert!(
        stored(upstream_key)
            .await
            .starts_with(b"k8s:enc:aesgcm:v1:current:")
    );
}

/// Objects an older kube-apiserver stored in versions no longer served
/// (nothing rewrites them on upgrade) are served in the GA version, with
/// what upstream's conversion does on read; the lists around them work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_stored_in_retired_beta_versions_are_served() {
    use kaiser_apimachinery::protobuf::write;
    use kaiser_storage::Storage;
    let etcd = EtcdProcess::start();
    let store = etcd.store().await;
    let name = |n: &str| {
        let mut m = Vec::new();
        write::string(&mut m, 1, n);
        m
    };
    // A FlowSchema as 1.26-1.28 stored it.
    let mut plc_ref = Vec::new();
    write::string(&mut plc_ref, 1, "legacy-level");
    let mut fs_spec = Vec::new();
    write::message(&mut fs_spec, 1, &plc_ref);
    write::int64(&mut fs_spec, 2, 4000);
    let mut fs = Vec::new();
    write::message(&mut fs, 1, &name("legacy-flows"));
    write::message(&mut fs, 2, &fs_spec);
    // A priority level as 1.23-1.25 stored it: zero shares meant 30.
    let mut reject = Vec::new();
    write::string(&mut reject, 1, "Reject");
    let mut limited = Vec::new();
    write::int64(&mut limited, 1, 0);
    write::message(&mut limited, 2, &reject);
    let mut plc_spec = Vec::new();
    write::string(&mut plc_spec, 1, "Limited");
    write::message(&mut plc_spec, 2, &limited);
    let mut plc = Vec::new();
    write::message(&mut plc, 1, &name("legacy-level"));
    write::message(&mut plc, 2, &plc_spec);
    // A ClusterRole from before RBAC went GA.
    let mut rule = Vec::new();
    write::string(&mut rule, 1, "list");
    write::message(&mut rule, 2, b""); // the core group, ""
    write::string(&mut rule, 3, "configmaps");
    let mut role = Vec::new();
    write::message(&mut role, 1, &name("legacy-reader"));
    write::message(&mut role, 2, &rule);
    let fc = "flowcontrol.apiserver.k8s.io";
    for (key, value) in [
        (
            "/registry/flowschemas/legacy-flows",
            upstream_value(&format!("{fc}/v1beta3"), "FlowSchema", &fs),
        ),
        (
            "/registry/prioritylevelconfigurations/legacy-level",
            upstream_value(&format!("{fc}/v1beta2"), "PriorityLevelConfiguration", &plc),
        ),
        (
            "/registry/clusterroles/legacy-reader",
            upstream_value("rbac.authorization.k8s.io/v1beta1", "ClusterRole", &role),
        ),
    ] {
        store.create(key, value).await.expect("put");
    }
    let s = on_etcd(&etcd);
    let got = ok(s.kubectl(&[
        "get",
        "flowschema",
        "legacy-flows",
        "-o",
        "jsonpath={.apiVersion} {.spec.priorityLevelConfiguration.name} {.spec.matchingPrecedence}",
    ]));
    assert_eq!(got, format!("{fc}/v1 legacy-level 4000"));
    let got = ok(s.kubectl(&[
        "get",
        "prioritylevelconfiguration",
        "legacy-level",
        "-o",
        "jsonpath={.spec.limited.nominalConcurrencyShares}",
    ]));
    assert_eq!(got, "30");
    let listed = ok(s.kubectl(&["get", "flowschemas", "-o", "name"]));
    assert!(
        listed.contains("legacy-flows") && listed.contains("catch-all"),
        "{listed}"
    );
    let got = ok(s.kubectl(&[
        "get",
        "clusterrole",
        "legacy-reader",
        "-o",
        "jsonpath={.apiVersion} {.rules[0].verbs[0]} {.rules[0].resources[0]}",
    ]));
    assert_eq!(got, "rbac.authorization.k8s.io/v1 list configmaps");
    // Updated through kaiser, it is stored in the GA version.
    ok(s.kubectl(&["label", "clusterrole", "legacy-reader", "moved=yes"]));
    let (kv, _) = store
        .get("/registry/clusterroles/legacy-reader", None)
        .await
        .expect("get");
    let stored: serde_json::Value =
        serde_json::from_slice(&kv.expect("kept").value).expect("stored as JSON");
    assert_eq!(stored["apiVersion"], "rbac.authorization.k8s.io/v1");
}

/// A NodePort Service kube-apiserver stored (protobuf, its allocations in
/// its own bitmaps, which kaiser does not read) keeps its cluster IP and
/// node port: kaiser's repair pass before serving allocates them, so they
/// are not handed out again, and says so in Events, as upstream's repair
/// controllers do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_kube_apiserver_stored_keep_their_ip_and_node_port() {
    use kaiser_apimachinery::protobuf::write;
    use kaiser_storage::Storage;
    let etcd = EtcdProcess::start();
    let store = etcd.store().await;
    let mut port = Vec::new();
    write::string(&mut port, 2, "TCP");
    write::int64(&mut port, 3, 80);
    write::int64(&mut port, 5, 30777);
    let mut spec = Vec::new();
    write::message(&mut spec, 1, &port);
    write::string(&mut spec, 3, "10.0.0.77");
    write::string(&mut spec, 4, "NodePort");
    write::string(&mut spec, 18, "10.0.0.77");
    let mut svc = Vec::new();
    write::message(&mut svc, 1, &meta("legacy", "default", &[]));
    write::message(&mut svc, 2, &spec);
    store
        .create(
            "/registry/services/specs/default/legacy",
            upstream_value("v1", "Service", &svc),
        )
        .await
        .expect("put");
    let s = on_etcd(&etcd);
    let parent = ok(s.kubectl(&[
        "get",
        "ipaddress",
        "10.0.0.77",
        "-o",
        "jsonpath={.spec.parentRef.namespace}/{.spec.parentRef.name}",
    ]));
    assert_eq!(parent, "default/legacy");
    let out = s.kubectl(&[
        "create",
        "service",
        "nodeport",
        "clash",
        "--tcp=80:80",
        "--node-port=30777",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("provided port is already allocated"), "{err}");
    let out = s.kubectl(&[
        "create",
        "service",
        "clusterip",
        "clash",
        "--tcp=80:80",
        "--clusterip=10.0.0.77",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already allocated"), "{err}");
    let reasons = ok(s.kubectl(&[
        "get",
        "events",
        "--field-selector=involvedObject.name=legacy",
        "-o",
        "jsonpath={.items[*].reason}",
    ]));
    assert!(
        reasons.contains("ClusterIPNotAllocated") && reasons.contains("PortNotAllocated"),
        "{reasons}"
    );
    // kubectl sees the Service as written, and a new one gets other values.
    let got = ok(s.kubectl(&[
        "get",
        "service",
        "legacy",
        "-o",
        "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}",
    ]));
    assert_eq!(got, "10.0.0.77 30777");
    ok(s.kubectl(&["create", "service", "nodeport", "fresh", "--tcp=80:80"]));
    let fresh = ok(s.kubectl(&[
        "get",
        "service",
        "fresh",
        "-o",
        "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}",
    ]));
    assert_ne!(fresh, "10.0.0.77 30777");
}

/// etcd stopping and coming back with its data does not end watches (the
/// watch caches resume from their revision, as upstream's reflectors do):
/// a `kubectl get -w` open across the outage sees the object created after
/// it, and a client re-watching from a resourceVersion it saw before the
/// outage gets every event since, not 410.
#[test]
fn watches_go_on_across_an_etcd_restart() {
    let mut etcd = EtcdProcess::start();
    let s = on_etcd(&etcd);
    ok(s.kubectl(&["create", "configmap", "before"]));
    let rv = ok(s.kubectl(&[
        "get",
        "configmap",
        "before",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]));
    let (mut watch, rx) = s.kubectl_stream(&["get", "cm", "-w", "-o", "name"]);
    crate::harness::wait_for_line(&rx, "configmap/before");
    etcd.kill();
    wait_ready(&s, 500, "kaiser stayed ready without etcd");
    etcd.restart();
    wait_ready(&s, 200, "kaiser did not recover after etcd came back");
    ok(s.kubectl(&["create", "configmap", "after"]));
    crate::harness::wait_for_line(&rx, "configmap/after");
    assert!(
        matches!(watch.try_wait(), Ok(None)),
        "kubectl's watch ended"
    );
    let _ = watch.kill();
    let _ = watch.wait();
    let (code, body) = s.curl_admin(&[&s.url(&format!(
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=3"
    ))]);
    assert_eq!(code, 200, "{body}");
    let events: Vec<(String, String)> = body
        .lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l).expect("one JSON event per line");
            let name = e["object"]["metadata"]["name"].as_str().unwrap_or("");
            (
                e["type"].as_str().unwrap_or("").to_string(),
                name.to_string(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [("ADDED".to_string(), "after".to_string())],
        "{body}"
    );
}

/// Creates made at once through the API go to etcd in batches, so some
/// share a resourceVersion. A kube-rs watch sees each exactly once, in
/// order, and a watch resumed from a shared resourceVersion gets exactly the
/// objects written after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_made_at_once_on_etcd_reach_watches_whole() {
    use std::collections::{BTreeMap, BTreeSet};

    use futures_util::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};

    let etcd = EtcdProcess::start();
    let s = on_etcd(&etcd);
    let api: Api<ConfigMap> = Api::default_namespaced(crate::kube_rs::client(&s).await);
    let start = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a list resourceVersion");
    let mut watch = api
        .watch(&WatchParams::default(), &start)
        .await
        .expect("watch")
        .boxed();
    let mut creates = Vec::new();
    for i in 0..64 {
        let api = api.clone();
        creates.push(tokio::spawn(async move {
            let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("at-once-{i:02}")},
                "data": {"i": i.to_string()},
            }))
            .expect("configmap");
            let made = api
                .create(&PostParams::default(), &cm)
                .await
                .expect("create");
            let rv = made.metadata.resource_version.expect("resourceVersion");
            (
                rv.parse::<i64>().expect("numeric"),
                made.metadata.name.expect("name"),
            )
        }));
    }
    let mut written = BTreeMap::<i64, BTreeSet<String>>::new();
    for c in creates {
        let (rv, name) = c.await.expect("task");
        written.entry(rv).or_default().insert(name);
    }
    assert!(written.len() < 64, "no creates shared a batch: {written:?}");
    // And one after them all, so that something follows every batch.
    let last: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "last"}}))
        .expect("configmap");
    let last = api
        .create(&PostParams::default(), &last)
        .await
        .expect("create");
    let last_rv = last.metadata.resource_version.expect("resourceVersion");
    written
        .entry(last_rv.parse().expect("numeric"))
        .or_default()
        .insert("last".into());

    // (revision, name) of the next `n` ADDED events.
    async fn added(
        w: &mut (impl futures_util::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin),
        n: usize,
    ) -> Vec<(i64, String)> {
        let mut got = Vec::new();
        while got.len() < n {
            let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
                .await
                .expect("an event in time")
                .expect("the watch goes on")
                .expect("an event");
            match ev {
                // The root CA publisher's ConfigMap may come and go.
                WatchEvent::Added(cm) | WatchEvent::Modified(cm)
                    if cm.metadata.name.as_deref() == Some("kube-root-ca.crt") => {}
                WatchEvent::Added(cm) => got.push((
                    cm.metadata
                        .resource_version
                        .and_then(|rv| rv.parse().ok())
                        .expect("resourceVersion"),
                    cm.metadata.name.expect("name"),
                )),
                WatchEvent::Bookmark(_) => {}
                other => panic!("{other:?}"),
            }
        }
        got
    }
    let seen = added(&mut watch, 65).await;
    assert!(
        seen.windows(2).all(|p| p[0].0 <= p[1].0),
        "in order: {seen:?}"
    );
    let mut by_rev = BTreeMap::<i64, BTreeSet<String>>::new();
    for (rv, name) in seen {
        by_rev.entry(rv).or_default().insert(name);
    }
    assert_eq!(by_rev, written);

    // From a resourceVersion several objects share: those after it only.
    let (&shared, _) = written
        .iter()
        .find(|(_, names)| names.len() > 1)
        .expect("a shared resourceVersion");
    let later: BTreeSet<String> = written
        .range(shared + 1..)
        .flat_map(|(_, n)| n.clone())
        .collect();
    let mut resumed = api
        .watch(&WatchParams::default(), &shared.to_string())
        .await
        .expect("watch")
        .boxed();
    let got: BTreeSet<String> = added(&mut resumed, later.len())
        .await
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    assert_eq!(got, later);
}

/// A value in etcd that is not an object (written by hand, or damaged) fails
/// every LIST that reaches it: with a 500 `Status` when it lies in the first
/// 128 KiB of the body, which are made before the response starts, and
/// later by aborting the response; never as a shorter list that looks
/// whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_value_fails_the_lists_that_reach_it() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, ListParams};

    let etcd = EtcdProcess::start();
    let s = on_etcd(&etcd);
    ok(s.kubectl(&["create", "namespace", "late"]));
    ok(s.kubectl(&["create", "namespace", "early"]));
    // 200 ConfigMaps of 1 KiB: a body of about 260 KB.
    s.create_configmaps(KUBECTL, "late", "cm", 200, 1024, "{}");
    s.create_configmaps(KUBECTL, "early", "cm", 200, 1024, "{}");
    let client = crate::kube_rs::client(&s).await;
    let late: Api<ConfigMap> = Api::namespaced(client.clone(), "late");
    let early: Api<ConfigMap> = Api::namespaced(client, "early");
    let listed = late.list(&ListParams::default()).await.expect("list");
    let made = |n: &Option<String>| n.as_deref().is_some_and(|n| n.starts_with("cm-"));
    assert_eq!(
        listed
            .items
            .iter()
            .filter(|c| made(&c.metadata.name))
            .count(),
        200
    );
    etcd.put_at_one_revision(&[
        ("/registry/configmaps/late/zz-damaged", "not an object"),
        ("/registry/configmaps/early/aa-damaged", "not an object"),
    ])
    .await;

    // Last in its list: the response has started when it is reached. The
    // consistent read first: once it has seen the write, so has the cache.
    for lp in [ListParams::default(), ListParams::default().match_any()] {
        if let Ok(list) = late.list(&lp).await {
            panic!("a list of {} items looked whole", list.items.len());
        }
    }
    // kubectl (HTTP/2, gzip) reading the bytes as they come: the response
    // is aborted, not ended.
    let out = s.kubectl(&["get", "--raw", "/api/v1/namespaces/late/configmaps"]);
    assert!(
        !out.status.success(),
        "kubectl took a cut-short list of {} bytes",
        out.stdout.len()
    );
    // First in its list: a Status naming the damaged object.
    match early.list(&ListParams::default()).await {
        Err(kube::Error::Api(st)) => {
            assert_eq!(st.code, 500, "{st:?}");
            assert!(st.message.contains("aa-damaged"), "{}", st.message);
        }
        other => panic!("expected a 500 Status, got {other:?}"),
    }
    // Lists that do not reach it, and the server, are unharmed.
    let page = late
        .list(&ListParams::default().limit(150))
        .await
        .expect("a page");
    assert_eq!(page.items.len(), 150);
    let one = late.get("cm-07").await.expect("get");
    assert_eq!(one.data.expect("data")["p"].len(), 1024);
    ok(s.kubectl(&["get", "namespaces"]));
}

/// A value over etcd's request limit (1.5 MiB) is refused as kube-apiserver
/// refuses it, with etcd's own error, on either backend, and nothing is
/// stored; one that fits once its managed fields are dropped is stored
/// without them, as upstream retries such a write.
#[test]
fn values_over_the_etcd_request_limit_get_etcds_error_on_both_backends() {
    let etcd = EtcdProcess::start();
    for (backend, s) in [("embedded", Server::start()), ("etcd", on_etcd(&etcd))] {
        let crd = serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition", "metadata": {"name": "blobs.limits.example.com"},
            "spec": {"group": "limits.example.com", "scope": "Namespaced",
                "names": {"plural": "blobs", "kind": "Blob"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]}});
        let (code, body) = s.post_json(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &crd,
        );
        assert_eq!(code, 201, "{backend}: {body}");
        crate::crd::wait_established(&s, "blobs.limits.example.com");
        let blob = |name: &str, field: &str, value: serde_json::Value| {
            let obj = serde_json::json!({"apiVersion": "limits.example.com/v1",
                "kind": "Blob", "metadata": {"name": name}, field: value});
            crate::crd_more::file(&s.dir, name, &obj)
        };

        // 1.6 MB: under the 3 MiB body limit, over etcd's.
        let big = blob("big", "data", serde_json::json!("y".repeat(1_600_000)));
        let out = s.kubectl(&["create", "-f", &big]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success()
                && stderr.starts_with("Error from server: error when creating")
                && stderr
                    .trim_end()
                    .ends_with(": etcdserver: request is too large"),
            "{backend}: {stderr}"
        );
        let (code, body) = s.curl_admin(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{big}"),
            &s.url("/apis/limits.example.com/v1/namespaces/default/blobs"),
        ]);
        let status = crate::harness::json(&body);
        assert_eq!(code, 500, "{backend}: {body}");
        assert_eq!(status["message"], "etcdserver: request is too large");
        assert!(status.get("reason").is_none(), "{backend}: {body}");
        let out = s.kubectl(&["get", "blobs", "big"]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("NotFound"),
            "{backend}: nothing may be stored"
        );

        // About 0.9 MB of keys: with the managed fields that list every
        // one of them it is over the limit, without them it fits.
        let keys: serde_json::Map<String, serde_json::Value> = (0..28_000)
            .map(|i| {
                (
                    format!("key-{i:05}-padding-xxxx"),
                    serde_json::Value::from("v"),
                )
            })
            .collect();
        let wide = blob("wide", "keys", serde_json::Value::Object(keys));
        ok(s.kubectl(&["create", "-f", &wide]));
        let stored = crate::harness::json(&ok(s.kubectl(&[
            "get",
            "blob",
            "wide",
            "-o",
            "json",
            "--show-managed-fields",
        ])));
        assert_eq!(
            stored["keys"].as_object().map(|k| k.len()),
            Some(28_000),
            "{backend}"
        );
        assert!(
            stored["metadata"].get("managedFields").is_none(),
            "{backend}: stored without its managed fields"
        );
        // The server and what it stored are intact.
        ok(s.kubectl(&["create", "configmap", "after-big"]));
    }
}

/// etcd over its space quota (its NOSPACE alarm): writes get etcd's own
/// words in upstream's shape (a 500 without a reason, which kubectl prints
/// as `Error from server: …`); reads and readiness go on.
#[test]
fn etcds_space_quota_error_reaches_clients_in_etcds_words() {
    let etcd = EtcdProcess::start_with_flags(vec![format!("--quota-backend-bytes={}", 12 << 20)]);
    let s = on_etcd(&etcd);
    let data = s.dir.join("data.txt");
    std::fs::write(&data, "x".repeat(700 << 10)).expect("data file");
    let from_file = format!("--from-file=data={}", data.display());
    let mut created = 0;
    let err = loop {
        let out = s.kubectl(&["create", "configmap", &format!("big{created}"), &from_file]);
        if !out.status.success() {
            break String::from_utf8_lossy(&out.stderr).to_string();
        }
        created += 1;
        assert!(created < 40, "etcd never ran out of space");
    };
    let words = "etcdserver: mvcc: database space exceeded";
    assert!(err.trim_end().ends_with(&format!(": {words}")), "{err}");

    let small = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "small"}, "data": {"k": "v"}});
    let file = crate::crd_more::file(&s.dir, "small", &small);
    let out = s.kubectl(&["create", "-f", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error from server: error when creating")
            && stderr.trim_end().ends_with(&format!(": {words}")),
        "{stderr}"
    );
    let (code, body) = s.post_json("/api/v1/namespaces/default/configmaps", &small);
    let status = json(&body);
    assert_eq!(code, 500, "{body}");
    assert_eq!(status["message"], words, "{body}");
    assert!(status.get("reason").is_none(), "{body}");

    let names = ok(s.kubectl(&["get", "cm", "-o", "name"]));
    assert_eq!(
        names
            .lines()
            .filter(|l| l.starts_with("configmap/big"))
            .count(),
        created,
        "{names}"
    );
    assert_eq!(ok(s.kubectl(&["get", "--raw", "/readyz"])), "ok");
}
