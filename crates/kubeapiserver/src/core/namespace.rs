//! Namespaces: the `kubernetes` finalizer, the Terminating phase, and the
//! finalize strategy the namespace controller writes through.

use kaiser_apimachinery::meta;
use kaiser_apimachinery::table::Column;
use kaiser_apimachinery::validation::{NameValidator, name_is_dns_label};
use kaiser_registry::{ResourceInfo, Strategy};
use serde_json::{Value, json};

use super::{AGE, NAME, age_cell};

/// The finalizer the namespace controller removes once the namespace is empty.
pub const FINALIZER: &str = "kubernetes";
/// The label every namespace carries with its own name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub fn info() -> ResourceInfo {
    ResourceInfo::new("", "v1", "namespaces", "Namespace", false)
        .short_names(&["ns"])
        .verbs(&[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ])
}

pub struct NamespaceStrategy;

const COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Status",
        "string",
        "Active, or Terminating while being deleted.",
    ),
    AGE,
];

fn spec_finalizers(obj: &Value) -> Vec<Value> {
    obj.pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn set_name_label(obj: &mut Value) {
    let name = meta::name(obj).to_string();
    if name.is_empty() {
        return;
    }
    let m = meta::metadata_mut(obj);
    let labels = m.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    labels[NAME_LABEL] = Value::from(name);
}

impl Strategy for NamespaceStrategy {
    fn name_validator(&self) -> NameValidator {
        name_is_dns_label
    }

    fn default(&self, obj: &mut Value) {
        set_name_label(obj);
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let mut fins = spec_finalizers(obj);
        if !fins.iter().any(|f| f == FINALIZER) {
            fins.push(Value::from(FINALIZER));
        }
        obj["spec"] = json!({ "finalizers": fins });
        obj["status"] = json!({ "phase": "Active" });
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // Status and spec.finalizers change only through their own paths.
        new["status"] = old
            .get("status")
            .cloned()
            .unwrap_or_else(|| json!({"phase": "Active"}));
        let mut spec = new
            .get("spec")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        spec["finalizers"] = Value::Array(spec_finalizers(old));
        new["spec"] = spec;
    }

    fn return_deleted_object(&self) -> bool {
        true
    }

    fn begin_graceful_delete(&self, obj: &mut Value) -> bool {
        if spec_finalizers(obj).is_empty() {
            return false;
        }
        obj["status"] = json!({ "phase": "Terminating" });
        true
    }

    fn has_pending_finalizers(&self, obj: &Value) -> bool {
        !spec_finalizers(obj).is_empty()
    }

    fn extra_selectable_fields(&self) -> &[&'static str] {
        &["status.phase"]
    }

    fn table_columns(&self) -> &[Column] {
        COLUMNS
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        let phase = obj
            .pointer("/status/phase")
            .cloned()
            .unwrap_or_else(|| Value::from(""));
        vec![Value::from(meta::name(obj)), phase, age_cell(obj)]
    }
}

/// The `finalize` path: only `spec.finalizers` may change.
pub struct NamespaceFinalizeStrategy;

impl Strategy for NamespaceFinalizeStrategy {
    fn name_validator(&self) -> NameValidator {
        name_is_dns_label
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let fins = spec_finalizers(new);
        let mut out = old.clone();
        out["spec"]["finalizers"] = Value::Array(fins);
        meta::set_str(&mut out, "resourceVersion", meta::resource_version(new));
        *new = out;
    }

    fn has_pending_finalizers(&self, obj: &Value) -> bool {
        !spec_finalizers(obj).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        let s = NamespaceStrategy;
        let mut ns = json!({"metadata": {"name": "a"}});
        s.default(&mut ns);
        s.prepare_for_create(&mut ns);
        assert_eq!(ns["metadata"]["labels"][NAME_LABEL], "a");
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        let mut upd = json!({"metadata": {"name": "a"}, "spec": {"finalizers": []}, "status": {"phase": "x"}});
        s.prepare_for_update(&mut upd, &ns);
        assert_eq!(upd["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(upd["status"]["phase"], "Active");
        assert!(s.begin_graceful_delete(&mut ns));
        assert_eq!(ns["status"]["phase"], "Terminating");
        let mut fin = json!({"spec": {"finalizers": []}});
        NamespaceFinalizeStrategy.prepare_for_update(&mut fin, &ns);
        assert_eq!(fin["status"]["phase"], "Terminating");
        assert!(!NamespaceFinalizeStrategy.has_pending_finalizers(&fin));
    }
}
