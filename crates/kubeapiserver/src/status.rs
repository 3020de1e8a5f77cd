//! The strategies of the `status` subresource of built-in kinds (writes
//! keep the spec as stored and may change `status` and metadata, bar a few
//! fields per kind, checked by the kind's status validation) and of a
//! CertificateSigningRequest's `approval` subresource (writes change its
//! conditions only).

use std::sync::Arc;

use kaiser_apimachinery::field::ErrorList;
use kaiser_apimachinery::managedfields::ResetFields;
use kaiser_apimachinery::meta;
use kaiser_apimachinery::table::Column;
use kaiser_apimachinery::validation::NameValidator;
use kaiser_registry::Strategy;
use kaiser_registry::strategy::{StatusStrategy, status_write};
use serde_json::Value;

use crate::validation::status::{StatusFn, status_validator};

/// `status` of a built-in kind.
pub struct BuiltinStatusStrategy {
    main: Arc<dyn Strategy>,
    csr: bool,
    pod: bool,
    meta: StatusMeta,
    validate: Option<StatusFn>,
}

/// Which metadata a status write of a kind may change (upstream's status
/// strategies, kind by kind).
#[derive(Clone, Copy)]
enum StatusMeta {
    /// The request's, except these fields, which stay as stored.
    Request(&'static [&'static str]),
    /// None: the stored metadata stays whole (flowcontrol).
    Stored,
}

/// What upstream's `ResetObjectMetaForStatus` keeps as stored, beyond the
/// fields every update keeps.
const RESET_FOR_STATUS: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

impl BuiltinStatusStrategy {
    /// The status strategy of `kind` (group "" for core) over its main one.
    pub fn new(main: Arc<dyn Strategy>, group: &str, kind: &str) -> Self {
        BuiltinStatusStrategy {
            main,
            csr: group == "certificates.k8s.io",
            pod: group.is_empty() && kind == "Pod",
            meta: match (group, kind) {
                // Old kubelets garbled owner references through pods/status.
                ("", "Pod") => StatusMeta::Request(&["ownerReferences"]),
                ("apps", "Deployment") => StatusMeta::Request(&["labels"]),
                ("apiregistration.k8s.io", "APIService")
                | ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy")
                | ("resource.k8s.io", "ResourceClaim") => StatusMeta::Request(RESET_FOR_STATUS),
                ("flowcontrol.apiserver.k8s.io", _) => StatusMeta::Stored,
                _ => StatusMeta::Request(&[]),
            },
            validate: status_validator(group, kind),
        }
    }
}

impl Strategy for BuiltinStatusStrategy {
    fn name_validator(&self) -> NameValidator {
        self.main.name_validator()
    }

    /// Upstream defaults every decoded object, status writes included.
    fn default(&self, obj: &mut Value) {
        self.main.default(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        match self.meta {
            StatusMeta::Request(kept) => status_write(new, old, kept),
            StatusMeta::Stored => StatusStrategy(self.main.clone()).prepare_for_update(new, old),
        }
        if self.pod {
            // The QoS class is set at creation; a kubelet that drops it
            // from a status write does not clear it.
            let qos = old.pointer("/status/qosClass").cloned();
            if let (Some(q), Some(st)) = (qos, new.get_mut("status").and_then(Value::as_object_mut))
                && st
                    .get("qosClass")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
            {
                st.insert("qosClass".into(), q);
            }
        }
        if self.csr {
            // Approval is the approval path's: Approved and Denied
            // conditions keep their stored instances when their number is
            // unchanged (a changed number fails validation).
            for ty in ["Approved", "Denied"] {
                preserve_conditions(new, old, ty);
            }
            condition_timestamps(new, old, &kaiser_apimachinery::time::now_rfc3339());
        }
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        self.validate.map_or_else(ErrorList::new, |f| f(new, old))
    }

    /// What the write resets nobody owns through it (upstream's
    /// `GetResetFields` of each status strategy).
    fn reset_fields(&self) -> ResetFields {
        match self.meta {
            StatusMeta::Request(kept) => ResetFields::AllButStatusAndMetadata(kept),
            StatusMeta::Stored => ResetFields::AllButStatus,
        }
    }

    fn has_pending_finalizers(&self, obj: &Value) -> bool {
        self.main.has_pending_finalizers(obj)
    }

    fn table_columns(&self) -> &[Column] {
        self.main.table_columns()
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        self.main.table_row(obj)
    }
}

/// `certificatesigningrequests/approval`: only the conditions change.
pub struct CsrApprovalStrategy(pub Arc<dyn Strategy>);

impl Strategy for CsrApprovalStrategy {
    fn name_validator(&self) -> NameValidator {
        self.0.name_validator()
    }

