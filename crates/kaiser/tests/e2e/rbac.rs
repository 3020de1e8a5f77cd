//! Authorization end to end with kubectl: RBAC for a user with a client
//! certificate signed by kaiser's CA, the bootstrap policy, ClusterRole
//! aggregation, escalation prevention, rules reviews (`auth can-i
//! --list`) and `--authorization-mode`.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair};

use crate::harness::{KAISER, KUBECTL, Server, fails, json, ok};

/// A kubeconfig for `user` (in `groups`) with a client certificate
/// signed by the server's CA.
fn user_kubeconfig(s: &Server, user: &str, groups: &[&str]) -> PathBuf {
    let ca_pem = std::fs::read_to_string(s.pki("ca.crt")).expect("ca cert");
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(s.pki("ca.key")).expect("ca key"))
        .expect("ca key pem");
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).expect("issuer");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, user);
    for g in groups {
        params.distinguished_name.push(DnType::OrganizationName, *g);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("sign");
    let crt = s.dir.join(format!("{user}.crt"));
    let keyf = s.dir.join(format!("{user}.key"));
    std::fs::write(&crt, cert.pem()).expect("write cert");
    std::fs::write(&keyf, key.serialize_pem()).expect("write key");
    let cfg = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kaiser\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate: {crt}\n    client-key: {key}\ncontexts:\n- name: kaiser\n  context:\n    cluster: kaiser\n    user: {user}\n    namespace: default\ncurrent-context: kaiser\n",
        port = s.port,
        ca = s.pki("ca.crt").display(),
        crt = crt.display(),
        key = keyf.display(),
    );
    let path = s.dir.join(format!("{user}.kubeconfig"));
    std::fs::write(&path, cfg).expect("write kubeconfig");
    path
}

fn kubectl_as(kubeconfig: &PathBuf, args: &[&str]) -> Output {
    Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("run kubectl")
}

/// Retries `f` until it returns true (at most 20 s).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within 20 s");
}

#[test]
fn rbac_grants_what_bindings_say() {
    let s = Server::start();
    let alice = user_kubeconfig(&s, "alice", &[]);
    let err = fails(kubectl_as(&alice, &["get", "pods"]));
    assert!(
        err.contains("Error from server (Forbidden): pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{err}"
    );
    ok(s.kubectl(&[
        "create",
        "rolebinding",
        "alice-view",
        "--clusterrole=view",
        "--user=alice",
        "-n",
        "default",
    ]));
    eventually("alice may list pods in default", || {
        kubectl_as(&alice, &["get", "pods"]).status.success()
    });
    let err = fails(kubectl_as(&alice, &["get", "pods", "-n", "kube-system"]));
    assert!(err.contains("in the namespace \"kube-system\""), "{err}");
    let err = fails(kubectl_as(&alice, &["get", "secrets"]));
    assert!(err.contains("cannot list resource \"secrets\""), "{err}");

    // `auth can-i --list` shows the view rules (a rules review).
    let list = ok(kubectl_as(
        &alice,
        &["auth", "can-i", "--list", "-n", "default"],
    ));
    let pods = list
        .lines()
        .find(|l| l.split_whitespace().next() == Some("pods"))
        .unwrap_or_else(|| panic!("no pods row:\n{list}"));
    assert!(pods.contains("[get list watch]"), "{pods}");
    assert!(list.contains("deployments.apps"), "{list}");
    assert!(
        list.contains("selfsubjectrulesreviews.authorization.k8s.io"),
        "{list}"
    );
    assert!(list.contains("[/api/*]"), "{list}");
    assert_eq!(
        ok(kubectl_as(
            &alice,
            &["auth", "can-i", "watch", "configmaps"]
        ))
        .trim(),
        "yes"
    );
    let no = kubectl_as(&alice, &["auth", "can-i", "delete", "pods"]);
    assert_eq!(String::from_utf8_lossy(&no.stdout).trim(), "no");
}

#[test]
fn bootstrap_policy_and_aggregation() {
    let s = Server::start();
    let roles = ok(s.kubectl(&["get", "clusterroles", "-o", "name"]));
    for want in [
        "admin",
        "edit",
        "view",
        "cluster-admin",
        "system:aggregate-to-view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:node",
        "system:kube-scheduler",
        "system:kube-controller-manager",
        "system:controller:namespace-controller",
        "system:controller:clusterrole-aggregation-controller",
    ] {
        assert!(
            roles
                .lines()
                .any(|l| l == format!("clusterrole.rbac.authorization.k8s.io/{want}")),
            "{want} missing:\n{roles}"
        );
    }
    assert_eq!(roles.lines().count(), 66, "{roles}");
    let bindings = ok(s.kubectl(&["get", "clusterrolebindings", "-o", "name"]));
    assert_eq!(bindings.lines().count(), 47, "{bindings}");
    let leader = ok(s.kubectl(&[
        "get",
        "role",
        "-n",
        "kube-system",
        "system::leader-locking-kube-scheduler",
        "-o",
        "json",
    ]));
    assert_eq!(
        json(&leader)["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
        "true"
    );
    let admin = json(&ok(s.kubectl(&[
        "get",
        "clusterrole",
        "cluster-admin",
        "-o",
        "json",
    ])));
    assert_eq!(
        admin["metadata"]["labels"]["kubernetes.io/bootstrapping"],
        "rbac-defaults"
    );

    // view aggregates system:aggregate-to-view; admin aggregates edit and view.
    let has_rule_for = |role: &str, resource: &str| {
        let v = json(&ok(s.kubectl(&["get", "clusterrole", role, "-o", "json"])));
        v["rules"].as_array().into_iter().flatten().any(|r| {
            r["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x == resource)
        })
    };
    eventually("view has the pods rule", || {
        has_rule_for("view", "pods/log")
    });
    eventually("admin has the rolebindings rule", || {
        has_rule_for("admin", "rolebindings")
    });

    let widget = serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}]});
    let file = s.dir.join("widgets.json");
    std::fs::write(&file, widget.to_string()).expect("write");
    ok(s.kubectl(&["create", "-f", file.to_str().expect("path")]));
    eventually("view aggregates widgets", || {
        has_rule_for("view", "widgets")
    });
    eventually("edit aggregates view's widgets", || {
        has_rule_for("edit", "widgets")
    });
    ok(s.kubectl(&["delete", "clusterrole", "widgets-view"]));
    eventually("view drops widgets", || !has_rule_for("view", "widgets"));
}

