//! The relay's protections against clients that ask too much, on the real server on
//! loopback: login throttles (per account with a growing wait, per address, both answered
//! 429 with `Retry-After`, failed logins audited, unknown names as slow as wrong passwords);
//! the decoding budgets of a sync round (one survey over its budget refused on its own, a
//! request over its total refused whole, a device over its minute told to wait); bounded
//! lists; slow clients dropped (headers, then bodies) while honest devices sync; a round past
//! its deadline stopped; zip bombs and oversized text refused; approval that means
//! something; and a survey damaged on disk skipped everywhere and shown to admins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    Device, PASSWORD, TestServer, household_form, http, page, pending, post_sync, push_request, raw, session,
    sync_round,
};
use serde_json::{Value as Json, json};
use terrain_core::intake::Budget;
use terrain_core::sync::wire::{self, Ack, PushedSurvey, SyncRequest, WantedSurvey};
use terrain_core::{AnswerPath, Role, Value};
use terrain_server::Settings;
use terrain_services::Rate;

const VERSION: &str = "2026110101";

fn path(p: &str) -> AnswerPath {
    p.parse().unwrap()
}

fn login(server: &TestServer, user: &str, password: &str) -> reqwest::blocking::Response {
    http()
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({"username": user, "password": password, "device_id": "throttle-test"}))
        .send()
        .unwrap()
}

fn retry_after(response: &reqwest::blocking::Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

fn audit(server: &TestServer, admin: &str) -> Vec<Json> {
    http()
        .get(format!("{}/api/v1/audit?limit=10000", server.url))
        .bearer_auth(admin)
        .send()
        .unwrap()
        .json::<Json>()
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn failed_logins_wait_longer_each_time_are_audited_and_cost_what_a_wrong_password_costs() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TestServer::settings();
    settings.services.logins.free_failures = 2;
    settings.services.logins.first_delay = Duration::from_secs(1);
    let server = TestServer::start_with(dir.path(), settings);
    server.user("awa", Role::Enumerator, Some(0));
    let admin = server.token("admin", "desk");

    for _ in 0..3 {
        assert_eq!(login(&server, "awa", "not the password").status(), 401);
    }
    // Past the free failures, the account waits, even with the right password.
    let throttled = login(&server, "awa", PASSWORD);
    assert_eq!(throttled.status(), 429);
    assert!(retry_after(&throttled) >= 1);
    let body: Json = throttled.json().unwrap();
    assert_eq!(body["code"], "too_many");
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(login(&server, "awa", PASSWORD).status(), 200, "the wait is over");
    // A success forgets the failures.
    assert_eq!(login(&server, "awa", "not the password").status(), 401);
    assert_eq!(login(&server, "awa", PASSWORD).status(), 200);

    let failed: Vec<Json> = audit(&server, &admin).into_iter().filter(|e| e["action"] == "auth.login_failed").collect();
    assert!(failed.len() >= 4, "failed logins are audited: {failed:?}");
    assert!(failed.iter().all(|e| e["detail"].as_str().unwrap().contains("awa")));

    // An unknown name costs what a wrong password costs: the same hash is computed.
    let time = |user: &str| {
        let mut times: Vec<Duration> = (0..5)
            .map(|i| {
                let t = Instant::now();
                assert_eq!(login(&server, &format!("{user}{}", i % 2), "not the password").status(), 401);
                t.elapsed()
            })
            .collect();
        times.sort();
        times[2]
    };
    server.user("known0", Role::Enumerator, None);
    server.user("known1", Role::Enumerator, None);
    let (unknown, known) = (time("nobody"), time("known"));
    assert!(unknown * 2 > known && known * 2 > unknown, "unknown {unknown:?} against wrong password {known:?}");
}

#[test]
fn one_address_may_try_only_so_often() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TestServer::settings();
    settings.services.logins.per_address = Rate { burst: 3, per_second: 0.01 };
    let server = TestServer::start_with(dir.path(), settings);
    for _ in 0..3 {
        assert_eq!(login(&server, "nobody", "whatever at all").status(), 401);
    }
    let refused = login(&server, "admin", PASSWORD);
    assert_eq!(refused.status(), 429, "the address is out of attempts, whatever the account");
    assert!(retry_after(&refused) > 10);
}

