//! The field manager: what a write does to `metadata.managedFields`.
//!
//! [`FieldManager::update`] records a non-apply write (create, update,
//! patch): the fields it changed move to the writer's `Update` entry and
//! leave every other entry. [`FieldManager::apply`] merges an applied
//! configuration into the live object, removes the fields the applier
//! stopped applying unless someone else owns them, detects conflicts with
//! other managers (409, unless forced), and records the applier's `Apply`
//! entry. Both follow upstream's chain of managers (version check,
//! last-applied upgrade for `kubectl`, tracking only after the first apply
//! for objects without entries, at most ten update entries, stripped
//! metadata fields, times only when something changed).

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::entries::{self, Entry, Operation};
use super::path::{Path, PathElement, go_json, path_string};
use super::schema::TypeSchema;
use super::set::Set;
use super::typed::{Typed, errors_string};
use crate::status::{StatusCause, StatusDetails, StatusError};
use crate::{GroupVersion, meta};

/// Update entries kept before the oldest are folded into `ancient-changes`.
pub const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The manager whose applies upgrade client-side apply's annotation.
const KUBECTL: &str = "kubectl";
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Upstream's limit on the total size of an object's annotations.
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// Fields a strategy resets on every write, which nobody owns through it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResetFields {
    #[default]
    None,
    /// The main resource of a kind with a `status` subresource.
    Status,
    /// A `status` subresource: everything but `status`.
    AllButStatus,
    /// A `status` subresource whose writes may change metadata: everything
    /// but `metadata` and `status`, and these fields of `metadata`.
    AllButStatusAndMetadata(&'static [&'static str]),
}

/// Paths no manager owns: type meta and server-set metadata.
fn strip_set() -> &'static Set {
    static SET: OnceLock<Set> = OnceLock::new();
    SET.get_or_init(|| {
        let f = PathElement::field;
        let mut s = Set::new();
        s.insert(&[f("apiVersion")]);
        s.insert(&[f("kind")]);
        s.insert(&[f("metadata")]);
        for m in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            s.insert(&[f("metadata"), f(m)]);
        }
        s
    })
}

/// One conflict: a field another manager owns and the apply changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub manager: Entry,
    pub path: Path,
}

/// The 409 upstream answers for conflicts, with one cause per field.
pub fn conflict_error(conflicts: &[Conflict]) -> StatusError {
    let causes = conflicts
        .iter()
        .map(|c| StatusCause {
            kind: "FieldManagerConflict".into(),
            message: format!("conflict with {}", c.manager.describe()),
            field: path_string(&c.path),
        })
        .collect();
    let message = match conflicts {
        [one] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager.describe(),
            path_string(&one.path)
        ),
        many => {
            let mut lines = Vec::new();
            let mut last: Option<String> = None;
            for c in many {
                let id = c.manager.identifier();
                if last.as_ref() != Some(&id) {
                    lines.push(format!("conflicts with {}:", c.manager.describe()));
                    last = Some(id);
                }
                lines.push(format!("- {}", path_string(&c.path)));
            }
            format!(
                "Apply failed with {} conflicts: {}",
                many.len(),
                lines.join("\n")
            )
        }
    };
    StatusError {
        code: 409,
        reason: "Conflict",
        message,
        details: Some(Box::new(StatusDetails {
            causes,
            ..Default::default()
        })),
        list_continue: None,
    }
}

/// How an apply failed before it became a `Status`.
enum Failure {
    Conflicts(Vec<Conflict>),
    Status(StatusError),
}

/// Field management for writes to one resource (or subresource).
pub struct FieldManager<'a> {
    pub schema: &'a TypeSchema,
    /// The request's `group/version`.
    pub api_version: &'a str,
    pub kind: &'a str,
    /// `""`, `status` or `scale`.
    pub subresource: &'a str,
    pub reset: ResetFields,
    /// RFC 3339 time of this write.
    pub now: &'a str,
}

