//! What every namespace has in an upstream cluster, made in-process: the
//! `kube-root-ca.crt` ConfigMap (kube-controller-manager's
//! root-ca-cert-publisher) and the `default` ServiceAccount (its
//! serviceaccount controller). Recreated when deleted; never made in a
//! namespace that is terminating.

use std::sync::Arc;
use std::time::Duration;

use crate::no_admission;
use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::{StatusError, meta};
use kaiser_registry::{ObjectWatch, Store};
use serde_json::{Value, json};
use tokio::sync::watch;

const RETRY: Duration = Duration::from_secs(2);
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Which objects the controller keeps in every namespace.
#[derive(Clone)]
pub struct NamespaceObjects {
    pub namespaces: Arc<Store>,
    /// The ConfigMap store and the CA bundle, when the publisher runs.
    pub root_ca: Option<(Arc<Store>, String)>,
    /// The ServiceAccount store, when the serviceaccount controller runs.
    pub service_accounts: Option<Arc<Store>>,
}

impl NamespaceObjects {
    /// Makes the objects of `ns` that are missing (or out of date).
    pub async fn ensure(&self, ns: &str) -> Result<(), StatusError> {
        match self.namespaces.get("", ns).await {
            Ok(n) if meta::deletion_timestamp(&n).is_none() => {}
            Ok(_) => return Ok(()),
            Err(e) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        }
        if let Some((cms, ca)) = &self.root_ca {
            let want = json!({"ca.crt": ca});
            match cms.get(ns, ROOT_CA_CONFIGMAP).await {
                Ok(cm) if cm.get("data") == Some(&want) => {}
                Ok(_) => {
                    let apply = |old: Option<&Value>| {
                        let mut cm = old.cloned().unwrap_or(Value::Null);
                        cm["data"] = want.clone();
                        Ok(cm)
                    };
                    ignore_races(
                        cms.update(ns, ROOT_CA_CONFIGMAP, &apply, &no_admission, false)
                            .await
                            .map(|_| ()),
                    )?;
                }
                Err(e) if e.code == 404 => {
                    let cm = json!({
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": ns},
                        "data": want,
                    });
                    ignore_races(cms.create(cm, &no_admission, false).await.map(|_| ()))?;
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(sas) = &self.service_accounts {
            match sas.get(ns, DEFAULT_SERVICE_ACCOUNT).await {
                Ok(_) => {}
                Err(e) if e.code == 404 => {
                    let sa = json!({
                        "apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": ns},
                    });
                    ignore_races(sas.create(sa, &no_admission, false).await.map(|_| ()))?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Watches namespaces and the managed objects until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let watches = self.watches().await;
            let Ok(mut watches) = watches else {
                tokio::time::sleep(RETRY).await;
                continue;
            };
            loop {
                let next = futures_util::future::select_all(
                    watches.iter_mut().map(|w| Box::pin(w.next())),
                );
                let ev = tokio::select! {
                    (e, _, _) = next => e,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                let Some(ev) = ev else { break };
                let ns = if ev.object.get("kind").and_then(Value::as_str) == Some("Namespace") {
                    if ev.kind == "DELETED" {
                        continue;
                    }
                    meta::name(&ev.object).to_string()
                } else if ev.kind == "DELETED" || ev.kind == "MODIFIED" {
                    meta::namespace(&ev.object).to_string()
                } else {
                    continue;
                };
                if ns.is_empty() {
                    continue;
                }
                if let Err(e) = self.ensure(&ns).await {
                    tracing::warn!(namespace = %ns, error = %e, "could not make the namespace's default objects");
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    async fn watches(&self) -> Result<Vec<ObjectWatch>, StatusError> {
        let all = ListOptions::from_query([])?;
        let mut out = vec![self.namespaces.watch("", &all).await?];
        if let Some((cms, _)) = &self.root_ca {
            let opts = ListOptions::from_query([(
                "fieldSelector",
                format!("metadata.name={ROOT_CA_CONFIGMAP}").as_str(),
            )])?;
            out.push(cms.watch("", &opts).await?);
        }
        if let Some(sas) = &self.service_accounts {
            let opts = ListOptions::from_query([(
                "fieldSelector",
                format!("metadata.name={DEFAULT_SERVICE_ACCOUNT}").as_str(),
            )])?;
            out.push(sas.watch("", &opts).await?);
        }
        Ok(out)
    }
}

/// Another writer (a replica, the user) got there first: nothing to do.
fn ignore_races(r: Result<(), StatusError>) -> Result<(), StatusError> {
    match r {
        Err(e) if matches!(e.code, 404 | 409) => Ok(()),
        other => other,
    }
}
