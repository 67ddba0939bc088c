//! The analyst's journey: a nightly incremental export. Each night the analyst downloads
//! the approved surveys changed since the cursor the previous night's export returned, so
//! each survey is downloaded once after its approval, and a quiet night exports nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use terrain_core::Role;
use terrain_core::form::Evaluator;
use terrain_demo::field::Device;
use terrain_demo::http::{Session, desk};
use terrain_demo::pilot::Pilot;

/// One night's export: (surveys in it, the cursor to start from next night).
fn nightly(analyst: &Session, form: &str, since: u64) -> (u64, u64) {
    let (status, headers, body) =
        analyst.get_bytes(&format!("/api/v1/forms/{form}/export?format=csv&review=approved&since={since}")).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(body.starts_with(b"PK"), "the CSV export is a zip");
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).unwrap().1.parse::<u64>().unwrap();
    (header("terrain-surveys"), header("terrain-cursor"))
}

#[test]
fn a_nightly_incremental_export_downloads_each_approved_survey_once() {
    let dir = tempfile::tempdir().unwrap();
    let pilot = Pilot::start(&dir.path().join("server"), 2).unwrap();
    let team = &pilot.teams[0];
    let form = team.form.id.clone();
    let mut phone =
        Device::login(dir.path(), pilot.addr, &team.enumerators[0], Role::Enumerator, &[&team.form]).unwrap();
    let evaluator = Evaluator::new(&team.form);
    let mut rng = StdRng::seed_from_u64(21);
    let mut written = Vec::new();
    let supervisor = desk(&pilot.url, &team.supervisor).unwrap();
    let analyst = desk(&pilot.url, &pilot.analyst).unwrap();
    let mut day = |n: usize, approve: usize| {
        let ids: Vec<String> = (0..n).map(|_| phone.collect(&evaluator, &mut rng, &mut written).unwrap()).collect();
        phone.sync().unwrap().unwrap();
        let done = supervisor
            .expect_ok("POST", "/api/v1/reviews", Some(&json!({"surveys": &ids[..approve], "action": "approve"})))
            .unwrap();
        assert_eq!(done["done"].as_array().unwrap().len(), approve, "{done}");
    };

    day(3, 3);
    let (first, cursor) = nightly(&analyst, &form, 0);
    assert_eq!(first, 3);

    // Day two: four new surveys, three approved (one waits for review).
    day(4, 3);
    let (second, cursor2) = nightly(&analyst, &form, cursor);
    assert_eq!(second, 3, "only what was approved since last night");
    assert!(cursor2 > cursor);

    // A quiet night.
    let (third, cursor3) = nightly(&analyst, &form, cursor2);
    assert_eq!(third, 0);
    assert!(cursor3 >= cursor2);

    // The full export still has everything approved.
    let (all, _) = nightly(&analyst, &form, 0);
    assert_eq!(all, 6);
    pilot.stop();
}
