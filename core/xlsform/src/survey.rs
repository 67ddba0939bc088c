//! The survey sheet → the tree of questions, groups and repeats.
//!
//! Rows are read top to bottom with a stack of open groups and repeats, as pyxform's
//! `workbook_to_json` does. Each row is checked (type, name, choice list, labels,
//! parameters, group structure) and every problem is recorded; reading goes on after a
//! problem so that one import reports them all.
//!
//! A loop's body is held back until its `end loop`, then read once per choice of its list
//! (see [`loops`](super::loops) for how the copies are named).
//!
//! OpenMapKit questions (`osm` or `osm LIST`, pyxform's `osm` type) are imported as `file`
//! questions (the answer is the name of the OSM file that OpenMapKit saves) with
//! `extra["type"] = "osm"`. The tags OpenMapKit asks for are the list `LIST` of the `osm`
//! sheet, kept in [`terrain_core::form::Form::choice_lists`] as `osm:LIST` and named by
//! `extra["osm_tags"]`; a tag whose name is also a list of the `osm` sheet takes its values
//! from that list (`osm:TAG`), as in pyxform. Like pyxform, `osm LIST` without an `osm`
//! sheet imports without tags.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::error::{At, Issues};
use super::fields::{ParameterRules, Reader, RowCells, empty_group, empty_question};
use super::headers::{Column, Columns};
use super::loops::{self, LOOP_CHOICE, LOOP_GROUP, LOOP_LIST, LOOP_QUESTION};
use super::names::is_valid_name;
use super::references::References;
use super::sheets::{Row, Sheet};
use super::text::{clean, yes_no};
use super::types::{self, Container, RowType, SelectCommand};
use terrain_core::form::expr::Expression;
use terrain_core::form::model::{Choice, Group, Node, Question, QuestionType, Translations};

/// The prefix of `external_choices` lists in [`terrain_core::form::Form::choice_lists`]: they
/// live in a name space of their own in XLSForm (a list `c1` may exist on both sheets).
pub(crate) const EXTERNAL_PREFIX: &str = "external_choices:";

/// The prefix of the `osm` sheet's tag lists in [`terrain_core::form::Form::choice_lists`]: they
/// too have a name space of their own.
pub(crate) const OSM_PREFIX: &str = "osm:";

/// `extra` key of an OpenMapKit question: its tag list, as a key of `choice_lists`.
pub(crate) const OSM_TAGS: &str = "osm_tags";

/// The choice lists the survey may use.
pub(crate) struct Lists<'a> {
    /// Lists from the `choices` sheet (the survey adds `other` choices to them).
    pub choices: &'a mut BTreeMap<String, Vec<Choice>>,
    /// Whether the workbook has a `choices` sheet with any list.
    pub has_choices: bool,
    /// Lists from the `external_choices` sheet, if there is one.
    pub external: Option<&'a BTreeMap<String, Vec<Choice>>>,
    /// Tag lists from the `osm` sheet, if there is one.
    pub osm: Option<&'a BTreeMap<String, Vec<Choice>>>,
}

