//! The repair loop for Service allocations, as upstream's ClusterIP and
//! NodePort repair controllers: once before serving, then every three
//! minutes, it compares the Services stored with the allocations held.
//!
//! - A cluster IP or node port a Service uses without its allocation (a
//!   Service another API server wrote, as on an etcd kube-apiserver kept;
//!   a crash between the two writes) is allocated now, so that nothing
//!   hands it out a second time.
//! - Allocations no Service uses are released: an IPAddress once it is a
//!   minute old (a Service being created holds its address shortly before
//!   it is written), a node port after three passes in a row.
//! - Two Services on one address or port, and addresses or ports outside
//!   the configured ranges, are reported as Warning Events on the Service
//!   (kaiser cannot pick which Service keeps it; upstream asks the user to
//!   recreate one).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::no_admission;
use kaiser_apimachinery::StatusError;
use kaiser_apimachinery::list::ListOptions;
use kaiser_apimachinery::meta;
use kaiser_registry::{DeleteOptions, Store};
use kaiser_storage::StorageError;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{MANAGED_BY, ServiceAllocator, cluster_ips, family, node_ports, service_key as key_of};

/// Upstream repairs Service allocations this often.
pub const INTERVAL: Duration = Duration::from_secs(180);

/// Passes in a row that must find a node port unused before it is
/// released (upstream's `numRepairsBeforeLeakCleanup`).
const PASSES_BEFORE_RELEASE: u32 = 3;

/// An IPAddress younger than this may belong to a Service being created.
const IP_GRACE_SECONDS: i64 = 60;

const IP_COMPONENT: &str = "ipallocator-repair-controller";
const PORT_COMPONENT: &str = "portallocator-repair-controller";

/// What one pass changed or found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Cluster IPs and node ports allocated for Services that used them.
    pub allocated: usize,
    /// Allocations released because no Service used them.
    pub released: usize,
    /// Problems only a user can mend (duplicates, out of range).
    pub reported: usize,
}

/// The repair controller's state between passes.
pub struct Repair {
    alloc: Arc<ServiceAllocator>,
    services: Arc<Store>,
    events: Option<Arc<Store>>,
    /// Unused node ports and how many passes in a row found them so.
    unused_ports: HashMap<u16, u32>,
}

