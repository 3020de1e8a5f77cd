//! Verb handlers: one generic implementation of get, list, watch, create,
//! update, patch, delete and deletecollection over any resource-table entry.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header;
use kaiser_admission::{Attributes, Chain, Operation};
use kaiser_apimachinery::codec::{self, Format};
use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::patch::{self, PatchType};
use kaiser_apimachinery::protobuf;
use kaiser_apimachinery::schema;
use kaiser_apimachinery::strategic;
use kaiser_apimachinery::table::{self, IncludeObject};
use kaiser_apimachinery::{GroupVersion, StatusError, meta};
use kaiser_registry::{DeleteOptions, Store, WatchEvent, WriteOptions, scale};
use kaiser_storage::KeyValue;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::fieldmanager::{self, ScaleWrite};
use crate::http::{
    ApiRequest, ChunkedBody, Response, bytes_response, negotiated_response, status_response,
};
use crate::listing;
use crate::negotiation::{self, Negotiated, Target};

/// Watches without `timeoutSeconds` end after this long (upstream's
/// `--min-request-timeout`), so clients re-establish them now and then.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// What verb handlers share.
#[derive(Clone)]
pub struct Scope {
    pub admission: Chain,
    /// Flips to true when the server starts shutting down; watches end.
    pub shutdown: watch::Receiver<bool>,
    /// Deletes in flight at once in a DELETE of a collection
    /// (`--delete-collection-workers`).
    pub delete_collection_workers: usize,
    /// `--enable-garbage-collector`: a delete's propagation policy is
    /// recorded in finalizers for the collector.
    pub garbage_collector: bool,
}

/// No-op validating admission inside the store's retry loop; the chain runs
/// before the store call.
fn admit_all(_: &Value, _: Option<&Value>) -> Result<(), StatusError> {
    Ok(())
}

/// Serves one resource request against `store`.
pub async fn serve(store: Arc<Store>, scope: &Scope, req: ApiRequest) -> Response {
    // Every answer of a deprecated version carries its warning, errors too.
    match store.info.deprecation.clone() {
        Some(warning) => with_warnings(serve_resource(store, scope, req).await, &[warning]),
        None => serve_resource(store, scope, req).await,
    }
}

async fn serve_resource(store: Arc<Store>, scope: &Scope, req: ApiRequest) -> Response {
    // A subresource is served by its own store over the same objects.
    let scale = req.info.subresource == "scale" && store.info.scale.is_some();
    let store = if req.info.subresource.is_empty() || scale {
        store
    } else {
        match store.subresource(&req.info.subresource) {
            Some(sub) if matches!(req.info.verb.as_str(), "get" | "update" | "patch") => {
                sub.clone()
            }
            Some(_) => {
                let gr = store.info.group_resource();
                let verb = format!("{} on {}", req.info.verb, req.info.subresource);
                return status_response(&StatusError::method_not_supported(&gr, &verb));
            }
            None => return status_response(&StatusError::path_not_found()),
        }
    };
    match handle(&store, scope, &req).await {
        Ok(r) => r,
        Err(e) => status_response(&e),
    }
}

