//! Entities for the apps: list, search and read the plots, households or villages that
//! finalized surveys created, start a follow-up survey on one, and settle, delete or
//! restore them.

use std::collections::HashMap;

use terrain_core::store::{EntityQuery, EntityRecord};

use crate::error::{TerrainError, guard};
use crate::store::TerrainStore;

/// An entity as lists and lookups show it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntityInfo {
    /// The entity list (`plots`).
    pub list: String,
    /// The entity's id (what a follow-up form's select stores).
    pub id: String,
    /// Its label; empty for an entity known only from updates made before it arrived.
    pub label: String,
    /// Its properties, as readers see them.
    pub properties: HashMap<String, String>,
    /// Whether some property has competing values, for a supervisor to settle.
    pub has_conflicts: bool,
    /// Whether it is deleted.
    pub deleted: bool,
}

/// A property (or the label) of an entity with competing values.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntityConflictInfo {
    /// The property, or `label`.
    pub property: String,
    /// The competing values; the first is the one readers see.
    pub values: Vec<EntityValueInfo>,
}

/// One of the values competing for an entity's property.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntityValueInfo {
    /// The value.
    pub value: String,
    /// The Automerge actor (hex) that wrote it.
    pub actor: String,
    /// Who that is, when the store knows.
    pub user: Option<String>,
}

/// A survey that created or updated an entity.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntitySourceInfo {
    /// The survey.
    pub survey_id: String,
    /// `create` or `update`.
    pub action: String,
}

fn info(e: EntityRecord) -> EntityInfo {
    EntityInfo {
        list: e.list,
        id: e.id,
        label: e.label,
        properties: e.properties.into_iter().collect(),
        has_conflicts: e.has_conflicts,
        deleted: e.deleted,
    }
}

#[uniffi::export]
impl TerrainStore {
    /// The entities of `list` in label order: those whose label contains `search` if given,
    /// deleted ones too if asked, `limit` of them (at most 1000) after `offset`.
    #[uniffi::method(default(search = None, include_deleted = false, limit = 100, offset = 0))]
    pub fn entities(
        &self,
        list: String,
        search: Option<String>,
        include_deleted: bool,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<EntityInfo>, TerrainError> {
        guard(|| {
            let query = EntityQuery {
                search,
                include_deleted,
                conflicted_only: false,
                limit,
                offset,
                ..EntityQuery::default()
            };
            Ok(self.store.entities(&list, &query)?.into_iter().map(info).collect())
        })
    }

    /// The entity `id` of `list`, or nothing if this device does not have it.
    pub fn entity(&self, list: String, id: String) -> Result<Option<EntityInfo>, TerrainError> {
        guard(|| Ok(self.store.entity(&list, &id)?.map(info)))
    }

    /// The properties of an entity with competing values.
    pub fn entity_conflicts(&self, list: String, id: String) -> Result<Vec<EntityConflictInfo>, TerrainError> {
        guard(|| {
            let conflicts = self.store.entity_conflicts(&list, &id)?;
            let mut out = Vec::with_capacity(conflicts.len());
            for conflict in conflicts {
                let mut values = Vec::with_capacity(conflict.values.len());
                for (value, actor) in conflict.values {
                    let user = self.store.actor_author(&actor)?.map(|a| a.user);
                    values.push(EntityValueInfo { value, actor, user });
                }
                out.push(EntityConflictInfo { property: conflict.property, values });
            }
            Ok(out)
        })
    }

    /// The surveys that created or updated an entity.
    pub fn entity_sources(&self, list: String, id: String) -> Result<Vec<EntitySourceInfo>, TerrainError> {
        guard(|| {
            let sources = self.store.entity_sources(&list, &id)?;
            Ok(sources.into_iter().map(|(survey_id, action)| EntitySourceInfo { survey_id, action }).collect())
        })
    }

    /// Starts a survey of a follow-up form on the entity `entity_id`, with the question that
    /// names the entity answered; returns the survey's id.
    pub fn start_follow_up(&self, form_id: String, version: String, entity_id: String) -> Result<String, TerrainError> {
        guard(|| Ok(self.store.start_follow_up(&form_id, &version, &entity_id)?))
    }

    /// Sets an entity's property (or its `label`), settling any conflict on it.
    pub fn settle_entity(
        &self,
        list: String,
        id: String,
        property: String,
        value: String,
    ) -> Result<EntityInfo, TerrainError> {
        guard(|| Ok(info(self.store.settle_entity(&list, &id, &property, &value)?)))
    }

    /// Deletes an entity (`deleted` true) or restores it; a deleted entity is offered by no
    /// follow-up form.
    pub fn set_entity_deleted(&self, list: String, id: String, deleted: bool) -> Result<EntityInfo, TerrainError> {
        guard(|| Ok(info(self.store.set_entity_deleted(&list, &id, deleted)?)))
    }
}
