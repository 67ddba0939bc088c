//! One survey, as a supervisor reviews it: the answers laid out as the form shows them
//! (labels in the page's language, groups, repeats), answers to non-relevant questions
//! marked, validation flags, each answer's history, conflicts to settle, the comments, and
//! the actions: approve, reject, flag, send back with a comment, correct an answer.

use axum::Form as PostForm;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use terrain_core::Value;
use terrain_core::form::{Form, FormIndex, Node, Question, QuestionType};
use terrain_core::media::MediaRef;
use terrain_core::survey::{Answer, AnswerPath, Answers, FieldEdit};
use terrain_services::review::{ReviewAction, ReviewRequest};
use terrain_services::surveys::SurveyView;

use super::entities::path_piece;
use super::error::PageError;
use super::i18n::Lang;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use super::surveys::badge;
use crate::http::AppState;

/// Everything the page shows, read in one go by the surveys service.
type Loaded = SurveyView;

/// The form's language matching the page's (`French (fr)` for `fr`), if the form has one.
pub(super) fn form_language(form: &Form, lang: Lang) -> Option<String> {
    let code = lang.code();
    let name = match lang {
        Lang::En => "english",
        Lang::Fr => "fr",
    };
    form.languages
        .iter()
        .find(|l| l.contains(&format!("({code})")) || l.to_lowercase().starts_with(name) || l.as_str() == code)
        .cloned()
}

/// Whether the page was reached after saving something.
#[derive(Debug, Default, Deserialize)]
pub struct Saved {
    pub(super) saved: Option<String>,
}

/// The survey page.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Path(survey_id): Path<String>,
    Query(saved): Query<Saved>,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    let scope = session.scope().clone();
    let loaded =
        run(lang, move || state.services.survey_view(&scope, &survey_id, &|form| form_language(form, lang))).await?;
    let title = format!("{} · {}", loaded.form.title, loaded.summary.survey_id.get(..8).unwrap_or_default());
    let body = render(&session, &loaded, saved.saved.is_some());
    Ok(layout::page(&session, Section::Surveys, &title, body))
}

struct View<'a> {
    lang: Lang,
    form_lang: Option<String>,
    loaded: &'a Loaded,
    csrf: &'a str,
    reviewer: bool,
}

