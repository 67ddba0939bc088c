//! Field progress: surveys per enumerator per day, drawn as SVG on the server (a bar per
//! day for the team, and a grid of enumerator × day), so the page needs no chart library
//! and stays a few kilobytes.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Query, State};
use chrono::NaiveDate;
use maud::{Markup, PreEscaped, html};
use terrain_core::store::DailyCount;

use terrain_services::listing::ListParams;

use super::error::PageError;
use super::i18n::Lang;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use super::surveys::filters;
use crate::http::AppState;

/// The progress page.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    let scope = session.scope().clone();
    let p = params.clone();
    let (counts, choices) = run(lang, move || {
        let services = &state.services;
        Ok((services.daily_counts(&scope, &p)?, services.filter_choices(&scope)?))
    })
    .await?;
    let body = html! {
        h1 { (lang.t("Progress")) }
        (filters(lang, &params, &choices, None))
        @if counts.is_empty() { p.muted { (lang.t("No survey yet.")) } }
        @else {
            h2 { (lang.t("Surveys per day")) }
            div.chart { (per_day(&counts)) }
            h2 { (lang.t("Surveys per enumerator per day")) }
            div.chart { (grid(lang, &counts)) }
        }
    };
    Ok(layout::page(&session, Section::Progress, lang.t("Progress"), body))
}

fn days(counts: &[DailyCount]) -> Vec<NaiveDate> {
    let (Some(first), Some(last)) = (counts.iter().map(|c| c.day).min(), counts.iter().map(|c| c.day).max()) else {
        return Vec::new();
    };
    // Every day in between, so that days without surveys show as gaps.
    first.iter_days().take_while(|d| *d <= last).take(366).collect()
}

/// A bar per day: the day's total.
fn per_day(counts: &[DailyCount]) -> Markup {
    let days = days(counts);
    let mut totals: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    for c in counts {
        *totals.entry(c.day).or_default() += c.surveys;
    }
    let max = totals.values().copied().max().unwrap_or(1).max(1);
    let (bar, gap, height, left, bottom, top) = (22.0, 4.0, 160.0, 36.0, 34.0, 18.0);
    let width = left + days.len() as f64 * (bar + gap) + 8.0;
    html! {
        svg.bars xmlns="http://www.w3.org/2000/svg" width=(width) height=(height + bottom + top) viewBox={ "0 0 " (width) " " (height + bottom + top) } role="img" {
            line x1=(left) y1=(top) x2=(left) y2=(height + top) class="axis" {}
            text x=(left - 6.0) y=(top + 6.0) text-anchor="end" class="tick" { (max) }
            text x=(left - 6.0) y=(height + top) text-anchor="end" class="tick" { "0" }
            @for (i, day) in days.iter().enumerate() {
                @let n = totals.get(day).copied().unwrap_or(0);
                @let h = n as f64 / max as f64 * height;
                @let x = left + 4.0 + i as f64 * (bar + gap);
                rect x=(x) y=(height + top - h) width=(bar) height=(h) class="bar" { title { (day) ": " (n) } }
                @if n > 0 { text x=(x + bar / 2.0) y=(height + top - 4.0 - h) text-anchor="middle" class="value" { (n) } }
                @if i % 2 == 0 || days.len() <= 14 {
                    text x=(x + bar / 2.0) y=(height + top + 14.0) text-anchor="middle" class="tick" { (day.format("%d/%m")) }
                }
            }
        }
    }
}

/// A grid of enumerators × days, each cell shaded by its count.
fn grid(lang: Lang, counts: &[DailyCount]) -> Markup {
    let days = days(counts);
    let people: BTreeSet<&str> = counts.iter().map(|c| c.enumerator.as_str()).collect();
    let cell: BTreeMap<(&str, NaiveDate), u64> =
        counts.iter().map(|c| ((c.enumerator.as_str(), c.day), c.surveys)).collect();
    let max = counts.iter().map(|c| c.surveys).max().unwrap_or(1).max(1);
    let (size, left, top) = (26.0, 120.0, 44.0);
    let width = left + (days.len() as f64 + 1.5) * size + 40.0;
    let height = top + people.len() as f64 * size + 8.0;
    html! {
        svg.grid xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } role="img" {
            @for (j, day) in days.iter().enumerate() {
                @let x = left + j as f64 * size + size / 2.0;
                text x=(x) y=(top - 8.0) text-anchor="start" transform=(PreEscaped(format!("rotate(-50 {x} {})", top - 8.0))) class="tick" { (day.format("%d/%m")) }
            }
            text x=(left + (days.len() as f64 + 0.8) * size) y=(top - 8.0) class="tick" { (lang.t("Total")) }
            @for (i, person) in people.iter().enumerate() {
                @let y = top + i as f64 * size;
                text x=(left - 8.0) y=(y + size * 0.65) text-anchor="end" class="person" { (person) }
                @for (j, day) in days.iter().enumerate() {
                    @let n = cell.get(&(*person, *day)).copied().unwrap_or(0);
                    @let shade = if n == 0 { 0.0 } else { 0.2 + 0.8 * n as f64 / max as f64 };
                    rect x=(left + j as f64 * size) y=(y) width=(size - 2.0) height=(size - 2.0) class="cell" fill-opacity=(format!("{shade:.2}")) {
                        title { (person) " · " (day) ": " (n) }
                    }
                    @if n > 0 { text x=(left + j as f64 * size + size / 2.0 - 1.0) y=(y + size * 0.65) text-anchor="middle" class="count" { (n) } }
                }
                @let total: u64 = counts.iter().filter(|c| c.enumerator == *person).map(|c| c.surveys).sum();
                text x=(left + (days.len() as f64 + 0.8) * size) y=(y + size * 0.65) class="total" { (total) }
            }
        }
    }
}
