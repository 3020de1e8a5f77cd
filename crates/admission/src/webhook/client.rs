//! The HTTP side of webhook calls: TLS set-up, connections (kept alive and
//! reused), JSON requests and answers.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;

use super::{ClientConfig, ServiceResolver, Target, WebhookError};

/// Answers above this are refused (a ConversionReview of a large list is the
/// biggest thing a webhook sends back).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Idle connections kept per client.
const MAX_IDLE: usize = 4;

/// A client for one webhook target. Cheap to share; connections are reused.
pub struct WebhookClient {
    config: ClientConfig,
    tls: Arc<rustls::ClientConfig>,
    resolver: Option<Arc<dyn ServiceResolver>>,
    pub(super) idle: Mutex<Vec<(String, SendRequest<Full<Bytes>>)>>,
}

/// Where one request goes.
struct Endpoint {
    scheme_https: bool,
    /// Address to dial.
    host: String,
    port: u16,
    /// Name the certificate must carry.
    server_name: String,
    /// Path and query sent in the request line.
    path: String,
    /// `Host` header.
    authority: String,
}

impl WebhookClient {
    /// Checks the TLS material now, so a bad bundle is reported when the
    /// configuration is loaded rather than on the first call.
    pub fn new(
        config: ClientConfig,
        resolver: Option<Arc<dyn ServiceResolver>>,
    ) -> Result<Self, WebhookError> {
        let tls = tls_client_config(
            config.ca_bundle.as_deref(),
            config
                .client_cert
                .as_ref()
                .map(|(c, k)| (c.as_slice(), k.as_slice())),
            config.insecure_skip_tls_verify,
        )?;
        if let Target::Service(_) = config.target
            && resolver.is_none()
        {
            return Err(WebhookError::Config(
                "a service target needs a service resolver".into(),
            ));
        }
        Ok(WebhookClient {
            config,
            tls,
            resolver,
            idle: Mutex::new(Vec::new()),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// POSTs `body` as JSON to the target and returns the JSON answer; any
    /// status other than 2xx is an error.
    pub async fn post_json(&self, body: &Value) -> Result<Value, WebhookError> {
        let endpoint = self.endpoint(None).await?;
        let bytes = serde_json::to_vec(body).map_err(|e| WebhookError::Call {
            url: self.config.display_url(),
            reason: e.to_string(),
        })?;
        self.call_json(endpoint, Method::POST, Bytes::from(bytes))
            .await
    }

    /// GETs `url` (absolute) as JSON with this client's TLS settings, as
    /// OIDC discovery and key sets need.
    pub async fn get_json(&self, url: &str) -> Result<Value, WebhookError> {
        let endpoint = self.endpoint(Some(url)).await?;
        self.call_json(endpoint, Method::GET, Bytes::new()).await
    }

    async fn call_json(
        &self,
        endpoint: Endpoint,
        method: Method,
        body: Bytes,
    ) -> Result<Value, WebhookError> {
        let url = self.config.display_url();
        let seconds = self.config.timeout.as_secs();
        let fut = self.round_trip(&endpoint, method, body);
        let (code, bytes) = match tokio::time::timeout(self.config.timeout, fut).await {
            Ok(r) => r?,
            Err(_) => return Err(WebhookError::Timeout { url, seconds }),
        };
        if !(200..300).contains(&code) {
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            text.truncate(1024);
            return Err(WebhookError::Status {
                url,
                code,
                body: text,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| WebhookError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    async fn round_trip(
        &self,
        endpoint: &Endpoint,
        method: Method,
        body: Bytes,
    ) -> Result<(u16, Bytes), WebhookError> {
        let call_err = |reason: String| WebhookError::Call {
            url: self.config.display_url(),
            reason,
        };
        let key = format!("{}:{}", endpoint.host, endpoint.port);
        let mut sender = match self.take_idle(&key) {
            Some(s) => s,
            None => self.connect(endpoint).await.map_err(call_err)?,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(endpoint.path.as_str())
            .header(header::HOST, endpoint.authority.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "kaiser");
        if !body.is_empty() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(t) = &self.config.bearer_token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| call_err(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| call_err(e.to_string()))?;
        let code = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| call_err(format!("reading the answer: {e}")))?
            .to_bytes();
        if sender.is_ready() {
            self.put_idle(key, sender);
        }
        Ok((code, bytes))
    }

    fn take_idle(&self, key: &str) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(i) = idle.iter().position(|(k, _)| k == key) {
            let (_, s) = idle.swap_remove(i);
            if s.is_ready() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, key: String, sender: SendRequest<Full<Bytes>>) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push((key, sender));
        }
    }

    async fn connect(&self, e: &Endpoint) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = TcpStream::connect((e.host.as_str(), e.port))
            .await
            .map_err(|err| format!("dial tcp {}:{}: {err}", e.host, e.port))?;
        let _ = tcp.set_nodelay(true);
        if e.scheme_https {
            let tls = connect_tls(tcp, &e.server_name, self.tls.clone()).await?;
            handshake(TokioIo::new(tls)).await
        } else {
            handshake(TokioIo::new(tcp)).await
        }
    }

    /// Resolves the target (or `url`, when given) to an endpoint.
    async fn endpoint(&self, url: Option<&str>) -> Result<Endpoint, WebhookError> {
        let target = match url {
            Some(u) => Target::Url(u.to_string()),
            None => self.config.target.clone(),
        };
        let mut e = match target {
            Target::Url(u) => parse_url(&u)?,
            Target::Service(s) => {
                let resolver = self
                    .resolver
                    .as_ref()
                    .ok_or_else(|| WebhookError::Config("no service resolver".into()))?;
                let (host, port) = resolver.resolve(&s.namespace, &s.name, s.port).await?;
                let server_name = format!("{}.{}.svc", s.name, s.namespace);
                Endpoint {
                    scheme_https: true,
                    host,
                    port,
                    authority: format!("{server_name}:{}", s.port),
                    server_name,
                    path: s.path,
                }
            }
        };
        if let Some(name) = &self.config.server_name {
            e.server_name = name.clone();
        }
        Ok(e)
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "webhook connection closed");
        }
    });
    Ok(sender)
}

/// Completes a TLS handshake on `tcp`, verifying `server_name`.
pub async fn connect_tls(
    tcp: TcpStream,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| format!("invalid server name {server_name:?}: {e}"))?;
    tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("tls: {e}"))
}

