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
        Format::Json => to_json(v),
        Format::Yaml => serde_saphyr::to_string(v).unwrap_or_default().into_bytes(),
    }
}

/// A JSON object of these fields, in this order. Unlike `json!`, which
/// passes a value given by expression through the serializer (a deep copy),
/// this moves the values in.
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Compact JSON, byte for byte what `serde_json::to_vec` writes, with the
/// string scan done eight bytes at a time: stored objects are mostly long
/// strings that need no escaping (a ConfigMap's data), where serde_json's
/// byte-at-a-time scan was a tenth of a create's instructions.
pub fn to_json(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_json(&mut out, v);
    out
}

/// Appends `v` to `out` as compact JSON (see [`to_json`]).
pub fn write_json(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Writing into a Vec cannot fail; numbers keep serde_json's format.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, k);
                out.push(b':');
                write_json(out, item);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string with serde_json's escapes: `"`, `\\`, and control
/// characters (short forms where JSON has them, else `\u00xx`).
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let i = next_escape(b, start);
        out.extend_from_slice(&b[start..i]);
        let Some(&c) = b.get(i) else { break };
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.push(b'"');
}

fn needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// The index of the first byte at or after `from` that needs escaping, or
/// `b.len()`. Whole words are tested at once: a byte below 0x20, or equal
/// to `"` or `\\`, makes the borrow tricks below set that byte's top bit.
fn next_escape(b: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    for chunk in b[from..].chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let hits = (w.wrapping_sub(ONES * 0x20) & !w)
            | (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash);
        if hits & HIGH != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && !needs_escape(b[i]) {
        i += 1;
    }
    i
}

/// JSON text re-indented as `serde_json::to_vec_pretty` would write the
/// value it holds (two spaces, `": "`, `{}` and `[]` when empty), without
/// decoding it: strings and numbers are copied as they are, whitespace
/// between tokens is dropped. For valid JSON only; it does not check.
pub fn pretty(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + json.len() / 2);
    write_pretty(&mut out, json, b"\n");
    out
}

/// [`pretty`] into `out`, each line after the first starting with
/// `line_start` (a newline and the indent the text sits at) before its own
/// indent.
pub fn write_pretty(out: &mut Vec<u8>, json: &[u8], line_start: &[u8]) {
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.extend_from_slice(line_start);
        out.resize(out.len() + 2 * depth, b' ');
    };
    while i < json.len() {
        let c = json[i];
        match c {
            b'"' => {
                let end = string_end(json, i);
                out.extend_from_slice(&json[i..end]);
                i = end;
                continue;
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let next = json[i + 1..]
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                    .map(|at| i + 1 + at);
                if next.is_some_and(|at| json[at] == close) {
                    out.extend_from_slice(&[c, close]);
                    i = next.map_or(json.len(), |at| at + 1);
                    continue;
                }
                out.push(c);
                depth += 1;
                newline(out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(out, depth);
                out.push(c);
            }
            b',' => {
                out.push(b',');
                newline(out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
        i += 1;
    }
}

/// The offset after the JSON string whose opening quote is at `at` (the
/// end of the text for an unterminated one), found a word at a time.
fn string_end(b: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    loop {
        i = next_escape(b, i);
        match b.get(i) {
            Some(b'\\') => i += 2,
            Some(b'"') => return i + 1,
            // A control byte, which valid JSON escapes: copied as it is.
            Some(_) => i += 1,
            None => return b.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The re-indented compact text is byte for byte serde_json's pretty
    /// form of the same value.
    #[test]
    fn pretty_matches_serde_json() {
        let values = [
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!("a \"}] ,: string"),
            serde_json::json!(-1.5e-7),
            serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "a\"b", "labels": {"k\n": "v{[,:"}, "annotations": {}},
                "data": {"payload": "x".repeat(100), "esc": "\\\" \u{1}"},
                "n": [0, -1, 1.5, 18446744073709551615u64, [], [[]], [{}], {"a": []}],
                "b": [true, false, null],
            }),
        ];
        for v in values {
            let want = serde_json::to_vec_pretty(&v).expect("serde_json");
            assert_eq!(
                String::from_utf8_lossy(&pretty(&to_json(&v))),
                String::from_utf8_lossy(&want)
            );
            // Whitespace between tokens, as another writer might leave it.
            let spaced = String::from_utf8_lossy(&want).replace("\n", "\n \t");
            assert_eq!(pretty(spaced.as_bytes()), want, "{spaced}");
        }
    }

    #[test]
    fn json_writer_matches_serde_json() {
        let mut strings: Vec<String> = (0u8..=0x7f).map(|c| format!("a{}b", c as char)).collect();
        strings.extend(
            [
                "",
                "plain ascii text longer than one word",
                "ünïcødé ✓ and \u{2028} line separator",
                "\"quoted\" and \\backslashed\\",
                "tab\tnew\nline\r\u{8}\u{c}\u{1f}\u{7f}",
            ]
            .map(String::from),
        );
        // Every escapable byte at every offset within a word and across two.
        for c in ['"', '\\', '\n', '\u{1}', '\u{1f}'] {
            for at in 0..20 {
                let mut s = "x".repeat(20);
                s.insert(at, c);
                strings.push(s);
            }
        }
        let mut values: Vec<Value> = strings.iter().map(|s| Value::String(s.clone())).collect();
        values.push(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a\"b", "labels": {"k\n": "v"}},
            "data": {"payload": "x".repeat(1024)},
            "n": [0, -1, 1.5, -2.25e-7, 18446744073709551615u64, -9223372036854775808i64, 1e300],
            "b": [true, false, null, [], {}],
        }));
        for v in values {
            let want = serde_json::to_vec(&v).expect("serde_json");
            assert_eq!(to_json(&v), want, "{v}");
        }
    }

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
