//! Typed answer values, their checks against question types, and their encoding in documents.
//!
//! In a survey document every answer is one Automerge scalar, so that a concurrent edit of
//! the same answer is a conflict Automerge reports, never an interleaving of two edits: a
//! geopoint whose latitude came from one person and longitude from another would be a lie.
//! Compound answers (select_multiple, geopoints, traces) are therefore stored in ODK's own
//! text encoding (`"a b c"`, `"lat lon alt acc"`, `"p;p;p"`), which analysts already know.

use std::fmt;

use automerge::ScalarValue;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::form::QuestionType;
use crate::media::MediaRef;
use crate::media::reference::{is_file_name, is_media_type};

/// One GPS point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude in decimal degrees, -90 to 90.
    pub lat: f64,
    /// Longitude in decimal degrees, -180 to 180.
    pub lon: f64,
    /// Altitude in metres.
    #[serde(default)]
    pub altitude: f64,
    /// Accuracy in metres.
    #[serde(default)]
    pub accuracy: f64,
}

impl GeoPoint {
    fn encode(&self) -> String {
        format!("{} {} {} {}", self.lat, self.lon, self.altitude, self.accuracy)
    }

    fn decode(text: &str) -> Option<GeoPoint> {
        let mut parts = text.split_whitespace().map(str::parse::<f64>);
        let lat = parts.next()?.ok()?;
        let lon = parts.next()?.ok()?;
        let altitude = parts.next().unwrap_or(Ok(0.0)).ok()?;
        let accuracy = parts.next().unwrap_or(Ok(0.0)).ok()?;
        let point = GeoPoint { lat, lon, altitude, accuracy };
        point.is_valid().then_some(point)
    }

    fn is_valid(&self) -> bool {
        (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
            && self.altitude.is_finite()
            && self.accuracy.is_finite()
            && self.accuracy >= 0.0
    }
}

/// An answer, typed by the question it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// Free text, a barcode, or a media file name.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A decimal number (always finite).
    Decimal(f64),
    /// A yes/no answer (acknowledge).
    Boolean(bool),
    /// A calendar date.
    Date(NaiveDate),
    /// A time of day.
    Time(NaiveTime),
    /// A date and time with its offset.
    DateTime(DateTime<FixedOffset>),
    /// One choice code (select_one).
    Choice(String),
    /// Several choice codes, in the order chosen (select_multiple, rank).
    Choices(Vec<String>),
    /// One GPS point.
    GeoPoint(GeoPoint),
    /// A line of GPS points.
    GeoTrace(Vec<GeoPoint>),
    /// A polygon of GPS points.
    GeoShape(Vec<GeoPoint>),
    /// An attached photo, recording, video or file: its bytes are kept apart, under the
    /// reference's digest (see [`crate::media`]).
    Media(MediaRef),
}

/// Why a value does not fit a question.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct ValueError {
    /// What is wrong, in words for the person who entered it.
    pub reason: String,
}

impl ValueError {
    fn new(reason: impl Into<String>) -> Self {
        ValueError { reason: reason.into() }
    }
}

