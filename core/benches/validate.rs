//! Validation benchmark: the full re-evaluation a form screen runs after every answer, on a
//! generated 500-question form and on the two mission forms, against two baselines measured
//! in the same run:
//! - *read*: reading the same answers out of the survey's Automerge document
//!   (`SurveyDoc::answers`), which the app does anyway before evaluating;
//! - *flat expressions*: every expression of the form evaluated as many times as a full
//!   evaluation at most would (once per repeat instance, filters once per choice) against a
//!   plain `HashMap` context: the expression engine's own cost, without relevance, scopes,
//!   dependency order, paths or messages.
//!
//! Run: `cargo bench -p terrain-core --bench validate` (TERRAIN_BENCH_RUNS=N to resize;
//! TERRAIN_BENCH_TABLE=FILE also writes the table to FILE, for `bench/report.sh`;
//! TERRAIN_BENCH_WRITE_FORM=DIR only writes the generated form and its answers as JSON
//! there, for `bench/form_eval.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{Value as Json, json};
use terrain_core::form::expr::{EvalContext, Expression};
use terrain_core::form::validate::{EvalOptions, Evaluator};
use terrain_core::form::{Form, FormIndex, Node};
use terrain_core::survey::{Answer, Answers};
use terrain_core::{Author, GeoPoint, Role, SurveyDoc, Value};

const BLOCKS: usize = 50;
const MEMBERS: usize = 10;

// ---------------------------------------------------------------------------------------
// The generated form: 50 blocks of 8 questions (relevance, constraints, a calculation chain
// running through every block), a region → district cascade, and a 10-question member
// repeat filled 10 times: 402 top-level questions + 100 in the repeat.

fn q(name: &str, kind: Json, extra: Json) -> Json {
    let mut node = json!({"node": "question", "name": name, "type": kind});
    for (k, v) in extra.as_object().unwrap() {
        node[k] = v.clone();
    }
    node
}

fn kind(k: &str) -> Json {
    json!({"kind": k})
}

fn list(k: &str, list: &str) -> Json {
    json!({"kind": k, "list": list})
}

