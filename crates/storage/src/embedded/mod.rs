//! The embedded backend: the default store, durable in one log file in the
//! data directory, with every revision since the last compaction in memory.
//!
//! Writes are applied in memory under one lock (so compares see every earlier
//! write), framed into a shared buffer, and acknowledged only after the flusher
//! thread has written and `fdatasync`ed the buffer: writers that arrive during a
//! sync share the next one (group commit). Watchers are notified after the sync.
//! Keys written with a time to live are deleted by the expirer thread once
//! their deadline (wall clock, logged with the put) has passed.

mod wal;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use crate::{
    Event, EventType, KeyValue, RangeResult, Result, Storage, StorageError, WATCHER_BUFFER,
    WatchItem, WatchStream, Watcher, deliver, keys_from,
};
use wal::Record;

/// The largest value accepted, as etcd's default request limit (1.5 MiB).
pub const MAX_VALUE_BYTES: usize = 1536 * 1024;
const LOG_FILE: &str = "store.log";
/// The log is rewritten with only its live keys once it is longer than this
/// and than four times those keys (at start, and after a compaction).
const REWRITE_MIN_BYTES: u64 = 64 << 20;
/// History is kept in memory: values of more than this since the last
/// compaction (large objects rewritten often) have their oldest half
/// compacted at once rather than wait for the compactor.
const HISTORY_MAX_BYTES: usize = 256 << 20;
/// How often a batch the disk had no room for is tried again.
const FULL_RETRY: Duration = Duration::from_secs(1);

/// One revision of one key; `value == None` is a deletion.
#[derive(Clone, Debug)]
struct Rev {
    mod_rev: i64,
    create_rev: i64,
    version: i64,
    value: Option<Bytes>,
}

#[derive(Default)]
struct State {
    rev: i64,
    compacted: i64,
    keys: BTreeMap<String, Vec<Rev>>,
    /// Events after `compacted`, in revision order, for watch replay.
    history: VecDeque<Arc<Event>>,
    /// The values `history` holds, and the most it may hold before the
    /// oldest half is compacted early.
    history_bytes: usize,
    history_max: usize,
    /// Frames not yet written, and the newest revision among them.
    pending: Vec<u8>,
    pending_rev: i64,
    /// The flusher sleeps on `Shared::wake`: only then does a write
    /// signal it (a signal is a futex syscall even with nobody waiting).
    flusher_waiting: bool,
    /// Events up to this revision have gone to watchers.
    notified: i64,
    watchers: Vec<Watcher>,
    closing: bool,
    failed: Option<String>,
    /// The disk had no room for the last batch: the flusher writes it again
    /// every [`FULL_RETRY`] and new writes are refused until it fits.
    full: Option<String>,
    /// Deadlines (Unix ms) of keys that expire, by key and in order.
    deadlines: HashMap<String, i64>,
    expiring: BTreeSet<(i64, String)>,
    /// The log file's length, as the flusher last wrote it.
    log_bytes: u64,
    /// Asks the flusher to replace the log with the live keys.
    rewrite: bool,
    /// A log shorter than this is never rewritten.
    rewrite_min: u64,
}

#[derive(Clone, Debug, Default)]
struct Durable {
    rev: i64,
    failed: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the flusher.
    wake: Condvar,
    /// Wakes the expirer (a new earliest deadline, or closing).
    expiry: Condvar,
    durable: watch::Sender<Durable>,
}

/// The embedded MVCC store.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    expirer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmbeddedStore({})", self.path.display())
    }
}

