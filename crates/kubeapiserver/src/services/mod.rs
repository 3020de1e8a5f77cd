//! Service allocations: cluster IPs from `--service-cluster-ip-range` (one
//! range per IP family, dual-stack ready) recorded as `IPAddress` objects
//! named by the address (as upstream's IPAddress allocator does, so the
//! store's create-if-absent makes them unique across requests, restarts and
//! replicas), and node ports from `--service-node-port-range` recorded as
//! keys under `<root>/ranges/servicenodeports/`. `repair` keeps both in line
//! with the Services stored.

pub mod repair;

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use kaiser_apimachinery::StatusError;
use kaiser_apimachinery::field::{ErrorKind, ErrorList, FieldError};
use kaiser_registry::{DeleteOptions, Store, WriteHooks};
use kaiser_storage::{Storage, StorageError};
use serde_json::{Value, json};

/// One service CIDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub ip: IpAddr,
    pub bits: u8,
}

impl Cidr {
    /// Parses `10.96.0.0/12` or `fd00::/108`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?} is not a valid CIDR");
        let (ip, bits) = s.trim().split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = ip.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad());
        }
        if max - bits < 2 {
            return Err(format!("{s:?} is too small to allocate service IPs from"));
        }
        Ok(Cidr { ip, bits }.network())
    }

    fn host_bits(&self) -> u32 {
        u32::from(if self.ip.is_ipv4() { 32 } else { 128 } - self.bits)
    }

    fn base(&self) -> u128 {
        match self.ip {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        }
    }

    fn network(self) -> Cidr {
        let hb = self.host_bits();
        let masked = if hb >= 128 {
            0
        } else {
            self.base() >> hb << hb
        };
        Cidr {
            ip: self.at(masked),
            bits: self.bits,
        }
    }

    fn at(&self, v: u128) -> IpAddr {
        match self.ip {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(v as u32)),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(v)),
        }
    }

    /// Addresses that may be handed out: the network address is never
    /// used, nor the broadcast address of an IPv4 range; IPv6 ranges are
    /// capped at 2^16 candidates for the scan (upstream caps them too).
    fn usable(&self) -> (u128, u128) {
        let hb = self.host_bits().min(64);
        let size: u128 = 1u128 << hb;
        let last = if self.ip.is_ipv4() {
            size - 2
        } else {
            size - 1
        };
        (1, last.min(1 << 16))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.ip.is_ipv4() {
            return false;
        }
        let v = match ip {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let hb = self.host_bits();
        hb >= 128 || v >> hb == self.base() >> hb
    }

    /// The first usable address (the `kubernetes` Service's IP).
    pub fn first(&self) -> IpAddr {
        self.at(self.base() + 1)
    }

    pub fn family(&self) -> &'static str {
        family(self.ip)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.bits)
    }
}

/// The Service network: IP ranges (primary first) and the node port range.
#[derive(Clone, Debug)]
pub struct ServiceNetwork {
    pub cidrs: Vec<Cidr>,
    pub node_ports: (u16, u16),
}

impl Default for ServiceNetwork {
    fn default() -> Self {
        ServiceNetwork {
            cidrs: vec![Cidr::parse("10.0.0.0/24").unwrap_or(Cidr {
                ip: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 0)),
                bits: 24,
            })],
            node_ports: (30000, 32767),
        }
    }
}

