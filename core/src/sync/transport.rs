//! How the sync client reaches the server: a small trait, and its HTTP implementation
//! (reqwest with rustls). Tests and tools can put anything behind the trait.

use std::time::Duration;

use serde::Deserialize;

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
/// bearer token in the `Authorization` header (never in the URL).
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    token: String,
    client: reqwest::blocking::Client,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

impl HttpTransport {
    /// A transport to the server at `base` (for example `https://terrain.example.org`), for
    /// the token of a [`super::Session`].
    pub fn new(base: &str, token: &str) -> Result<HttpTransport, TransportError> {
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(network)?;
        Ok(HttpTransport::with_client(base, token, client))
    }

    /// A transport to `base` through `client`: for a proxy, a pinned certificate, or (in the
    /// load benchmark) a local address per device.
    pub fn with_client(base: &str, token: &str, client: reqwest::blocking::Client) -> HttpTransport {
        HttpTransport { base: base.trim_end_matches('/').to_owned(), token: token.to_owned(), client }
    }

    /// The server's address.
    pub fn server_url(&self) -> &str {
        &self.base
    }
}

/// The response if it is a success, else the server's refusal as an error.
pub(super) fn check(response: reqwest::blocking::Response) -> Result<reqwest::blocking::Response, TransportError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body: Option<ErrorBody> = response.json().ok();
    let (code, message) = body.map(|b| (b.code, b.message)).unwrap_or_else(|| ("http".into(), status.to_string()));
    if status.as_u16() == 401 {
        return Err(TransportError::Unauthorized(message));
    }
    Err(TransportError::Refused { status: status.as_u16(), code, message })
}

pub(super) fn network(e: reqwest::Error) -> TransportError {
    TransportError::Network(e.to_string())
}

impl Transport for HttpTransport {
    fn server(&self) -> &str {
        &self.base
    }

    fn sync(&self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let response = self
            .client
            .post(format!("{}/api/v1/sync", self.base))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body)
            .send()
            .map_err(network)?;
        Ok(check(response)?.bytes().map_err(network)?.to_vec())
    }

    fn form(&self, form_id: &str, version: &str) -> Result<String, TransportError> {
        let response = self
            .client
            .get(format!("{}/api/v1/forms/{form_id}/{version}", self.base))
            .bearer_auth(&self.token)
            .send()
            .map_err(network)?;
        check(response)?.text().map_err(network)
    }

    fn published_forms(&self) -> Result<Vec<PublishedForm>, TransportError> {
        let response =
            self.client.get(format!("{}/api/v1/forms", self.base)).bearer_auth(&self.token).send().map_err(network)?;
        check(response)?.json().map_err(network)
    }
}
