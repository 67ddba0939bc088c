//! A phone's week of surveys over a 2G link: 100 Guinea surveys (`TERRAIN_BENCH_SURVEYS` to
//! resize) filled offline answer by answer, as the form screen writes them (each answer its
//! own Automerge change), then one sync through a proxy paced to 50 kbit/s each way with
//! 300 ms one-way latency, against the real server on loopback. Target (issue 19): under
//! 30 s of wall time.
//!
//! Prints the bytes on the wire (headers included) against the same answers as compact JSON
//! gzip'd as one stream, measured in the same run, and the wall time against the floor
//! this link allows for those bytes and round trips.
//!
//! `cargo bench -p terrain-server --bench field_link` (TERRAIN_BENCH_TABLE=FILE also writes
//! the table to FILE, for `bench/report.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use terrain_core::Role;
use terrain_core::form::Evaluator;
use terrain_demo::field::Device;
use terrain_demo::pilot::Pilot;
use terrain_demo::proxy::{Link, Proxy};

/// The link: kilobits per second each way, one-way latency in milliseconds.
const KBIT: u64 = 50;
const LATENCY_MS: u64 = 300;

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn main() {
    let n: usize = std::env::var("TERRAIN_BENCH_SURVEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let pilot = Pilot::start(&dir.path().join("server"), 2).unwrap();
    let team = &pilot.teams[0];
    let phone = Device::login(dir.path(), pilot.addr, &team.enumerators[0], Role::Enumerator, &[&team.form]).unwrap();
    let slow = Proxy::start(pilot.addr, Link::throttled(KBIT, LATENCY_MS)).unwrap();
    let mut phone = Device { proxy: slow, ..phone };

    let evaluator = Evaluator::new(&team.form);
    let mut rng = StdRng::seed_from_u64(19);
    let mut written = Vec::new();
    let mut json = Vec::new();
    for _ in 0..n {
        let (_, answers) = phone.collect_answer_by_answer(&evaluator, &mut rng, &mut written).unwrap();
        json.extend(serde_json::to_vec(&answers.to_json()).unwrap());
        json.push(b'\n');
    }
    // What compaction leaves is not what is sent: the history after the server's heads is.
    phone.store.compact_pending(u32::MAX).unwrap();
    let baseline = terrain_demo::gzipped_len(&json).unwrap();

    let started = Instant::now();
    let report = phone.sync().unwrap().expect("the paced link does not drop");
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(report.progress.pushed, n as u64, "every survey pushed");
    assert_eq!(phone.store.pending_count().unwrap(), 0, "and acknowledged");
    let (bytes, uploaded) = (phone.proxy.bytes(), phone.proxy.uploaded());
    let rounds = report.progress.rounds;
    // Each direction carries its own bytes at the link's rate; every HTTP exchange waits a
    // round trip on top.
    let rate = (KBIT * 1000 / 8) as f64;
    let floor =
        (uploaded as f64).max((bytes - uploaded) as f64) / rate + f64::from(rounds) * 2.0 * LATENCY_MS as f64 / 1e3;
    pilot.stop();

    let rows = [
        (
            format!("baseline: the {n} surveys' answers, compact JSON gzip'd as one stream"),
            kib(baseline),
            format!("{} B per survey", baseline / n as u64),
        ),
        (
            "bytes through the link, both ways (HTTP headers included)".into(),
            kib(bytes),
            format!("{:.2}× the gzip'd JSON", bytes as f64 / baseline as f64),
        ),
        (
            "of which the phone's upload".into(),
            kib(uploaded),
            format!("{:.2}× the gzip'd JSON", uploaded as f64 / baseline as f64),
        ),
        (
            format!("wall time over {KBIT} kbit/s, {LATENCY_MS} ms one way"),
            format!("{wall:.1} s"),
            format!("{rounds} round trip(s); target < 30 s"),
        ),
        (
            "floor for those bytes and round trips on this link".into(),
            format!("{floor:.1} s"),
            format!("wall time {:.2}× the floor", wall / floor),
        ),
    ];
    let mut table =
        format!("| a phone's {n} surveys, filled answer by answer, over 2G | result | notes |\n|---|---|---|\n");
    for (what, result, note) in rows {
        table.push_str(&format!("| {what} | {result} | {note} |\n"));
    }
    println!("\n{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(&path, &table).unwrap();
    }
}
