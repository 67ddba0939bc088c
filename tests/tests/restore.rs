//! The disk dies and the administrator restores last night's backup: the relay comes back
//! older than the phones. Its new epoch makes every phone offer again what the backup
//! lacks (surveys collected and corrections made after it), and pull what changed since
//! the restore, though their feed cursors point past the restored feed. Nothing is lost,
//! and the restore is in the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use terrain_core::form::Evaluator;
use terrain_core::{AnswerPath, Role, Value};
use terrain_demo::field::Device;
use terrain_demo::http;
use terrain_demo::pilot::Pilot;
use terrain_services::backup::{self, Key, Seal};

#[test]
fn after_a_restore_devices_offer_again_what_the_backup_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let pilot = Pilot::start(&data, 4).unwrap();
    let team = pilot.teams[0].clone();
    let forms = [team.form.as_ref()];
    let mut phones: Vec<Device> = team.enumerators[..2]
        .iter()
        .map(|user| Device::login(dir.path(), pilot.addr, user, Role::Enumerator, &forms).unwrap())
        .collect();
    let evaluator = Evaluator::new(&team.form);
    let mut rng = StdRng::seed_from_u64(21);
    let mut written = Vec::new();
    let mut ids: Vec<Vec<String>> = vec![Vec::new(); phones.len()];
    for (phone, ids) in phones.iter_mut().zip(&mut ids) {
        for _ in 0..3 {
            ids.push(phone.collect(&evaluator, &mut rng, &mut written).unwrap());
        }
        phone.sync_until_done().unwrap();
    }

    // A supervisor's correction, which the phone pulls before the backup. One made after it
    // could not come back: without signed authorship, only the supervisor may upload the
    // supervisor's changes, and their dashboard edits live on the server alone.
    let desk = http::desk(&pilot.url, &team.supervisor).unwrap();
    let note = json!({"path": "enumerator_comments", "value": {"type": "text", "value": "vu le 1"}});
    desk.expect_ok("PUT", &format!("/api/v1/surveys/{}/answers", ids[0][1]), Some(&note)).unwrap();
    phones[0].sync_until_done().unwrap();

    // Last night's backup, taken while the server runs.
    let file = dir.path().join("nightly.age");
    let services = pilot.services();
    let seal = Seal::Passphrase("la nuit à Kindia, 02:00".to_owned().into());
    let key = || Key::Passphrase("la nuit à Kindia, 02:00".to_owned().into());
    let created = services.backup(&services.operator().unwrap(), &file, &seal).unwrap();
    assert_eq!(created.manifest.counts.surveys, 6);
    let checked = backup::verify(&file, &key(), dir.path(), None).unwrap();
    assert_eq!(checked.verified.surveys, 6);
    assert!(checked.verified.failed.is_empty());

    // The next day: new surveys, a correction of one the backup has, all acknowledged. The
    // feed moves past where the backup's ends.
    for (phone, ids) in phones.iter_mut().zip(&mut ids) {
        ids.push(phone.collect(&evaluator, &mut rng, &mut written).unwrap());
        let fixed = Value::Text("Aïssatou Camara".into());
        phone.fix(&ids[0], &AnswerPath::top("respondent_name"), fixed, &mut written).unwrap();
        phone.sync_until_done().unwrap();
        assert_eq!(phone.store.pending_count().unwrap(), 0);
    }
    let before_restore: Vec<Vec<_>> =
        phones.iter().map(|p| ids.concat().iter().filter_map(|id| p.store.heads(id).ok()).collect()).collect();

    // The disk dies; the backup comes back. A running server blocks the restore.
    let (addr, teams, analyst) = (pilot.addr, pilot.teams.clone(), pilot.analyst.clone());
    let refused = backup::restore(&file, &key(), &data, None, Default::default());
    assert!(matches!(refused, Err(terrain_services::Error::Conflict(_))), "{refused:?}");
    pilot.stop();
    let restored = backup::restore(&file, &key(), &data, None, Default::default()).unwrap();
    assert_ne!(restored.identity.epoch, created.manifest.epoch, "a restore starts a new epoch");
    assert!(restored.set_aside.as_ref().unwrap().join("surveys.db").exists(), "the replaced files are kept");
    let pilot = Pilot::resume(&data, addr, teams, analyst).unwrap();
    let backend = pilot.backend();
    assert!(backend.heads(&ids[0][3]).unwrap().is_none(), "the backup lacks the next day's surveys");

    // After the restore, a correction on the server: its feed entry reuses a position the
    // phones' cursors have already passed.
    let desk = http::desk(&pilot.url, &team.supervisor).unwrap();
    let note = json!({"path": "enumerator_comments", "value": {"type": "text", "value": "revu après restauration"}});
    desk.expect_ok("PUT", &format!("/api/v1/surveys/{}/answers", ids[1][2]), Some(&note)).unwrap();

    for phone in &mut phones {
        let report = phone.sync_until_done().unwrap();
        assert!(report.reoffered >= 3, "{}: {report:?}", phone.user);
        assert_eq!(phone.store.pending_count().unwrap(), 0);
    }
    for (phone, ids) in phones.iter().zip(&ids) {
        for id in ids {
            assert_eq!(
                backend.heads(id).unwrap().as_ref(),
                Some(&phone.store.heads(id).unwrap()),
                "{id} is on the server again, whole"
            );
        }
    }
    let answer = phones[1].store.survey(&ids[1][2]).unwrap().answers.value("enumerator_comments").cloned();
    assert_eq!(answer, Some(Value::Text("revu après restauration".into())), "the phone pulled past its old cursor");
    let after: Vec<Vec<_>> =
        phones.iter().map(|p| ids.concat().iter().filter_map(|id| p.store.heads(id).ok()).collect()).collect();
    for (before, after) in before_restore.iter().zip(&after) {
        assert_eq!(before.len(), after.len(), "the phones lost nothing either");
    }

    let log = backend.audit_log(100).unwrap();
    let restore = log.iter().find(|e| e.action == "admin.restore").expect("the restore is audited");
    let detail = restore.detail.as_deref().unwrap_or_default();
    assert!(detail.contains(&restored.identity.epoch.to_string()), "{detail}");
    pilot.stop();
}
