//! Encrypted stores against real SQLCipher files: nothing readable on disk, a wrong or
//! missing key refused with the files untouched, and keys changed all or nothing.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{enumerator, household_form, supervisor};
use terrain_core::store::Durability;
use terrain_core::survey::{NewComment, ReviewStatus};
use terrain_core::{AnswerPath, Store, StoreError, StoreKey, Value};

/// Words that appear only in the journey's answers and comments.
const SECRETS: [&str; 4] = ["Mariama Kouyate", "+224 620 11 22 33", "tuberculose", "Recontactez le chef"];

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

/// Fills a household survey with [`SECRETS`], and a supervisor's comment; its id.
fn journey(store: &Store) -> String {
    store.save_form(&household_form()).unwrap();
    let id = store.create_survey("household", "2026110101").unwrap();
    store.set_answer(&id, &p("head_name"), Value::Text(SECRETS[0].into())).unwrap();
    store.set_answer(&id, &p("village"), Value::Text(SECRETS[1].into())).unwrap();
    store.add_repeat_instance(&id, &p("member"), None).unwrap();
    store.add_repeat_instance(&id, &p("member[0]/illness"), None).unwrap();
    store.set_answer(&id, &p("member[0]/illness[0]/illness_kind"), Value::Text(SECRETS[2].into())).unwrap();
    let comment = NewComment { text: SECRETS[3].into(), question: Some("head_name".into()) };
    store.set_review(&id, Some(ReviewStatus::SentBack), Some(&comment)).unwrap();
    id
}

/// Every file in `dir`, whole.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    found.sort();
    found
}

fn assert_nothing_readable(dir: &Path) {
    let files = files(dir);
    assert!(!files.is_empty());
    for (name, bytes) in &files {
        for secret in SECRETS.iter().map(|s| s.as_bytes()).chain([b"SQLite format 3".as_slice(), b"household"]) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{name} holds `{}` in clear",
                String::from_utf8_lossy(secret)
            );
        }
    }
}

#[test]
fn no_answer_name_or_comment_appears_in_the_store_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let key = StoreKey::generate().unwrap();
    // A phone's store: its log and the checkpoint thread's connection are encrypted too.
    let store = Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &key).unwrap();
    let id = journey(&store);
    // While open, with the log beside the file, and after closing.
    assert_nothing_readable(dir.path());
    drop(store);
    assert_nothing_readable(dir.path());

    let store = Store::open_encrypted(&path, supervisor(), Durability::PowerLoss, &key).unwrap();
    let survey = store.survey(&id).unwrap();
    assert_eq!(survey.answers.value("head_name"), Some(&Value::Text(SECRETS[0].into())));
    assert_eq!(survey.review.comments[0].text, SECRETS[3]);

    // The same journey in a plain store does put them on disk: the check above can fail.
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = Store::open(plain_dir.path().join("phone.db"), enumerator()).unwrap();
    journey(&plain);
    drop(plain);
    let on_disk = files(plain_dir.path());
    assert!(on_disk.iter().any(|(_, bytes)| bytes.windows(SECRETS[0].len()).any(|w| w == SECRETS[0].as_bytes())));
}

#[test]
fn a_missing_or_wrong_key_is_refused_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let key = StoreKey::generate().unwrap();
    let id = journey(&Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &key).unwrap());
    let before = files(dir.path());

    let wrong = StoreKey::generate().unwrap();
    let err = Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &wrong).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    let err = Store::open(&path, enumerator()).unwrap_err();
    assert!(matches!(err, StoreError::KeyRequired { .. }), "{err}");
    assert_eq!(files(dir.path()), before, "a refused key leaves every file as it was");

    let store = Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &key).unwrap();
    assert_eq!(store.survey(&id).unwrap().answers.value("head_name"), Some(&Value::Text(SECRETS[0].into())));

    // A plain store given a key is refused too, rather than mistaken for a wrong key.
    let plain = dir.path().join("plain.db");
    drop(Store::open(&plain, enumerator()).unwrap());
    let err = Store::open_encrypted(&plain, enumerator(), Durability::PowerLoss, &key).unwrap_err();
    assert!(matches!(err, StoreError::NotEncrypted { .. }), "{err}");
}

