//! One sync round, independent of HTTP: decode the device's request within bounds, store
//! what it pushed (each survey through the front door, judged by the access rules and
//! acknowledged on its own), then send the changes it lacks from the change feed within a
//! byte budget.
//!
//! Every byte from outside has a bounded cost here: the request inflates to a capped size,
//! every list in it is bounded, every pushed survey is measured by `terrain_core::intake`
//! before Automerge sees it (one survey over its budget is refused on its own; a request
//! over its total is refused whole with a 4xx), a device may push only so many decoded bytes
//! a minute, a few rounds work at once, and a round past its deadline stops and tells the
//! device to come back.
//!
//! What each device holds is tracked per survey (`device_heads`): heads it pushed are
//! certain; heads sent to it become certain once the device's cursor passes the response
//! that carried them, so a lost response is simply recomputed from the older heads.
//!
//! A device whose user comes to read more entities (joins a team, say) is sent the ones
//! that changed before its cursor too: the server keeps a fingerprint of what each device
//! last pulled entities under, and when it differs walks the entity feed again up to that
//! cursor, a budget at a time, sending what the device lacks (`backfill_entities`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::json;
use terrain_backend::{BackendError, DeviceEntityScope, DeviceKey};
use terrain_core::StoreError;
use terrain_core::entity::EntityDoc;
use terrain_core::intake::{self, Cost, lean};
use terrain_core::store::{EntityCandidate, EntityFeedEntry, EntityVisibility, MergeCandidate, ReceivedEntity};
use terrain_core::survey::footprint::Area;
use terrain_core::survey::{DocumentError, MAX_DOCUMENT_BYTES, Refusal, ReviewStatus};
use terrain_core::sync::wire::{self, Ack, PulledEntity, PulledSurvey, SyncRequest, SyncResponse};

use crate::Services;
use crate::audit::{Action, Entry};
use crate::error::{Error, Result};
use crate::scope::{Scope, SurveyFacts};

/// Feed entries read per page while looking for what a device may see.
const FEED_PAGE: u32 = 1_000;
/// Surveys merged per transaction: a round past its deadline stops between batches.
const PUSH_BATCH: usize = 200;
/// The most of a device's User-Agent kept for its devices page.
const MAX_CLIENT_CHARS: usize = 120;
/// How long a device is asked to wait when the server is busy or out of time.
const COME_BACK: Duration = Duration::from_secs(10);
/// The longest entity list name or entity id a device may send (a list name is an XML
/// name; an id is a UUID or a code such as `BGD-0412`).
const MAX_ENTITY_NAME_BYTES: usize = 256;

fn too_large(message: String) -> Error {
    Error::TooLarge(message)
}

impl Services {
    /// One sync round from its wire bytes to the response's, for a device's token; `client`
    /// is what the device says it runs (its User-Agent), for its owner's devices page.
    pub fn sync_round(&self, scope: &Scope, body: &[u8], client: Option<&str>, deadline: Instant) -> Result<Vec<u8>> {
        let device = scope
            .device()
            .ok_or_else(|| Error::forbidden("this token was not issued to a device: log in from the device"))?;
        let wait = self.settings.sync.slot_wait.min(deadline.saturating_duration_since(Instant::now()));
        let _slot = self.guards.sync_rounds.acquire(wait).ok_or_else(|| Error::Busy {
            retry_after: COME_BACK,
            message: "the server is busy with other syncs: the app will try again shortly".into(),
        })?;
        let request = wire::decode_request(body).map_err(|e| match e {
            wire::WireError::TooLarge => too_large(e.to_string()),
            wire::WireError::Protocol(_) => Error::unprocessable("unsupported_protocol", e.to_string()),
            other => Error::invalid(other.to_string()),
        })?;
        let response = self.sync(scope, &device, request, deadline)?;
        let client = client.map(|c| c.chars().filter(|c| !c.is_control()).take(MAX_CLIENT_CHARS).collect::<String>());
        // Bookkeeping for the devices page: the round is stored and answered whatever
        // becomes of it.
        if let Err(e) = self.backend.device_synced(&device, client.as_deref()) {
            tracing::warn!(error = %e, "recording a device's sync failed");
        }
        wire::encode(&response).map_err(Error::internal)
    }

    /// Whether `scope`'s device may sync now, decided before its request is read: it must be
    /// a device, and within its minute's budget.
    pub fn admit_sync(&self, scope: &Scope) -> Result<()> {
        let device = scope
            .device()
            .ok_or_else(|| Error::forbidden("this token was not issued to a device: log in from the device"))?;
        self.guards.device_bytes.room(&device, Instant::now()).map_err(spent_minute)
    }

