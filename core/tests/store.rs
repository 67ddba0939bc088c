//! The store against real SQLite files: writes, reads, queries, merges and bad input.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{enumerator, household_form, store_at, supervisor};
use rusqlite::Connection;
use terrain_core::store::Durability;
use terrain_core::survey::{Answer, Status};
use terrain_core::{AnswerPath, Store, StoreError, SurveyQuery, Value};

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn answers_survive_closing_and_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let id = {
        let store = store_at(&path, enumerator());
        let id = store.create_survey("household", "2026110101").unwrap();
        assert!(store.set_answer(&id, &p("village"), text("Kindia")).unwrap());
        assert!(!store.set_answer(&id, &p("village"), text("Kindia")).unwrap(), "same value is no change");
        store.add_repeat_instance(&id, &p("member"), None).unwrap();
        store.set_answer(&id, &p("member[0]/age"), Value::Integer(30)).unwrap();
        store.finalize(&id).unwrap();
        id
    };
    let store = Store::open(&path, enumerator()).unwrap();
    let survey = store.survey(&id).unwrap();
    assert_eq!(survey.meta.status, Status::Finalized);
    assert_eq!(survey.answers.value("village"), Some(&text("Kindia")));
    assert_eq!(survey.answers.repeat("member")[0].value("age"), Some(&Value::Integer(30)));
    let json = store.survey_json(&id).unwrap();
    assert_eq!(json["answers"]["member"][0]["age"], 30);
    store.reopen(&id).unwrap();
    assert_eq!(store.survey(&id).unwrap().meta.status, Status::Draft);
}

#[test]
fn many_writes_compact_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = store_at(&path, enumerator());
    let id = store.create_survey("household", "2026110101").unwrap();
    for i in 0..100 {
        store.set_answer(&id, &p("hh_size"), Value::Integer(i + 1)).unwrap();
    }
    let conn = Connection::open(&path).unwrap();
    let log = || -> (i64, i64) {
        conn.query_row("SELECT chunk_count, length(snapshot) FROM surveys WHERE survey_id = ?1", [&id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
    };
    // Answers only append: the compaction they make due waits for upkeep, under a ceiling.
    let (chunks, _) = log();
    assert!((16..256).contains(&chunks), "answers append without compacting, found {chunks}");
    assert_eq!(store.compact_pending(10).unwrap(), 1);
    let (chunks, snapshot) = log();
    assert!(chunks < 16, "compaction keeps the chunk log short, found {chunks}");
    let stored: i64 =
        conn.query_row("SELECT count(*) FROM survey_chunks WHERE survey_id = ?1", [&id], |r| r.get(0)).unwrap();
    assert_eq!(stored, chunks);
    assert!(snapshot > 0);
    // Without upkeep, the ceiling: an answer past it compacts at once.
    for i in 100..400 {
        store.set_answer(&id, &p("hh_size"), Value::Integer(i + 1)).unwrap();
    }
    let (chunks, _) = log();
    assert!(chunks < 256, "the chunk log stays under its ceiling, found {chunks}");
    drop(store);
    let store = Store::open(&path, enumerator()).unwrap();
    assert_eq!(store.survey(&id).unwrap().answers.value("hh_size"), Some(&Value::Integer(400)));
    assert_eq!(store.history(&id, &p("hh_size")).unwrap().len(), 400);
}

#[test]
fn a_phone_store_checkpoints_its_log_off_the_answer_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = Store::open_with(&path, enumerator(), Durability::ProcessCrash).unwrap();
    store.save_form(&household_form()).unwrap();
    let id = store.create_survey("household", "2026110101").unwrap();
    let wal = path.with_extension("db-wal");
    let mut largest = 0;
    for i in 0..1500 {
        store.set_answer(&id, &p("village"), Value::Text(format!("village {i} {}", "x".repeat(200)))).unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // SQLite's own checkpoint is off (it would run inside an answer's commit); under
    // commits without pause the writer's backstop still bounds the log (at 16 MiB): without
    // it, the log would hold every one of these commits (over 80 MiB).
    assert!(largest < 20 << 20, "the log grew to {largest} bytes");
    // An idle second later, the log is copied into the database: another connection finds
    // nothing left to copy.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let other = Connection::open(&path).unwrap();
    let (log, copied): (i64, i64) =
        other.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?))).unwrap();
    assert_eq!(log, copied);
    drop(other);
    drop(store);
    let store = Store::open(&path, enumerator()).unwrap();
    assert!(
        matches!(store.survey(&id).unwrap().answers.value("village"), Some(Value::Text(t)) if t.starts_with("village 1499 "))
    );
}

