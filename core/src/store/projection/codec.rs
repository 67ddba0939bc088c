//! The bytes of one projection row: a survey's metadata, review and relevant answers in
//! postcard, behind a format byte.
//!
//! The row is read back on every export, so it is a compact binary encoding rather than
//! JSON, and it mirrors the public types in private ones: the public types' serde shape is
//! the JSON that people and scripts read, which may change without a migration, while this
//! one is what is on disk. Values keep every bit (floats, nanoseconds, offsets), so an
//! answer read from the projection equals the one read from the document.
//!
//! The rows are the store's own writing, but they are still bytes from disk: a row that does
//! not decode is an error the caller answers by reading the document instead, never a panic.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::GeoPoint;
use crate::media::MediaRef;
use crate::store::Survey;
use crate::survey::{Answer, Answers, Comment, Meta, Review, ReviewStatus};
use crate::value::Value;

/// The first byte of every row: bump it when the encoding changes, and rows of another
/// format read as stale (their surveys are projected again from their documents).
const FORMAT: u8 = 1;

/// Why a row did not decode.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A row written by another format.
    #[error("projection row of format {0}, expected {FORMAT}")]
    Format(u8),
    /// The bytes are not a row.
    #[error("projection row does not decode: {0}")]
    Bytes(#[from] postcard::Error),
    /// A value out of its type's range (a date, a time, an offset).
    #[error("projection row holds an impossible {0}")]
    Value(&'static str),
}

/// Encodes a projected survey.
pub fn encode(survey: &Survey) -> Result<Vec<u8>, CodecError> {
    let row = Row {
        meta: survey.meta.clone(),
        review_status: survey.review.stored_status.clone(),
        comments: survey.review.comments.iter().map(StoredComment::from).collect(),
        answers: level(&survey.answers),
    };
    Ok(postcard::to_extend(&row, vec![FORMAT])?)
}

/// Decodes a row [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Survey, CodecError> {
    let (&format, rest) = bytes.split_first().ok_or(CodecError::Format(0))?;
    if format != FORMAT {
        return Err(CodecError::Format(format));
    }
    let row: Row = postcard::from_bytes(rest)?;
    let comments = row.comments.into_iter().map(Comment::try_from).collect::<Result<_, _>>()?;
    Ok(Survey {
        meta: row.meta,
        review: Review {
            status: ReviewStatus::from_stored(row.review_status.as_deref()),
            stored_status: row.review_status,
            comments,
        },
        answers: answers(row.answers)?,
    })
}

#[derive(Serialize, Deserialize)]
struct Row {
    meta: Meta,
    review_status: Option<String>,
    comments: Vec<StoredComment>,
    answers: Level,
}

type Level = BTreeMap<String, Node>;

#[derive(Serialize, Deserialize)]
enum Node {
    Value(Leaf),
    Repeat(Vec<Level>),
    Unreadable(String),
}

/// A point as `[lat, lon, altitude, accuracy]`.
type Point = [f64; 4];

#[derive(Serialize, Deserialize)]
enum Leaf {
    Text(String),
    Integer(i64),
    Decimal(f64),
    Boolean(bool),
    /// Days since 1 January of year 1.
    Date(i32),
    /// Seconds since midnight, and nanoseconds (a leap second may reach 2e9).
    Time(u32, u32),
    /// Seconds since the epoch, nanoseconds, and the offset east of UTC in seconds.
    DateTime(i64, u32, i32),
    Choice(String),
    Choices(Vec<String>),
    GeoPoint(Point),
    GeoTrace(Vec<Point>),
    GeoShape(Vec<Point>),
    /// An attachment, as its document holds it (`MediaRef::encode`); new variants go last,
    /// so rows written before them still decode.
    Media(String),
}

#[derive(Serialize, Deserialize)]
struct StoredComment {
    author: String,
    /// Milliseconds since the epoch, as the document holds it.
    at: Option<i64>,
    text: String,
    question: Option<String>,
}

impl From<&Comment> for StoredComment {
    fn from(c: &Comment) -> Self {
        StoredComment {
            author: c.author.clone(),
            at: c.at.map(|t| t.timestamp_millis()),
            text: c.text.clone(),
            question: c.question.clone(),
        }
    }
}

