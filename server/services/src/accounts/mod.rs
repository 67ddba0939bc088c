//! People and their access: logging in (throttled per account and per address, with a
//! growing wait after failures and password hashing under a concurrency limit), tokens
//! (random, stored hashed, expiring, revocable, refreshable), the first administrator, and
//! the administration of users, projects and teams.

mod devices;
mod enrolment;
mod password_change;
pub mod token;

pub use devices::Devices;
pub use enrolment::IssuedEnrolment;
pub use terrain_backend::{Device, Enrolment};

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use terrain_backend::{DeviceKey, NewUser, Project, Team, TokenPurpose, TokenRecord, User, UserId};
use terrain_core::Role;
use utoipa::ToSchema;

use crate::Services;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::password;
use crate::scope::Scope;

/// The device id of dashboard sessions.
pub const DASHBOARD_DEVICE: &str = "web-dashboard";

/// What a login or a refresh gives.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Who logged in.
    pub user: User,
    /// Their device's key: the prefix of the device's Automerge actor ids.
    pub device_key: DeviceKey,
    /// The bearer token, given out once and stored only as its hash.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// A device's refresh token (from a login or an enrolment, not from a refresh), and
    /// when it stops working: what the device keeps to get new session tokens.
    pub refresh: Option<(String, DateTime<Utc>)>,
}

pub use terrain_core::sync::REFRESH_PREFIX;

/// A refresh token sent anywhere but to be exchanged: a client's mistake, refused as if
/// it were no token (it is not a session's).
fn refresh_token_elsewhere() -> Error {
    Error::Unauthenticated(
        "this is a device's refresh token: exchange it for a session token at POST /api/v1/auth/refresh, \
         and send that"
            .into(),
    )
}

/// Which kind of session a login opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// A phone, tablet or script: a long-lived token (devices stay offline for weeks).
    Device,
    /// The web dashboard: a short session on a possibly shared office laptop.
    Dashboard,
}

/// A token that was checked: who it stands for, and its hash (to revoke or refresh it).
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// What the token's user may see and do.
    pub scope: Scope,
    /// The token's hash.
    pub token_hash: [u8; 32],
}

/// A user to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateUser {
    /// Login name (letters, digits, `.`, `_`, `-`).
    pub username: String,
    /// Password (at least 10 characters).
    pub password: String,
    /// enumerator, supervisor, analyst or admin.
    pub role: String,
    /// Name to show.
    pub display_name: Option<String>,
}

/// A project's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectSettings {
    /// Approved surveys are frozen: a change pushed after approval is refused and the
    /// device told, instead of moving the survey to `changed_after_approval`.
    pub freeze_approved: bool,
}

fn checked_name(what: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(format!("a {what} name is 1 to 100 characters")));
    }
    Ok(name.to_owned())
}

/// What a revoked device is told: it may not sync or log in again, and whatever it holds
/// is still on it.
fn revoked_message(username: &str) -> String {
    format!(
        "this device was removed from {username}'s account (lost, stolen or replaced): it can no longer sync. \
         Surveys not yet sent stay on it; ask your supervisor how to hand them over"
    )
}

