//! XLSForm import, `terrain_xlsform::import_bytes_within`: questionnaires uploaded to the
//! server. Inputs starting with `PK` are read as `.xlsx`, others as CSV. Properties: import
//! never panics and stays within memory (the runner's address-space cap catches the rest);
//! refusals are `ImportError`s; an imported form survives the trip devices make it take (to
//! JSON and back) and compiles for validation.

use std::sync::Arc;

use terrain_core::Form;
use terrain_core::form::CompiledForm;
use terrain_xlsform::{ImportError, Limits};

use crate::{Finding, Outcome};

/// Runs one upload through the importer.
pub fn run(input: &[u8]) -> Result<Outcome, Finding> {
    let name = if input.starts_with(b"PK") { "upload.xlsx" } else { "upload.csv" };
    let form = match terrain_xlsform::import_bytes_within(name, input, &Limits::default()) {
        Ok(form) => form,
        Err(e) => return Ok(Outcome::Refused(kind(&e).to_owned())),
    };
    let json = form.to_json();
    let again = Form::from_json(&json)
        .map_err(|e| Finding::violation(format!("an imported form does not load from its own JSON: {e}")))?;
    if again != form {
        return Err(Finding::violation("an imported form reads back from its JSON as another form"));
    }
    let compiled = CompiledForm::new(Arc::new(again));
    let _ = compiled.index();
    let _ = compiled.evaluator();
    Ok(Outcome::Accepted)
}

/// The kind of a refusal, for counting.
pub fn kind(e: &ImportError) -> &'static str {
    match e {
        ImportError::Read { .. } => "unreadable",
        ImportError::Invalid { .. } => "invalid form",
    }
}
