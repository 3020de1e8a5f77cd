//! Mutating plugins for new pods, as upstream enables them by default:
//! ServiceAccount (the `default` account and its projected token volume),
//! DefaultTolerationSeconds (five minutes of tolerance for not-ready and
//! unreachable nodes) and Priority (the priority of the pod's class).

use std::sync::Arc;

use async_trait::async_trait;
use kaiser_apimachinery::{GroupResource, StatusError, meta};
use kaiser_registry::Store;
use serde_json::{Value, json};

use crate::{Attributes, Operation, Plugin};

const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

fn new_pod(a: &Attributes<'_>) -> bool {
    a.operation == Operation::Create
        && a.resource.group.is_empty()
        && a.resource.resource == "pods"
        && a.subresource.is_empty()
}

fn forbidden(pod: &Value, why: String) -> StatusError {
    StatusError::forbidden_object(&GroupResource::new("", "pods"), meta::name(pod), &why)
}

fn spec_mut(pod: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    if !pod.get("spec").is_some_and(Value::is_object) {
        pod["spec"] = json!({});
    }
    pod.get_mut("spec").and_then(Value::as_object_mut)
}

/// Five random characters from upstream's alphabet (no vowels, no 0/1/3).
fn suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = kaiser_apimachinery::uid::new_v4().as_u128();
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u128) as usize] as char;
            n /= ALPHABET.len() as u128;
            c
        })
        .collect()
}

/// Gives pods the `default` service account and mounts its token.
pub struct ServiceAccount {
    pub service_accounts: Arc<Store>,
}

impl ServiceAccount {
    /// The plugin's name, as upstream's flags and messages spell it.
    pub const NAME: &'static str = "ServiceAccount";
}

#[async_trait]
impl Plugin for ServiceAccount {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn admit(&self, a: &Attributes<'_>, pod: &mut Value) -> Result<(), StatusError> {
        if !new_pod(a)
            || meta::metadata(pod)
                .and_then(|m| m.get("annotations"))
                .and_then(|x| x.get(MIRROR_ANNOTATION))
                .is_some()
        {
            return Ok(());
        }
        let Some(spec) = spec_mut(pod) else {
            return Ok(());
        };
        let name = match spec.get("serviceAccountName").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => {
                spec.insert("serviceAccountName".into(), json!("default"));
                "default".to_string()
            }
        };
        let sa = match self.service_accounts.get_cached(a.namespace, &name).await {
            Ok(sa) => sa,
            Err(e) if e.code == 404 => {
                return Err(forbidden(
                    pod,
                    format!(
                        "error looking up service account {}/{name}: serviceaccount \"{name}\" not found",
                        a.namespace
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        let Some(spec) = spec_mut(pod) else {
            return Ok(());
        };
        let automount = spec
            .get("automountServiceAccountToken")
            .and_then(Value::as_bool)
            .or_else(|| {
                sa.get("automountServiceAccountToken")
                    .and_then(Value::as_bool)
            })
            .unwrap_or(true);
        if !automount {
            return Ok(());
        }
        let mounted = ["containers", "initContainers"].iter().any(|f| {
            spec.get(*f)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|c| {
                    c.get("volumeMounts")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH))
        });
        if mounted {
            return Ok(());
        }
        let volume = format!("kube-api-access-{}", suffix());
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Some(v) = volumes.as_array_mut() {
            v.push(json!({"name": volume, "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}},
            ]}}));
        }
        for field in ["initContainers", "containers"] {
            for c in spec
                .get_mut(field)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let Some(c) = c.as_object_mut() else { continue };
                let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
                if let Some(m) = mounts.as_array_mut() {
                    m.push(
                        json!({"name": volume, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH}),
                    );
                }
            }
        }
        Ok(())
    }
}

/// Tolerates not-ready and unreachable nodes for 300 s unless the pod says otherwise.
pub struct DefaultTolerationSeconds;

impl DefaultTolerationSeconds {
    /// The plugin's name, as upstream's flags and messages spell it.
    pub const NAME: &'static str = "DefaultTolerationSeconds";
}

#[async_trait]
impl Plugin for DefaultTolerationSeconds {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn admit(&self, a: &Attributes<'_>, pod: &mut Value) -> Result<(), StatusError> {
        if !new_pod(a) {
            return Ok(());
        }
        let Some(spec) = spec_mut(pod) else {
            return Ok(());
        };
        let list = spec.entry("tolerations").or_insert_with(|| json!([]));
        let Some(list) = list.as_array_mut() else {
            return Ok(());
        };
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            let tolerated = list.iter().any(|t| {
                let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                let k = t.get("key").and_then(Value::as_str).unwrap_or("");
                let exists = t.get("operator").and_then(Value::as_str) == Some("Exists");
                (effect.is_empty() || effect == "NoExecute")
                    && (k == key || (k.is_empty() && exists))
            });
            if !tolerated {
                list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
        Ok(())
    }
}

/// Sets a pod's priority from its PriorityClass (or the global default).
pub struct Priority {
    pub priority_classes: Arc<Store>,
}

impl Priority {
    /// The plugin's name, as upstream's flags and messages spell it.
    pub const NAME: &'static str = "Priority";
}

#[async_trait]
impl Plugin for Priority {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn admit(&self, a: &Attributes<'_>, pod: &mut Value) -> Result<(), StatusError> {
        if !new_pod(a) {
            return Ok(());
        }
        let class = pod
            .pointer("/spec/priorityClassName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (value, policy, name) = if class.is_empty() {
            match self.global_default().await? {
                Some(pc) => (
                    pc.get("value").and_then(Value::as_i64).unwrap_or(0),
                    pc.get("preemptionPolicy").cloned(),
                    meta::name(&pc).to_string(),
                ),
                None => (0, None, String::new()),
            }
        } else {
            match self.priority_classes.get_cached("", &class).await {
                Ok(pc) => (
                    pc.get("value").and_then(Value::as_i64).unwrap_or(0),
                    pc.get("preemptionPolicy").cloned(),
                    class.clone(),
                ),
                Err(e) if e.code == 404 => {
                    return Err(forbidden(
                        pod,
                        format!("no PriorityClass with name {class} was found"),
                    ));
                }
                Err(e) => return Err(e),
            }
        };
        if let Some(given) = pod.pointer("/spec/priority").and_then(Value::as_i64)
            && given != value
        {
            return Err(forbidden(
                pod,
                format!(
                    "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
                ),
            ));
        }
        let Some(spec) = spec_mut(pod) else {
            return Ok(());
        };
        if !name.is_empty() {
            spec.insert("priorityClassName".into(), json!(name));
        }
        spec.insert("priority".into(), json!(value));
        spec.entry("preemptionPolicy")
            .or_insert_with(|| policy.unwrap_or_else(|| json!("PreemptLowerPriority")));
        Ok(())
    }
}

impl Priority {
    async fn global_default(&self) -> Result<Option<Value>, StatusError> {
        let opts = kaiser_apimachinery::list::ListOptions::from_query([("resourceVersion", "0")])?;
        let list = self.priority_classes.list("", &opts).await?;
        Ok(list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|pc| pc.get("globalDefault").and_then(Value::as_bool) == Some(true))
            .min_by_key(|pc| pc.get("value").and_then(Value::as_i64).unwrap_or(0))
            .cloned())
    }
}
