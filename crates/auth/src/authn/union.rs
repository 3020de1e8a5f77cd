//! The authenticator union, in upstream's order: request headers from the
//! front proxy, client certificates, bearer tokens (each token
//! authenticator in turn: static file, service accounts, bootstrap tokens,
//! OIDC, webhook; from `Authorization: Bearer` or, for WebSocket upgrades,
//! the `base64url.bearer.authorization.k8s.io.` subprotocol), then
//! anonymous. The first authenticator that accepts
//! wins; when none does, any presented credential that failed makes the
//! request a 401, and a request without credentials is anonymous (or a
//! 401 with `--anonymous-auth=false`). Everyone authenticated gets
//! `system:authenticated`.
//!
//! Certificate checks cost a signature verification per CA, so they run
//! once per connection ([`Authenticator::connection`]); requests reuse the
//! outcome ([`ClientCertificate`]).

use std::sync::Arc;

use async_trait::async_trait;
use http::HeaderMap;
use rustls::pki_types::CertificateDer;

use super::requestheader::RequestHeader;
use super::x509::{CaBundle, chain_not_after, user_from_certificate};
use super::{
    Authenticated, AuthnError, GROUP_AUTHENTICATED, GROUP_UNAUTHENTICATED, TokenAuthenticator,
    USER_ANONYMOUS, UserInfo, anonymous, intersect,
};

/// Every way a request can say who sent it.
#[derive(Default)]
pub struct Authenticator {
    pub request_header: Option<RequestHeader>,
    /// `--client-ca-file` (or kaiser's generated CA).
    pub client_ca: Option<CaBundle>,
    /// Token authenticators, in the order they are asked.
    pub tokens: Vec<Arc<dyn TokenAuthenticator>>,
    /// `--anonymous-auth`.
    pub anonymous: bool,
    /// `--api-audiences`: what ordinary requests' tokens must be for.
    pub api_audiences: Vec<String>,
}

/// What a connection's client certificate proved, decided when the
/// connection was made.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    /// `Some` when request-header authentication is configured: whether
    /// the certificate may speak for users.
    front_proxy: Option<Result<(), String>>,
    /// `Some` when client certificates are configured: its user.
    x509: Option<Result<UserInfo, String>>,
    /// When the chain stops being valid (Unix seconds).
    not_after: i64,
}

impl ClientCertificate {
    fn fresh(&self, now: i64) -> Result<(), String> {
        if now > self.not_after {
            return Err("x509: certificate has expired or is not yet valid".into());
        }
        Ok(())
    }
}

/// Wraps a token authenticator that knows nothing of audiences (static
/// tokens, bootstrap tokens, OIDC): its tokens are for the API audiences.
pub struct AudienceAgnostic {
    pub inner: Arc<dyn TokenAuthenticator>,
    pub api_audiences: Vec<String>,
}

#[async_trait]
impl TokenAuthenticator for AudienceAgnostic {
    async fn authenticate_token(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError> {
        let auds = if audiences.is_empty() {
            Vec::new()
        } else {
            let both = intersect(&self.api_audiences, audiences);
            if both.is_empty() {
                return Ok(None);
            }
            both
        };
        Ok(self
            .inner
            .authenticate_token(token, audiences)
            .await?
            .map(|mut a| {
                a.audiences = auds;
                a
            }))
    }
}

const WEBSOCKET_PROTOCOL: &str = "sec-websocket-protocol";
const BEARER_PROTOCOL_PREFIX: &str = "base64url.bearer.authorization.k8s.io.";

/// Whether the request asks for a WebSocket upgrade.
fn is_websocket(headers: &HeaderMap) -> bool {
    let has = |name: http::header::HeaderName, want: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(want)))
        })
    };
    has(http::header::CONNECTION, "upgrade") && has(http::header::UPGRADE, "websocket")
}

