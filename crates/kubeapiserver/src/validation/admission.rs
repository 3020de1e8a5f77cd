//! admissionregistration.k8s.io/v1 webhook configurations,
//! ValidatingAdmissionPolicies and their bindings (upstream's
//! `pkg/apis/admissionregistration/validation` and the webhook URL and
//! Service checks of `apiserver/pkg/util/webhook`). CEL expressions are
//! parsed, not type-checked (`kaiser_apimachinery::cel`).

use std::collections::HashSet;

use kaiser_apimachinery::cel;
use kaiser_apimachinery::field::{ErrorList, FieldError};
use serde_json::Value;

use super::{
    arr, at, child, dns1035_label, fully_qualified_name, gofmt, idx, int_of, invalid_raw, meta,
    opt_str, path_segment, port_num_errors, present, qualified_name, selector, sem_eq, str_of,
    strings, too_many,
};

/// What an update may tolerate because the stored object already has it.
#[derive(Clone, Copy)]
struct Opts {
    ignore_match_conditions: bool,
    require_no_side_effects: bool,
    require_recognized_review_version: bool,
    require_unique_names: bool,
    allow_invalid_label_values: bool,
}

const CREATE: Opts = Opts {
    ignore_match_conditions: false,
    require_no_side_effects: true,
    require_recognized_review_version: true,
    require_unique_names: true,
    allow_invalid_label_values: false,
};

const ACCEPTED_REVIEW_VERSIONS: [&str; 2] = ["v1", "v1beta1"];
const FAILURE_POLICIES: [&str; 2] = ["Fail", "Ignore"];
const MATCH_POLICIES: [&str; 2] = ["Equivalent", "Exact"];
const OPERATIONS: [&str; 5] = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
const SCOPES: [&str; 3] = ["*", "Cluster", "Namespaced"];

fn has_wildcard(list: &[&str]) -> bool {
    list.contains(&"*")
}

/// The strings of a list value.
fn str_list(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap_or(""))
        .collect()
}

fn slice(ty: &str, v: &Value) -> String {
    gofmt::string_slice(ty, v)
}

// ---- rules ----

/// `validateResources`: subresources allowed, wildcards not mixed.
fn resources(errs: &mut ErrorList, list: &Value, path: &str) {
    let items = str_list(list);
    if items.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    let mut res_with_wild_sub = HashSet::new();
    let mut sub_with_wild_res = HashSet::new();
    let mut double_wild = false;
    let mut single_wild = false;
    let mut plain = false;
    for (i, rs) in items.iter().enumerate() {
        let p = idx(path, i);
        if rs.is_empty() {
            errs.push(FieldError::required(&p, ""));
            continue;
        }
        double_wild |= *rs == "*/*";
        single_wild |= *rs == "*";
        let Some((res, sub)) = rs.split_once('/') else {
            plain = *rs != "*";
            continue;
        };
        if res_with_wild_sub.contains(res) {
            errs.push(FieldError::invalid(
                &p,
                *rs,
                format!("if '{res}/*' is present, must not specify {rs}"),
            ));
        }
        if sub_with_wild_res.contains(sub) {
            errs.push(FieldError::invalid(
                &p,
                *rs,
                format!("if '*/{sub}' is present, must not specify {rs}"),
            ));
        }
        if sub == "*" {
            res_with_wild_sub.insert(res);
        }
        if res == "*" {
            sub_with_wild_res.insert(sub);
        }
    }
    if items.len() > 1 && double_wild {
        errs.push(invalid_raw(
            path,
            slice("string", list),
            "if '*/*' is present, must not specify other resources",
        ));
    }
    if single_wild && plain {
        errs.push(invalid_raw(
            path,
            slice("string", list),
            "if '*' is present, must not specify other resources without subresources",
        ));
    }
}

