//! The server side of a sync round, independent of HTTP: store what the device pushed (each
//! survey judged by the access rules), then send the changes it lacks from the change feed,
//! within a byte budget.
//!
//! What each device holds is tracked per survey (`device_heads`): heads it pushed are
//! certain; heads sent to it become certain once the device's cursor passes the response
//! that carried them, so a lost response is simply recomputed from the older heads.

use std::collections::HashMap;

use terrain_core::store::FeedFilter;
use terrain_core::survey::{DocumentError, MAX_DOCUMENT_BYTES};
use terrain_core::sync::wire::{self, Ack, PulledSurvey, SyncRequest, SyncResponse};
use terrain_core::{Role, StoreError};

use crate::backend::{Backend, DeviceKey};
use crate::error::ApiError;
use crate::rules::{Principal, PushJudge, SurveyFacts};

/// Limits on one sync round.
#[derive(Debug, Clone)]
pub struct SyncLimits {
    /// Most surveys pushed in one request.
    pub max_push_surveys: usize,
    /// Most change bytes sent back in one response, whatever the device asks.
    pub max_pull_bytes: u64,
}

impl Default for SyncLimits {
    fn default() -> Self {
        SyncLimits { max_push_surveys: 5_000, max_pull_bytes: 8 << 20 }
    }
}

/// Feed entries read per page while looking for what a device may see.
const FEED_PAGE: u32 = 1_000;

/// Runs one sync round for `principal` on `device`.
pub fn sync(
    backend: &dyn Backend,
    principal: &Principal,
    device: &DeviceKey,
    request: SyncRequest,
    limits: &SyncLimits,
) -> Result<SyncResponse, ApiError> {
    if request.protocol != wire::PROTOCOL_VERSION {
        return Err(ApiError::unprocessable(
            "unsupported_protocol",
            format!(
                "this device speaks sync protocol {} but the server speaks {}: update the app",
                request.protocol,
                wire::PROTOCOL_VERSION
            ),
        ));
    }
    if request.push.len() > limits.max_push_surveys {
        return Err(ApiError::too_large(format!(
            "{} surveys in one request; send at most {}",
            request.push.len(),
            limits.max_push_surveys
        )));
    }
    if let Some(big) = request.push.iter().find(|p| p.changes.len() > MAX_DOCUMENT_BYTES) {
        return Err(ApiError::too_large(format!(
            "survey {} sends {} bytes of changes, more than any survey can have",
            wire::survey_id_string(&big.survey),
            big.changes.len()
        )));
    }

    let acks = push(backend, principal, device, &request)?;
    for want in &request.want {
        backend.confirm_device_heads(
            device,
            &[(wire::survey_id_string(&want.survey), wire::change_hashes(&want.heads))],
        )?;
    }
    let (pull, cursor, more) = pull(backend, principal, device, &request, limits)?;
    Ok(SyncResponse { cursor, acks, pull, more })
}

fn push(
    backend: &dyn Backend,
    principal: &Principal,
    device: &DeviceKey,
    request: &SyncRequest,
) -> Result<Vec<Ack>, ApiError> {
    if request.push.is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<(String, Vec<u8>)> =
        request.push.iter().map(|p| (wire::survey_id_string(&p.survey), p.changes.clone())).collect();
    let mut judge = PushJudge::new(backend, principal);
    let outcomes = backend.push(&items, &mut |candidate| judge.judge(candidate))?;
    let mut acks = Vec::with_capacity(outcomes.len());
    let mut held = Vec::new();
    for ((survey_id, _), (pushed, outcome)) in items.iter().zip(request.push.iter().zip(outcomes)) {
        let ack = match outcome {
            Ok(_) => {
                held.push((survey_id.clone(), wire::change_hashes(&pushed.heads)));
                Ack::Stored
            }
            Err(StoreError::Document { source: DocumentError::MissingDependencies(_), .. }) => Ack::ResendAll,
            Err(StoreError::Document { source: DocumentError::Refused(r), .. }) => {
                Ack::Refused { status: r.status, code: r.code, message: r.message }
            }
            Err(StoreError::UnknownForm { form_id, version }) => Ack::Refused {
                status: 422,
                code: "unknown_form".into(),
                message: format!("form `{form_id}` version `{version}` is not published on this server"),
            },
            Err(StoreError::Document { source, .. }) => {
                Ack::Refused { status: 422, code: "invalid".into(), message: source.to_string() }
            }
            Err(other) => return Err(ApiError::internal(other)),
        };
        acks.push(ack);
    }
    backend.confirm_device_heads(device, &held)?;
    Ok(acks)
}

