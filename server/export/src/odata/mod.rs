//! The OData v4 view of a project's datasets, read-only, for Excel, Power BI and OData
//! client libraries.
//!
//! A project's service has one entity set per published form version (`{form}_v{version}`)
//! and one per repeat of it (`{set}__{repeat}`), as ODK Central lays out a form's
//! submissions: a repeat row carries its own stable key (`__id`, the survey id followed by
//! the repeat path, `uuid/member/2/child/1`), its parent row's key (`__parent_id`) and the
//! survey's (`__submission_id`). Columns are typed (`Edm.Int64`, `Edm.Decimal`,
//! `Edm.Date`, `Edm.DateTimeOffset`, `Edm.GeographyPoint`…); a select_multiple is its codes
//! separated by spaces, as Central and the CSV export write it.
//!
//! - [`csdl`]: the `$metadata` document.
//! - [`filter`]: the `$filter` expressions a feed accepts (submission time, start, review).
//! - [`page`]: query options, and one page of a set read from the change feed, resumable
//!   by `$skiptoken`.

pub mod csdl;
pub mod filter;
pub mod page;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};
use terrain_core::GeoPoint;
use terrain_core::Value;
use terrain_core::form::{Form, QuestionType};
use terrain_core::survey::{Answer, Answers};

use crate::rows::time;
use crate::table::{ColumnKind, Layout, Meta, QuestionDef};
use crate::{ExportError, Record};

/// The types a feed's properties have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edm {
    /// Text (and anything without a closer type).
    String,
    /// A whole number.
    Int64,
    /// A decimal number.
    Decimal,
    /// A date.
    Date,
    /// A time of day.
    TimeOfDay,
    /// A point in time with its offset.
    DateTimeOffset,
    /// A GPS point, as GeoJSON.
    GeographyPoint,
    /// A GPS trace, as GeoJSON.
    GeographyLineString,
    /// A GPS shape, as GeoJSON.
    GeographyPolygon,
}

impl Edm {
    /// The CSDL name.
    pub fn name(self) -> &'static str {
        match self {
            Edm::String => "Edm.String",
            Edm::Int64 => "Edm.Int64",
            Edm::Decimal => "Edm.Decimal",
            Edm::Date => "Edm.Date",
            Edm::TimeOfDay => "Edm.TimeOfDay",
            Edm::DateTimeOffset => "Edm.DateTimeOffset",
            Edm::GeographyPoint => "Edm.GeographyPoint",
            Edm::GeographyLineString => "Edm.GeographyLineString",
            Edm::GeographyPolygon => "Edm.GeographyPolygon",
        }
    }

    fn of(kind: &QuestionType) -> Edm {
        match kind {
            QuestionType::Integer => Edm::Int64,
            QuestionType::Decimal | QuestionType::Range => Edm::Decimal,
            QuestionType::Date | QuestionType::Today => Edm::Date,
            QuestionType::Time => Edm::TimeOfDay,
            QuestionType::DateTime | QuestionType::Start | QuestionType::End => Edm::DateTimeOffset,
            QuestionType::GeoPoint => Edm::GeographyPoint,
            QuestionType::GeoTrace => Edm::GeographyLineString,
            QuestionType::GeoShape => Edm::GeographyPolygon,
            _ => Edm::String,
        }
    }
}

/// Where a property's value comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The row's key.
    Id,
    /// The parent row's key (repeat sets).
    ParentId,
    /// The survey's id (repeat sets).
    SubmissionId,
    /// A question's answer.
    Answer(Arc<QuestionDef>),
    /// Survey metadata (main sets).
    Meta(Meta),
    /// The id of the survey's entity of this list (main sets).
    Entity(String),
}

/// One property of an entity type.
#[derive(Debug, Clone)]
pub struct Property {
    /// Its name: the question's, made a valid OData identifier.
    pub name: String,
    /// Its type.
    pub edm: Edm,
    /// Where its value comes from.
    pub source: Source,
}

/// One entity set: a form version's surveys, or the instances of one of its repeats.
#[derive(Debug, Clone)]
pub struct EntitySet {
    /// Its name, also its entity type's.
    pub name: String,
    /// The form.
    pub form_id: String,
    /// The form version.
    pub version: String,
    /// The table of the version's layout whose rows it holds.
    table: usize,
    /// The layout of the version.
    layout: Arc<Layout>,
    /// Its properties, the key first.
    pub properties: Vec<Property>,
}

