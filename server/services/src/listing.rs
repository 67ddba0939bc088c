//! Survey lists for supervisors and analysts: filters from a query string, narrowed to what
//! the caller may see, paged by key so that page 1,000 costs what page 1 costs; and the
//! views built on the same filters: progress per enumerator per day, the map's located
//! surveys, the choices the filters offer. The JSON API and the dashboard both list here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use terrain_backend::{FormInfo, Team};
use terrain_core::store::{DailyCount, SortKey, Survey, SurveyQuery, SurveySummary};
use terrain_core::survey::ReviewStatus;
use utoipa::{IntoParams, ToSchema};

use crate::Services;
use crate::error::{Error, Result};
use crate::scope::Scope;

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
    /// The attached files of the page's surveys that have some, by survey id: how many
    /// its answers hold, and how many of them the server has (the rest are still on the
    /// device that took them).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub media: BTreeMap<String, MediaCount>,
}

/// A survey's attached files, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct MediaCount {
    /// Files the server holds whole.
    pub held: u32,
    /// Files its answers reference.
    pub total: u32,
    /// A photo of its own the server holds, to show as a thumbnail in the list.
    #[schema(value_type = Option<String>)]
    pub photo: Option<terrain_core::media::Digest>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn day(value: &str, name: &str) -> Result<NaiveDate> {
    value.parse().map_err(|_| Error::invalid(format!("`{name}` must be a day like 2026-11-28, not `{value}`")))
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The most review statuses one list may filter on.
const MAX_STATUSES: usize = 16;

impl Services {
    /// The store query for `params`, narrowed to what `scope` may see.
    pub fn survey_query(&self, scope: &Scope, params: &ListParams) -> Result<SurveyQuery> {
        let mut query = SurveyQuery {
            form_id: given(&params.form).map(str::to_owned),
            enumerator: given(&params.enumerator).map(str::to_owned),
            limit: Some(params.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)),
            visible: scope.visibility(),
            ..Default::default()
        };
        if let Some(review) = given(&params.review) {
            let states = review
                .split(',')
                .take(MAX_STATUSES + 1)
                .map(|s| s.trim().parse::<ReviewStatus>().map_err(|e| Error::invalid(e.to_string())))
                .collect::<Result<Vec<_>>>()?;
            if states.len() > MAX_STATUSES {
                return Err(Error::invalid(format!("filter on at most {MAX_STATUSES} review statuses")));
            }
            query.review = Some(states);
        }
        if let Some(from) = given(&params.from) {
            query.started_from = Some(midnight(day(from, "from")?));
        }
        if let Some(to) = given(&params.to) {
            let to = day(to, "to")?;
            query.started_before = Some(midnight(to.succ_opt().unwrap_or(to)));
        }
        query.has_conflicts = match given(&params.conflicts) {
            None => None,
            Some("true" | "1" | "yes" | "on") => Some(true),
            Some("false" | "0" | "no") => Some(false),
            Some(other) => return Err(Error::invalid(format!("`conflicts` is true or false, not `{other}`"))),
        };
        query.sort = match given(&params.sort) {
            None | Some("updated") => SortKey::Updated,
            Some("started") => SortKey::Started,
            Some("enumerator") => SortKey::Enumerator,
            Some("form") => SortKey::Form,
            Some("review") => SortKey::Review,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "cannot sort by `{other}`: use updated, started, enumerator, form or review"
                )));
            }
        };
        query.ascending = match given(&params.order) {
            None | Some("desc") => false,
            Some("asc") => true,
            Some(other) => return Err(Error::invalid(format!("`order` is asc or desc, not `{other}`"))),
        };
        if let Some(after) = given(&params.after) {
            query.after = Some(after.parse().map_err(|e: terrain_core::StoreError| Error::invalid(e.to_string()))?);
        }
        if let Some(team) = given(&params.team) {
            let team: i64 = team.parse().map_err(|_| Error::invalid(format!("`team` is a team id, not `{team}`")))?;
            let members: BTreeSet<String> = self.backend.team_members(team)?.into_iter().map(|u| u.username).collect();
            query.enumerators = Some(members.into_iter().collect());
        }
        Ok(query)
    }

    /// One page of the surveys the principal may see that match `params`.
    pub fn list_surveys(&self, scope: &Scope, params: &ListParams) -> Result<SurveyPage> {
        let query = self.survey_query(scope, params)?;
        let items = self.backend.list_surveys(&query)?;
        let limit = query.limit.unwrap_or(DEFAULT_PAGE) as usize;
        let next =
            if items.len() == limit { items.last().map(|last| query.sort.page_key(last).to_string()) } else { None };
        let total = self.backend.count_surveys(&query)?;
        let ids: Vec<String> = items.iter().map(|s| s.survey_id.clone()).collect();
        let mut media = BTreeMap::new();
        for (id, digests) in self.backend.media_of(&ids)? {
            let held = self.media_held(&digests)?;
            let photo = self.first_photo(&held)?;
            media.insert(id, MediaCount { held: held.len() as u32, total: digests.len() as u32, photo });
        }
        Ok(SurveyPage { items, next, total, media })
    }

    /// How many surveys matching `params` each enumerator started each day.
    pub fn daily_counts(&self, scope: &Scope, params: &ListParams) -> Result<Vec<DailyCount>> {
        let query = self.survey_query(scope, params)?;
        Ok(self.backend.daily_counts(&query)?)
    }

    /// The newest `limit` surveys matching `params`, as exports show them (from the
    /// projection, without loading documents), for the map; and how many match in all. A
    /// survey that cannot be read is skipped (and listed for administrators).
    pub fn surveys_for_map(
        &self,
        scope: &Scope,
        params: &ListParams,
        limit: u32,
    ) -> Result<(Vec<(SurveySummary, Survey)>, u64)> {
        let mut query = self.survey_query(scope, params)?;
        query.limit = Some(limit);
        query.after = None;
        let summaries = self.backend.list_surveys(&query)?;
        let total = self.backend.count_surveys(&query)?;
        let ids: Vec<String> = summaries.iter().map(|s| s.survey_id.clone()).collect();
        let surveys = self.backend.projected(&ids)?;
        let mut out = Vec::with_capacity(summaries.len());
        for (summary, survey) in summaries.into_iter().zip(surveys) {
            if let Some(survey) = self.unless_unreadable(&summary.survey_id, survey)? {
                out.push((summary, survey));
            }
        }
        Ok((out, total))
    }

    /// What the list filters offer the principal: the forms, teams and people they may see.
    pub fn filter_choices(&self, scope: &Scope) -> Result<Choices> {
        let mut forms: Vec<FormInfo> =
            self.backend.forms()?.into_iter().filter(|f| scope.form_project(&f.form_id).is_some()).collect();
        // One entry per form id: versions are merged in lists.
        forms.sort_by(|a, b| a.form_id.cmp(&b.form_id).then(b.version.cmp(&a.version)));
        forms.dedup_by(|a, b| a.form_id == b.form_id);
        let teams: Vec<Team> = self.backend.teams()?.into_iter().filter(|t| scope.sees_team(t)).collect();
        let mut people: Vec<String> = match scope.visible_people() {
            Some(people) => people.into_iter().collect(),
            None => crate::scope::collectors(self.backend.users()?),
        };
        people.sort();
        people.dedup();
        Ok(Choices { forms, teams, people })
    }
}

/// What the filters offer: the forms, teams and people the principal may see.
#[derive(Debug, Clone)]
pub struct Choices {
    /// Form ids (the newest version of each).
    pub forms: Vec<FormInfo>,
    /// Teams.
    pub teams: Vec<Team>,
    /// Enumerators.
    pub people: Vec<String>,
}
