//! OpenAPI v2 and v3 documents generated from the resource tables: paths
//! and operations with their group-version-kind and query parameters (what
//! kubectl reads to learn, e.g., that `fieldValidation` is supported).
//! Object schemas are placeholders until the schema engine lands.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use kaiser_apimachinery::protobuf::write as pb;
use kaiser_registry::{ResourceInfo, Store};
use serde_json::{Map, Value, json};

fn op_id(verb: &str, i: &ResourceInfo, namespaced_path: bool, all_ns: bool) -> String {
    let group: String = if i.group.is_empty() {
        "Core".into()
    } else {
        i.group
            .split('.')
            .next()
            .unwrap_or("")
            .split('-')
            .map(capitalize)
            .collect()
    };
    let scope = if all_ns { "ForAllNamespaces" } else { "" };
    let ns = if namespaced_path { "Namespaced" } else { "" };
    format!(
        "{verb}{group}{}{ns}{}{scope}",
        capitalize(&i.version),
        i.kind
    )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn params(names: &[&str], v3: bool) -> Vec<Value> {
    names
        .iter()
        .map(|n| {
            if v3 {
                json!({"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
            } else {
                json!({"name": n, "in": "query", "type": "string", "uniqueItems": true})
            }
        })
        .collect()
}

fn operation(
    verb: &str,
    action: &str,
    i: &ResourceInfo,
    nsp: bool,
    all_ns: bool,
    query: &[&str],
    v3: bool,
) -> Value {
    let schema_ref = if v3 {
        format!("#/components/schemas/{}", i.definition_name())
    } else {
        format!("#/definitions/{}", i.definition_name())
    };
    let response = if v3 {
        json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref}}}})
    } else {
        json!({"description": "OK", "schema": {"$ref": schema_ref}})
    };
    json!({
        "operationId": op_id(verb, i, nsp, all_ns),
        "tags": [i.group_version().api_version().replace(['/', '.'], "_")],
        "parameters": params(query, v3),
        "responses": {"200": response},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": i.group, "version": i.version, "kind": i.kind},
    })
}

const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "pretty"];
const PATCH_PARAMS: &[&str] = &[
    "dryRun",
    "fieldManager",
    "fieldValidation",
    "force",
    "pretty",
];
const LIST_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
    "pretty",
];

fn add_paths(paths: &mut Map<String, Value>, i: &ResourceInfo, v3: bool) {
    let root = if i.group.is_empty() {
        format!("/api/{}", i.version)
    } else {
        format!("/apis/{}/{}", i.group, i.version)
    };
    let has = |v: &str| i.has_verb(v);
    let coll = if i.namespaced {
        format!("{root}/namespaces/{{namespace}}/{}", i.resource)
    } else {
        format!("{root}/{}", i.resource)
    };
    let mut c = Map::new();
    if has("list") {
        c.insert(
            "get".into(),
            operation("list", "list", i, i.namespaced, false, LIST_PARAMS, v3),
        );
    }
    if has("create") {
        c.insert(
            "post".into(),
            operation("create", "post", i, i.namespaced, false, WRITE_PARAMS, v3),
        );
    }
    if has("deletecollection") {
        c.insert(
            "delete".into(),
            operation(
                "deleteCollection",
                "deletecollection",
                i,
                i.namespaced,
                false,
                LIST_PARAMS,
                v3,
            ),
        );
    }
    if !c.is_empty() {
        paths.insert(coll.clone(), Value::Object(c));
    }
    let mut o = Map::new();
    if has("get") {
        o.insert(
            "get".into(),
            operation("read", "get", i, i.namespaced, false, &["pretty"], v3),
        );
    }
    if has("update") {
        o.insert(
            "put".into(),
            operation("replace", "put", i, i.namespaced, false, WRITE_PARAMS, v3),
        );
    }
    if has("patch") {
        o.insert(
            "patch".into(),
            operation("patch", "patch", i, i.namespaced, false, PATCH_PARAMS, v3),
        );
    }
    if has("delete") {
        o.insert(
            "delete".into(),
            operation(
                "delete",
                "delete",
                i,
                i.namespaced,
                false,
                &[
                    "dryRun",
                    "gracePeriodSeconds",
                    "propagationPolicy",
                    "pretty",
                ],
                v3,
            ),
        );
    }
    if !o.is_empty() {
        paths.insert(format!("{coll}/{{name}}"), Value::Object(o));
    }
    if i.namespaced && has("list") {
        let mut all = Map::new();
        all.insert(
            "get".into(),
            operation("list", "list", i, false, true, LIST_PARAMS, v3),
        );
        paths.insert(format!("{root}/{}", i.resource), Value::Object(all));
    }
}

fn schema(i: &ResourceInfo) -> Value {
    json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "x-kubernetes-group-version-kind": [{"group": i.group, "version": i.version, "kind": i.kind}],
    })
}

/// `/openapi/v2`.
pub fn v2(stores: &[Arc<Store>], version: &str) -> Value {
    let mut paths = Map::new();
    let mut defs = Map::new();
    for s in stores {
        add_paths(&mut paths, &s.info, false);
        defs.insert(s.info.definition_name(), schema(&s.info));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "definitions": defs,
    })
}

