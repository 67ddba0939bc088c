//! The supervisor's journey, through the HTTP API the dashboard uses: list what arrived,
//! approve in bulk, correct an answer, send a survey back with a comment; the enumerator's
//! phone shows the comment after a sync, the fix comes back, and the supervisor approves.
//! Other roles and other teams cannot do the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use terrain_core::form::Evaluator;
use terrain_core::{AnswerPath, Role, Value};
use terrain_demo::field::Device;
use terrain_demo::http;
use terrain_demo::pilot::Pilot;

#[test]
fn a_supervisor_reviews_from_the_api_and_the_enumerator_fixes_on_the_phone() {
    let dir = tempfile::tempdir().unwrap();
    let pilot = Pilot::start(&dir.path().join("server"), 4).unwrap();
    let team = &pilot.teams[0];
    let mut phone =
        Device::login(dir.path(), pilot.addr, &team.enumerators[0], Role::Enumerator, &[&team.form]).unwrap();
    let evaluator = Evaluator::new(&team.form);
    let mut rng = StdRng::seed_from_u64(3);
    let mut written = Vec::new();
    let ids: Vec<String> = (0..4).map(|_| phone.collect(&evaluator, &mut rng, &mut written).unwrap()).collect();
    phone.sync().unwrap().unwrap();

    let desk = http::desk(&pilot.url, &team.supervisor).unwrap();
    let (status, page) = desk.request("GET", "/api/v1/surveys?review=received", None).unwrap();
    assert_eq!(status, 200, "{page}");
    let mut listed: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|s| s["survey_id"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed, expected, "the supervisor sees the team's new surveys");

    // Two approved together, one corrected then approved, one sent back.
    let done = desk
        .expect_ok("POST", "/api/v1/reviews", Some(&json!({"surveys": [ids[0], ids[1]], "action": "approve"})))
        .unwrap();
    assert_eq!(done["done"].as_array().unwrap().len(), 2, "{done}");
    let fix = json!({"path": "enumerator_comments", "value": {"type": "text", "value": "Ménage visité deux fois"}});
    desk.expect_ok("PUT", &format!("/api/v1/surveys/{}/answers", ids[2]), Some(&fix)).unwrap();
    desk.expect_ok("POST", &format!("/api/v1/surveys/{}/review", ids[2]), Some(&json!({"action": "approve"}))).unwrap();
    let send_back = json!({"action": "send_back", "question": "respondent_name",
        "comment": "Le nom du répondant est incomplet."});
    desk.expect_ok("POST", &format!("/api/v1/surveys/{}/review", ids[3]), Some(&send_back)).unwrap();

    // Nobody else may: the enumerator cannot review, another team's supervisor cannot see.
    let enumerator_desk = http::desk(&pilot.url, &team.enumerators[0]).unwrap();
    let (status, _) = enumerator_desk
        .request("POST", &format!("/api/v1/surveys/{}/review", ids[3]), Some(&json!({"action": "approve"})))
        .unwrap();
    assert_eq!(status, 403);
    let other = http::desk(&pilot.url, &pilot.teams[2].supervisor).unwrap();
    let (status, _) = other
        .request("POST", &format!("/api/v1/surveys/{}/review", ids[3]), Some(&json!({"action": "approve"})))
        .unwrap();
    assert_eq!(status, 404, "another team's survey is not disclosed");

    // The phone shows the comment, the enumerator fixes, the supervisor approves.
    phone.sync().unwrap().unwrap();
    let review = phone.store.survey(&ids[3]).unwrap().review;
    assert_eq!(review.status.as_str(), "sent_back");
    assert_eq!(review.comments.len(), 1);
    assert_eq!(review.comments[0].question.as_deref(), Some("respondent_name"));
    assert_eq!(
        phone.store.survey(&ids[2]).unwrap().answers.value("enumerator_comments"),
        Some(&Value::Text("Ménage visité deux fois".into())),
        "the correction reached the phone"
    );
    phone
        .fix(&ids[3], &AnswerPath::top("respondent_name"), Value::Text("Mariama Sow Diallo".into()), &mut written)
        .unwrap();
    phone.sync().unwrap().unwrap();
    let (_, survey) = desk.request("GET", &format!("/api/v1/surveys/{}", ids[3]), None).unwrap();
    assert_eq!(survey["answers"]["respondent_name"], "Mariama Sow Diallo", "{survey}");
    desk.expect_ok("POST", &format!("/api/v1/surveys/{}/review", ids[3]), Some(&json!({"action": "approve"}))).unwrap();

    let (_, page) = desk.request("GET", "/api/v1/surveys?review=approved", None).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 4, "{page}");
    phone.sync().unwrap().unwrap();
    assert_eq!(phone.store.survey(&ids[3]).unwrap().review.status.as_str(), "approved");
    pilot.stop();
}
