//! OpenID Connect ID tokens (`--oidc-*`), as upstream's JWT authenticator
//! decides from its flags: a token whose `iss` is the issuer URL must be
//! signed (with an allowed algorithm) by a key of the issuer's key set,
//! name the client id in `aud`, be within `exp`/`nbf`, carry every
//! required claim, and, when the username claim is `email`, not say
//! `email_verified: false`. The user is the username claim (prefixed),
//! the groups the groups claim (a string or a list, prefixed).
//!
//! Fetching the key set is the [`KeySet`]'s job (over HTTPS, in
//! `admission::webhook::oidc`); everything here is pure.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::jwt::{self, Jwk};
use super::{Authenticated, AuthnError, TokenAuthenticator, UserInfo};

/// go-oidc's allowance for clocks that run ahead, on `nbf`.
const NBF_LEEWAY_SECS: i64 = 300;

/// The `--oidc-*` flags, completed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OidcConfig {
    pub issuer_url: String,
    pub client_id: String,
    pub username_claim: String,
    /// Already resolved: the issuer URL plus `#` for non-email claims when
    /// no prefix was given, nothing for `-`.
    pub username_prefix: String,
    pub groups_claim: String,
    pub groups_prefix: String,
    pub required_claims: Vec<(String, String)>,
    pub signing_algs: Vec<String>,
}

impl OidcConfig {
    /// The username prefix the flags imply, as upstream resolves it.
    pub fn resolve_username_prefix(issuer_url: &str, claim: &str, prefix: &str) -> String {
        match prefix {
            "-" => String::new(),
            "" if claim != "email" => format!("{issuer_url}#"),
            p => p.to_string(),
        }
    }
}

/// The issuer's signing keys.
#[async_trait]
pub trait KeySet: Send + Sync {
    /// The current keys; `refresh` asks the issuer again (a token names a
    /// key id the cached set lacks).
    async fn keys(&self, refresh: bool) -> Result<Vec<Jwk>, AuthnError>;
}

/// The OIDC token authenticator.
pub struct OidcAuthenticator {
    pub config: OidcConfig,
    pub keys: Arc<dyn KeySet>,
}

impl OidcAuthenticator {
    async fn verify_signature(&self, token: &jwt::Jwt) -> Result<(), AuthnError> {
        if !self.config.signing_algs.contains(&token.alg) {
            return Err(AuthnError::new(format!(
                "oidc: verify signature: oidc: id token signed with unsupported algorithm, expected {:?} got {:?}",
                self.config.signing_algs, token.alg
            )));
        }
        let input = token.signing_input.as_bytes();
        let try_keys = |keys: &[Jwk]| {
            keys.iter()
                .filter(|k| token.kid.is_none() || k.kid == token.kid)
                .any(|k| jwt::verify(&token.alg, &k.key, input, &token.signature))
        };
        let keys = self.keys.keys(false).await?;
        if try_keys(&keys) {
            return Ok(());
        }
        // An unknown key id (or a stale set) sends us back to the issuer.
        let keys = self.keys.keys(true).await?;
        if try_keys(&keys) {
            return Ok(());
        }
        Err(AuthnError::new(
            "oidc: verify signature: failed to verify signature: failed to verify id token signature",
        ))
    }
}