/// The list `r[field]`: required, and a `*` in it must stand alone (`what`
/// names the items in the message; `go_type` their type in the value).
fn required_wildcard_list<'a>(
    errs: &mut ErrorList,
    r: &'a Value,
    field: &str,
    go_type: &str,
    what: &str,
    path: &str,
) -> Vec<&'a str> {
    let items = strings(r, field);
    let p = child(path, field);
    if items.is_empty() {
        errs.push(FieldError::required(&p, ""));
    }
    if items.len() > 1 && has_wildcard(&items) {
        errs.push(invalid_raw(
            &p,
            slice(go_type, at(r, field)),
            &format!("if '*' is present, must not specify other {what}"),
        ));
    }
    items
}

/// `validateRule` (with subresources).
fn rule(errs: &mut ErrorList, r: &Value, path: &str) {
    required_wildcard_list(errs, r, "apiGroups", "string", "API groups", path);
    let vp = child(path, "apiVersions");
    let versions = required_wildcard_list(errs, r, "apiVersions", "string", "API versions", path);
    for (i, v) in versions.iter().enumerate() {
        if v.is_empty() {
            errs.push(FieldError::required(&idx(&vp, i), ""));
        }
    }
    resources(errs, at(r, "resources"), &child(path, "resources"));
    if let Some(s) = opt_str(r, "scope")
        && !SCOPES.contains(&s)
    {
        errs.push(FieldError::not_supported(&child(path, "scope"), s, &SCOPES));
    }
}

/// `validateRuleWithOperations`.
fn rule_with_operations(errs: &mut ErrorList, r: &Value, path: &str) {
    let op_path = child(path, "operations");
    let ops = required_wildcard_list(
        errs,
        r,
        "operations",
        "admissionregistration.OperationType",
        "operations",
        path,
    );
    for (i, op) in ops.iter().enumerate() {
        if !OPERATIONS.contains(op) {
            errs.push(FieldError::not_supported(
                &idx(&op_path, i),
                *op,
                &OPERATIONS,
            ));
        }
    }
    rule(errs, r, path);
}

/// `validateNamedRuleWithOperations`.
fn named_rule(errs: &mut ErrorList, r: &Value, path: &str) {
    let np = child(path, "resourceNames");
    let mut seen = HashSet::new();
    for (i, n) in strings(r, "resourceNames").into_iter().enumerate() {
        let p = idx(&np, i);
        path_segment(errs, n, &p);
        if !seen.insert(n) {
            errs.push(FieldError::duplicate(&p, n));
        }
    }
    rule_with_operations(errs, r, path);
}

// ---- match conditions ----

/// A CEL expression that must be set (`missing` says so) and must parse.
fn required_expression(errs: &mut ErrorList, expr: &str, path: &str, missing: &str) {
    if expr.trim().is_empty() {
        errs.push(FieldError::required(path, missing));
    } else if let Some(e) = cel::compile_error(expr) {
        errs.push(FieldError::invalid(path, expr, e));
    }
}

fn match_conditions(errs: &mut ErrorList, list: &Value, path: &str) {
    let items = list.as_array().map(Vec::as_slice).unwrap_or(&[]);
    if items.len() > 64 {
        errs.push(too_many(path, items.len(), 64));
    }
    let mut names = HashSet::new();
    for (i, mc) in items.iter().enumerate() {
        let p = idx(path, i);
        let expr = str_of(mc, "expression").trim();
        required_expression(errs, expr, &child(&p, "expression"), "");
        let name = str_of(mc, "name");
        let np = child(&p, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&np, ""));
        } else {
            qualified_name(errs, name, &np);
            if !names.insert(name) {
                errs.push(FieldError::duplicate(&np, name));
            }
        }
    }
}

// ---- webhooks ----

/// `validateAdmissionReviewVersions`.
fn review_versions(errs: &mut ErrorList, list: &Value, require_known: bool, path: &str) {
    let versions = str_list(list);
    let known = ACCEPTED_REVIEW_VERSIONS.join(", ");
    if versions.is_empty() {
        errs.push(FieldError::required(
            path,
            format!("must specify one of {known}"),
        ));
        return;
    }
    let mut seen = HashSet::new();
    let mut has_known = false;
    for (i, v) in versions.iter().enumerate() {
        let p = idx(path, i);
        if !seen.insert(*v) {
            errs.push(FieldError::invalid(&p, *v, "duplicate version"));
            continue;
        }
        for m in dns1035_label(v) {
            errs.push(FieldError::invalid(&p, *v, m));
        }
        has_known |= ACCEPTED_REVIEW_VERSIONS.contains(v);
    }
    if require_known && !has_known {
        errs.push(invalid_raw(
            path,
            slice("string", list),
            &format!("must include at least one of {known}"),
        ));
    }
}

