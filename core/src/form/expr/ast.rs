//! The syntax tree of a parsed expression.
//!
//! Function names are resolved to [`Function`] while parsing, and literal regular expressions are
//! compiled then, so evaluating a tree never looks a name up or compiles anything. The tree
//! prints back (`Display`) as an equivalent expression with every operation parenthesised; the
//! original text is kept by [`Expression`](super::Expression).

use std::fmt;

/// A node of the syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// `instance('villages')/root/item[…]/column`: a lookup in a list (see [`InstancePath`]).
    Instance(Box<InstancePath>),
    /// A number literal such as `3`, `3.5` or `.5`. Literals are never negative: `-3` is
    /// `Negate(Number(3.0))`.
    Number(f64),
    /// A string literal, without its quotes (XPath strings have no escapes).
    String(String),
    /// `${name}`: a question, group or repeat of the form.
    Reference(String),
    /// `.`: the question being evaluated (used in constraints).
    Current,
    /// A bare name in a choice filter (see
    /// [`Expression::parse_choice_filter`](super::Expression::parse_choice_filter)): a column
    /// of the choice being filtered, such as `name` or a custom `region` column.
    ChoiceColumn(String),
    /// Unary minus.
    Negate(Box<Ast>),
    /// A binary operation. Chains such as `a + b + c` nest to the left.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        lhs: Box<Ast>,
        /// The right operand.
        rhs: Box<Ast>,
    },
    /// A call of a built-in function, whose argument count the parser has checked.
    ///
    /// `position(..)` is represented with no arguments, since `..` is the only argument it
    /// accepts.
    Call {
        /// The function.
        function: Function,
        /// The arguments, in order.
        args: Vec<Ast>,
    },
    /// `regex(subject, 'literal pattern')`, with the pattern compiled at parse time. A pattern
    /// that is not a literal stays a [`Ast::Call`] of [`Function::Regex`].
    Regex {
        /// The string to test.
        subject: Box<Ast>,
        /// The compiled pattern.
        pattern: Pattern,
    },
    /// `random()`. `site` numbers the `random()` calls of one expression in source order, so
    /// that `random() + random()` draws two different numbers from the same seed.
    Random {
        /// Which `random()`/`uuid()` call of the expression this is, from 0.
        site: u32,
    },
    /// `uuid()` or `uuid(length)`, numbered like [`Ast::Random`].
    Uuid {
        /// Which `random()`/`uuid()` call of the expression this is, from 0.
        site: u32,
        /// The length argument, if any.
        length: Option<Box<Ast>>,
    },
}

/// A binary operator, listed from the loosest binding to the tightest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `div`
    Div,
    /// `mod`
    Mod,
}

impl BinaryOp {
    /// The operator as written in an expression.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "div",
            BinaryOp::Mod => "mod",
        }
    }

    /// Binding strength, higher binds tighter (XPath 1.0 order).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 6,
        }
    }
}

/// How many arguments a function accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exactly(usize),
    /// From `.0` to `.1`, inclusive.
    Between(usize, usize),
    /// This many or more.
    AtLeast(usize),
    /// 3, 5, 7, 9 or 11: `indexed-repeat`'s field followed by (repeat, index) pairs.
    IndexedRepeat,
}

impl Arity {
    /// Whether `n` arguments are accepted.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exactly(k) => n == k,
            Arity::Between(lo, hi) => (lo..=hi).contains(&n),
            Arity::AtLeast(lo) => n >= lo,
            Arity::IndexedRepeat => (3..=11).contains(&n) && n % 2 == 1,
        }
    }

    /// The accepted counts in words, for error messages.
    pub fn describe(self) -> String {
        fn args(n: usize) -> &'static str {
            if n == 1 { "argument" } else { "arguments" }
        }
        match self {
            Arity::Exactly(k) => format!("{k} {}", args(k)),
            Arity::Between(lo, hi) if hi == lo + 1 => format!("{lo} or {hi} {}", args(hi)),
            Arity::Between(lo, hi) => format!("{lo} to {hi} arguments"),
            Arity::AtLeast(lo) => format!("at least {lo} {}", args(lo)),
            Arity::IndexedRepeat => "3, 5, 7, 9 or 11 arguments".to_owned(),
        }
    }
}

