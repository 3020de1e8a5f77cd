//! `ResourceInfo`: what the server knows of one served resource, as data.

use kaiser_apimachinery::{GroupResource, GroupVersion};

/// The verbs of a resource that supports everything.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// One resource in one group version, as discovery lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    /// Plural lowercase name, the URL segment.
    pub resource: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Subresources served, e.g. `status`.
    pub subresources: Vec<String>,
    /// Storage key prefix; `/registry/<resource>/` unless set.
    pub storage_prefix: String,
    /// The `Warning` every response of a deprecated version carries.
    pub deprecation: Option<String>,
    /// Where the `scale` subresource reads and writes, when served.
    pub scale: Option<crate::scale::ScalePaths>,
    /// The kind's OpenAPI schema when it is not a built-in one (a custom
    /// resource's `openAPIV3Schema`).
    pub schema: Option<std::sync::Arc<serde_json::Value>>,
    /// How long an object lives after its last write, for kinds the store
    /// deletes by itself (Events: upstream's `--event-ttl`).
    pub expire_after: Option<std::time::Duration>,
    /// The group and version objects are stored in (the served ones unless
    /// another version's objects are served); `None` for resources nothing
    /// stores (reviews, bindings). Discovery's `storageVersionHash`.
    pub storage_version: Option<(String, String)>,
}

impl ResourceInfo {
    /// A resource with every verb and the default key prefix.
    pub fn new(group: &str, version: &str, resource: &str, kind: &str, namespaced: bool) -> Self {
        ResourceInfo {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
            verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
            short_names: Vec::new(),
            categories: Vec::new(),
            subresources: Vec::new(),
            storage_prefix: format!("/registry/{resource}/"),
            deprecation: None,
            scale: None,
            expire_after: None,
            schema: None,
            storage_version: Some((group.into(), version.into())),
        }
    }

    /// For a resource nothing stores (discovery then names no storage
    /// version).
    pub fn unstored(mut self) -> Self {
        self.storage_version = None;
        self
    }

    /// Keys under `root` (`--etcd-prefix`) instead of `/registry`.
    pub fn storage_root(mut self, root: &str) -> Self {
        self.storage_prefix = format!("{}/{}/", root.trim_end_matches('/'), self.resource);
        self
    }

    /// Keys under `<root>/<group>/<resource>/`, where the extension and
    /// aggregation servers keep theirs upstream (CRDs, APIServices).
    pub fn group_storage_root(mut self, root: &str) -> Self {
        self.storage_prefix = format!(
            "{}/{}/{}/",
            root.trim_end_matches('/'),
            self.group,
            self.resource
        );
        self
    }

    /// Objects the store deletes `ttl` after their last write.
    pub fn expire_after(mut self, ttl: std::time::Duration) -> Self {
        self.expire_after = Some(ttl);
        self
    }

    pub fn short_names(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn categories(mut self, cats: &[&str]) -> Self {
        self.categories = cats.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn verbs(mut self, verbs: &[&str]) -> Self {
        self.verbs = verbs.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn subresources(mut self, subs: &[&str]) -> Self {
        self.subresources = subs.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Marks the version deprecated: `removed_in` is the minor release that
    /// stops serving it, `replacement` the `group/version Kind` to use.
    pub fn deprecated(mut self, since: u32, removed_in: Option<u32>, replacement: &str) -> Self {
        let mut msg = format!(
            "{} {} is deprecated in v1.{since}+",
            self.api_version(),
            self.kind
        );
        if let Some(r) = removed_in {
            msg.push_str(&format!(", unavailable in v1.{r}+"));
        }
        if !replacement.is_empty() {
            msg.push_str(&format!("; use {replacement}"));
        }
        self.deprecation = Some(msg);
        self
    }

    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.resource)
    }

    pub fn group_version(&self) -> GroupVersion {
        GroupVersion::new(&self.group, &self.version)
    }

    pub fn api_version(&self) -> String {
        self.group_version().api_version()
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// The OpenAPI definition name upstream uses for the kind, e.g.
    /// `io.k8s.api.core.v1.ConfigMap`; custom groups use the reversed domain.
    pub fn definition_name(&self) -> String {
        kaiser_apimachinery::gvk::definition_name(&self.group, &self.version, &self.kind)
    }
}
