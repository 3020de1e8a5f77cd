//! Cost estimation of a parsed CEL expression, as cel-go's checker does it
//! (`checker/cost.go`) with the Kubernetes library costs
//! (`k8s.io/apiserver/pkg/cel/library/cost.go`) and `has()` free, as the
//! Kubernetes environments configure it.
//!
//! Every node is charged: identifiers and field selections 1, constants 0,
//! list/map/object literals 10/30/40, calls 1 unless their cost grows with
//! their inputs (string traversals at 0.1 per character, regexes by
//! pattern length, list membership by list size …), comprehensions their
//! loop body times the size of the range. Sizes come from the schema's
//! bounds ([`Decl`]), from literals, or from what a call is known to return.
//! `cel` has no type checker, so the types that pick an overload (is `+`
//! string concatenation or addition?) are inferred here from the schema,
//! literals and function results; what stays unknown is `dyn`, which
//! charges every overload it could be, as cel-go does.

use std::collections::HashMap;

use kube_cel::cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue,
};

use super::NAMESPACES;
use super::decl::{Decl, Kind, MAP_KEY};

/// Cost of reading one character of a string once.
const STRING_TRAVERSAL: f64 = 0.1;
/// Cost per pattern character of matching a regex against one character.
const REGEX_LENGTH: f64 = 0.25;
const LIST_CREATE: u64 = 10;
const MAP_CREATE: u64 = 30;
const STRUCT_CREATE: u64 = 40;
/// Longest format name and longest regex behind a named format.
const MAX_FORMAT_SIZE: u64 = 64;
const MAX_NAME_FORMAT_REGEX: f64 = 128.0;
/// The names the macros give their accumulators.
const ACCUMULATORS: [&str; 2] = ["@result", "__result__"];

/// An inclusive range, of a size or of a cost; arithmetic saturates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Est {
    pub min: u64,
    pub max: u64,
}

impl Est {
    pub const UNKNOWN: Est = Est {
        min: 0,
        max: u64::MAX,
    };

    pub const fn fixed(v: u64) -> Est {
        Est { min: v, max: v }
    }

    fn add(self, o: Est) -> Est {
        Est {
            min: self.min.saturating_add(o.min),
            max: self.max.saturating_add(o.max),
        }
    }

    fn mul(self, o: Est) -> Est {
        Est {
            min: self.min.saturating_mul(o.min),
            max: self.max.saturating_mul(o.max),
        }
    }

    fn factor(self, f: f64) -> Est {
        Est {
            min: by_factor(self.min, f),
            max: by_factor(self.max, f),
        }
    }

    fn union(self, o: Est) -> Est {
        Est {
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        }
    }
}

/// `ceil(x * f)`, saturating.
fn by_factor(x: u64, f: f64) -> u64 {
    const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
    let xf = x as f64;
    if xf > 0.0 && f > 0.0 && xf > u64::MAX as f64 / f {
        return u64::MAX;
    }
    let c = (xf * f).ceil();
    if c >= TWO_TO_64 { u64::MAX } else { c as u64 }
}

