//! The watch cache: one per resource, like upstream's cacher. It lists the
//! resource's key prefix once, then follows it with a single watch on the
//! backend, keeping the current keys and a bounded window of recent events.
//! Ranges at revision 0 ("any"), consistent ranges (no revision: the cache
//! first catches up with the backend's current revision, asking its watch
//! for a progress notification, as upstream's consistent reads from cache
//! do) and every watch that starts inside the window are served from it, so
//! N watchers cost one backend watch. A watch older than the cache (from
//! before its list, or events that left the window) gets the `Compacted`
//! error (410 for clients); only while the cache is not ready do watches
//! go to the backend. When the backend watch breaks (etcd restarting), the
//! cache watches again from its own revision and its watchers go on.
//! Everything else passes through.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::keys_from;
use crate::{
    Event, EventType, KeyValue, ProgressRequester, RangeResult, Result, Storage, StorageError,
    WATCHER_BUFFER, WatchItem, WatchStream, Watcher, deliver,
};

/// Events kept for watches that start in the past.
pub const WINDOW: usize = 10_000;

/// At most this many bytes of values in the window: a resource of large
/// objects that change often keeps fewer events rather than every old
/// version of them (watches older than the window get 410 and re-list).
pub const WINDOW_BYTES: usize = 64 << 20;

/// How long a consistent read waits for the cache to catch up before it
/// reads the backend instead (upstream waits 3 s).
const CONSISTENT_WAIT: Duration = Duration::from_secs(3);

struct State {
    ready: bool,
    /// Every event up to this revision is applied.
    rev: i64,
    items: BTreeMap<String, Arc<KeyValue>>,
    window: VecDeque<Arc<Event>>,
    window_size: usize,
    /// What the window's events hold ([`event_bytes`]), and the bound.
    window_bytes: usize,
    window_max_bytes: usize,
    /// Watches after this revision can be served from the window.
    floor: i64,
    watchers: Vec<Watcher>,
    /// Asks the backend watch for a progress notification.
    progress: Option<ProgressRequester>,
}

/// A cache of one key prefix in front of a backend.
pub struct Cacher {
    inner: Arc<dyn Storage>,
    prefix: String,
    state: Arc<Mutex<State>>,
    /// The cache's revision, for consistent reads waiting on it.
    rev: Arc<watch::Sender<i64>>,
    consistent_reads: AtomicU64,
}

