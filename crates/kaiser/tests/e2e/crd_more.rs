//! CustomResourceDefinitions, continued: CEL rules whose estimated cost is
//! over upstream's limits are refused until the schema bounds them;
//! updates ratchet values stored before a stricter schema; and a CRD with
//! `Webhook` conversion serves two versions through a conversion webhook
//! that runs in this test process (HTTPS on loopback, a certificate made
//! here, trusted through the CRD's `caBundle`). CRDs in the shape of
//! cert-manager's, prometheus-operator's and Argo CD's (our own fixtures in
//! `testdata/crds/`) apply unchanged and serve their resources.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

use crate::crd::wait_established;
use crate::harness::{Server, fails, json, ok};

/// Writes `v` to `dir/name.json` and returns the path, for `kubectl -f`.
pub(crate) fn file(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, v.to_string()).expect("write manifest");
    p.display().to_string()
}

fn list_crd(items: Value) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "baskets.cost.example.com"},
        "spec": {"group": "cost.example.com", "scope": "Namespaced",
            "names": {"plural": "baskets", "kind": "Basket"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object",
                        "x-kubernetes-validations": [{"rule": "self.items.all(i, i.matches('^[a-z]+$'))",
                            "message": "items must be lower-case words"}],
                        "properties": {"items": items}}}}}}]}})
}

#[test]
fn expensive_rules_are_refused_until_the_schema_bounds_them() {
    let s = Server::start();
    let tmp = tempfile::tempdir().expect("tmp");
    // Unbounded strings in an unbounded list: the rule may cost more than
    // a million times the per-rule budget.
    let unbounded = list_crd(json!({"type": "array", "items": {"type": "string"}}));
    let err = fails(s.kubectl(&["apply", "-f", &file(tmp.path(), "crd", &unbounded)]));
    let rule = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule";
    for want in [
        "The CustomResourceDefinition \"baskets.cost.example.com\" is invalid:".to_string(),
        format!(
            "{rule}: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
        ),
        format!(
            "{rule}: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
        ),
        "spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x".to_string(),
    ] {
        assert!(err.contains(&want), "{want}\nmissing from: {err}");
    }
    // The same rule once the list and its strings are bounded.
    let bounded = list_crd(json!({"type": "array", "maxItems": 10,
        "items": {"type": "string", "maxLength": 20}}));
    ok(s.kubectl(&["apply", "-f", &file(tmp.path(), "crd", &bounded)]));
    wait_established(&s, "baskets.cost.example.com");
    let obj = |name: &str, items: Value| {
        json!({"apiVersion": "cost.example.com/v1", "kind": "Basket",
            "metadata": {"name": name}, "spec": {"items": items}})
    };
    ok(s.kubectl(&[
        "apply",
        "-f",
        &file(tmp.path(), "good", &obj("good", json!(["abc", "de"]))),
    ]));
    let err = fails(s.kubectl(&[
        "apply",
        "-f",
        &file(tmp.path(), "bad", &obj("bad", json!(["abc", "D-E"]))),
    ]));
    assert!(
        err.contains("spec: Invalid value: \"object\": items must be lower-case words"),
        "{err}"
    );
}

