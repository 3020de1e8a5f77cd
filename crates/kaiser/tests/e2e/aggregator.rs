//! The aggregator end to end: an extension API server (written here, see
//! `extension_server.rs`) registered with a Service and an APIService, and
//! kubectl, curl and a raw TLS client going through kaiser to it.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::extension_server::ExtensionServer;
use crate::harness::{Server, fails, json, lines, ok};

const API_SERVICE: &str = "v1beta1.metrics.k8s.io";
const AGGREGATED: &str =
    "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Polls `probe` every 200 ms for at most `limit`; panics with `what`.
fn eventually<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn apply(s: &Server, name: &str, manifest: &Value) {
    let file = s.dir.join(format!("{name}.json"));
    std::fs::write(&file, manifest.to_string()).expect("write manifest");
    ok(s.kubectl(&["apply", "-f", file.to_str().expect("path")]));
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The `Available` condition of an APIService: (status, reason, message).
fn available(s: &Server, name: &str) -> (String, String, String) {
    let out = ok(s.kubectl(&["get", "apiservice", name, "-o", "json"]));
    let o = json(&out);
    let c = o["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Available"))
        .cloned()
        .unwrap_or(Value::Null);
    let f = |k: &str| c[k].as_str().unwrap_or("").to_string();
    (f("status"), f("reason"), f("message"))
}

/// Registers the extension server as `metrics.k8s.io/v1beta1` behind the
/// Service `kube-system/metrics-server` (ExternalName `localhost`: endpoint
/// addresses may not be loopback addresses, as upstream validates them).
fn register(s: &Server, ext: &ExtensionServer) {
    apply(
        s,
        "svc",
        &serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system"},
            "spec": {"type": "ExternalName", "externalName": "localhost",
                     "ports": [{"name": "https", "port": ext.port}]},
        }),
    );
    apply(
        s,
        "apiservice",
        &serde_json::json!({
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": API_SERVICE},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                     "service": {"namespace": "kube-system", "name": "metrics-server", "port": ext.port},
                     "caBundle": b64(&ext.ca_pem),
                     "groupPriorityMinimum": 100, "versionPriority": 100},
        }),
    );
}

fn start() -> (Server, ExtensionServer) {
    let s = Server::start_with(&["--enable-aggregator-routing=true"]);
    let ca = std::fs::read(s.pki("front-proxy-ca.crt")).expect("front-proxy CA");
    let ext = ExtensionServer::start(&ca, "metrics-server.kube-system.svc");
    register(&s, &ext);
    eventually(
        Duration::from_secs(30),
        "the APIService to be available",
        || (available(&s, API_SERVICE).0 == "True").then_some(()),
    );
    (s, ext)
}

