//! The result table a benchmark prints, and writes for `bench/report.sh` (included by each
//! with `#[path]`; a file in a folder under `benches/` is not a benchmark of its own).

/// Prints `rows` (what, result, notes) as a markdown table under `title`, and writes the
/// table alone to `$TERRAIN_BENCH_TABLE` when it is set.
pub fn report(title: &str, rows: Vec<(String, String, String)>) {
    let mut table = format!("| {title} | result | notes |\n|---|---|---|\n");
    for (what, result, note) in rows {
        table.push_str(&format!("| {what} | {result} | {note} |\n"));
    }
    println!("\n{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(&path, &table).unwrap();
    }
}
