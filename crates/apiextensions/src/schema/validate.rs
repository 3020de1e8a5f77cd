//! Validation of a custom resource against its structural schema, as the
//! custom-resource strategy does it upstream:
//!
//! 1. kube-openapi's schema validator (`validate/*.go`) with its messages,
//!    converted to field errors as apiextensions' `validation.go` does
//!    (`spec.replicas: Invalid value: "string": spec.replicas in body must be
//!    of type integer: "string"`); paths are kube-openapi's (`spec.map.key`,
//!    `spec.list[2].name`), and `anyOf`/`oneOf`/`allOf`/`not` failures carry
//!    the `<nil>` field upstream gives them;
//! 2. `x-kubernetes-list-type` set/map uniqueness (`schema/listtype`);
//! 3. embedded resources' `apiVersion`, `kind` and `metadata`
//!    (`schema/objectmeta/validation.go`), below the root.
//!
//! The root's own ObjectMeta is left to the caller (it is validated as for
//! every resource).

use std::cell::RefCell;
use std::collections::HashMap;

use kaiser_apimachinery::field::{ErrorKind, ErrorList, FieldError, child, key};
use kaiser_apimachinery::validation::{name_is_path_segment, validate_object_meta};
use regex::Regex;
use serde_json::{Map, Number, Value};

use super::{
    Additional, EMBEDDED, INT_OR_STRING, MAX_DEPTH, additional, flag, formats, go_float, items,
    obj, properties, property, str_of,
};

/// Validates `obj` (a whole custom resource) against `schema`, collecting
/// every error.
pub fn validate(obj: &Value, schema: &Value) -> ErrorList {
    let mut errs = node("", obj, schema, 0, None).errs;
    errs.extend(list_errors(obj, schema));
    embedded("", obj, schema, &mut errs, 0);
    ErrorList(errs)
}

/// Validates an update with upstream's ratcheting (`CRDValidationRatcheting`,
/// on by default): schema errors inside a part of the object that equals its
/// old value (matched by field name, map-list key, or index for plain lists)
/// are dropped, and list-type errors count only when the old object had
/// none. Embedded resources' metadata is checked as on create.
pub fn validate_update(obj: &Value, old: &Value, schema: &Value) -> ErrorList {
    let mut errs = node("", obj, schema, 0, Some(old)).errs;
    if list_errors(old, schema).is_empty() {
        errs.extend(list_errors(obj, schema));
    }
    embedded("", obj, schema, &mut errs, 0);
    ErrorList(errs)
}

/// kube-openapi's validation alone of any value of `schema` (a `default`).
pub(crate) fn validate_value(v: &Value, schema: &Value) -> Vec<FieldError> {
    node("", v, schema, 0, None).errs
}

fn list_errors(obj: &Value, schema: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Value::Object(m) = obj {
        list_sets_and_maps_object("", m, schema, &mut errs, 0);
    }
    errs
}

