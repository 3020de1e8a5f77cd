//! Custom resources: the stores an established CRD serves, one per served
//! version over the storage version's objects, with a strategy driven by
//! the version's schema (pruning, defaulting, validation, CEL rules), its `status` and
//! `scale` subresources, generation on every change outside metadata and
//! status, and no strategic merge patch.

use std::sync::Arc;

use kaiser_apimachinery::field::{ErrorKind, ErrorList, FieldError};
use kaiser_apimachinery::managedfields::ResetFields;
use kaiser_apimachinery::table::Column;
use kaiser_registry::scale::ScalePaths;
use kaiser_registry::strategy::StatusStrategy;
use kaiser_registry::{Conversion, ResourceInfo, Store, Strategy};
use kaiser_storage::Storage;
use serde_json::Value;

use crate::conversion::WebhookConverter;
use crate::{cel, crd, jsonpath, schema};
use kaiser_admission::webhook::ServiceResolver;

/// The strategy of one version of a custom resource.
pub struct CustomResourceStrategy {
    /// The version's `openAPIV3Schema`.
    pub schema: Arc<Value>,
    /// Its `x-kubernetes-validations`, ready to run.
    pub rules: cel::Compiled,
    /// Whether `status` is a subresource (then the main resource ignores it).
    pub status: bool,
    /// Table columns: Name, the version's `additionalPrinterColumns` (or
    /// Age when it has none), with the JSONPath each reads.
    pub columns: Vec<Column>,
    pub paths: Vec<String>,
    /// `selectableFields` as field-selector names (`spec.color`).
    pub selectable: Vec<&'static str>,
}

/// Column text lives as long as the server: a CRD's columns are leaked once
/// per installed generation, which stays small.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// The table columns of a CRD version, and the JSONPath of each after Name.
pub fn printer_columns(version: &Value) -> (Vec<Column>, Vec<String>) {
    let mut cols = vec![kaiser_apimachinery::table::NAME_COLUMN];
    let mut paths = Vec::new();
    let given = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if given.is_empty() {
        cols.push(kaiser_apimachinery::table::AGE_COLUMN);
        paths.push(".metadata.creationTimestamp".to_string());
        return (cols, paths);
    }
    for c in given {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        let ty = c.get("type").and_then(Value::as_str).unwrap_or("string");
        let mut col = Column::new(
            leak(name),
            leak(ty),
            leak(c.get("description").and_then(Value::as_str).unwrap_or("")),
        )
        .format(leak(c.get("format").and_then(Value::as_str).unwrap_or("")));
        col.priority = c
            .get("priority")
            .and_then(Value::as_u64)
            .map_or(0, |p| p.min(255) as u8);
        cols.push(col);
        paths.push(
            c.get("jsonPath")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        );
    }
    (cols, paths)
}

/// A cell as upstream's CRD table convertor prints it: dates as ages,
/// numbers as numbers, everything else as its string form.
fn cell(obj: &Value, path: &str, ty: &str) -> Value {
    let Some(v) = jsonpath::first(obj, path) else {
        return Value::Null;
    };
    match (ty, v) {
        ("date", Value::String(ts)) => Value::from(kaiser_apimachinery::time::age(Some(ts))),
        ("integer" | "number", Value::Number(n)) => Value::Number(n.clone()),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        (_, Value::String(s)) => Value::from(s.clone()),
        (_, other) => Value::from(other.to_string()),
    }
}

impl CustomResourceStrategy {
    fn without_meta_and_status<'a>(&self, obj: &'a Value) -> Vec<(&'a String, &'a Value)> {
        obj.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| {
                let ignored = matches!(k.as_str(), "metadata" | "apiVersion" | "kind")
                    || (self.status && k.as_str() == "status");
                !ignored
            })
            .collect()
    }
}

impl CustomResourceStrategy {
    /// A strategy for `schema`.
    pub fn new(schema: Value) -> CustomResourceStrategy {
        let schema = Arc::new(schema);
        CustomResourceStrategy {
            rules: cel::Compiled::new(schema.clone()),
            schema,
            status: false,
            columns: Vec::new(),
            paths: Vec::new(),
            selectable: Vec::new(),
        }
    }

    /// Schema validation (ratcheted on update), then the CEL rules unless
    /// the object's shape is already wrong (upstream's `hasBlockingErr`).
    fn validate_with(&self, obj: &Value, old: Option<&Value>) -> ErrorList {
        let mut errs = match old {
            Some(old) => schema::validate_update(obj, old, &self.schema),
            None => schema::validate(obj, &self.schema),
        };
        let blocking = errs.iter().any(|e| {
            matches!(
                e.kind,
                ErrorKind::NotSupported
                    | ErrorKind::Required
                    | ErrorKind::TooLong
                    | ErrorKind::TooMany
                    | ErrorKind::TypeInvalid
            )
        });
        if blocking {
            errs.push(FieldError::invalid(
                "<nil>",
                Value::Null,
                "some validation rules were not checked because the object was invalid; \
                 correct the existing errors to complete validation",
            ));
        } else {
            errs.extend(self.rules.validate(obj, old));
        }
        errs
    }
}

impl Strategy for CustomResourceStrategy {
    fn default(&self, obj: &mut Value) {
        schema::default(obj, &self.schema);
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if self.status
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if self.status
            && let Some(o) = new.as_object_mut()
        {
            match old.get("status") {
                Some(s) => o.insert("status".into(), s.clone()),
                None => o.remove("status"),
            };
        }
    }