impl Value {
    /// The name of the value's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Text(_) => "text",
            Value::Integer(_) => "integer",
            Value::Decimal(_) => "decimal",
            Value::Boolean(_) => "boolean",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::DateTime(_) => "dateTime",
            Value::Choice(_) => "choice",
            Value::Choices(_) => "choices",
            Value::GeoPoint(_) => "geopoint",
            Value::GeoTrace(_) => "geotrace",
            Value::GeoShape(_) => "geoshape",
            Value::Media(_) => "file",
        }
    }

    /// Checks that the value fits a question of type `kind`, and returns it in the canonical
    /// shape for that type (an integer given for a decimal question becomes a decimal).
    pub fn conform(self, kind: &QuestionType) -> Result<Value, ValueError> {
        use QuestionType as Q;
        let value = match (kind, self) {
            (Q::Note, _) => return Err(ValueError::new("a note takes no answer")),
            (
                Q::Text
                | Q::Barcode
                | Q::Image
                | Q::Audio
                | Q::Video
                | Q::File
                | Q::Audit
                | Q::DeviceId
                | Q::Username
                | Q::PhoneNumber
                | Q::Email,
                Value::Text(t),
            ) => Value::Text(t),
            (Q::Integer, Value::Integer(i)) => Value::Integer(i),
            (Q::Decimal, Value::Decimal(d)) => Value::Decimal(d),
            (Q::Decimal, Value::Integer(i)) => Value::Decimal(i as f64),
            (Q::Range, v @ (Value::Integer(_) | Value::Decimal(_))) => v,
            (Q::Calculate | Q::Hidden, v @ (Value::Text(_) | Value::Integer(_))) => v,
            (Q::Calculate | Q::Hidden, v @ (Value::Decimal(_) | Value::Boolean(_))) => v,
            (Q::Acknowledge, Value::Boolean(b)) => Value::Boolean(b),
            (Q::Date | Q::Today, Value::Date(d)) => Value::Date(d),
            (Q::Time, Value::Time(t)) => Value::Time(t),
            (Q::DateTime | Q::Start | Q::End, Value::DateTime(t)) => Value::DateTime(t),
            (Q::SelectOne { .. } | Q::SelectOneFromFile { .. }, Value::Choice(c)) => {
                check_code(&c)?;
                Value::Choice(c)
            }
            (Q::SelectMultiple { .. } | Q::SelectMultipleFromFile { .. } | Q::Rank { .. }, Value::Choices(cs)) => {
                for (i, c) in cs.iter().enumerate() {
                    check_code(c)?;
                    if cs[..i].contains(c) {
                        return Err(ValueError::new(format!("choice `{c}` is given twice")));
                    }
                }
                Value::Choices(cs)
            }
            (Q::Image | Q::Audio | Q::Video | Q::File, Value::Media(m)) => {
                crate::media::accept("", kind, &m.media_type).map_err(|_| {
                    ValueError::new(format!("a {} question takes no {} file", kind.xlsform_name(), m.media_type))
                })?;
                if !is_media_type(&m.media_type) || !is_file_name(&m.file_name) {
                    return Err(ValueError::new("an attachment needs a media type and a file name"));
                }
                Value::Media(m)
            }
            (Q::GeoPoint, Value::GeoPoint(p)) => Value::GeoPoint(p),
            (Q::GeoTrace, Value::GeoTrace(ps)) if ps.len() >= 2 => Value::GeoTrace(ps),
            (Q::GeoShape, Value::GeoShape(ps)) if ps.len() >= 3 => Value::GeoShape(ps),
            (Q::GeoTrace, Value::GeoTrace(_)) => {
                return Err(ValueError::new("a geotrace needs at least 2 points"));
            }
            (Q::GeoShape, Value::GeoShape(_)) => {
                return Err(ValueError::new("a geoshape needs at least 3 points"));
            }
            (kind, value) => {
                return Err(ValueError::new(format!(
                    "a {} question takes no {} value",
                    kind.xlsform_name(),
                    value.kind()
                )));
            }
        };
        value.check_finite()?;
        value.check_size()?;
        Ok(value)
    }

    /// Refuses answers larger than any real one: they would cost every sync, export and
    /// review page, and a survey holds only so much (see `intake::Budget::WRITE`).
    fn check_size(&self) -> Result<(), ValueError> {
        match self {
            Value::Text(t) if t.chars().count() > MAX_TEXT_CHARS => Err(ValueError::new(format!(
                "a text answer holds at most {MAX_TEXT_CHARS} characters; this one has {}",
                t.chars().count()
            ))),
            Value::Choices(cs) if cs.len() > MAX_CHOICES => {
                Err(ValueError::new(format!("at most {MAX_CHOICES} choices can be selected; {} were", cs.len())))
            }
            Value::Choice(c) if c.len() > MAX_CODE_BYTES => {
                Err(ValueError::new(format!("a choice code holds at most {MAX_CODE_BYTES} bytes")))
            }
            Value::Choices(cs) if cs.iter().any(|c| c.len() > MAX_CODE_BYTES) => {
                Err(ValueError::new(format!("a choice code holds at most {MAX_CODE_BYTES} bytes")))
            }
            Value::GeoTrace(ps) | Value::GeoShape(ps) if ps.len() > MAX_POINTS => Err(ValueError::new(format!(
                "a trace or shape holds at most {MAX_POINTS} points; this one has {}",
                ps.len()
            ))),
            _ => Ok(()),
        }
    }

    fn check_finite(&self) -> Result<(), ValueError> {
        let points: &[GeoPoint] = match self {
            Value::Decimal(d) if !d.is_finite() => {
                return Err(ValueError::new("a decimal must be a finite number"));
            }
            Value::GeoPoint(p) => std::slice::from_ref(p),
            Value::GeoTrace(ps) | Value::GeoShape(ps) => ps,
            _ => return Ok(()),
        };
        match points.iter().find(|p| !p.is_valid()) {
            Some(p) => Err(ValueError::new(format!(
                "({}, {}) is not a GPS position: latitude must be within ±90, longitude within ±180",
                p.lat, p.lon
            ))),
            None => Ok(()),
        }
    }

    /// The Automerge scalar that stores this value in a document.
    pub(crate) fn to_scalar(&self) -> ScalarValue {
        match self {
            Value::Text(t) | Value::Choice(t) => ScalarValue::Str(t.as_str().into()),
            Value::Integer(i) => ScalarValue::Int(*i),
            Value::Decimal(d) => ScalarValue::F64(*d),
            Value::Boolean(b) => ScalarValue::Boolean(*b),
            Value::Date(_) | Value::Time(_) | Value::DateTime(_) => ScalarValue::Str(self.to_odk_string().into()),
            Value::Choices(cs) => ScalarValue::Str(cs.join(" ").into()),
            Value::GeoPoint(p) => ScalarValue::Str(p.encode().into()),
            Value::GeoTrace(ps) | Value::GeoShape(ps) => ScalarValue::Str(encode_points(ps).into()),
            Value::Media(m) => ScalarValue::Str(m.encode().into()),
        }
    }

    /// Reads a stored scalar back as a value of the question's type.
    ///
    /// Returns `None` when the stored scalar does not fit the type, which can only happen if
    /// a document was written by something other than Terrain; callers report it.
    pub(crate) fn from_scalar(scalar: &ScalarValue, kind: &QuestionType) -> Option<Value> {
        use QuestionType as Q;
        let text = match scalar {
            ScalarValue::Str(s) => Some(s.as_str()),
            _ => None,
        };
        let value = match (kind, scalar) {
            (Q::Integer | Q::Range | Q::Calculate | Q::Hidden, ScalarValue::Int(i)) => Value::Integer(*i),
            (Q::Decimal | Q::Range | Q::Calculate | Q::Hidden, ScalarValue::F64(d)) => Value::Decimal(*d),
            (Q::Acknowledge | Q::Calculate | Q::Hidden, ScalarValue::Boolean(b)) => Value::Boolean(*b),
            (Q::Date | Q::Today, _) => Value::Date(text?.parse().ok()?),
            (Q::Time, _) => Value::Time(text?.parse().ok()?),
            (Q::DateTime | Q::Start | Q::End, _) => Value::DateTime(DateTime::parse_from_rfc3339(text?).ok()?),
            (Q::SelectOne { .. } | Q::SelectOneFromFile { .. }, _) => Value::Choice(text?.to_owned()),
            (Q::SelectMultiple { .. } | Q::SelectMultipleFromFile { .. } | Q::Rank { .. }, _) => {
                Value::Choices(text?.split_whitespace().map(str::to_owned).collect())
            }
            (Q::GeoPoint, _) => Value::GeoPoint(GeoPoint::decode(text?)?),
            (Q::GeoTrace, _) => Value::GeoTrace(decode_points(text?)?),
            (Q::GeoShape, _) => Value::GeoShape(decode_points(text?)?),
            (Q::Note, _) => return None,
            (Q::Image | Q::Audio | Q::Video | Q::File, ScalarValue::Str(s)) => {
                // A bare file name is what ODK and imports write: it stays text.
                MediaRef::decode(s).map_or_else(|| Value::Text(s.to_string()), Value::Media)
            }
            (_, ScalarValue::Str(s)) => Value::Text(s.to_string()),
            _ => return None,
        };
        Some(value)
    }

    /// Reads an answer typed as text, in the form [`Value::to_odk_string`] writes (what a
    /// person types in the dashboard's correction box, or a CSV cell holds), for a question
    /// of type `kind`.
    pub fn parse_odk(text: &str, kind: &QuestionType) -> Result<Value, ValueError> {
        use QuestionType as Q;
        let t = text.trim();
        let bad = || ValueError::new(format!("`{t}` is not a {} answer", kind.xlsform_name()));
        let value = match kind {
            Q::Integer => Value::Integer(t.parse().map_err(|_| bad())?),
            Q::Decimal | Q::Range => Value::Decimal(t.parse().map_err(|_| bad())?),
            Q::Date | Q::Today => Value::Date(NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad())?),
            Q::Time => Value::Time(
                NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
                    .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                    .map_err(|_| bad())?,
            ),
            Q::DateTime | Q::Start | Q::End => Value::DateTime(DateTime::parse_from_rfc3339(t).map_err(|_| bad())?),
            Q::SelectOne { .. } | Q::SelectOneFromFile { .. } => Value::Choice(t.to_owned()),
            Q::SelectMultiple { .. } | Q::SelectMultipleFromFile { .. } | Q::Rank { .. } => {
                Value::Choices(t.split_whitespace().map(str::to_owned).collect())
            }
            Q::GeoPoint => Value::GeoPoint(GeoPoint::decode(t).ok_or_else(bad)?),
            Q::GeoTrace => Value::GeoTrace(decode_points(t).ok_or_else(bad)?),
            Q::GeoShape => Value::GeoShape(decode_points(t).ok_or_else(bad)?),
            Q::Acknowledge => Value::Boolean(matches!(t, "OK" | "ok" | "true" | "1" | "yes")),
            _ => Value::Text(text.to_owned()),
        };
        value.conform(kind)
    }

    /// The value as ODK writes it in submissions and as XLSForm expressions see it.
    pub fn to_odk_string(&self) -> String {
        match self {
            Value::Text(t) | Value::Choice(t) => t.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Decimal(d) => d.to_string(),
            Value::Boolean(b) => if *b { "OK" } else { "" }.to_owned(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Time(t) => t.format("%H:%M:%S%.3f").to_string(),
            Value::DateTime(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            Value::Choices(cs) => cs.join(" "),
            Value::GeoPoint(p) => p.encode(),
            Value::GeoTrace(ps) | Value::GeoShape(ps) => encode_points(ps),
            Value::Media(m) => m.export_name(),
        }
    }

    /// The value as plain JSON: what analysts see in JSON exports.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Integer(i) => J::from(*i),
            Value::Decimal(d) => J::from(*d),
            Value::Boolean(b) => J::from(*b),
            Value::Choices(cs) => J::from(cs.clone()),
            Value::GeoPoint(p) => point_json(p),
            Value::GeoTrace(ps) | Value::GeoShape(ps) => J::Array(ps.iter().map(point_json).collect()),
            Value::Media(m) => media_json(m),
            _ => J::from(self.to_odk_string()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_odk_string())
    }
}

