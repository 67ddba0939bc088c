//! The function library, following ODK Collect's engine (JavaRosa) where XPath 1.0 and ODK
//! differ or ODK adds functions.
//!
//! Each function has its own small Rust function, reached through a table: the evaluator
//! recurses through them for nested calls, and one large `match` would make every level of
//! nesting use a large stack frame in debug builds.
//!
//! Choices worth knowing (each tested):
//! - `round(x, digits)` rounds the shortest decimal form of `x` (so `round(1.005, 2)` is
//!   1.01), halves toward +∞: `round(2.5)` = 3, `round(-2.5)` = -2, as JavaRosa's
//!   `BigDecimal` HALF_UP/HALF_DOWN pair does. More than 30 digits either way gives NaN.
//!   Negative digits round to tens, hundreds... with the same tie rule (JavaRosa truncates
//!   negative numbers there, which we treat as a bug).
//! - `sum`, `min` and `max` skip values that are not numbers (unanswered instances);
//!   `min`/`max` of nothing is NaN, `sum` of nothing is 0.
//! - `string-length` counts Unicode characters (Java counts UTF-16 units, which differs only
//!   for characters outside the Basic Multilingual Plane, such as emoji), and `substr`
//!   indexes characters likewise.
//! - `regex` must match the whole string, like Java's `Pattern.matches`. It uses the `regex`
//!   crate, whose syntax is close to Java's for what forms use, but: look-around (`(?=`,
//!   `(?!`, `(?<=`) and back-references (`\1`) are not supported (a literal pattern using
//!   them is a parse error); Java's possessive quantifiers (`a*+`) read as nested repetition
//!   (`(a*)+`), which can match where Java's would not; and `\d`, `\w`, `\s`, `\b` are
//!   Unicode-aware (`\d` matches Arabic-Indic digits too; Java's are ASCII only; write
//!   `[0-9]` to be strict).
//! - `random()` and `uuid()` are deterministic, drawn from
//!   [`EvalContext::random_seed`] and the call's position in the expression.
//! - `indexed-repeat` with an index below 1 (or NaN) reads instance 1, as JavaRosa does.
//! - `area` and `distance` follow JavaRosa's formulas on a sphere; `geo.rs` gives them, their
//!   error against WGS84 (under 0.7 %) and the inputs they take. An unanswered shape gives 0
//!   (JavaRosa fails); a value that is not a list of points is an
//!   [`EvalError::InvalidArgument`].
//! - `pulldata` asks [`EvalContext::pulldata`], which by default has no attached files, so
//!   that it gives `''` (what ODK Collect gives for a missing file or row).

use super::ast::{Ast, Function, Pattern};
use super::context::EvalContext;
use super::dates::{self, Temporal};
use super::error::EvalError;
use super::eval::Evaluator;
use super::geo::{self, LatLon};
use super::parser::choice_question_name;
use super::value::{Val, parse_number, string_to_number};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use std::borrow::Cow;

/// `uuid(n)` longer than this is refused rather than allocating without bound.
const MAX_UUID_LENGTH: usize = 10_000;

/// A function's implementation. Each is its own small function so that nested calls, which
/// recurse through them, use little stack even in debug builds.
type Implementation = for<'e, 'a> fn(&Args<'e, 'a>) -> Result<Val<'a>, EvalError>;

