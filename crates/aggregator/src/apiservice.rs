//! APIService objects as plain data: what the aggregator reads from an
//! `apiregistration.k8s.io/v1` APIService, upstream's priorities of the
//! built-in group versions, and upstream's discovery order of groups and
//! versions.

use base64::Engine;
use kaiser_server::discovery::compare_versions;
use serde_json::Value;

/// The aggregator's own group (never auto-registered; always listed first).
pub const GROUP: &str = "apiregistration.k8s.io";
/// Marks APIServices auto-registration manages: `onstart` or `true`.
pub const AUTOMANAGED_LABEL: &str = "kube-aggregator.kubernetes.io/automanaged";
/// Priorities of the APIServices registered for CRD group versions.
pub const CRD_GROUP_PRIORITY: i64 = 1000;
pub const CRD_VERSION_PRIORITY: i64 = 100;

/// Where a remote APIService's server is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    pub port: u16,
}

impl ServiceRef {
    /// The name the backend's serving certificate must carry.
    pub fn server_name(&self) -> String {
        format!("{}.{}.svc", self.name, self.namespace)
    }
}

/// One APIService, as the aggregator uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiService {
    pub name: String,
    pub group: String,
    pub version: String,
    /// `None` for a local APIService (served by the chain behind).
    pub service: Option<ServiceRef>,
    /// The decoded `caBundle` (PEM).
    pub ca_bundle: Option<Vec<u8>>,
    pub insecure_skip_tls_verify: bool,
    pub group_priority_minimum: i64,
    pub version_priority: i64,
    /// The `Available` condition is `True`.
    pub available: bool,
}

