//! The `kubernetes` Service's Endpoints and EndpointSlice when several
//! replicas share one store (upstream's lease endpoint reconciler, the
//! default `--endpoint-reconciler-type`).
//!
//! Every replica keeps a lease, `<prefix>/masterleases/<ip>`: a small
//! Endpoints object stored with a time to live of 15 s and rewritten every
//! 10 s. After each refresh a replica points `default/kubernetes` at the
//! addresses of all live leases, so in-cluster clients reach every replica.
//! A replica that shuts down removes its lease and itself before it drains;
//! one that dies drops out once its lease expires. Lease values kube-apiserver
//! wrote are read too (the store decodes them), so mixed fleets agree.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::no_admission;
use kaiser_apimachinery::StatusError;
use kaiser_registry::Store;
use kaiser_registry::store::DeleteOptions;
use kaiser_storage::{Storage, StorageError};
use serde_json::{Value, json};
use tokio::sync::watch;

/// How often a replica refreshes its lease and the endpoints (upstream's).
pub const INTERVAL: Duration = Duration::from_secs(10);
/// How long a lease outlives its last refresh (upstream's).
pub const LEASE_TTL: Duration = Duration::from_secs(15);

const NAMESPACE: &str = "default";
const SERVICE: &str = "kubernetes";
const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
const SERVICE_NAME: &str = "kubernetes.io/service-name";

pub struct EndpointReconciler {
    endpoints: Arc<Store>,
    slices: Option<Arc<Store>>,
    storage: Arc<dyn Storage>,
    lease_key: String,
    leases: String,
    ip: IpAddr,
    port: u16,
}

impl EndpointReconciler {
    /// The reconciler of the replica reachable at `ip:port`, keeping its
    /// lease under `root` (the storage prefix) in `storage`.
    pub fn new(
        endpoints: Arc<Store>,
        slices: Option<Arc<Store>>,
        storage: Arc<dyn Storage>,
        root: &str,
        ip: IpAddr,
        port: u16,
    ) -> Self {
        let leases = format!("{root}/masterleases/");
        EndpointReconciler {
            endpoints,
            slices,
            storage,
            lease_key: format!("{leases}{ip}"),
            leases,
            ip,
            port,
        }
    }

    /// Refreshes this replica's lease, then points the endpoints at every
    /// replica that holds one.
    pub async fn reconcile(&self) -> Result<(), String> {
        self.refresh_lease().await?;
        self.publish().await
    }

    /// Gives up this replica's lease and takes it out of the endpoints (at
    /// shutdown, before in-flight requests drain).
    pub async fn remove(&self) -> Result<(), String> {
        match self.storage.delete(&self.lease_key, None).await {
            Ok(_) | Err(StorageError::NotFound(_)) => {}
            Err(e) => return Err(format!("removing lease {}: {e}", self.lease_key)),
        }
        self.publish().await
    }

