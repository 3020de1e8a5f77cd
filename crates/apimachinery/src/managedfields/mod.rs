//! Server-side apply and `metadata.managedFields`: field sets and their
//! FieldsV1 form (`set`, `path`), the type model compiled from schemas
//! (`schema`), the walks that merge, compare and prune values (`typed`),
//! managed-fields entries (`entries`), the field manager that records
//! updates and performs applies (`manager`), and the `scale` subresource's
//! view of the entries (`scale`).
//!
//! Upstream's specification is sigs.k8s.io/structured-merge-diff (v4) and
//! k8s.io/apimachinery/pkg/util/managedfields; this is our own code. Pure
//! functions only: no I/O.

pub mod entries;
pub mod manager;
pub mod path;
pub mod scale;
pub mod schema;
pub mod set;
pub mod typed;

pub use entries::{Entry, Operation};
pub use manager::{FieldManager, ResetFields};
pub use path::{Path, PathElement};
pub use schema::TypeSchema;
pub use set::Set;
pub use typed::Typed;

#[cfg(test)]
mod tests;
