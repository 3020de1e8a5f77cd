//! `metadata.managedFields` entries: decoding and encoding them as upstream
//! does (validation of each entry, the FieldsV1 sets, the order of the
//! list), the identity of a manager, and how conflicts name it.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::path::{go_json_string, go_quote};
use super::set::Set;
use crate::{meta, time};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One manager's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub subresource: String,
    /// RFC 3339, when the manager last changed something.
    pub time: Option<String>,
    pub fields: Set,
}

impl Entry {
    /// Whether `other` is the same manager: same name, operation and
    /// subresource, and for updates the same API version (appliers keep
    /// one entry across versions), as upstream's manager identifier.
    pub fn same_manager(&self, other: &Entry) -> bool {
        self.is(
            &other.manager,
            other.operation,
            &other.api_version,
            &other.subresource,
        )
    }

    pub fn is(&self, manager: &str, op: Operation, api_version: &str, subresource: &str) -> bool {
        self.manager == manager
            && self.operation == op
            && self.subresource == subresource
            && (op == Operation::Apply || self.api_version == api_version)
    }

    /// Upstream's manager identifier (the entry as JSON without time,
    /// fields and, for appliers, API version); orders managers in messages.
    pub fn identifier(&self) -> String {
        let mut out = String::from("{");
        let mut first = true;
        let mut field = |out: &mut String, name: &str, v: &str| {
            if v.is_empty() {
                return;
            }
            if !first {
                out.push(',');
            }
            first = false;
            go_json_string(out, name);
            out.push(':');
            go_json_string(out, v);
        };
        field(&mut out, "manager", &self.manager);
        field(&mut out, "operation", self.operation.as_str());
        if self.operation == Operation::Update {
            field(&mut out, "apiVersion", &self.api_version);
        }
        field(&mut out, "subresource", &self.subresource);
        out.push('}');
        out
    }

    /// The manager as a conflict message names it.
    pub fn describe(&self) -> String {
        let mut s = go_quote(&self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(
                " with subresource {}",
                go_quote(&self.subresource)
            ));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn seconds(&self) -> i64 {
        self.time
            .as_deref()
            .and_then(time::parse_rfc3339)
            .unwrap_or(0)
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), Value::from(self.manager.clone()));
        m.insert("operation".into(), Value::from(self.operation.as_str()));
        m.insert("apiVersion".into(), Value::from(self.api_version.clone()));
        if let Some(t) = &self.time {
            m.insert("time".into(), Value::from(t.clone()));
        }
        m.insert("fieldsType".into(), Value::from("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), Value::from(self.subresource.clone()));
        }
        Value::Object(m)
    }
}

/// Upstream's order of entries: operation, time (seconds), manager, API
/// version, subresource.
fn order(a: &Entry, b: &Entry) -> Ordering {
    a.operation
        .as_str()
        .cmp(b.operation.as_str())
        .then_with(|| a.seconds().cmp(&b.seconds()))
        .then_with(|| a.manager.cmp(&b.manager))
        .then_with(|| a.api_version.cmp(&b.api_version))
        .then_with(|| a.subresource.cmp(&b.subresource))
}

fn str_of<'a>(e: &'a Map<String, Value>, k: &str) -> &'a str {
    e.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Decodes `metadata.managedFields` (absent or null is empty); a later
/// entry of the same manager replaces an earlier one.
pub fn decode(list: Option<&Value>) -> Result<Vec<Entry>, String> {
    let items = match list {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(format!("expected a list of entries, got {other}")),
    };
    let mut out: Vec<Entry> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(e) = item.as_object() else {
            return Err(format!("managed fields entry {i} is not an object"));
        };
        let operation = match str_of(e, "operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".into()),
        };
        let api_version = str_of(e, "apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match str_of(e, "fieldsType") {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {} in managed fields entry {i}",
                    go_quote(other)
                ));
            }
        }
        let fields = match e.get("fieldsV1") {
            None | Some(Value::Null) => Set::new(),
            Some(f) => {
                Set::from_fields_v1(f).map_err(|err| format!("error decoding set: {err}"))?
            }
        };
        let entry = Entry {
            manager: str_of(e, "manager").to_string(),
            operation,
            api_version: api_version.to_string(),
            subresource: str_of(e, "subresource").to_string(),
            time: e.get("time").and_then(Value::as_str).map(str::to_string),
            fields,
        };
        match out.iter_mut().find(|x| x.same_manager(&entry)) {
            Some(x) => *x = entry,
            None => out.push(entry),
        }
    }
    Ok(out)
}

/// The entries of an object (none when they cannot be decoded).
pub fn of(obj: &Value) -> Result<Vec<Entry>, String> {
    decode(meta::metadata(obj).and_then(|m| m.get("managedFields")))
}

/// The entries as `metadata.managedFields`, sorted; `None` when empty.
pub fn encode(entries: &[Entry]) -> Option<Value> {
    if entries.is_empty() {
        return None;
    }
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| order(a, b));
    Some(Value::Array(
        sorted.into_iter().map(Entry::to_json).collect(),
    ))
}

/// Writes the entries into `obj` (removing `managedFields` when empty).
pub fn set(obj: &mut Value, entries: &[Entry]) {
    let m = meta::metadata_mut(obj);
    match encode(entries) {
        Some(v) => {
            m.insert("managedFields".into(), v);
        }
        None => {
            m.shift_remove("managedFields");
        }
    }
}

/// Removes `metadata.managedFields` from an object.
pub fn remove(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.shift_remove("managedFields");
    }
}

/// Whether a written `managedFields` asks to reset them: an empty list, or
/// one empty entry.
pub fn is_reset(list: Option<&Value>) -> bool {
    match list {
        Some(Value::Array(a)) if a.is_empty() => true,
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_object().is_some_and(|e| {
            e.iter().all(|(k, v)| match k.as_str() {
                "fieldsV1" => v.is_null(),
                "manager" | "operation" | "apiVersion" | "time" | "fieldsType" | "subresource" => {
                    v.is_null() || v.as_str() == Some("")
                }
                _ => true,
            })
        }),
        _ => false,
    }
}
