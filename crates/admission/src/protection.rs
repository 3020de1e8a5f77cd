//! Mutating plugins for storage and nodes: StorageObjectInUseProtection
//! (the `kubernetes.io/pvc-protection` and `kubernetes.io/pv-protection`
//! finalizers on new claims and volumes) and TaintNodesByCondition (a new
//! node is `not-ready` until its kubelet says otherwise).

use async_trait::async_trait;
use kaiser_apimachinery::StatusError;
use serde_json::{Value, json};

use crate::{Attributes, Operation, Plugin};

fn created(a: &Attributes<'_>, resource: &str) -> bool {
    a.operation == Operation::Create
        && a.resource.group.is_empty()
        && a.resource.resource == resource
        && a.subresource.is_empty()
}

fn add_finalizer(obj: &mut Value, finalizer: &str) {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let list = md.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(l) = list.as_array_mut()
        && !l.iter().any(|f| f.as_str() == Some(finalizer))
    {
        l.push(json!(finalizer));
    }
}

pub struct StorageObjectInUseProtection;

impl StorageObjectInUseProtection {
    /// The plugin's name, as upstream's flags and messages spell it.
    pub const NAME: &'static str = "StorageObjectInUseProtection";
}

#[async_trait]
impl Plugin for StorageObjectInUseProtection {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn admit(&self, a: &Attributes<'_>, obj: &mut Value) -> Result<(), StatusError> {
        if created(a, "persistentvolumeclaims") {
            add_finalizer(obj, "kubernetes.io/pvc-protection");
        } else if created(a, "persistentvolumes") {
            add_finalizer(obj, "kubernetes.io/pv-protection");
        }
        Ok(())
    }
}

pub struct TaintNodesByCondition;

impl TaintNodesByCondition {
    /// The plugin's name, as upstream's flags and messages spell it.
    pub const NAME: &'static str = "TaintNodesByCondition";
}

#[async_trait]
impl Plugin for TaintNodesByCondition {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn admit(&self, a: &Attributes<'_>, node: &mut Value) -> Result<(), StatusError> {
        if !created(a, "nodes") {
            return Ok(());
        }
        if !node.get("spec").is_some_and(Value::is_object) {
            node["spec"] = json!({});
        }
        let Some(spec) = node.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        let taints = spec.entry("taints").or_insert_with(|| json!([]));
        if let Some(t) = taints.as_array_mut()
            && !t.iter().any(|x| {
                x.get("key").and_then(Value::as_str) == Some("node.kubernetes.io/not-ready")
                    && x.get("effect").and_then(Value::as_str) == Some("NoSchedule")
            })
        {
            t.push(json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}));
        }
        Ok(())
    }
}
