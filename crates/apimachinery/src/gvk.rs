//! Group/version/kind and group/version/resource names.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        GroupResource {
            group: group.into(),
            resource: resource.into(),
        }
    }
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupVersion {
    pub group: String,
    pub version: String,
}

impl GroupVersion {
    pub fn new(group: &str, version: &str) -> Self {
        GroupVersion {
            group: group.into(),
            version: version.into(),
        }
    }

    /// `v1` for the core group, `apps/v1` otherwise: the `apiVersion` field.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Parses an `apiVersion` field.
    pub fn parse(api_version: &str) -> Self {
        match api_version.split_once('/') {
            Some((g, v)) => GroupVersion::new(g, v),
            None => GroupVersion::new("", api_version),
        }
    }
}

/// The OpenAPI definition name upstream uses for a kind, e.g.
/// `io.k8s.api.core.v1.ConfigMap`; custom groups use the reversed domain.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let pkg = match group {
        "" => "io.k8s.api.core".to_string(),
        "apiextensions.k8s.io" => {
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".to_string()
        }
        "apiregistration.k8s.io" => "io.k8s.kube-aggregator.pkg.apis.apiregistration".to_string(),
        g if g.ends_with(".k8s.io") || !g.contains('.') => {
            format!("io.k8s.api.{}", g.split('.').next().unwrap_or(""))
        }
        g => g.split('.').rev().collect::<Vec<_>>().join("."),
    };
    format!("{pkg}.{version}.{kind}")
}

impl fmt::Display for GroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.api_version())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        assert_eq!(GroupVersion::new("", "v1").api_version(), "v1");
        assert_eq!(
            GroupVersion::parse("apps/v1"),
            GroupVersion::new("apps", "v1")
        );
        assert_eq!(
            GroupResource::new("apps", "deployments").to_string(),
            "deployments.apps"
        );
    }

    #[test]
    fn definition_names() {
        for (g, v, k, want) in [
            ("", "v1", "Pod", "io.k8s.api.core.v1.Pod"),
            ("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
            (
                "rbac.authorization.k8s.io",
                "v1",
                "Role",
                "io.k8s.api.rbac.v1.Role",
            ),
            (
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
            ),
            (
                "apiregistration.k8s.io",
                "v1",
                "APIService",
                "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
            ),
            (
                "stable.example.com",
                "v1",
                "CronTab",
                "com.example.stable.v1.CronTab",
            ),
        ] {
            assert_eq!(definition_name(g, v, k), want);
        }
    }
}
