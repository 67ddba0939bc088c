//! `terrain demo`: runs the seeded pilot of `terrain_demo` with progress bars, then
//! prints a summary table (or one JSON object with `--json`) and how to open the dashboard.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use terrain_demo::{self as demo, Event, Options, Summary};

/// The size of the pilot and where to keep it.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Enumerators in all (three quarters in Guinea, the rest in Béguédo; at least 2).
    #[arg(long, default_value_t = 16)]
    enumerators: usize,
    /// Surveys each enumerator fills in.
    #[arg(long, default_value_t = 20)]
    surveys_per_enumerator: usize,
    /// Seed of every random choice: the same seed gives the same pilot.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Keep the server running on the data afterwards, until Ctrl-C.
    #[arg(long)]
    keep: bool,
    /// Data directory to create and keep (default: a temporary one, deleted at the end).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Folder for the exports (default: `exports/` in the data directory when `--data` is
    /// given, else `terrain-demo-exports` here).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object instead of progress and a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let temp = match &args.data {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("creating a temporary data directory")?),
    };
    let data = match (&args.data, &temp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => anyhow::bail!("no data directory"),
    };
    let out = match (&args.out, &args.data) {
        (Some(o), _) => o.clone(),
        (None, Some(d)) => demo::default_out(d),
        (None, None) => PathBuf::from("terrain-demo-exports"),
    };
    let options = Options {
        enumerators: args.enumerators.max(2),
        surveys_per_enumerator: args.surveys_per_enumerator,
        seed: args.seed,
        data: data.clone(),
        out,
    };
    let bars = Bars::new(!args.json && std::io::stderr().is_terminal());
    let (summary, pilot) = demo::run(&options, &|event| bars.on(event))
        .with_context(|| format!("the demo stopped (data in {})", data.display()))?;
    bars.clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).context("encoding the summary")?);
    } else {
        print_table(&summary);
        println!();
        match (&args.data, args.keep) {
            (Some(d), false) => println!(
                "Open the dashboard on this data: `terrain serve --data {}` then http://127.0.0.1:8080/ \
                 (log in as sup-kindia, password `{}`).",
                d.display(),
                demo::pilot::PASSWORD
            ),
            (_, true) => {}
            (None, false) => println!(
                "The data was temporary. To explore it in the dashboard, run again with `--data DIR` \
                 (then `terrain serve --data DIR`, http://127.0.0.1:8080/) or with `--keep`."
            ),
        }
    }
    let healthy = summary.converged
        && summary.lost_answers == 0
        && summary.open_conflicts == 0
        && summary.conflicts_raised == summary.conflicts_resolved;
    let exports_ok = summary.export_results.iter().all(|e| e.error.is_none());
    if args.keep {
        eprintln!(
            "The pilot's server is running: {}/ (log in as sup-kindia, password `{}`). Ctrl-C to stop.",
            summary.url,
            demo::pilot::PASSWORD
        );
        pilot.wait_for_ctrl_c();
    }
    pilot.stop();
    drop(temp);
    Ok(if !healthy {
        ExitCode::from(1)
    } else if !exports_ok {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// One progress bar per step, on stderr; hidden when not a terminal or with `--json`.
struct Bars {
    visible: bool,
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn new(visible: bool) -> Bars {
        Bars { visible, current: Mutex::new(None) }
    }

    fn on(&self, event: Event) {
        if !self.visible {
            return;
        }
        let Ok(mut current) = self.current.lock() else { return };
        match event {
            Event::Step { name, total } => {
                let bar = if total > 0 {
                    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                    if let Ok(style) = ProgressStyle::with_template("{msg:45} [{bar:30}] {pos}/{len} {elapsed}") {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar
                } else {
                    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    if let Ok(style) = ProgressStyle::with_template("{msg:45} {spinner} {elapsed}") {
                        bar.set_style(style);
                    }
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    bar
                };
                bar.set_message(name);
                *current = Some(bar);
            }
            Event::Advance(n) => {
                if let Some(bar) = current.as_ref() {
                    bar.inc(n);
                }
            }
            Event::Done => {
                if let Some(bar) = current.take() {
                    bar.finish();
                }
            }
        }
    }

    fn clear(&self) {
        if let Ok(mut current) = self.current.lock()
            && let Some(bar) = current.take()
        {
            bar.finish_and_clear();
        }
    }
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn print_table(s: &Summary) {
    let mut rows: Vec<(String, String)> = Vec::new();
    for (form, n) in &s.surveys_per_form {
        rows.push((format!("surveys, {form}"), n.to_string()));
    }
    rows.push(("surveys in all / replicas compared".into(), format!("{} / {}", s.surveys, s.replicas)));
    rows.push((
        "review: approved / corrected / sent back".into(),
        format!("{} / {} / {}", s.review.approved, s.review.corrected, s.review.sent_back),
    ));
    rows.push((
        "sent back: comment seen on the phone".into(),
        format!("{} of {}", s.review.comments_seen_on_phones, s.review.sent_back),
    ));
    rows.push((
        "while fixing, supervisor edited: other / same answer".into(),
        format!("{} / {}", s.review.concurrent_other_answer, s.review.concurrent_same_answer),
    ));
    rows.push((
        "conflicts raised / resolved / still open".into(),
        format!("{} / {} / {}", s.conflicts_raised, s.conflicts_resolved, s.open_conflicts),
    ));
    rows.push(("syncs cut mid-way (resumed later)".into(), s.cut_syncs.to_string()));
    rows.push(("surveys relayed by bundle via a tablet".into(), s.bundled_surveys.to_string()));
    rows.push((
        "converged (every replica = server heads)".into(),
        if s.converged { "yes".into() } else { format!("NO: {:?}", s.divergences) },
    ));
    rows.push(("acknowledged values lost".into(), format!("{} of {} checked", s.lost_answers, s.values_checked)));
    rows.push((
        "bytes on the wire, all devices".into(),
        format!(
            "{} ({:.2}× the baseline)",
            kib(s.bytes_on_wire),
            s.bytes_on_wire as f64 / s.json_gzip_bytes.max(1) as f64
        ),
    ));
    rows.push((
        "  of which enumerators' phones".into(),
        format!(
            "{} ({:.2}× the baseline)",
            kib(s.enumerator_bytes),
            s.enumerator_bytes as f64 / s.json_gzip_bytes.max(1) as f64
        ),
    ));
    rows.push((
        "  of which sent by the phones".into(),
        format!(
            "{} ({:.2}× the baseline)",
            kib(s.enumerator_upload_bytes),
            s.enumerator_upload_bytes as f64 / s.json_gzip_bytes.max(1) as f64
        ),
    ));
    let t = &s.enumerator_traffic;
    let share = |bytes: u64| format!("{} ({:.2}×)", kib(bytes), bytes as f64 / s.json_gzip_bytes.max(1) as f64);
    rows.push(("  phones: pushes (sync request bodies)".into(), share(t.bodies_sent)));
    rows.push(("  phones: acknowledgements and pulls (bodies)".into(), share(t.bodies_received)));
    rows.push((
        "  phones: HTTP lines and headers".into(),
        format!("{}, {} round trips in {} syncs", share(t.framing), t.rounds, t.syncs),
    ));
    rows.push(("  phones: syncs cut mid-way".into(), share(t.cut)));
    rows.push((
        "  the phones' pushes as JSON, gzip'd per sync (not sent)".into(),
        format!(
            "{}; the pushes are {:.2}× that",
            share(t.json_per_sync),
            t.bodies_sent as f64 / t.json_per_sync.max(1) as f64
        ),
    ));
    rows.push((
        "baseline: final answers as JSON, gzip'd".into(),
        format!("{} ({} uncompressed)", kib(s.json_gzip_bytes), kib(s.json_bytes)),
    ));
    rows.push(("time".into(), format!("{:.1} s", s.seconds)));
    for e in &s.export_results {
        let value = match (&e.path, &e.error) {
            (Some(p), _) => match e.surveys {
                Some(n) => format!("{} ({n} surveys, {})", p.display(), kib(e.bytes)),
                None => format!("{} ({})", p.display(), kib(e.bytes)),
            },
            (None, Some(err)) => format!("FAILED: {err}"),
            (None, None) => "FAILED".into(),
        };
        rows.push((format!("export {} {}", e.form_id, e.format), value));
    }
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!("Terrain demo: a field pilot on this machine\n");
    for (k, v) in rows {
        println!("  {k:width$}  {v}");
    }
}
