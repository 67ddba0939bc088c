//! Loops: `begin loop over LIST` … `end loop`, pyxform's way of asking the same questions
//! once for each choice of a list (a table of counts by toilet type, say).
//!
//! pyxform expands a loop into a group holding one group per choice, each with a copy of
//! the loop's body under the same names (`/data/loop/choice/question`). Terrain's names are
//! unique across the whole form, because answers are keyed by name, so the copies are
//! renamed. The surveyor sees the same screens as in ODK.
//!
//! # The mapping
//! For `begin loop over toilet_type` named `loop_toilets`, with choices `pit` and `bucket`,
//! and in its body `integer` `number` labelled `How many %(label)s?`:
//!
//! ```text
//! Group loop_toilets            label, relevant, … of the begin row; extra loop_list = toilet_type
//! ├─ Group loop_toilets_pit     label = the choice's label;           extra loop_choice = pit
//! │  └─ number_pit              "How many Pit latrine?";              extra loop_question = number,
//! │                                                                         loop_choice = pit
//! └─ Group loop_toilets_bucket  …
//!    └─ number_bucket           …
//! ```
//!
//! - Every node of the body, at any depth, is renamed `{name}_{choice}` (a group or repeat
//!   inside the body keeps its written name in `extra["loop_group"]` instead of
//!   `loop_question`). An `or_other` select's follow-up is `{name}_{choice}_other`, and an
//!   unnamed note `generated_note_name_{row}_{choice}`.
//! - Every `${name}` in the body that names a node of the body becomes `${name_choice}`, in
//!   every column, so that the copy for `pit` reads the answers for `pit`. (pyxform refuses
//!   such references as ambiguous; Terrain resolves them to the same copy.) A reference from
//!   outside the loop to a node inside it is refused, as in pyxform: it has to name one copy.
//! - As in pyxform, `%(label)s` and `%(name)s` in the cells of the loop's direct children
//!   (not deeper) become the choice's label (in the cell's language) and name, and `%%`
//!   becomes `%`. Other `%` sequences are left as written (pyxform fails on them).
//! - The choices are the list's, in order, without one named `none` (pyxform skips it),
//!   and with the `other` choice that an `or_other` select on the list adds.
//! - Nested loops compose: the copy for outer choice `a` and inner choice `x` of `q` is
//!   `q_a_x`; `loop_choice` holds the innermost choice, and each enclosing per-choice group
//!   holds its own.
//!
//! The body's rows are read again for each choice, so each copy gets every check a
//! question gets; a problem in the body is reported once, at its row.

use std::collections::HashMap;

use super::fields::{Cell, RowCells};
use super::headers::Column;
use terrain_core::form::model::Choice;

/// `extra` key of a node copied by a loop: the name it was written with.
pub(crate) const LOOP_QUESTION: &str = "loop_question";
/// `extra` key of a group or repeat copied by a loop: the name it was written with.
pub(crate) const LOOP_GROUP: &str = "loop_group";
/// `extra` key of the choice a copy (or a per-choice group) is for.
pub(crate) const LOOP_CHOICE: &str = "loop_choice";
/// `extra` key of a loop's group: the choice list it goes over.
pub(crate) const LOOP_LIST: &str = "loop_list";

/// The name of `name`'s copy for `choice`.
pub(crate) fn copy_name(name: &str, choice: &str) -> String {
    format!("{name}_{choice}")
}

/// Whether `choice` can end a name (`number_` + choice must be a valid name).
pub(crate) fn choice_fits_names(choice: &str) -> bool {
    super::names::is_valid_name(&format!("_{choice}"))
}

/// The choices a loop over `list` goes over: all but `none`, and `other` when an
/// `or_other` select adds it to the list (pyxform adds it to the list itself).
pub(crate) fn loop_choices(list: &[Choice], add_other: bool) -> Vec<Choice> {
    let mut choices: Vec<Choice> = list.iter().filter(|c| c.name != "none").cloned().collect();
    if add_other {
        super::survey::add_other_choice(&mut choices);
    }
    choices
}

/// pyxform's `text % {"name": …, "label": …}` for one cell, without its failures:
/// `%(name)s` and `%(label)s` are replaced, `%%` becomes `%`, anything else stays.
pub(crate) fn substitute(text: &str, choice: &Choice, language: Option<&str>) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let label = choice.label.get(language, None).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (replacement, used) = if tail.starts_with("%%") {
            ("%", 2)
        } else if tail.starts_with("%(name)s") {
            (choice.name.as_str(), "%(name)s".len())
        } else if tail.starts_with("%(label)s") {
            (label, "%(label)s".len())
        } else {
            ("%", 1)
        };
        out.push_str(replacement);
        rest = &tail[used..];
    }
    out.push_str(rest);
    out
}

