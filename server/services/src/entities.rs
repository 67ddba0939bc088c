//! Entity lists on the server: the lists a principal may read, their entities within the
//! principal's scope, one entity with its sources and conflicts; seeding or updating a list
//! from CSV, filing entities under a team, assigning one to a single enumerator, settling a
//! conflict, deleting and restoring.
//! Devices receive every change in their next sync.
//!
//! A list belongs to the project whose forms declare it (`Services::entity_list_projects`),
//! and is unknown to anyone outside that project.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::ops::ControlFlow;

use serde::Serialize;
use serde_json::json;
use terrain_core::Value;
use terrain_core::store::{EntityPlace, EntityQuery, EntityRecord, EntityVisibility, MAX_ENTITY_PAGE};
pub use terrain_export::entities::EntityFormat;
use terrain_export::entities::{EntityRow, position, write_entities};
use utoipa::ToSchema;

use crate::audit::Action;
use crate::error::{Error, Result};
use crate::exports::export_error;
use crate::scope::Scope;
use crate::{Services, User};

/// The most entities filed under a team in one call.
pub const MAX_FILED: usize = 10_000;

/// The most entities one map draws.
pub const MAX_ON_MAP: usize = 5_000;

/// An entity list a principal may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntityList {
    /// Its name (`plots`): follow-up forms read it as `plots.csv`.
    pub list: String,
    /// Its project.
    pub project_id: i64,
}

/// An entity as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Entity {
    /// Its id in the list (ODK's `name`), stable across exports.
    pub id: String,
    /// Its label.
    pub label: String,
    /// Its properties, as readers see them (a property with competing values shows one).
    pub properties: BTreeMap<String, String>,
    /// Whether some property has competing values to settle.
    pub has_conflicts: bool,
    /// Whether it is deleted.
    pub deleted: bool,
}

/// One entity with what made it and what is left to settle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntityDetail {
    /// The entity.
    #[serde(flatten)]
    pub entity: Entity,
    /// The team it is filed under (its devices receive it), or none (every device of the
    /// project does).
    pub team: Option<i64>,
    /// The enumerator it is assigned to (the only one of them who sees it), if any.
    pub assignee: Option<String>,
    /// The surveys (and imports, `import:…`) that created or updated it, with what each did.
    pub sources: BTreeMap<String, String>,
    /// Properties with competing values, each value with the actor that wrote it; the
    /// first is the one readers see.
    pub conflicts: Vec<EntityConflict>,
}

/// A property with competing values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntityConflict {
    /// The property, or `label`.
    pub property: String,
    /// The competing values, with the actor (hex) that wrote each.
    pub values: Vec<CompetingValue>,
}

/// One of a property's competing values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CompetingValue {
    /// The value.
    pub value: String,
    /// The Automerge actor (hex) that wrote it.
    pub actor: String,
}

/// An entity with a position, as the map draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedEntity {
    /// Its id in the list.
    pub id: String,
    /// Its label.
    pub label: String,
    /// Whether some property has competing values to settle.
    pub has_conflicts: bool,
    /// Where it is: a point, a trace or an outline (`terrain_export::entities::position`).
    pub position: Value,
}

/// A row an import refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RefusedRow {
    /// Its line in the file (the header is line 1).
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntityImport {
    /// Entities created.
    pub created: u64,
    /// Entities changed.
    pub updated: u64,
    /// Rows that changed nothing.
    pub unchanged: u64,
    /// Rows refused, each by its line.
    pub refused: Vec<RefusedRow>,
}

impl From<EntityRecord> for Entity {
    fn from(r: EntityRecord) -> Self {
        Entity {
            id: r.id,
            label: r.label,
            properties: r.properties,
            has_conflicts: r.has_conflicts,
            deleted: r.deleted,
        }
    }
}

impl Services {
    /// The entity lists of the principal's projects.
    pub fn entity_list_index(&self, scope: &Scope) -> Result<Vec<EntityList>> {
        Ok(self
            .entity_list_projects()?
            .into_iter()
            .filter(|(_, project)| scope.in_project(*project))
            .map(|(list, project_id)| EntityList { list, project_id })
            .collect())
    }

    /// The entities of `list` that `query` asks for and the principal sees, in label order.
    pub fn entities(&self, scope: &Scope, list: &str, query: EntityQuery) -> Result<Vec<Entity>> {
        let project = self.list_project(scope, list)?;
        let (teams, assignee) = match scope.entity_visibility(&BTreeMap::from([(list.to_owned(), project)])) {
            EntityVisibility::All => (None, None),
            EntityVisibility::Lists(areas) => areas.into_iter().next().map_or((None, None), |a| (a.teams, a.assignee)),
        };
        let query = EntityQuery { teams, assignee, ..query };
        Ok(self.backend.entities(list, &query)?.into_iter().map(Entity::from).collect())
    }

