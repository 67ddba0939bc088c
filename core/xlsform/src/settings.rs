//! The `settings` sheet: form id, version, title, default language, instance name, and
//! every other setting kept as it is.
//!
//! As in pyxform, only the first data row counts, `form_id`/`id_string` and
//! `form_title`/`title` are two spellings of one setting each (`form_id` wins when both are
//! given), and the form id defaults to the file name without its extension.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::{At, Issues};
use super::headers::{self, Column, SheetKind};
use super::references::References;
use super::sheets::Sheet;
use super::text::yes_no;
use terrain_core::form::expr::Expression;

/// The settings that steer the import, and those kept for the form.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    /// `form_id`.
    pub id: Option<String>,
    /// `form_title`.
    pub title: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `default_language`.
    pub default_language: Option<String>,
    /// `instance_name`, parsed.
    pub instance_name: Option<Expression>,
    /// Every other non-empty setting, by pyxform's name for it (or the header as written).
    pub other: BTreeMap<String, String>,
}

impl Settings {
    /// Reads a yes/no setting, with pyxform's default when absent or not yes/no.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.other.get(key).and_then(|v| yes_no(v)).unwrap_or(default)
    }

    /// Whether runs of spaces in survey cells are collapsed (`clean_text_values`).
    pub fn clean_text_values(&self) -> bool {
        self.flag("clean_text_values", true)
    }

    /// Whether a choice list may repeat a choice name (`allow_choice_duplicates`).
    pub fn allow_choice_duplicates(&self) -> bool {
        self.flag("allow_choice_duplicates", false)
    }

    /// Whether `${instanceID}` is there to refer to (`omit_instanceID` not set).
    pub fn has_instance_id(&self) -> bool {
        !self.flag("omit_instanceID", false)
    }
}

/// Reads the settings sheet.
pub(crate) fn read(sheet: &Sheet, refs: &mut References, issues: &mut Issues) -> Settings {
    let sheet = without_shadowed_id_string(sheet);
    let columns = headers::resolve(&sheet, SheetKind::Settings, issues);
    let mut settings = Settings::default();
    let Some(row) = sheet.rows.first() else {
        return settings;
    };
    for (column, header, value) in columns.filled(&sheet, row) {
        let at = At::cell(&sheet.name, row.number, header);
        let key = match column {
            Column::Setting(key) => key.as_str(),
            _ => header.as_str(),
        };
        match key {
            "id_string" => settings.id = Some(value),
            "title" => settings.title = Some(value),
            "version" => settings.version = Some(value),
            "default_language" => settings.default_language = Some(value),
            "instance_name" => settings.instance_name = refs.expression(at, &value, issues),
            _ => {
                refs.scan_text(at, &value, issues);
                settings.other.insert(key.to_owned(), value);
            }
        }
    }
    settings
}

/// pyxform drops an `id_string` column when `form_id` is also there, rather than calling
/// them duplicates.
fn without_shadowed_id_string(sheet: &Sheet) -> Sheet {
    let mut sheet = sheet.clone();
    let snake: Vec<String> = sheet.headers.iter().map(|h| headers::snake_case(h)).collect();
    if snake.iter().any(|h| h == "form_id") {
        for (header, snake) in sheet.headers.iter_mut().zip(&snake) {
            if snake == "id_string" {
                header.clear();
            }
        }
    }
    sheet
}

/// The form id pyxform derives when the settings give none: the file name without its
/// extension (`Household survey.xlsx` → `Household survey`), else `data`.
pub(crate) fn default_form_id(file_name: &str) -> String {
    Path::new(file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "data".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_id_is_the_file_stem() {
        assert_eq!(default_form_id("Household survey.xlsx"), "Household survey");
        assert_eq!(default_form_id("/tmp/a.b.xls"), "a.b");
        assert_eq!(default_form_id(""), "data");
    }
}
