//! Entities across devices, through the real relay on loopback: plots registered offline in
//! Béguédo reach the other phones of the team in the same sync as surveys, and no phone of
//! another team; two visits that set the same property concurrently come back as a conflict
//! on every replica, which the supervisor settles from their own device; an enumerator may
//! not delete a plot; and a sync with nothing new is one round trip with nothing pulled.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use terrain_core::store::{EntityQuery, EntityRecord};
use terrain_core::sync::SyncReport;
use terrain_core::{AnswerPath, Form, GeoPoint, Role, Store, Value};
use terrain_demo::field::Device;
use terrain_demo::pilot::Pilot;

const VERSION: &str = "2026120701";

fn mission_form(file: &str) -> Arc<Form> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("forms").join(file);
    Arc::new(terrain_xlsform::import_path(&path).unwrap_or_else(|e| panic!("{file}: {e}")))
}

fn p(path: &str) -> AnswerPath {
    path.parse().unwrap()
}

fn choice(s: &str) -> Value {
    Value::Choice(s.into())
}

fn register(phone: &Store, code: &str, owner: &str) -> String {
    let id = phone.create_survey("beguedo_plot_registration", VERSION).unwrap();
    let answers = [
        ("secteur", choice("secteur_3")),
        ("plot_code", Value::Text(code.into())),
        ("owner_name", Value::Text(owner.into())),
        ("household_size", Value::Integer(7)),
        ("tenure", choice("owned")),
        ("area_ha", Value::Decimal(1.2)),
        ("location", Value::GeoPoint(GeoPoint { lat: 11.78, lon: -0.73, altitude: 260.0, accuracy: 4.0 })),
        ("techniques", Value::Choices(vec!["zai".into()])),
        ("on_river", choice("no")),
    ];
    for (question, value) in answers {
        phone.set_answer(&id, &p(question), value).unwrap();
    }
    phone.finalize(&id).unwrap();
    id
}

fn visit(phone: &Store, plot: &str, kg: f64) {
    let id = phone.start_follow_up("beguedo_plot_monitoring", VERSION, plot).unwrap();
    phone.set_answer(&id, &p("season"), choice("rainy_2026")).unwrap();
    phone.set_answer(&id, &p("secteur"), choice("secteur_3")).unwrap();
    phone.set_answer(&id, &p("crop"), choice("sorghum")).unwrap();
    phone.set_answer(&id, &p("yield_kg"), Value::Decimal(kg)).unwrap();
    phone.set_answer(&id, &p("techniques"), Value::Choices(vec!["half_moons".into()])).unwrap();
    phone.finalize(&id).unwrap();
}

fn plots(phone: &Store) -> Vec<EntityRecord> {
    phone.entities("plots", &EntityQuery { limit: 100, ..EntityQuery::default() }).unwrap()
}

fn sync(device: &mut Device) -> SyncReport {
    let report = device.sync().unwrap().expect("the loopback link does not drop");
    assert!(report.failed.is_empty(), "{}: {:?}", device.user, report.failed);
    report
}