    /// Runs one sync round for `scope` on `device`.
    pub fn sync(
        &self,
        scope: &Scope,
        device: &DeviceKey,
        request: SyncRequest,
        deadline: Instant,
    ) -> Result<SyncResponse> {
        let limits = &self.settings.sync;
        if request.protocol != wire::PROTOCOL_VERSION {
            return Err(Error::unprocessable(
                "unsupported_protocol",
                format!(
                    "this device speaks sync protocol {} but the server speaks {}: update the app",
                    request.protocol,
                    wire::PROTOCOL_VERSION
                ),
            ));
        }
        if request.push.len() > limits.max_push_surveys {
            return Err(too_large(format!(
                "{} surveys in one request; send at most {}",
                request.push.len(),
                limits.max_push_surveys
            )));
        }
        if request.want.len() > limits.max_want {
            return Err(too_large(format!(
                "{} surveys asked for again in one request; ask for at most {}",
                request.want.len(),
                limits.max_want
            )));
        }
        let heads_over = |n: usize| n > limits.max_heads;
        if request.push.iter().any(|p| heads_over(p.base.len()) || heads_over(p.heads.len()))
            || request.want.iter().any(|w| heads_over(w.heads.len()))
        {
            return Err(too_large(format!("a survey lists more than {} heads", limits.max_heads)));
        }
        if let Some(big) = request.push.iter().find(|p| p.changes.len() > MAX_DOCUMENT_BYTES) {
            return Err(too_large(format!(
                "survey {} sends {} bytes of changes, more than any survey can have",
                wire::survey_id_string(&big.survey),
                big.changes.len()
            )));
        }
        check_entity_lists(&request, limits)?;

        // A device that used up its minute is told so before its bytes cost anything.
        let now = Instant::now();
        self.guards.device_bytes.room(device, now).map_err(spent_minute)?;
        let costs = self.front_door(device, &request, now)?;
        let total = costs.iter().flatten().fold(Cost::default(), |sum, c| sum.plus(c));
        if total.ops > limits.request_ops {
            return Err(too_large(format!(
                "this request's surveys hold {} operations, more than one request may carry ({}): send smaller batches",
                total.ops, limits.request_ops
            )));
        }
        if Instant::now() >= deadline {
            return Err(Error::Busy {
                retry_after: COME_BACK,
                message: "the server ran out of time: sync again".into(),
            });
        }

        let (survey_costs, entity_costs) = costs.split_at(request.push.len());
        let lists = self.entity_list_projects()?;
        let acks = self.push(scope, device, &request, survey_costs, deadline)?;
        let entity_acks = self.push_entities(scope, device, &request, entity_costs, &lists, deadline)?;
        let wanted: Vec<(String, Vec<terrain_core::ChangeHash>)> =
            request.want_entities.iter().map(|w| (entity_key(&w.list, &w.id), wire::change_hashes(&w.heads))).collect();
        if !wanted.is_empty() {
            self.backend.confirm_device_heads(device, &wanted)?;
        }
        let wanted: Vec<(String, Vec<terrain_core::ChangeHash>)> =
            request.want.iter().map(|w| (wire::survey_id_string(&w.survey), wire::change_hashes(&w.heads))).collect();
        if !wanted.is_empty() {
            self.backend.confirm_device_heads(device, &wanted)?;
        }
        // A device from another epoch has a cursor that may point past entries this epoch
        // never had: it reads on from where the epoch started.
        let identity = self.backend.identity()?;
        let new_epoch = request.epoch != identity.epoch;
        let from = if new_epoch { request.cursor.min(identity.epoch_start) } else { request.cursor };
        let pulled = self.pull(scope, device, &request, &lists, from, deadline)?;
        let epoch = new_epoch.then_some(wire::Epoch {
            server: identity.server_id,
            epoch: identity.epoch,
            start: identity.epoch_start,
        });
        Ok(SyncResponse {
            cursor: pulled.cursor,
            acks,
            pull: pulled.surveys,
            more: pulled.more,
            epoch,
            entity_acks,
            pull_entities: pulled.entities.into_iter().map(|e| e.pulled).collect(),
        })
    }

    /// The front door for a request's pushes: what each survey would cost to decode, found
    /// before anything decodes it. Every walk draws on the request's one budget of decoded
    /// bytes, so the work a request can cause is bounded however many surveys it carries; a
    /// refused survey is charged its whole budget, since its walk may have run to the end of
    /// it. What the walks did is spent from the device's minute, refusals included.
    fn front_door(
        &self,
        device: &DeviceKey,
        request: &SyncRequest,
        now: Instant,
    ) -> Result<Vec<std::result::Result<Cost, intake::IntakeError>>> {
        let limits = &self.settings.sync;
        // Surveys then entities, against one budget: the costs come back in that order.
        let walked = intake::check_each(
            request
                .push
                .iter()
                .map(|p| p.changes.as_slice())
                .chain(request.push_entities.iter().map(|e| e.changes.as_slice())),
            &limits.survey,
            limits.request_decoded_bytes,
        );
        let spent = walked.as_ref().map_or(limits.request_decoded_bytes, |(_, spent)| *spent);
        self.guards.device_bytes.spend(device, spent, now).map_err(spent_minute)?;
        let (costs, _) = walked.map_err(|intake::OverTotal| {
            too_large(format!(
                "this request's surveys would decode to more than one request may carry ({} MiB): send smaller \
                 batches",
                limits.request_decoded_bytes >> 20
            ))
        })?;
        Ok(costs)
    }

