//! The review workflow against the real server on loopback: review states, send-backs that
//! reach the enumerator's device, fixes that merge with corrections, conflicts settled by a
//! supervisor, bulk actions, narrowed and paged lists, and the audit log as CSV.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, TestServer, http};
use serde_json::{Value as Json, json};
use terrain_core::survey::{Answer, ReviewStatus};
use terrain_core::{AnswerPath, Role, Value};

fn p(s: &str) -> AnswerPath {
    s.parse().unwrap()
}

fn post(server: &TestServer, token: &str, path: &str, body: Json) -> (u16, Json) {
    let r = http().post(format!("{}{path}", server.url)).bearer_auth(token).json(&body).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Json::Null))
}

fn get(server: &TestServer, token: &str, path: &str) -> (u16, Json) {
    let r = http().get(format!("{}{path}", server.url)).bearer_auth(token).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Json::Null))
}

fn put(server: &TestServer, token: &str, path: &str, body: Json) -> u16 {
    http().put(format!("{}{path}", server.url)).bearer_auth(token).json(&body).send().unwrap().status().as_u16()
}

/// A filled, finalized household survey.
fn survey(device: &Device, village: &str, size: i64) -> String {
    let id = device.store.create_survey("household", "2026110101").unwrap();
    device.store.set_answer(&id, &p("village"), Value::Text(village.into())).unwrap();
    device.store.set_answer(&id, &p("hh_size"), Value::Integer(size)).unwrap();
    id
}

#[test]
fn a_send_back_reaches_the_phone_and_the_fix_merges_with_a_correction() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    server.user("moussa", Role::Supervisor, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    phone.fetch_forms();
    let sent_back = survey(&phone, "Kindia", 3);
    let approved = survey(&phone, "Friguiagbé", 6);
    phone.sync();
    let sup = server.token("moussa", "desk");

    // Received is automatic: nobody has reviewed the surveys yet.
    let (status, page) = get(&server, &sup, "/api/v1/surveys?review=received&sort=started&order=asc");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 2);

    let body = json!({"action": "send_back", "comment": "Only 3 people? Check the roster.", "question": "hh_size"});
    assert_eq!(post(&server, &sup, &format!("/api/v1/surveys/{sent_back}/review"), body).0, 204);
    // The supervisor also corrects another answer, before the enumerator's fix arrives.
    let correction = json!({"path": "village", "value": {"type": "text", "value": "Kindia-Centre"}});
    assert_eq!(put(&server, &sup, &format!("/api/v1/surveys/{sent_back}/answers"), correction), 204);
    assert_eq!(post(&server, &sup, &format!("/api/v1/surveys/{approved}/review"), json!({"action": "approve"})).0, 204);

    phone.sync();
    let review = phone.store.review(&sent_back).unwrap();
    assert_eq!(review.status, ReviewStatus::SentBack);
    assert_eq!(review.comments.len(), 1);
    assert_eq!(review.comments[0].author, "moussa");
    assert_eq!(review.comments[0].question.as_deref(), Some("hh_size"));
    phone.store.set_answer(&sent_back, &p("hh_size"), Value::Integer(7)).unwrap();
    phone.sync();

    let (_, json) = get(&server, &sup, &format!("/api/v1/surveys/{sent_back}"));
    assert_eq!(json["answers"]["hh_size"], 7, "the enumerator's fix");
    assert_eq!(json["answers"]["village"], "Kindia-Centre", "the supervisor's correction");
    assert_eq!(json["review"]["status"], "sent_back");
    let (_, history) = get(&server, &sup, &format!("/api/v1/surveys/{sent_back}/history?path=village"));
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2, "the original value and the correction: {history:?}");
    assert_eq!(history[0]["author"]["user"], "awa");
    assert_eq!(history[1]["author"]["user"], "moussa");

    let (_, approved_page) = get(&server, &sup, "/api/v1/surveys?review=approved");
    let ids: Vec<_> = approved_page["items"].as_array().unwrap().iter().map(|i| i["survey_id"].clone()).collect();
    assert_eq!(ids, [json!(approved)]);

    // Every action is in the audit log, which exports as CSV.
    let admin = server.token("admin", "desk");
    let csv = http()
        .get(format!("{}/api/v1/audit?format=csv", server.url))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(csv.starts_with("at,user,action,survey_id,detail"));
    for action in ["review.send_back", "survey.correct", "review.approve"] {
        assert!(csv.contains(&format!("moussa,{action},")), "{action} missing from\n{csv}");
    }
    assert!(csv.contains("Check the roster"));
}

