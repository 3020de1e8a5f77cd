//! OpenAPI v2 and v3 documents built from the resource tables and the
//! schemas the server validates with (`kaiser_apimachinery::schema`): paths
//! and operations with their group-version-kind and query parameters (kubectl
//! reads them to learn, e.g., that `fieldValidation` is supported), and every
//! definition the served kinds reach. Documents are built once per set of
//! served resources and served as bytes with an ETag.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use kaiser_apimachinery::protobuf::write as pb;
use kaiser_apimachinery::{StatusError, schema};
use kaiser_registry::{ResourceInfo, Store};
use serde_json::{Map, Value, json};

use crate::http::{Response, bytes_response, status_response};
use crate::negotiation;

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
    let answer = match action {
        "list" => format!("{}List", i.definition_name()),
        "delete" | "deletecollection" => "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into(),
        _ => i.definition_name(),
    };
    let schema_ref = if v3 {
        format!("#/components/schemas/{answer}")
    } else {
        format!("#/definitions/{answer}")
    };
    let response = if v3 {
        json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref}}}})
    } else {
        json!({"description": "OK", "schema": {"$ref": schema_ref}})
    };
    let mut op = json!({
        "operationId": op_id(verb, i, nsp, all_ns),
        "tags": [i.group_version().api_version().replace(['/', '.'], "_")],
        "parameters": params(query, v3),
        "responses": {"200": response},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": i.group, "version": i.version, "kind": i.kind},
    });
    request_body(&mut op, action, i, v3);
    op
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

/// Definitions every document carries: what operations answer with.
const META_DEFINITIONS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
];

/// A kind's list type, which the generated definitions do not carry.
fn list_definition(i: &ResourceInfo, prefix: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {} objects.", i.kind, i.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": "The versioned schema of this representation of an object."},
            "items": {"type": "array", "description": format!("The {} objects.", i.kind), "items": {"$ref": format!("{prefix}{}", i.definition_name())}},
            "kind": {"type": "string", "description": "The REST resource this object represents."},
            "metadata": {"$ref": format!("{prefix}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"), "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": [{"group": i.group, "version": i.version, "kind": i.list_kind()}],
    })
}

/// The definitions `infos` reach, with `$ref`s under `prefix`.
fn definitions(infos: &[&ResourceInfo], prefix: &str) -> Map<String, Value> {
    let names: Vec<String> = infos.iter().map(|i| i.definition_name()).collect();
    let roots: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .chain(META_DEFINITIONS.iter().copied())
        .collect();
    let v3 = prefix != "#/definitions/";
    let mut out = Map::new();
    for name in schema::closure(&roots) {
        if let Some(def) = schema::definition(name) {
            let mut def = def.clone();
            if v3 {
                to_v3(&mut def, prefix);
            }
            out.insert(name.to_string(), def);
        }
    }
    for i in infos {
        if let Some(custom) = &i.schema {
            out.insert(i.definition_name(), custom_definition(i, custom, prefix));
        }
        if i.has_verb("list") {
            out.insert(
                format!("{}List", i.definition_name()),
                list_definition(i, prefix),
            );
        }
    }
    out.insert(
        PATCH_DEFINITION.into(),
        json!({"description": "The body of a PATCH request, in the format its content type names.", "type": "object"}),
    );
    out
}

/// A custom resource's schema as a definition: its `openAPIV3Schema` with
/// `apiVersion`, `kind` and `metadata` declared and its group-version-kind.
fn custom_definition(i: &ResourceInfo, schema: &Value, prefix: &str) -> Value {
    let mut def = schema.clone();
    if !def.is_object() {
        def = json!({"type": "object"});
    }
    let props = def
        .as_object_mut()
        .map(|o| o.entry("properties").or_insert_with(|| json!({})));
    if let Some(Value::Object(p)) = props {
        p.insert("apiVersion".into(), json!({"type": "string", "description": "The versioned schema of this representation of an object."}));
        p.insert(
            "kind".into(),
            json!({"type": "string", "description": "The REST resource this object represents."}),
        );
        p.insert(
            "metadata".into(),
            json!({"$ref": format!("{prefix}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")}),
        );
    }
    def["x-kubernetes-group-version-kind"] =
        json!([{"group": i.group, "version": i.version, "kind": i.kind}]);
    def
}

