//! Evaluates a syntax tree against an [`EvalContext`].
//!
//! Values borrow from the tree and the context for the whole evaluation, so a typical
//! expression (`${age} >= 18 and selected(${s}, 'x')`) allocates nothing. `if` and `coalesce`
//! evaluate only what they need and, like long operator chains, are walked in a loop rather
//! than by recursion, so deep `if(...)` chains cost no stack.

use super::ast::{Ast, BinaryOp, Function, InstancePath};
use super::context::EvalContext;
use super::error::EvalError;
use super::functions;
use super::value::{Val, compare};
use chrono::{DateTime, FixedOffset};
use std::borrow::Cow;
use std::cell::Cell;

/// Operator chains up to this length are evaluated by plain recursion (no allocation); longer
/// ones are walked iteratively.
const SHORT_CHAIN: usize = 32;

/// What `if` or `coalesce` resolved to.
enum Branch<'a> {
    Done(Val<'a>),
    Continue(&'a Ast),
}

/// One evaluation of one expression.
pub(super) struct Evaluator<'a> {
    pub(super) ctx: &'a dyn EvalContext,
    now: Cell<Option<DateTime<FixedOffset>>>,
}

impl<'a> Evaluator<'a> {
    pub(super) fn new(ctx: &'a dyn EvalContext) -> Self {
        Evaluator { ctx, now: Cell::new(None) }
    }

    /// The context's time, read once so that `today()` and `now()` agree within an
    /// expression.
    pub(super) fn now(&self) -> DateTime<FixedOffset> {
        if let Some(now) = self.now.get() {
            return now;
        }
        let now = self.ctx.now();
        self.now.set(Some(now));
        now
    }

    /// The device's UTC offset, used for dates that carry none.
    pub(super) fn local_offset(&self) -> FixedOffset {
        *self.now().offset()
    }

