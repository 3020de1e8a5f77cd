//! API machinery seen through clients: finalizers, response shapes.

use std::time::{Duration, Instant};

use crate::harness::{Server, fails, json, ok};

#[test]
fn a_finalizer_holds_deletion_until_removed() {
    let s = Server::start();
    let manifest = s.dir.join("held.json");
    std::fs::write(
        &manifest,
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","namespace":"default","finalizers":["example.com/hold"]}}"#,
    )
    .expect("write");
    ok(s.kubectl(&["create", "-f", manifest.to_str().expect("path")]));
    let (mut watch, rx) = s.kubectl_stream(&["get", "cm", "held", "-w", "--output-watch-events"]);
    crate::harness::wait_for_line(&rx, "held");
    ok(s.kubectl(&["delete", "cm", "held", "--wait=false"]));
    let obj = json(&ok(s.kubectl(&["get", "cm", "held", "-o", "json"])));
    assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj}");
    assert_eq!(obj["metadata"]["finalizers"][0], "example.com/hold");
    ok(s.kubectl(&[
        "patch",
        "cm",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]));
    let err = String::from_utf8_lossy(&s.kubectl(&["get", "cm", "held"]).stderr).into_owned();
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events = Vec::new();
    while !events.iter().any(|e: &String| e.starts_with("DELETED")) && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            events.push(line);
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("DELETED") && e.contains("held")),
        "{events:?}"
    );
}

#[test]
fn yaml_and_partial_object_metadata_responses() {
    let s = Server::start();
    ok(s.kubectl(&["create", "configmap", "shape", "--from-literal=k=v"]));
    let (code, body) = s.curl_admin(&[
        "-H",
        "Accept: application/yaml",
        &s.url("/api/v1/namespaces/default/configmaps/shape"),
    ]);
    assert_eq!(code, 200);
    assert!(
        body.contains("kind: ConfigMap") && body.contains("name: shape") && body.contains("k: v"),
        "{body}"
    );
    let (code, body) = s.curl_admin(&[
        "-H",
        "Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        &s.url("/api/v1/namespaces/default/configmaps"),
    ]);
    assert_eq!(code, 200);
    let list = json(&body);
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["apiVersion"], "meta.k8s.io/v1");
    assert!(list["metadata"]["resourceVersion"].is_string());
    // Every namespace also holds kube-root-ca.crt, as upstream.
    let item = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["metadata"]["name"] == "shape"))
        .expect("shape in the list");
    assert_eq!(item["kind"], "PartialObjectMetadata");
    assert_eq!(item["metadata"]["name"], "shape");
    assert!(item.get("data").is_none());
    let (code, body) = s.curl_admin(&[
        "-H",
        "Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        &s.url("/api/v1/namespaces/default/configmaps/shape"),
    ]);
    assert_eq!(code, 200);
    assert_eq!(json(&body)["kind"], "PartialObjectMetadata");
    // A list asked for as a single PartialObjectMetadata is not acceptable.
    let (code, _) = s.curl_admin(&[
        "-H",
        "Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        &s.url("/api/v1/namespaces/default/configmaps"),
    ]);
    assert_eq!(code, 406);
}

