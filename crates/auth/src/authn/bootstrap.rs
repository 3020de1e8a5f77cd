//! Bootstrap tokens (`--enable-bootstrap-token-auth`): a token
//! `<id>.<secret>` is valid while the Secret `bootstrap-token-<id>` in
//! `kube-system` has type `bootstrap.kubernetes.io/token`, the same id and
//! secret (compared in constant time), `usage-bootstrap-authentication:
//! true`, no past `expiration` and no deletion timestamp. The user is
//! `system:bootstrap:<id>` in `system:bootstrappers` plus the
//! `auth-extra-groups`. The Secret lookup is the caller's; the checks are
//! here.

use std::collections::BTreeSet;

use base64::Engine;
use serde_json::Value;

use super::{UserInfo, constant_time_eq};

pub const NAMESPACE: &str = "kube-system";
pub const SECRET_PREFIX: &str = "bootstrap-token-";
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
pub const USER_PREFIX: &str = "system:bootstrap:";
pub const DEFAULT_GROUP: &str = "system:bootstrappers";

/// `(id, secret)` of a token shaped `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    (ok(id, 6) && ok(secret, 16)).then_some((id, secret))
}

/// The name of the Secret holding token `id`.
pub fn secret_name(id: &str) -> String {
    format!("{SECRET_PREFIX}{id}")
}

/// A data value of the Secret, decoded; empty when absent.
fn data(secret: &Value, key: &str) -> Vec<u8> {
    secret
        .get("data")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .unwrap_or_default()
}

fn data_str(secret: &Value, key: &str) -> String {
    String::from_utf8_lossy(&data(secret, key)).into_owned()
}

/// Whether `name` may be an extra group of a bootstrap token
/// (`system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`).
fn valid_group(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    let body_ok = rest
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b':' || c == b'-');
    let last_ok = rest
        .bytes()
        .last()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    body_ok && last_ok && rest.len() <= 256
}

/// The user of token `id.secret` if `secret_obj` (the Secret, as JSON)
/// vouches for it at `now` (Unix seconds); otherwise why not, for the log.
pub fn check(secret_obj: &Value, id: &str, secret: &str, now: i64) -> Result<UserInfo, String> {
    let name = secret_name(id);
    let bad = |why: &str| format!("bootstrap secret kube-system/{name} {why}");
    if secret_obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return Err(bad("is deleted and awaiting removal"));
    }
    let typ = secret_obj.get("type").and_then(Value::as_str).unwrap_or("");
    if typ != SECRET_TYPE || !secret_obj.get("data").is_some_and(Value::is_object) {
        return Err(bad(&format!("has invalid type, expected {SECRET_TYPE}.")));
    }
    if !constant_time_eq(&data(secret_obj, "token-secret"), secret.as_bytes()) {
        return Err(bad("has invalid value for key token-secret."));
    }
    if data_str(secret_obj, "token-id") != id {
        return Err(bad("has invalid value for key token-id."));
    }
    let expiration = data_str(secret_obj, "expiration");
    if !expiration.is_empty() {
        match kaiser_apimachinery::time::parse_rfc3339(&expiration) {
            None => {
                return Err(bad(
                    "has an unparseable expiration time; treating it as expired",
                ));
            }
            Some(t) if t <= now => return Err(bad("has expired")),
            Some(_) => {}
        }
    }
    if data_str(secret_obj, "usage-bootstrap-authentication") != "true" {
        return Err(bad("not marked usage-bootstrap-authentication=true."));
    }
    let mut groups = BTreeSet::from([DEFAULT_GROUP.to_string()]);
    let extra = data_str(secret_obj, "auth-extra-groups");
    if !extra.is_empty() {
        for g in extra.split(',') {
            if !valid_group(g) {
                return Err(bad(&format!(
                    "has invalid value for key auth-extra-groups: bootstrap group {g:?} is invalid (must match system:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9])."
                )));
            }
            groups.insert(g.to_string());
        }
    }
    Ok(UserInfo {
        name: format!("{USER_PREFIX}{id}"),
        groups: groups.into_iter().collect(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(extra: &[(&str, &str)]) -> Value {
        let mut data = serde_json::Map::new();
        for (k, v) in [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-authentication", "true"),
        ]
        .iter()
        .chain(extra)
        {
            data.insert(k.to_string(), json!(b64(v)));
        }
        json!({"metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
            "type": SECRET_TYPE, "data": data})
    }

    #[test]
    fn tokens_are_shaped_id_dot_secret() {
        assert_eq!(
            parse_token("abcdef.0123456789abcdef"),
            Some(("abcdef", "0123456789abcdef"))
        );
        for bad in [
            "abcdef0123456789abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcde",
            "abcdef.0123456789abcdef.x",
            "",
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_valid_secret_names_the_bootstrap_user() {
        let s = secret(&[(
            "auth-extra-groups",
            "system:bootstrappers:kubeadm:default-node-token,system:bootstrappers:kaiser",
        )]);
        let u = check(&s, "abcdef", "0123456789abcdef", 0).expect("valid");
        assert_eq!(u.name, "system:bootstrap:abcdef");
        assert_eq!(
            u.groups,
            [
                "system:bootstrappers",
                "system:bootstrappers:kaiser",
                "system:bootstrappers:kubeadm:default-node-token"
            ]
        );
    }

    #[test]
    fn every_check_refuses() {
        let ok = secret(&[]);
        assert!(check(&ok, "abcdef", "0123456789abcdef", 0).is_ok());
        let wrong = check(&ok, "abcdef", "0123456789abcdeX", 0).expect_err("secret");
        assert!(wrong.contains("token-secret"), "{wrong}");
        assert!(check(&ok, "zzzzzz", "0123456789abcdef", 0).is_err());

        let mut typ = ok.clone();
        typ["type"] = json!("Opaque");
        assert!(check(&typ, "abcdef", "0123456789abcdef", 0).is_err());
        let mut deleted = ok.clone();
        deleted["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert!(check(&deleted, "abcdef", "0123456789abcdef", 0).is_err());

        let unusable = secret(&[("usage-bootstrap-authentication", "false")]);
        assert!(check(&unusable, "abcdef", "0123456789abcdef", 0).is_err());

        let expiring = secret(&[("expiration", "2030-01-01T00:00:00Z")]);
        let t2030 = 1_893_456_000;
        assert!(check(&expiring, "abcdef", "0123456789abcdef", t2030 - 1).is_ok());
        let e = check(&expiring, "abcdef", "0123456789abcdef", t2030).expect_err("expired");
        assert!(e.contains("expired"), "{e}");
        let garbled = secret(&[("expiration", "soon")]);
        assert!(check(&garbled, "abcdef", "0123456789abcdef", 0).is_err());

        let bad_group = secret(&[("auth-extra-groups", "system:masters")]);
        let e = check(&bad_group, "abcdef", "0123456789abcdef", 0).expect_err("group");
        assert!(e.contains("auth-extra-groups"), "{e}");
        assert!(!valid_group("system:bootstrappers:"));
        assert!(!valid_group("system:bootstrappers:a-"));
        assert!(valid_group("system:bootstrappers:a"));
    }
}
