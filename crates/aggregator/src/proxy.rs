//! The proxy: requests under `/apis/<group>/<version>` of a remote
//! APIService go to its server over HTTPS, as upstream's proxy handler
//! sends them: the Service resolved to an address, the caller's identity in
//! request headers, the proxy's client certificate, bodies streamed both
//! ways and `Upgrade` requests tunnelled once the backend answers 101.
//! An unavailable APIService or an unreachable backend is a 503 with
//! upstream's plain-text message.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use kaiser_admission::webhook::ServiceResolver;
use kaiser_auth::UserInfo;
use kaiser_server::http::{Response, full};
use kaiser_server::passthrough::{Passthrough, RawBody, RawRequest};
use kaiser_server::request_info::RequestInfo;

use crate::client::{Backend, Connector};
use crate::headers::{self, Identity};
use crate::routes::{Route, Routes};

/// Told the name of an APIService whose backend could not be reached.
pub type Unreachable = Arc<dyn Fn(&str) + Send + Sync>;

/// The aggregator's proxy to extension API servers.
pub struct Proxy {
    pub routes: Arc<Routes>,
    pub resolver: Arc<dyn ServiceResolver>,
    pub connector: Arc<Connector>,
    pub unreachable: Unreachable,
}

/// A plain-text error as Go's `http.Error` writes it.
pub fn text_error(code: StatusCode, msg: &str) -> Response {
    let mut r = http::Response::new(full(format!("{msg}\n")));
    *r.status_mut() = code;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Where requests for `route` go right now, or the error response.
pub async fn backend_of(
    route: &Route,
    resolver: &dyn ServiceResolver,
) -> Result<Backend, (StatusCode, String)> {
    let unavailable = || {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "service unavailable".to_string(),
        )
    };
    let s = &route.api_service;
    let Some(svc) = s.service.as_ref() else {
        return Err(unavailable());
    };
    if !s.available {
        return Err(unavailable());
    }
    let tls = route
        .tls
        .clone()
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let (host, port) = match resolver.resolve(&svc.namespace, &svc.name, svc.port).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(service = %format!("{}/{}", svc.namespace, svc.name), error = %e, "cannot resolve the APIService's service");
            return Err(unavailable());
        }
    };
    Ok(Backend {
        host,
        port,
        server_name: svc.server_name(),
        tls,
    })
}

/// The extra attributes of the caller, passed as `X-Remote-Extra-*`.
fn extra_of(user: &UserInfo) -> Vec<(String, Vec<String>)> {
    user.extra
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Passthrough for Proxy {
    fn claims(&self, info: &RequestInfo) -> bool {
        info.api_prefix == "apis"
            && self
                .routes
                .lookup(&info.api_group, &info.api_version)
                .is_some()
    }

    fn serve(&self, req: RawRequest) -> BoxFuture<'static, Response> {
        let route = self
            .routes
            .lookup(&req.info.api_group, &req.info.api_version);
        let resolver = self.resolver.clone();
        let connector = self.connector.clone();
        let unreachable = self.unreachable.clone();
        Box::pin(async move {
            let Some(route) = route else {
                return text_error(StatusCode::SERVICE_UNAVAILABLE, "service unavailable");
            };
            let backend = match backend_of(&route, resolver.as_ref()).await {
                Ok(b) => b,
                Err((code, msg)) => return text_error(code, &msg),
            };
            forward(&connector, &backend, req)
                .await
                .unwrap_or_else(|msg| {
                    tracing::debug!(apiservice = %route.api_service.name, error = %msg, "backend unreachable");
                    unreachable(&route.api_service.name);
                    text_error(StatusCode::SERVICE_UNAVAILABLE, &msg)
                })
        })
    }
}

/// Sends the request to `backend` and relays the answer.
async fn forward(
    connector: &Arc<Connector>,
    backend: &Backend,
    req: RawRequest,
) -> Result<Response, String> {
    let RawRequest {
        mut parts,
        body,
        user,
        ..
    } = req;
    let upgrade = headers::is_upgrade(&parts.headers);
    let client_upgrade = if upgrade {
        parts.extensions.remove::<OnUpgrade>()
    } else {
        None
    };
    let extra = extra_of(&user);
    let who = Identity {
        name: &user.name,
        groups: &user.groups,
        extra: &extra,
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut out: http::Request<RawBody> = http::Request::new(body);
    *out.method_mut() = parts.method.clone();
    *out.uri_mut() = path
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    *out.headers_mut() = headers::outbound(&parts.headers, &who, upgrade);
    if let Ok(host) = HeaderValue::from_str(&backend.authority()) {
        out.headers_mut().insert(header::HOST, host);
    }
    let mut answer = connector.send(backend, out, upgrade).await?;
    if answer.response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let backend_upgrade = answer.response.extensions_mut().remove::<OnUpgrade>();
        return Ok(switch_protocols(
            answer.response.headers(),
            client_upgrade,
            backend_upgrade,
        ));
    }
    let (mut rparts, relay) = connector.relay(answer);
    headers::strip_hop_by_hop(&mut rparts.headers, false);
    Ok(http::Response::from_parts(rparts, relay.boxed()))
}

/// The 101 answer to the client, and the tunnel joining both connections
/// once both sides have switched.
fn switch_protocols(
    backend_headers: &http::HeaderMap,
    client: Option<OnUpgrade>,
    backend: Option<OnUpgrade>,
) -> Response {
    let (Some(client), Some(backend)) = (client, backend) else {
        return text_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the connection cannot be upgraded",
        );
    };
    let mut r = http::Response::new(full(bytes::Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *r.headers_mut() = backend_headers.clone();
    tokio::spawn(async move {
        let (client, backend) = tokio::join!(client, backend);
        match (client, backend) {
            (Ok(c), Ok(b)) => {
                let mut c = TokioIo::new(c);
                let mut b = TokioIo::new(b);
                if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut b).await {
                    tracing::debug!(error = %e, "upgraded stream ended");
                }
            }
            (c, b) => {
                tracing::debug!(client = c.is_ok(), backend = b.is_ok(), "upgrade failed");
            }
        }
    });
    r
}
