//! The watch cache: one per resource, like upstream's cacher. It lists the
//! resource's key prefix once, then follows it with a single watch on the
//! backend, keeping the current keys and a bounded window of recent events.
//! Reads at revision 0 ("any") and every watch that starts inside the window
//! are served from it, so N watchers cost one backend watch. Everything else
//! passes through to the backend.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::keys_from;
use crate::{
    Event, EventType, KeyValue, RangeResult, Result, Storage, WATCHER_BUFFER, WatchItem,
    WatchStream, Watcher, deliver,
};

/// Events kept for watches that start in the past.
pub const WINDOW: usize = 10_000;
#[derive(Default)]
struct State {
    ready: bool,
    /// Every event up to this revision is applied.
    rev: i64,
    items: BTreeMap<String, KeyValue>,
    window: VecDeque<Event>,
    /// Watches after this revision can be served from the window.
    floor: i64,
    watchers: Vec<Watcher>,
}

/// A cache of one key prefix in front of a backend.
pub struct Cacher {
    inner: Arc<dyn Storage>,
    prefix: String,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cacher {
    /// Starts caching `prefix` of `inner` (needs a tokio runtime).
    pub fn new(inner: Arc<dyn Storage>, prefix: &str) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        tokio::spawn(follow(
            inner.clone(),
            prefix.to_string(),
            Arc::downgrade(&state),
        ));
        Cacher {
            inner,
            prefix: prefix.to_string(),
            state,
        }
    }

    /// A watch served from the window, when the cache can serve it.
    fn watch_from_window(&self, prefix: &str, after: i64) -> Option<WatchStream> {
        let mut s = lock(&self.state);
        if !s.ready || after < s.floor {
            return None;
        }
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let start = s.window.partition_point(|e| e.revision() <= after);
        for e in s.window.range(start..) {
            if e.kv.key.starts_with(prefix) && tx.try_send(WatchItem::Event(e.clone())).is_err() {
                return None;
            }
        }
        s.watchers.push(Watcher {
            prefix: prefix.to_string(),
            after,
            tx,
        });
        Some(WatchStream::new(rx))
    }

    /// Whether the cache has listed and is following the backend.
    pub fn is_ready(&self) -> bool {
        lock(&self.state).ready
    }
}

