//! The plans SQLite picks for lists over a store shaped like a server's (one form, 40
//! enumerators, two months), once statistics are gathered: a plan that walks the wrong
//! index still answers correctly, only 30–100× slower, so only these tests notice.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, ToSql, params};

use super::{Area, Args, SurveyQuery, Visibility, count_sql, list_sql};
use crate::store::{Store, schema, statistics};
use crate::survey::ReviewStatus;

const DAY_MS: i64 = 86_400_000;
const START_MS: i64 = 1_790_000_000_000;

/// Fills `conn` with `n` survey rows (metadata only: lists never read the documents), drawn
/// from `seed`.
fn fill(conn: &Connection, n: usize, seed: u64) {
    conn.execute("INSERT OR IGNORE INTO forms VALUES ('f', '1', 'F', '{}', 0)", []).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let reviews = [None, None, None, Some("approved"), Some("has_issues"), Some("sent_back")];
    let mut insert = conn
        .prepare(
            "INSERT INTO surveys (survey_id, form_id, form_version, status, created_by, created_on, created_at,
                                  updated_at, review_status, has_conflicts, heads, snapshot)
             VALUES (?1, 'f', '1', 'finalized', ?2, 'phone', ?3, ?3 + 3600000, ?4, ?5, x'', x'')",
        )
        .unwrap();
    for _ in 0..n {
        let created = START_MS + rng.random_range(0..60) * DAY_MS;
        insert
            .execute(params![
                uuid::Uuid::from_u128(rng.random()).to_string(),
                format!("enum{:02}", rng.random_range(0..40)),
                created,
                reviews[rng.random_range(0..reviews.len())],
                rng.random_range(0..100) == 0,
            ])
            .unwrap();
    }
}

fn analysed(n: usize) -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    schema::migrate(&mut conn).unwrap();
    fill(&conn, n, 19);
    statistics::gather(&mut conn).unwrap();
    conn
}

fn plan(conn: &Connection, (sql, args): (String, Args)) -> String {
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = stmt.query_map(params.as_slice(), |r| r.get::<_, String>(3)).unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
}

/// What a supervisor of one team sees: the project's forms, the team's enumerators.
fn supervisor() -> SurveyQuery {
    let team = (0..40).step_by(3).map(|i| format!("enum{i:02}")).collect();
    SurveyQuery {
        visible: Visibility::Areas(vec![Area { forms: Some(vec!["f".into()]), creators: Some(team), surveys: None }]),
        limit: Some(50),
        ..SurveyQuery::default()
    }
}

#[test]
fn a_team_is_counted_from_the_listing_index_alone() {
    let conn = analysed(4_000);
    let month = |q: SurveyQuery| SurveyQuery {
        started_from: chrono::DateTime::from_timestamp_millis(START_MS + 30 * DAY_MS),
        started_before: chrono::DateTime::from_timestamp_millis(START_MS + 60 * DAY_MS),
        review: Some(vec![ReviewStatus::Received]),
        ..q
    };
    for (what, query) in [("the team", supervisor()), ("the team's month, unreviewed", month(supervisor()))] {
        let found = plan(&conn, count_sql(&query).unwrap());
        assert!(found.contains("COVERING INDEX surveys_listing"), "{what}: {found}");
    }
}

#[test]
fn conflicts_are_listed_and_counted_from_their_own_index() {
    let conn = analysed(4_000);
    let query = SurveyQuery { has_conflicts: Some(true), ..supervisor() };
    for found in [plan(&conn, count_sql(&query).unwrap()), plan(&conn, list_sql(&query).unwrap())] {
        assert!(found.contains("surveys_conflicted"), "{found}");
        assert!(!found.contains("TEMP B-TREE"), "the index gives the order: {found}");
    }
}

#[test]
fn statistics_are_gathered_past_a_thousand_surveys_and_again_when_the_count_doubles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let store = Store::open(&path, crate::identity::Author::new("s", "server", crate::identity::Role::Admin)).unwrap();
    assert!(!store.refresh_statistics().unwrap(), "an empty store has nothing to plan");
    let other = Connection::open(&path).unwrap();
    fill(&other, statistics::MIN_SURVEYS as usize, 1);
    assert!(store.refresh_statistics().unwrap());
    assert!(!store.refresh_statistics().unwrap(), "nothing moved since");
    let gathered: i64 =
        other.query_row("SELECT count(*) FROM sqlite_stat1 WHERE idx = 'surveys_listing'", [], |r| r.get(0)).unwrap();
    assert_eq!(gathered, 1);
    fill(&other, statistics::MIN_SURVEYS as usize, 2);
    assert!(store.refresh_statistics().unwrap(), "doubled");
}
