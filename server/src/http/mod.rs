//! What the faces share over HTTP: the state and settings, the layers that bound every
//! request, running blocking service calls off the async runtime, the listener, and request
//! bodies held to a minimum rate. The application itself is put together at the crate root.
//!
//! - `listener`: accepting connections (caps, header-read timeout, TLS, graceful shutdown).
//! - `tls`: the certificate and key, reloaded while the server runs.
//! - `forwarded`: the client's address and scheme as a trusted reverse proxy reports them.
//! - `body`: request bodies that must keep arriving at a minimum rate.
//! - `errors`: the JSON error body, and axum's own plain-text errors turned into it.

pub mod body;
pub mod errors;
pub mod forwarded;
pub mod listener;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use terrain_services::Services;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Settings of a running server: its services' and its HTTP limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The services' limits (tokens, budgets, throttles).
    pub services: terrain_services::Settings,
    /// Largest request body of a sync round or an upload (sync bodies are compressed).
    pub max_body_bytes: usize,
    /// Largest JSON or form body.
    pub max_json_bytes: usize,
    /// Slowest request allowed, end to end; its work stops there too.
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// A request body must bring at least this many bytes every [`Settings::body_window`]
    /// (a 2G link brings a hundred times more), or the connection is dropped.
    pub body_min_bytes: u64,
    /// See [`Settings::body_min_bytes`].
    pub body_window: Duration,
    /// Connections open at once, from everyone.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_connections_per_address: usize,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (the
    /// client's address for login throttling, and whether it came over HTTPS); from any
    /// other peer those headers are ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The address phones reach this server by (`https://relay.example.org`), for enrolment
    /// QR codes, when it differs from the one the dashboard is opened at.
    pub public_url: Option<String>,
    /// Whether enrolment QR codes pin the certificate the server serves: for a self-signed
    /// one (`terrain admin tls-certificate`), never for one a public authority renews, which
    /// would cut off every enrolled phone at its renewal.
    pub pin_certificate: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            services: terrain_services::Settings::default(),
            max_body_bytes: 16 << 20,
            max_json_bytes: 256 << 10,
            request_timeout: Duration::from_secs(120),
            header_timeout: Duration::from_secs(10),
            body_min_bytes: 512,
            body_window: Duration::from_secs(10),
            max_connections: 1_024,
            max_connections_per_address: 64,
            trusted_proxies: Vec::new(),
            public_url: None,
            pin_certificate: false,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The services.
    pub services: Arc<Services>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// The TLS the server serves itself, if it does: its certificate's pin goes into
    /// enrolment QR codes.
    pub tls: Option<tls::Tls>,
}

impl AppState {
    /// The state of a server on `services`.
    pub fn new(services: Services, settings: Settings) -> AppState {
        AppState { services: Arc::new(services), settings: Arc::new(settings), tls: None }
    }

    /// The state of a server on the embedded SQLite backend in `data`.
    pub fn open(data: &std::path::Path, settings: Settings) -> terrain_services::Result<AppState> {
        AppState::open_keyed(data, None, settings)
    }

    /// [`AppState::open`] with the databases encrypted under `key` (`None`: plain).
    pub fn open_keyed(
        data: &std::path::Path,
        key: Option<&terrain_core::StoreKey>,
        settings: Settings,
    ) -> terrain_services::Result<AppState> {
        let services = Services::open_sqlite_keyed(data, key, settings.services.clone())?;
        Ok(AppState::new(services, settings))
    }
}

/// The address a request came from, as the listener saw it (or a trusted proxy reported).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Whether the client reached the server over TLS (here, or at a trusted proxy): pages then
/// get HSTS and `Secure` cookies, and absolute links say `https://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// Plain HTTP (loopback, or `--insecure-http`).
    #[default]
    Http,
    /// HTTPS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The scheme the listener (or [`forwarded`]) recorded; plain HTTP when none did, as for
/// an application called directly in tests.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Scheme {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Scheme, Self::Rejection> {
        Ok(parts.extensions.get::<Scheme>().copied().unwrap_or_default())
    }
}

/// Wraps `router` in the limits every request is held to: the body size, the minimum body
/// rate, the end-to-end timeout, JSON errors, and request logs.
pub fn layers(router: Router<()>, settings: Arc<Settings>) -> Router<()> {
    router
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(settings.clone(), body::enforce_min_rate))
        .layer(axum::middleware::from_fn_with_state(settings.clone(), forwarded::apply))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.request_timeout))
        // Outside the timeout, so that every error, axum's own included, is JSON.
        .layer(axum::middleware::map_response(errors::json_errors))
        // Logs method, path and status; never headers (tokens) nor bodies.
        .layer(TraceLayer::new_for_http())
}

/// The scheme and the host a request names, for absolute links in answers (OData's
/// `nextLink`, a saved export's URL); empty, so links stay paths, when the request names
/// none a link could carry.
pub fn origin(headers: &axum::http::HeaderMap, scheme: Scheme) -> String {
    match headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) => {
            format!("{}://{host}", scheme.as_str())
        }
        _ => String::new(),
    }
}

/// Runs blocking service work off the async runtime, turning a panic into an internal
/// error for this request only.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> terrain_services::Result<T> + Send + 'static,
) -> terrain_services::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(terrain_services::Error::internal)?
}