/// The parts of a URL that `ValidateWebhookURL` looks at, as Go's
/// `url.Parse` splits them.
#[derive(Debug, Default, PartialEq)]
struct GoUrl<'a> {
    scheme: String,
    user: Option<&'a str>,
    host: &'a str,
    query: &'a str,
    fragment: &'a str,
}

fn valid_port(colon_port: &str) -> bool {
    colon_port.is_empty()
        || colon_port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|c| c.is_ascii_digit()))
}

fn host_char_ok(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || "-_.~!$&'()*+,;=:[]<>\"%".contains(c)
}

/// Go's `url.Parse`, as far as the webhook checks need it; the error is
/// its message.
fn parse_url(raw: &str) -> Result<GoUrl<'_>, String> {
    let fail = |m: String| Err(format!("parse {}: {m}", gofmt::quote(raw)));
    if raw.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return fail("net/url: invalid control character in URL".into());
    }
    let (rest, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    let mut url = GoUrl {
        fragment,
        ..GoUrl::default()
    };
    let mut rest = rest;
    for (i, c) in rest.char_indices() {
        match c {
            c if c.is_ascii_alphabetic() => {}
            c if i > 0 && (c.is_ascii_digit() || "+-.".contains(c)) => {}
            ':' if i == 0 => return fail("missing protocol scheme".into()),
            ':' => {
                url.scheme = rest[..i].to_ascii_lowercase();
                rest = &rest[i + 1..];
                break;
            }
            _ => break,
        }
    }
    if let Some((r, q)) = rest.split_once('?') {
        rest = r;
        url.query = q;
    }
    if !rest.starts_with('/') {
        if url.scheme.is_empty() && rest.split('/').next().unwrap_or("").contains(':') {
            return fail("first path segment in URL cannot contain colon".into());
        }
        return Ok(url);
    }
    if let Some(after) = rest.strip_prefix("//")
        && (!url.scheme.is_empty() || !rest.starts_with("///"))
    {
        let authority = after.split('/').next().unwrap_or("");
        let host = match authority.rfind('@') {
            Some(at) => {
                url.user = Some(&authority[..at]);
                &authority[at + 1..]
            }
            None => authority,
        };
        let port = if host.starts_with('[') {
            match host.find(']') {
                Some(end) => &host[end + 1..],
                None => return fail("missing ']' in host".into()),
            }
        } else {
            host.rfind(':').map_or("", |i| &host[i..])
        };
        if !valid_port(port) {
            return fail(format!("invalid port {} after host", gofmt::quote(port)));
        }
        if let Some(bad) = host.chars().find(|c| !host_char_ok(*c)) {
            return fail(format!(
                "invalid character {} in host name",
                gofmt::quote(&bad.to_string())
            ));
        }
        url.host = host;
    }
    Ok(url)
}

/// `ValidateWebhookURL` (https only).
fn webhook_url(errs: &mut ErrorList, raw: &str, path: &str) {
    const FORM: &str = "; desired format: https://host[/path]";
    let u = match parse_url(raw) {
        Ok(u) => u,
        Err(e) => {
            errs.push(FieldError::required(
                path,
                format!("url must be a valid URL: {e}{FORM}"),
            ));
            return;
        }
    };
    if u.scheme != "https" {
        errs.push(FieldError::invalid(
            path,
            u.scheme.as_str(),
            format!("'https' is the only allowed URL scheme{FORM}"),
        ));
    }
    if u.host.is_empty() {
        errs.push(FieldError::invalid(
            path,
            u.host,
            format!("host must be provided{FORM}"),
        ));
    }
    if let Some(user) = u.user {
        errs.push(FieldError::invalid(
            path,
            user,
            "user information is not permitted in the URL",
        ));
    }
    if !u.fragment.is_empty() {
        errs.push(FieldError::invalid(
            path,
            u.fragment,
            "fragments are not permitted in the URL",
        ));
    }
    if !u.query.is_empty() {
        errs.push(FieldError::invalid(
            path,
            u.query,
            "query parameters are not permitted in the URL",
        ));
    }
}