#[test]
fn plots_reach_their_team_merge_and_conflict_and_a_supervisor_settles_them() {
    let dir = tempfile::tempdir().unwrap();
    let pilot = Pilot::start(&dir.path().join("server"), 8).unwrap();
    let services = pilot.services();
    let op = services.operator().unwrap();
    let project = services.projects(&op).unwrap()[0].id;
    let registration = mission_form("beguedo_plot_registration.xlsx");
    let monitoring = mission_form("beguedo_plot_monitoring.xlsx");
    services.publish(&op, project, &registration).unwrap();
    services.publish(&op, project, &monitoring).unwrap();
    let forms = [registration.as_ref(), monitoring.as_ref()];
    let beguedo = pilot.teams.iter().find(|t| t.name.starts_with("Béguédo")).unwrap();
    let login = |user: &str, role: Role| Device::login(dir.path(), pilot.addr, user, role, &forms).unwrap();
    let mut awa = login(&beguedo.enumerators[0], Role::Enumerator);
    let mut issa = login(&beguedo.enumerators[1], Role::Enumerator);
    let mut supervisor = login(&beguedo.supervisor, Role::Supervisor);
    let mut kindia = login(&pilot.teams[0].enumerators[0], Role::Enumerator);

    // Registered offline, then one sync carries the surveys and the plots.
    register(&awa.store, "BGD-0412", "Salif Ouédraogo");
    register(&awa.store, "BGD-0413", "Awa Bambara");
    register(&awa.store, "BGD-0501", "Issa Zongo");
    assert_eq!(awa.store.pending_entity_count().unwrap(), 3);
    let report = sync(&mut awa);
    assert_eq!((report.progress.pushed, report.progress.entities_pushed), (3, 3));
    assert_eq!(awa.store.pending_entity_count().unwrap(), 0);
    let plot = plots(&awa.store).into_iter().find(|e| e.label.starts_with("BGD-0412")).unwrap();
    let backend = pilot.backend();
    assert!(backend.entity_heads("plots", &plot.id).unwrap().is_some(), "the relay holds the plot");

    // The team's other phone receives them; a phone of another team does not.
    let report = sync(&mut issa);
    assert_eq!(report.progress.entities_pulled, 3);
    assert_eq!(plots(&issa.store), plots(&awa.store));
    sync(&mut kindia);
    assert!(plots(&kindia.store).is_empty(), "Kindia's phone gets no plot of Béguédo");
    // Kindia's own plot stays with Kindia's team.
    register(&kindia.store, "BGD-9001", "Mamadou Diallo");
    assert_eq!(sync(&mut kindia).progress.entities_pushed, 1);
    sync(&mut awa);
    assert_eq!(plots(&awa.store).len(), 3, "Béguédo's phone gets no plot of Kindia");

    // The harvest visited twice, on two phones that had not seen each other's visit.
    visit(&awa.store, &plot.id, 420.0);
    visit(&issa.store, &plot.id, 380.0);
    sync(&mut awa);
    sync(&mut issa);
    sync(&mut awa);
    for phone in [&awa.store, &issa.store] {
        let conflicts = phone.entity_conflicts("plots", &plot.id).unwrap();
        let yields: Vec<&str> = conflicts
            .iter()
            .find(|c| c.property == "yield_kg")
            .map(|c| c.values.iter().map(|(v, _)| v.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(yields.len(), 2, "both yields kept: {conflicts:?}");
        assert!(yields.contains(&"420") && yields.contains(&"380"), "{yields:?}");
    }
    assert_eq!(awa.store.entity("plots", &plot.id).unwrap(), issa.store.entity("plots", &plot.id).unwrap());

    // The supervisor settles it on their phone; everyone converges on the settled value.
    sync(&mut supervisor);
    assert!(supervisor.store.entity("plots", &plot.id).unwrap().unwrap().has_conflicts);
    supervisor.store.settle_entity("plots", &plot.id, "yield_kg", "400").unwrap();
    assert_eq!(sync(&mut supervisor).progress.entities_pushed, 1);
    for phone in [&mut awa, &mut issa] {
        sync(phone);
        let settled = phone.store.entity("plots", &plot.id).unwrap().unwrap();
        assert!(!settled.has_conflicts, "{}", phone.user);
        assert_eq!(settled.properties["yield_kg"], "400");
    }

    // An enumerator may not delete a plot: the relay refuses it, and the others keep it.
    let other = plots(&awa.store).into_iter().find(|e| e.label.starts_with("BGD-0501")).unwrap();
    awa.store.set_entity_deleted("plots", &other.id, true).unwrap();
    // The demo's device reports a sync with refusals as an error that lists them.
    let refused = awa.sync().unwrap_err().to_string();
    assert!(refused.contains(&other.id) && refused.contains("may not delete"), "{refused}");
    sync(&mut issa);
    assert!(!issa.store.entity("plots", &other.id).unwrap().unwrap().deleted);

    // Nothing new: one round trip, nothing pulled.
    let report = sync(&mut issa);
    assert_eq!(report.progress.rounds, 1);
    assert_eq!((report.progress.pulled, report.progress.entities_pulled), (0, 0));
    pilot.stop();
}
