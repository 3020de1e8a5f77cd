//! The per-resource rules the generic store consults: defaulting, preparing,
//! validation, selectable fields and table columns. Synchronous and pure.

use kaiser_apimachinery::field::ErrorList;
use kaiser_apimachinery::managedfields::ResetFields;
use kaiser_apimachinery::meta;
use kaiser_apimachinery::table::{Column, NAME_COLUMN};
use kaiser_apimachinery::validation::{NameValidator, name_is_dns_subdomain};
use serde_json::Value;

/// Upstream's default table: name and creation time.
pub const DEFAULT_COLUMNS: &[Column] = &[
    NAME_COLUMN,
    Column::new(
        "Created At",
        "date",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ),
];

/// Everything resource-specific; each method has upstream's generic default.
pub trait Strategy: Send + Sync {
    /// How `metadata.name` is checked.
    fn name_validator(&self) -> NameValidator {
        name_is_dns_subdomain
    }

    /// A name for an object created with `metadata.generateName` (upstream's
    /// strategies carry a name generator): the base plus random characters.
    fn generate_name(&self, base: &str) -> String {
        crate::store::random_name(base)
    }

    /// Fills in defaults (on create, update and patch).
    fn default(&self, _obj: &mut Value) {}

    /// Resets what clients may not set on create (status, generation …).
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Carries over what clients may not change on update.
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// Type-specific validation of a new object (metadata is checked already).
    fn validate(&self, _obj: &Value) -> ErrorList {
        ErrorList::new()
    }

    /// Type-specific validation of an update.
    fn validate_update(&self, new: &Value, _old: &Value) -> ErrorList {
        self.validate(new)
    }

    /// Whether `metadata.generation` is kept: 1 on create, and one more on
    /// each update that [`Strategy::spec_changed`] says changed the spec.
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Whether an update changed what `generation` counts (the spec).
    fn spec_changed(&self, new: &Value, old: &Value) -> bool {
        new.get("spec") != old.get("spec")
    }

    /// Whether PUT on a missing object creates it.
    fn allow_create_on_update(&self) -> bool {
        false
    }

    /// Whether DELETE answers with the object instead of a `Status`.
    fn return_deleted_object(&self) -> bool {
        false
    }

    /// Marks an object as being deleted when something must finish first
    /// (beyond `metadata.finalizers`); returns whether it did.
    fn begin_graceful_delete(&self, _obj: &mut Value) -> bool {
        false
    }

    /// Whether a deleting object still waits for something besides
    /// `metadata.finalizers` (a namespace's `spec.finalizers`).
    fn has_pending_finalizers(&self, _obj: &Value) -> bool {
        false
    }

    /// Field names a field selector may use, beyond `metadata.name` and
    /// `metadata.namespace`.
    fn extra_selectable_fields(&self) -> &[&'static str] {
        &[]
    }

    /// The value of a selectable field.
    fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(meta::name(obj).to_string()),
            "metadata.namespace" => Some(meta::namespace(obj).to_string()),
            _ => lookup_path(obj, field),
        }
    }

    /// Drops the fields the kind's own schema does not declare and returns
    /// their paths; `None` when the built-in schemas (by definition name)
    /// apply, as for every built-in kind.
    fn prune(&self, _obj: &mut Value) -> Option<Vec<String>> {
        None
    }

    /// Whether PATCH accepts strategic merge patches (custom resources do
    /// not, as upstream).
    fn strategic_merge(&self) -> bool {
        true
    }

    /// The fields every write through this strategy resets, which no
    /// field manager owns through it (upstream's `GetResetFields`).
    fn reset_fields(&self) -> ResetFields {
        ResetFields::None
    }

    fn table_columns(&self) -> &[Column] {
        DEFAULT_COLUMNS
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        let ts = meta::str_field(obj, "creationTimestamp");
        vec![Value::from(meta::name(obj)), Value::from(ts)]
    }

    /// Whether `table_row` may read `metadata.managedFields`; when not, a
    /// row's cells are worked out from the object without them.
    fn row_reads_managed_fields(&self) -> bool {
        false
    }
}

/// Reads a dotted path such as `spec.type` as a string.
pub fn lookup_path(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A strategy with only upstream's defaults.
pub struct DefaultStrategy;

impl Strategy for DefaultStrategy {}

/// A status write as upstream's status strategies of built-in kinds (and
/// of CRDs themselves) do it: the spec (every field but `metadata` and
/// `status`) stays as stored, while metadata changes are kept, except the
/// `kept` fields, which stay as stored too. (Custom resources reset all but
/// `status`: that is [`StatusStrategy`].)
pub fn status_write(new: &mut Value, old: &Value, kept: &[&str]) {
    let (Some(n), Some(o)) = (new.as_object_mut(), old.as_object()) else {
        return;
    };
    let spec_side = |k: &str| !matches!(k, "metadata" | "status" | "apiVersion" | "kind");
    n.retain(|k, _| !spec_side(k));
    for (k, v) in o.iter().filter(|(k, _)| spec_side(k)) {
        n.insert(k.clone(), v.clone());
    }
    meta::keep_fields(new, old, kept);
}

/// The `status` subresource of a kind: writes change `status` only.
pub struct StatusStrategy(pub std::sync::Arc<dyn Strategy>);

impl Strategy for StatusStrategy {
    fn name_validator(&self) -> NameValidator {
        self.0.name_validator()
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let status = new.get("status").cloned();
        let rv = meta::resource_version(new).to_string();
        // The entries were computed for this write already.
        let managed = meta::metadata(new)
            .and_then(|m| m.get("managedFields"))
            .cloned();
        let mut out = old.clone();
        match (out.as_object_mut(), status) {
            (Some(o), Some(st)) => {
                o.insert("status".into(), st);
            }
            (Some(o), None) => {
                o.remove("status");
            }
            _ => {}
        }
        meta::set_str(&mut out, "resourceVersion", &rv);
        let m = meta::metadata_mut(&mut out);
        match managed {
            Some(mf) => {
                m.insert("managedFields".into(), mf);
            }
            None => {
                m.shift_remove("managedFields");
            }
        }
        *new = out;
    }

    fn validate_update(&self, _new: &Value, _old: &Value) -> ErrorList {
        ErrorList::new()
    }

    fn reset_fields(&self) -> ResetFields {
        ResetFields::AllButStatus
    }

    fn has_pending_finalizers(&self, obj: &Value) -> bool {
        self.0.has_pending_finalizers(obj)
    }

    fn table_columns(&self) -> &[Column] {
        self.0.table_columns()
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        self.0.table_row(obj)
    }

    fn row_reads_managed_fields(&self) -> bool {
        self.0.row_reads_managed_fields()
    }
}