/// The bearer token of a WebSocket request's subprotocols, and the other
/// subprotocols (what the header becomes once the token is used), as
/// upstream's protocol authenticator reads them.
pub fn websocket_token(headers: &HeaderMap) -> Result<Option<(String, String)>, AuthnError> {
    use base64::Engine;
    if !is_websocket(headers) {
        return Ok(None);
    }
    let mut token: Option<String> = None;
    let mut others: Vec<&str> = Vec::new();
    for value in headers.get_all(WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        for protocol in value.split(',').map(str::trim) {
            let Some(encoded) = protocol.strip_prefix(BEARER_PROTOCOL_PREFIX) else {
                others.push(protocol);
                continue;
            };
            if token.is_some() {
                return Err(AuthnError::new(
                    "multiple base64.bearer.authorization tokens specified",
                ));
            }
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| {
                    AuthnError::new("invalid base64.bearer.authorization token encoding")
                })?;
            let t = String::from_utf8(bytes)
                .map_err(|_| AuthnError::new("invalid base64.bearer.authorization token"))?;
            token = Some(t);
        }
    }
    match token {
        Some(t) if !t.is_empty() && others.is_empty() => {
            Err(AuthnError::new("missing additional subprotocol"))
        }
        Some(t) if !t.is_empty() => Ok(Some((t, others.join(",")))),
        _ => Ok(None),
    }
}

/// Upstream's `AuthenticatedGroupAdder`.
fn add_authenticated_group(mut user: UserInfo) -> UserInfo {
    let marked = user.name == USER_ANONYMOUS
        || user
            .groups
            .iter()
            .any(|g| g == GROUP_AUTHENTICATED || g == GROUP_UNAUTHENTICATED);
    if !marked {
        user.groups.push(GROUP_AUTHENTICATED.into());
    }
    user
}

/// The token of an `Authorization: Bearer` header, as upstream reads it:
/// `None` for no header, another scheme, or an empty token. Bytes that are
/// not UTF-8 still make a (failing) token rather than no credential.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(http::header::AUTHORIZATION)?;
    let value = String::from_utf8_lossy(raw.as_bytes());
    let mut parts = value.trim().splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

