//! Reading Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`)
//! into JSON values, driven by per-type field tables.
//!
//! The envelope is the 4-byte magic `k8s\0` and a `runtime.Unknown` message
//! whose `raw` field holds the object's own message. Field numbers and kinds
//! come from the API types' published protobuf definitions.

use base64::Engine;
use serde_json::{Map, Value};

use crate::time::format_rfc3339;

/// How one field is encoded and shown in JSON.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    String,
    /// Bytes shown base64-encoded, as JSON shows `[]byte`.
    Bytes,
    Bool,
    Int32,
    Int64,
    /// `metav1.Time`: seconds and nanos, shown as RFC 3339 seconds.
    Time,
    /// `metav1.MicroTime`: shown with microseconds.
    MicroTime,
    Message(&'static Message),
    MapStringString,
    MapStringBytes,
    /// A message whose field 1 holds raw JSON (`FieldsV1`, `RawExtension`).
    RawJson,
}

#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub number: u32,
    pub name: &'static str,
    pub kind: Kind,
    pub repeated: bool,
    /// A pointer field in the Go type: its zero value is meaningful and kept.
    /// Other fields are omitted from JSON when zero, as `omitempty` does.
    pub keep_zero: bool,
}

impl Field {
    pub const fn one(number: u32, name: &'static str, kind: Kind) -> Self {
        Field {
            number,
            name,
            kind,
            repeated: false,
            keep_zero: false,
        }
    }
    pub const fn many(number: u32, name: &'static str, kind: Kind) -> Self {
        Field {
            number,
            name,
            kind,
            repeated: true,
            keep_zero: false,
        }
    }
    /// An optional (pointer) scalar whose zero value is kept.
    pub const fn ptr(number: u32, name: &'static str, kind: Kind) -> Self {
        Field {
            number,
            name,
            kind,
            repeated: false,
            keep_zero: true,
        }
    }
}

/// The fields of one message type.
#[derive(Debug)]
pub struct Message {
    pub fields: &'static [Field],
}

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\x00";

use Kind::*;

pub static OWNER_REFERENCE: Message = Message {
    fields: &[
        Field::one(1, "kind", String),
        Field::one(3, "name", String),
        Field::one(4, "uid", String),
        Field::one(5, "apiVersion", String),
        Field::ptr(6, "controller", Bool),
        Field::ptr(7, "blockOwnerDeletion", Bool),
    ],
};

pub static MANAGED_FIELDS_ENTRY: Message = Message {
    fields: &[
        Field::one(1, "manager", String),
        Field::one(2, "operation", String),
        Field::one(3, "apiVersion", String),
        Field::one(4, "time", Time),
        Field::one(6, "fieldsType", String),
        Field::one(7, "fieldsV1", RawJson),
        Field::one(8, "subresource", String),
    ],
};

pub static OBJECT_META: Message = Message {
    fields: &[
        Field::one(1, "name", String),
        Field::one(2, "generateName", String),
        Field::one(3, "namespace", String),
        Field::one(4, "selfLink", String),
        Field::one(5, "uid", String),
        Field::one(6, "resourceVersion", String),
        Field::one(7, "generation", Int64),
        Field::one(8, "creationTimestamp", Time),
        Field::one(9, "deletionTimestamp", Time),
        Field::ptr(10, "deletionGracePeriodSeconds", Int64),
        Field::one(11, "labels", MapStringString),
        Field::one(12, "annotations", MapStringString),
        Field::many(13, "ownerReferences", Message(&OWNER_REFERENCE)),
        Field::many(14, "finalizers", String),
        Field::many(17, "managedFields", Message(&MANAGED_FIELDS_ENTRY)),
    ],
};

/// `core/v1.ObjectReference`, used across groups.
pub static OBJECT_REFERENCE: Message = Message {
    fields: &[
        Field::one(1, "kind", String),
        Field::one(2, "namespace", String),
        Field::one(3, "name", String),
        Field::one(4, "uid", String),
        Field::one(5, "apiVersion", String),
        Field::one(6, "resourceVersion", String),
        Field::one(7, "fieldPath", String),
    ],
};

static TYPE_META: Message = Message {
    fields: &[
        Field::one(1, "apiVersion", String),
        Field::one(2, "kind", String),
    ],
};