#[test]
fn lists_filter_on_metadata_columns() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("phone.db"), enumerator());
    let before = chrono::Utc::now();
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = store.create_survey("household", "2026110101").unwrap();
        if i % 2 == 0 {
            store.set_answer(&id, &p("village"), text("Dalaba")).unwrap();
            store.finalize(&id).unwrap();
        }
        ids.push(id);
    }
    let all = store.list(&SurveyQuery::default()).unwrap();
    assert_eq!(all.len(), 5);
    let finalized = store.list(&SurveyQuery { status: Some(Status::Finalized), ..SurveyQuery::default() }).unwrap();
    assert_eq!(finalized.len(), 3);
    let mine = SurveyQuery { enumerator: Some("awa".into()), form_id: Some("household".into()), ..Default::default() };
    assert_eq!(store.list(&mine).unwrap().len(), 5);
    let other = SurveyQuery { enumerator: Some("nobody".into()), ..Default::default() };
    assert!(store.list(&other).unwrap().is_empty());
    let recent = SurveyQuery { updated_since: Some(before), limit: Some(2), ..Default::default() };
    assert_eq!(store.list(&recent).unwrap().len(), 2);
    assert!(all.iter().all(|s| s.dirty && !s.has_conflicts && s.created_by == "awa"));
}

#[test]
fn two_stores_merge_concurrent_edits_and_flag_then_clear_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    let tablet = store_at(&dir.path().join("tablet.db"), supervisor());
    let id = phone.create_survey("household", "2026110101").unwrap();
    phone.set_answer(&id, &p("hh_size"), Value::Integer(5)).unwrap();
    let created = tablet.merge(&id, &phone.document_bytes(&id).unwrap()).unwrap();
    assert!(created.created);

    phone.set_answer(&id, &p("village"), text("Mamou")).unwrap();
    phone.set_answer(&id, &p("hh_size"), Value::Integer(6)).unwrap();
    tablet.set_answer(&id, &p("hh_size"), Value::Integer(7)).unwrap();
    tablet.set_answer(&id, &p("head_name"), text("Mariama Diallo")).unwrap();
    tablet.register_actor(&phone.actor(), phone.author()).unwrap();
    phone.register_actor(&tablet.actor(), tablet.author()).unwrap();

    let outcome = tablet.merge(&id, &phone.document_bytes(&id).unwrap()).unwrap();
    assert!(!outcome.created && outcome.new_changes == 2);
    phone.merge(&id, &tablet.document_bytes(&id).unwrap()).unwrap();

    for store in [&phone, &tablet] {
        let survey = store.survey(&id).unwrap();
        assert_eq!(survey.answers.value("village"), Some(&text("Mamou")));
        assert_eq!(survey.answers.value("head_name"), Some(&text("Mariama Diallo")));
        let conflicts = store.conflicts(&id).unwrap();
        assert_eq!(conflicts.len(), 1, "the same-field edit is reported");
        let mut by: Vec<_> = conflicts[0].values.iter().map(|v| v.author.clone().unwrap().user).collect();
        by.sort();
        assert_eq!(by, ["awa", "moussa"]);
        let flagged = store.list(&SurveyQuery { has_conflicts: Some(true), ..Default::default() }).unwrap();
        assert_eq!(flagged.len(), 1);
    }
    assert_eq!(
        phone.survey(&id).unwrap().answers.value("hh_size"),
        tablet.survey(&id).unwrap().answers.value("hh_size")
    );

    tablet.set_answer(&id, &p("hh_size"), Value::Integer(7)).unwrap();
    assert!(tablet.conflicts(&id).unwrap().is_empty());
    assert!(tablet.list(&SurveyQuery { has_conflicts: Some(true), ..Default::default() }).unwrap().is_empty());
    let history = tablet.history(&id, &p("hh_size")).unwrap();
    let who: Vec<_> = history.iter().map(|e| e.author.as_ref().map(|a| a.user.as_str())).collect();
    assert_eq!(who.first(), Some(&Some("awa")));
    assert_eq!(who.last(), Some(&Some("moussa")));
    assert_eq!(history.last().unwrap().value, Some(Answer::Value(Value::Integer(7))));
}

