//! The tables of an export and their columns, from every published version of a form.
//!
//! The main table has a row per survey; each repeat has its own table with a row per
//! instance, linked to its parent row by ODK and Kobo's keys (`_index`, `_parent_index`,
//! `_parent_table_name`, `_submission__uuid`). Questions are columns in form order, newest
//! version first; a question only an older version has comes after, so several versions
//! merge into one table whose cells stay empty where a version lacks the question.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use terrain_core::form::{Choice, Form, Node, Question, QuestionType};

use super::ExportError;

/// A question as the export sees it: its newest definition, and the choices of every
/// version (newest first, then codes only older versions offered).
#[derive(Debug)]
pub struct QuestionDef {
    /// The newest definition.
    pub question: Question,
    /// Its choices across versions.
    pub choices: Vec<Choice>,
}

/// A geopoint's parts, each its own column as Kobo writes them (`_q_latitude`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoPart {
    /// Latitude.
    Latitude,
    /// Longitude.
    Longitude,
    /// Altitude.
    Altitude,
    /// Accuracy.
    Precision,
}

/// Metadata columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// The survey id (main table).
    Uuid,
    /// The row's number in its table, 1-based.
    Index,
    /// The parent row's `_index` (repeat tables).
    ParentIndex,
    /// The parent row's table (repeat tables).
    ParentTable,
    /// The survey id of the row (repeat tables).
    SubmissionUuid,
    /// The form version the survey answers.
    FormVersion,
    /// Who started it.
    SubmittedBy,
    /// The device it was started on.
    Device,
    /// Draft or finalized.
    Status,
    /// The review status (`received` when none is set).
    ReviewStatus,
    /// When it was started (device clock).
    Start,
    /// When the server last received a change to it.
    SubmissionTime,
}

impl Meta {
    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            Meta::Uuid => "_uuid",
            Meta::Index => "_index",
            Meta::ParentIndex => "_parent_index",
            Meta::ParentTable => "_parent_table_name",
            Meta::SubmissionUuid => "_submission__uuid",
            Meta::FormVersion => "_version",
            Meta::SubmittedBy => "_submitted_by",
            Meta::Device => "_device",
            Meta::Status => "_status",
            Meta::ReviewStatus => "_review_status",
            Meta::Start => "_start",
            Meta::SubmissionTime => "_submission_time",
        }
    }

    /// What the column holds, for the data dictionary.
    pub fn description(self) -> &'static str {
        match self {
            Meta::Uuid => "survey id",
            Meta::Index => "row number in this table (1-based); repeat rows point to it with _parent_index",
            Meta::ParentIndex => "the _index of the parent row in _parent_table_name",
            Meta::ParentTable => "the table of the parent row",
            Meta::SubmissionUuid => "the survey id (the _uuid of the main table)",
            Meta::FormVersion => "form version the survey answers",
            Meta::SubmittedBy => "user who started the survey",
            Meta::Device => "device the survey was started on",
            Meta::Status => "draft or finalized",
            Meta::ReviewStatus => "received, has_issues, sent_back, approved or rejected",
            Meta::Start => "when the survey was started (device clock, UTC)",
            Meta::SubmissionTime => "when the server last received a change to the survey (UTC)",
        }
    }
}

const MAIN_META: [Meta; 9] = [
    Meta::Uuid,
    Meta::Index,
    Meta::FormVersion,
    Meta::SubmittedBy,
    Meta::Device,
    Meta::Status,
    Meta::ReviewStatus,
    Meta::Start,
    Meta::SubmissionTime,
];
const REPEAT_META: [Meta; 4] = [Meta::Index, Meta::ParentTable, Meta::ParentIndex, Meta::SubmissionUuid];

/// What a column holds.
#[derive(Debug, Clone)]
pub enum ColumnKind {
    /// A question's answer.
    Answer(Arc<QuestionDef>),
    /// 1 if a select_multiple's answer includes the choice (by index in `choices`), 0 if
    /// not, empty if unanswered.
    Choice(Arc<QuestionDef>, usize),
    /// One part of a geopoint.
    Geo(Arc<QuestionDef>, GeoPart),
    /// Metadata.
    Meta(Meta),
    /// The id of the entity of this list (`plots`) that the survey created or updated: the
    /// `name` column of the list's export. Main table, for forms that declare the list.
    Entity(String),
}

/// One column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Its header.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
}

/// One table: the main table or a repeat's.
#[derive(Debug, Clone)]
pub struct Table {
    /// Its name: the form id for the main table, the repeat's name otherwise.
    pub name: String,
    /// The repeat whose instances are its rows (`None` for the main table).
    pub repeat: Option<String>,
    /// The parent table (`None` for the main table).
    pub parent: Option<usize>,
    /// Repeat tables directly inside it.
    pub children: Vec<usize>,
    /// Its columns.
    pub columns: Vec<Column>,
}

/// The tables of a form's export.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The form id.
    pub form_id: String,
    /// The main table first, then the repeats in form order.
    pub tables: Vec<Table>,
    /// Every language of every version, as the form writes them (`Français (fr)`).
    pub languages: Vec<String>,
    /// The newest version's default language.
    pub default_language: Option<String>,
    /// Write choice labels in this language (resolved to the form's spelling) instead of codes.
    pub labels: Option<String>,
}

struct Draft {
    name: String,
    repeat: Option<String>,
    parent: Option<usize>,
    questions: Vec<String>,
}

