//! Enrolling a device from a QR code, as ODK's app users do, but per device and once: an
//! administrator, or an enumerator's supervisor, makes a one-time code for a user; the
//! dashboard shows it as a QR code with the server's address and certificate pin; the app
//! redeems it for a device credential of its own, with no password typed in the field.
//! Codes are random, stored hashed, expire ([`crate::Settings::enrolment_ttl`]), work
//! once and can be revoked; making, redeeming and revoking one are audited.

use std::net::IpAddr;
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use terrain_backend::{Enrolment, UserId};
use utoipa::ToSchema;

use super::{Issued, LoginKind, token};
use crate::Services;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::scope::Scope;

/// The longest label of an enrolment.
const MAX_LABEL: usize = 100;

/// A new enrolment and its code, shown once.
#[derive(Clone, Serialize, ToSchema)]
pub struct IssuedEnrolment {
    /// The enrolment.
    pub enrolment: Enrolment,
    /// The user it enrols a device for.
    pub username: String,
    /// The one-time code (what the QR code carries, with the server's address and pin).
    pub code: String,
}

/// Never the code: a debug log must not enrol a phone.
impl std::fmt::Debug for IssuedEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedEnrolment").field("enrolment", &self.enrolment).field("username", &self.username).finish()
    }
}

impl Services {
    /// Makes a one-time code that enrols a device for `user`, labelled `label`.
    pub fn create_enrolment(&self, scope: &Scope, user: UserId, label: &str) -> Result<IssuedEnrolment> {
        let owner = self.devices_owner(scope, user)?;
        scope.may_enrol_devices_for(&owner)?;
        if owner.disabled {
            return Err(Error::invalid(format!("{} is disabled: enable the account first", owner.username)));
        }
        let label = label.trim();
        if label.chars().count() > MAX_LABEL {
            return Err(Error::invalid(format!("a label has at most {MAX_LABEL} characters")));
        }
        let (code, hash) = token::generate().map_err(Error::internal)?;
        let enrolment = self.backend.insert_enrolment(&hash, user, label, Utc::now() + self.settings.enrolment_ttl)?;
        self.audit(
            scope,
            Action::EnrolmentCreate,
            None,
            json!({ "user": owner.username, "enrolment": enrolment.id, "label": label }),
        )?;
        Ok(IssuedEnrolment { enrolment, username: owner.username, code })
    }

    /// `user`'s enrolments, newest first.
    pub fn enrolments(&self, scope: &Scope, user: UserId) -> Result<Vec<Enrolment>> {
        let owner = self.devices_owner(scope, user)?;
        scope.may_manage_devices_of(&owner)?;
        Ok(self.backend.enrolments(user)?)
    }

    /// Revokes one of `user`'s enrolments that no device redeemed yet.
    pub fn revoke_enrolment(&self, scope: &Scope, user: UserId, id: i64) -> Result<()> {
        let owner = self.devices_owner(scope, user)?;
        scope.may_manage_devices_of(&owner)?;
        if !self.backend.revoke_enrolment(user, id)? {
            return Err(Error::NotFound(format!(
                "{} has no enrolment {id} waiting: it was used, revoked, or never made",
                owner.username
            )));
        }
        self.audit(scope, Action::EnrolmentRevoke, None, json!({ "user": owner.username, "enrolment": id }))
    }

    /// Redeems an enrolment's `code` for `device_id`, a device new to the user: a device
    /// token of the user's, as a login gives. Throttled per address as logins are; a code
    /// works once, and is spent only when the device has its token (a refusal on the way,
    /// a revoked device say, leaves it for the right one).
    pub fn redeem_enrolment(&self, code: &str, device_id: &str, source: Option<IpAddr>) -> Result<Issued> {
        let device_id = device_id.trim();
        if device_id.is_empty() || device_id.len() > 200 || super::devices::is_reserved(device_id) {
            return Err(Error::invalid("device_id must be 1 to 200 characters, and the app's own"));
        }
        if let Some(address) = source {
            self.guards.login_addresses.take(&address, Instant::now()).map_err(|wait| Error::TooMany {
                retry_after: wait,
                message: "too many attempts from this address: wait a moment and try again".into(),
            })?;
        }
        let refused = || {
            Error::Unauthenticated(
                "this enrolment code is unknown, used, revoked or expired: ask your supervisor for a new QR code"
                    .into(),
            )
        };
        let hash = token::hash(code.trim());
        let waiting = if code.len() > 100 { None } else { self.backend.enrolment(&hash)? };
        let Some(enrolment) =
            waiting.filter(|e| e.redeemed_at.is_none() && e.revoked_at.is_none() && e.expires_at > Utc::now())
        else {
            self.audit_anonymous(Action::LoginFailed, json!({ "reason": "enrolment code", "address": source }))?;
            return Err(refused());
        };
        let user = self.backend.user(enrolment.user)?.ok_or_else(refused)?;
        if user.disabled {
            return Err(Error::Unauthenticated("this account is disabled: ask an administrator".into()));
        }
        if self.backend.devices(user.id)?.iter().any(|d| d.device_id == device_id && d.revoked_at.is_none()) {
            return Err(Error::Conflict(format!(
                "this device is already enrolled for {}: use it as it is, or revoke it first",
                user.username
            )));
        }
        let issued = self.open_device(user, device_id, LoginKind::Device, source)?;
        // Spent now, in the statement that checks it is still waiting: of two phones
        // scanning one code at once, one keeps its token.
        if self.backend.redeem_enrolment(&hash)?.is_none() {
            self.backend.revoke_token(&token::hash(&issued.token))?;
            self.backend.revoke_refresh_tokens(&issued.device_key)?;
            return Err(refused());
        }
        let scope = Scope::load(self.backend.as_ref(), issued.user.clone(), Some(issued.device_key))?;
        self.audit(
            &scope,
            Action::EnrolmentRedeem,
            None,
            json!({ "enrolment": enrolment.id, "device": device_id, "address": source }),
        )?;
        Ok(issued)
    }
}