fn generated_form() -> Form {
    let mut children = vec![
        q("region", list("select_one", "region"), json!({"required": "true()"})),
        q(
            "district",
            list("select_one", "district"),
            json!({"required": "true()", "choice_filter": "region=${region}"}),
        ),
    ];
    for i in 0..BLOCKS {
        let b = |s: &str| format!("b{i}_{s}");
        let total = if i == 0 {
            "${b0_n} + 0".to_owned()
        } else {
            format!("${{b{}_total}} + coalesce(${{b{i}_amount}}, 0)", i - 1)
        };
        let block = vec![
            q(&b("n"), kind("integer"), json!({"required": "true()", "constraint": ". >= 0 and . <= 1000"})),
            q(
                &b("yn"),
                list("select_one", "yn"),
                json!({"required": "true()", "relevant": format!("${{{}}} > 10", b("n"))}),
            ),
            q(
                &b("amount"),
                kind("decimal"),
                json!({
                    "relevant": format!("${{{}}} = 'yes'", b("yn")),
                    "constraint": format!(". <= ${{{}}} * 2", b("n")),
                    "constraint_message": {"English (en)": "Too much.", "Français (fr)": "Trop."},
                }),
            ),
            q(&b("total"), kind("calculate"), json!({"calculation": total})),
            q(
                &b("name"),
                kind("text"),
                json!({
                    "required": format!("${{{}}} > 5", b("n")),
                    "constraint": "string-length(.) <= 50 and regex(., '^[A-Za-z ]+$')",
                }),
            ),
            q(
                &b("crops"),
                list("select_multiple", "crops"),
                json!({"constraint": "not(selected(., 'none') and count-selected(.) > 1)"}),
            ),
            q(&b("date"), kind("date"), json!({"constraint": ". <= today()"})),
            q(
                &b("size"),
                kind("calculate"),
                json!({"calculation": format!("if(${{{}}} > 100, 'big', 'small')", b("total"))}),
            ),
        ];
        let relevant = if i % 5 == 4 { json!(format!("${{b{}_yn}} != 'no'", i - 1)) } else { Json::Null };
        let mut group = json!({"node": "group", "name": format!("block_{i}"), "children": block});
        if !relevant.is_null() {
            group["relevant"] = relevant;
        }
        children.push(group);
    }
    children.push(json!({"node": "repeat", "name": "member", "relevant": "${b0_n} >= 0", "children": [
        q("m_name", kind("text"), json!({"required": "true()"})),
        q("m_age", kind("integer"), json!({"required": "true()", "constraint": ". >= 0 and . <= 120"})),
        q("m_sex", list("select_one", "sex"), json!({"required": "true()"})),
        q("m_relation", list("select_one", "relation"), json!({
            "constraint": "(position(..) = 1 and . = 'head') or (position(..) > 1 and . != 'head')"})),
        q("m_school", list("select_one", "yn"), json!({"required": "true()", "relevant": "${m_age} >= 6 and ${m_age} <= 18"})),
        q("m_under5", kind("calculate"), json!({"calculation": "if(${m_age} < 5, 1, 0)"})),
        q("m_weight", kind("decimal"), json!({"constraint": ". > 0 and . < 200"})),
        q("m_income", kind("integer"), json!({"relevant": "${m_age} >= 15", "constraint": ". >= 0"})),
        q("m_code", kind("calculate"), json!({"calculation": "concat(${m_name}, '-', position(..))"})),
        q("m_share", kind("calculate"), json!({"calculation": "round(coalesce(${m_income}, 0) * 100 div ${hh_income}, 1)"})),
    ]}));
    children.push(q("n_members", kind("calculate"), json!({"calculation": "count(${member})"})));
    children.push(q("n_under5", kind("calculate"), json!({"calculation": "sum(${m_under5})"})));
    children.push(q("hh_income", kind("calculate"), json!({"calculation": "sum(${m_income})"})));
    children.push(q("head", kind("calculate"), json!({"calculation": "indexed-repeat(${m_name}, ${member}, 1)"})));

    let regions = ["conakry", "boke", "kindia", "labe", "mamou", "faranah", "kankan", "nzerekore"];
    let districts: Vec<Json> =
        (0..40).map(|d| json!({"name": format!("d{d}"), "extra": {"region": regions[d % regions.len()]}})).collect();
    let names = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
    let form = json!({
        "id": "generated", "version": "1", "title": "Generated",
        "default_language": "English (en)", "languages": ["English (en)", "Français (fr)"],
        "children": children,
        "choice_lists": {
            "region": names(&regions),
            "district": districts,
            "yn": names(&["yes", "no"]),
            "sex": names(&["female", "male"]),
            "relation": names(&["head", "spouse", "child", "other"]),
            "crops": names(&["sorghum", "millet", "maize", "onion", "none"]),
        },
    });
    Form::from_json(&form.to_string()).unwrap()
}

#[derive(Default)]
struct A(Answers);

impl A {
    fn put(mut self, name: &str, value: Value) -> A {
        self.0.0.insert(name.to_owned(), Answer::Value(value));
        self
    }
    fn text(self, name: &str, v: &str) -> A {
        self.put(name, Value::Text(v.to_owned()))
    }
    fn int(self, name: &str, v: i64) -> A {
        self.put(name, Value::Integer(v))
    }
    fn dec(self, name: &str, v: f64) -> A {
        self.put(name, Value::Decimal(v))
    }
    fn choice(self, name: &str, v: &str) -> A {
        self.put(name, Value::Choice(v.to_owned()))
    }
    fn choices(self, name: &str, v: &[&str]) -> A {
        self.put(name, Value::Choices(v.iter().map(|s| s.to_string()).collect()))
    }
    fn date(self, name: &str, y: i32, m: u32, d: u32) -> A {
        self.put(name, Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap()))
    }
    fn repeat(mut self, name: &str, instances: Vec<A>) -> A {
        self.0.0.insert(name.to_owned(), Answer::Repeat(instances.into_iter().map(|a| a.0).collect()));
        self
    }
}