#[test]
fn a_plain_store_is_encrypted_and_its_key_rotated_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = Store::open_with(&path, enumerator(), Durability::ProcessCrash).unwrap();
    let id = journey(&store);
    let actors = store.own_actors().unwrap();
    drop(store);

    // The app's upgrade: the plain store it had becomes an encrypted one.
    let first = StoreKey::generate().unwrap();
    Store::change_key(&path, None, Some(&first)).unwrap();
    assert_nothing_readable(dir.path());
    let store = Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &first).unwrap();
    assert_eq!(store.survey(&id).unwrap().answers.value("head_name"), Some(&Value::Text(SECRETS[0].into())));
    assert_eq!(&store.own_actors().unwrap()[..actors.len()], &actors[..], "the store's own history is kept");

    // Rotation is refused while the store is open, and changes nothing.
    let second = StoreKey::generate().unwrap();
    let err = Store::change_key(&path, Some(&first), Some(&second)).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    store.set_answer(&id, &p("hh_size"), Value::Integer(7)).unwrap();
    drop(store);

    // A wrong current key changes nothing either.
    let err = Store::change_key(&path, Some(&second), Some(&first)).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");

    Store::change_key(&path, Some(&first), Some(&second)).unwrap();
    let err = Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &first).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "the old key no longer opens it: {err}");
    let store = Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &second).unwrap();
    let survey = store.survey(&id).unwrap();
    assert_eq!(survey.answers.value("hh_size"), Some(&Value::Integer(7)));
    assert_eq!(survey.review.comments[0].text, SECRETS[3]);
    assert_eq!(store.verify_documents().unwrap().failed, vec![]);
    drop(store);
    assert_nothing_readable(dir.path());
    let names: Vec<_> = files(dir.path()).into_iter().map(|(name, _)| name).collect();
    assert!(!names.iter().any(|n| n.ends_with(".rekey")), "no copy is left beside the store: {names:?}");

    // And back to plain, for an export to another tool.
    Store::change_key(&path, Some(&second), None).unwrap();
    let store = Store::open(&path, enumerator()).unwrap();
    assert_eq!(store.survey(&id).unwrap().answers.value("hh_size"), Some(&Value::Integer(7)));
}

/// An attachment of an encrypted store is sealed on disk (a consent form's text does not
/// appear in the store's files), read back into memory only; decrypting the store opens
/// its files, encrypting it again seals them.
#[test]
fn an_encrypted_store_seals_its_attached_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let media = dir.path().join("phone.db.media");
    let key = StoreKey::generate().unwrap();
    let form = terrain_core::Form::from_json(include_str!("fixtures/beguedo_slm.json")).unwrap();
    let store = Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &key).unwrap();
    store.save_form(&form).unwrap();
    let id = store.create_survey(&form.id, &form.version).unwrap();
    store.set_answer(&id, &p("distance_river_m"), Value::Integer(10)).unwrap();
    store.set_answer(&id, &p("bank_erosion"), Value::Choice("yes".into())).unwrap();
    // A signed consent: words that must not be readable on a lost phone.
    let words = "Consentement de Mariama Kouyate, signé à Béguédo. ".repeat(3000);
    let pdf = dir.path().join("consent.pdf");
    std::fs::write(&pdf, format!("%PDF-1.7\n{words}")).unwrap();
    let mut tree = form.clone();
    // The fixture has no file question: the photo question takes an image only, so the
    // consent goes in as a file question added for the test.
    tree.children.push(terrain_core::form::Node::Question(
        serde_json::from_str(r#"{"name":"consent_form","type":{"kind":"file"}}"#).unwrap(),
    ));
    tree.version = "2".into();
    store.save_form(&tree).unwrap();
    let signed = store.create_survey(&tree.id, &tree.version).unwrap();
    let attached = store.attach_media(&signed, &p("consent_form"), &pdf).unwrap();
    let on_disk = files(&media);
    assert_eq!(on_disk.len(), 1);
    assert!(!on_disk[0].1.windows(20).any(|w| w == &words.as_bytes()[..20]), "the consent is in the clear");
    assert_eq!(store.read_media(&attached.digest).unwrap(), std::fs::read(&pdf).unwrap());
    assert!(matches!(
        store.media_file(&attached.digest),
        Err(StoreError::Media(terrain_core::media::MediaError::Sealed(_)))
    ));
    drop(store);

    // Decrypted, the store opens its files; encrypted again, it seals them.
    Store::change_key(&path, Some(&key), None).unwrap();
    let plain = Store::open(&path, enumerator()).unwrap();
    let file = plain.media_file(&attached.digest).unwrap();
    assert_eq!(std::fs::read(file).unwrap(), std::fs::read(&pdf).unwrap());
    drop(plain);
    let again = StoreKey::generate().unwrap();
    Store::change_key(&path, None, Some(&again)).unwrap();
    let sealed = Store::open_encrypted(&path, enumerator(), Durability::ProcessCrash, &again).unwrap();
    assert_eq!(sealed.read_media(&attached.digest).unwrap(), std::fs::read(&pdf).unwrap());
    assert!(!files(&media)[0].1.windows(20).any(|w| w == &words.as_bytes()[..20]));
}
