//! Server-side apply and managed fields with kubectl and kube-rs: conflicts
//! between managers and forcing them, fields that go when their last
//! applier drops them, list-map elements by key, classic `kubectl apply`
//! and its upgrade to `--server-side`, a custom resource's status applied
//! by a kube-rs controller, and the API's edges (options, resets, dry run,
//! the scale subresource).

use std::path::PathBuf;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::harness::{Server, fails, json, ok};

fn write(s: &Server, name: &str, obj: &Value) -> PathBuf {
    let path = s.dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(obj).expect("json")).expect("write");
    path
}

fn deployment(name: &str, replicas: u32, containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": containers}}}})
}

fn get(s: &Server, what: &str) -> Value {
    json(&ok(s.kubectl(&[
        "get",
        what,
        "-o",
        "json",
        "--show-managed-fields",
    ])))
}

/// `(manager, operation, subresource)` → fieldsV1 of each entry.
fn entries(obj: &Value) -> Vec<(String, String, String, Value)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (
                s("manager"),
                s("operation"),
                s("subresource"),
                e["fieldsV1"].clone(),
            )
        })
        .collect()
}

fn fields_of(obj: &Value, manager: &str) -> Value {
    entries(obj)
        .into_iter()
        .find(|(m, ..)| m == manager)
        .map(|(.., f)| f)
        .unwrap_or(Value::Null)
}

fn apply_as(
    s: &Server,
    manager: &str,
    file: &std::path::Path,
    force: bool,
) -> std::process::Output {
    let fm = format!("--field-manager={manager}");
    let f = file.to_str().expect("path");
    let mut args = vec!["apply", "--server-side", fm.as_str(), "-f", f];
    if force {
        args.push("--force-conflicts");
    }
    s.kubectl(&args)
}

#[test]
fn two_managers_conflict_on_a_deployment_and_force_takes_the_field() {
    let s = Server::start();
    let c = json!([{"name": "web", "image": "nginx"}]);
    let two = write(&s, "two.json", &deployment("web", 2, c.clone()));
    let three = write(&s, "three.json", &deployment("web", 3, c));
    ok(apply_as(&s, "a", &two, false));
    let err = fails(apply_as(&s, "b", &three, false));
    assert!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "a": .spec.replicas"#),
        "{err}"
    );
    // The 409 itself, as upstream words and details it.
    let body = std::fs::read_to_string(&three).expect("read");
    let (code, out) = s.send_json(
        "PATCH",
        "application/apply-patch+yaml",
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=b",
        &body,
    );
    assert_eq!(code, 409, "{out}");
    let status = json(&out);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".spec.replicas"}])
    );
    assert_eq!(get(&s, "deployment/web")["spec"]["replicas"], 2);

    ok(apply_as(&s, "b", &three, true));
    let d = get(&s, "deployment/web");
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(fields_of(&d, "b")["f:spec"]["f:replicas"], json!({}));
    assert!(
        fields_of(&d, "a")["f:spec"].get("f:replicas").is_none(),
        "{d}"
    );
    assert!(fields_of(&d, "a")["f:spec"].get("f:template").is_some());
    let ops: Vec<(String, String)> = entries(&d).into_iter().map(|(m, o, ..)| (m, o)).collect();
    assert_eq!(
        ops,
        [("a".into(), "Apply".into()), ("b".into(), "Apply".into())]
    );
    // kubectl hides them unless asked.
    let plain = ok(s.kubectl(&["get", "deployment", "web", "-o", "yaml"]));
    assert!(!plain.contains("managedFields"), "{plain}");
    let shown = ok(s.kubectl(&[
        "get",
        "deployment",
        "web",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]));
    assert!(
        shown.contains("manager: b") && shown.contains("f:replicas: {}"),
        "{shown}"
    );
}

