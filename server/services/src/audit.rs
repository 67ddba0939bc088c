//! The audit log: one vocabulary of actions ([`Action`]), written by the services for every
//! write, whichever face asked for it, so the same act from the dashboard and from the API
//! leaves the same entry.

use serde_json::{Value as Json, json};
use terrain_backend::{AuditEntry, AuditRow};

use crate::error::Result;
use crate::scope::Scope;
use crate::{Error, Services};

/// Everything the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A successful login.
    Login,
    /// A refused login (wrong name or password, disabled account, throttled).
    LoginFailed,
    /// A token exchanged for a fresh one.
    TokenRefresh,
    /// A logout (the token revoked).
    Logout,
    /// The first administrator created from the setup link or the environment.
    Setup,
    /// A user created.
    UserCreate,
    /// A user disabled (their tokens revoked).
    UserDisable,
    /// A user enabled again.
    UserEnable,
    /// A project created.
    ProjectCreate,
    /// A user added to a project directly.
    ProjectAddMember,
    /// A project's settings changed.
    ProjectSettings,
    /// A team created.
    TeamCreate,
    /// A user added to a team.
    TeamAddMember,
    /// A form version published.
    FormPublish,
    /// Review: approved.
    ReviewApprove,
    /// Review: rejected.
    ReviewReject,
    /// Review: flagged as having issues.
    ReviewHasIssues,
    /// Review: sent back to the enumerator.
    ReviewSendBack,
    /// Review: a comment.
    ReviewComment,
    /// An answer corrected by a reviewer.
    SurveyCorrect,
    /// A conflict settled by a reviewer.
    SurveyResolveConflict,
    /// A survey assigned to someone.
    SurveyAssign,
    /// A survey entered in the browser, new or continued.
    SurveyEnter,
    /// A survey entered in the browser, finalized.
    SurveyFinalize,
    /// An approved survey changed by a later push, and so moved out of the approved ones.
    SurveyChangedAfterApproval,
    /// A stored survey that could not be read, skipped and shown to admins.
    SurveyUnreadable,
    /// A sync push accepted (how many surveys and changes it carried).
    SyncPush,
    /// Entities pushed by a device stored or refused (how many of each).
    SyncPushEntities,
    /// An entity list seeded or updated from CSV (how many created, updated, refused).
    EntityImport,
    /// Entities filed under a team, or under none.
    EntityFile,
    /// An entity assigned to one enumerator, or to nobody.
    EntityAssign,
    /// An entity's property set by a reviewer, settling its conflict.
    EntitySettle,
    /// An entity deleted.
    EntityDelete,
    /// A deleted entity restored.
    EntityRestore,
    /// An attached file received whole and checked (its digest and size).
    MediaUpload,
    /// Files no survey references removed by an administrator (how many, their bytes).
    MediaCollect,
    /// An export downloaded.
    Export,
    /// A feed token created for a spreadsheet or a script.
    FeedTokenCreate,
    /// A feed token revoked.
    FeedTokenRevoke,
    /// A page of an OData feed read.
    FeedRead,
    /// A webhook target registered.
    WebhookCreate,
    /// A webhook target removed.
    WebhookDelete,
    /// A saved export created.
    SavedExportCreate,
    /// A saved export removed.
    SavedExportDelete,
    /// A saved export downloaded with its token.
    SavedExportDownload,
    /// Every survey's projection row (what exports read) rewritten from its document.
    ProjectionRebuild,
    /// A user changed their own password (their other sessions ended).
    PasswordChange,
    /// An administrator set a temporary password for a user (their sessions ended).
    PasswordReset,
    /// A device of a user's revoked (its tokens ended).
    DeviceRevoke,
    /// A one-time enrolment code (a QR code) made for a user's new device.
    EnrolmentCreate,
    /// An enrolment code redeemed by a device, which got its own token.
    EnrolmentRedeem,
    /// An enrolment code revoked before any device used it.
    EnrolmentRevoke,
    /// A backup of all the server's data written to a file.
    Backup,
    /// The server's data restored from a backup (written into the restored log), starting
    /// a new epoch.
    Restore,
    /// The server's databases encrypted, or their key rotated (`terrain admin rekey`).
    Rekey,
}

