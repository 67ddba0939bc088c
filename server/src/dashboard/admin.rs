//! Administration from the browser: users (create, disable), projects, teams and their
//! members, publishing form versions from an XLSForm file, and the audit log as CSV. The
//! same checks as the JSON API apply: these handlers call the same functions.

use axum::Form as PostForm;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::PageError;
use super::layout::{self, Section};
use super::session::Session;
use super::survey::Saved;
use crate::app::AppState;
use crate::backend::{FormInfo, Project, Team, User};
use crate::error::{ApiError, blocking};
use crate::routes::admin::{CreateUser, audit_csv, create_user_checked};

fn require_admin(session: &Session) -> Result<(), PageError> {
    if session.is_admin() {
        Ok(())
    } else {
        Err(PageError::forbidden(session.lang, "only administrators manage users, teams and forms"))
    }
}

struct Overview {
    users: Vec<User>,
    projects: Vec<Project>,
    teams: Vec<(Team, Vec<User>)>,
    forms: Vec<FormInfo>,
}

/// The administration page.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(saved): Query<Saved>,
) -> Result<Markup, PageError> {
    require_admin(&session)?;
    let lang = session.lang;
    let o = blocking(move || {
        let backend = state.backend.as_ref();
        let teams = backend
            .teams()?
            .into_iter()
            .map(|t| Ok((t.clone(), backend.team_members(t.id)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(Overview { users: backend.users()?, projects: backend.projects()?, teams, forms: backend.forms()? })
    })
    .await
    .map_err(|e| PageError::from_api(lang, e))?;
    let csrf = html! { input type="hidden" name="csrf" value=(session.csrf); };
    let project_name = |id: i64| o.projects.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_default();
    let body = html! {
        h1 { (lang.t("Administration")) }
        @if saved.saved.is_some() { p.flash role="status" { (lang.t("Saved.")) } }
        p { a href="/admin/audit.csv" { (lang.t("Audit log (CSV)")) } }
        section #users {
            h2 { (lang.t("Users")) }
            table.list {
                thead { tr { th { (lang.t("User name")) } th { (lang.t("Display name")) } th { (lang.t("Role")) } th { (lang.t("Status")) } th {} } }
                tbody {
                    @for u in &o.users {
                        tr {
                            td { (u.username) } td { (u.display_name.as_deref().unwrap_or("")) } td { (u.role) }
                            td { @if u.disabled { (lang.t("disabled")) } @else { (lang.t("active")) } }
                            td {
                                @if u.id != session.principal.user.id {
                                    form.inline method="post" action={ "/admin/users/" (u.id) "/disabled" } {
                                        (csrf)
                                        input type="hidden" name="disabled" value=(!u.disabled);
                                        button.link type="submit" { @if u.disabled { (lang.t("Enable")) } @else { (lang.t("Disable")) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form.row #create-user method="post" action="/admin/users" {
                (csrf)
                label { (lang.t("User name")) input name="username" required; }
                label { (lang.t("Display name")) input name="display_name"; }
                label { (lang.t("Role")) select name="role" { @for r in ["enumerator", "supervisor", "analyst", "admin"] { option value=(r) { (r) } } } }
                label { (lang.t("Password")) input type="password" name="password" required minlength="10" autocomplete="new-password"; }
                button type="submit" { (lang.t("Create")) }
            }
        }
        section #projects {
            h2 { (lang.t("Projects")) }
            ul { @for p in &o.projects { li { (p.name) } } }
            form.row method="post" action="/admin/projects" {
                (csrf)
                label { (lang.t("Name")) input name="name" required; }
                button type="submit" { (lang.t("Create")) }
            }
        }
        section #teams {
            h2 { (lang.t("Teams")) }
            table.list {
                thead { tr { th { (lang.t("Team")) } th { (lang.t("Project")) } th { (lang.t("Members")) } } }
                tbody { @for (t, members) in &o.teams { tr {
                    td { (t.name) } td { (project_name(t.project_id)) }
                    td { @for (i, m) in members.iter().enumerate() { @if i > 0 { ", " } (m.username) " " span.muted { "(" (m.role) ")" } } }
                } } }
            }
            form.row method="post" action="/admin/teams" {
                (csrf)
                label { (lang.t("Project")) select name="project" { @for p in &o.projects { option value=(p.id) { (p.name) } } } }
                label { (lang.t("Name")) input name="name" required; }
                button type="submit" { (lang.t("Create")) }
            }
            form.row method="post" action="/admin/teams/members" {
                (csrf)
                label { (lang.t("Team")) select name="team" { @for (t, _) in &o.teams { option value=(t.id) { (t.name) " · " (project_name(t.project_id)) } } } }
                label { (lang.t("User name")) select name="user" { @for u in &o.users { option value=(u.id) { (u.username) } } } }
                button type="submit" { (lang.t("Add to team")) }
            }
        }
        section #forms {
            h2 { (lang.t("Forms")) }
            table.list {
                thead { tr { th { (lang.t("Form")) } th { (lang.t("Version")) } th { (lang.t("Title")) } th { (lang.t("Project")) } } }
                tbody { @for f in &o.forms { tr { td { (f.form_id) } td { (f.version) } td { (f.title) } td { (project_name(f.project_id)) } } } }
            }
            form.row #publish method="post" action="/admin/forms" enctype="multipart/form-data" {
                (csrf)
                p { (lang.t("Publish a form version (XLSForm .xlsx or .csv)")) }
                label { (lang.t("Project")) select name="project" { @for p in &o.projects { option value=(p.id) { (p.name) } } } }
                input type="file" name="file" accept=".xlsx,.csv" required;
                button type="submit" { (lang.t("Publish")) }
            }
        }
    };
    Ok(layout::page(&session, Section::Admin, lang.t("Administration"), body))
}

fn done() -> Response {
    Redirect::to("/admin?saved=1").into_response()
}

/// Runs an administrative change and returns to the page.
async fn act(
    state: AppState,
    session: Session,
    csrf: &str,
    action: impl FnOnce(&dyn crate::backend::Backend, &User) -> Result<(), ApiError> + Send + 'static,
) -> Result<Response, PageError> {
    require_admin(&session)?;
    session.check_csrf(csrf)?;
    let lang = session.lang;
    let admin = session.principal.user.clone();
    blocking(move || action(state.backend.as_ref(), &admin)).await.map_err(|e| PageError::from_api(lang, e))?;
    Ok(done())
}

/// The user form.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    csrf: String,
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    password: String,
}

/// Creates a user.
pub async fn create_user(
    State(state): State<AppState>,
    session: Session,
    PostForm(f): PostForm<NewUserForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(state, session, &csrf, move |backend, admin| {
        let display_name = Some(f.display_name.trim().to_owned()).filter(|d| !d.is_empty());
        let request =
            CreateUser { username: f.username.trim().to_owned(), password: f.password, role: f.role, display_name };
        let user = create_user_checked(backend, &request)?;
        backend.audit(Some(admin.id), "user.create", None, Some(&user.username))?;
        Ok(())
    })
    .await
}

/// The enable/disable form.
#[derive(Debug, Deserialize)]
pub struct DisableForm {
    csrf: String,
    disabled: bool,
}

/// Enables or disables a user.
pub async fn set_disabled(
    State(state): State<AppState>,
    session: Session,
    Path(user): Path<i64>,
    PostForm(f): PostForm<DisableForm>,
) -> Result<Response, PageError> {
    act(state, session, &f.csrf, move |backend, admin| {
        if user == admin.id {
            return Err(ApiError::invalid("you cannot disable your own account"));
        }
        backend.set_disabled(user, f.disabled)?;
        let action = if f.disabled { "user.disable" } else { "user.enable" };
        backend.audit(Some(admin.id), action, None, Some(&user.to_string()))?;
        Ok(())
    })
    .await
}

/// A name, for projects and teams.
#[derive(Debug, Deserialize)]
pub struct NameForm {
    csrf: String,
    name: String,
    #[serde(default)]
    project: Option<i64>,
}

fn checked_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("a name is 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// Creates a project.
pub async fn create_project(
    State(state): State<AppState>,
    session: Session,
    PostForm(f): PostForm<NameForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(state, session, &csrf, move |backend, admin| {
        let project = backend.create_project(&checked_name(&f.name)?)?;
        backend.audit(Some(admin.id), "project.create", None, Some(&project.name))?;
        Ok(())
    })
    .await
}

/// Creates a team in a project.
pub async fn create_team(
    State(state): State<AppState>,
    session: Session,
    PostForm(f): PostForm<NameForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(state, session, &csrf, move |backend, admin| {
        let project = f.project.ok_or_else(|| ApiError::invalid("choose the team's project"))?;
        let team = backend.create_team(project, &checked_name(&f.name)?)?;
        backend.audit(Some(admin.id), "team.create", None, Some(&team.name))?;
        Ok(())
    })
    .await
}

/// The team membership form.
#[derive(Debug, Deserialize)]
pub struct MemberForm {
    csrf: String,
    team: i64,
    user: i64,
}

/// Adds a user to a team.
pub async fn add_member(
    State(state): State<AppState>,
    session: Session,
    PostForm(f): PostForm<MemberForm>,
) -> Result<Response, PageError> {
    act(state, session, &f.csrf, move |backend, admin| {
        backend.add_team_member(f.team, f.user)?;
        backend.audit(Some(admin.id), "team.add_member", None, Some(&format!("team {} user {}", f.team, f.user)))?;
        Ok(())
    })
    .await
}

/// Publishes the uploaded XLSForm in a project.
pub async fn publish(
    State(state): State<AppState>,
    session: Session,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let lang = session.lang;
    let bad = |e: axum::extract::multipart::MultipartError| PageError::invalid(lang, format!("the upload failed: {e}"));
    let (mut csrf, mut project, mut file) = (String::new(), None, None);
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "csrf" => csrf = field.text().await.map_err(bad)?,
            "project" => project = field.text().await.map_err(bad)?.parse::<i64>().ok(),
            "file" => {
                let name = field.file_name().unwrap_or_default().to_lowercase();
                file = Some((name, field.bytes().await.map_err(bad)?));
            }
            _ => {}
        }
    }
    act(state, session, &csrf, move |backend, admin| {
        let project = project.ok_or_else(|| ApiError::invalid("choose the form's project"))?;
        let (name, bytes) = file.ok_or_else(|| ApiError::invalid("choose an XLSForm file"))?;
        let content_type = match name.rsplit('.').next() {
            Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Some("csv") => "text/csv",
            Some("xls") => "application/vnd.ms-excel",
            _ => "application/octet-stream",
        };
        let form = crate::xlsform_upload::import(content_type, &bytes)?;
        backend.publish_form(project, &form)?;
        backend.audit(Some(admin.id), "form.publish", None, Some(&format!("{} {}", form.id, form.version)))?;
        Ok(())
    })
    .await
}

/// The audit log as a CSV file.
pub async fn audit(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    require_admin(&session)?;
    let lang = session.lang;
    let csv = blocking(move || {
        let entries = state.backend.audit_log(100_000)?;
        audit_csv(&entries).map_err(ApiError::internal)
    })
    .await
    .map_err(|e| PageError::from_api(lang, e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"terrain-audit.csv\""),
        ],
        csv,
    )
        .into_response())
}

/// Roles listed in the user form, for the test that they parse.
#[cfg(test)]
mod tests {
    #[test]
    fn offered_roles_are_roles() {
        for r in ["enumerator", "supervisor", "analyst", "admin"] {
            assert!(r.parse::<terrain_core::Role>().is_ok());
        }
    }
}
