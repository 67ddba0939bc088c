//! The typed form model: what a questionnaire asks, in what structure, with which choices.
//!
//! A [`Form`] is what the XLSForm importer produces and what devices download (as JSON).
//! Questions are addressed by their `name`, which is unique across the whole form, as
//! XLSForm's `${name}` references require. Non-repeating groups only structure the screen;
//! repeats structure the data (see `crate::survey` for the document layout).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::expr::Expression;

/// A questionnaire at one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Form {
    /// The form id (XLSForm `settings.form_id`), stable across versions.
    pub id: String,
    /// The form version (XLSForm `settings.version`). A survey is bound to one version.
    pub version: String,
    /// The title shown to people.
    pub title: String,
    /// The language used where a text has no translation for the chosen one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_language: Option<String>,
    /// Every language that some label, hint or message is written in, in first-seen order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// The expression that names a survey in lists (XLSForm `instance_name`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_expr")]
    pub instance_name: Option<Expression>,
    /// The other `settings` columns, kept as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// The top-level questions, groups and repeats, in form order.
    pub children: Vec<Node>,
    /// Choice lists by list name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub choice_lists: BTreeMap<String, Vec<Choice>>,
    /// The entity lists the form's surveys create or update entities of (XLSForm's
    /// `entities` sheet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<super::entities::EntityDeclaration>,
    /// The files the form reads as `instance('name')` by its declaration (XLSForm's
    /// `xml-external` and `csv-external` rows): instance name → file (`houses.xml`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_instances: BTreeMap<String, String>,
}

/// One entry of a form's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
// Most nodes are questions, so boxing the large variant would save nothing.
#[allow(clippy::large_enum_variant)]
pub enum Node {
    /// A question (including notes, calculations and metadata).
    Question(Question),
    /// A non-repeating group of nodes.
    Group(Group),
    /// A repeating group: its answers are a list of instances.
    Repeat(Group),
}

impl Node {
    /// The node's name, unique across the form.
    pub fn name(&self) -> &str {
        match self {
            Node::Question(q) => &q.name,
            Node::Group(g) | Node::Repeat(g) => &g.name,
        }
    }
}

/// A group or a repeat: a named, labelled container of nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The group's name, unique across the form.
    pub name: String,
    /// The label, by language.
    #[serde(default, skip_serializing_if = "Translations::is_empty")]
    pub label: Translations,
    /// When the group and everything in it applies.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_expr")]
    pub relevant: Option<Expression>,
    /// For repeats: how many instances there are, when the form fixes it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_expr")]
    pub repeat_count: Option<Expression>,
    /// The XLSForm appearance (`field-list`, `table-list`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<String>,
    /// Columns that Terrain does not interpret, kept as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
    /// The nodes inside, in form order.
    pub children: Vec<Node>,
}

