//! Hostile form bundles: a zip of a form (its JSON) and the CSV lists it reads, as an
//! administrator uploads it, written by hand so that sizes, checksums and names can lie;
//! then made adversarial where the bundle reader or the CSV reader trusts them: declared
//! sizes, deflate bombs, entry counts, names with folders and dots, rows and columns at and
//! past the limits, CSV quoting, encodings and ragged rows; and the same village list as
//! XML or GeoJSON, made hostile the ways those formats allow (entity declarations, deep
//! nesting, references, geometries ODK does not read, outlines of a million points).

use std::sync::OnceLock;

use super::zip::{self, Entry};
use crate::dice::Dice;

attacks! {
    "One way of making a form bundle hostile.";
    /// A real form with its lists.
    Valid => "valid";
    /// Lists read through `value=` and `label=` parameters, in two languages.
    Parameters => "parameters";
    /// A list declaring gigabytes (or 2^40 bytes, in zip64) for a few bytes.
    DeclaredHuge => "declared-huge";
    /// A list declaring a few bytes that inflates past every limit.
    DeclaredSmall => "declared-small";
    /// More entries than a form reads files (around the limit, or thousands).
    ManyEntries => "many-entries";
    /// Rows at and past the row limit.
    ManyRows => "many-rows";
    /// Columns at and past the column limit, and very long cells.
    WideRows => "wide-rows";
    /// CSV that breaks readers: open quotes, bad UTF-8, NUL bytes, lone CRs, ragged rows,
    /// empty or duplicated codes and headers, a byte-order mark in odd places.
    HostileCsv => "hostile-csv";
    /// Entry names with folders, parent paths, backslashes, no extension, two forms.
    OddNames => "odd-names";
    /// A few bytes of a valid bundle changed.
    ByteMutation => "byte-mutation";
    /// The village list as XML: valid, with a DOCTYPE and entity declarations, nested deep,
    /// with unknown references, near the limits, or with bytes changed.
    XmlList => "xml-list";
    /// The village list as GeoJSON: valid, nested deep, with geometries ODK does not read,
    /// swapped coordinates, huge outlines, or bytes changed.
    GeoJsonList => "geojson-list";
}

/// Any hostile bundle.
pub fn generate(dice: &mut Dice) -> Vec<u8> {
    let attack = *dice.pick(Attack::ALL).unwrap_or(&Attack::Valid);
    generate_with(dice, attack)
}

/// The form: a village from `villages.csv` filtered by prefecture, its population looked up
/// with `pulldata()`, and crops from `crops.csv` (through parameters when `parameters`).
fn form(parameters: bool) -> String {
    form_reading(parameters, "villages.csv")
}

/// [`form`], its village question reading `villages` (`villages.xml`…).
fn form_reading(parameters: bool, villages: &str) -> String {
    let crops_parameters = if parameters { r#", "parameters": {"value": "code", "label": "nom"}"# } else { "" };
    format!(
        r#"{{"id": "needs", "version": "1", "title": "Needs",
            "default_language": "English (en)", "languages": ["English (en)", "Français (fr)"],
            "children": [
            {{"node": "question", "name": "prefecture", "type": {{"kind": "text"}}}},
            {{"node": "question", "name": "village", "type": {{"kind": "select_one_from_file", "file": "{villages}"}},
              "choice_filter": "prefecture=${{prefecture}} or prefecture=''", "required": "true()"}},
            {{"node": "question", "name": "population", "type": {{"kind": "calculate"}},
              "calculation": "pulldata('villages', 'population', 'name', ${{village}}) + 1"}},
            {{"node": "question", "name": "crops", "type": {{"kind": "select_multiple_from_file", "file": "crops.csv"}}{crops_parameters}}}
        ]}}"#
    )
}

fn villages(dice: &mut Dice) -> String {
    let mut csv = String::from("name,label::English (en),label::Français (fr),prefecture,population\n");
    for i in 0..dice.between(1, 40) {
        let prefecture = *dice.pick(&["kindia", "fria", "boke", ""]).unwrap_or(&"");
        csv.push_str(&format!("v{i},\"Village {i}, {prefecture}\",Village {i},{prefecture},{}\n", dice.below(9000)));
    }
    csv
}

