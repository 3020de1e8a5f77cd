//! kaiser's generic API server: TLS and HTTP serving, the filter chain,
//! request info, content negotiation, the generic verb handlers and watch
//! streaming, discovery and OpenAPI documents, health checks, delegation
//! between servers and graceful shutdown.
//!
//! The only crate that speaks incoming HTTP. Knows no particular resource:
//! servers register stores in a [`ResourceTable`].

pub mod audit;
pub mod chain;
pub mod discovery;
pub mod fieldmanager;
pub mod generic;
pub mod handlers;
pub mod healthz;
pub mod http;
pub mod listing;
pub mod negotiation;
pub mod openapi;
pub mod passthrough;
pub mod request_info;
pub mod resource_table;
pub mod serve;

pub use generic::GenericServer;
pub use handlers::Scope;
pub use http::{ApiRequest, Handler, Response};
pub use resource_table::ResourceTable;
