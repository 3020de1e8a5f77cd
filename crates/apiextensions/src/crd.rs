//! The CustomResourceDefinition resource (`apiextensions.k8s.io/v1`): its
//! discovery entry and strategy — v1 defaults, the cleanup finalizer and
//! initial status on create, stored versions and generation on update;
//! the validation of the definition itself is `validation.rs`.

use kaiser_apimachinery::field::ErrorList;
use kaiser_apimachinery::managedfields::ResetFields;
use kaiser_apimachinery::table::Column;
use kaiser_apimachinery::{meta, time};
use kaiser_registry::strategy::status_write;
use kaiser_registry::{ResourceInfo, Strategy};
use serde_json::{Value, json};

use crate::validation;

pub const GROUP: &str = "apiextensions.k8s.io";
/// Held by every CRD until its custom resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub fn info(root: &str) -> ResourceInfo {
    ResourceInfo::new(
        GROUP,
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    )
    .short_names(&["crd", "crds"])
    .categories(&["api-extensions"])
    .group_storage_root(root)
}

pub struct CrdStrategy;

const COLUMNS: &[Column] = &[
    kaiser_apimachinery::table::NAME_COLUMN,
    Column::new("Created At", "date", "When the definition was created."),
];

fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The served versions of a CRD, in the order it lists them.
pub fn versions(crd: &Value) -> Vec<&Value> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default()
}

/// The version objects are stored in.
pub fn storage_version(crd: &Value) -> Option<&str> {
    versions(crd)
        .into_iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").and_then(Value::as_str))
}

impl Strategy for CrdStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        let stored: Vec<Value> = storage_version(obj)
            .map(|v| vec![json!(v)])
            .unwrap_or_default();
        obj["status"] =
            json!({"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": stored});
        let m = meta::metadata_mut(obj);
        let fins = m.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(f) = fins.as_array_mut()
            && !f.iter().any(|x| x.as_str() == Some(CLEANUP_FINALIZER))
        {
            f.push(json!(CLEANUP_FINALIZER));
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        match old.get("status") {
            Some(st) => new["status"] = st.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        // A new storage version joins the versions ever stored.
        if let Some(v) = storage_version(new).map(str::to_string)
            && let Some(list) = new
                .pointer_mut("/status/storedVersions")
                .and_then(Value::as_array_mut)
            && !list.iter().any(|x| x.as_str() == Some(&v))
        {
            list.push(json!(v));
        }
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    /// Upstream's v1 defaults: singular and list kind from the kind, the
    /// `None` conversion, port 443 for a conversion service.
    fn default(&self, crd: &mut Value) {
        let kind = s(crd, "/spec/names/kind").to_string();
        if let Some(names) = crd
            .pointer_mut("/spec/names")
            .and_then(Value::as_object_mut)
        {
            if names
                .get("singular")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                names.insert("singular".into(), json!(kind.to_lowercase()));
            }
            if !kind.is_empty()
                && names
                    .get("listKind")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                names.insert("listKind".into(), json!(format!("{kind}List")));
            }
        }
        if let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) {
            let conv = spec
                .entry("conversion")
                .or_insert_with(|| json!({"strategy": "None"}));
            if conv.is_null() {
                *conv = json!({"strategy": "None"});
            }
            if let Some(svc) = conv
                .pointer_mut("/webhook/clientConfig/service")
                .and_then(Value::as_object_mut)
            {
                svc.entry("port").or_insert(json!(443));
            }
        }
    }

    fn validate(&self, crd: &Value) -> ErrorList {
        validation::validate(crd, None)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        validation::validate(new, Some(old))
    }

    fn table_columns(&self) -> &[Column] {
        COLUMNS
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        vec![
            Value::from(meta::name(obj)),
            Value::from(meta::str_field(obj, "creationTimestamp")),
        ]
    }
}

/// What a `customresourcedefinitions/status` write leaves as stored,
/// besides the spec. Finalizers may change: upstream's CRD cleanup
/// releases its finalizer through this subresource.
const STATUS_KEPT: &[&str] = &["labels", "annotations", "ownerReferences"];

/// `customresourcedefinitions/status`, as upstream's CRD status strategy.
pub struct CrdStatusStrategy;

