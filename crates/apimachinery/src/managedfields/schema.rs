//! The type model server-side apply walks objects with, compiled once per
//! resource: which values are scalars, which maps merge field by field or
//! as a whole (`x-kubernetes-map-type`), which lists are atomic, sets or
//! maps keyed by some of their elements' fields (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, or for built-ins without them the strategic
//! merge patch facts), as upstream's schema conversion derives them from
//! the OpenAPI documents (built-in kinds) or a CRD's structural schema.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};

use crate::schema as defs;

pub type NodeId = usize;

/// Values that [`Node::Deduced`] and free-form objects hold: maps merge
/// by field, everything else is atomic.
pub const DEDUCED: NodeId = 0;
/// Values owned as a whole, whatever their shape.
pub const UNTYPED: NodeId = 1;
/// `metadata.managedFields`, which the walks leave alone.
pub const IGNORED: NodeId = 2;

/// The scalar types upstream tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    Numeric,
    String,
    Boolean,
    /// Any scalar (int-or-string, quantities, dates …).
    Untyped,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Scalar(Scalar),
    /// Any value, owned as a whole.
    Untyped,
    /// A value whose shape decides: maps merge by key (values deduced in
    /// turn), lists are atomic.
    Deduced,
    /// Left alone by every walk.
    Ignored,
    Map(MapNode),
    List(ListNode),
}

/// A struct (declared fields) and/or a map (`elem` for other keys).
#[derive(Clone, Debug, PartialEq)]
pub struct MapNode {
    /// Declared fields, sorted by name.
    pub fields: Vec<(String, NodeId)>,
    /// The type of undeclared keys; `None` refuses them.
    pub elem: Option<NodeId>,
    /// `x-kubernetes-map-type: atomic`.
    pub atomic: bool,
}

