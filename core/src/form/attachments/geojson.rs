//! GeoJSON lists (`select_one_from_file plots.geojson`), as ODK reads them: each feature of
//! a FeatureCollection is an item whose `geometry` column holds the feature's geometry in
//! ODK's notation (`lat lon alt acc`, points joined by `; `), whose `id` is the feature's id
//! (or its `id` property), and whose other columns are its properties. A select reads its
//! codes from `id` and its labels from `title` unless its parameters say otherwise.
//!
//! Points, LineStrings and Polygons (their outer ring) are read, as in ODK; other
//! geometries are refused with the feature's number, as are files over the list limits.
//! Each position counts as a cell: written out, a position is longer than its JSON.

use serde_json::{Map, Value as Json};

use super::{ListTable, MAX_CELLS, MAX_COLUMNS, MAX_ROWS};

/// The list a GeoJSON file holds, or why it cannot be read.
pub(super) fn read(bytes: &[u8]) -> Result<ListTable, String> {
    // serde_json bounds nesting (128 levels) and the file is bounded before this.
    let document: Json =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e}); save the layer as GeoJSON"))?;
    if document.get("type").and_then(Json::as_str) != Some("FeatureCollection") {
        return Err("not a GeoJSON FeatureCollection; save the layer as GeoJSON".into());
    }
    let features = document.get("features").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
    if features.len() > MAX_ROWS {
        return Err(format!("more than {MAX_ROWS} features; long lists belong in an entity list"));
    }
    let mut header: Vec<String> = vec!["geometry".into(), "id".into()];
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(features.len());
    // Positions count against the cells: a position's text is longer than its JSON, so an
    // outline of a million points would outgrow the file it came in.
    let mut positions = 0usize;
    for (i, feature) in features.iter().enumerate() {
        let number = i + 1;
        let fail = |what: String| format!("feature {number}: {what}");
        let feature = feature.as_object().filter(|f| f.get("type").and_then(Json::as_str) == Some("Feature"));
        let feature = feature.ok_or_else(|| fail("not a Feature".into()))?;
        let geometry = feature.get("geometry").ok_or_else(|| fail("no geometry".into()))?;
        let mut row = vec![geometry_text(geometry, &mut positions).map_err(fail)?, String::new()];
        let empty = Map::new();
        let properties = feature.get("properties").and_then(Json::as_object).unwrap_or(&empty);
        let id = feature.get("id").filter(|id| !id.is_null()).or_else(|| properties.get("id"));
        row[1] = id.map(text).unwrap_or_default();
        for (name, value) in properties.iter().filter(|(name, _)| !matches!(name.as_str(), "id" | "geometry")) {
            let at = match header.iter().position(|h| h == name) {
                Some(at) => at,
                None if header.len() == MAX_COLUMNS => {
                    return Err(format!(
                        "more than {MAX_COLUMNS} different properties; at most {MAX_COLUMNS} are read"
                    ));
                }
                None => {
                    header.push(name.clone());
                    header.len() - 1
                }
            };
            if row.len() <= at {
                row.resize(at + 1, String::new());
            }
            row[at] = text(value);
        }
        if (rows.len() + 1) * header.len() + positions > MAX_CELLS {
            return Err(format!(
                "more than {MAX_CELLS} cells ({} properties); drop the properties the form does not read",
                header.len()
            ));
        }
        rows.push(row);
    }
    for row in &mut rows {
        row.resize(header.len(), String::new());
    }
    Ok(ListTable { header, rows })
}

/// A property as text: strings as they are, numbers and booleans as JSON writes them,
/// `null` empty, and arrays or objects as JSON.
fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// A geometry in ODK's notation: `lat lon alt 0` per position, joined by `; `; `positions`
/// counts every position read so far, refused past [`MAX_CELLS`].
fn geometry_text(geometry: &Json, positions: &mut usize) -> Result<String, String> {
    let kind = geometry.get("type").and_then(Json::as_str).unwrap_or_default();
    let coordinates = geometry.get("coordinates");
    let points: Vec<&Json> = match kind {
        "Point" => coordinates.into_iter().collect(),
        "LineString" => coordinates.and_then(Json::as_array).map(|ps| ps.iter().collect()).unwrap_or_default(),
        // The outer ring: ODK reads no holes.
        "Polygon" => coordinates
            .and_then(Json::as_array)
            .and_then(|rings| rings.first())
            .and_then(Json::as_array)
            .map(|ps| ps.iter().collect())
            .unwrap_or_default(),
        other => {
            return Err(format!("a {other} geometry; only Points, LineStrings and Polygons are read, as in ODK"));
        }
    };
    let read = positions;
    *read += points.len();
    if *read > MAX_CELLS {
        return Err(format!("more than {MAX_CELLS} positions in the file; simplify the outlines"));
    }
    let mut out = Vec::with_capacity(points.len());
    for position in points {
        let numbers: Vec<f64> =
            position.as_array().map(|p| p.iter().filter_map(Json::as_f64).collect()).unwrap_or_default();
        let (lon, lat, altitude) = match numbers.as_slice() {
            [lon, lat] => (*lon, *lat, 0.0),
            [lon, lat, altitude] => (*lon, *lat, *altitude),
            _ => return Err("a position that is not [longitude, latitude] or [longitude, latitude, altitude]".into()),
        };
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(format!("the position [{lon}, {lat}] is outside the globe: GeoJSON writes longitude first"));
        }
        out.push(format!("{lat} {lon} {altitude} 0"));
    }
    if out.is_empty() {
        return Err(format!("a {kind} without coordinates"));
    }
    Ok(out.join("; "))
}
