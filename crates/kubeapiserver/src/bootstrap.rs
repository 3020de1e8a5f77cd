//! The objects a fresh upstream cluster has before anyone writes to it:
//! the system namespaces, the `kubernetes` ServiceCIDR and Service (its
//! endpoints are `endpoint_reconciler`'s), the system PriorityClasses,
//! and API Priority and Fairness' bootstrap FlowSchemas and
//! PriorityLevelConfigurations. Created when missing at every start.
//! The RBAC bootstrap policy and its reconciliation are in [`rbac`].

pub mod rbac;

use std::net::IpAddr;

use kaiser_apimachinery::StatusError;
use serde_json::{Value, json};

use crate::services::ServiceNetwork;

/// The namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Where clients reach this server from inside the cluster.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub address: IpAddr,
    pub port: u16,
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// `(group, resource, object)` for every bootstrap object, in creation order.
pub fn objects(net: &ServiceNetwork, at: &Endpoint) -> Vec<(&'static str, &'static str, Value)> {
    let mut out: Vec<(&str, &str, Value)> = SYSTEM_NAMESPACES
        .iter()
        .map(|n| ("", "namespaces", namespace(n)))
        .collect();
    let cidrs: Vec<String> = net.cidrs.iter().map(|c| c.to_string()).collect();
    out.push((
        "networking.k8s.io",
        "servicecidrs",
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
               "metadata": {"name": "kubernetes"}, "spec": {"cidrs": cidrs}}),
    ));
    let ips: Vec<String> = net.cidrs.iter().map(|c| c.first().to_string()).collect();
    let families: Vec<&str> = net.cidrs.iter().map(|c| c.family()).collect();
    let policy = if ips.len() > 1 {
        "RequireDualStack"
    } else {
        "SingleStack"
    };
    out.push((
        "",
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": ips.first(), "clusterIPs": ips,
                     "ipFamilies": families, "ipFamilyPolicy": policy,
                     "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": at.port}]}}),
    ));
    for (name, value, what) in [
        ("system-node-critical", 2_000_001_000, "node"),
        ("system-cluster-critical", 2_000_000_000, "cluster"),
    ] {
        out.push((
            "scheduling.k8s.io",
            "priorityclasses",
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value,
                "description": format!("The highest priorities, for {what}-critical system pods.")}),
        ));
    }
    for plc in priority_levels() {
        out.push((
            "flowcontrol.apiserver.k8s.io",
            "prioritylevelconfigurations",
            plc,
        ));
    }
    for fs in flow_schemas() {
        out.push(("flowcontrol.apiserver.k8s.io", "flowschemas", fs));
    }
    out
}

const AUTOUPDATE: &str = "apf.kubernetes.io/autoupdate-spec";

fn plc(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
           "metadata": {"name": name, "annotations": {AUTOUPDATE: "true"}}, "spec": spec})
}

fn limited(shares: i64, lendable: i64, queues: Option<(i64, i64, i64)>) -> Value {
    let response = match queues {
        Some((queues, hand_size, queue_length_limit)) => json!({"type": "Queue",
            "queuing": {"queues": queues, "handSize": hand_size, "queueLengthLimit": queue_length_limit}}),
        None => json!({"type": "Reject"}),
    };
    json!({"type": "Limited", "limited": {"nominalConcurrencyShares": shares,
           "lendablePercent": lendable, "limitResponse": response}})
}

/// Upstream's mandatory and suggested priority levels.
pub(crate) fn priority_levels() -> Vec<Value> {
    vec![
        plc(
            "exempt",
            json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
        ),
        plc("catch-all", limited(5, 0, None)),
        plc("system", limited(30, 33, Some((64, 6, 50)))),
        plc("node-high", limited(40, 25, Some((64, 6, 50)))),
        plc("leader-election", limited(10, 0, Some((16, 4, 50)))),
        plc("workload-high", limited(40, 50, Some((128, 6, 50)))),
        plc("workload-low", limited(100, 90, Some((128, 6, 50)))),
        plc("global-default", limited(20, 50, Some((128, 6, 50)))),
    ]
}

fn fs(
    name: &str,
    precedence: i64,
    level: &str,
    distinguisher: Option<&str>,
    rules: Value,
) -> Value {
    let mut spec = json!({"matchingPrecedence": precedence,
        "priorityLevelConfiguration": {"name": level}, "rules": rules});
    if let Some(d) = distinguisher {
        spec["distinguisherMethod"] = json!({"type": d});
    }
    json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
           "metadata": {"name": name, "annotations": {AUTOUPDATE: "true"}}, "spec": spec})
}

fn groups(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|g| json!({"kind": "Group", "group": {"name": g}}))
            .collect(),
    )
}

fn users(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|u| json!({"kind": "User", "user": {"name": u}}))
            .collect(),
    )
}

/// Leader election by the control plane (`system`: its users and kube-system
/// service accounts, on leases) or by workloads (kube-system service
/// accounts, on endpoints, configmaps and leases in any namespace).
fn leader_election(system: bool) -> Value {
    let sa = kube_system_accounts(&["*"]);
    let leases = json!({"verbs": ["get", "create", "update"], "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"], "namespaces": ["*"]});
    if system {
        let mut subjects = users(&["system:kube-controller-manager", "system:kube-scheduler"]);
        if let (Some(a), Some(b)) = (subjects.as_array_mut(), sa.as_array()) {
            a.extend(b.iter().cloned());
        }
        return json!([{"subjects": subjects, "resourceRules": [leases]}]);
    }
    json!([{"subjects": sa, "resourceRules": [
        {"verbs": ["get", "create", "update"], "apiGroups": [""], "resources": ["endpoints", "configmaps"], "namespaces": ["*"]},
        leases,
    ]}])
}

