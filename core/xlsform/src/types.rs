//! The `type` column: what kind of row each survey row is, spelt any way pyxform accepts.
//!
//! pyxform matches types exactly (case matters: `Text` is not a type) after trimming and
//! collapsing runs of spaces, and knows many historical spellings (`select one from LIST`,
//! `add integer prompt`, `q geopoint`, `get start time`, …). This module knows the same
//! spellings (pyxform's `question_type_dictionary`, `aliases.select`, `aliases.control`
//! and the begin/end and select patterns of `xls2json`).

use terrain_core::form::model::QuestionType;

/// What one survey row is, according to its `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowType {
    /// A question of a fixed type.
    Question {
        /// The Terrain type.
        kind: QuestionType,
        /// Whether the XLSForm type says more than `kind` does (`simserial` is imported as
        /// `hidden`), so that the type as written must be kept with the question.
        inexact: bool,
    },
    /// A select or rank question over a choice list or a file.
    Select {
        /// Which select.
        command: SelectCommand,
        /// The choice list (or file) name.
        list: String,
        /// Whether `or_other` (`or specify other`) follows the list name.
        or_other: bool,
    },
    /// The start of a group, repeat or loop.
    Begin(Container),
    /// The end of a group, repeat or loop.
    End(Container),
    /// A survey-sheet row that sets a setting (`set_form_title`, `set_form_id`, `prefix`);
    /// holds pyxform's canonical setting name.
    Setting(&'static str),
    /// An OpenMapKit question (`osm`, or `osm LIST` with the tag list of the `osm` sheet).
    Osm {
        /// The tag list, when given.
        list: Option<String>,
    },
    /// A declared secondary instance read from a file (`xml-external`, `csv-external`):
    /// holds the file's extension.
    ExternalInstance(&'static str),
    /// A select or rank without a choice list name.
    MissingList,
    /// A type pyxform knows but Terrain cannot represent; holds why, for the author.
    Unsupported(&'static str),
    /// Not a type at all.
    Unknown,
}

/// The kinds of select rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectCommand {
    /// `select_one LIST`.
    One,
    /// `select_multiple LIST`.
    Multiple,
    /// `select_one_from_file FILE`.
    OneFromFile,
    /// `select_multiple_from_file FILE`.
    MultipleFromFile,
    /// `select_one_external LIST` (choices on the `external_choices` sheet).
    OneExternal,
    /// `rank LIST`.
    Rank,
}

/// The containers a begin/end row opens or closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Container {
    /// `begin group` … `end group`.
    Group,
    /// `begin repeat` … `end repeat` (also `lgroup`, `looped group`).
    Repeat,
    /// `begin loop over LIST` … `end loop`; holds the list name when given.
    Loop(Option<String>),
}

impl Container {
    /// How the author writes this container's begin row.
    pub fn word(&self) -> &'static str {
        match self {
            Container::Group => "group",
            Container::Repeat => "repeat",
            Container::Loop(_) => "loop",
        }
    }

    /// Whether an end row for `other` closes this container.
    pub fn closes(&self, other: &Container) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// Parses a (cleaned) `type` cell.
pub(crate) fn parse(type_text: &str) -> RowType {
    let t = type_text;
    if let Some(setting) = setting_type(t) {
        return RowType::Setting(setting);
    }
    if let Some(row) = control(t) {
        return row;
    }
    if let Some(row) = select(t) {
        return row;
    }
    if let Some(row) = osm(t) {
        return row;
    }
    match t {
        "xml-external" => return RowType::ExternalInstance("xml"),
        "csv-external" => return RowType::ExternalInstance("csv"),
        _ => {}
    }
    if let Some(reason) = unsupported(t) {
        return RowType::Unsupported(reason);
    }
    if SELECT_COMMANDS.iter().any(|(cmd, _)| *cmd == t) {
        return RowType::MissingList;
    }
    match plain(t) {
        Some((kind, inexact)) => RowType::Question { kind, inexact },
        None => RowType::Unknown,
    }
}

/// For an unknown type, a known spelling it was probably meant to be.
pub(crate) fn suggestion(type_text: &str) -> Option<String> {
    let lower = type_text.to_lowercase();
    if lower != type_text && !matches!(parse(&lower), RowType::Unknown) {
        return Some(lower);
    }
    let underscored = lower.replace(' ', "_");
    if underscored != type_text && !matches!(parse(&underscored), RowType::Unknown) {
        return Some(underscored);
    }
    None
}

fn setting_type(t: &str) -> Option<&'static str> {
    // pyxform's `aliases.settings_header`, looked up with the type as the key.
    match t {
        "form_title" | "set_form_title" => Some("title"),
        "form_id" | "set_form_id" => Some("id_string"),
        "prefix" => Some("prefix"),
        _ => None,
    }
}

