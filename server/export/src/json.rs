//! JSON and NDJSON exports: each survey nested as its document is (`meta`, `answers`,
//! `review`), with its review status, the server's receipt time and the entities it made,
//! and without the answers to questions that are not relevant.

use std::io::{BufWriter, Write};

use super::rows::time;
use super::{ExportError, ExportOutcome, Record, Scan};

/// One survey as JSON, with the entities it created or updated when it made any.
pub fn survey_json(record: &Record) -> serde_json::Value {
    let survey = &record.survey;
    let mut json = serde_json::json!({
        "meta": survey.meta,
        "answers": survey.answers.to_json(),
        "review": survey.review,
        "review_status": record.summary.review_status.as_str(),
        "submission_time": time(record.summary.updated_at),
    });
    if !record.entities.is_empty() {
        json["entities"] = serde_json::json!(record.entities);
    }
    json
}

/// Writes a JSON array of surveys, or one survey per line (`lines`).
pub(crate) fn write<W: Write>(scan: Scan<'_>, out: W, lines: bool) -> Result<ExportOutcome, ExportError> {
    let mut out = BufWriter::new(out);
    if !lines {
        out.write_all(b"[")?;
    }
    let mut first = true;
    let outcome = scan.run(|record| {
        if !lines && !first {
            out.write_all(b",\n")?;
        }
        first = false;
        serde_json::to_writer(&mut out, &survey_json(record)).map_err(std::io::Error::from)?;
        if lines {
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    if !lines {
        out.write_all(b"]\n")?;
    }
    out.flush()?;
    Ok(outcome)
}
