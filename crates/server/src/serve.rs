//! Secure serving: TLS (rustls, ALPN h2 and http/1.1) on one listener,
//! HTTP/1.1 and HTTP/2 through hyper-util's auto connection, client
//! certificates requested (and proof of their key checked) at the TLS
//! layer, and graceful shutdown. Which CA a client's chain satisfies is
//! the authenticator's question, asked once per connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::generic::GenericServer;

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a closing connection waits for the client to close its side.
const LINGER: Duration = Duration::from_millis(500);
/// How much a closing connection reads and drops meanwhile.
const LINGER_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Builds the rustls configuration: our serving certificate, and a
/// request for an optional client certificate naming `client_cas` (every
/// CA an authenticator trusts) as acceptable issuers.
pub fn tls_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_cas: Vec<CertificateDer<'static>>,
) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    // AES-128-GCM first, as Go's servers prefer it on hardware with AES
    // instructions: it encrypts large bodies (LIST) about a third faster
    // than AES-256-GCM, which rustls clients would otherwise pick.
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    let provider = Arc::new(provider);
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    let builder = if client_cas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for c in client_cas {
            roots
                .add(c)
                .map_err(|e| ServeError::Tls(format!("client CA: {e}")))?;
        }
        builder.with_client_cert_verifier(Arc::new(RequestClientCert {
            hints: roots.subjects(),
            provider,
        }))
    };
    let mut cfg = builder
        .with_single_cert(cert_chain, key)
        .map_err(|e| ServeError::Tls(format!("serving certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    cfg.ignore_client_order = true;
    Ok(Arc::new(cfg))
}

/// Go's `tls.RequestClientCert`: ask for a certificate, accept any chain
/// (the authenticators verify it against their CAs, so an untrusted one
/// is a 401 rather than a failed handshake, as upstream), but check the
/// handshake signature, so the client holds the certificate's key.
#[derive(Debug)]
struct RequestClientCert {
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts connections until `shutdown` turns true, then lets in-flight
/// requests finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    server: Arc<GenericServer>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) -> Result<(), ServeError> {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = server.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tcp = Lingering::new(tcp);
            let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let client_cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| server.authn.connection(chain))
                .map(Arc::new);
            let svc = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                // The peer address, for audit events' source IPs.
                req.extensions_mut().insert(peer);
                let server = server.clone();
                let cert = client_cert.clone();
                async move { Ok::<_, std::convert::Infallible>(server.handle(req, cert).await) }
            });
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("stopped accepting connections; waiting for in-flight requests");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "in-flight requests did not finish within the grace period"
        );
    }
    Ok(())
}

/// A client connection whose close lingers. When the server closes a
/// connection while bytes the client sent are still unread (a request body
/// no handler read), the kernel answers with a reset, and a reset drops
/// whatever part of the response is still unsent: the client gets a cut
/// response. So shutting down first ends our side (FIN after the last
/// byte), then reads and drops what the client still sends until it closes
/// too, or until [`LINGER`] has passed since our last write, or
/// [`LINGER_BYTES`] were dropped (Go's server also waits before it closes,
/// for the same reason). A connection that wrote nothing lately (an idle
/// one at shutdown) closes at once.
struct Lingering {
    tcp: TcpStream,
    /// When the last write that carried data (more than an alert) went out.
    last_write: Option<tokio::time::Instant>,
    /// Set once our side is shut: the end of the wait.
    until: Option<Pin<Box<tokio::time::Sleep>>>,
    dropped: usize,
}

impl Lingering {
    fn new(tcp: TcpStream) -> Self {
        Lingering {
            tcp,
            last_write: None,
            until: None,
            dropped: 0,
        }
    }

    fn wrote(&mut self, r: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        // TLS's own close_notify, written just before the shutdown, is a
        // record of at most 31 bytes and no reason to wait.
        if let Poll::Ready(Ok(n)) = r
            && n > 64
        {
            self.last_write = Some(tokio::time::Instant::now());
        }
        r
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.wrote(r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.wrote(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.until.is_none() {
            ready!(Pin::new(&mut this.tcp).poll_shutdown(cx))?;
            let Some(last) = this.last_write else {
                return Poll::Ready(Ok(()));
            };
            this.until = Some(Box::pin(tokio::time::sleep_until(last + LINGER)));
        }
        let mut scratch = [0u8; 8 * 1024];
        loop {
            let out_of_time = this
                .until
                .as_mut()
                .is_none_or(|t| t.as_mut().poll(cx).is_ready());
            if out_of_time || this.dropped >= LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.tcp).poll_read(cx, &mut buf) {
                // The client closed (or broke off): nothing left to reset.
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => this.dropped += buf.filled().len(),
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
