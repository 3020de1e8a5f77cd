//! The per-keyword checks of a CRD's schema that are not structural
//! invariants (upstream's `ValidateCustomResourceDefinitionOpenAPISchema`
//! and its `specStandardValidatorV3`): OpenAPI keywords CRDs do not
//! support, `default` where it may not be, `uniqueItems`, `properties`
//! with `additionalProperties`, and the rules of `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys` and `x-kubernetes-map-type`.

use kaiser_apimachinery::field::{ErrorList, FieldError, child, key};
use serde_json::Value;

use super::{EMBEDDED, MAX_DEPTH, flag, obj, str_of};

const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
const META_FIELDS: [&str; 3] = ["metadata", "kind", "apiVersion"];

/// What the walk knows about the place of a node.
#[derive(Clone, Default)]
struct Ctx {
    /// Why `default` may not be set here, if it may not.
    no_defaults: Option<String>,
    /// Inside the TypeMeta/ObjectMeta of a resource.
    inside_meta: bool,
}

/// Every error of these checks for `schema` at `path`.
pub fn validate_openapi(schema: &Value, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    node(schema, path, &Ctx::default(), true, &mut errs, 0);
    errs
}

fn sub_list<'a>(s: &'a Value, k: &str) -> &'a [Value] {
    obj(s)
        .and_then(|m| m.get(k))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn present(s: &Value, k: &str) -> bool {
    obj(s).and_then(|m| m.get(k)).is_some_and(|v| !v.is_null())
}

