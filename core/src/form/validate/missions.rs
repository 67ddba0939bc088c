//! End-to-end tests on the two mission forms (`forms/guinea_needs.xlsx`,
//! `forms/beguedo_slm.xlsx`, compiled), with plausible filled surveys.

use chrono::{DateTime, NaiveDate};

use super::tests::{A, options, path, paths};
use super::*;
use crate::survey::Answer;
use crate::value::{GeoPoint, Value};

/// The mission forms as devices receive them, compiled from `forms/*.xlsx` by the importer
/// (`terrain-xlsform`, whose tests keep these files in step with the questionnaires).
pub(super) fn guinea() -> Form {
    Form::from_json(include_str!("../../../tests/fixtures/guinea_needs.json")).unwrap()
}

pub(super) fn beguedo() -> Form {
    Form::from_json(include_str!("../../../tests/fixtures/beguedo_slm.json")).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn metadata(a: A) -> A {
    let start = DateTime::parse_from_rfc3339("2026-11-28T08:05:00.000+00:00").unwrap();
    a.put("start_time", Value::DateTime(start))
        .put("end_time", Value::DateTime(start + chrono::Duration::minutes(50)))
        .put("survey_date", date(2026, 11, 28))
        .text("device_id", "android-7f3a2c")
}

/// A complete interview of a four-person household in Manéah (Coyah, Kindia).
pub(super) fn guinea_answers() -> A {
    let member = |name: &str, age: i64, sex: &str, relation: &str| {
        A::new()
            .text("member_name", name)
            .int("member_age", age)
            .choice("member_sex", sex)
            .choice("member_relation", relation)
    };
    metadata(A::new())
        .text("enumerator_name", "Mamadou Diallo")
        .choice("consent", "yes")
        .choice("region", "kindia")
        .choice("prefecture", "coyah")
        .choice("sous_prefecture", "maneah")
        .choice("village", "maneah_v1")
        .int("hh_number", 42)
        .put("hh_gps", Value::GeoPoint(GeoPoint { lat: 9.7081, lon: -13.3912, altitude: 31.0, accuracy: 6.0 }))
        .text("respondent_name", "Fatoumata Camara")
        .choice("respondent_role", "spouse")
        .text("respondent_phone", "622123456")
        .repeat(
            "member",
            vec![
                member("Ibrahima Camara", 45, "male", "head")
                    .choice("member_schooling", "primary")
                    .choice("member_health", "good"),
                member("Fatoumata Camara", 38, "female", "spouse")
                    .choice("member_schooling", "none")
                    .choice("member_health", "good"),
                member("Mariama Camara", 12, "female", "child")
                    .choice("member_schooling", "primary")
                    .choice("member_in_school", "yes")
                    .choice("member_health", "good"),
                member("Sékou Camara", 3, "male", "child").choice("member_health", "acute"),
            ],
        )
        .choice("facility_type", "health_centre")
        .int("facility_travel_min", 30)
        .choice("travel_mode", "foot")
        .choices("health_barriers", &["cost", "distance"])
        .choice("sick_last_month", "yes")
        .choice("sought_care", "yes")
        .int("health_cost_gnf", 150_000)
        .int("n_under5_vaccinated", 1)
        .int("mosquito_nets", 3)
        .int("n_enrolled", 1)
        .choices("schools_used", &["public_primary"])
        .choice("attendance", "always")
        .int("school_travel_min", 20)
        .int("school_fees_gnf", 500_000)
        .choices("edu_barriers", &["fees"])
        .choices("income_sources", &["crops", "trade"])
        .choice("main_income", "crops")
        .int("monthly_income_gnf", 2_000_000)
        .dec("farm_area_ha", 1.5)
        .choice("land_access", "family")
        .choices("invest_sectors", &["agri", "energy"])
        .choice("diaspora_invest_interest", "somewhat")
        .choice("contribution_form", "labour")
        .choices(
            "priority_rank",
            &["water", "health", "education", "roads", "agriculture", "electricity", "employment"],
        )
        .choice("water_source", "borehole")
        .int("water_time_min", 25)
        .choice("electricity", "solar")
        .choice("relatives_abroad", "yes")
        .int("n_relatives_abroad", 2)
        .choices("abroad_countries", &["france"])
        .choice("remit_frequency", "quarterly")
        .int("remit_amount_gnf", 1_500_000)
        .put("last_remit_date", date(2026, 9, 15))
        .choices("remit_channel", &["mobile_money"])
        .choices("remit_use", &["food", "education"])
        .text("enumerator_comments", "RAS")
}

/// A harvest visit of a plot in sector 2 with two techniques, two crops and two migrants.
pub(super) fn beguedo_answers() -> A {
    let technique = |area: f64, year: i64, condition: &str, support: &str| {
        A::new()
            .dec("tech_area_ha", area)
            .int("tech_year_started", year)
            .choice("tech_condition", condition)
            .choice("tech_support", support)
    };
    let crop = |kind: &str, variety: &str, area: f64, harvest: f64, sold: f64| {
        A::new()
            .choice("crop_type", kind)
            .choice("crop_variety", variety)
            .dec("crop_area", area)
            .dec("harvest_kg", harvest)
            .dec("sold_kg", sold)
    };
    let migrant = |name: &str, destination: &str, year: i64, sends: &str| {
        A::new()
            .text("migrant_name", name)
            .choice("migrant_sex", "male")
            .choice("migrant_destination", destination)
            .int("migrant_year_left", year)
            .choice("migrant_sends_money", sends)
    };
    metadata(A::new())
        .text("enumerator_name", "Aminata Ouédraogo")
        .choice("season", "rainy_2026")
        .choice("visit_round", "harvest")
        .put("visit_date", date(2026, 10, 20))
        .choice("secteur", "secteur_2")
        .choice("zone", "s2_a")
        .text("farmer_name", "Issa Zongo")
        .choice("farmer_sex", "male")
        .int("farmer_age", 52)
        .text("farmer_phone", "70123456")
        .choice("tenure", "owned")
        .text("plot_id", "BGD-0042")
        .put("plot_gps", Value::GeoPoint(GeoPoint { lat: 11.7801, lon: -0.7452, altitude: 252.0, accuracy: 4.0 }))
        .dec("plot_area_ha", 2.5)
        .int("distance_river_m", 300)
        .choice("bank_erosion", "yes")
        .choice("erosion_severity", "moderate")
        .dec("erosion_length_m", 40.0)
        .text("erosion_photo", "berge-0042.jpg")
        .choice("gully_erosion", "no")
        .choices("slm_techniques", &["zai", "stone_bunds"])
        .repeat(
            "technique_rep",
            vec![
                technique(1.0, 2015, "good", "own").int("zai_pits_per_ha", 12_000),
                technique(2.0, 2019, "needs_repair", "ngo").dec("bund_length_m", 450.0),
            ],
        )
        .choice("slm_training", "yes")
        .int("slm_labour_days", 30)
        .repeat(
            "crop",
            vec![
                crop("sorghum", "sorghum_improved", 1.5, 1200.0, 300.0).choice("crop_irrigated", "no"),
                crop("onion", "onion_local", 0.5, 4000.0, 3500.0)
                    .choice("crop_irrigated", "yes")
                    .choice("irrigation_source", "river_pump"),
            ],
        )
        .int("hh_size", 9)
        .choice("water_point", "borehole_pump")
        .choice("water_works", "working")
        .int("water_time_min", 20)
        .choice("latrine", "traditional")
        .choice("latrine_shared", "no")
        .choice("handwashing", "yes")
        .int("n_migrants", 2)
        .repeat("migrant", vec![migrant("Adama", "italy", 2008, "yes"), migrant("Salif", "cote_divoire", 2015, "no")])
        .choices("diaspora_support", &["cash", "housing"])
        .int("support_cash_fcfa", 500_000)
        .int("support_housing_fcfa", 3_000_000)
        .text("plot_photo", "parcelle-0042.jpg")
        .text("observations", "RAS")
}

fn calc(r: &Evaluation, p: &str) -> String {
    r.calculated.get(&path(p)).cloned().unwrap_or_else(|| panic!("no calculated value at {p}"))
}

#[test]
fn guinea_complete_survey_then_one_bad_answer() {
    let form = guinea();
    let ev = Evaluator::new(&form);
    let answers = guinea_answers();
    let r = ev.evaluate(&answers.0, &options(Some("fr")));
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert!(r.missing_required.is_empty(), "{:#?}", r.missing_required);
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    assert!(r.is_complete());

    assert_eq!(calc(&r, "hh_id"), "maneah_v1-42");
    assert_eq!(calc(&r, "region_label"), "Kindia");
    assert_eq!(calc(&r, "hh_size"), "4");
    assert_eq!(calc(&r, "n_under5"), "1");
    assert_eq!(calc(&r, "n_school_age"), "1");
    assert_eq!(calc(&r, "head_name"), "Ibrahima Camara");
    assert_eq!(calc(&r, "member[3]/member_pos"), "4");
    assert_eq!(calc(&r, "pct_enrolled"), "100");
    assert_eq!(calc(&r, "n_income_sources"), "2");
    assert_eq!(calc(&r, "income_per_capita"), "500000");
    assert_eq!(calc(&r, "top_need"), "water");
    assert_eq!(calc(&r, "top_need_label"), "Eau potable");
    assert_eq!(calc(&r, "remit_annual_gnf"), "6000000");
    assert_eq!(r.choices[&path("main_income")], ["crops", "trade"]);
    assert_eq!(r.choices[&path("village")], ["maneah_centre", "maneah_v1", "maneah_v2", "other_village"]);
    // Hidden by relevance: the toddler's schooling, the adults' school attendance, notes.
    for hidden in ["member[3]/member_education", "member[3]/member_schooling", "member[0]/member_in_school"] {
        assert!(!r.is_relevant(&path(hidden)), "{hidden}");
    }
    assert!(r.is_relevant(&path("member[2]/member_in_school")));
    assert!(!r.is_relevant(&path("no_consent_note")));
    assert!(!r.is_relevant(&path("village_other")));
    // English labels when no language is given (the form's default).
    let en = ev.evaluate(&answers.0, &options(None));
    assert_eq!(calc(&en, "top_need_label"), "Drinking water");

    // One bad answer: a member aged 150.
    let mut bad = guinea_answers();
    if let Some(Answer::Repeat(members)) = bad.0.0.get_mut("member") {
        members[2].0.insert("member_age".into(), Answer::Value(Value::Integer(150)));
    }
    let r = ev.evaluate(&bad.0, &options(Some("fr")));
    assert_eq!(paths(&r.violations), ["member[2]/member_age"]);
    assert_eq!(r.violations[0].message, "L'âge doit être compris entre 0 et 120 ans.");
    assert!(!r.is_complete());
    let r = ev.evaluate(&bad.0, &options(Some("English (en)")));
    assert_eq!(r.violations[0].message, "Age must be between 0 and 120.");

    // Refusing consent hides the whole interview: nothing else is required.
    let r = ev.evaluate(&A::new().text("enumerator_name", "M. Diallo").choice("consent", "no").0, &options(None));
    assert!(r.is_complete(), "{:#?}", r.missing_required);
    assert!(r.is_relevant(&path("no_consent_note")));
    assert!(!r.is_relevant(&path("region")));
}

/// Each interview leads to its village: the village chosen is upserted with where it is and
/// the day of the visit; an unlisted one is created under the survey's own id, named as
/// the enumerator typed it; a refused interview touches no village.
#[test]
fn guinea_interviews_link_to_their_village() {
    use crate::form::entities::{EntityAction, created_id};
    let form = guinea();
    let ev = Evaluator::new(&form);
    let [villages] = form.entities.as_slice() else { panic!("one declaration") };
    let act = |a: &A| villages.action(&ev, &a.0, &options(Some("fr")), "survey-1").unwrap();
    let Some(EntityAction::Update { list, id, label, properties, create_if_missing }) = act(&guinea_answers()) else {
        panic!("an upsert of the village")
    };
    assert_eq!((list.as_str(), id.as_str(), create_if_missing), ("villages", "maneah_v1", true));
    assert!(label.is_some_and(|l| !l.is_empty()), "the village's name from the choices");
    let properties: std::collections::BTreeMap<_, _> = properties.into_iter().collect();
    assert_eq!(properties["prefecture"], "coyah");
    assert_eq!(properties["last_visit"], "2026-11-28");

    let unlisted = guinea_answers().choice("village", "other_village").text("village_other", "Kountia");
    let Some(EntityAction::Create { id, label, .. }) = act(&unlisted) else { panic!("a new village") };
    assert_eq!((id, label.as_str()), (created_id("survey-1", "villages"), "Kountia"));

    assert_eq!(act(&A::new().text("enumerator_name", "M. Diallo").choice("consent", "no")), None);
}

#[test]
fn guinea_cascading_region_prefecture_filters() {
    let form = guinea();
    let ev = Evaluator::new(&form);
    let answers = A::new().choice("consent", "yes").choice("region", "conakry");
    let r = ev.evaluate(&answers.0, &options(None));
    assert_eq!(r.choices[&path("prefecture")], ["kaloum", "dixinn", "ratoma"]);
    assert_eq!(r.choices[&path("sous_prefecture")], Vec::<String>::new());
    assert_eq!(r.choices[&path("village")], ["other_village"], "only the `any` row before a sous-prefecture");

    let answers = answers.choice("prefecture", "ratoma");
    let r = ev.evaluate(&answers.0, &options(None));
    assert_eq!(r.choices[&path("sous_prefecture")], ["kipe", "taouyah", "hamdallaye"]);
    let answers = answers.choice("sous_prefecture", "kipe");
    let r = ev.evaluate(&answers.0, &options(None));
    assert_eq!(r.choices[&path("village")], ["kipe_sect1", "kipe_sect2", "kipe_sect3", "other_village"]);

    // The region is changed afterwards: the prefecture no longer belongs to it.
    let answers = answers.choice("region", "labe");
    let r = ev.evaluate(&answers.0, &options(Some("fr")));
    assert_eq!(r.choices[&path("prefecture")], ["labe_pref", "tougue", "mali"]);
    assert_eq!(paths(&r.violations), ["prefecture"]);
    assert_eq!(
        r.violations[0].message,
        "« Ratoma (commune) » ne fait plus partie des choix proposés : choisissez à nouveau."
    );

    // main_income is filtered on the sources ticked.
    let answers = A::new().choice("consent", "yes").choices("income_sources", &["fishing", "mining", "other"]);
    let r = ev.evaluate(&answers.0, &options(None));
    assert_eq!(r.choices[&path("main_income")], ["fishing", "mining", "other"]);
}

#[test]
fn beguedo_complete_survey_then_one_bad_answer() {
    let form = beguedo();
    let ev = Evaluator::new(&form);
    let answers = beguedo_answers();
    let r = ev.evaluate(&answers.0, &options(Some("fr")));
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert!(r.missing_required.is_empty(), "{:#?}", r.missing_required);
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    assert!(r.is_complete());

    assert_eq!(calc(&r, "visit_key"), "rainy_2026-harvest");
    assert_eq!(calc(&r, "shape_area_ha"), "");
    assert_eq!(calc(&r, "in_river_buffer"), "no");
    assert_eq!(calc(&r, "n_techniques"), "2");
    assert_eq!(r.repeat_counts[&path("technique_rep")], 2);
    assert_eq!(calc(&r, "technique_rep[1]/tech_code"), "stone_bunds");
    assert_eq!(calc(&r, "technique_rep[0]/tech_label"), "Zaï");
    assert_eq!(calc(&r, "total_treated_ha"), "3");
    assert_eq!(calc(&r, "n_crops"), "2");
    assert_eq!(calc(&r, "total_crop_area"), "2");
    assert_eq!(calc(&r, "total_harvest_kg"), "5200");
    assert_eq!(calc(&r, "crop[0]/crop_yield_kg_ha"), "800");
    assert_eq!(calc(&r, "crop[1]/crop_yield_kg_ha"), "8000");
    assert_eq!(r.repeat_counts[&path("migrant")], 2);
    assert_eq!(calc(&r, "migrant[1]/migrant_pos"), "2");
    assert_eq!(calc(&r, "migrant[0]/migrant_years_away"), "18");
    assert_eq!(calc(&r, "n_migrants_sending"), "1");
    assert_eq!(calc(&r, "support_total_fcfa"), "3500000");
    assert_eq!(r.choices[&path("zone")], ["s2_a", "s2_b"]);
    assert_eq!(r.choices[&path("crop[1]/crop_variety")], ["onion_local", "onion_improved", "onion_hybrid", "unknown"]);
    // Per-instance relevance on the technique each instance is about.
    assert!(r.is_relevant(&path("technique_rep[0]/zai_pits_per_ha")));
    assert!(!r.is_relevant(&path("technique_rep[0]/bund_length_m")));
    assert!(r.is_relevant(&path("technique_rep[1]/bund_length_m")));
    assert!(r.is_relevant(&path("overlap_note")), "3 ha treated on a 2.5 ha plot");
    let en = ev.evaluate(&answers.0, &options(None));
    assert_eq!(calc(&en, "technique_rep[0]/tech_label"), "Zaï pits");

    // One bad answer: a 12-year-old farmer.
    let bad = beguedo_answers().int("farmer_age", 12);
    let r = ev.evaluate(&bad.0, &options(Some("fr")));
    assert_eq!(paths(&r.violations), ["farmer_age"]);
    assert_eq!(r.violations[0].message, "L'âge doit être compris entre 15 et 100 ans.");
    assert!(!r.is_complete());

    // A third technique ticked: repeat_count asks for an instance the survey lacks.
    let more = beguedo_answers().choices("slm_techniques", &["zai", "stone_bunds", "half_moons"]);
    let r = ev.evaluate(&more.0, &options(None));
    assert_eq!(r.repeat_counts[&path("technique_rep")], 3);
    assert_eq!(calc(&r, "technique_rep[2]/tech_code"), "half_moons");
    assert_eq!(
        paths(&r.missing_required),
        ["technique_rep[2]/tech_area_ha", "technique_rep[2]/tech_condition", "technique_rep[2]/tech_support"]
    );
}