impl Action {
    /// Every action, for documentation and tests.
    pub const ALL: [Action; 55] = [
        Action::Login,
        Action::LoginFailed,
        Action::TokenRefresh,
        Action::Logout,
        Action::Setup,
        Action::UserCreate,
        Action::UserDisable,
        Action::UserEnable,
        Action::ProjectCreate,
        Action::ProjectAddMember,
        Action::ProjectSettings,
        Action::TeamCreate,
        Action::TeamAddMember,
        Action::FormPublish,
        Action::ReviewApprove,
        Action::ReviewReject,
        Action::ReviewHasIssues,
        Action::ReviewSendBack,
        Action::ReviewComment,
        Action::SurveyCorrect,
        Action::SurveyResolveConflict,
        Action::SurveyAssign,
        Action::SurveyEnter,
        Action::SurveyFinalize,
        Action::SurveyChangedAfterApproval,
        Action::SurveyUnreadable,
        Action::SyncPush,
        Action::SyncPushEntities,
        Action::EntityImport,
        Action::EntityFile,
        Action::EntityAssign,
        Action::EntitySettle,
        Action::EntityDelete,
        Action::EntityRestore,
        Action::MediaUpload,
        Action::MediaCollect,
        Action::Export,
        Action::FeedTokenCreate,
        Action::FeedTokenRevoke,
        Action::FeedRead,
        Action::WebhookCreate,
        Action::WebhookDelete,
        Action::SavedExportCreate,
        Action::SavedExportDelete,
        Action::SavedExportDownload,
        Action::ProjectionRebuild,
        Action::PasswordChange,
        Action::PasswordReset,
        Action::DeviceRevoke,
        Action::EnrolmentCreate,
        Action::EnrolmentRedeem,
        Action::EnrolmentRevoke,
        Action::Backup,
        Action::Restore,
        Action::Rekey,
    ];

    /// The name in the log (`review.send_back`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Login => "auth.login",
            Action::LoginFailed => "auth.login_failed",
            Action::TokenRefresh => "auth.refresh",
            Action::Logout => "auth.logout",
            Action::Setup => "auth.setup",
            Action::UserCreate => "user.create",
            Action::UserDisable => "user.disable",
            Action::UserEnable => "user.enable",
            Action::ProjectCreate => "project.create",
            Action::ProjectAddMember => "project.add_member",
            Action::ProjectSettings => "project.settings",
            Action::TeamCreate => "team.create",
            Action::TeamAddMember => "team.add_member",
            Action::FormPublish => "form.publish",
            Action::ReviewApprove => "review.approve",
            Action::ReviewReject => "review.reject",
            Action::ReviewHasIssues => "review.has_issues",
            Action::ReviewSendBack => "review.send_back",
            Action::ReviewComment => "review.comment",
            Action::SurveyCorrect => "survey.correct",
            Action::SurveyResolveConflict => "survey.resolve_conflict",
            Action::SurveyAssign => "survey.assign",
            Action::SurveyEnter => "survey.enter",
            Action::SurveyFinalize => "survey.finalize",
            Action::SurveyChangedAfterApproval => "survey.changed_after_approval",
            Action::SurveyUnreadable => "survey.unreadable",
            Action::SyncPush => "sync.push",
            Action::SyncPushEntities => "sync.push_entities",
            Action::EntityImport => "entity.import",
            Action::EntityFile => "entity.file",
            Action::EntityAssign => "entity.assign",
            Action::EntitySettle => "entity.settle",
            Action::EntityDelete => "entity.delete",
            Action::EntityRestore => "entity.restore",
            Action::MediaUpload => "media.upload",
            Action::MediaCollect => "media.collect",
            Action::Export => "export",
            Action::FeedTokenCreate => "feed.token_create",
            Action::FeedTokenRevoke => "feed.token_revoke",
            Action::FeedRead => "feed.read",
            Action::WebhookCreate => "webhook.create",
            Action::WebhookDelete => "webhook.delete",
            Action::SavedExportCreate => "saved_export.create",
            Action::SavedExportDelete => "saved_export.delete",
            Action::SavedExportDownload => "saved_export.download",
            Action::ProjectionRebuild => "admin.rebuild_projections",
            Action::PasswordChange => "user.password_change",
            Action::PasswordReset => "user.password_reset",
            Action::DeviceRevoke => "device.revoke",
            Action::EnrolmentCreate => "enrolment.create",
            Action::EnrolmentRedeem => "enrolment.redeem",
            Action::EnrolmentRevoke => "enrolment.revoke",
            Action::Backup => "admin.backup",
            Action::Restore => "admin.restore",
            Action::Rekey => "admin.rekey",
        }
    }
}

