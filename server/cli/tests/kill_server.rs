//! The real `terrain serve` process, killed with SIGKILL in the middle of a sync and
//! restarted on the same data: the device resumes, and the server ends with every survey
//! exactly once, at the device's heads.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Device, PASSWORD, household_form};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::sync::{SyncError, SyncOptions};
use terrain_core::{AnswerPath, Author, Role, Store, Value};

const TERRAIN: &str = env!("CARGO_BIN_EXE_terrain");

fn start(data: &Path, port: u16) -> Child {
    let mut child = Command::new(TERRAIN)
        .args(["serve", "--data", data.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz")).is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn admin_api(url: &str, token: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let response =
        reqwest::blocking::Client::new().post(format!("{url}{path}")).bearer_auth(token).json(&body).send().unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().unwrap_or(serde_json::Value::Null)
}

#[test]
fn a_server_killed_mid_sync_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let status = Command::new(TERRAIN)
        .args(["admin", "create-user", "--data", data.to_str().unwrap(), "--username", "admin", "--role", "admin"])
        .env("TERRAIN_PASSWORD", PASSWORD)
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = start(&data, port);

    let admin = terrain_core::sync::Session::login(&url, "admin", PASSWORD, "laptop").unwrap().token().to_owned();
    let project = admin_api(&url, &admin, "/api/v1/projects", serde_json::json!({"name": "pilot"}));
    let project = project["id"].as_i64().unwrap();
    let team = admin_api(&url, &admin, &format!("/api/v1/projects/{project}/teams"), serde_json::json!({"name": "z"}));
    let user = admin_api(
        &url,
        &admin,
        "/api/v1/users",
        serde_json::json!({"username": "awa", "password": PASSWORD, "role": "enumerator"}),
    );
    admin_api(
        &url,
        &admin,
        &format!("/api/v1/teams/{}/members", team["id"]),
        serde_json::json!({"user_id": user["id"]}),
    );
    let published = reqwest::blocking::Client::new()
        .post(format!("{url}/api/v1/projects/{project}/forms"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(household_form().to_json())
        .send()
        .unwrap();
    assert_eq!(published.status(), 201);

    let phone = Device::login(&url, dir.path(), "awa", Role::Enumerator, "phone");
    phone.fetch_forms();
    let mut ids = Vec::new();
    for i in 0..300 {
        let id = phone.store.create_survey("household", "2026110101").unwrap();
        phone.store.set_answer(&id, &"hh_size".parse::<AnswerPath>().unwrap(), Value::Integer(i % 40 + 1)).unwrap();
        ids.push(id);
    }

    // Small batches make the sync many round trips long; kill the server during it.
    let options = SyncOptions { push_batch_bytes: 4 << 10, ..SyncOptions::default() };
    let mut rng = StdRng::seed_from_u64(0x9_0004);
    let mut kills = 0;
    for _ in 0..3 {
        let before = phone.store.pending_count().unwrap();
        if before == 0 {
            break;
        }
        let delay = Duration::from_millis(rng.random_range(30..200));
        let syncing = std::thread::scope(|s| {
            let handle = s.spawn(|| phone.try_sync_with(&options));
            std::thread::sleep(delay);
            server.kill().unwrap(); // SIGKILL
            server.wait().unwrap();
            kills += 1;
            handle.join().unwrap()
        });
        assert!(matches!(syncing, Err(SyncError::Transport(_)) | Ok(_)), "{syncing:?}");
        server = start(&data, port);
    }
    assert!(kills >= 1);
    let report = phone.try_sync_with(&options).unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(phone.store.pending_count().unwrap(), 0);
    server.kill().unwrap();
    server.wait().unwrap();

    // The server's survey store: every survey once, at the phone's heads.
    let stored = Store::open(data.join("surveys.db"), Author::new("check", "test", Role::Admin)).unwrap();
    let all = stored.list(&terrain_core::SurveyQuery { limit: Some(10_000), ..Default::default() }).unwrap();
    assert_eq!(all.len(), 300);
    for id in &ids {
        assert_eq!(stored.heads(id).unwrap(), phone.store.heads(id).unwrap(), "{id}");
    }
    let check: String = rusqlite::Connection::open(data.join("surveys.db"))
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
