//! Column headers: what each header of a sheet means, spelt any way pyxform accepts.
//!
//! This mirrors pyxform's `parsing/sheet_headers.process_header` with its alias tables
//! (`aliases.py`): headers match case-insensitively with spaces taken as underscores
//! (`Constraint Message` is `constraint_message`), aliases map old spellings to one meaning
//! (`relevance`, `bind::relevant`, `bind:relevant` are all `relevant`), and a header may
//! carry a language after `::` (`label::Français (fr)`) — or after a single `:` when no
//! header of the sheet uses `::` (the old style, `label:English`). Anything not understood
//! is kept as an extra column under the header as written.

use std::collections::{HashMap, HashSet};

use super::error::{At, Issues};
use super::sheets::{Row, Sheet};
use super::text::clean;

/// Which sheet a header belongs to: each has its own columns and aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SheetKind {
    /// The `survey` sheet.
    Survey,
    /// The `choices` and `external_choices` sheets.
    Choices,
    /// The `settings` sheet.
    Settings,
}

/// What a column means.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Column {
    /// `type`.
    Type,
    /// `name` (in choices also `value`).
    Name,
    /// The choice list a choice belongs to.
    ListName,
    /// A label, by language (`""` for none).
    Label(String),
    /// A hint, by language.
    Hint(String),
    /// The constraint message, by language.
    ConstraintMessage(String),
    /// The required message, by language.
    RequiredMessage(String),
    /// A media file (`image`, `big-image`, `audio`, `video`), by language.
    Media {
        /// The kind of media.
        kind: String,
        /// The language, `""` for none.
        language: String,
    },
    /// `required`.
    Required,
    /// `relevant`.
    Relevant,
    /// `constraint`.
    Constraint,
    /// `calculation`.
    Calculation,
    /// `read_only`.
    ReadOnly,
    /// `repeat_count`.
    RepeatCount,
    /// `default`.
    Default,
    /// `choice_filter`.
    ChoiceFilter,
    /// `appearance`.
    Appearance,
    /// `parameters`.
    Parameters,
    /// `disabled` (a yes here drops the row, as in pyxform).
    Disabled,
    /// `save_to`: the entity property a question's answer is saved to.
    SaveTo,
    /// A settings column, under pyxform's canonical name (`form_id` is `id_string`,
    /// `form_title` is `title`).
    Setting(String),
    /// A column Terrain does not interpret, kept under the header as written.
    Extra,
}

impl Column {
    /// The language of a translatable column.
    pub fn language(&self) -> Option<&str> {
        match self {
            Column::Label(l)
            | Column::Hint(l)
            | Column::ConstraintMessage(l)
            | Column::RequiredMessage(l)
            | Column::Media { language: l, .. } => Some(l),
            _ => None,
        }
    }
}

/// The meaning of each column of a sheet, by column index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    /// One entry per header; `None` for columns without a header.
    pub by_index: Vec<Option<Column>>,
}

impl Columns {
    /// The index of the first column with this meaning.
    pub fn find(&self, wanted: &Column) -> Option<usize> {
        self.by_index.iter().position(|c| c.as_ref() == Some(wanted))
    }

    /// The cells of `row` that hold text, in recognised columns: each with its column's
    /// meaning, its header as written, and its cleaned text.
    pub fn filled<'a>(
        &'a self,
        sheet: &'a Sheet,
        row: &'a Row,
    ) -> impl Iterator<Item = (&'a Column, &'a String, String)> + 'a {
        self.by_index.iter().enumerate().filter_map(move |(index, column)| {
            let (column, header) = (column.as_ref()?, sheet.headers.get(index)?);
            let value = clean(row.cell(index), false);
            (!value.is_empty()).then_some((column, header, value))
        })
    }
}

