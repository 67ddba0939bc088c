//! Saved exports against the real server: an administrator saves an export of a form and
//! a spreadsheet refreshes from its stable URL with its token: all of it each time, or,
//! incremental, what changed since the previous download. The token opens that export
//! and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, TestServer, http};
use serde_json::{Value as Json, json};
use terrain_core::{AnswerPath, Role, Value};

fn save(server: &TestServer, token: &str, body: Json) -> (u16, Json) {
    let resp = http()
        .post(format!("{}/api/v1/projects/{}/saved-exports", server.url, server.project))
        .bearer_auth(token)
        .json(&body)
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.json().unwrap())
}

/// Downloads `url`; returns the status and the surveys it held.
fn refresh(url: &str) -> (u16, Option<u64>) {
    let resp = http().get(url).send().unwrap();
    let surveys = resp.headers().get("terrain-surveys").map(|v| v.to_str().unwrap().parse().unwrap());
    (resp.status().as_u16(), surveys)
}

#[test]
fn a_spreadsheet_refreshes_from_a_saved_exports_url_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    server.user("fanta", Role::Analyst, None);
    let admin = server.token("admin", "laptop");
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    phone.fetch_forms();
    let ids: Vec<String> = (0..3)
        .map(|i| {
            let id = phone.store.create_survey("household", "2026110101").unwrap();
            phone.store.set_answer(&id, &AnswerPath::top("village"), Value::Text(format!("v{i}"))).unwrap();
            id
        })
        .collect();
    phone.sync();

    // Only administrators save exports, of their project's forms, with filters that work.
    let analyst = server.token("fanta", "laptop");
    assert_eq!(save(&server, &analyst, json!({"name": "x", "form_id": "household"})).0, 403);
    let (status, body) = save(&server, &admin, json!({"name": "x", "form_id": "household", "review": "finished"}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(save(&server, &admin, json!({"name": "x", "form_id": "nope"})).0, 404);

    let (status, full) = save(
        &server,
        &admin,
        json!({"name": "Kindia, every week", "form_id": "household", "review": "any", "format": "csv"}),
    );
    assert_eq!(status, 201, "{full}");
    let (status, incremental) = save(
        &server,
        &admin,
        json!({"name": "Kindia, what changed", "form_id": "household", "review": "any", "format": "ndjson", "incremental": true}),
    );
    assert_eq!(status, 201);
    let url = |e: &Json| format!("{}?token={}", e["url"].as_str().unwrap(), e["token"].as_str().unwrap());

    // A full export holds everything each time; an incremental one what changed since.
    assert_eq!(refresh(&url(&full)), (200, Some(3)));
    assert_eq!(refresh(&url(&full)), (200, Some(3)));
    assert_eq!(refresh(&url(&incremental)), (200, Some(3)));
    assert_eq!(refresh(&url(&incremental)), (200, Some(0)));
    phone.store.set_answer(&ids[1], &AnswerPath::top("hh_size"), Value::Integer(7)).unwrap();
    phone.sync();
    let resp = http().get(url(&incremental)).send().unwrap();
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let text = resp.text().unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains(&ids[1]));
    // `since` asks again from a cursor of one's own.
    assert_eq!(refresh(&format!("{}&since=0", url(&incremental))), (200, Some(3)));

    // The token as Basic's password works too; it opens that export only, and no API.
    let (export_url, token) = (full["url"].as_str().unwrap(), full["token"].as_str().unwrap());
    let resp = http().get(export_url).basic_auth("excel", Some(token)).send().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let other = format!("{}?token={token}", incremental["url"].as_str().unwrap());
    assert_eq!(refresh(&other).0, 401);
    assert_eq!(http().get(format!("{}/api/v1/me", server.url)).bearer_auth(token).send().unwrap().status(), 401);
    assert_eq!(refresh(export_url).0, 401, "no token");

    // Listed without tokens, then removed: its URL stops working.
    let list: Json = http()
        .get(format!("{}/api/v1/projects/{}/saved-exports", server.url, server.project))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0].get("token").is_none());
    let resp = http()
        .delete(format!("{}/api/v1/projects/{}/saved-exports/{}", server.url, server.project, full["id"]))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(refresh(&url(&full)).0, 401);
    let actions: Vec<String> = server.backend().audit_log(1000).unwrap().into_iter().map(|e| e.action).collect();
    for action in ["saved_export.create", "saved_export.download", "saved_export.delete"] {
        assert!(actions.iter().any(|a| a == action), "{action}");
    }
}
