//! Conversions between `terrain-core` types and the FFI records. Nothing here decides
//! anything: it renames, flattens and formats.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use terrain_core::form::Evaluation as CoreEvaluation;
use terrain_core::identity::Role as CoreRole;
use terrain_core::media::{Digest, MediaRef};
use terrain_core::store::SurveySummary as CoreSummary;
use terrain_core::survey::{Answer, AnswerPath, Answers, Comment, Review, Status};
use terrain_core::value::{GeoPoint as CoreGeoPoint, Value};

use crate::error::TerrainError;
use crate::records::{
    AnswerEntry, AnswerValue, CalculatedValue, CommentInfo, Evaluation, FilteredChoices, GeoPoint, IssueInfo,
    MediaInfo, RepeatCount, ReviewInfo, Role, SurveyStatus, SurveySummary,
};

/// Parses an answer path such as `member[0]/age`.
pub(crate) fn path(text: &str) -> Result<AnswerPath, TerrainError> {
    text.parse().map_err(|e: terrain_core::survey::PathSyntaxError| TerrainError::invalid(e.to_string()))
}

/// Formats a moment as RFC 3339.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339()
}

impl From<Role> for CoreRole {
    fn from(role: Role) -> CoreRole {
        match role {
            Role::Enumerator => CoreRole::Enumerator,
            Role::Supervisor => CoreRole::Supervisor,
            Role::Analyst => CoreRole::Analyst,
            Role::Admin => CoreRole::Admin,
        }
    }
}

impl From<Status> for SurveyStatus {
    fn from(status: Status) -> SurveyStatus {
        match status {
            Status::Draft => SurveyStatus::Draft,
            Status::Finalized => SurveyStatus::Finalized,
        }
    }
}

impl From<SurveyStatus> for Status {
    fn from(status: SurveyStatus) -> Status {
        match status {
            SurveyStatus::Draft => Status::Draft,
            SurveyStatus::Finalized => Status::Finalized,
        }
    }
}

fn point_in(p: &GeoPoint) -> CoreGeoPoint {
    CoreGeoPoint { lat: p.lat, lon: p.lon, altitude: p.altitude, accuracy: p.accuracy }
}

fn point_out(p: &CoreGeoPoint) -> GeoPoint {
    GeoPoint { lat: p.lat, lon: p.lon, altitude: p.altitude, accuracy: p.accuracy }
}

impl TryFrom<AnswerValue> for Value {
    type Error = TerrainError;

    fn try_from(value: AnswerValue) -> Result<Value, TerrainError> {
        Ok(match value {
            AnswerValue::Text { value } => Value::Text(value),
            AnswerValue::Integer { value } => Value::Integer(value),
            AnswerValue::Decimal { value } => Value::Decimal(value),
            AnswerValue::Boolean { value } => Value::Boolean(value),
            AnswerValue::Date { iso } => Value::Date(
                NaiveDate::parse_from_str(&iso, "%Y-%m-%d")
                    .map_err(|e| TerrainError::invalid(format!("`{iso}` is not a date like 2026-11-28 ({e})")))?,
            ),
            AnswerValue::Time { iso } => Value::Time(
                iso.parse::<NaiveTime>()
                    .map_err(|e| TerrainError::invalid(format!("`{iso}` is not a time like 09:30:00 ({e})")))?,
            ),
            AnswerValue::DateTime { iso } => Value::DateTime(DateTime::parse_from_rfc3339(&iso).map_err(|e| {
                TerrainError::invalid(format!("`{iso}` is not a moment like 2026-11-28T09:30:00+00:00 ({e})"))
            })?),
            AnswerValue::Choice { code } => Value::Choice(code),
            AnswerValue::Choices { codes } => Value::Choices(codes),
            AnswerValue::GeoPoint { point } => Value::GeoPoint(point_in(&point)),
            AnswerValue::GeoTrace { points } => Value::GeoTrace(points.iter().map(point_in).collect()),
            AnswerValue::GeoShape { points } => Value::GeoShape(points.iter().map(point_in).collect()),
            AnswerValue::Media { .. } => {
                return Err(TerrainError::invalid(
                    "a file is attached with attach_media, which copies it into the store: it is not set as an answer",
                ));
            }
        })
    }
}

