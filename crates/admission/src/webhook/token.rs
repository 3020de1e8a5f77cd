//! The token webhook (`--authentication-token-webhook-config-file`): a
//! bearer token no local authenticator knows is POSTed in a TokenReview
//! (`authentication.k8s.io/v1` or `v1beta1`) with the audiences asked for;
//! the webhook's `status` decides. Audiences as upstream: the answer's
//! `status.audiences` (or, when it names none, the API audiences) must
//! meet those asked for. Answers are cached by the caller
//! (`kaiser_auth::authn::cache`, `--authentication-token-webhook-cache-ttl`).

use std::time::Duration;

use async_trait::async_trait;
use kaiser_auth::TokenAuthenticator;
use kaiser_auth::authn::{Authenticated, AuthnError, UserInfo, intersect};
use serde_json::{Value, json};

use super::{WebhookClient, WebhookError};

/// Upstream's retry of a webhook that asks to be called again later.
const RETRIES: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// POSTs a review, retrying (500 ms, ×1.5) while the webhook answers 429.
pub(super) async fn post_with_backoff(
    client: &WebhookClient,
    body: &Value,
) -> Result<Value, WebhookError> {
    let mut wait = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match client.post_json(body).await {
            Err(WebhookError::Status { code: 429, .. }) if attempt < RETRIES => {
                tokio::time::sleep(wait).await;
                wait = wait.mul_f32(1.5);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A token authenticator that asks a webhook.
pub struct TokenWebhook {
    client: WebhookClient,
    /// `authentication.k8s.io/<version>`.
    api_version: String,
    /// The API audiences: what a token is for when the webhook names none.
    implicit_audiences: Vec<String>,
}

impl TokenWebhook {
    /// `version` is `v1` or `v1beta1` (`--authentication-token-webhook-version`).
    pub fn new(client: WebhookClient, version: &str, implicit_audiences: Vec<String>) -> Self {
        TokenWebhook {
            client,
            api_version: format!("authentication.k8s.io/{version}"),
            implicit_audiences,
        }
    }

    fn review(&self, token: &str, audiences: &[String]) -> Value {
        let mut spec = json!({"token": token});
        if !audiences.is_empty() {
            spec["audiences"] = json!(audiences);
        }
        json!({"apiVersion": self.api_version, "kind": "TokenReview",
            "metadata": {"creationTimestamp": null}, "spec": spec, "status": {"user": {}}})
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// The user of a TokenReview's `status.user`.
fn user(u: &Value) -> UserInfo {
    let s = |k: &str| u.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let extra = u
        .get("extra")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), strings(Some(v))))
        .collect();
    UserInfo {
        name: s("username"),
        uid: s("uid"),
        groups: strings(u.get("groups")),
        extra,
    }
}

#[async_trait]
impl TokenAuthenticator for TokenWebhook {
    async fn authenticate_token(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError> {
        let answer = post_with_backoff(&self.client, &self.review(token, audiences))
            .await
            .map_err(|e| AuthnError(e.to_string()))?;
        let status = answer.get("status").cloned().unwrap_or(Value::Null);
        let mut auds = Vec::new();
        if !audiences.is_empty() {
            let got = strings(status.get("audiences"));
            let got = if got.is_empty() {
                &self.implicit_audiences
            } else {
                &got
            };
            auds = intersect(audiences, got);
            if auds.is_empty() {
                return Ok(None);
            }
        }
        if status.get("authenticated").and_then(Value::as_bool) != Some(true) {
            return match status.get("error").and_then(Value::as_str) {
                Some(e) if !e.is_empty() => Err(AuthnError::new(e)),
                _ => Ok(None),
            };
        }
        Ok(Some(Authenticated {
            user: user(status.get("user").unwrap_or(&Value::Null)),
            audiences: auds,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reviews_and_users_have_upstreams_shape() {
        let client = WebhookClient::new(super::super::ClientConfig::url("https://x/"), None)
            .expect("test set-up");
        let w = TokenWebhook::new(client, "v1", vec!["api".into()]);
        let r = w.review("t0k", &["api".to_string()]);
        assert_eq!(r["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(r["spec"], json!({"token": "t0k", "audiences": ["api"]}));
        assert!(w.review("t", &[]).pointer("/spec/audiences").is_none());
        let u = user(&json!({"username": "jane", "uid": "7", "groups": ["g"],
            "extra": {"scopes": ["a", "b"]}}));
        assert_eq!(u.name, "jane");
        assert_eq!(u.uid, "7");
        assert_eq!(u.groups, ["g"]);
        assert_eq!(u.extra["scopes"], ["a", "b"]);
    }
}
