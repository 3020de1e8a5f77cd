//! Service-account tokens: ES256-signed JWTs with upstream's claims
//! (`iss`, `sub` `system:serviceaccount:<ns>:<name>`, `aud`, `exp`, `iat`,
//! `nbf`, `jti`, and the `kubernetes.io` claim naming the service account
//! and the object the token is bound to), signing and verification.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::authn::{CREDENTIAL_ID_KEY, UserInfo};

/// `extra` keys of a service account's user, as upstream.
pub const POD_NAME_KEY: &str = "authentication.kubernetes.io/pod-name";
pub const POD_UID_KEY: &str = "authentication.kubernetes.io/pod-uid";
pub const NODE_NAME_KEY: &str = "authentication.kubernetes.io/node-name";
pub const NODE_UID_KEY: &str = "authentication.kubernetes.io/node-uid";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the service account signing key is not a PKCS#8 P-256 key: {0}")]
    Key(String),
    #[error("signing failed")]
    Sign,
}

/// The object a token is bound to (its deletion invalidates the token).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundRef {
    pub name: String,
    pub uid: String,
}

/// The `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    pub namespace: String,
    pub serviceaccount: BoundRef,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pod: Option<BoundRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret: Option<BoundRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub node: Option<BoundRef>,
}

/// The claims of a service-account token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaim,
    pub nbf: i64,
    pub sub: String,
}

impl Claims {
    /// The identity the token carries, as upstream's authenticator gives it
    /// (the union adds `system:authenticated`): the account, its groups,
    /// and in `extra` the bound pod and node and the token's id.
    pub fn user(&self) -> UserInfo {
        let k = &self.kubernetes;
        let ns = &k.namespace;
        let mut extra = BTreeMap::new();
        if let Some(p) = &k.pod
            && !p.name.is_empty()
            && !p.uid.is_empty()
        {
            extra.insert(POD_NAME_KEY.to_string(), vec![p.name.clone()]);
            extra.insert(POD_UID_KEY.to_string(), vec![p.uid.clone()]);
        }
        if !self.jti.is_empty() {
            extra.insert(
                CREDENTIAL_ID_KEY.to_string(),
                vec![format!("JTI={}", self.jti)],
            );
        }
        if let Some(n) = &k.node
            && !n.name.is_empty()
        {
            extra.insert(NODE_NAME_KEY.to_string(), vec![n.name.clone()]);
            if !n.uid.is_empty() {
                extra.insert(NODE_UID_KEY.to_string(), vec![n.uid.clone()]);
            }
        }
        UserInfo {
            name: format!("system:serviceaccount:{ns}:{}", k.serviceaccount.name),
            uid: k.serviceaccount.uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ],
            extra,
        }
    }
}

/// The signing key and what tokens must say to be accepted.
pub struct TokenKey {
    key: EcdsaKeyPair,
    public: Vec<u8>,
    kid: String,
    pub issuer: String,
    /// Audiences the API server accepts (`--api-audiences`, default the issuer).
    pub audiences: Vec<String>,
}

impl TokenKey {
    /// From a PKCS#8 DER P-256 private key.
    pub fn from_pkcs8(
        der: &[u8],
        issuer: &str,
        audiences: Vec<String>,
    ) -> Result<Self, TokenError> {
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .map_err(|e| TokenError::Key(e.to_string()))?;
        let public = key.public_key().as_ref().to_vec();
        let digest = ring::digest::digest(&ring::digest::SHA256, &public);
        let kid = B64.encode(digest.as_ref());
        Ok(TokenKey {
            key,
            public,
            kid,
            issuer: issuer.to_string(),
            audiences,
        })
    }

