//! The `terrain` command line, run as a real process.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const TERRAIN: &str = env!("CARGO_BIN_EXE_terrain");

fn repo(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn form_check_summarises_the_mission_questionnaires() {
    let out = Command::new(TERRAIN)
        .args(["form", "check", &repo("forms/guinea_needs.xlsx"), &repo("forms/beguedo_slm.xlsx")])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("guinea_needs version 2026110101"), "{stdout}");
    assert!(stdout.contains("beguedo_slm version 2026110101"), "{stdout}");
    assert!(stdout.contains("English (en), Français (fr)"), "{stdout}");
}

#[test]
fn form_check_fails_and_explains_a_broken_form() {
    let out = Command::new(TERRAIN)
        .args([
            "form",
            "check",
            &repo("forms/guinea_needs.xlsx"),
            &repo("core/tests/fixtures/pyxform-examples/unknown_question_type.xls"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!out.status.success());
    assert!(stdout.contains("survey, row"), "{stdout}");
}

#[test]
fn form_show_prints_the_form_as_json() {
    let out = Command::new(TERRAIN).args(["form", "show", &repo("forms/beguedo_slm.xlsx"), "--json"]).output().unwrap();
    assert!(out.status.success());
    let form: terrain_core::Form = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(form.id, "beguedo_slm");
}

#[test]
fn admin_create_user_refuses_a_missing_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(TERRAIN)
        .args(["admin", "create-user", "--data", dir.path().to_str().unwrap(), "--username", "root"])
        .env_remove("TERRAIN_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
}
