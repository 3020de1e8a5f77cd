//! The RBAC and Node authorizers over the stores: the roles and bindings
//! (and, for nodes, the pods, claims and volume attachments) come from
//! in-memory mirrors of the stores ([`crate::mirror`]); the indexed
//! [`Policy`] and [`NodeGraph`] are rebuilt lazily, once per change of the
//! mirrored objects, never per request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kaiser_auth::authz::{Attributes, Authorizer, Decision, UserRules};
use kaiser_auth::node::NodeGraph;
use kaiser_auth::rbac::{Policy, PolicyRule};
use kaiser_auth::{UserInfo, node};
use tokio::sync::watch;

use crate::mirror::{self, Snapshot};

/// How long a request waits for the first list of the policy at start.
const SYNC_WAIT: Duration = Duration::from_secs(10);

/// A value derived from a mirror snapshot, rebuilt when the snapshot changes.
struct Derived<T> {
    rx: watch::Receiver<Option<Snapshot>>,
    cached: Mutex<Option<(Snapshot, Arc<T>)>>,
    build: fn(&Snapshot) -> T,
}

impl<T> Derived<T> {
    fn new(rx: watch::Receiver<Option<Snapshot>>, build: fn(&Snapshot) -> T) -> Self {
        Derived {
            rx,
            cached: Mutex::new(None),
            build,
        }
    }

    /// The value for the current snapshot, if there is one yet.
    fn now(&self) -> Option<Arc<T>> {
        let snap = self.rx.borrow().clone()?;
        let mut cached = self.cached.lock().ok()?;
        if let Some((s, v)) = cached.as_ref()
            && Arc::ptr_eq(s, &snap)
        {
            return Some(v.clone());
        }
        let v = Arc::new((self.build)(&snap));
        *cached = Some((snap, v.clone()));
        Some(v)
    }

    /// The value, waiting (bounded) for the first snapshot.
    async fn get(&self) -> Option<Arc<T>> {
        if let Some(v) = self.now() {
            return Some(v);
        }
        mirror::ready(&self.rx, SYNC_WAIT).await?;
        self.now()
    }
}

fn build_policy(s: &Snapshot) -> Policy {
    let v = |i| mirror::values(s, i);
    Policy::new(&v(0), &v(1), &v(2), &v(3))
}

/// RBAC: roles and bindings from the mirrors of the four RBAC stores
/// (clusterroles, roles, clusterrolebindings, rolebindings, in that order).
pub struct RbacAuthorizer {
    policy: Derived<Policy>,
}

impl RbacAuthorizer {
    pub fn new(rx: watch::Receiver<Option<Snapshot>>) -> Self {
        RbacAuthorizer {
            policy: Derived::new(rx, build_policy),
        }
    }

    /// The current policy, waiting for the first list at start.
    pub async fn policy(&self) -> Arc<Policy> {
        self.policy.get().await.unwrap_or_default()
    }

    /// The current policy without waiting (empty before the first list).
    pub fn policy_now(&self) -> Arc<Policy> {
        self.policy.now().unwrap_or_default()
    }
}

#[async_trait]
impl Authorizer for RbacAuthorizer {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        self.policy().await.authorize(a)
    }

    async fn rules_for(&self, user: &UserInfo, namespace: &str) -> UserRules {
        let (rules, errors) = self.policy().await.rules_for(user, namespace);
        let (resource, non_resource): (Vec<PolicyRule>, Vec<PolicyRule>) =
            rules.into_iter().partition(|r| !r.resources.is_empty());
        let non_resource = non_resource
            .into_iter()
            .filter(|r| !r.non_resource_urls.is_empty())
            .collect();
        UserRules {
            resource_rules: resource
                .into_iter()
                .map(|r| PolicyRule {
                    non_resource_urls: Vec::new(),
                    ..r
                })
                .collect(),
            non_resource_rules: non_resource,
            incomplete: false,
            errors,
        }
    }
}

fn build_graph(s: &Snapshot) -> NodeGraph {
    let v = |i| mirror::values(s, i);
    NodeGraph::new(&v(0), &v(1), &v(2))
}

/// The Node authorizer: the graph from mirrors of pods, persistent volume
/// claims and volume attachments (in that order), plus the static node rules.
pub struct NodeAuthorizer {
    graph: Derived<NodeGraph>,
    rules: Vec<PolicyRule>,
}

impl NodeAuthorizer {
    pub fn new(rx: watch::Receiver<Option<Snapshot>>, rules: Vec<PolicyRule>) -> Self {
        NodeAuthorizer {
            graph: Derived::new(rx, build_graph),
            rules,
        }
    }
}

#[async_trait]
impl Authorizer for NodeAuthorizer {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        if node::node_identity(a.user).is_none() {
            return Decision::NoOpinion(String::new());
        }
        let graph = self.graph.get().await.unwrap_or_default();
        node::authorize(&graph, &self.rules, a)
    }

    async fn rules_for(&self, user: &UserInfo, _: &str) -> UserRules {
        match node::node_identity(user) {
            Some(_) => UserRules {
                incomplete: true,
                errors: vec!["node authorizer does not support user rule resolution".into()],
                ..Default::default()
            },
            None => UserRules::default(),
        }
    }
}
