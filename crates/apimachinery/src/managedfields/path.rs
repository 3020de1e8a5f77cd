//! Path elements of server-side apply field sets (`f:`, `k:`, `v:`, `i:`),
//! their total order, their FieldsV1 key form and their human form
//! (`.spec.containers[name="web"].image`), all as upstream's
//! structured-merge-diff defines them.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

/// One step into a value: a field of a map, the element of an associative
/// list with the given key fields, the element of a set with the given
/// value, or the element at an index of an atomic list.
#[derive(Clone, Debug)]
pub enum PathElement {
    Field(String),
    /// Key fields sorted by name.
    Key(Vec<(String, Value)>),
    Value(Value),
    Index(usize),
}

/// A path from the root of an object.
pub type Path = Vec<PathElement>;

impl PathElement {
    pub fn field(name: &str) -> Self {
        PathElement::Field(name.to_string())
    }

    /// A key element; sorts the fields by name.
    pub fn key(mut fields: Vec<(String, Value)>) -> Self {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The FieldsV1 key of this element (`f:name`, `k:{"name":"a"}`, …).
    pub fn to_key(&self) -> String {
        let mut out = String::new();
        match self {
            PathElement::Field(name) => {
                out.push_str("f:");
                out.push_str(name);
            }
            PathElement::Key(fields) => {
                out.push_str("k:{");
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go_json_string(&mut out, name);
                    out.push(':');
                    go_json(&mut out, v);
                }
                out.push('}');
            }
            PathElement::Value(v) => {
                out.push_str("v:");
                go_json(&mut out, v);
            }
            PathElement::Index(i) => {
                let _ = write!(out, "i:{i}");
            }
        }
        out
    }

    /// Parses a FieldsV1 key; `Ok(None)` for an element type this version
    /// does not know (upstream skips those).
    pub fn from_key(s: &str) -> Result<Option<PathElement>, String> {
        let b = s.as_bytes();
        if b.len() < 2 {
            return Err("key must be 2 characters long:".into());
        }
        if b[1] != b':' {
            return Err(format!("missing colon: {s}"));
        }
        let rest = &s[2..];
        match b[0] {
            b'f' => Ok(Some(PathElement::Field(rest.to_string()))),
            b'v' => serde_json::from_str(rest)
                .map(|v| Some(PathElement::Value(v)))
                .map_err(|e| e.to_string()),
            b'k' => {
                let m: Map<String, Value> =
                    serde_json::from_str(rest).map_err(|e| e.to_string())?;
                Ok(Some(PathElement::key(m.into_iter().collect())))
            }
            b'i' => rest
                .parse::<usize>()
                .map(|i| Some(PathElement::Index(i)))
                .map_err(|e| format!("strconv.Atoi: parsing {rest:?}: {e}")),
            _ => Ok(None),
        }
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PathElement {
    /// Fields before keys before values before indices; within a kind by
    /// name, key fields, value or number.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => compare_fields(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                f.write_char('[')?;
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{name}={}", value_string(v))?;
                }
                f.write_char(']')
            }
            PathElement::Value(v) => write!(f, "[={}]", value_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path as upstream prints it: `.spec.containers[name="web"].image`.
pub fn path_string(path: &[PathElement]) -> String {
    let mut out = String::new();
    for pe in path {
        let _ = write!(out, "{pe}");
    }
    out
}

fn compare_fields(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for ((an, av), (bn, bv)) in a.iter().zip(b) {
        let c = an.cmp(bn).then_with(|| compare_values(av, bv));
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

fn is_float(v: &Value) -> bool {
    matches!(v, Value::Number(n) if !n.is_i64() && !n.is_u64())
}

fn value_rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) if is_float(v) => 0,
        Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Bool(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
        Value::Null => 6,
    }
}

fn as_f64(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn as_i128(v: &Value) -> i128 {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
        .unwrap_or(0)
}

/// Upstream's total order of values: floats, integers (numbers compare
/// numerically with each other), strings, booleans, lists, maps, null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    let (ra, rb) = (value_rank(a), value_rank(b));
    if ra <= 1 && rb <= 1 && (ra == 0 || rb == 0) {
        return as_f64(a).partial_cmp(&as_f64(b)).unwrap_or(Ordering::Equal);
    }
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => as_i128(a).cmp(&as_i128(b)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let c = compare_values(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let c = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => Ordering::Equal,
    }
}

/// Whether two values are equal as upstream compares them (numbers by
/// value, maps regardless of key order).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Number(_), Value::Number(_)) => compare_values(a, b) == Ordering::Equal,
        _ => a == b,
    }
}

/// A value as upstream prints it in paths: strings quoted as Go's `%q`.
fn value_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if is_float(v) => go_float(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(value_string).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            keys.iter()
                .map(|k| format!("{k}={}", value_string(&m[k.as_str()])))
                .collect()
        }
    }
}

