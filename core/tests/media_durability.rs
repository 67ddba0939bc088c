//! Attachments under `kill -9`: a child process attaches a new photo to one answer in a
//! loop, replacing it each time, and reports each attachment acknowledged; it is SIGKILLed
//! at random moments. After every kill the answer holds the last acknowledged photo or the
//! one in flight, and the file it names is there, whole: never a dangling reference.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image::{ImageEncoder, Rgb, RgbImage};
use rand::{Rng, SeedableRng, rngs::StdRng};
use terrain_core::media::Digest;
use terrain_core::{AnswerPath, Author, Form, Role, Store, Value};

const CHILD_ENV: &str = "TERRAIN_MEDIA_DURABILITY_DIR";
const KILLS: usize = 20;

fn author() -> Author {
    Author::new("awa", "phone-1", Role::Enumerator)
}

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

/// Photo `k`: the same picture with `k` written after its end, so every attachment is a
/// file of its own (JPEG readers stop at the end marker).
fn photo(base: &[u8], k: u64) -> Vec<u8> {
    let mut bytes = base.to_vec();
    bytes.extend_from_slice(&k.to_be_bytes());
    bytes
}

/// Not a test on its own: the writer the parent test runs (and kills) as a child process.
#[test]
fn media_durability_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let store = Store::open(dir.join("phone.db"), author()).unwrap();
    let id = std::fs::read_to_string(dir.join("survey")).unwrap();
    let base = std::fs::read(dir.join("base.jpg")).unwrap();
    let start: u64 = std::fs::read_to_string(dir.join("next")).map(|t| t.trim().parse().unwrap_or(0)).unwrap_or(0);
    for k in start.. {
        // Where the next run starts: the parent keeps track of acknowledgements itself.
        std::fs::write(dir.join("next"), (k + 1).to_string()).unwrap();
        let file = dir.join("camera.jpg");
        std::fs::write(&file, photo(&base, k)).unwrap();
        store.attach_media(&id, &p("erosion_photo"), &file).unwrap();
        // Printed only after the call returned Ok: this is the acknowledgement.
        println!("ack {k}");
    }
}

#[test]
fn an_attachment_is_whole_or_not_made_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let form = Form::from_json(include_str!("fixtures/beguedo_slm.json")).unwrap();
    let store = Store::open(dir.path().join("phone.db"), author()).unwrap();
    store.save_form(&form).unwrap();
    let id = store.create_survey(&form.id, &form.version).unwrap();
    store.set_answer(&id, &p("distance_river_m"), Value::Integer(20)).unwrap();
    store.set_answer(&id, &p("bank_erosion"), Value::Choice("yes".into())).unwrap();
    drop(store);
    std::fs::write(dir.path().join("survey"), &id).unwrap();
    // Within the form's max-pixels: each is kept byte for byte, a new file every time.
    let image = RgbImage::from_fn(800, 600, |x, y| Rgb([(x / 7) as u8, (y / 5) as u8, 60]));
    let mut base = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut base, 85)
        .write_image(image.as_raw(), 800, 600, image::ExtendedColorType::Rgb8)
        .unwrap();
    std::fs::write(dir.path().join("base.jpg"), &base).unwrap();

    let mut rng = StdRng::seed_from_u64(0x3ed1a);
    let exe = std::env::current_exe().unwrap();
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["media_durability_child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut last: Option<u64> = None;
        let started = Instant::now();
        while last.is_none() && started.elapsed() < Duration::from_secs(60) {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(20)) {
                last = ack(&line).or(last);
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..80)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        for line in rx.try_iter() {
            last = ack(&line).or(last);
        }
        let last = last.unwrap_or_else(|| panic!("round {round}: the child acknowledged nothing"));

        let store = Store::open(dir.path().join("phone.db"), author()).unwrap();
        let answer = store.survey(&id).unwrap().answers.value("erosion_photo").cloned();
        let Some(Value::Media(held)) = answer else { panic!("round {round}: the photo answer is {answer:?}") };
        let expected = [Digest::of(&photo(&base, last)), Digest::of(&photo(&base, last + 1))];
        assert!(
            expected.contains(&held.digest),
            "round {round}: the answer is neither photo {last}, acknowledged, nor {} in flight",
            last + 1
        );
        let bytes = std::fs::read(store.media_file(&held.digest).unwrap()).unwrap();
        assert_eq!(Digest::of(&bytes), held.digest, "round {round}: the file is not whole");
        assert_eq!(bytes.len() as u64, held.size);
    }
}

fn ack(line: &str) -> Option<u64> {
    line.strip_prefix("ack ")?.trim().parse().ok()
}
