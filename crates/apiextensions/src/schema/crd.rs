//! Checks of a CRD's own `openAPIV3Schema`: the structural-schema invariants
//! of upstream's `schema/validation.go` (`validateStructuralInvariants` and the
//! rules for value validations under `anyOf`/`allOf`/`oneOf`/`not`), plus
//! `x-kubernetes-preserve-unknown-fields: false` being rejected as the CRD
//! API validation does.
//!
//! Also upstream's completeness check: what the root's junctors name must be
//! declared outside them. The per-keyword API checks are `openapi.rs`.

use kaiser_apimachinery::field::{ErrorList, FieldError, child, key};
use serde_json::{Value, json};

use super::{
    Additional, EMBEDDED, INT_OR_STRING, MAX_DEPTH, PRESERVE, additional, flag, items, obj, str_of,
};

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
}

/// The structural-schema errors of `schema`, found at `path` (for example
/// `spec.versions[0].schema.openAPIV3Schema`), sorted as upstream sorts them.
pub fn validate_crd_schema(schema: &Value, path: &str) -> ErrorList {
    let mut api = Vec::new();
    preserve_false(schema, path, &mut api, 0);
    let mut errs = Vec::new();
    invariants(schema, Level::Root, path, &mut errs, 0);
    completeness(schema, Some(schema), path, path, &mut errs, 0);
    errs.sort_by_key(ToString::to_string);
    api.extend(errs);
    ErrorList(api)
}

fn preserve_false(s: &Value, path: &str, errs: &mut Vec<FieldError>, depth: usize) {
    let Some(m) = obj(s) else {
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    if m.get(PRESERVE) == Some(&Value::Bool(false)) {
        errs.push(FieldError::invalid(
            &child(path, PRESERVE),
            false,
            "must be true or undefined",
        ));
    }
    for (k, v) in m {
        match (k.as_str(), v) {
            ("properties", Value::Object(p)) => {
                for (name, sub) in p {
                    preserve_false(sub, &key(&child(path, "properties"), name), errs, depth + 1);
                }
            }
            ("items" | "additionalProperties" | "not", sub) => {
                preserve_false(sub, &child(path, k), errs, depth + 1)
            }
            ("anyOf" | "allOf" | "oneOf", Value::Array(a)) => {
                for (i, sub) in a.iter().enumerate() {
                    preserve_false(sub, &key(&child(path, k), i), errs, depth + 1);
                }
            }
            _ => {}
        }
    }
}

fn type_of(s: &Value) -> &str {
    str_of(s, "type").unwrap_or("")
}

fn list<'a>(s: &'a Value, k: &str) -> &'a [Value] {
    obj(s)
        .and_then(|m| m.get(k))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn int_or_string_any_of(any: &[Value]) -> bool {
    any == [json!({"type": "integer"}), json!({"type": "string"})]
}

