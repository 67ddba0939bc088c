//! Values and the XPath 1.0 conversions and comparisons between them, with ODK's adjustments.
//!
//! [`XValue`] is the owned result handed to callers. While evaluating, the engine uses
//! [`Val`], which borrows strings and node-sets from the syntax tree and from the
//! [`EvalContext`](super::EvalContext) instead of copying them.
//!
//! ODK adjustments (from JavaRosa, ODK Collect's engine):
//! - A node-set of one node converts like its value (JavaRosa "unpacks" it): `boolean(${q})`
//!   is false when `q` is unanswered. An empty node-set is false and a node-set of several
//!   nodes is true, as in XPath. (JavaRosa refuses several nodes in scalar contexts; we use the
//!   first node's value, as XPath does.)
//! - Numbers are equal when they differ by less than 1e-12, and a number is true when its
//!   magnitude exceeds 1e-12, so that `0.1 + 0.2 = 0.3` holds as in Collect.
//! - A number prints without exponent; an integral one (within 1e-12) without decimals,
//!   `NaN`, `Infinity` and `-Infinity` as such.
//! - Dates, dateTimes and times stored as strings convert to numbers (see
//!   [`dates`](super::dates)), because answers reach the engine as strings while JavaRosa
//!   reads them as typed values.
//! - Strings convert to numbers by the XPath grammar (`-`, digits, one `.`, surrounding
//!   whitespace): `'1,5'`, `'1e3'`, `'+1'` and `''` are NaN. (JavaRosa reads `'1,5'` as 1.5;
//!   we do not, because `'1,000'` would silently become 1.)

use super::ast::BinaryOp;
use super::dates;
use chrono::{DateTime, FixedOffset, NaiveDate};
use std::borrow::Cow;
use std::fmt;

/// The value of an XPath expression.
#[derive(Debug, Clone, PartialEq)]
pub enum XValue {
    /// A string.
    String(String),
    /// A number (XPath has only doubles).
    Number(f64),
    /// A boolean.
    Boolean(bool),
    /// A date, from `today()`, `date(...)`; prints as 'YYYY-MM-DD'.
    Date(NaiveDate),
    /// A dateTime, from `now()`, `date-time(...)`; prints as 'YYYY-MM-DDTHH:MM:SS.mmm+HH:MM'.
    DateTime(DateTime<FixedOffset>),
    /// The values of the nodes a reference matched, in document order: one per repeat
    /// instance for a field inside a repeat referenced from outside it.
    NodeSet(Vec<String>),
}

impl XValue {
    /// XPath `string()`: a node-set gives its first node's value (or `''`).
    pub fn to_xpath_string(&self) -> String {
        Val::from(self).to_str().into_owned()
    }

    /// XPath `number()`; `NaN` for anything that is not a number, date, dateTime or time.
    pub fn to_number(&self) -> f64 {
        Val::from(self).to_num()
    }

    /// XPath `boolean()`, with ODK's reading of a one-node node-set as its value.
    pub fn to_boolean(&self) -> bool {
        Val::from(self).to_bool()
    }
}

impl fmt::Display for XValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Val::from(self).to_str())
    }
}

/// A value during evaluation, borrowing where it can.
#[derive(Debug, Clone)]
pub(super) enum Val<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>),
    Nodes(Cow<'a, [String]>),
}

impl<'a> From<&'a XValue> for Val<'a> {
    fn from(value: &'a XValue) -> Val<'a> {
        match value {
            XValue::String(s) => Val::Str(Cow::Borrowed(s)),
            XValue::Number(n) => Val::Num(*n),
            XValue::Boolean(b) => Val::Bool(*b),
            XValue::Date(d) => Val::Date(*d),
            XValue::DateTime(dt) => Val::DateTime(*dt),
            XValue::NodeSet(nodes) => Val::Nodes(Cow::Borrowed(nodes)),
        }
    }
}

const EPSILON: f64 = 1e-12;

impl<'a> Val<'a> {
    pub(super) fn str(s: &'a str) -> Val<'a> {
        Val::Str(Cow::Borrowed(s))
    }

    pub(super) fn owned(s: String) -> Val<'a> {
        Val::Str(Cow::Owned(s))
    }

