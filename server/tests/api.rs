//! The server's plain API on loopback: health, OpenAPI, login, tokens, forms, errors.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, PASSWORD, TestServer};
use terrain_core::{AnswerPath, Role, Value};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[test]
fn health_openapi_and_login_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let health: serde_json::Value = client().get(format!("{}/healthz", server.url)).send().unwrap().json().unwrap();
    assert_eq!(health["status"], "ok");
    let doc: serde_json::Value =
        client().get(format!("{}/api/openapi.json", server.url)).send().unwrap().json().unwrap();
    assert!(doc["paths"]["/api/v1/sync"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let wrong = client()
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&serde_json::json!({"username": "admin", "password": "nope", "device_id": "d"}))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().unwrap();
    assert_eq!(body["code"], "unauthorized");

    let token = server.token("admin", "laptop");
    let me: serde_json::Value =
        client().get(format!("{}/api/v1/me", server.url)).bearer_auth(&token).send().unwrap().json().unwrap();
    assert_eq!(me["username"], "admin");
    let out = client().post(format!("{}/api/v1/auth/logout", server.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(out.status(), 204);
    let revoked = client().get(format!("{}/api/v1/me", server.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(revoked.status(), 401);
}

#[test]
fn an_expired_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::TestServer::settings();
    settings.services.access_ttl = chrono::Duration::milliseconds(1);
    settings.services.token_ttl = chrono::Duration::milliseconds(1);
    let server = TestServer::start_with(dir.path(), settings);
    let session = terrain_core::sync::Session::login(&server.url, "admin", common::PASSWORD, "laptop").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let response = client().get(format!("{}/api/v1/me", server.url)).bearer_auth(session.token()).send().unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["code"], "token_expired", "{body}");
    // The refresh token has expired too: the device logs in again.
    let refresh = session.refresh_token().unwrap();
    let response = client().post(format!("{}/api/v1/auth/refresh", server.url)).bearer_auth(&refresh).send().unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().unwrap();
    assert!(body["message"].as_str().unwrap().contains("log in again"), "{body}");
}

#[test]
fn a_device_creates_a_survey_and_the_server_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    // The phone downloads the form list and the form.
    let forms: Vec<serde_json::Value> =
        client().get(format!("{}/api/v1/forms", server.url)).bearer_auth(&phone.token).send().unwrap().json().unwrap();
    assert_eq!(forms.len(), 1);
    let form: terrain_core::Form = serde_json::from_value(
        client()
            .get(format!("{}/api/v1/forms/household/2026110101", server.url))
            .bearer_auth(&phone.token)
            .send()
            .unwrap()
            .json()
            .unwrap(),
    )
    .unwrap();
    phone.store.save_form(&form).unwrap();
    let id = phone.store.create_survey("household", "2026110101").unwrap();
    phone.store.set_answer(&id, &"village".parse::<AnswerPath>().unwrap(), Value::Text("Kindia".into())).unwrap();
    let report = phone.sync();
    assert_eq!(report.progress.pushed, 1);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(phone.store.pending_count().unwrap(), 0);
    let survey: serde_json::Value = client()
        .get(format!("{}/api/v1/surveys/{id}", server.url))
        .bearer_auth(server.token("admin", "laptop"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(survey["answers"]["village"], "Kindia");
    // A second sync with nothing new is one small round trip.
    let noop = phone.sync();
    assert_eq!(noop.progress.rounds, 1);
    assert!(noop.progress.bytes_sent + noop.progress.bytes_received < 200, "{:?}", noop.progress);
    let _ = PASSWORD;
}

#[test]
fn an_admin_publishes_an_xlsform_and_devices_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let admin = server.token("admin", "laptop");
    let xlsx = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/beguedo_slm.xlsx")).unwrap();
    let published = client()
        .post(format!("{}/api/v1/projects/{}/forms", server.url, server.project))
        .bearer_auth(&admin)
        .header("content-type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .body(xlsx)
        .send()
        .unwrap();
    assert_eq!(published.status(), 201);
    let legacy = client()
        .post(format!("{}/api/v1/projects/{}/forms", server.url, server.project))
        .bearer_auth(&admin)
        .header("content-type", "application/vnd.ms-excel")
        .body(vec![0u8; 10])
        .send()
        .unwrap();
    assert_eq!(legacy.status(), 422);
    server.user("awa", Role::Enumerator, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone");
    phone.fetch_forms();
    assert!(phone.store.forms().unwrap().iter().any(|f| f.form_id == "beguedo_slm"));
}