impl TryFrom<StoredComment> for Comment {
    type Error = CodecError;

    fn try_from(c: StoredComment) -> Result<Self, CodecError> {
        let at = match c.at {
            Some(ms) => Some(DateTime::from_timestamp_millis(ms).ok_or(CodecError::Value("comment time"))?),
            None => None,
        };
        Ok(Comment { author: c.author, at, text: c.text, question: c.question })
    }
}

fn level(answers: &Answers) -> Level {
    answers
        .0
        .iter()
        .map(|(name, answer)| {
            let node = match answer {
                Answer::Value(v) => Node::Value(leaf(v)),
                Answer::Repeat(instances) => Node::Repeat(instances.iter().map(level).collect()),
                Answer::Unreadable(text) => Node::Unreadable(text.clone()),
            };
            (name.clone(), node)
        })
        .collect()
}

fn answers(level: Level) -> Result<Answers, CodecError> {
    let map = level
        .into_iter()
        .map(|(name, node)| {
            let answer = match node {
                Node::Value(leaf) => Answer::Value(value(leaf)?),
                Node::Repeat(instances) => {
                    Answer::Repeat(instances.into_iter().map(answers).collect::<Result<_, _>>()?)
                }
                Node::Unreadable(text) => Answer::Unreadable(text),
            };
            Ok((name, answer))
        })
        .collect::<Result<_, CodecError>>()?;
    Ok(Answers(map))
}

fn point(p: &GeoPoint) -> Point {
    [p.lat, p.lon, p.altitude, p.accuracy]
}

fn geo([lat, lon, altitude, accuracy]: Point) -> GeoPoint {
    GeoPoint { lat, lon, altitude, accuracy }
}

fn leaf(value: &Value) -> Leaf {
    match value {
        Value::Text(t) => Leaf::Text(t.clone()),
        Value::Integer(i) => Leaf::Integer(*i),
        Value::Decimal(d) => Leaf::Decimal(*d),
        Value::Boolean(b) => Leaf::Boolean(*b),
        Value::Date(d) => Leaf::Date(chrono::Datelike::num_days_from_ce(d)),
        Value::Time(t) => Leaf::Time(t.num_seconds_from_midnight(), t.nanosecond()),
        Value::DateTime(t) => Leaf::DateTime(t.timestamp(), t.timestamp_subsec_nanos(), t.offset().local_minus_utc()),
        Value::Choice(c) => Leaf::Choice(c.clone()),
        Value::Choices(c) => Leaf::Choices(c.clone()),
        Value::GeoPoint(p) => Leaf::GeoPoint(point(p)),
        Value::GeoTrace(ps) => Leaf::GeoTrace(ps.iter().map(point).collect()),
        Value::GeoShape(ps) => Leaf::GeoShape(ps.iter().map(point).collect()),
        Value::Media(m) => Leaf::Media(m.encode()),
    }
}

