//! Authorization: may this user do this? The built-in rules of upstream's
//! bootstrap policy that need no RBAC objects: `system:masters` may do
//! anything, everyone may read the public-info paths, authenticated users
//! may read discovery and OpenAPI.

use crate::authn::{GROUP_AUTHENTICATED, GROUP_MASTERS, UserInfo};

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

/// Non-resource paths anyone may GET (`system:public-info-viewer`).
const PUBLIC_INFO: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];
/// Non-resource paths authenticated users may GET (`system:discovery`).
const DISCOVERY: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/openapi",
    "/openapi/*",
    "/version",
    "/version/",
];

fn path_matches(rules: &[&str], path: &str) -> bool {
    rules.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => *r == path,
    })
}

fn health_path(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

pub fn authorize(a: &Attributes<'_>) -> Decision {
    if a.user.in_group(GROUP_MASTERS) {
        return Decision::Allow;
    }
    // `system:basic-user`: anyone authenticated may ask what they may do.
    if a.resource_request
        && a.verb == "create"
        && a.user.in_group(GROUP_AUTHENTICATED)
        && matches!(
            (a.api_group, a.resource),
            (
                "authorization.k8s.io",
                "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
            ) | ("authentication.k8s.io", "selfsubjectreviews")
        )
    {
        return Decision::Allow;
    }
    if !a.resource_request && a.verb == "get" {
        if path_matches(PUBLIC_INFO, a.path) || health_path(a.path) {
            return Decision::Allow;
        }
        if a.user.in_group(GROUP_AUTHENTICATED) && path_matches(DISCOVERY, a.path) {
            return Decision::Allow;
        }
    }
    Decision::Deny(forbidden_message(a))
}

/// Upstream's wording for a denied request.
pub fn forbidden_message(a: &Attributes<'_>) -> String {
    let user = &a.user.name;
    if !a.resource_request {
        return format!(
            "forbidden: User \"{user}\" cannot {} path \"{}\"",
            a.verb, a.path
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::anonymous;

    fn user(groups: &[&str]) -> UserInfo {
        UserInfo {
            name: "u".into(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            extra: Default::default(),
        }
    }

    fn non_resource<'a>(user: &'a UserInfo, path: &'a str) -> Attributes<'a> {
        Attributes {
            user,
            verb: "get",
            resource_request: false,
            path,
            namespace: "",
            api_group: "",
            resource: "",
            subresource: "",
            name: "",
        }
    }

    #[test]
    fn bootstrap_rules() {
        let anon = anonymous();
        let get = |u: &UserInfo, path: &'static str| authorize(&non_resource(u, path));
        assert_eq!(get(&anon, "/readyz"), Decision::Allow);
        assert_eq!(get(&anon, "/readyz/storage"), Decision::Allow);
        assert_eq!(get(&anon, "/version"), Decision::Allow);
        assert!(matches!(get(&anon, "/api"), Decision::Deny(_)));
        let authed = user(&[GROUP_AUTHENTICATED]);
        assert_eq!(get(&authed, "/apis/apps/v1"), Decision::Allow);
        let list = Attributes {
            verb: "list",
            resource_request: true,
            namespace: "default",
            resource: "configmaps",
            ..non_resource(&authed, "")
        };
        match authorize(&list) {
            Decision::Deny(m) => assert_eq!(
                m,
                "User \"u\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
            ),
            Decision::Allow => panic!("should deny"),
        }
        let admin = user(&[GROUP_MASTERS, GROUP_AUTHENTICATED]);
        assert_eq!(
            authorize(&Attributes {
                user: &admin,
                ..list
            }),
            Decision::Allow
        );
    }
}