/// Resolves every header of `sheet`, reporting duplicate columns.
pub(crate) fn resolve(sheet: &Sheet, kind: SheetKind, issues: &mut Issues) -> Columns {
    let double_colon = sheet.headers.iter().any(|h| h.contains("::"));
    let mut seen: HashMap<Column, &str> = HashMap::new();
    let mut seen_extra: HashSet<&str> = HashSet::new();
    let mut by_index = Vec::with_capacity(sheet.headers.len());
    for header in &sheet.headers {
        if header.is_empty() {
            by_index.push(None);
            continue;
        }
        let column = resolve_header(header, kind, double_colon);
        let at = At::cell(&sheet.name, sheet.header_row, header);
        if column == Column::Extra {
            if !seen_extra.insert(header) {
                issues.add(at, "this column header appears twice; remove or rename one");
                by_index.push(None);
                continue;
            }
        } else if let Some(other) = seen.get(&column) {
            let message = if *other == header.as_str() {
                "this column header appears twice; remove or rename one".to_owned()
            } else {
                format!(
                    "this column means the same as column \"{other}\" (they are two \
                     spellings of one column); remove or rename one"
                )
            };
            issues.add(at, message);
            by_index.push(None);
            continue;
        } else {
            seen.insert(column.clone(), header);
        }
        by_index.push(Some(column));
    }
    Columns { by_index }
}

/// What one header means on a sheet of the given kind.
pub(crate) fn resolve_header(header: &str, kind: SheetKind, double_colon: bool) -> Column {
    // pyxform looks `disabled` up as written, outside its column tables.
    if kind == SheetKind::Survey && header == "disabled" {
        return Column::Disabled;
    }
    let Some(tokens) = pyxform_tokens(header, kind, double_colon) else {
        return Column::Extra;
    };
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    match kind {
        SheetKind::Survey => survey_column(&tokens),
        SheetKind::Choices => choices_column(&tokens),
        SheetKind::Settings => match tokens.as_slice() {
            [one] => Column::Setting((*one).to_owned()),
            _ => Column::Extra,
        },
    }
}

fn survey_column(tokens: &[&str]) -> Column {
    match tokens {
        ["type"] => Column::Type,
        ["name"] => Column::Name,
        ["label"] => Column::Label(String::new()),
        ["label", lang] => Column::Label((*lang).to_owned()),
        ["hint"] => Column::Hint(String::new()),
        ["hint", lang] => Column::Hint((*lang).to_owned()),
        ["bind", "relevant"] => Column::Relevant,
        ["bind", "constraint"] => Column::Constraint,
        ["bind", "required"] => Column::Required,
        ["bind", "calculate"] => Column::Calculation,
        ["bind", "readonly"] => Column::ReadOnly,
        // pyxform 4 leaves a bare `jr:constraintMsg` / `jr:requiredMsg` header (without
        // `bind::`) uninterpreted; older pyxform and the XLSForm docs accept it, so we do.
        ["bind", "jr:constraintMsg"] | ["jr:constraintMsg"] => Column::ConstraintMessage(String::new()),
        ["bind", "jr:constraintMsg", lang] | ["jr:constraintMsg", lang] => {
            Column::ConstraintMessage((*lang).to_owned())
        }
        ["bind", "jr:requiredMsg"] | ["jr:requiredMsg"] => Column::RequiredMessage(String::new()),
        ["bind", "jr:requiredMsg", lang] | ["jr:requiredMsg", lang] => Column::RequiredMessage((*lang).to_owned()),
        ["control", "appearance"] => Column::Appearance,
        ["control", "jr:count"] => Column::RepeatCount,
        ["default"] => Column::Default,
        ["choice_filter"] => Column::ChoiceFilter,
        ["parameters"] => Column::Parameters,
        ["disabled"] => Column::Disabled,
        ["bind", "entities:saveto"] => Column::SaveTo,
        rest => media_column(rest),
    }
}

fn choices_column(tokens: &[&str]) -> Column {
    match tokens {
        ["list name"] => Column::ListName,
        ["name"] => Column::Name,
        ["label"] => Column::Label(String::new()),
        ["label", lang] => Column::Label((*lang).to_owned()),
        rest => media_column(rest),
    }
}

