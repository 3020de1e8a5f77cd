//! HTTPS connections to extension API servers: TLS from the route (the
//! shared `tls_client_config` of the webhook client), HTTP/1.1 driven by
//! hyper's client connection so bodies stream and upgrades work, idle
//! connections kept for reuse, and errors worded as Go's transport words
//! them (`dial tcp 10.0.0.1:443: connect: connection refused`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use kaiser_server::passthrough::{BoxError, RawBody};
use tokio::net::TcpStream;

/// Idle connections kept, over all backends.
const MAX_IDLE: usize = 16;
/// How long a connection attempt (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where one request goes.
#[derive(Clone, Debug)]
pub struct Backend {
    /// Address to dial (IP or name) and port.
    pub host: String,
    pub port: u16,
    /// The name the serving certificate must carry.
    pub server_name: String,
    pub tls: Arc<rustls::ClientConfig>,
}

impl Backend {
    /// `host:port`, brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn pool_key(&self) -> String {
        format!(
            "{}|{}|{:p}",
            self.authority(),
            self.server_name,
            Arc::as_ptr(&self.tls)
        )
    }
}

/// Opens and reuses connections to backends.
#[derive(Default)]
pub struct Connector {
    idle: Mutex<Vec<(String, SendRequest<RawBody>)>>,
}

/// A response from a backend whose body returns its connection to the pool
/// once read to the end.
pub struct Answer {
    pub response: http::Response<Incoming>,
    /// The connection, to put back when the body is done (not for upgrades).
    reuse: Option<(String, SendRequest<RawBody>)>,
}

impl Connector {
    /// Sends `req` to `backend`. Upgrade requests get a connection of their
    /// own; others reuse an idle one when it is ready.
    pub async fn send(
        self: &Arc<Self>,
        backend: &Backend,
        req: http::Request<RawBody>,
        upgrade: bool,
    ) -> Result<Answer, String> {
        let key = backend.pool_key();
        let mut req = req;
        if !upgrade && let Some(mut sender) = self.take_idle(&key) {
            // A bodiless GET or HEAD may be sent again on a new connection
            // when a kept-alive one turns out to be closed, as Go's
            // transport retries idempotent requests.
            let again = bodiless_read(&req);
            match sender.try_send_request(req).await {
                Ok(response) => {
                    return Ok(Answer {
                        response,
                        reuse: Some((key, sender)),
                    });
                }
                Err(mut e) => match (e.take_message(), again) {
                    // Never sent (the connection had closed): try a new one.
                    (Some(back), _) => req = back,
                    (None, Some(copy)) => req = copy,
                    (None, None) => return Err(e.into_error().to_string()),
                },
            }
        }
        let mut sender = connect(backend).await?;
        let response = sender.send_request(req).await.map_err(|e| e.to_string())?;
        Ok(Answer {
            response,
            reuse: (!upgrade).then_some((key, sender)),
        })
    }

    fn take_idle(&self, key: &str) -> Option<SendRequest<RawBody>> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(i) = idle.iter().position(|(k, _)| k == key) {
            let (_, s) = idle.swap_remove(i);
            if s.is_ready() {
                return Some(s);
            }
        }
        None
    }

    /// Keeps a connection whose last exchange finished, once it is ready.
    fn put_back(self: &Arc<Self>, key: String, mut sender: SendRequest<RawBody>) {
        let pool = self.clone();
        tokio::spawn(async move {
            let ready = tokio::time::timeout(Duration::from_secs(1), sender.ready()).await;
            if matches!(ready, Ok(Ok(())))
                && let Ok(mut idle) = pool.idle.lock()
            {
                if idle.len() >= MAX_IDLE {
                    idle.remove(0);
                }
                idle.push((key, sender));
            }
        });
    }

    /// The answer's body, streamed as it arrives, returning the connection
    /// to the pool when read to the end.
    pub fn relay(self: &Arc<Self>, answer: Answer) -> (http::response::Parts, Relay) {
        let (parts, body) = answer.response.into_parts();
        let relay = Relay {
            inner: body,
            reuse: answer.reuse.map(|(k, s)| (self.clone(), k, s)),
        };
        (parts, relay)
    }

    /// GETs `path` and reads the whole answer (at most `limit` bytes).
    pub async fn get(
        self: &Arc<Self>,
        backend: &Backend,
        path: &str,
        headers: http::HeaderMap,
        limit: usize,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes), String> {
        let mut req = http::Request::get(path)
            .header(http::header::HOST, backend.authority())
            .body(Empty::<Bytes>::new().map_err(|e| match e {}).boxed())
            .map_err(|e| e.to_string())?;
        req.headers_mut().extend(headers);
        let answer = self.send(backend, req, false).await?;
        let (parts, body) = self.relay(answer);
        let bytes = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }
}

