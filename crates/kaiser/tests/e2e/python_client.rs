//! The official Python client (PyPI's `kubernetes`, installed by `.ci/run`)
//! against kaiser on both backends: typed CRUD and errors, pagination and
//! selectors, watches and a streaming list, defaults, scale, custom
//! resources, the dynamic client over discovery, and a watch that expires.

use std::path::Path;
use std::process::Command;

use kaiser_storage::testing::EtcdProcess;

use crate::harness::Server;

/// Runs `testdata/python_client.py` against `s`; it asserts each step itself.
fn run(s: &Server, extra: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/testdata/python_client.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(s.kubeconfig())
        .args(extra)
        .output()
        .expect("python3 runs (the tests need Python 3 with the `kubernetes` package)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the Python client failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all passed"), "{stdout}");
    stdout
}

#[test]
fn the_python_client_works_unchanged() {
    let out = run(&Server::start(), &[]);
    for step in [
        "crud",
        "lists",
        "watch",
        "watch-list",
        "deployments",
        "custom resources",
        "dynamic",
        "deletes",
    ] {
        assert!(
            out.contains(&format!("ok {step}\n")),
            "{step} missing:\n{out}"
        );
    }
}

#[test]
fn the_python_client_works_unchanged_on_etcd() {
    let etcd = EtcdProcess::start();
    let s = Server::start_with(&[&format!("--etcd-servers={}", etcd.endpoint)]);
    assert!(run(&s, &[]).contains("ok watch-list"));
}

#[test]
fn the_python_clients_watch_recovers_from_410() {
    let s = Server::start_with(&["--etcd-compaction-interval=1s"]);
    assert!(run(&s, &["expired"]).contains("ok expired"));
}