/// The `/openapi/v3/<prefix>` path of a group version.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// One group version's v3 document, or `None` when nothing serves it.
pub fn v3_group_version(stores: &[Arc<Store>], path: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for s in stores {
        if gv_path(&s.info.group, &s.info.version) == path {
            add_paths(&mut paths, &s.info, true);
            schemas.insert(s.info.definition_name(), schema(&s.info));
        }
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `/openapi/v3`: each group version with a content-hash URL.
pub fn v3_root(stores: &[Arc<Store>], version: &str) -> Value {
    let mut paths = Map::new();
    for s in stores {
        let p = gv_path(&s.info.group, &s.info.version);
        if paths.contains_key(&p) {
            continue;
        }
        let doc = v3_group_version(stores, &p, version).unwrap_or(Value::Null);
        let mut h = DefaultHasher::new();
        doc.to_string().hash(&mut h);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={:016X}", h.finish())}),
        );
    }
    json!({"paths": paths})
}

/// The media type of the protobuf form of `/openapi/v2` (gnostic's `openapi.v2.Document`).
pub const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// Encodes a Swagger 2.0 document (as [`v2`] builds it) in gnostic's
/// protobuf form, which kubectl and client-go ask for.
pub fn v2_protobuf(doc: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    pb::string(&mut out, 1, doc["swagger"].as_str().unwrap_or("2.0"));
    let mut info = Vec::new();
    pb::string(&mut info, 1, doc["info"]["title"].as_str().unwrap_or(""));
    pb::string(&mut info, 2, doc["info"]["version"].as_str().unwrap_or(""));
    pb::message(&mut out, 2, &info);
    let mut paths = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let mut pi = Vec::new();
        for (method, num) in [
            ("get", 2),
            ("put", 3),
            ("post", 4),
            ("delete", 5),
            ("patch", 8),
        ] {
            if let Some(op) = item.get(method) {
                pb::message(&mut pi, num, &operation_pb(op));
            }
        }
        let mut named = Vec::new();
        pb::string(&mut named, 1, path);
        pb::message(&mut named, 2, &pi);
        pb::message(&mut paths, 2, &named);
    }
    pb::message(&mut out, 8, &paths);
    let mut defs = Vec::new();
    for (name, schema) in doc["definitions"].as_object().into_iter().flatten() {
        let mut named = Vec::new();
        pb::string(&mut named, 1, name);
        pb::message(&mut named, 2, &schema_pb(schema));
        pb::message(&mut defs, 1, &named);
    }
    pb::message(&mut out, 9, &defs);
    out
}

fn vendor_extensions(out: &mut Vec<u8>, field: u32, obj: &Value) {
    for (k, v) in obj.as_object().into_iter().flatten() {
        if !k.starts_with("x-") {
            continue;
        }
        let mut any = Vec::new();
        // JSON is YAML: the `yaml` field carries the value's text.
        pb::string(&mut any, 2, &v.to_string());
        let mut named = Vec::new();
        pb::string(&mut named, 1, k);
        pb::message(&mut named, 2, &any);
        pb::message(out, field, &named);
    }
}

fn operation_pb(op: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    for t in op["tags"].as_array().into_iter().flatten() {
        pb::string(&mut out, 1, t.as_str().unwrap_or(""));
    }
    pb::string(&mut out, 5, op["operationId"].as_str().unwrap_or(""));
    for p in op["parameters"].as_array().into_iter().flatten() {
        let mut q = Vec::new();
        pb::string(&mut q, 2, p["in"].as_str().unwrap_or("query"));
        pb::string(&mut q, 4, p["name"].as_str().unwrap_or(""));
        pb::string(&mut q, 6, p["type"].as_str().unwrap_or("string"));
        if p["uniqueItems"].as_bool() == Some(true) {
            pb::boolean(&mut q, 20, true);
        }
        let mut non_body = Vec::new();
        pb::message(&mut non_body, 3, &q);
        let mut param = Vec::new();
        pb::message(&mut param, 2, &non_body);
        let mut item = Vec::new();
        pb::message(&mut item, 1, &param);
        pb::message(&mut out, 8, &item);
    }
    let mut responses = Vec::new();
    for (code, r) in op["responses"].as_object().into_iter().flatten() {
        let mut resp = Vec::new();
        pb::string(&mut resp, 1, r["description"].as_str().unwrap_or(""));
        if let Some(s) = r.get("schema") {
            let mut item = Vec::new();
            pb::message(&mut item, 1, &schema_pb(s));
            pb::message(&mut resp, 2, &item);
        }
        let mut value = Vec::new();
        pb::message(&mut value, 1, &resp);
        let mut named = Vec::new();
        pb::string(&mut named, 1, code);
        pb::message(&mut named, 2, &value);
        pb::message(&mut responses, 1, &named);
    }
    pb::message(&mut out, 9, &responses);
    vendor_extensions(&mut out, 13, op);
    out
}

fn schema_pb(s: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(r) = s["$ref"].as_str() {
        pb::string(&mut out, 1, r);
    }
    if let Some(d) = s["description"].as_str() {
        pb::string(&mut out, 4, d);
    }
    if let Some(t) = s["type"].as_str() {
        let mut ty = Vec::new();
        pb::string(&mut ty, 1, t);
        pb::message(&mut out, 22, &ty);
    }
    vendor_extensions(&mut out, 31, s);
    out
}
