//! CustomResourceDefinitions with kubectl: a CRD becomes Established and
//! its custom resources are served at once (discovery, OpenAPI, printer
//! columns, status and scale subresources), names that clash are refused in
//! conditions, deleting the CRD deletes its resources and endpoints, and
//! the `x-kubernetes-validations` CEL rules of a schema are enforced.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, fails, json, ok};

fn crd(group: &str, plural: &str, kind: &str, short: &[&str]) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind, "shortNames": short},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "selectableFields": [{"jsonPath": ".spec.size"}],
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "string"}, "replicas": {"type": "integer"}}},
                    "status": {"type": "object", "properties": {
                        "replicas": {"type": "integer"},
                        "conditions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}}}}]}})
}

/// Waits until the CRD `name` is Established (kubectl wait).
pub(crate) fn wait_established(s: &Server, name: &str) {
    ok(s.kubectl(&[
        "wait",
        "--for=condition=Established",
        &format!("crd/{name}"),
        "--timeout=20s",
    ]));
}

#[test]
fn a_crd_serves_its_resources_at_once_and_takes_them_along_when_deleted() {
    let s = Server::start();
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd("example.com", "widgets", "Widget", &["wd"]),
    );
    assert_eq!(code, 201, "{body}");
    let created = json(&body);
    assert_eq!(
        created["metadata"]["finalizers"],
        json!(["customresourcecleanup.apiextensions.k8s.io"])
    );
    wait_established(&s, "widgets.example.com");
    let got = json(&ok(s.kubectl(&[
        "get",
        "crd",
        "widgets.example.com",
        "-o",
        "json",
    ])));
    assert_eq!(got["status"]["acceptedNames"]["listKind"], "WidgetList");
    assert_eq!(got["status"]["acceptedNames"]["singular"], "widget");
    assert_eq!(got["status"]["storedVersions"], json!(["v1"]));

    // Discovery, kubectl and OpenAPI know the new kind without a restart.
    let resources = ok(s.kubectl(&["api-resources", "--api-group=example.com"]));
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["widgets", "wd", "example.com/v1", "true", "Widget"]),
        "{resources}"
    );
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": "L", "replicas": 2}});
    let (code, body) = s.post_json("/apis/example.com/v1/namespaces/default/widgets", &w);
    assert_eq!(code, 201, "{body}");
    assert_eq!(json(&body)["metadata"]["generation"], 1);
    let explain = ok(s.kubectl(&["explain", "widget.spec"]));
    assert!(
        explain.contains("replicas") && explain.contains("<integer>"),
        "{explain}"
    );

    // Printer columns, with a JSONPath filter.
    ok(s.kubectl(&[
        "patch",
        "wd",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":2,"conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]));
    let out = ok(s.kubectl(&["get", "wd"]));
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "SIZE", "REPLICAS", "READY", "AGE"]);
    assert_eq!(rows[1][..4], ["w1", "L", "2", "True"]);

    // selectableFields work in field selectors; other fields do not.
    let (code, body) = s.post_json("/apis/example.com/v1/namespaces/default/widgets", &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": "M"}}));
    assert_eq!(code, 201, "{body}");
    let names = ok(s.kubectl(&["get", "wd", "--field-selector=spec.size=M", "-o", "name"]));
    assert_eq!(names.trim(), "widget.example.com/w2");
    let err = fails(s.kubectl(&["get", "wd", "--field-selector=spec.replicas=2"]));
    assert!(err.contains("field label not supported"), "{err}");
    ok(s.kubectl(&["delete", "wd", "w2"]));
    // Status writes are checked against the schema too.
    let (code, body) = s.send_json(
        "PATCH",
        "application/merge-patch+json",
        "/apis/example.com/v1/namespaces/default/widgets/w1/status",
        r#"{"status":{"replicas":"many"}}"#,
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("status.replicas"), "{body}");
    // Status is written only through its subresource; generation counts the rest.
    ok(s.kubectl(&[
        "patch",
        "wd",
        "w1",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":9},"spec":{"size":"S"}}"#,
    ]));
    let got = json(&ok(s.kubectl(&["get", "wd", "w1", "-o", "json"])));
    assert_eq!(got["status"]["replicas"], 2);
    assert_eq!(got["spec"]["size"], "S");
    assert_eq!(got["metadata"]["generation"], 2);
    // Scale through the CRD's paths.
    ok(s.kubectl(&["scale", "wd", "w1", "--replicas=5"]));
    let scale = json(&ok(s.kubectl(&[
        "get",
        "--raw",
        "/apis/example.com/v1/namespaces/default/widgets/w1/scale",
    ])));
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"]["replicas"], 2);
    // No strategic merge patch for custom resources (415, as upstream).
    let err = fails(s.kubectl(&[
        "patch",
        "wd",
        "w1",
        "--type=strategic",
        "-p",
        r#"{"spec":{"size":"M"}}"#,
    ]));
    assert!(err.contains("application/merge-patch+json"), "{err}");

    // Deleting the CRD deletes its resources, then its endpoints.
    ok(s.kubectl(&["delete", "crd", "widgets.example.com", "--timeout=30s"]));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, _) = s.curl_admin(&[&s.url("/apis/example.com/v1/namespaces/default/widgets")]);
        if code == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "widgets still served");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A new CRD of the same name starts empty.
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd("example.com", "widgets", "Widget", &["wd"]),
    );
    assert_eq!(code, 201, "{body}");
    wait_established(&s, "widgets.example.com");
    let list = json(&ok(s.kubectl(&[
        "get",
        "--raw",
        "/apis/example.com/v1/widgets",
    ])));
    assert_eq!(list["items"], json!([]));
}

