//! The projection (what exports and the map read instead of documents) against the
//! documents themselves: after random edits on several replicas and merges in any order,
//! every row is current and equal to the survey projected from its document now.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use rusqlite::Connection;
use terrain_core::store::Survey;
use terrain_core::survey::ReviewStatus;
use terrain_core::{AnswerPath, Author, Form, Role, Store, StoreError, SurveyQuery, Value};

const FORM: &str = "beguedo_slm";
const VERSION: &str = "2026110101";

fn beguedo() -> Form {
    Form::from_json(include_str!("fixtures/beguedo_slm.json")).unwrap()
}

fn open(path: &Path, author: Author) -> Store {
    let store = Store::open(path, author).unwrap();
    store.save_form(&beguedo()).unwrap();
    store
}

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

/// Surveys whose row is missing or behind their document, read from the file itself.
fn stale_rows(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM surveys s LEFT JOIN survey_projections p ON p.survey_id = s.survey_id
             WHERE p.heads IS NOT s.heads",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

fn all_ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store.list(&SurveyQuery::default()).unwrap().into_iter().map(|s| s.survey_id).collect();
    ids.sort();
    ids
}

/// Every survey of `store` reads the same from its row as from its document, and every row
/// is current (so the rows were read, not the documents behind them).
fn assert_projection_matches(store: &Store) {
    assert_eq!(stale_rows(store.path()), 0, "every row is current");
    let ids = all_ids(store);
    let projected = store.projected(&ids).unwrap();
    for (id, survey) in ids.iter().zip(projected) {
        let survey: Survey = survey.unwrap();
        assert_eq!(survey, store.projected_from_document(id).unwrap(), "survey {id}");
    }
    assert_conflicts_flagged(store);
}

/// The conflicts flag each write keeps (read with the answers) says what listing the
/// conflicts finds.
fn assert_conflicts_flagged(store: &Store) {
    for id in all_ids(store) {
        let flagged = store.summary(&id).unwrap().unwrap().has_conflicts;
        assert_eq!(flagged, !store.conflicts(&id).unwrap().is_empty(), "survey {id}");
    }
}

/// Sends everything `from` has that `to` lacks.
fn sync(from: &Store, to: &Store) {
    for id in all_ids(from) {
        let heads = match to.heads(&id) {
            Ok(heads) => heads,
            Err(StoreError::UnknownSurvey(_)) => Vec::new(),
            Err(e) => panic!("{e}"),
        };
        let bytes = from.changes_after(&id, &heads).unwrap();
        to.merge(&id, &bytes).unwrap();
    }
}

#[test]
fn only_relevant_answers_are_projected() {
    let dir = tempfile::tempdir().unwrap();
    let relay = open(&dir.path().join("relay.db"), Author::new("server", "relay", Role::Admin));
    relay.keep_projections().unwrap();
    let id = relay.create_survey(FORM, VERSION).unwrap();
    relay.set_answer(&id, &p("distance_river_m"), Value::Integer(50)).unwrap();
    relay.set_answer(&id, &p("bank_erosion"), Value::Choice("yes".into())).unwrap();
    relay.set_answer(&id, &p("erosion_severity"), Value::Choice("severe".into())).unwrap();
    let projected = |relay: &Store| relay.projected(std::slice::from_ref(&id)).unwrap().remove(0).unwrap();
    assert!(projected(&relay).answers.value("erosion_severity").is_some());
    // Far from the river, the whole erosion group is not relevant: its answers are kept in
    // the document but left out of what exports read.
    relay.set_answer(&id, &p("distance_river_m"), Value::Integer(5000)).unwrap();
    let survey = projected(&relay);
    assert!(survey.answers.value("bank_erosion").is_none() && survey.answers.value("erosion_severity").is_none());
    assert_eq!(survey.answers.value("distance_river_m"), Some(&Value::Integer(5000)));
    assert!(relay.survey(&id).unwrap().answers.value("erosion_severity").is_some());
    assert_projection_matches(&relay);
}

#[test]
fn a_store_that_starts_keeping_rows_reads_documents_until_upkeep_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let relay = open(&path, Author::new("server", "relay", Role::Admin));
    let ids: Vec<String> = (0..5).map(|_| relay.create_survey(FORM, VERSION).unwrap()).collect();
    for id in &ids {
        relay.set_answer(id, &p("farmer_name"), Value::Text("Awa".into())).unwrap();
    }
    assert_eq!(stale_rows(&path), 5, "no rows are kept by default");
    relay.keep_projections().unwrap();
    // Until upkeep runs, reads take the documents and say the same.
    let before: Vec<Survey> = relay.projected(&ids).unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(relay.refresh_projections(3).unwrap(), 3);
    assert_eq!(stale_rows(&path), 2);
    relay.upkeep(100).unwrap();
    assert_eq!(stale_rows(&path), 0);
    let after: Vec<Survey> = relay.projected(&ids).unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(before, after);
    assert_eq!(relay.refresh_projections(100).unwrap(), 0, "nothing left to do");
    // The choice is the store's: a new session keeps rows too.
    drop(relay);
    let relay = Store::open(&path, Author::new("server", "relay", Role::Admin)).unwrap();
    relay.set_answer(&ids[0], &p("farmer_name"), Value::Text("Fatim".into())).unwrap();
    assert_projection_matches(&relay);
}

