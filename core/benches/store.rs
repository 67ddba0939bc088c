//! Store benchmark: prints a table of local write latency, throughput, query time, load
//! time and bytes per survey against the compact JSON of the same answers.
//!
//! Run: `cargo bench -p terrain-core --bench store` (TERRAIN_BENCH_SURVEYS=N to resize;
//! TERRAIN_BENCH_TABLE=FILE also writes the table to FILE, for `bench/report.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;
use terrain_core::form::{Form, Group, Node, Question, QuestionType};
use terrain_core::survey::{Answer, Answers, Status};
use terrain_core::{AnswerPath, Author, Role, Store, SurveyQuery, Value};

const MEMBERS: usize = 6;

fn question(name: String, kind: QuestionType) -> Node {
    Node::Question(Question {
        name,
        kind,
        label: Default::default(),
        hint: Default::default(),
        required: None,
        required_message: Default::default(),
        relevant: None,
        constraint: None,
        constraint_message: Default::default(),
        calculation: None,
        default: None,
        choice_filter: None,
        appearance: None,
        read_only: None,
        parameters: Default::default(),
        media: Default::default(),
        extra: Default::default(),
    })
}

/// A household form of 30 top-level questions and a member roster of 5 questions.
fn bench_form() -> Form {
    let select = |list: &str| QuestionType::SelectOne { list: list.into(), or_other: false };
    let mut children = Vec::new();
    for i in 0..10 {
        children.push(question(format!("text_{i}"), QuestionType::Text));
        children.push(question(format!("int_{i}"), QuestionType::Integer));
        children.push(question(format!("choice_{i}"), select("yes_no")));
    }
    children.push(Node::Repeat(Group {
        name: "member".into(),
        label: Default::default(),
        relevant: None,
        repeat_count: None,
        appearance: None,
        extra: Default::default(),
        children: vec![
            question("member_name".into(), QuestionType::Text),
            question("age".into(), QuestionType::Integer),
            question("sex".into(), select("sex")),
            question("schooling".into(), select("yes_no")),
            question("weight".into(), QuestionType::Decimal),
        ],
    }));
    let json = serde_json::json!({
        "id": "bench", "version": "1", "title": "Bench", "children": [],
        "choice_lists": {"yes_no": [{"name": "yes"}, {"name": "no"}], "sex": [{"name": "f"}, {"name": "m"}]}
    });
    let mut form = Form::from_json(&json.to_string()).unwrap();
    form.children = children;
    form
}

const VILLAGES: &[&str] = &["Kindia", "Mamou", "Labé", "Siguiri", "Kankan", "Béguédo", "Boké", "Dabola"];

