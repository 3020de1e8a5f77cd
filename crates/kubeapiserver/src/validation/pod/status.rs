//! `ValidatePodStatusUpdate`: what the `pods/status` path may write.

use std::collections::HashSet;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use serde_json::Value;

use super::super::{
    IMMUTABLE_MSG, arr, at, child, dns_subdomain, gofmt, idx, invalid_raw, net, qualified_name,
    raw, str_of,
};
use super::{PodOpts, annotation_updates, pod_specific_annotations};

/// Conditions the system owns; others must be qualified names.
const SYSTEM_CONDITIONS: [&str; 3] = ["PodScheduled", "Ready", "Initialized"];

fn terminated(status: &Value) -> bool {
    at(at(status, "state"), "terminated").is_object()
}

fn exit_code(status: &Value) -> i64 {
    super::super::int_of(at(at(status, "state"), "terminated"), "exitCode").unwrap_or(0)
}

/// `ValidateContainerStateTransition` (and the init containers' variant,
/// where sidecars, `restartPolicy: Always`, may restart).
fn state_transitions(
    errs: &mut ErrorList,
    new: &[Value],
    old: &[Value],
    path: &str,
    restart_policy: &str,
    restartable: &HashSet<&str>,
) {
    if restart_policy == "Always" {
        return;
    }
    for (i, o) in old.iter().enumerate() {
        if !terminated(o) {
            continue;
        }
        if exit_code(o) != 0 && restart_policy == "OnFailure" {
            continue;
        }
        let name = str_of(o, "name");
        if restartable.contains(name) {
            continue;
        }
        for n in new {
            if str_of(n, "name") == name && !terminated(n) {
                errs.push(FieldError::forbidden(
                    &child(&idx(path, i), "state"),
                    "may not be transitioned to non-terminated state",
                ));
            }
        }
    }
}

/// `validatePodIPs` / `validateHostIPs`: valid, at most one per family, no
/// duplicates.
fn ip_list(errs: &mut ErrorList, status: &Value, field: &str, go_type: &str) {
    let path = child("status", field);
    let list = arr(status, field);
    if field == "hostIPs"
        && let Some(first) = list.first()
        && str_of(first, "ip") != str_of(status, "hostIP")
    {
        errs.push(FieldError::invalid(
            &child(&idx(&path, 0), "ip"),
            str_of(first, "ip"),
            "must be equal to `hostIP`",
        ));
    }
    for (i, ip) in list.iter().enumerate() {
        net::valid_ip(errs, &idx(&path, i), str_of(ip, "ip"));
    }
    if list.len() < 2 {
        return;
    }
    let render = |v: &Value| format!("core.{go_type}{{IP:{}}}", gofmt::quote(str_of(v, "ip")));
    let mut seen = HashSet::new();
    let mut dups = Vec::new();
    for (i, ip) in list.iter().enumerate() {
        if !seen.insert(str_of(ip, "ip")) {
            dups.push(raw(
                kaiser_apimachinery::field::ErrorKind::Duplicate,
                &idx(&path, i),
                render(ip),
                "",
            ));
        }
    }
    let families: Option<Vec<bool>> = list
        .iter()
        .map(|ip| net::parse_ip(str_of(ip, "ip")).map(|a| a.is_ipv4()))
        .collect();
    let dual = families.is_some_and(|f| f.len() == 2 && f[0] != f[1]);
    let too_many = || {
        let items: Vec<String> = list.iter().map(render).collect();
        invalid_raw(
            &path,
            format!("[]core.{go_type}{{{}}}", items.join(", ")),
            "may specify no more than one IP for each IP family",
        )
    };
    // Upstream checks duplicates first for host IPs, family last; pod IPs
    // the other way round.
    if field == "hostIPs" {
        errs.0.extend(dups);
        if !dual {
            errs.push(too_many());
        }
    } else {
        if !dual {
            errs.push(too_many());
        }
        errs.0.extend(dups);
    }
}

fn claim_statuses(errs: &mut ErrorList, pod: &Value) {
    let claims: HashSet<&str> = arr(at(pod, "spec"), "resourceClaims")
        .iter()
        .map(|c| str_of(c, "name"))
        .collect();
    let path = "status.resourceClaimStatuses";
    let mut seen = HashSet::new();
    for (i, s) in arr(at(pod, "status"), "resourceClaimStatuses")
        .iter()
        .enumerate()
    {
        let np = child(&idx(path, i), "name");
        let name = str_of(s, "name");
        if !claims.contains(name) {
            errs.push(FieldError::invalid(
                &np,
                name,
                "must match the name of an entry in `spec.resourceClaims`",
            ));
        }
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(&np, name));
        }
        if let Some(rc) = at(s, "resourceClaimName").as_str() {
            dns_subdomain(errs, rc, &np);
        }
    }
}