impl EmbeddedStore {
    /// Opens the store in `dir` (created if missing), replaying its log.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOG_FILE);
        let (mut file, records, log_bytes) = wal::open(&path)?;
        let mut st = State {
            rewrite_min: REWRITE_MIN_BYTES,
            history_max: HISTORY_MAX_BYTES,
            ..State::default()
        };
        for r in records {
            replay(&mut st, r);
        }
        st.notified = st.rev;
        st.log_bytes = log_bytes;
        if st.log_too_long() {
            st.compact(st.rev);
            let records = snapshot(&st);
            tracing::info!(keys = records.len() - 2, "rewrote the store log");
            file = wal::rewrite(&path, &records)?;
            st.log_bytes = file.metadata()?.len();
        }
        tracing::debug!(
            keys = st.keys.len(),
            revision = st.rev,
            log_bytes,
            "embedded store opened"
        );
        let durable = watch::Sender::new(Durable {
            rev: st.rev,
            failed: None,
        });
        let shared = Arc::new(Shared {
            state: Mutex::new(st),
            wake: Condvar::new(),
            expiry: Condvar::new(),
            durable,
        });
        let (s2, p2) = (shared.clone(), path.clone());
        let handle = std::thread::Builder::new()
            .name("kaiser-store-flusher".into())
            .spawn(move || flusher(s2, file, p2))?;
        let s3 = shared.clone();
        let expirer = std::thread::Builder::new()
            .name("kaiser-store-expirer".into())
            .spawn(move || expirer(s3))?;
        Ok(EmbeddedStore {
            shared,
            flusher: Mutex::new(Some(handle)),
            expirer: Mutex::new(Some(expirer)),
            path,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }

    /// Applies a write under the lock and queues its record; returns its revision.
    fn write(&self, f: impl FnOnce(&mut State) -> Result<Record>) -> Result<i64> {
        write(&self.shared, f)
    }

    /// Creates `key`, expiring at `expires` (Unix ms) when given.
    async fn put_new(&self, key: &str, value: Bytes, expires: Option<i64>) -> Result<i64> {
        check_size(&value)?;
        let rev = self.write(|st| {
            let rev = st.rev + 1;
            st.apply_put(key, value, rev, expires, |cur| match cur {
                Some(_) => Err(StorageError::KeyExists(key.to_string())),
                None => Ok((rev, 1)),
            })
        })?;
        self.wait_durable(rev).await?;
        Ok(rev)
    }

    /// Overwrites `key` at mod revision `expected`; it expires at `expires`
    /// (Unix ms) when given, and no longer expires otherwise.
    async fn put_over(
        &self,
        key: &str,
        value: Bytes,
        expected: i64,
        expires: Option<i64>,
    ) -> Result<i64> {
        check_size(&value)?;
        let rev = self.write(|st| {
            let rev = st.rev + 1;
            st.apply_put(key, value, rev, expires, |cur| {
                let cur = cur.ok_or_else(|| StorageError::NotFound(key.to_string()))?;
                if cur.mod_rev != expected {
                    return Err(StorageError::Conflict {
                        key: key.to_string(),
                        current: to_kv(key, cur).map(Box::new),
                    });
                }
                Ok((cur.create_rev, cur.version + 1))
            })
        })?;
        self.wait_durable(rev).await?;
        Ok(rev)
    }

    async fn wait_durable(&self, rev: i64) -> Result<()> {
        let mut rx = self.shared.durable.subscribe();
        let d = rx
            .wait_for(|d| d.rev >= rev || d.failed.is_some())
            .await
            .map_err(|_| StorageError::Unavailable("store flusher stopped".into()))?;
        match &d.failed {
            Some(e) if d.rev < rev => Err(StorageError::Io(e.clone())),
            _ => Ok(()),
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Applies a write under the lock and queues its record; returns its revision.
fn write(shared: &Shared, f: impl FnOnce(&mut State) -> Result<Record>) -> Result<i64> {
    write_returning(shared, |st| Ok((f(st)?, ()))).map(|(rev, ())| rev)
}

/// [`write`] for a write that also hands back what it took out of the state.
fn write_returning<T>(
    shared: &Shared,
    f: impl FnOnce(&mut State) -> Result<(Record, T)>,
) -> Result<(i64, T)> {
    let mut st = lock(shared);
    if let Some(e) = &st.failed {
        return Err(StorageError::Io(e.clone()));
    }
    if let Some(e) = &st.full {
        return Err(StorageError::Io(format!(
            "the store's disk is full ({e}); writes resume once space is freed"
        )));
    }
    if st.closing {
        return Err(StorageError::Unavailable("store is shutting down".into()));
    }
    let first = st.expiring.first().map(|(at, _)| *at);
    let (rec, out) = f(&mut st)?;
    let rev = st.rev;
    rec.encode_into(&mut st.pending);
    if let Some(upto) = st.history_overflow() {
        tracing::info!(
            revision = upto,
            history_bytes = st.history_bytes,
            "compacting the store's history early: it outgrew its memory bound"
        );
        st.compact(upto);
        Record::Compact { rev: upto }.encode_into(&mut st.pending);
    }
    st.pending_rev = rev;
    let wake = st.flusher_waiting;
    // The expirer sleeps until the earliest deadline: wake it for an earlier one.
    let sooner = match (st.expiring.first(), first) {
        (Some((at, _)), Some(before)) => *at < before,
        (Some(_), None) => true,
        (None, _) => false,
    };
    drop(st);
    if wake {
        shared.wake.notify_one();
    }
    if sooner {
        shared.expiry.notify_one();
    }
    Ok((rev, out))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The deadline (Unix ms) of a key written now with `ttl`.
fn deadline(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// Deletes keys whose deadline has passed, as writes of their own (a
/// revision and a delete event each), sleeping until the next deadline.
fn expirer(shared: Arc<Shared>) {
    let mut st = lock(&shared);
    loop {
        if st.closing {
            return;
        }
        if st.full.is_some() {
            // Deletes are writes too: wait for room rather than fail them.
            st = shared
                .expiry
                .wait_timeout(st, FULL_RETRY)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
            continue;
        }
        let now = now_ms();
        let due: Vec<String> = st
            .expiring
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, k)| k.clone())
            .collect();
        if due.is_empty() {
            let wait = st
                .expiring
                .first()
                .map_or(Duration::from_secs(60), |(at, _)| {
                    Duration::from_millis(u64::try_from(at - now).unwrap_or(0))
                });
            st = shared
                .expiry
                .wait_timeout(st, wait.min(Duration::from_secs(60)))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
            continue;
        }
        drop(st);
        let mut failed = false;
        for key in due {
            let result = write(&shared, |st| {
                // Rewritten meanwhile with a later deadline (or none): stays.
                if st.deadlines.get(&key).is_none_or(|at| *at > now) {
                    return Err(StorageError::NotFound(key.clone()));
                }
                let rev = st.rev + 1;
                let gone = st.delete_with(&key, rev, |_| Ok(()));
                // Its deadline goes either way: a key not there is not due.
                st.set_deadline(&key, None);
                gone?;
                Ok(Record::Delete {
                    rev,
                    key: key.clone(),
                })
            });
            match result {
                Ok(_) | Err(StorageError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(%key, error = %e, "could not delete an expired key");
                    failed = true;
                }
            }
        }
        st = lock(&shared);
        if failed {
            // A store that refuses writes: try again later, not in a loop.
            st = shared
                .expiry
                .wait_timeout(st, Duration::from_secs(1))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

fn check_size(value: &Bytes) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StorageError::TooLarge {
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

fn to_kv(key: &str, r: &Rev) -> Option<KeyValue> {
    Some(KeyValue {
        key: key.to_string(),
        value: r.value.clone()?,
        create_revision: r.create_rev,
        mod_revision: r.mod_rev,
        version: r.version,
        derived: Default::default(),
    })
}

/// The value of a key as of revision `at`.
fn visible(key: &str, revs: &[Rev], at: i64) -> Option<KeyValue> {
    let i = revs.partition_point(|r| r.mod_rev <= at);
    to_kv(key, revs.get(i.checked_sub(1)?)?)
}

impl State {
    /// The revision a read sees: reads see only synced writes (those up to
    /// `notified`), so nothing a reader saw can vanish in a crash or when
    /// the disk is full.
    fn check_read_rev(&self, revision: Option<i64>) -> Result<i64> {
        match revision {
            None | Some(0) => Ok(self.notified),
            Some(r) if r < self.compacted => Err(StorageError::Compacted {
                requested: r,
                compacted: self.compacted,
            }),
            Some(r) if r > self.notified => Err(StorageError::FutureRevision {
                requested: r,
                current: self.notified,
            }),
            Some(r) => Ok(r),
        }
    }

    /// Puts `value` at `rev` once `decide`, shown the key's live revision
    /// (if any), allows it and names the put's (create revision, version).
    /// The key is looked up once: on a large store most of a write's time
    /// under the lock goes to comparing keys.
    fn put_with(
        &mut self,
        key: &str,
        value: Bytes,
        rev: i64,
        decide: impl FnOnce(Option<&Rev>) -> Result<(i64, i64)>,
    ) -> Result<(i64, i64)> {
        let (revs, prev, (create_rev, version)) = match self.keys.entry(key.to_string()) {
            Entry::Vacant(v) => {
                let revs = decide(None)?;
                (v.insert(Vec::with_capacity(1)), None, revs)
            }
            Entry::Occupied(o) => {
                let all = o.into_mut();
                let live = all.last().filter(|r| r.value.is_some());
                let revs = decide(live)?;
                let prev = live.and_then(|r| to_kv(key, r));
                (all, prev, revs)
            }
        };
        revs.push(Rev {
            mod_rev: rev,
            create_rev,
            version,
            value: Some(value.clone()),
        });
        self.rev = self.rev.max(rev);
        self.history_bytes += value.len();
        let kv = KeyValue {
            key: key.to_string(),
            value,
            create_revision: create_rev,
            mod_revision: rev,
            version,
            derived: Default::default(),
        };
        self.history
            .push_back(Arc::new(Event::new(EventType::Put, kv, prev)));
        Ok((create_rev, version))
    }

    /// Applies a put of `value` at `rev` as [`State::put_with`], expiring
    /// at `expires` (or never), and returns the record that logs it.
    fn apply_put(
        &mut self,
        key: &str,
        value: Bytes,
        rev: i64,
        expires: Option<i64>,
        decide: impl FnOnce(Option<&Rev>) -> Result<(i64, i64)>,
    ) -> Result<Record> {
        let (create_rev, version) = self.put_with(key, value.clone(), rev, decide)?;
        self.set_deadline(key, expires);
        Ok(Record::Put {
            rev,
            create_rev,
            version,
            key: key.to_string(),
            value,
            expires,
        })
    }

    /// Records when `key` expires (Unix ms), or that it does not.
    fn set_deadline(&mut self, key: &str, at: Option<i64>) {
        // Most kinds never expire: no hashing of the key for them.
        if at.is_none() && self.deadlines.is_empty() {
            return;
        }
        if let Some(old) = self.deadlines.remove(key) {
            self.expiring.remove(&(old, key.to_string()));
        }
        if let Some(at) = at {
            self.deadlines.insert(key.to_string(), at);
            self.expiring.insert((at, key.to_string()));
        }
    }

    /// Deletes `key` at `rev` once `check`, shown its live revision, allows
    /// it; returns the value deleted. One search of the key map, as a put.
    fn delete_with(
        &mut self,
        key: &str,
        rev: i64,
        check: impl FnOnce(&Rev) -> Result<()>,
    ) -> Result<KeyValue> {
        let not_found = || StorageError::NotFound(key.to_string());
        let revs = self.keys.get_mut(key).ok_or_else(not_found)?;
        let live = revs
            .last()
            .filter(|r| r.value.is_some())
            .ok_or_else(not_found)?;
        check(live)?;
        let prev = to_kv(key, live).ok_or_else(not_found)?;
        revs.push(Rev {
            mod_rev: rev,
            create_rev: 0,
            version: 0,
            value: None,
        });
        self.rev = self.rev.max(rev);
        let gone = KeyValue {
            key: key.to_string(),
            value: Bytes::new(),
            create_revision: prev.create_revision,
            mod_revision: rev,
            version: 0,
            derived: Default::default(),
        };
        self.history.push_back(Arc::new(Event::new(
            EventType::Delete,
            gone,
            Some(prev.clone()),
        )));
        Ok(prev)
    }

    /// Whether the log is long enough, and mostly enough history, to be
    /// worth rewriting with the live keys only.
    fn log_too_long(&self) -> bool {
        let live: u64 = self
            .keys
            .iter()
            .filter_map(|(k, revs)| {
                let v = revs.last()?.value.as_ref()?;
                Some((k.len() + v.len()) as u64)
            })
            .sum();
        self.log_bytes > self.rewrite_min && self.log_bytes > 4 * live
    }

    /// When history holds more than its bound: the revision up to which
    /// compacting leaves half the bound (the newest event always stays).
    fn history_overflow(&self) -> Option<i64> {
        if self.history_bytes <= self.history_max {
            return None;
        }
        let mut left = self.history_bytes;
        let mut upto = None;
        // Only synced events: the rest have not reached watchers yet.
        for e in self
            .history
            .iter()
            .take(self.history.len().saturating_sub(1))
            .take_while(|e| e.revision() <= self.notified)
        {
            if left <= self.history_max / 2 {
                break;
            }
            left -= e.kv.value.len();
            upto = Some(e.revision());
        }
        upto
    }

    fn compact(&mut self, rev: i64) {
        self.compacted = self.compacted.max(rev);
        self.keys.retain(|_, revs| {
            let i = revs.partition_point(|r| r.mod_rev <= rev);
            if i > 1 {
                revs.drain(..i - 1);
            }
            if revs
                .first()
                .is_some_and(|r| r.value.is_none() && r.mod_rev <= rev)
            {
                revs.remove(0);
            }
            !revs.is_empty()
        });
        while self.history.front().is_some_and(|e| e.revision() <= rev) {
            if let Some(e) = self.history.pop_front() {
                self.history_bytes -= e.kv.value.len();
            }
        }
    }

    /// Sends events up to `upto` to the watchers, dropping the slow and the gone.
    fn notify(&mut self, upto: i64) {
        let start = self
            .history
            .partition_point(|e| e.revision() <= self.notified);
        let events: Vec<&Arc<Event>> = self
            .history
            .range(start..)
            .take_while(|e| e.revision() <= upto)
            .collect();
        deliver(&mut self.watchers, &events);
        self.notified = self.notified.max(upto);
    }
}

fn replay(st: &mut State, r: Record) {
    match r {
        Record::Put {
            rev,
            create_rev,
            version,
            key,
            value,
            expires,
        } => {
            // A replayed put was checked when it was made.
            let _ = st.put_with(&key, value, rev, |_| Ok((create_rev, version)));
            st.set_deadline(&key, expires);
        }
        Record::Delete { rev, key } => {
            // A logged delete's revision counts even if its key is gone.
            st.rev = st.rev.max(rev);
            let _ = st.delete_with(&key, rev, |_| Ok(()));
            st.set_deadline(&key, None);
        }
        Record::Compact { rev } => st.compact(rev),
        Record::Revision { rev } => st.rev = st.rev.max(rev),
    }
}

/// The records of a log holding only the live keys as of now: their
/// latest values in revision order, then the revision, compacted to it
/// (the history before is not in the new log).
fn snapshot(st: &State) -> Vec<Record> {
    let mut records: Vec<Record> = st
        .keys
        .iter()
        .filter_map(|(k, revs)| {
            let r = revs.last()?;
            Some(Record::Put {
                rev: r.mod_rev,
                create_rev: r.create_rev,
                version: r.version,
                key: k.clone(),
                value: r.value.clone()?,
                expires: st.deadlines.get(k).copied(),
            })
        })
        .collect();
    records.sort_by_key(|r| match r {
        Record::Put { rev, .. } => *rev,
        _ => 0,
    });
    records.push(Record::Revision { rev: st.rev });
    records.push(Record::Compact { rev: st.rev });
    records
}

/// Writes queued frames and syncs, in groups; when asked, replaces the log
/// with a snapshot of the live keys instead (it holds every queued write,
/// so those are durable once it is in place; writes that arrive meanwhile
/// wait for it).
fn flusher(shared: Arc<Shared>, mut file: File, path: PathBuf) {
    // A batch the disk had no room for, and the newest revision in it.
    let mut held: Option<(Vec<u8>, i64)> = None;
    // The file's length: its frames' (`State::log_bytes`) and the zeros
    // reserved after them.
    let mut reserved = file.metadata().map_or(0, |m| m.len());
    loop {
        let (buf, upto, snap, log_len) = {
            let mut st = lock(&shared);
            if held.is_some() {
                if !st.closing {
                    st = shared
                        .wake
                        .wait_timeout(st, FULL_RETRY)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
            } else {
                while st.pending.is_empty() && !st.closing && !st.rewrite {
                    st.flusher_waiting = true;
                    st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                    st.flusher_waiting = false;
                }
            }
            let snap = (held.is_none() && std::mem::take(&mut st.rewrite) && !st.closing)
                .then(|| (snapshot(&st), st.rev));
            let (mut buf, upto) = held.take().unwrap_or_default();
            buf.append(&mut st.pending);
            if buf.is_empty() && snap.is_none() {
                break;
            }
            (buf, upto.max(st.pending_rev), snap, st.log_bytes)
        };
        let mut written = None;
        if let Some((records, rev)) = snap {
            match wal::rewrite(&path, &records).and_then(|f| Ok((f.metadata()?.len(), f))) {
                Ok((len, f)) => {
                    tracing::info!(
                        keys = records.len() - 2,
                        revision = rev,
                        log_bytes = len,
                        "rewrote the store log"
                    );
                    file = f;
                    reserved = len;
                    written = Some(len);
                }
                // The old log goes on.
                Err(e) => tracing::warn!(error = %e, "could not rewrite the store log"),
            }
        }
        if written.is_none() {
            match append(&file, &buf, log_len, &mut reserved) {
                Ok(()) => {}
                Err(Append::NoRoom(e)) => {
                    let mut st = lock(&shared);
                    // Closing: this was the last try.
                    if !st.closing {
                        if st.full.is_none() {
                            tracing::error!(
                                error = %e,
                                "the store's disk is full: writes are refused until space is freed"
                            );
                        }
                        st.full = Some(e.to_string());
                        held = Some((buf, upto));
                        continue;
                    }
                    drop(st);
                    fail(&shared, &e);
                    break;
                }
                Err(Append::Failed(e)) => {
                    fail(&shared, &e);
                    break;
                }
            }
        }
        {
            let mut st = lock(&shared);
            if st.full.take().is_some() {
                tracing::info!("the store's disk has room again: writes resume");
            }
            st.log_bytes = written.unwrap_or(log_len + buf.len() as u64);
            // Readers and watchers first, so that a writer woken below
            // reads its own write.
            st.notify(upto);
        }
        shared.durable.send_modify(|d| d.rev = d.rev.max(upto));
    }
    // Closing: end every watch, and leave the log as long as its frames.
    // (A failed log is left as it is.)
    let (log_len, failed) = {
        let mut st = lock(&shared);
        st.watchers.clear();
        (st.log_bytes, st.failed.is_some())
    };
    if reserved > log_len && !failed {
        let cut = file.set_len(log_len).and_then(|()| file.sync_all());
        if let Err(e) = cut {
            tracing::warn!(error = %e, "could not cut the store log's reserved space");
        }
    }
}

/// Marks the store failed for good: its writers and all later ones get `e`.
fn fail(shared: &Shared, e: &std::io::Error) {
    tracing::error!(error = %e, "store log write failed; the store refuses writes from now on");
    lock(shared).failed = Some(e.to_string());
    shared
        .durable
        .send_modify(|d| d.failed = Some(e.to_string()));
}

/// Why a batch did not reach the log.
enum Append {
    /// No room on the disk (or over a quota): the log is as before the
    /// batch, which may be written again once there is room.
    NoRoom(std::io::Error),
    /// Anything else, a failed sync above all: after one the kernel may
    /// have dropped the pages, so nothing written since can be trusted.
    Failed(std::io::Error),
}

/// Writes `buf` after the log's `len` bytes of frames and syncs it, first
/// reserving space ahead (see [`wal::reserve`]) when the file is
/// `reserved` bytes long and `buf` does not fit.
fn append(
    file: &File,
    buf: &[u8],
    len: u64,
    reserved: &mut u64,
) -> std::result::Result<(), Append> {
    use std::io::ErrorKind::{QuotaExceeded, StorageFull};
    use std::os::unix::fs::FileExt;
    let no_room = |e: &std::io::Error| matches!(e.kind(), StorageFull | QuotaExceeded);
    // Cuts the file back to its frames: the next try starts at a frame
    // boundary, and zeros the disk had no room for are not kept.
    let cut = |reserved: &mut u64| {
        file.set_len(len).map_err(Append::Failed)?;
        *reserved = len;
        Ok::<(), Append>(())
    };
    let end = len + buf.len() as u64;
    if end > *reserved {
        match wal::reserve(file, (*reserved).max(len), end) {
            Ok(to) => *reserved = to,
            // No room to reserve: the batch alone may still fit.
            Err(e) if no_room(&e) => cut(reserved)?,
            Err(e) => return Err(Append::Failed(e)),
        }
    }
    if let Err(e) = file.write_all_at(buf, len) {
        if !no_room(&e) {
            return Err(Append::Failed(e));
        }
        cut(reserved)?;
        return Err(Append::NoRoom(e));
    }
    *reserved = (*reserved).max(end);
    file.sync_data().map_err(Append::Failed)
}

#[async_trait]
impl Storage for EmbeddedStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<i64> {
        self.put_new(key, value, None).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: i64) -> Result<i64> {
        self.put_over(key, value, expected, None).await
    }

    async fn create_expiring(&self, key: &str, value: Bytes, ttl: Duration) -> Result<i64> {
        self.put_new(key, value, Some(deadline(ttl))).await
    }

    async fn update_expiring(
        &self,
        key: &str,
        value: Bytes,
        expected: i64,
        ttl: Duration,
    ) -> Result<i64> {
        self.put_over(key, value, expected, Some(deadline(ttl)))
            .await
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<(i64, KeyValue)> {
        let (rev, kv) = write_returning(&self.shared, |st| {
            let rev = st.rev + 1;
            let gone = st.delete_with(key, rev, |cur| match expected {
                Some(e) if e != cur.mod_rev => Err(StorageError::Conflict {
                    key: key.to_string(),
                    current: to_kv(key, cur).map(Box::new),
                }),
                _ => Ok(()),
            })?;
            st.set_deadline(key, None);
            let rec = Record::Delete {
                rev,
                key: key.to_string(),
            };
            Ok((rec, gone))
        })?;
        self.wait_durable(rev).await?;
        Ok((rev, kv))
    }

    async fn get(&self, key: &str, revision: Option<i64>) -> Result<(Option<KeyValue>, i64)> {
        let st = self.lock();
        let at = st.check_read_rev(revision)?;
        let kv = st.keys.get(key).and_then(|revs| visible(key, revs, at));
        Ok((kv, at))
    }

    async fn range(
        &self,
        prefix: &str,
        start: &str,
        revision: Option<i64>,
        limit: usize,
    ) -> Result<RangeResult> {
        let st = self.lock();
        let at = st.check_read_rev(revision)?;
        let kvs = keys_from(&st.keys, prefix, start)
            .filter_map(|(k, revs)| visible(k, revs, at))
            .map(Arc::new);
        Ok(RangeResult::page(kvs, limit, at))
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        let mut st = self.lock();
        if after < st.compacted {
            return Err(StorageError::Compacted {
                requested: after + 1,
                compacted: st.compacted,
            });
        }
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let start = st.history.partition_point(|e| e.revision() <= after);
        for e in st.history.range(start..) {
            if e.revision() > st.notified {
                break;
            }
            if e.kv.key.starts_with(prefix) && tx.try_send(WatchItem::Event(e.clone())).is_err() {
                // Too much to replay in one go: the client must re-list.
                let _ = tx.try_send(WatchItem::Error(StorageError::Compacted {
                    requested: after + 1,
                    compacted: st.compacted,
                }));
                return Ok(WatchStream::new(rx));
            }
        }
        // Weak, so that dropping the watcher (too slow) still ends the stream.
        let progress_tx = tx.downgrade();
        st.watchers.push(Watcher {
            prefix: prefix.to_string(),
            after,
            tx,
            open: false,
        });
        // Everything up to `notified` has been handed to this watcher, in
        // order, under the same lock: a progress mark after it is exact.
        let shared = Arc::downgrade(&self.shared);
        let progress = Arc::new(move || {
            if let (Some(shared), Some(tx)) = (shared.upgrade(), progress_tx.upgrade()) {
                let st = lock(&shared);
                let _ = tx.try_send(WatchItem::Progress(st.notified));
            }
        });
        Ok(WatchStream::with_progress(rx, progress))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.write(|st| {
            if revision <= st.compacted {
                return Err(StorageError::Compacted {
                    requested: revision,
                    compacted: st.compacted,
                });
            }
            if revision > st.notified {
                return Err(StorageError::FutureRevision {
                    requested: revision,
                    current: st.notified,
                });
            }
            st.compact(revision);
            // History this old is no longer needed: the flusher may drop it
            // from the log too.
            st.rewrite = st.log_too_long();
            Ok(Record::Compact { rev: revision })
        })?;
        Ok(())
    }

    async fn current_revision(&self) -> Result<i64> {
        Ok(self.lock().notified)
    }

    async fn compacted_revision(&self) -> Result<i64> {
        Ok(self.lock().compacted)
    }

    async fn check_health(&self) -> Result<()> {
        let st = self.lock();
        match (&st.failed, st.closing) {
            (Some(e), _) => Err(StorageError::Io(e.clone())),
            (None, true) => Err(StorageError::Unavailable("store is shutting down".into())),
            (None, false) => Ok(()),
        }
    }

    async fn close(&self) -> Result<()> {
        let rev = {
            let mut st = self.lock();
            st.closing = true;
            st.pending_rev.max(st.rev)
        };
        self.shared.wake.notify_all();
        self.shared.expiry.notify_all();
        let expirer = self
            .expirer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = expirer {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
        let handle = self
            .flusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            tokio::task::spawn_blocking(move || h.join())
                .await
                .map_err(|e| StorageError::Io(e.to_string()))?
                .map_err(|_| StorageError::Io("store flusher panicked".into()))?;
        }
        let d = self.shared.durable.borrow().clone();
        match d.failed {
            Some(e) if d.rev < rev => Err(StorageError::Io(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use std::io::Write;

    /// A full disk: the batch that did not fit waits, unseen by readers
    /// and watchers; later writes are refused at once; once there is room
    /// the batch is written, writes resume, and a reopened store has every
    /// write that was acknowledged, with nothing lost or torn.
    #[tokio::test]
    async fn a_full_disk_refuses_writes_until_there_is_room_and_loses_nothing() {
        let disk = testing::SmallDisk::mount(4 << 20);
        let dir = disk.path.join("store");
        let s = Arc::new(EmbeddedStore::open(&dir).expect("open"));
        disk.fill_leaving(450 << 10);
        let mut watch = s.watch("/full/", 0).await.expect("watch");
        let value = Bytes::from(vec![b'v'; 100 << 10]);
        let mut acked = Vec::new();
        let held = loop {
            let key = format!("/full/{}", acked.len());
            let (s2, v) = (s.clone(), value.clone());
            let mut task = tokio::spawn(async move { s2.create(&key, v).await });
            match tokio::time::timeout(Duration::from_secs(2), &mut task).await {
                Ok(Ok(Ok(rev))) => acked.push(rev),
                Ok(other) => panic!("write {}: {other:?}", acked.len()),
                Err(_) => break task,
            }
            assert!(acked.len() < 10, "the disk never filled");
        };
        assert!(acked.len() >= 2, "{acked:?}");
        let held_key = format!("/full/{}", acked.len());

        // Readers and watchers see exactly the acknowledged writes.
        let r = s.range("/full/", "", None, 0).await.expect("range");
        assert_eq!(r.kvs.len(), acked.len());
        assert_eq!(r.revision, *acked.last().expect("one"));
        assert_eq!(s.current_revision().await.expect("rev"), r.revision);
        assert!(s.get(&held_key, None).await.expect("get").0.is_none());
        let mut seen = Vec::new();
        while let Ok(item) = tokio::time::timeout(Duration::from_millis(300), watch.recv()).await {
            match item {
                Some(WatchItem::Event(e)) => seen.push(e.revision()),
                Some(WatchItem::Progress(_)) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, acked);

        // New writes are refused at once; reads and health go on.
        let err = s
            .create("/full/x", Bytes::from_static(b"x"))
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, StorageError::Io(m) if m.contains("disk is full") && m.contains("space is freed")),
            "{err:?}"
        );
        s.check_health().await.expect("healthy while full");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(!held.is_finished(), "the held write finished without room");

        // Room again: the held write lands, then new ones.
        disk.free();
        let rev = tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .expect("the held write lands once there is room")
            .expect("task")
            .expect("held create");
        assert!(rev > *acked.last().expect("one"));
        let after = s
            .create("/full/after", Bytes::from_static(b"a"))
            .await
            .expect("writes resume");
        assert!(after > rev);
        let mut revs = Vec::new();
        while revs.len() < 2 {
            match tokio::time::timeout(Duration::from_secs(5), watch.recv()).await {
                Ok(Some(WatchItem::Event(e))) => revs.push(e.revision()),
                Ok(Some(WatchItem::Progress(_))) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(revs, [rev, after]);
        s.close().await.expect("close");
        drop(s);

        let s = EmbeddedStore::open(&dir).expect("reopen");
        let r = s.range("/full/", "", None, 0).await.expect("range");
        assert_eq!(r.kvs.len(), acked.len() + 2);
        assert_eq!(r.revision, after);
        let (kv, _) = s.get(&held_key, None).await.expect("get");
        assert_eq!(kv.expect("held write stored").value, value);
        s.close().await.expect("close");
    }

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("open");
        testing::run_all(&store).await;
        let store: Arc<dyn Storage> = Arc::new(store);
        testing::run_concurrent(store.clone()).await;
        store.close().await.expect("close");
    }

    #[tokio::test]
    async fn survives_reopen_with_revisions_and_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (r1, r2);
        {
            let s = EmbeddedStore::open(dir.path()).expect("open");
            r1 = s
                .create("/a/1", Bytes::from_static(b"one"))
                .await
                .expect("create");
            r2 = s
                .update("/a/1", Bytes::from_static(b"two"), r1)
                .await
                .expect("update");
            s.create("/a/2", Bytes::from_static(b"x"))
                .await
                .expect("create");
            s.delete("/a/2", None).await.expect("delete");
            s.close().await.expect("close");
        }
        let s = EmbeddedStore::open(dir.path()).expect("reopen");
        let (kv, rev) = s.get("/a/1", None).await.expect("get");
        let kv = kv.expect("present");
        assert_eq!(
            (
                kv.value.as_ref(),
                kv.mod_revision,
                kv.create_revision,
                kv.version
            ),
            (&b"two"[..], r2, r1, 2)
        );
        assert_eq!(rev, r2 + 2);
        let (old, _) = s.get("/a/1", Some(r1)).await.expect("old get");
        assert_eq!(old.expect("old").value.as_ref(), b"one");
        assert!(s.get("/a/2", None).await.expect("get").0.is_none());
        let mut w = s.watch("/a/", r1).await.expect("watch");
        let mut kinds = Vec::new();
        for _ in 0..3 {
            match w.recv().await {
                Some(WatchItem::Event(e)) => kinds.push(e.kind),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            kinds,
            vec![EventType::Put, EventType::Put, EventType::Delete]
        );
        s.close().await.expect("close");
    }

    /// Large values rewritten often do not pile up in memory until the next
    /// compaction: past its bound, the oldest half of history goes at once.
    #[tokio::test]
    async fn history_past_its_bound_is_compacted_early() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = EmbeddedStore::open(dir.path()).expect("open");
        lock(&s.shared).history_max = 100_000;
        let big = |i: u8| Bytes::from(vec![i; 30_000]);
        let mut revs = vec![s.create("/h/k", big(0)).await.expect("create")];
        for i in 1..10 {
            let prev = *revs.last().expect("a revision");
            revs.push(s.update("/h/k", big(i), prev).await.expect("update"));
        }
        {
            let st = lock(&s.shared);
            assert!(st.history_bytes <= 100_000, "{}", st.history_bytes);
            assert_eq!(
                st.history_bytes,
                st.history.iter().map(|e| e.kv.value.len()).sum::<usize>()
            );
        }
        let compacted = s.compacted_revision().await.expect("compacted");
        assert!(compacted >= revs[5], "{compacted}");
        assert!(matches!(
            s.get("/h/k", Some(revs[1])).await,
            Err(StorageError::Compacted { .. })
        ));
        let (kv, _) = s.get("/h/k", Some(revs[9])).await.expect("newest");
        assert_eq!(kv.expect("there").value, big(9));
        s.close().await.expect("close");
        // The log says so too.
        let s = EmbeddedStore::open(dir.path()).expect("reopen");
        assert_eq!(s.compacted_revision().await.expect("compacted"), compacted);
        let (kv, _) = s.get("/h/k", None).await.expect("get");
        assert_eq!(kv.expect("there").version, 10);
        s.close().await.expect("close");
    }

    /// After a compaction, a log that is mostly history is replaced by one
    /// of the live keys while writers go on; every acknowledged write is
    /// there after a reopen, with its revisions.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_log_is_rewritten_after_compaction_while_writes_go_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join(LOG_FILE);
        let s = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        lock(&s.shared).rewrite_min = 256 << 10;
        let value = |round: usize| Bytes::from(vec![b'a' + (round % 26) as u8; 4096]);
        let mut last = HashMap::new();
        for round in 0..20 {
            for k in 0..20 {
                let key = format!("/o/{k}");
                let rev = match last.get(&key) {
                    None => s.create(&key, value(round)).await,
                    Some(&(_, prev)) => s.update(&key, value(round), prev).await,
                }
                .expect("write");
                last.insert(key, (round, rev));
            }
        }
        let before = std::fs::metadata(&log).expect("log").len();
        assert!(before > 1 << 20, "{before}");
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut acked = Vec::new();
                    for i in 0..200 {
                        let key = format!("/w/{t}/{i}");
                        let rev = s
                            .create(&key, Bytes::from_static(b"v"))
                            .await
                            .expect("create");
                        acked.push((key, rev));
                    }
                    acked
                })
            })
            .collect();
        let compacted_at = s.current_revision().await.expect("revision");
        s.compact(compacted_at).await.expect("compact");
        let mut acked = Vec::new();
        for w in writers {
            acked.extend(w.await.expect("writer"));
        }
        let mut after = before;
        for _ in 0..500 {
            after = std::fs::metadata(&log).expect("log").len();
            if after < before / 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(after < before / 4, "{before} -> {after}");
        let newest = s.current_revision().await.expect("revision");
        s.close().await.expect("close");

        let s = EmbeddedStore::open(dir.path()).expect("reopen");
        assert_eq!(s.current_revision().await.expect("revision"), newest);
        assert!(s.compacted_revision().await.expect("compacted") >= compacted_at);
        for (key, (round, rev)) in &last {
            let (kv, _) = s.get(key, None).await.expect("get");
            let kv = kv.expect("kept");
            assert_eq!(
                (kv.value, kv.mod_revision, kv.version),
                (value(*round), *rev, 20)
            );
        }
        for (key, rev) in &acked {
            let (kv, _) = s.get(key, None).await.expect("get");
            assert_eq!(kv.expect("acknowledged").mod_revision, *rev, "{key}");
        }
        // The history before the rewrite is gone, as after any compaction.
        assert!(matches!(
            s.watch("/o/", 1).await,
            Err(StorageError::Compacted { .. })
        ));
        s.close().await.expect("close");
    }

    #[tokio::test]
    async fn a_watcher_that_stops_reading_is_closed_and_others_go_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = EmbeddedStore::open(dir.path()).expect("open");
        let mut stalled = s.watch("/w/", 0).await.expect("watch");
        let mut healthy = s.watch("/w/", 0).await.expect("watch");
        let total = WATCHER_BUFFER + 100;
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while n < total {
                match healthy.recv().await {
                    Some(WatchItem::Event(_)) => n += 1,
                    other => panic!("healthy watcher got {other:?} after {n}"),
                }
            }
            n
        });
        for i in 0..total {
            s.create(&format!("/w/{i}"), Bytes::from_static(b"v"))
                .await
                .expect("create");
        }
        assert_eq!(reader.await.expect("reader"), total);
        // The stalled one got at most its buffer, then its stream ended.
        let mut got = 0;
        while let Some(item) = stalled.recv().await {
            assert!(matches!(item, WatchItem::Event(_)));
            got += 1;
        }
        assert_eq!(got, WATCHER_BUFFER);
        assert!(
            lock(&s.shared).watchers.len() == 1,
            "only the healthy watcher remains"
        );
        s.close().await.expect("close");
    }

    #[tokio::test]
    async fn keys_still_expire_after_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path()).expect("open");
        store
            .create_expiring("/e/a", Bytes::from_static(b"1"), Duration::from_secs(1))
            .await
            .expect("create");
        store
            .create("/e/kept", Bytes::from_static(b"2"))
            .await
            .expect("create");
        store.close().await.expect("close");
        let store = EmbeddedStore::open(dir.path()).expect("reopen");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.get("/e/a", None).await.expect("get").0.is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "not expired after a restart"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(store.get("/e/kept", None).await.expect("get").0.is_some());
        store.close().await.expect("close");
        // The delete was logged: the key stays gone.
        let store = EmbeddedStore::open(dir.path()).expect("reopen");
        assert!(store.get("/e/a", None).await.expect("get").0.is_none());
        store.close().await.expect("close");
    }

    /// The log file runs ahead of its frames with reserved zeros: a store
    /// opened from it as a crash leaves it (a copy taken while it runs)
    /// has every acknowledged write and appends right after them, and a
    /// clean close leaves the file as long as its frames.
    #[tokio::test]
    async fn the_space_reserved_after_the_log_is_replayed_across_and_cut_at_close() {
        fn copy_of(s: &EmbeddedStore, from: &Path) -> tempfile::TempDir {
            let (frames, file) = (
                lock(&s.shared).log_bytes,
                std::fs::metadata(from.join(LOG_FILE)).expect("log").len(),
            );
            assert!(file > frames, "no space reserved: {file} for {frames}");
            assert_eq!(file % wal::RESERVE_BYTES, 0);
            let to = tempfile::tempdir().expect("tempdir");
            std::fs::copy(from.join(LOG_FILE), to.path().join(LOG_FILE)).expect("copy");
            to
        }
        async fn write(s: &EmbeddedStore, keys: std::ops::Range<usize>) {
            for i in keys {
                s.create(&format!("/k/{i}"), Bytes::from(vec![b'x'; 1024]))
                    .await
                    .expect("create");
            }
        }
        let count = |s: &EmbeddedStore| {
            let st = lock(&s.shared);
            st.keys
                .values()
                .filter(|r| r.last().is_some_and(|r| r.value.is_some()))
                .count()
        };
        let first = tempfile::tempdir().expect("tempdir");
        let s = EmbeddedStore::open(first.path()).expect("open");
        write(&s, 0..20).await;
        let crashed = copy_of(&s, first.path());
        let frames = lock(&s.shared).log_bytes;
        s.close().await.expect("close");
        let len = std::fs::metadata(first.path().join(LOG_FILE))
            .expect("log")
            .len();
        assert_eq!(len, frames, "a clean close keeps only the frames");

        let s = EmbeddedStore::open(crashed.path()).expect("open after a crash");
        assert_eq!(count(&s), 20);
        write(&s, 20..25).await;
        let again = copy_of(&s, crashed.path());
        s.close().await.expect("close");
        let s = EmbeddedStore::open(again.path()).expect("open after a second crash");
        assert_eq!(count(&s), 25);
        assert_eq!(s.current_revision().await.expect("revision"), 25);
        s.close().await.expect("close");
    }

    #[tokio::test]
    async fn torn_tail_keeps_acknowledged_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let s = EmbeddedStore::open(dir.path()).expect("open");
            for i in 0..10 {
                s.create(&format!("/k/{i}"), Bytes::from(vec![b'x'; 100]))
                    .await
                    .expect("create");
            }
            s.close().await.expect("close");
        }
        let log = dir.path().join(LOG_FILE);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open log");
        f.write_all(&[7, 0, 0, 0, 1, 2]).expect("append garbage");
        drop(f);
        let s = EmbeddedStore::open(dir.path()).expect("reopen");
        let r = s.range("/k/", "", None, 0).await.expect("range");
        assert_eq!(r.kvs.len(), 10);
        s.create("/k/new", Bytes::from_static(b"y"))
            .await
            .expect("write after repair");
        s.close().await.expect("close");
        let s = EmbeddedStore::open(dir.path()).expect("reopen again");
        assert_eq!(
            s.range("/k/", "", None, 0).await.expect("range").kvs.len(),
            11
        );
        s.close().await.expect("close");
    }
}
