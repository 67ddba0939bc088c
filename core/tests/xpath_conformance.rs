//! Conformance of the expression engine to ODK's own XPath test suites: assertions ported
//! from getodk/web-forms (`packages/xpath/test`) and JavaRosa (`XPathEvalTest`), in
//! `fixtures/xpath_conformance.json` (their sources, licences and commits are in its
//! `about`).
//!
//! Every case must pass, or be listed in `fixtures/xpath_conformance_differences.json` with
//! the reason Terrain differs, so that a change in behaviour is a failing test either way:
//! a new failure, or a listed difference that no longer differs. The pass rate is printed
//! (`-- --nocapture`) and recorded in `docs/benchmarks.md`.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use terrain_core::form::expr::{EvalContext, Expression, XValue};

#[derive(Deserialize)]
struct Corpus {
    now: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    expr: String,
    #[serde(default)]
    vars: HashMap<String, Var>,
    expect: Expect,
    #[serde(default)]
    tolerance: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Var {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
enum Expect {
    String(String),
    Number(serde_json::Value),
    Boolean(bool),
    /// `{"error": true}`: the source expects the expression to fail.
    Error(serde::de::IgnoredAny),
}

/// The answers of one case, as the form screen's context would give them.
struct Vars<'c> {
    values: HashMap<&'c str, Vec<String>>,
    now: DateTime<FixedOffset>,
}

impl EvalContext for Vars<'_> {
    fn resolve(&self, name: &str) -> Option<Cow<'_, [String]>> {
        self.values.get(name).map(|v| Cow::Borrowed(&v[..]))
    }
    fn current(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn position(&self) -> Option<usize> {
        None
    }
    fn indexed(&self, _: &str, _: &[(&str, usize)]) -> Option<Cow<'_, str>> {
        None
    }
    fn choice_label(&self, _: &str, _: &str) -> Option<Cow<'_, str>> {
        None
    }
    fn now(&self) -> DateTime<FixedOffset> {
        self.now
    }
    fn random_seed(&self) -> u64 {
        0
    }
}

/// Why `case` fails, or `None` when it passes.
fn judge(case: &Case, now: DateTime<FixedOffset>) -> Option<String> {
    let values = case
        .vars
        .iter()
        .map(|(name, var)| {
            let values = match var {
                Var::One(v) => vec![v.clone()],
                Var::Many(vs) => vs.clone(),
            };
            (name.as_str(), values)
        })
        .collect();
    let result = Expression::parse(&case.expr)
        .map_err(|e| format!("parse error: {e}"))
        .and_then(|e| e.evaluate(&Vars { values, now }).map_err(|e| format!("evaluation error: {e}")));
    match (&case.expect, result) {
        (Expect::Error(_), Err(_)) => None,
        (Expect::Error(_), Ok(value)) => Some(format!("expected an error, got {value:?}")),
        (_, Err(e)) => Some(e),
        (Expect::String(want), Ok(value)) => {
            let got = value.to_xpath_string();
            (got != *want).then(|| format!("expected string {want:?}, got {got:?}"))
        }
        (Expect::Boolean(want), Ok(XValue::Boolean(got))) => {
            (got != *want).then(|| format!("expected {want}, got {got}"))
        }
        (Expect::Number(want), Ok(XValue::Number(got))) => {
            let want = match want {
                serde_json::Value::String(s) if s == "NaN" => f64::NAN,
                serde_json::Value::String(s) if s == "Infinity" => f64::INFINITY,
                serde_json::Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
                other => other.as_f64().unwrap_or_else(|| panic!("{}: bad expected number {other}", case.id)),
            };
            let close = match case.tolerance {
                _ if want.is_nan() => got.is_nan(),
                _ if want.is_infinite() => got == want,
                Some(t) => (got - want).abs() <= t * want.abs().max(1.0),
                None => got == want || (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            };
            (!close).then(|| format!("expected number {want}, got {got}"))
        }
        (want, Ok(value)) => Some(format!("expected {want:?}, got {value:?}")),
    }
}

#[test]
fn the_engine_passes_the_ported_odk_suites_or_documents_why_not() {
    let corpus: Corpus = serde_json::from_str(include_str!("fixtures/xpath_conformance.json")).unwrap();
    let known: BTreeMap<String, String> =
        serde_json::from_str(include_str!("fixtures/xpath_conformance_differences.json")).unwrap();
    let now = DateTime::parse_from_rfc3339(&corpus.now).unwrap();
    let mut ids = std::collections::HashSet::new();
    let (mut unexpected, mut stale, mut failed) = (Vec::new(), Vec::new(), 0);
    for case in &corpus.cases {
        assert!(ids.insert(case.id.as_str()), "duplicate case id {}", case.id);
        match (judge(case, now), known.get(&case.id)) {
            (None, None) => {}
            (None, Some(_)) => stale.push(case.id.clone()),
            (Some(_), Some(_)) => failed += 1,
            (Some(why), None) => unexpected.push(format!("{} `{}`: {why}", case.id, case.expr)),
        }
    }
    for id in known.keys() {
        assert!(ids.contains(id.as_str()), "a listed difference names no case: {id}");
    }
    let total = corpus.cases.len();
    eprintln!(
        "xpath conformance: {} of {total} assertions pass ({:.1}%), {failed} documented differences",
        total - failed,
        100.0 * (total - failed) as f64 / total as f64
    );
    assert!(unexpected.is_empty(), "failures not listed as differences:\n{}", unexpected.join("\n"));
    assert!(stale.is_empty(), "listed as differences but now pass (remove them): {stale:?}");
    assert!(total >= 300, "the corpus must hold at least 300 assertions, has {total}");
}