#[test]
fn bad_input_is_a_typed_error_and_leaves_the_store_usable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = store_at(&path, enumerator());
    let good = store.create_survey("household", "2026110101").unwrap();
    let broken = store.create_survey("household", "2026110101").unwrap();
    store.set_answer(&good, &p("village"), text("Boké")).unwrap();

    assert!(matches!(store.survey("no-such-id").unwrap_err(), StoreError::UnknownSurvey(_)));
    assert!(matches!(
        store.set_answer("no-such-id", &p("village"), text("x")).unwrap_err(),
        StoreError::UnknownSurvey(_)
    ));
    let err = store.set_answer(&good, &p("hh_size"), text("many")).unwrap_err();
    assert!(err.to_string().contains("a integer question takes no text value"), "{err}");
    assert!(store.set_answer(&good, &p("member[4]/age"), Value::Integer(3)).is_err());
    assert!(matches!(store.create_survey("household", "1999").unwrap_err(), StoreError::UnknownForm { .. }));
    assert!(store.merge(&good, b"\x85\x6f\x4a\x83garbage").is_err());
    assert!(store.merge("new-id", b"garbage").is_err());

    // Damage one survey's bytes on disk: it reports the damage, the other is fine.
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE surveys SET snapshot = x'856f4a83deadbeef00' WHERE survey_id = ?1", [&broken]).unwrap();
    drop(store);
    let store = Store::open(&path, enumerator()).unwrap();
    assert!(matches!(store.survey(&broken).unwrap_err(), StoreError::Corrupt { .. }));
    assert!(matches!(store.set_answer(&broken, &p("village"), text("x")).unwrap_err(), StoreError::Corrupt { .. }));
    assert_eq!(store.survey(&good).unwrap().answers.value("village"), Some(&text("Boké")));
    store.set_answer(&good, &p("village"), text("Boké-Centre")).unwrap();
    let truncated: Vec<u8> = store.document_bytes(&good).unwrap()[..40].to_vec();
    conn.execute("UPDATE surveys SET snapshot = ?2 WHERE survey_id = ?1", rusqlite::params![&broken, truncated])
        .unwrap();
    assert!(matches!(store.survey(&broken).unwrap_err(), StoreError::Corrupt { .. }));
}

#[test]
fn a_changed_form_needs_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("phone.db"), enumerator());
    store.save_form(&household_form()).unwrap();
    let mut changed = household_form();
    changed.title = "Another title".into();
    assert!(matches!(store.save_form(&changed).unwrap_err(), StoreError::FormVersionConflict { .. }));
    changed.version = "2026120101".into();
    store.save_form(&changed).unwrap();
    assert_eq!(store.forms().unwrap().len(), 2);
}

#[test]
fn an_actor_is_bound_to_one_person_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("phone.db"), enumerator());
    let actor = store.actor();
    store.register_actor(&actor, &enumerator()).unwrap();
    assert!(matches!(store.register_actor(&actor, &supervisor()).unwrap_err(), StoreError::ActorMismatch { .. }));
    let again = Store::open(store.path(), enumerator()).unwrap();
    assert_ne!(again.actor(), actor, "every session writes under a fresh actor");
}

#[test]
fn the_store_is_shared_between_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(store_at(&dir.path().join("phone.db"), enumerator()));
    let id = store.create_survey("household", "2026110101").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            let id = id.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    let index = store.add_repeat_instance(&id, &p("member"), None).unwrap();
                    store.set_answer(&id, &p("member").child(index, "age"), Value::Integer(t * 100 + i)).unwrap();
                    store.survey(&id).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.survey(&id).unwrap().answers.repeat("member").len(), 80);
}

#[test]
fn finalize_compacts_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = store_at(&path, enumerator());
    let id = store.create_survey("household", "2026110101").unwrap();
    for i in 0..5 {
        store.set_answer(&id, &p("hh_size"), Value::Integer(i + 1)).unwrap();
    }
    store.set_answer(&id, &p("village"), text("Télimélé")).unwrap();
    store.finalize(&id).unwrap();
    let chunks: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM survey_chunks WHERE survey_id = ?1", [&id], |r| r.get(0))
        .unwrap();
    assert_eq!(chunks, 0);
    assert_eq!(store.survey(&id).unwrap().meta.status, Status::Finalized);
}

#[test]
fn the_feed_lists_each_survey_once_at_its_latest_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("phone.db"), enumerator());
    let a = store.create_survey("household", "2026110101").unwrap();
    let b = store.create_survey("household", "2026110101").unwrap();
    store.set_answer(&a, &p("village"), text("Faranah")).unwrap();
    let feed = store.feed(0, 100).unwrap();
    let ids: Vec<_> = feed.iter().map(|e| e.summary.survey_id.clone()).collect();
    assert_eq!(ids, vec![b.clone(), a.clone()]);
    let since = feed[0].change_seq;
    let later = store.feed(since, 100).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].summary.survey_id, a);
    assert!(store.feed(later[0].change_seq, 100).unwrap().is_empty());
}

