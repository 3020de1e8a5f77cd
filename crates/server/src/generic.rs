//! The generic API server around the chain: the filters that run once per
//! request (panic recovery, request info, authentication, audit,
//! impersonation, authorization, body limit, timeout) and the paths
//! PrepareRun installs (health, version, OpenAPI).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use kaiser_apimachinery::StatusError;
use kaiser_auth::authn::union::{Authenticator, ClientCertificate};
use kaiser_auth::{Attributes, Decision};
use serde_json::Value;

use crate::healthz::{self, HealthChecks};
use crate::http::{ApiRequest, Handler, Response, json_response, status_response};
use crate::openapi;
use crate::request_info;
use crate::resource_table::ResourceTable;

/// Request bodies above this are refused with 413, as upstream (3 MiB).
pub const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;
/// Non-watch requests end after this (upstream's `--request-timeout`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything the serving loop needs to answer a request.
pub struct GenericServer {
    /// Aggregator → KubeAPIServer → APIExtensionsServer → 404.
    pub chain: Handler,
    pub health: HealthChecks,
    /// The `/version` document.
    pub version: Value,
    /// Every table whose resources appear in OpenAPI.
    pub tables: Vec<Arc<ResourceTable>>,
    /// The OpenAPI documents, cached per set of served resources.
    pub openapi: openapi::OpenApi,
    /// Who sent a request: every authenticator, in upstream's order.
    pub authn: Arc<Authenticator>,
    /// Every authorization mode in order (`--authorization-mode`); without
    /// one only `system:masters` may do anything.
    pub authorizer: Option<Arc<dyn kaiser_auth::Authorizer>>,
    /// The audit policy and backends, when auditing is on.
    pub audit: Option<Arc<kaiser_auth::audit::Auditor>>,
    /// Serves what it claims before the body is read (the aggregator's proxy).
    pub passthrough: Option<Arc<dyn crate::passthrough::Passthrough>>,
    /// The service-account issuer's discovery documents (configuration,
    /// key set), when the issuer is an https URL.
    pub oidc: Option<(Bytes, Bytes)>,
}

/// Where upstream serves the service-account issuer's discovery documents.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/openid/v1/jwks";

impl GenericServer {
    /// Every authorization mode in order; without any, only `system:masters`
    /// may do anything.
    pub(crate) async fn authorize(&self, attrs: &Attributes<'_>) -> Decision {
        match &self.authorizer {
            Some(a) => a.authorize(attrs).await,
            None => {
                kaiser_auth::Authorizer::authorize(
                    &kaiser_auth::authz::PrivilegedGroups::masters(),
                    attrs,
                )
                .await
            }
        }
    }

    /// Every store the servers serve, for the OpenAPI documents.
    fn all_stores(&self) -> Vec<Arc<kaiser_registry::Store>> {
        self.tables.iter().flat_map(|t| t.all()).collect()
    }

