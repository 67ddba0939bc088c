//! The `entities` sheet and the survey's `save_to` column → the form's entity declaration
//! (`terrain_core::form::entities`).
//!
//! The checks are pyxform's (`pyxform/entities/entities_parsing.py`), with its messages'
//! substance: a list name that is a valid name without `.` or a leading `__`; a label when
//! the form creates; `entity_id` when it updates; `create_if` beside `entity_id` only with
//! `update_if` too; `save_to` only with an entities sheet, only on questions outside
//! repeats, never to `name`, `label` or a `__` name.
//!
//! Where Terrain differs: one declaration per form, from questions outside repeats (pyxform
//! 4.3 declares several, and entities in repeats, one per instance; Terrain does not yet);
//! and a label that is plain text rather than an expression is the label itself.

use std::collections::HashMap;

use super::error::{At, Issues};
use super::names::is_ncname;
use super::references::References;
use super::sheets::Sheet;
use super::survey::SaveTo;
use super::text::clean;
use terrain_core::form::entities::{EntityDeclaration, SavedProperty};
use terrain_core::form::expr::Expression;

/// The columns of the entities sheet. pyxform 4.1–4.2's `repeat` is accepted and ignored,
/// as pyxform 4.3 does.
const COLUMNS: [&str; 6] = ["list_name", "label", "entity_id", "create_if", "update_if", "repeat"];

/// Reads the entities sheet (if any) and the survey's `save_to` cells into the form's entity
/// declarations, recording every problem.
pub(crate) fn read(
    sheet: Option<&Sheet>,
    survey_sheet: &Sheet,
    save_tos: &[SaveTo],
    refs: &mut References,
    issues: &mut Issues,
) -> Vec<EntityDeclaration> {
    let declaration = sheet.and_then(|sheet| declaration(sheet, refs, issues));
    let list = declaration.as_ref().map(|d| d.list.as_str());
    // A sheet with no row declares nothing: a save_to then has nowhere to go (ENTITY_001).
    let declares = sheet.is_some_and(|s| !s.rows.is_empty());
    let properties = properties(survey_sheet, save_tos, list, declares, issues);
    match declaration {
        Some(mut declaration) => {
            declaration.properties = properties;
            vec![declaration]
        }
        None => Vec::new(),
    }
}

/// The one declaration of the entities sheet, without its properties.
fn declaration(sheet: &Sheet, refs: &mut References, issues: &mut Issues) -> Option<EntityDeclaration> {
    let mut columns: HashMap<&str, usize> = HashMap::new();
    for (index, header) in sheet.headers.iter().enumerate() {
        let key = header.trim().to_lowercase().replace(' ', "_");
        if key.is_empty() {
            continue;
        }
        let key = if key == "dataset" { "list_name".to_owned() } else { key };
        match COLUMNS.iter().find(|c| **c == key) {
            Some(column) => {
                if columns.insert(column, index).is_some() {
                    issues.add(
                        At::cell(&sheet.name, sheet.header_row, header),
                        "this column header appears twice; remove one",
                    );
                }
            }
            None => issues.add(
                At::cell(&sheet.name, sheet.header_row, header),
                format!(
                    "the entities sheet has no column \"{header}\"; its columns are {}",
                    COLUMNS[..5].iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
                ),
            ),
        }
    }
    let row = match sheet.rows.as_slice() {
        [] => return None,
        [row] => row,
        [_, second, ..] => {
            issues.add(
                At::row(&sheet.name, second.number),
                "a form declares one entity list (one row of the entities sheet); \
                 make a second form for the other list",
            );
            return None;
        }
    };
    let cell = |column: &str| -> Option<(String, At<'_>)> {
        let index = *columns.get(column)?;
        let value = clean(row.cell(index), false);
        (!value.is_empty()).then(|| (value, At::cell(&sheet.name, row.number, &sheet.headers[index])))
    };

    let list = match cell("list_name") {
        None => {
            issues.add(At::row(&sheet.name, row.number), "the entity list needs a name: fill in \"list_name\"");
            None
        }
        Some((name, at)) => match list_name_problem(&name) {
            Some(problem) => {
                issues.add(at, format!("the entity list name \"{name}\" {problem}"));
                None
            }
            None => Some(name),
        },
    };
    let mut expression = |column: &str| -> Option<Expression> {
        let (value, at) = cell(column)?;
        refs.expression(at, &value, issues)
    };
    let label = match cell("label") {
        // pyxform takes any text here (its own examples write a bare `l1`, which ODK would
        // evaluate as an empty path); Terrain takes text that is not an expression, and has
        // no reference in it, as the label itself.
        Some((value, _)) if Expression::parse(&value).is_err() && !value.contains("${") => {
            literal(&value).and_then(|quoted| Expression::parse(&quoted).ok()).or_else(|| expression("label"))
        }
        _ => expression("label"),
    };
    let entity_id = expression("entity_id");
    let create_if = expression("create_if");
    let update_if = expression("update_if");
    // Judge by the cells, so that an expression that did not parse (already reported) does
    // not also count as missing.
    let (has_label, has_id) = (cell("label").is_some(), cell("entity_id").is_some());
    let (has_create_if, has_update_if) = (cell("create_if").is_some(), cell("update_if").is_some());
    let at = At::row(&sheet.name, row.number);
    if has_update_if && !has_id {
        issues.add(at, "update_if needs \"entity_id\", the entity the survey updates (such as ${plot})");
    }
    if has_id && has_create_if && !has_update_if {
        issues.add(
            at,
            "create_if beside entity_id needs update_if too, to say when the survey updates \
             the entity rather than creates one",
        );
    }
    if !has_id && !has_label {
        issues.add(at, "an entity the survey creates needs a \"label\", the name it is chosen by");
    }
    Some(EntityDeclaration { list: list?, label, entity_id, create_if, update_if, properties: Vec::new() })
}