#[test]
fn strategic_merge_patch_merges_keyed_lists() {
    let s = Server::start();
    ok(s.kubectl(&["create", "serviceaccount", "robot"]));
    // kubectl patch defaults to a strategic merge patch.
    ok(s.kubectl(&[
        "patch",
        "sa",
        "robot",
        "-p",
        r#"{"secrets":[{"name":"a"}],"metadata":{"finalizers":["x.io/one"]}}"#,
    ]));
    ok(s.kubectl(&[
        "patch",
        "sa",
        "robot",
        "-p",
        r#"{"secrets":[{"name":"b"}],"metadata":{"finalizers":["x.io/two"]}}"#,
    ]));
    let sa = json(&ok(s.kubectl(&["get", "sa", "robot", "-o", "json"])));
    let names: Vec<&str> = sa["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"], "secrets merge by name");
    assert_eq!(
        sa["metadata"]["finalizers"],
        serde_json::json!(["x.io/one", "x.io/two"])
    );
    ok(s.kubectl(&[
        "patch",
        "sa",
        "robot",
        "--type=strategic",
        "-p",
        r#"{"secrets":[{"name":"a","$patch":"delete"}]}"#,
    ]));
    let sa = json(&ok(s.kubectl(&["get", "sa", "robot", "-o", "json"])));
    assert_eq!(sa["secrets"], serde_json::json!([{"name": "b"}]));
    // A malformed strategic patch is a 400 and changes nothing.
    let before = sa["metadata"]["resourceVersion"].clone();
    let out = s.kubectl(&[
        "patch",
        "sa",
        "robot",
        "-p",
        r#"{"secrets":[{"nope":"x"}]}"#,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("merge key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = json(&ok(s.kubectl(&["get", "sa", "robot", "-o", "json"])));
    assert_eq!(after["metadata"]["resourceVersion"], before);
}

#[test]
fn status_is_written_only_through_its_subresource() {
    let s = Server::start();
    ok(s.kubectl(&["create", "namespace", "st"]));
    // The main resource ignores status changes.
    ok(s.kubectl(&[
        "patch",
        "ns",
        "st",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Bogus"},"metadata":{"labels":{"a":"b"}}}"#,
    ]));
    let ns = json(&ok(s.kubectl(&["get", "ns", "st", "-o", "json"])));
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["metadata"]["labels"]["a"], "b");
    // The status subresource keeps the spec as stored; metadata changes
    // stay, as upstream's namespace status strategy resets only the spec.
    let cond = r#"{"status":{"conditions":[{"type":"Custom","status":"True"}]},"spec":{"finalizers":[]},"metadata":{"labels":{"c":"d"}}}"#;
    ok(s.kubectl(&[
        "patch",
        "ns",
        "st",
        "--subresource=status",
        "--type=merge",
        "-p",
        cond,
    ]));
    let ns = json(&ok(s.kubectl(&["get", "ns", "st", "-o", "json"])));
    assert_eq!(ns["status"]["conditions"][0]["type"], "Custom");
    assert_eq!(ns["metadata"]["labels"]["c"], "d", "{ns}");
    assert_eq!(ns["spec"]["finalizers"][0], "kubernetes", "{ns}");
    // A Deployment's status write cannot change its labels either (dry run:
    // the deployment controller writes status too).
    ok(s.kubectl(&["create", "deployment", "web", "--image=nginx", "-n", "st"]));
    let out = json(&ok(s.kubectl(&[
        "patch",
        "deployment",
        "web",
        "-n",
        "st",
        "--subresource=status",
        "--type=merge",
        "--dry-run=server",
        "-o",
        "json",
        "-p",
        r#"{"status":{"collisionCount":3},"spec":{"replicas":7},"metadata":{"labels":{"app":"other"},"annotations":{"kept":"yes"}}}"#,
    ])));
    assert_eq!(out["status"]["collisionCount"], 3, "{out}");
    assert_eq!(out["spec"]["replicas"], 1, "{out}");
    assert_eq!(out["metadata"]["labels"]["app"], "web", "{out}");
    assert_eq!(out["metadata"]["annotations"]["kept"], "yes", "{out}");
    let (code, body) = s.curl_admin(&[&s.url("/api/v1/namespaces/st/status")]);
    assert_eq!(code, 200);
    assert_eq!(json(&body)["kind"], "Namespace");
    let (code, _) = s.curl_admin(&["-X", "DELETE", &s.url("/api/v1/namespaces/st/status")]);
    assert_eq!(code, 405);
    let (code, _) = s.curl_admin(&[&s.url("/api/v1/namespaces/st/nope")]);
    assert_eq!(code, 404);
    // Deleting still finishes through the finalize subresource.
    ok(s.kubectl(&["delete", "namespace", "st", "--timeout=30s"]));
}

