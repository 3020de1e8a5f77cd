//! Impersonation and auditing end to end: kubectl's `--as`/`--as-group`,
//! a client-certificate user without the `impersonate` verb, and the
//! audit log (policy levels, stages, `Audit-Id`, rotation).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{KUBECTL, Server, fails, json, ok};

/// A client certificate for `cn` in groups `orgs`, signed by kaiser's CA,
/// and a kubeconfig that uses it; returns the kubeconfig's path.
fn user_kubeconfig(s: &Server, dir: &Path, cn: &str, orgs: &[&str]) -> PathBuf {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair};
    let ca_pem = std::fs::read_to_string(s.pki("ca.crt")).expect("ca.crt");
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(s.pki("ca.key")).expect("ca.key"))
        .expect("ca key");
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).expect("issuer");
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    for o in orgs {
        p.distinguished_name.push(DnType::OrganizationName, *o);
    }
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&key, &issuer).expect("sign");
    let cert_path = dir.join(format!("{cn}.crt"));
    let key_path = dir.join(format!("{cn}.key"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kaiser\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {cn}\n  user:\n    client-certificate: {}\n    client-key: {}\ncontexts:\n- name: {cn}\n  context:\n    cluster: kaiser\n    user: {cn}\n    namespace: default\ncurrent-context: {cn}\n",
        s.url(""),
        s.pki("ca.crt").display(),
        cert_path.display(),
        key_path.display(),
    );
    let path = dir.join(format!("{cn}.kubeconfig"));
    std::fs::write(&path, kubeconfig).expect("write kubeconfig");
    path
}

fn kubectl_with_config(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("run kubectl")
}