fn generated_answers() -> Answers {
    let mut a = A::default().choice("region", "kindia").choice("district", "d2");
    for i in 0..BLOCKS {
        let n = (i * 37 % 200) as i64;
        a = a.int(&format!("b{i}_n"), n).text(&format!("b{i}_name"), "Awa Camara");
        a = a.choices(&format!("b{i}_crops"), &["sorghum", "onion"]).date(
            &format!("b{i}_date"),
            2026,
            10,
            1 + (i % 28) as u32,
        );
        if n > 10 {
            let yes = i % 3 != 0;
            a = a.choice(&format!("b{i}_yn"), if yes { "yes" } else { "no" });
            if yes {
                a = a.dec(&format!("b{i}_amount"), n as f64 * 1.5);
            }
        }
    }
    let members = (0..MEMBERS)
        .map(|m| {
            let age = [45, 38, 17, 12, 9, 4, 2, 70, 25, 30][m];
            let mut member = A::default()
                .text("m_name", &format!("Member {m}"))
                .int("m_age", age)
                .choice("m_sex", if m % 2 == 0 { "male" } else { "female" })
                .choice("m_relation", if m == 0 { "head" } else { "child" })
                .dec("m_weight", 20.0 + m as f64 * 5.0);
            if (6..=18).contains(&age) {
                member = member.choice("m_school", "yes");
            }
            if age >= 15 {
                member = member.int("m_income", 100_000 * (m as i64 + 1));
            }
            member
        })
        .collect();
    a.repeat("member", members).0
}

// ---------------------------------------------------------------------------------------
// The mission forms, with the plausible surveys of the validation tests.

/// The mission forms compiled, as devices receive them (see `terrain-xlsform`'s tests).
fn guinea_form() -> Form {
    Form::from_json(include_str!("../tests/fixtures/guinea_needs.json")).unwrap()
}

fn beguedo_form() -> Form {
    Form::from_json(include_str!("../tests/fixtures/beguedo_slm.json")).unwrap()
}

fn metadata(a: A) -> A {
    let start = DateTime::parse_from_rfc3339("2026-11-28T08:05:00.000+00:00").unwrap();
    a.put("start_time", Value::DateTime(start))
        .put("end_time", Value::DateTime(start + chrono::Duration::minutes(50)))
        .date("survey_date", 2026, 11, 28)
        .text("device_id", "android-7f3a2c")
}

