//! `terrain form eval`: a form's logic run against answers, without a phone. Form authors
//! check that a relevance rule hides the right questions and that a constraint fires on the
//! right values, and keep scenarios beside their XLSForm for their own CI.
//!
//! The evaluation is the core's [`Evaluator::inspect`], the one the phone's form screen runs;
//! this module only reads the inputs and prints. The `--json` output is [`Report`], whose
//! schema `docs/form-eval.md` documents and whose `schema` field names its version.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use terrain_core::form::{BlockKind, EvalOptions, Evaluator, Form, Inspection, NodeState, language_key};
use terrain_core::survey::Answers;

use super::scenario;

/// The version of the `--json` output; bumped on any change that could break a reader.
pub const SCHEMA: &str = "terrain/form-eval/1";

/// Arguments of `terrain form eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The form: an XLSForm (.xlsx, .xls, .csv) or a form as `terrain form show --json`
    /// prints it (.json).
    pub form: PathBuf,
    /// The answers: a JSON object of question names to values, repeats as arrays of
    /// objects (`{"village": "Dabola", "member": [{"age": 34}]}`). Without it, a new
    /// survey: the form's defaults only.
    #[arg(long, conflicts_with = "scenarios")]
    pub answers: Option<PathBuf>,
    /// A scenario file: named answers, each with the evaluation expected
    /// (docs/form-eval.md).
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// The language of messages and labels: a form language, its code or its name.
    #[arg(long)]
    pub lang: Option<String>,
    /// The time `today()` and `now()` read (RFC 3339, `2026-06-15T10:00:00+00:00`);
    /// default: now.
    #[arg(long)]
    pub now: Option<String>,
    /// Print JSON (a stable, versioned schema) instead of a readable tree.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let form = load_form(&args.form)?;
    let now = match &args.now {
        Some(text) => parse_now(text)?,
        None => chrono::Local::now().fixed_offset(),
    };
    if let Some(path) = &args.scenarios {
        return scenario::run(&form, path, args.lang.as_deref(), now, args.json);
    }
    let answers = match &args.answers {
        Some(path) => read_json(path)?,
        None => serde_json::json!({}),
    };
    let report = evaluate(&form, &answers, args.lang.as_deref(), now)
        .with_context(|| format!("{}", args.answers.as_deref().unwrap_or(Path::new("answers")).display()))?;
    if args.json {
        emit(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        emit(&report.to_tree())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to standard output; a reader that stopped early (`| head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Reads a form from an XLSForm file, or from its JSON definition.
pub fn load_form(path: &Path) -> anyhow::Result<Form> {
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Form::from_json(&text).with_context(|| format!("{} is not a Terrain form definition", path.display()))
    } else {
        terrain_xlsform::import_path(path).with_context(|| format!("importing {}", path.display()))
    }
}

pub fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

pub fn parse_now(text: &str) -> anyhow::Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("`{text}` is not a time like 2026-06-15T10:00:00+00:00 (RFC 3339)"))
}

/// Evaluates `answers` (JSON, on a new survey: defaults first) against `form`.
pub fn evaluate(
    form: &Form,
    answers: &serde_json::Value,
    language: Option<&str>,
    now: DateTime<FixedOffset>,
) -> anyhow::Result<Report> {
    let answers = Answers::new_from_json(form, answers)?;
    // A fixed seed: `random()` draws the same numbers on every run of a scenario.
    let options = EvalOptions { language: language.map(str::to_owned), now, seed: 0 };
    let inspection = Evaluator::new(form).inspect(&answers, &options);
    Ok(Report::new(form, language_key(form, language), now, inspection))
}

/// The `--json` output of `terrain form eval`, version [`SCHEMA`].
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub form: FormRef,
    /// The form language messages are in (`None`: the form's only or default language).
    pub language: Option<String>,
    pub now: String,
    pub finalizable: bool,
    /// What blocks finalizing, in form order.
    pub blocking: Vec<Blocking>,
    /// Problems with the form's logic itself, for its author.
    pub errors: Vec<FormError>,
    /// Every question, group and repeat, in every repeat instance, in form order.
    pub nodes: Vec<NodeState>,
}

#[derive(Debug, Serialize)]
pub struct FormRef {
    pub id: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
pub struct Blocking {
    pub path: String,
    pub kind: BlockKind,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct FormError {
    pub path: String,
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
            if node.constraint == terrain_core::form::Check::Failed || node.message.is_some() {
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
