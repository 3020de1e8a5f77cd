//! Periodic compaction: every interval, forget history older than the
//! revision seen at the previous tick (as upstream's compactor does, so
//! watchers always have at least one interval to catch up). Servers sharing
//! a store take turns through `Storage::compact_round`, so the store is
//! compacted once per interval however many there are.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::Storage;

/// Runs until `shutdown` turns true. An interval of zero disables it.
pub async fn run(store: Arc<dyn Storage>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    if interval.is_zero() {
        return;
    }
    // The round and the revision the last tick saw (see compact_round).
    let (mut time, mut revision) = (0, 0);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        match store.compact_round(time, revision).await {
            Ok((t, r)) => {
                if t == time + 1 && revision > 0 {
                    tracing::debug!(revision, "compacted storage");
                }
                (time, revision) = (t, r);
            }
            Err(e) => tracing::warn!(error = %e, "compaction failed"),
        }
    }
}
