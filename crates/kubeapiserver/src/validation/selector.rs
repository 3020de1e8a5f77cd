//! `metav1.LabelSelector`: validation as upstream's
//! `apis/meta/v1/validation`, and the selector `LabelSelectorAsSelector`
//! builds from it (nil matches nothing, empty matches everything).

use kaiser_apimachinery::field::{ErrorList, FieldError};
use kaiser_apimachinery::validation::is_valid_label_value;
use serde_json::{Map, Value};

use super::{arr, at, child, idx, labels, qualified_name, str_of};

/// `ValidateLabelSelector`; `allow_invalid_values` skips the value syntax
/// of `In`/`NotIn` requirements (upstream's ratcheting option).
pub fn validate(sel: &Value, allow_invalid_values: bool, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    if !sel.is_object() {
        return errs;
    }
    labels(
        &mut errs,
        at(sel, "matchLabels"),
        &child(path, "matchLabels"),
    );
    let exprs = child(path, "matchExpressions");
    for (i, r) in arr(sel, "matchExpressions").iter().enumerate() {
        requirement(&mut errs, r, allow_invalid_values, &idx(&exprs, i));
    }
    errs
}

/// `ValidateLabelSelectorRequirement`.
fn requirement(errs: &mut ErrorList, r: &Value, allow_invalid_values: bool, path: &str) {
    let values = arr(r, "values");
    let op = str_of(r, "operator");
    match op {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldError::required(
                    &child(path, "values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldError::forbidden(
                    &child(path, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        _ => errs.push(FieldError::invalid(
            &child(path, "operator"),
            op,
            "not a valid selector operator",
        )),
    }
    qualified_name(errs, str_of(r, "key"), &child(path, "key"));
    if !allow_invalid_values {
        let vpath = child(path, "values");
        for (i, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or("");
            for m in is_valid_label_value(v) {
                errs.push(FieldError::invalid(&idx(&vpath, i), v, m));
            }
        }
    }
}

/// Whether any `In`/`NotIn` value of the selector is not a label value
/// (`LabelSelectorHasInvalidLabelValue`).
pub fn has_invalid_label_value(sel: &Value) -> bool {
    arr(sel, "matchExpressions").iter().any(|r| {
        arr(r, "values")
            .iter()
            .any(|v| !is_valid_label_value(v.as_str().unwrap_or("")).is_empty())
    })
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A selector built from a `LabelSelector`.
#[derive(Clone, Debug)]
pub enum Selector {
    /// From a nil selector: matches nothing, and is not "empty".
    Nothing,
    /// Requirements; none means everything.
    Requirements(Vec<(String, Op, Vec<String>)>),
}

impl Selector {
    /// `labels.Selector.Empty()`.
    pub fn is_empty(&self) -> bool {
        matches!(self, Selector::Requirements(r) if r.is_empty())
    }

    /// `labels.Selector.Matches` against a labels object.
    pub fn matches(&self, labels: &Value) -> bool {
        let Selector::Requirements(reqs) = self else {
            return false;
        };
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        reqs.iter().all(|(k, op, vals)| match op {
            Op::In => get(k).is_some_and(|v| vals.iter().any(|x| x == v)),
            Op::NotIn => !get(k).is_some_and(|v| vals.iter().any(|x| x == v)),
            Op::Exists => get(k).is_some(),
            Op::DoesNotExist => get(k).is_none(),
        })
    }
}

/// `metav1.LabelSelectorAsSelector`: None for anything `NewRequirement`
/// refuses (a strict `validate` error).
pub fn as_selector(sel: &Value) -> Option<Selector> {
    if !sel.is_object() {
        return Some(Selector::Nothing);
    }
    if !validate(sel, false, "").is_empty() {
        return None;
    }
    let mut reqs = Vec::new();
    for (k, v) in at(sel, "matchLabels").as_object().into_iter().flatten() {
        reqs.push((
            k.clone(),
            Op::In,
            vec![v.as_str().unwrap_or("").to_string()],
        ));
    }
    for r in arr(sel, "matchExpressions") {
        let op = match str_of(r, "operator") {
            "In" => Op::In,
            "NotIn" => Op::NotIn,
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            _ => return None,
        };
        let vals = arr(r, "values")
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect();
        reqs.push((str_of(r, "key").to_string(), op, vals));
    }
    Some(Selector::Requirements(reqs))
}

/// Whether a selector has neither matchLabels nor matchExpressions.
pub fn has_no_terms(sel: &Value) -> bool {
    let n = |k: &str| match at(sel, k) {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    n("matchLabels") + n("matchExpressions") == 0
}

/// `labels.Set(selectorMap).AsSelector().Matches(labels)` for the plain
/// map selectors of ReplicationControllers and Services.
pub fn map_matches(selector: &Map<String, Value>, labels: &Value) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.get(k).and_then(Value::as_str) == v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::testutil::assert_errs;
    use serde_json::json;

    #[test]
    fn requirement_rules() {
        let sel = json!({"matchExpressions": [
            {"key": "a", "operator": "In"},
            {"key": "b", "operator": "Exists", "values": ["x"]},
            {"key": "c", "operator": "Gt", "values": ["1"]},
            {"key": "-d", "operator": "NotIn", "values": ["-x"]}
        ]});
        assert_errs(
            &validate(&sel, false, "spec.selector"),
            &[
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "spec.selector.matchExpressions[2].operator: Invalid value: \"Gt\": not a valid selector operator",
                "spec.selector.matchExpressions[3].key: Invalid value: \"-d\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "spec.selector.matchExpressions[3].values[0]: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ],
        );
        assert!(as_selector(&sel).is_none());
    }

    #[test]
    fn matching() {
        let s = as_selector(&json!({"matchLabels": {"app": "x"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}))
        .expect("valid");
        assert!(s.matches(&json!({"app": "x"})));
        assert!(!s.matches(&json!({"app": "x", "tier": "db"})));
        assert!(!s.matches(&json!({})));
        assert!(!as_selector(&Value::Null).expect("nil").matches(&json!({})));
        assert!(as_selector(&json!({})).expect("empty").is_empty());
        assert!(has_no_terms(&json!({"matchLabels": {}})));
    }
}
