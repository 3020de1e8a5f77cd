//! Authorization: may this user do this? The request attributes, the
//! decision, the [`Authorizer`] hook every mode implements, and the
//! authorizers that need no policy objects: the privileged group
//! (`system:masters` may do anything, asked first as upstream does),
//! `AlwaysAllow`, `AlwaysDeny`, and the [`Union`] that asks a list of
//! authorizers in `--authorization-mode` order.

use std::sync::Arc;

use async_trait::async_trait;

use crate::authn::{GROUP_MASTERS, UserInfo};
use crate::rbac::PolicyRule;

/// What is being asked, as upstream's `authorizer.Attributes`.
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    pub user: &'a UserInfo,
    pub verb: &'a str,
    pub resource_request: bool,
    pub path: &'a str,
    pub namespace: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub name: &'a str,
}

/// An authorizer's answer; `Deny` and `NoOpinion` carry the reason
/// upstream appends to the Forbidden message (often empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
    NoOpinion(String),
}

impl Decision {
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// What a user may do in a namespace, as a SelfSubjectRulesReview reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserRules {
    pub resource_rules: Vec<PolicyRule>,
    pub non_resource_rules: Vec<PolicyRule>,
    pub incomplete: bool,
    pub errors: Vec<String>,
}

impl UserRules {
    fn extend(&mut self, other: UserRules) {
        self.resource_rules.extend(other.resource_rules);
        self.non_resource_rules.extend(other.non_resource_rules);
        self.incomplete |= other.incomplete;
        self.errors.extend(other.errors);
    }
}

/// One authorization mode.
#[async_trait]
pub trait Authorizer: Send + Sync {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision;

    /// The rules this authorizer grants `user` in `namespace`.
    async fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> UserRules {
        UserRules::default()
    }
}

/// Asks each authorizer in order: the first Allow or Deny wins, a
/// NoOpinion passes on; the reasons of every NoOpinion are kept.
pub struct Union(pub Vec<Arc<dyn Authorizer>>);

#[async_trait]
impl Authorizer for Union {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        let mut reasons = Vec::new();
        for authorizer in &self.0 {
            match authorizer.authorize(a).await {
                Decision::NoOpinion(reason) => {
                    if !reason.is_empty() {
                        reasons.push(reason);
                    }
                }
                decided => return decided,
            }
        }
        Decision::NoOpinion(reasons.join("\n"))
    }

    async fn rules_for(&self, user: &UserInfo, namespace: &str) -> UserRules {
        let mut all = UserRules::default();
        for authorizer in &self.0 {
            all.extend(authorizer.rules_for(user, namespace).await);
        }
        all
    }
}

/// Members of these groups may do anything (upstream's privileged-group
/// authorizer for `system:masters`).
pub struct PrivilegedGroups(pub Vec<String>);

impl PrivilegedGroups {
    pub fn masters() -> Self {
        PrivilegedGroups(vec![GROUP_MASTERS.to_string()])
    }
}

#[async_trait]
impl Authorizer for PrivilegedGroups {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        if self.0.iter().any(|g| a.user.in_group(g)) {
            Decision::Allow
        } else {
            Decision::NoOpinion(String::new())
        }
    }
}

/// Everyone may GET the health checks (each one too) and the version, in
/// every mode: probes and load balancers need them before any policy.
pub struct PublicHealth;

/// Whether `path` is a health check or the version document.
pub fn public_health_path(path: &str) -> bool {
    matches!(path, "/version" | "/version/")
        || ["/healthz", "/livez", "/readyz"]
            .iter()
            .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

#[async_trait]
impl Authorizer for PublicHealth {
    async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        if !a.resource_request && a.verb == "get" && public_health_path(a.path) {
            Decision::Allow
        } else {
            Decision::NoOpinion(String::new())
        }
    }
}

fn everything() -> UserRules {
    let all = vec!["*".to_string()];
    UserRules {
        resource_rules: vec![PolicyRule {
            verbs: all.clone(),
            api_groups: all.clone(),
            resources: all.clone(),
            ..Default::default()
        }],
        non_resource_rules: vec![PolicyRule {
            verbs: all.clone(),
            non_resource_urls: all,
            ..Default::default()
        }],
        incomplete: false,
        errors: Vec::new(),
    }
}

/// `--authorization-mode=AlwaysAllow`.
pub struct AlwaysAllow;

#[async_trait]
impl Authorizer for AlwaysAllow {
    async fn authorize(&self, _: &Attributes<'_>) -> Decision {
        Decision::Allow
    }

    async fn rules_for(&self, _: &UserInfo, _: &str) -> UserRules {
        everything()
    }
}

/// `--authorization-mode=AlwaysDeny`: no opinion, with upstream's reason.
pub struct AlwaysDeny;

#[async_trait]
impl Authorizer for AlwaysDeny {
    async fn authorize(&self, _: &Attributes<'_>) -> Decision {
        Decision::NoOpinion("Everything is forbidden.".into())
    }
}

