//! A small extension API server for the aggregator tests, as metrics-server
//! would be: HTTPS with a serving certificate for `<service>.<namespace>.svc`
//! signed by its own CA, accepting only client certificates signed by the
//! CA it is given (kaiser's front-proxy CA), serving `metrics.k8s.io/v1beta1`
//! with its own discovery (legacy and aggregated), node and pod metrics
//! lists, a watch that streams the events the test sends, an echo of request
//! bodies, an `exec` that upgrades the connection and echoes bytes, and
//! `/openapi/v2` and `/openapi/v3`. It records who each request came from.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub user: Option<String>,
    pub groups: Vec<String>,
    /// Headers that must never reach an extension server.
    pub credentials: Vec<String>,
}

/// A running extension server; stopped (all connections closed) on drop.
pub struct ExtensionServer {
    pub port: u16,
    /// The CA of its serving certificate (the APIService's `caBundle`).
    pub ca_pem: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    events: broadcast::Sender<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

fn json_response(code: StatusCode, v: &Value, content_type: &str) -> Response<Body> {
    let mut r = Response::new(full(v.to_string()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        content_type.parse().expect("content type"),
    );
    r
}

fn resources() -> Value {
    json!([
        {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list", "watch"]},
        {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list", "watch"]},
    ])
}

fn aggregated() -> Value {
    let kind = |k: &str| json!({"group": GROUP, "version": VERSION, "kind": k});
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [{
            "metadata": {"name": GROUP, "creationTimestamp": null},
            "versions": [{
                "version": VERSION,
                "freshness": "Current",
                "resources": [
                    {"resource": "nodes", "responseKind": kind("NodeMetrics"), "scope": "Cluster",
                     "singularResource": "", "verbs": ["get", "list", "watch"]},
                    {"resource": "pods", "responseKind": kind("PodMetrics"), "scope": "Namespaced",
                     "singularResource": "", "verbs": ["get", "list", "watch"]},
                ],
            }],
        }],
    })
}

fn node_metrics(name: &str, cpu: &str) -> Value {
    json!({
        "kind": "NodeMetrics",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": {"name": name, "resourceVersion": "1"},
        "timestamp": "2025-01-01T00:00:00Z",
        "window": "10s",
        "usage": {"cpu": cpu, "memory": "1024Ki"},
    })
}

fn openapi_v2() -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "metrics-server", "version": "v0.7.0"},
        "paths": {
            "/apis/metrics.k8s.io/v1beta1/nodes": {"get": {
                "operationId": "listMetricsV1beta1NodeMetrics",
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetricsList"}}},
                "x-kubernetes-group-version-kind": {"group": GROUP, "version": VERSION, "kind": "NodeMetrics"},
            }},
            "/healthz": {"get": {"operationId": "health"}},
        },
        "definitions": {
            "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetricsList": {"type": "object", "description": "NodeMetricsList is a list of NodeMetrics."},
        },
    })
}

const V3_URL: &str = "/openapi/v3/apis/metrics.k8s.io/v1beta1?hash=EXT1";

impl ExtensionServer {
    /// Starts on a free loopback port with a certificate for `server_name`,
    /// trusting client certificates signed by `client_ca_pem`.
    pub fn start(client_ca_pem: &[u8], server_name: &str) -> ExtensionServer {
        let (ca_pem, chain, key) = serving_certificate(server_name);
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(client_ca_pem) {
            roots.add(c.expect("client CA")).expect("add client CA");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .expect("verifier");
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (events, _) = broadcast::channel(64);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = (seen.clone(), events.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                tokio::select! {
                    _ = accept_loop(listener, acceptor, state) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime ends every connection it serves.
            rt.shutdown_background();
        });
        ExtensionServer {
            port,
            ca_pem,
            seen,
            events,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Sends a node-metrics watch event to every open watch.
    pub fn send_event(&self, kind: &str, node: &str, cpu: &str) {
        let line = json!({"type": kind, "object": node_metrics(node, cpu)}).to_string();
        let _ = self.events.send(line);
    }

    /// Stops serving and closes every connection.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ExtensionServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a leaf certificate for `server_name` (and localhost).
fn serving_certificate(
    server_name: &str,
) -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.distinguished_name
        .push(DnType::CommonName, "extension-server-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(Vec::<String>::new()).expect("params");
    leaf.subject_alt_names = vec![
        SanType::DnsName(server_name.try_into().expect("dns name")),
        SanType::DnsName("localhost".try_into().expect("dns name")),
    ];
    leaf.distinguished_name
        .push(DnType::CommonName, "metrics-server");
    let key = KeyPair::generate().expect("key");
    let cert = leaf.signed_by(&key, &issuer).expect("leaf");
    let key_der = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).expect("key der");
    (ca_cert.pem(), vec![cert.der().clone()], key_der)
}

type State = (Arc<Mutex<Vec<Seen>>>, broadcast::Sender<String>);

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: State,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(req, &state)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .with_upgrades()
                .await;
        });
    }
}