/// ServiceAccount subjects in kube-system.
fn kube_system_accounts(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|n| json!({"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system", "name": n}}))
            .collect(),
    )
}

/// The endpoints controller's own writes, ahead of workload leader election.
fn endpoint_controller() -> Value {
    let mut subjects = users(&["system:kube-controller-manager"]);
    let accounts =
        kube_system_accounts(&["endpoint-controller", "endpointslicemirroring-controller"]);
    if let (Some(a), Some(b)) = (subjects.as_array_mut(), accounts.as_array()) {
        a.extend(b.iter().cloned());
    }
    json!([{"subjects": subjects, "resourceRules": [
        {"verbs": ["get", "create", "update"], "apiGroups": [""], "resources": ["endpoints"], "namespaces": ["*"]}]}])
}

/// Nodes reporting their health: their Node objects and leases.
fn node_high() -> Value {
    json!([{"subjects": groups(&["system:nodes"]), "resourceRules": [
        {"verbs": ["*"], "apiGroups": [""], "resources": ["nodes", "nodes/status"], "clusterScope": true, "namespaces": ["*"]},
        {"verbs": ["*"], "apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "namespaces": ["*"]}]}])
}

fn everything(subjects: Value) -> Value {
    json!([{"subjects": subjects,
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                           "clusterScope": true, "namespaces": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}])
}

/// Upstream's mandatory and suggested flow schemas.
pub(crate) fn flow_schemas() -> Vec<Value> {
    let everyone = ["system:unauthenticated", "system:authenticated"];
    vec![
        fs(
            "exempt",
            1,
            "exempt",
            None,
            everything(groups(&["system:masters"])),
        ),
        fs(
            "probes",
            2,
            "exempt",
            None,
            json!([{"subjects": groups(&everyone),
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]}]),
        ),
        fs(
            "system-leader-election",
            100,
            "leader-election",
            Some("ByUser"),
            leader_election(true),
        ),
        fs(
            "endpoint-controller",
            150,
            "workload-high",
            Some("ByUser"),
            endpoint_controller(),
        ),
        fs(
            "workload-leader-election",
            200,
            "leader-election",
            Some("ByUser"),
            leader_election(false),
        ),
        fs(
            "system-node-high",
            400,
            "node-high",
            Some("ByUser"),
            node_high(),
        ),
        fs(
            "system-nodes",
            500,
            "system",
            Some("ByUser"),
            everything(groups(&["system:nodes"])),
        ),
        fs(
            "kube-controller-manager",
            800,
            "workload-high",
            Some("ByNamespace"),
            everything(users(&["system:kube-controller-manager"])),
        ),
        fs(
            "kube-scheduler",
            800,
            "workload-high",
            Some("ByNamespace"),
            everything(users(&["system:kube-scheduler"])),
        ),
        fs(
            "kube-system-service-accounts",
            900,
            "workload-high",
            Some("ByNamespace"),
            everything(kube_system_accounts(&["*"])),
        ),
        fs(
            "service-accounts",
            9000,
            "workload-low",
            Some("ByUser"),
            everything(groups(&["system:serviceaccounts"])),
        ),
        fs(
            "global-default",
            9900,
            "global-default",
            Some("ByUser"),
            everything(groups(&everyone)),
        ),
        fs(
            "catch-all",
            10000,
            "catch-all",
            Some("ByUser"),
            everything(groups(&everyone)),
        ),
    ]
}

/// Whether a bootstrap create failed only because the object is there.
pub fn already_there(e: &StatusError) -> bool {
    e.reason == "AlreadyExists"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::Cidr;

    #[test]
    fn bootstrap_objects_point_at_this_server() {
        let net = ServiceNetwork {
            cidrs: vec![Cidr::parse("10.96.0.0/12").expect("cidr")],
            node_ports: (30000, 32767),
        };
        let at = Endpoint {
            address: "10.1.2.3".parse().expect("ip"),
            port: 6443,
        };
        let objs = objects(&net, &at);
        let svc = objs
            .iter()
            .find(|(_, r, _)| *r == "services")
            .expect("service");
        assert_eq!(svc.2["spec"]["clusterIP"], "10.96.0.1");
        assert_eq!(svc.2["spec"]["ports"][0]["targetPort"], 6443);
        let names: Vec<&str> = objs
            .iter()
            .filter(|(_, r, _)| *r == "flowschemas")
            .filter_map(|(_, _, o)| o["metadata"]["name"].as_str())
            .collect();
        assert!(names.contains(&"exempt") && names.contains(&"catch-all"));
        assert_eq!(names.len(), 13, "{names:?}");
        for n in ["endpoint-controller", "system-node-high"] {
            assert!(names.contains(&n), "{n} missing");
        }
        assert_eq!(
            objs.iter().filter(|(_, r, _)| *r == "namespaces").count(),
            4
        );
    }
}
