//! networking.k8s.io/v1 Ingresses, IngressClasses and NetworkPolicies
//! (upstream's `pkg/apis/networking/validation`), and discovery.k8s.io/v1
//! EndpointSlices (`pkg/apis/discovery/validation`).

use std::collections::HashSet;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_valid_path_segment_name,
};
use serde_json::Value;

use super::pod;
use super::{
    IMMUTABLE_MSG, arr, at, child, dns_label, dns_subdomain, dns1035_label, gofmt, idx, int_of,
    invalid_raw, net, opt_str, present, push_msgs, qualified_name, selector, str_of, too_many,
};

// ---- Ingress ----

const WILDCARD_MSG: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// `IsWildcardDNS1123Subdomain`.
fn wildcard_errors(host: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if host.len() > 253 {
        msgs.push("must be no more than 253 characters".to_string());
    }
    // Length is reported on its own; only the shape matters here.
    let ok = host.strip_prefix("*.").is_some_and(|rest| {
        is_dns1123_subdomain(rest)
            .iter()
            .all(|m| m.starts_with("must be no more"))
    });
    if !ok {
        msgs.push(WILDCARD_MSG.to_string());
    }
    msgs
}

fn host_errors(errs: &mut ErrorList, host: &str, path: &str) {
    if host.contains('*') {
        push_msgs(errs, path, host, wildcard_errors(host));
    } else {
        push_msgs(errs, path, host, is_dns1123_subdomain(host));
    }
}

struct IngressOpts {
    allow_invalid_secret_name: bool,
    allow_invalid_wildcard_host_rule: bool,
}