fn crops(dice: &mut Dice, parameters: bool) -> String {
    let mut csv = String::from(if parameters { "code,nom,nom::Français (fr)\n" } else { "name,label\n" });
    for crop in ["sorgho", "mil", "niebe", "mais", "oignon"] {
        if dice.percent(80) {
            csv.push_str(&format!("{crop},{crop},{crop}\n"));
        }
    }
    csv
}

fn bundle(entries: Vec<Entry>) -> Vec<u8> {
    zip::write(&entries)
}

fn valid(dice: &mut Dice, parameters: bool) -> Vec<Entry> {
    let folder = if dice.percent(30) { "needs/" } else { "" };
    vec![
        Entry::deflated(&format!("{folder}needs.json"), form(parameters).as_bytes()),
        Entry::deflated(&format!("{folder}villages.csv"), villages(dice).as_bytes()),
        Entry::stored(&format!("{folder}crops.csv"), crops(dice, parameters).as_bytes()),
    ]
}

/// Deflated zeros past every limit (64 MiB), built once per process.
fn bomb() -> &'static (Vec<u8>, u64) {
    static BOMB: OnceLock<(Vec<u8>, u64)> = OnceLock::new();
    BOMB.get_or_init(|| {
        let len = 64 << 20;
        (terrain_forge::deflated_zeros(len), len)
    })
}

/// The valid bundle with `villages.csv` replaced by `csv`.
fn with_villages(dice: &mut Dice, csv: &[u8]) -> Vec<u8> {
    let mut entries = valid(dice, false);
    entries[1] = Entry::deflated("villages.csv", csv);
    bundle(entries)
}

/// The valid bundle with the village question reading `file`, holding `list`.
fn with_list(dice: &mut Dice, file: &str, list: &[u8]) -> Vec<u8> {
    let mut entries = valid(dice, false);
    entries[0] = Entry::deflated("needs.json", form_reading(false, file).as_bytes());
    entries[1] = Entry::deflated(file, list);
    bundle(entries)
}

fn villages_xml(dice: &mut Dice, count: usize) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root>\n");
    for i in 0..count {
        let prefecture = *dice.pick(&["kindia", "fria", "boke", ""]).unwrap_or(&"");
        xml.push_str(&format!(
            "<item><name>v{i}</name><label>Village {i} &amp; {prefecture}</label><prefecture>{prefecture}</prefecture></item>\n"
        ));
    }
    xml + "</root>\n"
}

fn villages_geojson(dice: &mut Dice, count: usize) -> String {
    let features: Vec<String> = (0..count)
        .map(|i| {
            let (lon, lat) = (-13.7 + dice.below(100) as f64 / 100.0, 9.5 + dice.below(100) as f64 / 100.0);
            format!(
                r#"{{"type":"Feature","id":"v{i}","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"title":"Village {i}","prefecture":"kindia","population":{i}}}}}"#
            )
        })
        .collect();
    format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))
}

fn mutated(dice: &mut Dice, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..dice.between(1, 8) {
        let at = dice.below(bytes.len().max(1));
        if let Some(byte) = bytes.get_mut(at) {
            *byte = dice.bytes(1).first().copied().unwrap_or(0);
        }
    }
    bytes
}

