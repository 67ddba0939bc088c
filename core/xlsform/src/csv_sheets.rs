//! Reads a CSV XLSForm: one file holding every sheet as a section.
//!
//! The layout is pyxform's (`xls2json_backends.csv_to_dict`): a line whose first cell is
//! not empty starts a sheet of that name; the first line of a sheet with other non-empty
//! cells is its header row (it may be the sheet-name line itself); the following lines are
//! data. Data cells sit from the second column on, so the first column is only ever used
//! for sheet names:
//!
//! ```text
//! survey,,,
//! ,type,name,label
//! ,text,q1,Your name?
//! choices,,,
//! ,list_name,name,label
//! ```

use super::limits::{CellCount, Limits};
use super::sheets::{Row, Sheet, Workbook, collapse_spaces};

/// pyxform refuses a "CSV" with fewer than four commas in its first 5000 characters: the
/// smallest form needs that many, and anything less is some other kind of file.
const MIN_COMMAS: usize = 4;
const SNIFF_CHARS: usize = 5000;

/// Reads a CSV XLSForm. The error is a reason for the form author.
pub(crate) fn read_csv(bytes: &[u8], limits: &Limits) -> Result<Workbook, String> {
    let mut count = CellCount::new(limits);
    // Excel's "CSV UTF-8" export starts with a byte-order mark, which pyxform would take
    // as part of the first sheet's name; it is never meant as such.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| format!("it is not UTF-8 text ({e}); save the CSV as UTF-8"))?;
    let commas = text.chars().take(SNIFF_CHARS).filter(|&c| c == ',').count();
    if commas < MIN_COMMAS {
        return Err("it does not look like a CSV XLSForm (too few commas)".to_owned());
    }

    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut book = Workbook::default();
    // The sheet being filled, and how its current header maps onto the sheet's columns.
    let mut current: Option<usize> = None;
    let mut column_map: Option<Vec<usize>> = None;

    for record in reader.records() {
        let record = record.map_err(|e| format!("it is not valid CSV ({e})"))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let mut fields = record.iter().map(str::trim);
        let first = fields.next().unwrap_or_default();
        let content: Vec<&str> = fields.collect();
        for _ in content.iter().filter(|c| !c.is_empty()) {
            count.take()?;
        }
        let has_content = content.iter().any(|c| !c.is_empty());

        if !first.is_empty() {
            current = Some(start_sheet(&mut book, first, line));
            column_map = None;
        }
        if !has_content {
            continue;
        }
        let Some(index) = current else {
            return Err(format!(
                "line {line} has data before any sheet name; the first cell of the first \
                 line must name a sheet, such as \"survey\""
            ));
        };
        let Some(sheet) = book.sheets.get_mut(index) else {
            continue;
        };
        match &column_map {
            None => column_map = Some(add_headers(sheet, &content, line)),
            Some(map) => {
                let mut cells = vec![String::new(); sheet.headers.len()];
                for (value, &column) in content.iter().zip(map) {
                    if let Some(cell) = cells.get_mut(column) {
                        *cell = (*value).to_owned();
                    }
                }
                if cells.iter().any(|c| !c.is_empty()) {
                    sheet.rows.push(Row { number: line, cells });
                }
            }
        }
    }
    Ok(book)
}

/// Starts (or, when the name was seen before, resumes) the sheet called `name`.
fn start_sheet(book: &mut Workbook, name: &str, line: usize) -> usize {
    if let Some(i) = book.sheets.iter().position(|s| s.name.eq_ignore_ascii_case(name)) {
        return i;
    }
    book.sheets.push(Sheet { name: name.to_owned(), header_row: line, ..Sheet::default() });
    book.sheets.len() - 1
}

/// Takes a header line into the sheet and returns, for each of its cells, the sheet column
/// it fills. A sheet whose section appears twice keeps one column per distinct header.
fn add_headers(sheet: &mut Sheet, content: &[&str], line: usize) -> Vec<usize> {
    if sheet.headers.is_empty() {
        sheet.header_row = line;
    }
    // Only headers of an earlier section are shared; a header written twice on this line
    // stays two columns, so that the duplicate is reported.
    let earlier = sheet.headers.len();
    content
        .iter()
        .map(|raw| {
            let header = collapse_spaces(raw);
            if !header.is_empty()
                && let Some(i) = sheet.headers.iter().take(earlier).position(|h| *h == header)
            {
                return i;
            }
            sheet.headers.push(header);
            sheet.headers.len() - 1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_headers_and_rows_with_line_numbers() {
        let csv = "survey,,,\n,type,name,label\n, text , q1 ,Name?\n,,,\nchoices,,,\n\
                   ,list_name,name,label\n,yn,yes,Yes\n";
        let book = read_csv(csv.as_bytes(), &Limits::default()).unwrap();
        let survey = book.sheet("SURVEY").unwrap();
        assert_eq!(survey.headers, ["type", "name", "label"]);
        assert_eq!(survey.header_row, 2);
        assert_eq!(survey.rows.len(), 1);
        assert_eq!(survey.rows[0].number, 3);
        assert_eq!(survey.rows[0].cells, ["text", "q1", "Name?"]);
        let choices = book.sheet("choices").unwrap();
        assert_eq!(choices.rows[0].number, 7);
    }

    #[test]
    fn header_may_share_the_sheet_name_line_and_names_are_trimmed() {
        let csv = "SURVEY  , TYPE , NAME , LABEL\n, note , n , Hi\n";
        let book = read_csv(csv.as_bytes(), &Limits::default()).unwrap();
        let survey = book.sheet("survey").unwrap();
        assert_eq!(survey.headers, ["TYPE", "NAME", "LABEL"]);
        assert_eq!(survey.rows[0].cells, ["note", "n", "Hi"]);
    }

    #[test]
    fn refuses_what_is_not_a_csv_xlsform() {
        assert!(read_csv(b"hello", &Limits::default()).unwrap_err().contains("CSV XLSForm"));
        assert!(read_csv(b"\xff\xfe,,,,", &Limits::default()).unwrap_err().contains("UTF-8"));
        assert!(read_csv(b",type,name,label\n,text,a,b\n", &Limits::default()).unwrap_err().contains("sheet name"));
    }

    #[test]
    fn byte_order_mark_is_not_part_of_the_sheet_name() {
        let book = read_csv("\u{feff}survey,,,\n,type,name,label\n".as_bytes(), &Limits::default()).unwrap();
        assert!(book.sheet("survey").is_some());
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn a_csv_with_more_cells_than_allowed_is_refused() {
        let mut csv = String::from("survey,,,\n,type,name,label\n");
        for i in 0..100 {
            csv.push_str(&format!(",text,q{i},Question {i}\n"));
        }
        let few = Limits { max_cells: 50, ..Limits::default() };
        assert!(read_csv(csv.as_bytes(), &few).unwrap_err().contains("more than 50"));
        assert!(read_csv(csv.as_bytes(), &Limits::default()).is_ok());
    }
}
