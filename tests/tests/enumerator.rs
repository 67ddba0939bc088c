//! The enumerator's journey: a week offline in the villages, surveys queued on the phone,
//! then one sync over a 2G link (about 50 kbit/s each way, 300 ms one-way latency) through a
//! throttling proxy. Everything arrives, intact, and a supervisor's correction made
//! meanwhile comes back down the same slow link.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use terrain_core::form::Evaluator;
use terrain_core::survey::Answer;
use terrain_core::{AnswerPath, Role, SurveyQuery, Value};
use terrain_demo::field::{Device, Written};
use terrain_demo::http::desk;
use terrain_demo::pilot::Pilot;
use terrain_demo::proxy::{Link, Proxy};

#[test]
fn a_week_offline_then_a_2g_sync_delivers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let pilot = Pilot::start(&dir.path().join("server"), 2).unwrap();
    let team = &pilot.teams[0];
    let phone = Device::login(dir.path(), pilot.addr, &team.enumerators[0], Role::Enumerator, &[&team.form]).unwrap();
    let slow = Proxy::start(pilot.addr, Link::throttled(50, 300)).unwrap();
    let mut phone = Device { proxy: slow, ..phone };

    // Seven days in the field without a network: one or two interviews a day, and a
    // correction of an earlier survey now and then.
    let evaluator = Evaluator::new(&team.form);
    let mut rng = StdRng::seed_from_u64(8);
    let mut written: Vec<Written> = Vec::new();
    let mut ids = Vec::new();
    for day in 0..7 {
        for _ in 0..1 + day % 2 {
            ids.push(phone.collect(&evaluator, &mut rng, &mut written).unwrap());
        }
        if day % 3 == 2 {
            let id = ids[0].clone();
            let value = Value::Text(format!("Fatoumata Bah, revu le jour {day}"));
            phone.fix(&id, &AnswerPath::top("respondent_name"), value, &mut written).unwrap();
        }
    }
    assert_eq!(phone.store.pending_count().unwrap(), ids.len() as u64, "everything is queued");

    let started = Instant::now();
    let report = phone.sync().unwrap().expect("the slow link does not drop");
    let elapsed = started.elapsed();
    assert_eq!(report.progress.pushed, ids.len() as u64);
    assert_eq!(phone.store.pending_count().unwrap(), 0);
    // The link really was slow: each round trip pays twice the latency, and the bytes the
    // bandwidth.
    let bytes = phone.proxy.bytes();
    let floor = 0.6 * f64::from(report.progress.rounds) + bytes as f64 / 2.0 / 6250.0;
    assert!(elapsed.as_secs_f64() >= floor * 0.9, "{elapsed:?} for {bytes} B in {} rounds", report.progress.rounds);

    let backend = pilot.backend();
    for id in &ids {
        assert_eq!(backend.heads(id).unwrap().unwrap(), phone.store.heads(id).unwrap(), "{id} arrived whole");
    }
    for w in &written {
        let history = backend.history(&w.survey, &w.path).unwrap();
        assert!(
            history.iter().any(|e| e.value == Some(Answer::Value(w.value.clone()))),
            "{} {}: {:?} missing on the server",
            w.survey,
            w.path,
            w.value
        );
    }

    // The supervisor corrects an answer at the office; it comes down the same link.
    let desk = desk(&pilot.url, &team.supervisor).unwrap();
    let body = serde_json::json!({"path": "enumerator_name", "value": {"type": "text", "value": "Alpha Camara"}});
    desk.expect_ok("PUT", &format!("/api/v1/surveys/{}/answers", ids[1]), Some(&body)).unwrap();
    phone.sync().unwrap().expect("the slow link does not drop");
    let survey = phone.store.survey(&ids[1]).unwrap();
    assert_eq!(survey.answers.value("enumerator_name"), Some(&Value::Text("Alpha Camara".into())));
    assert_eq!(phone.store.list(&SurveyQuery::default()).unwrap().len(), ids.len());
    pilot.stop();
}
