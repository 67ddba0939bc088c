//! Administration from the browser: users (create, disable), projects and their settings,
//! teams and their members, publishing form versions from an XLSForm file, the surveys that
//! need attention, and the audit log as CSV. The same services as the JSON API answer, with
//! the same checks and the same audit entries.

use axum::Form as PostForm;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use terrain_services::accounts::{CreateUser, ProjectSettings};
use terrain_services::forms::Upload;
use terrain_services::{Fault, FormInfo, Project, Scope, Services, Team, User};

use super::error::PageError;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use super::survey::Saved;
use crate::http::AppState;

fn require_admin(session: &Session) -> Result<(), PageError> {
    session.scope().may_administer().map_err(|e| PageError::from_service(session.lang, e))
}

struct Overview {
    users: Vec<User>,
    projects: Vec<(Project, ProjectSettings)>,
    teams: Vec<(Team, Vec<User>)>,
    forms: Vec<FormInfo>,
    faults: Vec<Fault>,
}

/// The administration page.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(saved): Query<Saved>,
) -> Result<Markup, PageError> {
    require_admin(&session)?;
    let lang = session.lang;
    let scope = session.scope().clone();
    let o = run(lang, move || {
        let services = &state.services;
        let projects = services
            .projects(&scope)?
            .into_iter()
            .map(|p| Ok((p.clone(), services.project_settings(&scope, p.id)?)))
            .collect::<terrain_services::Result<Vec<_>>>()?;
        Ok(Overview {
            users: services.users(&scope)?,
            projects,
            teams: services.teams_with_members(&scope)?,
            forms: services.forms(&scope)?,
            faults: services.faults(&scope)?,
        })
    })
    .await?;
    let csrf = html! { input type="hidden" name="csrf" value=(session.csrf); };
    let project_name =
        |id: i64| o.projects.iter().find(|(p, _)| p.id == id).map(|(p, _)| p.name.clone()).unwrap_or_default();
    let me = session.scope().user_id();
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
                                a href={ "/users/" (u.id) "/devices" } { (lang.t("Devices")) } " "
                                @if Some(u.id) != me {
                                    form.inline method="post" action={ "/admin/users/" (u.id) "/disabled" } {
                                        (csrf)
                                        input type="hidden" name="disabled" value=(!u.disabled);
                                        button.link type="submit" { @if u.disabled { (lang.t("Enable")) } @else { (lang.t("Disable")) } }
                                    }
                                    form.inline.reset method="post" action={ "/admin/users/" (u.id) "/password" } {
                                        (csrf)
                                        input type="password" name="password" required minlength="12" autocomplete="new-password"
                                            placeholder=(lang.t("Temporary password")) aria-label=(lang.t("Temporary password"));
                                        button.link type="submit" { (lang.t("Reset password")) }
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
            table.list {
                thead { tr { th { (lang.t("Name")) } th { (lang.t("Approved surveys")) } } }
                tbody { @for (p, settings) in &o.projects { tr {
                    td { (p.name) }
                    td {
                        form.inline method="post" action={ "/admin/projects/" (p.id) "/settings" } {
                            (csrf)
                            input type="hidden" name="freeze_approved" value=(!settings.freeze_approved);
                            @if settings.freeze_approved { (lang.t("frozen")) " " } @else { (lang.t("open to changes")) " " }
                            button.link type="submit" {
                                @if settings.freeze_approved { (lang.t("Allow changes")) } @else { (lang.t("Freeze")) }
                            }
                        }
                    }
                } } }
            }
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
                label { (lang.t("Project")) select name="project" { @for (p, _) in &o.projects { option value=(p.id) { (p.name) } } } }
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
                label { (lang.t("Project")) select name="project" { @for (p, _) in &o.projects { option value=(p.id) { (p.name) } } } }
                input type="file" name="file" accept=".xlsx,.csv,.zip" required;
                label { (lang.t("Files the form reads (CSV lists)")) input type="file" name="files" accept=".csv" multiple; }
                button type="submit" { (lang.t("Publish")) }
            }
        }
        section #attention {
            h2 { (lang.t("Surveys that need attention")) }
            @if o.faults.is_empty() { p.muted { (lang.t("Every stored survey reads.")) } }
            @else {
                p { (lang.t("These surveys could not be read: they are left out of syncs, exports and the map until fixed.")) }
                table.list {
                    thead { tr { th { (lang.t("Survey")) } th { (lang.t("Last seen")) } th { (lang.t("Times")) } th { (lang.t("Why")) } } }
                    tbody { @for f in &o.faults { tr {
                        td { code { (f.survey_id) } } td { (f.last_at.format("%Y-%m-%d %H:%M")) } td { (f.occurrences) } td { (f.error) }
                    } } }
                }
            }
        }
    };
    Ok(layout::page(&session, Section::Admin, lang.t("Administration"), body))
}

