//! The map: survey GPS points, plot outlines (geoshapes) and traces, and on request the
//! entities of one list (`?entities=plots`: their points and outlines), drawn as SVG in a
//! local projection with a scale bar and no internet tiles (field offices have no bandwidth
//! for them). Each shape links to its survey or entity.
//!
//! Locations live inside the survey documents, so the page reads at most [`MAX_SURVEYS`] of
//! the surveys matching the filters, newest first, and says how many it shows; an entity
//! list draws at most `MAX_ON_MAP` entities.

use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;
use terrain_core::GeoPoint;
use terrain_core::Value;
use terrain_core::store::SurveySummary;
use terrain_core::survey::{Answer, Answers};

use terrain_services::entities::{MAX_ON_MAP, PlacedEntity};
use terrain_services::listing::ListParams;

use super::entities::path_piece;
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

/// The entity list drawn over the surveys, if any.
#[derive(Debug, Default, Deserialize)]
pub struct Layers {
    entities: Option<String>,
}

/// One thing to draw.
enum Shape {
    Point(GeoPoint),
    Line(Vec<GeoPoint>),
    Area(Vec<GeoPoint>),
}

impl Shape {
    fn of(value: &Value) -> Option<Shape> {
        match value {
            Value::GeoPoint(p) => Some(Shape::Point(*p)),
            Value::GeoTrace(ps) if !ps.is_empty() => Some(Shape::Line(ps.clone())),
            Value::GeoShape(ps) if !ps.is_empty() => Some(Shape::Area(ps.clone())),
            _ => None,
        }
    }
}

/// A survey's or an entity's shapes, with where they lead.
struct Located {
    href: String,
    tip: String,
    /// The class of its points: the survey's review status, or `entity`.
    class: String,
    shapes: Vec<Shape>,
}

impl Located {
    fn survey(lang: Lang, summary: &SurveySummary, shapes: Vec<Shape>) -> Located {
        Located {
            href: format!("/surveys/{}", summary.survey_id),
            tip: format!("{} · {} · {}", summary.created_by, summary.form_id, lang.status(summary.review_status)),
            class: summary.review_status.as_str().to_owned(),
            shapes,
        }
    }

    fn entity(lang: Lang, list: &str, entity: PlacedEntity) -> Located {
        let conflict =
            if entity.has_conflicts { format!(" · {}", lang.t("Conflict to settle")) } else { String::new() };
        Located {
            href: format!("/entities/{}/{}", path_piece(list), path_piece(&entity.id)),
            tip: format!("{} · {}{conflict}", entity.label, entity.id),
            class: if entity.has_conflicts { "entity conflict".to_owned() } else { "entity".to_owned() },
            shapes: Shape::of(&entity.position).into_iter().collect(),
        }
    }
}

fn collect(answers: &Answers, out: &mut Vec<Shape>) {
    for answer in answers.0.values() {
        match answer {
            Answer::Value(value) => out.extend(Shape::of(value)),
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
    Query(layers): Query<Layers>,
) -> Result<Markup, PageError> {
    let lang = session.lang;
    params.limit = Some(MAX_SURVEYS);
    params.after = None;
    let scope = session.scope().clone();
    let p = params.clone();
    let list = layers.entities.filter(|l| !l.is_empty());
    let chosen = list.clone();
    let (mut located, total, choices, lists, entities) = run(lang, move || {
        let services = &state.services;
        let (surveys, total) = services.surveys_for_map(&scope, &p, MAX_SURVEYS)?;
        let mut located = Vec::new();
        for (summary, survey) in surveys {
            let mut shapes = Vec::new();
            collect(&survey.answers, &mut shapes);
            if !shapes.is_empty() {
                located.push(Located::survey(lang, &summary, shapes));
            }
        }
        let lists = services.entity_list_index(&scope)?;
        let entities = match &chosen {
            Some(list) => Some(services.entities_for_map(&scope, list)?),
            None => None,
        };
        Ok((located, total, services.filter_choices(&scope)?, lists, entities))
    })
    .await?;
    let shown = total.min(u64::from(MAX_SURVEYS));
    let placed = match (&list, entities) {
        (Some(list), Some((placed, more))) => {
            let count = placed.len();
            located.extend(placed.into_iter().map(|e| Located::entity(lang, list, e)));
            Some((list.clone(), count, more))
        }
        _ => None,
    };
    let layer = (!lists.is_empty()).then(|| {
        html! {
            label { (lang.t("Entities"))
                select name="entities" {
                    option value="" { (lang.t("none")) }
                    @for l in &lists {
                        option value=(l.list) selected[list.as_deref() == Some(l.list.as_str())] { (l.list) }
                    }
                }
            }
        }
    });
    let body = html! {
        h1 { (lang.t("Map")) }
        (filters(lang, &params, &choices, layer))
        p.muted #map-summary {
            (lang.t("GPS points and plot outlines")) " · " (shown) " " (lang.t("shown of")) " " (total)
            @if let Some((list, count, more)) = &placed {
                " · " (lang.t("Entities")) " (" (list) "): " (count) @if *more { " (" (lang.t("the first")) " " (MAX_ON_MAP) ")" }
            }
            " · " (lang.t("Click a point to open its survey."))
        }
        @if located.is_empty() { p { (lang.t("No survey with a location matches these filters.")) } }
        @else { div.map { (draw(&located)) } }
    };
    Ok(layout::page(&session, Section::Map, lang.t("Map"), body))
}

/// A round length near `target` metres: 1, 2 or 5 times a power of ten.
fn nice_length(target: f64) -> f64 {
    let power = 10f64.powf(target.max(1.0).log10().floor());
    [5.0, 2.0, 1.0].into_iter().map(|m| m * power).find(|l| *l <= target).unwrap_or(power)
}

fn draw(located: &[Located]) -> Markup {
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
                a href=(l.href) class="feature" {
                    @for s in &l.shapes {
                        @match s {
                            Shape::Area(ps) => polygon points=(path(ps)) class={ "plot " (l.class) } { title { (l.tip) } },
                            Shape::Line(ps) => polyline points=(path(ps)) class={ "trace " (l.class) } { title { (l.tip) } },
                            Shape::Point(p) => circle cx=(format!("{:.1}", x(p.lon))) cy=(format!("{:.1}", y(p.lat))) r="5" class={ "pt " (l.class) } { title { (l.tip) } },
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