fn media_column(tokens: &[&str]) -> Column {
    let (kind, language) = match tokens {
        ["media", kind] => (*kind, ""),
        ["media", kind, lang] => (*kind, *lang),
        _ => return Column::Extra,
    };
    if MEDIA_KINDS.contains(&kind) {
        Column::Media { kind: kind.to_owned(), language: language.to_owned() }
    } else {
        Column::Extra
    }
}

/// The media columns XLSForm defines.
pub(crate) const MEDIA_KINDS: [&str; 4] = ["image", "big-image", "audio", "video"];

/// A pyxform alias table: header → canonical tokens.
type AliasTable = fn(&str) -> Option<&'static [&'static str]>;

/// pyxform's `process_header`: the header split into canonical tokens, or `None` when the
/// header is not one pyxform knows (it is then kept as written).
fn pyxform_tokens(header: &str, kind: SheetKind, double_colon: bool) -> Option<Vec<String>> {
    let (columns, alias): (&[&str], AliasTable) = match kind {
        SheetKind::Survey => (SURVEY_COLUMNS, survey_alias),
        SheetKind::Choices => (CHOICES_COLUMNS, choices_alias),
        SheetKind::Settings => (SETTINGS_COLUMNS, settings_alias),
    };
    let known = |h: &str| columns.contains(&h) && alias(h).is_none();
    if known(header) {
        return Some(vec![header.to_owned()]);
    }
    let normalised = snake_case(header);
    if known(&normalised) {
        return Some(vec![normalised]);
    }
    if kind == SheetKind::Settings {
        // pyxform matches `omit_instanceID` only as written; we match settings without
        // regard to case, which changes nothing for forms pyxform reads.
        if let Some(c) = columns.iter().find(|c| c.eq_ignore_ascii_case(&normalised)) {
            return Some(vec![(*c).to_owned()]);
        }
    }
    let tokens = split_tokens(header, double_colon);
    let first = snake_case(tokens.first().map_or("", String::as_str));
    let rest = tokens.into_iter().skip(1);
    if let Some(canonical) = alias(&first) {
        Some(canonical.iter().map(|s| (*s).to_owned()).chain(rest).collect())
    } else if columns.contains(&first.as_str()) {
        Some(std::iter::once(first).chain(rest).collect())
    } else if first == "jr:constraintmsg" || first == "jr:requiredmsg" {
        // See `survey_column`: accepted in any case, like every other header.
        let canonical = if first == "jr:constraintmsg" { "jr:constraintMsg" } else { "jr:requiredMsg" };
        (kind == SheetKind::Survey).then(|| std::iter::once(canonical.to_owned()).chain(rest).collect())
    } else {
        None
    }
}

/// Splits a header on `::`, or on `:` in sheets that never use `::` (keeping XML prefixes
/// such as `jr:count` whole, as pyxform does).
fn split_tokens(header: &str, double_colon: bool) -> Vec<String> {
    if double_colon || header.contains("::") {
        return header.split("::").map(|t| t.trim().to_owned()).collect();
    }
    let parts: Vec<&str> = header.split(':').map(str::trim).collect();
    if let Some(jr) = parts.iter().position(|p| *p == "jr")
        && let Some(next) = parts.get(jr + 1)
    {
        let mut tokens: Vec<String> = parts.iter().take(jr).map(|s| (*s).to_owned()).collect();
        tokens.push(format!("jr:{next}"));
        tokens.extend(parts.iter().skip(jr + 2).map(|s| (*s).to_owned()));
        return tokens;
    }
    parts.into_iter().map(str::to_owned).collect()
}

/// `Constraint  Message` → `constraint_message` (pyxform's `to_snake_case`).
pub(crate) fn snake_case(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join("_").to_lowercase()
}

