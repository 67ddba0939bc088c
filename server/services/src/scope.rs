//! Who may see and do what: one [`Scope`] per request, built once from the principal's
//! memberships, answers every access question. No other code looks at a role; a test
//! (`server/tests/architecture.rs`) fails if some does.
//!
//! - Enumerators see and change the surveys they started or are assigned, and only their
//!   answers and status (finalize, reopen), never the review.
//! - Supervisors see, review and correct the surveys of the members of their teams, each
//!   project on its own: a teammate in project A does not open their surveys of project B.
//! - Analysts see every survey of their projects and change none.
//! - Admins see and change everything, but nobody rewrites a survey's metadata or root
//!   after its creation.
//! - Changes are judged by the rights of the person whose device made them; a device may
//!   upload someone else's changes (a bundle relay) only if its user supervises that person.
//! - Entities belong to the project whose forms declare their list, and each is filed under
//!   a team (the team of the enumerator who created it) or under none (a seeded list):
//!   enumerators and supervisors see their own teams' entities and those under none,
//!   analysts and administrators all of their projects'. Whoever may start surveys in the
//!   project may create and update the entities they see; only reviewers delete them.
//! - The operator (the `terrain` command on the server's own machine) may administer.

use std::collections::{BTreeMap, BTreeSet};

use terrain_backend::{Backend, BackendResult, DeviceKey, Membership, Team, User, UserId};
use terrain_core::Role;
use terrain_core::store::{Area as VisibleArea, EntityArea, EntityPlace, EntityVisibility, SurveySummary, Visibility};
use terrain_core::survey::footprint::Area;

use crate::error::{Error, Result};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person with an account.
    User(User),
    /// Whoever runs the `terrain` command on the server's machine, with the data directory
    /// in hand: an administrator without an account.
    Operator,
}

/// What one principal may see and do.
#[derive(Debug, Clone)]
pub struct Scope {
    principal: Principal,
    device: Option<DeviceKey>,
    membership: Membership,
    /// The published forms of the principal's projects, with their project.
    forms: BTreeMap<String, i64>,
    /// Surveys assigned to the principal.
    assigned: Vec<String>,
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

impl Scope {
    /// The scope of `user`, on `device` when the token was issued to one.
    pub fn load(backend: &dyn Backend, user: User, device: Option<DeviceKey>) -> BackendResult<Scope> {
        let membership = backend.membership(user.id)?;
        let forms = backend
            .forms()?
            .into_iter()
            .filter(|f| user.role == Role::Admin || membership.projects.contains(&f.project_id))
            .map(|f| (f.form_id, f.project_id))
            .collect();
        let assigned = if user.role == Role::Enumerator { backend.assigned_to(user.id)? } else { Vec::new() };
        Ok(Scope { principal: Principal::User(user), device, membership, forms, assigned })
    }

    /// The operator's scope: an administrator's, over every published form.
    pub fn operator(backend: &dyn Backend) -> BackendResult<Scope> {
        Ok(Scope {
            principal: Principal::Operator,
            device: None,
            membership: Membership::default(),
            forms: backend.forms()?.into_iter().map(|f| (f.form_id, f.project_id)).collect(),
            assigned: Vec::new(),
        })
    }

    /// Who is asking.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The user, unless this is the operator.
    pub fn user(&self) -> Option<&User> {
        match &self.principal {
            Principal::User(u) => Some(u),
            Principal::Operator => None,
        }
    }

    /// The user's id, for the audit log (`None` for the operator).
    pub fn user_id(&self) -> Option<UserId> {
        self.user().map(|u| u.id)
    }

    /// A name for messages and logs.
    pub fn name(&self) -> &str {
        self.user().map_or("the operator", |u| u.username.as_str())
    }

    /// The device the token was issued to.
    pub fn device(&self) -> Option<DeviceKey> {
        self.device
    }

