//! The device side of a sync: push what the server has not acknowledged, pull what the
//! device lacks, in as few round trips as the batches allow, resumable at any point.
//!
//! Every step is safe to cut off. Pushed changes are marked acknowledged only when the
//! server's answer says they are stored; pulled changes and the new feed cursor are applied
//! in one transaction. Replaying either is harmless because changes are content-addressed.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::transport::{Transport, TransportError};
use super::wire::{self, Ack, PushedEntity, PushedSurvey, SyncRequest, SyncResponse, WantedEntity, WantedSurvey};
use crate::entity::EntityDoc;
use crate::form::Form;
use crate::intake;
use crate::store::{RemoteChanges, RemoteEntity, Store, StoreError};
use crate::survey::{DocumentError, MAX_DOCUMENT_BYTES};

/// Tuning of a sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The most change bytes pushed per request (before compression). Smaller batches lose
    /// less when a 2G link drops mid-request; larger ones compress a little better.
    pub push_batch_bytes: usize,
    /// The most change bytes the server may send back per response.
    pub max_pull_bytes: u64,
    /// A safety bound on round trips in one sync.
    pub max_rounds: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { push_batch_bytes: 1 << 20, max_pull_bytes: 2 << 20, max_rounds: 10_000 }
    }
}

/// Where a sync is, for a progress bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Surveys pushed and acknowledged so far.
    pub pushed: u64,
    /// Surveys that had changes to push when the sync started.
    pub to_push: u64,
    /// Surveys pulled so far.
    pub pulled: u64,
    /// Entities pushed and acknowledged so far.
    pub entities_pushed: u64,
    /// Entities pulled so far.
    pub entities_pulled: u64,
    /// Compressed bytes sent so far.
    pub bytes_sent: u64,
    /// Compressed bytes received so far.
    pub bytes_received: u64,
    /// Round trips so far.
    pub rounds: u32,
}

/// Stops a sync between two round trips.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Asks the sync to stop; it stops before its next request.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a finished sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Progress at the end.
    pub progress: Progress,
    /// Surveys the server refused, with its reason; entities are named `list/id`.
    pub refused: Vec<(String, String)>,
    /// Surveys (and entities, as `list/id`) pulled but not applied, with the reason (they
    /// are retried next sync).
    pub failed: Vec<(String, String)>,
    /// Surveys offered again because the server started a new epoch (it was restored from
    /// a backup): the server keeps what it lacks of them, and acknowledges the rest.
    pub reoffered: u64,
}

/// Why a sync stopped early. What was done before stays done.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Talking to the server failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server's answer could not be decoded.
    #[error("the server's answer could not be read ({0}); update Terrain or try again")]
    Protocol(String),
    /// The sync was cancelled.
    #[error("the sync was cancelled; it will resume from where it stopped")]
    Cancelled,
    /// The sync did not finish within the round-trip bound.
    #[error("the sync did not settle after {0} round trips; try again later")]
    TooManyRounds(u32),
}

