//! Reads an Excel workbook into neutral sheets of trimmed text cells.
//!
//! Everything after this module works on [`Workbook`], whatever the file format was. The
//! reading follows pyxform's `xls2json_backends` so that a form reads the same here as in
//! ODK or KoboToolbox: cell text is trimmed, numbers that are whole print without `.0`
//! (calamine returns `1` as `1.0`), dates print as `YYYY-MM-DD HH:MM:SS` or `HH:MM:SS`,
//! booleans as `TRUE`/`FALSE`, non-breaking spaces become spaces, columns without a header
//! are ignored, and reading stops after the same runs of empty columns and rows as pyxform.
//!
//! Damaged files: calamine panics on some damaged `.xls` files, which is caught and reported
//! as unreadable. Worse, a damaged `.xls` can carry a cell address that makes calamine (0.38)
//! allocate a grid of gigabytes while opening the file, which aborts the process; `.xlsx`
//! is immune because it is read cell by cell. Import untrusted `.xls` where a crash is
//! contained (a worker process), or ask for `.xlsx`.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader, Xls, Xlsx};

use crate::limits::{CellCount, Limits};

/// A whole XLSForm file: its sheets in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Workbook {
    /// The sheets, in the order the file has them.
    pub sheets: Vec<Sheet>,
}

/// One sheet (or one section of a CSV XLSForm).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sheet {
    /// The name as written in the file.
    pub name: String,
    /// The row number of the header row, for issues about headers.
    pub header_row: usize,
    /// The header of each column, trimmed, runs of spaces collapsed; empty when the column
    /// has no header (such columns are ignored, as pyxform ignores them).
    pub headers: Vec<String>,
    /// The non-empty data rows, in order.
    pub rows: Vec<Row>,
}

/// One non-empty data row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Row {
    /// The row number as the spreadsheet shows it (for CSV, the line in the file).
    pub number: usize,
    /// Trimmed cell text by column index (aligned with [`Sheet::headers`]); empty when the
    /// cell is empty. May be shorter than the headers: missing cells are empty.
    pub cells: Vec<String>,
}

impl Row {
    /// The text of column `index`, empty if there is none.
    pub fn cell(&self, index: usize) -> &str {
        self.cells.get(index).map_or("", String::as_str)
    }
}

impl Workbook {
    /// The first sheet whose name matches `name` case-insensitively (pyxform lowercases
    /// sheet names before looking them up).
    pub fn sheet(&self, name: &str) -> Option<&Sheet> {
        self.sheets.iter().find(|s| s.name.trim().eq_ignore_ascii_case(name))
    }
}

/// pyxform stops reading headers at the 21st empty header cell in a row of them.
const MAX_ADJACENT_EMPTY_COLUMNS: usize = 20;
/// pyxform stops reading a sheet at the 61st empty row in a row of them.
const MAX_ADJACENT_EMPTY_ROWS: u32 = 60;

/// Which Excel format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExcelFormat {
    /// Office Open XML (`.xlsx`, `.xlsm`).
    Xlsx,
    /// The legacy binary format (`.xls`).
    Xls,
}

/// Reads an Excel workbook. The error is a reason for the form author.
pub(crate) fn read_excel(bytes: &[u8], format: ExcelFormat, limits: &Limits) -> Result<Workbook, String> {
    // calamine parses untrusted binary input and panics on some damaged files (slice
    // indexing in its .xls reader); that must become a "cannot read" answer rather than
    // take the caller down.
    catch_unwind(AssertUnwindSafe(|| read_excel_inner(bytes, format, limits)))
        .unwrap_or_else(|_| Err("the workbook is damaged or uses a feature the reader does not handle".to_owned()))
}

/// The non-empty cells of a sheet, as text, by absolute (row, column).
type SparseCells = BTreeMap<(u32, u32), String>;

