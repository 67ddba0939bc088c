//! A logged-in connection to one Terrain server, as one value: log in with a password,
//! resume with a token saved from an earlier login, refresh the token before it expires,
//! log out, and make the calls that devices (sync, forms) and desk tools (JSON requests)
//! need. The phone bindings, the demo, the tests and the benchmarks all use this type, so
//! there is one implementation of how Terrain logs in.

use std::sync::Arc;

use serde::Deserialize;

use super::address::ServerAddress;
use super::enrolment::EnrolmentPayload;
use super::http::{self, HttpClient, HttpRequest, HttpResponse};
use super::transport::{HttpTransport, TransportError, check, json};

/// What a successful login gives a device.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Login {
    /// The bearer token for further requests.
    pub token: String,
    /// When the token expires (RFC 3339).
    pub expires_at: String,
    /// The device key the server registered for this device (hex, 8 bytes): the prefix of
    /// every actor id the device writes with.
    pub device_key: String,
    /// The user's role.
    pub role: String,
    /// Whose token it is (servers before enrolment did not say).
    #[serde(default)]
    pub username: Option<String>,
    /// An administrator reset the password: the token opens nothing but
    /// [`Session::change_password`] (and logging out) until the user chooses their own.
    #[serde(default)]
    pub must_change_password: bool,
    /// How many seconds the token lives, as the server counts (servers before refresh
    /// tokens did not say).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// A device's refresh token (a login's or an enrolment's): what the app keeps in secure
    /// storage and resumes with; the session refreshes its token with it by itself.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl Login {
    /// What to keep to resume this session after a restart: the refresh token, or the
    /// session token from a server that gives none.
    pub fn credential(&self) -> &str {
        self.refresh_token.as_deref().unwrap_or(&self.token)
    }
}

/// A session over `link`, whose tokens `login` gave.
fn opened(link: HttpTransport, login: Login) -> Session {
    link.adopt(&login.token, login.expires_in, login.refresh_token.as_deref());
    Session { link, login: Some(login) }
}

/// A logged-in connection to one server: its sync transport, which holds the server's
/// address, the token and the HTTP client, and what the login answered.
#[derive(Debug, Clone)]
pub struct Session {
    link: HttpTransport,
    login: Option<Login>,
}

/// The most a response to a desk tool's GET may hold (an export of a whole project).
const MAX_DOWNLOAD_BYTES: u64 = 1 << 30;

#[cfg(feature = "reqwest")]
fn reqwest_client() -> Result<Arc<dyn HttpClient>, TransportError> {
    Ok(Arc::new(super::http::ReqwestClient::new()?))
}

impl Session {
    /// Logs in to the server at `base` as `username` on `device` (a stable id of the device
    /// or tool), with reqwest.
    #[cfg(feature = "reqwest")]
    pub fn login(base: &str, username: &str, password: &str, device: &str) -> Result<Session, TransportError> {
        Session::login_with(reqwest_client()?, base, username, password, device)
    }

    /// [`Session::login`] with requests sent by `http`.
    pub fn login_with(
        http: Arc<dyn HttpClient>,
        base: &str,
        username: &str,
        password: &str,
        device: &str,
    ) -> Result<Session, TransportError> {
        Session::login_to(http, &ServerAddress::new(base)?, username, password, device)
    }

    /// [`Session::login_with`] to `server`, whose certificate may be pinned.
    pub fn login_to(
        http: Arc<dyn HttpClient>,
        server: &ServerAddress,
        username: &str,
        password: &str,
        device: &str,
    ) -> Result<Session, TransportError> {
        let request = HttpRequest {
            pinned_certificate: server.pin(),
            ..HttpRequest::new("POST", format!("{}/api/v1/auth/login", server.base()))
        }
        .json(&serde_json::json!({"username": username, "password": password, "device_id": device}));
        let login: Login = json(&check(http::send(&*http, request)?)?)?;
        Ok(opened(HttpTransport::to(server, &login.token, http), login))
    }

    /// Redeems an enrolment QR code (`payload`, see [`EnrolmentPayload`]) for `device`: a
    /// session as a login opens, with no password, to the server and pin the code names.
    pub fn enrol(
        http: Arc<dyn HttpClient>,
        payload: &EnrolmentPayload,
        device: &str,
    ) -> Result<Session, TransportError> {
        let request = HttpRequest {
            pinned_certificate: payload.server.pin(),
            ..HttpRequest::new("POST", format!("{}/api/v1/enrol", payload.server.base()))
        }
        .json(&serde_json::json!({"code": payload.code, "device_id": device}));
        let login: Login = json(&check(http::send(&*http, request)?)?)?;
        Ok(opened(HttpTransport::to(&payload.server, &login.token, http), login))
    }

    /// Resumes a session with the credential of an earlier login ([`Login::credential`]:
    /// its refresh token, kept in the app's secure storage across restarts), with reqwest.
    /// Nothing is sent: the first call gets a session token with it, and a credential the
    /// server no longer accepts shows as [`TransportError::Unauthorized`] then.
    #[cfg(feature = "reqwest")]
    pub fn resume(base: &str, token: &str) -> Result<Session, TransportError> {
        Session::resume_with(reqwest_client()?, base, token)
    }

