//! LIST bodies rendered one item at a time: pretty JSON, `Table`s and
//! `PartialObjectMetadataList`s render each stored object only when the
//! chunk that carries it is made, so a large list is never held decoded
//! as a whole (a decoded object takes several times its stored bytes).
//! Plain JSON lists skip decoding altogether (`kaiser_registry::JsonList`),
//! and so do pretty ones (re-indented bytes) and compact metadata-only
//! lists; compact Table rows decode each object without its
//! `managedFields` and copy the stored metadata.

use std::sync::Arc;

use bytes::Bytes;
use kaiser_apimachinery::codec::{self, Format};
use kaiser_apimachinery::table::IncludeObject;
use kaiser_apimachinery::{StatusError, meta};
use kaiser_registry::{Store, write_partial_metadata};
use kaiser_storage::KeyValue;
use serde_json::Value;

/// The wire form of one stored object.
pub enum Item {
    Value(Value),
    /// Compact JSON, written as it is (or re-indented for pretty output).
    Json(Vec<u8>),
}

/// Makes the wire form of one stored object.
pub type Render = Box<dyn FnMut(&KeyValue) -> Result<Item, StatusError> + Send + Sync>;

/// Where the items go in a list document given to [`RenderedList::new`].
pub const ITEMS: &str = "\u{0}kaiser: the list's items\u{0}";

/// Chunks of about [`RenderedList::CHUNK`] bytes of a JSON list whose items
/// are rendered as they are written, byte for byte what encoding the whole
/// document at once would give.
pub struct RenderedList {
    head: Option<Vec<u8>>,
    tail: Vec<u8>,
    items: std::vec::IntoIter<Arc<KeyValue>>,
    render: Render,
    /// Pretty output: a newline and the indent of the items' level.
    newline: Option<Vec<u8>>,
    first: bool,
    done: bool,
}

impl RenderedList {
    pub const CHUNK: usize = 64 * 1024;

    /// `doc` is the list with `[ITEMS]` as the array its items fill.
    pub fn new(
        mut doc: Value,
        items: Vec<Arc<KeyValue>>,
        pretty: bool,
        render: Render,
    ) -> Result<RenderedList, StatusError> {
        let (head, tail, newline) = if items.is_empty() {
            // An empty array is written as `[]`, pretty or not.
            empty_items(&mut doc);
            (codec::encode(&doc, Format::Json, pretty), Vec::new(), None)
        } else {
            let whole = codec::encode(&doc, Format::Json, pretty);
            let mark = codec::to_json(&Value::from(ITEMS));
            let at = whole
                .windows(mark.len())
                .position(|w| w == mark.as_slice())
                .ok_or_else(|| StatusError::internal("a list without its items' place"))?;
            let head = whole[..at].to_vec();
            let tail = whole[at + mark.len()..].to_vec();
            // Pretty items sit on lines of their own, at the indent the
            // place-holder had.
            let newline = pretty.then(|| {
                let line = head.iter().rposition(|b| *b == b'\n').unwrap_or(0);
                head[line..].to_vec()
            });
            (head, tail, newline)
        };
        Ok(RenderedList {
            head: Some(head),
            tail,
            items: items.into_iter(),
            render,
            newline,
            first: true,
            done: false,
        })
    }

    fn write_item(&self, out: &mut Vec<u8>, item: Item) {
        if !self.first {
            out.push(b',');
        }
        let (pretty, newline) = match (item, &self.newline) {
            (Item::Json(bytes), None) => return out.extend_from_slice(&bytes),
            (Item::Value(v), None) => return codec::write_json(out, &v),
            (Item::Json(bytes), Some(newline)) => {
                if !self.first {
                    out.extend_from_slice(newline);
                }
                return codec::write_pretty(out, &bytes, newline);
            }
            (Item::Value(v), Some(newline)) => (codec::encode(&v, Format::Json, true), newline),
        };
        if !self.first {
            out.extend_from_slice(newline);
        }
        // Raw newlines occur in pretty JSON only between tokens.
        for (i, line) in pretty.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                out.extend_from_slice(newline);
            }
            out.extend_from_slice(line);
        }
    }
}

