//! Durability: a child process writes in a loop and reports each write acknowledged by the
//! store; it is SIGKILLed at random moments, and every acknowledged write must be on disk.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{enumerator, store_at};
use rand::{Rng, SeedableRng, rngs::StdRng};
use terrain_core::{AnswerPath, Store, Value};

const CHILD_ENV: &str = "TERRAIN_DURABILITY_CHILD_DB";
const KILLS: usize = 50;

/// Not a test on its own: the writer the parent test runs (and kills) as a child process.
#[test]
fn durability_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = store_at(std::path::Path::new(&path), enumerator());
    let id = store.create_survey("household", "2026110101").unwrap();
    println!("created {id}");
    let member: AnswerPath = "member".parse().unwrap();
    for k in 0.. {
        let index = store.add_repeat_instance(&id, &member, None).unwrap();
        store.set_answer(&id, &member.child(index, "member_name"), Value::Text(format!("m{k}"))).unwrap();
        // Printed only after both calls returned Ok: this is the acknowledgement.
        println!("ack {id} {k}");
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let mut rng = StdRng::seed_from_u64(0x7e44a1);
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<(String, i64)> = Vec::new();

    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["durability_child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db)
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
        // Wait for the child to be writing, then let it run a random while and kill it.
        let mut last: Option<(String, i64)> = None;
        let started = Instant::now();
        while last.is_none() && started.elapsed() < Duration::from_secs(30) {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                last = parse_ack(&line).or(last);
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..60)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        for line in rx.try_iter() {
            last = parse_ack(&line).or(last);
        }
        let last = last.unwrap_or_else(|| panic!("round {round}: the child acknowledged nothing"));
        acked.push(last);

        let conn = rusqlite::Connection::open(&db).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "round {round}");
        drop(conn);
        let store = Store::open(&db, enumerator()).unwrap();
        for (id, k) in &acked {
            let survey = store.survey(id).unwrap();
            let members = survey.answers.repeat("member");
            assert!(members.len() as i64 > *k, "round {round}: survey {id} lost acknowledged members");
            for (i, m) in members.iter().take(*k as usize + 1).enumerate() {
                assert_eq!(m.value("member_name"), Some(&Value::Text(format!("m{i}"))), "round {round}");
            }
        }
    }
}

fn parse_ack(line: &str) -> Option<(String, i64)> {
    let mut parts = line.strip_prefix("ack ")?.split(' ');
    Some((parts.next()?.to_owned(), parts.next()?.parse().ok()?))
}
