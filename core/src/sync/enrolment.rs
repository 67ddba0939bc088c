//! What an enrolment QR code holds, and how a device redeems it: the server's address, its
//! certificate pin when it has one, the user, and a one-time code, as one URL:
//!
//! ```text
//! https://relay.example.org/enrol#user=awa&code=…&sha256=…
//! ```
//!
//! A URL, so that a phone's camera app opens the relay's page rather than showing noise;
//! the code and pin in its fragment, which a browser never sends to a server.

use super::address::ServerAddress;
use super::transport::TransportError;

/// The path of the enrolment page on the server, before the `#`.
const PATH: &str = "/enrol";
/// The longest payload accepted.
const MAX_PAYLOAD: usize = 4096;

/// A parsed enrolment QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentPayload {
    /// The server, pinned when the payload carries a pin.
    pub server: ServerAddress,
    /// The user the device is enrolled for.
    pub user: String,
    /// The one-time code.
    pub code: String,
}

fn invalid(message: impl Into<String>) -> TransportError {
    TransportError::Refused { status: 400, code: "invalid".into(), message: message.into() }
}

/// Percent-encodes what a fragment value may not hold as it is.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl EnrolmentPayload {
    /// The URL a QR code shows.
    pub fn to_url(&self) -> String {
        let mut url = format!("{}{PATH}#user={}&code={}", self.server.base(), encode(&self.user), encode(&self.code));
        if let Some(pin) = self.server.pin() {
            url.push_str(&format!("&sha256={}", pin.to_hex()));
        }
        url
    }

    /// Reads a scanned QR code.
    pub fn parse(payload: &str) -> Result<EnrolmentPayload, TransportError> {
        let payload = payload.trim();
        let not_ours = || invalid("this QR code is not a Terrain enrolment: scan the code the dashboard shows");
        if payload.len() > MAX_PAYLOAD {
            return Err(not_ours());
        }
        let (page, fragment) = payload.split_once('#').ok_or_else(not_ours)?;
        let base = page.strip_suffix(PATH).ok_or_else(not_ours)?;
        let (mut user, mut code, mut pin) = (None, None, None);
        for pair in fragment.split('&') {
            let (key, value) = pair.split_once('=').ok_or_else(not_ours)?;
            let value = decode(value).ok_or_else(not_ours)?;
            match key {
                "user" => user = Some(value),
                "code" => code = Some(value),
                "sha256" => pin = Some(value),
                // Newer servers may add fields; they do not change these.
                _ => {}
            }
        }
        let (Some(user), Some(code)) = (user, code) else { return Err(not_ours()) };
        if user.is_empty() || code.is_empty() {
            return Err(not_ours());
        }
        Ok(EnrolmentPayload { server: ServerAddress::parse(base, pin.as_deref())?, user, code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::CertificatePin;

    #[test]
    fn a_payload_reads_back_as_written() {
        let pin = CertificatePin::of(b"relay");
        let payload = EnrolmentPayload {
            server: ServerAddress::pinned("https://relay.example.org:8443", pin).unwrap(),
            user: "Awa Camara & co".into(),
            code: "abc-DEF_123".into(),
        };
        let url = payload.to_url();
        assert!(
            url.starts_with(
                "https://relay.example.org:8443/enrol#user=Awa%20Camara%20%26%20co&code=abc-DEF_123&sha256="
            )
        );
        assert_eq!(EnrolmentPayload::parse(&format!(" {url} ")).unwrap(), payload);
        let plain = EnrolmentPayload { server: ServerAddress::new("http://127.0.0.1:8080").unwrap(), ..payload };
        assert_eq!(EnrolmentPayload::parse(&plain.to_url()).unwrap(), plain);
    }

    #[test]
    fn anything_else_is_refused_with_what_to_scan() {
        for bad in [
            "",
            "https://example.org",
            "https://relay.example.org/enrol",
            "https://relay.example.org/other#user=a&code=b",
            "https://relay.example.org/enrol#user=a",
            "https://relay.example.org/enrol#user=&code=b",
            "https://relay.example.org/enrol#user=a&code=%zz",
            "https://relay.example.org/enrol#user=a&code=%+f",
            "https://relay.example.org/enrol#garbage",
            &format!("https://relay.example.org/enrol#user=a&code={}", "b".repeat(5000)),
        ] {
            let e = EnrolmentPayload::parse(bad).unwrap_err();
            assert!(e.to_string().contains("not a Terrain enrolment"), "{bad}: {e}");
        }
        // A plain-HTTP relay beyond loopback or a broken pin: the address's own errors.
        assert!(EnrolmentPayload::parse("http://10.0.0.5/enrol#user=a&code=b").is_err());
        assert!(EnrolmentPayload::parse("https://relay.example.org/enrol#user=a&code=b&sha256=12").is_err());
    }
}