/// The old item a new list item is compared with: by key in a map list,
/// none in sets and atomic lists, by index otherwise.
pub(crate) fn correlated_item<'o>(
    new: &[Value],
    old: &'o [Value],
    i: usize,
    s: &Value,
) -> Option<&'o Value> {
    match str_of(s, "x-kubernetes-list-type") {
        Some("map") => {
            let keys: Vec<&str> = obj(s)
                .and_then(|m| m.get("x-kubernetes-list-map-keys"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let item = new.get(i)?;
            old.iter()
                .find(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
        }
        Some("set" | "atomic") => None,
        _ => old.get(i),
    }
}

/// Whether `new` equals `old` as upstream's `CorrelatedObject` compares
/// them: through the schema, with map lists matched by key.
pub(crate) fn correlated_equal(new: &Value, old: &Value, s: &Value) -> bool {
    match (new, old) {
        (Value::Array(n), Value::Array(o)) => {
            if n.len() != o.len() {
                return false;
            }
            let map_list = str_of(s, "x-kubernetes-list-type") == Some("map");
            for (i, v) in n.iter().enumerate() {
                match (items(s), correlated_item(n, o, i, s)) {
                    (Some(is), Some(ov)) => {
                        if !correlated_equal(v, ov, is) {
                            return false;
                        }
                    }
                    _ => return !map_list && n == o,
                }
            }
            true
        }
        (Value::Object(n), Value::Object(o)) => {
            if n.len() != o.len() {
                return false;
            }
            n.iter().all(|(k, v)| {
                let sub = property(s, k).or(match additional(s) {
                    Additional::Schema(a) => Some(a),
                    _ => None,
                });
                match (o.get(k), sub) {
                    (Some(ov), Some(sub)) => correlated_equal(v, ov, sub),
                    _ => false,
                }
            })
        }
        _ => new == old,
    }
}

// ---------------------------------------------------------------------------
// kube-openapi validation

/// The result of one schema node: its errors, and how many checks ran (used
/// like kube-openapi's `MatchCount` to pick the best-matching `anyOf`/`oneOf`
/// branch for the error report).
#[derive(Default)]
struct Res {
    errs: Vec<FieldError>,
    count: usize,
}

impl Res {
    fn merge(&mut self, o: Res) {
        self.errs.extend(o.errs);
        self.count += o.count;
    }
    fn valid(&self) -> bool {
        self.errs.is_empty()
    }
}

/// The field path of a kube-openapi error name (`.spec` → `spec`; an empty
/// name means the nil path, which prints as `<nil>` upstream).
fn field_of(name: &str) -> String {
    if name.is_empty() || name == "." {
        return "<nil>".into();
    }
    name.strip_prefix('.').unwrap_or(name).to_string()
}

fn err(kind: ErrorKind, name: &str, value: Option<Value>, detail: String) -> FieldError {
    FieldError {
        kind,
        field: field_of(name),
        value,
        detail,
    }
}

fn invalid(name: &str, value: Value, detail: String) -> FieldError {
    err(ErrorKind::Invalid, name, Some(value), detail)
}

/// `InvalidType` with a string value: `x in body must be of type t: "v"`.
fn type_err(name: &str, want: &str, got: &str) -> FieldError {
    err(
        ErrorKind::TypeInvalid,
        name,
        Some(Value::String(got.into())),
        format!("{name} in body must be of type {want}: {got:?}"),
    )
}

/// Errors of the composition keywords have no field path upstream.
fn composite(detail: String) -> FieldError {
    FieldError {
        kind: ErrorKind::Invalid,
        field: "<nil>".into(),
        value: Some(Value::String(String::new())),
        detail,
    }
}

fn too_many(name: &str, actual: usize, max: i64) -> FieldError {
    err(
        ErrorKind::TooMany,
        name,
        Some(Value::from(actual)),
        format!("must have at most {max} items"),
    )
}

fn int_of(s: &Value, k: &str) -> Option<i64> {
    let n = obj(s)?.get(k)?.as_number()?;
    n.as_i64()
        .or_else(|| n.as_u64().map(|_| i64::MAX))
        .or_else(|| n.as_f64().map(|f| f as i64))
}

fn float_of(s: &Value, k: &str) -> Option<f64> {
    obj(s)?.get(k)?.as_f64()
}

/// The JSON type name kube-openapi infers for a decoded value (integers that
/// do not fit int64 decode as float64 upstream).
fn json_type(x: &Value) -> &'static str {
    match x {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The format kube-openapi infers for a non-string value.
fn data_format(x: &Value) -> &'static str {
    match json_type(x) {
        "integer" => "int64",
        "number" => "float64",
        _ => "",
    }
}

/// `swag.IsFloat64AJSONInteger`: integral (within a relative 1e-9) and within
/// ±(2^53-1).
fn is_json_integer(f: f64) -> bool {
    const LIMIT: f64 = 9_007_199_254_740_991.0;
    if !f.is_finite() || !(-LIMIT..=LIMIT).contains(&f) {
        return false;
    }
    let g = f.trunc();
    if f == g {
        return true;
    }
    let diff = (f - g).abs();
    diff / (f.abs() + g.abs()).min(f64::MAX) < 1e-9
}

/// kube-openapi's validation of `x`; `old` is its correlated old value on
/// update (then errors are ratcheted when `x` is unchanged).
fn node(name: &str, x: &Value, s: &Value, depth: usize, old: Option<&Value>) -> Res {
    let mut r = node_checks(name, x, s, depth, old);
    if !r.errs.is_empty() && old.is_some_and(|o| correlated_equal(x, o, s)) {
        r.errs.clear();
    }
    r
}

fn node_checks(name: &str, x: &Value, s: &Value, depth: usize, old: Option<&Value>) -> Res {
    let mut r = Res::default();
    if depth > MAX_DEPTH {
        return r;
    }
    let types: Vec<&str> = if flag(s, INT_OR_STRING) {
        vec!["integer", "string"]
    } else {
        str_of(s, "type")
            .filter(|t| !t.is_empty())
            .into_iter()
            .collect()
    };
    // unsupported formats are stripped upstream before validating
    let format = str_of(s, "format").filter(|f| formats::effective(f).is_some());

    if x.is_null() {
        r.count += 1;
        if !types.is_empty() && !flag(s, "nullable") {
            r.errs.push(type_err(name, &types.join(","), "null"));
        }
        enum_check(name, x, s, &mut r);
        return r;
    }

    if !types.is_empty() || format.is_some() {
        r.count += 1;
        if let Some(e) = type_check(name, x, &types, format) {
            r.errs.push(e);
        }
    }
    r.count += 1;
    combinators(name, x, s, depth, &mut r);
    match x {
        Value::String(v) => {
            r.count += 1;
            string_check(name, v, s, &mut r);
            if let Some(f) = format {
                r.count += 1;
                let ok = formats::effective(f).is_none_or(|n| formats::validates(&n, v));
                if !ok {
                    r.errs.push(err(
                        ErrorKind::TypeInvalid,
                        name,
                        Some(x.clone()),
                        format!("{name} in body must be of type {f}: {v:?}"),
                    ));
                }
            }
        }
        Value::Number(n) => {
            r.count += 1;
            number_check(name, n, s, &mut r);
        }
        Value::Array(a) => {
            r.count += 1;
            slice_check(name, a, s, depth, old, &mut r);
        }
        _ => {}
    }
    r.count += 1;
    enum_check(name, x, s, &mut r);
    if let Value::Object(m) = x {
        r.count += 1;
        object_check(name, m, s, depth, old, &mut r);
    }
    r.count += 1;
    r
}

fn type_check(name: &str, x: &Value, types: &[&str], format: Option<&str>) -> Option<FieldError> {
    let has = |t: &str| types.contains(&t);
    let sch = json_type(x);
    let float_int = sch == "number" && has("integer") && x.as_f64().is_some_and(is_json_integer);
    let int_float = sch == "integer" && has("number");
    let stringish = matches!(x, Value::String(_) | Value::Array(_));
    if let Some(f) = format {
        let df = data_format(x);
        if !(stringish || has(sch) || df == f || float_int || int_float) {
            return Some(type_err(name, f, df));
        }
        if !(has("number") || has("integer")) && stringish {
            return None;
        }
    }
    if has(sch) || float_int || int_float {
        None
    } else {
        Some(type_err(name, &types.join(","), sch))
    }
}

fn sub_schemas<'a>(s: &'a Value, k: &str) -> &'a [Value] {
    obj(s)
        .and_then(|m| m.get(k))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn combinators(name: &str, x: &Value, s: &Value, depth: usize, r: &mut Res) {
    let any = sub_schemas(s, "anyOf");
    if !any.is_empty() {
        let mut best: Option<Res> = None;
        let mut success = None;
        for sub in any {
            let res = node(name, x, sub, depth + 1, None);
            if res.valid() {
                success = Some(res);
                break;
            }
            if best.as_ref().is_none_or(|b| res.count > b.count) {
                best = Some(res);
            }
        }
        match success {
            Some(ok) => r.merge(ok),
            None => {
                r.errs.push(composite(format!(
                    "{name:?} must validate at least one schema (anyOf)"
                )));
                if let Some(b) = best {
                    r.merge(b);
                }
            }
        }
    }

    let one = sub_schemas(s, "oneOf");
    if !one.is_empty() {
        let mut best: Option<Res> = None;
        let mut first_ok = None;
        let mut validated = 0;
        for sub in one {
            let res = node(name, x, sub, depth + 1, None);
            if res.valid() {
                validated += 1;
                best = None;
                if first_ok.is_none() {
                    first_ok = Some(res);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| res.count > b.count) {
                best = Some(res);
            }
        }
        if validated != 1 {
            let more = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            r.errs.push(composite(format!(
                "{name:?} must validate one and only one schema (oneOf). {more}"
            )));
            if let Some(b) = best {
                r.merge(b);
            }
        } else if let Some(ok) = first_ok {
            r.merge(ok);
        }
    }

    let all = sub_schemas(s, "allOf");
    if !all.is_empty() {
        let mut validated = 0;
        for sub in all {
            let res = node(name, x, sub, depth + 1, None);
            if res.valid() {
                validated += 1;
            }
            r.merge(res);
        }
        if validated != all.len() {
            let more = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            r.errs.push(composite(format!(
                "{name:?} must validate all the schemas (allOf){more}"
            )));
        }
    }

    if let Some(not) = obj(s).and_then(|m| m.get("not")).filter(|v| v.is_object())
        && node(name, x, not, depth + 1, None).valid()
    {
        r.errs.push(composite(format!(
            "{name:?} must not validate the schema (not)"
        )));
    }
}

thread_local! {
    static PATTERNS: RefCell<HashMap<String, Result<Regex, String>>> = RefCell::new(HashMap::new());
}

/// Compiles `pattern` once per thread (the cache is bounded).
fn with_pattern<T>(pattern: &str, f: impl FnOnce(&Result<Regex, String>) -> T) -> T {
    PATTERNS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 512 {
            c.clear();
        }
        let re = c
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).map_err(|e| e.to_string()));
        f(re)
    })
}

