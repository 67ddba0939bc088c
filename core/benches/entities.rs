//! Entity benchmark: a device holding a large entity list (100,000 plots by default), as
//! the targets put it: opening the list filtered as a follow-up form's
//! `choice_filter` filters it, looking one entity up by id, and what the store grows by,
//! against the compact JSON of the same entities (and, for filtering, against parsing that
//! JSON and filtering it in memory), measured in the same run.
//!
//! Run: `cargo bench -p terrain-core --bench entities` (TERRAIN_BENCH_ENTITIES=N to resize;
//! TERRAIN_BENCH_TABLE=FILE also writes the table to FILE, for `bench/report.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::store::EntityQuery;
use terrain_core::{AnswerPath, Author, Form, Role, Store, Value};

const VILLAGES: usize = 50;
const CROPS: [&str; 5] = ["sorghum", "millet", "maize", "cowpea", "groundnut"];

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The follow-up form: the village first, then a plot of that village from the list.
fn follow_up() -> Form {
    Form::from_json(
        &serde_json::json!({
            "id": "visit", "version": "1", "title": "Visit",
            "children": [
                {"node": "question", "name": "village", "type": {"kind": "text"}},
                {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.csv"},
                 "choice_filter": "village=${village}"},
            ],
            "entities": [{"list": "plots", "entity_id": "${plot}"}],
        })
        .to_string(),
    )
    .unwrap()
}

/// The list as an import reads it, and as compact JSON.
fn plots(n: usize, rng: &mut StdRng) -> (String, String) {
    let mut csv = String::from("name,label,village,bunds_m,crop\n");
    let mut json = Vec::with_capacity(n);
    for i in 0..n {
        let (village, bunds, crop) =
            (format!("V{}", rng.random_range(0..VILLAGES)), rng.random_range(0..200), CROPS[i % 5]);
        let (id, label) = (format!("plot-{i:06}"), format!("BGD-{i:06} — household {}", i * 7 % 1000));
        csv.push_str(&format!("{id},{label},{village},{bunds},{crop}\n"));
        json.push(serde_json::json!({"name": id, "label": label, "village": village, "bunds_m": bunds.to_string(), "crop": crop}));
    }
    (csv, serde_json::to_string(&json).unwrap())
}

fn file_bytes(path: &std::path::Path) -> u64 {
    let wal = path.with_extension("db-wal");
    std::fs::metadata(path).map_or(0, |m| m.len()) + std::fs::metadata(wal).map_or(0, |m| m.len())
}

