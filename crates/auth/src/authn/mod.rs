//! Authentication: who sent a request.
//!
//! Owns [`UserInfo`], the token authenticator hook ([`TokenAuthenticator`])
//! and the authenticators that need no I/O: client certificates
//! ([`x509`]), the front proxy's request headers ([`requestheader`]), the
//! static token file ([`tokenfile`]), the checks of bootstrap-token Secrets
//! ([`bootstrap`]), JWT signatures ([`jwt`]) and OIDC claims ([`oidc`]),
//! the result cache ([`cache`]) and their union in upstream's order
//! ([`union::Authenticator`]). Authenticators that call out (token webhook,
//! OIDC key sets) live beside the outbound client in `admission::webhook`;
//! those that read objects live in `kubeapiserver`.

pub mod bootstrap;
pub mod cache;
pub mod jwt;
pub mod oidc;
pub mod requestheader;
pub mod tokenfile;
pub mod union;
pub mod x509;

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use x509::user_from_certificate;

pub const GROUP_AUTHENTICATED: &str = "system:authenticated";
pub const GROUP_UNAUTHENTICATED: &str = "system:unauthenticated";
pub const GROUP_MASTERS: &str = "system:masters";
pub const USER_ANONYMOUS: &str = "system:anonymous";
/// The `extra` key naming the credential a request was authenticated with.
pub const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";

/// The authenticated identity of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    /// Additional attributes (upstream's `user.Info.GetExtra`).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn in_group(&self, g: &str) -> bool {
        self.groups.iter().any(|x| x == g)
    }
}

/// The identity of a request without credentials.
pub fn anonymous() -> UserInfo {
    UserInfo {
        name: USER_ANONYMOUS.into(),
        groups: vec![GROUP_UNAUTHENTICATED.into()],
        ..Default::default()
    }
}

/// A credential that checked out: who it names, and the audiences it was
/// accepted for (empty when the authenticator does not deal in audiences).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authenticated {
    pub user: UserInfo,
    pub audiences: Vec<String>,
}

/// Why a presented credential was refused. Only ever logged: clients see a
/// bare 401 `Unauthorized`. Never contains the credential itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthnError(pub String);

impl AuthnError {
    pub fn new(msg: impl Into<String>) -> Self {
        AuthnError(msg.into())
    }
}

/// Authenticates a bearer token.
#[async_trait]
pub trait TokenAuthenticator: Send + Sync {
    /// `Ok(Some)`: the token is valid for some of `audiences` (the API
    /// audiences for ordinary requests; what a TokenReview asks for);
    /// `Ok(None)`: not a token this authenticator knows; `Err`: it is one
    /// of its tokens but invalid, or the authenticator could not decide.
    async fn authenticate_token(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError>;
}

/// Upstream's `Audiences.Intersect`: the members of `a` also in `b`.
pub fn intersect(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|x| b.contains(x)).cloned().collect()
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(hex(&[0xde, 0xad, 0x01]), "dead01");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        let a = vec!["x".to_string(), "y".to_string()];
        assert_eq!(intersect(&a, &["y".to_string()]), ["y"]);
        assert!(intersect(&a, &[]).is_empty());
        assert_eq!(anonymous().groups, [GROUP_UNAUTHENTICATED]);
    }
}
