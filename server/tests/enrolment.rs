//! Enrolling a device by QR code: a supervisor makes a code for an enumerator over HTTPS;
//! the QR code carries the server's address and certificate pin; a new phone redeems it
//! once, with no password, and syncs; codes expire and can be revoked; the dashboard draws
//! the QR code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{PASSWORD, TestServer, page, session};
use serde_json::json;
use terrain_core::sync::{
    self, CancelToken, EnrolmentPayload, HttpClient, ReqwestClient, ServerAddress, Session, SyncOptions, TransportError,
};
use terrain_core::{AnswerPath, Author, Role, Store, Value};
use terrain_server::http::tls::self_signed;
use terrain_server::{Settings, Tls, TlsFiles};

fn client() -> Arc<dyn HttpClient> {
    Arc::new(ReqwestClient::new().unwrap())
}

#[test]
fn a_qr_code_enrols_a_new_phone_once_over_pinned_tls() {
    let dir = tempfile::tempdir().unwrap();
    let made = self_signed(&["127.0.0.1".into()], 30).unwrap();
    let files = TlsFiles { cert: dir.path().join("relay.crt"), key: dir.path().join("relay.key") };
    std::fs::write(&files.cert, &made.cert_pem).unwrap();
    std::fs::write(&files.key, &made.key_pem).unwrap();
    let settings = Settings { pin_certificate: true, ..TestServer::settings() };
    let server = TestServer::start_tls(&dir.path().join("data"), settings, Tls::load(files).unwrap());
    let awa = server.user("awa", Role::Enumerator, Some(0));
    server.user("moussa", Role::Supervisor, Some(0));
    let relay = ServerAddress::pinned(&server.url, made.pin).unwrap();
    let moussa = Session::login_to(client(), &relay, "moussa", PASSWORD, "moussa-tablet").unwrap();

    let created = moussa
        .expect_ok("POST", &format!("/api/v1/users/{}/enrolments", awa.id), Some(&json!({"label": "new phone"})))
        .unwrap();
    assert_eq!(created["username"], "awa");
    let payload = EnrolmentPayload::parse(created["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload.server, relay, "the QR code names this server and pins its certificate");
    assert_eq!((payload.user.as_str(), payload.code.as_str()), ("awa", created["code"].as_str().unwrap()));

    let phone = Session::enrol(client(), &payload, "awa-new-phone").unwrap();
    let store = Store::open(dir.path().join("awa.db"), Author::new("awa", "awa-new-phone", Role::Enumerator)).unwrap();
    store.set_device_key(&phone.login_info().unwrap().device_key).unwrap();
    store.save_form(&common::household_form()).unwrap();
    let id = store.create_survey("household", "2026110101").unwrap();
    store.set_answer(&id, &"hh_size".parse::<AnswerPath>().unwrap(), Value::Integer(3)).unwrap();
    let report =
        sync::sync(&store, &phone.transport(), &SyncOptions::default(), &|_| {}, &CancelToken::default()).unwrap();
    assert_eq!(report.progress.pushed, 1);

    // Once only.
    match Session::enrol(client(), &payload, "another-phone") {
        Err(TransportError::Unauthorized(message)) => assert!(message.contains("used"), "{message}"),
        other => panic!("{other:?}"),
    }
    let log = server.backend().audit_log(100).unwrap();
    for action in ["enrolment.create", "enrolment.redeem"] {
        assert!(log.iter().any(|e| e.action == action), "{action} is audited");
    }
    let listed = moussa.expect_ok("GET", &format!("/api/v1/users/{}/enrolments", awa.id), None).unwrap();
    assert!(listed[0]["redeemed_at"].is_string(), "{listed}");
    assert!(listed[0].get("code").is_none(), "a code is shown once");
}

#[test]
fn a_certificate_is_pinned_in_qr_codes_only_when_the_operator_says_it_is_self_signed() {
    let dir = tempfile::tempdir().unwrap();
    let made = self_signed(&["127.0.0.1".into()], 30).unwrap();
    let files = TlsFiles { cert: dir.path().join("relay.crt"), key: dir.path().join("relay.key") };
    std::fs::write(&files.cert, &made.cert_pem).unwrap();
    std::fs::write(&files.key, &made.key_pem).unwrap();
    // A certificate a public authority renews must not be pinned: every enrolled phone
    // would be cut off at its renewal.
    let server = TestServer::start_tls(&dir.path().join("data"), TestServer::settings(), Tls::load(files).unwrap());
    let awa = server.user("awa", Role::Enumerator, Some(0));
    let admin =
        Session::login_to(client(), &ServerAddress::pinned(&server.url, made.pin).unwrap(), "admin", PASSWORD, "desk")
            .unwrap();
    let created = admin.expect_ok("POST", &format!("/api/v1/users/{}/enrolments", awa.id), Some(&json!({}))).unwrap();
    let payload = EnrolmentPayload::parse(created["payload"].as_str().unwrap()).unwrap();
    assert_eq!((payload.server.base(), payload.server.pin()), (server.url.as_str(), None));
}

#[test]
fn codes_expire_can_be_revoked_and_are_made_by_those_who_manage_devices() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TestServer::settings();
    settings.services.enrolment_ttl = chrono::Duration::hours(1);
    let server = TestServer::start_with(&dir.path().join("data"), settings.clone());
    let awa = server.user("awa", Role::Enumerator, Some(0));
    server.user("fanta", Role::Supervisor, Some(1));
    server.user("ali", Role::Analyst, None);
    let admin = Session::login(&server.url, "admin", PASSWORD, "admin-laptop").unwrap();
    let path = format!("/api/v1/users/{}/enrolments", awa.id);
    for who in ["fanta", "ali"] {
        let other = Session::login(&server.url, who, PASSWORD, "desk").unwrap();
        assert_eq!(other.request("POST", &path, Some(&json!({}))).unwrap().0, 403, "{who}");
    }

    let created = admin.expect_ok("POST", &path, Some(&json!({"label": "spare"}))).unwrap();
    let payload = EnrolmentPayload::parse(created["payload"].as_str().unwrap()).unwrap();
    let id = created["enrolment"]["id"].as_i64().unwrap();
    assert_eq!(admin.request("DELETE", &format!("{path}/{id}"), None).unwrap().0, 204);
    assert_eq!(admin.request("DELETE", &format!("{path}/{id}"), None).unwrap().0, 404);
    assert!(matches!(Session::enrol(client(), &payload, "spare-phone"), Err(TransportError::Unauthorized(_))));

    // A code past its time.
    drop(server);
    settings.services.enrolment_ttl = chrono::Duration::seconds(-1);
    let server = TestServer::start_with(&dir.path().join("data"), settings);
    let admin = Session::login(&server.url, "admin", PASSWORD, "admin-laptop").unwrap();
    let created = admin.expect_ok("POST", &path, Some(&json!({}))).unwrap();
    let payload = EnrolmentPayload::parse(created["payload"].as_str().unwrap()).unwrap();
    match Session::enrol(client(), &payload, "late-phone") {
        Err(TransportError::Unauthorized(message)) => assert!(message.contains("expired"), "{message}"),
        other => panic!("{other:?}"),
    }
    // An overlong code is refused alike.
    let bad = EnrolmentPayload { code: "x".repeat(200), ..payload };
    assert!(matches!(Session::enrol(client(), &bad, "late-phone"), Err(TransportError::Unauthorized(_))));
}

#[test]
fn a_revoked_phone_cannot_enrol_again_under_its_old_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("data"));
    let awa = server.user("awa", Role::Enumerator, Some(0));
    let admin = Session::login(&server.url, "admin", PASSWORD, "admin-laptop").unwrap();
    let phone = Session::login(&server.url, "awa", PASSWORD, "awa-phone").unwrap();
    let key = &phone.login_info().unwrap().device_key;
    admin.expect_ok("DELETE", &format!("/api/v1/users/{}/devices/{key}", awa.id), None).unwrap();
    let created = admin.expect_ok("POST", &format!("/api/v1/users/{}/enrolments", awa.id), Some(&json!({}))).unwrap();
    let payload = EnrolmentPayload::parse(created["payload"].as_str().unwrap()).unwrap();
    assert!(matches!(Session::enrol(client(), &payload, "awa-phone"), Err(TransportError::DeviceRevoked(_))));
    // Refused on the way, the code is not spent: the right phone still enrols with it. Not
    // under the server's own device ids, nor under a phone enrolled already.
    for (device, status) in [("web", 400), ("web-dashboard", 400)] {
        match Session::enrol(client(), &payload, device) {
            Err(TransportError::Refused { status: s, .. }) => assert_eq!(s, status, "{device}"),
            other => panic!("{device}: {other:?}"),
        }
    }
    Session::login(&server.url, "awa", PASSWORD, "awa-second-phone").unwrap();
    match Session::enrol(client(), &payload, "awa-second-phone") {
        Err(TransportError::Refused { status: 409, .. }) => {}
        other => panic!("{other:?}"),
    }
    Session::enrol(client(), &payload, "awa-new-phone").unwrap();
    match Session::login(&server.url, "awa", PASSWORD, "web") {
        Err(TransportError::Refused { status: 400, .. }) => {}
        other => panic!("a phone logging in as the server's own device: {other:?}"),
    }
}