/// Splits a protobuf body into its type (apiVersion, kind) and raw object bytes.
pub fn decode_envelope(
    body: &[u8],
) -> Result<(std::string::String, std::string::String, Vec<u8>), std::string::String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the Kubernetes protobuf prefix")?;
    let mut r = Reader { buf: rest, pos: 0 };
    let (mut api_version, mut kind, mut raw) = (
        std::string::String::new(),
        std::string::String::new(),
        Vec::new(),
    );
    while let Some((num, wire)) = r.key()? {
        match (num, wire) {
            (1, 2) => {
                let tm = decode_message(&TYPE_META, r.bytes()?)?;
                api_version = tm
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into();
                kind = tm.get("kind").and_then(Value::as_str).unwrap_or("").into();
            }
            (2, 2) => raw = r.bytes()?.to_vec(),
            (3 | 4, 2) => {
                let enc = r.bytes()?;
                if num == 3 && !enc.is_empty() {
                    return Err("compressed protobuf bodies are not supported".into());
                }
            }
            _ => r.skip(wire)?,
        }
    }
    Ok((api_version, kind, raw))
}

/// Decodes one message into a JSON object.
pub fn decode_message(msg: &Message, bytes: &[u8]) -> Result<Value, std::string::String> {
    let mut out = Map::new();
    let mut r = Reader { buf: bytes, pos: 0 };
    while let Some((num, wire)) = r.key()? {
        let Some(f) = msg.fields.iter().find(|f| f.number == num) else {
            r.skip(wire)?;
            continue;
        };
        // proto2 scalars may arrive packed in one length-delimited field.
        let packed = wire == 2 && matches!(f.kind, Bool | Int32 | Int64);
        if packed {
            let mut inner = Reader {
                buf: r.bytes()?,
                pos: 0,
            };
            while inner.pos < inner.buf.len() {
                let v = scalar(f.kind, inner.varint()?);
                push(&mut out, f, v);
            }
            continue;
        }
        let v = match f.kind {
            String => Value::from(utf8(r.bytes()?)?),
            Bytes => Value::from(base64::engine::general_purpose::STANDARD.encode(r.bytes()?)),
            Bool | Int32 | Int64 => {
                if wire != 0 {
                    return Err(format!("field {} has the wrong wire type", f.name));
                }
                scalar(f.kind, r.varint()?)
            }
            Time | MicroTime => time(r.bytes()?, matches!(f.kind, MicroTime))?,
            Message(m) => decode_message(m, r.bytes()?)?,
            RawJson => {
                let inner = first_bytes_field(r.bytes()?)?;
                if inner.is_empty() {
                    Value::Object(Map::new())
                } else {
                    serde_json::from_slice(&inner).map_err(|e| format!("field {}: {e}", f.name))?
                }
            }
            MapStringString | MapStringBytes => {
                let (k, v) = map_entry(r.bytes()?, matches!(f.kind, MapStringBytes))?;
                let m = out
                    .entry(f.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = m {
                    m.insert(k, v);
                }
                continue;
            }
        };
        push(&mut out, f, v);
    }
    Ok(Value::Object(out))
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

fn push(out: &mut Map<std::string::String, Value>, f: &Field, v: Value) {
    if !f.repeated && !f.keep_zero && is_zero(&v) {
        return;
    }
    if f.repeated {
        let arr = out
            .entry(f.name)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = arr {
            a.push(v);
        }
    } else {
        out.insert(f.name.to_string(), v);
    }
}

fn scalar(kind: Kind, raw: u64) -> Value {
    match kind {
        Bool => Value::from(raw != 0),
        Int32 => Value::from(raw as i64 as i32),
        _ => Value::from(raw as i64),
    }
}

fn utf8(b: &[u8]) -> Result<std::string::String, std::string::String> {
    std::str::from_utf8(b)
        .map(str::to_string)
        .map_err(|e| format!("invalid UTF-8 in a string field: {e}"))
}

fn time(b: &[u8], micro: bool) -> Result<Value, std::string::String> {
    let mut r = Reader { buf: b, pos: 0 };
    let (mut secs, mut nanos) = (0i64, 0i64);
    while let Some((num, wire)) = r.key()? {
        match (num, wire) {
            (1, 0) => secs = r.varint()? as i64,
            (2, 0) => nanos = r.varint()? as i64,
            _ => r.skip(wire)?,
        }
    }
    if secs == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let s = format_rfc3339(secs);
    if micro {
        return Ok(Value::from(format!(
            "{}.{:06}Z",
            s.trim_end_matches('Z'),
            nanos / 1000
        )));
    }
    Ok(Value::from(s))
}

fn first_bytes_field(b: &[u8]) -> Result<Vec<u8>, std::string::String> {
    let mut r = Reader { buf: b, pos: 0 };
    while let Some((num, wire)) = r.key()? {
        if num == 1 && wire == 2 {
            return Ok(r.bytes()?.to_vec());
        }
        r.skip(wire)?;
    }
    Ok(Vec::new())
}

fn map_entry(
    b: &[u8],
    bytes_value: bool,
) -> Result<(std::string::String, Value), std::string::String> {
    let mut r = Reader { buf: b, pos: 0 };
    let (mut k, mut v) = (std::string::String::new(), Value::from(""));
    while let Some((num, wire)) = r.key()? {
        match (num, wire) {
            (1, 2) => k = utf8(r.bytes()?)?,
            (2, 2) if bytes_value => {
                v = Value::from(base64::engine::general_purpose::STANDARD.encode(r.bytes()?))
            }
            (2, 2) => v = Value::from(utf8(r.bytes()?)?),
            _ => r.skip(wire)?,
        }
    }
    Ok((k, v))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, std::string::String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn key(&mut self) -> Result<Option<(u32, u8)>, std::string::String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let k = self.varint()?;
        Ok(Some(((k >> 3) as u32, (k & 7) as u8)))
    }

    fn bytes(&mut self) -> Result<&'a [u8], std::string::String> {
        let n = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or("truncated field")?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    fn skip(&mut self, wire: u8) -> Result<(), std::string::String> {
        match wire {
            0 => {
                self.varint()?;
            }
            1 => self.pos += 8,
            2 => {
                self.bytes()?;
            }
            5 => self.pos += 4,
            w => return Err(format!("unsupported wire type {w}")),
        }
        if self.pos > self.buf.len() {
            return Err("truncated field".into());
        }
        Ok(())
    }
}

/// Protobuf writing, for the few documents kaiser serves in protobuf form.
pub mod write {
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A length-delimited field (a message, bytes or a string).
    pub fn message(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
        varint(out, u64::from(field) << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    /// A string field; empty strings are omitted, as proto3 does.
    pub fn string(out: &mut Vec<u8>, field: u32, s: &str) {
        if !s.is_empty() {
            message(out, field, s.as_bytes());
        }
    }

    pub fn boolean(out: &mut Vec<u8>, field: u32, b: bool) {
        varint(out, u64::from(field) << 3);
        varint(out, u64::from(b));
    }

    /// An int64 field (two's complement varint).
    pub fn int64(out: &mut Vec<u8>, field: u32, v: i64) {
        varint(out, u64::from(field) << 3);
        varint(out, v as u64);
    }

    /// A double field (64-bit little endian).
    pub fn double(out: &mut Vec<u8>, field: u32, v: f64) {
        varint(out, u64::from(field) << 3 | 1);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(v: u64, out: &mut Vec<u8>) {
        write::varint(out, v);
    }
    fn ld(num: u32, data: &[u8], out: &mut Vec<u8>) {
        write::message(out, num, data);
    }

    static CM: Message = Message {
        fields: &[
            Field::one(1, "metadata", Message(&OBJECT_META)),
            Field::one(2, "data", MapStringString),
            Field::ptr(4, "immutable", Bool),
        ],
    };

    #[test]
    fn decodes_an_envelope_and_a_message() {
        let mut meta = Vec::new();
        ld(1, b"cm1", &mut meta);
        ld(3, b"ns", &mut meta);
        let mut ts = Vec::new();
        varint(1 << 3, &mut ts);
        varint(951_782_400, &mut ts);
        ld(8, &ts, &mut meta);
        let mut obj = Vec::new();
        ld(1, &meta, &mut obj);
        let mut entry = Vec::new();
        ld(1, b"k", &mut entry);
        ld(2, b"v", &mut entry);
        ld(2, &entry, &mut obj);
        varint(4 << 3, &mut obj);
        varint(1, &mut obj);
        let mut tm = Vec::new();
        ld(1, b"v1", &mut tm);
        ld(2, b"ConfigMap", &mut tm);
        let mut unknown = Vec::new();
        ld(1, &tm, &mut unknown);
        ld(2, &obj, &mut unknown);
        let mut body = MAGIC.to_vec();
        body.extend(unknown);
        let (av, kind, raw) = decode_envelope(&body).expect("envelope");
        assert_eq!((av.as_str(), kind.as_str()), ("v1", "ConfigMap"));
        let v = decode_message(&CM, &raw).expect("message");
        assert_eq!(
            v,
            serde_json::json!({"metadata": {"name": "cm1", "namespace": "ns", "creationTimestamp": "2000-02-29T00:00:00Z"}, "data": {"k": "v"}, "immutable": true})
        );
        assert!(decode_envelope(b"nope").is_err());
        assert!(decode_message(&CM, &[0x0a, 0x05, 0x01]).is_err());
    }
}
