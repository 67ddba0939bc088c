//! Forms filled in the browser: the list of form versions, each one's **preview** (fillable,
//! re-evaluated after every input, with the language switch), and **entry** of a survey
//! from the same page ("Nouvelle enquête"), saved as a draft or finalized.
//!
//! The page is the form definition and the answers, rendered by `assets/fill.js`; every
//! evaluation is the server's (`Services::preview`, the core evaluator the phone runs), so
//! the page decides nothing about relevance or validity itself. The JSON endpoints take
//! the session's anti-forgery token in the `X-CSRF-Token` header.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Value as Json_, json};
use terrain_services::FormInfo;
use terrain_services::entry::Draft;
use terrain_services::form_eval::Report;

use super::error::PageError;
use super::i18n::Lang;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use super::survey::form_language;
use crate::api::error::ApiError;
use crate::http::{AppState, blocking};

/// The page's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Try the form: nothing is saved.
    Preview,
    /// Enter a survey: saved as a draft or finalized.
    Entry,
}

/// The form versions the user may use, each with its preview and, for those who may,
/// a new survey.
pub async fn list(State(state): State<AppState>, session: Session) -> Result<Markup, PageError> {
    let lang = session.lang;
    let scope = session.scope().clone();
    let forms: Vec<(FormInfo, bool)> = run(lang, move || state.services.fillable_forms(&scope)).await?;
    let body = html! {
        h1 { (lang.t("Forms")) }
        @if forms.is_empty() { p.muted { (lang.t("No form is published in your projects yet.")) } }
        table.list {
            thead { tr { th { (lang.t("Form")) } th { (lang.t("Version")) } th {} } }
            tbody {
                @for (form, may_enter) in &forms {
                    tr {
                        td { (form.title) " " span.name { (form.form_id) } }
                        td { (form.version) }
                        td.buttons {
                            a href=(format!("/forms/{}/{}/preview", form.form_id, form.version)) { (lang.t("Preview")) }
                            @if *may_enter {
                                " · "
                                a href=(format!("/forms/{}/{}/new", form.form_id, form.version)) { (lang.t("New survey")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&session, Section::Forms, lang.t("Forms"), body))
}

/// The preview of a form version.
pub async fn preview(
    State(state): State<AppState>,
    session: Session,
    Path((form_id, version)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let scope = session.scope().clone();
    let (draft, may_enter) = run(session.lang, move || state.services.preview_form(&scope, &form_id, &version)).await?;
    Ok(page(&session, Mode::Preview, &draft, None, may_enter))
}

/// A new survey of a form version, entered in the browser.
pub async fn new_entry(
    State(state): State<AppState>,
    session: Session,
    Path((form_id, version)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let scope = session.scope().clone();
    let draft = run(session.lang, move || state.services.new_entry(&scope, &form_id, &version)).await?;
    Ok(page(&session, Mode::Entry, &draft, None, true))
}

/// A draft its author continues.
pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(survey_id): Path<String>,
) -> Result<Markup, PageError> {
    let scope = session.scope().clone();
    let id = survey_id.clone();
    let draft = run(session.lang, move || state.services.draft(&scope, &id)).await?;
    Ok(page(&session, Mode::Entry, &draft, Some(&survey_id), true))
}

/// What the page posts to be evaluated.
#[derive(Debug, Deserialize)]
pub struct EvaluateRequest {
    answers: Json_,
    #[serde(default)]
    lang: Option<String>,
}

/// The evaluation after an input (JSON).
pub async fn evaluate(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path((form_id, version)): Path<(String, String)>,
    Json(request): Json<EvaluateRequest>,
) -> Result<Json<Report>, ApiError> {
    check_csrf(&session, &headers)?;
    let scope = session.scope().clone();
    let report =
        blocking(move || state.services.preview(&scope, &form_id, &version, &request.answers, request.lang.as_deref()))
            .await?;
    Ok(Json(report))
}

/// What the page posts to save an entry.
#[derive(Debug, Deserialize)]
pub struct SaveRequest {
    #[serde(default)]
    survey_id: Option<String>,
    answers: Json_,
    #[serde(default)]
    finalize: bool,
}

/// Saves an entry (JSON): where the survey now is, and any issues that kept it a draft.
pub async fn save(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path((form_id, version)): Path<(String, String)>,
    Json(request): Json<SaveRequest>,
) -> Result<Json<Json_>, ApiError> {
    check_csrf(&session, &headers)?;
    let scope = session.scope().clone();
    let saved = blocking(move || {
        let id = request.survey_id.as_deref();
        state.services.save_entry(&scope, &form_id, &version, id, &request.answers, request.finalize)
    })
    .await?;
    let url = if saved.finalized {
        format!("/surveys/{}", saved.survey_id)
    } else {
        format!("/surveys/{}/edit", saved.survey_id)
    };
    Ok(Json(json!({
        "survey_id": saved.survey_id,
        "finalized": saved.finalized,
        "issues": saved.issues,
        "url": url,
    })))
}

fn check_csrf(session: &Session, headers: &HeaderMap) -> Result<(), ApiError> {
    let posted = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    session
        .check_csrf(posted)
        .map_err(|_| terrain_services::Error::Forbidden("this page has expired: reload it and try again".into()).into())
}

/// The page: a frame the script fills from the form definition and the answers.
fn page(session: &Session, mode: Mode, draft: &Draft, survey_id: Option<&str>, may_enter: bool) -> Markup {
    let lang = session.lang;
    let form = &draft.form;
    let base = format!("/forms/{}/{}", form.id, form.version);
    let data = json!({
        "form": &**form,
        "answers": draft.answers,
        "lang": form_language(form, lang),
        "mode": if mode == Mode::Entry { "entry" } else { "preview" },
        "survey_id": survey_id,
        "evaluate_url": format!("{base}/evaluate"),
        "save_url": format!("{base}/entries"),
        "texts": texts(lang),
    });
    // No `<` at all inside the script element (`</script>`, `<!--`): JSON may escape it,
    // and it only ever appears inside strings.
    let data = data.to_string().replace('<', "\\u003c");
    let title = match mode {
        Mode::Preview => format!("{} · {}", lang.t("Preview"), form.title),
        Mode::Entry => format!("{} · {}", lang.t("New survey"), form.title),
    };
    let body = html! {
        h1 { (title) }
        p.muted {
            (form.id) " · " (lang.t("Version")) " " (form.version)
            @if mode == Mode::Preview { " · " (lang.t("Nothing you enter here is saved.")) }
        }
        @if mode == Mode::Preview && may_enter {
            p { a.button href=(format!("{base}/new")) { (lang.t("New survey")) } }
        }
        @if form.languages.len() > 1 {
            p {
                label for="fill-lang" { (lang.t("Form language")) " " }
                select #fill-lang {
                    @for l in &form.languages { option value=(l) { (l) } }
                }
            }
        }
        div #fill-status role="status" aria-live="polite" {}
        form #fill novalidate data-csrf=(session.csrf) {
            noscript { p { (lang.t("This page needs JavaScript.")) } }
        }
        @if mode == Mode::Entry {
            div.buttons {
                button #fill-save type="button" { (lang.t("Save draft")) }
                button #fill-finalize type="button" { (lang.t("Finalize")) }
            }
        }
        script #fill-data type="application/json" { (PreEscaped(data)) }
        script src="/assets/fill.js" defer {}
    };
    layout::page(session, Section::Forms, &title, body)
}

/// The phrases the script shows, in the page's language.
fn texts(lang: Lang) -> Json_ {
    let phrases = [
        "Add",
        "Remove",
        "Instance",
        "required",
        "Ready to finalize.",
        "Not ready to finalize:",
        "Saved as a draft.",
        "Could not save:",
        "Could not evaluate:",
        "Not available in the browser.",
        "Choose…",
    ];
    phrases.iter().map(|p| (p.to_string(), Json_::from(lang.t(p)))).collect::<serde_json::Map<_, _>>().into()
}
