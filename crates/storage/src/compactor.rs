//! Periodic compaction: every interval, forget history older than the
//! revision seen at the previous tick (as upstream's compactor does, so
//! watchers always have at least one interval to catch up).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::{Storage, StorageError};

/// Runs until `shutdown` turns true. An interval of zero disables it.
pub async fn run(store: Arc<dyn Storage>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    if interval.is_zero() {
        return;
    }
    let mut last: Option<i64> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if let Some(rev) = last {
            match store.compact(rev).await {
                Ok(()) => tracing::debug!(revision = rev, "compacted storage"),
                Err(StorageError::Compacted { .. }) => {}
                Err(e) => tracing::warn!(error = %e, "compaction failed"),
            }
        }
        last = store.current_revision().await.ok();
    }
}
