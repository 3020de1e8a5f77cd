//! Watch streaming: watch-list (sendInitialEvents) and slow consumers.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{Server, json, ok};
use serde_json::json;

#[test]
fn watch_list_streams_existing_objects_then_the_end_bookmark() {
    watch_list(&Server::start());
}

/// `--watch-cache=false`: everything read from storage, as upstream without
/// its cacher; the kubectl workflow and the streaming list work the same.
#[test]
fn without_watch_caches_everything_reads_from_storage() {
    let s = Server::start_with(&["--watch-cache=false"]);
    crate::kubectl::workflow(&s, crate::harness::KUBECTL, "uncached");
    watch_list(&s);
}

fn watch_list(s: &Server) {
    for n in ["wl-a", "wl-b"] {
        ok(s.kubectl(&["create", "configmap", n]));
    }
    let (mut child, rx) = s.kubectl_stream(&[
        "get",
        "--raw",
        "/api/v1/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
    ]);
    let mut events = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        let ev = json(&line);
        let done = ev["type"] == "BOOKMARK";
        events.push(ev);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let added: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "ADDED")
        .filter_map(|e| e["object"]["metadata"]["name"].as_str())
        .filter(|n| n.starts_with("wl-"))
        .collect();
    assert_eq!(added, ["wl-a", "wl-b"]);
    let last = events.last().expect("events");
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(
        last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[test]
fn a_watcher_that_stops_reading_neither_grows_memory_nor_stalls_others() {
    let s = Server::start();
    // The stalled watcher reads at one byte per second.
    let mut stalled = s
        .curl_admin_command()
        .args(["-N", "--http1.1", "--limit-rate", "1", "--max-time", "600"])
        .arg(s.url("/api/v1/namespaces/default/configmaps?watch=true"))
        .stdout(Stdio::null())
        .spawn()
        .expect("stalled watch");
    let mut healthy = s
        .curl_admin_command()
        .args(["-N", "--max-time", "600"])
        .arg(s.url("/api/v1/namespaces/default/configmaps?watch=true"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("healthy watch");
    let rx = crate::harness::lines(healthy.stdout.take().expect("stdout"));
    std::thread::sleep(Duration::from_millis(500));
    let rss_start = rss_kib(s.child.id());
    // 300 configmaps, each updated 40 times: 12,300 events of ~1.2 KiB.
    s.create_configmaps(crate::harness::KUBECTL, "default", "slow", 300, 1024, "{}");
    for round in 0..40 {
        ok(s.kubectl(&[
            "label",
            "cm",
            "--all",
            &format!("round={round}"),
            "--overwrite",
        ]));
    }
    // The healthy watcher sees every event.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < 300 * 41 && Instant::now() < deadline {
        if rx.recv_timeout(Duration::from_millis(500)).is_ok() {
            seen += 1;
        }
    }
    let rss_end = rss_kib(s.child.id());
    let _ = stalled.kill();
    let _ = healthy.kill();
    let _ = stalled.wait();
    let _ = healthy.wait();
    assert_eq!(seen, 300 * 41, "the healthy watcher missed events");
    // 12,300 events of ~1.2 KiB are ~15 MiB; a stalled watcher buffering them
    // all (plus the store's own growth) would show well above this bound.
    let grown_mib = rss_end.saturating_sub(rss_start) / 1024;
    assert!(
        grown_mib < 120,
        "RSS grew by {grown_mib} MiB with a stalled watcher"
    );
}

/// Events expire `--event-ttl` after their last write, in both API versions,
/// and watchers see them deleted; other kinds stay.
#[test]
fn events_expire_after_the_event_ttl() {
    let s = Server::start_with(&["--event-ttl=2s"]);
    ok(s.kubectl(&["create", "configmap", "stays"]));
    let (mut watch, rx) = s.kubectl_stream(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/events?watch=1&timeoutSeconds=30",
    ]);
    let core = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "core-event"},
        "involvedObject": {"kind": "ConfigMap", "name": "stays", "namespace": "default"},
        "reason": "Testing", "message": "expires", "type": "Normal"});
    let (code, body) = s.post_json("/api/v1/namespaces/default/events", &core);
    assert_eq!(code, 201, "{body}");
    let new = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "new-event"},
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "e2e",
        "reportingInstance": "e2e-1", "action": "Testing", "reason": "Testing",
        "regarding": {"kind": "ConfigMap", "name": "stays", "namespace": "default"},
        "type": "Normal"});
    let (code, body) = s.post_json("/apis/events.k8s.io/v1/namespaces/default/events", &new);
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut gone = Vec::new();
    while gone.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            panic!("events not deleted within 20 s; deleted so far: {gone:?}");
        };
        let ev = json(&line);
        if ev["type"] == "DELETED" {
            gone.push(
                ev["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    gone.sort();
    assert_eq!(gone, ["core-event", "new-event"]);
    let left = ok(s.kubectl(&["get", "events", "-o", "name"]));
    assert!(left.trim().is_empty(), "{left}");
    ok(s.kubectl(&["get", "configmap", "stays"]));
}

/// The `resourceVersion` of the configmap `name`, read with kubectl.
fn rv_of(s: &Server, name: &str) -> i64 {
    ok(s.kubectl(&[
        "get",
        "cm",
        name,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]))
    .parse()
    .expect("rv")
}

/// GET with a `resourceVersion`, on both backends: "0" and a revision the
/// store has reached answer the current object; a later one waits for the
/// store (a write arriving ends the wait) and is upstream's 504 (Too large
/// resource version) after 3 s (a streaming list its ERROR event), an
/// unparsable one its 500; LIST words
/// an unparsable one as upstream's 400, WATCH as its 500.
#[test]
fn get_honours_its_resource_version_as_upstream() {
    let etcd = kaiser_storage::testing::EtcdProcess::start();
    let on_etcd = format!("--etcd-servers={}", etcd.endpoint);
    for (backend, s) in [
        ("embedded", Server::start()),
        ("etcd", Server::start_with(&[&on_etcd])),
    ] {
        ok(s.kubectl(&["create", "configmap", "rv", "--from-literal=k=v"]));
        let rv: i64 = rv_of(&s, "rv");
        ok(s.kubectl(&["label", "cm", "rv", "later=yes"]));
        let path = "/api/v1/namespaces/default/configmaps/rv";
        for at in ["0".to_string(), rv.to_string()] {
            let (code, body) = s.curl_admin(&[&s.url(&format!("{path}?resourceVersion={at}"))]);
            assert_eq!(code, 200, "{backend} {at}: {body}");
            assert_eq!(
                json(&body)["metadata"]["labels"]["later"],
                "yes",
                "{backend}: {body}"
            );
        }

        // The next revision: the read waits for it (upstream's cache blocks
        // up to 3 s) and answers once a write gets there.
        let labelled: i64 = rv_of(&s, "rv");
        let next = format!("{path}?resourceVersion={}", labelled + 1);
        let (code, body) = std::thread::scope(|scope| {
            let read = scope.spawn(|| s.curl_admin(&[&s.url(&next)]));
            std::thread::sleep(Duration::from_millis(300));
            ok(s.kubectl(&["annotate", "cm", "rv", "later=yes"]));
            read.join().expect("reader")
        });
        assert_eq!(code, 200, "{backend}: {body}");

        let future = rv + 1_000_000;
        let (code, body) = s.curl_admin(&[&s.url(&format!("{path}?resourceVersion={future}"))]);
        let status = json(&body);
        assert_eq!(code, 504, "{backend}: {body}");
        assert_eq!(status["reason"], "Timeout", "{backend}: {body}");
        assert!(
            status["message"].as_str().is_some_and(
                |m| m.starts_with(&format!("Too large resource version: {future}, current: "))
            ),
            "{backend}: {body}"
        );
        assert_eq!(
            status["details"]["causes"][0]["reason"],
            "ResourceVersionTooLarge"
        );
        assert_eq!(status["details"]["retryAfterSeconds"], 1);
        // A streaming list from the future waits as long, then ends with
        // the same Status as its one ERROR event.
        let (code, body) = s.curl_admin(&[&s.url(&format!(
            "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion={future}"
        ))]);
        assert_eq!(code, 200, "{backend}: {body}");
        let events: Vec<_> = body.lines().map(json).collect();
        assert_eq!(events.len(), 1, "{backend}: {body}");
        assert_eq!(events[0]["type"], "ERROR", "{backend}: {body}");
        assert_eq!(events[0]["object"]["code"], 504, "{backend}: {body}");
        assert_eq!(
            events[0]["object"]["details"]["causes"][0]["reason"],
            "ResourceVersionTooLarge"
        );

        let (code, body) = s.curl_admin(&[&s.url(&format!("{path}?resourceVersion=abc"))]);
        let status = json(&body);
        assert_eq!(code, 500, "{backend}: {body}");
        assert!(status.get("reason").is_none(), "{backend}: {body}");
        assert_eq!(
            status["message"],
            r#"resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax"#
        );
        let (code, body) =
            s.curl_admin(&[&s.url("/api/v1/namespaces/default/configmaps?resourceVersion=abc")]);
        assert_eq!(code, 400, "{backend}: {body}");
        assert_eq!(
            json(&body)["message"],
            r#"invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax"#
        );
        let (code, body) = s.curl_admin(&[
            &s.url("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=abc")
        ]);
        let status = json(&body);
        assert_eq!(code, 500, "{backend}: {body}");
        assert!(status.get("reason").is_none(), "{backend}: {body}");
        assert!(
            status["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(r#"resourceVersion: Invalid value: "abc""#)),
            "{backend}: {body}"
        );
    }
}
