//! networking.k8s.io/v1 IPAddresses and ServiceCIDRs (upstream's
//! `pkg/apis/networking/validation`): an IPAddress is named by its address
//! in canonical form and points at its parent; a ServiceCIDR holds one or
//! two canonical CIDRs, one per family, that never change.

use kaiser_apimachinery::field::{ErrorList, FieldError};
use serde_json::Value;

use super::{
    IMMUTABLE_MSG, at, child, dns_subdomain, gofmt, idx, invalid_raw, net, path_segment, present,
    push_msgs, sem_eq, str_of, strings,
};

/// `ValidateIPAddressName`: the name is an IP address in canonical form.
pub fn ip_address_name(name: &str, _prefix: bool) -> Vec<String> {
    net::strict_ip_errors(name)
}

fn parent_ref(errs: &mut ErrorList, ip: &Value) {
    let r = at(at(ip, "spec"), "parentRef");
    let path = "spec.parentRef";
    if !present(r) {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let group = str_of(r, "group");
    if !group.is_empty() {
        dns_subdomain(errs, group, &child(path, "group"));
    }
    for f in ["resource", "name"] {
        let v = str_of(r, f);
        if v.is_empty() {
            errs.push(FieldError::required(&child(path, f), ""));
        } else {
            path_segment(errs, v, &child(path, f));
        }
    }
    let ns = str_of(r, "namespace");
    if !ns.is_empty() {
        path_segment(errs, ns, &child(path, "namespace"));
    }
}

/// `ValidateIPAddress`.
pub fn validate_ip_address(ip: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    parent_ref(&mut errs, ip);
    errs
}

/// A `*networking.ParentReference` as Go prints it.
fn render_parent_ref(r: &Value) -> String {
    if !present(r) {
        return "null".into();
    }
    format!(
        "networking.ParentReference{{Group:{}, Resource:{}, Namespace:{}, Name:{}}}",
        gofmt::quote(str_of(r, "group")),
        gofmt::quote(str_of(r, "resource")),
        gofmt::quote(str_of(r, "namespace")),
        gofmt::quote(str_of(r, "name")),
    )
}

/// `ValidateIPAddress` plus `ValidateIPAddressUpdate`: the parent never
/// changes.
pub fn validate_ip_address_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_ip_address(new);
    let (n, o) = (
        at(at(new, "spec"), "parentRef"),
        at(at(old, "spec"), "parentRef"),
    );
    if !sem_eq(n, o) {
        errs.push(invalid_raw(
            "spec.parentRef",
            render_parent_ref(n),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

/// `ValidateServiceCIDR`.
pub fn validate_service_cidr(sc: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(sc, "spec");
    let path = "spec.cidrs";
    let cidrs = strings(spec, "cidrs");
    let rendered = || {
        format!(
            "networking.ServiceCIDRSpec{{CIDRs:{}}}",
            gofmt::string_slice("string", at(spec, "cidrs"))
        )
    };
    if cidrs.is_empty() {
        errs.push(FieldError::required(path, "at least one CIDR required"));
        return errs;
    }
    if cidrs.len() > 2 {
        errs.push(invalid_raw(
            path,
            rendered(),
            "may only hold up to 2 values",
        ));
        return errs;
    }
    if cidrs.len() == 2 {
        let families: Option<Vec<bool>> = cidrs
            .iter()
            .map(|c| net::parse_cidr(c).map(|(ip, _)| ip.is_ipv4()))
            .collect();
        if families.is_none_or(|f| f[0] == f[1]) {
            errs.push(invalid_raw(
                path,
                rendered(),
                "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
            ));
            return errs;
        }
    }
    for (i, c) in cidrs.iter().enumerate() {
        push_msgs(&mut errs, &idx(path, i), c, net::strict_cidr_errors(c));
    }
    errs
}

/// `ValidateServiceCIDRUpdate`: the CIDRs never change.
pub fn validate_service_cidr_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_service_cidr(new);
    let (n, o) = (at(at(new, "spec"), "cidrs"), at(at(old, "spec"), "cidrs"));
    if !sem_eq(n, o) {
        errs.push(invalid_raw(
            "spec.cidrs",
            gofmt::string_slice("string", n),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::testutil::assert_errs;
    use serde_json::json;

    #[test]
    fn ip_addresses() {
        assert_eq!(
            ip_address_name("2001:db8:0::1", false),
            ["must be in canonical form (\"2001:db8::1\")"]
        );
        assert!(ip_address_name("10.96.0.10", false).is_empty());
        let ip = json!({"metadata": {"name": "10.96.0.10"}, "spec": {"parentRef":
            {"group": "", "resource": "services", "namespace": "default", "name": "kubernetes"}}});
        assert!(validate_ip_address(&ip).is_empty());
        assert_errs(
            &validate_ip_address(&json!({"spec": {}})),
            &["spec.parentRef: Required value"],
        );
        assert_errs(
            &validate_ip_address(
                &json!({"spec": {"parentRef": {"group": "Bad_Group", "name": "a/b", "namespace": ".."}}}),
            ),
            &[
                "spec.parentRef.group: Invalid value: \"Bad_Group\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.parentRef.resource: Required value",
                "spec.parentRef.name: Invalid value: \"a/b\": may not contain '/'",
                "spec.parentRef.namespace: Invalid value: \"..\": may not be '..'",
            ],
        );
        let mut moved = ip.clone();
        moved["spec"]["parentRef"]["name"] = json!("other");
        assert_errs(
            &validate_ip_address_update(&moved, &ip),
            &[
                "spec.parentRef: Invalid value: networking.ParentReference{Group:\"\", Resource:\"services\", Namespace:\"default\", Name:\"other\"}: field is immutable",
            ],
        );
    }

    #[test]
    fn service_cidrs() {
        let ok = json!({"spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/112"]}});
        assert!(validate_service_cidr(&ok).is_empty());
        assert_errs(
            &validate_service_cidr(&json!({"spec": {}})),
            &["spec.cidrs: Required value: at least one CIDR required"],
        );
        assert_errs(
            &validate_service_cidr(&json!({"spec": {"cidrs": ["10.0.0.0/8", "11.0.0.0/8"]}})),
            &[
                "spec.cidrs: Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{\"10.0.0.0/8\", \"11.0.0.0/8\"}}: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
            ],
        );
        assert_errs(
            &validate_service_cidr(&json!({"spec": {"cidrs": ["10.0.0.1/8", "2001:DB8::/64"]}})),
            &[
                "spec.cidrs[0]: Invalid value: \"10.0.0.1/8\": must not have bits set beyond the prefix length",
                "spec.cidrs[1]: Invalid value: \"2001:DB8::/64\": must be in canonical form (\"2001:db8::/64\")",
            ],
        );
        let mut changed = ok.clone();
        changed["spec"]["cidrs"] = json!(["10.96.0.0/16"]);
        assert_errs(
            &validate_service_cidr_update(&changed, &ok),
            &["spec.cidrs: Invalid value: []string{\"10.96.0.0/16\"}: field is immutable"],
        );
    }
}