    fn role(&self) -> Role {
        match &self.principal {
            Principal::User(u) => u.role,
            Principal::Operator => Role::Admin,
        }
    }

    fn is_admin(&self) -> bool {
        self.role() == Role::Admin
    }

    // --- administration

    /// Users, projects, teams, publishing forms, the audit log: administrators only.
    pub fn may_administer(&self) -> Result<()> {
        if self.is_admin() { Ok(()) } else { Err(Error::forbidden("only administrators may do this")) }
    }

    /// Whether the principal supervises `owner` as a collector: an enumerator in one of the
    /// principal's teams. A supervisor's teammates who are supervisors, analysts or
    /// administrators are not theirs to act for.
    fn supervises_collector(&self, owner: &User) -> bool {
        self.role() == Role::Supervisor
            && owner.role == Role::Enumerator
            && self.membership.teammates.values().any(|members| members.contains(&owner.username))
    }

    /// Listing and revoking `owner`'s devices: administrators, the owner (their own lost
    /// phone), and a supervisor of the owner, an enumerator (who hears of it first in the
    /// field).
    pub fn may_manage_devices_of(&self, owner: &User) -> Result<()> {
        let own = self.user_id() == Some(owner.id);
        if self.is_admin() || own || self.supervises_collector(owner) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "only the owner, their supervisor or an administrator may see or revoke their devices",
            ))
        }
    }

    /// Making a code that enrols a device for `owner`: administrators, and a supervisor of
    /// the owner, an enumerator. Not the owner: a stolen phone's token must not mint itself
    /// a new device that outlives revoking the phone.
    pub fn may_enrol_devices_for(&self, owner: &User) -> Result<()> {
        if self.is_admin() || self.supervises_collector(owner) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "only an administrator, or the supervisor of an enumerator, may enrol a device: ask yours for a QR code",
            ))
        }
    }

    /// The web dashboard is for supervisors, analysts and administrators.
    pub fn may_use_dashboard(&self) -> Result<()> {
        if self.role() == Role::Enumerator {
            return Err(Error::forbidden(
                "the dashboard is for supervisors, analysts and administrators: enumerators use the phone app",
            ));
        }
        Ok(())
    }

    /// Whether the principal reviews surveys at all (the dashboard shows review actions).
    pub fn reviews(&self) -> bool {
        matches!(self.role(), Role::Supervisor | Role::Admin)
    }

    /// Reviewing, correcting and assigning need a supervisor or an administrator.
    pub fn may_review(&self, what: &str) -> Result<()> {
        if self.reviews() {
            Ok(())
        } else {
            Err(Error::forbidden(format!("only supervisors and administrators {what}")))
        }
    }

    /// Whether the principal belongs to `project` (administrators belong to all).
    pub fn in_project(&self, project: i64) -> bool {
        self.is_admin() || self.membership.projects.contains(&project)
    }

    /// Whether the principal is in `team` (administrators are in every team): the teams
    /// the API lists to them.
    pub fn in_team(&self, team: &Team) -> bool {
        self.is_admin() || self.membership.teams.contains(&team.id)
    }

    /// Whether the principal sees `team` in the dashboard's filters: analysts see every
    /// team of their projects, to narrow a list to one zone.
    pub fn sees_team(&self, team: &Team) -> bool {
        match self.role() {
            Role::Admin => true,
            Role::Analyst => self.membership.projects.contains(&team.project_id),
            Role::Supervisor | Role::Enumerator => self.membership.teams.contains(&team.id),
        }
    }

    /// Whether the principal may list a team's members.
    pub fn may_list_members(&self, team: i64) -> Result<()> {
        if self.is_admin() || self.membership.teams.contains(&team) {
            Ok(())
        } else {
            Err(Error::forbidden("you are not a member of this team"))
        }
    }

    /// The people whose surveys the principal sees, for the enumerator filter; `None`
    /// means anyone (the caller lists the enumerators).
    pub fn visible_people(&self) -> Option<BTreeSet<String>> {
        match self.role() {
            Role::Admin | Role::Analyst => None,
            Role::Supervisor => Some(self.membership.teammates.values().flatten().cloned().collect()),
            Role::Enumerator => Some(self.user().map(|u| u.username.clone()).into_iter().collect()),
        }
    }

    /// Whether the principal may start surveys of forms in `project`.
    pub fn may_start_surveys_in(&self, project: i64) -> bool {
        match self.role() {
            Role::Admin => true,
            Role::Enumerator | Role::Supervisor => self.membership.projects.contains(&project),
            Role::Analyst => false,
        }
    }

    /// Entering surveys of a form in the browser (paper questionnaires typed in at the
    /// office, a missed household added): whoever may start surveys in the form's project.
    /// A form of a project the principal is not in is answered as not published.
    pub fn may_enter_surveys_of(&self, form_id: &str) -> Result<()> {
        let project =
            self.form_project(form_id).ok_or_else(|| Error::not_found(format!("form `{form_id}` is not published")))?;
        if self.may_start_surveys_in(project) {
            Ok(())
        } else {
            Err(Error::forbidden("only supervisors and administrators of the form's project enter surveys"))
        }
    }

    /// Continuing a survey in the browser: only a draft, and only its author's own.
    pub fn may_continue_entry(&self, summary: &SurveySummary) -> Result<()> {
        let mine = self.user().is_some_and(|u| u.username == summary.created_by);
        if !mine {
            return Err(Error::forbidden("only the person who entered a survey continues it here"));
        }
        if summary.status != terrain_core::survey::Status::Draft {
            return Err(Error::Conflict("this survey is finalized: it is reviewed, not entered, from now on".into()));
        }
        Ok(())
    }

    /// Exports are for analysts, supervisors (their teams' surveys) and administrators.
    pub fn may_export(&self) -> Result<()> {
        if self.role() == Role::Enumerator {
            return Err(Error::forbidden("enumerators do not export data: ask an analyst or your supervisor"));
        }
        Ok(())
    }

    /// A project's OData feed is read by those who may export, in that project; to anyone
    /// else the project does not exist.
    pub fn may_read_feed(&self, project: i64) -> Result<()> {
        if !self.in_project(project) {
            return Err(Error::not_found(format!("project {project} does not exist")));
        }
        self.may_export()
    }

    /// Feed tokens are for those who may export: a spreadsheet refreshes what they could
    /// download by hand.
    pub fn may_hold_feed_tokens(&self) -> Result<()> {
        if self.user().is_none() {
            return Err(Error::invalid("feed tokens belong to a person: create one as that user"));
        }
        self.may_export()
    }

    /// Analysts get approved surveys unless they ask otherwise; everyone else gets all.
    pub fn exports_approved_by_default(&self) -> bool {
        self.role() == Role::Analyst
    }

    // --- surveys

    /// The project a form belongs to, if it is one of the principal's projects' forms.
    pub fn form_project(&self, form_id: &str) -> Option<i64> {
        self.forms.get(form_id).copied()
    }

    /// The form ids the principal may use (download, fill in, list, export).
    pub fn forms(&self) -> impl Iterator<Item = &str> {
        self.forms.keys().map(String::as_str)
    }

    /// Which surveys the principal sees, as the storage applies it to lists, counts, the
    /// map, progress, exports and the sync feed. It selects exactly the surveys
    /// [`Scope::can_read`] admits (`tests/scope_property.rs` checks it).
    pub fn visibility(&self) -> Visibility {
        let Some(user) = self.user() else { return Visibility::All };
        let forms_of = |project: i64| -> Vec<String> {
            self.forms.iter().filter(|(_, p)| **p == project).map(|(f, _)| f.clone()).collect()
        };
        match user.role {
            Role::Admin => Visibility::All,
            Role::Analyst => Visibility::Areas(vec![VisibleArea {
                forms: Some(self.forms.keys().cloned().collect()),
                ..VisibleArea::default()
            }]),
            Role::Supervisor => Visibility::Areas(
                self.membership
                    .teammates
                    .iter()
                    .map(|(project, people)| VisibleArea {
                        forms: Some(forms_of(*project)),
                        creators: Some(people.iter().cloned().collect()),
                        surveys: None,
                    })
                    .collect(),
            ),
            Role::Enumerator => {
                let mut areas =
                    vec![VisibleArea { creators: Some(vec![user.username.clone()]), ..VisibleArea::default() }];
                if !self.assigned.is_empty() {
                    areas.push(VisibleArea { surveys: Some(self.assigned.clone()), ..VisibleArea::default() });
                }
                Visibility::Areas(areas)
            }
        }
    }

    /// The facts of a listed survey, with its project from this scope's forms (a form of
    /// another project is unknown here, which reads as not readable).
    pub fn facts<'s>(&self, summary: &'s SurveySummary, assignees: &'s [String]) -> SurveyFacts<'s> {
        SurveyFacts { created_by: &summary.created_by, project: self.form_project(&summary.form_id), assignees }
    }

    /// Whether the principal may read the survey.
    pub fn can_read(&self, survey: &SurveyFacts<'_>) -> bool {
        let in_project = survey.project.is_some_and(|p| self.in_project(p));
        match &self.principal {
            Principal::Operator => true,
            Principal::User(user) => match user.role {
                Role::Admin => true,
                Role::Analyst => in_project,
                Role::Supervisor => in_project && self.supervises(survey.project, survey.created_by),
                Role::Enumerator => {
                    survey.created_by == user.username || survey.assignees.iter().any(|a| a == &user.username)
                }
            },
        }
    }

    /// Whether the principal supervises `username` in `project` (a supervisor is in their own team).
    pub fn supervises(&self, project: Option<i64>, username: &str) -> bool {
        match self.role() {
            Role::Admin => true,
            Role::Supervisor => project
                .and_then(|p| self.membership.teammates.get(&p))
                .is_some_and(|members| members.contains(username)),
            _ => false,
        }
    }

    /// Whether the principal may change an existing survey at all (what they may change in
    /// it is [`Scope::writable_areas`]).
    pub(crate) fn may_write(&self, survey: &SurveyFacts<'_>) -> bool {
        match self.user() {
            Some(user) if user.role == Role::Enumerator => {
                survey.created_by == user.username || survey.assignees.iter().any(|a| a == &user.username)
            }
            _ => self.can_read(survey),
        }
    }

    /// The areas of an existing survey this principal's own changes may touch.
    pub(crate) fn writable_areas(&self) -> &'static [Area] {
        match self.role() {
            Role::Enumerator => &[Area::Answers, Area::Status],
            Role::Supervisor | Role::Admin => &[Area::Answers, Area::Status, Area::Review],
            Role::Analyst => &[],
        }
    }
}

