//! `terrain form eval`, run as a real process: the mission forms' scenario files pass, a
//! broken expectation fails with a readable diff, and every scenario evaluates the same
//! through the command line as through the phone's FFI (`terrain-ffi`'s `TerrainStore`).
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value as Json;
use terrain_core::survey::{Answer, Answers};
use terrain_ffi::{HttpClient, HttpRequest, HttpResponse, Role, TerrainError, TerrainStore};

const TERRAIN: &str = env!("CARGO_BIN_EXE_terrain");

/// The mission forms and their scenario files.
const MISSIONS: [(&str, &str); 2] = [
    ("forms/guinea_needs.xlsx", "forms/guinea_needs.scenarios.json"),
    ("forms/beguedo_slm.xlsx", "forms/beguedo_slm.scenarios.json"),
];

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

fn terrain(args: &[&str]) -> std::process::Output {
    Command::new(TERRAIN).args(args).output().unwrap()
}

#[test]
fn the_mission_forms_scenarios_pass() {
    for (form, scenarios) in MISSIONS {
        let out = terrain(&["form", "eval", &repo(form), "--scenarios", &repo(scenarios)]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{scenarios}:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(" 0 failed"), "{stdout}");
    }
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.json");
    let scenarios = serde_json::json!({"scenarios": [{
        "name": "refusing consent hides the household",
        "answers": {"enumerator_name": "Awa", "consent": "no"},
        "expect": {"finalizable": false, "nodes": {"household": {"relevant": true}}}
    }]});
    std::fs::write(&file, scenarios.to_string()).unwrap();
    let out = terrain(&["form", "eval", &repo("forms/guinea_needs.xlsx"), "--scenarios", file.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("FAIL refusing consent hides the household"), "{stdout}");
    assert!(stdout.contains("finalizable: expected false, got true"), "{stdout}");
    assert!(stdout.contains("household.relevant: expected true, got false"), "{stdout}");

    // A misspelt field is refused rather than passing unchecked.
    let typo = serde_json::json!({"scenarios": [{
        "name": "typo", "answers": {}, "expect": {"nodes": {"consent": {"relevent": true}}}
    }]});
    std::fs::write(&file, typo.to_string()).unwrap();
    let out = terrain(&["form", "eval", &repo("forms/guinea_needs.xlsx"), "--scenarios", file.to_str().unwrap()]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(stderr.contains("unknown field `relevent`"), "{stderr}");
}

#[test]
fn answers_that_do_not_fit_the_form_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.json");
    std::fs::write(&file, r#"{"hh_number": "many"}"#).unwrap();
    let out = terrain(&["form", "eval", &repo("forms/guinea_needs.xlsx"), "--answers", file.to_str().unwrap()]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(stderr.contains("answer `hh_number`: `many` is not"), "{stderr}");
}

#[test]
fn the_json_output_names_its_schema_and_every_node() {
    let out = terrain(&["form", "eval", &repo("forms/guinea_needs.xlsx"), "--json", "--lang", "fr"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "terrain/form-eval/1");
    assert_eq!(report["form"]["id"], "guinea_needs");
    assert_eq!(report["finalizable"], false);
    let consent = report["nodes"].as_array().unwrap().iter().find(|n| n["path"] == "consent").unwrap();
    assert_eq!(consent["type"], "select_one");
    assert_eq!(consent["required"], true);
    assert_eq!(consent["message"], "Cette question est obligatoire.");
}

/// Every scenario, evaluated by the command line and by the phone's FFI on a real store,
/// gives the same hidden questions, blocking issues and messages, calculated values,
/// offered choices, repeat counts and form errors.
#[test]
fn the_command_line_agrees_with_the_phone() {
    let dir = tempfile::tempdir().unwrap();
    let store = TerrainStore::open(
        dir.path().join("phone.db").display().to_string(),
        "awa".into(),
        "phone-1".into(),
        Role::Enumerator,
        Arc::new(Offline),
        None,
    )
    .unwrap();
    let mut compared = 0;
    for (form_path, scenarios_path) in MISSIONS {
        let form = terrain_xlsform::import_path(std::path::Path::new(&repo(form_path))).unwrap();
        store.import_form_json(serde_json::to_string(&form).unwrap()).unwrap();
        let file: Json = serde_json::from_str(&std::fs::read_to_string(repo(scenarios_path)).unwrap()).unwrap();
        for scenario in file["scenarios"].as_array().unwrap() {
            let name = scenario["name"].as_str().unwrap();
            let language = scenario["language"].as_str().or(file["language"].as_str());
            let answers_file = dir.path().join("answers.json");
            std::fs::write(&answers_file, scenario["answers"].to_string()).unwrap();
            let form_arg = repo(form_path);
            let mut args = vec!["form", "eval", &form_arg, "--json", "--answers", answers_file.to_str().unwrap()];
            if let Some(language) = language {
                args.extend(["--lang", language]);
            }
            let out = terrain(&args);
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
            let cli: Json = serde_json::from_slice(&out.stdout).unwrap();

            let target = Answers::new_from_json(&form, &scenario["answers"]).unwrap();
            let survey = store.create_survey(form.id.clone(), form.version.clone()).unwrap();
            fill(&store, &survey, "", &target);
            // Defaults the scenario cleared with `null`.
            let wanted = target.flatten();
            for entry in store.survey(survey.clone()).unwrap().answers {
                if !wanted.contains_key(&entry.path) {
                    store.clear_answer(survey.clone(), entry.path, None).unwrap();
                }
            }
            let phone = store.evaluate(survey, language.map(str::to_owned)).unwrap();
            assert_agree(name, &cli, &phone);
            compared += 1;
        }
    }
    assert!(compared >= 20, "only {compared} scenarios compared");
}

/// Enters `answers` on the phone, as an enumerator would: repeat instances added, then
/// each answer set.
fn fill(store: &TerrainStore, survey: &str, prefix: &str, answers: &Answers) {
    for (name, answer) in &answers.0 {
        let path = format!("{prefix}{name}");
        match answer {
            Answer::Value(value) => {
                store.set_answer(survey.to_owned(), path, value.into(), None).unwrap();
            }
            Answer::Repeat(instances) => {
                for (i, instance) in instances.iter().enumerate() {
                    let added = store.add_repeat_instance(survey.to_owned(), path.clone(), None).unwrap();
                    assert_eq!(added.index as usize, i);
                    fill(store, survey, &format!("{path}[{i}]/"), instance);
                }
            }
            Answer::Unreadable(_) => {}
        }
    }
}

fn assert_agree(name: &str, cli: &Json, phone: &terrain_ffi::Evaluation) {
    let nodes = cli["nodes"].as_array().unwrap();
    let node = |path: &str| nodes.iter().find(|n| n["path"] == path).unwrap_or_else(|| panic!("{name}: no {path}"));
    let text = |v: &Json| v.as_str().unwrap().to_owned();

    let hidden: BTreeSet<String> = nodes.iter().filter(|n| n["relevant"] == false).map(|n| text(&n["path"])).collect();
    assert_eq!(hidden, phone.non_relevant.iter().cloned().collect(), "{name}: hidden");

    let blocking: Vec<(String, String)> =
        cli["blocking"].as_array().unwrap().iter().map(|b| (text(&b["path"]), text(&b["message"]))).collect();
    let issues = phone.missing_required.iter().chain(&phone.violations);
    let phone_blocking: Vec<(String, String)> = issues.map(|i| (i.path.clone(), i.message.clone())).collect();
    assert_eq!(blocking, phone_blocking, "{name}: blocking issues");
    assert_eq!(cli["finalizable"], phone_blocking.is_empty(), "{name}: finalizable");

    for calculated in &phone.calculated {
        let value = &node(&calculated.path)["value"];
        let cli_value = value.as_str().unwrap_or("");
        assert_eq!(cli_value, calculated.value, "{name}: {}", calculated.path);
    }
    for choices in &phone.choices {
        let offered: Vec<String> = node(&choices.path)["choices"].as_array().unwrap().iter().map(text).collect();
        assert_eq!(offered, choices.codes, "{name}: choices of {}", choices.path);
    }
    let counts: BTreeMap<String, u32> = phone.repeat_counts.iter().map(|c| (c.path.clone(), c.count)).collect();
    for (path, count) in counts {
        assert_eq!(node(&path)["instances"], count, "{name}: instances of {path}");
    }
    assert_eq!(cli["errors"].as_array().unwrap().len(), phone.form_errors.len(), "{name}: errors");
    assert_eq!(cli["finalizable"], phone.complete, "{name}: complete");
}

/// The phone's HTTP client, for a phone that never goes online here.
struct Offline;

impl HttpClient for Offline {
    fn send(&self, _: HttpRequest) -> Result<HttpResponse, TerrainError> {
        Err(TerrainError::Network { detail: "offline".into() })
    }
}
