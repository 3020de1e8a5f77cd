//! Field sets: the paths a manager owns, as a trie of path elements, with
//! upstream's set algebra and its FieldsV1 JSON form (`{"f:spec":{…}}`,
//! with `".":{}` for a node that is itself a member).

use serde_json::{Map, Value};

use super::path::{Path, PathElement};

/// A set of paths. `members` are the paths that end here; `children` hold
/// the paths that continue, never empty. Both are sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    members: Vec<PathElement>,
    children: Vec<(PathElement, Set)>,
}

fn find<T>(v: &[(PathElement, T)], pe: &PathElement) -> Result<usize, usize> {
    v.binary_search_by(|(p, _)| p.cmp(pe))
}

impl Set {
    pub fn new() -> Set {
        Set::default()
    }

    /// A set of the given paths.
    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a [PathElement]>) -> Set {
        let mut s = Set::new();
        for p in paths {
            s.insert(p);
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path (the empty path adds nothing).
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            if let Err(i) = self.members.binary_search(first) {
                self.members.insert(i, first.clone());
            }
            return;
        }
        let i = match find(&self.children, first) {
            Ok(i) => i,
            Err(i) => {
                self.children.insert(i, (first.clone(), Set::new()));
                i
            }
        };
        self.children[i].1.insert(rest);
    }

    /// Adds one element as a member of this level.
    pub fn insert_member(&mut self, pe: &PathElement) {
        if let Err(i) = self.members.binary_search(pe) {
            self.members.insert(i, pe.clone());
        }
    }

    pub fn has(&self, path: &[PathElement]) -> bool {
        match path.split_first() {
            None => false,
            Some((first, [])) => self.members.binary_search(first).is_ok(),
            Some((first, rest)) => self.child(first).is_some_and(|c| c.has(rest)),
        }
    }

    pub fn has_member(&self, pe: &PathElement) -> bool {
        self.members.binary_search(pe).is_ok()
    }

    /// The paths under `pe`, without `pe` itself (upstream's `WithPrefix`).
    pub fn child(&self, pe: &PathElement) -> Option<&Set> {
        find(&self.children, pe).ok().map(|i| &self.children[i].1)
    }

    pub fn members(&self) -> &[PathElement] {
        &self.members
    }

    pub fn children(&self) -> &[(PathElement, Set)] {
        &self.children
    }

    /// The paths in either set.
    pub fn union(&self, other: &Set) -> Set {
        Set {
            members: merge_sorted(&self.members, &other.members, |_, _| true, true, true),
            children: merge_children(
                &self.children,
                &other.children,
                |a, b| Some(a.union(b)),
                true,
                true,
            ),
        }
    }

    /// The paths in both sets.
    pub fn intersection(&self, other: &Set) -> Set {
        Set {
            members: merge_sorted(&self.members, &other.members, |_, _| true, false, false),
            children: merge_children(
                &self.children,
                &other.children,
                |a, b| Some(a.intersection(b)),
                false,
                false,
            ),
        }
    }

    /// The paths of `self` that are not in `other`.
    pub fn difference(&self, other: &Set) -> Set {
        Set {
            members: merge_sorted(&self.members, &other.members, |_, _| false, true, false),
            children: merge_children(
                &self.children,
                &other.children,
                |a, b| Some(a.difference(b)),
                true,
                false,
            ),
        }
    }

    /// Removes the paths of `other` in place (the [`Set::difference`] of
    /// an owned set, without copying what stays).
    pub fn subtract(&mut self, other: &Set) {
        if other.is_empty() || self.is_empty() {
            return;
        }
        if !other.members.is_empty() {
            self.members
                .retain(|m| other.members.binary_search(m).is_err());
        }
        if !other.children.is_empty() {
            self.children.retain_mut(|(pe, set)| {
                if let Some(o) = other.child(pe) {
                    set.subtract(o);
                }
                !set.is_empty()
            });
        }
    }

    /// Adds the paths of `other` in place.
    pub fn add(&mut self, other: &Set) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other.clone();
            return;
        }
        *self = self.union(other);
    }

    /// Like [`Set::difference`], but a member of `other` also takes away
    /// every path below it.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = merge_sorted(&self.members, &other.members, |_, _| false, true, false);
        let mut children = Vec::with_capacity(self.children.len());
        for (pe, set) in &self.children {
            if other.has_member(pe) {
                continue;
            }
            let rest = match other.child(pe) {
                Some(o) => set.recursive_difference(o),
                None => set.clone(),
            };
            if !rest.is_empty() {
                children.push((pe.clone(), rest));
            }
        }
        Set { members, children }
    }

    /// Every path, members of a level before the paths below it, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect(&mut prefix, &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The number of paths.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.iter().map(|(_, c)| c.len()).sum::<usize>()
    }

    /// The FieldsV1 form, with keys in upstream's order.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.fields_map(false))
    }

    fn fields_map(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        let (mut mi, mut ci) = (0, 0);
        while mi < self.members.len() || ci < self.children.len() {
            let m = self.members.get(mi);
            let c = self.children.get(ci);
            match (m, c) {
                (Some(m), Some((pe, set))) => match m.cmp(pe) {
                    std::cmp::Ordering::Less => {
                        out.insert(m.to_key(), Value::Object(Map::new()));
                        mi += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        out.insert(pe.to_key(), Value::Object(set.fields_map(false)));
                        ci += 1;
                    }
                    std::cmp::Ordering::Equal => {
                        out.insert(pe.to_key(), Value::Object(set.fields_map(true)));
                        mi += 1;
                        ci += 1;
                    }
                },
                (Some(m), None) => {
                    out.insert(m.to_key(), Value::Object(Map::new()));
                    mi += 1;
                }
                (None, Some((pe, set))) => {
                    out.insert(pe.to_key(), Value::Object(set.fields_map(false)));
                    ci += 1;
                }
                (None, None) => break,
            }
        }
        out
    }

    /// Reads the FieldsV1 form; keys of unknown element types are skipped,
    /// as upstream does.
    pub fn from_fields_v1(v: &Value) -> Result<Set, String> {
        let Value::Object(m) = v else {
            return Err(format!("expected an object, got {v}"));
        };
        Ok(read_level(m)?.0)
    }
}