#[test]
fn sync_bookkeeping_tracks_what_the_server_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    let server = store_at(&dir.path().join("server.db"), supervisor());
    let id = phone.create_survey("household", "2026110101").unwrap();
    phone.set_answer(&id, &p("village"), text("Kouroussa")).unwrap();

    let pending = phone.pending_pushes(100).unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].acked.is_empty());
    server.merge(&id, &pending[0].changes).unwrap();
    phone.mark_acked(&[(id.clone(), pending[0].heads.clone())]).unwrap();
    assert_eq!(phone.pending_count().unwrap(), 0);

    // Only what came after the acknowledgement travels next time.
    phone.set_answer(&id, &p("hh_size"), Value::Integer(4)).unwrap();
    let pending = phone.pending_pushes(100).unwrap();
    assert_eq!(pending[0].acked, server.heads(&id).unwrap());
    assert!(pending[0].changes.len() < 300, "one small change, got {} bytes", pending[0].changes.len());
    server.merge(&id, &pending[0].changes).unwrap();

    // The server's own edit comes back; applying it moves the cursor and leaves nothing dirty.
    server.set_answer(&id, &p("head_name"), text("Fanta Camara")).unwrap();
    let pulled = terrain_core::store::RemoteChanges {
        survey_id: id.clone(),
        changes: server.changes_after(&id, &pending[0].heads).unwrap(),
        server_heads: server.heads(&id).unwrap(),
    };
    let outcomes = phone.apply_pulled("https://relay.example", &[pulled], Some(42)).unwrap();
    assert!(outcomes[0].is_ok());
    assert_eq!(phone.sync_cursor("https://relay.example").unwrap(), 42);
    assert_eq!(phone.pending_count().unwrap(), 0);
    assert_eq!(phone.heads(&id).unwrap(), server.heads(&id).unwrap());
    let history = phone.history(&id, &p("head_name")).unwrap();
    assert!(history[0].received_at.is_some());
}

#[test]
fn a_new_server_epoch_offers_everything_again_and_rewinds_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    let server = store_at(&dir.path().join("server.db"), supervisor());
    let relay = "https://relay.example";
    let id = phone.create_survey("household", "2026110101").unwrap();
    phone.set_answer(&id, &p("village"), text("Siguiri")).unwrap();
    let pending = phone.pending_pushes(100).unwrap();
    server.merge(&id, &pending[0].changes).unwrap();
    assert!(server.holds(&id, &pending[0].heads).unwrap());
    assert!(!server.holds("no-such-survey", &pending[0].heads).unwrap());
    phone.mark_acked(&[(id.clone(), pending[0].heads.clone())]).unwrap();
    phone.apply_pulled(relay, &[], Some(40)).unwrap();
    assert_eq!((phone.pending_count().unwrap(), phone.sync_epoch(relay).unwrap()), (0, 0));

    // The first epoch a device hears of: the cursor is before its start, so it stays.
    assert_eq!(phone.begin_epoch(relay, &[1; 16], 7, 100).unwrap(), 1);
    assert_eq!((phone.sync_cursor(relay).unwrap(), phone.sync_epoch(relay).unwrap()), (40, 7));
    // Offered again with nothing new: no changes, the acknowledged heads.
    let again = phone.pending_pushes(100).unwrap();
    assert!(again[0].changes.is_empty());
    assert_eq!(again[0].heads, pending[0].heads);
    phone.mark_acked(&[(id.clone(), again[0].heads.clone())]).unwrap();

    // A restore to a feed that ended at 25: the cursor goes back to it.
    assert_eq!(phone.begin_epoch(relay, &[1; 16], 9, 25).unwrap(), 1);
    assert_eq!((phone.sync_cursor(relay).unwrap(), phone.sync_epoch(relay).unwrap()), (25, 9));
    assert_eq!(phone.pending_count().unwrap(), 1);
}

#[test]
fn a_batch_merge_keeps_good_items_when_one_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    let tablet = store_at(&dir.path().join("tablet.db"), supervisor());
    let a = phone.create_survey("household", "2026110101").unwrap();
    let b = phone.create_survey("household", "2026110101").unwrap();
    let items = vec![
        (a.clone(), phone.document_bytes(&a).unwrap()),
        ("bogus".to_string(), b"garbage".to_vec()),
        (b.clone(), phone.document_bytes(&b).unwrap()),
    ];
    let outcomes = tablet.merge_batch(&items).unwrap();
    assert!(outcomes[0].is_ok() && outcomes[1].is_err() && outcomes[2].is_ok());
    assert_eq!(tablet.list(&SurveyQuery::default()).unwrap().len(), 2);
    // Replaying the same batch is harmless.
    let again = tablet.merge_batch(&items).unwrap();
    assert_eq!(again[0].as_ref().unwrap().new_changes, 0);
    // Received surveys were stored as they came; upkeep compacts them without changing them.
    let heads = tablet.heads(&a).unwrap();
    assert_eq!(tablet.compact_pending(100).unwrap(), 2);
    assert_eq!(tablet.compact_pending(100).unwrap(), 0);
    assert_eq!(tablet.heads(&a).unwrap(), heads);
    assert_eq!(tablet.survey(&b).unwrap().meta.survey_id, b);
}

