//! Decoding one message of the table into the JSON kube-apiserver would show
//! for it: Go's `encoding/json` view of the Go struct the bytes fill.
//!
//! Zero values follow the Go field: a field with `omitempty` that is neither
//! a pointer nor a struct is dropped when zero; pointers and fields without
//! `omitempty` keep their zero. Struct-valued fields that are present are
//! always shown (Go never omits a struct), except the few whose JSON is a
//! scalar (times, quantities, int-or-strings), which follow the scalar rule.

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::Reader;
use super::table::{Card, Field, Form, Kind, Message, Table};
use crate::time::format_rfc3339;

/// Deeper nesting than any real object (CRD schemas included) is refused,
/// so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 100;

/// Earliest and latest instants Go's `time.Time` JSON form accepts
/// (years 0 through 9999).
const MIN_SECONDS: i64 = -62_167_219_200;
const MAX_SECONDS: i64 = 253_402_300_799;

pub(crate) fn message(t: &Table, idx: usize, bytes: &[u8], depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("the object nests too deeply".into());
    }
    let msg = t
        .messages
        .get(idx)
        .ok_or("the message table is inconsistent")?;
    let mut slots: Vec<Option<Value>> = vec![None; msg.fields.len()];
    let mut r = Reader::new(bytes);
    while let Some((num, wire)) = r.key()? {
        let Some(fi) = msg.field(num) else {
            r.skip(wire)?;
            continue;
        };
        let f = &msg.fields[fi];
        match f.card {
            Card::Single => slots[fi] = Some(value(t, f, wire, &mut r, depth)?),
            Card::Repeated => {
                let mut items = match slots[fi].take() {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                if wire == 2 && packable(f.kind) {
                    // proto2 scalars may also arrive packed in one field
                    let mut inner = Reader::new(r.bytes()?);
                    while !inner.done() {
                        let w = if f.kind == Kind::Double { 1 } else { 0 };
                        items.push(scalar(f, w, &mut inner)?);
                    }
                } else {
                    items.push(value(t, f, wire, &mut r, depth)?);
                }
                slots[fi] = Some(Value::Array(items));
            }
            Card::Map => {
                expect_wire(f, wire, 2)?;
                let (k, v) = map_entry(t, f, r.bytes()?, depth)?;
                let mut entries = match slots[fi].take() {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                entries.insert(k, v);
                slots[fi] = Some(Value::Object(entries));
            }
        }
    }
    Ok(render(t, msg, slots))
}

fn packable(kind: Kind) -> bool {
    matches!(kind, Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Double)
}

fn expect_wire(f: &Field, got: u8, want: u8) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("field {} has the wrong wire type", f.name))
    }
}

/// One value of a field's kind at the reader.
fn value(
    t: &Table,
    f: &Field,
    wire: u8,
    r: &mut Reader<'_>,
    depth: usize,
) -> Result<Value, String> {
    match f.kind {
        Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Double => scalar(f, wire, r),
        _ => {
            expect_wire(f, wire, 2)?;
            bytes_value(t, f, r.bytes()?, depth)
        }
    }
}

/// A length-delimited value (string, bytes, JSON or message).
fn bytes_value(t: &Table, f: &Field, b: &[u8], depth: usize) -> Result<Value, String> {
    Ok(match f.kind {
        // Go's encoder replaces invalid UTF-8 the same way
        Kind::String => Value::from(String::from_utf8_lossy(b).into_owned()),
        Kind::Bytes => Value::from(base64::engine::general_purpose::STANDARD.encode(b)),
        Kind::Json if b.is_empty() => Value::Null,
        Kind::Json => serde_json::from_slice(b)
            .map_err(|e| format!("field {} does not hold JSON: {e}", f.name))?,
        Kind::Message(idx) => message(t, idx, b, depth + 1)?,
        Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Double => {
            return Err(format!("field {} has the wrong wire type", f.name));
        }
    })
}

fn scalar(f: &Field, wire: u8, r: &mut Reader<'_>) -> Result<Value, String> {
    if f.kind == Kind::Double {
        expect_wire(f, wire, 1)?;
        let v = f64::from_le_bytes(r.fixed64()?);
        return Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| format!("field {} is not a finite number", f.name));
    }
    expect_wire(f, wire, 0)?;
    let raw = r.varint()?;
    Ok(match f.kind {
        Kind::Bool => Value::from(raw != 0),
        // int32 arrives sign-extended to 64 bits; keep the low half
        Kind::Int32 => Value::from(i64::from(raw as i32)),
        _ => Value::from(raw as i64),
    })
}

/// One `map<string, V>` entry: key in field 1, value in field 2.
fn map_entry(t: &Table, f: &Field, b: &[u8], depth: usize) -> Result<(String, Value), String> {
    let mut r = Reader::new(b);
    let (mut key, mut val) = (String::new(), None);
    while let Some((num, wire)) = r.key()? {
        match num {
            1 => {
                if wire != 2 {
                    return Err(format!("a key of {} has the wrong wire type", f.name));
                }
                key = String::from_utf8_lossy(r.bytes()?).into_owned();
            }
            2 => val = Some(value(t, f, wire, &mut r, depth)?),
            _ => r.skip(wire)?,
        }
    }
    let val = match val {
        Some(v) => v,
        // an absent value is the zero of its kind
        None => match f.kind {
            Kind::Message(idx) => message(t, idx, &[], depth + 1)?,
            Kind::String | Kind::Bytes => Value::from(""),
            Kind::Bool => Value::from(false),
            Kind::Json => Value::Null,
            Kind::Int32 | Kind::Int64 | Kind::Double => Value::from(0),
        },
    };
    Ok((key, val))
}

