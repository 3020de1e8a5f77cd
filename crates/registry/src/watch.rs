//! Object-level watches: storage events turned into ADDED / MODIFIED /
//! DELETED / BOOKMARK / ERROR events for one resource, filtered by selectors.

use std::collections::VecDeque;
use std::sync::Arc;

use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::{StatusError, meta};
use kaiser_storage::{EventType, StorageError, WatchItem, WatchStream};
use serde_json::{Value, json};

use crate::resource::ResourceInfo;
use crate::store::{Store, decode_kv};
use crate::strategy::Strategy;

/// One event as it goes on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub object: Value,
    /// The whole event as its JSON wire line (`{"type":…,"object":…}` and a
    /// newline), instead of `object`, when the watch serves stored bytes
    /// (see [`ObjectWatch::serve_stored_bytes`]); shared by every watcher
    /// that gets the same event.
    pub raw: Option<bytes::Bytes>,
}

/// A running watch on one resource.
pub struct ObjectWatch {
    info: Arc<ResourceInfo>,
    strategy: Arc<dyn Strategy>,
    opts: ListOptions,
    queued: VecDeque<WatchEvent>,
    stream: Option<WatchStream>,
    last_revision: i64,
    conversion: Option<crate::store::Conversion>,
    /// Events carry stored bytes instead of decoded objects.
    stored_bytes: bool,
}

impl ObjectWatch {
    pub(crate) async fn start(
        store: &Store,
        ns: &str,
        opts: &ListOptions,
    ) -> Result<Self, StatusError> {
        let prefix = store.prefix_for(ns);
        let mut w = ObjectWatch {
            info: store.info.clone(),
            strategy: store.strategy.clone(),
            opts: opts.clone(),
            queued: VecDeque::new(),
            stream: None,
            last_revision: 0,
            conversion: store.conversion(),
            stored_bytes: false,
        };
        let initial_state = match opts.send_initial_events {
            Some(send) => send,
            None => opts.resource_version.unwrap_or(0) == 0,
        };
        let after = match opts.resource_version {
            _ if !initial_state => match opts.resource_version {
                Some(rv) if rv > 0 => rv,
                _ => store
                    .storage()
                    .current_revision()
                    .await
                    .map_err(|e| store.status_error(e, ""))?,
            },
            _ => {
                // No resourceVersion (or 0): the current state first, as ADDED.
                // resourceVersion=0 may start from the watch cache's state.
                let at = (opts.resource_version == Some(0)).then_some(0);
                let page = store
                    .storage()
                    .range(&prefix, "", at, 0)
                    .await
                    .map_err(|e| store.status_error(e, ""))?;
                for kv in &page.kvs {
                    let obj = store.decode(kv)?;
                    if store.matches(opts, &obj) {
                        w.queued.push_back(WatchEvent {
                            kind: "ADDED",
                            object: obj,
                            raw: None,
                        });
                    }
                }
                if opts.send_initial_events == Some(true) {
                    let mut b = w.bookmark_at(page.revision);
                    b.object["metadata"]["annotations"] =
                        json!({"k8s.io/initial-events-end": "true"});
                    w.queued.push_back(b);
                }
                page.revision
            }
        };
        w.last_revision = after;
        match store.storage().watch(&prefix, after).await {
            Ok(s) => w.stream = Some(s),
            Err(StorageError::Compacted { compacted, .. }) => {
                w.queued.push_back(too_old(after, compacted));
            }
            Err(e) => return Err(store.status_error(e, "")),
        }
        Ok(w)
    }

    /// Asks for events whose object is the stored JSON (with the revision
    /// spliced in) rather than a decoded value, which saves a decode and an
    /// encode per event and watcher. Only watches without selectors or
    /// conversion can: everything else needs the decoded object.
    pub fn serve_stored_bytes(&mut self) {
        self.stored_bytes = self.conversion.is_none()
            && self.opts.label_selector.is_empty()
            && self.opts.field_selector.is_empty();
    }

    /// The revision of the newest event delivered (or the start point).
    pub fn last_revision(&self) -> i64 {
        self.last_revision
    }

    /// A BOOKMARK event at the newest delivered revision.
    pub fn bookmark(&self) -> WatchEvent {
        self.bookmark_at(self.last_revision)
    }

    fn bookmark_at(&self, rev: i64) -> WatchEvent {
        WatchEvent {
            kind: "BOOKMARK",
            object: json!({
                "kind": self.info.kind,
                "apiVersion": self.info.api_version(),
                "metadata": {"resourceVersion": rev.to_string()},
            }),
            raw: None,
        }
    }