fn answers(rng: &mut StdRng) -> Answers {
    let mut a = Answers::default();
    let put = |a: &mut Answers, k: String, v: Value| {
        a.0.insert(k, Answer::Value(v));
    };
    for i in 0..10 {
        let village = VILLAGES[rng.random_range(0..VILLAGES.len())];
        put(&mut a, format!("text_{i}"), Value::Text(format!("{village} quartier {}", rng.random_range(1..40))));
        put(&mut a, format!("int_{i}"), Value::Integer(rng.random_range(0..5000)));
        put(&mut a, format!("choice_{i}"), Value::Choice(if rng.random_bool(0.5) { "yes" } else { "no" }.into()));
    }
    let members = (0..MEMBERS)
        .map(|m| {
            let mut member = Answers::default();
            put(&mut member, "member_name".into(), Value::Text(format!("Personne {m} Diallo")));
            put(&mut member, "age".into(), Value::Integer(rng.random_range(0..90)));
            put(&mut member, "sex".into(), Value::Choice(if rng.random_bool(0.5) { "f" } else { "m" }.into()));
            put(&mut member, "schooling".into(), Value::Choice("yes".into()));
            put(&mut member, "weight".into(), Value::Decimal(rng.random_range(3.0..95.0f64).round()));
            member
        })
        .collect();
    a.0.insert("member".into(), Answer::Repeat(members));
    a
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn stored_bytes(conn: &Connection, filter: &str) -> (i64, i64) {
    conn.query_row(
        &format!("SELECT count(*), coalesce(sum(length(snapshot) + chunk_bytes), 0) FROM surveys {filter}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn main() {
    let n: usize = std::env::var("TERRAIN_BENCH_SURVEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let author = Author::new("awa", "phone-1", Role::Enumerator);
    let store = Store::open(&path, author.clone()).unwrap();
    let form = bench_form();
    store.save_form(&form).unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // Create + finalize: the way surveys imported or prefilled arrive, one change each.
    let mut json_bytes = 0usize;
    let mut ids = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let a = answers(&mut rng);
        json_bytes += serde_json::to_string(&a.to_json()).unwrap().len();
        let id = store.create_survey_with("bench", "1", &a).unwrap();
        store.finalize(&id).unwrap();
        ids.push(id);
    }
    let elapsed = started.elapsed();
    let answers_per_survey = 30 + 5 * MEMBERS;
    rows.push((
        format!("create + finalize ({answers_per_survey} answers, {MEMBERS}-member repeat)"),
        format!("{:.0} surveys/s", n as f64 / elapsed.as_secs_f64()),
        format!("{n} surveys in {:.1} s", elapsed.as_secs_f64()),
    ));

    // set_answer while filling a survey question after question (the phone's hot path).
    let mut filling = Vec::new();
    let mut log_bytes = 0i64;
    let mut compact_bytes = 0i64;
    let conn = Connection::open(&path).unwrap();
    let fill_surveys = 50;
    let mut filled = Vec::with_capacity(fill_surveys);
    for _ in 0..fill_surveys {
        let id = store.create_survey("bench", "1").unwrap();
        filled.push(id.clone());
        let a = answers(&mut rng);
        for (name, answer) in &a.0 {
            match answer {
                Answer::Value(v) => {
                    let t = Instant::now();
                    store.set_answer(&id, &AnswerPath::top(name.clone()), v.clone()).unwrap();
                    filling.push(t.elapsed());
                }
                Answer::Repeat(members) => {
                    for member in members {
                        let t = Instant::now();
                        let i = store.add_repeat_instance(&id, &AnswerPath::top(name.clone()), None).unwrap();
                        filling.push(t.elapsed());
                        for (field, v) in &member.0 {
                            let Answer::Value(v) = v else { continue };
                            let t = Instant::now();
                            store
                                .set_answer(&id, &AnswerPath::top(name.clone()).child(i, field.clone()), v.clone())
                                .unwrap();
                            filling.push(t.elapsed());
                        }
                    }
                }
                Answer::Unreadable(_) => {}
            }
        }
        // Without compaction the store would hold the empty survey plus one chunk per change.
        let mut doc = terrain_core::SurveyDoc::load(&store.document_bytes(&id).unwrap()).unwrap();
        log_bytes += doc.save_after(&[]).len() as i64;
        store.finalize(&id).unwrap();
        compact_bytes += stored_bytes(&conn, &format!("WHERE survey_id = '{id}'")).1;
    }
    let samples = filling.len();
    rows.push((
        "set_answer while filling (p50 / p99)".into(),
        format!("{} / {}", ms(percentile(&mut filling, 0.5)), ms(percentile(&mut filling, 0.99))),
        format!("{samples} writes, each its own durable transaction; target p99 < 2 ms"),
    ));

    // What another replica receives of those surveys when it has none of them (a first
    // push, a tablet's first pull, a bundle): a change chunk per change, or the document's
    // own encoding (`Store::changes_after` with no heads). Bytes as the sync stream sends
    // them (zstd, one stream), and the receiving store's cost to take them in.
    type Encode = fn(&mut terrain_core::SurveyDoc) -> Vec<u8>;
    let encodings: [(&str, Encode); 2] =
        [("as change chunks", |doc| doc.save_after(&[])), ("as the document encoding", |doc| doc.save_nocompress())];
    let mut received = Vec::new();
    for (label, encode) in encodings {
        let surveys: Vec<(String, Vec<u8>)> = filled
            .iter()
            .map(|id| {
                let mut doc = terrain_core::SurveyDoc::load(&store.document_bytes(id).unwrap()).unwrap();
                (id.clone(), encode(&mut doc))
            })
            .collect();
        let stream: Vec<u8> = surveys.iter().flat_map(|(_, b)| b.iter().copied()).collect();
        let zstd = zstd::encode_all(stream.as_slice(), 3).unwrap().len();
        let receiver = Store::open(dir.path().join(format!("receiver-{}.db", received.len())), author.clone()).unwrap();
        receiver.save_form(&form).unwrap();
        let t = Instant::now();
        for (id, bytes) in &surveys {
            receiver.merge(id, bytes).unwrap();
        }
        let per_survey = t.elapsed() / surveys.len() as u32;
        received.push((label, zstd / surveys.len(), per_survey));
    }
    let (chunks_bytes, chunks_time) = (received[0].1 as f64, received[0].2.as_secs_f64());
    for (label, bytes, time) in received {
        rows.push((
            format!("received whole, filled answer by answer, {label}"),
            format!("{bytes} B/survey; {} per survey", ms(time)),
            format!(
                "zstd'd as one stream; merged into an empty store; {:.2}× the bytes, {:.2}× the time of change chunks",
                bytes as f64 / chunks_bytes,
                time.as_secs_f64() / chunks_time
            ),
        ));
    }

    // set_answer on surveys picked at random (cold: not in the document cache).
    let mut cold = Vec::new();
    for _ in 0..1000 {
        let id = &ids[rng.random_range(0..ids.len())];
        let path = AnswerPath::top(format!("int_{}", rng.random_range(0..10)));
        let t = Instant::now();
        store.set_answer(id, &path, Value::Integer(rng.random_range(0..5000))).unwrap();
        cold.push(t.elapsed());
    }
    rows.push((
        "set_answer on a random stored survey (p50 / p99)".into(),
        format!("{} / {}", ms(percentile(&mut cold, 0.5)), ms(percentile(&mut cold, 0.99))),
        "includes loading the document from SQLite".into(),
    ));

    // Filtered list queries on the metadata columns.
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let queries = [
        (
            "list: form + status + enumerator + since, 50 rows",
            SurveyQuery {
                form_id: Some("bench".into()),
                status: Some(Status::Finalized),
                enumerator: Some("awa".into()),
                updated_since: Some(since),
                limit: Some(50),
                ..Default::default()
            },
        ),
        (
            "list: all finalized of one form (1000 rows)",
            SurveyQuery {
                form_id: Some("bench".into()),
                status: Some(Status::Finalized),
                limit: Some(1000),
                ..Default::default()
            },
        ),
        ("list: with conflicts (none)", SurveyQuery { has_conflicts: Some(true), ..Default::default() }),
    ];
    for (label, query) in queries {
        let mut times: Vec<Duration> = (0..50)
            .map(|_| {
                let t = Instant::now();
                store.list(&query).unwrap();
                t.elapsed()
            })
            .collect();
        rows.push((
            label.into(),
            ms(percentile(&mut times, 0.5)),
            format!("p99 {}; target < 50 ms", ms(percentile(&mut times, 0.99))),
        ));
    }

    // Open the store and load one survey, as an app does on launch.
    let mut opens: Vec<Duration> = (0..20)
        .map(|i| {
            let t = Instant::now();
            let s = Store::open(&path, author.clone()).unwrap();
            s.survey(&ids[i * 97 % ids.len()]).unwrap();
            t.elapsed()
        })
        .collect();
    rows.push(("open store + load one survey (p50)".into(), ms(percentile(&mut opens, 0.5)), String::new()));

    // Bytes per survey.
    let (count, total) = stored_bytes(&conn, "");
    let json_avg = json_bytes as f64 / n as f64;
    let stored_avg = total as f64 / count as f64;
    rows.push((
        "compact JSON of the answers (baseline)".into(),
        format!("{json_avg:.0} B/survey"),
        "serde_json of the same answers".into(),
    ));
    rows.push((
        "stored, filled answer by answer, as a log of changes".into(),
        format!("{:.0} B/survey", log_bytes as f64 / fill_surveys as f64),
        format!("{:.2}× JSON", log_bytes as f64 / fill_surveys as f64 / json_avg),
    ));
    rows.push((
        "stored, filled answer by answer, after compaction".into(),
        format!("{:.0} B/survey", compact_bytes as f64 / fill_surveys as f64),
        format!("{:.2}× JSON; target ≤ 1×", compact_bytes as f64 / fill_surveys as f64 / json_avg),
    ));
    rows.push((
        "stored, whole store (after compaction)".into(),
        format!("{stored_avg:.0} B/survey"),
        format!("{:.2}× JSON, {count} surveys", stored_avg / json_avg),
    ));
    let file_bytes = std::fs::metadata(&path).unwrap().len() as f64;
    rows.push((
        "SQLite file per survey (pages, indexes)".into(),
        format!("{:.0} B/survey", file_bytes / count as f64),
        String::new(),
    ));

    let mut table = format!("| store benchmark ({n} surveys) | result | notes |\n|---|---|---|\n");
    for (what, result, note) in rows {
        table.push_str(&format!("| {what} | {result} | {note} |\n"));
    }
    print_table(&table);
}

/// Prints the table, and writes it to `$TERRAIN_BENCH_TABLE` if set (for `bench/report.sh`).
fn print_table(table: &str) {
    println!("\n{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(&path, table).unwrap();
    }
}