#[test]
fn no_one_grants_what_they_do_not_hold() {
    let s = Server::start();
    ok(s.kubectl(&[
        "create",
        "rolebinding",
        "bob-edit",
        "--clusterrole=edit",
        "--user=bob",
        "-n",
        "default",
    ]));
    ok(s.kubectl(&[
        "create",
        "rolebinding",
        "carol-admin",
        "--clusterrole=admin",
        "--user=carol",
        "-n",
        "default",
    ]));
    let bob = user_kubeconfig(&s, "bob", &[]);
    let carol = user_kubeconfig(&s, "carol", &["team"]);
    eventually("carol is admin in default", || {
        kubectl_as(&carol, &["get", "rolebindings"])
            .status
            .success()
    });
    // edit may not write bindings at all.
    let err = fails(kubectl_as(
        &bob,
        &[
            "create",
            "rolebinding",
            "x",
            "--clusterrole=cluster-admin",
            "--user=bob",
        ],
    ));
    assert!(err.contains("User \"bob\" cannot create resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\" in the namespace \"default\""), "{err}");
    // admin may write bindings, but not to more than it holds.
    let err = fails(kubectl_as(
        &carol,
        &[
            "create",
            "rolebinding",
            "root",
            "--clusterrole=cluster-admin",
            "--user=carol",
        ],
    ));
    assert!(
        err.contains("rolebindings.rbac.authorization.k8s.io \"root\" is forbidden: user \"carol\" (groups=[\"team\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}\n{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}"),
        "{err}"
    );
    // A server-side apply of the same binding is checked the same way.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("root.yaml");
    std::fs::write(
        &file,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: root\n  namespace: default\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: User\n  name: carol\n",
    )
    .expect("write");
    let path = file.to_string_lossy().into_owned();
    let err = fails(kubectl_as(&carol, &["apply", "--server-side", "-f", &path]));
    assert!(
        err.contains("is attempting to grant RBAC permissions not currently held"),
        "{err}"
    );
    ok(kubectl_as(
        &carol,
        &[
            "create",
            "rolebinding",
            "dave-view",
            "--clusterrole=view",
            "--user=dave",
        ],
    ));
    // Roles: only rules carol holds.
    ok(kubectl_as(
        &carol,
        &[
            "create",
            "role",
            "pod-reader",
            "--verb=get,list",
            "--resource=pods",
        ],
    ));
    let err = fails(kubectl_as(
        &carol,
        &[
            "create",
            "role",
            "node-admin",
            "--verb=*",
            "--resource=nodes",
        ],
    ));
    assert!(
        err.contains("roles.rbac.authorization.k8s.io \"node-admin\" is forbidden: user \"carol\"")
            && err.contains("{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"*\"]}"),
        "{err}"
    );
    // A patch that widens a role is checked on the patched object.
    let err = fails(kubectl_as(
        &carol,
        &[
            "patch",
            "role",
            "pod-reader",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]}}]"#,
        ],
    ));
    assert!(
        err.contains("is attempting to grant RBAC permissions not currently held"),
        "{err}"
    );
    // With `escalate` on roles, the rules check is skipped.
    ok(s.kubectl(&[
        "create",
        "clusterrole",
        "escalator",
        "--verb=escalate",
        "--resource=roles",
    ]));
    ok(s.kubectl(&[
        "create",
        "rolebinding",
        "carol-escalate",
        "--clusterrole=escalator",
        "--user=carol",
    ]));
    eventually("carol may escalate", || {
        kubectl_as(
            &carol,
            &[
                "create",
                "role",
                "node-admin",
                "--verb=*",
                "--resource=nodes",
            ],
        )
        .status
        .success()
    });
}