impl Scope {
    // --- entities

    /// Which entities the principal sees (their devices receive them), given the projects
    /// of the entity lists (`lists`: list → project). It selects exactly the entities
    /// [`Scope::can_read_entity`] admits.
    pub fn entity_visibility(&self, lists: &BTreeMap<String, i64>) -> EntityVisibility {
        if self.is_admin() {
            return EntityVisibility::All;
        }
        let areas = lists
            .iter()
            .filter(|(_, project)| self.in_project(**project))
            .map(|(list, project)| self.entity_area(list, *project))
            .collect();
        EntityVisibility::Lists(areas)
    }

    /// Whether the principal may read an entity of a list of `project` filed at `place`.
    pub fn can_read_entity(&self, project: i64, place: &EntityPlace) -> bool {
        self.is_admin() || (self.in_project(project) && self.entity_area("", project).admits(place))
    }

    /// What the principal sees of `list`, a list of `project` they belong to: their teams'
    /// entities and those under none, and of those, an enumerator sees only the ones
    /// assigned to nobody or to them (supervisors see their teams' whoever they are
    /// assigned to, to review them).
    fn entity_area(&self, list: &str, project: i64) -> EntityArea {
        let assignee = if self.role() == Role::Enumerator { self.user_id() } else { None };
        EntityArea { list: list.to_owned(), teams: self.entity_teams(project), assignee }
    }

