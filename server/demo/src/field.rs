//! Devices in the field: each phone or tablet is a real `terrain-core` store in its own
//! SQLite file, logged in to the server, syncing through its own proxy (which counts the
//! bytes and cuts links on demand). Every value a device writes is recorded, to check at
//! the end that nothing acknowledged was lost.

use std::path::Path;

use rand::Rng;
use terrain_core::form::Evaluator;
use terrain_core::store::Durability;
use terrain_core::survey::{Answer, Answers};
use terrain_core::sync::{self, CancelToken, HttpTransport, Session, SyncError, SyncOptions, SyncReport};
use terrain_core::{AnswerPath, Author, Form, Role, Store, SurveyQuery, Value};

use super::DemoError;
use super::pilot::PASSWORD;
use super::proxy::{Link, Proxy};

/// One value written somewhere and acknowledged: it must survive.
#[derive(Debug, Clone)]
pub struct Written {
    /// The survey.
    pub survey: String,
    /// The answer.
    pub path: AnswerPath,
    /// The value written.
    pub value: Value,
}

/// A phone or tablet.
#[derive(Debug)]
pub struct Device {
    /// Its user's name.
    pub user: String,
    /// Its store.
    pub store: Store,
    /// Its login token.
    pub token: String,
    /// The proxy between it and the server.
    pub proxy: Proxy,
    /// Syncs that the link cut before they finished.
    pub cut_syncs: usize,
    /// Where the bytes through its link went.
    pub traffic: Traffic,
}

/// Where the bytes through a device's link went, by what carried them. Every byte through
/// a device's proxy is a sync's (devices log in and download forms directly), so the parts
/// add up to the proxy's count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Request bodies of syncs that completed: the pushed changes, postcard in zstd.
    pub bodies_sent: u64,
    /// Response bodies of syncs that completed: acknowledgements and pulled changes.
    pub bodies_received: u64,
    /// The rest of those syncs' bytes: HTTP request and status lines and headers.
    pub framing: u64,
    /// Every byte of the syncs the link cut (their work is done again by the next sync).
    pub cut: u64,
    /// Syncs that completed.
    pub syncs: u64,
    /// Round trips of the syncs that completed (one HTTP exchange each).
    pub rounds: u64,
    /// What a JSON protocol would have pushed in the same syncs: each pushed survey's whole
    /// answers as compact JSON (a form tool resubmits the whole survey after an edit),
    /// gzip'd as one stream per sync. Not on the wire: the floor of this sync pattern, which
    /// shows how much of the pushes' size is the CRDT's and how much is small syncs
    /// compressing worse than one big stream.
    pub json_per_sync: u64,
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, other: Traffic) {
        self.bodies_sent += other.bodies_sent;
        self.bodies_received += other.bodies_received;
        self.framing += other.framing;
        self.cut += other.cut;
        self.syncs += other.syncs;
        self.rounds += other.rounds;
        self.json_per_sync += other.json_per_sync;
    }
}

impl Device {
    /// Opens a store in `dir`, logs in to the server at `server` and downloads the forms.
    pub fn login(
        dir: &Path,
        server: std::net::SocketAddr,
        user: &str,
        role: Role,
        forms: &[&Form],
    ) -> Result<Device, DemoError> {
        let device = format!("{user}-device");
        // As the phone library opens it: an answer survives the app being killed, without
        // waiting for the flash.
        let store = Store::open_with(
            dir.join(format!("{user}.db")),
            Author::new(user, &device, role),
            Durability::ProcessCrash,
        )?;
        let url = format!("http://{server}");
        let session = Session::login(&url, user, PASSWORD, &device)?;
        let login = session.login_info().cloned().ok_or_else(|| DemoError::Http("the login gave no token".into()))?;
        store.set_device_key(&login.device_key)?;
        for form in forms {
            store.save_form(form)?;
        }
        let proxy = Proxy::start(server, Link::default()).map_err(|e| DemoError::Server(e.to_string()))?;
        Ok(Device { user: user.into(), store, token: login.token, proxy, cut_syncs: 0, traffic: Traffic::default() })
    }

    /// One sync through the device's proxy. A link that drops is not an error of the demo:
    /// it is counted and reported as `Ok(None)`; the next sync resumes.
    pub fn sync(&mut self) -> Result<Option<SyncReport>, DemoError> {
        let transport =
            HttpTransport::new(self.proxy.url(), &self.token).map_err(|e| DemoError::Http(e.to_string()))?;
        let json_per_sync = self.pending_as_json()?;
        let before = self.proxy.bytes();
        let outcome = sync::sync(&self.store, &transport, &SyncOptions::default(), &|_| {}, &CancelToken::default());
        // The proxy counts a byte before passing it on, so every byte of this sync is
        // counted once it returns.
        let spent = self.proxy.bytes() - before;
        match outcome {
            Ok(report) if report.refused.is_empty() && report.failed.is_empty() => {
                let progress = &report.progress;
                self.traffic += Traffic {
                    bodies_sent: progress.bytes_sent,
                    bodies_received: progress.bytes_received,
                    framing: spent.saturating_sub(progress.bytes_sent + progress.bytes_received),
                    cut: 0,
                    syncs: 1,
                    rounds: u64::from(progress.rounds),
                    json_per_sync,
                };
                Ok(Some(report))
            }
            Ok(report) => {
                Err(DemoError::Sync(format!("{}: refused {:?}, failed {:?}", self.user, report.refused, report.failed)))
            }
            Err(SyncError::Transport(_)) => {
                self.cut_syncs += 1;
                self.traffic.cut += spent;
                Ok(None)
            }
            Err(e) => Err(DemoError::Sync(format!("{}: {e}", self.user))),
        }
    }

