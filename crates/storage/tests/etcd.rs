//! The storage conformance suite against a real etcd.

use std::sync::Arc;
use std::time::Duration;

use kaiser_storage::Storage;
use kaiser_storage::etcd::{EtcdConfig, EtcdStore};
use kaiser_storage::testing::{self, EtcdProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_etcd() {
    let etcd = EtcdProcess::start();
    let cfg = EtcdConfig {
        endpoints: vec![etcd.endpoint.clone()],
        ..Default::default()
    };
    let store = EtcdStore::connect(&cfg, Duration::from_secs(30))
        .await
        .expect("connect");
    testing::run_all(&store).await;
    let store: Arc<dyn Storage> = Arc::new(store);
    testing::run_concurrent(store.clone()).await;
    store.check_health().await.expect("healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_etcd_is_reported_unavailable() {
    let mut etcd = EtcdProcess::start();
    let cfg = EtcdConfig {
        endpoints: vec![etcd.endpoint.clone()],
        ..Default::default()
    };
    let store = EtcdStore::connect(&cfg, Duration::from_secs(30))
        .await
        .expect("connect");
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

/// A real etcd, the store on it, and a ready watch cache of `prefix`.
async fn cache_on_etcd(
    prefix: &str,
) -> (
    EtcdProcess,
    Arc<dyn Storage>,
    kaiser_storage::cacher::Cacher,
) {
    let etcd = EtcdProcess::start();
    let cfg = EtcdConfig {
        endpoints: vec![etcd.endpoint.clone()],
        ..Default::default()
    };
    let inner: Arc<dyn Storage> = Arc::new(
        EtcdStore::connect(&cfg, Duration::from_secs(30))
            .await
            .expect("connect"),
    );
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
