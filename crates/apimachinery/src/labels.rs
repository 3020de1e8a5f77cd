//! Label selectors: parsing the `labelSelector` query syntax and matching.
//!
//! Grammar as upstream's `labels.Parse`: comma-separated requirements, each
//! `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>n`, `k<n`.

use serde_json::{Map, Value};

use crate::validation::{is_qualified_name, is_valid_label_value};

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Exists,
    DoesNotExist,
    Equals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// A parsed selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parses the query form; the error text is what a 400 carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut p = Parser {
            s: s.as_bytes(),
            i: 0,
        };
        let mut requirements = Vec::new();
        p.skip_ws();
        if p.at_end() {
            return Ok(LabelSelector::default());
        }
        loop {
            requirements.push(p.requirement()?);
            p.skip_ws();
            if p.at_end() {
                break;
            }
            if !p.eat(b",") {
                return Err(format!(
                    "unable to parse requirement: found '{}', expected: ',' or 'end of string'",
                    p.rest()
                ));
            }
        }
        for r in &requirements {
            validate(r)?;
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether the labels (a JSON object of strings, or none) match.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|r| {
            let v = labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str);
            match r.op {
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::Equals | Op::In => v.is_some_and(|v| r.values.iter().any(|x| x == v)),
                Op::NotEquals | Op::NotIn => !v.is_some_and(|v| r.values.iter().any(|x| x == v)),
                Op::GreaterThan | Op::LessThan => {
                    let (Some(have), Some(want)) = (
                        v.and_then(|v| v.parse::<i64>().ok()),
                        r.values.first().and_then(|x| x.parse::<i64>().ok()),
                    ) else {
                        return false;
                    };
                    if r.op == Op::GreaterThan {
                        have > want
                    } else {
                        have < want
                    }
                }
            }
        })
    }
}

impl std::fmt::Display for LabelSelector {
    /// The query form `parse` reads back (upstream's `Selector.String()`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let k = &r.key;
            let first = r.values.first().map_or("", String::as_str);
            match r.op {
                Op::Exists => write!(f, "{k}")?,
                Op::DoesNotExist => write!(f, "!{k}")?,
                Op::Equals => write!(f, "{k}={first}")?,
                Op::NotEquals => write!(f, "{k}!={first}")?,
                Op::GreaterThan => write!(f, "{k}>{first}")?,
                Op::LessThan => write!(f, "{k}<{first}")?,
                Op::In | Op::NotIn => {
                    let op = if r.op == Op::In { "in" } else { "notin" };
                    let mut vals: Vec<&str> = r.values.iter().map(String::as_str).collect();
                    vals.sort_unstable();
                    vals.dedup();
                    write!(f, "{k} {op} ({})", vals.join(","))?;
                }
            }
        }
        Ok(())
    }
}

/// Converts a `metav1.LabelSelector` object (`matchLabels`,
/// `matchExpressions`) into a selector, requirements sorted by key as
/// upstream's conversion does. `None` or `{}` selects everything.
pub fn from_label_selector(sel: Option<&Value>) -> Result<LabelSelector, String> {
    let mut requirements = Vec::new();
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Ok(LabelSelector::default());
    };
    for (k, v) in sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = v.as_str().unwrap_or_default();
        requirements.push(Requirement {
            key: k.clone(),
            op: Op::Equals,
            values: vec![v.to_string()],
        });
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let values: Vec<String> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let op = match e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => Op::In,
            "NotIn" => Op::NotIn,
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
        requirements.push(Requirement { key, op, values });
    }
    for r in &requirements {
        validate(r)?;
    }
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(LabelSelector { requirements })
}