// pyxform's expected columns (`MultipleChoiceQuestion`, `Option` and `Survey` slots).
const SURVEY_COLUMNS: &[&str] = &[
    "type",
    "name",
    "label",
    "hint",
    "guidance_hint",
    "bind",
    "control",
    "instance",
    "media",
    "default",
    "choice_filter",
    "parameters",
    "trigger",
    "sms_field",
    "list_name",
    "itemset",
    "choices",
    "query",
    "actions",
    "extra_data",
    "parent",
];
const CHOICES_COLUMNS: &[&str] = &["name", "label", "media", "sms_option", "extra_data", "parent"];
const SETTINGS_COLUMNS: &[&str] = &[
    "add_none_option",
    "allow_choice_duplicates",
    "attribute",
    "auto_delete",
    "auto_send",
    "bind",
    "clean_text_values",
    "client_editable",
    "control",
    "default_language",
    "delimiter",
    "entity_version",
    "extra_data",
    "file_name",
    "flat",
    "hint",
    "id_string",
    "instance",
    "instance_name",
    "instance_xmlns",
    "label",
    "media",
    "name",
    "namespaces",
    "omit_instanceID",
    "prefix",
    "public_key",
    "sms_allow_media",
    "sms_date_format",
    "sms_datetime_format",
    "sms_field",
    "sms_keyword",
    "sms_response",
    "sms_separator",
    "style",
    "submission_url",
    "title",
    "type",
    "version",
];

// pyxform's `aliases.survey_header`.
fn survey_alias(h: &str) -> Option<&'static [&'static str]> {
    Some(match h {
        "read_only" | "readonly" => &["bind", "readonly"],
        "relevant" | "relevance" => &["bind", "relevant"],
        "caption" => &["label"],
        "appearance" => &["control", "appearance"],
        "required" => &["bind", "required"],
        "constraint" => &["bind", "constraint"],
        "constraining_message" | "constraint_message" => &["bind", "jr:constraintMsg"],
        "calculation" | "calculate" => &["bind", "calculate"],
        "command" => &["type"],
        "tag" | "value" => &["name"],
        "image" => &["media", "image"],
        "big-image" => &["media", "big-image"],
        "audio" => &["media", "audio"],
        "video" => &["media", "video"],
        "count" | "repeat_count" | "jr:count" => &["control", "jr:count"],
        "autoplay" => &["control", "autoplay"],
        "rows" => &["control", "rows"],
        "noapperrorstring" | "no_app_error_string" => &["bind", "jr:noAppErrorString"],
        "requiredmsg" | "required_message" => &["bind", "jr:requiredMsg"],
        "body" => &["control"],
        "save_to" => &["bind", "entities:saveto"],
        "sms_field" => &["sms_field"],
        "sms_option" => &["sms_option"],
        "sms_separator" => &["sms_separator"],
        "sms_allow_media" => &["sms_allow_media"],
        "sms_date_format" => &["sms_date_format"],
        "sms_datetime_format" => &["sms_datetime_format"],
        "sms_response" => &["sms_response"],
        "compact_tag" => &["instance", "odk:tag"],
        _ => return None,
    })
}

// pyxform's `aliases.list_header`.
fn choices_alias(h: &str) -> Option<&'static [&'static str]> {
    Some(match h {
        "caption" => &["label"],
        "list_name" => &["list name"],
        "value" => &["name"],
        "image" => &["media", "image"],
        "big-image" => &["media", "big-image"],
        "audio" => &["media", "audio"],
        "video" => &["media", "video"],
        _ => return None,
    })
}

