//! A user's devices: listed with their last sync and app; one revoked (lost, stolen,
//! replaced) is told `device_revoked` at its next sync and may not log in again, while the
//! user's other devices go on; who may list and revoke; the dashboard's page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, PASSWORD, TestServer, browser, page, session};
use serde_json::Value as Json;
use terrain_core::sync::{Session, SyncError, TransportError};
use terrain_core::{AnswerPath, Role, Value};

fn call(server: &TestServer, method: reqwest::Method, path: &str, token: &str) -> (u16, Json) {
    let response = common::http().request(method, format!("{}{path}", server.url)).bearer_auth(token).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Json::Null))
}

fn fill(device: &Device) {
    device.store.save_form(&common::household_form()).unwrap();
    let id = device.store.create_survey("household", "2026110101").unwrap();
    device.store.set_answer(&id, &"hh_size".parse::<AnswerPath>().unwrap(), Value::Integer(4)).unwrap();
}

#[test]
fn a_revoked_device_is_told_at_its_next_sync_and_cannot_log_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("data"));
    let awa = server.user("awa", Role::Enumerator, Some(0));
    let lost = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "awa-old-phone");
    let kept = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "awa-new-phone");
    fill(&lost);
    lost.sync();
    kept.sync();
    let admin = server.token("admin", "admin-laptop");

    let (status, listed) = call(&server, reqwest::Method::GET, &format!("/api/v1/users/{}/devices", awa.id), &admin);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["username"], "awa");
    let devices = listed["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{listed}");
    let old = devices.iter().find(|d| d["device_id"] == "awa-old-phone").unwrap();
    assert!(old["last_sync_at"].is_string() && old["revoked_at"].is_null(), "{old}");
    assert!(old["client"].as_str().unwrap().starts_with("terrain-core/"), "{old}");
    let key = old["key"].as_str().unwrap().to_owned();

    let path = format!("/api/v1/users/{}/devices/{key}", awa.id);
    let (status, ended) = call(&server, reqwest::Method::DELETE, &path, &admin);
    assert_eq!((status, ended["ended_sessions"].as_u64()), (200, Some(1)), "{ended}");
    assert_eq!(call(&server, reqwest::Method::DELETE, &path, &admin).0, 404, "already revoked");

    // The lost phone is told, in a kind of its own, at its next sync and at any login.
    fill(&lost);
    match lost.try_sync() {
        Err(SyncError::Transport(TransportError::DeviceRevoked(message))) => {
            assert!(message.contains("removed from awa's account"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match Session::login(&server.url, "awa", PASSWORD, "awa-old-phone") {
        Err(TransportError::DeviceRevoked(_)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(lost.store.pending_count().unwrap(), 1, "what it holds stays on it");
    // Her other phone goes on, and so may a new one.
    fill(&kept);
    assert_eq!(kept.sync().progress.pushed, 1);
    Session::login(&server.url, "awa", PASSWORD, "awa-third-phone").unwrap();

    let log = server.backend().audit_log(100).unwrap();
    let revoke = log.iter().find(|e| e.action == "device.revoke").expect("the revocation is audited");
    assert!(revoke.detail.as_deref().unwrap().contains("\"device\":\"awa-old-phone\""), "{revoke:?}");
    assert!(
        log.iter()
            .any(|e| e.action == "auth.login_failed" && e.detail.as_deref().unwrap_or("").contains("device revoked"))
    );
}

#[test]
fn the_owner_their_supervisor_and_administrators_manage_devices() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("data"));
    let awa = server.user("awa", Role::Enumerator, Some(0));
    server.user("moussa", Role::Supervisor, Some(0));
    server.user("fanta", Role::Supervisor, Some(1));
    server.user("binta", Role::Enumerator, Some(0));
    server.user("ali", Role::Analyst, None);
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "awa-phone");
    let path = format!("/api/v1/users/{}/devices", awa.id);
    for (who, expected) in [("awa", 200), ("moussa", 200), ("admin", 200), ("fanta", 403), ("binta", 403), ("ali", 403)]
    {
        let token = server.token(who, &format!("{who}-device"));
        assert_eq!(call(&server, reqwest::Method::GET, &path, &token).0, expected, "{who}");
    }
    // A supervisor acts for the enumerators of their teams, not for a fellow supervisor
    // there; and nobody makes an enrolment code for themselves but an administrator (a
    // stolen phone's token must not mint itself a new device).
    let sali = server.user("sali", Role::Supervisor, Some(0));
    let moussa = server.token("moussa", "moussa-device");
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let enrolments = format!("/api/v1/users/{}/enrolments", sali.id);
        let status = common::http()
            .request(method.clone(), format!("{}{enrolments}", server.url))
            .bearer_auth(&moussa)
            .json(&serde_json::json!({}))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 403, "{method} {enrolments}");
    }
    assert_eq!(call(&server, reqwest::Method::GET, &format!("/api/v1/users/{}/devices", sali.id), &moussa).0, 403);
    let own = common::http()
        .post(format!("{}/api/v1/users/{}/enrolments", server.url, awa.id))
        .bearer_auth(&phone.token)
        .json(&serde_json::json!({}))
        .send()
        .unwrap();
    assert_eq!(own.status(), 403, "an enumerator's phone cannot enrol another");
    assert_eq!(call(&server, reqwest::Method::GET, "/api/v1/users/987654/devices", &moussa).0, 403, "no id disclosed");
    // The dashboard's own sessions are not a device to revoke: a password change ends them.
    common::http()
        .post(format!("{}/login", server.url))
        .form(&[("username", "awa"), ("password", PASSWORD)])
        .send()
        .unwrap();
    let admin = server.token("admin", "admin-device");
    let (_, listed) = call(&server, reqwest::Method::GET, &path, &admin);
    let devices = listed["devices"].as_array().unwrap();
    let ids: Vec<&str> = devices.iter().map(|d| d["device_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"awa-phone") && !ids.iter().any(|id| id.starts_with("web")), "{listed}");
    for bad in ["zz", "00112233445566778899"] {
        assert_eq!(call(&server, reqwest::Method::DELETE, &format!("{path}/{bad}"), &admin).0, 400, "{bad}");
    }
    // The owner may revoke their own lost phone.
    let key = devices.iter().find(|d| d["device_id"] == "awa-phone").unwrap()["key"].as_str().unwrap().to_owned();
    let own = phone.token.clone();
    assert_eq!(call(&server, reqwest::Method::DELETE, &format!("{path}/{key}"), &own).0, 200);
    assert!(matches!(phone.try_sync(), Err(SyncError::Transport(TransportError::DeviceRevoked(_)))));
}

#[test]
fn the_devices_page_lists_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("data"));
    let awa = server.user("awa", Role::Enumerator, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "awa-phone");
    phone.sync();
    let cookie = session(&server, "admin");
    let (status, html) = page(&server, &cookie, "/admin");
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/users/{}/devices", awa.id)), "the users table links each user's devices");
    let (status, html) = page(&server, &cookie, &format!("/users/{}/devices", awa.id));
    assert_eq!(status, 200);
    assert!(html.contains("awa-phone") && html.contains("terrain-core/"), "{html}");
    let at = html.find("/revoke\"").unwrap();
    let action = &html[html[..at].rfind("action=\"").unwrap() + "action=\"".len()..at + "/revoke".len()];
    let csrf_at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = &html[csrf_at..csrf_at + 32];
    let posted = browser()
        .post(format!("{}{action}", server.url))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf)])
        .send()
        .unwrap();
    assert_eq!(posted.status().as_u16(), 303);
    let (_, html) = page(&server, &cookie, &format!("/users/{}/devices", awa.id));
    assert!(html.contains("révoqué") && !html.contains("/revoke\""), "{html}");
    assert!(matches!(phone.try_sync(), Err(SyncError::Transport(TransportError::DeviceRevoked(_)))));
}