#[test]
fn impersonation_switches_the_user_and_is_itself_authorized() {
    let s = Server::start();
    // The admin (system:masters) may impersonate; alice may not list pods.
    let err = fails(s.kubectl(&["--as=alice", "get", "pods"]));
    assert!(
        err.contains(
            "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        ),
        "{err}"
    );
    let who = json(&ok(s.kubectl(&[
        "auth",
        "whoami",
        "--as=alice",
        "--as-group=devs",
        "-o",
        "json",
    ])));
    assert_eq!(who["status"]["userInfo"]["username"], "alice");
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        serde_json::json!(["devs", "system:authenticated"])
    );
    let sa = json(&ok(s.kubectl(&[
        "auth",
        "whoami",
        "--as=system:serviceaccount:default:robot",
        "-o",
        "json",
    ])));
    assert_eq!(
        sa["status"]["userInfo"]["groups"],
        serde_json::json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    let extra = json(&ok(s.kubectl(&[
        "auth",
        "whoami",
        "--as=alice",
        "--as-uid=42",
        "-o",
        "json",
    ])));
    assert_eq!(extra["status"]["userInfo"]["uid"], "42");

    // A certificate user without the impersonate verb gets upstream's Forbidden.
    let tmp = tempfile::tempdir().expect("tmp");
    let bob = user_kubeconfig(&s, tmp.path(), "bob", &["team"]);
    let who = json(&ok(kubectl_with_config(
        &bob,
        &["auth", "whoami", "-o", "json"],
    )));
    assert_eq!(who["status"]["userInfo"]["username"], "bob");
    let err = fails(kubectl_with_config(&bob, &["--as=alice", "get", "pods"]));
    assert!(
        err.contains(
            "users \"alice\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        ),
        "{err}"
    );
    // RBAC grants impersonating users but not groups.
    ok(s.kubectl(&[
        "create",
        "clusterrole",
        "impersonate-users",
        "--verb=impersonate",
        "--resource=users",
    ]));
    ok(s.kubectl(&[
        "create",
        "clusterrolebinding",
        "bob-impersonates",
        "--clusterrole=impersonate-users",
        "--user=bob",
    ]));
    let deadline = Instant::now() + Duration::from_secs(10);
    let who = loop {
        let out = kubectl_with_config(&bob, &["--as=alice", "auth", "whoami", "-o", "json"]);
        if out.status.success() || Instant::now() > deadline {
            break json(&ok(out));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(who["status"]["userInfo"]["username"], "alice");
    let err = fails(kubectl_with_config(
        &bob,
        &["--as=alice", "--as-group=devs", "get", "pods"],
    ));
    assert!(
        err.contains(
            "groups \"devs\" is forbidden: User \"bob\" cannot impersonate resource \"groups\" in API group \"\" at the cluster scope"
        ),
        "{err}"
    );

    // Groups without a user: upstream's plain-text 500.
    let (code, body) = s.curl_admin(&[
        "-H",
        "Impersonate-Group: devs",
        &s.url("/api/v1/namespaces/default/pods"),
    ]);
    assert_eq!(code, 500);
    assert_eq!(
        body,
        "Internal Server Error: \"/api/v1/namespaces/default/pods\": requested [{Group  devs    }] without impersonating a user\n"
    );
}

const POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: []
rules:
- level: None
  nonResourceURLs: [\"/healthz*\"]
- level: RequestResponse
  resources:
  - group: \"\"
    resources: [\"configmaps\"]
- level: Metadata
";

fn events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(json)
        .collect()
}

fn with_id<'a>(events: &'a [Value], id: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["auditID"] == id).collect()
}

/// The ResponseComplete events of `verb` on ConfigMaps.
fn completed_on_configmaps<'a>(events: &'a [Value], verb: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| {
            e["verb"] == verb
                && e["objectRef"]["resource"] == "configmaps"
                && e["stage"] == "ResponseComplete"
        })
        .collect()
}

/// The `Audit-Id` response header of a curl `-D -` dump.
fn audit_id_header(dump: &str) -> String {
    dump.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("audit-id")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no Audit-Id header in {dump}"))
}

#[test]
fn audit_log_records_what_the_policy_asks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let policy = tmp.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy");
    let log = tmp.path().join("logs/audit.log");
    let s = Server::start_with(&[
        &format!("--audit-policy-file={}", policy.display()),
        &format!("--audit-log-path={}", log.display()),
    ]);

    ok(s.kubectl(&["create", "configmap", "audited", "--from-literal=k=v"]));
    let all = events(&log);
    let created = completed_on_configmaps(&all, "create");
    assert_eq!(created.len(), 1, "{all:#?}");
    let ev = created[0];
    assert_eq!(ev["level"], "RequestResponse");
    assert_eq!(ev["user"]["username"], "kubernetes-admin");
    assert_eq!(ev["objectRef"]["name"], "audited");
    assert_eq!(ev["objectRef"]["namespace"], "default");
    assert_eq!(ev["objectRef"]["apiVersion"], "v1");
    assert_eq!(ev["responseStatus"]["code"], 201);
    assert_eq!(ev["requestObject"]["data"]["k"], "v");
    assert_eq!(ev["responseObject"]["data"]["k"], "v");
    assert!(ev["responseObject"]["metadata"]["uid"].is_string());
    assert_eq!(ev["sourceIPs"][0], "127.0.0.1");
    assert!(
        ev["userAgent"]
            .as_str()
            .is_some_and(|u| u.starts_with("kubectl/"))
    );
    assert_eq!(ev["annotations"]["authorization.k8s.io/decision"], "allow");
    let received = with_id(&all, ev["auditID"].as_str().expect("id"));
    assert_eq!(received[0]["stage"], "RequestReceived");
    assert!(received[0].get("requestObject").is_none());
    for stamp in ["requestReceivedTimestamp", "stageTimestamp"] {
        let t = ev[stamp].as_str().expect("timestamp");
        assert_eq!(t.len(), "2024-01-02T03:04:05.123456Z".len(), "{t}");
    }

    // A LIST too large to be made before its response starts is still
    // recorded whole at RequestResponse level.
    s.create_configmaps(KUBECTL, "default", "many", 200, 1024, "{}");
    let raw = ok(s.kubectl(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]));
    let count = json(&raw)["items"].as_array().map(Vec::len);
    assert!(count.is_some_and(|n| n > 200), "{count:?}");
    let all = events(&log);
    let listed = completed_on_configmaps(&all, "list");
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(
        listed[0]["responseObject"]["items"]
            .as_array()
            .map(Vec::len),
        count
    );

    // The Audit-Id header names the request's events; a client's own ID is kept.
    let (_, dump) = s.curl_admin(&[
        "-D",
        "-",
        &s.url("/api/v1/namespaces/default/configmaps/audited"),
    ]);
    let id = audit_id_header(&dump);
    let (_, dump) = s.curl_admin(&[
        "-D",
        "-",
        "-H",
        "Audit-ID: chosen-by-client",
        &s.url("/api/v1/namespaces"),
    ]);
    assert_eq!(audit_id_header(&dump), "chosen-by-client");
    let all = events(&log);
    let got = with_id(&all, &id);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[1]["stage"], "ResponseComplete");
    assert_eq!(got[1]["verb"], "get");
    assert_eq!(got[1]["responseObject"]["metadata"]["name"], "audited");
    let listed = with_id(&all, "chosen-by-client");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["level"], "Metadata");
    assert!(listed[1].get("responseObject").is_none());

    // /healthz is at level None; the header is still sent.
    let before = events(&log).len();
    let (code, dump) = s.curl_admin(&["-D", "-", &s.url("/healthz")]);
    assert_eq!(code, 200);
    audit_id_header(&dump);
    let after = events(&log);
    assert_eq!(after.len(), before);
    assert!(!after.iter().any(|e| {
        e["requestURI"]
            .as_str()
            .is_some_and(|u| u.starts_with("/healthz"))
    }));

    // Impersonated requests name both users; the denial is recorded.
    fails(s.kubectl(&["--as=alice", "get", "configmaps"]));
    let all = events(&log);
    let denied: Vec<&Value> = all
        .iter()
        .filter(|e| e["verb"] == "list" && e["impersonatedUser"]["username"] == "alice")
        .collect();
    assert_eq!(denied.len(), 1, "{denied:#?}");
    let d = denied[0];
    assert_eq!(d["user"]["username"], "kubernetes-admin");
    assert_eq!(d["stage"], "ResponseComplete");
    assert_eq!(d["responseStatus"]["code"], 403);
    assert_eq!(d["responseStatus"]["reason"], "Forbidden");
    assert_eq!(d["annotations"]["authorization.k8s.io/decision"], "forbid");

    // Secrets at Metadata level: no data anywhere; tokens never appear.
    ok(s.kubectl(&[
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=password=hunter2",
    ]));
    let token = ok(s.kubectl(&["create", "token", "default"]));
    let token = token.trim();
    ok(s.kubectl_as(token, &["auth", "whoami"]));
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.contains("hunter2") && !text.contains("aHVudGVyMg=="));
    assert!(!text.contains(token));
    assert!(text.contains("system:serviceaccount:default:default"));

    // A watch: ResponseStarted, then ResponseComplete when it ends.
    let (code, dump) = s.curl_admin(&[
        "-D",
        "-",
        &s.url("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1"),
    ]);
    assert_eq!(code, 200);
    let id = audit_id_header(&dump);
    let deadline = Instant::now() + Duration::from_secs(10);
    let stages: Vec<String> = loop {
        let all = events(&log);
        let stages: Vec<String> = with_id(&all, &id)
            .iter()
            .map(|e| e["stage"].as_str().unwrap_or("").to_string())
            .collect();
        if stages.len() >= 3 || Instant::now() > deadline {
            break stages;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        stages,
        ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    );
}