    fn push(
        &self,
        scope: &Scope,
        device: &DeviceKey,
        request: &SyncRequest,
        costs: &[std::result::Result<Cost, intake::IntakeError>],
        deadline: Instant,
    ) -> Result<Vec<Ack>> {
        let mut acks: Vec<Option<Ack>> = vec![None; request.push.len()];
        // Refused at the front door: never decoded, acknowledged on their own.
        for (i, cost) in costs.iter().enumerate() {
            if let Err(e) = cost {
                let survey = wire::survey_id_string(&request.push[i].survey);
                let (status, code) = match e {
                    intake::IntakeError::OverBudget { .. } => (413, "too_large"),
                    intake::IntakeError::Malformed(_) | intake::IntakeError::Automerge(_) => (422, "invalid"),
                };
                acks[i] = Some(Ack::Refused { status, code: code.into(), message: format!("survey {survey}: {e}") });
            }
        }
        let mut judge = Judge::new(self, scope);
        let mut held = Vec::new();
        let mut stored = (0usize, 0usize);
        // A survey offered again with no changes (after a new epoch) is acknowledged by what
        // the server holds, never on the device's word.
        for (i, pushed) in request.push.iter().enumerate() {
            if acks[i].is_none() && pushed.changes.is_empty() {
                let survey_id = wire::survey_id_string(&pushed.survey);
                if pushed.heads.is_empty() {
                    acks[i] = Some(Ack::Refused {
                        status: 422,
                        code: "invalid".into(),
                        message: format!("survey {survey_id}: no changes, and no heads to offer"),
                    });
                    continue;
                }
                acks[i] = Some(self.acknowledge(&mut held, survey_id, wire::change_hashes(&pushed.heads))?);
            }
        }
        let admitted: Vec<usize> = (0..request.push.len()).filter(|i| acks[*i].is_none()).collect();
        for batch in admitted.chunks(PUSH_BATCH) {
            if Instant::now() >= deadline {
                for i in batch {
                    acks[*i] = Some(Ack::Refused {
                        status: 503,
                        code: "deferred".into(),
                        message: "the server ran out of time for this round: it is sent again at the next sync".into(),
                    });
                }
                continue;
            }
            let items: Vec<(String, Vec<u8>)> = batch
                .iter()
                .map(|i| (wire::survey_id_string(&request.push[*i].survey), request.push[*i].changes.clone()))
                .collect();
            let outcomes = self.backend.push(&items, &mut |candidate| judge.judge(candidate))?;
            for ((survey_id, _), (i, outcome)) in items.iter().zip(batch.iter().zip(outcomes)) {
                let pushed = &request.push[*i];
                acks[*i] = Some(match outcome {
                    Ok(merged) => {
                        stored.0 += 1;
                        stored.1 += merged.new_changes;
                        // The device's heads may name changes it was told this server had
                        // before a restore; those it must send again.
                        self.acknowledge(&mut held, survey_id.clone(), wire::change_hashes(&pushed.heads))?
                    }
                    Err(e) => refusal(e)?,
                });
            }
        }
        if !held.is_empty() {
            self.backend.confirm_device_heads(device, &held)?;
        }
        let changed = std::mem::take(&mut judge.changed_after_approval);
        let refused = acks.iter().filter(|a| matches!(a, Some(Ack::Refused { .. }))).count();
        let mut entries = Vec::new();
        if stored.0 > 0 || refused > 0 {
            entries.push(Entry::by(
                scope,
                Action::SyncPush,
                None,
                json!({
                    "device": terrain_core::identity::device_key_hex(device),
                    "surveys": stored.0,
                    "changes": stored.1,
                    "refused": refused,
                }),
            ));
        }
        let stored_ids: HashSet<&String> = held.iter().map(|(id, _)| id).collect();
        let marked: Vec<(String, String)> = changed.into_iter().filter(|(id, _)| stored_ids.contains(id)).collect();
        for (survey_id, by) in &marked {
            self.backend.mark(survey_id, ReviewStatus::ChangedAfterApproval)?;
            entries.push(Entry::by(
                scope,
                Action::SurveyChangedAfterApproval,
                Some(survey_id),
                json!({ "changed_by": by }),
            ));
        }
        self.audit_all(&entries)?;
        acks.into_iter().map(|a| a.ok_or_else(|| Error::internal("a pushed survey got no acknowledgement"))).collect()
    }

    /// `Stored` if this server holds every change in the device's `heads` of the survey
    /// (recorded in `held` as what the device certainly has), else `ResendAll`.
    fn acknowledge(
        &self,
        held: &mut Vec<(String, Vec<terrain_core::ChangeHash>)>,
        survey_id: String,
        heads: Vec<terrain_core::ChangeHash>,
    ) -> Result<Ack> {
        if !self.backend.holds(&survey_id, &heads)? {
            return Ok(Ack::ResendAll);
        }
        held.push((survey_id, heads));
        Ok(Ack::Stored)
    }