#[test]
fn strategic_merge_patch_merges_a_pods_containers_by_name() {
    let s = Server::start();
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "nginx:1.27"}, {"name": "b", "image": "busybox:1.36"}]}});
    let (code, body) = s.post_json("/api/v1/namespaces/default/pods", &pod);
    assert_eq!(code, 201, "{body}");
    // A strategic patch touches container "b" by name and leaves "a" alone.
    ok(s.kubectl(&[
        "patch",
        "pod",
        "p",
        "--type=strategic",
        "-p",
        r#"{"spec":{"containers":[{"name":"b","image":"busybox:1.37"}]}}"#,
    ]));
    let got = json(&ok(s.kubectl(&["get", "pod", "p", "-o", "json"])));
    let images: Vec<(&str, &str)> = got["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| Some((c["name"].as_str()?, c["image"].as_str()?)))
        .collect();
    assert_eq!(images, [("a", "nginx:1.27"), ("b", "busybox:1.37")]);
    // Tolerations have no merge key (a strategic patch replaces the list,
    // which a pod refuses for existing entries); a JSON patch appends.
    let err = fails(s.kubectl(&["patch", "pod", "p", "-p",
        r#"{"spec":{"tolerations":[{"key":"x","operator":"Exists","effect":"NoExecute","tolerationSeconds":5}]}}"#]));
    assert!(err.contains("spec.tolerations"), "{err}");
    ok(s.kubectl(&["patch", "pod", "p", "--type=json", "-p",
        r#"[{"op":"add","path":"/spec/tolerations/-","value":{"key":"x","operator":"Exists","effect":"NoExecute","tolerationSeconds":5}}]"#]));
    let got = json(&ok(s.kubectl(&["get", "pod", "p", "-o", "json"])));
    assert_eq!(
        got["spec"]["tolerations"].as_array().map(Vec::len),
        Some(3),
        "{}",
        got["spec"]["tolerations"]
    );
    // `$patch: delete` removes one container by its merge key (on a pod
    // template: a pod's container list cannot change after creation).
    let tpl = serde_json::json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
        "template": {"spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}]}}});
    let (code, body) = s.post_json("/api/v1/namespaces/default/podtemplates", &tpl);
    assert_eq!(code, 201, "{body}");
    ok(s.kubectl(&[
        "patch",
        "podtemplate",
        "t",
        "--type=strategic",
        "-p",
        r#"{"template":{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}}"#,
    ]));
    let got = json(&ok(s.kubectl(&["get", "podtemplate", "t", "-o", "json"])));
    let names: Vec<&str> = got["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["b"]);
}

/// NamespaceLifecycle: a namespace being deleted takes no new objects, a
/// missing one is a 404; a create's 201 body is the object a GET returns.
#[test]
fn a_terminating_namespace_takes_no_new_content() {
    let s = Server::start();
    let manifest = s.dir.join("closing.json");
    std::fs::write(
        &manifest,
        br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"closing","finalizers":["example.com/hold"]}}"#,
    )
    .expect("write");
    ok(s.kubectl(&["create", "-f", manifest.to_str().expect("path")]));
    let cm = |ns: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "late", "namespace": ns}, "data": {"k": "v"}})
    };
    let (code, body) = s.post_json("/api/v1/namespaces/closing/configmaps", &cm("closing"));
    assert_eq!(code, 201, "{body}");
    // The response is the stored object: exactly what a GET returns.
    let (_, got) = s.curl_admin(&[&s.url("/api/v1/namespaces/closing/configmaps/late")]);
    assert_eq!(json(&body), json(&got));
    assert!(
        json(&body)["metadata"]["resourceVersion"].is_string(),
        "{body}"
    );

    ok(s.kubectl(&["delete", "namespace", "closing", "--wait=false"]));
    let mut second = cm("closing");
    second["metadata"]["name"] = "later".into();
    let (code, body) = s.post_json("/api/v1/namespaces/closing/configmaps", &second);
    assert_eq!(code, 403, "{body}");
    let status = json(&body);
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["message"],
        "configmaps \"later\" is forbidden: unable to create new content in namespace closing because it is being terminated"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "NamespaceTerminating"
    );
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "metadata.namespace"
    );

    let (code, body) = s.post_json("/api/v1/namespaces/nowhere/configmaps", &cm("nowhere"));
    assert_eq!(code, 404, "{body}");
    assert_eq!(json(&body)["message"], "namespaces \"nowhere\" not found");
    let err = fails(s.kubectl(&["create", "configmap", "x", "-n", "closing"]));
    assert!(err.contains("being terminated"), "{err}");
}

