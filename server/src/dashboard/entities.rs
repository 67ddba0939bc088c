//! Entity lists: the lists of the user's projects, one list's entities (search, conflicts
//! only, deleted too, paged), one entity (properties, the surveys that made it, conflicts to
//! settle, deleting and restoring), and seeding a list from CSV for administrators.

use axum::Form as PostForm;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use terrain_core::store::EntityQuery;
use terrain_services::entities::{EntityImport, EntityList};

use super::error::PageError;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use crate::http::AppState;

/// Entities per page.
const PAGE: u32 = 100;

/// The list page's filters.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ListParams {
    list: Option<String>,
    q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conflicted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted: Option<String>,
    #[serde(default)]
    page: u32,
}

/// A value that settles a property.
#[derive(Debug, Deserialize)]
pub struct SettleForm {
    csrf: String,
    property: String,
    value: String,
}

/// Deleting or restoring.
#[derive(Debug, Deserialize)]
pub struct DeletedForm {
    csrf: String,
    deleted: bool,
}

/// Assigning to one enumerator (an empty name: to nobody).
#[derive(Debug, Deserialize)]
pub struct AssignForm {
    csrf: String,
    username: String,
}

/// The entity lists, and the entities of the one chosen.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> Result<Markup, PageError> {
    render_list(state, session, params, None).await
}

async fn render_list(
    state: AppState,
    session: Session,
    params: ListParams,
    imported: Option<EntityImport>,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    let scope = session.scope().clone();
    let chosen = params.list.clone().filter(|l| !l.is_empty());
    let query = EntityQuery {
        search: params.q.clone().filter(|q| !q.is_empty()),
        include_deleted: params.deleted.is_some(),
        conflicted_only: params.conflicted.is_some(),
        limit: PAGE + 1,
        offset: params.page.saturating_mul(PAGE),
        ..EntityQuery::default()
    };
    let services = state.services.clone();
    // With no list asked for, the first one is shown.
    let (lists, chosen, entities): (Vec<EntityList>, Option<String>, Vec<_>) = run(lang, move || {
        let lists = services.entity_list_index(&scope)?;
        let chosen = chosen.or_else(|| lists.first().map(|l| l.list.clone()));
        let entities = match &chosen {
            Some(list) => services.entities(&scope, list, query)?,
            None => Vec::new(),
        };
        Ok((lists, chosen, entities))
    })
    .await?;
    let params = ListParams { list: chosen.clone(), ..params };
    let more = entities.len() > PAGE as usize;
    let page_link = |page: u32| {
        let at = ListParams { page, ..params.clone() };
        format!("/entities?{}", serde_urlencoded::to_string(&at).unwrap_or_default())
    };
    let body = html! {
        h1 { (lang.t("Entities")) }
        @if lists.is_empty() {
            p.muted { (lang.t("No form of your projects declares an entity list yet.")) }
        }
        form.filters method="get" action="/entities" {
            label { (lang.t("List")) " "
                select name="list" {
                    @for l in &lists {
                        option value=(l.list) selected[chosen.as_deref() == Some(l.list.as_str())] { (l.list) }
                    }
                }
            }
            " "
            label { (lang.t("Search")) " " input type="search" name="q" value=(params.q.clone().unwrap_or_default()); }
            " "
            label { input type="checkbox" name="conflicted" checked[params.conflicted.is_some()]; " " (lang.t("Conflicts only")) }
            " "
            label { input type="checkbox" name="deleted" checked[params.deleted.is_some()]; " " (lang.t("Deleted too")) }
            " "
            button type="submit" { (lang.t("Show")) }
        }
        @if let Some(report) = &imported {
            div.notice {
                p { (lang.t("Imported")) ": " (report.created) " / " (report.updated) " / " (report.unchanged) }
                @for row in &report.refused { p { (lang.t("Line")) " " (row.line) ": " (row.reason) } }
            }
        }
        @if let Some(list) = &chosen {
            table.list {
                thead { tr { th { (lang.t("Label")) } th { (lang.t("Id")) } th { (lang.t("Status")) } } }
                tbody {
                    @for e in entities.iter().take(PAGE as usize) {
                        tr {
                            td { a href={ "/entities/" (path_piece(list)) "/" (path_piece(&e.id)) } { (e.label) } }
                            td { code { (e.id) } }
                            td {
                                @if e.deleted { (lang.t("Deleted")) }
                                @else if e.has_conflicts { strong { (lang.t("Conflict to settle")) } }
                            }
                        }
                    }
                }
            }
            p {
                (lang.t("Download")) ": "
                @for format in ["csv", "xlsx", "geojson"] {
                    a href={ "/entities/" (path_piece(list)) "/export?format=" (format) } { (format) } " "
                }
                " · " a href={ "/map?entities=" (path_piece(list)) } { (lang.t("Show on the map")) }
            }
            p.pager {
                @if params.page > 0 { a href=(page_link(params.page - 1)) { (lang.t("Previous")) } " " }
                @if more { a href=(page_link(params.page + 1)) { (lang.t("Next")) } }
            }
            @if session.is_admin() {
                h2 { (lang.t("Seed or update from CSV")) }
                p.muted { (lang.t("Columns: name (the id), label, then one per property. Importing the same file again changes nothing.")) }
                form method="post" action={ "/entities/" (path_piece(list)) "/import" } enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="file" name="file" accept=".csv,text/csv" required;
                    " "
                    button type="submit" { (lang.t("Import")) }
                }
            }
        }
    };
    Ok(layout::page(&session, Section::Entities, lang.t("Entities"), body))
}

