//! Authentication end to end: every kind of credential upstream accepts,
//! seen through `kubectl auth whoami` (SelfSubjectReview). The OIDC
//! issuer, the token webhook and the authorization webhook are small
//! HTTPS servers in this process, on loopback, with their own CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::harness::{Server, curl, fails, json, ok};

const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// A CA that signs server and client certificates for the test.
struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("test set-up");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("test set-up");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("test set-up");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM) for a server at 127.0.0.1.
    fn server(&self) -> (String, String) {
        let key = KeyPair::generate().expect("test set-up");
        let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("test set-up");
        let cert = params.signed_by(&key, &self.issuer).expect("test set-up");
        (cert.pem(), key.serialize_pem())
    }

    /// Writes a client certificate (CN, O) and its key to `dir`.
    fn client(&self, dir: &Path, cn: &str, org: Option<&str>) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().expect("test set-up");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("test set-up");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(o) = org {
            params.distinguished_name.push(DnType::OrganizationName, o);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("test set-up");
        let (c, k) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
        std::fs::write(&c, cert.pem()).expect("test set-up");
        std::fs::write(&k, key.serialize_pem()).expect("test set-up");
        (c, k)
    }
}

type Handler = Arc<dyn Fn(&str, Value) -> (u16, Value) + Send + Sync>;

/// Serves HTTPS on loopback from `rt` with `handler` answering each
/// request (path, JSON body) until the runtime is dropped.
fn https_server(rt: &tokio::runtime::Runtime, ca: &TestCa, handler: Handler) -> SocketAddr {
    let (cert_pem, key_pem) = ca.server();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("test set-up");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("test set-up");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("test set-up")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("test set-up");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, handler) = (acceptor.clone(), handler.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let handler = handler.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let got: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let (code, out) = handler(&path, got);
                            Ok::<_, hyper::Error>(
                                http::Response::builder()
                                    .status(code)
                                    .header("Content-Type", "application/json")
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

/// A kubeconfig pointing a webhook flag at `url`, trusting `ca_file`.
fn webhook_kubeconfig(dir: &Path, name: &str, url: &str, ca_file: &Path) -> PathBuf {
    let path = dir.join(format!("{name}.kubeconfig"));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: hook\n  cluster:\n    server: {url}\n    certificate-authority: {}\nusers:\n- name: kaiser\n  user: {{}}\ncontexts:\n- name: c\n  context:\n    cluster: hook\n    user: kaiser\ncurrent-context: c\n",
        ca_file.display()
    );
    std::fs::write(&path, text).expect("test set-up");
    path
}

/// An ES256 OIDC issuer: discovery, a key set, and signed ID tokens.
struct Issuer256 {
    url: String,
    key: EcdsaKeyPair,
}

impl Issuer256 {
    fn start(rt: &tokio::runtime::Runtime, ca: &TestCa) -> Issuer256 {
        let rng = SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("test set-up");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref(), &rng)
            .expect("test set-up");
        let p = key.public_key().as_ref().to_vec();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "e2e", "use": "sig", "alg": "ES256",
            "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])});
        let issuer: Arc<std::sync::OnceLock<String>> = Arc::default();
        let iss = issuer.clone();
        let addr = https_server(
            rt,
            ca,
            Arc::new(move |path, _| {
                let url = iss.get().cloned().unwrap_or_default();
                match path {
                    "/.well-known/openid-configuration" => (
                        200,
                        json!({"issuer": url, "jwks_uri": format!("{url}/keys"),
                            "id_token_signing_alg_values_supported": ["ES256"]}),
                    ),
                    "/keys" => (200, json!({"keys": [jwk]})),
                    _ => (404, json!({})),
                }
            }),
        );
        let url = format!("https://{addr}");
        issuer.set(url.clone()).expect("test set-up");
        Issuer256 { url, key }
    }

    fn token(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "kid": "e2e", "typ": "JWT"});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("test set-up");
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }
}