/// `text` as an XPath string literal, if it can be one (XPath 1 has no escapes).
fn literal(text: &str) -> Option<String> {
    if !text.contains('\'') {
        Some(format!("'{text}'"))
    } else if !text.contains('"') {
        Some(format!("\"{text}\""))
    } else {
        None
    }
}

/// What is wrong with an entity list name, as pyxform judges it.
fn list_name_problem(name: &str) -> Option<&'static str> {
    if name.starts_with("__") {
        Some("starts with \"__\", which is reserved; rename it")
    } else if name.contains('.') {
        Some("has a period, which entity list names may not have; rename it")
    } else if !is_ncname(name) {
        Some("is not a valid name: start with a letter or \"_\", then letters, digits, \"-\" or \"_\"")
    } else {
        None
    }
}

/// The saved properties, checked.
fn properties(
    survey: &Sheet,
    save_tos: &[SaveTo],
    list: Option<&str>,
    has_entities: bool,
    issues: &mut Issues,
) -> Vec<SavedProperty> {
    let mut properties: Vec<SavedProperty> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for save in save_tos {
        let at = At::cell(&survey.name, save.row, &save.header);
        // `list#property` names the list, which one declaration makes optional.
        let (prefix, property) = match save.property.split_once('#') {
            Some((prefix, property)) => (Some(prefix), property),
            None => (None, save.property.as_str()),
        };
        let problem = if !has_entities {
            Some(
                "saves to an entity property, but the form declares no entity list: add an entities sheet \
                 with a row for the list"
                    .to_owned(),
            )
        } else if property.contains('#') {
            Some(
                "has more than one \"#\"; write the property, or the list and the property as list#property".to_owned(),
            )
        } else if let Some(prefix) = prefix.filter(|p| list.is_some_and(|list| list != *p)) {
            Some(format!(
                "names the entity list \"{prefix}\", which the entities sheet does not declare; check its spelling"
            ))
        } else if save.is_container {
            Some("groups and repeats cannot be saved as entity properties; save their questions".to_owned())
        } else if save.in_repeat {
            Some(
                "a question in a repeat or loop cannot be saved to an entity property: Terrain \
                 creates entities only from questions outside repeats"
                    .to_owned(),
            )
        } else if ["name", "label"].contains(&property.to_lowercase().as_str()) {
            Some(format!("the entity property name \"{property}\" is reserved; choose another"))
        } else if property.starts_with("__") {
            Some(format!("the entity property name \"{property}\" starts with \"__\", which is reserved"))
        } else if !is_ncname(property) {
            Some(format!(
                "\"{property}\" is not a valid entity property name: start with a letter or \"_\", \
                 then letters, digits, \"-\", \".\" or \"_\""
            ))
        } else {
            seen.get(property).map(|first| {
                format!("row {first} already saves to the entity property \"{property}\"; save each property once")
            })
        };
        match problem {
            Some(problem) => issues.add(at, problem),
            None => {
                seen.insert(property, save.row);
                properties.push(SavedProperty { property: property.to_owned(), question: save.node.clone() });
            }
        }
    }
    properties
}
