//! The analyst's step: download the approved surveys of each form as CSV, XLSX and GeoJSON
//! through the export endpoint, into the output folder. A format the server does not offer
//! is reported as failed, with the reason, rather than stopping the demo.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::DemoError;
use super::http::desk;
use super::pilot::Pilot;

/// The formats downloaded, with their file extensions (CSV comes as a zip of one CSV per
/// table and the data dictionary).
const FORMATS: [(&str, &str); 3] = [("csv", "zip"), ("xlsx", "xlsx"), ("geojson", "geojson")];

/// One export file, written or not.
#[derive(Debug, Clone, Serialize)]
pub struct ExportResult {
    /// The form.
    pub form_id: String,
    /// `csv`, `xlsx` or `geojson`.
    pub format: String,
    /// Where it was written, if it was.
    pub path: Option<PathBuf>,
    /// Its size in bytes.
    pub bytes: u64,
    /// Surveys in it, as the server counted them.
    pub surveys: Option<u64>,
    /// Why it was not written.
    pub error: Option<String>,
}

/// Downloads every form's approved surveys in every format into `out`.
pub fn export(pilot: &Pilot, out: &Path) -> Result<Vec<ExportResult>, DemoError> {
    std::fs::create_dir_all(out).map_err(|e| DemoError::Io(format!("creating {}: {e}", out.display())))?;
    let analyst = desk(&pilot.url, &pilot.analyst)?;
    let mut forms: Vec<String> = pilot.teams.iter().map(|t| t.form.id.clone()).collect();
    forms.dedup();
    let mut results = Vec::new();
    for form_id in forms {
        for (format, extension) in FORMATS {
            let url = format!("/api/v1/forms/{form_id}/export?format={format}&review=approved");
            let mut result = ExportResult {
                form_id: form_id.clone(),
                format: format.into(),
                path: None,
                bytes: 0,
                surveys: None,
                error: None,
            };
            match analyst.get_bytes(&url) {
                Ok((200, headers, body)) => {
                    result.surveys =
                        headers.iter().find(|(k, _)| k == "terrain-surveys").and_then(|(_, v)| v.parse().ok());
                    let path = out.join(format!("{form_id}-approved.{extension}"));
                    // Written beside, then renamed: a failed write leaves no half file.
                    let partial = path.with_extension(format!("{extension}.partial"));
                    match std::fs::write(&partial, &body).and_then(|()| std::fs::rename(&partial, &path)) {
                        Ok(()) => {
                            result.bytes = body.len() as u64;
                            result.path = Some(path);
                        }
                        Err(e) => result.error = Some(format!("writing {}: {e}", path.display())),
                    }
                }
                Ok((status, _, body)) => {
                    result.error = Some(format!(
                        "the server answered {status} ({})",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    ))
                }
                Err(e) => result.error = Some(e.to_string()),
            }
            results.push(result);
        }
    }
    Ok(results)
}
