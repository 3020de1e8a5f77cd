//! **Aggregator**: the front server of the chain. Owns the APIService
//! registry and what follows from it:
//! - `routes`: the lock-free map of remote group versions, kept current
//!   from the APIService watch;
//! - `proxy`: requests for remote group versions go to their servers
//!   (taken before the body is read, see `kaiser_server::passthrough`);
//! - `autoregister`: local APIServices for built-in and CRD group versions;
//! - `available`: the `Available` condition of every APIService;
//! - `discovery`: legacy and aggregated discovery for the whole chain,
//!   remote groups fetched from their servers;
//! - `openapi`: what remote servers publish, joined to `/openapi/v2` and
//!   `/openapi/v3`.
//!
//! Never depends on the other servers: their stores and the Service
//! resolver are handed in by the binary.

pub mod apiservice;
pub mod autoregister;
pub mod available;
pub mod client;
pub mod discovery;
pub mod headers;
pub mod informer;
pub mod openapi;
pub mod proxy;
pub mod routes;

use std::sync::Arc;

use http::header;
use kaiser_admission::webhook::ServiceResolver;
use kaiser_registry::Store;
use kaiser_server::http::{ApiRequest, Handler, Response, negotiated_response, status_response};
use kaiser_server::negotiation::{self, Negotiated, Target};
use kaiser_server::openapi::RemoteHandle;
use kaiser_server::passthrough::Passthrough;
use kaiser_server::{ResourceTable, discovery as local};
use tokio::sync::watch;

use crate::apiservice::ApiService;
use crate::available::Availability;
use crate::client::Connector;
use crate::informer::{Cache, Change};
use crate::routes::{ClientCert, Routes};

#[derive(Debug, thiserror::Error)]
pub enum AggregatorError {
    #[error("the proxy client certificate cannot be used: {0}")]
    ClientCert(String),
}

/// What the binary hands the aggregator.
pub struct Config {
    /// The tables of every local server, in priority order.
    pub tables: Vec<Arc<ResourceTable>>,
    /// `host:port` clients should use, for `/api`.
    pub server_address: String,
    pub api_services: Arc<Store>,
    pub services: Arc<Store>,
    pub endpoint_slices: Arc<Store>,
    pub crds: Arc<Store>,
    /// Turns a Service into an address (endpoints or cluster IP).
    pub resolver: Arc<dyn ServiceResolver>,
    /// PEM certificate chain and key the proxy presents to backends.
    pub proxy_client: ClientCert,
    /// Where remote OpenAPI documents go.
    pub openapi: RemoteHandle,
}

/// The aggregator's state and controllers.
pub struct Aggregator {
    tables: Vec<Arc<ResourceTable>>,
    server_address: String,
    routes: Arc<Routes>,
    proxy_client: ClientCert,
    api_services: Arc<Store>,
    resolver: Arc<dyn ServiceResolver>,
    connector: Arc<Connector>,
    discovery: Arc<discovery::RemoteDiscovery>,
    openapi: Arc<openapi::RemoteOpenApi>,
    availability: Arc<Availability>,
    autoregister: Arc<autoregister::AutoRegister>,
}

impl Aggregator {
    /// Builds the aggregator; the built-in group versions registered as
    /// local APIServices are those the tables serve now (before any CRD).
    pub fn new(c: Config) -> Result<Arc<Aggregator>, AggregatorError> {
        let client = c
            .proxy_client
            .as_ref()
            .map(|(a, b)| (a.as_slice(), b.as_slice()));
        let check_tls = kaiser_admission::webhook::tls_client_config(None, client, true)
            .map_err(|e| AggregatorError::ClientCert(e.to_string()))?;
        let routes = Arc::new(Routes::default());
        let connector = Arc::new(Connector::default());
        let served: Vec<(String, String)> = c
            .tables
            .iter()
            .flat_map(|t| t.all())
            .map(|s| (s.info.group.clone(), s.info.version.clone()))
            .collect();
        let availability = Arc::new(Availability {
            api_services: c.api_services.clone(),
            services: c.services,
            endpoint_slices: c.endpoint_slices,
            routes: routes.clone(),
            resolver: c.resolver.clone(),
            connector: connector.clone(),
            check_tls,
            queue: Arc::default(),
        });
        Ok(Arc::new(Aggregator {
            discovery: Arc::new(discovery::RemoteDiscovery::new(
                routes.clone(),
                c.resolver.clone(),
                connector.clone(),
            )),
            openapi: Arc::new(openapi::RemoteOpenApi::new(
                c.openapi,
                routes.clone(),
                c.resolver.clone(),
                connector.clone(),
            )),
            autoregister: Arc::new(autoregister::AutoRegister::new(
                c.api_services.clone(),
                c.crds,
                autoregister::builtin(&served),
            )),
            availability,
            tables: c.tables,
            server_address: c.server_address,
            routes,
            proxy_client: c.proxy_client,
            api_services: c.api_services,
            resolver: c.resolver,
            connector,
        }))
    }

    /// The proxy, for the generic server to call before bodies are read.
    pub fn passthrough(self: &Arc<Self>) -> Arc<dyn Passthrough> {
        let availability = self.availability.queue.clone();
        Arc::new(proxy::Proxy {
            routes: self.routes.clone(),
            resolver: self.resolver.clone(),
            connector: self.connector.clone(),
            unreachable: Arc::new(move |name: &str| availability.add(name)),
        })
    }

    /// Starts the APIService watch and the controllers; they stop when
    /// `shutdown` turns true.
    pub fn start(self: &Arc<Self>, shutdown: watch::Receiver<bool>) {
        let me = self.clone();
        let mut cache = Cache::default();
        tokio::spawn(informer::list_watch(
            self.api_services.clone(),
            move |c: Change<'_>| {
                let touched = cache.apply(&c);
                let all: Vec<ApiService> =
                    cache.objects.values().map(ApiService::from_json).collect();
                me.routes.set(all, &me.proxy_client);
                for name in touched {
                    me.availability.queue.add(&name);
                    me.discovery.queue.add(&name);
                    me.openapi.queue.add(&name);
                    me.autoregister.queue.add(&name);
                }
            },
            shutdown.clone(),
        ));
        tokio::spawn(self.availability.clone().run(shutdown.clone()));
        tokio::spawn(self.discovery.clone().run(shutdown.clone()));
        tokio::spawn(self.openapi.clone().run(shutdown.clone()));
        tokio::spawn(self.autoregister.clone().run(shutdown));
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

    fn remote(&self) -> Vec<ApiService> {
        self.routes
            .remote()
            .iter()
            .map(|r| r.api_service.clone())
            .collect()
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
                let aggregated = |v: &str| {
                    if core {
                        local::aggregated(&stores, true, v)
                    } else {
                        discovery::aggregated(
                            &stores,
                            &self.remote(),
                            &self.discovery.versions(),
                            v,
                        )
                    }
                };
                let doc = match n.target {
                    Target::DiscoveryV2 => aggregated("apidiscovery.k8s.io/v2"),
                    Target::DiscoveryV2Beta1 => aggregated("apidiscovery.k8s.io/v2beta1"),
                    _ if core => local::api_versions(&stores, &self.server_address),
                    _ => discovery::api_group_list(&stores, &self.remote()),
                };
                (doc, n)
            }
            ["api", version] => (local::resource_list(&stores, "", version)?, plain(accept)?),
            ["apis", group] => (
                discovery::api_group(&stores, &self.remote(), group)
                    .or_else(|| local::api_group(&stores, group))?,
                plain(accept)?,
            ),
            ["apis", group, version] => (
                local::resource_list(&stores, group, version)?,
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
