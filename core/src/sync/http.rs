//! The one HTTP exchange the sync client makes, as a trait: a request goes out, a response
//! (or a network failure) comes back. [`Session`](super::Session) and
//! [`HttpTransport`](super::HttpTransport) speak to the server only through it.
//!
//! The server, the CLI, the demo and the tests send requests with reqwest and rustls
//! ([`ReqwestClient`], the `reqwest` feature, on by default). The phone apps send them with
//! the platform's own HTTP stack (OkHttp, URLSession) through the bindings, as Mozilla's
//! application-services does with its viaduct: the phone library then carries no TLS or
//! HTTP code of its own (a quarter of its size), and requests use the phone's trust store,
//! proxy settings and power policy.

use std::time::Duration;

use super::pin::CertificatePin;
use super::transport::TransportError;

/// What any response may hold at most, unless a request says otherwise: a sync response is
/// capped by the server far below this, and a form definition is smaller still.
pub const MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// One request to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, … (upper case).
    pub method: String,
    /// The whole URL.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
    /// How long the whole exchange may take.
    pub timeout: Duration,
    /// The longest body the caller accepts: a longer response is a network failure, and
    /// a client should stop reading at this length.
    pub max_response_bytes: u64,
    /// The server's certificate must be this one, whoever signed it: the client checks it
    /// during the TLS handshake and sends nothing to any other (see [`CertificatePin`]).
    pub pinned_certificate: Option<CertificatePin>,
}

/// The server's response, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends requests. An answer with any status is a response; only a failure to get one
/// (no connection, reset, timeout, a body over the limit) is an error, given as
/// [`TransportError::Network`].
pub trait HttpClient: Send + Sync + std::fmt::Debug {
    /// Sends `request` and returns the server's response.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

impl HttpRequest {
    /// A request with no headers and no body, the default timeout (five minutes: a sync
    /// round over 2G) and the default response limit.
    pub fn new(method: &str, url: String) -> HttpRequest {
        HttpRequest {
            method: method.to_owned(),
            url,
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(300),
            max_response_bytes: MAX_RESPONSE_BYTES,
            pinned_certificate: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `Authorization: Bearer {token}`.
    pub fn bearer(self, token: &str) -> HttpRequest {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Sets the body, with its content type.
    pub fn body(self, content_type: &str, body: Vec<u8>) -> HttpRequest {
        HttpRequest { body, ..self.header("content-type", content_type) }
    }

    /// Sets a JSON body.
    pub fn json(self, value: &serde_json::Value) -> HttpRequest {
        let body = value.to_string().into_bytes();
        self.body("application/json", body)
    }
}

impl HttpResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends `request` through `client`, holding the client to the request's response limit
/// (a client from the platform may not stop reading where it was asked to).
pub(super) fn send(client: &dyn HttpClient, request: HttpRequest) -> Result<HttpResponse, TransportError> {
    let limit = request.max_response_bytes;
    let response = client.send(request)?;
    if response.body.len() as u64 > limit {
        return Err(TransportError::Network(format!(
            "the server's response is over {limit} bytes: check the server address"
        )));
    }
    Ok(response)
}

#[cfg(feature = "reqwest")]
pub use with_reqwest::ReqwestClient;

#[cfg(feature = "reqwest")]
mod with_reqwest;

#[cfg(test)]
#[cfg(feature = "reqwest")]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;
    use crate::sync::{HttpTransport, Transport};

    /// A server on loopback that answers one request with `response`; returns its URL.
    fn answering(response: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(response.as_bytes());
        });
        url
    }

    #[test]
    fn a_redirect_is_refused_with_where_to() {
        let url = answering("HTTP/1.1 301 Moved\r\nLocation: https://new.example.org/\r\nContent-Length: 0\r\n\r\n");
        let transport = HttpTransport::new(&url, "token").unwrap();
        match transport.form("f", "1") {
            Err(TransportError::Refused { status: 301, message, .. }) => {
                assert!(message.contains("https://new.example.org/"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_response_over_the_limit_is_a_network_failure() {
        let url = answering(
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
        );
        let client = ReqwestClient::new().unwrap();
        let request = HttpRequest { max_response_bytes: 10, ..HttpRequest::new("GET", url) };
        match send(&client, request) {
            Err(TransportError::Network(message)) => assert!(message.contains("over 10 bytes"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
