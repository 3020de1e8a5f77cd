//! flowcontrol.apiserver.k8s.io/v1 FlowSchemas and
//! PriorityLevelConfigurations (upstream's `pkg/apis/flowcontrol/validation`),
//! including the rule that the mandatory `exempt` and `catch-all` objects
//! keep the spec the bootstrap configuration gives them.

use std::collections::HashSet;
use std::sync::OnceLock;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::{is_dns1123_label, is_dns1123_subdomain};
use serde_json::{Map, Value};

use super::{
    arr, at, child, dns_subdomain, gofmt, idx, int_of, invalid_raw, not_supported_raw, present,
    push_msgs, str_of, strings,
};

const MAX_PRECEDENCE: i64 = 10_000;
const MAX_QUEUES: i64 = 10_000_000;
const MAX_HASH_BITS: i64 = 60;
const VERBS: [&str; 9] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "proxy",
    "update",
    "watch",
];
const NS_INTRO: &str = "each member of this list must be '*' or a DNS-1123 label; ";

fn has_wildcard(list: &[&str]) -> bool {
    list.contains(&"*")
}

/// The spec of a mandatory object, as the bootstrap configuration creates
/// it (after defaulting).
fn mandatory_spec(resource: &str, name: &str) -> Option<&'static Value> {
    static SPECS: OnceLock<Vec<(&'static str, String, Value)>> = OnceLock::new();
    let specs = SPECS.get_or_init(|| {
        let mut out = Vec::new();
        let sources = [
            (
                "flowschemas",
                "FlowSchema",
                crate::bootstrap::flow_schemas(),
            ),
            (
                "prioritylevelconfigurations",
                "PriorityLevelConfiguration",
                crate::bootstrap::priority_levels(),
            ),
        ];
        for (res, kind, objs) in sources {
            let default = crate::defaults::defaulter("flowcontrol.apiserver.k8s.io", "v1", kind);
            for mut o in objs {
                let n = str_of(at(&o, "metadata"), "name").to_string();
                if n != "exempt" && n != "catch-all" {
                    continue;
                }
                if let Some(f) = default {
                    f(&mut o);
                }
                out.push((res, n, at(&o, "spec").clone()));
            }
        }
        out
    });
    specs
        .iter()
        .find(|(r, n, _)| *r == resource && n == name)
        .map(|(_, _, s)| s)
}

/// The value with Go's zero values (null, false, 0, "", empty lists and
/// maps) left out of objects, so that two decodings compare as Go's
/// semantic equality compares structs.
fn without_zeros(v: &Value) -> Value {
    fn zero(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        }
    }
    match v {
        Value::Object(o) => {
            let m: Map<String, Value> = o
                .iter()
                .map(|(k, v)| (k.clone(), without_zeros(v)))
                .filter(|(_, v)| !zero(v))
                .collect();
            Value::Object(m)
        }
        Value::Array(a) => Value::Array(a.iter().map(without_zeros).collect()),
        other => other.clone(),
    }
}

fn go_equal(a: &Value, b: &Value) -> bool {
    without_zeros(a) == without_zeros(b)
}

// ---- FlowSchema ----

fn verbs(errs: &mut ErrorList, rule: &Value, path: &str) {
    let vp = child(path, "verbs");
    let list = strings(rule, "verbs");
    if list.is_empty() {
        errs.push(FieldError::required(
            &vp,
            "verbs must contain at least one value",
        ));
    } else if has_wildcard(&list) {
        if list.len() > 1 {
            errs.push(invalid_raw(
                &vp,
                gofmt::string_slice("string", at(rule, "verbs")),
                "if '*' is present, must not specify other verbs",
            ));
        }
    } else if !list.iter().all(|v| VERBS.contains(v)) {
        errs.push(not_supported_raw(
            &vp,
            gofmt::string_slice("string", at(rule, "verbs")),
            &VERBS,
        ));
    }
}

fn namespace_name_errors(ns: &str) -> Vec<String> {
    is_dns1123_label(ns)
}

