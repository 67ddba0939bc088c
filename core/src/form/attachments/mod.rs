//! Files attached to a form version: the lists that XLSForm's `select_one_from_file`,
//! `select_multiple_from_file` and `pulldata()` read, as CSV, XML (`xml`) or GeoJSON
//! (`geojson`) files.
//!
//! [`attach`] turns a form and its files into the form evaluated everywhere: each file's
//! rows become a choice list named after the file (`villages.csv`; XLSForm list names hold
//! no dot, so the two never collide). A row's code is its `name` column and its label its
//! `label` column (`label::Français (fr)` for a language); a GeoJSON feature's are its `id`
//! and `title`, as in ODK; a question's `value=` and `label=` parameters name others. Every
//! column, those included, is also in the choice's `extra`, where `choice_filter` and
//! `pulldata()` read it. Filtering, checking an answer against the choices, labels in
//! exports and the dashboard then work as for any choice list.
//!
//! A file is read within limits ([`MAX_FILE_BYTES`], [`MAX_ROWS`], [`MAX_COLUMNS`],
//! [`MAX_CELLS`]), whatever its format: lists longer than that are what entity lists are
//! for.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::model::{Choice, Form, Node, Question, QuestionType, Translations};

mod geojson;
mod xml;

/// The largest file read.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// The most files a form may read.
pub const MAX_FILES: usize = 32;
/// The most a form's files may come to together.
pub const MAX_FILES_BYTES: u64 = 16 * 1024 * 1024;
/// The most rows a file may have.
pub const MAX_ROWS: usize = 20_000;
/// The most columns a file may have.
pub const MAX_COLUMNS: usize = 64;
/// The most cells (rows times columns) a file may have: each cell is kept with its column's
/// name, so memory goes with the cells more than with the bytes.
pub const MAX_CELLS: usize = 200_000;

/// Why a form's files could not be attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("`{file}` is {bytes} bytes; an attached file may be at most {MAX_FILE_BYTES} bytes")]
    TooLarge {
        /// The file's name.
        file: String,
        /// Its size.
        bytes: usize,
    },
    /// Not a CSV file Terrain can read.
    #[error("`{file}`: {reason}")]
    Invalid {
        /// The file's name.
        file: String,
        /// What is wrong, for the form's author.
        reason: String,
    },
}

/// A file the form reads, and where from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NeededFile {
    /// The file's name, as the form writes it (`pulldata('fruits', …)` reads `fruits.csv`).
    pub name: String,
    /// The first question that reads it.
    pub question: String,
}

/// The files `form` reads: those of its `select_*_from_file` questions, those its
/// `pulldata()` calls name with a literal (a name computed at run time cannot be known
/// before), and those its `instance('…')` lookups read. Each file once, with the first
/// question that reads it, by name.
pub fn needed_files(form: &Form) -> Vec<NeededFile> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let mut instances: BTreeMap<String, String> = BTreeMap::new();
    walk_questions(&form.children, &mut |q| {
        if let Some(file) = file_of(&q.kind) {
            found.entry(file.to_owned()).or_insert_with(|| q.name.clone());
        }
        let expressions = [&q.required, &q.relevant, &q.constraint, &q.calculation, &q.choice_filter, &q.read_only];
        for expression in expressions.into_iter().flatten() {
            for file in pulldata_files(expression.source()) {
                found.entry(file).or_insert_with(|| q.name.clone());
            }
            for instance in expression.instances() {
                instances.entry(instance.to_owned()).or_insert_with(|| q.name.clone());
            }
        }
    });
    // Declared instances (`xml-external houses`) are attachments whether or not an
    // expression reads them yet, as ODK Central asks for every declared file.
    for (instance, file) in &form.external_instances {
        found.entry(file.clone()).or_insert_with(|| instance.clone());
    }
    // `instance('villages')` reads the choices sheet's list of that name, or a file the form
    // reads anyway (`villages.xml` for a select); failing both, `villages.csv`, as ODK's
    // `csv-external` declares it.
    for (instance, question) in instances {
        let files = instance_files(&instance);
        if !form.choice_lists.contains_key(&instance)
            && !form.external_instances.contains_key(&instance)
            && !files.iter().any(|f| found.contains_key(f))
        {
            let [csv, ..] = files;
            found.entry(csv).or_insert(question);
        }
    }
    found.into_iter().map(|(name, question)| NeededFile { name, question }).collect()
}

