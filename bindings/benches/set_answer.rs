//! The cost of one answer plus its evaluation through terrain-ffi, called from Rust: the
//! baseline for the same calls made from Kotlin (`bindings/bench.sh`, which runs this first).
//!
//! `cargo bench -p terrain-ffi --bench set_answer` prints a markdown table and writes the
//! Guinea form as JSON to `$CARGO_TARGET_DIR/bench/guinea_needs.json` for the Kotlin bench,
//! so both sides load the same form and fill the same answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use terrain_core::{AnswerPath, Author, Role as CoreRole, Store, Value};
use terrain_ffi::{AnswerValue, Role, TerrainStore};

/// Each round fills `SURVEYS` fresh surveys (outside the timing), then times `EDITS` edits
/// of each, interleaved: a survey's history stays the size of a real one (the store reloads
/// a document from SQLite when it evaluates, so its length matters). Median of `ROUNDS`.
const SURVEYS: usize = 20;
const EDITS: u32 = 10;
const ROUNDS: usize = 5;

/// The median over rounds of the mean time per call, in µs. `setup` makes a round's surveys;
/// `call(survey, i)` is the measured call.
fn median_micros<S>(mut setup: impl FnMut() -> Vec<S>, mut call: impl FnMut(&S, u32)) -> f64 {
    let mut rounds: Vec<f64> = (0..=ROUNDS)
        .map(|_| {
            let surveys = setup();
            let start = Instant::now();
            for i in 0..EDITS {
                for survey in &surveys {
                    call(survey, i);
                }
            }
            start.elapsed().as_secs_f64() * 1e6 / (f64::from(EDITS) * surveys.len() as f64)
        })
        .skip(1) // warm-up
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

/// A survey with the answers both benches fill before measuring: consent and a two-member
/// roster.
fn prefilled(store: &TerrainStore, form_id: &str, version: &str) -> String {
    let id = store.create_survey(form_id.to_owned(), version.to_owned()).unwrap();
    let set = |path: &str, value: AnswerValue| {
        store.set_answer(id.clone(), path.to_owned(), value, None).unwrap();
    };
    set("enumerator_name", AnswerValue::Text { value: "Mariama".into() });
    set("consent", AnswerValue::Choice { code: "yes".into() });
    for (i, age) in [45, 3].into_iter().enumerate() {
        store.add_repeat_instance(id.clone(), "member".into(), None).unwrap();
        set(&format!("member[{i}]/member_name"), AnswerValue::Text { value: format!("Member {i}") });
        set(&format!("member[{i}]/member_age"), AnswerValue::Integer { value: age });
    }
    id
}

/// The bench never reaches a server.
struct Offline;

impl terrain_ffi::HttpClient for Offline {
    fn send(&self, _: terrain_ffi::HttpRequest) -> Result<terrain_ffi::HttpResponse, terrain_ffi::TerrainError> {
        Err(terrain_ffi::TerrainError::Network { detail: "offline".into() })
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let json = std::fs::read_to_string(root.join("core/tests/fixtures/guinea_needs.json")).unwrap();
    let form = terrain_core::Form::from_json(&json).unwrap();
    std::fs::create_dir_all(target.join("bench")).unwrap();
    std::fs::write(target.join("bench/guinea_needs.json"), &json).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ffi = TerrainStore::open(
        dir.path().join("ffi.db").display().to_string(),
        "bench".into(),
        "bench-device".into(),
        Role::Enumerator,
        Arc::new(Offline),
        None,
    )
    .unwrap();
    ffi.import_form_json(json).unwrap();
    let (form_id, version) = (form.id.clone(), form.version.clone());
    let fill = || (0..SURVEYS).map(|_| prefilled(&ffi, &form_id, &version)).collect::<Vec<_>>();
    let ffi_set = median_micros(fill, |id, i| {
        let value = AnswerValue::Integer { value: i64::from(i + 1) };
        black_box(ffi.set_answer(id.clone(), "hh_number".into(), value, None).unwrap());
    });
    let ffi_eval = median_micros(fill, |id, _| {
        black_box(ffi.evaluate(id.clone(), None).unwrap());
    });

    // The core alone, without the FFI's conversions, on surveys of the same content (made
    // through the FFI, then edited through the core): what the wrapper itself costs.
    let hh_number: AnswerPath = "hh_number".parse().unwrap();
    let core_store =
        Store::open(dir.path().join("ffi.db"), Author::new("bench", "bench-device", CoreRole::Enumerator)).unwrap();
    let core_set = median_micros(fill, |id, i| {
        core_store.set_answer(id, &hh_number, Value::Integer(i64::from(i + 1))).unwrap();
        black_box(core_store.evaluate(id, None).unwrap());
    });
    let core_eval = median_micros(fill, |id, _| {
        black_box(core_store.evaluate(id, None).unwrap());
    });

    let calls = SURVEYS * EDITS as usize;
    println!("| Rust ({calls} calls per round, median of {ROUNDS} rounds) | µs per call |");
    println!("| --- | ---: |");
    println!("| terrain-core `set_answer` + `evaluate` (no FFI types) | {core_set:.1} |");
    println!("| terrain-ffi `set_answer` (returns the evaluation) | {ffi_set:.1} |");
    println!("| terrain-core `evaluate` | {core_eval:.1} |");
    println!("| terrain-ffi `evaluate` | {ffi_eval:.1} |");
}