async fn handle(
    store: &Arc<Store>,
    scope: &Scope,
    req: &ApiRequest,
) -> Result<Response, StatusError> {
    let info = &store.info;
    let ri = &req.info;
    let gr = info.group_resource();
    if !ri.subresource.is_empty() && !info.subresources.contains(&ri.subresource)
        || ri.parts.len() > 3
    {
        return Err(StatusError::path_not_found());
    }
    // Scope of the path must fit the resource.
    let ns = ri.namespace.as_str();
    let cluster_path_for_namespaced =
        info.namespaced && ns.is_empty() && !matches!(ri.verb.as_str(), "list" | "watch");
    let namespaced_path_for_cluster =
        !info.namespaced && !ns.is_empty() && info.resource != "namespaces";
    if cluster_path_for_namespaced || namespaced_path_for_cluster {
        return Err(StatusError::path_not_found());
    }
    let ns = if info.namespaced { ns } else { "" };
    if ri.subresource.is_empty() && !info.has_verb(&ri.verb) {
        return Err(StatusError::method_not_supported(&gr, &ri.verb));
    }
    let dry_run = dry_run(req)?;
    let pretty = req.pretty();
    let admit = Admission {
        scope,
        req,
        resource: gr.clone(),
        namespace: ns,
        dry_run,
    };
    if ri.subresource == "scale" {
        return serve_scale(store, req, ns, &admit).await;
    }
    match ri.verb.as_str() {
        "get" => {
            let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::OBJECTS)?;
            if let Some(rv) = req.query("resourceVersion") {
                store.check_get_resource_version(rv).await?;
            }
            if plain_json(n, pretty) && !store.converts() {
                let body = store.get_json(ns, &ri.name).await?;
                return Ok(bytes_response(200, "application/json", body));
            }
            let obj = store.get(ns, &ri.name).await?;
            respond_object(store, req, 200, obj, n, pretty)
        }
        "list" => {
            let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::OBJECTS)?;
            if n.target == Target::PartialObjectMetadata {
                return Err(StatusError::not_acceptable(
                    "you requested PartialObjectMetadata, but the requested object is a list",
                ));
            }
            let opts = ListOptions::from_query(req.query_pairs())?;
            let (kvs, list_meta) = store.list_page(ns, &opts).await?;
            list_response(store, req, kvs, list_meta, n, pretty)
        }
        "watch" => {
            let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::OBJECTS)?;
            let mut opts = ListOptions::from_query(req.query_pairs())?;
            opts.watch = true;
            serve_watch(store, scope, req, ns, opts, n).await
        }
        "create" => {
            let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::PLAIN)?;
            let manager = fieldmanager::for_write(req, "CreateOptions")?;
            let validation = field_validation(req)?;
            let (mut obj, duplicates) = decode_body(store, req)?;
            check_type(store, &mut obj, ns)?;
            let warnings = check_schema(store, &mut obj, duplicates, validation)?;
            let name = meta::name(&obj).to_string();
            admit.mutate(Operation::Create, &name, &mut obj).await?;
            admit.check(Operation::Create, &name, Some(&obj)).await?;
            let checks = admit
                .write_checks(Operation::Create, &name, Some(&obj))
                .await?;
            let opts = WriteOptions {
                dry_run,
                manager: Some(&manager),
                ..Default::default()
            };
            let (created, json) = store
                .create_with_json(obj, &|n, o| checks.run(n, o), &opts)
                .await?;
            let resp = match json {
                // The bytes just stored, not a second encoding.
                Some(json) if plain_json(n, pretty) => {
                    bytes_response(201, "application/json", json)
                }
                _ => negotiated_response(201, &created, n, pretty),
            };
            Ok(with_warnings(resp, &warnings))
        }
        "update" => {
            let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::PLAIN)?;
            let manager = fieldmanager::for_write(req, "UpdateOptions")?;
            let validation = field_validation(req)?;
            let (mut obj, duplicates) = decode_body(store, req)?;
            check_type(store, &mut obj, ns)?;
            let warnings = check_schema(store, &mut obj, duplicates, validation)?;
            let body_name = meta::name(&obj);
            if body_name != ri.name {
                return Err(StatusError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({})",
                    ri.name
                )));
            }
            admit.check(Operation::Update, &ri.name, Some(&obj)).await?;
            let checks = admit
                .write_checks(Operation::Update, &ri.name, Some(&obj))
                .await?;
            let apply = move |_old: Option<&Value>| Ok(obj.clone());
            let opts = WriteOptions {
                dry_run,
                manager: Some(&manager),
                ..Default::default()
            };
            let (out, created) = store
                .update_with(ns, &ri.name, &apply, &|n, o| checks.run(n, o), &opts)
                .await?;
            Ok(with_warnings(
                negotiated_response(if created { 201 } else { 200 }, &out, n, pretty),
                &warnings,
            ))
        }
        "patch" => {
            let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::PLAIN)?;
            let ct = req.header(header::CONTENT_TYPE).unwrap_or("");
            let base = ct.split(';').next().unwrap_or("").trim();
            let Some(kind) = PatchType::from_content_type(base) else {
                return Err(StatusError::unsupported_media_type(ct));
            };
            let (manager, force) = fieldmanager::for_patch(req, kind == PatchType::Apply)?;
            if kind == PatchType::Apply {
                return serve_apply(store, req, ns, &admit, n, &manager, force).await;
            }
            if kind == PatchType::StrategicMerge && !store.strategy.strategic_merge() {
                return Err(StatusError::unsupported_patch_type(
                    base,
                    &[
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/apply-patch+yaml",
                    ],
                ));
            }
            let validation = field_validation(req)?;
            admit.check(Operation::Update, &ri.name, None).await?;
            let checks = admit
                .write_checks(Operation::Update, &ri.name, None)
                .await?;
            let body = req.body.clone();
            let expected_gv = info.api_version();
            let kind_name = info.kind.clone();
            let definition = info.definition_name();
            // Repeated fields of a merge patch body; a JSON patch is a list.
            let duplicates = match kind {
                PatchType::Json => Vec::new(),
                _ => codec::decode_checked(&body, Format::Json)
                    .map(|(_, d)| d)
                    .unwrap_or_default(),
            };
            let warnings = std::sync::Mutex::new(Vec::new());
            let apply = |old: Option<&Value>| {
                let old = old.ok_or_else(|| StatusError::not_found(&gr, ""))?;
                let mut patched = match kind {
                    PatchType::Json => patch::apply_json_patch(old, &body)?,
                    PatchType::Merge => patch::apply_merge_patch(old, &body)?,
                    PatchType::StrategicMerge => strategic::apply(old, &body, &|p: &str| {
                        schema::list_strategy(&definition, p)
                    })?,
                    PatchType::Apply => {
                        return Err(StatusError::unsupported_media_type(
                            "application/apply-patch+yaml",
                        ));
                    }
                };
                check_patched_type(&mut patched, &expected_gv, &kind_name)?;
                check_patched_name(&patched, &ri.name, ns)?;
                let w = check_schema(store, &mut patched, duplicates.clone(), validation)?;
                if let Ok(mut slot) = warnings.lock() {
                    *slot = w;
                }
                Ok(patched)
            };
            let opts = WriteOptions {
                dry_run,
                manager: Some(&manager),
                ..Default::default()
            };
            let (out, _) = store
                .update_with(ns, &ri.name, &apply, &|n, o| checks.run(n, o), &opts)
                .await?;
            let warnings = warnings.into_inner().unwrap_or_default();
            Ok(with_warnings(
                negotiated_response(200, &out, n, pretty),
                &warnings,
            ))
        }
        "delete" => {
            let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::PLAIN)?;
            let opts = delete_options(req, dry_run, scope)?;
            admit.check(Operation::Delete, &ri.name, None).await?;
            let deleted = store.delete(ns, &ri.name, &opts, &admit_all).await?;
            // Upstream answers 202 for a pending delete only when the client
            // set the deprecated orphanDependents=false; otherwise 200.
            let code = if !deleted.gone && opts.orphan_dependents == Some(false) {
                202
            } else {
                200
            };
            Ok(negotiated_response(code, &deleted.body, n, pretty))
        }
        "deletecollection" => {
            let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::PLAIN)?;
            let opts = delete_options(req, dry_run, scope)?;
            let list_opts = ListOptions::from_query(req.query_pairs())?;
            admit.check(Operation::Delete, "", None).await?;
            let workers = scope.delete_collection_workers;
            let (kvs, list_meta) = store
                .delete_collection(ns, &list_opts, &opts, &admit_all, workers)
                .await?;
            list_response(store, req, kvs, list_meta, n, pretty)
        }
        other => Err(StatusError::method_not_supported(&gr, other)),
    }
}

