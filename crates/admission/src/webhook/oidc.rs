//! An OIDC issuer's signing keys over HTTPS: discovery
//! (`<issuer>/.well-known/openid-configuration`, whose `issuer` must be
//! the configured URL) names the JWKS document, which is fetched when
//! first needed and again whenever a token names a key the cached set
//! lacks (one fetch at a time). Until discovery has
//! worked, tokens fail and discovery is retried, at most every
//! [`RETRY_AFTER`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kaiser_auth::authn::AuthnError;
use kaiser_auth::authn::jwt::{Jwk, parse_jwks};
use kaiser_auth::authn::oidc::KeySet;
use serde_json::Value;
use tokio::sync::Mutex;

use super::{ClientConfig, WebhookClient, WebhookError};

/// How long a failed discovery is not retried.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    jwks_uri: Option<String>,
    keys: Vec<Jwk>,
    /// How many times the key set was fetched.
    generation: u64,
    last_failure: Option<Instant>,
}

/// The key set of one issuer.
pub struct RemoteKeySet {
    issuer: String,
    client: WebhookClient,
    state: Mutex<State>,
}

impl RemoteKeySet {
    /// `ca_pem` is `--oidc-ca-file` (the system roots when `None`).
    pub fn new(issuer: &str, ca_pem: Option<Vec<u8>>) -> Result<Arc<Self>, WebhookError> {
        let mut cfg = ClientConfig::url(issuer);
        cfg.ca_bundle = ca_pem;
        Ok(Arc::new(RemoteKeySet {
            issuer: issuer.to_string(),
            client: WebhookClient::new(cfg, None)?,
            state: Mutex::new(State::default()),
        }))
    }

    /// Runs discovery now (at start), so the first token need not wait.
    pub async fn initialize(&self) {
        let mut st = self.state.lock().await;
        if let Err(e) = self.discover(&mut st).await {
            tracing::warn!(issuer = %self.issuer, error = %e, "oidc discovery failed; retrying when a token arrives");
        }
    }

    async fn discover(&self, st: &mut State) -> Result<String, AuthnError> {
        if let Some(uri) = &st.jwks_uri {
            return Ok(uri.clone());
        }
        if st.last_failure.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            return Err(AuthnError::new("oidc: authenticator not initialized"));
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let outcome = self
            .client
            .get_json(&url)
            .await
            .map_err(|e| format!("oidc: failed to query provider: {e}"))
            .and_then(|doc| {
                let iss = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
                if iss != self.issuer {
                    return Err(format!(
                        "oidc: issuer did not match the issuer returned by provider, expected {:?} got {iss:?}",
                        self.issuer
                    ));
                }
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| "oidc: provider metadata has no jwks_uri".to_string())
            });
        match outcome {
            Ok(uri) => {
                st.jwks_uri = Some(uri.clone());
                st.last_failure = None;
                Ok(uri)
            }
            Err(e) => {
                st.last_failure = Some(Instant::now());
                Err(AuthnError(e))
            }
        }
    }

    async fn fetch(&self, st: &mut State) -> Result<(), AuthnError> {
        let uri = self.discover(st).await?;
        let doc = self
            .client
            .get_json(&uri)
            .await
            .map_err(|e| AuthnError(format!("oidc: get keys failed: {e}")))?;
        st.keys = parse_jwks(&doc);
        st.generation += 1;
        Ok(())
    }
}

#[async_trait]
impl KeySet for RemoteKeySet {
    async fn keys(&self, refresh: bool) -> Result<Vec<Jwk>, AuthnError> {
        // One fetch at a time; requests wait for it rather than racing.
        let mut st = self.state.lock().await;
        if st.generation == 0 || refresh {
            self.fetch(&mut st).await?;
        }
        Ok(st.keys.clone())
    }
}
