//! Reading Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`)
//! into the JSON kube-apiserver would show for them, for every built-in kind.
//!
//! The envelope is the 4-byte magic `k8s\0` and a `runtime.Unknown` message
//! whose `raw` field holds the object's own message. The shape of each
//! message (field numbers, kinds, JSON names, zero-value rules) is data:
//! `messages.txt`, written by `tools/protobuf-gen` from upstream's API types
//! and keyed by OpenAPI definition name. This module owns the envelope, the
//! wire reader and the few writers kaiser's protobuf documents need.

mod decode;
mod table;
#[cfg(test)]
mod tests;

use serde_json::Value;

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\x00";

/// Whether a `Content-Type` header names the Kubernetes protobuf encoding.
pub fn is_media_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.split(';').next().unwrap_or("").trim() == MEDIA_TYPE)
}

/// Decodes a whole body, envelope and object, as the type the envelope
/// names; the object carries that `apiVersion` and `kind`.
pub fn decode_typed(body: &[u8]) -> Result<Value, String> {
    let (api_version, kind, raw) = decode_envelope(body)?;
    typed(api_version, kind, &raw)
}

/// The message `raw` decoded as `api_version`'s `kind`, with `apiVersion`
/// and `kind` first, as JSON encoders of API objects write them.
fn typed(api_version: String, kind: String, raw: &[u8]) -> Result<Value, String> {
    let gv = crate::GroupVersion::parse(&api_version);
    let definition = crate::gvk::definition_name(&gv.group, &gv.version, &kind);
    let Value::Object(fields) = decode_object(&definition, raw)? else {
        return Err(format!("{definition} did not decode to an object"));
    };
    let mut obj = serde_json::Map::with_capacity(fields.len() + 2);
    obj.insert("apiVersion".into(), Value::from(api_version));
    obj.insert("kind".into(), Value::from(kind));
    obj.extend(fields);
    Ok(Value::Object(obj))
}

/// Versions kube-apiserver stored a kind in whose protobuf fields equal
/// (by number and type) those of the GA version kaiser serves: 1.33 still
/// stores ServiceCIDR and IPAddress as `v1beta1`, and objects older
/// releases wrote stay in their beta version until something rewrites
/// them (nothing does by default). Each is read as the GA version, then
/// given what upstream's conversion from the old version does on read:
/// (stored apiVersion, kind, kaiser's apiVersion, fix-up).
type Upgrade = (
    &'static str,
    &'static str,
    &'static str,
    Option<fn(&mut Value)>,
);

const SAME_SCHEMA_UPGRADES: &[Upgrade] = &[
    (
        "networking.k8s.io/v1beta1",
        "ServiceCIDR",
        "networking.k8s.io/v1",
        None,
    ),
    (
        "networking.k8s.io/v1beta1",
        "IPAddress",
        "networking.k8s.io/v1",
        None,
    ),
    (
        "networking.k8s.io/v1beta1",
        "IngressClass",
        "networking.k8s.io/v1",
        None,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "Role",
        "rbac.authorization.k8s.io/v1",
        None,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole",
        "rbac.authorization.k8s.io/v1",
        None,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "RoleBinding",
        "rbac.authorization.k8s.io/v1",
        None,
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
        None,
    ),
    (
        "scheduling.k8s.io/v1beta1",
        "PriorityClass",
        "scheduling.k8s.io/v1",
        None,
    ),
    (
        "coordination.k8s.io/v1beta1",
        "Lease",
        "coordination.k8s.io/v1",
        None,
    ),
    (
        "storage.k8s.io/v1beta1",
        "StorageClass",
        "storage.k8s.io/v1",
        None,
    ),
    (
        "storage.k8s.io/v1beta1",
        "CSIDriver",
        "storage.k8s.io/v1",
        None,
    ),
    (
        "storage.k8s.io/v1beta1",
        "CSINode",
        "storage.k8s.io/v1",
        None,
    ),
    (
        "storage.k8s.io/v1beta1",
        "VolumeAttachment",
        "storage.k8s.io/v1",
        None,
    ),
    (
        "storage.k8s.io/v1beta1",
        "CSIStorageCapacity",
        "storage.k8s.io/v1",
        None,
    ),
    (
        "node.k8s.io/v1beta1",
        "RuntimeClass",
        "node.k8s.io/v1",
        None,
    ),
    ("batch/v1beta1", "CronJob", "batch/v1", None),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io/v1",
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io/v1",
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io/v1",
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io/v1",
        Some(shares_zero_means_default),
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io/v1",
        Some(shares_zero_means_default),
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io/v1",
        Some(shares_zero_unless_preserved),
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
        Some(webhook_beta_defaults),
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
        Some(webhook_beta_defaults),
    ),
    (
        "policy/v1beta1",
        "PodDisruptionBudget",
        "policy/v1",
        Some(pdb_beta_selector),
    ),
];

