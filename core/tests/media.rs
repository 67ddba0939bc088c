//! Attached files on a device: what an image question takes, `max-pixels`, replacing and
//! removing, what waits for upload, and the relay's index of which survey holds which file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use terrain_core::media::{Digest, MediaError};
use terrain_core::store::StoreError;
use terrain_core::{AnswerPath, Author, Form, Role, Store, Value};

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

/// A photo of `width` × `height` written to `dir`, as the camera app leaves it.
fn photo(dir: &Path, name: &str, width: u32, height: u32, shade: u8) -> PathBuf {
    let image = RgbImage::from_fn(width, height, |x, y| Rgb([(x / 7 % 256) as u8, (y / 5 % 256) as u8, shade]));
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 90)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A survey near the river with erosion seen: its photo question is relevant.
fn eroded_bank(store: &Store) -> String {
    let id = store.create_survey(FORM, VERSION).unwrap();
    store.set_answer(&id, &p("distance_river_m"), Value::Integer(40)).unwrap();
    store.set_answer(&id, &p("bank_erosion"), Value::Choice("yes".into())).unwrap();
    id
}

fn enumerator() -> Author {
    Author::new("awa", "phone-1", Role::Enumerator)
}

#[test]
fn a_photo_over_max_pixels_is_stored_downscaled_and_its_answer_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("phone.db"), enumerator());
    let id = eroded_bank(&store);
    let taken = photo(dir.path(), "IMG_0001.jpg", 2400, 1800, 40);
    let attached = store.attach_media(&id, &p("erosion_photo"), &taken).unwrap();
    // The form says max-pixels 1280: the longest side is brought down to it.
    assert_eq!(attached.dimensions, Some((1280, 960)));
    assert_eq!(attached.media_type, "image/jpeg");
    assert_eq!(attached.file_name, "IMG_0001.jpg");
    let kept = std::fs::read(store.media_file(&attached.digest).unwrap()).unwrap();
    assert_eq!(Digest::of(&kept), attached.digest);
    assert_eq!(kept.len() as u64, attached.size);
    assert!(attached.size < std::fs::metadata(&taken).unwrap().len());
    // The app may delete its own copy: the store holds the bytes.
    std::fs::remove_file(&taken).unwrap();
    let answers = store.survey(&id).unwrap().answers;
    assert_eq!(answers.value("erosion_photo"), Some(&Value::Media(attached.clone())));
    // A store opened again reads the same reference back.
    drop(store);
    let store = Store::open(dir.path().join("phone.db"), enumerator()).unwrap();
    assert_eq!(store.survey(&id).unwrap().answers.value("erosion_photo"), Some(&Value::Media(attached)));
}

#[test]
fn a_small_photo_is_kept_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("phone.db"), enumerator());
    let id = eroded_bank(&store);
    let taken = photo(dir.path(), "small.jpg", 640, 480, 90);
    let attached = store.attach_media(&id, &p("erosion_photo"), &taken).unwrap();
    assert_eq!(attached.dimensions, Some((640, 480)));
    assert_eq!(std::fs::read(store.media_file(&attached.digest).unwrap()).unwrap(), std::fs::read(&taken).unwrap());
}

#[test]
fn what_a_question_does_not_take_is_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("phone.db"), enumerator());
    let id = eroded_bank(&store);
    let heads = store.heads(&id).unwrap();
    let document = dir.path().join("consent.pdf");
    std::fs::write(&document, b"%PDF-1.7\nnot a photo").unwrap();
    match store.attach_media(&id, &p("erosion_photo"), &document) {
        Err(StoreError::Media(MediaError::WrongKind { wanted: "an image", .. })) => {}
        other => panic!("{other:?}"),
    }
    let taken = photo(dir.path(), "bank.jpg", 100, 100, 1);
    match store.attach_media(&id, &p("farmer_name"), &taken) {
        Err(StoreError::Media(MediaError::NotAMediaQuestion(q))) => assert_eq!(q, "farmer_name"),
        other => panic!("{other:?}"),
    }
    match store.attach_media(&id, &p("erosion_photo"), &dir.path().join("missing.jpg")) {
        Err(StoreError::Media(MediaError::Io { .. })) => {}
        other => panic!("{other:?}"),
    }
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, &std::fs::read(photo(dir.path(), "big.jpg", 2000, 2000, 3)).unwrap()[..600]).unwrap();
    assert!(matches!(
        store.attach_media(&id, &p("erosion_photo"), &broken),
        Err(StoreError::Media(MediaError::Image(_)))
    ));
    assert_eq!(store.heads(&id).unwrap(), heads, "no answer was written");
    assert!(store.pending_media().unwrap().is_empty());
}

