//! A survey as rows of the export's tables: one main row, and one row per repeat instance
//! linked to its parent row, written to a [`Sink`] as they are made.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use terrain_core::Value;
use terrain_core::form::Translations;
use terrain_core::survey::{Answer, Answers};

use super::table::{ColumnKind, GeoPart, Layout, Meta, QuestionDef};
use super::{ExportError, Record};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Nothing (unanswered, not relevant, or not in the survey's form version).
    Empty,
    /// Text.
    Text(Cow<'a, str>),
    /// A whole number.
    Integer(i64),
    /// A decimal number.
    Decimal(f64),
}

/// Where rows go.
pub trait Sink {
    /// Writes one row of table `table` (an index into the layout's tables).
    fn row(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError>;
}

/// Numbers each table's rows across an export.
#[derive(Debug)]
pub struct RowWriter<'l> {
    layout: &'l Layout,
    counters: Vec<u64>,
}

struct Context<'r> {
    record: &'r Record,
    parent_index: u64,
}

impl<'l> RowWriter<'l> {
    /// A writer for `layout`'s tables, numbering rows from 1.
    pub fn new(layout: &'l Layout) -> Self {
        RowWriter { layout, counters: vec![0; layout.tables.len()] }
    }

    /// Writes the rows of one survey.
    pub fn write(&mut self, record: &Record, sink: &mut dyn Sink) -> Result<(), ExportError> {
        self.write_level(0, &record.survey.answers, &Context { record, parent_index: 0 }, sink)
    }

    fn write_level(
        &mut self,
        table: usize,
        answers: &Answers,
        ctx: &Context<'_>,
        sink: &mut dyn Sink,
    ) -> Result<(), ExportError> {
        self.counters[table] += 1;
        let index = self.counters[table];
        let layout = self.layout;
        let t = &layout.tables[table];
        let parent_name = t.parent.map(|p| layout.tables[p].name.as_str()).unwrap_or_default();
        let cells: Vec<Cell<'_>> = t
            .columns
            .iter()
            .map(|column| match &column.kind {
                ColumnKind::Answer(def) => answer_cell(layout, def, answers.get(&def.question.name)),
                ColumnKind::Choice(def, i) => match answers.get(&def.question.name) {
                    Some(Answer::Value(Value::Choices(codes))) => {
                        Cell::Integer(i64::from(codes.iter().any(|c| *c == def.choices[*i].name)))
                    }
                    _ => Cell::Empty,
                },
                ColumnKind::Geo(def, part) => match answers.get(&def.question.name) {
                    Some(Answer::Value(Value::GeoPoint(p))) => Cell::Decimal(match part {
                        GeoPart::Latitude => p.lat,
                        GeoPart::Longitude => p.lon,
                        GeoPart::Altitude => p.altitude,
                        GeoPart::Precision => p.accuracy,
                    }),
                    _ => Cell::Empty,
                },
                ColumnKind::Meta(meta) => meta_cell(*meta, ctx, index, parent_name),
            })
            .collect();
        sink.row(table, &cells)?;
        drop(cells);
        for &child in &layout.tables[table].children {
            let Some(repeat) = layout.tables[child].repeat.as_deref() else { continue };
            for instance in answers.repeat(repeat) {
                self.write_level(child, instance, &Context { record: ctx.record, parent_index: index }, sink)?;
            }
        }
        Ok(())
    }
}

fn meta_cell<'r>(meta: Meta, ctx: &Context<'r>, index: u64, parent_name: &'r str) -> Cell<'r> {
    let survey = &ctx.record.survey;
    let text = |s: &'r str| Cell::Text(Cow::Borrowed(s));
    match meta {
        Meta::Uuid | Meta::SubmissionUuid => text(&survey.meta.survey_id),
        Meta::Index => Cell::Integer(index as i64),
        Meta::ParentIndex => Cell::Integer(ctx.parent_index as i64),
        Meta::ParentTable => text(parent_name),
        Meta::FormVersion => text(&survey.meta.form_version),
        Meta::SubmittedBy => text(&survey.meta.created_by),
        Meta::Device => text(&survey.meta.created_on),
        Meta::Status => text(survey.meta.status.as_str()),
        Meta::ReviewStatus => text(ctx.record.summary.review_status.as_deref().unwrap_or("received")),
        Meta::Start => Cell::Text(Cow::Owned(time(survey.meta.created_at))),
        Meta::SubmissionTime => Cell::Text(Cow::Owned(time(ctx.record.summary.updated_at))),
    }
}

/// A time as analysts' tools read it: RFC 3339 in UTC, to the millisecond.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn answer_cell<'a>(layout: &Layout, def: &'a QuestionDef, answer: Option<&'a Answer>) -> Cell<'a> {
    match answer {
        None | Some(Answer::Repeat(_)) => Cell::Empty,
        Some(Answer::Unreadable(text)) => Cell::Text(Cow::Borrowed(text)),
        Some(Answer::Value(value)) => match value {
            Value::Integer(i) => Cell::Integer(*i),
            Value::Decimal(d) => Cell::Decimal(*d),
            Value::Text(t) => Cell::Text(Cow::Borrowed(t)),
            Value::Choice(code) => match &layout.labels {
                Some(lang) => Cell::Text(Cow::Owned(choice_label(layout, def, code, lang))),
                None => Cell::Text(Cow::Borrowed(code)),
            },
            Value::Choices(codes) => match &layout.labels {
                Some(lang) => Cell::Text(Cow::Owned(
                    codes.iter().map(|c| choice_label(layout, def, c, lang)).collect::<Vec<_>>().join("; "),
                )),
                None => Cell::Text(Cow::Owned(codes.join(" "))),
            },
            other => Cell::Text(Cow::Owned(other.to_odk_string())),
        },
    }
}

/// A choice's label in `lang` (else the default language), or its code if it has none.
fn choice_label(layout: &Layout, def: &QuestionDef, code: &str, lang: &str) -> String {
    def.choices
        .iter()
        .find(|c| c.name == code)
        .and_then(|c| label(&c.label, layout, Some(lang)))
        .unwrap_or(code)
        .to_owned()
}

/// A label in `lang`, else the form's default language, else any.
pub fn label<'t>(t: &'t Translations, layout: &Layout, lang: Option<&str>) -> Option<&'t str> {
    t.get(lang, layout.default_language.as_deref())
}
