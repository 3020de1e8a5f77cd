//! Conversion webhooks (`spec.conversion.strategy: Webhook`): objects are
//! sent to the CRD's webhook in an `apiextensions.k8s.io` ConversionReview
//! and the answer is checked as upstream's `webhookConverter` checks it —
//! the review's kind and `uid`, `result.status`, one converted object per
//! object sent, each in the desired version with the same kind, name,
//! namespace and uid — before the original metadata is put back (only
//! labels and annotations may change).
//!
//! The registry converts synchronously, so a call blocks the worker
//! thread it runs on for the webhook's round trip (`block_in_place` on
//! the multi-threaded runtime), as upstream's blocks a goroutine.

use std::sync::Arc;

use kaiser_admission::webhook::{ClientConfig, ServiceResolver, WebhookClient};
use kaiser_apimachinery::StatusError;
use kaiser_apimachinery::validation::{validate_annotations, validate_labels};
use kaiser_registry::Converter;
use serde_json::{Value, json};

/// Converts a CRD's objects through its conversion webhook.
pub struct WebhookConverter {
    client: Result<Arc<WebhookClient>, String>,
    group: String,
    kind: String,
    /// `group/version` of the version a store serves, and of storage.
    served: String,
    stored: String,
    review_versions: Vec<String>,
}

impl std::fmt::Debug for WebhookConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConverter")
            .field("served", &self.served)
            .field("stored", &self.stored)
            .finish()
    }
}