fn hostile_xml(dice: &mut Dice) -> Vec<u8> {
    let rows = terrain_core::form::attachments::MAX_ROWS as u64;
    match dice.below(9) {
        0 => {
            let count = dice.between(1, 40) as usize;
            villages_xml(dice, count).into_bytes()
        }
        1 => br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><root><item><name>&c;</name></item></root>"#.to_vec(),
        2 => br#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><root><item><name>&x;</name></item></root>"#.to_vec(),
        3 => {
            let depth = *dice.pick(&[100, 10_000, 200_000]).unwrap_or(&100);
            format!("<root><item><name>{}x{}</name></item></root>", "<a>".repeat(depth), "</a>".repeat(depth)).into_bytes()
        }
        4 => {
            let count = dice.near(rows) as usize;
            villages_xml(dice, count).into_bytes()
        }
        5 => {
            let columns = dice.near(terrain_core::form::attachments::MAX_COLUMNS as u64);
            let cells: String = (0..columns).map(|i| format!("<c{i}>x</c{i}>")).collect();
            format!("<root><item><name>v</name>{cells}</item></root>").into_bytes()
        }
        6 => {
            let bad: &[&[u8]] = &[
                b"<root><item><name>&unknown;</name></item></root>",
                b"<root><item><name>&#xFFFFFFFF;</name></item></root>",
                b"<root><item><name>&#0;</name></item></root>",
                b"<root><item><name>v\xff</name></item></root>",
                b"<root><item><name><![CDATA[v1",
                b"<root></item>",
                b"<root/><root/>",
                b"",
                br#"<root xmlns:a="x"><a:item><a:name>v</a:name></a:item></root>"#,
            ];
            dice.pick(bad).copied().unwrap_or_default().to_vec()
        }
        7 => format!("<root><item><name>v</name><label>{}</label></item></root>", "x".repeat(3 << 20)).into_bytes(),
        _ => {
            let valid = villages_xml(dice, 20).into_bytes();
            mutated(dice, valid)
        }
    }
}