fn main() {
    let n: usize = std::env::var("TERRAIN_BENCH_ENTITIES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let mut rng = StdRng::seed_from_u64(11);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = Store::open(&path, Author::new("awa", "phone-1", Role::Enumerator)).unwrap();
    store.save_form(&follow_up()).unwrap();
    let (csv, json) = plots(n, &mut rng);
    let empty = file_bytes(&path);

    let t = Instant::now();
    let report = store.import_entities("plots", csv.as_bytes()).unwrap();
    let import = t.elapsed();
    assert_eq!(report.created as usize, n, "{:?}", &report.refused[..report.refused.len().min(3)]);
    drop(store);
    let grown = file_bytes(&path) - empty;
    let store = Store::open(&path, Author::new("awa", "phone-1", Role::Enumerator)).unwrap();

    // Looking one up by id.
    let mut lookups: Vec<Duration> = (0..2000)
        .map(|_| {
            let id = format!("plot-{:06}", rng.random_range(0..n));
            let t = Instant::now();
            std::hint::black_box(store.entity("plots", &id).unwrap().unwrap());
            t.elapsed()
        })
        .collect();

    // A page of the list searched by label, as the app's list screen opens it.
    let mut pages: Vec<Duration> = (0..50)
        .map(|i| {
            let query =
                EntityQuery { search: Some(format!("household {}", i * 13 % 1000)), limit: 100, ..Default::default() };
            let t = Instant::now();
            std::hint::black_box(store.entities("plots", &query).unwrap());
            t.elapsed()
        })
        .collect();

    // The follow-up form's choices for one village: the first evaluation after the list
    // changed (the list read and the form compiled with it), then the next ones.
    let survey = store.create_survey("visit", "1").unwrap();
    store.set_answer(&survey, &AnswerPath::top("village"), Value::Text("V7".into())).unwrap();
    // A supervisor's decision on one plot: the list changed, so the form is compiled anew.
    store.settle_entity("plots", "plot-000000", "bunds_m", "1").unwrap();
    let t = Instant::now();
    let offered = store.evaluate(&survey, None).unwrap().choices[&AnswerPath::top("plot")].len();
    let cold = t.elapsed();
    let mut warm: Vec<Duration> = (0..20)
        .map(|i| {
            let village = Value::Text(format!("V{}", i % VILLAGES));
            store.set_answer(&survey, &AnswerPath::top("village"), village).unwrap();
            let t = Instant::now();
            std::hint::black_box(store.evaluate(&survey, None).unwrap());
            t.elapsed()
        })
        .collect();

    // Baseline: the same filter over the compact JSON, parsed in memory.
    let mut baseline: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let all: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
            std::hint::black_box(all.iter().filter(|p| p["village"] == "V7").count());
            t.elapsed()
        })
        .collect();
    let baseline = percentile(&mut baseline, 0.5);
    let warm50 = percentile(&mut warm, 0.5);

    let per = |bytes: u64| bytes as f64 / n as f64;
    let json_per = per(json.len() as u64);
    let rows = [
        [
            "compact JSON of the entities (baseline)".to_owned(),
            format!("{:.0} B/entity", json_per),
            String::new(),
            format!("{n} plots, 5 properties"),
        ],
        [
            "import from CSV (created)".to_owned(),
            format!("{:.1} s", import.as_secs_f64()),
            format!("{:.0} µs/entity", import.as_secs_f64() * 1e6 / n as f64),
            "one transaction: each entity its Automerge document".to_owned(),
        ],
        [
            "store growth".to_owned(),
            format!("{:.0} B/entity", per(grown)),
            format!("{:.2}× JSON", per(grown) / json_per),
            "SQLite file and WAL after closing; target ≤ 1×".to_owned(),
        ],
        [
            "look one up by id (p50 / p99)".to_owned(),
            format!("{} / {}", ms(percentile(&mut lookups, 0.5)), ms(percentile(&mut lookups, 0.99))),
            String::new(),
            "2000 random ids; target < 1 ms".to_owned(),
        ],
        [
            "list page searched by label (p50 / p99)".to_owned(),
            format!("{} / {}", ms(percentile(&mut pages, 0.5)), ms(percentile(&mut pages, 0.99))),
            String::new(),
            "100 rows, LIKE over labels".to_owned(),
        ],
        [
            "follow-up choices filtered by village, first after a change".to_owned(),
            ms(cold),
            format!("{:.1}× baseline", cold.as_secs_f64() / baseline.as_secs_f64()),
            format!("{offered} of {n} offered; list read, form compiled; target < 100 ms"),
        ],
        [
            "follow-up choices filtered by village, next evaluations (p50)".to_owned(),
            ms(warm50),
            format!("{:.1}× baseline", warm50.as_secs_f64() / baseline.as_secs_f64()),
            "the whole evaluation; target < 100 ms".to_owned(),
        ],
        [
            "  baseline: parse the JSON, filter by village".to_owned(),
            ms(baseline),
            String::new(),
            "serde_json, in memory, p50 of 5".to_owned(),
        ],
    ];
    let mut table = format!("| entity benchmark ({n} entities) | result | ratio | notes |\n|---|---|---|---|\n");
    for [what, result, ratio, note] in rows {
        table.push_str(&format!("| {what} | {result} | {ratio} | {note} |\n"));
    }
    println!("\n{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(&path, table).unwrap();
    }
}
