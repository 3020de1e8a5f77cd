//! Property tests with a seeded generator (no extra dependency): parsers
//! and patch engines never panic on random input, and merge patch laws hold.

use kaiser_apimachinery::fields::FieldSelector;
use kaiser_apimachinery::labels::LabelSelector;
use kaiser_apimachinery::patch::{apply_json_patch, apply_merge_patch};
use kaiser_apimachinery::strategic::{self, ListStrategy};
use serde_json::{Map, Value, json};

/// xorshift64*: small, deterministic, good enough for test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, xs: &'a [&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn selector_text(r: &mut Rng) -> String {
    const TOKENS: &[&str] = &[
        "a",
        "app",
        "x.io/tier",
        "=",
        "==",
        "!=",
        "in",
        "notin",
        "(",
        ")",
        ",",
        "!",
        " ",
        "b",
        "1",
        ">",
        "<",
        "-",
        "_",
        "é",
        "\\",
    ];
    (0..r.below(12))
        .map(|_| r.pick(TOKENS))
        .collect::<Vec<_>>()
        .join("")
}

fn value(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth > 3 { 4 } else { 7 }) {
        0 => Value::Null,
        1 => json!(r.below(2) == 1),
        2 => json!(r.below(100)),
        3 => json!(r.pick(&["", "x", "y", "zz"])),
        4 => Value::Array((0..r.below(4)).map(|_| value(r, depth + 1)).collect()),
        _ => Value::Object(object(r, depth + 1)),
    }
}

fn object(r: &mut Rng, depth: u32) -> Map<String, Value> {
    (0..r.below(5))
        .map(|_| {
            (
                r.pick(&["a", "b", "c", "d", "$patch", "name"]).to_string(),
                value(r, depth),
            )
        })
        .collect()
}

/// A merge patch turning `a` into `b` (valid when `b` holds no nulls).
fn diff(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(am), Value::Object(bm)) => {
            let mut p = Map::new();
            for (k, bv) in bm {
                match am.get(k) {
                    Some(av) if av == bv => {}
                    Some(av) if av.is_object() && bv.is_object() => {
                        p.insert(k.clone(), diff(av, bv));
                    }
                    _ => {
                        p.insert(k.clone(), bv.clone());
                    }
                }
            }
            for k in am.keys() {
                if !bm.contains_key(k) {
                    p.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(p)
        }
        _ => b.clone(),
    }
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[test]
fn selector_parsers_never_panic_and_round_trip() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let text = selector_text(&mut r);
        if let Ok(sel) = LabelSelector::parse(&text) {
            let labels = json!({"a": "b", "app": "1"});
            // What parses prints back to text that parses to the same
            // selector (the form `status.selector` of a scale carries).
            let printed = sel.to_string();
            let again = LabelSelector::parse(&printed)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
            assert_eq!(again.to_string(), printed);
            assert_eq!(
                again.matches(labels.as_object()),
                sel.matches(labels.as_object())
            );
        }
        let _ = FieldSelector::parse(&text);
    }
}

#[test]
fn patch_engines_never_panic_and_merge_patch_of_a_diff_round_trips() {
    let mut r = Rng(42);
    let meta = |p: &str| {
        if p.ends_with('a') {
            ListStrategy::MergeByKey("name".into())
        } else {
            ListStrategy::MergePrimitives
        }
    };
    for _ in 0..5_000 {
        let a = Value::Object(object(&mut r, 0));
        let b = strip_nulls(Value::Object(object(&mut r, 0)));
        let p = diff(&a, &b);
        let merged = apply_merge_patch(&a, p.to_string().as_bytes()).expect("merge patch applies");
        assert_eq!(merged, b, "a={a} p={p}");
        // Random patches of every kind: errors are fine, panics are not.
        let random = value(&mut r, 0).to_string();
        let _ = apply_merge_patch(&a, random.as_bytes());
        let _ = strategic::apply(&a, random.as_bytes(), &meta);
        let ops = json!([{"op": r.pick(&["add", "remove", "replace", "move", "copy", "test"]), "path": format!("/{}", r.pick(&["a", "b", "a/0", "", "c/-"])), "from": "/b", "value": value(&mut r, 2)}]);
        let _ = apply_json_patch(&a, ops.to_string().as_bytes());
    }
}