#[test]
fn clashing_names_are_refused_in_conditions_and_bad_crds_get_422() {
    let s = Server::start();
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd("example.com", "gadgets", "Gadget", &["gd"]),
    );
    assert_eq!(code, 201, "{body}");
    wait_established(&s, "gadgets.example.com");
    // Another CRD of the group claiming the same kind and short name.
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd("example.com", "gizmos", "Gadget", &["gd"]),
    );
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = json(&ok(s.kubectl(&[
            "get",
            "crd",
            "gizmos.example.com",
            "-o",
            "json",
        ])));
        let cond = got["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "NamesAccepted"))
            .cloned();
        if let Some(c) = cond {
            assert_eq!(c["status"], "False", "{c}");
            assert_eq!(c["reason"], "NameConflict");
            assert!(
                c["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("is already in use")),
                "{c}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no NamesAccepted condition");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _) = s.curl_admin(&[&s.url("/apis/example.com/v1/gizmos")]);
    assert_eq!(code, 404);

    // A definition that breaks upstream's rules is a 422 naming the fields.
    let mut bad = crd("nodot", "things", "Thing", &[]);
    bad["metadata"]["name"] = json!("wrong");
    bad["spec"]["scope"] = json!("Galaxy");
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &bad,
    );
    assert_eq!(code, 422, "{body}");
    for want in ["metadata.name", "spec.group", "spec.scope"] {
        assert!(body.contains(want), "{want} missing: {body}");
    }
}

#[test]
fn custom_resources_are_served_again_after_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd("example.com", "widgets", "Widget", &["wd"]),
    );
    assert_eq!(code, 201, "{body}");
    wait_established(&s, "widgets.example.com");
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "kept"}, "spec": {"size": "S"}});
    let (code, body) = s.post_json("/apis/example.com/v1/namespaces/default/widgets", &w);
    assert_eq!(code, 201, "{body}");
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "{}", s.log());
    drop(s);
    let s = Server::start_in(tmp.path(), &["--secure-port=0"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = s.kubectl(&["get", "wd", "kept", "-o", "jsonpath={.spec.size}"]);
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout), "S");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "widgets not served after restart"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn custom_resources_are_pruned_defaulted_and_validated_by_their_schema() {
    let s = Server::start();
    let def = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "caches.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "caches", "kind": "Cache"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["engine"], "properties": {
                        "engine": {"type": "string", "enum": ["redis", "memcached"]},
                        "size": {"type": "string", "default": "small", "pattern": "^(small|large)$"},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}}}]}});
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &def,
    );
    assert_eq!(code, 201, "{body}");
    wait_established(&s, "caches.example.com");
    let path = "/apis/example.com/v1/namespaces/default/caches";
    // Defaults fill what is missing; unknown fields are pruned (and reported).
    let c = json!({"apiVersion": "example.com/v1", "kind": "Cache", "metadata": {"name": "c1"},
        "spec": {"engine": "redis", "bogus": 1, "extra": {"anything": {"goes": true}}}});
    let (code, body) = s.post_json(path, &c);
    assert_eq!(code, 201, "{body}");
    let got = json(&body);
    assert_eq!(got["spec"]["size"], "small");
    assert_eq!(got["spec"]["replicas"], 1);
    assert!(got["spec"].get("bogus").is_none(), "{body}");
    assert_eq!(got["spec"]["extra"]["anything"]["goes"], true);
    let (code, body) = s.post_json(&format!("{path}?fieldValidation=Strict"), &json!({"apiVersion": "example.com/v1", "kind": "Cache", "metadata": {"name": "c2"}, "spec": {"engine": "redis", "bogus": 1}}));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("unknown field"), "{body}");
    // Validation: every error, with upstream's wording and paths.
    let bad = json!({"apiVersion": "example.com/v1", "kind": "Cache", "metadata": {"name": "c3"},
        "spec": {"engine": "mysql", "size": "huge", "replicas": 11, "tags": ["a", "a", "b"]}});
    let (code, body) = s.post_json(path, &bad);
    assert_eq!(code, 422, "{body}");
    for want in [
        r#"spec.engine: Unsupported value: \"mysql\": supported values: \"redis\", \"memcached\""#,
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
        r#"spec.size: Invalid value: \"huge\": spec.size in body should match '^(small|large)$'"#,
        "spec.tags: Too many: 3: must have at most 2 items",
    ] {
        assert!(body.contains(want), "{want} missing: {body}");
    }
    let (code, body) = s.post_json(path, &json!({"apiVersion": "example.com/v1", "kind": "Cache", "metadata": {"name": "c4"}, "spec": {}}));
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("spec.engine: Required value"), "{body}");
    // A CRD whose schema is not structural is refused.
    let mut nonstructural = def.clone();
    nonstructural["metadata"]["name"] = json!("others.example.com");
    nonstructural["spec"]["names"] = json!({"plural": "others", "kind": "Other"});
    nonstructural["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}});
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &nonstructural,
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("openAPIV3Schema.properties[spec].type: Required value"),
        "{body}"
    );
}