    fn default(&self, obj: &mut Value) {
        self.0.default(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let conditions = new
            .pointer("/status/conditions")
            .cloned()
            .unwrap_or(Value::Null);
        let rv = meta::resource_version(new).to_string();
        let mut out = old.clone();
        if let Some(o) = out.as_object_mut() {
            let status = o
                .entry("status")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(s) = status.as_object_mut() {
                if conditions.is_null() {
                    s.remove("conditions");
                } else {
                    s.insert("conditions".into(), conditions);
                }
            }
        }
        meta::set_str(&mut out, "resourceVersion", &rv);
        condition_timestamps(&mut out, old, &kaiser_apimachinery::time::now_rfc3339());
        *new = out;
    }

    fn validate_update(&self, new: &Value, old: &Value) -> ErrorList {
        crate::validation::certificates::validate_csr_approval_update(new, old)
    }

    fn table_columns(&self) -> &[Column] {
        self.0.table_columns()
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        self.0.table_row(obj)
    }
}

fn conditions_mut(obj: &mut Value) -> Option<&mut Vec<Value>> {
    obj.pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
}

fn indices_of(obj: &Value, ty: &str) -> Vec<usize> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .enumerate()
                .filter(|(_, c)| c.get("type").and_then(Value::as_str) == Some(ty))
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default()
}

/// `preserveConditionInstances`.
fn preserve_conditions(new: &mut Value, old: &Value, ty: &str) {
    let (n, o) = (indices_of(new, ty), indices_of(old, ty));
    if n.len() != o.len() {
        return;
    }
    let Some(old_list) = old.pointer("/status/conditions").and_then(Value::as_array) else {
        return;
    };
    let old_list = old_list.clone();
    if let Some(list) = conditions_mut(new) {
        for (ni, oi) in n.into_iter().zip(o) {
            if let (Some(slot), Some(v)) = (list.get_mut(ni), old_list.get(oi)) {
                *slot = v.clone();
            }
        }
    }
}

/// `populateConditionTimestamps`: conditions without times get `now`,
/// or the transition time of the stored condition of the same type and
/// status.
fn condition_timestamps(new: &mut Value, old: &Value, now: &str) {
    let old_list = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(list) = conditions_mut(new) else {
        return;
    };
    let unset = |c: &Value, f: &str| c.get(f).and_then(Value::as_str).unwrap_or("").is_empty();
    for c in list.iter_mut().filter(|c| c.is_object()) {
        if unset(c, "lastUpdateTime") {
            c["lastUpdateTime"] = Value::from(now);
        }
        if unset(c, "lastTransitionTime") {
            let same = old_list.iter().find(|o| {
                o.get("type") == c.get("type")
                    && o.get("status") == c.get("status")
                    && !unset(o, "lastTransitionTime")
            });
            c["lastTransitionTime"] = same
                .and_then(|o| o.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| Value::from(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_writes_keep_the_spec_and_the_metadata_each_kind_allows() {
        let strategy = |group: &str, kind: &str| {
            BuiltinStatusStrategy::new(
                Arc::new(kaiser_registry::strategy::DefaultStrategy),
                group,
                kind,
            )
        };
        let old = json!({"apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "labels": {"l": "old"}, "annotations": {"a": "old"},
                "ownerReferences": [{"name": "o"}]},
            "spec": {"n": 1}, "status": {"qosClass": "Burstable", "phase": "Pending"}});
        let request = json!({"apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "labels": {"l": "new"}, "annotations": {"a": "new"},
                "managedFields": [{"manager": "m"}]},
            "spec": {"n": 2}, "status": {"phase": "Running"}});
        let write = |group: &str, kind: &str| {
            let mut new = request.clone();
            strategy(group, kind).prepare_for_update(&mut new, &old);
            new
        };

        // Namespaces (and most kinds): spec as stored, metadata as sent.
        let ns = write("", "Namespace");
        assert_eq!(ns["spec"]["n"], 1);
        assert_eq!(ns["status"], json!({"phase": "Running"}));
        assert_eq!(ns["metadata"]["labels"]["l"], "new");
        assert!(ns["metadata"].get("ownerReferences").is_none());
        // Pods keep their owners and their QoS class.
        let pod = write("", "Pod");
        assert_eq!(pod["metadata"]["labels"]["l"], "new");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["name"], "o");
        assert_eq!(pod["status"]["qosClass"], "Burstable");
        // Deployments keep their labels only.
        let d = write("apps", "Deployment");
        assert_eq!(d["metadata"]["labels"]["l"], "old");
        assert_eq!(d["metadata"]["annotations"]["a"], "new");
        // ResetObjectMetaForStatus kinds keep labels, annotations and owners.
        let rc = write("resource.k8s.io", "ResourceClaim");
        assert_eq!(rc["metadata"]["labels"]["l"], "old");
        assert_eq!(rc["metadata"]["annotations"]["a"], "old");
        assert_eq!(rc["metadata"]["ownerReferences"][0]["name"], "o");
        assert_eq!(rc["metadata"]["managedFields"][0]["manager"], "m");
        // flowcontrol keeps all stored metadata but the write's managedFields.
        let fs = write("flowcontrol.apiserver.k8s.io", "FlowSchema");
        assert_eq!(fs["metadata"]["annotations"]["a"], "old");
        assert_eq!(fs["metadata"]["managedFields"][0]["manager"], "m");
        assert_eq!(fs["spec"]["n"], 1);
    }

    #[test]
    fn approval_changes_only_conditions_and_stamps_them() {
        let s = CsrApprovalStrategy(Arc::new(kaiser_registry::strategy::DefaultStrategy));
        let old = json!({"metadata": {"name": "c", "resourceVersion": "3"},
            "spec": {"signerName": "example.com/s"},
            "status": {"conditions": [{"type": "Failed", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}});
        let mut new = json!({"metadata": {"name": "c", "resourceVersion": "3", "labels": {"x": "y"}},
            "spec": {"signerName": "other.com/s"},
            "status": {"certificate": "Zm9v", "conditions": [
                {"type": "Failed", "status": "True"}, {"type": "Approved", "status": "True", "reason": "ok"}]}});
        s.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["signerName"], "example.com/s");
        assert!(new["metadata"].get("labels").is_none());
        assert!(new["status"].get("certificate").is_none());
        let cs = &new["status"]["conditions"];
        assert_eq!(cs[0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
        assert!(
            cs[1]["lastTransitionTime"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        assert!(
            cs[1]["lastUpdateTime"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    }

    #[test]
    fn csr_status_keeps_stored_decisions() {
        let s = BuiltinStatusStrategy::new(
            Arc::new(kaiser_registry::strategy::DefaultStrategy),
            "certificates.k8s.io",
            "CertificateSigningRequest",
        );
        let old = json!({"metadata": {"name": "c"}, "status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "ByAdmin", "lastTransitionTime": "2020-01-01T00:00:00Z",
             "lastUpdateTime": "2020-01-01T00:00:00Z"}]}});
        let mut new = json!({"metadata": {"name": "c"}, "status": {"certificate": "Zm9v", "conditions": [
            {"type": "Approved", "status": "True", "reason": "Changed"}]}});
        s.prepare_for_update(&mut new, &old);
        assert_eq!(new["status"]["conditions"][0]["reason"], "ByAdmin");
        assert_eq!(new["status"]["certificate"], "Zm9v");
    }
}
