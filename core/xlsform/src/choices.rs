//! The `choices` (and `external_choices`) sheets: choice lists by list name.
//!
//! As in pyxform, a row without a list name is ignored, a choice must have a name, and a
//! list may not repeat a choice name unless the `allow_choice_duplicates` setting says so.
//! Columns other than list name, name, label and media are kept with each choice: they are
//! what `choice_filter` expressions test (`region = ${region}`).

use std::collections::{BTreeMap, HashMap};

use super::error::{At, Issues};
use super::headers::{self, Column, Columns, SheetKind};
use super::references::References;
use super::sheets::Sheet;
use terrain_core::form::model::{Choice, Translations};

/// A sheet's choice lists, and where each choice came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChoiceSheet {
    /// The lists, choices in sheet order.
    pub lists: BTreeMap<String, Vec<Choice>>,
    /// The resolved columns, for collecting the languages used.
    pub columns: Columns,
}

/// Reads a choices sheet. References in labels and media are noted only for the `choices`
/// sheet, since pyxform writes `external_choices` out verbatim.
pub(crate) fn read(
    sheet: &Sheet,
    allow_duplicates: bool,
    refs: Option<&mut References>,
    issues: &mut Issues,
) -> ChoiceSheet {
    let columns = headers::resolve(sheet, SheetKind::Choices, issues);
    let list_col = columns.find(&Column::ListName);
    let name_col = columns.find(&Column::Name);
    if name_col.is_none() && !sheet.rows.is_empty() {
        issues.add(
            At::row(&sheet.name, sheet.header_row),
            "this sheet has no \"name\" column; add one holding each choice's code",
        );
        return ChoiceSheet { columns, ..ChoiceSheet::default() };
    }
    let mut refs = refs;
    let mut lists: BTreeMap<String, Vec<Choice>> = BTreeMap::new();
    let mut first_row: HashMap<(String, String), usize> = HashMap::new();
    for row in &sheet.rows {
        let list = list_col.map(|i| row.cell(i)).unwrap_or_default();
        if list.is_empty() {
            continue;
        }
        // The list exists even if all its choices are faulty, so that selects using it
        // are not also reported.
        let choices = lists.entry(list.to_owned()).or_default();
        let name = name_col.map(|i| row.cell(i)).unwrap_or_default();
        let mut choice = Choice {
            name: name.to_owned(),
            label: Translations::default(),
            media: BTreeMap::new(),
            extra: BTreeMap::new(),
        };
        for (column, header, value) in columns.filled(sheet, row) {
            let at = At::cell(&sheet.name, row.number, header);
            match column {
                Column::ListName | Column::Name => {}
                Column::Label(language) => {
                    note_refs(refs.as_deref_mut(), at, &value, issues);
                    choice.label.0.insert(language.clone(), value);
                }
                Column::Media { kind, language } => {
                    note_refs(refs.as_deref_mut(), at, &value, issues);
                    choice.media.entry(kind.clone()).or_default().0.insert(language.clone(), value);
                }
                _ => {
                    choice.extra.insert(header.clone(), value);
                }
            }
        }
        let name_header = name_col.and_then(|i| sheet.headers.get(i)).map_or("name", String::as_str);
        if name.is_empty() {
            issues.add(
                At::cell(&sheet.name, row.number, name_header),
                format!("this choice of list \"{list}\" has no name; every choice needs a code"),
            );
            continue;
        }
        match first_row.get(&(list.to_owned(), name.to_owned())) {
            Some(first) if !allow_duplicates => issues.add(
                At::cell(&sheet.name, row.number, name_header),
                format!(
                    "list \"{list}\" already has a choice named \"{name}\" (row {first}); choice \
                     names must be unique within a list, unless the allow_choice_duplicates \
                     setting is yes"
                ),
            ),
            _ => {
                first_row.entry((list.to_owned(), name.to_owned())).or_insert(row.number);
                choices.push(choice);
            }
        }
    }
    ChoiceSheet { lists, columns }
}

fn note_refs(refs: Option<&mut References>, at: At<'_>, value: &str, issues: &mut Issues) {
    if let Some(refs) = refs {
        refs.scan_text(at, value, issues);
    }
}
