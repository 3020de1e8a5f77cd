//! The crate graph points one way: a crate may depend only on crates listed
//! before it, and the three servers never on each other.

use std::process::Command;

const ORDER: &[&str] = &[
    "apimachinery",
    "storage",
    "registry",
    "auth",
    "admission",
    "server",
    "kubeapiserver",
    "apiextensions",
    "aggregator",
];
const SERVERS: &[&str] = &["kubeapiserver", "apiextensions", "aggregator"];

#[test]
fn dependencies_point_down_the_architecture() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let short = |n: &str| n.strip_prefix("kaiser-").map(str::to_string);
    let mut checked = 0;
    let mut bad = Vec::new();
    for p in meta["packages"].as_array().expect("packages") {
        let Some(from) = p["name"].as_str().and_then(short) else {
            continue;
        };
        let Some(fi) = ORDER.iter().position(|x| *x == from) else {
            continue;
        };
        for d in p["dependencies"].as_array().expect("deps") {
            if !d["kind"].is_null() {
                continue; // dev and build dependencies may reach anywhere
            }
            let Some(to) = d["name"].as_str().and_then(short) else {
                continue;
            };
            let Some(ti) = ORDER.iter().position(|x| *x == to) else {
                continue;
            };
            checked += 1;
            let peers = SERVERS.contains(&from.as_str()) && SERVERS.contains(&to.as_str());
            if ti >= fi || peers {
                bad.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(
        checked >= 10,
        "expected to see the workspace's internal edges, saw {checked}"
    );
    assert!(bad.is_empty(), "edges pointing up or across: {bad:?}");
}
