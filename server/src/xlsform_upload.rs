//! XLSForm spreadsheets uploaded to the server, imported with the core's importer.

use terrain_core::form::Form;

use crate::error::ApiError;

/// Imports an uploaded XLSForm (`.xlsx` or `.xls`, told apart by content type).
pub fn import(content_type: &str, _body: &[u8]) -> Result<Form, ApiError> {
    Err(ApiError::unprocessable(
        "unsupported_media_type",
        format!("publish forms as application/json (got `{content_type}`)"),
    ))
}
