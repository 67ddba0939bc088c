//! Terrain's relay server, its faces: the JSON API that devices sync with and scripts call,
//! and the supervisors' web dashboard, over HTTP.
//!
//! Layers, top to bottom, dependencies pointing one way:
//!
//! ```text
//! faces:     api (JSON, OpenAPI)   dashboard (HTML)      `terrain` CLI (terrain-cli)
//!                       \               |               /
//! services:        terrain-services (Scope, accounts, forms, review, sync, …)
//!                                       |
//! storage:         terrain-backend (the Backend trait; SQLite)
//!                                       |
//! core:            terrain-core (documents, forms, the store, the front door)
//! ```
//!
//! Only this crate knows HTTP, cookies, CSRF and status codes: its handlers parse, call one
//! service, and map the service's error to their own form. `http` holds what they share:
//! the application and its limits, the listener, and request bodies held to a minimum rate.

pub mod api;
pub mod dashboard;
pub mod http;

pub use http::listener::{bind, shutdown_signal};
pub use http::tls::{Tls, TlsError, TlsFiles};
pub use http::{AppState, Settings};

/// The whole HTTP application: the API and the dashboard, within every request limit.
pub fn app(state: AppState) -> axum::Router {
    let settings = state.settings.clone();
    let router = api::router(&settings).merge(dashboard::router()).with_state(state);
    http::layers(router, settings)
}

/// Serves the application of `state` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    http::listener::serve(listener, app(state.clone()), state, None, shutdown).await
}

/// [`serve`] over TLS with `tls`'s certificate (which [`Tls::reload`] replaces while it runs).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Tls,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState { tls: Some(tls.clone()), ..state };
    http::listener::serve(listener, app(state.clone()), state, Some(tls), shutdown).await
}
