//! Type-specific validation of the rest of the catalogue, through kubectl:
//! webhook configurations, IPAddresses, CertificateSigningRequests (and
//! their approval), mandatory FlowSchemas, status subresource writes, and
//! malformed quantities, privileged containers without `--allow-privileged`,
//! each answered as upstream answers; admission plugins turned off.

use crate::harness::{Server, fails, json, ok};

/// Writes `manifest` to a file in the server's directory; returns its path.
fn manifest(s: &Server, name: &str, manifest: &serde_json::Value) -> String {
    let path = s.dir.join(name);
    std::fs::write(&path, manifest.to_string()).expect("write manifest");
    path.display().to_string()
}

#[test]
fn webhook_configuration_errors_are_all_listed() {
    let s = Server::start();
    let bad = serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "two-errors"},
        "webhooks": [{"name": "w.example.com", "sideEffects": "None",
            "admissionReviewVersions": ["v1"], "timeoutSeconds": 31,
            "clientConfig": {"url": "http://hooks.example.com/validate"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["pods"]}]}]});
    let path = manifest(&s, "vwc.json", &bad);
    let err = fails(s.kubectl(&["create", "-f", &path]));
    assert!(
        err.contains("The ValidatingWebhookConfiguration \"two-errors\" is invalid"),
        "{err}"
    );
    for line in [
        "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
        "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
    ] {
        assert!(err.contains(line), "missing {line:?} in {err}");
    }
    // The Status carries both causes, with upstream's reasons.
    let (code, body) = s.post_json(
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        &bad,
    );
    assert_eq!(code, 422, "{body}");
    let status = json(&body);
    assert_eq!(status["reason"], "Invalid");
    let causes = status["details"]["causes"].as_array().expect("causes");
    assert_eq!(causes.len(), 2, "{body}");
    assert_eq!(causes[0]["field"], "webhooks[0].timeoutSeconds");
    assert_eq!(causes[1]["field"], "webhooks[0].clientConfig.url");
    // Fixed, it is accepted (and defaulted).
    let mut good = bad.clone();
    good["webhooks"][0]["timeoutSeconds"] = serde_json::json!(5);
    good["webhooks"][0]["clientConfig"]["url"] =
        serde_json::json!("https://hooks.example.com/validate");
    let path = manifest(&s, "vwc-ok.json", &good);
    ok(s.kubectl(&["create", "-f", &path]));
    let got = json(&ok(s.kubectl(&[
        "get",
        "validatingwebhookconfiguration",
        "two-errors",
        "-o",
        "json",
    ])));
    assert_eq!(got["webhooks"][0]["failurePolicy"], "Fail");
}

#[test]
fn ip_addresses_are_named_canonically() {
    let s = Server::start();
    let ip = |name: &str| {
        serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
            "metadata": {"name": name},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "web"}}})
    };
    let path = manifest(&s, "ip.json", &ip("2001:db8:0::10"));
    let err = fails(s.kubectl(&["create", "-f", &path]));
    assert!(
        err.contains("metadata.name: Invalid value: \"2001:db8:0::10\": must be in canonical form (\"2001:db8::10\")"),
        "{err}"
    );
    let path = manifest(&s, "ip-ok.json", &ip("2001:db8::10"));
    ok(s.kubectl(&["create", "-f", &path]));
    let err = fails(s.kubectl(&[
        "patch",
        "ipaddress",
        "2001:db8::10",
        "--type=merge",
        "-p",
        r#"{"spec":{"parentRef":{"name":"other"}}}"#,
    ]));
    assert!(
        err.contains("spec.parentRef: Invalid value: networking.ParentReference{Group:\"\", Resource:\"services\", Namespace:\"default\", Name:\"other\"}: field is immutable"),
        "{err}"
    );
}

/// A PEM PKCS#10 request for `cn`, base64 as the API carries it.
fn csr_request(cn: &str) -> String {
    use base64::Engine;
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let pem = params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    base64::engine::general_purpose::STANDARD.encode(pem)
}

fn csr(name: &str, request: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": request, "signerName": "example.com/signer",
                 "usages": ["digital signature", "client auth"]}})
}

#[test]
fn certificate_signing_requests_are_checked_and_approved() {
    let s = Server::start();
    // "junk" is no PEM request.
    let path = manifest(&s, "junk.json", &csr("junk", "anVuaw=="));
    let err = fails(s.kubectl(&["create", "-f", &path]));
    assert!(
        err.contains("spec.request: Invalid value: []byte{0x6a, 0x75, 0x6e, 0x6b}: PEM block type must be CERTIFICATE REQUEST"),
        "{err}"
    );
    let path = manifest(&s, "good.json", &csr("good", &csr_request("alice")));
    ok(s.kubectl(&["create", "-f", &path]));
    // Approval goes through the approval subresource.
    ok(s.kubectl(&["certificate", "approve", "good"]));
    let got = json(&ok(s.kubectl(&["get", "csr", "good", "-o", "json"])));
    let conditions = got["status"]["conditions"].as_array().expect("conditions");
    assert_eq!(conditions.len(), 1, "{got}");
    assert_eq!(conditions[0]["type"], "Approved");
    assert!(conditions[0]["lastTransitionTime"].is_string(), "{got}");
    // The status path may not take a decision back.
    let err = fails(s.kubectl(&[
        "patch",
        "csr",
        "good",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[]}}"#,
    ]));
    assert!(
        err.contains("updates may not remove a condition of type \\\"Approved\\\"")
            || err.contains("updates may not remove a condition of type \"Approved\""),
        "{err}"
    );
}

