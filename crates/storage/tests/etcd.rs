//! The storage conformance suite against a real etcd.

use std::sync::Arc;
use std::time::Duration;

use kaiser_storage::Storage;
use kaiser_storage::etcd::{EtcdConfig, EtcdStore};
use kaiser_storage::testing::{self, EtcdProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_etcd() {
    let etcd = EtcdProcess::start();
    let store = etcd.store().await;
    testing::run_all(&store).await;
    let store: Arc<dyn Storage> = Arc::new(store);
    testing::run_concurrent(store.clone()).await;
    store.check_health().await.expect("healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_etcd_is_reported_unavailable() {
    let mut etcd = EtcdProcess::start();
    let store = etcd.store().await;
    etcd.kill();
    let err = store.check_health().await.expect_err("etcd is down");
    assert!(
        matches!(err, kaiser_storage::StorageError::Unavailable(_)),
        "{err:?}"
    );
    let cfg = EtcdConfig {
        endpoints: vec!["http://127.0.0.1:9".into()],
        ..Default::default()
    };
    assert!(
        EtcdStore::connect(&cfg, Duration::from_millis(500))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_through_the_watch_cache_on_etcd() {
    let (_etcd, _, cache) = cache_on_etcd("/t/").await;
    testing::run_all(&cache).await;
    testing::run_concurrent(Arc::new(cache)).await;
}

/// etcd's progress notifications let the cache answer consistent reads
/// even when the only writes since it listed were to other prefixes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_reads_come_from_the_cache_on_etcd() {
    let (_etcd, inner, cache) = cache_on_etcd("/c/").await;
    let other = inner
        .create("/elsewhere/a", bytes::Bytes::from_static(b"x"))
        .await
        .expect("create");
    let page = cache.range("/c/", "", None, 0).await.expect("range");
    assert!(page.revision >= other);
    assert_eq!(cache.consistent_reads_served(), 1);
    let mine = inner
        .create("/c/a", bytes::Bytes::from_static(b"y"))
        .await
        .expect("create");
    let page = cache.range("/c/", "", None, 0).await.expect("range");
    assert!(page.revision >= mine);
    assert_eq!(page.kvs.len(), 1);
    assert_eq!(cache.consistent_reads_served(), 2);
}

/// The cache follows etcd without previous values (sparing etcd a read per
/// event) and its watchers still get them, from the cache's own state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_watchers_get_previous_values_etcd_was_not_asked_for() {
    use kaiser_storage::{EventType, WatchItem};
    let (_etcd, inner, cache) = cache_on_etcd("/p/").await;
    let start = inner.current_revision().await.expect("revision");
    let mut bare = inner.watch_current("/p/", start).await.expect("watch");
    let mut cached = cache.watch("/p/", start).await.expect("watch");
    let b = |s: &'static str| bytes::Bytes::from_static(s.as_bytes());
    let r1 = inner.create("/p/k", b("1")).await.expect("create");
    inner.update("/p/k", b("2"), r1).await.expect("update");
    inner.delete("/p/k", None).await.expect("delete");
    let next = async |w: &mut kaiser_storage::WatchStream| loop {
        match tokio::time::timeout(Duration::from_secs(10), w.recv()).await {
            Ok(Some(WatchItem::Event(e))) => return e,
            Ok(Some(_)) => continue,
            other => panic!("no event: {other:?}"),
        }
    };
    let expected = [
        (EventType::Put, None),
        (EventType::Put, Some(b("1"))),
        (EventType::Delete, Some(b("2"))),
    ];
    for (kind, prev) in expected {
        let e = next(&mut bare).await;
        assert_eq!(
            (e.kind, e.prev.is_none()),
            (kind, true),
            "etcd sent no prev"
        );
        let e = next(&mut cached).await;
        assert_eq!(
            (e.kind, e.prev.as_ref().map(|p| p.value.clone())),
            (kind, prev)
        );
    }
}

/// etcd going away and coming back with its data (a restart) does not end
/// the cache's watchers: the cache watches again from its revision, as
/// upstream's reflector does, and every write reaches them once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_watchers_go_on_across_an_etcd_restart() {
    use kaiser_storage::{StorageError, WatchItem};
    let (mut etcd, inner, cache) = cache_on_etcd("/r/").await;
    let b = bytes::Bytes::from_static(b"v");
    let before = inner.create("/r/before", b.clone()).await.expect("create");
    let mut w = cache.watch("/r/", before - 1).await.expect("watch");
    etcd.kill();
    assert!(inner.create("/r/lost", b.clone()).await.is_err());
    tokio::time::sleep(Duration::from_secs(1)).await;
    etcd.restart();
    let mut after = Err(StorageError::Unavailable(String::new()));
    for _ in 0..100 {
        after = inner.create("/r/after", b.clone()).await;
        if after.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = after.expect("etcd is back");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(20), w.recv()).await {
            Ok(Some(WatchItem::Event(e))) => seen.push((e.kv.key.clone(), e.revision())),
            Ok(Some(WatchItem::Progress(_))) => {}
            other => panic!("after {seen:?}: {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            ("/r/before".to_string(), before),
            ("/r/after".to_string(), after)
        ]
    );
    // The window still reaches back before the restart.
    assert!(cache.is_ready());
    let mut replay = cache.watch("/r/", before - 1).await.expect("no 410");
    match tokio::time::timeout(Duration::from_secs(5), replay.recv()).await {
        Ok(Some(WatchItem::Event(e))) => assert_eq!(e.revision(), before),
        other => panic!("{other:?}"),
    }
}

/// Writes sent while another is in flight go to etcd as one batch, and
/// each still gets its own outcome: created, already there, conflicting
/// (with what is stored), deleted, or not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_batched_together_keep_their_own_outcomes() {
    use kaiser_storage::StorageError;
    let etcd = EtcdProcess::start();
    let store: Arc<dyn Storage> = Arc::new(etcd.store().await);
    let v = |s: &str| bytes::Bytes::from(s.to_string());
    let taken = store.create("/b/taken", v("t")).await.expect("create");
    let stale = store.create("/b/stale", v("1")).await.expect("create");
    let fresh = store
        .update("/b/stale", v("2"), stale)
        .await
        .expect("update");
    let doomed = store.create("/b/doomed", v("d")).await.expect("create");
    // Several rounds, so that some writes surely wait for a batch in flight.
    let mut revs = std::collections::BTreeMap::<i64, usize>::new();
    for round in 0..5 {
        let mut creates = Vec::new();
        for i in 0..24 {
            let s = store.clone();
            let key = format!("/b/new/{round}/{i}");
            creates.push(tokio::spawn(async move { s.create(&key, v("n")).await }));
        }
        let exists = store.create("/b/taken", v("again"));
        let conflict = store.update("/b/stale", v("3"), stale);
        let nothing = format!("/b/missing/{round}");
        let missing = store.delete(&nothing, None);
        let (exists, conflict, missing) = tokio::join!(exists, conflict, missing);
        assert_eq!(exists, Err(StorageError::KeyExists("/b/taken".into())));
        match conflict {
            Err(StorageError::Conflict {
                current: Some(kv), ..
            }) => {
                assert_eq!((kv.mod_revision, kv.value), (fresh, v("2")))
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(missing, Err(StorageError::NotFound(_))),
            "{missing:?}"
        );
        for c in creates {
            *revs
                .entry(c.await.expect("task").expect("create"))
                .or_default() += 1;
        }
    }
    let (deleted_at, gone) = store
        .delete("/b/doomed", Some(doomed))
        .await
        .expect("delete");
    assert!(deleted_at > doomed);
    assert_eq!(gone.value, v("d"));
    let (kv, _) = store.get("/b/taken", None).await.expect("get");
    assert_eq!(
        kv.map(|kv| (kv.mod_revision, kv.value)),
        Some((taken, v("t")))
    );
    let page = store.range("/b/new/", "", None, 0).await.expect("range");
    assert_eq!(page.kvs.len(), 120);
    for kv in &page.kvs {
        assert!(revs.contains_key(&kv.mod_revision), "{}", kv.key);
    }
    assert!(
        revs.len() < 120,
        "no two of 120 concurrent creates went in one batch: {revs:?}"
    );
}

/// Unbatched (`--etcd-batch-writes=false`), writes made at once each get
/// their own revision, as kube-apiservers sharing the etcd expect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbatched_writes_each_get_their_own_revision() {
    let etcd = EtcdProcess::start();
    let cfg = EtcdConfig {
        endpoints: vec![etcd.endpoint.clone()],
        one_write_per_request: true,
        ..Default::default()
    };
    let store = Arc::new(
        EtcdStore::connect(&cfg, Duration::from_secs(30))
            .await
            .expect("connect"),
    );
    let mut writes = Vec::new();
    for i in 0..64 {
        let s = store.clone();
        writes.push(tokio::spawn(async move {
            s.create(&format!("/u/{i}"), bytes::Bytes::from_static(b"v"))
                .await
        }));
    }
    let mut revs = std::collections::BTreeSet::new();
    for w in writes {
        revs.insert(w.await.expect("task").expect("create"));
    }
    assert_eq!(revs.len(), 64);
}

