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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::text_response;
    use crate::request_info;
    use http_body_util::BodyExt;

    fn request(path: &str) -> ApiRequest {
        let (parts, _) = http::Request::get(path)
            .body(())
            .expect("request")
            .into_parts();
        ApiRequest {
            info: request_info::parse(&parts.method, path, false),
            parts,
            body: bytes::Bytes::new(),
            user: kaiser_auth::anonymous(),
            query: Vec::new(),
        }
    }

    #[tokio::test]
    async fn unknown_resources_are_delegated_and_the_chain_ends_in_404() {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let scope = Scope {
            admission: kaiser_admission::Chain::default(),
            shutdown: rx,
            delete_collection_workers: 1,
            garbage_collector: true,
        };
        let teapot: Handler = Arc::new(|_req| Box::pin(async { text_response(418, "delegated") }));
        let server = resource_server(Arc::new(ResourceTable::new()), scope.clone(), teapot);
        let resp = server(request("/api/v1/namespaces/a/widgets")).await;
        assert_eq!(resp.status(), 418);

        let last = resource_server(Arc::new(ResourceTable::new()), scope, not_found());
        let resp = last(request("/apis/example.com/v1/things")).await;
        assert_eq!(resp.status(), 404);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let status: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["reason"], "NotFound");
    }
}
