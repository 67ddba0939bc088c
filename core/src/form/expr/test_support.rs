//! A `HashMap`-backed [`EvalContext`] for tests, showing how the validation layer is expected
//! to answer each method.

use super::{EvalContext, Expression, XValue};
use chrono::{DateTime, FixedOffset};
use std::borrow::Cow;
use std::collections::HashMap;

/// A field's value in given repeat instances: (field, [(repeat, index)], value).
pub(super) type Instance = (String, Vec<(String, usize)>, String);

/// Answers keyed by question name; each entry is what `resolve` returns (one value, or one
/// per repeat instance).
#[derive(Debug, Clone)]
pub(super) struct MapContext {
    pub(super) values: HashMap<String, Vec<String>>,
    pub(super) current: String,
    pub(super) position: Option<usize>,
    pub(super) indexed: Vec<Instance>,
    /// (question, code) -> label
    pub(super) labels: HashMap<(String, String), String>,
    pub(super) now: DateTime<FixedOffset>,
    pub(super) seed: u64,
    /// The columns of the choice being filtered, for choice filters.
    pub(super) choice: HashMap<String, String>,
}

impl MapContext {
    /// No answers; now is 2024-03-15T10:30:45.123+02:00 (a Friday).
    pub(super) fn new() -> Self {
        MapContext {
            values: HashMap::new(),
            current: String::new(),
            position: None,
            indexed: Vec::new(),
            labels: HashMap::new(),
            now: DateTime::parse_from_rfc3339("2024-03-15T10:30:45.123+02:00").unwrap(),
            seed: 42,
            choice: HashMap::new(),
        }
    }

    pub(super) fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.into(), vec![value.into()]);
        self
    }

    pub(super) fn with_all(mut self, name: &str, values: &[&str]) -> Self {
        self.values.insert(name.into(), values.iter().map(|v| v.to_string()).collect());
        self
    }

    pub(super) fn current(mut self, value: &str) -> Self {
        self.current = value.into();
        self
    }

    pub(super) fn at(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    pub(super) fn instance(mut self, field: &str, repeats: &[(&str, usize)], value: &str) -> Self {
        let repeats = repeats.iter().map(|(r, i)| (r.to_string(), *i)).collect();
        self.indexed.push((field.into(), repeats, value.into()));
        self
    }

    pub(super) fn label(mut self, question: &str, code: &str, label: &str) -> Self {
        self.labels.insert((question.into(), code.into()), label.into());
        self
    }

    pub(super) fn now(mut self, rfc3339: &str) -> Self {
        self.now = DateTime::parse_from_rfc3339(rfc3339).unwrap();
        self
    }

    pub(super) fn eval(&self, source: &str) -> XValue {
        let e = Expression::parse(source).unwrap_or_else(|e| panic!("{e}"));
        e.evaluate(self).unwrap_or_else(|e| panic!("{source}: {e}"))
    }

    pub(super) fn string(&self, source: &str) -> String {
        self.eval(source).to_xpath_string()
    }

    pub(super) fn number(&self, source: &str) -> f64 {
        match self.eval(source) {
            XValue::Number(n) => n,
            other => panic!("{source} gave {other:?}, not a number"),
        }
    }

    pub(super) fn boolean(&self, source: &str) -> bool {
        match self.eval(source) {
            XValue::Boolean(b) => b,
            other => panic!("{source} gave {other:?}, not a boolean"),
        }
    }
}

impl EvalContext for MapContext {
    fn resolve(&self, name: &str) -> Option<Cow<'_, [String]>> {
        self.values.get(name).map(|v| Cow::Borrowed(v.as_slice()))
    }

    fn current(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.current)
    }

    fn position(&self) -> Option<usize> {
        self.position
    }

    fn indexed(&self, field: &str, repeats: &[(&str, usize)]) -> Option<Cow<'_, str>> {
        self.indexed
            .iter()
            .find(|(f, r, _)| {
                f == field && r.len() == repeats.len() && r.iter().zip(repeats).all(|((a, i), (b, j))| a == b && i == j)
            })
            .map(|(_, _, v)| Cow::Borrowed(v.as_str()))
    }

    fn choice_label(&self, question: &str, code: &str) -> Option<Cow<'_, str>> {
        self.labels.get(&(question.to_owned(), code.to_owned())).map(|l| Cow::Borrowed(l.as_str()))
    }

    fn now(&self) -> DateTime<FixedOffset> {
        self.now
    }

    fn random_seed(&self) -> u64 {
        self.seed
    }

    fn choice_column(&self, column: &str) -> Option<Cow<'_, str>> {
        self.choice.get(column).map(|v| Cow::Borrowed(v.as_str()))
    }
}