#[test]
fn a_token_may_make_only_so_many_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TestServer::settings();
    settings.services.requests = Rate { burst: 5, per_second: 0.1 };
    let server = TestServer::start_with(dir.path(), settings);
    let token = server.token("admin", "desk");
    let statuses: Vec<u16> = (0..7)
        .map(|_| http().get(format!("{}/api/v1/me", server.url)).bearer_auth(&token).send().unwrap().status().as_u16())
        .collect();
    assert_eq!(statuses[..5], [200; 5]);
    assert_eq!(statuses[5..], [429; 2]);
    let other = server.token("admin", "another-desk");
    let fresh = http().get(format!("{}/api/v1/me", server.url)).bearer_auth(&other).send().unwrap();
    assert_eq!(fresh.status(), 200, "another token is not held back");
}

/// A server with an enumerator's phone, for the sync budgets.
fn phone_server(settings: Settings) -> (tempfile::TempDir, TestServer, Device) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), settings);
    server.user("enum-kindia", Role::Enumerator, Some(0));
    server.user("sup-kindia", Role::Supervisor, Some(0));
    let phone = Device::login(&server.url, dir.path(), "enum-kindia", Role::Enumerator, "phone");
    phone.store.save_form(&household_form()).unwrap();
    (dir, server, phone)
}

fn survey(phone: &Device, answers: usize) -> String {
    let id = phone.store.create_survey("household", VERSION).unwrap();
    for i in 0..answers {
        phone.store.set_answer(&id, &path("village"), Value::Text(format!("Village {i}"))).unwrap();
    }
    id
}

#[test]
fn a_survey_over_its_budget_is_refused_alone_and_the_rest_of_the_round_commits() {
    let mut settings = TestServer::settings();
    settings.services.sync.survey = Budget { ops: 60, ..Budget::WRITE };
    let (_dir, server, phone) = phone_server(settings);
    let small = survey(&phone, 1);
    let big = survey(&phone, 80);
    let response = sync_round(&server.url, &phone.token, &push_request(pending(&phone.store)));
    let acks: Vec<(String, &Ack)> =
        pending(&phone.store).iter().map(|p| wire::survey_id_string(&p.survey)).zip(response.acks.iter()).collect();
    for (id, ack) in acks {
        if id == small {
            assert_eq!(*ack, Ack::Stored);
        } else {
            assert_eq!(id, big);
            let Ack::Refused { status, code, message } = ack else { panic!("{ack:?}") };
            assert_eq!((*status, code.as_str()), (413, "too_large"));
            assert!(message.contains(&big) && message.contains("operations"), "{message}");
        }
    }
    assert!(server.backend().heads(&small).unwrap().is_some());
    assert!(server.backend().heads(&big).unwrap().is_none(), "nothing of the refused survey is kept");

    // The accepted push is in the audit log: who, from which device, what it carried.
    let admin = server.token("admin", "desk");
    let pushes: Vec<Json> = audit(&server, &admin).into_iter().filter(|e| e["action"] == "sync.push").collect();
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(pushes[0]["user"], "enum-kindia");
    let detail: Json = serde_json::from_str(pushes[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["device"].as_str(), phone.store.device_key().unwrap().as_deref());
    assert_eq!((detail["surveys"].as_u64(), detail["refused"].as_u64()), (Some(1), Some(1)));
    assert!(detail["changes"].as_u64().unwrap() >= 1, "{detail}");
}

#[test]
fn a_request_over_its_total_is_refused_whole_and_a_device_over_its_minute_waits() {
    let mut settings = TestServer::settings();
    settings.services.sync.request_ops = 100;
    let (_dir, server, phone) = phone_server(settings);
    for _ in 0..4 {
        survey(&phone, 30);
    }
    let (status, body) =
        post_sync(&server.url, &phone.token, wire::encode(&push_request(pending(&phone.store))).unwrap());
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("smaller batches"));
    assert!(server.backend().feed(0, 100, &Default::default()).unwrap().is_empty());

    let mut settings = TestServer::settings();
    settings.services.sync.device_decoded_bytes_per_minute = 20_000;
    let (_dir, server, phone) = phone_server(settings);
    survey(&phone, 50);
    let first = post_sync(&server.url, &phone.token, wire::encode(&push_request(pending(&phone.store))).unwrap());
    assert_eq!(first.0, 200);
    survey(&phone, 50);
    let second = http()
        .post(format!("{}/api/v1/sync", server.url))
        .bearer_auth(&phone.token)
        .body(wire::encode(&push_request(pending(&phone.store))).unwrap())
        .send()
        .unwrap();
    assert_eq!(second.status(), 429);
    assert!(retry_after(&second) >= 1);
}

