//! List and watch options from the query string, and continue tokens.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::fields::FieldSelector;
use crate::labels::LabelSelector;
use crate::meta::parse_resource_version;
use crate::status::StatusError;

/// `resourceVersionMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RvMatch {
    Unset,
    NotOlderThan,
    Exact,
}

/// What a LIST or WATCH asked for.
#[derive(Clone, Debug)]
pub struct ListOptions {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    pub limit: i64,
    pub continue_token: Option<ContinueToken>,
    pub resource_version: Option<i64>,
    pub resource_version_match: RvMatch,
    pub watch: bool,
    pub allow_watch_bookmarks: bool,
    pub timeout_seconds: Option<u64>,
    pub send_initial_events: Option<bool>,
}

impl ListOptions {
    /// Decodes the query parameters; errors are 400s naming the parameter.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, StatusError> {
        let mut o = ListOptions {
            label_selector: LabelSelector::default(),
            field_selector: FieldSelector::default(),
            limit: 0,
            continue_token: None,
            resource_version: None,
            resource_version_match: RvMatch::Unset,
            watch: false,
            allow_watch_bookmarks: false,
            timeout_seconds: None,
            send_initial_events: None,
        };
        let bad = |m: String| StatusError::bad_request(m);
        let mut bad_rv = None;
        for (k, v) in pairs {
            match k {
                "labelSelector" => o.label_selector = LabelSelector::parse(v).map_err(bad)?,
                "fieldSelector" => o.field_selector = FieldSelector::parse(v).map_err(bad)?,
                "limit" => {
                    o.limit = v
                        .parse()
                        .map_err(|_| bad(format!("invalid value for limit: {v:?}")))?
                }
                "continue" if !v.is_empty() => {
                    // Upstream's storage prefixes the token's own error.
                    o.continue_token = Some(
                        ContinueToken::decode(v)
                            .map_err(|e| bad(format!("invalid continue token: {e}")))?,
                    )
                }
                "resourceVersion" => match parse_resource_version(v) {
                    Ok(rv) => o.resource_version = rv,
                    Err(e) => bad_rv = Some(e),
                },
                "resourceVersionMatch" => {
                    o.resource_version_match = match v {
                        "" => RvMatch::Unset,
                        "NotOlderThan" => RvMatch::NotOlderThan,
                        "Exact" => RvMatch::Exact,
                        _ => {
                            return Err(bad(format!(
                                "resourceVersionMatch: Unsupported value: {v:?}: supported values: \"Exact\", \"NotOlderThan\""
                            )));
                        }
                    }
                }
                "watch" => o.watch = parse_bool(v),
                "allowWatchBookmarks" => o.allow_watch_bookmarks = parse_bool(v),
                "timeoutSeconds" => {
                    o.timeout_seconds = Some(
                        v.parse()
                            .map_err(|_| bad(format!("invalid value for timeoutSeconds: {v:?}")))?,
                    )
                }
                "sendInitialEvents" => o.send_initial_events = Some(parse_bool(v)),
                _ => {}
            }
        }
        if let Some(e) = bad_rv {
            // Upstream's list options check words it as a 400; a watch
            // meets its cache's parser first, whose error is a 500.
            return Err(match o.watch {
                true => StatusError::new(500, "", e),
                false => bad(format!("invalid resource version: {e}")),
            });
        }
        o.check()?;
        Ok(o)
    }

    /// Cross-field rules, as upstream's `ValidateListOptions`.
    fn check(&self) -> Result<(), StatusError> {
        let invalid = |m: &str| {
            StatusError::new(
                422,
                "Invalid",
                format!("ListOptions.meta.k8s.io \"\" is invalid: {m}"),
            )
        };
        if self.send_initial_events.is_some() {
            if self.resource_version_match != RvMatch::NotOlderThan {
                return Err(invalid(
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
        } else if self.resource_version_match != RvMatch::Unset {
            if self.watch {
                return Err(invalid(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch",
                ));
            }
            if self.resource_version.is_none() {
                return Err(invalid(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if self.continue_token.is_some() {
                return Err(invalid(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if self.resource_version_match == RvMatch::Exact && self.resource_version == Some(0) {
                return Err(invalid(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if self.send_initial_events.is_some() && !self.watch {
            return Err(invalid(
                "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
            ));
        }
        if self.continue_token.is_some() && self.resource_version.is_some_and(|rv| rv != 0) {
            return Err(StatusError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        Ok(())
    }
}

fn parse_bool(v: &str) -> bool {
    matches!(v, "true" | "1" | "True" | "TRUE" | "")
}

/// Where a paginated list resumes: the revision it is pinned to (negative:
/// the current one) and the next key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContinueToken {
    #[serde(rename = "v")]
    pub api_version: String,
    #[serde(rename = "rv")]
    pub revision: i64,
    /// The first key to return, relative to the resource prefix.
    pub start: String,
}

impl ContinueToken {
    pub fn new(revision: i64, start: String) -> Self {
        ContinueToken {
            api_version: "meta.k8s.io/v1".into(),
            revision,
            start,
        }
    }

    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(s: &str) -> Result<Self, String> {
        let raw = URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .or_else(|_| URL_SAFE.decode(s))
            .map_err(|e| format!("continue key is not valid: {e}"))?;
        let t: ContinueToken =
            serde_json::from_slice(&raw).map_err(|e| format!("continue key is not valid: {e}"))?;
        if t.api_version != "meta.k8s.io/v1" {
            return Err(format!(
                "continue key is not valid: server does not recognize this encoded key version {:?}",
                t.api_version
            ));
        }
        // A negative revision (which kaiser hands out with a 410 for a
        // compacted one) resumes at the current revision, as upstream's.
        if t.revision == 0 {
            return Err("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into());
        }
        if t.start.contains("..") || t.start.starts_with('/') {
            return Err("continue key is not valid: invalid start key".into());
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_round_trip() {
        let t = ContinueToken::new(42, "default/x\u{0}".into());
        assert_eq!(ContinueToken::decode(&t.encode()), Ok(t));
        assert!(ContinueToken::decode("!!!").is_err());
        let evil = ContinueToken::new(3, "../secrets".into());
        assert!(ContinueToken::decode(&evil.encode()).is_err());
        let latest = ContinueToken::new(-1, "default/x\u{0}".into());
        assert_eq!(ContinueToken::decode(&latest.encode()), Ok(latest));
        assert!(ContinueToken::decode(&ContinueToken::new(0, "a".into()).encode()).is_err());
    }

    #[test]
    fn options() {
        let o = ListOptions::from_query([("labelSelector", "a=b"), ("limit", "5"), ("watch", "1")])
            .expect("valid");
        assert_eq!(o.limit, 5);
        assert!(o.watch);
        assert!(ListOptions::from_query([("labelSelector", "a in")]).is_err());
        let e = ListOptions::from_query([("resourceVersionMatch", "Exact")]).expect_err("needs rv");
        assert_eq!(e.code, 422);
    }
}
