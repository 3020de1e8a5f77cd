//! The etcd v3 backend: the same MVCC semantics on an etcd cluster, for
//! users who run several kaiser replicas or outgrow one machine.
//!
//! Writes are transactions compared on create or mod revision, batched
//! while etcd is busy ([`batch`]); reads are linearizable ranges at a
//! revision; watches ask etcd for previous values and progress
//! notifications.

mod batch;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType as EtcdEventType,
    GetOptions, TxnOp, TxnOpResponse, WatchOptions,
};
use tokio::sync::mpsc;

use crate::embedded::MAX_VALUE_BYTES;
use crate::{
    Event, EventType, KeyValue, RangeResult, Result, Storage, StorageError, WatchItem, WatchStream,
};

const WATCH_BUFFER: usize = 10_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to reach etcd.
#[derive(Clone, Debug, Default)]
pub struct EtcdConfig {
    pub endpoints: Vec<String>,
    /// PEM of the CA that signed etcd's serving certificate.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate and key, for etcd's client-cert auth.
    pub client_cert_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// Every write its own etcd request and revision (no [`batch`]ing), as
    /// kube-apiservers sharing the etcd expect.
    pub one_write_per_request: bool,
    /// How long past a key's time to live its lease may be shared with later
    /// keys, at most (`--lease-reuse-duration-seconds`; zero shares none;
    /// unset, upstream's 60 s).
    pub lease_reuse: Option<Duration>,
}

/// The etcd-backed store.
pub struct EtcdStore {
    client: Client,
    writes: batch::Batcher,
    /// The newest compaction this process knows of (etcd does not report it
    /// on reads).
    compacted: Arc<AtomicI64>,
    leases: Arc<tokio::sync::Mutex<LeaseCache>>,
    lease_reuse: Duration,
}

/// The lease the last expiring write got. Later writes that would expire at
/// about the same time share it, as upstream's lease manager does, so that
/// Events do not cost etcd a lease each.
#[derive(Default)]
struct LeaseCache {
    id: i64,
    expires: Option<std::time::Instant>,
    attached: usize,
}

/// A lease is shared for at most this long past a key's time to live
/// (unless configured)…
const LEASE_REUSE_MAX: Duration = Duration::from_secs(60);
/// …or this share of the time to live, if less (upstream's 5%)…
const LEASE_REUSE_PER_MILLE: u32 = 50;
/// …and by at most this many keys.
const LEASE_MAX_KEYS: usize = 1000;

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EtcdStore")
    }
}

fn map_err(e: etcd_client::Error) -> StorageError {
    let text = e.to_string();
    if text.contains("required revision has been compacted") {
        return StorageError::Compacted {
            requested: 0,
            compacted: 0,
        };
    }
    if text.contains("required revision is a future revision") {
        return StorageError::FutureRevision {
            requested: 0,
            current: 0,
        };
    }
    if text.contains("request is too large") {
        return StorageError::TooLarge {
            size: 0,
            limit: MAX_VALUE_BYTES,
        };
    }
    match e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => {
            StorageError::Unavailable(text)
        }
        // A status etcd sent has no source; one with a source was made by
        // the client from a broken connection (a reset mid-stream arrives
        // as code Unknown, "h2 protocol error: error reading a body").
        etcd_client::Error::GRpcStatus(ref st) if std::error::Error::source(st).is_some() => {
            StorageError::Unavailable(text)
        }
        // Lost or refused connections surface as gRPC statuses of several
        // codes (unavailable, cancelled, deadline); all mean "not reachable".
        _ if [
            "unavailable",
            "deadline",
            "connect error",
            "timed out",
            "cancel",
            "connection closed",
            "connection reset",
            "broken pipe",
            "transport error",
        ]
        .iter()
        .any(|w| text.to_lowercase().contains(w)) =>
        {
            StorageError::Unavailable(text)
        }
        // Anything else etcd said itself: its own words, as upstream
        // hands them to clients.
        etcd_client::Error::GRpcStatus(ref st) => StorageError::Backend(st.message().to_string()),
        _ => StorageError::Io(text),
    }
}

/// Sends a request again, at most four times over half a second, while it
/// fails before reaching etcd: a connection refused by a member that is
/// down. The balancer keeps such a member among its choices and picks at
/// random, so each retry has another chance at one of the other
/// `--etcd-servers`; the request did nothing, so even a write is safe to
/// send again.
async fn unless_unreached<T, Fut>(
    mut send: impl FnMut() -> Fut,
) -> std::result::Result<T, etcd_client::Error>
where
    Fut: std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    let mut tries = 0;
    loop {
        match send().await {
            Err(e) if tries < 4 && e.to_string().contains("tcp connect error") => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            }
            done => return done,
        }
    }
}

