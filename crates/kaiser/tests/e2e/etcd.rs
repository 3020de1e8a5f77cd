//! kaiser on etcd (`--etcd-servers`): the kubectl workflow, and two replicas
//! sharing one etcd.

use std::time::{Duration, Instant};

use kaiser_storage::testing::EtcdProcess;

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
    let (mut watch, rx) =
        a.kubectl_stream(&["get", "cm", "-w", "--output-watch-events", "-o", "name"]);
    std::thread::sleep(Duration::from_millis(800));
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
