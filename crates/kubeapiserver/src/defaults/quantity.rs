//! Resource quantities as upstream writes them back: parsed (anything finer
//! than a nano rounded up), then printed in canonical form (`0.5` → `500m`,
//! `1.5Gi` → `1536Mi`, `1000m` → `1`). Resource lists are rounded up to
//! milli-units first, as their defaulter does. The parsing and printing are
//! `kaiser_apimachinery::quantity`'s.

use kaiser_apimachinery::quantity;
use serde_json::Value;

/// Canonicalizes the quantity value in place (strings and plain numbers).
pub(super) fn canonicalize(v: &mut Value) {
    if let Some(Ok(q)) = quantity::of(v) {
        *v = Value::String(q.to_string());
    }
}

/// A resource list's values: rounded up to milli-units, then canonical.
pub(super) fn resource_list(v: Option<&mut Value>) {
    let Some(Value::Object(m)) = v else { return };
    for val in m.values_mut() {
        if let Some(Ok(mut q)) = quantity::of(val) {
            q.round_up(-3);
            *val = Value::String(q.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The canonical text of a quantity; `None` when it does not parse (the
    /// value is then left as the client wrote it).
    fn canonical(s: &str) -> Option<String> {
        quantity::parse(s).ok().map(|q| q.to_string())
    }

    #[test]
    fn canonical_forms() {
        for (given, want) in [
            ("0", "0"),
            ("0.0", "0"),
            ("0Mi", "0"),
            ("1", "1"),
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("100m", "100m"),
            ("1.5", "1500m"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("2000Mi", "2000Mi"),
            ("0.5Ki", "512"),
            ("1023Ki", "1023Ki"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("1e3", "1e3"),
            ("1E3", "1E3"),
            ("12e-1", "1200e-3"),
            ("1000", "1k"),
            ("1000000", "1M"),
            ("10G", "10G"),
            ("1E", "1E"),
            ("+5", "+5"),
            ("-5m", "-5m"),
            ("007", "007"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("1.0001", "1000100u"),
        ] {
            assert_eq!(canonical(given).as_deref(), Some(want), "{given}");
        }
        for bad in ["", "abc", "1x", "1..2", "1e", "1Ki2", "1 "] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn resource_lists_round_to_milli() {
        let mut list = json!({"cpu": "0.0001", "memory": "1.5Gi", "nvidia.com/gpu": 2, "x": "1u", "bad": "??"});
        resource_list(Some(&mut list));
        assert_eq!(
            list,
            json!({"cpu": "1m", "memory": "1536Mi", "nvidia.com/gpu": "2", "x": "1m", "bad": "??"})
        );
        let mut v = json!("0.5");
        canonicalize(&mut v);
        assert_eq!(v, json!("500m"));
        let mut v = json!(true);
        canonicalize(&mut v);
        assert_eq!(v, json!(true));
        resource_list(None);
    }
}
