//! core/v1 kinds other than pods: ReplicationControllers, Services,
//! PersistentVolumeClaims and PersistentVolumes, Endpoints, ResourceQuotas,
//! LimitRanges and Nodes (upstream's `pkg/apis/core/validation`).

use std::collections::{HashMap, HashSet};

use kaiser_apimachinery::field::{ErrorKind, ErrorList, FieldError};
use serde_json::Value;

use super::pod::{self, PodOpts};
use super::quantity::Quantity;
use super::{
    IMMUTABLE_MSG, arr, at, child, dns_label, dns_subdomain, enum_optional, enum_required, gofmt,
    idx, int_of, invalid_raw, is_set, key, labels, net, nonneg, obj_of, opt_str, present,
    qualified_name, raw, selector, sem_eq, sorted_entries, str_of, strings,
};

// ---- ReplicationController ----

/// `ValidateReplicationController`.
pub fn validate_rc(rc: &Value) -> ErrorList {
    rc_spec(at(rc, "spec"), &PodOpts::default())
}

pub fn validate_rc_update(new: &Value, old: &Value) -> ErrorList {
    let opts = PodOpts::for_spec(Some(at(at(at(old, "spec"), "template"), "spec")));
    rc_spec(at(new, "spec"), &opts)
}

fn rc_spec(spec: &Value, opts: &PodOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = "spec";
    nonneg(
        &mut errs,
        int_of(spec, "minReadySeconds").unwrap_or(0),
        "spec.minReadySeconds",
    );
    let sel = at(spec, "selector");
    let sel_map = sel.as_object();
    if sel_map.is_none_or(|m| m.is_empty()) {
        errs.push(FieldError::required("spec.selector", ""));
    }
    nonneg(
        &mut errs,
        int_of(spec, "replicas").unwrap_or(0),
        "spec.replicas",
    );
    let template = at(spec, "template");
    let tpath = child(path, "template");
    if !present(template) {
        errs.push(FieldError::required(&tpath, ""));
        return errs;
    }
    if let Some(m) = sel_map
        && !m.is_empty()
        && !selector::map_matches(m, at(at(template, "metadata"), "labels"))
    {
        errs.push(pod::selector_mismatch(template, &tpath));
    }
    errs.extend(pod::validate_pod_template_spec(template, &tpath, opts));
    restart_always(&mut errs, template, &tpath);
    if present(at(at(template, "spec"), "activeDeadlineSeconds")) {
        errs.push(FieldError::forbidden(
            &child(&tpath, "spec.activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicationController is not Supported",
        ));
    }
    errs
}

/// Controllers keep their pods running: the template's restartPolicy
/// must be Always.
pub(crate) fn restart_always(errs: &mut ErrorList, template: &Value, tpath: &str) {
    let rp = str_of(at(template, "spec"), "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            &child(tpath, "spec.restartPolicy"),
            rp,
            &["Always"],
        ));
    }
}

// ---- Service ----

fn cluster_ips(svc: &Value) -> Vec<&str> {
    strings(at(svc, "spec"), "clusterIPs")
}

fn is_headless(svc: &Value) -> bool {
    let ips = cluster_ips(svc);
    ips.len() == 1 && ips[0] == "None"
}

/// Upstream's strategy fills `clusterIPs` from `clusterIP` (old clients
/// set only the singular) before validation; this does the same on a copy.
pub fn normalize_cluster_ips(new: &mut Value, old: Option<&Value>) {
    let new_ip = str_of(at(new, "spec"), "clusterIP").to_string();
    let new_ips: Vec<String> = cluster_ips(new).iter().map(|s| s.to_string()).collect();
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(old) = old else {
        if !new_ip.is_empty() && new_ips.is_empty() {
            spec.insert("clusterIPs".into(), Value::from(vec![new_ip]));
        }
        return;
    };
    let old_ip = str_of(at(old, "spec"), "clusterIP");
    let old_ips: Vec<String> = cluster_ips(old).iter().map(|s| s.to_string()).collect();
    let mut ips = new_ips;
    if !old_ips.is_empty() && ips.is_empty() && old_ip == new_ip {
        ips = old_ips.clone();
    }
    if old_ip != new_ip {
        if !old_ip.is_empty() && new_ip.is_empty() {
            spec.remove("clusterIPs");
            return;
        }
        if !old_ips.is_empty() && !ips.is_empty() && ips == old_ips {
            ips[0] = new_ip;
        }
    }
    if !ips.is_empty() {
        spec.insert("clusterIPs".into(), Value::from(ips));
    }
}

/// `ValidateService` (create).
pub fn validate_service(svc: &Value) -> ErrorList {
    let mut s = svc.clone();
    normalize_cluster_ips(&mut s, None);
    service(&s)
}

/// `ValidateServiceUpdate`.
pub fn validate_service_update(new: &Value, old: &Value) -> ErrorList {
    let mut n = new.clone();
    normalize_cluster_ips(&mut n, Some(old));
    let mut errs = ErrorList::new();
    upgrade_downgrade_cluster_ips(&mut errs, old, &n);
    upgrade_downgrade_families(&mut errs, old, &n);
    load_balancer_class(&mut errs, Some(old), &n);
    if needs_health_check(old)
        && needs_health_check(&n)
        && int_of(at(&n, "spec"), "healthCheckNodePort")
            != int_of(at(old, "spec"), "healthCheckNodePort")
    {
        errs.push(FieldError::forbidden(
            "spec.healthCheckNodePort",
            IMMUTABLE_MSG,
        ));
    }
    errs.extend(service(&n));
    errs
}

fn svc_type(svc: &Value) -> &str {
    str_of(at(svc, "spec"), "type")
}

fn externally_accessible(svc: &Value) -> bool {
    let t = svc_type(svc);
    t == "LoadBalancer"
        || t == "NodePort"
        || (t == "ClusterIP" && !arr(at(svc, "spec"), "externalIPs").is_empty())
}

fn needs_health_check(svc: &Value) -> bool {
    svc_type(svc) == "LoadBalancer" && str_of(at(svc, "spec"), "externalTrafficPolicy") == "Local"
}

/// Go's `%#v` of the `core.ServicePort` key used for duplicate ports.
fn service_port_key(protocol: &str, port: i64) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        gofmt::quote(protocol)
    )
}