fn implementation(function: Function) -> Implementation {
    use Function as F;
    match function {
        F::If => if_then_else,
        F::Coalesce => coalesce,
        F::Not => not,
        F::True => |_| Ok(Val::Bool(true)),
        F::False => |_| Ok(Val::Bool(false)),
        F::Boolean => |a| Ok(Val::Bool(a.val(0)?.to_bool())),
        F::Once => once,
        F::Random => |a| Ok(Val::Num(random(a.ev, 0))),
        F::Uuid => |a| uuid(a.ev, 0, a.args.first()),
        F::Position => |a| Ok(Val::Num(a.ev.ctx.position().unwrap_or(1) as f64)),
        F::Concat => concat,
        F::Join => join,
        F::StringLength => string_length,
        F::Substr => substring,
        F::SubstringBefore => substring_before,
        F::SubstringAfter => substring_after,
        F::Contains => |a| Ok(Val::Bool(a.string(0)?.contains(&*a.string(1)?))),
        F::StartsWith => |a| Ok(Val::Bool(a.string(0)?.starts_with(&*a.string(1)?))),
        F::EndsWith => |a| Ok(Val::Bool(a.string(0)?.ends_with(&*a.string(1)?))),
        F::Translate => translate,
        F::NormalizeSpace => normalize_space,
        F::String => |a| Ok(Val::Str(a.string(0)?)),
        F::Regex => regex,
        F::BooleanFromString => boolean_from_string,
        F::Selected => selected,
        F::CountSelected => |a| Ok(Val::Num(choices(&a.string(0)?).count() as f64)),
        F::SelectedAt => selected_at,
        F::ChoiceName => choice_name,
        F::Int
        | F::Number
        | F::Floor
        | F::Ceiling
        | F::Abs
        | F::Sqrt
        | F::Exp
        | F::Exp10
        | F::Log
        | F::Log10
        | F::Sin
        | F::Cos
        | F::Tan
        | F::Asin
        | F::Acos
        | F::Atan => math,
        F::Round => round_function,
        F::Pow => |a| Ok(Val::Num(a.num(0)?.powf(a.num(1)?))),
        F::Atan2 => |a| Ok(Val::Num(a.num(0)?.atan2(a.num(1)?))),
        F::Pi => |_| Ok(Val::Num(std::f64::consts::PI)),
        F::Min | F::Max => extremum,
        F::Sum | F::Count | F::CountNonEmpty => aggregate,
        F::IndexedRepeat => indexed_repeat,
        F::Today => |a| Ok(Val::Date(a.ev.now().date_naive())),
        F::Now => |a| Ok(Val::DateTime(a.ev.now())),
        F::Date | F::DateTime | F::DecimalDateTime | F::DecimalTime | F::FormatDate | F::FormatDateTime => {
            date_function
        }
        F::Area | F::Distance => geometry,
        F::PullData => pulldata,
    }
}

/// Evaluates a call of `function` with unevaluated `args`.
pub(super) fn call<'a>(ev: &Evaluator<'a>, function: Function, args: &'a [Ast]) -> Result<Val<'a>, EvalError> {
    // The parser stores `position(..)` without its only possible argument.
    if function != Function::Position && !function.arity().accepts(args.len()) {
        return Err(EvalError::WrongArity {
            function: function.name(),
            expected: function.arity().describe(),
            got: args.len(),
        });
    }
    implementation(function)(&Args { ev, function, args })
}

/// A call's arguments, evaluated on demand.
struct Args<'e, 'a> {
    ev: &'e Evaluator<'a>,
    function: Function,
    args: &'a [Ast],
}

impl<'a> Args<'_, 'a> {
    fn len(&self) -> usize {
        self.args.len()
    }

    fn node(&self, i: usize) -> Result<&'a Ast, EvalError> {
        self.args.get(i).ok_or_else(|| EvalError::WrongArity {
            function: self.function.name(),
            expected: self.function.arity().describe(),
            got: self.args.len(),
        })
    }

    fn val(&self, i: usize) -> Result<Val<'a>, EvalError> {
        self.ev.eval(self.node(i)?)
    }

    fn num(&self, i: usize) -> Result<f64, EvalError> {
        Ok(self.val(i)?.to_num())
    }

    fn string(&self, i: usize) -> Result<Cow<'a, str>, EvalError> {
        Ok(self.val(i)?.into_str())
    }

    fn invalid(&self, message: impl Into<String>) -> EvalError {
        EvalError::InvalidArgument { function: self.function.name(), message: message.into() }
    }

    fn not_a_date(&self, value: &Val<'_>) -> EvalError {
        EvalError::NotADate { function: self.function.name(), value: value.to_str().into_owned() }
    }
}

/// Java's `(int)` of a double: truncation, NaN to 0, saturating at the `int` range.
fn java_int(n: f64) -> i64 {
    if n.is_nan() { 0 } else { n.trunc().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i64 }
}

