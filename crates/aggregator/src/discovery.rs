//! Discovery for the whole chain: the local tables' documents merged with
//! the remote APIServices'. Remote group versions are fetched from their
//! servers as upstream's discovery manager fetches them (`/apis` asking for
//! the aggregated document, falling back to the legacy
//! `/apis/<group>/<version>` resource list), kept by the ETag of each
//! server's answer, refreshed every minute and whenever an APIService
//! changes, and marked `Stale` (keeping the last resources) when a server
//! stops answering.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{HeaderValue, StatusCode, header};
use kaiser_admission::webhook::ServiceResolver;
use kaiser_registry::Store;
use kaiser_server::discovery as local;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::apiservice::{ApiService, GvEntry, ServiceRef, Tie, sorted_groups};
use crate::client::Connector;
use crate::headers::{self, Identity};
use crate::informer::Queue;
use crate::proxy::backend_of;
use crate::routes::Routes;

/// Remote documents are fetched again this often (upstream: every minute).
pub const REFRESH: Duration = Duration::from_secs(60);
/// A fetch gets this long (upstream's discovery timeout).
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOCUMENT: usize = 16 << 20;
/// What the aggregated fetch asks for.
const AGGREGATED_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// One remote group version's resources, as last fetched.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteVersion {
    pub group: String,
    pub version: String,
    /// Aggregated-discovery resource entries.
    pub resources: Vec<Value>,
    /// `false` when the last fetch failed (`freshness: Stale`).
    pub fresh: bool,
}

impl RemoteVersion {
    fn aggregated(&self) -> Value {
        json!({
            "version": self.version,
            "resources": self.resources,
            "freshness": if self.fresh { "Current" } else { "Stale" },
        })
    }
}

/// A server's aggregated document, by group version, with its ETag.
#[derive(Clone, Default)]
struct ServerDoc {
    etag: Option<String>,
    versions: HashMap<(String, String), Value>,
}

/// The remote part of discovery.
pub struct RemoteDiscovery {
    docs: ArcSwap<BTreeMap<String, RemoteVersion>>,
    servers: Mutex<HashMap<ServiceRef, ServerDoc>>,
    routes: Arc<Routes>,
    resolver: Arc<dyn ServiceResolver>,
    connector: Arc<Connector>,
    pub queue: Arc<Queue>,
}

/// Aggregated resource entries from a legacy `APIResourceList`, as
/// upstream converts them: subresources (`a/b`) join their parent.
pub fn from_resource_list(list: &Value) -> Vec<Value> {
    let items: Vec<&Value> = list["resources"].as_array().into_iter().flatten().collect();
    let kind_of = |r: &Value| {
        json!({"group": r["group"].as_str().unwrap_or(""),
               "version": r["version"].as_str().unwrap_or(""),
               "kind": r["kind"].as_str().unwrap_or("")})
    };
    let mut out: Vec<Value> = Vec::new();
    for r in items
        .iter()
        .filter(|r| !r["name"].as_str().unwrap_or("").contains('/'))
    {
        let mut d = json!({
            "resource": r["name"],
            "responseKind": kind_of(r),
            "scope": if r["namespaced"].as_bool() == Some(true) { "Namespaced" } else { "Cluster" },
            "singularResource": r["singularName"].as_str().unwrap_or(""),
            "verbs": r.get("verbs").cloned().unwrap_or_else(|| json!([])),
        });
        for k in ["shortNames", "categories"] {
            if let Some(v) = r
                .get(k)
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            {
                d[k] = v.clone();
            }
        }
        out.push(d);
    }
    for r in items {
        let Some((parent, sub)) = r["name"].as_str().and_then(|n| n.split_once('/')) else {
            continue;
        };
        let Some(p) = out.iter_mut().find(|d| d["resource"] == parent) else {
            continue;
        };
        let entry = json!({
            "subresource": sub,
            "responseKind": kind_of(r),
            "verbs": r.get("verbs").cloned().unwrap_or_else(|| json!([])),
        });
        match p["subresources"].as_array_mut() {
            Some(a) => a.push(entry),
            None => p["subresources"] = json!([entry]),
        }
    }
    out
}