#[test]
fn an_incomplete_survey_cannot_be_finalized_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("phone.db"), enumerator());
    let id = store.create_survey("household", "2026110101").unwrap();
    store.set_answer(&id, &p("hh_size"), Value::Integer(80)).unwrap();
    let err = store.finalize(&id).unwrap_err();
    let StoreError::Incomplete { issues, .. } = &err else { panic!("{err}") };
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(issues[0].starts_with("village:"), "{issues:?}");
    assert!(issues[1].starts_with("hh_size:"), "{issues:?}");
    assert_eq!(store.survey(&id).unwrap().meta.status, Status::Draft);
    let evaluation = store.evaluate(&id, Some("fr")).unwrap();
    assert_eq!(evaluation.missing_required.len(), 1);
    store.set_answer(&id, &p("village"), text("Kouroussa")).unwrap();
    store.set_answer(&id, &p("hh_size"), Value::Integer(8)).unwrap();
    store.finalize(&id).unwrap();
}

#[test]
fn a_send_back_reaches_the_enumerator_and_their_fix_merges_with_a_correction() {
    use terrain_core::survey::{NewComment, ReviewStatus};
    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    let tablet = store_at(&dir.path().join("tablet.db"), supervisor());
    let id = phone.create_survey("household", "2026110101").unwrap();
    phone.set_answer(&id, &p("village"), text("Kindia")).unwrap();
    phone.set_answer(&id, &p("hh_size"), Value::Integer(5)).unwrap();
    tablet.merge(&id, &phone.document_bytes(&id).unwrap()).unwrap();

    let comment =
        NewComment { text: "Household size looks low, please check".into(), question: Some("hh_size".into()) };
    assert!(tablet.set_review(&id, Some(ReviewStatus::SentBack), Some(&comment)).unwrap());
    tablet.set_answer(&id, &p("village"), text("Kindia-Centre")).unwrap();
    assert_eq!(tablet.summary(&id).unwrap().unwrap().review_status, ReviewStatus::SentBack);
    let empty = NewComment { text: "  ".into(), question: None };
    assert!(tablet.set_review(&id, None, Some(&empty)).is_err(), "an empty comment is refused");

    phone.merge(&id, &tablet.document_bytes(&id).unwrap()).unwrap();
    let review = phone.review(&id).unwrap();
    assert_eq!(review.status, ReviewStatus::SentBack);
    assert_eq!(review.comments.len(), 1);
    assert_eq!(review.comments[0].author, "moussa");
    assert_eq!(review.comments[0].question.as_deref(), Some("hh_size"));
    assert!(review.comments[0].at.is_some());

    phone.set_answer(&id, &p("hh_size"), Value::Integer(8)).unwrap();
    tablet.merge(&id, &phone.document_bytes(&id).unwrap()).unwrap();
    tablet.set_review(&id, Some(ReviewStatus::Approved), None).unwrap();
    let survey = tablet.survey(&id).unwrap();
    assert_eq!(survey.answers.value("hh_size"), Some(&Value::Integer(8)), "the enumerator's fix");
    assert_eq!(survey.answers.value("village"), Some(&text("Kindia-Centre")), "the supervisor's correction");
    assert_eq!(survey.review.status, ReviewStatus::Approved);
    assert!(tablet.conflicts(&id).unwrap().is_empty());
}

