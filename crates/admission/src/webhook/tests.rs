//! The client against a real HTTPS server on loopback.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rcgen::{CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::*;

pub(super) struct Pki {
    pub(super) ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

pub(super) fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().expect("test set-up");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("test set-up");
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("test set-up");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("test set-up");
    let params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("test set-up");
    let cert = params.signed_by(&key, &issuer).expect("test set-up");
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Serves until the test ends: echoes the JSON body inside `{"got": …}`,
/// answers 500 on `/fail`, and reports the Authorization header.
async fn serve(pki: &Pki) -> SocketAddr {
    serve_fn(
        pki,
        Arc::new(|path, auth, got| {
            let code = if path == "/fail" { 500 } else { 200 };
            (code, json!({"got": got, "path": path, "auth": auth}))
        }),
    )
    .await
}

/// Serves until the test ends, answering each request with what `answer`
/// makes of its path, Authorization header and JSON body.
pub(super) type Answer = Arc<dyn Fn(&str, &str, Value) -> (u16, Value) + Send + Sync>;

pub(super) async fn serve_fn(pki: &Pki, answer: Answer) -> SocketAddr {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("test set-up");
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).expect("test set-up");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("test set-up")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("test set-up");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let answer = answer.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let auth = req
                                .headers()
                                .get(http::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .expect("test set-up")
                                .to_bytes();
                            let got: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let (code, out) = answer(&path, &auth, got);
                            Ok::<_, hyper::Error>(
                                http::Response::builder()
                                    .status(code)
                                    .body(Full::new(Bytes::from(out.to_string())))
                                    .expect("test set-up"),
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn posts_json_over_tls_and_reuses_the_connection() {
    let pki = pki(&["127.0.0.1"]);
    let addr = serve(&pki).await;
    let mut cfg = ClientConfig::url(format!("https://{addr}/review"));
    cfg.ca_bundle = Some(pki.ca_pem.clone().into_bytes());
    cfg.bearer_token = Some("t0k".into());
    let client = WebhookClient::new(cfg, None).expect("test set-up");
    for i in 0..3 {
        let out = client
            .post_json(&json!({"n": i}))
            .await
            .expect("test set-up");
        assert_eq!(out["got"]["n"], i);
        assert_eq!(out["path"], "/review");
        assert_eq!(out["auth"], "Bearer t0k");
    }
    assert_eq!(
        client.idle.lock().expect("test set-up").len(),
        1,
        "one kept-alive connection"
    );
}

#[tokio::test]
async fn refuses_an_unknown_authority_and_reports_status_codes() {
    let pki = pki(&["127.0.0.1"]);
    let other = self::pki(&["127.0.0.1"]);
    let addr = serve(&pki).await;
    let mut cfg = ClientConfig::url(format!("https://{addr}/"));
    cfg.ca_bundle = Some(other.ca_pem.into_bytes());
    let err = WebhookClient::new(cfg, None)
        .expect("test set-up")
        .post_json(&json!({}))
        .await
        .expect_err("must fail");
    assert!(matches!(err, WebhookError::Call { .. }), "{err}");

    let mut cfg = ClientConfig::url(format!("https://{addr}/fail"));
    cfg.ca_bundle = Some(pki.ca_pem.clone().into_bytes());
    let err = WebhookClient::new(cfg, None)
        .expect("test set-up")
        .post_json(&json!({}))
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, WebhookError::Status { code: 500, .. }),
        "{err}"
    );

    let mut cfg = ClientConfig::url(format!("https://{addr}/"));
    cfg.insecure_skip_tls_verify = true;
    let ok = WebhookClient::new(cfg, None)
        .expect("test set-up")
        .post_json(&json!({"x": 1}))
        .await
        .expect("test set-up");
    assert_eq!(ok["got"]["x"], 1);
}

struct Fixed(SocketAddr);

#[async_trait]
impl ServiceResolver for Fixed {
    async fn resolve(
        &self,
        ns: &str,
        name: &str,
        port: u16,
    ) -> Result<(String, u16), WebhookError> {
        assert_eq!((ns, name, port), ("hooks", "conv", 8443));
        Ok((self.0.ip().to_string(), self.0.port()))
    }
}

#[tokio::test]
async fn service_targets_resolve_and_verify_the_service_name() {
    let pki = pki(&["conv.hooks.svc"]);
    let addr = serve(&pki).await;
    let cfg = ClientConfig::from_api(&json!({
        "service": {"namespace": "hooks", "name": "conv", "port": 8443, "path": "/convert"},
        "caBundle": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pki.ca_pem),
    }))
    .expect("test set-up");
    assert!(
        WebhookClient::new(cfg.clone(), None).is_err(),
        "needs a resolver"
    );
    let client = WebhookClient::new(cfg, Some(Arc::new(Fixed(addr)))).expect("test set-up");
    let out = client
        .post_json(&json!({"k": "v"}))
        .await
        .expect("test set-up");
    assert_eq!(out["path"], "/convert");
    assert_eq!(out["got"]["k"], "v");
}

#[tokio::test]
async fn an_unreachable_target_is_a_call_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    drop(listener);
    let err = WebhookClient::new(ClientConfig::url(format!("https://{addr}/")), None)
        .expect("test set-up")
        .post_json(&json!({}))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("failed calling webhook"), "{err}");
    assert!(ClientConfig::url("ftp://x").target == Target::Url("ftp://x".into()));
    assert!(
        WebhookClient::new(ClientConfig::url("ftp://x/"), None)
            .expect("test set-up")
            .post_json(&json!({}))
            .await
            .is_err()
    );
}