    /// The teams whose entities of `project` the principal sees; `None`: all of them.
    fn entity_teams(&self, project: i64) -> Option<Vec<i64>> {
        match self.role() {
            Role::Admin | Role::Analyst => None,
            Role::Supervisor | Role::Enumerator => {
                Some(self.membership.team_projects.iter().filter(|(_, p)| **p == project).map(|(t, _)| *t).collect())
            }
        }
    }

    /// Whether the principal's own changes may create or update an entity of a list of
    /// `project` filed under `team`: whoever may start surveys there, on the entities they
    /// see.
    pub(crate) fn may_write_entity(&self, project: i64, place: &EntityPlace) -> bool {
        self.may_start_surveys_in(project) && self.can_read_entity(project, place)
    }

    /// Whether the principal may assign entities of `project` to an enumerator: reviewers
    /// of it, on the entities they see.
    pub(crate) fn may_assign_entity(&self, project: i64, place: &EntityPlace) -> bool {
        self.reviews() && self.can_read_entity(project, place)
    }

    /// Whether an entity of `project` filed at `place` may be assigned to the principal: an
    /// enumerator, not disabled, who would see it once assigned to them.
    pub(crate) fn may_be_assigned_entity(&self, project: i64, place: &EntityPlace) -> bool {
        self.role() == Role::Enumerator
            && self.user().is_some_and(|u| !u.disabled)
            && self.can_read_entity(project, &EntityPlace { team: place.team, assignee: self.user_id() })
    }

