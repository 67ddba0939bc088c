//! The survey list: filters (form, team or zone, enumerator, review status, dates,
//! conflicts), sorting by column, key-based paging that stays fast at 100,000 surveys, and
//! bulk approval or rejection of the ticked rows.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use terrain_core::store::SurveySummary;
use terrain_core::survey::ReviewStatus;
use terrain_services::listing::{Choices, ListParams, SurveyPage};
use terrain_services::review::{ReviewAction, ReviewRequest};

use super::error::PageError;
use super::i18n::Lang;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use crate::http::AppState;

/// The outcome of a bulk action, shown above the list after the redirect.
#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    done: Option<usize>,
    failed: Option<usize>,
}

/// The query string of `params`, for links.
pub(super) fn query_string(params: &ListParams) -> String {
    serde_urlencoded::to_string(params).unwrap_or_default()
}

/// The list page.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
    Query(flash): Query<Flash>,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    let services = state.services.clone();
    let scope = session.scope().clone();
    let p = params.clone();
    let (page, choices) = run(lang, move || {
        let page = services.list_surveys(&scope, &p)?;
        Ok((page, services.filter_choices(&scope)?))
    })
    .await?;
    let body = html! {
        h1 { (lang.t("Surveys")) }
        @if let Some(done) = flash.done {
            p.flash role="status" { (lang.t("Done.")) " " (done) " " (lang.t("reviewed"))
                @if let Some(failed) = flash.failed.filter(|f| *f > 0) { ", " (failed) " " (lang.t("refused")) } }
        }
        (filters(lang, &params, &choices, None))
        (table(&session, &params, &page))
    };
    Ok(layout::page(&session, Section::Surveys, lang.t("Surveys"), body))
}

/// The filter form, shared with the progress and map pages; `extra` adds a page's own
/// fields (the map's entity list).
pub(super) fn filters(lang: Lang, params: &ListParams, choices: &Choices, extra: Option<Markup>) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let selected = |v: &Option<String>, option: &str| v.as_deref() == Some(option);
    html! {
        form.filters #filters method="get" {
            label { (lang.t("Form"))
                select name="form" {
                    option value="" { (lang.t("any")) }
                    @for f in &choices.forms { option value=(f.form_id) selected[selected(&params.form, &f.form_id)] { (f.title) } }
                }
            }
            label { (lang.t("Team"))
                select name="team" {
                    option value="" { (lang.t("any")) }
                    @for t in &choices.teams {
                        option value=(t.id) selected[selected(&params.team, &t.id.to_string())] { (t.name) }
                    }
                }
            }
            label { (lang.t("Enumerator"))
                input name="enumerator" list="people" value=(value(&params.enumerator)) size="12";
                datalist #people { @for p in &choices.people { option value=(p) {} } }
            }
            label { (lang.t("Review"))
                select name="review" {
                    option value="" { (lang.t("any")) }
                    @for r in ReviewStatus::ALL {
                        option value=(r.as_str()) selected[selected(&params.review, r.as_str())] { (lang.status(r)) }
                    }
                }
            }
            label { (lang.t("From")) input type="date" name="from" value=(value(&params.from)); }
            label { (lang.t("To")) input type="date" name="to" value=(value(&params.to)); }
            label { (lang.t("Conflicts"))
                select name="conflicts" {
                    option value="" { (lang.t("any")) }
                    option value="true" selected[selected(&params.conflicts, "true")] { (lang.t("with conflicts")) }
                    option value="false" selected[selected(&params.conflicts, "false")] { (lang.t("without conflicts")) }
                }
            }
            @if let Some(extra) = extra { (extra) }
            @if let Some(sort) = &params.sort { input type="hidden" name="sort" value=(sort); }
            @if let Some(order) = &params.order { input type="hidden" name="order" value=(order); }
            button #apply-filters type="submit" { (lang.t("Filter")) }
            a.reset href="?" { (lang.t("Reset")) }
        }
    }
}

/// A review status as a coloured badge.
pub(super) fn badge(lang: Lang, status: ReviewStatus) -> Markup {
    html! { span class={ "badge " (status.as_str()) } { (lang.status(status)) } }
}

fn sort_link(lang: Lang, params: &ListParams, key: &str, label: &'static str) -> Markup {
    let current = params.sort.as_deref().unwrap_or("updated") == key;
    let descending = params.order.as_deref() != Some("asc");
    let mut next = params.clone();
    next.after = None;
    next.sort = Some(key.to_owned());
    next.order = Some(if current && descending { "asc" } else { "desc" }.to_owned());
    let arrow = match (current, descending) {
        (false, _) => "",
        (true, true) => " ▼",
        (true, false) => " ▲",
    };
    html! { a href={ "?" (query_string(&next)) } { (lang.t(label)) (arrow) } }
}

