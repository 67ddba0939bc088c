//! The one percentile the benchmarks report (included by each with `#[path]`; a file in a
//! folder under `benches/` is not a benchmark of its own).

use std::time::Duration;

/// The `p` quantile of `samples` (nearest rank), sorting them in place; zero if there are none.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples.get(((samples.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}
