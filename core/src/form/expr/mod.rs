//! The XLSForm expression engine: parses the XPath expressions of a form's `relevant`,
//! `constraint`, `calculation`, `required` and (dynamic) `default` columns once, at import,
//! and evaluates them against the answers after each change.
//!
//! `choice_filter` expressions, which name columns of the choices sheet as bare words
//! (`region = ${region}`, `selected(${crops}, name)`), are parsed with
//! [`Expression::parse_choice_filter`] and evaluated once per choice, with
//! [`EvalContext::choice_column`] answering for the choice.
//!
//! ```ignore
//! let e = Expression::parse("${age} >= 18 and selected(${consent}, 'yes')")?;
//! e.references();              // ["age", "consent"]: for the importer's checks and dependencies
//! e.evaluate_bool(&context)?;  // after each keystroke
//! ```
//!
//! # Language
//! The XPath 1.0 subset that ODK supports, with ODK Collect's (JavaRosa's) semantics:
//! - `${name}` references, `.` (the current question), number and string literals (`'...'` or
//!   `"..."`, no escapes);
//! - `or`, `and`, `=` `!=`, `<` `<=` `>` `>=`, `+` `-`, `*` `div` `mod`, unary `-`, from the
//!   loosest binding to the tightest, all left-associative; parentheses;
//! - the functions listed in [`Function`], including `position(..)`.
//!
//! Paths (`/data/age`, `../age`), predicates (`[...]`), unions (`|`), axes, `current()` and
//! `instance(...)` are rejected with a [`ParseError`] that says what to write instead: XLSForm
//! authors write `${age}`, which pyxform turns into paths itself. So are unknown functions,
//! wrong argument counts, invalid literal regular expressions and unknown `format-date`
//! specifiers, because the importer reports them to the form author.
//!
//! Not supported: `geofence` (geo), `instance`, `randomize`, `checklist`, `weighted-checklist`,
//! `digest`, `base64-decode`, `version`, `property`. These are parse errors naming the
//! function.
//!
//! Geo functions: `area` (also spelt `enclosed-area`) and `distance` take a geoshape or
//! geotrace answer (`"lat lon alt acc;lat lon alt acc;..."`) and give square metres and metres,
//! computed with ODK Collect's formulas on a sphere (within 0.7 % of WGS84; see `geo.rs`).
//!
//! `pulldata('file', 'column', 'key_column', key)` reads a CSV file attached to the form
//! through [`EvalContext::pulldata`]. Devices hold no attached files yet: the default
//! implementation finds nothing, and `pulldata()` then gives `''`, as ODK Collect does for a
//! missing file or row.
//!
//! # Semantics
//! The documentation of `value.rs` covers conversions and comparisons, `functions.rs`
//! function-by-function choices, and `dates.rs` dates. In short: unanswered questions are
//! `''`, which is NaN in arithmetic; comparisons with node-sets are existential; nothing
//! panics: division by zero gives Infinity or NaN, invalid input to a date function is an
//! [`EvalError`]. Nesting (parentheses, calls, unary minus) is limited to 128 levels and an
//! expression to a depth of 1000 operations, which bounds stack use (measured at about 5 KiB
//! per level in unoptimised builds, far less in optimised ones).

mod ast;
mod context;
mod dates;
mod error;
mod eval;
mod functions;
mod geo;
mod lexer;
mod parser;
mod value;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use ast::{Arity, Ast, BinaryOp, Function, InstancePath, Pattern};
pub use context::EvalContext;
pub use error::{EvalError, ParseError};
pub use value::XValue;

use eval::Evaluator;

/// A parsed expression: keeps its source text and its syntax tree. Parse once at form import.
///
/// Two expressions are equal when their source text is.
// SERDE: add `#[derive(serde::Serialize, serde::Deserialize)]` and
// `#[serde(try_from = "String", into = "String")]` here; the conversions below are the ones
// serde needs (deserialising re-parses, so a stored expression is checked again on load).
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    ast: Ast,
}

impl PartialEq for Expression {
    fn eq(&self, other: &Expression) -> bool {
        // The tree is a function of the text.
        self.source == other.source
    }
}

impl Expression {
    /// Parses `source`, reporting syntax errors, unknown functions and wrong argument counts
    /// with their position.
    pub fn parse(source: &str) -> Result<Expression, ParseError> {
        Ok(Expression { ast: parser::parse(source, false)?, source: source.to_owned() })
    }

