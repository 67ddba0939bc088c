//! The server's architecture invariants, checked on its sources (see ARCHITECTURE.md):
//! only `Scope` makes role decisions; the faces reach storage only through the services;
//! and no two modules of a server crate depend on each other, directly or not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The production sources of a crate: everything under `src/` before `#[cfg(test)]`.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let production = text.split("#[cfg(test)]").next().unwrap_or_default().to_owned();
                out.push((path, production));
            }
        }
    }
    out
}

/// The server's production crates (the demo and its harness are not production code).
fn server_crates() -> Vec<PathBuf> {
    let server = root();
    vec![
        server.join("src"),
        server.join("services/src"),
        server.join("backend/src"),
        server.join("export/src"),
        server.join("cli/src"),
    ]
}

#[test]
fn only_scope_makes_role_decisions() {
    let decisions = [
        ".role ==",
        ".role !=",
        "== Role::",
        "!= Role::",
        "Role::Admin =>",
        "Role::Supervisor =>",
        "Role::Enumerator =>",
        "Role::Analyst =>",
        "Role::Admin |",
        "Role::Supervisor |",
        "Role::Enumerator |",
        "Role::Analyst |",
        "matches!(principal",
        "role() ==",
    ];
    let allowed = root().join("services/src/scope.rs");
    let mut found = Vec::new();
    for dir in server_crates() {
        for (path, text) in sources(&dir) {
            if path == allowed {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                if let Some(d) = decisions.iter().find(|d| line.contains(*d)) {
                    found.push(format!("{}:{}: `{d}`", path.display(), n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "role decisions belong in terrain-services' scope.rs:\n{}", found.join("\n"));
}

#[test]
fn faces_reach_storage_only_through_services() {
    let mut found = Vec::new();
    for dir in [root().join("src"), root().join("cli/src")] {
        for (path, text) in sources(&dir) {
            for (n, line) in text.lines().enumerate() {
                if line.contains("terrain_backend") || line.contains(".backend()") || line.contains("services::backend")
                {
                    found.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "faces call a service, never the backend:\n{}", found.join("\n"));
}

/// The top-level modules of a crate, and which others each one uses.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "lib" && name != "main" && (path.is_dir() || path.extension().is_some_and(|e| e == "rs")) {
            modules.insert(name);
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for (path, text) in sources(src) {
        let Ok(relative) = path.strip_prefix(src) else { continue };
        let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let owner = first.trim_end_matches(".rs").to_owned();
        if !modules.contains(&owner) {
            continue;
        }
        for other in &modules {
            if other != &owner
                && (text.contains(&format!("crate::{other}::")) || text.contains(&format!("crate::{other};")))
            {
                graph.entry(owner.clone()).or_default().insert(other.clone());
            }
        }
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_of_a_server_crate_depends_on_itself_through_others() {
    for src in server_crates() {
        let graph = module_graph(&src);
        assert!(graph.len() >= 2 || src.ends_with("backend/src"), "{} has modules", src.display());
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{}: modules depend on each other in a cycle: {}", src.display(), cycle.join(" → "));
        }
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]
    .into();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
}
