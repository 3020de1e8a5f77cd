//! Durability: objects and resourceVersions survive a restart, and every
//! acknowledged create survives `kill -9`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use crate::harness::{Server, json, ok};
use crate::kube_rs::client;

#[test]
fn objects_and_resource_versions_survive_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    ok(s.kubectl(&["create", "namespace", "keep"]));
    ok(s.kubectl(&[
        "-n",
        "keep",
        "create",
        "configmap",
        "c",
        "--from-literal=k=v",
    ]));
    let before = json(&ok(
        s.kubectl(&["-n", "keep", "get", "cm", "c", "-o", "json"])
    ));
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "{}", s.log());
    drop(s);
    let s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    let after = json(&ok(
        s.kubectl(&["-n", "keep", "get", "cm", "c", "-o", "json"])
    ));
    assert_eq!(after, before);
    // New writes continue the revision sequence.
    ok(s.kubectl(&["-n", "keep", "label", "cm", "c", "x=y"]));
    let relabeled = json(&ok(
        s.kubectl(&["-n", "keep", "get", "cm", "c", "-o", "json"])
    ));
    let rv = |v: &serde_json::Value| {
        v["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|r| r.parse::<i64>().ok())
            .expect("rv")
    };
    assert!(rv(&relabeled) > rv(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_kill_9() {
    kill_9_under_load(&["--secure-port=0"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_kill_9_on_etcd() {
    let etcd = kaiser_storage::testing::EtcdProcess::start();
    let flag = format!("--etcd-servers={}", etcd.endpoint);
    kill_9_under_load(&["--secure-port=0", &flag]).await;
}

/// Creates from 8 writers, `kill -9` mid-stream, restart with the same
/// flags and data dir: every acknowledged create must be there.
async fn kill_9_under_load(args: &[&str]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start_in(tmp.path(), args);
    let c = client(&s).await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..8 {
        let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..2000 {
                let name = format!("w{w}-{i}");
                let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": name},
                    "data": {"payload": "x".repeat(512)},
                }))
                .expect("cm");
                match api.create(&PostParams::default(), &cm).await {
                    Ok(_) => acked.lock().expect("lock").push(name),
                    Err(_) => return,
                }
            }
        }));
    }
    // Let the writers get going, then pull the plug.
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if acked.lock().expect("lock").len() >= 200 {
            break;
        }
    }
    s.signal("KILL");
    // Killed by a signal: no exit code.
    assert_eq!(s.wait_exit(Duration::from_secs(10)), None);
    assert!(
        s.child.try_wait().expect("try_wait").is_some(),
        "kaiser should be gone"
    );
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 50,
        "too few writes before the kill: {}",
        acked.len()
    );
    drop(s);
    let s = Server::start_in(tmp.path(), args);
    let c = client(&s).await;
    let api: Api<ConfigMap> = Api::namespaced(c, "default");
    let list = api.list(&Default::default()).await.expect("list");
    let present: std::collections::HashSet<String> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    let newest = list
        .metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse::<u64>().ok())
        .expect("list resourceVersion");
    let after = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "after-restart"}}))
                .expect("cm"),
        )
        .await
        .expect("create after restart");
    let rv: u64 = after
        .metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("rv");
    assert!(
        rv > newest,
        "resourceVersions must keep increasing: {rv} after {newest}"
    );
    let lost: Vec<&String> = acked.iter().filter(|n| !present.contains(*n)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged creates lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
}