fn aggregator_identity(h: &mut http::HeaderMap) {
    let groups = ["system:masters".to_string()];
    headers::set_identity(
        h,
        &Identity {
            name: "system:kube-aggregator",
            groups: &groups,
            extra: &[],
        },
    );
}

impl RemoteDiscovery {
    pub fn new(
        routes: Arc<Routes>,
        resolver: Arc<dyn ServiceResolver>,
        connector: Arc<Connector>,
    ) -> RemoteDiscovery {
        RemoteDiscovery {
            docs: ArcSwap::default(),
            servers: Mutex::default(),
            routes,
            resolver,
            connector,
            queue: Arc::default(),
        }
    }

    /// Every remote group version with its resources.
    pub fn versions(&self) -> Arc<BTreeMap<String, RemoteVersion>> {
        self.docs.load_full()
    }

    fn store(&self, name: &str, v: Option<RemoteVersion>) {
        self.docs.rcu(|cur| {
            let mut next = (**cur).clone();
            match &v {
                Some(v) => next.insert(name.to_string(), v.clone()),
                None => next.remove(name),
            };
            next
        });
    }

    /// Fetches the discovery of one APIService and records it.
    pub async fn sync(&self, name: &str) -> Result<(), String> {
        let route = self
            .routes
            .get(name)
            .filter(|s| s.service.is_some())
            .and_then(|s| self.routes.lookup(&s.group, &s.version));
        let Some(route) = route else {
            self.store(name, None);
            return Ok(());
        };
        let s = &route.api_service;
        let fetched = match backend_of(&route, self.resolver.as_ref()).await {
            Ok(b) => self.fetch(s, &b).await,
            Err((_, msg)) => Err(msg),
        };
        let previous = self.docs.load().get(name).cloned();
        let (v, result) = match fetched {
            Ok(resources) => (
                RemoteVersion {
                    group: s.group.clone(),
                    version: s.version.clone(),
                    resources,
                    fresh: true,
                },
                Ok(()),
            ),
            Err(e) => (
                RemoteVersion {
                    group: s.group.clone(),
                    version: s.version.clone(),
                    resources: previous.map(|p| p.resources).unwrap_or_default(),
                    fresh: false,
                },
                Err(e),
            ),
        };
        self.store(name, Some(v));
        result
    }