impl View<'_> {
    fn label<'t>(&self, t: &'t terrain_core::form::Translations, fallback: &'t str) -> &'t str {
        t.get(self.form_lang.as_deref(), self.loaded.form.default_language.as_deref()).unwrap_or(fallback)
    }

    /// An answer as a person reads it: choice labels rather than codes.
    fn show(&self, question: &Question, value: &Value) -> String {
        let labels = |codes: &[String]| -> String {
            let list = question.kind.choice_list().and_then(|l| self.loaded.form.choice_lists.get(l));
            codes
                .iter()
                .map(|code| {
                    list.and_then(|choices| choices.iter().find(|c| &c.name == code))
                        .map(|c| self.label(&c.label, code).to_owned())
                        .unwrap_or_else(|| code.clone())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match value {
            Value::Choice(code) => labels(std::slice::from_ref(code)),
            Value::Choices(codes) => labels(codes),
            Value::GeoPoint(p) => format!("{:.6}, {:.6} (± {} m)", p.lat, p.lon, p.accuracy),
            Value::GeoTrace(ps) | Value::GeoShape(ps) => format!("{} points", ps.len()),
            other => other.to_odk_string(),
        }
    }

    fn nodes(&self, nodes: &[Node], answers: &Answers, at: &dyn Fn(&str) -> AnswerPath) -> Markup {
        html! {
            @for node in nodes {
                @match node {
                    Node::Question(q) => { (self.question(q, answers, &at(&q.name))) }
                    Node::Group(g) => {
                        @let path = at(&g.name);
                        fieldset.nr[!self.loaded.evaluation.is_relevant(&path)] {
                            legend { (self.label(&g.label, &g.name)) }
                            (self.nodes(&g.children, answers, at))
                        }
                    }
                    Node::Repeat(g) => {
                        @let repeat = at(&g.name);
                        @let instances = answers.repeat(&g.name);
                        fieldset.repeat.nr[!self.loaded.evaluation.is_relevant(&repeat)] {
                            legend { (self.label(&g.label, &g.name)) " (" (instances.len()) ")" }
                            @if instances.is_empty() { p.muted { (self.lang.t("no instance")) } }
                            @for (i, instance) in instances.iter().enumerate() {
                                section.instance {
                                    h4 { (self.lang.t("Instance")) " " (i + 1) }
                                    (self.nodes(&g.children, instance, &|name| repeat.child(i, name)))
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn question(&self, q: &Question, answers: &Answers, path: &AnswerPath) -> Markup {
        let answer = answers.get(&q.name);
        if matches!(q.kind, QuestionType::Note) || (!q.kind.takes_answer() && answer.is_none()) {
            return html! {};
        }
        let evaluation = &self.loaded.evaluation;
        let relevant = evaluation.is_relevant(path);
        let key = path.to_string();
        let missing = evaluation.missing_required.iter().find(|i| i.path == *path);
        let violation = evaluation.violations.iter().find(|i| i.path == *path);
        let conflicted = self.loaded.conflicts.iter().any(|c| c.path == *path);
        let history = self.loaded.history.get(&key);
        let attachment = match answer {
            Some(Answer::Value(Value::Media(m))) => Some(m),
            _ => None,
        };
        let shown = match answer {
            Some(Answer::Value(v)) => Some(self.show(q, v)),
            Some(Answer::Unreadable(raw)) => Some(format!("{raw} (?)")),
            _ => None,
        };
        let current = match answer {
            Some(Answer::Value(v)) => v.to_odk_string(),
            Some(Answer::Unreadable(raw)) => raw.clone(),
            _ => String::new(),
        };
        html! {
            div.q.nr[!relevant].missing[missing.is_some()].violation[violation.is_some()].conflicted[conflicted] id={ "q-" (key) } data-path=(key) {
                div.label { (self.label(&q.label, &q.name)) " " span.name { (q.name) } }
                div.answer {
                    @match (attachment, &shown) {
                        (Some(m), _) => (self.attachment(m)),
                        (None, Some(text)) => span.value { (text) },
                        (None, None) => span.muted { "—" },
                    }
                    @if !relevant { " " span.flag.nr { (self.lang.t("Not relevant: left out of exports")) } }
                    @if missing.is_some() { " " span.flag.missing { (self.lang.t("Required answer missing")) } }
                    @if let Some(v) = violation { " " span.flag.violation { (v.message) } }
                    @if conflicted { " " span.flag.conflict { "⚠ " (self.lang.t("Conflicts")) } }
                }
                @if history.is_some_and(|h| !h.is_empty()) || self.reviewer {
                    details.more {
                        summary { (self.lang.t("History")) @if self.reviewer { " · " (self.lang.t("Correct")) } }
                        @if let Some(edits) = history { (self.history(q, edits)) }
                        @if self.reviewer && q.kind.takes_answer() {
                            form.correct method="post" action={ "/surveys/" (self.loaded.summary.survey_id) "/correct" } {
                                input type="hidden" name="csrf" value=(self.csrf);
                                input type="hidden" name="path" value=(key);
                                label { (self.lang.t("New value")) " " input name="other" value=(current) required; }
                                button type="submit" { (self.lang.t("Save the correction")) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// An attached file: a photo's thumbnail linking to the photo, a player for sound and
    /// video, a link for anything else; or that it is still on the device that took it.
    fn attachment(&self, m: &MediaRef) -> Markup {
        let url = format!("/media/{}", m.digest);
        let size = if m.size >= 1 << 20 {
            format!("{:.1} MB", m.size as f64 / f64::from(1 << 20))
        } else {
            format!("{} KB", m.size.div_ceil(1024))
        };
        if !self.loaded.media_held.contains(&m.digest) {
            return html! {
                span.value.media { (m.file_name) " " span.muted { "(" (size) ")" } }
                " " span.flag.waiting { "⏳ " (self.lang.t("Still on the device: it arrives when the device syncs")) }
            };
        }
        html! {
            span.value.media {
                @match m.kind() {
                    "image" => a.photo href=(url) { img.thumbnail src={ (url) "/thumbnail" } alt=(m.file_name) loading="lazy"; },
                    "audio" => audio controls preload="none" src=(url) {},
                    "video" => video controls preload="none" src=(url) {},
                    _ => {},
                }
                " " a href=(url) { (m.file_name) } " " span.muted { "(" (size) ")" }
            }
        }
    }

    fn history(&self, q: &Question, edits: &[FieldEdit]) -> Markup {
        html! {
            ol.history {
                @for e in edits {
                    li {
                        @match &e.value {
                            Some(Answer::Value(v)) => strong { (self.show(q, v)) },
                            Some(Answer::Unreadable(raw)) => strong { (raw) },
                            _ => em { (self.lang.t("cleared")) },
                        }
                        " " (self.lang.t("by")) " "
                        @match &e.author {
                            Some(a) => { (a.user) " (" (a.role) ", " (a.device) ")" },
                            None => { code { (e.actor.get(..8).unwrap_or_default()) } },
                        }
                        @if let Some(at) = e.at { " · " (at.format("%Y-%m-%d %H:%M")) }
                        @if let Some(at) = e.received_at { span.muted { " · " (self.lang.t("received at")) " " (at.format("%Y-%m-%d %H:%M")) } }
                    }
                }
            }
        }
    }

    fn conflicts(&self) -> Markup {
        let index = FormIndex::new(&self.loaded.form);
        let survey_id = &self.loaded.summary.survey_id;
        html! {
            section.conflicts #conflicts {
                h2 { "⚠ " (self.lang.t("Conflicts")) }
                p { (self.lang.t("These answers were changed by two people at once. Choose the value to keep, or enter another.")) }
                @for c in &self.loaded.conflicts {
                    @let question = index.question(&c.path.name);
                    form.settle method="post" action={ "/surveys/" (survey_id) "/correct" } {
                        input type="hidden" name="csrf" value=(self.csrf);
                        input type="hidden" name="path" value=(c.path.to_string());
                        h3 { @if let Some(q) = question { (self.label(&q.label, &q.name)) } " " span.name { (c.path.to_string()) } }
                        @for v in &c.values {
                            @let (code, shown) = match (&v.value, question) {
                                (Answer::Value(value), Some(q)) => (value.to_odk_string(), self.show(q, value)),
                                (Answer::Value(value), None) => (value.to_odk_string(), value.to_odk_string()),
                                (other, _) => (String::new(), format!("{other:?}")),
                            };
                            label.choice {
                                input type="radio" name="choice" value=(code) required;
                                " " strong { (shown) } " — "
                                @match &v.author { Some(a) => { (a.user) " (" (a.role) ")" }, None => { code { (v.actor.get(..8).unwrap_or_default()) } } }
                            }
                        }
                        @if self.reviewer {
                            label { (self.lang.t("Other value")) " " input name="other"; }
                            button type="submit" { (self.lang.t("Settle")) }
                        }
                    }
                }
            }
        }
    }

    fn review(&self) -> Markup {
        let loaded = self.loaded;
        let review = &loaded.survey.review;
        html! {
            section.comments #comments {
                h2 { (self.lang.t("Comments")) }
                @if review.comments.is_empty() { p.muted { (self.lang.t("No comment yet.")) } }
                ul {
                    @for c in &review.comments {
                        li {
                            strong { (c.author) }
                            @if let Some(at) = c.at { span.muted { " · " (at.format("%Y-%m-%d %H:%M")) } }
                            @if let Some(q) = &c.question { span.muted { " · " (self.lang.t("about")) " " code { (q) } } }
                            p { (c.text) }
                        }
                    }
                }
            }
            @if self.reviewer {
                section.actions #review {
                    h2 { (self.lang.t("Actions")) }
                    form method="post" action={ "/surveys/" (loaded.summary.survey_id) "/review" } {
                        input type="hidden" name="csrf" value=(self.csrf);
                        label { (self.lang.t("Comment")) textarea #comment name="comment" rows="3" {} }
                        label { (self.lang.t("Question (optional)"))
                            select #question name="question" {
                                option value="" { "—" }
                                @for (q, _) in loaded.form.questions() {
                                    @if q.kind.takes_answer() { option value=(q.name) { (self.label(&q.label, &q.name)) } }
                                }
                            }
                        }
                        div.buttons {
                            button #approve type="submit" name="action" value="approve" { (self.lang.t("Approve")) }
                            button #send-back type="submit" name="action" value="send_back" { (self.lang.t("Send back to the enumerator")) }
                            button #has-issues type="submit" name="action" value="has_issues" { (self.lang.t("Flag issues")) }
                            button #comment-only type="submit" name="action" value="comment" { (self.lang.t("Add the comment only")) }
                            button #reject.danger type="submit" name="action" value="reject" { (self.lang.t("Reject")) }
                        }
                    }
                }
            }
        }
    }
}

fn render(session: &Session, loaded: &Loaded, saved: bool) -> Markup {
    let lang = session.lang;
    let view = View {
        lang,
        form_lang: form_language(&loaded.form, lang),
        loaded,
        csrf: &session.csrf,
        reviewer: loaded.reviewable,
    };
    let s = &loaded.summary;
    let evaluation = &loaded.evaluation;
    html! {
        p { a href="/surveys" { "« " (lang.t("Back to the list")) } }
        h1 { (loaded.form.title) " " span.muted { (s.survey_id) } }
        @if saved { p.flash role="status" { (lang.t("Saved.")) } }
        dl.meta {
            dt { (lang.t("Enumerator")) } dd #enumerator { (s.created_by) }
            dt { (lang.t("Started")) } dd { (s.created_at.format("%Y-%m-%d %H:%M")) }
            dt { (lang.t("Updated")) } dd { (s.updated_at.format("%Y-%m-%d %H:%M")) }
            dt { (lang.t("Status")) } dd { (lang.t(s.status.as_str())) }
            dt { (lang.t("Review")) } dd #review-status { (badge(lang, s.review_status)) }
            dt { (lang.t("Form")) } dd { (s.form_id) " " (s.form_version) }
            @for link in &loaded.entities {
                dt { (lang.t("Entity")) }
                dd.entity {
                    (link.list) " · "
                    a href={ "/entities/" (path_piece(&link.list)) "/" (path_piece(&link.id)) } { code { (link.id) } }
                    " (" (lang.t(if link.action == "create" { "created" } else { "updated" })) ")"
                }
            }
        }
        section.validation #validation {
            h2 { (lang.t("Validation")) }
            @if evaluation.missing_required.is_empty() && evaluation.violations.is_empty() {
                p.ok { "✓ " (lang.t("Every required answer is given and every constraint holds.")) }
            }
            ul {
                @for i in &evaluation.missing_required { li.missing { a href={ "#q-" (i.path) } { code { (i.path) } } " " (i.message) } }
                @for i in &evaluation.violations { li.violation { a href={ "#q-" (i.path) } { code { (i.path) } } " " (i.message) } }
            }
        }
        @if let Some(changed) = &loaded.changed_since_approval {
            section.changed #changed-since-approval {
                h2 { (lang.t("Changed after approval")) }
                @if changed.is_empty() { p { (lang.t("No answer differs from the approved ones.")) } }
                @else {
                    p { (lang.t("These answers differ from the ones approved; approve again once checked:")) }
                    ul { @for path in changed { li { a href={ "#q-" (path) } { code { (path) } } } } }
                }
            }
        }
        @if !loaded.conflicts.is_empty() { (view.conflicts()) }
        (view.review())
        section.answers #answers {
            h2 { (lang.t("Answers")) }
            (view.nodes(&loaded.form.children, &loaded.survey.answers, &|name: &str| AnswerPath::top(name)))
        }
    }
}

/// What the review form posts.
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    csrf: String,
    action: ReviewAction,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    question: String,
}

/// Applies a review action, then shows the survey again.
pub async fn review(
    State(state): State<AppState>,
    session: Session,
    Path(survey_id): Path<String>,
    PostForm(form): PostForm<ReviewForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&form.csrf)?;
    let lang = session.lang;
    let request = ReviewRequest {
        action: form.action,
        comment: Some(form.comment).filter(|c| !c.trim().is_empty()),
        question: Some(form.question).filter(|q| !q.trim().is_empty()),
    };
    let id = survey_id.clone();
    let scope = session.scope().clone();
    run(lang, move || state.services.review(&scope, &id, &request)).await?;
    Ok(back_to(&survey_id))
}

/// What a correction or a conflict settlement posts: a value typed, or one chosen.
#[derive(Debug, Deserialize)]
pub struct CorrectionForm {
    csrf: String,
    path: String,
    #[serde(default)]
    choice: String,
    #[serde(default)]
    other: String,
}

/// Corrects an answer or settles a conflict, then shows the survey again.
pub async fn correct(
    State(state): State<AppState>,
    session: Session,
    Path(survey_id): Path<String>,
    PostForm(form): PostForm<CorrectionForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&form.csrf)?;
    let lang = session.lang;
    let path: AnswerPath = form
        .path
        .parse()
        .map_err(|e: terrain_core::survey::PathSyntaxError| PageError::invalid(lang, e.to_string()))?;
    let text = if form.other.trim().is_empty() { form.choice } else { form.other };
    let id = survey_id.clone();
    let scope = session.scope().clone();
    run(lang, move || state.services.correct_text(&scope, &id, &path, &text)).await?;
    Ok(back_to(&survey_id))
}

fn back_to(survey_id: &str) -> Response {
    // Survey ids are UUIDs; anything else would not have passed `open_survey`.
    let safe: String = survey_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    Redirect::to(&format!("/surveys/{safe}?saved=1")).into_response()
}
