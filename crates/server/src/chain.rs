//! Delegation: a server that serves the resources in its table and hands
//! every other request to the next server; the chain ends in a 404 `Status`.

use std::sync::Arc;

use crate::handlers::{self, Scope};
use crate::http::{ApiRequest, Handler, status_response};
use crate::resource_table::ResourceTable;
use kaiser_apimachinery::StatusError;

/// The end of the chain: nobody serves this path.
pub fn not_found() -> Handler {
    Arc::new(|_req: ApiRequest| Box::pin(async { status_response(&StatusError::path_not_found()) }))
}

/// Serves resource requests found in `table`; delegates the rest.
pub fn resource_server(table: Arc<ResourceTable>, scope: Scope, delegate: Handler) -> Handler {
    Arc::new(move |req: ApiRequest| {
        let i = &req.info;
        let store = if i.is_resource_request {
            table.lookup(&i.api_group, &i.api_version, &i.resource)
        } else {
            None
        };
        match store {
            Some(store) => {
                let scope = scope.clone();
                Box::pin(async move { handlers::serve(store, &scope, req).await })
            }
            None => delegate(req),
        }
    })
}
