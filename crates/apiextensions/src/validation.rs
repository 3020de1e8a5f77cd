//! Upstream's validation of a CustomResourceDefinition
//! (`apis/apiextensions/validation/validation.go`), run on the v1 object
//! with the field paths of upstream's internal version: when every version
//! has the same schema, subresources, printer columns or selectable fields
//! they are reported at `spec.validation`, `spec.subresources`,
//! `spec.additionalPrinterColumns` and `spec.selectableFields`, as
//! upstream's conversion moves them there before validating.

use kaiser_apimachinery::field::{ErrorKind, ErrorList, FieldError, child, key};
use kaiser_apimachinery::meta;
use kaiser_apimachinery::validation::is_dns1123_subdomain;
use serde_json::Value;

use crate::{cel, schema};

const ALLOWED_COLUMN_TYPES: [&str; 5] = ["boolean", "date", "integer", "number", "string"];
const ALLOWED_COLUMN_FORMATS: [&str; 8] = [
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];
const MAX_SELECTABLE_FIELDS: usize = 8;
/// Annotation a CRD of a `*.k8s.io` group must carry.
const APPROVAL: &str = "api-approved.kubernetes.io";

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A value "unset" as Go sees it: absent, null, or an empty list or map.
fn unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// `IsDNS1035Label`'s messages joined as upstream joins them.
fn dns1035(value: &str) -> Option<String> {
    let errs = schema::dns1035(value);
    (!errs.is_empty()).then(|| errs.join(","))
}

/// Which per-version fields upstream's internal version carries once for
/// the whole CRD (all versions equal).
struct Shared {
    schema: bool,
    subresources: bool,
    columns: bool,
    selectable: bool,
}

impl Shared {
    fn of(versions: &[Value]) -> Shared {
        let same = |f: &str| {
            let first = versions.first().and_then(|v| v.get(f));
            versions.iter().all(|v| {
                let x = v.get(f);
                x == first || (unset(x) && unset(first))
            })
        };
        let schema = same("schema");
        Shared {
            schema,
            subresources: same("subresources"),
            columns: same("additionalPrinterColumns"),
            selectable: schema && same("selectableFields"),
        }
    }
}

/// Everything upstream checks on a CRD; `old` on update.
pub fn validate(crd: &Value, old: Option<&Value>) -> ErrorList {
    let mut errs = ErrorList::new();
    name(crd, &mut errs);
    spec(crd, old, &mut errs);
    names(
        crd.pointer("/status/acceptedNames"),
        "status.acceptedNames",
        &mut errs,
    );
    stored_versions(crd, &mut errs);
    approval(crd, old, &mut errs);
    preserve_unknown_fields(crd, old, &mut errs);
    if let Some(old) = old {
        immutable(crd, old, &mut errs);
    }
    errs
}

