//! The JSONPath subset CRD printer columns use (`.spec.replicas`,
//! `.status.conditions[0].type`, `.status.conditions[?(@.type=="Ready")].status`):
//! the first value the path reaches, as upstream's table convertor prints
//! the first result.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    /// `[?(@.key=="value")]`: the elements whose `key` equals `value`.
    Filter(String, String),
    /// `[*]`: every element.
    All,
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let p = p.strip_prefix('$').unwrap_or(p);
    let mut steps = Vec::new();
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Field(r[..end].to_string()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if inner == "*" {
                steps.push(Step::All);
            } else if let Ok(i) = inner.parse::<usize>() {
                steps.push(Step::Index(i));
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (k, v) = f.split_once("==")?;
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                steps.push(Step::Filter(k.trim().to_string(), v.to_string()));
            } else {
                let key = inner.trim_matches(|c| c == '"' || c == '\'');
                steps.push(Step::Field(key.to_string()));
            }
        } else {
            return None;
        }
    }
    Some(steps)
}

fn walk<'a>(v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(v);
    };
    match step {
        Step::Field(f) => walk(v.get(f)?, rest),
        Step::Index(i) => walk(v.get(i)?, rest),
        Step::All => v.as_array()?.iter().find_map(|x| walk(x, rest)),
        Step::Filter(k, want) => v.as_array()?.iter().find_map(|x| {
            let got = x.get(k)?;
            let matches = match got {
                Value::String(s) => s == want,
                // Numbers and booleans compare by their JSON text.
                other => serde_json::to_string(other).is_ok_and(|t| t == *want),
            };
            if matches { walk(x, rest) } else { None }
        }),
    }
}

/// The first value `path` reaches in `obj`.
pub fn first<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    walk(obj, &parse(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_printer_columns_use() {
        let o = json!({"spec": {"replicas": 3, "list": ["a", "b"]},
            "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(first(&o, ".spec.replicas"), Some(&json!(3)));
        assert_eq!(first(&o, ".spec.list[1]"), Some(&json!("b")));
        assert_eq!(
            first(&o, r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(&json!("True"))
        );
        assert_eq!(
            first(&o, ".status.conditions[*].type"),
            Some(&json!("Synced"))
        );
        assert_eq!(first(&o, "{.spec['replicas']}"), Some(&json!(3)));
        assert_eq!(first(&o, ".spec.missing"), None);
        assert_eq!(first(&o, "spec"), None);
        assert_eq!(first(&o, ".spec.list[9]"), None);
    }
}