    fn validate(&self, obj: &Value) -> ErrorList {
        self.validate_with(obj, None)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        self.validate_with(new, Some(old))
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    /// Every change outside metadata (and status, when it is a
    /// subresource) is a new generation, as upstream counts for CRs.
    fn spec_changed(&self, new: &Value, old: &Value) -> bool {
        self.without_meta_and_status(new) != self.without_meta_and_status(old)
    }

    fn prune(&self, obj: &mut Value) -> Option<Vec<String>> {
        Some(schema::prune(obj, &self.schema))
    }

    fn strategic_merge(&self) -> bool {
        false
    }

    fn reset_fields(&self) -> ResetFields {
        if self.status {
            ResetFields::Status
        } else {
            ResetFields::None
        }
    }

    fn extra_selectable_fields(&self) -> &[&'static str] {
        &self.selectable
    }

    fn table_columns(&self) -> &[Column] {
        &self.columns
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        let mut row = vec![Value::from(kaiser_apimachinery::meta::name(obj))];
        for (col, path) in self.columns.iter().skip(1).zip(&self.paths) {
            row.push(cell(obj, path, col.kind));
        }
        row
    }

    /// A printer column's JSONPath may name them, or reach them by
    /// recursive descent.
    fn row_reads_managed_fields(&self) -> bool {
        self.paths
            .iter()
            .any(|p| p.contains("managedFields") || p.contains(".."))
    }
}

/// `…/status` of a custom resource: only status changes, and the result is
/// checked against the schema and its CEL rules, as upstream does.
struct CustomStatusStrategy(StatusStrategy);

impl Strategy for CustomStatusStrategy {
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        self.0.prepare_for_update(new, old);
    }

    fn reset_fields(&self) -> ResetFields {
        self.0.reset_fields()
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        self.0.0.validate_update(new, old)
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

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn strings(v: &Value, ptr: &str) -> Vec<String> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// The stores of every served version of an established CRD.
pub fn stores(
    crd_obj: &Value,
    root: &str,
    storage: &Arc<dyn Storage>,
    resolver: Option<Arc<dyn ServiceResolver>>,
    watch_cache: bool,
) -> Vec<Arc<Store>> {
    let group = s(crd_obj, "/spec/group");
    let plural = s(crd_obj, "/spec/names/plural");
    let kind = s(crd_obj, "/spec/names/kind");
    let namespaced = s(crd_obj, "/spec/scope") == "Namespaced";
    let Some(stored) = crd::storage_version(crd_obj) else {
        return Vec::new();
    };
    let singular = match s(crd_obj, "/spec/names/singular") {
        "" => kind.to_lowercase(),
        x => x.to_string(),
    };
    let prefix = format!("{}/{group}/{plural}/", root.trim_end_matches('/'));
    // With several versions any of them may hold objects of another (an
    // older storage version), so every version converts; with one, none.
    let several = crd::versions(crd_obj).len() > 1;
    let webhook = s(crd_obj, "/spec/conversion/strategy") == "Webhook";
    let client = webhook.then(|| WebhookConverter::client(crd_obj, resolver));
    let mut out = Vec::new();
    for v in crd::versions(crd_obj) {
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let version = v.get("name").and_then(Value::as_str).unwrap_or("");
        let mut info = ResourceInfo::new(group, version, plural, kind, namespaced);
        info.singular = singular.clone();
        info.short_names = strings(crd_obj, "/spec/names/shortNames");
        info.categories = strings(crd_obj, "/spec/names/categories");
        info.storage_prefix = prefix.clone();
        info.storage_version = Some((group.to_string(), stored.to_string()));
        info.schema = v.pointer("/schema/openAPIV3Schema").cloned().map(Arc::new);
        if v.get("deprecated").and_then(Value::as_bool) == Some(true) {
            info.deprecation = Some(match v.get("deprecationWarning").and_then(Value::as_str) {
                Some(w) => w.to_string(),
                None => format!("{group}/{version} {kind} is deprecated"),
            });
        }
        let has_status = v.pointer("/subresources/status").is_some();
        let (columns, paths) = printer_columns(v);
        let mut strategy = CustomResourceStrategy::new(
            v.pointer("/schema/openAPIV3Schema")
                .cloned()
                .unwrap_or(Value::Null),
        );
        strategy.status = has_status;
        strategy.columns = columns;
        strategy.paths = paths;
        strategy.selectable = v
            .get("selectableFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
            .map(|p| leak(p.trim_start_matches('.')))
            .collect();
        let strategy: Arc<dyn Strategy> = Arc::new(strategy);
        let mut store = Store::cached_if(info, strategy.clone(), storage.clone(), watch_cache);
        if let Some(client) = &client {
            let converter = WebhookConverter::new(crd_obj, version, stored, client.clone());
            store = store.with_conversion(Conversion::Custom(Arc::new(converter)));
        } else if several || version != stored {
            store = store.with_conversion(Conversion::ApiVersion {
                served: format!("{group}/{version}"),
                stored: format!("{group}/{stored}"),
            });
        }
        if has_status {
            store = store.with_subresource(
                "status",
                Arc::new(CustomStatusStrategy(StatusStrategy(strategy))),
            );
        }
        if let Some(scale) = v.pointer("/subresources/scale") {
            let path = |f: &str| s(scale, &format!("/{f}")).to_string();
            store = store.with_scale(ScalePaths {
                spec_replicas: path("specReplicasPath"),
                status_replicas: path("statusReplicasPath"),
                label_selector: Some(path("labelSelectorPath")).filter(|p| !p.is_empty()),
            });
        }
        out.push(Arc::new(store));
    }
    out
}

/// `(group, version, resource)` keys a CRD's stores are served under.
pub fn keys(crd_obj: &Value) -> Vec<(String, String, String)> {
    let group = s(crd_obj, "/spec/group").to_string();
    let plural = s(crd_obj, "/spec/names/plural").to_string();
    crd::versions(crd_obj)
        .into_iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .map(|v| (group.clone(), v.to_string(), plural.clone()))
        .collect()
}