/// The set below one FieldsV1 object, and whether the node is a member of
/// its parent (it has `"."`, or nothing below it).
fn read_level(m: &Map<String, Value>) -> Result<(Set, bool), String> {
    let mut set = Set::new();
    let mut member = false;
    for (key, child) in m {
        if key == "." {
            member = true;
            continue;
        }
        let Some(pe) =
            PathElement::from_key(key).map_err(|e| format!("parsing key as path element: {e}"))?
        else {
            continue;
        };
        let Value::Object(cm) = child else {
            return Err(format!("expected an object under {key:?}"));
        };
        let (grand, child_member) = read_level(cm)?;
        if child_member {
            set.insert_member(&pe);
        }
        if !grand.is_empty() {
            match find(&set.children, &pe) {
                Ok(i) => set.children[i].1 = set.children[i].1.union(&grand),
                Err(i) => set.children.insert(i, (pe, grand)),
            }
        }
    }
    if set.is_empty() {
        member = true;
    }
    Ok((set, member))
}

/// Merges two sorted lists: `both` decides whether an element in both is
/// kept, `left`/`right` whether elements only on that side are.
fn merge_sorted(
    a: &[PathElement],
    b: &[PathElement],
    both: impl Fn(&PathElement, &PathElement) -> bool,
    left: bool,
    right: bool,
) -> Vec<PathElement> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                if left {
                    out.push(a[i].clone());
                }
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                if right {
                    out.push(b[j].clone());
                }
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                if both(&a[i], &b[j]) {
                    out.push(a[i].clone());
                }
                i += 1;
                j += 1;
            }
        }
    }
    if left {
        out.extend_from_slice(&a[i..]);
    }
    if right {
        out.extend_from_slice(&b[j..]);
    }
    out
}

