//! **KubeAPIServer**: the built-in resources, their strategies, the
//! bootstrap objects and the in-process controllers that upstream's
//! control plane runs for them (namespace finalization).
//!
//! Knows nothing of CRDs or the aggregator; reaches clients only through
//! the generic server's handlers.

pub mod core;
mod namespace_controller;
pub mod validation;

use std::sync::Arc;

use kaiser_admission::{Chain, NamespaceLifecycle};
use kaiser_apimachinery::StatusError;
use kaiser_registry::strategy::StatusStrategy;
use kaiser_registry::{ResourceInfo, Store, Strategy};
use kaiser_server::{Handler, ResourceTable, Scope, chain};
use kaiser_storage::Storage;
use serde_json::json;
use tokio::sync::watch;

/// The namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The built-in API server.
pub struct KubeApiServer {
    pub table: Arc<ResourceTable>,
    pub namespaces: Arc<Store>,
}

fn store(
    info: ResourceInfo,
    strategy: impl Strategy + 'static,
    storage: &Arc<dyn Storage>,
) -> Arc<Store> {
    Arc::new(Store::cached(info, Arc::new(strategy), storage.clone()))
}

impl KubeApiServer {
    /// Builds the resource table over `storage`, with keys under `root`
    /// (`--etcd-prefix`, `/registry` by default).
    pub fn new(storage: Arc<dyn Storage>, root: &str) -> Self {
        let ns_strategy: Arc<dyn Strategy> = Arc::new(core::namespace::NamespaceStrategy);
        let namespaces = Arc::new(
            Store::cached(
                core::namespace::info().storage_root(root),
                ns_strategy.clone(),
                storage.clone(),
            )
            .with_subresource("status", Arc::new(StatusStrategy(ns_strategy)))
            .with_subresource(
                "finalize",
                Arc::new(core::namespace::NamespaceFinalizeStrategy),
            ),
        );
        let table = Arc::new(ResourceTable::new());
        table.insert(vec![
            store(
                core::configmap::info().storage_root(root),
                core::configmap::ConfigMapStrategy,
                &storage,
            ),
            store(
                core::event::info().storage_root(root),
                core::event::EventStrategy,
                &storage,
            ),
            namespaces.clone(),
            store(
                core::secret::info().storage_root(root),
                core::secret::SecretStrategy,
                &storage,
            ),
            store(
                core::serviceaccount::info().storage_root(root),
                core::serviceaccount::ServiceAccountStrategy,
                &storage,
            ),
        ]);
        KubeApiServer { table, namespaces }
    }

    /// The admission plugins for the whole chain.
    pub fn admission(&self) -> Chain {
        Chain::new(vec![Arc::new(NamespaceLifecycle::new(
            self.namespaces.clone(),
        ))])
    }

    /// Serves the built-in resources; everything else goes to `delegate`.
    pub fn handler(&self, scope: Scope, delegate: Handler) -> Handler {
        chain::resource_server(self.table.clone(), scope, delegate)
    }

    /// Creates the system namespaces when missing (a post-start hook).
    pub async fn bootstrap(&self) -> Result<(), StatusError> {
        for ns in SYSTEM_NAMESPACES {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            match self.namespaces.create(obj, &|_, _| Ok(()), false).await {
                Ok(_) => tracing::info!(namespace = ns, "created system namespace"),
                Err(e) if e.reason == "AlreadyExists" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Starts the in-process controllers; they stop when `shutdown` turns true.
    pub fn start_controllers(
        &self,
        content: Vec<Arc<ResourceTable>>,
        shutdown: watch::Receiver<bool>,
    ) {
        tokio::spawn(namespace_controller::run(
            self.namespaces.clone(),
            content,
            shutdown,
        ));
    }
}