/// Parses `--service-node-port-range` (`30000-32767` or `30000+2767`).
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{s:?} is not a valid port range");
    let (lo, hi) = if let Some((a, b)) = s.split_once('-') {
        (
            a.trim().parse::<u16>().map_err(|_| bad())?,
            b.trim().parse::<u16>().map_err(|_| bad())?,
        )
    } else if let Some((a, n)) = s.split_once('+') {
        let lo = a.trim().parse::<u16>().map_err(|_| bad())?;
        let n = n.trim().parse::<u16>().map_err(|_| bad())?;
        (lo, lo.checked_add(n).ok_or_else(bad)?)
    } else {
        let p = s.trim().parse::<u16>().map_err(|_| bad())?;
        (p, p)
    };
    if lo == 0 || hi < lo {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn spec_str<'a>(svc: &'a Value, f: &str) -> &'a str {
    svc.pointer(&format!("/spec/{f}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Whether a Service of this shape gets cluster IPs.
fn needs_ips(svc: &Value) -> bool {
    spec_str(svc, "type") != "ExternalName" && spec_str(svc, "clusterIP") != "None"
}

fn needs_node_ports(svc: &Value) -> bool {
    match spec_str(svc, "type") {
        "NodePort" => true,
        "LoadBalancer" => svc
            .pointer("/spec/allocateLoadBalancerNodePorts")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        _ => false,
    }
}

/// The cluster IPs a Service holds.
fn cluster_ips(svc: &Value) -> Vec<String> {
    if !needs_ips(svc) {
        return Vec::new();
    }
    let mut ips: Vec<String> = svc
        .pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "None")
        .map(str::to_string)
        .collect();
    let single = spec_str(svc, "clusterIP");
    if ips.is_empty() && !single.is_empty() {
        ips.push(single.to_string());
    }
    ips
}

/// The node ports a Service holds (including its health check port).
fn node_ports(svc: &Value) -> Vec<u16> {
    let mut out: Vec<u16> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .collect();
    if let Some(p) = svc
        .pointer("/spec/healthCheckNodePort")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
    {
        out.push(p);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `IPv4` or `IPv6`, as Services and IPAddresses name an address's family.
fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

/// `namespace/name` of a Service: a node port's recorded owner, and how an
/// IPAddress's parent is matched.
fn service_key(svc: &Value) -> String {
    format!(
        "{}/{}",
        kaiser_apimachinery::meta::namespace(svc),
        kaiser_apimachinery::meta::name(svc)
    )
}

/// The label upstream's allocator (and so kaiser's) puts on its IPAddresses.
const MANAGED_BY: &str = "ipallocator.k8s.io";

/// The IPAddress object that holds `ip` for `svc`, as upstream's allocator
/// writes it.
fn ip_address(ip: IpAddr, svc: &Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {
            "name": ip.to_string(),
            "labels": {
                "ipaddress.kubernetes.io/ip-family": family(ip),
                "ipaddress.kubernetes.io/managed-by": MANAGED_BY,
            },
        },
        "spec": {"parentRef": {
            "group": "",
            "resource": "services",
            "namespace": kaiser_apimachinery::meta::namespace(svc),
            "name": kaiser_apimachinery::meta::name(svc),
        }},
    })
}

fn invalid(errs: ErrorList, svc: &Value) -> StatusError {
    StatusError::invalid("Service", "", kaiser_apimachinery::meta::name(svc), &errs)
}

/// A field error whose value prints as Go prints a string slice.
fn ips_error(field: &str, ips: &[String], detail: String) -> FieldError {
    let shown: Vec<String> = ips.iter().map(|s| format!("{s:?}")).collect();
    FieldError {
        kind: ErrorKind::Invalid,
        field: field.into(),
        value: None,
        detail: format!("[]string{{{}}}: {detail}", shown.join(", ")),
    }
}

/// The allocator, run as the services store's write hooks.
pub struct ServiceAllocator {
    net: ServiceNetwork,
    ipaddresses: Arc<Store>,
    storage: Arc<dyn Storage>,
    node_port_prefix: String,
}

impl ServiceAllocator {
    pub fn new(
        net: ServiceNetwork,
        ipaddresses: Arc<Store>,
        storage: Arc<dyn Storage>,
        root: &str,
    ) -> Self {
        ServiceAllocator {
            net,
            ipaddresses,
            storage,
            node_port_prefix: format!("{}/ranges/servicenodeports/", root.trim_end_matches('/')),
        }
    }

    /// The IP families a Service asks for, primary first.
    fn families(&self, svc: &Value) -> Vec<Cidr> {
        let policy = spec_str(svc, "ipFamilyPolicy");
        let asked: Vec<&str> = svc
            .pointer("/spec/ipFamilies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut out: Vec<Cidr> = Vec::new();
        for fam in &asked {
            if let Some(c) = self.net.cidrs.iter().find(|c| c.family() == *fam)
                && !out.contains(c)
            {
                out.push(*c);
            }
        }
        if out.is_empty()
            && let Some(first) = self.net.cidrs.first()
        {
            out.push(*first);
        }
        if matches!(policy, "PreferDualStack" | "RequireDualStack") {
            for c in &self.net.cidrs {
                if !out.contains(c) {
                    out.push(*c);
                }
            }
        } else {
            out.truncate(1);
        }
        out
    }

    async fn reserve_ip(
        &self,
        ip: IpAddr,
        svc: &Value,
        dry_run: bool,
    ) -> Result<bool, StatusError> {
        let name = ip.to_string();
        if dry_run {
            return match self.ipaddresses.get("", &name).await {
                Ok(_) => Ok(false),
                Err(e) if e.code == 404 => Ok(true),
                Err(e) => Err(e),
            };
        }
        match self
            .ipaddresses
            .create(ip_address(ip, svc), &|_, _| Ok(()), false)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.reason == "AlreadyExists" => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn release_ip(&self, ip: &str) {
        let opts = DeleteOptions::default();
        if let Err(e) = self.ipaddresses.delete("", ip, &opts, &|_, _| Ok(())).await
            && e.code != 404
        {
            tracing::warn!(ip, error = %e.message, "could not release a service IP");
        }
    }

    /// Picks and reserves a free address of `cidr`, scanning from a random
    /// offset so concurrent creates rarely collide.
    async fn allocate_ip(
        &self,
        cidr: Cidr,
        svc: &Value,
        dry_run: bool,
    ) -> Result<IpAddr, StatusError> {
        let (lo, hi) = cidr.usable();
        let span = hi - lo + 1;
        let start = u128::from(kaiser_apimachinery::uid::new_v4().as_u128() as u64) % span;
        for i in 0..span {
            let ip = cidr.at(cidr.base() + lo + (start + i) % span);
            // The first address belongs to the `kubernetes` Service.
            if ip == cidr.first() && span > 1 {
                continue;
            }
            if self.reserve_ip(ip, svc, dry_run).await? {
                return Ok(ip);
            }
        }
        Err(StatusError::internal(format!(
            "failed to allocate a serviceIP: range is full ({cidr})"
        )))
    }

    async fn allocate_ips(
        &self,
        svc: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> Result<(), StatusError> {
        if !needs_ips(svc) {
            if spec_str(svc, "clusterIP") == "None" {
                let fams = self.families(svc);
                if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("clusterIPs".into(), json!(["None"]));
                    spec.entry("ipFamilyPolicy")
                        .or_insert_with(|| json!("SingleStack"));
                    spec.insert(
                        "ipFamilies".into(),
                        fams.iter().map(|c| c.family()).collect::<Vec<_>>().into(),
                    );
                }
            }
            return Ok(());
        }
        // An update keeps what the object already holds.
        let held = old.map(cluster_ips).unwrap_or_default();
        let mut asked = cluster_ips(svc);
        if asked.is_empty() && !held.is_empty() {
            asked = held.clone();
        }
        let families = self.families(svc);
        let mut ips: Vec<String> = Vec::new();
        for (i, cidr) in families.iter().enumerate() {
            match asked.get(i) {
                Some(want) => {
                    if held.contains(want) {
                        ips.push(want.clone());
                        continue;
                    }
                    let ip: IpAddr = want.parse().map_err(|_| {
                        invalid(
                            ErrorList(vec![FieldError::invalid(
                                &format!("spec.clusterIPs[{i}]"),
                                want.as_str(),
                                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                            )]),
                            svc,
                        )
                    })?;
                    if !self.net.cidrs.iter().any(|c| c.contains(ip)) {
                        let range = self
                            .net
                            .cidrs
                            .iter()
                            .find(|c| c.ip.is_ipv4() == ip.is_ipv4())
                            .unwrap_or(cidr);
                        self.release_all(&ips, &[], &held).await;
                        return Err(invalid(
                            ErrorList(vec![ips_error(
                                "spec.clusterIPs",
                                &asked,
                                format!(
                                    "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}"
                                ),
                            )]),
                            svc,
                        ));
                    }
                    if !self.reserve_ip(ip, svc, dry_run).await? {
                        self.release_all(&ips, &[], &held).await;
                        return Err(invalid(
                            ErrorList(vec![ips_error(
                                "spec.clusterIPs",
                                &asked,
                                format!(
                                    "failed to allocate IP {ip}: provided IP is already allocated"
                                ),
                            )]),
                            svc,
                        ));
                    }
                    ips.push(ip.to_string());
                }
                None => match self.allocate_ip(*cidr, svc, dry_run).await {
                    Ok(ip) => ips.push(ip.to_string()),
                    Err(e) => {
                        self.release_all(&ips, &[], &held).await;
                        return Err(e);
                    }
                },
            }
        }
        let fams: Vec<&str> = ips
            .iter()
            .map(|s| if s.contains(':') { "IPv6" } else { "IPv4" })
            .collect();
        if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert(
                "clusterIP".into(),
                json!(ips.first().cloned().unwrap_or_default()),
            );
            spec.insert("clusterIPs".into(), json!(ips));
            spec.insert("ipFamilies".into(), json!(fams));
            spec.entry("ipFamilyPolicy")
                .or_insert_with(|| json!("SingleStack"));
        }
        Ok(())
    }

    fn port_key(&self, port: u16) -> String {
        format!("{}{port}", self.node_port_prefix)
    }

    async fn reserve_port(
        &self,
        port: u16,
        owner: &str,
        dry_run: bool,
    ) -> Result<bool, StatusError> {
        let key = self.port_key(port);
        if dry_run {
            return match self.storage.get(&key, None).await {
                Ok((kv, _)) => Ok(kv.is_none()),
                Err(e) => Err(StatusError::internal(e.to_string())),
            };
        }
        match self
            .storage
            .create(&key, owner.as_bytes().to_vec().into())
            .await
        {
            Ok(_) => Ok(true),
            Err(StorageError::KeyExists(_)) => Ok(false),
            Err(e) => Err(StatusError::internal(e.to_string())),
        }
    }

    async fn release_port(&self, port: u16) {
        match self.storage.delete(&self.port_key(port), None).await {
            Ok(_) | Err(StorageError::NotFound(_)) => {}
            Err(e) => tracing::warn!(port, error = %e, "could not release a node port"),
        }
    }

    async fn allocate_node_ports(
        &self,
        svc: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> Result<(), StatusError> {
        let held = old.map(node_ports).unwrap_or_default();
        let old_ports: Vec<Value> = old
            .and_then(|o| o.pointer("/spec/ports"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let wanted = needs_node_ports(svc);
        let (lo, hi) = self.net.node_ports;
        let mut taken: Vec<u16> = Vec::new();
        let mut errs = ErrorList::new();
        let mut ports: Vec<Value> = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let owner = service_key(svc);
        for (i, port) in ports.iter_mut().enumerate() {
            let asked = port.get("nodePort").and_then(Value::as_u64).unwrap_or(0);
            if !wanted {
                if let Some(o) = port.as_object_mut() {
                    o.remove("nodePort");
                }
                continue;
            }
            let field = format!("spec.ports[{i}].nodePort");
            if asked == 0 {
                // Keep the port this Service port had before.
                let same = old_ports.iter().find(|p| {
                    p.get("port") == port.get("port") && p.get("protocol") == port.get("protocol")
                });
                if let Some(prev) = same.and_then(|p| p.get("nodePort")).and_then(Value::as_u64)
                    && prev != 0
                {
                    port["nodePort"] = json!(prev);
                    continue;
                }
                let span = u32::from(hi - lo) + 1;
                let start = (kaiser_apimachinery::uid::new_v4().as_u128() as u32) % span;
                let mut got = None;
                for k in 0..span {
                    let cand = lo + ((start + k) % span) as u16;
                    if taken.contains(&cand) || held.contains(&cand) {
                        continue;
                    }
                    if self.reserve_port(cand, &owner, dry_run).await? {
                        got = Some(cand);
                        break;
                    }
                }
                match got {
                    Some(p) => {
                        taken.push(p);
                        port["nodePort"] = json!(p);
                    }
                    None => errs.push(FieldError::invalid(&field, 0, "range is full")),
                }
                continue;
            }
            let Some(p) = u16::try_from(asked).ok().filter(|p| (lo..=hi).contains(p)) else {
                errs.push(FieldError::invalid(
                    &field,
                    asked,
                    format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"),
                ));
                continue;
            };
            if held.contains(&p) || taken.contains(&p) {
                continue;
            }
            if self.reserve_port(p, &owner, dry_run).await? {
                taken.push(p);
            } else {
                errs.push(FieldError::invalid(
                    &field,
                    asked,
                    "provided port is already allocated",
                ));
            }
        }
        if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut)
            && spec.contains_key("ports")
        {
            spec.insert("ports".into(), Value::Array(ports));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            if !dry_run {
                for p in taken {
                    self.release_port(p).await;
                }
            }
            Err(invalid(errs, svc))
        }
    }

    /// Releases `ips` and `ports` except what `keep` (IPs) holds.
    async fn release_all(&self, ips: &[String], ports: &[u16], keep: &[String]) {
        for ip in ips.iter().filter(|ip| !keep.contains(ip)) {
            self.release_ip(ip).await;
        }
        for p in ports {
            self.release_port(*p).await;
        }
    }
}

#[async_trait]
impl WriteHooks for ServiceAllocator {
    async fn before_write(
        &self,
        new: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> Result<(), StatusError> {
        self.allocate_ips(new, old, dry_run).await?;
        if let Err(e) = self.allocate_node_ports(new, old, dry_run).await {
            if !dry_run {
                let held = old.map(cluster_ips).unwrap_or_default();
                self.release_all(&cluster_ips(new), &[], &held).await;
            }
            return Err(e);
        }
        Ok(())
    }

    async fn after_write(&self, new: &Value, old: Option<&Value>, written: bool) {
        let (new_ips, new_ports) = (cluster_ips(new), node_ports(new));
        let (old_ips, old_ports) = old.map_or((Vec::new(), Vec::new()), |o| {
            (cluster_ips(o), node_ports(o))
        });
        let (ips, ports, keep) = if written {
            let ports: Vec<u16> = old_ports
                .iter()
                .filter(|p| !new_ports.contains(p))
                .copied()
                .collect();
            (old_ips, ports, new_ips)
        } else {
            let ports: Vec<u16> = new_ports
                .iter()
                .filter(|p| !old_ports.contains(p))
                .copied()
                .collect();
            (new_ips, ports, old_ips)
        };
        self.release_all(&ips, &ports, &keep).await;
    }

    async fn after_delete(&self, obj: &Value) {
        self.release_all(&cluster_ips(obj), &node_ports(obj), &[])
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_contain() {
        let c = Cidr::parse("10.96.0.0/12").expect("cidr");
        assert_eq!(c.to_string(), "10.96.0.0/12");
        assert_eq!(c.first().to_string(), "10.96.0.1");
        assert!(c.contains("10.111.2.3".parse().expect("ip")));
        assert!(!c.contains("10.112.0.1".parse().expect("ip")));
        assert!(!c.contains("fd00::1".parse().expect("ip")));
        let c = Cidr::parse("10.0.0.7/24").expect("cidr");
        assert_eq!(c.to_string(), "10.0.0.0/24");
        assert_eq!(c.usable(), (1, 254));
        let v6 = Cidr::parse("fd00::/108").expect("v6");
        assert_eq!(v6.family(), "IPv6");
        assert_eq!(v6.first().to_string(), "fd00::1");
        assert!(Cidr::parse("10.0.0.0/31").is_err());
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert!(Cidr::parse("x/8").is_err());
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("30000-32767"), Ok((30000, 32767)));
        assert_eq!(parse_port_range("30000+2767"), Ok((30000, 32767)));
        assert!(parse_port_range("5-1").is_err());
        assert!(parse_port_range("65535+2").is_err());
    }

    #[test]
    fn what_a_service_holds() {
        let svc = json!({"spec": {"type": "NodePort", "clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"],
            "ports": [{"port": 80, "nodePort": 30080}, {"port": 81}]}});
        assert_eq!(cluster_ips(&svc), ["10.0.0.5"]);
        assert_eq!(node_ports(&svc), [30080]);
        assert!(needs_node_ports(&svc));
        let headless = json!({"spec": {"clusterIP": "None"}});
        assert!(cluster_ips(&headless).is_empty());
        let ext = json!({"spec": {"type": "ExternalName", "clusterIP": "10.0.0.9"}});
        assert!(cluster_ips(&ext).is_empty());
        let e = ips_error("spec.clusterIPs", &["10.1.2.3".into()], "failed".into());
        assert_eq!(
            e.to_string(),
            "spec.clusterIPs: Invalid value: []string{\"10.1.2.3\"}: failed"
        );
    }
}