/// Table and `PartialObjectMetadataList` LISTs in compact JSON (kubectl's,
/// client-go's) are made from the stored bytes: the same rows, cells and
/// metadata as the pretty forms, which decode every object; and a printer
/// column that reads `managedFields` still sees them.
#[test]
fn table_and_metadata_lists_from_stored_bytes_are_the_decoded_ones() {
    let s = Server::start();
    ok(s.kubectl(&["create", "configmap", "plain", "--from-literal=a=1"]));
    ok(s.kubectl(&[
        "create",
        "configmap",
        "odd",
        "--from-literal=k=v}\"]",
        "--from-literal=two=2",
    ]));
    ok(s.kubectl(&["annotate", "configmap", "odd", "note={\"x\": [1, \"]\"]}"]));
    ok(s.kubectl(&["label", "configmap", "odd", "tier=a"]));
    ok(s.kubectl(&["create", "configmap", "empty"]));
    let table = |query: &str, ua: &str| -> serde_json::Value {
        let (code, body) = s.curl_admin(&[
            "-A",
            ua,
            "-H",
            "Accept: application/json;as=Table;v=v1;g=meta.k8s.io",
            &s.url(&format!("/api/v1/namespaces/default/configmaps{query}")),
        ]);
        assert_eq!(code, 200, "{body}");
        let mut t = json(&body);
        // Age may tick between the two requests.
        for row in t["rows"].as_array_mut().into_iter().flatten() {
            row["cells"].as_array_mut().map(Vec::pop);
        }
        t
    };
    for query in ["", "?includeObject=None", "?includeObject=Metadata"] {
        let compact = table(query, "kubectl");
        let decoded = table(
            &format!(
                "{query}{}pretty=true",
                if query.is_empty() { "?" } else { "&" }
            ),
            "kubectl",
        );
        assert_eq!(compact, decoded, "{query}");
    }
    let metadata_list = |query: &str| {
        let (code, body) = s.curl_admin(&[
            "-A",
            "kubectl",
            "-H",
            "Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
            &s.url(&format!("/api/v1/namespaces/default/configmaps{query}")),
        ]);
        assert_eq!(code, 200, "{body}");
        json(&body)
    };
    let compact = metadata_list("");
    assert_eq!(compact, metadata_list("?pretty=true"));
    let items = compact["items"].as_array().map_or(0, Vec::len);
    assert_eq!(items, 4, "three and kube-root-ca.crt: {compact}");

    let t = table("", "kubectl");
    let odd = t["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["cells"][0] == "odd"))
        .expect("odd's row");
    assert_eq!(odd["cells"][1], 2, "two data entries");
    let meta = &odd["object"]["metadata"];
    assert_eq!(odd["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(meta["labels"]["tier"], "a");
    assert_eq!(meta["annotations"]["note"], "{\"x\": [1, \"]\"]}");
    assert!(
        meta["managedFields"]
            .as_array()
            .is_some_and(|m| m.len() >= 2),
        "{meta}"
    );
    let got = json(&ok(s.kubectl(&["get", "configmap", "odd", "-o", "json"])));
    assert_eq!(meta["resourceVersion"], got["metadata"]["resourceVersion"]);
    let listed = ok(s.kubectl(&["get", "configmaps"]));
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["odd", "2"])),
        "{listed}"
    );

    // A custom resource whose printer column reads managedFields.
    let crd = serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "additionalPrinterColumns": [
                    {"name": "Manager", "type": "string", "jsonPath": ".metadata.managedFields[0].manager"}],
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd,
    );
    assert_eq!(code, 201, "{body}");
    crate::crd::wait_established(&s, "gadgets.example.com");
    let (code, body) = s.post_json(
        "/apis/example.com/v1/namespaces/default/gadgets",
        &serde_json::json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"a": 1}}),
    );
    assert_eq!(code, 201, "{body}");
    let manager = json(&body)["metadata"]["managedFields"][0]["manager"].clone();
    assert!(manager.is_string(), "{body}");
    let listed = ok(s.kubectl(&["get", "gadgets"]));
    assert!(
        listed.lines().any(|l| l
            .split_whitespace()
            .take(2)
            .eq(["g", manager.as_str().unwrap_or("")])),
        "{listed}"
    );
}

/// curl's pretty LIST is re-indented from the stored bytes: exactly the
/// text serde_json's pretty printer writes for the same list, and the same
/// objects as the compact LIST.
#[test]
fn pretty_lists_are_the_compact_lists_indented() {
    let s = Server::start();
    ok(s.kubectl(&["create", "configmap", "a", "--from-literal=k=v\"}],:"]));
    ok(s.kubectl(&["create", "configmap", "b"]));
    ok(s.kubectl(&["label", "configmap", "b", "x=y"]));
    let list = |ua: &str| {
        let (code, body) =
            s.curl_admin(&["-A", ua, &s.url("/api/v1/namespaces/default/configmaps")]);
        assert_eq!(code, 200, "{body}");
        body
    };
    let pretty = list("curl/8");
    let compact = list("kubectl");
    assert!(pretty.contains("\n  \"items\": [\n    {\n"), "{pretty}");
    let parsed = json(&pretty);
    let again = serde_json::to_string_pretty(&parsed).expect("json");
    assert_eq!(pretty.trim_end(), again.trim_end());
    assert_eq!(parsed, json(&compact));
    assert_eq!(
        parsed["items"].as_array().map(Vec::len),
        Some(3),
        "{pretty}"
    );
}
