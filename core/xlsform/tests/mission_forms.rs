//! The mission's own forms (`forms/` at the repository root) import, with the structure the
//! mission relies on: both languages, repeats and cascading choice filters.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::path::Path;

use terrain_core::form::Form;
use terrain_core::form::expr::EvalContext;
use terrain_core::form::model::Node;
use terrain_xlsform::import_path;

fn mission_form(file: &str) -> Form {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join("forms").join(file);
    match import_path(&path) {
        Ok(form) => form,
        Err(e) => panic!("{} should import: {e}", path.display()),
    }
}

/// The names of the repeats, at any depth.
fn repeats(nodes: &[Node], out: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::Question(_) => {}
            Node::Group(g) => repeats(&g.children, out),
            Node::Repeat(g) => {
                out.push(g.name.clone());
                repeats(&g.children, out);
            }
        }
    }
}

/// What both mission forms must have.
fn check_mission_form(form: &Form, id: &str, version: &str, filtered: &[&str]) {
    assert_eq!(form.id, id);
    assert_eq!(form.version, version);
    assert_eq!(form.languages, ["English (en)", "Français (fr)"]);
    assert_eq!(form.default_language.as_deref(), Some("English (en)"));
    let questions = form.questions();
    assert!(questions.len() > 50, "{id}: only {} questions", questions.len());
    let mut found = Vec::new();
    repeats(&form.children, &mut found);
    assert!(!found.is_empty(), "{id} has no repeat");
    let with_filter: Vec<&str> =
        questions.iter().filter(|(q, _)| q.choice_filter.is_some()).map(|(q, _)| q.name.as_str()).collect();
    assert_eq!(with_filter, filtered, "{id}: choice filters");
    // Every choice filter reads a list that exists.
    for (q, _) in &questions {
        if q.choice_filter.is_some() {
            let list = q.kind.choice_list().unwrap_or_else(|| panic!("{id}: {} filters no list", q.name));
            assert!(form.choice_lists.contains_key(list), "{id}: {} uses missing list {list}", q.name);
        }
    }
    // What devices download reads back the same.
    assert_eq!(Form::from_json(&form.to_json()).unwrap(), *form);
}

#[test]
fn beguedo_slm_imports_with_its_plot_area() {
    let form = mission_form("beguedo_slm.xlsx");
    check_mission_form(&form, "beguedo_slm", "2026110101", &["zone", "crop_variety"]);
    let mut found = Vec::new();
    repeats(&form.children, &mut found);
    assert_eq!(found, ["technique_rep", "crop", "migrant"]);
    // The calculation that needs area().
    let (area, _) = form.questions().into_iter().find(|(q, _)| q.name == "shape_area_ha").unwrap();
    let calculation = area.calculation.as_ref().unwrap();
    assert!(calculation.source().contains("area(${plot_shape})"), "{}", calculation.source());
    assert_eq!(calculation.references(), ["plot_shape"]);
    // A square of 0.001° at Béguédo (11.8° N): 12 130 m² on ODK Collect's sphere.
    let square = "11.8 -0.5 280 3; 11.8 -0.499 280 3; 11.801 -0.499 280 3; 11.801 -0.5 280 3; 11.8 -0.5 280 3";
    assert_eq!(calculation.evaluate_string(&PlotShape(square.to_owned())).unwrap(), "1.21");
    assert_eq!(calculation.evaluate_string(&PlotShape(String::new())).unwrap(), "");
}

/// A survey whose only answer is the plot's shape.
struct PlotShape(String);

impl EvalContext for PlotShape {
    fn resolve(&self, name: &str) -> Option<Cow<'_, [String]>> {
        (name == "plot_shape").then(|| Cow::Borrowed(std::slice::from_ref(&self.0)))
    }
    fn current(&self) -> Cow<'_, str> {
        "".into()
    }
    fn position(&self) -> Option<usize> {
        None
    }
    fn indexed(&self, _: &str, _: &[(&str, usize)]) -> Option<Cow<'_, str>> {
        None
    }
    fn choice_label(&self, _: &str, _: &str) -> Option<Cow<'_, str>> {
        None
    }
    fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        chrono::DateTime::UNIX_EPOCH.fixed_offset()
    }
    fn random_seed(&self) -> u64 {
        0
    }
}