    /// One entity with its sources and conflicts.
    pub fn entity(&self, scope: &Scope, list: &str, id: &str) -> Result<EntityDetail> {
        let (_, place) = self.readable_entity(scope, list, id)?;
        let record = self.backend.entity(list, id)?.ok_or_else(|| unknown(list, id))?;
        let assignee = match place.assignee {
            Some(user) => self.backend.user(user)?.map(|u| u.username),
            None => None,
        };
        Ok(EntityDetail {
            entity: record.into(),
            team: place.team,
            assignee,
            sources: self.backend.entity_sources(list, id)?,
            conflicts: self
                .backend
                .entity_conflicts(list, id)?
                .into_iter()
                .map(|c| EntityConflict {
                    property: c.property,
                    values: c.values.into_iter().map(|(value, actor)| CompetingValue { value, actor }).collect(),
                })
                .collect(),
        })
    }

    /// The entities of `list` the principal sees, deleted ones left out, as a file: CSV,
    /// XLSX or GeoJSON (`format`), each under its stable id. For those who may export;
    /// audited as an export.
    pub fn export_entities(&self, scope: &Scope, list: &str, format: &str) -> Result<(EntityFormat, Vec<u8>)> {
        scope.may_export()?;
        let format = EntityFormat::parse(format).map_err(export_error)?;
        let mut rows = Vec::new();
        self.each_entity(scope, list, |e| {
            rows.push(EntityRow { id: e.id, label: e.label, has_conflicts: e.has_conflicts, properties: e.properties });
            ControlFlow::Continue(())
        })?;
        let mut out = Cursor::new(Vec::new());
        let written = write_entities(&rows, format, &mut out).map_err(export_error)?;
        self.audit(
            scope,
            Action::Export,
            None,
            json!({ "list": list, "format": format.extension(), "entities": written }),
        )?;
        Ok((format, out.into_inner()))
    }

    /// The entities of `list` the principal sees that have a position (deleted ones left
    /// out), for the map: at most [`MAX_ON_MAP`], and whether there were more.
    pub fn entities_for_map(&self, scope: &Scope, list: &str) -> Result<(Vec<PlacedEntity>, bool)> {
        let mut placed = Vec::new();
        let mut more = false;
        self.each_entity(scope, list, |e| {
            let Some(position) = position(&e.properties) else { return ControlFlow::Continue(()) };
            if placed.len() == MAX_ON_MAP {
                more = true;
                return ControlFlow::Break(());
            }
            placed.push(PlacedEntity { id: e.id, label: e.label, has_conflicts: e.has_conflicts, position });
            ControlFlow::Continue(())
        })?;
        Ok((placed, more))
    }

    /// Calls `f` on each entity of `list` the principal sees, deleted ones left out, in
    /// label order, page by page, until it breaks.
    fn each_entity(&self, scope: &Scope, list: &str, mut f: impl FnMut(Entity) -> ControlFlow<()>) -> Result<()> {
        let mut after = None;
        loop {
            let query = EntityQuery { limit: MAX_ENTITY_PAGE, after, ..EntityQuery::default() };
            let page = self.entities(scope, list, query)?;
            let last = (page.len() as u32) < MAX_ENTITY_PAGE;
            after = page.last().map(|e| (e.label.clone(), e.id.clone()));
            for entity in page {
                if f(entity).is_break() {
                    return Ok(());
                }
            }
            if last {
                return Ok(());
            }
        }
    }

    /// Seeds or updates `list` from a CSV file (`name`, `label`, one column per property),
    /// idempotently: administrators only. Rows with a bad value are reported by line and
    /// the rest imports.
    pub fn import_entities(&self, scope: &Scope, list: &str, csv: &[u8]) -> Result<EntityImport> {
        scope.may_administer()?;
        self.list_project(scope, list)?;
        let report = self.backend.import_entities(list, csv)?;
        self.audit(
            scope,
            Action::EntityImport,
            None,
            json!({
                "list": list, "bytes": csv.len(), "created": report.created, "updated": report.updated,
                "refused": report.refused.len(),
            }),
        )?;
        Ok(EntityImport {
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            refused: report.refused.into_iter().map(|(line, reason)| RefusedRow { line, reason }).collect(),
        })
    }

    /// Files entities of `list` under `team` (a team of the list's project), or under none:
    /// which devices receive them. Administrators only.
    pub fn file_entities(&self, scope: &Scope, list: &str, ids: &[String], team: Option<i64>) -> Result<()> {
        scope.may_administer()?;
        let project = self.list_project(scope, list)?;
        if ids.len() > MAX_FILED {
            return Err(Error::TooLarge(format!("{} entities; file at most {MAX_FILED} at once", ids.len())));
        }
        if let Some(team) = team
            && !self.backend.teams()?.iter().any(|t| t.id == team && t.project_id == project)
        {
            return Err(Error::unprocessable(
                "unknown_team",
                format!("team {team} is not a team of project {project}"),
            ));
        }
        self.backend.file_entities(list, ids, team)?;
        self.audit(scope, Action::EntityFile, None, json!({ "list": list, "entities": ids.len(), "team": team }))
    }