impl WebhookConverter {
    /// The converter of `crd` for the version `served`; `client` is shared
    /// by all versions of the CRD.
    pub fn new(
        crd: &Value,
        served: &str,
        stored: &str,
        client: Result<Arc<WebhookClient>, String>,
    ) -> Self {
        let s = |p: &str| crd.pointer(p).and_then(Value::as_str).unwrap_or("");
        let group = s("/spec/group").to_string();
        WebhookConverter {
            client,
            kind: s("/spec/names/kind").to_string(),
            served: format!("{group}/{served}"),
            stored: format!("{group}/{stored}"),
            group,
            review_versions: crd
                .pointer("/spec/conversion/webhook/conversionReviewVersions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        }
    }

    /// The webhook client of `crd`, or why there is none.
    pub fn client(
        crd: &Value,
        resolver: Option<Arc<dyn ServiceResolver>>,
    ) -> Result<Arc<WebhookClient>, String> {
        let cfg = crd
            .pointer("/spec/conversion/webhook/clientConfig")
            .ok_or("the CRD has no conversion webhook client configuration")?;
        let config = ClientConfig::from_api(cfg).map_err(|e| e.to_string())?;
        WebhookClient::new(config, resolver)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    }

    /// Upstream's `GroupVersionKind.String()` of objects in `api_version`.
    fn gvk(&self, api_version: &str) -> String {
        let version = api_version
            .strip_prefix(&format!("{}/", self.group))
            .unwrap_or(api_version);
        format!("{}/{version}, Kind={}", self.group, self.kind)
    }

    fn convert(&self, objs: Vec<Value>, desired: &str) -> Result<Vec<Value>, StatusError> {
        let api_version = |o: &Value| {
            o.get("apiVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let send: Vec<usize> = (0..objs.len())
            .filter(|&i| api_version(&objs[i]).as_deref() != Some(desired))
            .collect();
        let Some(&first) = send.first() else {
            return Ok(objs);
        };
        let gvk = self.gvk(&api_version(&objs[first]).unwrap_or_default());
        // Upstream's codec error reaches clients as a 500 of unknown reason.
        let fail = |m: String| StatusError::new(500, "", m);
        let review = self
            .review_versions
            .iter()
            .find(|v| matches!(v.as_str(), "v1" | "v1beta1"))
            .ok_or_else(|| fail("no supported conversion review versions".into()))?;
        let uid = kaiser_apimachinery::uid::new_v4().to_string();
        let body = json!({
            "apiVersion": format!("apiextensions.k8s.io/{review}"),
            "kind": "ConversionReview",
            "request": {
                "uid": uid,
                "desiredAPIVersion": desired,
                "objects": send.iter().map(|&i| objs[i].clone()).collect::<Vec<_>>(),
            },
        });
        let client = self
            .client
            .as_ref()
            .map_err(|e| fail(format!("conversion webhook for {gvk} failed: {e}")))?;
        let answer = block_on(client.post_json(&body))
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|e| fail(format!("conversion webhook for {gvk} failed: {e}")))?;
        let converted = converted_objects(&answer, review, &uid)
            .map_err(|e| fail(format!("conversion webhook for {gvk} failed: {e}")))?;
        if converted.len() != send.len() {
            return Err(fail(format!(
                "conversion webhook for {gvk} returned {} objects, expected {}",
                converted.len(),
                send.len()
            )));
        }
        let single = objs.len() == 1;
        let mut out = objs;
        for (n, (&i, mut c)) in send.iter().zip(converted).enumerate() {
            let original = &out[i];
            let at = if single {
                "returned invalid object at index 0".to_string()
            } else {
                format!("returned invalid converted object at index {}", n + 1)
            };
            let got = api_version(&c).unwrap_or_default();
            if got != desired {
                return Err(fail(format!(
                    "conversion webhook for {gvk} {at}: invalid groupVersion (expected {desired}, received {got})"
                )));
            }
            let kind = |o: &Value| {
                o.get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            if kind(&c) != kind(original) {
                return Err(fail(format!(
                    "conversion webhook for {gvk} {at}: invalid kind (expected {}, received {})",
                    kind(original),
                    kind(&c)
                )));
            }
            if let Err(e) = same_identity(original, &c) {
                let at = if single {
                    "returned invalid object".to_string()
                } else {
                    format!("returned invalid converted object at index {}", n + 1)
                };
                return Err(fail(format!("conversion webhook for {gvk} {at}: {e}")));
            }
            if let Err(e) = restore_metadata(original, &mut c) {
                let at = if single {
                    "returned invalid metadata".to_string()
                } else {
                    format!("returned invalid metadata in object at index {}", n + 1)
                };
                return Err(fail(format!("conversion webhook for {gvk} {at}: {e}")));
            }
            out[i] = c;
        }
        Ok(out)
    }
}

impl Converter for WebhookConverter {
    fn to_served(&self, objs: Vec<Value>) -> Result<Vec<Value>, StatusError> {
        self.convert(objs, &self.served)
    }

    fn to_storage(&self, obj: Value) -> Result<Value, StatusError> {
        self.convert(vec![obj], &self.stored)?
            .pop()
            .ok_or_else(|| StatusError::internal("conversion returned no object"))
    }
}

/// Runs `f` to completion from synchronous code inside the server's
/// runtime.
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| h.block_on(f)))
        }
        _ => Err("conversion webhooks need the multi-threaded runtime".into()),
    }
}

