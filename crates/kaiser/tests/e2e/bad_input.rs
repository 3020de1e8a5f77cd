//! Bad input: each gets upstream's code and reason, the server stays
//! healthy and nothing stored changes.

use crate::harness::{Server, fails, json, ok};

fn configmaps(s: &Server) -> serde_json::Value {
    let (code, body) = s.curl_admin(&[&s.url("/api/v1/configmaps")]);
    assert_eq!(code, 200, "{body}");
    let mut v = json(&body);
    // The list's own resourceVersion may move with unrelated writes; items must not.
    v["metadata"] = serde_json::json!({});
    v
}

fn post(
    s: &Server,
    path: &str,
    content_type: &str,
    body_file: &std::path::Path,
) -> (u16, serde_json::Value) {
    let (code, body) = s.curl_admin(&[
        "-X",
        "POST",
        "-H",
        &format!("Content-Type: {content_type}"),
        "--data-binary",
        &format!("@{}", body_file.display()),
        &s.url(path),
    ]);
    (code, json(&body))
}

#[test]
fn bad_requests_get_upstream_statuses_and_change_nothing() {
    let s = Server::start();
    ok(s.kubectl(&["create", "configmap", "keep", "--from-literal=a=1"]));
    let before = configmaps(&s);
    let file = s.dir.join("body");
    // (what, content type, body, code, reason, text in the message)
    type Case = (
        &'static str,
        &'static str,
        Vec<u8>,
        u16,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            "application/json",
            b"{\"apiVersion\": \"v1\", \"kind\": ".to_vec(),
            400,
            "BadRequest",
            "json parse error",
        ),
        (
            "malformed YAML",
            "application/yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n".to_vec(),
            400,
            "BadRequest",
            "yaml",
        ),
        (
            "invalid name",
            "application/json",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#.to_vec(),
            422,
            "Invalid",
            "metadata.name: Invalid value: \"Bad_Name\"",
        ),
        (
            // Cut to 58 bytes for the name, mid-character: once a panic.
            "long generateName of two-byte characters",
            "application/json",
            format!(
                r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"generateName":"a{}"}}}}"#,
                "é".repeat(40)
            )
            .into_bytes(),
            422,
            "Invalid",
            "metadata.generateName: Invalid value: \"aéé",
        ),
        (
            "wrong kind",
            "application/json",
            br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}"#.to_vec(),
            400,
            "BadRequest",
            "ConfigMap",
        ),
        (
            "oversized body",
            "application/json",
            {
                let mut b = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"huge"},"data":{"x":""#.to_vec();
                b.extend(std::iter::repeat_n(b'a', 3 * 1024 * 1024 + 10));
                b.extend(br#""}}"#);
                b
            },
            413,
            "RequestEntityTooLarge",
            "limit is 3145728",
        ),
    ];
    for (what, ct, body, code, reason, needle) in cases {
        std::fs::write(&file, &body).expect("write");
        let (got, status) = post(&s, "/api/v1/namespaces/default/configmaps", ct, &file);
        assert_eq!(got, code, "{what}: {status}");
        assert_eq!(status["kind"], "Status", "{what}");
        assert_eq!(status["reason"], reason, "{what}: {status}");
        assert_eq!(status["code"], code, "{what}");
        let msg = status["message"].as_str().unwrap_or("");
        assert!(msg.contains(needle), "{what}: {msg}");
    }
    let bad_name = {
        std::fs::write(
            &file,
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#,
        )
        .expect("write");
        post(
            &s,
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            &file,
        )
        .1
    };
    assert_eq!(bad_name["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(
        bad_name["details"]["causes"][0]["reason"],
        "FieldValueInvalid"
    );

    // An object in a namespace that does not exist.
    std::fs::write(
        &file,
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
    )
    .expect("write");
    let (code, status) = post(
        &s,
        "/api/v1/namespaces/missing/configmaps",
        "application/json",
        &file,
    );
    assert_eq!(
        (code, status["reason"].as_str()),
        (404, Some("NotFound")),
        "{status}"
    );
    assert_eq!(status["message"], "namespaces \"missing\" not found");

    // An unknown resource.
    let (code, body) = s.curl_admin(&[&s.url("/api/v1/namespaces/default/widgets")]);
    assert_eq!(code, 404);
    assert_eq!(json(&body)["reason"], "NotFound");

    // Bad selectors and options.
    let (code, body) = s.curl_admin(&[&s.url("/api/v1/configmaps?labelSelector=a%20in%20(")]);
    assert_eq!(
        (code, json(&body)["reason"].as_str().map(str::to_string)),
        (400, Some("BadRequest".into()))
    );
    let (code, body) = s.curl_admin(&[&s.url("/api/v1/configmaps?fieldSelector=spec.nope%3Dx")]);
    assert_eq!(code, 400);
    assert!(
        json(&body)["message"]
            .as_str()
            .unwrap_or("")
            .contains("field label not supported")
    );

    // A bad patch.
    let (code, body) = s.curl_admin(&[
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/json-patch+json",
        "--data",
        r#"[{"op":"replace","path":"/data/nope","value":"x"}]"#,
        &s.url("/api/v1/namespaces/default/configmaps/keep"),
    ]);
    assert_eq!(code, 422, "{body}");

    let (code, body) = s.curl_anonymous(&[&s.url("/readyz")]);
    assert_eq!((code, body.as_str()), (200, "ok"));
    assert_eq!(configmaps(&s), before, "stored data changed");
}