    /// The changes the device lacks, from the wanted surveys and entities, then the feed
    /// after `from` (its cursor), surveys and entities in feed order, within the byte
    /// budget.
    fn pull(
        &self,
        scope: &Scope,
        device: &DeviceKey,
        request: &SyncRequest,
        lists: &BTreeMap<String, i64>,
        from: u64,
        deadline: Instant,
    ) -> Result<Pulled> {
        let mut allowance =
            Allowance { bytes: 0, budget: request.max_pull_bytes.min(self.settings.sync.max_pull_bytes), deadline };
        let mut out = Pulled { surveys: Vec::new(), entities: Vec::new(), cursor: from, more: false };
        let mut seen = HashSet::new();
        let mut seen_entities = HashSet::new();

        for want in &request.want {
            let survey_id = wire::survey_id_string(&want.survey);
            if let Some(summary) = self.backend.survey_summary(&survey_id)?
                && self.may_pull(scope, &summary)?
                && let Some(p) = self.fetch(device, &summary, from)?
                && seen.insert(p.survey)
            {
                allowance.bytes += p.changes.len() as u64;
                out.surveys.push(p);
            }
        }
        for want in &request.want_entities {
            let Some(&project) = lists.get(&want.list) else { continue };
            if let Some((_, place)) = self.backend.entity_heads(&want.list, &want.id)?
                && scope.can_read_entity(project, &place)
                && let Some(sent) = self.fetch_entity(device, &want.list, &want.id, from)?
                && seen_entities.insert((want.list.clone(), want.id.clone()))
            {
                allowance.bytes += sent.pulled.changes.len() as u64;
                out.entities.push(sent);
            }
        }
        let visible = scope.visibility();
        let visible_entities = scope.entity_visibility(lists);
        let backfilling = self.backfill_entities(device, &visible_entities, from, &mut allowance, &mut out.entities)?;
        out.more |= backfilling;
        seen_entities.extend(out.entities.iter().map(|e| (e.pulled.list.clone(), e.pulled.id.clone())));
        'feed: loop {
            let surveys = self.backend.feed(out.cursor, FEED_PAGE, &visible)?;
            let entities = self.backend.entity_feed(out.cursor, FEED_PAGE, &visible_entities)?;
            // Both pages hold every entry up to `bound`; past it, a full page may have more.
            let full = |len: usize, last: Option<u64>| if len as u32 >= FEED_PAGE { last } else { None };
            let bound = [
                full(surveys.len(), surveys.last().map(|e| e.change_seq)),
                full(entities.len(), entities.last().map(|e| e.change_seq)),
            ]
            .into_iter()
            .flatten()
            .min();
            let mut items: Vec<FeedItem> = surveys
                .into_iter()
                .map(FeedItem::Survey)
                .chain(entities.into_iter().map(FeedItem::Entity))
                .filter(|item| bound.is_none_or(|b| item.change_seq() <= b))
                .collect();
            items.sort_by_key(FeedItem::change_seq);
            for item in items {
                if allowance.spent() {
                    out.more = true;
                    break 'feed;
                }
                match &item {
                    FeedItem::Survey(entry) => {
                        if self.may_pull(scope, &entry.summary)?
                            && let Some(p) = self.fetch(device, &entry.summary, from)?
                            && seen.insert(p.survey)
                        {
                            allowance.bytes += p.changes.len() as u64;
                            out.surveys.push(p);
                        }
                    }
                    FeedItem::Entity(entry) => {
                        if let Some(sent) = self.fetch_entity(device, &entry.list, &entry.id, from)?
                            && seen_entities.insert((entry.list.clone(), entry.id.clone()))
                        {
                            allowance.bytes += sent.pulled.changes.len() as u64;
                            out.entities.push(sent);
                        }
                    }
                }
                out.cursor = item.change_seq();
            }
            match bound {
                Some(bound) => out.cursor = bound,
                None => break,
            }
        }
        let sent: Vec<_> = out
            .surveys
            .iter()
            .map(|p| (wire::survey_id_string(&p.survey), wire::change_hashes(&p.heads)))
            // The server's heads, which the device holds once it applies them (the pulled
            // entity may leave them for the device to work out).
            .chain(out.entities.iter().map(|e| (entity_key(&e.pulled.list, &e.pulled.id), e.server_heads.clone())))
            .collect();
        self.backend.sent_device_heads(device, &sent, out.cursor, from)?;
        Ok(out)
    }

    /// Sends the entities `visible` admits that changed at or before `from` and the device
    /// lacks, when what it may read has changed since it last pulled (or the server has no
    /// record of it, past a first sync): within the round's `allowance`, resuming next round
    /// where this one stopped. Returns whether some are left to walk.
    fn backfill_entities(
        &self,
        device: &DeviceKey,
        visible: &EntityVisibility,
        from: u64,
        allowance: &mut Allowance,
        sent: &mut Vec<SentEntity>,
    ) -> Result<bool> {
        let fingerprint = {
            use sha2::{Digest, Sha256};
            terrain_core::hex::encode(&Sha256::digest(format!("{visible:?}").as_bytes())[..16])
        };
        let known = self.backend.device_entity_scope(device)?;
        let mut backfill = match known {
            Some(known) if known.fingerprint == fingerprint => known.backfill,
            // Walk again up to the device's cursor (and as far as an unfinished walk meant to).
            Some(known) => Some((0, from.max(known.backfill.map_or(0, |(_, until)| until)))),
            None if from == 0 => None,
            None => Some((0, from)),
        };
        let mut seen: HashSet<(String, String)> =
            sent.iter().map(|e| (e.pulled.list.clone(), e.pulled.id.clone())).collect();
        while let Some((at, until)) = backfill {
            let page = self.backend.entity_feed(at, FEED_PAGE, visible)?;
            let mut reached = at;
            let mut stopped = false;
            for entry in page.iter().take_while(|e| e.change_seq <= until) {
                if allowance.spent() {
                    stopped = true;
                    break;
                }
                if seen.insert((entry.list.clone(), entry.id.clone()))
                    && let Some(entity) = self.fetch_entity(device, &entry.list, &entry.id, from)?
                {
                    allowance.bytes += entity.pulled.changes.len() as u64;
                    sent.push(entity);
                }
                reached = entry.change_seq;
            }
            let finished = !stopped && (page.len() < FEED_PAGE as usize || page.iter().any(|e| e.change_seq > until));
            backfill = if finished { None } else { Some((reached, until)) };
            if stopped || finished {
                break;
            }
        }
        self.backend.set_device_entity_scope(device, &DeviceEntityScope { fingerprint, backfill })?;
        Ok(backfill.is_some())
    }

    fn may_pull(&self, scope: &Scope, summary: &terrain_core::store::SurveySummary) -> Result<bool> {
        let facts = scope.facts(summary, &[]);
        if scope.can_read(&facts) {
            return Ok(true);
        }
        // Assignees are looked up only when they could matter: an enumerator's own survey
        // is readable without them.
        let assignees = self.backend.assignees(&summary.survey_id)?;
        Ok(scope.can_read(&scope.facts(summary, &assignees)))
    }

    /// The changes of one survey the device lacks, if any; a survey that cannot be read is
    /// skipped (and listed for administrators).
    fn fetch(
        &self,
        device: &DeviceKey,
        summary: &terrain_core::store::SurveySummary,
        cursor: u64,
    ) -> Result<Option<PulledSurvey>> {
        let survey_id = &summary.survey_id;
        let Some(server_heads) = self.backend.heads(survey_id)? else { return Ok(None) };
        let known = self.backend.device_heads(device, std::slice::from_ref(survey_id), cursor)?.remove(survey_id);
        if known.as_ref() == Some(&server_heads) {
            return Ok(None);
        }
        let Some(changes) =
            self.unless_unreadable(survey_id, self.backend.changes_after(survey_id, known.as_deref().unwrap_or(&[])))?
        else {
            return Ok(None);
        };
        if changes.is_empty() {
            return Ok(None);
        }
        let survey =
            wire::survey_id_bytes(survey_id).ok_or_else(|| Error::internal("a stored survey id is not a UUID"))?;
        Ok(Some(PulledSurvey {
            survey,
            form_id: summary.form_id.clone(),
            form_version: summary.form_version.clone(),
            changes,
            heads: wire::hashes(&server_heads),
        }))
    }
}