fn to_kv(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        derived: Default::default(),
    }
}

/// A watch event as the store's, previous value included when etcd sent it.
fn to_event(ev: &etcd_client::Event) -> Option<Event> {
    let kv = ev.kv()?;
    let prev = ev.prev_kv().map(to_kv);
    Some(match ev.event_type() {
        EtcdEventType::Put => Event::new(EventType::Put, to_kv(kv), prev),
        EtcdEventType::Delete => {
            let gone = KeyValue {
                key: String::from_utf8_lossy(kv.key()).into_owned(),
                value: Bytes::new(),
                create_revision: prev.as_ref().map_or(0, |p| p.create_revision),
                mod_revision: kv.mod_revision(),
                version: 0,
                derived: Default::default(),
            };
            Event::new(EventType::Delete, gone, prev)
        }
    })
}

/// etcd's end of a prefix range: the prefix with its last byte incremented.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut b = prefix.as_bytes().to_vec();
    while let Some(last) = b.pop() {
        if last < 0xff {
            b.push(last + 1);
            return b;
        }
    }
    vec![0]
}

impl EtcdStore {
    /// A watch from `after`, with previous values when `prev` (etcd then
    /// reads the previous revision of every changed key).
    async fn watch_with(&self, prefix: &str, after: i64, prev: bool) -> Result<WatchStream> {
        let mut opts = WatchOptions::new()
            .with_range(prefix_end(prefix))
            .with_start_revision(after + 1)
            .with_progress_notify();
        if prev {
            opts = opts.with_prev_key();
        }
        let mut stream = self
            .client
            .watch_client()
            .watch(prefix, Some(opts))
            .await
            .map_err(map_err)?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let (progress_tx, mut progress_rx) = mpsc::channel::<()>(1);
        let compacted = self.compacted.clone();
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    m = stream.message() => m,
                    Some(()) = progress_rx.recv() => {
                        // etcd answers with an empty response at its
                        // current revision once this watch is in sync.
                        if let Err(e) = stream.request_progress().await {
                            let _ = tx.try_send(WatchItem::Error(map_err(e)));
                            return;
                        }
                        continue;
                    }
                    _ = tx.closed() => return,
                };
                let resp = match msg {
                    Ok(Some(r)) => r,
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.try_send(WatchItem::Error(map_err(e)));
                        return;
                    }
                };
                if resp.compact_revision() > 0 {
                    compacted.fetch_max(resp.compact_revision(), Ordering::Relaxed);
                    let _ = tx.try_send(WatchItem::Error(StorageError::Compacted {
                        requested: after + 1,
                        compacted: resp.compact_revision(),
                    }));
                    return;
                }
                if resp.canceled() {
                    let _ = tx.try_send(WatchItem::Error(StorageError::Unavailable(format!(
                        "etcd cancelled the watch: {}",
                        resp.cancel_reason()
                    ))));
                    return;
                }
                if resp.events().is_empty() {
                    let rev = header_revision(resp.header());
                    if rev > 0 && !resp.created() && tx.try_send(WatchItem::Progress(rev)).is_err()
                    {
                        return;
                    }
                    continue;
                }
                // A response holds whole revisions (a batch's keys share
                // one). Each revision is sent all at once or not at all,
                // its events but the last marked as continued.
                let rev = |e: &etcd_client::Event| e.kv().map(|kv| kv.mod_revision());
                for group in resp.events().chunk_by(|a, b| rev(a) == rev(b)) {
                    let Ok(permits) = tx.try_reserve_many(group.len()) else {
                        // Too slow or gone: ending the watch makes the client re-list.
                        return;
                    };
                    for ((i, ev), permit) in group.iter().enumerate().zip(permits) {
                        if let Some(mut item) = to_event(ev) {
                            item.continued = i + 1 < group.len();
                            permit.send(WatchItem::Event(Arc::new(item)));
                        }
                    }
                }
            }
        });
        let progress = Arc::new(move || {
            let _ = progress_tx.try_send(());
        });
        Ok(WatchStream::with_progress(rx, progress))
    }

    /// Connects, retrying with logged attempts until etcd answers or
    /// `wait` runs out (as upstream's storage set-up waits for etcd).
    pub async fn connect(cfg: &EtcdConfig, wait: Duration) -> Result<Self> {
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            // As upstream's watches: a member that has lost its leader ends
            // them ("no leader") instead of leaving them silent while the
            // rest of the cluster goes on; the cache then re-lists through
            // a member that has one.
            .with_require_leader(true);
        if cfg.ca_pem.is_some() || cfg.client_cert_pem.is_some() {
            let mut tls = etcd_client::TlsOptions::new();
            if let Some(ca) = &cfg.ca_pem {
                tls = tls.ca_certificate(etcd_client::Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = &cfg.client_cert_pem {
                tls = tls.identity(etcd_client::Identity::from_pem(cert, key));
            }
            opts = opts.with_tls(tls);
        }
        let start = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                let mut c = Client::connect(&cfg.endpoints, Some(opts.clone())).await?;
                c.get("/", Some(GetOptions::new().with_count_only()))
                    .await?;
                Ok::<_, etcd_client::Error>(c)
            }
            .await;
            match result {
                Ok(client) => {
                    tracing::info!(endpoints = ?cfg.endpoints, attempt, "connected to etcd");
                    return Ok(EtcdStore {
                        writes: batch::Batcher::start(
                            client.kv_client(),
                            !cfg.one_write_per_request,
                        ),
                        client,
                        compacted: Arc::new(AtomicI64::new(0)),
                        leases: Arc::default(),
                        lease_reuse: cfg.lease_reuse.unwrap_or(LEASE_REUSE_MAX),
                    });
                }
                Err(e) if start.elapsed() < wait => {
                    tracing::warn!(endpoints = ?cfg.endpoints, attempt, error = %e, "etcd is not answering yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    return Err(StorageError::Unavailable(format!(
                        "etcd at {:?}: {e}",
                        cfg.endpoints
                    )));
                }
            }
        }
    }

    fn compacted_error(&self, requested: i64) -> StorageError {
        StorageError::Compacted {
            requested,
            compacted: self.compacted.load(Ordering::Relaxed),
        }
    }

    fn revision_error(&self, e: etcd_client::Error, requested: i64) -> StorageError {
        match map_err(e) {
            StorageError::Compacted { .. } => self.compacted_error(requested),
            StorageError::FutureRevision { .. } => StorageError::FutureRevision {
                requested,
                current: 0,
            },
            other => other,
        }
    }
}