#[test]
fn keyset_pages_cover_every_survey_once_in_order() {
    use terrain_core::store::{SortKey, SurveySummary};
    use terrain_core::survey::ReviewStatus;
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("phone.db"), supervisor());
    let mut ids = Vec::new();
    for i in 0..23 {
        let id = store.create_survey("household", "2026110101").unwrap();
        if i % 3 == 0 {
            store.set_review(&id, Some(ReviewStatus::Approved), None).unwrap();
        }
        ids.push(id);
    }
    let cases = [(SortKey::Updated, false, None), (SortKey::Started, true, None), (SortKey::Review, false, None)];
    // A filter's parameters come before the page key's.
    let filtered = (SortKey::Updated, true, Some(vec![ReviewStatus::Received]));
    for (sort, ascending, review) in cases.into_iter().chain([filtered]) {
        let expected = if review.is_some() { 15 } else { ids.len() };
        let mut query = SurveyQuery { sort, ascending, review: review.clone(), limit: Some(5), ..Default::default() };
        let mut seen: Vec<SurveySummary> = Vec::new();
        loop {
            let page = store.list(&query).unwrap();
            let Some(last) = page.last() else { break };
            query.after = Some(sort.page_key(last).to_string().parse().unwrap());
            seen.extend(page);
        }
        let mut got: Vec<_> = seen.iter().map(|s| s.survey_id.clone()).collect();
        got.sort();
        got.dedup();
        assert_eq!(got.len(), expected, "{sort:?}: every survey exactly once");
        let all = store.list(&SurveyQuery { sort, ascending, review, ..Default::default() }).unwrap();
        assert_eq!(seen, all, "{sort:?}: pages in the same order as one list");
    }
    let approved = SurveyQuery { review: Some(vec![ReviewStatus::Approved]), ..Default::default() };
    assert_eq!(store.count(&approved).unwrap(), 8);
    let received = SurveyQuery { review: Some(vec![ReviewStatus::Received]), ..Default::default() };
    assert_eq!(store.count(&received).unwrap(), 15, "never reviewed counts as received");
    assert!("no-tilde".parse::<terrain_core::store::PageKey>().is_err());
}

#[test]
fn visibility_areas_narrow_lists_counts_and_the_feed() {
    use terrain_core::store::{Area, Visibility};
    let dir = tempfile::tempdir().unwrap();
    let hub = store_at(&dir.path().join("hub.db"), supervisor());
    // Three surveys by two people, merged into one store as a server holds them.
    let mut ids = Vec::new();
    for (name, author) in [("a.db", enumerator()), ("b.db", supervisor()), ("c.db", enumerator())] {
        let phone = store_at(&dir.path().join(name), author);
        let id = phone.create_survey("household", "2026110101").unwrap();
        hub.merge(&id, &phone.changes_after(&id, &[]).unwrap()).unwrap();
        ids.push(id);
    }
    let listed = |visible: Visibility| -> Vec<String> {
        let query = SurveyQuery { visible: visible.clone(), ..Default::default() };
        let mut rows: Vec<String> = hub.list(&query).unwrap().into_iter().map(|s| s.survey_id).collect();
        assert_eq!(hub.count(&query).unwrap(), rows.len() as u64);
        let mut fed: Vec<String> =
            hub.feed_visible(0, 100, &visible).unwrap().into_iter().map(|e| e.summary.survey_id).collect();
        rows.sort();
        fed.sort();
        assert_eq!(rows, fed, "the feed and the list agree on {visible:?}");
        rows
    };
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(listed(Visibility::All), sorted);
    assert_eq!(listed(Visibility::Areas(vec![])), Vec::<String>::new());
    let awa = Area { creators: Some(vec!["awa".into()]), forms: Some(vec!["household".into()]), surveys: None };
    let mut mine = vec![ids[0].clone(), ids[2].clone()];
    mine.sort();
    assert_eq!(listed(Visibility::Areas(vec![awa.clone()])), mine);
    let other_form = Area { forms: Some(vec!["other".into()]), ..awa.clone() };
    assert_eq!(listed(Visibility::Areas(vec![other_form])), Vec::<String>::new());
    let assigned = Area { surveys: Some(vec![ids[1].clone()]), ..Area::default() };
    assert_eq!(listed(Visibility::Areas(vec![awa, assigned])), sorted);
    assert_eq!(listed(Visibility::Areas(vec![Area::default()])), sorted, "an area without limits is everything");
}

