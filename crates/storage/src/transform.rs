//! A backend whose values are transformed on the way in and out
//! (upstream's value transformers): encryption at rest, and reading values
//! another writer stored in another encoding. It wraps any backend; the
//! watch cache sits above it and so holds the plain values.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{
    Event, KeyValue, RangeResult, Result, Storage, StorageError, WATCHER_BUFFER, WatchItem,
    WatchStream,
};

/// What happens to a value between kaiser and the store.
pub trait ValueTransform: Send + Sync + 'static {
    /// The bytes to store for `value` at `key`.
    fn on_write(&self, key: &str, value: Bytes) -> std::result::Result<Bytes, String>;
    /// The value kaiser reads for the bytes stored at `key`.
    fn on_read(&self, key: &str, stored: Bytes) -> std::result::Result<Bytes, String>;
}

/// `inner` with every value passed through a [`ValueTransform`].
pub struct Transformed {
    inner: Arc<dyn Storage>,
    transform: Arc<dyn ValueTransform>,
}

impl std::fmt::Debug for Transformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transformed")
    }
}

impl Transformed {
    pub fn new(inner: Arc<dyn Storage>, transform: Arc<dyn ValueTransform>) -> Self {
        Transformed { inner, transform }
    }

    fn seal(&self, key: &str, value: Bytes) -> Result<Bytes> {
        self.transform
            .on_write(key, value)
            .map_err(|e| StorageError::Io(format!("unable to transform key {key:?}: {e}")))
    }

    fn open(&self, kv: KeyValue) -> Result<KeyValue> {
        open(&*self.transform, kv)
    }

    /// Errors carrying the stored value (a failed compare) carry it plain.
    fn open_err(&self, e: StorageError) -> StorageError {
        match e {
            StorageError::Conflict {
                key,
                current: Some(kv),
            } => match self.open(*kv) {
                Ok(kv) => StorageError::Conflict {
                    key,
                    current: Some(Box::new(kv)),
                },
                Err(e) => e,
            },
            e => e,
        }
    }