#[test]
fn authorization_modes() {
    let s = Server::start_with(&["--authorization-mode=AlwaysAllow"]);
    let alice = user_kubeconfig(&s, "alice", &[]);
    ok(kubectl_as(&alice, &["get", "pods"]));
    ok(kubectl_as(&alice, &["get", "nodes"]));
    ok(kubectl_as(
        &alice,
        &[
            "create",
            "clusterrolebinding",
            "mine",
            "--clusterrole=cluster-admin",
            "--user=alice",
        ],
    ));
    drop(s);

    let s = Server::start_with(&["--authorization-mode=AlwaysDeny"]);
    let alice = user_kubeconfig(&s, "alice", &[]);
    let raw = ["get", "--raw", "/api/v1/namespaces/default/pods"];
    let err = fails(kubectl_as(&alice, &raw));
    assert!(
        err.contains("User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\": Everything is forbidden."),
        "{err}"
    );
    // Health checks stay public in every mode.
    let (code, _) = s.curl_anonymous(&[&s.url("/readyz")]);
    assert_eq!(code, 200);
    // system:masters is asked first, whatever the modes.
    ok(s.kubectl(&["get", "pods"]));
    drop(s);

    let out = Command::new(KAISER)
        .args(["--authorization-mode=RBAC,Magic,RBAC", "--secure-port=0"])
        .output()
        .expect("run kaiser");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--authorization-mode: authorization-mode \"Magic\" is not a valid mode"),
        "{err}"
    );
    assert!(err.contains("has mode specified more than once"), "{err}");
}

#[test]
fn nodes_read_what_their_pods_use() {
    let s = Server::start();
    let node = user_kubeconfig(&s, "system:node:n1", &["system:nodes"]);
    ok(s.kubectl(&[
        "create",
        "secret",
        "generic",
        "app-secret",
        "--from-literal=k=v",
    ]));
    ok(s.kubectl(&[
        "create",
        "secret",
        "generic",
        "other-secret",
        "--from-literal=k=v",
    ]));
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx",
            "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "k"}}}]}]}});
    let file = s.dir.join("pod.json");
    std::fs::write(&file, pod.to_string()).expect("write");
    ok(s.kubectl(&["create", "-f", file.to_str().expect("path")]));
    eventually("the node may read its pod's secret", || {
        kubectl_as(&node, &["get", "secret", "app-secret"])
            .status
            .success()
    });
    let err = fails(kubectl_as(&node, &["get", "secret", "other-secret"]));
    assert!(
        err.contains("no relationship found between node 'n1' and this object"),
        "{err}"
    );
    let err = fails(kubectl_as(&node, &["get", "secrets"]));
    assert!(err.contains("No Object name found"), "{err}");
    // The static node rules: nodes may list pods.
    ok(kubectl_as(&node, &["get", "pods", "-A"]));
}

/// The issue's own words: impersonated alice (`--as`, from the admin's
/// system:masters identity) is refused, then allowed where a binding says.
#[test]
fn impersonated_alice_gets_exactly_what_her_binding_grants() {
    let s = Server::start();
    let err = fails(s.kubectl(&["--as=alice", "get", "pods"]));
    assert!(
        err.contains("pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{err}"
    );
    ok(s.kubectl(&[
        "create",
        "rolebinding",
        "alice-view",
        "--clusterrole=view",
        "--user=alice",
        "-n",
        "default",
    ]));
    eventually("alice may list pods in default", || {
        s.kubectl(&["--as=alice", "get", "pods"]).status.success()
    });
    let err = fails(s.kubectl(&["--as=alice", "get", "pods", "-n", "kube-public"]));
    assert!(err.contains("in the namespace \"kube-public\""), "{err}");
    let list = ok(s.kubectl(&["auth", "can-i", "--list", "--as=alice", "-n", "default"]));
    let pods = list
        .lines()
        .find(|l| l.split_whitespace().next() == Some("pods"))
        .unwrap_or_else(|| panic!("no pods row:\n{list}"));
    assert!(pods.contains("[get list watch]"), "{pods}");
    let elsewhere = ok(s.kubectl(&["auth", "can-i", "--list", "--as=alice", "-n", "kube-public"]));
    assert!(
        !elsewhere
            .lines()
            .any(|l| l.split_whitespace().next() == Some("pods")),
        "{elsewhere}"
    );
}
