//! How the sync client reaches the server: a small trait, and its HTTP implementation over
//! an [`HttpClient`]. Tests and tools can put anything behind the trait.

use std::sync::Arc;

use serde::Deserialize;

use super::address::ServerAddress;
use super::http::{self, HttpClient, HttpRequest, HttpResponse};
use super::pin::CertificatePin;
use super::wire::CONTENT_TYPE;

/// What went wrong talking to the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The network failed (no connection, reset, timeout): try again later.
    #[error("could not reach the server ({0}); the sync will resume from where it stopped")]
    Network(String),
    /// The token was refused (expired or revoked).
    #[error("the server refused the login token ({0}): log in again")]
    Unauthorized(String),
    /// The server revoked this device (lost, stolen, replaced): it may not sync or log in
    /// again; what it holds stays on it.
    #[error("{0}")]
    DeviceRevoked(String),
    /// The server refused the request.
    #[error("the server refused the request ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: String,
        /// The server's message.
        message: String,
    },
}

/// A connection to one server, for one logged-in device.
pub trait Transport: Send + Sync {
    /// A stable name for the server (its URL): the device keeps one feed cursor per server.
    fn server(&self) -> &str;
    /// Sends one compressed sync request and returns the compressed response.
    fn sync(&self, body: Vec<u8>) -> Result<Vec<u8>, TransportError>;
    /// Downloads one form version's definition (JSON).
    fn form(&self, form_id: &str, version: &str) -> Result<String, TransportError>;
    /// The form versions published to the projects of the logged-in user. Transports that
    /// cannot list forms (bundles, test doubles) refuse.
    fn published_forms(&self) -> Result<Vec<PublishedForm>, TransportError> {
        Err(TransportError::Refused {
            status: 501,
            code: "unsupported".into(),
            message: "this connection cannot list forms: download them from the server".into(),
        })
    }
}

/// A form version published on the server, as its list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PublishedForm {
    /// The form's id.
    pub form_id: String,
    /// The version.
    pub version: String,
    /// The form's title.
    pub title: String,
}

/// The HTTP transport: `POST /api/v1/sync` and `GET /api/v1/forms/{id}/{version}`, with a
/// bearer token in the `Authorization` header (never in the URL), sent by an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    pin: Option<CertificatePin>,
    token: String,
    http: Arc<dyn HttpClient>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

impl HttpTransport {
    /// A transport to the server at `base` (for example `https://terrain.example.org`), for
    /// the token of a [`super::Session`], sent with reqwest.
    #[cfg(feature = "reqwest")]
    pub fn new(base: &str, token: &str) -> Result<HttpTransport, TransportError> {
        Ok(HttpTransport::with_client(base, token, Arc::new(super::http::ReqwestClient::new()?)))
    }

    /// A transport to `base` whose requests `http` sends. `base` is taken as it is: the
    /// device's own paths go through [`ServerAddress`] (and [`HttpTransport::to`]), which
    /// refuses plain HTTP beyond loopback.
    pub fn with_client(base: &str, token: &str, http: Arc<dyn HttpClient>) -> HttpTransport {
        HttpTransport { base: base.trim_end_matches('/').to_owned(), pin: None, token: token.to_owned(), http }
    }

    /// A transport to `server` (its certificate pinned, if it has a pin) whose requests
    /// `http` sends.
    pub fn to(server: &ServerAddress, token: &str, http: Arc<dyn HttpClient>) -> HttpTransport {
        HttpTransport { pin: server.pin(), ..HttpTransport::with_client(server.base(), token, http) }
    }

    /// The server's address.
    pub fn server_url(&self) -> &str {
        &self.base
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends with a token the server issued in place of the old one.
    pub(super) fn set_token(&mut self, token: String) {
        self.token = token;
    }

    /// The URL of `path` on this server.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request` with the bearer token, held to its response limit.
    pub(super) fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let request = HttpRequest { pinned_certificate: self.pin, ..request };
        http::send(&*self.http, request.bearer(&self.token))
    }

    fn get(&self, path: &str) -> Result<HttpResponse, TransportError> {
        check(self.send(HttpRequest::new("GET", self.url(path)))?)
    }
}

/// The response if it is a success, else the server's refusal as an error.
pub(super) fn check(response: HttpResponse) -> Result<HttpResponse, TransportError> {
    if response.is_success() {
        return Ok(response);
    }
    let status = response.status;
    if (300..400).contains(&status) {
        let to = response.headers.iter().find(|(name, _)| name == "location").map_or("another address", |(_, v)| v);
        return Err(TransportError::Refused {
            status,
            code: "redirect".into(),
            message: format!("the server moved to {to}: use that address"),
        });
    }
    let body: Option<ErrorBody> = serde_json::from_slice(&response.body).ok();
    let (code, message) =
        body.map(|b| (b.code, b.message)).unwrap_or_else(|| ("http".into(), format!("HTTP {status}")));
    if status == 401 {
        if code == "device_revoked" {
            return Err(TransportError::DeviceRevoked(message));
        }
        return Err(TransportError::Unauthorized(message));
    }
    Err(TransportError::Refused { status, code, message })
}

/// The body of a response, parsed as JSON.
pub(super) fn json<T: serde::de::DeserializeOwned>(response: &HttpResponse) -> Result<T, TransportError> {
    serde_json::from_slice(&response.body)
        .map_err(|e| TransportError::Network(format!("the server answered what is not the expected JSON ({e})")))
}

impl Transport for HttpTransport {
    fn server(&self) -> &str {
        &self.base
    }

    fn sync(&self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let request = HttpRequest::new("POST", self.url("/api/v1/sync")).body(CONTENT_TYPE, body);
        Ok(check(self.send(request)?)?.body)
    }

    fn form(&self, form_id: &str, version: &str) -> Result<String, TransportError> {
        let response = self.get(&format!("/api/v1/forms/{form_id}/{version}"))?;
        String::from_utf8(response.body)
            .map_err(|_| TransportError::Network("the server sent a form that is not UTF-8 text".into()))
    }

    fn published_forms(&self) -> Result<Vec<PublishedForm>, TransportError> {
        json(&self.get("/api/v1/forms")?)
    }
}
