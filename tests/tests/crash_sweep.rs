//! The crash sweep: real processes killed with SIGKILL at many points while they write, then
//! their files opened again. Three writers, each a child process running this test binary:
//! - `device`: an enumerator's store creating and editing surveys;
//! - `relay`: the relay's services taking pushes from a device, round after round;
//! - `review`: the relay's services taking supervisors' corrections and reviews.
//!
//! Each child prints a line for every write only after it returned `Ok` (and, for pushes,
//! the changes of each round before it is sent). After the kill every store and the relay
//! must open, every acknowledged write must be there, and the round in flight must be
//! applied whole or not at all, survey by survey.
//!
//! The suite runs a handful of points per writer; `tests/crash_sweep.sh` runs thousands.
//! `TERRAIN_CRASH_POINTS` sets the points per writer, `TERRAIN_CRASH_SEED` the seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use automerge::{AutoCommit, ChangeHash, ReadDoc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::intake::{self, Budget};
use terrain_core::store::Durability;
use terrain_core::sync::wire::{self, Ack, SyncRequest, SyncResponse};
use terrain_core::sync::{self, CancelToken, SyncOptions, Transport, TransportError};
use terrain_core::{AnswerPath, Store, Value};
use terrain_services::review::{ReviewAction, ReviewRequest};
use terrain_tests::sim::{Relay, Template};

const CHILD_MODE: &str = "TERRAIN_CRASH_CHILD";
const CHILD_DIR: &str = "TERRAIN_CRASH_DIR";
const CHILD_SEED: &str = "TERRAIN_CRASH_CHILD_SEED";

fn var(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn hex(hashes: &[ChangeHash]) -> String {
    hashes.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn parse_hashes(text: &str) -> Vec<ChangeHash> {
    text.split(',').filter(|h| !h.is_empty()).map(|h| h.parse().unwrap()).collect()
}

/// One line to the parent, written at once (the parent reads whole lines only).
fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

// --- The children ---------------------------------------------------------------------------

/// Not a test on its own: the writer the sweep runs, and kills, as a child process.
#[test]
fn crash_child() {
    let (Ok(mode), Ok(dir)) = (std::env::var(CHILD_MODE), std::env::var(CHILD_DIR)) else { return };
    let dir = Path::new(&dir);
    let mut rng = StdRng::seed_from_u64(var(CHILD_SEED).unwrap_or(0));
    let template = world_devices(dir);
    match mode.as_str() {
        "device" => device_child(dir, &template, &mut rng),
        "relay" => relay_child(dir, &template, &mut rng),
        "review" => review_child(dir, &template, &mut rng),
        other => panic!("unknown child mode {other}"),
    }
}

/// The template's devices, as recorded next to a copied world.
fn world_devices(dir: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(dir.join("devices.txt")).unwrap();
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            (parts.next().unwrap().into(), parts.next().unwrap().into(), parts.next().unwrap().into())
        })
        .collect()
}

fn open_device(dir: &Path, devices: &[(String, String, String)], which: usize) -> Store {
    let (file, user, _) = &devices[which];
    let device = file.trim_end_matches(".db");
    let role = if user == "bob" { terrain_core::Role::Supervisor } else { terrain_core::Role::Enumerator };
    // As phones open their store: an Ok survives `kill -9` without waiting for a sync to disk.
    Store::open_with(dir.join(file), terrain_core::Author::new(user, device, role), Durability::ProcessCrash).unwrap()
}

/// Edits one of `surveys` (or starts one) on `store`, and returns the survey.
fn write_something(store: &Store, surveys: &mut Vec<String>, rng: &mut StdRng, k: usize) -> String {
    if surveys.is_empty() || rng.random_bool(0.2) {
        let id = store.create_survey("household", "2026110101").unwrap();
        surveys.push(id.clone());
        return id;
    }
    let id = surveys[rng.random_range(0..surveys.len())].clone();
    match rng.random_range(0..3) {
        0 => {
            store.set_answer(&id, &AnswerPath::top("village"), Value::Text(format!("v{k}"))).unwrap();
        }
        1 => {
            store.set_answer(&id, &AnswerPath::top("hh_size"), Value::Integer(rng.random_range(1..59))).unwrap();
        }
        _ => {
            let member = AnswerPath::top("member");
            let at = store.add_repeat_instance(&id, &member, None).unwrap();
            store.set_answer(&id, &member.child(at, "member_name"), Value::Text(format!("m{k}"))).unwrap();
        }
    }
    id
}

fn device_child(dir: &Path, devices: &[(String, String, String)], rng: &mut StdRng) {
    let store = open_device(dir, devices, 0);
    let mut surveys = Vec::new();
    say("ready".into());
    for k in 0.. {
        let id = write_something(&store, &mut surveys, rng, k);
        say(format!("ack {id} {}", hex(&store.heads(&id).unwrap())));
    }
}

/// A transport straight into the relay's services that reports each round: what it sends
/// (every change of every survey) before, and what was stored after.
struct Reporting {
    relay: Mutex<Relay>,
    token: String,
}

