//! A form's logic run against answers, reported node by node: what `terrain form eval`
//! prints and the dashboard's preview renders, so that both show exactly what the phone's
//! evaluator decides ([`Evaluator::inspect`]). [`Report`] is a stable, versioned schema
//! (`docs/form-eval.md`).

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use terrain_core::form::{BlockKind, Check, EvalOptions, Evaluator, Form, Inspection, NodeState, language_key};
use terrain_core::survey::Answers;

use crate::error::{Error, Result};

/// The version of [`Report`]; bumped on any change that could break a reader.
pub const SCHEMA: &str = "terrain/form-eval/1";

/// Evaluates `answers` (JSON, on a new survey: defaults first, `null` clears one) against
/// `form`, with messages in `language` and `today()` at `now`.
pub fn evaluate(
    form: &Form,
    answers: &serde_json::Value,
    language: Option<&str>,
    now: DateTime<FixedOffset>,
) -> Result<Report> {
    let answers = Answers::new_from_json(form, answers).map_err(|e| Error::invalid(e.to_string()))?;
    Ok(report(form, &answers, language, now))
}

/// Evaluates typed `answers` against `form` as they are (no defaults added).
pub fn report(form: &Form, answers: &Answers, language: Option<&str>, now: DateTime<FixedOffset>) -> Report {
    // A fixed seed: `random()` draws the same numbers on every run of a scenario.
    let options = EvalOptions { language: language.map(str::to_owned), now, seed: 0 };
    let inspection = Evaluator::new(form).inspect(answers, &options);
    Report::new(form, language_key(form, language), now, inspection)
}

/// A form's evaluation, node by node: `terrain form eval --json` and the preview, version
/// [`SCHEMA`].
#[derive(Debug, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The form evaluated.
    pub form: FormRef,
    /// The form language messages are in (`None`: the form's only or default language).
    pub language: Option<String>,
    /// The time `today()` and `now()` read, RFC 3339.
    pub now: String,
    /// Whether the survey could be finalized in this state.
    pub finalizable: bool,
    /// What blocks finalizing, in form order.
    pub blocking: Vec<Blocking>,
    /// Problems with the form's logic itself, for its author.
    pub errors: Vec<FormError>,
    /// Every question, group and repeat, in every repeat instance, in form order.
    pub nodes: Vec<NodeState>,
}

/// A form version.
#[derive(Debug, Serialize)]
pub struct FormRef {
    /// The form id.
    pub id: String,
    /// The version.
    pub version: String,
}

/// One thing that blocks finalizing.
#[derive(Debug, Serialize)]
pub struct Blocking {
    /// Where.
    pub path: String,
    /// A missing required answer, or a violation.
    pub kind: BlockKind,
    /// The form's message, in the report's language.
    pub message: String,
}

/// A problem with the form's logic itself, for its author.
#[derive(Debug, Serialize)]
pub struct FormError {
    /// Where.
    pub path: String,
    /// What went wrong, in English.
    pub message: String,
}

impl Report {
    fn new(form: &Form, language: Option<&str>, now: DateTime<FixedOffset>, inspection: Inspection) -> Report {
        let blocking = inspection
            .blocking()
            .map(|(kind, issue)| Blocking { path: issue.path.to_string(), kind, message: issue.message.clone() })
            .collect();
        let errors = inspection
            .evaluation
            .errors
            .iter()
            .map(|issue| FormError { path: issue.path.to_string(), message: issue.message.clone() })
            .collect();
        Report {
            schema: SCHEMA,
            form: FormRef { id: form.id.clone(), version: form.version.clone() },
            language: language.map(str::to_owned),
            now: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            finalizable: inspection.is_finalizable(),
            blocking,
            errors,
            nodes: inspection.nodes,
        }
    }

    /// The readable tree: one line per node, indented by repeat depth, hidden nodes and
    /// failures marked, then the verdict.
    pub fn to_tree(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let language = self.language.as_deref().unwrap_or("default language");
        let _ = writeln!(out, "{} version {} · {language} · now {}", self.form.id, self.form.version, self.now);
        for node in &self.nodes {
            let indent = "  ".repeat(node.path.instances.len() + 1);
            let mut line = format!("{indent}{}", node.path);
            if !node.relevant {
                let _ = writeln!(out, "{line}  (hidden)");
                continue;
            }
            match node.kind {
                "group" => line.push('/'),
                "repeat" => {
                    let _ = write!(line, "  {} instance(s)", node.instances.unwrap_or(0));
                }
                kind => {
                    match &node.value {
                        Some(value) => {
                            let _ = write!(line, " = {value:?}");
                        }
                        None => line.push_str(" (empty)"),
                    }
                    let _ = write!(line, "  [{kind}]");
                }
            }
            if node.required {
                line.push_str(" required");
            }
            if node.read_only {
                line.push_str(" read-only");
            }
            if let Some(choices) = &node.choices {
                let _ = write!(line, "  choices: {}", choices.join(" "));
            }
            if node.constraint == Check::Failed || node.message.is_some() {
                let _ = write!(line, "\n{indent}  ✗ {}", node.message.as_deref().unwrap_or("failed"));
            }
            let _ = writeln!(out, "{line}");
        }
        for error in &self.errors {
            let _ = writeln!(out, "form error at {}: {}", error.path, error.message);
        }
        if self.finalizable {
            out.push_str("finalizable: yes\n");
        } else {
            let _ = writeln!(out, "finalizable: no, {} issue(s):", self.blocking.len());
            for issue in &self.blocking {
                let kind = match issue.kind {
                    BlockKind::Required => "missing",
                    BlockKind::Violation => "invalid",
                };
                let _ = writeln!(out, "  {kind} {}: {}", issue.path, issue.message);
            }
        }
        out
    }
}
