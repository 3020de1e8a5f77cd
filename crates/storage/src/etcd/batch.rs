//! Write batching for the etcd backend.
//!
//! Each write is its own small transaction (compare, then write, else read).
//! While etcd is busy with earlier writes, the writes that arrive meanwhile
//! travel together as one transaction whose operations are those
//! transactions, nested: etcd evaluates every nested compare on its own, so
//! each write succeeds or fails exactly as it would alone, and the whole
//! batch costs etcd one request, one raft entry and one revision. Writes of
//! one batch therefore share a resourceVersion; a write that starts after
//! another has returned always gets a later one.
//!
//! With nothing in flight a write leaves at once, alone; under load each
//! write waits at most for the batch before its own. A batch
//! never holds one key twice (etcd refuses that), stays within etcd's
//! default `--max-txn-ops` and well under its request size limit, and is
//! sent write by write when etcd refuses it as a whole (an older etcd, a
//! lower `--max-txn-ops`), so that each write gets its own answer.

use std::sync::Arc;

use etcd_client::{KvClient, Txn, TxnOp, TxnOpResponse, TxnResponse};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{header_revision, map_err, unless_unreached};
use crate::{Result, StorageError};

/// Batches etcd is writing at once; later writes wait and leave together.
/// One, as a group commit: measured with 32 API clients, each batch more in
/// flight made the batches smaller and cost etcd and kaiser more per write
/// (etcd 106, 147, 172 µs at 1, 2, 4), since most of either's cost is per
/// request rather than per key.
const IN_FLIGHT: usize = 1;
/// Writes sent alone that etcd may be writing at once (the queue only
/// bounds them when they are not batched).
const ALONE_IN_FLIGHT: usize = 10_000;
/// Writes per batch: etcd's default `--max-txn-ops` is 128.
const MAX_WRITES: usize = 64;
/// Bytes of keys and values per batch; etcd's default request limit is
/// 1.5 MiB, and a write larger than this goes alone.
const MAX_BYTES: usize = 512 << 10;

/// One write: its own transaction, and where its answer goes.
struct Write {
    key: String,
    bytes: usize,
    txn: Txn,
    reply: oneshot::Sender<Result<Answer>>,
}

/// A write's answer: its transaction's response and the revision etcd was
/// at after it (the batch's, when it went in one).
pub(super) type Answer = (TxnResponse, i64);

/// The queue in front of etcd's transactions.
pub(super) struct Batcher {
    queue: mpsc::UnboundedSender<Write>,
}

impl Batcher {
    /// Starts the task that sends the queued writes through `kv`, in
    /// batches or (not `batched`) each alone as it comes.
    pub(super) fn start(kv: KvClient, batched: bool) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        let limits = match batched {
            true => (IN_FLIGHT, MAX_WRITES),
            false => (ALONE_IN_FLIGHT, 1),
        };
        tokio::spawn(run(kv, rx, limits));
        Batcher { queue }
    }

    /// Sends `txn`, the one write to `key` of `bytes` bytes, alone or with
    /// others.
    pub(super) async fn write(&self, key: &str, bytes: usize, txn: Txn) -> Result<Answer> {
        let (reply, answer) = oneshot::channel();
        let write = Write {
            key: key.to_string(),
            bytes,
            txn,
            reply,
        };
        let gone = || StorageError::Unavailable("the etcd client has stopped".into());
        self.queue.send(write).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// `(in_flight, max_writes)`: how many batches etcd may be writing at
/// once, and how many writes a batch holds.
async fn run(
    kv: KvClient,
    mut queue: mpsc::UnboundedReceiver<Write>,
    (in_flight, max_writes): (usize, usize),
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    // A write that did not fit the last batch opens the next one.
    let mut next: Option<Write> = None;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match next.take() {
            Some(w) => w,
            None => match queue.recv().await {
                Some(w) => w,
                None => return,
            },
        };
        let mut bytes = first.bytes;
        let mut batch = vec![first];
        while batch.len() < max_writes {
            let Ok(w) = queue.try_recv() else { break };
            if bytes + w.bytes > MAX_BYTES || batch.iter().any(|b| b.key == w.key) {
                next = Some(w);
                break;
            }
            bytes += w.bytes;
            batch.push(w);
        }
        let kv = kv.clone();
        tokio::spawn(async move {
            send(kv, batch).await;
            drop(slot);
        });
    }
}

async fn send(kv: KvClient, mut batch: Vec<Write>) {
    if batch.len() > 1 {
        let outer = Txn::new().and_then(
            batch
                .iter()
                .map(|w| TxnOp::txn(w.txn.clone()))
                .collect::<Vec<_>>(),
        );
        match commit(&kv, outer).await {
            Ok((resp, rev)) => {
                let inner = resp.op_responses().into_iter().map(|r| match r {
                    TxnOpResponse::Txn(t) => Some(t),
                    _ => None,
                });
                for (w, t) in batch.into_iter().zip(inner) {
                    let answer = t.map(|t| (t, rev)).ok_or_else(|| {
                        StorageError::Io("etcd answered a batch without its writes".into())
                    });
                    let _ = w.reply.send(answer);
                }
                return;
            }
            // Nothing was written: unreachable etcd fails every write.
            Err(e @ StorageError::Unavailable(_)) => {
                for w in batch {
                    let _ = w.reply.send(Err(e.clone()));
                }
                return;
            }
            // Refused as a whole: each write gets its own answer.
            Err(e) => {
                tracing::debug!(error = %e, writes = batch.len(), "etcd refused a batch; writing one by one")
            }
        }
    }
    for w in batch.drain(..) {
        let answer = commit(&kv, w.txn).await;
        let _ = w.reply.send(answer);
    }
}

async fn commit(kv: &KvClient, txn: Txn) -> Result<Answer> {
    let resp = unless_unreached(|| {
        let (mut kv, txn) = (kv.clone(), txn.clone());
        async move { kv.txn(txn).await }
    })
    .await
    .map_err(map_err)?;
    let rev = header_revision(resp.header());
    Ok((resp, rev))
}
