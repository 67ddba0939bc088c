//! Bundle import, `terrain_core::sync::bundle`, into a real SQLite store. Properties:
//!
//! - `read` and `import` never panic;
//! - a failed import leaves the store as it was (its surveys and its forms);
//! - a successful one accounts for every survey of the file (created, updated, unchanged, or
//!   in `failed` with a reason), every survey it stored loads again, importing the same
//!   file again creates and updates nothing, and the store exports again.
//!
//! Each input gets a fresh store, copied from a template that already holds the form and one
//! of the surveys the generator uses (so bundles update a survey as well as create them).
//! The template lives in `/dev/shm` where there is one: the store syncs every commit, which
//! on a disk would make each input wait for it.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use terrain_core::store::{FormSummary, SurveySummary};
use terrain_core::sync::bundle::{self, BundleError};
use terrain_core::{Store, SurveyQuery};

use crate::generators::bundle as generator;
use crate::{Finding, Outcome};

/// Runs one bundle file through a fresh store.
pub fn run(input: &[u8]) -> Result<Outcome, Finding> {
    let file = match bundle::read(input) {
        Ok(file) => file,
        Err(e) => return Ok(Outcome::Refused(kind(&e).to_owned())),
    };
    let (_dir, store) = fresh_store()?;
    let before = contents(&store)?;
    let report = match bundle::import(&store, input) {
        Ok(report) => report,
        Err(e) => {
            let after = contents(&store)?;
            if after != before {
                return Err(Finding::violation(format!(
                    "import failed ({e}) but the store changed: {} surveys and {} forms before, {} and {} after",
                    before.0.len(),
                    before.1.len(),
                    after.0.len(),
                    after.1.len()
                )));
            }
            return Ok(Outcome::Refused(kind(&e).to_owned()));
        }
    };
    let counted = report.created + report.updated + report.unchanged + report.failed.len();
    if counted != file.surveys.len() {
        return Err(Finding::violation(format!(
            "the file has {} surveys but the report accounts for {counted}: {report:?}",
            file.surveys.len()
        )));
    }
    for survey in contents(&store)?.0 {
        if let Err(e) = store.survey(&survey.survey_id) {
            return Err(Finding::violation(format!("survey {} was imported but does not load: {e}", survey.survey_id)));
        }
    }
    match bundle::import(&store, input) {
        Ok(again) if again.created == 0 && again.updated == 0 => {}
        Ok(again) => {
            return Err(Finding::violation(format!(
                "importing the same bundle twice changed the store again: {again:?}"
            )));
        }
        Err(e) => return Err(Finding::violation(format!("a bundle imported once fails the second time: {e}"))),
    }
    let exported =
        bundle::export(&store, None).map_err(|e| Finding::violation(format!("the store does not export: {e}")))?;
    bundle::read(&exported).map_err(|e| Finding::violation(format!("an exported bundle does not read back: {e}")))?;
    Ok(Outcome::Accepted)
}

/// What a failed import must leave as it was.
type Contents = (Vec<SurveySummary>, Vec<FormSummary>);

fn contents(store: &Store) -> Result<Contents, Finding> {
    let query = SurveyQuery { limit: Some(u32::MAX), ..SurveyQuery::default() };
    let surveys = store.list(&query).map_err(|e| Finding::violation(format!("the store does not list: {e}")))?;
    let forms = store.forms().map_err(|e| Finding::violation(format!("the store does not list forms: {e}")))?;
    Ok((surveys, forms))
}

/// The kind of a refusal, for counting.
pub fn kind(e: &BundleError) -> &'static str {
    match e {
        BundleError::NotABundle => "not a bundle",
        BundleError::NewerFormat(_) => "newer format",
        BundleError::Damaged(_) => "damaged",
        BundleError::TooLarge => "too large",
        BundleError::Store(_) => "store error",
    }
}

thread_local! {
    /// The template store's folder, made once per thread.
    static TEMPLATE: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

const STORE_FILE: &str = "store.db";

fn scratch() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("terrain-fuzz-");
    builder
}

fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { scratch().tempdir_in(shm) } else { scratch().tempdir() }
}

fn make_template() -> Result<tempfile::TempDir, String> {
    let dir = scratch_dir().map_err(|e| e.to_string())?;
    let store = Store::open(dir.path().join(STORE_FILE), generator::supervisor()).map_err(|e| e.to_string())?;
    let form = generator::form().ok_or("the generator's form does not parse")?;
    store.save_form(form).map_err(|e| e.to_string())?;
    if let Some(survey) = generator::base_surveys().first() {
        // The enumerator's part only: bundles then bring the supervisor's corrections.
        store.merge(&survey.id, &survey.first).map_err(|e| e.to_string())?;
    }
    store.compact_pending(u32::MAX).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// A store of its own for one input, copied from the template.
fn fresh_store() -> Result<(tempfile::TempDir, Store), Finding> {
    let setup = |e: String| Finding::violation(format!("could not set up a store (not a finding of the input): {e}"));
    let template: PathBuf = TEMPLATE
        .with(|t| -> Result<PathBuf, String> {
            let mut t = t.borrow_mut();
            if t.is_none() {
                *t = Some(make_template()?);
            }
            Ok(t.as_ref().map(|d| d.path().to_path_buf()).unwrap_or_default())
        })
        .map_err(setup)?;
    let dir = scratch_dir().map_err(|e| setup(e.to_string()))?;
    // The database and, if the template's last connection left them, its WAL files.
    for entry in std::fs::read_dir(&template).map_err(|e| setup(e.to_string()))?.flatten() {
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).map_err(|e| setup(e.to_string()))?;
    }
    let store = Store::open(dir.path().join(STORE_FILE), generator::supervisor()).map_err(|e| setup(e.to_string()))?;
    Ok((dir, store))
}
