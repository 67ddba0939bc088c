//! The OData feed against the real server on loopback, read as Power Query reads it: a
//! request without credentials gets a Basic challenge; the service document, then
//! `$metadata`, then every set page by page through `@odata.nextLink`, signed in with the
//! analyst's user name and a feed token. What it reads equals the CSV export of the same
//! surveys, row by row, repeats and their parent keys included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use common::{TestServer, http, unzip};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value as Json, json};
use terrain_core::{Author, Role, SurveyDoc};

/// A server with the household form (nested repeats, every kind of answer) and `n`
/// surveys pushed as one phone's, in batches.
fn seeded(n: usize) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server"));
    server.user("analyst", Role::Analyst, None);
    server.user("enum", Role::Enumerator, Some(0));
    let form = common::household_form();
    let author = Author::new("enum", "enum-phone", Role::Enumerator);
    let actor = terrain_core::identity::new_actor_for(None);
    let mut rng = StdRng::seed_from_u64(21);
    let mut batch = Vec::with_capacity(500);
    for i in 0..n {
        let answers = terrain_demo::sample::answers(&form, &mut rng);
        let id = uuid::Uuid::new_v4().to_string();
        let mut doc = SurveyDoc::create(&form, &id, &author, actor.clone(), chrono::Utc::now(), &answers).unwrap();
        batch.push((id, doc.save()));
        if batch.len() == 500 || i + 1 == n {
            for outcome in server.backend().push(&batch, &mut |_| Ok(())).unwrap() {
                outcome.unwrap();
            }
            batch.clear();
        }
    }
    (server, dir)
}

fn feed_token(server: &TestServer, user: &str) -> String {
    let session = server.token(user, "laptop");
    let resp = http()
        .post(format!("{}/api/v1/me/feed-tokens", server.url))
        .bearer_auth(session)
        .json(&json!({ "label": "Power BI, Conakry office" }))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let body: Json = resp.json().unwrap();
    body["token"].as_str().unwrap().to_owned()
}

fn get(url: &str, user: &str, token: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = http().get(url).basic_auth(user, Some(token)).send().unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().unwrap())
}

/// Every row of a set, following `@odata.nextLink`; returns the rows and the pages read.
fn read_set(url: &str, user: &str, token: &str) -> (Vec<serde_json::Map<String, Json>>, usize) {
    let (mut rows, mut pages, mut next) = (Vec::new(), 0, Some(url.to_owned()));
    while let Some(url) = next.take() {
        let (status, headers, body) = get(&url, user, token);
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(headers["odata-version"], "4.0");
        let page: Json = serde_json::from_str(&body).unwrap();
        assert!(page["@odata.context"].as_str().unwrap().contains("$metadata#"));
        rows.extend(page["value"].as_array().unwrap().iter().map(|r| r.as_object().unwrap().clone()));
        next = page.get("@odata.nextLink").and_then(Json::as_str).map(str::to_owned);
        pages += 1;
    }
    (rows, pages)
}

