//! The records and enums the FFI passes by value: answers, evaluations, summaries, reviews,
//! histories and sync reports. Dates and times travel as ISO 8601 text.

/// What a person may do; the store writes under this role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// Fills in surveys.
    Enumerator,
    /// Reviews and corrects the surveys of their teams.
    Supervisor,
    /// Reads and exports data.
    Analyst,
    /// Manages projects, forms, teams and users.
    Admin,
}

/// A point on Earth (WGS84 degrees, metres).
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GeoPoint {
    /// Latitude, -90 to 90.
    pub lat: f64,
    /// Longitude, -180 to 180.
    pub lon: f64,
    /// Altitude in metres (0 if unknown).
    pub altitude: f64,
    /// Accuracy in metres (0 if unknown).
    pub accuracy: f64,
}

/// A typed answer, mirroring `terrain_core::Value`. The question's type decides which
/// variant it takes (integer questions take `Integer`, select_one takes `Choice`, …).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum AnswerValue {
    /// Free text (text, barcode, phone number, e-mail…).
    Text {
        /// The text.
        value: String,
    },
    /// A whole number.
    Integer {
        /// The number.
        value: i64,
    },
    /// A decimal number.
    Decimal {
        /// The number.
        value: f64,
    },
    /// Yes or no (acknowledge).
    Boolean {
        /// The value.
        value: bool,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date {
        /// The date, ISO 8601.
        iso: String,
    },
    /// A time of day, `HH:MM:SS`.
    Time {
        /// The time, ISO 8601.
        iso: String,
    },
    /// A moment with its UTC offset, RFC 3339 (`2026-11-28T09:30:00+00:00`).
    DateTime {
        /// The moment, RFC 3339.
        iso: String,
    },
    /// The code of one choice (select_one).
    Choice {
        /// The choice's name.
        code: String,
    },
    /// Codes of several choices, in order (select_multiple, rank).
    Choices {
        /// The choices' names.
        codes: Vec<String>,
    },
    /// A geopoint.
    GeoPoint {
        /// The point.
        point: GeoPoint,
    },
    /// A line (geotrace).
    GeoTrace {
        /// Its points.
        points: Vec<GeoPoint>,
    },
    /// A closed shape (geoshape).
    GeoShape {
        /// Its points.
        points: Vec<GeoPoint>,
    },
    /// An attached photo, recording, video or file. Attach files with `attach_media`; a
    /// reference is not set as an answer directly.
    Media {
        /// The attachment.
        media: MediaInfo,
    },
}

/// One stored answer, addressed by its path (`member[0]/age`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AnswerEntry {
    /// Where the answer is.
    pub path: String,
    /// The typed value, when the form can type it.
    pub value: Option<AnswerValue>,
    /// A stored value the form cannot type (a question since removed), kept as text.
    pub unreadable: Option<String>,
}

/// A problem with one answer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssueInfo {
    /// The question (`member[1]/member_age`).
    pub path: String,
    /// The message for the enumerator, in the chosen language.
    pub message: String,
}

/// What the form screen needs after every answer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Evaluation {
    /// Questions, groups and repeats that are hidden (not relevant); all others are shown.
    /// A hidden repeat is listed once, not its instances' questions.
    pub non_relevant: Vec<String>,
    /// Relevant, required questions without an answer.
    pub missing_required: Vec<IssueInfo>,
    /// Answers that break their constraint, with the form's message.
    pub violations: Vec<IssueInfo>,
    /// Calculated values by path, as text.
    pub calculated: Vec<CalculatedValue>,
    /// For select questions with a choice filter: the choice codes to offer.
    pub choices: Vec<FilteredChoices>,
    /// For repeats with a repeat count: how many instances there must be.
    pub repeat_counts: Vec<RepeatCount>,
    /// Problems in the form itself (for its author; they do not block the enumerator).
    pub form_errors: Vec<IssueInfo>,
    /// Whether the survey can be finalized now.
    pub complete: bool,
}

/// One calculated value.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CalculatedValue {
    /// The calculate question's path.
    pub path: String,
    /// Its value as text (empty when it has none).
    pub value: String,
}

/// The choices to offer for one select question.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FilteredChoices {
    /// The question's path.
    pub path: String,
    /// The codes to offer, in list order.
    pub codes: Vec<String>,
}

