//! `terrain demo`: a seeded field pilot run end to end on this machine, on loopback.
//!
//! The server runs in-process; every enumerator's phone and supervisor's tablet is a real
//! store in its own SQLite file, syncing over HTTP through a proxy that counts bytes and
//! cuts links. Steps, one module each: [`pilot`] (server, accounts, forms), [`field`]
//! (devices collecting offline with [`answers`] the forms accept, connectivity windows, a
//! bundle handed to a supervisor), [`review`], a final sync, [`check`] (convergence and
//! nothing acknowledged lost, verified) and [`export`]. The same run is the journey test
//! in `tests/` and the source of the demo's figures.

pub mod answers;
pub mod check;
pub mod export;
pub mod field;
pub mod http;
pub mod pilot;
pub mod proxy;
pub mod review;
pub mod sample;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use terrain_core::form::Evaluator;
use terrain_core::sync::bundle;
use terrain_core::{Role, SurveyQuery};

use self::check::Verdict;
use self::export::ExportResult;
use self::field::{Device, Traffic, Written};
use self::pilot::Pilot;
use self::review::ReviewOutcome;

/// The two mission questionnaires, embedded so the demo runs from any directory.
pub const FORMS: [(&str, &[u8]); 2] = [
    ("guinea_needs.xlsx", include_bytes!("../../../forms/guinea_needs.xlsx")),
    ("beguedo_slm.xlsx", include_bytes!("../../../forms/beguedo_slm.xlsx")),
];

/// Days of fieldwork the collection is spread over (connectivity changes every day).
const DAYS: usize = 5;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Enumerators in all (at least 2): three quarters in Guinea, the rest in Béguédo.
    pub enumerators: usize,
    /// Surveys each enumerator fills in.
    pub surveys_per_enumerator: usize,
    /// The seed of every random choice.
    pub seed: u64,
    /// The server's data directory (devices go in `devices/` inside it).
    pub data: PathBuf,
    /// Where the exports are written.
    pub out: PathBuf,
}

