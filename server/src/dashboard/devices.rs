//! A user's devices: which phones and tools log in as them, when each last synced and with
//! what app, and revoking one that was lost, stolen or replaced; and enrolling a new one by
//! QR code (drawn here as SVG, with no image library or internet), listing the codes not
//! yet used, and revoking them. The owner reaches it from their account page, an
//! administrator from the users table, a supervisor by the address for their team's
//! members; the services decide who may.

use axum::Form as PostForm;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use terrain_core::identity::device_key_hex;

use super::error::PageError;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use crate::api::enrolments::{payload, server_address};
use crate::http::{AppState, Scheme};

/// The QR code of `text`, as inline SVG.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).build();
    // Inline in the page: the XML declaration has no place there.
    Some(svg.split_once("?>").map_or(svg.clone(), |(_, rest)| rest.to_owned()))
}

/// The devices of `user`.
pub async fn page(State(state): State<AppState>, session: Session, Path(user): Path<i64>) -> Result<Markup, PageError> {
    render(state, session, user, None).await
}

/// A QR code just made: shown once, above the list.
struct NewCode {
    payload: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

async fn render(state: AppState, session: Session, user: i64, new: Option<NewCode>) -> Result<Markup, PageError> {
    let lang = session.lang;
    let scope = session.scope().clone();
    let (listed, enrolments) =
        run(lang, move || Ok((state.services.devices(&scope, user)?, state.services.enrolments(&scope, user)?)))
            .await?;
    let waiting: Vec<_> = enrolments
        .iter()
        .filter(|e| e.redeemed_at.is_none() && e.revoked_at.is_none() && e.expires_at > chrono::Utc::now())
        .collect();
    let own = session.scope().user_id() == Some(user);
    let section = if own { Section::Account } else { Section::Admin };
    let title =
        if own { lang.t("Your devices").to_owned() } else { format!("{} {}", lang.t("Devices of"), listed.username) };
    let body = html! {
        h1 { (title) }
        @if let Some(new) = &new {
            section #enrolment-code {
                h2 { (lang.t("Scan this code with the Terrain app")) }
                @if let Some(svg) = qr_svg(&new.payload) { div.qr { (PreEscaped(svg)) } }
                p.muted { (lang.t("It works once, until")) " " (new.expires_at.format("%Y-%m-%d %H:%M")) " UTC." }
                p { code #enrolment-payload { (new.payload) } }
            }
        }
        @if listed.may_enrol {
            form.row #enrol method="post" action={ "/users/" (user) "/enrolments" } {
                input type="hidden" name="csrf" value=(session.csrf);
                label { (lang.t("Label")) input name="label" maxlength="100" placeholder=(lang.t("New phone")); }
                button type="submit" { (lang.t("Enrol a device by QR code")) }
            }
        }
        @if !waiting.is_empty() {
            h2 { (lang.t("Codes not used yet")) }
            table.list #enrolments {
                tbody { @for e in &waiting { tr {
                    td { (e.label) } td { (lang.t("until")) " " (e.expires_at.format("%Y-%m-%d %H:%M")) }
                    td { form.inline method="post" action={ "/users/" (user) "/enrolments/" (e.id) "/revoke" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button.link type="submit" { (lang.t("Revoke")) }
                    } }
                } } }
            }
        }
        h2 { (lang.t("Devices")) }
        p.muted { (lang.t("Revoke a device that was lost, stolen or replaced: it can no longer sync or log in, and what it already sent stays.")) }
        @if listed.devices.is_empty() {
            p { (lang.t("No device has logged in yet.")) }
        } @else {
            table.list #devices {
                thead { tr {
                    th { (lang.t("Device")) } th { (lang.t("First login")) } th { (lang.t("Last sync")) }
                    th { (lang.t("App")) } th { (lang.t("Status")) } th {}
                } }
                tbody {
                    @for d in &listed.devices {
                        tr {
                            td { code { (d.device_id) } }
                            td { (d.registered_at.format("%Y-%m-%d %H:%M")) }
                            td { @if let Some(at) = d.last_sync_at { (at.format("%Y-%m-%d %H:%M")) } @else { span.muted { (lang.t("never")) } } }
                            td { (d.client.as_deref().unwrap_or("")) }
                            td { @if let Some(at) = d.revoked_at { (lang.t("revoked")) " " (at.format("%Y-%m-%d %H:%M")) } @else { (lang.t("active")) } }
                            td { @if d.revoked_at.is_none() {
                                form.inline method="post" action={ "/users/" (user) "/devices/" (device_key_hex(&d.key)) "/revoke" } {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    button.link type="submit" { (lang.t("Revoke")) }
                                }
                            } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&session, section, &title, body))
}

/// Where a phone's camera app lands when it opens an enrolment QR code as a link: the code
/// itself is in the link's fragment, which the browser never sends here.
pub async fn landing(headers: HeaderMap) -> Markup {
    let lang = super::Lang::of(&headers);
    layout::bare(
        lang,
        lang.t("Enrol a device"),
        html! {
            h1 { (lang.t("Enrol a device")) }
            p { (lang.t("Scan this QR code from the Terrain app, not the camera: the app enrols the phone with it.")) }
        },
    )
}

/// What the enrolment form posts.
#[derive(Debug, Deserialize)]
pub struct EnrolForm {
    csrf: String,
    #[serde(default)]
    label: String,
}

/// Makes an enrolment and shows its QR code.
pub async fn enrol(
    State(state): State<AppState>,
    session: Session,
    Path(user): Path<i64>,
    headers: HeaderMap,
    scheme: Scheme,
    PostForm(form): PostForm<EnrolForm>,
) -> Result<Markup, PageError> {
    session.check_csrf(&form.csrf)?;
    let lang = session.lang;
    let server = server_address(&state, &headers, scheme).map_err(|e| PageError::from_api(lang, e))?;
    let scope = session.scope().clone();
    let services = state.services.clone();
    let issued = run(lang, move || services.create_enrolment(&scope, user, &form.label)).await?;
    let new = NewCode { expires_at: issued.enrolment.expires_at, payload: payload(server, &issued) };
    render(state, session, user, Some(new)).await
}

/// Revokes a code no device used yet.
pub async fn revoke_enrolment(
    State(state): State<AppState>,
    session: Session,
    Path((user, id)): Path<(i64, i64)>,
    PostForm(form): PostForm<RevokeForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&form.csrf)?;
    let scope = session.scope().clone();
    run(session.lang, move || state.services.revoke_enrolment(&scope, user, id)).await?;
    Ok(Redirect::to(&format!("/users/{user}/devices")).into_response())
}

/// What the revoke button posts.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf: String,
}

/// Revokes one device and shows the list again.
pub async fn revoke(
    State(state): State<AppState>,
    session: Session,
    Path((user, key)): Path<(i64, String)>,
    PostForm(form): PostForm<RevokeForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&form.csrf)?;
    let scope = session.scope().clone();
    run(session.lang, move || state.services.revoke_device(&scope, user, &key)).await?;
    Ok(Redirect::to(&format!("/users/{user}/devices")).into_response())
}
