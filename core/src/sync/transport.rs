//! How the sync client reaches the server: a small trait, and its HTTP implementation over
//! an [`HttpClient`]. Tests and tools can put anything behind the trait.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::address::ServerAddress;
use super::http::{self, HttpClient, HttpRequest, HttpResponse};
use super::pin::CertificatePin;
use super::wire::CONTENT_TYPE;
use crate::media::Digest;
use crate::media::reference::api_path as media_path;
use crate::store::FormFile;

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
    /// Downloads one form version (JSON) with the files it reads already attached: how a
    /// server that does not list its forms' files sends them.
    fn form(&self, form_id: &str, version: &str) -> Result<String, TransportError>;
    /// Downloads one form version's definition (JSON) without its files, which a device
    /// attaches itself ([`Transport::form_file`]).
    fn form_definition(&self, form_id: &str, version: &str) -> Result<String, TransportError> {
        let _ = (form_id, version);
        Err(no_form_files())
    }
    /// Downloads the file `name` of a form version, of at most `max_bytes` bytes.
    fn form_file(&self, form_id: &str, version: &str, name: &str, max_bytes: u64) -> Result<Vec<u8>, TransportError> {
        let _ = (form_id, version, name, max_bytes);
        Err(no_form_files())
    }
    /// The form versions published to the projects of the logged-in user. Transports that
    /// cannot list forms (bundles, test doubles) refuse.
    fn published_forms(&self) -> Result<Vec<PublishedForm>, TransportError> {
        Err(TransportError::Refused {
            status: 501,
            code: "unsupported".into(),
            message: "this connection cannot list forms: download them from the server".into(),
        })
    }
    /// How many bytes of the file `digest` (of `size` bytes) the server holds: `size` once
    /// it has all of it, else where an upload resumes.
    fn media_offset(&self, digest: &Digest, size: u64) -> Result<u64, TransportError> {
        let _ = (digest, size);
        Err(no_media())
    }
    /// Sends `chunk`, the bytes of file `digest` (of `size` bytes) from `offset`, and
    /// returns the server's new offset. An offset the server does not expect is
    /// [`TransportError::Refused`] with status 409; ask [`Transport::media_offset`] again.
    fn media_append(&self, digest: &Digest, size: u64, offset: u64, chunk: Vec<u8>) -> Result<u64, TransportError> {
        let _ = (digest, size, offset, chunk);
        Err(no_media())
    }
    /// Up to `max` bytes of file `digest` from `offset`, and the file's whole size.
    fn media_read(&self, digest: &Digest, offset: u64, max: u64) -> Result<(Vec<u8>, u64), TransportError> {
        let _ = (digest, offset, max);
        Err(no_media())
    }
}

fn no_form_files() -> TransportError {
    TransportError::Refused {
        status: 501,
        code: "unsupported".into(),
        message: "this connection sends forms with their files attached: download them whole".into(),
    }
}

fn no_media() -> TransportError {
    TransportError::Refused {
        status: 501,
        code: "unsupported".into(),
        message: "this connection carries no attached files: sync with the server to send them".into(),
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
    /// The files the version reads, each with its digest, so that a device downloads only
    /// those it does not hold. `None` from a server that sends forms with their files
    /// attached ([`Transport::form`]).
    #[serde(default)]
    pub files: Option<Vec<FormFile>>,
}

/// The HTTP transport: `POST /api/v1/sync` and `GET /api/v1/forms/{id}/{version}`, with a
/// bearer token in the `Authorization` header (never in the URL), sent by an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    pin: Option<CertificatePin>,
    /// Shared by every clone (the session's, the sync's): a session token one of them got
    /// by refreshing serves them all.
    credentials: Arc<Mutex<Credentials>>,
    http: Arc<dyn HttpClient>,
}

/// What a transport sends to be let in.
#[derive(Clone, Default)]
struct Credentials {
    /// The session token every request carries (empty until a resumed session refreshes).
    token: String,
    /// When, by this device's clock, the session token is to be refreshed before use: its
    /// lifetime as the server counted it (`expires_in`), less a margin, so that a wrong
    /// phone clock does not matter.
    refresh_after: Option<Instant>,
    /// The device's refresh token, which gets new session tokens.
    refresh: Option<String>,
}