impl Services {
    /// Stores a request's pushed entities: each judged by its authors' rights, acknowledged
    /// on its own, a refused one keeping none of its changes.
    fn push_entities(
        &self,
        scope: &Scope,
        device: &DeviceKey,
        request: &SyncRequest,
        costs: &[std::result::Result<Cost, intake::IntakeError>],
        lists: &BTreeMap<String, i64>,
        deadline: Instant,
    ) -> Result<Vec<Ack>> {
        let pushed = &request.push_entities;
        let mut acks: Vec<Option<Ack>> = vec![None; pushed.len()];
        let mut held = Vec::new();
        for (i, entity) in pushed.iter().enumerate() {
            let name = format!("{}/{}", entity.list, entity.id);
            if let Err(e) = &costs[i] {
                let (status, code) = match e {
                    intake::IntakeError::OverBudget { .. } => (413, "too_large"),
                    intake::IntakeError::Malformed(_) | intake::IntakeError::Automerge(_) => (422, "invalid"),
                };
                acks[i] = Some(Ack::Refused { status, code: code.into(), message: format!("entity {name}: {e}") });
            } else if !lists.contains_key(&entity.list) {
                acks[i] = Some(Ack::Refused {
                    status: 422,
                    code: "unknown_list".into(),
                    message: format!("no form published on this server declares the entity list `{}`", entity.list),
                });
            } else if entity.changes.is_empty() {
                // Offered again after a new epoch: acknowledged by what the server holds.
                let heads = wire::change_hashes(&entity.heads);
                let holds = self.backend.entity_heads(&entity.list, &entity.id)?.is_some_and(|(h, _)| same(&h, &heads));
                acks[i] = Some(if holds {
                    held.push((entity_key(&entity.list, &entity.id), heads));
                    Ack::Stored
                } else {
                    Ack::ResendAll
                });
            }
        }
        let admitted: Vec<usize> = (0..pushed.len()).filter(|i| acks[*i].is_none()).collect();
        let mut judge = Judge::new(self, scope);
        let mut stored = 0usize;
        for batch in admitted.chunks(PUSH_BATCH) {
            if Instant::now() >= deadline {
                for i in batch {
                    acks[*i] = Some(Ack::Refused {
                        status: 503,
                        code: "deferred".into(),
                        message: "the server ran out of time for this round: it is sent again at the next sync".into(),
                    });
                }
                continue;
            }
            let items: Vec<ReceivedEntity> = batch
                .iter()
                .map(|i| ReceivedEntity {
                    list: pushed[*i].list.clone(),
                    id: pushed[*i].id.clone(),
                    changes: pushed[*i].changes.clone(),
                    heads: wire::change_hashes(&pushed[*i].heads),
                })
                .collect();
            let outcomes = self.backend.push_entities(&items, &mut |candidate| {
                let project = lists.get(candidate.list).copied().ok_or_else(|| internal("an entity list vanished"))?;
                judge.judge_entity(candidate, project)
            })?;
            for ((item, i), outcome) in items.into_iter().zip(batch).zip(outcomes) {
                acks[*i] = Some(match outcome {
                    Ok(true) => {
                        stored += 1;
                        held.push((entity_key(&item.list, &item.id), item.heads));
                        Ack::Stored
                    }
                    // Merged, but the device's heads name changes this server lacks (it
                    // was told them before a restore): it sends everything again.
                    Ok(false) => Ack::ResendAll,
                    Err(e) => entity_refusal(e)?,
                });
            }
        }
        if !held.is_empty() {
            self.backend.confirm_device_heads(device, &held)?;
        }
        let refused = acks.iter().filter(|a| matches!(a, Some(Ack::Refused { .. }))).count();
        if stored > 0 || refused > 0 {
            self.audit_all(&[Entry::by(
                scope,
                Action::SyncPushEntities,
                None,
                json!({
                    "device": terrain_core::identity::device_key_hex(device),
                    "entities": stored,
                    "refused": refused,
                }),
            )])?;
        }
        acks.into_iter().map(|a| a.ok_or_else(|| Error::internal("a pushed entity got no acknowledgement"))).collect()
    }

