//! Authentication: who sent a request.

use std::collections::BTreeMap;

use x509_parser::prelude::{FromDer, X509Certificate};

pub const GROUP_AUTHENTICATED: &str = "system:authenticated";
pub const GROUP_UNAUTHENTICATED: &str = "system:unauthenticated";
pub const GROUP_MASTERS: &str = "system:masters";
pub const USER_ANONYMOUS: &str = "system:anonymous";

/// The authenticated identity of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    /// Extra attributes (impersonation's `Impersonate-Extra-*`, token
    /// authenticators), keyed as upstream's `user.Info.GetExtra`.
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
        uid: String::new(),
        groups: vec![GROUP_UNAUTHENTICATED.into()],
        extra: BTreeMap::new(),
    }
}

/// The user of a client certificate already verified against the client CA:
/// CN is the user name, each O a group; `system:authenticated` is added.
pub fn user_from_certificate(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())?
        .to_string();
    if name.is_empty() {
        return None;
    }
    let mut groups: Vec<String> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    groups.push(GROUP_AUTHENTICATED.into());
    Some(UserInfo {
        name,
        groups,
        ..UserInfo::default()
    })
}