    /// The string value, borrowed when the value already holds it.
    pub(super) fn to_str(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s),
            Val::Nodes(nodes) => Cow::Borrowed(nodes.first().map_or("", String::as_str)),
            Val::Num(n) => Cow::Owned(format_number(*n)),
            Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Val::Date(d) => Cow::Owned(dates::format_iso_date(*d)),
            Val::DateTime(dt) => Cow::Owned(dates::format_iso_datetime(dt)),
        }
    }

    /// The string value, keeping borrows from the tree or the context.
    pub(super) fn into_str(self) -> Cow<'a, str> {
        match self {
            Val::Str(s) => s,
            Val::Nodes(Cow::Borrowed(nodes)) => Cow::Borrowed(nodes.first().map_or("", String::as_str)),
            Val::Nodes(Cow::Owned(nodes)) => Cow::Owned(nodes.into_iter().next().unwrap_or_default()),
            other => Cow::Owned(other.to_str().into_owned()),
        }
    }

    pub(super) fn to_num(&self) -> f64 {
        match self {
            Val::Num(n) => *n,
            Val::Str(s) => string_to_number(s),
            Val::Nodes(nodes) => nodes.first().map_or(f64::NAN, |s| string_to_number(s)),
            Val::Bool(b) => f64::from(u8::from(*b)),
            Val::Date(d) => dates::days_since_epoch(*d),
            Val::DateTime(dt) => dates::days_since_epoch(dt.date_naive()),
        }
    }

    pub(super) fn to_bool(&self) -> bool {
        match self {
            Val::Bool(b) => *b,
            Val::Num(n) => n.abs() > EPSILON,
            Val::Str(s) => !s.is_empty(),
            Val::Nodes(nodes) => match nodes.as_ref() {
                [] => false,
                [only] => !only.is_empty(),
                _ => true,
            },
            Val::Date(_) | Val::DateTime(_) => true,
        }
    }

    /// ODK's "null": an empty string (or unanswered question) or NaN. Used by `coalesce`.
    pub(super) fn is_empty_value(&self) -> bool {
        match self {
            Val::Str(s) => s.is_empty(),
            Val::Nodes(nodes) => nodes.first().is_none_or(|s| s.is_empty()),
            Val::Num(n) => n.is_nan(),
            Val::Bool(_) | Val::Date(_) | Val::DateTime(_) => false,
        }
    }

    pub(super) fn into_xvalue(self) -> XValue {
        match self {
            Val::Str(s) => XValue::String(s.into_owned()),
            Val::Num(n) => XValue::Number(n),
            Val::Bool(b) => XValue::Boolean(b),
            Val::Date(d) => XValue::Date(d),
            Val::DateTime(dt) => XValue::DateTime(dt),
            Val::Nodes(nodes) => XValue::NodeSet(nodes.into_owned()),
        }
    }
}

/// XPath number-to-string conversion with JavaRosa's rounding of values within 1e-12 of an
/// integer (only just above it, as JavaRosa truncates).
pub(super) fn format_number(n: f64) -> String {
    if n.is_nan() {
        "NaN".to_owned()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if n.abs() < EPSILON {
        "0".to_owned()
    } else {
        let whole = n.trunc();
        // Rust prints finite doubles without exponent and integral ones without ".0",
        // which is exactly XPath's format.
        if (n - whole).abs() < EPSILON { format!("{whole}") } else { format!("{n}") }
    }
}

/// Parses the XPath `Number` grammar with optional leading `-` and surrounding whitespace.
pub(super) fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let body = text.strip_prefix('-').unwrap_or(text);
    let mut digits = 0;
    let mut dots = 0;
    for b in body.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return None,
        }
    }
    if digits == 0 || dots > 1 {
        return None;
    }
    text.parse().ok()
}

/// A string's number: an XPath number, else a date/dateTime/time (see [`dates`]), else NaN.
pub(super) fn string_to_number(text: &str) -> f64 {
    parse_number(text).or_else(|| dates::string_to_number(text)).unwrap_or(f64::NAN)
}

fn numbers_equal(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() < EPSILON
}

/// Applies a comparison operator (`=`, `!=`, `<`, `<=`, `>`, `>=`) with XPath semantics:
/// a node-set compares true when any of its nodes does.
pub(super) fn compare(op: BinaryOp, a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Nodes(x), Val::Nodes(y)) => {
            x.iter().any(|s| y.iter().any(|t| compare_scalars(op, &Val::str(s), &Val::str(t))))
        }
        // A node-set meets a boolean as a whole: XPath converts it with boolean().
        (Val::Nodes(_), Val::Bool(_)) | (Val::Bool(_), Val::Nodes(_)) => {
            compare_scalars(op, &Val::Bool(a.to_bool()), &Val::Bool(b.to_bool()))
        }
        (Val::Nodes(x), other) => x.iter().any(|s| compare_scalars(op, &Val::str(s), other)),
        (other, Val::Nodes(y)) => y.iter().any(|t| compare_scalars(op, other, &Val::str(t))),
        _ => compare_scalars(op, a, b),
    }
}

fn is_numeric(v: &Val<'_>) -> bool {
    matches!(v, Val::Num(_) | Val::Date(_) | Val::DateTime(_))
}

