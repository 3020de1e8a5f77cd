//! The HTTP side of the audit and impersonation filters (the logic is in
//! `kaiser_auth::audit` and `kaiser_auth::impersonation`): the audit ID and
//! its `Audit-Id` response header, the per-request recorder carried in the
//! request's extensions, impersonation headers, and the response stages
//! (ResponseComplete once the response is ready; for watches and other
//! streams ResponseStarted first and ResponseComplete when the body ends).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};
use http_body::{Body as _, Frame};
use http_body_util::BodyExt;
use kaiser_apimachinery::field::go_quote;
use kaiser_apimachinery::{GroupResource, StatusError};
use kaiser_auth::audit::event::{RequestFacts, source_ips};
use kaiser_auth::audit::{Level, Recorder, RequestMeta, Stage};
use kaiser_auth::impersonation;
use kaiser_auth::{Attributes, Authorizer, Decision, UserInfo};

use crate::generic::GenericServer;
use crate::http::{Body, Response, bytes_response, full, status_response};
use crate::request_info::{self, RequestInfo};

/// Upstream's audit ID header, on requests (to choose the ID) and on every response.
pub static AUDIT_ID: HeaderName = HeaderName::from_static("audit-id");

/// At Metadata and Request levels, JSON bodies up to this size are read to
/// copy a `Status` into the event; larger ones are objects, not statuses.
const STATUS_PEEK_BYTES: u64 = 16 * 1024;

/// Verbs and subresources whose responses stream (upstream's long-running check).
fn long_running(info: &RequestInfo) -> bool {
    matches!(info.verb.as_str(), "watch" | "proxy")
        || (info.is_resource_request
            && matches!(
                info.subresource.as_str(),
                "attach" | "exec" | "proxy" | "log" | "portforward"
            ))
}

/// The chain's authorizer, for impersonation checks.
struct ChainAuthorizer<'a>(&'a GenericServer);

#[async_trait]
impl Authorizer for ChainAuthorizer<'_> {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        self.0.authorize(a).await
    }
}

impl GenericServer {
    /// The request's audit ID (its `Audit-ID` header, or a new UUID) and,
    /// when auditing is on, its recorder, also put in the request's
    /// extensions for the filters.
    pub(crate) fn audit_start<B>(
        &self,
        req: &mut http::Request<B>,
    ) -> (String, Option<Arc<Recorder>>) {
        let id = req
            .headers()
            .get(&AUDIT_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map_or_else(
                || kaiser_apimachinery::uid::new_v4().to_string(),
                str::to_string,
            );
        let Some(auditor) = &self.audit else {
            return (id, None);
        };
        let h = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        let peer = req.extensions().get::<SocketAddr>().map(SocketAddr::ip);
        let meta = RequestMeta {
            request_uri: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().path().to_string(), ToString::to_string),
            user_agent: h("user-agent").unwrap_or("").to_string(),
            source_ips: source_ips(h("x-forwarded-for"), h("x-real-ip"), peer),
            received: SystemTime::now(),
        };
        let rec = Arc::new(Recorder::new(auditor.clone(), id.clone(), meta));
        req.extensions_mut().insert(rec.clone());
        (id, Some(rec))
    }

    /// After authentication: the policy decides on the authenticated user,
    /// and an audited request gets its RequestReceived stage.
    pub(crate) fn audit_begin(
        &self,
        parts: &http::request::Parts,
        info: &RequestInfo,
        user: &UserInfo,
    ) -> Option<Arc<Recorder>> {
        let rec = parts.extensions.get::<Arc<Recorder>>()?.clone();
        rec.begin(&RequestFacts {
            attributes: &info.attributes(user),
            api_version: &info.api_version,
            authenticated: true,
            long_running: long_running(info),
        });
        rec.emit(Stage::RequestReceived);
        Some(rec)
    }

    /// The impersonation filter: the identity the request acts as, or the
    /// response refusing it.
    pub(crate) async fn impersonate(
        &self,
        parts: &mut http::request::Parts,
        user: UserInfo,
        audit: Option<&Recorder>,
    ) -> Result<UserInfo, Response> {
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()));
        let requested = match impersonation::requested(headers) {
            Ok(r) if r.targets.is_empty() => return Ok(user),
            Ok(r) => r,
            Err(e) => return Err(internal_error(&parts.uri, &e.to_string())),
        };
        let authorizer = ChainAuthorizer(self);
        match impersonation::impersonate(&requested, &user, &authorizer).await {
            Ok(new) => {
                tracing::debug!(user = %user.name, as_user = %new.name, "impersonating");
                if let Some(a) = audit {
                    a.impersonated(&new);
                }
                strip_impersonation_headers(&mut parts.headers);
                Ok(new)
            }
            Err(denied) => {
                let gr = GroupResource::new(&denied.api_group, &denied.resource);
                Err(status_response(&StatusError::forbidden_object(
                    &gr,
                    &denied.name,
                    &denied.reason,
                )))
            }
        }
    }
}