#[test]
fn guinea_needs_imports() {
    let form = mission_form("guinea_needs.xlsx");
    check_mission_form(
        &form,
        "guinea_needs",
        "2026120801",
        &["prefecture", "sous_prefecture", "village", "main_income"],
    );
    let mut found = Vec::new();
    repeats(&form.children, &mut found);
    assert_eq!(found, ["member"]);
    // Each interview links the household to its village: the village's entity, created by
    // the first interview there and updated by the next (an unlisted village is created
    // under the survey's own id).
    let [villages] = form.entities.as_slice() else { panic!("one declaration") };
    assert_eq!((villages.list.as_str(), villages.entity_question()), ("villages", Some("village")));
    let saved: Vec<(&str, &str)> =
        villages.properties.iter().map(|p| (p.property.as_str(), p.question.as_str())).collect();
    assert_eq!(
        saved,
        [
            ("last_visit", "survey_date"),
            ("region", "region"),
            ("prefecture", "prefecture"),
            ("sous_prefecture", "sous_prefecture")
        ]
    );
}

/// The mission forms compiled, as devices receive them: `core/tests/fixtures/*.json`, which
/// the core's tests and benchmarks use without the importer. Regenerate them after editing
/// a questionnaire with `TERRAIN_BLESS=1 cargo test -p terrain-xlsform --test mission_forms`.
#[test]
fn compiled_fixtures_match_the_questionnaires() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    for name in ["guinea_needs", "beguedo_slm"] {
        let json = mission_form(&format!("{name}.xlsx")).to_json();
        let path = fixtures.join(format!("{name}.json"));
        if std::env::var_os("TERRAIN_BLESS").is_some() {
            std::fs::write(&path, &json).unwrap();
            continue;
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
        assert!(
            parse(&stored).is_some() && parse(&stored) == parse(&json),
            "{} is out of date: run TERRAIN_BLESS=1 cargo test -p terrain-xlsform --test mission_forms",
            path.display()
        );
    }
}

#[test]
fn beguedo_plot_forms_create_and_update_the_plots_list() {
    let registration = mission_form("beguedo_plot_registration.xlsx");
    assert_eq!(registration.languages, ["English (en)", "Français (fr)"]);
    let [creates] = registration.entities.as_slice() else { panic!("one declaration") };
    assert_eq!((creates.list.as_str(), creates.entity_id.as_ref()), ("plots", None));
    assert!(creates.label.is_some(), "a registration labels the plot");
    let saved: Vec<(&str, &str)> =
        creates.properties.iter().map(|p| (p.property.as_str(), p.question.as_str())).collect();
    for pair in [("code", "plot_code"), ("secteur", "secteur"), ("geometry", "outline"), ("bank_state", "bank_state")] {
        assert!(saved.contains(&pair), "{pair:?} in {saved:?}");
    }

    let monitoring = mission_form("beguedo_plot_monitoring.xlsx");
    let [updates] = monitoring.entities.as_slice() else { panic!("one declaration") };
    assert_eq!(updates.list, "plots");
    assert_eq!(updates.entity_question(), Some("plot"), "the season's visit updates the plot chosen");
    // The plot comes from the list the registration makes, filtered by the sector saved in it.
    let (plot, _) = monitoring.questions().into_iter().find(|(q, _)| q.name == "plot").unwrap();
    assert_eq!(plot.kind.choice_list(), Some("plots.csv"));
    assert_eq!(plot.choice_filter.as_ref().map(|f| f.source()), Some("secteur=${secteur}"));
    assert_eq!(Form::from_json(&monitoring.to_json()).unwrap(), monitoring);
}