/// Every way a survey grows in a store (answers, reviews and comments, bulk reviews, merges,
/// bundle imports) is held to the store's write budget, and a refused write leaves the
/// survey as it was and loadable: no stored survey can outgrow what loading admits.
#[test]
fn every_write_path_holds_a_survey_to_the_write_budget() {
    use terrain_core::intake::{self, Budget};
    use terrain_core::survey::{NewComment, ReviewStatus};
    use terrain_core::sync::bundle;

    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    let tablet = store_at(&dir.path().join("tablet.db"), supervisor());
    let id = phone.create_survey("household", "2026110101").unwrap();
    for i in 0..10 {
        phone.set_answer(&id, &p("village"), text(&format!("Village {i}"))).unwrap();
    }
    let outcomes = tablet.merge_batch(&[(id.clone(), phone.changes_after(&id, &[]).unwrap())]).unwrap();
    assert!(outcomes[0].is_ok());
    let changes = intake::check(&phone.document_bytes(&id).unwrap(), &Budget::LOAD).unwrap().changes;
    // Room for one change more, on both devices.
    let budget = Budget { changes: changes + 1, ..Budget::WRITE };
    phone.set_write_budget(budget);
    tablet.set_write_budget(budget);
    let over = |store: &Store, err: &StoreError| {
        assert!(err.to_string().contains("changes"), "{err}");
        assert!(store.survey(&id).is_ok(), "the survey still loads");
    };

    // Answers: one more fits, the next is refused and leaves nothing.
    phone.set_answer(&id, &p("village"), text("Kindia")).unwrap();
    let heads = phone.heads(&id).unwrap();
    let err = phone.set_answer(&id, &p("village"), text("Mamou")).unwrap_err();
    over(&phone, &err);
    assert_eq!(phone.heads(&id).unwrap(), heads);

    // Reviews and comments, alone and in bulk.
    let comment = NewComment { text: "Vérifier le village".into(), question: Some("village".into()) };
    tablet.set_review(&id, Some(ReviewStatus::HasIssues), Some(&comment)).unwrap();
    let heads = tablet.heads(&id).unwrap();
    over(&tablet, &tablet.set_review(&id, None, Some(&comment)).unwrap_err());
    let bulk = tablet.set_reviews_as(&supervisor(), [7; 8], &[(&id, Some(ReviewStatus::Approved), None)]).unwrap();
    over(&tablet, bulk[0].as_ref().unwrap_err());
    assert_eq!(tablet.heads(&id).unwrap(), heads);

    // The phone's change merged into the tablet's survey, directly and from a bundle.
    let outcomes = tablet.merge_batch(&[(id.clone(), phone.changes_after(&id, &[]).unwrap())]).unwrap();
    over(&tablet, outcomes[0].as_ref().unwrap_err());
    let report = bundle::import(&tablet, &bundle::export(&phone, None).unwrap()).unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].1.contains("changes"), "{report:?}");
    assert_eq!(tablet.heads(&id).unwrap(), heads);
}

#[test]
fn a_new_survey_and_a_new_repeat_instance_start_with_their_static_defaults() {
    let mut form = household_form();
    fn set_default(nodes: &mut [terrain_core::form::Node], name: &str, default: &str) {
        for node in nodes {
            match node {
                terrain_core::form::Node::Question(q) if q.name == name => q.default = Some(default.into()),
                terrain_core::form::Node::Question(_) => {}
                terrain_core::form::Node::Group(g) | terrain_core::form::Node::Repeat(g) => {
                    set_default(&mut g.children, name, default)
                }
            }
        }
    }
    set_default(&mut form.children, "village", "Béguédo");
    set_default(&mut form.children, "age", "30");
    // A dynamic default is an expression for later answers: not applied.
    set_default(&mut form.children, "head_name", "concat(${village}, '-1')");
    form.version = "2".into();
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("phone.db"), enumerator());
    store.save_form(&form).unwrap();

    let id = store.create_survey("household", "2").unwrap();
    store.add_repeat_instance(&id, &p("member"), None).unwrap();
    let answers = store.survey(&id).unwrap().answers;
    assert_eq!(answers.value("village"), Some(&text("Béguédo")));
    assert_eq!(answers.value("head_name"), None);
    assert_eq!(answers.repeat("member")[0].value("age"), Some(&Value::Integer(30)));

    // A cleared default stays cleared; an imported survey keeps its blanks.
    store.clear_answer(&id, &p("village")).unwrap();
    assert_eq!(store.survey(&id).unwrap().answers.value("village"), None);
    let imported = store.create_survey_with("household", "2", &Default::default()).unwrap();
    assert_eq!(store.survey(&imported).unwrap().answers.value("village"), None);
}