/// The token webhook's answer: "hook-token" is hook-user when the review
/// asks for the API audience.
fn token_review(_: &str, review: Value) -> (u16, Value) {
    let auds = review["spec"]["audiences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let known = review["spec"]["token"] == "hook-token" && auds.contains(&json!(API_AUDIENCE));
    let status = if known {
        json!({"authenticated": true, "user": {"username": "hook-user", "uid": "h-1",
            "groups": ["hooked"], "extra": {"example.com/tier": ["gold"]}}})
    } else {
        json!({"authenticated": false})
    };
    (
        200,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}),
    )
}

/// The authorization webhook's answer: carol may read pods, alice is
/// no opinion with a reason, the rest no opinion.
fn access_review(_: &str, review: Value) -> (u16, Value) {
    let spec = &review["spec"];
    let ra = &spec["resourceAttributes"];
    let status = match spec["user"].as_str() {
        Some("carol")
            if ra["resource"] == "pods" && matches!(ra["verb"].as_str(), Some("get" | "list")) =>
        {
            json!({"allowed": true})
        }
        Some("alice") => json!({"allowed": false, "reason": "not on the webhook's list"}),
        _ => json!({"allowed": false}),
    };
    (
        200,
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "status": status}),
    )
}

fn who(out: &str) -> Value {
    json(out)["status"]["userInfo"].clone()
}