/// Never the tokens: a debug log must not let anyone in.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("refresh_after", &self.refresh_after).finish_non_exhaustive()
    }
}

/// Refresh up to this long before the server says the session token expires: a request
/// sent just before may arrive just after.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Refresh tokens start with this, and session tokens never do: the server makes them so,
/// and a client given a token to resume with tells which it is.
pub const REFRESH_PREFIX: &str = "rt_";

/// What `POST /api/v1/auth/refresh` answers, in the part the transport reads.
#[derive(Deserialize)]
struct Refreshed {
    token: String,
    #[serde(default)]
    expires_in: Option<u64>,
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
    ///
    /// `token` is a session token, or a device's refresh token (it starts with
    /// [`REFRESH_PREFIX`]), which the first request then exchanges for a session token.
    pub fn with_client(base: &str, token: &str, http: Arc<dyn HttpClient>) -> HttpTransport {
        let credentials = if token.starts_with(REFRESH_PREFIX) {
            Credentials { refresh: Some(token.to_owned()), ..Credentials::default() }
        } else {
            Credentials { token: token.to_owned(), ..Credentials::default() }
        };
        HttpTransport {
            base: base.trim_end_matches('/').to_owned(),
            pin: None,
            credentials: Arc::new(Mutex::new(credentials)),
            http,
        }
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

    fn credentials(&self) -> MutexGuard<'_, Credentials> {
        // A panic under the lock cannot leave the credentials half-written: each field is
        // set whole.
        self.credentials.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session token requests carry now (empty before a resumed session's first).
    pub fn token(&self) -> String {
        self.credentials().token.clone()
    }

    /// The device's refresh token, if the session has one: what the app keeps to resume.
    pub fn refresh_token(&self) -> Option<String> {
        self.credentials().refresh.clone()
    }

    /// Sends with the tokens a login, an enrolment or a refresh gave: the session token,
    /// valid for `expires_in` seconds, and the refresh token if one came.
    pub(super) fn adopt(&self, token: &str, expires_in: Option<u64>, refresh: Option<&str>) {
        let mut credentials = self.credentials();
        credentials.token = token.to_owned();
        // The margin is at most a tenth of the lifetime: a server that gives one-minute
        // tokens still gets requests between refreshes.
        credentials.refresh_after = expires_in
            .map(Duration::from_secs)
            .map(|life| Instant::now() + life.saturating_sub(EXPIRY_MARGIN.min(life / 10)));
        if let Some(refresh) = refresh {
            credentials.refresh = Some(refresh.to_owned());
        }
    }

    /// Exchanges the device's refresh token for a new session token; returns the server's
    /// answer. Without a refresh token there is nothing to exchange: log in again.
    pub(super) fn refresh(&self) -> Result<HttpResponse, TransportError> {
        let credential = self.credentials().refresh.clone().ok_or_else(|| {
            TransportError::Unauthorized("this session has no refresh token to renew its token with".into())
        })?;
        let request =
            HttpRequest { pinned_certificate: self.pin, ..HttpRequest::new("POST", self.url("/api/v1/auth/refresh")) };
        let response = check(http::send(&*self.http, request.bearer(&credential))?)?;
        let refreshed: Refreshed = json(&response)?;
        self.adopt(&refreshed.token, refreshed.expires_in, None);
        Ok(response)
    }

    /// The session token to send now: refreshed first when a refresh token can get a new
    /// one and this one is missing or about to expire.
    fn fresh_token(&self) -> Result<String, TransportError> {
        let stale = {
            let credentials = self.credentials();
            credentials.refresh.is_some()
                && (credentials.token.is_empty() || credentials.refresh_after.is_some_and(|at| Instant::now() >= at))
        };
        if stale {
            self.refresh()?;
        }
        Ok(self.token())
    }

    /// The URL of `path` on this server.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request` with the session token, held to its response limit. A session
    /// token the server says has expired (a clock it did not expect, a server restarted
    /// with shorter lifetimes) is refreshed and the request sent once more.
    pub(super) fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let request = HttpRequest { pinned_certificate: self.pin, ..request };
        let token = self.fresh_token()?;
        let retry = self.credentials().refresh.is_some().then(|| request.clone());
        let response = http::send(&*self.http, request.bearer(&token))?;
        match retry {
            Some(request) if response.status == 401 && error_code(&response).as_deref() == Some("token_expired") => {
                self.refresh()?;
                http::send(&*self.http, request.bearer(&self.token()))
            }
            _ => Ok(response),
        }
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

/// The stable code of an error response, if it has one.
fn error_code(response: &HttpResponse) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(&response.body).ok().map(|b| b.code)
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

    fn form_definition(&self, form_id: &str, version: &str) -> Result<String, TransportError> {
        let response = self.get(&format!("/api/v1/forms/{}/{}/definition", segment(form_id), segment(version)))?;
        String::from_utf8(response.body)
            .map_err(|_| TransportError::Network("the server sent a form that is not UTF-8 text".into()))
    }

    fn form_file(&self, form_id: &str, version: &str, name: &str, max_bytes: u64) -> Result<Vec<u8>, TransportError> {
        let path = format!("/api/v1/forms/{}/{}/files/{}", segment(form_id), segment(version), segment(name));
        let request = HttpRequest { max_response_bytes: max_bytes, ..HttpRequest::new("GET", self.url(&path)) };
        Ok(check(self.send(request)?)?.body)
    }

    fn published_forms(&self) -> Result<Vec<PublishedForm>, TransportError> {
        json(&self.get("/api/v1/forms")?)
    }

    fn media_offset(&self, digest: &Digest, size: u64) -> Result<u64, TransportError> {
        let request =
            HttpRequest::new("HEAD", self.url(&media_path(digest))).header("upload-length", &size.to_string());
        upload_offset(&check(self.send(request)?)?)
    }

    fn media_append(&self, digest: &Digest, size: u64, offset: u64, chunk: Vec<u8>) -> Result<u64, TransportError> {
        // POST, which tus servers take as PATCH here: Java's HttpURLConnection (Android's
        // default stack) and some proxies cannot send PATCH.
        let request = HttpRequest::new("POST", self.url(&media_path(digest)))
            .header("upload-offset", &offset.to_string())
            .header("upload-length", &size.to_string())
            .body(MEDIA_CHUNK_TYPE, chunk);
        upload_offset(&check(self.send(request)?)?)
    }

    fn media_read(&self, digest: &Digest, offset: u64, max: u64) -> Result<(Vec<u8>, u64), TransportError> {
        let last = offset.saturating_add(max.max(1)) - 1;
        let request = HttpRequest {
            max_response_bytes: max.saturating_add(1024),
            ..HttpRequest::new("GET", self.url(&media_path(digest))).header("range", &format!("bytes={offset}-{last}"))
        };
        let response = check(self.send(request)?)?;
        let lost = |what: &str| TransportError::Network(format!("the server sent {what}: try again"));
        if response.status != 206 {
            // The whole file, from a server that ignores ranges.
            let total = response.body.len() as u64;
            let body = response.body.into_iter().skip(usize::try_from(offset).unwrap_or(usize::MAX)).collect();
            return Ok((body, total));
        }
        // `bytes FIRST-LAST/TOTAL`, from where it was asked.
        let unreadable = || lost("a piece of a file with a range it cannot read");
        let range = header(&response, "content-range").ok_or_else(unreadable)?;
        let (span, total) =
            range.trim().strip_prefix("bytes ").and_then(|r| r.split_once('/')).ok_or_else(unreadable)?;
        let first: u64 = span.split_once('-').and_then(|(first, _)| first.parse().ok()).ok_or_else(unreadable)?;
        let total: u64 = total.parse().map_err(|_| unreadable())?;
        if first != offset {
            return Err(lost("a piece of a file from elsewhere than asked"));
        }
        Ok((response.body, total))
    }
}

/// `text` as one segment of a URL path: a file name may hold spaces or slashes.
fn segment(text: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
}

/// The content type of a piece of an upload, as tus names it.
pub const MEDIA_CHUNK_TYPE: &str = "application/offset+octet-stream";

fn header<'r>(response: &'r HttpResponse, name: &str) -> Option<&'r str> {
    response.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn upload_offset(response: &HttpResponse) -> Result<u64, TransportError> {
    header(response, "upload-offset")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| TransportError::Network("the server did not say how much of the file it holds".into()))
}
