//! The HTTP application: shared state and the router (`app(state) -> Router`, as in axum's
//! testing example), with its limits, timeouts and tracing.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::backend::Backend;
use crate::error::ErrorBody;
use crate::routes;
use crate::sync_service::SyncLimits;

/// Settings of a running server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a login token lives. Field devices stay offline for weeks, so the default is
    /// long; revoke a lost phone's tokens by disabling or logging it out.
    pub token_ttl: chrono::Duration,
    /// Largest request body accepted (sync bodies are compressed).
    pub max_body_bytes: usize,
    /// Slowest request allowed, end to end.
    pub request_timeout: Duration,
    /// Sync limits.
    pub sync: SyncLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_ttl: chrono::Duration::days(60),
            max_body_bytes: 32 << 20,
            request_timeout: Duration::from_secs(120),
            sync: SyncLimits::default(),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub backend: Arc<dyn Backend>,
    /// Settings.
    pub settings: Arc<Settings>,
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let settings = state.settings.clone();
    routes::router()
        .merge(crate::dashboard::router())
        .with_state(state)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.request_timeout))
        // Outside the timeout, so that every error, axum's own included, is JSON.
        .layer(axum::middleware::map_response(json_errors))
        // Logs method, path and status; never headers (tokens) nor bodies.
        .layer(TraceLayer::new_for_http())
}

/// Turns the plain-text errors that axum's extractors, the body limit, the router and the
/// timeout produce into the API's JSON error body, keeping their status.
async fn json_errors(response: Response) -> Response {
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
