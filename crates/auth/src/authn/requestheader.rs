//! Request-header (front proxy) authentication: a proxy whose client
//! certificate chains to `--requestheader-client-ca-file` (and, when
//! `--requestheader-allowed-names` is set, whose CN is one of them) names
//! the user in headers: the first non-empty username header, the first
//! non-empty uid header, every non-empty value of the group headers, and
//! `extra` from headers under the extra prefixes (the rest of the name,
//! lower-cased and percent-decoded, is the key). The headers are removed
//! once they have been used, as upstream does.

use std::collections::BTreeMap;

use http::HeaderMap;
use rustls::pki_types::CertificateDer;

use super::UserInfo;
use super::x509::{CaBundle, common_name};

/// Upstream's headers, used when only the CA is configured.
pub const DEFAULT_USERNAME_HEADERS: &[&str] = &["X-Remote-User"];
pub const DEFAULT_GROUP_HEADERS: &[&str] = &["X-Remote-Group"];
pub const DEFAULT_EXTRA_PREFIXES: &[&str] = &["X-Remote-Extra-"];

/// The front proxy's CA and the headers it speaks.
#[derive(Clone, Debug)]
pub struct RequestHeader {
    pub ca: CaBundle,
    /// CNs allowed to act as the proxy; empty allows any the CA signed.
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_prefixes: Vec<String>,
}

