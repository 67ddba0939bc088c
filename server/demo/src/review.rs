//! The review round, through the server's HTTP API as the dashboard calls it: supervisors
//! approve most surveys, correct some answers and send some back with a comment on one
//! question. Enumerators see the comment after a sync and fix the answer on their phone,
//! while, for some of those surveys, the supervisor corrects another answer (both edits
//! survive) or the very same one (a conflict). Supervisors then settle every conflict and
//! approve.

use std::collections::HashMap;

use rand::Rng;
use serde::Serialize;
use serde_json::json;
use terrain_core::form::FormIndex;
use terrain_core::survey::{Answer, ReviewStatus};
use terrain_core::{AnswerPath, SurveyQuery, Value};

use super::DemoError;
use super::field::{Device, Written};
use super::http::{Session, desk};
use super::pilot::Pilot;

/// What the review round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReviewOutcome {
    /// Surveys approved as they came.
    pub approved: usize,
    /// Surveys a supervisor corrected, then approved.
    pub corrected: usize,
    /// Surveys sent back with a comment (fixed by their enumerator, then approved).
    pub sent_back: usize,
    /// Sent-back surveys whose comment the enumerator's phone showed after a sync.
    pub comments_seen_on_phones: usize,
    /// Sent-back surveys where the supervisor corrected another answer meanwhile.
    pub concurrent_other_answer: usize,
    /// Sent-back surveys where the supervisor corrected the same answer meanwhile.
    pub concurrent_same_answer: usize,
    /// Conflicts the server showed after the enumerators' fixes arrived.
    pub conflicts_raised: usize,
    /// Conflicts a supervisor settled.
    pub conflicts_resolved: usize,
}

/// A survey sent back: who fixes which answer, and what the supervisor does meanwhile.
struct SentBack {
    survey: String,
    enumerator: String,
    question: AnswerPath,
    fix: Value,
    meanwhile: Meanwhile,
}

enum Meanwhile {
    Nothing,
    Other(AnswerPath),
    Same,
}