fn merge_children(
    a: &[(PathElement, Set)],
    b: &[(PathElement, Set)],
    both: impl Fn(&Set, &Set) -> Option<Set>,
    left: bool,
    right: bool,
) -> Vec<(PathElement, Set)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                if left {
                    out.push(a[i].clone());
                }
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                if right {
                    out.push(b[j].clone());
                }
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                if let Some(s) = both(&a[i].1, &b[j].1).filter(|s| !s.is_empty()) {
                    out.push((a[i].0.clone(), s));
                }
                i += 1;
                j += 1;
            }
        }
    }
    if left {
        out.extend_from_slice(&a[i..]);
    }
    if right {
        out.extend_from_slice(&b[j..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn f(name: &str) -> PathElement {
        PathElement::field(name)
    }

    fn set_of(paths: &[&[PathElement]]) -> Set {
        Set::from_paths(paths.iter().copied())
    }

    /// A FieldsV1 document in upstream's serialized form.
    const DEPLOYMENT_FIELDS: &str = r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}}}}}}"#;

    #[test]
    fn fields_v1_round_trips_byte_for_byte() {
        let v: Value = serde_json::from_str(DEPLOYMENT_FIELDS).expect("json");
        let s = Set::from_fields_v1(&v).expect("decodes");
        assert_eq!(
            serde_json::to_string(&s.to_fields_v1()).expect("json"),
            DEPLOYMENT_FIELDS
        );
        let web = PathElement::key(vec![("name".into(), json!("web"))]);
        assert!(s.has(&[f("spec"), f("replicas")]));
        assert!(s.has(&[
            f("spec"),
            f("template"),
            f("spec"),
            f("containers"),
            web.clone()
        ]));
        assert!(s.has(&[f("metadata"), f("labels")]));
        assert!(!s.has(&[f("spec")]), "spec has children only");
        assert_eq!(s.paths().len(), 13);
        let first: Vec<String> = s
            .paths()
            .iter()
            .take(3)
            .map(|p| super::super::path::path_string(p))
            .collect();
        assert_eq!(
            first,
            [".metadata.labels", ".metadata.labels.app", ".spec.replicas"]
        );
    }

    #[test]
    fn every_element_kind_keeps_upstreams_order() {
        // Fields, then keys (by field list), then values (numbers by value
        // before strings before booleans), then indices by number; "."
        // first inside a node that is also a member.
        let golden = r#"{"f:a":{},"f:b":{".":{},"f:c":{},"i:2":{}},"k:{\"name\":\"x\"}":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{},"k:{\"port\":80,\"protocol\":\"UDP\"}":{"i:0":{}},"v:1":{},"v:2.5":{},"v:3":{},"v:\"s\"":{},"v:true":{},"i:2":{},"i:10":{}}"#;
        let v: Value = serde_json::from_str(golden).expect("json");
        let set = Set::from_fields_v1(&v).expect("decodes");
        assert_eq!(
            serde_json::to_string(&set.to_fields_v1()).expect("json"),
            golden
        );
        // Whatever order the keys come in.
        let mut shuffled: Vec<(String, Value)> =
            v.as_object().expect("object").clone().into_iter().collect();
        shuffled.reverse();
        let reversed = Value::Object(shuffled.into_iter().collect());
        let again = Set::from_fields_v1(&reversed).expect("decodes");
        assert_eq!(again, set);
        assert_eq!(
            serde_json::to_string(&again.to_fields_v1()).expect("json"),
            golden
        );
    }

    #[test]
    fn decoding_sorts_and_tolerates_what_upstream_tolerates() {
        // Out of order keys, an unknown element type, "." without children.
        let v = json!({"f:b": {}, "f:a": {".": {}}, "z:future": {"f:x": {}}});
        let s = Set::from_fields_v1(&v).expect("decodes");
        assert_eq!(s.to_fields_v1(), json!({"f:a": {}, "f:b": {}}));
        assert_eq!(
            serde_json::to_string(&s.to_fields_v1()).expect("json"),
            r#"{"f:a":{},"f:b":{}}"#
        );
        assert!(Set::from_fields_v1(&json!({"f": {}})).is_err());
        assert!(Set::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(Set::from_fields_v1(&json!([])).is_err());
        assert_eq!(Set::from_fields_v1(&json!({})), Ok(Set::new()));
    }

    #[test]
    fn set_algebra() {
        let a = set_of(&[&[f("a")], &[f("b"), f("c")], &[f("b"), f("d")]]);
        let b = set_of(&[&[f("b"), f("c")], &[f("e")], &[f("b")]]);
        assert_eq!(
            a.union(&b),
            set_of(&[
                &[f("a")],
                &[f("b")],
                &[f("b"), f("c")],
                &[f("b"), f("d")],
                &[f("e")]
            ])
        );
        assert_eq!(a.intersection(&b), set_of(&[&[f("b"), f("c")]]));
        assert_eq!(a.difference(&b), set_of(&[&[f("a")], &[f("b"), f("d")]]));
        // A member of the other set takes everything below it away.
        assert_eq!(a.recursive_difference(&b), set_of(&[&[f("a")]]));
        let nothing = a.difference(&a);
        assert!(nothing.is_empty());
        let mut owned = a.clone();
        owned.subtract(&b);
        assert_eq!(owned, a.difference(&b));
        let mut more = a.clone();
        more.add(&b);
        assert_eq!(more, a.union(&b));
        assert_eq!(nothing.to_fields_v1(), json!({}));
        assert_eq!(a.len(), 3);
    }
}