#[test]
fn every_kind_of_credential_shows_in_whoami() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test set-up");
    let tmp = tempfile::tempdir().expect("test set-up");
    let dir = tmp.path();
    let hooks_ca = TestCa::new("hooks-ca");
    let hooks_ca_file = dir.join("hooks-ca.pem");
    std::fs::write(&hooks_ca_file, &hooks_ca.pem).expect("test set-up");
    let issuer = Issuer256::start(&rt, &hooks_ca);
    let authn_hook = https_server(&rt, &hooks_ca, Arc::new(token_review));
    let authz_hook = https_server(&rt, &hooks_ca, Arc::new(access_review));
    let proxy_ca = TestCa::new("front-proxy-ca");
    let proxy_ca_file = dir.join("front-proxy-ca.pem");
    std::fs::write(&proxy_ca_file, &proxy_ca.pem).expect("test set-up");
    let tokens = dir.join("tokens.csv");
    std::fs::write(
        &tokens,
        "alice-token,alice,a-1,\"devs,ops\"\ncarol-token,carol,c-1\n",
    )
    .expect("test set-up");
    let flag = |name: &str, p: &Path| format!("--{name}={}", p.display());
    let args = [
        flag("token-auth-file", &tokens),
        "--enable-bootstrap-token-auth".to_string(),
        format!("--oidc-issuer-url={}", issuer.url),
        "--oidc-client-id=kaiser".to_string(),
        "--oidc-groups-claim=groups".to_string(),
        "--oidc-groups-prefix=oidc:".to_string(),
        "--oidc-signing-algs=ES256".to_string(),
        flag("oidc-ca-file", &hooks_ca_file),
        flag(
            "authentication-token-webhook-config-file",
            &webhook_kubeconfig(
                dir,
                "authn",
                &format!("https://{authn_hook}/authenticate"),
                &hooks_ca_file,
            ),
        ),
        "--authentication-token-webhook-version=v1".to_string(),
        flag(
            "authorization-webhook-config-file",
            &webhook_kubeconfig(
                dir,
                "authz",
                &format!("https://{authz_hook}/authorize"),
                &hooks_ca_file,
            ),
        ),
        "--authorization-webhook-version=v1".to_string(),
        "--authorization-mode=Node,RBAC,Webhook".to_string(),
        flag("requestheader-client-ca-file", &proxy_ca_file),
        "--requestheader-allowed-names=front-proxy-client".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Server::start_with(&args);

    // The admin certificate.
    let admin = who(&ok(s.kubectl(&["auth", "whoami", "-o", "json"])));
    assert_eq!(admin["username"], "kubernetes-admin");
    assert_eq!(
        admin["groups"],
        json!(["system:masters", "system:authenticated"])
    );
    let id = admin["extra"]["authentication.kubernetes.io/credential-id"][0]
        .as_str()
        .unwrap_or("");
    assert!(id.starts_with("X509SHA256="), "{admin}");

    // A static token.
    let alice = who(&ok(
        s.kubectl_as("alice-token", &["auth", "whoami", "-o", "json"])
    ));
    assert_eq!(
        alice,
        json!({"username": "alice", "uid": "a-1", "groups": ["devs", "ops", "system:authenticated"]})
    );

    // A service-account token from TokenRequest.
    ok(s.kubectl(&["create", "serviceaccount", "robot"]));
    let sa_token = ok(s.kubectl(&["create", "token", "robot"]))
        .trim()
        .to_string();
    let robot = who(&ok(
        s.kubectl_as(&sa_token, &["auth", "whoami", "-o", "json"])
    ));
    assert_eq!(robot["username"], "system:serviceaccount:default:robot");
    assert_eq!(
        robot["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    assert!(
        robot["uid"].as_str().is_some_and(|u| !u.is_empty()),
        "{robot}"
    );
    assert!(
        robot["extra"]["authentication.kubernetes.io/credential-id"][0]
            .as_str()
            .is_some_and(|c| c.starts_with("JTI=")),
        "{robot}"
    );

    // A bootstrap token, once its Secret exists.
    let bootstrap = "abcdef.0123456789abcdef";
    let out = s.kubectl_as(bootstrap, &["auth", "whoami"]);
    assert!(fails(out).contains("Unauthorized"));
    let secret = dir.join("bootstrap.json");
    std::fs::write(
        &secret,
        json!({"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
            "stringData": {"token-id": "abcdef", "token-secret": "0123456789abcdef",
                "usage-bootstrap-authentication": "true",
                "auth-extra-groups": "system:bootstrappers:kaiser-e2e"}})
        .to_string(),
    )
    .expect("test set-up");
    ok(s.kubectl(&["create", "-f", secret.to_str().unwrap_or_default()]));
    let boot = who(&ok(
        s.kubectl_as(bootstrap, &["auth", "whoami", "-o", "json"])
    ));
    assert_eq!(
        boot,
        json!({"username": "system:bootstrap:abcdef",
            "groups": ["system:bootstrappers", "system:bootstrappers:kaiser-e2e", "system:authenticated"]})
    );
    let wrong_secret = "abcdef.0123456789abcdee";
    assert!(fails(s.kubectl_as(wrong_secret, &["auth", "whoami"])).contains("Unauthorized"));

    // An ID token from the test issuer.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = json!({"iss": issuer.url, "aud": "kaiser", "sub": "jane", "groups": ["readers"],
        "iat": now, "exp": now + 600});
    let id_token = issuer.token(&claims);
    let jane = who(&ok(
        s.kubectl_as(&id_token, &["auth", "whoami", "-o", "json"])
    ));
    assert_eq!(
        jane,
        json!({"username": format!("{}#jane", issuer.url),
            "groups": ["oidc:readers", "system:authenticated"]})
    );
    let mut foreign = claims.clone();
    foreign["aud"] = json!("another-client");
    let out = s.kubectl_as(&issuer.token(&foreign), &["auth", "whoami"]);
    assert!(fails(out).contains("Unauthorized"));
    let mut expired = claims.clone();
    expired["exp"] = json!(now - 60);
    let out = s.kubectl_as(&issuer.token(&expired), &["auth", "whoami"]);
    assert!(fails(out).contains("Unauthorized"));

    // A token the webhook vouches for.
    let hooked = who(&ok(
        s.kubectl_as("hook-token", &["auth", "whoami", "-o", "json"])
    ));
    assert_eq!(
        hooked,
        json!({"username": "hook-user", "uid": "h-1", "groups": ["hooked", "system:authenticated"],
            "extra": {"example.com/tier": ["gold"]}})
    );
    // TokenReview asks the same authenticators.
    let (code, body) = s.post_json(
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "hook-token"}}),
    );
    assert_eq!(code, 201, "{body}");
    let status = &json(&body)["status"];
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["user"]["username"], "hook-user");
    assert_eq!(status["audiences"], json!([API_AUDIENCE]));

    // A wrong token: 401 with upstream's Status.
    let (code, body) =
        s.curl_anonymous(&["-H", "Authorization: Bearer not-a-token", &s.url("/api")]);
    assert_eq!(code, 401);
    assert_eq!(
        json(&body),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    );
    assert!(fails(s.kubectl_as("not-a-token", &["get", "pods"])).contains("Unauthorized"));

    // The front proxy: its certificate lets its headers name the user.
    let review = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#;
    let (proxy_cert, proxy_key) = proxy_ca.client(dir, "front-proxy-client", None);
    // curl with a client certificate and headers; a review is POSTed,
    // other paths are GETs (an early 401 does not race an upload).
    let proxied = |cert: &Path, key: &Path, headers: &[&str], path: &str| {
        let mut a: Vec<String> = vec![
            "--cacert".into(),
            s.pki("ca.crt").display().to_string(),
            "--cert".into(),
            cert.display().to_string(),
            "--key".into(),
            key.display().to_string(),
        ];
        if path.ends_with("selfsubjectreviews") {
            a.extend(["-H", "Content-Type: application/json", "-d", review].map(String::from));
        }
        for h in headers {
            a.push("-H".into());
            a.push(h.to_string());
        }
        a.push(s.url(path));
        curl(&a)
    };
    let headers = [
        "X-Remote-User: frank",
        "X-Remote-Group: proxied",
        "X-Remote-Group: second",
        "X-Remote-Extra-Acme.com%2Fteam: blue",
    ];
    let ssr = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
    let (code, body) = proxied(&proxy_cert, &proxy_key, &headers, ssr);
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        json(&body)["status"]["userInfo"],
        json!({"username": "frank", "groups": ["proxied", "second", "system:authenticated"],
            "extra": {"acme.com/team": ["blue"]}})
    );
    // A CN not on --requestheader-allowed-names, or a certificate no CA
    // vouches for, is a 401, not a failed handshake.
    let (cert, key) = proxy_ca.client(dir, "intruder", None);
    let (code, body) = proxied(&cert, &key, &headers, "/api");
    assert_eq!(code, 401, "{body}");
    let (cert, key) = hooks_ca.client(dir, "stranger", Some("system:masters"));
    let (code, body) = proxied(&cert, &key, &[], "/api");
    assert_eq!(code, 401, "{body}");

    // The settings are published for extension API servers.
    let cm = json(&ok(s.kubectl(&[
        "get",
        "configmap",
        "-n",
        "kube-system",
        "extension-apiserver-authentication",
        "-o",
        "json",
    ])));
    let data = &cm["data"];
    assert_eq!(
        data["requestheader-allowed-names"],
        "[\"front-proxy-client\"]"
    );
    assert_eq!(
        data["requestheader-username-headers"],
        "[\"X-Remote-User\"]"
    );
    assert_eq!(data["requestheader-group-headers"], "[\"X-Remote-Group\"]");
    assert_eq!(
        data["requestheader-extra-headers-prefix"],
        "[\"X-Remote-Extra-\"]"
    );
    assert_eq!(
        data["requestheader-client-ca-file"].as_str().map(str::trim),
        Some(proxy_ca.pem.trim())
    );
    let client_ca = std::fs::read_to_string(s.pki("ca.crt")).expect("test set-up");
    assert_eq!(
        data["client-ca-file"].as_str().map(str::trim),
        Some(client_ca.trim())
    );

    // The authorization webhook allows what RBAC does not.
    let out = ok(s.kubectl_as("carol-token", &["get", "pods", "-n", "default"]));
    assert!(!out.contains("Forbidden"), "{out}");
    let err = fails(s.kubectl_as("carol-token", &["get", "secrets", "-n", "default"]));
    assert!(
        err.contains("User \"carol\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""),
        "{err}"
    );
    let err = fails(s.kubectl_as("alice-token", &["get", "pods", "-n", "default"]));
    assert!(
        err.contains("User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\": not on the webhook's list"),
        "{err}"
    );
    drop(rt);
}