    /// Reconciles every [`INTERVAL`] until `shutdown`, then removes this
    /// replica. The first reconcile is the caller's, at start-up.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(INTERVAL) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            if let Err(e) = self.reconcile().await {
                tracing::warn!(error = %e, "reconciling the kubernetes endpoints");
            }
        }
        match self.remove().await {
            Ok(()) => {
                tracing::info!(ip = %self.ip, "removed this server from the kubernetes endpoints")
            }
            // The last replica leaves its address behind, as upstream's.
            Err(e) => tracing::info!(error = %e, "leaving the kubernetes endpoints as they are"),
        }
    }

    async fn refresh_lease(&self) -> Result<(), String> {
        let fail = |e: StorageError| format!("refreshing lease {}: {e}", self.lease_key);
        for _ in 0..3 {
            let (current, _) = self
                .storage
                .get(&self.lease_key, None)
                .await
                .map_err(fail)?;
            // A changed value for every refresh, as upstream's generation bump.
            let generation = current
                .as_ref()
                .and_then(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
                .and_then(|v| v["metadata"]["generation"].as_i64())
                .unwrap_or(0)
                + 1;
            let value = lease_value(self.ip, generation).into();
            let written = match current {
                None => {
                    self.storage
                        .create_expiring(&self.lease_key, value, LEASE_TTL)
                        .await
                }
                Some(kv) => {
                    self.storage
                        .update_expiring(&self.lease_key, value, kv.mod_revision, LEASE_TTL)
                        .await
                }
            };
            match written {
                Ok(_) => return Ok(()),
                Err(StorageError::KeyExists(_) | StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(fail(e)),
            }
        }
        Err(format!("lease {} keeps changing", self.lease_key))
    }

    /// The addresses of the live leases, in order.
    async fn live_ips(&self) -> Result<Vec<String>, String> {
        let page = self
            .storage
            .range(&self.leases, "", None, 0)
            .await
            .map_err(|e| format!("listing {}: {e}", self.leases))?;
        let mut ips: Vec<String> = page
            .kvs
            .iter()
            .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
            .filter_map(|v| {
                v.pointer("/subsets/0/addresses/0/ip")
                    .and_then(Value::as_str)
                    .filter(|ip| !ip.is_empty())
                    .map(str::to_string)
            })
            .collect();
        ips.sort();
        ips.dedup();
        Ok(ips)
    }

    async fn publish(&self) -> Result<(), String> {
        let ips = self.live_ips().await?;
        // Our own lease was just written: none at all means the read is
        // wrong, and emptying the endpoints would cut every client off.
        if ips.is_empty() {
            return Err("no server holds a lease; not emptying the kubernetes endpoints".into());
        }
        let ports = json!([{"name": "https", "port": self.port, "protocol": "TCP"}]);
        self.publish_endpoints(&ips, &ports)
            .await
            .map_err(|e| format!("writing the kubernetes Endpoints: {}", e.message))?;
        if let Some(slices) = &self.slices {
            publish_slice(slices, &ips, &ports)
                .await
                .map_err(|e| format!("writing the kubernetes EndpointSlice: {}", e.message))?;
        }
        Ok(())
    }

    async fn publish_endpoints(&self, ips: &[String], ports: &Value) -> Result<(), StatusError> {
        let addresses: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
        let subsets = json!([{"addresses": addresses, "ports": ports}]);
        let current = match self.endpoints.get(NAMESPACE, SERVICE).await {
            Ok(cur) => cur,
            Err(e) if e.code == 404 => {
                let obj = json!({"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": SERVICE, "namespace": NAMESPACE,
                                 "labels": {SKIP_MIRROR: "true"}},
                    "subsets": subsets});
                return create(&self.endpoints, obj).await;
            }
            Err(e) => return Err(e),
        };
        if endpoints_current(&current, ips, ports) {
            return Ok(());
        }
        tracing::info!(
            ?ips,
            "pointing the kubernetes endpoints at the servers holding leases"
        );
        let apply = |old: Option<&Value>| {
            let mut new = old.cloned().unwrap_or_else(|| current.clone());
            new["metadata"]["labels"][SKIP_MIRROR] = Value::from("true");
            new["subsets"] = subsets.clone();
            Ok(new)
        };
        self.endpoints
            .update(NAMESPACE, SERVICE, &apply, &no_admission, false)
            .await
            .map(|_| ())
    }
}

/// A lease: an Endpoints named after the address, holding it.
fn lease_value(ip: IpAddr, generation: i64) -> Vec<u8> {
    let ip = ip.to_string();
    let v = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": ip, "generation": generation},
        "subsets": [{"addresses": [{"ip": ip}]}]});
    kaiser_apimachinery::codec::to_json(&v)
}

/// Whether `e` already has one subset with exactly `ips` and `ports`, and
/// is kept from EndpointSlice mirroring.
fn endpoints_current(e: &Value, ips: &[String], ports: &Value) -> bool {
    let Some([subset]) = e["subsets"].as_array().map(Vec::as_slice) else {
        return false;
    };
    let mut have: Vec<&str> = subset["addresses"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["ip"].as_str()).collect())
        .unwrap_or_default();
    have.sort_unstable();
    have == ips.iter().map(String::as_str).collect::<Vec<_>>()
        && subset["ports"] == *ports
        && e["metadata"]["labels"][SKIP_MIRROR] == "true"
}

/// The EndpointSlice upstream derives from the Endpoints: one endpoint per
/// address, all ready, the family of the addresses.
fn desired_slice(ips: &[String], ports: &Value) -> Value {
    let family = if ips
        .iter()
        .all(|ip| ip.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6()))
    {
        "IPv6"
    } else {
        "IPv4"
    };
    let endpoints: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": {SERVICE_NAME: SERVICE}},
        "addressType": family, "endpoints": endpoints, "ports": ports})
}

