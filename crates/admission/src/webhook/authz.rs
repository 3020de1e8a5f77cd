//! The authorization webhook (`--authorization-webhook-config-file`): a
//! request's attributes are POSTed in a SubjectAccessReview
//! (`authorization.k8s.io/v1` or `v1beta1`); `allowed` allows, `denied`
//! denies, neither is no opinion (the next authorizer decides). Answers
//! are cached by the review's spec, allowed ones for
//! `--authorization-webhook-cache-authorized-ttl`, the rest for
//! `--authorization-webhook-cache-unauthorized-ttl`. A failed call is no
//! opinion, as upstream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kaiser_auth::authz::{Attributes, Decision, forbidden_message};
use serde_json::{Value, json};

use super::WebhookClient;
use super::token::post_with_backoff;

/// Requests whose requester-controlled attributes are larger than this are
/// not cached (upstream's guard against filling the cache).
const MAX_CACHED_ATTRIBUTES: usize = 10_000;
/// Entries kept at most.
const MAX_ENTRIES: usize = 8192;

/// What the webhook said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookDecision {
    Allow(String),
    Deny(String),
    NoOpinion(String),
}

/// An authorizer that asks a webhook.
pub struct AuthorizationWebhook {
    client: WebhookClient,
    api_version: String,
    authorized_ttl: Duration,
    unauthorized_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Value)>>,
}

impl AuthorizationWebhook {
    /// `version` is `v1` or `v1beta1` (`--authorization-webhook-version`).
    pub fn new(
        client: WebhookClient,
        version: &str,
        authorized_ttl: Duration,
        unauthorized_ttl: Duration,
    ) -> Self {
        AuthorizationWebhook {
            client,
            api_version: format!("authorization.k8s.io/{version}"),
            authorized_ttl,
            unauthorized_ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The webhook's decision on `a`.
    pub async fn decide(&self, a: &Attributes<'_>) -> WebhookDecision {
        let spec = spec(a);
        let key = spec.to_string();
        let status = match self.cached(&key) {
            Some(s) => s,
            None => {
                let review = json!({"apiVersion": self.api_version, "kind": "SubjectAccessReview",
                    "metadata": {"creationTimestamp": null}, "spec": spec, "status": {"allowed": false}});
                match post_with_backoff(&self.client, &review).await {
                    Ok(answer) => {
                        let status = answer.get("status").cloned().unwrap_or(Value::Null);
                        if attributes_size(a) < MAX_CACHED_ATTRIBUTES {
                            self.remember(key, &status);
                        }
                        status
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Failed to make webhook authorizer request");
                        return WebhookDecision::NoOpinion(String::new());
                    }
                }
            }
        };
        let flag = |k: &str| status.get(k).and_then(Value::as_bool).unwrap_or(false);
        let reason = status
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match (flag("allowed"), flag("denied")) {
            (true, true) => {
                tracing::warn!(
                    "webhook subject access review returned both allow and deny response"
                );
                WebhookDecision::Deny(reason)
            }
            (_, true) => WebhookDecision::Deny(reason),
            (true, _) => WebhookDecision::Allow(reason),
            _ => WebhookDecision::NoOpinion(reason),
        }
    }

    fn cached(&self, key: &str) -> Option<Value> {
        let cache = self.cache.lock().ok()?;
        let (expires, status) = cache.get(key)?;
        (Instant::now() < *expires).then(|| status.clone())
    }

    fn remember(&self, key: String, status: &Value) {
        let allowed = status.get("allowed").and_then(Value::as_bool) == Some(true);
        let ttl = if allowed {
            self.authorized_ttl
        } else {
            self.unauthorized_ttl
        };
        if ttl.is_zero() {
            return;
        }
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let now = Instant::now();
        if cache.len() >= MAX_ENTRIES {
            cache.retain(|_, (e, _)| *e > now);
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (now + ttl, status.clone()));
    }
}

fn attributes_size(a: &Attributes<'_>) -> usize {
    [
        a.namespace,
        a.verb,
        a.api_group,
        a.resource,
        a.subresource,
        a.name,
        a.path,
    ]
    .iter()
    .map(|s| s.len())
    .sum()
}

/// A SubjectAccessReview spec for `a`, empty fields left out as Go's
/// `omitempty` leaves them.
pub fn spec(a: &Attributes<'_>) -> Value {
    let mut spec = serde_json::Map::new();
    let put = |m: &mut serde_json::Map<String, Value>, k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    if a.resource_request {
        let mut ra = serde_json::Map::new();
        put(&mut ra, "namespace", a.namespace);
        put(&mut ra, "verb", a.verb);
        put(&mut ra, "group", a.api_group);
        put(&mut ra, "resource", a.resource);
        put(&mut ra, "subresource", a.subresource);
        put(&mut ra, "name", a.name);
        spec.insert("resourceAttributes".into(), Value::Object(ra));
    } else {
        let mut nra = serde_json::Map::new();
        put(&mut nra, "path", a.path);
        put(&mut nra, "verb", a.verb);
        spec.insert("nonResourceAttributes".into(), Value::Object(nra));
    }
    put(&mut spec, "user", &a.user.name);
    if !a.user.groups.is_empty() {
        spec.insert("groups".into(), json!(a.user.groups));
    }
    if !a.user.extra.is_empty() {
        spec.insert("extra".into(), json!(a.user.extra));
    }
    put(&mut spec, "uid", &a.user.uid);
    Value::Object(spec)
}

#[async_trait]
impl kaiser_auth::Authorizer for AuthorizationWebhook {
    /// Allow, or a deny carrying upstream's forbidden message (with the
    /// webhook's reason appended); no opinion also denies here, the
    /// webhook being the last authorizer asked.
    async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        match self.decide(a).await {
            WebhookDecision::Allow(_) => Decision::Allow,
            WebhookDecision::Deny(reason) | WebhookDecision::NoOpinion(reason) => {
                let msg = forbidden_message(a);
                Decision::Deny(if reason.is_empty() {
                    msg
                } else {
                    format!("{msg}: {reason}")
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaiser_auth::UserInfo;

    #[test]
    fn specs_leave_empty_fields_out() {
        let user = UserInfo {
            name: "jane".into(),
            groups: vec!["devs".into()],
            ..Default::default()
        };
        let a = Attributes {
            user: &user,
            verb: "list",
            resource_request: true,
            path: "/api/v1/namespaces/team/pods",
            namespace: "team",
            api_group: "",
            resource: "pods",
            subresource: "",
            name: "",
        };
        assert_eq!(
            spec(&a),
            json!({"resourceAttributes": {"namespace": "team", "verb": "list", "resource": "pods"},
                "user": "jane", "groups": ["devs"]})
        );
        let h = Attributes {
            resource_request: false,
            path: "/healthz",
            verb: "get",
            ..a
        };
        assert_eq!(
            spec(&h)["nonResourceAttributes"],
            json!({"path": "/healthz", "verb": "get"})
        );
    }
}
