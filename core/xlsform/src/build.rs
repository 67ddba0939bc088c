//! Puts a whole form together: settings, choice lists, the survey tree, then the checks
//! that need the whole form (references), and returns a [`Form`] only if nothing is wrong.

use std::collections::{BTreeMap, HashSet};

use super::choices;
use super::entities;
use super::error::{At, ImportError, Issues};
use super::headers::{self, Columns, SheetKind};
use super::references::References;
use super::settings::{self, Settings};
use super::sheets::{Sheet, Workbook};
use super::survey::{self, EXTERNAL_PREFIX, Lists, OSM_PREFIX};
use terrain_core::form::model::Form;

/// The sheet names pyxform reads; a workbook with one sheet not named any of these has
/// its survey on that sheet.
const XLSFORM_SHEETS: [&str; 6] = ["survey", "choices", "settings", "external_choices", "osm", "entities"];

/// Builds the form held in `book`.
///
/// `file` names the file in errors; `file_name` gives the default form id.
/// `lone_sheet_is_survey` is pyxform's rule for Excel files (not CSV): a workbook whose
/// only sheet has another name is read as the survey.
pub(crate) fn build_form(
    file: &str,
    file_name: &str,
    book: &Workbook,
    lone_sheet_is_survey: bool,
) -> Result<Form, ImportError> {
    let survey_sheet = find_survey(file, book, lone_sheet_is_survey)?;
    let mut issues = Issues::new(book.sheets.iter().map(|s| s.name.clone()).collect());
    let mut refs = References::default();

    let settings = book.sheet("settings").map(|s| settings::read(s, &mut refs, &mut issues)).unwrap_or_default();
    let mut choices = book
        .sheet("choices")
        .map(|s| choices::read(s, settings.allow_choice_duplicates(), Some(&mut refs), &mut issues))
        .unwrap_or_default();
    // pyxform copies external choices out verbatim: no duplicate or reference checks.
    let external_sheet = book.sheet("external_choices");
    let external = external_sheet.map(|s| choices::read(s, true, None, &mut issues));
    // OpenMapKit tag lists. pyxform reads this sheet without any check, so a problem in it
    // (a tag without a name, which is then left out) does not refuse the form here either.
    let osm_sheet = book.sheet("osm");
    let osm = osm_sheet.map(|s| choices::read(s, true, None, &mut Issues::default()));

    let survey_columns = headers::resolve(survey_sheet, SheetKind::Survey, &mut issues);
    let has_choices = !choices.lists.is_empty();
    let survey = survey::read(
        survey_sheet,
        &survey_columns,
        settings.clean_text_values(),
        Lists {
            choices: &mut choices.lists,
            has_choices,
            external: external.as_ref().map(|e| &e.lists),
            osm: osm.as_ref().map(|o| &o.lists),
        },
        &mut refs,
        &mut issues,
    );

    let entities = entities::read(book.sheet("entities"), survey_sheet, &survey.save_tos, &mut refs, &mut issues);

    let mut known: HashSet<String> = survey.names.keys().cloned().collect();
    if settings.has_instance_id() {
        // pyxform adds `meta/instanceID` to every form unless told not to.
        known.insert("instanceID".to_owned());
    }
    refs.check(&known, &survey.loop_names, &mut issues);

    let mut choice_lists = choices.lists;
    for (sheet, lists, prefix) in [(external_sheet, &external, EXTERNAL_PREFIX), (osm_sheet, &osm, OSM_PREFIX)] {
        let (Some(sheet), Some(lists)) = (sheet, lists) else { continue };
        for (list, items) in &lists.lists {
            let key = format!("{prefix}{list}");
            if choice_lists.contains_key(&key) {
                issues.add(
                    At::sheet(&sheet.name),
                    format!("the choices sheet already has a list named \"{key}\"; rename it"),
                );
            }
            choice_lists.insert(key, items.clone());
        }
    }

    if !issues.is_empty() {
        return Err(ImportError::Invalid { file: file.to_owned(), errors: issues.into_sorted() });
    }

    let mut languages = Vec::new();
    collect_languages(survey_sheet, &survey_columns, &mut languages);
    collect_languages_of(book.sheet("choices"), &choices.columns, &mut languages);
    for (sheet, lists) in [(external_sheet, &external), (osm_sheet, &osm)] {
        if let (Some(sheet), Some(lists)) = (sheet, lists) {
            collect_languages(sheet, &lists.columns, &mut languages);
        }
    }

    let mut form = assemble(file_name, settings, survey, choice_lists, languages);
    form.entities = entities;
    Ok(form)
}