#[test]
fn refusing_bombs_is_charged_to_the_request_and_to_the_device() {
    // Each survey: a document whose compressed column inflates past any survey's budget
    // (the walk inflates it up to the budget to find out).
    let bomb = || {
        let mut parts = terrain_forge::Document::parse(&terrain_forge::attacks::sample(5).save()).unwrap().inflated();
        let value = parts.op_columns.iter_mut().find(|c| c.spec & 0b111 == terrain_forge::col::VALUE).unwrap();
        value.spec |= terrain_forge::col::DEFLATE;
        value.data = terrain_forge::deflated_zeros(16 << 20);
        parts.encode()
    };
    let survey = |i: u32| {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        PushedSurvey { survey: id, base: Vec::new(), heads: Vec::new(), changes: bomb() }
    };
    let mut settings = TestServer::settings();
    settings.services.sync.request_decoded_bytes = 3 * settings.services.sync.survey.decoded_bytes;
    settings.services.sync.device_decoded_bytes_per_minute = 5 * settings.services.sync.survey.decoded_bytes;
    let (_dir, server, phone) = phone_server(settings);
    // Two bombs fit in what a request may walk: each is refused on its own.
    let (status, body) =
        post_sync(&server.url, &phone.token, wire::encode(&push_request(vec![survey(1), survey(2)])).unwrap());
    assert_eq!(status, 200);
    let response: wire::SyncResponse = wire::decode(&body).unwrap();
    assert!(response.acks.iter().all(|a| matches!(a, Ack::Refused { status: 413, .. })), "{:?}", response.acks);
    // Five do not: the request stops at its budget, whatever the count of surveys.
    let (status, body) =
        post_sync(&server.url, &phone.token, wire::encode(&push_request((3..8).map(survey).collect())).unwrap());
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    // The device has now been charged five surveys' budgets in the minute: it waits.
    let (status, _) = post_sync(&server.url, &phone.token, wire::encode(&push_request(vec![survey(9)])).unwrap());
    assert_eq!(status, 429);
}