/// A copy of a GET or HEAD request without a body, to send again.
fn bodiless_read(req: &http::Request<RawBody>) -> Option<http::Request<RawBody>> {
    use http_body::Body as _;
    let read = matches!(*req.method(), http::Method::GET | http::Method::HEAD);
    if !read || !req.body().is_end_stream() {
        return None;
    }
    let mut copy = http::Request::new(empty_body());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

/// Dials `backend`, completes TLS and starts an HTTP/1.1 connection.
async fn connect(backend: &Backend) -> Result<SendRequest<RawBody>, String> {
    let addr = backend.authority();
    let work = async {
        let tcp = TcpStream::connect((backend.host.as_str(), backend.port))
            .await
            .map_err(|e| dial_error(&addr, &e))?;
        let _ = tcp.set_nodelay(true);
        let tls =
            kaiser_admission::webhook::connect_tls(tcp, &backend.server_name, backend.tls.clone())
                .await?;
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, RawBody>(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "backend connection closed");
            }
        });
        Ok(sender)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
    }
}

/// A connect error as Go's net package words it.
pub fn dial_error(addr: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let what = match e.kind() {
        ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        ErrorKind::TimedOut => "i/o timeout".to_string(),
        ErrorKind::AddrNotAvailable => "connect: cannot assign requested address".to_string(),
        _ => {
            let text = e.to_string();
            let bare = text.split(" (os error").next().unwrap_or(&text);
            format!("connect: {}", bare.to_lowercase())
        }
    };
    format!("dial tcp {addr}: {what}")
}

/// A backend's response body passed on frame by frame. A broken backend
/// aborts it, so the client sees the response fail, not end.
pub struct Relay {
    inner: Incoming,
    reuse: Option<(Arc<Connector>, String, SendRequest<RawBody>)>,
}

impl Relay {
    fn finish(&mut self) {
        if let Some((pool, key, sender)) = self.reuse.take() {
            pool.put_back(key, sender);
        }
    }
}

impl http_body::Body for Relay {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::debug!(error = %e, "backend response broke off");
                this.reuse = None;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// An empty request body.
pub fn empty_body() -> RawBody {
    Empty::<Bytes>::new()
        .map_err(|e: Infallible| -> BoxError { match e {} })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_errors_read_like_go() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            dial_error("127.0.0.1:9", &refused),
            "dial tcp 127.0.0.1:9: connect: connection refused"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_a_dial_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let tls = kaiser_admission::webhook::tls_client_config(None, None, true).expect("tls");
        let backend = Backend {
            host: "127.0.0.1".into(),
            port,
            server_name: "x.ns.svc".into(),
            tls,
        };
        let pool = Arc::new(Connector::default());
        let err = pool
            .get(&backend, "/", http::HeaderMap::new(), 1024)
            .await
            .expect_err("nothing listens");
        assert_eq!(
            err,
            format!("dial tcp 127.0.0.1:{port}: connect: connection refused")
        );
    }
}