    /// [`Session::resume`] with requests sent by `http`.
    pub fn resume_with(http: Arc<dyn HttpClient>, base: &str, token: &str) -> Result<Session, TransportError> {
        Session::resume_to(http, &ServerAddress::new(base)?, token)
    }

    /// [`Session::resume_with`] to `server`, whose certificate may be pinned.
    pub fn resume_to(
        http: Arc<dyn HttpClient>,
        server: &ServerAddress,
        token: &str,
    ) -> Result<Session, TransportError> {
        if token.trim().is_empty() {
            return Err(TransportError::Unauthorized("no token to resume with: log in".into()));
        }
        Ok(Session { link: HttpTransport::to(server, token.trim(), http), login: None })
    }

    /// Gets a new session token now with the device's refresh token, which stays as it is
    /// (the session also does this by itself when its token expires). A session resumed
    /// from a bare session token has none: [`TransportError::Unauthorized`].
    pub fn refresh(&mut self) -> Result<Login, TransportError> {
        let mut login: Login = json(&self.link.refresh()?)?;
        if login.refresh_token.is_none() {
            login.refresh_token = self.link.refresh_token();
        }
        self.login = Some(login.clone());
        Ok(login)
    }

    /// Changes the user's password, given the current one. The server ends the user's other
    /// sessions (their other devices log in again); this one goes on. Returns how many
    /// ended.
    pub fn change_password(&mut self, current: &str, new: &str) -> Result<u64, TransportError> {
        let body = serde_json::json!({ "current_password": current, "new_password": new });
        let request = HttpRequest::new("PUT", self.link.url("/api/v1/me/password")).json(&body);
        let answer: serde_json::Value = json(&check(self.link.send(request)?)?)?;
        if let Some(login) = &mut self.login {
            login.must_change_password = false;
        }
        Ok(answer["ended_sessions"].as_u64().unwrap_or(0))
    }

    /// Ends the session on the server: its token stops working.
    pub fn logout(&self) -> Result<(), TransportError> {
        check(self.link.send(HttpRequest::new("POST", self.link.url("/api/v1/auth/logout")))?)?;
        Ok(())
    }

    /// The server's address, without a trailing `/`.
    pub fn base(&self) -> &str {
        self.link.server_url()
    }

    /// The session token requests carry now (it changes as the session refreshes it).
    pub fn token(&self) -> String {
        self.link.token()
    }

    /// The device's refresh token, if the server gave one: what to keep to resume.
    pub fn refresh_token(&self) -> Option<String> {
        self.link.refresh_token()
    }

    /// What the login that opened this session answered, if it was opened by a login.
    pub fn login_info(&self) -> Option<&Login> {
        self.login.as_ref()
    }

    /// The sync transport of this session.
    pub fn transport(&self) -> HttpTransport {
        self.link.clone()
    }

    /// A JSON call to the API as this session's user: `method` (`GET`, `POST`, `PUT`…) on
    /// `path` (`/api/v1/surveys`), with an optional JSON body. Any answer that arrives is
    /// returned with its status, its body parsed as JSON (`null` when it is not).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), TransportError> {
        let response = self.send_json(method, path, body)?;
        Ok((response.status, json_or_null(&response)))
    }

    /// [`Session::request`] that requires a 2xx answer, else the server's refusal (read as
    /// the sync transport reads refusals).
    pub fn expect_ok(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, TransportError> {
        Ok(json_or_null(&check(self.send_json(method, path, body)?)?))
    }

    fn send_json(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, TransportError> {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(TransportError::Refused {
                status: 400,
                code: "invalid".into(),
                message: format!("`{method}` is not an HTTP method"),
            });
        }
        let mut request = HttpRequest::new(method, self.link.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.link.send(request)
    }

    /// A GET of `path` as bytes (an export, say): the status, the response headers (names
    /// in lower case) and the body.
    #[allow(clippy::type_complexity)]
    pub fn get_bytes(&self, path: &str) -> Result<(u16, Vec<(String, String)>, Vec<u8>), TransportError> {
        let request =
            HttpRequest { max_response_bytes: MAX_DOWNLOAD_BYTES, ..HttpRequest::new("GET", self.link.url(path)) };
        let response = self.link.send(request)?;
        Ok((response.status, response.headers, response.body))
    }
}

#[cfg(all(test, feature = "reqwest"))]
mod tests {
    use super::*;

    #[test]
    fn only_server_urls_and_real_tokens_resume() {
        assert!(Session::resume("terrain.example.org", "t").is_err());
        assert!(Session::resume("https://terrain.example.org/", " ").is_err());
        assert!(Session::resume("http://terrain.example.org/", "token").is_err());
        let s = Session::resume("https://terrain.example.org/", "token").unwrap();
        assert_eq!(s.base(), "https://terrain.example.org");
        assert_eq!(s.transport().server_url(), "https://terrain.example.org");
    }
}

/// A response body as JSON, `null` when it is empty or not JSON.
fn json_or_null(response: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null)
}
