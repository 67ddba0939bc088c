//! The architecture invariant that Automerge bytes from outside reach Automerge only through
//! `terrain_core::intake`: no production source anywhere in the workspace parses Automerge
//! bytes itself. A new call site fails this test, which names it.

use std::path::{Path, PathBuf};

/// Automerge's entry points that parse bytes.
const PARSERS: &[&str] = &[
    "AutoCommit::load",
    "Automerge::load",
    "load_incremental",
    "load_with_options",
    "load_unverified_heads",
    "Change::from_bytes",
    "Change::try_from",
    "automerge::sync::Message::decode",
    "receive_sync_message",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // Tests, benches and the forge build hostile bytes on purpose; the front door itself
        // is the one place allowed to parse.
        if ["target", "tests", "benches", "forge", "fuzz", "node_modules", "intake"].contains(&name) {
            continue;
        }
        if path.is_dir() {
            sources(&path, out);
        } else if name.ends_with(".rs") && name != "tests.rs" && name != "proptests.rs" {
            out.push(path);
        }
    }
}

#[test]
fn only_the_front_door_parses_automerge_bytes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for crate_dir in ["core", "server", "bindings", "tests"] {
        sources(&root.join(crate_dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files under {}", files.len(), root.display());
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        // Unit tests sit at the end of a module, after `#[cfg(test)]`.
        let production = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in production.lines().enumerate() {
            if let Some(parser) = PARSERS.iter().find(|p| line.contains(*p)) {
                offenders.push(format!("{}:{}: {parser}", file.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "Automerge bytes must go through terrain_core::intake; these parse them directly:\n{}",
        offenders.join("\n")
    );
}
