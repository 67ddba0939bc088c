//! The relay over HTTPS on loopback, with a certificate made at run time: devices sync with
//! it pinned, a wrong pin or an unknown authority sends nothing, a reloaded certificate
//! serves new connections, pages get HSTS and `Secure` cookies over TLS (here or at a
//! trusted proxy), and a proxy's forwarded headers count only from that proxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use common::{PASSWORD, TestServer, household_form};
use terrain_core::sync::{
    self, CancelToken, CertificatePin, HttpClient, HttpRequest, HttpResponse, ReqwestClient, ServerAddress, Session,
    SyncOptions, TransportError,
};
use terrain_core::{AnswerPath, Author, Role, Store, Value};
use terrain_server::http::tls::self_signed;
use terrain_server::{Settings, Tls, TlsFiles};

/// A self-signed certificate for 127.0.0.1 written into `dir`, loaded.
fn certificate(dir: &Path, name: &str) -> (Tls, TlsFiles, CertificatePin) {
    let made = self_signed(&["127.0.0.1".into(), "localhost".into()], 30).unwrap();
    let files = TlsFiles { cert: dir.join(format!("{name}.crt")), key: dir.join(format!("{name}.key")) };
    std::fs::write(&files.cert, &made.cert_pem).unwrap();
    std::fs::write(&files.key, &made.key_pem).unwrap();
    (Tls::load(files.clone()).unwrap(), files, made.pin)
}

fn client() -> Arc<dyn HttpClient> {
    Arc::new(ReqwestClient::new().unwrap())
}

fn login(url: &str, pin: Option<CertificatePin>, user: &str) -> Result<Session, TransportError> {
    let server = match pin {
        Some(pin) => ServerAddress::pinned(url, pin)?,
        None => ServerAddress::new(url)?,
    };
    Session::login_to(client(), &server, user, PASSWORD, &format!("{user}-phone"))
}

#[test]
fn a_device_syncs_over_tls_with_the_certificate_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, _, pin) = certificate(dir.path(), "relay");
    let server = TestServer::start_tls(&dir.path().join("data"), TestServer::settings(), tls);
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    server.user("awa", Role::Enumerator, Some(0));

    let session = login(&server.url, Some(pin), "awa").unwrap();
    let store = Store::open(dir.path().join("awa.db"), Author::new("awa", "awa-phone", Role::Enumerator)).unwrap();
    store.set_device_key(&session.login_info().unwrap().device_key).unwrap();
    store.save_form(&household_form()).unwrap();
    let id = store.create_survey("household", "2026110101").unwrap();
    store.set_answer(&id, &"hh_size".parse::<AnswerPath>().unwrap(), Value::Integer(5)).unwrap();
    let report =
        sync::sync(&store, &session.transport(), &SyncOptions::default(), &|_| {}, &CancelToken::default()).unwrap();
    assert_eq!(report.progress.pushed, 1, "{report:?}");
    assert_eq!(
        server.backend().survey(&id).unwrap().answers.get("hh_size"),
        Some(&terrain_core::survey::Answer::Value(Value::Integer(5)))
    );
    // The token works on: a second sync over a new connection, as after the app restarts.
    let resumed =
        Session::resume_to(client(), &ServerAddress::pinned(&server.url, pin).unwrap(), &session.token()).unwrap();
    sync::sync(&store, &resumed.transport(), &SyncOptions::default(), &|_| {}, &CancelToken::default()).unwrap();
}

