//! Service-account tokens on the API side: `serviceaccounts/token`
//! (TokenRequest: audience-, time- and object-bound JWTs) and the bearer
//! token authenticator, which accepts a token only while its service
//! account (and the pod or secret it is bound to) still exists with the
//! uid the token names.

use std::sync::Arc;

use async_trait::async_trait;
use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::{StatusError, meta, time};
use kaiser_auth::TokenAuthenticator;
use kaiser_auth::authn::{Authenticated, AuthnError};
use kaiser_auth::serviceaccount::{BoundRef, Claims, KubernetesClaim, TokenKey};
use kaiser_registry::Store;
use serde_json::{Value, json};

/// Upstream's bounds on `expirationSeconds`.
const MIN_EXPIRATION: i64 = 600;
const DEFAULT_EXPIRATION: i64 = 3600;

/// Issues and checks service-account tokens.
pub struct ServiceAccountTokens {
    pub key: Arc<TokenKey>,
    pub service_accounts: Arc<Store>,
    pub pods: Option<Arc<Store>>,
    pub secrets: Option<Arc<Store>>,
    /// `--service-account-max-token-expiration` in seconds (0: no cap).
    pub max_expiration: i64,
}

fn invalid(field: &str, value: Value, detail: &str) -> StatusError {
    StatusError::invalid(
        "TokenRequest",
        "authentication.k8s.io",
        "",
        &ErrorList(vec![FieldError::invalid(field, value, detail)]),
    )
}

impl ServiceAccountTokens {
    /// Answers a TokenRequest for `ns/name`.
    pub async fn request(&self, ns: &str, name: &str, req: &Value) -> Result<Value, StatusError> {
        let sa = self.service_accounts.get(ns, name).await?;
        let spec = req.get("spec").cloned().unwrap_or_else(|| json!({}));
        let mut audiences: Vec<String> = spec
            .get("audiences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if audiences.is_empty() {
            audiences = self.key.audiences.clone();
        }
        let mut seconds = spec
            .get("expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_EXPIRATION);
        if seconds < MIN_EXPIRATION {
            return Err(invalid(
                "spec.expirationSeconds",
                json!(seconds),
                "may not specify a duration less than 10 minutes",
            ));
        }
        if seconds > 1 << 32 {
            return Err(invalid(
                "spec.expirationSeconds",
                json!(seconds),
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        if self.max_expiration > 0 {
            seconds = seconds.min(self.max_expiration);
        }
        let mut kubernetes = KubernetesClaim {
            namespace: ns.to_string(),
            serviceaccount: BoundRef {
                name: name.to_string(),
                uid: meta::uid(&sa).to_string(),
            },
            ..Default::default()
        };
        if let Some(bound) = spec.get("boundObjectRef").filter(|b| b.is_object()) {
            let kind = bound.get("kind").and_then(Value::as_str).unwrap_or("");
            let bname = bound.get("name").and_then(Value::as_str).unwrap_or("");
            let store = match kind {
                "Pod" => self.pods.as_ref(),
                "Secret" => self.secrets.as_ref(),
                _ => {
                    return Err(invalid(
                        "spec.boundObjectRef.kind",
                        json!(kind),
                        "supported values: \"Pod\", \"Secret\"",
                    ));
                }
            };
            let obj = match store {
                Some(s) => s.get(ns, bname).await?,
                None => return Err(StatusError::internal("bound object kinds are not served")),
            };
            let uid = meta::uid(&obj).to_string();
            if let Some(want) = bound.get("uid").and_then(Value::as_str)
                && !want.is_empty()
                && want != uid
            {
                return Err(StatusError::conflict(
                    &kaiser_apimachinery::GroupResource::new("", "serviceaccounts/token"),
                    name,
                    &format!(
                        "the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"
                    ),
                ));
            }
            let r = BoundRef {
                name: bname.to_string(),
                uid,
            };
            if kind == "Pod" {
                kubernetes.pod = Some(r);
            } else {
                kubernetes.secret = Some(r);
            }
        }
        let now = time::now_unix();
        let claims = Claims {
            aud: audiences.clone(),
            exp: now + seconds,
            iat: now,
            iss: self.key.issuer.clone(),
            jti: kaiser_apimachinery::uid::new_v4().to_string(),
            kubernetes,
            nbf: now,
            sub: format!("system:serviceaccount:{ns}:{name}"),
        };
        let token = self
            .key
            .sign(&claims)
            .map_err(|e| StatusError::internal(e.to_string()))?;
        let mut spec_out = spec.clone();
        spec_out["audiences"] = json!(audiences);
        spec_out["expirationSeconds"] = json!(seconds);
        Ok(json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
            "spec": spec_out,
            "status": {"token": token, "expirationTimestamp": time::format_rfc3339(claims.exp)},
        }))
    }

    async fn still_there(&self, store: Option<&Arc<Store>>, ns: &str, r: &BoundRef) -> bool {
        match store {
            Some(s) => s
                .get(ns, &r.name)
                .await
                .is_ok_and(|o| meta::uid(&o) == r.uid && meta::deletion_timestamp(&o).is_none()),
            None => false,
        }
    }
}

#[async_trait]
impl TokenAuthenticator for ServiceAccountTokens {
    async fn authenticate_token(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError> {
        let Some((claims, audiences)) = self
            .key
            .verify_for(token, time::now_unix(), audiences)
            .map_err(AuthnError)?
        else {
            return Ok(None);
        };
        let k = &claims.kubernetes;
        let (ns, name) = (&k.namespace, &k.serviceaccount.name);
        let sa = self.service_accounts.get(ns, name).await.map_err(|e| {
            if e.code == 404 {
                AuthnError(format!("serviceaccounts \"{name}\" not found"))
            } else {
                AuthnError(e.message)
            }
        })?;
        if meta::uid(&sa) != k.serviceaccount.uid {
            return Err(AuthnError(format!(
                "service account UID ({}) does not match claim ({})",
                meta::uid(&sa),
                k.serviceaccount.uid
            )));
        }
        let invalidated = || AuthnError::new("service account token has been invalidated");
        if let Some(p) = &k.pod
            && !self.still_there(self.pods.as_ref(), ns, p).await
        {
            return Err(invalidated());
        }
        if let Some(s) = &k.secret
            && !self.still_there(self.secrets.as_ref(), ns, s).await
        {
            return Err(invalidated());
        }
        Ok(Some(Authenticated {
            user: claims.user(),
            audiences,
        }))
    }
}
