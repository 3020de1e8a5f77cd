//! Health, version and the edges of the chain.

use crate::harness::{Server, json};

#[test]
fn health_endpoints_and_version_are_public() {
    let s = Server::start();
    for p in [
        "/healthz",
        "/livez",
        "/readyz",
        "/readyz/storage",
        "/livez/ping",
    ] {
        let (code, body) = s.curl_anonymous(&[&s.url(p)]);
        assert_eq!((code, body.as_str()), (200, "ok"), "{p}");
    }
    let (code, body) = s.curl_anonymous(&[&s.url("/readyz?verbose")]);
    assert_eq!(code, 200);
    for line in [
        "[+]ping ok",
        "[+]storage ok",
        "[+]shutdown ok",
        "readyz check passed",
    ] {
        assert!(body.contains(line), "{body}");
    }
    let (_, body) = s.curl_anonymous(&[&s.url("/readyz?verbose&exclude=storage")]);
    assert!(body.contains("[+]storage excluded: ok"), "{body}");
    let (code, _) = s.curl_anonymous(&[&s.url("/readyz/nope")]);
    assert_eq!(code, 404);
    let (code, body) = s.curl_anonymous(&[&s.url("/version")]);
    assert_eq!(code, 200);
    let v = json(&body);
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str()),
        (Some("1"), Some("33"))
    );
    assert!(
        v["gitVersion"]
            .as_str()
            .unwrap_or("")
            .starts_with("v1.33.0-kaiser.")
    );
    for f in [
        "gitCommit",
        "gitTreeState",
        "buildDate",
        "goVersion",
        "compiler",
        "platform",
    ] {
        assert!(v[f].is_string(), "{f}");
    }
}

#[test]
fn unauthenticated_requests_are_refused_and_the_chain_ends_in_404() {
    let s = Server::start();
    let (code, body) = s.curl_anonymous(&[&s.url("/no/such/path")]);
    assert!(code == 401 || code == 403, "{code}");
    assert_eq!(json(&body)["kind"], "Status");
    let (code, body) = s.curl_anonymous(&[&s.url("/api/v1/namespaces")]);
    assert_eq!(code, 403);
    let status = json(&body);
    assert_eq!(status["reason"], "Forbidden");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or("")
            .contains("User \"system:anonymous\" cannot list resource \"namespaces\"")
    );
    let (code, _) = s.curl_anonymous(&[
        "-H",
        "Authorization: Bearer nonsense",
        &s.url("/api/v1/namespaces"),
    ]);
    assert_eq!(code, 401);

    let (code, body) = s.curl_admin(&[&s.url("/no/such/path")]);
    assert_eq!(code, 404);
    let status = json(&body);
    assert_eq!(status["apiVersion"], "v1");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NotFound");
    assert_eq!(status["code"], 404);
    assert!(status["message"].is_string() && status["details"].is_object());
}

#[test]
fn discovery_documents() {
    let s = Server::start();
    let accept = "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (code, body) = s.curl_admin(&["-H", accept, "-D", "-", &s.url("/api")]);
    assert_eq!(code, 200);
    assert!(
        body.to_lowercase().contains(
            "content-type: application/json;g=apidiscovery.k8s.io;v=v2;as=apigroupdiscoverylist"
        ),
        "{body}"
    );
    let doc = json(body.split("\r\n\r\n").nth(1).unwrap_or(""));
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    let resources = &doc["items"][0]["versions"][0]["resources"];
    let cm = resources
        .as_array()
        .and_then(|a| a.iter().find(|r| r["resource"] == "configmaps"))
        .expect("configmaps");
    assert_eq!(cm["scope"], "Namespaced");
    assert_eq!(cm["shortNames"][0], "cm");
    assert_eq!(cm["responseKind"]["kind"], "ConfigMap");
    let (_, body) = s.curl_admin(&[&s.url("/api/v1")]);
    let list = json(&body);
    assert_eq!(list["kind"], "APIResourceList");
    let ns = list["resources"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "namespaces"))
        .expect("namespaces");
    assert_eq!(ns["namespaced"], false);
    assert!(
        !ns["verbs"]
            .as_array()
            .expect("verbs")
            .contains(&serde_json::json!("deletecollection"))
    );
    let (_, body) = s.curl_admin(&[&s.url("/api")]);
    assert_eq!(json(&body)["versions"][0], "v1");
    let (_, body) = s.curl_admin(&[
        "-H",
        "Accept: application/json;as=Table;v=v1;g=meta.k8s.io",
        &s.url("/api/v1/namespaces"),
    ]);
    let table = json(&body);
    assert_eq!(table["kind"], "Table");
    let cols: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("cols")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(cols, ["Name", "Status", "Age"]);
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let (code, body) = s.curl_admin(&["-H", "Accept: text/html", &s.url("/api/v1/namespaces")]);
    assert_eq!(
        (code, json(&body)["reason"].as_str().map(str::to_string)),
        (406, Some("NotAcceptable".into()))
    );
}

#[test]
fn large_responses_are_gzipped_for_clients_that_accept_it() {
    let s = Server::start();
    s.create_configmaps(crate::harness::KUBECTL, "default", "big", 200, 1024, "{}");
    let url = s.url("/api/v1/namespaces/default/configmaps");
    // curl's user agent gets indented JSON, as upstream gives it; any
    // other gets the list streamed from stored bytes.
    for agent in ["curl/8", "kubectl/v1.33.0"] {
        let (code, out) = s.curl_admin(&["-A", agent, "--compressed", "-D", "-", &url]);
        assert_eq!(code, 200);
        let (headers, body) = out.split_once("\r\n\r\n").expect("headers");
        assert!(
            headers.to_lowercase().contains("content-encoding: gzip"),
            "{agent}: {headers}"
        );
        let items = json(body)["items"].as_array().cloned().unwrap_or_default();
        let big = items.iter().filter(|i| {
            i["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("big-"))
        });
        assert_eq!(big.count(), 200, "{agent}");
        // Without Accept-Encoding, plain JSON.
        let (_, out) = s.curl_admin(&["-A", agent, "-D", "-", &url]);
        let (headers, body) = out.split_once("\r\n\r\n").expect("headers");
        assert!(!headers.to_lowercase().contains("content-encoding"));
        assert_eq!(
            json(body)["items"].as_array().map(Vec::len),
            Some(items.len())
        );
    }
    // Small responses are never compressed.
    let (_, out) = s.curl_admin(&[
        "--compressed",
        "-D",
        "-",
        &s.url("/api/v1/namespaces/default/configmaps/big-01"),
    ]);
    assert!(!out.to_lowercase().contains("content-encoding"));
}