#[test]
fn mandatory_flow_schemas_and_status_writes() {
    let s = Server::start();
    let names = ok(s.kubectl(&["get", "flowschemas", "-o", "name"]));
    for n in ["endpoint-controller", "system-node-high"] {
        assert!(
            names.contains(&format!("flowschema.flowcontrol.apiserver.k8s.io/{n}")),
            "{names}"
        );
    }
    let err = fails(s.kubectl(&[
        "patch",
        "flowschema",
        "exempt",
        "--type=merge",
        "-p",
        r#"{"spec":{"matchingPrecedence":2}}"#,
    ]));
    assert!(
        err.contains("spec of 'exempt' must equal the fixed value"),
        "{err}"
    );
    // Status writes are validated too.
    ok(s.kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=1",
    ]));
    let err = fails(s.kubectl(&[
        "patch",
        "deploy",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":1,"readyReplicas":3}}"#,
    ]));
    assert!(
        err.contains(
            "status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas"
        ),
        "{err}"
    );
}

#[test]
fn malformed_quantities_fail_decoding() {
    let s = Server::start();
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx",
            "resources": {"limits": {"cpu": "abc"}}}]}});
    let path = manifest(&s, "pod.json", &pod);
    let err = fails(s.kubectl(&["create", "-f", &path]));
    let want = "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    assert!(err.contains(want), "{err}");
    let (code, body) = s.post_json("/api/v1/namespaces/default/pods", &pod);
    assert_eq!(code, 400, "{body}");
    assert_eq!(json(&body)["reason"], "BadRequest");
    assert_eq!(json(&body)["message"], want);
}

fn privileged_daemonset() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "node-agent", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "initContainers": [{"name": "setup", "image": "busybox",
                        "securityContext": {"privileged": true}}],
                    "containers": [{"name": "agent", "image": "busybox",
                        "securityContext": {"privileged": true}}]
                }
            }
        }
    })
}

/// Privileged containers are refused, in pods and in templates, unless
/// kaiser runs with `--allow-privileged` (upstream's default is false too;
/// kubeadm sets it).
#[test]
fn privileged_containers_need_allow_privileged() {
    let s = Server::start();
    let err = fails(s.kubectl(&["apply", "-f", &manifest(&s, "ds", &privileged_daemonset())]));
    for line in [
        "spec.template.spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy",
        "spec.template.spec.initContainers[0].securityContext.privileged: Forbidden: disallowed by cluster policy",
    ] {
        assert!(err.contains(line), "{err}");
    }
    let err = fails(s.kubectl(&[
        "run",
        "root",
        "--image=busybox",
        "--privileged",
        "--restart=Never",
    ]));
    assert!(
        err.contains(
            "spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy"
        ),
        "{err}"
    );
    let (code, body) = s.curl_admin(&[&s.url("/apis/apps/v1/namespaces/default/daemonsets")]);
    assert_eq!(code, 200);
    assert_eq!(
        json(&body)["items"],
        serde_json::json!([]),
        "nothing stored"
    );

    let allowed = Server::start_with(&["--allow-privileged=true"]);
    ok(allowed.kubectl(&[
        "apply",
        "-f",
        &manifest(&allowed, "ds", &privileged_daemonset()),
    ]));
    ok(allowed.kubectl(&[
        "run",
        "root",
        "--image=busybox",
        "--privileged",
        "--restart=Never",
    ]));
    let pod = json(&ok(allowed.kubectl(&["get", "pod", "root", "-o", "json"])));
    assert_eq!(
        pod["spec"]["containers"][0]["securityContext"]["privileged"],
        true
    );
}

/// `--disable-admission-plugins=ServiceAccount`, as envtest starts its
/// kube-apiserver: pods get no service account defaulted or token volume
/// mounted, and need no ServiceAccount to exist; the other plugins still
/// run (DefaultTolerationSeconds adds its tolerations).
#[test]
fn a_disabled_admission_plugin_does_not_run() {
    let pod = |s: &Server, ns: &str| {
        ok(s.kubectl(&["run", "p", "-n", ns, "--image=busybox", "--restart=Never"]));
        json(&ok(s.kubectl(&["get", "pod", "p", "-n", ns, "-o", "json"])))
    };
    let s = Server::start_with(&["--disable-admission-plugins=ServiceAccount"]);
    // At once, before any ServiceAccount could exist there.
    ok(s.kubectl(&["create", "namespace", "fresh"]));
    let p = pod(&s, "fresh");
    assert!(p["spec"]["serviceAccountName"].is_null(), "{p}");
    assert_eq!(p["spec"]["volumes"], serde_json::Value::Null, "{p}");
    let tolerations = p["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tolerations.len(), 2, "{p}");

    let on = Server::start();
    let p = pod(&on, "default");
    assert_eq!(p["spec"]["serviceAccountName"], "default", "{p}");
    let volume = p["spec"]["volumes"][0]["name"].as_str().unwrap_or("");
    assert!(volume.starts_with("kube-api-access-"), "{p}");
}
