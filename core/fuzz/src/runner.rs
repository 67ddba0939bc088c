//! The fuzzing loop of one target in one process: generate the input of each seed, run it
//! guarded, count how the code under test answered, write every failing input to
//! `artifacts/<target>/<seed>-<n>.bin`.
//!
//! Before each input the loop writes its number to a breadcrumb file, so that when the
//! process dies on an input (an abort cannot be caught) the [`crate::supervisor`] can
//! regenerate that input from its seed and keep it as an artifact.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::panics::watch;
use crate::{Finding, Outcome, Target};

/// What one guarded run of one input showed.
#[derive(Debug)]
pub struct Verdict {
    /// The answer, or the finding.
    pub outcome: Result<Outcome, Finding>,
    /// Panics the code under test raised and contained itself.
    pub contained: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// Runs `input` through `target`, a panic that escapes being a finding, and so is an input
/// slower than `slow`.
pub fn guarded(target: Target, input: &[u8], slow: Duration) -> Verdict {
    let started = Instant::now();
    let watched = watch(|| target.run(input));
    let elapsed = started.elapsed();
    let outcome = match watched.result {
        Err(message) => Err(Finding::Panic(message)),
        Ok(Err(finding)) => Err(finding),
        Ok(Ok(_)) if elapsed > slow => Err(Finding::Slow(elapsed.as_millis() as u64)),
        Ok(Ok(outcome)) => Ok(outcome),
    };
    Verdict { outcome, contained: watched.contained.len(), elapsed }
}

/// The seed of input `n` of a run seeded `seed` (SplitMix64 of the three, so that nearby
/// numbers give unrelated inputs and each target its own sequence).
pub fn input_seed(seed: u64, target: Target, n: u64) -> u64 {
    let index = Target::all().iter().position(|t| *t == target).unwrap_or(0) as u64;
    let mut z = seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a run of one target counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Inputs run.
    pub run: u64,
    /// Inputs the code under test accepted.
    pub accepted: u64,
    /// Inputs it refused with an error.
    pub refused: u64,
    /// Inputs that showed a finding.
    pub findings: u64,
    /// Panics raised and contained by the code under test.
    pub contained: u64,
    /// The slowest input, in milliseconds.
    pub slowest_ms: u64,
    /// Time spent, in milliseconds.
    pub elapsed_ms: u64,
    /// The number of the next input (where a restarted run goes on).
    pub next: u64,
    /// Refusals by kind.
    pub refusals: BTreeMap<String, u64>,
}

impl Stats {
    /// Adds another run's counts (a restart after a crash) to these.
    pub fn add(&mut self, other: &Stats) {
        self.run += other.run;
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.findings += other.findings;
        self.contained += other.contained;
        self.slowest_ms = self.slowest_ms.max(other.slowest_ms);
        self.elapsed_ms += other.elapsed_ms;
        self.next = self.next.max(other.next);
        for (kind, n) in &other.refusals {
            *self.refusals.entry(kind.clone()).or_default() += n;
        }
    }

    /// Inputs per second.
    pub fn rate(&self) -> f64 {
        if self.elapsed_ms == 0 { 0.0 } else { self.run as f64 * 1000.0 / self.elapsed_ms as f64 }
    }

    /// One line of `key=value` pairs, how a worker process reports to its supervisor.
    pub fn to_line(&self) -> String {
        let mut line = format!(
            "stats run={} accepted={} refused={} findings={} contained={} slowest_ms={} elapsed_ms={} next={}",
            self.run,
            self.accepted,
            self.refused,
            self.findings,
            self.contained,
            self.slowest_ms,
            self.elapsed_ms,
            self.next
        );
        for (kind, n) in &self.refusals {
            // Kinds are words and spaces; `|` cannot occur in them.
            line.push_str(&format!(" refusal={}|{n}", kind.replace(' ', "_")));
        }
        line
    }

    /// The stats of a line written by [`Stats::to_line`].
    pub fn from_line(line: &str) -> Option<Stats> {
        let rest = line.strip_prefix("stats ")?;
        let mut stats = Stats::default();
        for pair in rest.split(' ') {
            let (key, value) = pair.split_once('=')?;
            if key == "refusal" {
                let (kind, n) = value.rsplit_once('|')?;
                stats.refusals.insert(kind.replace('_', " "), n.parse().ok()?);
                continue;
            }
            let value: u64 = value.parse().ok()?;
            match key {
                "run" => stats.run = value,
                "accepted" => stats.accepted = value,
                "refused" => stats.refused = value,
                "findings" => stats.findings = value,
                "contained" => stats.contained = value,
                "slowest_ms" => stats.slowest_ms = value,
                "elapsed_ms" => stats.elapsed_ms = value,
                "next" => stats.next = value,
                _ => return None,
            }
        }
        Some(stats)
    }
}

/// How to run a target.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to run.
    pub duration: Duration,
    /// The run's seed.
    pub seed: u64,
    /// The number of the first input.
    pub start: u64,
    /// Inputs slower than this are findings.
    pub slow: Duration,
    /// Where failing inputs are written (`<artifacts>/<target>/<seed>-<n>.bin`).
    pub artifacts: PathBuf,
    /// Where the number of the input being run is kept, if anywhere.
    pub breadcrumb: Option<PathBuf>,
}