fn string_check(name: &str, v: &str, s: &Value, r: &mut Res) {
    let len = v.chars().count() as i64;
    if let Some(max) = int_of(s, "maxLength")
        && len > max
    {
        let unit = if max == 1 { "byte" } else { "bytes" };
        r.errs.push(err(
            ErrorKind::TooLong,
            name,
            Some(Value::String(v.into())),
            format!("may not be more than {max} {unit}"),
        ));
        return;
    }
    if let Some(min) = int_of(s, "minLength")
        && len < min
    {
        r.errs.push(invalid(
            name,
            Value::String(v.into()),
            format!("{name} in body should be at least {min} chars long"),
        ));
        return;
    }
    if let Some(p) = str_of(s, "pattern").filter(|p| !p.is_empty()) {
        let detail = with_pattern(p, |re| match re {
            Ok(re) if re.is_match(v) => None,
            Ok(_) => Some(format!("{name} in body should match '{p}'")),
            Err(e) => Some(format!(
                "{name} in body should match '{p}, but pattern is invalid: {e}'"
            )),
        });
        if let Some(d) = detail {
            r.errs.push(invalid(name, Value::String(v.into()), d));
        }
    }
}

fn number_check(name: &str, n: &Number, s: &Value, r: &mut Res) {
    let data = Value::Number(n.clone());
    let f = n.as_f64().unwrap_or(0.0);
    let int = n.as_i64();

    if let Some(factor) = float_of(s, "multipleOf") {
        // Integers are checked natively with the factor truncated to int64, as
        // upstream; a factor that truncates to 0 falls back to the float check.
        let fi = factor as i64;
        match int {
            Some(_) if fi < 0 => r.errs.push(invalid(
                name,
                Value::from(fi),
                format!("factor MultipleOf declared for {name} must be positive: {fi}"),
            )),
            Some(i) if fi != 0 => {
                if i.checked_rem(fi).unwrap_or(0) != 0 {
                    r.errs.push(invalid(
                        name,
                        data.clone(),
                        format!("{name} in body should be a multiple of {fi}"),
                    ));
                }
            }
            _ if factor < 0.0 => r.errs.push(invalid(
                name,
                Value::from(factor),
                format!(
                    "factor MultipleOf declared for {name} must be positive: {}",
                    go_float(factor)
                ),
            )),
            _ => {
                let mult = if factor < 1.0 {
                    1.0 / factor * f
                } else {
                    f / factor
                };
                if !is_json_integer(mult) {
                    r.errs.push(invalid(
                        name,
                        data.clone(),
                        format!(
                            "{name} in body should be a multiple of {}",
                            go_float(factor)
                        ),
                    ));
                }
            }
        }
    }

    if let Some(min) = float_of(s, "minimum") {
        let excl = flag(s, "exclusiveMinimum");
        let (fails, shown) = match int {
            Some(i) => {
                let m = min as i64;
                ((!excl && i < m) || (excl && i <= m), m.to_string())
            }
            None => ((!excl && f < min) || (excl && f <= min), go_float(min)),
        };
        if fails {
            let rel = if excl {
                "greater than"
            } else {
                "greater than or equal to"
            };
            r.errs.push(invalid(
                name,
                data.clone(),
                format!("{name} in body should be {rel} {shown}"),
            ));
        }
    }

    if let Some(max) = float_of(s, "maximum") {
        let excl = flag(s, "exclusiveMaximum");
        let (fails, shown) = match int {
            Some(i) => {
                let m = max as i64;
                ((!excl && i > m) || (excl && i >= m), m.to_string())
            }
            None => ((!excl && f > max) || (excl && f >= max), go_float(max)),
        };
        if fails {
            let rel = if excl {
                "less than"
            } else {
                "less than or equal to"
            };
            r.errs.push(invalid(
                name,
                data,
                format!("{name} in body should be {rel} {shown}"),
            ));
        }
    }
}