fn resource_rule(errs: &mut ErrorList, rule: &Value, path: &str) {
    verbs(errs, rule, path);
    for (field, what) in [("apiGroups", "api group"), ("resources", "resource")] {
        let p = child(path, field);
        let list = strings(rule, field);
        if list.is_empty() {
            errs.push(FieldError::required(
                &p,
                format!("resource rules must supply at least one {what}"),
            ));
        } else if list.len() > 1 && has_wildcard(&list) {
            errs.push(invalid_raw(
                &p,
                gofmt::string_slice("string", at(rule, field)),
                &format!("if '*' is present, must not specify other {what}s"),
            ));
        }
    }
    let np = child(path, "namespaces");
    let namespaces = strings(rule, "namespaces");
    let cluster_scope = at(rule, "clusterScope").as_bool().unwrap_or(false);
    if namespaces.is_empty() && !cluster_scope {
        errs.push(FieldError::required(
            &np,
            "resource rules that are not cluster scoped must supply at least one namespace",
        ));
    } else if has_wildcard(&namespaces) {
        if namespaces.len() > 1 {
            errs.push(invalid_raw(
                &np,
                gofmt::string_slice("string", at(rule, "namespaces")),
                "if '*' is present, must not specify other namespaces",
            ));
        }
    } else {
        for (i, ns) in namespaces.iter().enumerate() {
            for m in namespace_name_errors(ns) {
                errs.push(FieldError::invalid(
                    &idx(&np, i),
                    *ns,
                    format!("{NS_INTRO}{m}"),
                ));
            }
        }
    }
}

/// `ValidateNonResourceURLPath`.
fn non_resource_url(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        return Some("must not be empty");
    }
    if p == "/" {
        return None;
    }
    if !p.starts_with('/') {
        return Some("must start with slash");
    }
    if p.contains(' ') {
        return Some("must not contain white-space");
    }
    if p.contains("//") {
        return Some("must not contain double slash");
    }
    let stars = p.matches('*').count();
    if stars > 1 || (stars == 1 && !p.ends_with("/*")) {
        return Some("wildcard can only do suffix matching");
    }
    None
}

fn non_resource_rule(errs: &mut ErrorList, rule: &Value, path: &str) {
    verbs(errs, rule, path);
    let up = child(path, "nonResourceURLs");
    let urls = strings(rule, "nonResourceURLs");
    if urls.is_empty() {
        errs.push(FieldError::required(
            &up,
            "nonResourceURLs must contain at least one value",
        ));
    } else if has_wildcard(&urls) {
        if urls.len() > 1 {
            errs.push(invalid_raw(
                &up,
                gofmt::string_slice("string", at(rule, "nonResourceURLs")),
                "if '*' is present, must not specify other non-resource URLs",
            ));
        }
    } else {
        for (i, u) in urls.iter().enumerate() {
            if let Some(m) = non_resource_url(u) {
                errs.push(FieldError::invalid(&idx(&up, i), *u, m));
            }
        }
    }
}

fn forbid_other(errs: &mut ErrorList, s: &Value, path: &str, kind: &str) {
    for (field, k) in [
        ("serviceAccount", "ServiceAccount"),
        ("user", "User"),
        ("group", "Group"),
    ] {
        if k != kind && present(at(s, field)) {
            errs.push(FieldError::forbidden(
                &child(path, field),
                format!("{field} is forbidden when subject kind is not '{k}'"),
            ));
        }
    }
}