fn done() -> Response {
    Redirect::to("/admin?saved=1").into_response()
}

/// Runs an administrative change and returns to the page: the role and the anti-forgery
/// token are checked before anything else.
async fn act(
    state: AppState,
    session: Session,
    csrf: &str,
    action: impl FnOnce(&Services, &Scope) -> terrain_services::Result<()> + Send + 'static,
) -> Result<Response, PageError> {
    require_admin(&session)?;
    session.check_csrf(csrf)?;
    let scope = session.scope().clone();
    run(session.lang, move || action(&state.services, &scope)).await?;
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
    act(state, session, &csrf, move |services, scope| {
        let display_name = Some(f.display_name.trim().to_owned()).filter(|d| !d.is_empty());
        let request =
            CreateUser { username: f.username.trim().to_owned(), password: f.password, role: f.role, display_name };
        services.create_user(scope, &request).map(|_| ())
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
    act(state, session, &f.csrf, move |services, scope| services.set_disabled(scope, user, f.disabled)).await
}

/// The password reset form.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    csrf: String,
    password: String,
}

/// Sets a temporary password for a user, who must replace it at their next login.
pub async fn reset_password(
    State(state): State<AppState>,
    session: Session,
    Path(user): Path<i64>,
    PostForm(f): PostForm<ResetForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(state, session, &csrf, move |services, scope| services.reset_password(scope, user, &f.password).map(|_| ()))
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

/// Creates a project.
pub async fn create_project(
    State(state): State<AppState>,
    session: Session,
    PostForm(f): PostForm<NameForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(state, session, &csrf, move |services, scope| services.create_project(scope, &f.name).map(|_| ())).await
}

/// The project settings form.
#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    csrf: String,
    freeze_approved: bool,
}

/// Changes a project's settings.
pub async fn set_project_settings(
    State(state): State<AppState>,
    session: Session,
    Path(project): Path<i64>,
    PostForm(f): PostForm<SettingsForm>,
) -> Result<Response, PageError> {
    let settings = ProjectSettings { freeze_approved: f.freeze_approved };
    act(state, session, &f.csrf, move |services, scope| services.set_project_settings(scope, project, settings)).await
}

/// Creates a team in a project.
pub async fn create_team(
    State(state): State<AppState>,
    session: Session,
    PostForm(f): PostForm<NameForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(state, session, &csrf, move |services, scope| {
        let project = f.project.ok_or_else(|| terrain_services::Error::Invalid("choose the team's project".into()))?;
        services.create_team(scope, project, &f.name).map(|_| ())
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
    act(state, session, &f.csrf, move |services, scope| services.add_team_member(scope, f.team, f.user)).await
}

/// Publishes the uploaded XLSForm in a project. The role and the anti-forgery token (the
/// form's first field) are checked before the file is read.
pub async fn publish(
    State(state): State<AppState>,
    session: Session,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    require_admin(&session)?;
    let lang = session.lang;
    let bad = |e: axum::extract::multipart::MultipartError| PageError::invalid(lang, format!("the upload failed: {e}"));
    let mut checked = false;
    let (mut project, mut file) = (None, None);
    let mut files = std::collections::BTreeMap::new();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if !checked {
            if name != "csrf" {
                return Err(PageError::forbidden(lang, "this form has expired: reload the page and try again"));
            }
            session.check_csrf(&field.text().await.map_err(bad)?)?;
            checked = true;
            continue;
        }
        match name.as_str() {
            "project" => project = field.text().await.map_err(bad)?.parse::<i64>().ok(),
            "file" => {
                let upload = Upload::from_file_name(field.file_name().unwrap_or_default())
                    .map_err(|e| PageError::from_service(lang, e))?;
                file = Some((upload, field.bytes().await.map_err(bad)?));
            }
            // The lists the form reads, named as the form names them. A browser sends an
            // empty part when none was chosen.
            "files" => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(bad)?;
                if !name.is_empty() && files.insert(name.clone(), bytes.to_vec()).is_some() {
                    return Err(PageError::invalid(lang, format!("`{name}` was chosen twice")));
                }
            }
            _ => {}
        }
    }
    if !checked {
        return Err(PageError::forbidden(lang, "this form has expired: reload the page and try again"));
    }
    let scope = session.scope().clone();
    run(lang, move || {
        let project = project.ok_or_else(|| terrain_services::Error::Invalid("choose the form's project".into()))?;
        let (upload, bytes) = file.ok_or_else(|| terrain_services::Error::Invalid("choose an XLSForm file".into()))?;
        state.services.publish_form_with_files(&scope, project, upload, &bytes, files).map(|_| ())
    })
    .await?;
    Ok(done())
}

/// The audit log as a CSV file.
pub async fn audit(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    require_admin(&session)?;
    let scope = session.scope().clone();
    let csv = run(session.lang, move || state.services.audit_csv(&scope, 100_000)).await?;
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