#[test]
fn custom_resources_are_checked_by_the_cel_rules_of_their_schema() {
    let s = Server::start();
    let def = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "scalers.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "scalers", "kind": "Scaler"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object",
                        "x-kubernetes-validations": [{"rule": "self.minReplicas <= self.maxReplicas",
                            "message": "minReplicas must be less than or equal to maxReplicas"}],
                        "properties": {
                            "minReplicas": {"type": "integer"},
                            "maxReplicas": {"type": "integer"},
                            "mode": {"type": "string", "x-kubernetes-validations": [
                                {"rule": "self == oldSelf", "message": "Value is immutable"}]}}}}}}}]}});
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let (code, body) = s.post_json(crds, &def);
    assert_eq!(code, 201, "{body}");
    wait_established(&s, "scalers.example.com");
    let path = "/apis/example.com/v1/namespaces/default/scalers";
    let sc = |name: &str, min: i64, max: i64| {
        json!({"apiVersion": "example.com/v1", "kind": "Scaler", "metadata": {"name": name},
            "spec": {"minReplicas": min, "maxReplicas": max, "mode": "fast"}})
    };
    let (code, body) = s.post_json(path, &sc("a", 5, 2));
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(r#"Scaler.example.com \"a\" is invalid: spec: Invalid value: \"object\": minReplicas must be less than or equal to maxReplicas"#),
        "{body}"
    );
    assert!(body.contains(r#""field":"spec""#), "{body}");
    let (code, body) = s.post_json(path, &sc("a", 1, 2));
    assert_eq!(code, 201, "{body}");
    // The transition rule holds the field still on update, not other fields.
    let (code, body) = s.send_json(
        "PATCH",
        "application/merge-patch+json",
        &format!("{path}/a"),
        r#"{"spec":{"mode":"slow"}}"#,
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(r#"spec.mode: Invalid value: \"string\": Value is immutable"#),
        "{body}"
    );
    let (code, body) = s.send_json(
        "PATCH",
        "application/merge-patch+json",
        &format!("{path}/a"),
        r#"{"spec":{"maxReplicas":3}}"#,
    );
    assert_eq!(code, 200, "{body}");
    // A rule that does not compile keeps the CRD out.
    let mut broken = def.clone();
    broken["metadata"]["name"] = json!("brokens.example.com");
    broken["spec"]["names"] = json!({"plural": "brokens", "kind": "Broken"});
    broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"]
        [0]["rule"] = json!("self.minReplicas <=");
    let (code, body) = s.post_json(crds, &broken);
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "),
        "{body}"
    );
    assert!(
        body.contains("compilation failed: ERROR: <input>:1:20: Syntax error"),
        "{body}"
    );
}
