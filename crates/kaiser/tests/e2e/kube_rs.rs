//! kube-rs (typed client) against kaiser.

use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::harness::Server;

pub async fn client(s: &Server) -> Client {
    let kc = Kubeconfig::read_from(s.kubeconfig()).expect("kubeconfig");
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(cfg).expect("client")
}

/// The next change a watch stream delivers (bookmarks skipped), within 10 s.
async fn next_change(
    stream: &mut (impl futures_util::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin),
) -> (&'static str, ConfigMap) {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("event");
        return match ev {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        };
    }
}

fn cm(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"suite": "kube-rs"}},
        "data": {"v": v},
    }))
    .expect("configmap")
}

async fn namespace(c: &Client, name: &str) {
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("ns");
    Api::<Namespace>::all(c.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create ns");
}

#[tokio::test]
async fn typed_crud_list_and_watch() {
    let s = Server::start();
    let c = client(&s).await;
    namespace(&c, "krs").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "krs");
    // The namespace's own ConfigMap (kube-root-ca.crt) arrives from a
    // controller; let it land first so the watch below sees only ours.
    let mut tries = 0;
    while api
        .get_opt("kube-root-ca.crt")
        .await
        .expect("get")
        .is_none()
    {
        tries += 1;
        assert!(tries < 200, "kube-root-ca.crt never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let created = api
        .create(&PostParams::default(), &cm("one", "1"))
        .await
        .expect("create");
    let rv0: u64 = created
        .metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("rv");
    assert!(created.metadata.uid.is_some());
    let got = api.get("one").await.expect("get");
    assert_eq!(
        got.data
            .as_ref()
            .and_then(|d| d.get("v"))
            .map(String::as_str),
        Some("1")
    );

    let err = api
        .create(&PostParams::default(), &cm("one", "x"))
        .await
        .expect_err("duplicate");
    match err {
        kube::Error::Api(e) => assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("unexpected {other:?}"),
    }

    // Watch from the creation's resourceVersion: exactly the later events.
    let stream = api
        .watch(&WatchParams::default().timeout(10), &rv0.to_string())
        .await
        .expect("watch");
    let mut stream = stream.boxed();
    api.create(&PostParams::default(), &cm("two", "2"))
        .await
        .expect("create two");
    let mut two = api.get("two").await.expect("get two");
    two.data = Some([("v".to_string(), "22".to_string())].into());
    api.replace("two", &PostParams::default(), &two)
        .await
        .expect("replace");
    api.delete("one", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let (kind, o) = next_change(&mut stream).await;
        seen.push((kind, o.metadata.name.unwrap_or_default()));
    }
    assert_eq!(
        seen,
        [
            ("ADDED", "two".to_string()),
            ("MODIFIED", "two".to_string()),
            ("DELETED", "one".to_string())
        ]
    );

    let list = api
        .list(&ListParams::default().labels("suite=kube-rs"))
        .await
        .expect("list");
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, ["two"]);
    assert!(list.metadata.resource_version.is_some());
    api.delete("two", &DeleteParams::default())
        .await
        .expect("delete two");
    assert!(
        api.list(&ListParams::default().labels("suite=kube-rs"))
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn compacted_versions_give_410_for_list_and_an_error_event_for_watch() {
    let s = Server::start_with(&["--etcd-compaction-interval=1s"]);
    let c = client(&s).await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let first = api
        .create(&PostParams::default(), &cm("old", "x"))
        .await
        .expect("create");
    let old_rv = first.metadata.resource_version.expect("rv");
    // Several compaction ticks (each compacts to the previous tick's
    // revision): history up to at least `old_rv` is forgotten.
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        api.create(&PostParams::default(), &cm(&format!("new{i}"), "y"))
            .await
            .expect("create");
    }
    let err = api
        .list(
            &ListParams::default()
                .at(&old_rv)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await
        .expect_err("compacted list");
    match err {
        kube::Error::Api(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("unexpected {other:?}"),
    }
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), &old_rv)
        .await
        .expect("watch answers 200")
        .boxed();
    let ev = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("event in time")
        .expect("an event")
        .expect("decodes");
    match ev {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected an ERROR event, got {other:?}"),
    }
    // A resourceVersion from the future is refused with 504 and a retry hint,
    // as upstream (kube-rs retries these by itself, so ask with curl).
    let (code, body) = s.curl_admin(&[&s.url("/api/v1/namespaces/default/configmaps?resourceVersion=999999&resourceVersionMatch=NotOlderThan")]);
    assert_eq!(code, 504, "{body}");
    let status = crate::harness::json(&body);
    assert_eq!(status["reason"], "Timeout");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
}

/// Upstream's chunking conformance: a continue token whose revision was
/// compacted gets 410 Expired with a token in the Status's metadata; that
/// token goes on after the same key at the current revision, and the pages
/// after it stay at that revision.
#[tokio::test]
async fn an_expired_continue_token_offers_an_inconsistent_one() {
    let s = Server::start_with(&["--etcd-compaction-interval=1s"]);
    let c = client(&s).await;
    namespace(&c, "paged").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "paged");
    for i in 0..10 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i:02}"), "x"))
            .await
            .expect("create");
    }
    let first = api
        .list(&ListParams::default().labels("suite=kube-rs").limit(3))
        .await
        .expect("first page");
    let names = |l: &kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        l.items
            .iter()
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(names(&first), ["cm-00", "cm-01", "cm-02"]);
    let first_rv = first.metadata.resource_version.clone().expect("rv");
    let token = first.metadata.continue_.clone().expect("a continue token");
    // Writes elsewhere while compaction ticks forget the first page's revision.
    let other: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let path = format!(
        "/api/v1/namespaces/paged/configmaps?labelSelector=suite%3Dkube-rs&limit=3&continue={token}"
    );
    let mut status = serde_json::Value::Null;
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        other
            .create(&PostParams::default(), &cm(&format!("tick{i}"), "y"))
            .await
            .expect("create");
        let (code, body) = s.curl_admin(&[&s.url(&path)]);
        if code == 410 {
            status = crate::harness::json(&body);
            break;
        }
        assert_eq!(code, 200, "{body}");
    }
    assert_eq!(status["reason"], "Expired", "{status}");
    assert_eq!(status["code"], 410);
    let resume = status["metadata"]["continue"]
        .as_str()
        .expect("the Status carries a continue token")
        .to_string();
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("inconsistent list")),
        "{status}"
    );

    let second = api
        .list(
            &ListParams::default()
                .labels("suite=kube-rs")
                .limit(3)
                .continue_token(&resume),
        )
        .await
        .expect("the offered token lists");
    assert_eq!(names(&second), ["cm-03", "cm-04", "cm-05"]);
    let second_rv = second.metadata.resource_version.clone().expect("rv");
    assert_ne!(
        second_rv, first_rv,
        "the current revision, not the compacted one"
    );
    let mut rest = names(&second);
    let mut next = second.metadata.continue_.clone();
    while let Some(token) = next.filter(|t| !t.is_empty()) {
        let page = api
            .list(
                &ListParams::default()
                    .labels("suite=kube-rs")
                    .limit(3)
                    .continue_token(&token),
            )
            .await
            .expect("later pages");
        assert_eq!(
            page.metadata.resource_version.as_deref(),
            Some(second_rv.as_str())
        );
        rest.extend(names(&page));
        next = page.metadata.continue_.clone();
    }
    let want: Vec<String> = (3..10).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(rest, want);
}