fn items(list: Value) -> Vec<Value> {
    match list {
        Value::Object(mut m) => match m.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The Service an IPAddress names, when its parent is a Service.
fn parent_service(ip: &Value) -> Option<String> {
    let r = ip.pointer("/spec/parentRef")?;
    let field = |f: &str| r.get(f).and_then(Value::as_str).unwrap_or("");
    (field("group").is_empty() && field("resource") == "services")
        .then(|| format!("{}/{}", field("namespace"), field("name")))
}

fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    meta::labels(obj)?.get(key)?.as_str()
}

/// Whether the allocator made an IPAddress (its managed-by label).
fn managed(ip: &Value) -> bool {
    label(ip, "ipaddress.kubernetes.io/managed-by") == Some(MANAGED_BY)
}

/// Whether an IPAddress carries the labels the allocator gives.
fn labelled(ip: &Value, addr: IpAddr) -> bool {
    managed(ip) && label(ip, "ipaddress.kubernetes.io/ip-family") == Some(family(addr))
}

impl Repair {
    pub fn new(
        alloc: Arc<ServiceAllocator>,
        services: Arc<Store>,
        events: Option<Arc<Store>>,
    ) -> Self {
        Repair {
            alloc,
            services,
            events,
            unused_ports: HashMap::new(),
        }
    }

    /// Repairs until `shutdown` turns true, a pass every [`INTERVAL`]
    /// (the first one is the caller's, before serving).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(INTERVAL) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e.message, "repairing service allocations");
            }
        }
    }

    /// One pass over every Service. Allocations are read before the
    /// Services, so one made for a Service written meanwhile looks unused
    /// (and waits out its grace) rather than missing.
    pub async fn run_once(&mut self) -> Result<Pass, StatusError> {
        let all = ListOptions::from_query([])?;
        let addresses = items(self.alloc.ipaddresses.list("", &all).await?);
        let port_keys = self
            .alloc
            .storage
            .range(&self.alloc.node_port_prefix, "", None, 0)
            .await
            .map_err(|e| StatusError::internal(e.to_string()))?;
        let services = items(self.services.list("", &all).await?);
        let by_key: HashMap<String, &Value> = services.iter().map(|s| (key_of(s), s)).collect();
        let mut pass = Pass::default();
        self.repair_ips(&services, &by_key, &addresses, &mut pass)
            .await?;
        let held: Vec<(u16, i64)> = port_keys
            .kvs
            .iter()
            .filter_map(|kv| {
                let port = kv.key.strip_prefix(&self.alloc.node_port_prefix)?;
                Some((port.parse().ok()?, kv.mod_revision))
            })
            .collect();
        self.repair_ports(&services, &held, &mut pass).await?;
        if pass != Pass::default() {
            tracing::info!(?pass, "repaired service allocations");
        }
        Ok(pass)
    }

    async fn repair_ips(
        &self,
        services: &[Value],
        by_key: &HashMap<String, &Value>,
        addresses: &[Value],
        pass: &mut Pass,
    ) -> Result<(), StatusError> {
        let by_name: HashMap<&str, &Value> = addresses.iter().map(|a| (meta::name(a), a)).collect();
        // Addresses this pass allocated, and for whom.
        let mut allocated: HashMap<IpAddr, String> = HashMap::new();
        for svc in services {
            for text in cluster_ips(svc) {
                let Ok(ip) = text.parse::<IpAddr>() else {
                    self.warn(
                        svc,
                        "ClusterIPNotValid",
                        format!("Cluster IP {text} is not a valid IP; please recreate Service"),
                        IP_COMPONENT,
                    )
                    .await;
                    pass.reported += 1;
                    continue;
                };
                let family = family(ip);
                if !self.alloc.net.cidrs.iter().any(|c| c.contains(ip)) {
                    let msg = format!(
                        "Cluster IP [{family}]: {ip} is not within any configured Service CIDR; please recreate service"
                    );
                    self.warn(svc, "ClusterIPOutOfRange", msg, IP_COMPONENT)
                        .await;
                    pass.reported += 1;
                    continue;
                }
                let name = ip.to_string();
                if let Some(owner) = allocated.get(&ip) {
                    if *owner != key_of(svc) {
                        self.report_shared(svc, ip, pass).await;
                    }
                    continue;
                }
                let Some(held) = by_name.get(name.as_str()) else {
                    self.warn(
                        svc,
                        "ClusterIPNotAllocated",
                        format!("Cluster IP [{family}]: {ip} is not allocated; repairing"),
                        IP_COMPONENT,
                    )
                    .await;
                    self.create_ip(ip, svc).await?;
                    allocated.insert(ip, key_of(svc));
                    pass.allocated += 1;
                    continue;
                };
                match parent_service(held) {
                    Some(owner) if owner == key_of(svc) => {
                        if !labelled(held, ip) {
                            self.recreate_ip(ip, svc).await?;
                            allocated.insert(ip, key_of(svc));
                            pass.allocated += 1;
                        }
                    }
                    // Another Service that holds the address keeps it.
                    Some(owner)
                        if by_key
                            .get(&owner)
                            .is_some_and(|o| cluster_ips(o).contains(&name)) =>
                    {
                        self.report_shared(svc, ip, pass).await;
                    }
                    _ => {
                        let msg = format!(
                            "the ClusterIP [{family}]: {ip} for Service {} has a wrong reference; repairing",
                            key_of(svc)
                        );
                        self.warn(svc, "ClusterIPNotAllocated", msg, IP_COMPONENT)
                            .await;
                        self.recreate_ip(ip, svc).await?;
                        allocated.insert(ip, key_of(svc));
                        pass.allocated += 1;
                    }
                }
            }
        }
        // Addresses the allocator made that no Service holds.
        let now = kaiser_apimachinery::time::now_unix();
        for held in addresses.iter().filter(|a| managed(a)) {
            let name = meta::name(held);
            if name.parse().is_ok_and(|ip| allocated.contains_key(&ip)) {
                continue;
            }
            let owner = parent_service(held);
            let used = owner
                .as_ref()
                .and_then(|o| by_key.get(o))
                .is_some_and(|s| cluster_ips(s).iter().any(|ip| ip == name));
            if used {
                continue;
            }
            let created = held
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(kaiser_apimachinery::time::parse_rfc3339)
                .unwrap_or(now);
            // A Service that does not exist (yet): give its create a minute.
            if owner.as_ref().is_some_and(|o| !by_key.contains_key(o))
                && now - created <= IP_GRACE_SECONDS
            {
                continue;
            }
            self.warn_ip(
                held,
                "IPAddressNotAllocated",
                format!(
                    "IPAddress: {name} for Service {} appears to have leaked: cleaning up",
                    owner.as_deref().unwrap_or("(none)")
                ),
            )
            .await;
            // Only the object as it was seen.
            let opts = DeleteOptions {
                precondition_uid: held
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                ..Default::default()
            };
            match self
                .alloc
                .ipaddresses
                .delete("", name, &opts, &no_admission)
                .await
            {
                Ok(_) => pass.released += 1,
                Err(e) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn report_shared(&self, svc: &Value, ip: IpAddr, pass: &mut Pass) {
        let family = family(ip);
        let msg = format!(
            "Cluster IP [{family}]:{ip} was assigned to multiple services; please recreate service"
        );
        self.warn(svc, "ClusterIPAlreadyAllocated", msg, IP_COMPONENT)
            .await;
        pass.reported += 1;
    }

    /// The allocator's own reservation; one made meanwhile (this Service's
    /// update, another replica) is as good.
    async fn create_ip(&self, ip: IpAddr, svc: &Value) -> Result<(), StatusError> {
        self.alloc.reserve_ip(ip, svc, false).await.map(|_| ())
    }

    async fn recreate_ip(&self, ip: IpAddr, svc: &Value) -> Result<(), StatusError> {
        let name = ip.to_string();
        let opts = DeleteOptions::default();
        match self
            .alloc
            .ipaddresses
            .delete("", &name, &opts, &no_admission)
            .await
        {
            Err(e) if e.code != 404 => return Err(e),
            _ => {}
        }
        self.create_ip(ip, svc).await
    }

    async fn repair_ports(
        &mut self,
        services: &[Value],
        held: &[(u16, i64)],
        pass: &mut Pass,
    ) -> Result<(), StatusError> {
        let (lo, hi) = self.alloc.net.node_ports;
        let mut used: HashMap<u16, String> = HashMap::new();
        for svc in services {
            for port in node_ports(svc) {
                if !(lo..=hi).contains(&port) {
                    let msg = format!(
                        "Port {port} is not within the port range {lo}-{hi}; please recreate service"
                    );
                    self.warn(svc, "PortOutOfRange", msg, PORT_COMPONENT).await;
                    pass.reported += 1;
                    continue;
                }
                if used.contains_key(&port) {
                    self.warn(
                        svc,
                        "PortAlreadyAllocated",
                        format!(
                            "Port {port} was assigned to multiple services; please recreate service"
                        ),
                        PORT_COMPONENT,
                    )
                    .await;
                    pass.reported += 1;
                    continue;
                }
                used.insert(port, key_of(svc));
                self.unused_ports.remove(&port);
                if held.iter().any(|(p, _)| *p == port) {
                    continue;
                }
                self.warn(
                    svc,
                    "PortNotAllocated",
                    format!("Port {port} is not allocated; repairing"),
                    PORT_COMPONENT,
                )
                .await;
                // Taken meanwhile means held: nothing else to do.
                self.alloc.reserve_port(port, &key_of(svc), false).await?;
                pass.allocated += 1;
            }
        }
        for (port, revision) in held {
            if used.contains_key(port) {
                continue;
            }
            let passes = self.unused_ports.entry(*port).or_insert(0);
            *passes += 1;
            if *passes < PASSES_BEFORE_RELEASE {
                tracing::info!(port, passes, "a node port no Service uses may have leaked");
                continue;
            }
            self.unused_ports.remove(port);
            // Only the key as it was seen: a new reservation stays.
            match self
                .alloc
                .storage
                .delete(&self.alloc.port_key(*port), Some(*revision))
                .await
            {
                Ok(_) => {
                    tracing::warn!(port, "released a node port that had leaked");
                    pass.released += 1;
                }
                Err(StorageError::NotFound(_) | StorageError::Conflict { .. }) => {}
                Err(e) => return Err(StatusError::internal(e.to_string())),
            }
        }
        Ok(())
    }

    /// A Warning Event about a Service (and the same in the log).
    async fn warn(&self, svc: &Value, reason: &str, message: String, component: &str) {
        tracing::warn!(service = %key_of(svc), reason, "{message}");
        self.record(
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "namespace": meta::namespace(svc),
                "name": meta::name(svc),
                "uid": svc.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
                "resourceVersion": svc.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
            }),
            reason,
            message,
            component,
        )
        .await;
    }

    /// A Warning Event about an IPAddress (cluster-scoped: in `default`).
    async fn warn_ip(&self, ip: &Value, reason: &str, message: String) {
        tracing::warn!(ipaddress = meta::name(ip), reason, "{message}");
        self.record(
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IPAddress",
                "name": meta::name(ip),
                "uid": ip.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            }),
            reason,
            message,
            IP_COMPONENT,
        )
        .await;
    }

    /// Records a Warning Event, or counts it again: a problem every pass
    /// finds stays one Event whose `count` and `lastTimestamp` move, as
    /// upstream's event recorder aggregates repeats.
    async fn record(&self, involved: Value, reason: &str, message: String, component: &str) {
        use std::hash::{Hash, Hasher};
        let Some(events) = &self.events else { return };
        let ns = involved
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_string();
        let name = involved.get("name").and_then(Value::as_str).unwrap_or("");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let kind = involved.get("kind").and_then(Value::as_str).unwrap_or("");
        (kind, &ns, name, reason, &message, component).hash(&mut h);
        let event_name = format!("{name}.{:016x}", h.finish());
        let now = kaiser_apimachinery::time::now_rfc3339();
        let apply = |old: Option<&Value>| -> Result<Value, StatusError> {
            if let Some(old) = old {
                let mut e = old.clone();
                e["count"] = json!(e["count"].as_i64().unwrap_or(1) + 1);
                e["lastTimestamp"] = json!(now);
                return Ok(e);
            }
            Ok(json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": event_name, "namespace": ns},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": "Warning",
                "source": {"component": component},
                "reportingComponent": component,
                "reportingInstance": "",
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            }))
        };
        let opts = kaiser_registry::WriteOptions {
            force_allow_create: true,
            ..Default::default()
        };
        if let Err(e) = events
            .update_with(&ns, &event_name, &apply, &no_admission, &opts)
            .await
        {
            tracing::debug!(error = %e.message, "recording a repair event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KubeApiServer;
    use crate::services::ServiceNetwork;
    use crate::services::ip_address;
    use kaiser_storage::Storage;
    use kaiser_storage::embedded::EmbeddedStore;

    struct Fixture {
        _dir: tempfile::TempDir,
        storage: Arc<dyn Storage>,
        kube: KubeApiServer,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
        let kube = KubeApiServer::new(
            storage.clone(),
            "/registry",
            ServiceNetwork::default(),
            "storage",
            Duration::ZERO,
            &[],
            &crate::watch_cache::WatchCaching::default(),
        );
        Fixture {
            _dir: dir,
            storage,
            kube,
        }
    }

    /// A Service put into storage as another API server would have written
    /// it, with none of kaiser's allocations.
    async fn written_elsewhere(f: &Fixture, name: &str, ip: &str, node_port: u16) {
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"type": "NodePort", "clusterIP": ip, "clusterIPs": [ip],
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": node_port}]}});
        f.storage
            .create(
                &format!("/registry/services/specs/default/{name}"),
                serde_json::to_vec(&svc).expect("json").into(),
            )
            .await
            .expect("create");
    }

    fn ips(f: &Fixture) -> Arc<Store> {
        f.kube
            .store("networking.k8s.io", "ipaddresses")
            .expect("ips")
    }

    async fn event_reasons(f: &Fixture) -> Vec<String> {
        let events = f.kube.store("", "events").expect("events");
        let all = ListOptions::from_query([]).expect("options");
        let mut reasons: Vec<String> = items(events.list("", &all).await.expect("list"))
            .iter()
            .filter_map(|e| e["reason"].as_str().map(str::to_string))
            .collect();
        reasons.sort();
        reasons
    }

    fn service(name: &str, ip: Option<&str>, node_port: Option<u16>) -> Value {
        let mut port = json!({"port": 80, "protocol": "TCP", "targetPort": 80});
        if let Some(p) = node_port {
            port["nodePort"] = json!(p);
        }
        let mut svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "NodePort", "ports": [port]}});
        if let Some(ip) = ip {
            svc["spec"]["clusterIP"] = json!(ip);
        }
        svc
    }

    #[tokio::test]
    async fn services_written_elsewhere_get_their_allocations() {
        let f = fixture();
        written_elsewhere(&f, "legacy", "10.0.0.50", 30100).await;
        let mut repair = f.kube.service_repair().expect("repair");
        let pass = repair.run_once().await.expect("pass");
        assert_eq!(
            pass,
            Pass {
                allocated: 2,
                released: 0,
                reported: 0
            }
        );
        let ips = ips(&f);
        let held = ips.get("", "10.0.0.50").await.expect("allocated");
        assert_eq!(parent_service(&held).as_deref(), Some("default/legacy"));
        assert!(labelled(&held, "10.0.0.50".parse().expect("ip")));
        let (port, _) = f
            .storage
            .get("/registry/ranges/servicenodeports/30100", None)
            .await
            .expect("get");
        assert_eq!(port.expect("reserved").value.as_ref(), b"default/legacy");
        assert_eq!(
            event_reasons(&f).await,
            ["ClusterIPNotAllocated", "PortNotAllocated"]
        );

        // Nothing hands them out again.
        let services = f.kube.store("", "services").expect("services");
        for (svc, field) in [
            (
                service("same-port", None, Some(30100)),
                "spec.ports[0].nodePort",
            ),
            (
                service("same-ip", Some("10.0.0.50"), None),
                "spec.clusterIPs",
            ),
        ] {
            let err = services
                .create(svc, &no_admission, false)
                .await
                .expect_err("already allocated");
            assert_eq!((err.code, err.reason), (422, "Invalid"), "{err:?}");
            assert!(err.message.contains(field), "{}", err.message);
        }
        // A second pass finds everything in order.
        assert_eq!(repair.run_once().await.expect("pass"), Pass::default());
    }

    #[tokio::test]
    async fn unused_allocations_are_released_after_their_grace() {
        let f = fixture();
        let port_key = "/registry/ranges/servicenodeports/30200";
        f.storage
            .create(port_key, b"default/gone".to_vec().into())
            .await
            .expect("leaked port");
        let ips = ips(&f);
        let gone = json!({"metadata": {"namespace": "default", "name": "gone"}});
        // A minute old: leaked. Just made: perhaps a Service being created.
        for ip in ["10.0.0.61", "10.0.0.64"] {
            let mut old = ip_address(ip.parse().expect("ip"), &gone);
            old["metadata"]["creationTimestamp"] = json!("2020-01-01T00:00:00Z");
            f.storage
                .create(
                    &format!("/registry/ipaddresses/{ip}"),
                    serde_json::to_vec(&old).expect("json").into(),
                )
                .await
                .expect("old address");
        }
        // A Service holds this one, though the address names another.
        written_elsewhere(&f, "holder", "10.0.0.64", 30201).await;
        ips.create(
            ip_address("10.0.0.62".parse().expect("ip"), &gone),
            &no_admission,
            false,
        )
        .await
        .expect("new address");
        // Not the allocator's: left alone.
        let mut foreign = ip_address("10.0.0.63".parse().expect("ip"), &gone);
        foreign["metadata"]["labels"]["ipaddress.kubernetes.io/managed-by"] = json!("someone");
        ips.create(foreign, &no_admission, false)
            .await
            .expect("foreign address");

        let mut repair = f.kube.service_repair().expect("repair");
        let pass = repair.run_once().await.expect("pass");
        assert_eq!((pass.allocated, pass.released), (2, 1));
        assert!(
            ips.get("", "10.0.0.61").await.is_err(),
            "the old address stays"
        );
        let moved = ips
            .get("", "10.0.0.64")
            .await
            .expect("re-made for its holder");
        assert_eq!(parent_service(&moved).as_deref(), Some("default/holder"));
        ips.get("", "10.0.0.62")
            .await
            .expect("the new address is kept");
        ips.get("", "10.0.0.63")
            .await
            .expect("the foreign one is kept");
        // The port goes on the third pass in a row that finds it unused.
        assert_eq!(repair.run_once().await.expect("pass").released, 0);
        let held = |f: &Fixture| {
            let s = f.storage.clone();
            async move { s.get(port_key, None).await.expect("get").0.is_some() }
        };
        assert!(held(&f).await);
        assert_eq!(repair.run_once().await.expect("pass").released, 1);
        assert!(!held(&f).await);
        assert_eq!(
            event_reasons(&f).await,
            [
                "ClusterIPNotAllocated",
                "IPAddressNotAllocated",
                "PortNotAllocated"
            ]
        );
    }

    #[tokio::test]
    async fn services_sharing_an_allocation_are_reported() {
        let f = fixture();
        written_elsewhere(&f, "first", "10.0.0.70", 30300).await;
        written_elsewhere(&f, "second", "10.0.0.70", 30300).await;
        written_elsewhere(&f, "outside", "10.9.9.9", 40000).await;
        let mut repair = f.kube.service_repair().expect("repair");
        let pass = repair.run_once().await.expect("pass");
        assert_eq!(
            pass,
            Pass {
                allocated: 2,
                released: 0,
                reported: 4
            }
        );
        let ips = ips(&f);
        let held = ips.get("", "10.0.0.70").await.expect("allocated");
        assert_eq!(parent_service(&held).as_deref(), Some("default/first"));
        assert_eq!(
            event_reasons(&f).await,
            [
                "ClusterIPAlreadyAllocated",
                "ClusterIPNotAllocated",
                "ClusterIPOutOfRange",
                "PortAlreadyAllocated",
                "PortNotAllocated",
                "PortOutOfRange"
            ]
        );
        // Reported again, but nothing moves; each problem stays one Event,
        // counted twice.
        let again = repair.run_once().await.expect("pass");
        assert_eq!((again.allocated, again.released), (0, 0));
        let events = f.kube.store("", "events").expect("events");
        let all = ListOptions::from_query([]).expect("options");
        let listed = items(events.list("", &all).await.expect("list"));
        assert_eq!(listed.len(), 6);
        let shared = listed
            .iter()
            .find(|e| e["reason"] == "PortAlreadyAllocated")
            .expect("reported");
        assert_eq!(shared["count"], 2);
        assert_eq!(shared["involvedObject"]["name"], "second");
    }
}