fn record(req: &Request<Incoming>, seen: &Mutex<Vec<Seen>>) {
    let h = req.headers();
    let all = |name: &str| -> Vec<String> {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let credentials = h
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k == "authorization" || k.starts_with("impersonate-"))
        .collect();
    seen.lock().expect("lock").push(Seen {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        user: all("x-remote-user").into_iter().next(),
        groups: all("x-remote-group"),
        credentials,
    });
}

fn handle(req: Request<Incoming>, state: &State) -> Response<Body> {
    record(&req, &state.0);
    let path = req.uri().path().trim_end_matches('/').to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let gv = format!("/apis/{GROUP}/{VERSION}");
    let json_ct = "application/json";
    let group = json!({"name": GROUP, "versions": [{"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION}],
                       "preferredVersion": {"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION}});
    match (req.method().as_str(), path.as_str()) {
        ("GET", "/apis") if accept.contains("as=APIGroupDiscoveryList") => json_response(
            StatusCode::OK,
            &aggregated(),
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        ),
        ("GET", "/apis") => json_response(
            StatusCode::OK,
            &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}),
            json_ct,
        ),
        ("GET", p) if p == gv => json_response(
            StatusCode::OK,
            &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/{VERSION}"), "resources": resources()}),
            json_ct,
        ),
        ("GET", p) if p == format!("{gv}/nodes") && query.contains("watch=") => watch(state),
        ("GET", p) if p == format!("{gv}/nodes") => json_response(
            StatusCode::OK,
            &json!({"kind": "NodeMetricsList", "apiVersion": format!("{GROUP}/{VERSION}"), "metadata": {"resourceVersion": "1"},
                    "items": [node_metrics("node-a", "100m"), node_metrics("node-b", "250m")]}),
            json_ct,
        ),
        ("POST", p) if p.ends_with("/exec") => upgrade(req),
        ("POST", p) if p.starts_with(&gv) => echo(req),
        ("GET", "/openapi/v2") => {
            let mut r = json_response(StatusCode::OK, &openapi_v2(), json_ct);
            r.headers_mut()
                .insert(header::ETAG, "\"ext-v2\"".parse().expect("etag"));
            r
        }
        ("GET", "/openapi/v3") => json_response(
            StatusCode::OK,
            &json!({"paths": {"apis/metrics.k8s.io/v1beta1": {"serverRelativeURL": V3_URL}}}),
            json_ct,
        ),
        ("GET", "/openapi/v3/apis/metrics.k8s.io/v1beta1") => json_response(
            StatusCode::OK,
            &json!({"openapi": "3.0.0", "info": {"title": "metrics-server v3", "version": "v0.7.0"}, "paths": {}}),
            json_ct,
        ),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
            json_ct,
        ),
    }
}

/// A watch: one ADDED event, then whatever the test sends.
fn watch(state: &State) -> Response<Body> {
    let first = format!(
        "{}\n",
        json!({"type": "ADDED", "object": node_metrics("node-a", "100m")})
    );
    let rx = state.1.subscribe();
    let stream = futures_util::stream::unfold((Some(first), rx), |(first, mut rx)| async move {
        if let Some(f) = first {
            return Some((Ok::<_, BoxError>(Frame::data(Bytes::from(f))), (None, rx)));
        }
        match rx.recv().await {
            Ok(line) => Some((
                Ok(Frame::data(Bytes::from(format!("{line}\n")))),
                (None, rx),
            )),
            Err(_) => None,
        }
    });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("ct"),
    );
    r
}

/// Streams the request body back.
fn echo(req: Request<Incoming>) -> Response<Body> {
    let body = req
        .into_body()
        .map_err(|e| -> BoxError { Box::new(e) })
        .boxed();
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/octet-stream".parse().expect("ct"),
    );
    r
}

/// Switches protocols and echoes every byte back.
fn upgrade(mut req: Request<Incoming>) -> Response<Body> {
    let protocol = req
        .headers()
        .get(header::UPGRADE)
        .cloned()
        .unwrap_or_else(|| "echo".parse().expect("value"));
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(up) = on.await else { return };
        let mut io = TokioIo::new(up);
        let mut buf = [0u8; 4096];
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if io.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    r.headers_mut()
        .insert(header::CONNECTION, "Upgrade".parse().expect("value"));
    r.headers_mut().insert(header::UPGRADE, protocol);
    r
}