    fn map_watch(&self, mut stream: WatchStream) -> WatchStream {
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let progress = stream.progress_requester();
        let transform = self.transform.clone();
        tokio::spawn(async move {
            loop {
                let item = tokio::select! {
                    item = stream.recv() => item,
                    _ = tx.closed() => return,
                };
                let Some(item) = item else { return };
                let item = match item {
                    WatchItem::Event(ev) => match open_event(&*transform, ev) {
                        Ok(ev) => WatchItem::Event(ev),
                        // As upstream's watcher: a value it cannot read
                        // ends the watch with the error.
                        Err(e) => {
                            let _ = tx.send(WatchItem::Error(e)).await;
                            return;
                        }
                    },
                    other => other,
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        match progress {
            Some(p) => WatchStream::with_progress(rx, p),
            None => WatchStream::new(rx),
        }
    }
}

/// The value kaiser reads for `kv`: `None` when it is the stored one as it
/// is (no value, as a deletion's; or one the transform left untouched,
/// which keeps its allocation).
fn read_value(t: &dyn ValueTransform, kv: &KeyValue) -> Result<Option<Bytes>> {
    if kv.value.is_empty() {
        return Ok(None);
    }
    let out = t
        .on_read(&kv.key, kv.value.clone())
        .map_err(|e| StorageError::Io(format!("unable to transform key {:?}: {e}", kv.key)))?;
    let same = out.as_ptr() == kv.value.as_ptr() && out.len() == kv.value.len();
    Ok((!same).then_some(out))
}

fn open(t: &dyn ValueTransform, mut kv: KeyValue) -> Result<KeyValue> {
    if let Some(v) = read_value(t, &kv)? {
        kv.value = v;
    }
    Ok(kv)
}

fn open_shared(t: &dyn ValueTransform, kv: Arc<KeyValue>) -> Result<Arc<KeyValue>> {
    Ok(match read_value(t, &kv)? {
        None => kv,
        Some(v) => {
            let mut kv = Arc::unwrap_or_clone(kv);
            kv.value = v;
            Arc::new(kv)
        }
    })
}

/// The event as kaiser reads it; the same event when nothing changed.
fn open_event(t: &dyn ValueTransform, ev: Arc<Event>) -> Result<Arc<Event>> {
    let value = read_value(t, &ev.kv)?;
    let prev = ev
        .prev
        .as_ref()
        .map(|p| read_value(t, p))
        .transpose()?
        .flatten();
    if value.is_none() && prev.is_none() {
        return Ok(ev);
    }
    let mut kv = ev.kv.clone();
    if let Some(v) = value {
        kv.value = v;
    }
    let mut old = ev.prev.clone();
    if let (Some(o), Some(v)) = (old.as_mut(), prev) {
        o.value = v;
    }
    Ok(Arc::new(ev.with_values(kv, old)))
}

#[async_trait]
impl Storage for Transformed {
    async fn create(&self, key: &str, value: Bytes) -> Result<i64> {
        self.inner.create(key, self.seal(key, value)?).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: i64) -> Result<i64> {
        let value = self.seal(key, value)?;
        self.inner
            .update(key, value, expected)
            .await
            .map_err(|e| self.open_err(e))
    }

    async fn create_expiring(&self, key: &str, value: Bytes, ttl: Duration) -> Result<i64> {
        let value = self.seal(key, value)?;
        self.inner.create_expiring(key, value, ttl).await
    }

    async fn update_expiring(
        &self,
        key: &str,
        value: Bytes,
        expected: i64,
        ttl: Duration,
    ) -> Result<i64> {
        let value = self.seal(key, value)?;
        self.inner
            .update_expiring(key, value, expected, ttl)
            .await
            .map_err(|e| self.open_err(e))
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<(i64, KeyValue)> {
        let (rev, kv) = self
            .inner
            .delete(key, expected)
            .await
            .map_err(|e| self.open_err(e))?;
        Ok((rev, self.open(kv)?))
    }

    async fn get(&self, key: &str, revision: Option<i64>) -> Result<(Option<KeyValue>, i64)> {
        let (kv, rev) = self.inner.get(key, revision).await?;
        Ok((kv.map(|kv| self.open(kv)).transpose()?, rev))
    }

    async fn range(
        &self,
        prefix: &str,
        start: &str,
        revision: Option<i64>,
        limit: usize,
    ) -> Result<RangeResult> {
        let mut page = self.inner.range(prefix, start, revision, limit).await?;
        page.kvs = std::mem::take(&mut page.kvs)
            .into_iter()
            .map(|kv| open_shared(&*self.transform, kv))
            .collect::<Result<_>>()?;
        Ok(page)
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        Ok(self.map_watch(self.inner.watch(prefix, after).await?))
    }

    async fn watch_current(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        Ok(self.map_watch(self.inner.watch_current(prefix, after).await?))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.inner.compact(revision).await
    }

    async fn compact_round(&self, time: i64, revision: i64) -> Result<(i64, i64)> {
        self.inner.compact_round(time, revision).await
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
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::EmbeddedStore;
    use crate::encryption::{Encryption, Provider, Providers};
    use crate::testing;

    /// The whole conformance suite through an encrypting wrapper, and the
    /// backend holding only ciphertext.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance_through_encryption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let providers = Providers(vec![Provider::secretbox("k", &[3u8; 32]).expect("key")]);
        let enc = Encryption::new(vec![("/t/".into(), Arc::new(providers))]);
        let t = Arc::new(Transformed::new(inner.clone(), Arc::new(enc)));
        testing::run_all(&*t).await;
        testing::run_concurrent(t).await;
        // Nothing configured: values pass untouched, same allocations.
        let dir2 = tempfile::tempdir().expect("tempdir");
        let plain: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir2.path()).expect("open"));
        testing::run_all(&Transformed::new(plain, Arc::new(Encryption::default()))).await;
        let page = inner.range("/t/", "", None, 0).await.expect("range");
        assert!(!page.kvs.is_empty());
        for kv in &page.kvs {
            assert!(
                kv.value.starts_with(b"k8s:enc:secretbox:v1:k:"),
                "{}",
                kv.key
            );
        }
    }
}