#[test]
fn updates_ratchet_values_stored_before_a_stricter_schema() {
    let s = Server::start();
    let tmp = tempfile::tempdir().expect("tmp");
    let crd = |name_schema: Value| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "pets.ratchet.example.com"},
            "spec": {"group": "ratchet.example.com", "scope": "Namespaced",
                "names": {"plural": "pets", "kind": "Pet"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {
                            "name": name_schema,
                            "legs": {"type": "integer"}}}}}}}]}})
    };
    ok(s.kubectl(&[
        "apply",
        "-f",
        &file(tmp.path(), "crd", &crd(json!({"type": "string"}))),
    ]));
    wait_established(&s, "pets.ratchet.example.com");
    let pet = json!({"apiVersion": "ratchet.example.com/v1", "kind": "Pet",
        "metadata": {"name": "rex"}, "spec": {"name": "Rex the Great", "legs": 4}});
    ok(s.kubectl(&["apply", "-f", &file(tmp.path(), "pet", &pet)]));

    // The schema gets stricter: at most 5 characters, lower case.
    let strict = crd(json!({"type": "string", "maxLength": 5,
        "x-kubernetes-validations": [{"rule": "self.lowerAscii() == self", "message": "must be lower case"}]}));
    ok(s.kubectl(&["apply", "-f", &file(tmp.path(), "crd", &strict)]));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The new schema is in force once a new object is held to it.
        let out = s.kubectl(&[
            "create",
            "-f",
            &file(
                tmp.path(),
                "probe",
                &json!({"apiVersion": "ratchet.example.com/v1", "kind": "Pet",
                    "metadata": {"name": "probe"}, "spec": {"name": "Probe"}}),
            ),
        ]);
        if !out.status.success() {
            break;
        }
        ok(s.kubectl(&["delete", "pet", "probe"]));
        assert!(
            Instant::now() < deadline,
            "the stricter schema never applied"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Touching another field: the stored name stands although invalid now.
    ok(s.kubectl(&[
        "patch",
        "pet",
        "rex",
        "--type=merge",
        "-p",
        r#"{"spec":{"legs":3}}"#,
    ]));
    let got = json(&ok(s.kubectl(&["get", "pet", "rex", "-o", "json"])));
    assert_eq!(got["spec"]["legs"], 3);
    assert_eq!(got["spec"]["name"], "Rex the Great");
    // Changing it: the new value is held to the new schema.
    let err = fails(s.kubectl(&[
        "patch",
        "pet",
        "rex",
        "--type=merge",
        "-p",
        r#"{"spec":{"name":"Rex II"}}"#,
    ]));
    assert!(
        err.contains("spec.name: Too long: may not be more than 5 bytes"),
        "{err}"
    );
    let err = fails(s.kubectl(&[
        "patch",
        "pet",
        "rex",
        "--type=merge",
        "-p",
        r#"{"spec":{"name":"Rex"}}"#,
    ]));
    assert!(
        err.contains("spec.name: Invalid value: \"string\": must be lower case"),
        "{err}"
    );
    ok(s.kubectl(&[
        "patch",
        "pet",
        "rex",
        "--type=merge",
        "-p",
        r#"{"spec":{"name":"rex"}}"#,
    ]));
}

// ---------------------------------------------------------------------------
// Conversion webhook

/// A CA and a serving certificate for 127.0.0.1, made for this test.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// `v1` keeps `spec.hostPort` ("host:port"); `v2` has `spec.host` and
/// `spec.port`. Objects named `broken` cannot be converted.
fn convert(obj: &Value, to: &str) -> Value {
    let mut out = obj.clone();
    out["apiVersion"] = json!(to);
    let spec = &obj["spec"];
    out["spec"] = if to.ends_with("/v2") {
        let hp = spec["hostPort"].as_str().unwrap_or("");
        let (host, port) = hp.split_once(':').unwrap_or((hp, "0"));
        json!({"host": host, "port": port.parse::<i64>().unwrap_or(0)})
    } else {
        json!({"hostPort": format!("{}:{}", spec["host"].as_str().unwrap_or(""), spec["port"])})
    };
    out
}

fn review_answer(review: &Value) -> Value {
    let req = &review["request"];
    let to = req["desiredAPIVersion"].as_str().unwrap_or("");
    let objects = req["objects"].as_array().cloned().unwrap_or_default();
    let response = if objects.iter().any(|o| o["metadata"]["name"] == "broken") {
        json!({"uid": req["uid"], "result": {"status": "Failure", "message": "cannot convert broken"}})
    } else {
        let converted: Vec<Value> = objects.iter().map(|o| convert(o, to)).collect();
        json!({"uid": req["uid"], "result": {"status": "Success"}, "convertedObjects": converted})
    };
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": response})
}

/// Serves ConversionReviews over HTTPS on loopback until the test ends;
/// returns the port and a count of the reviews answered.
fn conversion_webhook(pki: &Pki) -> (u16, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("chain");
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).expect("key");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    let cfg = Arc::new(cfg);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let served = count.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let Ok(conn) = rustls::ServerConnection::new(cfg.clone()) else {
                continue;
            };
            let served = served.clone();
            std::thread::spawn(move || {
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                while let Some(body) = read_request(&mut tls) {
                    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let answer = review_answer(&review).to_string();
                    served.fetch_add(1, Ordering::SeqCst);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        answer.len()
                    );
                    if tls.write_all(head.as_bytes()).is_err()
                        || tls.write_all(answer.as_bytes()).is_err()
                        || tls.flush().is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, count)
}