/// Every file under `dir`, read whole.
fn files_under(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push(bytes);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Providers of an EncryptionConfiguration: an old key and its successor.
const OLD_KEY: &str = "      - secretbox: {keys: [{name: old, secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}]}\n";
const NEW_KEY: &str =
    "      - aescbc: {keys: [{name: new, secret: ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=}]}\n";

/// The embedded store keeps Secrets encrypted on disk (log and snapshot),
/// a new first key takes over writes while the old one still reads, and a
/// configuration without the key a value needs is a clear 500 for that
/// value that leaves the rest readable.
#[test]
fn secrets_are_encrypted_on_disk_and_keys_rotate() {
    use crate::etcd::encryption_flag;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (old, new) = (OLD_KEY, NEW_KEY);
    let first = encryption_flag(tmp.path(), "first.yaml", old);
    let mut s = Server::start_in(tmp.path(), &["--secure-port=0", &first]);
    ok(s.kubectl(&[
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=k=hunter2-marker",
    ]));
    ok(s.kubectl(&[
        "create",
        "configmap",
        "c1",
        "--from-literal=k=visible-marker",
    ]));
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "{}", s.log());
    drop(s);
    let disk = files_under(&tmp.path().join("kaiser-data/store"));
    assert!(
        disk.iter().any(|f| contains(f, b"visible-marker")),
        "the scan sees plain values"
    );
    for leak in [&b"hunter2-marker"[..], b"aHVudGVyMi1tYXJrZXI="] {
        assert!(
            !disk.iter().any(|f| contains(f, leak)),
            "a Secret is on disk in the clear"
        );
    }

    // Rotation: the new key writes, the old one still reads.
    let second = encryption_flag(tmp.path(), "second.yaml", &format!("{new}{old}"));
    let mut s = Server::start_in(tmp.path(), &["--secure-port=0", &second]);
    let value = |s: &Server, name: &str| {
        ok(s.kubectl(&["get", "secret", name, "-o", "jsonpath={.data.k}"]))
    };
    assert_eq!(value(&s, "s1"), "aHVudGVyMi1tYXJrZXI=");
    ok(s.kubectl(&[
        "create",
        "secret",
        "generic",
        "s2",
        "--from-literal=k=second",
    ]));
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "{}", s.log());
    drop(s);

    // The old key gone: s1 cannot be read, and says why; s2 still can.
    let third = encryption_flag(tmp.path(), "third.yaml", new);
    let s = Server::start_in(tmp.path(), &["--secure-port=0", &third]);
    assert_eq!(value(&s, "s2"), "c2Vjb25k");
    let out = s.kubectl(&["get", "secret", "s1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("InternalError") && err.contains("k8s:enc:secretbox:v1:old"),
        "{err}"
    );
    assert!(!err.contains("MDEyMzQ1"), "key material in an error: {err}");
    assert_eq!(
        ok(s.kubectl(&["get", "configmap", "c1", "-o", "jsonpath={.data.k}"])),
        "visible-marker"
    );
}

/// The embedded store's disk fills up: the write that did not fit is not
/// seen by readers, later writes get a clear error at once, reads and
/// readiness go on, and once space is freed writes resume without a
/// restart; after one, every acknowledged object is there.
#[test]
fn a_full_disk_refuses_writes_until_space_is_freed_and_loses_nothing() {
    let disk = kaiser_storage::testing::SmallDisk::mount(24 << 20);
    let tmp = tempfile::tempdir().expect("tempdir");
    crate::harness::store_on(&disk, tmp.path());
    let mut s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    let data = tmp.path().join("data.txt");
    std::fs::write(&data, "x".repeat(700 << 10)).expect("data file");
    let from_file = format!("--from-file=data={}", data.display());
    disk.fill_leaving(2 << 20);

    let mut acked = Vec::new();
    let mut refused = None;
    let mut held = None;
    for i in 0..8 {
        let name = format!("big{i}");
        let out = s.kubectl(&[
            "create",
            "configmap",
            &name,
            &from_file,
            "--request-timeout=3s",
        ]);
        if out.status.success() {
            acked.push(name);
            continue;
        }
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if err.contains("disk is full") {
            refused = Some(err);
            break;
        }
        // The create whose batch did not fit waits for room: kubectl gives up.
        assert!(held.is_none(), "two creates timed out: {err}");
        held = Some(name);
    }
    let err = refused.expect("a create was refused");
    assert!(
        err.contains("Internal error occurred: the store's disk is full (No space left on device")
            && err.contains("writes resume once space is freed"),
        "{err}"
    );
    assert!(!acked.is_empty(), "the disk filled before any create");

    // Reads show exactly what was acknowledged; the server stays ready.
    let names = |s: &Server| {
        let out = ok(s.kubectl(&["get", "cm", "-o", "name"]));
        let mut v: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("configmap/"))
            .filter(|n| n.starts_with("big"))
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&s), acked);
    assert_eq!(ok(s.kubectl(&["get", "--raw", "/readyz"])), "ok");

    // Space freed: writes resume within a few seconds, without a restart.
    disk.free();
    let start = std::time::Instant::now();
    while !s
        .kubectl(&["create", "configmap", "after", "--from-literal=k=v"])
        .status
        .success()
    {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut expected = acked.clone();
    expected.extend(held.clone());
    expected.sort();
    assert_eq!(names(&s), expected);
    assert!(s.log().contains("writes resume"), "{}", s.log());

    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "{}", s.log());
    drop(s);
    let s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    assert_eq!(names(&s), expected);
    ok(s.kubectl(&["get", "cm", "after"]));
}

