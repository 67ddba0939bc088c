//! ODK's external XML lists (`select_one_from_file villages.xml`): a root element holding one
//! element per item (`<item>`), each of whose child elements is a column
//! (`<name>`, `<label>`, `<prefecture>`…). The reader streams the file, so a file's cost is
//! its bytes, and keeps to the same limits as a CSV list.
//!
//! What an XML list may not hold is refused with a message for the form's author rather
//! than guessed at: a DOCTYPE (Terrain expands no entities), references to entities other
//! than XML's five and character references, and elements nested inside a column.

use std::collections::BTreeMap;

use quick_xml::XmlVersion;
use quick_xml::events::Event;

use super::{ListTable, MAX_CELLS, MAX_COLUMNS, MAX_ROWS};

/// The list an XML file holds, or why it cannot be read.
pub(super) fn read(bytes: &[u8]) -> Result<ListTable, String> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut header: Vec<String> = Vec::new();
    let mut columns: BTreeMap<String, usize> = BTreeMap::new();
    // A cell is `None` until the item names its column.
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    // Where the reader is: 1 inside the root, 2 inside an item, 3 inside a column.
    let mut depth = 0usize;
    let mut column: Option<usize> = None;
    let mut text = String::new();
    let mut seen_root = false;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| format!("not well-formed XML near byte {position}: {e}"))?;
        match event {
            Event::Start(element) => {
                depth += 1;
                match depth {
                    1 if seen_root => return Err("the file has two root elements; keep one".into()),
                    1 => seen_root = true,
                    2 => start_row(&mut rows, header.len())?,
                    3 => {
                        let name = element.local_name().as_ref().to_owned();
                        column = Some(column_of(&name, &mut header, &mut columns, rows.len())?);
                        text.clear();
                    }
                    _ => {
                        let inside = column.and_then(|c| header.get(c)).cloned().unwrap_or_default();
                        return Err(format!(
                            "elements nested inside `{inside}` are not read; each item's children hold text"
                        ));
                    }
                }
            }
            Event::Empty(element) => match depth {
                0 if seen_root => return Err("the file has two root elements; keep one".into()),
                0 => seen_root = true,
                1 => start_row(&mut rows, header.len())?,
                2 => {
                    let name = element.local_name().as_ref().to_owned();
                    let at = column_of(&name, &mut header, &mut columns, rows.len())?;
                    set(&mut rows, at, String::new());
                }
                _ => return Err("elements nested inside a column are not read; each item's children hold text".into()),
            },
            Event::End(_) => {
                if depth == 3
                    && let Some(at) = column.take()
                {
                    set(&mut rows, at, std::mem::take(&mut text));
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if depth == 3 => text.push_str(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(t) if depth == 3 => text.push_str(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => {
                        quick_xml::escape::resolve_predefined_entity(&reference.xml_content(XmlVersion::Implicit1_0))
                            .map(str::to_owned)
                    }
                    Err(_) => None,
                };
                let Some(resolved) = resolved else {
                    let name = reference.xml_content(XmlVersion::Implicit1_0);
                    return Err(format!("`&{name};` is not a character XML defines; write the character itself"));
                };
                if depth == 3 {
                    text.push_str(&resolved);
                }
            }
            Event::DocType(_) => {
                return Err("a DOCTYPE is not read (Terrain expands no entities); remove it".into());
            }
            Event::Eof => break,
            // The declaration, comments, processing instructions, and whitespace between
            // elements hold no value.
            _ => {}
        }
    }
    if !seen_root {
        return Err("no root element: an XML list is <root><item><name>…</name><label>…</label></item>…</root>".into());
    }
    let width = header.len();
    let rows = rows
        .into_iter()
        .map(|row| {
            let mut row: Vec<String> = row.into_iter().map(Option::unwrap_or_default).collect();
            row.resize(width, String::new());
            row
        })
        .collect();
    Ok(ListTable { header, rows })
}

fn start_row(rows: &mut Vec<Vec<Option<String>>>, columns: usize) -> Result<(), String> {
    if rows.len() == MAX_ROWS {
        return Err(format!("more than {MAX_ROWS} items; long lists belong in an entity list"));
    }
    if (rows.len() + 1) * columns.max(1) > MAX_CELLS {
        return Err(format!(
            "more than {MAX_CELLS} cells ({columns} columns); drop the columns the form does not read"
        ));
    }
    rows.push(Vec::new());
    Ok(())
}

/// The index of column `name`, added to the header the first time an item has it.
fn column_of(
    name: &str,
    header: &mut Vec<String>,
    columns: &mut BTreeMap<String, usize>,
    rows: usize,
) -> Result<usize, String> {
    if let Some(at) = columns.get(name) {
        return Ok(*at);
    }
    if header.len() == MAX_COLUMNS {
        return Err(format!("more than {MAX_COLUMNS} different columns; at most {MAX_COLUMNS} are read"));
    }
    if rows * (header.len() + 1) > MAX_CELLS {
        return Err(format!("more than {MAX_CELLS} cells; drop the columns the form does not read"));
    }
    header.push(name.to_owned());
    columns.insert(name.to_owned(), header.len() - 1);
    Ok(header.len() - 1)
}

/// Sets a cell of the last row, unless the item named the column already (the first wins).
fn set(rows: &mut [Vec<Option<String>>], at: usize, value: String) {
    let Some(row) = rows.last_mut() else { return };
    if row.len() <= at {
        row.resize(at + 1, None);
    }
    row[at].get_or_insert(value);
}
