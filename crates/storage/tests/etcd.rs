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