/// `ValidateWebhookService`. Upstream passes the Service's name where the
/// namespace is expected and the other way round, so a missing namespace
/// reads "service name is required" under `name`; kept as upstream.
fn webhook_service(errs: &mut ErrorList, svc: &Value, path: &str) {
    let (namespace, name) = (str_of(svc, "name"), str_of(svc, "namespace"));
    if name.is_empty() {
        errs.push(FieldError::required(
            &child(path, "name"),
            "service name is required",
        ));
    }
    if namespace.is_empty() {
        errs.push(FieldError::required(
            &child(path, "namespace"),
            "service namespace is required",
        ));
    }
    let port = int_of(svc, "port").unwrap_or(0);
    let msgs = port_num_errors(port);
    if !msgs.is_empty() {
        errs.push(FieldError::invalid(
            &child(path, "port"),
            port,
            format!("port is not valid: {}", msgs.join(", ")),
        ));
    }
    let Some(p) = opt_str(svc, "path") else {
        return;
    };
    let pp = child(path, "path");
    if p.is_empty() || p == "/" {
        return;
    }
    if p == "//" {
        errs.push(FieldError::invalid(&pp, p, "segment[0] may not be empty"));
        return;
    }
    if !p.starts_with('/') {
        errs.push(FieldError::invalid(&pp, p, "must start with a '/'"));
    }
    let body = p.get(1..).unwrap_or("");
    let body = body.strip_suffix('/').unwrap_or(body);
    for (i, step) in body.split('/').enumerate() {
        if step.is_empty() {
            errs.push(FieldError::invalid(
                &pp,
                p,
                format!("segment[{i}] may not be empty"),
            ));
            continue;
        }
        for m in kaiser_apimachinery::validation::is_dns1123_subdomain(step) {
            errs.push(FieldError::invalid(&pp, p, format!("segment[{i}]: {m}")));
        }
    }
}

