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

use std::collections::HashMap;

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
    // Sheets and headers met so far, by name, so that resuming a sheet or a header costs a
    // lookup: a file of many short sections would otherwise compare each with all before it.
    let mut index = Index::default();
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
            current = Some(start_sheet(&mut book, &mut index, first, line));
            column_map = None;
        }
        if !has_content {
            continue;
        }
        let Some(at) = current else {
            return Err(format!(
                "line {line} has data before any sheet name; the first cell of the first \
                 line must name a sheet, such as \"survey\""
            ));
        };
        let (Some(sheet), Some(known)) = (book.sheets.get_mut(at), index.headers.get_mut(at)) else {
            continue;
        };
        match &column_map {
            None => column_map = Some(add_headers(sheet, known, &content, line)),
            Some(map) => {
                // A row takes a slot per header of its sheet, and sections can add headers
                // without end: count the slots, as the Excel reader does.
                count.lay_out(sheet.headers.len())?;
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

/// The sheets by name (ASCII case folded, as sheet names match), and each sheet's headers (of earlier sections) by text,
/// to their first column.
#[derive(Default)]
struct Index {
    sheets: HashMap<String, usize>,
    headers: Vec<HashMap<String, usize>>,
}

/// Starts (or, when the name was seen before, resumes) the sheet called `name`.
fn start_sheet(book: &mut Workbook, index: &mut Index, name: &str, line: usize) -> usize {
    let key = name.to_ascii_lowercase();
    if let Some(&i) = index.sheets.get(&key) {
        return i;
    }
    book.sheets.push(Sheet { name: name.to_owned(), header_row: line, ..Sheet::default() });
    index.sheets.insert(key, book.sheets.len() - 1);
    index.headers.push(HashMap::new());
    book.sheets.len() - 1
}

/// Takes a header line into the sheet and returns, for each of its cells, the sheet column
/// it fills. A sheet whose section appears twice keeps one column per distinct header;
/// `known` holds the headers of its earlier sections.
fn add_headers(sheet: &mut Sheet, known: &mut HashMap<String, usize>, content: &[&str], line: usize) -> Vec<usize> {
    if sheet.headers.is_empty() {
        sheet.header_row = line;
    }
    // Only headers of an earlier section are shared; a header written twice on this line
    // stays two columns, so that the duplicate is reported.
    let earlier = sheet.headers.len();
    let map = content
        .iter()
        .map(|raw| {
            let header = collapse_spaces(raw);
            if !header.is_empty()
                && let Some(&i) = known.get(&header)
            {
                return i;
            }
            sheet.headers.push(header);
            sheet.headers.len() - 1
        })
        .collect();
    for (i, header) in sheet.headers.iter().enumerate().skip(earlier) {
        if !header.is_empty() {
            known.entry(header.clone()).or_insert(i);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_sections_cost_a_lookup_each_and_their_rows_are_counted() {
        // 100,000 one-line sections that each add a header to one sheet: this took minutes
        // when each header was compared with all the earlier ones.
        let mut csv = String::from("survey,,,,\n");
        for i in 0..100_000 {
            csv.push_str(&format!("survey,h{i}\n"));
        }
        let started = std::time::Instant::now();
        let book = read_csv(csv.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(book.sheet("survey").unwrap().headers.len(), 100_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
        // Rows under those headers take a slot per header each: refused past the grid budget.
        for _ in 0..100 {
            csv.push_str(",x\n");
        }
        let limits = Limits { max_cells: 200_000, ..Limits::default() };
        assert!(read_csv(csv.as_bytes(), &limits).unwrap_err().contains("lay out more than"));
    }

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