#[test]
fn bad_patches_selectors_and_delete_options_change_nothing() {
    let s = Server::start();
    ok(s.kubectl(&["create", "configmap", "keep", "--from-literal=k=v"]));
    let before = configmaps(&s);
    let url = s.url("/api/v1/namespaces/default/configmaps/keep");
    let patch = |content_type: &str, body: &str| {
        let (code, text) = s.curl_admin(&[
            "-X",
            "PATCH",
            "-H",
            &format!("Content-Type: {content_type}"),
            "--data-binary",
            body,
            &url,
        ]);
        (code, json(&text))
    };
    // (content type, body, code, reason, text in the message)
    let cases = [
        (
            "application/json-patch+json",
            "[{\"op\":",
            400,
            "BadRequest",
            "",
        ),
        (
            "application/json-patch+json",
            r#"{"op":"add"}"#,
            400,
            "BadRequest",
            "",
        ),
        (
            "application/merge-patch+json",
            "{\"data\":",
            400,
            "BadRequest",
            "",
        ),
        (
            "application/strategic-merge-patch+json",
            "[1]",
            400,
            "BadRequest",
            "",
        ),
        (
            "application/json-patch+json",
            r#"[{"op":"test","path":"/data/k","value":"other"}]"#,
            422,
            "Invalid",
            "",
        ),
        (
            "application/merge-patch+json",
            r#"{"metadata":{"name":"renamed"}}"#,
            400,
            "BadRequest",
            "does not match the name on the URL",
        ),
        (
            "application/x-unknown-patch",
            "{}",
            415,
            "UnsupportedMediaType",
            "",
        ),
    ];
    for (ct, body, code, reason, text) in cases {
        let (got, status) = patch(ct, body);
        assert_eq!(got, code, "{ct} {body}: {status}");
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["reason"], reason, "{ct} {body}: {status}");
        let msg = status["message"].as_str().unwrap_or("");
        assert!(msg.contains(text), "{ct} {body}: {msg}");
    }

    let err = fails(s.kubectl(&["get", "cm", "-l", "a in (b"]));
    assert!(
        err.contains("Error from server (BadRequest)")
            && err.contains("unable to parse requirement: found '', expected: ',' or ')'"),
        "{err}"
    );

    // A continue token that is not one, and a good one with a
    // resourceVersion beside it: upstream's storage words both.
    let list = s.url("/api/v1/namespaces/default/configmaps");
    let (code, body) = s.curl_admin(&[&format!("{list}?continue=abc")]);
    assert_eq!(code, 400, "{body}");
    let msg = json(&body)["message"].as_str().unwrap_or("").to_string();
    assert!(
        msg.starts_with("invalid continue token: continue key is not valid: "),
        "{msg}"
    );
    let (_, page) = s.curl_admin(&[&format!("{list}?limit=1")]);
    let token = json(&page)["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let (code, body) = s.curl_admin(&[&format!(
        "{list}?limit=1&continue={token}&resourceVersion=1"
    )]);
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        json(&body)["message"],
        "specifying resource version is not allowed when using continue"
    );

    let (code, body) = s.curl_admin(&["-X", "DELETE", &format!("{url}?propagationPolicy=Later")]);
    assert_eq!(code, 422, "{body}");
    assert_eq!(json(&body)["reason"], "Invalid");
    let (code, body) = s.curl_admin(&[
        "-X",
        "DELETE",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        r#"{"orphanDependents":true,"propagationPolicy":"Orphan"}"#,
        &url,
    ]);
    assert_eq!(code, 422, "{body}");
    let (code, body) = s.curl_admin(&[
        "-X",
        "DELETE",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        r#"{"preconditions":{"uid":"not-the-uid"}}"#,
        &url,
    ]);
    assert_eq!(code, 409, "{body}");
    assert_eq!(json(&body)["reason"], "Conflict");

    let (code, body) = s.curl_anonymous(&[&s.url("/readyz")]);
    assert_eq!((code, body.as_str()), (200, "ok"));
    assert_eq!(configmaps(&s), before, "stored data changed");
}