#[test]
fn a_dropped_field_goes_only_when_no_other_manager_owns_it() {
    let s = Server::start();
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
    let a_xy = write(&s, "a-xy.json", &cm(json!({"x": "1", "y": "2"})));
    let a_x = write(&s, "a-x.json", &cm(json!({"x": "1"})));
    let b_y = write(&s, "b-y.json", &cm(json!({"y": "2"})));
    let b_none = write(
        &s,
        "b-none.json",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
    );
    ok(apply_as(&s, "a", &a_xy, false));
    // b applies the same value: no conflict, both own y.
    ok(apply_as(&s, "b", &b_y, false));
    ok(apply_as(&s, "a", &a_x, false));
    assert_eq!(get(&s, "configmap/c")["data"], json!({"x": "1", "y": "2"}));
    // b was the last owner of y: dropping it removes it.
    ok(apply_as(&s, "b", &b_none, false));
    let c = get(&s, "configmap/c");
    assert_eq!(c["data"], json!({"x": "1"}));
    assert_eq!(fields_of(&c, "b"), Value::Null, "b owns nothing any more");
    // And a's own drop removes what only a had.
    ok(apply_as(&s, "a", &b_none, false));
    assert!(get(&s, "configmap/c").get("data").is_none());
}

#[test]
fn list_map_elements_are_added_and_removed_by_key() {
    let s = Server::start();
    let web = json!({"name": "web", "image": "nginx", "ports": [
        {"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]});
    let side = json!({"name": "side", "image": "busybox"});
    let both = write(
        &s,
        "both.json",
        &deployment("d", 1, json!([web.clone(), side])),
    );
    ok(apply_as(&s, "a", &both, false));
    // Another manager adds its own container.
    let extra = write(
        &s,
        "extra.json",
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "extra", "image": "redis"}]}}}}),
    );
    ok(apply_as(&s, "b", &extra, false));
    // a drops "side" and port 80, adds 53/TCP: the rest stays as it was.
    let web2 = json!({"name": "web", "image": "nginx", "ports": [
        {"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53, "protocol": "TCP"}]});
    let less = write(&s, "less.json", &deployment("d", 1, json!([web2])));
    ok(apply_as(&s, "a", &less, false));
    let d = get(&s, "deployment/d");
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["web", "extra"]);
    assert_eq!(containers[0]["image"], "nginx");
    assert_eq!(containers[1]["image"], "redis");
    let ports: Vec<(i64, &str)> = containers[0]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["containerPort"].as_i64().unwrap_or(0),
                p["protocol"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(ports, [(53, "UDP"), (53, "TCP")]);
    let a = fields_of(&d, "a");
    let owned = &a["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(owned.get(r#"k:{"name":"web"}"#).is_some(), "{a}");
    assert!(owned.get(r#"k:{"name":"side"}"#).is_none(), "{a}");
    let ports = &owned[r#"k:{"name":"web"}"#]["f:ports"];
    assert!(
        ports
            .get(r#"k:{"containerPort":53,"protocol":"TCP"}"#)
            .is_some(),
        "{a}"
    );
    assert!(
        ports
            .get(r#"k:{"containerPort":80,"protocol":"TCP"}"#)
            .is_none(),
        "{a}"
    );
}

#[test]
fn classic_kubectl_apply_then_server_side_apply() {
    let s = Server::start();
    let container = |env: Value| json!([{"name": "app", "image": "nginx", "env": env}]);
    let mut v1 = deployment(
        "csa",
        1,
        container(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
    );
    v1["metadata"]["labels"] = json!({"tier": "web", "team": "x"});
    let f1 = write(&s, "v1.json", &v1);
    let out = ok(s.kubectl(&["apply", "-f", f1.to_str().expect("path")]));
    assert!(out.contains("deployment.apps/csa created"), "{out}");
    let d = get(&s, "deployment/csa");
    let last = d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .expect("last-applied annotation");
    assert_eq!(json(last)["spec"]["replicas"], 1);
    let ops: Vec<(String, String)> = entries(&d).into_iter().map(|(m, o, ..)| (m, o)).collect();
    assert_eq!(ops, [("kubectl-client-side-apply".into(), "Update".into())]);
    // The creator owns what defaulting filled in too, as upstream records it.
    assert!(
        fields_of(&d, "kubectl-client-side-apply")["f:spec"]
            .get("f:progressDeadlineSeconds")
            .is_some()
    );

    // Change a field, then remove a label and an env var.
    let mut v2 = v1.clone();
    v2["spec"]["replicas"] = json!(2);
    let f2 = write(&s, "v2.json", &v2);
    let out = ok(s.kubectl(&["apply", "-f", f2.to_str().expect("path")]));
    assert!(out.contains("configured"), "{out}");
    assert_eq!(get(&s, "deployment/csa")["spec"]["replicas"], 2);
    let mut v3 = deployment("csa", 2, container(json!([{"name": "A", "value": "1"}])));
    v3["metadata"]["labels"] = json!({"tier": "web"});
    let f3 = write(&s, "v3.json", &v3);
    ok(s.kubectl(&["apply", "-f", f3.to_str().expect("path")]));
    let d = get(&s, "deployment/csa");
    assert_eq!(d["metadata"]["labels"], json!({"tier": "web"}));
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}])
    );

    // Server-side apply takes the object over without conflicts.
    let mut v4 = v3.clone();
    v4["spec"]["replicas"] = json!(5);
    let f4 = write(&s, "v4.json", &v4);
    let out = ok(s.kubectl(&["apply", "--server-side", "-f", f4.to_str().expect("path")]));
    assert!(out.contains("serverside-applied"), "{out}");
    let d = get(&s, "deployment/csa");
    assert_eq!(d["spec"]["replicas"], 5);
    let managers: Vec<(String, String)> =
        entries(&d).into_iter().map(|(m, o, ..)| (m, o)).collect();
    assert!(
        managers.contains(&("kubectl".into(), "Apply".into())),
        "{managers:?}"
    );
    assert!(
        !managers
            .iter()
            .any(|(m, _)| m == "kubectl-client-side-apply"),
        "{managers:?}"
    );
    assert_eq!(fields_of(&d, "kubectl")["f:spec"]["f:replicas"], json!({}));
    // The annotation follows what kubectl applied server-side.
    let last = d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .expect("annotation kept");
    assert_eq!(json(last)["spec"]["replicas"], 5);
    // Applying the same again changes nothing.
    ok(s.kubectl(&["apply", "--server-side", "-f", f4.to_str().expect("path")]));
    let again = get(&s, "deployment/csa");
    assert_eq!(
        again["metadata"]["resourceVersion"],
        d["metadata"]["resourceVersion"]
    );
}

fn widget_crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                    "status": {"type": "object", "properties": {
                        "phase": {"type": "string"},
                        "conditions": {"type": "array", "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["type"],
                            "items": {"type": "object", "required": ["type"], "properties": {
                                "type": {"type": "string"}, "status": {"type": "string"}}}}}}}}}}]}})
}