impl Transport for Reporting {
    fn server(&self) -> &str {
        "crash://relay"
    }

    fn sync(&self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let request: SyncRequest = wire::decode(&body).unwrap();
        for push in &request.push {
            let changes = intake::read(&push.changes, &Budget::LOAD).unwrap().changes;
            let hashes: Vec<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
            say(format!("send {} {}", wire::survey_id_string(&push.survey), hex(&hashes)));
        }
        let answer = self.relay.lock().unwrap().deliver(&self.token, &body)?;
        let response: SyncResponse = wire::decode(&answer).unwrap();
        for (push, ack) in request.push.iter().zip(&response.acks) {
            if matches!(ack, Ack::Stored) {
                say(format!("stored {}", wire::survey_id_string(&push.survey)));
            }
        }
        Ok(answer)
    }

    fn form(&self, _: &str, _: &str) -> Result<String, TransportError> {
        Err(TransportError::Network("the device has its forms".into()))
    }
}

fn relay_child(dir: &Path, devices: &[(String, String, String)], rng: &mut StdRng) {
    let store = open_device(dir, devices, 0);
    let link = Reporting { relay: Mutex::new(Relay::new(Template::relay_dir(dir))), token: devices[0].2.clone() };
    let mut surveys = Vec::new();
    say("ready".into());
    for k in 0.. {
        for _ in 0..rng.random_range(1..6) {
            write_something(&store, &mut surveys, rng, k);
        }
        let options = SyncOptions { push_batch_bytes: rng.random_range(500..8_000), ..SyncOptions::default() };
        sync::sync(&store, &link, &options, &|_| {}, &CancelToken::default()).unwrap();
    }
}

fn review_child(dir: &Path, devices: &[(String, String, String)], rng: &mut StdRng) {
    let mut relay = Relay::new(Template::relay_dir(dir));
    let services = relay.services().unwrap();
    let scope = services.authenticate(&devices[2].2).unwrap().scope;
    let surveys: Vec<String> =
        std::fs::read_to_string(dir.join("surveys.txt")).unwrap().lines().map(String::from).collect();
    say("ready".into());
    for k in 0.. {
        let id = &surveys[rng.random_range(0..surveys.len())];
        let action = match rng.random_range(0..4) {
            0 => {
                services
                    .correct(&scope, id, &AnswerPath::top("hh_size"), Value::Integer(rng.random_range(1..59)))
                    .unwrap();
                "survey.correct"
            }
            1 => {
                let request = ReviewRequest { action: ReviewAction::Approve, comment: None, question: None };
                services.review(&scope, id, &request).unwrap();
                "review.approve"
            }
            2 => {
                let request =
                    ReviewRequest { action: ReviewAction::Comment, comment: Some(format!("c{k}")), question: None };
                services.review(&scope, id, &request).unwrap();
                "review.comment"
            }
            _ => {
                let request =
                    ReviewRequest { action: ReviewAction::SendBack, comment: Some(format!("s{k}")), question: None };
                services.review(&scope, id, &request).unwrap();
                "review.send_back"
            }
        };
        let heads = services.backend().heads(id).unwrap().unwrap();
        say(format!("ack {id} {} {action}", hex(&heads)));
    }
}

// --- The sweep ------------------------------------------------------------------------------

/// A fresh copy of the world, with what the children need to know written beside it.
fn prepare(template: &Template, dir: &Path, with_surveys: bool) {
    template.copy_to(dir).unwrap();
    let lines: Vec<String> =
        template.devices.iter().map(|d| format!("{} {} {}", d.file, d.author.user, d.token)).collect();
    std::fs::write(dir.join("devices.txt"), lines.join("\n")).unwrap();
    if with_surveys {
        // Surveys for the reviews, pushed by the enumerator's phone.
        let devices = world_devices(dir);
        let store = open_device(dir, &devices, 0);
        let ids: Vec<String> = (0..4).map(|_| store.create_survey("household", "2026110101").unwrap()).collect();
        let link = Reporting { relay: Mutex::new(Relay::new(Template::relay_dir(dir))), token: devices[0].2.clone() };
        sync::sync(&store, &link, &SyncOptions::default(), &|_| {}, &CancelToken::default()).unwrap();
        std::fs::write(dir.join("surveys.txt"), ids.join("\n")).unwrap();
    }
}

/// Runs one child in `dir`, kills it `after` its first line, and returns what it printed.
fn run_and_kill(mode: &str, dir: &Path, seed: u64, after: Duration) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, mode)
        .env(CHILD_DIR, dir)
        .env(CHILD_SEED, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let started = Instant::now();
    // Wait for the child to be ready, then let it write for `after`.
    while started.elapsed() < Duration::from_secs(60) {
        match rx.recv_timeout(Duration::from_millis(50)) {
            // libtest prints `test crash_child ... ` with no newline before the test runs.
            Ok(line) if line.ends_with("ready") => break,
            Ok(line) => lines.push(line),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => panic!("the {mode} child exited before it was ready"),
        }
    }
    std::thread::sleep(after);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    lines
}