/// A CEL type, as far as this estimator needs one.
#[derive(Clone, Debug)]
enum Ty<'a> {
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Null,
    Duration,
    Timestamp,
    List(Box<Ty<'a>>),
    Map(Box<Ty<'a>>, Box<Ty<'a>>),
    /// An object of the schema.
    Object(&'a Decl),
    /// Kubernetes library types that are structs upstream.
    Struct(&'static str),
    /// Kubernetes library types that are opaque upstream (`ip`, `cidr`).
    Opaque(&'static str),
    Optional(Box<Ty<'a>>),
    Type,
    Dyn,
}

impl<'a> Ty<'a> {
    fn of(d: &'a Decl) -> Ty<'a> {
        match &d.kind {
            Kind::Bool => Ty::Bool,
            Kind::Int => Ty::Int,
            Kind::Double => Ty::Double,
            Kind::String => Ty::String,
            Kind::Bytes => Ty::Bytes,
            Kind::Duration => Ty::Duration,
            Kind::Timestamp => Ty::Timestamp,
            Kind::Dyn => Ty::Dyn,
            Kind::List(i) => Ty::List(Box::new(Ty::of(i))),
            Kind::Map(v) => Ty::Map(Box::new(Ty::String), Box::new(Ty::of(v))),
            Kind::Object(_) => Ty::Object(d),
        }
    }

    fn is_dyn(&self) -> bool {
        matches!(self, Ty::Dyn)
    }

    fn is_string(&self) -> bool {
        matches!(self, Ty::String)
    }

    /// Whether a value of this type may be a string (or bytes, a list …).
    fn may_be_string(&self) -> bool {
        matches!(self, Ty::String | Ty::Dyn)
    }
    fn may_be_bytes(&self) -> bool {
        matches!(self, Ty::Bytes | Ty::Dyn)
    }
    fn may_be_list(&self) -> bool {
        matches!(self, Ty::List(_) | Ty::Dyn)
    }
    fn may_be_map(&self) -> bool {
        matches!(self, Ty::Map(..) | Ty::Dyn)
    }

    /// Fixed-size types: their size is 1.
    fn scalar(&self) -> bool {
        match self {
            Ty::Bool | Ty::Double | Ty::Duration | Ty::Int | Ty::Timestamp | Ty::Uint => true,
            Ty::Optional(t) => t.scalar(),
            _ => false,
        }
    }

    fn elem(&self) -> Ty<'a> {
        match self {
            Ty::List(t) => (**t).clone(),
            Ty::Map(_, v) => (**v).clone(),
            _ => Ty::Dyn,
        }
    }

    fn same(&self, o: &Ty<'_>) -> bool {
        match (self, o) {
            (Ty::Struct(a), Ty::Struct(b)) | (Ty::Opaque(a), Ty::Opaque(b)) => a == b,
            _ => false,
        }
    }
}

/// A step of the path from a variable to a value, as cel-go tracks it.
#[derive(Clone, Debug)]
enum Seg {
    Var(String),
    Field(String),
    Items,
    Keys,
    Values,
    Indices,
}

/// The sizes of a container literal's entries.
#[derive(Clone, Copy, Debug)]
struct Entry {
    list: bool,
    key: Est,
    val: Est,
}

impl Entry {
    fn union(a: Option<Entry>, b: Option<Entry>) -> Option<Entry> {
        let (a, b) = (a?, b?);
        Some(Entry {
            list: a.list,
            key: a.key.union(b.key),
            val: a.val.union(b.val),
        })
    }
}

#[derive(Clone)]
struct Local<'a> {
    name: String,
    path: Vec<Seg>,
    size: Option<Est>,
    entry: Option<Entry>,
    ty: Ty<'a>,
}

/// What a call's cost function sees of an argument.
struct Node<'a> {
    path: Vec<Seg>,
    ty: Ty<'a>,
    size: Option<Est>,
    literal_int: Option<i64>,
}

/// Which implementation of a function a call may resolve to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ov {
    Other,
    IndexList,
    IndexMap,
    InList,
    AddString,
    AddBytes,
    AddList,
    Compare,
    Equals,
    Matches,
    ContainsString,
    StartsOrEndsWith,
    And,
    Or,
    Conditional,
    StringToBytes,
    BytesToString,
    Quote,
    FormatString,
    Sets,
    /// `cidr(...).ip()` and the `containsIP`/`containsCIDR` string forms.
    CidrIp,
    StringArg,
}

struct CallEst {
    cost: Est,
    size: Option<Est>,
}

/// The estimated cost of `expr` with `self` (and `oldSelf`) declared by
/// `root`; `optional_old_self` makes `oldSelf` an optional.
pub fn estimate(expr: &IdedExpr, root: &Decl, optional_old_self: bool) -> Est {
    let mut c = Coster {
        root,
        optional_old_self,
        paths: HashMap::new(),
        sizes: HashMap::new(),
        entries: HashMap::new(),
        types: HashMap::new(),
        locals: Vec::new(),
    };
    c.cost(expr)
}

struct Coster<'a> {
    root: &'a Decl,
    optional_old_self: bool,
    paths: HashMap<u64, Vec<Seg>>,
    sizes: HashMap<u64, Est>,
    entries: HashMap<u64, Entry>,
    types: HashMap<u64, Ty<'a>>,
    locals: Vec<Local<'a>>,
}

fn literal_ty(l: &LiteralValue) -> Ty<'static> {
    match l {
        LiteralValue::Boolean(_) => Ty::Bool,
        LiteralValue::Bytes(_) => Ty::Bytes,
        LiteralValue::Double(_) => Ty::Double,
        LiteralValue::Int(_) => Ty::Int,
        LiteralValue::Null => Ty::Null,
        LiteralValue::String(_) => Ty::String,
        LiteralValue::UInt(_) => Ty::Uint,
    }
}

/// Sizes CEL knows from the expression itself: literals.
fn literal_size(e: &IdedExpr) -> Option<Est> {
    let v = match &e.expr {
        Expr::Literal(LiteralValue::String(s)) => s.inner().chars().count() as u64,
        Expr::Literal(LiteralValue::Bytes(b)) => b.inner().len() as u64,
        Expr::Literal(_) => 1,
        Expr::List(l) => l.elements.len() as u64,
        Expr::Map(m) => m.entries.len() as u64,
        _ => return None,
    };
    Some(Est::fixed(v))
}

