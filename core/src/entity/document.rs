//! One entity (a plot, a household, a village) as an Automerge document.
//!
//! Layout:
//! ```text
//! ROOT
//! ├── meta        Map { layout, list, id }                       (genesis)
//! ├── properties  Map { property → text }                        (genesis)
//! ├── sources     Map { survey id → "create" | "update" }        (genesis)
//! ├── label       text
//! └── deleted     bool (absent: not deleted)
//! ```
//!
//! The *genesis* change, which makes the meta and the two maps, is the same bytes on every
//! replica: its actor is derived from the list and the id, and its time is zero. A device
//! that updates an entity it has not received yet, and the device that created it, thus
//! start from the same change, and their edits merge when they meet: with containers made
//! independently, one replica's `properties` map would hide the other's. Everything after
//! the genesis is written under the actor of whoever applies a survey, with the entity's
//! heads as that replica saw them, so two updates conflict exactly when neither device had
//! seen the other's.

use std::collections::BTreeMap;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value as AmValue};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::form::EntityAction;
use crate::intake::{self, Budget, Cost};
use crate::survey::{DocumentError, actor_of, merged_copy};

/// The version of the entity layout written by this code.
pub const LAYOUT_VERSION: i64 = 1;

/// An entity: an Automerge document in Terrain's entity layout.
#[derive(Debug, Clone)]
pub struct EntityDoc {
    doc: AutoCommit,
    properties: ObjId,
    sources: ObjId,
}

/// What merging another replica's changes did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// How many of the changes were new here.
    pub new_changes: usize,
    /// The actors of the new changes (the genesis's left out): whose rights judge them.
    pub authors: Vec<ActorId>,
    /// Whether they deleted or restored the entity.
    pub deleted_changed: bool,
    /// What decoding the bytes cost.
    pub cost: Cost,
}

/// A property (or the label) with competing values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityConflict {
    /// The property, or `label`.
    pub property: String,
    /// The competing values, each with the actor (hex) that wrote it; the first is the
    /// value readers see.
    pub values: Vec<(String, String)>,
}

impl EntityDoc {
    /// The entity `id` of `list` as it starts on every replica: the genesis change only.
    pub fn genesis(list: &str, id: &str) -> Result<EntityDoc, DocumentError> {
        let mut doc = AutoCommit::new().with_actor(genesis_actor(list, id));
        // Op by op in a fixed order: the genesis must be the same bytes everywhere.
        let meta = doc.put_object(ROOT, "meta", ObjType::Map)?;
        doc.put(&meta, "layout", LAYOUT_VERSION)?;
        doc.put(&meta, "list", list)?;
        doc.put(&meta, "id", id)?;
        doc.put_object(ROOT, "properties", ObjType::Map)?;
        doc.put_object(ROOT, "sources", ObjType::Map)?;
        doc.commit_with(CommitOptions::default().with_time(0));
        EntityDoc::from_automerge(doc)
    }

    /// The genesis of the entity `id` of `list` as one change chunk: what the lean form of
    /// its changes leaves out (`intake::lean`).
    pub fn genesis_chunk(list: &str, id: &str) -> Result<Vec<u8>, DocumentError> {
        Ok(EntityDoc::genesis(list, id)?.changes_after(&[]))
    }

    /// Loads an entity from its saved bytes, read back from disk: checked by the front door
    /// against [`Budget::LOAD`] and parsed with any panic contained, its layout verified.
    pub fn load(bytes: &[u8]) -> Result<EntityDoc, DocumentError> {
        let (doc, _) = intake::document(bytes, &Budget::LOAD)?;
        EntityDoc::from_automerge(doc)
    }

    fn from_automerge(doc: AutoCommit) -> Result<EntityDoc, DocumentError> {
        let map = |key: &str| match doc.get_all(ROOT, key)?.as_slice() {
            [(AmValue::Object(ObjType::Map), id)] => Ok(id.clone()),
            _ => Err(DocumentError::Malformed(format!("the entity has no single `{key}` map"))),
        };
        let meta = map("meta")?;
        let (properties, sources) = (map("properties")?, map("sources")?);
        let entity = EntityDoc { doc, properties, sources };
        match entity.scalar(&meta, "layout") {
            Some(ScalarValue::Int(LAYOUT_VERSION)) => Ok(entity),
            Some(ScalarValue::Int(newer)) if newer > LAYOUT_VERSION => Err(DocumentError::NewerLayout(newer)),
            _ => Err(DocumentError::Malformed("the entity's meta.layout is missing or unknown".into())),
        }
    }

