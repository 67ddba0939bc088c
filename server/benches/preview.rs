//! The dashboard's form preview: one re-evaluation after an input, as the page makes it
//! (`POST /forms/{form}/{version}/evaluate` with the session cookie and CSRF header, JSON
//! both ways), on loopback against the real server, on the Guinea form blank and with a
//! complete four-person household. Baselines measured in the same run: the same
//! evaluation in process (`form_eval::report`, what the request costs beyond HTTP), and a
//! bare round trip (`GET /healthz`). Target: < 50 ms per re-evaluation.
//!
//! `cargo bench -p terrain-server --bench preview` (`TERRAIN_BENCH_RUNS` sets the count).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/percentile.rs"]
mod percentile;

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use terrain_services::accounts::CreateUser;
use terrain_xlsform as xlsform;

use percentile::percentile;

const PASSWORD: &str = "a long bench password";

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runs: usize = std::env::var("TERRAIN_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    // A person types far below the default 20 requests a second per session; the bench
    // sends back to back, so the throttle is lifted.
    let mut settings = terrain_server::Settings::default();
    settings.services.requests = terrain_services::Rate { burst: 1_000_000, per_second: 1_000_000.0 };
    let state = terrain_server::AppState::open(dir.path(), settings).unwrap();
    let backend = state.services.backend().clone();
    let services = state.services.clone();
    let project = backend.create_project("guinea").unwrap().id;
    let form =
        xlsform::import_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx"))).unwrap();
    backend.publish_form(project, &form).unwrap();
    let request =
        CreateUser { username: "sup".into(), password: PASSWORD.into(), role: "supervisor".into(), display_name: None };
    let sup = services.create_user(&services.operator().unwrap(), &request).unwrap();
    backend.add_project_member(project, sup.id).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(terrain_server::serve(listener, state, std::future::pending()));

    let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client.post(format!("{url}/login")).form(&[("username", "sup"), ("password", PASSWORD)]).send().unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let base = format!("{url}/forms/{}/{}", form.id, form.version);
    let page = client.get(format!("{base}/preview")).header("cookie", &cookie).send().unwrap().text().unwrap();
    let at = page.find("data-csrf=\"").unwrap() + "data-csrf=\"".len();
    let csrf = page[at..at + 32].to_owned();

    // The complete household of the mission form's scenarios.
    let scenarios: serde_json::Value =
        serde_json::from_str(include_str!("../../forms/guinea_needs.scenarios.json")).unwrap();
    let complete = scenarios["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["expect"]["finalizable"] == true)
        .unwrap()["answers"]
        .clone();
    let cases = [("blank survey", serde_json::json!({})), ("complete 4-person household", complete)];

    let mut rows = Vec::new();
    let mut health: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            assert!(client.get(format!("{url}/healthz")).send().unwrap().status().is_success());
            t.elapsed()
        })
        .collect();
    let health_p50 = percentile(&mut health, 0.5);
    for (name, answers) in cases {
        let body = serde_json::json!({"answers": answers, "lang": "Français (fr)"});
        let mut http: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let r = client
                    .post(format!("{base}/evaluate"))
                    .header("cookie", &cookie)
                    .header("x-csrf-token", &csrf)
                    .json(&body)
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 200);
                let report: serde_json::Value = r.json().unwrap();
                assert!(report["nodes"].as_array().is_some_and(|n| !n.is_empty()));
                t.elapsed()
            })
            .collect();
        let typed =
            terrain_core::survey::Answers::from_json(&terrain_core::form::FormIndex::new(&form), &answers).unwrap();
        let now = chrono::Local::now().fixed_offset();
        let mut inproc: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(terrain_services::form_eval::report(&form, &typed, Some("fr"), now));
                t.elapsed()
            })
            .collect();
        let (p50, p99, base_p50) =
            (percentile(&mut http, 0.5), percentile(&mut http, 0.99), percentile(&mut inproc, 0.5));
        rows.push(format!(
            "| {name} | {} | {} | {} | {:.1}× | {:.1}× | < 50 ms |",
            ms(p50),
            ms(p99),
            ms(base_p50),
            p50.as_secs_f64() / base_p50.as_secs_f64(),
            p50.as_secs_f64() / health_p50.as_secs_f64(),
        ));
    }
    println!(
        "Preview re-evaluation on loopback, Guinea form ({runs} requests each; bare round trip `GET /healthz` p50 {}):\n",
        ms(health_p50)
    );
    println!(
        "| answers | round trip p50 | p99 | in-process evaluation p50 | ÷ in-process | ÷ bare round trip | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
}
