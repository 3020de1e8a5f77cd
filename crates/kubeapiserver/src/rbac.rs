//! The RBAC authorizer over the rbac.authorization.k8s.io stores: roles
//! and bindings are read from their watch caches for each decision.

use std::sync::Arc;

use async_trait::async_trait;
use kaiser_apimachinery::list::ListOptions;
use kaiser_auth::authz::{Attributes, Decision, forbidden_message};
use kaiser_auth::rbac::{Authorizer, Policy, allowed};
use kaiser_registry::Store;
use serde_json::Value;

pub struct RbacAuthorizer {
    pub cluster_roles: Arc<Store>,
    pub roles: Arc<Store>,
    pub cluster_role_bindings: Arc<Store>,
    pub role_bindings: Arc<Store>,
}

/// Every object of a store, from its cache (`resourceVersion=0`).
async fn items(store: &Store, ns: &str) -> Vec<Value> {
    let Ok(opts) = ListOptions::from_query([("resourceVersion", "0")]) else {
        return Vec::new();
    };
    match store.list(ns, &opts).await {
        Ok(mut list) => match list.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        Err(e) => {
            tracing::warn!(error = %e, "RBAC cannot read its policy");
            Vec::new()
        }
    }
}

#[async_trait]
impl Authorizer for RbacAuthorizer {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        let crbs = items(&self.cluster_role_bindings, "").await;
        let crs = items(&self.cluster_roles, "").await;
        // Namespaced policy only matters for requests in a namespace.
        let (rbs, roles) = if a.resource_request && !a.namespace.is_empty() {
            (
                items(&self.role_bindings, a.namespace).await,
                items(&self.roles, a.namespace).await,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let policy = Policy {
            cluster_roles: &crs,
            roles: &roles,
            cluster_role_bindings: &crbs,
            role_bindings: &rbs,
        };
        if allowed(&policy, a) {
            Decision::Allow
        } else {
            Decision::Deny(forbidden_message(a))
        }
    }
}