/// Syncs `store` with the server behind `transport`.
pub fn sync(
    store: &Store,
    transport: &dyn Transport,
    options: &SyncOptions,
    progress: &dyn Fn(&Progress),
    cancel: &CancelToken,
) -> Result<SyncReport, SyncError> {
    let server = transport.server().to_owned();
    let mut report = SyncReport::default();
    report.progress.to_push = store.pending_count()?;
    let mut refused: HashSet<String> = HashSet::new();
    let mut refused_entities: HashSet<(String, String)> = HashSet::new();
    let mut want = Wanted::default();
    let mut asked = Asked::default();
    loop {
        if cancel.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        if report.progress.rounds >= options.max_rounds {
            return Err(SyncError::TooManyRounds(report.progress.rounds));
        }
        let pending = next_batch(store, &mut refused, &mut report, options.push_batch_bytes)?;
        let sent: usize = pending.iter().map(|(_, p)| p.changes.len()).sum();
        // Entities fill what the surveys left of the batch; a batch of surveys alone still
        // carries one entity, so neither waits for the other.
        let entity_room = options.push_batch_bytes.saturating_sub(sent).max(1);
        let entities = store.pending_entity_pushes_within(1000, entity_room, &refused_entities)?;
        let request = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor: store.sync_cursor(&server)?,
            push: pending.iter().map(|(_, p)| p.clone()).collect(),
            want: std::mem::take(&mut want.surveys),
            max_pull_bytes: options.max_pull_bytes,
            epoch: store.sync_epoch(&server)?,
            push_entities: entities
                .iter()
                .map(|e| PushedEntity {
                    list: e.list.clone(),
                    id: e.id.clone(),
                    base: wire::hashes(&e.acked),
                    heads: wire::hashes(&e.heads),
                    changes: e.changes.clone(),
                })
                .collect(),
            want_entities: std::mem::take(&mut want.entities),
        };
        let body = wire::encode(&request).map_err(|e| SyncError::Protocol(e.to_string()))?;
        report.progress.bytes_sent += body.len() as u64;
        let answer = transport.sync(body)?;
        report.progress.bytes_received += answer.len() as u64;
        report.progress.rounds += 1;
        let response: SyncResponse = wire::decode(&answer).map_err(|e| SyncError::Protocol(e.to_string()))?;
        if response.acks.len() != pending.len() || response.entity_acks.len() != entities.len() {
            return Err(SyncError::Protocol("the server acknowledged a different number of surveys".into()));
        }
        // Before this response's acknowledgements, which are the new epoch's.
        if let Some(epoch) = &response.epoch {
            report.reoffered += store.begin_epoch(&server, &epoch.server, epoch.epoch, epoch.start)?;
        }

        let mut acked = Vec::new();
        for ((survey_id, push), ack) in pending.iter().zip(&response.acks) {
            match ack {
                Ack::Stored => acked.push((survey_id.clone(), wire::change_hashes(&push.heads))),
                Ack::ResendAll => acked.push((survey_id.clone(), Vec::new())),
                Ack::Refused { message, .. } => {
                    refused.insert(survey_id.clone());
                    report.refused.push((survey_id.clone(), message.clone()));
                }
            }
        }
        store.mark_acked(&acked)?;
        report.progress.pushed += response.acks.iter().filter(|a| matches!(a, Ack::Stored)).count() as u64;
        let mut acked = Vec::new();
        for (entity, ack) in entities.iter().zip(&response.entity_acks) {
            match ack {
                Ack::Stored => acked.push((entity.list.clone(), entity.id.clone(), entity.heads.clone())),
                Ack::ResendAll => acked.push((entity.list.clone(), entity.id.clone(), Vec::new())),
                Ack::Refused { message, .. } => {
                    refused_entities.insert((entity.list.clone(), entity.id.clone()));
                    report.refused.push((format!("{}/{}", entity.list, entity.id), message.clone()));
                }
            }
        }
        store.mark_entities_acked(&acked)?;
        report.progress.entities_pushed +=
            response.entity_acks.iter().filter(|a| matches!(a, Ack::Stored)).count() as u64;

        let failed = apply_pull(store, transport, &server, &response, &mut want)?;
        report.progress.pulled += (response.pull.len() - failed.surveys) as u64;
        report.progress.entities_pulled += (response.pull_entities.len() - failed.entities) as u64;
        report.failed.extend(failed.reasons);
        progress(&report.progress);

        // One asked for again that still fails is left for the next sync, not looped on.
        want.surveys.retain(|w| asked.surveys.insert(w.survey));
        want.entities.retain(|w| asked.entities.insert((w.list.clone(), w.id.clone())));
        // Counts, not batches: deciding whether to go on loads no document.
        let more_to_push = store.pending_count()? > refused.len() as u64
            || store.pending_entity_count()? > refused_entities.len() as u64;
        if !more_to_push && !response.more && want.surveys.is_empty() && want.entities.is_empty() {
            // Pulled surveys are stored as received; compact them while the app is busy
            // syncing anyway rather than at the next edit.
            store.compact_pending(u32::MAX)?;
            return Ok(report);
        }
    }
}

/// What the next request asks the server to send again.
#[derive(Default)]
struct Wanted {
    surveys: Vec<WantedSurvey>,
    entities: Vec<WantedEntity>,
}

/// What this sync has already asked for again: each is asked once.
#[derive(Default)]
struct Asked {
    surveys: HashSet<wire::Id16>,
    entities: HashSet<(String, String)>,
}

/// What of a response's pull could not be applied.
struct Failed {
    surveys: usize,
    entities: usize,
    reasons: Vec<(String, String)>,
}

