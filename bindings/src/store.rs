//! [`TerrainStore`]: one user's store on one device, and everything an app does with it.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::DateTime;
use terrain_core::identity::Author;
use terrain_core::store::{Durability, SurveyQuery};
use terrain_core::survey::ReviewStatus;
use terrain_core::sync::{self, HttpTransport, MediaOptions, ServerAddress, Session, SyncOptions, bundle};
use terrain_core::{Store, StoreKey, Value};

use crate::AnswerValue;
use crate::convert::{self, answer_parts, flatten, time};
use crate::error::{TerrainError, guard};
use crate::form_tree::FormTree;
use crate::http::{HttpClient, Platform};
use crate::records::{
    ConflictInfo, ConflictValueInfo, Enrolled, Evaluation, FieldEditInfo, FormInfo, ImportSummary, LoginInfo,
    MediaInfo, MediaProblem, MediaUploadSummary, RepeatInstance, ReviewInfo, Role, SurveyDetail, SurveyFilter,
    SurveyProblem, SurveySummary, SyncSummary,
};
use crate::sync::{CancelHandle, SyncListener};

/// The survey store of one user on one device: forms, surveys, sync.
///
/// `Send + Sync`: share one instance across threads. Every method blocks; call them off
/// the UI thread (see the crate documentation for the threading contract).
#[derive(Debug, uniffi::Object)]
pub struct TerrainStore {
    pub(crate) store: Store,
    http: Arc<Platform>,
    session: Mutex<Option<Session>>,
}

impl TerrainStore {
    fn session(&self) -> MutexGuard<'_, Option<Session>> {
        // A poisoned lock only means a panic elsewhere; the session value is still whole.
        self.session.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn transport(&self) -> Result<HttpTransport, TerrainError> {
        let session = self.session().clone().ok_or_else(|| TerrainError::Auth {
            detail: "not logged in: call login (or resume_session with a saved token) first".into(),
        })?;
        Ok(session.transport())
    }

    fn evaluation(&self, survey_id: &str, language: Option<&str>) -> Result<Evaluation, TerrainError> {
        Ok((&self.store.evaluate(survey_id, language)?).into())
    }
}

fn form_info(f: terrain_core::store::FormSummary) -> FormInfo {
    FormInfo { form_id: f.form_id, version: f.version, title: f.title }
}

fn problems(items: Vec<(String, String)>) -> Vec<SurveyProblem> {
    items.into_iter().map(|(survey_id, reason)| SurveyProblem { survey_id, reason }).collect()
}

/// An enrolment QR code as the app scanned it; a wrong one is the app's input.
fn parse_enrolment(payload: &str) -> Result<sync::EnrolmentPayload, TerrainError> {
    sync::EnrolmentPayload::parse(payload).map_err(|e| match e {
        sync::TransportError::Refused { message, .. } => TerrainError::invalid(message),
        other => other.into(),
    })
}

/// The user an enrolment QR code is for, to open the store for them before
/// [`TerrainStore::enrol`].
#[uniffi::export]
pub fn enrolment_user(payload: String) -> Result<String, TerrainError> {
    Ok(parse_enrolment(&payload)?.user)
}

/// The server's address and pin as the app gave them; a wrong one is the app's input, not the
/// server's refusal.
fn server_address(url: &str, pin: Option<&str>) -> Result<ServerAddress, TerrainError> {
    ServerAddress::parse(url, pin).map_err(|e| match e {
        sync::TransportError::Refused { message, .. } => TerrainError::invalid(message),
        other => other.into(),
    })
}

/// A store key as the app passed it.
fn store_key(bytes: Option<&[u8]>) -> Result<Option<StoreKey>, TerrainError> {
    bytes.map(StoreKey::from_bytes).transpose().map_err(TerrainError::from)
}