    /// The changes of one entity the device lacks, if any; an entity that cannot be read is
    /// skipped and logged.
    fn fetch_entity(&self, device: &DeviceKey, list: &str, id: &str, cursor: u64) -> Result<Option<SentEntity>> {
        let Some((server_heads, _)) = self.backend.entity_heads(list, id)? else { return Ok(None) };
        let key = entity_key(list, id);
        let known = self.backend.device_heads(device, std::slice::from_ref(&key), cursor)?.remove(&key);
        if known.as_ref().is_some_and(|k| same(k, &server_heads)) {
            return Ok(None);
        }
        let changes = match self.backend.entity_changes_after(list, id, known.as_deref().unwrap_or(&[])) {
            Ok(changes) => changes,
            Err(e) if e.is_unreadable() => {
                tracing::error!(list, id, error = %e, "a stored entity cannot be read: skipped");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if changes.is_empty() {
            return Ok(None);
        }
        // Only what the device cannot derive travels: see `intake::lean`.
        let genesis = EntityDoc::genesis_chunk(list, id).map_err(Error::internal)?;
        let changes = lean::shrink(&genesis, &changes)
            .ok_or_else(|| Error::internal("a stored entity's changes are not changes"))?;
        // Sent whole, the changes leave the device at the server's heads: it works them out.
        let heads =
            if known.as_ref().is_some_and(|k| !k.is_empty()) { wire::hashes(&server_heads) } else { Vec::new() };
        let pulled = PulledEntity { list: list.to_owned(), id: id.to_owned(), changes, heads };
        Ok(Some(SentEntity { pulled, server_heads }))
    }
}

/// What a round may still send: bytes against its budget, until its deadline.
struct Allowance {
    bytes: u64,
    budget: u64,
    deadline: Instant,
}

impl Allowance {
    /// Whether the round has sent all it may.
    fn spent(&self) -> bool {
        self.bytes >= self.budget || Instant::now() >= self.deadline
    }
}

/// What a round sends back: surveys, entities, the cursor after them, and whether more
/// remain.
struct Pulled {
    surveys: Vec<PulledSurvey>,
    entities: Vec<SentEntity>,
    cursor: u64,
    more: bool,
}

/// A pulled entity with the server's heads it brings the device to, recorded as what the
/// device holds whether or not they travel.
struct SentEntity {
    pulled: PulledEntity,
    server_heads: Vec<terrain_core::ChangeHash>,
}

/// An entry of the change feed: surveys and entities share its numbers.
enum FeedItem {
    Survey(terrain_core::store::FeedEntry),
    Entity(EntityFeedEntry),
}

impl FeedItem {
    fn change_seq(&self) -> u64 {
        match self {
            FeedItem::Survey(entry) => entry.change_seq,
            FeedItem::Entity(entry) => entry.change_seq,
        }
    }
}

/// The key an entity's heads are tracked under per device, beside surveys' ids (which are
/// UUIDs, so the two never meet).
fn entity_key(list: &str, id: &str) -> String {
    format!("entity:{list}/{id}")
}

/// Whether two sets of heads are the same, in whatever order.
fn same(a: &[terrain_core::ChangeHash], b: &[terrain_core::ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// The bounds on a request's entities, checked before anything is decoded.
fn check_entity_lists(request: &SyncRequest, limits: &crate::settings::SyncLimits) -> Result<()> {
    if request.push_entities.len() > limits.max_push_surveys {
        return Err(too_large(format!(
            "{} entities in one request; send at most {}",
            request.push_entities.len(),
            limits.max_push_surveys
        )));
    }
    if request.want_entities.len() > limits.max_want {
        return Err(too_large(format!(
            "{} entities asked for again in one request; ask for at most {}",
            request.want_entities.len(),
            limits.max_want
        )));
    }
    let names = request
        .push_entities
        .iter()
        .map(|e| (&e.list, &e.id))
        .chain(request.want_entities.iter().map(|w| (&w.list, &w.id)));
    for (list, id) in names {
        if list.len() > MAX_ENTITY_NAME_BYTES || id.len() > MAX_ENTITY_NAME_BYTES {
            return Err(too_large(format!("an entity list name or id is longer than {MAX_ENTITY_NAME_BYTES} bytes")));
        }
    }
    let heads = request
        .push_entities
        .iter()
        .flat_map(|e| [e.base.len(), e.heads.len()])
        .chain(request.want_entities.iter().map(|w| w.heads.len()));
    if heads.into_iter().any(|n| n > limits.max_heads) {
        return Err(too_large(format!("an entity lists more than {} heads", limits.max_heads)));
    }
    if let Some(big) = request.push_entities.iter().find(|e| e.changes.len() > MAX_DOCUMENT_BYTES) {
        return Err(too_large(format!(
            "entity {}/{} sends {} bytes of changes, more than any entity can have",
            big.list,
            big.id,
            big.changes.len()
        )));
    }
    Ok(())
}

/// What became of a pushed entity the store did not keep.
fn entity_refusal(e: StoreError) -> Result<Ack> {
    Ok(match e {
        StoreError::EntityDocument { source: DocumentError::MissingDependencies(_), .. } => Ack::ResendAll,
        StoreError::EntityDocument { source: DocumentError::Refused(r), .. } => {
            Ack::Refused { status: r.status, code: r.code, message: r.message }
        }
        StoreError::EntityDocument { list, id, source: source @ DocumentError::OverBudget(_) } => {
            Ack::Refused { status: 413, code: "too_large".into(), message: format!("entity {list}/{id}: {source}") }
        }
        StoreError::EntityDocument { list, id, source } => {
            Ack::Refused { status: 422, code: "invalid".into(), message: format!("entity {list}/{id}: {source}") }
        }
        other => return Err(Error::internal(other)),
    })
}

/// What became of a pushed survey the store did not keep.
fn refusal(e: StoreError) -> Result<Ack> {
    Ok(match e {
        StoreError::Document { source: DocumentError::MissingDependencies(_), .. } => Ack::ResendAll,
        StoreError::Document { source: DocumentError::Refused(r), .. } => {
            Ack::Refused { status: r.status, code: r.code, message: r.message }
        }
        StoreError::Document { survey_id, source: source @ DocumentError::OverBudget(_) } => {
            Ack::Refused { status: 413, code: "too_large".into(), message: format!("survey {survey_id}: {source}") }
        }
        StoreError::UnknownForm { form_id, version } => Ack::Refused {
            status: 422,
            code: "unknown_form".into(),
            message: format!("form `{form_id}` version `{version}` is not published on this server"),
        },
        StoreError::Document { source, .. } => {
            Ack::Refused { status: 422, code: "invalid".into(), message: source.to_string() }
        }
        other => return Err(Error::internal(other)),
    })
}

/// Judges pushed changes by the rights of the person whose device made each, caching what
/// it learns about devices, forms and projects across the surveys of a round.
struct Judge<'a> {
    services: &'a Services,
    uploader: &'a Scope,
    owners: HashMap<DeviceKey, Option<Scope>>,
    projects: HashMap<String, Option<i64>>,
    frozen: HashMap<i64, bool>,
    /// Approved surveys this round changes, with who changed them.
    changed_after_approval: Vec<(String, String)>,
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "storage failed while judging a push");
    Refusal { status: 500, code: "internal".into(), message: "the server failed; try again".into() }
}

impl<'a> Judge<'a> {
    fn new(services: &'a Services, uploader: &'a Scope) -> Self {
        Judge {
            services,
            uploader,
            owners: HashMap::new(),
            projects: HashMap::new(),
            frozen: HashMap::new(),
            changed_after_approval: Vec::new(),
        }
    }

    /// Accepts the candidate's new changes, or refuses them all.
    fn judge(&mut self, candidate: &MergeCandidate<'_>) -> std::result::Result<(), Refusal> {
        let meta = candidate.meta;
        let Some(project) = self.project_of(&meta.form_id)? else {
            return Err(Refusal {
                status: 422,
                code: "unknown_form".into(),
                message: format!("form `{}` is not published on this server", meta.form_id),
            });
        };
        let assignees = self.services.backend.assignees(candidate.survey_id).map_err(internal)?;
        let facts = SurveyFacts { created_by: &meta.created_by, project: Some(project), assignees: &assignees };
        let was_approved = candidate.previous_review.is_some_and(|r| r.status == ReviewStatus::Approved);
        let mut changed_by = None;
        for footprint in candidate.footprints {
            let owner = self.author(&footprint.actor, project)?;
            let owner_user = owner.user().cloned().ok_or_else(|| internal("a device belongs to no one"))?;
            if footprint.creation && !candidate.existed {
                if meta.created_by != owner_user.username || !owner.may_start_surveys_in(project) {
                    return Err(Refusal::forbidden(
                        "forbidden",
                        format!("{} may not start surveys of form `{}`", owner_user.username, meta.form_id),
                    ));
                }
                // The creating change lays out the whole document, review included: an
                // enumerator's must leave the review empty.
                let reviewed =
                    candidate.review.status != ReviewStatus::Received || !candidate.review.comments.is_empty();
                if reviewed && !owner.writable_areas().contains(&Area::Review) {
                    return Err(Refusal::forbidden(
                        "forbidden",
                        format!("{} may not set a review on the surveys they start", owner_user.username),
                    ));
                }
                continue;
            }
            if !owner.may_write(&facts) {
                return Err(Refusal::forbidden(
                    "forbidden",
                    format!("{} may not change survey {}", owner_user.username, candidate.survey_id),
                ));
            }
            if let Some(area) = footprint.exceeds(owner.writable_areas()) {
                return Err(Refusal::forbidden(
                    "forbidden",
                    format!("{} may not change {area:?} of a survey", owner_user.username),
                ));
            }
            // A change to the answers or the status of an approved survey, by someone who
            // does not review it, undoes the approval (or, where approved surveys are
            // frozen, is refused). A reviewer's own correction does not.
            let edits = footprint.areas.iter().any(|a| matches!(a, Area::Answers | Area::Status));
            if was_approved && edits && !owner.supervises(Some(project), &meta.created_by) {
                changed_by = Some(owner_user.username.clone());
            }
        }
        if let Some(by) = changed_by {
            if self.frozen(project)? {
                return Err(Refusal {
                    status: 409,
                    code: "frozen".into(),
                    message: format!(
                        "survey {} was approved, and approved surveys are frozen in this project: \
                         ask your supervisor to reopen it before changing it",
                        candidate.survey_id
                    ),
                });
            }
            self.changed_after_approval.push((candidate.survey_id.to_owned(), by));
        }
        Ok(())
    }

    /// Accepts a pushed entity's new changes, or refuses them all; files an entity new to
    /// the server under its first author's team.
    fn judge_entity(
        &mut self,
        candidate: &EntityCandidate<'_>,
        project: i64,
    ) -> std::result::Result<Option<i64>, Refusal> {
        let name = format!("{}/{}", candidate.list, candidate.id);
        let mut team = None;
        for (n, actor) in candidate.merged.authors.iter().enumerate() {
            let owner = self.author(&actor.to_hex_string(), project)?;
            let owner_user = owner.user().cloned().ok_or_else(|| internal("a device belongs to no one"))?;
            if !owner.may_write_entity(project, &candidate.place) {
                return Err(Refusal::forbidden(
                    "forbidden",
                    format!("{} may not change entity {name}", owner_user.username),
                ));
            }
            if candidate.merged.deleted_changed && !owner.may_delete_entity(project) {
                return Err(Refusal::forbidden(
                    "forbidden",
                    format!("{} may not delete or restore entity {name}: ask a supervisor", owner_user.username),
                ));
            }
            if n == 0 {
                team = owner.team_for_new_entity(project);
            }
        }
        Ok(if candidate.existed { None } else { team })
    }

    /// The scope of the person whose device wrote a change (its actor, in hex), once it is
    /// known that the uploader may relay their changes in `project` and that they are not
    /// disabled.
    fn author(&mut self, actor: &str, project: i64) -> std::result::Result<&Scope, Refusal> {
        let uploader = self.uploader;
        let key = terrain_core::identity::device_key_of(actor).ok_or_else(|| {
            Refusal::forbidden("unknown_actor", "a change carries an actor id that is not a device's")
        })?;
        let owner = self.owner(&key)?.ok_or_else(|| {
            Refusal::forbidden(
                "unknown_actor",
                format!(
                    "a change was made on device {} that never logged in to this server (or first logged in after \
                     the backup it was restored from): log in on it first",
                    terrain_core::identity::device_key_hex(&key)
                ),
            )
        })?;
        let user = owner.user().ok_or_else(|| internal("a device belongs to no one"))?;
        if user.username != uploader.name() && !uploader.supervises(Some(project), &user.username) {
            return Err(Refusal::forbidden(
                "relay_forbidden",
                format!(
                    "{} may not upload changes made by {}: only their supervisor may relay them",
                    uploader.name(),
                    user.username
                ),
            ));
        }
        if user.disabled {
            return Err(Refusal::forbidden("disabled", format!("{} is disabled", user.username)));
        }
        Ok(owner)
    }

    fn owner(&mut self, key: &DeviceKey) -> std::result::Result<Option<&Scope>, Refusal> {
        if !self.owners.contains_key(key) {
            let backend = self.services.backend.as_ref();
            let scope = match backend.device_owner(key).map_err(internal)? {
                Some(user) => Some(Scope::load(backend, user, Some(*key)).map_err(internal)?),
                None => None,
            };
            self.owners.insert(*key, scope);
        }
        Ok(self.owners.get(key).and_then(Option::as_ref))
    }

    fn project_of(&mut self, form_id: &str) -> std::result::Result<Option<i64>, Refusal> {
        if let Some(p) = self.projects.get(form_id) {
            return Ok(*p);
        }
        let p = self.services.backend.form_project(form_id).map_err(internal)?;
        self.projects.insert(form_id.to_owned(), p);
        Ok(p)
    }

    fn frozen(&mut self, project: i64) -> std::result::Result<bool, Refusal> {
        if let Some(f) = self.frozen.get(&project) {
            return Ok(*f);
        }
        let f = match self.services.backend.freeze_approved(project) {
            Ok(f) => f,
            Err(BackendError::NotFound(_)) => false,
            Err(e) => return Err(internal(e)),
        };
        self.frozen.insert(project, f);
        Ok(f)
    }
}

/// The answer to a device that used up its minute's budget.
fn spent_minute(wait: std::time::Duration) -> Error {
    Error::TooMany {
        retry_after: wait,
        message: "this device has sent a great deal in the last minute: it will sync again shortly".into(),
    }
}
