//! In-memory mirrors of stores (upstream's informers, in-process): the
//! objects of a few stores, listed once and kept current by one watch
//! each, published as immutable snapshots on a `watch` channel. RBAC, the
//! Node authorizer and the ClusterRole aggregation controller read their
//! objects from here instead of listing on every request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::{StatusError, meta};
use kaiser_registry::{ObjectWatch, Store, WatchEvent};
use serde_json::Value;
use tokio::sync::watch;

const RETRY: Duration = Duration::from_millis(500);

/// The objects of each mirrored store (in the order the stores were
/// given), keyed by `namespace/name`.
pub type Snapshot = Arc<Vec<BTreeMap<String, Value>>>;

/// The objects of one store as a list.
pub fn values(snapshot: &Snapshot, store: usize) -> Vec<Value> {
    snapshot
        .get(store)
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default()
}

fn key(obj: &Value) -> String {
    format!("{}/{}", meta::namespace(obj), meta::name(obj))
}

/// Lists a store (a consistent read) and watches it from there.
async fn list_and_watch(
    store: &Store,
) -> Result<(BTreeMap<String, Value>, ObjectWatch), StatusError> {
    let list = store.list("", &ListOptions::from_query([])?).await?;
    let rv = list
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("0")
        .to_string();
    let objects = list
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| (key(o), o.clone()))
        .collect();
    let opts = ListOptions::from_query([
        ("resourceVersion", rv.as_str()),
        ("allowWatchBookmarks", "true"),
    ])?;
    let w = store.watch("", &opts).await?;
    Ok((objects, w))
}

/// Applies one event; false when the watch must be restarted.
fn apply(objects: &mut BTreeMap<String, Value>, ev: WatchEvent) -> bool {
    match ev.kind {
        "ADDED" | "MODIFIED" => {
            objects.insert(key(&ev.object), ev.object);
        }
        "DELETED" => {
            objects.remove(&key(&ev.object));
        }
        "BOOKMARK" => {}
        _ => return false,
    }
    true
}

/// A mirror of some stores, not yet started.
pub struct Mirror {
    stores: Vec<Arc<Store>>,
    tx: watch::Sender<Option<Snapshot>>,
}

impl Mirror {
    /// The mirror and the receiver of its snapshots (`None` until the
    /// first complete list).
    pub fn new(stores: Vec<Arc<Store>>) -> (Mirror, watch::Receiver<Option<Snapshot>>) {
        let (tx, rx) = watch::channel(None);
        (Mirror { stores, tx }, rx)
    }

    /// Starts following the stores until `shutdown` turns true.
    pub fn start(self, shutdown: watch::Receiver<bool>) {
        tokio::spawn(run(self.stores, self.tx, shutdown));
    }
}

async fn run(
    stores: Vec<Arc<Store>>,
    tx: watch::Sender<Option<Snapshot>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut maps = Vec::new();
        let mut watches = Vec::new();
        let mut failed = false;
        for s in &stores {
            match list_and_watch(s).await {
                Ok((m, w)) => {
                    maps.push(m);
                    watches.push(w);
                }
                Err(e) => {
                    tracing::warn!(resource = %s.info.resource, error = %e, "cannot mirror the store; retrying");
                    failed = true;
                    break;
                }
            }
        }
        if !failed {
            follow(&mut maps, &mut watches, &tx, &mut shutdown).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Publishes the maps, then applies events (publishing once per batch of
/// ready events) until a watch ends.
async fn follow(
    maps: &mut [BTreeMap<String, Value>],
    watches: &mut [ObjectWatch],
    tx: &watch::Sender<Option<Snapshot>>,
    shutdown: &mut watch::Receiver<bool>,
) {
    loop {
        tx.send_replace(Some(Arc::new(maps.to_vec())));
        let next = futures_util::future::select_all(watches.iter_mut().map(|w| Box::pin(w.next())));
        let (ev, i, _) = tokio::select! {
            r = next => r,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let Some(ev) = ev else { return };
        if !apply(&mut maps[i], ev) {
            return;
        }
        // Everything else already waiting goes into the same snapshot.
        for (j, w) in watches.iter_mut().enumerate() {
            while let Some(ready) = w.next().now_or_never() {
                let Some(ev) = ready else { return };
                if !apply(&mut maps[j], ev) {
                    return;
                }
            }
        }
    }
}

/// The first complete snapshot, waiting at most `limit` for it.
pub async fn ready(rx: &watch::Receiver<Option<Snapshot>>, limit: Duration) -> Option<Snapshot> {
    if let Some(s) = rx.borrow().clone() {
        return Some(s);
    }
    let mut rx = rx.clone();
    let wait = rx.wait_for(Option::is_some);
    match tokio::time::timeout(limit, wait).await {
        Ok(Ok(s)) => s.clone(),
        _ => None,
    }
}