fn subject(errs: &mut ErrorList, s: &Value, path: &str) {
    let kind = str_of(s, "kind");
    match kind {
        "ServiceAccount" => {
            let sp = child(path, "serviceAccount");
            let sa = at(s, "serviceAccount");
            if !present(sa) {
                errs.push(FieldError::required(
                    &sp,
                    "serviceAccount is required when subject kind is 'ServiceAccount'",
                ));
            } else {
                let name = str_of(sa, "name");
                if name.is_empty() {
                    errs.push(FieldError::required(&child(&sp, "name"), ""));
                } else if name != "*" {
                    push_msgs(errs, &child(&sp, "name"), name, is_dns1123_subdomain(name));
                }
                let ns = str_of(sa, "namespace");
                if ns.is_empty() {
                    errs.push(FieldError::required(
                        &child(&sp, "namespace"),
                        "must specify namespace for service account",
                    ));
                } else {
                    push_msgs(
                        errs,
                        &child(&sp, "namespace"),
                        ns,
                        namespace_name_errors(ns),
                    );
                }
            }
        }
        "User" | "Group" => {
            let field = if kind == "User" { "user" } else { "group" };
            let fp = child(path, field);
            let v = at(s, field);
            if !present(v) {
                errs.push(FieldError::required(
                    &fp,
                    format!("{field} is required when subject kind is '{kind}'"),
                ));
            } else if str_of(v, "name").is_empty() {
                errs.push(FieldError::required(&child(&fp, "name"), ""));
            }
        }
        _ => {
            errs.push(FieldError::not_supported(
                &child(path, "kind"),
                kind,
                &["Group", "ServiceAccount", "User"],
            ));
            return;
        }
    }
    forbid_other(errs, s, path, kind);
}

fn policy_rules(errs: &mut ErrorList, rule: &Value, path: &str) {
    let subjects = arr(rule, "subjects");
    if subjects.is_empty() {
        errs.push(FieldError::required(
            &child(path, "subjects"),
            "subjects must contain at least one value",
        ));
    }
    for (i, s) in subjects.iter().enumerate() {
        subject(errs, s, &idx(&child(path, "subjects"), i));
    }
    let (rr, nr) = (arr(rule, "resourceRules"), arr(rule, "nonResourceRules"));
    if rr.is_empty() && nr.is_empty() {
        errs.push(FieldError::required(
            path,
            "at least one of resourceRules and nonResourceRules has to be non-empty",
        ));
    }
    for (i, r) in rr.iter().enumerate() {
        resource_rule(errs, r, &idx(&child(path, "resourceRules"), i));
    }
    for (i, r) in nr.iter().enumerate() {
        non_resource_rule(errs, r, &idx(&child(path, "nonResourceRules"), i));
    }
}

fn flow_schema_spec(errs: &mut ErrorList, name: &str, spec: &Value) {
    let pp = "spec.matchingPrecedence";
    let precedence = int_of(spec, "matchingPrecedence").unwrap_or(0);
    if precedence <= 0 {
        errs.push(FieldError::invalid(
            pp,
            precedence,
            "must be a positive value",
        ));
    }
    if precedence > MAX_PRECEDENCE {
        errs.push(FieldError::invalid(
            pp,
            precedence,
            format!("must not be greater than {MAX_PRECEDENCE}"),
        ));
    }
    if precedence == 1 && name != "exempt" {
        errs.push(FieldError::invalid(
            pp,
            precedence,
            "only the schema named 'exempt' may have matchingPrecedence 1",
        ));
    }
    let dm = at(spec, "distinguisherMethod");
    if present(dm) {
        let ty = str_of(dm, "type");
        if ty != "ByNamespace" && ty != "ByUser" {
            errs.push(not_supported_raw(
                "spec.distinguisherMethod.type",
                format!(
                    "flowcontrol.FlowDistinguisherMethod{{Type:{}}}",
                    gofmt::quote(ty)
                ),
                &["ByNamespace", "ByUser"],
            ));
        }
    }
    let level = str_of(at(spec, "priorityLevelConfiguration"), "name");
    let lp = "spec.priorityLevelConfiguration.name";
    if level.is_empty() {
        errs.push(FieldError::required(lp, "must reference a priority level"));
    } else {
        dns_subdomain(errs, level, lp);
    }
    for (i, r) in arr(spec, "rules").iter().enumerate() {
        policy_rules(errs, r, &idx("spec.rules", i));
    }
}