/// `specStandardValidatorV3.validate`: keywords CRD schemas do not support.
fn standard(s: &Value, path: &str, ctx: &Ctx, errs: &mut ErrorList) {
    let ty = str_of(s, "type").unwrap_or("");
    if !ty.is_empty() && !TYPES.contains(&ty) {
        errs.push(FieldError::not_supported(&child(path, "type"), ty, &TYPES));
    }
    if present(s, "default")
        && let Some(reason) = &ctx.no_defaults
    {
        let detail = match reason.as_str() {
            "" => "must not be set".to_string(),
            r => format!("must not be set {r}"),
        };
        errs.push(FieldError::forbidden(&child(path, "default"), detail));
    }
    if str_of(s, "id").is_some_and(|i| !i.is_empty()) {
        errs.push(FieldError::forbidden(
            &child(path, "id"),
            "id is not supported",
        ));
    }
    if present(s, "additionalItems") {
        errs.push(FieldError::forbidden(
            &child(path, "additionalItems"),
            "additionalItems is not supported",
        ));
    }
    for (k, what) in [
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
    ] {
        if obj(s)
            .and_then(|m| m.get(k))
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            errs.push(FieldError::forbidden(&child(path, k), what));
        }
    }
    if present(s, "dependencies") {
        errs.push(FieldError::forbidden(
            &child(path, "dependencies"),
            "dependencies is not supported",
        ));
    }
    if present(s, "$ref") {
        errs.push(FieldError::forbidden(
            &child(path, "$ref"),
            "$ref is not supported",
        ));
    }
    if ty == "null" {
        errs.push(FieldError::forbidden(
            &child(path, "type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if obj(s)
        .and_then(|m| m.get("items"))
        .is_some_and(Value::is_array)
    {
        errs.push(FieldError::forbidden(
            &child(path, "items"),
            "items must be a schema object and not an array",
        ));
    }
    if ctx.inside_meta && flag(s, EMBEDDED) {
        errs.push(FieldError::forbidden(
            &child(path, EMBEDDED),
            "must not be used inside of resource meta",
        ));
    }
}

fn node(s: &Value, path: &str, ctx: &Ctx, root: bool, errs: &mut ErrorList, depth: usize) {
    let Some(m) = obj(s) else {
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    standard(s, path, ctx, errs);
    if flag(s, "uniqueItems") {
        errs.push(FieldError::forbidden(
            &child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let props = m.get("properties").and_then(Value::as_object);
    if let Some(ap) = m.get("additionalProperties").filter(|a| !a.is_null()) {
        if props.is_some_and(|p| !p.is_empty()) && ap != &Value::Bool(true) {
            errs.push(FieldError::forbidden(
                &child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        let mut sub = ctx.clone();
        if ctx.inside_meta {
            sub.no_defaults =
                Some("inside additionalProperties applying to object metadata".into());
        }
        node(
            ap,
            &child(path, "additionalProperties"),
            &sub,
            false,
            errs,
            depth + 1,
        );
    }
    if let Some(props) = props {
        for (k, p) in props {
            let mut sub = ctx.clone();
            if (root || flag(s, EMBEDDED)) && META_FIELDS.contains(&k.as_str()) {
                sub.inside_meta = true;
                if root {
                    sub.no_defaults = Some(format!("in top-level {k}"));
                }
            }
            node(
                p,
                &key(&child(path, "properties"), k),
                &sub,
                false,
                errs,
                depth + 1,
            );
        }
    }
    if let Some(not) = m.get("not") {
        node(not, &child(path, "not"), ctx, false, errs, depth + 1);
    }
    for k in ["allOf", "oneOf", "anyOf"] {
        for (i, sub) in sub_list(s, k).iter().enumerate() {
            node(sub, &key(&child(path, k), i), ctx, false, errs, depth + 1);
        }
    }
    if let Some(items) = m.get("items") {
        match items {
            Value::Array(list) => {
                for (i, it) in list.iter().enumerate() {
                    node(
                        it,
                        &key(&child(path, "items"), i),
                        ctx,
                        false,
                        errs,
                        depth + 1,
                    );
                }
            }
            it => node(it, &child(path, "items"), ctx, false, errs, depth + 1),
        }
    }
    map_and_list_types(s, path, errs);
    map_list_keys_and_sets(s, path, errs);
}

/// `x-kubernetes-map-type`, `x-kubernetes-list-type` and
/// `x-kubernetes-list-map-keys` against the node's type and items.
fn map_and_list_types(s: &Value, path: &str, errs: &mut ErrorList) {
    let ty = str_of(s, "type").unwrap_or("");
    let type_err = |errs: &mut ErrorList, want: &str, ext: &str| {
        let detail = format!("must be {want} if {ext} is specified");
        if ty.is_empty() {
            errs.push(FieldError::required(&child(path, "type"), detail));
        } else {
            errs.push(FieldError::invalid(&child(path, "type"), ty, detail));
        }
    };
    if let Some(mt) = str_of(s, "x-kubernetes-map-type") {
        if ty != "object" {
            type_err(errs, "object", "x-kubernetes-map-type");
        }
        if mt != "atomic" && mt != "granular" {
            errs.push(FieldError::not_supported(
                &child(path, "x-kubernetes-map-type"),
                mt,
                &["atomic", "granular"],
            ));
        }
    }
    let lt = str_of(s, "x-kubernetes-list-type");
    let items = obj(s)
        .and_then(|m| m.get("items"))
        .filter(|i| i.is_object());
    if let Some(lt) = lt {
        if ty != "array" {
            type_err(errs, "array", "x-kubernetes-list-type");
        } else if lt == "set"
            && let Some(is) = items
        {
            let at = child(path, "items");
            let detail = "must be atomic as item of a list with x-kubernetes-list-type=set";
            match str_of(is, "type") {
                Some("array") => {
                    if let Some(ilt) = str_of(is, "x-kubernetes-list-type")
                        && ilt != "atomic"
                    {
                        errs.push(FieldError::invalid(
                            &child(&at, "x-kubernetes-list-type"),
                            ilt,
                            detail,
                        ));
                    }
                }
                // Upstream reports the items' list type here.
                Some("object") if str_of(is, "x-kubernetes-map-type") != Some("atomic") => {
                    let v = str_of(is, "x-kubernetes-list-type").map_or(Value::Null, Value::from);
                    errs.push(FieldError::invalid(
                        &child(&at, "x-kubernetes-map-type"),
                        v,
                        detail,
                    ));
                }
                _ => {}
            }
        }
        if !matches!(lt, "atomic" | "set" | "map") {
            errs.push(FieldError::not_supported(
                &child(path, "x-kubernetes-list-type"),
                lt,
                &["atomic", "set", "map"],
            ));
        }
    }
    let keys = sub_list(s, "x-kubernetes-list-map-keys");
    if !keys.is_empty() {
        let detail = "must be map if x-kubernetes-list-map-keys is non-empty";
        match lt {
            None => errs.push(FieldError::required(
                &child(path, "x-kubernetes-list-type"),
                detail,
            )),
            Some(l) if l != "map" => errs.push(FieldError::invalid(
                &child(path, "x-kubernetes-list-type"),
                l,
                detail,
            )),
            _ => {}
        }
    }
    if lt != Some("map") {
        return;
    }
    if keys.is_empty() {
        errs.push(FieldError::required(
            &child(path, "x-kubernetes-list-map-keys"),
            "must not be empty if x-kubernetes-list-type is map",
        ));
    }
    let Some(is) = obj(s).and_then(|m| m.get("items")) else {
        errs.push(FieldError::required(
            &child(path, "items"),
            "must have a schema if x-kubernetes-list-type is map",
        ));
        return;
    };
    if is.is_array() {
        errs.push(FieldError::invalid(
            &child(path, "items"),
            is.clone(),
            "must only have a single schema if x-kubernetes-list-type is map",
        ));
        return;
    }
    let ity = str_of(is, "type").unwrap_or("");
    if ity != "object" {
        errs.push(FieldError::invalid(
            &child(&child(path, "items"), "type"),
            ity,
            "must be object if parent array's x-kubernetes-list-type is map",
        ));
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    let keys_path = child(path, "x-kubernetes-list-map-keys");
    for k in keys.iter().filter_map(Value::as_str) {
        match is.pointer(&format!(
            "/properties/{}",
            k.replace('~', "~0").replace('/', "~1")
        )) {
            Some(p) => {
                if matches!(str_of(p, "type"), Some("array" | "object")) {
                    errs.push(FieldError::invalid(
                        &child(&key(&child(&child(path, "items"), "properties"), k), "type"),
                        ity,
                        "must be a scalar type if parent array's x-kubernetes-list-type is map",
                    ));
                }
            }
            None => errs.push(FieldError::invalid(
                &keys_path,
                Value::Array(keys.to_vec()),
                "entries must all be names of item properties",
            )),
        }
        if seen.contains(&k) {
            errs.push(FieldError::invalid(
                &keys_path,
                Value::Array(keys.to_vec()),
                "must not contain duplicate entries",
            ));
        }
        seen.push(k);
    }
}

/// `validateMapListKeysMapSet`: items of sets and map lists, and the keys
/// of map lists, may not be null; keys must be required or defaulted.
fn map_list_keys_and_sets(s: &Value, path: &str, errs: &mut ErrorList) {
    let Some(lt) = str_of(s, "x-kubernetes-list-type").filter(|l| matches!(*l, "set" | "map"))
    else {
        return;
    };
    let Some(is) = obj(s)
        .and_then(|m| m.get("items"))
        .filter(|i| i.is_object())
    else {
        return;
    };
    let items = child(path, "items");
    if flag(is, "nullable") {
        errs.push(FieldError::forbidden(
            &child(&items, "nullable"),
            format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
        ));
    }
    if lt != "map" {
        return;
    }
    let required: Vec<&str> = sub_list(is, "required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for k in sub_list(s, "x-kubernetes-list-map-keys")
        .iter()
        .filter_map(Value::as_str)
    {
        let Some(p) = is.get("properties").and_then(|p| p.get(k)) else {
            continue;
        };
        let at = key(&child(&items, "properties"), k);
        if !required.contains(&k) && !present(p, "default") {
            errs.push(FieldError::required(
                &child(&at, "default"),
                "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
            ));
        }
        if flag(p, "nullable") {
            errs.push(FieldError::forbidden(
                &child(&at, "nullable"),
                "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: &str = "spec.validation.openAPIV3Schema";

    fn msgs(s: Value) -> Vec<String> {
        validate_openapi(&s, P)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn unsupported_keywords_and_defaults() {
        let got = msgs(json!({"type": "object", "properties": {
            "metadata": {"type": "object", "default": {}},
            "spec": {"type": "object", "uniqueItems": true, "$ref": "#/x",
                "properties": {"a": {"type": "null"}, "b": {"type": "date"}},
                "additionalProperties": {"type": "string"}}}}));
        for want in [
            format!(
                "{P}.properties[metadata].default: Forbidden: must not be set in top-level metadata"
            ),
            format!("{P}.properties[spec].$ref: Forbidden: $ref is not supported"),
            format!(
                "{P}.properties[spec].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
            ),
            format!(
                "{P}.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
            ),
            format!(
                "{P}.properties[spec].properties[a].type: Unsupported value: \"null\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\""
            ),
            format!(
                "{P}.properties[spec].properties[a].type: Forbidden: type cannot be set to null, use nullable as an alternative"
            ),
        ] {
            assert!(got.contains(&want), "{want} not in {got:#?}");
        }
    }

    #[test]
    fn list_and_map_types() {
        let got = msgs(json!({"type": "object", "properties": {
            "m": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "nope"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "k": {"type": "string", "x-kubernetes-list-map-keys": ["a"]},
            "t": {"type": "object", "x-kubernetes-map-type": "tree"}}}));
        for want in [
            format!(
                "{P}.properties[m].x-kubernetes-list-map-keys: Invalid value: [\"name\",\"nope\"]: entries must all be names of item properties"
            ),
            format!(
                "{P}.properties[m].items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"
            ),
            format!(
                "{P}.properties[k].x-kubernetes-list-type: Required value: must be map if x-kubernetes-list-map-keys is non-empty"
            ),
            format!(
                "{P}.properties[t].x-kubernetes-map-type: Unsupported value: \"tree\": supported values: \"atomic\", \"granular\""
            ),
        ] {
            assert!(got.contains(&want), "{want} not in {got:#?}");
        }
        assert!(
            msgs(
                json!({"type": "object", "properties": {"s": {"type": "array",
                "x-kubernetes-list-type": "set", "items": {"type": "string"}}}})
            )
            .is_empty()
        );
    }
}