fn read_excel_inner(bytes: &[u8], format: ExcelFormat, limits: &Limits) -> Result<Workbook, String> {
    let cursor = Cursor::new(bytes);
    let mut sheets = Vec::new();
    let mut count = CellCount::new(limits);
    match format {
        ExcelFormat::Xlsx => {
            let mut book: Xlsx<_> =
                Xlsx::new(cursor).map_err(|e| format!("it is not a readable .xlsx workbook ({e})"))?;
            for name in book.sheet_names() {
                // Cell by cell rather than `worksheet_range`: a range is a dense grid, and
                // one stray cell at XFD1048576 would ask for gigabytes.
                let mut reader =
                    book.worksheet_cells_reader(&name).map_err(|e| format!("sheet \"{name}\" cannot be read ({e})"))?;
                let mut cells = SparseCells::new();
                while let Some(cell) =
                    reader.next_cell().map_err(|e| format!("sheet \"{name}\" cannot be read ({e})"))?
                {
                    let text = cell_text(&Data::from(cell.get_value().clone()));
                    if !text.is_empty() {
                        count.take()?;
                        cells.insert(cell.get_position(), text);
                    }
                }
                sheets.push(sheet_from_cells(name, &cells, &mut count)?);
            }
        }
        ExcelFormat::Xls => {
            // calamine reads .xls sheets whole, into dense ranges, when opening the file.
            let mut book: Xls<_> = Xls::new(cursor).map_err(|e| format!("it is not a readable .xls workbook ({e})"))?;
            for name in book.sheet_names() {
                let range =
                    book.worksheet_range(&name).map_err(|e| format!("sheet \"{name}\" cannot be read ({e})"))?;
                let (row0, col0) = range.start().unwrap_or((0, 0));
                let mut cells = SparseCells::new();
                for (r, c, data) in range.used_cells() {
                    let text = cell_text(data);
                    let (Ok(r), Ok(c)) = (u32::try_from(r), u32::try_from(c)) else { continue };
                    if !text.is_empty() {
                        count.take()?;
                        cells.insert((row0 + r, col0 + c), text);
                    }
                }
                sheets.push(sheet_from_cells(name, &cells, &mut count)?);
            }
        }
    }
    Ok(Workbook { sheets })
}

/// Lays out a sheet as pyxform reads it: the first row of the sheet is the header (even
/// when it is empty), and data rows follow until a long run of empty rows. Every data row
/// takes a slot per header column, counted against the grid budget of `count`.
fn sheet_from_cells(name: String, cells: &SparseCells, count: &mut CellCount) -> Result<Sheet, String> {
    let header_width = cells.range((0, 0)..(1, 0)).last().map_or(0, |(&(_, c), _)| c as usize + 1);
    let headers = header_row(
        (0..header_width)
            .map(|col| u32::try_from(col).ok().and_then(|col| cells.get(&(0, col))).cloned().unwrap_or_default()),
    );
    let mut rows: Vec<Row> = Vec::new();
    let mut last_filled = 0u32;
    let mut current: Option<Row> = None;
    for (&(row, col), text) in cells.range((1, 0)..) {
        let col = col as usize;
        if headers.get(col).is_none_or(String::is_empty) {
            continue;
        }
        if current.as_ref().is_none_or(|r| r.number != row as usize + 1) {
            if row - last_filled - 1 > MAX_ADJACENT_EMPTY_ROWS {
                break;
            }
            rows.extend(current.take());
            count.lay_out(headers.len())?;
            current = Some(Row { number: row as usize + 1, cells: vec![String::new(); headers.len()] });
            last_filled = row;
        }
        if let Some(cell) = current.as_mut().and_then(|r| r.cells.get_mut(col)) {
            cell.clone_from(text);
        }
    }
    rows.extend(current);
    Ok(Sheet { name, header_row: 1, headers, rows })
}