    pub(super) fn eval(&self, mut node: &'a Ast) -> Result<Val<'a>, EvalError> {
        // This function is on the path of every recursion, so every arm but the trivial ones
        // calls out, keeping its stack frame small. `if` and `coalesce` hand back the branch
        // to evaluate, which is then evaluated here instead of by recursing.
        loop {
            return match node {
                Ast::Number(n) => Ok(Val::Num(*n)),
                Ast::String(s) => Ok(Val::str(s)),
                Ast::Reference(name) => self.reference(name),
                Ast::Current => Ok(Val::Str(self.ctx.current())),
                Ast::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
                Ast::Call { function: Function::If | Function::Coalesce, args } => match self.branch(node, args)? {
                    Branch::Done(value) => Ok(value),
                    Branch::Continue(next) => {
                        node = next;
                        continue;
                    }
                },
                Ast::Call { function, args } => functions::call(self, *function, args),
                other => self.other(other),
            };
        }
    }

    fn reference(&self, name: &'a str) -> Result<Val<'a>, EvalError> {
        match self.ctx.resolve(name) {
            Some(values) => Ok(Val::Nodes(values)),
            None => Err(EvalError::UnknownReference { name: name.to_owned() }),
        }
    }

    /// `if(c, a, b)` and `coalesce(a, b)`: decides which argument gives the result.
    fn branch(&self, call: &'a Ast, args: &'a [Ast]) -> Result<Branch<'a>, EvalError> {
        match (call, args) {
            (Ast::Call { function: Function::If, .. }, [condition, then, otherwise]) => {
                Ok(Branch::Continue(if self.eval(condition)?.to_bool() { then } else { otherwise }))
            }
            (Ast::Call { function: Function::Coalesce, .. }, [first, second]) => {
                let value = self.eval(first)?;
                Ok(if value.is_empty_value() { Branch::Continue(second) } else { Branch::Done(value) })
            }
            (Ast::Call { function, .. }, _) => functions::call(self, *function, args).map(Branch::Done),
            (other, _) => self.other(other).map(Branch::Done),
        }
    }

    /// The less common nodes.
    fn other(&self, node: &'a Ast) -> Result<Val<'a>, EvalError> {
        match node {
            Ast::Negate(inner) => Ok(Val::Num(-self.eval(inner)?.to_num())),
            Ast::Regex { subject, pattern } => {
                let subject = self.eval(subject)?;
                Ok(Val::Bool(pattern.is_match(&subject.to_str())))
            }
            // pyxform writes every column of the choices sheet into every choice, blank
            // cells as empty elements, so a missing value reads as ''.
            Ast::ChoiceColumn(column) => Ok(match self.ctx.choice_column(column) {
                Some(value) => Val::Str(value),
                None => Val::str(""),
            }),
            Ast::Instance(path) => self.instance(path),
            Ast::Random { site } => Ok(Val::Num(functions::random(self, *site))),
            Ast::Uuid { site, length } => functions::uuid(self, *site, length.as_deref()),
            _ => self.eval(node),
        }
    }

    /// The items of a list its predicates keep, as the node-set of their `column` (their
    /// `name` when none is read). A predicate is evaluated on each item in turn, its bare
    /// names reading the item's columns; a number keeps the item at that position.
    fn instance(&self, path: &'a InstancePath) -> Result<Val<'a>, EvalError> {
        let instance = path.instance.as_str();
        let mut items: Vec<usize> = (0..self.ctx.instance_len(instance).unwrap_or(0)).collect();
        for predicate in &path.predicates {
            let mut kept = Vec::with_capacity(items.len());
            for (position, &index) in items.iter().enumerate() {
                let item = Item { outer: self.ctx, instance, index };
                let keep = match Evaluator::new(&item).eval(predicate)? {
                    Val::Num(n) => n == (position + 1) as f64,
                    other => other.to_bool(),
                };
                if keep {
                    kept.push(index);
                }
            }
            items = kept;
        }
        let column = path.column.as_deref().unwrap_or("name");
        let values = items
            .into_iter()
            .map(|index| self.ctx.instance_cell(instance, index, column).map(Cow::into_owned).unwrap_or_default())
            .collect();
        Ok(Val::Nodes(Cow::Owned(values)))
    }

    fn binary(&self, op: BinaryOp, lhs: &'a Ast, rhs: &'a Ast) -> Result<Val<'a>, EvalError> {
        let mut chain = 0;
        let mut left = lhs;
        while let Ast::Binary { lhs: inner, .. } = left {
            chain += 1;
            if chain > SHORT_CHAIN {
                return self.long_chain(op, lhs, rhs);
            }
            left = inner;
        }
        let value = self.eval(lhs)?;
        self.apply(op, value, rhs)
    }

    /// `a + b + ... + z` nests to the left; evaluate it from the innermost pair outward with
    /// an explicit stack so that the recursion depth does not grow with the chain.
    #[cold]
    fn long_chain(&self, op: BinaryOp, lhs: &'a Ast, rhs: &'a Ast) -> Result<Val<'a>, EvalError> {
        let mut pending = vec![(op, rhs)];
        let mut left = lhs;
        while let Ast::Binary { op, lhs, rhs } = left {
            pending.push((*op, rhs));
            left = lhs;
        }
        let mut value = self.eval(left)?;
        while let Some((op, rhs)) = pending.pop() {
            value = self.apply(op, value, rhs)?;
        }
        Ok(value)
    }

    fn apply(&self, op: BinaryOp, lhs: Val<'a>, rhs: &'a Ast) -> Result<Val<'a>, EvalError> {
        Ok(match op {
            BinaryOp::Or => Val::Bool(lhs.to_bool() || self.eval(rhs)?.to_bool()),
            BinaryOp::And => Val::Bool(lhs.to_bool() && self.eval(rhs)?.to_bool()),
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                Val::Bool(compare(op, &lhs, &self.eval(rhs)?))
            }
            BinaryOp::Add => Val::Num(lhs.to_num() + self.eval(rhs)?.to_num()),
            BinaryOp::Sub => Val::Num(lhs.to_num() - self.eval(rhs)?.to_num()),
            BinaryOp::Mul => Val::Num(lhs.to_num() * self.eval(rhs)?.to_num()),
            // IEEE division gives XPath's Infinity/-Infinity/NaN for division by zero.
            BinaryOp::Div => Val::Num(lhs.to_num() / self.eval(rhs)?.to_num()),
            // Rust's `%` keeps the dividend's sign and gives NaN for `x mod 0`, as XPath's
            // (and Java's) remainder does.
            BinaryOp::Mod => Val::Num(lhs.to_num() % self.eval(rhs)?.to_num()),
        })
    }
}

/// The context of a predicate: the survey as around it, with the item being tested as the
/// "choice" whose columns bare names read.
struct Item<'c> {
    outer: &'c dyn EvalContext,
    instance: &'c str,
    index: usize,
}

impl EvalContext for Item<'_> {
    fn resolve(&self, name: &str) -> Option<Cow<'_, [String]>> {
        self.outer.resolve(name)
    }

    fn current(&self) -> Cow<'_, str> {
        self.outer.current()
    }

    fn position(&self) -> Option<usize> {
        self.outer.position()
    }

    fn indexed(&self, field: &str, repeats: &[(&str, usize)]) -> Option<Cow<'_, str>> {
        self.outer.indexed(field, repeats)
    }

    fn choice_label(&self, question: &str, code: &str) -> Option<Cow<'_, str>> {
        self.outer.choice_label(question, code)
    }

    fn now(&self) -> DateTime<FixedOffset> {
        self.outer.now()
    }

    fn random_seed(&self) -> u64 {
        self.outer.random_seed()
    }

    fn choice_column(&self, column: &str) -> Option<Cow<'_, str>> {
        self.outer.instance_cell(self.instance, self.index, column)
    }

    fn pulldata(&self, file: &str, column: &str, key_column: &str, key: &str) -> Option<Cow<'_, str>> {
        self.outer.pulldata(file, column, key_column, key)
    }

    fn instance_len(&self, instance: &str) -> Option<usize> {
        self.outer.instance_len(instance)
    }

    fn instance_cell(&self, instance: &str, index: usize, column: &str) -> Option<Cow<'_, str>> {
        self.outer.instance_cell(instance, index, column)
    }
}
