//! XLSForm expressions, `terrain_core::form::expr`: parsed at import from forms authors
//! upload, evaluated after every answer on phones. Properties: parsing (as an expression and
//! as a choice filter) never panics nor overflows the stack, refusals are `ParseError`s; an
//! accepted expression evaluates (to a value or an `EvalError`) without a panic, against
//! answers chosen to be awkward (empty, huge numbers, long text, bad dates, long shapes) and
//! lists as long as a form's files may be.

use std::borrow::Cow;
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use terrain_core::form::expr::{EvalContext, Expression};

use crate::{Finding, Outcome};

/// Runs one expression (the input, as UTF-8 with invalid bytes replaced).
pub fn run(input: &[u8]) -> Result<Outcome, Finding> {
    let source = String::from_utf8_lossy(input);
    let parsed = Expression::parse(&source);
    let filter = Expression::parse_choice_filter(&source);
    // "Every expression that `parse` accepts parses the same way" as a choice filter.
    if let (Ok(e), Ok(f)) = (&parsed, &filter)
        && e.ast() != f.ast()
    {
        return Err(Finding::violation("an expression parses differently as a choice filter"));
    }
    if parsed.is_ok() && filter.is_err() {
        return Err(Finding::violation("an expression parses, but not as a choice filter"));
    }
    let accepted = match (&parsed, &filter) {
        (Ok(e), _) | (Err(_), Ok(e)) => e,
        (Err(_), Err(_)) => return Ok(Outcome::Refused("parse error".to_owned())),
    };
    let _ = accepted.references();
    let _ = accepted.choice_columns();
    for context in [Awkward { seed: 0 }, Awkward { seed: 1 }, Awkward { seed: 2 }] {
        let _ = accepted.evaluate(&context);
        let _ = accepted.evaluate_bool(&context);
        let _ = accepted.evaluate_string(&context);
    }
    Ok(Outcome::Accepted)
}

/// Answers chosen to be awkward; each seed answers differently.
struct Awkward {
    seed: u64,
}

/// Instances of a repeat that the awkward answers claim.
const INSTANCES: usize = 50;

/// The awkward values, and each repeated as the answers of a repeat's instances: built once,
/// lent to every evaluation (an expression may resolve a name a hundred thousand times).
fn values() -> &'static [(Vec<String>, Vec<String>)] {
    static VALUES: OnceLock<Vec<(Vec<String>, Vec<String>)>> = OnceLock::new();
    VALUES.get_or_init(|| {
        let geoshape = (0..1000).map(|i| format!("{} {} 0 0", i % 90, i % 180)).collect::<Vec<_>>().join(";");
        [
            String::new(),
            "1e308".to_owned(),
            "-0".to_owned(),
            "NaN".to_owned(),
            "2024-02-30".to_owned(),
            "99999-12-31T25:61:61".to_owned(),
            "a b c borehole well".to_owned(),
            "x".repeat(10_000),
            geoshape,
            "12.5 -8.0 300 5".to_owned(),
        ]
        .into_iter()
        .map(|v| (vec![v.clone()], vec![v; INSTANCES]))
        .collect()
    })
}

impl Awkward {
    fn pick(&self, name: &str) -> &'static (Vec<String>, Vec<String>) {
        let all = values();
        let hash = name.bytes().fold(self.seed, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        &all[(hash % all.len() as u64) as usize]
    }

    fn value(&self, name: &str) -> &'static str {
        self.pick(name).0.first().map_or("", String::as_str)
    }
}

impl EvalContext for Awkward {
    fn resolve(&self, name: &str) -> Option<Cow<'_, [String]>> {
        let (one, many) = self.pick(name);
        match (self.seed, name.len() % 3) {
            // Some names are unknown questions.
            (2, 0) => None,
            // Some are repeats: many instances.
            (1, 1) => Some(Cow::Borrowed(many.as_slice())),
            _ => Some(Cow::Borrowed(one.as_slice())),
        }
    }

    fn current(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.value("."))
    }

    fn position(&self) -> Option<usize> {
        (self.seed != 0).then_some(usize::MAX)
    }

    fn indexed(&self, field: &str, repeats: &[(&str, usize)]) -> Option<Cow<'_, str>> {
        (!repeats.is_empty()).then(|| Cow::Borrowed(self.value(field)))
    }

    fn choice_label(&self, question: &str, code: &str) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(format!("{question}:{code}")))
    }

    fn now(&self) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-03-15T10:30:45.123+02:00").unwrap_or_default()
    }

    fn random_seed(&self) -> u64 {
        self.seed
    }

    fn choice_column(&self, column: &str) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.value(column)))
    }

    /// Every list has as many items as the largest file a form reads, so that a lookup's
    /// cost shows.
    fn instance_len(&self, instance: &str) -> Option<usize> {
        (instance != "missing").then_some(terrain_core::form::attachments::MAX_ROWS)
    }

    fn instance_cell(&self, instance: &str, index: usize, column: &str) -> Option<Cow<'_, str>> {
        let _ = instance;
        match column {
            "name" => Some(Cow::Owned(format!("v{index}"))),
            other => Some(Cow::Borrowed(self.value(other))),
        }
    }
}
