//! Request info: what a request path and method mean, as upstream's
//! `RequestInfoFactory`: resource requests under `/api` and `/apis` become
//! (verb, group, version, namespace, resource, name, subresource).

use http::Method;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub is_resource_request: bool,
    pub path: String,
    /// Lower-case verb: get, list, watch, create, update, patch, delete,
    /// deletecollection; for non-resource requests the lower-case method.
    pub verb: String,
    /// `api` or `apis` for resource requests.
    pub api_prefix: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// Path segments after the version, for handlers that need them.
    pub parts: Vec<String>,
}

impl RequestInfo {
    /// What the authorizers and the audit policy see of this request, made
    /// by `user`.
    pub fn attributes<'a>(
        &'a self,
        user: &'a kaiser_auth::UserInfo,
    ) -> kaiser_auth::Attributes<'a> {
        kaiser_auth::Attributes {
            user,
            verb: &self.verb,
            resource_request: self.is_resource_request,
            path: &self.path,
            namespace: &self.namespace,
            api_group: &self.api_group,
            resource: &self.resource,
            subresource: &self.subresource,
            name: &self.name,
        }
    }
}

/// Subresources of a namespace that keep `namespaces/<name>` as the object.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses a request; `query_watch` is the `watch` query parameter.
pub fn parse(method: &Method, path: &str, query_watch: bool) -> RequestInfo {
    let mut info = RequestInfo {
        path: path.to_string(),
        verb: method.as_str().to_lowercase(),
        ..Default::default()
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut parts: &[&str] = &segments;
    match parts.first() {
        Some(&"api") if parts.len() >= 2 => {
            info.api_prefix = "api".into();
            info.api_version = parts[1].into();
            parts = &parts[2..];
        }
        Some(&"apis") if parts.len() >= 3 => {
            info.api_prefix = "apis".into();
            info.api_group = parts[1].into();
            info.api_version = parts[2].into();
            parts = &parts[3..];
        }
        _ => return info,
    }
    if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
        // Discovery for a group version, or a malformed path.
        return info;
    }
    info.is_resource_request = true;
    let mut parts: Vec<&str> = parts.to_vec();
    let mut watch_path = false;
    if parts[0] == "watch" {
        watch_path = true;
        parts.remove(0);
        if parts.is_empty() {
            info.is_resource_request = false;
            return info;
        }
    }
    if parts[0] == "namespaces" && parts.len() > 1 {
        info.namespace = parts[1].into();
        if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
            parts.drain(..2);
        }
    }
    info.parts = parts.iter().map(|s| s.to_string()).collect();
    info.resource = parts[0].into();
    if parts.len() >= 2 {
        info.name = parts[1].into();
    }
    if parts.len() >= 3 {
        info.subresource = parts[2].into();
    }
    info.verb = match *method {
        Method::GET | Method::HEAD => {
            if watch_path || query_watch {
                "watch"
            } else if info.name.is_empty() {
                "list"
            } else {
                "get"
            }
        }
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => {
            if info.name.is_empty() {
                "deletecollection"
            } else {
                "delete"
            }
        }
        _ => "",
    }
    .to_string();
    if info.verb.is_empty() {
        info.verb = method.as_str().to_lowercase();
    }
    // A namespace object is its own namespace's "name".
    if info.resource == "namespaces" && parts.len() == 1 && !info.namespace.is_empty() {
        info.name = info.namespace.clone();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(m: Method, path: &str) -> RequestInfo {
        parse(&m, path, false)
    }

    #[test]
    fn resource_paths() {
        let i = p(Method::GET, "/api/v1/namespaces/default/configmaps/x");
        assert!(i.is_resource_request);
        assert_eq!(
            (
                i.verb.as_str(),
                i.namespace.as_str(),
                i.resource.as_str(),
                i.name.as_str()
            ),
            ("get", "default", "configmaps", "x")
        );
        let i = p(Method::GET, "/apis/apps/v1/deployments");
        assert_eq!(
            (i.verb.as_str(), i.api_group.as_str(), i.resource.as_str()),
            ("list", "apps", "deployments")
        );
        let i = parse(&Method::GET, "/api/v1/configmaps", true);
        assert_eq!(i.verb, "watch");
        let i = p(Method::GET, "/api/v1/watch/namespaces/a/configmaps");
        assert_eq!((i.verb.as_str(), i.namespace.as_str()), ("watch", "a"));
        let i = p(Method::DELETE, "/api/v1/namespaces/a/configmaps");
        assert_eq!(i.verb, "deletecollection");
        let i = p(Method::PUT, "/api/v1/namespaces/a/status");
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.subresource.as_str()),
            ("namespaces", "a", "status")
        );
        let i = p(Method::GET, "/api/v1/namespaces/a");
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.namespace.as_str()),
            ("namespaces", "a", "a")
        );
        let i = p(Method::POST, "/api/v1/namespaces");
        assert_eq!(
            (i.verb.as_str(), i.resource.as_str()),
            ("create", "namespaces")
        );
    }

    #[test]
    fn non_resource_paths() {
        for path in [
            "/healthz",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/no/such",
        ] {
            let i = p(Method::GET, path);
            assert!(!i.is_resource_request, "{path}");
            assert_eq!(i.verb, "get");
        }
    }
}