/// `validateValidatingWebhook` / `validateMutatingWebhook`.
fn webhook(errs: &mut ErrorList, hook: &Value, mutating: bool, opts: Opts, path: &str) {
    fully_qualified_name(errs, str_of(hook, "name"), &child(path, "name"));
    let rp = child(path, "rules");
    for (i, r) in arr(hook, "rules").iter().enumerate() {
        rule_with_operations(errs, r, &idx(&rp, i));
    }
    for (f, valid) in [
        ("failurePolicy", &FAILURE_POLICIES),
        ("matchPolicy", &MATCH_POLICIES),
    ] {
        if let Some(v) = opt_str(hook, f)
            && !valid.contains(&v)
        {
            errs.push(FieldError::not_supported(&child(path, f), v, valid));
        }
    }
    let allowed: &[&str] = if opts.require_no_side_effects {
        &["None", "NoneOnDryRun"]
    } else {
        &["None", "NoneOnDryRun", "Some", "Unknown"]
    };
    let sp = child(path, "sideEffects");
    match opt_str(hook, "sideEffects") {
        None => errs.push(FieldError::required(
            &sp,
            format!("must specify one of {}", allowed.join(", ")),
        )),
        Some(s) if !allowed.contains(&s) => {
            errs.push(FieldError::not_supported(&sp, s, allowed));
        }
        Some(_) => {}
    }
    if let Some(t) = int_of(hook, "timeoutSeconds")
        && !(1..=30).contains(&t)
    {
        errs.push(FieldError::invalid(
            &child(path, "timeoutSeconds"),
            t,
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
    for sel in ["namespaceSelector", "objectSelector"] {
        errs.extend(selector::validate(
            at(hook, sel),
            opts.allow_invalid_label_values,
            &child(path, sel),
        ));
    }
    if mutating
        && let Some(p) = opt_str(hook, "reinvocationPolicy")
        && !["IfNeeded", "Never"].contains(&p)
    {
        errs.push(FieldError::not_supported(
            &child(path, "reinvocationPolicy"),
            p,
            &["IfNeeded", "Never"],
        ));
    }
    let cc = at(hook, "clientConfig");
    let cp = child(path, "clientConfig");
    match (opt_str(cc, "url"), present(at(cc, "service"))) {
        (Some(url), false) => webhook_url(errs, url, &child(&cp, "url")),
        (None, true) => webhook_service(errs, at(cc, "service"), &child(&cp, "service")),
        _ => errs.push(FieldError::required(
            &cp,
            "exactly one of url or service is required",
        )),
    }
    if !opts.ignore_match_conditions {
        match_conditions(
            errs,
            at(hook, "matchConditions"),
            &child(path, "matchConditions"),
        );
    }
}

fn webhook_configuration(obj: &Value, mutating: bool, opts: Opts) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut names = HashSet::new();
    for (i, hook) in arr(obj, "webhooks").iter().enumerate() {
        let p = idx("webhooks", i);
        webhook(&mut errs, hook, mutating, opts, &p);
        review_versions(
            &mut errs,
            at(hook, "admissionReviewVersions"),
            opts.require_recognized_review_version,
            &child(&p, "admissionReviewVersions"),
        );
        let name = str_of(hook, "name");
        if opts.require_unique_names && !name.is_empty() && !names.insert(name) {
            errs.push(FieldError::duplicate(&child(&p, "name"), name));
        }
    }
    errs
}

/// The options of an update: what the stored webhooks already break is
/// tolerated.
fn webhook_update_opts(new: &Value, old: &Value) -> Opts {
    let (nw, ow) = (arr(new, "webhooks"), arr(old, "webhooks"));
    let same_conditions = nw.len() == ow.len()
        && nw
            .iter()
            .zip(ow)
            .all(|(n, o)| sem_eq(at(n, "matchConditions"), at(o, "matchConditions")));
    let no_side_effects = ow
        .iter()
        .all(|h| opt_str(h, "sideEffects").is_some_and(|s| s == "None" || s == "NoneOnDryRun"));
    let recognized = ow.iter().all(|h| {
        let v = strings(h, "admissionReviewVersions");
        v.is_empty() || v.iter().any(|v| ACCEPTED_REVIEW_VERSIONS.contains(v))
    });
    let mut names = HashSet::new();
    let unique = ow.iter().all(|h| names.insert(str_of(h, "name")));
    let invalid_selector = ow.iter().any(|h| {
        ["namespaceSelector", "objectSelector"]
            .iter()
            .any(|s| !selector::validate(at(h, s), false, "").is_empty())
    });
    Opts {
        ignore_match_conditions: same_conditions,
        require_no_side_effects: no_side_effects,
        require_recognized_review_version: recognized,
        require_unique_names: unique,
        allow_invalid_label_values: invalid_selector,
    }
}

/// `ValidateValidatingWebhookConfiguration`.
pub fn validate_validating_webhook_configuration(obj: &Value) -> ErrorList {
    webhook_configuration(obj, false, CREATE)
}

/// `ValidateValidatingWebhookConfigurationUpdate`.
pub fn validate_validating_webhook_configuration_update(new: &Value, old: &Value) -> ErrorList {
    webhook_configuration(new, false, webhook_update_opts(new, old))
}

/// `ValidateMutatingWebhookConfiguration`.
pub fn validate_mutating_webhook_configuration(obj: &Value) -> ErrorList {
    webhook_configuration(obj, true, CREATE)
}

/// `ValidateMutatingWebhookConfigurationUpdate`.
pub fn validate_mutating_webhook_configuration_update(new: &Value, old: &Value) -> ErrorList {
    webhook_configuration(new, true, webhook_update_opts(new, old))
}

// ---- ValidatingAdmissionPolicy ----

/// `validateParamKind`.
fn param_kind(errs: &mut ErrorList, pk: &Value, path: &str) {
    let ap = child(path, "apiVersion");
    let api_version = str_of(pk, "apiVersion");
    if api_version.is_empty() {
        errs.push(FieldError::required(&ap, ""));
    } else {
        let (group, version) = match api_version.matches('/').count() {
            _ if api_version == "/" => ("", ""),
            0 => ("", api_version),
            1 => api_version.split_once('/').unwrap_or(("", "")),
            _ => {
                errs.push(FieldError::invalid(
                    &ap,
                    api_version,
                    format!("unexpected GroupVersion string: {api_version}"),
                ));
                ("", "-")
            }
        };
        if version != "-" {
            if !group.is_empty() {
                let m = kaiser_apimachinery::validation::is_dns1123_subdomain(group);
                if !m.is_empty() {
                    errs.push(FieldError::invalid(&ap, group, m.join(",")));
                }
            }
            if version.is_empty() {
                errs.push(FieldError::invalid(
                    &ap,
                    api_version,
                    "version must be specified",
                ));
            } else {
                let m = dns1035_label(version);
                if !m.is_empty() {
                    errs.push(FieldError::invalid(&ap, version, m.join(",")));
                }
            }
        }
    }
    let kp = child(path, "kind");
    let kind = str_of(pk, "kind");
    if kind.is_empty() {
        errs.push(FieldError::required(&kp, ""));
    } else {
        let m = dns1035_label(&kind.to_lowercase());
        if !m.is_empty() {
            errs.push(FieldError::invalid(
                &kp,
                kind,
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    m.join(",")
                ),
            ));
        }
    }
}

/// `validateMatchResources`.
fn match_resources(errs: &mut ErrorList, mc: &Value, path: &str) {
    if !present(mc) {
        return;
    }
    let mp = child(path, "matchPolicy");
    match opt_str(mc, "matchPolicy") {
        None => errs.push(FieldError::required(&mp, "")),
        Some(p) if !MATCH_POLICIES.contains(&p) => {
            errs.push(FieldError::not_supported(&mp, p, &MATCH_POLICIES));
        }
        Some(_) => {}
    }
    for sel in ["namespaceSelector", "objectSelector"] {
        let sp = child(path, sel);
        if present(at(mc, sel)) {
            errs.extend(selector::validate(at(mc, sel), false, &sp));
        } else {
            errs.push(FieldError::required(&sp, ""));
        }
    }
    for list in ["resourceRules", "excludeResourceRules"] {
        let lp = child(path, list);
        for (i, r) in arr(mc, list).iter().enumerate() {
            named_rule(errs, r, &idx(&lp, i));
        }
    }
}

fn has_newlines(s: &str) -> bool {
    s.contains(['\n', '\r'])
}

/// `validateValidation`.
fn validation(errs: &mut ErrorList, v: &Value, path: &str) {
    required_expression(
        errs,
        str_of(v, "expression"),
        &child(path, "expression"),
        "expression is not specified",
    );
    let me = str_of(v, "messageExpression");
    let mep = child(path, "messageExpression");
    if !me.is_empty() && me.trim().is_empty() {
        errs.push(FieldError::invalid(
            &mep,
            me,
            "must be non-empty if specified",
        ));
    } else if !me.trim().is_empty()
        && let Some(e) = cel::compile_error(me)
    {
        errs.push(FieldError::invalid(&mep, me, e));
    }
    let msg = str_of(v, "message");
    let mp = child(path, "message");
    if !msg.is_empty() && msg.trim().is_empty() {
        errs.push(FieldError::invalid(
            &mp,
            msg,
            "message must be non-empty if specified",
        ));
    } else if has_newlines(msg.trim()) {
        errs.push(FieldError::invalid(
            &mp,
            msg,
            "message must not contain line breaks",
        ));
    }
    let reasons = ["Forbidden", "Invalid", "RequestEntityTooLarge"];
    if let Some(r) = opt_str(v, "reason")
        && !reasons.contains(&r)
    {
        errs.push(FieldError::not_supported(
            &child(path, "reason"),
            r,
            &reasons,
        ));
    }
}

/// `validateVariable`.
fn variable(errs: &mut ErrorList, v: &Value, path: &str) {
    let name = str_of(v, "name");
    let np = child(path, "name");
    if name.trim().is_empty() {
        errs.push(FieldError::required(&np, "name is not specified"));
    } else if !cel::is_identifier(name) {
        errs.push(FieldError::invalid(
            &np,
            name,
            "name is not a valid CEL identifier",
        ));
    }
    required_expression(
        errs,
        str_of(v, "expression"),
        &child(path, "expression"),
        "expression is not specified",
    );
}

/// `validateAuditAnnotation`.
fn audit_annotation(errs: &mut ErrorList, policy_name: &str, a: &Value, path: &str) {
    let key = str_of(a, "key");
    let kp = child(path, "key");
    if policy_name.is_empty() {
        errs.push(FieldError::invalid(
            &kp,
            key,
            "requires metadata.name be non-empty",
        ));
    } else {
        qualified_name(errs, &format!("{policy_name}/{key}"), &kp);
    }
    let ve = str_of(a, "valueExpression");
    let vp = child(path, "valueExpression");
    let trimmed = ve.trim();
    if trimmed.is_empty() {
        errs.push(FieldError::required(
            &vp,
            "valueExpression is not specified",
        ));
    } else if trimmed.len() > 5 * 1024 {
        errs.push(FieldError::required(
            &vp,
            "must not exceed 5120 bytes in length",
        ));
    } else if let Some(e) = cel::compile_error(trimmed) {
        errs.push(FieldError::invalid(&vp, ve, e));
    }
}

fn policy(p: &Value, ignore_match_conditions: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(p, "spec");
    let fp = "spec.failurePolicy";
    match opt_str(spec, "failurePolicy") {
        None => errs.push(FieldError::required(fp, "")),
        Some(f) if !FAILURE_POLICIES.contains(&f) => {
            errs.push(FieldError::not_supported(fp, f, &FAILURE_POLICIES));
        }
        Some(_) => {}
    }
    if present(at(spec, "paramKind")) {
        param_kind(&mut errs, at(spec, "paramKind"), "spec.paramKind");
    }
    let mc = at(spec, "matchConstraints");
    if present(mc) {
        match_resources(&mut errs, mc, "spec.matchConstraints");
        if arr(mc, "resourceRules").is_empty() {
            errs.push(FieldError::required(
                "spec.matchConstraints.resourceRules",
                "",
            ));
        }
    } else {
        errs.push(FieldError::required("spec.matchConstraints", ""));
    }
    if !ignore_match_conditions {
        match_conditions(
            &mut errs,
            at(spec, "matchConditions"),
            "spec.matchConditions",
        );
    }
    for (i, v) in arr(spec, "variables").iter().enumerate() {
        variable(&mut errs, v, &idx("spec.variables", i));
    }
    let validations = arr(spec, "validations");
    let audits = arr(spec, "auditAnnotations");
    if validations.is_empty() && audits.is_empty() {
        let msg = "validations or auditAnnotations must contain at least one item";
        errs.push(FieldError::required("spec.validations", msg));
        errs.push(FieldError::required("spec.auditAnnotations", msg));
        return errs;
    }
    for (i, v) in validations.iter().enumerate() {
        validation(&mut errs, v, &idx("spec.validations", i));
    }
    if audits.len() > 20 {
        errs.push(invalid_raw(
            "spec.auditAnnotations",
            gofmt::json(at(spec, "auditAnnotations")),
            "must not have more than 20 auditAnnotations",
        ));
    }
    let name = str_of(at(p, "metadata"), "name");
    let mut keys = HashSet::new();
    for (i, a) in audits.iter().enumerate() {
        let ap = idx("spec.auditAnnotations", i);
        audit_annotation(&mut errs, name, a, &ap);
        let key = str_of(a, "key");
        if !keys.insert(key) {
            errs.push(FieldError::duplicate(&child(&ap, "key"), key));
        }
    }
    errs
}

/// `ValidateValidatingAdmissionPolicy`.
pub fn validate_validating_admission_policy(p: &Value) -> ErrorList {
    policy(p, false)
}

/// `ValidateValidatingAdmissionPolicyUpdate`: match conditions are not
/// rechecked while they and the param kind stay as stored.
pub fn validate_validating_admission_policy_update(new: &Value, old: &Value) -> ErrorList {
    let (n, o) = (at(new, "spec"), at(old, "spec"));
    let unchanged = sem_eq(at(n, "paramKind"), at(o, "paramKind"))
        && sem_eq(at(n, "matchConditions"), at(o, "matchConditions"));
    policy(new, unchanged)
}

/// `ValidateValidatingAdmissionPolicyStatusUpdate`.
pub fn validate_validating_admission_policy_status(new: &Value, _old: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let status = at(new, "status");
    let wp = "status.typeChecking.expressionWarnings";
    for (i, w) in arr(at(status, "typeChecking"), "expressionWarnings")
        .iter()
        .enumerate()
    {
        let p = idx(wp, i);
        if str_of(w, "warning").is_empty() {
            errs.push(FieldError::required(&child(&p, "warning"), ""));
        }
        if str_of(w, "fieldRef").trim().is_empty() {
            errs.push(FieldError::required(&child(&p, "fieldRef"), ""));
        }
    }
    meta::conditions(&mut errs, at(status, "conditions"), "status.conditions");
    errs
}

// ---- ValidatingAdmissionPolicyBinding ----

/// `validateParamRef`.
fn param_ref(errs: &mut ErrorList, pr: &Value, path: &str) {
    if !present(pr) {
        return;
    }
    let name = str_of(pr, "name");
    let sel = at(pr, "selector");
    let exclusive = "name and selector are mutually exclusive";
    if !name.is_empty() {
        path_segment(errs, name, &child(path, "name"));
        if present(sel) {
            errs.push(FieldError::forbidden(&child(path, "name"), exclusive));
        }
    }
    if present(sel) {
        errs.extend(selector::validate(sel, false, &child(path, "selector")));
        if !name.is_empty() {
            errs.push(FieldError::forbidden(&child(path, "selector"), exclusive));
        }
    }
    if name.is_empty() && !present(sel) {
        errs.push(FieldError::required(
            path,
            "one of name or selector must be specified",
        ));
    }
    let ap = child(path, "parameterNotFoundAction");
    match opt_str(pr, "parameterNotFoundAction") {
        None | Some("") => errs.push(FieldError::required(&ap, "")),
        Some(a) if a != "Deny" && a != "Allow" => {
            errs.push(FieldError::not_supported(&ap, a, &["Deny", "Allow"]));
        }
        Some(_) => {}
    }
}

/// `validateValidationActions`.
fn validation_actions(errs: &mut ErrorList, list: &Value, path: &str) {
    let valid = ["Audit", "Deny", "Warn"];
    let mut seen = HashSet::new();
    for (i, a) in str_list(list).iter().enumerate() {
        let p = idx(path, i);
        if !valid.contains(a) {
            errs.push(FieldError::not_supported(&p, *a, &valid));
        }
        if !seen.insert(*a) {
            errs.push(FieldError::duplicate(&p, *a));
        }
    }
    if seen.contains("Deny") && seen.contains("Warn") {
        errs.push(invalid_raw(
            path,
            slice("admissionregistration.ValidationAction", list),
            "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
        ));
    }
    if seen.is_empty() {
        errs.push(FieldError::required(
            path,
            "at least one validation action is required",
        ));
    }
}

/// `ValidateValidatingAdmissionPolicyBinding` (upstream reports the match
/// resources under the misspelt `spec.matchResouces`).
pub fn validate_validating_admission_policy_binding(b: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(b, "spec");
    let name = str_of(spec, "policyName");
    if name.is_empty() {
        errs.push(FieldError::required("spec.policyName", ""));
    } else {
        super::dns_subdomain(&mut errs, name, "spec.policyName");
    }
    param_ref(&mut errs, at(spec, "paramRef"), "spec.paramRef");
    match_resources(&mut errs, at(spec, "matchResources"), "spec.matchResouces");
    validation_actions(
        &mut errs,
        at(spec, "validationActions"),
        "spec.validationActions",
    );
    errs
}

/// `ValidateValidatingAdmissionPolicyBindingUpdate`.
pub fn validate_validating_admission_policy_binding_update(new: &Value, _old: &Value) -> ErrorList {
    validate_validating_admission_policy_binding(new)
}

#[cfg(test)]
mod tests;
