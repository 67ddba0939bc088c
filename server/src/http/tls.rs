//! HTTPS served by the relay itself, with rustls: the certificate chain and key from PEM
//! files, read again on [`Tls::reload`] (SIGHUP, after a renewal) without dropping a
//! connection, and session resumption kept on, since a whole handshake is most of what TLS
//! costs a no-op sync over 2G (see `docs/benchmarks.md`).
//!
//! Resumption is stateful (a session cache in memory): a resumed handshake then carries a
//! short session id rather than an encrypted ticket, fewer bytes each time, and a restart
//! only costs every device one full handshake.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use terrain_core::sync::CertificatePin;

/// Sessions the server remembers for resumption: a few hundred bytes each, so a district's
/// phones and tablets fit in a few megabytes.
const RESUMABLE_SESSIONS: usize = 16_384;

/// Where the certificate chain and the private key are (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable or not PEM of the expected kind.
    #[error("could not read {what} from {}: {reason}", path.display())]
    Read {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key does not belong to the certificate, or rustls cannot use it.
    #[error("the key in {} cannot serve the certificate in {}: {reason} (give the key the certificate was made for)", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        reason: String,
    },
    /// A self-signed certificate could not be made (a name that is neither a DNS name nor
    /// an IP address).
    #[error("could not make a certificate: {0}")]
    Generate(String),
    /// rustls refused the configuration itself.
    #[error("TLS cannot be set up: {0}")]
    Unsupported(String),
}

/// The relay's TLS: a rustls configuration whose certificate can be replaced while it runs.
#[derive(Clone)]
pub struct Tls {
    files: TlsFiles,
    current: Arc<Current>,
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).field("pin", &self.pin()).finish()
    }
}

/// The certificate and key in use, replaced whole on reload.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_error(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Read { what, path: path.to_owned(), reason: reason.to_string() }
}

/// Reads and checks the chain and key of `files`.
fn certified_key(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| read_error("a certificate chain", &files.cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_error("a certificate chain", &files.cert, e))?;
    if chain.is_empty() {
        return Err(read_error("a certificate chain", &files.cert, "the file holds no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| read_error("a private key", &files.key, e))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Mismatch {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason: e.to_string(),
    })
}

impl Tls {
    /// Loads the certificate and key of `files`.
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let provider = provider();
        let current = Arc::new(Current(RwLock::new(Arc::new(certified_key(&files, &provider)?))));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Unsupported(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.session_storage = ServerSessionMemoryCache::new(RESUMABLE_SESSIONS);
        // One ticket per connection: a device opens one connection per sync and resumes
        // the next with it; the default of two would send bytes no one uses.
        config.send_tls13_tickets = 1;
        Ok(Tls { files, current, config: Arc::new(config) })
    }

    /// Reads the files again and serves the new certificate to new connections; on error
    /// the old one stays in use.
    pub fn reload(&self) -> Result<CertificatePin, TlsError> {
        let fresh = Arc::new(certified_key(&self.files, &provider())?);
        *self.current.0.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(self.pin())
    }

    /// The pin of the certificate in use, which devices of a self-signed relay are given.
    pub fn pin(&self) -> CertificatePin {
        let current = self.current.0.read().unwrap_or_else(PoisonError::into_inner);
        current.cert.first().map_or_else(|| CertificatePin::of(&[]), |cert| CertificatePin::of(cert))
    }

    /// The acceptor for new connections.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// The longest validity of a self-signed certificate: ten years.
pub const MAX_DAYS: u32 = 3_650;

/// A self-signed certificate and its key, in PEM, and its pin.
pub struct SelfSigned {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8, ECDSA P-256: the smallest handshake over 2G).
    pub key_pem: String,
    /// What devices pin.
    pub pin: CertificatePin,
}

/// Never the key.
impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned").field("pin", &self.pin).finish_non_exhaustive()
    }
}