/// Progress of a run, for progress bars.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// A step starts, with its number of units (0 when not counted).
    Step {
        /// What the step does.
        name: &'static str,
        /// How many units it has.
        total: u64,
    },
    /// Units done in the current step.
    Advance(u64),
    /// The current step is done.
    Done,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Starting or setting up the server failed.
    #[error("setting up the pilot server failed: {0}")]
    Server(String),
    /// A device's store failed.
    #[error("a device's store failed: {0}")]
    Store(#[from] terrain_core::StoreError),
    /// The server's storage failed.
    #[error("the server's storage failed: {0}")]
    Backend(#[from] terrain_services::backend::BackendError),
    /// A sync failed for a reason other than a cut link.
    #[error("a sync failed: {0}")]
    Sync(String),
    /// A bundle could not be made or read.
    #[error("a bundle failed: {0}")]
    Bundle(#[from] bundle::BundleError),
    /// An API call failed.
    #[error("an API call failed: {0}")]
    Http(String),
    /// A file could not be written.
    #[error("{0}")]
    Io(String),
    /// The scenario could not go on.
    #[error("{0}")]
    Check(String),
}

impl From<terrain_core::sync::TransportError> for DemoError {
    fn from(e: terrain_core::sync::TransportError) -> Self {
        DemoError::Http(e.to_string())
    }
}

/// Everything the demo measured and checked.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Surveys on the server at the end.
    pub surveys: usize,
    /// Surveys per form id.
    pub surveys_per_form: BTreeMap<String, usize>,
    /// Copies compared (server and devices).
    pub replicas: usize,
    /// Whether every replica converged.
    pub converged: bool,
    /// What diverged, if anything.
    pub divergences: Vec<String>,
    /// Acknowledged values lost (must be 0).
    pub lost_answers: usize,
    /// Values checked for loss.
    pub values_checked: usize,
    /// Conflicts raised by concurrent edits of the same answer.
    pub conflicts_raised: usize,
    /// Conflicts settled by supervisors.
    pub conflicts_resolved: usize,
    /// Conflicts still open at the end.
    pub open_conflicts: usize,
    /// The review round.
    pub review: ReviewOutcome,
    /// Syncs cut by the link before they finished (all resumed later).
    pub cut_syncs: usize,
    /// Surveys handed to a supervisor's tablet as a bundle and relayed by it.
    pub bundled_surveys: usize,
    /// Bytes through every device's link (headers, cut syncs and supervisors' pulls included).
    pub bytes_on_wire: u64,
    /// Of which the enumerators' phones.
    pub enumerator_bytes: u64,
    /// Of which the enumerators' phones sent (their surveys, fixes and requests).
    pub enumerator_upload_bytes: u64,
    /// Where the bytes through the phones' links went.
    pub enumerator_traffic: Traffic,
    /// Where the bytes through the supervisors' tablets' links went.
    pub supervisor_traffic: Traffic,
    /// Every final survey's answers as compact JSON, gzip'd as one stream.
    pub json_gzip_bytes: u64,
    /// The same JSON uncompressed.
    pub json_bytes: u64,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// Paths of the exports written.
    pub exports: Vec<PathBuf>,
    /// Every export attempted, with errors.
    pub export_results: Vec<ExportResult>,
    /// The server's data directory.
    pub data: PathBuf,
    /// The server's address during the run.
    pub url: String,
}

/// Runs the pilot and returns its summary, with the server still running (for `--keep`;
/// drop or stop the [`Pilot`] to end it).
pub fn run(options: &Options, progress: &(dyn Fn(Event) + Sync)) -> Result<(Summary, Pilot), DemoError> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(options.seed);
    progress(Event::Step { name: "starting the server, creating accounts", total: 0 });
    let pilot = Pilot::start(&options.data, options.enumerators.max(2))?;
    let devices_dir = options.data.join("devices");
    std::fs::create_dir_all(&devices_dir).map_err(|e| DemoError::Io(format!("creating devices/: {e}")))?;
    let forms: Vec<&terrain_core::Form> = pilot.teams.iter().map(|t| t.form.as_ref()).collect();
    let mut enumerators = Vec::new();
    let mut supervisors = Vec::new();
    for team in &pilot.teams {
        supervisors.push(Device::login(&devices_dir, pilot.addr, &team.supervisor, Role::Supervisor, &forms)?);
        for name in &team.enumerators {
            enumerators.push(Device::login(&devices_dir, pilot.addr, name, Role::Enumerator, &forms)?);
        }
    }
    progress(Event::Done);

    // Collection over several days; connectivity comes and goes.
    let out_of_range = pilot.teams.last().and_then(|t| t.enumerators.first()).cloned().unwrap_or_default();
    let mut written: Vec<Written> = Vec::new();
    let mut bundled = std::collections::BTreeSet::new();
    let total = (enumerators.len() * options.surveys_per_enumerator) as u64;
    progress(Event::Step { name: "collecting offline, syncing when in range", total });
    let evaluators: Vec<Evaluator<'_>> = pilot.teams.iter().map(|t| Evaluator::new(&t.form)).collect();
    for day in 0..DAYS {
        for device in enumerators.iter_mut() {
            let team = pilot.teams.iter().position(|t| t.enumerators.contains(&device.user)).unwrap_or(0);
            let today = share(options.surveys_per_enumerator, day);
            for _ in 0..today {
                // As the form screen writes a survey: one change per answer.
                device.collect_answer_by_answer(&evaluators[team], &mut rng, &mut written)?;
                progress(Event::Advance(1));
            }
            if device.user == out_of_range {
                continue;
            }
            if rng.random_bool(0.6) {
                if rng.random_bool(0.3) {
                    device.proxy.cut_next_after(rng.random_range(300..8000));
                }
                device.sync()?;
            }
        }
        // The enumerator out of range meets the supervisor every other day, and hands over
        // their surveys as a bundle; the tablet relays them at its next sync.
        let handover = day % 2 == 1 || day == DAYS - 1;
        if let (true, Some(phone), Some(tablet)) =
            (handover, enumerators.iter().find(|d| d.user == out_of_range), supervisors.last())
        {
            let bytes = bundle::export(&phone.store, None)?;
            let report = bundle::import(&tablet.store, &bytes)?;
            if !report.failed.is_empty() {
                return Err(DemoError::Check(format!("the bundle was refused: {:?}", report.failed)));
            }
            for s in phone.store.list(&SurveyQuery { limit: Some(u32::MAX), ..Default::default() })? {
                bundled.insert(s.survey_id);
            }
        }
        for tablet in supervisors.iter_mut() {
            if rng.random_bool(0.7) {
                if rng.random_bool(0.2) {
                    tablet.proxy.cut_next_after(rng.random_range(300..8000));
                }
                tablet.sync()?;
            }
        }
    }
    progress(Event::Done);

    // Everyone reaches the network before the review (the enumerator out of range too).
    progress(Event::Step { name: "syncing before the review", total: 0 });
    for device in supervisors.iter_mut() {
        device.sync_until_done()?;
    }
    for device in enumerators.iter_mut().chain(supervisors.iter_mut()) {
        device.sync_until_done()?;
    }
    progress(Event::Done);

    progress(Event::Step { name: "supervisors review, enumerators fix", total: 0 });
    let review = review::review(&pilot, &mut enumerators, &mut supervisors, &mut rng, &mut written)?;
    progress(Event::Done);

    progress(Event::Step { name: "final sync and checks", total: 0 });
    for _ in 0..2 {
        for device in enumerators.iter_mut().chain(supervisors.iter_mut()) {
            device.sync_until_done()?;
        }
    }
    let verdict: Verdict = check::check(&pilot, &enumerators, &supervisors, &written)?;
    let (json_bytes, json_gzip_bytes, surveys_per_form) = json_baseline(&pilot)?;
    progress(Event::Done);

    progress(Event::Step { name: "the analyst exports approved surveys", total: 0 });
    let export_results = export::export(&pilot, &options.out)?;
    progress(Event::Done);

    let summary = Summary {
        surveys: verdict.surveys,
        surveys_per_form,
        replicas: verdict.replicas,
        converged: verdict.converged,
        divergences: verdict.divergences,
        lost_answers: verdict.lost_answers,
        values_checked: verdict.values_checked,
        conflicts_raised: review.conflicts_raised,
        conflicts_resolved: review.conflicts_resolved,
        open_conflicts: verdict.open_conflicts,
        review,
        cut_syncs: enumerators.iter().chain(&supervisors).map(|d| d.cut_syncs).sum(),
        bundled_surveys: bundled.len(),
        bytes_on_wire: enumerators.iter().chain(&supervisors).map(|d| d.proxy.bytes()).sum(),
        enumerator_bytes: enumerators.iter().map(|d| d.proxy.bytes()).sum(),
        enumerator_upload_bytes: enumerators.iter().map(|d| d.proxy.uploaded()).sum(),
        enumerator_traffic: total_traffic(&enumerators),
        supervisor_traffic: total_traffic(&supervisors),
        json_gzip_bytes,
        json_bytes,
        seconds: started.elapsed().as_secs_f64(),
        exports: export_results.iter().filter_map(|e| e.path.clone()).collect(),
        export_results,
        data: options.data.clone(),
        url: pilot.url.clone(),
    };
    Ok((summary, pilot))
}