#[test]
fn every_list_of_a_sync_request_is_bounded() {
    let mut settings = TestServer::settings();
    settings.services.sync.max_want = 10;
    settings.services.sync.max_heads = 4;
    let (_dir, server, phone) = phone_server(settings);
    let want: Vec<WantedSurvey> = (0..11u8).map(|i| WantedSurvey { survey: [i; 16], heads: Vec::new() }).collect();
    let request = SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        push: Vec::new(),
        want,
        max_pull_bytes: 1 << 20,
        epoch: 0,
        push_entities: Vec::new(),
        want_entities: Vec::new(),
    };
    let (status, body) = post_sync(&server.url, &phone.token, wire::encode(&request).unwrap());
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    let want = vec![WantedSurvey { survey: [1; 16], heads: vec![[7; 32]; 5] }];
    let request = SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        push: Vec::new(),
        want,
        max_pull_bytes: 1 << 20,
        epoch: 0,
        push_entities: Vec::new(),
        want_entities: Vec::new(),
    };
    assert_eq!(post_sync(&server.url, &phone.token, wire::encode(&request).unwrap()).0, 413);
    let too_many: Vec<String> = (0..1001).map(|i| format!("s{i}")).collect();
    let admin = server.token("admin", "desk");
    let bulk = http()
        .post(format!("{}/api/v1/reviews", server.url))
        .bearer_auth(&admin)
        .json(&json!({"surveys": too_many, "action": "approve"}))
        .send()
        .unwrap();
    assert_eq!(bulk.status(), 413);
}

#[test]
fn a_round_past_its_deadline_stops_and_tells_the_device_to_come_back() {
    let (_dir, server, phone) = phone_server(TestServer::settings());
    survey(&phone, 1);
    let services = &server.state.services;
    let auth = services.authenticate(&phone.token).unwrap();
    let request = push_request(pending(&phone.store));
    let device = auth.scope.device().unwrap();
    let err = services.sync(&auth.scope, &device, request, Instant::now()).unwrap_err();
    assert_eq!(err.code(), "busy");
    assert!(server.backend().feed(0, 10, &Default::default()).unwrap().is_empty(), "nothing was done");
}

/// How long until the server closes `stream` (reads until EOF or an error).
fn closed_after(mut stream: TcpStream, trickle: Option<Duration>) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(every) = trickle {
            // Keep sending, slower than any honest client.
            if stream.write_all(b"x").is_err() {
                return start.elapsed();
            }
            std::thread::sleep(every);
            stream.set_nonblocking(true).unwrap();
            if let Ok(0) = stream.read(&mut buf) {
                return start.elapsed();
            }
            stream.set_nonblocking(false).unwrap();
            if start.elapsed() > Duration::from_secs(40) {
                return start.elapsed();
            }
            continue;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn slow_clients_are_dropped_while_honest_devices_sync() {
    let mut settings = TestServer::settings();
    settings.header_timeout = Duration::from_secs(2);
    settings.body_window = Duration::from_secs(1);
    settings.body_min_bytes = 100;
    let (_dir, server, phone) = phone_server(settings);
    // Headers that never end, and a body that trickles in.
    let slow_headers: Vec<TcpStream> =
        (0..20).map(|_| raw(server.addr, "POST /api/v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")).collect();
    let slow_body = raw(
        server.addr,
        &format!(
            "POST /api/v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Length: 100000\r\n\r\n",
            phone.token
        ),
    );
    // Meanwhile an honest phone syncs.
    survey(&phone, 3);
    let report = phone.sync();
    assert!(report.refused.is_empty() && report.progress.pushed == 1, "{report:?}");
    let body = std::thread::spawn(move || closed_after(slow_body, Some(Duration::from_millis(300))));
    for stream in slow_headers {
        let waited = closed_after(stream, None);
        assert!(waited < Duration::from_secs(8), "a slowloris connection stayed {waited:?}");
    }
    let waited = body.join().unwrap();
    assert!(waited < Duration::from_secs(10), "a trickling body stayed {waited:?}");
    assert!(phone.sync().refused.is_empty());
}

#[test]
fn a_zip_bomb_form_and_oversized_text_are_refused_with_a_4xx() {
    let (_dir, server, phone) = phone_server(TestServer::settings());
    let admin = server.token("admin", "desk");
    // An .xlsx whose shared strings unpack to 200 MiB.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("xl/sharedStrings.xml", options).unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..200 {
        zip.write_all(&block).unwrap();
    }
    let bomb = zip.finish().unwrap().into_inner();
    assert!(bomb.len() < 1 << 20);
    let response = http()
        .post(format!("{}/api/v1/projects/{}/forms", server.url, server.project))
        .bearer_auth(&admin)
        .header("content-type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .body(bomb)
        .send()
        .unwrap();
    assert_eq!(response.status(), 422);
    assert!(response.text().unwrap().contains("unpacks to more than"));

    // A comment and a correction too long for a survey.
    let id = survey(&phone, 1);
    phone.sync();
    let sup = server.token("sup-kindia", "tablet");
    let long = "é".repeat(2_001);
    let review = http()
        .post(format!("{}/api/v1/surveys/{id}/review", server.url))
        .bearer_auth(&sup)
        .json(&json!({"action": "comment", "comment": long}))
        .send()
        .unwrap();
    assert_eq!(review.status(), 422);
    assert!(review.text().unwrap().contains("2000 characters"));
    let fix = http()
        .put(format!("{}/api/v1/surveys/{id}/answers", server.url))
        .bearer_auth(&sup)
        .json(&json!({"path": "head_name", "value": {"type": "text", "value": "x".repeat(10_001)}}))
        .send()
        .unwrap();
    assert_eq!(fix.status(), 422);
}

fn review(server: &TestServer, token: &str, id: &str, action: &str) {
    let status = http()
        .post(format!("{}/api/v1/surveys/{id}/review", server.url))
        .bearer_auth(token)
        .json(&json!({"action": action}))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 204);
}