/// One entity.
pub async fn entity(
    State(state): State<AppState>,
    session: Session,
    Path((list, id)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    let scope = session.scope().clone();
    let services = state.services.clone();
    let (l, i) = (list.clone(), id.clone());
    let (detail, assignees) =
        run(lang, move || Ok((services.entity(&scope, &l, &i)?, services.entity_assignees(&scope, &l, &i)?))).await?;
    let action = format!("/entities/{}/{}", path_piece(&list), path_piece(&id));
    let body = html! {
        p { a href={ "/entities?list=" (path_piece(&list)) } { "← " (list) } }
        h1 { (detail.entity.label) @if detail.entity.deleted { " (" (lang.t("Deleted")) ")" } }
        p.muted { code { (detail.entity.id) } }
        p.assignee {
            (lang.t("Assigned to")) ": "
            strong { @match &detail.assignee { Some(name) => (name), None => (lang.t("nobody in particular")) } }
        }
        @if !assignees.is_empty() {
            form.inline.assign method="post" action={ (action) "/assignee" } {
                input type="hidden" name="csrf" value=(session.csrf);
                select name="username" aria-label=(lang.t("Assign to")) {
                    option value="" { "— " (lang.t("nobody in particular")) }
                    @for name in &assignees {
                        option value=(name) selected[detail.assignee.as_ref() == Some(name)] { (name) }
                    }
                }
                " "
                button type="submit" { (lang.t("Assign")) }
            }
        }
        @if !detail.conflicts.is_empty() {
            h2 { (lang.t("Conflicts to settle")) }
            @for c in &detail.conflicts {
                div.conflict {
                    p { strong { (c.property) } }
                    @for v in &c.values {
                        form.inline method="post" action={ (action) "/settle" } {
                            input type="hidden" name="csrf" value=(session.csrf);
                            input type="hidden" name="property" value=(c.property);
                            input type="hidden" name="value" value=(v.value);
                            span { (v.value) } " "
                            button type="submit" { (lang.t("Keep this value")) }
                        }
                    }
                }
            }
        }
        h2 { (lang.t("Properties")) }
        table.list {
            tbody {
                @for (name, value) in &detail.entity.properties { tr { th { (name) } td { (value) } } }
            }
        }
        h2 { (lang.t("Surveys that made it")) }
        ul {
            @for (source, kind) in &detail.sources {
                li {
                    @if source.starts_with("import:") { code { (source) } }
                    @else { a href={ "/surveys/" (path_piece(source)) } { (source) } }
                    " · " (kind)
                }
            }
        }
        form.inline method="post" action={ (action) "/deleted" } {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="deleted" value=(if detail.entity.deleted { "false" } else { "true" });
            button type="submit" { @if detail.entity.deleted { (lang.t("Restore")) } @else { (lang.t("Delete")) } }
        }
    };
    Ok(layout::page(&session, Section::Entities, lang.t("Entities"), body))
}

/// Settles a property with the value chosen.
pub async fn settle(
    State(state): State<AppState>,
    session: Session,
    Path((list, id)): Path<(String, String)>,
    PostForm(f): PostForm<SettleForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&f.csrf)?;
    let scope = session.scope().clone();
    let (l, i) = (list.clone(), id.clone());
    run(session.lang, move || state.services.settle_entity(&scope, &l, &i, &f.property, &f.value)).await?;
    Ok(Redirect::to(&format!("/entities/{}/{}", path_piece(&list), path_piece(&id))).into_response())
}

