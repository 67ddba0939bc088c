//! XLSForm import: reads `.xlsx`, `.xls` and `.csv` XLSForms (the ODK / KoboToolbox /
//! SurveyCTO questionnaire format) into a [`Form`].
//!
//! The rules are pyxform's (the reference XLSForm converter), so that a form reads here as
//! it does in ODK: the same sheet and column spellings, aliases and types, the same checks.
//! Where Terrain differs it says so in the module that differs. A form with any problem is
//! refused whole, with every problem listed by sheet, row and column ([`ImportError`]).
//!
//! Reading goes file → [`sheets`]/[`csv_sheets`] (neutral rows of text) → [`headers`]
//! (what each column means) → [`settings`], [`choices`], [`survey`] (with [`types`],
//! [`fields`], [`parameters`], [`loops`]), [`entities`] → [`build`] (references, assembly).
//!
//! Two XLSForm features reach the model in a shape of their own: loops (`begin loop over
//! LIST`) become one group per choice with renamed copies of their questions (`loops.rs`),
//! and OpenMapKit (`osm`) questions become file questions (`survey.rs`).

mod build;
pub mod bundle;
mod choices;
mod csv_sheets;
mod entities;
mod error;
mod fields;
mod headers;
mod limits;
mod loops;
mod names;
mod parameters;
mod references;
mod settings;
mod sheets;
mod survey;
mod text;
mod types;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::{FormIssue, ImportError};
pub use limits::Limits;

use sheets::ExcelFormat;
use terrain_core::form::model::Form;

/// Imports the XLSForm at `path`, choosing the reader by its extension (`.xlsx`, `.xlsm`,
/// `.xls`, `.csv`). The form id defaults to the file name without extension.
pub fn import_path(path: &Path) -> Result<Form, ImportError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ImportError::Read { file: file.clone(), reason: e.to_string() })?;
    let file_name = path.file_name().map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned());
    import(&file, &file_name, &bytes, &Limits::default())
}

/// Imports an XLSForm held in memory (an upload, say). `file_name` chooses the reader by
/// its extension and gives the default form id.
pub fn import_bytes(file_name: &str, bytes: &[u8]) -> Result<Form, ImportError> {
    import(file_name, file_name, bytes, &Limits::default())
}

/// [`import_bytes`] within `limits` (what a server allows an upload to cost).
pub fn import_bytes_within(file_name: &str, bytes: &[u8], limits: &Limits) -> Result<Form, ImportError> {
    import(file_name, file_name, bytes, limits)
}

fn import(file: &str, file_name: &str, bytes: &[u8], limits: &Limits) -> Result<Form, ImportError> {
    let read_error = |reason: String| ImportError::Read { file: file.to_owned(), reason };
    let extension =
        Path::new(file_name).extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let (book, is_excel) = match extension.as_str() {
        "xlsx" | "xlsm" => {
            limits::check_zip(bytes, limits).map_err(read_error)?;
            (sheets::read_excel(bytes, ExcelFormat::Xlsx, limits).map_err(read_error)?, true)
        }
        "xls" => (sheets::read_excel(bytes, ExcelFormat::Xls, limits).map_err(read_error)?, true),
        "csv" => (csv_sheets::read_csv(bytes, limits).map_err(read_error)?, false),
        other => {
            let found = if other.is_empty() {
                "it has no file extension".to_owned()
            } else {
                format!("\".{other}\" files are not XLSForms")
            };
            return Err(read_error(format!("{found}; use an .xlsx, .xls or .csv file")));
        }
    };
    build::build_form(file, file_name, &book, is_excel)
}
