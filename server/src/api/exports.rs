//! Exports of a form's merged dataset for analysts (and admins, and supervisors for their
//! teams' surveys). The export is written to a temporary file off the async runtime, then
//! streamed; the change-feed cursor to resume from comes back in `Terrain-Cursor`.

use std::io::{Seek, SeekFrom};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use terrain_services::Error;
use terrain_services::exports::ExportQuery as Query_;
use utoipa::IntoParams;

use super::caller::Reader;
use super::error::ApiError;
use crate::http::{AppState, blocking};

/// The filters and options of an export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (a zip), `xlsx`, `json`, `ndjson`, `geojson` or `dictionary`; default `csv`.
    pub format: Option<String>,
    /// Review statuses, comma-separated (`approved,received`), or `any`. Analysts get
    /// `approved` unless they ask otherwise; others get `any`.
    pub review: Option<String>,
    /// Surveys started at or after this date (`2026-11-01`) or time (RFC 3339).
    pub from: Option<String>,
    /// Surveys started before this date or time.
    pub to: Option<String>,
    /// Only the surveys started by the members of this team (zone), by id.
    pub team: Option<i64>,
    /// Only surveys of this form version.
    pub version: Option<String>,
    /// Only surveys changed after this cursor (a previous export's `Terrain-Cursor`).
    pub since: Option<u64>,
    /// Choice labels in this language (`fr`) instead of codes.
    pub labels: Option<String>,
    /// Start CSV files with a UTF-8 BOM, for Excel.
    pub bom: Option<bool>,
    /// With `format=csv`: the attached files too, under `media/` in the zip.
    pub media: Option<bool>,
}

/// The form's merged dataset, filtered, in the format asked. Analysts and admins of the
/// form's project export every survey; supervisors their teams'; enumerators nothing.
#[utoipa::path(get, path = "/api/v1/forms/{form_id}/export", params(("form_id" = String, Path), ExportQuery),
    responses((status = 200, description = "the export; header Terrain-Cursor holds the cursor to pass as `since` next time"),
        (status = 400, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    Reader(auth): Reader,
    Path(form_id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let services = state.services.clone();
    let deadline = Instant::now() + state.settings.request_timeout.mul_f32(0.9);
    let query = Query_ {
        format: q.format,
        review: q.review,
        from: q.from,
        to: q.to,
        team: q.team,
        team_name: None,
        version: q.version,
        since: q.since,
        labels: q.labels,
        bom: q.bom,
        media: q.media,
    };
    let (file, outcome, format) = blocking(move || {
        let (request, _) = services.export_request(&auth.scope, &form_id, query)?;
        let format = request.format;
        let mut file = tempfile::tempfile().map_err(Error::internal)?;
        let outcome = services.export(&auth.scope, request, Some(deadline), &mut file)?;
        file.seek(SeekFrom::Start(0)).map_err(Error::internal)?;
        Ok((file, outcome, (format, form_id)))
    })
    .await?;
    let (format, form_id) = format;
    Ok(file_response(file, outcome, format, &form_id))
}

/// The `Content-Disposition` of a download named after `name`, its characters kept to those
/// every browser and file system takes, with `extension`.
pub fn attachment(name: &str, extension: &str) -> String {
    let filename: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("attachment; filename=\"{filename}.{extension}\"")
}

/// An export written to `file` as a download named after its form, with its cursor and
/// survey count in headers.
pub fn file_response(
    file: std::fs::File,
    outcome: terrain_services::exports::ExportOutcome,
    format: terrain_services::exports::Format,
    form_id: &str,
) -> Response {
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, attachment(form_id, format.extension())),
            (header::HeaderName::from_static("terrain-cursor"), outcome.cursor.to_string()),
            (header::HeaderName::from_static("terrain-surveys"), outcome.surveys.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