    /// Applies what `source` (a survey, or an import) does to this entity, as one change
    /// under `actor`, and records `source` among the entity's sources: always for a survey
    /// (`always_record` true: the survey touched it, even restating its values), only when a
    /// value changed otherwise. Returns whether anything changed (the same source applied
    /// again with the same values writes nothing).
    pub fn apply(
        &mut self,
        action: &EntityAction,
        source: &str,
        always_record: bool,
        actor: ActorId,
        now: DateTime<Utc>,
    ) -> Result<bool, DocumentError> {
        let (label, properties, kind) = match action {
            EntityAction::Create { label, properties, .. } => (Some(label), properties, "create"),
            EntityAction::Update { label, properties, .. } => (label.as_ref(), properties, "update"),
        };
        self.doc.set_actor(actor);
        let before = self.doc.get_heads();
        let mut changed = false;
        if let Some(label) = label {
            changed |= self.put_text(ROOT, "label", label)?;
        }
        let map = self.properties.clone();
        for (property, value) in properties {
            changed |= self.put_text(map.clone(), property, value)?;
        }
        if (changed || always_record) && self.scalar(&self.sources, source).is_none() {
            let sources = self.sources.clone();
            self.doc.put(sources, source, kind)?;
        }
        self.doc.commit_with(CommitOptions::default().with_time(now.timestamp()));
        Ok(self.doc.get_heads() != before)
    }

    /// Sets `property` (or the label, as `label`) to `value` under `actor`, settling any
    /// conflict on it: a supervisor's decision.
    pub fn settle(
        &mut self,
        property: &str,
        value: &str,
        actor: ActorId,
        now: DateTime<Utc>,
    ) -> Result<(), DocumentError> {
        self.doc.set_actor(actor);
        // Written even when the winner already has this value: the new op supersedes every
        // competing one, which is what settles the conflict.
        if property == "label" {
            self.doc.put(ROOT, "label", value)?;
        } else {
            let map = self.properties.clone();
            self.doc.put(map, property, value)?;
        }
        self.doc.commit_with(CommitOptions::default().with_time(now.timestamp()));
        Ok(())
    }

    /// Marks the entity deleted (or restored) under `actor`.
    pub fn set_deleted(&mut self, deleted: bool, actor: ActorId, now: DateTime<Utc>) -> Result<(), DocumentError> {
        self.doc.set_actor(actor);
        self.doc.put(ROOT, "deleted", deleted)?;
        self.doc.commit_with(CommitOptions::default().with_time(now.timestamp()));
        Ok(())
    }

    /// The entity's label (`""` until a survey gives it one).
    pub fn label(&self) -> String {
        text(self.scalar(&ROOT, "label"))
    }

    /// The entity's properties, as readers see them.
    pub fn properties(&self) -> BTreeMap<String, String> {
        self.doc
            .map_range(&self.properties, ..)
            .map(|item| (item.key.to_string(), text(scalar_of(&item.value))))
            .collect()
    }

    /// The surveys that created or updated the entity, with what each did.
    pub fn sources(&self) -> BTreeMap<String, String> {
        self.doc.map_range(&self.sources, ..).map(|item| (item.key.to_string(), text(scalar_of(&item.value)))).collect()
    }

    /// Whether the entity is deleted.
    pub fn deleted(&self) -> bool {
        matches!(self.scalar(&ROOT, "deleted"), Some(ScalarValue::Boolean(true)))
    }

    /// The properties (and the label) with competing values, in name order. Values written
    /// concurrently but equal do not compete.
    pub fn conflicts(&self) -> Result<Vec<EntityConflict>, DocumentError> {
        let mut out = Vec::new();
        if let Some(conflict) = self.conflict(&ROOT, "label")? {
            out.push(conflict);
        }
        let names: Vec<String> = self.doc.map_range(&self.properties, ..).map(|item| item.key.to_string()).collect();
        for name in names {
            if let Some(conflict) = self.conflict(&self.properties, &name)? {
                out.push(conflict);
            }
        }
        Ok(out)
    }

    fn conflict(&self, map: &ObjId, key: &str) -> Result<Option<EntityConflict>, DocumentError> {
        let all = self.doc.get_all(map, key)?;
        if all.len() < 2 {
            return Ok(None);
        }
        // `get_all` lists the winner last, as `get` picks it.
        let values: Vec<(String, String)> =
            all.iter().rev().map(|(value, id)| (text(value.as_scalar().cloned()), actor_of(id))).collect();
        // Two visits that found the same crop wrote the same value: nothing to settle.
        if let Some((first, _)) = values.first()
            && values.iter().all(|(value, _)| value == first)
        {
            return Ok(None);
        }
        Ok(Some(EntityConflict { property: key.to_owned(), values }))
    }