    /// The resources of `s` from its server: the aggregated document, or
    /// the legacy resource list.
    async fn fetch(
        &self,
        s: &ApiService,
        b: &crate::client::Backend,
    ) -> Result<Vec<Value>, String> {
        let Some(svc) = s.service.clone() else {
            return Err("not a remote APIService".into());
        };
        let cached = self.servers.lock().ok().and_then(|m| m.get(&svc).cloned());
        let mut h = http::HeaderMap::new();
        aggregator_identity(&mut h);
        h.insert(header::ACCEPT, HeaderValue::from_static(AGGREGATED_ACCEPT));
        if let Some(tag) = cached.as_ref().and_then(|c| c.etag.as_deref())
            && let Ok(v) = HeaderValue::from_str(tag)
        {
            h.insert(header::IF_NONE_MATCH, v);
        }
        let answer = tokio::time::timeout(
            FETCH_TIMEOUT,
            self.connector.get(b, "/apis", h, MAX_DOCUMENT),
        )
        .await
        .map_err(|_| "request timed out".to_string())??;
        let (code, headers, body) = answer;
        let aggregated = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("as=APIGroupDiscoveryList"));
        let doc = match code {
            StatusCode::NOT_MODIFIED => cached,
            StatusCode::OK if aggregated => {
                let list: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                let mut versions = HashMap::new();
                for g in list["items"].as_array().into_iter().flatten() {
                    let group = g["metadata"]["name"].as_str().unwrap_or("").to_string();
                    for v in g["versions"].as_array().into_iter().flatten() {
                        let version = v["version"].as_str().unwrap_or("").to_string();
                        versions.insert((group.clone(), version), v.clone());
                    }
                }
                let doc = ServerDoc {
                    etag: headers
                        .get(header::ETAG)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                    versions,
                };
                if let Ok(mut m) = self.servers.lock() {
                    m.insert(svc.clone(), doc.clone());
                }
                Some(doc)
            }
            _ => None,
        };
        match doc {
            Some(d) => Ok(d
                .versions
                .get(&(s.group.clone(), s.version.clone()))
                .and_then(|v| v["resources"].as_array().cloned())
                .unwrap_or_default()),
            None => self.fetch_legacy(s, b).await,
        }
    }

    async fn fetch_legacy(
        &self,
        s: &ApiService,
        b: &crate::client::Backend,
    ) -> Result<Vec<Value>, String> {
        let path = format!("/apis/{}/{}", s.group, s.version);
        let mut h = http::HeaderMap::new();
        aggregator_identity(&mut h);
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let (code, _, body) =
            tokio::time::timeout(FETCH_TIMEOUT, self.connector.get(b, &path, h, MAX_DOCUMENT))
                .await
                .map_err(|_| "request timed out".to_string())??;
        if code != StatusCode::OK {
            return Err(format!(
                "failed to download legacy discovery for {path}: {}",
                String::from_utf8_lossy(&body).trim()
            ));
        }
        let list: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(from_resource_list(&list))
    }

    /// Runs until `shutdown`: refreshes every remote APIService each
    /// minute and each queued one at once.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let me = &self;
        let sync = move |name: String| async move { me.sync(&name).await };
        let routes = self.routes.clone();
        (self.queue)
            .work_remote(routes, REFRESH, shutdown, sync, "discovery")
            .await;
    }
}

/// The group versions of the local stores.
fn local_entries(stores: &[Arc<Store>]) -> Vec<GvEntry> {
    let mut out: Vec<GvEntry> = Vec::new();
    for s in stores {
        let i = &s.info;
        if i.group.is_empty()
            || out
                .iter()
                .any(|e| e.group == i.group && e.version == i.version)
        {
            continue;
        }
        out.push(GvEntry::local(&i.group, &i.version));
    }
    out
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": vs, "preferredVersion": preferred})
}

