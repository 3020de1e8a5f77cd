//! Discovery documents built from resource tables: the legacy `/api`,
//! `/apis`, `/apis/<group>` and group-version resource lists, and the
//! aggregated `APIGroupDiscoveryList` (v2 and v2beta1).

use std::sync::Arc;

use kaiser_registry::{ResourceInfo, Store};
use serde_json::{Value, json};

/// Verbs a status-like subresource supports.
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

/// A group's versions, each with its resources, in first-seen order.
type GroupVersions = Vec<(String, Vec<Arc<ResourceInfo>>)>;

/// Group versions in first-seen order, each with its resources.
fn group_versions(stores: &[Arc<Store>], core: bool) -> Vec<(String, GroupVersions)> {
    let mut groups: Vec<(String, GroupVersions)> = Vec::new();
    for s in stores {
        let i = &s.info;
        if i.group.is_empty() != core {
            continue;
        }
        let at = match groups.iter().position(|(g, _)| *g == i.group) {
            Some(p) => p,
            None => {
                groups.push((i.group.clone(), Vec::new()));
                groups.len() - 1
            }
        };
        let g = &mut groups[at].1;
        match g.iter().position(|(v, _)| *v == i.version) {
            Some(p) => g[p].1.push(i.clone()),
            None => g.push((i.version.clone(), vec![i.clone()])),
        }
    }
    groups
}

fn gv(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// `/api`.
pub fn api_versions(stores: &[Arc<Store>], server_address: &str) -> Value {
    let versions: Vec<String> = group_versions(stores, true)
        .into_iter()
        .flat_map(|(_, vs)| vs.into_iter().map(|(v, _)| v))
        .collect();
    json!({
        "kind": "APIVersions",
        "versions": versions,
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn api_group_json(group: &str, versions: &[(String, Vec<Arc<ResourceInfo>>)]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|(v, _)| json!({"groupVersion": gv(group, v), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": vs, "preferredVersion": preferred})
}

/// `/apis`.
pub fn api_group_list(stores: &[Arc<Store>]) -> Value {
    let groups: Vec<Value> = group_versions(stores, false)
        .iter()
        .map(|(g, vs)| api_group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`, or `None` when nothing serves it.
pub fn api_group(stores: &[Arc<Store>], group: &str) -> Option<Value> {
    let groups = group_versions(stores, false);
    let (g, vs) = groups.iter().find(|(g, _)| g == group)?;
    let mut v = api_group_json(g, vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// `/api/v1` or `/apis/<group>/<version>`, or `None` when nothing serves it.
pub fn resource_list(stores: &[Arc<Store>], group: &str, version: &str) -> Option<Value> {
    let infos: Vec<&Arc<Store>> = stores
        .iter()
        .filter(|s| s.info.group == group && s.info.version == version)
        .collect();
    if infos.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for s in infos {
        let i = &s.info;
        let mut r = json!({
            "name": i.resource,
            "singularName": i.singular,
            "namespaced": i.namespaced,
            "kind": i.kind,
            "verbs": i.verbs,
        });
        if !i.short_names.is_empty() {
            r["shortNames"] = json!(i.short_names);
        }
        if !i.categories.is_empty() {
            r["categories"] = json!(i.categories);
        }
        resources.push(r);
        for sub in &i.subresources {
            resources.push(json!({
                "name": format!("{}/{sub}", i.resource),
                "singularName": "",
                "namespaced": i.namespaced,
                "kind": i.kind,
                "verbs": SUBRESOURCE_VERBS,
            }));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv(group, version),
        "resources": resources,
    }))
}

/// The aggregated document for `/api` (core) or `/apis` (named groups).
pub fn aggregated(stores: &[Arc<Store>], core: bool, api_version: &str) -> Value {
    let items: Vec<Value> = group_versions(stores, core)
        .into_iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .into_iter()
                .map(|(version, infos)| {
                    let resources: Vec<Value> =
                        infos.iter().map(|i| aggregated_resource(i)).collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": api_version,
        "metadata": {},
        "items": items,
    })
}

fn aggregated_resource(i: &ResourceInfo) -> Value {
    let kind = json!({"group": i.group, "version": i.version, "kind": i.kind});
    let mut r = json!({
        "resource": i.resource,
        "responseKind": kind,
        "scope": if i.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": i.singular,
        "verbs": i.verbs,
    });
    if !i.short_names.is_empty() {
        r["shortNames"] = json!(i.short_names);
    }
    if !i.categories.is_empty() {
        r["categories"] = json!(i.categories);
    }
    if !i.subresources.is_empty() {
        r["subresources"] = Value::Array(
            i.subresources
                .iter()
                .map(
                    |s| json!({"subresource": s, "responseKind": kind, "verbs": SUBRESOURCE_VERBS}),
                )
                .collect(),
        );
    }
    r
}