/// The converted objects of a ConversionReview answer, checked as upstream
/// checks them (`getConvertedObjectsFromResponse`).
fn converted_objects(answer: &Value, review: &str, uid: &str) -> Result<Vec<Value>, String> {
    let s = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if review == "v1" {
        let got_api = s(answer, "/apiVersion");
        let got_kind = s(answer, "/kind");
        if got_api != "apiextensions.k8s.io/v1" || got_kind != "ConversionReview" {
            let (group, version) = got_api.rsplit_once('/').unwrap_or(("", &got_api));
            return Err(format!(
                "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got {group}/{version}, Kind={got_kind}"
            ));
        }
    }
    let response = answer
        .get("response")
        .filter(|r| r.is_object())
        .ok_or("no response provided")?;
    if review == "v1" {
        let got = s(response, "/uid");
        if got != uid {
            return Err(format!("expected response.uid={uid:?}, got {got:?}"));
        }
    }
    let status = s(response, "/result/status");
    if status != "Success" {
        let message = s(response, "/result/message");
        return Err(if message.is_empty() {
            format!("response.result.status was '{status}', not 'Success'")
        } else {
            message
        });
    }
    Ok(response
        .get("convertedObjects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// Kind, name, namespace and uid must survive conversion.
fn same_identity(original: &Value, converted: &Value) -> Result<(), String> {
    let get = |o: &Value, p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for (what, ptr) in [
        ("kind", "/kind"),
        ("name", "/metadata/name"),
        ("namespace", "/metadata/namespace"),
        ("UID", "/metadata/uid"),
    ] {
        let (e, a) = (get(original, ptr), get(converted, ptr));
        if e != a {
            return Err(format!("must have the same {what}: {e} != {a}"));
        }
    }
    Ok(())
}

/// Puts the original metadata back into `converted`, keeping only the
/// labels and annotations the webhook returned (which must be valid).
fn restore_metadata(original: &Value, converted: &mut Value) -> Result<(), String> {
    let returned = match converted.get("metadata") {
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(format!(
                "invalid metadata of type {} in converted object",
                go_type(other)
            ));
        }
        None => return Err("missing metadata in converted object".into()),
    };
    let mut meta = original
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for field in ["labels", "annotations"] {
        match returned.get(field) {
            None | Some(Value::Null) => {
                meta.remove(field);
            }
            Some(Value::Object(m)) => {
                if let Some((k, v)) = m.iter().find(|(_, v)| !v.is_string()) {
                    return Err(format!(
                        "metadata.{field}[{k}] must be a string, but is {} in converted object",
                        go_type(v)
                    ));
                }
                let value = Value::Object(m.clone());
                if meta.get(field) != Some(&value) {
                    let errs = if field == "labels" {
                        validate_labels(Some(&value), "metadata.labels")
                    } else {
                        validate_annotations(Some(&value), "metadata.annotation")
                    };
                    if !errs.is_empty() {
                        return Err(errs.to_string());
                    }
                }
                meta.insert(field.into(), value);
            }
            Some(other) => {
                return Err(format!(
                    "invalid metadata.{field} of type {} in converted object",
                    go_type(other)
                ));
            }
        }
    }
    converted["metadata"] = Value::Object(meta);
    Ok(())
}

/// The Go type a decoded JSON value has, for messages.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_like_upstream() {
        let ok = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": "u1", "result": {"status": "Success"}, "convertedObjects": [{"a": 1}]}});
        assert_eq!(
            converted_objects(&ok, "v1", "u1"),
            Ok(vec![json!({"a": 1})])
        );
        assert_eq!(
            converted_objects(&ok, "v1", "u2"),
            Err(r#"expected response.uid="u2", got "u1""#.to_string())
        );
        let failed = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": "u1", "result": {"status": "Failure", "message": "nope"}}});
        assert_eq!(
            converted_objects(&failed, "v1", "u1"),
            Err("nope".to_string())
        );
        let wrong = json!({"apiVersion": "v1", "kind": "Status"});
        assert_eq!(
            converted_objects(&wrong, "v1", "u1"),
            Err("expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got /v1, Kind=Status".to_string())
        );
    }

    #[test]
    fn metadata_is_restored_but_labels_may_change() {
        let original = json!({"metadata": {"name": "a", "uid": "u", "resourceVersion": "5",
            "labels": {"x": "1"}}});
        let mut converted = json!({"metadata": {"name": "a", "uid": "u", "generation": 99,
            "labels": {"x": "2"}}});
        assert_eq!(same_identity(&original, &converted), Ok(()));
        restore_metadata(&original, &mut converted).expect("restored");
        assert_eq!(
            converted["metadata"],
            json!({"name": "a", "uid": "u", "resourceVersion": "5", "labels": {"x": "2"}})
        );
        let renamed = json!({"metadata": {"name": "b", "uid": "u"}});
        assert_eq!(
            same_identity(&original, &renamed),
            Err("must have the same name: a != b".to_string())
        );
        let mut bad = json!({"metadata": {"labels": {"x": 1}}});
        assert_eq!(
            restore_metadata(&original, &mut bad),
            Err("metadata.labels[x] must be a string, but is float64 in converted object".into())
        );
    }
}
