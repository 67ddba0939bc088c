//! Schema migrations: from an empty file, from every earlier version, and refusal of newer files.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{enumerator, household_form, store_at};
use rusqlite::Connection;
use terrain_core::store::schema::{self, LATEST};
use terrain_core::{AnswerPath, Store, StoreError, Value};

fn schema_of(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn an_empty_file_gets_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    Store::open(&path, enumerator()).unwrap();
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::version(&conn).unwrap(), LATEST);
    assert!(schema_of(&conn).iter().any(|s| s.starts_with("table surveys")));
}

#[test]
fn every_earlier_version_upgrades_to_the_same_schema_keeping_its_data() {
    let dir = tempfile::tempdir().unwrap();
    // A survey written by the current code, to plant in older databases.
    let source = store_at(&dir.path().join("source.db"), enumerator());
    let id = source.create_survey("household", "2026110101").unwrap();
    source.set_answer(&id, &"village".parse::<AnswerPath>().unwrap(), Value::Text("Siguiri".into())).unwrap();
    let bytes = source.document_bytes(&id).unwrap();
    let fresh = schema_of(&Connection::open(source.path()).unwrap());

    for version in 0..LATEST {
        let path = dir.path().join(format!("v{version}.db"));
        let mut conn = Connection::open(&path).unwrap();
        schema::migrate_to(&mut conn, version).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), version);
        if version >= 1 {
            let form = household_form();
            conn.execute(
                "INSERT INTO forms (form_id, version, title, definition, saved_at) VALUES (?1, ?2, ?3, ?4, 0)",
                rusqlite::params![form.id, form.version, form.title, form.to_json()],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO surveys (survey_id, form_id, form_version, status, created_by, created_on, created_at,
                                      updated_at, heads, snapshot)
                 VALUES (?1, 'household', '2026110101', 'draft', 'awa', 'phone-1', 0, 0, x'', ?2)",
                rusqlite::params![id, bytes],
            )
            .unwrap();
        }
        drop(conn);

        let store = Store::open(&path, enumerator()).unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), LATEST, "from version {version}");
        assert_eq!(schema_of(&conn), fresh, "from version {version}");
        if version >= 1 {
            let survey = store.survey(&id).unwrap();
            assert_eq!(survey.answers.value("village"), Some(&Value::Text("Siguiri".into())));
        }
    }
}

#[test]
fn a_database_from_a_newer_terrain_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 999;").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path, enumerator()).unwrap_err();
    assert!(matches!(err, StoreError::NewerDatabase { found: 999, .. }), "{err}");
    assert!(err.to_string().contains("update Terrain"), "{err}");
    assert!(std::fs::read(&path).unwrap() == before, "the file must not change");
}
