//! `x-kubernetes-validations`: the CEL rules of a CRD's schema, checked when
//! the CRD is written ([`compile_rules`]) and evaluated on every create and
//! update of a custom resource ([`validate`]), with upstream's paths and
//! messages.
//!
//! Parsing and evaluation come from the `cel` crate, reached through
//! `kube-cel`, which adds the Kubernetes libraries (lists, sets, regex
//! `find`/`findAll`, `url`, `ip`/`cidr`, `quantity`, `semver`, `format`,
//! strings, math). `cel` parses but does not type-check, so a small checker
//! stands in for cel-go's at CRD time: undeclared identifiers and functions,
//! fields the schema does not declare, and results that are plainly not a
//! bool. Other type errors surface when the rule runs, as upstream reports
//! them for dynamically typed values.
//!
//! `cel` keeps no cost either; `cost.rs` estimates it as cel-go does. When
//! a CRD is written each rule's estimate (times how often the rule may run)
//! is held to upstream's per-rule limit and their sum to the schema's limit.
//! When a rule runs it is charged the estimate for the sizes the value
//! actually has — cel-go's worst case for that value, which is at least
//! what cel-go's interpreter would count (no short-circuits are assumed) —
//! against the per-call and per-request budgets; over them, it does not run.
//!
//! On update, a failing rule that does not use `oldSelf` is let through
//! when its value is unchanged (upstream's ratcheting, which turns it into
//! a warning).

mod cost;
mod decl;

use decl::{Decl, MAX_REQUEST_BYTES};

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use kaiser_apimachinery::cel as cel_syntax;
use kaiser_apimachinery::field::{ErrorKind, ErrorList, FieldError, child, key};
use kube_cel::KubeCelExt;
use kube_cel::cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};
use kube_cel::cel::objects::{Key, Map as CelMap, OptionalValue};
use kube_cel::cel::{Context, ExecutionError, Program, Value as Cel};
use serde_json::Value;

/// Cost one rule evaluation may reach (upstream's `PerCallLimit`).
pub const PER_CALL_LIMIT: u64 = 1_000_000;
/// Cost all rules of one request may reach (`RuntimeCELCostBudget`).
pub const PER_REQUEST_LIMIT: u64 = 10_000_000;
/// Longest evaluated `messageExpression` kept (bytes).
const MAX_MESSAGE_EXPRESSION: usize = 5 * 1024;
/// Parsed programs kept across requests before the cache starts over.
const CACHE_MAX: usize = 4096;
/// Deepest schema/object nesting walked (values are JSON, already bounded).
const MAX_DEPTH: usize = 256;

/// The reasons a rule may carry, sorted as upstream lists them.
const REASONS: [&str; 4] = [
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

/// Identifiers that prefix library functions (`sets.contains(...)`).
const NAMESPACES: [&str; 9] = [
    "ip",
    "sets",
    "math",
    "base64",
    "lists",
    "strings",
    "format",
    "optional",
    "jsonpatch",
];

/// Functions and methods the evaluation context knows: `cel`'s built-ins
/// and what `kube-cel` registers.
const FUNCTIONS: &[&str] = &[
    "contains",
    "size",
    "max",
    "min",
    "startsWith",
    "endsWith",
    "string",
    "bytes",
    "double",
    "int",
    "uint",
    "optional.none",
    "optional.of",
    "optional.ofNonZeroValue",
    "value",
    "hasValue",
    "or",
    "orValue",
    "matches",
    "duration",
    "timestamp",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "has",
    "all",
    "exists",
    "exists_one",
    "map",
    "filter",
    "add",
    "asApproximateFloat",
    "asInteger",
    "base64.decode",
    "base64.encode",
    "charAt",
    "cidr",
    "compareTo",
    "containsCIDR",
    "containsIP",
    "distinct",
    "family",
    "find",
    "findAll",
    "first",
    "flatten",
    "format",
    "format.byte",
    "format.date",
    "format.datetime",
    "format.dns1035Label",
    "format.dns1035LabelPrefix",
    "format.dns1123Label",
    "format.dns1123LabelPrefix",
    "format.dns1123Subdomain",
    "format.dns1123SubdomainPrefix",
    "format.labelValue",
    "format.named",
    "format.qualifiedName",
    "format.uri",
    "format.uuid",
    "getEscapedPath",
    "getHost",
    "getHostname",
    "getPort",
    "getQuery",
    "getScheme",
    "indexOf",
    "ip",
    "ip.isCanonical",
    "isCIDR",
    "isCIDRv4",
    "isCIDRv6",
    "isGlobalUnicast",
    "isGreaterThan",
    "isIP",
    "isIPv4",
    "isIPv6",
    "isInteger",
    "isLessThan",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isLoopback",
    "isQuantity",
    "isSemver",
    "isSorted",
    "isURL",
    "isUnspecified",
    "join",
    "jsonpatch.escapeKey",
    "last",
    "lastIndexOf",
    "lists.range",
    "lowerAscii",
    "major",
    "masked",
    "math.abs",
    "math.bitAnd",
    "math.bitNot",
    "math.bitOr",
    "math.bitShiftLeft",
    "math.bitShiftRight",
    "math.bitXor",
    "math.ceil",
    "math.floor",
    "math.greatest",
    "math.isFinite",
    "math.isInf",
    "math.isNaN",
    "math.least",
    "math.round",
    "math.sign",
    "math.sqrt",
    "math.trunc",
    "minor",
    "patch",
    "prefixLength",
    "quantity",
    "replace",
    "reverse",
    "semver",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
    "sign",
    "slice",
    "sort",
    "split",
    "strings.quote",
    "sub",
    "substring",
    "sum",
    "trim",
    "upperAscii",
    "url",
    "validate",
];

/// Calls whose result is never a bool (and, for `messageExpression`,
/// operators whose result is never a string).
const NON_BOOL_CALLS: &[&str] = &[
    "_+_",
    "_-_",
    "_*_",
    "_/_",
    "_%_",
    "-_",
    "size",
    "string",
    "int",
    "uint",
    "double",
    "bytes",
    "duration",
    "timestamp",
    "quantity",
    "url",
    "ip",
    "cidr",
    "semver",
    "format",
    "lowerAscii",
    "upperAscii",
    "replace",
    "split",
    "substring",
    "trim",
    "join",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "sum",
    "min",
    "max",
    "slice",
    "flatten",
    "distinct",
    "sort",
    "reverse",
    "first",
    "last",
    "find",
    "findAll",
];
const BOOL_CALLS: &[&str] = &[
    "_==_",
    "_!=_",
    "_<_",
    "_<=_",
    "_>_",
    "_>=_",
    "_&&_",
    "_||_",
    "!_",
    "@in",
    "matches",
    "startsWith",
    "endsWith",
    "contains",
    "has",
];

// ---------------------------------------------------------------------------
// Rules

/// One entry of `x-kubernetes-validations`.
struct Rule<'a> {
    raw: &'a Value,
    rule: &'a str,
    message: &'a str,
    message_expression: &'a str,
    reason: Option<&'a str>,
    field_path: Option<&'a str>,
    optional_old_self: Option<bool>,
}

impl Rule<'_> {
    /// The rule as errors name it: its message, or else its source.
    fn error_string(&self) -> &str {
        match self.message.trim() {
            "" => self.rule.trim(),
            m => m,
        }
    }

    /// The detail of a failed rule without a usable `messageExpression`.
    fn default_message(&self) -> String {
        if self.message.is_empty() {
            format!("failed rule: {}", self.error_string())
        } else {
            self.message.trim().to_string()
        }
    }
}

fn rules(schema: &Value) -> Vec<Rule<'_>> {
    schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str);
            Rule {
                raw: r,
                rule: s("rule").unwrap_or(""),
                message: s("message").unwrap_or(""),
                message_expression: s("messageExpression").unwrap_or(""),
                reason: s("reason"),
                field_path: s("fieldPath"),
                optional_old_self: r.get("optionalOldSelf").and_then(Value::as_bool),
            }
        })
        .collect()
}

fn flag(s: &Value, name: &str) -> bool {
    s.get(name).and_then(Value::as_bool) == Some(true)
}

fn type_of(s: &Value) -> &str {
    s.get("type").and_then(Value::as_str).unwrap_or("")
}

fn embedded(s: &Value) -> bool {
    flag(s, "x-kubernetes-embedded-resource")
}

/// A schema CEL cannot see: no type, unknown fields preserved.
fn unknown_type(s: &Value) -> bool {
    type_of(s).is_empty()
        && flag(s, "x-kubernetes-preserve-unknown-fields")
        && !flag(s, "x-kubernetes-int-or-string")
}

fn properties(s: &Value) -> Option<&serde_json::Map<String, Value>> {
    s.get("properties").and_then(Value::as_object)
}

fn additional(s: &Value) -> Option<&Value> {
    s.get("additionalProperties").filter(|a| a.is_object())
}

