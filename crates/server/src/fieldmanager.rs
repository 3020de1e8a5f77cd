//! Field management at the API edge: the `fieldManager` and `force`
//! options of writes (validated as upstream, the manager's name derived
//! from the User-Agent when not given), server-side apply of a decoded
//! configuration to a live object, and the managed fields of the `scale`
//! subresource's `Scale` view.

use http::header;
use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::managedfields::{FieldManager, ResetFields, TypeSchema, entries, scale};
use kaiser_apimachinery::{StatusError, meta, time};
use kaiser_registry::Store;
use kaiser_registry::scale::ScalePaths;
use serde_json::{Map, Value};

use crate::http::ApiRequest;

/// Upstream's limit on a field manager's name, in bytes.
const MAX_LENGTH: usize = 128;

fn printable(c: char) -> bool {
    c == ' ' || !(c.is_control() || c.is_whitespace() || is_format(c))
}

/// Unicode format characters (Cf), which Go does not count as printable.
fn is_format(c: char) -> bool {
    matches!(c as u32, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x200b..=0x200f
        | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb)
}

fn check_name(name: &str, errs: &mut ErrorList) {
    if name.len() > MAX_LENGTH {
        errs.push(FieldError::too_long("fieldManager", MAX_LENGTH));
    }
    for (i, c) in name.char_indices().filter(|(_, c)| !printable(*c)) {
        errs.push(FieldError::invalid(
            "fieldManager",
            name,
            format!("invalid character U+{:04X} (at position {i})", c as u32),
        ));
    }
}

fn options_error(kind: &str, errs: &ErrorList) -> StatusError {
    StatusError::invalid(kind, "meta.k8s.io", "", errs)
}

/// The field manager of a create or update: `?fieldManager=`, else the
/// User-Agent's product; `kind` is `CreateOptions` or `UpdateOptions`.
pub fn for_write(req: &ApiRequest, kind: &str) -> Result<String, StatusError> {
    let given = req.query("fieldManager").unwrap_or("");
    let mut errs = ErrorList::new();
    check_name(given, &mut errs);
    if !errs.is_empty() {
        return Err(options_error(kind, &errs));
    }
    Ok(manager_or_user_agent(given, req))
}

/// The field manager and `force` of a patch; apply patches must name
/// their manager, other patches may not force.
pub fn for_patch(req: &ApiRequest, apply: bool) -> Result<(String, bool), StatusError> {
    let given = req.query("fieldManager").unwrap_or("");
    let force = match req.query("force") {
        None => None,
        Some(v) => Some(parse_bool(v).ok_or_else(|| {
            StatusError::bad_request(format!(
                "strconv.ParseBool: parsing {}: invalid syntax",
                kaiser_apimachinery::managedfields::path::go_quote(v)
            ))
        })?),
    };
    let mut errs = ErrorList::new();
    if !apply && force.is_some() {
        errs.push(FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        ));
    }
    if apply && given.is_empty() {
        errs.push(FieldError::required(
            "fieldManager",
            "is required for apply patch",
        ));
    }
    check_name(given, &mut errs);
    if !errs.is_empty() {
        return Err(options_error("PatchOptions", &errs));
    }
    let manager = if apply {
        given.to_string()
    } else {
        manager_or_user_agent(given, req)
    };
    Ok((manager, force.unwrap_or(false)))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The given manager, or what precedes the first `/` of the User-Agent
/// (printable characters only, at most 128 bytes).
fn manager_or_user_agent(given: &str, req: &ApiRequest) -> String {
    if !given.is_empty() {
        return given.to_string();
    }
    let ua = req.header(header::USER_AGENT).unwrap_or("");
    let product = ua.split('/').next().unwrap_or("");
    let mut out = String::new();
    for c in product.chars().filter(|c| printable(*c)) {
        if out.len() + c.len_utf8() > MAX_LENGTH {
            break;
        }
        out.push(c);
    }
    out
}

/// The field manager of one request against `store`.
fn manager_for<'a>(
    store: &'a Store,
    schema: &'a TypeSchema,
    api_version: &'a str,
    now: &'a str,
) -> FieldManager<'a> {
    FieldManager {
        schema,
        api_version,
        kind: &store.info.kind,
        subresource: store.subresource_name(),
        reset: store.strategy.reset_fields(),
        now,
    }
}

/// Applies `config` to the live object (absent: the object is created) and
/// checks the result names the object of the request.
pub fn apply(
    store: &Store,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    name: &str,
    ns: &str,
) -> Result<Value, StatusError> {
    let schema = store.type_schema();
    let api_version = store.info.api_version();
    let now = time::now_rfc3339();
    let fm = manager_for(store, &schema, &api_version, &now);
    let empty = Value::Object(Map::new());
    let mut out = fm.apply(live.unwrap_or(&empty), config, manager, force)?;
    let got = meta::name(&out);
    if got != name {
        return Err(StatusError::bad_request(format!(
            "the name of the object ({got}) does not match the name on the URL ({name})"
        )));
    }
    if store.info.namespaced {
        match meta::namespace(&out) {
            "" => meta::set_str(&mut out, "namespace", ns),
            got if got != ns => {
                return Err(StatusError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// How a write to `…/scale` changes the `Scale`.
pub enum ScaleWrite<'a> {
    /// The `Scale` the client computed (PUT, JSON and merge patches).
    Computed(Value),
    /// An applied `Scale` configuration.
    Apply { config: &'a Value, force: bool },
}

fn scale_schema() -> std::sync::Arc<TypeSchema> {
    TypeSchema::for_definition("io.k8s.api.autoscaling.v1.Scale")
}

/// The `Scale` of `obj`, with the entries that own its replicas.
pub fn scale_view(store: &Store, obj: &Value, paths: &ScalePaths) -> Value {
    let mut view = kaiser_registry::scale::view(obj, paths);
    let parent = entries::of(obj).unwrap_or_default();
    let own = scale::to_subresource(
        &parent,
        &store.info.api_version(),
        &scale::replicas_path(&paths.spec_replicas),
    );
    entries::set(&mut view, &own);
    view
}

/// The new `Scale` of a scale write over `old`, and the parent's entries
/// after it.
pub fn scale_write(
    store: &Store,
    old: &Value,
    paths: &ScalePaths,
    write: ScaleWrite<'_>,
    manager: &str,
) -> Result<(Value, Vec<entries::Entry>), StatusError> {
    let parent_version = store.info.api_version();
    let replicas = scale::replicas_path(&paths.spec_replicas);
    let parent = entries::of(old).unwrap_or_default();
    let live = scale_view(store, old, paths);
    let schema = scale_schema();
    let now = time::now_rfc3339();
    let fm = FieldManager {
        schema: &schema,
        api_version: scale::SCALE_API_VERSION,
        kind: "Scale",
        subresource: "scale",
        reset: ResetFields::Status,
        now: &now,
    };
    let new = match write {
        ScaleWrite::Computed(mut new) => {
            fm.update(&live, &mut new, manager);
            new
        }
        ScaleWrite::Apply { config, force } => fm.apply(&live, config, manager, force)?,
    };
    let own = entries::of(&new).unwrap_or_default();
    Ok((
        new,
        scale::to_parent(&parent, &own, &parent_version, &replicas),
    ))
}
