//! The `Status` object and the error type every handler returns.
//!
//! Mirrors upstream's `k8s.io/apimachinery/pkg/api/errors`: one constructor per
//! reason, each producing the code, reason, message and details a client expects.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::field::ErrorList;
use crate::gvk::GroupResource;

/// `metav1.StatusCause`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusCause {
    #[serde(rename = "reason", skip_serializing_if = "String::is_empty", default)]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub field: String,
}

/// `metav1.StatusDetails`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusDetails {
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub uid: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub causes: Vec<StatusCause>,
    #[serde(
        rename = "retryAfterSeconds",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub retry_after_seconds: Option<i32>,
}

/// A `metav1.Status` with status `Failure`: the only error shape clients see.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct StatusError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Box<StatusDetails>>,
    /// `metadata.continue` of the Status: where an expired paginated list
    /// may resume, inconsistently, at the current revision.
    pub list_continue: Option<String>,
}

pub type Result<T, E = StatusError> = std::result::Result<T, E>;

impl StatusError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        StatusError {
            code,
            reason,
            message: message.into(),
            details: None,
            list_continue: None,
        }
    }

    fn with_details(mut self, gr: &GroupResource, name: &str) -> Self {
        self.details = Some(Box::new(StatusDetails {
            name: name.to_string(),
            group: gr.group.clone(),
            kind: gr.resource.clone(),
            ..Default::default()
        }));
        self
    }

    pub fn not_found(gr: &GroupResource, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{gr} \"{name}\" not found")).with_details(gr, name)
    }

    pub fn already_exists(gr: &GroupResource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{gr} \"{name}\" already exists"),
        )
        .with_details(gr, name)
    }

    /// A generated name that was taken on every try (upstream's
    /// `NewGenerateNameConflict`): still AlreadyExists, with a retry hint.
    pub fn generate_name_conflict(gr: &GroupResource, name: &str) -> Self {
        let mut e = Self::new(
            409,
            "AlreadyExists",
            format!(
                "{gr} \"{name}\" already exists, the server was not able to generate a unique name for the object"
            ),
        )
        .with_details(gr, name);
        if let Some(d) = e.details.as_mut() {
            d.retry_after_seconds = Some(1);
        }
        e
    }

    pub fn conflict(gr: &GroupResource, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}"),
        )
        .with_details(gr, name)
    }

    /// 422 with one cause per field error, as `NewInvalid`.
    pub fn invalid(kind: &str, group: &str, name: &str, errs: &ErrorList) -> Self {
        let causes = errs
            .iter()
            .map(|e| StatusCause {
                kind: e.kind.reason().to_string(),
                message: e.error_body(),
                field: e.field.clone(),
            })
            .collect();
        let message = format!(
            "{kind}{} \"{name}\" is invalid: {}",
            group_suffix(group),
            errs
        );
        StatusError {
            code: 422,
            reason: "Invalid",
            message,
            details: Some(Box::new(StatusDetails {
                name: name.to_string(),
                group: group.to_string(),
                kind: kind.to_string(),
                causes,
                ..Default::default()
            })),
            list_continue: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "Unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 403 for a named object, as `NewForbidden`.
    pub fn forbidden_object(gr: &GroupResource, name: &str, why: &str) -> Self {
        let msg = if name.is_empty() {
            format!("{gr} is forbidden: {why}")
        } else {
            format!("{gr} \"{name}\" is forbidden: {why}")
        };
        Self::new(403, "Forbidden", msg).with_details(gr, name)
    }

    pub fn method_not_supported(gr: &GroupResource, action: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("{action} is not supported on resources of kind \"{gr}\""),
        )
        .with_details(gr, "")
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?})"
            ),
        )
    }

    /// A PATCH in a format the resource does not take, listing those it does.
    pub fn unsupported_patch_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {} (got {content_type:?})",
                accepted.join(", ")
            ),
        )
    }

    pub fn request_entity_too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }

    /// 410 Expired: a resourceVersion older than the compaction point.
    pub fn resource_expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 410 for a continue token whose revision was compacted, carrying a
    /// token that resumes after the same key at the current revision.
    pub fn continue_expired(resume: String) -> Self {
        let mut e = Self::resource_expired(
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter, or use the continue token \
             in this response to retrieve the remainder of the results. Continuing with the \
             provided token results in an inconsistent list - objects that were created, \
             modified, or deleted between the time the first chunk was returned and now may \
             show up in the list.",
        );
        e.list_continue = Some(resume);
        e
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Gone", message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(429, "TooManyRequests", message)
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    /// The 404 for a path no server in the chain serves.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_causes(vec![StatusCause {
            kind: "UnexpectedServerResponse".into(),
            message: "404 page not found".into(),
            field: String::new(),
        }])
    }

    fn with_causes(mut self, causes: Vec<StatusCause>) -> Self {
        self.details = Some(Box::new(StatusDetails {
            causes,
            ..Default::default()
        }));
        self
    }

    /// The wire form, `{"kind":"Status",...}`.
    pub fn to_status(&self) -> Value {
        let mut v = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        });
        if let Some(c) = &self.list_continue {
            v["metadata"]["continue"] = Value::from(c.as_str());
        }
        // An unknown reason is left out, as upstream's `omitempty`.
        if !self.reason.is_empty() {
            v["reason"] = Value::from(self.reason);
        }
        if let Some(d) = &self.details {
            v["details"] = serde_json::to_value(d).unwrap_or(Value::Null);
        }
        v["code"] = Value::from(self.code);
        v
    }

    /// Parses a wire `Status` back, e.g. from a watch ERROR event.
    pub fn from_status(v: &Value) -> Option<Self> {
        let code = u16::try_from(v.get("code")?.as_u64()?).ok()?;
        let reason = known_reason(v.get("reason").and_then(Value::as_str).unwrap_or(""));
        let details = v
            .get("details")
            .and_then(|d| serde_json::from_value(d.clone()).ok());
        Some(StatusError {
            code,
            reason,
            message: v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            details,
            list_continue: v
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

fn group_suffix(group: &str) -> String {
    if group.is_empty() {
        String::new()
    } else {
        format!(".{group}")
    }
}

fn known_reason(r: &str) -> &'static str {
    const REASONS: &[&str] = &[
        "NotFound",
        "AlreadyExists",
        "Conflict",
        "Invalid",
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "MethodNotAllowed",
        "NotAcceptable",
        "UnsupportedMediaType",
        "RequestEntityTooLarge",
        "Expired",
        "Gone",
        "Timeout",
        "TooManyRequests",
        "ServiceUnavailable",
        "InternalError",
    ];
    REASONS.iter().find(|x| **x == r).copied().unwrap_or("")
}

/// A `Status` with status `Success`, as DELETE returns for some kinds.
pub fn success_status(details: StatusDetails) -> Value {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_shape() {
        let gr = GroupResource::new("", "configmaps");
        let s = StatusError::not_found(&gr, "x").to_status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "configmaps \"x\" not found");
        assert_eq!(s["details"]["kind"], "configmaps");
        assert!(s["details"].get("group").is_none());
    }

    #[test]
    fn grouped_resource_message() {
        let gr = GroupResource::new("apps", "deployments");
        let s = StatusError::already_exists(&gr, "d");
        assert_eq!(s.message, "deployments.apps \"d\" already exists");
        let back = StatusError::from_status(&s.to_status()).expect("round trip");
        assert_eq!(back, s);
    }
}