/// Whether `s` is an object with named fields (not a map).
fn is_struct(s: &Value) -> bool {
    (type_of(s) == "object" || properties(s).is_some())
        && s.get("additionalProperties")
            .is_none_or(|a| a == &Value::Bool(false))
}

/// A property name as CEL sees it, or `None` when it cannot be reached.
fn escape(name: &str) -> Option<String> {
    if cel_syntax::RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-' | '/'));
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
    {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("__") {
            out.push_str("__underscores__");
            rest = r;
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

/// The property of a struct schema that CEL names `field`.
fn property_named<'a>(s: &'a Value, field: &str) -> Option<&'a Value> {
    properties(s)?
        .iter()
        .find(|(k, v)| !unknown_type(v) && escape(k).as_deref() == Some(field))
        .map(|(_, v)| v)
}

// ---------------------------------------------------------------------------
// Parsing

/// A parsed expression and what the evaluator needs to know about it.
struct Parsed {
    program: Program,
    uses_old_self: bool,
}

/// Parses `src`, from a cache shared by all requests: rules are few and
/// parsing is the costly part.
fn parse(src: &str) -> Result<Arc<Parsed>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Parsed>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(c) = cache.lock()
        && let Some(p) = c.get(src)
    {
        return Ok(p.clone());
    }
    let program = cel_syntax::parse(src)?;
    let mut uses_old_self = false;
    visit(program.expression(), &mut |e| {
        if matches!(&e.expr, Expr::Ident(n) if n == "oldSelf") {
            uses_old_self = true;
        }
    });
    let parsed = Arc::new(Parsed {
        program,
        uses_old_self,
    });
    if let Ok(mut c) = cache.lock() {
        if c.len() >= CACHE_MAX {
            c.clear();
        }
        c.insert(src.to_string(), parsed.clone());
    }
    Ok(parsed)
}

fn children(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Expr::Call(c) => c.target.as_deref().into_iter().chain(&c.args).collect(),
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => m.entries.iter().flat_map(|en| entry(&en.expr)).collect(),
        Expr::Struct(s) => s.entries.iter().flat_map(|en| entry(&en.expr)).collect(),
        Expr::Select(s) => vec![&s.operand],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

fn entry(e: &EntryExpr) -> Vec<&IdedExpr> {
    match e {
        EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
        EntryExpr::StructField(f) => vec![&f.value],
    }
}

fn visit(e: &IdedExpr, f: &mut impl FnMut(&IdedExpr)) {
    f(e);
    for c in children(e) {
        visit(c, f);
    }
}

// ---------------------------------------------------------------------------
// Compilation (CRD create and update)

/// Per-expression limit on the estimated cost of a rule or
/// `messageExpression` (`StaticEstimatedCostLimit`).
pub const STATIC_COST_LIMIT: u64 = 10_000_000;
/// Limit on the estimated cost of all rules of a schema
/// (`StaticEstimatedCRDCostLimit`).
pub const STATIC_CRD_COST_LIMIT: u64 = 100_000_000;

/// How a version's rules are checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompileOptions {
    /// The version's schema is unchanged by this update: rules already
    /// stored keep their place even over the per-expression cost limit.
    pub unchanged_schema: bool,
}

/// Checks every `x-kubernetes-validations` entry of `schema` (a version's
/// `openAPIV3Schema`, at `path`) as upstream does when a CRD is written:
/// the entry's own fields, then the rule and `messageExpression` compile,
/// then their estimated costs — each times the number of times the rule
/// may run (the product of the enclosing `maxItems`/`maxProperties`, or how
/// many such values fit in a request) — against the per-expression limit,
/// and all of them together against the schema's limit.
pub fn compile_rules(schema: &Value, path: &str, opts: CompileOptions) -> ErrorList {
    let mut c = Compilation {
        errs: ErrorList::new(),
        total: 0,
        expensive: Vec::new(),
        opts,
    };
    c.node(schema, path, true, None, Some(1), 0);
    if c.total > STATIC_CRD_COST_LIMIT {
        for (at, _) in &c.expensive {
            c.errs.push(FieldError::forbidden(
                at,
                "contributed to estimated rule cost total exceeding cost limit for entire \
                 OpenAPIv3 schema",
            ));
        }
        c.errs.push(FieldError::forbidden(
            path,
            cost_message(
                "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                c.total,
                STATIC_CRD_COST_LIMIT,
            ),
        ));
    }
    c.errs
}

/// Upstream's words for an estimated cost over `limit`.
fn cost_message(what: &str, cost: u64, limit: u64) -> String {
    let factor = cost as f64 / limit as f64;
    let factor = if factor > 100.0 {
        "more than 100x".to_string()
    } else if factor < 1.5 {
        format!("{factor:.6}x")
    } else {
        format!("{factor:.1}x")
    };
    format!(
        "{what} exceeds budget by factor of {factor} (try simplifying the rule, or adding \
         maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )
}

/// How many more values each value of `s` holds: `maxItems` or
/// `maxProperties` for lists and maps (`None` when unbounded), 1 otherwise.
fn max_elements(s: &Value) -> Option<u64> {
    let bound = |k: &str| {
        s.get(k)
            .and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)))
            .map(|n| n.max(0) as u64)
    };
    match type_of(s) {
        "object" if s.get("additionalProperties").is_some_and(|a| !a.is_null()) => {
            bound("maxProperties")
        }
        "array" => bound("maxItems"),
        _ => Some(1),
    }
}

/// Whether the fields of an object can be matched to their old values
/// (`x-kubernetes-map-type` unset or `granular`).
fn map_correlatable(s: &Value) -> bool {
    s.get("x-kubernetes-map-type")
        .and_then(Value::as_str)
        .is_none_or(|t| t == "granular")
}

/// The state of checking one version's schema.
struct Compilation {
    errs: ErrorList,
    /// Estimated cost of every rule and message expression so far.
    total: u64,
    /// The (at most 4) rules costing at least 1% of the schema's limit.
    expensive: Vec<(String, u64)>,
    opts: CompileOptions,
}

impl Compilation {
    fn observe(&mut self, at: &str, cost: u64) {
        self.total = self.total.saturating_add(cost);
        if cost < STATIC_CRD_COST_LIMIT / 100 {
            return;
        }
        self.expensive.push((at.to_string(), cost));
        self.expensive.sort_by_key(|e| std::cmp::Reverse(e.1));
        self.expensive.truncate(4);
    }