fn header_revision(h: Option<&etcd_client::ResponseHeader>) -> i64 {
    h.map(|h| h.revision()).unwrap_or(0)
}

impl EtcdStore {
    /// Creates `key`, attached to `lease` when given.
    async fn put_new(&self, key: &str, value: Bytes, lease: Option<i64>) -> Result<i64> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(StorageError::TooLarge {
                size: value.len(),
                limit: MAX_VALUE_BYTES,
            });
        }
        let txn = etcd_client::Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value.to_vec(), lease_option(lease))]);
        let (resp, rev) = self.writes.write(key, key.len() + value.len(), txn).await?;
        if !resp.succeeded() {
            return Err(StorageError::KeyExists(key.to_string()));
        }
        Ok(rev)
    }

    /// Overwrites `key` at mod revision `expected`, attached to `lease` when
    /// given (and to none otherwise).
    async fn put_over(
        &self,
        key: &str,
        value: Bytes,
        expected: i64,
        lease: Option<i64>,
    ) -> Result<i64> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(StorageError::TooLarge {
                size: value.len(),
                limit: MAX_VALUE_BYTES,
            });
        }
        let txn = etcd_client::Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then([TxnOp::put(key, value.to_vec(), lease_option(lease))])
            .or_else([TxnOp::get(key, None)]);
        let (resp, rev) = self.writes.write(key, key.len() + value.len(), txn).await?;
        if resp.succeeded() {
            return Ok(rev);
        }
        Err(failed_compare(key, &resp.op_responses()))
    }

    /// A lease that ends no sooner than `ttl` from now: the last one granted
    /// when it ends within the reuse window after that, else a new one.
    async fn lease_for(&self, ttl: Duration) -> Result<i64> {
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let reuse = self
            .lease_reuse
            .min(Duration::from_secs(secs) * LEASE_REUSE_PER_MILLE / 1000);
        let ttl = Duration::from_secs(secs.max(1));
        let mut cache = self.leases.lock().await;
        let now = std::time::Instant::now();
        if let Some(ends) = cache.expires
            && now + ttl < ends
            && ends <= now + ttl + reuse
            && cache.attached < LEASE_MAX_KEYS
        {
            cache.attached += 1;
            return Ok(cache.id);
        }
        let granted = ttl + reuse;
        let secs = i64::try_from(granted.as_secs()).unwrap_or(i64::MAX);
        let resp = unless_unreached(|| {
            let mut leases = self.client.lease_client();
            async move { leases.grant(secs, None).await }
        })
        .await
        .map_err(map_err)?;
        *cache = LeaseCache {
            id: resp.id(),
            expires: Some(now + granted),
            attached: 1,
        };
        Ok(resp.id())
    }
}

