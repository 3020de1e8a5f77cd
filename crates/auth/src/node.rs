//! The Node authorizer's decision, as upstream's: a kubelet (user
//! `system:node:<name>` in group `system:nodes`) may read the secrets,
//! configmaps, persistent volume claims and volumes, resource claims and
//! volume attachments of pods bound to its node, create tokens for their
//! service accounts, and manage its own Lease and CSINode; everything else
//! it may do is the static node rules (the rules of the `system:node`
//! role). [`NodeGraph`] is the index of what each node's pods refer to,
//! built from the pods (and claims) whenever they change.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::authn::UserInfo;
use crate::authz::{Attributes, Decision};
use crate::rbac::{PolicyRule, rule_allows};

pub const NODES_GROUP: &str = "system:nodes";
pub const NODE_USER_PREFIX: &str = "system:node:";
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a user speaks for: `Some("")` for a node user without a name.
pub fn node_identity(user: &UserInfo) -> Option<&str> {
    if !user.in_group(NODES_GROUP) {
        return None;
    }
    user.name.strip_prefix(NODE_USER_PREFIX)
}

/// What the pods bound to one node refer to (`namespace/name`, or the name
/// for cluster-scoped objects).
#[derive(Debug, Default)]
struct NodeObjects {
    secrets: HashSet<String>,
    configmaps: HashSet<String>,
    pvcs: HashSet<String>,
    pvs: HashSet<String>,
    service_accounts: HashSet<String>,
    resource_claims: HashSet<String>,
    volume_attachments: HashSet<String>,
}

/// Which objects are reachable from which node.
#[derive(Debug, Default)]
pub struct NodeGraph {
    nodes: HashMap<String, NodeObjects>,
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn items<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Secret and configmap names a container's env refers to.
fn container_refs(c: &Value, secrets: &mut Vec<String>, configmaps: &mut Vec<String>) {
    for e in items(c, "/env") {
        push(secrets, s(e, "/valueFrom/secretKeyRef/name"));
        push(configmaps, s(e, "/valueFrom/configMapKeyRef/name"));
    }
    for e in items(c, "/envFrom") {
        push(secrets, s(e, "/secretRef/name"));
        push(configmaps, s(e, "/configMapRef/name"));
    }
}

fn push(list: &mut Vec<String>, name: &str) {
    if !name.is_empty() {
        list.push(name.to_string());
    }
}

/// Names a volume refers to: (secrets, configmaps, claims).
fn volume_refs(pod: &Value, v: &Value, out: &mut (Vec<String>, Vec<String>, Vec<String>)) {
    push(&mut out.0, s(v, "/secret/secretName"));
    push(&mut out.1, s(v, "/configMap/name"));
    push(&mut out.2, s(v, "/persistentVolumeClaim/claimName"));
    if v.get("ephemeral").is_some() {
        out.2
            .push(format!("{}-{}", s(pod, "/metadata/name"), s(v, "/name")));
    }
    for src in items(v, "/projected/sources") {
        push(&mut out.0, s(src, "/secret/name"));
        push(&mut out.1, s(src, "/configMap/name"));
    }
    for p in [
        "/csi/nodePublishSecretRef/name",
        "/azureFile/secretName",
        "/cephfs/secretRef/name",
        "/cinder/secretRef/name",
        "/flexVolume/secretRef/name",
        "/iscsi/secretRef/name",
        "/rbd/secretRef/name",
        "/scaleIO/secretRef/name",
        "/storageos/secretRef/name",
    ] {
        push(&mut out.0, s(v, p));
    }
}

impl NodeGraph {
    /// Builds the graph from pods, persistent volume claims (for the
    /// volumes they are bound to) and volume attachments.
    pub fn new(pods: &[Value], pvcs: &[Value], attachments: &[Value]) -> NodeGraph {
        let volume_of: HashMap<String, &str> = pvcs
            .iter()
            .map(|c| {
                let key = format!("{}/{}", s(c, "/metadata/namespace"), s(c, "/metadata/name"));
                (key, s(c, "/spec/volumeName"))
            })
            .collect();
        let mut g = NodeGraph::default();
        for pod in pods {
            let node = s(pod, "/spec/nodeName");
            if !node.is_empty() {
                g.add_pod(node, pod, &volume_of);
            }
        }
        for va in attachments {
            let node = s(va, "/spec/nodeName");
            if !node.is_empty() {
                let entry = g.nodes.entry(node.to_string()).or_default();
                entry
                    .volume_attachments
                    .insert(s(va, "/metadata/name").to_string());
            }
        }
        g
    }

