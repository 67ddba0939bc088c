//! Who may see and change what. The server decides every time; nothing the device says
//! about itself is trusted beyond the token it authenticated with.
//!
//! - Enumerators see and change the surveys they started or are assigned, and only their
//!   answers and status (finalize, reopen), never the review.
//! - Supervisors see, review and correct the surveys of the members of their teams.
//! - Analysts see every survey of their projects and change none.
//! - Admins see and change everything, but nobody rewrites a survey's metadata or root
//!   after its creation.
//! - Changes are judged by the rights of the person whose device made them; a device may
//!   upload someone else's changes (a bundle relay) only if its user supervises that person.

use std::collections::HashMap;

use terrain_core::Role;
use terrain_core::store::MergeCandidate;
use terrain_core::survey::Refusal;
use terrain_core::survey::footprint::Area;

use crate::backend::{Backend, BackendResult, DeviceKey, Membership, User};

/// A user with what they are attached to.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub user: User,
    /// Their projects and teams.
    pub membership: Membership,
}

/// What the rules need to know about a survey.
#[derive(Debug, Clone)]
pub struct SurveyFacts<'a> {
    /// Who started it.
    pub created_by: &'a str,
    /// The project of its form (`None` if the form is not published).
    pub project: Option<i64>,
    /// Who it is assigned to.
    pub assignees: &'a [String],
}

impl Principal {
    /// Loads a user's memberships.
    pub fn load(backend: &dyn Backend, user: User) -> BackendResult<Principal> {
        let membership = backend.membership(user.id)?;
        Ok(Principal { user, membership })
    }

    /// Whether the user may read the survey.
    pub fn can_read(&self, survey: &SurveyFacts<'_>) -> bool {
        let in_project = survey.project.is_some_and(|p| self.membership.projects.contains(&p));
        match self.user.role {
            Role::Admin => true,
            Role::Analyst => in_project,
            Role::Supervisor => in_project && self.supervises(survey.project, survey.created_by),
            Role::Enumerator => {
                survey.created_by == self.user.username || survey.assignees.iter().any(|a| a == &self.user.username)
            }
        }
    }

    /// Whether the user supervises `username` in `project` (a supervisor is in their own team).
    pub fn supervises(&self, project: Option<i64>, username: &str) -> bool {
        match self.user.role {
            Role::Admin => true,
            Role::Supervisor => project
                .and_then(|p| self.membership.teammates.get(&p))
                .is_some_and(|members| members.contains(username)),
            _ => false,
        }
    }

    /// The areas of an existing survey this user's own changes may touch.
    fn writable_areas(&self) -> &'static [Area] {
        match self.user.role {
            Role::Enumerator => &[Area::Answers, Area::Status],
            Role::Supervisor | Role::Admin => &[Area::Answers, Area::Status, Area::Review],
            Role::Analyst => &[],
        }
    }

    /// Whether the user may start surveys of a form in `project`.
    fn can_create_in(&self, project: Option<i64>) -> bool {
        match self.user.role {
            Role::Admin => true,
            Role::Enumerator | Role::Supervisor => project.is_some_and(|p| self.membership.projects.contains(&p)),
            Role::Analyst => false,
        }
    }
}

/// Judges pushed changes, caching what it learns about devices and forms across surveys.
pub struct PushJudge<'a> {
    backend: &'a dyn Backend,
    uploader: &'a Principal,
    owners: HashMap<DeviceKey, Option<Principal>>,
    projects: HashMap<String, Option<i64>>,
}

impl<'a> PushJudge<'a> {
    /// A judge of what `uploader` pushes.
    pub fn new(backend: &'a dyn Backend, uploader: &'a Principal) -> Self {
        PushJudge { backend, uploader, owners: HashMap::new(), projects: HashMap::new() }
    }

    /// Accepts the candidate's new changes, or refuses them all.
    pub fn judge(&mut self, candidate: &MergeCandidate<'_>) -> Result<(), Refusal> {
        let meta = candidate.meta;
        let project = self.project_of(&meta.form_id)?;
        let Some(project) = project else {
            return Err(Refusal {
                status: 422,
                code: "unknown_form".into(),
                message: format!("form `{}` is not published on this server", meta.form_id),
            });
        };
        let assignees = self.backend.assignees(candidate.survey_id).map_err(internal)?;
        let facts = SurveyFacts { created_by: &meta.created_by, project: Some(project), assignees: &assignees };
        for footprint in candidate.footprints {
            let key = terrain_core::identity::device_key_of(&footprint.actor).ok_or_else(|| {
                Refusal::forbidden("unknown_actor", "a change carries an actor id that is not a device's")
            })?;
            let owner = self.owner(&key)?.cloned().ok_or_else(|| {
                Refusal::forbidden(
                    "unknown_actor",
                    "a change was made on a device that never logged in to this server: log in on it first",
                )
            })?;
            if owner.user.username != self.uploader.user.username
                && !self.uploader.supervises(Some(project), &owner.user.username)
            {
                return Err(Refusal::forbidden(
                    "relay_forbidden",
                    format!(
                        "{} may not upload changes made by {}: only their supervisor may relay them",
                        self.uploader.user.username, owner.user.username
                    ),
                ));
            }
            if owner.user.disabled {
                return Err(Refusal::forbidden("disabled", format!("{} is disabled", owner.user.username)));
            }
            let creating = footprint.creation && !candidate.existed;
            if creating {
                if meta.created_by != owner.user.username || !owner.can_create_in(Some(project)) {
                    return Err(Refusal::forbidden(
                        "forbidden",
                        format!("{} may not start surveys of form `{}`", owner.user.username, meta.form_id),
                    ));
                }
                // The creating change lays out the whole document, review included: an
                // enumerator's must leave the review empty.
                let reviewed = candidate.review.status.is_some() || !candidate.review.comments.is_empty();
                if reviewed && !owner.writable_areas().contains(&Area::Review) {
                    return Err(Refusal::forbidden(
                        "forbidden",
                        format!("{} may not set a review on the surveys they start", owner.user.username),
                    ));
                }
                continue;
            }
            let may_write = match owner.user.role {
                Role::Enumerator => {
                    meta.created_by == owner.user.username || assignees.iter().any(|a| a == &owner.user.username)
                }
                _ => owner.can_read(&facts),
            };
            if !may_write {
                return Err(Refusal::forbidden(
                    "forbidden",
                    format!("{} may not change survey {}", owner.user.username, candidate.survey_id),
                ));
            }
            if let Some(area) = footprint.exceeds(owner.writable_areas()) {
                return Err(Refusal::forbidden(
                    "forbidden",
                    format!("{} ({}) may not change {area:?} of a survey", owner.user.username, owner.user.role),
                ));
            }
        }
        Ok(())
    }

    fn owner(&mut self, key: &DeviceKey) -> Result<Option<&Principal>, Refusal> {
        if !self.owners.contains_key(key) {
            let principal = match self.backend.device_owner(key).map_err(internal)? {
                Some(user) => Some(Principal::load(self.backend, user).map_err(internal)?),
                None => None,
            };
            self.owners.insert(*key, principal);
        }
        Ok(self.owners.get(key).and_then(Option::as_ref))
    }

    fn project_of(&mut self, form_id: &str) -> Result<Option<i64>, Refusal> {
        if let Some(p) = self.projects.get(form_id) {
            return Ok(*p);
        }
        let p = self.backend.form_project(form_id).map_err(internal)?;
        self.projects.insert(form_id.to_owned(), p);
        Ok(p)
    }
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "storage failed while judging a push");
    Refusal { status: 500, code: "internal".into(), message: "the server failed; try again".into() }
}
