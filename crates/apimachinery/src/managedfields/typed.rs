//! Walks of JSON values along a [`TypeSchema`]: the field set a value
//! makes, the comparison of two values (added, modified, removed paths),
//! the apply merge, removal of a set of paths, and the validation of an
//! applied configuration. Upstream's structured-merge-diff `typed` package
//! defines each of them; this is our own code.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::path::{Path, PathElement, go_quote, path_string, values_equal};
use super::schema::{DEDUCED, ListKind, ListNode, MapNode, Node, NodeId, Scalar, TypeSchema};
use super::set::Set;

/// What changed between two values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub added: Set,
    pub modified: Set,
    pub removed: Set,
}

impl Comparison {
    /// Drops the given paths and everything below them (reset fields).
    pub fn exclude(&mut self, ignored: &Set) {
        if ignored.is_empty() {
            return;
        }
        for s in [&mut self.added, &mut self.modified, &mut self.removed] {
            if !s.is_empty() {
                *s = s.recursive_difference(ignored);
            }
        }
    }
}

/// One problem with an applied configuration, at a path.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The errors joined as upstream prints a list of them.
pub fn errors_string(errs: &[ValidationError]) -> String {
    match errs {
        [one] => one.to_string(),
        many => {
            let mut out = String::from("errors:");
            for e in many {
                out.push_str("\n  ");
                out.push_str(&e.to_string());
            }
            out
        }
    }
}

/// How a node handles a given value.
enum Shape<'s> {
    /// Compared and owned as a whole.
    Leaf,
    /// Merged key by key (`None`: a deduced map, whose values are deduced).
    Map(Option<&'s MapNode>),
    /// Merged element by element.
    List(&'s ListNode),
    /// Left alone (`metadata.managedFields`).
    Skip,
}

impl Shape<'_> {
    fn kind(&self) -> u8 {
        match self {
            Shape::Leaf => 0,
            Shape::Map(_) => 1,
            Shape::List(_) => 2,
            Shape::Skip => 3,
        }
    }
}

/// The elements of a list by path element, in first-occurrence order, with
/// every element that shares the key.
type Indexed<'v> = Vec<(PathElement, Vec<&'v Value>)>;

/// The walks over one schema.
pub struct Typed<'s> {
    pub schema: &'s TypeSchema,
}

impl<'s> Typed<'s> {
    pub fn new(schema: &'s TypeSchema) -> Self {
        Typed { schema }
    }