impl From<&Value> for AnswerValue {
    fn from(value: &Value) -> AnswerValue {
        match value {
            Value::Text(value) => AnswerValue::Text { value: value.clone() },
            Value::Integer(value) => AnswerValue::Integer { value: *value },
            Value::Decimal(value) => AnswerValue::Decimal { value: *value },
            Value::Boolean(value) => AnswerValue::Boolean { value: *value },
            Value::Date(d) => AnswerValue::Date { iso: d.format("%Y-%m-%d").to_string() },
            Value::Time(t) => AnswerValue::Time { iso: t.to_string() },
            Value::DateTime(t) => AnswerValue::DateTime { iso: t.to_rfc3339() },
            Value::Choice(code) => AnswerValue::Choice { code: code.clone() },
            Value::Choices(codes) => AnswerValue::Choices { codes: codes.clone() },
            Value::GeoPoint(p) => AnswerValue::GeoPoint { point: point_out(p) },
            Value::GeoTrace(ps) => AnswerValue::GeoTrace { points: ps.iter().map(point_out).collect() },
            Value::GeoShape(ps) => AnswerValue::GeoShape { points: ps.iter().map(point_out).collect() },
            Value::Media(m) => AnswerValue::Media { media: m.into() },
        }
    }
}

impl From<&MediaRef> for MediaInfo {
    fn from(m: &MediaRef) -> MediaInfo {
        MediaInfo {
            sha256: m.digest.to_hex(),
            size: m.size,
            media_type: m.media_type.clone(),
            file_name: m.file_name.clone(),
            width: m.dimensions.map(|(w, _)| w),
            height: m.dimensions.map(|(_, h)| h),
        }
    }
}

/// Parses a file's SHA-256 as the app gives it back.
pub(crate) fn digest(text: &str) -> Result<Digest, TerrainError> {
    text.parse().map_err(|e: terrain_core::media::NotADigest| TerrainError::invalid(e.to_string()))
}

/// A scalar answer as (typed value, unreadable text); repeats have neither.
pub(crate) fn answer_parts(answer: &Answer) -> (Option<AnswerValue>, Option<String>) {
    match answer {
        Answer::Value(v) => (Some(v.into()), None),
        Answer::Unreadable(text) => (None, Some(text.clone())),
        Answer::Repeat(_) => (None, None),
    }
}

/// Every scalar answer with its path, repeats flattened (`member[1]/member_age`).
pub(crate) fn flatten(answers: &Answers) -> Vec<AnswerEntry> {
    fn walk(answers: &Answers, prefix: &str, out: &mut Vec<AnswerEntry>) {
        for (name, answer) in &answers.0 {
            match answer {
                Answer::Repeat(instances) => {
                    for (i, instance) in instances.iter().enumerate() {
                        walk(instance, &format!("{prefix}{name}[{i}]/"), out);
                    }
                }
                other => {
                    let (value, unreadable) = answer_parts(other);
                    out.push(AnswerEntry { path: format!("{prefix}{name}"), value, unreadable });
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(answers, "", &mut out);
    out
}

fn issue(issue: &terrain_core::form::Issue) -> IssueInfo {
    IssueInfo { path: issue.path.to_string(), message: issue.message.clone() }
}

impl From<&CoreEvaluation> for Evaluation {
    fn from(e: &CoreEvaluation) -> Evaluation {
        Evaluation {
            non_relevant: e.non_relevant.iter().map(ToString::to_string).collect(),
            missing_required: e.missing_required.iter().map(issue).collect(),
            violations: e.violations.iter().map(issue).collect(),
            calculated: e
                .calculated
                .iter()
                .map(|(p, v)| CalculatedValue { path: p.to_string(), value: v.clone() })
                .collect(),
            choices: e.choices.iter().map(|(p, c)| FilteredChoices { path: p.to_string(), codes: c.clone() }).collect(),
            repeat_counts: e
                .repeat_counts
                .iter()
                .map(|(p, n)| RepeatCount { path: p.to_string(), count: u32::try_from(*n).unwrap_or(u32::MAX) })
                .collect(),
            form_errors: e.errors.iter().map(issue).collect(),
            complete: e.is_complete(),
        }
    }
}

impl From<CoreSummary> for SurveySummary {
    fn from(s: CoreSummary) -> SurveySummary {
        SurveySummary {
            survey_id: s.survey_id,
            form_id: s.form_id,
            form_version: s.form_version,
            status: s.status.into(),
            created_by: s.created_by,
            created_on: s.created_on,
            created_at: time(s.created_at),
            updated_at: time(s.updated_at),
            review_status: s.review_status.to_stored().map(str::to_owned),
            has_conflicts: s.has_conflicts,
            dirty: s.dirty,
        }
    }
}

fn comment(c: Comment) -> CommentInfo {
    CommentInfo { author: c.author, at: c.at.map(time), text: c.text, question: c.question }
}

impl From<Review> for ReviewInfo {
    fn from(r: Review) -> ReviewInfo {
        ReviewInfo {
            status: r.status.to_stored().map(str::to_owned),
            comments: r.comments.into_iter().map(comment).collect(),
        }
    }
}