    fn node(
        &mut self,
        s: &Value,
        path: &str,
        root: bool,
        uncorrelatable: Option<&str>,
        cardinality: Option<u64>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH || !s.is_object() {
            return;
        }
        self.here(s, path, root, uncorrelatable, cardinality);
        let child = cardinality
            .zip(max_elements(s))
            .map(|(a, b)| a.saturating_mul(b));
        if let Some(props) = properties(s) {
            // The fields of an atomic map have no old values.
            let unc = match map_correlatable(s) {
                true => uncorrelatable,
                false => uncorrelatable.or(Some(path)),
            };
            for (k, p) in props {
                let sub = format!("{path}.properties[{k}]");
                self.node(p, &sub, embedded(p), unc, child, depth + 1);
            }
        }
        if let Some(ap) = additional(s) {
            let sub = format!("{path}.additionalProperties");
            self.node(ap, &sub, embedded(ap), uncorrelatable, child, depth + 1);
        }
        if let Some(items) = s.get("items").filter(|i| i.is_object()) {
            // Old items can be matched to new ones only by the keys of a map list.
            let unc = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => uncorrelatable,
                _ => uncorrelatable.or(Some(path)),
            };
            let sub = format!("{path}.items");
            self.node(items, &sub, embedded(items), unc, child, depth + 1);
        }
    }

    fn here(
        &mut self,
        s: &Value,
        path: &str,
        root: bool,
        uncorrelatable: Option<&str>,
        cardinality: Option<u64>,
    ) {
        let rs = rules(s);
        if rs.is_empty() {
            return;
        }
        let base = format!("{path}.x-kubernetes-validations");
        let mut field_errs = ErrorList::new();
        for (i, r) in rs.iter().enumerate() {
            let at = |f: &str| format!("{base}[{i}].{f}");
            let msg = r.message.trim();
            if r.rule.trim().is_empty() {
                field_errs.push(FieldError::required(&at("rule"), "rule is not specified"));
            } else if !r.message.is_empty() && msg.is_empty() {
                field_errs.push(FieldError::invalid(
                    &at("message"),
                    r.message,
                    "message must be non-empty if specified",
                ));
            } else if has_newlines(msg) {
                field_errs.push(FieldError::invalid(
                    &at("message"),
                    r.message,
                    "message must not contain line breaks",
                ));
            } else if has_newlines(r.rule.trim()) && msg.is_empty() {
                field_errs.push(FieldError::required(
                    &at("message"),
                    "message must be specified if rule contains line breaks",
                ));
            }
            if !r.message_expression.is_empty() && r.message_expression.trim().is_empty() {
                field_errs.push(FieldError::required(
                    &at("messageExpression"),
                    "messageExpression must be non-empty if specified",
                ));
            }
            if let Some(reason) = r.reason
                && !REASONS.contains(&reason)
            {
                field_errs.push(FieldError::not_supported(&at("reason"), reason, &REASONS));
            }
            if let Some(fp) = r.field_path {
                if !fp.is_empty() && fp.trim().is_empty() {
                    field_errs.push(FieldError::invalid(
                        &at("fieldPath"),
                        fp,
                        "fieldPath must be non-empty if specified",
                    ));
                }
                if has_newlines(fp) {
                    field_errs.push(FieldError::invalid(
                        &at("fieldPath"),
                        fp,
                        "fieldPath must not contain line breaks",
                    ));
                }
                if !fp.is_empty() && field_path(fp, s).is_err() {
                    field_errs.push(FieldError::invalid(
                        &at("fieldPath"),
                        fp,
                        "fieldPath must be a valid path",
                    ));
                }
            }
        }
        // As upstream, rules are compiled only once their entries are sound.
        if !field_errs.is_empty() {
            self.errs.extend(field_errs);
            return;
        }
        let Some(decl) = Decl::from_schema(s, root) else {
            self.errs.push(FieldError {
                kind: ErrorKind::Internal,
                field: base.clone(),
                value: None,
                detail: "internal error: failed to construct type information for \
                         x-kubernetes-validations rules: unable to convert structural schema \
                         to CEL declarations"
                    .into(),
            });
            return;
        };
        // How often a rule here may run: bounded by the enclosing lists and
        // maps, else by how many values of this shape fit in a request.
        let times = cardinality.unwrap_or(MAX_REQUEST_BYTES / (decl.min_size + 1));
        for (i, r) in rs.iter().enumerate() {
            let at = |f: &str| format!("{base}[{i}].{f}");
            let optional = r.optional_old_self == Some(true);
            let checker = Checker {
                node: s,
                root,
                optional_old_self: optional,
            };
            let parsed = match parse(r.rule) {
                Ok(p) => checker.check(r.rule, &p.program, Want::Bool).map(|_| p),
                Err(e) => Err(Unfit::Compile(e)),
            };
            let p = match parsed {
                Ok(p) => p,
                Err(e) => {
                    let detail = match e {
                        Unfit::Compile(e) => format!("compilation failed: {e}"),
                        Unfit::Type => "cel expression must evaluate to a bool".into(),
                    };
                    self.errs
                        .push(FieldError::invalid(&at("rule"), r.raw.clone(), detail));
                    continue;
                }
            };
            let max = cost::estimate(p.program.expression(), &decl, optional).max;
            let rule_cost = if max == 0 {
                0
            } else {
                max.saturating_mul(times)
            };
            if !self.opts.unchanged_schema && rule_cost > STATIC_COST_LIMIT {
                self.errs.push(FieldError::forbidden(
                    &at("rule"),
                    cost_message("estimated rule cost", rule_cost, STATIC_COST_LIMIT),
                ));
            }
            self.observe(&at("rule"), rule_cost);
            if !r.message_expression.trim().is_empty() {
                self.message_expression(s, root, optional, &decl, r, &at("messageExpression"));
            }
            if p.uses_old_self {
                if let Some(u) = uncorrelatable {
                    self.errs.push(FieldError::invalid(
                        &at("rule"),
                        r.rule,
                        format!(
                            "oldSelf cannot be used on the uncorrelatable portion of the \
                             schema within {u}"
                        ),
                    ));
                }
            } else if let Some(b) = r.optional_old_self {
                self.errs.push(FieldError::invalid(
                    &at("optionalOldSelf"),
                    b,
                    "may not be set if oldSelf is not used in rule",
                ));
            }
        }
    }

    fn message_expression(
        &mut self,
        s: &Value,
        root: bool,
        optional: bool,
        decl: &Decl,
        r: &Rule<'_>,
        at: &str,
    ) {
        let checker = Checker {
            node: s,
            root,
            optional_old_self: optional,
        };
        let src = r.message_expression;
        let parsed = match parse(src) {
            Ok(p) => checker.check(src, &p.program, Want::String).map(|_| p),
            Err(e) => Err(Unfit::Compile(e)),
        };
        match parsed {
            Err(e) => {
                let detail = match e {
                    Unfit::Compile(e) => format!("messageExpression compilation failed: {e}"),
                    Unfit::Type => "messageExpression must evaluate to a string".into(),
                };
                self.errs
                    .push(FieldError::invalid(at, r.raw.clone(), detail));
            }
            Ok(p) => {
                let cost = cost::estimate(p.program.expression(), decl, optional).max;
                if !self.opts.unchanged_schema && cost > STATIC_COST_LIMIT {
                    self.errs.push(FieldError::forbidden(
                        at,
                        cost_message("estimated messageExpression cost", cost, STATIC_COST_LIMIT),
                    ));
                }
                self.observe(at, cost);
            }
        }
    }
}

fn has_newlines(s: &str) -> bool {
    s.contains(['\n', '\r'])
}

/// Why an expression is refused: it does not compile, or its result
/// has the wrong type.
enum Unfit {
    Compile(String),
    Type,
}

/// What an expression must evaluate to.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    Bool,
    String,
}

/// The stand-in for cel-go's type checker (see the module doc).
struct Checker<'a> {
    /// Schema of `self`.
    node: &'a Value,
    /// Whether `self` is a resource root (apiVersion, kind and metadata).
    root: bool,
    /// Whether `oldSelf` is an optional rather than a value like `self`.
    optional_old_self: bool,
}

/// A schema known for an expression, and whether it is a resource root.
type Known<'a> = Option<(&'a Value, bool)>;

impl<'a> Checker<'a> {
    fn check(&self, src: &str, program: &Program, want: Want) -> Result<(), Unfit> {
        let expr = program.expression();
        let mut scope = Vec::new();
        self.expr(src, expr, &mut scope).map_err(Unfit::Compile)?;
        let wrong = match want {
            Want::Bool => self.not_bool(expr),
            Want::String => not_string(expr),
        };
        if wrong {
            return Err(Unfit::Type);
        }
        Ok(())
    }