impl ApiService {
    /// Reads an APIService object; missing fields read as Go's zero values.
    pub fn from_json(obj: &Value) -> ApiService {
        let spec = &obj["spec"];
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let service = spec.get("service").filter(|s| s.is_object()).map(|s| {
            let port = s["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(443);
            ServiceRef {
                namespace: text(&s["namespace"]),
                name: text(&s["name"]),
                port,
            }
        });
        let ca_bundle = spec["caBundle"]
            .as_str()
            .filter(|s| !s.is_empty())
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
        let available = obj["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Available" && c["status"] == "True");
        ApiService {
            name: text(&obj["metadata"]["name"]),
            group: text(&spec["group"]),
            version: text(&spec["version"]),
            service,
            ca_bundle,
            insecure_skip_tls_verify: spec["insecureSkipTLSVerify"].as_bool().unwrap_or(false),
            group_priority_minimum: spec["groupPriorityMinimum"].as_i64().unwrap_or(0),
            version_priority: spec["versionPriority"].as_i64().unwrap_or(0),
            available,
        }
    }
}

/// The `(groupPriorityMinimum, versionPriority)` upstream's kube-apiserver
/// registers for a built-in group version; `None` for versions it does not
/// know (which it does not auto-register).
pub fn builtin_priority(group: &str, version: &str) -> Option<(i64, i64)> {
    let p = match (group, version) {
        ("", "v1") => (18000, 1),
        ("apps", "v1") => (17800, 15),
        ("events.k8s.io", "v1") => (17750, 15),
        ("events.k8s.io", "v1beta1") => (17750, 5),
        ("authentication.k8s.io", "v1") => (17700, 15),
        ("authentication.k8s.io", "v1beta1") => (17700, 9),
        ("authentication.k8s.io", "v1alpha1") => (17700, 1),
        ("authorization.k8s.io", "v1") => (17600, 15),
        ("autoscaling", "v2") => (17500, 30),
        ("autoscaling", "v1") => (17500, 15),
        ("autoscaling", "v2beta1") => (17500, 9),
        ("autoscaling", "v2beta2") => (17500, 1),
        ("batch", "v1") => (17400, 15),
        ("batch", "v1beta1" | "v2alpha1") => (17400, 9),
        ("certificates.k8s.io", "v1") => (17300, 15),
        ("certificates.k8s.io", "v1beta1") => (17300, 9),
        ("certificates.k8s.io", "v1alpha1") => (17300, 1),
        ("networking.k8s.io", "v1") => (17200, 15),
        ("networking.k8s.io", "v1beta1") => (17200, 9),
        ("policy", "v1") => (17100, 15),
        ("policy", "v1beta1") => (17100, 9),
        ("rbac.authorization.k8s.io", "v1") => (17000, 15),
        ("storage.k8s.io", "v1") => (16800, 15),
        ("storage.k8s.io", "v1beta1") => (16800, 9),
        ("storage.k8s.io", "v1alpha1") => (16800, 1),
        ("apiextensions.k8s.io", "v1") => (16700, 15),
        ("admissionregistration.k8s.io", "v1") => (16700, 15),
        ("admissionregistration.k8s.io", "v1beta1") => (16700, 12),
        ("admissionregistration.k8s.io", "v1alpha1") => (16700, 9),
        ("scheduling.k8s.io", "v1") => (16600, 15),
        ("coordination.k8s.io", "v1") => (16500, 15),
        ("coordination.k8s.io", "v1beta1") => (16500, 13),
        ("coordination.k8s.io", "v1alpha2") => (16500, 12),
        ("node.k8s.io", "v1") => (16300, 15),
        ("node.k8s.io", "v1beta1") => (16300, 9),
        ("node.k8s.io", "v1alpha1") => (16300, 1),
        ("discovery.k8s.io", "v1") => (16200, 15),
        ("discovery.k8s.io", "v1beta1") => (16200, 12),
        ("resource.k8s.io", "v1beta2") => (16200, 15),
        ("resource.k8s.io", "v1beta1") => (16200, 9),
        ("resource.k8s.io", "v1alpha3") => (16200, 1),
        ("flowcontrol.apiserver.k8s.io", "v1") => (16100, 21),
        ("flowcontrol.apiserver.k8s.io", "v1beta3") => (16100, 18),
        ("flowcontrol.apiserver.k8s.io", "v1beta2") => (16100, 15),
        ("flowcontrol.apiserver.k8s.io", "v1beta1") => (16100, 12),
        ("flowcontrol.apiserver.k8s.io", "v1alpha1") => (16100, 9),
        ("internal.apiserver.k8s.io", "v1alpha1") => (16000, 9),
        ("storagemigration.k8s.io", "v1alpha1" | "v1beta1") => (15800, 9),
        _ => return None,
    };
    Some(p)
}

/// The priorities a locally served group version sorts with: the built-in
/// table, CRD priorities otherwise, and the aggregator's own group first.
pub fn local_priority(group: &str, version: &str) -> (i64, i64) {
    if group == GROUP {
        return (20001, 15);
    }
    builtin_priority(group, version).unwrap_or((CRD_GROUP_PRIORITY, CRD_VERSION_PRIORITY))
}

/// One group version to place in discovery.
#[derive(Clone, Debug, PartialEq)]
pub struct GvEntry {
    pub group: String,
    pub version: String,
    pub group_priority: i64,
    pub version_priority: i64,
}

impl GvEntry {
    pub fn local(group: &str, version: &str) -> GvEntry {
        let (group_priority, version_priority) = local_priority(group, version);
        GvEntry {
            group: group.to_string(),
            version: version.to_string(),
            group_priority,
            version_priority,
        }
    }

    pub fn remote(s: &ApiService) -> GvEntry {
        GvEntry {
            group: s.group.clone(),
            version: s.version.clone(),
            group_priority: s.group_priority_minimum,
            version_priority: s.version_priority,
        }
    }

    /// The APIService name (`<version>.<group>`).
    fn name(&self) -> String {
        format!("{}.{}", self.version, self.group)
    }
}

/// How groups with equal priority are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tie {
    /// By the name of their first APIService (legacy `/apis`).
    ApiServiceName,
    /// By group name (aggregated discovery).
    GroupName,
}

