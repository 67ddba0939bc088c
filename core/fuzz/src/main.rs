//! `terrain-fuzz`: runs the structure-aware fuzz targets for a while, replays failing
//! inputs, and writes the corpus. See README.md beside this crate.
//!
//! ```text
//! terrain-fuzz TARGET|all SECONDS [--seed N] [--slow-ms N] [--stack-kib N] [--artifacts DIR]
//! terrain-fuzz replay TARGET FILE...
//! terrain-fuzz corpus [--dir DIR]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use terrain_fuzz::runner::{self, Options, Stats};
use terrain_fuzz::supervisor::{self, Plan};
use terrain_fuzz::{Outcome, Target, corpus};

const USAGE: &str = "usage:
  terrain-fuzz TARGET|all SECONDS [--seed N] [--slow-ms N] [--stack-kib N] [--artifacts DIR]
  terrain-fuzz replay TARGET FILE...
  terrain-fuzz corpus [--dir DIR]
targets: front-door, wire, bundle, xlsform, expression, media, form-files";

/// The fuzzing thread's stack by default: a phone's background thread (Android gives 1 MiB),
/// the smallest stack the core runs on.
const DEFAULT_STACK_KIB: usize = 1024;

/// One input slower than this is a finding.
const DEFAULT_SLOW_MS: u64 = 10_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("terrain-fuzz: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Options after the positional arguments, as `--name value` pairs.
struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(args: &[String]) -> Result<(Vec<String>, Flags), String> {
        let (mut positional, mut flags) = (Vec::new(), Vec::new());
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if let Some(name) = arg.strip_prefix("--") {
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                flags.push((name.to_owned(), value.clone()));
            } else {
                positional.push(arg.clone());
            }
        }
        Ok((positional, Flags(flags)))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        self.get(name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("--{name} {v}: not a number")))
    }

    fn path(&self, name: &str, default: PathBuf) -> PathBuf {
        self.get(name).map_or(default, PathBuf::from)
    }
}

fn target(name: &str) -> Result<Target, String> {
    Target::from_name(name).ok_or_else(|| format!("unknown target {name}"))
}

fn default_artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts")
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (positional, flags) = Flags::parse(args)?;
    let stack_kib = flags.number("stack-kib", DEFAULT_STACK_KIB as u64)? as usize;
    let slow = Duration::from_millis(flags.number("slow-ms", DEFAULT_SLOW_MS)?);
    let artifacts = flags.path("artifacts", default_artifacts());
    match positional.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["corpus"] => {
            let dir = flags.path("dir", corpus::default_dir());
            let (files, bytes) = corpus::write(&dir).map_err(|e| format!("writing {}: {e}", dir.display()))?;
            println!("wrote {files} corpus files, {bytes} bytes, under {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        ["replay", name, files @ ..] if !files.is_empty() => {
            let target = target(name)?;
            let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
            on_stack(stack_kib, move || replay(target, &files, slow))
        }
        ["worker", name] => {
            let target = target(name)?;
            let options = Options {
                duration: Duration::from_millis(flags.number("millis", 0)?),
                seed: flags.number("seed", 0)?,
                start: flags.number("start", 0)?,
                slow,
                artifacts,
                breadcrumb: flags.get("breadcrumb").map(PathBuf::from),
            };
            on_stack(stack_kib, move || worker(target, &options))
        }
        [name, seconds] => {
            let targets = if *name == "all" { Target::all().to_vec() } else { vec![target(name)?] };
            let seconds: u64 = seconds.parse().map_err(|_| format!("{seconds}: not a number of seconds"))?;
            let seed = match flags.get("seed") {
                Some(_) => flags.number("seed", 0)?,
                None => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() ^ u64::from(d.subsec_nanos())),
            };
            fuzz(&targets, Duration::from_secs(seconds), seed, slow, stack_kib, &artifacts)
        }
        _ => Err("unexpected arguments".to_owned()),
    }
}

/// Runs `f` on a thread with a stack of `kib` KiB, where the fuzzing happens.
fn on_stack(kib: usize, f: impl FnOnce() -> ExitCode + Send + 'static) -> Result<ExitCode, String> {
    std::thread::Builder::new()
        .name("fuzz".into())
        .stack_size(kib << 10)
        .spawn(f)
        .map_err(|e| format!("cannot start the fuzzing thread: {e}"))?
        .join()
        .map_err(|_| "the fuzzing thread panicked".to_owned())
}

fn worker(target: Target, options: &Options) -> ExitCode {
    let stats = runner::fuzz(
        target,
        options,
        |found| {
            println!("{}", supervisor::finding_line(found.n, found.path.as_deref(), &found.finding.to_string()));
        },
        |stats| println!("{}", stats.to_line()),
    );
    println!("{}", stats.to_line());
    ExitCode::SUCCESS
}

fn replay(target: Target, files: &[PathBuf], slow: Duration) -> ExitCode {
    let mut failed = false;
    for file in files {
        let input = match std::fs::read(file) {
            Ok(input) => input,
            Err(e) => {
                println!("{}: cannot read: {e}", file.display());
                failed = true;
                continue;
            }
        };
        let verdict = runner::guarded(target, &input, slow);
        let what = match &verdict.outcome {
            Ok(Outcome::Accepted) => "accepted".to_owned(),
            Ok(Outcome::Refused(kind)) => format!("refused ({kind})"),
            Err(finding) => {
                failed = true;
                format!("FINDING: {finding}")
            }
        };
        println!(
            "{}: {what} in {} ms, {} contained panics",
            file.display(),
            verdict.elapsed.as_millis(),
            verdict.contained
        );
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn fuzz(
    targets: &[Target],
    duration: Duration,
    seed: u64,
    slow: Duration,
    stack_kib: usize,
    artifacts: &Path,
) -> Result<ExitCode, String> {
    println!("seed {seed} (pass --seed {seed} to run the same inputs again), {} s per target", duration.as_secs());
    let mut rows: Vec<(Target, Stats)> = Vec::new();
    let mut replays: Vec<String> = Vec::new();
    for target in targets {
        let plan = Plan { target: *target, duration, seed, slow, artifacts: artifacts.to_path_buf(), stack_kib };
        let stats = supervisor::supervise(&plan, |reported| {
            let path = reported.path.as_ref().map_or_else(|| "(not written)".to_owned(), |p| p.display().to_string());
            println!("{} finding at input {}: {}\n  input: {path}", target.name(), reported.n, reported.message);
            replays.push(format!("terrain-fuzz replay {} {path}", target.name()));
        })
        .map_err(|e| format!("cannot run the {} worker: {e}", target.name()))?;
        rows.push((*target, stats));
    }
    print_table(&rows);
    if !replays.is_empty() {
        println!("\nreplay the failing inputs with:");
        replays.iter().for_each(|r| println!("  {r}"));
    }
    let findings: u64 = rows.iter().map(|(_, s)| s.findings).sum();
    Ok(if findings == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_table(rows: &[(Target, Stats)]) {
    println!(
        "\n{:<11} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>9}",
        "target", "inputs", "accepted", "refused", "findings", "contained", "slowest ms", "inputs/s"
    );
    for (target, s) in rows {
        println!(
            "{:<11} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>9.1}",
            target.name(),
            s.run,
            s.accepted,
            s.refused,
            s.findings,
            s.contained,
            s.slowest_ms,
            s.rate()
        );
    }
    println!("\nrefusals by kind:");
    for (target, s) in rows {
        let mut kinds: Vec<(&String, &u64)> = s.refusals.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1));
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!("  {:<11} {}", target.name(), kinds.join(", "));
    }
}
