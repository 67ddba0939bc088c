//! Hostile bundle files: real bundles (surveys of a small form, edited on two devices and
//! merged, with their form and their authors) taken apart and made adversarial where an
//! import trusts them: survey histories attacked like front-door chunks, ids that lie,
//! duplicated and many surveys, forms that do not parse or conflict with the stored one,
//! actor claims, and the file's own framing and compression.
//!
//! The surveys are built with `SurveyDoc` under seeded actors and fixed times (a `Store`
//! would pick random actors and the clock), so the same seed gives the same file.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use terrain_core::form::FormIndex;
use terrain_core::intake::Budget;
use terrain_core::survey::Answers;
use terrain_core::sync::bundle::BundleFile;
use terrain_core::sync::wire;
use terrain_core::{Author, Form, Role, SurveyDoc, Value};

use super::{chunks, expression};
use crate::dice::Dice;

/// The bundle magic and the version this code writes.
pub const MAGIC: &[u8] = b"TERRAIN-BUNDLE";
/// The bundle format version.
pub const VERSION: u8 = 1;

/// The form every generated survey answers.
pub const FORM_JSON: &str = r#"{
  "id": "fuzz_household",
  "version": "1",
  "title": "Fuzzing form",
  "children": [
    {"node": "question", "name": "village", "type": {"kind": "text"}, "required": "true()"},
    {"node": "question", "name": "hh_size", "type": {"kind": "integer"}, "constraint": ". > 0 and . < 60"},
    {"node": "question", "name": "water", "type": {"kind": "select_one", "list": "water"}},
    {"node": "question", "name": "visit_date", "type": {"kind": "date"}},
    {"node": "repeat", "name": "member", "children": [
      {"node": "question", "name": "member_name", "type": {"kind": "text"}},
      {"node": "question", "name": "age", "type": {"kind": "integer"}}
    ]}
  ],
  "choice_lists": {"water": [{"name": "borehole"}, {"name": "well"}, {"name": "river"}]}
}"#;

/// The form, parsed (`None` only if [`FORM_JSON`] were broken; a test parses it).
pub fn form() -> Option<&'static Form> {
    static FORM: OnceLock<Option<Form>> = OnceLock::new();
    FORM.get_or_init(|| Form::from_json(FORM_JSON).ok()).as_ref()
}

/// The enumerator whose phone made the surveys.
pub fn enumerator() -> Author {
    Author::new("awa", "phone-1", Role::Enumerator)
}

/// The supervisor who corrected some of them.
pub fn supervisor() -> Author {
    Author::new("moussa", "tablet-1", Role::Supervisor)
}

/// One real survey: its id, its full history as change chunks, and the history it had
/// before the supervisor's corrections (what a store may already hold).
#[derive(Debug, Clone)]
pub struct BaseSurvey {
    /// The survey id.
    pub id: String,
    /// Every change.
    pub changes: Vec<u8>,
    /// The enumerator's changes only.
    pub first: Vec<u8>,
    /// The actors (hex) that wrote it, and who they are.
    pub actors: Vec<(String, Author)>,
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Builds a survey edited on the phone, then corrected concurrently on a tablet and merged.
fn base_survey(dice: &mut Dice) -> Result<BaseSurvey, String> {
    let form = form().ok_or("the form does not parse")?;
    let index = FormIndex::new(form);
    let id = wire::survey_id_string(&dice.array());
    let phone = automerge::ActorId::from(dice.bytes(16));
    let tablet = automerge::ActorId::from(dice.bytes(16));
    let t0 = 1_767_000_000_000 + dice.below(1 << 30) as i64;
    let e = |e: terrain_core::survey::DocumentError| e.to_string();
    let path = |p: &str| p.parse::<terrain_core::AnswerPath>().map_err(|e| e.to_string());
    let mut doc = SurveyDoc::create(form, &id, &enumerator(), phone.clone(), at(t0), &Answers::default()).map_err(e)?;
    doc.set_answer(&index, &path("village")?, Value::Text(super::docs::text(dice, 30))).map_err(e)?;
    doc.set_answer(&index, &path("hh_size")?, Value::Integer(1 + dice.below(20) as i64)).map_err(e)?;
    doc.commit(at(t0 + 1000));
    for i in 0..dice.below(4) {
        doc.add_repeat_instance(&index, &path("member")?, None).map_err(e)?;
        let age = path(&format!("member[{i}]/age"))?;
        doc.set_answer(&index, &age, Value::Integer(dice.below(90) as i64)).map_err(e)?;
        doc.commit(at(t0 + 2000 + i as i64));
    }
    let first = doc.save_after(&[]);
    // The tablet corrects what the phone changes again meanwhile: a conflict.
    let mut other = SurveyDoc::from_untrusted(&first, &Budget::WRITE).map_err(e)?;
    other.set_actor(tablet.clone());
    other.set_answer(&index, &path("hh_size")?, Value::Integer(30)).map_err(e)?;
    other.commit(at(t0 + 5000));
    doc.set_answer(&index, &path("hh_size")?, Value::Integer(31)).map_err(e)?;
    doc.commit(at(t0 + 5001));
    doc.merge_bytes(&other.save_after(&[]), &Budget::WRITE).map_err(e)?;
    let actors = vec![(phone.to_hex_string(), enumerator()), (tablet.to_hex_string(), supervisor())];
    Ok(BaseSurvey { id, changes: doc.save_after(&[]), first, actors })
}

/// Four real surveys, built once per process from fixed seeds.
pub fn base_surveys() -> &'static [BaseSurvey] {
    static BASE: OnceLock<Vec<BaseSurvey>> = OnceLock::new();
    BASE.get_or_init(|| (0..4).filter_map(|seed| base_survey(&mut Dice::new(0xB0DE + seed)).ok()).collect())
}