fn assemble(
    file_name: &str,
    settings: Settings,
    survey: survey::Survey,
    choice_lists: BTreeMap<String, Vec<terrain_core::form::model::Choice>>,
    languages: Vec<String>,
) -> Form {
    let Settings { id, title, version, default_language, instance_name, mut other } = settings;
    let (mut id, mut title) = (id, title);
    // Settings written as survey rows come after the settings sheet, so they win.
    for (key, value) in survey.settings {
        match key {
            "id_string" => id = Some(value),
            "title" => title = Some(value),
            _ => {
                other.insert(key.to_owned(), value);
            }
        }
    }
    let id = id.unwrap_or_else(|| settings::default_form_id(file_name));
    Form {
        title: title.unwrap_or_else(|| id.clone()),
        id,
        version: version.unwrap_or_default(),
        default_language,
        languages,
        instance_name,
        settings: other,
        children: survey.children,
        choice_lists,
        entities: Vec::new(),
        external_instances: survey.external_instances,
    }
}

fn find_survey<'b>(file: &str, book: &'b Workbook, lone_sheet_is_survey: bool) -> Result<&'b Sheet, ImportError> {
    if let Some(sheet) = book.sheet("survey") {
        return Ok(sheet);
    }
    if lone_sheet_is_survey
        && let [only] = book.sheets.as_slice()
        && !XLSFORM_SHEETS.iter().any(|n| only.name.trim().eq_ignore_ascii_case(n))
    {
        return Ok(only);
    }
    let names: Vec<String> = book.sheets.iter().map(|s| format!("\"{}\"", s.name)).collect();
    let similar = book
        .sheets
        .iter()
        .find(|s| edit_distance(&s.name.trim().to_lowercase(), "survey") <= 2)
        .map(|s| format!("; is \"{}\" meant to be it?", s.name))
        .unwrap_or_default();
    let found =
        if names.is_empty() { "it has no sheets".to_owned() } else { format!("its sheets are {}", names.join(", ")) };
    Err(ImportError::Read {
        file: file.to_owned(),
        reason: format!("it has no sheet named \"survey\" ({found}){similar}"),
    })
}

/// Languages of translatable columns that hold any text, in column order.
fn collect_languages(sheet: &Sheet, columns: &Columns, languages: &mut Vec<String>) {
    for (index, column) in columns.by_index.iter().enumerate() {
        let Some(language) = column.as_ref().and_then(|c| c.language()) else {
            continue;
        };
        if language.is_empty() || languages.iter().any(|l| l == language) {
            continue;
        }
        if sheet.rows.iter().any(|r| !r.cell(index).is_empty()) {
            languages.push(language.to_owned());
        }
    }
}

fn collect_languages_of(sheet: Option<&Sheet>, columns: &Columns, languages: &mut Vec<String>) {
    if let Some(sheet) = sheet {
        collect_languages(sheet, columns, languages);
    }
}

/// Levenshtein distance, for spotting a misspelt `survey` sheet.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("survey", "survey"), 0);
        assert_eq!(edit_distance("survy", "survey"), 1);
        assert_eq!(edit_distance("surveys", "survey"), 1);
        assert_eq!(edit_distance("choices", "survey"), 6);
    }
}
