//! `terrain demo --json`, run as a real process from an empty directory: one JSON object
//! with the checks' results, and an exit code that says whether they passed.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const TERRAIN: &str = env!("CARGO_BIN_EXE_terrain");

#[test]
fn demo_json_reports_a_converged_pilot() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(TERRAIN)
        .current_dir(dir.path())
        .args(["demo", "--json", "--enumerators", "2", "--surveys-per-enumerator", "2", "--seed", "5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    for key in [
        "surveys",
        "replicas",
        "converged",
        "lost_answers",
        "conflicts_raised",
        "conflicts_resolved",
        "bytes_on_wire",
        "json_gzip_bytes",
        "exports",
    ] {
        assert!(summary.get(key).is_some(), "{key} missing from {summary}");
    }
    assert_eq!(summary["surveys"], 4);
    assert_eq!(summary["converged"], true, "{summary}");
    assert_eq!(summary["lost_answers"], 0);
    assert_eq!(summary["conflicts_raised"], summary["conflicts_resolved"]);
    assert!(!stderr.contains('█') && !stderr.contains("=>"), "no progress bars with --json: {stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(summary["exports"].as_array().unwrap().len(), 6, "{summary}");
    for path in summary["exports"].as_array().unwrap() {
        assert!(dir.path().join(path.as_str().unwrap()).exists(), "{path}");
    }
}
