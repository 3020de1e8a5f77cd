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
//! `cel` keeps no cost either. Each evaluation is charged an upper bound,
//! the expression's size times the size of the value it sees raised to its
//! comprehension nesting, against upstream's per-call and per-request
//! limits; over them, the rule is refused before it runs.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

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
const NAMESPACES: [&str; 8] = [
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
    const RESERVED: [&str; 18] = [
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
    ];
    if RESERVED.contains(&name) {
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
    size: u64,
    depth: u32,
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
    let program = catch_unwind(|| Program::compile(src))
        .map_err(|_| "ERROR: <input>:1:1: expression could not be parsed".to_string())?
        .map_err(|e| e.to_string())?;
    let expr = program.expression();
    let mut uses_old_self = false;
    let mut size = 0u64;
    visit(expr, &mut |e| {
        size += 1;
        if matches!(&e.expr, Expr::Ident(n) if n == "oldSelf") {
            uses_old_self = true;
        }
    });
    let depth = comprehension_depth(expr);
    let parsed = Arc::new(Parsed {
        program,
        uses_old_self,
        size,
        depth,
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

fn comprehension_depth(e: &IdedExpr) -> u32 {
    let inner = children(e)
        .into_iter()
        .map(comprehension_depth)
        .max()
        .unwrap_or(0);
    match e.expr {
        Expr::Comprehension(_) => inner + 1,
        _ => inner,
    }
}

// ---------------------------------------------------------------------------
// Compilation (CRD create and update)

/// Checks every `x-kubernetes-validations` entry of `schema` (a version's
/// `openAPIV3Schema`, at `path`) as upstream does when a CRD is written:
/// the entry's own fields, then the rule and `messageExpression` compile.
pub fn compile_rules(schema: &Value, path: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    compile_node(schema, path, true, None, &mut errs, 0);
    errs
}

fn compile_node(
    s: &Value,
    path: &str,
    root: bool,
    uncorrelatable: Option<&str>,
    errs: &mut ErrorList,
    depth: usize,
) {
    if depth > MAX_DEPTH || !s.is_object() {
        return;
    }
    compile_here(s, path, root, uncorrelatable, errs);
    if let Some(props) = properties(s) {
        for (k, p) in props {
            let sub = format!("{path}.properties[{k}]");
            compile_node(p, &sub, embedded(p), uncorrelatable, errs, depth + 1);
        }
    }
    if let Some(ap) = additional(s) {
        let sub = format!("{path}.additionalProperties");
        compile_node(ap, &sub, embedded(ap), uncorrelatable, errs, depth + 1);
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        // Old items can be matched to new ones only by the keys of a map list.
        let unc = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => uncorrelatable,
            _ => uncorrelatable.or(Some(path)),
        };
        let sub = format!("{path}.items");
        compile_node(items, &sub, embedded(items), unc, errs, depth + 1);
    }
}

fn compile_here(
    s: &Value,
    path: &str,
    root: bool,
    uncorrelatable: Option<&str>,
    errs: &mut ErrorList,
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
        errs.extend(field_errs);
        return;
    }
    if unknown_type(s) {
        errs.push(FieldError {
            kind: ErrorKind::Internal,
            field: base.clone(),
            value: None,
            detail: "rule declared on schema that does not support validation rules type: '' \
                     x-kubernetes-preserve-unknown-fields: 'true'"
                .into(),
        });
        return;
    }
    for (i, r) in rs.iter().enumerate() {
        let at = |f: &str| format!("{base}[{i}].{f}");
        let optional = r.optional_old_self == Some(true);
        let checker = Checker {
            node: s,
            root,
            optional_old_self: optional,
        };
        match parse(r.rule).and_then(|p| checker.check(r.rule, &p.program, Want::Bool).map(|_| p)) {
            Err(e) => errs.push(FieldError::invalid(
                &at("rule"),
                r.raw.clone(),
                format!("compilation failed: {e}"),
            )),
            Ok(p) if p.uses_old_self => {
                if let Some(u) = uncorrelatable {
                    errs.push(FieldError::invalid(
                        &at("rule"),
                        r.rule,
                        format!(
                            "oldSelf cannot be used on the uncorrelatable portion of the \
                             schema within {u}"
                        ),
                    ));
                }
            }
            Ok(_) => {
                if let Some(b) = r.optional_old_self {
                    errs.push(FieldError::invalid(
                        &at("optionalOldSelf"),
                        b,
                        "may not be set if oldSelf is not used in rule",
                    ));
                }
            }
        }
        if !r.message_expression.trim().is_empty() {
            let checker = Checker {
                node: s,
                root,
                optional_old_self: false,
            };
            let src = r.message_expression;
            if let Err(e) = parse(src).and_then(|p| checker.check(src, &p.program, Want::String)) {
                errs.push(FieldError::invalid(
                    &at("messageExpression"),
                    r.raw.clone(),
                    format!("messageExpression compilation failed: {e}"),
                ));
            }
        }
    }
}

fn has_newlines(s: &str) -> bool {
    s.contains(['\n', '\r'])
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
    fn check(&self, src: &str, program: &Program, want: Want) -> Result<(), String> {
        let expr = program.expression();
        let mut scope = Vec::new();
        self.expr(src, expr, &mut scope)?;
        let wrong = match want {
            Want::Bool => self.not_bool(expr),
            Want::String => not_string(expr),
        };
        if wrong {
            return Err(match want {
                Want::Bool => "cel expression must evaluate to a bool".into(),
                Want::String => "must evaluate to a string".into(),
            });
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
    let mut out = String::new();
    let mut s = schema;
    let mut rest = fp.trim();
    if rest.is_empty() {
        return Err("empty".into());
    }
    while !rest.is_empty() {
        let (name, tail) = if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").ok_or("unterminated")?;
            (
                r[..end].replace("\\'", "'").replace("\\\\", "\\"),
                &r[end + 2..],
            )
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err("empty segment".into());
            }
            (r[..end].to_string(), &r[end..])
        } else {
            return Err(format!("expected [ or . but got: {rest}"));
        };
        if let Some(p) = properties(s).and_then(|p| p.get(&name)) {
            out = child(&out, &name);
            s = p;
        } else if let Some(ap) = additional(s) {
            out = key(&out, &name);
            s = ap;
        } else {
            return Err("does not refer to a valid field".into());
        }
        rest = tail;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Evaluation (custom resource create and update)

/// Evaluates every rule of `schema` on `obj` (and on `old`, on update) as
/// upstream's CEL validator does, collecting all failures.
pub fn validate(obj: &Value, old: Option<&Value>, schema: &Value) -> ErrorList {
    let ctx = Context::default().with_all();
    let mut v = Validator {
        ctx: &ctx,
        errs: ErrorList::new(),
        budget: PER_REQUEST_LIMIT,
        exhausted: false,
    };
    v.walk(obj, old, schema, "", true, 0);
    v.errs
}

struct Validator<'c> {
    ctx: &'c Context<'c>,
    errs: ErrorList,
    budget: u64,
    /// Set once the budget ran out: no further rule runs.
    exhausted: bool,
}

/// The nil path of the resource root prints as upstream's does.
fn shown(path: &str) -> &str {
    if path.is_empty() { "<nil>" } else { path }
}

impl Validator<'_> {
    fn walk(
        &mut self,
        v: &Value,
        old: Option<&Value>,
        s: &Value,
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
            self.node(v, old, s, path, root, &rs);
        }
        match v {
            Value::Object(m) => {
                let props = properties(s);
                let ap = additional(s);
                for (k, val) in m {
                    let o = old.and_then(|o| o.get(k));
                    if let Some(p) = props.and_then(|p| p.get(k)) {
                        self.walk(val, o, p, &child(path, k), embedded(p), depth + 1);
                    } else if let Some(ap) = ap {
                        self.walk(val, o, ap, &key(path, k), embedded(ap), depth + 1);
                    }
                }
            }
            Value::Array(list) => {
                let Some(items) = s.get("items").filter(|i| i.is_object()) else {
                    return;
                };
                let map_keys: Option<Vec<&str>> =
                    match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                        Some("map") => Some(
                            s.get("x-kubernetes-list-map-keys")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .filter_map(Value::as_str)
                                .collect(),
                        ),
                        _ => None,
                    };
                let old_list = old.and_then(Value::as_array);
                for (i, item) in list.iter().enumerate() {
                    let o = match (&map_keys, old_list) {
                        (Some(keys), Some(ol)) => ol
                            .iter()
                            .find(|x| keys.iter().all(|k| x.get(k) == item.get(k))),
                        _ => None,
                    };
                    self.walk(item, o, items, &key(path, i), embedded(items), depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Charges `cost`; false (with the error recorded) when over a limit.
    fn charge(&mut self, cost: u64, path: &str, ty: &str, rule: &Rule<'_>) -> bool {
        if cost > PER_CALL_LIMIT {
            self.errs.push(FieldError::invalid(
                shown(path),
                ty,
                format!(
                    "'operation cancelled: actual cost limit exceeded': no further validation \
                     rules will be run due to call cost exceeds limit for rule: {}",
                    rule.error_string()
                ),
            ));
            self.exhausted = true;
            return false;
        }
        if cost > self.budget {
            self.errs.push(FieldError::invalid(
                shown(path),
                ty,
                "validation failed due to running out of cost budget, no further validation \
                 rules will be run",
            ));
            self.exhausted = true;
            return false;
        }
        self.budget -= cost;
        true
    }

    fn node(
        &mut self,
        v: &Value,
        old: Option<&Value>,
        s: &Value,
        path: &str,
        root: bool,
        rs: &[Rule<'_>],
    ) {
        let ty = type_of(s);
        let Some(self_val) = to_cel(v, s, root) else {
            return;
        };
        let old_val = old.and_then(|o| to_cel(o, s, root));
        let size = value_size(v) + old.map_or(0, value_size);
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
            if !self.charge(cost(&parsed, size), path, ty, r) {
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
            let at = match r.field_path.map(|fp| field_path(fp, s)) {
                Some(Ok(rel)) if !rel.is_empty() => child(path, &rel),
                _ => path.to_string(),
            };
            let detail = match r.message_expression.trim() {
                "" => r.default_message(),
                src => match self.message(src, &self_val, old_val.as_ref(), size, &at, ty) {
                    Some(m) => m,
                    None if self.exhausted => return,
                    None => r.default_message(),
                },
            };
            let at = shown(&at);
            self.errs.push(match r.reason {
                Some("FieldValueForbidden") => FieldError::forbidden(at, detail),
                Some("FieldValueRequired") => FieldError::required(at, detail),
                Some("FieldValueDuplicate") => FieldError::duplicate(at, ty),
                _ => FieldError::invalid(at, ty, detail),
            });
        }
    }

    /// Evaluates a `messageExpression`; `None` falls back to the message
    /// (upstream logs why), unless the budget ran out.
    fn message(
        &mut self,
        src: &str,
        self_val: &Cel,
        old_val: Option<&Cel>,
        size: u64,
        at: &str,
        ty: &str,
    ) -> Option<String> {
        let parsed = parse(src).ok()?;
        let c = cost(&parsed, size);
        if c > self.budget || c > PER_CALL_LIMIT {
            self.errs.push(FieldError::invalid(
                shown(at),
                ty,
                "messageExpression evaluation failed due to running out of cost budget, no \
                 further validation rules will be run",
            ));
            self.exhausted = true;
            return None;
        }
        self.budget -= c;
        let mut ctx = self.ctx.new_inner_scope();
        ctx.add_variable_from_value("self", self_val.clone());
        if let Some(o) = old_val {
            ctx.add_variable_from_value("oldSelf", o.clone());
        }
        let out = catch_unwind(AssertUnwindSafe(|| parsed.program.execute(&ctx)));
        let Ok(Ok(Cel::String(m))) = out else {
            return None;
        };
        let m = m.trim();
        (!m.is_empty() && m.len() <= MAX_MESSAGE_EXPRESSION && !m.contains('\n'))
            .then(|| m.to_string())
    }
}

fn optional_of(v: Option<Cel>) -> Cel {
    Cel::Opaque(Arc::new(match v {
        Some(v) => OptionalValue::of(v),
        None => OptionalValue::none(),
    }))
}

/// The bound charged for one evaluation (see the module doc).
fn cost(p: &Parsed, size: u64) -> u64 {
    let mut c = p.size.max(1);
    for _ in 0..p.depth {
        c = c.saturating_mul(size.max(1));
    }
    c
}

/// Nodes of a JSON value, plus a unit per 64 bytes of its strings (string
/// functions walk them).
fn value_size(v: &Value) -> u64 {
    match v {
        Value::Array(a) => 1 + a.iter().map(value_size).sum::<u64>(),
        Value::Object(m) => 1 + m.values().map(value_size).sum::<u64>(),
        Value::String(s) => 1 + (s.len() / 64) as u64,
        _ => 1,
    }
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
            compile_rules(schema, P).is_empty(),
            "{}",
            compile_rules(schema, P)
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
                {"rule": "self.x < 10", "messageExpression": "'x is ' + string(self.x)",
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
        let got = msgs(compile_rules(&s, P));
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
        let got = msgs(compile_rules(&s, P));
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
            got[3].ends_with("compilation failed: cel expression must evaluate to a bool"),
            "{}",
            got[3]
        );
        assert!(
            got[4].starts_with(&format!("{at}[4].messageExpression: Invalid value: ")),
            "{}",
            got[4]
        );
        assert!(
            got[4].ends_with("messageExpression compilation failed: must evaluate to a string"),
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
            "properties": {"l": {"type": "array", "items": {
                "type": "string",
                "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}
        }));
        assert_eq!(
            msgs(compile_rules(&s, P)),
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
        assert!(compile_rules(&s, P).is_empty());
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
        assert!(compile_rules(&s, P).is_empty());
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
        let s = root(json!({
            "type": "object",
            "properties": {"l": {"type": "array", "items": {"type": "integer"},
                "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, self.all(z, x + y + z >= 0)))"}]}}
        }));
        let big: Vec<i64> = (0..200).collect();
        let got = check(&s, json!({"spec": {"l": big}}));
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("call cost exceeds limit"), "{}", got[0]);

        // Many cheap evaluations run out of the request's budget.
        let s = root(json!({
            "type": "object",
            "properties": {"l": {"type": "array", "items": {"type": "array", "items": {"type": "integer"},
                "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x == y))"}]}}}
        }));
        let inner: Vec<i64> = (0..100).collect();
        let outer: Vec<Value> = (0..200).map(|_| json!(inner)).collect();
        let got = check(&s, json!({"spec": {"l": outer}}));
        assert!(
            got.last()
                .is_some_and(|m| m.contains("running out of cost budget")),
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
                {"rule": "self.t < timestamp('2030-01-01T00:00:00Z')"}
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
