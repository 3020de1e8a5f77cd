//! What the schemas give clients: field validation, `kubectl explain`,
//! OpenAPI caching, dry runs and diffs, and delete propagation.

use crate::harness::{Server, fails, json, kubectl_version, ok};

fn write(s: &Server, name: &str, text: &str) -> String {
    let path = s.dir.join(name);
    std::fs::write(&path, text).expect("write manifest");
    path.display().to_string()
}

/// curl as admin with the response headers in front of the body.
fn curl_with_headers(s: &Server, args: &[&str]) -> (u16, String, String) {
    let headers = s.dir.join("headers.txt");
    let h = headers.display().to_string();
    let mut all = vec!["-D", h.as_str()];
    all.extend_from_slice(args);
    let (code, body) = s.curl_admin(&all);
    let head = std::fs::read_to_string(&headers).unwrap_or_default();
    (code, head, body)
}

fn header<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

#[test]
fn kubectl_validate_strict_fails_and_warn_warns_and_prunes() {
    let s = Server::start();
    let manifest = write(
        &s,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: checked\n  bogus: 1\ndata:\n  a: \"1\"\nextra: true\n",
    );
    let err = fails(s.kubectl(&["create", "--validate=strict", "-f", &manifest]));
    assert!(
        err.contains(r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "extra", unknown field "metadata.bogus""#),
        "{err}"
    );
    fails(s.kubectl(&["get", "cm", "checked"]));

    let out = s.kubectl(&["create", "--validate=warn", "-f", &manifest]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out);
    assert!(
        stderr.contains(r#"Warning: unknown field "extra""#),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"Warning: unknown field "metadata.bogus""#),
        "{stderr}"
    );
    let stored = json(&ok(s.kubectl(&["get", "cm", "checked", "-o", "json"])));
    assert_eq!(stored["data"]["a"], "1");
    assert!(stored.get("extra").is_none(), "unknown fields are dropped");
    assert!(stored["metadata"].get("bogus").is_none());

    // kubectl 1.27 asks the same way.
    let k27 = kubectl_version("1.27");
    let renamed = manifest.replace("cm.yaml", "cm27.yaml");
    std::fs::write(
        &renamed,
        std::fs::read_to_string(&manifest)
            .expect("read")
            .replace("checked", "checked27"),
    )
    .expect("write");
    let err = fails(s.kubectl_with(&k27, &["create", "--validate=strict", "-f", &renamed]));
    assert!(err.contains(r#"unknown field "extra""#), "{err}");
}

#[test]
fn field_validation_levels_duplicates_and_type_errors() {
    let s = Server::start();
    let url = |q: &str| s.url(&format!("/api/v1/namespaces/default/configmaps{q}"));
    let post = |q: &str, body: &str| {
        curl_with_headers(
            &s,
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
                &url(q),
            ],
        )
    };
    let dup = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1","a":"2"},"nope":1}"#;

    let (code, _, body) = post("?fieldValidation=Strict", dup);
    assert_eq!(code, 400, "{body}");
    let st = json(&body);
    assert_eq!(st["reason"], "BadRequest");
    assert_eq!(
        st["message"],
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "nope", duplicate field "data.a""#
    );

    let (code, head, body) = post("", dup);
    assert_eq!(code, 201, "Warn is the default: {body}");
    let warnings = header(&head, "warning");
    assert_eq!(
        warnings,
        vec![
            r#"299 - "unknown field \"nope\"""#,
            r#"299 - "duplicate field \"data.a\"""#
        ],
        "{head}"
    );
    assert_eq!(json(&body)["data"]["a"], "2", "the last value wins");

    let ignored = dup.replace("\"dup\"", "\"ignored\"");
    let (code, head, _) = post("?fieldValidation=Ignore", &ignored);
    assert_eq!(code, 201);
    assert!(header(&head, "warning").is_empty(), "{head}");

    let (code, _, body) = post("?fieldValidation=Sometimes", &ignored);
    assert_eq!(code, 400, "{body}");
    assert!(
        json(&body)["message"]
            .as_str()
            .unwrap_or("")
            .contains("fieldValidation"),
        "{body}"
    );

    // A value of the wrong type fails whatever the level.
    let wrong =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"wrong"},"data":{"a":1}}"#;
    let (code, _, body) = post("?fieldValidation=Ignore", wrong);
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        json(&body)["message"],
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string"#
    );
    fails(s.kubectl(&["get", "cm", "wrong"]));

    // Patches are checked on their result.
    let (code, _, body) = curl_with_headers(
        &s,
        &[
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/merge-patch+json",
            "--data-binary",
            r#"{"spec":{"x":1}}"#,
            &s.url("/api/v1/namespaces/default/configmaps/dup?fieldValidation=Strict"),
        ],
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains(r#"unknown field \"spec\""#), "{body}");
    let stored = json(&ok(s.kubectl(&["get", "cm", "dup", "-o", "json"])));
    assert!(stored.get("spec").is_none());
}

#[test]
fn kubectl_explain_prints_the_servers_schemas() {
    let s = Server::start();
    let data = ok(s.kubectl(&["explain", "configmap.data"]));
    assert!(data.contains("FIELD: data <map[string]string>"), "{data}");
    assert!(
        data.contains("Data contains the configuration data."),
        "{data}"
    );
    let ns = ok(s.kubectl(&["explain", "--recursive", "namespace"]));
    for field in [
        "finalizers\t<[]string>",
        "phase\t<string>",
        "ownerReferences",
    ] {
        assert!(ns.contains(field), "{field} missing from:\n{ns}");
    }
    // kubectl 1.27 reads the same schemas through OpenAPI v2 (protobuf).
    let k27 = kubectl_version("1.27");
    let v2 = ok(s.kubectl_with(
        &k27,
        &["explain", "secret.type", "--output=plaintext-openapiv2"],
    ));
    assert!(v2.contains("FIELD:    type <string>"), "{v2}");
    assert!(
        v2.contains("Used to facilitate programmatic handling"),
        "{v2}"
    );
}

#[test]
fn openapi_documents_have_etags_and_content_hashes() {
    let s = Server::start();
    let (code, head, body) = curl_with_headers(&s, &[&s.url("/openapi/v2")]);
    assert_eq!(code, 200);
    assert_eq!(header(&head, "cache-control"), vec!["no-cache, private"]);
    // Errors too, as upstream's outermost filter sets it.
    let (code, missing, _) =
        curl_with_headers(&s, &[&s.url("/api/v1/namespaces/default/configmaps/none")]);
    assert_eq!(code, 404);
    assert_eq!(header(&missing, "cache-control"), vec!["no-cache, private"]);
    let doc = json(&body);
    assert!(doc["definitions"]["io.k8s.api.core.v1.ConfigMap"]["properties"]["data"].is_object());
    let etag = header(&head, "etag")
        .first()
        .map(|s| s.to_string())
        .expect("an ETag");
    let (code, _, body) = curl_with_headers(
        &s,
        &[
            "-H",
            &format!("If-None-Match: {etag}"),
            &s.url("/openapi/v2"),
        ],
    );
    assert_eq!(code, 304);
    assert!(body.is_empty());

    let (_, _, root) = curl_with_headers(&s, &[&s.url("/openapi/v3")]);
    let root = json(&root);
    let url = root["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .expect("api/v1 listed")
        .to_string();
    let (code, head, body) = curl_with_headers(&s, &[&s.url(&url)]);
    assert_eq!(code, 200);
    assert_eq!(header(&head, "cache-control"), vec!["public, immutable"]);
    let v3 = json(&body);
    let patch = &v3["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
    let params: Vec<&str> = patch["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(params.contains(&"fieldValidation"), "{params:?}");
    let (code, head, _) = curl_with_headers(&s, &[&s.url("/openapi/v3/api/v1?hash=OLD")]);
    assert_eq!(code, 301);
    assert_eq!(header(&head, "location"), vec![url.as_str()]);
}

#[test]
fn apply_dry_run_and_diff_show_changes_and_store_nothing() {
    let s = Server::start();
    let v1 = write(
        &s,
        "v1.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: planned\ndata:\n  mode: one\n",
    );
    ok(s.kubectl(&["apply", "-f", &v1]));
    let before = json(&ok(s.kubectl(&["get", "cm", "planned", "-o", "json"])));
    let v2 = write(
        &s,
        "v2.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: planned\ndata:\n  mode: two\n",
    );
    let out = ok(s.kubectl(&["apply", "--dry-run=server", "-f", &v2, "-o", "json"]));
    assert_eq!(json(&out)["data"]["mode"], "two");
    let diff = s.kubectl(&["diff", "-f", &v2]);
    assert_eq!(diff.status.code(), Some(1), "diff exits 1 on changes");
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(
        text.contains("-  mode: one") && text.contains("+  mode: two"),
        "{text}"
    );
    let after = json(&ok(s.kubectl(&["get", "cm", "planned", "-o", "json"])));
    assert_eq!(after["data"]["mode"], "one");
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    // Creating in a dry run stores nothing either.
    let fresh = write(
        &s,
        "fresh.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: imagined\n",
    );
    let out = ok(s.kubectl(&["create", "--dry-run=server", "-f", &fresh]));
    assert!(out.contains("created (server dry run)"), "{out}");
    fails(s.kubectl(&["get", "cm", "imagined"]));
}

#[test]
fn foreground_and_orphan_deletes_are_recorded_as_finalizers() {
    let s = Server::start();
    ok(s.kubectl(&["create", "configmap", "fg"]));
    ok(s.kubectl(&["create", "configmap", "or"]));
    ok(s.kubectl(&["delete", "cm", "fg", "--cascade=foreground", "--wait=false"]));
    ok(s.kubectl(&["delete", "cm", "or", "--cascade=orphan", "--wait=false"]));
    let fg = json(&ok(s.kubectl(&["get", "cm", "fg", "-o", "json"])));
    assert_eq!(
        fg["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    assert!(fg["metadata"]["deletionTimestamp"].is_string());
    let or = json(&ok(s.kubectl(&["get", "cm", "or", "-o", "json"])));
    assert_eq!(or["metadata"]["finalizers"], serde_json::json!(["orphan"]));

    // A bad policy is refused and changes nothing.
    let (code, body) = s.curl_admin(&[
        "-X",
        "DELETE",
        &s.url("/api/v1/namespaces/default/configmaps/fg?propagationPolicy=Sideways"),
    ]);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("supported values"), "{body}");

    // Removing the collector's finalizer lets the delete finish.
    ok(s.kubectl(&[
        "patch",
        "cm",
        "fg",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]));
    fails(s.kubectl(&["get", "cm", "fg"]));
}