#[test]
fn extension_api_servers_are_proxied_discovered_and_watched() {
    let (s, mut ext) = start();

    // Listed as available, beside the local APIServices.
    let table = ok(s.kubectl(&["get", "apiservices"]));
    let row = table
        .lines()
        .find(|l| l.starts_with(API_SERVICE))
        .unwrap_or_else(|| panic!("no {API_SERVICE} in\n{table}"));
    assert!(
        row.contains("kube-system/metrics-server") && row.contains("True"),
        "{row}"
    );
    let apps = table
        .lines()
        .find(|l| l.starts_with("v1.apps "))
        .expect("v1.apps");
    assert!(apps.contains("Local") && apps.contains("True"), "{apps}");
    let (_, reason, message) = available(&s, API_SERVICE);
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("Passed", "all checks passed")
    );

    // Requests are proxied with the caller's identity and no credentials.
    let nodes = json(&ok(s.kubectl(&[
        "get",
        "--raw",
        "/apis/metrics.k8s.io/v1beta1/nodes",
    ])));
    assert_eq!(nodes["kind"], "NodeMetricsList");
    assert_eq!(nodes["items"][1]["metadata"]["name"], "node-b");
    let seen = ext.seen();
    let req = seen
        .iter()
        .rev()
        .find(|r| r.path == "/apis/metrics.k8s.io/v1beta1/nodes")
        .expect("the backend saw the request");
    assert_eq!(req.user.as_deref(), Some("kubernetes-admin"));
    assert!(
        req.groups.contains(&"system:masters".to_string()),
        "{req:?}"
    );
    assert!(
        req.groups.contains(&"system:authenticated".to_string()),
        "{req:?}"
    );
    assert!(seen.iter().all(|r| r.credentials.is_empty()), "{seen:?}");
    // Identity headers a caller sends are replaced, never passed on.
    let (code, _) = s.curl_admin(&[
        "-H",
        "X-Remote-User: mallory",
        "-H",
        "X-Remote-Group: system:nobody",
        &s.url("/apis/metrics.k8s.io/v1beta1/nodes?forged=1"),
    ]);
    assert_eq!(code, 200);
    let forged = ext.seen().pop().expect("seen");
    assert_eq!(forged.user.as_deref(), Some("kubernetes-admin"));
    assert!(
        !forged.groups.contains(&"system:nobody".to_string()),
        "{forged:?}"
    );
    // The availability check came as the aggregator.
    assert!(
        seen.iter()
            .any(|r| r.user.as_deref() == Some("system:kube-aggregator")
                && r.path == "/apis/metrics.k8s.io/v1beta1"),
        "{seen:?}"
    );

    // Discovery: legacy /apis lists the group, its group document comes
    // from the APIServices, aggregated discovery carries its resources.
    let groups = json(&ok(s.kubectl(&["get", "--raw", "/apis"])));
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(names.first(), Some(&"apiregistration.k8s.io"));
    assert!(names.contains(&"metrics.k8s.io"), "{names:?}");
    let group = json(&ok(s.kubectl(&["get", "--raw", "/apis/metrics.k8s.io"])));
    assert_eq!(
        group["preferredVersion"]["groupVersion"],
        "metrics.k8s.io/v1beta1"
    );
    let resources = eventually(
        Duration::from_secs(30),
        "kubectl api-resources to list nodes",
        || {
            let out = ok(api_resources(&s, &["--api-group=metrics.k8s.io"]));
            out.contains("NodeMetrics").then_some(out)
        },
    );
    assert!(resources.contains("PodMetrics"), "{resources}");
    let (code, body) = s.curl_admin(&["-H", AGGREGATED, &s.url("/apis")]);
    assert_eq!(code, 200, "{body}");
    let agg = json(&body);
    let metrics = agg["items"]
        .as_array()
        .and_then(|i| i.iter().find(|g| g["metadata"]["name"] == "metrics.k8s.io"))
        .cloned()
        .expect("metrics.k8s.io in aggregated discovery");
    assert_eq!(metrics["versions"][0]["freshness"], "Current");
    assert_eq!(metrics["versions"][0]["resources"][0]["resource"], "nodes");

    // OpenAPI v2 and v3 carry what the extension server publishes.
    eventually(
        Duration::from_secs(30),
        "the remote OpenAPI v2 paths",
        || {
            let v2 = ok(s.kubectl(&["get", "--raw", "/openapi/v2"]));
            v2.contains("listMetricsV1beta1NodeMetrics").then_some(())
        },
    );
    let v3 = json(&ok(s.kubectl(&["get", "--raw", "/openapi/v3"])));
    let url = v3["paths"]["apis/metrics.k8s.io/v1beta1"]["serverRelativeURL"]
        .as_str()
        .expect("remote group version in the v3 index")
        .to_string();
    assert!(v3["paths"]["apis/apps/v1"].is_object());
    let doc = json(&ok(s.kubectl(&["get", "--raw", &url])));
    assert_eq!(doc["info"]["title"], "metrics-server v3");

    // A watch through the proxy streams the backend's events as they come.
    let mut watch = s.curl_admin_command();
    watch
        .arg("-N")
        .arg(s.url("/apis/metrics.k8s.io/v1beta1/nodes?watch=true"));
    let mut child = watch
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl");
    let rx = lines(child.stdout.take().expect("stdout"));
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("first event");
    assert_eq!(json(&first)["type"], "ADDED");
    // Sent repeatedly until one arrives: the backend's subscription is
    // made when the watch request reaches it.
    let event = eventually(Duration::from_secs(20), "a streamed event", || {
        ext.send_event("MODIFIED", "node-a", "777m");
        rx.recv_timeout(Duration::from_millis(300)).ok()
    });
    let event = json(&event);
    assert_eq!(event["type"], "MODIFIED");
    assert_eq!(event["object"]["usage"]["cpu"], "777m");
    let _ = child.kill();
    let _ = child.wait();

    // Bodies above the 3 MiB limit of local requests stream both ways.
    let big = s.dir.join("big.bin");
    let mut f = std::fs::File::create(&big).expect("create");
    let chunk = vec![b'k'; 1 << 20];
    for _ in 0..5 {
        f.write_all(&chunk).expect("write");
    }
    drop(f);
    let (code, echoed) = s.curl_admin(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", big.display()),
        &s.url("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods"),
    ]);
    assert_eq!(code, 200);
    assert_eq!(echoed.len(), 5 << 20);
    assert!(
        ext.seen()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/namespaces/default/pods")),
        "the backend did not see the POST"
    );

    // Upgrade requests are tunnelled.
    let (status, echoed) = upgrade_roundtrip(&s, b"ping through the tunnel");
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    assert_eq!(echoed, b"ping through the tunnel");

    // A group nobody serves still ends in the chain's 404.
    let err = fails(s.kubectl(&["get", "--raw", "/apis/nobody.example.com/v1/things"]));
    assert!(
        err.contains("NotFound") || err.contains("could not find"),
        "{err}"
    );

    // The backend goes away: requests get 503, the APIService turns
    // unavailable with a reason, discovery marks it stale, and the rest of
    // the server is unaffected.
    ext.stop();
    let (code, body) = s.curl_admin(&[&s.url("/apis/metrics.k8s.io/v1beta1/nodes")]);
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("connection refused") || body.contains("service unavailable"),
        "{body}"
    );
    let (status, message) = eventually(
        Duration::from_secs(60),
        "the APIService to turn unavailable",
        || {
            let (status, reason, message) = available(&s, API_SERVICE);
            (reason == "FailedDiscoveryCheck").then_some((status, message))
        },
    );
    assert_eq!(status, "False");
    assert!(
        message.starts_with("failing or missing response from https://"),
        "{message}"
    );
    let table = ok(s.kubectl(&["get", "apiservice", API_SERVICE]));
    assert!(table.contains("False (FailedDiscoveryCheck)"), "{table}");
    let (code, body) = s.curl_admin(&[&s.url("/apis/metrics.k8s.io/v1beta1/nodes")]);
    assert_eq!((code, body.as_str()), (503, "service unavailable\n"));
    assert!(ok(s.kubectl(&["get", "ns"])).contains("kube-system"));
    eventually(Duration::from_secs(30), "stale discovery", || {
        let (_, body) = s.curl_admin(&["-H", AGGREGATED, &s.url("/apis")]);
        body.contains("\"Stale\"").then_some(())
    });
    // kubectl drops the stale group version's resources.
    let out = api_resources(&s, &[]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("deployments"), "{listed}");
    assert!(!listed.contains("NodeMetrics"), "{listed}");
}