/// A finding, and the file its input was written to.
#[derive(Debug)]
pub struct Found {
    /// The input's number.
    pub n: u64,
    /// What it showed.
    pub finding: Finding,
    /// Where it was written (`None` if writing failed).
    pub path: Option<PathBuf>,
}

/// The breadcrumb: the number of the input being run, rewritten in place before each.
struct Breadcrumb(Option<File>);

impl Breadcrumb {
    fn open(path: Option<&Path>) -> Breadcrumb {
        Breadcrumb(path.and_then(|p| File::create(p).ok()))
    }

    fn mark(&self, n: u64, phase: Phase) {
        if let Some(file) = &self.0 {
            // Fixed width, so a shorter number never leaves digits of a longer one behind.
            let phase = match phase {
                Phase::Generating => 'g',
                Phase::Running => 'r',
            };
            let _ = file.write_at(format!("{n:020} {phase}\n").as_bytes(), 0);
        }
    }
}

/// What the loop was doing with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Generating it: a death here is the fuzzer's own bug, and regenerating the input
    /// would die again.
    Generating,
    /// Running it through the code under test.
    Running,
}

/// The input number a breadcrumb file holds, and what was being done with it.
pub fn read_breadcrumb(path: &Path) -> Option<(u64, Phase)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (n, phase) = text.trim().split_once(' ')?;
    Some((n.parse().ok()?, if phase == "g" { Phase::Generating } else { Phase::Running }))
}

/// Writes a failing input; returns where.
pub fn write_artifact(dir: &Path, target: Target, seed: u64, n: u64, input: &[u8]) -> std::io::Result<PathBuf> {
    let dir = dir.join(target.name());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{seed}-{n}.bin"));
    File::create(&path)?.write_all(input)?;
    Ok(path)
}

/// Runs generated inputs through `target` until the time is up, calling `found` for each
/// finding and `progress` about once a second with the counts so far.
pub fn fuzz(
    target: Target,
    options: &Options,
    mut found: impl FnMut(&Found),
    mut progress: impl FnMut(&Stats),
) -> Stats {
    let started = Instant::now();
    let mut reported = Instant::now();
    let breadcrumb = Breadcrumb::open(options.breadcrumb.as_deref());
    let mut stats = Stats { next: options.start, ..Stats::default() };
    while started.elapsed() < options.duration {
        let n = stats.next;
        breadcrumb.mark(n, Phase::Generating);
        // A panic here is the fuzzer's own bug, not the code under test's: said so, and
        // the loop goes on.
        let input = match watch(|| target.generate(input_seed(options.seed, target, n))).result {
            Ok(input) => input,
            Err(message) => {
                stats.run += 1;
                stats.next += 1;
                stats.findings += 1;
                let finding = Finding::Panic(format!("the generator itself panicked (a fuzzer bug): {message}"));
                found(&Found { n, finding, path: None });
                continue;
            }
        };
        breadcrumb.mark(n, Phase::Running);
        let verdict = guarded(target, &input, options.slow);
        stats.run += 1;
        stats.next += 1;
        stats.contained += verdict.contained as u64;
        stats.slowest_ms = stats.slowest_ms.max(verdict.elapsed.as_millis() as u64);
        match verdict.outcome {
            Ok(Outcome::Accepted) => stats.accepted += 1,
            Ok(Outcome::Refused(kind)) => {
                stats.refused += 1;
                *stats.refusals.entry(kind).or_default() += 1;
            }
            Err(finding) => {
                stats.findings += 1;
                let path = write_artifact(&options.artifacts, target, options.seed, n, &input).ok();
                found(&Found { n, finding, path });
            }
        }
        if reported.elapsed() > Duration::from_secs(1) {
            reported = Instant::now();
            stats.elapsed_ms = started.elapsed().as_millis() as u64;
            progress(&stats);
        }
    }
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    stats
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stats_travel_as_one_line() {
        let mut stats = Stats { run: 10, accepted: 3, refused: 7, next: 12, elapsed_ms: 5, ..Stats::default() };
        stats.refusals.insert("over budget: decoded bytes".into(), 7);
        assert_eq!(Stats::from_line(&stats.to_line()).unwrap(), stats);
    }

    #[test]
    fn input_seeds_differ_by_target_and_number() {
        let a = input_seed(1, Target::FrontDoor, 0);
        assert_ne!(a, input_seed(1, Target::FrontDoor, 1));
        assert_ne!(a, input_seed(1, Target::Wire, 0));
        assert_eq!(a, input_seed(1, Target::FrontDoor, 0));
    }
}
