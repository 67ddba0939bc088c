//! A process's resident memory, as the benchmarks report it (included by each with
//! `#[path]`; a file in a folder under `benches/` is not a benchmark of its own).

/// Peak (`VmHWM`) and current (`VmRSS`) resident memory of process `pid` (`"self"` for
/// this one), in MiB; zeros where `/proc` does not say.
pub fn resident(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}