/// A sub-slice of a string that may be borrowed from the tree or context, without copying
/// when it is.
fn sub_str<'a>(s: Cow<'a, str>, f: impl for<'x> Fn(&'x str) -> &'x str) -> Cow<'a, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(f(b)),
        Cow::Owned(o) => Cow::Owned(f(&o).to_owned()),
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The choices of a select_multiple answer.
fn choices(list: &str) -> impl Iterator<Item = &str> {
    list.split(is_xml_space).filter(|p| !p.is_empty())
}

fn if_then_else<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    if a.val(0)?.to_bool() { a.val(1) } else { a.val(2) }
}

fn coalesce<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let first = a.val(0)?;
    if first.is_empty_value() { a.val(1) } else { Ok(first) }
}

fn not<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    Ok(Val::Bool(!a.val(0)?.to_bool()))
}

fn once<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let current = a.ev.ctx.current();
    if current.is_empty() { a.val(0) } else { Ok(Val::Str(current)) }
}

fn concat<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    if a.len() == 1 {
        // concat() of a single node-set joins all its nodes (JavaRosa).
        return Ok(match a.val(0)? {
            Val::Nodes(nodes) => Val::owned(nodes.concat()),
            other => Val::Str(other.into_str()),
        });
    }
    let mut out = String::new();
    for i in 0..a.len() {
        out.push_str(&a.val(i)?.to_str());
    }
    Ok(Val::owned(out))
}

fn join<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let separator = a.string(0)?;
    if a.len() == 2 {
        return Ok(match a.val(1)? {
            Val::Nodes(nodes) => Val::owned(nodes.join(&separator)),
            other => Val::Str(other.into_str()),
        });
    }
    let mut out = String::new();
    for i in 1..a.len() {
        if i > 1 {
            out.push_str(&separator);
        }
        out.push_str(&a.val(i)?.to_str());
    }
    Ok(Val::owned(out))
}

fn string_length<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let length = if a.len() == 0 { a.ev.ctx.current().chars().count() } else { a.val(0)?.to_str().chars().count() };
    Ok(Val::Num(length as f64))
}

fn substring<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let s = a.string(0)?;
    let start = java_int(a.num(1)?);
    let end = if a.len() == 3 { Some(java_int(a.num(2)?)) } else { None };
    Ok(Val::Str(sub_str(s, |s| substr(s, start, end))))
}

fn substring_before<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let s = a.string(0)?;
    let t = a.string(1)?;
    Ok(Val::Str(sub_str(s, |s| s.find(&*t).map_or("", |i| &s[..i]))))
}

fn substring_after<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let s = a.string(0)?;
    let t = a.string(1)?;
    Ok(Val::Str(sub_str(s, |s| s.find(&*t).map_or("", |i| &s[i + t.len()..]))))
}

fn translate<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let s = a.string(0)?;
    let from: Vec<char> = a.string(1)?.chars().collect();
    let to: Vec<char> = a.string(2)?.chars().collect();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match from.iter().position(|&f| f == c) {
            None => out.push(c),
            Some(i) => out.extend(to.get(i)),
        }
    }
    Ok(Val::owned(out))
}

fn normalize_space<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let s = if a.len() == 0 { a.ev.ctx.current() } else { a.string(0)? };
    let mut out = String::with_capacity(s.len());
    for word in s.split(is_xml_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Ok(Val::owned(out))
}

fn regex<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let subject = a.string(0)?;
    let source = a.string(1)?;
    let pattern = Pattern::new(&source)
        .map_err(|message| EvalError::BadRegex { pattern: source.clone().into_owned(), message })?;
    Ok(Val::Bool(pattern.is_match(&subject)))
}

fn boolean_from_string<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let s = a.string(0)?;
    Ok(Val::Bool(s.eq_ignore_ascii_case("true") || &*s == "1"))
}

/// JavaRosa's `substr`: 0-based, end exclusive, negative positions count from the end,
/// everything clamped to the string.
fn substr(s: &str, start: i64, end: Option<i64>) -> &str {
    let len = s.chars().count() as i64;
    let from_end = |i: i64| if i < 0 { len + i } else { i };
    let end = end.map_or(len, from_end).clamp(0, len);
    let start = from_end(start).clamp(0, len);
    if start >= end {
        return "";
    }
    let byte = |char_index: i64| s.char_indices().nth(char_index as usize).map_or(s.len(), |(b, _)| b);
    let (from, to) = (byte(start), byte(end));
    s.get(from..to).unwrap_or("")
}