/// The names of `needed_files(form)` that `files` lacks.
pub fn missing_files(form: &Form, files: &BTreeMap<String, Vec<u8>>) -> Vec<NeededFile> {
    needed_files(form).into_iter().filter(|f| !files.contains_key(&f.name)).collect()
}

/// `form` with `files` read as choice lists (see the module's documentation). Files the form
/// does not read are ignored; a file it reads but `files` lacks leaves its questions with no
/// choices and its `pulldata()` empty, as before anything was attached.
pub fn attach(form: &Form, files: &BTreeMap<String, Vec<u8>>) -> Result<Form, AttachmentError> {
    attach_with(form, files, BTreeMap::new())
}

/// [`attach`], where a file the form reads but `files` lacks may be one of `tables`: an
/// entity list, which a follow-up form reads as `plots.csv` (ODK's convention), with its
/// header and rows as the device holds them.
pub fn attach_with(
    form: &Form,
    files: &BTreeMap<String, Vec<u8>>,
    mut tables: BTreeMap<String, ListTable>,
) -> Result<Form, AttachmentError> {
    let mut attached = form.clone();
    // Each file read once, however many questions read it.
    let mut read: BTreeMap<String, Rc<ListTable>> = BTreeMap::new();
    let mut table = |name: &str| -> Result<Option<Rc<ListTable>>, AttachmentError> {
        if let Some(t) = read.get(name) {
            return Ok(Some(Rc::clone(t)));
        }
        // An entity list is moved in, not copied: it may hold a hundred thousand rows.
        let t = match (files.get(name), tables.remove(name)) {
            (Some(bytes), _) => ListTable::read(name, bytes)?,
            (None, Some(list)) => list,
            (None, None) => return Ok(None),
        };
        let t = Rc::new(t);
        read.insert(name.to_owned(), Rc::clone(&t));
        Ok(Some(t))
    };
    // Lists for the questions, each with its own code and label columns.
    let mut lists: BTreeMap<String, Vec<Choice>> = BTreeMap::new();
    walk_questions_mut(&mut attached.children, &mut |q| {
        let Some(file) = file_of(&q.kind).map(str::to_owned) else { return Ok(()) };
        let (default_value, default_label) = default_columns(&file);
        let value = q.parameters.get("value").cloned().unwrap_or_else(|| default_value.into());
        let label = q.parameters.get("label").cloned().unwrap_or_else(|| default_label.into());
        let list = if value == default_value && label == default_label {
            file.clone()
        } else {
            format!("{file}?value={value}&label={label}")
        };
        if let Some(t) = table(&file)?
            && !lists.contains_key(&list)
        {
            let choices = t.choices(&value, &label).map_err(|reason| AttachmentError::Invalid { file, reason })?;
            lists.insert(list.clone(), choices);
        }
        set_file(&mut q.kind, list);
        Ok(())
    })?;
    // Files only `pulldata()` reads: their rows, codes from `name` where there is one.
    for needed in needed_files(form) {
        if lists.contains_key(&needed.name) {
            continue;
        }
        if let Some(t) = table(&needed.name)? {
            lists.insert(needed.name.clone(), t.rows());
        }
    }
    attached.choice_lists.extend(lists);
    Ok(attached)
}

/// The files `instance('name')` may read, in the order they are looked for, when the form
/// has no choice list `name`.
pub fn instance_files(name: &str) -> [String; 3] {
    [format!("{name}.csv"), format!("{name}.xml"), format!("{name}.geojson")]
}

/// The list `pulldata(file, …)` reads in an attached form: ODK names the file without its
/// `.csv`, and a name with it is taken as it is.
pub fn pulldata_list(file: &str) -> String {
    if file.ends_with(".csv") { file.to_owned() } else { format!("{file}.csv") }
}

/// The columns a select reads its codes and labels from when its parameters do not say:
/// ODK's `id` and `title` for a GeoJSON file, `name` and `label` otherwise.
fn default_columns(file: &str) -> (&'static str, &'static str) {
    if file.ends_with(".geojson") { ("id", "title") } else { ("name", "label") }
}