/// The part of the feed the user may see, as a filter the storage applies (the rules still
/// check each survey): without it every device would scan every survey of the server.
fn visible(backend: &dyn Backend, principal: &Principal) -> Result<FeedFilter, ApiError> {
    Ok(match principal.user.role {
        Role::Admin => FeedFilter::default(),
        Role::Enumerator => FeedFilter {
            creators: Some(vec![principal.user.username.clone()]),
            forms: None,
            surveys: backend.assigned_to(principal.user.id)?,
        },
        Role::Supervisor => FeedFilter {
            creators: Some(principal.membership.teammates.values().flatten().cloned().collect()),
            forms: None,
            surveys: Vec::new(),
        },
        Role::Analyst => FeedFilter {
            creators: None,
            forms: Some(
                backend
                    .forms()?
                    .into_iter()
                    .filter(|f| principal.membership.projects.contains(&f.project_id))
                    .map(|f| f.form_id)
                    .collect(),
            ),
            surveys: Vec::new(),
        },
    })
}

/// The changes the device lacks, from the wanted surveys then the feed after its cursor,
/// within the byte budget. Returns them, the new cursor and whether more remain.
fn pull(
    backend: &dyn Backend,
    principal: &Principal,
    device: &DeviceKey,
    request: &SyncRequest,
    limits: &SyncLimits,
) -> Result<(Vec<PulledSurvey>, u64, bool), ApiError> {
    let budget = request.max_pull_bytes.min(limits.max_pull_bytes);
    let mut pulled = Vec::new();
    let mut bytes = 0u64;
    let mut projects: HashMap<String, Option<i64>> = HashMap::new();
    let mut may_read = |survey_id: &str| -> Result<Option<(String, String)>, ApiError> {
        let Some(summary) = backend.survey_summary(survey_id)? else { return Ok(None) };
        let project = match projects.get(&summary.form_id) {
            Some(p) => *p,
            None => {
                let p = backend.form_project(&summary.form_id)?;
                projects.insert(summary.form_id.clone(), p);
                p
            }
        };
        let assignees =
            if principal.user.role == terrain_core::Role::Enumerator && summary.created_by != principal.user.username {
                backend.assignees(survey_id)?
            } else {
                Vec::new()
            };
        let facts = SurveyFacts { created_by: &summary.created_by, project, assignees: &assignees };
        Ok(principal.can_read(&facts).then_some((summary.form_id, summary.form_version)))
    };
    let fetch = |survey_id: &str, form: (String, String)| -> Result<Option<PulledSurvey>, ApiError> {
        let Some(server_heads) = backend.heads(survey_id)? else { return Ok(None) };
        let known = backend.device_heads(device, &[survey_id.to_owned()], request.cursor)?.remove(survey_id);
        if known.as_ref() == Some(&server_heads) {
            return Ok(None);
        }
        let changes = backend.changes_after(survey_id, known.as_deref().unwrap_or(&[]))?;
        if changes.is_empty() {
            return Ok(None);
        }
        let survey =
            wire::survey_id_bytes(survey_id).ok_or_else(|| ApiError::internal("a stored survey id is not a UUID"))?;
        Ok(Some(PulledSurvey {
            survey,
            form_id: form.0,
            form_version: form.1,
            changes,
            heads: wire::hashes(&server_heads),
        }))
    };
    let mut seen = std::collections::HashSet::new();
    let mut take = |p: PulledSurvey, pulled: &mut Vec<PulledSurvey>, bytes: &mut u64| {
        if seen.insert(p.survey) {
            *bytes += p.changes.len() as u64;
            pulled.push(p);
        }
    };

    for want in &request.want {
        let survey_id = wire::survey_id_string(&want.survey);
        if let Some(form) = may_read(&survey_id)?
            && let Some(p) = fetch(&survey_id, form)?
        {
            take(p, &mut pulled, &mut bytes);
        }
    }
    let filter = visible(backend, principal)?;
    let mut cursor = request.cursor;
    let mut more = false;
    'feed: loop {
        let page = backend.feed(cursor, FEED_PAGE, &filter)?;
        let last_page = (page.len() as u32) < FEED_PAGE;
        for entry in page {
            if bytes >= budget {
                more = true;
                break 'feed;
            }
            if let Some(form) = may_read(&entry.summary.survey_id)?
                && let Some(p) = fetch(&entry.summary.survey_id, form)?
            {
                take(p, &mut pulled, &mut bytes);
            }
            cursor = entry.change_seq;
        }
        if last_page {
            break;
        }
    }
    let sent: Vec<_> =
        pulled.iter().map(|p| (wire::survey_id_string(&p.survey), wire::change_hashes(&p.heads))).collect();
    backend.sent_device_heads(device, &sent, cursor, request.cursor)?;
    Ok((pulled, cursor, more))
}
