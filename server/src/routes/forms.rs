//! Forms: devices download the definitions of their projects' forms; admins publish.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use terrain_core::Role;
use terrain_core::form::Form;

use crate::app::AppState;
use crate::auth::Caller;
use crate::backend::FormInfo;
use crate::error::{ApiError, blocking};
use crate::rules::Principal;

/// The form versions the caller may use.
#[utoipa::path(get, path = "/api/v1/forms", responses((status = 200, body = Vec<FormInfo>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<FormInfo>>, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        let forms = backend.forms()?;
        Ok(Json(forms.into_iter().filter(|f| may_use(&principal, f.project_id)).collect()))
    })
    .await
}

/// One form version's definition, as JSON.
#[utoipa::path(get, path = "/api/v1/forms/{form_id}/{version}",
    params(("form_id" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "the Form as JSON"), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((form_id, version)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        let project = backend.form_project(&form_id)?;
        if !project.is_some_and(|p| may_use(&principal, p)) {
            // The same answer as for a form that does not exist: ids are not disclosed.
            return Err(ApiError::not_found(format!("form `{form_id}` version `{version}` is not published")));
        }
        let form = backend.form(&form_id, &version)?;
        Ok(Json(serde_json::to_value(form.as_ref()).map_err(ApiError::internal)?))
    })
    .await
}

/// Publishes a form version in a project (admins). The body is the form as JSON, or an
/// XLSForm spreadsheet (`.xlsx`/`.xls` content types).
#[utoipa::path(post, path = "/api/v1/projects/{project}/forms", params(("project" = i64, Path)),
    request_body(content = String, description = "Form JSON or an XLSForm file"),
    responses((status = 201, body = FormInfo), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<FormInfo>), ApiError> {
    if caller.user.role != Role::Admin {
        return Err(ApiError::forbidden("only administrators publish forms"));
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let backend = state.backend.clone();
    blocking(move || {
        let form = parse_form(&content_type, &body)?;
        backend.publish_form(project, &form)?;
        backend.audit(Some(caller.user.id), "form.publish", None, Some(&format!("{} {}", form.id, form.version)))?;
        Ok((
            StatusCode::CREATED,
            Json(FormInfo {
                form_id: form.id.clone(),
                version: form.version.clone(),
                title: form.title.clone(),
                project_id: project,
            }),
        ))
    })
    .await
}

fn parse_form(content_type: &str, body: &[u8]) -> Result<Form, ApiError> {
    if content_type.starts_with("application/json") {
        let text = std::str::from_utf8(body).map_err(|_| ApiError::invalid("the form JSON is not UTF-8"))?;
        return Form::from_json(text).map_err(|e| ApiError::unprocessable("invalid_form", e.to_string()));
    }
    crate::xlsform_upload::import(content_type, body)
}

fn may_use(principal: &Principal, project: i64) -> bool {
    principal.user.role == Role::Admin || principal.membership.projects.contains(&project)
}