    fn add_pod(&mut self, node: &str, pod: &Value, volume_of: &HashMap<String, &str>) {
        let ns = s(pod, "/metadata/namespace");
        let mut refs = (Vec::new(), Vec::new(), Vec::new());
        for c in items(pod, "/spec/containers")
            .chain(items(pod, "/spec/initContainers"))
            .chain(items(pod, "/spec/ephemeralContainers"))
        {
            container_refs(c, &mut refs.0, &mut refs.1);
        }
        for v in items(pod, "/spec/volumes") {
            volume_refs(pod, v, &mut refs);
        }
        for p in items(pod, "/spec/imagePullSecrets") {
            push(&mut refs.0, s(p, "/name"));
        }
        let entry = self.nodes.entry(node.to_string()).or_default();
        let key = |n: &String| format!("{ns}/{n}");
        entry.secrets.extend(refs.0.iter().map(key));
        entry.configmaps.extend(refs.1.iter().map(key));
        for claim in &refs.2 {
            let k = key(claim);
            if let Some(pv) = volume_of.get(&k).filter(|pv| !pv.is_empty()) {
                entry.pvs.insert(pv.to_string());
            }
            entry.pvcs.insert(k);
        }
        let sa = match s(pod, "/spec/serviceAccountName") {
            "" => "default",
            sa => sa,
        };
        entry.service_accounts.insert(format!("{ns}/{sa}"));
        for rc in items(pod, "/status/resourceClaimStatuses") {
            let name = s(rc, "/resourceClaimName");
            if !name.is_empty() {
                entry.resource_claims.insert(format!("{ns}/{name}"));
            }
        }
    }

    fn reaches(&self, node: &str, kind: Kind, namespace: &str, name: &str) -> bool {
        let Some(objs) = self.nodes.get(node) else {
            return false;
        };
        let set = match kind {
            Kind::Secret => &objs.secrets,
            Kind::ConfigMap => &objs.configmaps,
            Kind::Pvc => &objs.pvcs,
            Kind::Pv => return objs.pvs.contains(name),
            Kind::VolumeAttachment => return objs.volume_attachments.contains(name),
            Kind::ServiceAccount => &objs.service_accounts,
            Kind::ResourceClaim => &objs.resource_claims,
        };
        set.contains(&format!("{namespace}/{name}"))
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Secret,
    ConfigMap,
    Pvc,
    Pv,
    ServiceAccount,
    ResourceClaim,
    VolumeAttachment,
}

fn no(reason: impl Into<String>) -> Decision {
    Decision::NoOpinion(reason.into())
}

fn related(graph: &NodeGraph, node: &str, kind: Kind, a: &Attributes<'_>) -> Decision {
    if a.name.is_empty() {
        return no("No Object name found");
    }
    if graph.reaches(node, kind, a.namespace, a.name) {
        Decision::Allow
    } else {
        no(format!(
            "no relationship found between node '{node}' and this object"
        ))
    }
}

fn read_namespaced(graph: &NodeGraph, node: &str, kind: Kind, a: &Attributes<'_>) -> Decision {
    if !matches!(a.verb, "get" | "list" | "watch") {
        return no("can only read resources of this type");
    }
    if !a.subresource.is_empty() {
        return no("cannot read subresource");
    }
    if a.namespace.is_empty() {
        return no("can only read namespaced object of this type");
    }
    related(graph, node, kind, a)
}

fn get_only(graph: &NodeGraph, node: &str, kind: Kind, a: &Attributes<'_>) -> Decision {
    if a.verb != "get" {
        return no("can only get individual resources of this type");
    }
    if !a.subresource.is_empty() {
        return no("cannot get subresource");
    }
    related(graph, node, kind, a)
}

fn pvc(graph: &NodeGraph, node: &str, a: &Attributes<'_>) -> Decision {
    if a.subresource != "status" {
        return get_only(graph, node, Kind::Pvc, a);
    }
    if !matches!(a.verb, "update" | "patch") {
        return no("can only get/update/patch this type");
    }
    related(graph, node, Kind::Pvc, a)
}

fn service_account(graph: &NodeGraph, node: &str, a: &Attributes<'_>) -> Decision {
    if a.verb != "create" {
        return no("can only create tokens for individual service accounts");
    }
    if a.subresource != "token" {
        return no("can only create token subresource of serviceaccount");
    }
    related(graph, node, Kind::ServiceAccount, a)
}

/// Leases in `kube-node-lease` and CSINodes named after the node.
fn own_object(node: &str, what: &str, a: &Attributes<'_>, lease: bool) -> Decision {
    if !matches!(a.verb, "get" | "create" | "update" | "patch" | "delete") {
        return no(format!(
            "can only get, create, update, patch, or delete {what}"
        ));
    }
    if lease && a.namespace != NODE_LEASE_NAMESPACE {
        return no(format!(
            "can only access leases in the \"{NODE_LEASE_NAMESPACE}\" system namespace"
        ));
    }
    if a.verb != "create" && a.name != node {
        let what = if lease { "node lease" } else { "CSINode" };
        return no(format!(
            "can only access {what} with the same name as the requesting node"
        ));
    }
    Decision::Allow
}

/// The Node authorizer: NoOpinion for anyone who is not a node.
pub fn authorize(graph: &NodeGraph, node_rules: &[PolicyRule], a: &Attributes<'_>) -> Decision {
    let Some(node) = node_identity(a.user) else {
        return no("");
    };
    if node.is_empty() {
        return no(format!("unknown node for user {:?}", a.user.name));
    }
    if a.resource_request {
        let decided = match (a.api_group, a.resource) {
            ("", "secrets") => Some(read_namespaced(graph, node, Kind::Secret, a)),
            ("", "configmaps") => Some(read_namespaced(graph, node, Kind::ConfigMap, a)),
            ("", "persistentvolumeclaims") => Some(pvc(graph, node, a)),
            ("", "persistentvolumes") => Some(get_only(graph, node, Kind::Pv, a)),
            ("resource.k8s.io", "resourceclaims") => {
                Some(get_only(graph, node, Kind::ResourceClaim, a))
            }
            ("storage.k8s.io", "volumeattachments") => {
                Some(get_only(graph, node, Kind::VolumeAttachment, a))
            }
            ("", "serviceaccounts") => Some(service_account(graph, node, a)),
            ("coordination.k8s.io", "leases") => Some(own_object(node, "a node lease", a, true)),
            ("storage.k8s.io", "csinodes") => Some(own_object(node, "a CSINode", a, false)),
            _ => None,
        };
        if let Some(d) = decided {
            return d;
        }
    }
    if node_rules.iter().any(|r| rule_allows(r, a)) {
        Decision::Allow
    } else {
        no("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node_user(name: &str) -> UserInfo {
        UserInfo {
            name: format!("system:node:{name}"),
            uid: String::new(),
            groups: vec![NODES_GROUP.into(), "system:authenticated".into()],
            extra: Default::default(),
        }
    }

    fn get<'a>(
        user: &'a UserInfo,
        group: &'a str,
        resource: &'a str,
        ns: &'a str,
        name: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user,
            verb: "get",
            resource_request: true,
            path: "",
            namespace: ns,
            api_group: group,
            resource,
            subresource: "",
            name,
        }
    }

