//! Writes `crates/apimachinery/src/schema/definitions.json`: one JSON object
//! mapping each OpenAPI definition name to its schema (swagger 2.0 dialect,
//! `$ref: "#/definitions/…"`).
//!
//! Structure, types and descriptions come from `k8s-openapi` (its `schemars`
//! feature). The facts it lacks are read from upstream's published OpenAPI
//! document (`--reference`, swagger.json): `x-kubernetes-*` list, map and
//! patch extensions, group-version-kind, and `required`. Only those facts are
//! taken from the reference; its descriptions are never copied.
//!
//! Usage: `cargo run --manifest-path tools/openapi-gen/Cargo.toml --
//!   ../shared/reference/kubernetes-openapi/swagger.json
//!   crates/apimachinery/src/schema/definitions.json`

use std::collections::BTreeMap;

use serde_json::{Map, Value};

include!("roots.rs");

/// Extension keys copied from the reference (facts, not text).
const FACT_KEYS: &[&str] = &[
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-group-version-kind",
    "x-kubernetes-unions",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(reference), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: openapi-gen <reference swagger.json> <output definitions.json>");
        std::process::exit(2);
    };
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(reference).expect("read the reference document"),
    )
    .expect("parse the reference document");
    let ref_defs = reference["definitions"]
        .as_object()
        .expect("the reference has definitions");

    let mut generator = schemars::generate::SchemaSettings::draft07().into_generator();
    macro_rules! add {
        ($t:ty) => {
            generator.subschema_for::<$t>();
        };
    }
    for_each_root!(add);

    let mut out_defs: BTreeMap<String, Value> = BTreeMap::new();
    for (name, schema) in generator.definitions() {
        let mut schema = schema.clone();
        normalize(&mut schema);
        if let Some(r) = ref_defs.get(name) {
            add_facts(&mut schema, r);
        } else if let Some(req) = schema.get_mut("required").and_then(Value::as_array_mut) {
            // k8s-openapi marks `metadata` required because its Rust field is
            // not optional; upstream never does.
            req.retain(|v| v != "metadata");
        }
        out_defs.insert(name.clone(), schema);
    }

    // One definition per line keeps diffs readable.
    let mut text = String::from("{\n");
    let n = out_defs.len();
    for (i, (name, schema)) in out_defs.iter().enumerate() {
        text.push_str(&serde_json::to_string(name).expect("encode"));
        text.push(':');
        text.push_str(&serde_json::to_string(schema).expect("encode"));
        text.push_str(if i + 1 < n { ",\n" } else { "\n" });
    }
    text.push_str("}\n");
    std::fs::write(out, text).expect("write the output");
    eprintln!("wrote {n} definitions");
}

/// Drops draft-07 spellings swagger 2.0 does not have and fixes up schemars'
/// output so it reads like upstream's documents.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("$schema");
            o.remove("title");
            if let Some(Value::String(r)) = o.get_mut("$ref") {
                *r = r.replace("#/$defs/", "#/definitions/");
            }
            for child in o.values_mut() {
                normalize(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Copies the reference's extension facts and `required` list onto the schema.
fn add_facts(schema: &mut Value, reference: &Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    copy_keys(obj, reference);
    match reference.get("required") {
        Some(req) => {
            obj.insert("required".into(), req.clone());
        }
        None => {
            obj.remove("required");
        }
    }
    let (Some(props), Some(ref_props)) = (
        obj.get_mut("properties").and_then(Value::as_object_mut),
        reference.get("properties").and_then(Value::as_object),
    ) else {
        return;
    };
    for (name, prop) in props.iter_mut() {
        if let (Some(p), Some(r)) = (prop.as_object_mut(), ref_props.get(name)) {
            copy_keys(p, r);
        }
    }
}

fn copy_keys(target: &mut Map<String, Value>, reference: &Value) {
    for key in FACT_KEYS {
        if let Some(v) = reference.get(*key) {
            target.insert((*key).to_string(), v.clone());
        }
    }
}