/// PATCH with `application/apply-patch+yaml`: the configuration is
/// merged into the live object (created when absent, except through a
/// subresource) by the request's field manager.
async fn serve_apply(
    store: &Arc<Store>,
    req: &ApiRequest,
    ns: &str,
    admit: &Admission<'_>,
    n: Negotiated,
    manager: &str,
    force: bool,
) -> Result<Response, StatusError> {
    let ri = &req.info;
    let validation = field_validation(req)?;
    let (config, duplicates) = decode_apply_config(&req.body)?;
    let exists = match store.get(ns, &ri.name).await {
        Ok(_) => true,
        Err(e) if e.code == 404 => false,
        Err(e) => return Err(e),
    };
    let creates = !exists && ri.subresource.is_empty();
    let op = if creates {
        Operation::Create
    } else {
        Operation::Update
    };
    admit.check(op, &ri.name, Some(&config)).await?;
    // Checks of the final object (RBAC escalation) run inside the write.
    let checks = admit.write_checks(op, &ri.name, None).await?;
    let warnings = std::sync::Mutex::new(Vec::new());
    let apply = |old: Option<&Value>| {
        let mut out = fieldmanager::apply(store, old, &config, manager, force, &ri.name, ns)?;
        let w = check_schema(store, &mut out, duplicates.clone(), validation)?;
        if let Ok(mut slot) = warnings.lock() {
            *slot = w;
        }
        Ok(out)
    };
    let opts = WriteOptions {
        dry_run: admit.dry_run,
        manager: None,
        force_allow_create: ri.subresource.is_empty(),
    };
    let (out, created) = store
        .update_with(ns, &ri.name, &apply, &|n, o| checks.run(n, o), &opts)
        .await?;
    let warnings = warnings.into_inner().unwrap_or_default();
    let code = if created { 201 } else { 200 };
    Ok(with_warnings(
        negotiated_response(code, &out, n, req.pretty()),
        &warnings,
    ))
}

/// An apply patch's body (YAML or JSON) as an object, with the fields it
/// repeats.
fn decode_apply_config(body: &[u8]) -> Result<(Value, Vec<String>), StatusError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((json!({}), Vec::new()));
    }
    codec::decode_checked(body, Format::Yaml).map_err(|e| {
        // A body that is not a map: name the map it must be.
        let not_a_map = e
            .message
            .split_once("cannot unmarshal ")
            .and_then(|(_, rest)| rest.split_once(" into"))
            .map(|(what, _)| what.to_string());
        let detail = match not_a_map {
            Some(what) => format!(
                "error unmarshaling JSON: json: cannot unmarshal {what} into Go value of type map[string]interface {{}}"
            ),
            None => e.message,
        };
        StatusError::bad_request(format!("error decoding YAML: {detail}"))
    })
}

/// The admission chain bound to one request.
struct Admission<'a> {
    scope: &'a Scope,
    req: &'a ApiRequest,
    resource: kaiser_apimachinery::GroupResource,
    namespace: &'a str,
    dry_run: bool,
}

