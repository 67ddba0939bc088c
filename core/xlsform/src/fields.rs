//! The cells of one survey row → the fields of a question or a group.
//!
//! Each known column fills its field (labels and messages by language, expressions parsed,
//! yes/no read); columns that do not apply to the node, and unknown columns, are kept in
//! `extra` under their header as written. Every cell's `${name}` references are noted.

use std::collections::BTreeMap;

use super::error::{At, Issues};
use super::headers::Column;
use super::parameters;
use super::references::References;
use super::text::yes_no;
use terrain_core::form::expr::Expression;
use terrain_core::form::model::{Group, Question, QuestionType, Translations};

/// One non-empty cell of a survey row.
#[derive(Debug, Clone)]
pub(crate) struct Cell<'s> {
    /// What the column means.
    pub column: &'s Column,
    /// The header as written.
    pub header: &'s str,
    /// The cleaned value (never empty).
    pub value: String,
}

/// The non-empty cells of a row, and where they are.
#[derive(Debug, Clone)]
pub(crate) struct RowCells<'s> {
    /// The sheet name.
    pub sheet: &'s str,
    /// The row number.
    pub row: usize,
    /// The cells, in column order.
    pub cells: Vec<Cell<'s>>,
    /// Every column of the sheet with its header, to locate issues about empty cells.
    pub headers: &'s [(Column, String)],
}

impl<'s> RowCells<'s> {
    /// The first cell with this meaning.
    pub fn get(&self, column: &Column) -> Option<&Cell<'s>> {
        self.cells.iter().find(|c| c.column == column)
    }

    /// The value of the first cell with this meaning.
    pub fn value(&self, column: &Column) -> Option<&str> {
        self.get(column).map(|c| c.value.as_str())
    }

    /// Where a cell is.
    pub fn at(&self, cell: &Cell<'s>) -> At<'s> {
        At::cell(self.sheet, self.row, cell.header)
    }

    /// The cell with this meaning (empty or not), or else the whole row.
    pub fn at_column(&self, column: &Column) -> At<'s> {
        let headers: &'s [(Column, String)] = self.headers;
        match headers.iter().find(|(c, _)| c == column) {
            Some((_, header)) => At::cell(self.sheet, self.row, header),
            None => At::row(self.sheet, self.row),
        }
    }
}

/// The context a row is read in.
pub(crate) struct Reader<'a> {
    /// Where references go.
    pub refs: &'a mut References,
    /// Where issues go.
    pub issues: &'a mut Issues,
}

/// A question with every optional field empty.
pub(crate) fn empty_question(name: String, kind: QuestionType) -> Question {
    Question {
        name,
        kind,
        label: Translations::default(),
        hint: Translations::default(),
        required: None,
        required_message: Translations::default(),
        relevant: None,
        constraint: None,
        constraint_message: Translations::default(),
        calculation: None,
        default: None,
        choice_filter: None,
        appearance: None,
        read_only: None,
        parameters: BTreeMap::new(),
        media: BTreeMap::new(),
        extra: BTreeMap::new(),
    }
}

/// A group or repeat with every optional field empty.
pub(crate) fn empty_group(name: String) -> Group {
    Group {
        name,
        label: Translations::default(),
        relevant: None,
        repeat_count: None,
        appearance: None,
        extra: BTreeMap::new(),
        children: Vec::new(),
    }
}

/// How the parameters of a row are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParameterRules<'t> {
    /// The row's type as written.
    pub type_text: &'t str,
    /// Whether the row is a select or rank.
    pub is_select: bool,
    /// Whether it is a `select_*_from_file` row.
    pub from_file: bool,
}

