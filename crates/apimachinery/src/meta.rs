//! Accessors for `metadata` on objects held as JSON values.

use serde_json::{Map, Value};

/// The JSON fields of `ObjectMeta`.
pub const OBJECT_META_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

pub fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// The `metadata` map, created when missing or not an object.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(o) = obj else {
        unreachable!("made an object above")
    };
    let m = o
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    match m {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

pub fn str_field<'a>(obj: &'a Value, field: &str) -> &'a str {
    metadata(obj)
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn name(obj: &Value) -> &str {
    str_field(obj, "name")
}

pub fn namespace(obj: &Value) -> &str {
    str_field(obj, "namespace")
}

pub fn resource_version(obj: &Value) -> &str {
    str_field(obj, "resourceVersion")
}

pub fn uid(obj: &Value) -> &str {
    str_field(obj, "uid")
}

pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    metadata(obj)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn deletion_timestamp(obj: &Value) -> Option<&str> {
    metadata(obj)
        .and_then(|m| m.get("deletionTimestamp"))
        .and_then(Value::as_str)
}

pub fn set_str(obj: &mut Value, field: &str, value: &str) {
    metadata_mut(obj).insert(field.to_string(), Value::String(value.to_string()));
}

/// Sets `fields` of `new`'s metadata to `old`'s (removing those `old`
/// lacks): what an update may not change.
pub fn keep_fields(new: &mut Value, old: &Value, fields: &[&str]) {
    let old_meta = metadata(old);
    let m = metadata_mut(new);
    for f in fields {
        match old_meta.and_then(|om| om.get(*f)) {
            Some(v) => {
                m.insert((*f).into(), v.clone());
            }
            None => {
                m.shift_remove(*f);
            }
        }
    }
}

pub fn set_resource_version(obj: &mut Value, rv: i64) {
    set_str(obj, "resourceVersion", &rv.to_string());
}

/// Parses a resourceVersion string; empty is `None`, garbage is an error.
pub fn parse_resource_version(rv: &str) -> Result<Option<i64>, String> {
    if rv.is_empty() {
        return Ok(None);
    }
    // Worded as upstream's versioner words it (it parses an unsigned int).
    let why = match rv.parse::<i64>() {
        Ok(n) if n >= 0 => return Ok(Some(n)),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => "value out of range",
        _ => "invalid syntax",
    };
    Err(format!(
        "resourceVersion: Invalid value: {rv:?}: strconv.ParseUint: parsing {rv:?}: {why}"
    ))
}

/// For JSON written as `{"apiVersion":"…","kind":"…","metadata":{…`,
/// the offset just inside the metadata object's `{`; `None` for any other
/// layout. Lets a reader add `resourceVersion` to stored bytes without
/// decoding them.
pub fn metadata_body_offset(json: &[u8]) -> Option<usize> {
    let mut i = expect(json, 0, b"{\"apiVersion\":")?;
    i = skip_string(json, i)?;
    i = expect(json, i, b",\"kind\":")?;
    i = skip_string(json, i)?;
    expect(json, i, b",\"metadata\":{")
}

/// Where a stored object's metadata and its `managedFields` lie, for bytes
/// of the layout [`metadata_body_offset`] accepts.
#[derive(Debug, PartialEq)]
pub struct MetadataSpans {
    /// The metadata object's members: the bytes between its braces.
    pub body: std::ops::Range<usize>,
    /// The `managedFields` member with one comma next to it, so that the
    /// bytes around it join into valid JSON without it.
    pub managed_fields: Option<std::ops::Range<usize>>,
}

/// Finds the metadata object and its `managedFields` member in stored JSON
/// without decoding it; `None` for another layout or malformed bytes.
pub fn metadata_spans(json: &[u8]) -> Option<MetadataSpans> {
    let start = metadata_body_offset(json)?;
    let mut i = skip_space(json, start);
    let mut managed = None;
    if json.get(i) == Some(&b'}') {
        return Some(MetadataSpans {
            body: start..i,
            managed_fields: None,
        });
    }
    loop {
        let key_start = i;
        let key_end = skip_string(json, i)?;
        i = skip_space(json, key_end);
        i = skip_space(json, expect(json, i, b":")?);
        let value_end = skip_value(json, i)?;
        i = skip_space(json, value_end);
        let is_managed = &json[key_start..key_end] == b"\"managedFields\"";
        match json.get(i) {
            Some(b',') => {
                if is_managed {
                    managed = Some(key_start..i + 1);
                }
                i = skip_space(json, i + 1);
            }
            Some(b'}') => {
                if is_managed {
                    // The last member: its comma is the one before it.
                    let comma = json[start..key_start]
                        .iter()
                        .rposition(|b| *b == b',')
                        .map_or(key_start, |at| start + at);
                    managed = Some(comma..value_end);
                }
                return Some(MetadataSpans {
                    body: start..i,
                    managed_fields: managed,
                });
            }
            _ => return None,
        }
    }
}