/// Assigns an entity to one enumerator, or to nobody.
pub async fn assign(
    State(state): State<AppState>,
    session: Session,
    Path((list, id)): Path<(String, String)>,
    PostForm(f): PostForm<AssignForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&f.csrf)?;
    let scope = session.scope().clone();
    let (l, i) = (list.clone(), id.clone());
    let username = Some(f.username).filter(|name| !name.is_empty());
    run(session.lang, move || state.services.assign_entity(&scope, &l, &i, username.as_deref())).await?;
    Ok(Redirect::to(&format!("/entities/{}/{}", path_piece(&list), path_piece(&id))).into_response())
}

/// Deletes or restores an entity.
pub async fn set_deleted(
    State(state): State<AppState>,
    session: Session,
    Path((list, id)): Path<(String, String)>,
    PostForm(f): PostForm<DeletedForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&f.csrf)?;
    let scope = session.scope().clone();
    let (l, i) = (list.clone(), id.clone());
    run(session.lang, move || state.services.set_entity_deleted(&scope, &l, &i, f.deleted)).await?;
    Ok(Redirect::to(&format!("/entities/{}/{}", path_piece(&list), path_piece(&id))).into_response())
}

/// The format of a download.
#[derive(Debug, Deserialize)]
pub struct ExportParams {
    format: Option<String>,
}

/// The list's entities as a file, as the API exports them.
pub async fn export(
    State(state): State<AppState>,
    session: Session,
    Path(list): Path<String>,
    Query(params): Query<ExportParams>,
) -> Result<Response, PageError> {
    let scope = session.scope().clone();
    let l = list.clone();
    let format = params.format.unwrap_or_else(|| "csv".to_owned());
    let (format, bytes) = run(session.lang, move || state.services.export_entities(&scope, &l, &format)).await?;
    Ok(crate::api::entities::download(&list, format, bytes))
}

/// Seeds or updates a list from an uploaded CSV file (administrators).
pub async fn import(
    State(state): State<AppState>,
    session: Session,
    Path(list): Path<String>,
    mut multipart: Multipart,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    let bad = |e: axum::extract::multipart::MultipartError| PageError::invalid(lang, format!("the upload failed: {e}"));
    let mut checked = false;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if !checked {
            if name != "csrf" {
                return Err(PageError::forbidden(lang, "this form has expired: reload the page and try again"));
            }
            session.check_csrf(&field.text().await.map_err(bad)?)?;
            checked = true;
        } else if name == "file" {
            file = Some(field.bytes().await.map_err(bad)?);
        }
    }
    let (Some(file), true) = (file, checked) else {
        return Err(PageError::invalid(lang, "choose a CSV file to import"));
    };
    let scope = session.scope().clone();
    let services = state.services.clone();
    let l = list.clone();
    let report = run(lang, move || services.import_entities(&scope, &l, &file)).await?;
    let params = ListParams { list: Some(list), ..ListParams::default() };
    render_list(state, session, params, Some(report)).await
}

/// Percent-encodes a piece of a path (an entity id may hold any character).
pub(super) fn path_piece(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
