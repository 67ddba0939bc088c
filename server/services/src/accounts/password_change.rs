//! Changing a password: one's own (with the current one, which is throttled like a login),
//! or an administrator's reset to a temporary one that the user must replace. Either ends
//! the user's other sessions, so a password that leaked stops working everywhere at once;
//! feed tokens are separate credentials, revoked one by one.

use std::time::Instant;

use serde_json::json;
use terrain_backend::UserId;

use super::Authenticated;
use crate::Services;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::password;
use crate::scope::Scope;

impl Services {
    /// Changes the caller's own password, given their current one. Ends their other
    /// sessions; returns how many. A wrong current password counts as a failed login.
    pub fn change_password(&self, auth: &Authenticated, current: &str, new: &str) -> Result<u64> {
        let user = auth.scope.user().cloned().ok_or_else(|| Error::forbidden("only a person has a password"))?;
        let now = Instant::now();
        if let Some(wait) = self.guards.failed_logins.wait(&user.username, now) {
            return Err(Error::TooMany {
                retry_after: wait,
                message: format!("too many wrong passwords: try again in {} s", wait.as_secs().max(1)),
            });
        }
        if current.len() > password::MAX_PASSWORD_BYTES {
            return Err(Error::invalid("the current password is wrong"));
        }
        password::check_strength(new).map_err(Error::Invalid)?;
        if new == current {
            return Err(Error::invalid("choose a password other than the current one"));
        }
        let (_, stored) =
            self.backend.user_by_name(&user.username)?.ok_or_else(|| Error::Unauthenticated("log in again".into()))?;
        let hash = {
            let mut slot = self.hashing_slot("checking passwords")?;
            if !password::verify(&stored, current, &mut slot) {
                drop(slot);
                self.guards.failed_logins.failed(&user.username, now);
                return Err(Error::invalid("the current password is wrong"));
            }
            password::hash(new, &mut slot).map_err(Error::internal)?
        };
        self.guards.failed_logins.succeeded(&user.username);
        let ended = self.backend.set_password(user.id, &hash, false, Some(&auth.token_hash))?;
        self.audit(&auth.scope, Action::PasswordChange, None, json!({ "ended_sessions": ended }))?;
        Ok(ended)
    }

    /// Sets a temporary password for `user` (administrators): their sessions end at once,
    /// and their next login opens nothing but the password change until they choose their
    /// own. Returns how many sessions ended.
    pub fn reset_password(&self, scope: &Scope, user: UserId, temporary: &str) -> Result<u64> {
        scope.may_administer()?;
        if scope.user_id() == Some(user) {
            return Err(Error::invalid("change your own password with your current one, not a reset"));
        }
        password::check_strength(temporary).map_err(Error::Invalid)?;
        let hash = {
            let mut slot = self.hashing_slot("hashing passwords")?;
            password::hash(temporary, &mut slot).map_err(Error::internal)?
        };
        let ended = self.backend.set_password(user, &hash, true, None)?;
        self.audit(scope, Action::PasswordReset, None, json!({ "user": user, "ended_sessions": ended }))?;
        Ok(ended)
    }
}