#[test]
fn a_wrong_pin_or_an_unknown_authority_gets_no_request_through() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, _, pin) = certificate(dir.path(), "relay");
    let server = TestServer::start_tls(&dir.path().join("data"), TestServer::settings(), tls);
    let before = server.backend().audit_log(1_000).unwrap().len();

    let wrong = CertificatePin::of(b"another certificate");
    match login(&server.url, Some(wrong), "admin") {
        Err(TransportError::Network(message)) => {
            assert!(message.contains("not the pinned one") && message.contains(&pin.to_string()), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // Without a pin, the certificate must chain to a public authority; this one does not.
    match login(&server.url, None, "admin") {
        Err(TransportError::Network(message)) => assert!(message.contains("certificate"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Plain HTTP to the TLS port is no answer either.
    let plain = server.url.replace("https://", "http://");
    assert!(matches!(login(&plain, None, "admin"), Err(TransportError::Network(_))));
    assert_eq!(server.backend().audit_log(1_000).unwrap().len(), before, "no login reached the services");
    login(&server.url, Some(pin), "admin").unwrap();
}

#[test]
fn a_reloaded_certificate_serves_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, files, old) = certificate(dir.path(), "relay");
    let server = TestServer::start_tls(&dir.path().join("data"), TestServer::settings(), tls.clone());
    login(&server.url, Some(old), "admin").unwrap();

    let renewed = self_signed(&["127.0.0.1".into()], 60).unwrap();
    std::fs::write(&files.cert, &renewed.cert_pem).unwrap();
    std::fs::write(&files.key, &renewed.key_pem).unwrap();
    assert_eq!(tls.reload().unwrap(), renewed.pin);
    login(&server.url, Some(renewed.pin), "admin").unwrap();
    assert!(login(&server.url, Some(old), "admin").is_err());
}

/// Logs in through the dashboard's form with `headers`, pinned to `pin` when given.
fn dashboard_login(url: &str, pin: Option<CertificatePin>, headers: &[(&str, &str)]) -> HttpResponse {
    let body = format!("username=admin&password={}", PASSWORD.replace(' ', "+"));
    let mut request =
        HttpRequest::new("POST", format!("{url}/login")).body("application/x-www-form-urlencoded", body.into_bytes());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = ReqwestClient::new().unwrap().send(HttpRequest { pinned_certificate: pin, ..request }).unwrap();
    assert_eq!(response.status, 303, "{:?}", String::from_utf8_lossy(&response.body));
    response
}

fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn pages_over_tls_get_hsts_and_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, _, pin) = certificate(dir.path(), "relay");
    let secure = TestServer::start_tls(&dir.path().join("tls"), TestServer::settings(), tls);
    let response = dashboard_login(&secure.url, Some(pin), &[]);
    let cookie = header(&response, "set-cookie").unwrap();
    assert!(cookie.ends_with("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    assert_eq!(header(&response, "strict-transport-security"), Some("max-age=31536000"));

    let plain = TestServer::start(&dir.path().join("plain"));
    let response = dashboard_login(&plain.url, None, &[]);
    assert!(!header(&response, "set-cookie").unwrap().contains("Secure"));
    assert_eq!(header(&response, "strict-transport-security"), None);
}

#[test]
fn a_proxy_s_forwarded_headers_count_only_from_that_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TestServer::settings();
    settings.trusted_proxies = vec![IpAddr::from([127, 0, 0, 1])];
    settings.services.logins.per_address = terrain_services::Rate { burst: 1, per_second: 0.001 };
    let behind = TestServer::start_with(&dir.path().join("behind"), settings.clone());
    let forwarded = [("x-forwarded-proto", "https"), ("x-forwarded-for", "203.0.113.7")];
    let response = dashboard_login(&behind.url, None, &forwarded);
    assert!(header(&response, "set-cookie").unwrap().ends_with("; Secure"));
    assert!(header(&response, "strict-transport-security").is_some());
    // The login throttle counts the address the proxy reported: that one has had its
    // attempt, another client behind the same proxy has not.
    let again = ReqwestClient::new()
        .unwrap()
        .send(
            HttpRequest::new("POST", format!("{}/login", behind.url))
                .header("x-forwarded-for", "203.0.113.7")
                .body("application/x-www-form-urlencoded", b"username=admin&password=wrong".to_vec()),
        )
        .unwrap();
    assert_eq!(again.status, 429);
    dashboard_login(&behind.url, None, &[("x-forwarded-for", "203.0.113.8")]);

    // The same headers from a peer that is not the proxy are a client's claim.
    let elsewhere = Settings { trusted_proxies: vec![IpAddr::from([10, 9, 9, 9])], ..settings };
    let direct = TestServer::start_with(&dir.path().join("direct"), elsewhere);
    let response = dashboard_login(&direct.url, None, &forwarded);
    assert!(!header(&response, "set-cookie").unwrap().contains("Secure"));
    assert_eq!(header(&response, "strict-transport-security"), None);
    // Nor does its claimed address escape the throttle: both attempts count as 127.0.0.1.
    let again = ReqwestClient::new()
        .unwrap()
        .send(
            HttpRequest::new("POST", format!("{}/login", direct.url))
                .header("x-forwarded-for", "203.0.113.99")
                .body("application/x-www-form-urlencoded", b"username=admin&password=wrong".to_vec()),
        )
        .unwrap();
    assert_eq!(again.status, 429);
}
