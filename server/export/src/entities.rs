//! Entity list exports: one row per entity with its stable id (`name`, as ODK Central names
//! it), its label, whether it has competing values to settle, then one column per
//! property; as CSV, as one XLSX sheet, or as GeoJSON for QGIS (one feature per entity with
//! a position: its `geometry` property, or failing that the first property that reads as a
//! geopoint, geotrace or geoshape).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek, Write};

use rust_xlsxwriter::Workbook;
use serde_json::{Map, json};
use terrain_core::Value;
use terrain_core::form::QuestionType;

use super::ExportError;
use super::geojson::geometry;

/// The formats an entity list exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityFormat {
    /// One CSV file.
    Csv,
    /// One workbook of one sheet.
    Xlsx,
    /// A GeoJSON FeatureCollection.
    GeoJson,
}

impl EntityFormat {
    /// The format named `name` (`csv`, `xlsx`, `geojson`).
    pub fn parse(name: &str) -> Result<EntityFormat, ExportError> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "csv" => EntityFormat::Csv,
            "xlsx" => EntityFormat::Xlsx,
            "geojson" => EntityFormat::GeoJson,
            other => {
                return Err(ExportError::Invalid(format!(
                    "unknown entity export format `{other}`: use csv, xlsx or geojson"
                )));
            }
        })
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            EntityFormat::Csv => "text/csv; charset=utf-8",
            EntityFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            EntityFormat::GeoJson => "application/geo+json",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            EntityFormat::Csv => "csv",
            EntityFormat::Xlsx => "xlsx",
            EntityFormat::GeoJson => "geojson",
        }
    }
}

/// One entity, as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRow {
    /// Its stable id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// Whether some property has competing values.
    pub has_conflicts: bool,
    /// Its properties.
    pub properties: BTreeMap<String, String>,
}

/// Writes `rows` in `format`; returns how many were written (for GeoJSON, how many had a
/// position).
pub fn write_entities<W: Write + Seek + Send>(
    rows: &[EntityRow],
    format: EntityFormat,
    out: &mut W,
) -> Result<usize, ExportError> {
    let names: BTreeSet<&str> = rows.iter().flat_map(|r| r.properties.keys().map(String::as_str)).collect();
    let mut header = vec!["name", "label", "__conflicts"];
    header.extend(names.iter().filter(|n| !matches!(**n, "name" | "label" | "__conflicts")));
    let cells = |row: &EntityRow| -> Vec<String> {
        let mut cells = vec![row.id.clone(), row.label.clone(), row.has_conflicts.to_string()];
        cells.extend(header[3..].iter().map(|n| row.properties.get(*n).cloned().unwrap_or_default()));
        cells
    };
    match format {
        EntityFormat::Csv => {
            let mut writer = ::csv::Writer::from_writer(out);
            writer.write_record(&header)?;
            for row in rows {
                writer.write_record(cells(row))?;
            }
            writer.flush()?;
            Ok(rows.len())
        }
        EntityFormat::Xlsx => {
            let xlsx = |e: rust_xlsxwriter::XlsxError| ExportError::Xlsx(e.to_string());
            let mut workbook = Workbook::new();
            let sheet = workbook.add_worksheet_with_constant_memory().map_err(xlsx)?;
            for (col, name) in header.iter().enumerate() {
                sheet.write_string(0, column(col)?, *name).map_err(xlsx)?;
            }
            for (i, row) in rows.iter().enumerate() {
                let at = u32::try_from(i + 1)
                    .ok()
                    .filter(|r| *r < 1_048_576)
                    .ok_or_else(|| ExportError::Xlsx("more entities than a sheet holds".into()))?;
                for (col, cell) in cells(row).iter().enumerate() {
                    if !cell.is_empty() {
                        sheet.write_string(at, column(col)?, cell).map_err(xlsx)?;
                    }
                }
            }
            workbook.save_to_writer(out).map_err(xlsx)?;
            Ok(rows.len())
        }
        EntityFormat::GeoJson => {
            let mut features = Vec::new();
            for row in rows {
                let Some(geometry) = position(&row.properties).as_ref().and_then(geometry) else { continue };
                let mut properties = Map::new();
                properties.insert("name".into(), json!(row.id));
                properties.insert("label".into(), json!(row.label));
                properties.insert("__conflicts".into(), json!(row.has_conflicts));
                for (name, value) in &row.properties {
                    properties.insert(name.clone(), json!(value));
                }
                features.push(json!({"type": "Feature", "id": row.id, "geometry": geometry, "properties": properties}));
            }
            let written = features.len();
            serde_json::to_writer(&mut *out, &json!({"type": "FeatureCollection", "features": features}))
                .map_err(|e| ExportError::Io(e.into()))?;
            Ok(written)
        }
    }
}