#[test]
fn a_photo_replaced_or_removed_before_the_sync_is_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("phone.db"), enumerator());
    let first = eroded_bank(&store);
    let second = eroded_bank(&store);
    let blurred = store.attach_media(&first, &p("erosion_photo"), &photo(dir.path(), "a.jpg", 300, 200, 1)).unwrap();
    let sharp = store.attach_media(&first, &p("erosion_photo"), &photo(dir.path(), "b.jpg", 300, 200, 2)).unwrap();
    let other = store.attach_media(&second, &p("erosion_photo"), &photo(dir.path(), "c.jpg", 320, 200, 3)).unwrap();
    let pending: Vec<Digest> = store.pending_media().unwrap().into_iter().map(|p| p.digest).collect();
    assert_eq!(pending.len(), 2, "the replaced photo is not sent");
    assert!(pending.contains(&sharp.digest) && pending.contains(&other.digest));
    assert!(store.media_file(&blurred.digest).is_err(), "its bytes are gone");
    store.clear_answer(&second, &p("erosion_photo")).unwrap();
    let pending: Vec<Digest> = store.pending_media().unwrap().into_iter().map(|p| p.digest).collect();
    assert_eq!(pending, vec![sharp.digest]);
    store.mark_media_uploaded(&sharp.digest).unwrap();
    assert!(store.pending_media().unwrap().is_empty());
    assert!(store.media_file(&sharp.digest).is_ok(), "an uploaded photo stays on the phone");
    // A server restored from a backup (a new epoch) is asked about every file again.
    store.begin_epoch("https://relay.example.org", &[7; 16], 2, 0).unwrap();
    let pending: Vec<Digest> = store.pending_media().unwrap().into_iter().map(|p| p.digest).collect();
    assert_eq!(pending, vec![sharp.digest]);
}

#[test]
fn the_same_photo_in_two_surveys_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("phone.db"), enumerator());
    let taken = photo(dir.path(), "bank.jpg", 300, 200, 7);
    let a = store.attach_media(&eroded_bank(&store), &p("erosion_photo"), &taken).unwrap();
    let b = store.attach_media(&eroded_bank(&store), &p("erosion_photo"), &taken).unwrap();
    assert_eq!(a.digest, b.digest);
    assert_eq!(store.pending_media().unwrap().len(), 1);
    assert_eq!(store.blobs().unwrap().digests().unwrap(), vec![a.digest]);
}

#[test]
fn the_relay_knows_which_surveys_hold_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let phone = open(&dir.path().join("phone.db"), enumerator());
    let relay = open(&dir.path().join("relay.db"), Author::new("server", "relay", Role::Admin));
    relay.keep_projections().unwrap();
    let id = eroded_bank(&phone);
    let attached = phone.attach_media(&id, &p("erosion_photo"), &photo(dir.path(), "bank.jpg", 300, 200, 9)).unwrap();
    relay.merge(&id, &phone.changes_after(&id, &[]).unwrap()).unwrap();
    assert_eq!(relay.surveys_with_media(&attached.digest, "", 10).unwrap(), vec![id.clone()]);
    // A photo under a question no longer relevant (the plot is far from the river) is
    // left out of exports, but is still the survey's: it comes back if the answer does, so
    // it is neither collected nor refused.
    phone.set_answer(&id, &p("distance_river_m"), Value::Integer(5000)).unwrap();
    let heads = relay.heads(&id).unwrap();
    relay.merge(&id, &phone.changes_after(&id, &heads).unwrap()).unwrap();
    assert_eq!(relay.surveys_with_media(&attached.digest, "", 10).unwrap(), vec![id.clone()]);
    let exported = relay.projected(std::slice::from_ref(&id)).unwrap().remove(0).unwrap();
    assert!(exported.answers.value("erosion_photo").is_none());
    // Cleared, it is no longer.
    phone.clear_answer(&id, &p("erosion_photo")).unwrap();
    let heads = relay.heads(&id).unwrap();
    relay.merge(&id, &phone.changes_after(&id, &heads).unwrap()).unwrap();
    assert!(relay.surveys_with_media(&attached.digest, "", 10).unwrap().is_empty());
}

#[test]
fn a_photo_that_lost_a_conflict_is_kept_and_sent() {
    let dir = tempfile::tempdir().unwrap();
    let phone = open(&dir.path().join("phone.db"), enumerator());
    let tablet = open(&dir.path().join("tablet.db"), Author::new("moussa", "tablet-1", Role::Supervisor));
    let relay = open(&dir.path().join("relay.db"), Author::new("server", "relay", Role::Admin));
    relay.keep_projections().unwrap();
    let id = eroded_bank(&phone);
    tablet.merge(&id, &phone.changes_after(&id, &[]).unwrap()).unwrap();
    // Both photograph the bank before either syncs.
    let mine = phone.attach_media(&id, &p("erosion_photo"), &photo(dir.path(), "a.jpg", 300, 200, 1)).unwrap();
    let theirs = tablet.attach_media(&id, &p("erosion_photo"), &photo(dir.path(), "b.jpg", 300, 200, 2)).unwrap();
    phone.merge(&id, &tablet.changes_after(&id, &[]).unwrap()).unwrap();
    tablet.merge(&id, &phone.changes_after(&id, &[]).unwrap()).unwrap();
    relay.merge(&id, &phone.changes_after(&id, &[]).unwrap()).unwrap();
    // Whichever won, each device still sends its own photo, and the relay takes both.
    assert_eq!(phone.pending_media().unwrap().iter().map(|m| m.digest).collect::<Vec<_>>(), vec![mine.digest]);
    assert_eq!(tablet.pending_media().unwrap().iter().map(|m| m.digest).collect::<Vec<_>>(), vec![theirs.digest]);
    for digest in [mine.digest, theirs.digest] {
        assert_eq!(relay.surveys_with_media(&digest, "", 10).unwrap(), vec![id.clone()]);
    }
}
