//! The data dictionary: one row per column of every table, saying which question it comes
//! from, its type, its label in every language and its choices. Analysts ask for it first.

use std::io::Write;

use super::ExportError;
use super::rows::label;
use super::table::{ColumnKind, GeoPart, Layout};

/// The dictionary's rows, header first.
pub fn rows(layout: &Layout) -> Vec<Vec<String>> {
    let mut header: Vec<String> =
        ["table", "column", "question", "type", "choice_list", "label"].iter().map(|s| (*s).to_owned()).collect();
    header.extend(layout.languages.iter().map(|l| format!("label::{l}")));
    header.push("choices".to_owned());
    let mut out = vec![header];
    let lang = layout.labels.as_deref();
    for table in &layout.tables {
        for column in &table.columns {
            let mut row = vec![table.name.clone(), column.name.clone()];
            match &column.kind {
                ColumnKind::Answer(def) | ColumnKind::Choice(def, _) | ColumnKind::Geo(def, _) => {
                    let q = &def.question;
                    row.push(q.name.clone());
                    let (kind, extra) = match &column.kind {
                        ColumnKind::Choice(_, i) => ("select_multiple choice (1 chosen, 0 not)", Some(*i)),
                        ColumnKind::Geo(_, part) => (
                            match part {
                                GeoPart::Latitude => "geopoint latitude",
                                GeoPart::Longitude => "geopoint longitude",
                                GeoPart::Altitude => "geopoint altitude",
                                GeoPart::Precision => "geopoint accuracy (m)",
                            },
                            None,
                        ),
                        _ => (q.kind.xlsform_name(), None),
                    };
                    row.push(kind.to_owned());
                    row.push(q.kind.choice_list().unwrap_or_default().to_owned());
                    let text = |l: Option<&str>| {
                        let base = label(&q.label, layout, l).unwrap_or_default();
                        match extra {
                            Some(i) => {
                                let choice = &def.choices[i];
                                format!("{base}: {}", label(&choice.label, layout, l).unwrap_or(&choice.name))
                            }
                            None => base.to_owned(),
                        }
                    };
                    row.push(text(lang));
                    row.extend(layout.languages.iter().map(|l| text(Some(l))));
                    let choices = match extra {
                        Some(i) => def.choices[i].name.clone(),
                        None => def
                            .choices
                            .iter()
                            .map(|c| format!("{}={}", c.name, label(&c.label, layout, lang).unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(" | "),
                    };
                    row.push(choices);
                }
                ColumnKind::Meta(meta) => {
                    row.extend([String::new(), "metadata".to_owned(), String::new(), meta.description().to_owned()]);
                    row.extend(layout.languages.iter().map(|_| String::new()));
                    row.push(String::new());
                }
                ColumnKind::Entity(list) => {
                    let description = format!(
                        "the entity of list `{list}` the survey created or updated (its `name` in the list's export)"
                    );
                    row.extend([String::new(), "entity".to_owned(), String::new(), description]);
                    row.extend(layout.languages.iter().map(|_| String::new()));
                    row.push(String::new());
                }
            }
            out.push(row);
        }
    }
    out
}

/// Writes the dictionary as CSV.
pub fn write_csv(layout: &Layout, out: &mut dyn Write) -> Result<(), ExportError> {
    let mut writer = csv::Writer::from_writer(out);
    for row in rows(layout) {
        writer.write_record(&row)?;
    }
    writer.flush()?;
    Ok(())
}