/// Before v1beta3, zero concurrency shares meant the default, 30 (the
/// field, `assuredConcurrencyShares` then, has v1's field number).
fn shares_zero_means_default(obj: &mut Value) {
    if let Some(limited) = obj.pointer_mut("/spec/limited")
        && let Some(m) = limited.as_object_mut()
        && m.get("nominalConcurrencyShares")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
    {
        m.insert("nominalConcurrencyShares".into(), Value::from(30));
    }
}

/// v1beta3 marks a zero that means zero with an annotation; without it,
/// zero means the default.
fn shares_zero_unless_preserved(obj: &mut Value) {
    const PRESERVE: &str = "flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares";
    let preserved = obj
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
        .is_some_and(|a| a.remove(PRESERVE).is_some());
    if let Some(a) = obj.pointer_mut("/metadata").and_then(Value::as_object_mut)
        && a.get("annotations")
            .and_then(Value::as_object)
            .is_some_and(|m| m.is_empty())
    {
        a.remove("annotations");
    }
    if !preserved {
        shares_zero_means_default(obj);
    }
}

/// v1beta1's defaults for webhook fields an old server left unset.
fn webhook_beta_defaults(obj: &mut Value) {
    let Some(hooks) = obj.get_mut("webhooks").and_then(Value::as_array_mut) else {
        return;
    };
    for hook in hooks.iter_mut().filter_map(Value::as_object_mut) {
        for (field, default) in [
            ("failurePolicy", Value::from("Ignore")),
            ("matchPolicy", Value::from("Exact")),
            ("timeoutSeconds", Value::from(30)),
            ("sideEffects", Value::from("Unknown")),
            ("admissionReviewVersions", Value::from(vec!["v1beta1"])),
        ] {
            hook.entry(field).or_insert(default);
        }
    }
}

/// In v1beta1 an empty selector selects no pods (v1: every pod), and a
/// marker expression that is absent stands for every pod: v1 spells these
/// with an expression on the same marker key, as upstream converts them.
fn pdb_beta_selector(obj: &mut Value) {
    const MARKER: &str = "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match";
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(sel) = spec.get_mut("selector").and_then(Value::as_object_mut) else {
        return;
    };
    let empty_labels = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.is_empty());
    let exprs = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_marker = |e: &Value, op: &str| e["key"] == MARKER && e["operator"] == op;
    if empty_labels && exprs.is_empty() {
        sel.insert(
            "matchExpressions".into(),
            serde_json::json!([{"key": MARKER, "operator": "Exists"}]),
        );
    } else if empty_labels && exprs.len() == 1 && is_marker(&exprs[0], "DoesNotExist") {
        sel.clear();
    } else if exprs.iter().any(|e| e["key"] == MARKER) {
        let kept: Vec<Value> = exprs.into_iter().filter(|e| e["key"] != MARKER).collect();
        if kept.is_empty() {
            sel.remove("matchExpressions");
        } else {
            sel.insert("matchExpressions".into(), Value::Array(kept));
        }
    }
}

/// The JSON kaiser keeps for a value kube-apiserver stored in etcd, where
/// it writes built-in kinds as protobuf (`--storage-media-type`'s default):
/// `None` for any other value (JSON: kaiser's own, custom resources), an
/// error for a value that does not decode or is encrypted at rest.
pub fn stored_json(value: &[u8]) -> Option<Result<Vec<u8>, String>> {
    if let Some(rest) = value.strip_prefix(b"k8s:enc:") {
        // k8s:enc:<provider>:v1:<key name>:<ciphertext>
        let provider = rest.split(|b| *b == b':').next().unwrap_or_default();
        return Some(Err(format!(
            "it is encrypted at rest (provider {}) and no --encryption-provider-config is set",
            String::from_utf8_lossy(provider)
        )));
    }
    if !value.starts_with(MAGIC) {
        return None;
    }
    Some(stored_protobuf(value))
}

fn stored_protobuf(value: &[u8]) -> Result<Vec<u8>, String> {
    let (mut api_version, kind, raw) = decode_envelope(value)?;
    let upgrade = SAME_SCHEMA_UPGRADES
        .iter()
        .find(|(v, k, _, _)| *v == api_version && *k == kind);
    if let Some((_, _, ours, _)) = upgrade {
        api_version = (*ours).to_string();
    }
    let mut obj = typed(api_version, kind, &raw)?;
    if let Some((_, _, _, Some(fix))) = upgrade {
        fix(&mut obj);
    }
    Ok(crate::codec::to_json(&obj))
}

