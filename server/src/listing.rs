//! Survey lists for supervisors and analysts: filters from a query string, narrowed to what
//! the caller may see, paged by key so that page 1,000 costs what page 1 costs. The JSON API
//! and the dashboard both list through here.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use terrain_core::Role;
use terrain_core::store::{SortKey, SurveyQuery, SurveySummary};
use terrain_core::survey::ReviewStatus;
use utoipa::{IntoParams, ToSchema};

use crate::backend::Backend;
use crate::error::ApiError;
use crate::rules::Principal;

/// The most rows one page may hold.
pub const MAX_PAGE: u32 = 500;
const DEFAULT_PAGE: u32 = 50;

/// A list request, as a query string. Empty values (from HTML forms) mean "any".
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
pub struct ListParams {
    /// Form id.
    pub form: Option<String>,
    /// Team (zone) id.
    pub team: Option<String>,
    /// Enumerator's username.
    pub enumerator: Option<String>,
    /// Review statuses, comma-separated (`received,has_issues`).
    pub review: Option<String>,
    /// Started on or after this day (`2026-11-01`).
    pub from: Option<String>,
    /// Started on or before this day.
    pub to: Option<String>,
    /// `true`: only surveys with conflicts; `false`: only without.
    pub conflicts: Option<String>,
    /// `updated` (default), `started`, `enumerator`, `form` or `review`.
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    pub order: Option<String>,
    /// The `next` key of the previous page.
    pub after: Option<String>,
    /// Rows per page (default 50, at most 500).
    pub limit: Option<u32>,
}

/// One page of a survey list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SurveyPage {
    /// The rows.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<SurveySummary>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
    /// How many surveys match, over all pages.
    pub total: u64,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn day(value: &str, name: &str) -> Result<NaiveDate, ApiError> {
    value.parse().map_err(|_| ApiError::invalid(format!("`{name}` must be a day like 2026-11-28, not `{value}`")))
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

impl ListParams {
    /// The store query for these parameters, narrowed to what `principal` may see.
    pub fn query(&self, backend: &dyn Backend, principal: &Principal) -> Result<SurveyQuery, ApiError> {
        let mut query = SurveyQuery {
            form_id: given(&self.form).map(str::to_owned),
            enumerator: given(&self.enumerator).map(str::to_owned),
            limit: Some(self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)),
            ..Default::default()
        };
        if let Some(review) = given(&self.review) {
            let states = review
                .split(',')
                .map(|s| s.trim().parse::<ReviewStatus>().map_err(|e| ApiError::invalid(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            query.review = Some(states);
        }
        if let Some(from) = given(&self.from) {
            query.started_from = Some(midnight(day(from, "from")?));
        }
        if let Some(to) = given(&self.to) {
            let to = day(to, "to")?;
            query.started_before = Some(midnight(to.succ_opt().unwrap_or(to)));
        }
        query.has_conflicts = match given(&self.conflicts) {
            None => None,
            Some("true" | "1" | "yes" | "on") => Some(true),
            Some("false" | "0" | "no") => Some(false),
            Some(other) => return Err(ApiError::invalid(format!("`conflicts` is true or false, not `{other}`"))),
        };
        query.sort = match given(&self.sort) {
            None | Some("updated") => SortKey::Updated,
            Some("started") => SortKey::Started,
            Some("enumerator") => SortKey::Enumerator,
            Some("form") => SortKey::Form,
            Some("review") => SortKey::Review,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "cannot sort by `{other}`: use updated, started, enumerator, form or review"
                )));
            }
        };
        query.ascending = match given(&self.order) {
            None | Some("desc") => false,
            Some("asc") => true,
            Some(other) => return Err(ApiError::invalid(format!("`order` is asc or desc, not `{other}`"))),
        };
        if let Some(after) = given(&self.after) {
            query.after = Some(after.parse().map_err(|e: terrain_core::StoreError| ApiError::invalid(e.to_string()))?);
        }
        let mut people: Option<BTreeSet<String>> = None;
        if let Some(team) = given(&self.team) {
            let team: i64 =
                team.parse().map_err(|_| ApiError::invalid(format!("`team` is a team id, not `{team}`")))?;
            people = Some(backend.team_members(team)?.into_iter().map(|u| u.username).collect());
        }
        self.narrow(&mut query, people, backend, principal)?;
        Ok(query)
    }

    /// Keeps only what the caller may see: admins everything; analysts their projects'
    /// forms; supervisors those forms started by members of their teams; enumerators their
    /// own surveys.
    fn narrow(
        &self,
        query: &mut SurveyQuery,
        mut people: Option<BTreeSet<String>>,
        backend: &dyn Backend,
        principal: &Principal,
    ) -> Result<(), ApiError> {
        let role = principal.user.role;
        if role != Role::Admin {
            let forms = backend
                .forms()?
                .into_iter()
                .filter(|f| principal.membership.projects.contains(&f.project_id))
                .map(|f| f.form_id)
                .collect::<BTreeSet<_>>();
            query.forms = Some(forms.into_iter().collect());
        }
        let visible: Option<BTreeSet<String>> = match role {
            Role::Admin | Role::Analyst => None,
            Role::Supervisor => Some(principal.membership.teammates.values().flatten().cloned().collect()),
            Role::Enumerator => Some(BTreeSet::from([principal.user.username.clone()])),
        };
        if let Some(visible) = visible {
            people = Some(match people {
                Some(team) => team.intersection(&visible).cloned().collect(),
                None => visible,
            });
        }
        query.enumerators = people.map(|p| p.into_iter().collect());
        Ok(())
    }
}

/// Runs a list request.
pub fn page(backend: &dyn Backend, principal: &Principal, params: &ListParams) -> Result<SurveyPage, ApiError> {
    let query = params.query(backend, principal)?;
    let items = backend.list_surveys(&query)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE) as usize;
    let next = if items.len() == limit { items.last().map(|last| query.sort.page_key(last).to_string()) } else { None };
    let total = backend.count_surveys(&query)?;
    Ok(SurveyPage { items, next, total })
}
