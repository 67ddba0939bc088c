//! The JSON body of every API error, and the layer that gives axum's own plain-text errors
//! (extractors, the body limit, the router, the timeout) that body, keeping their status.

use axum::Json;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code: `unauthorized`, `forbidden`, `not_found`, `invalid`, `conflict`,
    /// `too_large`, `too_many`, `busy`, `unsupported_protocol`, `internal`, …
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// Turns the plain-text errors that axum's extractors, the body limit, the router and the
/// timeout produce into the API's JSON error body, keeping their status.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // Dashboard pages answer errors as HTML pages of their own.
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        413 => "too_large",
        429 => "too_many",
        s if s >= 500 => "internal",
        _ => "invalid",
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text };
    (status, Json(ErrorBody { code: code.to_owned(), message })).into_response()
}