/// Groups, each with its versions, in upstream's discovery order: groups by
/// their highest `groupPriorityMinimum` (ties as `tie` says), versions by
/// `versionPriority` then Kubernetes version order. Duplicates merge.
pub fn sorted_groups(entries: &[GvEntry], tie: Tie) -> Vec<(String, Vec<String>)> {
    let mut sorted: Vec<&GvEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        b.group_priority
            .cmp(&a.group_priority)
            .then_with(|| match tie {
                Tie::ApiServiceName => a.name().cmp(&b.name()),
                Tie::GroupName => a.group.cmp(&b.group),
            })
    });
    let mut groups: Vec<(String, Vec<&GvEntry>)> = Vec::new();
    for e in sorted {
        match groups.iter_mut().find(|(g, _)| *g == e.group) {
            Some((_, vs)) => {
                if !vs.iter().any(|v| v.version == e.version) {
                    vs.push(e);
                }
            }
            None => groups.push((e.group.clone(), vec![e])),
        }
    }
    groups
        .into_iter()
        .map(|(g, mut vs)| {
            vs.sort_by(|a, b| {
                b.version_priority
                    .cmp(&a.version_priority)
                    .then_with(|| compare_versions(&b.version, &a.version))
            });
            (g, vs.into_iter().map(|e| e.version.clone()).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_remote_and_local_api_services() {
        let remote = ApiService::from_json(&json!({
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                     "service": {"namespace": "kube-system", "name": "metrics-server"},
                     "caBundle": "aGVsbG8=", "groupPriorityMinimum": 100, "versionPriority": 7},
            "status": {"conditions": [{"type": "Available", "status": "True"}]},
        }));
        let svc = remote.service.clone().expect("remote");
        assert_eq!(svc.port, 443);
        assert_eq!(svc.server_name(), "metrics-server.kube-system.svc");
        assert_eq!(remote.ca_bundle.as_deref(), Some(&b"hello"[..]));
        assert!(remote.available);
        assert_eq!(
            (remote.group_priority_minimum, remote.version_priority),
            (100, 7)
        );
        let local = ApiService::from_json(&json!({
            "metadata": {"name": "v1.apps"},
            "spec": {"service": null, "group": "apps", "version": "v1"},
        }));
        assert!(local.service.is_none());
        assert!(!local.available);
    }

    fn e(g: &str, v: &str, gp: i64, vp: i64) -> GvEntry {
        GvEntry {
            group: g.into(),
            version: v.into(),
            group_priority: gp,
            version_priority: vp,
        }
    }

    #[test]
    fn groups_sort_by_priority_then_name() {
        let entries = vec![
            e("z.example.com", "v1", 1000, 100),
            e("metrics.k8s.io", "v1beta1", 1000, 100),
            e("apps", "v1", 17800, 15),
            e("autoscaling", "v1", 17500, 15),
            e("autoscaling", "v2", 17500, 30),
            e("z.example.com", "v1beta1", 1000, 100),
            e("z.example.com", "v2", 1000, 100),
        ];
        // Legacy: ties by APIService name, "v1.z…" before "v1beta1.metrics…".
        let legacy = sorted_groups(&entries, Tie::ApiServiceName);
        let names: Vec<&str> = legacy.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(
            names,
            ["apps", "autoscaling", "z.example.com", "metrics.k8s.io"]
        );
        assert_eq!(legacy[1].1, ["v2", "v1"]);
        assert_eq!(legacy[2].1, ["v2", "v1", "v1beta1"]);
        // Aggregated: ties by group name.
        let agg = sorted_groups(&entries, Tie::GroupName);
        let names: Vec<&str> = agg.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(
            names,
            ["apps", "autoscaling", "metrics.k8s.io", "z.example.com"]
        );
    }

    #[test]
    fn version_priority_beats_version_order() {
        let entries = vec![e("x.io", "v1", 10, 1), e("x.io", "v1alpha1", 10, 50)];
        assert_eq!(
            sorted_groups(&entries, Tie::GroupName)[0].1,
            ["v1alpha1", "v1"]
        );
        assert_eq!(local_priority("apps", "v1"), (17800, 15));
        assert_eq!(local_priority("example.com", "v1"), (1000, 100));
        assert!(local_priority(GROUP, "v1").0 > 20000);
    }
}