    fn expr(
        &self,
        src: &str,
        e: &IdedExpr,
        scope: &mut Vec<(String, Known<'a>)>,
    ) -> Result<(), String> {
        match &e.expr {
            Expr::Ident(name) => {
                if !(name == "self" || name == "oldSelf" || scope.iter().any(|(n, _)| n == name)) {
                    return Err(located(
                        src,
                        name,
                        &format!("undeclared reference to '{name}' (in container '')"),
                    ));
                }
                Ok(())
            }
            Expr::Select(sel) => {
                if let Some((s, root)) = self.schema_of(&sel.operand, scope)
                    && is_struct(s)
                    && property_named(s, &sel.field).is_none()
                    && !(root && matches!(sel.field.as_str(), "apiVersion" | "kind" | "metadata"))
                {
                    let needle = format!(".{}", sel.field);
                    return Err(located(
                        src,
                        &needle,
                        &format!("undefined field '{}'", sel.field),
                    ));
                }
                self.expr(src, &sel.operand, scope)
            }
            Expr::Call(call) => {
                let ns = call.target.as_deref().and_then(|t| match &t.expr {
                    Expr::Ident(n)
                        if NAMESPACES.contains(&n.as_str())
                            && !scope.iter().any(|(s, _)| s == n) =>
                    {
                        Some(n.as_str())
                    }
                    _ => None,
                });
                let name = match ns {
                    Some(ns) => format!("{ns}.{}", call.func_name),
                    None => call.func_name.clone(),
                };
                let operator = !name.starts_with(|c: char| c.is_ascii_alphabetic());
                if !operator && !FUNCTIONS.contains(&name.as_str()) {
                    return Err(located(
                        src,
                        &call.func_name,
                        &format!("undeclared reference to '{name}' (in container '')"),
                    ));
                }
                if ns.is_none()
                    && let Some(t) = &call.target
                {
                    self.expr(src, t, scope)?;
                }
                for a in &call.args {
                    self.expr(src, a, scope)?;
                }
                Ok(())
            }
            Expr::Comprehension(c) => {
                self.expr(src, &c.iter_range, scope)?;
                let elem =
                    self.schema_of(&c.iter_range, scope)
                        .and_then(|(s, _)| match type_of(s) {
                            "array" => s.get("items").map(|i| (i, embedded(i))),
                            _ => None,
                        });
                let n = scope.len();
                scope.push((c.iter_var.clone(), elem));
                if let Some(v2) = &c.iter_var2 {
                    scope.push((v2.clone(), None));
                }
                scope.push((c.accu_var.clone(), None));
                let res = [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result]
                    .into_iter()
                    .try_for_each(|x| self.expr(src, x, scope));
                scope.truncate(n);
                res
            }
            _ => children(e)
                .into_iter()
                .try_for_each(|c| self.expr(src, c, scope)),
        }
    }

    /// The schema of a value reached from `self`, `oldSelf` or a
    /// comprehension variable over one, when it is known.
    fn schema_of(&self, e: &IdedExpr, scope: &[(String, Known<'a>)]) -> Known<'a> {
        match &e.expr {
            Expr::Ident(n) => {
                if let Some((_, k)) = scope.iter().rev().find(|(s, _)| s == n) {
                    return *k;
                }
                match n.as_str() {
                    "self" => Some((self.node, self.root)),
                    "oldSelf" if !self.optional_old_self => Some((self.node, self.root)),
                    _ => None,
                }
            }
            Expr::Select(sel) => {
                let (s, root) = self.schema_of(&sel.operand, scope)?;
                if root && sel.field == "metadata" {
                    return None;
                }
                if is_struct(s) {
                    property_named(s, &sel.field).map(|p| (p, embedded(p)))
                } else {
                    additional(s).map(|a| (a, embedded(a)))
                }
            }
            Expr::Call(c) if c.func_name == "_[_]" && c.args.len() == 2 => {
                let (s, _) = self.schema_of(&c.args[0], scope)?;
                let sub = match type_of(s) {
                    "array" => s.get("items")?,
                    _ => additional(s)?,
                };
                Some((sub, embedded(sub)))
            }
            _ => None,
        }
    }

    fn not_bool(&self, e: &IdedExpr) -> bool {
        match &e.expr {
            Expr::Literal(l) => !matches!(l, LiteralValue::Boolean(_)),
            Expr::List(_) | Expr::Map(_) | Expr::Struct(_) => true,
            Expr::Call(c) => NON_BOOL_CALLS.contains(&c.func_name.as_str()),
            Expr::Comprehension(c) => {
                matches!(&c.result.expr, Expr::Ident(n) if *n == c.accu_var)
                    && matches!(c.accu_init.expr, Expr::List(_))
            }
            Expr::Ident(_) | Expr::Select(_) => self
                .schema_of(e, &[])
                .is_some_and(|(s, _)| !matches!(type_of(s), "boolean" | "")),
            Expr::Unspecified => false,
        }
    }
}

fn not_string(e: &IdedExpr) -> bool {
    match &e.expr {
        Expr::Literal(l) => !matches!(l, LiteralValue::String(_)),
        Expr::List(_) | Expr::Map(_) | Expr::Struct(_) => true,
        Expr::Call(c) => BOOL_CALLS.contains(&c.func_name.as_str()),
        Expr::Comprehension(c) => {
            !matches!(c.accu_init.expr, Expr::Literal(LiteralValue::String(_)))
        }
        _ => false,
    }
}

/// A checker error in cel-go's shape, placed at the first occurrence of
/// `needle` in the source (the parsed tree keeps no positions).
fn located(src: &str, needle: &str, msg: &str) -> String {
    let offset = src.find(needle).unwrap_or(0);
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let text = src.lines().nth(line - 1).unwrap_or("");
    format!(
        "ERROR: <input>:{line}:{col}: {msg}\n | {text}\n | {}^",
        ".".repeat(col - 1)
    )
}

/// Resolves a rule's `fieldPath` (`.a.b`, `.map['key']`) against the
/// schema of its node, returning it as a field path relative to the node.
fn field_path(fp: &str, schema: &Value) -> Result<String, String> {
    schema_field_path(fp, schema, true).map(|(p, _)| p)
}

/// Splits a JSON path into `.`, `[`, `]` and the text between them; a
/// single-quoted string is one token whatever it contains.
fn path_tokens(p: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = p;
    while !rest.is_empty() {
        let len = if rest.starts_with('\'') {
            let b = rest.as_bytes();
            (1..b.len())
                .find(|&i| b[i] == b'\'' && b[i - 1] != b'\\')
                .map_or(rest.len(), |i| i + 1)
        } else if rest.starts_with(['.', '[', ']']) {
            1
        } else {
            rest.find(['.', '[', ']']).unwrap_or(rest.len())
        };
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    out
}

/// Go's escapes inside a single-quoted path segment.
fn unescape_single_quoted(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let d = chars.next().unwrap_or('\\');
        out.push(match d {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\'' => '\'',
            '\\' => '\\',
            other => return Err(format!("invalid escape char \\{other}")),
        });
    }
    Ok(out)
}

/// Upstream's `ValidFieldPath`: resolves a JSON path of field (`.a`) and,
/// when allowed, map-key (`['k']`) steps against `schema`, returning the
/// field path it names and the schema found there.
pub fn schema_field_path<'s>(
    jp: &str,
    schema: &'s Value,
    allow_array: bool,
) -> Result<(String, &'s Value), String> {
    let mut out = String::new();
    let mut s = schema;
    let tokens = path_tokens(jp);
    let mut it = tokens.into_iter();
    let step = |out: &mut String, s: &mut &'s Value, name: &str| -> Result<(), String> {
        if s.get("properties").is_some_and(|p| !p.is_null()) {
            *out = child(out, name);
            *s = properties(s)
                .and_then(|p| p.get(name))
                .ok_or("does not refer to a valid field")?;
        } else if let Some(ap) = additional(s) {
            *out = key(out, name);
            *s = ap;
        } else {
            return Err("does not refer to a valid field".into());
        }
        Ok(())
    };
    while let Some(tok) = it.next() {
        match tok {
            "[" => {
                if !allow_array {
                    return Err("array notation is not allowed".into());
                }
                let t = it.next().ok_or("unexpected end of JSON path")?;
                if t.len() < 2 || !t.starts_with('\'') || !t.ends_with('\'') {
                    return Err(format!("expected single quoted string but got {t}"));
                }
                let name = unescape_single_quoted(&t[1..t.len() - 1])
                    .map_err(|e| format!("invalid string literal: {e}"))?;
                step(&mut out, &mut s, &name)?;
                let close = it.next().ok_or("unexpected end of JSON path")?;
                if close != "]" {
                    return Err(format!("expected ] but got {close}"));
                }
            }
            "." => {
                let t = it.next().ok_or("unexpected end of JSON path")?;
                step(&mut out, &mut s, t)?;
            }
            other => return Err(format!("expected [ or . but got: {other}")),
        }
    }
    Ok((out, s))
}

// ---------------------------------------------------------------------------
// Evaluation (custom resource create and update)

/// The rules of one version's schema, ready to run: for each node with
/// rules, the declaration its evaluations are charged against.
pub struct Compiled {
    schema: Arc<Value>,
    /// By the address of the node inside `schema` (which never moves).
    decls: HashMap<usize, Decl>,
}

fn addr(s: &Value) -> usize {
    s as *const Value as usize
}

fn collect_decls(s: &Value, root: bool, out: &mut HashMap<usize, Decl>, depth: usize) {
    if depth > MAX_DEPTH || !s.is_object() {
        return;
    }
    if !rules(s).is_empty()
        && let Some(d) = Decl::from_schema(s, root)
    {
        out.insert(addr(s), d);
    }
    for p in properties(s).into_iter().flat_map(|p| p.values()) {
        collect_decls(p, embedded(p), out, depth + 1);
    }
    if let Some(ap) = additional(s) {
        collect_decls(ap, embedded(ap), out, depth + 1);
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        collect_decls(items, embedded(items), out, depth + 1);
    }
}

impl Compiled {
    pub fn new(schema: Arc<Value>) -> Compiled {
        let mut decls = HashMap::new();
        collect_decls(&schema, true, &mut decls, 0);
        Compiled { schema, decls }
    }

    /// Evaluates every rule on `obj` (with `old` on update), as upstream's
    /// CEL validator does, collecting all failures.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> ErrorList {
        run(obj, old, &self.schema, true, Some(&self.decls), true)
    }
}

/// Evaluates every rule of `schema` on `obj` (and on `old`, on update).
pub fn validate(obj: &Value, old: Option<&Value>, schema: &Value) -> ErrorList {
    run(obj, old, schema, true, None, true)
}

/// Evaluates the rules of `schema` on a value that is not a whole custom
/// resource (a `default`, with itself as old value and no ratcheting);
/// `root` when `schema` is a resource root.
pub fn validate_at(obj: &Value, old: Option<&Value>, schema: &Value, root: bool) -> ErrorList {
    run(obj, old, schema, root, None, false)
}

fn run(
    obj: &Value,
    old: Option<&Value>,
    schema: &Value,
    root: bool,
    decls: Option<&HashMap<usize, Decl>>,
    ratcheting: bool,
) -> ErrorList {
    let ctx = Context::default().with_all();
    let mut v = Validator {
        ctx: &ctx,
        errs: ErrorList::new(),
        budget: PER_REQUEST_LIMIT,
        exhausted: false,
        decls,
    };
    let ratchet = match old {
        Some(o) if ratcheting => Ratchet::At(o),
        _ => Ratchet::Off,
    };
    v.walk(obj, old, ratchet, schema, "", root, 0);
    v.errs
}

/// Where a node stands for ratcheting (`CRDValidationRatcheting`): a
/// failing rule that does not use `oldSelf` is let through when its value
/// (or, where old values cannot be matched, its nearest matched ancestor)
/// is unchanged.
#[derive(Clone, Copy)]
enum Ratchet<'a> {
    /// A create: nothing to compare with.
    Off,
    /// The value's old counterpart.
    At(&'a Value),
    /// No counterpart; the nearest ancestor that had one.
    Lost {
        new: &'a Value,
        old: &'a Value,
        schema: &'a Value,
    },
}

impl<'a> Ratchet<'a> {
    /// The state of field `k` of `new` (whose schema is `s`).
    fn key(self, new: &'a Value, s: &'a Value, k: &str) -> Ratchet<'a> {
        let Ratchet::At(old) = self else {
            return self;
        };
        let has_schema =
            properties(s).is_some_and(|p| p.contains_key(k)) || additional(s).is_some();
        match (old.get(k), new.get(k)) {
            (Some(o), Some(_)) if has_schema => Ratchet::At(o),
            _ => Ratchet::Lost {
                new,
                old,
                schema: s,
            },
        }
    }

