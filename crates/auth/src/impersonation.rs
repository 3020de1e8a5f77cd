//! Impersonation: a request may act as another identity through the
//! `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and
//! `Impersonate-Extra-<key>` headers. Every requested part is authorized
//! for the caller with the verb `impersonate` (users, groups and service
//! accounts in the core group; uids and `userextras/<key>` in
//! `authentication.k8s.io`), as upstream's impersonation filter does; the
//! identity that results replaces the caller for everything after.
//! Headers come in as plain name/value pairs; nothing here speaks HTTP.

use std::collections::BTreeMap;
use std::fmt;

use crate::Authorizer;
use crate::authn::requestheader::unescape;
use crate::authn::{GROUP_AUTHENTICATED, GROUP_UNAUTHENTICATED, USER_ANONYMOUS, UserInfo};
use crate::authz::Attributes;

pub const HEADER_USER: &str = "impersonate-user";
pub const HEADER_GROUP: &str = "impersonate-group";
pub const HEADER_UID: &str = "impersonate-uid";
pub const HEADER_EXTRA_PREFIX: &str = "impersonate-extra-";

const AUTHN_GROUP: &str = "authentication.k8s.io";
const SA_PREFIX: &str = "system:serviceaccount:";

/// One thing a request asks to act as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    User(String),
    ServiceAccount { namespace: String, name: String },
    Group(String),
    Extra { key: String, value: String },
    Uid(String),
}

impl Target {
    /// (API group, resource, subresource, namespace, name) the caller must
    /// be allowed to `impersonate`.
    fn resource(&self) -> (&str, &str, &str, &str, &str) {
        match self {
            Target::User(n) => ("", "users", "", "", n),
            Target::ServiceAccount { namespace, name } => {
                ("", "serviceaccounts", "", namespace, name)
            }
            Target::Group(n) => ("", "groups", "", "", n),
            Target::Extra { key, value } => (AUTHN_GROUP, "userextras", key, "", value),
            Target::Uid(u) => (AUTHN_GROUP, "uids", "", "", u),
        }
    }
}

/// Upstream prints the requested parts as Go prints its object references
/// (`{Kind Namespace Name UID APIVersion ResourceVersion FieldPath}`).
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v1 = "authentication.k8s.io/v1";
        let (kind, ns, name, api_version, field_path) = match self {
            Target::User(n) => ("User", "", n.as_str(), "", ""),
            Target::ServiceAccount { namespace, name } => {
                ("ServiceAccount", namespace.as_str(), name.as_str(), "", "")
            }
            Target::Group(n) => ("Group", "", n.as_str(), "", ""),
            Target::Extra { key, value } => ("UserExtra", "", value.as_str(), v1, key.as_str()),
            Target::Uid(u) => ("UID", "", u.as_str(), v1, ""),
        };
        write!(f, "{{{kind} {ns} {name}  {api_version}  {field_path}}}")
    }
}

/// What the impersonation headers of one request ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requested {
    pub targets: Vec<Target>,
    /// Groups were named: they are then the whole group list.
    pub groups_specified: bool,
}

/// Groups, extras or a uid without a user; upstream answers 500 with this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("requested [{}] without impersonating a user", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
pub struct WithoutUser(pub Vec<Target>);

/// The caller may not impersonate one of the parts: what upstream's
/// Forbidden names (group and resource of the object, its name) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub api_group: String,
    pub resource: String,
    pub name: String,
    /// The authorizer's message (`User "bob" cannot impersonate resource …`).
    pub reason: String,
}