fn hostile_geojson(dice: &mut Dice) -> Vec<u8> {
    let feature = |geometry: &str| {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","id":"v1","geometry":{geometry},"properties":{{"title":"V"}}}}]}}"#
        )
    };
    match dice.below(8) {
        0 => {
            let count = dice.between(1, 40) as usize;
            villages_geojson(dice, count).into_bytes()
        }
        1 => "[".repeat(*dice.pick(&[100, 127, 128, 129, 100_000]).unwrap_or(&129)).into_bytes(),
        2 => {
            let kinds = ["MultiPoint", "MultiPolygon", "GeometryCollection", "Circle", ""];
            let kind = *dice.pick(&kinds).unwrap_or(&"MultiPoint");
            feature(&format!(r#"{{"type":"{kind}","coordinates":[[0,0]]}}"#)).into_bytes()
        }
        3 => {
            let odd = [r#"[11.7,-120]"#, r#"[1]"#, r#"[1,2,3,4]"#, r#"["a","b"]"#, r#"[1e400,0]"#, "null", "{}"];
            let coordinates = *dice.pick(&odd).unwrap_or(&odd[0]);
            feature(&format!(r#"{{"type":"Point","coordinates":{coordinates}}}"#)).into_bytes()
        }
        4 => {
            // An outline of hundreds of thousands of points: its text outgrows its JSON.
            let points = *dice.pick(&[1000, 300_000, 600_000]).unwrap_or(&1000);
            let ring = vec!["[1,2]"; points].join(",");
            feature(&format!(r#"{{"type":"Polygon","coordinates":[[{ring}]]}}"#)).into_bytes()
        }
        5 => {
            let count = dice.near(terrain_core::form::attachments::MAX_ROWS as u64) as usize;
            villages_geojson(dice, count).into_bytes()
        }
        6 => {
            let bad: &[&[u8]] = &[
                b"{}",
                b"{\"type\":\"FeatureCollection\"}",
                b"{\"type\":\"FeatureCollection\",\"features\":[1,null,\"x\"]}",
                b"{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\"}]}",
                b"{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"geometry\":null}]}",
                b"\xff\xfe{}",
            ];
            dice.pick(bad).copied().unwrap_or_default().to_vec()
        }
        _ => {
            let valid = villages_geojson(dice, 20).into_bytes();
            mutated(dice, valid)
        }
    }
}

/// Generates one bundle of the given attack.
pub fn generate_with(dice: &mut Dice, attack: Attack) -> Vec<u8> {
    match attack {
        Attack::Valid => bundle(valid(dice, false)),
        Attack::Parameters => bundle(valid(dice, true)),
        Attack::DeclaredHuge => {
            let mut entries = valid(dice, false);
            let csv = villages(dice);
            let declared = dice.huge();
            entries[1] = Entry::raw("villages.csv", terrain_forge::deflate(csv.as_bytes()), declared, 0);
            bundle(entries)
        }
        Attack::DeclaredSmall => {
            let mut entries = valid(dice, false);
            let (data, len) = bomb();
            let declared = if dice.percent(50) { 1000 } else { *len };
            entries[1] = Entry::raw("villages.csv", data.clone(), declared, 0);
            bundle(entries)
        }
        Attack::ManyEntries => {
            let mut entries = valid(dice, false);
            let count = *dice.pick(&[30, 31, 32, 33, 100, 5_000]).unwrap_or(&33);
            for i in 0..count {
                entries.push(Entry::stored(&format!("extra{i}.csv"), b"name\nx\n"));
            }
            bundle(entries)
        }
        Attack::ManyRows => {
            let rows = dice.near(terrain_core::form::attachments::MAX_ROWS as u64);
            let mut csv = String::from("name,prefecture,population\n");
            for i in 0..rows {
                csv.push_str(&format!("v{i},kindia,{i}\n"));
            }
            with_villages(dice, csv.as_bytes())
        }
        Attack::WideRows => {
            let columns = dice.near(terrain_core::form::attachments::MAX_COLUMNS as u64);
            let header: Vec<String> =
                (0..columns).map(|i| if i == 0 { "name".into() } else { format!("c{i}") }).collect();
            let mut csv = header.join(",") + "\n";
            let cell = "x".repeat(*dice.pick(&[1, 1000, 1 << 20, 3 << 20]).unwrap_or(&1));
            csv.push_str(&format!("v1,{cell}\n"));
            with_villages(dice, csv.as_bytes())
        }
        Attack::HostileCsv => {
            let bad: &[&[u8]] = &[
                b"name,label\n\"open,quote\nv1,x\n",
                b"name,label\nv\xff\xfe,x\n",
                b"name,label\nv1,a\x00b\n",
                b"name,label\rv1,x\rv2,y\r",
                b"name,label\nv1\nv2,x,y,z,w\n",
                b"name,label\n,empty code\n",
                b"name,name\nv1,v2\n",
                b"\xef\xbb\xbfname,label\n\xef\xbb\xbfv1,x\n",
                b"",
                b"\n\n\n",
                b"name\n\"\"\"\"\n",
                b"label\nx\n",
                b"name,label::,label::Fran\xc3\xa7ais (fr),label::\n v1 ,\" x \",y,\n",
            ];
            let csv = *dice.pick(bad).unwrap_or(&bad[0]);
            with_villages(dice, csv)
        }
        Attack::OddNames => {
            let mut entries = valid(dice, false);
            let odd: &[&str] = &[
                "../villages.csv",
                "a\\b\\villages.csv",
                "villages",
                ".villages.csv",
                "VILLAGES.CSV",
                "villages.csv/",
                "two.json",
                "village s.csv",
                "villages.csv\u{0}",
            ];
            let name = *dice.pick(odd).unwrap_or(&odd[0]);
            let data = if name.ends_with(".json") { form(false) } else { villages(dice) };
            if dice.percent(50) {
                entries[1] = Entry::deflated(name, data.as_bytes());
            } else {
                entries.push(Entry::deflated(name, data.as_bytes()));
            }
            bundle(entries)
        }
        Attack::ByteMutation => {
            let parameters = dice.percent(50);
            let bytes = bundle(valid(dice, parameters));
            mutated(dice, bytes)
        }
        Attack::XmlList => {
            let list = hostile_xml(dice);
            with_list(dice, "villages.xml", &list)
        }
        Attack::GeoJsonList => {
            let list = hostile_geojson(dice);
            with_list(dice, "villages.geojson", &list)
        }
    }
}
