//! kaiser's storage layer: an etcd3-like MVCC key-value interface.
//!
//! Owns the [`Storage`] trait (one global revision, create-if-absent, update and
//! delete compared on mod revision, reads at a revision with limits, watch from
//! a revision with previous values, compaction), the embedded durable backend
//! and the conformance suite in [`testing`]. Knows nothing of Kubernetes: keys,
//! bytes, revisions and events only.

use std::fmt;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

pub mod cacher;
pub mod compactor;
pub mod embedded;
pub mod encryption;
pub mod etcd;
pub mod testing;
pub mod transform;

/// One stored key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    pub create_revision: i64,
    pub mod_revision: i64,
    /// Writes since creation, starting at 1.
    pub version: i64,
    /// What a reader derived from the value, for the value's other readers.
    pub derived: Derived,
}

/// What a reader derived from a value (the registry's selector
/// attributes), kept with a cached value so that its many readers derive
/// it once, as upstream's cacher keeps labels and fields with each object.
/// A slot holds one deriver's result (`owner`: two stores over the same
/// keys may derive differently). Not part of the value's identity; a clone
/// starts empty.
#[derive(Default)]
pub struct Derived(std::sync::OnceLock<(u64, Arc<dyn std::any::Any + Send + Sync>)>);

impl Derived {
    /// `owner`'s earlier result, or `make`'s (kept unless another owner's
    /// is).
    pub fn get_or_try<T: Send + Sync + 'static, E>(
        &self,
        owner: u64,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some((o, v)) = self.0.get()
            && *o == owner
            && let Ok(t) = Arc::clone(v).downcast::<T>()
        {
            return Ok(t);
        }
        let t = Arc::new(make()?);
        let _ = self.0.set((owner, t.clone()));
        Ok(t)
    }
}

impl Clone for Derived {
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl PartialEq for Derived {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Derived {}

impl fmt::Debug for Derived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Derived")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Put,
    Delete,
}

/// A change: for `Put` the new value; for `Delete` the key with the deleting
/// revision as `mod_revision` and an empty value. `prev` is the value before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    pub kv: KeyValue,
    pub prev: Option<KeyValue>,
    /// Another event of the same revision follows (etcd writes a batch of
    /// keys at one revision): the revision is complete only after the last
    /// of them, so caches and bookmarks do not claim it before.
    pub continued: bool,
    /// The first watcher's encoding of this event, for the others.
    pub encoded: EncodedOnce,
}

/// The wire bytes the first watcher made of an event, kept for the rest
/// (as upstream's cachingObject): a cache hands one shared event to many
/// watchers, which then encode it once rather than once each. Not part of
/// the event's identity, so it compares equal whatever it holds.
#[derive(Clone, Debug, Default)]
pub struct EncodedOnce(std::sync::OnceLock<Bytes>);

impl EncodedOnce {
    /// The bytes stored by an earlier caller, or else `make`'s (stored for
    /// later callers when there are some).
    pub fn get_or_make(&self, make: impl FnOnce() -> Option<Bytes>) -> Option<Bytes> {
        if let Some(b) = self.0.get() {
            return Some(b.clone());
        }
        let b = make()?;
        let _ = self.0.set(b.clone());
        Some(b)
    }
}

impl PartialEq for EncodedOnce {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for EncodedOnce {}

impl Event {
    pub fn new(kind: EventType, kv: KeyValue, prev: Option<KeyValue>) -> Self {
        Event {
            kind,
            kv,
            prev,
            continued: false,
            encoded: EncodedOnce::default(),
        }
    }

    /// The same change with other values, continued as this one is.
    pub fn with_values(&self, kv: KeyValue, prev: Option<KeyValue>) -> Self {
        Event {
            continued: self.continued,
            ..Event::new(self.kind, kv, prev)
        }
    }