/// The values `--authorization-mode` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    AlwaysAllow,
    AlwaysDeny,
    Node,
    Rbac,
    Webhook,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::AlwaysAllow => "AlwaysAllow",
            Mode::AlwaysDeny => "AlwaysDeny",
            Mode::Node => "Node",
            Mode::Rbac => "RBAC",
            Mode::Webhook => "Webhook",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        [
            Mode::AlwaysAllow,
            Mode::AlwaysDeny,
            Mode::Node,
            Mode::Rbac,
            Mode::Webhook,
        ]
        .into_iter()
        .find(|m| m.name() == s)
    }
}

/// Parses and validates `--authorization-mode`, with upstream's wording for
/// each problem; every problem is reported.
pub fn parse_modes(values: &[String]) -> Result<Vec<Mode>, Vec<String>> {
    let mut errs = Vec::new();
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        errs.push("at least one authorization-mode must be passed".to_string());
    }
    let mut modes = Vec::new();
    for v in &values {
        match Mode::parse(v) {
            Some(m) => modes.push(m),
            None => errs.push(format!("authorization-mode {v:?} is not a valid mode")),
        }
    }
    let mut seen: Vec<&str> = values.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != values.len() {
        let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        errs.push(format!(
            "authorization-mode [{}] has mode specified more than once",
            quoted.join(" ")
        ));
    }
    if errs.is_empty() {
        Ok(modes)
    } else {
        Err(errs)
    }
}

/// Upstream's wording for a denied request (without the reason).
pub fn forbidden_message(a: &Attributes<'_>) -> String {
    let user = &a.user.name;
    if !a.resource_request {
        return format!("User \"{user}\" cannot {} path \"{}\"", a.verb, a.path);
    }
    let what = if a.subresource.is_empty() {
        format!("resource \"{}\"", a.resource)
    } else {
        format!("resource \"{}/{}\"", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    format!(
        "User \"{user}\" cannot {} {what} in API group \"{}\" {scope}",
        a.verb, a.api_group
    )
}

/// The message with the authorizers' reason appended, as upstream's
/// Forbidden responses carry it.
pub fn forbidden_with_reason(a: &Attributes<'_>, decision: &Decision) -> String {
    let reason = match decision {
        Decision::Allow => "",
        Decision::Deny(r) | Decision::NoOpinion(r) => r.as_str(),
    };
    let msg = forbidden_message(a);
    if reason.is_empty() {
        msg
    } else {
        format!("{msg}: {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::anonymous;

    fn user(groups: &[&str]) -> UserInfo {
        UserInfo {
            name: "u".into(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }

    fn list<'a>(user: &'a UserInfo) -> Attributes<'a> {
        Attributes {
            user,
            verb: "list",
            resource_request: true,
            path: "",
            namespace: "default",
            api_group: "",
            resource: "configmaps",
            subresource: "",
            name: "",
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn union_asks_in_order() {
        assert!(public_health_path("/readyz/etcd") && public_health_path("/version"));
        assert!(!public_health_path("/readyzz") && !public_health_path("/api"));
        let admin = user(&[GROUP_MASTERS]);
        let other = user(&[]);
        let union = Union(vec![
            Arc::new(PrivilegedGroups::masters()),
            Arc::new(AlwaysDeny),
        ]);
        assert_eq!(block_on(union.authorize(&list(&admin))), Decision::Allow);
        let d = block_on(union.authorize(&list(&other)));
        assert_eq!(d, Decision::NoOpinion("Everything is forbidden.".into()));
        assert_eq!(
            forbidden_with_reason(&list(&other), &d),
            "User \"u\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\": Everything is forbidden."
        );
        let open = Union(vec![Arc::new(AlwaysAllow), Arc::new(AlwaysDeny)]);
        assert_eq!(block_on(open.authorize(&list(&other))), Decision::Allow);
        let rules = block_on(open.rules_for(&anonymous(), "default"));
        assert_eq!(rules.resource_rules[0].verbs, ["*"]);
    }

    #[test]
    fn mode_flag_errors() {
        let v = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            parse_modes(&v("Node,RBAC")),
            Ok(vec![Mode::Node, Mode::Rbac])
        );
        let errs = parse_modes(&v("RBAC,Foo,RBAC")).expect_err("invalid");
        assert_eq!(errs[0], "authorization-mode \"Foo\" is not a valid mode");
        assert_eq!(
            errs[1],
            "authorization-mode [\"RBAC\" \"Foo\" \"RBAC\"] has mode specified more than once"
        );
        assert!(parse_modes(&v("")).is_err());
    }

    #[test]
    fn non_resource_message() {
        let anon = anonymous();
        let a = Attributes {
            resource_request: false,
            path: "/api",
            verb: "get",
            ..list(&anon)
        };
        assert_eq!(
            forbidden_message(&a),
            "User \"system:anonymous\" cannot get path \"/api\""
        );
    }
}