/// The schema PATCH request bodies refer to.
const PATCH_DEFINITION: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The patch formats a kind accepts: custom resources have no strategic
/// merge patch, as upstream.
fn patch_types(i: &ResourceInfo) -> Vec<&'static str> {
    let mut t = vec![
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if i.definition_name().starts_with("io.k8s.") {
        t.push("application/strategic-merge-patch+json");
    }
    t.push("application/apply-patch+yaml");
    t
}

/// The request body of a write: the object (create, replace) or a patch.
fn request_body(op: &mut Value, action: &str, i: &ResourceInfo, v3: bool) {
    let (types, schema): (Vec<&str>, String) = match action {
        "post" | "put" => (vec!["*/*"], i.definition_name()),
        "patch" => (patch_types(i), PATCH_DEFINITION.to_string()),
        _ => return,
    };
    if v3 {
        let content: Map<String, Value> = types
            .iter()
            .map(|t| {
                (
                    (*t).to_string(),
                    json!({"schema": {"$ref": format!("#/components/schemas/{schema}")}}),
                )
            })
            .collect();
        op["requestBody"] = json!({"content": content, "required": true});
    } else {
        op["consumes"] = json!(types);
        if let Some(params) = op["parameters"].as_array_mut() {
            params.insert(
                0,
                json!({"name": "body", "in": "body", "required": true,
                       "schema": {"$ref": format!("#/definitions/{schema}")}}),
            );
        }
    }
}

/// Rewrites a v2 schema for OpenAPI 3.0: references move under
/// `components/schemas`, and a reference with siblings (a description) is
/// wrapped in `allOf`, since 3.0 ignores a `$ref`'s siblings.
fn to_v3(v: &mut Value, prefix: &str) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref") {
                *r = r.replace("#/definitions/", prefix);
                if o.len() > 1
                    && let Some(r) = o.remove("$ref")
                {
                    o.insert("allOf".into(), json!([{"$ref": r}]));
                }
                return;
            }
            o.values_mut().for_each(|c| to_v3(c, prefix));
        }
        Value::Array(a) => a.iter_mut().for_each(|c| to_v3(c, prefix)),
        _ => {}
    }
}