    /// Parses a `choice_filter`: as [`Expression::parse`], except that a bare name is a column
    /// of the choice being filtered ([`Ast::ChoiceColumn`]), read through
    /// [`EvalContext::choice_column`]. Every expression that [`Expression::parse`] accepts
    /// parses the same way here.
    pub fn parse_choice_filter(source: &str) -> Result<Expression, ParseError> {
        Ok(Expression { ast: parser::parse(source, true)?, source: source.to_owned() })
    }

    /// The expression as written in the form.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The syntax tree.
    pub fn ast(&self) -> &Ast {
        &self.ast
    }

    /// The question names referenced as `${name}`, in order of first appearance, without
    /// duplicates. Includes the question named in `jr:choice-name(value, '${question}')`, so
    /// that the importer checks it exists.
    pub fn references(&self) -> Vec<&str> {
        let mut names = Vec::new();
        collect_references(&self.ast, &mut names);
        names
    }

    /// The lists the expression reads with `instance('…')`, in order of first appearance,
    /// without duplicates.
    pub fn instances(&self) -> Vec<&str> {
        let mut names = Vec::new();
        collect_instances(&self.ast, &mut names);
        names
    }

    /// The choice columns a choice filter reads, in order of first appearance, without
    /// duplicates (empty for expressions parsed with [`Expression::parse`]).
    pub fn choice_columns(&self) -> Vec<&str> {
        let mut columns = Vec::new();
        collect_choice_columns(&self.ast, &mut columns);
        columns
    }

    /// Evaluates the expression.
    pub fn evaluate(&self, ctx: &dyn EvalContext) -> Result<XValue, EvalError> {
        Ok(Evaluator::new(ctx).eval(&self.ast)?.into_xvalue())
    }

    /// Evaluates the expression as a boolean (XPath `boolean()`), for `relevant`,
    /// `constraint` and `required`. Avoids building an [`XValue`].
    pub fn evaluate_bool(&self, ctx: &dyn EvalContext) -> Result<bool, EvalError> {
        Ok(Evaluator::new(ctx).eval(&self.ast)?.to_bool())
    }

    /// Evaluates the expression as a string (XPath `string()`), as a `calculation` is stored.
    pub fn evaluate_string(&self, ctx: &dyn EvalContext) -> Result<String, EvalError> {
        Ok(Evaluator::new(ctx).eval(&self.ast)?.into_str().into_owned())
    }
}

fn push_unique<'a>(names: &mut Vec<&'a str>, name: &'a str) {
    if !names.contains(&name) {
        names.push(name);
    }
}

fn collect_references<'a>(ast: &'a Ast, names: &mut Vec<&'a str>) {
    match ast {
        Ast::Reference(name) => push_unique(names, name),
        Ast::Call { function: Function::ChoiceName, args } => {
            args.iter().for_each(|arg| collect_references(arg, names));
            if let Some(Ast::String(text)) = args.get(1)
                && let Some(name) = parser::choice_question_name(text)
            {
                push_unique(names, name);
            }
            return;
        }
        _ => {}
    }
    ast.children().into_iter().for_each(|child| collect_references(child, names));
}

/// The first list `ast` looks up with `instance('…')`, if any.
fn collect_instances_of(ast: &Ast) -> Option<String> {
    let mut names = Vec::new();
    collect_instances(ast, &mut names);
    names.first().map(|name| (*name).to_owned())
}

fn collect_instances<'a>(ast: &'a Ast, names: &mut Vec<&'a str>) {
    if let Ast::Instance(path) = ast {
        push_unique(names, &path.instance);
    }
    ast.children().into_iter().for_each(|child| collect_instances(child, names));
}

fn collect_choice_columns<'a>(ast: &'a Ast, columns: &mut Vec<&'a str>) {
    match ast {
        Ast::ChoiceColumn(column) => push_unique(columns, column),
        // A lookup's bare names are its items' columns, not the filtered choice's.
        Ast::Instance(_) => {}
        _ => ast.children().into_iter().for_each(|child| collect_choice_columns(child, columns)),
    }
}

impl std::fmt::Display for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Expression {
    type Err = ParseError;

    fn from_str(source: &str) -> Result<Expression, ParseError> {
        Expression::parse(source)
    }
}

impl TryFrom<String> for Expression {
    type Error = ParseError;

    fn try_from(source: String) -> Result<Expression, ParseError> {
        Ok(Expression { ast: parser::parse(&source, false)?, source })
    }
}

impl From<Expression> for String {
    fn from(expression: Expression) -> String {
        expression.source
    }
}