fn column(col: usize) -> Result<u16, ExportError> {
    u16::try_from(col).map_err(|_| ExportError::Xlsx("more than 65,535 columns".into()))
}

/// The entity's position: its `geometry` property (ODK's name for it), else the first
/// property that reads as a point, a trace or a shape. A closed trace of more than three
/// points is an outline, read as a shape. The dashboard's map draws the same.
pub fn position(properties: &BTreeMap<String, String>) -> Option<Value> {
    let first = properties.get("geometry").into_iter().chain(properties.values());
    first.filter(|v| !v.trim().is_empty()).find_map(|text| position_of(text))
}

fn position_of(text: &str) -> Option<Value> {
    if !text.contains(';') {
        return match Value::parse_odk(text, &QuestionType::GeoPoint).ok()? {
            point @ Value::GeoPoint(_) => Some(point),
            _ => None,
        };
    }
    match Value::parse_odk(text, &QuestionType::GeoTrace).ok()? {
        Value::GeoTrace(points) if points.len() > 3 && points.first() == points.last() => Some(Value::GeoShape(points)),
        trace @ Value::GeoTrace(_) => Some(trace),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

    use super::*;

    fn plot(id: &str, properties: &[(&str, &str)]) -> EntityRow {
        EntityRow {
            id: id.into(),
            label: format!("BGD {id}"),
            has_conflicts: id == "p2",
            properties: properties.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        }
    }

    fn rows() -> Vec<EntityRow> {
        vec![
            plot("p1", &[("village", "Béguédo"), ("location", "11.78 -0.73 260 4")]),
            plot(
                "p2",
                &[
                    ("village", "Niaogho, centre"),
                    ("geometry", "11.7 -0.7 0 0;11.8 -0.7 0 0;11.8 -0.6 0 0;11.7 -0.7 0 0"),
                ],
            ),
            plot("p3", &[("yield_kg", "420")]),
        ]
    }

    #[test]
    fn csv_has_stable_ids_and_every_property_as_a_column() {
        let mut out = std::io::Cursor::new(Vec::new());
        assert_eq!(write_entities(&rows(), EntityFormat::Csv, &mut out).unwrap(), 3);
        let text = String::from_utf8(out.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "name,label,__conflicts,geometry,location,village,yield_kg");
        assert_eq!(lines[1], "p1,BGD p1,false,,11.78 -0.73 260 4,Béguédo,");
        assert!(lines[2].contains("\"Niaogho, centre\""), "{}", lines[2]);
    }

    #[test]
    fn geojson_has_a_feature_per_entity_with_a_position() {
        let mut out = std::io::Cursor::new(Vec::new());
        assert_eq!(write_entities(&rows(), EntityFormat::GeoJson, &mut out).unwrap(), 2);
        let doc: Json = serde_json::from_slice(&out.into_inner()).unwrap();
        let features = doc["features"].as_array().unwrap();
        assert_eq!(features[0]["geometry"]["type"], "Point");
        assert_eq!(features[0]["geometry"]["coordinates"][0], -0.73);
        assert_eq!(features[1]["geometry"]["type"], "Polygon", "an outline closes on itself");
        assert_eq!(features[1]["properties"]["name"], "p2");
    }

    #[test]
    fn xlsx_is_one_sheet_that_reads_back() {
        let mut out = std::io::Cursor::new(Vec::new());
        write_entities(&rows(), EntityFormat::Xlsx, &mut out).unwrap();
        let bytes = out.into_inner();
        assert!(bytes.starts_with(b"PK"), "a zip");
        assert!(EntityFormat::parse("shapefile").is_err());
    }
}
