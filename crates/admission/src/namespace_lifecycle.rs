//! NamespaceLifecycle: no new content in a missing or terminating namespace,
//! and the system namespaces cannot be deleted.

use std::sync::Arc;

use async_trait::async_trait;
use kaiser_apimachinery::status::StatusCause;
use kaiser_apimachinery::{GroupResource, StatusError};
use kaiser_registry::Store;

use crate::{Attributes, Operation, Plugin};

/// Namespaces that exist for the cluster's own use and are never deleted.
pub const IMMORTAL: &[&str] = &["default", "kube-system", "kube-public"];

pub struct NamespaceLifecycle {
    namespaces: Arc<Store>,
}

impl NamespaceLifecycle {
    pub fn new(namespaces: Arc<Store>) -> Self {
        NamespaceLifecycle { namespaces }
    }
}

/// The one field of a Namespace this plugin reads on every create, decoded
/// without the rest of the object.
#[derive(serde::Deserialize)]
struct Terminating {
    #[serde(default)]
    metadata: TerminatingMeta,
}

#[derive(serde::Deserialize, Default)]
struct TerminatingMeta {
    #[serde(default, rename = "deletionTimestamp")]
    deletion_timestamp: Option<serde::de::IgnoredAny>,
}

/// Whether a stored Namespace is being deleted. Every create asks, so the
/// bytes are parsed only when they mention the field at all.
fn terminating(stored: &[u8]) -> Result<bool, StatusError> {
    if memchr::memmem::find(stored, b"deletionTimestamp").is_none() {
        return Ok(false);
    }
    let ns: Terminating = serde_json::from_slice(stored)
        .map_err(|e| StatusError::internal(format!("stored namespace is corrupt: {e}")))?;
    Ok(ns.metadata.deletion_timestamp.is_some())
}

impl NamespaceLifecycle {
    /// The plugin's name, as upstream's flags and messages spell it.
    pub const NAME: &'static str = "NamespaceLifecycle";
}

#[async_trait]
impl Plugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn validate(&self, a: &Attributes<'_>) -> Result<(), StatusError> {
        let ns_gr = GroupResource::new("", "namespaces");
        if a.resource == ns_gr {
            if a.operation == Operation::Delete && IMMORTAL.contains(&a.name) {
                return Err(StatusError::forbidden_object(
                    &ns_gr,
                    a.name,
                    "this namespace may not be deleted",
                ));
            }
            return Ok(());
        }
        if a.namespace.is_empty() || a.operation != Operation::Create {
            return Ok(());
        }
        // From the cache, as upstream's lister; a miss is checked live.
        let stored = match self.namespaces.get_cached_json("", a.namespace).await {
            Ok(bytes) => bytes,
            Err(e) if e.code == 404 => {
                return Err(StatusError::not_found(&ns_gr, a.namespace));
            }
            Err(e) => return Err(e),
        };
        if terminating(&stored)? {
            let mut e = StatusError::forbidden_object(
                &a.resource,
                a.name,
                &format!(
                    "unable to create new content in namespace {} because it is being terminated",
                    a.namespace
                ),
            );
            let d = e.details.get_or_insert_with(Default::default);
            d.causes.push(StatusCause {
                kind: "NamespaceTerminating".into(),
                message: format!("namespace {} is being terminated", a.namespace),
                field: "metadata.namespace".into(),
            });
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::terminating;

    #[test]
    fn only_a_deletion_timestamp_in_metadata_means_terminating() {
        let live = br#"{"metadata":{"name":"a","annotations":{"note":"deletionTimestamp"}}}"#;
        assert!(!terminating(live).expect("parses"));
        assert!(!terminating(br#"{"metadata":{"name":"a"}}"#).expect("parses"));
        let going = br#"{"metadata":{"name":"a","deletionTimestamp":"2026-11-27T00:00:00Z"}}"#;
        assert!(terminating(going).expect("parses"));
    }
}