    fn shape(&self, node: NodeId, v: &Value) -> Shape<'s> {
        match self.schema.node(node) {
            Node::Ignored => Shape::Skip,
            Node::Scalar(_) | Node::Untyped => Shape::Leaf,
            Node::Deduced if v.is_object() => Shape::Map(None),
            Node::Deduced => Shape::Leaf,
            Node::Map(m) if m.atomic => Shape::Leaf,
            Node::Map(m) => Shape::Map(Some(m)),
            Node::List(l) if l.kind == ListKind::Atomic => Shape::Leaf,
            Node::List(l) => Shape::List(l),
        }
    }

    fn child(map: Option<&MapNode>, key: &str) -> NodeId {
        match map {
            Some(m) => m.child(key).unwrap_or(DEDUCED),
            None => DEDUCED,
        }
    }

    fn declared(map: Option<&MapNode>, key: &str) -> bool {
        map.is_some_and(|m| m.field(key).is_some())
    }

    /// The path element of a list element.
    pub fn item_element(list: &ListNode, item: &Value) -> Result<PathElement, String> {
        match &list.kind {
            ListKind::Atomic => Err("invalid indexing of non-associative list".into()),
            ListKind::Set => match item {
                Value::Object(_) => {
                    Err("associative list without keys has an element that's a map type".into())
                }
                Value::Array(_) => {
                    Err("not supported: associative list with lists as elements".into())
                }
                Value::Null => Err(
                    "associative list without keys has an element that's an explicit null".into(),
                ),
                v => Ok(PathElement::Value(v.clone())),
            },
            ListKind::Map { keys, defaults } => {
                let m = match item {
                    Value::Null => {
                        return Err("associative list with keys may not have a null element".into());
                    }
                    Value::Object(m) => m,
                    _ => {
                        return Err(
                            "associative list with keys may not have non-map elements".into()
                        );
                    }
                };
                let mut fields = Vec::with_capacity(keys.len());
                for (k, d) in keys.iter().zip(defaults) {
                    match m.get(k).or(d.as_ref()) {
                        Some(v) => fields.push((k.clone(), v.clone())),
                        None => {
                            return Err(format!(
                                "associative list with keys has an element that omits key field {} (and doesn't have default value)",
                                go_quote(k)
                            ));
                        }
                    }
                }
                Ok(PathElement::key(fields))
            }
        }
    }

    fn index<'v>(list: &ListNode, items: &'v [Value]) -> Indexed<'v> {
        let mut out: Indexed<'v> = Vec::with_capacity(items.len());
        let mut at: BTreeMap<PathElement, usize> = BTreeMap::new();
        for item in items {
            let Ok(pe) = Self::item_element(list, item) else {
                continue;
            };
            match at.get(&pe) {
                Some(i) => out[*i].1.push(item),
                None => {
                    at.insert(pe.clone(), out.len());
                    out.push((pe, vec![item]));
                }
            }
        }
        out
    }

    // ----- field sets -----

    /// The paths a value sets.
    pub fn to_set(&self, node: NodeId, v: &Value) -> Set {
        let mut set = Set::new();
        let mut path = Vec::new();
        self.set_of(node, v, &mut path, &mut set);
        set
    }

    fn set_of(&self, node: NodeId, v: &Value, path: &mut Path, set: &mut Set) {
        match self.shape(node, v) {
            Shape::Skip => {}
            Shape::Leaf => set.insert(path),
            Shape::Map(m) => {
                let Some(obj) = v.as_object() else { return };
                for (k, cv) in obj {
                    let child = Self::child(m, k);
                    if matches!(self.schema.node(child), Node::Ignored) {
                        continue;
                    }
                    path.push(PathElement::Field(k.clone()));
                    self.set_of(child, cv, path, set);
                    let empty = cv.is_null() || cv.as_object().is_some_and(Map::is_empty);
                    if empty || !Self::declared(m, k) {
                        set.insert(path);
                    }
                    path.pop();
                }
            }
            Shape::List(l) => {
                let Some(items) = v.as_array() else { return };
                for (pe, found) in Self::index(l, items) {
                    path.push(pe);
                    if let [one] = found.as_slice() {
                        self.set_of(l.elem, one, path, set);
                    }
                    set.insert(path);
                    path.pop();
                }
            }
        }
    }

    /// Adds, as members, the declared fields that a set only has paths
    /// below (so that removing the set removes them too).
    pub fn ensure_named_fields_are_members(&self, node: Option<NodeId>, set: &Set) -> Set {
        let (map, list) = match node.map(|n| self.schema.node(n)) {
            Some(Node::Map(m)) => (Some(m), None),
            Some(Node::List(l)) => (None, Some(l)),
            _ => (None, None),
        };
        let mut out = Set::new();
        for m in set.members() {
            out.insert_member(m);
        }
        for (pe, child) in set.children() {
            let child_node = match pe {
                PathElement::Field(name) => {
                    if map.is_some_and(|m| m.field(name).is_some()) {
                        out.insert_member(pe);
                    }
                    map.and_then(|m| m.child(name))
                }
                PathElement::Key(_) => list.map(|l| l.elem),
                _ => None,
            };
            let sub = self.ensure_named_fields_are_members(child_node, child);
            for p in sub.paths() {
                let mut full = vec![pe.clone()];
                full.extend(p);
                out.insert(&full);
            }
        }
        out
    }

    // ----- comparison -----

    /// What changed from `lhs` to `rhs`.
    pub fn compare(&self, node: NodeId, lhs: &Value, rhs: &Value) -> Comparison {
        let mut c = Comparison::default();
        let mut path = Vec::new();
        self.compare_at(node, Some(lhs), Some(rhs), &mut path, &mut c);
        c
    }

    fn compare_at(
        &self,
        node: NodeId,
        l: Option<&Value>,
        r: Option<&Value>,
        path: &mut Path,
        c: &mut Comparison,
    ) {
        let sl = l.map(|v| self.shape(node, v));
        let sr = r.map(|v| self.shape(node, v));
        let in_leaf = match (sl, sr) {
            (None, None) | (Some(Shape::Skip), _) | (_, Some(Shape::Skip)) => return,
            (Some(s), None) | (None, Some(s)) => self.compare_shape(s, l, r, path, c),
            (Some(a), Some(b)) if a.kind() == b.kind() => self.compare_shape(b, l, r, path, c),
            (Some(a), Some(b)) => {
                self.compare_shape(a, l, r, path, c);
                self.compare_shape(b, l, r, path, c)
            }
        };
        if !in_leaf {
            if l.is_none() {
                c.added.insert(path);
            } else if r.is_none() {
                c.removed.insert(path);
            }
        }
    }

    fn leaf_rule(l: Option<&Value>, r: Option<&Value>, path: &Path, c: &mut Comparison) {
        match (l, r) {
            (None, _) => c.added.insert(path),
            (_, None) => c.removed.insert(path),
            (Some(a), Some(b)) if !values_equal(a, b) => c.modified.insert(path),
            _ => {}
        }
    }

    /// Returns whether the node was handled as a leaf.
    fn compare_shape(
        &self,
        shape: Shape<'_>,
        l: Option<&Value>,
        r: Option<&Value>,
        path: &mut Path,
        c: &mut Comparison,
    ) -> bool {
        match shape {
            Shape::Skip => true,
            Shape::Leaf => {
                Self::leaf_rule(l, r, path, c);
                true
            }
            Shape::Map(m) => {
                let lm = l.and_then(Value::as_object);
                let rm = r.and_then(Value::as_object);
                if lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty) {
                    Self::leaf_rule(l, r, path, c);
                    return true;
                }
                let empty = Map::new();
                let (lm, rm) = (lm.unwrap_or(&empty), rm.unwrap_or(&empty));
                for (k, lv) in lm {
                    path.push(PathElement::Field(k.clone()));
                    self.compare_at(Self::child(m, k), Some(lv), rm.get(k), path, c);
                    path.pop();
                }
                for (k, rv) in rm.iter().filter(|(k, _)| !lm.contains_key(*k)) {
                    path.push(PathElement::Field(k.clone()));
                    self.compare_at(Self::child(m, k), None, Some(rv), path, c);
                    path.pop();
                }
                false
            }
            Shape::List(list) => {
                let la = l.and_then(Value::as_array);
                let ra = r.and_then(Value::as_array);
                if la.is_none_or(Vec::is_empty) && ra.is_none_or(Vec::is_empty) {
                    Self::leaf_rule(l, r, path, c);
                    return true;
                }
                let li = la.map(|a| Self::index(list, a)).unwrap_or_default();
                let ri = ra.map(|a| Self::index(list, a)).unwrap_or_default();
                let rmap: BTreeMap<&PathElement, &Vec<&Value>> =
                    ri.iter().map(|(p, v)| (p, v)).collect();
                let lmap: BTreeMap<&PathElement, &Vec<&Value>> =
                    li.iter().map(|(p, v)| (p, v)).collect();
                for (pe, litems) in &li {
                    path.push(pe.clone());
                    self.compare_items(list, Some(litems), rmap.get(pe).copied(), path, c);
                    path.pop();
                }
                for (pe, ritems) in ri.iter().filter(|(p, _)| !lmap.contains_key(p)) {
                    path.push(pe.clone());
                    self.compare_items(list, None, Some(ritems), path, c);
                    path.pop();
                }
                false
            }
        }
    }

    fn compare_items(
        &self,
        list: &ListNode,
        l: Option<&Vec<&Value>>,
        r: Option<&Vec<&Value>>,
        path: &mut Path,
        c: &mut Comparison,
    ) {
        let dup = l.is_some_and(|v| v.len() > 1) || r.is_some_and(|v| v.len() > 1);
        if dup {
            // Elements that share a key are compared as a whole.
            let same = match (l, r) {
                (Some(a), Some(b)) => {
                    a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| values_equal(x, y))
                }
                _ => false,
            };
            match (l, r) {
                (None, _) => c.added.insert(path),
                (_, None) => c.removed.insert(path),
                _ if !same => c.modified.insert(path),
                _ => {}
            }
            return;
        }
        self.compare_at(list.elem, first(l), first(r), path, c);
    }

    // ----- merge -----

    /// The apply merge of `rhs` (the configuration) into `lhs` (the live
    /// object).
    pub fn merge(&self, node: NodeId, lhs: &Value, rhs: &Value) -> Value {
        self.merge_at(node, Some(lhs), Some(rhs))
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    fn merge_at(&self, node: NodeId, l: Option<&Value>, r: Option<&Value>) -> Option<Value> {
        let sl = l.map(|v| self.shape(node, v));
        let sr = r.map(|v| self.shape(node, v));
        let shape = match (sl, sr) {
            (None, None) => return None,
            (Some(Shape::Skip), _) | (_, Some(Shape::Skip)) => return l.or(r).cloned(),
            (Some(a), Some(b)) if a.kind() != b.kind() => return r.cloned(),
            (_, Some(s)) | (Some(s), None) => s,
        };
        match shape {
            Shape::Skip | Shape::Leaf => r.or(l).cloned(),
            Shape::Map(m) => {
                let lm = l.and_then(Value::as_object);
                let rm = r.and_then(Value::as_object);
                if lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty) {
                    return r.or(l).cloned();
                }
                let empty = Map::new();
                let (lm, rm) = (lm.unwrap_or(&empty), rm.unwrap_or(&empty));
                let mut out = Map::with_capacity(lm.len() + rm.len());
                for (k, lv) in lm {
                    if let Some(v) = self.merge_at(Self::child(m, k), Some(lv), rm.get(k)) {
                        out.insert(k.clone(), v);
                    }
                }
                for (k, rv) in rm.iter().filter(|(k, _)| !lm.contains_key(*k)) {
                    if let Some(v) = self.merge_at(Self::child(m, k), None, Some(rv)) {
                        out.insert(k.clone(), v);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Shape::List(list) => {
                let la = l.and_then(Value::as_array);
                let ra = r.and_then(Value::as_array);
                if la.is_none_or(Vec::is_empty) && ra.is_none_or(Vec::is_empty) {
                    return r.or(l).cloned();
                }
                let out = self.merge_list(
                    list,
                    la.map_or(&[], Vec::as_slice),
                    ra.map_or(&[], Vec::as_slice),
                );
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }

    /// Merges list elements by key: the configuration's order for the
    /// elements it has, live-only elements kept where they were.
    fn merge_list(&self, list: &ListNode, la: &[Value], ra: &[Value]) -> Vec<Value> {
        let lhs = Self::index(list, la);
        let rhs = Self::index(list, ra);
        let lpos: BTreeMap<&PathElement, usize> =
            lhs.iter().enumerate().map(|(i, (p, _))| (p, i)).collect();
        let rpos: BTreeMap<&PathElement, usize> =
            rhs.iter().enumerate().map(|(i, (p, _))| (p, i)).collect();
        let shared: Vec<&PathElement> = rhs
            .iter()
            .map(|(p, _)| p)
            .filter(|p| lpos.contains_key(p))
            .collect();
        let mut shared = shared.into_iter();
        let mut next_shared = shared.next();
        let mut out = Vec::with_capacity(la.len().max(ra.len()));
        let (mut li, mut ri) = (0, 0);
        while li < lhs.len() || ri < rhs.len() {
            if li < lhs.len() && ri < rhs.len() {
                let pe = &lhs[li].0;
                if *pe == rhs[ri].0 {
                    self.merge_items(list, Some(&lhs[li].1), Some(&rhs[ri].1), &mut out);
                    li += 1;
                    ri += 1;
                    next_shared = shared.next();
                    continue;
                }
                if rpos.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                    li += 1;
                    continue;
                }
            }
            if li < lhs.len() && !rpos.contains_key(&lhs[li].0) {
                self.merge_items(list, Some(&lhs[li].1), None, &mut out);
                li += 1;
                continue;
            }
            if ri < rhs.len() {
                let pe = &rhs[ri].0;
                let litems = lpos.get(pe).map(|i| &lhs[*i].1);
                self.merge_items(list, litems, Some(&rhs[ri].1), &mut out);
                ri += 1;
                if next_shared == Some(pe) {
                    next_shared = shared.next();
                }
            } else {
                // Only shared live elements remain, already merged.
                li += 1;
            }
        }
        out
    }

    fn merge_items(
        &self,
        list: &ListNode,
        l: Option<&Vec<&Value>>,
        r: Option<&Vec<&Value>>,
        out: &mut Vec<Value>,
    ) {
        let dup = l.is_some_and(|v| v.len() > 1) || r.is_some_and(|v| v.len() > 1);
        match (l, r) {
            // The configuration replaces every live element with its key.
            (_, Some(r)) if dup => out.extend(r.first().map(|v| (*v).clone())),
            (Some(l), None) if dup => out.extend(l.iter().map(|v| (*v).clone())),
            _ => {
                if let Some(v) = self.merge_at(list.elem, first(l), first(r)) {
                    out.push(v);
                }
            }
        }
    }

    // ----- removal -----

    /// `v` without the paths in `set`. A map or list whose content goes
    /// but which itself stays is left empty, as structured-merge-diff v6
    /// does (v4 left a null the typed decode dropped, which made applying
    /// the same configuration twice write twice).
    pub fn remove(&self, node: NodeId, v: &Value, set: &Set) -> Value {
        match self.shape(node, v) {
            Shape::Skip | Shape::Leaf => v.clone(),
            Shape::Map(m) => {
                let Some(obj) = v.as_object() else {
                    return v.clone();
                };
                let mut out = Map::with_capacity(obj.len());
                for (k, cv) in obj {
                    let pe = PathElement::Field(k.clone());
                    if set.has_member(&pe) {
                        continue;
                    }
                    let kept = match set.child(&pe) {
                        Some(sub) => self.remove(Self::child(m, k), cv, sub),
                        None => cv.clone(),
                    };
                    out.insert(k.clone(), kept);
                }
                Value::Object(out)
            }
            Shape::List(list) => {
                let Some(items) = v.as_array() else {
                    return v.clone();
                };
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let Ok(pe) = Self::item_element(list, item) else {
                        out.push(item.clone());
                        continue;
                    };
                    if set.has_member(&pe) {
                        continue;
                    }
                    match set.child(&pe) {
                        Some(sub) => out.push(self.remove(list.elem, item, sub)),
                        None => out.push(item.clone()),
                    }
                }
                Value::Array(out)
            }
        }
    }

    /// Puts back the empty lists a configuration sets where pruning took
    /// the list away (an empty list owns no field, so pruning cannot tell
    /// it was applied); applying the configuration again then changes
    /// nothing.
    pub fn restore_empty_lists(&self, node: NodeId, result: &mut Value, config: &Value) {
        match self.shape(node, config) {
            Shape::Map(m) => {
                let (Some(c), Some(r)) = (config.as_object(), result.as_object_mut()) else {
                    return;
                };
                for (k, cv) in c {
                    match r.get_mut(k) {
                        None if cv.as_array().is_some_and(Vec::is_empty) => {
                            r.insert(k.clone(), cv.clone());
                        }
                        Some(rv) => self.restore_empty_lists(Self::child(m, k), rv, cv),
                        None => {}
                    }
                }
            }
            Shape::List(list) => {
                let (Some(c), Some(r)) = (config.as_array(), result.as_array_mut()) else {
                    return;
                };
                for citem in c {
                    let Ok(pe) = Self::item_element(list, citem) else {
                        continue;
                    };
                    let found = r
                        .iter_mut()
                        .find(|ri| Self::item_element(list, ri).is_ok_and(|p| p == pe));
                    if let Some(ri) = found {
                        self.restore_empty_lists(list.elem, ri, citem);
                    }
                }
            }
            Shape::Leaf | Shape::Skip => {}
        }
    }

    // ----- validation -----

    /// Checks an applied configuration against the schema, as upstream's
    /// conversion to a typed value does.
    pub fn validate(&self, node: NodeId, v: &Value) -> Vec<ValidationError> {
        let mut errs = Vec::new();
        let mut path = Vec::new();
        self.validate_at(node, v, &mut path, &mut errs);
        errs
    }

    fn error(path: &Path, message: String, errs: &mut Vec<ValidationError>) {
        errs.push(ValidationError {
            path: path_string(path),
            message,
        });
    }

    fn validate_at(
        &self,
        node: NodeId,
        v: &Value,
        path: &mut Path,
        errs: &mut Vec<ValidationError>,
    ) {
        if v.is_null() {
            return;
        }
        match self.schema.node(node) {
            Node::Ignored | Node::Untyped => {}
            Node::Scalar(s) => {
                if let Some(m) = scalar_error(*s, v) {
                    Self::error(path, m, errs);
                }
            }
            Node::Deduced => {
                if let Some(obj) = v.as_object() {
                    for (k, cv) in obj {
                        path.push(PathElement::Field(k.clone()));
                        self.validate_at(DEDUCED, cv, path, errs);
                        path.pop();
                    }
                }
            }
            Node::Map(m) => {
                let Some(obj) = v.as_object() else {
                    Self::error(path, format!("expected map, got &{{{}}}", go_v(v)), errs);
                    return;
                };
                for (k, cv) in obj {
                    path.push(PathElement::Field(k.clone()));
                    match m.child(k) {
                        Some(child) => self.validate_at(child, cv, path, errs),
                        None => Self::error(path, "field not declared in schema".into(), errs),
                    }
                    path.pop();
                }
            }
            Node::List(l) => {
                let Some(items) = v.as_array() else {
                    Self::error(path, format!("expected list, got &{{{}}}", go_v(v)), errs);
                    return;
                };
                let mut seen: Vec<PathElement> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let pe = if l.kind == ListKind::Atomic {
                        PathElement::Index(i)
                    } else {
                        match Self::item_element(l, item) {
                            Ok(pe) => pe,
                            Err(e) => {
                                Self::error(path, format!("element {i}: {e}"), errs);
                                return;
                            }
                        }
                    };
                    if l.kind != ListKind::Atomic {
                        if seen.contains(&pe) {
                            Self::error(path, format!("duplicate entries for key {pe}"), errs);
                        }
                        seen.push(pe.clone());
                    }
                    path.push(pe);
                    self.validate_at(l.elem, item, path, errs);
                    path.pop();
                }
            }
        }
    }
}

fn first<'v>(items: Option<&Vec<&'v Value>>) -> Option<&'v Value> {
    items.and_then(|v| v.first().copied())
}

/// The message upstream gives for a value of the wrong scalar type.
fn scalar_error(s: Scalar, v: &Value) -> Option<String> {
    match (s, v) {
        (Scalar::Numeric, Value::Number(_)) => None,
        (Scalar::Numeric, _) => Some(format!(
            "expected numeric (int or float), got {}",
            go_type(v)
        )),
        (Scalar::String, Value::String(_)) => None,
        (Scalar::String, _) => Some(format!(
            "expected string, got &value.valueUnstructured{{Value:{}}}",
            go_sharp_v(v)
        )),
        (Scalar::Boolean, Value::Bool(_)) => None,
        (Scalar::Boolean, _) => Some(format!("expected boolean, got &{{{}}}", go_v(v))),
        (Scalar::Untyped, Value::Array(_) | Value::Object(_)) => {
            Some(format!("expected any scalar, got &{{{}}}", go_v(v)))
        }
        (Scalar::Untyped, _) => None,
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` of a decoded JSON value.
fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(go_v).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_v(&m[k.as_str()])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

/// Go's `%#v` of a decoded JSON value.
fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::String(s) => go_quote(s),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", parts.join(", "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", go_quote(k), go_sharp_v(&m[k.as_str()])))
                .collect();
            format!("map[string]interface {{}}{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}