/// Reads the impersonation headers. `headers` are (lower-case name, value)
/// pairs in request order; only the first `Impersonate-User` and
/// `Impersonate-Uid` count, every `Impersonate-Group` and extra value does.
pub fn requested<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Requested, WithoutUser> {
    let mut user: Option<Target> = None;
    let mut uid: Option<Target> = None;
    let mut groups = Vec::new();
    let mut extras = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value).into_owned();
        if name.eq_ignore_ascii_case(HEADER_USER) {
            if user.is_none() && !value.is_empty() {
                user = Some(user_target(value));
            }
        } else if name.eq_ignore_ascii_case(HEADER_UID) {
            if uid.is_none() && !value.is_empty() {
                uid = Some(Target::Uid(value));
            }
        } else if name.eq_ignore_ascii_case(HEADER_GROUP) {
            groups.push(Target::Group(value));
        } else if let Some(key) = strip_prefix_ignore_case(name, HEADER_EXTRA_PREFIX) {
            let key = unescape(&key.to_ascii_lowercase());
            extras.push(Target::Extra { key, value });
        }
    }
    let groups_specified = !groups.is_empty();
    let without_user = user.is_none() && (groups_specified || !extras.is_empty() || uid.is_some());
    let targets: Vec<Target> = user
        .into_iter()
        .chain(groups)
        .chain(extras)
        .chain(uid)
        .collect();
    if without_user {
        return Err(WithoutUser(targets));
    }
    Ok(Requested {
        targets,
        groups_specified,
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `system:serviceaccount:<ns>:<name>` with a valid namespace and name is a
/// service account; anything else a plain user.
fn user_target(name: String) -> Target {
    if let Some((ns, sa)) = split_service_account(&name) {
        return Target::ServiceAccount {
            namespace: ns.to_string(),
            name: sa.to_string(),
        };
    }
    Target::User(name)
}

fn split_service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SA_PREFIX)?;
    let mut parts = rest.split(':');
    let (ns, name) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let valid = kaiser_apimachinery::validation::is_dns1123_label(ns).is_empty()
        && kaiser_apimachinery::validation::is_dns1123_subdomain(name).is_empty();
    valid.then_some((ns, name))
}

/// Authorizes every part for `caller` and returns the identity to act as.
pub async fn impersonate(
    req: &Requested,
    caller: &UserInfo,
    authorizer: &dyn Authorizer,
) -> Result<UserInfo, Denied> {
    for t in &req.targets {
        let (api_group, resource, subresource, namespace, name) = t.resource();
        let attrs = Attributes {
            user: caller,
            verb: "impersonate",
            resource_request: true,
            path: "",
            namespace,
            api_group,
            resource,
            subresource,
            name,
        };
        // Only an explicit Allow lets the caller act as someone else; no
        // opinion from every authorizer is a denial.
        let decision = authorizer.authorize(&attrs).await;
        if !decision.allowed() {
            return Err(Denied {
                api_group: api_group.to_string(),
                resource: resource.to_string(),
                name: name.to_string(),
                reason: crate::authz::forbidden_with_reason(&attrs, &decision),
            });
        }
    }
    Ok(identity(req))
}