/// Every change of a survey the relay holds.
fn relay_doc(relay: &mut Relay, survey: &str) -> Option<AutoCommit> {
    let backend = relay.services().unwrap().backend().clone();
    backend.heads(survey).unwrap()?;
    let changes = backend.changes_after(survey, &[]).unwrap();
    let mut doc = AutoCommit::new();
    doc.load_incremental(&changes).unwrap();
    Some(doc)
}

fn check_device(dir: &Path, lines: &[String]) -> usize {
    let devices = world_devices(dir);
    let store = open_device(dir, &devices, 0);
    let mut acked = 0;
    for line in lines {
        let Some(rest) = line.strip_prefix("ack ") else { continue };
        let (id, heads) = rest.split_once(' ').unwrap();
        let doc = AutoCommit::load(&store.document_bytes(id).unwrap()).unwrap();
        for h in parse_hashes(heads) {
            assert!(doc.get_change_by_hash(&h).is_some(), "an acknowledged write to {id} was lost: {h}");
        }
        acked += 1;
    }
    for summary in store.list(&terrain_core::SurveyQuery::default()).unwrap() {
        store.survey(&summary.survey_id).unwrap();
    }
    acked
}

fn check_relay(dir: &Path, lines: &[String]) -> usize {
    check_device(dir, &[]);
    let mut relay = Relay::new(Template::relay_dir(dir));
    // The changes of each survey's last round, and whether the relay said it stored them.
    let mut last: HashMap<String, (Vec<ChangeHash>, bool)> = HashMap::new();
    let mut stored = 0;
    for line in lines {
        if let Some(rest) = line.strip_prefix("send ") {
            let (id, hashes) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some((previous, true)) = last.get(id) {
                // A stored round stays stored.
                let doc = relay_doc(&mut relay, id).unwrap_or_else(|| panic!("a stored survey {id} is gone"));
                assert!(
                    previous.iter().all(|h| doc.get_change_by_hash(h).is_some()),
                    "a stored round of {id} was lost"
                );
            }
            last.insert(id.to_owned(), (parse_hashes(hashes), false));
        } else if let Some(id) = line.strip_prefix("stored ") {
            last.get_mut(id).unwrap().1 = true;
            stored += 1;
        }
    }
    for (id, (hashes, was_stored)) in &last {
        let doc = relay_doc(&mut relay, id);
        let present = hashes.iter().filter(|h| doc.as_ref().is_some_and(|d| d.get_change_by_hash(h).is_some())).count();
        if *was_stored {
            assert_eq!(present, hashes.len(), "the relay acknowledged a round of {id} and lost part of it");
        } else {
            assert!(
                present == 0 || present == hashes.len(),
                "a round of {id} was half applied: {present} of {}",
                hashes.len()
            );
        }
    }
    stored
}

fn check_review(dir: &Path, lines: &[String]) -> usize {
    let mut relay = Relay::new(Template::relay_dir(dir));
    let mut acked = 0;
    let mut audited_actions: HashMap<String, usize> = HashMap::new();
    for line in lines {
        let Some(rest) = line.strip_prefix("ack ") else { continue };
        let mut parts = rest.split(' ');
        let (id, heads, action) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let doc = relay_doc(&mut relay, id).unwrap();
        for h in parse_hashes(heads) {
            assert!(doc.get_change_by_hash(&h).is_some(), "an acknowledged {action} of {id} was lost");
        }
        *audited_actions.entry(action.to_owned()).or_default() += 1;
        acked += 1;
    }
    let log = relay.services().unwrap().backend().audit_log(1_000_000).unwrap();
    for (action, n) in audited_actions {
        let logged = log.iter().filter(|e| e.action == action).count();
        assert!(logged >= n, "{n} acknowledged {action} but {logged} in the audit log");
    }
    acked
}

#[test]
fn kill_9_at_many_points_loses_nothing_acknowledged() {
    if std::env::var_os(CHILD_MODE).is_some() {
        return;
    }
    let points = var("TERRAIN_CRASH_POINTS").unwrap_or(6);
    let seed = var("TERRAIN_CRASH_SEED").unwrap_or(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let root = tempfile::tempdir().unwrap();
    let template = Template::build(root.path()).unwrap();
    for mode in ["device", "relay", "review"] {
        let started = Instant::now();
        let mut acknowledged = 0;
        for point in 0..points {
            let dir = root.path().join(format!("{mode}-{point}"));
            prepare(&template, &dir, mode == "review");
            // Kill points spread over the first 300 ms of writing.
            let after = Duration::from_micros(rng.random_range(0..300_000));
            let lines = run_and_kill(mode, &dir, rng.random(), after);
            acknowledged += match mode {
                "device" => check_device(&dir, &lines),
                "relay" => check_relay(&dir, &lines),
                _ => check_review(&dir, &lines),
            };
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert!(points == 0 || acknowledged > 0, "the {mode} writer acknowledged nothing: the sweep tested nothing");
        eprintln!(
            "{mode}: {points} kill points, {acknowledged} acknowledged writes checked, {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}