impl FieldManager<'_> {
    fn typed(&self) -> Typed<'_> {
        Typed::new(self.schema)
    }

    /// The reset fields of a write from `a` to `b`.
    fn ignored(&self, a: &Value, b: &Value) -> Set {
        let mut s = Set::new();
        match self.reset {
            ResetFields::None => {}
            ResetFields::Status => s.insert(&[PathElement::field("status")]),
            ResetFields::AllButStatus => {
                for o in [a, b].into_iter().filter_map(Value::as_object) {
                    for k in o.keys().filter(|k| *k != "status") {
                        s.insert(&[PathElement::field(k)]);
                    }
                }
            }
            ResetFields::AllButStatusAndMetadata(meta_fields) => {
                for o in [a, b].into_iter().filter_map(Value::as_object) {
                    for k in o
                        .keys()
                        .filter(|k| !matches!(k.as_str(), "status" | "metadata"))
                    {
                        s.insert(&[PathElement::field(k)]);
                    }
                }
                for f in meta_fields {
                    s.insert(&[PathElement::field("metadata"), PathElement::field(f)]);
                }
            }
        }
        s
    }

    /// Records a non-apply write of `new` over `live` (`{}` for a create)
    /// by `manager` in `new`'s `managedFields`. Never fails: entries that
    /// cannot be decoded are replaced by the live object's.
    pub fn update(&self, live: &Value, new: &mut Value, manager: &str) {
        let mut list = self.live_or_new(live, new);
        entries::remove(new);
        // Objects without entries are tracked from their creation or from
        // their first apply, not from some later update.
        if list.is_empty() && !meta::uid(live).is_empty() {
            return;
        }
        let manager = if manager.is_empty() {
            "unknown"
        } else {
            manager
        };
        self.record_update(live, new, &mut list, manager);
        cap_update_managers(&mut list);
        entries::set(new, &list);
    }

    /// The entries an update starts from: the request's unless it writes
    /// to a subresource or sends none (or garbage); none when it resets.
    fn live_or_new(&self, live: &Value, new: &Value) -> Vec<Entry> {
        let from_live = || entries::of(live).unwrap_or_default();
        if !self.subresource.is_empty() {
            return from_live();
        }
        let sent = meta::metadata(new).and_then(|m| m.get("managedFields"));
        if entries::is_reset(sent) {
            return Vec::new();
        }
        match entries::decode(sent) {
            Ok(e) if !e.is_empty() => e,
            _ => from_live(),
        }
    }

    /// Moves what changed from `live` to `new` to `manager`'s update entry.
    fn record_update(&self, live: &Value, new: &Value, list: &mut Vec<Entry>, manager: &str) {
        let typed = self.typed();
        let mut cmp = typed.compare(self.schema.root(), live, new);
        let ignored = self.ignored(live, new);
        cmp.exclude(&ignored);
        let mut changed = cmp.added;
        changed.add(&cmp.modified);
        for e in list.iter_mut() {
            e.fields.subtract(&changed);
            e.fields.subtract(&cmp.removed);
        }
        list.retain(|e| !e.fields.is_empty());
        let mut own = changed;
        own.subtract(&cmp.removed);
        if !ignored.is_empty() {
            own = own.recursive_difference(&ignored);
        }
        own.subtract(strip_set());
        if own.is_empty() {
            return;
        }
        let (api, sub) = (self.api_version, self.subresource);
        match list
            .iter_mut()
            .find(|e| e.is(manager, Operation::Update, api, sub))
        {
            Some(e) => {
                e.fields.add(&own);
                e.time = Some(self.now.to_string());
            }
            None => list.push(Entry {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version: api.to_string(),
                subresource: sub.to_string(),
                time: Some(self.now.to_string()),
                fields: own,
            }),
        }
    }

    /// Applies `config` for `manager` over `live` (`{}` when the object
    /// does not exist yet) and returns the new object with its entries.
    pub fn apply(
        &self,
        live: &Value,
        config: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, StatusError> {
        let list = entries::of(live)
            .map_err(|e| StatusError::internal(format!("failed to decode managed fields: {e}")))?;
        let api_version = config
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
        if api_version != self.api_version || kind != self.kind {
            return Err(StatusError::bad_request(format!(
                "invalid object type: {}",
                gvk_string(api_version, kind)
            )));
        }
        let mut live = live.clone();
        entries::remove(&mut live);
        let outcome = match self.apply_once(&live, config, manager, force, list.clone()) {
            Err(Failure::Conflicts(conflicts)) if manager == KUBECTL => {
                match self.allowed_by_last_applied(&live) {
                    Some(allowed) => {
                        let rest: Vec<Conflict> = conflicts
                            .into_iter()
                            .filter(|c| !allowed.has(&c.path))
                            .collect();
                        if rest.is_empty() {
                            self.apply_once(&live, config, manager, true, list)
                        } else {
                            Err(Failure::Conflicts(rest))
                        }
                    }
                    None => Err(Failure::Conflicts(conflicts)),
                }
            }
            other => other,
        };
        let (mut obj, list) = match outcome {
            Ok(r) => r,
            Err(Failure::Conflicts(c)) => return Err(conflict_error(&c)),
            Err(Failure::Status(s)) => return Err(s),
        };
        if manager == KUBECTL && has_last_applied(&obj) {
            set_last_applied(&mut obj, config);
        }
        entries::set(&mut obj, &list);
        Ok(obj)
    }

    fn apply_once(
        &self,
        live: &Value,
        config: &Value,
        manager: &str,
        force: bool,
        mut list: Vec<Entry>,
    ) -> Result<(Value, Vec<Entry>), Failure> {
        if list.is_empty() {
            // Whoever wrote the object before the first apply owns what
            // is there.
            self.record_update(
                &Value::Object(Map::new()),
                live,
                &mut list,
                BEFORE_FIRST_APPLY,
            );
            cap_update_managers(&mut list);
        }
        let given = meta::metadata(config).and_then(|m| m.get("managedFields"));
        if given.is_some_and(|v| !v.is_null()) {
            return Err(Failure::Status(StatusError::bad_request(
                "metadata.managedFields must be nil",
            )));
        }
        let typed = self.typed();
        let root = self.schema.root();
        let errs = typed.validate(root, config);
        if !errs.is_empty() {
            return Err(Failure::Status(StatusError::new(
                500,
                "",
                format!(
                    "failed to create typed patch object ({}): {}",
                    object_gvknn(config),
                    errors_string(&errs)
                ),
            )));
        }
        let merged = typed.merge(root, live, config);
        let manager = if manager.is_empty() {
            "unknown"
        } else {
            manager
        };
        let sub = self.subresource;
        let previous = list
            .iter()
            .position(|e| e.is(manager, Operation::Apply, "", sub))
            .map(|i| list.remove(i));
        let last = previous.as_ref().map(|e| &e.fields);
        let ignored = self.ignored(live, config);
        list.push(Entry {
            manager: manager.to_string(),
            operation: Operation::Apply,
            api_version: self.api_version.to_string(),
            subresource: sub.to_string(),
            time: None,
            fields: typed.to_set(root, config).recursive_difference(&ignored),
        });
        let me = list.len() - 1;
        let mut merged = self.prune(merged, &list, last);
        typed.restore_empty_lists(root, &mut merged, config);
        let mut cmp = typed.compare(root, live, &merged);
        cmp.exclude(&ignored);
        let changed = cmp.added.union(&cmp.modified);
        let mut conflicts = Vec::new();
        let mut others: Vec<usize> = (0..list.len()).filter(|i| *i != me).collect();
        others.sort_by_key(|i| list[*i].identifier());
        for i in &others {
            let owned = list[*i].fields.intersection(&changed);
            for p in owned.paths() {
                conflicts.push(Conflict {
                    manager: Entry {
                        fields: Set::new(),
                        ..list[*i].clone()
                    },
                    path: p,
                });
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(Failure::Conflicts(conflicts));
        }
        for i in others {
            let e = &mut list[i];
            e.fields.subtract(&changed);
            e.fields.subtract(&cmp.removed);
        }
        list[me].fields.subtract(strip_set());
        // The time moves only when the object changes.
        let unchanged = super::path::values_equal(live, &merged);
        list[me].time = if unchanged {
            previous.and_then(|e| e.time)
        } else {
            Some(self.now.to_string())
        };
        list.retain(|e| !e.fields.is_empty());
        let obj = if unchanged { live.clone() } else { merged };
        Ok((obj, list))
    }

    /// Removes what the applier applied last time and no longer applies,
    /// unless another manager (or this configuration) owns it.
    fn prune(&self, merged: Value, list: &[Entry], last: Option<&Set>) -> Value {
        let Some(last) = last.filter(|l| !l.is_empty()) else {
            return merged;
        };
        let typed = self.typed();
        let root = self.schema.root();
        let ensure = |s: &Set| typed.ensure_named_fields_are_members(Some(root), s);
        let pruned = typed.remove(root, &merged, &ensure(last));
        // Add back what anyone owns.
        let managed = list.iter().fold(Set::new(), |acc, e| acc.union(&e.fields));
        let merged_set = ensure(&typed.to_set(root, &merged));
        let pruned_set = ensure(&typed.to_set(root, &pruned));
        let pruned = typed.remove(
            root,
            &merged,
            &merged_set.difference(&pruned_set.union(&ensure(&managed))),
        );
        // Add back what the applier did not own (it may not remove it).
        let pruned_set = ensure(&typed.to_set(root, &pruned));
        typed.remove(
            root,
            &merged,
            &merged_set
                .difference(&pruned_set)
                .intersection(&ensure(last)),
        )
    }

    /// The fields client-side apply's annotation says the object got from
    /// its last `kubectl apply` and still has: `kubectl apply
    /// --server-side` may take them over without a conflict.
    fn allowed_by_last_applied(&self, live: &Value) -> Option<Set> {
        let text = annotation(live, LAST_APPLIED).filter(|s| !s.is_empty())?;
        let last: Value = serde_json::from_str(text).ok()?;
        if last.get("apiVersion").and_then(Value::as_str) != Some(self.api_version) {
            return None;
        }
        let typed = self.typed();
        let root = self.schema.root();
        if !typed.validate(root, &last).is_empty() {
            return None;
        }
        let set = typed.to_set(root, &last);
        let cmp = typed.compare(root, &last, live);
        Some(
            set.difference(&cmp.modified)
                .difference(&cmp.added)
                .difference(&cmp.removed),
        )
    }
}

/// Folds the oldest update entries into one `ancient-changes` entry per
/// API version until at most [`MAX_UPDATE_MANAGERS`] remain.
pub fn cap_update_managers(list: &mut Vec<Entry>) {
    let mut updaters: Vec<usize> = (0..list.len())
        .filter(|i| list[*i].operation == Operation::Update)
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    let secs = |e: &Entry| {
        e.time
            .as_deref()
            .and_then(crate::time::parse_rfc3339)
            .unwrap_or(0)
    };
    updaters.sort_by(|a, b| {
        let (x, y) = (&list[*a], &list[*b]);
        secs(x)
            .cmp(&secs(y))
            .then_with(|| x.identifier().cmp(&y.identifier()))
    });
    let mut gone = vec![false; list.len()];
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut length = updaters.len();
    for &i in &updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = list[i].api_version.clone();
        let Some(first) = first_of_version
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, f)| *f)
        else {
            first_of_version.push((version, i));
            continue;
        };
        let existing = (0..list.len())
            .find(|&j| !gone[j] && list[j].is(ANCIENT_CHANGES, Operation::Update, &version, ""));
        let bucket = match existing {
            Some(b) if b == i => continue,
            Some(b) => b,
            None => {
                // The oldest entry of the version becomes the bucket.
                list[first].manager = ANCIENT_CHANGES.to_string();
                list[first].subresource.clear();
                first
            }
        };
        let (fields, time) = (list[i].fields.clone(), list[i].time.clone());
        let b = &mut list[bucket];
        b.fields = fields.union(&b.fields);
        b.time = time;
        gone[i] = true;
        length -= 1;
    }
    let mut k = 0;
    list.retain(|_| {
        k += 1;
        !gone[k - 1]
    });
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    meta::metadata(obj)?.get("annotations")?.get(key)?.as_str()
}

