//! Feeds analysts' tools refresh by themselves: a project's OData service (its sets,
//! `$metadata`, pages of rows), and the read-only feed tokens that Excel, Power BI and
//! scripts open it with. Every token created or revoked and every page read is audited.

use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use terrain_backend::{FeedToken, Project};
pub use terrain_export::odata::page::{Options, Page};
use terrain_export::odata::{self, Service};
use utoipa::ToSchema;

use crate::Services;
use crate::accounts::token;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::exports::export_error;
use crate::scope::Scope;

/// How long a feed token works: a season's refreshes, then it is made again.
pub const FEED_TOKEN_DAYS: i64 = 365;

/// The longest label of a feed token.
const MAX_LABEL: usize = 100;

/// A feed token just created: the token is shown this once and stored only hashed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedFeedToken {
    /// The token: the password of Power Query's "Basic" sign-in (with the user's name), or
    /// a bearer token.
    pub token: String,
    /// What is kept of it.
    #[serde(flatten)]
    pub info: FeedToken,
}

/// The person whose feed tokens these are, if they may hold any.
fn owner(scope: &Scope) -> Result<terrain_backend::UserId> {
    scope.may_hold_feed_tokens()?;
    scope.user_id().ok_or_else(|| Error::invalid("feed tokens belong to a person: create one as that user"))
}

impl Services {
    /// Creates a read-only feed token for the principal, named `label`.
    pub fn create_feed_token(&self, scope: &Scope, label: &str) -> Result<IssuedFeedToken> {
        let user = owner(scope)?;
        let label = label.trim();
        if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
            return Err(Error::invalid(format!(
                "name the token in 1 to {MAX_LABEL} characters, after where it is used (`Power BI, Conakry office`)"
            )));
        }
        let (secret, hash) = token::generate().map_err(Error::internal)?;
        let created_at = Utc::now();
        let expires_at = created_at + chrono::Duration::days(FEED_TOKEN_DAYS);
        let id = self.backend.insert_feed_token(&hash, user, label, expires_at)?;
        self.audit(scope, Action::FeedTokenCreate, None, json!({ "token": id, "label": label }))?;
        Ok(IssuedFeedToken {
            token: secret,
            info: FeedToken { id, label: label.to_owned(), created_at, expires_at, revoked: false },
        })
    }

    /// The principal's feed tokens, newest first.
    pub fn feed_tokens(&self, scope: &Scope) -> Result<Vec<FeedToken>> {
        let user = owner(scope)?;
        Ok(self.backend.feed_tokens(user)?)
    }

    /// Revokes one of the principal's feed tokens: it stops working at once.
    pub fn revoke_feed_token(&self, scope: &Scope, id: i64) -> Result<()> {
        let user = owner(scope)?;
        if !self.backend.revoke_feed_token(user, id)? {
            return Err(Error::not_found(format!("you have no feed token {id} that still works")));
        }
        self.audit(scope, Action::FeedTokenRevoke, None, json!({ "token": id }))
    }

    /// The projects whose feed the principal may read.
    pub fn feed_projects(&self, scope: &Scope) -> Result<Vec<Project>> {
        Ok(self.backend.projects()?.into_iter().filter(|p| scope.may_read_feed(p.id).is_ok()).collect())
    }

    /// A project's OData service: a set per form version published in it, and per repeat.
    pub fn feed(&self, scope: &Scope, project: i64) -> Result<Service> {
        let service = self.service(scope, project)?;
        self.audit(scope, Action::FeedRead, None, json!({ "project": project, "read": "service" }))?;
        Ok(service)
    }

    fn service(&self, scope: &Scope, project: i64) -> Result<Service> {
        scope.may_read_feed(project)?;
        let mut forms = Vec::new();
        for info in self.backend.forms()?.into_iter().filter(|f| f.project_id == project) {
            forms.push(self.backend.form(&info.form_id, &info.version)?);
        }
        Service::new(&forms).map_err(export_error)
    }

    /// A project's `$metadata` document.
    pub fn feed_metadata(&self, scope: &Scope, project: i64) -> Result<String> {
        let service = self.service(scope, project)?;
        self.audit(scope, Action::FeedRead, None, json!({ "project": project, "read": "$metadata" }))?;
        Ok(odata::csdl::metadata(&service, &format!("project_{project}")))
    }

    /// One page of a set of a project's feed, only surveys the principal may read, and
    /// audited.
    pub fn feed_page(
        &self,
        scope: &Scope,
        project: i64,
        set: &str,
        options: &Options,
        deadline: Option<Instant>,
    ) -> Result<Page> {
        let service = self.service(scope, project)?;
        let set = service.set(set).ok_or_else(|| {
            Error::not_found(format!("project {project} has no entity set `{set}`: its service document lists them"))
        })?;
        let visible = |s: &terrain_core::store::SurveySummary| scope.can_read(&scope.facts(s, &[]));
        let unreadable = |id: &str, e: &terrain_backend::BackendError| self.unreadable(id, e);
        let page = odata::page::read(self.backend.as_ref(), set, options, &visible, &unreadable, deadline)
            .map_err(export_error)?;
        self.audit(
            scope,
            Action::FeedRead,
            None,
            json!({
                "project": project,
                "read": set.name,
                "rows": page.rows.len(),
                "skip": options.skip,
                "filter": options.filter,
                "resumed": options.skiptoken.is_some(),
            }),
        )?;
        Ok(page)
    }
}
