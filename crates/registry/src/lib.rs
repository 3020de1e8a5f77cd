//! kaiser's generic registry: the REST store every resource is served
//! through, the `Strategy` trait for per-resource rules, and `ResourceInfo`.
//!
//! Sits on `storage`; knows nothing of HTTP.

pub mod hooks;
pub mod resource;
pub mod scale;
pub mod store;
pub mod strategy;
pub mod watch;

pub use hooks::WriteHooks;
pub use resource::ResourceInfo;
pub use store::{
    AdmitFn, Conversion, Converter, DeleteOptions, Deleted, JsonList, Store, WriteOptions,
    splice_revision_last, write_partial_metadata,
};
pub use strategy::{DefaultStrategy, Strategy};
pub use watch::{ObjectWatch, WatchEvent};