fn skip_space(b: &[u8], mut at: usize) -> usize {
    while b.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// Skips one JSON value starting at `at`; returns the offset after it.
fn skip_value(b: &[u8], at: usize) -> Option<usize> {
    match b.get(at)? {
        b'"' => skip_string(b, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = skip_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            // A number, true, false or null.
            let len = b[at..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace())
                .unwrap_or(b.len() - at);
            (len > 0).then_some(at + len)
        }
    }
}

fn expect(b: &[u8], at: usize, lit: &[u8]) -> Option<usize> {
    b.get(at..at + lit.len())
        .filter(|s| *s == lit)
        .map(|_| at + lit.len())
}

/// Skips a JSON string starting at its opening quote; returns the offset after it.
fn skip_string(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors() {
        let mut o = json!({"metadata": {"name": "a", "labels": {"x": "y"}}});
        assert_eq!(name(&o), "a");
        assert_eq!(namespace(&o), "");
        assert_eq!(labels(&o).map(|l| l.len()), Some(1));
        set_resource_version(&mut o, 7);
        assert_eq!(resource_version(&o), "7");
        let mut bare = json!(null);
        set_str(&mut bare, "name", "b");
        assert_eq!(name(&bare), "b");
        assert_eq!(parse_resource_version(""), Ok(None));
        assert_eq!(parse_resource_version("12"), Ok(Some(12)));
        assert_eq!(
            parse_resource_version("x"),
            Err(r#"resourceVersion: Invalid value: "x": strconv.ParseUint: parsing "x": invalid syntax"#.into())
        );
        assert!(parse_resource_version("-1").is_err());
        assert!(
            parse_resource_version("99999999999999999999")
                .is_err_and(|e| e.ends_with("value out of range"))
        );
    }

    #[test]
    fn finds_the_metadata_body() {
        let doc = br#"{"apiVersion":"v1","kind":"Con\"fig","metadata":{"name":"a"},"data":{}}"#;
        let at = metadata_body_offset(doc).expect("layout");
        assert_eq!(&doc[at..at + 6], br#""name""#);
        assert_eq!(
            metadata_body_offset(br#"{"kind":"x","apiVersion":"v1","metadata":{}}"#),
            None
        );
        assert_eq!(
            metadata_body_offset(br#"{"apiVersion":"v1","kind":"x"}"#),
            None
        );
        assert_eq!(metadata_body_offset(br#"{"apiVersion":"v1"#), None);
    }

    /// The metadata's members and its managedFields member, wherever that
    /// sits among them: the bytes without it are the object without it.
    #[test]
    fn finds_the_metadata_spans() {
        let managed = json!([{"manager": "m", "fieldsV1": {"f:data": {".": {}, "f:a\"}": {}}}}]);
        for (before, after) in [
            (json!({}), json!({})),
            (json!({"name": "a"}), json!({})),
            (json!({}), json!({"labels": {"x": "[y"}})),
            (json!({"name": "a", "n": 1}), json!({"ok": true, "z": null})),
        ] {
            let mut meta = before.as_object().cloned().unwrap_or_default();
            meta.insert("managedFields".into(), managed.clone());
            meta.extend(after.as_object().cloned().unwrap_or_default());
            let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "}"}});
            let compact = serde_json::to_vec(&obj).expect("json");
            // Spaces around the metadata's tokens, as another writer might put.
            let spaced = String::from_utf8_lossy(&compact)
                .replace(r#""metadata":{"#, "\"metadata\":{ ")
                .replace(r#""managedFields":["#, "\"managedFields\" : [ ")
                .replace(r#"}}],"#, "}}] ,")
                .into_bytes();
            for doc in [compact, spaced] {
                let spans = metadata_spans(&doc)
                    .unwrap_or_else(|| panic!("spans of {}", String::from_utf8_lossy(&doc)));
                let body: Value =
                    serde_json::from_slice(&[b"{", &doc[spans.body.clone()], b"}"].concat())
                        .expect("the body is the metadata's members");
                assert_eq!(body, Value::Object(meta.clone()));
                let cut = spans.managed_fields.expect("managedFields found");
                let without: Value =
                    serde_json::from_slice(&[&doc[..cut.start], &doc[cut.end..]].concat())
                        .expect("valid JSON without managedFields");
                let mut want = obj.clone();
                want["metadata"]
                    .as_object_mut()
                    .map(|m| m.shift_remove("managedFields"));
                assert_eq!(without, want);
            }
        }
        let bare = br#"{"apiVersion":"v1","kind":"x","metadata":{}}"#;
        assert_eq!(
            metadata_spans(bare),
            Some(MetadataSpans {
                body: 42..42,
                managed_fields: None
            })
        );
        assert_eq!(
            metadata_spans(br#"{"apiVersion":"v1","kind":"x","metadata":{"a":1,"b":"#),
            None
        );
        assert_eq!(
            metadata_spans(br#"{"apiVersion":"v1","kind":"x","metadata":{"a" 1}}"#),
            None
        );
    }
}
