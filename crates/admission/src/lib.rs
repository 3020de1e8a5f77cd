//! kaiser's admission chain: plugins that may refuse a write after
//! authorization and before storage.
//!
//! Holds the chain and the built-in plugins (NamespaceLifecycle so far).
//! Takes typed attributes; never serves HTTP.

use std::sync::Arc;

use async_trait::async_trait;
use kaiser_apimachinery::{GroupResource, StatusError};
use kaiser_auth::UserInfo;
use serde_json::Value;

mod namespace_lifecycle;
mod pods;
mod protection;
pub mod webhook;

pub use namespace_lifecycle::NamespaceLifecycle;
pub use pods::{DefaultTolerationSeconds, Priority, ServiceAccount};
pub use protection::{StorageObjectInUseProtection, TaintNodesByCondition};

/// Every admission plugin upstream's kube-apiserver 1.33 registers, in its
/// order: the names `--enable-admission-plugins` and
/// `--disable-admission-plugins` accept.
pub const UPSTREAM_PLUGINS: &[&str] = &[
    "AlwaysAdmit",
    "NamespaceAutoProvision",
    "NamespaceLifecycle",
    "NamespaceExists",
    "LimitPodHardAntiAffinityTopology",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "TaintNodesByCondition",
    "AlwaysPullImages",
    "ImagePolicyWebhook",
    "PodSecurity",
    "PodNodeSelector",
    "Priority",
    "DefaultTolerationSeconds",
    "PodTolerationRestriction",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "DenyServiceExternalIPs",
    "PodTopologyLabels",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
    "AlwaysDeny",
];

/// The upstream plugins kaiser has, each on unless disabled (as upstream's
/// defaults have them; AlwaysAdmit admits everything anyway).
pub const KAISER_PLUGINS: &[&str] = &[
    "AlwaysAdmit",
    NamespaceLifecycle::NAME,
    ServiceAccount::NAME,
    TaintNodesByCondition::NAME,
    Priority::NAME,
    DefaultTolerationSeconds::NAME,
    StorageObjectInUseProtection::NAME,
];

/// The errors of `--enable-admission-plugins` and
/// `--disable-admission-plugins`: upstream's for unknown names and for a
/// name in both, and kaiser's for a plugin asked for that it lacks (it
/// would not be enforced).
pub fn plugin_flag_errors(enable: &[String], disable: &[String]) -> Vec<String> {
    let mut errs = Vec::new();
    for (flag, names) in [
        ("enable-admission-plugins", enable),
        ("disable-admission-plugins", disable),
    ] {
        for n in names
            .iter()
            .filter(|n| !UPSTREAM_PLUGINS.contains(&n.as_str()))
        {
            errs.push(format!("{flag} plugin {n:?} is unknown"));
        }
    }
    let mut both: Vec<&String> = enable.iter().filter(|n| disable.contains(n)).collect();
    both.sort();
    both.dedup();
    if !both.is_empty() {
        errs.push(format!(
            "{both:?} in enable-admission-plugins and disable-admission-plugins overlapped"
        ));
    }
    for n in enable {
        if UPSTREAM_PLUGINS.contains(&n.as_str()) && !KAISER_PLUGINS.contains(&n.as_str()) {
            errs.push(format!(
                "enable-admission-plugins plugin {n:?} is not implemented by kaiser"
            ));
        }
    }
    errs
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

/// What admission sees of a request.
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    pub operation: Operation,
    pub resource: GroupResource,
    pub subresource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub object: Option<&'a Value>,
    pub user: &'a UserInfo,
    pub dry_run: bool,
}

/// One admission plugin: it may change a new object (`admit`, the mutating
/// phase, before defaulting and validation) and refuse a request
/// (`validate`, after the object is final).
#[async_trait]
pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;

    async fn admit(&self, _attrs: &Attributes<'_>, _obj: &mut Value) -> Result<(), StatusError> {
        Ok(())
    }

    async fn validate(&self, _attrs: &Attributes<'_>) -> Result<(), StatusError> {
        Ok(())
    }

    /// Prepares a check of the object as it will be stored (after
    /// defaulting, inside the store's write, with the stored object for
    /// an update): the asynchronous part (asking an authorizer) runs
    /// here, the check itself must be synchronous.
    async fn write_check(
        &self,
        _attrs: &Attributes<'_>,
    ) -> Result<Option<WriteCheck>, StatusError> {
        Ok(None)
    }
}

/// A check of `(new, old)` run inside the store's write.
pub type WriteCheck = Box<dyn Fn(&Value, Option<&Value>) -> Result<(), StatusError> + Send + Sync>;

/// The write checks of every plugin for one request.
#[derive(Default)]
pub struct WriteChecks(Vec<WriteCheck>);

impl WriteChecks {
    /// Runs every check; the first refusal wins.
    pub fn run(&self, new: &Value, old: Option<&Value>) -> Result<(), StatusError> {
        self.0.iter().try_for_each(|c| c(new, old))
    }
}

/// The plugins in order; the first refusal wins.
#[derive(Clone, Default)]
pub struct Chain {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Chain {
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Self {
        Chain { plugins }
    }

    /// The chain without the plugins named in `disabled`.
    pub fn without(self, disabled: &[String]) -> Self {
        let plugins = self
            .plugins
            .into_iter()
            .filter(|p| !disabled.iter().any(|d| d == p.name()))
            .collect();
        Chain { plugins }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|p| p.name()).collect()
    }

    /// The mutating phase, plugin by plugin.
    pub async fn admit(&self, attrs: &Attributes<'_>, obj: &mut Value) -> Result<(), StatusError> {
        for p in &self.plugins {
            p.admit(attrs, obj).await?;
        }
        Ok(())
    }

    pub async fn validate(&self, attrs: &Attributes<'_>) -> Result<(), StatusError> {
        for p in &self.plugins {
            p.validate(attrs).await?;
        }
        Ok(())
    }

    /// The checks to run on the final object of a create or update.
    pub async fn write_checks(&self, attrs: &Attributes<'_>) -> Result<WriteChecks, StatusError> {
        let mut out = Vec::new();
        for p in &self.plugins {
            out.extend(p.write_check(attrs).await?);
        }
        Ok(WriteChecks(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plugin_flags_as_upstream_checks_them() {
        assert!(
            plugin_flag_errors(
                &names(&["NamespaceLifecycle"]),
                &names(&["ServiceAccount", "ResourceQuota"])
            )
            .is_empty()
        );
        assert_eq!(
            plugin_flag_errors(
                &names(&["Bogus", "NodeRestriction", "Priority"]),
                &names(&["Priority", "Nope"])
            ),
            [
                "enable-admission-plugins plugin \"Bogus\" is unknown",
                "disable-admission-plugins plugin \"Nope\" is unknown",
                "[\"Priority\"] in enable-admission-plugins and disable-admission-plugins overlapped",
                "enable-admission-plugins plugin \"NodeRestriction\" is not implemented by kaiser",
            ]
        );
        // Every plugin kaiser has is one upstream knows.
        assert!(KAISER_PLUGINS.iter().all(|p| UPSTREAM_PLUGINS.contains(p)));
    }
}
