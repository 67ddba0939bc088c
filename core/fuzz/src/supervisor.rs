//! Runs each target's fuzzing loop in a child process (this same binary, `worker` mode), so
//! that what cannot be caught in-process is still a finding: an allocation that fails under
//! the address-space cap aborts, a stack overflow aborts, a hang never returns.
//!
//! When a worker dies, the supervisor reads which input it was running from the breadcrumb,
//! regenerates that input from its seed, keeps it as an artifact, and starts a new worker
//! at the next input until the target's time is up.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::runner::{self, Phase, Stats};
use crate::{Finding, Target};

/// How to fuzz one target.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The target.
    pub target: Target,
    /// For how long.
    pub duration: Duration,
    /// The run's seed.
    pub seed: u64,
    /// Inputs slower than this are findings.
    pub slow: Duration,
    /// Where failing inputs go.
    pub artifacts: PathBuf,
    /// The stack of the worker's fuzzing thread, in KiB.
    pub stack_kib: usize,
}

/// A finding reported by a worker or by the supervisor.
#[derive(Debug, Clone)]
pub struct Reported {
    /// The input's number.
    pub n: u64,
    /// What it showed, in words.
    pub message: String,
    /// Where the input was written.
    pub path: Option<PathBuf>,
}

/// Workers restarted after this many deaths stop: the target crashes on nearly every input.
const MAX_RESTARTS: usize = 20;

/// What one worker sent before it ended.
enum Line {
    Stats(Stats),
    Finding(Reported),
}

/// Fuzzes `plan.target` in worker processes for `plan.duration`; calls `found` for each
/// finding as it arrives.
pub fn supervise(plan: &Plan, mut found: impl FnMut(&Reported)) -> std::io::Result<Stats> {
    let exe = std::env::current_exe()?;
    std::fs::create_dir_all(&plan.artifacts)?;
    let deadline = Instant::now() + plan.duration;
    let mut total = Stats::default();
    let mut restarts = 0;
    while restarts <= MAX_RESTARTS {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let breadcrumb = plan.artifacts.join(format!(".inflight-{}-{}", plan.target.name(), std::process::id()));
        let mut child = Command::new(&exe)
            .arg("worker")
            .arg(plan.target.name())
            .args(["--millis", &left.as_millis().to_string()])
            .args(["--seed", &plan.seed.to_string()])
            .args(["--start", &total.next.to_string()])
            .args(["--slow-ms", &plan.slow.as_millis().to_string()])
            .args(["--stack-kib", &plan.stack_kib.to_string()])
            .arg("--artifacts")
            .arg(&plan.artifacts)
            .arg("--breadcrumb")
            .arg(&breadcrumb)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let lines = read_lines(&mut child);
        let stderr = read_stderr(&mut child);
        // A worker stops by itself when its time is up, plus one slow input; past that it
        // hangs.
        let give_up = Instant::now() + left + plan.slow + Duration::from_secs(20);
        let mut last = Stats::default();
        let mut take = |line: Line| match line {
            Line::Stats(stats) => last = stats,
            Line::Finding(reported) => found(&reported),
        };
        let (status, hung) = wait(&mut child, give_up, || lines.try_iter().for_each(&mut take))?;
        // The rest of what it wrote, up to the end of its output.
        lines.iter().for_each(&mut take);
        if status.success() && !hung {
            let _ = std::fs::remove_file(&breadcrumb);
            total.add(&last);
            break;
        }
        // The worker died on an input: keep it, count it, go on after it.
        let (n, phase) = runner::read_breadcrumb(&breadcrumb).unwrap_or((last.next, Phase::Running));
        let _ = std::fs::remove_file(&breadcrumb);
        // An input the generator died making would kill this process too: not remade.
        let path = if phase == Phase::Running {
            let input = crate::panics::watch(|| plan.target.generate(runner::input_seed(plan.seed, plan.target, n)));
            input
                .result
                .ok()
                .and_then(|input| runner::write_artifact(&plan.artifacts, plan.target, plan.seed, n, &input).ok())
        } else {
            None
        };
        let mut why = if hung { "hung, killed".to_owned() } else { describe(status) };
        if phase == Phase::Generating {
            why.push_str(" while generating the input (a fuzzer bug, not a finding of the code under test)");
        }
        let tail = stderr.join().unwrap_or_default();
        let finding = Finding::Crash(if tail.is_empty() { why } else { format!("{why}; it said: {tail}") });
        found(&Reported { n, message: finding.to_string(), path });
        let start = total.next;
        total.add(&last);
        // Inputs run by the dead worker after its last report are counted as run.
        total.run += (n + 1).saturating_sub(last.next.max(start));
        total.findings += 1;
        total.next = n + 1;
        restarts += 1;
    }
    Ok(total)
}

fn read_lines(child: &mut Child) -> mpsc::Receiver<Line> {
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let parsed = if let Some(stats) = Stats::from_line(&line) {
                    Line::Stats(stats)
                } else if let Some(reported) = parse_finding(&line) {
                    Line::Finding(reported)
                } else {
                    continue;
                };
                if tx.send(parsed).is_err() {
                    return;
                }
            }
        });
    }
    rx
}

/// The last lines the worker wrote to its standard error (an abort's last words).
fn read_stderr(child: &mut Child) -> thread::JoinHandle<String> {
    let err = child.stderr.take();
    thread::spawn(move || {
        let Some(err) = err else { return String::new() };
        let mut tail: Vec<String> = Vec::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            tail.push(line);
            if tail.len() > 4 {
                tail.remove(0);
            }
        }
        tail.join(" / ")
    })
}

/// Waits for the child, calling `poll` now and then meanwhile; kills it past `give_up`.
fn wait(child: &mut Child, give_up: Instant, mut poll: impl FnMut()) -> std::io::Result<(ExitStatus, bool)> {
    loop {
        poll();
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        if Instant::now() > give_up {
            // Our own child, by its handle.
            child.kill()?;
            return Ok((child.wait()?, true));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (_, Some(6)) => "aborted (SIGABRT: an allocation failed under the cap, or a stack overflowed)".to_owned(),
        (_, Some(11)) => "crashed (SIGSEGV)".to_owned(),
        (_, Some(9)) => "killed (SIGKILL: out of memory?)".to_owned(),
        (_, Some(signal)) => format!("killed by signal {signal}"),
        (Some(code), None) => format!("exited with status {code}"),
        (None, None) => "ended without a status".to_owned(),
    }
}

/// The line a worker prints for a finding.
pub fn finding_line(n: u64, path: Option<&std::path::Path>, message: &str) -> String {
    let path = path.map_or_else(|| "-".to_owned(), |p| p.display().to_string());
    // One line: the message may hold newlines (a panic's).
    format!("finding {n} {path} {}", message.replace('\n', " "))
}

fn parse_finding(line: &str) -> Option<Reported> {
    let mut parts = line.strip_prefix("finding ")?.splitn(3, ' ');
    let n = parts.next()?.parse().ok()?;
    let path = parts.next()?;
    let message = parts.next().unwrap_or_default().to_owned();
    Some(Reported { n, message, path: (path != "-").then(|| PathBuf::from(path)) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn finding_lines_parse_back() {
        let line = finding_line(42, Some(std::path::Path::new("/a/b.bin")), "panicked: x\ny");
        let reported = parse_finding(&line).unwrap();
        assert_eq!((reported.n, reported.message.as_str()), (42, "panicked: x y"));
        assert_eq!(reported.path.unwrap(), PathBuf::from("/a/b.bin"));
    }
}