/// A watch with a label selector, as controllers run them: objects enter
/// the selection as ADDED, change inside it as MODIFIED, leave it as
/// DELETED (with the labels the client knew, at the revision they left)
/// and are not seen outside it; a filtered LIST agrees.
#[tokio::test]
async fn a_label_selected_watch_sees_objects_enter_and_leave() {
    let s = Server::start();
    let c = client(&s).await;
    namespace(&c, "sel").await;
    let api: Api<ConfigMap> = Api::namespaced(c, "sel");
    let rv = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("resourceVersion");
    let mut stream = api
        .watch(&WatchParams::default().labels("tier=web").timeout(20), &rv)
        .await
        .expect("watch")
        .boxed();
    let labelled = |name: &str, tier: &str, v: &str| -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"tier": tier}},
            "data": {"v": v},
        }))
        .expect("configmap")
    };
    let pp = PostParams::default();
    api.create(&pp, &labelled("other", "db", "0"))
        .await
        .expect("create");
    api.create(&pp, &labelled("a", "web", "1"))
        .await
        .expect("create");
    let relabel = |tier: &'static str| serde_json::json!({"metadata": {"labels": {"tier": tier}}});
    let patch = |p: serde_json::Value| kube::api::Patch::Merge(p);
    let pps = kube::api::PatchParams::default();
    api.patch("a", &pps, &patch(serde_json::json!({"data": {"v": "2"}})))
        .await
        .expect("patch");
    let left = api
        .patch("a", &pps, &patch(relabel("db")))
        .await
        .expect("patch");
    api.patch(
        "other",
        &pps,
        &patch(serde_json::json!({"data": {"v": "9"}})),
    )
    .await
    .expect("patch");
    api.patch("a", &pps, &patch(relabel("web")))
        .await
        .expect("patch");
    let listed = api
        .list(&ListParams::default().labels("tier=web"))
        .await
        .expect("list");
    let names: Vec<_> = listed
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a"]);
    api.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let (kind, o) = next_change(&mut stream).await;
        let tier = o
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("tier").cloned())
            .unwrap_or_default();
        let v = o
            .data
            .as_ref()
            .and_then(|d| d.get("v").cloned())
            .unwrap_or_default();
        seen.push((
            kind,
            o.metadata.name.clone().unwrap_or_default(),
            tier,
            v,
            o.metadata.resource_version,
        ));
    }
    let names: Vec<_> = seen
        .iter()
        .map(|(k, n, t, v, _)| (*k, n.as_str(), t.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("ADDED", "a", "web", "1"),
            ("MODIFIED", "a", "web", "2"),
            ("DELETED", "a", "web", "2"),
            ("ADDED", "a", "web", "2"),
            ("DELETED", "a", "web", "2"),
        ]
    );
    // Leaving: the object as the client knew it, at the revision it left.
    assert_eq!(seen[2].4, left.metadata.resource_version);
}