    /// Merges changes from another replica of this entity (change chunks or a saved
    /// document), checked by the front door against `budget`. All or nothing, as for a
    /// survey (`SurveyDoc::merge_bytes`): the changes are applied to a copy, which replaces
    /// this entity only if their dependencies are all present, the result saves and loads
    /// back, it is still this entity in Terrain's layout, and nothing but the genesis is
    /// written under the genesis actor (which every replica derives, so it proves nobody's
    /// authorship).
    pub fn merge_bytes(&mut self, bytes: &[u8], budget: &Budget) -> Result<Merged, DocumentError> {
        let (list, id) = self.identity()?;
        let (mut candidate, before, cost) = merged_copy(&self.doc, bytes, budget)?;
        let genesis = genesis_actor(&list, &id);
        let genesis_heads = EntityDoc::genesis(&list, &id)?.doc.get_heads();
        let mut authors = Vec::new();
        let new = candidate.get_changes_meta(&before);
        let new_changes = new.len();
        for change in &new {
            let actor: &ActorId = &change.actor;
            if *actor == genesis {
                if !genesis_heads.contains(&change.hash) {
                    return Err(DocumentError::Malformed(
                        "a change other than the genesis is written under the entity's own actor".into(),
                    ));
                }
            } else if !authors.contains(actor) {
                authors.push(actor.clone());
            }
        }
        drop(new);
        let merged = EntityDoc::from_automerge(candidate)?;
        if merged.identity()? != (list, id) {
            return Err(DocumentError::Malformed("the changes belong to another entity".into()));
        }
        let deleted_changed = merged.deleted() != self.deleted();
        let actor = self.doc.get_actor().clone();
        *self = merged;
        self.doc.set_actor(actor);
        Ok(Merged { new_changes, authors, deleted_changed, cost })
    }

    /// What a replica at `heads` lacks of this entity, as change chunks (all of them for an
    /// empty `heads`).
    pub fn changes_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Whether this entity holds every change in `heads`.
    pub fn holds(&mut self, heads: &[ChangeHash]) -> bool {
        heads.iter().all(|h| self.doc.get_change_by_hash(h).is_some())
    }

    /// The list and id the genesis wrote: each must be one value.
    fn identity(&self) -> Result<(String, String), DocumentError> {
        let meta = match self.doc.get_all(ROOT, "meta")?.as_slice() {
            [(AmValue::Object(ObjType::Map), id)] => id.clone(),
            _ => return Err(DocumentError::Malformed("the entity has no single `meta` map".into())),
        };
        let one = |key: &str| match self.doc.get_all(&meta, key)?.as_slice() {
            [(AmValue::Scalar(s), _)] => match s.as_ref() {
                ScalarValue::Str(text) => Ok(text.to_string()),
                _ => Err(DocumentError::Malformed(format!("the entity's meta.{key} is not text"))),
            },
            _ => Err(DocumentError::Malformed(format!("the entity has no single meta.{key}"))),
        };
        Ok((one("list")?, one("id")?))
    }

    /// The current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The whole document, compressed.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The underlying Automerge document, read-only.
    pub fn automerge(&self) -> &AutoCommit {
        &self.doc
    }

    /// Writes `value` unless it is already the one value there; returns whether it wrote.
    fn put_text(&mut self, map: impl AsRef<ObjId>, key: &str, value: &str) -> Result<bool, DocumentError> {
        // An unchanged value writes no op, so a survey finalized again changes nothing it
        // did not change; a conflicted one is written, which settles it.
        let map = map.as_ref();
        let current = self.doc.get_all(map, key)?;
        let same = matches!(current.as_slice(), [(AmValue::Scalar(s), _)] if matches!(s.as_ref(), ScalarValue::Str(t) if t.as_str() == value));
        if !same {
            self.doc.put(map, key, value)?;
        }
        Ok(!same)
    }

    fn scalar(&self, map: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.doc.get(map, key) {
            Ok(Some((AmValue::Scalar(s), _))) => Some(s.into_owned()),
            _ => None,
        }
    }
}

fn scalar_of(value: &automerge::ValueRef<'_>) -> Option<ScalarValue> {
    match value {
        automerge::ValueRef::Scalar(s) => Some(ScalarValue::from(s.clone())),
        _ => None,
    }
}