pub use crate::field::go_quote;

/// Go's `%v` of a float64 (shortest `%g`).
fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let e = format!("{f:e}");
    let exp: i32 = e
        .split_once('e')
        .and_then(|(_, x)| x.parse().ok())
        .unwrap_or(0);
    if !(-4..6).contains(&exp) {
        crate::field::go_exponent(f)
    } else {
        format!("{f}")
    }
}

/// Writes `v` as Go's `encoding/json` does: map keys sorted, `<`, `>` and
/// `&` escaped, floats in Go's form.
pub fn go_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if is_float(v) => {
            let f = n.as_f64().unwrap_or(0.0);
            let abs = f.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                // Go writes e-07 as e-7.
                let s = crate::field::go_exponent(f);
                out.push_str(&s.replace("e-0", "e-"));
            } else {
                let _ = write!(out, "{f}");
            }
        }
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => go_json_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(out, k);
                out.push(':');
                go_json(out, &m[k.as_str()]);
            }
            out.push('}');
        }
    }
}

/// A JSON string as Go's `encoding/json` writes it.
pub fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_round_trip_in_upstreams_form() {
        for key in [
            "f:metadata",
            r#"k:{"containerPort":80,"protocol":"TCP"}"#,
            r#"k:{"name":"web"}"#,
            r#"v:"example.com/finalizer""#,
            "v:3",
            "i:0",
        ] {
            let pe = PathElement::from_key(key).expect("parses").expect("known");
            assert_eq!(pe.to_key(), key);
        }
        // Keys are sorted by name whatever order they come in.
        let pe = PathElement::from_key(r#"k:{"protocol":"TCP","containerPort":80}"#)
            .expect("parses")
            .expect("known");
        assert_eq!(pe.to_key(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert_eq!(PathElement::from_key("x:abc"), Ok(None));
        assert!(PathElement::from_key("f").is_err());
        assert!(PathElement::from_key("fx").is_err());
        assert!(PathElement::from_key("i:-1").is_err());
        assert_eq!(PathElement::Value(json!("a<b")).to_key(), r#"v:"a\u003cb""#);
    }

    #[test]
    fn paths_print_as_upstream() {
        let p = vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            PathElement::key(vec![("name".into(), json!("web"))]),
            PathElement::field("ports"),
            PathElement::key(vec![
                ("protocol".into(), json!("TCP")),
                ("containerPort".into(), json!(80)),
            ]),
        ];
        assert_eq!(
            path_string(&p),
            r#".spec.containers[name="web"].ports[containerPort=80,protocol="TCP"]"#
        );
        assert_eq!(
            path_string(&[PathElement::field("f"), PathElement::Value(json!("x"))]),
            r#".f[="x"]"#
        );
        assert_eq!(
            path_string(&[PathElement::field("a"), PathElement::Index(2)]),
            ".a[2]"
        );
    }

    #[test]
    fn elements_and_values_are_totally_ordered() {
        let f = PathElement::field("z");
        let k = PathElement::key(vec![("a".into(), json!(1))]);
        let v = PathElement::Value(json!("a"));
        let i = PathElement::Index(0);
        assert!(f < k && k < v && v < i);
        assert!(PathElement::field("a") < PathElement::field("b"));
        // float < int < string < bool < list < map < null, numbers by value.
        let ordered = [
            json!(1.5),
            json!(2),
            json!("a"),
            json!(false),
            json!([1]),
            json!({"a": 1}),
            json!(null),
        ];
        for w in ordered.windows(2) {
            assert_eq!(compare_values(&w[0], &w[1]), Ordering::Less, "{w:?}");
        }
        assert_eq!(compare_values(&json!(2.0), &json!(2)), Ordering::Equal);
        assert_eq!(compare_values(&json!(0.5), &json!(1)), Ordering::Less);
        assert_eq!(compare_values(&json!([1]), &json!([1, 2])), Ordering::Less);
        // Shorter key lists first.
        let k1 = PathElement::key(vec![("a".into(), json!(1))]);
        let k2 = PathElement::key(vec![("a".into(), json!(1)), ("b".into(), json!(1))]);
        assert!(k1 < k2);
    }

    #[test]
    fn go_forms_of_strings_and_numbers() {
        assert_eq!(go_quote("a\"b\n\u{1}"), r#""a\"b\n\x01""#);
        let mut s = String::new();
        go_json(&mut s, &json!({"b": 1, "a": [1.5, "x&y"]}));
        assert_eq!(s, r#"{"a":[1.5,"x\u0026y"],"b":1}"#);
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.5), "123456.5");
        assert_eq!(go_float(0.5), "0.5");
    }
}
