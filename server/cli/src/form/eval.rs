//! `terrain form eval`: a form's logic run against answers, without a phone. Form authors
//! check that a relevance rule hides the right questions and that a constraint fires on the
//! right values, and keep scenarios beside their XLSForm for their own CI.
//!
//! The evaluation is the core's [`Evaluator::inspect`], the one the phone's form screen runs;
//! this module only reads the inputs and prints. The `--json` output is
//! `terrain_services::form_eval::Report`, whose schema `docs/form-eval.md` documents.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use terrain_core::form::Form;
pub use terrain_services::form_eval::{Report, evaluate};

use super::scenario;

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