    /// The next event; `None` when the watch has ended.
    pub async fn next(&mut self) -> Option<WatchEvent> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// [`ObjectWatch::next`] for callers that poll (a response body).
    pub fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<WatchEvent>> {
        use std::task::Poll;
        loop {
            if let Some(e) = self.queued.pop_front() {
                return Poll::Ready(Some(e));
            }
            let Some(stream) = self.stream.as_mut() else {
                return Poll::Ready(None);
            };
            let item = match stream.poll_recv(cx) {
                Poll::Ready(item) => item,
                Poll::Pending => return Poll::Pending,
            };
            match item {
                None => {
                    self.stream = None;
                    return Poll::Ready(None);
                }
                Some(WatchItem::Progress(rev)) => self.last_revision = self.last_revision.max(rev),
                Some(WatchItem::Error(StorageError::Compacted {
                    requested,
                    compacted,
                })) => {
                    self.stream = None;
                    return Poll::Ready(Some(too_old(requested - 1, compacted)));
                }
                Some(WatchItem::Error(StorageError::Unavailable(reason))) => {
                    // The backend went away: end the stream without an error
                    // so clients re-watch from their last resourceVersion and
                    // miss nothing once the backend is back.
                    tracing::info!(%reason, "ending a watch: storage unavailable");
                    self.stream = None;
                    return Poll::Ready(None);
                }
                Some(WatchItem::Error(e)) => {
                    self.stream = None;
                    let s = StatusError::internal(e);
                    return Poll::Ready(Some(WatchEvent {
                        kind: "ERROR",
                        object: s.to_status(),
                        raw: None,
                    }));
                }
                Some(WatchItem::Event(ev)) => {
                    self.last_revision = ev.revision();
                    if let Some(e) = self.convert(&ev) {
                        return Poll::Ready(Some(e));
                    }
                }
            }
        }
    }

    fn matches(&self, obj: &Value) -> bool {
        self.opts.label_selector.matches(meta::labels(obj))
            && self
                .opts
                .field_selector
                .matches(|f| self.strategy.field_value(obj, f))
    }

    fn decode(&self, kv: &kaiser_storage::KeyValue) -> Option<Value> {
        let obj = decode_kv(kv).ok()?;
        match &self.conversion {
            Some(c) => match c.from_storage(obj) {
                Ok(o) => Some(o),
                Err(e) => {
                    tracing::warn!(key = %kv.key, error = %e.message, "dropping a watch event that could not be converted");
                    None
                }
            },
            None => Some(obj),
        }
    }

    /// Whether the key alone rules the event out: a `metadata.name` or
    /// `metadata.namespace` selector is decided without decoding (the
    /// kubelet and controllers watch single objects this way).
    fn key_excludes(&self, key: &str) -> bool {
        let mut parts = key.rsplit('/');
        let name = parts.next().unwrap_or("");
        let ns = if self.info.namespaced {
            parts.next().unwrap_or("")
        } else {
            ""
        };
        let fs = &self.opts.field_selector;
        fs.exact("metadata.name").is_some_and(|n| n != name)
            || fs.exact("metadata.namespace").is_some_and(|n| n != ns)
    }

    fn convert(&self, ev: &kaiser_storage::Event) -> Option<WatchEvent> {
        if self.key_excludes(&ev.kv.key) {
            return None;
        }
        let rev = ev.revision();
        if self.stored_bytes {
            let (kind, value) = match (ev.kind, &ev.prev) {
                (EventType::Delete, Some(p)) => ("DELETED", &p.value),
                (EventType::Delete, None) => return None,
                (EventType::Put, Some(_)) => ("MODIFIED", &ev.kv.value),
                (EventType::Put, None) => ("ADDED", &ev.kv.value),
            };
            // Every stored-bytes watcher sends this event as the same line:
            // the first one to get here encodes it for all of them.
            if let Some(line) = ev.encoded.get_or_make(|| wire_line(kind, value, rev)) {
                return Some(WatchEvent {
                    kind,
                    object: Value::Null,
                    raw: Some(line),
                });
            }
        }
        let prev = ev.prev.as_ref().and_then(|p| self.decode(p));
        let prev_matches = prev.as_ref().is_some_and(|p| self.matches(p));
        match ev.kind {
            EventType::Delete => {
                let mut obj = prev?;
                if !prev_matches {
                    return None;
                }
                meta::set_resource_version(&mut obj, rev);
                Some(WatchEvent {
                    kind: "DELETED",
                    object: obj,
                    raw: None,
                })
            }
            EventType::Put => {
                let obj = self.decode(&ev.kv)?;
                match (prev_matches, self.matches(&obj)) {
                    (true, true) => Some(WatchEvent {
                        kind: "MODIFIED",
                        object: obj,
                        raw: None,
                    }),
                    (false, true) => Some(WatchEvent {
                        kind: "ADDED",
                        object: obj,
                        raw: None,
                    }),
                    // Leaving the selection: the client sees the object it
                    // knew, at the revision it left.
                    (true, false) => {
                        let mut old = prev?;
                        meta::set_resource_version(&mut old, rev);
                        Some(WatchEvent {
                            kind: "DELETED",
                            object: old,
                            raw: None,
                        })
                    }
                    (false, false) => None,
                }
            }
        }
    }
}

/// `{"type":"<kind>","object":<stored bytes with the revision>}` and a
/// newline, when the stored bytes have the layout that allows splicing.
fn wire_line(kind: &str, value: &[u8], rev: i64) -> Option<bytes::Bytes> {
    let mut line = Vec::with_capacity(value.len() + 64);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    if !crate::store::splice_revision(&mut line, value, rev) {
        return None;
    }
    line.extend_from_slice(b"}\n");
    Some(line.into())
}

fn too_old(requested: i64, compacted: i64) -> WatchEvent {
    let s = StatusError::resource_expired(format!(
        "too old resource version: {requested} ({compacted})"
    ));
    WatchEvent {
        kind: "ERROR",
        object: s.to_status(),
        raw: None,
    }
}