/// Runs the review round over every survey the supervisors' tablets hold. Devices are
/// synced as part of it; values written and acknowledged are added to `written`.
pub fn review(
    pilot: &Pilot,
    enumerators: &mut [Device],
    supervisors: &mut [Device],
    rng: &mut impl Rng,
    written: &mut Vec<Written>,
) -> Result<ReviewOutcome, DemoError> {
    let mut outcome = ReviewOutcome::default();
    let by_name: HashMap<String, usize> = enumerators.iter().enumerate().map(|(i, d)| (d.user.clone(), i)).collect();
    let mut sent_back = Vec::new();
    let mut sessions = HashMap::new();
    for (team, tablet) in pilot.teams.iter().zip(supervisors.iter()) {
        let desk = desk(&pilot.url, &team.supervisor)?;
        let index = FormIndex::new(&team.form);
        let all = tablet.store.list(&SurveyQuery { limit: Some(u32::MAX), ..Default::default() })?;
        let mut approve = Vec::new();
        for summary in all {
            let id = summary.survey_id;
            let survey = tablet.store.survey(&id)?;
            // Free-text answers without a constraint: what a reviewer retypes.
            let texts: Vec<(AnswerPath, String)> = survey
                .answers
                .0
                .iter()
                .filter_map(|(name, answer)| match answer {
                    Answer::Value(Value::Text(t))
                        if index.question(name).is_some_and(|q| q.constraint.is_none() && q.calculation.is_none()) =>
                    {
                        Some((AnswerPath::top(name.clone()), t.clone()))
                    }
                    _ => None,
                })
                .collect();
            let roll = rng.random_range(0..100);
            if roll < 65 || texts.len() < 2 || !by_name.contains_key(&summary.created_by) {
                approve.push(id);
                outcome.approved += 1;
            } else if roll < 80 {
                let (path, old) = &texts[rng.random_range(0..texts.len())];
                correct(&desk, &id, path, Value::Text(format!("{old} (corrigé)")), written)?;
                act(&desk, &id, json!({"action": "approve"}))?;
                outcome.corrected += 1;
            } else {
                let pick = rng.random_range(0..texts.len());
                let (question, old) = texts[pick].clone();
                act(
                    &desk,
                    &id,
                    json!({"action": "send_back", "question": question.to_string(),
                        "comment": format!("Vérifiez « {question} » avec le ménage, s'il vous plaît.")}),
                )?;
                let meanwhile = match rng.random_range(0..3) {
                    0 => Meanwhile::Other(texts[(pick + 1) % texts.len()].0.clone()),
                    1 => Meanwhile::Same,
                    _ => Meanwhile::Nothing,
                };
                sent_back.push(SentBack {
                    survey: id,
                    enumerator: summary.created_by,
                    question,
                    fix: Value::Text(format!("{old} (vérifié)")),
                    meanwhile,
                });
                outcome.sent_back += 1;
            }
        }
        // The surveys that need nothing are approved together, as from the dashboard's list.
        for batch in approve.chunks(500) {
            let done =
                desk.expect_ok("POST", "/api/v1/reviews", Some(&json!({"surveys": batch, "action": "approve"})))?;
            let failed = &done["failed"];
            if failed.as_array().is_some_and(|f| !f.is_empty()) {
                return Err(DemoError::Http(format!("bulk approval refused some surveys: {failed}")));
            }
        }
        sessions.insert(team.supervisor.clone(), desk);
    }

    // Enumerators sync and see the comments.
    for device in enumerators.iter_mut() {
        device.sync_until_done()?;
    }
    for item in &sent_back {
        let Some(&e) = by_name.get(&item.enumerator) else { continue };
        let review = enumerators[e].store.survey(&item.survey)?.review;
        if review.status == ReviewStatus::SentBack && !review.comments.is_empty() {
            outcome.comments_seen_on_phones += 1;
        }
    }

    // Offline, each enumerator fixes the answer; meanwhile some supervisors correct.
    for item in &sent_back {
        let Some(&e) = by_name.get(&item.enumerator) else { continue };
        enumerators[e].fix(&item.survey, &item.question, item.fix.clone(), written)?;
        let desk = supervisor_session(pilot, &sessions, &item.enumerator)?;
        match &item.meanwhile {
            Meanwhile::Nothing => {}
            Meanwhile::Other(path) => {
                correct(desk, &item.survey, path, Value::Text("Corrigé au bureau".into()), written)?;
                outcome.concurrent_other_answer += 1;
            }
            Meanwhile::Same => {
                correct(desk, &item.survey, &item.question, Value::Text("Corrigé au bureau".into()), written)?;
                outcome.concurrent_same_answer += 1;
            }
        }
    }
    for device in enumerators.iter_mut().chain(supervisors.iter_mut()) {
        device.sync_until_done()?;
    }

    // Supervisors settle the conflicts (keeping the enumerator's checked value) and approve.
    for item in &sent_back {
        let desk = supervisor_session(pilot, &sessions, &item.enumerator)?;
        let (status, conflicts) = desk.request("GET", &format!("/api/v1/surveys/{}/conflicts", item.survey), None)?;
        if status != 200 {
            return Err(DemoError::Http(format!("conflicts of {} answered {status}", item.survey)));
        }
        for conflict in conflicts.as_array().map(Vec::as_slice).unwrap_or_default() {
            outcome.conflicts_raised += 1;
            let path: AnswerPath = conflict["path"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| DemoError::Http(format!("a conflict without a path: {conflict}")))?;
            let value = if path == item.question { item.fix.clone() } else { Value::Text("Réglé au bureau".into()) };
            correct(desk, &item.survey, &path, value, written)?;
            outcome.conflicts_resolved += 1;
        }
        act(desk, &item.survey, json!({"action": "approve"}))?;
    }
    Ok(outcome)
}

fn supervisor_session<'s>(
    pilot: &Pilot,
    sessions: &'s HashMap<String, Session>,
    enumerator: &str,
) -> Result<&'s Session, DemoError> {
    pilot
        .teams
        .iter()
        .find(|t| t.enumerators.iter().any(|e| e == enumerator))
        .and_then(|t| sessions.get(&t.supervisor))
        .ok_or_else(|| DemoError::Check(format!("{enumerator} has no supervisor")))
}

fn act(desk: &Session, survey: &str, body: serde_json::Value) -> Result<(), DemoError> {
    desk.expect_ok("POST", &format!("/api/v1/surveys/{survey}/review"), Some(&body))?;
    Ok(())
}

fn correct(
    desk: &Session,
    survey: &str,
    path: &AnswerPath,
    value: Value,
    written: &mut Vec<Written>,
) -> Result<(), DemoError> {
    let body = json!({"path": path.to_string(), "value": value});
    desk.expect_ok("PUT", &format!("/api/v1/surveys/{survey}/answers"), Some(&body))?;
    written.push(Written { survey: survey.into(), path: path.clone(), value });
    Ok(())
}