/// The legacy `/apis` document over local stores and remote APIServices.
pub fn api_group_list(stores: &[Arc<Store>], remote: &[ApiService]) -> Value {
    let mut entries = local_entries(stores);
    entries.extend(remote.iter().map(GvEntry::remote));
    let groups: Vec<Value> = sorted_groups(&entries, Tie::ApiServiceName)
        .iter()
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>` when remote APIServices serve part of the group.
pub fn api_group(stores: &[Arc<Store>], remote: &[ApiService], group: &str) -> Option<Value> {
    if !remote.iter().any(|s| s.group == group) {
        return None;
    }
    let mut entries: Vec<GvEntry> = local_entries(stores)
        .into_iter()
        .filter(|e| e.group == group)
        .collect();
    entries.extend(
        remote
            .iter()
            .filter(|s| s.group == group)
            .map(GvEntry::remote),
    );
    let (g, vs) = sorted_groups(&entries, Tie::ApiServiceName)
        .into_iter()
        .next()?;
    let mut v = group_json(&g, &vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// The aggregated `/apis` document: the local one with the remote group
/// versions added, every group and version in upstream's order.
pub fn aggregated(
    stores: &[Arc<Store>],
    remote: &[ApiService],
    fetched: &BTreeMap<String, RemoteVersion>,
    api_version: &str,
) -> Value {
    let mut doc = local::aggregated(stores, false, api_version);
    let mut by_group: HashMap<String, (Value, HashMap<String, Value>)> = HashMap::new();
    for item in doc["items"].as_array().into_iter().flatten() {
        let g = item["metadata"]["name"].as_str().unwrap_or("").to_string();
        let versions = item["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| (v["version"].as_str().unwrap_or("").to_string(), v.clone()))
            .collect();
        by_group.insert(g, (item.clone(), versions));
    }
    let mut entries = local_entries(stores);
    for s in remote {
        entries.push(GvEntry::remote(s));
        let v = fetched
            .get(&s.name)
            .map(RemoteVersion::aggregated)
            .unwrap_or_else(
                || json!({"version": s.version, "resources": [], "freshness": "Stale"}),
            );
        let entry = by_group.entry(s.group.clone()).or_insert_with(|| {
            (
                json!({"metadata": {"name": s.group, "creationTimestamp": null}, "versions": []}),
                HashMap::new(),
            )
        });
        entry.1.insert(s.version.clone(), v);
    }
    let items: Vec<Value> = sorted_groups(&entries, Tie::GroupName)
        .into_iter()
        .filter_map(|(g, vs)| {
            let (mut item, versions) = by_group.remove(&g)?;
            item["versions"] =
                Value::Array(vs.iter().filter_map(|v| versions.get(v).cloned()).collect());
            Some(item)
        })
        .collect();
    doc["items"] = Value::Array(items);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(group: &str, version: &str, gp: i64) -> ApiService {
        ApiService {
            name: format!("{version}.{group}"),
            group: group.into(),
            version: version.into(),
            service: Some(ServiceRef {
                namespace: "kube-system".into(),
                name: "metrics-server".into(),
                port: 443,
            }),
            ca_bundle: None,
            insecure_skip_tls_verify: false,
            group_priority_minimum: gp,
            version_priority: 100,
            available: true,
        }
    }

    #[test]
    fn legacy_lists_become_aggregated_resources() {
        let list = json!({"kind": "APIResourceList", "groupVersion": "metrics.k8s.io/v1beta1",
        "resources": [
            {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
            {"name": "pods/status", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get"]},
            {"name": "nodes", "singularName": "node", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"], "shortNames": ["nm"]},
        ]});
        let r = from_resource_list(&list);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0]["resource"], "pods");
        assert_eq!(r[0]["scope"], "Namespaced");
        assert_eq!(r[0]["responseKind"]["kind"], "PodMetrics");
        assert_eq!(r[0]["subresources"][0]["subresource"], "status");
        assert_eq!(r[1]["scope"], "Cluster");
        assert_eq!(r[1]["shortNames"], json!(["nm"]));
        assert_eq!(r[1]["singularResource"], "node");
    }

    #[test]
    fn remote_groups_join_legacy_and_aggregated_discovery() {
        let remote = vec![
            remote("metrics.k8s.io", "v1beta1", 100),
            remote("zz.io", "v1", 19000),
        ];
        let legacy = api_group_list(&[], &remote);
        let names: Vec<&str> = legacy["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert_eq!(names, ["zz.io", "metrics.k8s.io"]);
        assert_eq!(
            legacy["groups"][1]["preferredVersion"]["groupVersion"],
            "metrics.k8s.io/v1beta1"
        );
        let group = api_group(&[], &remote, "metrics.k8s.io").expect("remote group");
        assert_eq!(group["kind"], "APIGroup");
        assert!(api_group(&[], &remote, "apps").is_none());

        let mut fetched = BTreeMap::new();
        fetched.insert(
            "v1beta1.metrics.k8s.io".to_string(),
            RemoteVersion {
                group: "metrics.k8s.io".into(),
                version: "v1beta1".into(),
                resources: vec![json!({"resource": "nodes"})],
                fresh: false,
            },
        );
        let agg = aggregated(&[], &remote, &fetched, "apidiscovery.k8s.io/v2");
        assert_eq!(agg["kind"], "APIGroupDiscoveryList");
        let items = agg["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["metadata"]["name"], "zz.io");
        assert_eq!(items[0]["versions"][0]["freshness"], "Stale");
        let metrics = &items[1]["versions"][0];
        assert_eq!(metrics["version"], "v1beta1");
        assert_eq!(metrics["freshness"], "Stale");
        assert_eq!(metrics["resources"][0]["resource"], "nodes");
    }
}