/// `Validate…Status`: condition types are set and unique.
fn status_conditions(errs: &mut ErrorList, obj: &Value) {
    let mut seen = HashSet::new();
    for (i, c) in arr(at(obj, "status"), "conditions").iter().enumerate() {
        let p = idx("status.conditions", i);
        let ty = str_of(c, "type");
        if !seen.insert(ty) {
            errs.push(FieldError::duplicate(&child(&p, "type"), ty));
        }
        if ty.is_empty() {
            errs.push(FieldError::required(
                &child(&p, "type"),
                "must not be empty",
            ));
        }
    }
}

/// `ValidateFlowSchema` (also every update).
pub fn validate_flow_schema(fs: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let name = str_of(at(fs, "metadata"), "name");
    let spec = at(fs, "spec");
    flow_schema_spec(&mut errs, name, spec);
    if let Some(fixed) = mandatory_spec("flowschemas", name)
        && !go_equal(spec, fixed)
    {
        errs.push(invalid_raw(
            "spec",
            gofmt::json(spec),
            &format!("spec of '{name}' must equal the fixed value"),
        ));
    }
    status_conditions(&mut errs, fs);
    errs
}

/// `ValidateFlowSchemaUpdate`.
pub fn validate_flow_schema_update(new: &Value, _old: &Value) -> ErrorList {
    validate_flow_schema(new)
}

/// `ValidateFlowSchemaStatusUpdate` (also PriorityLevelConfigurations').
pub fn validate_status_update(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    status_conditions(&mut errs, new);
    errs
}

// ---- PriorityLevelConfiguration ----

fn lendable_percent(errs: &mut ErrorList, cfg: &Value, path: &str) {
    if let Some(l) = int_of(cfg, "lendablePercent")
        && !(0..=100).contains(&l)
    {
        errs.push(FieldError::invalid(
            &child(path, "lendablePercent"),
            l,
            "must be between 0 and 100, inclusive",
        ));
    }
}

fn shares(errs: &mut ErrorList, cfg: &Value, path: &str) {
    if let Some(n) = int_of(cfg, "nominalConcurrencyShares")
        && n < 0
    {
        errs.push(FieldError::invalid(
            &child(path, "nominalConcurrencyShares"),
            n,
            "must be a non-negative integer",
        ));
    }
}

/// `shufflesharding.RequiredEntropyBits`.
fn entropy_bits(deck: i64, hand: i64) -> i64 {
    ((deck as f64).log2() * hand as f64).ceil() as i64
}

fn queuing(errs: &mut ErrorList, q: &Value, path: &str) {
    let n = |f: &str| int_of(q, f).unwrap_or(0);
    let (limit, queues, hand) = (n("queueLengthLimit"), n("queues"), n("handSize"));
    if limit <= 0 {
        errs.push(FieldError::invalid(
            &child(path, "queueLengthLimit"),
            limit,
            "must be positive",
        ));
    }
    let qp = child(path, "queues");
    if queues <= 0 {
        errs.push(FieldError::invalid(&qp, queues, "must be positive"));
    } else if queues > MAX_QUEUES {
        errs.push(FieldError::invalid(
            &qp,
            queues,
            format!("must not be greater than {MAX_QUEUES}"),
        ));
    }
    let hp = child(path, "handSize");
    if hand <= 0 {
        errs.push(FieldError::invalid(&hp, hand, "must be positive"));
    } else if hand > queues {
        errs.push(FieldError::invalid(
            &hp,
            hand,
            format!("should not be greater than queues ({queues})"),
        ));
    } else if entropy_bits(queues, hand) > MAX_HASH_BITS {
        errs.push(FieldError::invalid(
            &hp,
            hand,
            format!(
                "required entropy bits of deckSize {queues} and handSize {hand} should not be greater than {MAX_HASH_BITS}"
            ),
        ));
    }
}