/// How many instances a repeat must have.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RepeatCount {
    /// The repeat's path.
    pub path: String,
    /// The count.
    pub count: u32,
}

/// A repeat instance just added, and the evaluation after it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RepeatInstance {
    /// The new instance's index (0-based): address its questions as `repeat[index]/name`.
    pub index: u32,
    /// The evaluation after the addition.
    pub evaluation: Evaluation,
}

/// Draft or finalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SurveyStatus {
    /// Being filled in.
    Draft,
    /// Complete and ready to send.
    Finalized,
}

/// A form version stored on the device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FormInfo {
    /// The form's id.
    pub form_id: String,
    /// The version.
    pub version: String,
    /// The title.
    pub title: String,
}

/// A survey as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SurveySummary {
    /// The survey's id.
    pub survey_id: String,
    /// Its form.
    pub form_id: String,
    /// Its form version.
    pub form_version: String,
    /// Draft or finalized.
    pub status: SurveyStatus,
    /// The user who created it.
    pub created_by: String,
    /// The device it was created on.
    pub created_on: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed on this device (RFC 3339).
    pub updated_at: String,
    /// The supervisor's review status (`sent_back`, `approved`…), if any.
    pub review_status: Option<String>,
    /// Whether an answer has competing values to settle.
    pub has_conflicts: bool,
    /// Whether it has changes the server has not acknowledged yet.
    pub dirty: bool,
}

/// Which surveys to list; every field left empty matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SurveyFilter {
    /// Only this form.
    #[uniffi(default = None)]
    pub form_id: Option<String>,
    /// Only this form version.
    #[uniffi(default = None)]
    pub form_version: Option<String>,
    /// Only drafts, or only finalized surveys.
    #[uniffi(default = None)]
    pub status: Option<SurveyStatus>,
    /// Only surveys created by this user.
    #[uniffi(default = None)]
    pub enumerator: Option<String>,
    /// Only surveys changed at or after this moment (RFC 3339).
    #[uniffi(default = None)]
    pub updated_since: Option<String>,
    /// Only surveys with (or without) conflicts.
    #[uniffi(default = None)]
    pub has_conflicts: Option<bool>,
    /// Only surveys in one of these review states (`received`, `has_issues`, `sent_back`,
    /// `approved`, `rejected`); `received` also matches surveys nobody has reviewed. The
    /// enumerator's "to fix" list is `["sent_back"]`.
    #[uniffi(default = None)]
    pub review: Option<Vec<String>>,
    /// At most this many.
    #[uniffi(default = None)]
    pub limit: Option<u32>,
    /// Skip this many first.
    #[uniffi(default = None)]
    pub offset: Option<u32>,
}

/// One supervisor comment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CommentInfo {
    /// Who wrote it.
    pub author: String,
    /// When (RFC 3339), if known.
    pub at: Option<String>,
    /// The comment.
    pub text: String,
    /// The question it is about, if any.
    pub question: Option<String>,
}

/// A survey's review: its status and the supervisors' comments.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewInfo {
    /// The review status (`sent_back`, `approved`…), if reviewed.
    pub status: Option<String>,
    /// Comments, oldest first.
    pub comments: Vec<CommentInfo>,
}

/// A survey in full.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SurveyDetail {
    /// The survey's id.
    pub survey_id: String,
    /// Its form.
    pub form_id: String,
    /// Its form version.
    pub form_version: String,
    /// Draft or finalized.
    pub status: SurveyStatus,
    /// Who created it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// Every answer, repeats flattened into paths, in path order.
    pub answers: Vec<AnswerEntry>,
    /// The review.
    pub review: ReviewInfo,
}

/// One edit of a field.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FieldEditInfo {
    /// The change's hash.
    pub change: String,
    /// The Automerge actor that made it.
    pub actor: String,
    /// The user behind the actor, when known.
    pub user: Option<String>,
    /// Their device, when known.
    pub device: Option<String>,
    /// When the editing device says it was made (RFC 3339).
    pub at: Option<String>,
    /// When this device received it (RFC 3339), when known.
    pub received_at: Option<String>,
    /// The value written, or `None` for a deletion.
    pub value: Option<AnswerValue>,
    /// The value written as text, when the form cannot type it.
    pub unreadable: Option<String>,
}