#[test]
fn without_anonymous_auth_every_request_needs_credentials() {
    let s = Server::start_with(&["--anonymous-auth=false"]);
    for path in ["/healthz", "/version", "/api/v1/namespaces"] {
        let (code, body) = s.curl_anonymous(&[&s.url(path)]);
        assert_eq!(code, 401, "{path}: {body}");
        assert_eq!(json(&body)["reason"], "Unauthorized");
    }
    let (code, _) = s.curl_admin(&[&s.url("/healthz")]);
    assert_eq!(code, 200);
    // With anonymous requests on (the default), /healthz is public.
    let open = Server::start();
    assert_eq!(open.curl_anonymous(&[&open.url("/healthz")]).0, 200);
    let (code, body) = open.curl_anonymous(&[&open.url("/api/v1/secrets")]);
    assert_eq!(code, 403, "{body}");
    let who = json(
        &open
            .curl_anonymous(&[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#,
                &open.url("/apis/authentication.k8s.io/v1/selfsubjectreviews"),
            ])
            .1,
    );
    assert_eq!(who["code"], 403, "anonymous may not ask who it is: {who}");
}

#[test]
fn client_ca_file_replaces_the_generated_ca() {
    let tmp = tempfile::tempdir().expect("test set-up");
    let ca = TestCa::new("my-clients");
    let ca_file = tmp.path().join("clients.pem");
    std::fs::write(&ca_file, &ca.pem).expect("test set-up");
    let arg = format!("--client-ca-file={}", ca_file.display());
    let s = Server::start_with(&[&arg]);
    // The generated admin certificate is not signed by the given CA: a 401.
    // kubectl words it by the request that met it first: discovery says
    // "the server has asked for the client to provide credentials", a GET
    // "You must be logged in to the server (Unauthorized)".
    let err = fails(s.kubectl(&["get", "ns"]));
    assert!(
        err.contains("provide credentials")
            || err.contains("You must be logged in to the server (Unauthorized)"),
        "{err}"
    );
    assert!(
        s.log()
            .contains("--client-ca-file does not vouch for the generated admin certificate")
    );
    let (cert, key) = ca.client(tmp.path(), "dana", Some("system:masters"));
    let (code, body) = curl(&[
        "--cacert".into(),
        s.pki("ca.crt").display().to_string(),
        "--cert".into(),
        cert.display().to_string(),
        "--key".into(),
        key.display().to_string(),
        s.url("/api/v1/namespaces/kube-system"),
    ]);
    assert_eq!(code, 200, "{body}");
}