fn selected<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let list = a.string(0)?;
    let wanted = a.string(1)?;
    let wanted = wanted.trim();
    Ok(Val::Bool(choices(&list).any(|c| c == wanted)))
}

fn selected_at<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let list = a.string(0)?;
    let index = usize::try_from(java_int(a.num(1)?)).ok();
    Ok(Val::Str(sub_str(list, |l| index.and_then(|i| choices(l).nth(i)).unwrap_or(""))))
}

fn choice_name<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let code = a.string(0)?;
    let question = a.string(1)?;
    let Some(name) = choice_question_name(&question) else {
        return Err(a.invalid(format!("`{question}` is not a question name; write it in quotes, like '${{question}}'")));
    };
    Ok(match a.ev.ctx.choice_label(name, code.trim()) {
        Some(label) => Val::Str(label),
        None => Val::str(""),
    })
}

fn math<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    use Function as F;
    let x = a.num(0)?;
    Ok(Val::Num(match a.function {
        F::Int => x.trunc(),
        F::Floor => x.floor(),
        F::Ceiling => x.ceil(),
        F::Abs => x.abs(),
        F::Sqrt => x.sqrt(),
        F::Exp => x.exp(),
        F::Exp10 => 10f64.powf(x),
        F::Log => x.ln(),
        F::Log10 => x.log10(),
        F::Sin => x.sin(),
        F::Cos => x.cos(),
        F::Tan => x.tan(),
        F::Asin => x.asin(),
        F::Acos => x.acos(),
        F::Atan => x.atan(),
        // number()
        _ => x,
    }))
}

fn round_function<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let digits = if a.len() == 2 { a.num(1)? } else { 0.0 };
    Ok(Val::Num(round(a.num(0)?, digits)))
}

fn extremum<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let is_max = a.function == Function::Max;
    let mut best: Option<f64> = None;
    let mut consider = |n: f64| {
        if !n.is_nan() {
            best = Some(match best {
                None => n,
                Some(b) if is_max => b.max(n),
                Some(b) => b.min(n),
            });
        }
    };
    if a.len() == 1 {
        match a.val(0)? {
            Val::Nodes(nodes) => nodes.iter().for_each(|s| consider(string_to_number(s))),
            other => consider(other.to_num()),
        }
    } else {
        for i in 0..a.len() {
            consider(a.num(i)?);
        }
    }
    Ok(Val::Num(best.unwrap_or(f64::NAN)))
}

/// `round(x, digits)` as described in the module documentation.
pub(super) fn round(x: f64, digits: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let places = java_int(digits);
    if !(-30..=30).contains(&places) {
        return f64::NAN;
    }
    if places < 0 {
        let scale = 10f64.powi(-places as i32);
        return ((x / scale) + 0.5).floor() * scale;
    }
    let places = places as usize;
    let text = format!("{}", x.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if fraction.len() <= places {
        return x;
    }
    let (kept, dropped) = fraction.split_at(places);
    let mut dropped = dropped.bytes();
    let up = match dropped.next() {
        Some(b'6'..=b'9') => true,
        Some(b'5') if dropped.any(|b| b != b'0') => true,
        // An exact half: away from zero for positive numbers, toward zero for negative ones.
        Some(b'5') => x > 0.0,
        _ => false,
    };
    let mut digits: Vec<u8> = whole.bytes().chain(kept.bytes()).collect();
    if up {
        let mut carry = true;
        for d in digits.iter_mut().rev() {
            if *d == b'9' {
                *d = b'0';
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            digits.insert(0, b'1');
        }
    }
    let split = digits.len() - places;
    let (int_digits, frac_digits) = digits.split_at(split);
    let rounded = format!("{}.{}0", String::from_utf8_lossy(int_digits), String::from_utf8_lossy(frac_digits));
    let magnitude: f64 = rounded.parse().unwrap_or(f64::NAN);
    if x < 0.0 { -magnitude } else { magnitude }
}

/// `count`, `count-non-empty` and `sum`.
fn aggregate<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let value = a.val(0)?;
    let one;
    let nodes: &[String] = match &value {
        Val::Nodes(nodes) => nodes,
        // `.` is a single node.
        Val::Str(s) => {
            one = [s.to_string()];
            &one
        }
        _ => return Err(a.invalid("the argument must be a reference such as ${field}")),
    };
    Ok(Val::Num(match a.function {
        Function::Count => nodes.len() as f64,
        Function::CountNonEmpty => nodes.iter().filter(|s| !s.is_empty()).count() as f64,
        _ => nodes.iter().map(|s| string_to_number(s)).filter(|n| !n.is_nan()).sum(),
    }))
}

fn indexed_repeat<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let reference = |i: usize| match a.node(i)? {
        Ast::Reference(name) => Ok(name.as_str()),
        _ => Err(a.invalid(format!("argument {} must be a reference such as ${{name}}", i + 1))),
    };
    let field = reference(0)?;
    let mut repeats = [("", 0usize); 5];
    let mut count = 0;
    for (slot, i) in repeats.iter_mut().zip((1..a.len()).step_by(2)) {
        let index = java_int(a.num(i + 1)?);
        *slot = (reference(i)?, usize::try_from(index).unwrap_or(0).max(1));
        count += 1;
    }
    Ok(match a.ev.ctx.indexed(field, &repeats[..count]) {
        Some(value) => Val::Str(value),
        None => Val::Nodes(Cow::Borrowed(&[])),
    })
}