#[tokio::test]
async fn a_controller_applies_a_custom_resources_status_with_kube_rs() {
    let s = Server::start();
    let (code, body) = s.post_json(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &widget_crd(),
    );
    assert_eq!(code, 201, "{body}");
    ok(s.kubectl(&[
        "wait",
        "--for=condition=Established",
        "crd/gadgets.example.com",
        "--timeout=20s",
    ]));
    let client = crate::kube_rs::client(&s).await;
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Gadget"));
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let obj = json!({"apiVersion": "example.com/v1", "kind": "Gadget",
        "metadata": {"name": "g"}, "spec": {"size": 2}});
    let created = api
        .patch("g", &PatchParams::apply("owner"), &Patch::Apply(&obj))
        .await
        .expect("apply creates");
    assert_eq!(created.data["spec"]["size"], 2);

    let status = json!({"apiVersion": "example.com/v1", "kind": "Gadget",
        "status": {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}});
    let pp = PatchParams::apply("gadget-controller").force();
    let first = api
        .patch_status("g", &pp, &Patch::Apply(&status))
        .await
        .expect("status apply");
    assert_eq!(first.data["status"]["phase"], "Ready");
    assert_eq!(first.data["spec"]["size"], 2, "status writes leave spec");
    let mf: Vec<ManagedFieldsEntry> = first.metadata.managed_fields.clone().unwrap_or_default();
    let ctrl = mf
        .iter()
        .find(|e| e.manager.as_deref() == Some("gadget-controller"))
        .expect("controller entry");
    assert_eq!(ctrl.subresource.as_deref(), Some("status"));
    assert_eq!(ctrl.operation.as_deref(), Some("Apply"));
    let fields = serde_json::to_value(&ctrl.fields_v1).expect("fields");
    assert_eq!(
        fields,
        json!({"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}, "f:phase": {}}})
    );
    // The same status again: nothing is written.
    let second = api
        .patch_status("g", &pp, &Patch::Apply(&status))
        .await
        .expect("again");
    assert_eq!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
    // Another manager may not change the controller's phase without force.
    let other =
        json!({"apiVersion": "example.com/v1", "kind": "Gadget", "status": {"phase": "Broken"}});
    let err = api
        .patch_status("g", &PatchParams::apply("intruder"), &Patch::Apply(&other))
        .await
        .expect_err("conflict");
    match err {
        kube::Error::Api(e) => {
            assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
            assert_eq!(
                e.message,
                r#"Apply failed with 1 conflict: conflict with "gadget-controller" with subresource "status": .status.phase"#
            );
        }
        other => panic!("unexpected error {other:?}"),
    }
    // Status through the main resource is not the applier's to set.
    let with_status = json!({"apiVersion": "example.com/v1", "kind": "Gadget",
        "metadata": {"name": "g"}, "spec": {"size": 3}, "status": {"phase": "Ignored"}});
    let main = api
        .patch(
            "g",
            &PatchParams::apply("owner"),
            &Patch::Apply(&with_status),
        )
        .await
        .expect("main apply");
    assert_eq!(main.data["spec"]["size"], 3);
    assert_eq!(main.data["status"]["phase"], "Ready");
}

#[test]
fn options_resets_dry_runs_and_the_scale_subresource() {
    let s = Server::start();
    let cms = "/api/v1/namespaces/default/configmaps";
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"},"data":{"a":"b"}}"#;
    // Apply needs a manager; force is for apply only; names have a limit.
    let (code, body) = s.send_json(
        "PATCH",
        "application/apply-patch+yaml",
        &format!("{cms}/m"),
        cm,
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        json(&body)["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let long = "m".repeat(129);
    let (code, body) = s.send_json(
        "POST",
        "application/json",
        &format!("{cms}?fieldManager={long}"),
        cm,
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        json(&body)["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes"
    );
    // An apply creates (201), then updates (200); dry runs store nothing.
    let (code, body) = s.send_json(
        "PATCH",
        "application/apply-patch+yaml",
        &format!("{cms}/dry?fieldManager=t&dryRun=All"),
        &cm.replace("\"m\"", "\"dry\""),
    );
    assert_eq!(code, 201, "{body}");
    assert!(fails(s.kubectl(&["get", "cm", "dry"])).contains("not found"));
    let (code, body) = s.send_json(
        "PATCH",
        "application/apply-patch+yaml",
        &format!("{cms}/m?fieldManager=t"),
        cm,
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = s.send_json(
        "PATCH",
        "application/apply-patch+yaml",
        &format!("{cms}/m?fieldManager=t"),
        cm,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = s.send_json(
        "PATCH",
        "application/merge-patch+json",
        &format!("{cms}/m?force=true"),
        "{}",
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("force: Forbidden: may not be specified for non-apply patch"),
        "{body}"
    );
    // Unknown fields in an applied configuration are refused, as upstream.
    let (code, body) = s.send_json(
        "PATCH",
        "application/apply-patch+yaml",
        &format!("{cms}/m?fieldManager=t"),
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"},"bogus":1}"#,
    );
    assert_eq!(code, 500, "{body}");
    assert!(json(&body).get("reason").is_none(), "{body}");
    assert_eq!(
        json(&body)["message"],
        "failed to create typed patch object (/m; /v1, Kind=ConfigMap): .bogus: field not declared in schema"
    );
    // Without fieldManager the User-Agent's product is the manager.
    let (code, body) = s.curl_admin(&[
        "-X",
        "POST",
        "-A",
        "my-tool/1.2 (linux)",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ua"},"data":{"k":"v"}}"#,
        &s.url(cms),
    ]);
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        json(&body)["metadata"]["managedFields"][0]["manager"],
        "my-tool"
    );
    // Writing one empty entry resets the managed fields.
    ok(s.kubectl(&[
        "patch",
        "cm",
        "ua",
        "--type=merge",
        "-p",
        r#"{"metadata":{"managedFields":[{}]}}"#,
    ]));
    assert!(
        get(&s, "configmap/ua")["metadata"]
            .get("managedFields")
            .is_none()
    );

    // A version served over another's objects records its own fields.
    let (code, body) = s.post_json(
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers?fieldManager=v1-client",
        &json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sc"}}}),
    );
    assert_eq!(code, 201, "{body}");
    let entry = &json(&body)["metadata"]["managedFields"][0];
    assert_eq!(entry["apiVersion"], "autoscaling/v1");
    assert!(
        entry["fieldsV1"]["f:spec"]
            .get("f:targetCPUUtilizationPercentage")
            .is_some(),
        "{entry}"
    );

    // kubectl scale records a scale entry; the Scale shows it.
    let d = write(
        &s,
        "d.json",
        &deployment("sc", 1, json!([{"name": "c", "image": "nginx"}])),
    );
    ok(s.kubectl(&["apply", "--server-side", "-f", d.to_str().expect("path")]));
    ok(s.kubectl(&["scale", "deployment", "sc", "--replicas=4"]));
    let dep = get(&s, "deployment/sc");
    assert_eq!(dep["spec"]["replicas"], 4);
    let scale_entry = entries(&dep)
        .into_iter()
        .find(|(.., sub, _)| sub == "scale")
        .expect("scale entry");
    assert_eq!(scale_entry.3, json!({"f:spec": {"f:replicas": {}}}));
    assert!(
        fields_of(&dep, "kubectl")["f:spec"]
            .get("f:replicas")
            .is_none(),
        "{dep}"
    );
    let (code, body) =
        s.curl_admin(&[&s.url("/apis/apps/v1/namespaces/default/deployments/sc/scale")]);
    assert_eq!(code, 200, "{body}");
    let scale = json(&body);
    assert_eq!(
        scale["metadata"]["managedFields"][0]["apiVersion"],
        "autoscaling/v1"
    );
    assert_eq!(
        scale["metadata"]["managedFields"][0]["manager"],
        scale_entry.0
    );
}

#[test]
fn pods_and_services_apply_again_without_a_write_and_lose_ports_by_key() {
    let s = Server::start();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "p"}},
        "spec": {"containers": [{"name": "c", "image": "nginx",
            "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}]}});
    let svc = |ports: Value| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"selector": {"app": "p"}, "ports": ports}})
    };
    let both = json!([{"name": "http", "port": 80, "targetPort": 8080}, {"name": "dns", "port": 53, "protocol": "UDP"}]);
    let files = [
        write(&s, "pod.json", &pod),
        write(&s, "svc.json", &svc(both)),
    ];
    for f in &files {
        ok(apply_as(&s, "deployer", f, false));
    }
    let (p1, s1) = (get(&s, "pod/p"), get(&s, "service/s"));
    for f in &files {
        ok(apply_as(&s, "deployer", f, false));
    }
    let (p2, s2) = (get(&s, "pod/p"), get(&s, "service/s"));
    assert_eq!(
        p1["metadata"]["resourceVersion"],
        p2["metadata"]["resourceVersion"]
    );
    assert_eq!(
        s1["metadata"]["resourceVersion"],
        s2["metadata"]["resourceVersion"]
    );
    let ip = s1["spec"]["clusterIP"].clone();
    assert!(ip.is_string(), "{s1}");
    // The allocated cluster IP belongs to nobody and stays.
    assert!(
        fields_of(&s1, "deployer")["f:spec"]
            .get("f:clusterIP")
            .is_none()
    );
    let one = write(
        &s,
        "svc1.json",
        &svc(json!([{"name": "http", "port": 80, "targetPort": 8080}])),
    );
    ok(apply_as(&s, "deployer", &one, false));
    let s3 = get(&s, "service/s");
    assert_eq!(s3["spec"]["clusterIP"], ip);
    assert_eq!(
        s3["spec"]["ports"],
        json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}])
    );
    assert!(
        fields_of(&s3, "deployer")["f:spec"]["f:ports"]
            .get(r#"k:{"port":80,"protocol":"TCP"}"#)
            .is_some(),
        "{s3}"
    );
}
