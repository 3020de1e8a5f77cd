//! JSON patch (RFC 6902) and JSON merge patch (RFC 7386) on JSON objects.

use serde_json::Value;

use crate::status::StatusError;

/// Patch flavours a client may send, by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Applies an RFC 6902 patch; a malformed patch is a 400, a failed one a 422.
pub fn apply_json_patch(doc: &Value, patch: &[u8]) -> Result<Value, StatusError> {
    let ops: json_patch::Patch = serde_json::from_slice(patch)
        .map_err(|e| StatusError::bad_request(format!("error decoding patch: {e}")))?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &ops)
        .map_err(|e| StatusError::new(422, "Invalid", e.to_string()))?;
    Ok(out)
}

/// Applies an RFC 7386 merge patch; the patch must be a JSON object.
pub fn apply_merge_patch(doc: &Value, patch: &[u8]) -> Result<Value, StatusError> {
    let p: Value = serde_json::from_slice(patch)
        .map_err(|e| StatusError::bad_request(format!("error decoding patch: {e}")))?;
    if !p.is_object() {
        return Err(StatusError::bad_request(
            "error decoding patch: a merge patch must be a JSON object",
        ));
    }
    let mut out = doc.clone();
    json_patch::merge(&mut out, &p);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_and_merge() {
        let doc = json!({"data": {"a": "1", "b": "2"}});
        let out = apply_json_patch(&doc, br#"[{"op":"replace","path":"/data/a","value":"x"}]"#)
            .expect("patch");
        assert_eq!(out["data"]["a"], "x");
        let e = apply_json_patch(&doc, br#"[{"op":"test","path":"/data/a","value":"no"}]"#)
            .expect_err("test fails");
        assert_eq!(e.code, 422);
        assert_eq!(apply_json_patch(&doc, b"{").expect_err("bad").code, 400);
        let out = apply_merge_patch(&doc, br#"{"data":{"b":null,"c":"3"}}"#).expect("merge");
        assert_eq!(out, json!({"data": {"a": "1", "c": "3"}}));
        assert_eq!(apply_merge_patch(&doc, b"[]").expect_err("array").code, 400);
    }
}