/// `/openapi/v2`.
fn v2(stores: &[Arc<Store>], version: &str) -> Value {
    let mut paths = Map::new();
    let infos: Vec<&ResourceInfo> = stores.iter().map(|s| &*s.info).collect();
    for i in &infos {
        add_paths(&mut paths, i, false);
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "definitions": definitions(&infos, "#/definitions/"),
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

/// One group version's v3 document.
fn v3_group_version(infos: &[&ResourceInfo], version: &str) -> Value {
    let mut paths = Map::new();
    for i in infos {
        add_paths(&mut paths, i, true);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "components": {"schemas": definitions(infos, "#/components/schemas/")},
    })
}

fn hash_hex(bytes: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    format!("{:016X}", h.finish())
}

/// A served document: its bytes and their hash (the ETag and the v3 URL's
/// `hash` parameter).
#[derive(Clone)]
struct Doc {
    body: Bytes,
    hash: String,
}

impl Doc {
    fn new(body: Vec<u8>) -> Doc {
        let hash = hash_hex(&body);
        Doc {
            body: body.into(),
            hash,
        }
    }
}

/// Every document for one set of served resources.
struct Documents {
    fingerprint: u64,
    v2: Doc,
    v2_protobuf: Doc,
    v3_root: Doc,
    v3: BTreeMap<String, Doc>,
}

fn build(
    stores: &[Arc<Store>],
    version: &str,
    fingerprint: u64,
    remote: &RemoteSpecs,
) -> Documents {
    let mut v2_doc = v2(stores, version);
    for doc in &remote.v2 {
        merge_v2(&mut v2_doc, doc);
    }
    let mut by_gv: BTreeMap<String, Vec<&ResourceInfo>> = BTreeMap::new();
    for s in stores {
        by_gv
            .entry(gv_path(&s.info.group, &s.info.version))
            .or_default()
            .push(&s.info);
    }
    let mut v3: BTreeMap<String, Doc> = by_gv
        .iter()
        .map(|(p, infos)| {
            let body = serde_json::to_vec(&v3_group_version(infos, version)).unwrap_or_default();
            (p.clone(), Doc::new(body))
        })
        .collect();
    // A group version an extension server serves is proxied there, so its
    // document is that server's.
    for (path, body) in &remote.v3 {
        v3.insert(path.clone(), Doc::new(body.to_vec()));
    }
    let root_paths: Map<String, Value> = v3
        .iter()
        .map(|(p, d)| {
            let url = format!("/openapi/v3/{p}?hash={}", d.hash);
            (p.clone(), json!({"serverRelativeURL": url}))
        })
        .collect();
    Documents {
        fingerprint,
        v2_protobuf: Doc::new(v2_protobuf(&v2_doc)),
        v2: Doc::new(serde_json::to_vec(&v2_doc).unwrap_or_default()),
        v3_root: Doc::new(serde_json::to_vec(&json!({"paths": root_paths})).unwrap_or_default()),
        v3,
    }
}

/// What identifies a set of served resources for the document cache.
fn fingerprint(stores: &[Arc<Store>]) -> u64 {
    let mut h = DefaultHasher::new();
    for s in stores {
        let i = &s.info;
        (&i.group, &i.version, &i.resource, &i.kind, i.namespaced).hash(&mut h);
        (&i.verbs, &i.subresources).hash(&mut h);
        // A custom resource's schema may change while its names do not.
        if let Some(schema) = &i.schema {
            schema.to_string().hash(&mut h);
        }
    }
    h.finish()
}

/// What extension API servers publish, as the aggregator last fetched it.
#[derive(Default)]
pub struct RemoteSpecs {
    /// Changes whenever anything below changes (part of the cache key).
    pub generation: u64,
    /// Swagger 2.0 documents, in APIService priority order; their paths and
    /// definitions join `/openapi/v2` (a definition whose name is taken by a
    /// different schema is renamed `<name>_v2`, `<name>_v3` …).
    pub v2: Vec<Arc<Value>>,
    /// OpenAPI v3 documents by `/openapi/v3/` path (`apis/<group>/<version>`).
    pub v3: BTreeMap<String, Bytes>,
}

/// The aggregator's handle on the remote part of the documents.
pub type RemoteHandle = Arc<arc_swap::ArcSwap<RemoteSpecs>>;

/// Serves `/openapi/v2` and `/openapi/v3[/…]`, rebuilding the documents only
/// when the served resources or the remote documents change.
pub struct OpenApi {
    version: String,
    cache: Mutex<Option<Arc<Documents>>>,
    remote: RemoteHandle,
}

impl OpenApi {
    pub fn new(version: &str) -> OpenApi {
        OpenApi {
            version: version.to_string(),
            cache: Mutex::new(None),
            remote: RemoteHandle::default(),
        }
    }

    /// Where the aggregator puts what extension servers publish.
    pub fn remote_handle(&self) -> RemoteHandle {
        self.remote.clone()
    }

    fn documents(&self, stores: &[Arc<Store>]) -> Arc<Documents> {
        let remote = self.remote.load();
        let fp = fingerprint(stores) ^ remote.generation.rotate_left(17);
        if let Ok(cache) = self.cache.lock()
            && let Some(d) = cache.as_ref().filter(|d| d.fingerprint == fp)
        {
            return d.clone();
        }
        let docs = Arc::new(build(stores, &self.version, fp, &remote));
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some(docs.clone());
        }
        docs
    }

    /// Builds the documents for `stores` now, so that the first client to
    /// ask (kubectl's create and apply do) does not wait for them.
    pub fn warm(&self, stores: &[Arc<Store>]) {
        let started = std::time::Instant::now();
        self.documents(stores);
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "built the OpenAPI documents"
        );
    }

    /// The response for an OpenAPI path, or `None` for other paths.
    pub fn serve(
        &self,
        stores: &[Arc<Store>],
        path: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
    ) -> Option<Response> {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let (doc, content_type) = match path {
            "/openapi/v2" => {
                let docs = self.documents(stores);
                if accept.is_some_and(|a| a.contains(V2_PROTOBUF)) {
                    (docs.v2_protobuf.clone(), V2_PROTOBUF_CONTENT_TYPE)
                } else {
                    if let Err(e) = negotiation::negotiate(accept, negotiation::PLAIN) {
                        return Some(status_response(&e));
                    }
                    (docs.v2.clone(), "application/json")
                }
            }
            "/openapi/v3" | "/openapi/v3/" => {
                (self.documents(stores).v3_root.clone(), "application/json")
            }
            p => {
                let gv = p.strip_prefix("/openapi/v3/")?;
                let docs = self.documents(stores);
                let Some(doc) = docs.v3.get(gv) else {
                    return Some(status_response(&StatusError::path_not_found()));
                };
                let asked = query.iter().find(|(k, _)| k == "hash").map(|(_, v)| v);
                if let Some(asked) = asked
                    && *asked != doc.hash
                {
                    // An old hash: send the client to the current document.
                    let mut r = bytes_response(301, "text/plain", Bytes::new());
                    let url = format!("/openapi/v3/{gv}?hash={}", doc.hash);
                    if let Ok(v) = HeaderValue::from_str(&url) {
                        r.headers_mut().insert(header::LOCATION, v);
                    }
                    return Some(r);
                }
                let mut r = respond(doc, "application/json", headers);
                if asked.is_some() {
                    r.headers_mut().insert(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, immutable"),
                    );
                }
                return Some(r);
            }
        };
        Some(respond(&doc, content_type, headers))
    }
}