fn ingress_spec(errs: &mut ErrorList, spec: &Value, opts: &IngressOpts) {
    let rules = arr(spec, "rules");
    let default_backend = at(spec, "defaultBackend");
    if rules.is_empty() && !present(default_backend) {
        errs.push(invalid_raw(
            "spec",
            if at(spec, "rules").is_array() {
                "[]networking.IngressRule{}".into()
            } else {
                "[]networking.IngressRule(nil)".into()
            },
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if present(default_backend) {
        ingress_backend(errs, default_backend, "spec.defaultBackend");
    }
    for (i, rule) in rules.iter().enumerate() {
        let p = idx("spec.rules", i);
        let host = str_of(rule, "host");
        let mut wildcard = false;
        if !host.is_empty() {
            if host.parse::<std::net::IpAddr>().is_ok() {
                errs.push(FieldError::invalid(
                    &child(&p, "host"),
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
            wildcard = host.contains('*');
            host_errors(errs, host, &child(&p, "host"));
        }
        if !wildcard || !opts.allow_invalid_wildcard_host_rule {
            rule_value(errs, rule, &p);
        }
    }
    for (ti, tls) in arr(spec, "tls").iter().enumerate() {
        let tp = idx("spec.tls", ti);
        for (i, h) in arr(tls, "hosts").iter().enumerate() {
            host_errors(
                errs,
                h.as_str().unwrap_or(""),
                &idx(&child(&tp, "hosts"), i),
            );
        }
        let secret = str_of(tls, "secretName");
        if !opts.allow_invalid_secret_name && !secret.is_empty() {
            dns_subdomain(errs, secret, &child(&tp, "secretName"));
        }
    }
    if let Some(c) = opt_str(spec, "ingressClassName") {
        dns_subdomain(errs, c, "spec.ingressClassName");
    }
}

fn rule_value(errs: &mut ErrorList, rule: &Value, path: &str) {
    let http = at(rule, "http");
    if !present(http) {
        return;
    }
    let hp = child(path, "http");
    let paths = arr(http, "paths");
    if paths.is_empty() {
        errs.push(FieldError::required(&child(&hp, "paths"), ""));
    }
    for (i, p) in paths.iter().enumerate() {
        let pp = idx(&child(&hp, "paths"), i);
        let Some(pt) = opt_str(p, "pathType") else {
            errs.push(FieldError::required(
                &child(&pp, "pathType"),
                "pathType must be specified",
            ));
            continue;
        };
        let path_str = str_of(p, "path");
        let path_path = child(&pp, "path");
        match pt {
            "Exact" | "Prefix" => {
                if !path_str.starts_with('/') {
                    errs.push(FieldError::invalid(
                        &path_path,
                        path_str,
                        "must be an absolute path",
                    ));
                }
                if !path_str.is_empty() {
                    for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                        if path_str.contains(seq) {
                            errs.push(FieldError::invalid(
                                &path_path,
                                path_str,
                                format!("must not contain '{seq}'"),
                            ));
                        }
                    }
                    for suffix in ["/..", "/."] {
                        if path_str.ends_with(suffix) {
                            errs.push(FieldError::invalid(
                                &path_path,
                                path_str,
                                format!("cannot end with '{suffix}'"),
                            ));
                        }
                    }
                }
            }
            "ImplementationSpecific" => {
                if !path_str.is_empty() && !path_str.starts_with('/') {
                    errs.push(FieldError::invalid(
                        &path_path,
                        path_str,
                        "must be an absolute path",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &child(&pp, "pathType"),
                other,
                &["Exact", "ImplementationSpecific", "Prefix"],
            )),
        }
        ingress_backend(errs, at(p, "backend"), &child(&pp, "backend"));
    }
}

fn ingress_backend(errs: &mut ErrorList, b: &Value, path: &str) {
    let resource = at(b, "resource");
    let service = at(b, "service");
    match (present(resource), present(service)) {
        (true, true) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (true, false) => typed_local_ref(errs, resource, &child(path, "resource")),
        (false, true) => {
            let name = str_of(service, "name");
            let np = child(path, "service.name");
            if name.is_empty() {
                errs.push(FieldError::required(&np, ""));
            } else {
                push_msgs(errs, &np, name, dns1035_label(name));
            }
            let port = at(service, "port");
            let pname = str_of(port, "name");
            let pnum = int_of(port, "number").unwrap_or(0);
            if !pname.is_empty() && pnum != 0 {
                errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                ));
            } else if !pname.is_empty() {
                push_msgs(
                    errs,
                    &child(path, "service.port.name"),
                    pname,
                    pod::port_name_errors(pname),
                );
            } else if pnum != 0 {
                if !(1..=65535).contains(&pnum) {
                    errs.push(FieldError::invalid(
                        &child(path, "service.port.number"),
                        pnum,
                        super::inclusive_range_error(1, 65535),
                    ));
                }
            } else {
                errs.push(FieldError::required(
                    path,
                    "port name or number is required",
                ));
            }
        }
        (false, false) => errs.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
    }
}

/// `validateIngressTypedLocalObjectReference`.
fn typed_local_ref(errs: &mut ErrorList, r: &Value, path: &str) {
    if !present(r) {
        return;
    }
    if let Some(g) = opt_str(r, "apiGroup") {
        dns_subdomain(errs, g, &child(path, "apiGroup"));
    }
    for f in ["kind", "name"] {
        let v = str_of(r, f);
        if v.is_empty() {
            errs.push(FieldError::required(
                &child(path, f),
                format!("{f} is required"),
            ));
        } else {
            push_msgs(errs, &child(path, f), v, is_valid_path_segment_name(v));
        }
    }
}

fn ingress_opts(old: Option<&Value>) -> IngressOpts {
    let Some(old) = old else {
        return IngressOpts {
            allow_invalid_secret_name: false,
            allow_invalid_wildcard_host_rule: false,
        };
    };
    let spec = at(old, "spec");
    IngressOpts {
        allow_invalid_secret_name: arr(spec, "tls").iter().any(|t| {
            let s = str_of(t, "secretName");
            !s.is_empty() && !is_dns1123_subdomain(s).is_empty()
        }),
        allow_invalid_wildcard_host_rule: arr(spec, "rules").iter().any(|r| {
            let mut e = ErrorList::new();
            rule_value(&mut e, r, "");
            str_of(r, "host").contains('*') && !e.is_empty()
        }),
    }
}

/// `ValidateIngressCreate`.
pub fn validate_ingress(ing: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    ingress_spec(&mut errs, at(ing, "spec"), &ingress_opts(None));
    let class_annotation = "kubernetes.io/ingress.class";
    if let Some(v) = opt_str(at(at(ing, "metadata"), "annotations"), class_annotation)
        && let Some(class) = opt_str(at(ing, "spec"), "ingressClassName")
        && v != class
    {
        errs.push(FieldError::invalid(
            &child("annotations", class_annotation),
            v,
            "must match `ingressClassName` when both are specified",
        ));
    }
    errs
}

/// `ValidateIngressUpdate`.
pub fn validate_ingress_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    ingress_spec(&mut errs, at(new, "spec"), &ingress_opts(Some(old)));
    errs
}

// ---- IngressClass ----

fn ingress_class_spec(errs: &mut ErrorList, spec: &Value) {
    let controller = str_of(spec, "controller");
    if controller.len() > 250 {
        errs.push(FieldError::too_long("spec.controller", 250));
    }
    if controller.is_empty() {
        errs.push(FieldError::required("spec.controller", ""));
    } else {
        match controller.split_once('/') {
            Some((h, rest)) if !h.is_empty() && !rest.is_empty() => {
                dns_subdomain(errs, h, "spec.controller");
                let ok = rest
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c));
                if !ok {
                    errs.push(FieldError::invalid(
                        "spec.controller",
                        rest,
                        "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
                    ));
                }
            }
            _ => errs.push(FieldError::invalid(
                "spec.controller",
                controller,
                "must be a domain-prefixed path (such as \"acme.io/foo\")",
            )),
        }
    }
    let params = at(spec, "parameters");
    if present(params) {
        typed_local_ref(errs, params, "spec.parameters");
        if !present(at(params, "scope")) {
            errs.push(FieldError::required("spec.parameters.scope", ""));
        } else if let Some(scope) = opt_str(params, "scope") {
            let ns = opt_str(params, "namespace");
            match scope {
                "Namespace" => match ns {
                    None => errs.push(FieldError::required(
                        "spec.parameters.namespace",
                        "`parameters.scope` is set to 'Namespace'",
                    )),
                    Some(n) => dns_label(errs, n, "spec.parameters.namespace"),
                },
                "Cluster" => {
                    if ns.is_some() {
                        errs.push(FieldError::forbidden(
                            "spec.parameters.namespace",
                            "`parameters.scope` is set to 'Cluster'",
                        ));
                    }
                }
                other => errs.push(FieldError::not_supported(
                    "spec.parameters.scope",
                    other,
                    &["Cluster", "Namespace"],
                )),
            }
        }
    }
}

/// `ValidateIngressClass`.
pub fn validate_ingress_class(ic: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    ingress_class_spec(&mut errs, at(ic, "spec"));
    errs
}

/// `ValidateIngressClassUpdate`: the controller is immutable.
pub fn validate_ingress_class_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let (n, o) = (
        str_of(at(new, "spec"), "controller"),
        str_of(at(old, "spec"), "controller"),
    );
    if n != o {
        errs.push(FieldError::invalid("spec.controller", n, IMMUTABLE_MSG));
    }
    ingress_class_spec(&mut errs, at(new, "spec"));
    errs
}

// ---- NetworkPolicy ----

fn policy_port(errs: &mut ErrorList, p: &Value, path: &str) {
    if let Some(proto) = opt_str(p, "protocol")
        && !["TCP", "UDP", "SCTP"].contains(&proto)
    {
        errs.push(FieldError::not_supported(
            &child(path, "protocol"),
            proto,
            &["TCP", "UDP", "SCTP"],
        ));
    }
    let end = super::as_int(at(p, "endPort"));
    let end_path = child(path, "endPort");
    match at(p, "port") {
        Value::Null => {
            if let Some(e) = end {
                errs.push(FieldError::invalid(
                    &end_path,
                    e,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
        Value::String(s) => {
            if let Some(e) = end {
                errs.push(FieldError::invalid(
                    &end_path,
                    e,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            push_msgs(errs, &child(path, "port"), s, pod::port_name_errors(s));
        }
        other => {
            let n = super::as_int(other).unwrap_or(0);
            if !(1..=65535).contains(&n) {
                errs.push(FieldError::invalid(
                    &child(path, "port"),
                    n,
                    super::inclusive_range_error(1, 65535),
                ));
            }
            if let Some(e) = end {
                // upstream reports the start port as the bad value here
                if e < n {
                    errs.push(FieldError::invalid(
                        &end_path,
                        n,
                        "must be greater than or equal to `port`",
                    ));
                }
                if !(1..=65535).contains(&e) {
                    errs.push(FieldError::invalid(
                        &end_path,
                        e,
                        super::inclusive_range_error(1, 65535),
                    ));
                }
            }
        }
    }
}

fn policy_peer(errs: &mut ErrorList, peer: &Value, path: &str, allow_invalid: bool) {
    let mut n = 0;
    for f in ["podSelector", "namespaceSelector"] {
        if present(at(peer, f)) {
            n += 1;
            errs.extend(selector::validate(
                at(peer, f),
                allow_invalid,
                &child(path, f),
            ));
        }
    }
    let ipb = at(peer, "ipBlock");
    if present(ipb) {
        n += 1;
        ip_block(errs, ipb, &child(path, "ipBlock"));
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a peer"));
    } else if n > 1 && present(ipb) {
        errs.push(FieldError::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
}

fn ip_block(errs: &mut ErrorList, ipb: &Value, path: &str) {
    let cidr = str_of(ipb, "cidr");
    if cidr.is_empty() {
        errs.push(FieldError::required(&child(path, "cidr"), ""));
        return;
    }
    let Some((net_ip, bits)) = net::parse_cidr(cidr) else {
        errs.push(FieldError::invalid(
            &child(path, "cidr"),
            cidr,
            net::CIDR_MSG,
        ));
        return;
    };
    for (i, e) in arr(ipb, "except").iter().enumerate() {
        let ep = idx(&child(path, "except"), i);
        let e = e.as_str().unwrap_or("");
        let Some((eip, ebits)) = net::parse_cidr(e) else {
            errs.push(FieldError::invalid(&ep, e, net::CIDR_MSG));
            continue;
        };
        if !cidr_contains(net_ip, bits, eip) || bits >= ebits {
            errs.push(FieldError::invalid(
                &ep,
                e,
                "must be a strict subset of `cidr`",
            ));
        }
    }
}

fn cidr_contains(net_ip: std::net::IpAddr, bits: u32, ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match (net_ip, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(n) & mask) == (u32::from(a) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(n) & mask) == (u128::from(a) & mask)
        }
        _ => false,
    }
}

/// `ValidateNetworkPolicy` on create.
pub fn validate_network_policy(np: &Value) -> ErrorList {
    network_policy_spec(at(np, "spec"), false)
}

/// `ValidateNetworkPolicyUpdate`: label values the old pod selector
/// already got away with stay allowed.
pub fn validate_network_policy_update(new: &Value, old: &Value) -> ErrorList {
    let old_sel = at(at(old, "spec"), "podSelector");
    let allow = !selector::validate(old_sel, false, "").is_empty();
    network_policy_spec(at(new, "spec"), allow)
}

/// `ValidateNetworkPolicySpec`.
fn network_policy_spec(spec: &Value, allow_invalid: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    errs.extend(selector::validate(
        at(spec, "podSelector"),
        allow_invalid,
        "spec.podSelector",
    ));
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in arr(spec, dir).iter().enumerate() {
            let rp = idx(&child("spec", dir), i);
            for (j, port) in arr(rule, "ports").iter().enumerate() {
                policy_port(&mut errs, port, &idx(&child(&rp, "ports"), j));
            }
            for (j, peer) in arr(rule, peers).iter().enumerate() {
                policy_peer(&mut errs, peer, &idx(&child(&rp, peers), j), allow_invalid);
            }
        }
    }
    let types = arr(spec, "policyTypes");
    if types.len() > 2 {
        errs.push(invalid_raw(
            "spec.policyTypes",
            // upstream passes a pointer, which the error body dereferences
            gofmt::string_slice("networking.PolicyType", at(spec, "policyTypes")),
            "may not specify more than two policyTypes",
        ));
        return errs;
    }
    for (i, t) in types.iter().enumerate() {
        let t = t.as_str().unwrap_or("");
        if t != "Ingress" && t != "Egress" {
            errs.push(FieldError::not_supported(
                &idx("spec.policyTypes", i),
                t,
                &["Ingress", "Egress"],
            ));
        }
    }
    errs
}

// ---- EndpointSlice ----

fn endpoint_slice(errs: &mut ErrorList, es: &Value) {
    let at_ = str_of(es, "addressType");
    let types = ["FQDN", "IPv4", "IPv6"];
    if at_.is_empty() {
        errs.push(FieldError::required("addressType", ""));
    } else if !types.contains(&at_) {
        errs.push(FieldError::not_supported("addressType", at_, &types));
    }
    let eps = arr(es, "endpoints");
    if eps.len() > 1000 {
        errs.push(too_many("endpoints", eps.len(), 1000));
    }
    let eps = if eps.len() > 1000 { &[][..] } else { eps };
    for (i, ep) in eps.iter().enumerate() {
        let p = idx("endpoints", i);
        let ap = child(&p, "addresses");
        let addrs = arr(ep, "addresses");
        if addrs.is_empty() {
            errs.push(FieldError::required(&ap, "must contain at least 1 address"));
        } else if addrs.len() > 100 {
            errs.push(too_many(&ap, addrs.len(), 100));
        }
        for (j, a) in addrs.iter().enumerate() {
            let a = a.as_str().unwrap_or("");
            let aip = idx(&ap, j);
            // The family check and the special-range check both run.
            match at_ {
                "IPv4" => {
                    if net::parse_ip(a).is_none() || net::is_ipv6(a) {
                        errs.push(FieldError::invalid(&aip, a, "must be a valid IPv4 address"));
                    }
                    net::non_special_ip(errs, &aip, a);
                }
                "IPv6" => {
                    if !net::is_ipv6(a) {
                        errs.push(FieldError::invalid(&aip, a, "must be a valid IPv6 address"));
                    }
                    net::non_special_ip(errs, &aip, a);
                }
                "FQDN" => fqdn(errs, a, &aip),
                _ => {}
            }
        }
        if let Some(n) = opt_str(ep, "nodeName") {
            dns_subdomain(errs, n, &child(&p, "nodeName"));
        }
        let topo = at(ep, "deprecatedTopology");
        let tp = child(&p, "deprecatedTopology");
        let n = topo.as_object().map_or(0, |m| m.len());
        if n > 16 {
            errs.push(too_many(&tp, n, 16));
        }
        super::labels(errs, topo, &tp);
        if let Some(h) = opt_str(ep, "hostname") {
            push_msgs(errs, &child(&p, "hostname"), h, is_dns1123_label(h));
        }
        let zones = arr(at(ep, "hints"), "forZones");
        let zp = child(&child(&p, "hints"), "forZones");
        if zones.len() > 8 {
            errs.push(too_many(&zp, zones.len(), 8));
        } else {
            let mut seen = HashSet::new();
            for (j, z) in zones.iter().enumerate() {
                let name = str_of(z, "name");
                let np = child(&idx(&zp, j), "name");
                if !seen.insert(name) {
                    errs.push(FieldError::duplicate(&np, name));
                }
                push_msgs(
                    errs,
                    &np,
                    name,
                    kaiser_apimachinery::validation::is_valid_label_value(name),
                );
            }
        }
    }
    let ports = arr(es, "ports");
    if ports.len() > 20000 {
        errs.push(too_many("ports", ports.len(), 20000));
        return;
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = idx("ports", i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            dns_label(errs, name, &child(&p, "name"));
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        }
        match opt_str(port, "protocol") {
            None => errs.push(FieldError::required(&child(&p, "protocol"), "")),
            Some(proto) => {
                if !["SCTP", "TCP", "UDP"].contains(&proto) {
                    errs.push(FieldError::not_supported(
                        &child(&p, "protocol"),
                        proto,
                        &["SCTP", "TCP", "UDP"],
                    ));
                }
            }
        }
        if let Some(ap) = opt_str(port, "appProtocol") {
            qualified_name(errs, ap, &child(&p, "appProtocol"));
        }
    }
}

/// `IsFullyQualifiedDomainName`.
fn fqdn(errs: &mut ErrorList, name: &str, path: &str) {
    if name.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let n = name.strip_suffix('.').unwrap_or(name);
    let msgs = is_dns1123_subdomain(n);
    if !msgs.is_empty() {
        errs.push(FieldError::invalid(path, n, msgs.join(",")));
        return;
    }
    if n.split('.').count() < 2 {
        errs.push(FieldError::invalid(
            path,
            n,
            "should be a domain with at least two segments separated by dots",
        ));
        return;
    }
    for l in n.split('.') {
        let msgs = is_dns1123_label(l);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(path, l, msgs.join(",")));
            return;
        }
    }
}

/// `ValidateEndpointSliceCreate`.
pub fn validate_endpoint_slice(es: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    endpoint_slice(&mut errs, es);
    errs
}

/// `ValidateEndpointSliceUpdate`: the address type is immutable.
pub fn validate_endpoint_slice_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_endpoint_slice(new);
    let (n, o) = (str_of(new, "addressType"), str_of(old, "addressType"));
    if n != o {
        errs.push(FieldError::invalid("addressType", n, IMMUTABLE_MSG));
    }
    errs
}

#[cfg(test)]
mod tests;
