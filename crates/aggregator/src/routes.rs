//! The routing map: which group versions a remote APIService serves, with
//! the TLS settings to reach it. Read on every request without locks;
//! replaced whole from the APIService watch.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::apiservice::ApiService;

/// A remote group version and how to reach its server.
pub struct Route {
    pub api_service: ApiService,
    /// The client TLS configuration (trusting `caBundle`, presenting the
    /// proxy client certificate), or why it could not be built.
    pub tls: Result<Arc<rustls::ClientConfig>, String>,
}

#[derive(Default)]
struct Snapshot {
    /// Every APIService, local and remote, in name order.
    all: Vec<ApiService>,
    /// Remote routes by group (looked up by `&str`, no allocation).
    remote: HashMap<String, Vec<Arc<Route>>>,
}

impl Snapshot {
    fn find(&self, group: &str, version: &str) -> Option<&Arc<Route>> {
        self.remote
            .get(group)?
            .iter()
            .find(|r| r.api_service.version == version)
    }
}

/// The APIServices the aggregator knows, swapped whole on change.
#[derive(Default)]
pub struct Routes {
    snapshot: ArcSwap<Snapshot>,
}

/// The PEM client certificate and key the proxy presents.
pub type ClientCert = Option<(Vec<u8>, Vec<u8>)>;

impl Routes {
    /// The remote APIService serving `group`/`version`, if any.
    pub fn lookup(&self, group: &str, version: &str) -> Option<Arc<Route>> {
        let snap = self.snapshot.load();
        if snap.remote.is_empty() {
            return None;
        }
        snap.find(group, version).cloned()
    }

    /// Every remote route.
    pub fn remote(&self) -> Vec<Arc<Route>> {
        let mut r: Vec<Arc<Route>> = self
            .snapshot
            .load()
            .remote
            .values()
            .flatten()
            .cloned()
            .collect();
        r.sort_by(|a, b| a.api_service.name.cmp(&b.api_service.name));
        r
    }

    /// The names of every remote APIService, for the controllers' resyncs.
    pub fn remote_names(&self) -> Vec<String> {
        self.remote()
            .iter()
            .map(|r| r.api_service.name.clone())
            .collect()
    }

    /// Every APIService, local and remote.
    pub fn all(&self) -> Vec<ApiService> {
        self.snapshot.load().all.clone()
    }

    /// The APIService named `name`.
    pub fn get(&self, name: &str) -> Option<ApiService> {
        self.snapshot
            .load()
            .all
            .iter()
            .find(|s| s.name == name)
            .cloned()
    }

    /// Replaces the map with `services`; TLS configurations of routes whose
    /// TLS settings did not change are kept.
    pub fn set(&self, mut services: Vec<ApiService>, client: &ClientCert) {
        services.sort_by(|a, b| a.name.cmp(&b.name));
        let old = self.snapshot.load();
        let mut remote: HashMap<String, Vec<Arc<Route>>> = HashMap::new();
        for s in &services {
            if s.service.is_none() {
                continue;
            }
            let tls = match old.find(&s.group, &s.version) {
                Some(r)
                    if r.api_service.ca_bundle == s.ca_bundle
                        && r.api_service.insecure_skip_tls_verify == s.insecure_skip_tls_verify =>
                {
                    r.tls.clone()
                }
                _ => build_tls(s, client),
            };
            let route = Route {
                api_service: s.clone(),
                tls,
            };
            let routes = remote.entry(s.group.clone()).or_default();
            routes.retain(|r| r.api_service.version != s.version);
            routes.push(Arc::new(route));
        }
        self.snapshot.store(Arc::new(Snapshot {
            all: services,
            remote,
        }));
    }
}

/// The client TLS configuration for one APIService.
pub fn build_tls(s: &ApiService, client: &ClientCert) -> Result<Arc<rustls::ClientConfig>, String> {
    let client = client.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice()));
    let ca = if s.insecure_skip_tls_verify {
        None
    } else {
        s.ca_bundle.as_deref()
    };
    kaiser_admission::webhook::tls_client_config(ca, client, s.insecure_skip_tls_verify)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiservice::ServiceRef;

    fn api_service(name: &str, group: &str, version: &str, remote: bool) -> ApiService {
        ApiService {
            name: name.into(),
            group: group.into(),
            version: version.into(),
            service: remote.then(|| ServiceRef {
                namespace: "kube-system".into(),
                name: "metrics-server".into(),
                port: 443,
            }),
            ca_bundle: None,
            insecure_skip_tls_verify: true,
            group_priority_minimum: 100,
            version_priority: 100,
            available: true,
        }
    }

    #[test]
    fn only_remote_group_versions_are_routed() {
        let routes = Routes::default();
        assert!(routes.lookup("metrics.k8s.io", "v1beta1").is_none());
        routes.set(
            vec![
                api_service("v1beta1.metrics.k8s.io", "metrics.k8s.io", "v1beta1", true),
                api_service("v1.apps", "apps", "v1", false),
            ],
            &None,
        );
        let r = routes.lookup("metrics.k8s.io", "v1beta1").expect("routed");
        assert!(r.tls.is_ok());
        assert!(routes.lookup("apps", "v1").is_none());
        assert!(routes.lookup("metrics.k8s.io", "v1").is_none());
        assert_eq!(routes.all().len(), 2);
        assert_eq!(routes.remote().len(), 1);
        assert!(routes.get("v1.apps").is_some());
    }

    #[test]
    fn tls_is_kept_while_its_settings_are_unchanged() {
        let routes = Routes::default();
        let mut s = api_service("v1.x.io", "x.io", "v1", true);
        routes.set(vec![s.clone()], &None);
        let first = routes.lookup("x.io", "v1").and_then(|r| r.tls.clone().ok());
        s.available = false;
        routes.set(vec![s.clone()], &None);
        let route = routes.lookup("x.io", "v1").expect("routed");
        assert!(!route.api_service.available);
        let second = route.tls.clone().ok();
        assert!(matches!((first, second), (Some(a), Some(b)) if Arc::ptr_eq(&a, &b)));
        s.insecure_skip_tls_verify = false;
        s.ca_bundle = Some(b"not a certificate".to_vec());
        routes.set(vec![s], &None);
        let route = routes.lookup("x.io", "v1").expect("routed");
        assert!(route.tls.is_err());
        routes.set(Vec::new(), &None);
        assert!(routes.lookup("x.io", "v1").is_none());
    }
}
