//! kaiser on etcd (`--etcd-servers`): the kubectl workflow, and two replicas
//! sharing one etcd.

use std::time::{Duration, Instant};

use kaiser_storage::testing::{EtcdCluster, EtcdProcess};

use crate::harness::{KUBECTL, Server, ok};
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
    assert!(body.contains("[-]etcd failed"), "{body}");
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
/// quorum, watches end ("no leader": kaiser asks for a leader as upstream's
/// watches do) and kaiser reports not ready, rather than serving a watch
/// cache that silently stops; with every member listed, kaiser serves on
/// through the others when one dies.
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while watch.try_wait().expect("try_wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "a watch through a member without a leader was still open after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_ready(
        &only_first,
        500,
        "kaiser stayed ready without an etcd leader",
    );
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
    let (code, body) = every.curl_admin(&[&every
        .url("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=2&resourceVersion=0")]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("after-failover"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_live_under_the_etcd_prefix() {
    use kaiser_storage::Storage;
    use kaiser_storage::etcd::{EtcdConfig, EtcdStore};
    let etcd = EtcdProcess::start();
    let flag = format!("--etcd-servers={}", etcd.endpoint);
    let s = Server::start_with(&[&flag, "--etcd-prefix=/kaiser-test"]);
    ok(s.kubectl(&["create", "configmap", "prefixed", "--from-literal=a=1"]));
    let cfg = EtcdConfig {
        endpoints: vec![etcd.endpoint.clone()],
        ..Default::default()
    };
    let raw = EtcdStore::connect(&cfg, Duration::from_secs(10))
        .await
        .expect("connect");
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

/// A client of the etcd at `endpoint`, to look at what kaiser stored.
async fn raw(endpoint: &str) -> kaiser_storage::etcd::EtcdStore {
    let cfg = kaiser_storage::etcd::EtcdConfig {
        endpoints: vec![endpoint.to_string()],
        ..Default::default()
    };
    kaiser_storage::etcd::EtcdStore::connect(&cfg, Duration::from_secs(10))
        .await
        .expect("connect")
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

    let (main_raw, events_raw) = (raw(&main.endpoint).await, raw(&events.endpoint).await);
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