/// `ValidatePodStatusUpdate`.
pub fn validate_pod_status_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    annotation_updates(&mut errs, new, old);
    let spec = at(new, "spec");
    let mut opts = PodOpts::for_spec(Some(at(old, "spec")));
    opts.resource_is_pod = true;
    pod_specific_annotations(
        &mut errs,
        at(at(new, "metadata"), "annotations"),
        spec,
        "metadata.annotations",
        &opts,
    );
    let status = at(new, "status");
    let old_status = at(old, "status");
    // Upstream reports these under `metadata.conditions`.
    for (i, c) in arr(status, "conditions").iter().enumerate() {
        let ty = str_of(c, "type");
        if !SYSTEM_CONDITIONS.contains(&ty) {
            qualified_name(
                &mut errs,
                ty,
                &child(&idx("metadata.conditions", i), "Type"),
            );
        }
    }
    if str_of(spec, "nodeName") != str_of(at(old, "spec"), "nodeName") {
        errs.push(FieldError::forbidden(
            "status.nodeName",
            "may not be changed directly",
        ));
    }
    let nominated = str_of(status, "nominatedNodeName");
    if nominated != str_of(old_status, "nominatedNodeName") && !nominated.is_empty() {
        dns_subdomain(&mut errs, nominated, "status.nominatedNodeName");
    }
    if str_of(status, "qosClass") != str_of(old_status, "qosClass") {
        errs.push(FieldError::invalid(
            "status.qosClass",
            str_of(status, "qosClass"),
            IMMUTABLE_MSG,
        ));
    }
    let old_spec = at(old, "spec");
    let none = HashSet::new();
    state_transitions(
        &mut errs,
        arr(status, "containerStatuses"),
        arr(old_status, "containerStatuses"),
        "status.containerStatuses",
        str_of(old_spec, "restartPolicy"),
        &none,
    );
    let sidecars: HashSet<&str> = arr(old_spec, "initContainers")
        .iter()
        .filter(|c| str_of(c, "restartPolicy") == "Always")
        .map(|c| str_of(c, "name"))
        .collect();
    state_transitions(
        &mut errs,
        arr(status, "initContainerStatuses"),
        arr(old_status, "initContainerStatuses"),
        "status.initContainerStatuses",
        str_of(old_spec, "restartPolicy"),
        &sidecars,
    );
    state_transitions(
        &mut errs,
        arr(status, "ephemeralContainerStatuses"),
        arr(old_status, "ephemeralContainerStatuses"),
        "status.ephemeralContainerStatuses",
        "Never",
        &none,
    );
    claim_statuses(&mut errs, new);
    ip_list(&mut errs, status, "podIPs", "PodIP");
    if !arr(status, "hostIPs").is_empty() {
        ip_list(&mut errs, status, "hostIPs", "HostIP");
    }
    for (i, s) in arr(status, "ephemeralContainerStatuses").iter().enumerate() {
        if !arr(s, "allocatedResourcesStatus").is_empty() {
            errs.push(FieldError::forbidden(
                &child(
                    &idx("status.ephemeralContainerStatuses", i),
                    "allocatedResourcesStatus",
                ),
                "must not be specified in container status",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::testutil::{assert_errs, assert_has};
    use serde_json::json;

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"restartPolicy": "Never", "nodeName": "n1",
                     "containers": [{"name": "c", "image": "i"}],
                     "initContainers": [{"name": "sidecar", "image": "i", "restartPolicy": "Always"},
                                        {"name": "init", "image": "i"}]},
            "status": status})
    }

    #[test]
    fn valid_status_updates_pass() {
        let old = pod(json!({"phase": "Pending", "qosClass": "BestEffort"}));
        let new = pod(
            json!({"phase": "Running", "qosClass": "BestEffort", "podIP": "10.0.0.1",
            "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}], "hostIP": "192.168.0.1",
            "hostIPs": [{"ip": "192.168.0.1"}],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "example.com/gate", "status": "True"}],
            "containerStatuses": [{"name": "c", "state": {"running": {}}}]}),
        );
        assert!(validate_pod_status_update(&new, &old).is_empty());
    }

    #[test]
    fn status_rules() {
        let old = pod(json!({"qosClass": "BestEffort",
            "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 0}}}],
            "initContainerStatuses": [{"name": "sidecar", "state": {"terminated": {"exitCode": 1}}},
                                      {"name": "init", "state": {"terminated": {"exitCode": 0}}}]}));
        let new = pod(
            json!({"qosClass": "Guaranteed", "nominatedNodeName": "Bad_Node",
            "conditions": [{"type": "bad type"}],
            "containerStatuses": [{"name": "c", "state": {"running": {}}}],
            "initContainerStatuses": [{"name": "sidecar", "state": {"running": {}}},
                                      {"name": "init", "state": {"waiting": {}}}],
            "podIPs": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}],
            "hostIP": "1.1.1.1", "hostIPs": [{"ip": "2.2.2.2"}]}),
        );
        assert_errs(
            &validate_pod_status_update(&new, &old),
            &[
                "metadata.conditions[0].Type: Invalid value: \"bad type\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "status.nominatedNodeName: Invalid value: \"Bad_Node\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "status.qosClass: Invalid value: \"Guaranteed\": field is immutable",
                "status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state",
                "status.initContainerStatuses[1].state: Forbidden: may not be transitioned to non-terminated state",
                "status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:\"10.0.0.1\"}, core.PodIP{IP:\"10.0.0.1\"}}: may specify no more than one IP for each IP family",
                "status.podIPs[1]: Duplicate value: core.PodIP{IP:\"10.0.0.1\"}",
                "status.hostIPs[0].ip: Invalid value: \"2.2.2.2\": must be equal to `hostIP`",
            ],
        );
        let mut failed_restart = old.clone();
        failed_restart["spec"]["restartPolicy"] = json!("OnFailure");
        failed_restart["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] =
            json!(1);
        let mut running = failed_restart.clone();
        running["status"]["containerStatuses"][0]["state"] = json!({"running": {}});
        assert!(validate_pod_status_update(&running, &failed_restart).is_empty());
        let mut claims = pod(json!({"resourceClaimStatuses": [{"name": "gpu"}]}));
        claims["status"]["resourceClaimStatuses"] = json!([{"name": "gpu"}]);
        assert_has(
            &validate_pod_status_update(&claims, &pod(json!({}))),
            "status.resourceClaimStatuses[0].name: Invalid value: \"gpu\": must match the name of an entry in `spec.resourceClaims`",
        );
    }
}