fn parse_url(u: &str) -> Result<Endpoint, WebhookError> {
    let bad = |why: &str| WebhookError::Config(format!("invalid URL {u:?}: {why}"));
    let uri: http::Uri = u.parse().map_err(|_| bad("not a URL"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad("the scheme must be https")),
    };
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    // A bracketed IPv6 host dials without its brackets.
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    Ok(Endpoint {
        scheme_https: https,
        server_name: bare.clone(),
        authority: uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
        host: bare,
        port,
        path,
    })
}

/// The rustls client configuration for a webhook or proxied backend: trust
/// `ca_pem` (or the system roots), present `client` (PEM chain and key), or
/// verify nothing when `insecure`.
pub fn tls_client_config(
    ca_pem: Option<&[u8]>,
    client: Option<(&[u8], &[u8])>,
    insecure: bool,
) -> Result<Arc<rustls::ClientConfig>, WebhookError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| WebhookError::Config(e.to_string()))?;
    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match ca_pem {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| WebhookError::Config(format!("caBundle: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| WebhookError::Config(format!("caBundle: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(WebhookError::Config(
                        "caBundle holds no PEM certificate".into(),
                    ));
                }
            }
            None => {
                for path in [
                    "/etc/ssl/certs/ca-certificates.crt",
                    "/etc/pki/tls/certs/ca-bundle.crt",
                ] {
                    if let Ok(pem) = std::fs::read(path) {
                        for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
                            let _ = roots.add(cert);
                        }
                        break;
                    }
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    let cfg = match client {
        Some((chain, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
                .collect::<Result<_, _>>()
                .map_err(|e| WebhookError::Config(format!("client certificate: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| WebhookError::Config(format!("client key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| WebhookError::Config(format!("client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// `insecureSkipTLSVerify`: accept any server certificate (signatures are
/// still checked, so the handshake itself stays sound).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
