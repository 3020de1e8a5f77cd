//! RBAC evaluation, as upstream's RBAC authorizer decides: a request is
//! allowed when some ClusterRoleBinding (cluster-wide) or RoleBinding (in
//! the request's namespace) names the user, one of its groups or its
//! service account, and the role it refers to has a matching rule.
//!
//! [`Policy`] is an immutable index of the roles and bindings built once
//! per change of the RBAC objects (never per request): bindings are found
//! by subject (user name, group, service account), roles by name. Also
//! here: the rules a user holds (`rules_for`, for rules reviews and the
//! escalation check) and rule coverage ([`covers`]) with upstream's
//! compact description of missing rules.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::authn::UserInfo;
use crate::authz::{Attributes, Decision};

/// One PolicyRule of a Role or ClusterRole.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn put(out: &mut serde_json::Map<String, Value>, field: &str, list: &[String]) {
    if !list.is_empty() {
        out.insert(field.into(), json!(list));
    }
}

impl PolicyRule {
    pub fn from_json(v: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
            non_resource_urls: strings(v, "nonResourceURLs"),
        }
    }

    /// The rule as the API writes it (empty lists left out).
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        put(&mut out, "verbs", &self.verbs);
        put(&mut out, "apiGroups", &self.api_groups);
        put(&mut out, "resources", &self.resources);
        put(&mut out, "resourceNames", &self.resource_names);
        put(&mut out, "nonResourceURLs", &self.non_resource_urls);
        Value::Object(out)
    }

    /// The `rules` of a role object.
    pub fn list(role: &Value) -> Vec<PolicyRule> {
        role.get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(PolicyRule::from_json)
            .collect()
    }

    /// Upstream's compact description, used in escalation errors:
    /// `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`.
    pub fn compact_string(&self) -> String {
        let quoted = |l: &[String]| {
            let q: Vec<String> = l.iter().map(|s| format!("{s:?}")).collect();
            format!("[{}]", q.join(" "))
        };
        let parts: Vec<String> = [
            ("APIGroups", &self.api_groups),
            ("Resources", &self.resources),
            ("NonResourceURLs", &self.non_resource_urls),
            ("ResourceNames", &self.resource_names),
            ("Verbs", &self.verbs),
        ]
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(k, l)| format!("{k}:{}", quoted(l)))
        .collect();
        format!("{{{}}}", parts.join(", "))
    }
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

fn url_matches(rule: &str, path: &str) -> bool {
    rule == "*"
        || rule == path
        || rule
            .strip_suffix('*')
            .is_some_and(|p| path.starts_with(p.trim_end_matches('*')))
}

/// Whether one rule covers the request.
pub fn rule_allows(rule: &PolicyRule, a: &Attributes<'_>) -> bool {
    if !has(&rule.verbs, a.verb) {
        return false;
    }
    if !a.resource_request {
        return rule
            .non_resource_urls
            .iter()
            .any(|u| url_matches(u, a.path));
    }
    if !has(&rule.api_groups, a.api_group) {
        return false;
    }
    let resource_ok = rule.resources.iter().any(|r| {
        if r == "*" {
            return true;
        }
        match r.split_once('/') {
            None => a.subresource.is_empty() && r == a.resource,
            Some((res, sub)) => {
                sub == a.subresource
                    && !a.subresource.is_empty()
                    && (res == "*" || res == a.resource)
            }
        }
    });
    resource_ok
        && (rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == a.name))
}

/// Which role a binding refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleRef {
    ClusterRole(String),
    /// A Role in the binding's namespace.
    Role(String),
    Unsupported(String),
}