fn file_of(kind: &QuestionType) -> Option<&str> {
    match kind {
        QuestionType::SelectOneFromFile { file } | QuestionType::SelectMultipleFromFile { file } => Some(file),
        _ => None,
    }
}

fn set_file(kind: &mut QuestionType, list: String) {
    if let QuestionType::SelectOneFromFile { file } | QuestionType::SelectMultipleFromFile { file } = kind {
        *file = list;
    }
}

fn walk_questions<'f>(nodes: &'f [Node], f: &mut impl FnMut(&'f Question)) {
    for node in nodes {
        match node {
            Node::Question(q) => f(q),
            Node::Group(g) | Node::Repeat(g) => walk_questions(&g.children, f),
        }
    }
}

fn walk_questions_mut<E>(nodes: &mut [Node], f: &mut impl FnMut(&mut Question) -> Result<(), E>) -> Result<(), E> {
    for node in nodes {
        match node {
            Node::Question(q) => f(q)?,
            Node::Group(g) | Node::Repeat(g) => walk_questions_mut(&mut g.children, f)?,
        }
    }
    Ok(())
}

/// The files the `pulldata('…', …)` calls of an expression's source name with a literal.
fn pulldata_files(source: &str) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find("pulldata") {
        rest = &rest[at + "pulldata".len()..];
        let after = rest.trim_start();
        let Some(after) = after.strip_prefix('(') else { continue };
        let after = after.trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '\'' || *c == '"') else { continue };
        let inner = &after[1..];
        if let Some(end) = inner.find(quote) {
            files.insert(pulldata_list(&inner[..end]));
        }
    }
    files
}

/// The header of a CSV list, each name trimmed: refused when it cannot be read, has more
/// than `max_columns` columns, or names a column twice. An entity list's import reads its
/// header the same way.
pub(crate) fn csv_header<R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    max_columns: usize,
) -> Result<Vec<String>, String> {
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the first line cannot be read: {e}; save the file as CSV (UTF-8)"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if header.len() > max_columns {
        return Err(format!("{} columns; at most {max_columns} are read", header.len()));
    }
    if let Some(duplicate) = header.iter().enumerate().find(|(i, h)| header[..*i].contains(h)).map(|(_, h)| h) {
        return Err(format!("the column `{duplicate}` appears twice; rename one"));
    }
    Ok(header)
}

/// A list's header and rows: a CSV file's, read within the limits, or an entity list's as
/// a device holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTable {
    /// The columns (`name` holds the codes, `label` the labels).
    pub header: Vec<String>,
    /// The rows, each as long as `header`.
    pub rows: Vec<Vec<String>>,
}