/// The traffic of `devices`, summed.
fn total_traffic(devices: &[Device]) -> Traffic {
    let mut total = Traffic::default();
    for device in devices {
        total += device.traffic;
    }
    total
}

/// Surveys an enumerator fills in on `day`: the total spread evenly, remainder first.
fn share(total: usize, day: usize) -> usize {
    total / DAYS + usize::from(day < total % DAYS)
}

/// The baseline of bytes on the wire: every final survey's answers as compact JSON, one
/// line each, gzip'd as one stream ([`gzipped_len`]); also counts surveys per form.
fn json_baseline(pilot: &Pilot) -> Result<(u64, u64, BTreeMap<String, usize>), DemoError> {
    let backend = pilot.backend();
    let mut stream = Vec::new();
    let mut per_form = BTreeMap::new();
    for entry in backend.feed(0, u32::MAX, &Default::default())? {
        *per_form.entry(entry.summary.form_id.clone()).or_insert(0) += 1;
        let survey = backend.survey_json(&entry.summary.survey_id)?;
        stream.extend(survey["answers"].to_string().into_bytes());
        stream.push(b'\n');
    }
    let zipped = gzipped_len(&stream).map_err(|e| DemoError::Io(e.to_string()))?;
    Ok((stream.len() as u64, zipped, per_form))
}

/// The size of `stream` gzip'd as one stream, at gzip's default level: the baseline every
/// figure of bytes on the wire is a ratio to (the demo, `server/benches/sync.rs` and
/// `field_link.rs`), over the answers as compact JSON, one line per survey.
pub fn gzipped_len(stream: &[u8]) -> std::io::Result<u64> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(stream)?;
    Ok(gz.finish()?.len() as u64)
}

/// The default data directory name under the system's temporary directory.
pub fn default_out(data: &Path) -> PathBuf {
    data.join("exports")
}