fn invariants(s: &Value, lvl: Level, path: &str, errs: &mut Vec<FieldError>, depth: usize) {
    let Some(m) = obj(s) else {
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    let ty = type_of(s);
    let props_path = child(path, "properties");

    if ty == "array" && items(s).is_none() {
        errs.push(FieldError::required(
            &child(path, "items"),
            "must be specified",
        ));
    }
    if let Some(item) = items(s) {
        invariants(item, Level::Item, &child(path, "items"), errs, depth + 1);
    }
    if let Some(p) = m.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            invariants(v, Level::Field, &key(&props_path, k), errs, depth + 1);
        }
    }
    let add = additional(s);
    if !matches!(add, Additional::Absent) {
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(
                &child(path, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if let Additional::Schema(a) = add {
            invariants(
                a,
                Level::Field,
                &child(path, "additionalProperties"),
                errs,
                depth + 1,
            );
        }
    }

    let int_or_string = flag(s, INT_OR_STRING);
    let preserve = flag(s, PRESERVE);
    let embedded = flag(s, EMBEDDED);
    if int_or_string && preserve {
        errs.push(FieldError::invalid(
            &child(path, PRESERVE),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        errs.push(FieldError::invalid(
            &child(path, EMBEDDED),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }

    let skip_any_of = int_or_string_any_of(list(s, "anyOf"));
    let skip_first_all_of = list(s, "allOf")
        .first()
        .is_some_and(|f| int_or_string_any_of(list(f, "anyOf")));
    value_validation(s, skip_any_of, skip_first_all_of, path, errs, depth);

    let check_metadata = lvl == Level::Root || embedded;
    if embedded && ty != "object" {
        let d = "must be object if x-kubernetes-embedded-resource is true";
        if ty.is_empty() {
            errs.push(FieldError::required(&child(path, "type"), d));
        } else {
            errs.push(FieldError::invalid(&child(path, "type"), ty, d));
        }
    } else if ty.is_empty() && !int_or_string && !preserve {
        let d = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(&child(path, "type"), d));
    }
    if embedded && !matches!(add, Additional::Absent) {
        errs.push(FieldError::forbidden(
            &child(path, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(FieldError::invalid(
            &child(path, "type"),
            ty,
            "must be object at the root",
        ));
    }

    let prop = |k: &str| m.get("properties").and_then(|p| p.get(k));
    if check_metadata {
        for k in ["kind", "apiVersion"] {
            if let Some(p) = prop(k)
                && type_of(p) != "string"
            {
                errs.push(FieldError::invalid(
                    &child(&key(&props_path, k), "type"),
                    type_of(p),
                    "must be string",
                ));
            }
        }
    }
    if let Some(meta) = prop("metadata") {
        let meta_path = key(&props_path, "metadata");
        if check_metadata && type_of(meta) != "object" {
            errs.push(FieldError::invalid(
                &child(&meta_path, "type"),
                type_of(meta),
                "must be object",
            ));
        }
        if lvl == Level::Root && !root_metadata_ok(meta) {
            errs.push(FieldError::forbidden(
                &meta_path,
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }

    let no_props = m
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(|p| p.is_empty());
    if embedded && !preserve && no_props {
        errs.push(FieldError::required(
            &props_path,
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// Upstream's `validateStructuralCompleteness`: every field and item the
/// root's `not`/`allOf`/`anyOf`/`oneOf` talk about must also be declared
/// by the structural schema `s` (at `s_path`).
fn completeness(
    v: &Value,
    s: Option<&Value>,
    s_path: &str,
    v_path: &str,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(not) = obj(v).and_then(|m| m.get("not")) {
        nested_completeness(not, s, s_path, &child(v_path, "not"), errs, depth + 1);
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        for (i, sub) in list(v, k).iter().enumerate() {
            let at = key(&child(v_path, k), i);
            nested_completeness(sub, s, s_path, &at, errs, depth + 1);
        }
    }
}

fn nested_completeness(
    v: &Value,
    s: Option<&Value>,
    s_path: &str,
    v_path: &str,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if !v.is_object() || depth > MAX_DEPTH {
        return;
    }
    let Some(s) = s else {
        errs.push(FieldError::required(
            s_path,
            format!("because it is defined in {v_path}"),
        ));
        return;
    };
    completeness(v, Some(s), s_path, v_path, errs, depth);
    if let Some(vi) = obj(v).and_then(|m| m.get("items")) {
        nested_completeness(
            vi,
            items(s),
            &child(s_path, "items"),
            &child(v_path, "items"),
            errs,
            depth + 1,
        );
    }
    if let Some(props) = obj(v)
        .and_then(|m| m.get("properties"))
        .and_then(Value::as_object)
    {
        for (k, vf) in props {
            let sp = key(&child(s_path, "properties"), k);
            let vp = key(&child(v_path, "properties"), k);
            match obj(s)
                .and_then(|m| m.get("properties"))
                .and_then(|p| p.get(k))
            {
                Some(sf) => nested_completeness(vf, Some(sf), &sp, &vp, errs, depth + 1),
                None => errs.push(FieldError::required(
                    &sp,
                    format!("because it is defined in {vp}"),
                )),
            }
        }
    }
}

/// Root `metadata` may only carry `type`, `default` and a `properties` that
/// names nothing but `name` and/or `generateName`.
fn root_metadata_ok(meta: &Value) -> bool {
    let Some(m) = obj(meta) else {
        return true;
    };
    m.iter().all(|(k, v)| match k.as_str() {
        "type" | "default" => true,
        "properties" => v
            .as_object()
            .is_some_and(|p| p.keys().all(|k| k == "name" || k == "generateName")),
        _ => false,
    })
}

fn value_validation(
    s: &Value,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    path: &str,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if !skip_any_of {
        for (i, v) in list(s, "anyOf").iter().enumerate() {
            nested(v, false, &key(&child(path, "anyOf"), i), errs, depth + 1);
        }
    }
    for (i, v) in list(s, "allOf").iter().enumerate() {
        nested(
            v,
            skip_first_all_of_any_of && i == 0,
            &key(&child(path, "allOf"), i),
            errs,
            depth + 1,
        );
    }
    for (i, v) in list(s, "oneOf").iter().enumerate() {
        nested(v, false, &key(&child(path, "oneOf"), i), errs, depth + 1);
    }
    if let Some(not) = obj(s).and_then(|m| m.get("not")) {
        nested(not, false, &child(path, "not"), errs, depth + 1);
    }
    if let Some(p) = str_of(s, "pattern").filter(|p| !p.is_empty())
        && let Err(e) = regex::Regex::new(p)
    {
        errs.push(FieldError::invalid(
            &child(path, "pattern"),
            p,
            format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
}

/// A schema under a logic junctor: value validations only.
fn nested(s: &Value, skip_any_of: bool, path: &str, errs: &mut Vec<FieldError>, depth: usize) {
    let Some(m) = obj(s) else {
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    value_validation(s, skip_any_of, false, path, errs, depth);
    if let Some(item) = m.get("items") {
        nested(item, false, &child(path, "items"), errs, depth + 1);
    }
    if let Some(p) = m.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            nested(
                v,
                false,
                &key(&child(path, "properties"), k),
                errs,
                depth + 1,
            );
        }
    }
    let forbid = |errs: &mut Vec<FieldError>, f: &str, d: &str| {
        errs.push(FieldError::forbidden(&child(path, f), d))
    };
    if !type_of(s).is_empty() {
        forbid(errs, "type", "must be empty to be structural");
    }
    if m.contains_key("additionalProperties") {
        forbid(
            errs,
            "additionalProperties",
            "must be undefined to be structural",
        );
    }
    if m.contains_key("default") {
        forbid(errs, "default", "must be undefined to be structural");
    }
    if !str_of(s, "title").unwrap_or("").is_empty() {
        forbid(errs, "title", "must be empty to be structural");
    }
    if !str_of(s, "description").unwrap_or("").is_empty() {
        forbid(errs, "description", "must be empty to be structural");
    }
    if flag(s, "nullable") {
        forbid(errs, "nullable", "must be false to be structural");
    }
    if m.contains_key("externalDocs") {
        forbid(errs, "externalDocs", "must be undefined to be structural");
    }
    for f in [PRESERVE, EMBEDDED, INT_OR_STRING] {
        if flag(s, f) {
            forbid(errs, f, "must be false to be structural");
        }
    }
    if !list(s, "x-kubernetes-list-map-keys").is_empty() {
        forbid(
            errs,
            "x-kubernetes-list-map-keys",
            "must be empty to be structural",
        );
    }
    for f in ["x-kubernetes-list-type", "x-kubernetes-map-type"] {
        if m.get(f).is_some_and(|v| !v.is_null()) {
            forbid(errs, f, "must be undefined to be structural");
        }
    }
    if !list(s, "x-kubernetes-validations").is_empty() {
        forbid(
            errs,
            "x-kubernetes-validations",
            "must be empty to be structural",
        );
    }
    if m.get("properties")
        .and_then(|p| p.get("metadata"))
        .is_some()
    {
        errs.push(FieldError::forbidden(
            &key(&child(path, "properties"), "metadata"),
            "must not be specified in a nested context",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "spec.versions[0].schema.openAPIV3Schema";

    fn msgs(s: Value) -> Vec<String> {
        validate_crd_schema(&s, P)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_good_schema_passes() {
        let s = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}},
            "spec": {"type": "object", "properties": {
                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "l": {"type": "array", "items": {"type": "string"}},
                "m": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"x-kubernetes-preserve-unknown-fields": true},
                "v": {"type": "integer", "anyOf": [{"minimum": 1}, {"maximum": -1}]}
            }}
        }});
        assert!(msgs(s).is_empty());
    }

    #[test]
    fn type_rules() {
        assert_eq!(
            msgs(
                json!({"type": "object", "properties": {"spec": {}, "l": {"type": "array", "items": {}}, "a": {"type": "array"}}})
            ),
            vec![
                format!("{P}.properties[a].items: Required value: must be specified"),
                format!(
                    "{P}.properties[l].items.type: Required value: must not be empty for specified array items"
                ),
                format!(
                    "{P}.properties[spec].type: Required value: must not be empty for specified object fields"
                ),
            ]
        );
        assert_eq!(
            msgs(json!({"type": "string"})),
            vec![format!(
                r#"{P}.type: Invalid value: "string": must be object at the root"#
            )]
        );
        assert_eq!(
            msgs(json!({})),
            vec![format!(
                "{P}.type: Required value: must not be empty at the root"
            )]
        );
        assert_eq!(
            msgs(json!({"type": "object", "additionalProperties": {"type": "string"}})),
            vec![format!(
                "{P}.additionalProperties: Forbidden: must not be used at the root"
            )]
        );
    }

    #[test]
    fn metadata_and_embedded() {
        assert_eq!(
            msgs(
                json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}})
            ),
            vec![format!(
                "{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"
            )]
        );
        assert_eq!(
            msgs(json!({"type": "object", "properties": {"kind": {"type": "integer"}}})),
            vec![format!(
                r#"{P}.properties[kind].type: Invalid value: "integer": must be string"#
            )]
        );
        assert_eq!(
            msgs(
                json!({"type": "object", "properties": {"e": {"x-kubernetes-embedded-resource": true}}})
            ),
            vec![
                format!(
                    "{P}.properties[e].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"
                ),
                format!(
                    "{P}.properties[e].type: Required value: must be object if x-kubernetes-embedded-resource is true"
                ),
            ]
        );
    }

    #[test]
    fn junctors_and_extensions() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
            "anyOf": [{"type": "object", "default": 1, "properties": {"metadata": {}}}],
            "x-kubernetes-preserve-unknown-fields": false}}});
        assert_eq!(
            msgs(s),
            vec![
                format!(
                    "{P}.properties[spec].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"
                ),
                format!(
                    "{P}.properties[spec].anyOf[0].default: Forbidden: must be undefined to be structural"
                ),
                format!(
                    "{P}.properties[spec].anyOf[0].properties[metadata]: Forbidden: must not be specified in a nested context"
                ),
                format!(
                    "{P}.properties[spec].anyOf[0].type: Forbidden: must be empty to be structural"
                ),
            ]
        );
        let s = json!({"type": "object", "properties": {"p": {"x-kubernetes-int-or-string": true,
            "x-kubernetes-preserve-unknown-fields": true, "pattern": "("}}});
        let e = msgs(s);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with(&format!(
            r#"{P}.properties[p].pattern: Invalid value: "(": must be a valid regular expression"#
        )));
        assert_eq!(
            e[1],
            format!(
                "{P}.properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true"
            )
        );
    }

    #[test]
    fn junctors_may_only_name_declared_fields() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
                "properties": {"a": {"type": "string"}}}},
            "anyOf": [{"properties": {"spec": {"properties": {"a": {}, "b": {}}}}},
                      {"properties": {"other": {}}}]});
        assert_eq!(
            msgs(s),
            vec![
                format!(
                    "{P}.properties[other]: Required value: because it is defined in {P}.anyOf[1].properties[other]"
                ),
                format!(
                    "{P}.properties[spec].properties[b]: Required value: because it is defined in {P}.anyOf[0].properties[spec].properties[b]"
                ),
            ]
        );
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        for s in [
            json!(null),
            json!(1),
            json!({"properties": [1], "items": 3, "anyOf": {}, "type": 7}),
        ] {
            let _ = validate_crd_schema(&s, "");
        }
    }
}
