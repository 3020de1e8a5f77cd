//! The headers a proxied request carries to an extension API server: the
//! caller's identity as request-header authentication reads it
//! (`X-Remote-User`, one `X-Remote-Group` per group, `X-Remote-Extra-<key>`
//! per value with the key percent-encoded), and none of the caller's own
//! credentials (`Authorization`, impersonation headers) or hop-by-hop
//! headers.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The identity passed to the backend.
pub struct Identity<'a> {
    pub name: &'a str,
    pub groups: &'a [String],
    pub extra: &'a [(String, Vec<String>)],
}

/// Bytes allowed unescaped in a header name (RFC 7230 token characters).
fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// An extra key as a header-name suffix: bytes that may not appear in a
/// header name, and `%` itself, become `%XX`.
pub fn escape_extra_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if token_byte(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Headers that describe one connection, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether the request asks to switch protocols (exec, attach, port-forward).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Removes hop-by-hop headers (and those the `Connection` header names),
/// keeping `Connection: Upgrade` and `Upgrade` when `upgrade`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !(t.is_empty() || (upgrade && t == "upgrade")))
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        if upgrade && (name == "connection" || name == "upgrade") {
            continue;
        }
        headers.remove(name);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
}

/// Whether a header carries the caller's credentials or an identity
/// assertion the backend must not see from the caller.
fn is_credential(name: &HeaderName) -> bool {
    let n = name.as_str();
    n == "authorization" || n.starts_with("impersonate-") || n.starts_with("x-remote-")
}

/// The headers of the request sent to the backend: the caller's, without
/// credentials and hop-by-hop headers, with the identity headers set.
pub fn outbound(incoming: &HeaderMap, who: &Identity<'_>, upgrade: bool) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(incoming.len() + 2);
    for (name, value) in incoming {
        if is_credential(name) || name == header::HOST {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    strip_hop_by_hop(&mut out, upgrade);
    set_identity(&mut out, who);
    out
}

/// Sets `X-Remote-User`, `X-Remote-Group` and `X-Remote-Extra-*`; values
/// that cannot be header values are left out.
pub fn set_identity(headers: &mut HeaderMap, who: &Identity<'_>) {
    if let Ok(v) = HeaderValue::from_str(who.name) {
        headers.insert("x-remote-user", v);
    }
    for g in who.groups {
        if let Ok(v) = HeaderValue::from_str(g) {
            headers.append("x-remote-group", v);
        }
    }
    for (key, values) in who.extra {
        let Ok(name) = HeaderName::try_from(format!("x-remote-extra-{}", escape_extra_key(key)))
        else {
            continue;
        };
        for value in values {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.append(name.clone(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    #[test]
    fn extra_keys_are_percent_encoded_as_upstream() {
        assert_eq!(escape_extra_key("scopes"), "scopes");
        assert_eq!(
            escape_extra_key("example.org/foo bar"),
            "example.org%2Ffoo%20bar"
        );
        assert_eq!(escape_extra_key("a%b"), "a%25b");
        assert_eq!(escape_extra_key("ü"), "%C3%BC");
    }

    #[test]
    fn identity_replaces_credentials() {
        let mut incoming = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer secret"),
            ("impersonate-user", "mallory"),
            ("impersonate-extra-scopes", "all"),
            ("x-remote-user", "mallory"),
            ("x-remote-group", "system:masters"),
            ("x-remote-extra-forged", "yes"),
            ("accept", "application/json"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "hop"),
            ("transfer-encoding", "chunked"),
            ("host", "kaiser:6443"),
        ] {
            incoming.append(k, HeaderValue::from_static(v));
        }
        let groups = vec!["devs".to_string(), "system:authenticated".to_string()];
        let extra = vec![("example.org/team".to_string(), vec!["a".into(), "b".into()])];
        let who = Identity {
            name: "alice",
            groups: &groups,
            extra: &extra,
        };
        let out = outbound(&incoming, &who, false);
        assert_eq!(values(&out, "x-remote-user"), ["alice"]);
        assert_eq!(
            values(&out, "x-remote-group"),
            ["devs", "system:authenticated"]
        );
        assert_eq!(
            values(&out, "x-remote-extra-example.org%2Fteam"),
            ["a", "b"]
        );
        for gone in [
            "authorization",
            "impersonate-user",
            "impersonate-extra-scopes",
            "x-remote-extra-forged",
            "connection",
            "x-private",
            "transfer-encoding",
            "host",
        ] {
            assert!(!out.contains_key(gone), "{gone} was forwarded");
        }
        assert_eq!(values(&out, "accept"), ["application/json"]);
    }

    #[test]
    fn upgrades_keep_their_connection_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("Upgrade"));
        h.insert("upgrade", HeaderValue::from_static("SPDY/3.1"));
        assert!(is_upgrade(&h));
        let who = Identity {
            name: "bob",
            groups: &[],
            extra: &[],
        };
        let out = outbound(&h, &who, true);
        assert_eq!(values(&out, "upgrade"), ["SPDY/3.1"]);
        assert_eq!(values(&out, "connection"), ["Upgrade"]);
        let plain = outbound(&h, &who, false);
        assert!(!plain.contains_key("upgrade"));
        let mut no_token = HeaderMap::new();
        no_token.insert("upgrade", HeaderValue::from_static("h2c"));
        assert!(!is_upgrade(&no_token));
    }
}