/// Adds a remote Swagger 2.0 document's paths (a path already served
/// stays as it is) and definitions to `base`.
fn merge_v2(base: &mut Value, remote: &Value) {
    let mut remote = remote.clone();
    let taken: Map<String, Value> = base["definitions"].as_object().cloned().unwrap_or_default();
    let mut renames: Vec<(String, String)> = Vec::new();
    for (name, def) in remote["definitions"].as_object().into_iter().flatten() {
        match taken.get(name) {
            Some(existing) if existing != def => {
                let new_name = (2..)
                    .map(|n| format!("{name}_v{n}"))
                    .find(|n| !taken.contains_key(n))
                    .unwrap_or_else(|| format!("{name}_v2"));
                renames.push((name.clone(), new_name));
            }
            _ => {}
        }
    }
    if !renames.is_empty() {
        rename_refs(&mut remote, &renames);
        if let Some(defs) = remote["definitions"].as_object_mut() {
            for (old, new) in &renames {
                if let Some(d) = defs.remove(old) {
                    defs.insert(new.clone(), d);
                }
            }
        }
    }
    for section in ["paths", "definitions"] {
        let Some(incoming) = remote.get(section).and_then(Value::as_object).cloned() else {
            continue;
        };
        if !base[section].is_object() {
            base[section] = json!({});
        }
        if let Some(target) = base[section].as_object_mut() {
            for (k, v) in incoming {
                target.entry(k).or_insert(v);
            }
        }
    }
}

/// Rewrites `#/definitions/<old>` references to their new names.
fn rename_refs(v: &mut Value, renames: &[(String, String)]) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/definitions/")
                && let Some((_, new)) = renames.iter().find(|(old, _)| old == name)
            {
                *r = format!("#/definitions/{new}");
            }
            o.values_mut().for_each(|c| rename_refs(c, renames));
        }
        Value::Array(a) => a.iter_mut().for_each(|c| rename_refs(c, renames)),
        _ => {}
    }
}