/// What the survey sheet produced.
#[derive(Debug, Default)]
pub(crate) struct Survey {
    /// The top-level nodes.
    pub children: Vec<Node>,
    /// Every name in the form, with the row that defines it.
    pub names: HashMap<String, usize>,
    /// Settings given as survey rows (`set_form_title`, `set_form_id`, `prefix`).
    pub settings: Vec<(&'static str, String)>,
    /// The names of the nodes inside loops as written, with the loop's name and the name of
    /// one copy: those names are not in the form, and a reference to one needs saying so.
    pub loop_names: HashMap<String, (String, String)>,
    /// Every `save_to` cell, in sheet order, for the entity declaration to check and use.
    pub save_tos: Vec<SaveTo>,
    /// Declared secondary instances (`xml-external houses`): name → file (`houses.xml`).
    pub external_instances: BTreeMap<String, String>,
}

/// A `save_to` cell of the survey sheet.
#[derive(Debug, Clone)]
pub(crate) struct SaveTo {
    /// The row's question, group or repeat name.
    pub node: String,
    /// The property named.
    pub property: String,
    /// The row, and the header of the column as written.
    pub row: usize,
    pub header: String,
    /// Whether the row begins a group or repeat rather than asks a question.
    pub is_container: bool,
    /// Whether the row is inside a repeat or a loop (whose copies would each save it).
    pub in_repeat: bool,
}

/// An open group, repeat or loop.
struct Frame {
    container: Container,
    row: usize,
    group: Group,
}

/// A loop whose body is being held back until its end.
struct PendingLoop<'a> {
    /// The `begin loop` row.
    begin: RowCells<'a>,
    /// How many groups, repeats or loops of the body are open.
    depth: usize,
    /// The body's rows, each with whether it is a direct child of the loop (pyxform
    /// substitutes `%(label)s` only there).
    rows: Vec<(RowCells<'a>, bool)>,
}

struct Walker<'a, 'l> {
    sheet: &'a Sheet,
    columns: &'a Columns,
    headers: &'a [(Column, String)],
    collapse: bool,
    lists: Lists<'l>,
    reader: Reader<'a>,
    stack: Vec<Frame>,
    out: Survey,
    audits: Vec<Node>,
    /// In a `table-list` group: the list of its first select, once seen.
    table_list: Option<Option<String>>,
    /// Lists that need an `other` choice (`or_other`).
    other_lists: Vec<String>,
    /// Lists that some `or_other` select of the sheet, before or after, adds `other` to:
    /// loops over them have an `other` copy, as in pyxform.
    other_ahead: HashSet<String>,
    /// The loop whose body is being held back, if any.
    pending_loop: Option<PendingLoop<'a>>,
    /// The choices of the loops whose bodies are being read again, outermost first.
    loop_stack: Vec<String>,
    /// Each copy made by a loop: its name → (the name as written, the loop's choice).
    copies: HashMap<String, (String, String)>,
}

/// Reads the survey sheet.
pub(crate) fn read(
    sheet: &Sheet,
    columns: &Columns,
    collapse_spaces: bool,
    lists: Lists<'_>,
    refs: &mut References,
    issues: &mut Issues,
) -> Survey {
    if columns.find(&Column::Type).is_none() {
        issues.add(
            At::row(&sheet.name, sheet.header_row),
            "this sheet has no \"type\" column; the first row must hold column headers such \
             as type, name and label",
        );
        return Survey::default();
    }
    let headers: Vec<(Column, String)> = columns
        .by_index
        .iter()
        .zip(&sheet.headers)
        .filter_map(|(column, header)| Some((column.clone()?, header.clone())))
        .collect();
    let mut walker = Walker {
        sheet,
        columns,
        headers: &headers,
        collapse: collapse_spaces,
        lists,
        reader: Reader { refs, issues },
        stack: Vec::new(),
        out: Survey::default(),
        audits: Vec::new(),
        table_list: None,
        other_lists: Vec::new(),
        other_ahead: HashSet::new(),
        pending_loop: None,
        loop_stack: Vec::new(),
        copies: HashMap::new(),
    };
    walker.other_ahead = sheet.rows.iter().filter_map(|row| walker.or_other_list(row)).collect();
    for row in &sheet.rows {
        let cells = walker.cells(row);
        walker.row(cells);
    }
    walker.finish()
}

impl<'a> Walker<'a, '_> {
    fn cells(&self, row: &Row) -> RowCells<'a> {
        let sheet: &'a Sheet = self.sheet;
        let columns: &'a Columns = self.columns;
        let cells = columns
            .by_index
            .iter()
            .enumerate()
            .filter_map(|(index, column)| {
                let column = column.as_ref()?;
                let header = sheet.headers.get(index)?;
                let value = clean(row.cell(index), self.collapse);
                (!value.is_empty()).then(|| super::fields::Cell { column, header, value })
            })
            .collect();
        RowCells { sheet: &sheet.name, row: row.number, cells, headers: self.headers }
    }

    fn issue(&mut self, at: At<'_>, message: impl Into<String>) {
        self.reader.issues.add(at, message);
    }

    /// The list an `or_other` select row adds `other` to.
    fn or_other_list(&self, row: &Row) -> Option<String> {
        let cells = self.cells(row);
        if cells.value(&Column::Disabled).and_then(yes_no) == Some(true) {
            return None;
        }
        match types::parse(cells.value(&Column::Type)?) {
            RowType::Select {
                command: SelectCommand::One | SelectCommand::Multiple | SelectCommand::Rank,
                list,
                or_other: true,
            } if !types::is_file_list(&list) => Some(list),
            _ => None,
        }
    }

    fn row(&mut self, cells: RowCells<'a>) {
        if cells.value(&Column::Disabled).and_then(yes_no) == Some(true) {
            return;
        }
        if let Some(pending) = &mut self.pending_loop {
            // Inside a loop: hold the row back, unless it is the loop's end.
            let row_type = cells.value(&Column::Type).map(types::parse);
            match row_type {
                Some(RowType::Begin(_)) => {
                    let direct = pending.depth == 0;
                    pending.depth += 1;
                    pending.rows.push((cells, direct));
                    return;
                }
                Some(RowType::End(_)) if pending.depth > 0 => {
                    pending.depth -= 1;
                    let direct = pending.depth == 0;
                    pending.rows.push((cells, direct));
                    return;
                }
                Some(RowType::End(_)) => {
                    // The loop's end (whatever word it uses: `end` reports a mismatch).
                    if let Some(pending) = self.pending_loop.take() {
                        self.expand_loop(pending);
                    }
                }
                _ => {
                    let direct = pending.depth == 0;
                    pending.rows.push((cells, direct));
                    return;
                }
            }
        }
        let Some(type_text) = cells.value(&Column::Type).map(str::to_owned) else {
            let has_label = cells.cells.iter().any(|c| matches!(c.column, Column::Label(_)));
            if cells.get(&Column::Name).is_some() || has_label {
                self.issue(
                    cells.at_column(&Column::Type),
                    "this row has a name or label but no type; give it a type, or clear it",
                );
            }
            // Otherwise a comment row (pyxform skips rows with no type, name or label).
            return;
        };
        let type_at = cells.at_column(&Column::Type);
        match types::parse(&type_text) {
            RowType::Setting(key) => {
                if let Some(value) = cells.value(&Column::Name) {
                    self.out.settings.push((key, value.to_owned()));
                }
            }
            RowType::End(container) => self.end(&cells, &container),
            RowType::Begin(container) => self.begin(&cells, container),
            RowType::Select { command, list, or_other } => {
                self.select(&cells, &type_text, command, &list, or_other);
            }
            RowType::Question { kind, inexact } => self.question(&cells, &type_text, kind, inexact),
            RowType::Osm { list } => self.osm(&cells, &type_text, list.as_deref()),
            RowType::ExternalInstance(extension) => self.external_instance(&cells, &type_text, extension),
            RowType::MissingList => {
                self.keep_name(&cells);
                self.issue(
                    type_at,
                    format!(
                        "\"{type_text}\" needs the name of a choice list after it, as in \
                         \"{type_text} yes_no\""
                    ),
                );
            }
            RowType::Unsupported(reason) => {
                self.keep_name(&cells);
                self.issue(type_at, reason);
            }
            RowType::Unknown => {
                self.keep_name(&cells);
                let message = match types::suggestion(&type_text) {
                    Some(s) if s.eq_ignore_ascii_case(&type_text) => format!(
                        "\"{type_text}\" is not a question type; did you mean \"{s}\"? (types \
                         are case-sensitive)"
                    ),
                    Some(s) => {
                        format!("\"{type_text}\" is not a question type; did you mean \"{s}\"?")
                    }
                    None => format!(
                        "\"{type_text}\" is not a question type (see the list of types at \
                         https://xlsform.org/en/#question-types)"
                    ),
                };
                self.issue(type_at, message);
            }
        }
    }

    /// For a row that cannot become a node: keeps its name, if it has a valid one, so that
    /// references to it are not reported on top of what is wrong with the row.
    /// `xml-external houses` (`csv-external houses`): the form reads `houses.xml`
    /// (`houses.csv`) as `instance('houses')`, wherever the row stands. Not a question:
    /// nothing is asked or stored, but the name is taken (pyxform refuses a second
    /// element or instance of that name).
    fn external_instance(&mut self, cells: &RowCells<'_>, type_text: &str, extension: &str) {
        let name = self.claim_name(cells, type_text);
        if !name.is_empty() {
            self.out.external_instances.insert(name.clone(), format!("{name}.{extension}"));
        }
    }

    fn keep_name(&mut self, cells: &RowCells<'_>) {
        if let Some(name) = cells.value(&Column::Name).filter(|n| is_valid_name(n)) {
            let name = name.to_owned();
            self.register(cells, &name);
        }
    }

    /// Checks and records the row's name; returns it (empty when missing).
    fn claim_name(&mut self, cells: &RowCells<'_>, type_text: &str) -> String {
        let Some(cell) = cells.get(&Column::Name) else {
            if type_text == "note" {
                // pyxform names unnamed notes itself.
                let written = format!("generated_note_name_{}", cells.row);
                let mut generated = written.clone();
                // In a loop's copies, pyxform's notes differ by path; ours by name.
                for choice in &self.loop_stack {
                    generated = loops::copy_name(&generated, choice);
                }
                if let Some(choice) = self.loop_stack.last() {
                    self.copies.insert(generated.clone(), (written, choice.clone()));
                }
                self.register(cells, &generated);
                return generated;
            }
            self.issue(
                cells.at_column(&Column::Name),
                "this row has no name; every question, group and repeat needs a name (letters, \
                 digits and underscores, starting with a letter)",
            );
            return String::new();
        };
        let name = cell.value.clone();
        let at = cells.at(cell);
        // A loop's copy is valid when the name as written is (the loop checks its choices):
        // speak of the name as written, so that the copies' problems read as one.
        let written = self.written_name(&name);
        if !is_valid_name(&written) {
            self.issue(
                at,
                format!(
                    "\"{written}\" is not a valid name: names must begin with a letter or \
                     underscore, then use only letters, digits, underscores, hyphens or periods"
                ),
            );
        } else if written == "meta" {
            self.issue(at, "the name \"meta\" is reserved for form metadata; choose another");
        } else {
            self.register(cells, &name);
        }
        name
    }

    /// Records a name, refusing one that is already taken.
    fn register(&mut self, cells: &RowCells<'_>, name: &str) {
        if let Some(first) = self.out.names.get(name) {
            let first = *first;
            let where_ = if first == cells.row { "by this row".to_owned() } else { format!("on row {first}") };
            let copy = match self.copies.get(name) {
                Some((written, choice)) => {
                    format!(" (the name of the loop's copy of \"{written}\" for choice \"{choice}\")")
                }
                None => String::new(),
            };
            self.issue(
                cells.at_column(&Column::Name),
                format!(
                    "the name \"{name}\"{copy} is already used {where_}; names must be unique \
                     across the whole form, including inside groups and repeats"
                ),
            );
        } else {
            self.out.names.insert(name.to_owned(), cells.row);
        }
    }

    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(frame) => frame.group.children.push(node),
            None => self.out.children.push(node),
        }
    }

    /// The name a node was written with: the name itself, or the name a loop copied.
    fn written_name(&self, name: &str) -> String {
        self.copies.get(name).map_or(name, |(written, _)| written.as_str()).to_owned()
    }

    /// Keeps the row's `save_to`, if it has one.
    fn note_save_to(&mut self, cells: &RowCells<'_>, node: &str, is_container: bool) {
        let Some(cell) = cells.get(&Column::SaveTo) else { return };
        let in_repeat =
            self.stack.iter().any(|f| !matches!(f.container, Container::Group)) || !self.loop_stack.is_empty();
        self.out.save_tos.push(SaveTo {
            node: node.to_owned(),
            property: cell.value.clone(),
            row: cells.row,
            header: cell.header.to_owned(),
            is_container,
            in_repeat,
        });
    }

    /// Notes in `extra` which node of a loop's body a copy is, and for which choice.
    fn mark_copy(&self, name: &str, key: &str, extra: &mut BTreeMap<String, String>) {
        if let Some((written, choice)) = self.copies.get(name) {
            extra.insert(key.to_owned(), written.clone());
            extra.insert(LOOP_CHOICE.to_owned(), choice.clone());
        }
    }

    fn begin(&mut self, cells: &RowCells<'a>, container: Container) {
        let type_text = cells.value(&Column::Type).unwrap_or_default().to_owned();
        let name = self.claim_name(cells, &type_text);
        let mut group = empty_group(name);
        self.note_save_to(cells, &group.name, true);
        self.reader.fill_group(&mut group, cells, container == Container::Repeat);
        self.mark_copy(&group.name, LOOP_GROUP, &mut group.extra);
        if let Container::Loop(list) = &container {
            let type_at = cells.at_column(&Column::Type);
            match list {
                None => self.issue(
                    type_at,
                    "a loop needs the choice list it goes over, as in \"begin loop over \
                     toilet_types\"",
                ),
                Some(list) => {
                    self.require_list(list, type_at);
                    group.extra.insert(LOOP_LIST.to_owned(), list.clone());
                }
            }
            // The body is read at the loop's end, once per choice.
            self.pending_loop = Some(PendingLoop { begin: cells.clone(), depth: 0, rows: Vec::new() });
        }
        if group.appearance.as_deref().is_some_and(|a| a.split_whitespace().any(|w| w == "table-list")) {
            self.table_list = Some(None);
        }
        self.stack.push(Frame { container, row: cells.row, group });
    }

    fn end(&mut self, cells: &RowCells<'_>, container: &Container) {
        self.table_list = None;
        // An end row saves nothing; pyxform refuses a save_to on it as on the begin row.
        let closing = self.stack.last().map(|f| f.group.name.clone()).unwrap_or_default();
        self.note_save_to(cells, &closing, true);
        let at = cells.at_column(&Column::Type);
        let word = container.word();
        let Some(frame) = self.stack.pop() else {
            self.issue(at, format!("this \"end {word}\" has no matching \"begin {word}\" above it"));
            return;
        };
        if !frame.container.closes(container) {
            // Taken as closing the open one anyway: the usual mistake is the wrong word.
            let open = frame.container.word();
            self.issue(
                at,
                format!(
                    "this \"end {word}\" closes the {open} \"{}\" that begins on row {}; write \
                     \"end {open}\" instead",
                    frame.group.name, frame.row
                ),
            );
        }
        if frame.group.children.is_empty() {
            // ODK refuses a group or repeat with nothing in it ("Group has no children").
            self.issue(
                At::row(cells.sheet, frame.row),
                format!(
                    "the {} \"{}\" that begins here has nothing in it; add questions to it or \
                     remove it",
                    frame.container.word(),
                    frame.group.name
                ),
            );
        }
        self.push(node_of(frame));
    }

    /// Reads a loop's body once per choice of its list, each time inside a group of its own
    /// (see [`loops`]). The loop's frame is the open one.
    fn expand_loop(&mut self, pending: PendingLoop<'a>) {
        let PendingLoop { begin, rows, .. } = pending;
        let target = match self.stack.last() {
            Some(Frame { container: Container::Loop(Some(list)), group, .. }) if !group.name.is_empty() => {
                self.lists.choices.get(list).map(|choices| {
                    (group.name.clone(), list.clone(), loops::loop_choices(choices, self.other_ahead.contains(list)))
                })
            }
            _ => None,
        };
        let Some((loop_name, list, choices)) = target else {
            // The loop itself is faulty (and reported): check its body once, as written.
            for (cells, _) in rows {
                self.row(cells);
            }
            return;
        };
        // The names of the body, and of the or_other follow-ups its selects will add.
        let mut written: Vec<(String, bool)> = Vec::new();
        for (cells, _) in &rows {
            let Some(name) = cells.value(&Column::Name) else { continue };
            written.push((name.to_owned(), false));
            if let Some(RowType::Select { or_other: true, .. }) = cells.value(&Column::Type).map(types::parse) {
                written.push((name.to_owned(), true));
            }
        }
        let loop_written = self.written_name(&loop_name);
        if let Some(first) = choices.iter().find(|c| loops::choice_fits_names(&c.name)) {
            for (name, follow_up) in &written {
                let (name, example) = copy_of(name, *follow_up, &first.name);
                self.out.loop_names.entry(name).or_insert_with(|| (loop_name.clone(), example));
            }
        }
        for choice in &choices {
            if !loops::choice_fits_names(&choice.name) {
                let message = format!(
                    "the loop cannot copy its questions for choice \"{}\" of list \"{list}\": \
                     their names would end in \"_{}\", and names may hold only letters, digits, \
                     underscores, hyphens and periods; rename the choice",
                    choice.name, choice.name
                );
                self.issue(begin.at_column(&Column::Type), message);
                continue;
            }
            let renamed: HashMap<String, String> =
                written.iter().map(|(name, follow_up)| copy_of(name, *follow_up, &choice.name)).collect();
            let group_name = loops::copy_name(&loop_name, &choice.name);
            self.copies.insert(group_name.clone(), (loop_written.clone(), choice.name.clone()));
            self.register(&begin, &group_name);
            let mut group = empty_group(group_name);
            group.label = choice.label.clone();
            group.extra.insert(LOOP_CHOICE.to_owned(), choice.name.clone());
            let depth = self.stack.len();
            self.stack.push(Frame { container: Container::Group, row: begin.row, group });
            self.loop_stack.push(choice.name.clone());
            for (cells, direct) in &rows {
                if let Some(name) = cells.value(&Column::Name) {
                    let origin = (self.written_name(name), choice.name.clone());
                    self.copies.insert(loops::copy_name(name, &choice.name), origin);
                }
                let copy = loops::copy_row(cells, choice, &renamed, *direct);
                self.row(copy);
            }
            self.loop_stack.pop();
            // The body is balanced, so only the choice's group is left open; a body of
            // comment rows leaves it empty, and then the loop reports that it is empty.
            while self.stack.len() > depth {
                if let Some(frame) = self.stack.pop()
                    && !frame.group.children.is_empty()
                {
                    self.push(node_of(frame));
                }
            }
        }
    }

    fn question(&mut self, cells: &RowCells<'_>, type_text: &str, kind: QuestionType, inexact: bool) {
        let name = if kind == QuestionType::Audit {
            // ODK requires the audit log to be called `audit`.
            match cells.get(&Column::Name) {
                Some(c) if c.value != "audit" => {
                    let at = cells.at(c);
                    self.issue(at, "an audit must be named \"audit\"; leave the name empty");
                }
                _ => {}
            }
            self.register(cells, "audit");
            "audit".to_owned()
        } else {
            self.claim_name(cells, type_text)
        };
        let mut q = empty_question(name, kind.clone());
        if inexact {
            // Terrain's type is an approximation: keep the XLSForm type with the question.
            q.extra.insert("type".to_owned(), type_text.to_owned());
        }
        self.mark_copy(&q.name, LOOP_QUESTION, &mut q.extra);
        let rules = ParameterRules { type_text, is_select: false, from_file: false };
        self.reader.fill_question(&mut q, cells, rules);
        self.note_save_to(cells, &q.name, false);
        self.check_label(cells, &q);
        if kind == QuestionType::Calculate
            && cells.get(&Column::Calculation).is_none()
            && !cells.value(&Column::Default).is_some_and(looks_dynamic)
        {
            self.issue(
                cells.at_column(&Column::Calculation),
                "a calculate needs a calculation (the expression whose value it holds)",
            );
        }
        if kind == QuestionType::Audit {
            // pyxform puts the audit in the form's metadata, outside any group or repeat.
            self.audits.push(Node::Question(q));
        } else {
            self.push(Node::Question(q));
        }
    }

    fn select(&mut self, cells: &RowCells<'_>, type_text: &str, command: SelectCommand, list: &str, or_other: bool) {
        let name = self.claim_name(cells, type_text);
        let type_at = cells.at_column(&Column::Type);
        if list.contains("${") {
            self.issue(
                type_at,
                "choices from the answers of a repeat (a ${reference} as the list name) are \
                 not supported by Terrain",
            );
            return;
        }
        let from_file_command = matches!(command, SelectCommand::OneFromFile | SelectCommand::MultipleFromFile);
        if from_file_command && !has_one_file_extension(list) {
            self.issue(
                type_at,
                format!("the file name \"{list}\" must end with one of {}", types::FILE_EXTENSIONS.join(", ")),
            );
        }
        let file = from_file_command || types::is_file_list(list);
        let kind = match command {
            SelectCommand::One | SelectCommand::OneFromFile if file => {
                QuestionType::SelectOneFromFile { file: list.to_owned() }
            }
            SelectCommand::Multiple | SelectCommand::MultipleFromFile if file => {
                QuestionType::SelectMultipleFromFile { file: list.to_owned() }
            }
            SelectCommand::OneFromFile => QuestionType::SelectOneFromFile { file: list.to_owned() },
            SelectCommand::MultipleFromFile => QuestionType::SelectMultipleFromFile { file: list.to_owned() },
            SelectCommand::One => {
                self.require_list(list, type_at);
                QuestionType::SelectOne { list: list.to_owned(), or_other }
            }
            SelectCommand::Multiple => {
                self.require_list(list, type_at);
                self.check_multiple_names(list, type_at);
                QuestionType::SelectMultiple { list: list.to_owned(), or_other }
            }
            SelectCommand::Rank => {
                self.require_list(list, type_at);
                QuestionType::Rank { list: list.to_owned() }
            }
            SelectCommand::OneExternal => {
                self.require_external_list(list, type_at);
                QuestionType::SelectOne { list: format!("{EXTERNAL_PREFIX}{list}"), or_other: false }
            }
        };
        let mut q = empty_question(name.clone(), kind);
        self.mark_copy(&name, LOOP_QUESTION, &mut q.extra);
        let rules = ParameterRules { type_text, is_select: true, from_file: from_file_command };
        self.reader.fill_question(&mut q, cells, rules);
        self.note_save_to(cells, &q.name, false);
        self.check_label(cells, &q);
        self.check_table_list(cells, list);

        let mut follow_up = None;
        if or_other {
            if let Some(filter) = cells.get(&Column::ChoiceFilter) {
                let at = cells.at(filter);
                self.issue(at, "a choice_filter cannot be combined with or_other");
            } else if file || command == SelectCommand::OneExternal {
                self.issue(type_at, "or_other needs a choice list on the choices sheet");
            } else if self.lists.choices.get(list).is_some_and(|l| !l.is_empty()) {
                self.other_lists.push(list.to_owned());
            }
            let other_name = format!("{name}_other");
            if let Some((written, choice)) = self.copies.get(&name).cloned() {
                self.copies.insert(other_name.clone(), (format!("{written}_other"), choice));
            }
            if !name.is_empty() {
                self.register(cells, &other_name);
            }
            let relevant = format!("selected(${{{name}}}, 'other')");
            let relevant = self.reader.refs.expression(type_at, &relevant, self.reader.issues);
            let mut other = other_question(other_name, relevant);
            self.mark_copy(&other.name, LOOP_QUESTION, &mut other.extra);
            follow_up = Some(other);
        }
        self.push(Node::Question(q));
        if let Some(other) = follow_up {
            self.push(Node::Question(other));
        }
    }

    /// An OpenMapKit question: a file question whose file OpenMapKit makes (see the module
    /// documentation).
    fn osm(&mut self, cells: &RowCells<'_>, type_text: &str, list: Option<&str>) {
        let name = self.claim_name(cells, type_text);
        let mut q = empty_question(name, QuestionType::File);
        q.extra.insert("type".to_owned(), "osm".to_owned());
        self.mark_copy(&q.name, LOOP_QUESTION, &mut q.extra);
        match (list, self.lists.osm) {
            (Some(list), Some(tags)) if tags.contains_key(list) => {
                q.extra.insert(OSM_TAGS.to_owned(), format!("{OSM_PREFIX}{list}"));
            }
            (Some(list), Some(_)) => {
                let at = cells.at_column(&Column::Type);
                self.issue(at, format!("the tag list \"{list}\" is not on the osm sheet"));
            }
            // pyxform ignores the list when there is no osm sheet.
            (Some(_), None) | (None, _) => {}
        }
        let rules = ParameterRules { type_text, is_select: false, from_file: false };
        self.reader.fill_question(&mut q, cells, rules);
        self.note_save_to(cells, &q.name, false);
        self.check_label(cells, &q);
        self.push(Node::Question(q));
    }

    fn require_list(&mut self, list: &str, at: At<'_>) {
        if self.lists.choices.contains_key(list) {
            return;
        }
        let message = if !self.lists.has_choices {
            format!(
                "the choice list \"{list}\" cannot be found: there is no choices sheet with \
                 list_name, name and label columns"
            )
        } else {
            let hint = self
                .lists
                .choices
                .keys()
                .find(|k| k.eq_ignore_ascii_case(list))
                .map(|k| format!(" (there is a list \"{k}\"; list names are case-sensitive)"))
                .unwrap_or_default();
            format!("the choice list \"{list}\" is not on the choices sheet{hint}")
        };
        self.issue(at, message);
    }

    fn require_external_list(&mut self, list: &str, at: At<'_>) {
        match self.lists.external {
            None => self.issue(
                at,
                "select_one_external needs an external_choices sheet with list_name and name \
                 columns",
            ),
            Some(lists) if !lists.contains_key(list) => {
                self.issue(at, format!("the choice list \"{list}\" is not on the external_choices sheet"))
            }
            Some(_) => {}
        }
    }

    /// Multiple answers are stored space-separated, so their codes cannot hold spaces.
    fn check_multiple_names(&mut self, list: &str, at: At<'_>) {
        let spaced: Vec<String> = self
            .lists
            .choices
            .get(list)
            .into_iter()
            .flatten()
            .filter(|c| c.name.contains(' '))
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        if !spaced.is_empty() {
            self.issue(
                at,
                format!(
                    "list \"{list}\" has choice names with spaces ({}), which select_multiple \
                     cannot store; replace the spaces with underscores",
                    spaced.join(", ")
                ),
            );
        }
    }

    fn check_table_list(&mut self, cells: &RowCells<'_>, list: &str) {
        match &self.table_list {
            None => {}
            Some(None) => {
                if let Some(filter) = cells.get(&Column::ChoiceFilter) {
                    let at = cells.at(filter);
                    self.issue(at, "a choice_filter cannot be used in a table-list group");
                }
                self.table_list = Some(Some(list.to_owned()));
            }
            Some(Some(first)) if first != list => {
                let message = format!(
                    "every select in a table-list group must use the same choice list; this one \
                     uses \"{list}\", the first one \"{first}\""
                );
                self.issue(cells.at_column(&Column::Type), message);
            }
            Some(Some(_)) => {}
        }
    }

    fn check_label(&mut self, cells: &RowCells<'_>, q: &Question) {
        if q.media.contains_key("big-image") && !q.media.contains_key("image") {
            self.issue(
                At::row(cells.sheet, cells.row),
                "a big-image needs an image too (the image is shown, the big-image on tap)",
            );
        }
        if !shows_on_screen(q) {
            return;
        }
        if q.label.is_empty() && q.hint.is_empty() && q.media.is_empty() {
            let message = format!(
                "the question \"{}\" has no label: add a label (or a hint, image, audio or \
                 video) so that the enumerator knows what to answer",
                q.name
            );
            self.issue(cells.at_column(&Column::Label(String::new())), message);
        }
    }

    fn finish(mut self) -> Survey {
        // A loop never closed: check its body as written (its begin row is reported below).
        while let Some(pending) = self.pending_loop.take() {
            for (cells, _) in pending.rows {
                self.row(cells);
            }
        }
        for frame in std::mem::take(&mut self.stack).into_iter().rev() {
            let word = frame.container.word();
            self.issue(
                At::row(&self.sheet.name, frame.row),
                format!(
                    "the {word} \"{}\" that begins here is never closed; add an \"end {word}\" \
                     row after its last question",
                    frame.group.name
                ),
            );
        }
        for list in std::mem::take(&mut self.other_lists) {
            if let Some(choices) = self.lists.choices.get_mut(&list) {
                add_other_choice(choices);
            }
        }
        let mut out = self.out;
        out.children.append(&mut self.audits);
        out
    }
}

