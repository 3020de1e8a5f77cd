//! Protobuf request bodies: kubectl's typed commands send built-in kinds as
//! `application/vnd.kubernetes.protobuf`.

use kaiser_apimachinery::protobuf::write;

use crate::harness::{Server, json, ok};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn get(s: &Server, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    json(&ok(s.kubectl(&all)))
}

#[test]
fn kubectl_typed_commands_send_protobuf() {
    let s = Server::start();
    let out = s.kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=0",
        "--port=80",
        "-v=8",
    ]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out);
    assert!(log.contains(PROTOBUF), "kubectl sent no protobuf:\n{log}");
    let d = get(&s, &["deployment", "web"]);
    // a pointer zero survives; defaults fill the rest
    assert_eq!(d["spec"]["replicas"], 0);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.27");
    assert_eq!(
        c["ports"],
        serde_json::json!([{"containerPort": 80, "protocol": "TCP"}])
    );
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");

    ok(s.kubectl(&["create", "service", "clusterip", "web", "--tcp=80:8080"]));
    let svc = get(&s, &["service", "web"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(svc["spec"]["selector"]["app"], "web");

    ok(s.kubectl(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=s3cr3t",
    ]));
    assert_eq!(
        get(&s, &["secret", "creds"])["data"]["password"],
        "czNjcjN0"
    );

    ok(s.kubectl(&[
        "create",
        "cronjob",
        "hourly",
        "--image=busybox",
        "--schedule=0 * * * *",
        "--",
        "echo",
        "hi",
    ]));
    let cj = get(&s, &["cronjob", "hourly"]);
    assert_eq!(cj["spec"]["schedule"], "0 * * * *");
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["echo", "hi"])
    );

    ok(s.kubectl(&["create", "job", "once", "--from=cronjob/hourly"]));
    ok(s.kubectl(&[
        "create",
        "poddisruptionbudget",
        "pdb",
        "--selector=app=web",
        "--max-unavailable=0",
    ]));
    assert_eq!(get(&s, &["pdb", "pdb"])["spec"]["maxUnavailable"], 0);

    // subresources and reviews take protobuf too
    ok(s.kubectl(&["create", "serviceaccount", "robot"]));
    let token = ok(s.kubectl(&["create", "token", "robot"]));
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
    assert_eq!(
        ok(s.kubectl(&["auth", "can-i", "list", "pods"])).trim(),
        "yes"
    );
}

/// A built-in object in Kubernetes' protobuf envelope, as clients send it
/// and kube-apiserver stores it: `k8s\0`, then runtime.Unknown with the
/// type (apiVersion, kind) and the object's own message.
pub fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    write::string(&mut type_meta, 1, api_version);
    write::string(&mut type_meta, 2, kind);
    let mut body = b"k8s\x00".to_vec();
    write::message(&mut body, 1, &type_meta);
    write::message(&mut body, 2, raw);
    body
}

#[test]
fn hand_made_protobuf_bodies() {
    let s = Server::start();
    let post = |path: &str, body: &[u8]| {
        let file = s.dir.join("body.pb");
        std::fs::write(&file, body).expect("write body");
        s.curl_admin(&[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            "-H",
            &format!("Content-Type: {PROTOBUF}"),
            "--data-binary",
            &format!("@{}", file.display()),
            &s.url(path),
        ])
    };
    let mut meta = Vec::new();
    write::string(&mut meta, 1, "cm-pb");
    let mut cm = Vec::new();
    write::message(&mut cm, 1, &meta);
    let mut entry = Vec::new();
    write::string(&mut entry, 1, "k");
    write::string(&mut entry, 2, "v");
    write::message(&mut cm, 2, &entry);
    // an unknown field is skipped, as upstream's decoder does
    write::int64(&mut cm, 99, 7);
    let (code, _) = post(
        "/api/v1/namespaces/default/configmaps",
        &envelope("v1", "ConfigMap", &cm),
    );
    assert_eq!(code, 201);
    assert_eq!(
        json(&ok(s.kubectl(&["get", "configmap", "cm-pb", "-o", "json"])))["data"],
        serde_json::json!({"k": "v"})
    );
    let (code, _) = post(
        "/api/v1/namespaces/default/configmaps",
        &envelope("v1", "ConfigMap", &[0x0a, 0x05, 0x01]),
    );
    assert_eq!(code, 400);

    // a Scale through the scale subresource, as client-go's UpdateScale sends it
    ok(s.kubectl(&["create", "deployment", "web", "--image=nginx:1.27"]));
    let mut scale = Vec::new();
    let mut meta = Vec::new();
    write::string(&mut meta, 1, "web");
    write::string(&mut meta, 3, "default");
    write::message(&mut scale, 1, &meta);
    let mut spec = Vec::new();
    write::int64(&mut spec, 1, 5);
    write::message(&mut scale, 2, &spec);
    let file = s.dir.join("scale.pb");
    std::fs::write(&file, envelope("autoscaling/v1", "Scale", &scale)).expect("write body");
    let (code, body) = s.curl_admin(&[
        "-s",
        "-w",
        "\n%{http_code}",
        "-X",
        "PUT",
        "-H",
        &format!("Content-Type: {PROTOBUF}"),
        "--data-binary",
        &format!("@{}", file.display()),
        &s.url("/apis/apps/v1/namespaces/default/deployments/web/scale"),
    ]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["spec"]["replicas"], 5);
    assert_eq!(
        json(&ok(s.kubectl(&["get", "deployment", "web", "-o", "json"])))["spec"]["replicas"],
        5
    );
}