/// A project's feed: its entity sets.
#[derive(Debug, Clone)]
pub struct Service {
    /// Every set, each version's main set followed by its repeats'.
    pub sets: Vec<EntitySet>,
}

impl Service {
    /// The service over `forms` (form versions, in the order their sets are listed).
    pub fn new(forms: &[Arc<Form>]) -> Result<Service, ExportError> {
        let mut taken = HashSet::new();
        let mut sets = Vec::new();
        for form in forms {
            let layout = Arc::new(Layout::new(std::slice::from_ref(form), None)?);
            let main = unique(&mut taken, identifier(&format!("{}_v{}", form.id, form.version)));
            for (index, table) in layout.tables.iter().enumerate() {
                let name = match &table.repeat {
                    None => main.clone(),
                    Some(repeat) => unique(&mut taken, identifier(&format!("{main}__{repeat}"))),
                };
                sets.push(EntitySet {
                    name,
                    form_id: form.id.clone(),
                    version: form.version.clone(),
                    table: index,
                    properties: properties(&layout, index),
                    layout: layout.clone(),
                });
            }
        }
        Ok(Service { sets })
    }

    /// The set named `name`.
    pub fn set(&self, name: &str) -> Option<&EntitySet> {
        self.sets.iter().find(|s| s.name == name)
    }
}

impl EntitySet {
    /// Whether its rows are a repeat's instances.
    pub fn is_repeat(&self) -> bool {
        self.layout.tables[self.table].parent.is_some()
    }

    /// The property named `name`.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// The set's rows in `record`, in document order, each with every property (unanswered
    /// ones `null`).
    pub fn rows(&self, record: &Record) -> Vec<Map<String, Json>> {
        let mut rows = Vec::new();
        // The chain of repeats from the main table down to this set's table.
        let mut chain = Vec::new();
        let mut at = Some(self.table);
        while let Some(t) = at {
            chain.push(t);
            at = self.layout.tables[t].parent;
        }
        chain.reverse();
        let id = record.survey.meta.survey_id.clone();
        self.collect(record, &record.survey.answers, &chain[1..], &id, "", &mut rows);
        rows
    }

    fn collect(
        &self,
        record: &Record,
        answers: &Answers,
        chain: &[usize],
        id: &str,
        parent: &str,
        rows: &mut Vec<Map<String, Json>>,
    ) {
        let Some((&next, rest)) = chain.split_first() else {
            rows.push(self.entity(record, answers, id, parent));
            return;
        };
        let Some(repeat) = self.layout.tables[next].repeat.as_deref() else { return };
        for (i, instance) in answers.repeat(repeat).iter().enumerate() {
            let child = format!("{id}/{repeat}/{}", i + 1);
            self.collect(record, instance, rest, &child, id, rows);
        }
    }

    fn entity(&self, record: &Record, answers: &Answers, id: &str, parent: &str) -> Map<String, Json> {
        self.properties
            .iter()
            .map(|p| {
                let value = match &p.source {
                    Source::Id => json!(id),
                    Source::ParentId => json!(parent),
                    Source::SubmissionId => json!(record.survey.meta.survey_id),
                    Source::Answer(def) => answer_json(p.edm, answers.get(&def.question.name)),
                    Source::Meta(meta) => meta_json(*meta, record),
                    Source::Entity(list) => {
                        record.entities.iter().find(|e| e.list == *list).map_or(Json::Null, |e| json!(e.id))
                    }
                };
                (p.name.clone(), value)
            })
            .collect()
    }
}