    /// The surveys this device has to push, their whole answers as JSON lines, gzip'd as one
    /// stream: [`Traffic::json_per_sync`] for the next sync.
    fn pending_as_json(&self) -> Result<u64, DemoError> {
        let mut stream = Vec::new();
        for summary in self.store.list(&SurveyQuery::default())?.into_iter().filter(|s| s.dirty) {
            let answers = self.store.survey(&summary.survey_id)?.answers.to_json();
            stream.extend(answers.to_string().into_bytes());
            stream.push(b'\n');
        }
        if stream.is_empty() {
            return Ok(0);
        }
        super::gzipped_len(&stream).map_err(|e| DemoError::Io(format!("gzip: {e}")))
    }

    /// Syncs until a sync completes (a cut link is retried, a few times).
    pub fn sync_until_done(&mut self) -> Result<SyncReport, DemoError> {
        for _ in 0..20 {
            if let Some(report) = self.sync()? {
                return Ok(report);
            }
        }
        Err(DemoError::Sync(format!("{}: the sync never completed", self.user)))
    }

    /// Fills in one survey offline with answers the form accepts, and finalizes it.
    pub fn collect(
        &self,
        evaluator: &Evaluator<'_>,
        rng: &mut impl Rng,
        written: &mut Vec<Written>,
    ) -> Result<String, DemoError> {
        Ok(self.collect_as(Writing::AllAtOnce, evaluator, rng, written)?.0)
    }

    /// Like [`Device::collect`], but written as the form screen writes it: the survey is
    /// started empty and every answer is its own change, repeat instances added as they
    /// come. This is the history a real phone sends (about 60 changes for a household).
    pub fn collect_answer_by_answer(
        &self,
        evaluator: &Evaluator<'_>,
        rng: &mut impl Rng,
        written: &mut Vec<Written>,
    ) -> Result<(String, Answers), DemoError> {
        self.collect_as(Writing::AnswerByAnswer, evaluator, rng, written)
    }

    /// Draws answers the form accepts, writes them as `writing` says, finalizes the survey
    /// and records every value written.
    fn collect_as(
        &self,
        writing: Writing,
        evaluator: &Evaluator<'_>,
        rng: &mut impl Rng,
        written: &mut Vec<Written>,
    ) -> Result<(String, Answers), DemoError> {
        let form = evaluator.form();
        let answers = (0..20)
            .find_map(|_| super::answers::complete(evaluator, rng))
            .ok_or_else(|| DemoError::Check(format!("no valid answers could be drawn for {}", form.id)))?;
        let id = match writing {
            Writing::AllAtOnce => self.store.create_survey_with(&form.id, &form.version, &answers)?,
            Writing::AnswerByAnswer => {
                let id = self.store.create_survey_with(&form.id, &form.version, &Answers::default())?;
                write_each_answer(&self.store, &id, &answers, &[])?;
                id
            }
        };
        self.store.finalize(&id)?;
        flatten(&answers, &[], &mut |path, value| {
            written.push(Written { survey: id.clone(), path, value: value.clone() });
        });
        Ok((id, answers))
    }

    /// Changes one answer on the device, as an enumerator fixing a survey sent back does:
    /// reopen, edit, finalize again.
    pub fn fix(
        &self,
        survey: &str,
        path: &AnswerPath,
        value: Value,
        written: &mut Vec<Written>,
    ) -> Result<(), DemoError> {
        self.store.reopen(survey)?;
        self.store.set_answer(survey, path, value.clone())?;
        self.store.finalize(survey)?;
        written.push(Written { survey: survey.into(), path: path.clone(), value });
        Ok(())
    }
}

/// How a collected survey's answers are written.
#[derive(Debug, Clone, Copy)]
enum Writing {
    /// In the change that creates the survey, as an import or a prefilled survey.
    AllAtOnce,
    /// One change per answer, as the form screen writes them.
    AnswerByAnswer,
}

/// Writes `answers` into the survey `survey`, one answer per change, appending the repeat
/// instances they need under `instances`.
fn write_each_answer(
    store: &Store,
    survey: &str,
    answers: &Answers,
    instances: &[(String, usize)],
) -> Result<(), DemoError> {
    for (name, answer) in &answers.0 {
        let path = AnswerPath { instances: instances.to_vec(), name: name.clone() };
        match answer {
            Answer::Value(value) => {
                store.set_answer(survey, &path, value.clone())?;
            }
            Answer::Repeat(list) => {
                for (i, instance) in list.iter().enumerate() {
                    store.add_repeat_instance(survey, &path, Some(i))?;
                    let mut inner = instances.to_vec();
                    inner.push((name.clone(), i));
                    write_each_answer(store, survey, instance, &inner)?;
                }
            }
            Answer::Unreadable(_) => {}
        }
    }
    Ok(())
}

/// Calls `each` with every answered value's path.
pub fn flatten(answers: &Answers, instances: &[(String, usize)], each: &mut impl FnMut(AnswerPath, &Value)) {
    for (name, answer) in &answers.0 {
        match answer {
            Answer::Value(v) => each(AnswerPath { instances: instances.to_vec(), name: name.clone() }, v),
            Answer::Repeat(list) => {
                for (i, instance) in list.iter().enumerate() {
                    let mut inner = instances.to_vec();
                    inner.push((name.clone(), i));
                    flatten(instance, &inner, each);
                }
            }
            Answer::Unreadable(_) => {}
        }
    }
}