fn validate(r: &Requirement) -> Result<(), String> {
    if let Some(m) = is_qualified_name(&r.key).into_iter().next() {
        return Err(format!(
            "unable to parse requirement: key: Invalid value: {:?}: {m}",
            r.key
        ));
    }
    match r.op {
        Op::In | Op::NotIn if r.values.is_empty() => {
            return Err("unable to parse requirement: values: Required value: for 'in', 'notin' operators, values set can't be empty".into());
        }
        Op::GreaterThan | Op::LessThan
            if r.values.len() != 1 || r.values[0].parse::<i64>().is_err() =>
        {
            return Err(format!(
                "unable to parse requirement: values[0]: Invalid value: {:?}: for 'Gt', 'Lt' operators, the value must be an integer",
                r.values.first().cloned().unwrap_or_default()
            ));
        }
        _ => {}
    }
    for (i, v) in r.values.iter().enumerate() {
        if let Some(m) = is_valid_label_value(v).into_iter().next() {
            return Err(format!(
                "unable to parse requirement: values[{i}][{}]: Invalid value: {v:?}: {m}",
                r.key
            ));
        }
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    fn rest(&self) -> String {
        String::from_utf8_lossy(&self.s[self.i..]).into_owned()
    }
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, tok: &[u8]) -> bool {
        if self.s[self.i..].starts_with(tok) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> String {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len() {
            let c = self.s[self.i];
            if c.is_ascii_whitespace() || b",=!()<>".contains(&c) {
                break;
            }
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    /// Reads a word and checks it is exactly `kw` followed by a delimiter.
    fn keyword(&mut self, kw: &str) -> bool {
        let save = self.i;
        self.skip_ws();
        let w = self.ident();
        if w == kw {
            true
        } else {
            self.i = save;
            false
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        self.skip_ws();
        if self.eat(b"!") {
            let key = self.ident();
            if key.is_empty() {
                return Err("unable to parse requirement: found '', expected: identifier".into());
            }
            return Ok(Requirement {
                key,
                op: Op::DoesNotExist,
                values: vec![],
            });
        }
        let key = self.ident();
        if key.is_empty() {
            return Err(format!(
                "unable to parse requirement: found '{}', expected: identifier",
                self.rest()
            ));
        }
        self.skip_ws();
        if self.at_end() || self.s[self.i] == b',' {
            return Ok(Requirement {
                key,
                op: Op::Exists,
                values: vec![],
            });
        }
        let op = if self.eat(b"==") || self.eat(b"=") {
            Op::Equals
        } else if self.eat(b"!=") {
            Op::NotEquals
        } else if self.eat(b">") {
            Op::GreaterThan
        } else if self.eat(b"<") {
            Op::LessThan
        } else if self.keyword("in") {
            Op::In
        } else if self.keyword("notin") {
            Op::NotIn
        } else {
            return Err(format!(
                "unable to parse requirement: found '{}', expected: in, notin, =, ==, !=, gt, lt",
                self.rest()
            ));
        };
        let values = if matches!(op, Op::In | Op::NotIn) {
            self.skip_ws();
            if !self.eat(b"(") {
                return Err(format!(
                    "unable to parse requirement: found '{}', expected: '('",
                    self.rest()
                ));
            }
            let mut vals = Vec::new();
            loop {
                let v = self.ident();
                self.skip_ws();
                vals.push(v);
                if self.eat(b")") {
                    break;
                }
                if !self.eat(b",") {
                    return Err(format!(
                        "unable to parse requirement: found '{}', expected: ',' or ')'",
                        self.rest()
                    ));
                }
            }
            if vals.len() == 1 && vals[0].is_empty() {
                vals.clear();
            }
            vals
        } else {
            let v = self.ident();
            self.skip_ws();
            if !self.at_end() && self.s[self.i] != b',' {
                return Err(format!(
                    "unable to parse requirement: found '{}', expected: ',' or 'end of string'",
                    self.rest()
                ));
            }
            vec![v]
        };
        Ok(Requirement { key, op, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(sel: &str, labels: Value) -> bool {
        LabelSelector::parse(sel)
            .expect("parse")
            .matches(labels.as_object())
    }

    #[test]
    fn label_selector_objects_convert_and_print() {
        let sel = json!({"matchLabels": {"tier": "web", "app": "x"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["b", "a"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]});
        let s = from_label_selector(Some(&sel)).expect("valid");
        assert_eq!(s.to_string(), "app=x,env in (a,b),!gone,tier=web");
        assert!(s.matches(json!({"app": "x", "tier": "web", "env": "a"}).as_object()));
        assert!(from_label_selector(None).expect("none").is_empty());
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "Has"}]});
        assert!(from_label_selector(Some(&bad)).is_err());
        let empty_in = json!({"matchExpressions": [{"key": "a", "operator": "In"}]});
        assert!(from_label_selector(Some(&empty_in)).is_err());
    }

    #[test]
    fn parses_and_matches() {
        let l = json!({"app": "web", "tier": "fe", "n": "5"});
        assert!(m("", l.clone()));
        assert!(m("app=web", l.clone()));
        assert!(m("app==web,tier", l.clone()));
        assert!(!m("app!=web", l.clone()));
        assert!(m("app in (web, db)", l.clone()));
        assert!(!m("app notin (web)", l.clone()));
        assert!(m("!missing", l.clone()));
        assert!(m("n>4", l.clone()));
        assert!(!m("n<4", l.clone()));
        assert!(m("x!=y", json!({})));
        assert!(!m("app", json!(null)));
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "a=b=c",
            "a in b",
            "=x",
            "a in ()",
            "a>b",
            "Bad Key=1",
            "a=-x-",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }
}