impl Authenticator {
    /// Checks a connection's certificate chain (leaf first) against each CA
    /// once; `None` for a connection without one.
    pub fn connection(&self, chain: &[CertificateDer<'_>]) -> Option<ClientCertificate> {
        if chain.is_empty() {
            return None;
        }
        let now = kaiser_apimachinery::time::now_unix();
        let front_proxy = self
            .request_header
            .as_ref()
            .map(|rh| rh.check_certificate(chain, now));
        let x509 = self.client_ca.as_ref().map(|ca| {
            ca.verify(chain, now)?;
            user_from_certificate(&chain[0]).ok_or_else(String::new)
        });
        Some(ClientCertificate {
            front_proxy,
            x509,
            not_after: chain_not_after(chain),
        })
    }

    /// Who sent a request. Removes the credentials it used (the bearer
    /// token, the front proxy's headers) from `headers`.
    pub async fn authenticate(
        &self,
        headers: &mut HeaderMap,
        cert: Option<&ClientCertificate>,
    ) -> Result<UserInfo, AuthnError> {
        let mut errors: Vec<String> = Vec::new();
        let now = kaiser_apimachinery::time::now_unix();
        if let (Some(rh), Some(c)) = (&self.request_header, cert)
            && let Some(check) = &c.front_proxy
        {
            match check.clone().and_then(|()| c.fresh(now)) {
                Ok(()) => {
                    if let Some(user) = rh.user(headers) {
                        return Ok(add_authenticated_group(user));
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(c) = cert
            && let Some(x509) = &c.x509
        {
            match x509.clone().and_then(|u| c.fresh(now).map(|()| u)) {
                Ok(user) => return Ok(add_authenticated_group(user)),
                // No CN: not an error, the next authenticator may know it.
                Err(e) if e.is_empty() => {}
                Err(e) => errors.push(e),
            }
        }
        if let Some(token) = bearer_token(headers) {
            match self.authenticate_token(&token, &self.api_audiences).await {
                Ok(Some(a)) => {
                    headers.remove(http::header::AUTHORIZATION);
                    return Ok(a.user);
                }
                Ok(None) => errors.push("invalid bearer token".into()),
                Err(e) => errors.push(e.0),
            }
        }
        match websocket_token(headers) {
            Ok(Some((token, others))) => {
                match self.authenticate_token(&token, &self.api_audiences).await {
                    Ok(Some(a)) => {
                        if let Ok(v) = http::HeaderValue::from_str(&others) {
                            headers.insert(WEBSOCKET_PROTOCOL, v);
                        }
                        return Ok(a.user);
                    }
                    Ok(None) => errors.push("invalid bearer token".into()),
                    Err(e) => errors.push(e.0),
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e.0),
        }
        if !errors.is_empty() {
            return Err(AuthnError(join(&errors)));
        }
        if self.anonymous {
            return Ok(anonymous());
        }
        Err(AuthnError::new("no credentials were presented"))
    }

    /// The token authenticators' verdict on `token` for `audiences`, with
    /// `system:authenticated` added: what bearer requests and TokenReview
    /// see. `Ok(None)` when no authenticator knows the token.
    pub async fn authenticate_token(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError> {
        let mut errors = Vec::new();
        for t in &self.tokens {
            match t.authenticate_token(token, audiences).await {
                Ok(Some(mut a)) => {
                    a.user = add_authenticated_group(a.user);
                    return Ok(Some(a));
                }
                Ok(None) => {}
                Err(e) => errors.push(e.0),
            }
        }
        if errors.is_empty() {
            Ok(None)
        } else {
            Err(AuthnError(join(&errors)))
        }
    }
}

/// Upstream's aggregate error text: one error as is, several in brackets.
fn join(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokenfile::StaticTokens;
    use super::super::x509::testing::ca;
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("test set-up"),
                http::HeaderValue::from_str(v).expect("test set-up"),
            );
        }
        h
    }

    fn static_tokens() -> Arc<dyn TokenAuthenticator> {
        Arc::new(AudienceAgnostic {
            inner: Arc::new(
                StaticTokens::parse("t.csv", "tok,alice,1,devs\nroot,system:anonymous,0\n")
                    .expect("test set-up"),
            ),
            api_audiences: vec!["api".into()],
        })
    }

    #[test]
    fn bearer_headers_are_read_as_upstream() {
        let t = |v: &str| bearer_token(&headers(&[("Authorization", v)]));
        assert_eq!(t("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(t("bearer abc").as_deref(), Some("abc"));
        assert_eq!(t("  Bearer abc  ").as_deref(), Some("abc"));
        assert_eq!(t("Bearer abc def").as_deref(), Some("abc"));
        assert_eq!(t("Bearer  abc"), None, "an empty token before the space");
        assert_eq!(t("Bearer"), None);
        assert_eq!(t("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            http::HeaderValue::from_bytes(b"Bearer t\xff").expect("test set-up"),
        );
        assert_eq!(bearer_token(&h).as_deref(), Some("t\u{fffd}"));
    }

    #[tokio::test]
    async fn tokens_anonymous_and_failures() {
        let a = Authenticator {
            tokens: vec![static_tokens()],
            anonymous: true,
            api_audiences: vec!["api".into()],
            ..Default::default()
        };
        let mut h = headers(&[("Authorization", "Bearer tok")]);
        let u = a.authenticate(&mut h, None).await.expect("valid");
        assert_eq!(u.name, "alice");
        assert_eq!(u.groups, ["devs", GROUP_AUTHENTICATED]);
        assert!(h.get("authorization").is_none(), "the token is removed");

        let mut h = headers(&[("Authorization", "Bearer wrong")]);
        let e = a.authenticate(&mut h, None).await.expect_err("401");
        assert_eq!(e.0, "invalid bearer token");

        // No credentials (or another scheme): anonymous.
        let u = a
            .authenticate(&mut HeaderMap::new(), None)
            .await
            .expect("anon");
        assert_eq!(u, anonymous());
        let mut basic = headers(&[("Authorization", "Basic eDp5")]);
        assert_eq!(a.authenticate(&mut basic, None).await, Ok(anonymous()));

        // A token user named system:anonymous gets no authenticated group.
        let mut h = headers(&[("Authorization", "Bearer root")]);
        let u = a.authenticate(&mut h, None).await.expect("valid");
        assert!(u.groups.is_empty(), "{u:?}");

        let strict = Authenticator {
            anonymous: false,
            ..Default::default()
        };
        assert!(
            strict
                .authenticate(&mut HeaderMap::new(), None)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn websocket_subprotocols_carry_tokens() {
        let a = Authenticator {
            tokens: vec![static_tokens()],
            ..Default::default()
        };
        // base64url("tok") = "dG9r".
        let ws = |protocols: &str| {
            headers(&[
                ("Connection", "keep-alive, Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Protocol", protocols),
            ])
        };
        let mut h = ws("base64url.bearer.authorization.k8s.io.dG9r, v5.channel.k8s.io");
        let u = a.authenticate(&mut h, None).await.expect("valid");
        assert_eq!(u.name, "alice");
        assert_eq!(h["sec-websocket-protocol"], "v5.channel.k8s.io");
        let mut lone = ws("base64url.bearer.authorization.k8s.io.dG9r");
        let e = a.authenticate(&mut lone, None).await.expect_err("401");
        assert_eq!(e.0, "missing additional subprotocol");
        let mut bad = ws("base64url.bearer.authorization.k8s.io.!!, x");
        assert!(a.authenticate(&mut bad, None).await.is_err());
        // Not an upgrade: the subprotocol header means nothing.
        let mut plain = headers(&[(
            "Sec-WebSocket-Protocol",
            "base64url.bearer.authorization.k8s.io.dG9r, x",
        )]);
        assert!(websocket_token(&plain).expect("ok").is_none());
        assert!(
            a.authenticate(&mut plain, None).await.is_err(),
            "no anonymous here"
        );
    }

    #[tokio::test]
    async fn audiences_limit_audience_agnostic_tokens() {
        let a = Authenticator {
            tokens: vec![static_tokens()],
            ..Default::default()
        };
        let api = vec!["api".to_string()];
        let got = a
            .authenticate_token("tok", &api)
            .await
            .expect("ok")
            .expect("user");
        assert_eq!(got.audiences, api);
        let other = vec!["vault".to_string()];
        assert_eq!(a.authenticate_token("tok", &other).await, Ok(None));
    }

    #[tokio::test]
    async fn certificates_in_upstreams_order() {
        let client_ca = ca("clients");
        let proxy_ca = ca("front-proxy");
        let a = Authenticator {
            client_ca: Some(CaBundle::from_pem(client_ca.pem.as_bytes()).expect("test set-up")),
            request_header: Some(RequestHeader {
                ca: CaBundle::from_pem(proxy_ca.pem.as_bytes()).expect("test set-up"),
                allowed_names: vec!["proxy".into()],
                username_headers: vec!["X-Remote-User".into()],
                uid_headers: vec![],
                group_headers: vec!["X-Remote-Group".into()],
                extra_prefixes: vec![],
            }),
            tokens: vec![static_tokens()],
            anonymous: true,
            api_audiences: vec!["api".into()],
        };
        // The client CA's certificate is its CN, whatever headers say.
        let admin = a.connection(&[client_ca.leaf("admin", &["system:masters"])]);
        let mut h = headers(&[("X-Remote-User", "bob")]);
        let u = a.authenticate(&mut h, admin.as_ref()).await.expect("cert");
        assert_eq!(u.name, "admin");
        assert_eq!(u.groups, ["system:masters", GROUP_AUTHENTICATED]);
        assert!(h.get("x-remote-user").is_some(), "untouched");
        // A certificate wins over a bearer token, as upstream's order says.
        let mut h = headers(&[("Authorization", "Bearer tok")]);
        let u = a.authenticate(&mut h, admin.as_ref()).await.expect("cert");
        assert_eq!(u.name, "admin");

        // The proxy's certificate lets headers speak.
        let proxy = a.connection(&[proxy_ca.leaf("proxy", &[])]);
        let mut h = headers(&[("X-Remote-User", "bob"), ("X-Remote-Group", "devs")]);
        let u = a
            .authenticate(&mut h, proxy.as_ref())
            .await
            .expect("headers");
        assert_eq!(u.name, "bob");
        assert_eq!(u.groups, ["devs", GROUP_AUTHENTICATED]);
        // Without a username header the proxy itself is unknown: 401.
        let e = a
            .authenticate(&mut HeaderMap::new(), proxy.as_ref())
            .await
            .expect_err("401");
        assert!(e.0.contains("unknown authority"), "{e}");

        // A proxy CN not on the list cannot; an unknown CA's cert is a 401
        // even with a valid token behind it... unless the token succeeds.
        let stranger = a.connection(&[ca("x").leaf("proxy", &[])]);
        let mut h = headers(&[("X-Remote-User", "bob")]);
        assert!(a.authenticate(&mut h, stranger.as_ref()).await.is_err());
        let mut h = headers(&[("Authorization", "Bearer tok")]);
        let u = a
            .authenticate(&mut h, stranger.as_ref())
            .await
            .expect("token");
        assert_eq!(u.name, "alice");
        assert!(a.connection(&[]).is_none());
    }
}