/// A write whose mod-revision compare failed: a conflict carrying what its
/// else branch read, or not found when it read nothing.
fn failed_compare(key: &str, ops: &[TxnOpResponse]) -> StorageError {
    let current = ops.iter().find_map(|r| match r {
        TxnOpResponse::Get(g) => g.kvs().first().map(to_kv),
        _ => None,
    });
    match current {
        None => StorageError::NotFound(key.to_string()),
        Some(kv) => StorageError::Conflict {
            key: key.to_string(),
            current: Some(Box::new(kv)),
        },
    }
}

fn lease_option(lease: Option<i64>) -> Option<etcd_client::PutOptions> {
    lease.map(|id| etcd_client::PutOptions::new().with_lease(id))
}

#[async_trait]
impl Storage for EtcdStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<i64> {
        self.put_new(key, value, None).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: i64) -> Result<i64> {
        self.put_over(key, value, expected, None).await
    }

    async fn create_expiring(&self, key: &str, value: Bytes, ttl: Duration) -> Result<i64> {
        let lease = self.lease_for(ttl).await?;
        self.put_new(key, value, Some(lease)).await
    }

    async fn update_expiring(
        &self,
        key: &str,
        value: Bytes,
        expected: i64,
        ttl: Duration,
    ) -> Result<i64> {
        let lease = self.lease_for(ttl).await?;
        self.put_over(key, value, expected, Some(lease)).await
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<(i64, KeyValue)> {
        let del = TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()));
        let txn = match expected {
            Some(rev) => etcd_client::Txn::new()
                .when([Compare::mod_revision(key, CompareOp::Equal, rev)])
                .and_then([del])
                .or_else([TxnOp::get(key, None)]),
            None => etcd_client::Txn::new().and_then([del]),
        };
        let (resp, rev) = self.writes.write(key, key.len(), txn).await?;
        let ops = resp.op_responses();
        if !resp.succeeded() {
            return Err(failed_compare(key, &ops));
        }
        let prev = ops.iter().find_map(|r| match r {
            TxnOpResponse::Delete(d) => d.prev_kvs().first().map(to_kv),
            _ => None,
        });
        match prev {
            Some(kv) => Ok((rev, kv)),
            None => Err(StorageError::NotFound(key.to_string())),
        }
    }

    async fn get(&self, key: &str, revision: Option<i64>) -> Result<(Option<KeyValue>, i64)> {
        let mut opts = GetOptions::new();
        if let Some(r) = revision.filter(|r| *r > 0) {
            opts = opts.with_revision(r);
        }
        let resp = unless_unreached(|| {
            let (mut kv, opts) = (self.client.kv_client(), opts.clone());
            async move { kv.get(key, Some(opts)).await }
        })
        .await
        .map_err(|e| self.revision_error(e, revision.unwrap_or(0)))?;
        let at = revision
            .filter(|r| *r > 0)
            .unwrap_or_else(|| header_revision(resp.header()));
        Ok((resp.kvs().first().map(to_kv), at))
    }

    async fn range(
        &self,
        prefix: &str,
        start: &str,
        revision: Option<i64>,
        limit: usize,
    ) -> Result<RangeResult> {
        let from = if start.is_empty() { prefix } else { start };
        let mut opts = GetOptions::new().with_range(prefix_end(prefix));
        if let Some(r) = revision.filter(|r| *r > 0) {
            opts = opts.with_revision(r);
        }
        if limit > 0 {
            opts = opts.with_limit(limit as i64);
        }
        let resp = unless_unreached(|| {
            let (mut kv, opts) = (self.client.kv_client(), opts.clone());
            async move { kv.get(from, Some(opts)).await }
        })
        .await
        .map_err(|e| self.revision_error(e, revision.unwrap_or(0)))?;
        Ok(RangeResult {
            kvs: resp.kvs().iter().map(|kv| Arc::new(to_kv(kv))).collect(),
            more: resp.more(),
            count: resp.count(),
            revision: revision
                .filter(|r| *r > 0)
                .unwrap_or_else(|| header_revision(resp.header())),
        })
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        self.watch_with(prefix, after, true).await
    }

    async fn watch_current(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        self.watch_with(prefix, after, false).await
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        let known = self.compacted.load(Ordering::Relaxed);
        if revision <= known {
            return Err(StorageError::Compacted {
                requested: revision,
                compacted: known,
            });
        }
        match unless_unreached(|| {
            let mut kv = self.client.kv_client();
            async move { kv.compact(revision, None).await }
        })
        .await
        {
            Ok(_) => {
                self.compacted.fetch_max(revision, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => match map_err(e) {
                StorageError::Compacted { .. } => {
                    self.compacted.fetch_max(revision, Ordering::Relaxed);
                    Err(StorageError::Compacted {
                        requested: revision,
                        compacted: revision,
                    })
                }
                StorageError::FutureRevision { .. } => Err(StorageError::FutureRevision {
                    requested: revision,
                    current: 0,
                }),
                other => Err(other),
            },
        }
    }

    /// Upstream's protocol: the version of `compact_rev_key` (outside any
    /// prefix, shared with kube-apiservers on the same etcd) is the round.
    /// The server whose compare on it succeeds writes the revision and
    /// compacts; the others adopt the round and wait for the next tick.
    async fn compact_round(&self, time: i64, revision: i64) -> Result<(i64, i64)> {
        const KEY: &str = "compact_rev_key";
        let resp = unless_unreached(|| {
            let mut kv = self.client.kv_client();
            let txn = etcd_client::Txn::new()
                .when([Compare::version(KEY, CompareOp::Equal, time)])
                .and_then([TxnOp::put(KEY, revision.to_string(), None)])
                .or_else([TxnOp::get(KEY, None)]);
            async move { kv.txn(txn).await }
        })
        .await
        .map_err(map_err)?;
        let current = header_revision(resp.header());
        if !resp.succeeded() {
            let theirs = resp.op_responses().into_iter().find_map(|r| match r {
                TxnOpResponse::Get(g) => g.kvs().first().map(|kv| kv.version()),
                _ => None,
            });
            return Ok((theirs.unwrap_or(0), current));
        }
        crate::compact_to(self, revision).await?;
        Ok((time + 1, current))
    }

    async fn current_revision(&self) -> Result<i64> {
        let resp = unless_unreached(|| {
            let mut kv = self.client.kv_client();
            async move { kv.get("/", Some(GetOptions::new().with_count_only())).await }
        })
        .await
        .map_err(map_err)?;
        Ok(header_revision(resp.header()))
    }

    async fn compacted_revision(&self) -> Result<i64> {
        Ok(self.compacted.load(Ordering::Relaxed))
    }

    /// Whether etcd answers a read; callers bound the wait
    /// (`--etcd-healthcheck-timeout`, `--etcd-readycheck-timeout`).
    async fn check_health(&self) -> Result<()> {
        self.current_revision().await.map(|_| ())
    }

    async fn close(&self) -> Result<()> {
        // Every acknowledged write is already durable in etcd.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_the_client_made_from_a_broken_connection_mean_unavailable() {
        // Worded as the reset seen when etcd is killed mid-watch.
        let reset = std::io::Error::other("error reading a body from connection");
        let made = tonic::Status::from_error(Box::new(reset));
        assert_eq!(made.code(), tonic::Code::Unknown);
        assert!(matches!(
            map_err(etcd_client::Error::GRpcStatus(made)),
            StorageError::Unavailable(_)
        ));
        // What etcd itself answers keeps its meaning, and its words.
        let sent = tonic::Status::new(tonic::Code::Unknown, "etcdserver: something else");
        assert!(matches!(
            map_err(etcd_client::Error::GRpcStatus(sent)),
            StorageError::Backend(m) if m == "etcdserver: something else"
        ));
        let sent = tonic::Status::new(
            tonic::Code::ResourceExhausted,
            "etcdserver: mvcc: database space exceeded",
        );
        assert!(matches!(
            map_err(etcd_client::Error::GRpcStatus(sent)),
            StorageError::Backend(m) if m == "etcdserver: mvcc: database space exceeded"
        ));
        let sent = tonic::Status::new(
            tonic::Code::InvalidArgument,
            "etcdserver: request is too large",
        );
        assert!(matches!(
            map_err(etcd_client::Error::GRpcStatus(sent)),
            StorageError::TooLarge { .. }
        ));
    }
}
