//! `WriteHooks`: the asynchronous work around a write that a pure strategy
//! cannot do, such as allocating a Service's cluster IPs and node ports
//! (upstream's begin-create/begin-update hooks of the service registry).

use async_trait::async_trait;
use kaiser_apimachinery::StatusError;
use serde_json::Value;

#[async_trait]
pub trait WriteHooks: Send + Sync {
    /// Runs after defaulting and validation, before the storage write of a
    /// create (`old` is `None`) or an update; may fill in `new`. A dry run
    /// checks without reserving anything.
    async fn before_write(
        &self,
        new: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> Result<(), StatusError>;

    /// Runs after the write of a non-dry-run `before_write`: on success it
    /// releases what only `old` held, on failure what only `new` took.
    async fn after_write(&self, new: &Value, old: Option<&Value>, written: bool);

    /// Runs once the object is gone from storage.
    async fn after_delete(&self, obj: &Value);
}