/// An OData value as the CSV writes the same answer.
fn as_csv(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Checks one OData row against the CSV row of the same answers: every question cell
/// equal, a geopoint's coordinates equal to the CSV's part columns. Returns the cells compared.
fn same_row(odata: &serde_json::Map<String, Json>, csv: &HashMap<String, String>, what: &str) -> usize {
    let mut compared = 0;
    for (name, cell) in csv {
        if name.starts_with('_') || name.contains('/') {
            continue;
        }
        let value = odata.get(name).unwrap_or_else(|| panic!("{what}: no property {name}"));
        match value.get("type").and_then(Json::as_str) {
            Some("Point") => {
                let c = &value["coordinates"];
                assert_eq!(as_csv(&c[0]), csv[&format!("_{name}_longitude")], "{what}: {name}");
                assert_eq!(as_csv(&c[1]), csv[&format!("_{name}_latitude")], "{what}: {name}");
            }
            Some("Polygon") => {
                let points = c_len(&value["coordinates"][0]);
                assert_eq!(points, cell.split(';').count(), "{what}: {name}");
            }
            // The same number, however each writes it (`29.0` and `29`).
            _ if value.is_number() => assert_eq!(value.as_f64(), cell.parse::<f64>().ok(), "{what}: {name}"),
            _ => assert_eq!(&as_csv(value), cell, "{what}: {name}"),
        }
        compared += 1;
    }
    compared
}

fn c_len(v: &Json) -> usize {
    v.as_array().map_or(0, Vec::len)
}

#[test]
fn power_query_pages_through_ten_thousand_submissions_and_reads_what_the_csv_export_holds() {
    const N: usize = 10_000;
    let (server, _dir) = seeded(N);
    let token = feed_token(&server, "analyst");
    let service = format!("{}/api/v1/projects/{}/odata", server.url, server.project);

    // Power Query first asks without credentials, and is told to use Basic.
    let resp = http().get(&service).send().unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));

    let (status, _, body) = get(&service, "analyst", &token);
    assert_eq!(status, 200, "{body}");
    let document: Json = serde_json::from_str(&body).unwrap();
    let sets: Vec<&str> = document["value"].as_array().unwrap().iter().map(|s| s["url"].as_str().unwrap()).collect();
    let main = "household_v2026110101";
    let (member, illness) = (format!("{main}__member"), format!("{main}__illness"));
    assert_eq!(sets, [main, member.as_str(), illness.as_str()]);

    let (status, headers, xml) = get(&format!("{service}/$metadata"), "analyst", &token);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/xml");
    for expected in [
        "<EntitySet Name=\"household_v2026110101\" EntityType=\"terrain.household_v2026110101\"/>",
        "<Property Name=\"hh_size\" Type=\"Edm.Int64\"/>",
        "<Property Name=\"farm_area\" Type=\"Edm.Decimal\"/>",
        "<Property Name=\"visit_date\" Type=\"Edm.Date\"/>",
        "<Property Name=\"gps\" Type=\"Edm.GeographyPoint\" SRID=\"4326\"/>",
        "<Property Name=\"crops\" Type=\"Edm.String\"/>",
        "<Property Name=\"_submission_time\" Type=\"Edm.DateTimeOffset\"/>",
    ] {
        assert!(xml.contains(expected), "$metadata lacks {expected}:\n{xml}");
    }

    // The CSV export of the same surveys, as the same analyst downloads it.
    let session = server.token("analyst", "laptop");
    let resp = http()
        .get(format!("{}/api/v1/forms/household/export?format=csv&review=any", server.url))
        .bearer_auth(session)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let tables: HashMap<String, common::Rows> =
        unzip(&resp.bytes().unwrap()).into_iter().map(|(name, (_, rows))| (name, rows)).collect();

    let (main_rows, pages) = read_set(&format!("{service}/{main}"), "analyst", &token);
    assert_eq!(pages, N.div_ceil(1000), "pages of 1000 rows");
    assert_eq!(main_rows.len(), N);
    let csv_main: HashMap<&str, &HashMap<String, String>> =
        tables["household"].iter().map(|r| (r["_uuid"].as_str(), r)).collect();
    assert_eq!(csv_main.len(), N);
    let mut compared = 0;
    for row in &main_rows {
        let id = row["__id"].as_str().unwrap();
        let csv = csv_main.get(id).unwrap_or_else(|| panic!("{id} is not in the CSV export"));
        compared += same_row(row, csv, id);
        assert_eq!(row["_review_status"], "received");
        assert_eq!(row["_submission_time"].as_str().unwrap(), csv["_submission_time"]);
    }

    // Repeats, in the same order as the CSV's tables, linked to the same parents.
    let (members, _) = read_set(&format!("{service}/{member}"), "analyst", &token);
    let (illnesses, _) = read_set(&format!("{service}/{illness}"), "analyst", &token);
    let (csv_members, csv_illnesses) = (&tables["member"], &tables["illness"]);
    assert_eq!(members.len(), csv_members.len());
    assert_eq!(illnesses.len(), csv_illnesses.len());
    assert!(members.len() > N && !illnesses.is_empty(), "the sample fills the repeats");
    let mut member_by_index: HashMap<&str, &str> = HashMap::new();
    for (row, csv) in members.iter().zip(csv_members) {
        assert_eq!(row["__submission_id"].as_str().unwrap(), csv["_submission__uuid"]);
        assert_eq!(row["__parent_id"], row["__submission_id"]);
        member_by_index.insert(&csv["_index"], row["__id"].as_str().unwrap());
        compared += same_row(row, csv, "member");
    }
    for (row, csv) in illnesses.iter().zip(csv_illnesses) {
        assert_eq!(row["__parent_id"].as_str().unwrap(), member_by_index[csv["_parent_index"].as_str()]);
        compared += same_row(row, csv, "illness");
    }
    assert!(compared > 10 * N, "compared {compared} cells");
}