fn slice_check(name: &str, a: &[Value], s: &Value, depth: usize, old: Option<&Value>, r: &mut Res) {
    if let Some(item) = items(s) {
        let old = old.and_then(Value::as_array);
        for (i, v) in a.iter().enumerate() {
            let o = old.and_then(|o| correlated_item(a, o, i, s));
            r.merge(node(&format!("{name}[{i}]"), v, item, depth + 1, o));
        }
    }
    let size = a.len();
    if let Some(min) = int_of(s, "minItems")
        && (size as i64) < min
    {
        r.errs.push(invalid(
            name,
            Value::from(size),
            format!("{name} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = int_of(s, "maxItems")
        && (size as i64) > max
    {
        r.errs.push(too_many(name, size, max));
    }
    if flag(s, "uniqueItems") {
        let dup = a.iter().enumerate().any(|(i, v)| a[..i].contains(v));
        if dup {
            r.errs.push(invalid(
                name,
                Value::String(String::new()),
                format!("{name} in body shouldn't contain duplicates"),
            ));
        }
    }
}

/// Whether `data` equals the enum entry `e` as kube-openapi compares them
/// (numbers converted to the entry's Go type first).
fn enum_match(data: &Value, e: &Value) -> bool {
    match (data, e) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Number(d), Value::Number(en)) => match (d.as_i64(), en.as_i64()) {
            (Some(a), Some(b)) => a == b,
            (None, Some(b)) => d.as_f64().is_some_and(|f| f as i64 == b),
            (Some(a), None) => en.as_f64().is_some_and(|f| a as f64 == f),
            (None, None) => d.as_f64() == en.as_f64(),
        },
        _ => data == e,
    }
}

fn enum_check(name: &str, x: &Value, s: &Value, r: &mut Res) {
    let Some(values) = obj(s)
        .and_then(|m| m.get("enum"))
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    if values.iter().any(|e| enum_match(x, e)) {
        return;
    }
    let quoted: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::String(s) => format!("{s:?}"),
            other => format!("{:?}", other.to_string()),
        })
        .collect();
    r.errs.push(err(
        ErrorKind::NotSupported,
        name,
        Some(x.clone()),
        format!("supported values: {}", quoted.join(", ")),
    ));
}