fn strip_impersonation_headers(headers: &mut http::HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|n| {
            let n = n.as_str();
            n == impersonation::HEADER_USER
                || n == impersonation::HEADER_GROUP
                || n == impersonation::HEADER_UID
                || n.starts_with(impersonation::HEADER_EXTRA_PREFIX)
        })
        .cloned()
        .collect();
    for n in names {
        headers.remove(n);
    }
}

/// Upstream's plain-text 500 for a request it cannot make sense of.
fn internal_error(uri: &http::Uri, err: &str) -> Response {
    let target = uri.path_and_query().map_or("", |p| p.as_str());
    let mut r = bytes_response(
        500,
        "text/plain; charset=utf-8",
        format!("Internal Server Error: {}: {err}\n", go_quote(target)),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Puts the audit ID on the response, as upstream does for every request.
pub(crate) fn set_audit_id(resp: &mut Response, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(AUDIT_ID.clone(), v);
    }
}

/// Records the response and writes the response stages.
pub(crate) async fn finish(
    rec: Option<Arc<Recorder>>,
    method: &http::Method,
    resp: Response,
) -> Response {
    let Some(rec) = rec else {
        return resp;
    };
    let code = resp.status().as_u16();
    if !rec.started() {
        // Refused before authentication finished (401): upstream writes a
        // single ResponseStarted event with no user.
        let uri: http::Uri = rec.request_uri().parse().unwrap_or_default();
        let watch = uri.query().is_some_and(|q| {
            form_urlencoded::parse(q.as_bytes())
                .any(|(k, v)| k == "watch" && matches!(v.as_ref(), "true" | "1" | ""))
        });
        let info = request_info::parse(method, uri.path(), watch);
        let nobody = UserInfo::default();
        rec.begin(&RequestFacts {
            attributes: &info.attributes(&nobody),
            api_version: &info.api_version,
            authenticated: false,
            long_running: false,
        });
        let (resp, body) = read_body(&rec, resp).await;
        rec.response(resp.status().as_u16(), body.as_deref());
        rec.emit(Stage::ResponseStarted);
        return resp;
    }
    if rec.level() == Level::None {
        return resp;
    }
    if rec.long_running() {
        rec.response(code, None);
        rec.emit(Stage::ResponseStarted);
        let (parts, body) = resp.into_parts();
        let body = AuditedBody {
            inner: body,
            rec: Some(rec),
        };
        return http::Response::from_parts(parts, body.boxed());
    }
    let (resp, body) = read_body(&rec, resp).await;
    rec.response(resp.status().as_u16(), body.as_deref());
    rec.emit(Stage::ResponseComplete);
    resp
}

/// Reads a complete JSON body when the event needs it: always at
/// RequestResponse level, else only when it may be a `Status`.
async fn read_body(rec: &Recorder, resp: Response) -> (Response, Option<Bytes>) {
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    // A body of unknown length (a large LIST streamed from stored bytes)
    // is still bounded: the request is not long-running.
    let len = resp.body().size_hint().exact();
    let wanted = rec.level() >= Level::RequestResponse
        || resp.status().as_u16() >= 300
        || len.is_some_and(|n| n <= STATUS_PEEK_BYTES);
    if !json || !wanted {
        return (resp, None);
    }
    let (parts, body) = resp.into_parts();
    match body.collect().await {
        Ok(c) => {
            let bytes = c.to_bytes();
            (
                http::Response::from_parts(parts, full(bytes.clone())),
                Some(bytes),
            )
        }
        // Nothing was sent yet: the client gets the error as a Status.
        Err(e) => {
            let err = StatusError::internal(e);
            let body = Bytes::from(err.to_status().to_string());
            (status_response(&err), Some(body))
        }
    }
}

/// A streaming body that writes ResponseComplete when it ends or is dropped.
struct AuditedBody {
    inner: Body,
    rec: Option<Arc<Recorder>>,
}

impl http_body::Body for AuditedBody {
    type Data = Bytes;
    type Error = crate::passthrough::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AuditedBody {
    fn drop(&mut self) {
        if let Some(rec) = self.rec.take() {
            rec.emit(Stage::ResponseComplete);
        }
    }
}