/// One of the competing values of a conflict.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConflictValueInfo {
    /// The value, when the form can type it.
    pub value: Option<AnswerValue>,
    /// The value as text, when it cannot.
    pub unreadable: Option<String>,
    /// The actor that wrote it.
    pub actor: String,
    /// The user behind the actor, when known.
    pub user: Option<String>,
    /// Whether it is the value currently shown.
    pub winner: bool,
}

/// An answer with competing values, to settle by writing it again.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConflictInfo {
    /// The answer's path.
    pub path: String,
    /// The values.
    pub values: Vec<ConflictValueInfo>,
}

/// The result of logging in.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LoginInfo {
    /// The session token (short-lived: the store refreshes it by itself).
    pub token: String,
    /// What to keep in the platform's secure storage and pass to `resume_session` after a
    /// restart: the device's refresh token (or, from a server that gives none, the
    /// session token).
    pub credential: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// The device key the server assigned (hex).
    pub device_key: String,
    /// The user's role on the server.
    pub role: String,
    /// An administrator reset the password: ask the user for a new one and call
    /// `change_password` before anything else (other calls fail with `Refused`, code
    /// `password_change_required`).
    pub must_change_password: bool,
}

/// The result of enrolling from a QR code.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolled {
    /// What a login gives.
    pub login: LoginInfo,
    /// The server's address, for `resume_session`.
    pub server_url: String,
    /// The server certificate's pin, if the QR code carried one, for `resume_session`.
    pub certificate_sha256: Option<String>,
}

/// An attached file, as its answer holds it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MediaInfo {
    /// The SHA-256 of its bytes, 64 hex digits: its name in `media_file` and on the server.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`image/jpeg`…), read from its bytes.
    pub media_type: String,
    /// The file's name where it was attached.
    pub file_name: String,
    /// Width in pixels, for images.
    pub width: Option<u32>,
    /// Height in pixels, for images.
    pub height: Option<u32>,
}

/// A file the server refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MediaProblem {
    /// The file's SHA-256.
    pub sha256: String,
    /// Why.
    pub reason: String,
}

/// What an upload of attached files did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MediaUploadSummary {
    /// The final progress (its `media_` fields).
    pub progress: SyncProgress,
    /// Files refused (they stay on the device and are offered again).
    pub refused: Vec<MediaProblem>,
}

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// Surveys pushed and acknowledged so far.
    pub pushed: u64,
    /// Surveys that had changes to push at the start.
    pub to_push: u64,
    /// Surveys pulled so far.
    pub pulled: u64,
    /// Entities (plots, households…) pushed and acknowledged so far.
    pub entities_pushed: u64,
    /// Entities pulled so far.
    pub entities_pulled: u64,
    /// Compressed bytes sent.
    pub bytes_sent: u64,
    /// Compressed bytes received.
    pub bytes_received: u64,
    /// Round trips so far.
    pub rounds: u32,
    /// Attached files the server now holds, of those waiting when `upload_media` started
    /// (0 during `sync`, which sends answers only).
    pub media_files_done: u64,
    /// Attached files waiting when `upload_media` started.
    pub media_files: u64,
    /// Bytes the server holds of those files: the progress bar of an upload.
    pub media_bytes_done: u64,
    /// Bytes of those files.
    pub media_bytes: u64,
}

/// A survey the server refused or the device could not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SurveyProblem {
    /// The survey.
    pub survey_id: String,
    /// Why.
    pub reason: String,
}

/// What a finished sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// The final progress.
    pub progress: SyncProgress,
    /// Surveys the server refused (they stay on the device).
    pub refused: Vec<SurveyProblem>,
    /// Surveys pulled but not applied (retried next sync).
    pub failed: Vec<SurveyProblem>,
    /// Surveys offered to the server again because it was restored from a backup: tell the
    /// user why this sync sent more than usual.
    pub reoffered: u64,
}

/// What a bundle import did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportSummary {
    /// Surveys new to this device.
    pub created: u32,
    /// Surveys that gained changes.
    pub updated: u32,
    /// Surveys that had everything already.
    pub unchanged: u32,
    /// Surveys that could not be imported, and why.
    pub failed: Vec<SurveyProblem>,
}