fn point_json(p: &GeoPoint) -> serde_json::Value {
    serde_json::json!({"lat": p.lat, "lon": p.lon, "altitude": p.altitude, "accuracy": p.accuracy})
}

/// An attachment in JSON: the file's name in exports (`file`, as CSV cells hold it), what
/// identifies its bytes, and where the relay serves them (`url`, relative to its address).
fn media_json(m: &MediaRef) -> serde_json::Value {
    let mut json = serde_json::json!({
        "file": m.export_name(),
        "sha256": m.digest.to_hex(),
        "size": m.size,
        "type": m.media_type,
        "name": m.file_name,
        "url": m.api_path(),
    });
    if let Some((width, height)) = m.dimensions {
        json["width"] = width.into();
        json["height"] = height.into();
    }
    json
}

/// The longest text answer, in characters: a few pages of notes.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The most choices one `select_multiple` answer may hold.
pub const MAX_CHOICES: usize = 1_000;
/// The longest choice code, in bytes.
pub const MAX_CODE_BYTES: usize = 256;
/// The most points in a trace or shape: a plot boundary walked for hours, one point a second.
pub const MAX_POINTS: usize = 20_000;

fn check_code(code: &str) -> Result<(), ValueError> {
    if code.is_empty() || code.contains(char::is_whitespace) {
        return Err(ValueError::new(format!(
            "`{code}` is not a choice code: codes are non-empty and contain no spaces"
        )));
    }
    Ok(())
}