/// The words after `begin`/`end` (pyxform's `aliases.control`).
fn control_word(word: &str) -> Option<Container> {
    match word {
        "group" => Some(Container::Group),
        "repeat" | "lgroup" | "looped group" => Some(Container::Repeat),
        "loop" => Some(Container::Loop(None)),
        _ => None,
    }
}

const CONTROL_WORDS: [&str; 5] = ["group", "lgroup", "repeat", "loop", "looped group"];

/// `begin group`, `begin_repeat`, `begin loop over LIST`, `end group`, …
fn control(t: &str) -> Option<RowType> {
    let (begin, rest) = if let Some(rest) = t.strip_prefix("begin") {
        (true, rest)
    } else if let Some(rest) = t.strip_prefix("end") {
        (false, rest)
    } else {
        return None;
    };
    let mut chars = rest.chars();
    let separator = chars.next()?;
    if separator != '_' && !separator.is_whitespace() {
        return None;
    }
    let rest = chars.as_str();
    for word in CONTROL_WORDS {
        let Some(after) = rest.strip_prefix(word) else {
            continue;
        };
        let Some(mut container) = control_word(word) else {
            continue;
        };
        if !begin {
            if after.is_empty() {
                return Some(RowType::End(container));
            }
            continue;
        }
        // `begin group`, or `begin group NAME` / `begin loop over NAME` (the trailing
        // name only means something for loops).
        let list = match after.strip_prefix(' ') {
            None if after.is_empty() => None,
            None => continue,
            Some(tail) => {
                let tail = tail.strip_prefix("over ").unwrap_or(tail);
                if tail.is_empty() || tail.chars().any(char::is_whitespace) {
                    continue;
                }
                Some(tail.to_owned())
            }
        };
        if let Container::Loop(l) = &mut container {
            *l = list;
        }
        return Some(RowType::Begin(container));
    }
    None
}

/// pyxform's `aliases.select`, command → kind.
const SELECT_COMMANDS: [(&str, SelectCommand); 15] = [
    ("add select one prompt using", SelectCommand::One),
    ("add select multiple prompt using", SelectCommand::Multiple),
    ("select all that apply from", SelectCommand::Multiple),
    ("select one from", SelectCommand::One),
    ("select1", SelectCommand::One),
    ("select_one", SelectCommand::One),
    ("select one", SelectCommand::One),
    ("select_multiple", SelectCommand::Multiple),
    ("select all that apply", SelectCommand::Multiple),
    ("select_one_external", SelectCommand::OneExternal),
    ("select_one_from_file", SelectCommand::OneFromFile),
    ("select_multiple_from_file", SelectCommand::MultipleFromFile),
    ("select one from file", SelectCommand::OneFromFile),
    ("select multiple from file", SelectCommand::MultipleFromFile),
    ("rank", SelectCommand::Rank),
];

const OR_OTHER: [&str; 3] = ["or specify other", "or_other", "or other"];

/// `COMMAND LIST` or `COMMAND LIST or_other` (pyxform's `RE_SELECT`).
fn select(t: &str) -> Option<RowType> {
    SELECT_COMMANDS.iter().find_map(|&(command_text, command)| {
        let rest = t.strip_prefix(command_text)?.strip_prefix(' ')?;
        let (list, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        if list.is_empty() || list.chars().any(char::is_whitespace) {
            return None;
        }
        let or_other = match tail {
            "" => false,
            tail if OR_OTHER.contains(&tail) => true,
            _ => return None,
        };
        Some(RowType::Select { command, list: list.to_owned(), or_other })
    })
}

/// `osm` or `osm LIST` (pyxform's `RE_OSM`, and its `osm` type without a list).
fn osm(t: &str) -> Option<RowType> {
    if t == "osm" {
        return Some(RowType::Osm { list: None });
    }
    let list = t.strip_prefix("osm ")?;
    (!list.is_empty() && !list.chars().any(char::is_whitespace)).then(|| RowType::Osm { list: Some(list.to_owned()) })
}

fn unsupported(t: &str) -> Option<&'static str> {
    Some(match t {
        "start-geopoint" | "background-geopoint" => {
            "locations recorded automatically (start-geopoint, background-geopoint) are not \
             supported by Terrain; use a geopoint question"
        }
        "background-audio" => "background audio recording is not supported by Terrain",
        "select one external" => "write select_one_external followed by the list name, e.g. select_one_external cities",
        "include" => "the include type (inserting another form) is supported neither by pyxform nor by Terrain",
        _ => return None,
    })
}