macro_rules! functions {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $arity:expr; )*) => {
        /// A built-in function of the XLSForm expression language.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Function {
            $( $(#[$doc])* $variant, )*
        }

        impl Function {
            /// Every function, for documentation and tests.
            pub const ALL: &'static [Function] = &[$(Function::$variant),*];

            /// The function's name as written in XLSForm.
            pub fn name(self) -> &'static str {
                match self { $(Function::$variant => $name,)* }
            }

            /// The argument counts the function accepts.
            pub fn arity(self) -> Arity {
                match self { $(Function::$variant => $arity,)* }
            }

            /// The function called `name`, if it is a built-in.
            pub fn from_name(name: &str) -> Option<Function> {
                match name {
                    $($name => Some(Function::$variant),)*
                    // JavaRosa's older spelling of selected().
                    "is-selected" => Some(Function::Selected),
                    // JavaRosa's older name of area().
                    "enclosed-area" => Some(Function::Area),
                    _ => None,
                }
            }
        }
    };
}

use Arity::{AtLeast, Between, Exactly, IndexedRepeat as IndexedRepeatArity};

functions! {
    /// `if(condition, then, else)`, evaluating only the branch taken.
    If = "if", Exactly(3);
    /// `coalesce(a, b)`: `a` unless it is empty (or NaN), else `b`.
    Coalesce = "coalesce", Exactly(2);
    /// `selected(${select_multiple}, 'choice')`.
    Selected = "selected", Exactly(2);
    /// `count-selected(${select_multiple})`.
    CountSelected = "count-selected", Exactly(1);
    /// `selected-at(${select_multiple}, n)`: the n-th choice, from 0.
    SelectedAt = "selected-at", Exactly(2);
    /// `jr:choice-name(code, '${select}')`: the label of a choice in the current language.
    ChoiceName = "jr:choice-name", Exactly(2);
    /// `string-length(s)`, or of `.` without argument.
    StringLength = "string-length", Between(0, 1);
    /// `concat(...)`.
    Concat = "concat", AtLeast(0);
    /// `substr(s, start[, end])`, 0-based, end exclusive, negative from the end.
    Substr = "substr", Between(2, 3);
    /// `substring-before(s, t)`.
    SubstringBefore = "substring-before", Exactly(2);
    /// `substring-after(s, t)`.
    SubstringAfter = "substring-after", Exactly(2);
    /// `contains(s, t)`.
    Contains = "contains", Exactly(2);
    /// `starts-with(s, t)`.
    StartsWith = "starts-with", Exactly(2);
    /// `ends-with(s, t)`.
    EndsWith = "ends-with", Exactly(2);
    /// `translate(s, from, to)`.
    Translate = "translate", Exactly(3);
    /// `normalize-space(s)`, or of `.` without argument.
    NormalizeSpace = "normalize-space", Between(0, 1);
    /// `regex(s, pattern)`: whether the whole of `s` matches.
    Regex = "regex", Exactly(2);
    /// `int(x)`: truncates toward zero.
    Int = "int", Exactly(1);
    /// `number(x)`.
    Number = "number", Exactly(1);
    /// `string(x)`.
    String = "string", Exactly(1);
    /// `boolean(x)`.
    Boolean = "boolean", Exactly(1);
    /// `boolean-from-string(s)`: true for `'true'` (any case) and `'1'`.
    BooleanFromString = "boolean-from-string", Exactly(1);
    /// `round(x[, digits])`.
    Round = "round", Between(1, 2);
    /// `floor(x)`.
    Floor = "floor", Exactly(1);
    /// `ceiling(x)`.
    Ceiling = "ceiling", Exactly(1);
    /// `abs(x)`.
    Abs = "abs", Exactly(1);
    /// `pow(x, y)`.
    Pow = "pow", Exactly(2);
    /// `sqrt(x)`.
    Sqrt = "sqrt", Exactly(1);
    /// `exp(x)`.
    Exp = "exp", Exactly(1);
    /// `exp10(x)`.
    Exp10 = "exp10", Exactly(1);
    /// `log(x)`: natural logarithm.
    Log = "log", Exactly(1);
    /// `log10(x)`.
    Log10 = "log10", Exactly(1);
    /// `sin(x)`, radians.
    Sin = "sin", Exactly(1);
    /// `cos(x)`, radians.
    Cos = "cos", Exactly(1);
    /// `tan(x)`, radians.
    Tan = "tan", Exactly(1);
    /// `asin(x)`.
    Asin = "asin", Exactly(1);
    /// `acos(x)`.
    Acos = "acos", Exactly(1);
    /// `atan(x)`.
    Atan = "atan", Exactly(1);
    /// `atan2(y, x)`.
    Atan2 = "atan2", Exactly(2);
    /// `pi()`.
    Pi = "pi", Exactly(0);
    /// `min(...)`: of all nodes of a single node-set argument, or of all arguments.
    Min = "min", AtLeast(1);
    /// `max(...)`, like `min`.
    Max = "max", AtLeast(1);
    /// `sum(${field})`: over all instances, skipping empty values.
    Sum = "sum", Exactly(1);
    /// `count(${field_or_repeat})`.
    Count = "count", Exactly(1);
    /// `count-non-empty(${field})`.
    CountNonEmpty = "count-non-empty", Exactly(1);
    /// `not(x)`.
    Not = "not", Exactly(1);
    /// `true()`.
    True = "true", Exactly(0);
    /// `false()`.
    False = "false", Exactly(0);
    /// `today()`: the current date.
    Today = "today", Exactly(0);
    /// `now()`: the current dateTime.
    Now = "now", Exactly(0);
    /// `date(x)`: a date from a string or a number of days since 1970-01-01.
    Date = "date", Exactly(1);
    /// `date-time(x)`: a dateTime from a string or a number of days since the epoch.
    DateTime = "date-time", Exactly(1);
    /// `decimal-date-time(x)`: days (with fraction) since 1970-01-01T00:00Z.
    DecimalDateTime = "decimal-date-time", Exactly(1);
    /// `decimal-time(x)`: the fraction of the day of a time or dateTime.
    DecimalTime = "decimal-time", Exactly(1);
    /// `format-date(date, format)`.
    FormatDate = "format-date", Exactly(2);
    /// `format-date-time(dateTime, format)`: the same as `format-date`.
    FormatDateTime = "format-date-time", Exactly(2);
    /// `position(..)`: the 1-based index of the current repeat instance.
    Position = "position", Exactly(1);
    /// `once(x)`: the current value of `.` if it has one, else `x`.
    Once = "once", Exactly(1);
    /// `join(separator, ${field})` or `join(separator, a, b, ...)`.
    Join = "join", AtLeast(1);
    /// `indexed-repeat(${field}, ${repeat}, n[, ${repeat2}, n2 ...])`.
    IndexedRepeat = "indexed-repeat", IndexedRepeatArity;
    /// `random()`: a number in [0, 1), deterministic per survey.
    Random = "random", Exactly(0);
    /// `uuid()` or `uuid(length)`, deterministic per survey.
    Uuid = "uuid", Between(0, 1);
    /// `area(${geoshape})`: the area a shape encloses, in square metres, as ODK Collect
    /// computes it (see `geo.rs`). `enclosed-area` is another name for it.
    Area = "area", Exactly(1);
    /// `distance(${geotrace})`: the length of a path (or of a shape's outline), in metres,
    /// as ODK Collect computes it (see `geo.rs`).
    Distance = "distance", Exactly(1);
    /// `pulldata('file', 'column', 'key_column', key)`: the `column` of the row whose
    /// `key_column` is `key` in the CSV file attached to the form, through
    /// [`EvalContext::pulldata`](super::EvalContext::pulldata); `''` when there is none.
    PullData = "pulldata", Exactly(4);
}