/// A TLS client configuration trusting kaiser's CA, offering `alpn`, with
/// the admin's certificate when `admin`.
fn tls_client(s: &Server, admin: bool, alpn: &[u8]) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(s.pki("ca.crt")).expect("ca") {
        roots.add(c.expect("cert")).expect("add");
    }
    let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let mut cfg = if admin {
        let chain = CertificateDer::pem_file_iter(s.pki("admin.crt"))
            .expect("admin cert")
            .collect::<Result<Vec<_>, _>>()
            .expect("admin cert");
        let key = PrivateKeyDer::from_pem_file(s.pki("admin.key")).expect("admin key");
        builder
            .with_client_auth_cert(chain, key)
            .expect("client auth")
    } else {
        builder.with_no_client_auth()
    };
    cfg.alpn_protocols = vec![alpn.to_vec()];
    cfg
}

/// A TLS connection to kaiser on loopback `port` with `cfg`.
async fn tls_connect(
    cfg: rustls::ClientConfig,
    port: u16,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(name, tcp)
        .await
        .expect("tls")
}

/// POSTs `chunks` of 64 KiB over HTTP/2 and then keeps the request body
/// open, as a client still uploading; returns the response's status and
/// body, or the stream error that came instead.
fn unfinished_upload(
    s: &Server,
    auth: Option<&str>,
    chunks: usize,
) -> Result<(u16, String), String> {
    use bytes::Bytes;
    use futures_util::StreamExt;
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;
    let cfg = tls_client(s, auth.is_none(), b"h2");
    let (port, auth) = (s.port, auth.map(str::to_string));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let tls = tls_connect(cfg, port).await;
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls),
        )
        .await
        .expect("h2 handshake");
        tokio::spawn(conn);
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let frames = futures_util::stream::iter(
            (0..chunks).map(move |_| Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone()))),
        )
        .chain(futures_util::stream::pending());
        let mut req = http::Request::post(format!(
            "https://127.0.0.1:{port}/api/v1/namespaces/default/configmaps"
        ))
        .header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let req = req.body(StreamBody::new(frames)).expect("request");
        let sent = tokio::time::timeout(std::time::Duration::from_secs(20), send.send_request(req))
            .await
            .expect("an answer within 20 s");
        let resp = sent.map_err(|e| format!("{e:?}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok((
            status,
            String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        ))
    })
}

/// A request refused while its body is still coming (a bad token, or a body
/// over the limit) gets its `Status` over HTTP/2, and the rest of the upload
/// is refused after it (hyper resets the stream with NO_ERROR, as Go's
/// server does), not instead of it.
#[test]
fn refused_uploads_still_get_their_status_over_http2() {
    let s = Server::start();
    let (code, body) =
        unfinished_upload(&s, Some("Bearer not-a-token"), 4).expect("a 401 response");
    assert_eq!(code, 401, "{body}");
    assert_eq!(json(&body)["reason"], "Unauthorized");
    let (code, body) = unfinished_upload(&s, None, 60).expect("a 413 response");
    assert_eq!(code, 413, "{body}");
    assert_eq!(json(&body)["reason"], "RequestEntityTooLarge");
    // The server serves on.
    ok(s.kubectl(&["get", "ns", "default"]));
}

/// Sends `POST <path>` over HTTP/1.1 with a small body that the server does
/// not read, in a TLS record of its own after the head (as Python's
/// clients send it), waits before reading, then reads the response to the
/// end. Returns the status line, the announced length and the body's.
fn unread_body_post(s: &Server, path: &str) -> (String, usize, usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let cfg = tls_client(s, true, b"http/1.1");
    let (port, path) = (s.port, path.to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut tls = tls_connect(cfg, port).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n"
        );
        tls.write_all(head.as_bytes()).await.expect("head");
        tls.flush().await.expect("flush");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        tls.write_all(b"0123456789").await.expect("body");
        tls.flush().await.expect("flush");
        // The server writes all it can and is done before we read.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // To the announced end, or until the server closes or resets.
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut head: Option<(usize, usize)> = None;
        while head.is_none_or(|(end, length)| got.len() < end + 4 + length) {
            let n = match tokio::time::timeout_at(deadline, tls.read(&mut buf)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    eprintln!("read ended with {e}");
                    break;
                }
                Err(_) => panic!("no end of the response within 20 s"),
            };
            got.extend_from_slice(&buf[..n]);
            if head.is_none()
                && let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n")
            {
                let length = String::from_utf8_lossy(&got[..end])
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .expect("a content-length");
                head = Some((end, length));
            }
        }
        let (end, length) = head.expect("a response head");
        let status = String::from_utf8_lossy(&got[..end])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        (status, length, got.len() - end - 4)
    })
}

/// A body the handler never reads (here, one sent to the OpenAPI document)
/// still gets the whole response: the server closes its side only after
/// the client has had it, instead of resetting the connection while part of
/// a large response is still unsent (Go's server waits before closing for
/// the same reason).
#[test]
fn an_unread_body_does_not_cut_the_response_short() {
    let s = Server::start();
    for _ in 0..3 {
        let (status, announced, got) = unread_body_post(&s, "/openapi/v2");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(announced > 500_000, "{announced}");
        assert_eq!(got, announced, "the whole OpenAPI document");
    }
    ok(s.kubectl(&["get", "ns", "default"]));
}