fn properties(layout: &Layout, table: usize) -> Vec<Property> {
    let t = &layout.tables[table];
    let mut taken: HashSet<String> = ["__id", "__parent_id", "__submission_id"].map(str::to_owned).into();
    let mut props = vec![Property { name: "__id".into(), edm: Edm::String, source: Source::Id }];
    if t.parent.is_some() {
        props.push(Property { name: "__parent_id".into(), edm: Edm::String, source: Source::ParentId });
        props.push(Property { name: "__submission_id".into(), edm: Edm::String, source: Source::SubmissionId });
    }
    for column in &t.columns {
        let (name, edm, source) = match &column.kind {
            ColumnKind::Answer(def) => {
                (identifier(&column.name), Edm::of(&def.question.kind), Source::Answer(def.clone()))
            }
            ColumnKind::Meta(meta) => {
                let edm = match meta {
                    Meta::Start | Meta::SubmissionTime => Edm::DateTimeOffset,
                    _ => Edm::String,
                };
                match meta {
                    // The key properties above stand for these.
                    Meta::Uuid | Meta::Index | Meta::ParentIndex | Meta::ParentTable | Meta::SubmissionUuid => {
                        continue;
                    }
                    _ => (meta.name().to_owned(), edm, Source::Meta(*meta)),
                }
            }
            ColumnKind::Entity(list) => (column.name.clone(), Edm::String, Source::Entity(list.clone())),
            // A select_multiple is one property, a geopoint one GeographyPoint.
            ColumnKind::Choice(..) | ColumnKind::Geo(..) => continue,
        };
        let name = unique(&mut taken, name);
        props.push(Property { name, edm, source });
    }
    props
}

fn answer_json(edm: Edm, answer: Option<&Answer>) -> Json {
    let Some(Answer::Value(value)) = answer else {
        return match answer {
            // Text a document held that its question's type does not read: kept where a
            // string can carry it, rather than lost.
            Some(Answer::Unreadable(text)) if edm == Edm::String => json!(text),
            _ => Json::Null,
        };
    };
    match (edm, value) {
        (Edm::Int64, Value::Integer(i)) => json!(i),
        (Edm::Decimal, Value::Decimal(d)) => json!(d),
        (Edm::Decimal, Value::Integer(i)) => json!(i),
        (Edm::Date, Value::Date(d)) => json!(d.format("%Y-%m-%d").to_string()),
        (Edm::TimeOfDay, Value::Time(t)) => json!(t.format("%H:%M:%S%.3f").to_string()),
        (Edm::DateTimeOffset, Value::DateTime(t)) => {
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false))
        }
        (Edm::GeographyPoint, Value::GeoPoint(p)) => json!({ "type": "Point", "coordinates": position(p) }),
        (Edm::GeographyLineString, Value::GeoTrace(ps)) => {
            json!({ "type": "LineString", "coordinates": ps.iter().map(position).collect::<Vec<_>>() })
        }
        (Edm::GeographyPolygon, Value::GeoShape(ps)) => {
            json!({ "type": "Polygon", "coordinates": [ps.iter().map(position).collect::<Vec<_>>()] })
        }
        (Edm::String, value) => json!(value.to_odk_string()),
        // A value of another type than the version's question (never written by Terrain's
        // own clients): no typed reading of it exists.
        _ => Json::Null,
    }
}

fn position(p: &GeoPoint) -> Json {
    json!([p.lon, p.lat, p.altitude])
}

fn meta_json(meta: Meta, record: &Record) -> Json {
    let survey = &record.survey;
    match meta {
        Meta::FormVersion => json!(survey.meta.form_version),
        Meta::SubmittedBy => json!(survey.meta.created_by),
        Meta::Device => json!(survey.meta.created_on),
        Meta::Status => json!(survey.meta.status.as_str()),
        Meta::ReviewStatus => json!(record.summary.review_status.as_str()),
        Meta::Start => json!(time(survey.meta.created_at)),
        Meta::SubmissionTime => json!(time(record.summary.updated_at)),
        Meta::Uuid | Meta::SubmissionUuid => json!(survey.meta.survey_id),
        Meta::Index | Meta::ParentIndex | Meta::ParentTable => Json::Null,
    }
}

/// `name` as an OData identifier: letters, digits and `_`, not starting with a digit.
fn identifier(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// `name`, or `name_2`, `name_3`… if taken: two names that differ only in characters an
/// identifier cannot hold stay two.
fn unique(taken: &mut HashSet<String>, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn identifiers_are_valid_and_unique() {
        assert_eq!(identifier("guinea-needs.2026"), "guinea_needs_2026");
        assert_eq!(identifier("2026"), "_2026");
        let mut taken = HashSet::new();
        assert_eq!(unique(&mut taken, "a_b".into()), "a_b");
        assert_eq!(unique(&mut taken, identifier("a-b")), "a_b_2");
    }
}