    /// Whether the principal may delete or restore entities of `project`: reviewers of it.
    pub(crate) fn may_delete_entity(&self, project: i64) -> bool {
        self.reviews() && self.in_project(project)
    }

    /// The team an entity the principal creates in a list of `project` is filed under:
    /// their team in the project (the first, if several), or none (an administrator's).
    pub(crate) fn team_for_new_entity(&self, project: i64) -> Option<i64> {
        self.membership.team_projects.iter().find(|(_, p)| **p == project).map(|(t, _)| *t)
    }
}

/// The user names of the people who collect surveys (enumerators), among `users`.
pub fn collectors(users: Vec<User>) -> Vec<String> {
    users.into_iter().filter(|u| u.role == Role::Enumerator).map(|u| u.username).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, role: Role) -> User {
        User { id: 1, username: name.into(), role, display_name: None, disabled: false, must_change_password: false }
    }

    fn scope(role: Role, membership: Membership) -> Scope {
        Scope {
            principal: Principal::User(user("sup", role)),
            device: None,
            membership,
            forms: BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 2)]),
            assigned: Vec::new(),
        }
    }

    #[test]
    fn a_supervisor_in_two_projects_sees_each_teammate_only_in_their_project() {
        let membership = Membership {
            projects: BTreeSet::from([1, 2]),
            teams: BTreeSet::from([10, 20]),
            teammates: std::collections::HashMap::from([
                (1, BTreeSet::from(["sup".to_owned(), "awa".to_owned()])),
                (2, BTreeSet::from(["sup".to_owned(), "binta".to_owned()])),
            ]),
            team_projects: BTreeMap::from([(10, 1), (20, 2)]),
        };
        let s = scope(Role::Supervisor, membership);
        let facts = |created_by, project| SurveyFacts { created_by, project: Some(project), assignees: &[] };
        assert!(s.can_read(&facts("awa", 1)));
        assert!(!s.can_read(&facts("awa", 2)), "awa is a teammate in project 1 only");
        assert!(s.can_read(&facts("binta", 2)));
        let Visibility::Areas(areas) = s.visibility() else { panic!("a supervisor sees areas") };
        assert_eq!(areas.len(), 2);
        assert!(areas.iter().all(|a| a.forms.as_ref().is_some_and(|f| f.len() == 1)));
    }

    #[test]
    fn the_operator_administers_and_sees_everything() {
        let op = Scope { principal: Principal::Operator, ..scope(Role::Enumerator, Membership::default()) };
        assert!(op.may_administer().is_ok());
        assert_eq!(op.visibility(), Visibility::All);
        assert_eq!(op.user_id(), None);
    }

    #[test]
    fn entity_visibility_admits_exactly_the_entities_each_role_may_read() {
        let membership = Membership {
            projects: BTreeSet::from([1]),
            teams: BTreeSet::from([10]),
            teammates: std::collections::HashMap::new(),
            team_projects: BTreeMap::from([(10, 1)]),
        };
        let lists = BTreeMap::from([("plots".to_owned(), 1), ("villages".to_owned(), 2)]);
        for role in [Role::Enumerator, Role::Supervisor, Role::Analyst, Role::Admin] {
            let s = scope(role, membership.clone());
            let visible = s.entity_visibility(&lists);
            for (list, project) in &lists {
                for team in [None, Some(10), Some(11)] {
                    for assignee in [None, Some(1), Some(2)] {
                        let place = EntityPlace { team, assignee };
                        assert_eq!(
                            visible.admits(list, &place),
                            s.can_read_entity(*project, &place),
                            "{role:?} {list} filed at {place:?}"
                        );
                    }
                }
            }
            let at = |team| EntityPlace { team, assignee: None };
            let own_team = s.can_read_entity(1, &at(Some(10))) && s.can_read_entity(1, &at(None));
            assert!(own_team, "{role:?} reads their team's entities and the shared ones");
            let other_team = s.can_read_entity(1, &at(Some(11)));
            assert_eq!(other_team, matches!(role, Role::Analyst | Role::Admin), "{role:?}");
            assert_eq!(s.can_read_entity(2, &at(None)), role == Role::Admin, "{role:?}: another project's list");
            // An entity of their team assigned to someone else: hidden from enumerators only.
            let theirs = EntityPlace { team: Some(10), assignee: Some(2) };
            assert_eq!(s.can_read_entity(1, &theirs), role != Role::Enumerator, "{role:?}");
            assert!(s.can_read_entity(1, &EntityPlace { team: Some(10), assignee: Some(1) }), "{role:?}: their own");
        }
        let at = |team| EntityPlace { team, assignee: None };
        let enumerator = scope(Role::Enumerator, membership.clone());
        assert_eq!(enumerator.team_for_new_entity(1), Some(10));
        assert!(enumerator.may_write_entity(1, &at(Some(10))) && !enumerator.may_write_entity(1, &at(Some(11))));
        assert!(!enumerator.may_write_entity(1, &EntityPlace { team: Some(10), assignee: Some(2) }));
        assert!(!enumerator.may_delete_entity(1) && !enumerator.may_assign_entity(1, &at(Some(10))));
        let supervisor = scope(Role::Supervisor, membership.clone());
        assert!(supervisor.may_delete_entity(1) && supervisor.may_assign_entity(1, &at(Some(10))));
        assert!(!supervisor.may_assign_entity(1, &at(Some(11))), "another team's");
        assert!(enumerator.may_be_assigned_entity(1, &at(Some(10))) && enumerator.may_be_assigned_entity(1, &at(None)));
        assert!(!enumerator.may_be_assigned_entity(1, &at(Some(11))), "not of the entity's team");
        assert!(!supervisor.may_be_assigned_entity(1, &at(Some(10))), "only enumerators are assigned");
        assert!(!scope(Role::Analyst, membership).may_write_entity(1, &at(None)), "analysts change nothing");
    }
}