fn guinea_answers() -> Answers {
    let member = |name: &str, age: i64, sex: &str, relation: &str, health: &str| {
        A::default()
            .text("member_name", name)
            .int("member_age", age)
            .choice("member_sex", sex)
            .choice("member_relation", relation)
            .choice("member_health", health)
    };
    metadata(A::default())
        .text("enumerator_name", "Mamadou Diallo")
        .choice("consent", "yes")
        .choice("region", "kindia")
        .choice("prefecture", "coyah")
        .choice("sous_prefecture", "maneah")
        .choice("village", "maneah_v1")
        .int("hh_number", 42)
        .put("hh_gps", Value::GeoPoint(GeoPoint { lat: 9.7081, lon: -13.3912, altitude: 31.0, accuracy: 6.0 }))
        .text("respondent_name", "Fatoumata Camara")
        .choice("respondent_role", "spouse")
        .text("respondent_phone", "622123456")
        .repeat(
            "member",
            vec![
                member("Ibrahima Camara", 45, "male", "head", "good").choice("member_schooling", "primary"),
                member("Fatoumata Camara", 38, "female", "spouse", "good").choice("member_schooling", "none"),
                member("Mariama Camara", 12, "female", "child", "good")
                    .choice("member_schooling", "primary")
                    .choice("member_in_school", "yes"),
                member("Sékou Camara", 3, "male", "child", "acute"),
            ],
        )
        .choice("facility_type", "health_centre")
        .int("facility_travel_min", 30)
        .choice("travel_mode", "foot")
        .choices("health_barriers", &["cost", "distance"])
        .choice("sick_last_month", "yes")
        .choice("sought_care", "yes")
        .int("health_cost_gnf", 150_000)
        .int("n_under5_vaccinated", 1)
        .int("mosquito_nets", 3)
        .int("n_enrolled", 1)
        .choices("schools_used", &["public_primary"])
        .choice("attendance", "always")
        .int("school_travel_min", 20)
        .int("school_fees_gnf", 500_000)
        .choices("edu_barriers", &["fees"])
        .choices("income_sources", &["crops", "trade"])
        .choice("main_income", "crops")
        .int("monthly_income_gnf", 2_000_000)
        .dec("farm_area_ha", 1.5)
        .choice("land_access", "family")
        .choices("invest_sectors", &["agri", "energy"])
        .choice("diaspora_invest_interest", "somewhat")
        .choice("contribution_form", "labour")
        .choices(
            "priority_rank",
            &["water", "health", "education", "roads", "agriculture", "electricity", "employment"],
        )
        .choice("water_source", "borehole")
        .int("water_time_min", 25)
        .choice("electricity", "solar")
        .choice("relatives_abroad", "yes")
        .int("n_relatives_abroad", 2)
        .choices("abroad_countries", &["france"])
        .choice("remit_frequency", "quarterly")
        .int("remit_amount_gnf", 1_500_000)
        .date("last_remit_date", 2026, 9, 15)
        .choices("remit_channel", &["mobile_money"])
        .choices("remit_use", &["food", "education"])
        .text("enumerator_comments", "RAS")
        .0
}

fn beguedo_answers() -> Answers {
    let technique = |area: f64, year: i64, condition: &str, support: &str| {
        A::default()
            .dec("tech_area_ha", area)
            .int("tech_year_started", year)
            .choice("tech_condition", condition)
            .choice("tech_support", support)
    };
    let crop = |kind: &str, variety: &str, area: f64, harvest: f64, sold: f64, irrigated: &str| {
        A::default()
            .choice("crop_type", kind)
            .choice("crop_variety", variety)
            .dec("crop_area", area)
            .dec("harvest_kg", harvest)
            .dec("sold_kg", sold)
            .choice("crop_irrigated", irrigated)
    };
    let migrant = |name: &str, destination: &str, year: i64, sends: &str| {
        A::default()
            .text("migrant_name", name)
            .choice("migrant_sex", "male")
            .choice("migrant_destination", destination)
            .int("migrant_year_left", year)
            .choice("migrant_sends_money", sends)
    };
    metadata(A::default())
        .text("enumerator_name", "Aminata Ouédraogo")
        .choice("season", "rainy_2026")
        .choice("visit_round", "harvest")
        .date("visit_date", 2026, 10, 20)
        .choice("secteur", "secteur_2")
        .choice("zone", "s2_a")
        .text("farmer_name", "Issa Zongo")
        .choice("farmer_sex", "male")
        .int("farmer_age", 52)
        .text("farmer_phone", "70123456")
        .choice("tenure", "owned")
        .text("plot_id", "BGD-0042")
        .put("plot_gps", Value::GeoPoint(GeoPoint { lat: 11.7801, lon: -0.7452, altitude: 252.0, accuracy: 4.0 }))
        .dec("plot_area_ha", 2.5)
        .int("distance_river_m", 300)
        .choice("bank_erosion", "yes")
        .choice("erosion_severity", "moderate")
        .dec("erosion_length_m", 40.0)
        .text("erosion_photo", "berge-0042.jpg")
        .choice("gully_erosion", "no")
        .choices("slm_techniques", &["zai", "stone_bunds"])
        .repeat(
            "technique_rep",
            vec![
                technique(1.0, 2015, "good", "own").int("zai_pits_per_ha", 12_000),
                technique(2.0, 2019, "needs_repair", "ngo").dec("bund_length_m", 450.0),
            ],
        )
        .choice("slm_training", "yes")
        .int("slm_labour_days", 30)
        .repeat(
            "crop",
            vec![
                crop("sorghum", "sorghum_improved", 1.5, 1200.0, 300.0, "no"),
                crop("onion", "onion_local", 0.5, 4000.0, 3500.0, "yes").choice("irrigation_source", "river_pump"),
            ],
        )
        .int("hh_size", 9)
        .choice("water_point", "borehole_pump")
        .choice("water_works", "working")
        .int("water_time_min", 20)
        .choice("latrine", "traditional")
        .choice("latrine_shared", "no")
        .choice("handwashing", "yes")
        .int("n_migrants", 2)
        .repeat("migrant", vec![migrant("Adama", "italy", 2008, "yes"), migrant("Salif", "cote_divoire", 2015, "no")])
        .choices("diaspora_support", &["cash", "housing"])
        .int("support_cash_fcfa", 500_000)
        .int("support_housing_fcfa", 3_000_000)
        .text("plot_photo", "parcelle-0042.jpg")
        .text("observations", "RAS")
        .0
}