/// A regular expression compiled from a literal pattern at parse time.
///
/// Compares equal to another `Pattern` with the same source text.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

/// Compiled regexes are capped well below the crate's default so that a pattern written in a
/// form (or computed from answers) cannot make an evaluation allocate or compile for long.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Pattern {
    /// Compiles `source` so that it must match the whole subject, as Java's `Pattern.matches`
    /// does in ODK Collect. The error is a one-line description.
    pub fn new(source: &str) -> Result<Pattern, String> {
        let anchored = format!(r"\A(?:{source})\z");
        regex::RegexBuilder::new(&anchored)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(|regex| Pattern { source: source.to_owned(), regex })
            .map_err(|e| describe_regex_error(&e))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `subject` matches.
    pub fn is_match(&self, subject: &str) -> bool {
        self.regex.is_match(subject)
    }
}

/// The regex crate's syntax errors span several lines with a caret diagram pointing into our
/// anchored wrapper, which would confuse an author; keep only the sentence saying what is wrong.
fn describe_regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .find_map(|l| l.trim().strip_prefix("error:"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| text.lines().last().unwrap_or("syntax error").trim().to_owned()),
        regex::Error::CompiledTooBig(_) => "the pattern is too large".to_owned(),
        other => other.to_string(),
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

fn write_string_literal(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    // XPath has no escapes; a string holding both quote kinds cannot be written as a literal,
    // so it is printed as a concat() of pieces that can.
    if !s.contains('\'') {
        write!(f, "'{s}'")
    } else if !s.contains('"') {
        write!(f, "\"{s}\"")
    } else {
        f.write_str("concat(")?;
        for (i, piece) in s.split('\'').enumerate() {
            if i > 0 {
                f.write_str(", \"'\", ")?;
            }
            write!(f, "'{piece}'")?;
        }
        f.write_str(")")
    }
}

impl Ast {
    /// The subtrees directly under this node, in source order: what every walk of a tree
    /// (references, lookups, choice columns) descends into.
    pub fn children(&self) -> Vec<&Ast> {
        match self {
            Ast::Number(_)
            | Ast::String(_)
            | Ast::Reference(_)
            | Ast::Current
            | Ast::ChoiceColumn(_)
            | Ast::Random { .. } => Vec::new(),
            Ast::Negate(inner) => vec![inner],
            Ast::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            Ast::Call { args, .. } => args.iter().collect(),
            Ast::Regex { subject, .. } => vec![subject],
            Ast::Uuid { length, .. } => length.iter().map(|l| &**l).collect(),
            Ast::Instance(path) => path.predicates.iter().collect(),
        }
    }
}

/// A lookup in a list: the items of the list the form calls `instance` (its choices sheet's
/// list of that name, or the file `instance.csv`, `.xml` or `.geojson` it reads) that every
/// predicate keeps, and their `column`. In a predicate, bare names are the item's columns
/// (as in a choice filter) and a number keeps the item at that position.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePath {
    /// The list's name, as `instance('…')` gives it.
    pub instance: String,
    /// The predicates, in order.
    pub predicates: Vec<Ast>,
    /// The column read (`label`, `population`), or none for the items themselves (their
    /// `name`, as `count()` needs).
    pub column: Option<String>,
}