/// Whether the built-in message table knows `definition` (an OpenAPI
/// definition name such as `io.k8s.api.apps.v1.Deployment`).
pub fn has_message(definition: &str) -> bool {
    table::table().is_ok_and(|t| t.by_name.contains_key(definition))
}

/// Decodes the protobuf message of `definition` into its JSON form: field
/// names, `omitempty` and Go pointer semantics as kube-apiserver would show
/// them; unknown fields are skipped. Malformed input is an error, never a
/// panic.
pub fn decode_object(definition: &str, bytes: &[u8]) -> Result<Value, String> {
    let t = table::table()?;
    let idx = *t
        .by_name
        .get(definition)
        .ok_or_else(|| format!("no protobuf form is known for {definition}"))?;
    decode::message(t, idx, bytes, 0)
}

/// Splits a protobuf body into its type (apiVersion, kind) and raw object bytes.
pub fn decode_envelope(body: &[u8]) -> Result<(String, String, Vec<u8>), String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the Kubernetes protobuf prefix")?;
    let mut r = Reader::new(rest);
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), Vec::new());
    while let Some((num, wire)) = r.key()? {
        match (num, wire) {
            // runtime.TypeMeta: apiVersion = 1, kind = 2
            (1, 2) => {
                let mut tm = Reader::new(r.bytes()?);
                while let Some((n, w)) = tm.key()? {
                    match (n, w) {
                        (1, 2) => api_version = String::from_utf8_lossy(tm.bytes()?).into_owned(),
                        (2, 2) => kind = String::from_utf8_lossy(tm.bytes()?).into_owned(),
                        _ => tm.skip(w)?,
                    }
                }
            }
            (2, 2) => raw = r.bytes()?.to_vec(),
            // contentEncoding = 3, contentType = 4
            (3 | 4, 2) => {
                let enc = r.bytes()?;
                if num == 3 && !enc.is_empty() {
                    return Err("compressed protobuf bodies are not supported".into());
                }
            }
            _ => r.skip(wire)?,
        }
    }
    Ok((api_version, kind, raw))
}

/// A cursor over protobuf wire data; every read checks its bounds.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    /// The next field key as (number, wire type), or `None` at the end.
    pub(crate) fn key(&mut self) -> Result<Option<(u32, u8)>, String> {
        if self.done() {
            return Ok(None);
        }
        let k = self.varint()?;
        let num = u32::try_from(k >> 3).map_err(|_| "field number too large")?;
        if num == 0 {
            return Err("field number 0 is not valid".into());
        }
        Ok(Some((num, (k & 7) as u8)))
    }

    /// A length-delimited payload; the length is checked against the input
    /// before anything is sliced, so it never sizes an allocation.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or("truncated field")?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    pub(crate) fn fixed64(&mut self) -> Result<[u8; 8], String> {
        let end = self.pos.checked_add(8).ok_or("truncated field")?;
        let b = self.buf.get(self.pos..end).ok_or("truncated field")?;
        self.pos = end;
        let mut out = [0u8; 8];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn skip(&mut self, wire: u8) -> Result<(), String> {
        match wire {
            0 => {
                self.varint()?;
            }
            1 => {
                self.fixed64()?;
            }
            2 => {
                self.bytes()?;
            }
            5 => {
                let end = self.pos.checked_add(4).ok_or("truncated field")?;
                if end > self.buf.len() {
                    return Err("truncated field".into());
                }
                self.pos = end;
            }
            w => return Err(format!("unsupported wire type {w}")),
        }
        Ok(())
    }
}

/// Protobuf writing, for the few documents kaiser serves in protobuf form.
pub mod write {
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A length-delimited field (a message, bytes or a string).
    pub fn message(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
        varint(out, u64::from(field) << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    /// A string field; empty strings are omitted, as proto3 does.
    pub fn string(out: &mut Vec<u8>, field: u32, s: &str) {
        if !s.is_empty() {
            message(out, field, s.as_bytes());
        }
    }

    pub fn boolean(out: &mut Vec<u8>, field: u32, b: bool) {
        varint(out, u64::from(field) << 3);
        varint(out, u64::from(b));
    }

    /// An int64 field (two's complement varint).
    pub fn int64(out: &mut Vec<u8>, field: u32, v: i64) {
        varint(out, u64::from(field) << 3);
        varint(out, v as u64);
    }

    /// A double field (64-bit little endian).
    pub fn double(out: &mut Vec<u8>, field: u32, v: f64) {
        varint(out, u64::from(field) << 3 | 1);
        out.extend_from_slice(&v.to_le_bytes());
    }
}
