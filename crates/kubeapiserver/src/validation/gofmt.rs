//! Go's `%q` and `%#v` renderings of the values upstream puts into error
//! messages (maps, slices, label selectors, int-or-strings), so that a
//! message such as `Invalid value: map[string]string{"app":"x"}: ...` reads
//! the same here.

use serde_json::Value;

use super::{as_int, at};

pub use kaiser_apimachinery::field::go_quote as quote;

/// A `map[string]string` (keys sorted, as Go prints maps).
pub fn string_map(v: &Value) -> String {
    typed_string_map("map[string]string", v)
}

/// A map of strings under a named map type, e.g. `map[string]string`.
pub fn typed_string_map(ty: &str, v: &Value) -> String {
    let Some(m) = v.as_object() else {
        return format!("{ty}(nil)");
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let items: Vec<String> = keys
        .iter()
        .map(|k| {
            let val = m.get(*k).and_then(Value::as_str).unwrap_or("");
            format!("{}:{}", quote(k), quote(val))
        })
        .collect();
    format!("{ty}{{{}}}", items.join(", "))
}

/// A `[]string` (or another slice of a string type).
pub fn string_slice(ty: &str, v: &Value) -> String {
    let Some(a) = v.as_array() else {
        return format!("[]{ty}(nil)");
    };
    let items: Vec<String> = a.iter().map(|s| quote(s.as_str().unwrap_or(""))).collect();
    format!("[]{ty}{{{}}}", items.join(", "))
}

/// A slice of integers, e.g. `[]int32{1, 2}`.
pub fn int_slice(ty: &str, v: &Value) -> String {
    let Some(a) = v.as_array() else {
        return format!("[]{ty}(nil)");
    };
    let items: Vec<String> = a
        .iter()
        .map(|n| as_int(n).unwrap_or(0).to_string())
        .collect();
    format!("[]{ty}{{{}}}", items.join(", "))
}

/// A dereferenced `*metav1.LabelSelector` (`null` when absent).
pub fn label_selector(v: &Value) -> String {
    if !v.is_object() {
        return "null".into();
    }
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        string_map(at(v, "matchLabels")),
        requirements(at(v, "matchExpressions")),
    )
}

fn requirements(v: &Value) -> String {
    let Some(a) = v.as_array() else {
        return "[]v1.LabelSelectorRequirement(nil)".into();
    };
    let items: Vec<String> = a
        .iter()
        .map(|r| {
            format!(
                "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                quote(at(r, "key").as_str().unwrap_or("")),
                quote(at(r, "operator").as_str().unwrap_or("")),
                string_slice("string", at(r, "values")),
            )
        })
        .collect();
    format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
}

/// An `intstr.IntOrString` value (absent reads as the zero int).
pub fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            quote(s)
        ),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            as_int(other).unwrap_or(0)
        ),
    }
}

/// A nil-or-set pointer field inside a struct rendering: Go prints the
/// address of a set pointer, which cannot be reproduced; a fixed one keeps
/// the shape.
pub fn pointer(ty: &str, v: &Value) -> String {
    if v.is_null() {
        format!("(*{ty})(nil)")
    } else {
        format!("(*{ty})(0xc000000000)")
    }
}

/// A `*string` inside a struct rendering.
pub fn string_pointer(v: &Value) -> String {
    pointer("string", v)
}

/// A value for which upstream prints a large struct: the JSON form stands in.
pub fn json(v: &Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_like_go() {
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(quote("é"), "\"é\"");
        assert_eq!(quote("\u{1}"), "\"\\x01\"");
        assert_eq!(
            string_map(&json!({"b": "2", "a": "1"})),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(string_map(&Value::Null), "map[string]string(nil)");
        assert_eq!(string_map(&json!({})), "map[string]string{}");
        assert_eq!(
            label_selector(&json!({"matchLabels": {"app": "x"}})),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        assert_eq!(
            label_selector(
                &json!({"matchExpressions": [{"key": "k", "operator": "In", "values": ["a"]}]})
            ),
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"k\", Operator:\"In\", Values:[]string{\"a\"}}}}"
        );
        assert_eq!(label_selector(&Value::Null), "null");
        assert_eq!(
            int_or_string(&json!(0)),
            "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}"
        );
        assert_eq!(
            int_or_string(&json!("101%")),
            "intstr.IntOrString{Type:1, IntVal:0, StrVal:\"101%\"}"
        );
        assert_eq!(
            string_slice("string", &json!(["a", "b"])),
            "[]string{\"a\", \"b\"}"
        );
        assert_eq!(int_slice("int32", &json!([1, 2])), "[]int32{1, 2}");
    }
}