impl Layout {
    /// The layout of `forms` (every version, newest first), with choice labels in `labels`
    /// if given.
    pub fn new(forms: &[Arc<Form>], labels: Option<&str>) -> Result<Layout, ExportError> {
        let form_id = forms.first().map(|f| f.id.clone()).unwrap_or_default();
        let mut drafts = vec![Draft { name: form_id.clone(), repeat: None, parent: None, questions: Vec::new() }];
        let mut defs: HashMap<String, QuestionDef> = HashMap::new();
        let mut languages: Vec<String> = Vec::new();
        for form in forms {
            for language in &form.languages {
                if !languages.contains(language) {
                    languages.push(language.clone());
                }
            }
            walk(form, &form.children, 0, &mut drafts, &mut defs);
        }
        let labels = match labels {
            None => None,
            Some(wanted) => Some(resolve_language(&languages, wanted)?),
        };
        let mut defs: HashMap<String, Arc<QuestionDef>> = defs.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        let mut tables: Vec<Table> = Vec::with_capacity(drafts.len());
        for draft in &drafts {
            let mut columns = Vec::new();
            for name in &draft.questions {
                let Some(def) = defs.remove(name) else { continue };
                columns.push(Column { name: name.clone(), kind: ColumnKind::Answer(def.clone()) });
                match &def.question.kind {
                    QuestionType::SelectMultiple { .. } => {
                        for (i, choice) in def.choices.iter().enumerate() {
                            columns.push(Column {
                                name: format!("{name}/{}", choice.name),
                                kind: ColumnKind::Choice(def.clone(), i),
                            });
                        }
                    }
                    QuestionType::GeoPoint => {
                        for (part, suffix) in [
                            (GeoPart::Latitude, "latitude"),
                            (GeoPart::Longitude, "longitude"),
                            (GeoPart::Altitude, "altitude"),
                            (GeoPart::Precision, "precision"),
                        ] {
                            columns.push(Column {
                                name: format!("_{name}_{suffix}"),
                                kind: ColumnKind::Geo(def.clone(), part),
                            });
                        }
                    }
                    _ => {}
                }
            }
            let meta: &[Meta] = if draft.parent.is_none() { &MAIN_META } else { &REPEAT_META };
            columns.extend(meta.iter().map(|m| Column { name: m.name().to_owned(), kind: ColumnKind::Meta(*m) }));
            if draft.parent.is_none() {
                columns.extend(
                    entity_lists(forms)
                        .into_iter()
                        .map(|list| Column { name: format!("_entity_{list}"), kind: ColumnKind::Entity(list) }),
                );
            }
            tables.push(Table {
                name: draft.name.clone(),
                repeat: draft.repeat.clone(),
                parent: draft.parent,
                children: Vec::new(),
                columns,
            });
        }
        for i in 0..tables.len() {
            if let Some(parent) = tables[i].parent {
                tables[parent].children.push(i);
            }
        }
        Ok(Layout {
            form_id,
            tables,
            languages,
            default_language: forms.first().and_then(|f| f.default_language.clone()),
            labels,
        })
    }
}

/// The entity lists any version of the form declares, in name order.
fn entity_lists(forms: &[Arc<Form>]) -> BTreeSet<String> {
    forms.iter().flat_map(|f| f.entities.iter().map(|e| e.list.clone())).collect()
}

fn walk(form: &Form, nodes: &[Node], table: usize, drafts: &mut Vec<Draft>, defs: &mut HashMap<String, QuestionDef>) {
    for node in nodes {
        match node {
            Node::Question(q) => {
                if !q.kind.takes_answer() {
                    continue;
                }
                let choices = q.kind.choice_list().and_then(|l| form.choice_lists.get(l)).cloned().unwrap_or_default();
                match defs.get_mut(&q.name) {
                    Some(def) => {
                        for choice in choices {
                            if !def.choices.iter().any(|c| c.name == choice.name) {
                                def.choices.push(choice);
                            }
                        }
                    }
                    None => {
                        defs.insert(q.name.clone(), QuestionDef { question: q.clone(), choices });
                        drafts[table].questions.push(q.name.clone());
                    }
                }
            }
            Node::Group(g) => walk(form, &g.children, table, drafts, defs),
            Node::Repeat(g) => {
                let inner = match drafts.iter().position(|d| d.repeat.as_deref() == Some(g.name.as_str())) {
                    Some(i) => i,
                    None => {
                        drafts.push(Draft {
                            name: g.name.clone(),
                            repeat: Some(g.name.clone()),
                            parent: Some(table),
                            questions: Vec::new(),
                        });
                        drafts.len() - 1
                    }
                };
                walk(form, &g.children, inner, drafts, defs);
            }
        }
    }
}

/// The form's spelling of a language given as written there, as its code (`fr`) or name.
fn resolve_language(languages: &[String], wanted: &str) -> Result<String, ExportError> {
    if languages.is_empty() {
        // A form with labels in one unnamed language: that one, whatever was asked.
        return Ok(String::new());
    }
    let code = |l: &str| l.rsplit_once('(').and_then(|(_, c)| c.strip_suffix(')')).map(str::trim).map(str::to_owned);
    let name = |l: &str| l.split_once('(').map_or(l, |(n, _)| n).trim().to_owned();
    languages
        .iter()
        .find(|l| l.as_str() == wanted)
        .or_else(|| languages.iter().find(|l| code(l).is_some_and(|c| c.eq_ignore_ascii_case(wanted))))
        .or_else(|| languages.iter().find(|l| name(l).eq_ignore_ascii_case(wanted)))
        .cloned()
        .ok_or_else(|| {
            ExportError::Invalid(format!("the form has no language `{wanted}`: use one of {}", languages.join(", ")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_resolve_by_spelling_code_or_name() {
        let langs = vec!["English (en)".to_owned(), "Français (fr)".to_owned()];
        for wanted in ["Français (fr)", "fr", "FR", "français"] {
            assert_eq!(resolve_language(&langs, wanted).ok().as_deref(), Some("Français (fr)"), "{wanted}");
        }
        assert!(resolve_language(&langs, "de").is_err());
    }
}
