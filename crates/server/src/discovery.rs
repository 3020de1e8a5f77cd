//! Discovery documents built from resource tables: the legacy `/api`,
//! `/apis`, `/apis/<group>` and group-version resource lists, and the
//! aggregated `APIGroupDiscoveryList` (v2 and v2beta1).

use std::sync::Arc;

use kaiser_registry::{ResourceInfo, Store};
use serde_json::{Value, json};

/// The verbs of a subresource, as upstream lists them.
fn subresource_verbs(sub: &str) -> &'static [&'static str] {
    match sub {
        "binding" | "eviction" | "token" => &["create"],
        "finalize" => &["update"],
        "approval" => &["get", "patch", "update"],
        _ => &["get", "patch", "update"],
    }
}

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
    groups.sort_by_key(|(g, _)| (std::cmp::Reverse(group_priority(g)), g.clone()));
    for (_, versions) in &mut groups {
        versions.sort_by(|(a, _), (b, _)| compare_versions(b, a));
        for (_, resources) in versions.iter_mut() {
            resources.sort_by(|a, b| a.resource.cmp(&b.resource));
        }
    }
    groups
}

/// The `groupPriorityMinimum` upstream's aggregator gives its built-in
/// groups (higher comes first in `/apis`); other groups get 1000.
pub fn group_priority(group: &str) -> u32 {
    match group {
        "" => 18000,
        "apiregistration.k8s.io" | "apps" => 17800,
        "events.k8s.io" => 17750,
        "authentication.k8s.io" => 17700,
        "authorization.k8s.io" => 17600,
        "autoscaling" => 17500,
        "batch" => 17400,
        "certificates.k8s.io" => 17300,
        "networking.k8s.io" => 17200,
        "policy" => 17100,
        "rbac.authorization.k8s.io" => 17000,
        "storage.k8s.io" => 16800,
        "admissionregistration.k8s.io" | "apiextensions.k8s.io" => 16700,
        "scheduling.k8s.io" => 16600,
        "coordination.k8s.io" => 16500,
        "node.k8s.io" => 16300,
        "discovery.k8s.io" => 16200,
        "flowcontrol.apiserver.k8s.io" => 16100,
        "internal.apiserver.k8s.io" => 16000,
        "resource.k8s.io" => 15900,
        "storagemigration.k8s.io" => 15800,
        _ => 1000,
    }
}

/// Kubernetes version order: GA above beta above alpha, then by major and
/// minor number; names that are not Kubernetes versions sort last by name.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn parse(v: &str) -> Option<(u8, u32, u32)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u32 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        let (stage, n) = if let Some(n) = tail.strip_prefix("beta") {
            (2, n)
        } else {
            (1, tail.strip_prefix("alpha")?)
        };
        Some((stage, major, n.parse().ok()?))
    }
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => b.cmp(a),
    }
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

/// Upstream's `storageVersionHash`: the first 8 bytes of the SHA-256 of
/// `group/version/kind` of the version objects are stored in, in base64.
/// It changes exactly when the storage version does (storage migrators
/// watch it); clients must not read more into it.
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine;
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{group}/{version}/{kind}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..8])
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
        if let Some((g, v)) = &i.storage_version {
            r["storageVersionHash"] = json!(storage_version_hash(g, v, &i.kind));
        }
        resources.push(r);
        for sub in &i.subresources {
            let (g, v, kind) = subresource_kind(i, sub);
            let mut r = json!({
                "name": format!("{}/{sub}", i.resource),
                "singularName": "",
                "namespaced": i.namespaced,
                "kind": kind,
                "verbs": subresource_verbs(sub),
            });
            if (g, v) != (i.group.as_str(), i.version.as_str()) {
                r["group"] = json!(g);
                r["version"] = json!(v);
            }
            resources.push(r);
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

/// The group, version and kind a subresource answers with.
fn subresource_kind<'a>(i: &'a ResourceInfo, sub: &str) -> (&'a str, &'a str, &'a str) {
    match sub {
        "scale" => ("autoscaling", "v1", "Scale"),
        "binding" => ("", "v1", "Binding"),
        "eviction" => ("policy", "v1", "Eviction"),
        "token" => ("authentication.k8s.io", "v1", "TokenRequest"),
        _ => (&i.group, &i.version, &i.kind),
    }
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
                .map(|s| {
                    let (g, v, k) = subresource_kind(i, s);
                    json!({"subresource": s,
                           "responseKind": {"group": g, "version": v, "kind": k},
                           "verbs": subresource_verbs(s)})
                })
                .collect(),
        );
    }
    r
}

#[cfg(test)]
mod ordering_tests {
    use super::*;

    #[test]
    fn storage_version_hashes_are_upstreams() {
        assert_eq!(storage_version_hash("", "v1", "ConfigMap"), "qFsyl6wFWjQ=");
        assert_eq!(
            storage_version_hash("apps", "v1", "Deployment"),
            "8aSe+NMegvE="
        );
    }

    #[test]
    fn versions_order_as_upstream() {
        let mut v = vec![
            "v1alpha1", "v1", "v2beta1", "v1beta2", "v2", "v1beta1", "foo",
        ];
        v.sort_by(|a, b| compare_versions(b, a));
        assert_eq!(
            v,
            [
                "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"
            ]
        );
        assert!(group_priority("apps") > group_priority("batch"));
        assert_eq!(group_priority("example.com"), 1000);
    }
}