impl Reader<'_> {
    /// Fills a question's fields from the row's cells.
    pub fn fill_question(&mut self, q: &mut Question, cells: &RowCells<'_>, rules: ParameterRules<'_>) {
        for cell in &cells.cells {
            let at = cells.at(cell);
            let value = cell.value.as_str();
            match cell.column {
                // The survey reader collects `save_to` for the form's entity declaration.
                Column::Type | Column::Name | Column::Disabled | Column::SaveTo => {}
                Column::Label(lang) => self.text(at, value, &mut q.label, lang),
                Column::Hint(lang) => self.text(at, value, &mut q.hint, lang),
                Column::ConstraintMessage(lang) => {
                    self.text(at, value, &mut q.constraint_message, lang);
                }
                Column::RequiredMessage(lang) => {
                    self.text(at, value, &mut q.required_message, lang);
                }
                Column::Media { kind, language } => {
                    self.text(at, value, q.media.entry(kind.clone()).or_default(), language);
                }
                Column::Required => q.required = self.flag(at, value),
                Column::ReadOnly => q.read_only = self.flag(at, value),
                Column::Relevant => q.relevant = self.binding(at, value),
                Column::Constraint => q.constraint = self.binding(at, value),
                Column::Calculation => q.calculation = self.binding(at, value),
                Column::ChoiceFilter => q.choice_filter = self.refs.choice_filter(at, value, self.issues),
                Column::Default => {
                    self.refs.scan_text(at, value, self.issues);
                    q.default = Some(value.to_owned());
                }
                Column::Appearance => {
                    self.refs.scan_text(at, value, self.issues);
                    q.appearance = Some(value.to_owned());
                }
                Column::Parameters => {
                    self.refs.scan_text(at, value, self.issues);
                    match parameters::parse(value) {
                        Ok(params) => q.parameters = params,
                        Err(message) => self.issues.add(at, message),
                    }
                }
                Column::RepeatCount | Column::ListName | Column::Setting(_) | Column::Extra => {
                    self.extra(at, cell, &mut q.extra)
                }
            }
        }
        let problems = parameters::check(rules.type_text, rules.is_select, rules.from_file, &mut q.parameters);
        let at = cells.at_column(&Column::Parameters);
        for problem in problems {
            self.issues.add(at, problem);
        }
    }

    /// Fills a group's or repeat's fields; columns that only mean something for questions
    /// (hint, required, …) are kept in `extra`.
    pub fn fill_group(&mut self, g: &mut Group, cells: &RowCells<'_>, is_repeat: bool) {
        for cell in &cells.cells {
            let at = cells.at(cell);
            let value = cell.value.as_str();
            match cell.column {
                Column::Type | Column::Name | Column::Disabled => {}
                Column::Label(lang) => self.text(at, value, &mut g.label, lang),
                Column::Relevant => g.relevant = self.binding(at, value),
                Column::RepeatCount if is_repeat => {
                    g.repeat_count = self.refs.expression(at, value, self.issues);
                }
                Column::Appearance => {
                    self.refs.scan_text(at, value, self.issues);
                    g.appearance = Some(value.to_owned());
                }
                _ => self.extra(at, cell, &mut g.extra),
            }
        }
    }

    fn text(&mut self, at: At<'_>, value: &str, into: &mut Translations, language: &str) {
        self.refs.scan_text(at, value, self.issues);
        into.0.insert(language.to_owned(), value.to_owned());
    }

    fn extra(&mut self, at: At<'_>, cell: &Cell<'_>, into: &mut BTreeMap<String, String>) {
        self.refs.scan_text(at, &cell.value, self.issues);
        into.insert(cell.header.to_owned(), cell.value.clone());
    }

    /// `required` / `read_only`: yes is `true()`, no is absent, anything else an expression.
    fn flag(&mut self, at: At<'_>, value: &str) -> Option<Expression> {
        match yes_no(value) {
            Some(true) => self.refs.expression(at, "true()", self.issues),
            Some(false) => None,
            None => self.refs.expression(at, value, self.issues),
        }
    }

    /// `relevant`, `constraint`, `calculation`: pyxform turns a bare yes/no into
    /// `true()`/`false()` in these too.
    fn binding(&mut self, at: At<'_>, value: &str) -> Option<Expression> {
        let value = match yes_no(value) {
            Some(true) => "true()",
            Some(false) => "false()",
            None => value,
        };
        self.refs.expression(at, value, self.issues)
    }
}