/// 32 random bytes from the system's source, for a new store's key. Keep them in the
/// Android Keystore (wrapped by a key that never leaves it) or the iOS Keychain; see
/// `docs/mobile.md`.
#[uniffi::export]
pub fn generate_store_key() -> Result<Vec<u8>, TerrainError> {
    guard(|| Ok(StoreKey::generate()?.to_bytes().to_vec()))
}

/// Re-encrypts the store at `path` from `current_key` to `new_key` (`None`: not encrypted),
/// all or nothing: how a key is rotated, and how the plain store of an older app becomes an
/// encrypted one. Close every `TerrainStore` on the file first; a store still open is
/// refused, untouched. Only once this returns, replace the key the app keeps.
#[uniffi::export]
pub fn change_store_key(
    path: String,
    current_key: Option<Vec<u8>>,
    new_key: Option<Vec<u8>>,
) -> Result<(), TerrainError> {
    guard(|| {
        let (current, new) = (store_key(current_key.as_deref())?, store_key(new_key.as_deref())?);
        Ok(Store::change_key(&path, current.as_ref(), new.as_ref())?)
    })
}

fn login_info(login: sync::Login) -> LoginInfo {
    LoginInfo {
        credential: login.credential().to_owned(),
        token: login.token,
        expires_at: login.expires_at,
        device_key: login.device_key,
        role: login.role,
        must_change_password: login.must_change_password,
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[uniffi::export]
impl TerrainStore {
    /// Opens the store at `path` (a file in the app's private storage), creating it if
    /// needed, for `user` on `device` (a stable id of this installation). `http` sends the
    /// store's requests to the server (login, forms, sync) with the platform's HTTP stack.
    ///
    /// A write that returned survives the app being killed. A power cut may lose the last
    /// answers but never damages the store: an answer does not wait for the flash to sync
    /// (as Android's own SQLite in WAL mode), while what a sync or an import writes does.
    ///
    /// `key` (32 bytes, see [`generate_store_key`]) encrypts the store: every answer, name
    /// and comment on disk, and its log. A missing or wrong key is a
    /// [`TerrainError::WrongKey`], and the file is not touched.
    #[uniffi::constructor(default(key = None))]
    pub fn open(
        path: String,
        user: String,
        device: String,
        role: Role,
        http: Arc<dyn HttpClient>,
        key: Option<Vec<u8>>,
    ) -> Result<Arc<TerrainStore>, TerrainError> {
        guard(|| {
            let author = Author::new(user, device, role.into());
            let store = match store_key(key.as_deref())? {
                Some(key) => Store::open_encrypted(&path, author, Durability::ProcessCrash, &key)?,
                None => Store::open_with(&path, author, Durability::ProcessCrash)?,
            };
            Ok(Arc::new(TerrainStore { store, http: Arc::new(Platform(http)), session: Mutex::new(None) }))
        })
    }

    /// The user this store belongs to.
    pub fn user(&self) -> String {
        self.store.author().user.clone()
    }

    /// The device key the server assigned at the last login (hex), if any.
    pub fn device_key(&self) -> Result<Option<String>, TerrainError> {
        guard(|| Ok(self.store.device_key()?))
    }

    /// Logs in to the server at `server_url` as the store's user, with `password`. From now
    /// on this store writes under the device key the server assigned. Keep the returned
    /// `credential` (the device's refresh token) in secure storage and pass it to
    /// `resume_session` after a restart; the short-lived session `token` the store renews
    /// by itself.
    ///
    /// `server_url` is `https://…` (`http://` only to this machine). `certificate_sha256`
    /// pins the server's certificate (its SHA-256 fingerprint, as `terrain serve` prints
    /// it): for a relay whose certificate no public authority signed. Every request then
    /// carries the pin to the app's `HttpClient`.
    #[uniffi::method(default(certificate_sha256 = None))]
    pub fn login(
        &self,
        server_url: String,
        password: String,
        certificate_sha256: Option<String>,
    ) -> Result<LoginInfo, TerrainError> {
        guard(|| {
            let author = self.store.author();
            let server = server_address(&server_url, certificate_sha256.as_deref())?;
            let session = Session::login_to(self.http.clone(), &server, &author.user, &password, &author.device)?;
            let login = session
                .login_info()
                .cloned()
                .ok_or_else(|| TerrainError::Internal { detail: "the login answered no token".into() })?;
            self.store.set_device_key(&login.device_key)?;
            *self.session() = Some(session);
            Ok(login_info(login))
        })
    }

    /// Enrols this device from a QR code the dashboard shows (`payload`, the scanned
    /// text): the server's address, its certificate pin and a one-time code, so nothing is
    /// typed in the field. The code must be for this store's user (open the store for the
    /// user `enrolment_user(payload)` names). Then as after `login`: keep the credential, and pass
    /// the returned `server_url` and `certificate_sha256` to `resume_session` after a restart.
    pub fn enrol(&self, payload: String) -> Result<Enrolled, TerrainError> {
        guard(|| {
            let payload = parse_enrolment(&payload)?;
            let author = self.store.author();
            if payload.user != author.user {
                return Err(TerrainError::invalid(format!(
                    "this QR code enrols a device for {}, but the app opened the store for {}",
                    payload.user, author.user
                )));
            }
            let session = Session::enrol(self.http.clone(), &payload, &author.device)?;
            let login = session
                .login_info()
                .cloned()
                .ok_or_else(|| TerrainError::Internal { detail: "the enrolment answered no token".into() })?;
            // The QR code's user name is only text: the server says whose token this is.
            if login.username.as_deref() != Some(author.user.as_str()) {
                let _ = session.logout();
                return Err(TerrainError::invalid(format!(
                    "this QR code enrolled a device for {}, not for {}: ask for a code made for {}",
                    login.username.as_deref().unwrap_or("another user"),
                    author.user,
                    author.user
                )));
            }
            self.store.set_device_key(&login.device_key)?;
            *self.session() = Some(session);
            Ok(Enrolled {
                login: login_info(login),
                server_url: payload.server.base().to_owned(),
                certificate_sha256: payload.server.pin().map(|pin| pin.to_hex()),
            })
        })
    }

    /// Uses the `credential` of an earlier `login` or `enrol` (after the app restarted),
    /// with the same server address and pin: the first network call gets a session token
    /// with it. A credential the server no longer accepts surfaces as `TerrainError::Auth`
    /// (or `DeviceRevoked`) on that call.
    #[uniffi::method(default(certificate_sha256 = None))]
    pub fn resume_session(
        &self,
        server_url: String,
        token: String,
        certificate_sha256: Option<String>,
    ) -> Result<(), TerrainError> {
        guard(|| {
            let server = server_address(&server_url, certificate_sha256.as_deref())?;
            let session = Session::resume_to(self.http.clone(), &server, &token)
                .map_err(|_| TerrainError::invalid("resume_session needs the credential login returned"))?;
            *self.session() = Some(session);
            Ok(())
        })
    }

    /// Gets a new session token now (the store also does it by itself when its token
    /// expires); the `credential` to keep stays the same.
    pub fn refresh_session(&self) -> Result<LoginInfo, TerrainError> {
        guard(|| {
            let mut session = self.session().clone().ok_or_else(|| TerrainError::Auth {
                detail: "not logged in: call login (or resume_session with a saved token) first".into(),
            })?;
            let login = session.refresh()?;
            *self.session() = Some(session);
            Ok(login_info(login))
        })
    }

    /// Changes the user's password, given the current one (after an administrator's reset,
    /// the temporary one). The server ends the user's other sessions; this one goes on.
    pub fn change_password(&self, current: String, new: String) -> Result<(), TerrainError> {
        guard(|| {
            let mut session = self.session().clone().ok_or_else(|| TerrainError::Auth {
                detail: "not logged in: call login (or resume_session with a saved token) first".into(),
            })?;
            session.change_password(&current, &new)?;
            *self.session() = Some(session);
            Ok(())
        })
    }

    /// Logs out: the server revokes the session's token, and this store forgets it. The
    /// surveys stay on the device.
    pub fn logout(&self) -> Result<(), TerrainError> {
        guard(|| {
            let session = self.session().take();
            if let Some(session) = session {
                session.logout()?;
            }
            Ok(())
        })
    }

    /// Downloads the form versions published to the user's projects that this device does
    /// not have yet; returns the ones it stored.
    pub fn download_forms(&self) -> Result<Vec<FormInfo>, TerrainError> {
        guard(|| Ok(sync::download_forms(&self.store, &self.transport()?)?.into_iter().map(form_info).collect()))
    }

    /// Stores a form definition given as JSON (as `terrain form show --json` prints it), for
    /// forms that come by file rather than from the server.
    pub fn import_form_json(&self, json: String) -> Result<FormInfo, TerrainError> {
        guard(|| {
            let form = terrain_core::Form::from_json(&json)
                .map_err(|e| TerrainError::invalid(format!("this is not a Terrain form definition: {e}")))?;
            self.store.save_form(&form)?;
            Ok(FormInfo { form_id: form.id, version: form.version, title: form.title })
        })
    }

    /// Stores a file attached to a stored form version (a CSV list that its
    /// `select_one_from_file` questions or `pulldata()` read), for forms that come by file;
    /// returns whether it was new. The form tree and every evaluation read it from then on.
    /// A file that does not read, or that differs from one stored under its name, is
    /// refused (`Invalid`) and nothing is stored.
    pub fn import_form_file(
        &self,
        form_id: String,
        version: String,
        name: String,
        bytes: Vec<u8>,
    ) -> Result<bool, TerrainError> {
        guard(|| {
            Ok(self.store.save_form_files(&form_id, &version, &std::collections::BTreeMap::from([(name, bytes)]))?)
        })
    }

    /// The form versions on this device.
    pub fn forms(&self) -> Result<Vec<FormInfo>, TerrainError> {
        guard(|| Ok(self.store.forms()?.into_iter().map(form_info).collect()))
    }

    /// A form version as a tree to render, with texts in `language` (`fr`, `Français` or
    /// `Français (fr)`; `None` for the form's default).
    #[uniffi::method(default(language = None))]
    pub fn form_tree(
        &self,
        form_id: String,
        version: String,
        language: Option<String>,
    ) -> Result<FormTree, TerrainError> {
        guard(|| {
            let form = self.store.form(&form_id, &version)?;
            Ok(FormTree::new(&form, language.as_deref()))
        })
    }

    /// Starts a survey of a form version on this device; returns its id.
    pub fn create_survey(&self, form_id: String, version: String) -> Result<String, TerrainError> {
        guard(|| Ok(self.store.create_survey(&form_id, &version)?))
    }

    /// Sets the answer at `path` (`village`, `member[0]/member_age`) and returns the
    /// evaluation after it, with messages in `language`.
    #[uniffi::method(default(language = None))]
    pub fn set_answer(
        &self,
        survey_id: String,
        path: String,
        value: AnswerValue,
        language: Option<String>,
    ) -> Result<Evaluation, TerrainError> {
        guard(|| {
            let value = Value::try_from(value)?;
            self.store.set_answer(&survey_id, &convert::path(&path)?, value)?;
            self.evaluation(&survey_id, language.as_deref())
        })
    }

    /// Clears the answer at `path` and returns the evaluation after it.
    #[uniffi::method(default(language = None))]
    pub fn clear_answer(
        &self,
        survey_id: String,
        path: String,
        language: Option<String>,
    ) -> Result<Evaluation, TerrainError> {
        guard(|| {
            self.store.clear_answer(&survey_id, &convert::path(&path)?)?;
            self.evaluation(&survey_id, language.as_deref())
        })
    }

    /// Adds an instance at the end of the repeat at `path` (`member`, or
    /// `plot[0]/crop` for a nested repeat); returns its index and the evaluation after it.
    #[uniffi::method(default(language = None))]
    pub fn add_repeat_instance(
        &self,
        survey_id: String,
        path: String,
        language: Option<String>,
    ) -> Result<RepeatInstance, TerrainError> {
        guard(|| {
            let index = self.store.add_repeat_instance(&survey_id, &convert::path(&path)?, None)?;
            Ok(RepeatInstance { index: count(index), evaluation: self.evaluation(&survey_id, language.as_deref())? })
        })
    }

    /// Removes instance `index` of the repeat at `path`; returns the evaluation after it.
    #[uniffi::method(default(language = None))]
    pub fn remove_repeat_instance(
        &self,
        survey_id: String,
        path: String,
        index: u32,
        language: Option<String>,
    ) -> Result<Evaluation, TerrainError> {
        guard(|| {
            self.store.remove_repeat_instance(&survey_id, &convert::path(&path)?, index as usize)?;
            self.evaluation(&survey_id, language.as_deref())
        })
    }

    /// Evaluates a survey as the form screen needs it.
    #[uniffi::method(default(language = None))]
    pub fn evaluate(&self, survey_id: String, language: Option<String>) -> Result<Evaluation, TerrainError> {
        guard(|| self.evaluation(&survey_id, language.as_deref()))
    }

    /// Marks a survey finalized. Fails with `TerrainError::Incomplete`, listing every
    /// missing answer and violated constraint, when it is not complete.
    pub fn finalize(&self, survey_id: String) -> Result<(), TerrainError> {
        guard(|| Ok(self.store.finalize(&survey_id)?))
    }

    /// Makes a finalized survey a draft again, to edit it (after a send-back, say).
    pub fn reopen(&self, survey_id: String) -> Result<(), TerrainError> {
        guard(|| Ok(self.store.reopen(&survey_id)?))
    }

    /// The surveys on this device that `filter` selects, most recently changed first.
    pub fn list_surveys(&self, filter: SurveyFilter) -> Result<Vec<SurveySummary>, TerrainError> {
        guard(|| {
            let updated_since = filter
                .updated_since
                .map(|t| {
                    DateTime::parse_from_rfc3339(&t)
                        .map(|t| t.to_utc())
                        .map_err(|e| TerrainError::invalid(format!("`{t}` is not an RFC 3339 moment ({e})")))
                })
                .transpose()?;
            let review = filter
                .review
                .map(|states| {
                    states
                        .iter()
                        .map(|s| s.parse::<ReviewStatus>().map_err(|e| TerrainError::invalid(e.to_string())))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            let query = SurveyQuery {
                review,
                form_id: filter.form_id,
                form_version: filter.form_version,
                status: filter.status.map(Into::into),
                enumerator: filter.enumerator,
                updated_since,
                has_conflicts: filter.has_conflicts,
                limit: filter.limit,
                offset: filter.offset,
                ..SurveyQuery::default()
            };
            Ok(self.store.list(&query)?.into_iter().map(Into::into).collect())
        })
    }

    /// A survey in full: metadata, every answer, and its review.
    pub fn survey(&self, survey_id: String) -> Result<SurveyDetail, TerrainError> {
        guard(|| {
            let survey = self.store.survey(&survey_id)?;
            Ok(SurveyDetail {
                survey_id: survey.meta.survey_id,
                form_id: survey.meta.form_id,
                form_version: survey.meta.form_version,
                status: survey.meta.status.into(),
                created_by: survey.meta.created_by,
                created_at: time(survey.meta.created_at),
                answers: flatten(&survey.answers),
                review: survey.review.into(),
            })
        })
    }

    /// A survey's review status and the supervisors' comments (send-backs).
    pub fn review(&self, survey_id: String) -> Result<ReviewInfo, TerrainError> {
        guard(|| Ok(self.store.survey(&survey_id)?.review.into()))
    }

    /// Every edit of the answer at `path`, oldest first, with who made it and when.
    pub fn history(&self, survey_id: String, path: String) -> Result<Vec<FieldEditInfo>, TerrainError> {
        guard(|| {
            let edits = self.store.history(&survey_id, &convert::path(&path)?)?;
            Ok(edits
                .into_iter()
                .map(|e| {
                    let (value, unreadable) = e.value.as_ref().map(answer_parts).unwrap_or((None, None));
                    FieldEditInfo {
                        change: e.change,
                        actor: e.actor,
                        user: e.author.as_ref().map(|a| a.user.clone()),
                        device: e.author.as_ref().map(|a| a.device.clone()),
                        at: e.at.map(time),
                        received_at: e.received_at.map(time),
                        value,
                        unreadable,
                    }
                })
                .collect())
        })
    }

    /// The answers of a survey with competing values; settle one by setting it again.
    pub fn conflicts(&self, survey_id: String) -> Result<Vec<ConflictInfo>, TerrainError> {
        guard(|| {
            Ok(self
                .store
                .conflicts(&survey_id)?
                .into_iter()
                .map(|c| ConflictInfo {
                    path: c.path.to_string(),
                    values: c
                        .values
                        .into_iter()
                        .map(|v| {
                            let (value, unreadable) = answer_parts(&v.value);
                            ConflictValueInfo {
                                value,
                                unreadable,
                                actor: v.actor,
                                user: v.author.map(|a| a.user),
                                winner: v.winner,
                            }
                        })
                        .collect(),
                })
                .collect())
        })
    }

    /// Syncs with the server logged in to: pushes what it has not acknowledged, pulls what
    /// this device lacks (send-backs, corrections, new form versions). Blocks until done;
    /// reports progress to `listener` and stops early when `cancel` is cancelled.
    #[uniffi::method(default(listener = None, cancel = None))]
    pub fn sync(
        &self,
        listener: Option<Arc<dyn SyncListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<SyncSummary, TerrainError> {
        guard(|| {
            let transport = self.transport()?;
            let cancel = cancel.unwrap_or_default();
            let progress = |p: &terrain_core::sync::Progress| {
                if let Some(listener) = &listener {
                    listener.on_progress(p.into());
                }
            };
            let report = sync::sync(&self.store, &transport, &SyncOptions::default(), &progress, cancel.token())?;
            Ok(SyncSummary {
                progress: (&report.progress).into(),
                refused: problems(report.refused),
                failed: problems(report.failed),
                reoffered: report.reoffered,
            })
        })
    }

    /// Attaches the file the app wrote at `file_path` (a photo, a recording) as the answer
    /// at `path`, and returns what the survey now holds. The file is copied into the store
    /// (the app may delete its own copy once this returns), its type read from its bytes
    /// and checked against the question, and a photo larger than the question's
    /// `max-pixels` downscaled. Attaching again replaces it; `clear_answer` removes it.
    pub fn attach_media(&self, survey_id: String, path: String, file_path: String) -> Result<MediaInfo, TerrainError> {
        guard(|| {
            let path = convert::path(&path)?;
            let reference = self.store.attach_media(&survey_id, &path, std::path::Path::new(&file_path))?;
            Ok((&reference).into())
        })
    }

    /// The bytes of the attached file `sha256`, to show or play: an encrypted store's files
    /// are sealed on the phone and opened only into memory. `NotFound` when it was attached
    /// elsewhere and not downloaded yet (see `download_media`).
    pub fn read_media(&self, sha256: String) -> Result<Vec<u8>, TerrainError> {
        guard(|| Ok(self.store.read_media(&convert::digest(&sha256)?)?))
    }

    /// Where the attached file `sha256` is on this device, for a store opened without a key
    /// (an encrypted store's files are sealed: `read_media`); `NotFound` when it was
    /// attached elsewhere and not downloaded yet (see `download_media`).
    pub fn media_file(&self, sha256: String) -> Result<String, TerrainError> {
        guard(|| Ok(self.store.media_file(&convert::digest(&sha256)?)?.to_string_lossy().into_owned()))
    }

    /// The attached files the server does not have yet, smallest first, for a "waiting to
    /// send" line (count and bytes). Their `file_name` is their SHA-256 here: the names
    /// are in the answers that hold them.
    pub fn pending_media(&self) -> Result<Vec<MediaInfo>, TerrainError> {
        guard(|| {
            Ok(self
                .store
                .pending_media()?
                .into_iter()
                .map(|p| MediaInfo {
                    sha256: p.digest.to_hex(),
                    size: p.size,
                    media_type: p.media_type,
                    file_name: p.digest.to_hex(),
                    width: None,
                    height: None,
                })
                .collect())
        })
    }

    /// Sends the attached files the server lacks, each resuming where a cut left it. Call
    /// it after `sync` (the answers go first), in the background; it blocks until done or
    /// cancelled, and reports progress to `listener`, in bytes (`media_bytes_done` of
    /// `media_bytes`).
    #[uniffi::method(default(listener = None, cancel = None))]
    pub fn upload_media(
        &self,
        listener: Option<Arc<dyn SyncListener>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<MediaUploadSummary, TerrainError> {
        guard(|| {
            let transport = self.transport()?;
            let cancel = cancel.unwrap_or_default();
            let progress = |p: &terrain_core::sync::MediaProgress| {
                if let Some(listener) = &listener {
                    listener.on_progress(p.into());
                }
            };
            let report =
                sync::upload_media(&self.store, &transport, &MediaOptions::default(), &progress, cancel.token())?;
            Ok(MediaUploadSummary {
                progress: (&report.progress).into(),
                refused: report
                    .refused
                    .into_iter()
                    .map(|(digest, reason)| MediaProblem { sha256: digest.to_hex(), reason })
                    .collect(),
            })
        })
    }

    /// Fetches the attached file `sha256` of `size` bytes (its `MediaInfo`, from the answer)
    /// from the server (a survey attached on another device), resuming a cut download;
    /// returns where it is: show a plain store's from there, an encrypted store's with
    /// `read_media`.
    #[uniffi::method(default(cancel = None))]
    pub fn download_media(
        &self,
        sha256: String,
        size: u64,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<String, TerrainError> {
        guard(|| {
            let transport = self.transport()?;
            let cancel = cancel.unwrap_or_default();
            let digest = convert::digest(&sha256)?;
            let path =
                sync::download_media(&self.store, &transport, &MediaOptions::default(), &digest, size, cancel.token())?;
            Ok(path.to_string_lossy().into_owned())
        })
    }

    /// Writes the given surveys (all if `None`) to bundle bytes, for a transfer without
    /// network (Bluetooth, SD card). The bundle carries the forms it needs.
    #[uniffi::method(default(survey_ids = None))]
    pub fn export_bundle(&self, survey_ids: Option<Vec<String>>) -> Result<Vec<u8>, TerrainError> {
        guard(|| Ok(bundle::export(&self.store, survey_ids.as_deref())?))
    }

    /// Imports bundle bytes; importing the same bundle twice changes nothing.
    pub fn import_bundle(&self, bytes: Vec<u8>) -> Result<ImportSummary, TerrainError> {
        guard(|| {
            let report = bundle::import(&self.store, &bytes)?;
            Ok(ImportSummary {
                created: count(report.created),
                updated: count(report.updated),
                unchanged: count(report.unchanged),
                failed: problems(report.failed),
            })
        })
    }

    /// Folds the change logs that answers left into their surveys' snapshots, so that
    /// surveys open fast; returns how many it folded. Answers never wait for this: call it
    /// when the app goes to the background (Android `onStop`, iOS
    /// `sceneDidEnterBackground`). A sync and a bundle import do it too. It also keeps the
    /// statistics that make lists fast up to date as the store grows.
    pub fn compact(&self) -> Result<u32, TerrainError> {
        guard(|| Ok(count(self.store.upkeep(u32::MAX)?)))
    }
}