/// `area` and `distance`. The argument is a geoshape or geotrace (one value of points
/// separated by `;`), or a geopoint inside a repeat (one point per instance).
fn geometry<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let value = a.val(0)?;
    let mut points: Vec<LatLon> = Vec::new();
    let not_points = |piece: &str| {
        a.invalid(format!(
            "`{piece}` is not a GPS location; expected \"latitude longitude altitude accuracy\", \
             several separated by ';'"
        ))
    };
    match &value {
        // Several nodes: one geopoint each, as JavaRosa reads a repeated geopoint.
        Val::Nodes(nodes) if nodes.len() > 1 => {
            for node in nodes.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                points.push(geo::parse_point(node).ok_or_else(|| not_points(node))?);
            }
        }
        other => geo::parse_points(&other.to_str(), &mut points).map_err(not_points)?,
    }
    Ok(Val::Num(match a.function {
        Function::Area => geo::enclosed_area(&points),
        _ => geo::path_length(&points),
    }))
}

/// `pulldata(file, column, key_column, key)`.
fn pulldata<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    let file = a.string(0)?;
    let column = a.string(1)?;
    let key_column = a.string(2)?;
    let key = a.string(3)?;
    Ok(match a.ev.ctx.pulldata(&file, &column, &key_column, &key) {
        Some(value) => Val::Str(value),
        None => Val::str(""),
    })
}

/// `date`, `date-time`, `decimal-date-time`, `decimal-time`, `format-date` and
/// `format-date-time`.
fn date_function<'a>(a: &Args<'_, 'a>) -> Result<Val<'a>, EvalError> {
    use Function as F;
    let value = a.val(0)?;
    // '' and NaN stand for "no date" and pass through, as in JavaRosa.
    if value.is_empty_value() {
        return Ok(match a.function {
            F::FormatDate | F::FormatDateTime => Val::str(""),
            _ => value,
        });
    }
    let number = match &value {
        Val::Num(n) => Some(*n),
        Val::Str(_) | Val::Nodes(_) => parse_number(&value.to_str()),
        _ => None,
    };
    let local = a.ev.local_offset();
    Ok(match a.function {
        F::Date => match number {
            Some(n) => Val::Date(dates::date_from_days(n).ok_or_else(|| a.not_a_date(&value))?),
            // A time of day has no date (JavaRosa fails the same way).
            None if matches!(&value, Val::Str(_) | Val::Nodes(_))
                && matches!(dates::parse(&value.to_str()), Some(Temporal::Time(..))) =>
            {
                return Err(a.not_a_date(&value));
            }
            None => Val::Date(to_local(a, &value, local)?.0.date()),
        },
        F::DateTime => {
            let (wall, offset) = to_local(a, &value, local)?;
            Val::DateTime(dates::at_offset(wall, offset.unwrap_or(local)).ok_or_else(|| a.not_a_date(&value))?)
        }
        F::DecimalDateTime => match number {
            Some(n) => Val::Num(n),
            None => {
                let (wall, offset) = to_local(a, &value, local)?;
                let instant = dates::at_offset(wall, offset.unwrap_or(local)).ok_or_else(|| a.not_a_date(&value))?;
                Val::Num(dates::instant_days(&instant))
            }
        },
        F::DecimalTime => match number {
            Some(n) => Val::Num(n - n.floor()),
            None => Val::Num(dates::fraction_of_day(to_local(a, &value, local)?.0.time())),
        },
        _ => {
            let (wall, _) = to_local(a, &value, local)?;
            Val::owned(dates::format(wall, &a.string(1)?))
        }
    })
}

