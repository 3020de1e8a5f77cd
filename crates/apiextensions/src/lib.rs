//! **APIExtensionsServer**: the last server in the chain. Serves
//! CustomResourceDefinitions (`crd.rs`) and the custom resources of every
//! established CRD (`custom.rs`) from its own resource table, kept current
//! by in-process controllers (`controller.rs`); hands everything else to
//! the final 404. `schema/` prunes, defaults and validates custom resources
//! against a CRD's structural schema; `cel.rs` checks and evaluates its
//! `x-kubernetes-validations` rules.

pub mod cel;
pub mod controller;
pub mod conversion;
pub mod crd;
pub mod custom;
pub mod jsonpath;
pub mod schema;
pub mod validation;

use std::sync::Arc;

use kaiser_admission::webhook::ServiceResolver;
use kaiser_registry::{Store, Strategy};
use kaiser_server::{Handler, ResourceTable, Scope, chain};
use kaiser_storage::Storage;
use tokio::sync::watch;

/// The extensions server.
pub struct ApiExtensionsServer {
    /// CRDs and the custom resources currently served.
    pub table: Arc<ResourceTable>,
    pub crds: Arc<Store>,
    storage: Arc<dyn Storage>,
    root: String,
    /// Reaches conversion webhooks named by a Service.
    resolver: Option<Arc<dyn ServiceResolver>>,
    /// `--watch-cache`: CRDs and custom resources read through watch caches.
    watch_cache: bool,
}

impl ApiExtensionsServer {
    /// Serves CRDs over `storage`, keys under `root` (`--etcd-prefix`),
    /// with watch caches unless `watch_cache` is off.
    pub fn new(storage: Arc<dyn Storage>, root: &str, watch_cache: bool) -> Self {
        let strategy: Arc<dyn Strategy> = Arc::new(crd::CrdStrategy);
        let crds = Arc::new(
            Store::cached_if(
                crd::info(root),
                strategy.clone(),
                storage.clone(),
                watch_cache,
            )
            .with_subresource("status", Arc::new(crd::CrdStatusStrategy)),
        );
        let table = Arc::new(ResourceTable::new());
        table.insert(vec![crds.clone()]);
        ApiExtensionsServer {
            table,
            crds,
            storage,
            root: root.to_string(),
            resolver: None,
            watch_cache,
        }
    }

    /// Lets conversion webhooks be named by a Service.
    pub fn with_service_resolver(mut self, resolver: Option<Arc<dyn ServiceResolver>>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Serves CRDs and custom resources; everything else goes to `delegate`.
    pub fn handler(&self, scope: Scope, delegate: Handler) -> Handler {
        chain::resource_server(self.table.clone(), scope, delegate)
    }

    /// Starts the CRD controllers; they stop when `shutdown` turns true.
    /// A CRD's deletion deletes its objects `delete_collection_workers` at
    /// a time.
    pub fn start_controllers(
        &self,
        delete_collection_workers: usize,
        shutdown: watch::Receiver<bool>,
    ) {
        let c = controller::CrdController {
            crds: self.crds.clone(),
            table: self.table.clone(),
            storage: self.storage.clone(),
            root: self.root.clone(),
            resolver: self.resolver.clone(),
            watch_cache: self.watch_cache,
            delete_collection_workers,
            installed: Default::default(),
        };
        tokio::spawn(c.run(shutdown));
    }
}
