//! Object-level watches: storage events turned into ADDED / MODIFIED /
//! DELETED / BOOKMARK / ERROR events for one resource, filtered by selectors.

use std::collections::VecDeque;
use std::sync::Arc;

use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::{StatusError, meta};
use kaiser_storage::{EventType, KeyValue, StorageError, WatchItem, WatchStream};
use serde_json::{Value, json};

use crate::resource::ResourceInfo;
use crate::store::{SelectorAttrs, Store, decode_kv};
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
    /// The initial state still to send as ADDED events, made one at a time
    /// as they are sent (a large resource is never held decoded whole),
    /// then `initial_end` (the streaming list's closing bookmark).
    initial: std::vec::IntoIter<Arc<KeyValue>>,
    initial_end: Option<WatchEvent>,
    /// Events of a revision whose other events are still coming (etcd
    /// writes a batch at one revision): released whole, so that a client
    /// never holds part of a revision, from which it would resume.
    held: Vec<WatchEvent>,
    stream: Option<WatchStream>,
    last_revision: i64,
    conversion: Option<crate::store::Conversion>,
    /// What events carry: decoded objects, or wire lines made from the
    /// stored bytes.
    form: Form,
    /// The store's name for what it derives from stored values.
    store_id: u64,
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
            initial: Vec::new().into_iter(),
            initial_end: None,
            held: Vec::new(),
            stream: None,
            last_revision: 0,
            conversion: store.conversion(),
            form: Form::Decoded,
            store_id: store.id(),
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
                // The current state first, as ADDED. resourceVersion=0 may
                // start from the watch cache's state; a later one waits until
                // the store has reached it, and a wait that runs out ends the
                // stream with its ERROR event, as upstream's cache does.
                if let Some(rv) = opts.resource_version.filter(|rv| *rv > 0)
                    && let Err(e) = store.check_reached(rv).await
                {
                    w.queued.push_back(WatchEvent {
                        kind: "ERROR",
                        object: e.to_status(),
                        raw: None,
                    });
                    return Ok(w);
                }
                let at = (opts.resource_version == Some(0)).then_some(0);
                let page = store
                    .storage()
                    .range(&prefix, "", at, 0)
                    .await
                    .map_err(|e| store.status_error(e, ""))?;
                w.initial = page.kvs.into_iter();
                if opts.send_initial_events == Some(true) {
                    let mut b = w.bookmark_at(page.revision);
                    b.object["metadata"]["annotations"] =
                        json!({"k8s.io/initial-events-end": "true"});
                    w.initial_end = Some(b);
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
    /// encode per event and watcher. Watches of a converted version cannot:
    /// they need the decoded object. Selectors read the attributes derived
    /// once per stored value.
    pub fn serve_stored_bytes(&mut self) {
        if self.conversion.is_none() {
            self.form = Form::Object;
        }
    }

    /// Asks for events whose object is a `PartialObjectMetadata` made from
    /// the stored metadata (client-go's metadata informers), nothing
    /// decoded; the same limits as [`ObjectWatch::serve_stored_bytes`].
    pub fn serve_stored_metadata(&mut self) {
        if self.conversion.is_none() {
            self.form = Form::Metadata;
        }
    }

    /// The event's wire line in this watch's stored-bytes form, `None`
    /// when it decodes (or the stored bytes have another layout).
    fn stored_line(&self, kind: &str, value: &[u8], rev: i64) -> Option<bytes::Bytes> {
        match self.form {
            Form::Decoded => None,
            Form::Object => wire_line(kind, value, rev),
            Form::Metadata => metadata_line(kind, value, rev),
        }
    }

    fn filtered(&self) -> bool {
        !self.opts.label_selector.is_empty() || !self.opts.field_selector.is_empty()
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
            if let Some(e) = self.next_queued() {
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
                Some(WatchItem::Progress(rev)) => {
                    // Any revision up to `rev` is whole.
                    self.last_revision = self.last_revision.max(rev);
                    self.release_held();
                }
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
                    let e = self.convert(&ev);
                    if ev.continued {
                        self.held.extend(e);
                        continue;
                    }
                    self.last_revision = ev.revision();
                    if self.held.is_empty() {
                        if let Some(e) = e {
                            return Poll::Ready(Some(e));
                        }
                        continue;
                    }
                    self.release_held();
                    self.queued.extend(e);
                }
            }
        }
    }

    /// The held part of a revision, now whole, goes out.
    fn release_held(&mut self) {
        self.queued.extend(self.held.drain(..));
    }

    /// An event already waiting, without polling the stream: the rest of a
    /// revision released whole, or of the initial state.
    pub fn next_queued(&mut self) -> Option<WatchEvent> {
        self.next_initial()
            .or_else(|| self.initial_end.take())
            .or_else(|| self.queued.pop_front())
    }

    /// Whether [`ObjectWatch::next_queued`] may have an event (the initial
    /// state's objects may yet turn out not to be selected).
    pub fn has_queued(&self) -> bool {
        self.initial.len() > 0 || self.initial_end.is_some() || !self.queued.is_empty()
    }

    /// The next object of the initial state that the selectors select, as
    /// an ADDED event; one that cannot be read ends the watch with an
    /// ERROR event, as it would have failed a LIST.
    fn next_initial(&mut self) -> Option<WatchEvent> {
        while let Some(kv) = self.initial.next() {
            if self.key_excludes(&kv.key) || (self.filtered() && !self.selected(&kv)) {
                continue;
            }
            if let Some(line) = self.stored_line("ADDED", &kv.value, kv.mod_revision) {
                return Some(WatchEvent {
                    kind: "ADDED",
                    object: Value::Null,
                    raw: Some(line),
                });
            }
            let object = decode_kv(&kv).and_then(|o| match &self.conversion {
                Some(c) => c.from_storage(o),
                None => Ok(o),
            });
            return Some(match object {
                Ok(object) => WatchEvent {
                    kind: "ADDED",
                    object,
                    raw: None,
                },
                Err(e) => {
                    self.initial = Vec::new().into_iter();
                    self.initial_end = None;
                    self.queued.clear();
                    self.stream = None;
                    WatchEvent {
                        kind: "ERROR",
                        object: e.to_status(),
                        raw: None,
                    }
                }
            });
        }
        None
    }

    /// Whether the selectors select the object `kv` holds, from the
    /// attributes derived once per stored value for every watcher.
    fn selected(&self, kv: &kaiser_storage::KeyValue) -> bool {
        SelectorAttrs::derived(kv, self.store_id, &*self.strategy, || {
            self.decode(kv).ok_or(())
        })
        .is_ok_and(|a| a.selected_by(&self.opts))
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
        let put = ev.kind == EventType::Put;
        // Which side of the selection the object was on, and is on now.
        let (was, is) = if self.filtered() {
            (
                ev.prev.as_ref().is_some_and(|p| self.selected(p)),
                put && self.selected(&ev.kv),
            )
        } else {
            (ev.prev.is_some(), put)
        };
        // Leaving the selection reads as a deletion: the client sees the
        // object it knew, at the revision it left.
        let (kind, from_prev) = match (was, is) {
            (true, true) => ("MODIFIED", false),
            (false, true) => ("ADDED", false),
            (true, false) => ("DELETED", true),
            (false, false) => return None,
        };
        let kv = if from_prev { ev.prev.as_ref()? } else { &ev.kv };
        if self.form != Form::Decoded {
            // Every watcher that sends this event whole as the event's own
            // kind sends the same line: the first one to get here encodes it.
            let own_kind = match (ev.kind, &ev.prev) {
                (EventType::Delete, _) => "DELETED",
                (EventType::Put, Some(_)) => "MODIFIED",
                (EventType::Put, None) => "ADDED",
            };
            let line = if kind == own_kind && self.form == Form::Object {
                ev.encoded.get_or_make(|| wire_line(kind, &kv.value, rev))
            } else {
                self.stored_line(kind, &kv.value, rev)
            };
            if let Some(line) = line {
                return Some(WatchEvent {
                    kind,
                    object: Value::Null,
                    raw: Some(line),
                });
            }
        }
        let mut object = self.decode(kv)?;
        if from_prev {
            meta::set_resource_version(&mut object, rev);
        }
        Some(WatchEvent {
            kind,
            object,
            raw: None,
        })
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

/// `{"type":"<kind>","object":<a PartialObjectMetadata of the stored
/// metadata>}` and a newline, when the stored bytes have the layout that
/// allows it.
fn metadata_line(kind: &str, value: &[u8], rev: i64) -> Option<bytes::Bytes> {
    let spans = kaiser_apimachinery::meta::metadata_spans(value)?;
    let mut line = Vec::with_capacity(spans.body.len() + 128);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    crate::store::write_partial_metadata(&mut line, value, &spans, rev);
    line.extend_from_slice(b"}\n");
    Some(line.into())
}

/// What a watch's events carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// The decoded object (the server converts it to the asked form).
    Decoded,
    /// The stored object with its revision spliced in.
    Object,
    /// A `PartialObjectMetadata` of the stored metadata.
    Metadata,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use kaiser_storage::Event;
    use tokio::sync::mpsc;

    fn watch_of(rx: mpsc::Receiver<WatchItem>) -> ObjectWatch {
        ObjectWatch {
            info: Arc::new(ResourceInfo::new("", "v1", "configmaps", "ConfigMap", true)),
            strategy: Arc::new(crate::strategy::DefaultStrategy),
            opts: ListOptions::from_query([]).expect("options"),
            queued: VecDeque::new(),
            initial: Vec::new().into_iter(),
            initial_end: None,
            held: Vec::new(),
            stream: Some(WatchStream::new(rx)),
            last_revision: 1,
            conversion: None,
            form: Form::Decoded,
            store_id: 0,
        }
    }

    fn put(name: &str, rev: i64, continued: bool) -> WatchItem {
        let value = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "a"}});
        let kv = KeyValue {
            key: format!("/registry/configmaps/a/{name}"),
            value: value.to_string().into(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            derived: Default::default(),
        };
        let mut e = Event::new(EventType::Put, kv, None);
        e.continued = continued;
        WatchItem::Event(Arc::new(e))
    }

    async fn name_of_next(w: &mut ObjectWatch) -> Option<String> {
        tokio::time::timeout(Duration::from_millis(200), w.next())
            .await
            .ok()
            .map(|e| e.map_or("(end)".into(), |e| meta::name(&e.object).to_string()))
    }

    /// Part of a revision is held until the revision is whole: its last
    /// event, or word that it is complete, releases it; a stream that ends
    /// first hands it out never, and bookmarks never name it before.
    #[tokio::test]
    async fn a_revision_is_handed_out_only_once_whole() {
        let (tx, rx) = mpsc::channel(8);
        let mut w = watch_of(rx);
        let send = async |item| tx.send(item).await.expect("send");
        send(put("x", 5, true)).await;
        assert_eq!(name_of_next(&mut w).await, None, "x is held");
        assert_eq!(w.last_revision(), 1);
        send(put("y", 5, false)).await;
        assert_eq!(name_of_next(&mut w).await.as_deref(), Some("x"));
        assert_eq!(w.last_revision(), 5);
        assert_eq!(name_of_next(&mut w).await.as_deref(), Some("y"));
        // The rest of revision 6 lies outside this watch: progress says so.
        send(put("z", 6, true)).await;
        assert_eq!(name_of_next(&mut w).await, None, "z is held");
        send(WatchItem::Progress(6)).await;
        assert_eq!(name_of_next(&mut w).await.as_deref(), Some("z"));
        assert_eq!(w.last_revision(), 6);
        // A stream that ends inside a revision drops its part.
        send(put("w", 7, true)).await;
        drop(tx);
        assert_eq!(name_of_next(&mut w).await.as_deref(), Some("(end)"));
        assert_eq!(w.last_revision(), 6);
    }
}