/// A self-signed certificate for `names` (DNS names or IP addresses), valid from yesterday
/// (phones' clocks drift) for `days`: what a pilot's relay serves when no public authority
/// signs for it, its devices pinning it.
pub fn self_signed(names: &[String], days: u32) -> Result<SelfSigned, TlsError> {
    use chrono::Datelike;
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    if let Some(name) = names.iter().find(|n| !is_host_or_address(n)) {
        return Err(TlsError::Generate(format!("`{name}` is neither a host name nor an IP address")));
    }
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(generate)?;
    let ymd = |day: chrono::NaiveDate| {
        // Months and days from chrono are always in range.
        rcgen::date_time_ymd(day.year(), u8::try_from(day.month()).unwrap_or(1), u8::try_from(day.day()).unwrap_or(1))
    };
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(TlsError::Generate(format!("a certificate is valid 1 to {MAX_DAYS} days, not {days}")));
    }
    let today = chrono::Utc::now().date_naive();
    let span = |d: chrono::NaiveDate| {
        d.checked_sub_days(chrono::Days::new(1)).zip(d.checked_add_days(chrono::Days::new(u64::from(days))))
    };
    let (from, to) =
        span(today).ok_or_else(|| TlsError::Generate("the calendar ends before the certificate would".into()))?;
    params.not_before = ymd(from);
    params.not_after = ymd(to);
    if let Some(name) = names.first() {
        params.distinguished_name.push(rcgen::DnType::CommonName, name.clone());
    }
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok(SelfSigned { cert_pem: cert.pem(), key_pem: key.serialize_pem(), pin: CertificatePin::of(cert.der()) })
}

/// A DNS name (labels of letters, digits and hyphens, a leading `*.` allowed) or an IP
/// address.
fn is_host_or_address(name: &str) -> bool {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, made: &SelfSigned) -> TlsFiles {
        let files = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
        std::fs::write(&files.cert, &made.cert_pem).unwrap();
        std::fs::write(&files.key, &made.key_pem).unwrap();
        files
    }

    #[test]
    fn a_reload_serves_the_new_certificate_and_a_bad_one_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let first = self_signed(&["relay.example.org".into(), "127.0.0.1".into()], 30).unwrap();
        let files = write(dir.path(), &first);
        let tls = Tls::load(files.clone()).unwrap();
        assert_eq!(tls.pin(), first.pin);

        let second = self_signed(&["relay.example.org".into()], 30).unwrap();
        write(dir.path(), &second);
        assert_eq!(tls.reload().unwrap(), second.pin);
        assert_eq!(tls.pin(), second.pin);

        // A key of another certificate: refused, the second goes on.
        std::fs::write(&files.key, &first.key_pem).unwrap();
        let e = tls.reload().unwrap_err();
        assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
        assert_eq!(tls.pin(), second.pin);
        std::fs::write(&files.cert, "not PEM").unwrap();
        assert!(matches!(tls.reload().unwrap_err(), TlsError::Read { what: "a certificate chain", .. }));
        std::fs::write(&files.cert, &second.cert_pem).unwrap();
        std::fs::remove_file(&files.key).unwrap();
        assert!(Tls::load(files).unwrap_err().to_string().contains("key.pem"));
        assert_eq!(tls.pin(), second.pin);
    }

    #[test]
    fn names_that_are_neither_hosts_nor_addresses_are_refused() {
        for bad in ["not a name!", "", "a..b", "-a.org", "ex ample.org"] {
            assert!(matches!(self_signed(&[bad.into()], 1), Err(TlsError::Generate(_))), "{bad}");
        }
        assert!(self_signed(&["*.example.org".into(), "::1".into(), "localhost".into()], 1).is_ok());
        for days in [0, MAX_DAYS + 1, u32::MAX] {
            assert!(matches!(self_signed(&["localhost".into()], days), Err(TlsError::Generate(_))), "{days}");
        }
    }
}