fn value(leaf: Leaf) -> Result<Value, CodecError> {
    Ok(match leaf {
        Leaf::Text(t) => Value::Text(t),
        Leaf::Integer(i) => Value::Integer(i),
        Leaf::Decimal(d) => Value::Decimal(d),
        Leaf::Boolean(b) => Value::Boolean(b),
        Leaf::Date(days) => Value::Date(NaiveDate::from_num_days_from_ce_opt(days).ok_or(CodecError::Value("date"))?),
        Leaf::Time(secs, nanos) => Value::Time(
            NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).ok_or(CodecError::Value("time of day"))?,
        ),
        Leaf::DateTime(secs, nanos, offset) => {
            let offset = FixedOffset::east_opt(offset).ok_or(CodecError::Value("time zone offset"))?;
            let utc = DateTime::from_timestamp(secs, nanos).ok_or(CodecError::Value("date and time"))?;
            Value::DateTime(utc.with_timezone(&offset))
        }
        Leaf::Choice(c) => Value::Choice(c),
        Leaf::Choices(c) => Value::Choices(c),
        Leaf::GeoPoint(p) => Value::GeoPoint(geo(p)),
        Leaf::GeoTrace(ps) => Value::GeoTrace(ps.into_iter().map(geo).collect()),
        Leaf::GeoShape(ps) => Value::GeoShape(ps.into_iter().map(geo).collect()),
        Leaf::Media(text) => Value::Media(MediaRef::decode(&text).ok_or(CodecError::Value("attachment"))?),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::survey::Status;

    fn sample() -> Survey {
        let text = |s: &str| Answer::Value(Value::Text(s.into()));
        let mut member = Answers::default();
        member.0.insert("age".into(), Answer::Value(Value::Integer(41)));
        member.0.insert("weight".into(), Answer::Value(Value::Decimal(0.1 + 0.2)));
        let offset = FixedOffset::east_opt(-(3 * 3600 + 30 * 60)).unwrap_or_else(|| unreachable!());
        let when = offset.with_ymd_and_hms(2026, 11, 3, 23, 59, 59).single().unwrap_or_else(|| unreachable!());
        let point = GeoPoint { lat: 12.25, lon: -0.375, altitude: 301.5, accuracy: 4.0 };
        let mut answers = Answers::default();
        for (name, answer) in [
            ("village", text("Béguédo")),
            ("consent", Answer::Value(Value::Boolean(true))),
            ("visit", Answer::Value(Value::Date(NaiveDate::from_ymd_opt(2026, 11, 3).unwrap_or_default()))),
            (
                "start",
                Answer::Value(Value::Time(NaiveTime::from_hms_nano_opt(7, 5, 9, 123_456_789).unwrap_or_default())),
            ),
            ("ended", Answer::Value(Value::DateTime(when + chrono::Duration::nanoseconds(17)))),
            ("crop", Answer::Value(Value::Choice("millet".into()))),
            ("water", Answer::Value(Value::Choices(vec!["well".into(), "river".into()]))),
            ("home", Answer::Value(Value::GeoPoint(point))),
            ("bank", Answer::Value(Value::GeoTrace(vec![point, point]))),
            ("plot", Answer::Value(Value::GeoShape(vec![point, point, point, point]))),
            ("old_question", Answer::Unreadable("42".into())),
            ("member", Answer::Repeat(vec![member.clone(), Answers::default(), member])),
        ] {
            answers.0.insert(name.into(), answer);
        }
        Survey {
            meta: Meta {
                survey_id: "s-1".into(),
                form_id: "land".into(),
                form_version: "2026110101".into(),
                created_by: "awa".into(),
                created_on: "phone-7".into(),
                created_at: Utc.timestamp_millis_opt(1_790_000_000_123).single().unwrap_or_default(),
                status: Status::Finalized,
            },
            review: Review {
                status: ReviewStatus::SentBack,
                stored_status: Some("sent_back".into()),
                comments: vec![Comment {
                    author: "moussa".into(),
                    at: DateTime::from_timestamp_millis(1_790_000_100_456),
                    text: "Vérifier la superficie".into(),
                    question: Some("plot".into()),
                }],
            },
            answers,
        }
    }

    #[test]
    fn every_kind_of_answer_comes_back_exactly() {
        let survey = sample();
        let bytes = encode(&survey).unwrap_or_default();
        assert_eq!(bytes.first(), Some(&FORMAT));
        assert_eq!(decode(&bytes).ok(), Some(survey));
    }

    #[test]
    fn a_status_from_a_newer_terrain_stays_as_written() {
        let mut survey = sample();
        survey.review.stored_status = Some("escalated".into());
        survey.review.status = ReviewStatus::from_stored(Some("escalated"));
        let back = decode(&encode(&survey).unwrap_or_default()).ok();
        assert_eq!(back.map(|p| p.review.stored_status), Some(Some("escalated".into())));
    }

    #[test]
    fn damaged_rows_are_errors_not_panics() {
        let bytes = encode(&sample()).unwrap_or_default();
        assert!(matches!(decode(&[]), Err(CodecError::Format(0))));
        assert!(matches!(decode(&[FORMAT + 1, 0]), Err(CodecError::Format(_))));
        for cut in 1..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // Every single-byte change either fails or decodes to something; none panics, and
        // none allocates past what the row's length allows.
        for at in 1..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let _ = decode(&damaged);
            }
        }
        // A count that claims 2^63 entries fails at once.
        let mut huge = vec![FORMAT];
        huge.extend([0xff; 9]);
        huge.push(0x7f);
        assert!(decode(&huge).is_err());
    }
}