/// Checks the claims of a token whose signature verified; returns the user.
pub fn check_claims(
    cfg: &OidcConfig,
    claims: &Map<String, Value>,
    now: i64,
) -> Result<UserInfo, String> {
    let iss = jwt::claim_str(claims, "iss").unwrap_or("");
    if iss != cfg.issuer_url {
        return Err(format!(
            "oidc: id token issued by a different provider, expected {:?} got {iss:?}",
            cfg.issuer_url
        ));
    }
    let aud = jwt::audiences(claims);
    if !aud.contains(&cfg.client_id) {
        return Err(format!(
            "oidc: expected audience {:?} got {aud:?}",
            cfg.client_id
        ));
    }
    let exp = jwt::claim_time(claims, "exp").ok_or("oidc: token has no exp claim")?;
    if now > exp {
        return Err(format!(
            "oidc: token is expired (Token Expiry: {})",
            kaiser_apimachinery::time::format_rfc3339(exp)
        ));
    }
    if let Some(nbf) = jwt::claim_time(claims, "nbf")
        && now + NBF_LEEWAY_SECS < nbf
    {
        return Err(format!(
            "oidc: current time {} before the nbf (not before) time: {}",
            kaiser_apimachinery::time::format_rfc3339(now),
            kaiser_apimachinery::time::format_rfc3339(nbf)
        ));
    }
    for (name, want) in &cfg.required_claims {
        let got = match claims.get(name) {
            None => {
                return Err(format!(
                    "oidc: required claim {name} not present in ID token"
                ));
            }
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(format!(
                    "oidc: parse claim {name}: json: cannot unmarshal {} into Go value of type string",
                    json_kind(other)
                ));
            }
        };
        if got != want {
            return Err(format!(
                "oidc: required claim {name} value does not match. Got = {got}, want = {want}"
            ));
        }
    }
    let claim = &cfg.username_claim;
    if claim == "email"
        && let Some(v) = claims.get("email_verified")
    {
        match v {
            Value::Bool(true) => {}
            Value::Bool(false) => return Err("oidc: email not verified".into()),
            other => {
                return Err(format!(
                    "oidc: parse 'email_verified' claim: json: cannot unmarshal {} into Go value of type bool",
                    json_kind(other)
                ));
            }
        }
    }
    let username = match claims.get(claim) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(format!("oidc: empty username via claim {claim:?}")),
        None => {
            return Err(format!(
                "oidc: parse username claims {claim:?}: claim not present"
            ));
        }
        Some(other) => {
            return Err(format!(
                "oidc: parse username claims {claim:?}: json: cannot unmarshal {} into Go value of type string",
                json_kind(other)
            ));
        }
    };
    let mut groups = Vec::new();
    if !cfg.groups_claim.is_empty() {
        match claims.get(&cfg.groups_claim) {
            None | Some(Value::Null) => {}
            Some(Value::String(g)) => groups.push(g.clone()),
            Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
                groups.extend(list.iter().filter_map(|g| g.as_str().map(str::to_string)));
            }
            Some(other) => {
                return Err(format!(
                    "oidc: parse groups claim {:?}: json: cannot unmarshal {} into Go value of type string",
                    cfg.groups_claim,
                    json_kind(other)
                ));
            }
        }
    }
    Ok(UserInfo {
        name: format!("{}{username}", cfg.username_prefix),
        uid: String::new(),
        groups: groups
            .into_iter()
            .map(|g| format!("{}{g}", cfg.groups_prefix))
            .collect(),
        extra: Default::default(),
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[async_trait]
impl TokenAuthenticator for OidcAuthenticator {
    async fn authenticate_token(
        &self,
        token: &str,
        _audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError> {
        // Not a JWT, or not from this issuer: another authenticator's.
        let Some(jwt) = jwt::parse(token) else {
            return Ok(None);
        };
        if jwt::claim_str(&jwt.claims, "iss") != Some(self.config.issuer_url.as_str()) {
            return Ok(None);
        }
        // Claims first, as go-oidc: an expired token costs no key fetch.
        let now = kaiser_apimachinery::time::now_unix();
        let user = check_claims(&self.config, &jwt.claims, now).map_err(AuthnError)?;
        self.verify_signature(&jwt).await?;
        Ok(Some(Authenticated {
            user,
            audiences: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::super::jwt::testing::{Signer, ec, rsa};
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://issuer.example";

    fn config() -> OidcConfig {
        OidcConfig {
            issuer_url: ISS.into(),
            client_id: "kaiser".into(),
            username_claim: "sub".into(),
            username_prefix: OidcConfig::resolve_username_prefix(ISS, "sub", ""),
            groups_claim: "groups".into(),
            groups_prefix: "oidc:".into(),
            required_claims: vec![],
            signing_algs: vec!["RS256".into(), "ES256".into()],
        }
    }

    /// A key set holding `current`; `rotated` becomes current on refresh.
    struct Keys {
        current: Mutex<Vec<Jwk>>,
        rotated: Vec<Jwk>,
    }

    #[async_trait]
    impl KeySet for Keys {
        async fn keys(&self, refresh: bool) -> Result<Vec<Jwk>, AuthnError> {
            let mut cur = self.current.lock().expect("test set-up");
            if refresh && !self.rotated.is_empty() {
                *cur = self.rotated.clone();
            }
            Ok(cur.clone())
        }
    }

    fn authenticator(signer: &Signer, kid: &str, rotated: Vec<Jwk>) -> OidcAuthenticator {
        OidcAuthenticator {
            config: config(),
            keys: Arc::new(Keys {
                current: Mutex::new(jwt::parse_jwks(&json!({"keys": [signer.jwk(kid)]}))),
                rotated,
            }),
        }
    }

    fn claims(now: i64) -> Value {
        json!({"iss": ISS, "aud": "kaiser", "sub": "jane", "exp": now + 600, "iat": now,
            "groups": ["devs", "ops"]})
    }

    async fn auth(a: &OidcAuthenticator, token: &str) -> Result<Option<Authenticated>, AuthnError> {
        a.authenticate_token(token, &[]).await
    }

    #[tokio::test]
    async fn a_signed_token_names_its_prefixed_user() {
        let now = kaiser_apimachinery::time::now_unix();
        for signer in [rsa(), ec()] {
            let a = authenticator(&signer, "k1", vec![]);
            let got = auth(&a, &signer.sign("k1", &claims(now)))
                .await
                .expect("valid")
                .expect("ours");
            assert_eq!(got.user.name, format!("{ISS}#jane"));
            assert_eq!(got.user.groups, ["oidc:devs", "oidc:ops"]);
        }
    }

    #[tokio::test]
    async fn bad_signature_wrong_audience_and_expiry_are_refused() {
        let now = kaiser_apimachinery::time::now_unix();
        let signer = rsa();
        let a = authenticator(&signer, "k1", vec![]);
        // Signed by another key under the same key id.
        let forged = ec().sign("k1", &claims(now));
        let e = auth(&a, &forged).await.expect_err("bad signature");
        assert!(
            e.0.contains("unsupported algorithm") || e.0.contains("verify"),
            "{e}"
        );
        let mut tampered = signer.sign("k1", &claims(now));
        tampered.truncate(tampered.len() - 4);
        tampered.push_str("AAAA");
        let e = auth(&a, &tampered).await.expect_err("bad signature");
        assert!(e.0.contains("failed to verify signature"), "{e}");

        let mut c = claims(now);
        c["aud"] = json!(["someone-else"]);
        let e = auth(&a, &signer.sign("k1", &c))
            .await
            .expect_err("audience");
        assert!(e.0.starts_with("oidc: expected audience \"kaiser\""), "{e}");

        let mut c = claims(now);
        c["exp"] = json!(now - 1);
        let e = auth(&a, &signer.sign("k1", &c)).await.expect_err("expired");
        assert!(e.0.starts_with("oidc: token is expired"), "{e}");

        let mut c = claims(now);
        c["nbf"] = json!(now + 3600);
        let e = auth(&a, &signer.sign("k1", &c))
            .await
            .expect_err("not yet valid");
        assert!(e.0.contains("before the nbf"), "{e}");

        // Another issuer's token, or no JWT at all: not ours, no error.
        let mut c = claims(now);
        c["iss"] = json!("https://elsewhere");
        assert_eq!(auth(&a, &signer.sign("k1", &c)).await, Ok(None));
        assert_eq!(auth(&a, "opaque-token").await, Ok(None));
    }

    #[tokio::test]
    async fn an_unknown_key_id_refreshes_the_key_set() {
        let now = kaiser_apimachinery::time::now_unix();
        let old = ec();
        let new = ec();
        let rotated = jwt::parse_jwks(&json!({"keys": [new.jwk("k2")]}));
        let a = authenticator(&old, "k1", rotated);
        let got = auth(&a, &new.sign("k2", &claims(now)))
            .await
            .expect("valid");
        assert!(got.is_some());
    }

    #[test]
    fn claims_rules() {
        let now = 1_000_000;
        let mut cfg = config();
        cfg.required_claims = vec![("hd".into(), "example.com".into())];
        let mut c = claims(now).as_object().cloned().expect("object");
        let e = check_claims(&cfg, &c, now).expect_err("missing");
        assert_eq!(e, "oidc: required claim hd not present in ID token");
        c.insert("hd".into(), json!("other.com"));
        let e = check_claims(&cfg, &c, now).expect_err("mismatch");
        assert_eq!(
            e,
            "oidc: required claim hd value does not match. Got = other.com, want = example.com"
        );
        c.insert("hd".into(), json!("example.com"));
        assert!(check_claims(&cfg, &c, now).is_ok());

        // email: unprefixed by default, and email_verified must not be false.
        cfg.username_claim = "email".into();
        cfg.username_prefix = OidcConfig::resolve_username_prefix(ISS, "email", "");
        c.insert("email".into(), json!("jane@example.com"));
        assert_eq!(
            check_claims(&cfg, &c, now).expect("ok").name,
            "jane@example.com"
        );
        c.insert("email_verified".into(), json!(false));
        assert_eq!(
            check_claims(&cfg, &c, now).expect_err("unverified"),
            "oidc: email not verified"
        );
        c.insert("email_verified".into(), json!(true));
        assert!(check_claims(&cfg, &c, now).is_ok());

        // A single group string, and no username claim at all.
        c.insert("groups".into(), json!("solo"));
        assert_eq!(
            check_claims(&cfg, &c, now).expect("ok").groups,
            ["oidc:solo"]
        );
        c.remove("email");
        assert!(check_claims(&cfg, &c, now).is_err());

        assert_eq!(OidcConfig::resolve_username_prefix(ISS, "sub", "-"), "");
        assert_eq!(
            OidcConfig::resolve_username_prefix(ISS, "sub", "me:"),
            "me:"
        );
    }
}
