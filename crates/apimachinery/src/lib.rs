//! kaiser's API machinery: names, errors, selectors, options, patches and
//! body formats for Kubernetes objects held as JSON values.
//!
//! Owns pure logic only: no I/O, no tokio, no HTTP.

pub mod cel;
pub mod codec;
pub mod field;
pub mod fields;
pub mod gvk;
pub mod labels;
pub mod list;
pub mod managedfields;
pub mod meta;
pub mod patch;
pub mod protobuf;
pub mod quantity;
pub mod schema;
pub mod status;
pub mod strategic;
pub mod table;
pub mod time;
pub mod uid;
pub mod validation;

pub use gvk::{GroupResource, GroupVersion};
pub use status::{Result, StatusError};