#[test]
fn a_survey_entered_for_someone_else_is_theirs_and_replacing_its_answers_writes_only_the_differences() {
    use terrain_core::Role;
    use terrain_core::survey::Answers;
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("server.db"), supervisor());
    let clerk = terrain_core::Author::new("mariam", "web", Role::Supervisor);
    let key = [7u8; terrain_core::identity::DEVICE_KEY_LEN];
    let form = household_form();
    let index = terrain_core::form::FormIndex::new(&form);
    let json = |v: serde_json::Value| Answers::from_json(&index, &v).unwrap();

    let first = json(serde_json::json!({"village": "Béguédo", "member": [{"age": 30}, {"age": 4}]}));
    let id = store.create_survey_as(&clerk, key, "household", "2026110101", &first).unwrap();
    let survey = store.survey(&id).unwrap();
    assert_eq!(survey.meta.created_by, "mariam");
    assert_eq!(survey.answers.differences(&first), Vec::<String>::new());

    // The second instance removed, the first edited, a new answer, the village cleared.
    let second = json(serde_json::json!({"hh_size": 3, "member": [{"age": 31, "member_name": "Awa"}]}));
    assert!(store.replace_answers_as(&clerk, key, &id, &second).unwrap());
    assert_eq!(store.survey(&id).unwrap().answers.differences(&second), Vec::<String>::new());
    assert!(!store.replace_answers_as(&clerk, key, &id, &second).unwrap(), "the same answers write nothing");
    let village = store.history(&id, &p("village")).unwrap();
    assert!(
        village.len() == 2 && village.iter().all(|e| e.author.as_ref().is_some_and(|a| a.user == "mariam")),
        "{village:?}"
    );

    // The same finalize rules as on a phone.
    let refused = store.finalize_as(&clerk, key, &id).unwrap_err();
    assert!(matches!(&refused, StoreError::Incomplete { issues, .. } if issues[0].starts_with("village")), "{refused}");
    let complete = json(serde_json::json!({"village": "Béguédo", "member": [{"age": 31, "member_name": "Awa"}]}));
    store.replace_answers_as(&clerk, key, &id, &complete).unwrap();
    store.finalize_as(&clerk, key, &id).unwrap();
    assert_eq!(store.survey(&id).unwrap().meta.status, Status::Finalized);
}

/// The chunk type of the first Automerge chunk in `bytes`: 0 a document, 1 a change.
fn first_chunk_type(bytes: &[u8]) -> u8 {
    bytes[8]
}

#[test]
fn a_replica_with_nothing_gets_a_long_history_as_one_document_and_a_short_one_as_changes() {
    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    let id = phone.create_survey("household", "2026110101").unwrap();
    phone.set_answer(&id, &p("village"), text("Kindia")).unwrap();
    for age in 20..32 {
        phone.set_answer(&id, &p("hh_size"), Value::Integer(age)).unwrap();
    }
    let short = phone.create_survey("household", "2026110101").unwrap();
    phone.set_answer(&short, &p("village"), text("Labé")).unwrap();

    let whole = phone.changes_after(&id, &[]).unwrap();
    assert_eq!(first_chunk_type(&whole), 0, "fourteen changes travel as one document");
    let mut doc = terrain_core::SurveyDoc::load(&phone.document_bytes(&id).unwrap()).unwrap();
    assert!(whole.len() < doc.save_after(&[]).len() / 2, "and half the bytes or less");
    assert_eq!(first_chunk_type(&phone.changes_after(&short, &[]).unwrap()), 1, "two changes stay changes");
    let middle = phone.heads(&id).unwrap();
    phone.set_answer(&id, &p("hh_size"), Value::Integer(40)).unwrap();
    assert_eq!(first_chunk_type(&phone.changes_after(&id, &middle).unwrap()), 1, "after heads: changes");

    // The document brings the same survey, history included.
    let tablet = store_at(&dir.path().join("tablet.db"), supervisor());
    let bytes = phone.changes_after(&id, &[]).unwrap();
    assert!(tablet.merge(&id, &bytes).unwrap().created);
    assert_eq!(tablet.heads(&id).unwrap(), phone.heads(&id).unwrap());
    assert_eq!(tablet.survey(&id).unwrap().answers, phone.survey(&id).unwrap().answers);
    assert_eq!(tablet.history(&id, &p("hh_size")).unwrap().len(), 13);

    // Past the fragments a document may claim (the front door counts each of its changes
    // as one), the first changes go as a document and the rest as changes after it.
    let long = phone.create_survey("household", "2026110101").unwrap();
    for size in 0..terrain_core::intake::Budget::WRITE.fragments as i64 + 20 {
        phone.set_answer(&long, &p("hh_size"), Value::Integer(size + 1)).unwrap();
    }
    let bytes = phone.changes_after(&long, &[]).unwrap();
    assert_eq!(first_chunk_type(&bytes), 0, "a document first");
    let mut doc = terrain_core::SurveyDoc::load(&phone.document_bytes(&long).unwrap()).unwrap();
    assert!(bytes.len() < doc.save_after(&[]).len() / 2, "still half the bytes or less");
    let cost = terrain_core::intake::check(&bytes, &terrain_core::intake::Budget::WRITE).unwrap();
    assert_eq!(cost.changes, 277);
    assert!(cost.fragments <= terrain_core::intake::Budget::WRITE.fragments);
    assert!(tablet.merge(&long, &bytes).unwrap().created);
    assert_eq!(tablet.heads(&long).unwrap(), phone.heads(&long).unwrap());
}
