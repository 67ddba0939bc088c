//! Hostile XLSForm uploads: real questionnaires (survey, choices and settings sheets, with
//! expressions from the expression generator) written as `.xlsx` workbooks by hand (zip and
//! sheet XML), or as CSV, then made adversarial where a reader trusts them: the zip's
//! declared sizes and entry count, deflate bombs, cell counts and grid shapes, cell
//! addresses, XML nesting and entities, shared-string indices and counts, relationships,
//! date cells, many sheets sharing one part.
//!
//! Workbooks large enough to matter (tens of megabytes of XML) are built once per process
//! and reused.

use std::fmt::Write as _;
use std::sync::OnceLock;

use super::expression;
use super::zip::{self, Entry};
use crate::dice::Dice;

attacks! {
    "One way of making a workbook hostile.";
    /// A real questionnaire as `.xlsx`.
    Valid => "valid";
    /// A real questionnaire as CSV.
    ValidCsv => "valid-csv";
    /// An entry declaring gigabytes (or 2^40 bytes, in zip64) for a few bytes.
    DeclaredHuge => "declared-huge";
    /// A sheet declaring a few bytes while it inflates past the unpack budget.
    DeclaredSmall => "declared-small";
    /// More zip entries than a workbook has (around the 256-entry limit, or thousands).
    ManyEntries => "many-entries";
    /// A sheet whose XML inflates past the unpack budget, honestly declared.
    SheetBomb => "sheet-bomb";
    /// Tens of megabytes of empty cells: within the budgets, all to be parsed.
    EmptyCells => "empty-cells";
    /// Around the cell limit of non-empty cells.
    CellFlood => "cell-flood";
    /// Many header columns and many rows with one cell each: few cells, a large grid.
    WideGrid => "wide-grid";
    /// Cell addresses at and past the sheet's edges, missing or malformed.
    FarCells => "far-cells";
    /// XML nested tens of thousands deep inside a sheet.
    DeepXml => "deep-xml";
    /// Shared-string indices past the table, negative or not numbers.
    BogusSharedIndex => "bogus-shared-index";
    /// A shared-string table declaring a huge count.
    SharedStringsCount => "shared-strings-count";
    /// Date-formatted cells holding extreme numbers.
    DateCells => "date-cells";
    /// Hundreds of sheets that are all the same large part.
    ManySheetsOnePart => "many-sheets-one-part";
    /// Broken XML: truncated, undefined entities, a DOCTYPE of entities, bad UTF-8.
    BadXml => "bad-xml";
    /// Relationships to missing parts, absolute and parent paths, wrong types.
    BadRelationships => "bad-relationships";
    /// The zip itself broken: truncated, end record lying, duplicate names, wrong CRC.
    BrokenZip => "broken-zip";
    /// CSV with a huge line, thousands of columns or rows, open quotes, bad UTF-8.
    HostileCsv => "hostile-csv";
    /// A few bytes of a valid workbook changed.
    ByteMutation => "byte-mutation";
}

/// Any hostile upload: an `.xlsx` (bytes starting with `PK`) or a CSV (anything else).
pub fn generate(dice: &mut Dice) -> Vec<u8> {
    let attack = *dice.pick(Attack::ALL).unwrap_or(&Attack::Valid);
    generate_with(dice, attack)
}

/// The XLSForm sheets a real questionnaire has: rows of cells, the first row the header.
type Sheets = Vec<(String, Vec<Vec<Cell>>)>;