impl RoleRef {
    pub fn from_binding(binding: &Value) -> RoleRef {
        let s = |f: &str| {
            binding
                .pointer(&format!("/roleRef/{f}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        match s("kind").as_str() {
            "ClusterRole" => RoleRef::ClusterRole(s("name")),
            "Role" => RoleRef::Role(s("name")),
            other => RoleRef::Unsupported(other.to_string()),
        }
    }
}

/// A binding as the index keeps it.
#[derive(Debug)]
struct Binding {
    /// Position in the index (list order), to visit bindings as upstream does.
    order: usize,
    namespace: String,
    role: RoleRef,
}

/// Bindings by the subjects they name.
#[derive(Debug, Default)]
struct BySubject {
    users: HashMap<String, Vec<Arc<Binding>>>,
    groups: HashMap<String, Vec<Arc<Binding>>>,
    /// Keyed by `namespace/name` of the service account.
    service_accounts: HashMap<String, Vec<Arc<Binding>>>,
}

impl BySubject {
    fn add(&mut self, b: &Arc<Binding>, subject: &Value) {
        let s = |f: &str| subject.get(f).and_then(Value::as_str).unwrap_or("");
        let slot = match s("kind") {
            "User" => self.users.entry(s("name").to_string()),
            "Group" => self.groups.entry(s("name").to_string()),
            "ServiceAccount" => {
                let ns = if s("namespace").is_empty() {
                    b.namespace.as_str()
                } else {
                    s("namespace")
                };
                if ns.is_empty() {
                    return;
                }
                self.service_accounts.entry(format!("{ns}/{}", s("name")))
            }
            _ => return,
        };
        let list = slot.or_default();
        if !list.iter().any(|x| Arc::ptr_eq(x, b)) {
            list.push(b.clone());
        }
    }

    fn collect(&self, user: &UserInfo, out: &mut Vec<Arc<Binding>>) {
        let mut push = |l: Option<&Vec<Arc<Binding>>>| out.extend(l.into_iter().flatten().cloned());
        push(self.users.get(&user.name));
        for g in &user.groups {
            push(self.groups.get(g));
        }
        if let Some(sa) = user.name.strip_prefix("system:serviceaccount:")
            && let Some((ns, name)) = sa.split_once(':')
        {
            push(self.service_accounts.get(&format!("{ns}/{name}")));
        }
    }
}

/// The RBAC objects a decision is made from, indexed.
#[derive(Debug, Default)]
pub struct Policy {
    cluster_roles: HashMap<String, Arc<[PolicyRule]>>,
    /// Keyed by `namespace/name`.
    roles: HashMap<String, Arc<[PolicyRule]>>,
    cluster_bindings: BySubject,
    /// Role bindings per namespace.
    bindings: HashMap<String, BySubject>,
}

fn meta<'a>(v: &'a Value, f: &str) -> &'a str {
    v.pointer(&format!("/metadata/{f}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl Policy {
    /// Indexes the given objects (any order; visited sorted by namespace
    /// and name, as the listers upstream reads from return them).
    pub fn new(
        cluster_roles: &[Value],
        roles: &[Value],
        cluster_role_bindings: &[Value],
        role_bindings: &[Value],
    ) -> Policy {
        let mut p = Policy::default();
        for r in cluster_roles {
            p.cluster_roles
                .insert(meta(r, "name").to_string(), PolicyRule::list(r).into());
        }
        for r in roles {
            let key = format!("{}/{}", meta(r, "namespace"), meta(r, "name"));
            p.roles.insert(key, PolicyRule::list(r).into());
        }
        let mut sorted: Vec<&Value> = cluster_role_bindings.iter().chain(role_bindings).collect();
        sorted.sort_by_key(|b| (meta(b, "namespace"), meta(b, "name")));
        for (order, b) in sorted.into_iter().enumerate() {
            let ns = meta(b, "namespace").to_string();
            let binding = Arc::new(Binding {
                order,
                namespace: ns.clone(),
                role: RoleRef::from_binding(b),
            });
            let index = if ns.is_empty() {
                &mut p.cluster_bindings
            } else {
                p.bindings.entry(ns).or_default()
            };
            for s in b
                .get("subjects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                index.add(&binding, s);
            }
        }
        p
    }

    /// The bindings that apply to `user`: cluster-wide ones, then those of
    /// `namespace`, each once, in list order.
    fn bindings_for(&self, user: &UserInfo, namespace: &str) -> Vec<Arc<Binding>> {
        let mut cluster = Vec::new();
        self.cluster_bindings.collect(user, &mut cluster);
        let mut local = Vec::new();
        if !namespace.is_empty()
            && let Some(index) = self.bindings.get(namespace)
        {
            index.collect(user, &mut local);
        }
        let tidy = |mut l: Vec<Arc<Binding>>| {
            l.sort_by_key(|b| b.order);
            l.dedup_by_key(|b| b.order);
            l
        };
        let mut out = tidy(cluster);
        out.extend(tidy(local));
        out
    }

    /// The rules of the role a binding refers to, or upstream's error.
    fn role_rules(&self, role: &RoleRef, namespace: &str) -> Result<Arc<[PolicyRule]>, String> {
        match role {
            RoleRef::ClusterRole(name) => self.cluster_roles.get(name).cloned().ok_or_else(|| {
                format!("clusterrole.rbac.authorization.k8s.io \"{name}\" not found")
            }),
            RoleRef::Role(name) => self
                .roles
                .get(&format!("{namespace}/{name}"))
                .cloned()
                .ok_or_else(|| format!("role.rbac.authorization.k8s.io \"{name}\" not found")),
            RoleRef::Unsupported(kind) => Err(format!("unsupported role reference kind: {kind:?}")),
        }
    }

    /// The rules of a binding's role reference (for the escalation check
    /// of a binding): `roles`/`clusterroles` not-found errors as the
    /// registry words them.
    pub fn role_ref_rules(
        &self,
        role: &RoleRef,
        namespace: &str,
    ) -> Result<Vec<PolicyRule>, String> {
        self.role_rules(role, namespace)
            .map(|r| r.to_vec())
            .map_err(|e| registry_wording(&e))
    }

    /// RBAC's decision: Allow, or NoOpinion with upstream's reason (the
    /// roles that could not be found).
    pub fn authorize(&self, a: &Attributes<'_>) -> Decision {
        let mut errors = Vec::new();
        for b in self.bindings_for(a.user, a.namespace) {
            match self.role_rules(&b.role, &b.namespace) {
                Ok(rules) if rules.iter().any(|r| rule_allows(r, a)) => return Decision::Allow,
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Decision::NoOpinion(String::new())
        } else {
            Decision::NoOpinion(format!("RBAC: {}", aggregate(&errors)))
        }
    }

    /// Every rule `user` holds in `namespace` (cluster-wide ones too), and
    /// the errors met resolving them.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for b in self.bindings_for(user, namespace) {
            match self.role_rules(&b.role, &b.namespace) {
                Ok(r) => rules.extend(r.iter().cloned()),
                Err(e) => errors.push(e),
            }
        }
        (rules, errors)
    }
}

/// A role-resolution error as the registry words it (`roles.rbac…`
/// rather than the authorizer's `role.rbac…`).
pub fn registry_wording(e: &str) -> String {
    if let Some(rest) = e.strip_prefix("clusterrole.") {
        format!("clusterroles.{rest}")
    } else if let Some(rest) = e.strip_prefix("role.") {
        format!("roles.{rest}")
    } else {
        e.to_string()
    }
}

/// Upstream's aggregate error text: one error as is, several in brackets.
pub fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen[0].to_string(),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// Splits a rule into rules of one group, resource, verb and name (or one
/// URL and verb), as upstream's coverage check does.
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| vec![s.clone()];
    let mut out = Vec::new();
    for g in &rule.api_groups {
        for r in &rule.resources {
            for v in &rule.verbs {
                let base = PolicyRule {
                    api_groups: one(g),
                    resources: one(r),
                    verbs: one(v),
                    ..Default::default()
                };
                if rule.resource_names.is_empty() {
                    out.push(base);
                } else {
                    out.extend(rule.resource_names.iter().map(|n| PolicyRule {
                        resource_names: one(n),
                        ..base.clone()
                    }));
                }
            }
        }
    }
    for u in &rule.non_resource_urls {
        for v in &rule.verbs {
            out.push(PolicyRule {
                non_resource_urls: one(u),
                verbs: one(v),
                ..Default::default()
            });
        }
    }
    out
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| set.contains(w))
}

