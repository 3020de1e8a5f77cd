//! The custom-resource schema engine: what apiextensions-apiserver does with a
//! CRD's `openAPIV3Schema` (a structural schema) to the objects it serves.
//!
//! Everything works on `serde_json::Value` for both the object and the schema
//! (the schema exactly as stored in `spec.versions[i].schema.openAPIV3Schema`).
//!
//! - [`prune`] (`prune.rs`): drops undeclared fields and reports their paths.
//! - [`default`] (`default.rs`): applies `default` values.
//! - [`validate`] (`validate.rs`): the OpenAPI value validation with
//!   kube-openapi's messages, plus list-type sets/maps and embedded resources.
//! - [`validate_crd_schema`] (`crd.rs`): the structural checks made on the
//!   schema itself when a CRD is written; [`validate_openapi`]
//!   (`openapi.rs`) the keyword checks, [`validate_defaults`]
//!   (`default_check.rs`) the checks of its `default` values.
//! - `formats.rs`: the string formats a CRD schema may use.
//!
//! No function panics on any input: wrong shapes are treated as "absent" and
//! recursion stops at [`MAX_DEPTH`].

mod crd;
mod default;
mod default_check;
mod formats;
mod openapi;
mod prune;
mod validate;

pub use crd::validate_crd_schema;
pub use default::{default, prune_non_nullable_nulls};
pub use default_check::validate_defaults;
pub use openapi::validate_openapi;
pub use prune::{prune, prune_value};
pub(crate) use validate::{correlated_equal, correlated_item, dns1035};
pub use validate::{validate, validate_update};

use serde_json::{Map, Value};

/// Deepest object/schema nesting walked; deeper parts are left alone.
/// serde_json's parser stops at 128 levels already; this guards values built
/// in code.
pub const MAX_DEPTH: usize = 200;

const PRESERVE: &str = "x-kubernetes-preserve-unknown-fields";
const EMBEDDED: &str = "x-kubernetes-embedded-resource";
const INT_OR_STRING: &str = "x-kubernetes-int-or-string";

/// `additionalProperties` as the structural schema sees it.
enum Additional<'a> {
    Absent,
    /// `true`/`false`: present, but without a schema for the values.
    Bool(bool),
    Schema(&'a Value),
}

fn obj(s: &Value) -> Option<&Map<String, Value>> {
    s.as_object()
}

fn properties(s: &Value) -> Option<&Map<String, Value>> {
    obj(s)?.get("properties")?.as_object()
}

fn property<'a>(s: &'a Value, k: &str) -> Option<&'a Value> {
    properties(s)?.get(k)
}

fn additional(s: &Value) -> Additional<'_> {
    match obj(s).and_then(|m| m.get("additionalProperties")) {
        Some(Value::Bool(b)) => Additional::Bool(*b),
        Some(v @ Value::Object(_)) => Additional::Schema(v),
        _ => Additional::Absent,
    }
}

/// The single `items` schema (structural schemas never use the tuple form).
fn items(s: &Value) -> Option<&Value> {
    obj(s)?.get("items").filter(|v| v.is_object())
}

fn flag(s: &Value, name: &str) -> bool {
    obj(s).and_then(|m| m.get(name)).and_then(Value::as_bool) == Some(true)
}

fn str_of<'a>(s: &'a Value, name: &str) -> Option<&'a str> {
    obj(s)?.get(name)?.as_str()
}

/// Go's `%v` of a float64: shortest representation, exponent form below 1e-4
/// and from 1e21 on (`1e+21`, `1e-05`).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let a = f.abs();
    if (1e-4..1e21).contains(&a) {
        return format!("{f}");
    }
    kaiser_apimachinery::field::go_exponent(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_formats_like_go() {
        assert_eq!(go_float(10.0), "10");
        assert_eq!(go_float(10.5), "10.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e20), "100000000000000000000");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.5), "-2.5");
        assert_eq!(go_float(0.0001), "0.0001");
    }
}