#[test]
fn query_options_count_select_filter_and_resume_without_losing_a_row() {
    let (server, _dir) = seeded(30);
    let token = feed_token(&server, "analyst");
    let set = format!("{}/api/v1/projects/{}/odata/household_v2026110101", server.url, server.project);
    let page = |query: &str| -> Json {
        let (status, _, body) = get(&format!("{set}?{query}"), "analyst", &token);
        assert_eq!(status, 200, "{query}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let all = page("$count=true");
    assert_eq!(all["value"].as_array().unwrap().len(), 30);
    assert_eq!(all["@odata.count"], 30);
    let ids: Vec<&str> = all["value"].as_array().unwrap().iter().map(|r| r["__id"].as_str().unwrap()).collect();

    // $top and $skip, and a $top larger than what there is.
    let some = page("$top=5&$skip=10&$select=__id,hh_size");
    let rows = some["value"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["__id"].as_str().unwrap()).collect::<Vec<_>>(), ids[10..15]);
    assert_eq!(rows[0].as_object().unwrap().keys().collect::<Vec<_>>(), ["__id", "hh_size"]);
    assert!(some.get("@odata.nextLink").is_none(), "$top asked for 5: nothing follows");
    assert_eq!(page("$top=1000")["value"].as_array().unwrap().len(), 30);

    for filter in
        ["_review_status eq 'received'", "__system/submissionDate ge 2000-01-01 and not (_review_status eq 'approved')"]
    {
        let filtered = page(&format!("$filter={}", urlencode(filter)));
        assert_eq!(filtered["value"].as_array().unwrap().len(), 30, "{filter}");
    }
    assert_eq!(page(&format!("$filter={}", urlencode("_review_status eq 'approved'")))["value"], json!([]));

    // Small pages of a repeat set end inside a survey's rows and resume there; a survey
    // changed between two pages comes again at the end, newer, and no row is lost.
    let member_set = format!("{set}__member");
    let (status, _, body) = get(&format!("{member_set}?$count=true"), "analyst", &token);
    assert_eq!(status, 200);
    let everything: Json = serde_json::from_str(&body).unwrap();
    let all_members: Vec<String> =
        everything["value"].as_array().unwrap().iter().map(|r| r["__id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(everything["@odata.count"].as_u64().unwrap() as usize, all_members.len());
    let mut paged: Vec<String> = Vec::new();
    let mut next = Some(member_set.clone());
    let mut changed = None;
    while let Some(url) = next.take() {
        let resp = http()
            .get(&url)
            .basic_auth("analyst", Some(&token))
            .header("Prefer", "odata.maxpagesize=7")
            .send()
            .unwrap();
        assert_eq!(resp.headers()["preference-applied"], "odata.maxpagesize=7");
        let body: Json = resp.json().unwrap();
        let rows = body["value"].as_array().unwrap();
        assert!(rows.len() <= 7);
        paged.extend(rows.iter().map(|r| r["__id"].as_str().unwrap().to_owned()));
        if changed.is_none() {
            // The first survey, all of whose rows were sent, changes before the next page.
            let first = rows[0]["__submission_id"].as_str().unwrap().to_owned();
            assert_ne!(rows[6]["__submission_id"].as_str().unwrap(), first, "the first survey ends within the page");
            let admin = server.backend().user_by_name("admin").unwrap().unwrap().0;
            let path = terrain_core::AnswerPath::top("village");
            server
                .backend()
                .correct(&admin, &first, &path, terrain_core::Value::Text("changed between two pages".into()))
                .unwrap();
            changed = Some(first);
        }
        next = body.get("@odata.nextLink").and_then(Json::as_str).map(str::to_owned);
    }
    for id in &all_members {
        assert!(paged.contains(id), "{id} was lost between pages");
    }
    let changed = changed.unwrap();
    let again = paged.iter().filter(|id| id.starts_with(&format!("{changed}/"))).count();
    let once = all_members.iter().filter(|id| id.starts_with(&format!("{changed}/"))).count();
    assert_eq!(again, 2 * once, "the changed survey's rows come again, at the end");
    assert_eq!(paged.len(), all_members.len() + once);

    // Refusals say what is accepted.
    for (query, says) in [
        ("$orderby=hh_size", "$orderby is not supported"),
        ("$select=nope", "has no property `nope`"),
        ("$filter=village%20eq%20'x'", "cannot filter on `village`"),
        ("$skiptoken=garbage", "follow @odata.nextLink"),
    ] {
        let (status, _, body) = get(&format!("{set}?{query}"), "analyst", &token);
        assert_eq!(status, 400, "{query}");
        assert!(body.contains(says), "{query}: {body}");
    }
    let (status, _, _) = get(&format!("{set}_nope"), "analyst", &token);
    assert_eq!(status, 404);
}

#[test]
fn feed_tokens_read_feeds_only_and_stop_when_revoked() {
    let (server, _dir) = seeded(3);
    let token = feed_token(&server, "analyst");
    let service = format!("{}/api/v1/projects/{}/odata", server.url, server.project);
    assert_eq!(get(&service, "analyst", &token).0, 200);
    // Someone else's name with the analyst's token; the token where one only reads
    // (exports, the forms list), and where one could do more.
    assert_eq!(get(&service, "admin", &token).0, 401);
    assert_eq!(get(&format!("{}/api/v1/forms", server.url), "analyst", &token).0, 200);
    let export = format!("{}/api/v1/forms/household/export?format=csv&review=any", server.url);
    assert_eq!(http().get(&export).bearer_auth(&token).send().unwrap().status().as_u16(), 200);
    let resp = http().get(format!("{}/api/v1/surveys", server.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().unwrap().contains("feed token"));
    // Enumerators hold no feed tokens and read no feed, even with their session.
    let session = server.token("enum", "phone");
    let resp = http()
        .post(format!("{}/api/v1/me/feed-tokens", server.url))
        .bearer_auth(&session)
        .json(&json!({ "label": "mine" }))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(http().get(&service).bearer_auth(&session).send().unwrap().status().as_u16(), 403);
    // Another project's feed does not exist for the analyst.
    let other = server.backend().create_project("other").unwrap();
    let url = format!("{}/api/v1/projects/{}/odata", server.url, other.id);
    assert_eq!(get(&url, "analyst", &token).0, 404);

    // Listed, revoked, and then refused at once.
    let session = server.token("analyst", "laptop");
    let list: Json = http()
        .get(format!("{}/api/v1/me/feed-tokens", server.url))
        .bearer_auth(&session)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["label"], "Power BI, Conakry office");
    assert!(list[0].get("token").is_none(), "the token is shown once, when created");
    let resp =
        http().delete(format!("{}/api/v1/me/feed-tokens/{id}", server.url)).bearer_auth(&session).send().unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(get(&service, "analyst", &token).0, 401);

    // Every token made and revoked, and every page read, is in the audit log.
    let actions: Vec<String> = server.backend().audit_log(1000).unwrap().into_iter().map(|e| e.action).collect();
    for action in ["feed.token_create", "feed.token_revoke", "feed.read"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).unwrap().trim_start_matches('=').to_owned()
}