    /// The state of item `i` of the list `new` (whose schema is `s`).
    fn index(self, new: &'a Value, s: &'a Value, i: usize) -> Ratchet<'a> {
        let Ratchet::At(old) = self else {
            return self;
        };
        let item = match (new.as_array(), old.as_array()) {
            (Some(n), Some(o)) if s.get("items").is_some() => {
                crate::schema::correlated_item(n, o, i, s)
            }
            _ => None,
        };
        match item {
            Some(o) => Ratchet::At(o),
            None => Ratchet::Lost {
                new,
                old,
                schema: s,
            },
        }
    }

    fn unchanged(self, v: &Value, s: &Value) -> bool {
        match self {
            Ratchet::Off => false,
            Ratchet::At(o) => crate::schema::correlated_equal(v, o, s),
            Ratchet::Lost { new, old, schema } => crate::schema::correlated_equal(new, old, schema),
        }
    }
}

struct Validator<'c> {
    ctx: &'c Context<'c>,
    errs: ErrorList,
    budget: u64,
    /// Set once the budget ran out: no further rule runs.
    exhausted: bool,
    decls: Option<&'c HashMap<usize, Decl>>,
}

/// The nil path of the resource root prints as upstream's does.
fn shown(path: &str) -> &str {
    if path.is_empty() { "<nil>" } else { path }
}

