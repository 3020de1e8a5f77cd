//! The estimator against the costs upstream's own tests expect
//! (apiextensions-apiserver `schema/cel/compilation_test.go`,
//! `TestCostEstimation`): each case is a schema shape and a rule, checked
//! once without bounds (sizes derived from the 3 MiB request limit) and once
//! with `maxItems`/`maxProperties`/`maxLength` set. An expectation of 0
//! means "not checked", as upstream's table has it.

use kube_cel::cel::Program;
use serde_json::{Value, json};

use super::super::decl::Decl;
use super::estimate;

type Gen = fn(&str, Option<i64>) -> Value;

fn max_cost(schema: &Value, rule: &str) -> u64 {
    let program = Program::compile(rule).expect("rule parses");
    let decl = Decl::from_schema(schema, false).expect("schema has a CEL type");
    estimate(program.expression(), &decl, false).max
}

fn with(mut v: Value, key: &str, n: Option<i64>) -> Value {
    if let Some(n) = n {
        v[key] = json!(n);
    }
    v
}

/// A scalar schema from upstream's test type names.
fn scalar(t: &str) -> Value {
    match t {
        "duration" | "date" | "date-time" => json!({"type": "string", "format": t}),
        "int-or-string" => json!({"x-kubernetes-int-or-string": true}),
        _ => json!({"type": t}),
    }
}

fn object_for_map() -> Value {
    json!({"type": "object", "required": ["required"], "properties": {
        "required": {"type": "string"}, "optional": {"type": "string"}}})
}

