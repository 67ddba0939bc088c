//! The XLSX export: one sheet per table and a dictionary sheet, each written in
//! `rust_xlsxwriter`'s constant-memory mode (rows go to a temporary file as they come).

use std::io::{Seek, Write};

use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};

use super::rows::{Cell, RowWriter, Sink};
use super::table::Layout;
use super::{ExportError, ExportOutcome, Scan, dictionary};

/// The most rows a sheet holds (header included).
const MAX_ROWS: u32 = 1_048_576;

fn xlsx_error(e: XlsxError) -> ExportError {
    ExportError::Xlsx(e.to_string())
}

struct Sheets {
    sheets: Vec<Worksheet>,
    next_row: Vec<u32>,
    names: Vec<String>,
}

impl Sink for Sheets {
    fn row(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError> {
        let row = self.next_row[table];
        if row >= MAX_ROWS {
            return Err(ExportError::Xlsx(format!(
                "sheet `{}` would have more than {MAX_ROWS} rows",
                self.names[table]
            )));
        }
        self.next_row[table] += 1;
        let sheet = &mut self.sheets[table];
        for (col, cell) in cells.iter().enumerate() {
            let col = u16::try_from(col).map_err(|_| ExportError::Xlsx("more than 65,535 columns".into()))?;
            match cell {
                Cell::Empty => continue,
                Cell::Text(t) => sheet.write_string(row, col, t.as_ref()).map_err(xlsx_error)?,
                Cell::Integer(i) => sheet.write_number(row, col, *i as f64).map_err(xlsx_error)?,
                Cell::Decimal(d) => sheet.write_number(row, col, *d).map_err(xlsx_error)?,
            };
        }
        Ok(())
    }
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, unique.
fn sheet_name(name: &str, taken: &[String]) -> String {
    let clean: String = name.chars().map(|c| if "[]:*?/\\".contains(c) { '_' } else { c }).take(31).collect::<String>();
    let mut candidate = if clean.is_empty() { "sheet".to_owned() } else { clean };
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
        let suffix = format!("~{n}");
        candidate = candidate.chars().take(31 - suffix.len()).collect::<String>() + &suffix;
        n += 1;
    }
    candidate
}

/// Writes the workbook.
pub(crate) fn write<W: Write + Seek + Send>(
    layout: &Layout,
    scan: Scan<'_>,
    out: W,
) -> Result<ExportOutcome, ExportError> {
    let mut workbook = Workbook::new();
    let mut sheets = Sheets { sheets: Vec::new(), next_row: Vec::new(), names: Vec::new() };
    for table in &layout.tables {
        let mut sheet = workbook.new_worksheet_with_constant_memory().map_err(xlsx_error)?;
        let name = sheet_name(&table.name, &sheets.names);
        sheet.set_name(&name).map_err(xlsx_error)?;
        for (col, column) in table.columns.iter().enumerate() {
            let col = u16::try_from(col).map_err(|_| ExportError::Xlsx("more than 65,535 columns".into()))?;
            sheet.write_string(0, col, &column.name).map_err(xlsx_error)?;
        }
        sheets.sheets.push(sheet);
        sheets.next_row.push(1);
        sheets.names.push(name);
    }
    let mut rows = RowWriter::new(layout);
    let outcome = scan.run(|record| rows.write(record, &mut sheets))?;
    let mut dict = workbook.new_worksheet_with_constant_memory().map_err(xlsx_error)?;
    dict.set_name(sheet_name("dictionary", &sheets.names)).map_err(xlsx_error)?;
    for (r, row) in dictionary::rows(layout).iter().enumerate() {
        let r = u32::try_from(r).map_err(|_| ExportError::Xlsx("dictionary too long".into()))?;
        for (c, text) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(|_| ExportError::Xlsx("more than 65,535 columns".into()))?;
            if !text.is_empty() {
                dict.write_string(r, c, text).map_err(xlsx_error)?;
            }
        }
    }
    for sheet in sheets.sheets {
        workbook.push_worksheet(sheet);
    }
    workbook.push_worksheet(dict);
    workbook.save_to_writer(out).map_err(xlsx_error)?;
    Ok(outcome)
}
