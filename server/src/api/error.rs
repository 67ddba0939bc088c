//! API errors: an HTTP status, a stable machine-readable code and a message a person can
//! act on, sent as JSON `{"code": …, "message": …}`, with `Retry-After` when the answer is
//! "not now". Every service error maps to one here, and only here.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use terrain_services::Error;

pub use crate::http::errors::ErrorBody;

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

    /// 413 for a body over the limit, else 400: a body that could not be read to its end.
    pub fn unreadable_body(e: axum::Error) -> Self {
        let inner = e.into_inner();
        if inner.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            return ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "too_large",
                message: "the request body is larger than a request may carry".into(),
                retry_after: None,
            };
        }
        ApiError::invalid(format!("the request body could not be read ({inner}): send it again"))
    }

    /// 401: no valid token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: message.into(), retry_after: None }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Unauthenticated(_) | Error::TokenExpired(_) | Error::DeviceRevoked(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) | Error::PasswordChangeRequired(_) => StatusCode::FORBIDDEN,
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