fn limit_response(errs: &mut ErrorList, lr: &Value, path: &str) {
    let qp = child(path, "queuing");
    match str_of(lr, "type") {
        "Reject" => {
            if present(at(lr, "queuing")) {
                errs.push(FieldError::forbidden(
                    &qp,
                    "must be nil if limited.limitResponse.type is not Limited",
                ));
            }
        }
        "Queue" => {
            if present(at(lr, "queuing")) {
                queuing(errs, at(lr, "queuing"), &qp);
            } else {
                errs.push(FieldError::required(
                    &qp,
                    "must not be empty if limited.limitResponse.type is Limited",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &child(path, "type"),
            other,
            &["Queue", "Reject"],
        )),
    }
}

fn limited(errs: &mut ErrorList, l: &Value, path: &str) {
    shares(errs, l, path);
    limit_response(errs, at(l, "limitResponse"), &child(path, "limitResponse"));
    lendable_percent(errs, l, path);
    if let Some(b) = int_of(l, "borrowingLimitPercent")
        && b < 0
    {
        errs.push(FieldError::invalid(
            &child(path, "borrowingLimitPercent"),
            b,
            "if specified, must be a non-negative integer",
        ));
    }
}

fn priority_level_spec(errs: &mut ErrorList, name: &str, spec: &Value) {
    let ty = str_of(spec, "type");
    if (name == "exempt") != (ty == "Exempt") {
        errs.push(FieldError::invalid(
            "spec.type",
            ty,
            "type must be 'Exempt' if and only if name is 'exempt'",
        ));
    }
    match ty {
        "Exempt" => {
            if present(at(spec, "limited")) {
                errs.push(FieldError::forbidden(
                    "spec.limited",
                    "must be nil if the type is not Limited",
                ));
            }
            let e = at(spec, "exempt");
            if present(e) {
                shares(errs, e, "spec.exempt");
                lendable_percent(errs, e, "spec.exempt");
            }
        }
        "Limited" => {
            if present(at(spec, "exempt")) {
                errs.push(FieldError::forbidden(
                    "spec.exempt",
                    "must be nil if the type is Limited",
                ));
            }
            if present(at(spec, "limited")) {
                limited(errs, at(spec, "limited"), "spec.limited");
            } else {
                errs.push(FieldError::required(
                    "spec.limited",
                    "must not be empty when type is Limited",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            "spec.type",
            other,
            &["Exempt", "Limited"],
        )),
    }
}

/// The mandatory levels keep their fixed spec; `exempt` may change its
/// `exempt` section.
fn mandatory_level(errs: &mut ErrorList, name: &str, spec: &Value) {
    let Some(fixed) = mandatory_spec("prioritylevelconfigurations", name) else {
        return;
    };
    let strip = |v: &Value| {
        let mut v = v.clone();
        if name == "exempt"
            && let Some(o) = v.as_object_mut()
        {
            o.remove("exempt");
        }
        v
    };
    if !go_equal(&strip(spec), &strip(fixed)) {
        let what = if name == "exempt" {
            "spec of 'exempt' except the 'spec.exempt' field must equal the fixed value".into()
        } else {
            format!("spec of '{name}' must equal the fixed value")
        };
        errs.push(invalid_raw("spec", gofmt::json(spec), &what));
    }
}

/// `ValidatePriorityLevelConfiguration` (also every update), with zero
/// nominal concurrency shares allowed as upstream does for v1.
pub fn validate_priority_level(pl: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let name = str_of(at(pl, "metadata"), "name");
    let spec = at(pl, "spec");
    priority_level_spec(&mut errs, name, spec);
    mandatory_level(&mut errs, name, spec);
    status_conditions(&mut errs, pl);
    errs
}

/// `ValidatePriorityLevelConfigurationUpdate`.
pub fn validate_priority_level_update(new: &Value, _old: &Value) -> ErrorList {
    validate_priority_level(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::testutil::{assert_errs, assert_has};
    use serde_json::json;

    fn defaulted(mut obj: Value, kind: &str) -> Value {
        if let Some(f) = crate::defaults::defaulter("flowcontrol.apiserver.k8s.io", "v1", kind) {
            f(&mut obj);
        }
        obj
    }

    fn fs(name: &str, spec: Value) -> Value {
        defaulted(
            json!({"metadata": {"name": name}, "spec": spec}),
            "FlowSchema",
        )
    }

    #[test]
    fn bootstrap_objects_are_valid() {
        for o in crate::bootstrap::flow_schemas() {
            let o = defaulted(o, "FlowSchema");
            assert!(validate_flow_schema(&o).is_empty(), "{o}");
        }
        for o in crate::bootstrap::priority_levels() {
            let o = defaulted(o, "PriorityLevelConfiguration");
            assert!(validate_priority_level(&o).is_empty(), "{o}");
        }
    }

    #[test]
    fn flow_schema_rules() {
        let bad = fs(
            "system-foo",
            json!({"matchingPrecedence": 1, "priorityLevelConfiguration": {},
                "distinguisherMethod": {"type": "ByColor"},
                "rules": [{"subjects": [{"kind": "ServiceAccount", "user": {"name": "fred"}, "group": {"name": "g"}},
                                        {"kind": "Robot"}],
                           "resourceRules": [{"verbs": ["*", "create"], "apiGroups": ["*", "tak"],
                                              "resources": [], "namespaces": ["Bad_NS"]}],
                           "nonResourceRules": [{"verbs": ["fly"], "nonResourceURLs": ["/a/*/b", "x", "/a//b"]}]},
                          {"subjects": []}]}),
        );
        assert_errs(
            &validate_flow_schema(&bad),
            &[
                "spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1",
                "spec.distinguisherMethod.type: Unsupported value: flowcontrol.FlowDistinguisherMethod{Type:\"ByColor\"}: supported values: \"ByNamespace\", \"ByUser\"",
                "spec.priorityLevelConfiguration.name: Required value: must reference a priority level",
                "spec.rules[0].subjects[0].serviceAccount: Required value: serviceAccount is required when subject kind is 'ServiceAccount'",
                "spec.rules[0].subjects[0].user: Forbidden: user is forbidden when subject kind is not 'User'",
                "spec.rules[0].subjects[0].group: Forbidden: group is forbidden when subject kind is not 'Group'",
                "spec.rules[0].subjects[1].kind: Unsupported value: \"Robot\": supported values: \"Group\", \"ServiceAccount\", \"User\"",
                "spec.rules[0].resourceRules[0].verbs: Invalid value: []string{\"*\", \"create\"}: if '*' is present, must not specify other verbs",
                "spec.rules[0].resourceRules[0].apiGroups: Invalid value: []string{\"*\", \"tak\"}: if '*' is present, must not specify other api groups",
                "spec.rules[0].resourceRules[0].resources: Required value: resource rules must supply at least one resource",
                "spec.rules[0].resourceRules[0].namespaces[0]: Invalid value: \"Bad_NS\": each member of this list must be '*' or a DNS-1123 label; a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                "spec.rules[0].nonResourceRules[0].verbs: Unsupported value: []string{\"fly\"}: supported values: \"create\", \"delete\", \"deletecollection\", \"get\", \"list\", \"patch\", \"proxy\", \"update\", \"watch\"",
                "spec.rules[0].nonResourceRules[0].nonResourceURLs[0]: Invalid value: \"/a/*/b\": wildcard can only do suffix matching",
                "spec.rules[0].nonResourceRules[0].nonResourceURLs[1]: Invalid value: \"x\": must start with slash",
                "spec.rules[0].nonResourceRules[0].nonResourceURLs[2]: Invalid value: \"/a//b\": must not contain double slash",
                "spec.rules[1].subjects: Required value: subjects must contain at least one value",
                "spec.rules[1]: Required value: at least one of resourceRules and nonResourceRules has to be non-empty",
            ],
        );
        assert_has(
            &validate_flow_schema(&fs(
                "x",
                json!({"matchingPrecedence": 10001,
                "priorityLevelConfiguration": {"name": "global-default"}}),
            )),
            "spec.matchingPrecedence: Invalid value: 10001: must not be greater than 10000",
        );
    }

    #[test]
    fn mandatory_flow_schemas_keep_their_spec() {
        let mut exempt = crate::bootstrap::flow_schemas()
            .into_iter()
            .find(|o| o["metadata"]["name"] == "exempt")
            .expect("exempt");
        exempt["spec"]["rules"][0]["nonResourceRules"][0]["nonResourceURLs"] = json!(["/"]);
        let exempt = defaulted(exempt, "FlowSchema");
        let errs = validate_flow_schema(&exempt);
        assert_eq!(errs.0.len(), 1);
        assert!(
            errs.0[0]
                .to_string()
                .ends_with(": spec of 'exempt' must equal the fixed value"),
            "{}",
            errs.0[0]
        );
        assert_eq!(errs.0[0].field, "spec");
        let mut status = exempt.clone();
        status["status"] = json!({"conditions": [{"type": ""}, {"type": ""}]});
        assert_errs(
            &validate_status_update(&status, &exempt),
            &[
                "status.conditions[0].type: Required value: must not be empty",
                "status.conditions[1].type: Duplicate value: \"\"",
                "status.conditions[1].type: Required value: must not be empty",
            ],
        );
    }

    #[test]
    fn priority_level_rules() {
        let pl = |name: &str, spec: Value| {
            defaulted(
                json!({"metadata": {"name": name}, "spec": spec}),
                "PriorityLevelConfiguration",
            )
        };
        let bad = pl(
            "workers",
            json!({"type": "Limited", "exempt": {}, "limited": {"nominalConcurrencyShares": -1,
                "lendablePercent": 101, "borrowingLimitPercent": -2,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 129, "queueLengthLimit": -1}}}}),
        );
        assert_errs(
            &validate_priority_level(&bad),
            &[
                "spec.exempt: Forbidden: must be nil if the type is Limited",
                "spec.limited.nominalConcurrencyShares: Invalid value: -1: must be a non-negative integer",
                "spec.limited.limitResponse.queuing.queueLengthLimit: Invalid value: -1: must be positive",
                "spec.limited.limitResponse.queuing.handSize: Invalid value: 129: should not be greater than queues (128)",
                "spec.limited.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive",
                "spec.limited.borrowingLimitPercent: Invalid value: -2: if specified, must be a non-negative integer",
            ],
        );
        assert_has(
            &validate_priority_level(&pl(
                "w",
                json!({"type": "Limited", "limited": {"limitResponse":
                {"type": "Queue", "queuing": {"queues": 10000000, "handSize": 10, "queueLengthLimit": 5}}}}),
            )),
            "spec.limited.limitResponse.queuing.handSize: Invalid value: 10: required entropy bits of deckSize 10000000 and handSize 10 should not be greater than 60",
        );
        assert_errs(
            &validate_priority_level(&pl(
                "exempt",
                json!({"type": "Limited",
                "limited": {"limitResponse": {"type": "Reject"}}}),
            )),
            &[
                "spec.type: Invalid value: \"Limited\": type must be 'Exempt' if and only if name is 'exempt'",
                &format!(
                    "spec: Invalid value: {}: spec of 'exempt' except the 'spec.exempt' field must equal the fixed value",
                    json!({"type": "Limited", "limited": {"limitResponse": {"type": "Reject"},
                        "nominalConcurrencyShares": 30, "lendablePercent": 0}})
                ),
            ],
        );
        // The exempt level may change its exempt section.
        let ok = pl(
            "exempt",
            json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 10, "lendablePercent": 50}}),
        );
        assert!(validate_priority_level(&ok).is_empty());
        assert_has(
            &validate_priority_level(&pl("x", json!({"type": "Bursty"}))),
            "spec.type: Unsupported value: \"Bursty\": supported values: \"Exempt\", \"Limited\"",
        );
    }
}
