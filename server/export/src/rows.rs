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
                ColumnKind::Entity(list) => match ctx.record.entities.iter().find(|e| e.list == *list) {
                    Some(link) => Cell::Text(Cow::Borrowed(&link.id)),
                    None => Cell::Empty,
                },
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
        Meta::ReviewStatus => text(ctx.record.summary.review_status.as_str()),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Arc;

    use chrono::Utc;
    use terrain_core::form::Form;
    use terrain_core::store::{Survey, SurveySummary};
    use terrain_core::survey::{Meta, Review, Status};

    use super::*;

    /// A household with members, each with children: two levels of repeats.
    fn nested() -> Form {
        Form::from_json(
            r#"{"id": "hh", "version": "1", "title": "t", "children": [
              {"node": "question", "name": "village", "type": {"kind": "text"}},
              {"node": "repeat", "name": "member", "children": [
                {"node": "question", "name": "age", "type": {"kind": "integer"}},
                {"node": "repeat", "name": "child", "children": [
                  {"node": "question", "name": "school", "type": {"kind": "select_multiple", "list": "yn"}}
                ]}
              ]}
            ], "choice_lists": {"yn": [{"name": "a", "label": {}}, {"name": "b", "label": {}}]}}"#,
        )
        .unwrap()
    }

    #[derive(Default)]
    struct Collect(Vec<(usize, Vec<String>)>);

    impl Sink for Collect {
        fn row(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError> {
            let text = cells
                .iter()
                .map(|c| match c {
                    Cell::Empty => String::new(),
                    Cell::Text(t) => t.to_string(),
                    Cell::Integer(i) => i.to_string(),
                    Cell::Decimal(d) => d.to_string(),
                })
                .collect();
            self.0.push((table, text));
            Ok(())
        }
    }

    fn record(id: &str, answers: Answers) -> Record {
        let now = Utc::now();
        let meta = Meta {
            survey_id: id.into(),
            form_id: "hh".into(),
            form_version: "1".into(),
            created_by: "awa".into(),
            created_on: "phone".into(),
            created_at: now,
            status: Status::Finalized,
        };
        let summary = SurveySummary {
            survey_id: id.into(),
            form_id: "hh".into(),
            form_version: "1".into(),
            status: Status::Finalized,
            created_by: "awa".into(),
            created_on: "phone".into(),
            created_at: now,
            updated_at: now,
            review_status: terrain_core::survey::ReviewStatus::Received,
            has_conflicts: false,
            dirty: false,
        };
        Record {
            change_seq: 1,
            summary,
            survey: Survey { meta, answers, review: Review::default() },
            entities: Vec::new(),
        }
    }

    #[test]
    fn nested_repeats_link_each_row_to_its_parent() {
        let form = Arc::new(nested());
        let layout = Layout::new(&[form], None).unwrap();
        let names: Vec<&str> = layout.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["hh", "member", "child"]);
        assert_eq!(layout.tables[2].parent, Some(1));
        let child = |codes: &[&str]| {
            let mut a = Answers::default();
            a.0.insert("school".into(), Answer::Value(Value::Choices(codes.iter().map(|c| (*c).to_owned()).collect())));
            a
        };
        let member = |age: i64, children: Vec<Answers>| {
            let mut a = Answers::default();
            a.0.insert("age".into(), Answer::Value(Value::Integer(age)));
            a.0.insert("child".into(), Answer::Repeat(children));
            a
        };
        let mut one = Answers::default();
        one.0.insert(
            "member".into(),
            Answer::Repeat(vec![member(40, vec![child(&["a"]), child(&["a", "b"])]), member(7, vec![])]),
        );
        let mut two = Answers::default();
        two.0.insert("member".into(), Answer::Repeat(vec![member(30, vec![child(&[])])]));
        let mut rows = RowWriter::new(&layout);
        let mut sink = Collect::default();
        rows.write(&record("s1", one), &mut sink).unwrap();
        rows.write(&record("s2", two), &mut sink).unwrap();
        let col = |table: usize, name: &str| layout.tables[table].columns.iter().position(|c| c.name == name).unwrap();
        let of = |table: usize| sink.0.iter().filter(|(t, _)| *t == table).map(|(_, r)| r.clone()).collect::<Vec<_>>();
        let (main, members, children) = (of(0), of(1), of(2));
        assert_eq!((main.len(), members.len(), children.len()), (2, 3, 3));
        // Members point to their survey's main row; children to their member's row.
        let parents: Vec<&str> = members.iter().map(|r| r[col(1, "_parent_index")].as_str()).collect();
        assert_eq!(parents, ["1", "1", "2"]);
        let parents: Vec<&str> = children.iter().map(|r| r[col(2, "_parent_index")].as_str()).collect();
        assert_eq!(parents, ["1", "1", "3"]);
        assert!(children.iter().all(|r| r[col(2, "_parent_table_name")] == "member"));
        assert_eq!(children[2][col(2, "_submission__uuid")], "s2");
        // select_multiple: the codes, and a 0/1 column per choice.
        assert_eq!(children[1][col(2, "school")], "a b");
        assert_eq!((children[1][col(2, "school/a")].as_str(), children[1][col(2, "school/b")].as_str()), ("1", "1"));
        assert_eq!((children[0][col(2, "school/a")].as_str(), children[0][col(2, "school/b")].as_str()), ("1", "0"));
        assert_eq!((children[2][col(2, "school/a")].as_str(), children[2][col(2, "school/b")].as_str()), ("0", "0"));
        assert_eq!(main[0][col(0, "village")], "", "unanswered is empty");
    }
}