fn service(svc: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(svc, "spec");
    let ann = at(at(svc, "metadata"), "annotations");
    let hints = "service.kubernetes.io/topology-aware-hints";
    let mode = "service.kubernetes.io/topology-mode";
    if let (Some(h), Some(m)) = (opt_str(ann, hints), opt_str(ann, mode))
        && h != m
    {
        errs.push(FieldError::invalid(
            &key("metadata.annotations", mode),
            m,
            format!("must match annotations[{hints}] when both are specified"),
        ));
    }
    let ty = svc_type(svc);
    let headless = is_headless(svc);
    let ports = arr(spec, "ports");
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if headless => {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                "None",
                format!("may not be set to 'None' for {ty} services"),
            ));
        }
        "ExternalName" => {
            if !cluster_ips(svc).is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !arr(spec, "ipFamilies").is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if present(at(spec, "ipFamilyPolicy")) {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let name = str_of(spec, "externalName");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                dns_subdomain(&mut errs, cname, "spec.externalName");
            }
        }
        _ => {}
    }
    let mut names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        service_port(
            &mut errs,
            p,
            ports.len() > 1,
            &mut names,
            &idx("spec.ports", i),
        );
    }
    if let Some(sel) = obj_of(spec, "selector") {
        labels(&mut errs, &Value::Object(sel.clone()), "spec.selector");
    }
    let affinity = str_of(spec, "sessionAffinity");
    enum_required(
        &mut errs,
        affinity,
        "spec.sessionAffinity",
        &["ClientIP", "None"],
    );
    let cfg = at(spec, "sessionAffinityConfig");
    if affinity == "ClientIP" {
        let when = "when session affinity type is ClientIP";
        let client_ip = at(cfg, "clientIP");
        let timeout = at(client_ip, "timeoutSeconds");
        if !present(cfg) {
            errs.push(FieldError::required("spec.sessionAffinityConfig", when));
        } else if !present(client_ip) {
            errs.push(FieldError::required(
                "spec.sessionAffinityConfig.clientIP",
                when,
            ));
        } else if !present(timeout) {
            errs.push(FieldError::required(
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                when,
            ));
        } else {
            let t = int_of(client_ip, "timeoutSeconds").unwrap_or(0);
            if t <= 0 || t > 86400 {
                errs.push(FieldError::invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    t,
                    "must be greater than 0 and less than 86400",
                ));
            }
        }
    } else if affinity == "None" && present(cfg) {
        errs.push(FieldError::forbidden(
            "spec.sessionAffinityConfig",
            "must not be set when session affinity is None",
        ));
    }
    cluster_ip_fields(&mut errs, svc);
    for (i, ip) in arr(spec, "externalIPs").iter().enumerate() {
        let p = idx("spec.externalIPs", i);
        let ip = ip.as_str().unwrap_or("");
        if net::valid_ip(&mut errs, &p, ip) {
            net::non_special_ip(&mut errs, &p, ip);
        }
    }
    enum_required(
        &mut errs,
        ty,
        "spec.type",
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
    );
    if ty == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if int_of(p, "nodePort").unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    &child(&idx("spec.ports", i), "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let np = int_of(p, "nodePort").unwrap_or(0);
        if np == 0 {
            continue;
        }
        if !node_ports.insert((str_of(p, "protocol"), np)) {
            errs.push(FieldError::duplicate(
                &child(&idx("spec.ports", i), "nodePort"),
                np,
            ));
        }
    }
    let mut seen = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let proto = str_of(p, "protocol");
        let port = int_of(p, "port").unwrap_or(0);
        if !seen.insert((proto, port)) {
            errs.push(raw(
                ErrorKind::Duplicate,
                &idx("spec.ports", i),
                service_port_key(proto, port),
                "",
            ));
        }
    }
    let ranges = arr(spec, "loadBalancerSourceRanges");
    let ranges_annotation = "service.beta.kubernetes.io/load-balancer-source-ranges";
    if !ranges.is_empty() {
        let fp = "spec.LoadBalancerSourceRanges";
        if ty != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                fp,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            net::valid_cidr(&mut errs, &idx(fp, i), r.as_str().unwrap_or("").trim());
        }
    } else if let Some(v) = opt_str(ann, ranges_annotation) {
        let fp = key("metadata.annotations", ranges_annotation);
        if ty != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                &fp,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        let v = v.trim();
        if !v.is_empty() {
            for c in v.split(',') {
                net::valid_cidr(&mut errs, &fp, c.trim());
            }
        }
    }
    if present(at(spec, "allocateLoadBalancerNodePorts")) && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if ty == "LoadBalancer" && !present(at(spec, "allocateLoadBalancerNodePorts")) {
        // Upstream's path lacks the `spec.` prefix here.
        errs.push(FieldError::required("allocateLoadBalancerNodePorts", ""));
    }
    load_balancer_class(&mut errs, None, svc);
    let etp = str_of(spec, "externalTrafficPolicy");
    if !externally_accessible(svc) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else {
        enum_required(
            &mut errs,
            etp,
            "spec.externalTrafficPolicy",
            &["Cluster", "Local"],
        );
    }
    let hc = int_of(spec, "healthCheckNodePort").unwrap_or(0);
    if !needs_health_check(svc) {
        if hc != 0 {
            errs.push(FieldError::invalid(
                "spec.healthCheckNodePort",
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errs.push(FieldError::required("spec.healthCheckNodePort", ""));
    } else if !(1..=65535).contains(&hc) {
        errs.push(FieldError::invalid(
            "spec.healthCheckNodePort",
            hc,
            super::inclusive_range_error(1, 65535),
        ));
    }
    let itp = at(spec, "internalTrafficPolicy");
    if !present(itp) {
        if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&ty) {
            errs.push(FieldError::required("spec.internalTrafficPolicy", ""));
        }
    } else {
        enum_optional(
            &mut errs,
            itp,
            "spec.internalTrafficPolicy",
            &["Cluster", "Local"],
        );
    }
    enum_optional(
        &mut errs,
        at(spec, "trafficDistribution"),
        "spec.trafficDistribution",
        &["PreferClose"],
    );
    errs
}

fn service_port(
    errs: &mut ErrorList,
    p: &Value,
    require_name: bool,
    names: &mut HashSet<String>,
    path: &str,
) {
    let name = str_of(p, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&child(path, "name"), ""));
    } else if !name.is_empty() {
        dns_label(errs, name, &child(path, "name"));
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&child(path, "name"), name));
        }
    }
    let port = int_of(p, "port").unwrap_or(0);
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid(
            &child(path, "port"),
            port,
            super::inclusive_range_error(1, 65535),
        ));
    }
    pod::protocol(errs, str_of(p, "protocol"), &child(path, "protocol"));
    pod::port_num_or_name(errs, at(p, "targetPort"), &child(path, "targetPort"));
    if let Some(ap) = opt_str(p, "appProtocol") {
        qualified_name(errs, ap, &child(path, "appProtocol"));
    }
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn cluster_ip_fields(errs: &mut ErrorList, svc: &Value) {
    if svc_type(svc) == "ExternalName" {
        return;
    }
    let spec = at(svc, "spec");
    let ips = cluster_ips(svc);
    let ip = str_of(spec, "clusterIP");
    let field = "spec.clusterIPs";
    let ips_go = || gofmt::string_slice("string", at(spec, "clusterIPs"));
    if !ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(field, ""));
        } else if ips[0] != ip {
            errs.push(invalid_raw(
                field,
                ips_go(),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(invalid_raw(
            field,
            ips_go(),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let families = strings(spec, "ipFamilies");
    let mut seen = HashSet::new();
    for (i, f) in families.iter().enumerate() {
        let p = idx("spec.ipFamilies", i);
        if *f != "IPv4" && *f != "IPv6" {
            errs.push(FieldError::not_supported(&p, *f, &["IPv4", "IPv6"]));
        }
        if !seen.insert(*f) {
            errs.push(FieldError::duplicate(&p, *f));
        }
    }
    enum_optional(
        errs,
        at(spec, "ipFamilyPolicy"),
        "spec.ipFamilyPolicy",
        &["PreferDualStack", "RequireDualStack", "SingleStack"],
    );
    let mut invalid = false;
    for (i, cip) in ips.iter().enumerate() {
        if i == 0 && *cip == "None" {
            if ips.len() > 1 {
                invalid = true;
                errs.push(invalid_raw(
                    field,
                    ips_go(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        if !net::valid_ip(errs, &idx(field, i), cip) {
            invalid = true;
        }
    }
    if ips.len() > 2 {
        errs.push(invalid_raw(field, ips_go(), "may only hold up to 2 values"));
    }
    if invalid {
        return;
    }
    if ips.len() > 1 && net::is_ipv6(ips[0]) == net::is_ipv6(ips[1]) {
        errs.push(invalid_raw(
            field,
            ips_go(),
            "may specify no more than one IP for each IP family",
        ));
    }
    if !is_headless(svc) && !ips.is_empty() && !families.is_empty() {
        for (i, cip) in ips.iter().enumerate() {
            let Some(fam) = families.get(i) else {
                break;
            };
            if *fam == "IPv4" && net::is_ipv6(cip) {
                errs.push(FieldError::invalid(
                    &idx(field, i),
                    *cip,
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if *fam == "IPv6" && !net::is_ipv6(cip) {
                errs.push(FieldError::invalid(
                    &idx(field, i),
                    *cip,
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
}

fn upgrade_downgrade_cluster_ips(errs: &mut ErrorList, old: &Value, new: &Value) {
    if svc_type(new) == "ExternalName" || svc_type(old) == "ExternalName" {
        return;
    }
    if is_headless(old) && is_headless(new) {
        return;
    }
    let (o, n) = (cluster_ips(old), cluster_ips(new));
    let new_go = gofmt::string_slice("string", at(at(new, "spec"), "clusterIPs"));
    let changed = "may not change once set";
    if o.len() == n.len() {
        for (i, ip) in o.iter().enumerate() {
            if n.get(i) != Some(ip) {
                errs.push(invalid_raw(
                    &idx("spec.clusterIPs", i),
                    new_go.clone(),
                    changed,
                ));
            }
        }
    } else if o.len() > n.len() {
        if n.is_empty() {
            errs.push(invalid_raw(
                "spec.clusterIPs[0]",
                new_go.clone(),
                "primary clusterIP can not be unset",
            ));
        }
        if !o.is_empty() && !n.is_empty() && n[0] != o[0] {
            errs.push(invalid_raw("spec.clusterIPs[0]", new_go.clone(), changed));
        }
        if n.len() == 1 && opt_str(at(new, "spec"), "ipFamilyPolicy") != Some("SingleStack") {
            errs.push(policy_error(new, "clusterIP"));
        }
    } else if !o.is_empty() && n[0] != o[0] {
        errs.push(invalid_raw("spec.clusterIPs[0]", new_go, changed));
    }
}

fn policy_error(new: &Value, what: &str) -> FieldError {
    let detail = format!("must be set to 'SingleStack' when releasing the secondary {what}");
    match opt_str(at(new, "spec"), "ipFamilyPolicy") {
        Some(p) => FieldError::invalid("spec.ipFamilyPolicy", p, detail),
        None => FieldError::invalid("spec.ipFamilyPolicy", Value::Null, detail),
    }
}

fn upgrade_downgrade_families(errs: &mut ErrorList, old: &Value, new: &Value) {
    if svc_type(new) == "ExternalName" || svc_type(old) == "ExternalName" {
        return;
    }
    if is_headless(old) != is_headless(new) || is_headless(new) {
        return;
    }
    let o = strings(at(old, "spec"), "ipFamilies");
    let n = strings(at(new, "spec"), "ipFamilies");
    let fams_go = gofmt::string_slice("core.IPFamily", at(at(new, "spec"), "ipFamilies"));
    let ips_go = gofmt::string_slice("string", at(at(new, "spec"), "clusterIPs"));
    let changed = "may not change once set";
    if o.len() == n.len() {
        for (i, f) in o.iter().enumerate() {
            if n.get(i) != Some(f) {
                errs.push(invalid_raw("spec.ipFamilies[0]", fams_go.clone(), changed));
            }
        }
    } else if o.len() > n.len() {
        if cluster_ips(new).is_empty() {
            errs.push(invalid_raw(
                "spec.ipFamilies[0]",
                fams_go.clone(),
                "primary ipFamily can not be unset",
            ));
        }
        if !n.is_empty() && n[0] != o[0] {
            errs.push(invalid_raw("spec.ipFamilies[0]", ips_go.clone(), changed));
        }
        if n.len() == 1 && opt_str(at(new, "spec"), "ipFamilyPolicy") != Some("SingleStack") {
            errs.push(policy_error(new, "ipFamily"));
        }
    } else if !o.is_empty() && !n.is_empty() && n[0] != o[0] {
        errs.push(invalid_raw("spec.ipFamilies[0]", ips_go, changed));
    }
}

fn load_balancer_class(errs: &mut ErrorList, old: Option<&Value>, svc: &Value) {
    let class = opt_str(at(svc, "spec"), "loadBalancerClass");
    if let Some(old) = old
        && svc_type(old) == "LoadBalancer"
        && svc_type(svc) == "LoadBalancer"
        && opt_str(at(old, "spec"), "loadBalancerClass") != class
    {
        let e = match class {
            Some(c) => FieldError::invalid("spec.loadBalancerClass", c, "may not change once set"),
            None => FieldError::invalid(
                "spec.loadBalancerClass",
                Value::Null,
                "may not change once set",
            ),
        };
        errs.push(e);
    }
    if svc_type(svc) == "LoadBalancer" {
        if let Some(c) = class {
            qualified_name(errs, c, "spec.loadBalancerClass");
        }
    } else if class.is_some() {
        errs.push(FieldError::forbidden(
            "spec.loadBalancerClass",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
}

// ---- PersistentVolumeClaim ----

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

fn access_modes(errs: &mut ErrorList, spec: &Value, path: &str) {
    let p = child(path, "accessModes");
    let (mut rwop, mut other) = (false, false);
    for m in strings(spec, "accessModes") {
        if !ACCESS_MODES.contains(&m) {
            errs.push(FieldError::not_supported(&p, m, ACCESS_MODES));
        }
        if m == "ReadWriteOncePod" {
            rwop = true;
        } else if ACCESS_MODES.contains(&m) {
            other = true;
        }
    }
    if rwop && other {
        errs.push(FieldError::forbidden(
            &p,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

/// `ValidatePersistentVolumeClaimSpec`.
pub(crate) fn pvc_spec(spec: &Value, path: &str, allow_invalid_selector_values: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    if arr(spec, "accessModes").is_empty() {
        errs.push(FieldError::required(
            &child(path, "accessModes"),
            "at least 1 access mode is required",
        ));
    }
    if present(at(spec, "selector")) {
        errs.extend(selector::validate(
            at(spec, "selector"),
            allow_invalid_selector_values,
            &child(path, "selector"),
        ));
    }
    access_modes(&mut errs, spec, path);
    let storage_path = key(&child(path, "resources"), "storage");
    let storage = at(at(at(spec, "resources"), "requests"), "storage");
    if !present(storage) {
        errs.push(FieldError::required(&storage_path, ""));
    } else if let Some(q) = pod::parse_quantity(&mut errs, storage, &storage_path) {
        if q.is_negative() || q.is_zero() {
            errs.push(FieldError::invalid(
                &storage_path,
                q.to_string(),
                "must be greater than zero",
            ));
        } else {
            pod::resource_quantity_value(&mut errs, "storage", &q, &storage_path);
        }
    }
    if let Some(sc) = opt_str(spec, "storageClassName")
        && !sc.is_empty()
    {
        dns_subdomain(&mut errs, sc, &child(path, "storageClassName"));
    }
    enum_optional(
        &mut errs,
        at(spec, "volumeMode"),
        &child(path, "volumeMode"),
        &["Block", "Filesystem"],
    );
    let ds = at(spec, "dataSource");
    let dsr = at(spec, "dataSourceRef");
    if present(ds) {
        data_source(&mut errs, ds, &child(path, "dataSource"));
    }
    if present(dsr) {
        data_source(&mut errs, dsr, &child(path, "dataSourceRef"));
        if let Some(ns) = opt_str(dsr, "namespace")
            && !ns.is_empty()
        {
            dns_label(
                &mut errs,
                ns,
                &child(&child(path, "dataSourceRef"), "namespace"),
            );
        }
    }
    let dsr_ns = opt_str(dsr, "namespace").is_some_and(|n| !n.is_empty());
    if dsr_ns {
        if present(ds) {
            errs.push(invalid_raw(
                path,
                child(path, "dataSource"),
                "may not be specified when dataSourceRef.namespace is specified",
            ));
        }
    } else if present(ds)
        && present(dsr)
        && !(opt_str(ds, "apiGroup") == opt_str(dsr, "apiGroup")
            && str_of(ds, "kind") == str_of(dsr, "kind")
            && str_of(ds, "name") == str_of(dsr, "name"))
    {
        errs.push(invalid_raw(
            path,
            child(path, "dataSource"),
            "must match dataSourceRef",
        ));
    }
    errs
}

fn data_source(errs: &mut ErrorList, ds: &Value, path: &str) {
    if str_of(ds, "name").is_empty() {
        errs.push(FieldError::required(&child(path, "name"), ""));
    }
    let kind = str_of(ds, "kind");
    if kind.is_empty() {
        errs.push(FieldError::required(&child(path, "kind"), ""));
    }
    let group = opt_str(ds, "apiGroup").unwrap_or("");
    if group.is_empty() && kind != "PersistentVolumeClaim" {
        errs.push(FieldError::invalid(
            path,
            kind,
            "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
        ));
    }
    if !group.is_empty() {
        dns_subdomain(errs, group, &child(path, "apiGroup"));
    }
}

/// `ValidatePersistentVolumeClaim`.
pub fn validate_pvc(pvc: &Value) -> ErrorList {
    pvc_spec(at(pvc, "spec"), "spec", false)
}

/// `ValidatePersistentVolumeClaimUpdate`.
pub fn validate_pvc_update(new: &Value, old: &Value) -> ErrorList {
    let old_spec = at(old, "spec");
    let allow = !selector::validate(at(old_spec, "selector"), false, "").is_empty();
    let mut errs = pvc_spec(at(new, "spec"), "spec", allow);
    let mut n = at(new, "spec").clone();
    let mut o = old_spec.clone();
    let beta_class = "volume.beta.kubernetes.io/storage-class";
    let old_ann = at(at(old, "metadata"), "annotations");
    let new_ann = at(at(new, "metadata"), "annotations");
    if let (Some(nm), Some(om)) = (n.as_object_mut(), o.as_object_mut()) {
        // The volume name may be set once.
        if str_of(old_spec, "volumeName").is_empty() {
            match nm.get("volumeName") {
                Some(v) => om.insert("volumeName".into(), v.clone()),
                None => om.remove("volumeName"),
            };
        }
        let old_sc = opt_str(old_spec, "storageClassName");
        let new_sc = nm.get("storageClassName").and_then(Value::as_str);
        let from_annotation = opt_str(old_ann, beta_class).is_some_and(|a| {
            old_sc.is_none()
                && new_sc == Some(a)
                && opt_str(new_ann, beta_class).is_none_or(|na| na == a)
        });
        if from_annotation {
            nm.remove("storageClassName");
        } else {
            let (oa, na) = (
                opt_str(old_ann, beta_class).unwrap_or(""),
                opt_str(new_ann, beta_class).unwrap_or(""),
            );
            if oa != na {
                errs.push(FieldError::invalid(
                    &child("metadata.annotations", beta_class),
                    na,
                    IMMUTABLE_MSG,
                ));
            }
            let from_nil = new_sc.is_some()
                && old_sc.is_none()
                && opt_str(old_ann, beta_class).is_none_or(|a| Some(a) == new_sc);
            if from_nil {
                nm.remove("storageClassName");
            }
        }
        let bound = str_of(at(new, "status"), "phase") == "Bound";
        if bound {
            let old_storage = at(at(at(old_spec, "resources"), "requests"), "storage").clone();
            if let Some(req) = nm
                .get_mut("resources")
                .and_then(|r| r.get_mut("requests"))
                .and_then(Value::as_object_mut)
            {
                req.insert("storage".into(), old_storage);
            }
            if nm.contains_key("volumeAttributesClassName") {
                match om.get("volumeAttributesClassName") {
                    Some(v) => nm.insert("volumeAttributesClassName".into(), v.clone()),
                    None => nm.remove("volumeAttributesClassName"),
                };
            }
        }
    }
    if !sem_eq(&n, &o) {
        errs.push(FieldError::forbidden(
            "spec",
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                pod::spec_diff(&o, &n)
            ),
        ));
    }
    let size = |v: &Value| {
        super::quantity::of(at(
            at(at(at(v, "spec"), "resources"), "requests"),
            "storage",
        ))
        .and_then(Result::ok)
    };
    if let (Some(ns), Some(os)) = (size(new), size(old))
        && ns.compare(&os).is_lt()
    {
        // RecoverVolumeExpansionFailure (on in 1.33) allows shrinking down
        // to, but not below, the recorded capacity (zero when unknown).
        let status = super::quantity::of(at(at(at(old, "status"), "capacity"), "storage"))
            .and_then(Result::ok);
        let too_small = match status {
            Some(s) => ns.compare(&s).is_le(),
            None => ns.is_zero() || ns.is_negative(),
        };
        if too_small {
            errs.push(FieldError::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than status.capacity",
            ));
        }
    }
    immutable_str(
        &mut errs,
        at(at(new, "spec"), "volumeMode"),
        at(old_spec, "volumeMode"),
        "volumeMode",
    );
    errs
}

/// `ValidateImmutableField` for a (possibly absent) string.
pub(crate) fn immutable_str(errs: &mut ErrorList, new: &Value, old: &Value, path: &str) {
    if new.as_str() != old.as_str() {
        errs.push(FieldError::invalid(path, new.clone(), IMMUTABLE_MSG));
    }
}

// ---- PersistentVolume ----

const PV_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];

fn required(errs: &mut ErrorList, v: &Value, path: &str, members: &[&str]) {
    for m in members {
        if !super::is_set(at(v, m)) {
            errs.push(FieldError::required(&child(path, m), ""));
        }
    }
}

/// A set secret reference of a persistent volume source needs both parts.
fn secret_ref_name_namespace(errs: &mut ErrorList, r: &Value, path: &str) {
    if !present(r) {
        return;
    }
    for m in ["name", "namespace"] {
        if str_of(r, m).is_empty() {
            errs.push(FieldError::required(&child(path, m), ""));
        }
    }
}

/// `ValidatePersistentVolume`.
pub fn validate_pv(pv: &Value) -> ErrorList {
    pv_spec(at(pv, "spec"), str_of(at(pv, "metadata"), "name"), false)
}

/// Where a PersistentVolume spec sits and how it is used: a
/// PersistentVolume's own `spec`, or a VolumeAttachment's inline one.
pub(crate) struct PvSpecAt<'a> {
    pub path: &'a str,
    pub inline: bool,
}

fn pv_spec(spec: &Value, pv_name: &str, allow_invalid_affinity: bool) -> ErrorList {
    pv_spec_at(
        spec,
        pv_name,
        allow_invalid_affinity,
        &PvSpecAt {
            path: "spec",
            inline: false,
        },
    )
}

/// `ValidatePersistentVolumeSpec`.
pub(crate) fn pv_spec_at(
    spec: &Value,
    pv_name: &str,
    allow_invalid_affinity: bool,
    at_: &PvSpecAt<'_>,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = at_.path;
    let cap = at(spec, "capacity");
    let cap_map = cap.as_object();
    if at_.inline {
        let why = "may not be specified in the context of inline volumes";
        if present(at(spec, "claimRef")) {
            errs.push(FieldError::forbidden(&child(path, "claimRef"), why));
        }
        if cap_map.is_some_and(|m| !m.is_empty()) {
            errs.push(FieldError::forbidden(&child(path, "capacity"), why));
        }
        if !present(at(spec, "csi")) {
            errs.push(FieldError::required(
                &child(path, "csi"),
                "has to be specified in the context of inline volumes",
            ));
        }
    }
    if arr(spec, "accessModes").is_empty() {
        errs.push(FieldError::required(&child(path, "accessModes"), ""));
    }
    access_modes(&mut errs, spec, path);
    let cap_path = child(path, "capacity");
    if !at_.inline && cap_map.is_none_or(|m| m.is_empty()) {
        errs.push(FieldError::required(&cap_path, ""));
    }
    if !at_.inline && cap_map.is_none_or(|m| !m.contains_key("storage") || m.len() > 1) {
        errs.push(super::not_supported_raw(
            &cap_path,
            resource_list_go(cap),
            &["storage"],
        ));
    }
    let no_entries = Value::Null;
    let cap_entries = if at_.inline { &no_entries } else { cap };
    for (k, v) in sorted_entries(cap_entries) {
        let p = key(&cap_path, k);
        if let Some(q) = pod::parse_quantity(&mut errs, v, &p) {
            if q.value() < 0 {
                errs.push(FieldError::invalid(
                    &p,
                    q.value() as i64,
                    "must be a valid resource quantity",
                ));
            }
            if q.is_negative() || q.is_zero() {
                errs.push(FieldError::invalid(
                    &p,
                    q.to_string(),
                    "must be greater than zero",
                ));
            }
        }
    }
    enum_optional(
        &mut errs,
        at(spec, "persistentVolumeReclaimPolicy"),
        &child(path, "persistentVolumeReclaimPolicy"),
        &["Delete", "Recycle", "Retain"],
    );
    let na = at(spec, "nodeAffinity");
    let mut affinity_set = false;
    if present(na) {
        affinity_set = true;
        let req = at(na, "required");
        if present(req) {
            pod::node_selector(
                &mut errs,
                req,
                allow_invalid_affinity,
                &child(path, "nodeAffinity.required"),
            );
        } else {
            errs.push(FieldError::required(
                &child(path, "nodeAffinity.required"),
                "must specify required node constraints",
            ));
        }
    }
    let mut n = 0;
    for src in PV_SOURCES {
        let s = at(spec, src);
        if !present(s) {
            continue;
        }
        let p = child(path, src);
        if n > 0 && *src != "flexVolume" {
            errs.push(FieldError::forbidden(
                &p,
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        n += 1;
        match *src {
            "hostPath" => pod::host_path(&mut errs, s, &p),
            "nfs" => {
                for m in ["server", "path"] {
                    if str_of(s, m).is_empty() {
                        errs.push(FieldError::required(&child(&p, m), ""));
                    }
                }
                if !str_of(s, "path").starts_with('/') {
                    errs.push(FieldError::invalid(
                        &child(&p, "path"),
                        str_of(s, "path"),
                        "must be an absolute path",
                    ));
                }
            }
            "local" => {
                let lp = str_of(s, "path");
                if lp.is_empty() {
                    errs.push(FieldError::required(&child(&p, "path"), ""));
                } else {
                    errs.extend(pod::path_no_backsteps(lp, &child(&p, "path")));
                }
                if !affinity_set {
                    errs.push(FieldError::required(
                        &child(path, "nodeAffinity"),
                        "Local volume requires node affinity",
                    ));
                }
            }
            "csi" => {
                pod::csi_driver_name(&mut errs, str_of(s, "driver"), &child(&p, "driver"));
                if str_of(s, "volumeHandle").is_empty() {
                    errs.push(FieldError::required(&child(&p, "volumeHandle"), ""));
                }
                for r in [
                    "controllerPublishSecretRef",
                    "controllerExpandSecretRef",
                    "nodePublishSecretRef",
                    "nodeExpandSecretRef",
                ] {
                    let sr = at(s, r);
                    if !present(sr) {
                        continue;
                    }
                    let rp = child(&p, r);
                    let name = str_of(sr, "name");
                    if name.is_empty() {
                        errs.push(FieldError::required(&child(&rp, "name"), ""));
                    } else {
                        dns_subdomain(&mut errs, name, &child(&rp, "name"));
                    }
                    let ns = str_of(sr, "namespace");
                    if ns.is_empty() {
                        errs.push(FieldError::required(&child(&rp, "namespace"), ""));
                    } else {
                        dns_label(&mut errs, ns, &child(&rp, "namespace"));
                    }
                }
            }
            m if pod::SHARED_PV_SOURCES.contains(&m) => {
                pod::shared_pv_source(&mut errs, m, s, path)
            }
            "rbd" => required(&mut errs, s, &p, &["monitors", "image"]),
            "cephfs" => required(&mut errs, s, &p, &["monitors"]),
            "scaleIO" => required(&mut errs, s, &p, &["gateway", "system", "volumeName"]),
            "glusterfs" => {
                required(&mut errs, s, &p, &["endpoints", "path"]);
                if let Some(ns) = opt_str(s, "endpointsNamespace") {
                    let np = child(&p, "endpointsNamespace");
                    if ns.is_empty() {
                        errs.push(FieldError::invalid(
                            &np,
                            ns,
                            "if the endpointnamespace is set, it must be a valid namespace name",
                        ));
                    } else {
                        dns_label(&mut errs, ns, &np);
                    }
                }
            }
            "cinder" => {
                required(&mut errs, s, &p, &["volumeID"]);
                secret_ref_name_namespace(&mut errs, at(s, "secretRef"), &child(&p, "secretRef"));
            }
            "azureFile" => {
                required(&mut errs, s, &p, &["secretName", "shareName"]);
                if opt_str(s, "secretNamespace") == Some("") {
                    errs.push(FieldError::required(&child(&p, "secretNamespace"), ""));
                }
            }
            "flexVolume" => {
                required(&mut errs, s, &p, &["driver"]);
                for (k, _) in sorted_entries(at(s, "options")) {
                    let ns = k.split_once('/').map_or(k.as_str(), |(n, _)| n);
                    let normalized = format!(".{}", ns.to_lowercase());
                    if normalized.ends_with(".kubernetes.io") || normalized.ends_with(".k8s.io") {
                        errs.push(FieldError::invalid(
                            &key(&child(&p, "options"), k),
                            k.as_str(),
                            "kubernetes.io and k8s.io namespaces are reserved",
                        ));
                    }
                }
            }
            "storageos" => {
                let vn = str_of(s, "volumeName");
                if vn.is_empty() {
                    errs.push(FieldError::required(&child(&p, "volumeName"), ""));
                } else {
                    dns_label(&mut errs, vn, &child(&p, "volumeName"));
                }
                let ns = str_of(s, "volumeNamespace");
                if !ns.is_empty() {
                    dns_label(&mut errs, ns, &child(&p, "volumeNamespace"));
                }
                secret_ref_name_namespace(&mut errs, at(s, "secretRef"), &child(&p, "secretRef"));
            }
            "iscsi" => {
                for m in ["targetPortal", "iqn"] {
                    if str_of(s, m).is_empty() {
                        errs.push(FieldError::required(&child(&p, m), ""));
                    }
                }
                if let Some(n) = int_of(s, "lun")
                    && !(0..=255).contains(&n)
                {
                    errs.push(FieldError::invalid(
                        &child(&p, "lun"),
                        n,
                        super::inclusive_range_error(0, 255),
                    ));
                }
                let chap = at(s, "chapAuthDiscovery").as_bool() == Some(true)
                    || at(s, "chapAuthSession").as_bool() == Some(true);
                if chap && !present(at(s, "secretRef")) {
                    errs.push(FieldError::required(&child(&p, "secretRef"), ""));
                }
                if present(at(s, "initiatorName"))
                    && pv_name.len() + 1 + str_of(s, "targetPortal").len() > 64
                {
                    errs.push(FieldError::invalid(
                        &child(&p, "targetportal"),
                        str_of(s, "targetPortal"),
                        "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified.",
                    ));
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    let hp = str_of(at(spec, "hostPath"), "path");
    if present(at(spec, "hostPath"))
        && (hp == "/" || (!hp.is_empty() && hp.trim_end_matches('/').is_empty()))
        && str_of(spec, "persistentVolumeReclaimPolicy") == "Recycle"
    {
        errs.push(FieldError::forbidden(
            &child(path, "persistentVolumeReclaimPolicy"),
            "may not be 'recycle' for a hostPath mount of '/'",
        ));
    }
    let sc = str_of(spec, "storageClassName");
    if !sc.is_empty() {
        dns_subdomain(&mut errs, sc, &child(path, "storageClassName"));
    }
    enum_optional(
        &mut errs,
        at(spec, "volumeMode"),
        &child(path, "volumeMode"),
        &["Block", "Filesystem"],
    );
    errs
}

/// Go's `%#v` of a `core.ResourceList` (quantities print as structs).
fn resource_list_go(v: &Value) -> String {
    let Some(m) = v.as_object() else {
        return "core.ResourceList(nil)".into();
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let items: Vec<String> = keys
        .iter()
        .map(|k| {
            let q = super::quantity::of(m.get(*k).unwrap_or(&Value::Null))
                .and_then(Result::ok)
                .map(|q| q.go_repr())
                .unwrap_or_default();
            format!("{}:{q}", gofmt::quote(k))
        })
        .collect();
    format!("core.ResourceList{{{}}}", items.join(", "))
}

/// `ValidatePersistentVolumeUpdate`.
pub fn validate_pv_update(new: &Value, old: &Value) -> ErrorList {
    let old_spec = at(old, "spec");
    let allow = {
        let mut e = ErrorList::new();
        let req = at(at(old_spec, "nodeAffinity"), "required");
        if present(req) {
            pod::node_selector(&mut e, req, false, "");
        }
        !e.is_empty()
    };
    let spec = at(new, "spec");
    let mut errs = pv_spec(spec, str_of(at(new, "metadata"), "name"), allow);
    let source = |s: &Value, drop_expand: bool| -> Value {
        let mut m = serde_json::Map::new();
        for k in PV_SOURCES {
            if let Some(v) = s.get(*k) {
                m.insert((*k).into(), v.clone());
            }
        }
        if drop_expand && let Some(csi) = m.get_mut("csi").and_then(Value::as_object_mut) {
            csi.remove("controllerExpandSecretRef");
        }
        Value::Object(m)
    };
    let old_csi = at(old_spec, "csi");
    let may_add_expand = present(old_csi) && !present(at(old_csi, "controllerExpandSecretRef"));
    let (ns, os) = (source(spec, may_add_expand), source(old_spec, false));
    if !sem_eq(&ns, &os) {
        errs.push(FieldError::forbidden(
            "spec.persistentvolumesource",
            format!(
                "spec.persistentvolumesource is immutable after creation\n{}",
                pod::spec_diff(&os, &ns)
            ),
        ));
    }
    immutable_str(
        &mut errs,
        at(spec, "volumeMode"),
        at(old_spec, "volumeMode"),
        "volumeMode",
    );
    let old_na = at(old_spec, "nodeAffinity");
    if present(old_na)
        && !sem_eq(at(spec, "nodeAffinity"), old_na)
        && !beta_to_ga_only(at(spec, "nodeAffinity"), old_na)
    {
        errs.push(invalid_raw(
            "nodeAffinity",
            gofmt::json(at(spec, "nodeAffinity")),
            "field is immutable, except for updating from beta label to GA",
        ));
    }
    errs
}

/// Whether two node affinities differ only by beta keys renamed to GA.
fn beta_to_ga_only(new: &Value, old: &Value) -> bool {
    let ga: HashMap<&str, &str> = [
        (
            "failure-domain.beta.kubernetes.io/zone",
            "topology.kubernetes.io/zone",
        ),
        (
            "failure-domain.beta.kubernetes.io/region",
            "topology.kubernetes.io/region",
        ),
        ("beta.kubernetes.io/os", "kubernetes.io/os"),
        ("beta.kubernetes.io/arch", "kubernetes.io/arch"),
        (
            "beta.kubernetes.io/instance-type",
            "node.kubernetes.io/instance-type",
        ),
    ]
    .into_iter()
    .collect();
    let mut masked = old.clone();
    let new_terms = arr(at(new, "required"), "nodeSelectorTerms");
    if let Some(terms) = masked
        .get_mut("required")
        .and_then(|r| r.get_mut("nodeSelectorTerms"))
        .and_then(Value::as_array_mut)
    {
        for (ti, t) in terms.iter_mut().enumerate() {
            let Some(exprs) = t.get_mut("matchExpressions").and_then(Value::as_array_mut) else {
                continue;
            };
            for (ei, e) in exprs.iter_mut().enumerate() {
                let new_key = new_terms
                    .get(ti)
                    .map(|nt| arr(nt, "matchExpressions"))
                    .and_then(|ne| ne.get(ei))
                    .map(|ne| str_of(ne, "key"))
                    .unwrap_or("");
                let old_key = str_of(e, "key");
                if old_key != new_key
                    && ga.get(old_key) == Some(&new_key)
                    && let Some(m) = e.as_object_mut()
                {
                    m.insert("key".into(), Value::from(new_key));
                }
            }
        }
    }
    sem_eq(new, &masked)
}

// ---- Endpoints ----

/// `ValidateEndpoints`.
pub fn validate_endpoints(ep: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ss) in arr(ep, "subsets").iter().enumerate() {
        let p = idx("subsets", i);
        if arr(ss, "addresses").is_empty() && arr(ss, "notReadyAddresses").is_empty() {
            errs.push(FieldError::required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for list in ["addresses", "notReadyAddresses"] {
            for (j, a) in arr(ss, list).iter().enumerate() {
                let ap = idx(&child(&p, list), j);
                let ip = str_of(a, "ip");
                net::valid_ip(&mut errs, &child(&ap, "ip"), ip);
                let host = str_of(a, "hostname");
                if !host.is_empty() {
                    dns_label(&mut errs, host, &child(&ap, "hostname"));
                }
                if let Some(node) = opt_str(a, "nodeName") {
                    dns_subdomain(&mut errs, node, &child(&ap, "nodeName"));
                }
                net::non_special_ip(&mut errs, &child(&ap, "ip"), ip);
            }
        }
        let ports = arr(ss, "ports");
        for (j, port) in ports.iter().enumerate() {
            let pp = idx(&child(&p, "ports"), j);
            endpoint_port(&mut errs, port, ports.len() > 1, &pp);
        }
    }
    errs
}

pub(crate) fn endpoint_port(errs: &mut ErrorList, port: &Value, require_name: bool, path: &str) {
    let name = str_of(port, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&child(path, "name"), ""));
    } else if !name.is_empty() {
        dns_label(errs, name, &child(path, "name"));
    }
    let n = int_of(port, "port").unwrap_or(0);
    if !(1..=65535).contains(&n) {
        errs.push(FieldError::invalid(
            &child(path, "port"),
            n,
            super::inclusive_range_error(1, 65535),
        ));
    }
    pod::protocol(errs, str_of(port, "protocol"), &child(path, "protocol"));
    if let Some(ap) = opt_str(port, "appProtocol") {
        qualified_name(errs, ap, &child(path, "appProtocol"));
    }
}

// ---- ResourceQuota ----

const QUOTA_SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];

const STANDARD_QUOTA_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_standard_quota_resource(name: &str) -> bool {
    STANDARD_QUOTA_RESOURCES.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

fn scope_valid_for(scope: &str, resource: &str) -> bool {
    let pod_compute = [
        "cpu",
        "memory",
        "limits.cpu",
        "limits.memory",
        "requests.cpu",
        "requests.memory",
    ];
    match scope {
        "Terminating" | "NotTerminating" | "NotBestEffort" | "PriorityClass" => {
            resource == "pods" || pod_compute.contains(&resource)
        }
        "BestEffort" => resource == "pods",
        "CrossNamespacePodAffinity" => resource == "pods",
        _ => true,
    }
}

fn quota_resource_list(errs: &mut ErrorList, v: &Value, path: &str) {
    for (k, q) in sorted_entries(v) {
        let p = key(path, k);
        pod::resource_name(errs, k, &p);
        if !k.contains('/') && !is_standard_quota_resource(k) {
            errs.push(FieldError::invalid(
                &p,
                k.as_str(),
                "must be a standard resource for quota",
            ));
        }
        if let Some(q) = pod::parse_quantity(errs, q, &p) {
            pod::resource_quantity_value(errs, k, &q, &p);
        }
    }
}

/// `ValidateResourceQuotaStatusUpdate`: the write names its revision, and
/// the hard and used lists hold quota resources and valid quantities.
pub fn validate_quota_status_update(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    if str_of(at(new, "metadata"), "resourceVersion").is_empty() {
        errs.push(FieldError::required("resourceVersion", ""));
    }
    let status = at(new, "status");
    quota_resource_list(&mut errs, at(status, "hard"), "status.hard");
    quota_resource_list(&mut errs, at(status, "used"), "status.used");
    errs
}

fn quota_spec(errs: &mut ErrorList, spec: &Value) {
    let hard = at(spec, "hard");
    quota_resource_list(errs, hard, "spec.hard");
    let scopes = strings(spec, "scopes");
    let scopes_go = || gofmt::string_slice("core.ResourceQuotaScope", at(spec, "scopes"));
    let hard_keys: Vec<&String> = sorted_entries(hard).into_iter().map(|(k, _)| k).collect();
    let conflicting = |set: &HashSet<&str>| {
        (set.contains("BestEffort") && set.contains("NotBestEffort"))
            || (set.contains("Terminating") && set.contains("NotTerminating"))
    };
    if !scopes.is_empty() {
        let mut set = HashSet::new();
        for s in &scopes {
            if !QUOTA_SCOPES.contains(s) {
                errs.push(invalid_raw("spec.scopes", scopes_go(), "unsupported scope"));
            }
            for k in &hard_keys {
                if is_standard_quota_resource(k) && !scope_valid_for(s, k) {
                    errs.push(invalid_raw(
                        "spec.scopes",
                        scopes_go(),
                        "unsupported scope applied to resource",
                    ));
                }
            }
            set.insert(*s);
        }
        if conflicting(&set) {
            errs.push(invalid_raw(
                "spec.scopes",
                scopes_go(),
                "conflicting scopes",
            ));
        }
    }
    let sel = at(spec, "scopeSelector");
    if present(sel) {
        let fp = "spec.scopeSelector.matchExpressions";
        let mut set = HashSet::new();
        for r in arr(sel, "matchExpressions") {
            let scope = str_of(r, "scopeName");
            if !QUOTA_SCOPES.contains(&scope) {
                errs.push(FieldError::invalid(
                    &child(fp, "scopeName"),
                    scope,
                    "unsupported scope",
                ));
            }
            for k in &hard_keys {
                if is_standard_quota_resource(k) && !scope_valid_for(scope, k) {
                    errs.push(invalid_raw(
                        fp,
                        gofmt::json(sel),
                        "unsupported scope applied to resource",
                    ));
                }
            }
            let op = str_of(r, "operator");
            if [
                "BestEffort",
                "NotBestEffort",
                "Terminating",
                "NotTerminating",
                "CrossNamespacePodAffinity",
            ]
            .contains(&scope)
                && op != "Exists"
            {
                errs.push(FieldError::invalid(
                    &child(fp, "operator"),
                    op,
                    "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
                ));
            }
            match op {
                "In" | "NotIn" => {
                    if arr(r, "values").is_empty() {
                        errs.push(FieldError::required(
                            &child(fp, "values"),
                            "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                        ));
                    }
                }
                "Exists" | "DoesNotExist" => {
                    if !arr(r, "values").is_empty() {
                        errs.push(invalid_raw(
                            &child(fp, "values"),
                            gofmt::string_slice("string", at(r, "values")),
                            "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                        ));
                    }
                }
                other => errs.push(FieldError::invalid(
                    &child(fp, "operator"),
                    other,
                    "not a valid selector operator",
                )),
            }
            set.insert(scope);
        }
        if conflicting(&set) {
            errs.push(invalid_raw(fp, scopes_go(), "conflicting scopes"));
        }
    }
}

/// `ValidateResourceQuota`.
pub fn validate_quota(q: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    quota_spec(&mut errs, at(q, "spec"));
    quota_resource_list(&mut errs, at(at(q, "status"), "hard"), "status.hard");
    quota_resource_list(&mut errs, at(at(q, "status"), "used"), "status.used");
    errs
}

/// `ValidateResourceQuotaUpdate`: scopes are immutable.
pub fn validate_quota_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    quota_spec(&mut errs, at(new, "spec"));
    let a: HashSet<&str> = strings(at(new, "spec"), "scopes").into_iter().collect();
    let b: HashSet<&str> = strings(at(old, "spec"), "scopes").into_iter().collect();
    if a != b {
        errs.push(invalid_raw(
            "spec.scopes",
            gofmt::string_slice("core.ResourceQuotaScope", at(at(new, "spec"), "scopes")),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

// ---- LimitRange ----

/// `ValidateLimitRange`.
pub fn validate_limit_range(lr: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut types = HashSet::new();
    for (i, l) in arr(at(lr, "spec"), "limits").iter().enumerate() {
        let p = idx("spec.limits", i);
        let ty = str_of(l, "type");
        let tp = child(&p, "type");
        let msgs = kaiser_apimachinery::validation::is_qualified_name(ty);
        if !msgs.is_empty() {
            super::push_msgs(&mut errs, &tp, ty, msgs);
        } else if !ty.contains('/') && !["Pod", "Container", "PersistentVolumeClaim"].contains(&ty)
        {
            errs.push(FieldError::invalid(
                &tp,
                ty,
                "must be a standard limit type or fully qualified",
            ));
        }
        if !types.insert(ty) {
            errs.push(FieldError::duplicate(&tp, ty));
        }
        let name_check = |errs: &mut ErrorList, name: &str, path: &str| {
            if ty == "Pod" || ty == "Container" {
                pod::container_resource_name(errs, name, path);
            } else {
                pod::resource_name(errs, name, path);
            }
        };
        let mut sets: HashMap<&str, HashMap<String, Quantity>> = HashMap::new();
        let mut keys: Vec<String> = Vec::new();
        let mut read = |errs: &mut ErrorList, member: &'static str| {
            let mut m = HashMap::new();
            for (k, v) in sorted_entries(at(l, member)) {
                let kp = key(&child(&p, member), k);
                name_check(errs, k, &kp);
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
                if let Some(q) = super::quantity::of(v).and_then(Result::ok) {
                    m.insert(k.clone(), q);
                }
            }
            sets.insert(member, m);
        };
        read(&mut errs, "max");
        read(&mut errs, "min");
        if ty == "Pod" {
            for f in ["default", "defaultRequest"] {
                if is_set(at(l, f)) {
                    errs.push(FieldError::forbidden(
                        &child(&p, f),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
            }
        } else {
            read(&mut errs, "default");
            read(&mut errs, "defaultRequest");
        }
        if ty == "PersistentVolumeClaim"
            && at(at(l, "min"), "storage").is_null()
            && at(at(l, "max"), "storage").is_null()
        {
            errs.push(FieldError::required(
                &child(&p, "limits"),
                "either minimum or maximum storage value is required, but neither was provided",
            ));
        }
        read(&mut errs, "maxLimitRequestRatio");
        keys.sort();
        let get = |member: &str, k: &str| sets.get(member).and_then(|m| m.get(k));
        for k in &keys {
            let (min, max, def, defreq, ratio) = (
                get("min", k),
                get("max", k),
                get("default", k),
                get("defaultRequest", k),
                get("maxLimitRequestRatio", k),
            );
            let at_key = |m: &str| key(&child(&p, m), k);
            if let (Some(a), Some(b)) = (min, max)
                && a.compare(b).is_gt()
            {
                errs.push(invalid_raw(
                    &at_key("min"),
                    a.go_repr(),
                    &format!("min value {a} is greater than max value {b}"),
                ));
            }
            if let (Some(d), Some(a)) = (defreq, min)
                && a.compare(d).is_gt()
            {
                errs.push(invalid_raw(
                    &at_key("defaultRequest"),
                    d.go_repr(),
                    &format!("min value {a} is greater than default request value {d}"),
                ));
            }
            if let (Some(d), Some(b)) = (defreq, max)
                && d.compare(b).is_gt()
            {
                errs.push(invalid_raw(
                    &at_key("defaultRequest"),
                    d.go_repr(),
                    &format!("default request value {d} is greater than max value {b}"),
                ));
            }
            if let (Some(d), Some(df)) = (defreq, def)
                && d.compare(df).is_gt()
            {
                errs.push(invalid_raw(
                    &at_key("defaultRequest"),
                    d.go_repr(),
                    &format!("default request value {d} is greater than default limit value {df}"),
                ));
            }
            if let (Some(df), Some(a)) = (def, min)
                && a.compare(df).is_gt()
            {
                errs.push(invalid_raw(
                    &at_key("default"),
                    a.go_repr(),
                    &format!("min value {a} is greater than default value {df}"),
                ));
            }
            if let (Some(df), Some(b)) = (def, max)
                && df.compare(b).is_gt()
            {
                errs.push(invalid_raw(
                    &at_key("default"),
                    b.go_repr(),
                    &format!("default value {df} is greater than max value {b}"),
                ));
            }
            if let Some(r) = ratio {
                let one = super::quantity::parse("1").ok();
                if one.is_some_and(|o| r.compare(&o).is_lt()) {
                    errs.push(invalid_raw(
                        &at_key("maxLimitRequestRatio"),
                        r.go_repr(),
                        &format!("ratio {r} is less than 1"),
                    ));
                }
                if let (Some(a), Some(b)) = (min, max) {
                    let (a, b) = (a.milli_value() as f64, b.milli_value() as f64);
                    let limit = b / a;
                    if (r.milli_value() as f64) / 1000.0 > limit {
                        errs.push(invalid_raw(
                            &at_key("maxLimitRequestRatio"),
                            r.go_repr(),
                            &format!("ratio {r} is greater than max/min = {limit:.6}"),
                        ));
                    }
                }
            }
            let overcommit = pod::is_native_resource(k) && !pod::is_hugepages(k);
            if let (false, Some(df), Some(d)) = (overcommit, def, defreq)
                && df.compare(d).is_ne()
            {
                errs.push(invalid_raw(
                    &at_key("defaultRequest"),
                    d.go_repr(),
                    &format!("default value {df} must equal to defaultRequest value {d} in {k}"),
                ));
            }
        }
    }
    errs
}

// ---- Node ----

fn node_taints(errs: &mut ErrorList, spec: &Value) {
    let path = "metadata.taints";
    let mut unique: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (i, t) in arr(spec, "taints").iter().enumerate() {
        let p = idx(path, i);
        let k = str_of(t, "key");
        let effect = str_of(t, "effect");
        qualified_name(errs, k, &child(&p, "key"));
        let value = str_of(t, "value");
        let msgs = kaiser_apimachinery::validation::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &child(&p, "value"),
                value,
                msgs.join(";"),
            ));
        }
        if effect.is_empty() {
            errs.push(FieldError::required(&child(&p, "effect"), ""));
        } else {
            pod::taint_effect(errs, effect, &child(&p, "effect"));
        }
        let set = unique.entry(effect).or_default();
        if set.contains(k) {
            errs.push(raw(
                ErrorKind::Duplicate,
                &p,
                gofmt::json(t),
                "taints must be unique by key and effect pair",
            ));
            continue;
        }
        set.insert(k);
    }
}

fn node_resources(errs: &mut ErrorList, node: &Value) {
    for list in ["capacity", "allocatable"] {
        for (k, v) in sorted_entries(at(at(node, "status"), list)) {
            let p = format!("status.{list}.{k}");
            if let Some(q) = pod::parse_quantity(errs, v, &p) {
                pod::resource_quantity_value(errs, k, &q, &p);
            }
        }
    }
}

fn pod_cidrs(errs: &mut ErrorList, spec: &Value) {
    let cidrs = strings(spec, "podCIDRs");
    if cidrs.is_empty() {
        return;
    }
    let field = "spec.podCIDRs";
    let mut all_valid = true;
    for (i, c) in cidrs.iter().enumerate() {
        all_valid &= net::valid_cidr(errs, &idx(field, i), c);
    }
    if cidrs.len() > 1 {
        let v6 = |c: &str| net::parse_cidr(c).is_some_and(|(ip, _)| net::is_ipv6(&ip.to_string()));
        if !all_valid || cidrs.len() > 2 || v6(cidrs[0]) == v6(cidrs[1]) {
            errs.push(invalid_raw(
                field,
                gofmt::string_slice("string", at(spec, "podCIDRs")),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        let mut seen = HashSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(*c) {
                errs.push(FieldError::duplicate(&idx(field, i), *c));
            }
        }
    }
}

/// `ValidateNode` (spec taints, pod CIDRs and status quantities).
pub fn validate_node(node: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(node, "spec");
    node_taints(&mut errs, spec);
    node_resources(&mut errs, node);
    pod_cidrs(&mut errs, spec);
    errs
}

/// `ValidateNodeUpdate`.
pub fn validate_node_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(new, "spec");
    let old_spec = at(old, "spec");
    node_resources(&mut errs, new);
    let mut seen = Vec::new();
    for (i, a) in arr(at(new, "status"), "addresses").iter().enumerate() {
        if seen.contains(&a) {
            errs.push(raw(
                ErrorKind::Duplicate,
                &idx("status.addresses", i),
                format!(
                    "core.NodeAddress{{Type:{}, Address:{}}}",
                    gofmt::quote(str_of(a, "type")),
                    gofmt::quote(str_of(a, "address"))
                ),
                "",
            ));
        }
        seen.push(a);
    }
    let old_cidrs = strings(old_spec, "podCIDRs");
    let new_cidrs = strings(spec, "podCIDRs");
    let cidr_msg = "node updates may not change podCIDR except from \"\" to valid";
    if !old_cidrs.is_empty() {
        if old_cidrs.len() != new_cidrs.len() {
            errs.push(FieldError::forbidden("spec.podCIDRs", cidr_msg));
        } else {
            for (o, n) in old_cidrs.iter().zip(&new_cidrs) {
                if o != n {
                    errs.push(FieldError::forbidden("spec.podCIDRs", cidr_msg));
                }
            }
        }
    }
    let old_provider = str_of(old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != str_of(spec, "providerID") {
        errs.push(FieldError::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    node_taints(&mut errs, spec);
    if str_of(spec, "externalID") != str_of(old_spec, "externalID") {
        errs.push(FieldError::forbidden(
            "spec.externalID",
            "may not be updated",
        ));
    }
    errs
}

#[cfg(test)]
mod tests;