// pyxform's `aliases.settings_header`.
fn settings_alias(h: &str) -> Option<&'static [&'static str]> {
    Some(match h {
        "form_title" | "set_form_title" => &["title"],
        "form_id" | "set_form_id" => &["id_string"],
        "prefix" => &["prefix"],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey(h: &str) -> Column {
        resolve_header(h, SheetKind::Survey, h.contains("::"))
    }

    #[test]
    fn survey_headers_match_pyxform_spellings() {
        assert_eq!(survey("type"), Column::Type);
        assert_eq!(survey(" TYPE "), Column::Type);
        assert_eq!(survey("command"), Column::Type);
        assert_eq!(survey("Label"), Column::Label(String::new()));
        assert_eq!(survey("label::Français (fr)"), Column::Label("Français (fr)".into()));
        assert_eq!(survey("label:English"), Column::Label("English".into()));
        assert_eq!(survey("caption:english"), Column::Label("english".into()));
        assert_eq!(survey("hint::fr"), Column::Hint("fr".into()));
        for h in ["relevant", "relevance", "bind::relevant", "bind:relevant", "Relevant"] {
            assert_eq!(survey(h), Column::Relevant, "{h}");
        }
        for h in ["constraint", "bind::constraint"] {
            assert_eq!(survey(h), Column::Constraint, "{h}");
        }
        for h in [
            "constraint_message",
            "constraint message",
            "Constraint Message",
            "jr:constraintMsg",
            "bind::jr:constraintMsg",
            "bind:jr:constraintMsg",
        ] {
            assert_eq!(survey(h), Column::ConstraintMessage(String::new()), "{h}");
        }
        assert_eq!(survey("constraint_message::English"), Column::ConstraintMessage("English".into()));
        for h in ["required_message", "required message", "requiredMsg", "jr:requiredMsg"] {
            assert_eq!(survey(h), Column::RequiredMessage(String::new()), "{h}");
        }
        for h in ["calculation", "calculate", "bind::calculate"] {
            assert_eq!(survey(h), Column::Calculation, "{h}");
        }
        for h in ["appearance", "body::appearance", "control::appearance"] {
            assert_eq!(survey(h), Column::Appearance, "{h}");
        }
        for h in ["read_only", "readonly", "read only", "bind::readonly"] {
            assert_eq!(survey(h), Column::ReadOnly, "{h}");
        }
        for h in ["repeat_count", "jr:count", "count", "control::jr:count"] {
            assert_eq!(survey(h), Column::RepeatCount, "{h}");
        }
        assert_eq!(survey("choice filter"), Column::ChoiceFilter);
        assert_eq!(survey("parameters"), Column::Parameters);
        assert_eq!(
            survey("media::image::English (en)"),
            Column::Media { kind: "image".into(), language: "English (en)".into() }
        );
        assert_eq!(
            survey("image::English (en)"),
            Column::Media { kind: "image".into(), language: "English (en)".into() }
        );
        assert_eq!(survey("big-image"), Column::Media { kind: "big-image".into(), language: String::new() });
        for h in ["bind::saveIncomplete", "buttonText", "instance::x", "guidance_hint", "rows"] {
            assert_eq!(survey(h), Column::Extra, "{h}");
        }
    }

    #[test]
    fn choices_and_settings_headers() {
        let c = |h: &str| resolve_header(h, SheetKind::Choices, h.contains("::"));
        assert_eq!(c("list_name"), Column::ListName);
        assert_eq!(c("list name"), Column::ListName);
        assert_eq!(c("LIST_NAME"), Column::ListName);
        assert_eq!(c("value"), Column::Name);
        assert_eq!(c("label::EN"), Column::Label("EN".into()));
        assert_eq!(c("filter"), Column::Extra);
        let s = |h: &str| resolve_header(h, SheetKind::Settings, false);
        assert_eq!(s("form_id"), Column::Setting("id_string".into()));
        assert_eq!(s("FORM_TITLE"), Column::Setting("title".into()));
        assert_eq!(s("omit_instanceid"), Column::Setting("omit_instanceID".into()));
        assert_eq!(s("my_setting"), Column::Extra);
    }

    #[test]
    fn single_colon_splits_only_when_sheet_has_no_double_colon() {
        assert_eq!(resolve_header("bind:jr:constraintMsg", SheetKind::Survey, true), Column::Extra);
    }
}
