//! The request and response types every server in the chain shares, and
//! the helpers that write bodies and `Status` errors.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, StatusCode, header};
use http_body::Frame;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use kaiser_apimachinery::StatusError;
use kaiser_apimachinery::codec::{self, Format};
use kaiser_auth::UserInfo;
use serde_json::Value;

use crate::negotiation::Negotiated;
use crate::passthrough::BoxError;
use crate::request_info::RequestInfo;

/// A response body; an error aborts the response (the connection closes
/// without ending it), so the client never takes it for complete.
pub type Body = BoxBody<Bytes, BoxError>;
pub type Response = http::Response<Body>;

/// A request after the filters: parsed, authenticated, authorized, body read.
pub struct ApiRequest {
    pub parts: http::request::Parts,
    pub body: Bytes,
    pub info: RequestInfo,
    pub user: UserInfo,
    pub query: Vec<(String, String)>,
}

impl ApiRequest {
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Pretty JSON when asked, or for command-line user agents, as upstream.
    pub fn pretty(&self) -> bool {
        match self.query("pretty") {
            Some(v) => v == "true" || v == "1",
            None => self
                .header(header::USER_AGENT)
                .is_some_and(|ua| ua.starts_with("curl") || ua.starts_with("Wget")),
        }
    }
}

/// A server in the chain: serves what it owns, hands the rest on.
pub type Handler = Arc<dyn Fn(ApiRequest) -> BoxFuture<'static, Response> + Send + Sync>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

pub fn bytes_response(code: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut r = http::Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub fn json_response(code: u16, v: &Value, pretty: bool) -> Response {
    bytes_response(
        code,
        "application/json",
        codec::encode(v, Format::Json, pretty),
    )
}

/// Encodes `v` as negotiated.
pub fn negotiated_response(code: u16, v: &Value, n: Negotiated, pretty: bool) -> Response {
    bytes_response(code, &n.content_type(), codec::encode(v, n.format, pretty))
}

/// A `Status` error as JSON with its HTTP code.
pub fn status_response(e: &StatusError) -> Response {
    let mut r = json_response(e.code, &e.to_status(), false);
    if let Some(secs) = e.details.as_ref().and_then(|d| d.retry_after_seconds)
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

pub fn text_response(code: u16, text: impl Into<String>) -> Response {
    bytes_response(code, "text/plain; charset=utf-8", text.into())
}

/// A body produced chunk by chunk as it is sent (LIST responses built from
/// stored bytes): the chunks made before the response started, then the
/// rest. A chunk that fails aborts the response.
pub struct ChunkedBody<I> {
    ready: VecDeque<Bytes>,
    /// Bytes in `ready`.
    known: u64,
    rest: Option<I>,
}

impl<I, E> ChunkedBody<I>
where
    I: Iterator<Item = Result<Bytes, E>> + Send + Sync + Unpin + 'static,
    E: Into<BoxError>,
{
    /// Makes chunks until `eager` bytes are known (or all of them are, and
    /// the length is exact); an error among those is the response's error.
    pub fn start(mut chunks: I, eager: u64) -> Result<Body, E> {
        let mut ready = VecDeque::new();
        let mut known = 0;
        while known < eager {
            match chunks.next() {
                Some(chunk) => {
                    let chunk = chunk?;
                    known += chunk.len() as u64;
                    ready.push_back(chunk);
                }
                None => {
                    return Ok(ChunkedBody::<I> {
                        ready,
                        known,
                        rest: None,
                    }
                    .boxed());
                }
            }
        }
        Ok(ChunkedBody {
            ready,
            known,
            rest: Some(chunks),
        }
        .boxed())
    }
}

impl<I, E> http_body::Body for ChunkedBody<I>
where
    I: Iterator<Item = Result<Bytes, E>> + Unpin,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(chunk) = self.ready.pop_front() {
            self.known -= chunk.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        let next = self.rest.as_mut().and_then(Iterator::next);
        match next {
            Some(Ok(chunk)) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Some(Err(e)) => {
                let e = e.into();
                tracing::error!(error = %e, "response aborted");
                self.rest = None;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                self.rest = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.ready.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.rest {
            None => http_body::SizeHint::with_exact(self.known),
            Some(_) => {
                let mut hint = http_body::SizeHint::new();
                hint.set_lower(self.known);
                hint
            }
        }
    }
}

/// A body compressed with gzip as it streams: each frame of the inner body
/// is compressed when it is polled, so a large response is never held
/// whole and compression never blocks the executor for long.
pub struct GzipBody {
    inner: Body,
    encoder: Option<flate2::write::GzEncoder<Vec<u8>>>,
}

impl GzipBody {
    pub fn body(inner: Body) -> Body {
        GzipBody {
            inner,
            encoder: Some(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            )),
        }
        .boxed()
    }
}

impl http_body::Body for GzipBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        use std::io::Write;
        let this = &mut *self;
        loop {
            let Some(enc) = this.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(f) => f,
            };
            match frame {
                Some(Ok(f)) => {
                    let Ok(data) = f.into_data() else { continue };
                    // Writing into a Vec cannot fail.
                    let _ = enc.write_all(&data);
                    let out = std::mem::take(enc.get_mut());
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out.into()))));
                    }
                }
                Some(Err(e)) => {
                    this.encoder = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    let out = this
                        .encoder
                        .take()
                        .and_then(|e| e.finish().ok())
                        .unwrap_or_default();
                    return Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out.into()))));
                }
            }
        }
    }
}