#[test]
fn guessing_codes_is_throttled_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TestServer::settings();
    settings.services.logins.per_address = terrain_services::Rate { burst: 2, per_second: 0.001 };
    let server = TestServer::start_with(&dir.path().join("data"), settings);
    let guess = EnrolmentPayload {
        server: ServerAddress::new(&server.url).unwrap(),
        user: "awa".into(),
        code: "a-guess".into(),
    };
    for _ in 0..2 {
        assert!(matches!(Session::enrol(client(), &guess, "phone"), Err(TransportError::Unauthorized(_))));
    }
    match Session::enrol(client(), &guess, "phone") {
        Err(TransportError::Refused { status: 429, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_dashboard_draws_the_qr_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("data"));
    let awa = server.user("awa", Role::Enumerator, Some(0));
    let cookie = session(&server, "admin");
    let (_, html) = page(&server, &cookie, &format!("/users/{}/devices", awa.id));
    let csrf_at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = html[csrf_at..csrf_at + 32].to_owned();
    let shown = common::browser()
        .post(format!("{}/users/{}/enrolments", server.url, awa.id))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("label", "tablette de l'équipe")])
        .send()
        .unwrap();
    assert_eq!(shown.status().as_u16(), 200);
    let html = shown.text().unwrap();
    assert!(html.contains("<svg") && !html.contains("<?xml"), "an inline SVG QR code");
    let at = html.find("id=\"enrolment-payload\">").unwrap() + "id=\"enrolment-payload\">".len();
    let text = html[at..].split('<').next().unwrap().replace("&amp;", "&");
    let payload = EnrolmentPayload::parse(&text).unwrap();
    assert_eq!(payload.server.base(), server.url);
    assert!(html.contains("tablette de l&#39;équipe") || html.contains("tablette de l'équipe"));
    Session::enrol(client(), &payload, "team-tablet").unwrap();
    let (_, html) = page(&server, &cookie, &format!("/users/{}/devices", awa.id));
    assert!(html.contains("team-tablet") && !html.contains("id=\"enrolments\""), "used: listed as a device");
}
