//! [`HttpClient`] with reqwest (blocking) and rustls, for the server, the CLI, the demo and
//! the tests. A pinned request goes through a client of its own whose rustls verifier
//! accepts the pinned certificate and nothing else; each client keeps rustls's TLS session
//! cache, so the next connection to the same server resumes instead of paying for a whole
//! handshake again (most of TLS's cost on a 2G link).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{HttpClient, HttpRequest, HttpResponse, TransportError};
use crate::sync::pin::CertificatePin;

/// [`HttpClient`] with reqwest (blocking) and rustls.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::blocking::Client,
    /// One client per pin met, built when first needed.
    pinned: Arc<Mutex<HashMap<CertificatePin, reqwest::blocking::Client>>>,
}

/// The error and its causes, for the message: reqwest's own says only "error sending
/// request", and the cause (a refused pin, a certificate for another name) is what the user
/// needs.
fn network(e: impl std::error::Error) -> TransportError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    TransportError::Network(message)
}

/// The builder every client of this type starts from: gives up connecting after 20
/// seconds, follows no redirect (a redirect is a response, as the phones' clients see it:
/// the bearer token is not sent on to another address), and names itself, as the devices
/// page shows it.
fn builder() -> reqwest::blocking::ClientBuilder {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("terrain-core/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
}

impl ReqwestClient {
    /// A client that trusts the public certificate authorities, and pins where a request
    /// asks.
    pub fn new() -> Result<ReqwestClient, TransportError> {
        Ok(ReqwestClient::from(builder().build().map_err(network)?))
    }

    /// The client for requests pinned to `pin`.
    fn pinned(&self, pin: CertificatePin) -> Result<reqwest::blocking::Client, TransportError> {
        let mut clients = self.pinned.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&pin) {
            return Ok(client.clone());
        }
        let client = builder().use_preconfigured_tls(ReqwestClient::pinned_tls(pin)?).build().map_err(network)?;
        clients.insert(pin, client.clone());
        Ok(client)
    }
}

impl ReqwestClient {
    /// The rustls configuration of requests pinned to `pin`, for a caller that builds its
    /// own reqwest client (a proxy, a local address; the TLS benchmark). Its clones share one
    /// session cache, so a client built from a clone resumes the sessions of another.
    pub fn pinned_tls(pin: CertificatePin) -> Result<rustls::ClientConfig, TransportError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = PinnedCertificate { pin, algorithms: provider.signature_verification_algorithms };
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(network)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth())
    }
}

/// A client built by the caller: for a proxy, or (in the load benchmark) a local address per
/// device. Each request's own timeout replaces the client's. Pinned requests go through a
/// client of this type's own making.
impl From<reqwest::blocking::Client> for ReqwestClient {
    fn from(client: reqwest::blocking::Client) -> ReqwestClient {
        ReqwestClient { client, pinned: Arc::default() }
    }
}

impl HttpClient for ReqwestClient {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let client = match request.pinned_certificate {
            Some(pin) => self.pinned(pin)?,
            None => self.client.clone(),
        };
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| TransportError::Network(format!("`{}` is not an HTTP method", request.method)))?;
        let mut builder = client.request(method, &request.url).timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        let response = builder.send().map_err(network)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        // One byte past the limit, so that `send` sees the response is too long.
        response.take(request.max_response_bytes.saturating_add(1)).read_to_end(&mut body).map_err(network)?;
        Ok(HttpResponse { status, headers, body })
    }
}

/// Accepts the pinned certificate, whoever signed it and whatever name it carries, and
/// checks the handshake's signatures with it as rustls would.
#[derive(Debug)]
struct PinnedCertificate {
    pin: CertificatePin,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pin.matches(end_entity) {
            return Ok(ServerCertVerified::assertion());
        }
        Err(rustls::Error::General(format!(
            "the server's certificate ({}) is not the pinned one ({}): someone may be between this \
             device and the server, or the server has a new certificate; ask the administrator for \
             its fingerprint",
            CertificatePin::of(end_entity),
            self.pin
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