fn has_last_applied(obj: &Value) -> bool {
    annotation(obj, LAST_APPLIED).is_some_and(|s| !s.is_empty())
}

/// Keeps client-side apply's annotation in step with what `kubectl`
/// applies server-side (dropped when the annotations would grow too big).
fn set_last_applied(obj: &mut Value, config: &Value) {
    let mut c = config.clone();
    if let Some(a) = c
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.shift_remove(LAST_APPLIED);
    }
    let mut text = String::new();
    go_json(&mut text, &c);
    text.push('\n');
    let m = meta::metadata_mut(obj);
    let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) else {
        return;
    };
    a.insert(LAST_APPLIED.to_string(), Value::from(text));
    let size: usize = a
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > ANNOTATIONS_MAX_BYTES {
        a.shift_remove(LAST_APPLIED);
    }
}

/// `group/version, Kind=kind` as upstream prints a GroupVersionKind.
pub fn gvk_string(api_version: &str, kind: &str) -> String {
    let gv = if api_version.matches('/').count() > 1 {
        GroupVersion::new("", "")
    } else {
        GroupVersion::parse(api_version)
    };
    format!("{}/{}, Kind={kind}", gv.group, gv.version)
}

/// `namespace/name; gvk` of an object, as upstream names it in errors.
fn object_gvknn(obj: &Value) -> String {
    format!(
        "{}/{}; {}",
        meta::namespace(obj),
        meta::name(obj),
        gvk_string(
            obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
            obj.get("kind").and_then(Value::as_str).unwrap_or("")
        )
    )
}