/// One HTTP/1.1 request's body (`None` when the connection ends).
fn read_request(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

fn route_crd(port: u16, ca_pem: &str) -> Value {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let version = |name: &str, storage: bool, spec: Value| {
        json!({"name": name, "served": true, "storage": storage,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": spec}}}}})
    };
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "routes.convert.example.com"},
        "spec": {"group": "convert.example.com", "scope": "Namespaced",
            "names": {"plural": "routes", "kind": "Route"},
            "conversion": {"strategy": "Webhook", "webhook": {
                "conversionReviewVersions": ["v1"],
                "clientConfig": {"url": format!("https://127.0.0.1:{port}/convert"), "caBundle": ca}}},
            "versions": [
                version("v1", true, json!({"hostPort": {"type": "string"}})),
                version("v2", false, json!({"host": {"type": "string"}, "port": {"type": "integer"}}))]}})
}

#[test]
fn a_conversion_webhook_serves_both_versions() {
    let pki = pki();
    let (port, calls) = conversion_webhook(&pki);
    let s = Server::start();
    let tmp = tempfile::tempdir().expect("tmp");
    ok(s.kubectl(&[
        "apply",
        "-f",
        &file(tmp.path(), "crd", &route_crd(port, &pki.ca_pem)),
    ]));
    wait_established(&s, "routes.convert.example.com");

    // Created in v1 (the storage version): no conversion needed.
    let r1 = json!({"apiVersion": "convert.example.com/v1", "kind": "Route",
        "metadata": {"name": "r1"}, "spec": {"hostPort": "a.example:80"}});
    ok(s.kubectl(&["create", "-f", &file(tmp.path(), "r1", &r1)]));
    // Read in v2 through the webhook.
    let v2 = json(&ok(s.kubectl(&[
        "get",
        "routes.v2.convert.example.com",
        "r1",
        "-o",
        "json",
    ])));
    assert_eq!(v2["apiVersion"], "convert.example.com/v2", "{v2}");
    assert_eq!(
        v2["spec"],
        json!({"host": "a.example", "port": 80}),
        "{v2}\nwebhook calls: {}",
        calls.load(Ordering::SeqCst)
    );
    assert!(calls.load(Ordering::SeqCst) >= 1);
    let v1 = json(&ok(s.kubectl(&[
        "get",
        "routes.v1.convert.example.com",
        "r1",
        "-o",
        "json",
    ])));
    assert_eq!(v1["metadata"]["uid"], v2["metadata"]["uid"]);
    assert_eq!(
        v1["metadata"]["resourceVersion"],
        v2["metadata"]["resourceVersion"]
    );

    // Created in v2: converted to v1 to be stored, validated as v2.
    let (code, body) = s.post_json(
        "/apis/convert.example.com/v2/namespaces/default/routes",
        &json!({"apiVersion": "convert.example.com/v2", "kind": "Route",
            "metadata": {"name": "r2"}, "spec": {"host": "b.example", "port": 443}}),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        json(&body)["spec"],
        json!({"host": "b.example", "port": 443})
    );
    let stored = json(&ok(s.kubectl(&[
        "get",
        "routes.v1.convert.example.com",
        "r2",
        "-o",
        "json",
    ])));
    assert_eq!(stored["spec"], json!({"hostPort": "b.example:443"}));

    // Lists in both versions.
    let l1 = json(&ok(s.kubectl(&[
        "get",
        "routes.v1.convert.example.com",
        "-o",
        "json",
    ])));
    let hp: Vec<&str> = l1["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["spec"]["hostPort"].as_str())
        .collect();
    assert_eq!(hp, ["a.example:80", "b.example:443"]);
    // And with kube-rs, in v2.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = crate::kube_rs::client(&s).await;
        let gvk = GroupVersionKind::gvk("convert.example.com", "v2", "Route");
        let ar = ApiResource::from_gvk_with_plural(&gvk, "routes");
        let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
        let list = api.list(&ListParams::default()).await.expect("list v2");
        let ports: Vec<i64> = list
            .items
            .iter()
            .filter_map(|o| o.data["spec"]["port"].as_i64())
            .collect();
        assert_eq!(ports, [80, 443]);
        let r1 = api.get("r1").await.expect("get v2");
        assert_eq!(r1.data["spec"]["host"], "a.example");
    });

    // A failed conversion is upstream's 500.
    let (code, body) = s.post_json(
        "/apis/convert.example.com/v2/namespaces/default/routes",
        &json!({"apiVersion": "convert.example.com/v2", "kind": "Route",
            "metadata": {"name": "broken"}, "spec": {"host": "x", "port": 1}}),
    );
    assert_eq!(code, 500, "{body}");
    let status = json(&body);
    assert!(status.get("reason").is_none(), "{body}");
    assert_eq!(
        status["message"],
        "conversion webhook for convert.example.com/v2, Kind=Route failed: cannot convert broken"
    );
}

