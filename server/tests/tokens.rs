//! Short-lived session tokens and the device-bound refresh token that renews them, against
//! the real server on loopback: what each token opens, a session that renews itself, and
//! the refresh token's end with the device, a logout and another device's password change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{PASSWORD, TestServer};
use serde_json::{Value, json};
use terrain_core::Role;
use terrain_core::sync::{ServerAddress, Session, TransportError};

/// A server whose session tokens live one second.
fn server(dir: &std::path::Path) -> TestServer {
    let mut settings = TestServer::settings();
    settings.services.access_ttl = chrono::Duration::seconds(1);
    TestServer::start_with(dir, settings)
}

fn call(server: &TestServer, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let response = common::http().request(method, format!("{}{path}", server.url)).bearer_auth(token).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn login(server: &TestServer, user: &str, device: &str) -> Value {
    common::http()
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({"username": user, "password": PASSWORD, "device_id": device}))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn past_expiry() {
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
fn a_session_token_expires_and_the_device_refresh_token_renews_it_and_opens_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    let login = login(&server, "awa", "phone-1");
    let (token, refresh) = (login["token"].as_str().unwrap(), login["refresh_token"].as_str().unwrap());
    assert!(refresh.starts_with("rt_") && !token.starts_with("rt_"), "{login}");
    assert!(login["expires_in"].as_u64().unwrap() <= 1, "{login}");
    assert_eq!(call(&server, reqwest::Method::GET, "/api/v1/me", token).0, 200);

    // The refresh token opens nothing but a refresh: not the API, not a feed.
    let (status, body) = call(&server, reqwest::Method::GET, "/api/v1/me", refresh);
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("/api/v1/auth/refresh"), "{body}");
    assert_eq!(call(&server, reqwest::Method::GET, "/api/v1/projects", refresh).0, 401);

    past_expiry();
    let (status, body) = call(&server, reqwest::Method::GET, "/api/v1/me", token);
    assert_eq!((status, body["code"].as_str()), (401, Some("token_expired")), "{body}");
    let (status, renewed) = call(&server, reqwest::Method::POST, "/api/v1/auth/refresh", refresh);
    assert_eq!(status, 200, "{renewed}");
    assert!(renewed.get("refresh_token").is_none(), "the refresh token stays as it is: {renewed}");
    assert_eq!(renewed["device_key"], login["device_key"]);
    assert_eq!(call(&server, reqwest::Method::GET, "/api/v1/me", renewed["token"].as_str().unwrap()).0, 200);
    // It works again (it does not rotate: a refresh lost on a 2G link costs nothing).
    assert_eq!(call(&server, reqwest::Method::POST, "/api/v1/auth/refresh", refresh).0, 200);
    let log = server.backend().audit_log(100).unwrap();
    assert!(log.iter().filter(|e| e.action == "auth.refresh").count() >= 2, "refreshes are audited");

    // A logout ends the device's refresh token with its session.
    assert_eq!(call(&server, reqwest::Method::POST, "/api/v1/auth/logout", renewed["token"].as_str().unwrap()).0, 204);
    assert_eq!(call(&server, reqwest::Method::POST, "/api/v1/auth/refresh", refresh).0, 401);
}

#[test]
fn a_session_renews_its_token_by_itself_and_resumes_from_the_refresh_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    let session = Session::login(&server.url, "awa", PASSWORD, "phone-1").unwrap();
    let first = session.token();
    past_expiry();
    let me = session.expect_ok("GET", "/api/v1/me", None).unwrap();
    assert_eq!(me["username"], "awa");
    assert_ne!(session.token(), first, "renewed before the request, which went through");

    // After a restart, the app has only what it kept: the refresh token.
    let kept = session.login_info().unwrap().credential().to_owned();
    assert_eq!(Some(kept.clone()), session.refresh_token());
    let http = std::sync::Arc::new(terrain_core::sync::ReqwestClient::new().unwrap());
    let resumed = Session::resume_to(http, &ServerAddress::new(&server.url).unwrap(), &kept).unwrap();
    assert_eq!(resumed.expect_ok("GET", "/api/v1/me", None).unwrap()["username"], "awa");
    // A sync over the resumed session's transport renews its token too.
    past_expiry();
    let device = common::Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-2");
    let transport = resumed.transport();
    terrain_core::sync::sync(
        &device.store,
        &transport,
        &Default::default(),
        &|_| {},
        &terrain_core::sync::CancelToken::default(),
    )
    .unwrap();
}

#[test]
fn a_refresh_token_ends_with_its_device_and_with_another_device_password_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let awa = server.user("awa", Role::Enumerator, Some(0));
    let phone = login(&server, "awa", "phone-1");
    let tablet = login(&server, "awa", "tablet-1");
    let refresh =
        |l: &Value| call(&server, reqwest::Method::POST, "/api/v1/auth/refresh", l["refresh_token"].as_str().unwrap());

    // A password change from the phone keeps the phone's refresh token, ends the tablet's.
    let change = common::http()
        .put(format!("{}/api/v1/me/password", server.url))
        .bearer_auth(phone["token"].as_str().unwrap())
        .json(&json!({"current_password": PASSWORD, "new_password": "another long password"}))
        .send()
        .unwrap();
    assert_eq!(change.status(), 200);
    assert_eq!(refresh(&phone).0, 200);
    assert_eq!(refresh(&tablet).0, 401);

    // The phone is revoked: its refresh token gets the kind of answer that says so.
    let admin = server.token("admin", "laptop");
    let revoked = common::http()
        .delete(format!("{}/api/v1/users/{}/devices/{}", server.url, awa.id, phone["device_key"].as_str().unwrap()))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    let (status, body) = refresh(&phone);
    assert_eq!((status, body["code"].as_str()), (401, Some("device_revoked")), "{body}");
    let resumed = Session::resume(&server.url, phone["refresh_token"].as_str().unwrap()).unwrap();
    assert!(matches!(resumed.expect_ok("GET", "/api/v1/me", None), Err(TransportError::DeviceRevoked(_))));
}
