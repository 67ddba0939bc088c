//! The map: survey GPS points, plot outlines (geoshapes) and traces, drawn as SVG in a local
//! projection with a scale bar and no internet tiles (field offices have no bandwidth for
//! them). Each point links to its survey.
//!
//! Locations live inside the survey documents, so the page reads at most [`MAX_SURVEYS`] of
//! the surveys matching the filters, newest first, and says how many it shows.

use axum::extract::{Query, State};
use maud::{Markup, html};
use terrain_core::GeoPoint;
use terrain_core::Value;
use terrain_core::store::SurveySummary;
use terrain_core::survey::{Answer, Answers};

use terrain_services::listing::ListParams;

use super::error::PageError;
use super::i18n::Lang;
use super::layout::{self, Section};
use super::run;
use super::session::Session;
use super::surveys::filters;
use crate::http::AppState;

/// The most surveys one map reads.
pub const MAX_SURVEYS: u32 = 2000;

/// Metres in a degree of latitude.
const METRES_PER_DEGREE: f64 = 111_320.0;

/// One thing to draw.
enum Shape {
    Point(GeoPoint),
    Line(Vec<GeoPoint>),
    Area(Vec<GeoPoint>),
}

struct Located {
    summary: SurveySummary,
    shapes: Vec<Shape>,
}

fn collect(answers: &Answers, out: &mut Vec<Shape>) {
    for answer in answers.0.values() {
        match answer {
            Answer::Value(Value::GeoPoint(p)) => out.push(Shape::Point(*p)),
            Answer::Value(Value::GeoTrace(ps)) if !ps.is_empty() => out.push(Shape::Line(ps.clone())),
            Answer::Value(Value::GeoShape(ps)) if !ps.is_empty() => out.push(Shape::Area(ps.clone())),
            Answer::Repeat(instances) => instances.iter().for_each(|i| collect(i, out)),
            _ => {}
        }
    }
}

/// The map page.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(mut params): Query<ListParams>,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    params.limit = Some(MAX_SURVEYS);
    params.after = None;
    let scope = session.scope().clone();
    let p = params.clone();
    let (located, total, choices) = run(lang, move || {
        let services = &state.services;
        let (surveys, total) = services.surveys_for_map(&scope, &p, MAX_SURVEYS)?;
        let mut located = Vec::new();
        for (summary, survey) in surveys {
            let mut shapes = Vec::new();
            collect(&survey.answers, &mut shapes);
            if !shapes.is_empty() {
                located.push(Located { summary, shapes });
            }
        }
        Ok((located, total, services.filter_choices(&scope)?))
    })
    .await?;
    let shown = total.min(u64::from(MAX_SURVEYS));
    let body = html! {
        h1 { (lang.t("Map")) }
        (filters(lang, &params, &choices))
        p.muted { (lang.t("GPS points and plot outlines")) " · " (shown) " " (lang.t("shown of")) " " (total) " · " (lang.t("Click a point to open its survey.")) }
        @if located.is_empty() { p { (lang.t("No survey with a location matches these filters.")) } }
        @else { div.map { (draw(lang, &located)) } }
    };
    Ok(layout::page(&session, Section::Map, lang.t("Map"), body))
}

/// A round length near `target` metres: 1, 2 or 5 times a power of ten.
fn nice_length(target: f64) -> f64 {
    let power = 10f64.powf(target.max(1.0).log10().floor());
    [5.0, 2.0, 1.0].into_iter().map(|m| m * power).find(|l| *l <= target).unwrap_or(power)
}

fn draw(lang: Lang, located: &[Located]) -> Markup {
    let points = located.iter().flat_map(|l| &l.shapes).flat_map(|s| match s {
        Shape::Point(p) => std::slice::from_ref(p),
        Shape::Line(ps) | Shape::Area(ps) => ps.as_slice(),
    });
    let (mut south, mut north, mut west, mut east) = (90.0f64, -90.0f64, 180.0f64, -180.0f64);
    for p in points {
        south = south.min(p.lat);
        north = north.max(p.lat);
        west = west.min(p.lon);
        east = east.max(p.lon);
    }
    // A local equirectangular projection: fine at the scale of a zone, and honest about
    // distances along the scale bar.
    let squeeze = ((south + north) / 2.0).to_radians().cos().max(0.01);
    let span_x = ((east - west) * squeeze).max(0.0005);
    let span_y = (north - south).max(0.0005);
    let width = 900.0;
    let pad = 30.0;
    let scale = ((width - 2.0 * pad) / span_x).min(520.0 / span_y);
    let height = span_y * scale + 2.0 * pad + 30.0;
    let x = |lon: f64| pad + (lon - west) * squeeze * scale;
    let y = |lat: f64| pad + (north - lat) * scale;
    let path =
        |ps: &[GeoPoint]| ps.iter().map(|p| format!("{:.1},{:.1}", x(p.lon), y(p.lat))).collect::<Vec<_>>().join(" ");
    let metres_per_unit = METRES_PER_DEGREE / scale;
    let bar_metres = nice_length(metres_per_unit * width / 5.0);
    let bar = bar_metres / metres_per_unit;
    let bar_label =
        if bar_metres >= 1000.0 { format!("{} km", bar_metres / 1000.0) } else { format!("{bar_metres} m") };
    html! {
        svg.map xmlns="http://www.w3.org/2000/svg" width=(width) height=(format!("{height:.0}")) viewBox={ "0 0 " (width) " " (format!("{height:.0}")) } role="img" {
            rect x="0" y="0" width=(width) height=(format!("{height:.0}")) class="sea" {}
            @for l in located {
                @let href = format!("/surveys/{}", l.summary.survey_id);
                @let status = l.summary.review_status.as_str();
                @let tip = format!("{} · {} · {}", l.summary.created_by, l.summary.form_id, lang.status(l.summary.review_status));
                a href=(href) class="feature" {
                    @for s in &l.shapes {
                        @match s {
                            Shape::Area(ps) => polygon points=(path(ps)) class="plot" { title { (tip) } },
                            Shape::Line(ps) => polyline points=(path(ps)) class="trace" { title { (tip) } },
                            Shape::Point(p) => circle cx=(format!("{:.1}", x(p.lon))) cy=(format!("{:.1}", y(p.lat))) r="5" class={ "pt " (status) } { title { (tip) } },
                        }
                    }
                }
            }
            g.scale transform=(format!("translate({pad},{:.0})", height - 18.0)) {
                line x1="0" y1="0" x2=(format!("{bar:.1}")) y2="0" {}
                line x1="0" y1="-5" x2="0" y2="5" {}
                line x1=(format!("{bar:.1}")) y1="-5" x2=(format!("{bar:.1}")) y2="5" {}
                text x=(format!("{:.1}", bar / 2.0)) y="-8" text-anchor="middle" { (bar_label) }
            }
            text x=(width - 24.0) y="28" class="north" text-anchor="middle" { "N ↑" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_bars_have_round_lengths() {
        assert_eq!(nice_length(7.0), 5.0);
        assert_eq!(nice_length(180.0), 100.0);
        assert_eq!(nice_length(2600.0), 2000.0);
        assert_eq!(nice_length(0.2), 1.0);
    }
}