/// What the window can do for a watch.
enum FromWindow {
    Stream(WatchStream),
    /// The events after this revision are no longer all in the window.
    TooOld(i64),
    NotReady,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cacher {
    /// Starts caching `prefix` of `inner` (needs a tokio runtime).
    pub fn new(inner: Arc<dyn Storage>, prefix: &str) -> Self {
        Self::with_window(inner, prefix, WINDOW)
    }

    /// A cache keeping `window` recent events for watches from the past.
    pub fn with_window(inner: Arc<dyn Storage>, prefix: &str, window: usize) -> Self {
        Self::with_limits(inner, prefix, window, WINDOW_BYTES)
    }

    /// A cache keeping at most `events` recent events, holding at most
    /// `bytes` of values, for watches from the past.
    pub fn with_limits(inner: Arc<dyn Storage>, prefix: &str, events: usize, bytes: usize) -> Self {
        let state = Arc::new(Mutex::new(State {
            ready: false,
            rev: 0,
            items: BTreeMap::new(),
            window: VecDeque::new(),
            window_size: events.max(1),
            window_bytes: 0,
            window_max_bytes: bytes,
            floor: 0,
            watchers: Vec::new(),
            progress: None,
        }));
        let rev = Arc::new(watch::Sender::new(0));
        tokio::spawn(follow(
            inner.clone(),
            prefix.to_string(),
            Arc::downgrade(&state),
            rev.clone(),
        ));
        Cacher {
            inner,
            prefix: prefix.to_string(),
            state,
            rev,
            consistent_reads: AtomicU64::new(0),
        }
    }

    /// A watch served from the window, when the cache can serve it.
    fn watch_from_window(&self, prefix: &str, after: i64) -> FromWindow {
        let mut s = lock(&self.state);
        if !s.ready {
            return FromWindow::NotReady;
        }
        if after < s.floor {
            // Older than the cache (its list, or events that left the
            // window): 410, as upstream's cacher, so that the client
            // re-lists and watches here, rather than costing the backend a
            // watch of its own (every client after a restart would).
            return FromWindow::TooOld(s.floor);
        }
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let mut w = Watcher {
            prefix: prefix.to_string(),
            after,
            tx,
            open: false,
        };
        let start = s.window.partition_point(|e| e.revision() <= after);
        for e in s.window.range(start..) {
            if let Some(item) = w.item_for(e)
                && w.tx.try_send(item).is_err()
            {
                return FromWindow::TooOld(s.floor);
            }
        }
        s.watchers.push(w);
        FromWindow::Stream(WatchStream::new(rx))
    }

    /// Whether the cache has listed and is following the backend.
    pub fn is_ready(&self) -> bool {
        lock(&self.state).ready
    }

    /// How many consistent ranges the cache has answered itself.
    pub fn consistent_reads_served(&self) -> u64 {
        self.consistent_reads.load(Ordering::Relaxed)
    }

    /// Waits until the cache holds everything the backend had when the read
    /// began; false when that takes longer than [`CONSISTENT_WAIT`].
    async fn catch_up(&self) -> bool {
        let Ok(target) = self.inner.current_revision().await else {
            return false;
        };
        let deadline = Instant::now() + CONSISTENT_WAIT;
        let mut changes = self.rev.subscribe();
        loop {
            let requester = {
                let s = lock(&self.state);
                if !s.ready {
                    return false;
                }
                if s.rev >= target {
                    return true;
                }
                s.progress.clone()
            };
            // Writes elsewhere in the store move its revision but not this
            // prefix's events: a progress notification says we are current.
            if let Some(ask) = requester {
                ask();
            }
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(20));
            if wait.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(wait, changes.changed()).await;
        }
    }

    fn range_cached(&self, prefix: &str, start: &str, limit: usize) -> Option<RangeResult> {
        let s = lock(&self.state);
        if !s.ready {
            return None;
        }
        let kvs = keys_from(&s.items, prefix, start).map(|(_, kv)| kv.clone());
        Some(RangeResult::page(kvs, limit, s.rev))
    }
}