    #[test]
    fn nodes_reach_what_their_pods_use() {
        let pods = [json!({"metadata": {"name": "web", "namespace": "app"},
            "spec": {"nodeName": "n1", "serviceAccountName": "runner",
                "containers": [{"name": "c", "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}}]}],
                "volumes": [{"name": "cfg", "configMap": {"name": "settings"}},
                            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}})];
        let pvcs = [
            json!({"metadata": {"name": "data", "namespace": "app"}, "spec": {"volumeName": "pv-1"}}),
        ];
        let g = NodeGraph::new(&pods, &pvcs, &[]);
        let n1 = node_user("n1");
        let n2 = node_user("n2");
        let ok = |a: &Attributes<'_>| authorize(&g, &[], a) == Decision::Allow;
        assert!(ok(&get(&n1, "", "secrets", "app", "env-secret")));
        assert!(ok(&get(&n1, "", "configmaps", "app", "settings")));
        assert!(ok(&get(&n1, "", "persistentvolumeclaims", "app", "data")));
        assert!(ok(&get(&n1, "", "persistentvolumes", "", "pv-1")));
        assert!(!ok(&get(&n1, "", "secrets", "app", "other")));
        assert_eq!(
            authorize(&g, &[], &get(&n2, "", "secrets", "app", "env-secret")),
            Decision::NoOpinion("no relationship found between node 'n2' and this object".into())
        );
        let token = Attributes {
            verb: "create",
            subresource: "token",
            ..get(&n1, "", "serviceaccounts", "app", "runner")
        };
        assert!(ok(&token));
        let lease = get(
            &n1,
            "coordination.k8s.io",
            "leases",
            "kube-node-lease",
            "n1",
        );
        assert!(ok(&lease));
        let other_lease = get(
            &n1,
            "coordination.k8s.io",
            "leases",
            "kube-node-lease",
            "n2",
        );
        assert!(!ok(&other_lease));
        // Not a node: no opinion at all.
        let alice = UserInfo {
            name: "system:node:n1".into(),
            ..Default::default()
        };
        assert_eq!(
            authorize(&g, &[], &get(&alice, "", "secrets", "app", "env-secret")),
            Decision::NoOpinion(String::new())
        );
        // The static node rules for the rest.
        let rules = [PolicyRule {
            verbs: vec!["get".into()],
            api_groups: vec!["".into()],
            resources: vec!["nodes".into()],
            ..Default::default()
        }];
        assert_eq!(
            authorize(&g, &rules, &get(&n1, "", "nodes", "", "n1")),
            Decision::Allow
        );
    }
}