/// Cleans a row of header cells the way pyxform does: trimmed, runs of spaces collapsed,
/// cut at a long run of empty cells, trailing empties dropped.
pub(crate) fn header_row(cells: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut headers = Vec::new();
    let mut adjacent_empty = 0;
    for cell in cells {
        if cell.trim().is_empty() {
            if adjacent_empty == MAX_ADJACENT_EMPTY_COLUMNS {
                break;
            }
            adjacent_empty += 1;
            headers.push(String::new());
        } else {
            adjacent_empty = 0;
            headers.push(collapse_spaces(cell.trim()));
        }
    }
    while headers.last().is_some_and(String::is_empty) {
        headers.pop();
    }
    headers
}

/// Replaces each run of spaces with one space (pyxform collapses spaces, not tabs).
pub(crate) fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_space = false;
    for c in text.chars() {
        if c == ' ' {
            if !previous_space {
                out.push(c);
            }
            previous_space = true;
        } else {
            out.push(c);
            previous_space = false;
        }
    }
    out
}

/// The text pyxform would read from a cell.
fn cell_text(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().replace('\u{a0}', " "),
        Data::Float(f) => float_text(*f),
        Data::Int(i) => i.to_string(),
        Data::Bool(true) => "TRUE".to_owned(),
        Data::Bool(false) => "FALSE".to_owned(),
        Data::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _millis) = dt.to_ymd_hms_milli();
            // A serial below one day carries no date: Excel's way of storing a bare time.
            if dt.as_f64() < 1.0 {
                format!("{h:02}:{mi:02}:{s:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Error(e) => e.to_string(),
    }
}

/// Spreadsheets store every number as a float: `1` arrives as `1.0` but means `1`.
pub(crate) fn float_text(f: f64) -> String {
    // Below 2^53 every whole float converts to i64 exactly.
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        let whole = f as i64;
        whole.to_string()
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_header_over_many_rows_is_refused_before_it_is_laid_out() {
        // 2,000 header columns and 2,000 rows of one cell: 4,000 cells, but a grid of four
        // million slots (a few kilobytes of .xlsx asked for terabytes this way).
        let mut cells = SparseCells::new();
        for c in 0..2_000u32 {
            cells.insert((0, c), format!("h{c}"));
        }
        for r in 1..2_001u32 {
            cells.insert((r, 0), "x".to_owned());
        }
        let limits = Limits { max_cells: 10_000, ..Limits::default() };
        let err = sheet_from_cells("survey".into(), &cells, &mut CellCount::new(&limits)).unwrap_err();
        assert!(err.contains("lay out more than 100000 cells"), "{err}");
        let narrow: SparseCells = cells.into_iter().filter(|((r, c), _)| *r > 0 || *c < 40).collect();
        let sheet = sheet_from_cells("survey".into(), &narrow, &mut CellCount::new(&limits)).unwrap();
        assert_eq!((sheet.headers.len(), sheet.rows.len()), (40, 2_000));
    }

    #[test]
    fn whole_floats_print_as_integers() {
        assert_eq!(float_text(1.0), "1");
        assert_eq!(float_text(-3.0), "-3");
        assert_eq!(float_text(0.5), "0.5");
        assert_eq!(float_text(1200.0), "1200");
    }

    #[test]
    fn cells_are_trimmed_and_typed_like_pyxform() {
        assert_eq!(cell_text(&Data::String("  a\u{a0}b \u{a0}".into())), "a b");
        assert_eq!(cell_text(&Data::Bool(true)), "TRUE");
        assert_eq!(cell_text(&Data::Int(7)), "7");
    }

    #[test]
    fn headers_stop_after_a_long_gap_and_drop_trailing_empties() {
        let mut cells = vec!["type".to_owned(), "  name  ".to_owned(), String::new()];
        cells.extend(std::iter::repeat_n(String::new(), 30));
        cells.push("lost".to_owned());
        assert_eq!(header_row(cells), ["type", "name"]);
        assert_eq!(header_row(vec!["label  ::  x".to_owned()]), ["label :: x"]);
    }
}
