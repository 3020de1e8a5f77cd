//! **Aggregator**: the front server of the chain. Owns discovery for the
//! whole chain (legacy `/api`, `/apis` and their group and version documents,
//! and aggregated discovery), merged from every server's resource table.
//! Remote APIServices and proxying arrive with the aggregator work.

use std::sync::Arc;

use http::header;
use kaiser_server::http::{ApiRequest, Handler, Response, negotiated_response, status_response};
use kaiser_server::negotiation::{self, Negotiated, Target};
use kaiser_server::{ResourceTable, discovery};

/// The aggregator's view of the servers behind it.
pub struct Aggregator {
    /// The tables of every local server, in priority order.
    tables: Vec<Arc<ResourceTable>>,
    /// `host:port` clients should use, for `/api`.
    server_address: String,
}

impl Aggregator {
    pub fn new(tables: Vec<Arc<ResourceTable>>, server_address: String) -> Self {
        Aggregator {
            tables,
            server_address,
        }
    }

    /// Serves discovery; everything else goes to `delegate`.
    pub fn handler(self: Arc<Self>, delegate: Handler) -> Handler {
        Arc::new(move |req: ApiRequest| {
            if req.info.is_resource_request || req.parts.method != http::Method::GET {
                return delegate(req);
            }
            match self.discovery(&req) {
                Some(resp) => Box::pin(async move { resp }),
                None => delegate(req),
            }
        })
    }

    fn discovery(&self, req: &ApiRequest) -> Option<Response> {
        let path = req.info.path.trim_end_matches('/');
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let stores: Vec<_> = self.tables.iter().flat_map(|t| t.all()).collect();
        let accept = req.header(header::ACCEPT);
        let pretty = req.pretty();
        let (doc, n) = match segments.as_slice() {
            ["api"] | ["apis"] => {
                let core = segments[0] == "api";
                let n = match negotiation::negotiate(accept, negotiation::DISCOVERY) {
                    Ok(n) => n,
                    Err(e) => return Some(status_response(&e)),
                };
                let doc = match n.target {
                    Target::DiscoveryV2 => {
                        discovery::aggregated(&stores, core, "apidiscovery.k8s.io/v2")
                    }
                    Target::DiscoveryV2Beta1 => {
                        discovery::aggregated(&stores, core, "apidiscovery.k8s.io/v2beta1")
                    }
                    _ if core => discovery::api_versions(&stores, &self.server_address),
                    _ => discovery::api_group_list(&stores),
                };
                (doc, n)
            }
            ["api", version] => (
                discovery::resource_list(&stores, "", version)?,
                plain(accept)?,
            ),
            ["apis", group] => (discovery::api_group(&stores, group)?, plain(accept)?),
            ["apis", group, version] => (
                discovery::resource_list(&stores, group, version)?,
                plain(accept)?,
            ),
            _ => return None,
        };
        let mut resp = negotiated_response(200, &doc, n, pretty);
        resp.headers_mut()
            .insert(header::VARY, http::HeaderValue::from_static("Accept"));
        Some(resp)
    }
}

fn plain(accept: Option<&str>) -> Option<Negotiated> {
    Some(negotiation::negotiate(accept, negotiation::PLAIN).unwrap_or(Negotiated::JSON))
}