fn text(value: Option<ScalarValue>) -> String {
    match value {
        Some(ScalarValue::Str(s)) => s.to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The actor of an entity's genesis change: derived from its list and id, so every replica
/// writes the same genesis.
fn genesis_actor(list: &str, id: &str) -> ActorId {
    let digest = Sha256::new()
        .chain_update(b"terrain entity genesis\0")
        .chain_update(list)
        .chain_update(b"\0")
        .chain_update(id)
        .finalize();
    ActorId::from(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::EntityAction;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn actor(n: u8) -> ActorId {
        ActorId::from(&[n; 16][..])
    }

    fn update(properties: &[(&str, &str)]) -> EntityAction {
        EntityAction::Update {
            list: "plots".into(),
            id: "p1".into(),
            label: None,
            properties: properties.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            create_if_missing: false,
        }
    }

    fn registered() -> EntityDoc {
        let mut plot = EntityDoc::genesis("plots", "p1").unwrap();
        let create = EntityAction::Create {
            list: "plots".into(),
            id: "p1".into(),
            label: "BGD-0412".into(),
            properties: vec![("village".into(), "Béguédo".into()), ("bunds".into(), "40".into())],
        };
        assert!(plot.apply(&create, "registration", true, actor(1), now()).unwrap());
        plot
    }

    /// `to` with every change of `from` it lacks.
    fn merge(to: &mut EntityDoc, from: &mut EntityDoc) {
        let changes = from.doc.get_changes(&[]);
        to.doc.apply_changes(changes).unwrap();
    }

    #[test]
    fn every_replica_writes_the_same_genesis() {
        let (mut a, mut b) = (EntityDoc::genesis("plots", "p1").unwrap(), EntityDoc::genesis("plots", "p1").unwrap());
        assert_eq!(a.heads(), b.heads());
        assert_ne!(a.heads(), EntityDoc::genesis("plots", "p2").unwrap().heads());
        assert_ne!(a.heads(), EntityDoc::genesis("villages", "p1").unwrap().heads());
    }

    #[test]
    fn a_registration_gives_the_label_properties_and_source_and_survives_saving() {
        let mut plot = registered();
        let mut back = EntityDoc::load(&plot.save()).unwrap();
        assert_eq!(back.label(), "BGD-0412");
        assert_eq!(back.properties()["village"], "Béguédo");
        assert_eq!(back.sources()["registration"], "create");
        assert!(!back.deleted());
        assert_eq!(back.heads(), plot.heads());
        // The same survey applied again writes nothing.
        let create = EntityAction::Create {
            list: "plots".into(),
            id: "p1".into(),
            label: "BGD-0412".into(),
            properties: vec![("village".into(), "Béguédo".into())],
        };
        assert!(!back.apply(&create, "registration", true, actor(1), now()).unwrap());
    }

    #[test]
    fn an_update_made_before_the_entity_arrived_merges_with_it() {
        // A second device updates plot p1 from a follow-up survey before it has the entity:
        // it starts from the genesis, which is the creator's.
        let mut early = EntityDoc::genesis("plots", "p1").unwrap();
        early.apply(&update(&[("yield_kg", "350")]), "monitoring", true, actor(2), now()).unwrap();
        let mut plot = registered();
        merge(&mut plot, &mut early);
        assert_eq!(plot.label(), "BGD-0412");
        assert_eq!(plot.properties()["yield_kg"], "350");
        assert_eq!(plot.properties()["bunds"], "40");
        assert!(plot.conflicts().unwrap().is_empty());
    }

    #[test]
    fn concurrent_updates_of_different_properties_merge_and_of_one_property_conflict() {
        let base = registered();
        let (mut a, mut b) = (base.clone(), base.clone());
        a.apply(&update(&[("bunds", "55"), ("yield_kg", "300")]), "visit-a", true, actor(2), now()).unwrap();
        b.apply(&update(&[("bunds", "60"), ("erosion", "severe")]), "visit-b", true, actor(3), now()).unwrap();
        merge(&mut a, &mut b);
        let properties = a.properties();
        assert_eq!((properties["yield_kg"].as_str(), properties["erosion"].as_str()), ("300", "severe"));
        let conflicts = a.conflicts().unwrap();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!(conflicts[0].property, "bunds");
        let mut values: Vec<&str> = conflicts[0].values.iter().map(|(v, _)| v.as_str()).collect();
        values.sort();
        assert_eq!(values, ["55", "60"]);
        assert_eq!(conflicts[0].values[0].0, properties["bunds"], "the first value is the one readers see");
        // The supervisor settles it.
        a.settle("bunds", "60", actor(4), now()).unwrap();
        assert!(a.conflicts().unwrap().is_empty());
        assert_eq!(a.properties()["bunds"], "60");
        assert_eq!(a.sources().len(), 3);
    }

    #[test]
    fn an_update_after_seeing_another_supersedes_it_without_conflict() {
        let mut a = registered();
        a.apply(&update(&[("bunds", "55")]), "season-1", true, actor(2), now()).unwrap();
        let mut b = a.clone();
        b.apply(&update(&[("bunds", "70")]), "season-2", true, actor(3), now()).unwrap();
        merge(&mut a, &mut b);
        assert_eq!(a.properties()["bunds"], "70");
        assert!(a.conflicts().unwrap().is_empty());
    }

    #[test]
    fn deleting_and_restoring_is_recorded() {
        let mut plot = registered();
        plot.set_deleted(true, actor(4), now()).unwrap();
        assert!(EntityDoc::load(&plot.save()).unwrap().deleted());
        plot.set_deleted(false, actor(4), now()).unwrap();
        assert!(!plot.deleted());
    }

    #[test]
    fn bytes_that_are_not_an_entity_are_refused() {
        let mut survey_like = AutoCommit::new();
        survey_like.put_object(ROOT, "meta", ObjType::Map).unwrap();
        assert!(EntityDoc::load(&survey_like.save()).is_err());
        assert!(EntityDoc::load(b"not automerge").is_err());
    }

    #[test]
    fn equal_values_written_concurrently_do_not_compete() {
        let base = registered();
        let (mut a, mut b) = (base.clone(), base.clone());
        a.apply(&update(&[("crop", "sorghum")]), "visit-a", true, actor(2), now()).unwrap();
        b.apply(&update(&[("crop", "sorghum")]), "visit-b", true, actor(3), now()).unwrap();
        merge(&mut a, &mut b);
        assert!(a.conflicts().unwrap().is_empty());
    }

    #[test]
    fn merging_another_replicas_changes_names_their_authors_and_is_all_or_nothing() {
        let mut phone = registered();
        let mut relay = EntityDoc::genesis("plots", "p1").unwrap();
        let merged = relay.merge_bytes(&phone.changes_after(&[]), &Budget::WRITE).unwrap();
        assert_eq!(merged.authors, vec![actor(1)], "the genesis names nobody");
        assert_eq!((merged.new_changes, merged.deleted_changed), (1, false), "the genesis was there already");
        assert_eq!(relay.heads(), phone.heads());
        assert!(relay.holds(&phone.heads()));

        // Known changes again: nothing new.
        let again = relay.merge_bytes(&phone.changes_after(&[]), &Budget::WRITE).unwrap();
        assert_eq!((again.new_changes, again.authors.len()), (0, 0));

        // A deletion says so.
        let before = phone.heads();
        phone.set_deleted(true, actor(4), now()).unwrap();
        let merged = relay.merge_bytes(&phone.changes_after(&before), &Budget::WRITE).unwrap();
        assert!(merged.deleted_changed && relay.deleted());

        // Changes that build on something this replica lacks change nothing.
        let mut ahead = phone.clone();
        let known = ahead.heads();
        ahead.apply(&update(&[("bunds", "1")]), "v", true, actor(5), now()).unwrap();
        let mut fresh = EntityDoc::genesis("plots", "p1").unwrap();
        let lacking = fresh.merge_bytes(&ahead.changes_after(&known), &Budget::WRITE);
        assert!(matches!(lacking, Err(DocumentError::MissingDependencies(_))), "{lacking:?}");
        assert_eq!(fresh.heads(), EntityDoc::genesis("plots", "p1").unwrap().heads());
    }

    #[test]
    fn another_entitys_changes_and_forged_genesis_changes_are_refused() {
        let mut p2 = EntityDoc::genesis("plots", "p2").unwrap();
        let mut p1 = registered();
        let heads = p2.heads();
        // p1's changes (its own genesis included) are not p2's.
        assert!(p2.merge_bytes(&p1.changes_after(&[]), &Budget::WRITE).is_err());
        assert_eq!(p2.heads(), heads, "nothing kept");

        // A change written under the genesis actor, claiming nobody's authorship.
        let mut forged = EntityDoc::genesis("plots", "p1").unwrap();
        let genesis = forged.heads();
        forged.apply(&update(&[("bunds", "99")]), "forged", true, genesis_actor("plots", "p1"), now()).unwrap();
        let mut relay = EntityDoc::genesis("plots", "p1").unwrap();
        let refused = relay.merge_bytes(&forged.changes_after(&genesis), &Budget::WRITE);
        assert!(matches!(refused, Err(DocumentError::Malformed(_))), "{refused:?}");
        assert_eq!(relay.heads(), genesis);
    }
}