/// One question of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// The question's name, unique across the form.
    pub name: String,
    /// What kind of answer it takes.
    #[serde(rename = "type")]
    pub kind: QuestionType,
    /// The label, by language.
    #[serde(default, skip_serializing_if = "Translations::is_empty")]
    pub label: Translations,
    /// The hint, by language.
    #[serde(default, skip_serializing_if = "Translations::is_empty")]
    pub hint: Translations,
    /// When an answer is required (`yes` is imported as `true()`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_expr")]
    pub required: Option<Expression>,
    /// The message shown when a required answer is missing, by language.
    #[serde(default, skip_serializing_if = "Translations::is_empty")]
    pub required_message: Translations,
    /// When the question applies.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_expr")]
    pub relevant: Option<Expression>,
    /// The condition an answer must meet (`.` is the answer).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_expr")]
    pub constraint: Option<Expression>,
    /// The message shown when the constraint fails, by language.
    #[serde(default, skip_serializing_if = "Translations::is_empty")]
    pub constraint_message: Translations,
    /// The value of a `calculate` (or of any question with a calculation).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_expr")]
    pub calculation: Option<Expression>,
    /// The default answer, as XLSForm writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Which choices to offer, evaluated per choice (bare names are the choice's columns).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_choice_filter")]
    pub choice_filter: Option<Expression>,
    /// The XLSForm appearance (`minimal`, `likert`, `multiline`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<String>,
    /// When the answer cannot be edited (`yes` is imported as `true()`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_expr")]
    pub read_only: Option<Expression>,
    /// The XLSForm `parameters` column, split into `key=value` pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Media columns (`image`, `audio`, `video`, `big-image`), by kind then language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media: BTreeMap<String, Translations>,
    /// Columns that Terrain does not interpret, kept as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// What kind of answer a question takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QuestionType {
    /// Free text.
    Text,
    /// A whole number.
    Integer,
    /// A decimal number.
    Decimal,
    /// A number picked on a scale (`parameters`: start, end, step).
    Range,
    /// One code from a choice list.
    SelectOne {
        /// The choice list's name.
        list: String,
        /// Whether an `other` choice with a free-text follow-up was added.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        or_other: bool,
    },
    /// Several codes from a choice list.
    SelectMultiple {
        /// The choice list's name.
        list: String,
        /// Whether an `other` choice with a free-text follow-up was added.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        or_other: bool,
    },
    /// One code from choices in an attached file.
    SelectOneFromFile {
        /// The attached file's name (CSV, XML or GeoJSON).
        file: String,
    },
    /// Several codes from choices in an attached file.
    SelectMultipleFromFile {
        /// The attached file's name (CSV, XML or GeoJSON).
        file: String,
    },
    /// The codes of a choice list, ordered by preference.
    Rank {
        /// The choice list's name.
        list: String,
    },
    /// A calendar date.
    Date,
    /// A time of day.
    Time,
    /// A date and time with an offset.
    #[serde(rename = "dateTime")]
    DateTime,
    /// One GPS point.
    #[serde(rename = "geopoint")]
    GeoPoint,
    /// A line of GPS points.
    #[serde(rename = "geotrace")]
    GeoTrace,
    /// A closed polygon of GPS points.
    #[serde(rename = "geoshape")]
    GeoShape,
    /// A photo (the answer is the file name).
    Image,
    /// A sound recording (the answer is the file name).
    Audio,
    /// A video (the answer is the file name).
    Video,
    /// Any file (the answer is the file name).
    File,
    /// A scanned barcode or QR code.
    Barcode,
    /// Text shown to the enumerator; takes no answer.
    Note,
    /// A tick box that confirms something.
    Acknowledge,
    /// A value computed from `calculation`; not shown.
    Calculate,
    /// A value set by default or by the app; not shown.
    Hidden,
    /// Metadata: when the survey was started.
    Start,
    /// Metadata: when the survey was last saved.
    End,
    /// Metadata: the date the survey was filled in.
    Today,
    /// Metadata: the device's identifier.
    #[serde(rename = "deviceid")]
    DeviceId,
    /// Metadata: the enumerator's user name.
    Username,
    /// Metadata: the device's phone number.
    #[serde(rename = "phonenumber")]
    PhoneNumber,
    /// Metadata: the enumerator's e-mail address.
    Email,
    /// Metadata: the audit log file of the form session.
    Audit,
}

impl QuestionType {
    /// The choice list the question draws from, if it is a select or rank.
    pub fn choice_list(&self) -> Option<&str> {
        match self {
            QuestionType::SelectOne { list, .. }
            | QuestionType::SelectMultiple { list, .. }
            | QuestionType::Rank { list } => Some(list),
            // Named after the file: a form with its files attached has the list
            // (`form::attachments`); one without has none, and offers no choices.
            QuestionType::SelectOneFromFile { file } | QuestionType::SelectMultipleFromFile { file } => Some(file),
            _ => None,
        }
    }

    /// Whether the question stores an answer at all (a note does not).
    pub fn takes_answer(&self) -> bool {
        !matches!(self, QuestionType::Note)
    }