// ---------------------------------------------------------------------------------------
// The flat-expressions baseline.

/// Every value by name: top-level answers as one value, repeat fields as one value per
/// instance, repeats as one entry per instance. No relevance, no scopes.
struct Flat {
    values: HashMap<String, Vec<String>>,
    now: DateTime<FixedOffset>,
}

impl Flat {
    fn new(answers: &Answers, now: DateTime<FixedOffset>) -> Flat {
        fn walk(answers: &Answers, nested: bool, values: &mut HashMap<String, Vec<String>>) {
            for (name, answer) in &answers.0 {
                match answer {
                    Answer::Value(v) => values.entry(name.clone()).or_default().push(v.to_odk_string()),
                    Answer::Unreadable(t) => values.entry(name.clone()).or_default().push(t.clone()),
                    Answer::Repeat(instances) => {
                        values.entry(name.clone()).or_default().extend(instances.iter().map(|_| String::new()));
                        for instance in instances {
                            walk(instance, true, values);
                        }
                    }
                }
            }
            let _ = nested;
        }
        let mut values = HashMap::new();
        walk(answers, false, &mut values);
        Flat { values, now }
    }
}

static EMPTY: [String; 1] = [String::new()];

impl EvalContext for Flat {
    fn resolve(&self, name: &str) -> Option<Cow<'_, [String]>> {
        Some(Cow::Borrowed(self.values.get(name).map_or(&EMPTY[..], |v| &v[..])))
    }
    fn current(&self) -> Cow<'_, str> {
        Cow::Borrowed("1")
    }
    fn position(&self) -> Option<usize> {
        Some(1)
    }
    fn indexed(&self, field: &str, _: &[(&str, usize)]) -> Option<Cow<'_, str>> {
        self.values.get(field).and_then(|v| v.first()).map(|s| Cow::Borrowed(s.as_str()))
    }
    fn choice_label(&self, _: &str, code: &str) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(code.to_owned()))
    }
    fn now(&self) -> DateTime<FixedOffset> {
        self.now
    }
    fn random_seed(&self) -> u64 {
        1
    }
    fn choice_column(&self, _: &str) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed("x"))
    }
}