impl<'a> Coster<'a> {
    fn local(&self, name: &str) -> Option<&Local<'a>> {
        self.locals.iter().rev().find(|l| l.name == name)
    }

    fn ty(&self, e: &IdedExpr) -> Ty<'a> {
        self.types.get(&e.id).cloned().unwrap_or(Ty::Dyn)
    }

    fn path(&self, e: &IdedExpr) -> Vec<Seg> {
        if let Expr::Ident(n) = &e.expr
            && let Some(l) = self.local(n)
        {
            return l.path.clone();
        }
        self.paths.get(&e.id).cloned().unwrap_or_default()
    }

    /// The schema node a path leads to (the first step, the variable, is
    /// skipped: every path is read from `self`'s declaration, as upstream).
    fn resolve(&self, path: &[Seg]) -> Option<&'a Decl> {
        if path.is_empty() {
            return None;
        }
        let mut d = self.root;
        for seg in &path[1..] {
            d = match seg {
                Seg::Items | Seg::Values => d.elem()?,
                Seg::Keys => match d.kind {
                    Kind::Map(_) => &MAP_KEY,
                    _ => return None,
                },
                Seg::Field(f) => d.field(f)?,
                Seg::Var(_) | Seg::Indices => return None,
            };
        }
        Some(d)
    }

    fn compute_size(&mut self, e: &IdedExpr) -> Option<Est> {
        if let Some(s) = self.sizes.get(&e.id) {
            return Some(*s);
        }
        if let Some(s) = literal_size(e) {
            return Some(s);
        }
        if let Some(d) = self.resolve(&self.path(e)) {
            let s = Est {
                min: 0,
                max: d.max_elements,
            };
            self.sizes.insert(e.id, s);
            return Some(s);
        }
        if self.ty(e).scalar() {
            return Some(Est::fixed(1));
        }
        if let Expr::Ident(n) = &e.expr {
            return self.local(n).and_then(|l| l.size);
        }
        None
    }

    fn size_or_unknown(&mut self, e: &IdedExpr) -> Est {
        self.compute_size(e).unwrap_or(Est::UNKNOWN)
    }

    fn entry(&self, e: &IdedExpr) -> Option<Entry> {
        if let Some(en) = self.entries.get(&e.id) {
            return Some(*en);
        }
        if let Expr::Ident(n) = &e.expr {
            return self.local(n).and_then(|l| l.entry);
        }
        None
    }

    fn node(&mut self, e: &IdedExpr) -> Node<'a> {
        let mut path = self.path(e);
        if matches!(path.first(), Some(Seg::Var(v)) if ACCUMULATORS.contains(&v.as_str())) {
            path.clear();
        }
        Node {
            path,
            ty: self.ty(e),
            size: self.compute_size(e),
            literal_int: match &e.expr {
                Expr::Literal(LiteralValue::Int(i)) => Some(*i.inner()),
                _ => None,
            },
        }
    }

    /// The k8s estimator's view of a size: computed, else from the schema.
    fn k8s_size(&self, n: &Node<'_>) -> Est {
        n.size
            .or_else(|| {
                self.resolve(&n.path).map(|d| Est {
                    min: 0,
                    max: d.max_elements,
                })
            })
            .unwrap_or(Est::UNKNOWN)
    }

    /// The size of a list's items, through the schema when the list has a
    /// path; `None` when the target is not a list (then it is a string).
    fn list_element_size(&self, n: &Node<'a>) -> Option<(Ty<'a>, Est)> {
        let elem = match &n.ty {
            Ty::List(t) => (**t).clone(),
            Ty::Map(k, _) => (**k).clone(),
            _ => return None,
        };
        let mut path = n.path.clone();
        let size = if path.is_empty() {
            Est::UNKNOWN
        } else {
            path.push(Seg::Items);
            self.resolve(&path).map_or(Est::UNKNOWN, |d| Est {
                min: 0,
                max: d.max_elements,
            })
        };
        Some((elem, size))
    }

    fn cost(&mut self, e: &IdedExpr) -> Est {
        match &e.expr {
            Expr::Literal(l) => {
                self.types.insert(e.id, literal_ty(l));
                Est::fixed(0)
            }
            Expr::Ident(n) => {
                let (path, ty) = match self.local(n) {
                    Some(l) => (l.path.clone(), l.ty.clone()),
                    None => {
                        let ty = match n.as_str() {
                            "self" => Ty::of(self.root),
                            "oldSelf" if self.optional_old_self => {
                                Ty::Optional(Box::new(Ty::of(self.root)))
                            }
                            "oldSelf" => Ty::of(self.root),
                            _ => Ty::Dyn,
                        };
                        (vec![Seg::Var(n.clone())], ty)
                    }
                };
                self.paths.insert(e.id, path);
                self.types.insert(e.id, ty);
                Est::fixed(1)
            }
            Expr::Select(s) => {
                let mut sum = self.cost(&s.operand);
                if s.test {
                    // has() is free in Kubernetes' environments.
                    self.types.insert(e.id, Ty::Bool);
                    return sum;
                }
                let operand = self.ty(&s.operand);
                if matches!(operand, Ty::Map(..) | Ty::Object(_) | Ty::Struct(_)) {
                    sum = sum.add(Est::fixed(1));
                }
                let ty = match &operand {
                    Ty::Object(d) => d.field(&s.field).map_or(Ty::Dyn, Ty::of),
                    Ty::Map(_, v) => (**v).clone(),
                    _ => Ty::Dyn,
                };
                let mut path = self.path(&s.operand);
                path.push(Seg::Field(s.field.clone()));
                self.paths.insert(e.id, path);
                self.types.insert(e.id, ty);
                sum
            }
            Expr::Call(c) => self.call(e, c),
            Expr::List(l) => {
                let mut sum = Est::fixed(0);
                let mut item = Est {
                    min: if l.elements.is_empty() { 0 } else { u64::MAX },
                    max: 0,
                };
                for el in &l.elements {
                    sum = sum.add(self.cost(el));
                    item = item.union(self.size_or_unknown(el));
                }
                let elem_ty = l.elements.first().map_or(Ty::Dyn, |el| self.ty(el));
                self.entries.insert(
                    e.id,
                    Entry {
                        list: true,
                        key: Est::fixed(1),
                        val: item,
                    },
                );
                self.types.insert(e.id, Ty::List(Box::new(elem_ty)));
                sum.add(Est::fixed(LIST_CREATE))
            }
            Expr::Map(m) => {
                let mut sum = Est::fixed(0);
                let empty = m.entries.is_empty();
                let start = Est {
                    min: if empty { 0 } else { u64::MAX },
                    max: 0,
                };
                let (mut key, mut val) = (start, start);
                let mut tys = None;
                for en in &m.entries {
                    if let EntryExpr::MapEntry(me) = &en.expr {
                        sum = sum.add(self.cost(&me.key)).add(self.cost(&me.value));
                        key = key.union(self.size_or_unknown(&me.key));
                        val = val.union(self.size_or_unknown(&me.value));
                        tys.get_or_insert((self.ty(&me.key), self.ty(&me.value)));
                    }
                }
                self.entries.insert(
                    e.id,
                    Entry {
                        list: false,
                        key,
                        val,
                    },
                );
                let (k, v) = tys.unwrap_or((Ty::Dyn, Ty::Dyn));
                self.types.insert(e.id, Ty::Map(Box::new(k), Box::new(v)));
                sum.add(Est::fixed(MAP_CREATE))
            }
            Expr::Struct(s) => {
                let mut sum = Est::fixed(0);
                for en in &s.entries {
                    if let EntryExpr::StructField(f) = &en.expr {
                        sum = sum.add(self.cost(&f.value));
                    }
                }
                sum.add(Est::fixed(STRUCT_CREATE))
            }
            Expr::Comprehension(c) => self.comprehension(e, c),
            Expr::Unspecified => Est::fixed(0),
        }
    }

    fn push_iter(&mut self, name: &str, range: &IdedExpr, part: Part) {
        let entry = self.entry(range);
        let range_ty = self.ty(range);
        let list = match entry {
            Some(en) => Some(en.list),
            None => match range_ty {
                Ty::List(_) => Some(true),
                Ty::Map(..) => Some(false),
                _ => None,
            },
        };
        let is_list = list == Some(true);
        let (size, seg, ty) = match part {
            Part::Single if is_list => (entry.map(|e| e.val), Seg::Items, range_ty.elem()),
            Part::Single | Part::Key if !is_list => {
                let key_ty = match &range_ty {
                    Ty::Map(k, _) => (**k).clone(),
                    _ => Ty::Dyn,
                };
                (entry.map(|e| e.key), Seg::Keys, key_ty)
            }
            Part::Key => (entry.map(|e| e.key), Seg::Indices, Ty::Int),
            Part::Value if is_list => (entry.map(|e| e.val), Seg::Items, range_ty.elem()),
            _ => (entry.map(|e| e.val), Seg::Values, range_ty.elem()),
        };
        let mut path = self.path(range);
        path.push(seg);
        self.locals.push(Local {
            name: name.to_string(),
            path,
            size,
            entry: None,
            ty,
        });
    }

    fn comprehension(&mut self, e: &IdedExpr, c: &ComprehensionExpr) -> Est {
        let mut sum = self.cost(&c.iter_range).add(self.cost(&c.accu_init));
        let accu = Local {
            name: c.accu_var.clone(),
            path: self.path(&c.accu_init),
            size: self.compute_size(&c.accu_init),
            entry: self.entry(&c.accu_init),
            ty: self.ty(&c.accu_init),
        };
        self.locals.push(accu);
        let depth = self.locals.len();
        match &c.iter_var2 {
            Some(v2) => {
                self.push_iter(&c.iter_var, &c.iter_range, Part::Key);
                self.push_iter(v2, &c.iter_range, Part::Value);
            }
            None => self.push_iter(&c.iter_var, &c.iter_range, Part::Single),
        }
        let loop_cost = self.cost(&c.loop_cond);
        let step_cost = self.cost(&c.loop_step);
        self.locals.truncate(depth);
        sum = sum.add(self.cost(&c.result));
        self.locals.truncate(depth - 1);

        let range = self.size_or_unknown(&c.iter_range);
        sum = sum.add(range.mul(step_cost.add(loop_cost)));
        match &c.accu_init.expr {
            Expr::Literal(_) => {
                if let Some(s) = self.compute_size(&c.accu_init) {
                    self.sizes.insert(e.id, s);
                }
            }
            Expr::List(_) | Expr::Map(_) => {
                self.sizes.insert(e.id, range);
                if let Some(en) = self.entry(&c.loop_step) {
                    self.entries.insert(e.id, en);
                }
            }
            _ => {}
        }
        let result_is_accu = matches!(&c.result.expr, Expr::Ident(n) if *n == c.accu_var);
        let ty = if result_is_accu {
            match self.ty(&c.loop_step) {
                Ty::Dyn => self.ty(&c.accu_init),
                t => t,
            }
        } else {
            self.ty(&c.result)
        };
        self.types.insert(e.id, ty);
        sum
    }

    /// A call's function name, and its target unless the target is a
    /// library namespace (`sets.contains(…)` is a global function).
    fn qualified<'c>(&self, c: &'c CallExpr) -> (String, Option<&'c IdedExpr>) {
        match c.target.as_deref() {
            Some(t) => match &t.expr {
                Expr::Ident(ns)
                    if NAMESPACES.contains(&ns.as_str()) && self.local(ns).is_none() =>
                {
                    (format!("{ns}.{}", c.func_name), None)
                }
                _ => (c.func_name.clone(), Some(t)),
            },
            None => (c.func_name.clone(), None),
        }
    }

    fn call(&mut self, e: &IdedExpr, c: &CallExpr) -> Est {
        let (name, target) = self.qualified(c);
        if name == "dyn" && c.args.len() == 1 {
            let a = self.cost(&c.args[0]);
            if let Some(s) = self.compute_size(&c.args[0]) {
                self.sizes.insert(e.id, s);
            }
            if let Some(en) = self.entry(&c.args[0]) {
                self.entries.insert(e.id, en);
            }
            self.types.insert(e.id, Ty::Dyn);
            return Est::fixed(1).add(a);
        }
        let mut arg_costs = Vec::with_capacity(c.args.len());
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args {
            arg_costs.push(self.cost(a));
            args.push(self.node(a));
        }
        let mut sum = Est::fixed(0);
        let target_node = target.map(|t| {
            sum = sum.add(self.cost(t));
            self.node(t)
        });
        let overloads = overloads(&name, target_node.as_ref(), &args);
        let ret = return_type(&name, target_node.as_ref(), &args);
        self.types.insert(e.id, ret);

        let mut fn_cost = Est {
            min: u64::MAX,
            max: 0,
        };
        let mut result: Option<Est> = None;
        for ov in overloads {
            let ce = self.function_cost(e, c, &name, ov, target_node.as_ref(), &args, &arg_costs);
            fn_cost = fn_cost.union(ce.cost);
            if let Some(s) = ce.size {
                result = Some(result.map_or(s, |r| r.union(s)));
            }
            if matches!(ov, Ov::IndexList | Ov::IndexMap) && !c.args.is_empty() {
                result = self.entry(&c.args[0]).map(|en| en.val);
                let mut path = self.path(&c.args[0]);
                path.push(if ov == Ov::IndexList {
                    Seg::Items
                } else {
                    Seg::Values
                });
                self.paths.insert(e.id, path);
            }
            if result.is_none() {
                result = self.compute_size(e);
            }
        }
        if let Some(r) = result {
            self.sizes.insert(e.id, r);
        }
        sum.add(fn_cost)
    }

    #[allow(clippy::too_many_arguments)]
    fn function_cost(
        &mut self,
        e: &IdedExpr,
        c: &CallExpr,
        name: &str,
        ov: Ov,
        target: Option<&Node<'a>>,
        args: &[Node<'a>],
        arg_costs: &[Est],
    ) -> CallEst {
        let arg_sum = arg_costs.iter().fold(Est::fixed(0), |a, c| a.add(*c));
        let size = |n: &Node<'_>| n.size.unwrap_or(Est::UNKNOWN);
        if ov == Ov::Sets && args.len() == 2 {
            let cost = self.k8s_size(&args[0]).mul(self.k8s_size(&args[1]));
            return CallEst {
                cost: cost.add(Est::fixed(1)).add(arg_sum),
                size: None,
            };
        }
        if let Some(k) = self.library_cost(name, ov, target, args) {
            return CallEst {
                cost: k.cost.add(arg_sum),
                size: k.size,
            };
        }
        let traverse = |s: Est| s.factor(STRING_TRAVERSAL);
        match ov {
            Ov::FormatString if target.is_some() => {
                let t = target.map_or(Est::UNKNOWN, size);
                return CallEst {
                    cost: traverse(t).add(arg_sum),
                    size: None,
                };
            }
            Ov::StringToBytes | Ov::BytesToString | Ov::Quote if args.len() == 1 => {
                let sz = size(&args[0]);
                let out = match ov {
                    Ov::StringToBytes => Est {
                        min: sz.min,
                        max: sz.max.saturating_mul(4),
                    },
                    Ov::BytesToString => Est {
                        min: sz.min / 4,
                        max: sz.max,
                    },
                    _ => Est {
                        min: sz.min.saturating_add(2),
                        max: sz.max.saturating_mul(2).saturating_add(2),
                    },
                };
                return CallEst {
                    cost: traverse(sz).add(arg_sum),
                    size: Some(out),
                };
            }
            Ov::StartsOrEndsWith if args.len() == 1 => {
                return CallEst {
                    cost: traverse(size(&args[0])).add(arg_sum),
                    size: None,
                };
            }
            Ov::InList if args.len() == 2 => {
                return CallEst {
                    cost: size(&args[1]).factor(1.0).add(arg_sum),
                    size: None,
                };
            }
            Ov::Matches if target.is_some() && args.len() == 1 => {
                let t = target.map_or(Est::UNKNOWN, size);
                let s = traverse(t.add(Est::fixed(1)));
                let re = size(&args[0]).factor(REGEX_LENGTH);
                return CallEst {
                    cost: s.mul(re).add(arg_sum),
                    size: None,
                };
            }
            Ov::ContainsString if target.is_some() && args.len() == 1 => {
                let t = target.map_or(Est::UNKNOWN, size);
                return CallEst {
                    cost: traverse(t).mul(traverse(size(&args[0]))).add(arg_sum),
                    size: None,
                };
            }
            Ov::And | Ov::Or if arg_costs.len() == 2 => {
                let (l, r) = (arg_costs[0], arg_costs[1]);
                return CallEst {
                    cost: Est {
                        min: l.min,
                        max: l.add(r).max,
                    },
                    size: None,
                };
            }
            Ov::Conditional if args.len() == 3 => {
                let sz = size(&args[1]).union(size(&args[2]));
                let en = Entry::union(self.entry(&c.args[1]), self.entry(&c.args[2]));
                if let Some(en) = en {
                    self.entries.insert(e.id, en);
                }
                let cost = arg_costs[0].add(arg_costs[1].union(arg_costs[2]));
                return CallEst {
                    cost,
                    size: Some(sz),
                };
            }
            Ov::AddString | Ov::AddBytes | Ov::AddList if args.len() == 2 => {
                let sz = size(&args[0]).add(size(&args[1]));
                if let Some(en) = Entry::union(self.entry(&c.args[0]), self.entry(&c.args[1])) {
                    self.entries.insert(e.id, en);
                }
                let cost = if ov == Ov::AddList {
                    Est::fixed(1)
                } else {
                    traverse(sz)
                };
                return CallEst {
                    cost: cost.add(arg_sum),
                    size: Some(sz),
                };
            }
            Ov::Compare | Ov::Equals if args.len() == 2 => {
                let smallest = size(&args[0]).max.min(size(&args[1]).max);
                let est = Est {
                    min: u64::from(smallest > 0),
                    max: smallest,
                };
                return CallEst {
                    cost: traverse(est).add(arg_sum),
                    size: None,
                };
            }
            _ => {}
        }
        CallEst {
            cost: Est::fixed(1).add(arg_sum),
            size: None,
        }
    }

    /// The Kubernetes libraries' costs (`library.CostEstimator`), before
    /// the arguments' own costs.
    fn library_cost(
        &self,
        name: &str,
        ov: Ov,
        target: Option<&Node<'a>>,
        args: &[Node<'a>],
    ) -> Option<CallEst> {
        let fixed = |c: u64| {
            Some(CallEst {
                cost: Est::fixed(c),
                size: None,
            })
        };
        let traverse = |s: Est| s.factor(STRING_TRAVERSAL);
        match name {
            "isSorted" | "sum" | "max" | "min" | "indexOf" | "lastIndexOf" => {
                let t = target?;
                let cost = match self.list_element_size(t) {
                    Some((ty, elem_size)) => {
                        let mut per = Est::fixed(1);
                        if matches!(ty, Ty::String | Ty::Bytes) {
                            per = per.add(traverse(elem_size));
                        }
                        self.k8s_size(t).mul(per)
                    }
                    None => traverse(self.k8s_size(t)),
                };
                Some(CallEst { cost, size: None })
            }
            "url" | "jsonpatch.escapeKey" if args.len() == 1 => {
                let sz = self.k8s_size(&args[0]);
                Some(CallEst {
                    cost: traverse(sz),
                    size: Some(sz),
                })
            }
            "lowerAscii" | "upperAscii" | "substring" | "trim" => {
                let sz = self.k8s_size(target?);
                Some(CallEst {
                    cost: traverse(sz),
                    size: Some(sz),
                })
            }
            "replace" if args.len() >= 2 => {
                let sz = self.k8s_size(target?);
                let from = self.k8s_size(&args[0]);
                let to = self.k8s_size(&args[1]);
                let (mut count, mut kept) = (Est::fixed(0), Est::fixed(0));
                if from.min == 0 {
                    count.max = sz.max.saturating_add(u64::from(sz.max < u64::MAX));
                    kept.max = sz.max;
                } else if to.max <= from.min {
                    kept.max = sz.max;
                } else {
                    count.max = (sz.max as f64 / from.min as f64).ceil() as u64;
                }
                if from.max == 0 {
                    count.min = sz.min.saturating_add(u64::from(sz.min < u64::MAX));
                    kept.min = sz.min;
                } else if from.max <= to.min {
                    kept.min = sz.min;
                } else {
                    count.min = (sz.min as f64 / from.max as f64).ceil() as u64;
                }
                Some(CallEst {
                    cost: sz.factor(2.0 * STRING_TRAVERSAL),
                    size: Some(count.mul(to).add(kept)),
                })
            }
            "split" => {
                let sz = self.k8s_size(target?);
                let max = match args.get(1).and_then(|a| a.literal_int) {
                    Some(i) => i as u64,
                    None => sz.max,
                };
                Some(CallEst {
                    cost: sz.factor(2.0 * STRING_TRAVERSAL),
                    size: Some(Est { min: 0, max }),
                })
            }
            "join" => {
                let t = target?;
                let list = self.k8s_size(t);
                let mut sz = match self.list_element_size(t) {
                    Some((_, elem)) => list.mul(elem),
                    None => Est::fixed(0),
                };
                if let Some(sep) = args.first() {
                    let seps = Est {
                        min: list.min.saturating_sub(1),
                        max: list.max.saturating_sub(1),
                    };
                    sz = sz.add(self.k8s_size(sep).mul(seps));
                }
                Some(CallEst {
                    cost: traverse(sz),
                    size: Some(sz),
                })
            }
            "find" | "findAll" if !args.is_empty() => {
                let sz = self.k8s_size(target?);
                let s = traverse(sz.add(Est::fixed(1)));
                let re = self.k8s_size(&args[0]).factor(REGEX_LENGTH);
                Some(CallEst {
                    cost: s.mul(re),
                    size: Some(Est {
                        min: 0,
                        max: sz.max,
                    }),
                })
            }
            // Parsers are charged for their input whether called as
            // functions or methods: cel-go 0.23 hands the library a target
            // even for global calls.
            "cidr" | "isIP" | "isCIDR" | "quantity" | "isQuantity" | "semver" | "isSemver"
                if !args.is_empty() =>
            {
                Some(CallEst {
                    cost: traverse(self.k8s_size(&args[0])),
                    size: None,
                })
            }
            "ip" => {
                if ov == Ov::CidrIp || args.is_empty() {
                    fixed(1)
                } else {
                    Some(CallEst {
                        cost: traverse(self.k8s_size(&args[0])),
                        size: None,
                    })
                }
            }
            "ip.isCanonical" if !args.is_empty() => Some(CallEst {
                cost: self.k8s_size(&args[0]).factor(2.0 * STRING_TRAVERSAL),
                size: None,
            }),
            "masked"
            | "prefixLength"
            | "family"
            | "isUnspecified"
            | "isLoopback"
            | "isLinkLocalMulticast"
            | "isLinkLocalUnicast"
            | "isGlobalUnicast" => fixed(1),
            "containsIP" | "containsCIDR" if !args.is_empty() => {
                let bytes = Est { min: 4, max: 16 };
                let mut cost = traverse(bytes.add(bytes));
                if name == "containsCIDR" {
                    cost = cost.add(traverse(bytes)).add(Est::fixed(1));
                }
                if ov == Ov::StringArg {
                    cost = cost.add(traverse(self.k8s_size(&args[0])));
                }
                Some(CallEst { cost, size: None })
            }
            "validate" if !args.is_empty() => Some(CallEst {
                cost: traverse(self.k8s_size(&args[0]))
                    .factor(MAX_NAME_FORMAT_REGEX * REGEX_LENGTH),
                size: None,
            }),
            "format.named" => fixed(1),
            "sign" | "asInteger" | "isInteger" | "asApproximateFloat" | "isGreaterThan"
            | "isLessThan" | "compareTo" | "add" | "sub" | "major" | "minor" | "patch" => fixed(1),
            "getScheme" | "getHostname" | "getHost" | "getPort" | "getEscapedPath" | "getQuery" => {
                fixed(1)
            }
            "_==_" if args.len() == 2 && args[0].ty.same(&args[1].ty) => match args[0].ty {
                Ty::Opaque(_) | Ty::Struct("quantity" | "semver") => fixed(1),
                Ty::Struct("format") => Some(CallEst {
                    cost: traverse(Est {
                        min: 1,
                        max: MAX_FORMAT_SIZE,
                    }),
                    size: None,
                }),
                Ty::Struct("url") => {
                    let size = args[1].size.map_or(1, |s| s.max);
                    Some(CallEst {
                        cost: traverse(Est { min: 1, max: size }),
                        size: None,
                    })
                }
                _ => None,
            },
            _ => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Single,
    Key,
    Value,
}

/// The implementations `name` may resolve to for these argument types
/// (several when a type is `dyn`).
fn overloads<'a>(name: &str, target: Option<&Node<'a>>, args: &[Node<'a>]) -> Vec<Ov> {
    let arg = |i: usize| args.get(i).map_or(Ty::Dyn, |a| a.ty.clone());
    let both = |f: fn(&Ty<'a>) -> bool| f(&arg(0)) && f(&arg(1));
    let t = target.map(|t| &t.ty);
    match name {
        "_+_" => {
            let mut ovs = Vec::new();
            if both(Ty::may_be_string) {
                ovs.push(Ov::AddString);
            }
            if both(Ty::may_be_bytes) {
                ovs.push(Ov::AddBytes);
            }
            if both(Ty::may_be_list) {
                ovs.push(Ov::AddList);
            }
            let text_or_list = |x: &Ty<'_>| matches!(x, Ty::String | Ty::Bytes | Ty::List(_));
            if !text_or_list(&arg(0)) && !text_or_list(&arg(1)) {
                ovs.push(Ov::Other);
            }
            ovs
        }
        "_<_" | "_<=_" | "_>_" | "_>=_" => {
            let mut ovs = Vec::new();
            if both(Ty::may_be_string) || both(Ty::may_be_bytes) {
                ovs.push(Ov::Compare);
            }
            if !both(|x| matches!(x, Ty::String | Ty::Bytes)) {
                ovs.push(Ov::Other);
            }
            ovs
        }
        "_==_" | "_!=_" => vec![Ov::Equals],
        "@in" => {
            let mut ovs = Vec::new();
            if arg(1).may_be_list() {
                ovs.push(Ov::InList);
            }
            if !matches!(arg(1), Ty::List(_)) {
                ovs.push(Ov::Other);
            }
            ovs
        }
        "_[_]" => {
            let mut ovs = Vec::new();
            if arg(0).may_be_list() {
                ovs.push(Ov::IndexList);
            }
            if arg(0).may_be_map() {
                ovs.push(Ov::IndexMap);
            }
            if ovs.is_empty() {
                ovs.push(Ov::Other);
            }
            ovs
        }
        "_&&_" => vec![Ov::And],
        "_||_" => vec![Ov::Or],
        "_?_:_" => vec![Ov::Conditional],
        "matches" if t.is_some() => vec![Ov::Matches],
        "contains" if t.is_some_and(Ty::may_be_string) => vec![Ov::ContainsString],
        "startsWith" | "endsWith" if t.is_some() => vec![Ov::StartsOrEndsWith],
        "string" if arg(0).is_dyn() => vec![Ov::BytesToString, Ov::Other],
        "string" if matches!(arg(0), Ty::Bytes) => vec![Ov::BytesToString],
        "bytes" if arg(0).is_dyn() => vec![Ov::StringToBytes, Ov::Other],
        "bytes" if arg(0).is_string() => vec![Ov::StringToBytes],
        "strings.quote" => vec![Ov::Quote],
        "format" if t.is_some_and(Ty::may_be_string) => vec![Ov::FormatString],
        "sets.contains" | "sets.equivalent" | "sets.intersects" => vec![Ov::Sets],
        "containsIP" | "containsCIDR" if arg(0).is_string() => vec![Ov::StringArg],
        "ip" if t.is_some_and(|t| matches!(t, Ty::Opaque("cidr"))) => vec![Ov::CidrIp],
        _ => vec![Ov::Other],
    }
}

/// What a call returns, as far as sizes and later overloads need.
fn return_type<'a>(name: &str, target: Option<&Node<'a>>, args: &[Node<'a>]) -> Ty<'a> {
    let arg = |i: usize| args.get(i).map_or(Ty::Dyn, |a| a.ty.clone());
    let target_ty = target.map_or(Ty::Dyn, |t| t.ty.clone());
    match name {
        "_==_"
        | "_!=_"
        | "_<_"
        | "_<=_"
        | "_>_"
        | "_>=_"
        | "_&&_"
        | "_||_"
        | "!_"
        | "@in"
        | "@not_strictly_false"
        | "matches"
        | "startsWith"
        | "endsWith"
        | "contains"
        | "isSorted"
        | "isURL"
        | "isIP"
        | "isCIDR"
        | "isQuantity"
        | "isSemver"
        | "isInteger"
        | "isGreaterThan"
        | "isLessThan"
        | "sets.contains"
        | "sets.equivalent"
        | "sets.intersects"
        | "ip.isCanonical"
        | "isUnspecified"
        | "isLoopback"
        | "isLinkLocalMulticast"
        | "isLinkLocalUnicast"
        | "isGlobalUnicast"
        | "containsIP"
        | "containsCIDR"
        | "hasValue"
        | "isIPv4"
        | "isIPv6"
        | "isCIDRv4"
        | "isCIDRv6"
        | "math.isFinite"
        | "math.isInf"
        | "math.isNaN" => Ty::Bool,
        "size" | "int" | "indexOf" | "lastIndexOf" | "getFullYear" | "getMonth"
        | "getDayOfYear" | "getDayOfMonth" | "getDate" | "getDayOfWeek" | "getHours"
        | "getMinutes" | "getSeconds" | "getMilliseconds" | "sign" | "compareTo" | "asInteger"
        | "prefixLength" | "family" | "major" | "minor" | "patch" | "math.bitAnd"
        | "math.bitOr" | "math.bitXor" | "math.bitNot" | "math.bitShiftLeft"
        | "math.bitShiftRight" => Ty::Int,
        "double" | "asApproximateFloat" | "math.ceil" | "math.floor" | "math.round"
        | "math.trunc" | "math.sqrt" => Ty::Double,
        "uint" => Ty::Uint,
        "string"
        | "lowerAscii"
        | "upperAscii"
        | "trim"
        | "replace"
        | "substring"
        | "charAt"
        | "join"
        | "format"
        | "strings.quote"
        | "getScheme"
        | "getHost"
        | "getHostname"
        | "getPort"
        | "getEscapedPath"
        | "base64.encode"
        | "jsonpatch.escapeKey"
        | "find" => Ty::String,
        "bytes" | "base64.decode" => Ty::Bytes,
        "duration" => Ty::Duration,
        "timestamp" => Ty::Timestamp,
        "split" | "findAll" => Ty::List(Box::new(Ty::String)),
        "getQuery" => Ty::Map(
            Box::new(Ty::String),
            Box::new(Ty::List(Box::new(Ty::String))),
        ),
        "url" => Ty::Struct("url"),
        "quantity" | "add" | "sub" => Ty::Struct("quantity"),
        "semver" => Ty::Struct("semver"),
        "ip" => Ty::Opaque("ip"),
        "cidr" | "masked" => Ty::Opaque("cidr"),
        "type" => Ty::Type,
        "optional.of" | "optional.ofNonZeroValue" => Ty::Optional(Box::new(arg(0))),
        "optional.none" => Ty::Optional(Box::new(Ty::Dyn)),
        "value" | "orValue" => match target_ty {
            Ty::Optional(t) => *t,
            _ => Ty::Dyn,
        },
        "_[_]" => arg(0).elem(),
        "sum" | "min" | "max" if target.is_some() => target_ty.elem(),
        "_?_:_" => match arg(1) {
            Ty::Dyn => arg(2),
            t => t,
        },
        "_+_" | "_-_" | "_*_" | "_/_" | "_%_" => match (arg(0), arg(1)) {
            (Ty::List(a), Ty::List(b)) if a.is_dyn() => Ty::List(b),
            (Ty::Dyn, b) => b,
            (a, _) => a,
        },
        "-_" => arg(0),
        _ if name.starts_with("format.") => Ty::Struct("format"),
        _ => Ty::Dyn,
    }
}

#[cfg(test)]
mod tests;
