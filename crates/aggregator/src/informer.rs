//! What the aggregator's controllers are built on: a work queue of names
//! (each name queued once however often it is added, retried later with a
//! growing delay) and list-then-watch loops over a store that start over
//! from a fresh list when a watch ends.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kaiser_apimachinery::list::ListOptions;
use kaiser_registry::Store;
use serde_json::Value;
use tokio::sync::{Notify, watch};

/// The first retry delay of a failing item; doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Upstream's controllers back off to at most 30 s.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long to wait before listing again after a watch failed.
const RELIST_DELAY: Duration = Duration::from_secs(1);

/// A set of names waiting for work.
#[derive(Default)]
pub struct Queue {
    pending: Mutex<BTreeSet<String>>,
    failures: Mutex<BTreeMap<String, u32>>,
    notify: Notify,
}

impl Queue {
    pub fn add(&self, name: &str) {
        let added = self
            .pending
            .lock()
            .map(|mut p| p.insert(name.to_string()))
            .unwrap_or(false);
        if added {
            self.notify.notify_one();
        }
    }

    /// Queues `name` again after a delay that grows with each failure.
    pub fn retry(self: &Arc<Self>, name: &str) {
        let n = self
            .failures
            .lock()
            .map(|mut f| {
                let n = f.entry(name.to_string()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            })
            .unwrap_or(1);
        let delay = MIN_BACKOFF
            .saturating_mul(1u32 << n.min(12).saturating_sub(1))
            .min(MAX_BACKOFF);
        let queue = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(&name);
        });
    }

    /// Forgets the failures of `name` (it succeeded).
    pub fn forget(&self, name: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(name);
        }
    }

    /// Adds the names `names` returns at once and then every `period`,
    /// until `shutdown` (a controller's resync).
    pub fn resync_every(
        self: &Arc<Self>,
        period: Duration,
        names: impl Fn() -> Vec<String> + Send + 'static,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let queue = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                for n in names() {
                    queue.add(&n);
                }
            }
        });
    }

    /// Hands each queued name to `sync` until `shutdown`: a success forgets
    /// the name's failures, a failure is reported to `failed` and the name
    /// queued again after a back-off.
    pub async fn work<E, F: Future<Output = Result<(), E>>>(
        self: &Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
        mut sync: impl FnMut(String) -> F,
        failed: impl Fn(&str, E),
    ) {
        loop {
            let name = tokio::select! {
                n = self.next() => n,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            match sync(name.clone()).await {
                Ok(()) => self.forget(&name),
                Err(e) => {
                    failed(&name, e);
                    self.retry(&name);
                }
            }
        }
    }

    /// A remote-APIService controller's loop: queues every remote
    /// APIService now and each `period`, and syncs what is queued until
    /// `shutdown`; a failure is logged at debug level as `what` not fetched.
    pub async fn work_remote<F: Future<Output = Result<(), String>>>(
        self: &Arc<Self>,
        routes: Arc<crate::routes::Routes>,
        period: Duration,
        shutdown: watch::Receiver<bool>,
        sync: impl FnMut(String) -> F,
        what: &'static str,
    ) {
        self.resync_every(period, move || routes.remote_names(), shutdown.clone());
        let failed = |name: &str, e: String| tracing::debug!(apiservice = %name, error = %e, "{what} not fetched");
        self.work(shutdown, sync, failed).await;
    }

    fn pop(&self) -> Option<String> {
        self.pending.lock().ok()?.pop_first()
    }

    /// The next name, waiting for one.
    pub async fn next(&self) -> String {
        loop {
            let notified = self.notify.notified();
            if let Some(n) = self.pop() {
                return n;
            }
            notified.await;
        }
    }
}

/// What a list-then-watch loop reports.
pub enum Change<'a> {
    /// A fresh list: every object that exists now.
    Listed(&'a [Value]),
    /// One watch event (`ADDED`, `MODIFIED`, `DELETED`).
    Event(&'a str, &'a Value),
}

/// Lists `store` (all namespaces), then watches from the list's revision,
/// reporting each change to `on_change`, until `shutdown`.
pub async fn list_watch(
    store: Arc<Store>,
    mut on_change: impl FnMut(Change<'_>) + Send,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match list_then_watch(&store, &mut on_change, &mut shutdown).await {
            Ok(()) => {}
            Err(e) => {
                tracing::debug!(resource = %store.info.resource, error = %e, "watch ended; listing again")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RELIST_DELAY) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

async fn list_then_watch(
    store: &Arc<Store>,
    on_change: &mut (impl FnMut(Change<'_>) + Send),
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let all = ListOptions::from_query([]).map_err(|e| e.message)?;
    let list = store.list("", &all).await.map_err(|e| e.message)?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    on_change(Change::Listed(&items));
    let from =
        ListOptions::from_query([("resourceVersion", rv.as_str())]).map_err(|e| e.message)?;
    let mut w = store.watch("", &from).await.map_err(|e| e.message)?;
    loop {
        let ev = tokio::select! {
            e = w.next() => e,
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
        };
        let Some(ev) = ev else {
            return Err("the watch ended".into());
        };
        if matches!(ev.kind, "ADDED" | "MODIFIED" | "DELETED") {
            on_change(Change::Event(ev.kind, &ev.object));
        }
    }
}

/// Objects by name, kept current from [`Change`]s (cluster-scoped kinds).
#[derive(Default)]
pub struct Cache {
    pub objects: BTreeMap<String, Value>,
}

impl Cache {
    /// Applies a change; returns the names it touched.
    pub fn apply(&mut self, change: &Change<'_>) -> Vec<String> {
        let name = |o: &Value| kaiser_apimachinery::meta::name(o).to_string();
        match change {
            Change::Listed(items) => {
                let mut touched: Vec<String> = self.objects.keys().cloned().collect();
                self.objects = items.iter().map(|o| (name(o), o.clone())).collect();
                touched.extend(self.objects.keys().cloned());
                touched.sort();
                touched.dedup();
                touched
            }
            Change::Event(kind, obj) => {
                let n = name(obj);
                if *kind == "DELETED" {
                    self.objects.remove(&n);
                } else {
                    self.objects.insert(n.clone(), (*obj).clone());
                }
                vec![n]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn names_are_queued_once() {
        let q = Arc::new(Queue::default());
        q.add("b");
        q.add("a");
        q.add("b");
        assert_eq!(q.next().await, "a");
        assert_eq!(q.next().await, "b");
        q.retry("c");
        let next = tokio::time::timeout(Duration::from_secs(5), q.next()).await;
        assert_eq!(next.ok().as_deref(), Some("c"));
    }

    #[test]
    fn the_cache_follows_lists_and_events() {
        let mut c = Cache::default();
        let a = json!({"metadata": {"name": "a"}});
        let b = json!({"metadata": {"name": "b"}});
        assert_eq!(c.apply(&Change::Listed(std::slice::from_ref(&a))), ["a"]);
        assert_eq!(c.apply(&Change::Event("ADDED", &b)), ["b"]);
        assert_eq!(
            c.apply(&Change::Listed(std::slice::from_ref(&b))),
            ["a", "b"]
        );
        assert!(!c.objects.contains_key("a"));
        c.apply(&Change::Event("DELETED", &b));
        assert!(c.objects.is_empty());
    }
}