/// Chunks of the body; an item that cannot be rendered is an error, after
/// which nothing more is produced.
impl Iterator for RenderedList {
    type Item = Result<Bytes, StatusError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut out = self.head.take().unwrap_or_default();
        while out.len() < Self::CHUNK {
            let Some(kv) = self.items.next() else {
                out.extend_from_slice(&self.tail);
                self.done = true;
                break;
            };
            match (self.render)(&kv) {
                Ok(item) => {
                    self.write_item(&mut out, item);
                    self.first = false;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        Some(Ok(out.into()))
    }
}

/// A `Table` row (compact JSON) made from stored JSON without decoding all
/// of it: the cells from the object decoded without its `managedFields`
/// (no column reads them, see `Strategy::row_reads_managed_fields`), the
/// metadata of a `PartialObjectMetadata` object copied as stored, with
/// `resourceVersion` added. The decoded `managedFields` were most of the
/// work of a row. `None` for stored bytes of another layout; the caller
/// makes sure that `include` is not `Object` and that the store does not
/// convert what it reads.
pub fn table_row_json(
    store: &Store,
    kv: &KeyValue,
    include: IncludeObject,
) -> Result<Option<Vec<u8>>, StatusError> {
    let Some(spans) = meta::metadata_spans(&kv.value) else {
        return Ok(None);
    };
    let stored = &kv.value;
    let obj: Value = match &spans.managed_fields {
        Some(cut) => serde_json::from_slice(&[&stored[..cut.start], &stored[cut.end..]].concat()),
        None => serde_json::from_slice(stored),
    }
    .map_err(|e| StatusError::internal(format!("stored object {} is corrupt: {e}", kv.key)))?;
    let mut out = Vec::with_capacity(spans.body.len() + 192);
    out.extend_from_slice(b"{\"cells\":");
    codec::write_json(&mut out, &Value::Array(store.table_row(&obj)));
    if include == IncludeObject::Metadata {
        out.extend_from_slice(b",\"object\":");
        write_partial_metadata(&mut out, &kv.value, &spans, kv.mod_revision);
    }
    out.push(b'}');
    Ok(Some(out))
}

/// A stored object as a `PartialObjectMetadata` (compact JSON), its
/// metadata copied as stored with `resourceVersion` added, nothing decoded;
/// `None` for stored bytes of another layout. The caller makes sure that
/// the store does not convert what it reads.
pub fn partial_json(kv: &KeyValue) -> Option<Vec<u8>> {
    let spans = meta::metadata_spans(&kv.value)?;
    let mut out = Vec::with_capacity(spans.body.len() + 128);
    write_partial_metadata(&mut out, &kv.value, &spans, kv.mod_revision);
    Some(out)
}

/// Replaces the `[ITEMS]` array in `doc` with an empty one.
fn empty_items(doc: &mut Value) -> bool {
    match doc {
        Value::Array(a) if a.len() == 1 && a[0] == ITEMS => {
            a.clear();
            true
        }
        Value::Array(a) => a.iter_mut().any(empty_items),
        Value::Object(o) => o.values_mut().any(empty_items),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kvs(n: usize) -> Vec<Arc<KeyValue>> {
        (0..n)
            .map(|i| {
                let v = json!({"metadata": {"name": format!("o{i}")}, "data": {"k": "line\nbreak \"q\"", "n": i}});
                Arc::new(KeyValue {
                    key: format!("/o{i}"),
                    value: codec::to_json(&v).into(),
                    create_revision: 1,
                    mod_revision: 1,
                    version: 1,
                    derived: Default::default(),
                })
            })
            .collect()
    }

    fn doc(items: Value) -> Value {
        json!({"kind": "Table", "metadata": {"resourceVersion": "7"}, "rows": items, "after": [1, {"x": []}]})
    }

    /// Rows of the name and the object; every other one as compact bytes,
    /// which must write the same as the value.
    fn render() -> Render {
        Box::new(|kv: &KeyValue| {
            let v: Value = serde_json::from_slice(&kv.value).map_err(StatusError::internal)?;
            let row = json!({"cells": [v["metadata"]["name"]], "object": v});
            Ok(if kv.key.ends_with(['1', '3', '5', '7', '9']) {
                Item::Json(codec::to_json(&row))
            } else {
                Item::Value(row)
            })
        })
    }

    fn value(item: Item) -> Value {
        match item {
            Item::Value(v) => v,
            Item::Json(bytes) => serde_json::from_slice(&bytes).expect("json"),
        }
    }

    /// Streamed, the body is what encoding the decoded list at once gives.
    #[test]
    fn the_stream_is_the_whole_document() {
        for n in [0, 1, 2, 3_000] {
            for pretty in [false, true] {
                let items = kvs(n);
                let mut r = render();
                let rendered: Vec<Value> = items
                    .iter()
                    .map(|kv| value(r(kv).expect("render")))
                    .collect();
                let want = codec::encode(&doc(Value::Array(rendered)), Format::Json, pretty);
                let list =
                    RenderedList::new(doc(json!([ITEMS])), items, pretty, render()).expect("list");
                let mut got = Vec::new();
                let mut chunks = 0;
                for chunk in list {
                    got.extend_from_slice(&chunk.expect("chunk"));
                    chunks += 1;
                }
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want),
                    "{n} items, pretty {pretty}"
                );
                if n == 3_000 {
                    assert!(chunks > 3, "{chunks} chunks");
                }
            }
        }
    }

    #[test]
    fn an_item_that_cannot_be_rendered_ends_the_stream_with_its_error() {
        let mut items = kvs(2);
        items.push(Arc::new(KeyValue {
            key: "/bad".into(),
            value: Bytes::from_static(b"{not json"),
            create_revision: 1,
            mod_revision: 1,
            version: 1,
            derived: Default::default(),
        }));
        let mut list =
            RenderedList::new(doc(json!([ITEMS])), items, false, render()).expect("list");
        assert!(list.next().expect("a chunk").is_err());
        assert!(list.next().is_none());
    }
}