/// The fixed question types: pyxform's `question_type_dictionary` (after its type
/// aliases such as `imei` → `deviceid`), mapped to Terrain's types.
fn plain(t: &str) -> Option<(QuestionType, bool)> {
    use QuestionType as Q;
    let exact = |k: QuestionType| Some((k, false));
    match t {
        "text" | "string" | "q string" | "add text prompt" => exact(Q::Text),
        // pyxform treats `phone number` (with a space) as a text question, unlike the
        // `phonenumber` metadata.
        "phone number" => exact(Q::Text),
        "integer"
        | "int"
        | "q int"
        | "add integer prompt"
        | "percentage"
        | "number of days in last month"
        | "number of days in last six months"
        | "number of days in last year" => exact(Q::Integer),
        "decimal" | "q decimal" | "add decimal prompt" => exact(Q::Decimal),
        "range" => exact(Q::Range),
        "date" | "q date" | "add date prompt" => exact(Q::Date),
        "time" => exact(Q::Time),
        "dateTime"
        | "datetime"
        | "date time"
        | "q date time"
        | "q dateTime"
        | "add date time prompt"
        | "add dateTime prompt" => exact(Q::DateTime),
        "geopoint" | "gps" | "location" | "q geopoint" | "q location" | "add location prompt" => exact(Q::GeoPoint),
        "geotrace" | "q geotrace" => exact(Q::GeoTrace),
        "geoshape" | "q geoshape" => exact(Q::GeoShape),
        "image" | "photo" | "q picture" | "q image" | "add image prompt" | "add photo prompt" => exact(Q::Image),
        "audio" | "q audio" | "add audio prompt" => exact(Q::Audio),
        "video" | "q video" | "add video prompt" => exact(Q::Video),
        "file" | "add file prompt" => exact(Q::File),
        "barcode" | "q barcode" | "add barcode prompt" => exact(Q::Barcode),
        "note" | "q note" | "add note prompt" => exact(Q::Note),
        "acknowledge" | "q acknowledge" | "add acknowledge prompt" | "trigger" => exact(Q::Acknowledge),
        "calculate" | "q calculate" | "add calculate prompt" => exact(Q::Calculate),
        "hidden" => exact(Q::Hidden),
        "start" | "start time" | "get start time" => exact(Q::Start),
        "end" | "end time" | "get end time" => exact(Q::End),
        "today" | "get today" => exact(Q::Today),
        "deviceid" | "device id" | "get device id" | "imei" => exact(Q::DeviceId),
        "username" => exact(Q::Username),
        "phonenumber" | "get phone number" => exact(Q::PhoneNumber),
        "email" => exact(Q::Email),
        "audit" => exact(Q::Audit),
        // The `uri:` forms give the same value prefixed with a URI scheme.
        "uri:deviceid" => Some((Q::DeviceId, true)),
        "uri:username" => Some((Q::Username, true)),
        "uri:phonenumber" => Some((Q::PhoneNumber, true)),
        "uri:email" => Some((Q::Email, true)),
        // SIM metadata has no Terrain type (and modern Android no longer gives it out):
        // imported as a hidden value, with the XLSForm type kept beside it.
        "simserial" | "sim id" | "get sim id" | "uri:simserial" | "subscriberid" | "subscriber id"
        | "get subscriber id" | "uri:subscriberid" => Some((Q::Hidden, true)),
        _ => None,
    }
}

/// The file extensions a `select_*_from_file` (or a select whose list name is a file)
/// may use, as in pyxform.
pub(crate) const FILE_EXTENSIONS: [&str; 3] = [".csv", ".xml", ".geojson"];

/// Whether a list name names an attached file (`cities.csv`).
pub(crate) fn is_file_list(list: &str) -> bool {
    file_extension(list).is_some_and(|ext| FILE_EXTENSIONS.contains(&ext))
}

