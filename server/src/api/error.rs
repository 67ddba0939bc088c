//! API errors: an HTTP status, a stable machine-readable code and a message a person can
//! act on, sent as JSON `{"code": …, "message": …}`, with `Retry-After` when the answer is
//! "not now". Every service error maps to one here, and only here.

use axum::Json;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use terrain_services::Error;
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

/// An error answered to a request.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// When to try again, for 429 and 503.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    /// 400: the request is malformed.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code: "invalid", message: message.into(), retry_after: None }
    }

    /// 401: no valid token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: message.into(), retry_after: None }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Invalid(_) => StatusCode::BAD_REQUEST,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = match &e {
            Error::TooMany { retry_after, .. } | Error::Busy { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        ApiError { status, code: e.code(), message: e.to_string(), retry_after }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(ErrorBody { code: self.code.to_owned(), message: self.message })).into_response();
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: a client told 0 would come straight back.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        response
    }
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
        s if s >= 500 => "internal",
        _ => "invalid",
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text };
    (status, Json(ErrorBody { code: code.to_owned(), message })).into_response()
}
