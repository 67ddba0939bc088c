//! Forms published with their lists: `terrain_xlsform::bundle::read` (the zip an
//! administrator uploads), then `terrain_core::form::attachments::attach` (the CSV, XML and
//! GeoJSON lists read into the form) and an evaluation that reads them. Properties: nothing panics and
//! memory stays bounded (the runner's address-space cap catches the rest); refusals are
//! typed; no list holds more rows than the limit; the attached form survives the trip to
//! devices (to JSON and back, as they download it) and evaluates.

use std::sync::Arc;

use terrain_core::form::attachments::{self, MAX_ROWS};
use terrain_core::form::{CompiledForm, EvalOptions};
use terrain_core::survey::{Answer, Answers};
use terrain_core::{Form, Value};

use crate::{Finding, Outcome};

/// The most a bundle's form may unpack to here (the server's default is larger; the
/// generator's forms are small).
const MAX_FORM_BYTES: u64 = 1 << 20;

/// Runs one bundle through the reader, the lists' reader and an evaluation.
pub fn run(input: &[u8]) -> Result<Outcome, Finding> {
    let bundle = match terrain_xlsform::bundle::read(input, MAX_FORM_BYTES) {
        Ok(bundle) => bundle,
        Err(_) => return Ok(Outcome::Refused("bundle".into())),
    };
    let Ok(text) = std::str::from_utf8(&bundle.form) else { return Ok(Outcome::Refused("form".into())) };
    let Ok(form) = Form::from_json(text) else { return Ok(Outcome::Refused("form".into())) };
    let attached = match attachments::attach(&form, &bundle.files) {
        Ok(attached) => attached,
        Err(attachments::AttachmentError::TooLarge { .. }) => return Ok(Outcome::Refused("file too large".into())),
        Err(attachments::AttachmentError::Invalid { .. }) => return Ok(Outcome::Refused("invalid file".into())),
    };
    if let Some((name, list)) = attached.choice_lists.iter().find(|(_, list)| list.len() > MAX_ROWS) {
        return Err(Finding::violation(format!("list `{name}` holds {} rows, past {MAX_ROWS}", list.len())));
    }
    let again = Form::from_json(&attached.to_json())
        .map_err(|e| Finding::violation(format!("an attached form does not load from its own JSON: {e}")))?;
    if again != attached {
        return Err(Finding::violation("an attached form reads back from its JSON as another form"));
    }
    // Answer with the first village and crop the lists offer, if any, and evaluate.
    let compiled = CompiledForm::new(Arc::new(again));
    let first = |list: &str| attached.choice_lists.get(list).and_then(|l| l.first()).map(|c| c.name.clone());
    let mut answers = Answers::default();
    answers.0.insert("prefecture".into(), Answer::Value(Value::Text("kindia".into())));
    if let Some(village) = attached.choice_lists.keys().find(|k| k.starts_with("villages.")).and_then(|k| first(k)) {
        answers.0.insert("village".into(), Answer::Value(Value::Choice(village)));
    }
    if let Some(crop) = attached.choice_lists.keys().find(|k| k.starts_with("crops.csv")).and_then(|k| first(k)) {
        answers.0.insert("crops".into(), Answer::Value(Value::Choices(vec![crop])));
    }
    let options = EvalOptions {
        language: Some("fr".into()),
        now: chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00+00:00").unwrap_or_default(),
        seed: 1,
    };
    let _ = compiled.evaluator().evaluate(&answers, &options);
    Ok(Outcome::Accepted)
}
