//! The CEL view of a structural schema that cost estimation needs: for each
//! node its kind, the most elements a value there may hold (characters of a
//! string, items of a list, entries of a map) and the fewest bytes it takes
//! in JSON — upstream's `SchemaDeclType` with its `MaxElements` and
//! `MinSerializedSize`. Bounds come from `maxLength`/`maxItems`/
//! `maxProperties`, else from how many such values fit in a 3 MiB request.
//!
//! [`Decl::sized`] gives the same tree bounded by an actual value instead,
//! which is how an evaluation is charged.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{additional, embedded, escape, flag, properties, type_of};

/// The largest request body a value can arrive in (`MaxRequestSizeBytes`).
pub const MAX_REQUEST_BYTES: u64 = 3 * 1024 * 1024;
/// Longest JSON form of a `duration` and a `date-time`, quotes included.
const MAX_DURATION_JSON: u64 = 32;
const MAX_DATETIME_JSON: u64 = 32;
/// Shortest JSON forms: `"0"`, a date, a date-time, `""`, `true`, `0`.
const MIN_DURATION_JSON: u64 = 3;
const DATE_JSON: u64 = 12;
const MIN_DATETIME_JSON: u64 = 21;
const MIN_STRING: u64 = 2;
const MIN_BOOL: u64 = 4;
const MIN_NUMBER: u64 = 1;

/// One schema node as CEL sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    pub kind: Kind,
    /// Most characters, items or entries; 0 for scalars and objects.
    pub max_elements: u64,
    /// Fewest bytes of its JSON form.
    pub min_size: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Bool,
    Int,
    Double,
    String,
    Bytes,
    Duration,
    Timestamp,
    /// `x-kubernetes-int-or-string`.
    Dyn,
    List(Box<Decl>),
    /// A map's values (its keys are strings).
    Map(Box<Decl>),
    /// An object's fields by their CEL (escaped) names, with their JSON names.
    Object(BTreeMap<String, Field>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub json: String,
    pub decl: Decl,
}

/// The keys of every map: strings without a known bound.
pub static MAP_KEY: Decl = Decl {
    kind: Kind::String,
    max_elements: 0,
    min_size: MIN_STRING,
};

fn scalar(kind: Kind, min_size: u64) -> Decl {
    Decl {
        kind,
        max_elements: 0,
        min_size,
    }
}

fn int_of(s: &Value, k: &str) -> Option<u64> {
    let n = s.get(k)?;
    let v = n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?;
    Some(v.max(0) as u64)
}

impl Decl {
    /// The declaration of `s`, or `None` where CEL cannot see the value
    /// (no type, or items/values CEL cannot see). `root` marks a resource
    /// root, where `apiVersion`, `kind` and `metadata.name`/`generateName`
    /// are always visible.
    pub fn from_schema(s: &Value, root: bool) -> Option<Decl> {
        if flag(s, "x-kubernetes-int-or-string") {
            let max = match int_of(s, "maxLength") {
                Some(m) => m.saturating_mul(4),
                None => MAX_REQUEST_BYTES - 2,
            };
            return Some(Decl {
                kind: Kind::Dyn,
                max_elements: max,
                min_size: 1,
            });
        }
        match type_of(s) {
            "array" => {
                let items = s.get("items").filter(|i| i.is_object())?;
                let item = Decl::from_schema(items, embedded(items))?;
                let max =
                    int_of(s, "maxItems").unwrap_or((MAX_REQUEST_BYTES - 2) / (item.min_size + 1));
                Some(Decl {
                    kind: Kind::List(Box::new(item)),
                    max_elements: max,
                    min_size: 2,
                })
            }
            "object" => match additional(s) {
                Some(ap) => {
                    let value = Decl::from_schema(ap, embedded(ap))?;
                    let max = int_of(s, "maxProperties")
                        .unwrap_or((MAX_REQUEST_BYTES - 2) / (value.min_size + 6));
                    Some(Decl {
                        kind: Kind::Map(Box::new(value)),
                        max_elements: max,
                        min_size: 2,
                    })
                }
                None => Some(object(s, root)),
            },
            "string" => Some(string(s)),
            "boolean" => Some(scalar(Kind::Bool, MIN_BOOL)),
            "number" => Some(scalar(Kind::Double, MIN_NUMBER)),
            "integer" => Some(scalar(Kind::Int, MIN_NUMBER)),
            _ => None,
        }
    }