fn write_operand(f: &mut fmt::Formatter<'_>, ast: &Ast) -> fmt::Result {
    match ast {
        Ast::Binary { .. } => write!(f, "({ast})"),
        _ => write!(f, "{ast}"),
    }
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ast::Number(n) if n.is_nan() => f.write_str("(0 div 0)"),
            Ast::Number(n) if n.is_infinite() => f.write_str(if *n > 0.0 { "(1 div 0)" } else { "(-1 div 0)" }),
            Ast::Number(n) if *n < 0.0 => write!(f, "(-{})", -n),
            // Rust prints the shortest round-tripping decimal without exponent: valid XPath.
            Ast::Number(n) => write!(f, "{n}"),
            Ast::String(s) => write_string_literal(f, s),
            Ast::Reference(name) => write!(f, "${{{name}}}"),
            Ast::Current => f.write_str("."),
            Ast::ChoiceColumn(column) => f.write_str(column),
            Ast::Instance(path) => {
                f.write_str("instance(")?;
                write_string_literal(f, &path.instance)?;
                f.write_str(")/root/item")?;
                for predicate in &path.predicates {
                    write!(f, "[{predicate}]")?;
                }
                match &path.column {
                    Some(column) => write!(f, "/{column}"),
                    None => Ok(()),
                }
            }
            Ast::Negate(inner) => {
                f.write_str("-")?;
                write_operand(f, inner)
            }
            Ast::Binary { op, lhs, rhs } => {
                write_operand(f, lhs)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, rhs)
            }
            Ast::Call { function: Function::Position, args } if args.is_empty() => f.write_str("position(..)"),
            Ast::Call { function, args } => {
                write!(f, "{}(", function.name())?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            Ast::Regex { subject, pattern } => {
                write!(f, "regex({subject}, ")?;
                write_string_literal(f, pattern.as_str())?;
                f.write_str(")")
            }
            Ast::Random { .. } => f.write_str("random()"),
            Ast::Uuid { length: None, .. } => f.write_str("uuid()"),
            Ast::Uuid { length: Some(length), .. } => write!(f, "uuid({length})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_name_round_trips() {
        for f in Function::ALL {
            assert_eq!(Function::from_name(f.name()), Some(*f), "{f:?}");
        }
        assert_eq!(Function::from_name("is-selected"), Some(Function::Selected));
        assert_eq!(Function::from_name("enclosed-area"), Some(Function::Area));
        assert_eq!(Function::from_name("IF"), None);
    }

    #[test]
    fn arity_descriptions() {
        assert_eq!(Arity::Exactly(1).describe(), "1 argument");
        assert_eq!(Arity::Exactly(3).describe(), "3 arguments");
        assert_eq!(Arity::Between(2, 3).describe(), "2 or 3 arguments");
        assert_eq!(Arity::AtLeast(1).describe(), "at least 1 argument");
        assert!(Arity::IndexedRepeat.accepts(5));
        assert!(!Arity::IndexedRepeat.accepts(4));
        assert!(!Arity::IndexedRepeat.accepts(13));
    }

    #[test]
    fn pattern_matches_whole_subject() {
        let p = Pattern::new("[0-9]+").unwrap();
        assert!(p.is_match("123"));
        assert!(!p.is_match("a123"));
        assert!(!p.is_match("123\n"));
        // An alternation must not escape the anchors.
        let p = Pattern::new("a|b").unwrap();
        assert!(!p.is_match("ax"));
        assert!(p.is_match("b"));
    }

    #[test]
    fn pattern_errors_are_one_line() {
        let e = Pattern::new("(ab").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("unclosed"), "{e}");
        let e = Pattern::new("a(?=b)").unwrap_err();
        assert!(e.contains("look-around"), "{e}");
        assert!(Pattern::new(r"(a)\1").is_err());
        // Java's possessive `a*+` is a nested repetition here, documented in functions.rs.
        assert!(Pattern::new("a*+a").unwrap().is_match("aa"));
    }

    #[test]
    fn patterns_forms_commonly_use() {
        for (pattern, yes, no) in [
            (r"^\d{10}$", "0712345678", "071234567"),
            ("^[A-Za-z ]+$", "Ana Lima", "Ana1"),
            ("[0-9]{3}-[0-9]{4}", "555-1234", "5551234"),
            ("^.{0,5}$", "héllo", "toolong"),
            (r"[\p{L} '-]+", "Zoë O'Neil", "R2D2"),
            ("(?i)yes|no", "YES", "maybe"),
        ] {
            let p = Pattern::new(pattern).unwrap();
            assert!(p.is_match(yes), "{pattern} {yes}");
            assert!(!p.is_match(no), "{pattern} {no}");
        }
    }

    #[test]
    fn display_of_awkward_literals() {
        let s = Ast::String("it's \"x\"".into()).to_string();
        assert_eq!(s, "concat('it', \"'\", 's \"x\"')");
        assert_eq!(Ast::Number(0.5).to_string(), "0.5");
        assert_eq!(Ast::Number(1e21).to_string(), "1000000000000000000000");
    }
}