#[test]
fn concurrent_edits_of_one_answer_are_flagged_and_a_supervisor_settles_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    server.user("moussa", Role::Supervisor, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    phone.fetch_forms();
    let tablet = Device::login(&server.url, dir.path(), "moussa", Role::Supervisor, "tablet-moussa");
    let id = survey(&phone, "Labé", 4);
    phone.sync();
    tablet.sync();
    // Both change the household size while apart.
    phone.store.set_answer(&id, &p("hh_size"), Value::Integer(5)).unwrap();
    tablet.store.set_answer(&id, &p("hh_size"), Value::Integer(9)).unwrap();
    phone.sync();
    tablet.sync();

    let sup = server.token("moussa", "desk");
    let (_, flagged) = get(&server, &sup, "/api/v1/surveys?conflicts=true");
    assert_eq!(flagged["total"], 1);
    let (_, conflicts) = get(&server, &sup, &format!("/api/v1/surveys/{id}/conflicts"));
    let values: Vec<_> = conflicts[0]["values"].as_array().unwrap().iter().map(|v| v["value"].clone()).collect();
    assert_eq!(values.len(), 2, "{conflicts}");

    let settle = json!({"path": "hh_size", "value": {"type": "integer", "value": 5}});
    assert_eq!(put(&server, &sup, &format!("/api/v1/surveys/{id}/answers"), settle), 204);
    let (_, flagged) = get(&server, &sup, "/api/v1/surveys?conflicts=true");
    assert_eq!(flagged["total"], 0);
    phone.sync();
    assert!(phone.store.conflicts(&id).unwrap().is_empty());
    assert_eq!(phone.store.survey(&id).unwrap().answers.value("hh_size"), Some(&Value::Integer(5)));
    let history = phone.store.history(&id, &p("hh_size")).unwrap();
    assert_eq!(history.last().unwrap().value, Some(Answer::Value(Value::Integer(5))), "{history:#?}");
    let (_, audit) = get(&server, &server.token("admin", "desk"), "/api/v1/audit");
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "survey.resolve_conflict"));
}

#[test]
fn bulk_actions_lists_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    server.user("binta", Role::Enumerator, Some(1));
    server.user("moussa", Role::Supervisor, Some(0));
    let awa = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    awa.fetch_forms();
    let binta = Device::login(&server.url, dir.path(), "binta", Role::Enumerator, "phone-binta");
    binta.fetch_forms();
    let mine: Vec<String> = (0..7).map(|i| survey(&awa, "Kindia", i + 1)).collect();
    let other = survey(&binta, "Labé", 2);
    awa.sync();
    binta.sync();
    let sup = server.token("moussa", "desk");

    // The supervisor of team 0 sees awa's surveys only, page by page.
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let (status, page) = get(&server, &sup, &format!("/api/v1/surveys?limit=3&sort=enumerator&after={next}"));
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 7);
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["survey_id"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(n) => next = n.to_owned(),
            None => break,
        }
    }
    seen.sort();
    let mut expected = mine.clone();
    expected.sort();
    assert_eq!(seen, expected);
    let (_, team1) = get(&server, &sup, &format!("/api/v1/surveys?team={}", server.teams[1]));
    assert_eq!(team1["total"], 0, "another team's surveys stay hidden");

    // Bulk approval: the other team's survey is refused, the rest done.
    let mut ids: Vec<_> = mine[..5].to_vec();
    ids.push(other.clone());
    let (status, outcome) = post(&server, &sup, "/api/v1/reviews", json!({"surveys": ids, "action": "approve"}));
    assert_eq!(status, 200);
    assert_eq!(outcome["done"].as_array().unwrap().len(), 5);
    assert_eq!(outcome["failed"][0]["survey_id"], other.as_str());
    assert_eq!(outcome["failed"][0]["code"], "not_found");
    let (_, rejected) =
        post(&server, &sup, "/api/v1/reviews", json!({"surveys": [mine[5]], "action": "reject", "comment": "dup"}));
    assert_eq!(rejected["done"].as_array().unwrap().len(), 1);
    let (_, page) = get(&server, &sup, "/api/v1/surveys?review=approved,rejected");
    assert_eq!(page["total"], 6);
    let (_, page) = get(&server, &sup, "/api/v1/surveys?review=received");
    assert_eq!(page["total"], 1);

    // What is refused, and why.
    let enumerator = server.token("awa", "desk");
    let (status, body) =
        post(&server, &enumerator, &format!("/api/v1/surveys/{}/review", mine[6]), json!({"action": "approve"}));
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) =
        post(&server, &sup, &format!("/api/v1/surveys/{}/review", mine[6]), json!({"action": "send_back"}));
    assert_eq!(status, 400, "a send-back needs a comment: {body}");
    assert!(body["message"].as_str().unwrap().contains("comment"));
    for bad in ["review=finished", "sort=color", "from=yesterday", "after=nokey", "conflicts=maybe"] {
        let (status, body) = get(&server, &sup, &format!("/api/v1/surveys?{bad}"));
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid")), "{bad}: {body}");
    }
}
