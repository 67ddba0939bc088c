//! Export benchmark on the Guinea questionnaire: N surveys (default 100,000) exported to
//! the CSV zip from a server data directory, with the time and the peak memory of the
//! process that exports. Prints a markdown table.
//!
//! The store is filled first (documents built with the batch API, merged into the server's
//! store 1,000 per transaction); then each measurement runs in a child process of this
//! binary, so that its peak resident memory (`VmHWM`) is the export's alone:
//! - the export of every survey, and of the last 10% (an incremental export), whose peaks
//!   show whether memory grows with the dataset. Both read the store's projection (each
//!   survey's relevant answers as a row kept with every merge), not the documents;
//! - `terrain admin rebuild-projections`: every row written again from its document, the
//!   cost an export paid per survey before the projection;
//! - the baseline: the same answers read from plain NDJSON and written as the same tables
//!   with the same CSV writer (no CRDT, no relevance, no zip). Ours ÷ baseline is reported;
//! - an OData client paging through the form's main set, 1,000 rows a page, following each
//!   page's `$skiptoken`, every page serialized as the feed sends it: its throughput against
//!   the CSV export's, and its peak memory.
//!
//! Run: `cargo bench -p terrain-server --bench export` (TERRAIN_BENCH_SURVEYS=N to resize).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/memory.rs"]
mod memory;

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use terrain_core::form::{Form, Node};
use terrain_core::survey::SurveyDoc;
use terrain_core::{Author, Role};
use terrain_export::{self as export, ExportRequest, Format};
use terrain_services::backend::Backend;
use terrain_services::backend::sqlite::SqliteBackend;
use terrain_xlsform as xlsform;

fn guinea() -> Form {
    xlsform::import_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx"))).unwrap()
}

/// Peak and current resident memory of this process, in MiB.
fn memory() -> (f64, f64) {
    memory::resident("self")
}

fn fill(dir: &Path, form: &Form, n: usize) -> PathBuf {
    let backend = SqliteBackend::open(&dir.join("data")).unwrap();
    let project = backend.create_project("pilot").unwrap();
    backend.publish_form(project.id, form).unwrap();
    let json_path = dir.join("answers.ndjson");
    let mut json = BufWriter::new(std::fs::File::create(&json_path).unwrap());
    let mut rng = StdRng::seed_from_u64(2026);
    let devices: Vec<(Author, automerge::ActorId)> = (0..50)
        .map(|i| {
            (
                Author::new(format!("enum{i}"), format!("phone{i}"), Role::Enumerator),
                terrain_core::identity::new_actor_for(None),
            )
        })
        .collect();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let answers = terrain_demo::sample::answers(form, &mut rng);
        serde_json::to_writer(&mut json, &answers.to_json()).unwrap();
        json.write_all(b"\n").unwrap();
        let (author, actor) = &devices[i % devices.len()];
        let id = uuid::Uuid::new_v4().to_string();
        let mut doc = SurveyDoc::create(form, &id, author, actor.clone(), chrono::Utc::now(), &answers).unwrap();
        batch.push((id, doc.save()));
        if batch.len() == 1000 || i + 1 == n {
            for outcome in backend.push(&batch, &mut |_| Ok(())).unwrap() {
                outcome.unwrap();
            }
            batch.clear();
        }
    }
    json.flush().unwrap();
    json_path
}

/// In the child: exports, then prints `seconds peak_mib rss_before_mib surveys`.
fn child_export(data: &Path, form_id: &str, since: u64, out: &Path) {
    let (_, before) = memory();
    let backend = SqliteBackend::open(data).unwrap();
    let mut req = ExportRequest::new(form_id, Format::Csv);
    req.since = since;
    let file = std::fs::File::create(out).unwrap();
    let started = Instant::now();
    let outcome = export::export(&backend as &dyn Backend, &req, &|_| true, &|_, _| {}, file).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let (peak, _) = memory();
    println!("{elapsed} {peak} {before} {}", outcome.surveys);
}