/// The next surveys to push, about `budget` change bytes (at least one survey), leaving out
/// those the server refused in this sync.
fn next_batch(
    store: &Store,
    refused: &mut HashSet<String>,
    report: &mut SyncReport,
    budget: usize,
) -> Result<Vec<(String, PushedSurvey)>, SyncError> {
    let mut batch = Vec::new();
    for push in store.pending_pushes_within(1000, budget, refused)? {
        let Some(survey) = wire::survey_id_bytes(&push.survey_id) else {
            // Only a survey imported from elsewhere can have such an id; it cannot travel.
            report.refused.push((push.survey_id.clone(), "its id is not a UUID, so it cannot be synced".into()));
            refused.insert(push.survey_id);
            continue;
        };
        batch.push((
            push.survey_id.clone(),
            PushedSurvey {
                survey,
                base: wire::hashes(&push.acked),
                heads: wire::hashes(&push.heads),
                changes: push.changes,
            },
        ));
    }
    Ok(batch)
}

/// Applies a response's pulled surveys and entities, downloading any form version the
/// device lacks. Those that cannot be applied for lack of earlier changes are asked for
/// again.
fn apply_pull(
    store: &Store,
    transport: &dyn Transport,
    server: &str,
    response: &SyncResponse,
    want: &mut Wanted,
) -> Result<Failed, SyncError> {
    let have: HashSet<(String, String)> = store.forms()?.into_iter().map(|f| (f.form_id, f.version)).collect();
    let mut fetched = HashSet::new();
    for pulled in &response.pull {
        let key = (pulled.form_id.clone(), pulled.form_version.clone());
        if !have.contains(&key) && fetched.insert(key.clone()) {
            let json = transport.form(&key.0, &key.1)?;
            let form = Form::from_json(&json).map_err(|e| SyncError::Protocol(format!("form {}: {e}", key.0)))?;
            store.save_form(&form)?;
        }
    }
    let items: Vec<RemoteChanges> = response
        .pull
        .iter()
        .map(|p| RemoteChanges {
            survey_id: wire::survey_id_string(&p.survey),
            changes: p.changes.clone(),
            server_heads: wire::change_hashes(&p.heads),
        })
        .collect();
    let mut failed = Failed { surveys: 0, entities: 0, reasons: Vec::new() };
    let mut entities = Vec::with_capacity(response.pull_entities.len());
    for pulled in &response.pull_entities {
        match expand(pulled) {
            Ok(entity) => entities.push(entity),
            Err(e) => {
                failed.entities += 1;
                failed.reasons.push((format!("{}/{}", pulled.list, pulled.id), e));
            }
        }
    }
    // An entity that could not be read is pulled again: the cursor stays.
    let cursor = (failed.entities == 0).then_some(response.cursor);
    let round = store.apply_pulled_round(server, &items, &entities, cursor)?;
    for (item, outcome) in items.iter().zip(round.surveys) {
        if let Err(e) = outcome {
            if missing_dependencies(&e) {
                let heads = store.heads(&item.survey_id).unwrap_or_default();
                if let Some(survey) = wire::survey_id_bytes(&item.survey_id) {
                    want.surveys.push(WantedSurvey { survey, heads: wire::hashes(&heads) });
                }
            }
            failed.surveys += 1;
            failed.reasons.push((item.survey_id.clone(), e.to_string()));
        }
    }
    for (item, outcome) in entities.iter().zip(round.entities) {
        if let Err(e) = outcome {
            if missing_dependencies(&e) {
                let heads = store.entity_heads(&item.list, &item.id).ok().flatten().map(|(h, _)| h).unwrap_or_default();
                want.entities.push(WantedEntity {
                    list: item.list.clone(),
                    id: item.id.clone(),
                    heads: wire::hashes(&heads),
                });
            }
            failed.entities += 1;
            failed.reasons.push((format!("{}/{}", item.list, item.id), e.to_string()));
        }
    }
    Ok(failed)
}

/// A pulled entity's changes rebuilt from their lean form, with the server's heads.
fn expand(pulled: &wire::PulledEntity) -> Result<RemoteEntity, String> {
    let genesis = EntityDoc::genesis_chunk(&pulled.list, &pulled.id).map_err(|e| e.to_string())?;
    let (changes, heads) =
        intake::lean::expand(&genesis, &pulled.changes, MAX_DOCUMENT_BYTES).map_err(|e| e.to_string())?;
    let heads = if pulled.heads.is_empty() { heads } else { pulled.heads.clone() };
    Ok(RemoteEntity {
        list: pulled.list.clone(),
        id: pulled.id.clone(),
        changes,
        server_heads: wire::change_hashes(&heads),
    })
}

fn missing_dependencies(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Document { source: DocumentError::MissingDependencies(_), .. }
            | StoreError::EntityDocument { source: DocumentError::MissingDependencies(_), .. }
    )
}
