//! The checks the demo makes at the end instead of assuming: every replica of every survey
//! has the same heads as the server, every device holds what it should, and every value
//! written and acknowledged is still there (as the final value or in the server's history).

use std::collections::BTreeMap;

use serde::Serialize;
use terrain_core::survey::Answer;
use terrain_core::{ChangeHash, SurveyQuery};

use super::DemoError;
use super::field::{Device, Written};
use super::pilot::Pilot;

/// What the checks found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    /// Surveys on the server.
    pub surveys: usize,
    /// Copies of surveys compared: the server's and every device's.
    pub replicas: usize,
    /// Whether every copy has the server's heads and every device holds what it should.
    pub converged: bool,
    /// What diverged, if anything (at most a few lines).
    pub divergences: Vec<String>,
    /// Values written and acknowledged that are neither final nor in the history.
    pub lost_answers: usize,
    /// Values checked.
    pub values_checked: usize,
    /// Conflicts still open on the server.
    pub open_conflicts: usize,
    /// Changes not yet acknowledged on the devices (0 after the final sync).
    pub unacknowledged: usize,
}

/// Checks convergence and that nothing acknowledged was lost.
pub fn check(
    pilot: &Pilot,
    enumerators: &[Device],
    supervisors: &[Device],
    written: &[Written],
) -> Result<Verdict, DemoError> {
    let backend = pilot.backend();
    let mut verdict = Verdict::default();
    let mut server: BTreeMap<String, (String, Vec<ChangeHash>)> = BTreeMap::new();
    for entry in backend.feed(0, u32::MAX, &Default::default())? {
        let id = entry.summary.survey_id;
        let heads = backend.heads(&id)?.unwrap_or_default();
        if entry.summary.has_conflicts {
            verdict.open_conflicts += 1;
        }
        server.insert(id, (entry.summary.created_by, heads));
    }
    verdict.surveys = server.len();
    verdict.replicas = server.len();
    let mut diverge = |line: String| {
        if verdict.divergences.len() < 10 {
            verdict.divergences.push(line);
        }
    };
    for (team, tablet) in pilot.teams.iter().zip(supervisors) {
        for (device, expected) in enumerators
            .iter()
            .filter(|d| team.enumerators.contains(&d.user))
            .map(|d| (d, vec![d.user.clone()]))
            .chain(std::iter::once((tablet, team.enumerators.clone())))
        {
            verdict.unacknowledged += device.store.pending_count()? as usize;
            let held = device.store.list(&SurveyQuery { limit: Some(u32::MAX), ..Default::default() })?;
            for summary in &held {
                verdict.replicas += 1;
                match server.get(&summary.survey_id) {
                    Some((_, heads)) if *heads == device.store.heads(&summary.survey_id)? => {}
                    Some(_) => diverge(format!("{} differs from the server on {}", device.user, summary.survey_id)),
                    None => diverge(format!("{} holds {} which the server lacks", device.user, summary.survey_id)),
                }
            }
            for (id, (creator, _)) in &server {
                if expected.contains(creator) && !held.iter().any(|s| &s.survey_id == id) {
                    diverge(format!("{} lacks {id} by {creator}", device.user));
                }
            }
        }
    }
    let divergences = verdict.divergences.len();
    // Final values come from a replica with the server's heads (the same document), which
    // is much faster than the server's history; only a value that is not final is looked
    // up in the server's history.
    let holders: Vec<&Device> = enumerators.iter().chain(supervisors).collect();
    let mut surveys = BTreeMap::new();
    for w in written {
        verdict.values_checked += 1;
        if !surveys.contains_key(&w.survey) {
            let holder =
                holders.iter().find(|d| d.store.heads(&w.survey).ok() == server.get(&w.survey).map(|(_, h)| h.clone()));
            let answers = match holder {
                Some(d) => Some(d.store.survey(&w.survey)?.answers),
                None => None,
            };
            surveys.insert(w.survey.clone(), answers);
        }
        let last = surveys.get(&w.survey).and_then(Option::as_ref).and_then(|a| final_value(a, &w.path));
        if last == Some(&w.value) {
            continue;
        }
        let history = backend.history(&w.survey, &w.path).unwrap_or_default();
        if !history.iter().any(|e| e.value == Some(Answer::Value(w.value.clone()))) {
            verdict.lost_answers += 1;
        }
    }
    verdict.converged = divergences == 0 && verdict.unacknowledged == 0;
    Ok(verdict)
}

fn final_value<'a>(
    answers: &'a terrain_core::survey::Answers,
    path: &terrain_core::AnswerPath,
) -> Option<&'a terrain_core::Value> {
    let mut level = answers;
    for (repeat, i) in &path.instances {
        level = level.repeat(repeat).get(*i)?;
    }
    level.value(&path.name)
}
