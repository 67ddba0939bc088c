//! Accepting connections: at most [`Settings::max_connections`] open at once, and
//! [`Settings::max_connections_per_address`] from one address (past either, a new
//! connection is closed at once); headers must arrive within
//! [`Settings::header_timeout`] (and a TLS handshake must finish within the same time), so a
//! slowloris client is dropped in seconds; each connection is served by hyper with the
//! application, over TLS when the server has a certificate; and on shutdown, requests in flight
//! finish (every acknowledgement is durable before it is sent, so a stop loses nothing
//! acknowledged).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use terrain_services::webhooks::WebhookWorker;

use super::tls::Tls;
use super::{AppState, ClientAddr, Scheme, Settings};

/// How long requests in flight may take to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(30);

/// Connections open per address, given back when a connection ends.
#[derive(Debug, Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

struct Held {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn hold(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Held> {
        let mut table = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = table.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Held { table: self.clone(), ip })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = table.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` (the application of `state`) on `listener` until `shutdown` completes,
/// over TLS when `tls` is given, with `state`'s upkeep and webhook deliveries in the
/// background.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    tls: Option<Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings: Arc<Settings> = state.settings.clone();
    let webhooks = WebhookWorker::start(state.services.clone()).map_err(std::io::Error::other)?;
    let upkeep = tokio::spawn(upkeep(state));
    let open = Arc::new(tokio::sync::Semaphore::new(settings.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // HTTP/1.1 only: what phones, scripts and browsers on a field office's link speak, and
    // one protocol less to bound.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(settings.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "too many connections: refusing one");
            continue;
        };
        // A trusted proxy brings every client's connections: only the overall cap holds it.
        let per_address_cap = if settings.trusted_proxies.contains(&peer.ip()) {
            settings.max_connections
        } else {
            settings.max_connections_per_address
        };
        let Some(held) = per_address.hold(peer.ip(), per_address_cap) else {
            tracing::warn!(%peer, "too many connections from one address: refusing one");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let scheme = if tls.is_some() { Scheme::Https } else { Scheme::Http };
        let service = router.clone().map_request(move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ClientAddr(peer));
            request.extensions_mut().insert(scheme);
            request.extensions_mut().insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
            request
        });
        let service = TowerToHyperService::new(service);
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let acceptor = tls.as_ref().map(Tls::acceptor);
        let handshake_timeout = settings.header_timeout;
        tokio::spawn(async move {
            let served = match acceptor {
                None => watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await,
                Some(acceptor) => match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake too slow: dropping the connection");
                        return;
                    }
                },
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop((permit, held));
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight after {} s: closing them", DRAIN.as_secs());
    }
    upkeep.abort();
    // Stopping waits for a delivery in flight: off the async threads.
    let _ = tokio::task::spawn_blocking(move || drop(webhooks)).await;
    Ok(())
}

/// Compacts surveys stored as received and writes missing projection rows, a batch every
/// few seconds, so ingest stays fast and storage ends compact.
async fn upkeep(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let services = state.services.clone();
        match tokio::task::spawn_blocking(move || services.maintain()).await {
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
}