/// `kubectl api-resources` without kubectl's discovery cache.
fn api_resources(s: &Server, extra: &[&str]) -> std::process::Output {
    let cache = tempfile::tempdir().expect("cache dir");
    let dir = cache.path().to_str().expect("path").to_string();
    let mut args = vec!["api-resources", "--cache-dir", &dir];
    args.extend_from_slice(extra);
    s.kubectl(&args)
}

/// Sends an `Upgrade` request through kaiser to the backend's `exec` with
/// the admin certificate over a raw TLS connection, then `payload` over the
/// upgraded stream; returns the status line and what came back.
fn upgrade_roundtrip(s: &Server, payload: &[u8]) -> (String, Vec<u8>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(s.pki("ca.crt")).expect("ca") {
        roots.add(c.expect("cert")).expect("add");
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(s.pki("admin.crt"))
        .expect("admin cert")
        .collect::<Result<_, _>>()
        .expect("admin cert");
    let key = PrivateKeyDer::from_pem_file(s.pki("admin.key")).expect("admin key");
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .expect("client config");
    let port = s.port;
    let payload = payload.to_vec();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let work = async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
            let name = ServerName::try_from("127.0.0.1").expect("name");
            let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
                .connect(name, tcp)
                .await
                .expect("tls");
            let req = "POST /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/p/exec HTTP/1.1\r\n\
                       Host: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: kaiser-echo\r\nContent-Length: 0\r\n\r\n";
            tls.write_all(req.as_bytes()).await.expect("write");
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                let n = tls.read(&mut byte).await.expect("read head");
                assert!(n == 1, "connection closed in the head: {}", String::from_utf8_lossy(&head));
                head.push(byte[0]);
            }
            let status = String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            tls.write_all(&payload).await.expect("write payload");
            let mut back = vec![0u8; payload.len()];
            tls.read_exact(&mut back).await.expect("read echo");
            (status, back)
        };
        tokio::time::timeout(Duration::from_secs(20), work)
            .await
            .expect("the upgrade round trip took too long")
    })
}

