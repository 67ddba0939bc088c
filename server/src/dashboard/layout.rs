//! The frame of every page: head, navigation, language switch and log-out. Pages load one
//! stylesheet and one small script, both served by Terrain (`/assets/…`): no CDN, nothing
//! from the internet, a few kilobytes over a slow link.

use maud::{DOCTYPE, Markup, html};

use super::i18n::Lang;
use super::session::Session;

/// The section of the dashboard a page belongs to, highlighted in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The survey list and survey pages.
    Surveys,
    /// The progress chart.
    Progress,
    /// The map.
    Map,
    /// Form versions: preview and entry.
    Forms,
    /// Entity lists and entities.
    Entities,
    /// OData feeds and feed tokens.
    Feeds,
    /// Users, teams and forms.
    Admin,
    /// The user's own account (their password): in no section of the navigation.
    Account,
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Terrain" }
            link rel="stylesheet" href="/assets/terrain.css";
            script src="/assets/terrain.js" defer {}
            meta name="terrain-lang" content=(lang.code());
        }
    }
}

/// A page with the navigation, for a logged-in user.
pub fn page(session: &Session, section: Section, title: &str, body: Markup) -> Markup {
    let lang = session.lang;
    let link = |s: Section, href: &str, label: &'static str| {
        html! { a href=(href) class=[(s == section).then_some("active")] { (lang.t(label)) } }
    };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title))
            body {
                header.top {
                    a.brand href="/surveys" { "Terrain" }
                    nav {
                        (link(Section::Surveys, "/surveys", "Surveys"))
                        (link(Section::Progress, "/progress", "Progress"))
                        (link(Section::Map, "/map", "Map"))
                        (link(Section::Forms, "/forms", "Forms"))
                        (link(Section::Entities, "/entities", "Entities"))
                        (link(Section::Feeds, "/feeds", "Data feeds"))
                        @if session.is_admin() { (link(Section::Admin, "/admin", "Administration")) }
                    }
                    div.who {
                        span.lang title=(lang.t("Language")) {
                            a href="/lang/fr" class=[(lang == Lang::Fr).then_some("active")] { "FR" }
                            " · "
                            a href="/lang/en" class=[(lang == Lang::En).then_some("active")] { "EN" }
                        }
                        a.user href="/password" title=(lang.t("Change your password")) { (session.display_name()) }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.link type="submit" { (lang.t("Log out")) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page without navigation (log-in, errors).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title))
            body.bare { main { (body) } }
        }
    }
}