/// The document, or 304 when the client holds the same version.
fn respond(doc: &Doc, content_type: &str, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", doc.hash);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut r = if fresh {
        bytes_response(304, content_type, Bytes::new())
    } else {
        bytes_response(200, content_type, doc.body.clone())
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

const V2_PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

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
    for t in op["consumes"].as_array().into_iter().flatten() {
        pb::string(&mut out, 7, t.as_str().unwrap_or(""));
    }
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "body" {
            // BodyParameter: name 2, in 3, required 4, schema 5.
            let mut b = Vec::new();
            pb::string(&mut b, 2, p["name"].as_str().unwrap_or("body"));
            pb::string(&mut b, 3, "body");
            pb::boolean(&mut b, 4, true);
            pb::message(&mut b, 5, &schema_pb(&p["schema"]));
            let mut param = Vec::new();
            pb::message(&mut param, 1, &b);
            let mut item = Vec::new();
            pb::message(&mut item, 1, &param);
            pb::message(&mut out, 8, &item);
            continue;
        }
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
    let str_field = |out: &mut Vec<u8>, key: &str, field: u32| {
        if let Some(v) = s.get(key).and_then(Value::as_str) {
            pb::string(out, field, v);
        }
    };
    str_field(&mut out, "$ref", 1);
    str_field(&mut out, "format", 2);
    str_field(&mut out, "title", 3);
    str_field(&mut out, "description", 4);
    if let Some(d) = s.get("default") {
        pb::message(&mut out, 5, &any_pb(d));
    }
    for (key, field) in [("maximum", 7), ("minimum", 9)] {
        if let Some(v) = s.get(key).and_then(Value::as_f64) {
            pb::double(&mut out, field, v);
        }
    }
    for (key, field) in [
        ("maxLength", 11),
        ("minLength", 12),
        ("maxItems", 14),
        ("minItems", 15),
        ("maxProperties", 17),
        ("minProperties", 18),
    ] {
        if let Some(v) = s.get(key).and_then(Value::as_i64) {
            pb::int64(&mut out, field, v);
        }
    }
    str_field(&mut out, "pattern", 13);
    if s.get("uniqueItems") == Some(&Value::Bool(true)) {
        pb::boolean(&mut out, 16, true);
    }
    for r in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        pb::string(&mut out, 19, r.as_str().unwrap_or(""));
    }
    for e in s
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        pb::message(&mut out, 20, &any_pb(e));
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut item = Vec::new();
            pb::boolean(&mut item, 2, *b);
            pb::message(&mut out, 21, &item);
        }
        Some(a @ Value::Object(_)) => {
            let mut item = Vec::new();
            pb::message(&mut item, 1, &schema_pb(a));
            pb::message(&mut out, 21, &item);
        }
        _ => {}
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let mut ty = Vec::new();
        pb::string(&mut ty, 1, t);
        pb::message(&mut out, 22, &ty);
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        let mut item = Vec::new();
        pb::message(&mut item, 1, &schema_pb(items));
        pb::message(&mut out, 23, &item);
    }
    for a in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        pb::message(&mut out, 24, &schema_pb(a));
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        let mut p = Vec::new();
        for (name, prop) in props {
            let mut named = Vec::new();
            pb::string(&mut named, 1, name);
            pb::message(&mut named, 2, &schema_pb(prop));
            pb::message(&mut p, 1, &named);
        }
        pb::message(&mut out, 25, &p);
    }
    vendor_extensions(&mut out, 31, s);
    out
}

