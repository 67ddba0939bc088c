//! The demo's HTTP calls as a person at a desk makes them (supervisors in the dashboard, the
//! analyst downloading exports): plain JSON requests to the server's API with a token.

use std::time::Duration;

use serde_json::Value as Json;

use super::DemoError;
use super::pilot::PASSWORD;

/// A logged-in user of the API.
#[derive(Debug, Clone)]
pub struct Session {
    client: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Session {
    /// Logs `user` in at `base` (`http://127.0.0.1:port`).
    pub fn login(base: &str, user: &str) -> Result<Session, DemoError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| DemoError::Http(e.to_string()))?;
        let login = terrain_core::sync::login(base, user, PASSWORD, &format!("{user}-desk"))
            .map_err(|e| DemoError::Http(format!("{user} could not log in: {e}")))?;
        Ok(Session { client, base: base.to_owned(), token: login.token })
    }

    /// Sends `body` as JSON with `method` to `path`; the status code, and the body when
    /// it is JSON.
    pub fn send(&self, method: reqwest::Method, path: &str, body: Option<&Json>) -> Result<(u16, Json), DemoError> {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().map_err(|e| DemoError::Http(format!("{path}: {e}")))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().map_err(|e| DemoError::Http(format!("{path}: {e}")))?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Json::Null)))
    }

    /// GETs `path` as bytes; the status code, the response headers and the body.
    pub fn get_bytes(&self, path: &str) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), DemoError> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .map_err(|e| DemoError::Http(format!("{path}: {e}")))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().map_err(|e| DemoError::Http(format!("{path}: {e}")))?;
        Ok((status, headers, bytes.to_vec()))
    }

    /// Sends JSON and requires a 2xx answer.
    pub fn expect_ok(&self, method: reqwest::Method, path: &str, body: &Json) -> Result<Json, DemoError> {
        let (status, answer) = self.send(method, path, Some(body))?;
        if !(200..300).contains(&status) {
            return Err(DemoError::Http(format!("{path} answered {status}: {answer}")));
        }
        Ok(answer)
    }
}