fn resources_cover(owner: &[String], wanted: &[String]) -> bool {
    if owner.iter().any(|r| r == "*") || has_all(owner, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        owner.contains(path)
            || path
                .split_once('/')
                .is_some_and(|(_, sub)| owner.contains(&format!("*/{sub}")))
    })
}

fn url_covers(owner: &str, sub: &str) -> bool {
    owner == sub
        || owner
            .strip_suffix('*')
            .is_some_and(|_| sub.starts_with(owner.trim_end_matches('*')))
}

/// Whether `owner` covers `sub` (a rule from [`breakdown`]).
pub fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = owner.verbs.iter().any(|v| v == "*") || has_all(&owner.verbs, &sub.verbs);
    let groups =
        owner.api_groups.iter().any(|g| g == "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover(&owner.resources, &sub.resources);
    let urls = sub
        .non_resource_urls
        .iter()
        .all(|u| owner.non_resource_urls.iter().any(|o| url_covers(o, u)));
    let names = owner.resource_names.is_empty()
        || (!sub.resource_names.is_empty() && has_all(&owner.resource_names, &sub.resource_names));
    verbs && groups && resources && urls && names
}

/// Whether the owner's rules cover every rule of `servant`; the pieces
/// not covered otherwise.
pub fn covers(owner: &[PolicyRule], servant: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let missing: Vec<PolicyRule> = servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect();
    (missing.is_empty(), missing)
}

