//! Seeded simulation of several devices and the relay over a network that drops,
//! duplicates, reorders and cuts messages, with crashes of devices and of the relay at random
//! points. One seed fixes the whole schedule: which device does what, when, and what the
//! network does to each message.
//!
//! A schedule runs in two phases. In the first, devices create and edit surveys, the
//! supervisor reviews on the tablet and on the relay, and devices sync through the faulty
//! network. In the second the network heals and every device syncs until nothing moves. Then
//! the schedule checks:
//! - every store and the relay open again from their files;
//! - nothing is left to push;
//! - every device holds every survey it may see, at the relay's heads (convergence);
//! - every write that returned `Ok` (on a device or on the relay) is in every replica of its
//!   survey (no acknowledged write is lost).
//!
//! Devices are real stores (SQLite files) and the relay is the real `terrain-services` over
//! its SQLite files; only HTTP is left out, because the network is what is simulated.
//! Automerge actor ids and survey ids are random, so a replayed seed repeats every decision
//! of the schedule but not those ids.

mod link;
mod template;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use automerge::{AutoCommit, ChangeHash, ReadDoc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::intake::{self, Budget};
use terrain_core::survey::{NewComment, ReviewStatus};
use terrain_core::sync::{self, CancelToken, SyncOptions};
use terrain_core::{AnswerPath, Role, Store, Value};
use terrain_services::review::{ReviewAction, ReviewRequest};

pub use link::{Fault, Relay};
use link::{Link, Net};
pub use template::{DeviceSpec, Template, household_form};

/// What one schedule did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Steps of the faulty phase.
    pub steps: u64,
    /// Writes that returned `Ok` (on devices and on the relay): each was checked.
    pub acknowledged: u64,
    /// Syncs started in the faulty phase.
    pub syncs: u64,
    /// Messages that met each fault, in [`Fault::ALL`]'s order.
    pub faults: [u64; Fault::ALL.len()],
    /// Messages delivered untouched in the faulty phase.
    pub delivered: u64,
    /// Relay crashes.
    pub relay_crashes: u64,
    /// Device crashes.
    pub device_crashes: u64,
    /// Surveys created.
    pub surveys: u64,
    /// Passes of syncs the healed network took to settle.
    pub heal_passes: u64,
}

impl Outcome {
    /// Adds another schedule's figures to these.
    pub fn add(&mut self, other: &Outcome) {
        self.steps += other.steps;
        self.acknowledged += other.acknowledged;
        self.syncs += other.syncs;
        for (a, b) in self.faults.iter_mut().zip(other.faults) {
            *a += b;
        }
        self.delivered += other.delivered;
        self.relay_crashes += other.relay_crashes;
        self.device_crashes += other.device_crashes;
        self.surveys += other.surveys;
        self.heal_passes += other.heal_passes;
    }
}

/// A schedule that broke an invariant: its seed, what broke, and what it did.
#[derive(Debug)]
pub struct Failure {
    /// The seed that replays it.
    pub seed: u64,
    /// What broke.
    pub message: String,
    /// The schedule's events, in order.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "seed {}: {}", self.seed, self.message)?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        write!(f, "replay it with TERRAIN_SIM_SEED={} cargo test -p terrain-tests --test simulation", self.seed)
    }
}

/// A device in a schedule: its store while it runs.
struct Device {
    path: PathBuf,
    spec: template::DeviceSpec,
    store: Option<Store>,
}

impl Device {
    fn store(&mut self) -> Result<&Store, String> {
        if self.store.is_none() {
            let store = Store::open(&self.path, self.spec.author.clone())
                .map_err(|e| format!("{} did not open again after a crash: {e}", self.spec.file))?;
            self.store = Some(store);
        }
        self.store.as_ref().ok_or_else(|| "no store".to_owned())
    }

    fn is_enumerator(&self) -> bool {
        self.spec.author.role == Role::Enumerator
    }
}

/// A write that returned `Ok`: the survey, the heads right after it, and who wrote it.
struct Acknowledged {
    survey: String,
    heads: Vec<ChangeHash>,
    by: String,
}

struct Schedule {
    seed: u64,
    rng: StdRng,
    net: Arc<Net>,
    devices: Vec<Device>,
    /// Surveys in the order they were created: the schedule picks by index, never by id.
    surveys: Vec<String>,
    acknowledged: Vec<Acknowledged>,
    trace: Vec<String>,
    outcome: Outcome,
}

