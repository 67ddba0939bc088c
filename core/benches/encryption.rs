//! What encryption at rest costs a phone: `set_answer` while filling, a sync's ingest (a
//! bundle of surveys received), and opening the store, each on an encrypted store against a
//! plain one filled the same way in the same run, as a ratio (goal ≤ 1.3×).
//!
//! `cargo bench -p terrain-core --bench encryption` prints a markdown table (and writes it
//! to `$TERRAIN_BENCH_TABLE` for `bench/report.sh`). `TERRAIN_BENCH_SURVEYS` sizes the
//! ingest (default 500 surveys). Plain and encrypted runs alternate, so that drift in the
//! machine's speed falls on both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::store::Durability;
use terrain_core::sync::bundle;
use terrain_core::{AnswerPath, Author, Form, Role, Store, StoreKey, Value};

/// Surveys filled question by question per round, and rounds (alternating plain and
/// encrypted).
const FILLED: usize = 40;
const ROUNDS: usize = 3;

fn author() -> Author {
    Author::new("awa", "phone-1", Role::Enumerator)
}

fn form() -> Form {
    Form::from_json(include_str!("../tests/fixtures/household.json")).unwrap()
}

/// A phone's store: encrypted under `key`, or plain.
fn open(path: &Path, key: Option<&StoreKey>) -> Store {
    match key {
        Some(key) => Store::open_encrypted(path, author(), Durability::ProcessCrash, key).unwrap(),
        None => Store::open_with(path, author(), Durability::ProcessCrash).unwrap(),
    }
}

/// Fills one household survey answer by answer, timing each call.
fn fill(store: &Store, rng: &mut StdRng, times: &mut Vec<Duration>) -> String {
    let id = store.create_survey("household", "2026110101").unwrap();
    let mut timed = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    };
    let path = |s: &str| s.parse::<AnswerPath>().unwrap();
    let village = format!("Béguédo secteur {}", rng.random_range(1..12));
    timed(&mut || {
        store.set_answer(&id, &path("village"), Value::Text(village.clone())).unwrap();
    });
    timed(&mut || {
        store.set_answer(&id, &path("head_name"), Value::Text("Salif Ouédraogo".into())).unwrap();
    });
    let size = rng.random_range(2..9);
    timed(&mut || {
        store.set_answer(&id, &path("hh_size"), Value::Integer(size)).unwrap();
    });
    let area = f64::from(rng.random_range(5..400)) / 10.0;
    timed(&mut || {
        store.set_answer(&id, &path("farm_area"), Value::Decimal(area)).unwrap();
    });
    for i in 0..size.min(5) as usize {
        timed(&mut || {
            store.add_repeat_instance(&id, &path("member"), None).unwrap();
        });
        let age = rng.random_range(1..80);
        timed(&mut || {
            store
                .set_answer(&id, &path(&format!("member[{i}]/member_name")), Value::Text(format!("Membre {i}")))
                .unwrap();
        });
        timed(&mut || {
            store.set_answer(&id, &path(&format!("member[{i}]/age")), Value::Integer(age)).unwrap();
        });
    }
    id
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What one store kind measured.
#[derive(Default)]
struct Measured {
    fill: Vec<Duration>,
    ingest: Vec<f64>,
    open: Vec<f64>,
}

fn main() {
    let surveys: usize = std::env::var("TERRAIN_BENCH_SURVEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate().unwrap();

    // The bundle every ingest receives: `surveys` filled households from another phone.
    let source = Store::open(dir.path().join("source.db"), Author::new("moussa", "phone-2", Role::Enumerator)).unwrap();
    source.save_form(&form()).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..surveys {
        fill(&source, &mut rng, &mut Vec::new());
    }
    let sent = bundle::export(&source, None).unwrap();

    let mut plain = Measured::default();
    let mut encrypted = Measured::default();
    for round in 0..ROUNDS {
        for (kind, measured, key) in [("plain", &mut plain, None), ("encrypted", &mut encrypted, Some(&key))] {
            let path = dir.path().join(format!("{kind}-{round}.db"));
            let store = open(&path, key);
            store.save_form(&form()).unwrap();
            let mut rng = StdRng::seed_from_u64(42 + round as u64);
            for _ in 0..FILLED {
                fill(&store, &mut rng, &mut measured.fill);
            }
            let started = Instant::now();
            let report = bundle::import(&store, &sent).unwrap();
            measured.ingest.push(surveys as f64 / started.elapsed().as_secs_f64());
            assert_eq!(report.created, surveys);
            drop(store);
            let started = Instant::now();
            let store = open(&path, key);
            store.list(&Default::default()).unwrap();
            measured.open.push(ms(started.elapsed()));
        }
    }

    let rows = [
        (
            "set_answer while filling, p50",
            ms(percentile(&mut plain.fill, 0.5)),
            ms(percentile(&mut encrypted.fill, 0.5)),
            "ms",
        ),
        (
            "set_answer while filling, p99",
            ms(percentile(&mut plain.fill, 0.99)),
            ms(percentile(&mut encrypted.fill, 0.99)),
            "ms",
        ),
        ("sync ingest (a bundle received)", median(plain.ingest), median(encrypted.ingest), "surveys/s"),
        ("open the store and list its surveys", median(plain.open), median(encrypted.open), "ms"),
    ];
    let mut table = String::from("| measure | plain | encrypted | encrypted ÷ plain |\n|---|---|---|---|\n");
    for (name, plain, encrypted, unit) in rows {
        // A rate's cost is its inverse: the ratio says how much slower in both cases.
        let ratio = if unit == "surveys/s" { plain / encrypted } else { encrypted / plain };
        table
            .push_str(&format!("| {name} | {plain:.3} {unit} | {encrypted:.3} {unit} | {ratio:.2}× (goal ≤ 1.3×) |\n"));
    }
    table.push_str(&format!(
        "\n{} writes per kind ({FILLED} households filled answer by answer, {ROUNDS} rounds); ingest: {surveys} surveys, \
         a {} KB bundle, median of {ROUNDS}; phone durability (`Durability::ProcessCrash`).\n",
        plain.fill.len(),
        sent.len() / 1000
    ));
    println!("\n{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(&path, table).unwrap();
    }
}