/// Keys etcd wrote at one revision (a batch) reach the cache's watchers
/// marked: each event but the revision's last says more follows, and a
/// watcher given only part of the revision is then told it is complete.
/// Consistent reads and watches from the window see the revision whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_of_several_keys_reaches_cache_watchers_whole() {
    use kaiser_storage::WatchItem;
    let (etcd, inner, cache) = cache_on_etcd("/m/").await;
    let before = inner.current_revision().await.expect("revision");
    let mut all = cache.watch("/m/", before).await.expect("watch");
    let mut a = cache.watch("/m/a/", before).await.expect("watch");
    let mut b = cache.watch("/m/b/", before).await.expect("watch");
    let rev = etcd
        .put_at_one_revision(&["/m/a/1", "/m/b/1", "/m/a/2", "/m/b/2"].map(|k| (k, "v")))
        .await;
    let after = inner
        .create("/m/a/3", bytes::Bytes::from_static(b"v"))
        .await
        .expect("create");
    // (key, continued) per event; the revision for progress.
    let read = async |w: &mut kaiser_storage::WatchStream, n: usize| {
        let mut got = Vec::new();
        while got.len() < n {
            match tokio::time::timeout(Duration::from_secs(10), w.recv()).await {
                Ok(Some(WatchItem::Event(e))) => {
                    got.push((e.kv.key.clone(), e.revision(), e.continued))
                }
                Ok(Some(WatchItem::Progress(r))) => got.push((String::new(), r, false)),
                other => panic!("after {got:?}: {other:?}"),
            }
        }
        got
    };
    let item = |k: &str, r: i64, c: bool| (k.to_string(), r, c);
    assert_eq!(
        read(&mut all, 5).await,
        [
            item("/m/a/1", rev, true),
            item("/m/b/1", rev, true),
            item("/m/a/2", rev, true),
            item("/m/b/2", rev, false),
            item("/m/a/3", after, false),
        ]
    );
    let expected_a = [
        item("/m/a/1", rev, true),
        item("/m/a/2", rev, true),
        item("", rev, false),
        item("/m/a/3", after, false),
    ];
    assert_eq!(read(&mut a, 4).await, expected_a);
    assert_eq!(
        read(&mut b, 2).await,
        [item("/m/b/1", rev, true), item("/m/b/2", rev, false)]
    );
    // From the window, the same.
    let mut replay = cache.watch("/m/a/", before).await.expect("watch");
    assert_eq!(read(&mut replay, 4).await, expected_a);
    let page = cache.range("/m/", "", None, 0).await.expect("range");
    assert_eq!(page.kvs.len(), 5);
    let at = cache.range("/m/", "", Some(0), 0).await.expect("range");
    assert!(at.revision == after, "{} != {after}", at.revision);
}