    pub fn revision(&self) -> i64 {
        self.kv.mod_revision
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("key not found: {0}")]
    NotFound(String),
    #[error("key exists: {0}")]
    KeyExists(String),
    /// The compare failed; carries what is stored now, if anything.
    #[error("revision conflict on {key}")]
    Conflict {
        key: String,
        current: Option<Box<KeyValue>>,
    },
    #[error("required revision {requested} has been compacted (compacted at {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    #[error("required revision {requested} is a future revision (current {current})")]
    FutureRevision { requested: i64, current: i64 },
    #[error("value too large: {size} bytes (limit {limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage I/O error: {0}")]
    Io(String),
    /// etcd refused the request with an error of its own (its space quota
    /// exceeded, say): its words, which clients and runbooks look for.
    #[error("{0}")]
    Backend(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A page of a range read.
#[derive(Clone, Debug, Default)]
pub struct RangeResult {
    /// Shared with the watch cache, which hands out its items uncopied.
    pub kvs: Vec<Arc<KeyValue>>,
    /// Whether keys remain after the last one returned.
    pub more: bool,
    /// How many keys the range holds from its start, returned or not.
    pub count: i64,
    /// The revision the read was served at.
    pub revision: i64,
}

/// What a watch delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    /// Shared by every watcher it is delivered to.
    Event(Arc<Event>),
    /// The watch cannot continue (compacted revision, backend failure).
    Error(StorageError),
    /// Every event up to this revision has been delivered.
    Progress(i64),
}

/// Asks a backend watch for a [`WatchItem::Progress`] carrying the newest
/// revision whose events it has delivered.
pub type ProgressRequester = Arc<dyn Fn() + Send + Sync>;

/// The receiving end of a watch; dropping it cancels the watch.
pub struct WatchStream {
    rx: mpsc::Receiver<WatchItem>,
    progress: Option<ProgressRequester>,
}

impl WatchStream {
    pub fn new(rx: mpsc::Receiver<WatchItem>) -> Self {
        WatchStream { rx, progress: None }
    }

    /// A stream whose backend answers progress requests.
    pub fn with_progress(rx: mpsc::Receiver<WatchItem>, progress: ProgressRequester) -> Self {
        WatchStream {
            rx,
            progress: Some(progress),
        }
    }

    /// The next item; `None` when the backend closed the watch.
    pub async fn recv(&mut self) -> Option<WatchItem> {
        self.rx.recv().await
    }

    /// [`WatchStream::recv`] for callers that poll.
    pub fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<WatchItem>> {
        self.rx.poll_recv(cx)
    }

    /// The handle that asks this watch for a progress notification, when
    /// its backend supports them (the embedded store and etcd do).
    pub fn progress_requester(&self) -> Option<ProgressRequester> {
        self.progress.clone()
    }
}

impl fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WatchStream")
    }
}

impl RangeResult {
    /// A page of at most `limit` keys (0: all) from visible key-values in
    /// key order, counting every one.
    pub(crate) fn page(
        kvs: impl Iterator<Item = Arc<KeyValue>>,
        limit: usize,
        revision: i64,
    ) -> Self {
        let mut out = RangeResult {
            revision,
            ..Default::default()
        };
        for kv in kvs {
            out.count += 1;
            if limit == 0 || out.kvs.len() < limit {
                out.kvs.push(kv);
            } else {
                out.more = true;
            }
        }
        out
    }
}

/// The keys of `map` under `prefix`, from `start` (the prefix when empty).
pub(crate) fn keys_from<'a, V>(
    map: &'a std::collections::BTreeMap<String, V>,
    prefix: &'a str,
    start: &'a str,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'a {
    let from = if start.is_empty() { prefix } else { start };
    map.range::<str, _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix))
}

/// A registered watch: events under `prefix` with revisions after `after`.
pub(crate) struct Watcher {
    pub prefix: String,
    pub after: i64,
    pub tx: mpsc::Sender<WatchItem>,
    /// The last event sent was continued: the watcher is owed word that
    /// its revision is complete, should the rest of it fall outside the
    /// watcher's prefix.
    pub open: bool,
}

/// Events buffered per watcher before it is dropped as too slow.
pub(crate) const WATCHER_BUFFER: usize = 10_000;

