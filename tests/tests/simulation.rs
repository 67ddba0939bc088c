//! Seeded schedules of devices and the relay over a faulty network (see `terrain_tests::sim`).
//!
//! The suite runs a few dozen; `tests/simulate.sh` runs ten thousand and prints the figures
//! `docs/benchmarks.md` records. Environment:
//! - `TERRAIN_SIM_SCHEDULES`: how many schedules (default 24);
//! - `TERRAIN_SIM_FIRST`: the first seed (default 1), the others follow;
//! - `TERRAIN_SIM_SEED`: run this one seed only and print its events (to replay a failure);
//! - `TERRAIN_SIM_THREADS`: schedules run at once (default 1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use terrain_tests::sim::{self, Fault, Outcome, Template};

fn var(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn seeded_schedules_converge_and_lose_no_acknowledged_write() {
    let root = tempfile::tempdir().unwrap();
    let template = Template::build(root.path()).unwrap();
    if let Some(seed) = var("TERRAIN_SIM_SEED") {
        match sim::run(seed, &template, root.path()) {
            Ok(outcome) => eprintln!("seed {seed} passed: {outcome:?}"),
            Err(failure) => panic!("{failure}"),
        }
        return;
    }
    let count = var("TERRAIN_SIM_SCHEDULES").unwrap_or(24);
    let first = var("TERRAIN_SIM_FIRST").unwrap_or(1);
    let threads = var("TERRAIN_SIM_THREADS").unwrap_or(1).max(1);
    let next = AtomicU64::new(first);
    let total = Mutex::new(Outcome::default());
    let failures = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= first + count {
                        break;
                    }
                    match sim::run(seed, &template, root.path()) {
                        Ok(outcome) => total.lock().unwrap().add(&outcome),
                        Err(failure) => failures.lock().unwrap().push(failure),
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let total = total.into_inner().unwrap();
    let failures = failures.into_inner().unwrap();
    eprintln!("schedules: {count} (seeds {first}..{}), failed: {}", first + count, failures.len());
    eprintln!(
        "wall time: {:.1} s ({:.1} ms per schedule)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / count as f64
    );
    eprintln!(
        "steps: {}, syncs: {}, surveys: {}, acknowledged writes checked: {}, relay crashes: {}, device crashes: {}",
        total.steps, total.syncs, total.surveys, total.acknowledged, total.relay_crashes, total.device_crashes
    );
    eprintln!("messages delivered untouched: {}", total.delivered);
    for (fault, n) in Fault::ALL.iter().zip(total.faults) {
        eprintln!("  {fault:?}: {n}");
    }
    eprintln!("heal passes: {} ({:.2} per schedule)", total.heal_passes, total.heal_passes as f64 / count as f64);
    if let Some(failure) = failures.first() {
        panic!("{} of {count} schedules failed; the first:\n{failure}", failures.len());
    }
}