fn object_check(
    name: &str,
    m: &Map<String, Value>,
    s: &Value,
    depth: usize,
    old: Option<&Value>,
    r: &mut Res,
) {
    let old_field = |k: &str| old.and_then(|o| o.get(k));
    let n = m.len();
    if let Some(min) = int_of(s, "minProperties")
        && (n as i64) < min
    {
        r.errs.push(invalid(
            name,
            Value::from(n),
            format!("{name} in body should have at least {min} properties"),
        ));
        return;
    }
    if let Some(max) = int_of(s, "maxProperties")
        && (n as i64) > max
    {
        r.errs.push(too_many(name, n, max));
        return;
    }
    let props = properties(s);
    let declared = |k: &str| props.is_some_and(|p| p.contains_key(k));
    match additional(s) {
        Additional::Bool(false) => {
            for k in m.keys().filter(|k| !declared(k)) {
                r.errs.push(invalid(
                    name,
                    Value::String(k.clone()),
                    format!("{name}.{k} in body is a forbidden property"),
                ));
            }
        }
        Additional::Schema(a) => {
            for (k, v) in m.iter().filter(|(k, _)| !declared(k)) {
                r.merge(node(&format!("{name}.{k}"), v, a, depth + 1, old_field(k)));
            }
        }
        _ => {}
    }
    if let Some(props) = props {
        for (p, ps) in props {
            if let Some(v) = m.get(p) {
                r.merge(node(&child(name, p), v, ps, depth + 1, old_field(p)));
            }
        }
    }
    if let Some(req) = obj(s)
        .and_then(|o| o.get("required"))
        .and_then(Value::as_array)
    {
        for k in req.iter().filter_map(Value::as_str) {
            if !m.contains_key(k) {
                r.errs.push(err(
                    ErrorKind::Required,
                    &format!("{name}.{k}"),
                    None,
                    String::new(),
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// list-type sets and maps

fn list_sets_and_maps_object(
    path: &str,
    m: &Map<String, Value>,
    s: &Value,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Additional::Schema(a) = additional(s) {
        for (k, v) in m {
            list_sets_and_maps(&key(path, k), v, a, errs, depth + 1);
        }
    }
    if properties(s).is_some() {
        for (k, v) in m {
            if let Some(p) = property(s, k) {
                list_sets_and_maps(&child(path, k), v, p, errs, depth + 1);
            }
        }
    }
}

fn list_sets_and_maps(path: &str, x: &Value, s: &Value, errs: &mut Vec<FieldError>, depth: usize) {
    match x {
        Value::Object(m) => list_sets_and_maps_object(path, m, s, errs, depth),
        Value::Array(a) => {
            match str_of(s, "x-kubernetes-list-type") {
                Some("set") => {
                    for i in non_unique(a) {
                        errs.push(FieldError::duplicate(&key(path, i), a[i].clone()));
                    }
                }
                Some("map") => list_map(path, a, s, errs),
                _ => {}
            }
            if let Some(item) = items(s) {
                for (i, v) in a.iter().enumerate() {
                    list_sets_and_maps(&key(path, i), v, item, errs, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// JSON with object keys sorted, so equal compounds compare equal as upstream
/// compares their `json.Marshal` output.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Indices of the second occurrence of each repeated element.
fn non_unique(a: &[Value]) -> Vec<usize> {
    if a.len() <= 1 {
        return Vec::new();
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, x) in a.iter().enumerate() {
        let k = match x {
            Value::Object(_) | Value::Array(_) => format!("c{}", canonical(x)),
            // scalars: the type matters (1 and 1.0 differ, as int64/float64 upstream)
            Value::Number(n) if n.is_i64() => format!("i{n}"),
            Value::Number(n) => format!("f{n}"),
            other => format!("s{other}"),
        };
        let times = seen.entry(k).or_insert(0);
        *times += 1;
        if *times == 2 {
            out.push(i);
        }
    }
    out
}

fn list_map(path: &str, a: &[Value], s: &Value, errs: &mut Vec<FieldError>) {
    for (i, x) in a.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            errs.push(FieldError::invalid(
                &key(path, i),
                x.clone(),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if a.len() <= 1 {
        return;
    }
    let keys: Vec<&str> = obj(s)
        .and_then(|m| m.get("x-kubernetes-list-map-keys"))
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let [single] = keys.as_slice() {
        // a missing key (or a null item) is its own "unspecified" value
        let tagged: Vec<Value> = a
            .iter()
            .map(|x| match x.get(*single) {
                Some(v) => Value::Array(vec![v.clone()]),
                None => Value::String("unspecified".into()),
            })
            .collect();
        for i in non_unique(&tagged) {
            let mut dup = Map::new();
            if let Some(v) = a[i].get(*single) {
                dup.insert((*single).to_string(), v.clone());
            }
            errs.push(FieldError::duplicate(&key(path, i), Value::Object(dup)));
        }
        return;
    }
    let composite_keys: Vec<Value> = a
        .iter()
        .map(|x| {
            let mut k = Map::new();
            for f in &keys {
                if let Some(v) = x.get(*f) {
                    k.insert((*f).to_string(), v.clone());
                }
            }
            Value::Object(k)
        })
        .collect();
    for i in non_unique(&composite_keys) {
        errs.push(FieldError::duplicate(
            &key(path, i),
            composite_keys[i].clone(),
        ));
    }
}

// ---------------------------------------------------------------------------
// embedded resources

fn embedded(path: &str, x: &Value, s: &Value, errs: &mut Vec<FieldError>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match x {
        Value::Object(m) => {
            if flag(s, EMBEDDED) {
                embedded_resource(path, m, errs);
            }
            for (k, v) in m {
                if let Some(p) = property(s, k) {
                    embedded(&child(path, k), v, p, errs, depth + 1);
                } else if let Additional::Schema(a) = additional(s) {
                    embedded(&key(path, k), v, a, errs, depth + 1);
                }
            }
        }
        Value::Array(a) => {
            if let Some(item) = items(s) {
                for (i, v) in a.iter().enumerate() {
                    embedded(&key(path, i), v, item, errs, depth + 1);
                }
            }
        }
        _ => {}
    }
}

const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

/// `IsDNS1035Label` messages (empty when valid).
pub(crate) fn dns1035(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    if !ok {
        out.push(format!(
            "{DNS1035_MSG} (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        ));
    }
    out
}

/// Go's JSON type word for an unmarshal error.
fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Why `metadata` does not decode as ObjectMeta (the JSON decoder's words).
fn object_meta_decode_error(v: &Value) -> Option<String> {
    let m = match v {
        Value::Null => return None,
        Value::Object(m) => m,
        other => {
            return Some(format!(
                "json: cannot unmarshal {} into Go value of type v1.ObjectMeta",
                go_json_kind(other)
            ));
        }
    };
    const STRINGS: [&str; 8] = [
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
    ];
    for (k, v) in m {
        let bad = |ty: &str| {
            Some(format!(
                "json: cannot unmarshal {} into Go struct field ObjectMeta.{k} of type {ty}",
                go_json_kind(v)
            ))
        };
        match k.as_str() {
            f if STRINGS.contains(&f) && !matches!(v, Value::String(_) | Value::Null) => {
                return bad("string");
            }
            "generation" | "deletionGracePeriodSeconds"
                if !matches!(v, Value::Number(_) | Value::Null) =>
            {
                return bad("int64");
            }
            "labels" | "annotations" => match v {
                Value::Object(entries) => {
                    if let Some(e) = entries
                        .values()
                        .find(|e| !matches!(e, Value::String(_) | Value::Null))
                    {
                        return Some(format!(
                            "json: cannot unmarshal {} into Go struct field ObjectMeta.{k} of type string",
                            go_json_kind(e)
                        ));
                    }
                }
                Value::Null => {}
                _ => return bad("map[string]string"),
            },
            "finalizers" if !matches!(v, Value::Array(_) | Value::Null) => {
                return bad("[]string");
            }
            _ => {}
        }
    }
    None
}

fn embedded_resource(path: &str, m: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    let api_version = child(path, "apiVersion");
    let kind = child(path, "kind");
    if !m.contains_key("apiVersion") {
        errs.push(FieldError::required(&api_version, ""));
    }
    if !m.contains_key("kind") {
        errs.push(FieldError::required(&kind, ""));
    }
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" => match v.as_str() {
                None => errs.push(FieldError::invalid(
                    &api_version,
                    v.clone(),
                    "must be a string",
                )),
                Some("") => errs.push(FieldError::required(&api_version, "")),
                Some(av) if av.matches('/').count() > 1 => errs.push(FieldError::invalid(
                    &api_version,
                    av,
                    format!("unexpected GroupVersion string: {av}"),
                )),
                Some(_) => {}
            },
            "kind" => match v.as_str() {
                None => errs.push(FieldError::invalid(&kind, v.clone(), "must be a string")),
                Some("") => errs.push(FieldError::required(&kind, "")),
                Some(kd) => {
                    let msgs = dns1035(&kd.to_lowercase());
                    if !msgs.is_empty() {
                        errs.push(FieldError::invalid(
                            &kind,
                            kd,
                            format!(
                                "may have mixed case, but should otherwise match: {}",
                                msgs.join(",")
                            ),
                        ));
                    }
                }
            },
            "metadata" => {
                let meta_path = child(path, "metadata");
                if let Some(e) = object_meta_decode_error(v) {
                    errs.push(FieldError::invalid(&meta_path, v.clone(), e));
                    continue;
                }
                let mut meta = v.as_object().cloned().unwrap_or_default();
                let unnamed = meta
                    .get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty);
                if unnamed {
                    meta.insert("name".into(), Value::String("fakename".into()));
                }
                let namespaced = meta
                    .get("namespace")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty());
                for mut e in validate_object_meta(&meta, namespaced, name_is_path_segment).0 {
                    if !path.is_empty() {
                        e.field = format!("{path}.{}", e.field);
                    }
                    errs.push(e);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(obj: Value, schema: Value) -> Vec<String> {
        validate(&obj, &schema)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn spec(props: Value) -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props}}})
    }

    #[test]
    fn type_errors() {
        let s = spec(
            json!({"replicas": {"type": "integer"}, "ok": {"type": "boolean"},
                            "n": {"type": "number"}, "o": {"type": "object"}, "l": {"type": "array"}}),
        );
        assert_eq!(
            msgs(json!({"spec": {"replicas": "string"}}), s.clone()),
            vec![
                r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#
            ]
        );
        assert_eq!(
            msgs(
                json!({"spec": {"ok": 1, "n": "x", "o": [], "l": {}}}),
                s.clone()
            ),
            vec![
                r#"spec.ok: Invalid value: "integer": spec.ok in body must be of type boolean: "integer""#,
                r#"spec.n: Invalid value: "string": spec.n in body must be of type number: "string""#,
                r#"spec.o: Invalid value: "array": spec.o in body must be of type object: "array""#,
                r#"spec.l: Invalid value: "object": spec.l in body must be of type array: "object""#,
            ]
        );
        // integral floats are integers; 1.5 is not; integers are numbers
        assert!(msgs(json!({"spec": {"replicas": 3.0, "n": 2}}), s.clone()).is_empty());
        assert_eq!(
            msgs(json!({"spec": {"replicas": 1.5}}), s.clone()),
            vec![
                r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#
            ]
        );
        let e = validate(&json!({"spec": {"replicas": "x"}}), &s);
        assert_eq!(e.0[0].kind, ErrorKind::TypeInvalid);
    }

    #[test]
    fn null_and_nullable() {
        let s = spec(json!({"a": {"type": "string"}, "b": {"type": "string", "nullable": true}}));
        assert_eq!(
            msgs(json!({"spec": {"a": null, "b": null}}), s),
            vec![r#"spec.a: Invalid value: "null": spec.a in body must be of type string: "null""#]
        );
    }

    #[test]
    fn enum_pattern_and_lengths() {
        let s = spec(json!({
            "size": {"type": "string", "enum": ["S", "M"]},
            "num": {"type": "integer", "enum": [1, 2]},
            "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 5}
        }));
        assert_eq!(
            msgs(json!({"spec": {"size": "XL"}}), s.clone()),
            vec![r#"spec.size: Unsupported value: "XL": supported values: "S", "M""#]
        );
        assert_eq!(
            msgs(json!({"spec": {"num": 3}}), s.clone()),
            vec![r#"spec.num: Unsupported value: 3: supported values: "1", "2""#]
        );
        assert!(msgs(json!({"spec": {"num": 2.0}}), s.clone()).is_empty());
        assert_eq!(
            msgs(json!({"spec": {"name": "xY"}}), s.clone()),
            vec![r#"spec.name: Invalid value: "xY": spec.name in body should match '^[a-z]+$'"#]
        );
        assert_eq!(
            msgs(json!({"spec": {"name": "x"}}), s.clone()),
            vec![
                r#"spec.name: Invalid value: "x": spec.name in body should be at least 2 chars long"#
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"name": "abcdef"}}), s.clone()),
            vec!["spec.name: Too long: may not be more than 5 bytes"]
        );
        // lengths count characters, not bytes
        assert!(
            msgs(
                json!({"spec": {"name": "ééééé"}}),
                spec(json!({"name": {"type": "string", "maxLength": 5}}))
            )
            .is_empty()
        );
    }

    #[test]
    fn numeric_bounds() {
        let s = spec(json!({
            "count": {"type": "integer", "minimum": 1, "maximum": 10},
            "ex": {"type": "number", "minimum": 0.5, "exclusiveMinimum": true, "maximum": 2.5, "exclusiveMaximum": true},
            "m": {"type": "integer", "multipleOf": 3},
            "f": {"type": "number", "multipleOf": 0.5}
        }));
        assert_eq!(
            msgs(json!({"spec": {"count": 11}}), s.clone()),
            vec![
                "spec.count: Invalid value: 11: spec.count in body should be less than or equal to 10"
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"count": 0}}), s.clone()),
            vec![
                "spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1"
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"ex": 0.5}}), s.clone()),
            vec!["spec.ex: Invalid value: 0.5: spec.ex in body should be greater than 0.5"]
        );
        assert_eq!(
            msgs(json!({"spec": {"ex": 2.5}}), s.clone()),
            vec!["spec.ex: Invalid value: 2.5: spec.ex in body should be less than 2.5"]
        );
        assert_eq!(
            msgs(json!({"spec": {"m": 4}}), s.clone()),
            vec!["spec.m: Invalid value: 4: spec.m in body should be a multiple of 3"]
        );
        assert!(msgs(json!({"spec": {"m": 9, "f": 1.5}}), s.clone()).is_empty());
        assert_eq!(
            msgs(json!({"spec": {"f": 1.25}}), s.clone()),
            vec!["spec.f: Invalid value: 1.25: spec.f in body should be a multiple of 0.5"]
        );
        // huge numbers do not panic
        assert_eq!(msgs(json!({"spec": {"count": 1e300}}), s.clone()).len(), 2);
        assert!(!msgs(json!({"spec": {"count": u64::MAX, "m": i64::MIN}}), s).is_empty());
    }

    #[test]
    fn arrays_and_objects() {
        let s = spec(json!({
            "items": {"type": "array", "minItems": 1, "maxItems": 3,
                      "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
            "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
            "few": {"type": "object", "minProperties": 2},
            "u": {"type": "array", "uniqueItems": true}
        }));
        assert_eq!(
            msgs(
                json!({"spec": {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}, {"name": "e"}]}}),
                s.clone()
            ),
            vec!["spec.items: Too many: 5: must have at most 3 items"]
        );
        assert_eq!(
            msgs(json!({"spec": {"items": []}}), s.clone()),
            vec!["spec.items: Invalid value: 0: spec.items in body should have at least 1 items"]
        );
        assert_eq!(
            msgs(
                json!({"spec": {"items": [{"name": "a"}, {}, {"name": 3}]}}),
                s.clone()
            ),
            vec![
                "spec.items[1].name: Required value",
                r#"spec.items[2].name: Invalid value: "integer": spec.items[2].name in body must be of type string: "integer""#,
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"labels": {"a": 1}}}), s.clone()),
            vec![
                r#"spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer""#
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"labels": {"a": "1", "b": "2"}}}), s.clone()),
            vec!["spec.labels: Too many: 2: must have at most 1 items"]
        );
        assert_eq!(
            msgs(json!({"spec": {"few": {"a": 1}}}), s.clone()),
            vec!["spec.few: Invalid value: 1: spec.few in body should have at least 2 properties"]
        );
        assert_eq!(
            msgs(json!({"spec": {"u": [1, 2, 1]}}), s.clone()),
            vec![r#"spec.u: Invalid value: "": spec.u in body shouldn't contain duplicates"#]
        );
        let req = json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object", "required": ["name"]}}});
        assert_eq!(
            msgs(json!({"spec": {}}), req.clone()),
            vec!["spec.name: Required value"]
        );
        assert_eq!(msgs(json!({}), req), vec!["spec: Required value"]);
        let closed = spec(
            json!({"c": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}}),
        );
        assert_eq!(
            msgs(json!({"spec": {"c": {"b": 1}}}), closed),
            vec![r#"spec.c: Invalid value: "b": spec.c.b in body is a forbidden property"#]
        );
    }

    #[test]
    fn formats() {
        let s = spec(json!({"d": {"type": "string", "format": "date"},
                            "t": {"type": "string", "format": "date-time"},
                            "i": {"type": "integer", "format": "int32"},
                            "x": {"type": "string", "format": "no-such-format"}}));
        assert_eq!(
            msgs(json!({"spec": {"d": "2024-13-01"}}), s.clone()),
            vec![
                r#"spec.d: Invalid value: "2024-13-01": spec.d in body must be of type date: "2024-13-01""#
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"t": "yesterday"}}), s.clone()),
            vec![
                r#"spec.t: Invalid value: "yesterday": spec.t in body must be of type date-time: "yesterday""#
            ]
        );
        assert!(msgs(json!({"spec": {"d": "2024-01-31", "t": "2024-01-31T10:00:00Z", "i": 5_000_000_000i64, "x": "?"}}), s.clone()).is_empty());
        // a non-string value for a string format reports the format
        assert_eq!(
            msgs(json!({"spec": {"d": 5}}), s),
            vec![r#"spec.d: Invalid value: "int64": spec.d in body must be of type date: "int64""#]
        );
    }

    #[test]
    fn int_or_string() {
        let s = spec(json!({"port": {"x-kubernetes-int-or-string": true}}));
        assert!(msgs(json!({"spec": {"port": 80}}), s.clone()).is_empty());
        assert!(msgs(json!({"spec": {"port": "http"}}), s.clone()).is_empty());
        assert_eq!(
            msgs(json!({"spec": {"port": true}}), s.clone()),
            vec![
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"port": null}}), s),
            vec![
                r#"spec.port: Invalid value: "null": spec.port in body must be of type integer,string: "null""#
            ]
        );
    }

    #[test]
    fn combinators() {
        let s = spec(json!({
            "a": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]},
            "o": {"type": "integer", "oneOf": [{"minimum": 0}, {"minimum": 5}]},
            "l": {"type": "string", "allOf": [{"minLength": 2}, {"maxLength": 3}]},
            "n": {"type": "string", "not": {"enum": ["bad"]}}
        }));
        assert!(
            msgs(
                json!({"spec": {"a": 11, "l": "ab", "n": "good"}}),
                s.clone()
            )
            .is_empty()
        );
        assert_eq!(
            msgs(json!({"spec": {"a": 5}}), s.clone()),
            vec![
                r#"<nil>: Invalid value: "": "spec.a" must validate at least one schema (anyOf)"#,
                "spec.a: Invalid value: 5: spec.a in body should be greater than or equal to 10",
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"o": 7}}), s.clone()),
            vec![
                r#"<nil>: Invalid value: "": "spec.o" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"l": "a"}}), s.clone()),
            vec![
                r#"spec.l: Invalid value: "a": spec.l in body should be at least 2 chars long"#,
                r#"<nil>: Invalid value: "": "spec.l" must validate all the schemas (allOf)"#,
            ]
        );
        assert_eq!(
            msgs(json!({"spec": {"n": "bad"}}), s),
            vec![r#"<nil>: Invalid value: "": "spec.n" must not validate the schema (not)"#]
        );
    }

    fn update_msgs(new: Value, old: Value, schema: &Value) -> Vec<String> {
        validate_update(&new, &old, schema)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn updates_ratchet_what_did_not_change() {
        let s = spec(json!({
            "a": {"type": "string", "maxLength": 3},
            "b": {"type": "integer"},
            "l": {"type": "array", "items": {"type": "string", "maxLength": 2}},
            "m": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                  "items": {"type": "object", "properties": {"k": {"type": "string"},
                            "v": {"type": "integer", "maximum": 5}}}},
            "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
        }));
        let old = json!({"spec": {"a": "toolong", "b": 1, "l": ["xyz", "ok"],
            "m": [{"k": "x", "v": 9}, {"k": "y", "v": 1}], "set": ["d", "d"]}});
        // Touching another field: the stored invalid values stand.
        let mut new = old.clone();
        new["spec"]["b"] = json!(2);
        assert_eq!(
            update_msgs(new.clone(), old.clone(), &s),
            Vec::<String>::new()
        );
        // Changing an invalid value: it is checked again.
        new["spec"]["a"] = json!("longer");
        assert_eq!(
            update_msgs(new.clone(), old.clone(), &s),
            ["spec.a: Too long: may not be more than 3 bytes"]
        );
        // Plain lists match old items by index, map lists by key.
        let mut new = old.clone();
        new["spec"]["l"] = json!(["xyz", "ok", "abc"]);
        new["spec"]["m"] = json!([{"k": "y", "v": 1}, {"k": "x", "v": 9}, {"k": "z", "v": 7}]);
        assert_eq!(
            update_msgs(new, old.clone(), &s),
            [
                "spec.l[2]: Too long: may not be more than 2 bytes",
                "spec.m[2].v: Invalid value: 7: spec.m[2].v in body should be less than or equal to 5",
            ]
        );
        // List-type errors count only when the old object had none.
        let clean = json!({"spec": {"set": ["d"]}});
        assert_eq!(
            update_msgs(json!({"spec": {"set": ["d", "d"]}}), clean, &s),
            ["spec.set[1]: Duplicate value: \"d\""]
        );
        assert!(update_msgs(json!({"spec": {"set": ["d", "d", "e"]}}), old, &s).is_empty());
    }

    #[test]
    fn list_type_set_and_map() {
        let s = spec(json!({
            "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "map": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "map2": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["a", "b"],
                    "items": {"type": "object"}},
            "bad": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"x-kubernetes-preserve-unknown-fields": true}}
        }));
        assert_eq!(
            msgs(json!({"spec": {"set": ["a", "a", "b", "a"]}}), s.clone()),
            vec![r#"spec.set[1]: Duplicate value: "a""#]
        );
        assert_eq!(
            msgs(
                json!({"spec": {"map": [{"name": "x"}, {"name": "y"}, {"name": "x"}]}}),
                s.clone()
            ),
            vec![r#"spec.map[2]: Duplicate value: {"name":"x"}"#]
        );
        assert_eq!(
            msgs(json!({"spec": {"map": [{}, {}]}}), s.clone()),
            vec!["spec.map[1]: Duplicate value: {}"]
        );
        assert_eq!(
            msgs(
                json!({"spec": {"map2": [{"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1}]}}),
                s.clone()
            ),
            vec![r#"spec.map2[1]: Duplicate value: {"a":1,"b":2}"#]
        );
        assert_eq!(
            msgs(json!({"spec": {"bad": ["x"]}}), s),
            vec![
                r#"spec.bad[0]: Invalid value: "x": must be an object for an array of list-type map"#
            ]
        );
    }

    #[test]
    fn embedded_resources() {
        let s = spec(
            json!({"t": {"type": "object", "x-kubernetes-embedded-resource": true,
                                  "x-kubernetes-preserve-unknown-fields": true}}),
        );
        assert_eq!(
            msgs(json!({"spec": {"t": {}}}), s.clone()),
            vec![
                "spec.t.apiVersion: Required value",
                "spec.t.kind: Required value"
            ]
        );
        assert!(msgs(json!({"spec": {"t": {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "p-"}}}}), s.clone()).is_empty());
        assert_eq!(
            msgs(
                json!({"spec": {"t": {"apiVersion": "a/b/c", "kind": "Pod"}}}),
                s.clone()
            ),
            vec![
                r#"spec.t.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#
            ]
        );
        assert_eq!(
            msgs(
                json!({"spec": {"t": {"apiVersion": 1, "kind": "Pod"}}}),
                s.clone()
            ),
            vec!["spec.t.apiVersion: Invalid value: 1: must be a string"]
        );
        let e = msgs(
            json!({"spec": {"t": {"apiVersion": "v1", "kind": "Pod_x"}}}),
            s.clone(),
        );
        assert!(e[0].starts_with(r#"spec.t.kind: Invalid value: "Pod_x": may have mixed case, but should otherwise match: a DNS-1035 label"#), "{e:?}");
        let e = msgs(
            json!({"spec": {"t": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a/b"}}}}),
            s.clone(),
        );
        assert!(
            e[0].starts_with(r#"spec.t.metadata.name: Invalid value: "a/b""#),
            "{e:?}"
        );
        assert_eq!(
            msgs(
                json!({"spec": {"t": {"apiVersion": "v1", "kind": "Pod", "metadata": "x"}}}),
                s
            ),
            vec![
                r#"spec.t.metadata: Invalid value: "x": json: cannot unmarshal string into Go value of type v1.ObjectMeta"#
            ]
        );
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        for schema in [
            json!(null),
            json!(5),
            json!({"type": 5, "properties": [], "items": "x", "enum": {},
                       "required": "x", "anyOf": {}, "minimum": "a", "pattern": "(", "x-kubernetes-list-type": 1}),
        ] {
            for o in [
                json!(null),
                json!("s"),
                json!([1, [2]]),
                json!({"a": {"b": [null]}}),
            ] {
                let _ = validate(&o, &schema);
            }
        }
        let e = msgs(json!({"s": "x"}), spec(json!({})).clone());
        assert!(e.is_empty());
        let bad_pattern =
            json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "("}}});
        let e = msgs(json!({"s": "x"}), bad_pattern);
        assert!(
            e[0].starts_with(
                "s: Invalid value: \"x\": s in body should match '(, but pattern is invalid"
            ),
            "{e:?}"
        );
        let mut deep = json!(1);
        let mut schema = json!({"type": "integer"});
        for _ in 0..500 {
            deep = json!({"a": deep});
            schema = json!({"type": "object", "properties": {"a": schema}});
        }
        let _ = validate(&deep, &schema);
        // the root type error has upstream's nil path
        assert_eq!(
            msgs(json!([]), json!({"type": "object"})),
            vec![r#"<nil>: Invalid value: "array":  in body must be of type object: "array""#]
        );
    }
}