/// A cell as written in sheet XML.
#[derive(Debug, Clone)]
enum Cell {
    /// Text (shared or inline, as the workbook writes text).
    Text(String),
    /// A number.
    Number(String),
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// A real questionnaire: questions of several types, a repeat and a group, choice lists,
/// and expressions in the relevant, constraint and calculation columns.
fn questionnaire(dice: &mut Dice) -> Sheets {
    let header =
        ["type", "name", "label", "relevant", "constraint", "calculation", "required", "choice_filter", "save_to"];
    let mut survey = vec![header.iter().map(|h| text(*h)).collect::<Vec<_>>()];
    // Mostly no expression or a valid one, so that whole forms import; now and then a
    // hostile one from the expression generator.
    let expr = |dice: &mut Dice| match dice.below(10) {
        0..=5 => String::new(),
        6..=8 => {
            let valid = [
                ". > 0",
                "${q0} != ''",
                "string-length(.) < 100",
                "true()",
                "${q1} + 1 > 2",
                "today() > date('2020-01-01')",
            ];
            (*dice.pick(&valid).unwrap_or(&"true()")).to_owned()
        }
        _ if dice.percent(30) => String::from_utf8_lossy(&expression::generate(dice)).into_owned(),
        _ => String::new(),
    };
    let types = ["text", "integer", "decimal", "date", "select_one water", "select_multiple crops", "note", "geopoint"];
    let count = 3 + dice.below(12);
    // Half the forms declare an entity list; only theirs save answers to it.
    let with_entities = dice.percent(50);
    for i in 0..count {
        let in_repeat = i == count / 2 || i == count / 2 + 1;
        if i == count / 2 {
            survey.push(vec![text("begin_repeat"), text("member"), text("Member")]);
        }
        let ty = *dice.pick(&types).unwrap_or(&"text");
        let filter =
            if ty.starts_with("select") && dice.percent(20) { "name != 'x'".to_owned() } else { String::new() };
        survey.push(vec![
            text(ty),
            text(format!("q{i}")),
            text(format!("Question {i}")),
            text(expr(dice)),
            text(expr(dice)),
            text(String::new()),
            text(if dice.percent(20) { "yes" } else { "" }),
            text(filter),
            text(if with_entities && !in_repeat { save_to(dice, i) } else { String::new() }),
        ]);
        if i == count / 2 + 1 {
            survey.push(vec![text("end_repeat")]);
        }
    }
    let total = if dice.percent(90) { "${q0} + 1".to_owned() } else { expr(dice) };
    survey.push(vec![text("calculate"), text("total"), text(""), text(""), text(""), text(total)]);
    let mut choices = vec![vec![text("list_name"), text("name"), text("label")]];
    for (list, names) in [("water", &["borehole", "well", "river"][..]), ("crops", &["sorghum", "millet"][..])] {
        for name in names {
            choices.push(vec![text(list), text(*name), text(name.to_uppercase())]);
        }
    }
    let settings = vec![
        vec![text("form_id"), text("version"), text("form_title")],
        vec![text("fuzz_form"), Cell::Number(format!("{}", 2026010100 + dice.below(99))), text("Fuzz")],
    ];
    let mut sheets: Sheets =
        vec![("survey".into(), survey), ("choices".into(), choices), ("settings".into(), settings)];
    if with_entities {
        sheets.push(("entities".into(), entities(dice, &expr)));
    }
    sheets
}

/// A `save_to` cell: mostly none, else a property; now and then one of the names pyxform
/// refuses.
fn save_to(dice: &mut Dice, question: usize) -> String {
    let names = ["name", "LABEL", "__p", "a#b", "plots##p", "plots#", "#p", "p p", "plots#p"];
    match dice.below(50) {
        0..=34 => String::new(),
        35..=48 => format!("p{question}"),
        _ => (*dice.pick(&names).unwrap_or(&"p")).to_owned(),
    }
}

/// An entities sheet: a declaration that creates, updates or upserts; now and then a
/// column, list name, missing label or mode pyxform refuses, or a second row.
fn entities(dice: &mut Dice, expr: &dyn Fn(&mut Dice) -> String) -> Vec<Vec<Cell>> {
    let header = ["list_name", "label", "entity_id", "create_if", "update_if"];
    let mut rows = vec![header.iter().map(|h| text(*h)).collect::<Vec<_>>()];
    let hostile = dice.percent(15);
    if hostile && dice.percent(30) {
        rows[0].push(text(*dice.pick(&["repeat", "dataset", "what"]).unwrap_or(&"what")));
    }
    let lists = ["__plots", "a.b", "1x", ""];
    for _ in 0..1 + usize::from(hostile && dice.percent(30)) {
        let list = if hostile && dice.percent(30) { *dice.pick(&lists).unwrap_or(&"plots") } else { "plots" };
        let label = match dice.below(4) {
            0 if hostile => String::new(),
            0 | 1 => "plain text label".to_owned(),
            _ => "concat(${q0}, ' ', ${q1})".to_owned(),
        };
        let updates = dice.percent(40);
        let id = if updates { "${q0}".to_owned() } else { String::new() };
        let create_if = expr(dice);
        // Valid modes: create_if beside entity_id needs update_if; update_if needs entity_id.
        let update_if = match (updates, create_if.is_empty()) {
            _ if hostile => expr(dice),
            (true, false) => "true()".to_owned(),
            (true, true) => expr(dice),
            (false, _) => String::new(),
        };
        rows.push(vec![text(list), text(label), text(id), text(create_if), text(update_if)]);
    }
    rows
}

/// Column letters of a 0-based index (`0` is `A`, `26` is `AA`).
fn column(mut i: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// How a workbook writes its text cells.
struct Strings {
    shared: bool,
    table: Vec<String>,
}

impl Strings {
    fn cell(&mut self, at: &str, cell: &Cell, out: &mut String) {
        match cell {
            Cell::Text(s) if s.is_empty() => {}
            Cell::Text(s) if self.shared => {
                let index = self.table.iter().position(|t| t == s).unwrap_or_else(|| {
                    self.table.push(s.clone());
                    self.table.len() - 1
                });
                let _ = write!(out, r#"<c r="{at}" t="s"><v>{index}</v></c>"#);
            }
            Cell::Text(s) => {
                let _ = write!(out, r#"<c r="{at}" t="inlineStr"><is><t>{}</t></is></c>"#, escape(s));
            }
            Cell::Number(n) => {
                let _ = write!(out, r#"<c r="{at}"><v>{n}</v></c>"#);
            }
        }
    }

    fn xml(&self) -> String {
        let mut out = format!(r#"<sst xmlns="{NS}" count="{0}" uniqueCount="{0}">"#, self.table.len());
        for s in &self.table {
            let _ = write!(out, "<si><t>{}</t></si>", escape(s));
        }
        out.push_str("</sst>");
        out
    }
}

const NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";

fn sheet_xml(rows: &[Vec<Cell>], strings: &mut Strings) -> String {
    let mut out = format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS}"><sheetData>"#);
    for (r, row) in rows.iter().enumerate() {
        let _ = write!(out, r#"<row r="{}">"#, r + 1);
        for (c, cell) in row.iter().enumerate() {
            strings.cell(&format!("{}{}", column(c as u64), r + 1), cell, &mut out);
        }
        out.push_str("</row>");
    }
    out.push_str("</sheetData></worksheet>");
    out
}

/// The parts of a workbook, before zipping.
struct Parts {
    files: Vec<(String, Vec<u8>)>,
}

/// The parts of a workbook of `sheets`, each sheet its own part.
fn parts(dice: &mut Dice, sheets: &Sheets) -> Parts {
    let mut strings = Strings { shared: dice.percent(60), table: Vec::new() };
    let sheet_parts: Vec<(String, String)> = sheets
        .iter()
        .enumerate()
        .map(|(i, (_, rows))| (format!("worksheets/sheet{}.xml", i + 1), sheet_xml(rows, &mut strings)))
        .collect();
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    let targets: Vec<&str> = sheet_parts.iter().map(|(p, _)| p.as_str()).collect();
    let mut files = workbook_files(&names, &targets, &[]);
    for (path, xml) in sheet_parts {
        files.push((format!("xl/{path}"), xml.into_bytes()));
    }
    if strings.shared {
        files.push(("xl/sharedStrings.xml".into(), strings.xml().into_bytes()));
    }
    Parts { files }
}

/// The package and workbook parts naming sheets `names`, each the part at `targets[i]`
/// (under `xl/`), plus `extra` relationships (id, type, target).
fn workbook_files(names: &[&str], targets: &[&str], extra: &[(String, String, String)]) -> Vec<(String, Vec<u8>)> {
    let content_types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#.to_owned();
    let package = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_NS}"><Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    let mut workbook =
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS}" xmlns:r="{REL_NS}"><sheets>"#);
    let mut rels = format!(r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_NS}">"#);
    for (i, (name, target)) in names.iter().zip(targets).enumerate() {
        let _ = write!(workbook, r#"<sheet name="{}" sheetId="{}" r:id="rId{}"/>"#, escape(name), i + 1, i + 1);
        let _ = write!(rels, r#"<Relationship Id="rId{}" Type="{REL_NS}/worksheet" Target="{target}"/>"#, i + 1);
    }
    for (id, ty, target) in extra {
        let _ = write!(rels, r#"<Relationship Id="{id}" Type="{ty}" Target="{target}"/>"#);
    }
    workbook.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    vec![
        ("[Content_Types].xml".into(), content_types.into_bytes()),
        ("_rels/.rels".into(), package.into_bytes()),
        ("xl/workbook.xml".into(), workbook.into_bytes()),
        ("xl/_rels/workbook.xml.rels".into(), rels.into_bytes()),
    ]
}

fn zip_parts(parts: &Parts) -> Vec<u8> {
    let entries: Vec<Entry> = parts.files.iter().map(|(name, bytes)| Entry::deflated(name, bytes)).collect();
    zip::write(&entries)
}

/// A workbook of the questionnaire with the survey sheet's part replaced by `entry`.
fn with_survey_entry(dice: &mut Dice, entry: Entry) -> Vec<u8> {
    let sheets = questionnaire(dice);
    let parts = parts(dice, &sheets);
    let mut entries: Vec<Entry> = parts
        .files
        .iter()
        .filter(|(name, _)| name != "xl/worksheets/sheet1.xml")
        .map(|(name, bytes)| Entry::deflated(name, bytes))
        .collect();
    entries.push(entry);
    zip::write(&entries)
}

/// Rows of XML repeated to about `len` bytes inside one sheet, deflated as it streams.
fn sheet_of_repeated(row: &str, len: u64) -> (Vec<u8>, u64) {
    let head = format!(r#"<worksheet xmlns="{NS}"><sheetData>"#);
    let tail = "</sheetData></worksheet>";
    // Deflate streams can be concatenated only as one stream, so the repeated middle is
    // compressed with its head and tail in one go.
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    let block = row.repeat((1 << 16) / row.len().max(1) + 1);
    let mut written = 0u64;
    let _ = std::io::Write::write_all(&mut e, head.as_bytes());
    while written < len {
        let _ = std::io::Write::write_all(&mut e, block.as_bytes());
        written += block.len() as u64;
    }
    let _ = std::io::Write::write_all(&mut e, tail.as_bytes());
    let total = head.len() as u64 + written + tail.len() as u64;
    (e.finish().unwrap_or_default(), total)
}

/// 80 MiB of rows of one inline-string cell, deflated: past the 64 MiB unpack budget.
fn sheet_bomb() -> &'static (Vec<u8>, u64) {
    static CELL: OnceLock<(Vec<u8>, u64)> = OnceLock::new();
    CELL.get_or_init(|| sheet_of_repeated(r#"<row><c t="inlineStr"><is><t>a</t></is></c></row>"#, 80 << 20))
}

/// 48 MiB of empty cells, deflated: within the budget, every cell to be read.
fn empty_cells() -> &'static (Vec<u8>, u64) {
    static CELL: OnceLock<(Vec<u8>, u64)> = OnceLock::new();
    CELL.get_or_init(|| sheet_of_repeated("<row><c/><c/><c/><c/><c/><c/><c/><c/></row>", 48 << 20))
}

/// 8 MiB of empty cells, deflated, for many sheets to share.
fn shared_part() -> &'static (Vec<u8>, u64) {
    static CELL: OnceLock<(Vec<u8>, u64)> = OnceLock::new();
    CELL.get_or_init(|| sheet_of_repeated("<row><c/><c/><c/><c/><c/><c/><c/><c/></row>", 8 << 20))
}

/// A survey sheet of `header` columns and `rows` rows of one cell each.
fn grid(header: usize, rows: usize, last_column: bool) -> String {
    let mut xml = format!(r#"<worksheet xmlns="{NS}"><sheetData><row r="1">"#);
    for c in 0..header {
        let _ = write!(xml, r#"<c r="{}1" t="inlineStr"><is><t>h{c}</t></is></c>"#, column(c as u64));
    }
    xml.push_str("</row>");
    let at = if last_column { column(header.saturating_sub(1) as u64) } else { "A".to_owned() };
    for r in 2..rows + 2 {
        let _ = write!(xml, r#"<row r="{r}"><c r="{at}{r}"><v>1</v></c></row>"#);
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

/// One upload made by one attack.
pub fn generate_with(dice: &mut Dice, attack: Attack) -> Vec<u8> {
    match attack {
        Attack::Valid => {
            let sheets = questionnaire(dice);
            zip_parts(&parts(dice, &sheets))
        }
        Attack::ValidCsv => csv(&questionnaire(dice)),
        Attack::DeclaredHuge => {
            let sheets = questionnaire(dice);
            let parts = parts(dice, &sheets);
            let lie = dice.below(parts.files.len());
            let size = *dice.pick(&[u64::from(u32::MAX) - 1, u64::from(u32::MAX), 1 << 40, 65 << 20]).unwrap_or(&0);
            let entries: Vec<Entry> = parts
                .files
                .iter()
                .enumerate()
                .map(|(i, (name, bytes))| {
                    let mut e = Entry::deflated(name, bytes);
                    if i == lie {
                        e.size = size;
                    }
                    e
                })
                .collect();
            zip::write(&entries)
        }
        Attack::DeclaredSmall => {
            let (bomb, len) = sheet_bomb();
            let declared = if dice.percent(50) { 1000 } else { *len };
            with_survey_entry(dice, Entry::raw("xl/worksheets/sheet1.xml", bomb.clone(), declared, 0))
        }
        Attack::ManyEntries => {
            let sheets = questionnaire(dice);
            let mut parts = parts(dice, &sheets);
            let count = *dice.pick(&[250, 251, 252, 253, 300, 5_000, 60_000]).unwrap_or(&300);
            for i in 0..count {
                parts.files.push((format!("xl/media/f{i}"), Vec::new()));
            }
            zip_parts(&parts)
        }
        Attack::SheetBomb => {
            let (bomb, len) = sheet_bomb();
            with_survey_entry(dice, Entry::raw("xl/worksheets/sheet1.xml", bomb.clone(), *len, 0))
        }
        Attack::EmptyCells => {
            let (bomb, len) = empty_cells();
            with_survey_entry(dice, Entry::raw("xl/worksheets/sheet1.xml", bomb.clone(), *len, 0))
        }
        Attack::CellFlood => {
            let cells = dice.near(500_000) as usize;
            let per_row = 8;
            let row = (0..per_row).map(|c| format!(r#"<c r="{}1"><v>7</v></c>"#, column(c))).collect::<String>();
            // Cell addresses repeat; the reader counts cells as it meets them, duplicates too.
            let (bomb, len) = sheet_of_repeated(&format!("<row>{row}</row>"), (cells / per_row as usize) as u64 * 200);
            with_survey_entry(dice, Entry::raw("xl/worksheets/sheet1.xml", bomb, len, 0))
        }
        Attack::WideGrid => {
            let (header, rows) = *dice
                .pick(&[(100, 100), (1_000, 1_000), (5_000, 5_000), (20_000, 20_000), (200_000, 200_000)])
                .unwrap_or(&(100, 100));
            let xml = grid(header, rows, dice.percent(50));
            with_survey_entry(dice, Entry::deflated("xl/worksheets/sheet1.xml", xml.as_bytes()))
        }
        Attack::FarCells => {
            let addresses = [
                "XFD1048576",
                "A1048577",
                "A4294967295",
                "A4294967296",
                "ZZZZZZZZZZ1",
                "A0",
                "",
                "1A",
                "AAAA99999999999",
            ];
            let mut cells = String::new();
            for _ in 0..1 + dice.below(6) {
                let at = dice.pick(&addresses).unwrap_or(&"A1");
                let _ = write!(cells, r#"<c r="{at}" t="inlineStr"><is><t>far</t></is></c>"#);
            }
            let xml = format!(
                r#"<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>type</t></is></c></row><row r="{}">{cells}</row></sheetData></worksheet>"#,
                dice.pick(&["2", "1048576", "4294967295", "0", "-1", "x"]).unwrap_or(&"2")
            );
            with_survey_entry(dice, Entry::deflated("xl/worksheets/sheet1.xml", xml.as_bytes()))
        }
        Attack::DeepXml => {
            let depth = *dice.pick(&[1_000, 100_000, 1_000_000]).unwrap_or(&1_000);
            let tag = *dice.pick(&["r", "x", "is", "row"]).unwrap_or(&"r");
            let xml = format!(
                r#"<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>{}<t>deep</t>{}</is></c></row></sheetData></worksheet>"#,
                format!("<{tag}>").repeat(depth),
                format!("</{tag}>").repeat(depth)
            );
            with_survey_entry(dice, Entry::deflated("xl/worksheets/sheet1.xml", xml.as_bytes()))
        }
        Attack::BogusSharedIndex => {
            let index = *dice.pick(&["3", "999999999", "18446744073709551616", "-1", "x", "", "1e3"]).unwrap_or(&"3");
            let xml = format!(
                r#"<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>{index}</v></c></row></sheetData></worksheet>"#
            );
            let sst = format!(r#"<sst xmlns="{NS}" count="1" uniqueCount="1"><si><t>type</t></si></sst>"#);
            let mut entries = base_entries(dice, "xl/worksheets/sheet1.xml", &xml);
            entries.retain(|e| e.name != b"xl/sharedStrings.xml");
            entries.push(Entry::deflated("xl/sharedStrings.xml", sst.as_bytes()));
            zip::write(&entries)
        }
        Attack::SharedStringsCount => {
            let count = *dice
                .pick(&["100000000", "150000000", "1000000000000", "18446744073709551615", "99999999999999999999"])
                .unwrap_or(&"100000000");
            let sst = format!(r#"<sst xmlns="{NS}" count="{count}" uniqueCount="{count}"><si><t>type</t></si></sst>"#);
            let sheets = questionnaire(dice);
            let mut entries: Vec<Entry> = parts(dice, &sheets)
                .files
                .iter()
                .filter(|(n, _)| n != "xl/sharedStrings.xml")
                .map(|(n, b)| Entry::deflated(n, b))
                .collect();
            entries.push(Entry::deflated("xl/sharedStrings.xml", sst.as_bytes()));
            zip::write(&entries)
        }
        Attack::DateCells => {
            let styles = format!(
                r#"<styleSheet xmlns="{NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>"#
            );
            let values = [
                "1e308",
                "-1e308",
                "2958466",
                "-1",
                "0.9999999999",
                "NaN",
                "inf",
                "4294967296.5",
                "1.7976931348623157e308",
            ];
            let mut cells = String::new();
            for (i, v) in values.iter().enumerate() {
                let _ = write!(cells, r#"<c r="{}2" s="{}"><v>{v}</v></c>"#, column(i as u64), 1 + dice.below(2));
            }
            let header: String = (0..values.len())
                .map(|i| format!(r#"<c r="{}1" t="inlineStr"><is><t>h{i}</t></is></c>"#, column(i as u64)))
                .collect();
            let xml = format!(
                r#"<worksheet xmlns="{NS}"><sheetData><row r="1">{header}</row><row r="2">{cells}</row></sheetData></worksheet>"#
            );
            let mut entries = base_entries(dice, "xl/worksheets/sheet1.xml", &xml);
            entries.push(Entry::deflated("xl/styles.xml", styles.as_bytes()));
            zip::write(&entries)
        }
        Attack::ManySheetsOnePart => {
            let count = *dice.pick(&[50, 500, 2_000]).unwrap_or(&50);
            let names: Vec<String> = (0..count).map(|i| format!("s{i}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let targets = vec!["worksheets/big.xml"; count];
            let mut entries: Vec<Entry> =
                workbook_files(&names, &targets, &[]).iter().map(|(n, b)| Entry::deflated(n, b)).collect();
            let (part, len) = shared_part();
            entries.push(Entry::raw("xl/worksheets/big.xml", part.clone(), *len, 0));
            zip::write(&entries)
        }
        Attack::BadXml => {
            let xml = match dice.below(5) {
                0 => format!(r#"<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>ty"#),
                1 => format!(
                    r#"<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&undefined;&#xFFFFFFFF;&#0;</t></is></c></row></sheetData></worksheet>"#
                ),
                2 => {
                    let mut doctype = String::from(r#"<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">"#);
                    for i in 1..10 {
                        let _ = write!(
                            doctype,
                            r#"<!ENTITY {} "{}">"#,
                            (b'a' + i) as char,
                            format!("&{};", (b'a' + i - 1) as char).repeat(10)
                        );
                    }
                    doctype.push_str("]>");
                    format!(
                        r#"{doctype}<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&j;</t></is></c></row></sheetData></worksheet>"#
                    )
                }
                3 => format!(
                    "<worksheet xmlns=\"{NS}\"><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>\u{feff}\u{0}</t></is></c></row></sheetData></worksheet>"
                ),
                _ => "<<<<>>>>".repeat(dice.below(1000)),
            };
            let mut bytes = xml.into_bytes();
            if dice.percent(30) {
                bytes.extend([0xff, 0xfe, 0xc0]);
            }
            let mut entries = base_entries(dice, "xl/worksheets/sheet1.xml", "");
            entries.retain(|e| e.name != b"xl/worksheets/sheet1.xml");
            entries.push(Entry::deflated("xl/worksheets/sheet1.xml", &bytes));
            zip::write(&entries)
        }
        Attack::BadRelationships => {
            let target = *dice
                .pick(&[
                    "/sheet1.xml",
                    "../../../etc/passwd",
                    "worksheets/missing.xml",
                    "sharedStrings.xml",
                    "",
                    "/",
                    "worksheets/sheet1.xml#x",
                ])
                .unwrap_or(&"");
            let names = ["survey", "choices"];
            let targets = [target, "worksheets/sheet2.xml"];
            let extra = [("rIdX".to_owned(), format!("{REL_NS}/worksheet"), "worksheets/sheet2.xml".to_owned())];
            let sheets = questionnaire(dice);
            let parts = parts(dice, &sheets);
            let mut entries: Vec<Entry> =
                workbook_files(&names, &targets, &extra).iter().map(|(n, b)| Entry::deflated(n, b)).collect();
            entries.extend(
                parts
                    .files
                    .iter()
                    .filter(|(n, _)| n.starts_with("xl/worksheets") || n.contains("sharedStrings"))
                    .map(|(n, b)| Entry::deflated(n, b)),
            );
            zip::write(&entries)
        }
        Attack::BrokenZip => {
            let sheets = questionnaire(dice);
            let parts = parts(dice, &sheets);
            let mut entries: Vec<Entry> = parts.files.iter().map(|(n, b)| Entry::deflated(n, b)).collect();
            match dice.below(4) {
                0 => {
                    let copy = entries[dice.below(entries.len())].clone();
                    entries.push(copy);
                    zip::write(&entries)
                }
                1 => {
                    let at = dice.below(entries.len());
                    entries[at].crc ^= 1;
                    zip::write(&entries)
                }
                2 => {
                    let bytes = zip::write(&entries);
                    bytes[..dice.below(bytes.len())].to_vec()
                }
                _ => {
                    // The end record's entry count, directory size and offset lie.
                    let mut bytes = zip::write(&entries);
                    let len = bytes.len();
                    let lie = dice.edgy_u64() as u32;
                    let at = len - 22 + *dice.pick(&[8, 10, 12, 16]).unwrap_or(&8);
                    let width = if at - (len - 22) < 12 { 2 } else { 4 };
                    bytes[at..at + width].copy_from_slice(&lie.to_le_bytes()[..width]);
                    bytes
                }
            }
        }
        Attack::HostileCsv => match dice.below(5) {
            0 => [b"type,name,label\n".as_slice(), &vec![b'a'; 1 << dice.between(10, 24)]].concat(),
            1 => (0..dice.between(1_000, 100_000)).map(|i| format!("h{i}")).collect::<Vec<_>>().join(",").into_bytes(),
            2 => {
                [b"survey,,\ntype,name,label\n".as_slice(), &b"text,q,\"open quote\n".repeat(dice.below(1000))].concat()
            }
            3 => {
                let mut out = b"\xef\xbb\xbfsurvey\ntype,name\n".to_vec();
                for i in 0..dice.between(1_000, 200_000) {
                    out.extend(format!("text,q{i}\n").as_bytes());
                }
                out
            }
            _ => [b"type,name\ntext,\xff\xfe\n".as_slice(), &dice.junk(0, 199)].concat(),
        },
        Attack::ByteMutation => {
            let sheets = questionnaire(dice);
            let mut bytes = zip_parts(&parts(dice, &sheets));
            super::chunks::mutate_bytes(dice, &mut bytes);
            bytes
        }
    }
}

/// The entries of a real questionnaire's workbook with the part `name` replaced by `xml`
/// (left out when `xml` is empty).
fn base_entries(dice: &mut Dice, name: &str, xml: &str) -> Vec<Entry> {
    let sheets = questionnaire(dice);
    let mut entries: Vec<Entry> =
        parts(dice, &sheets).files.iter().filter(|(n, _)| n != name).map(|(n, b)| Entry::deflated(n, b)).collect();
    if !xml.is_empty() {
        entries.push(Entry::deflated(name, xml.as_bytes()));
    }
    entries
}

/// The questionnaire as one CSV file in pyxform's layout: a line with the sheet's name in
/// the first column starts each sheet, cells sit from the second column on.
fn csv(sheets: &Sheets) -> Vec<u8> {
    let mut out = String::new();
    for (name, rows) in sheets {
        out.push_str(name);
        out.push_str(",,,,\n");
        for row in rows {
            out.push(',');
            let cells: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Cell::Text(s) | Cell::Number(s) => format!("\"{}\"", s.replace('"', "\"\"")),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    out.into_bytes()
}
