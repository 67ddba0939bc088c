//! The dashboard's survey list on a server holding 100,000 surveys: the first page and each
//! filter, as the HTML page a supervisor loads and, as the baseline measured in the same
//! run, the JSON list API answering the same query (so the ratio is the cost of the page
//! itself). Target: every list < 100 ms, the count of all its pages included.
//!
//! Lists read only the indexed metadata columns, never a document, so the store is filled
//! with 2,000 real surveys (plausible Guinea answers written through the store) and their
//! rows repeated with fresh ids, enumerators, days and review states up to the total.
//!
//! `cargo bench -p terrain-server --bench dashboard` (`TERRAIN_BENCH_SURVEYS` sets the size).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/percentile.rs"]
mod percentile;

use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::blocking::Client;
use rusqlite::params;
use terrain_core::{Author, Role, Store};
use terrain_services::accounts::CreateUser;
use terrain_xlsform as xlsform;

use percentile::percentile;

const PASSWORD: &str = "a long bench password";
const REAL: usize = 2_000;
const ENUMERATORS: usize = 40;
const DAY_MS: i64 = 86_400_000;

fn fill(dir: &Path, n: usize) {
    let form =
        xlsform::import_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx"))).unwrap();
    let store = Store::open(dir.join("surveys.db"), Author::new("terrain-server", "bench", Role::Admin)).unwrap();
    store.save_form(&form).unwrap();
    let mut rng = StdRng::seed_from_u64(6);
    let mut templates = Vec::new();
    for _ in 0..REAL.min(n) {
        let answers = terrain_demo::sample::answers(&form, &mut rng);
        templates.push(store.create_survey_with(&form.id, &form.version, &answers).unwrap());
    }
    drop(store);
    let mut db = rusqlite::Connection::open(dir.join("surveys.db")).unwrap();
    let tx = db.transaction().unwrap();
    let start = 1_790_000_000_000i64; // mid-2026
    {
        let mut copy = tx
            .prepare(
                "INSERT INTO surveys (survey_id, form_id, form_version, status, created_by, created_on, created_at,
                     updated_at, review_status, has_conflicts, heads, snapshot, chunk_count, chunk_bytes, acked_heads,
                     dirty, change_seq, compacted)
                 SELECT ?1, form_id, form_version, 'finalized', ?2, created_on, ?3, ?4, ?5, ?6, heads, snapshot,
                     chunk_count, chunk_bytes, acked_heads, 0, ?7, compacted
                 FROM surveys WHERE survey_id = ?8",
            )
            .unwrap();
        let reviews = [
            None,
            None,
            None,
            Some("approved"),
            Some("approved"),
            Some("has_issues"),
            Some("sent_back"),
            Some("rejected"),
        ];
        for i in 0..n {
            let created = start + rng.random_range(0..60) * DAY_MS + rng.random_range(0..DAY_MS / 2);
            let who = format!("enum{:02}", rng.random_range(0..ENUMERATORS));
            let review = reviews[rng.random_range(0..reviews.len())];
            let conflicts = rng.random_range(0..100) == 0;
            let id = uuid::Uuid::from_u128(rng.random()).to_string();
            copy.execute(params![
                id,
                who,
                created,
                created + 3_600_000,
                review,
                conflicts,
                i as i64 + 1,
                templates[i % templates.len()]
            ])
            .unwrap();
        }
    }
    // The templates served their purpose; the list holds exactly `n`.
    for id in &templates {
        tx.execute("DELETE FROM surveys WHERE survey_id = ?1", [id]).unwrap();
    }
    tx.commit().unwrap();
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n: usize = std::env::var("TERRAIN_BENCH_SURVEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    fill(dir.path(), n);
    eprintln!("filled {n} surveys in {:.1} s", t.elapsed().as_secs_f64());

    let state = terrain_server::AppState::open(dir.path(), terrain_server::Settings::default()).unwrap();
    let backend = state.services.backend().clone();
    let services = state.services.clone();
    // What the server's upkeep does as it starts (and every few seconds after): here the
    // planner's statistics, gathered over the 100,000 surveys the fill wrote.
    let t = Instant::now();
    services.maintain().unwrap();
    eprintln!("upkeep (statistics) in {:.1} s", t.elapsed().as_secs_f64());
    let project = backend.create_project("guinea").unwrap().id;
    let form =
        xlsform::import_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx"))).unwrap();
    backend.publish_form(project, &form).unwrap();
    let teams: Vec<i64> =
        ["Kindia", "Labé", "Boké"].iter().map(|name| backend.create_team(project, name).unwrap().id).collect();
    let user = |name: &str, role: &str| {
        let request =
            CreateUser { username: name.into(), password: PASSWORD.into(), role: role.into(), display_name: None };
        services.create_user(&services.operator().unwrap(), &request).unwrap()
    };
    for i in 0..ENUMERATORS {
        let u = user(&format!("enum{i:02}"), "enumerator");
        backend.add_team_member(teams[i % teams.len()], u.id).unwrap();
    }
    let sup = user("sup", "supervisor");
    backend.add_team_member(teams[0], sup.id).unwrap();
    user("admin", "admin");

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(terrain_server::serve(listener, state, std::future::pending()));

    let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = |name: &str| -> (String, String) {
        let r = client.post(format!("{url}/login")).form(&[("username", name), ("password", PASSWORD)]).send().unwrap();
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let token = terrain_core::sync::Session::login(&url, name, PASSWORD, "bench-api").unwrap().token().to_owned();
        (cookie, token)
    };
    let mut rows = Vec::new();
    for (who, (cookie, token)) in [("admin", login("admin")), ("supervisor", login("sup"))] {
        let next: String = {
            let page: serde_json::Value =
                client.get(format!("{url}/api/v1/surveys")).bearer_auth(&token).send().unwrap().json().unwrap();
            page["next"].as_str().unwrap_or_default().to_owned()
        };
        // Filters a supervisor of team 0 would use (its members are enum00, enum03, …).
        let team = teams[0];
        let cases = [
            ("first page", String::new()),
            ("page 2 (key after page 1)", format!("after={next}")),
            ("form", "form=guinea_needs".to_owned()),
            ("team", format!("team={team}")),
            ("enumerator", "enumerator=enum03".to_owned()),
            ("review: approved", "review=approved".to_owned()),
            ("dates: one week", "from=2026-10-01&to=2026-10-07".to_owned()),
            ("conflicts", "conflicts=true".to_owned()),
            ("sorted by start, oldest first", "sort=started&order=asc".to_owned()),
            ("sorted by enumerator", "sort=enumerator".to_owned()),
            ("team + review + dates", format!("team={team}&review=received&from=2026-10-01&to=2026-10-31")),
        ];
        for (name, query) in cases {
            let mut html = Vec::new();
            let mut json = Vec::new();
            let mut total = String::new();
            for _ in 0..15 {
                let t = Instant::now();
                let r = client.get(format!("{url}/surveys?{query}")).header("cookie", &cookie).send().unwrap();
                let status = r.status();
                let body = r.text().unwrap();
                assert_eq!(status, 200, "{name}: {body}");
                html.push(t.elapsed());
                let t = Instant::now();
                let page: serde_json::Value = client
                    .get(format!("{url}/api/v1/surveys?{query}"))
                    .bearer_auth(&token)
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                json.push(t.elapsed());
                total = page["total"].to_string();
                assert!(body.contains("id=\"total\""), "{name}: not the list page");
            }
            let (h50, h95, j50) = (percentile(&mut html, 0.5), percentile(&mut html, 0.95), percentile(&mut json, 0.5));
            let target = "< 100 ms";
            rows.push(format!(
                "| {who}: {name} | {total} | {} | {} | {} | {:.2}× | {target} |",
                ms(h50),
                ms(h95),
                ms(j50),
                h50.as_secs_f64() / j50.as_secs_f64()
            ));
        }
    }
    println!("Survey list on a server holding {n} surveys (2 cores; 15 requests each; page of 50 rows):\n");
    println!("| list | matching | page p50 | page p95 | JSON API p50 (baseline) | page ÷ JSON | target |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
}