/// A LIST of 1,500 ConfigMaps of 2 KiB in every form that is rendered item
/// by item as it is sent: each is a whole body of several chunks (and
/// gzipped where the client accepts it) holding every object once.
#[tokio::test]
async fn large_lists_and_collection_deletes_hold_every_object() {
    let s = Server::start();
    let c = client(&s).await;
    namespace(&c, "many").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "many");
    let payload = "x".repeat(2048);
    for i in 0..1500 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i:04}"), &payload))
            .await
            .expect("create");
    }
    let want = 1501; // and kube-root-ca.crt
    let url = s.url("/api/v1/namespaces/many/configmaps");
    // (what, Accept, the array of items, curl's User-Agent makes it pretty)
    for (what, accept, items) in [
        ("pretty JSON", "application/json", "items"),
        (
            "Table",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
            "rows",
        ),
        (
            "PartialObjectMetadataList",
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            "items",
        ),
    ] {
        let (code, body) =
            s.curl_admin(&["--compressed", "-H", &format!("Accept: {accept}"), &url]);
        assert_eq!(code, 200, "{what}");
        assert!(body.len() > 300_000, "{what}: {} bytes", body.len());
        let list = crate::harness::json(&body);
        let got = list[items].as_array().map_or(0, Vec::len);
        assert_eq!(got, want, "{what}");
    }
    // kubectl without pages reads the Table whole.
    let out = crate::harness::ok(s.kubectl(&[
        "get",
        "cm",
        "-n",
        "many",
        "--chunk-size=0",
        "--no-headers",
    ]));
    assert_eq!(out.lines().count(), want);
    assert!(out.lines().any(|l| l.starts_with("cm-1499 ")), "{out}");

    // DELETE of the collection with a limit (kube-rs sends none): that
    // page, answered with the objects it listed and its continue token.
    let (code, body) = s.curl_admin(&["-X", "DELETE", &format!("{url}?limit=500")]);
    assert_eq!(code, 200, "{body}");
    let first = crate::harness::json(&body);
    let first_items = first["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(first_items.len(), 500);
    assert!(
        first["metadata"]["continue"].is_string(),
        "{}",
        first["metadata"]
    );
    assert_eq!(first_items[0]["metadata"]["name"], "cm-0000");
    assert_eq!(first_items[499]["metadata"]["name"], "cm-0499");
    let name = |c: &ConfigMap| c.metadata.name.clone().unwrap_or_default();
    // Without one: everything else, answered with every object it deleted.
    let rest = api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("delete the rest")
        .left()
        .expect("a list");
    assert_eq!(rest.items.len(), want - 500);
    assert_eq!(name(&rest.items[0]), "cm-0500");
    assert!(rest.items.iter().all(|c| c.data.is_some()), "whole objects");
    let left = api.list(&ListParams::default()).await.expect("list");
    assert!(
        left.items.iter().all(|c| !name(c).starts_with("cm-")),
        "{} left",
        left.items.len()
    );
}