/// Lists, then watches, forever (until the cache is dropped). A broken
/// backend watch (etcd restarting, a lost leader, the cache falling behind)
/// is resumed from the cache's revision, so its watchers go on without a
/// gap, as upstream's reflector re-watches; only when that revision is gone
/// (compacted, or the store went back in time), or the backend stays away,
/// are the watchers ended (clients re-watch, and get 410 when they are
/// older than the new list) and the cache re-lists.
async fn follow(
    inner: Arc<dyn Storage>,
    prefix: String,
    state: std::sync::Weak<Mutex<State>>,
    rev_tx: Arc<watch::Sender<i64>>,
) {
    loop {
        let Some(st) = state.upgrade() else { return };
        match list_all(&*inner, &prefix).await {
            Ok((items, rev)) => match inner.watch_current(&prefix, rev).await {
                Ok(w) => {
                    {
                        let mut s = lock(&st);
                        s.items = items;
                        s.rev = rev;
                        s.floor = rev;
                        s.window.clear();
                        s.window_bytes = 0;
                        s.progress = w.progress_requester();
                        s.ready = true;
                    }
                    rev_tx.send_replace(rev);
                    drop(st);
                    keep_following(&*inner, &prefix, w, &state, &rev_tx).await;
                }
                Err(e) => tracing::debug!(%prefix, error = %e, "watch cache could not watch"),
            },
            Err(e) => tracing::debug!(%prefix, error = %e, "watch cache could not list"),
        }
        {
            let Some(st) = state.upgrade() else { return };
            let mut s = lock(&st);
            s.ready = false;
            s.progress = None;
            s.watchers.clear();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Why [`run_watch`] stopped.
enum Break {
    /// The cache was dropped.
    Dropped,
    /// List again: the backend no longer has the cache's revision, or the
    /// watch failed in a way watching again would repeat (a value that
    /// cannot be read).
    Relist,
    /// The connection to the backend broke, or the watch ended: watch
    /// again from the cache's revision.
    Lost,
}

/// How long a cache tries to resume a lost watch before it ends its
/// watchers and lists again (upstream's cacher retries its reflector's
/// watch on internal errors for the same time).
const RESUME_FOR: Duration = Duration::from_secs(30);

/// Follows `w`, and after each break watches again from the cache's
/// revision (retrying with a growing pause while the backend is away, for
/// at most [`RESUME_FOR`]); returns when the cache must re-list or was
/// dropped.
async fn keep_following(
    inner: &dyn Storage,
    prefix: &str,
    mut w: WatchStream,
    state: &std::sync::Weak<Mutex<State>>,
    rev_tx: &watch::Sender<i64>,
) {
    const FIRST_PAUSE: Duration = Duration::from_millis(100);
    let mut pause = FIRST_PAUSE;
    loop {
        let began = Instant::now();
        match run_watch(w, state, rev_tx).await {
            Break::Dropped | Break::Relist => return,
            Break::Lost => {}
        }
        // A watch that ran a while was healthy: start the pauses over.
        if began.elapsed() > Duration::from_secs(5) {
            pause = FIRST_PAUSE;
        }
        let lost = Instant::now();
        w = loop {
            if lost.elapsed() > RESUME_FOR {
                tracing::warn!(%prefix, "watch cache could not resume its watch; listing again");
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            let rev = match state.upgrade() {
                Some(st) => lock(&st).rev,
                None => return,
            };
            match inner.current_revision().await {
                // Restored from an older backup: the cache is ahead of it.
                Ok(current) if current < rev => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%prefix, error = %e, "watch cache waits for the store");
                    continue;
                }
            }
            match inner.watch_current(prefix, rev).await {
                Ok(w) => break w,
                Err(StorageError::Compacted { .. }) => return,
                Err(e) => tracing::debug!(%prefix, error = %e, "watch cache could not watch again"),
            }
        };
        tracing::debug!(%prefix, "watch cache resumed its watch");
        let Some(st) = state.upgrade() else { return };
        lock(&st).progress = w.progress_requester();
    }
}

async fn list_all(
    inner: &dyn Storage,
    prefix: &str,
) -> Result<(BTreeMap<String, Arc<KeyValue>>, i64)> {
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

async fn run_watch(
    mut w: WatchStream,
    state: &std::sync::Weak<Mutex<State>>,
    rev_tx: &watch::Sender<i64>,
) -> Break {
    // The events of a revision still coming in (etcd writes a batch at one
    // revision): applied together, so that no read or watcher sees part of
    // one, and lost with the watch if it breaks (it resumes before them).
    let mut group = Vec::new();
    while let Some(item) = w.recv().await {
        if let WatchItem::Event(ev) = &item
            && ev.continued
        {
            group.push(ev.clone());
            continue;
        }
        let Some(st) = state.upgrade() else {
            return Break::Dropped;
        };
        let rev = {
            let mut s = lock(&st);
            match item {
                WatchItem::Event(ev) => {
                    for e in group.drain(..) {
                        apply(&mut s, e);
                    }
                    apply(&mut s, ev);
                }
                WatchItem::Progress(rev) => {
                    for e in group.drain(..) {
                        apply(&mut s, e);
                    }
                    s.rev = s.rev.max(rev);
                    s.watchers
                        .retain(|w| w.tx.try_send(WatchItem::Progress(rev)).is_ok());
                }
                WatchItem::Error(StorageError::Unavailable(e)) => {
                    tracing::debug!(error = %e, "watch cache lost its watch");
                    s.progress = None;
                    return Break::Lost;
                }
                WatchItem::Error(e) => {
                    tracing::debug!(error = %e, "watch cache lists again");
                    return Break::Relist;
                }
            }
            s.rev
        };
        rev_tx.send_replace(rev);
    }
    match state.upgrade() {
        Some(st) => {
            lock(&st).progress = None;
            Break::Lost
        }
        None => Break::Dropped,
    }
}

fn apply(s: &mut State, ev: Arc<Event>) {
    // The backend watch may leave out previous values: the cache has them.
    // (Looked up only then: a search of a large cache is not free.)
    let ev = match ev.prev.is_none().then(|| s.items.get(&ev.kv.key)).flatten() {
        Some(prev) => {
            let mut kv = ev.kv.clone();
            if ev.kind == EventType::Delete {
                kv.create_revision = prev.create_revision;
            }
            Arc::new(ev.with_values(kv, Some(KeyValue::clone(prev))))
        }
        None => ev,
    };
    match ev.kind {
        EventType::Put => {
            s.items.insert(ev.kv.key.clone(), Arc::new(ev.kv.clone()));
        }
        EventType::Delete => {
            s.items.remove(&ev.kv.key);
        }
    }
    s.rev = ev.revision();
    deliver(&mut s.watchers, &[&ev]);
    s.window_bytes += event_bytes(&ev);
    s.window.push_back(ev);
    // The newest event always stays.
    while s.window.len() > s.window_size
        || (s.window_bytes > s.window_max_bytes && s.window.len() > 1)
    {
        if let Some(old) = s.window.pop_front() {
            s.window_bytes -= event_bytes(&old);
            s.floor = old.revision();
        }
    }
}

/// What an event keeps alive beyond the current items: its value (the
/// previous one is an older event's, or an item's).
fn event_bytes(e: &Event) -> usize {
    e.kv.key.len() + e.kv.value.len()
}

#[async_trait]
impl Storage for Cacher {
    async fn create(&self, key: &str, value: Bytes) -> Result<i64> {
        self.inner.create(key, value).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: i64) -> Result<i64> {
        self.inner.update(key, value, expected).await
    }

    async fn create_expiring(&self, key: &str, value: Bytes, ttl: Duration) -> Result<i64> {
        self.inner.create_expiring(key, value, ttl).await
    }

    async fn update_expiring(
        &self,
        key: &str,
        value: Bytes,
        expected: i64,
        ttl: Duration,
    ) -> Result<i64> {
        self.inner.update_expiring(key, value, expected, ttl).await
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<(i64, KeyValue)> {
        self.inner.delete(key, expected).await
    }

    async fn get(&self, key: &str, revision: Option<i64>) -> Result<(Option<KeyValue>, i64)> {
        if revision == Some(0) && key.starts_with(&self.prefix) {
            let s = lock(&self.state);
            if s.ready {
                return Ok((s.items.get(key).map(|kv| KeyValue::clone(kv)), s.rev));
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
        if prefix.starts_with(&self.prefix) {
            match revision {
                Some(0) => {
                    if let Some(page) = self.range_cached(prefix, start, limit) {
                        return Ok(page);
                    }
                }
                None if self.catch_up().await => {
                    if let Some(page) = self.range_cached(prefix, start, limit) {
                        self.consistent_reads.fetch_add(1, Ordering::Relaxed);
                        return Ok(page);
                    }
                }
                _ => {}
            }
        }
        self.inner.range(prefix, start, revision, limit).await
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        // History the backend has compacted is gone for the cache too.
        let compacted = self.inner.compacted_revision().await.unwrap_or(0);
        if prefix.starts_with(&self.prefix) && after >= compacted {
            match self.watch_from_window(prefix, after) {
                FromWindow::Stream(stream) => return Ok(stream),
                FromWindow::TooOld(floor) => {
                    return Err(StorageError::Compacted {
                        requested: after + 1,
                        compacted: floor,
                    });
                }
                FromWindow::NotReady => {}
            }
        }
        self.inner.watch(prefix, after).await
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.inner.compact(revision).await?;
        let mut s = lock(&self.state);
        while s.window.front().is_some_and(|e| e.revision() <= revision) {
            if let Some(old) = s.window.pop_front() {
                s.window_bytes -= event_bytes(&old);
            }
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consistent_reads_are_served_once_the_cache_caught_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let c = Cacher::new(inner.clone(), "/r/");
        ready(&c).await;
        // Writes elsewhere move the store's revision past the cache's.
        let other = inner
            .create("/other/x", Bytes::from_static(b"o"))
            .await
            .expect("create");
        let page = c.range("/r/", "", None, 0).await.expect("range");
        assert!(page.revision >= other, "{} < {other}", page.revision);
        assert_eq!(c.consistent_reads_served(), 1, "answered by the cache");
        // A write acknowledged by the backend is in the next consistent read.
        for i in 0..20 {
            let key = format!("/r/k{i}");
            let rev = inner
                .create(&key, Bytes::from_static(b"v"))
                .await
                .expect("create");
            let page = c.range("/r/", "", None, 0).await.expect("range");
            assert!(page.revision >= rev);
            assert!(page.kvs.iter().any(|kv| kv.key == key), "{key} missing");
        }
        assert_eq!(c.consistent_reads_served(), 21);
    }

    /// Upstream's cacher: a watch from before the cache's list is refused
    /// (the client re-lists) rather than handed to the backend, even though
    /// the backend still has that history.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_watch_older_than_the_cache_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let before = inner
            .create("/o/a", Bytes::from_static(b"1"))
            .await
            .expect("create");
        inner
            .update("/o/a", Bytes::from_static(b"2"), before)
            .await
            .expect("update");
        let c = Cacher::new(inner.clone(), "/o/");
        ready(&c).await;
        match c.watch("/o/", before).await {
            Err(StorageError::Compacted {
                requested,
                compacted,
            }) => {
                assert_eq!(requested, before + 1);
                assert!(compacted > before, "{compacted}");
            }
            other => panic!("expected Compacted, got {other:?}"),
        }
        // The backend itself still replays it.
        let mut w = inner.watch("/o/", before).await.expect("backend watch");
        assert!(matches!(
            tokio::time::timeout(Duration::from_secs(5), w.recv()).await,
            Ok(Some(WatchItem::Event(_)))
        ));
        // From the cache's own revision on, the cache serves.
        let floor = lock(&c.state).floor;
        c.watch("/o/", floor).await.expect("at the cache's list");
        assert_eq!(lock(&c.state).watchers.len(), 1);
    }

    /// Writes `n` keys under `prefix` while the cache is held still (its
    /// backend watch fills up and is ended, as for any cache that falls
    /// behind); returns the last revision.
    #[expect(
        clippy::await_holding_lock,
        reason = "holds the cache still on purpose"
    )]
    async fn write_while_held(c: &Cacher, inner: &dyn Storage, prefix: &str, n: usize) -> i64 {
        let _held = lock(&c.state);
        let mut last = 0;
        for i in 0..n {
            last = inner
                .create(&format!("{prefix}{i}"), Bytes::from_static(b"v"))
                .await
                .expect("create");
        }
        last
    }

    /// Reads `n` events from `w`, checking that each revision follows the
    /// one before by one (no event lost or repeated); returns the last.
    async fn read_in_order(w: &mut WatchStream, n: usize, mut rev: i64) -> i64 {
        let mut got = 0;
        while got < n {
            match tokio::time::timeout(Duration::from_secs(10), w.recv()).await {
                Ok(Some(WatchItem::Event(e))) => {
                    assert_eq!(e.revision(), rev + 1, "after {got} events");
                    rev = e.revision();
                    got += 1;
                }
                Ok(Some(WatchItem::Progress(_))) => {}
                other => panic!("after {got} events: {other:?}"),
            }
        }
        rev
    }

    /// A cache whose backend watch ends watches again from its own
    /// revision: its watchers go on without a gap and nobody re-lists.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_backend_watch_is_resumed_and_watchers_go_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let c = Cacher::new(inner.clone(), "/f/");
        ready(&c).await;
        let start = inner.current_revision().await.expect("revision");
        let mut w = c.watch("/f/", start).await.expect("watch");
        let n = WATCHER_BUFFER + 100;
        let reader = tokio::spawn(async move {
            let last = read_in_order(&mut w, n, start).await;
            (w, last)
        });
        let last = write_while_held(&c, &*inner, "/f/", n).await;
        let (mut w, seen) = reader.await.expect("reader");
        assert_eq!(seen, last);
        // Still the same cache (no re-list), still followed live.
        assert!(c.is_ready());
        // A re-list would have emptied the window.
        assert_eq!(lock(&c.state).window.len(), n.min(WINDOW), "re-listed");
        inner
            .create("/f/after", Bytes::from_static(b"v"))
            .await
            .expect("create");
        read_in_order(&mut w, 1, last).await;
        let page = c.range("/f/", "", Some(0), 0).await.expect("range");
        assert_eq!(page.kvs.len(), n + 1);
    }

    /// When the revision to resume from was compacted meanwhile, the cache
    /// ends its watchers and lists again; old watches then get 410.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[expect(
        clippy::await_holding_lock,
        reason = "holds the cache still on purpose"
    )]
    async fn a_lost_watch_whose_revision_was_compacted_relists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let c = Cacher::new(inner.clone(), "/g/");
        ready(&c).await;
        let start = inner.current_revision().await.expect("revision");
        let mut w = c.watch("/g/", start).await.expect("watch");
        let n = WATCHER_BUFFER + 100;
        let last = {
            let last = write_while_held(&c, &*inner, "/g/", n).await;
            let _held = lock(&c.state);
            inner.compact(last).await.expect("compact");
            last
        };
        // The events the cache had received still arrive, then the end.
        let mut got = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), w.recv()).await {
                Ok(Some(WatchItem::Event(_))) => got += 1,
                Ok(Some(WatchItem::Progress(_))) => {}
                Ok(None) => break,
                other => panic!("after {got} events: {other:?}"),
            }
        }
        assert!(got < n, "{got}");
        for _ in 0..500 {
            if c.is_ready() && lock(&c.state).floor >= last {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(c.is_ready() && lock(&c.state).floor >= last);
        assert!(matches!(
            c.watch("/g/", start).await,
            Err(StorageError::Compacted { .. })
        ));
        let page = c.range("/g/", "", Some(0), 0).await.expect("range");
        assert_eq!(page.kvs.len(), n);
    }

    /// Large values that change often cost the window events, not memory.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_window_holds_a_bounded_number_of_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let c = Cacher::with_limits(inner.clone(), "/b/", 1000, 100_000);
        ready(&c).await;
        let big = Bytes::from(vec![b'x'; 30_000]);
        let mut revs = vec![inner.create("/b/k", big.clone()).await.expect("create")];
        for _ in 0..9 {
            let prev = *revs.last().expect("a revision");
            revs.push(
                inner
                    .update("/b/k", big.clone(), prev)
                    .await
                    .expect("update"),
            );
        }
        let last = *revs.last().expect("a revision");
        for _ in 0..200 {
            if lock(&c.state).rev >= last {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        {
            let s = lock(&c.state);
            assert_eq!(s.window.len(), 3, "three values of 30 kB fit in 100 kB");
            assert!(s.window_bytes <= 100_000, "{}", s.window_bytes);
            assert_eq!(s.floor, revs[6]);
        }
        assert!(matches!(
            c.watch("/b/", revs[5]).await,
            Err(StorageError::Compacted { .. })
        ));
        let mut w = c.watch("/b/", revs[6]).await.expect("in the window");
        match tokio::time::timeout(Duration::from_secs(5), w.recv()).await {
            Ok(Some(WatchItem::Event(e))) => assert_eq!(e.revision(), revs[7]),
            other => panic!("unexpected {other:?}"),
        }
        // A compaction takes its events' bytes along.
        c.compact(revs[8]).await.expect("compact");
        let s = lock(&c.state);
        assert_eq!(s.window.len(), 1);
        assert_eq!(s.window_bytes, event_bytes(&s.window[0]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_watch_older_than_the_window_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let c = Cacher::with_window(inner.clone(), "/w/", 5);
        ready(&c).await;
        let mut revs = Vec::new();
        for i in 0..10 {
            revs.push(
                inner
                    .create(&format!("/w/{i}"), Bytes::from_static(b"v"))
                    .await
                    .expect("create"),
            );
        }
        for _ in 0..200 {
            if lock(&c.state).rev >= revs[9] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match c.watch("/w/", revs[0]).await {
            Err(StorageError::Compacted { requested, .. }) => assert_eq!(requested, revs[0] + 1),
            other => panic!("expected Compacted, got {other:?}"),
        }
        // Inside the window the replay is served.
        let mut w = c.watch("/w/", revs[6]).await.expect("in the window");
        match tokio::time::timeout(Duration::from_secs(5), w.recv())
            .await
            .expect("in time")
        {
            Some(WatchItem::Event(e)) => assert_eq!(e.revision(), revs[7]),
            other => panic!("unexpected {other:?}"),
        }
    }
}