    /// The field CEL names `name`, if this is an object that has it.
    pub fn field(&self, name: &str) -> Option<&Decl> {
        match &self.kind {
            Kind::Object(f) => f.get(name).map(|f| &f.decl),
            _ => None,
        }
    }

    /// The items of a list or the values of a map.
    pub fn elem(&self) -> Option<&Decl> {
        match &self.kind {
            Kind::List(d) | Kind::Map(d) => Some(d),
            _ => None,
        }
    }

    /// This declaration bounded by `values` instead of the schema: each
    /// node's `max_elements` is the largest size found there (strings in
    /// characters, as CEL's `size()` counts them).
    pub fn sized(&self, values: &[&Value]) -> Decl {
        let mut out = Decl {
            kind: self.kind.clone(),
            max_elements: self.max_elements,
            min_size: self.min_size,
        };
        match &self.kind {
            Kind::String | Kind::Bytes | Kind::Dyn => {
                out.max_elements = values
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(|s| s.chars().count() as u64)
                    .max()
                    .unwrap_or(0);
            }
            Kind::List(item) => {
                let lists: Vec<&Vec<Value>> = values.iter().filter_map(|v| v.as_array()).collect();
                out.max_elements = lists.iter().map(|l| l.len() as u64).max().unwrap_or(0);
                let all: Vec<&Value> = lists.iter().flat_map(|l| l.iter()).collect();
                out.kind = Kind::List(Box::new(item.sized(&all)));
            }
            Kind::Map(value) => {
                let maps: Vec<_> = values.iter().filter_map(|v| v.as_object()).collect();
                out.max_elements = maps.iter().map(|m| m.len() as u64).max().unwrap_or(0);
                let all: Vec<&Value> = maps.iter().flat_map(|m| m.values()).collect();
                out.kind = Kind::Map(Box::new(value.sized(&all)));
            }
            Kind::Object(fields) => {
                let objs: Vec<_> = values.iter().filter_map(|v| v.as_object()).collect();
                let sized = fields
                    .iter()
                    .map(|(name, f)| {
                        let vals: Vec<&Value> =
                            objs.iter().filter_map(|o| o.get(&f.json)).collect();
                        let field = Field {
                            json: f.json.clone(),
                            decl: f.decl.sized(&vals),
                        };
                        (name.clone(), field)
                    })
                    .collect();
                out.kind = Kind::Object(sized);
            }
            Kind::Bool | Kind::Int | Kind::Double | Kind::Duration | Kind::Timestamp => {}
        }
        out
    }
}

fn string(s: &Value) -> Decl {
    let format = s.get("format").and_then(Value::as_str).unwrap_or("");
    let max_length = int_of(s, "maxLength");
    match format {
        "byte" => Decl {
            kind: Kind::Bytes,
            max_elements: max_length.unwrap_or(MAX_REQUEST_BYTES - 2),
            min_size: MIN_STRING,
        },
        "duration" => Decl {
            kind: Kind::Duration,
            max_elements: MAX_DURATION_JSON,
            min_size: MIN_DURATION_JSON,
        },
        "date" => Decl {
            kind: Kind::Timestamp,
            max_elements: DATE_JSON,
            min_size: DATE_JSON,
        },
        "date-time" => Decl {
            kind: Kind::Timestamp,
            max_elements: MAX_DATETIME_JSON,
            min_size: MIN_DATETIME_JSON,
        },
        _ => {
            let enum_max = s
                .get("enum")
                .and_then(Value::as_array)
                .filter(|e| !e.is_empty())
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .map(|v| v.len() as u64)
                        .max()
                        .unwrap_or(0)
                });
            // maxLength counts characters; a character may take 4 bytes.
            let max = match (max_length, enum_max) {
                (Some(m), _) => m.saturating_mul(4),
                (None, Some(e)) => e,
                (None, None) => MAX_REQUEST_BYTES - 2,
            };
            Decl {
                kind: Kind::String,
                max_elements: max,
                min_size: MIN_STRING,
            }
        }
    }
}

