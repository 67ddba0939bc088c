//! Plausible, seeded answers for any form: what the benchmarks and the demo fill surveys
//! with. Values follow each question's type and choice list; places and names are drawn
//! from Guinea and Burkina Faso so that the data compresses like real field data would.

use chrono::{Duration, FixedOffset, NaiveDate, TimeZone};
use rand::Rng;
use terrain_core::form::{Form, Node, QuestionType};
use terrain_core::survey::{Answer, Answers};
use terrain_core::{GeoPoint, Value};

const NAMES: &[&str] = &[
    "Mamadou Diallo",
    "Fatoumata Bah",
    "Alpha Camara",
    "Mariama Sow",
    "Ibrahima Barry",
    "Aïssatou Condé",
    "Ousmane Traoré",
    "Salimata Ouédraogo",
    "Boukary Sawadogo",
    "Awa Kaboré",
];
const PLACES: &[&str] =
    &["Kindia", "Labé", "Mamou", "Boké", "Siguiri", "Faranah", "Kankan", "Béguédo", "Garango", "Tenkodogo"];

/// Instances given to each repeat without a fixed count.
const REPEAT_INSTANCES: usize = 6;

/// A plausible answer to every question of `form` that takes one (calculations, notes and
/// groups excepted), with `REPEAT_INSTANCES` instances per repeat.
pub fn answers(form: &Form, rng: &mut impl Rng) -> Answers {
    fill(form, &form.children, rng)
}

fn fill(form: &Form, nodes: &[Node], rng: &mut impl Rng) -> Answers {
    let mut answers = Answers::default();
    for node in nodes {
        match node {
            Node::Question(q) => {
                if let Some(value) = value_for(form, &q.kind, rng) {
                    answers.0.insert(q.name.clone(), Answer::Value(value));
                }
            }
            Node::Group(g) => answers.0.extend(fill(form, &g.children, rng).0),
            Node::Repeat(g) => {
                let instances = (0..REPEAT_INSTANCES).map(|_| fill(form, &g.children, rng)).collect();
                answers.0.insert(g.name.clone(), Answer::Repeat(instances));
            }
        }
    }
    answers
}

/// A plausible value for a question of type `kind` in `form` (`None` for types that take no
/// answer, and for selects from an empty list).
pub fn value_for(form: &Form, kind: &QuestionType, rng: &mut impl Rng) -> Option<Value> {
    let pick = |list: &str, rng: &mut _| -> Option<String> {
        let choices = form.choice_lists.get(list)?;
        if choices.is_empty() {
            return None;
        }
        Some(choices[random_index(rng, choices.len())].name.clone())
    };
    let day = NaiveDate::from_ymd_opt(2026, 10, 1)? + Duration::days(rng.random_range(0..58));
    Some(match kind {
        QuestionType::Text => Value::Text(if rng.random_bool(0.5) {
            NAMES[random_index(rng, NAMES.len())].to_owned()
        } else {
            format!("{} quartier {}", PLACES[random_index(rng, PLACES.len())], rng.random_range(1..30))
        }),
        QuestionType::Integer => Value::Integer(rng.random_range(0..60)),
        QuestionType::Decimal | QuestionType::Range => {
            Value::Decimal((rng.random_range(0.0..50.0f64) * 10.0).round() / 10.0)
        }
        QuestionType::SelectOne { list, .. } => Value::Choice(pick(list, rng)?),
        QuestionType::SelectMultiple { list, .. } | QuestionType::Rank { list } => {
            let choices = form.choice_lists.get(list)?;
            let mut codes: Vec<String> = Vec::new();
            for _ in 0..rng.random_range(1..=3.min(choices.len().max(1))) {
                let code = choices.get(random_index(rng, choices.len()))?.name.clone();
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
            Value::Choices(codes)
        }
        QuestionType::Date | QuestionType::Today => Value::Date(day),
        QuestionType::DateTime | QuestionType::Start | QuestionType::End => {
            let offset = FixedOffset::east_opt(0)?;
            let at = day.and_hms_opt(rng.random_range(7..18), rng.random_range(0..60), 0)?;
            Value::DateTime(offset.from_local_datetime(&at).single()?)
        }
        QuestionType::GeoPoint => Value::GeoPoint(point(rng)),
        QuestionType::GeoShape => {
            let p = point(rng);
            Value::GeoShape(vec![p, GeoPoint { lat: p.lat + 0.001, ..p }, GeoPoint { lon: p.lon + 0.001, ..p }, p])
        }
        QuestionType::GeoTrace => {
            let p = point(rng);
            Value::GeoTrace(vec![p, GeoPoint { lat: p.lat + 0.002, ..p }])
        }
        QuestionType::Acknowledge => Value::Boolean(true),
        QuestionType::DeviceId => Value::Text(format!("terrain:{:08x}", rng.random::<u32>())),
        _ => return None,
    })
}

/// A point in Guinea or around Béguédo, rounded like a phone's GPS reading.
fn point(rng: &mut impl Rng) -> GeoPoint {
    let (lat, lon) = if rng.random_bool(0.7) { (10.5, -12.0) } else { (11.78, -0.74) };
    let round = |x: f64| (x * 1e6).round() / 1e6;
    GeoPoint {
        lat: round(lat + rng.random_range(-1.0..1.0)),
        lon: round(lon + rng.random_range(-1.0..1.0)),
        altitude: rng.random_range(100..600) as f64,
        accuracy: rng.random_range(3..15) as f64,
    }
}

fn random_index(rng: &mut impl Rng, len: usize) -> usize {
    rng.random_range(0..len.max(1)).min(len.saturating_sub(1))
}
