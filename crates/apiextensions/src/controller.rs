//! The CRD controllers kaiser runs in-process (upstream's naming,
//! establishing and finalizing controllers): a CRD whose names do not clash
//! with another CRD of its group gets `NamesAccepted` and `Established`, and
//! its custom resources are served at once; a deleted CRD first loses its
//! custom resources (the cleanup finalizer), then its endpoints.

use std::sync::Arc;
use std::time::Duration;

use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::{StatusError, meta};
use kaiser_registry::{DeleteOptions, Store};
use kaiser_server::ResourceTable;
use kaiser_storage::Storage;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::{crd, custom};

const RETRY: Duration = Duration::from_secs(1);

fn none(_: &Value, _: Option<&Value>) -> Result<(), StatusError> {
    Ok(())
}

pub struct CrdController {
    pub crds: Arc<Store>,
    pub table: Arc<ResourceTable>,
    pub storage: Arc<dyn Storage>,
    pub root: String,
    /// Reaches conversion webhooks named by a Service.
    pub resolver: Option<Arc<dyn kaiser_admission::webhook::ServiceResolver>>,
    /// Whether custom resources are read through watch caches.
    pub watch_cache: bool,
    /// Deletes in flight at once when a CRD's objects go.
    pub delete_collection_workers: usize,
    /// The generation of each CRD whose stores are installed.
    pub installed: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

/// The names a CRD claims in its group.
fn claims(c: &Value, from_status: bool) -> Vec<String> {
    let base = if from_status {
        "/status/acceptedNames"
    } else {
        "/spec/names"
    };
    let mut out = Vec::new();
    for f in ["plural", "singular", "kind", "listKind"] {
        if let Some(v) = c
            .pointer(&format!("{base}/{f}"))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
        {
            out.push(format!("{f}:{v}"));
        }
    }
    for sn in c
        .pointer(&format!("{base}/shortNames"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(v) = sn.as_str() {
            out.push(format!("shortNames:{v}"));
        }
    }
    out
}

impl CrdController {
    /// Reconciles one CRD: conditions, served stores, or cleanup.
    pub async fn sync(&self, name: &str) -> Result<(), StatusError> {
        let c = match self.crds.get("", name).await {
            Ok(c) => c,
            Err(e) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        };
        if meta::deletion_timestamp(&c).is_some() {
            return self.finalize(&c).await;
        }
        let group = c
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let all = self.crds.list("", &ListOptions::from_query([])?).await?;
        let mine = claims(&c, false);
        let conflict = all["items"].as_array().into_iter().flatten().find_map(|o| {
            if meta::name(o) == name
                || o.pointer("/spec/group").and_then(Value::as_str) != Some(&group)
            {
                return None;
            }
            let theirs = claims(o, true);
            mine.iter()
                .find(|m| {
                    theirs.iter().any(|t| {
                        t.split(':').nth(1) == m.split(':').nth(1)
                            && t.split(':').next() != Some("listKind")
                    })
                })
                .cloned()
        });
        let status = self
            .crds
            .subresource("status")
            .cloned()
            .unwrap_or_else(|| self.crds.clone());
        let accepted = conflict.is_none();
        let apply = |old: Option<&Value>| {
            let mut o = old.cloned().unwrap_or(Value::Null);
            match &conflict {
                Some(what) => {
                    let (field, value) = what.split_once(':').unwrap_or(("", what));
                    let msg = format!("{field} {value:?} is already in use");
                    crd::set_condition(&mut o, "NamesAccepted", "False", "NameConflict", &msg);
                    if !crd::condition_true(&o, "Established") {
                        crd::set_condition(
                            &mut o,
                            "Established",
                            "False",
                            "NotAccepted",
                            "not all names are accepted",
                        );
                    }
                }
                None => {
                    let mut names = o
                        .pointer("/spec/names")
                        .cloned()
                        .unwrap_or_else(|| json!({}));
                    let kind = names
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if names
                        .get("singular")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .is_empty()
                    {
                        names["singular"] = json!(kind.to_lowercase());
                    }
                    if names
                        .get("listKind")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .is_empty()
                    {
                        names["listKind"] = json!(format!("{kind}List"));
                    }
                    o["status"]["acceptedNames"] = names;
                    crd::set_condition(
                        &mut o,
                        "NamesAccepted",
                        "True",
                        "NoConflicts",
                        "no conflicts found",
                    );
                    crd::set_condition(
                        &mut o,
                        "Established",
                        "True",
                        "InitialNamesAccepted",
                        "the initial names have been accepted",
                    );
                }
            }
            Ok(o)
        };
        status.update("", name, &apply, &none, false).await?;
        if accepted {
            self.serve(&c);
        }
        Ok(())
    }

    /// Installs the CRD's stores when its spec changed since the last
    /// install (dropping versions it no longer serves).
    fn serve(&self, c: &Value) {
        let name = meta::name(c).to_string();
        let generation = c
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Ok(installed) = self.installed.lock()
            && installed.get(&name) == Some(&generation)
        {
            return;
        }
        let stores = custom::stores(
            c,
            &self.root,
            &self.storage,
            self.resolver.clone(),
            self.watch_cache,
        );
        let served: Vec<(String, String, String)> = stores
            .iter()
            .map(|s| {
                (
                    s.info.group.clone(),
                    s.info.version.clone(),
                    s.info.resource.clone(),
                )
            })
            .collect();
        for (g, v, r) in custom::keys(c) {
            if !served.contains(&(g.clone(), v.clone(), r.clone())) {
                self.table.remove(&g, &v, &r);
            }
        }
        self.table.insert(stores);
        if let Ok(mut installed) = self.installed.lock() {
            installed.insert(name, generation);
        }
    }

    /// Deletes every custom resource of a deleted CRD, stops serving it and
    /// drops the cleanup finalizer.
    async fn finalize(&self, c: &Value) -> Result<(), StatusError> {
        let name = meta::name(c).to_string();
        let status = self
            .crds
            .subresource("status")
            .cloned()
            .unwrap_or_else(|| self.crds.clone());
        let terminating = |old: Option<&Value>| {
            let mut o = old.cloned().unwrap_or(Value::Null);
            crd::set_condition(
                &mut o,
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            );
            Ok(o)
        };
        status.update("", &name, &terminating, &none, false).await?;
        let all = ListOptions::from_query([])?;
        let served = custom::keys(c)
            .into_iter()
            .find_map(|(g, v, r)| self.table.lookup(&g, &v, &r));
        let stores = match served {
            Some(s) => vec![s],
            None => custom::stores(
                c,
                &self.root,
                &self.storage,
                self.resolver.clone(),
                self.watch_cache,
            )
            .into_iter()
            .take(1)
            .collect(),
        };
        for store in stores {
            store
                .delete_collection(
                    "",
                    &all,
                    &DeleteOptions::default(),
                    &none,
                    self.delete_collection_workers,
                )
                .await?;
            if !store.list_page("", &all).await?.0.is_empty() {
                // Some wait for their own finalizers; try again later.
                return Err(StatusError::conflict(
                    &kaiser_apimachinery::GroupResource::new(
                        crd::GROUP,
                        "customresourcedefinitions",
                    ),
                    &name,
                    "custom resources are still being deleted",
                ));
            }
        }
        for (g, v, r) in custom::keys(c) {
            self.table.remove(&g, &v, &r);
        }
        if let Ok(mut installed) = self.installed.lock() {
            installed.remove(&name);
        }
        let drop_finalizer = |old: Option<&Value>| {
            let mut o = old.cloned().unwrap_or(Value::Null);
            let kept: Vec<Value> = meta::finalizers(&o)
                .into_iter()
                .filter(|f| f != crd::CLEANUP_FINALIZER)
                .map(Value::from)
                .collect();
            meta::metadata_mut(&mut o).insert("finalizers".into(), Value::Array(kept));
            Ok(o)
        };
        match self
            .crds
            .update("", &name, &drop_finalizer, &none, false)
            .await
        {
            Err(e) if e.code != 404 => Err(e),
            _ => Ok(()),
        }
    }

    /// Watches CRDs until `shutdown`, reconciling each change.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut pending: Vec<String> = Vec::new();
        loop {
            let opts = match ListOptions::from_query([]) {
                Ok(o) => o,
                Err(_) => return,
            };
            let mut w = match self.crds.watch("", &opts).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "CRD controller cannot watch; retrying");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            loop {
                let ev = tokio::select! {
                    e = w.next() => match e { Some(e) => Some(e), None => break },
                    _ = tokio::time::sleep(RETRY), if !pending.is_empty() => None,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                if let Some(ev) = ev {
                    let name = meta::name(&ev.object).to_string();
                    if ev.kind == "DELETED" {
                        for (g, v, r) in custom::keys(&ev.object) {
                            self.table.remove(&g, &v, &r);
                        }
                    } else if !name.is_empty() && !pending.contains(&name) {
                        pending.push(name);
                    }
                }
                let mut still = Vec::new();
                for name in pending.drain(..) {
                    if let Err(e) = self.sync(&name).await {
                        tracing::debug!(crd = %name, error = %e, "CRD not reconciled yet");
                        still.push(name);
                    }
                }
                pending = still;
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}