/// gnostic's `Any`: the value as YAML text (JSON is YAML).
fn any_pb(v: &Value) -> Vec<u8> {
    let mut any = Vec::new();
    pb::string(&mut any, 2, &v.to_string());
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ResourceInfo {
        ResourceInfo::new("", "v1", "configmaps", "ConfigMap", true)
    }

    #[test]
    fn documents_carry_the_real_schemas() {
        let i = info();
        let defs = definitions(&[&i], "#/definitions/");
        let cm = &defs["io.k8s.api.core.v1.ConfigMap"];
        assert_eq!(
            cm["properties"]["data"]["additionalProperties"]["type"],
            "string"
        );
        assert!(defs.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        assert!(defs.contains_key("io.k8s.api.core.v1.ConfigMapList"));
        assert!(defs.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.Status"));
    }

    #[test]
    fn v3_wraps_references_with_siblings() {
        let i = info();
        let defs = definitions(&[&i], "#/components/schemas/");
        let meta = &defs["io.k8s.api.core.v1.ConfigMap"]["properties"]["metadata"];
        assert_eq!(
            meta["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert!(meta.get("$ref").is_none());
        let text = serde_json::to_string(&defs).expect("encodes");
        assert!(!text.contains("#/definitions/"));
    }

    #[test]
    fn remote_documents_join_the_local_ones() {
        let status = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
        let remote_v2 = json!({
            "paths": {
                "/apis/metrics.k8s.io/v1beta1/nodes": {"get": {"operationId": "listNodeMetrics"}},
            },
            "definitions": {
                "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics": {"properties": {"s": {"$ref": format!("#/definitions/{status}")}}},
                status: {"type": "object", "description": "another Status"},
            },
        });
        let mut v3 = BTreeMap::new();
        v3.insert(
            "apis/metrics.k8s.io/v1beta1".to_string(),
            Bytes::from_static(b"{\"openapi\":\"3.0.0\"}"),
        );
        let remote = RemoteSpecs {
            generation: 1,
            v2: vec![Arc::new(remote_v2)],
            v3,
        };
        let docs = build(&[], "v1.33.0", 0, &remote);
        let v2: Value = serde_json::from_slice(&docs.v2.body).expect("json");
        let nodes = &v2["paths"]["/apis/metrics.k8s.io/v1beta1/nodes"];
        assert_eq!(nodes["get"]["operationId"], "listNodeMetrics");
        let defs = &v2["definitions"];
        assert_eq!(
            defs[format!("{status}_v2")]["description"],
            "another Status"
        );
        assert_ne!(defs[status]["description"], "another Status");
        assert_eq!(
            defs["io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"]["properties"]["s"]["$ref"],
            format!("#/definitions/{status}_v2")
        );
        let root: Value = serde_json::from_slice(&docs.v3_root.body).expect("json");
        let url = root["paths"]["apis/metrics.k8s.io/v1beta1"]["serverRelativeURL"].as_str();
        assert!(url.is_some_and(|u| u.contains("?hash=")), "{root}");
    }

    #[test]
    fn warming_fills_the_cache_requests_read() {
        let api = OpenApi::new("v1.33.0");
        api.warm(&[]);
        let warmed = api.cache.lock().expect("lock").clone().expect("built");
        assert!(Arc::ptr_eq(&warmed, &api.documents(&[])));
    }

    #[test]
    fn served_paths_keep_their_local_operations() {
        let mut base = json!({"paths": {"/api/v1/configmaps": {"get": {"operationId": "local"}}}});
        let remote = json!({"paths": {"/api/v1/configmaps": {"get": {"operationId": "remote"}},
                                      "/apis/x.io/v1/things": {}}});
        merge_v2(&mut base, &remote);
        assert_eq!(
            base["paths"]["/api/v1/configmaps"]["get"]["operationId"],
            "local"
        );
        assert!(base["paths"]["/apis/x.io/v1/things"].is_object());
    }

    #[test]
    fn etag_answers_304() {
        let doc = Doc::new(b"{}".to_vec());
        let mut h = HeaderMap::new();
        assert_eq!(respond(&doc, "application/json", &h).status(), 200);
        let tag = format!("\"{}\"", doc.hash);
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&tag).expect("tag"),
        );
        let r = respond(&doc, "application/json", &h);
        assert_eq!(r.status(), 304);
        assert_eq!(r.headers()[header::ETAG], tag.as_str());
    }
}
