//! Requests a server takes before their body is read: the aggregator's
//! proxy streams bodies both ways and tunnels upgrades, so it must see the
//! request after the filters (authentication, authorization) but before
//! the chain reads the body whole and applies its size limit.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::combinators::BoxBody;
use kaiser_auth::UserInfo;

use crate::http::Response;
use crate::request_info::RequestInfo;

/// Any error a streamed body may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body not yet read.
pub type RawBody = BoxBody<Bytes, BoxError>;

/// A request after the filters, with its body unread. `parts.extensions`
/// still carries the connection's upgrade handle (`hyper::upgrade::on`).
pub struct RawRequest {
    pub parts: http::request::Parts,
    pub body: RawBody,
    pub info: RequestInfo,
    pub user: UserInfo,
}

/// A handler that serves some requests with their body unread.
pub trait Passthrough: Send + Sync {
    /// Whether this handler serves the request; cheap (called for every
    /// request that passed the filters).
    fn claims(&self, info: &RequestInfo) -> bool;

    /// Serves a claimed request.
    fn serve(&self, req: RawRequest) -> BoxFuture<'static, Response>;
}

/// Whether a request runs without the request timeout, as upstream's
/// long-running check: watches, proxies, and the streaming subresources.
pub fn is_long_running(info: &RequestInfo) -> bool {
    matches!(info.verb.as_str(), "watch" | "proxy")
        || matches!(
            info.subresource.as_str(),
            "attach" | "exec" | "proxy" | "log" | "portforward"
        )
}