/// The extension of a file name (`.csv`), as Python's `os.path.splitext` gives it.
pub(crate) fn file_extension(name: &str) -> Option<&str> {
    let dot = name.rfind('.')?;
    // A leading dot (".csv") is a hidden file's name, not an extension.
    (dot > 0 && !name[..dot].ends_with('/')).then(|| &name[dot..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use QuestionType as Q;

    fn q(kind: QuestionType) -> RowType {
        RowType::Question { kind, inexact: false }
    }

    #[test]
    fn plain_types_and_aliases() {
        assert_eq!(parse("text"), q(Q::Text));
        assert_eq!(parse("string"), q(Q::Text));
        assert_eq!(parse("int"), q(Q::Integer));
        assert_eq!(parse("dateTime"), q(Q::DateTime));
        assert_eq!(parse("datetime"), q(Q::DateTime));
        assert_eq!(parse("gps"), q(Q::GeoPoint));
        assert_eq!(parse("location"), q(Q::GeoPoint));
        assert_eq!(parse("add note prompt"), q(Q::Note));
        assert_eq!(parse("trigger"), q(Q::Acknowledge));
        assert_eq!(parse("imei"), q(Q::DeviceId));
        assert_eq!(parse("get start time"), q(Q::Start));
        assert_eq!(parse("simserial"), RowType::Question { kind: Q::Hidden, inexact: true });
        assert_eq!(parse("Text"), RowType::Unknown);
        assert_eq!(suggestion("Text").as_deref(), Some("text"));
        assert_eq!(suggestion("Begin Group").as_deref(), Some("begin group"));
        assert_eq!(suggestion("Select One yn").as_deref(), Some("select one yn"));
        assert_eq!(suggestion("frobnicate"), None);
    }

    #[test]
    fn every_question_type_has_a_spelling() {
        for kind in [
            Q::Text,
            Q::Integer,
            Q::Decimal,
            Q::Range,
            Q::Date,
            Q::Time,
            Q::DateTime,
            Q::GeoPoint,
            Q::GeoTrace,
            Q::GeoShape,
            Q::Image,
            Q::Audio,
            Q::Video,
            Q::File,
            Q::Barcode,
            Q::Note,
            Q::Acknowledge,
            Q::Calculate,
            Q::Hidden,
            Q::Start,
            Q::End,
            Q::Today,
            Q::DeviceId,
            Q::Username,
            Q::PhoneNumber,
            Q::Email,
            Q::Audit,
        ] {
            assert_eq!(parse(kind.xlsform_name()), q(kind.clone()), "{kind:?}");
        }
    }

    #[test]
    fn selects() {
        let sel = |command, list: &str, or_other| RowType::Select { command, list: list.into(), or_other };
        assert_eq!(parse("select_one yn"), sel(SelectCommand::One, "yn", false));
        assert_eq!(parse("select one yn"), sel(SelectCommand::One, "yn", false));
        assert_eq!(parse("select1 yn"), sel(SelectCommand::One, "yn", false));
        assert_eq!(parse("select one from yn"), sel(SelectCommand::One, "yn", false));
        assert_eq!(parse("select_one yn or_other"), sel(SelectCommand::One, "yn", true));
        assert_eq!(parse("select all that apply from t or specify other"), sel(SelectCommand::Multiple, "t", true));
        assert_eq!(parse("select one from file a.csv"), sel(SelectCommand::OneFromFile, "a.csv", false));
        assert_eq!(parse("select_multiple_from_file a.xml"), sel(SelectCommand::MultipleFromFile, "a.xml", false));
        assert_eq!(parse("rank r"), sel(SelectCommand::Rank, "r", false));
        assert_eq!(parse("select_one_external c"), sel(SelectCommand::OneExternal, "c", false));
        assert_eq!(parse("select_one"), RowType::MissingList);
        assert_eq!(parse("select_one a b"), RowType::Unknown);
        // pyxform has no `select multiple` (with a space) command.
        assert_eq!(parse("select multiple a"), RowType::Unknown);
    }

    #[test]
    fn begin_and_end() {
        assert_eq!(parse("begin group"), RowType::Begin(Container::Group));
        assert_eq!(parse("begin_group"), RowType::Begin(Container::Group));
        assert_eq!(parse("begin repeat"), RowType::Begin(Container::Repeat));
        assert_eq!(parse("begin lgroup"), RowType::Begin(Container::Repeat));
        assert_eq!(parse("begin looped group"), RowType::Begin(Container::Repeat));
        assert_eq!(parse("begin loop over cols"), RowType::Begin(Container::Loop(Some("cols".into()))));
        assert_eq!(parse("end group"), RowType::End(Container::Group));
        assert_eq!(parse("end_repeat"), RowType::End(Container::Repeat));
        assert_eq!(parse("end loop"), RowType::End(Container::Loop(None)));
        assert_eq!(parse("end"), q(Q::End));
        assert_eq!(parse("Begin Group"), RowType::Unknown);
        assert_eq!(parse("set_form_title"), RowType::Setting("title"));
    }

    #[test]
    fn openmapkit() {
        assert_eq!(parse("osm"), RowType::Osm { list: None });
        assert_eq!(parse("osm buildings"), RowType::Osm { list: Some("buildings".into()) });
        assert_eq!(parse("osm a b"), RowType::Unknown);
        assert_eq!(parse("OSM a"), RowType::Unknown);
    }

    #[test]
    fn file_lists() {
        assert!(is_file_list("cities.csv"));
        assert!(is_file_list("a.b.geojson"));
        assert!(!is_file_list("cities"));
        assert!(!is_file_list(".csv"));
    }
}