#[test]
fn broken_api_services_report_upstream_reasons() {
    let s = Server::start_with(&["--enable-aggregator-routing=true"]);
    // Upstream's validation of APIService objects.
    let bad = serde_json::json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1.wrong.example.com"},
        "spec": {"group": "other.example.com", "version": "v1",
                 "service": {"namespace": "default", "name": "x"},
                 "insecureSkipTLSVerify": true, "caBundle": b64("x"),
                 "groupPriorityMinimum": 100, "versionPriority": 100},
    });
    let file = s.dir.join("bad.json");
    std::fs::write(&file, bad.to_string()).expect("write");
    let err = fails(s.kubectl(&["create", "-f", file.to_str().expect("path")]));
    assert!(err.contains("metadata.name: Invalid value: \"v1.wrong.example.com\": must be `spec.version+\".\"+spec.group`: \"v1.other.example.com\""), "{err}");
    assert!(err.contains("spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present"), "{err}");

    let api_service = |name: &str, group: &str, svc: &str| {
        serde_json::json!({
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": name},
            "spec": {"group": group, "version": "v1",
                     "service": {"namespace": "default", "name": svc},
                     "insecureSkipTLSVerify": true,
                     "groupPriorityMinimum": 100, "versionPriority": 100},
        })
    };
    // No Service at all.
    apply(
        &s,
        "absent",
        &api_service("v1.absent.example.com", "absent.example.com", "absent"),
    );
    // A Service on another port.
    apply(
        &s,
        "wrong-port-svc",
        &serde_json::json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "wrong-port", "namespace": "default"},
        "spec": {"ports": [{"name": "https", "port": 8443}]}}),
    );
    apply(
        &s,
        "wrong-port",
        &api_service("v1.port.example.com", "port.example.com", "wrong-port"),
    );
    // A selectorless Service whose only endpoint is not ready.
    apply(
        &s,
        "lonely-svc",
        &serde_json::json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "lonely", "namespace": "default"},
        "spec": {"ports": [{"name": "https", "port": 443}]}}),
    );
    apply(
        &s,
        "lonely",
        &api_service("v1.lonely.example.com", "lonely.example.com", "lonely"),
    );
    let reason = |name: &str, want: &str| {
        eventually(Duration::from_secs(30), want, || {
            let c = available(&s, name);
            (c.1 == want).then_some(c)
        })
    };
    let c = reason("v1.absent.example.com", "ServiceNotFound");
    assert_eq!(
        (c.0.as_str(), c.2.as_str()),
        ("False", "service/absent in \"default\" is not present")
    );
    let c = reason("v1.port.example.com", "ServicePortError");
    assert_eq!(
        c.2,
        "service/wrong-port in \"default\" is not listening on port 443"
    );
    let c = reason("v1.lonely.example.com", "EndpointsNotFound");
    assert_eq!(
        c.2,
        "cannot find endpointslices for service/lonely in \"default\""
    );
    // An EndpointSlice change is noticed at once.
    apply(
        &s,
        "slice",
        &serde_json::json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "lonely-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "lonely"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.0.2.10"], "conditions": {"ready": false}}],
        "ports": [{"name": "https", "port": 4443, "protocol": "TCP"}]}),
    );
    let c = reason("v1.lonely.example.com", "MissingEndpoints");
    assert_eq!(
        c.2,
        "endpointslices for service/lonely in \"default\" have no addresses with port name \"https\""
    );
    // Requests for an unavailable APIService get 503.
    let (code, body) = s.curl_admin(&[&s.url("/apis/absent.example.com/v1/things")]);
    assert_eq!((code, body.as_str()), (503, "service unavailable\n"));
    // The table shows the reason; local APIServices stay Local.
    let table = ok(s.kubectl(&["get", "apiservices"]));
    assert!(table.contains("False (ServiceNotFound)"), "{table}");
    let core = table.lines().find(|l| l.starts_with("v1. ")).expect("v1.");
    assert!(core.contains("Local") && core.contains("True"), "{core}");
    // Status writes carry only known condition statuses.
    let err = fails(s.kubectl(&[
        "patch",
        "apiservice",
        "v1.absent.example.com",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Available","status":"Maybe"}]}}"#,
    ]));
    assert!(
        err.contains("status.conditions[0].status: Unsupported value: \"Maybe\""),
        "{err}"
    );
    // Deleting an APIService stops the proxying: the path ends in 404.
    ok(s.kubectl(&["delete", "apiservice", "v1.absent.example.com"]));
    eventually(Duration::from_secs(10), "the route to go", || {
        let (code, _) = s.curl_admin(&[&s.url("/apis/absent.example.com/v1/things")]);
        (code == 404).then_some(())
    });
}