/// The node a closed frame becomes.
fn node_of(frame: Frame) -> Node {
    match frame.container {
        Container::Repeat => Node::Repeat(frame.group),
        Container::Group | Container::Loop(_) => Node::Group(frame.group),
    }
}

/// A name of a loop's body and the name of its copy for `choice`: `q` and `q_c`, or for the
/// or_other follow-up of select `q`, `q_other` and `q_c_other` (what the copy of `q` adds).
fn copy_of(name: &str, follow_up: bool, choice: &str) -> (String, String) {
    let copy = loops::copy_name(name, choice);
    if follow_up { (format!("{name}_other"), format!("{copy}_other")) } else { (name.to_owned(), copy) }
}

/// Whether pyxform gives the question a control on screen (and so requires a label).
fn shows_on_screen(q: &Question) -> bool {
    use QuestionType as Q;
    let metadata = matches!(
        q.kind,
        Q::Calculate
            | Q::Hidden
            | Q::Start
            | Q::End
            | Q::Today
            | Q::DeviceId
            | Q::Username
            | Q::PhoneNumber
            | Q::Email
            | Q::Audit
    );
    // A question with a calculation or trigger and no label or hint is computed, not shown.
    let has_trigger = q.extra.keys().any(|k| k.eq_ignore_ascii_case("trigger"));
    let computed = (q.calculation.is_some() || has_trigger) && q.label.is_empty() && q.hint.is_empty();
    !metadata && !computed
}

