//! Running the server: bind, serve, and shut down gracefully on Ctrl-C or SIGTERM, letting
//! in-flight requests finish (every acknowledgement is durable before it is sent, so a
//! stop loses nothing acknowledged).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::{AppState, Settings, app};
use crate::backend::sqlite::SqliteBackend;

/// Opens the embedded backend in `data` and the application state.
pub fn state(data: &Path, settings: Settings) -> Result<AppState, crate::backend::BackendError> {
    let backend = SqliteBackend::open(data)?;
    Ok(AppState { backend: Arc::new(backend), settings: Arc::new(settings) })
}

/// Serves `state` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let upkeep = tokio::spawn(upkeep(state.clone()));
    let served = axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await;
    upkeep.abort();
    served
}

/// Compacts surveys stored as received, a batch every few seconds, so ingest stays fast
/// and storage ends compact.
async fn upkeep(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tick.tick().await;
        let backend = state.backend.clone();
        match tokio::task::spawn_blocking(move || backend.maintain()).await {
            Ok(Ok(n)) if n > 0 => tracing::debug!(compacted = n, "upkeep"),
            Ok(Err(e)) => tracing::warn!(error = %e, "upkeep failed; will retry"),
            _ => {}
        }
    }
}

/// Binds `addr`; a non-loopback address must be asked for explicitly by the caller.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
