//! `$filter` for feeds: comparisons of a survey's submission time, start time, review
//! status, form status or author with a literal, joined by `and`, `or`, `not` and
//! parentheses. ODK Central's names (`__system/submissionDate`, `__system/reviewState`…)
//! are accepted too, so that queries written for Central work unchanged.
//!
//! A filter is text from outside: its length and nesting are bounded before it is parsed,
//! and anything else is refused with what is accepted.

use chrono::{DateTime, Utc};
use terrain_core::store::SurveySummary;

use crate::parse_time;

/// The longest `$filter` accepted.
pub const MAX_LENGTH: usize = 2048;
/// The deepest nesting of parentheses and `not` accepted.
pub const MAX_DEPTH: usize = 32;

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// It does not hold.
    Not(Box<Filter>),
    /// A comparison.
    Compare(Field, Op, Literal),
}

/// What a filter can look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// When the server last received a change (`_submission_time`).
    SubmissionTime,
    /// When the survey was started (`_start`).
    Start,
    /// The review status (`_review_status`).
    ReviewStatus,
    /// Draft or finalized (`_status`).
    Status,
    /// Who started it (`_submitted_by`).
    SubmittedBy,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
}

/// A literal compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A point in time (a date is its midnight, UTC).
    Time(DateTime<Utc>),
    /// Text.
    Text(String),
}

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("$filter: {0}")]
pub struct FilterError(String);

fn err<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(message.into()))
}