/// Rewrites each `${name}` (or `${last-saved#name}`) whose name is a key of `renamed`.
pub(crate) fn rewrite_references(text: &str, renamed: &HashMap<String, String>) -> String {
    if !text.contains("${") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        let inner = &after[..end];
        let (prefix, name) = match inner.strip_prefix("last-saved#") {
            Some(name) => ("last-saved#", name),
            None => ("", inner),
        };
        out.push_str(&rest[..start]);
        match renamed.get(name) {
            Some(new) => {
                out.push_str("${");
                out.push_str(prefix);
                out.push_str(new);
                out.push('}');
            }
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// One row of a loop's body as read again for one choice: names renamed, references to the
/// body rewritten and, for direct children, `%(label)s` substituted. The type is kept.
pub(crate) fn copy_row<'a>(
    row: &RowCells<'a>,
    choice: &Choice,
    renamed: &HashMap<String, String>,
    direct_child: bool,
) -> RowCells<'a> {
    let cells = row
        .cells
        .iter()
        .map(|cell| {
            let value = match cell.column {
                Column::Type => cell.value.clone(),
                Column::Name => copy_name(&cell.value, &choice.name),
                column => {
                    let value = if direct_child {
                        substitute(&cell.value, choice, column.language())
                    } else {
                        cell.value.clone()
                    };
                    rewrite_references(&value, renamed)
                }
            };
            Cell { column: cell.column, header: cell.header, value }
        })
        .collect();
    RowCells { sheet: row.sheet, row: row.row, cells, headers: row.headers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use terrain_core::form::model::Translations;

    fn choice(name: &str, labels: &[(&str, &str)]) -> Choice {
        Choice {
            name: name.to_owned(),
            label: Translations(labels.iter().map(|(l, t)| ((*l).to_owned(), (*t).to_owned())).collect()),
            media: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn substitutes_like_pyxform() {
        let pit = choice("pit", &[("en", "Pit latrine"), ("fr", "Latrine")]);
        assert_eq!(substitute("How many %(label)s?", &pit, Some("en")), "How many Pit latrine?");
        assert_eq!(substitute("Combien de %(label)s ?", &pit, Some("fr")), "Combien de Latrine ?");
        assert_eq!(substitute("%(name)s: 100%%", &pit, None), "pit: 100%");
        // What pyxform would fail on stays as written.
        assert_eq!(substitute("50% of %(colour)s", &pit, None), "50% of %(colour)s");
        assert_eq!(substitute("no percent", &pit, None), "no percent");
        // A language the choice has no label in takes the label there is.
        assert_eq!(substitute("%(label)s", &choice("c", &[("", "C")]), Some("de")), "C");
    }

    #[test]
    fn rewrites_only_references_to_the_body() {
        let renamed: HashMap<String, String> =
            [("number", "number_pit"), ("why_other", "why_pit_other")].map(|(a, b)| (a.into(), b.into())).into();
        assert_eq!(
            rewrite_references("${number} > ${outside} and ${last-saved#number} != ''", &renamed),
            "${number_pit} > ${outside} and ${last-saved#number_pit} != ''"
        );
        assert_eq!(rewrite_references("${why_other}${number}", &renamed), "${why_pit_other}${number_pit}");
        // Malformed references are left for the reference checks to report.
        assert_eq!(rewrite_references("${number", &renamed), "${number");
        assert_eq!(rewrite_references("plain", &renamed), "plain");
    }

    #[test]
    fn choices_skip_none_and_gain_other() {
        let list = [choice("a", &[("en", "A")]), choice("none", &[]), choice("b", &[])];
        let names = |c: Vec<Choice>| c.into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(loop_choices(&list, false)), ["a", "b"]);
        assert_eq!(names(loop_choices(&list, true)), ["a", "b", "other"]);
    }

    #[test]
    fn names_of_copies() {
        assert_eq!(copy_name("number", "pit"), "number_pit");
        assert!(choice_fits_names("pit_latrine"));
        assert!(choice_fits_names("2"));
        assert!(!choice_fits_names("two words"));
        assert!(!choice_fits_names("a/b"));
    }
}
