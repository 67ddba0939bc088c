//! Scenario files for `terrain form eval --scenarios`: named answers, each with the part of
//! the evaluation its author expects, so that a form's skip logic and constraints are tested
//! like code. A mismatch is shown as a diff, and makes the command exit with status 1.
//!
//! The format is in `docs/form-eval.md`; `forms/*.scenarios.json` are examples.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use serde_json::Value as Json;
use terrain_core::form::Form;

use super::eval::{self, Report};

/// What a node's expectation may name: the fields of a node in the `--json` output.
const NODE_FIELDS: [&str; 8] =
    ["relevant", "required", "read_only", "value", "constraint", "message", "choices", "instances"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    /// The language of every scenario, unless one names its own.
    #[serde(default)]
    language: Option<String>,
    /// The time of every scenario (RFC 3339), unless one names its own.
    #[serde(default)]
    now: Option<String>,
    scenarios: Vec<Scenario>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    #[serde(default)]
    answers: Json,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    now: Option<String>,
    expect: Expect,
}

/// The expected evaluation: every field is optional, and only what is named is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    finalizable: Option<bool>,
    /// The paths of what blocks finalizing, exactly (order aside).
    #[serde(default)]
    blocking: Option<Vec<String>>,
    /// How many form errors there are.
    #[serde(default)]
    errors: Option<usize>,
    /// By path: some of the fields of that node.
    #[serde(default)]
    nodes: BTreeMap<String, serde_json::Map<String, Json>>,
}

/// The outcome of one scenario.
#[derive(Debug, serde::Serialize)]
struct Outcome<'r> {
    name: String,
    passed: bool,
    mismatches: Vec<String>,
    evaluation: &'r Report,
}

pub fn run(
    form: &Form,
    path: &Path,
    language: Option<&str>,
    now: DateTime<FixedOffset>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: ScenarioFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not a scenario file", path.display()))?;
    let mut reports = Vec::with_capacity(file.scenarios.len());
    for scenario in &file.scenarios {
        check_fields(scenario).with_context(|| format!("{}: scenario `{}`", path.display(), scenario.name))?;
        let language = scenario.language.as_deref().or(file.language.as_deref()).or(language);
        let now = match scenario.now.as_deref().or(file.now.as_deref()) {
            Some(text) => eval::parse_now(text)?,
            None => now,
        };
        let report = eval::evaluate(form, &scenario.answers, language, now)
            .with_context(|| format!("{}: scenario `{}`", path.display(), scenario.name))?;
        reports.push(report);
    }
    let outcomes: Vec<Outcome<'_>> = file
        .scenarios
        .iter()
        .zip(&reports)
        .map(|(scenario, report)| {
            let mismatches = mismatches(&scenario.expect, report);
            Outcome { name: scenario.name.clone(), passed: mismatches.is_empty(), mismatches, evaluation: report }
        })
        .collect();
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    if json {
        eval::emit(&(serde_json::to_string_pretty(&outcomes)? + "\n"))?;
    } else {
        use std::fmt::Write;
        let mut text = String::new();
        for outcome in &outcomes {
            let _ = writeln!(text, "{} {}", if outcome.passed { "ok  " } else { "FAIL" }, outcome.name);
            for line in &outcome.mismatches {
                let _ = writeln!(text, "       {line}");
            }
        }
        let _ = writeln!(text, "{} scenario(s), {} passed, {failed} failed", outcomes.len(), outcomes.len() - failed);
        eval::emit(&text)?;
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Refuses expectations that could never be checked (a misspelt field would pass silently).
fn check_fields(scenario: &Scenario) -> anyhow::Result<()> {
    for (path, fields) in &scenario.expect.nodes {
        for field in fields.keys() {
            if !NODE_FIELDS.contains(&field.as_str()) {
                bail!("node `{path}`: unknown field `{field}` (expected one of: {})", NODE_FIELDS.join(", "));
            }
        }
    }
    Ok(())
}

/// Every difference between what `expect` names and `report`, one line each, as
/// `where: expected X, got Y`.
fn mismatches(expect: &Expect, report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(want) = expect.finalizable
        && want != report.finalizable
    {
        out.push(format!("finalizable: expected {want}, got {}", report.finalizable));
    }
    if let Some(want) = &expect.blocking {
        let mut want = want.clone();
        let mut got: Vec<String> = report.blocking.iter().map(|b| b.path.clone()).collect();
        want.sort();
        got.sort();
        if want != got {
            out.push(format!("blocking: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = expect.errors
        && want != report.errors.len()
    {
        let got: Vec<String> = report.errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
        out.push(format!("errors: expected {want}, got {} {got:?}", report.errors.len()));
    }
    for (path, fields) in &expect.nodes {
        let Some(node) = report.nodes.iter().find(|n| n.path.to_string() == *path) else {
            out.push(format!("{path}: no such node in this evaluation (a typo, or inside a hidden repeat)"));
            continue;
        };
        let actual = serde_json::to_value(node).unwrap_or(Json::Null);
        for (field, want) in fields {
            let got = actual.get(field).unwrap_or(&Json::Null);
            if got != want {
                out.push(format!("{path}.{field}: expected {want}, got {got}"));
            }
        }
    }
    out
}
