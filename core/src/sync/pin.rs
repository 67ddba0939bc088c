//! A server's certificate pin: the SHA-256 of its certificate (DER), as `openssl x509
//! -fingerprint -sha256` and `terrain serve` print it. A pilot whose relay has a self-signed
//! certificate stays safe by pinning it: the device then talks to that certificate and no
//! other, whoever signed it. The pin travels with every request to the HTTP client
//! ([`HttpRequest::pinned_certificate`](super::HttpRequest)), which must check it during the
//! TLS handshake, before a byte of the request (and its token) is sent.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The SHA-256 of a server certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertificatePin([u8; 32]);

/// A pin that is not 32 bytes of hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a certificate fingerprint: give the SHA-256 fingerprint `terrain serve` prints \
     (64 hexadecimal digits, colons allowed)"
)]
pub struct InvalidPin(String);

impl CertificatePin {
    /// The pin of the certificate `der`.
    pub fn of(der: &[u8]) -> CertificatePin {
        CertificatePin(Sha256::digest(der).into())
    }

    /// Whether `der` is the pinned certificate.
    pub fn matches(&self, der: &[u8]) -> bool {
        *self == CertificatePin::of(der)
    }

    /// Lower-case hexadecimal with no separators, as platform clients compare it.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }
}

/// `AB:CD:…`, as `openssl` prints a fingerprint.
impl fmt::Display for CertificatePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CertificatePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificatePin({self})")
    }
}

/// Accepts what operators copy: `AB:CD:…`, `abcd…`, with an optional `sha256:` or
/// `SHA256 Fingerprint=` in front, spaces ignored.
impl FromStr for CertificatePin {
    type Err = InvalidPin;

    fn from_str(s: &str) -> Result<CertificatePin, InvalidPin> {
        let invalid = || InvalidPin(s.chars().take(100).collect());
        let trimmed = s.trim();
        let lower = trimmed.to_ascii_lowercase();
        let body = ["sha256 fingerprint=", "sha256:", "sha256/"]
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix))
            .unwrap_or(&lower);
        let digits: Vec<u8> = body.bytes().filter(|b| !matches!(b, b':' | b' ')).collect();
        let mut bytes = [0u8; 32];
        crate::hex::decode_into(&digits, &mut bytes).ok_or_else(invalid)?;
        Ok(CertificatePin(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_an_operator_copies_parses_to_the_same_pin() {
        let pin = CertificatePin::of(b"certificate");
        let colons = pin.to_string();
        assert_eq!(colons.len(), 95);
        for text in [
            colons.clone(),
            colons.to_lowercase(),
            pin.to_hex(),
            format!("sha256:{}", pin.to_hex()),
            format!("SHA256 Fingerprint={colons}"),
            format!("  {}  ", colons.replace(':', " ")),
        ] {
            assert_eq!(text.parse::<CertificatePin>(), Ok(pin), "{text}");
        }
        assert!(pin.matches(b"certificate"));
        assert!(!pin.matches(b"another"));
    }

    #[test]
    fn anything_else_is_refused_with_what_to_give() {
        for text in ["", "abc", &"g".repeat(64), &"a".repeat(66), &"é".repeat(32)] {
            let e = text.parse::<CertificatePin>().unwrap_err();
            assert!(e.to_string().contains("64 hexadecimal digits"), "{e}");
        }
    }
}