#[test]
fn a_malformed_token_file_stops_start_up_with_the_other_errors() {
    let tmp = tempfile::tempdir().expect("test set-up");
    let file = tmp.path().join("tokens.csv");
    std::fs::write(&file, "tok,alice\n").expect("test set-up");
    let out = std::process::Command::new(crate::harness::KAISER)
        .arg(format!("--token-auth-file={}", file.display()))
        .arg("--oidc-issuer-url=http://insecure")
        .arg("--bind-address=nope")
        .current_dir(tmp.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("must have at least 3 columns (token, user name, user uid), found 2"),
        "{err}"
    );
    assert!(
        err.contains("--oidc-issuer-url and --oidc-client-id must be specified together"),
        "{err}"
    );
    assert!(err.contains("--bind-address"), "{err}");
}

/// kubeadm's service-account keys: an RSA signing key in PKCS#1 PEM signs
/// RS256 tokens with upstream's key id; after the signing key changes,
/// tokens signed with the old one are accepted exactly while its public key
/// is listed in `--service-account-key-file` (upstream's key rotation).
#[test]
fn rsa_signing_keys_and_key_files_as_kubeadm_writes_them() {
    use base64::Engine;
    let testdata = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/testdata");
    let rsa_key = format!("{testdata}/sa-rsa2048-pkcs1.pem");
    let rsa_pub = format!("{testdata}/sa-rsa2048.pub");
    let tmp = tempfile::tempdir().expect("tempdir");
    let signing = format!("--service-account-signing-key-file={rsa_key}");
    let trusting = format!("--service-account-key-file={rsa_pub}");
    let token = {
        let s = Server::start_in(tmp.path(), &["--secure-port=0", &signing, &trusting]);
        ok(s.kubectl(&["create", "serviceaccount", "robot"]));
        let token = ok(s.kubectl(&["create", "token", "robot"]))
            .trim()
            .to_string();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("header"))
            .expect("base64");
        let header = json(&String::from_utf8_lossy(&header));
        assert_eq!(header["alg"], "RS256");
        // sha256 of the key's DER SubjectPublicKeyInfo, as upstream's kid.
        assert_eq!(header["kid"], "0AG6AeJSK4VTVbY5HXYlSHm8pHTv12Q0TpT1IS8CJcs");
        let me = who(&ok(s.kubectl_as(&token, &["auth", "whoami", "-o", "json"])));
        assert_eq!(me["username"], "system:serviceaccount:default:robot");
        token
    };
    // The same data dir, now signing with its own generated key.
    {
        let s = Server::start_in(tmp.path(), &["--secure-port=0", &trusting]);
        let me = who(&ok(s.kubectl_as(&token, &["auth", "whoami", "-o", "json"])));
        assert_eq!(me["username"], "system:serviceaccount:default:robot");
        let fresh = ok(s.kubectl(&["create", "token", "robot"]))
            .trim()
            .to_string();
        ok(s.kubectl_as(&fresh, &["auth", "whoami"]));
        // Issuer discovery lists both keys; service accounts may read it
        // (upstream's service-account-issuer-discovery binding).
        let config = json(&ok(s.kubectl_as(
            &fresh,
            &["get", "--raw", "/.well-known/openid-configuration"],
        )));
        assert_eq!(
            config["issuer"],
            "https://kubernetes.default.svc.cluster.local"
        );
        assert_eq!(
            config["jwks_uri"],
            format!("https://127.0.0.1:{}/openid/v1/jwks", s.port)
        );
        assert_eq!(
            config["id_token_signing_alg_values_supported"],
            serde_json::json!(["ES256", "RS256"])
        );
        let keys = json(&ok(s.kubectl(&["get", "--raw", "/openid/v1/jwks"])));
        let keys = keys["keys"].as_array().expect("keys").clone();
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert_eq!(keys[0]["kty"], "EC");
        assert_eq!(keys[1]["kty"], "RSA");
        assert_eq!(
            keys[1]["kid"],
            "0AG6AeJSK4VTVbY5HXYlSHm8pHTv12Q0TpT1IS8CJcs"
        );
        let (code, _) = s.curl_anonymous(&[&s.url("/openid/v1/jwks")]);
        assert_eq!(code, 403);
    }
    {
        let s = Server::start_in(tmp.path(), &["--secure-port=0"]);
        let err = fails(s.kubectl_as(&token, &["auth", "whoami"]));
        assert!(err.contains("Unauthorized"), "{err}");
    }
    // A key file that holds no key is refused at start.
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not a key\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kaiser"))
        .arg("--secure-port=0")
        .arg(format!("--service-account-key-file={}", junk.display()))
        .current_dir(tmp.path())
        .output()
        .expect("run kaiser");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no public key could be read from"), "{err}");
}
