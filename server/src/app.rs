//! The HTTP application: shared state and the router (`app(state) -> Router`, as in axum's
//! testing example), with its limits, timeouts and tracing.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::backend::Backend;
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
        .with_state(state)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.request_timeout))
        // Logs method, path and status; never headers (tokens) nor bodies.
        .layer(TraceLayer::new_for_http())
}