/// Whether the stored slice serves the same addresses and ports.
fn slice_current(cur: &Value, want: &Value) -> bool {
    let addrs = |v: &Value| -> Vec<Value> {
        v["endpoints"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|x| json!([x["addresses"], x["conditions"]["ready"]]))
                    .collect()
            })
            .unwrap_or_default()
    };
    cur["addressType"] == want["addressType"]
        && addrs(cur) == addrs(want)
        && cur["ports"] == want["ports"]
        && cur["metadata"]["labels"][SERVICE_NAME] == SERVICE
}

async fn publish_slice(slices: &Store, ips: &[String], ports: &Value) -> Result<(), StatusError> {
    let want = desired_slice(ips, ports);
    let current = match slices.get(NAMESPACE, SERVICE).await {
        Ok(cur) => Some(cur),
        Err(e) if e.code == 404 => None,
        Err(e) => return Err(e),
    };
    match current {
        Some(cur) if slice_current(&cur, &want) => Ok(()),
        // The address type cannot change in place.
        Some(cur) if cur["addressType"] != want["addressType"] => {
            slices
                .delete(NAMESPACE, SERVICE, &DeleteOptions::default(), &no_admission)
                .await?;
            create(slices, want).await
        }
        Some(_) => {
            let apply = |old: Option<&Value>| {
                let mut new = old.cloned().unwrap_or_else(|| want.clone());
                new["metadata"]["labels"][SERVICE_NAME] = Value::from(SERVICE);
                new["endpoints"] = want["endpoints"].clone();
                new["ports"] = want["ports"].clone();
                Ok(new)
            };
            slices
                .update(NAMESPACE, SERVICE, &apply, &no_admission, false)
                .await
                .map(|_| ())
        }
        None => create(slices, want).await,
    }
}

/// Creates `obj`; another server having just made it is fine.
async fn create(store: &Store, obj: Value) -> Result<(), StatusError> {
    match store.create(obj, &no_admission, false).await {
        Err(e) if e.reason != "AlreadyExists" => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_match_only_the_same_addresses_and_ports() {
        let ports = json!([{"name": "https", "port": 6443, "protocol": "TCP"}]);
        let ips = vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()];
        let e = json!({"metadata": {"labels": {SKIP_MIRROR: "true"}},
            "subsets": [{"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}], "ports": ports}]});
        assert!(endpoints_current(&e, &ips, &ports));
        assert!(!endpoints_current(&e, &ips[..1], &ports));
        let other_port = json!([{"name": "https", "port": 443, "protocol": "TCP"}]);
        assert!(!endpoints_current(&e, &ips, &other_port));
        let mut unlabelled = e.clone();
        unlabelled["metadata"]["labels"] = json!({});
        assert!(!endpoints_current(&unlabelled, &ips, &ports));
        let mut two = e.clone();
        two["subsets"] = json!([e["subsets"][0], e["subsets"][0]]);
        assert!(!endpoints_current(&two, &ips, &ports));
    }

    #[test]
    fn the_slice_follows_the_addresses_and_their_family() {
        let ports = json!([{"name": "https", "port": 6443, "protocol": "TCP"}]);
        let v4 = desired_slice(&["10.0.0.1".into(), "10.0.0.2".into()], &ports);
        assert_eq!(v4["addressType"], "IPv4");
        assert_eq!(v4["endpoints"][1]["addresses"], json!(["10.0.0.2"]));
        assert_eq!(v4["endpoints"][1]["conditions"]["ready"], true);
        assert!(slice_current(&v4, &v4));
        let v6 = desired_slice(&["fd00::1".into()], &ports);
        assert_eq!(v6["addressType"], "IPv6");
        assert!(!slice_current(&v4, &v6));
        let lease: Value =
            serde_json::from_slice(&lease_value("10.0.0.9".parse().expect("ip"), 3)).expect("json");
        assert_eq!(lease["metadata"]["name"], "10.0.0.9");
        assert_eq!(lease["metadata"]["generation"], 3);
        assert_eq!(lease["subsets"][0]["addresses"][0]["ip"], "10.0.0.9");
    }
}