fn compare_scalars(op: BinaryOp, a: &Val<'_>, b: &Val<'_>) -> bool {
    match op {
        BinaryOp::Eq | BinaryOp::Ne => {
            let equal = if matches!(a, Val::Bool(_)) || matches!(b, Val::Bool(_)) {
                a.to_bool() == b.to_bool()
            } else if is_numeric(a) || is_numeric(b) {
                numbers_equal(a.to_num(), b.to_num())
            } else {
                a.to_str() == b.to_str()
            };
            equal == (op == BinaryOp::Eq)
        }
        BinaryOp::Lt => a.to_num() < b.to_num(),
        BinaryOp::Le => a.to_num() <= b.to_num(),
        BinaryOp::Gt => a.to_num() > b.to_num(),
        BinaryOp::Ge => a.to_num() >= b.to_num(),
        // Not comparisons; the evaluator never sends them here.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(v: &[&str]) -> Val<'static> {
        Val::Nodes(Cow::Owned(v.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn number_to_string() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-3.0), "-3");
        assert_eq!(format_number(3.5), "3.5");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_number(f64::NAN), "NaN");
        assert_eq!(format_number(f64::INFINITY), "Infinity");
        assert_eq!(format_number(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1e21), "1000000000000000000000");
        assert_eq!(format_number(1e-7), "0.0000001");
        assert_eq!(format_number(2.0000000000000004), "2");
        assert_eq!(format_number(0.1 + 0.2 - 0.3), "0");
    }

    #[test]
    fn string_to_number_follows_xpath_grammar() {
        assert_eq!(parse_number("3"), Some(3.0));
        assert_eq!(parse_number(" -3.5 "), Some(-3.5));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("-.5"), Some(-0.5));
        assert_eq!(parse_number("5."), Some(5.0));
        for bad in ["", " ", "-", ".", "1e3", "+1", "1,5", "1.2.3", "--1", "Infinity", "NaN", "0x10", "1 2"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
            assert!(string_to_number(bad).is_nan(), "{bad:?}");
        }
        assert_eq!(string_to_number("2024-01-15"), 19737.0);
    }

    #[test]
    fn booleans() {
        assert!(!Val::str("").to_bool());
        assert!(Val::str("false").to_bool());
        assert!(!Val::Num(f64::NAN).to_bool());
        assert!(!Val::Num(0.0).to_bool());
        assert!(Val::Num(-2.0).to_bool());
        assert!(!nodes(&[]).to_bool());
        assert!(!nodes(&[""]).to_bool());
        assert!(nodes(&["x"]).to_bool());
        assert!(nodes(&["", ""]).to_bool());
    }

    #[test]
    fn equality_rules() {
        use BinaryOp::{Eq, Ne};
        // Numbers win over strings; booleans over everything.
        assert!(compare(Eq, &Val::str("1.0"), &Val::Num(1.0)));
        assert!(!compare(Eq, &Val::str("1.0"), &Val::str("1")));
        assert!(compare(Eq, &Val::str("x"), &Val::Bool(true)));
        assert!(compare(Eq, &Val::Num(0.1 + 0.2), &Val::Num(0.3)));
        assert!(compare(Eq, &Val::Num(f64::INFINITY), &Val::Num(f64::INFINITY)));
        assert!(!compare(Eq, &Val::Num(f64::NAN), &Val::Num(f64::NAN)));
        assert!(compare(Ne, &Val::Num(f64::NAN), &Val::Num(f64::NAN)));
        // Existential node-set semantics, for = and for != alike.
        let ns = nodes(&["a", "b"]);
        assert!(compare(Eq, &ns, &Val::str("b")));
        assert!(compare(Ne, &ns, &Val::str("b")));
        assert!(!compare(Eq, &nodes(&[]), &Val::str("")));
        assert!(!compare(Ne, &nodes(&[]), &Val::str("")));
        assert!(compare(Eq, &nodes(&["1", "2"]), &nodes(&["3", "2"])));
        assert!(compare(Eq, &nodes(&["3"]), &Val::Num(3.0)));
        // A node-set against a boolean converts as a whole.
        assert!(compare(Eq, &nodes(&[""]), &Val::Bool(false)));
        assert!(compare(Eq, &nodes(&["", ""]), &Val::Bool(true)));
    }

    #[test]
    fn relational_rules() {
        use BinaryOp::*;
        assert!(compare(Lt, &Val::str("9"), &Val::str("10")));
        assert!(!compare(Lt, &Val::str("a"), &Val::str("b")));
        assert!(!compare(Ge, &Val::str(""), &Val::Num(0.0)));
        assert!(compare(Gt, &nodes(&["1", "5"]), &Val::Num(4.0)));
        assert!(compare(Le, &Val::Bool(true), &Val::Num(1.0)));
        assert!(compare(Lt, &Val::str("2024-01-15"), &Val::str("2024-02-01")));
        assert!(compare(Lt, &Val::str("09:30"), &Val::str("10:00")));
    }

    #[test]
    fn xvalue_conversions() {
        assert_eq!(XValue::Number(3.0).to_xpath_string(), "3");
        assert_eq!(XValue::Boolean(true).to_number(), 1.0);
        assert_eq!(XValue::NodeSet(vec!["4".into(), "5".into()]).to_number(), 4.0);
        assert_eq!(XValue::NodeSet(vec![]).to_xpath_string(), "");
        assert!(XValue::NodeSet(vec![]).to_number().is_nan());
        let d = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        assert_eq!(XValue::Date(d).to_string(), "2024-01-15");
        assert_eq!(XValue::Date(d).to_number(), 19737.0);
        assert!(XValue::Date(d).to_boolean());
        assert!(!XValue::String(String::new()).to_boolean());
    }
}
