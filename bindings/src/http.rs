//! The HTTP client the app provides. The phone library has no HTTP or TLS code of its own:
//! the app sends the core's requests with the platform's stack (OkHttp or
//! `HttpURLConnection` on Android, `URLSession` on iOS), so they use the phone's trust store,
//! proxy settings and power policy, and the library stays small.

use std::sync::Arc;

use terrain_core::sync::{self as core_sync, TransportError};

use crate::error::TerrainError;

/// One header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    /// The name (responses: lower case).
    pub name: String,
    /// The value.
    pub value: String,
}

/// A request the app sends for the store.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The whole URL.
    pub url: String,
    /// Headers to send, in order (the bearer token, the content type).
    pub headers: Vec<HttpHeader>,
    /// The body; empty for none.
    pub body: Vec<u8>,
    /// How long the whole exchange may take, in milliseconds.
    pub timeout_ms: u64,
    /// Stop reading the response past this many bytes, and fail.
    pub max_response_bytes: u64,
    /// When set (lower-case hexadecimal), the server's certificate must have this SHA-256
    /// fingerprint, whoever signed it: check it during the TLS handshake, before the request
    /// is sent (OkHttp's `CertificatePinner` pins keys, not certificates: use a
    /// `TrustManager` that compares the leaf certificate's SHA-256; on iOS, compare in
    /// `urlSession(_:didReceive:completionHandler:)`), and throw `TerrainError.Network` when
    /// it differs.
    pub pinned_certificate_sha256: Option<String>,
}

/// The server's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    /// The HTTP status (a 4xx or 5xx is a response too, not an error).
    pub status: u16,
    /// The response's headers.
    pub headers: Vec<HttpHeader>,
    /// The body, decoded: a platform stack that asked for gzip (OkHttp and URLSession do,
    /// and the relay gzips forms and their lists for those that ask) hands back what it
    /// inflated, as they do by themselves.
    pub body: Vec<u8>,
}

/// Implemented by the app: sends one request and returns the response, whatever its
/// status. Throw `TerrainError.Network` when no response came (no connection, a timeout,
/// a body over `max_response_bytes`). Called on the thread that called the store.
#[uniffi::export(with_foreign)]
pub trait HttpClient: Send + Sync {
    /// Sends `request`.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TerrainError>;
}

/// The app's client as the core's.
pub(crate) struct Platform(pub(crate) Arc<dyn HttpClient>);

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Platform")
    }
}

fn headers(pairs: Vec<(String, String)>) -> Vec<HttpHeader> {
    pairs.into_iter().map(|(name, value)| HttpHeader { name, value }).collect()
}

impl core_sync::HttpClient for Platform {
    fn send(&self, request: core_sync::HttpRequest) -> Result<core_sync::HttpResponse, TransportError> {
        let request = HttpRequest {
            method: request.method,
            url: request.url,
            headers: headers(request.headers),
            body: request.body,
            timeout_ms: u64::try_from(request.timeout.as_millis()).unwrap_or(u64::MAX),
            max_response_bytes: request.max_response_bytes,
            pinned_certificate_sha256: request.pinned_certificate.map(|pin| pin.to_hex()),
        };
        let response = self.0.send(request).map_err(|e| TransportError::Network(e.to_string()))?;
        Ok(core_sync::HttpResponse {
            status: response.status,
            headers: response.headers.into_iter().map(|h| (h.name.to_ascii_lowercase(), h.value)).collect(),
            body: response.body,
        })
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TerrainError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> TerrainError {
        TerrainError::Network { detail: format!("the app's HTTP client failed: {}", e.reason) }
    }
}