#[test]
fn a_change_after_approval_shows_and_a_frozen_project_refuses_it() {
    let (_dir, server, phone) = phone_server(TestServer::settings());
    let sup = server.token("sup-kindia", "tablet");
    let admin = server.token("admin", "desk");
    let id = survey(&phone, 1);
    phone.sync();
    review(&server, &sup, &id, "approve");
    phone.sync();
    // The enumerator changes an answer of the approved survey.
    phone.store.set_answer(&id, &path("head_name"), Value::Text("Fatoumata".into())).unwrap();
    assert!(phone.sync().refused.is_empty());
    let summary = server.backend().survey_summary(&id).unwrap().unwrap();
    assert_eq!(summary.review_status.as_str(), "changed_after_approval");
    let changed = server.backend().changed_since_approval(&id).unwrap().unwrap();
    assert_eq!(changed, ["head_name"]);
    assert!(audit(&server, &admin).iter().any(|e| e["action"] == "survey.changed_after_approval"));
    // The phone learns it too, and the supervisor approves again.
    phone.sync();
    assert_eq!(phone.store.survey(&id).unwrap().review.status.as_str(), "changed_after_approval");
    review(&server, &sup, &id, "approve");

    // Where approved surveys are frozen, the change is refused and the phone told.
    let settings = http()
        .put(format!("{}/api/v1/projects/{}/settings", server.url, server.project))
        .bearer_auth(&admin)
        .json(&json!({"freeze_approved": true}))
        .send()
        .unwrap();
    assert_eq!(settings.status(), 204);
    phone.sync();
    let heads = server.backend().heads(&id).unwrap();
    phone.store.set_answer(&id, &path("head_name"), Value::Text("Mariama".into())).unwrap();
    let report = phone.sync();
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(report.refused[0].1.contains("frozen"), "{:?}", report.refused);
    assert_eq!(server.backend().heads(&id).unwrap(), heads, "nothing of the refused change is kept");
    assert_eq!(server.backend().survey_summary(&id).unwrap().unwrap().review_status.as_str(), "approved");
}