impl MapNode {
    pub fn field(&self, name: &str) -> Option<NodeId> {
        self.fields
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.fields[i].1)
    }

    /// The type of the value under `key`, declared or not.
    pub fn child(&self, key: &str) -> Option<NodeId> {
        self.field(key).or(self.elem)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListNode {
    pub elem: NodeId,
    pub kind: ListKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ListKind {
    Atomic,
    /// Elements are scalars, identified by value.
    Set,
    /// Elements are maps identified by these fields; a missing key field
    /// takes its default when it has one.
    Map {
        keys: Vec<String>,
        defaults: Vec<Option<Value>>,
    },
}

/// A compiled schema: nodes by id, the root first after the fixed ones.
#[derive(Debug, PartialEq)]
pub struct TypeSchema {
    nodes: Vec<Node>,
    root: NodeId,
}

impl TypeSchema {
    pub fn node(&self, id: NodeId) -> &Node {
        self.nodes.get(id).unwrap_or(&Node::Deduced)
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    /// A schema that knows nothing: every map merges by key, lists are
    /// atomic.
    pub fn deduced() -> TypeSchema {
        let b = Builder::new();
        TypeSchema {
            nodes: b.nodes,
            root: DEDUCED,
        }
    }

    /// The schema of a built-in definition (`io.k8s.api.apps.v1.Deployment`),
    /// compiled once per process.
    pub fn for_definition(name: &str) -> Arc<TypeSchema> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<TypeSchema>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(s) = cache.lock().ok().and_then(|c| c.get(name).cloned()) {
            return s;
        }
        let mut b = Builder::new();
        let root = if defs::definition(name).is_some() {
            b.definition(name)
        } else {
            DEDUCED
        };
        let compiled = Arc::new(TypeSchema {
            nodes: b.nodes,
            root,
        });
        if let Ok(mut c) = cache.lock() {
            c.insert(name.to_string(), compiled.clone());
        }
        compiled
    }

    /// The schema of a custom resource from its version's structural
    /// schema; `metadata` is `ObjectMeta`, as upstream builds it.
    pub fn for_custom_resource(schema: &Value) -> TypeSchema {
        let mut b = Builder::new();
        let root = b.inline(schema, false);
        let meta = b.definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
        let string = b.push(Node::Scalar(Scalar::String));
        if let Some(Node::Map(m)) = b.nodes.get_mut(root) {
            for (name, id) in [("apiVersion", string), ("kind", string), ("metadata", meta)] {
                match m.fields.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
                    Ok(i) => m.fields[i].1 = id,
                    Err(i) => m.fields.insert(i, (name.to_string(), id)),
                }
            }
        }
        TypeSchema {
            nodes: b.nodes,
            root,
        }
    }
}

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const RAW_EXTENSION: &str = "io.k8s.apimachinery.pkg.runtime.RawExtension";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Key fields that default when an element leaves them out, beyond the
/// required ones (which default to their zero value, as upstream's
/// published schemas say).
const KEY_DEFAULTS: &[(&str, &str, &str)] = &[
    ("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP"),
    ("io.k8s.api.core.v1.ServicePort", "protocol", "TCP"),
    ("io.k8s.api.core.v1.LocalObjectReference", "name", ""),
];

struct Builder {
    nodes: Vec<Node>,
    defs: HashMap<String, NodeId>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            nodes: vec![Node::Deduced, Node::Untyped, Node::Ignored],
            defs: HashMap::new(),
        }
    }

    fn push(&mut self, n: Node) -> NodeId {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    /// A built-in definition, compiled once (recursive types refer back to
    /// the id reserved before their body is compiled).
    fn definition(&mut self, name: &str) -> NodeId {
        if let Some(id) = self.defs.get(name) {
            return *id;
        }
        match name {
            QUANTITY => return self.push(Node::Scalar(Scalar::Untyped)),
            RAW_EXTENSION => return UNTYPED,
            _ => {}
        }
        let id = self.push(Node::Deduced);
        self.defs.insert(name.to_string(), id);
        let Some(def) = defs::definition(name) else {
            return id;
        };
        let node = self.build(def, false, Some(name));
        self.nodes[id] = node;
        id
    }

    /// A property's schema in a built-in definition: a reference (with an
    /// optional map-type override) or an inline schema.
    fn reference(&mut self, s: &Value, preserve: bool) -> NodeId {
        match defs::ref_name(s) {
            Some(name) => {
                let id = self.definition(name);
                match map_type(s) {
                    Some(atomic) => match self.nodes.get(id) {
                        Some(Node::Map(m)) if m.atomic != atomic => {
                            let mut m = m.clone();
                            m.atomic = atomic;
                            self.push(Node::Map(m))
                        }
                        _ => id,
                    },
                    None => id,
                }
            }
            None => self.inline(s, preserve),
        }
    }

    fn inline(&mut self, s: &Value, preserve: bool) -> NodeId {
        let node = self.build(s, preserve, None);
        match node {
            Node::Deduced => DEDUCED,
            Node::Untyped => UNTYPED,
            n => self.push(n),
        }
    }

    fn build(&mut self, s: &Value, preserve: bool, def_name: Option<&str>) -> Node {
        let preserve =
            preserve || s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        let props = s.get("properties").and_then(Value::as_object);
        match s.get("type").and_then(Value::as_str).unwrap_or("") {
            "object" => self.object(s, props, preserve, def_name),
            "" if props.is_some() => self.object(s, props, preserve, def_name),
            "" => Node::Deduced,
            "array" => self.array(s, preserve),
            "integer" | "number" => Node::Scalar(Scalar::Numeric),
            "boolean" => Node::Scalar(Scalar::Boolean),
            "string" => match s.get("format").and_then(Value::as_str).unwrap_or("") {
                "" | "byte" => Node::Scalar(Scalar::String),
                _ => Node::Scalar(Scalar::Untyped),
            },
            _ => Node::Scalar(Scalar::Untyped),
        }
    }

    fn object(
        &mut self,
        s: &Value,
        props: Option<&Map<String, Value>>,
        preserve: bool,
        def_name: Option<&str>,
    ) -> Node {
        let mut fields = Vec::new();
        for (name, p) in props.into_iter().flatten() {
            let id = if def_name == Some(OBJECT_META) && name == "managedFields" {
                IGNORED
            } else {
                self.reference(p, preserve)
            };
            fields.push((name.clone(), id));
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let elem = match s.get("additionalProperties") {
            Some(Value::Bool(true)) => Some(DEDUCED),
            Some(Value::Bool(false)) => None,
            Some(ap) if ap.is_object() => Some(self.reference(ap, preserve)),
            _ if preserve || fields.is_empty() => Some(DEDUCED),
            _ => None,
        };
        Node::Map(MapNode {
            fields,
            elem,
            atomic: map_type(s) == Some(true),
        })
    }

    fn array(&mut self, s: &Value, preserve: bool) -> Node {
        let items = s.get("items").filter(|i| i.is_object());
        let elem = match items {
            Some(i) => self.reference(i, preserve),
            None => UNTYPED,
        };
        let kind = match list_type(s) {
            ListType::Atomic => ListKind::Atomic,
            ListType::Set => ListKind::Set,
            ListType::Map(keys) => {
                let defaults = keys
                    .iter()
                    .map(|k| items.and_then(|i| key_default(i, k)))
                    .collect();
                ListKind::Map { keys, defaults }
            }
        };
        Node::List(ListNode { elem, kind })
    }
}

enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// The list type, from `x-kubernetes-list-type` or else the strategic
/// merge facts (a merge strategy with a key is a map, without one a set).
fn list_type(s: &Value) -> ListType {
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect()
    };
    match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => return ListType::Set,
        Some("map") => return ListType::Map(strings(s.get("x-kubernetes-list-map-keys"))),
        Some(_) => return ListType::Atomic,
        None => {}
    }
    match s.get("x-kubernetes-patch-strategy").and_then(Value::as_str) {
        Some("merge" | "merge,retainKeys") => {
            match s
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
            {
                Some(k) => ListType::Map(vec![k.to_string()]),
                None => ListType::Set,
            }
        }
        _ => ListType::Atomic,
    }
}