impl Filter {
    /// Parses a `$filter` expression.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > MAX_LENGTH {
            return err(format!("longer than {MAX_LENGTH} characters"));
        }
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0, depth: 0 };
        let filter = parser.or()?;
        match parser.tokens.get(parser.at) {
            None => Ok(filter),
            Some(t) => err(format!("unexpected `{}`", t.text())),
        }
    }

    /// Whether `summary` passes.
    pub fn matches(&self, summary: &SurveySummary) -> bool {
        match self {
            Filter::And(a, b) => a.matches(summary) && b.matches(summary),
            Filter::Or(a, b) => a.matches(summary) || b.matches(summary),
            Filter::Not(a) => !a.matches(summary),
            Filter::Compare(field, op, literal) => {
                let ordering = match (field, literal) {
                    (Field::SubmissionTime, Literal::Time(t)) => summary.updated_at.cmp(t),
                    (Field::Start, Literal::Time(t)) => summary.created_at.cmp(t),
                    (Field::ReviewStatus, Literal::Text(s)) => summary.review_status.as_str().cmp(s.as_str()),
                    (Field::Status, Literal::Text(s)) => summary.status.as_str().cmp(s.as_str()),
                    (Field::SubmittedBy, Literal::Text(s)) => summary.created_by.as_str().cmp(s.as_str()),
                    // Refused when parsed.
                    _ => return false,
                };
                match op {
                    Op::Eq => ordering.is_eq(),
                    Op::Ne => ordering.is_ne(),
                    Op::Lt => ordering.is_lt(),
                    Op::Le => ordering.is_le(),
                    Op::Gt => ordering.is_gt(),
                    Op::Ge => ordering.is_ge(),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Word(w) => w.clone(),
            Token::Quoted(q) => format!("'{q}'"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                tokens.push(if c == '(' { Token::Open } else { Token::Close });
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return err("a quoted text is not closed: end it with '"),
                        // OData doubles a quote inside a string.
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => s.push(c),
                    }
                }
                tokens.push(Token::Quoted(s));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '\'' {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(w));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn deeper(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(format!("nested deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.keyword("not") {
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            self.deeper()?;
            let inner = self.or()?;
            self.depth -= 1;
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return err("a parenthesis is not closed");
            }
            self.at += 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Filter, FilterError> {
        let field = match self.tokens.get(self.at) {
            Some(Token::Word(w)) => field(w)?,
            Some(t) => return err(format!("expected a property, found `{}`", t.text())),
            None => return err("expected a comparison, found the end"),
        };
        self.at += 1;
        let op = match self.tokens.get(self.at) {
            Some(Token::Word(w)) => op(w)?,
            _ => return err("expected eq, ne, lt, le, gt or ge after the property"),
        };
        self.at += 1;
        let literal = match (field, self.tokens.get(self.at)) {
            (Field::SubmissionTime | Field::Start, Some(Token::Word(w) | Token::Quoted(w))) => {
                Literal::Time(parse_time(w).map_err(|e| FilterError(e.to_string()))?)
            }
            (_, Some(Token::Quoted(s))) => Literal::Text(s.clone()),
            _ => return err("expected a value: a date or time (2026-11-01T08:00:00Z), or a text in quotes"),
        };
        self.at += 1;
        Ok(Filter::Compare(field, op, literal))
    }
}

fn field(word: &str) -> Result<Field, FilterError> {
    Ok(match word {
        "_submission_time" | "__system/submissionDate" | "__system/updatedAt" => Field::SubmissionTime,
        "_start" | "start" => Field::Start,
        "_review_status" | "__system/reviewState" => Field::ReviewStatus,
        "_status" | "__system/status" => Field::Status,
        "_submitted_by" | "__system/submitterName" => Field::SubmittedBy,
        other => {
            return err(format!(
                "cannot filter on `{other}`: filter on _submission_time, _start, _review_status, _status or _submitted_by"
            ));
        }
    })
}

fn op(word: &str) -> Result<Op, FilterError> {
    Ok(match word {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "lt" => Op::Lt,
        "le" => Op::Le,
        "gt" => Op::Gt,
        "ge" => Op::Ge,
        other => return err(format!("`{other}` is not a comparison: use eq, ne, lt, le, gt or ge")),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use terrain_core::survey::{ReviewStatus, Status};

    use super::*;

    fn summary(updated: &str, review: ReviewStatus) -> SurveySummary {
        let t = parse_time(updated).unwrap();
        SurveySummary {
            survey_id: "s".into(),
            form_id: "f".into(),
            form_version: "1".into(),
            status: Status::Finalized,
            created_by: "awa".into(),
            created_on: "phone".into(),
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            updated_at: t,
            review_status: review,
            has_conflicts: false,
            dirty: false,
        }
    }

    #[test]
    fn comparisons_join_with_and_or_not_and_parentheses() {
        let f = Filter::parse(
            "_submission_time ge 2026-11-01 and (_review_status eq 'approved' or not _review_status ne 'received')",
        )
        .unwrap();
        assert!(f.matches(&summary("2026-11-02T00:00:00Z", ReviewStatus::Approved)));
        assert!(f.matches(&summary("2026-11-02T00:00:00Z", ReviewStatus::Received)));
        assert!(!f.matches(&summary("2026-11-02T00:00:00Z", ReviewStatus::Rejected)));
        assert!(!f.matches(&summary("2026-10-31T23:59:59Z", ReviewStatus::Approved)));
        // Central's names and its quoted times.
        let f = Filter::parse("__system/submissionDate lt '2026-11-01T00:00:00.000Z'").unwrap();
        assert!(f.matches(&summary("2026-10-31T23:59:59Z", ReviewStatus::Approved)));
        // `and` binds tighter than `or`.
        let f = Filter::parse("_status eq 'draft' and _submitted_by eq 'x' or _submitted_by eq 'awa'").unwrap();
        assert!(f.matches(&summary("2026-11-02T00:00:00Z", ReviewStatus::Approved)));
        let f = Filter::parse("_submitted_by eq 'o''brien'").unwrap();
        assert_eq!(f, Filter::Compare(Field::SubmittedBy, Op::Eq, Literal::Text("o'brien".into())));
    }

    #[test]
    fn anything_else_is_refused_with_what_is_accepted() {
        for (bad, says) in [
            ("village eq 'Kindia'", "cannot filter on `village`"),
            ("_start eq 'yesterday'", "not a date"),
            ("_review_status like 'a'", "not a comparison"),
            ("(_status eq 'draft'", "not closed"),
            ("_status eq 'draft", "not closed"),
            ("_status eq 'draft' 'x'", "unexpected"),
            ("", "found the end"),
        ] {
            let e = Filter::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let deep = format!("{}_status eq 'draft'{}", "(".repeat(40), ")".repeat(40));
        assert!(Filter::parse(&deep).unwrap_err().to_string().contains("nested deeper"));
        let nots = format!("{}_status eq 'draft'", "not ".repeat(40));
        assert!(Filter::parse(&nots).unwrap_err().to_string().contains("nested deeper"));
        assert!(Filter::parse(&"a".repeat(MAX_LENGTH + 1)).unwrap_err().to_string().contains("longer"));
    }
}