#[test]
fn audit_log_rotates_at_its_maximum_size() {
    let tmp = tempfile::tempdir().expect("tmp");
    let policy = tmp.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: RequestResponse\n  verbs: [create]\n  resources: [{group: \"\", resources: [configmaps]}]\n",
    )
    .expect("policy");
    let log = tmp.path().join("audit.log");
    let s = Server::start_with(&[
        &format!("--audit-policy-file={}", policy.display()),
        &format!("--audit-log-path={}", log.display()),
        "--audit-log-maxsize=1",
        "--audit-log-maxbackup=2",
    ]);
    // Each create logs its request and response: about 600 KB a create.
    s.create_configmaps(KUBECTL, "default", "big", 8, 300_000, "{}");
    let mut backups: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("audit-") && n.ends_with(".log"))
        })
        .collect();
    backups.sort();
    assert_eq!(backups.len(), 2, "maxbackup keeps two: {backups:?}");
    let mut names = Vec::new();
    for f in backups.iter().chain([&log]) {
        let len = std::fs::metadata(f).expect("meta").len();
        assert!(len <= 1024 * 1024, "{} is {len} bytes", f.display());
        for e in events(f) {
            assert_eq!(e["stage"], "ResponseComplete");
            names.push(e["objectRef"]["name"].as_str().unwrap_or("").to_string());
        }
    }
    // The newest creates survive rotation, in order.
    assert!(names.len() >= 3, "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("big-07"));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

/// A plain-HTTP audit webhook on loopback: each POSTed body arrives on
/// the channel; every request is answered 200 with `{}`.
fn webhook_sink() -> (u16, std::sync::mpsc::Receiver<Value>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut writer = conn;
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let _ = tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

#[test]
fn audit_webhook_receives_event_lists() {
    let (port, rx) = webhook_sink();
    let tmp = tempfile::tempdir().expect("tmp");
    let policy = tmp.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy");
    let config = tmp.path().join("webhook.kubeconfig");
    std::fs::write(
        &config,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sink\n  cluster:\n    server: http://127.0.0.1:{port}/audit\ncontexts:\n- name: sink\n  context:\n    cluster: sink\ncurrent-context: sink\n"
        ),
    )
    .expect("kubeconfig");
    let s = Server::start_with(&[
        &format!("--audit-policy-file={}", policy.display()),
        &format!("--audit-webhook-config-file={}", config.display()),
        "--audit-webhook-batch-max-wait=200ms",
    ]);
    ok(s.kubectl(&["create", "configmap", "hooked", "--from-literal=k=v"]));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut found = None;
    while found.is_none() && Instant::now() < deadline {
        let Ok(list) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        assert_eq!(list["kind"], "EventList");
        assert_eq!(list["apiVersion"], "audit.k8s.io/v1");
        let items = list["items"].as_array().expect("items");
        assert!(!items.is_empty());
        found = items
            .iter()
            .find(|e| {
                e["verb"] == "create"
                    && e["objectRef"]["name"] == "hooked"
                    && e["stage"] == "ResponseComplete"
            })
            .cloned();
    }
    let ev = found.expect("the create's ResponseComplete event reached the webhook");
    assert_eq!(ev["kind"], "Event");
    assert_eq!(ev["requestObject"]["data"]["k"], "v");
    assert_eq!(ev["responseStatus"]["code"], 201);
}
