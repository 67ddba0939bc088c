//! Where a device syncs: the server's base URL and, for a certificate no public authority
//! signed, its pin. Checked once, when the app is given it: answers and tokens never cross
//! a network in clear, so `http://` is for loopback alone (a developer's machine, the tests),
//! and a pin needs `https://`.

use super::pin::CertificatePin;
use super::transport::TransportError;

/// The longest server URL accepted.
const MAX_URL: usize = 2048;

/// A server's base URL (no trailing `/`) and its optional certificate pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    base: String,
    pin: Option<CertificatePin>,
}

fn invalid(message: String) -> TransportError {
    TransportError::Refused { status: 400, code: "invalid".into(), message }
}

/// The host of `authority` (`host[:port]` after the scheme), if it is well formed and
/// carries no user name (`http://localhost@evil.example` names `evil.example`).
fn host(authority: &str) -> Option<&str> {
    if authority.contains('@') {
        return None;
    }
    let port_ok = |port: &str| port.is_empty() || port.bytes().all(|b| b.is_ascii_digit());
    match authority.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']')?;
            let port = if after.is_empty() { "" } else { after.strip_prefix(':')? };
            port_ok(port).then_some(host)
        }
        None => {
            let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
            (!host.is_empty() && port_ok(port)).then_some(host)
        }
    }
}

/// Whether `host` is this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl ServerAddress {
    /// The server at `base`: `https://…`, or `http://` to a loopback address.
    pub fn new(base: &str) -> Result<ServerAddress, TransportError> {
        let base = base.trim().trim_end_matches('/');
        if base.len() > MAX_URL {
            return Err(invalid(format!("the server address is over {MAX_URL} characters")));
        }
        let (plain, rest) = match (base.strip_prefix("http://"), base.strip_prefix("https://")) {
            (Some(rest), _) => (true, rest),
            (_, Some(rest)) => (false, rest),
            _ => {
                return Err(invalid(format!(
                    "`{base}` is not a server address: give its URL, like https://terrain.example.org"
                )));
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let Some(host) = host(authority) else {
            return Err(invalid(format!(
                "`{base}` is not a server address: give its URL, like https://terrain.example.org (no user name in it)"
            )));
        };
        if plain && !is_loopback(host) {
            return Err(invalid(format!(
                "`{base}` is plain HTTP, which would carry answers and the password in clear: use https://{rest}"
            )));
        }
        Ok(ServerAddress { base: base.to_owned(), pin: None })
    }

    /// [`ServerAddress::new`] with the certificate pinned to `pin`.
    pub fn pinned(base: &str, pin: CertificatePin) -> Result<ServerAddress, TransportError> {
        let address = ServerAddress::new(base)?;
        if !address.base.starts_with("https://") {
            return Err(invalid(format!("`{base}` is plain HTTP: a pinned certificate needs an https:// address")));
        }
        Ok(ServerAddress { pin: Some(pin), ..address })
    }

    /// [`ServerAddress::pinned`] with the pin as text, or [`ServerAddress::new`] with none.
    pub fn parse(base: &str, pin: Option<&str>) -> Result<ServerAddress, TransportError> {
        match pin.map(str::trim).filter(|p| !p.is_empty()) {
            Some(pin) => ServerAddress::pinned(base, pin.parse().map_err(|e| invalid(format!("{e}")))?),
            None => ServerAddress::new(base),
        }
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The certificate pin, if any.
    pub fn pin(&self) -> Option<CertificatePin> {
        self.pin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_to_this_machine() {
        for ok in [
            "https://terrain.example.org/",
            "https://10.0.0.5:8443",
            "http://127.0.0.1:8080",
            "http://127.3.2.1",
            "http://localhost:80/",
            "http://[::1]:8080",
        ] {
            assert!(ServerAddress::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(ServerAddress::new(" https://a.example.org/ ").unwrap().base(), "https://a.example.org");
        for refused in [
            "http://terrain.example.org",
            "http://10.0.0.5:8080",
            "http://192.168.1.1",
            "http://localhost.example.org",
            "http://127.0.0.1.example.org",
            "http://[::2]:80",
            "http://localhost:80@evil.example",
            "http://[::1]@evil.example",
            "http://127.0.0.1@evil.example/",
            "https://user:secret@terrain.example.org",
            "http://localhost:8o",
            "terrain.example.org",
            "ftp://x",
            "https://",
        ] {
            let e = ServerAddress::new(refused).unwrap_err();
            assert!(matches!(e, TransportError::Refused { status: 400, .. }), "{refused}: {e}");
        }
        let e = ServerAddress::new("http://terrain.example.org/x").unwrap_err().to_string();
        assert!(e.contains("use https://terrain.example.org/x"), "{e}");
    }

    #[test]
    fn a_pin_needs_https() {
        let pin = CertificatePin::of(b"c");
        assert_eq!(ServerAddress::pinned("https://a.example.org", pin).unwrap().pin(), Some(pin));
        assert!(ServerAddress::pinned("http://127.0.0.1:1", pin).is_err());
        assert!(ServerAddress::parse("https://a.example.org", Some("nope")).is_err());
        assert_eq!(ServerAddress::parse("https://a.example.org", Some(" ")).unwrap().pin(), None);
        assert_eq!(ServerAddress::parse("https://a.example.org", Some(&pin.to_string())).unwrap().pin(), Some(pin));
    }
}
