//! XLSForm spreadsheets uploaded to the server, imported with the core's importer.
//!
//! Only `.xlsx` (and CSV) are accepted over the network: the legacy `.xls` reader can be
//! made to allocate without bound by a damaged file, which would take the server down with
//! it. Authors convert `.xls` files, or check them offline with `terrain form check`.

use terrain_core::form::Form;
use terrain_xlsform as xlsform;

use crate::error::ApiError;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Imports an uploaded XLSForm, told apart by its content type.
pub fn import(content_type: &str, body: &[u8]) -> Result<Form, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let file_name = match media {
        XLSX => "upload.xlsx",
        "text/csv" => "upload.csv",
        "application/vnd.ms-excel" => {
            return Err(ApiError::unprocessable(
                "unsupported_media_type",
                "legacy .xls files are not accepted over the network: save the form as .xlsx",
            ));
        }
        other => {
            return Err(ApiError::unprocessable(
                "unsupported_media_type",
                format!("publish a form as {XLSX}, text/csv or application/json (got `{other}`)"),
            ));
        }
    };
    xlsform::import_bytes(file_name, body).map_err(|e| ApiError::unprocessable("invalid_form", e.to_string()))
}