#[test]
fn a_survey_damaged_on_disk_is_skipped_everywhere_and_shown_to_admins() {
    let (dir, server, phone) = phone_server(TestServer::settings());
    let good = survey(&phone, 2);
    let bad = survey(&phone, 2);
    phone.sync();
    // The bad survey's stored bytes are damaged behind the server's back.
    let db = rusqlite::Connection::open(dir.path().join("surveys.db")).unwrap();
    let kept: Vec<u8> =
        db.query_row("SELECT snapshot FROM surveys WHERE survey_id = ?1", [&bad], |r| r.get(0)).unwrap();
    db.execute("CREATE TABLE kept_chunks AS SELECT * FROM survey_chunks WHERE survey_id = ?1", [&bad]).unwrap();
    db.execute("UPDATE surveys SET snapshot = x'856f4a83deadbeef01ff' WHERE survey_id = ?1", [&bad]).unwrap();
    db.execute("DELETE FROM survey_chunks WHERE survey_id = ?1", [&bad]).unwrap();
    drop(db);
    let admin = server.token("admin", "desk");
    // A new device of the supervisor pulls everything: the good survey, and no failure.
    let sup = Device::login(&server.url, dir.path(), "sup-kindia", Role::Supervisor, "new-tablet");
    let report = sup.sync();
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(sup.store.summary(&good).unwrap().is_some());
    assert!(sup.store.summary(&bad).unwrap().is_none());
    // Exports read the projection's row, which still holds what the survey said when it
    // was last written: analysts lose nothing of it.
    let export = || {
        let export = http()
            .get(format!("{}/api/v1/forms/household/export?format=ndjson&review=any", server.url))
            .bearer_auth(&admin)
            .send()
            .unwrap();
        assert_eq!(export.status(), 200);
        export.text().unwrap()
    };
    let text = export();
    assert!(text.contains(&good) && text.contains(&bad));
    // Without its row, an export reads the document: it leaves the survey out, and goes on
    // with the others. Lists still show it (from its metadata).
    let db = rusqlite::Connection::open(dir.path().join("surveys.db")).unwrap();
    db.execute("DELETE FROM survey_projections WHERE survey_id = ?1", [&bad]).unwrap();
    drop(db);
    let text = export();
    assert!(text.contains(&good) && !text.contains(&bad));
    let list: Json =
        http().get(format!("{}/api/v1/surveys", server.url)).bearer_auth(&admin).send().unwrap().json().unwrap();
    assert_eq!(list["total"], 2);
    // Reading it says so plainly; admins see it as needing attention, audited once.
    let one = http().get(format!("{}/api/v1/surveys/{bad}", server.url)).bearer_auth(&admin).send().unwrap();
    assert_eq!(one.status(), 422);
    let attention: Json =
        http().get(format!("{}/api/v1/attention", server.url)).bearer_auth(&admin).send().unwrap().json().unwrap();
    let listed: Vec<&str> = attention.as_array().unwrap().iter().map(|f| f["survey_id"].as_str().unwrap()).collect();
    assert_eq!(listed, [bad.as_str()]);
    let audited = audit(&server, &admin).iter().filter(|e| e["action"] == "survey.unreadable").count();
    assert_eq!(audited, 1);
    // The dashboard's pages answer for the others, and administration shows the bad one.
    let cookie = session(&server, "admin");
    for path in ["/surveys", "/progress", "/map", &format!("/surveys/{good}")] {
        let (status, html) = page(&server, &cookie, path);
        assert_eq!(status, 200, "{path}: {html}");
    }
    let (status, html) = page(&server, &cookie, "/admin");
    assert_eq!(status, 200);
    let attention = &html[html.find("id=\"attention\"").unwrap()..];
    assert!(attention.contains(&bad), "{attention}");

    // Restored from a backup, it reads again and leaves the list.
    let db = rusqlite::Connection::open(dir.path().join("surveys.db")).unwrap();
    db.execute("UPDATE surveys SET snapshot = ?2 WHERE survey_id = ?1", rusqlite::params![&bad, kept]).unwrap();
    db.execute("INSERT INTO survey_chunks SELECT * FROM kept_chunks", []).unwrap();
    drop(db);
    let attention: Json =
        http().get(format!("{}/api/v1/attention", server.url)).bearer_auth(&admin).send().unwrap().json().unwrap();
    assert_eq!(attention, json!([]), "a survey that reads again needs no attention");
}