/// The identity the (authorized) parts describe, with upstream's group
/// rules: a service account without named groups gets its fixed groups;
/// a non-anonymous user gets `system:authenticated` unless the groups
/// already say authenticated or unauthenticated; anonymous gets
/// `system:unauthenticated`.
pub fn identity(req: &Requested) -> UserInfo {
    let mut name = String::new();
    let mut uid = String::new();
    let mut groups: Vec<String> = Vec::new();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &req.targets {
        match t {
            Target::User(n) => name = n.clone(),
            Target::ServiceAccount {
                namespace,
                name: sa,
            } => {
                name = format!("{SA_PREFIX}{namespace}:{sa}");
                if !req.groups_specified {
                    groups = vec![
                        "system:serviceaccounts".into(),
                        format!("system:serviceaccounts:{namespace}"),
                    ];
                }
            }
            Target::Group(g) => groups.push(g.clone()),
            Target::Extra { key, value } => {
                extra.entry(key.clone()).or_default().push(value.clone())
            }
            Target::Uid(u) => uid = u.clone(),
        }
    }
    let has = |g: &str| groups.iter().any(|x| x == g);
    if name != USER_ANONYMOUS {
        if !has(GROUP_AUTHENTICATED) && !has(GROUP_UNAUTHENTICATED) {
            groups.push(GROUP_AUTHENTICATED.into());
        }
    } else if !has(GROUP_UNAUTHENTICATED) {
        groups.push(GROUP_UNAUTHENTICATED.into());
    }
    UserInfo {
        name,
        uid,
        groups,
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Decision;
    use async_trait::async_trait;

    fn parse(h: &[(&'static str, &'static str)]) -> Result<Requested, WithoutUser> {
        requested(h.iter().map(|(n, v)| (*n, v.as_bytes())))
    }

    #[test]
    fn headers_become_targets() {
        let r = parse(&[
            ("impersonate-user", "alice"),
            ("impersonate-group", "devs"),
            ("impersonate-group", "ops"),
            ("impersonate-extra-scopes%2Fview", "a"),
            ("impersonate-uid", "1234"),
            ("accept", "x"),
        ])
        .expect("valid");
        assert!(r.groups_specified);
        assert_eq!(
            r.targets,
            vec![
                Target::User("alice".into()),
                Target::Group("devs".into()),
                Target::Group("ops".into()),
                Target::Extra {
                    key: "scopes/view".into(),
                    value: "a".into()
                },
                Target::Uid("1234".into()),
            ]
        );
        let u = identity(&r);
        assert_eq!(u.name, "alice");
        assert_eq!(u.uid, "1234");
        assert_eq!(u.groups, ["devs", "ops", GROUP_AUTHENTICATED]);
        assert_eq!(u.extra["scopes/view"], ["a"]);
        assert_eq!(parse(&[]).expect("none").targets, vec![]);
    }

    #[test]
    fn service_accounts_and_anonymous() {
        let r = parse(&[("impersonate-user", "system:serviceaccount:ns1:robot")]).expect("ok");
        assert_eq!(
            r.targets,
            vec![Target::ServiceAccount {
                namespace: "ns1".into(),
                name: "robot".into()
            }]
        );
        let u = identity(&r);
        assert_eq!(u.name, "system:serviceaccount:ns1:robot");
        assert_eq!(
            u.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                GROUP_AUTHENTICATED
            ]
        );
        // Not a valid service account name: a plain user.
        let r = parse(&[("impersonate-user", "system:serviceaccount:Bad:x:y")]).expect("ok");
        assert!(matches!(r.targets[0], Target::User(_)));
        let anon = identity(&parse(&[("impersonate-user", USER_ANONYMOUS)]).expect("ok"));
        assert_eq!(anon.groups, [GROUP_UNAUTHENTICATED]);
        let explicit = identity(
            &parse(&[
                ("impersonate-user", "x"),
                ("impersonate-group", GROUP_UNAUTHENTICATED),
            ])
            .expect("ok"),
        );
        assert_eq!(explicit.groups, [GROUP_UNAUTHENTICATED]);
    }

    #[test]
    fn parts_without_a_user_are_refused_with_upstreams_text() {
        let e = parse(&[("impersonate-group", "devs")]).expect_err("no user");
        assert_eq!(
            e.to_string(),
            "requested [{Group  devs    }] without impersonating a user"
        );
        let e =
            parse(&[("impersonate-uid", "7"), ("impersonate-extra-k", "v")]).expect_err("no user");
        assert_eq!(
            e.to_string(),
            "requested [{UserExtra  v  authentication.k8s.io/v1  k} {UID  7  authentication.k8s.io/v1  }] without impersonating a user"
        );
    }

    /// Allows impersonating users and groups, nothing else.
    struct UsersOnly;

    #[async_trait]
    impl Authorizer for UsersOnly {
        async fn authorize(&self, a: &Attributes<'_>) -> Decision {
            if a.verb == "impersonate" && matches!(a.resource, "users" | "groups") {
                Decision::Allow
            } else {
                // As RBAC answers when no rule matches.
                Decision::NoOpinion(String::new())
            }
        }
    }

    #[tokio::test]
    async fn every_part_is_authorized() {
        let bob = UserInfo {
            name: "bob".into(),
            ..UserInfo::default()
        };
        let ok = parse(&[("impersonate-user", "alice"), ("impersonate-group", "g")]).expect("ok");
        assert_eq!(
            impersonate(&ok, &bob, &UsersOnly)
                .await
                .expect("allowed")
                .name,
            "alice"
        );
        let extra = parse(&[
            ("impersonate-user", "alice"),
            ("impersonate-extra-scopes", "s"),
        ])
        .expect("ok");
        let denied = impersonate(&extra, &bob, &UsersOnly)
            .await
            .expect_err("denied");
        assert_eq!(
            denied,
            Denied {
                api_group: AUTHN_GROUP.into(),
                resource: "userextras".into(),
                name: "s".into(),
                reason: "User \"bob\" cannot impersonate resource \"userextras/scopes\" in API group \"authentication.k8s.io\" at the cluster scope".into(),
            }
        );
        let sa = parse(&[("impersonate-user", "system:serviceaccount:ns:sa")]).expect("ok");
        let denied = impersonate(&sa, &bob, &UsersOnly)
            .await
            .expect_err("denied");
        assert_eq!(
            denied.reason,
            "User \"bob\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"ns\""
        );
    }
}
