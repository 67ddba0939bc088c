//! The cost of one answer plus its evaluation through terrain-ffi, called from Rust: the
//! baseline for the same calls made from Kotlin (`bindings/bench.sh`, which runs this first).
//!
//! `cargo bench -p terrain-ffi --bench set_answer` prints a markdown table and writes the
//! Guinea form as JSON to `$CARGO_TARGET_DIR/bench/guinea_needs.json` for the Kotlin bench,
//! so both sides load the same form and fill the same answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use terrain_core::{AnswerPath, Author, Store, Value};
use terrain_ffi::{AnswerValue, Role, TerrainStore};

/// Calls measured per round, and rounds (the median round is reported).
const CALLS: u32 = 1_000;
const ROUNDS: usize = 5;

fn median_micros(mut f: impl FnMut(u32)) -> f64 {
    for i in 0..100 {
        f(i);
    }
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for i in 0..CALLS {
                f(i);
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

/// The answers both benches fill before measuring: consent, location and a two-member roster.
fn prefill(store: &TerrainStore, id: &str) {
    let set = |path: &str, value: AnswerValue| {
        store.set_answer(id.to_owned(), path.to_owned(), value, None).unwrap();
    };
    set("enumerator_name", AnswerValue::Text { value: "Mariama".into() });
    set("consent", AnswerValue::Choice { code: "yes".into() });
    for (i, age) in [45, 3].into_iter().enumerate() {
        store.add_repeat_instance(id.to_owned(), "member".into(), None).unwrap();
        set(&format!("member[{i}]/member_name"), AnswerValue::Text { value: format!("Member {i}") });
        set(&format!("member[{i}]/member_age"), AnswerValue::Integer { value: age });
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let form = terrain_core::form::xlsform::import_path(&root.join("forms/guinea_needs.xlsx")).unwrap();
    let json = form.to_json();
    std::fs::create_dir_all(target.join("bench")).unwrap();
    std::fs::write(target.join("bench/guinea_needs.json"), &json).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ffi = TerrainStore::open(
        dir.path().join("ffi.db").display().to_string(),
        "bench".into(),
        "bench-device".into(),
        Role::Enumerator,
    )
    .unwrap();
    ffi.import_form_json(json).unwrap();
    let id = ffi.create_survey(form.id.clone(), form.version.clone()).unwrap();
    prefill(&ffi, &id);
    let ffi_set = median_micros(|i| {
        let value = AnswerValue::Integer { value: i64::from(i % 900 + 1) };
        black_box(ffi.set_answer(id.clone(), "hh_number".into(), value, None).unwrap());
    });
    let ffi_eval = median_micros(|_| {
        black_box(ffi.evaluate(id.clone(), None).unwrap());
    });

    // The core alone, without the FFI's conversions: what the wrapper itself costs.
    let core = Store::open(dir.path().join("core.db"), Author::new("bench", "bench-device", terrain_core::Role::Enumerator))
        .unwrap();
    core.save_form(&form).unwrap();
    let core_id = core.create_survey(&form.id, &form.version).unwrap();
    let hh_number: AnswerPath = "hh_number".parse().unwrap();
    let core_set = median_micros(|i| {
        core.set_answer(&core_id, &hh_number, Value::Integer(i64::from(i % 900 + 1))).unwrap();
        black_box(core.evaluate(&core_id, None).unwrap());
    });

    println!("| call (Rust, {CALLS} calls × {ROUNDS} rounds, median) | µs per call |");
    println!("| --- | ---: |");
    println!("| terrain-core `set_answer` + `evaluate` | {core_set:.1} |");
    println!("| terrain-ffi `set_answer` (returns the evaluation) | {ffi_set:.1} |");
    println!("| terrain-ffi `evaluate` | {ffi_eval:.1} |");
}