/// In the child: pages through the main OData set of the form, as a client following
/// `@odata.nextLink` does, serializing each page as the feed answers it.
fn child_odata(data: &Path, form_id: &str) {
    use terrain_export::odata::{Service, page};
    let (_, before) = memory();
    let backend = SqliteBackend::open(data).unwrap();
    let forms = export::form_versions(&backend, form_id).unwrap();
    let service = Service::new(&forms).unwrap();
    let set = &service.sets[0];
    let started = Instant::now();
    let (mut rows, mut pages, mut bytes) = (0u64, 0u64, 0u64);
    let mut options = page::Options::default();
    loop {
        let page = page::read(&backend as &dyn Backend, set, &options, &|_| true, &|_, _| {}, None).unwrap();
        rows += page.rows.len() as u64;
        pages += 1;
        bytes += serde_json::to_vec(&serde_json::json!({ "value": page.rows })).unwrap().len() as u64;
        let Some(next) = page.next else { break };
        options = page::Options::parse(&next).unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (peak, _) = memory();
    eprintln!("odata: {pages} pages, {} MiB of JSON", bytes >> 20);
    println!("{elapsed} {peak} {before} {rows}");
}

/// In the child: the baseline, NDJSON answers to the same tables with the same CSV writer.
fn child_baseline(json: &Path, out_dir: &Path) {
    let form = guinea();
    let (_, before) = memory();
    let started = Instant::now();
    // The main table's and each repeat's question columns, in form order.
    fn columns(nodes: &[Node], table: usize, tables: &mut Vec<(String, Vec<String>)>) {
        for node in nodes {
            match node {
                Node::Question(q) if q.kind.takes_answer() => tables[table].1.push(q.name.clone()),
                Node::Question(_) => {}
                Node::Group(g) => columns(&g.children, table, tables),
                Node::Repeat(g) => {
                    tables.push((g.name.clone(), Vec::new()));
                    let inner = tables.len() - 1;
                    columns(&g.children, inner, tables);
                }
            }
        }
    }
    let mut tables = vec![(form.id.clone(), Vec::new())];
    columns(&form.children, 0, &mut tables);
    let mut writers: Vec<csv::Writer<BufWriter<std::fs::File>>> = tables
        .iter()
        .map(|(name, cols)| {
            let mut w = csv::Writer::from_writer(BufWriter::new(
                std::fs::File::create(out_dir.join(format!("baseline-{name}.csv"))).unwrap(),
            ));
            w.write_record(cols).unwrap();
            w
        })
        .collect();
    let cell = |v: Option<&serde_json::Value>| -> String {
        match v {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(" "),
            Some(other) => other.to_string(),
        }
    };
    let reader = std::io::BufReader::new(std::fs::File::open(json).unwrap());
    let mut surveys = 0u64;
    for line in reader.lines() {
        let survey: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        writers[0].write_record(tables[0].1.iter().map(|c| cell(survey.get(c)))).unwrap();
        for (t, (name, cols)) in tables.iter().enumerate().skip(1) {
            for instance in survey.get(name).and_then(|v| v.as_array()).into_iter().flatten() {
                writers[t].write_record(cols.iter().map(|c| cell(instance.get(c)))).unwrap();
            }
        }
        surveys += 1;
    }
    for w in &mut writers {
        w.flush().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (peak, _) = memory();
    println!("{elapsed} {peak} {before} {surveys}");
}

/// In the child: rewrites every projection row from its document, then prints
/// `seconds peak_mib rss_before_mib surveys`.
fn child_rebuild(data: &Path) {
    let (_, before) = memory();
    let backend = SqliteBackend::open(data).unwrap();
    let started = Instant::now();
    let rebuilt = backend.rebuild_projections().unwrap();
    assert_eq!(rebuilt.differed, 0, "the rows kept by the merges are the rebuilt ones");
    let elapsed = started.elapsed().as_secs_f64();
    let (peak, _) = memory();
    println!("{elapsed} {peak} {before} {}", rebuilt.surveys);
}

/// In the child: where an export's time goes, per survey (for tuning; not in the table).
fn child_profile(data: &Path, form_id: &str) {
    use terrain_core::form::{EvalOptions, Evaluator};
    let backend = SqliteBackend::open(data).unwrap();
    let feed = backend
        .feed(
            0,
            2000,
            &terrain_core::store::Visibility::Areas(vec![terrain_core::store::Area {
                forms: Some(vec![form_id.to_owned()]),
                ..Default::default()
            }]),
        )
        .unwrap();
    let t = Instant::now();
    let surveys: Vec<_> = feed.iter().map(|e| backend.survey(&e.summary.survey_id).unwrap()).collect();
    let read = t.elapsed().as_secs_f64() / surveys.len() as f64;
    let form = backend.form(form_id, &surveys[0].meta.form_version).unwrap();
    let evaluator = Evaluator::new(&form);
    let t = Instant::now();
    for s in &surveys {
        let o = EvalOptions { language: None, now: s.meta.created_at.fixed_offset(), seed: 1 };
        std::hint::black_box(evaluator.evaluate(&s.answers, &o));
    }
    let eval = t.elapsed().as_secs_f64() / surveys.len() as f64;
    let t = Instant::now();
    for e in &feed {
        std::hint::black_box(backend.survey_json(&e.summary.survey_id).unwrap());
    }
    let json = t.elapsed().as_secs_f64() / surveys.len() as f64;
    let ids: Vec<String> = feed.iter().map(|e| e.summary.survey_id.clone()).collect();
    let t = Instant::now();
    std::hint::black_box(backend.projected(&ids).unwrap());
    let projected = t.elapsed().as_secs_f64() / surveys.len() as f64;
    println!(
        "document: read {:.3} ms, evaluate {:.3} ms; survey_json {:.3} ms; projection row {:.4} ms",
        read * 1e3,
        eval * 1e3,
        json * 1e3,
        projected * 1e3
    );
}

struct Run {
    seconds: f64,
    peak: f64,
    before: f64,
    surveys: u64,
}

fn child(args: &[&str]) -> Run {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("TERRAIN_EXPORT_BENCH_CHILD", "1")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().last().unwrap();
    let f: Vec<f64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
    Run { seconds: f[0], peak: f[1], before: f[2], surveys: f[3] as u64 }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if std::env::var_os("TERRAIN_EXPORT_BENCH_CHILD").is_some() {
        match args.get(1).map(String::as_str) {
            Some("export") => {
                child_export(Path::new(&args[2]), &args[3], args[4].parse().unwrap(), Path::new(&args[5]))
            }
            Some("profile") => child_profile(Path::new(&args[2]), &args[3]),
            Some("baseline") => child_baseline(Path::new(&args[2]), Path::new(&args[3])),
            Some("odata") => child_odata(Path::new(&args[2]), &args[3]),
            Some("rebuild") => child_rebuild(Path::new(&args[2])),
            _ => panic!("unknown child command"),
        }
        return;
    }
    let n: usize = std::env::var("TERRAIN_BENCH_SURVEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let form = guinea();
    let started = Instant::now();
    let json = fill(dir.path(), &form, n);
    eprintln!("filled {n} surveys in {:.1} s", started.elapsed().as_secs_f64());
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let zip = dir.path().join("export.zip");
    let z = zip.to_str().unwrap();
    if std::env::var_os("TERRAIN_EXPORT_PROFILE").is_some() {
        let out = Command::new(std::env::current_exe().unwrap())
            .env("TERRAIN_EXPORT_BENCH_CHILD", "1")
            .args(["profile", d, &form.id])
            .output()
            .unwrap();
        eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    let full = child(&["export", d, &form.id, "0", z]);
    let zip_size = std::fs::metadata(&zip).unwrap().len() as f64 / 1_048_576.0;
    let tenth =
        child(&["export", d, &form.id, &(n - n / 10).to_string(), dir.path().join("tenth.zip").to_str().unwrap()]);
    let baseline = child(&["baseline", json.to_str().unwrap(), dir.path().to_str().unwrap()]);
    let odata = child(&["odata", d, &form.id]);
    let rebuild = child(&["rebuild", d]);
    assert_eq!(odata.surveys as usize, n, "every survey, once, through the pages");
    let csv_size: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("baseline-"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(full.surveys as usize, n);
    assert_eq!(baseline.surveys as usize, n);
    println!("| export benchmark (Guinea questionnaire, {n} surveys) | result | notes |");
    println!("|---|---|---|");
    println!(
        "| CSV zip export of {n} surveys: time | {:.1} s | {:.0} surveys/s; target < 6 s; zip {zip_size:.0} MiB |",
        full.seconds,
        n as f64 / full.seconds
    );
    println!(
        "| CSV zip export of {n} surveys: peak memory (VmHWM) | {:.0} MiB | {:.0} MiB resident before the export started; target < 100 MB |",
        full.peak, full.before
    );
    println!(
        "| incremental export of the last {} surveys: time, peak memory | {:.1} s, {:.0} MiB | peak ÷ full export's: {:.2} |",
        tenth.surveys,
        tenth.seconds,
        tenth.peak,
        tenth.peak / full.peak
    );
    println!(
        "| baseline: the same answers, plain NDJSON → the same CSV tables (same csv writer) | {:.1} s, {:.0} MiB | {:.0} MiB of CSV, not zipped |",
        baseline.seconds,
        baseline.peak,
        csv_size as f64 / 1_048_576.0
    );
    println!("| export time, ours ÷ baseline | {:.2}× | target ≤ 2.5× |", full.seconds / baseline.seconds);
    println!(
        "| every projection row rewritten from its document (`terrain admin rebuild-projections`): time, peak memory | {:.1} s, {:.0} MiB | {:.2} ms per survey: what each survey cost an export before the projection |",
        rebuild.seconds,
        rebuild.peak,
        rebuild.seconds * 1e3 / rebuild.surveys as f64
    );
    println!(
        "| OData: paging through the {n} surveys' main set, 1,000 rows a page: time, peak memory | {:.1} s, {:.0} MiB | {:.0} rows/s |",
        odata.seconds,
        odata.peak,
        n as f64 / odata.seconds
    );
    println!(
        "| OData throughput ÷ CSV export throughput | {:.2}× | target ≥ 0.5×; peak memory ÷ the CSV export's: {:.2} |",
        full.seconds / odata.seconds,
        odata.peak / full.peak
    );
}
