//! RBAC evaluation, as upstream's RBAC authorizer decides: a request is
//! allowed when some ClusterRoleBinding (cluster-wide) or RoleBinding (in
//! the request's namespace) names the user, one of its groups or its
//! service account, and the role it refers to has a matching rule. Pure:
//! the caller passes the roles and bindings (from the watch caches).

use async_trait::async_trait;
use serde_json::Value;

use crate::authn::UserInfo;
use crate::authz::{Attributes, Decision};

/// An authorizer consulted after the built-in rules deny.
#[async_trait]
pub trait Authorizer: Send + Sync {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision;
}

/// The RBAC objects a decision is made from.
#[derive(Default)]
pub struct Policy<'a> {
    pub cluster_roles: &'a [Value],
    pub roles: &'a [Value],
    pub cluster_role_bindings: &'a [Value],
    pub role_bindings: &'a [Value],
}

fn strings(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn name(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn namespace(v: &Value) -> &str {
    v.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

/// Whether one PolicyRule covers the request.
pub fn rule_allows(rule: &Value, a: &Attributes<'_>) -> bool {
    if !has(&strings(rule, "verbs"), a.verb) {
        return false;
    }
    if !a.resource_request {
        return strings(rule, "nonResourceURLs").iter().any(|u| {
            u == "*" || u == a.path || u.strip_suffix('*').is_some_and(|p| a.path.starts_with(p))
        });
    }
    if !has(&strings(rule, "apiGroups"), a.api_group) {
        return false;
    }
    let resources = strings(rule, "resources");
    let combined = if a.subresource.is_empty() {
        a.resource.to_string()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let resource_ok = resources.iter().any(|r| {
        r == "*"
            || *r == combined
            || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
    });
    if !resource_ok {
        return false;
    }
    let names = strings(rule, "resourceNames");
    names.is_empty() || names.iter().any(|n| n == a.name)
}

/// Whether a binding's subject is this user.
pub fn subject_matches(subject: &Value, user: &UserInfo, binding_namespace: &str) -> bool {
    let s = |f: &str| subject.get(f).and_then(Value::as_str).unwrap_or("");
    match s("kind") {
        "User" => s("name") == user.name,
        "Group" => user.in_group(s("name")),
        "ServiceAccount" => {
            let ns = if s("namespace").is_empty() {
                binding_namespace
            } else {
                s("namespace")
            };
            user.name == format!("system:serviceaccount:{ns}:{}", s("name"))
        }
        _ => false,
    }
}

fn binds(binding: &Value, user: &UserInfo) -> bool {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| subject_matches(s, user, namespace(binding)))
}

fn role_rules<'a>(policy: &Policy<'a>, binding: &Value) -> Vec<&'a Value> {
    let kind = binding
        .pointer("/roleRef/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let role = binding
        .pointer("/roleRef/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let found = match kind {
        "ClusterRole" => policy.cluster_roles.iter().find(|r| name(r) == role),
        "Role" => policy
            .roles
            .iter()
            .find(|r| name(r) == role && namespace(r) == namespace(binding)),
        _ => None,
    };
    found
        .and_then(|r| r.get("rules"))
        .and_then(Value::as_array)
        .map(|rules| rules.iter().collect())
        .unwrap_or_default()
}

/// The decision RBAC makes for `a`.
pub fn allowed(policy: &Policy<'_>, a: &Attributes<'_>) -> bool {
    let cluster = policy.cluster_role_bindings.iter();
    let local = policy
        .role_bindings
        .iter()
        .filter(|b| a.resource_request && !a.namespace.is_empty() && namespace(b) == a.namespace);
    cluster
        .chain(local)
        .filter(|b| binds(b, a.user))
        .any(|b| role_rules(policy, b).into_iter().any(|r| rule_allows(r, a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs<'a>(
        user: &'a UserInfo,
        verb: &'a str,
        ns: &'a str,
        resource: &'a str,
        sub: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user,
            verb,
            resource_request: true,
            path: "",
            namespace: ns,
            api_group: "",
            resource,
            subresource: sub,
            name: "",
        }
    }

    #[test]
    fn bindings_grant_their_roles_rules() {
        let robot = UserInfo {
            name: "system:serviceaccount:team:robot".into(),
            uid: String::new(),
            groups: vec![
                "system:serviceaccounts".into(),
                "system:authenticated".into(),
            ],
            extra: Default::default(),
        };
        let roles = [json!({"metadata": {"name": "reader", "namespace": "team"},
            "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]})];
        let rbs = [json!({"metadata": {"name": "r", "namespace": "team"},
            "roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot"}]})];
        let crs = [
            json!({"metadata": {"name": "everything"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
        ];
        let crbs = [
            json!({"metadata": {"name": "admins"}, "roleRef": {"kind": "ClusterRole", "name": "everything"},
            "subjects": [{"kind": "Group", "name": "admins"}]}),
        ];
        let p = Policy {
            cluster_roles: &crs,
            roles: &roles,
            cluster_role_bindings: &crbs,
            role_bindings: &rbs,
        };
        assert!(allowed(&p, &attrs(&robot, "list", "team", "pods", "")));
        assert!(allowed(&p, &attrs(&robot, "get", "team", "pods", "log")));
        assert!(!allowed(&p, &attrs(&robot, "delete", "team", "pods", "")));
        assert!(!allowed(&p, &attrs(&robot, "list", "other", "pods", "")));
        assert!(!allowed(&p, &attrs(&robot, "get", "team", "pods", "exec")));
        let admin = UserInfo {
            name: "ann".into(),
            uid: String::new(),
            groups: vec!["admins".into()],
            extra: Default::default(),
        };
        assert!(allowed(&p, &attrs(&admin, "delete", "", "nodes", "")));
        let url = Attributes {
            resource_request: false,
            path: "/healthz/etcd",
            ..attrs(&robot, "get", "", "", "")
        };
        let health = [
            json!({"metadata": {"name": "h"}, "rules": [{"nonResourceURLs": ["/healthz*"], "verbs": ["get"]}]}),
        ];
        let hb = [
            json!({"metadata": {"name": "hb"}, "roleRef": {"kind": "ClusterRole", "name": "h"},
            "subjects": [{"kind": "Group", "name": "system:authenticated"}]}),
        ];
        let p2 = Policy {
            cluster_roles: &health,
            cluster_role_bindings: &hb,
            ..Default::default()
        };
        assert!(allowed(&p2, &url));
    }
}
