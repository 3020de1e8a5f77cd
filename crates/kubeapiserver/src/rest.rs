//! Built-in endpoints that are not stored objects: the review kinds
//! (SelfSubjectReview, TokenReview, SubjectAccessReview and its local, self
//! and rules variants), `bindings` and `pods/binding`, `pods/eviction`
//! (honouring PodDisruptionBudgets), and `componentstatuses`. Their
//! [`infos`] join the resource table for discovery and OpenAPI; [`handler`]
//! answers them before the generic handlers see the request.

use std::sync::Arc;

use http::header;
use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::{GroupResource, StatusError, codec, labels, meta, protobuf, time};
use kaiser_auth::{Attributes, Decision, UserInfo, UserRules};
use kaiser_registry::{DeleteOptions, ResourceInfo, Store};
use kaiser_server::http::{ApiRequest, Handler, negotiated_response, status_response};
use kaiser_server::negotiation;
use kaiser_storage::Storage;
use serde_json::{Value, json};

const AUTHN: &str = "authentication.k8s.io";
const AUTHZ: &str = "authorization.k8s.io";

/// The discovery entries of the endpoints served here.
pub fn infos() -> Vec<ResourceInfo> {
    let create = |g: &str, r: &str, k: &str, namespaced: bool| {
        ResourceInfo::new(g, "v1", r, k, namespaced).verbs(&["create"])
    };
    vec![
        create("", "bindings", "Binding", true),
        ResourceInfo::new("", "v1", "componentstatuses", "ComponentStatus", false)
            .short_names(&["cs"])
            .verbs(&["get", "list"])
            .deprecated(19, None, ""),
        create(AUTHN, "selfsubjectreviews", "SelfSubjectReview", false),
        create(AUTHN, "tokenreviews", "TokenReview", false),
        create(
            AUTHZ,
            "localsubjectaccessreviews",
            "LocalSubjectAccessReview",
            true,
        ),
        create(
            AUTHZ,
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            false,
        ),
        create(
            AUTHZ,
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
            false,
        ),
        create(AUTHZ, "subjectaccessreviews", "SubjectAccessReview", false),
    ]
}

/// What the endpoints read and write.
#[derive(Clone)]
pub struct Rest {
    pub pods: Arc<Store>,
    pub pdbs: Arc<Store>,
    pub storage: Arc<dyn Storage>,
    /// `etcd-0` or `storage-0`: the component name of the store.
    pub storage_name: String,
    /// `serviceaccounts/token`, when a signing key is configured.
    pub tokens: Option<Arc<crate::tokens::ServiceAccountTokens>>,
    /// Every authorization mode in order, for access and rules reviews.
    pub authorizer: Option<Arc<dyn kaiser_auth::Authorizer>>,
    /// The authenticators, for TokenReview.
    pub authn: Option<Arc<kaiser_auth::authn::union::Authenticator>>,
}

fn none(_: &Value, _: Option<&Value>) -> Result<(), StatusError> {
    Ok(())
}

/// Answers the endpoints of this module; everything else goes to `delegate`.
pub fn handler(rest: Arc<Rest>, delegate: Handler) -> Handler {
    Arc::new(move |req: ApiRequest| {
        let i = &req.info;
        let ours = i.is_resource_request
            && matches!(
                (
                    i.api_group.as_str(),
                    i.resource.as_str(),
                    i.subresource.as_str()
                ),
                ("", "bindings", "")
                    | ("", "componentstatuses", "")
                    | ("", "pods", "binding" | "eviction")
                    | ("", "serviceaccounts", "token")
                    | (AUTHN | AUTHZ, _, "")
            )
            && (i.api_group.is_empty()
                || infos()
                    .iter()
                    .any(|x| x.group == i.api_group && x.resource == i.resource))
            && i.api_version == "v1";
        if !ours {
            return delegate(req);
        }
        let rest = rest.clone();
        Box::pin(async move {
            let deprecation = (req.info.resource == "componentstatuses")
                .then(|| {
                    infos()
                        .into_iter()
                        .find(|i| i.resource == "componentstatuses")
                })
                .flatten()
                .and_then(|i| i.deprecation);
            let offer = if deprecation.is_some() {
                negotiation::OBJECTS
            } else {
                negotiation::PLAIN
            };
            let mut resp = match rest.serve(&req).await {
                Ok((code, body)) => match negotiation::negotiate(req.header(header::ACCEPT), offer)
                {
                    Ok(n) if n.target == negotiation::Target::Table => {
                        negotiated_response(code, &status_table(&body), n, req.pretty())
                    }
                    Ok(n) => negotiated_response(code, &body, n, req.pretty()),
                    Err(e) => status_response(&e),
                },
                Err(e) => status_response(&e),
            };
            if let Some(w) = deprecation
                && let Ok(v) = header::HeaderValue::from_str(&format!("299 - \"{w}\""))
            {
                resp.headers_mut().append(header::WARNING, v);
            }
            resp
        })
    })
}