    /// The XLSForm spelling of the type, for messages and dictionaries.
    pub fn xlsform_name(&self) -> &'static str {
        match self {
            QuestionType::Text => "text",
            QuestionType::Integer => "integer",
            QuestionType::Decimal => "decimal",
            QuestionType::Range => "range",
            QuestionType::SelectOne { .. } => "select_one",
            QuestionType::SelectMultiple { .. } => "select_multiple",
            QuestionType::SelectOneFromFile { .. } => "select_one_from_file",
            QuestionType::SelectMultipleFromFile { .. } => "select_multiple_from_file",
            QuestionType::Rank { .. } => "rank",
            QuestionType::Date => "date",
            QuestionType::Time => "time",
            QuestionType::DateTime => "dateTime",
            QuestionType::GeoPoint => "geopoint",
            QuestionType::GeoTrace => "geotrace",
            QuestionType::GeoShape => "geoshape",
            QuestionType::Image => "image",
            QuestionType::Audio => "audio",
            QuestionType::Video => "video",
            QuestionType::File => "file",
            QuestionType::Barcode => "barcode",
            QuestionType::Note => "note",
            QuestionType::Acknowledge => "acknowledge",
            QuestionType::Calculate => "calculate",
            QuestionType::Hidden => "hidden",
            QuestionType::Start => "start",
            QuestionType::End => "end",
            QuestionType::Today => "today",
            QuestionType::DeviceId => "deviceid",
            QuestionType::Username => "username",
            QuestionType::PhoneNumber => "phonenumber",
            QuestionType::Email => "email",
            QuestionType::Audit => "audit",
        }
    }
}

/// One choice of a choice list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The code stored in answers.
    pub name: String,
    /// The label, by language.
    #[serde(default, skip_serializing_if = "Translations::is_empty")]
    pub label: Translations,
    /// Media columns, by kind then language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media: BTreeMap<String, Translations>,
    /// The other columns (those that `choice_filter` expressions test, such as `region`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// A text in several languages.
///
/// The key is the language as XLSForm writes it (`Français (fr)`); a column with no
/// language (`label`) is stored under the empty key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Translations(pub BTreeMap<String, String>);

impl Translations {
    /// A text with no language.
    pub fn plain(text: impl Into<String>) -> Self {
        let mut map = BTreeMap::new();
        map.insert(String::new(), text.into());
        Translations(map)
    }

    /// Whether no text is set in any language.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text in `language`, else in `fallback` (the form's default language), else the
    /// text with no language, else any text.
    pub fn get(&self, language: Option<&str>, fallback: Option<&str>) -> Option<&str> {
        [language, fallback, Some("")]
            .into_iter()
            .flatten()
            .find_map(|lang| self.0.get(lang))
            .or_else(|| self.0.values().next())
            .map(String::as_str)
    }
}

impl Form {
    /// Every question in form order, depth first, with its enclosing repeats.
    pub fn questions(&self) -> Vec<(&Question, Vec<&str>)> {
        fn walk<'f>(nodes: &'f [Node], repeats: &mut Vec<&'f str>, out: &mut Vec<(&'f Question, Vec<&'f str>)>) {
            for node in nodes {
                match node {
                    Node::Question(q) => out.push((q, repeats.clone())),
                    Node::Group(g) => walk(&g.children, repeats, out),
                    Node::Repeat(g) => {
                        repeats.push(&g.name);
                        walk(&g.children, repeats, out);
                        repeats.pop();
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.children, &mut Vec::new(), &mut out);
        out
    }

    /// The form as JSON, the way devices download and store it.
    pub fn to_json(&self) -> String {
        // A Form holds only strings, maps and vectors, which always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a form from its JSON, parsing every expression again.
    pub fn from_json(json: &str) -> Result<Form, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// Serde for optional expressions, as their source text.
pub(super) mod opt_expr {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::form::expr::Expression;

    pub fn serialize<S: Serializer>(e: &Option<Expression>, s: S) -> Result<S::Ok, S::Error> {
        match e {
            Some(e) => s.serialize_some(e.source()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Expression>, D::Error> {
        let source: Option<String> = Option::deserialize(d)?;
        source.map(|s| Expression::parse(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Serde for choice filters, whose bare names refer to the columns of the choices sheet.
mod opt_choice_filter {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::form::expr::Expression;

    pub fn serialize<S: Serializer>(e: &Option<Expression>, s: S) -> Result<S::Ok, S::Error> {
        super::opt_expr::serialize(e, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Expression>, D::Error> {
        let source: Option<String> = Option::deserialize(d)?;
        source.map(|s| Expression::parse_choice_filter(&s).map_err(serde::de::Error::custom)).transpose()
    }
}