impl Strategy for CrdStatusStrategy {
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        status_write(new, old, STATUS_KEPT);
    }

    fn reset_fields(&self) -> ResetFields {
        ResetFields::AllButStatusAndMetadata(STATUS_KEPT)
    }

    fn table_columns(&self) -> &[Column] {
        CrdStrategy.table_columns()
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        CrdStrategy.table_row(obj)
    }
}

/// Whether a condition of `kind` is True.
pub fn condition_true(crd: &Value, kind: &str) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some(kind)
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}

/// Sets a condition, keeping its transition time when the status stays.
pub fn set_condition(crd: &mut Value, kind: &str, status: &str, reason: &str, message: &str) {
    if !crd.get("status").is_some_and(Value::is_object) {
        crd["status"] = json!({});
    }
    let list = crd["status"]
        .as_object_mut()
        .map(|st| st.entry("conditions").or_insert_with(|| json!([])));
    let Some(Value::Array(list)) = list else {
        return;
    };
    let now = time::now_rfc3339();
    match list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    {
        Some(c) => {
            if c.get("status").and_then(Value::as_str) != Some(status) {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!(status);
            c["reason"] = json!(reason);
            c["message"] = json!(message);
        }
        None => list.push(
            json!({"type": kind, "status": status, "lastTransitionTime": now,
            "reason": reason, "message": message}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crd_status_write_changes_status_and_finalizers_only() {
        let mut old = crd();
        old["metadata"]["labels"] = json!({"team": "a"});
        old["metadata"]["finalizers"] = json!([CLEANUP_FINALIZER]);
        old["status"] = json!({"storedVersions": ["v1"]});
        let mut new = crd();
        new["metadata"]["labels"] = json!({"team": "b"});
        new["metadata"]["annotations"] = json!({"note": "x"});
        new["metadata"]["finalizers"] = json!([]);
        new["spec"]["scope"] = json!("Cluster");
        new["status"] = json!({"storedVersions": ["v1"], "conditions": []});
        CrdStatusStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"], old["spec"]);
        assert_eq!(new["metadata"]["labels"], json!({"team": "a"}));
        assert!(new["metadata"].get("annotations").is_none(), "{new}");
        assert_eq!(new["metadata"]["finalizers"], json!([]));
        assert_eq!(new["status"]["conditions"], json!([]));
        assert_eq!(
            CrdStatusStrategy.reset_fields(),
            ResetFields::AllButStatusAndMetadata(STATUS_KEPT)
        );
    }

    fn crd() -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]}})
    }

    #[test]
    fn a_good_crd_gets_its_finalizer_and_status() {
        let mut c = crd();
        CrdStrategy.default(&mut c);
        CrdStrategy.prepare_for_create(&mut c);
        assert!(
            CrdStrategy.validate(&c).is_empty(),
            "{}",
            CrdStrategy.validate(&c)
        );
        assert_eq!(c["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(c["spec"]["conversion"], json!({"strategy": "None"}));
        assert_eq!(c["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
        assert_eq!(c["status"]["storedVersions"], json!(["v1"]));
    }

    #[test]
    fn bad_crds_are_refused_with_upstreams_paths() {
        let mut c = crd();
        c["metadata"]["name"] = json!("nope");
        c["spec"]["group"] = json!("example");
        c["spec"]["scope"] = json!("Global");
        c["spec"]["versions"][0]["storage"] = json!(false);
        let text = CrdStrategy.validate(&c).to_string();
        for want in [
            "metadata.name: Invalid value: \"nope\": must be spec.names.plural+\".\"+spec.group",
            "spec.group: Invalid value: \"example\": should be a domain with at least one dot",
            "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
            "spec.versions: Invalid value: must have exactly one version marked as storage version",
        ] {
            assert!(text.contains(want), "{want} not in {text}");
        }
        let mut old = crd();
        CrdStrategy.prepare_for_create(&mut old);
        set_condition(
            &mut old,
            "Established",
            "True",
            "InitialNamesAccepted",
            "ok",
        );
        let mut new = old.clone();
        new["spec"]["scope"] = json!("Cluster");
        assert!(
            CrdStrategy
                .validate_update(&new, &old)
                .to_string()
                .contains("spec.scope")
        );
        let mut cond = crd();
        set_condition(
            &mut cond,
            "Established",
            "True",
            "InitialNamesAccepted",
            "ok",
        );
        assert!(condition_true(&cond, "Established"));
    }
}