/// `kubectl get componentstatuses`: NAME STATUS MESSAGE ERROR.
fn status_table(body: &Value) -> Value {
    use kaiser_apimachinery::table::{Column, NAME_COLUMN, table};
    const COLUMNS: &[Column] = &[
        NAME_COLUMN,
        Column::new("Status", "string", "Whether the component is healthy."),
        Column::new("Message", "string", "What the health check said."),
        Column::new("Error", "string", "Why the health check failed."),
    ];
    let items = match body.get("items").and_then(Value::as_array) {
        Some(items) => items.clone(),
        None => vec![body.clone()],
    };
    let rows = items
        .iter()
        .map(|cs| {
            let cond = cs.pointer("/conditions/0");
            let get = |f: &str| cond.and_then(|c| c.get(f)).and_then(Value::as_str).unwrap_or("");
            let status = if get("status") == "True" { "Healthy" } else { "Unhealthy" };
            let cells = vec![json!(meta::name(cs)), json!(status), json!(get("message")), json!(get("error"))];
            (cells, json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": cs.get("metadata")}))
        })
        .collect();
    table(Some(COLUMNS), rows, json!({}))
}

fn body(req: &ApiRequest) -> Result<Value, StatusError> {
    if req.body.is_empty() {
        return Err(StatusError::bad_request("the request body is empty"));
    }
    let ct = req.header(header::CONTENT_TYPE);
    // kubectl and client-go send these built-in kinds as protobuf
    if protobuf::is_media_type(ct) {
        return protobuf::decode_typed(&req.body).map_err(|e| {
            StatusError::bad_request(format!("unable to decode the protobuf body: {e}"))
        });
    }
    let format = negotiation::body_format(ct)?;
    let v = codec::decode(&req.body, format)?;
    if !v.is_object() {
        return Err(StatusError::bad_request("the body must be a JSON object"));
    }
    Ok(v)
}

fn user_json(u: &UserInfo) -> Value {
    let mut out = json!({"username": u.name, "groups": u.groups});
    if !u.uid.is_empty() {
        out["uid"] = json!(u.uid);
    }
    if !u.extra.is_empty() {
        out["extra"] = json!(u.extra);
    }
    out
}

/// The metadata a review answers with: what was sent, plus a null
/// creation timestamp as upstream prints for objects never stored.
fn review_meta(obj: &Value) -> Value {
    let mut m = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(o) = m.as_object_mut() {
        o.entry("creationTimestamp").or_insert(Value::Null);
    }
    m
}

fn check_kind(obj: &Value, api_version: &str, kind: &str) -> Result<(), StatusError> {
    let av = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or(api_version);
    let k = obj.get("kind").and_then(Value::as_str).unwrap_or(kind);
    if av != api_version || k != kind {
        return Err(StatusError::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): kind {k:?} was given"
        )));
    }
    Ok(())
}