/// Joins rules of one group, resource and at most one name that differ
/// only by verb (upstream's CompactRules, for the missing-rules message).
pub fn compact_rules(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    let mut simple: Vec<PolicyRule> = Vec::new();
    for r in rules {
        let is_simple = r.resource_names.len() <= 1
            && r.non_resource_urls.is_empty()
            && r.api_groups.len() == 1
            && r.resources.len() == 1;
        if !is_simple {
            out.push(r.clone());
            continue;
        }
        let same = simple.iter_mut().find(|s| {
            s.api_groups == r.api_groups
                && s.resources == r.resources
                && s.resource_names == r.resource_names
        });
        match same {
            Some(s) => {
                for v in &r.verbs {
                    if !s.verbs.contains(v) {
                        s.verbs.push(v.clone());
                    }
                }
            }
            None => simple.push(r.clone()),
        }
    }
    out.extend(simple);
    out
}

/// Upstream's reason for refusing a role or binding that grants more than
/// its author holds.
pub fn escalation_message(user: &UserInfo, missing: &[PolicyRule], errors: &[String]) -> String {
    let mut lines: Vec<String> = compact_rules(missing)
        .iter()
        .map(PolicyRule::compact_string)
        .collect();
    lines.sort();
    lines.dedup();
    let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
    let mut msg = format!(
        "user {:?} (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
        user.name,
        groups.join(" "),
        lines.join("\n")
    );
    if !errors.is_empty() {
        msg.push_str(&format!("; resolution errors: [{}]", aggregate(errors)));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        PolicyRule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(resources),
            ..Default::default()
        }
    }

    fn robot() -> UserInfo {
        UserInfo {
            name: "system:serviceaccount:team:robot".into(),
            uid: String::new(),
            groups: vec![
                "system:serviceaccounts".into(),
                "system:authenticated".into(),
            ],
            extra: Default::default(),
        }
    }

    #[test]
    fn bindings_grant_their_roles_rules() {
        let robot = robot();
        let roles = [json!({"metadata": {"name": "reader", "namespace": "team"},
            "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]})];
        let rbs = [json!({"metadata": {"name": "r", "namespace": "team"},
            "roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot"}]})];
        let crs = [
            json!({"metadata": {"name": "everything"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
            json!({"metadata": {"name": "h"}, "rules": [{"nonResourceURLs": ["/healthz*"], "verbs": ["get"]}]}),
        ];
        let crbs = [
            json!({"metadata": {"name": "admins"}, "roleRef": {"kind": "ClusterRole", "name": "everything"},
            "subjects": [{"kind": "Group", "name": "admins"}]}),
            json!({"metadata": {"name": "hb"}, "roleRef": {"kind": "ClusterRole", "name": "h"},
            "subjects": [{"kind": "Group", "name": "system:authenticated"}]}),
        ];
        let p = Policy::new(&crs, &roles, &crbs, &rbs);
        let ok = |a: &Attributes<'_>| p.authorize(a) == Decision::Allow;
        assert!(ok(&attrs(&robot, "list", "team", "pods", "")));
        assert!(ok(&attrs(&robot, "get", "team", "pods", "log")));
        assert!(!ok(&attrs(&robot, "delete", "team", "pods", "")));
        assert!(!ok(&attrs(&robot, "list", "other", "pods", "")));
        assert!(!ok(&attrs(&robot, "get", "team", "pods", "exec")));
        let admin = UserInfo {
            name: "ann".into(),
            uid: String::new(),
            groups: vec!["admins".into()],
            extra: Default::default(),
        };
        assert!(ok(&attrs(&admin, "delete", "", "nodes", "")));
        let url = Attributes {
            resource_request: false,
            path: "/healthz/etcd",
            ..attrs(&robot, "get", "", "", "")
        };
        assert!(ok(&url));
        let (rules, errs) = p.rules_for(&robot, "team");
        assert_eq!(rules.len(), 2);
        assert!(errs.is_empty());
    }

    #[test]
    fn missing_roles_are_the_reason() {
        let crbs = [
            json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "gone"},
            "subjects": [{"kind": "User", "name": "alice"}]}),
        ];
        let p = Policy::new(&[], &[], &crbs, &[]);
        let alice = UserInfo {
            name: "alice".into(),
            ..Default::default()
        };
        assert_eq!(
            p.authorize(&attrs(&alice, "get", "", "nodes", "")),
            Decision::NoOpinion(
                "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found".into()
            )
        );
    }

    /// Whether `owner` alone covers `servant`.
    fn one_covers(owner: &PolicyRule, servant: &PolicyRule) -> bool {
        covers(std::slice::from_ref(owner), std::slice::from_ref(servant)).0
    }

    #[test]
    fn coverage_with_wildcards_names_and_urls() {
        let all = rule(&["*"], &["*"], &["*"]);
        let pods_read = rule(&["get", "list"], &[""], &["pods"]);
        assert!(one_covers(&all, &pods_read));
        // A subresource is covered by `*/<sub>`.
        let any_status = rule(&["update"], &["*"], &["*/status"]);
        let deploy_status = rule(&["update"], &["apps"], &["deployments/status"]);
        assert!(one_covers(&any_status, &deploy_status));
        let deploy = rule(&["update"], &["apps"], &["deployments"]);
        assert!(!one_covers(&any_status, &deploy));
        // Names: an owner without names covers named rules, not the reverse.
        let named = PolicyRule {
            resource_names: vec!["a".into()],
            ..pods_read.clone()
        };
        assert!(one_covers(&pods_read, &named));
        let (ok, missing) = covers(
            std::slice::from_ref(&named),
            std::slice::from_ref(&pods_read),
        );
        assert!(!ok);
        assert_eq!(missing.len(), 2);
        // Non-resource URLs with a trailing star.
        let healthz = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/healthz*".into()],
            ..Default::default()
        };
        let etcd = PolicyRule {
            non_resource_urls: vec!["/healthz/etcd".into()],
            ..healthz.clone()
        };
        assert!(one_covers(&healthz, &etcd));
        assert!(!one_covers(&etcd, &healthz));
        // A verb wildcard in the servant must be held as a wildcard.
        assert!(!one_covers(&pods_read, &rule(&["*"], &[""], &["pods"])));
    }

    #[test]
    fn escalation_message_as_upstream() {
        let bob = UserInfo {
            name: "bob".into(),
            uid: String::new(),
            groups: vec!["system:authenticated".into()],
            extra: Default::default(),
        };
        let admin = [
            rule(&["*"], &["*"], &["*"]),
            PolicyRule {
                verbs: vec!["*".into()],
                non_resource_urls: vec!["*".into()],
                ..Default::default()
            },
        ];
        let (_, missing) = covers(&[rule(&["get"], &[""], &["pods"])], &admin);
        assert_eq!(
            escalation_message(&bob, &missing, &[]),
            "user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}\n{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}"
        );
        let (_, missing) = covers(&[], &[rule(&["get", "list"], &["apps"], &["deployments"])]);
        assert_eq!(
            compact_rules(&missing)[0].compact_string(),
            "{APIGroups:[\"apps\"], Resources:[\"deployments\"], Verbs:[\"get\" \"list\"]}"
        );
    }
}
