//! The generic REST store's watches over the watch cache on a real etcd,
//! where one revision may hold several keys (kaiser's etcd backend writes
//! batches that way).

use std::sync::Arc;
use std::time::Duration;

use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::meta;
use kaiser_registry::{DefaultStrategy, ObjectWatch, ResourceInfo, Store};
use kaiser_storage::Storage;
use kaiser_storage::cacher::Cacher;
use kaiser_storage::testing::EtcdProcess;
use serde_json::json;

async fn next(w: &mut ObjectWatch) -> (String, String) {
    let e = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("an event in time")
        .expect("the watch goes on");
    (e.kind.to_string(), meta::name(&e.object).to_string())
}

/// Over the watch cache on a real etcd, a revision holding two namespaces'
/// keys reaches an all-namespace watch whole, and a namespace's watch gets
/// its part once the cache says the rest lies elsewhere (the watch holds
/// part of a revision until then; the unit test in `watch.rs` shows the
/// holding). After them, each watch's bookmark names the revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_hand_out_a_revision_of_several_keys_whole() {
    let etcd = EtcdProcess::start();
    let inner: Arc<dyn Storage> = Arc::new(etcd.store().await);
    let info = ResourceInfo::new("", "v1", "configmaps", "ConfigMap", true);
    let cache = Cacher::new(inner.clone(), &info.storage_prefix);
    for _ in 0..500 {
        if cache.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cache.is_ready());
    let store = Store::new(info.clone(), Arc::new(DefaultStrategy), Arc::new(cache));
    let before = inner.current_revision().await.expect("revision");
    let from = ListOptions::from_query([("resourceVersion", before.to_string().as_str())])
        .expect("options");
    let mut all = store.watch("", &from).await.expect("watch");
    let mut in_a = store.watch("a", &from).await.expect("watch");

    // Two namespaces' ConfigMaps at one revision, as a batch writes them.
    let object = |ns: &str, name: &str| {
        let key = format!("{}{ns}/{name}", info.storage_prefix);
        let value = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}")},
        });
        (key, value.to_string())
    };
    let (x, y) = (object("a", "x"), object("b", "y"));
    let rev = etcd
        .put_at_one_revision(&[(&x.0, &x.1), (&y.0, &y.1)])
        .await;

    let added = |name: &str| ("ADDED".to_string(), name.to_string());
    assert_eq!(next(&mut all).await, added("x"));
    assert_eq!(
        all.last_revision(),
        rev,
        "x came before its revision was whole"
    );
    assert_eq!(next(&mut all).await, added("y"));
    // Namespace a's watch gets x alone, once etcd's revision is complete.
    assert_eq!(next(&mut in_a).await, added("x"));
    assert_eq!(in_a.last_revision(), rev);
    let bookmark = in_a.bookmark();
    assert_eq!(meta::resource_version(&bookmark.object), rev.to_string());
}