/// A store log damaged before intact records (not a crash's torn tail):
/// kaiser refuses to start rather than drop acknowledged writes, says where
/// and how to start anyway, and starts once the log is cut there.
#[test]
fn a_log_damaged_mid_way_is_refused_with_a_way_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("kaiser-data/store/store.log");
    let mut s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    ok(s.kubectl(&["create", "configmap", "early", "--from-literal=k=v"]));
    // A clean stop leaves the log as long as its records (a running store
    // reserves space after them).
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "{}", s.log());
    drop(s);
    let damage_at = std::fs::metadata(&log).expect("log").len() - 10;
    let mut s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    for i in 0..3 {
        ok(s.kubectl(&[
            "create",
            "configmap",
            &format!("late{i}"),
            "--from-literal=k=v",
        ]));
    }
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "{}", s.log());
    drop(s);
    let mut bytes = std::fs::read(&log).expect("read log");
    bytes[damage_at as usize] ^= 0x20;
    std::fs::write(&log, &bytes).expect("write log");

    let out = std::process::Command::new(crate::harness::KAISER)
        .arg("--secure-port=0")
        .current_dir(tmp.path())
        .output()
        .expect("run kaiser");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is damaged at byte") && stderr.contains("kaiser does not drop them"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&log).expect("read log"),
        bytes,
        "the log was changed"
    );
    let cut: u64 = stderr
        .split("truncate -s ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the message says where to cut");
    assert!(cut <= damage_at, "{cut} > {damage_at}");

    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .and_then(|f| f.set_len(cut))
        .expect("truncate");
    let s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    let names = ok(s.kubectl(&["get", "cm", "-o", "name"]));
    assert!(!names.contains("late"), "{names}");
    ok(s.kubectl(&["get", "namespace", "default"]));
    ok(s.kubectl(&["create", "configmap", "again", "--from-literal=k=v"]));
}

/// `--encryption-provider-config-automatic-reload`: a new first key in the
/// file takes over writes without a restart while the old one still
/// reads; a broken file is logged and the configuration in use stays.
#[test]
fn the_encryption_configuration_is_reloaded_while_running() {
    use crate::etcd::encryption_flag;
    use std::time::Instant;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (old, new) = (OLD_KEY, NEW_KEY);
    let flag = encryption_flag(tmp.path(), "enc.yaml", old);
    let s = Server::start_in(
        tmp.path(),
        &[
            "--secure-port=0",
            &flag,
            "--encryption-provider-config-automatic-reload",
            // Secrets read from the store, so that reads decrypt.
            "--watch-cache-sizes=secrets#0",
        ],
    );
    let store = tmp.path().join("kaiser-data/store");
    let on_disk = |marker: &[u8]| files_under(&store).iter().any(|f| contains(f, marker));
    ok(s.kubectl(&["create", "secret", "generic", "s0", "--from-literal=k=v0"]));
    assert!(on_disk(b"k8s:enc:secretbox:v1:old:"));

    encryption_flag(tmp.path(), "enc.yaml", &format!("{new}{old}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut probes = 0;
    while !on_disk(b"k8s:enc:aescbc:v1:new:") {
        assert!(Instant::now() < deadline, "not reloaded: {}", s.log());
        probes += 1;
        let name = format!("probe{probes}");
        ok(s.kubectl(&["create", "secret", "generic", &name, "--from-literal=k=v"]));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        s.log().contains("encryption configuration reloaded"),
        "{}",
        s.log()
    );
    // Written with the old key, still read.
    assert_eq!(
        ok(s.kubectl(&["get", "secret", "s0", "-o", "jsonpath={.data.k}"])),
        "djA="
    );

    std::fs::write(
        tmp.path().join("enc.yaml"),
        "kind: NotAnEncryptionConfiguration\n",
    )
    .expect("break the file");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s.log().contains("is not valid; the one in use stays") {
        assert!(
            Instant::now() < deadline,
            "the broken file went unnoticed: {}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    ok(s.kubectl(&["create", "secret", "generic", "after", "--from-literal=k=v"]));
    assert_eq!(
        ok(s.kubectl(&["get", "secret", "after", "-o", "jsonpath={.data.k}"])),
        "dg=="
    );
}
