//! The namespace controller: when a namespace is being deleted, deletes
//! everything in it, then removes the `kubernetes` finalizer so the
//! namespace itself goes (upstream runs this in kube-controller-manager;
//! kaiser is the whole control plane, so it runs here).

use std::sync::Arc;
use std::time::Duration;

use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::{StatusError, meta};
use kaiser_registry::{DeleteOptions, Store};
use kaiser_server::ResourceTable;
use serde_json::Value;
use tokio::sync::watch;

use crate::core::namespace::FINALIZER;
use crate::no_admission;

const RETRY: Duration = Duration::from_secs(2);

pub async fn run(
    namespaces: Arc<Store>,
    content: Vec<Arc<ResourceTable>>,
    workers: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(finalizer) = namespaces.subresource("finalize").cloned() else {
        tracing::error!("namespaces have no finalize subresource; the namespace controller is off");
        return;
    };
    let mut pending: Vec<String> = Vec::new();
    loop {
        let opts = match ListOptions::from_query([]) {
            Ok(o) => o,
            Err(_) => return,
        };
        let mut w = match namespaces.watch("", &opts).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "namespace controller cannot watch; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        loop {
            let ev = tokio::select! {
                e = w.next() => match e {
                    Some(e) => Some(e),
                    None => break,
                },
                _ = tokio::time::sleep(RETRY), if !pending.is_empty() => None,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            if let Some(ev) = &ev
                && ev.kind != "DELETED"
                && meta::deletion_timestamp(&ev.object).is_some()
            {
                let name = meta::name(&ev.object).to_string();
                if !pending.contains(&name) {
                    pending.push(name);
                }
            }
            let mut still = Vec::new();
            for ns in pending.drain(..) {
                match finalize(&finalizer, &content, &ns, workers).await {
                    Ok(true) => tracing::info!(namespace = %ns, "namespace finalized"),
                    Ok(false) => still.push(ns),
                    Err(e) => {
                        tracing::warn!(namespace = %ns, error = %e, "namespace finalization failed; will retry");
                        still.push(ns);
                    }
                }
            }
            pending = still;
        }
        // The watch ended (a slow consumer, or a restart of storage): start over.
        tokio::time::sleep(RETRY).await;
    }
}

/// Deletes the namespace's content; once it is empty, drops the finalizer.
/// Returns whether the namespace was finalized.
async fn finalize(
    finalizer: &Store,
    content: &[Arc<ResourceTable>],
    ns: &str,
    workers: usize,
) -> Result<bool, StatusError> {
    let opts = ListOptions::from_query([])?;
    let mut remaining = 0;
    for table in content {
        for store in table.all().iter().filter(|s| s.info.namespaced) {
            store
                .delete_collection(ns, &opts, &DeleteOptions::default(), &no_admission, workers)
                .await?;
            // Objects still there after a delete are waiting for finalizers.
            remaining += store.list_page(ns, &opts).await?.0.len();
        }
    }
    if remaining > 0 {
        return Ok(false);
    }
    let apply = |old: Option<&Value>| -> Result<Value, StatusError> {
        let mut obj = old.cloned().unwrap_or(Value::Null);
        let fins: Vec<Value> = obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|f| f.as_str() != Some(FINALIZER))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        obj["spec"]["finalizers"] = Value::Array(fins);
        Ok(obj)
    };
    match finalizer.update("", ns, &apply, &no_admission, false).await {
        Ok(_) => Ok(true),
        Err(e) if e.code == 404 => Ok(true),
        Err(e) => Err(e),
    }
}
