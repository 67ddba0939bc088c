//! Bundles between two real stores: export, import, idempotence, damaged files.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{enumerator, store_at, supervisor};
use terrain_core::sync::bundle::{self, BundleError};
use terrain_core::{AnswerPath, Store, SurveyQuery, Value};

#[test]
fn a_bundle_carries_surveys_forms_and_authors_and_imports_once() {
    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    let id = phone.create_survey("household", "2026110101").unwrap();
    phone.set_answer(&id, &"village".parse::<AnswerPath>().unwrap(), Value::Text("Béguédo".into())).unwrap();
    phone.finalize(&id).unwrap();
    let bytes = bundle::export(&phone, None).unwrap();

    // The tablet has never seen the form: the bundle brings it.
    let tablet = Store::open(dir.path().join("tablet.db"), supervisor()).unwrap();
    let report = bundle::import(&tablet, &bytes).unwrap();
    assert_eq!((report.created, report.updated, report.unchanged), (1, 0, 0));
    let again = bundle::import(&tablet, &bytes).unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 1));
    assert_eq!(tablet.survey(&id).unwrap().answers.value("village"), Some(&Value::Text("Béguédo".into())));
    let history = tablet.history(&id, &"village".parse().unwrap()).unwrap();
    assert_eq!(history[0].author.as_ref().unwrap().user, "awa");
    // The tablet will relay them to the server like its own.
    assert_eq!(tablet.pending_pushes(10).unwrap().len(), 1);
    assert_eq!(tablet.list(&SurveyQuery::default()).unwrap().len(), 1);

    // Later edits on the phone travel in a new bundle and merge.
    phone.reopen(&id).unwrap();
    phone.set_answer(&id, &"hh_size".parse::<AnswerPath>().unwrap(), Value::Integer(9)).unwrap();
    let report = bundle::import(&tablet, &bundle::export(&phone, Some(std::slice::from_ref(&id))).unwrap()).unwrap();
    assert_eq!(report.updated, 1);
    assert_eq!(tablet.survey(&id).unwrap().answers.value("hh_size"), Some(&Value::Integer(9)));
}

#[test]
fn damaged_or_foreign_files_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let phone = store_at(&dir.path().join("phone.db"), enumerator());
    phone.create_survey("household", "2026110101").unwrap();
    let bytes = bundle::export(&phone, None).unwrap();
    let tablet = store_at(&dir.path().join("tablet.db"), supervisor());
    assert!(matches!(bundle::import(&tablet, b"PK\x03\x04 a zip file").unwrap_err(), BundleError::NotABundle));
    let truncated = &bytes[..bytes.len() / 2];
    assert!(matches!(bundle::import(&tablet, truncated).unwrap_err(), BundleError::Damaged(_)));
    let mut newer = bytes.clone();
    newer[14] = 99;
    assert!(matches!(bundle::import(&tablet, &newer).unwrap_err(), BundleError::NewerFormat(99)));
    assert!(tablet.list(&SurveyQuery::default()).unwrap().is_empty());
}