/// Runs the schedule of `seed` in a fresh copy of `template` under `root`.
pub fn run(seed: u64, template: &Template, root: &Path) -> Result<Outcome, Failure> {
    let fail = |message: String, trace: Vec<String>| Failure { seed, message, trace };
    let dir = tempfile::tempdir_in(root).map_err(|e| fail(e.to_string(), Vec::new()))?;
    template.copy_to(dir.path()).map_err(|e| fail(e, Vec::new()))?;
    let net = Net::new(seed ^ 0x9e37_79b9_7f4a_7c15, Relay::new(Template::relay_dir(dir.path())));
    let devices = template
        .devices
        .iter()
        .map(|spec| Device { path: dir.path().join(&spec.file), spec: spec.clone(), store: None })
        .collect();
    let mut schedule = Schedule {
        seed,
        rng: StdRng::seed_from_u64(seed),
        net,
        devices,
        surveys: Vec::new(),
        acknowledged: Vec::new(),
        trace: Vec::new(),
        outcome: Outcome::default(),
    };
    match schedule.faulty_phase().and_then(|()| schedule.heal()).and_then(|()| schedule.check()) {
        Ok(()) => {
            let (faults, delivered) = schedule.net.counts();
            let mut outcome = schedule.outcome;
            outcome.faults = faults;
            outcome.delivered = delivered;
            outcome.acknowledged = schedule.acknowledged.len() as u64;
            outcome.surveys = schedule.surveys.len() as u64;
            Ok(outcome)
        }
        Err(message) => Err(fail(message, schedule.trace)),
    }
}

impl Schedule {
    fn log(&mut self, event: String) {
        self.trace.push(event);
    }

    fn faulty_phase(&mut self) -> Result<(), String> {
        let steps = self.rng.random_range(10..50);
        for step in 0..steps {
            self.outcome.steps += 1;
            let device = self.rng.random_range(0..self.devices.len());
            match self.rng.random_range(0..100) {
                0..20 => self.create(step, device)?,
                20..50 => self.edit(step, device)?,
                50..78 => self.sync(step, device)?,
                78..86 => self.relay_write(step)?,
                86..92 => {
                    if self.net.deliver_held() {
                        self.log(format!("{step}: a held-back message arrives"));
                    }
                }
                92..97 => {
                    self.log(format!("{step}: {} crashes", self.devices[device].spec.file));
                    self.crash_device(device);
                }
                _ => {
                    self.log(format!("{step}: the relay crashes"));
                    self.net.relay(Relay::crash);
                    self.outcome.relay_crashes += 1;
                }
            }
        }
        Ok(())
    }

    fn crash_device(&mut self, device: usize) {
        if self.devices[device].store.take().is_some() {
            self.outcome.device_crashes += 1;
        }
    }

    /// An enumerator starts a survey.
    fn create(&mut self, step: u64, device: usize) -> Result<(), String> {
        let device = if self.devices[device].is_enumerator() { device } else { 0 };
        let store = self.devices[device].store()?;
        let id = store.create_survey("household", "2026110101").map_err(|e| format!("creating a survey: {e}"))?;
        let heads = store.heads(&id).map_err(|e| e.to_string())?;
        let by = self.devices[device].spec.file.clone();
        self.log(format!("{step}: {by} creates survey #{}", self.surveys.len()));
        self.surveys.push(id.clone());
        self.acknowledged.push(Acknowledged { survey: id, heads, by });
        Ok(())
    }

    /// A survey the device holds, picked by creation order.
    fn pick_survey(&mut self, device: usize) -> Result<Option<(usize, String)>, String> {
        let store = self.devices[device].store()?;
        let mut held = Vec::new();
        for (i, id) in self.surveys.iter().enumerate() {
            if store.summary(id).map_err(|e| e.to_string())?.is_some() {
                held.push((i, id.clone()));
            }
        }
        if held.is_empty() {
            return Ok(None);
        }
        Ok(Some(held.swap_remove(self.rng.random_range(0..held.len()))))
    }