/// Lists, then watches, forever (until the cache is dropped); on any break
/// the watchers are ended (clients re-watch) and the cache re-lists.
async fn follow(inner: Arc<dyn Storage>, prefix: String, state: std::sync::Weak<Mutex<State>>) {
    loop {
        let Some(st) = state.upgrade() else { return };
        match list_all(&*inner, &prefix).await {
            Ok((items, rev)) => {
                {
                    let mut s = lock(&st);
                    s.items = items;
                    s.rev = rev;
                    s.floor = rev;
                    s.window.clear();
                    s.ready = true;
                }
                match inner.watch(&prefix, rev).await {
                    Ok(w) => {
                        drop(st);
                        run_watch(w, &state).await;
                    }
                    Err(e) => tracing::debug!(%prefix, error = %e, "watch cache could not watch"),
                }
            }
            Err(e) => tracing::debug!(%prefix, error = %e, "watch cache could not list"),
        }
        {
            let Some(st) = state.upgrade() else { return };
            let mut s = lock(&st);
            s.ready = false;
            s.watchers.clear();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn list_all(inner: &dyn Storage, prefix: &str) -> Result<(BTreeMap<String, KeyValue>, i64)> {
    let mut items = BTreeMap::new();
    let mut start = String::new();
    let mut at = None;
    loop {
        let page = inner.range(prefix, &start, at, 1000).await?;
        at = Some(page.revision);
        for kv in page.kvs {
            start = format!("{}\0", kv.key);
            items.insert(kv.key.clone(), kv);
        }
        if !page.more {
            return Ok((items, at.unwrap_or(0)));
        }
    }
}

async fn run_watch(mut w: WatchStream, state: &std::sync::Weak<Mutex<State>>) {
    while let Some(item) = w.recv().await {
        let Some(st) = state.upgrade() else { return };
        let mut s = lock(&st);
        match item {
            WatchItem::Event(ev) => apply(&mut s, ev),
            WatchItem::Progress(rev) => {
                s.rev = s.rev.max(rev);
                s.watchers
                    .retain(|w| w.tx.try_send(WatchItem::Progress(rev)).is_ok());
            }
            WatchItem::Error(_) => return,
        }
    }
}

fn apply(s: &mut State, ev: Event) {
    match ev.kind {
        EventType::Put => {
            s.items.insert(ev.kv.key.clone(), ev.kv.clone());
        }
        EventType::Delete => {
            s.items.remove(&ev.kv.key);
        }
    }
    s.rev = ev.revision();
    deliver(&mut s.watchers, &[&ev]);
    s.window.push_back(ev);
    while s.window.len() > WINDOW {
        if let Some(old) = s.window.pop_front() {
            s.floor = old.revision();
        }
    }
}

#[async_trait]
impl Storage for Cacher {
    async fn create(&self, key: &str, value: Bytes) -> Result<i64> {
        self.inner.create(key, value).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: i64) -> Result<i64> {
        self.inner.update(key, value, expected).await
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<(i64, KeyValue)> {
        self.inner.delete(key, expected).await
    }

    async fn get(&self, key: &str, revision: Option<i64>) -> Result<(Option<KeyValue>, i64)> {
        if revision == Some(0) && key.starts_with(&self.prefix) {
            let s = lock(&self.state);
            if s.ready {
                return Ok((s.items.get(key).cloned(), s.rev));
            }
        }
        self.inner.get(key, revision).await
    }

    async fn range(
        &self,
        prefix: &str,
        start: &str,
        revision: Option<i64>,
        limit: usize,
    ) -> Result<RangeResult> {
        if revision == Some(0) && prefix.starts_with(&self.prefix) {
            let s = lock(&self.state);
            if s.ready {
                let kvs = keys_from(&s.items, prefix, start).map(|(_, kv)| kv.clone());
                return Ok(RangeResult::page(kvs, limit, s.rev));
            }
        }
        self.inner.range(prefix, start, revision, limit).await
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        // History the backend has compacted is gone for the cache too.
        let compacted = self.inner.compacted_revision().await.unwrap_or(0);
        if prefix.starts_with(&self.prefix)
            && after >= compacted
            && let Some(stream) = self.watch_from_window(prefix, after)
        {
            return Ok(stream);
        }
        self.inner.watch(prefix, after).await
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.inner.compact(revision).await?;
        let mut s = lock(&self.state);
        while s.window.front().is_some_and(|e| e.revision() <= revision) {
            s.window.pop_front();
        }
        s.floor = s.floor.max(revision);
        Ok(())
    }

    async fn current_revision(&self) -> Result<i64> {
        self.inner.current_revision().await
    }

    async fn compacted_revision(&self) -> Result<i64> {
        self.inner.compacted_revision().await
    }

    async fn check_health(&self) -> Result<()> {
        self.inner.check_health().await
    }

    async fn close(&self) -> Result<()> {
        let mut s = lock(&self.state);
        s.watchers.clear();
        s.ready = false;
        Ok(())
    }
}

impl std::fmt::Debug for Cacher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cacher({})", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::EmbeddedStore;
    use crate::testing;

    async fn ready(c: &Cacher) {
        for _ in 0..200 {
            if c.is_ready() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("cache never became ready");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance_through_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let c = Cacher::new(inner.clone(), "/t/");
        ready(&c).await;
        testing::run_all(&c).await;
        testing::run_concurrent(Arc::new(c)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_at_revision_zero_and_watches_come_from_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        inner
            .create("/r/a", Bytes::from_static(b"1"))
            .await
            .expect("create");
        let c = Cacher::new(inner.clone(), "/r/");
        ready(&c).await;
        let r1 = inner
            .create("/r/b", Bytes::from_static(b"2"))
            .await
            .expect("create");
        let r2 = inner
            .update("/r/b", Bytes::from_static(b"3"), r1)
            .await
            .expect("update");
        // A watch from before the update replays it from the window.
        let mut w = c.watch("/r/", r1).await.expect("watch");
        match tokio::time::timeout(Duration::from_secs(5), w.recv())
            .await
            .expect("in time")
        {
            Some(WatchItem::Event(e)) => {
                assert_eq!((e.revision(), e.kv.value.as_ref()), (r2, &b"3"[..]))
            }
            other => panic!("unexpected {other:?}"),
        }
        // Revision-0 reads see what the cache has applied.
        for _ in 0..200 {
            if lock(&c.state).rev >= r2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let page = c.range("/r/", "", Some(0), 0).await.expect("range");
        assert_eq!(page.kvs.len(), 2);
        assert_eq!(page.revision, r2);
        let (kv, _) = c.get("/r/b", Some(0)).await.expect("get");
        assert_eq!(kv.expect("b").value.as_ref(), b"3");
        // Many watchers share the cache's single backend watch.
        let mut watchers = Vec::new();
        for _ in 0..50 {
            watchers.push(c.watch("/r/", r2).await.expect("watch"));
        }
        let r3 = inner
            .create("/r/c", Bytes::from_static(b"4"))
            .await
            .expect("create");
        for w in &mut watchers {
            match tokio::time::timeout(Duration::from_secs(5), w.recv())
                .await
                .expect("in time")
            {
                Some(WatchItem::Event(e)) => assert_eq!(e.revision(), r3),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(lock(&c.state).watchers.len(), 51);
    }
}