impl Rest {
    /// A TokenReview's status, as upstream answers it: the token goes to
    /// the token authenticators for `spec.audiences` (the API audiences
    /// when it names none); a failure's reason is `status.error`.
    async fn review_token(&self, token: &str, spec: Option<&Value>) -> Result<Value, StatusError> {
        let Some(authn) = &self.authn else {
            return Ok(json!({"user": {}}));
        };
        let mut audiences: Vec<String> = spec
            .and_then(|s| s.get("audiences"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if audiences.is_empty() {
            audiences = authn.api_audiences.clone();
        }
        match authn.authenticate_token(token, &audiences).await {
            Ok(Some(a)) => {
                if !audiences.is_empty()
                    && kaiser_auth::authn::intersect(&audiences, &a.audiences).is_empty()
                {
                    return Err(StatusError::internal("error validating audiences"));
                }
                Ok(json!({"authenticated": true, "user": user_json(&a.user),
                    "audiences": a.audiences}))
            }
            Ok(None) => Ok(json!({"user": {}, "error": "invalid bearer token"})),
            Err(e) => Ok(json!({"user": {}, "error": e.0})),
        }
    }

    async fn serve(&self, req: &ApiRequest) -> Result<(u16, Value), StatusError> {
        let i = &req.info;
        let gr = GroupResource::new(&i.api_group, &i.resource);
        match (
            i.api_group.as_str(),
            i.resource.as_str(),
            i.subresource.as_str(),
            i.verb.as_str(),
        ) {
            ("", "componentstatuses", _, "get") => {
                self.component_status(&i.name).await.map(|s| (200, s))
            }
            ("", "componentstatuses", _, "list") => {
                let item = self.component_status(&self.storage_name).await?;
                Ok((
                    200,
                    json!({"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": [item]}),
                ))
            }
            ("", "bindings", _, "create") => {
                let b = body(req)?;
                check_kind(&b, "v1", "Binding")?;
                self.bind(&i.namespace, meta::name(&b), &b).await
            }
            ("", "pods", "binding", "create") => {
                let b = body(req)?;
                check_kind(&b, "v1", "Binding")?;
                if !meta::name(&b).is_empty() && meta::name(&b) != i.name {
                    return Err(StatusError::bad_request(format!(
                        "the name of the object ({}) does not match the name on the URL ({})",
                        meta::name(&b),
                        i.name
                    )));
                }
                self.bind(&i.namespace, &i.name, &b).await
            }
            ("", "pods", "eviction", "create") => {
                let b = body(req)?;
                check_kind(&b, "policy/v1", "Eviction")?;
                self.evict(&i.namespace, &i.name, &b).await
            }
            ("", "serviceaccounts", "token", "create") => {
                let b = body(req)?;
                check_kind(&b, "authentication.k8s.io/v1", "TokenRequest")?;
                match &self.tokens {
                    Some(t) => t.request(&i.namespace, &i.name, &b).await.map(|r| (201, r)),
                    None => Err(StatusError::service_unavailable(
                        "no service account signing key is configured",
                    )),
                }
            }
            (AUTHN, "selfsubjectreviews", _, "create") => {
                let b = body(req)?;
                check_kind(&b, "authentication.k8s.io/v1", "SelfSubjectReview")?;
                Ok((
                    201,
                    json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                    "metadata": review_meta(&b), "status": {"userInfo": user_json(&req.user)}}),
                ))
            }
            (AUTHN, "tokenreviews", _, "create") => {
                let b = body(req)?;
                check_kind(&b, "authentication.k8s.io/v1", "TokenReview")?;
                let token = b
                    .pointer("/spec/token")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if token.is_empty() {
                    return Err(invalid(
                        "TokenReview",
                        AUTHN,
                        "spec.token",
                        "token must be set",
                    ));
                }
                let status = self.review_token(token, b.get("spec")).await?;
                Ok((
                    201,
                    json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                    "metadata": review_meta(&b), "spec": b.get("spec"), "status": status}),
                ))
            }
            (
                AUTHZ,
                r @ ("subjectaccessreviews"
                | "selfsubjectaccessreviews"
                | "localsubjectaccessreviews"),
                _,
                "create",
            ) => self.access_review(req, r).await,
            (AUTHZ, "selfsubjectrulesreviews", _, "create") => {
                let b = body(req)?;
                check_kind(&b, "authorization.k8s.io/v1", "SelfSubjectRulesReview")?;
                if b.pointer("/spec/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    return Err(invalid(
                        "SelfSubjectRulesReview",
                        AUTHZ,
                        "spec.namespace",
                        "no namespace on request",
                    ));
                }
                let ns = b
                    .pointer("/spec/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let rules = match &self.authorizer {
                    Some(a) => a.rules_for(&req.user, ns).await,
                    None => UserRules::default(),
                };
                Ok((
                    201,
                    json!({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                    "metadata": review_meta(&b), "spec": b.get("spec"),
                    "status": rules_status(&rules)}),
                ))
            }
            (_, _, _, verb) => Err(StatusError::method_not_supported(&gr, verb)),
        }
    }

    async fn component_status(&self, name: &str) -> Result<Value, StatusError> {
        if name != self.storage_name {
            return Err(StatusError::not_found(
                &GroupResource::new("", "componentstatuses"),
                name,
            ));
        }
        let probe = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            self.storage.check_health(),
        );
        let condition = match probe.await {
            Ok(Ok(())) => json!({"type": "Healthy", "status": "True", "message": "ok"}),
            Ok(Err(e)) => {
                json!({"type": "Healthy", "status": "False", "message": "", "error": e.to_string()})
            }
            Err(_) => json!({"type": "Healthy", "status": "False", "message": "",
                             "error": "no answer within 2s"}),
        };
        Ok(json!({"kind": "ComponentStatus", "apiVersion": "v1",
            "metadata": {"name": name}, "conditions": [condition]}))
    }

    /// Assigns a pod to a node, as the scheduler does through `binding`.
    async fn bind(
        &self,
        ns: &str,
        pod: &str,
        binding: &Value,
    ) -> Result<(u16, Value), StatusError> {
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = binding
            .pointer("/target/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        if node.is_empty() {
            return Err(invalid("Binding", "", "target.name", "Required value"));
        }
        if !kind.is_empty() && kind != "Node" {
            return Err(invalid(
                "Binding",
                "",
                "target.kind",
                "must be empty or 'Node'",
            ));
        }
        let annotations = binding.pointer("/metadata/annotations").cloned();
        let gr = GroupResource::new("", "pods/binding");
        let apply = |old: Option<&Value>| {
            let mut p = old
                .cloned()
                .ok_or_else(|| StatusError::not_found(&GroupResource::new("", "pods"), pod))?;
            if meta::deletion_timestamp(&p).is_some() {
                return Err(StatusError::conflict(
                    &gr,
                    pod,
                    &format!("pod {pod} is being deleted, cannot be assigned to a host"),
                ));
            }
            let current = p
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !current.is_empty() {
                return Err(StatusError::conflict(
                    &gr,
                    pod,
                    &format!("pod {pod} is already assigned to node {current:?}"),
                ));
            }
            p["spec"]["nodeName"] = json!(node);
            if let Some(Value::Object(a)) = &annotations {
                let m = meta::metadata_mut(&mut p);
                let target = m.entry("annotations").or_insert_with(|| json!({}));
                if let Some(t) = target.as_object_mut() {
                    t.extend(a.clone());
                }
            }
            set_condition(&mut p, "PodScheduled");
            Ok(p)
        };
        // The binding store writes what a binding may change, and nothing else.
        let store = self
            .pods
            .subresource("binding")
            .cloned()
            .unwrap_or_else(|| self.pods.clone());
        store_update(&store, ns, pod, &apply).await?;
        Ok((201, success(201)))
    }

    /// Deletes a pod unless a PodDisruptionBudget forbids it.
    async fn evict(
        &self,
        ns: &str,
        name: &str,
        eviction: &Value,
    ) -> Result<(u16, Value), StatusError> {
        let pod = self.pods.get(ns, name).await?;
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut opts = delete_options(eviction.get("deleteOptions"));
        // Terminal and not-yet-running pods never count against a budget.
        if phase == "Running" || phase.is_empty() {
            let pdbs = self.pdbs.list(ns, &ListOptions::from_query([])?).await?;
            let matching: Vec<&Value> = pdbs["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|pdb| {
                    labels::from_label_selector(pdb.pointer("/spec/selector"))
                        .map(|s| !s.is_empty() && s.matches(meta::labels(&pod)))
                        .unwrap_or(false)
                })
                .collect();
            if matching.len() > 1 {
                return Err(StatusError::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ));
            }
            if let Some(pdb) = matching.first() {
                self.take_disruption(pdb, name).await?;
            }
        }
        opts.dry_run = opts.dry_run
            || eviction
                .pointer("/deleteOptions/dryRun")
                .is_some_and(|d| d.as_array().is_some_and(|a| !a.is_empty()));
        self.pods.delete(ns, name, &opts, &none).await?;
        Ok((201, success(201)))
    }

    async fn take_disruption(&self, pdb: &Value, pod: &str) -> Result<(), StatusError> {
        let pdb_name = meta::name(pdb).to_string();
        let ns = meta::namespace(pdb).to_string();
        let too_many = |pdb: &Value| {
            let allowed = pdb
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let observed = pdb
                .pointer("/status/observedGeneration")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let generation = pdb
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if observed < generation {
                return Some(format!(
                    "The disruption budget {pdb_name} is still being processed by the server."
                ));
            }
            (allowed <= 0).then(|| {
                let desired = pdb.pointer("/status/desiredHealthy").and_then(Value::as_i64).unwrap_or(0);
                let current = pdb.pointer("/status/currentHealthy").and_then(Value::as_i64).unwrap_or(0);
                format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently")
            })
        };
        if let Some(cause) = too_many(pdb) {
            return Err(budget_exceeded(&cause));
        }
        let status_store = self
            .pdbs
            .subresource("status")
            .cloned()
            .unwrap_or_else(|| self.pdbs.clone());
        let apply = |old: Option<&Value>| {
            let mut p = old.cloned().unwrap_or(Value::Null);
            if let Some(cause) = too_many(&p) {
                return Err(budget_exceeded(&cause));
            }
            let allowed = p
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            p["status"]["disruptionsAllowed"] = json!(allowed - 1);
            let disrupted = p["status"]
                .as_object_mut()
                .map(|s| s.entry("disruptedPods").or_insert_with(|| json!({})));
            if let Some(Value::Object(d)) = disrupted {
                d.insert(pod.to_string(), json!(time::now_rfc3339()));
            }
            Ok(p)
        };
        store_update(&status_store, &ns, &pdb_name, &apply).await
    }

    async fn access_review(
        &self,
        req: &ApiRequest,
        resource: &str,
    ) -> Result<(u16, Value), StatusError> {
        let (kind, ns_scoped) = match resource {
            "subjectaccessreviews" => ("SubjectAccessReview", false),
            "selfsubjectaccessreviews" => ("SelfSubjectAccessReview", false),
            _ => ("LocalSubjectAccessReview", true),
        };
        let b = body(req)?;
        check_kind(&b, "authorization.k8s.io/v1", kind)?;
        let spec = b.get("spec").cloned().unwrap_or_else(|| json!({}));
        let ra = spec.get("resourceAttributes");
        let nra = spec.get("nonResourceAttributes");
        let mut errs = ErrorList::new();
        if ra.is_some() == nra.is_some() {
            errs.push(FieldError::invalid(
                "spec.resourceAttributes",
                Value::Null,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ));
        }
        if ns_scoped {
            let ns = ra
                .and_then(|r| r.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if ns != req.info.namespace {
                errs.push(FieldError::invalid(
                    "spec.resourceAttributes.namespace",
                    ns,
                    "must match metadata.namespace",
                ));
            }
        }
        let user = if kind == "SelfSubjectAccessReview" {
            req.user.clone()
        } else {
            let name = spec
                .get("user")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let groups: Vec<String> = spec
                .get("groups")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect();
            if name.is_empty() && groups.is_empty() {
                errs.push(FieldError::invalid(
                    "spec.user",
                    "",
                    "at least one of user or group must be specified",
                ));
            }
            UserInfo {
                name,
                groups,
                ..Default::default()
            }
        };
        if !errs.is_empty() {
            return Err(StatusError::invalid(kind, AUTHZ, "", &errs));
        }
        let s = |v: Option<&Value>, f: &str| {
            v.and_then(|r| r.get(f))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (verb, path) = match ra {
            Some(_) => (s(ra, "verb"), String::new()),
            None => (s(nra, "verb"), s(nra, "path")),
        };
        let (namespace, group, res, sub, name) = (
            s(ra, "namespace"),
            s(ra, "group"),
            s(ra, "resource"),
            s(ra, "subresource"),
            s(ra, "name"),
        );
        let attrs = Attributes {
            user: &user,
            verb: &verb,
            resource_request: ra.is_some(),
            path: &path,
            namespace: &namespace,
            api_group: &group,
            resource: &res,
            subresource: &sub,
            name: &name,
        };
        let decision = match &self.authorizer {
            Some(a) => a.authorize(&attrs).await,
            None => Decision::NoOpinion(String::new()),
        };
        let status = match decision {
            Decision::Allow => json!({"allowed": true}),
            Decision::Deny(reason) => json!({"allowed": false, "denied": true, "reason": reason}),
            Decision::NoOpinion(reason) if reason.is_empty() => json!({"allowed": false}),
            Decision::NoOpinion(reason) => json!({"allowed": false, "reason": reason}),
        };
        Ok((
            201,
            json!({"kind": kind, "apiVersion": "authorization.k8s.io/v1",
            "metadata": review_meta(&b), "spec": spec, "status": status}),
        ))
    }
}

/// A rules review's status, as upstream writes it.
fn rules_status(rules: &UserRules) -> Value {
    let resource: Vec<Value> = rules
        .resource_rules
        .iter()
        .map(|r| {
            let mut v = r.to_json();
            v["verbs"] = json!(r.verbs);
            v
        })
        .collect();
    let non_resource: Vec<Value> = rules
        .non_resource_rules
        .iter()
        .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
        .collect();
    let mut status = json!({"resourceRules": resource, "nonResourceRules": non_resource,
        "incomplete": rules.incomplete});
    if !rules.errors.is_empty() {
        status["evaluationError"] = json!(kaiser_auth::rbac::aggregate(&rules.errors));
    }
    status
}

fn set_condition(pod: &mut Value, kind: &str) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let Some(status) = pod["status"].as_object_mut() else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let now = time::now_rfc3339();
    match list.iter_mut().find(|c| c.get("type").and_then(Value::as_str) == Some(kind)) {
        Some(c) => {
            if c.get("status").and_then(Value::as_str) != Some("True") {
                c["status"] = json!("True");
                c["lastTransitionTime"] = json!(now);
            }
        }
        None => list.push(json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": now})),
    }
}

async fn store_update(
    store: &Store,
    ns: &str,
    name: &str,
    apply: &(dyn Fn(Option<&Value>) -> Result<Value, StatusError> + Sync),
) -> Result<(), StatusError> {
    store
        .update(ns, name, apply, &none, false)
        .await
        .map(|_| ())
}

fn delete_options(v: Option<&Value>) -> DeleteOptions {
    let mut o = DeleteOptions::default();
    let Some(v) = v else { return o };
    o.grace_period_seconds = v.get("gracePeriodSeconds").and_then(Value::as_i64);
    o.precondition_uid = v
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    o.precondition_resource_version = v
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    o
}

fn invalid(kind: &str, group: &str, field: &str, detail: &str) -> StatusError {
    let e = if detail == "Required value" {
        FieldError::required(field, "")
    } else {
        FieldError::invalid(field, Value::Null, detail)
    };
    StatusError::invalid(kind, group, "", &ErrorList(vec![e]))
}

fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

/// Upstream's 429 for an eviction a disruption budget forbids.
fn budget_exceeded(cause: &str) -> StatusError {
    let mut e = StatusError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
    );
    e.details = Some(Box::new(kaiser_apimachinery::status::StatusDetails {
        causes: vec![kaiser_apimachinery::status::StatusCause {
            kind: "DisruptionBudget".into(),
            message: cause.into(),
            field: String::new(),
        }],
        ..Default::default()
    }));
    e
}
