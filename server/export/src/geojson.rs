//! The GeoJSON export, for QGIS: a FeatureCollection with one feature per geopoint,
//! geotrace or geoshape answer (in repeats too), its properties the survey's metadata and
//! the scalar answers at the same level (the repeat instance's for an answer in a repeat).

use std::io::{BufWriter, Write};

use serde_json::{Map, Value as Json, json};
use terrain_core::survey::{Answer, Answers};
use terrain_core::{GeoPoint, Value};

use super::rows::time;
use super::table::Layout;
use super::{ExportError, ExportOutcome, Record, Scan};

fn position(p: &GeoPoint) -> Json {
    json!([p.lon, p.lat, p.altitude])
}

/// A point, trace or shape as a GeoJSON geometry; none for any other value.
pub(crate) fn geometry(value: &Value) -> Option<Json> {
    Some(match value {
        Value::GeoPoint(p) => json!({"type": "Point", "coordinates": position(p)}),
        Value::GeoTrace(ps) => {
            json!({"type": "LineString", "coordinates": ps.iter().map(position).collect::<Vec<_>>()})
        }
        Value::GeoShape(ps) => {
            let mut ring: Vec<Json> = ps.iter().map(position).collect();
            // GeoJSON rings are closed: the last position repeats the first.
            if let (Some(first), Some(last)) = (ps.first(), ps.last())
                && first != last
            {
                ring.push(position(first));
            }
            json!({"type": "Polygon", "coordinates": [ring]})
        }
        _ => return None,
    })
}

fn features(record: &Record, table: &str, answers: &Answers, out: &mut Vec<Json>) {
    let mut properties: Option<Map<String, Json>> = None;
    for (name, answer) in &answers.0 {
        match answer {
            Answer::Value(value) => {
                let Some(geometry) = geometry(value) else { continue };
                let properties = properties.get_or_insert_with(|| {
                    let mut p = Map::new();
                    p.insert("_uuid".into(), json!(record.survey.meta.survey_id));
                    p.insert("_table".into(), json!(table));
                    p.insert("_submitted_by".into(), json!(record.survey.meta.created_by));
                    p.insert("_review_status".into(), json!(record.summary.review_status.as_str()));
                    p.insert("_start".into(), json!(time(record.survey.meta.created_at)));
                    for link in &record.entities {
                        p.insert(format!("_entity_{}", link.list), json!(link.id));
                    }
                    for (n, a) in &answers.0 {
                        match a {
                            Answer::Value(v) if geometry_kind(v).is_none() => {
                                p.insert(n.clone(), v.to_json());
                            }
                            Answer::Unreadable(t) => {
                                p.insert(n.clone(), json!(t));
                            }
                            _ => {}
                        }
                    }
                    p
                });
                let mut props = properties.clone();
                props.insert("_question".into(), json!(name));
                out.push(json!({"type": "Feature", "geometry": geometry, "properties": props}));
            }
            Answer::Repeat(instances) => {
                for instance in instances {
                    features(record, name, instance, out);
                }
            }
            Answer::Unreadable(_) => {}
        }
    }
}

fn geometry_kind(value: &Value) -> Option<()> {
    matches!(value, Value::GeoPoint(_) | Value::GeoTrace(_) | Value::GeoShape(_)).then_some(())
}

/// Writes the FeatureCollection, feature by feature.
pub(crate) fn write<W: Write>(layout: &Layout, scan: Scan<'_>, out: W) -> Result<ExportOutcome, ExportError> {
    let mut out = BufWriter::new(out);
    out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
    let mut first = true;
    let mut buffer = Vec::new();
    let outcome = scan.run(|record| {
        buffer.clear();
        features(record, &layout.form_id, &record.survey.answers, &mut buffer);
        for feature in &buffer {
            if !first {
                out.write_all(b",\n")?;
            }
            first = false;
            serde_json::to_writer(&mut out, feature).map_err(std::io::Error::from)?;
        }
        Ok(())
    })?;
    out.write_all(b"\n]}\n")?;
    out.flush()?;
    Ok(outcome)
}
