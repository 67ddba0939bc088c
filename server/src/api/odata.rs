//! A project's OData v4 feed, read-only, for Excel, Power BI and OData client libraries:
//! the service document, `$metadata`, and pages of an entity set. Callers are
//! [`Reader`]s: a feed token or a session, as a bearer or with HTTP Basic as Power Query's
//! "Basic" sends it.

use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use terrain_services::feeds::Options;

use super::caller::{Reader, ReaderError};
use super::error::ApiError;
use crate::http::{AppState, Scheme, blocking, origin};

/// The service's address as the client reached it, for the links in answers (and the
/// dashboard's feeds page).
pub(crate) fn service_url(headers: &HeaderMap, scheme: Scheme, project: i64) -> String {
    format!("{}/api/v1/projects/{project}/odata", origin(headers, scheme))
}

fn json_response(body: &Json) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json;odata.metadata=minimal")),
            (axum::http::HeaderName::from_static("odata-version"), HeaderValue::from_static("4.0")),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The service document: every entity set of the project.
pub async fn service(
    State(state): State<AppState>,
    Reader(auth): Reader,
    Path(project): Path<i64>,
    headers: HeaderMap,
    scheme: Scheme,
) -> Result<Response, ReaderError> {
    let services = state.services.clone();
    let service = blocking(move || services.feed(&auth.scope, project)).await?;
    let base = service_url(&headers, scheme, project);
    let sets: Vec<Json> =
        service.sets.iter().map(|s| json!({ "name": s.name, "kind": "EntitySet", "url": s.name })).collect();
    Ok(json_response(&json!({ "@odata.context": format!("{base}/$metadata"), "value": sets })))
}

/// `$metadata`: the entity types and sets, as CSDL XML.
pub async fn metadata(
    State(state): State<AppState>,
    Reader(auth): Reader,
    Path(project): Path<i64>,
) -> Result<Response, ReaderError> {
    let services = state.services.clone();
    let xml = blocking(move || services.feed_metadata(&auth.scope, project)).await?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/xml")),
            (axum::http::HeaderName::from_static("odata-version"), HeaderValue::from_static("4.0")),
        ],
        xml,
    )
        .into_response())
}

/// One page of an entity set, with `@odata.nextLink` to the next.
pub async fn set(
    State(state): State<AppState>,
    Reader(auth): Reader,
    Path((project, set)): Path<(i64, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    scheme: Scheme,
) -> Result<Response, ReaderError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::invalid(format!("the query string cannot be read: {e}")))?;
    let mut options = Options::parse(&pairs).map_err(|e| ApiError::invalid(e.to_string()))?;
    let applied = headers.get("prefer").and_then(|v| v.to_str().ok()).and_then(|p| options.prefer(p));
    let deadline = Instant::now() + state.settings.request_timeout.mul_f32(0.9);
    let services = state.services.clone();
    let name = set.clone();
    let page = blocking(move || services.feed_page(&auth.scope, project, &name, &options, Some(deadline))).await?;
    let base = service_url(&headers, scheme, project);
    let mut body = serde_json::Map::new();
    body.insert("@odata.context".into(), json!(format!("{base}/$metadata#{set}")));
    if let Some(count) = page.count {
        body.insert("@odata.count".into(), json!(count));
    }
    body.insert("value".into(), Json::Array(page.rows.into_iter().map(Json::Object).collect()));
    if let Some(next) = page.next {
        let query =
            serde_urlencoded::to_string(&next).map_err(|e| ApiError::from(terrain_services::Error::internal(e)))?;
        body.insert("@odata.nextLink".into(), json!(format!("{base}/{set}?{query}")));
    }
    let mut response = json_response(&Json::Object(body));
    if let Some(rows) = applied
        && let Ok(value) = HeaderValue::from_str(&format!("odata.maxpagesize={rows}"))
    {
        response.headers_mut().insert("preference-applied", value);
    }
    Ok(response)
}