impl ListTable {
    fn read(file: &str, bytes: &[u8]) -> Result<ListTable, AttachmentError> {
        let invalid = |reason: String| AttachmentError::Invalid { file: file.to_owned(), reason };
        if bytes.len() > MAX_FILE_BYTES {
            return Err(AttachmentError::TooLarge { file: file.to_owned(), bytes: bytes.len() });
        }
        if file.ends_with(".xml") {
            return xml::read(bytes).map_err(invalid);
        }
        if file.ends_with(".geojson") {
            return geojson::read(bytes).map_err(invalid);
        }
        if !file.ends_with(".csv") {
            return Err(invalid("a list is a .csv, .xml or .geojson file; export it as CSV (UTF-8)".into()));
        }
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(bytes);
        let header = csv_header(&mut reader, MAX_COLUMNS).map_err(invalid)?;
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            // Line numbers as a spreadsheet shows them: the header is line 1.
            let record = record.map_err(|e| invalid(format!("line {}: {e}; save the file as CSV (UTF-8)", i + 2)))?;
            if rows.len() == MAX_ROWS {
                return Err(invalid(format!("more than {MAX_ROWS} rows; long lists belong in an entity list")));
            }
            if (rows.len() + 1) * header.len() > MAX_CELLS {
                return Err(invalid(format!(
                    "more than {MAX_CELLS} cells ({} columns); drop the columns the form does not read",
                    header.len()
                )));
            }
            // Cells past the header's columns have no name to be read by: not kept.
            rows.push(record.iter().take(header.len()).map(str::to_owned).collect());
        }
        Ok(ListTable { header, rows })
    }

    /// The rows as choices: codes from `value`, labels from `label` and its languages.
    fn choices(&self, value: &str, label: &str) -> Result<Vec<Choice>, String> {
        let code = self.header.iter().position(|h| h == value).ok_or_else(|| {
            format!(
                "no `{value}` column, which holds the choices' codes (name the column, or set value= in parameters)"
            )
        })?;
        let language = format!("{label}::");
        let labels: Vec<(usize, String)> = self
            .header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                if h == label {
                    Some((i, String::new()))
                } else {
                    h.strip_prefix(&language).map(|lang| (i, lang.trim().to_owned()))
                }
            })
            .collect();
        let mut choices = Vec::with_capacity(self.rows.len());
        for (line, row) in self.rows.iter().enumerate() {
            let name = row.get(code).map(|c| c.trim()).unwrap_or_default();
            if name.is_empty() {
                return Err(format!("line {}: the `{value}` column is empty; every choice needs a code", line + 2));
            }
            let mut choice = self.row(row);
            choice.name = name.to_owned();
            choice.label = Translations(
                labels.iter().filter_map(|(i, lang)| Some((lang.clone(), row.get(*i)?.clone()))).collect(),
            );
            choices.push(choice);
        }
        Ok(choices)
    }

    /// The rows as choices for `pulldata()` alone: every column in `extra`, the code from
    /// `name` when there is one.
    fn rows(&self) -> Vec<Choice> {
        let code = self.header.iter().position(|h| h == "name");
        self.rows
            .iter()
            .map(|row| {
                let mut choice = self.row(row);
                choice.name = code.and_then(|c| row.get(c)).cloned().unwrap_or_default();
                choice
            })
            .collect()
    }

    fn row(&self, row: &[String]) -> Choice {
        Choice {
            name: String::new(),
            label: Translations::default(),
            media: BTreeMap::new(),
            extra: self.header.iter().cloned().zip(row.iter().cloned()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(children: serde_json::Value) -> Form {
        let json = serde_json::json!({"id": "f", "version": "1", "title": "F", "children": children});
        Form::from_json(&json.to_string()).unwrap()
    }

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        list.iter().map(|(n, b)| (n.to_string(), b.as_bytes().to_vec())).collect()
    }

    const VILLAGES: &str = "\u{feff}name,label,label::Français (fr),prefecture\n\
                            kindia_c,Kindia centre,Kindia centre,kindia\n\
                            \"friguia\",\"Fria, ville\",Fria,boke\n";

    #[test]
    fn a_csv_becomes_a_choice_list_with_every_column() {
        let f = form(serde_json::json!([
            {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"}},
        ]));
        let attached = attach(&f, &files(&[("villages.csv", VILLAGES), ("unused.csv", "name\nx\n")])).unwrap();
        let list = &attached.choice_lists["villages.csv"];
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].name, "friguia");
        assert_eq!(list[1].label.0[""], "Fria, ville");
        assert_eq!(list[1].label.0["Français (fr)"], "Fria");
        assert_eq!(list[1].extra["prefecture"], "boke");
        // The byte-order mark a spreadsheet writes is not part of the first column's name.
        assert_eq!(list[0].extra["name"], "kindia_c");
        assert!(!attached.choice_lists.contains_key("unused.csv"));
        assert_eq!(attached.children[0].name(), "village");
    }

    #[test]
    fn an_xml_list_reads_each_item_as_a_row() {
        let f = form(serde_json::json!([
            {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.xml"}},
        ]));
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <!-- Guinea, round 2 -->
            <root>
              <item><name>kindia_c</name><label>Kindia centre</label><prefecture>kindia</prefecture></item>
              <item>
                <label>Fria &amp; environs</label><name>friguia</name>
                <prefecture><![CDATA[boké]]></prefecture><note/><name>ignored</name>
              </item>
              <item><name>k&#233;rouan&#xE9;</name><label>Kérouané</label></item>
            </root>"#;
        let attached = attach(&f, &files(&[("villages.xml", xml)])).unwrap();
        let list = &attached.choice_lists["villages.xml"];
        assert_eq!(list.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["kindia_c", "friguia", "kérouané"]);
        assert_eq!(list[1].label.0[""], "Fria & environs");
        assert_eq!(list[1].extra["prefecture"], "boké");
        assert_eq!(list[1].extra["note"], "");
        assert_eq!(list[2].extra["prefecture"], "", "a column an item lacks is empty");
    }

    #[test]
    fn a_geojson_list_reads_features_with_id_title_and_geometry_as_odk_does() {
        let f = form(serde_json::json!([
            {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.geojson"}},
        ]));
        let geojson = serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "BGD-0412", "geometry": {"type": "Point", "coordinates": [-0.73, 11.78, 260]},
             "properties": {"title": "Plot 412", "secteur": "secteur_3", "area_ha": 1.5, "zai": true}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
                [[-0.7, 11.7], [-0.6, 11.7], [-0.6, 11.8], [-0.7, 11.7]], [[-0.65, 11.72], [-0.64, 11.72], [-0.65, 11.72]]]},
             "properties": {"id": 413, "title": "Plot 413", "owner": {"name": "Salif"}}},
        ]});
        let attached = attach(&f, &files(&[("plots.geojson", &geojson.to_string())])).unwrap();
        let list = &attached.choice_lists["plots.geojson"];
        assert_eq!((list[0].name.as_str(), list[0].label.0[""].as_str()), ("BGD-0412", "Plot 412"));
        assert_eq!(list[0].extra["geometry"], "11.78 -0.73 260 0");
        assert_eq!((list[0].extra["area_ha"].as_str(), list[0].extra["zai"].as_str()), ("1.5", "true"));
        assert_eq!(list[1].name, "413", "a numeric id from the properties");
        assert_eq!(list[1].extra["geometry"], "11.7 -0.7 0 0; 11.7 -0.6 0 0; 11.8 -0.6 0 0; 11.7 -0.7 0 0");
        assert_eq!(list[1].extra["owner"], r#"{"name":"Salif"}"#);
        assert_eq!(list[1].extra["secteur"], "");
    }

    #[test]
    fn xml_and_geojson_lists_refuse_what_they_cannot_read() {
        let f = form(serde_json::json!([
            {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.xml"}},
            {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.geojson"}},
        ]));
        let err = |name: &str, body: &str| attach(&f, &files(&[(name, body)])).unwrap_err().to_string();
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>
                        <root><item><name>&lol2;</name></item></root>"#;
        assert!(err("villages.xml", laughs).contains("DOCTYPE"));
        assert!(err("villages.xml", "<root><item><name>&nbsp;</name></item></root>").contains("`&nbsp;`"));
        assert!(
            err("villages.xml", "<root><item><name><b>x</b></name></item></root>").contains("nested inside `name`")
        );
        assert!(err("villages.xml", "<root><item><name>x</item></root>").contains("not well-formed"));
        assert!(err("villages.xml", "<root/><root/>").contains("two root elements"));
        assert!(err("villages.xml", "no markup").contains("no root element"));
        let many = format!("<root>{}</root>", "<item><name>a</name></item>".repeat(MAX_ROWS + 1));
        assert!(err("villages.xml", &many).contains("more than"));
        let wide: String = (0..=MAX_COLUMNS).map(|i| format!("<c{i}>x</c{i}>")).collect();
        assert!(err("villages.xml", &format!("<root><item>{wide}</item></root>")).contains("columns"));
        let latin1 = files(&[])
            .into_iter()
            .chain([("villages.xml".to_owned(), b"<root><item><name>\xe9</name></item></root>".to_vec())]);
        assert!(attach(&f, &latin1.collect()).is_err(), "text that is not UTF-8");

        let collection = |feature: serde_json::Value| {
            serde_json::json!({"type": "FeatureCollection", "features": [feature]}).to_string()
        };
        let multi = collection(serde_json::json!({"type": "Feature", "properties": {},
            "geometry": {"type": "MultiPoint", "coordinates": [[0, 0]]}}));
        assert!(err("plots.geojson", &multi).contains("feature 1: a MultiPoint geometry"));
        let swapped = collection(serde_json::json!({"type": "Feature", "properties": {},
            "geometry": {"type": "Point", "coordinates": [11.78, -120.0]}}));
        assert!(err("plots.geojson", &swapped).contains("longitude first"));
        assert!(err("plots.geojson", "[1, 2").contains("not JSON"));
        let deep = "[".repeat(10_000);
        assert!(err("plots.geojson", &deep).contains("not JSON"), "deep nesting is refused, not recursed into");
    }

    #[test]
    fn value_and_label_parameters_pick_the_columns() {
        let f = form(serde_json::json!([
            {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"},
             "parameters": {"value": "prefecture", "label": "name"}},
        ]));
        let attached = attach(&f, &files(&[("villages.csv", VILLAGES)])).unwrap();
        let Node::Question(q) = &attached.children[0] else { panic!() };
        let list = q.kind.choice_list().unwrap();
        assert_eq!(list, "villages.csv?value=prefecture&label=name");
        assert_eq!(attached.choice_lists[list][1].name, "boke");
        assert_eq!(attached.choice_lists[list][1].label.0[""], "friguia");
    }

    #[test]
    fn needed_files_come_from_selects_and_literal_pulldata() {
        let f = form(serde_json::json!([
            {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"}},
            {"node": "question", "name": "pop", "type": {"kind": "calculate"},
             "calculation": "pulldata('census', 'pop', 'name', ${village}) + pulldata( \"extra.csv\" ,'a','b','c')"},
            {"node": "question", "name": "other", "type": {"kind": "calculate"}, "calculation": "pulldata(${village}, 'a', 'b', 'c')"},
        ]));
        let names: Vec<String> = needed_files(&f).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["census.csv", "extra.csv", "villages.csv"]);
        let missing = missing_files(&f, &files(&[("villages.csv", VILLAGES)]));
        assert_eq!(
            missing.iter().map(|m| (m.name.as_str(), m.question.as_str())).collect::<Vec<_>>(),
            [("census.csv", "pop"), ("extra.csv", "pop")]
        );
        // A file only pulldata reads keeps its rows, with or without a `name` column.
        let attached = attach(&f, &files(&[("census.csv", "village,pop\nkindia_c,1200\n")])).unwrap();
        assert_eq!(attached.choice_lists["census.csv"][0].extra["pop"], "1200");
    }

    #[test]
    fn bad_files_are_refused_with_what_to_do() {
        let f = form(serde_json::json!([
            {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"}},
            {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.geojson"}},
        ]));
        let err = |list: &[(&str, &str)]| attach(&f, &files(list)).unwrap_err().to_string();
        assert!(err(&[("villages.csv", "code,label\na,A\n")]).contains("no `name` column"));
        assert!(err(&[("villages.csv", "name,label\n,A\n")]).contains("line 2: the `name` column is empty"));
        assert!(err(&[("villages.csv", "name,name\na,b\n")]).contains("appears twice"));
        assert!(err(&[("plots.geojson", "{}")]).contains("not a GeoJSON FeatureCollection"));
        let big = "name\n".to_owned() + &"a\n".repeat(MAX_ROWS + 1);
        assert!(err(&[("villages.csv", &big)]).contains("more than"));
        let huge = "x".repeat(MAX_FILE_BYTES + 1);
        assert!(matches!(attach(&f, &files(&[("villages.csv", &huge)])), Err(AttachmentError::TooLarge { .. })));
        let wide = (0..=MAX_COLUMNS).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        assert!(err(&[("villages.csv", &wide)]).contains("columns"));
        let header =
            (0..MAX_COLUMNS).map(|i| if i == 0 { "name".to_owned() } else { format!("c{i}") }).collect::<Vec<_>>();
        let cells = header.join(",") + "\n" + &"a\n".repeat(MAX_CELLS / MAX_COLUMNS + 1);
        assert!(err(&[("villages.csv", &cells)]).contains("cells"));
        // Not UTF-8: a clear error, never a panic.
        let latin1 = files(&[]).into_iter().chain([("villages.csv".to_owned(), b"name\n\xe9\n".to_vec())]).collect();
        assert!(attach(&f, &latin1).unwrap_err().to_string().contains("UTF-8"));
    }
}