/// Each expression with how many times a full evaluation evaluates it at most: once per
/// instance of its repeats (as many as the survey has), filters once per choice.
fn expression_workload<'f>(form: &'f Form, answers: &Answers) -> Vec<(&'f Expression, usize)> {
    fn instances(answers: &Answers, name: &str) -> usize {
        // Instances across every enclosing instance (repeats here are not nested).
        match answers.get(name) {
            Some(Answer::Repeat(v)) => v.len(),
            _ => 0,
        }
    }
    fn walk<'f>(
        form: &'f Form,
        nodes: &'f [Node],
        times: usize,
        answers: &Answers,
        out: &mut Vec<(&'f Expression, usize)>,
    ) {
        for node in nodes {
            match node {
                Node::Question(q) => {
                    for e in [&q.relevant, &q.required, &q.constraint, &q.calculation].into_iter().flatten() {
                        out.push((e, times));
                    }
                    if let Some(filter) = &q.choice_filter {
                        let choices = q.kind.choice_list().and_then(|l| form.choice_lists.get(l)).map_or(0, Vec::len);
                        out.push((filter, times * choices));
                    }
                }
                Node::Group(g) => {
                    out.extend(g.relevant.iter().map(|e| (e, times)));
                    walk(form, &g.children, times, answers, out);
                }
                Node::Repeat(g) => {
                    out.extend(g.relevant.iter().chain(&g.repeat_count).map(|e| (e, times)));
                    walk(form, &g.children, times * instances(answers, &g.name), answers, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(form, &form.children, 1, answers, &mut out);
    out
}

// ---------------------------------------------------------------------------------------

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..runs / 10 + 1 {
        f();
    }
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    (percentile(&mut samples, 0.5), percentile(&mut samples, 0.99))
}

fn main() {
    // `bench/form_eval.sh` times `terrain form eval` on this same form and answers.
    if let Ok(dir) = std::env::var("TERRAIN_BENCH_WRITE_FORM") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join("generated.json"), serde_json::to_string(&generated_form()).unwrap()).unwrap();
        std::fs::write(dir.join("generated.answers.json"), generated_answers().to_json().to_string()).unwrap();
        return;
    }
    let runs: usize = std::env::var("TERRAIN_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let now = DateTime::parse_from_rfc3339("2026-11-28T10:00:00+00:00").unwrap();
    let options = EvalOptions { language: Some("fr".into()), now, seed: 42 };
    let author = Author::new("awa", "phone-1", Role::Enumerator);
    let cases = [
        ("generated: 402 questions + 10-question repeat × 10", generated_form(), generated_answers()),
        ("guinea_needs.xlsx (4 members)", guinea_form(), guinea_answers()),
        ("beguedo_slm.xlsx (2 techniques, 2 crops, 2 migrants)", beguedo_form(), beguedo_answers()),
    ];

    let mut rows: Vec<[String; 4]> = Vec::new();
    for (label, form, answers) in &cases {
        let (compile, _) = time(runs / 10, || {
            std::hint::black_box(Evaluator::new(form));
        });
        let evaluator = Evaluator::new(form);
        let result = evaluator.evaluate(answers, &options);
        let status = format!(
            "complete: {}, {} missing, {} violations, {} errors, {} calculated, {} hidden",
            result.is_complete(),
            result.missing_required.len(),
            result.violations.len(),
            result.errors.len(),
            result.calculated.len(),
            result.non_relevant.len()
        );
        let (p50, p99) = time(runs, || {
            std::hint::black_box(evaluator.evaluate(std::hint::black_box(answers), &options));
        });

        // Baseline 1: the answers read out of the survey's document.
        let doc =
            SurveyDoc::create(form, "bench", &author, terrain_core::identity::new_actor(), chrono::Utc::now(), answers)
                .unwrap();
        let index = FormIndex::new(form);
        assert_eq!(&doc.answers(&index).unwrap(), answers);
        let (read, _) = time(runs, || {
            std::hint::black_box(doc.answers(&index).unwrap());
        });

        // Baseline 2: the expressions alone.
        let workload = expression_workload(form, answers);
        let evaluations: usize = workload.iter().map(|(_, n)| n).sum();
        let flat = Flat::new(answers, now);
        let (flat_p50, _) = time(runs, || {
            for (expression, n) in &workload {
                for _ in 0..*n {
                    let _ = std::hint::black_box(expression.evaluate(&flat));
                }
            }
        });
        let ratio = |base: Duration| p50.as_secs_f64() / base.as_secs_f64();
        rows.push([
            format!("full evaluation, {label}"),
            format!("{} / {}", ms(p50), ms(p99)),
            format!("{:.1}× read, {:.1}× flat expressions", ratio(read), ratio(flat_p50)),
            status,
        ]);
        rows.push([
            "  baseline: read the answers from the document".into(),
            ms(read),
            String::new(),
            "SurveyDoc::answers, p50".into(),
        ]);
        rows.push([
            "  baseline: flat expressions".into(),
            ms(flat_p50),
            String::new(),
            format!("{} expressions, {evaluations} evaluations against a HashMap, p50", workload.len()),
        ]);
        rows.push(["  Evaluator::new (once per form)".into(), ms(compile), String::new(), "p50".into()]);
    }
    rows.extend(screen_rows(runs, &cases[0].1, &cases[0].2, p50_of(&rows[0][1])));

    let mut table =
        format!("| validation benchmark ({runs} runs each) | p50 / p99 | ratio (p50) | notes |\n|---|---|---|---|\n");
    for [what, time, ratio, note] in rows {
        table.push_str(&format!("| {what} | {time} | {ratio} | {note} |\n"));
    }
    print_table(&table);
}

/// The p50 of a "p50 / p99" cell, in seconds.
fn p50_of(cell: &str) -> f64 {
    cell.split(" ms").next().and_then(|v| v.parse::<f64>().ok()).unwrap() / 1000.0
}

/// What the phone's form screen pays after each answer on the generated form: `Store::set_answer`
/// (a durable SQLite transaction) then `Store::evaluate`, on the survey being filled (its
/// document and evaluator stay warm) and on a survey picked at random among 200 stored ones
/// (loaded from SQLite first: the store keeps 8 loaded). The ratio is to the evaluation alone.
fn screen_rows(runs: usize, form: &Form, answers: &Answers, evaluation_p50: f64) -> Vec<[String; 4]> {
    use rand::{Rng, SeedableRng};
    use terrain_core::store::Durability;
    use terrain_core::{AnswerPath, Store};

    let dir = tempfile::tempdir().unwrap();
    // Opened as the phone opens it (`terrain-ffi`): an answer survives the app being killed
    // without waiting for the flash to sync.
    let author = Author::new("awa", "phone-1", Role::Enumerator);
    let store = Store::open_with(dir.path().join("screen.db"), author, Durability::ProcessCrash).unwrap();
    store.save_form(form).unwrap();
    let ids: Vec<String> = (0..200).map(|_| store.create_survey_with("generated", "1", answers).unwrap()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let answer = |id: &str, rng: &mut rand::rngs::StdRng| {
        let path = AnswerPath::top(format!("b{}_n", rng.random_range(0..BLOCKS)));
        let t = Instant::now();
        store.set_answer(id, &path, Value::Integer(rng.random_range(0..1000))).unwrap();
        std::hint::black_box(store.evaluate(id, Some("fr")).unwrap());
        t.elapsed()
    };
    let mut warm: Vec<Duration> = (0..runs / 4).map(|_| answer(&ids[0], &mut rng)).collect();
    let mut cold: Vec<Duration> =
        (0..runs / 4).map(|_| answer(&ids[rng.random_range(8..ids.len())].clone(), &mut rng)).collect();
    let row = |what: &str, samples: &mut Vec<Duration>, note: &str| {
        let (p50, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
        [
            what.to_owned(),
            format!("{} / {}", ms(p50), ms(p99)),
            format!("{:.1}× the evaluation alone", p50.as_secs_f64() / evaluation_p50),
            format!("{} answers; {note}; target p99 < 1 ms", samples.len()),
        ]
    };
    vec![
        row(
            "set_answer + evaluate (the form screen), generated form, survey being filled",
            &mut warm,
            "each a committed transaction, as the phone commits it",
        ),
        row("set_answer + evaluate, generated form, random stored survey", &mut cold, "loaded from SQLite first"),
    ]
}

/// Prints the table, and writes it to `$TERRAIN_BENCH_TABLE` if set (for `bench/report.sh`).
fn print_table(table: &str) {
    println!("\n{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(&path, table).unwrap();
    }
}