/// kube-rs's metadata API, as client-go's metadata informers use it: the
/// LIST and the WATCH (initial state included) carry each object's
/// metadata as a GET shows it, resourceVersion and managedFields included.
#[tokio::test]
async fn metadata_only_lists_and_watches() {
    let s = Server::start();
    let c = client(&s).await;
    namespace(&c, "meta").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "meta");
    let first = api
        .create(&PostParams::default(), &cm("first", "1"))
        .await
        .expect("create");
    let listed = api
        .list_metadata(&ListParams::default().labels("suite=kube-rs"))
        .await
        .expect("metadata list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].metadata, first.metadata);

    let mut stream = api
        .watch_metadata(
            &WatchParams::default().labels("suite=kube-rs").timeout(10),
            "0",
        )
        .await
        .expect("metadata watch")
        .boxed();
    let second = api
        .create(&PostParams::default(), &cm("second", "2"))
        .await
        .expect("create");
    api.delete("first", &DeleteParams::default())
        .await
        .expect("delete");
    let gone = api.get_metadata_opt("first").await.expect("get");
    assert!(gone.is_none());
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("event");
        match ev {
            WatchEvent::Added(o) => seen.push(("ADDED", o)),
            WatchEvent::Deleted(o) => seen.push(("DELETED", o)),
            WatchEvent::Modified(o) => seen.push(("MODIFIED", o)),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    let names: Vec<_> = seen
        .iter()
        .map(|(k, o)| (*k, o.metadata.name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        names,
        [
            ("ADDED", "first".to_string()),
            ("ADDED", "second".to_string()),
            ("DELETED", "first".to_string())
        ]
    );
    assert_eq!(seen[0].1.metadata, first.metadata);
    assert_eq!(seen[1].1.metadata, second.metadata);
    assert!(
        seen[1]
            .1
            .metadata
            .managed_fields
            .as_ref()
            .is_some_and(|m| !m.is_empty()),
        "{:?}",
        seen[1].1.metadata
    );
    let deleted_rv: i64 = seen[2]
        .1
        .metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("a resourceVersion");
    let created_rv: i64 = second
        .metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("a resourceVersion");
    assert!(deleted_rv > created_rv, "{deleted_rv} after {created_rv}");
}