    /// Builds the OpenAPI documents in the background once `after` has
    /// passed (start-up done, the CRDs on disk served), off the request
    /// path: otherwise the first kubectl create or apply waits for them.
    pub fn warm_openapi(self: &Arc<Self>, after: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tokio::task::spawn_blocking(move || me.openapi.warm(&me.all_stores())).await;
        });
    }

    /// Serves one request from a connection whose client certificate (if
    /// any) was checked into `cert`.
    pub async fn handle(
        self: Arc<Self>,
        mut req: http::Request<Incoming>,
        cert: Option<Arc<ClientCertificate>>,
    ) -> Response {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let accepts_gzip = req
            .headers()
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|e| e.split(';').next().map(str::trim) == Some("gzip"))
            });
        let (audit_id, audit) = self.audit_start(&mut req);
        let resp = AssertUnwindSafe(self.filters(req, cert))
            .catch_unwind()
            .await;
        let mut resp = resp.unwrap_or_else(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(%method, %path, panic = %msg, "handler panicked");
            if let Some(a) = &audit {
                a.panicked(&msg);
            }
            status_response(&StatusError::internal(
                "a handler panicked; see the server log",
            ))
        });
        resp = crate::audit::finish(audit, &method, resp).await;
        crate::audit::set_audit_id(&mut resp, &audit_id);
        // Every response is for an authenticated caller: no shared caches
        // (upstream's WithCacheControl), unless a handler chose otherwise.
        resp.headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(header::HeaderValue::from_static("no-cache, private"));
        if accepts_gzip {
            resp = gzip_large(resp);
        }
        tracing::debug!(%method, %path, code = resp.status().as_u16(), latency_us = started.elapsed().as_micros() as u64, "request");
        resp
    }

    async fn filters(
        &self,
        req: http::Request<Incoming>,
        cert: Option<Arc<ClientCertificate>>,
    ) -> Response {
        let (mut parts, body) = req.into_parts();
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let watch_param = query
            .iter()
            .any(|(k, v)| k == "watch" && matches!(v.as_str(), "true" | "1" | ""));
        let info = request_info::parse(&parts.method, parts.uri.path(), watch_param);

        // Authentication: a credential that fails is a 401; none at all is
        // the anonymous user, unless anonymous requests are off.
        let user = match self
            .authn
            .authenticate(&mut parts.headers, cert.as_deref())
            .await
        {
            Ok(u) => u,
            Err(e) => {
                tracing::info!(error = %e, "Unable to authenticate the request");
                return status_response(&StatusError::unauthorized("Unauthorized"));
            }
        };

        // Audit (the policy decides on the authenticated user), then
        // impersonation: everything after sees the impersonated user.
        let audit = self.audit_begin(&parts, &info, &user);
        let user = match self.impersonate(&mut parts, user, audit.as_deref()).await {
            Ok(u) => u,
            Err(resp) => return resp,
        };

        // Authorization.
        let attrs = info.attributes(&user);
        let decision = self.authorize(&attrs).await;
        if let Some(a) = &audit {
            a.authorized(decision.allowed(), "");
        }
        if !decision.allowed() {
            let why = kaiser_auth::authz::forbidden_with_reason(&attrs, &decision);
            let err = if info.is_resource_request {
                let gr = kaiser_apimachinery::GroupResource::new(&info.api_group, &info.resource);
                StatusError::forbidden_object(&gr, &info.name, &why)
            } else {
                StatusError::forbidden(format!("forbidden: {why}"))
            };
            return status_response(&err);
        }

        if !info.is_resource_request
            && let Some(r) = self.non_resource(&parts, &info.path, &query).await
        {
            return r;
        }

        if let Some(p) = self.passthrough.as_ref().filter(|p| p.claims(&info)) {
            let long = crate::passthrough::is_long_running(&info);
            let body = body.map_err(crate::passthrough::BoxError::from).boxed();
            let fut = p.serve(crate::passthrough::RawRequest {
                parts,
                body,
                info,
                user,
            });
            return if long {
                fut.await
            } else {
                within_timeout(fut).await
            };
        }

        // Bodies are read whole, up to the limit.
        let body = match Limited::new(body, MAX_REQUEST_BODY_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return status_response(&StatusError::request_entity_too_large(format!(
                    "Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}"
                )));
            }
            Err(e) => {
                return status_response(&StatusError::bad_request(format!(
                    "error reading the request body: {e}"
                )));
            }
        };
        if let Some(a) = &audit {
            a.request_body(&info.verb, &body);
        }
        let is_watch = info.verb == "watch";
        let req = ApiRequest {
            parts,
            body,
            info,
            user,
            query,
        };
        let fut = (self.chain)(req);
        if is_watch {
            return fut.await;
        }
        within_timeout(fut).await
    }

    /// Health, version and OpenAPI paths.
    async fn non_resource(
        &self,
        parts: &http::request::Parts,
        path: &str,
        query: &[(String, String)],
    ) -> Option<Response> {
        if let Some(r) = healthz::serve(&self.health, path, query).await {
            return Some(r);
        }
        if path.starts_with("/openapi/") {
            return self
                .openapi
                .serve(&self.all_stores(), path, query, &parts.headers);
        }
        let discovery = |body: &Bytes, content_type: &str| {
            let mut r = crate::http::bytes_response(200, content_type, body.clone());
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                http::HeaderValue::from_static("public, max-age=3600"),
            );
            r
        };
        match (path, &self.oidc) {
            ("/version" | "/version/", _) => Some(json_response(200, &self.version, false)),
            (OPENID_CONFIGURATION_PATH, Some((config, _))) => {
                Some(discovery(config, "application/json"))
            }
            (JWKS_PATH, Some((_, keys))) => Some(discovery(keys, "application/jwk-set+json")),
            _ => None,
        }
    }
}

/// The response, or the 504 `Status` of a request that ran out of time.
async fn within_timeout(fut: impl std::future::Future<Output = Response>) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => status_response(&StatusError::timeout(
            "request did not complete within requested timeout - context deadline exceeded",
        )),
    }
}

/// Responses at least this large are gzip-compressed for clients that accept
/// it, as upstream's APIResponseCompression does.
pub const GZIP_THRESHOLD: u64 = 128 * 1024;

/// Compresses a body known to reach the threshold: a complete one, or a
/// LIST whose first chunks do (watch streams never announce a length).
fn gzip_large(resp: Response) -> Response {
    use http_body::Body as _;
    let big = resp.body().size_hint().lower() >= GZIP_THRESHOLD;
    if !big || resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    parts.headers.insert(
        header::CONTENT_ENCODING,
        http::HeaderValue::from_static("gzip"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    http::Response::from_parts(parts, crate::http::GzipBody::body(body))
}