impl Validator<'_> {
    #[allow(clippy::too_many_arguments)]
    fn walk<'v>(
        &mut self,
        v: &'v Value,
        old: Option<&'v Value>,
        ratchet: Ratchet<'v>,
        s: &'v Value,
        path: &str,
        root: bool,
        depth: usize,
    ) {
        if v.is_null() || depth > MAX_DEPTH || self.exhausted || !s.is_object() {
            return;
        }
        let old = old.filter(|o| !o.is_null());
        let rs = rules(s);
        if !rs.is_empty() {
            self.node(v, old, ratchet, s, path, root, &rs);
        }
        match v {
            Value::Object(m) => {
                let props = properties(s);
                let ap = additional(s);
                // The fields of an atomic map have no old values.
                let correlatable = map_correlatable(s);
                for (k, val) in m {
                    let o = old.filter(|_| correlatable).and_then(|o| o.get(k));
                    let r = ratchet.key(v, s, k);
                    if let Some(p) = props.and_then(|p| p.get(k)) {
                        self.walk(val, o, r, p, &child(path, k), embedded(p), depth + 1);
                    } else if let Some(ap) = ap {
                        self.walk(val, o, r, ap, &key(path, k), embedded(ap), depth + 1);
                    }
                }
            }
            Value::Array(list) => {
                let Some(items) = s.get("items").filter(|i| i.is_object()) else {
                    return;
                };
                // Only map lists match old items (by key) for oldSelf.
                let map_list =
                    s.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map");
                let old_list = old.and_then(Value::as_array).filter(|_| map_list);
                for (i, item) in list.iter().enumerate() {
                    let o = old_list.and_then(|ol| crate::schema::correlated_item(list, ol, i, s));
                    let r = ratchet.index(v, s, i);
                    self.walk(item, o, r, items, &key(path, i), embedded(items), depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Charges an evaluation costing `cost`; false (with the error
    /// recorded, and no further rule run) when it is over the per-call
    /// limit or the request's remaining budget. An evaluation over the
    /// per-call limit is stopped there, so that much is what it takes from
    /// the budget, as upstream's.
    fn charge(&mut self, cost: u64, path: &str, ty: &str, over_call: String) -> bool {
        let taken = cost.min(PER_CALL_LIMIT + 1);
        if taken > self.budget {
            self.errs.push(FieldError::invalid(
                shown(path),
                ty,
                "validation failed due to running out of cost budget, no further validation \
                 rules will be run",
            ));
            self.exhausted = true;
            return false;
        }
        if cost > PER_CALL_LIMIT {
            self.errs
                .push(FieldError::invalid(shown(path), ty, over_call));
            self.exhausted = true;
            return false;
        }
        self.budget -= cost;
        true
    }

    /// The declaration of `s`, precomputed when the schema was compiled.
    fn decl(&self, s: &Value, root: bool) -> Option<std::borrow::Cow<'_, Decl>> {
        match self.decls.and_then(|d| d.get(&addr(s))) {
            Some(d) => Some(std::borrow::Cow::Borrowed(d)),
            None => Decl::from_schema(s, root).map(std::borrow::Cow::Owned),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        v: &Value,
        old: Option<&Value>,
        ratchet: Ratchet<'_>,
        s: &Value,
        path: &str,
        root: bool,
        rs: &[Rule<'_>],
    ) {
        let ty = type_of(s);
        if self.budget == 0 {
            self.errs.push(FieldError::invalid(
                shown(path),
                ty,
                "validation failed due to running out of cost budget, no further validation \
                 rules will be run",
            ));
            self.exhausted = true;
            return;
        }
        let (Some(self_val), Some(decl)) = (to_cel(v, s, root), self.decl(s, root)) else {
            return;
        };
        let old_val = old.and_then(|o| to_cel(o, s, root));
        // Evaluations are charged what the estimator gives for the sizes
        // this value (and its old value) actually has.
        let values: Vec<&Value> = std::iter::once(v).chain(old).collect();
        let sized = decl.sized(&values);
        for r in rs {
            if self.exhausted {
                return;
            }
            if r.rule.trim().is_empty() {
                continue;
            }
            let parsed = match parse(r.rule) {
                Ok(p) => p,
                Err(e) => {
                    self.errs.push(FieldError::invalid(
                        shown(path),
                        ty,
                        format!("rule compile error: compilation failed: {e}"),
                    ));
                    continue;
                }
            };
            let optional = r.optional_old_self == Some(true);
            if parsed.uses_old_self && old_val.is_none() && !optional {
                // Transition rules need a value to compare with.
                continue;
            }
            let cost = cost::estimate(parsed.program.expression(), &sized, optional).max;
            let over_call = format!(
                "'operation cancelled: actual cost limit exceeded': no further validation rules \
                 will be run due to call cost exceeds limit for rule: {}",
                r.error_string()
            );
            if !self.charge(cost, path, ty, over_call) {
                return;
            }
            let mut ctx = self.ctx.new_inner_scope();
            ctx.add_variable_from_value("self", self_val.clone());
            let old_binding = match (&old_val, optional) {
                (Some(o), false) => Some(o.clone()),
                (Some(o), true) => Some(optional_of(Some(o.clone()))),
                (None, true) => Some(optional_of(None)),
                (None, false) => None,
            };
            if let Some(o) = old_binding {
                ctx.add_variable_from_value("oldSelf", o);
            }
            let result = catch_unwind(AssertUnwindSafe(|| parsed.program.execute(&ctx)));
            drop(ctx);
            let err = match result {
                Ok(Ok(Cel::Bool(true))) => continue,
                Ok(Ok(Cel::Bool(false))) => None,
                Ok(Ok(_)) => Some(format!(
                    "rule did not evaluate to a bool evaluating rule: {}",
                    r.error_string()
                )),
                Ok(Err(e)) => Some(eval_error(&e, r)),
                Err(_) => Some(format!(
                    "internal error evaluating rule: {}",
                    r.error_string()
                )),
            };
            if let Some(detail) = err {
                self.errs.push(FieldError::invalid(shown(path), ty, detail));
                continue;
            }
            // A rule that does not look at oldSelf fails an unchanged value
            // only as a warning upstream: the value is let through.
            let ratcheted = !parsed.uses_old_self && ratchet.unchanged(v, s);
            let at = match r.field_path.map(|fp| field_path(fp, s)) {
                Some(Ok(rel)) if !rel.is_empty() => child(path, &rel),
                _ => path.to_string(),
            };
            let detail = match r.message_expression.trim() {
                "" => r.default_message(),
                src => match self.message(src, &self_val, old_val.as_ref(), &sized, &at, ty) {
                    Ok(Some(m)) => m,
                    Ok(None) => r.default_message(),
                    Err(e) => {
                        if !ratcheted {
                            self.errs.push(*e);
                        }
                        return;
                    }
                },
            };
            if ratcheted {
                continue;
            }
            let at = shown(&at);
            self.errs.push(match r.reason {
                Some("FieldValueForbidden") => FieldError::forbidden(at, detail),
                Some("FieldValueRequired") => FieldError::required(at, detail),
                Some("FieldValueDuplicate") => FieldError::duplicate(at, ty),
                _ => FieldError::invalid(at, ty, detail),
            });
        }
    }

    /// Evaluates a `messageExpression`: `Ok(None)` falls back to the
    /// message (upstream logs why); `Err` when the budget ran out (no
    /// further rule runs).
    fn message(
        &mut self,
        src: &str,
        self_val: &Cel,
        old_val: Option<&Cel>,
        sized: &Decl,
        at: &str,
        ty: &str,
    ) -> Result<Option<String>, Box<FieldError>> {
        let Ok(parsed) = parse(src) else {
            return Ok(None);
        };
        let cost = cost::estimate(parsed.program.expression(), sized, false).max;
        if cost.min(PER_CALL_LIMIT + 1) > self.budget {
            self.exhausted = true;
            return Err(Box::new(FieldError::invalid(
                shown(at),
                ty,
                "messageExpression evaluation failed due to running out of cost budget, no \
                 further validation rules will be run",
            )));
        }
        if cost > PER_CALL_LIMIT {
            self.exhausted = true;
            return Err(Box::new(FieldError::invalid(
                shown(at),
                ty,
                format!(
                    "no further validation rules will be run due to call cost exceeds limit \
                     for messageExpression: {src:?}"
                ),
            )));
        }
        self.budget -= cost;
        let mut ctx = self.ctx.new_inner_scope();
        ctx.add_variable_from_value("self", self_val.clone());
        if let Some(o) = old_val {
            ctx.add_variable_from_value("oldSelf", o.clone());
        }
        let out = catch_unwind(AssertUnwindSafe(|| parsed.program.execute(&ctx)));
        let Ok(Ok(Cel::String(m))) = out else {
            return Ok(None);
        };
        let m = m.trim();
        Ok(
            (!m.is_empty() && m.len() <= MAX_MESSAGE_EXPRESSION && !m.contains('\n'))
                .then(|| m.to_string()),
        )
    }
}

fn optional_of(v: Option<Cel>) -> Cel {
    Cel::Opaque(Arc::new(match v {
        Some(v) => OptionalValue::of(v),
        None => OptionalValue::none(),
    }))
}

/// An evaluation error worded as cel-go's, in upstream's sentence.
fn eval_error(e: &ExecutionError, r: &Rule<'_>) -> String {
    let what = match e {
        ExecutionError::NoSuchOverload
        | ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::UnsupportedUnaryOperator(..)
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::UnexpectedType { .. }
        | ExecutionError::NotSupportedAsMethod { .. }
        | ExecutionError::UnsupportedTargetType { .. } => {
            return format!(
                "'no such overload': call arguments did not match a supported operator, \
                 function or macro signature for rule: {}",
                r.error_string()
            );
        }
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        ExecutionError::DivisionByZero(_) => "division by zero".into(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".into(),
        ExecutionError::Overflow(..) => "integer overflow".into(),
        ExecutionError::IndexOutOfBounds(i) => match i {
            Cel::Int(i) => format!("index out of bounds: {i}"),
            other => format!("index out of bounds: {other:?}"),
        },
        ExecutionError::FunctionError { message, .. } => message.clone(),
        other => {
            let s = other.to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => s,
            }
        }
    };
    format!("{what} evaluating rule: {}", r.error_string())
}

// ---------------------------------------------------------------------------
// Values

fn cel_map(entries: impl IntoIterator<Item = (String, Cel)>) -> Cel {
    let map: HashMap<Key, Cel> = entries
        .into_iter()
        .map(|(k, v)| (Key::from(k), v))
        .collect();
    Cel::Map(CelMap { map: Arc::new(map) })
}

/// A JSON value with no schema: dynamic, as CEL sees `x-kubernetes-int-or-string`
/// and values under `additionalProperties: true`.
fn dynamic(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cel::Int(i),
            (None, Some(u)) => Cel::UInt(u),
            _ => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(a) => Cel::List(Arc::new(a.iter().map(dynamic).collect())),
        Value::Object(m) => cel_map(m.iter().map(|(k, v)| (k.clone(), dynamic(v)))),
    }
}

/// `v` as CEL sees it under schema `s`: objects with properties expose only
/// their declared fields (escaped; nulls absent), maps their entries, a
/// resource root also `apiVersion`, `kind` and `metadata.name` /
/// `generateName`. `None` for a schema of unknown type.
fn to_cel(v: &Value, s: &Value, root: bool) -> Option<Cel> {
    if unknown_type(s) {
        return None;
    }
    if v.is_null() {
        return Some(Cel::Null);
    }
    if flag(s, "x-kubernetes-int-or-string") {
        return Some(dynamic(v));
    }
    Some(match (type_of(s), v) {
        ("object", Value::Object(m)) | ("", Value::Object(m)) => {
            if let Some(ap) = additional(s) {
                cel_map(
                    m.iter()
                        .filter_map(|(k, x)| to_cel(x, ap, embedded(ap)).map(|c| (k.clone(), c))),
                )
            } else if s.get("additionalProperties") == Some(&Value::Bool(true)) {
                dynamic(v)
            } else {
                let mut out = Vec::new();
                if root {
                    for k in ["apiVersion", "kind"] {
                        if let Some(x) = m.get(k).filter(|x| x.is_string()) {
                            out.push((k.to_string(), dynamic(x)));
                        }
                    }
                    if let Some(meta) = m.get("metadata").and_then(Value::as_object) {
                        let fields = ["name", "generateName"].into_iter().filter_map(|k| {
                            meta.get(k)
                                .filter(|x| x.is_string())
                                .map(|x| (k.to_string(), dynamic(x)))
                        });
                        out.push(("metadata".to_string(), cel_map(fields)));
                    }
                }
                let props = properties(s);
                for (k, x) in m {
                    if x.is_null()
                        || (root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                    {
                        continue;
                    }
                    let (Some(p), Some(name)) = (props.and_then(|p| p.get(k)), escape(k)) else {
                        continue;
                    };
                    if let Some(c) = to_cel(x, p, embedded(p)) {
                        out.push((name, c));
                    }
                }
                cel_map(out)
            }
        }
        ("array", Value::Array(a)) => match s.get("items").filter(|i| i.is_object()) {
            Some(items) if unknown_type(items) => return None,
            Some(items) => Cel::List(Arc::new(
                a.iter()
                    .map(|x| to_cel(x, items, embedded(items)).unwrap_or(Cel::Null))
                    .collect(),
            )),
            None => dynamic(v),
        },
        ("string", Value::String(t)) => {
            let format = s.get("format").and_then(Value::as_str).unwrap_or("");
            match format {
                "date-time" => match chrono::DateTime::parse_from_rfc3339(t) {
                    Ok(ts) => Cel::Timestamp(ts),
                    Err(_) => dynamic(v),
                },
                _ => dynamic(v),
            }
        }
        ("number", Value::Number(n)) => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
        _ => dynamic(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: &str = "spec.versions[0].schema.openAPIV3Schema";

    fn msgs(l: ErrorList) -> Vec<String> {
        l.iter().map(ToString::to_string).collect()
    }

    fn root(spec: Value) -> Value {
        json!({"type": "object", "properties": {"spec": spec}})
    }

    fn check(schema: &Value, obj: Value) -> Vec<String> {
        assert!(
            compile_rules(schema, P, CompileOptions::default()).is_empty(),
            "{}",
            compile_rules(schema, P, CompileOptions::default())
        );
        msgs(validate(&obj, None, schema))
    }

    #[test]
    fn object_rule_with_message() {
        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [{
                "rule": "self.minReplicas <= self.maxReplicas",
                "message": "minReplicas must be less than or equal to maxReplicas"
            }],
            "properties": {
                "minReplicas": {"type": "integer"},
                "maxReplicas": {"type": "integer"}
            }
        }));
        assert!(check(&s, json!({"spec": {"minReplicas": 1, "maxReplicas": 2}})).is_empty());
        assert_eq!(
            check(&s, json!({"spec": {"minReplicas": 3, "maxReplicas": 2}})),
            [
                r#"spec: Invalid value: "object": minReplicas must be less than or equal to maxReplicas"#
            ]
        );
        // A missing field is a runtime error, as upstream's.
        assert_eq!(
            check(&s, json!({"spec": {"minReplicas": 3}})),
            [
                r#"spec: Invalid value: "object": no such key: maxReplicas evaluating rule: minReplicas must be less than or equal to maxReplicas"#
            ]
        );
    }

    #[test]
    fn lists_strings_and_presence() {
        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [{"rule": "has(self.a) == has(self.b)"}],
            "properties": {
                "a": {"type": "string",
                      "x-kubernetes-validations": [
                          {"rule": "self.startsWith('a')"},
                          {"rule": "self.matches('^[a-z]+$')"}]},
                "b": {"type": "string"},
                "l": {"type": "array", "items": {"type": "integer"},
                      "x-kubernetes-validations": [
                          {"rule": "self.all(x, x > 0)"},
                          {"rule": "size(self) <= 3"}]}
            }
        }));
        assert!(check(&s, json!({"spec": {"a": "abc", "b": "x", "l": [1, 2, 3]}})).is_empty());
        assert_eq!(
            check(&s, json!({"spec": {"a": "bC", "l": [0, 1, 2, 3]}})),
            [
                r#"spec: Invalid value: "object": failed rule: has(self.a) == has(self.b)"#,
                r#"spec.a: Invalid value: "string": failed rule: self.startsWith('a')"#,
                r#"spec.a: Invalid value: "string": failed rule: self.matches('^[a-z]+$')"#,
                r#"spec.l: Invalid value: "array": failed rule: self.all(x, x > 0)"#,
                r#"spec.l: Invalid value: "array": failed rule: size(self) <= 3"#,
            ]
        );
    }

    #[test]
    fn transition_rule() {
        let s = root(json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "self == oldSelf", "message": "Value is immutable"}]}
            }
        }));
        let old = json!({"spec": {"name": "a"}});
        // Create: no old value, the rule is skipped.
        assert!(msgs(validate(&json!({"spec": {"name": "b"}}), None, &s)).is_empty());
        assert!(msgs(validate(&old, Some(&old), &s)).is_empty());
        assert_eq!(
            msgs(validate(&json!({"spec": {"name": "b"}}), Some(&old), &s)),
            [r#"spec.name: Invalid value: "string": Value is immutable"#]
        );
        // A field added on update has no old value either.
        assert!(
            msgs(validate(
                &json!({"spec": {"name": "b"}}),
                Some(&json!({"spec": {}})),
                &s
            ))
            .is_empty()
        );
    }

    #[test]
    fn ratcheting_lets_unchanged_values_fail_rules() {
        let s = root(json!({
            "type": "object",
            "properties": {
                "x": {"type": "integer", "x-kubernetes-validations": [{"rule": "self < 5"}]},
                "y": {"type": "integer"},
                "t": {"type": "integer", "x-kubernetes-validations": [
                    {"rule": "self >= oldSelf", "message": "may not decrease"}]},
                "set": {"type": "array", "x-kubernetes-list-type": "set", "maxItems": 5,
                    "items": {"type": "string", "maxLength": 5,
                        "x-kubernetes-validations": [{"rule": "self != 'bad'"}]}}
            }
        }));
        let old = json!({"spec": {"x": 7, "y": 1, "t": 3, "set": ["bad"]}});
        let upd = |new: Value| msgs(validate(&new, Some(&old), &s));
        // x still fails its rule, but was stored so: let through.
        assert!(upd(json!({"spec": {"x": 7, "y": 2, "t": 3, "set": ["bad"]}})).is_empty());
        assert_eq!(
            upd(json!({"spec": {"x": 8, "y": 1, "t": 3, "set": ["bad"]}})),
            [r#"spec.x: Invalid value: "integer": failed rule: self < 5"#]
        );
        // Set items cannot be matched: their nearest matched ancestor (the
        // set) decides.
        assert_eq!(
            upd(json!({"spec": {"x": 7, "y": 1, "t": 3, "set": ["bad", "ok"]}})),
            [r#"spec.set[0]: Invalid value: "string": failed rule: self != 'bad'"#]
        );
        // Transition rules are never ratcheted.
        assert_eq!(
            upd(json!({"spec": {"x": 7, "y": 1, "t": 2, "set": ["bad"]}})),
            [r#"spec.t: Invalid value: "integer": may not decrease"#]
        );
        // A create has nothing to compare with.
        assert_eq!(
            msgs(validate(&json!({"spec": {"x": 7}}), None, &s)),
            [r#"spec.x: Invalid value: "integer": failed rule: self < 5"#]
        );
    }

    #[test]
    fn optional_old_self() {
        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [{
                "rule": "!oldSelf.hasValue() || self.x >= oldSelf.value().x",
                "optionalOldSelf": true,
                "message": "x may only grow"
            }],
            "properties": {"x": {"type": "integer"}}
        }));
        assert!(check(&s, json!({"spec": {"x": 1}})).is_empty());
        let old = json!({"spec": {"x": 5}});
        assert_eq!(
            msgs(validate(&json!({"spec": {"x": 4}}), Some(&old), &s)),
            [r#"spec: Invalid value: "object": x may only grow"#]
        );
    }

    #[test]
    fn message_expression_field_path_and_reason() {
        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.x < 10", "messageExpression": "'x is %d'.format([self.x])",
                 "fieldPath": ".x", "reason": "FieldValueForbidden"},
                {"rule": "self.x < 5", "messageExpression": "string(self.x / 0)", "message": "fallback"},
                {"rule": "self.x < 3", "reason": "FieldValueRequired", "fieldPath": ".m['k']"},
                {"rule": "self.x < 2", "reason": "FieldValueDuplicate"}
            ],
            "properties": {
                "x": {"type": "integer"},
                "m": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        }));
        assert_eq!(
            check(&s, json!({"spec": {"x": 11}})),
            [
                "spec.x: Forbidden: x is 11",
                r#"spec: Invalid value: "object": fallback"#,
                "spec.m[k]: Required value: failed rule: self.x < 3",
                r#"spec: Duplicate value: "object""#,
            ]
        );
    }

    #[test]
    fn compile_errors() {
        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.minReplicas <="},
                {"rule": "self.nope > 1"},
                {"rule": "foo(self)"},
                {"rule": "self.x + 1"},
                {"rule": "self.x > 0", "reason": "Bogus"},
                {"rule": "self.x > 0", "fieldPath": ".y"},
                {"rule": "  "},
                {"rule": "self.x > 0", "messageExpression": "self.x > 1"},
                {"rule": "self.x > 0", "optionalOldSelf": true}
            ],
            "properties": {"x": {"type": "integer"}}
        }));
        let got = msgs(compile_rules(&s, P, CompileOptions::default()));
        let at = format!("{P}.properties[spec].x-kubernetes-validations");
        // Unsound entries are reported alone: nothing is compiled then.
        assert_eq!(
            got,
            [
                format!(
                    "{at}[4].reason: Unsupported value: \"Bogus\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""
                ),
                format!("{at}[5].fieldPath: Invalid value: \".y\": fieldPath must be a valid path"),
                format!("{at}[6].rule: Required value: rule is not specified"),
            ]
        );
        // With the entries sound, the expressions are compiled.
        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.minReplicas <="},
                {"rule": "self.nope > 1"},
                {"rule": "foo(self)"},
                {"rule": "self.x + 1"},
                {"rule": "self.x > 0", "messageExpression": "self.x > 1"},
                {"rule": "self.x > 0", "optionalOldSelf": true},
                {"rule": "self.x > 0 && self.l.all(i, i.y > 0 && i.z)"}
            ],
            "properties": {"x": {"type": "integer"},
                           "l": {"type": "array", "items": {"type": "object",
                                 "properties": {"y": {"type": "integer"}}}}}
        }));
        let got = msgs(compile_rules(&s, P, CompileOptions::default()));
        assert_eq!(got.len(), 7, "{got:#?}");
        assert!(got[0].starts_with(&format!(
            "{at}[0].rule: Invalid value: {{\"rule\":\"self.minReplicas <=\"}}: compilation failed: ERROR: <input>:1:20: Syntax error:"
        )), "{}", got[0]);
        assert!(got[1].contains("compilation failed: ERROR: <input>:1:5: undefined field 'nope'\n | self.nope > 1\n | ....^"), "{}", got[1]);
        assert!(
            got[2].contains("undeclared reference to 'foo' (in container '')"),
            "{}",
            got[2]
        );
        assert!(
            got[3].ends_with("}: cel expression must evaluate to a bool"),
            "{}",
            got[3]
        );
        assert!(
            got[4].starts_with(&format!("{at}[4].messageExpression: Invalid value: ")),
            "{}",
            got[4]
        );
        assert!(
            got[4].ends_with("}: messageExpression must evaluate to a string"),
            "{}",
            got[4]
        );
        assert_eq!(
            got[5],
            format!(
                "{at}[5].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule"
            )
        );
        assert!(got[6].contains("undefined field 'z'"), "{}", got[6]);
    }

    #[test]
    fn old_self_on_uncorrelatable_items() {
        let s = root(json!({
            "type": "object",
            "properties": {"l": {"type": "array", "maxItems": 10, "items": {
                "type": "string", "maxLength": 10,
                "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}
        }));
        assert_eq!(
            msgs(compile_rules(&s, P, CompileOptions::default())),
            [format!(
                "{P}.properties[spec].properties[l].items.x-kubernetes-validations[0].rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within {P}.properties[spec].properties[l]"
            )]
        );
    }

    #[test]
    fn map_lists_correlate_by_key() {
        let s = root(json!({
            "type": "object",
            "properties": {"l": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "v": {"type": "integer",
                        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "Value is immutable"}]}}}}}
        }));
        assert!(compile_rules(&s, P, CompileOptions::default()).is_empty());
        let old = json!({"spec": {"l": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}});
        let new = json!({"spec": {"l": [{"name": "b", "v": 2}, {"name": "a", "v": 3}, {"name": "c", "v": 9}]}});
        assert_eq!(
            msgs(validate(&new, Some(&old), &s)),
            [r#"spec.l[1].v: Invalid value: "integer": Value is immutable"#]
        );
    }

    #[test]
    fn runtime_errors_do_not_panic() {
        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.x / 0 == 1"},
                {"rule": "self.l[5] == 1"},
                {"rule": "self.s == 1"},
                {"rule": "self.x + 9223372036854775807 > 0"},
                {"rule": "self.s.find('(') == ''"}
            ],
            "properties": {"x": {"type": "integer"}, "s": {"type": "string"},
                           "l": {"type": "array", "items": {"type": "integer"}}}
        }));
        let got = check(&s, json!({"spec": {"x": 1, "s": "a", "l": [1]}}));
        assert_eq!(got.len(), 5, "{got:#?}");
        assert_eq!(
            got[0],
            r#"spec: Invalid value: "object": division by zero evaluating rule: self.x / 0 == 1"#
        );
        assert_eq!(
            got[1],
            r#"spec: Invalid value: "object": index out of bounds: 5 evaluating rule: self.l[5] == 1"#
        );
        // Mixed types: cel-go rejects this when compiling; here it is false.
        assert_eq!(
            got[2],
            r#"spec: Invalid value: "object": failed rule: self.s == 1"#
        );
        assert_eq!(
            got[3],
            r#"spec: Invalid value: "object": integer overflow evaluating rule: self.x + 9223372036854775807 > 0"#
        );
        assert!(
            got[4].contains("evaluating rule: self.s.find('(') == ''"),
            "{}",
            got[3]
        );
    }

    #[test]
    fn property_names_escape_every_reserved_word() {
        for (name, want) in [
            ("namespace", Some("__namespace__")),
            ("var", Some("__var__")),
            ("while", Some("__while__")),
            ("a.b-c/d", Some("a__dot__b__dash__c__slash__d")),
            ("x__y", Some("x__underscores__y")),
            ("1x", None),
        ] {
            assert_eq!(escape(name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn deep_objects_maps_and_escaping() {
        let mut spec = json!({"type": "object", "properties": {"leaf": {"type": "integer",
            "x-kubernetes-validations": [{"rule": "self < 5"}]}}});
        let mut obj = json!({"leaf": 7});
        for _ in 0..40 {
            spec = json!({"type": "object", "properties": {"n": spec}});
            obj = json!({"n": obj});
        }
        let s = root(spec);
        let got = check(&s, json!({"spec": obj}));
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("spec.n.n."), "{}", got[0]);
        assert!(got[0].ends_with(r#".leaf: Invalid value: "integer": failed rule: self < 5"#));

        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.x__dash__y == 1 && self.__namespace__ == 'n'"},
                {"rule": "self.m.all(k, self.m[k] > 0) && 'a' in self.m"},
                {"rule": "self.ios == 'x' || self.ios == 3"}
            ],
            "properties": {
                "x-y": {"type": "integer"},
                "namespace": {"type": "string"},
                "m": {"type": "object", "additionalProperties": {"type": "integer"}},
                "ios": {"x-kubernetes-int-or-string": true}
            }
        }));
        assert!(
            check(
                &s,
                json!({"spec": {"x-y": 1, "namespace": "n", "m": {"a": 1}, "ios": 3}})
            )
            .is_empty()
        );
        assert_eq!(
            check(
                &s,
                json!({"spec": {"x-y": 1, "namespace": "n", "m": {"a": 0}, "ios": "x"}})
            )
            .len(),
            1
        );
    }

    #[test]
    fn resource_root_sees_name_not_other_metadata() {
        let s = json!({
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('ok') && self.kind == 'W'"},
                                         {"rule": "!has(self.metadata.labels)"}],
            "properties": {"spec": {"type": "object"}}
        });
        assert!(compile_rules(&s, P, CompileOptions::default()).is_empty());
        let obj = json!({"kind": "W", "metadata": {"name": "ok-1", "labels": {"a": "b"}}});
        assert!(msgs(validate(&obj, None, &s)).is_empty());
        let obj = json!({"kind": "W", "metadata": {"name": "bad"}});
        assert_eq!(
            msgs(validate(&obj, None, &s)),
            [
                r#"<nil>: Invalid value: "object": failed rule: self.metadata.name.startsWith('ok') && self.kind == 'W'"#
            ]
        );
    }

    #[test]
    fn cost_limits() {
        // Unbounded lists make an O(n³) rule too expensive to admit; with
        // maxItems it is admitted.
        let rule = "self.all(x, self.all(y, self.all(z, x + y + z >= 0)))";
        let unbounded = root(json!({
            "type": "object",
            "properties": {"l": {"type": "array", "items": {"type": "integer"},
                "x-kubernetes-validations": [{"rule": rule}]}}
        }));
        let got = msgs(compile_rules(&unbounded, P, CompileOptions::default()));
        let at = format!("{P}.properties[spec].properties[l].x-kubernetes-validations[0].rule");
        assert_eq!(
            got,
            [
                format!(
                    "{at}: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
                ),
                format!(
                    "{at}: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
                ),
                format!(
                    "{P}: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
                ),
            ]
        );
        // On an update that leaves the version's schema alone, the rule
        // keeps its place; only the schema's total is checked.
        let kept = msgs(compile_rules(
            &unbounded,
            P,
            CompileOptions {
                unchanged_schema: true,
            },
        ));
        assert_eq!(kept.len(), 2, "{kept:#?}");
        let mut bounded = unbounded.clone();
        bounded["properties"]["spec"]["properties"]["l"]["maxItems"] = json!(100);
        assert!(compile_rules(&bounded, P, CompileOptions::default()).is_empty());

        // At run time each evaluation is charged for the sizes it sees:
        // 200 items (over the schema's bound, which validation would
        // refuse first) make one call cost more than the per-call limit.
        let big: Vec<i64> = (0..200).collect();
        let got = msgs(validate(&json!({"spec": {"l": big}}), None, &bounded));
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0],
            format!(
                "spec.l: Invalid value: \"array\": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: {rule}"
            )
        );

        // Many cheap evaluations run out of the request's budget.
        let s = root(json!({
            "type": "object",
            "properties": {"l": {"type": "array", "maxItems": 500, "items": {"type": "array",
                "maxItems": 100, "items": {"type": "integer"},
                "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x == y))"}]}}}
        }));
        let inner: Vec<i64> = (0..100).collect();
        let outer: Vec<Value> = (0..400).map(|_| json!(inner)).collect();
        let got = msgs(validate(&json!({"spec": {"l": outer}}), None, &s));
        assert!(
            got.last().is_some_and(|m| m.ends_with(
                "Invalid value: \"array\": validation failed due to running out of cost budget, no further validation rules will be run"
            )),
            "{got:?}"
        );
    }

    #[test]
    fn libraries() {
        let s = root(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.l.isSorted() && self.l.sum() == 6 && self.l.indexOf(2) == 1"},
                {"rule": "quantity(self.q).isLessThan(quantity('1Gi'))"},
                {"rule": "url(self.u).getHost() == 'example.com'"},
                {"rule": "self.s.findAll('[0-9]+') == ['1', '22']"},
                {"rule": "sets.contains(self.l, [1, 3])"},
                {"rule": "self.t < timestamp('2030-01-01T00:00:00Z')"},
                {"rule": "ip.isCanonical('127.0.0.1') && !ip.isCanonical('2001:DB8::1')"}
            ],
            "properties": {
                "l": {"type": "array", "items": {"type": "integer"}},
                "q": {"type": "string"}, "u": {"type": "string"}, "s": {"type": "string"},
                "t": {"type": "string", "format": "date-time"}
            }
        }));
        assert!(
            check(
                &s,
                json!({"spec": {"l": [1, 2, 3], "q": "512Mi", "u": "https://example.com/x",
            "s": "a1b22", "t": "2024-05-01T00:00:00Z"}})
            )
            .is_empty()
        );
    }
}