impl RequestHeader {
    /// Whether the connection's certificate may speak for users.
    pub fn check_certificate(&self, chain: &[CertificateDer<'_>], now: i64) -> Result<(), String> {
        self.ca.verify(chain, now)?;
        if self.allowed_names.is_empty() {
            return Ok(());
        }
        let cn = chain
            .first()
            .and_then(|c| common_name(c))
            .unwrap_or_default();
        if self.allowed_names.contains(&cn) {
            Ok(())
        } else {
            Err(format!(
                "x509: subject with cn={cn} is not in the allowed list"
            ))
        }
    }

    /// The user the headers name, removing every header this
    /// authenticator reads; `None` (headers untouched) without a username.
    pub fn user(&self, headers: &mut HeaderMap) -> Option<UserInfo> {
        let name = first_value(headers, &self.username_headers)?;
        let uid = first_value(headers, &self.uid_headers).unwrap_or_default();
        let groups = all_values(headers, &self.group_headers);
        let extra = extra(headers, &self.extra_prefixes);
        self.clear(headers);
        Some(UserInfo {
            name,
            uid,
            groups,
            extra,
        })
    }

    fn clear(&self, headers: &mut HeaderMap) {
        for h in self
            .username_headers
            .iter()
            .chain(&self.uid_headers)
            .chain(&self.group_headers)
        {
            headers.remove(h.as_str());
        }
        let doomed: Vec<http::HeaderName> = headers
            .keys()
            .filter(|k| {
                self.extra_prefixes
                    .iter()
                    .any(|p| has_prefix_ignore_case(k.as_str(), p))
            })
            .cloned()
            .collect();
        for k in doomed {
            headers.remove(k);
        }
    }
}

fn text(v: &http::HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

/// The first header of `names` with a non-empty (first) value.
fn first_value(headers: &HeaderMap, names: &[String]) -> Option<String> {
    names
        .iter()
        .find_map(|n| headers.get(n.as_str()).map(text).filter(|v| !v.is_empty()))
}

/// Every non-empty value of every header of `names`, in order.
fn all_values(headers: &HeaderMap, names: &[String]) -> Vec<String> {
    names
        .iter()
        .flat_map(|n| headers.get_all(n.as_str()).iter().map(text))
        .filter(|v| !v.is_empty())
        .collect()
}

fn has_prefix_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `extra` from the headers under `prefixes`.
fn extra(headers: &HeaderMap, prefixes: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for prefix in prefixes {
        for name in headers.keys() {
            let n = name.as_str();
            if !has_prefix_ignore_case(n, prefix) {
                continue;
            }
            let key = unescape(&n[prefix.len()..].to_ascii_lowercase());
            out.entry(key)
                .or_default()
                .extend(headers.get_all(name).iter().map(text));
        }
    }
    out
}

/// Percent-decodes an extra key; a malformed one is kept as it came.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => return s.to_string(),
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::x509::testing::ca;
    use super::*;

    fn config(allowed: &[&str]) -> (RequestHeader, super::super::x509::testing::Ca) {
        let proxy_ca = ca("front-proxy-ca");
        let rh = RequestHeader {
            ca: CaBundle::from_pem(proxy_ca.pem.as_bytes()).expect("test set-up"),
            allowed_names: allowed.iter().map(|s| s.to_string()).collect(),
            username_headers: vec!["X-Remote-User".into()],
            uid_headers: vec!["X-Remote-Uid".into()],
            group_headers: vec!["X-Remote-Group".into()],
            extra_prefixes: vec!["X-Remote-Extra-".into()],
        };
        (rh, proxy_ca)
    }

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

    #[test]
    fn headers_name_the_user_and_are_removed() {
        let (rh, _) = config(&[]);
        let mut h = headers(&[
            ("X-Remote-User", ""),
            ("x-remote-user", "alice"),
            ("X-Remote-Uid", "42"),
            ("X-Remote-Group", "devs"),
            ("X-Remote-Group", ""),
            ("X-Remote-Group", "ops"),
            ("X-Remote-Extra-Scopes", "read"),
            ("X-Remote-Extra-scopes", "write"),
            ("X-Remote-Extra-Acme.com%2Fproject", "kaiser"),
            ("X-Remote-Extra-Bad%zz", "kept"),
            ("Accept", "application/json"),
        ]);
        // The first value of a header is the one read, as Go's Header.Get.
        assert!(rh.user(&mut h.clone()).is_none());
        h.remove("x-remote-user");
        h.insert("x-remote-user", http::HeaderValue::from_static("alice"));
        let u = rh.user(&mut h).expect("a user");
        assert_eq!(u.name, "alice");
        assert_eq!(u.uid, "42");
        assert_eq!(u.groups, ["devs", "ops"]);
        assert_eq!(u.extra["scopes"], ["read", "write"]);
        assert_eq!(u.extra["acme.com/project"], ["kaiser"]);
        assert_eq!(u.extra["bad%zz"], ["kept"]);
        assert_eq!(h.len(), 1, "only Accept is left: {h:?}");
    }

    #[test]
    fn no_username_leaves_the_headers_alone() {
        let (rh, _) = config(&[]);
        let mut h = headers(&[("X-Remote-Group", "devs")]);
        assert!(rh.user(&mut h).is_none());
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn only_the_proxy_ca_and_allowed_names_may_speak() {
        let (rh, proxy_ca) = config(&["front-proxy-client"]);
        let now = kaiser_apimachinery::time::now_unix();
        assert_eq!(
            rh.check_certificate(&[proxy_ca.leaf("front-proxy-client", &[])], now),
            Ok(())
        );
        let err = rh
            .check_certificate(&[proxy_ca.leaf("someone-else", &[])], now)
            .expect_err("not allowed");
        assert_eq!(
            err,
            "x509: subject with cn=someone-else is not in the allowed list"
        );
        let other = ca("other");
        assert!(
            rh.check_certificate(&[other.leaf("front-proxy-client", &[])], now)
                .is_err()
        );
        let (any, proxy_ca) = config(&[]);
        assert_eq!(
            any.check_certificate(&[proxy_ca.leaf("whoever", &[])], now),
            Ok(())
        );
    }

    #[test]
    fn unescape_decodes_percent_sequences() {
        assert_eq!(unescape("a%2Fb"), "a/b");
        assert_eq!(unescape("a%2fb"), "a/b");
        assert_eq!(unescape("bad%zz"), "bad%zz");
        assert_eq!(unescape("plain"), "plain");
        assert_eq!(unescape("bad%2"), "bad%2");
        assert_eq!(unescape("bad%ff"), "bad%ff", "not UTF-8");
        assert_eq!(unescape("%"), "%");
    }
}