impl Services {
    /// Checks a password and issues a token for `device_id`. Wrong names and wrong
    /// passwords get the same answer in the same time; repeated failures on one account
    /// wait longer each time, and one address may only try so often.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        device_id: &str,
        source: Option<IpAddr>,
        kind: LoginKind,
    ) -> Result<Issued> {
        let device_id = device_id.trim();
        if device_id.is_empty() || device_id.len() > 200 {
            return Err(Error::invalid("device_id must be 1 to 200 characters"));
        }
        if kind == LoginKind::Device && devices::is_reserved(device_id) {
            return Err(Error::invalid(format!(
                "`{device_id}` is the server's own device id: the app must use its own"
            )));
        }
        let refused = || Error::Unauthenticated("wrong user name or password".into());
        if username.len() > 64 || password.len() > password::MAX_PASSWORD_BYTES {
            return Err(refused());
        }
        let now = Instant::now();
        if let Some(address) = source {
            self.guards.login_addresses.take(&address, now).map_err(|wait| Error::TooMany {
                retry_after: wait,
                message: "too many login attempts from this address: wait a moment and try again".into(),
            })?;
        }
        if let Some(wait) = self.guards.failed_logins.wait(username, now) {
            return Err(Error::TooMany {
                retry_after: wait,
                message: format!(
                    "too many failed logins for `{username}`: try again in {} s, or ask an administrator",
                    wait.as_secs().max(1)
                ),
            });
        }
        let record = self.backend.user_by_name(username)?;
        let verified = {
            let mut slot = self.hashing_slot("checking other logins")?;
            // An unknown name is checked against a decoy hash: the same work, the same time.
            let hash = match &record {
                Some((_, h)) => h.as_str(),
                None => password::decoy(&mut slot),
            };
            password::verify(hash, password, &mut slot)
        };
        let Some((user, _)) = record.filter(|_| verified) else {
            self.guards.failed_logins.failed(username, now);
            self.audit_anonymous(Action::LoginFailed, json!({ "username": username, "address": source }))?;
            return Err(refused());
        };
        if user.disabled {
            self.audit_anonymous(
                Action::LoginFailed,
                json!({ "username": username, "address": source, "reason": "disabled" }),
            )?;
            return Err(Error::Unauthenticated("this account is disabled: ask an administrator".into()));
        }
        self.guards.failed_logins.succeeded(username);
        let issued = self.open_device(user, device_id, kind, source)?;
        let scope = Scope::load(self.backend.as_ref(), issued.user.clone(), Some(issued.device_key))?;
        self.audit(&scope, Action::Login, None, json!({ "device": device_id, "address": source }))?;
        Ok(issued)
    }

    /// Registers `device_id` for `user` (once) and issues it a session token, and a device
    /// its refresh token, unless the device was revoked: what a login and a redeemed
    /// enrolment share.
    fn open_device(&self, user: User, device_id: &str, kind: LoginKind, source: Option<IpAddr>) -> Result<Issued> {
        let device_key = self.backend.register_device(user.id, device_id)?;
        if self.backend.device(&device_key)?.is_some_and(|d| d.revoked_at.is_some()) {
            self.audit_anonymous(
                Action::LoginFailed,
                json!({ "username": user.username, "address": source, "reason": "device revoked", "device": device_id }),
            )?;
            return Err(Error::DeviceRevoked(revoked_message(&user.username)));
        }
        match kind {
            LoginKind::Dashboard => self.issue(user, device_key, self.settings.session_ttl),
            LoginKind::Device => {
                let (random, _) = token::generate().map_err(Error::internal)?;
                let refresh = format!("{REFRESH_PREFIX}{random}");
                let refresh_expires_at = Utc::now() + self.settings.token_ttl;
                self.backend.insert_refresh_token(&token::hash(&refresh), user.id, &device_key, refresh_expires_at)?;
                let issued = self.issue(user, device_key, self.settings.access_ttl)?;
                Ok(Issued { refresh: Some((refresh, refresh_expires_at)), ..issued })
            }
        }
    }

    /// One of the slots that bound how many argon2 hashes run at once (each takes its
    /// memory), or `Busy` saying what the server is `busy` doing.
    fn hashing_slot(&self, busy: &str) -> Result<crate::guards::Slot<'_, password::Memory>> {
        self.guards.hashing.acquire(self.settings.logins.hash_wait).ok_or_else(|| Error::Busy {
            retry_after: Duration::from_secs(5),
            message: format!("the server is busy {busy}: try again in a few seconds"),
        })
    }

    fn issue(&self, user: User, device_key: DeviceKey, ttl: chrono::Duration) -> Result<Issued> {
        let (token, token_hash) = token::generate().map_err(Error::internal)?;
        let expires_at = Utc::now() + ttl;
        self.backend.insert_token(&token_hash, user.id, Some(&device_key), expires_at)?;
        Ok(Issued { user, device_key, token, expires_at, refresh: None })
    }

    /// The principal a session token stands for, if it is known, unexpired, unrevoked and
    /// its user enabled, and it has not made too many requests of late. Feed tokens are
    /// refused here: they open feeds only ([`Services::authenticate_feed`]). So is the
    /// session of a user whose password an administrator reset, until they choose their own
    /// ([`Services::authenticate_to_change_password`]).
    pub fn authenticate(&self, token: &str) -> Result<Authenticated> {
        let auth = self.authenticate_to_change_password(token)?;
        if auth.scope.user().is_some_and(|u| u.must_change_password) {
            return Err(Error::PasswordChangeRequired(
                "an administrator reset your password: choose your own before anything else".into(),
            ));
        }
        Ok(auth)
    }

    /// Like [`Services::authenticate`], but also for a user who must choose a new password:
    /// what the password change and logging out take.
    pub fn authenticate_to_change_password(&self, token: &str) -> Result<Authenticated> {
        let (record, token_hash) = self.checked_token(token)?;
        match record.purpose {
            TokenPurpose::Session => {}
            TokenPurpose::Refresh => return Err(refresh_token_elsewhere()),
            TokenPurpose::Feed => {
                return Err(Error::forbidden(
                    "this is a feed token: it only reads (OData feeds, exports); log in to do anything else",
                ));
            }
        }
        let scope = Scope::load(self.backend.as_ref(), record.user, record.device_key)?;
        Ok(Authenticated { scope, token_hash })
    }

    /// The principal a token stands for on a feed: a feed token or a session token. Given
    /// with a user name (HTTP Basic, as Excel and Power BI send it), the token must be
    /// that user's.
    pub fn authenticate_feed(&self, token: &str, username: Option<&str>) -> Result<Authenticated> {
        let (record, token_hash) = self.checked_token(token)?;
        if record.purpose == TokenPurpose::Refresh {
            return Err(refresh_token_elsewhere());
        }
        if username.is_some_and(|name| name != record.user.username) {
            return Err(Error::Unauthenticated(
                "this token is not that user's: sign in with your user name and your feed token".into(),
            ));
        }
        let scope = Scope::load(self.backend.as_ref(), record.user, record.device_key)?;
        Ok(Authenticated { scope, token_hash })
    }

    /// A token's record, if it works (known, unexpired, unrevoked, its user enabled, not
    /// throttled), with its hash.
    fn checked_token(&self, token: &str) -> Result<(TokenRecord, [u8; 32])> {
        let token_hash = token::hash(token);
        // Counted before the token is even looked up: a client told to slow down costs a
        // hash and a map lookup, not a database query and a scope.
        self.guards.requests.take(&token_hash, Instant::now()).map_err(|wait| Error::TooMany {
            retry_after: wait,
            message: "too many requests with this token: slow down".into(),
        })?;
        let record = self
            .backend
            .token(&token_hash)?
            .ok_or_else(|| Error::Unauthenticated("unknown token: log in again".into()))?;
        if record.device_revoked {
            return Err(Error::DeviceRevoked(revoked_message(&record.user.username)));
        }
        if record.revoked {
            return Err(Error::Unauthenticated("this token was revoked: log in again".into()));
        }
        if record.expires_at <= Utc::now() {
            return Err(match record.purpose {
                TokenPurpose::Session if record.device_key.is_some() => Error::TokenExpired(
                    "this session token has expired: refresh it with the device's refresh token, or log in again"
                        .into(),
                ),
                _ => Error::Unauthenticated("this token has expired: log in again".into()),
            });
        }
        if record.user.disabled {
            return Err(Error::Unauthenticated("this account is disabled: ask an administrator".into()));
        }
        Ok((record, token_hash))
    }

    /// A new session token of [`Settings::access_ttl`](crate::Settings) for the device of
    /// `refresh_token` (from its login or enrolment), which stays as it is. Nothing else is
    /// refreshed: a session token that could be exchanged for another would last for ever
    /// in the hands of whoever copied it.
    pub fn refresh(&self, refresh_token: &str) -> Result<Issued> {
        let (record, _) = self.checked_token(refresh_token)?;
        if record.purpose != TokenPurpose::Refresh {
            return Err(Error::forbidden(
                "only a device's refresh token (the refresh_token of its login) gets a new session token: \
                 send that, or log in again",
            ));
        }
        let device = record.device_key.ok_or_else(|| Error::internal("a refresh token without a device"))?;
        let issued = self.issue(record.user.clone(), device, self.settings.access_ttl)?;
        let scope = Scope::load(self.backend.as_ref(), record.user, Some(device))?;
        self.audit(&scope, Action::TokenRefresh, None, json!({}))?;
        Ok(issued)
    }

    /// Revokes the token of a session, and its device's refresh token: the device logs in
    /// again.
    pub fn logout(&self, auth: &Authenticated) -> Result<()> {
        self.backend.revoke_token(&auth.token_hash)?;
        if let Some(device) = auth.scope.device() {
            self.backend.revoke_refresh_tokens(&device)?;
        }
        self.audit(&auth.scope, Action::Logout, None, json!({}))
    }

    /// Whether the server has no account yet (a fresh data directory).
    pub fn needs_setup(&self) -> Result<bool> {
        Ok(self.backend.users()?.is_empty())
    }

    /// A one-time secret for creating the first administrator in the browser, while the
    /// server has no account; the same secret until it is used.
    pub fn setup_secret(&self) -> Result<Option<String>> {
        if !self.needs_setup()? {
            return Ok(None);
        }
        let mut secret = crate::guards::lock_setup(&self.guards.setup);
        if secret.is_none() {
            *secret = Some(token::generate().map_err(Error::internal)?.0);
        }
        Ok(secret.clone())
    }

    /// Creates the first administrator, with the secret [`Services::setup_secret`] gave
    /// (or `None` from the operator's own machine, as `terrain serve` does with
    /// `TERRAIN_ADMIN_PASSWORD`). Refused once any account exists.
    pub fn setup(&self, secret: Option<&str>, username: &str, password: &str) -> Result<User> {
        if let Some(given) = secret {
            let expected = crate::guards::lock_setup(&self.guards.setup).clone();
            let matches =
                expected.is_some_and(|e| subtle::ConstantTimeEq::ct_eq(e.as_bytes(), given.as_bytes()).into());
            if !matches {
                return Err(Error::forbidden("this setup link is not valid: use the one the server printed"));
            }
        }
        if !self.needs_setup()? {
            return Err(Error::Conflict("the server already has an administrator: log in".into()));
        }
        let request = CreateUser {
            username: username.trim().to_owned(),
            password: password.to_owned(),
            role: Role::Admin.to_string(),
            display_name: None,
        };
        let user = self.new_user(&request)?;
        *crate::guards::lock_setup(&self.guards.setup) = None;
        let scope = Scope::load(self.backend.as_ref(), user.clone(), None)?;
        self.audit(&scope, Action::Setup, None, json!({ "username": user.username }))?;
        Ok(user)
    }

    fn new_user(&self, req: &CreateUser) -> Result<User> {
        let valid_name = !req.username.is_empty()
            && req.username.len() <= 64
            && req.username.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid_name {
            return Err(Error::invalid("a user name is 1 to 64 letters, digits, `.`, `_` or `-`"));
        }
        let role: Role =
            req.role.parse().map_err(|e: terrain_core::identity::UnknownRole| Error::invalid(e.to_string()))?;
        password::check_strength(&req.password).map_err(Error::Invalid)?;
        let display_name = req.display_name.as_deref().map(str::trim).filter(|d| !d.is_empty());
        if display_name.is_some_and(|d| d.chars().count() > 200) {
            return Err(Error::invalid("a display name holds at most 200 characters"));
        }
        let password_hash = {
            let mut slot = self.hashing_slot("hashing passwords")?;
            password::hash(&req.password, &mut slot).map_err(Error::internal)?
        };
        Ok(self.backend.create_user(&NewUser {
            username: req.username.clone(),
            password_hash,
            role,
            display_name: display_name.map(str::to_owned),
        })?)
    }

    /// Creates a user (administrators, and the operator).
    pub fn create_user(&self, scope: &Scope, req: &CreateUser) -> Result<User> {
        scope.may_administer()?;
        let user = self.new_user(req)?;
        self.audit(scope, Action::UserCreate, None, json!({ "username": user.username, "role": user.role }))?;
        Ok(user)
    }

    /// Every user (administrators).
    pub fn users(&self, scope: &Scope) -> Result<Vec<User>> {
        scope.may_administer()?;
        Ok(self.backend.users()?)
    }

    /// Enables or disables a user; disabling revokes their tokens at once.
    pub fn set_disabled(&self, scope: &Scope, user: UserId, disabled: bool) -> Result<()> {
        scope.may_administer()?;
        if disabled && scope.user_id() == Some(user) {
            return Err(Error::invalid("you cannot disable your own account"));
        }
        self.backend.set_disabled(user, disabled)?;
        let action = if disabled { Action::UserDisable } else { Action::UserEnable };
        self.audit(scope, action, None, json!({ "user": user }))
    }

    /// Creates a project (administrators).
    pub fn create_project(&self, scope: &Scope, name: &str) -> Result<Project> {
        scope.may_administer()?;
        let project = self.backend.create_project(&checked_name("project", name)?)?;
        self.audit(scope, Action::ProjectCreate, None, json!({ "project": project.id, "name": project.name }))?;
        Ok(project)
    }

    /// The projects the principal belongs to (all, for administrators).
    pub fn projects(&self, scope: &Scope) -> Result<Vec<Project>> {
        Ok(self.backend.projects()?.into_iter().filter(|p| scope.in_project(p.id)).collect())
    }

    /// Changes a project's settings (administrators).
    pub fn set_project_settings(&self, scope: &Scope, project: i64, settings: ProjectSettings) -> Result<()> {
        scope.may_administer()?;
        self.backend.set_freeze_approved(project, settings.freeze_approved)?;
        self.audit(
            scope,
            Action::ProjectSettings,
            None,
            json!({ "project": project, "freeze_approved": settings.freeze_approved }),
        )
    }

    /// A project's settings (its members and administrators).
    pub fn project_settings(&self, scope: &Scope, project: i64) -> Result<ProjectSettings> {
        if !scope.in_project(project) {
            return Err(Error::not_found(format!("project {project} does not exist")));
        }
        Ok(ProjectSettings { freeze_approved: self.backend.freeze_approved(project)? })
    }

    /// Adds a user (an analyst, say) to a project directly.
    pub fn add_project_member(&self, scope: &Scope, project: i64, user: UserId) -> Result<()> {
        scope.may_administer()?;
        self.backend.add_project_member(project, user)?;
        self.audit(scope, Action::ProjectAddMember, None, json!({ "project": project, "user": user }))
    }

    /// Creates a team (a zone) in a project.
    pub fn create_team(&self, scope: &Scope, project: i64, name: &str) -> Result<Team> {
        scope.may_administer()?;
        let team = self.backend.create_team(project, &checked_name("team", name)?)?;
        self.audit(scope, Action::TeamCreate, None, json!({ "team": team.id, "project": project, "name": team.name }))?;
        Ok(team)
    }

    /// The teams the principal belongs to (all, for administrators).
    pub fn teams(&self, scope: &Scope) -> Result<Vec<Team>> {
        Ok(self.backend.teams()?.into_iter().filter(|t| scope.in_team(t)).collect())
    }

    /// A team's members (administrators, and the team's own members).
    pub fn team_members(&self, scope: &Scope, team: i64) -> Result<Vec<User>> {
        scope.may_list_members(team)?;
        Ok(self.backend.team_members(team)?)
    }

    /// Adds a user to a team.
    pub fn add_team_member(&self, scope: &Scope, team: i64, user: UserId) -> Result<()> {
        scope.may_administer()?;
        self.backend.add_team_member(team, user)?;
        self.audit(scope, Action::TeamAddMember, None, json!({ "team": team, "user": user }))
    }

    /// Every team with its members, for the administration page.
    pub fn teams_with_members(&self, scope: &Scope) -> Result<Vec<(Team, Vec<User>)>> {
        scope.may_administer()?;
        self.backend.teams()?.into_iter().map(|t| Ok((t.clone(), self.backend.team_members(t.id)?))).collect()
    }
}