    /// A device edits a survey it holds: an answer, a repeat, or (the supervisor) a review.
    fn edit(&mut self, step: u64, device: usize) -> Result<(), String> {
        let Some((index, id)) = self.pick_survey(device)? else { return Ok(()) };
        let choice = self.rng.random_range(0..5);
        let n = self.rng.random_range(1..59);
        let enumerator = self.devices[device].is_enumerator();
        let by = self.devices[device].spec.file.clone();
        let store = self.devices[device].store()?;
        let written = (|| -> Result<&str, terrain_core::StoreError> {
            Ok(match choice {
                0 => {
                    store.set_answer(&id, &AnswerPath::top("village"), Value::Text(format!("{by} {step}")))?;
                    "sets the village"
                }
                1 => {
                    store.set_answer(&id, &AnswerPath::top("hh_size"), Value::Integer(n))?;
                    "sets the household size"
                }
                2 => {
                    let member = AnswerPath::top("member");
                    let at = store.add_repeat_instance(&id, &member, None)?;
                    store.set_answer(&id, &member.child(at, "member_name"), Value::Text(format!("m{step}")))?;
                    "adds a member"
                }
                3 if !enumerator => {
                    let comment = NewComment { text: format!("please check {step}"), question: Some("hh_size".into()) };
                    store.set_review(&id, Some(ReviewStatus::HasIssues), Some(&comment))?;
                    "flags issues"
                }
                _ => {
                    store.clear_answer(&id, &AnswerPath::top("head_name"))?;
                    store.set_answer(&id, &AnswerPath::top("head_name"), Value::Text(format!("head {n}")))?;
                    "renames the head"
                }
            })
        })();
        let what = written.map_err(|e| format!("{by} could not edit survey #{index}: {e}"))?;
        let heads = store.heads(&id).map_err(|e| e.to_string())?;
        self.log(format!("{step}: {by} {what} in survey #{index}"));
        self.acknowledged.push(Acknowledged { survey: id, heads, by });
        Ok(())
    }

    /// A device syncs through the faulty network, in small batches (more messages, more
    /// places to cut).
    fn sync(&mut self, step: u64, device: usize) -> Result<(), String> {
        self.outcome.syncs += 1;
        let options = SyncOptions {
            push_batch_bytes: self.rng.random_range(200..20_000),
            max_pull_bytes: self.rng.random_range(500..50_000),
            max_rounds: 200,
        };
        let link = Link { device, token: self.devices[device].spec.token.clone(), net: self.net.clone() };
        let store = self.devices[device].store()?;
        let result = sync::sync(store, &link, &options, &|_| {}, &CancelToken::default());
        let by = self.devices[device].spec.file.clone();
        match result {
            Ok(report) => self.log(format!(
                "{step}: {by} syncs: {} pushed, {} pulled, {} refused",
                report.progress.pushed,
                report.progress.pulled,
                report.refused.len()
            )),
            Err(e) => self.log(format!("{step}: {by} syncs and stops: {e}")),
        }
        for crashed in self.net.take_crashed() {
            self.log(format!("{step}: {} crashed during the sync", self.devices[crashed].spec.file));
            self.crash_device(crashed);
        }
        Ok(())
    }

    /// The supervisor reviews or corrects a survey on the relay (from the dashboard).
    fn relay_write(&mut self, step: u64) -> Result<(), String> {
        let known: Vec<usize> = (0..self.surveys.len()).collect();
        if known.is_empty() {
            return Ok(());
        }
        let index = known[self.rng.random_range(0..known.len())];
        let id = self.surveys[index].clone();
        let token = self.supervisor()?.spec.token.clone();
        let choice = self.rng.random_range(0..3);
        let n = self.rng.random_range(1..59);
        let done = self.net.relay(|relay| -> Result<Option<(&'static str, Vec<ChangeHash>)>, String> {
            let services = relay.services()?;
            let scope = services.authenticate(&token).map_err(|e| e.to_string())?.scope;
            if services.open_survey(&scope, &id).is_err() {
                return Ok(None); // not pushed yet
            }
            let what = match choice {
                0 => {
                    services
                        .correct(&scope, &id, &AnswerPath::top("hh_size"), Value::Integer(n))
                        .map_err(|e| format!("correcting on the relay: {e}"))?;
                    "corrects the household size"
                }
                1 => {
                    let request = ReviewRequest { action: ReviewAction::Approve, comment: None, question: None };
                    services.review(&scope, &id, &request).map_err(|e| format!("approving on the relay: {e}"))?;
                    "approves"
                }
                _ => {
                    let request = ReviewRequest {
                        action: ReviewAction::SendBack,
                        comment: Some(format!("missing members {step}")),
                        question: Some("member".into()),
                    };
                    services.review(&scope, &id, &request).map_err(|e| format!("sending back on the relay: {e}"))?;
                    "sends back"
                }
            };
            let heads = services.backend().heads(&id).map_err(|e| e.to_string())?.unwrap_or_default();
            Ok(Some((what, heads)))
        })?;
        if let Some((what, heads)) = done {
            self.log(format!("{step}: the supervisor {what} survey #{index} on the relay"));
            self.acknowledged.push(Acknowledged { survey: id, heads, by: "the relay".into() });
        }
        Ok(())
    }