// ---------------------------------------------------------------------------
// Real-world-shaped CRDs

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/e2e/testdata/crds/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn real_world_shaped_crds_apply_unchanged_and_serve_their_resources() {
    let s = Server::start();
    let tmp = tempfile::tempdir().expect("tmp");
    for (file, crd) in [
        ("certificates", "certificates.cert-manager.io"),
        ("servicemonitors", "servicemonitors.monitoring.coreos.com"),
        ("applications", "applications.argoproj.io"),
    ] {
        ok(s.kubectl(&["apply", "-f", &fixture(file)]));
        wait_established(&s, crd);
    }
    let objects = json!([
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
         "metadata": {"name": "web"},
         "spec": {"secretName": "web-tls", "dnsNames": ["web.example.com"],
                  "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
                  "privateKey": {"algorithm": "ECDSA", "size": 256}, "usages": ["server auth"]}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
         "metadata": {"name": "web"},
         "spec": {"selector": {"matchLabels": {"app": "web"}},
                  "endpoints": [{"port": "metrics", "targetPort": 9090, "interval": "30s",
                                 "relabelings": [{"sourceLabels": ["__name__"], "targetLabel": "x"}]}]}},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
         "metadata": {"name": "web"},
         "spec": {"project": "default",
                  "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
                  "source": {"repoURL": "https://example.com/charts", "targetRevision": "1.2.3",
                             "helm": {"valuesObject": {"replicas": 3, "image": {"tag": "v1"}}}},
                  "syncPolicy": {"automated": {"prune": true}}}}
    ]);
    for (i, o) in objects.as_array().expect("objects").iter().enumerate() {
        ok(s.kubectl(&["apply", "-f", &file(tmp.path(), &format!("o{i}"), o)]));
    }
    let cert = ok(s.kubectl(&["get", "certs", "-o", "wide"]));
    let head: Vec<&str> = cert
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(head, ["NAME", "READY", "SECRET", "ISSUER", "AGE"], "{cert}");
    assert!(
        cert.contains("web-tls") && cert.contains("letsencrypt"),
        "{cert}"
    );
    let smon = json(&ok(s.kubectl(&["get", "smon", "web", "-o", "json"])));
    // The relabeling's action comes from its default.
    assert_eq!(
        smon["spec"]["endpoints"][0]["relabelings"][0]["action"],
        "replace"
    );
    assert_eq!(smon["spec"]["endpoints"][0]["targetPort"], 9090);
    let apps = json(&ok(s.kubectl(&["get", "applications", "-o", "json"])));
    let app = &apps["items"][0];
    assert_eq!(
        app["spec"]["source"]["helm"]["valuesObject"],
        json!({"replicas": 3, "image": {"tag": "v1"}})
    );
    // Their schemas still check: a bad enum and a bad pattern.
    let mut bad = objects[1].clone();
    bad["metadata"]["name"] = json!("bad");
    bad["spec"]["endpoints"][0]["interval"] = json!("30 seconds");
    let err = fails(s.kubectl(&["apply", "-f", &file(tmp.path(), "bad", &bad)]));
    assert!(
        err.contains("spec.endpoints[0].interval in body should match"),
        "{err}"
    );
}