/// A date-like value as local wall-clock time, with its UTC offset when it has one.
fn to_local(
    a: &Args<'_, '_>,
    value: &Val<'_>,
    local: FixedOffset,
) -> Result<(NaiveDateTime, Option<FixedOffset>), EvalError> {
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    let on_epoch_day = |t: NaiveTime| NaiveDate::from_ymd_opt(1970, 1, 1).map(|d| d.and_time(t));
    let found = match value {
        Val::Date(d) => Some((midnight(*d), None)),
        Val::DateTime(dt) => Some((dt.naive_local(), Some(*dt.offset()))),
        Val::Num(n) => dates::datetime_from_days(*n, local).map(|dt| (dt.naive_local(), Some(local))),
        Val::Bool(_) => None,
        Val::Str(_) | Val::Nodes(_) => {
            let text = value.to_str();
            match parse_number(&text) {
                Some(n) => {
                    dates::datetime_from_days(n, local).map(|dt: DateTime<FixedOffset>| (dt.naive_local(), Some(local)))
                }
                None => match dates::parse(&text) {
                    Some(Temporal::Date(d)) => Some((midnight(d), None)),
                    Some(Temporal::DateTime(wall, offset)) => Some((wall, offset)),
                    Some(Temporal::Time(t, offset)) => on_epoch_day(t).map(|wall| (wall, offset)),
                    None => None,
                },
            }
        }
    };
    found.ok_or_else(|| a.not_a_date(value))
}

/// SplitMix64: tiny, well mixed, and enough for survey sampling.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn seed_for(ctx: &dyn EvalContext, site: u32, domain: u64) -> u64 {
    ctx.random_seed() ^ (u64::from(site) + 1).wrapping_mul(0xD1B5_4A32_D192_ED03) ^ domain
}

/// `random()`: uniform in [0, 1), fixed for a given seed and call site.
pub(super) fn random(ev: &Evaluator<'_>, site: u32) -> f64 {
    let mut state = seed_for(ev.ctx, site, 0);
    (split_mix(&mut state) >> 11) as f64 / (1u64 << 53) as f64
}

/// `uuid()`: a version 4 UUID; `uuid(n)`: `n` random letters and digits. Fixed for a given
/// seed and call site.
pub(super) fn uuid<'a>(ev: &Evaluator<'a>, site: u32, length: Option<&'a Ast>) -> Result<Val<'a>, EvalError> {
    let mut state = seed_for(ev.ctx, site, 0x5555_5555_5555_5555);
    let Some(length) = length else {
        let high = split_mix(&mut state);
        let low = split_mix(&mut state);
        let bits = (u128::from(high) << 64 | u128::from(low)) & !(0xF000u128 << 64) & !(0xC000u128 << 48);
        let bits = bits | (0x4000u128 << 64) | (0x8000u128 << 48);
        let hex = format!("{bits:032x}");
        return Ok(Val::owned(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )));
    };
    let n = java_int(ev.eval(length)?.to_num()).max(0) as usize;
    if n > MAX_UUID_LENGTH {
        return Err(EvalError::InvalidArgument {
            function: "uuid",
            message: format!("a length of {n} is too long (at most {MAX_UUID_LENGTH})"),
        });
    }
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let text: String =
        (0..n).map(|_| ALPHABET[(split_mix(&mut state) % ALPHABET.len() as u64) as usize] as char).collect();
    Ok(Val::owned(text))
}