    /// Assigns an entity to one enumerator (`None`: to nobody): among the enumerators who
    /// see it, only they do, and their devices receive it at their next sync. Reviewers who
    /// see the entity; the enumerator must be one who would see it unassigned (of its
    /// team, or of the project when it is filed under none).
    pub fn assign_entity(&self, scope: &Scope, list: &str, id: &str, username: Option<&str>) -> Result<EntityDetail> {
        let (project, place) = self.readable_entity(scope, list, id)?;
        if !scope.may_assign_entity(project, &place) {
            return Err(Error::forbidden("only supervisors and administrators assign entities"));
        }
        let assignee = match username {
            None => None,
            Some(name) => {
                let not_theirs = || {
                    Error::unprocessable(
                        "unknown_assignee",
                        format!(
                            "`{name}` is not an enumerator who sees this entity: assign it to one of its team \
                             (or file it under their team first)"
                        ),
                    )
                };
                let (user, _) = self.backend.user_by_name(name)?.ok_or_else(not_theirs)?;
                if !self.may_be_assigned(&user, project, &place)? {
                    return Err(not_theirs());
                }
                Some(user.id)
            }
        };
        self.backend.assign_entities(list, &[id.to_owned()], assignee)?;
        self.audit(scope, Action::EntityAssign, None, json!({ "list": list, "entity": id, "assignee": username }))?;
        self.entity(scope, list, id)
    }

    /// The enumerators (user names) an entity may be assigned to, if the principal may
    /// assign it: those who would see it. Empty for anyone else.
    pub fn entity_assignees(&self, scope: &Scope, list: &str, id: &str) -> Result<Vec<String>> {
        let (project, place) = self.readable_entity(scope, list, id)?;
        if !scope.may_assign_entity(project, &place) {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        for user in self.backend.users()? {
            if self.may_be_assigned(&user, project, &place)? {
                names.push(user.username);
            }
        }
        Ok(names)
    }

    /// Whether `user` is an enumerator who would see an entity of `project` at `place` were
    /// it assigned to them: the rule is `Scope`'s, applied to their scope.
    fn may_be_assigned(&self, user: &User, project: i64, place: &EntityPlace) -> Result<bool> {
        Ok(Scope::load(self.backend.as_ref(), user.clone(), None)?.may_be_assigned_entity(project, place))
    }

    /// Sets a property (or `label`) of an entity, settling any conflict on it: reviewers of
    /// the list's project who see the entity.
    pub fn settle_entity(&self, scope: &Scope, list: &str, id: &str, property: &str, value: &str) -> Result<Entity> {
        scope.may_review("settle entities")?;
        self.readable_entity(scope, list, id)?;
        let record = self.backend.settle_entity(list, id, property, value)?;
        self.audit(scope, Action::EntitySettle, None, json!({ "list": list, "entity": id, "property": property }))?;
        Ok(record.into())
    }

    /// Deletes (or restores) an entity: it leaves lists and choices, keeping its history.
    /// Reviewers of the list's project who see the entity.
    pub fn set_entity_deleted(&self, scope: &Scope, list: &str, id: &str, deleted: bool) -> Result<Entity> {
        let (project, _) = self.readable_entity(scope, list, id)?;
        if !scope.may_delete_entity(project) {
            return Err(Error::forbidden("only supervisors and administrators delete or restore entities"));
        }
        let record = self.backend.set_entity_deleted(list, id, deleted)?;
        let action = if deleted { Action::EntityDelete } else { Action::EntityRestore };
        self.audit(scope, action, None, json!({ "list": list, "entity": id }))?;
        Ok(record.into())
    }

    /// The project of `list`, if the principal is in it; otherwise the list does not exist.
    fn list_project(&self, scope: &Scope, list: &str) -> Result<i64> {
        self.entity_list_projects()?
            .get(list)
            .copied()
            .filter(|project| scope.in_project(*project))
            .ok_or_else(|| Error::not_found(format!("no entity list `{list}`")))
    }

    /// The project and place of an entity the principal sees; any other does not exist.
    pub(crate) fn readable_entity(&self, scope: &Scope, list: &str, id: &str) -> Result<(i64, EntityPlace)> {
        let project = self.list_project(scope, list)?;
        match self.backend.entity_heads(list, id)? {
            Some((_, place)) if scope.can_read_entity(project, &place) => Ok((project, place)),
            _ => Err(unknown(list, id)),
        }
    }
}

fn unknown(list: &str, id: &str) -> Error {
    Error::not_found(format!("no entity `{id}` in list `{list}`"))
}