#[test]
fn a_damaged_or_stale_row_is_never_believed_and_rebuilding_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let relay = open(&path, Author::new("server", "relay", Role::Admin));
    relay.keep_projections().unwrap();
    let ids: Vec<String> = (0..3).map(|_| relay.create_survey(FORM, VERSION).unwrap()).collect();
    for id in &ids {
        relay.set_answer(id, &p("farmer_name"), Value::Text("Awa".into())).unwrap();
    }
    let truth: Vec<Survey> = ids.iter().map(|id| relay.projected_from_document(id).unwrap()).collect();
    let conn = Connection::open(&path).unwrap();
    // Undecodable bytes at the right heads, and a good row of another survey at stale heads.
    conn.execute("UPDATE survey_projections SET data = x'01ffffffff' WHERE survey_id = ?1", [&ids[0]]).unwrap();
    conn.execute("UPDATE survey_projections SET heads = x'00' WHERE survey_id = ?1", [&ids[1]]).unwrap();
    let read: Vec<Survey> = relay.projected(&ids).unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(read, truth);
    let rebuilt = relay.rebuild_projections().unwrap();
    assert_eq!((rebuilt.surveys, rebuilt.differed), (3, 2));
    assert_projection_matches(&relay);
    assert_eq!(relay.rebuild_projections().unwrap().differed, 0);
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    /// A phone starts a survey.
    Create { phone: usize },
    /// A phone answers (or clears) a question of one of its surveys.
    Answer { phone: usize, survey: usize, answer: usize },
    /// The supervisor's tablet reviews one of its surveys.
    Review { survey: usize, status: usize },
    /// A replica and the relay exchange what the other lacks, in one direction first.
    Sync { replica: usize, push_first: bool },
}

/// Answers that move relevance: near or far from the river, erosion or not, techniques or
/// none (which adds or drops a repeat whose questions depend on a calculation).
fn answer(store: &Store, id: &str, which: usize) -> Result<(), StoreError> {
    let set = |path: &str, value: Value| store.set_answer(id, &p(path), value).map(drop);
    match which % 12 {
        0 => set("distance_river_m", Value::Integer(50)),
        1 => set("distance_river_m", Value::Integer(5000)),
        2 => set("bank_erosion", Value::Choice("yes".into())),
        3 => set("bank_erosion", Value::Choice("no".into())),
        4 => set("erosion_severity", Value::Choice("severe".into())),
        5 => set("erosion_length_m", Value::Decimal(12.5)),
        6 => set("farmer_name", Value::Text(format!("Awa {which}"))),
        7 => set("slm_techniques", Value::Choices(vec!["zai".into()])),
        8 => set("slm_techniques", Value::Choices(vec!["none".into()])),
        9 => {
            if store.survey(id)?.answers.repeat("technique_rep").is_empty() {
                store.add_repeat_instance(id, &p("technique_rep"), None)?;
            }
            set("technique_rep[0]/zai_pits_per_ha", Value::Integer(9000))
        }
        10 => store.clear_answer(id, &p("distance_river_m")).map(drop),
        _ => set(
            "plot_gps",
            Value::GeoPoint(terrain_core::GeoPoint { lat: 12.1, lon: -0.5, altitude: 0.0, accuracy: 5.0 }),
        ),
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0..2usize).prop_map(|phone| Step::Create { phone }),
        6 => (0..2usize, 0..4usize, 0..48usize).prop_map(|(phone, survey, answer)| Step::Answer { phone, survey, answer }),
        1 => (0..4usize, 0..4usize).prop_map(|(survey, status)| Step::Review { survey, status }),
        3 => (0..3usize, any::<bool>()).prop_map(|(replica, push_first)| Step::Sync { replica, push_first }),
    ]
}

fn run(steps: &[Step]) {
    let dir = tempfile::tempdir().unwrap();
    let relay = open(&dir.path().join("relay.db"), Author::new("server", "relay", Role::Admin));
    relay.keep_projections().unwrap();
    let replicas = [
        open(&dir.path().join("awa.db"), Author::new("awa", "phone-1", Role::Enumerator)),
        open(&dir.path().join("issa.db"), Author::new("issa", "phone-2", Role::Enumerator)),
        open(&dir.path().join("moussa.db"), Author::new("moussa", "tablet-1", Role::Supervisor)),
    ];
    let statuses = [ReviewStatus::Approved, ReviewStatus::HasIssues, ReviewStatus::SentBack, ReviewStatus::Rejected];
    for step in steps {
        match step {
            Step::Create { phone } => {
                replicas[*phone].create_survey(FORM, VERSION).unwrap();
            }
            Step::Answer { phone, survey, answer: which } => {
                let store = &replicas[*phone];
                if let Some(id) = all_ids(store).get(*survey) {
                    // A repeat instance may be missing on this replica: that edit is refused.
                    let _ = answer(store, id, *which);
                }
            }
            Step::Review { survey, status } => {
                let tablet = &replicas[2];
                if let Some(id) = all_ids(tablet).get(*survey) {
                    tablet.set_review(id, Some(statuses[*status]), None).unwrap();
                }
            }
            Step::Sync { replica, push_first } => {
                let replica = &replicas[*replica];
                if *push_first {
                    sync(replica, &relay);
                    sync(&relay, replica);
                } else {
                    sync(&relay, replica);
                    sync(replica, &relay);
                }
                assert_projection_matches(&relay);
            }
        }
    }
    for replica in &replicas {
        sync(replica, &relay);
        assert_conflicts_flagged(replica);
    }
    assert_projection_matches(&relay);
    assert_eq!(relay.rebuild_projections().unwrap().differed, 0, "the rows kept by merges are the rebuilt ones");
}

#[test]
fn rows_equal_the_documents_after_random_edits_and_merges() {
    let config =
        Config { cases: 24, rng_seed: RngSeed::Fixed(0x9e0_2026), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(step(), 10..60), |steps| {
        run(&steps);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