fn render(t: &Table, msg: &Message, mut slots: Vec<Option<Value>>) -> Value {
    let mut take = |number: u32| msg.field(number).and_then(|i| slots[i].take());
    match msg.form {
        Form::Object => {}
        Form::Time | Form::MicroTime => {
            let (secs, nanos) = (take(1), take(2));
            if secs.is_none() && nanos.is_none() {
                // Go reads an empty message as the zero time, shown as null
                return Value::Null;
            }
            let secs = secs.and_then(|v| v.as_i64()).unwrap_or(0);
            let nanos = nanos.and_then(|v| v.as_i64()).unwrap_or(0);
            return time(secs, nanos, msg.form == Form::MicroTime);
        }
        Form::Duration => {
            let nanos = take(1).and_then(|v| v.as_i64()).unwrap_or(0);
            return Value::from(go_duration(nanos));
        }
        Form::Raw => return take(1).unwrap_or(Value::Null),
        // an absent string is the zero quantity
        Form::Quantity => return take(1).unwrap_or_else(|| Value::from("0")),
        Form::IntOrString => {
            let kind = take(1).and_then(|v| v.as_i64()).unwrap_or(0);
            let int_val = take(2).unwrap_or_else(|| Value::from(0));
            let str_val = take(3).unwrap_or_else(|| Value::from(""));
            return if kind == 1 { str_val } else { int_val };
        }
        Form::Items => return take(1).unwrap_or_else(|| Value::Array(Vec::new())),
        Form::OrArray => {
            let (schema, many) = (take(1), take(2));
            return match many {
                Some(Value::Array(a)) if !a.is_empty() => Value::Array(a),
                _ => schema.unwrap_or(Value::Null),
            };
        }
        Form::OrBool => {
            let (allows, schema) = (take(1), take(2));
            return schema.unwrap_or_else(|| allows.unwrap_or(Value::Bool(false)));
        }
        Form::OrStrings => {
            let (schema, strings) = (take(1), take(2));
            return match strings {
                Some(Value::Array(a)) if !a.is_empty() => Value::Array(a),
                _ => schema.unwrap_or(Value::Null),
            };
        }
    }
    let mut out = Map::new();
    for (f, slot) in msg.fields.iter().zip(slots) {
        let Some(v) = slot else { continue };
        if v.is_null() {
            continue;
        }
        if f.inline {
            if let Value::Object(m) = v {
                out.extend(m);
            }
            continue;
        }
        if f.card == Card::Single && !f.keep && is_zero(t, f.kind, &v) {
            continue;
        }
        out.insert(f.name.clone(), v);
    }
    Value::Object(out)
}

/// Whether a single value is the Go zero value that `omitempty` drops.
fn is_zero(t: &Table, kind: Kind, v: &Value) -> bool {
    let form = match kind {
        Kind::Message(idx) => t.messages.get(idx).map(|m| m.form),
        _ => None,
    };
    match (form, v) {
        // Go never omits a struct
        (Some(Form::Object), _) => false,
        (Some(Form::Quantity), Value::String(s)) => s.is_empty() || s == "0",
        (Some(Form::Duration), Value::String(s)) => s == "0s",
        (_, Value::String(s)) => s.is_empty(),
        (_, Value::Bool(b)) => !b,
        (_, Value::Number(n)) => n.as_f64() == Some(0.0),
        (_, Value::Array(a)) => a.is_empty(),
        (_, Value::Null) => true,
        _ => false,
    }
}

fn time(secs: i64, nanos: i64, micro: bool) -> Value {
    let (secs, nanos) = if micro {
        // Go normalizes nanos outside [0, 1e9) into the seconds
        (
            secs.saturating_add(nanos.div_euclid(1_000_000_000)),
            nanos.rem_euclid(1_000_000_000),
        )
    } else {
        // metav1.Time keeps whole seconds only
        (secs, 0)
    };
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&secs) {
        // outside what RFC 3339 years can show; Go fails to encode it
        return Value::Null;
    }
    let s = format_rfc3339(secs);
    if micro {
        Value::from(format!("{}.{:06}Z", s.trim_end_matches('Z'), nanos / 1000))
    } else {
        Value::from(s)
    }
}

/// Go's `time.Duration.String()`: "1h2m3.5s", "1.5ms", "0s".
pub(crate) fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // below a second: the largest fitting unit, with a fraction
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&fraction(u, div));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let (h, m) = (secs / 3600, secs / 60 % 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&fraction(u % 60_000_000_000, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `v / div` with the remainder as trailing-zero-free decimals.
fn fraction(v: u64, div: u64) -> String {
    let (whole, rem) = (v / div, v % div);
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}