/// One entry to write.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    /// Who acted, when it was someone with an account.
    pub(crate) user: Option<i64>,
    /// What they did.
    pub(crate) action: Action,
    /// On which survey.
    pub(crate) survey: Option<&'a str>,
    /// Details, as JSON.
    pub(crate) detail: Json,
}

impl<'a> Entry<'a> {
    /// An entry for what `scope` did; the operator's acts say so in their detail.
    pub(crate) fn by(scope: &Scope, action: Action, survey: Option<&'a str>, mut detail: Json) -> Entry<'a> {
        if scope.user().is_none()
            && let Json::Object(map) = &mut detail
        {
            map.insert("by".into(), json!("operator"));
        }
        Entry { user: scope.user_id(), action, survey, detail }
    }
}

impl Services {
    /// Writes one entry of the audit log.
    pub(crate) fn audit(&self, scope: &Scope, action: Action, survey: Option<&str>, detail: Json) -> Result<()> {
        self.audit_all(&[Entry::by(scope, action, survey, detail)])
    }

    /// Writes an entry with no one behind it (a failed login).
    pub(crate) fn audit_anonymous(&self, action: Action, detail: Json) -> Result<()> {
        self.audit_all(&[Entry { user: None, action, survey: None, detail }])
    }

    /// Writes several entries in one transaction (a bulk review).
    pub(crate) fn audit_all(&self, entries: &[Entry<'_>]) -> Result<()> {
        let rows: Vec<AuditRow<'_>> = entries
            .iter()
            .map(|e| AuditRow {
                user: e.user,
                action: e.action.name(),
                survey_id: e.survey,
                detail: e.detail.to_string(),
            })
            .collect();
        Ok(self.backend.audit_many(&rows)?)
    }

    /// The audit log, newest first (administrators).
    pub fn audit_log(&self, scope: &Scope, limit: u32) -> Result<Vec<AuditEntry>> {
        scope.may_administer()?;
        Ok(self.backend.audit_log(limit.min(100_000))?)
    }

    /// The audit log as CSV: one row per entry, times in RFC 3339 (UTC).
    pub fn audit_csv(&self, scope: &Scope, limit: u32) -> Result<Vec<u8>> {
        let entries = self.audit_log(scope, limit)?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let write = |out: &mut csv::Writer<Vec<u8>>, row: [&str; 5]| out.write_record(row).map_err(Error::internal);
        write(&mut out, ["at", "user", "action", "survey_id", "detail"])?;
        for e in &entries {
            write(
                &mut out,
                [
                    e.at.to_rfc3339().as_str(),
                    e.user.as_deref().unwrap_or(""),
                    e.action.as_str(),
                    e.survey_id.as_deref().unwrap_or(""),
                    e.detail.as_deref().unwrap_or(""),
                ],
            )?;
        }
        out.into_inner().map_err(|e| Error::internal(e.into_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_unique_and_dotted() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        assert!(names.iter().all(|n| *n == "export" || n.contains('.')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