impl Admission<'_> {
    /// The mutating phase on a new object.
    async fn mutate(
        &self,
        operation: Operation,
        name: &str,
        object: &mut Value,
    ) -> Result<(), StatusError> {
        // Mutating plugins get the object itself, not in the attributes.
        self.scope
            .admission
            .admit(
                &Attributes {
                    operation,
                    resource: self.resource.clone(),
                    subresource: &self.req.info.subresource,
                    namespace: self.namespace,
                    name,
                    object: None,
                    user: &self.req.user,
                    dry_run: self.dry_run,
                },
                object,
            )
            .await
    }

    /// The checks admission runs on the final object inside the write.
    async fn write_checks(
        &self,
        operation: Operation,
        name: &str,
        object: Option<&Value>,
    ) -> Result<kaiser_admission::WriteChecks, StatusError> {
        self.scope
            .admission
            .write_checks(&Attributes {
                operation,
                resource: self.resource.clone(),
                subresource: &self.req.info.subresource,
                namespace: self.namespace,
                name,
                object,
                user: &self.req.user,
                dry_run: self.dry_run,
            })
            .await
    }

    async fn check(
        &self,
        operation: Operation,
        name: &str,
        object: Option<&Value>,
    ) -> Result<(), StatusError> {
        self.scope
            .admission
            .validate(&Attributes {
                operation,
                resource: self.resource.clone(),
                subresource: &self.req.info.subresource,
                namespace: self.namespace,
                name,
                object,
                user: &self.req.user,
                dry_run: self.dry_run,
            })
            .await
    }
}

/// Plain compact JSON of the object itself: served from stored bytes.
fn plain_json(n: Negotiated, pretty: bool) -> bool {
    n.format == Format::Json && n.target == Target::Object && !pretty
}

fn dry_run(req: &ApiRequest) -> Result<bool, StatusError> {
    let mut dry = false;
    for (k, v) in req.query_pairs() {
        if k == "dryRun" {
            if v != "All" {
                return Err(StatusError::bad_request(format!(
                    "Invalid dryRun value: dryRun: Unsupported value: {v:?}: supported values: \"All\""
                )));
            }
            dry = true;
        }
    }
    Ok(dry)
}

/// `fieldValidation`: what happens to unknown and repeated fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