fn encode_points(points: &[GeoPoint]) -> String {
    points.iter().map(GeoPoint::encode).collect::<Vec<_>>().join(";")
}

fn decode_points(text: &str) -> Option<Vec<GeoPoint>> {
    text.split(';').filter(|p| !p.trim().is_empty()).map(GeoPoint::decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_answers_are_refused_with_their_limit() {
        let long = Value::Text("é".repeat(MAX_TEXT_CHARS + 1));
        let err = long.conform(&QuestionType::Text).unwrap_err();
        assert!(err.reason.contains("10000 characters"), "{}", err.reason);
        assert!(Value::Text("é".repeat(MAX_TEXT_CHARS)).conform(&QuestionType::Text).is_ok());
        let many = Value::Choices((0..=MAX_CHOICES).map(|i| format!("c{i}")).collect());
        assert!(many.conform(&QuestionType::SelectMultiple { list: "l".into(), or_other: false }).is_err());
        let point = GeoPoint { lat: 12.0, lon: -1.0, altitude: 0.0, accuracy: 5.0 };
        assert!(Value::GeoTrace(vec![point; MAX_POINTS + 1]).conform(&QuestionType::GeoTrace).is_err());
    }

    #[test]
    fn typed_text_reads_back_as_the_value_it_came_from() {
        let cases = [
            (QuestionType::Integer, Value::Integer(-12)),
            (QuestionType::Decimal, Value::Decimal(2.5)),
            (QuestionType::Date, Value::Date(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())),
            (
                QuestionType::SelectMultiple { list: "l".into(), or_other: false },
                Value::Choices(vec!["a".into(), "b".into()]),
            ),
            (
                QuestionType::GeoPoint,
                Value::GeoPoint(GeoPoint { lat: 12.1, lon: -0.4, altitude: 250.0, accuracy: 4.0 }),
            ),
            (QuestionType::Text, Value::Text("Béguédo, rive droite".into())),
        ];
        for (kind, value) in cases {
            assert_eq!(Value::parse_odk(&value.to_odk_string(), &kind).unwrap(), value, "{kind:?}");
        }
        assert!(Value::parse_odk("douze", &QuestionType::Integer).unwrap_err().reason.contains("douze"));
        assert!(Value::parse_odk("1 2", &QuestionType::GeoPoint).is_ok());
        assert!(Value::parse_odk("north", &QuestionType::GeoPoint).is_err());
    }

    fn roundtrip(value: Value, kind: QuestionType) {
        let value = value.conform(&kind).unwrap();
        let back = Value::from_scalar(&value.to_scalar(), &kind).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn every_kind_round_trips_through_its_scalar() {
        let p = GeoPoint { lat: 12.3, lon: -0.41, altitude: 290.5, accuracy: 4.0 };
        roundtrip(Value::Text("Béguédo".into()), QuestionType::Text);
        roundtrip(Value::Integer(-4), QuestionType::Integer);
        roundtrip(Value::Decimal(2.5), QuestionType::Decimal);
        roundtrip(Value::Boolean(true), QuestionType::Acknowledge);
        roundtrip(Value::Date("2026-11-28".parse().unwrap()), QuestionType::Date);
        roundtrip(Value::Time("07:30:00".parse().unwrap()), QuestionType::Time);
        roundtrip(
            Value::DateTime(DateTime::parse_from_rfc3339("2026-11-28T07:30:00.250+01:00").unwrap()),
            QuestionType::DateTime,
        );
        let list = || "l".to_string();
        roundtrip(Value::Choice("zai".into()), QuestionType::SelectOne { list: list(), or_other: false });
        roundtrip(
            Value::Choices(vec!["zai".into(), "demi_lune".into()]),
            QuestionType::SelectMultiple { list: list(), or_other: false },
        );
        roundtrip(Value::GeoPoint(p), QuestionType::GeoPoint);
        roundtrip(Value::GeoTrace(vec![p, p]), QuestionType::GeoTrace);
        roundtrip(Value::GeoShape(vec![p, p, p]), QuestionType::GeoShape);
    }

    #[test]
    fn wrong_kinds_and_bad_values_are_refused_with_a_reason() {
        let err = Value::Text("x".into()).conform(&QuestionType::Integer).unwrap_err();
        assert_eq!(err.reason, "a integer question takes no text value");
        assert!(Value::Decimal(f64::NAN).conform(&QuestionType::Decimal).is_err());
        let far = GeoPoint { lat: 95.0, lon: 0.0, altitude: 0.0, accuracy: 0.0 };
        assert!(Value::GeoPoint(far).conform(&QuestionType::GeoPoint).is_err());
        let sm = QuestionType::SelectMultiple { list: "l".into(), or_other: false };
        assert!(Value::Choices(vec!["a".into(), "a".into()]).conform(&sm).is_err());
        assert!(Value::Choices(vec!["a b".into()]).conform(&sm).is_err());
        assert!(Value::Text("x".into()).conform(&QuestionType::Note).is_err());
    }

    #[test]
    fn integers_are_accepted_for_decimals() {
        assert_eq!(Value::Integer(3).conform(&QuestionType::Decimal), Ok(Value::Decimal(3.0)));
    }
}