/// A valid bundle of the given surveys.
pub fn bundle_of(surveys: &[&BaseSurvey]) -> BundleFile {
    let mut actors: Vec<(String, Author)> = surveys.iter().flat_map(|s| s.actors.clone()).collect();
    actors.sort_by(|a, b| a.0.cmp(&b.0));
    actors.dedup();
    BundleFile {
        author: supervisor(),
        actors,
        forms: form().map(Form::to_json).into_iter().collect(),
        surveys: surveys.iter().map(|s| (s.id.clone(), s.changes.clone())).collect(),
    }
}

/// The bytes of a bundle file.
pub fn encode(file: &BundleFile) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(VERSION);
    out.extend(wire::encode(file).unwrap_or_default());
    out
}

attacks! {
    "One way of making a real bundle hostile.";
    /// A real bundle, untouched.
    Valid => "valid";
    /// A survey's history attacked like a front-door chunk.
    HostileChunks => "hostile-chunks";
    /// A survey's bytes filed under another survey's id, a random one, or no UUID at all.
    WrongId => "wrong-id";
    /// The same survey twice, or one id with two replicas' histories.
    Duplicate => "duplicate";
    /// Hundreds of survey entries.
    ManySurveys => "many-surveys";
    /// Empty or random survey bytes.
    JunkSurvey => "junk-survey";
    /// A form that does not parse: junk, truncated, nested past serde's limit, a bad
    /// expression.
    BadForm => "bad-form";
    /// The stored form's id and version with other content.
    ConflictingForm => "conflicting-form";
    /// No forms at all, so the surveys' form may be missing.
    NoForm => "no-form";
    /// A form with thousands of questions.
    HugeForm => "huge-form";
    /// Actor claims: junk hex, one actor claimed by two authors, thousands of actors.
    BogusActors => "bogus-actors";
    /// The file's magic, version, compression or encoding broken.
    Framing => "framing";
    /// The postcard encoding of the file with a length or tag that lies.
    EncodingLie => "encoding-lie";
}

/// Any hostile bundle.
pub fn generate(dice: &mut Dice) -> Vec<u8> {
    let attack = *dice.pick(Attack::ALL).unwrap_or(&Attack::Valid);
    let mut attacks = vec![attack];
    if dice.percent(30) {
        attacks.push(*dice.pick(Attack::ALL).unwrap_or(&Attack::Valid));
    }
    generate_with(dice, &attacks)
}

/// A bundle made by these attacks on a real bundle of some of the base surveys.
pub fn generate_with(dice: &mut Dice, attacks: &[Attack]) -> Vec<u8> {
    let base = base_surveys();
    let chosen: Vec<&BaseSurvey> = base.iter().filter(|_| dice.percent(60)).collect();
    let chosen = if chosen.is_empty() { base.iter().take(1).collect() } else { chosen };
    let mut file = bundle_of(&chosen);
    let mut framing = None;
    for attack in attacks {
        match attack {
            Attack::Framing | Attack::EncodingLie => framing = Some(*attack),
            _ => attack_file(dice, *attack, &mut file),
        }
    }
    match framing {
        Some(Attack::Framing) => break_framing(dice, &file),
        Some(_) => lie_in_encoding(dice, &file),
        None => encode(&file),
    }
}

