//! A Béguédo season on one phone, from the mission's own XLSForms: plots registered
//! offline become the `plots` entity list; the seasonal monitoring form offers them filtered
//! by sector, shows last season's values, and updates the plot chosen; the next season's
//! visit supersedes it. Everything stays on the phone across restarts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use terrain_core::identity::Author;
use terrain_core::store::EntityQuery;
use terrain_core::{AnswerPath, GeoPoint, Role, Store, Value};

fn mission_form(file: &str) -> terrain_core::Form {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("forms").join(file);
    terrain_xlsform::import_path(&path).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn p(path: &str) -> AnswerPath {
    path.parse().unwrap()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn choice(s: &str) -> Value {
    Value::Choice(s.into())
}

/// Registers a plot on the phone and returns the survey.
fn register(phone: &Store, code: &str, owner: &str, secteur: &str, on_river: bool) -> String {
    let id = phone.create_survey("beguedo_plot_registration", "2026120701").unwrap();
    let answers = [
        ("secteur", choice(secteur)),
        ("plot_code", text(code)),
        ("owner_name", text(owner)),
        ("household_size", Value::Integer(9)),
        ("tenure", choice("owned")),
        ("area_ha", Value::Decimal(1.5)),
        ("location", Value::GeoPoint(GeoPoint { lat: 11.78, lon: -0.73, altitude: 260.0, accuracy: 4.0 })),
        ("techniques", Value::Choices(vec!["zai".into(), "stone_bunds".into()])),
        ("on_river", choice(if on_river { "yes" } else { "no" })),
    ];
    for (question, value) in answers {
        phone.set_answer(&id, &p(question), value).unwrap();
    }
    if on_river {
        phone.set_answer(&id, &p("bank_state"), choice("light_erosion")).unwrap();
    }
    phone.finalize(&id).unwrap();
    id
}

/// A seasonal visit to `plot`, started from it as the app does.
fn visit(phone: &Store, plot: &str, season: &str, secteur: &str, crop: &str, kg: f64, bank: Option<&str>) -> String {
    let id = phone.start_follow_up("beguedo_plot_monitoring", "2026120701", plot).unwrap();
    phone.set_answer(&id, &p("season"), choice(season)).unwrap();
    phone.set_answer(&id, &p("secteur"), choice(secteur)).unwrap();
    phone.set_answer(&id, &p("crop"), choice(crop)).unwrap();
    phone.set_answer(&id, &p("yield_kg"), Value::Decimal(kg)).unwrap();
    phone.set_answer(&id, &p("techniques"), Value::Choices(vec!["half_moons".into()])).unwrap();
    if let Some(bank) = bank {
        phone.set_answer(&id, &p("bank_state"), choice(bank)).unwrap();
    }
    id
}

#[test]
fn a_season_of_plots_from_registration_to_the_next_harvest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let author = Author::new("awa", "phone-1", Role::Enumerator);
    let plot = {
        let phone = Store::open(&path, author.clone()).unwrap();
        phone.save_form(&mission_form("beguedo_plot_registration.xlsx")).unwrap();
        phone.save_form(&mission_form("beguedo_plot_monitoring.xlsx")).unwrap();
        register(&phone, "BGD-0412", "Salif Ouédraogo", "secteur_3", true);
        register(&phone, "BGD-0413", "Awa Bambara", "secteur_3", false);
        register(&phone, "BGD-0501", "Issa Zongo", "secteur_5", false);
        let plots = phone.entities("plots", &EntityQuery { limit: 10, ..EntityQuery::default() }).unwrap();
        assert_eq!(plots.len(), 3);
        let plot = plots.into_iter().find(|e| e.label == "BGD-0412 — Salif Ouédraogo").unwrap();
        assert_eq!(plot.properties["techniques"], "zai stone_bunds");
        assert_eq!(plot.properties["bank_state"], "light_erosion");
        assert!(plot.properties["location"].starts_with("11.78 -0.73"), "{}", plot.properties["location"]);

        // Harvest of the rainy season: the plots of the sector are offered, the first visit
        // has no last season to show.
        let harvest = visit(&phone, &plot.id, "rainy_2026", "secteur_3", "sorghum", 420.0, Some("severe_erosion"));
        let evaluation = phone.evaluate(&harvest, Some("fr")).unwrap();
        assert_eq!(evaluation.choices[&p("plot")].len(), 2, "only sector 3's plots");
        assert!(evaluation.non_relevant.contains(&p("last_season")));
        phone.finalize(&harvest).unwrap();
        plot.id
    };

    // The phone restarts; the next season's visit shows what the last one saved.
    let phone = Store::open(&path, author).unwrap();
    let next = visit(&phone, &plot, "rainy_2027", "secteur_3", "millet", 510.0, Some("collapsed"));
    let evaluation = phone.evaluate(&next, Some("fr")).unwrap();
    assert_eq!(evaluation.calculated[&p("last_yield")], "420");
    assert_eq!(evaluation.calculated[&p("last_crop")], "sorghum");
    assert_eq!(evaluation.calculated[&p("last_bank")], "severe_erosion");
    assert!(!evaluation.non_relevant.contains(&p("last_season")));
    phone.finalize(&next).unwrap();

    let plot = phone.entity("plots", &plot).unwrap().unwrap();
    assert_eq!(plot.label, "BGD-0412 — Salif Ouédraogo", "visits keep the registration's label");
    let values: Vec<&str> =
        ["yield_kg", "crop", "bank_state", "techniques", "code"].iter().map(|k| plot.properties[*k].as_str()).collect();
    assert_eq!(values, ["510", "millet", "collapsed", "half_moons", "BGD-0412"]);
    assert!(!plot.has_conflicts, "one phone's visits follow each other");
    assert_eq!(phone.entity_sources("plots", &plot.id).unwrap().len(), 3, "the registration and two visits");
}