fn field_validation(req: &ApiRequest) -> Result<FieldValidation, StatusError> {
    match req.query("fieldValidation").unwrap_or("") {
        "" | "Warn" => Ok(FieldValidation::Warn),
        "Ignore" => Ok(FieldValidation::Ignore),
        "Strict" => Ok(FieldValidation::Strict),
        other => Err(StatusError::bad_request(format!(
            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// Checks a decoded object against its kind's schema, dropping fields the
/// schema does not declare; returns the warnings to send (Warn), or the
/// error (Strict, or a value of the wrong type).
fn check_schema(
    store: &Store,
    obj: &mut Value,
    duplicates: Vec<String>,
    validation: FieldValidation,
) -> Result<Vec<String>, StatusError> {
    let info = &store.info;
    let report = match store.strategy.prune(obj) {
        Some(unknown) => schema::FieldReport {
            unknown,
            type_error: None,
        },
        None => schema::check_fields(&info.definition_name(), obj),
    };
    let cannot = |detail: String| {
        StatusError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: {detail}",
            kind = info.kind,
            version = info.version,
        ))
    };
    if let Some(e) = report.type_error {
        return Err(cannot(e));
    }
    let problems: Vec<String> = report
        .unknown
        .iter()
        .map(|p| format!("unknown field {p:?}"))
        .chain(duplicates.iter().map(|p| format!("duplicate field {p:?}")))
        .collect();
    match validation {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(problems),
        FieldValidation::Strict if problems.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(cannot(format!(
            "strict decoding error: {}",
            problems.join(", ")
        ))),
    }
}

/// GET, PUT and PATCH of `…/scale`: an `autoscaling/v1` `Scale` view of the
/// object; writes change only the replicas at the spec path.
async fn serve_scale(
    store: &Arc<Store>,
    req: &ApiRequest,
    ns: &str,
    admit: &Admission<'_>,
) -> Result<Response, StatusError> {
    let ri = &req.info;
    let Some(paths) = store.info.scale.clone() else {
        return Err(StatusError::path_not_found());
    };
    let n = negotiation::negotiate(req.header(header::ACCEPT), negotiation::PLAIN)?;
    let pretty = req.pretty();
    let name = ri.name.as_str();
    let out = match ri.verb.as_str() {
        "get" => store.get(ns, name).await?,
        "update" | "patch" => {
            let (patch_type, manager, force) = if ri.verb == "patch" {
                let ct = req.header(header::CONTENT_TYPE).unwrap_or("");
                let base = ct.split(';').next().unwrap_or("").trim();
                let Some(t) = PatchType::from_content_type(base) else {
                    return Err(StatusError::unsupported_media_type(ct));
                };
                let (m, f) = fieldmanager::for_patch(req, t == PatchType::Apply)?;
                (Some(t), m, f)
            } else {
                (None, fieldmanager::for_write(req, "UpdateOptions")?, false)
            };
            let sent = match patch_type {
                None => Some(decode_body(store, req)?.0),
                Some(PatchType::Apply) => Some(decode_apply_config(&req.body)?.0),
                Some(_) => None,
            };
            admit.check(Operation::Update, name, None).await?;
            let apply = |old: Option<&Value>| {
                let old =
                    old.ok_or_else(|| StatusError::not_found(&store.info.group_resource(), name))?;
                let view = || fieldmanager::scale_view(store, old, &paths);
                let write = match (&sent, patch_type) {
                    (Some(config), Some(PatchType::Apply)) => ScaleWrite::Apply { config, force },
                    (Some(body), _) => ScaleWrite::Computed(body.clone()),
                    (None, Some(PatchType::Json)) => {
                        ScaleWrite::Computed(patch::apply_json_patch(&view(), &req.body)?)
                    }
                    (None, _) => {
                        ScaleWrite::Computed(patch::apply_merge_patch(&view(), &req.body)?)
                    }
                };
                let (scale, owners) =
                    fieldmanager::scale_write(store, old, &paths, write, &manager)?;
                let replicas = scale::replicas_of(&scale, name)?;
                let rv = meta::resource_version(&scale).to_string();
                let mut new = old.clone();
                scale::apply(&mut new, &paths, replicas, &rv);
                kaiser_apimachinery::managedfields::entries::set(&mut new, &owners);
                Ok(new)
            };
            let opts = WriteOptions {
                dry_run: admit.dry_run,
                ..Default::default()
            };
            store
                .update_with(ns, name, &apply, &admit_all, &opts)
                .await?
                .0
        }
        _ => {
            let verb = format!("{} on scale", ri.verb);
            return Err(StatusError::method_not_supported(
                &store.info.group_resource(),
                &verb,
            ));
        }
    };
    Ok(negotiated_response(
        200,
        &fieldmanager::scale_view(store, &out, &paths),
        n,
        pretty,
    ))
}

/// Adds one `Warning: 299 - "…"` header per message, as upstream does.
fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = header::HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// The request body as an object, with the fields it repeats.
fn decode_body(store: &Store, req: &ApiRequest) -> Result<(Value, Vec<String>), StatusError> {
    if req.body.is_empty() {
        return Err(StatusError::bad_request(
            "the request body is empty; an object was expected",
        ));
    }
    let ct = req.header(header::CONTENT_TYPE);
    if protobuf::is_media_type(ct) {
        // Built-in kinds have a protobuf form; custom resources do not.
        if !protobuf::has_message(&store.info.definition_name()) {
            return Err(StatusError::unsupported_media_type(protobuf::MEDIA_TYPE));
        }
        // The envelope names the body's type: the kind itself, or a
        // subresource's (autoscaling/v1 Scale); check_type judges it.
        let obj = protobuf::decode_typed(&req.body).map_err(|e| {
            StatusError::bad_request(format!("unable to decode the protobuf body: {e}"))
        })?;
        return Ok((obj, Vec::new()));
    }
    codec::decode_checked(&req.body, negotiation::body_format(ct)?)
}

/// Fills in and checks `apiVersion`, `kind` and `metadata.namespace`.
fn check_type(store: &Store, obj: &mut Value, ns: &str) -> Result<(), StatusError> {
    let info = &store.info;
    let expected_gv = info.api_version();
    let Some(o) = obj.as_object_mut() else {
        return Err(StatusError::bad_request("the body must be a JSON object"));
    };
    let api_version = o
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = o
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !api_version.is_empty() && GroupVersion::parse(&api_version) != info.group_version() {
        return Err(StatusError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected_gv})"
        )));
    }
    if !kind.is_empty() && kind != info.kind {
        return Err(StatusError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): kind {kind:?} was given",
            info.kind
        )));
    }
    o.insert("apiVersion".into(), Value::from(expected_gv));
    o.insert("kind".into(), Value::from(info.kind.clone()));
    if info.namespaced {
        let body_ns = meta::namespace(obj).to_string();
        if body_ns.is_empty() {
            meta::set_str(obj, "namespace", ns);
        } else if body_ns != ns {
            return Err(StatusError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

fn check_patched_type(obj: &mut Value, expected_gv: &str, kind: &str) -> Result<(), StatusError> {
    let Some(o) = obj.as_object_mut() else {
        return Err(StatusError::bad_request(
            "the patch produced something that is not an object",
        ));
    };
    let av = o
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or(expected_gv);
    let k = o.get("kind").and_then(Value::as_str).unwrap_or(kind);
    if av != expected_gv || k != kind {
        return Err(StatusError::bad_request(format!(
            "the patch changed the object's type to {av}, Kind={k}; it must stay {expected_gv}, Kind={kind}"
        )));
    }
    Ok(())
}

/// A patch may not rename an object or move it to another namespace.
fn check_patched_name(obj: &Value, name: &str, ns: &str) -> Result<(), StatusError> {
    let got = meta::name(obj);
    if !got.is_empty() && got != name {
        return Err(StatusError::bad_request(format!(
            "the name of the object ({got}) does not match the name on the URL ({name})"
        )));
    }
    let got_ns = meta::namespace(obj);
    if !got_ns.is_empty() && got_ns != ns {
        return Err(StatusError::bad_request(format!(
            "the namespace of the object ({got_ns}) does not match the namespace on the URL ({ns})"
        )));
    }
    Ok(())
}

fn delete_options(
    req: &ApiRequest,
    dry_run: bool,
    scope: &Scope,
) -> Result<DeleteOptions, StatusError> {
    let mut opts = DeleteOptions {
        dry_run,
        without_garbage_collector: !scope.garbage_collector,
        ..Default::default()
    };
    if !req.body.is_empty() {
        let format = negotiation::body_format(req.header(header::CONTENT_TYPE))?;
        let body = codec::decode(&req.body, format)?;
        opts.grace_period_seconds = body.get("gracePeriodSeconds").and_then(Value::as_i64);
        opts.propagation_policy = body
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        opts.orphan_dependents = body.get("orphanDependents").and_then(Value::as_bool);
        if let Some(p) = body.get("preconditions") {
            opts.precondition_uid = p.get("uid").and_then(Value::as_str).map(str::to_string);
            opts.precondition_resource_version = p
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(d) = body.get("dryRun").and_then(Value::as_array) {
            for v in d {
                if v.as_str() != Some("All") {
                    return Err(StatusError::bad_request(format!(
                        "Invalid dryRun value: dryRun: Unsupported value: {v}: supported values: \"All\""
                    )));
                }
                opts.dry_run = true;
            }
        }
    }
    if let Some(g) = req.query("gracePeriodSeconds") {
        opts.grace_period_seconds =
            Some(g.parse().map_err(|_| {
                StatusError::bad_request(format!("invalid gracePeriodSeconds: {g:?}"))
            })?);
    }
    if let Some(p) = req.query("propagationPolicy") {
        opts.propagation_policy = Some(p.to_string());
    }
    if let Some(o) = req.query("orphanDependents") {
        opts.orphan_dependents =
            Some(o.parse().map_err(|_| {
                StatusError::bad_request(format!("invalid orphanDependents: {o:?}"))
            })?);
    }
    if opts.orphan_dependents.is_some() && opts.propagation_policy.is_some() {
        return Err(StatusError::new(
            422,
            "Invalid",
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"null\": orphanDependents and deletionPropagation cannot be both set",
        ));
    }
    if let Some(p) = &opts.propagation_policy
        && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
    {
        return Err(StatusError::new(
            422,
            "Invalid",
            format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            ),
        ));
    }
    Ok(opts)
}

fn include_object(req: &ApiRequest) -> Result<IncludeObject, StatusError> {
    IncludeObject::parse(req.query("includeObject").unwrap_or("")).map_err(|m| {
        StatusError::bad_request(format!("Unable to convert to Table as requested: {m}"))
    })
}

/// A table of `objs`; `headers` adds the column definitions.
fn to_table(
    store: &Store,
    req: &ApiRequest,
    objs: Vec<Value>,
    list_meta: Value,
    headers: bool,
) -> Result<Value, StatusError> {
    let include = include_object(req)?;
    let strategy = &store.strategy;
    let rows = objs
        .into_iter()
        .map(|o| row_of(store, o, include))
        .collect();
    let cols = headers.then(|| strategy.table_columns());
    Ok(table::table(cols, rows, list_meta))
}

/// A Table row's cells and object for `obj`.
fn row_of(store: &Store, obj: Value, include: IncludeObject) -> (Vec<Value>, Value) {
    (store.table_row(&obj), table::row_object(obj, include))
}

/// A `PartialObjectMetadataList` of `items`.
fn partial_list(list_meta: Value, items: Value) -> Value {
    codec::object([
        ("kind", Value::from("PartialObjectMetadataList")),
        ("apiVersion", Value::from("meta.k8s.io/v1")),
        ("metadata", list_meta),
        ("items", items),
    ])
}

fn respond_object(
    store: &Store,
    req: &ApiRequest,
    code: u16,
    obj: Value,
    n: Negotiated,
    pretty: bool,
) -> Result<Response, StatusError> {
    let body = match n.target {
        Target::Table => {
            let list_meta = json!({"resourceVersion": meta::resource_version(&obj)});
            to_table(store, req, vec![obj], list_meta, true)?
        }
        Target::PartialObjectMetadata => table::partial_object_metadata(obj),
        Target::PartialObjectMetadataList => {
            return Err(StatusError::not_acceptable(
                "you requested PartialObjectMetadataList, but the requested object is not a list",
            ));
        }
        _ => obj,
    };
    Ok(negotiated_response(code, &body, n, pretty))
}

fn respond_list(
    store: &Store,
    req: &ApiRequest,
    mut list: Value,
    n: Negotiated,
    pretty: bool,
) -> Result<Response, StatusError> {
    // The items and metadata move out of the list for the other forms.
    let mut take = |field: &str| list.get_mut(field).map(Value::take);
    let body = match n.target {
        Target::Table | Target::PartialObjectMetadataList => {
            let items = match take("items") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let list_meta = take("metadata").unwrap_or_else(|| json!({}));
            if n.target == Target::Table {
                to_table(store, req, items, list_meta, true)?
            } else {
                let partial = items.into_iter().map(table::partial_object_metadata);
                partial_list(list_meta, partial.collect())
            }
        }
        _ => list,
    };
    Ok(negotiated_response(200, &body, n, pretty))
}

/// Stored objects as a list in the negotiated form. Plain JSON is spliced
/// from the stored bytes; other JSON forms are rendered item by item as
/// sent; only YAML and lists a conversion webhook converts page by page are
/// decoded whole.
fn list_response(
    store: &Arc<Store>,
    req: &ApiRequest,
    kvs: Vec<Arc<KeyValue>>,
    list_meta: Value,
    n: Negotiated,
    pretty: bool,
) -> Result<Response, StatusError> {
    if plain_json(n, pretty) && !store.converts() {
        let list = store.json_list(kvs, &list_meta)?;
        return chunked_response(list, "application/json");
    }
    if n.format == Format::Json && store.decodes_alone() {
        let include = include_object(req)?;
        let (doc, render) = item_renderer(store, include, list_meta, n.target, pretty);
        let list = listing::RenderedList::new(doc, kvs, pretty, render)?;
        return chunked_response(list, &n.content_type());
    }
    respond_list(store, req, store.list_of(&kvs, list_meta)?, n, pretty)
}

/// A list body made chunk by chunk: the first 128 KiB before the response
/// starts, so a small list gets its exact length and a large one is
/// compressed for clients that accept gzip.
fn chunked_response<I>(chunks: I, content_type: &str) -> Result<Response, StatusError>
where
    I: Iterator<Item = Result<Bytes, StatusError>> + Send + Sync + Unpin + 'static,
{
    let mut r = http::Response::new(ChunkedBody::start(chunks, crate::generic::GZIP_THRESHOLD)?);
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(r)
}

/// The list document of a JSON LIST in any form but plain JSON (pretty,
/// `Table`, `PartialObjectMetadataList`), and how each item is rendered
/// into it, only as the chunk that carries it is made.
fn item_renderer(
    store: &Arc<Store>,
    include: IncludeObject,
    list_meta: Value,
    target: Target,
    pretty: bool,
) -> (Value, listing::Render) {
    use listing::Item;
    let items = json!([listing::ITEMS]);
    let s = store.clone();
    match target {
        Target::Table => {
            let mut doc = table::table(Some(s.strategy.table_columns()), Vec::new(), list_meta);
            doc["rows"] = items;
            // Rows from the stored bytes where they are what the decoded
            // object would give.
            let from_bytes = !pretty
                && !s.converts()
                && include != IncludeObject::Object
                && !s.strategy.row_reads_managed_fields();
            let render = move |kv: &KeyValue| {
                if from_bytes && let Some(row) = listing::table_row_json(&s, kv, include)? {
                    return Ok(Item::Json(row));
                }
                let (cells, object) = row_of(&s, s.decode(kv)?, include);
                Ok(Item::Value(table::row(cells, object)))
            };
            (doc, Box::new(render))
        }
        Target::PartialObjectMetadataList => {
            let from_bytes = !pretty && !s.converts();
            let render = move |kv: &KeyValue| {
                if from_bytes && let Some(item) = listing::partial_json(kv) {
                    return Ok(Item::Json(item));
                }
                Ok(Item::Value(table::partial_object_metadata(s.decode(kv)?)))
            };
            (partial_list(list_meta, items), Box::new(render))
        }
        _ => {
            // Pretty objects are re-indented from the stored bytes, with
            // the revision where decoding would put it.
            let from_bytes = !s.converts();
            let render = move |kv: &KeyValue| {
                if from_bytes {
                    let mut out = Vec::with_capacity(kv.value.len() + 32);
                    let (value, rev) = (&kv.value, kv.mod_revision);
                    if kaiser_registry::splice_revision_last(&mut out, value, rev) {
                        return Ok(Item::Json(out));
                    }
                }
                s.decode(kv).map(Item::Value)
            };
            (store.list_document(list_meta, items), Box::new(render))
        }
    }
}

async fn serve_watch(
    store: &Arc<Store>,
    scope: &Scope,
    req: &ApiRequest,
    ns: &str,
    opts: ListOptions,
    n: Negotiated,
) -> Result<Response, StatusError> {
    let include = include_object(req)?;
    let timeout = opts
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WATCH_TIMEOUT);
    let bookmarks = opts.allow_watch_bookmarks;
    let mut w = store.watch(ns, &opts).await?;
    match n.target {
        Target::Object => w.serve_stored_bytes(),
        Target::PartialObjectMetadata | Target::PartialObjectMetadataList => {
            w.serve_stored_metadata()
        }
        _ => {}
    }
    let stopping = scope.shutdown.clone();
    let mut shutdown = scope.shutdown.clone();
    let stop: ShutdownFuture = Box::pin(async move {
        loop {
            let stopping = *shutdown.borrow();
            if stopping || shutdown.changed().await.is_err() {
                return;
            }
        }
    });
    let body = WatchBody {
        watch: w,
        store: store.clone(),
        target: n.target,
        include,
        headers: true,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        ticker: bookmarks.then(|| {
            tokio::time::interval_at(
                tokio::time::Instant::now() + BOOKMARK_INTERVAL,
                BOOKMARK_INTERVAL,
            )
        }),
        shutdown: std::sync::Mutex::new(stop),
        stopping,
        done: false,
    };
    let mut resp = http::Response::new(http_body_util::BodyExt::boxed(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;stream=watch"),
    );
    Ok(resp)
}

/// How many bytes of already released watch events one body frame
/// gathers.
const WATCH_FRAME_BYTES: usize = 256 << 10;

type ShutdownFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A watch response: each poll of the body takes the next event straight
/// from the watch (no task or channel per watcher in between), until the
/// watch ends, its timeout passes, the server shuts down or the client
/// goes (hyper then drops the body, and with it the watch).
struct WatchBody {
    watch: kaiser_registry::ObjectWatch,
    store: Arc<Store>,
    target: Target,
    include: IncludeObject,
    /// Whether the next Table event still needs its column definitions.
    headers: bool,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// Bookmark ticks, when the client allows bookmarks.
    ticker: Option<tokio::time::Interval>,
    /// Behind a mutex only so the body is `Sync`; never contended.
    shutdown: std::sync::Mutex<ShutdownFuture>,
    /// The shutdown flag itself, read while events keep coming.
    stopping: tokio::sync::watch::Receiver<bool>,
    done: bool,
}

impl http_body::Body for WatchBody {
    type Data = Bytes;
    type Error = crate::passthrough::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // Events already released (the rest of a revision, or of the
        // initial state) are sent whatever the clock: a client must not end
        // up with part of a revision, from which it would resume. An event
        // ready to send costs two cheap checks (clock and flag); only a
        // watch that has to wait registers for the timeout and the
        // shutdown, which is what wakes it for them.
        let released = this.watch.next_queued();
        let fresh = released.is_none();
        let polled = match released {
            Some(e) => Poll::Ready(Some(e)),
            None => this.watch.poll_next(cx),
        };
        let event = match polled {
            Poll::Ready(Some(e)) => {
                let late = tokio::time::Instant::now() >= this.deadline.deadline();
                if fresh && (late || *this.stopping.borrow()) {
                    this.done = true;
                    return Poll::Ready(None);
                }
                e
            }
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {
                let stopping = this
                    .shutdown
                    .lock()
                    .map(|mut f| f.as_mut().poll(cx).is_ready())
                    .unwrap_or(true);
                if stopping || this.deadline.as_mut().poll(cx).is_ready() {
                    this.done = true;
                    return Poll::Ready(None);
                }
                let tick = this
                    .ticker
                    .as_mut()
                    .is_some_and(|t| t.poll_tick(cx).is_ready());
                if !tick {
                    return Poll::Pending;
                }
                this.watch.bookmark()
            }
        };
        let mut encode =
            |e| encode_event(&this.store, e, this.target, this.include, &mut this.headers);
        let mut line = encode(event);
        // What is already released goes in the same frame (up to a bound),
        // so a revision's events usually reach the client together.
        if this.watch.has_queued() {
            let mut frame = bytes::BytesMut::from(&line[..]);
            while frame.len() < WATCH_FRAME_BYTES {
                let Some(e) = this.watch.next_queued() else {
                    break;
                };
                frame.extend_from_slice(&encode(e));
            }
            line = frame.freeze();
        }
        Poll::Ready(Some(Ok(http_body::Frame::data(line))))
    }
}

/// One watch event as a JSON line, converted to a table row when asked.
fn encode_event(
    store: &Store,
    e: WatchEvent,
    target: Target,
    include: IncludeObject,
    headers: &mut bool,
) -> Bytes {
    if let Some(line) = e.raw {
        return line;
    }
    let object = match (target, e.kind) {
        (_, "ERROR" | "BOOKMARK") => e.object,
        (Target::Table, _) => {
            let list_meta = json!({"resourceVersion": meta::resource_version(&e.object)});
            let row = row_of(store, e.object, include);
            let cols = std::mem::take(headers).then(|| store.strategy.table_columns());
            table::table(cols, vec![row], list_meta)
        }
        (Target::PartialObjectMetadata | Target::PartialObjectMetadataList, _) => {
            table::partial_object_metadata(e.object)
        }
        _ => e.object,
    };
    let mut line = codec::encode(
        &codec::object([("type", Value::from(e.kind)), ("object", object)]),
        Format::Json,
        false,
    );
    line.push(b'\n');
    Bytes::from(line)
}