fn array_of(t: &str, m: Option<i64>) -> Value {
    with(json!({"type": "array", "items": scalar(t)}), "maxItems", m)
}
fn array_of_arrays(t: &str, m: Option<i64>) -> Value {
    with(
        json!({"type": "array", "items": {"type": "array", "items": {"type": t}}}),
        "maxItems",
        m,
    )
}
fn array_of_objects(_: &str, m: Option<i64>) -> Value {
    with(
        json!({"type": "array", "items": object_for_map()}),
        "maxItems",
        m,
    )
}
fn array_of_maps(t: &str, m: Option<i64>) -> Value {
    with(
        json!({"type": "array", "items": {"type": "object", "additionalProperties": {"type": t}}}),
        "maxItems",
        m,
    )
}
fn map_of(t: &str, m: Option<i64>) -> Value {
    with(
        json!({"type": "object", "additionalProperties": scalar(t)}),
        "maxProperties",
        m,
    )
}
fn map_of_objects(_: &str, m: Option<i64>) -> Value {
    with(
        json!({"type": "object", "additionalProperties": object_for_map()}),
        "maxProperties",
        m,
    )
}
fn map_of_number_arrays(_: &str, m: Option<i64>) -> Value {
    with(
        json!({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number"}}}),
        "maxProperties",
        m,
    )
}
fn map_of_number_maps(_: &str, m: Option<i64>) -> Value {
    with(
        json!({"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "number"}}}),
        "maxProperties",
        m,
    )
}
fn string(_: &str, m: Option<i64>) -> Value {
    with(json!({"type": "string"}), "maxLength", m)
}
fn bytes(_: &str, m: Option<i64>) -> Value {
    with(json!({"type": "string", "format": "byte"}), "maxLength", m)
}
fn nested_string_map(_: &str, m: Option<i64>) -> Value {
    let value = with(json!({"type": "string"}), "maxLength", m);
    with(
        json!({"type": "object", "additionalProperties": value}),
        "maxProperties",
        m,
    )
}
fn all_max_nested(_: &str, m: Option<i64>) -> Value {
    let inner = with(object_for_map(), "maxProperties", m);
    let item = with(
        json!({"type": "object", "additionalProperties": inner}),
        "maxProperties",
        m,
    );
    with(json!({"type": "array", "items": item}), "maxItems", m)
}
fn one_max_nested(_: &str, m: Option<i64>) -> Value {
    let item = with(
        json!({"type": "object", "additionalProperties": object_for_map()}),
        "maxProperties",
        m,
    );
    json!({"type": "array", "items": item})
}
fn string_list(_: &str, m: Option<i64>) -> Value {
    let s = with(json!({"type": "string"}), "maxLength", m);
    with(json!({"type": "array", "items": s}), "maxItems", m)
}
fn replace_object(_: &str, m: Option<i64>) -> Value {
    let s = with(json!({"type": "string"}), "maxLength", m);
    json!({"type": "object", "properties": {"str": s,
        "before": {"type": "string", "maxLength": 2}, "after": {"type": "string", "maxLength": 4}}})
}
fn split_object(_: &str, m: Option<i64>) -> Value {
    let s = with(json!({"type": "string"}), "maxLength", m);
    json!({"type": "object", "properties": {"str": s, "separator": s}})
}
fn enum_string(_: &str, m: Option<i64>) -> Value {
    with(
        json!({"type": "string", "enum": ["A", "B", "C", "LongValue"]}),
        "maxLength",
        m,
    )
}

/// Above upstream's per-expression limit (`costLimit` in its table).
const EXCEEDS: u64 = 10_000_000;

#[test]
fn upstream_cost_estimation_table() {
    #[rustfmt::skip]
    let cases: &[(Gen, &str, &str, u64, i64, u64)] = &[
        (array_of, "number", "self.all(x, true)", 4_718_591, 10, 32),
        (array_of, "string", "self.all(x, true)", 3_145_727, 20, 62),
        (array_of, "boolean", "self.all(x, true)", 1_887_437, 5, 17),
        (array_of_arrays, "number", "self.all(x, true)", 3_145_727, 100, 302),
        (array_of_objects, "", "self.all(x, true)", 555_128, 50, 152),
        (map_of, "number", "self.all(x, true)", 1_348_169, 10, 32),
        (map_of, "string", "self.all(x, true)", 1_179_647, 3, 11),
        (map_of, "boolean", "self.all(x, true)", 943_718, 100, 302),
        (string, "", "self.contains('test')", 314_574, 10, 5),
        (string, "", "self.startsWith('test')", 2, 15, 2),
        (string, "", "self.endsWith('test')", 2, 30, 2),
        (string, "", "size(self + \"hello\") > size(\"hello\")", 314_578, 4, 7),
        (array_of, "number", "self[1] == 0.0", 2, 5000, 2),
        (array_of, "string", "self[1] == self[1]", 314_577, 8, 314_577),
        (array_of, "number", "self.all(x, self.all(y, true))", EXCEEDS, 10, 352),
        (array_of, "number", "self.all(x, self.all(y, self.all(z, true)))", EXCEEDS, 10, 3552),
        (string, "", "self.matches(\"x\")", 314_574, 50, 22),
        (string, "", "\"\".matches(\"(((((((((())))))))))[0-9]\")", 7, 10, 7),
        (string, "", "self.matches(\"\")", 1, 100, 1),
        (nested_string_map, "", "self.all(x, x.contains(self[x]))", 2_752_507, 10, 72),
        (array_of, "number", "self[3] == 0.0", 2, 0, 2),
        (map_of, "number", "self[\"x\"] == 0.0", 2, 0, 2),
        (string, "", "self == \"x\"", 2, 0, 1),
        (bytes, "", "self == b\"x\"", 2, 0, 1),
        (array_of, "number", "self.all(x, x == 0.0)", 6_291_454, 3 * 1024 * 2048, 25_165_826),
        (all_max_nested, "", "self.all(x, x[\"y\"].required == \"z\")", 7_340_027, 10, 72),
        (one_max_nested, "", "self.all(x, x[\"y\"].required == \"z\")", 7_340_027, 10, 7_340_027),
        (array_of, "int-or-string", "self.all(x, true)", 4_718_591, 10, 32),
        (array_of, "int-or-string", "self[0] == 5", 3, 10, 3),
        (array_of, "boolean", "self[0] == false", 2, 25, 2),
        (array_of_objects, "", "self[0] == null", 2, 422, 2),
        (array_of_arrays, "number", "self[0][0] == -1.0", 3, 51, 3),
        (array_of_maps, "number", "self.all(x, x.y == 25.2)", 6_291_452, 12, 74),
        (array_of_maps, "number", "self[0].x > 2.0", 4, 3000, 4),
        (array_of, "duration", "self.all(x, true)", 2_359_295, 5, 17),
        (array_of, "duration", "self[0].getHours() == 2", 4, 525, 4),
        (array_of, "date", "self.all(x, true)", 725_936, 15, 47),
        (array_of, "date", "self[2].getDayOfMonth() == 13", 4, 42, 4),
        (array_of, "date-time", "self.all(x, true)", 428_963, 25, 77),
        (array_of, "date-time", "self[2].getMinutes() == 45", 4, 99, 4),
        (map_of, "int-or-string", "self.all(x, true)", 1_348_169, 15, 47),
        (map_of_objects, "", "self.all(x, true)", 428_963, 20, 62),
        (map_of_number_maps, "", "self.all(x, true)", 1_179_647, 10, 32),
        (map_of_number_arrays, "", "self.all(x, true)", 1_179_647, 25, 77),
        (map_of, "duration", "self.all(x, true)", 1_048_577, 5, 17),
        (map_of, "date", "self.all(x, true)", 524_288, 10, 32),
        (map_of, "date-time", "self.all(x, true)", 349_526, 25, 77),
        (string, "", "self.find('[0-9]+') == ''", 629_147, 10, 11),
        (string_list, "", "self.join(' ') == 'aa bb'", 329_853_068_905, 10, 43),
        (string_list, "", "self.isSorted() == true", 329_854_432_052, 10, 52),
        (replace_object, "", "self.str.replace(self.before, self.after) == 'does not matter'", 629_154, 4, 12),
        (split_object, "", "self.str.split(self.separator) == []", 629_160, 10, 22),
        (string, "", "self.lowerAscii() == 'lower!'", 314_575, 10, 6),
        (map_of, "integer", "oldSelf.size() == self.size()", 5, 10, 5),
        (map_of, "date-time", "self[\"a\"] == self[\"b\"]", 8, 7, 8),
        (map_of, "duration", "self[\"c\"] == self[\"d\"]", 8, 42, 8),
        (enum_string, "", "self.contains('A')", 2, 1000, 401),
    ];
    for &(gen_schema, ty, rule, calc, max, set) in cases {
        let unbounded = max_cost(&gen_schema(ty, None), rule);
        if calc == EXCEEDS {
            assert!(unbounded > EXCEEDS, "{rule} ({ty}): {unbounded}");
        } else if calc > 0 {
            assert_eq!(unbounded, calc, "{rule} ({ty}) without bounds");
        }
        let bounded = max_cost(&gen_schema(ty, Some(max)), rule);
        if set > 0 {
            assert_eq!(bounded, set, "{rule} ({ty}) bounded by {max}");
        }
    }
}

#[test]
fn presence_tests_are_free_and_literals_have_their_own_size() {
    let s = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    // has(): the operand only (self, 1).
    assert_eq!(max_cost(&s, "has(self.a)"), 1);
    // List literals cost 10; `in` walks the list.
    assert_eq!(max_cost(&s, "self.a in ['x', 'y']"), 2 + 10 + 2);
    // A map literal costs 30, `in` on a map 1.
    assert_eq!(max_cost(&s, "self.a in {'x': 1}"), 2 + 30 + 1);
}

#[test]
fn sets_and_unknown_types_charge_the_worst_overload() {
    let s = json!({"type": "object", "properties": {
        "l": {"type": "array", "maxItems": 4, "items": {"type": "integer"}},
        "v": {"x-kubernetes-int-or-string": true, "maxLength": 5}}});
    // sets.contains: |a|·|b| + 1, plus its arguments (self.l twice: 2 + 2).
    assert_eq!(max_cost(&s, "sets.contains(self.l, self.l)"), 16 + 1 + 4);
    // `dyn + dyn` may be a string concatenation, charged as one: 40
    // characters (4) plus its arguments (4); `==` compares at most 20
    // characters (2) plus its arguments (8 + 2).
    assert_eq!(max_cost(&s, "self.v + self.v == self.v"), 2 + 8 + 2);
}

/// Kubernetes library costs, from upstream's `library/cost_test.go`
/// (estimated `[min, max]`).
#[test]
fn upstream_library_costs() {
    let root = Decl::from_schema(&json!({"type": "object"}), false).expect("decl");
    let est = |rule: &str| {
        let program = Program::compile(rule).expect("rule parses");
        let e = estimate(program.expression(), &root, false);
        (e.min, e.max)
    };
    #[rustfmt::skip]
    let cases: &[(&str, (u64, u64))] = &[
        ("[1, 2, 3, 4, 5].sum()", (15, 15)),
        ("[1.0, 2.0, 3.0, 4.0, 5.0].max()", (15, 15)),
        ("[false, true, false, true, false].isSorted()", (15, 15)),
        ("[1, 2, 3, 4, 5].indexOf(3)", (15, 15)),
        ("'01234567890123456789012345678901234567890123456789'.indexOf('123')", (5, 5)),
        ("url('https:://kubernetes.io/').getScheme()", (4, 4)),
        ("url('https:://kubernetes.io/').getQuery()", (4, 4)),
        ("ip('192.168.0.1')", (2, 2)),
        ("ip('192.168.0.1').family()", (3, 3)),
        ("ip('2001:db8:3333:4444:5555:6666:7777:8888').isLoopback()", (5, 5)),
        ("ip.isCanonical('192.168.0.1')", (3, 3)),
        ("ip.isCanonical('2001:db8:3333:4444:5555:6666:7777:8888')", (8, 8)),
        ("cidr('192.168.0.0/16')", (2, 2)),
        ("cidr('192.168.0.0/16').ip()", (3, 3)),
        ("cidr('192.168.0.0/16').containsCIDR(cidr('192.0.0.0/30'))", (7, 11)),
        ("cidr('192.168.0.0/16').containsCIDR('192.0.0.0/30')", (7, 11)),
        ("cidr('192.168.0.0/16').containsIP(ip('192.0.0.1'))", (4, 7)),
        ("cidr('192.168.0.0/16').containsIP(ip('192.169.0.1'))", (5, 8)),
    ];
    for (rule, want) in cases {
        assert_eq!(est(rule), *want, "{rule}");
    }
}