/// Reads from the cache never see part of a revision: while etcd writes
/// 100 keys at a time at one revision, every page holds all or none of each
/// such revision, and nothing newer than the revision it reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_reads_never_see_part_of_a_revision() {
    let (etcd, _inner, cache) = cache_on_etcd("/g/").await;
    let cache = Arc::new(cache);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (cache, done) = (cache.clone(), done.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let page = cache.range("/g/", "", Some(0), 0).await.expect("range");
                let mut per_rev = std::collections::BTreeMap::<i64, usize>::new();
                for kv in &page.kvs {
                    assert!(
                        kv.mod_revision <= page.revision,
                        "{} > {}",
                        kv.mod_revision,
                        page.revision
                    );
                    *per_rev.entry(kv.mod_revision).or_default() += 1;
                }
                assert!(
                    per_rev.values().all(|n| *n == 100),
                    "part of a revision: {per_rev:?}"
                );
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    for round in 0..10 {
        let keys: Vec<String> = (0..100).map(|i| format!("/g/{round}/{i:03}")).collect();
        let puts: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        etcd.put_at_one_revision(&puts).await;
    }
    for _ in 0..500 {
        if cache
            .range("/g/", "", Some(0), 0)
            .await
            .expect("range")
            .kvs
            .len()
            == 1000
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.await.expect("no read saw part of a revision");
    assert!(reads > 0);
}

/// A real etcd, the store on it, and a ready watch cache of `prefix`.
async fn cache_on_etcd(
    prefix: &str,
) -> (
    EtcdProcess,
    Arc<dyn Storage>,
    kaiser_storage::cacher::Cacher,
) {
    let etcd = EtcdProcess::start();
    let inner: Arc<dyn Storage> = Arc::new(etcd.store().await);
    let cache = kaiser_storage::cacher::Cacher::new(inner.clone(), prefix);
    for _ in 0..500 {
        if cache.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cache.is_ready());
    (etcd, inner, cache)
}

/// Servers sharing an etcd take turns compacting (upstream's
/// `compact_rev_key`): per tick one compare succeeds and compacts to the
/// revision of the tick before; the others adopt the round and compact
/// nothing, so history stays at least one interval long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_on_one_etcd_take_turns_compacting() {
    let etcd = EtcdProcess::start();
    let a = etcd.store().await;
    let b = etcd.store().await;
    let put = |i: i64| {
        let a = &a;
        async move {
            a.create(&format!("/c/{i}"), bytes::Bytes::from_static(b"v"))
                .await
                .expect("create")
        }
    };
    // First tick: A wins (no compaction yet, nothing to compact to); B
    // loses and learns the round.
    let (ta, ra) = a.compact_round(0, 0).await.expect("round");
    let (tb, rb) = b.compact_round(0, 0).await.expect("round");
    assert_eq!((ta, tb), (1, 1));
    let first = put(1).await;
    assert!(rb >= ra);
    // Second tick: A compacts to its previous revision; B, a moment later
    // with a newer revision, loses and compacts nothing.
    let (ta, _) = a.compact_round(ta, ra).await.expect("round");
    let second = put(2).await;
    let (tb, _) = b.compact_round(tb, second).await.expect("round");
    assert_eq!((ta, tb), (2, 2));
    assert!(
        a.get("/c/1", Some(ra)).await.is_ok(),
        "history after A's compaction point is kept"
    );
    assert!(
        b.get("/c/1", Some(first)).await.is_ok(),
        "B did not compact to its own revision"
    );
    assert!(matches!(
        a.get("/c/1", Some(ra - 1)).await,
        Err(kaiser_storage::StorageError::Compacted { .. })
    ));
    // A server that missed rounds adopts the current one.
    let (tc, _) = b.compact_round(0, 0).await.expect("round");
    assert_eq!(tc, 2);
}