fn table(session: &Session, params: &ListParams, page: &SurveyPage) -> Markup {
    let lang = session.lang;
    let reviewer = session.scope().reviews();
    let row = |s: &SurveySummary| {
        html! {
            tr {
                @if reviewer { td { input type="checkbox" name="survey" value=(s.survey_id) aria-label="select"; } }
                td { a.survey href={ "/surveys/" (s.survey_id) } { (s.survey_id.get(..8).unwrap_or(&s.survey_id)) } }
                td { (s.form_id) " " span.muted { (s.form_version) } }
                td { (s.created_by) }
                td { (s.created_at.format("%Y-%m-%d %H:%M")) }
                td { (s.updated_at.format("%Y-%m-%d %H:%M")) }
                td { (lang.t(s.status.as_str())) }
                td { (badge(lang, s.review_status)) }
                td { @if s.has_conflicts { span.conflict title=(lang.t("Conflicts")) { "⚠" } } }
                td.media {
                    @if let Some(count) = page.media.get(&s.survey_id) {
                        @if let Some(photo) = count.photo {
                            a href={ "/surveys/" (s.survey_id) } {
                                img.list-thumbnail src={ "/media/" (photo) "/thumbnail" } alt="" loading="lazy";
                            }
                        }
                        @if count.held == count.total {
                            span title=(lang.t("Files on the server")) { "📷 " (count.total) }
                        } @else {
                            span.waiting title=(lang.t("Files still on the device")) { "⏳ " (count.held) "/" (count.total) }
                        }
                    }
                }
            }
        }
    };
    let mut first = params.clone();
    first.after = None;
    let mut next = params.clone();
    next.after = page.next.clone();
    html! {
        p.count #total { strong { (page.total) } " " (lang.t("surveys match")) }
        form #bulk method="post" action="/surveys/bulk" {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="back" value=(query_string(params));
            table.list #surveys {
                thead { tr {
                    @if reviewer { th { input type="checkbox" data-select-all="survey" title=(lang.t("Select all")); } }
                    th { (lang.t("Survey")) }
                    th { (sort_link(lang, params, "form", "Form")) }
                    th { (sort_link(lang, params, "enumerator", "Enumerator")) }
                    th { (sort_link(lang, params, "started", "Started")) }
                    th { (sort_link(lang, params, "updated", "Updated")) }
                    th { (lang.t("Status")) }
                    th { (sort_link(lang, params, "review", "Review")) }
                    th { (lang.t("Conflicts")) }
                    th { (lang.t("Files")) }
                } }
                tbody {
                    @for s in &page.items { (row(s)) }
                    @if page.items.is_empty() { tr { td colspan="10" { (lang.t("No survey matches these filters.")) } } }
                }
            }
            @if reviewer && !page.items.is_empty() {
                div.bulk-actions {
                    button #bulk-approve type="submit" name="action" value="approve" { (lang.t("Approve selected")) }
                    button #bulk-reject.danger type="submit" name="action" value="reject" { (lang.t("Reject selected")) }
                }
            }
        }
        nav.pager {
            @if params.after.is_some() { a #first-page href={ "?" (query_string(&first)) } { "« " (lang.t("First page")) } }
            @if page.next.is_some() { a #next-page href={ "?" (query_string(&next)) } { (lang.t("Next page")) " »" } }
        }
    }
}

/// Approves or rejects the ticked surveys, then shows the list again.
pub async fn bulk_action(
    State(state): State<AppState>,
    session: Session,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let lang = session.lang;
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    session.check_csrf(field("csrf").unwrap_or_default())?;
    let action = match field("action") {
        Some("approve") => ReviewAction::Approve,
        Some("reject") => ReviewAction::Reject,
        _ => return Err(PageError::invalid(lang, "choose approve or reject")),
    };
    let surveys: Vec<String> = fields.iter().filter(|(k, _)| k == "survey").map(|(_, v)| v.clone()).collect();
    // Back to the same filters, re-encoded: the field is the browser's to send.
    let back: ListParams = serde_urlencoded::from_str(field("back").unwrap_or_default()).unwrap_or_default();
    let back = query_string(&back);
    let services = state.services.clone();
    let scope = session.scope().clone();
    let outcome = run(lang, move || {
        let request = ReviewRequest { action, comment: None, question: None };
        services.review_all(&scope, &surveys, &request)
    })
    .await?;
    let target = format!("/surveys?{back}&done={}&failed={}", outcome.done.len(), outcome.failed.len());
    Ok(Redirect::to(&target).into_response())
}
