//! Request and response bodies: JSON and YAML to and from JSON values, with
//! the duplicate fields a body repeats (upstream reports them under
//! `fieldValidation`).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::status::StatusError;

/// The body formats kaiser reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
        }
    }
}

/// Decodes an object body; errors are 400s worded as upstream's decoder.
pub fn decode(body: &[u8], format: Format) -> Result<Value, StatusError> {
    decode_checked(body, format).map(|(v, _)| v)
}

/// Decodes an object body and lists the fields it repeats
/// (`spec.containers[0].name`); the last occurrence wins, as in upstream's
/// non-strict decoding.
pub fn decode_checked(body: &[u8], format: Format) -> Result<(Value, Vec<String>), StatusError> {
    DUPLICATES.with(|d| *d.borrow_mut() = DupState::default());
    let v: Node = match format {
        Format::Json => serde_json::from_slice(body).map_err(|e| {
            StatusError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        Format::Yaml => {
            let text = std::str::from_utf8(body).map_err(|e| {
                StatusError::bad_request(format!("error converting YAML to JSON: {e}"))
            })?;
            let options = serde_saphyr::options! {
                duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::PassThrough,
            };
            serde_saphyr::from_str_with_options(text, options).map_err(|e| {
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                StatusError::bad_request(format!("error converting YAML to JSON: yaml: {first}"))
            })?
        }
    };
    let v = v.0;
    let duplicates = DUPLICATES.with(|d| std::mem::take(&mut d.borrow_mut().found));
    if !v.is_object() {
        return Err(StatusError::bad_request(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            json_type_name(&v)
        )));
    }
    Ok((v, duplicates))
}

/// A path segment of the value being decoded.
enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Default)]
struct DupState {
    path: Vec<Segment>,
    found: Vec<String>,
}

thread_local! {
    /// The decode in progress on this thread (decoding never yields).
    static DUPLICATES: RefCell<DupState> = RefCell::new(DupState::default());
}

fn path_with(path: &[Segment], last: &str) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(last);
    out
}

/// A JSON value whose maps note repeated keys in [`DUPLICATES`].
struct Node(Value);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor).map(Node)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Node::deserialize(d).map(|n| n.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            DUPLICATES.with(|d| d.borrow_mut().path.push(Segment::Index(out.len())));
            let next = seq.next_element::<Node>();
            DUPLICATES.with(|d| d.borrow_mut().path.pop());
            match next? {
                Some(n) => out.push(n.0),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<KeyString>()? {
            DUPLICATES.with(|d| d.borrow_mut().path.push(Segment::Key(key.0)));
            let value = map.next_value::<Node>();
            let key = DUPLICATES.with(|d| {
                let mut d = d.borrow_mut();
                match d.path.pop() {
                    Some(Segment::Key(k)) => {
                        if out.contains_key(&k) {
                            let p = path_with(&d.path, &k);
                            d.found.push(p);
                        }
                        k
                    }
                    _ => String::new(),
                }
            });
            out.insert(key, value?.0);
        }
        Ok(Value::Object(out))
    }
}

/// A map key; YAML keys that are numbers or booleans become their text.
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Node::deserialize(d)?.0 {
            Value::String(s) => Ok(KeyString(s)),
            Value::Null => Ok(KeyString("null".into())),
            Value::Object(_) | Value::Array(_) => {
                Err(de::Error::custom("a map key must be a scalar"))
            }
            other => Ok(KeyString(other.to_string())),
        }
    }
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Encodes a value in the given format.
pub fn encode(v: &Value, format: Format, pretty: bool) -> Vec<u8> {
    match format {
        Format::Json if pretty => serde_json::to_vec_pretty(v).unwrap_or_default(),
        Format::Json => serde_json::to_vec(v).unwrap_or_default(),
        Format::Yaml => serde_saphyr::to_string(v).unwrap_or_default().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_formats() {
        let j = decode(br#"{"kind":"ConfigMap","data":{"a":"1"}}"#, Format::Json).expect("json");
        let y = decode(b"kind: ConfigMap\ndata:\n  a: \"1\"\n", Format::Yaml).expect("yaml");
        assert_eq!(j, y);
        let e = decode(b"{bad", Format::Json).expect_err("bad json");
        assert_eq!(e.code, 400);
        assert!(
            e.message
                .starts_with("couldn't get version/kind; json parse error")
        );
        assert_eq!(
            decode(b"a: [", Format::Yaml).expect_err("bad yaml").code,
            400
        );
        assert_eq!(decode(b"[1]", Format::Json).expect_err("array").code, 400);
        let round = decode(&encode(&j, Format::Yaml, false), Format::Yaml).expect("round trip");
        assert_eq!(round, j);
    }

    #[test]
    fn repeated_fields_are_listed_with_their_paths() {
        let body = br#"{"kind":"Pod","spec":{"replicas":1,"replicas":2,
            "containers":[{"name":"a","name":"b"}]},"kind":"Pod"}"#;
        let (v, dups) = decode_checked(body, Format::Json).expect("decodes");
        assert_eq!(
            dups,
            vec!["spec.replicas", "spec.containers[0].name", "kind"]
        );
        assert_eq!(v["spec"]["replicas"], 2, "the last one wins");
        let yaml = b"kind: ConfigMap\ndata:\n  a: one\n  a: two\n";
        let (v, dups) = decode_checked(yaml, Format::Yaml).expect("decodes");
        assert_eq!(dups, vec!["data.a"]);
        assert_eq!(v["data"]["a"], "two");
        let (_, none) = decode_checked(br#"{"a":{"b":1},"c":{"b":1}}"#, Format::Json).expect("ok");
        assert!(none.is_empty());
        // A failed decode leaves nothing behind for the next one.
        assert!(decode_checked(br#"{"a":{"a":1,"a":"#, Format::Json).is_err());
        let (_, none) = decode_checked(br#"{"x":1}"#, Format::Json).expect("ok");
        assert!(none.is_empty());
    }
}