/// Keys that expire share an etcd lease for at most the reuse window
/// (`--lease-reuse-duration-seconds`, upstream's lease manager): with the
/// default 60 s two Events made together share one; with 0 each has its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_keys_share_a_lease_only_within_the_reuse_window() {
    let etcd = EtcdProcess::start();
    let mut client = etcd_client::Client::connect([etcd.endpoint.as_str()], None)
        .await
        .expect("etcd client");
    let ttl = Duration::from_secs(3600);
    for (reuse, prefix) in [(None, "/shared/"), (Some(Duration::ZERO), "/own/")] {
        let cfg = EtcdConfig {
            endpoints: vec![etcd.endpoint.clone()],
            lease_reuse: reuse,
            ..Default::default()
        };
        let store = EtcdStore::connect(&cfg, Duration::from_secs(30))
            .await
            .expect("connect");
        let mut leases = Vec::new();
        for i in 0..3 {
            let key = format!("{prefix}{i}");
            store
                .create_expiring(&key, bytes::Bytes::from_static(b"v"), ttl)
                .await
                .expect("create");
            let got = client.get(key.as_str(), None).await.expect("get");
            let lease = got.kvs().first().expect("stored").lease();
            assert_ne!(lease, 0, "{key} has no lease");
            leases.push(lease);
        }
        leases.dedup();
        let expected = if reuse.is_none() { 1 } else { 3 };
        assert_eq!(leases.len(), expected, "{prefix}: {leases:?}");
    }
}