    /// A signed token for `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let header = serde_json::json!({"alg": "ES256", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(serde_json::to_vec(claims).map_err(|_| TokenError::Sign)?)
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| TokenError::Sign)?;
        Ok(format!("{input}.{}", B64.encode(sig.as_ref())))
    }

    /// The claims of a token this key signed, if its signature, issuer,
    /// audience and validity window check out at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        self.verify_for(token, now, &self.audiences)
            .ok()
            .flatten()
            .map(|(c, _)| c)
    }

    /// Upstream's service-account JWT check: `Ok(None)` for a token that is
    /// not a JWT of this issuer (another authenticator's); an error for
    /// one of ours that fails; else the claims and the audiences of
    /// `wanted` (the API audiences when empty) the token is for.
    pub fn verify_for(
        &self,
        token: &str,
        now: i64,
        wanted: &[String],
    ) -> Result<Option<(Claims, Vec<String>)>, String> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let Some(payload) = B64
            .decode(c)
            .ok()
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        else {
            return Ok(None);
        };
        if payload.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Ok(None);
        }
        let header: Option<Value> = B64
            .decode(h)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok());
        let alg_ok = header
            .as_ref()
            .and_then(|h| h.get("alg"))
            .and_then(Value::as_str)
            == Some("ES256");
        let sig = B64.decode(s).unwrap_or_default();
        let input = &token[..h.len() + 1 + c.len()];
        let signed = alg_ok
            && UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public)
                .verify(input.as_bytes(), &sig)
                .is_ok();
        if !signed {
            return Err("token could not be verified".into());
        }
        let claims: Claims = serde_json::from_value(payload)
            .map_err(|_| "service account token claims could not be read".to_string())?;
        // A minute of leeway for clock skew, as upstream allows.
        if now >= claims.exp + 60 {
            return Err("service account token has expired".into());
        }
        if claims.nbf > now + 60 {
            return Err("service account token is not valid yet".into());
        }
        let wanted = if wanted.is_empty() {
            &self.audiences
        } else {
            wanted
        };
        let auds = crate::authn::intersect(&claims.aud, wanted);
        if auds.is_empty() {
            return Err(format!(
                "token audiences {:?} is invalid for the target audiences {:?}",
                claims.aud, wanted
            ));
        }
        Ok(Some((claims, auds)))
    }

    /// The public key (SEC1 uncompressed point), for a JWKS document.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    pub fn key_id(&self) -> &str {
        &self.kid
    }
}

/// Generates a fresh P-256 key as PKCS#8 DER.
pub fn generate_pkcs8() -> Result<Vec<u8>, TokenError> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map(|d| d.as_ref().to_vec())
        .map_err(|e| TokenError::Key(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            aud: vec!["https://kubernetes.default.svc.cluster.local".into()],
            exp: now + 3600,
            iat: now,
            iss: "https://kubernetes.default.svc.cluster.local".into(),
            jti: "j".into(),
            kubernetes: KubernetesClaim {
                namespace: "default".into(),
                serviceaccount: BoundRef {
                    name: "default".into(),
                    uid: "u".into(),
                },
                ..Default::default()
            },
            nbf: now,
            sub: "system:serviceaccount:default:default".into(),
        }
    }

    #[test]
    fn signs_and_verifies() {
        let der = generate_pkcs8().expect("key");
        let iss = "https://kubernetes.default.svc.cluster.local";
        let key = TokenKey::from_pkcs8(&der, iss, vec![iss.into()]).expect("key");
        let now = 1_700_000_000;
        let token = key.sign(&claims(now)).expect("sign");
        let got = key.verify(&token, now + 10).expect("valid");
        let user = got.user();
        assert_eq!(user.name, "system:serviceaccount:default:default");
        assert_eq!(
            user.groups,
            ["system:serviceaccounts", "system:serviceaccounts:default"]
        );
        assert_eq!(user.extra[CREDENTIAL_ID_KEY], ["JTI=j"]);
        // Another issuer's JWT is none of our business; a wrong audience is.
        assert_eq!(key.verify_for("a.b.c", now, &[]), Ok(None));
        let err = key
            .verify_for(&token, now, &["vault".to_string()])
            .expect_err("audience");
        assert!(err.contains("invalid for the target audiences"), "{err}");
        // Expired, tampered, foreign audience, another key: all refused.
        assert!(key.verify(&token, now + 3600 + 120).is_none());
        let mut bad = token.clone();
        bad.insert(bad.len() / 2, 'x');
        assert!(key.verify(&bad, now).is_none());
        let mut other = claims(now);
        other.aud = vec!["elsewhere".into()];
        assert!(key.verify(&key.sign(&other).expect("sign"), now).is_none());
        let key2 = TokenKey::from_pkcs8(&generate_pkcs8().expect("key"), iss, vec![iss.into()])
            .expect("key");
        assert!(key2.verify(&token, now).is_none());
        assert!(key.verify("a.b", now).is_none());
        assert!(key.verify("", now).is_none());
    }
}
