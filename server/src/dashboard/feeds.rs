//! Data feeds: the OData address of each project whose data the user may read, and the
//! user's feed tokens (read-only, for Excel, Power BI and scripts): made here and shown
//! once, listed, revoked.

use axum::Form as PostForm;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use terrain_services::{FeedToken, Project};

use super::error::PageError;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use crate::api::odata::service_url;
use crate::http::{AppState, Scheme};

/// A token to make.
#[derive(Debug, Deserialize)]
pub struct NewTokenForm {
    csrf: String,
    label: String,
}

/// A form that only carries the anti-forgery token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// The feeds page.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    scheme: Scheme,
) -> Result<Markup, PageError> {
    render(state, session, &headers, scheme, None).await
}

/// Makes a feed token and shows it, this once.
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    scheme: Scheme,
    PostForm(f): PostForm<NewTokenForm>,
) -> Result<Markup, PageError> {
    session.check_csrf(&f.csrf)?;
    let scope = session.scope().clone();
    let services = state.services.clone();
    let issued = run(session.lang, move || services.create_feed_token(&scope, &f.label)).await?;
    render(state, session, &headers, scheme, Some(issued.token)).await
}

/// Revokes one of the user's feed tokens.
pub async fn revoke(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    PostForm(f): PostForm<CsrfForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&f.csrf)?;
    let scope = session.scope().clone();
    run(session.lang, move || state.services.revoke_feed_token(&scope, id)).await?;
    Ok(Redirect::to("/feeds").into_response())
}

async fn render(
    state: AppState,
    session: Session,
    headers: &HeaderMap,
    scheme: Scheme,
    new_token: Option<String>,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    let scope = session.scope().clone();
    let (projects, tokens): (Vec<Project>, Vec<FeedToken>) = run(lang, move || {
        let services = &state.services;
        Ok((services.feed_projects(&scope)?, services.feed_tokens(&scope)?))
    })
    .await?;
    let body = html! {
        h1 { (lang.t("Data feeds")) }
        p { (lang.t("Excel and Power BI read each project's OData feed. Sign in with Basic: your user name, and a feed token as the password.")) }
        table.list {
            thead { tr { th { (lang.t("Project")) } th { (lang.t("OData feed")) } } }
            tbody {
                @for p in &projects {
                    tr { td { (p.name) } td { code.feed-url { (service_url(headers, scheme, p.id)) "/" } } }
                }
            }
        }
        h2 { (lang.t("Feed tokens")) }
        @if let Some(token) = &new_token {
            div.notice.new-token {
                p { strong { (lang.t("Copy this token now: it is shown only once.")) } }
                code.token { (token) }
            }
        }
        p.muted { (lang.t("A feed token only reads. Name it after where it is used.")) }
        form.inline method="post" action="/feeds/tokens" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { (lang.t("Where it is used")) " " input type="text" name="label" required maxlength="100"; }
            " "
            button type="submit" { (lang.t("Create a token")) }
        }
        @if tokens.is_empty() { p.muted { (lang.t("No feed token yet.")) } }
        @else {
            table.list {
                thead { tr { th { (lang.t("Name")) } th { (lang.t("Created")) } th { (lang.t("Expires")) } th { (lang.t("Status")) } th {} } }
                tbody {
                    @for t in &tokens {
                        tr {
                            td { (t.label) }
                            td { (t.created_at.format("%Y-%m-%d")) }
                            td { (t.expires_at.format("%Y-%m-%d")) }
                            td { @if t.revoked { (lang.t("Revoked")) } @else { (lang.t("Active")) } }
                            td {
                                @if !t.revoked {
                                    form.inline method="post" action={ "/feeds/tokens/" (t.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        button.link type="submit" { (lang.t("Revoke")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&session, Section::Feeds, lang.t("Data feeds"), body))
}
