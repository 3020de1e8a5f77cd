//! **APIExtensionsServer**: the last server in the chain. Serves the custom
//! resources of established CRDs from its own resource table and hands
//! everything else to the final 404.
//!
//! The CRD kind itself, its controllers and custom-resource schemas arrive
//! with the CRD work; the table and the delegation are here from the start.

use std::sync::Arc;

use kaiser_server::{Handler, ResourceTable, Scope, chain};

/// The extensions server.
#[derive(Default)]
pub struct ApiExtensionsServer {
    /// Custom resources currently served; CRDs add and remove entries.
    pub table: Arc<ResourceTable>,
}

impl ApiExtensionsServer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves custom resources; everything else goes to `delegate`.
    pub fn handler(&self, scope: Scope, delegate: Handler) -> Handler {
        chain::resource_server(self.table.clone(), scope, delegate)
    }
}
pub mod schema;