/// `Some(true)` for `x-kubernetes-map-type: atomic`, `Some(false)` for
/// granular, `None` when unset.
fn map_type(s: &Value) -> Option<bool> {
    match s.get("x-kubernetes-map-type").and_then(Value::as_str) {
        Some("atomic") => Some(true),
        Some("granular") => Some(false),
        _ => None,
    }
}

/// The default of a list-map key field: the schema's `default`, the
/// known built-in defaults, or the zero value of a required field.
fn key_default(items: &Value, key: &str) -> Option<Value> {
    let name = defs::ref_name(items);
    let item = defs::resolve(items);
    let prop = item.get("properties").and_then(|p| p.get(key))?;
    if let Some(d) = prop.get("default") {
        return Some(d.clone());
    }
    let name = name?;
    if let Some((_, _, d)) = KEY_DEFAULTS
        .iter()
        .find(|(def, field, _)| *def == name && *field == key)
    {
        return Some(Value::from(*d));
    }
    let required = item
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(key)));
    if !required {
        return None;
    }
    match defs::resolve(prop).get("type").and_then(Value::as_str)? {
        "string" => Some(Value::from("")),
        "integer" | "number" => Some(Value::from(0)),
        "boolean" => Some(Value::Bool(false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(s: &TypeSchema, id: NodeId) -> &MapNode {
        match s.node(id) {
            Node::Map(m) => m,
            other => panic!("not a map: {other:?}"),
        }
    }

    fn list(s: &TypeSchema, id: NodeId) -> &ListNode {
        match s.node(id) {
            Node::List(l) => l,
            other => panic!("not a list: {other:?}"),
        }
    }

    fn at(s: &TypeSchema, path: &[&str]) -> NodeId {
        let mut id = s.root();
        for seg in path {
            id = match s.node(id) {
                Node::Map(m) => m.child(seg).expect(seg),
                Node::List(l) => {
                    let Node::Map(m) = s.node(l.elem) else {
                        panic!("list of non-maps at {seg}")
                    };
                    m.child(seg).expect(seg)
                }
                other => panic!("{other:?} at {seg}"),
            };
        }
        id
    }

    #[test]
    fn built_in_lists_and_maps_take_upstreams_facts() {
        let d = TypeSchema::for_definition("io.k8s.api.apps.v1.Deployment");
        let containers = list(&d, at(&d, &["spec", "template", "spec", "containers"]));
        assert_eq!(
            containers.kind,
            ListKind::Map {
                keys: vec!["name".into()],
                defaults: vec![Some(json!(""))]
            }
        );
        let ports = list(
            &d,
            at(&d, &["spec", "template", "spec", "containers", "ports"]),
        );
        assert_eq!(
            ports.kind,
            ListKind::Map {
                keys: vec!["containerPort".into(), "protocol".into()],
                defaults: vec![Some(json!(0)), Some(json!("TCP"))]
            }
        );
        let args = list(
            &d,
            at(&d, &["spec", "template", "spec", "containers", "args"]),
        );
        assert_eq!(args.kind, ListKind::Atomic);
        let finalizers = list(&d, at(&d, &["metadata", "finalizers"]));
        assert_eq!(finalizers.kind, ListKind::Set);
        assert!(map(&d, at(&d, &["spec", "selector"])).atomic);
        assert!(!map(&d, at(&d, &["spec", "template"])).atomic);
        let labels = map(&d, at(&d, &["metadata", "labels"]));
        assert_eq!(
            labels.elem.map(|e| d.node(e).clone()),
            Some(Node::Scalar(Scalar::String))
        );
        assert_eq!(at(&d, &["metadata", "managedFields"]), IGNORED);
        assert_eq!(
            d.node(at(
                &d,
                &[
                    "spec",
                    "template",
                    "spec",
                    "containers",
                    "resources",
                    "limits",
                    "cpu"
                ]
            )),
            &Node::Scalar(Scalar::Untyped)
        );
        assert_eq!(
            map(&d, d.root()).elem,
            None,
            "undeclared fields are refused"
        );
        // Compiled once.
        assert!(Arc::ptr_eq(
            &d,
            &TypeSchema::for_definition("io.k8s.api.apps.v1.Deployment")
        ));
    }

    #[test]
    fn recursive_definitions_compile() {
        let crd = TypeSchema::for_definition(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        );
        let props = at(
            &crd,
            &[
                "spec",
                "versions",
                "schema",
                "openAPIV3Schema",
                "properties",
            ],
        );
        let inner = map(&crd, props).elem.expect("elem");
        assert!(matches!(crd.node(inner), Node::Map(_)));
    }

    #[test]
    fn custom_resource_schemas() {
        let s = TypeSchema::for_custom_resource(&json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "items": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["id"],
                        "items": {"type": "object", "properties": {
                            "id": {"type": "string", "default": "x"}, "v": {"type": "integer"}}}},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "plain": {"type": "array", "items": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "sel": {"type": "object", "x-kubernetes-map-type": "atomic",
                        "properties": {"a": {"type": "string"}}}}},
                "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}}}}
        }));
        assert_eq!(
            list(&s, at(&s, &["spec", "items"])).kind,
            ListKind::Map {
                keys: vec!["id".into()],
                defaults: vec![Some(json!("x"))]
            }
        );
        assert_eq!(list(&s, at(&s, &["spec", "tags"])).kind, ListKind::Set);
        assert_eq!(list(&s, at(&s, &["spec", "plain"])).kind, ListKind::Atomic);
        assert_eq!(map(&s, at(&s, &["spec", "free"])).elem, Some(DEDUCED));
        assert!(map(&s, at(&s, &["spec", "sel"])).atomic);
        // metadata is ObjectMeta, whatever the CRD says.
        assert!(matches!(
            s.node(at(&s, &["metadata", "labels"])),
            Node::Map(_)
        ));
        assert_eq!(
            s.node(at(&s, &["apiVersion"])),
            &Node::Scalar(Scalar::String)
        );
    }
}