fn name(crd: &Value, errs: &mut ErrorList) {
    let want = format!("{}.{}", s(crd, "/spec/names/plural"), s(crd, "/spec/group"));
    let name = meta::name(crd);
    if !name.is_empty() && name != want {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
}

fn spec(crd: &Value, old: Option<&Value>, errs: &mut ErrorList) {
    let group = s(crd, "/spec/group");
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else if let m @ [_, ..] = is_dns1123_subdomain(group).as_slice() {
        errs.push(FieldError::invalid("spec.group", group, m.join(",")));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    }
    enum_string(
        "spec.scope",
        s(crd, "/spec/scope"),
        &["Cluster", "Namespaced"],
        errs,
    );

    let versions = list(crd, "/spec/versions");
    let shared = Shared::of(versions);
    let any_status = versions
        .iter()
        .any(|v| v.pointer("/subresources/status").is_some());
    if shared.schema {
        for (i, v) in versions.iter().enumerate() {
            if v.pointer("/schema/openAPIV3Schema").is_none() {
                errs.push(FieldError::required(
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                ));
            }
        }
    }
    let mut names_seen: Vec<&str> = Vec::new();
    let mut unique = true;
    let mut storage = 0;
    for (i, v) in versions.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        let vname = v.get("name").and_then(Value::as_str).unwrap_or("");
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        if names_seen.contains(&vname) {
            unique = false;
        }
        names_seen.push(vname);
        if let Some(m) = dns1035(vname) {
            errs.push(FieldError::invalid(&child(&at, "name"), vname, m));
        }
        version(crd, old, v, &at, &shared, errs);
    }
    if !unique {
        errs.push(unprintable(
            "spec.versions",
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errs.push(unprintable(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
    }
    for f in ["plural", "singular", "kind", "listKind"] {
        if s(crd, &format!("/spec/names/{f}")).is_empty() {
            errs.push(FieldError::required(&format!("spec.names.{f}"), ""));
        }
    }
    names(crd.pointer("/spec/names"), "spec.names", errs);
    if let Some(first) = versions.first() {
        if shared.schema {
            schema_validation(crd, old, first, "spec.validation", any_status, errs);
        }
        if shared.subresources {
            subresources(first.get("subresources"), "spec.subresources", errs);
        }
        if shared.columns {
            columns(first, "spec.additionalPrinterColumns", errs);
        }
        if shared.selectable && !list(first, "/selectableFields").is_empty() {
            selectable(first, "spec.selectableFields", errs);
        }
    }
    conversion(crd, old, errs);
}

/// An error whose value upstream prints as a Go struct dump; kaiser
/// leaves the value out.
fn unprintable(field: &str, detail: &str) -> FieldError {
    FieldError {
        kind: ErrorKind::Invalid,
        field: field.into(),
        value: None,
        detail: detail.into(),
    }
}

fn enum_string(field: &str, value: &str, allowed: &[&str], errs: &mut ErrorList) {
    if value.is_empty() {
        errs.push(FieldError::required(field, ""));
    } else if !allowed.contains(&value) {
        errs.push(FieldError::not_supported(field, value, allowed));
    }
}

fn version(
    crd: &Value,
    old: Option<&Value>,
    v: &Value,
    at: &str,
    shared: &Shared,
    errs: &mut ErrorList,
) {
    let deprecated = v.get("deprecated").and_then(Value::as_bool) == Some(true);
    if let Some(w) = v.get("deprecationWarning").and_then(Value::as_str) {
        for m in deprecation_warning(deprecated, w) {
            errs.push(FieldError::invalid(&child(at, "deprecationWarning"), w, m));
        }
    }
    let status = v.pointer("/subresources/status").is_some();
    if !shared.schema {
        schema_validation(crd, old, v, &child(at, "schema"), status, errs);
    }
    if !shared.subresources {
        subresources(v.get("subresources"), &child(at, "subresources"), errs);
    }
    if !shared.columns {
        columns(v, &child(at, "additionalPrinterColumns"), errs);
    }
    if !shared.selectable && !list(v, "/selectableFields").is_empty() {
        if v.pointer("/schema/openAPIV3Schema").is_none() {
            errs.push(FieldError::invalid(
                &child(at, "selectableFields"),
                "",
                "selectableFields may only be set when version.schema.openAPIV3Schema is not included",
            ));
        } else {
            selectable(v, &child(at, "selectableFields"), errs);
        }
    }
}

fn deprecation_warning(deprecated: bool, w: &str) -> Vec<String> {
    if !deprecated {
        return vec!["can only be set for deprecated versions".into()];
    }
    let mut out = Vec::new();
    if w.len() > 256 {
        out.push("must be <= 256 characters long".into());
    }
    if w.is_empty() {
        out.push("must not be an empty string".into());
    }
    for (i, c) in w.char_indices() {
        if c.is_control() {
            out.push(format!(
                "must only contain printable UTF-8 characters; control character found at index {i}"
            ));
            break;
        }
    }
    out
}

/// One schema (`fld` is `spec.validation` or `spec.versions[i].schema`):
/// the structural checks, the OpenAPI checks and the CEL rules with their
/// costs.
fn schema_validation(
    crd: &Value,
    old: Option<&Value>,
    v: &Value,
    fld: &str,
    status: bool,
    errs: &mut ErrorList,
) {
    let Some(schema_v) = v.pointer("/schema/openAPIV3Schema") else {
        return;
    };
    let at = child(fld, "openAPIV3Schema");
    let mut local = ErrorList::new();
    if status {
        status_root(schema_v, &at, &mut local);
    }
    if schema_v.get("nullable").and_then(Value::as_bool) == Some(true) {
        local.push(FieldError::forbidden(
            &child(&at, "nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let structural = schema::validate_crd_schema(schema_v, &at);
    let structural_ok = structural.is_empty();
    local.extend(structural);
    let defaults_ok = if structural_ok {
        let d = schema::validate_defaults(schema_v, &at);
        let ok = d.is_empty();
        local.extend(d);
        ok
    } else {
        false
    };
    let openapi = schema::validate_openapi(schema_v, &at);
    let openapi_ok = openapi.is_empty();
    local.extend(openapi);
    // Rules are compiled against a sound schema only, as upstream builds
    // their types from the structural one.
    if structural_ok && defaults_ok && openapi_ok {
        let opts = cel::CompileOptions {
            unchanged_schema: old.is_some_and(|o| same_schema(crd, o, v)),
        };
        local.extend(cel::compile_rules(schema_v, &at, opts));
    }
    errs.extend(local);
}

/// Whether the version `v` of `crd` has the schema it had in `old`.
fn same_schema(crd: &Value, old: &Value, v: &Value) -> bool {
    let name = v.get("name");
    let _ = crd;
    list(old, "/spec/versions")
        .iter()
        .find(|o| o.get("name") == name)
        .is_some_and(|o| o.get("schema") == v.get("schema"))
}

/// With the status subresource, the root schema may only use a few
/// keywords (so `properties[status]` carries all of status' rules).
fn status_root(schema_v: &Value, at: &str, errs: &mut ErrorList) {
    const ALLOWED: [&str; 22] = [
        "description",
        "type",
        "format",
        "title",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "multipleOf",
        "required",
        "items",
        "properties",
        "externalDocs",
        "example",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-validations",
    ];
    let Some(m) = schema_v.as_object() else {
        return;
    };
    let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
    if !ty.is_empty() && ty != "object" {
        errs.push(FieldError::invalid(
            &child(at, "type"),
            ty,
            "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
        ));
        return;
    }
    let zero = |v: &Value| match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    };
    if m.iter()
        .any(|(k, v)| !ALLOWED.contains(&k.as_str()) && !zero(v))
    {
        errs.push(unprintable(
            at,
            "only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled",
        ));
    }
}

fn names(n: Option<&Value>, at: &str, errs: &mut ErrorList) {
    let Some(n) = n else {
        return;
    };
    let get = |f: &str| n.get(f).and_then(Value::as_str).unwrap_or("");
    for f in ["plural", "singular"] {
        let v = get(f);
        if !v.is_empty()
            && let Some(m) = dns1035(v)
        {
            errs.push(FieldError::invalid(&child(at, f), v, m));
        }
    }
    for f in ["kind", "listKind"] {
        let v = get(f);
        if !v.is_empty()
            && let Some(m) = dns1035(&v.to_lowercase())
        {
            errs.push(FieldError::invalid(
                &child(at, f),
                v,
                format!("may have mixed case, but should otherwise match: {m}"),
            ));
        }
    }
    for (i, sn) in list(n, "/shortNames").iter().enumerate() {
        let v = sn.as_str().unwrap_or("");
        if let Some(m) = dns1035(v) {
            errs.push(FieldError::invalid(&key(&child(at, "shortNames"), i), v, m));
        }
    }
    if !get("kind").is_empty() && get("kind") == get("listKind") {
        errs.push(FieldError::invalid(
            &child(at, "listKind"),
            get("listKind"),
            "kind and listKind may not be the same",
        ));
    }
    for (i, c) in list(n, "/categories").iter().enumerate() {
        let v = c.as_str().unwrap_or("");
        if let Some(m) = dns1035(v) {
            errs.push(FieldError::invalid(&key(&child(at, "categories"), i), v, m));
        }
    }
}

fn subresources(sub: Option<&Value>, at: &str, errs: &mut ErrorList) {
    let Some(scale) = sub.and_then(|s| s.get("scale")) else {
        return;
    };
    let path = |f: &str| format!("{at}.scale.{f}");
    for (f, under) in [
        ("specReplicasPath", ".spec."),
        ("statusReplicasPath", ".status."),
    ] {
        let v = scale.get(f).and_then(Value::as_str).unwrap_or("");
        if v.is_empty() {
            errs.push(FieldError::required(&path(f), ""));
        } else if let Some(e) = simple_json_path(v, &path(f)) {
            errs.push(e);
        } else if !v.starts_with(under) {
            let which = under.trim_matches('.');
            errs.push(FieldError::invalid(
                &path(f),
                v,
                format!("should be a json path under .{which}"),
            ));
        }
    }
    let sel = scale
        .get("labelSelectorPath")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !sel.is_empty() {
        if let Some(e) = simple_json_path(sel, &path("labelSelectorPath")) {
            errs.push(e);
        } else if !sel.starts_with(".spec.") && !sel.starts_with(".status.") {
            errs.push(FieldError::invalid(
                &path("labelSelectorPath"),
                sel,
                "should be a json path under either .spec or .status",
            ));
        }
    }
}

fn simple_json_path(p: &str, at: &str) -> Option<FieldError> {
    if p.is_empty() {
        Some(FieldError::invalid(at, p, "must not be empty"))
    } else if !p.starts_with('.') {
        Some(FieldError::invalid(
            at,
            p,
            "must be a simple json path starting with .",
        ))
    } else {
        None
    }
}

fn columns(v: &Value, at: &str, errs: &mut ErrorList) {
    for (i, c) in list(v, "/additionalPrinterColumns").iter().enumerate() {
        let at = key(at, i);
        let get = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("");
        if get("name").is_empty() {
            errs.push(FieldError::required(&child(&at, "name"), ""));
        }
        let types = ALLOWED_COLUMN_TYPES.join(",");
        let ty = get("type");
        if ty.is_empty() {
            errs.push(FieldError::required(
                &child(&at, "type"),
                format!("must be one of {types}"),
            ));
        } else if !ALLOWED_COLUMN_TYPES.contains(&ty) {
            errs.push(FieldError::invalid(
                &child(&at, "type"),
                ty,
                format!("must be one of {types}"),
            ));
        }
        let format = get("format");
        if !format.is_empty() && !ALLOWED_COLUMN_FORMATS.contains(&format) {
            errs.push(FieldError::invalid(
                &child(&at, "format"),
                format,
                format!("must be one of {}", ALLOWED_COLUMN_FORMATS.join(",")),
            ));
        }
        let jp = get("jsonPath");
        if jp.is_empty() {
            errs.push(FieldError::required(&child(&at, "JSONPath"), ""));
        } else if let Some(e) = simple_json_path(jp, &child(&at, "JSONPath")) {
            errs.push(e);
        }
    }
}

fn selectable(v: &Value, at: &str, errs: &mut ErrorList) {
    let schema_v = v.pointer("/schema/openAPIV3Schema").unwrap_or(&Value::Null);
    let mut seen: Vec<String> = Vec::new();
    for (i, f) in list(v, "/selectableFields").iter().enumerate() {
        let at = key(at, i);
        let jp = f.get("jsonPath").and_then(Value::as_str).unwrap_or("");
        if jp.is_empty() {
            errs.push(FieldError::required(&child(&at, "jsonPath"), ""));
            continue;
        }
        let found = match cel::schema_field_path(jp, schema_v, false) {
            Ok(found) => found,
            Err(e) => {
                errs.push(FieldError::invalid(
                    &child(&at, "jsonPath"),
                    jp,
                    format!("is an invalid path: {e}"),
                ));
                continue;
            }
        };
        let (path, target) = found;
        if path == "metadata" || path.starts_with("metadata.") || path.starts_with("metadata[") {
            errs.push(FieldError::invalid(
                &child(&at, "jsonPath"),
                jp,
                "must not point to fields in metadata",
            ));
        }
        let ty = target.get("type").and_then(Value::as_str).unwrap_or("");
        if !matches!(ty, "string" | "boolean" | "integer") {
            errs.push(FieldError::invalid(
                &child(&at, "jsonPath"),
                jp,
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if seen.contains(&path) {
            errs.push(FieldError::duplicate(&child(&at, "jsonPath"), jp));
        } else {
            seen.push(path);
        }
    }
    if seen.len() > MAX_SELECTABLE_FIELDS {
        errs.push(FieldError {
            kind: ErrorKind::TooMany,
            field: at.into(),
            value: Some(Value::from(seen.len())),
            detail: format!("must have at most {MAX_SELECTABLE_FIELDS} items"),
        });
    }
}

fn conversion(crd: &Value, old: Option<&Value>, errs: &mut ErrorList) {
    let Some(conv) = crd.pointer("/spec/conversion").filter(|c| !c.is_null()) else {
        return;
    };
    let at = "spec.conversion";
    let strategy = conv.get("strategy").and_then(Value::as_str).unwrap_or("");
    enum_string(&child(at, "strategy"), strategy, &["None", "Webhook"], errs);
    let webhook = conv.get("webhook").filter(|w| !w.is_null());
    let client = webhook
        .and_then(|w| w.get("clientConfig"))
        .filter(|c| !c.is_null());
    let review_versions = webhook.map_or(&[][..], |w| list(w, "/conversionReviewVersions"));
    if strategy != "Webhook" {
        if client.is_some() {
            errs.push(FieldError::forbidden(
                &child(at, "webhookClientConfig"),
                "should not be set when strategy is not set to Webhook",
            ));
        }
        if !review_versions.is_empty() {
            errs.push(FieldError::forbidden(
                &child(at, "conversionReviewVersions"),
                "should not be set when strategy is not set to Webhook",
            ));
        }
        return;
    }
    let cc_at = child(at, "webhookClientConfig");
    match client {
        None => errs.push(FieldError::required(
            &cc_at,
            "required when strategy is set to Webhook",
        )),
        Some(cc) => {
            let url = cc.get("url").filter(|u| !u.is_null());
            let service = cc.get("service").filter(|u| !u.is_null());
            match (url, service) {
                (Some(_), Some(_)) | (None, None) => errs.push(FieldError::required(
                    &cc_at,
                    "exactly one of url or service is required",
                )),
                (Some(u), None) => {
                    webhook_url(u.as_str().unwrap_or(""), &child(&cc_at, "url"), errs)
                }
                (None, Some(svc)) => webhook_service(svc, &child(&cc_at, "service"), errs),
            }
            let established_with_good_bundle = old.is_some_and(|o| {
                crate::crd::condition_true(o, "Established")
                    && o.pointer("/spec/conversion/webhook/clientConfig/caBundle")
                        .and_then(Value::as_str)
                        .is_none_or(|b| b.is_empty() || ca_bundle_ok(b))
            });
            if let Some(b) = cc.get("caBundle").and_then(Value::as_str)
                && !b.is_empty()
                && established_with_good_bundle
                && !ca_bundle_ok(b)
            {
                errs.push(FieldError::invalid(
                    &child(&cc_at, "caBundle"),
                    b,
                    "unable to load root certificates: unable to parse bytes as PEM block",
                ));
            }
        }
    }
    let old_review_ok = old
        .and_then(|o| o.pointer("/spec/conversion/webhook/conversionReviewVersions"))
        .and_then(Value::as_array)
        .is_none_or(|v| {
            v.is_empty()
                || v.iter()
                    .any(|x| matches!(x.as_str(), Some("v1" | "v1beta1")))
        });
    review(
        review_versions,
        old.is_none() || old_review_ok,
        &child(at, "conversionReviewVersions"),
        errs,
    );
}

/// Whether a `caBundle` (base64 of PEM, as the JSON carries it) holds at
/// least one certificate.
fn ca_bundle_ok(b64: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|pem| String::from_utf8(pem).ok())
        .is_some_and(|pem| pem.contains("-----BEGIN CERTIFICATE-----"))
}

fn review(versions: &[Value], require_known: bool, at: &str, errs: &mut ErrorList) {
    if versions.is_empty() {
        errs.push(FieldError::required(at, ""));
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut known = false;
    for (i, v) in versions.iter().enumerate() {
        let v = v.as_str().unwrap_or("");
        if seen.contains(&v) {
            errs.push(FieldError::invalid(&key(at, i), v, "duplicate version"));
            continue;
        }
        seen.push(v);
        for m in schema::dns1035(v) {
            errs.push(FieldError::invalid(&key(at, i), v, m));
        }
        known |= matches!(v, "v1" | "v1beta1");
    }
    if require_known && !known {
        errs.push(FieldError::invalid(
            at,
            Value::Array(versions.to_vec()),
            "must include at least one of v1, v1beta1",
        ));
    }
}

/// The parts of a URL as Go's `url.Parse` splits it (enough for the
/// checks below; the webhook client parses it properly).
pub(crate) struct UrlParts<'a> {
    pub scheme: &'a str,
    pub user: Option<&'a str>,
    pub host: &'a str,
    pub query: &'a str,
    pub fragment: &'a str,
}

pub(crate) fn split_url(u: &str) -> UrlParts<'_> {
    let (rest, fragment) = u.split_once('#').unwrap_or((u, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let scheme_end = rest.find(':').filter(|&i| {
        let sch = &rest[..i];
        sch.starts_with(|c: char| c.is_ascii_alphabetic())
            && sch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => ("", rest),
    };
    let authority = match rest.strip_prefix("//") {
        Some(r) => r.find('/').map_or(r, |i| &r[..i]),
        None => "",
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    UrlParts {
        scheme,
        user,
        host,
        query,
        fragment,
    }
}

/// `webhook.ValidateWebhookURL` with `forceHttps`.
fn webhook_url(u: &str, at: &str, errs: &mut ErrorList) {
    const FORM: &str = "; desired format: https://host[/path]";
    let p = split_url(u);
    if p.scheme != "https" {
        errs.push(FieldError::invalid(
            at,
            p.scheme,
            format!("'https' is the only allowed URL scheme{FORM}"),
        ));
    }
    if p.host.is_empty() {
        errs.push(FieldError::invalid(
            at,
            p.host,
            format!("host must be provided{FORM}"),
        ));
    }
    if let Some(user) = p.user {
        errs.push(FieldError::invalid(
            at,
            user,
            "user information is not permitted in the URL",
        ));
    }
    if !p.fragment.is_empty() {
        errs.push(FieldError::invalid(
            at,
            p.fragment,
            "fragments are not permitted in the URL",
        ));
    }
    if !p.query.is_empty() {
        errs.push(FieldError::invalid(
            at,
            p.query,
            "query parameters are not permitted in the URL",
        ));
    }
}

/// `webhook.ValidateWebhookService`.
fn webhook_service(svc: &Value, at: &str, errs: &mut ErrorList) {
    let get = |f: &str| svc.get(f).and_then(Value::as_str).unwrap_or("");
    if get("name").is_empty() {
        errs.push(FieldError::required(
            &child(at, "name"),
            "service name is required",
        ));
    }
    if get("namespace").is_empty() {
        errs.push(FieldError::required(
            &child(at, "namespace"),
            "service namespace is required",
        ));
    }
    let port = svc.get("port").and_then(Value::as_i64).unwrap_or(443);
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid(
            &child(at, "port"),
            port,
            "port is not valid: must be between 1 and 65535, inclusive",
        ));
    }
    let path = get("path");
    if path.is_empty() || path == "/" {
        return;
    }
    let at = child(at, "path");
    if path == "//" {
        errs.push(FieldError::invalid(
            &at,
            path,
            "segment[0] may not be empty",
        ));
        return;
    }
    if !path.starts_with('/') {
        errs.push(FieldError::invalid(&at, path, "must start with a '/'"));
    }
    let rest = path.get(1..).unwrap_or("");
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    for (i, step) in rest.split('/').enumerate() {
        if step.is_empty() {
            errs.push(FieldError::invalid(
                &at,
                path,
                format!("segment[{i}] may not be empty"),
            ));
            continue;
        }
        for m in is_dns1123_subdomain(step) {
            errs.push(FieldError::invalid(&at, path, format!("segment[{i}]: {m}")));
        }
    }
}

fn stored_versions(crd: &Value, errs: &mut ErrorList) {
    let at = "status.storedVersions";
    let stored = list(crd, "/status/storedVersions");
    if stored.is_empty() {
        errs.push(FieldError::invalid(
            at,
            Value::Array(Vec::new()),
            "must have at least one stored version",
        ));
        return;
    }
    let versions = list(crd, "/spec/versions");
    for v in versions {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        if v.get("storage").and_then(Value::as_bool) == Some(true)
            && !stored.iter().any(|x| x.as_str() == Some(name))
        {
            errs.push(FieldError::invalid(
                at,
                Value::Array(stored.to_vec()),
                format!("must have the storage version {name}"),
            ));
        }
    }
    for (i, x) in stored.iter().enumerate() {
        let x = x.as_str().unwrap_or("");
        if !versions
            .iter()
            .any(|v| v.get("name").and_then(Value::as_str) == Some(x))
        {
            errs.push(FieldError::invalid(
                &key(at, i),
                x,
                format!(
                    "missing from spec.versions; {x} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {x} and removes {x} from status.storedVersions"
                ),
            ));
        }
    }
}

/// `spec.preserveUnknownFields: true` (the v1beta1 behaviour) may not be
/// turned on in v1; CRDs stored with it keep it.
fn preserve_unknown_fields(crd: &Value, old: Option<&Value>, errs: &mut ErrorList) {
    let on = |c: &Value| {
        c.pointer("/spec/preserveUnknownFields")
            .and_then(Value::as_bool)
            == Some(true)
    };
    if on(crd) && !old.is_some_and(on) {
        errs.push(FieldError::invalid(
            "spec.preserveUnknownFields",
            true,
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
}

/// CRDs of Kubernetes' own groups must say where their API was approved.
fn approval(crd: &Value, old: Option<&Value>, errs: &mut ErrorList) {
    let protected = |g: &str| {
        g == "k8s.io"
            || g == "kubernetes.io"
            || g.ends_with(".k8s.io")
            || g.ends_with(".kubernetes.io")
    };
    if !protected(s(crd, "/spec/group")) {
        return;
    }
    let annotation = |o: &Value| {
        o.pointer("/metadata/annotations")
            .and_then(|a| a.get(APPROVAL))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let state = |v: &Option<String>| match v.as_deref() {
        None => 0,
        Some(x) if x.starts_with("unapproved") => 2,
        Some(x) if !split_url(x).scheme.is_empty() && !split_url(x).host.is_empty() => 1,
        Some(_) => 3,
    };
    let new = annotation(crd);
    // An unchanged state never fails, so updates of old CRDs go through.
    if old.is_some_and(|o| state(&annotation(o)) == state(&new)) {
        return;
    }
    let field = format!("metadata.annotations[{APPROVAL}]");
    match state(&new) {
        0 => errs.push(FieldError::required(
            &field,
            format!(
                "protected groups must have approval annotation \"{APPROVAL}\", see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        )),
        3 => errs.push(FieldError::invalid(
            &field,
            new.unwrap_or_default(),
            format!(
                "protected groups must have approval annotation \"{APPROVAL}\" with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        )),
        _ => {}
    }
}

fn immutable(crd: &Value, old: &Value, errs: &mut ErrorList) {
    let established = crate::crd::condition_true(old, "Established");
    let mut check = |ptr: &str, field: &str| {
        let (n, o) = (s(crd, ptr), s(old, ptr));
        if n != o {
            errs.push(FieldError::invalid(field, n, "field is immutable"));
        }
    };
    if established {
        check("/spec/scope", "spec.scope");
        check("/spec/names/kind", "spec.names.kind");
    }
    check("/spec/group", "spec.group");
    check("/spec/names/plural", "spec.names.plural");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::CrdStrategy;
    use kaiser_registry::Strategy;
    use serde_json::json;

    fn crd(versions: Value) -> Value {
        let mut c = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"}, "versions": versions}});
        CrdStrategy.default(&mut c);
        CrdStrategy.prepare_for_create(&mut c);
        c
    }

    fn msgs(c: &Value, old: Option<&Value>) -> Vec<String> {
        validate(c, old).iter().map(ToString::to_string).collect()
    }

    fn version(name: &str, storage: bool, schema: Value) -> Value {
        json!({"name": name, "served": true, "storage": storage,
            "schema": {"openAPIV3Schema": schema}})
    }

    #[test]
    fn shared_and_per_version_paths() {
        let bad = json!({"type": "object", "properties": {"spec": {"properties": {}}}});
        let c = crd(json!([
            version("v1", true, bad.clone()),
            version("v2", false, bad.clone())
        ]));
        assert_eq!(
            msgs(&c, None),
            [
                "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
            ]
        );
        let c = crd(json!([
            version("v1", true, bad),
            version("v2", false, json!({"type": "object"}))
        ]));
        assert_eq!(
            msgs(&c, None),
            [
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
            ]
        );
    }

    #[test]
    fn names_versions_conversion_and_subresources() {
        let mut c = crd(json!([version("V1", true, json!({"type": "object"}))]));
        c["spec"]["names"]["shortNames"] = json!(["1w"]);
        c["spec"]["versions"][0]["subresources"] =
            json!({"scale": {"specReplicasPath": ".status.x", "statusReplicasPath": "status.y"}});
        c["spec"]["versions"][0]["additionalPrinterColumns"] =
            json!([{"name": "X", "type": "str", "jsonPath": "x"}]);
        c["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
            "clientConfig": {"url": "http://h/x?q=1"}, "conversionReviewVersions": ["v9"]}});
        let got = msgs(&c, None);
        for want in [
            "spec.versions[0].name: Invalid value: \"V1\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            "spec.names.shortNames[0]: Invalid value: \"1w\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            "spec.subresources.scale.specReplicasPath: Invalid value: \".status.x\": should be a json path under .spec",
            "spec.subresources.scale.statusReplicasPath: Invalid value: \"status.y\": must be a simple json path starting with .",
            "spec.additionalPrinterColumns[0].type: Invalid value: \"str\": must be one of boolean,date,integer,number,string",
            "spec.additionalPrinterColumns[0].JSONPath: Invalid value: \"x\": must be a simple json path starting with .",
            "spec.conversion.webhookClientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
            "spec.conversion.webhookClientConfig.url: Invalid value: \"q=1\": query parameters are not permitted in the URL",
            "spec.conversion.conversionReviewVersions: Invalid value: [\"v9\"]: must include at least one of v1, v1beta1",
        ] {
            assert!(got.iter().any(|g| g == want), "{want}\nnot in {got:#?}");
        }
    }

    #[test]
    fn stored_versions_and_immutable_fields() {
        let old = crd(json!([version("v1", true, json!({"type": "object"}))]));
        let mut new = old.clone();
        new["spec"]["versions"] = json!([version("v2", true, json!({"type": "object"}))]);
        new["spec"]["group"] = json!("other.com");
        let got = msgs(&new, Some(&old));
        for want in [
            "status.storedVersions[0]: Invalid value: \"v1\": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions",
            "status.storedVersions: Invalid value: [\"v1\"]: must have the storage version v2",
            "spec.group: Invalid value: \"other.com\": field is immutable",
        ] {
            assert!(got.iter().any(|g| g == want), "{want}\nnot in {got:#?}");
        }
    }

    #[test]
    fn protected_groups_need_approval() {
        let mut c = crd(json!([version("v1", true, json!({"type": "object"}))]));
        c["spec"]["group"] = json!("x.k8s.io");
        c["metadata"]["name"] = json!("widgets.x.k8s.io");
        assert_eq!(
            msgs(&c, None),
            [
                "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111"
            ]
        );
        c["metadata"]["annotations"] = json!({"api-approved.kubernetes.io": "unapproved, testing"});
        assert!(msgs(&c, None).is_empty());
    }
}
