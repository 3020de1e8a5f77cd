//! RBAC escalation prevention, as upstream's RBAC registry does it: a user
//! may create or update a Role or ClusterRole only if they already hold
//! every rule it grants (or may `escalate` it), and a RoleBinding or
//! ClusterRoleBinding only if they hold the rules of the role it binds (or
//! may `bind` that role). `system:masters` is never checked.
//!
//! An admission plugin: the `escalate`/`bind` question is asked of the
//! authorizers before the write; the coverage check runs on the object as
//! it will be stored, inside the store's write.

use std::sync::Arc;

use async_trait::async_trait;
use kaiser_admission::{Attributes, Operation, Plugin, WriteCheck};
use kaiser_apimachinery::{GroupResource, StatusError, meta};
use kaiser_auth::UserInfo;
use kaiser_auth::authn::GROUP_MASTERS;
use kaiser_auth::authz::Authorizer;
use kaiser_auth::rbac::{PolicyRule, RoleRef, covers, escalation_message, registry_wording};
use kaiser_registry::Store;
use serde_json::Value;

use crate::rbac::RbacAuthorizer;

const GROUP: &str = "rbac.authorization.k8s.io";

pub struct RbacEscalation {
    /// The user's RBAC rules.
    pub rbac: Arc<RbacAuthorizer>,
    /// Every authorization mode, for the `escalate` and `bind` verbs.
    pub authorizer: Arc<dyn Authorizer>,
    /// The binding stores, for the roleRef of a binding being patched.
    pub role_bindings: Arc<Store>,
    pub cluster_role_bindings: Arc<Store>,
}

/// Whether only the fields the garbage collector writes changed (upstream
/// lets those through unchecked).
fn only_gc_fields(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in [
                "ownerReferences",
                "finalizers",
                "selfLink",
                "managedFields",
                "resourceVersion",
                "generation",
            ] {
                m.remove(f);
            }
        }
        v
    };
    strip(new) == strip(old)
}

fn forbidden(resource: &str, name: &str, why: &str) -> StatusError {
    StatusError::forbidden_object(&GroupResource::new(GROUP, resource), name, why)
}

/// What a role or binding grants: the rules to check, or the 403 for a
/// role reference that cannot be resolved.
fn granted(
    rbac: &RbacAuthorizer,
    resource: &str,
    ns: &str,
    new: &Value,
) -> Result<Vec<PolicyRule>, StatusError> {
    if matches!(resource, "roles" | "clusterroles") {
        return Ok(PolicyRule::list(new));
    }
    rbac.policy_now()
        .role_ref_rules(&RoleRef::from_binding(new), ns)
        .map_err(|e| forbidden(resource, meta::name(new), &e))
}

fn check(
    rbac: &RbacAuthorizer,
    user: &UserInfo,
    resource: &str,
    ns: &str,
    new: &Value,
    old: Option<&Value>,
) -> Result<(), StatusError> {
    if old.is_some_and(|o| only_gc_fields(new, o)) {
        return Ok(());
    }
    let rules = granted(rbac, resource, ns, new)?;
    let (held, errors) = rbac.policy_now().rules_for(user, ns);
    let (ok, missing) = covers(&held, &rules);
    if ok {
        return Ok(());
    }
    let errors: Vec<String> = errors.iter().map(|e| registry_wording(e)).collect();
    Err(forbidden(
        resource,
        meta::name(new),
        &escalation_message(user, &missing, &errors),
    ))
}

impl RbacEscalation {
    /// Whether the user may `verb` the role `(resource, name)`.
    async fn may(&self, user: &UserInfo, verb: &str, resource: &str, ns: &str, name: &str) -> bool {
        let a = kaiser_auth::Attributes {
            user,
            verb,
            resource_request: true,
            path: "",
            namespace: ns,
            api_group: GROUP,
            resource,
            subresource: "",
            name,
        };
        self.authorizer.authorize(&a).await.allowed()
    }

    /// The roleRef a binding write is about: in the body, or (a patch
    /// cannot change it) in the stored binding.
    async fn role_ref(&self, a: &Attributes<'_>) -> Option<RoleRef> {
        if let Some(obj) = a.object {
            return Some(RoleRef::from_binding(obj));
        }
        let store = if a.namespace.is_empty() {
            &self.cluster_role_bindings
        } else {
            &self.role_bindings
        };
        let stored = store.get(a.namespace, a.name).await.ok()?;
        Some(RoleRef::from_binding(&stored))
    }

    /// `bind` on the role a binding refers to.
    async fn may_bind(&self, a: &Attributes<'_>) -> bool {
        match self.role_ref(a).await {
            Some(RoleRef::ClusterRole(n)) => {
                self.may(a.user, "bind", "clusterroles", a.namespace, &n)
                    .await
            }
            Some(RoleRef::Role(n)) => self.may(a.user, "bind", "roles", a.namespace, &n).await,
            _ => false,
        }
    }
}

#[async_trait]
impl Plugin for RbacEscalation {
    fn name(&self) -> &'static str {
        "RBACEscalation"
    }

    async fn write_check(&self, a: &Attributes<'_>) -> Result<Option<WriteCheck>, StatusError> {
        let resource = a.resource.resource.as_str();
        let ours = a.resource.group == GROUP
            && a.subresource.is_empty()
            && matches!(a.operation, Operation::Create | Operation::Update)
            && matches!(
                resource,
                "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings"
            );
        if !ours || a.user.in_group(GROUP_MASTERS) {
            return Ok(None);
        }
        let allowed = if matches!(resource, "roles" | "clusterroles") {
            self.may(a.user, "escalate", resource, a.namespace, a.name)
                .await
        } else {
            self.may_bind(a).await
        };
        if allowed {
            return Ok(None);
        }
        let rbac = self.rbac.clone();
        let user = a.user.clone();
        let resource = resource.to_string();
        let ns = a.namespace.to_string();
        Ok(Some(Box::new(move |new: &Value, old: Option<&Value>| {
            check(&rbac, &user, &resource, &ns, new, old)
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gc_field_changes_pass() {
        let old = json!({"metadata": {"name": "r", "finalizers": ["a"]}, "rules": []});
        let mut new = old.clone();
        new["metadata"]["finalizers"] = json!([]);
        new["metadata"]["ownerReferences"] = json!([{"uid": "x"}]);
        assert!(only_gc_fields(&new, &old));
        new["rules"] = json!([{"verbs": ["*"]}]);
        assert!(!only_gc_fields(&new, &old));
    }
}