/// The free-text follow-up pyxform adds after a select with `or_other`, shown when
/// `other` is chosen.
fn other_question(name: String, relevant: Option<Expression>) -> Question {
    let mut q = empty_question(name, QuestionType::Text);
    q.label = Translations::plain("Specify other.");
    q.relevant = relevant;
    q
}

/// Adds the `other` choice unless the list has one; labelled in each language the list's
/// labels use, as pyxform does.
pub(crate) fn add_other_choice(choices: &mut Vec<Choice>) {
    if choices.iter().any(|c| c.name == "other") {
        return;
    }
    let mut label = Translations::default();
    for choice in choices.iter() {
        for language in choice.label.0.keys() {
            label.0.insert(language.clone(), "Other".to_owned());
        }
    }
    if label.is_empty() {
        label = Translations::plain("Other");
    }
    choices.push(Choice { name: "other".to_owned(), label, media: BTreeMap::new(), extra: BTreeMap::new() });
}

/// Whether a file name has exactly one extension (pyxform: `len(Path.suffixes) == 1`).
fn has_one_file_extension(list: &str) -> bool {
    let base = list.rsplit('/').next().unwrap_or(list).trim_start_matches('.');
    !base.ends_with('.') && base.matches('.').count() == 1 && types::is_file_list(list)
}

/// pyxform's test for a default that must be computed (`default_is_dynamic`), close
/// enough: a reference, a function call, a predicate or arithmetic.
fn looks_dynamic(default: &str) -> bool {
    ["${", "(", "[", "+", "*", "|", " div ", " mod ", " - "].iter().any(|t| default.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_choice_follows_label_languages() {
        let mut choices = vec![Choice {
            name: "a".into(),
            label: Translations([("en".to_owned(), "A".to_owned()), ("fr".to_owned(), "A".to_owned())].into()),
            media: BTreeMap::new(),
            extra: BTreeMap::new(),
        }];
        add_other_choice(&mut choices);
        assert_eq!(choices[1].name, "other");
        assert_eq!(choices[1].label.0.len(), 2);
        add_other_choice(&mut choices);
        assert_eq!(choices.len(), 2);
    }

    #[test]
    fn file_extensions() {
        assert!(has_one_file_extension("cities.csv"));
        assert!(!has_one_file_extension("cities.b.csv"));
        assert!(!has_one_file_extension("cities.txt"));
        assert!(!has_one_file_extension("cities"));
    }
}
