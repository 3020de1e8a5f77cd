//! `metav1.Condition` lists (upstream's `apis/meta/v1/validation`
//! `ValidateConditions`), shared by the status of several kinds.

use std::collections::HashSet;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use serde_json::Value;

use super::{child, idx, int_of, qualified_name, str_of};

const MAX_REASON_LEN: usize = 1024;
const MAX_MESSAGE_LEN: usize = 32 * 1024;
const REASON_MSG: &str = "a condition reason must start with alphabetic character, optionally followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or 'ReasonA:ReasonB', regex used for validation is '[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?')";

fn reason_ok(r: &str) -> bool {
    let b = r.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b',' | b':');
    let last = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    match b {
        [] => false,
        [f] => f.is_ascii_alphabetic(),
        [f, mid @ .., l] => f.is_ascii_alphabetic() && mid.iter().all(inner) && last(l),
    }
}

/// `ValidateCondition`.
fn condition(errs: &mut ErrorList, c: &Value, path: &str) {
    qualified_name(errs, str_of(c, "type"), &child(path, "type"));
    let status = str_of(c, "status");
    let valid = ["False", "True", "Unknown"];
    if !valid.contains(&status) {
        errs.push(FieldError::not_supported(
            &child(path, "status"),
            status,
            &valid,
        ));
    }
    if let Some(g) = int_of(c, "observedGeneration")
        && g < 0
    {
        errs.push(FieldError::invalid(
            &child(path, "observedGeneration"),
            g,
            "must be greater than or equal to zero",
        ));
    }
    if str_of(c, "lastTransitionTime").is_empty() {
        errs.push(FieldError::required(
            &child(path, "lastTransitionTime"),
            "must be set",
        ));
    }
    let reason = str_of(c, "reason");
    if reason.is_empty() {
        errs.push(FieldError::required(&child(path, "reason"), "must be set"));
    } else {
        if !reason_ok(reason) {
            errs.push(FieldError::invalid(
                &child(path, "reason"),
                reason,
                REASON_MSG,
            ));
        }
        if reason.len() > MAX_REASON_LEN {
            errs.push(FieldError::too_long(&child(path, "reason"), MAX_REASON_LEN));
        }
    }
    if str_of(c, "message").len() > MAX_MESSAGE_LEN {
        errs.push(FieldError::too_long(
            &child(path, "message"),
            MAX_MESSAGE_LEN,
        ));
    }
}

/// `ValidateConditions`: each condition, and unique types.
pub fn conditions(errs: &mut ErrorList, list: &Value, path: &str) {
    let mut seen = HashSet::new();
    for (i, c) in list.as_array().into_iter().flatten().enumerate() {
        let p = idx(path, i);
        let ty = str_of(c, "type");
        if !seen.insert(ty) {
            errs.push(FieldError::duplicate(&child(&p, "type"), ty));
        }
        condition(errs, c, &p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::testutil::assert_errs;
    use serde_json::json;

    #[test]
    fn conditions_follow_metav1_rules() {
        let ok = json!([{"type": "Ready", "status": "True", "reason": "AllGood",
            "lastTransitionTime": "2024-01-01T00:00:00Z"}]);
        let mut errs = ErrorList::new();
        conditions(&mut errs, &ok, "status.conditions");
        assert!(errs.is_empty());
        let bad = json!([{"type": "Ready", "status": "Yes", "reason": "1bad", "observedGeneration": -1},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]);
        let mut errs = ErrorList::new();
        conditions(&mut errs, &bad, "status.conditions");
        assert_errs(
            &errs,
            &[
                "status.conditions[0].status: Unsupported value: \"Yes\": supported values: \"False\", \"True\", \"Unknown\"",
                "status.conditions[0].observedGeneration: Invalid value: -1: must be greater than or equal to zero",
                "status.conditions[0].lastTransitionTime: Required value: must be set",
                &format!("status.conditions[0].reason: Invalid value: \"1bad\": {REASON_MSG}"),
                "status.conditions[1].type: Duplicate value: \"Ready\"",
                "status.conditions[1].reason: Required value: must be set",
            ],
        );
    }
}