fn plain_string() -> Value {
    serde_json::json!({"type": "string"})
}

/// Whether a resource root already declares `kind`, `apiVersion` and
/// `metadata.name`/`generateName` as strings.
fn has_type_and_meta(s: &Value) -> bool {
    let p = |ptr: &str| s.pointer(ptr).map(type_of);
    p("/properties/kind") == Some("string")
        && p("/properties/apiVersion") == Some("string")
        && p("/properties/metadata") == Some("object")
        && p("/properties/metadata/properties/name") == Some("string")
        && p("/properties/metadata/properties/generateName") == Some("string")
}

fn object(s: &Value, root: bool) -> Decl {
    let mut props: Vec<(String, Value)> = properties(s)
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if root && !has_type_and_meta(s) {
        props.retain(|(k, _)| !matches!(k.as_str(), "kind" | "apiVersion" | "metadata"));
        props.push(("kind".into(), plain_string()));
        props.push(("apiVersion".into(), plain_string()));
        props.push((
            "metadata".into(),
            serde_json::json!({"type": "object", "properties": {
                "name": plain_string(), "generateName": plain_string()}}),
        ));
    }
    let required: Vec<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut fields = BTreeMap::new();
    let mut min_size = 2;
    for (name, prop) in &props {
        let Some(decl) = Decl::from_schema(prop, embedded(prop)) else {
            continue;
        };
        // Required fields without a default are always serialized.
        if required.contains(&name.as_str()) && prop.get("default").is_none() {
            min_size += name.len() as u64 + decl.min_size + 4;
        }
        if let Some(cel_name) = escape(name) {
            fields.insert(
                cel_name,
                Field {
                    json: name.clone(),
                    decl,
                },
            );
        }
    }
    Decl {
        kind: Kind::Object(fields),
        max_elements: 0,
        min_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounds_from_the_schema_or_the_request_size() {
        let d = |s: Value| Decl::from_schema(&s, false).expect("decl");
        assert_eq!(
            d(json!({"type": "array", "items": {"type": "number"}})).max_elements,
            1_572_863
        );
        assert_eq!(
            d(json!({"type": "array", "items": {"type": "string"}, "maxItems": 7})).max_elements,
            7
        );
        assert_eq!(
            d(json!({"type": "object", "additionalProperties": {"type": "number"}})).max_elements,
            449_389
        );
        assert_eq!(
            d(json!({"type": "string", "maxLength": 10})).max_elements,
            40
        );
        assert_eq!(
            d(json!({"type": "string", "enum": ["A", "LongValue"]})).max_elements,
            9
        );
        let obj = d(
            json!({"type": "object", "required": ["required"], "properties": {
            "required": {"type": "string"}, "optional": {"type": "string"}}}),
        );
        assert_eq!(obj.min_size, 2 + 8 + 2 + 4);
        assert!(
            Decl::from_schema(
                &json!({"x-kubernetes-preserve-unknown-fields": true}),
                false
            )
            .is_none()
        );
    }

    #[test]
    fn resource_roots_see_type_and_object_meta() {
        let root = Decl::from_schema(&json!({"type": "object"}), true).expect("decl");
        assert!(root.field("kind").is_some());
        assert!(
            root.field("metadata")
                .and_then(|m| m.field("name"))
                .is_some()
        );
    }

    #[test]
    fn sized_by_actual_values() {
        let d = Decl::from_schema(
            &json!({"type": "object", "properties": {"l": {"type": "array", "items": {"type": "string"}}}}),
            false,
        )
        .expect("decl");
        let v = json!({"l": ["ab", "cdé", ""]});
        let s = d.sized(&[&v]);
        let l = s.field("l").expect("l");
        assert_eq!(l.max_elements, 3);
        assert_eq!(l.elem().map(|i| i.max_elements), Some(3));
    }
}