fn attack_file(dice: &mut Dice, attack: Attack, file: &mut BundleFile) {
    let base = base_surveys();
    let n = file.surveys.len();
    match attack {
        Attack::Valid | Attack::Framing | Attack::EncodingLie => {}
        Attack::HostileChunks => {
            if let Some((_, bytes)) = file.surveys.get_mut(dice.below(n)) {
                let chunk_attack = *dice.pick(chunks::Attack::ALL).unwrap_or(&chunks::Attack::HugeRun);
                *bytes = chunks::attack_bytes(dice, bytes, &[chunk_attack]);
            }
        }
        Attack::WrongId => {
            let id = match dice.below(4) {
                0 => base.get(dice.below(base.len())).map(|s| s.id.clone()).unwrap_or_default(),
                1 => wire::survey_id_string(&dice.array()),
                2 => String::new(),
                _ => super::docs::text(dice, 200) + &"x".repeat(dice.below(10_000)),
            };
            if let Some(entry) = file.surveys.get_mut(dice.below(n)) {
                entry.0 = id;
            }
        }
        Attack::Duplicate => {
            if let Some(entry) = file.surveys.get(dice.below(n)).cloned() {
                let mut copy = entry.clone();
                if dice.percent(50)
                    && let Some(s) = base.iter().find(|s| s.id == entry.0)
                {
                    copy.1 = s.first.clone();
                }
                file.surveys.insert(dice.below(n + 1), copy);
            }
        }
        Attack::ManySurveys => {
            let count = dice.between(100, 400) as usize;
            let template = file.surveys.first().cloned().unwrap_or_default();
            for i in 0..count {
                let id = if dice.percent(50) { template.0.clone() } else { format!("survey-{i}") };
                let bytes = if dice.percent(50) { template.1.clone() } else { Vec::new() };
                file.surveys.push((id, bytes));
            }
        }
        Attack::JunkSurvey => {
            let junk = if dice.percent(30) { Vec::new() } else { dice.junk(0, 299) };
            if let Some(entry) = file.surveys.get_mut(dice.below(n)) {
                entry.1 = junk;
            }
        }
        Attack::BadForm => {
            let json = FORM_JSON.to_owned();
            let bad = match dice.below(5) {
                0 => super::docs::text(dice, 100),
                1 => json.get(..dice.below(json.len())).unwrap_or_default().to_owned(),
                2 => "[".repeat(dice.between(100, 100_000) as usize),
                3 => {
                    let expr = String::from_utf8_lossy(&expression::generate(dice)).into_owned();
                    let expr = serde_json::to_string(&expr).unwrap_or_default();
                    json.replacen("\"true()\"", &expr, 1)
                }
                _ => json.replacen(r#""version": "1""#, r#""version": 1"#, 1),
            };
            file.forms.insert(dice.below(file.forms.len() + 1), bad);
        }
        Attack::ConflictingForm => {
            let json = FORM_JSON.replacen("Fuzzing form", "Another form under the same version", 1);
            if dice.percent(50) {
                file.forms = vec![json];
            } else {
                file.forms.push(json);
            }
        }
        Attack::NoForm => file.forms.clear(),
        Attack::HugeForm => {
            let count = dice.between(1_000, 20_000);
            let questions: Vec<String> = (0..count)
                .map(|i| format!(r#"{{"node": "question", "name": "q{i}", "type": {{"kind": "text"}}}}"#))
                .collect();
            let json = format!(
                r#"{{"id": "fuzz_household", "version": "huge-{count}", "title": "t", "children": [{}]}}"#,
                questions.join(",")
            );
            file.forms.push(json);
        }
        Attack::BogusActors => match dice.below(3) {
            0 => file.actors.push((super::docs::text(dice, 64), enumerator())),
            1 => {
                let claimed: Vec<(String, Author)> = file
                    .actors
                    .iter()
                    .map(|(actor, _)| (actor.clone(), Author::new("mallory", "x", Role::Admin)))
                    .collect();
                file.actors.extend(claimed);
            }
            _ => {
                let count = dice.between(1_000, 10_000);
                file.actors.extend((0..count).map(|i| (format!("{i:032x}"), enumerator())));
            }
        },
    }
}

fn break_framing(dice: &mut Dice, file: &BundleFile) -> Vec<u8> {
    let good = encode(file);
    let body = good.get(MAGIC.len() + 1..).unwrap_or_default();
    match dice.below(7) {
        0 => [MAGIC, &[*dice.pick(&[0u8, 2, 99, 255]).unwrap_or(&2)], body].concat(),
        1 => good.get(..dice.below(good.len())).unwrap_or_default().to_vec(),
        2 => [&good[..], &dice.junk(1, 32)].concat(),
        3 => [MAGIC, &[VERSION], super::bombs::zstd_zeros_65m()].concat(),
        4 => [MAGIC, &[VERSION], &dice.junk(0, 199)].concat(),
        5 => [&b"TERRAIN-BUNDLF"[..], &[VERSION], body].concat(),
        _ => {
            let mut bad = good.clone();
            let len = bad.len();
            super::chunks::mutate_bytes(dice, &mut bad);
            bad.truncate(len.max(MAGIC.len() + 1) + 8);
            bad
        }
    }
}

fn lie_in_encoding(dice: &mut Dice, file: &BundleFile) -> Vec<u8> {
    let Ok(mut raw) = postcard::to_allocvec(file) else { return encode(file) };
    super::wire::lie(dice, &mut raw);
    let body = zstd::bulk::compress(&raw, 3).unwrap_or_default();
    [MAGIC, &[VERSION], &body].concat()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_base_surveys_are_built() {
        base_survey(&mut Dice::new(0xB0DE)).unwrap();
        assert_eq!(base_surveys().len(), 4);
        assert!(form().is_some());
    }
}