    fn supervisor(&self) -> Result<&Device, String> {
        self.devices.iter().find(|d| d.spec.author.role == Role::Supervisor).ok_or_else(|| "no supervisor".into())
    }

    /// The network heals; every device syncs until a whole pass moves nothing.
    fn heal(&mut self) -> Result<(), String> {
        self.log("the network heals".into());
        self.net.heal();
        for pass in 1..=10 {
            self.outcome.heal_passes = pass;
            let mut moved = false;
            for device in 0..self.devices.len() {
                let link = Link { device, token: self.devices[device].spec.token.clone(), net: self.net.clone() };
                let store = self.devices[device].store()?;
                let report = sync::sync(store, &link, &SyncOptions::default(), &|_| {}, &CancelToken::default())
                    .map_err(|e| format!("a sync over the healed network failed: {e}"))?;
                if !report.refused.is_empty() || !report.failed.is_empty() {
                    return Err(format!(
                        "{} was refused {:?} and failed {:?} over the healed network",
                        self.devices[device].spec.file, report.refused, report.failed
                    ));
                }
                moved |= report.progress.pushed > 0 || report.progress.pulled > 0;
            }
            if !moved {
                return Ok(());
            }
        }
        Err("the devices did not settle after 10 passes of syncs".into())
    }

    fn check(&mut self) -> Result<(), String> {
        // Everything opens again from its files.
        self.net.relay(Relay::crash);
        for device in 0..self.devices.len() {
            self.devices[device].store = None;
            let pending = self.devices[device].store()?.pending_count().map_err(|e| e.to_string())?;
            if pending > 0 {
                return Err(format!("{} still has {pending} surveys to push", self.devices[device].spec.file));
            }
        }
        let mut docs: HashMap<(usize, String), AutoCommit> = HashMap::new();
        for (index, id) in self.surveys.clone().iter().enumerate() {
            let relay_heads = self.net.relay(|relay| -> Result<Option<Vec<ChangeHash>>, String> {
                relay.services()?.backend().heads(id).map_err(|e| e.to_string())
            })?;
            let Some(mut relay_heads) = relay_heads else {
                return Err(format!("survey #{index} never reached the relay"));
            };
            relay_heads.sort();
            for device in 0..self.devices.len() {
                let token = self.devices[device].spec.token.clone();
                let visible = self.net.relay(|relay| -> Result<bool, String> {
                    let services = relay.services()?;
                    let scope = services.authenticate(&token).map_err(|e| e.to_string())?.scope;
                    Ok(services.open_survey(&scope, id).is_ok())
                })?;
                if !visible {
                    continue;
                }
                let file = self.devices[device].spec.file.clone();
                let store = self.devices[device].store()?;
                let mut heads = store.heads(id).map_err(|e| format!("{file} lacks survey #{index}: {e}"))?;
                heads.sort();
                if heads != relay_heads {
                    return Err(format!("{file} holds survey #{index} at other heads than the relay"));
                }
                let bytes = store.document_bytes(id).map_err(|e| e.to_string())?;
                // Through the front door like any bytes handed over, and within what any
                // stored survey may cost to load.
                let (doc, _) = intake::document(&bytes, &Budget::LOAD).map_err(|e| e.to_string())?;
                docs.insert((device, id.clone()), doc);
            }
        }
        for ack in &self.acknowledged {
            for ((device, survey), doc) in &docs {
                if *survey != ack.survey {
                    continue;
                }
                if let Some(lost) = ack.heads.iter().find(|h| doc.get_change_by_hash(h).is_none()) {
                    return Err(format!(
                        "a write acknowledged to {} (change {lost}) is missing on {}",
                        ack.by, self.devices[*device].spec.file
                    ));
                }
            }
        }
        let _ = self.seed;
        Ok(())
    }
}