/// Delivers `events` to the watchers they concern; a watcher whose buffer is
/// full (too slow) or whose receiver is gone is dropped, which ends its
/// stream so the client re-watches.
pub(crate) fn deliver(watchers: &mut Vec<Watcher>, events: &[&Arc<Event>]) {
    watchers.retain_mut(|w| {
        for e in events {
            let Some(item) = w.item_for(e) else { continue };
            if let Err(err) = w.tx.try_send(item) {
                if matches!(err, mpsc::error::TrySendError::Full(_)) {
                    tracing::warn!(prefix = %w.prefix, "closing a watch that fell too far behind");
                }
                return false;
            }
        }
        true
    });
}

impl Watcher {
    /// What the watcher is sent of `e`: the event when it is after the
    /// watch's start and under its prefix; word that a revision is complete
    /// when the watcher was sent part of it and the rest lies elsewhere.
    pub(crate) fn item_for(&mut self, e: &Arc<Event>) -> Option<WatchItem> {
        if e.revision() <= self.after {
            None
        } else if e.kv.key.starts_with(&self.prefix) {
            self.open = e.continued;
            Some(WatchItem::Event(Arc::clone(e)))
        } else if self.open && !e.continued {
            self.open = false;
            Some(WatchItem::Progress(e.revision()))
        } else {
            None
        }
    }
}

/// A compactor's compaction to `revision`: none on its first tick (zero),
/// and one another server already made is no error.
pub(crate) async fn compact_to<S: Storage + ?Sized>(store: &S, revision: i64) -> Result<()> {
    if revision > 0 {
        match store.compact(revision).await {
            Ok(()) | Err(StorageError::Compacted { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The MVCC interface every backend implements.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Writes `value` if `key` is absent; returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<i64>;
    /// Writes `value` if the key's mod revision is `expected`; returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected: i64) -> Result<i64>;
    /// [`Storage::create`] of a key the store deletes by itself, with a
    /// delete event, once `ttl` has passed (etcd's leases; upstream keeps
    /// Events this way). The store may keep it a little longer, never less.
    async fn create_expiring(&self, key: &str, value: Bytes, ttl: Duration) -> Result<i64>;
    /// [`Storage::update`] that sets the key to expire `ttl` after this write.
    async fn update_expiring(
        &self,
        key: &str,
        value: Bytes,
        expected: i64,
        ttl: Duration,
    ) -> Result<i64>;
    /// Deletes the key (if its mod revision is `expected`, when given);
    /// returns the deleting revision and the deleted value.
    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<(i64, KeyValue)>;
    /// Reads one key at `revision` (latest when `None`); also returns the
    /// revision the read was served at.
    async fn get(&self, key: &str, revision: Option<i64>) -> Result<(Option<KeyValue>, i64)>;
    /// Reads keys with `prefix`, from `start` (inclusive, a full key; the
    /// prefix when empty), at `revision`, at most `limit` keys (0: no limit).
    async fn range(
        &self,
        prefix: &str,
        start: &str,
        revision: Option<i64>,
        limit: usize,
    ) -> Result<RangeResult>;
    /// Streams changes under `prefix` with revisions greater than `after`.
    async fn watch(&self, prefix: &str, after: i64) -> Result<WatchStream>;
    /// [`Storage::watch`] for a caller that keeps every current value
    /// itself (the watch cache): events may come without `prev`, which
    /// spares etcd a read at the previous revision for every event.
    async fn watch_current(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        self.watch(prefix, after).await
    }
    /// Forgets history older than `revision`.
    async fn compact(&self, revision: i64) -> Result<()>;
    /// One tick of the periodic compactor, given the round (`time`) and the
    /// revision the previous tick returned: compacts to that revision and
    /// returns the next round and the current revision. A store several
    /// servers share lets one of them compact per tick (etcd: upstream's
    /// `compact_rev_key`); this default is for a store one server owns.
    async fn compact_round(&self, time: i64, revision: i64) -> Result<(i64, i64)> {
        compact_to(self, revision).await?;
        Ok((time + 1, self.current_revision().await?))
    }
    /// The newest revision.
    async fn current_revision(&self) -> Result<i64>;
    /// The oldest revision still readable (the compaction point).
    async fn compacted_revision(&self) -> Result<i64>;
    /// Whether the backend can serve (for /livez and /readyz).
    async fn check_health(&self) -> Result<()>;
    /// Makes every acknowledged write durable and stops background work.
    async fn close(&self) -> Result<()>;
}
