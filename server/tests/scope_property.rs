//! The access scope as a property: in seeded random worlds where people belong to several
//! projects and teams at once (a supervisor of one team in each of two projects, an
//! enumerator in teams of both, analysts of one project and members of a team in another),
//! every read and write endpoint answers exactly what an independent statement of the rules
//! says: the JSON list, each survey and its history, review and correction, assignment,
//! exports, the sync feed, and the dashboard's list and map. The test counts unexpected
//! allows and unexpected denials and requires zero of each; a failing world prints its seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Device, PASSWORD, TestServer, household_form, http, sync_round};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value as Json, json};
use terrain_core::sync::wire::{self, SyncRequest};
use terrain_core::{AnswerPath, Role, Value};

#[derive(Debug, Clone)]
struct Person {
    name: String,
    role: Role,
    id: i64,
    teams: Vec<usize>,
    direct: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Survey {
    id: String,
    form: usize,
    creator: usize,
    assignees: Vec<usize>,
}

struct World {
    seed: u64,
    server: TestServer,
    _dir: tempfile::TempDir,
    /// Each form's id and its project.
    forms: Vec<(String, usize)>,
    /// Each team's id and its project.
    teams: Vec<(i64, usize)>,
    people: Vec<Person>,
    surveys: Vec<Survey>,
}

impl World {
    fn projects_of(&self, p: usize) -> BTreeSet<usize> {
        let person = &self.people[p];
        person.direct.iter().copied().chain(person.teams.iter().map(|t| self.teams[*t].1)).collect()
    }

    /// The independent statement of who reads what.
    fn may_read(&self, p: usize, s: &Survey) -> bool {
        let person = &self.people[p];
        let project = self.forms[s.form].1;
        match person.role {
            Role::Admin => true,
            Role::Analyst => self.projects_of(p).contains(&project),
            Role::Supervisor => person
                .teams
                .iter()
                .filter(|t| self.teams[**t].1 == project)
                .any(|t| self.people[s.creator].teams.contains(t)),
            Role::Enumerator => s.creator == p || s.assignees.contains(&p),
        }
    }

    fn reviews(&self, p: usize) -> bool {
        matches!(self.people[p].role, Role::Supervisor | Role::Admin)
    }
}

fn form_named(id: &str) -> terrain_core::Form {
    let mut form = household_form();
    form.id = id.to_owned();
    form
}

fn build(seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let backend = server.backend();
    // Three projects, two forms and two teams each (the seeded "pilot" is the first).
    let mut project_ids = vec![server.project];
    for name in ["coastal", "highlands"] {
        project_ids.push(backend.create_project(name).unwrap().id);
    }
    let mut forms = vec![("household".to_owned(), 0)];
    backend.publish_form(project_ids[0], &form_named("household_b")).unwrap();
    forms.push(("household_b".to_owned(), 0));
    for (p, &project) in project_ids.iter().enumerate().skip(1) {
        for k in 0..2 {
            let id = format!("household_p{p}_{k}");
            backend.publish_form(project, &form_named(&id)).unwrap();
            forms.push((id, p));
        }
    }
    let mut teams: Vec<(i64, usize)> = server.teams.iter().map(|t| (*t, 0)).collect();
    for (p, &project) in project_ids.iter().enumerate().skip(1) {
        for k in 0..2 {
            teams.push((backend.create_team(project, &format!("team-{p}-{k}")).unwrap().id, p));
        }
    }
    // People: each joins teams in one to three projects; analysts join projects directly.
    let roles = [
        Role::Admin,
        Role::Supervisor,
        Role::Supervisor,
        Role::Supervisor,
        Role::Enumerator,
        Role::Enumerator,
        Role::Enumerator,
        Role::Enumerator,
        Role::Enumerator,
        Role::Analyst,
        Role::Analyst,
    ];
    let mut people = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let name = format!("p{i}-{role}");
        let user = server.user(&name, *role, None);
        let mut person = Person { name, role: *role, id: user.id, teams: Vec::new(), direct: Vec::new() };
        if *role != Role::Admin {
            let how_many = rng.random_range(1..=3);
            for _ in 0..how_many {
                let t = rng.random_range(0..teams.len());
                if !person.teams.contains(&t) {
                    backend.add_team_member(teams[t].0, user.id).unwrap();
                    person.teams.push(t);
                }
            }
        }
        if *role == Role::Analyst {
            let p = rng.random_range(0..project_ids.len());
            backend.add_project_member(project_ids[p], user.id).unwrap();
            // `TestServer::user` makes every analyst a member of "pilot" too.
            person.direct.extend([0, p]);
        }
        people.push(person);
    }
    let mut world = World { seed, server, _dir: dir, forms, teams, people, surveys: Vec::new() };
    // Surveys: each enumerator starts one or two in forms of each project they belong to.
    for p in 0..world.people.len() {
        if world.people[p].role != Role::Enumerator {
            continue;
        }
        let device = Device::login(
            &world.server.url,
            world._dir.path(),
            &world.people[p].name.clone(),
            Role::Enumerator,
            &format!("phone-{p}"),
        );
        device.fetch_forms();
        let projects = world.projects_of(p);
        for (f, (form, project)) in world.forms.clone().iter().enumerate() {
            if projects.contains(project) && rng.random_bool(0.6) {
                let id = device.store.create_survey(form, "2026110101").unwrap();
                device
                    .store
                    .set_answer(&id, &"village".parse::<AnswerPath>().unwrap(), Value::Text("Kindia".into()))
                    .unwrap();
                world.surveys.push(Survey { id, form: f, creator: p, assignees: Vec::new() });
            }
        }
        let report = device.sync();
        assert!(report.refused.is_empty(), "seed {seed}: {:?}", report.refused);
    }
    // Assignments, made by the admin, to enumerators of the survey's project.
    let admin = world.server.token("p0-admin", "desk");
    for s in 0..world.surveys.len() {
        if !rng.random_bool(0.3) {
            continue;
        }
        let project = world.forms[world.surveys[s].form].1;
        let candidates: Vec<usize> = (0..world.people.len())
            .filter(|p| world.people[*p].role == Role::Enumerator && world.projects_of(*p).contains(&project))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let p = candidates[rng.random_range(0..candidates.len())];
        let path = format!("{}/api/v1/surveys/{}/assignees", world.server.url, world.surveys[s].id);
        let status = http()
            .post(path)
            .bearer_auth(&admin)
            .json(&json!({"user_id": world.people[p].id}))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 204, "seed {seed}: the admin assigns");
        world.surveys[s].assignees.push(p);
    }
    world
}

#[derive(Default)]
struct Tally {
    checks: usize,
    allowed_unexpectedly: Vec<String>,
    denied_unexpectedly: Vec<String>,
}

impl Tally {
    fn expect(&mut self, what: String, expected: bool, got: bool) {
        self.checks += 1;
        match (expected, got) {
            (false, true) => self.allowed_unexpectedly.push(what),
            (true, false) => self.denied_unexpectedly.push(what),
            _ => {}
        }
    }

    fn sets(&mut self, what: &str, expected: &BTreeSet<String>, got: &BTreeSet<String>) {
        for id in got.difference(expected) {
            self.expect(format!("{what}: {id}"), false, true);
        }
        for id in expected.difference(got) {
            self.expect(format!("{what}: {id}"), true, false);
        }
        self.checks += expected.intersection(got).count();
    }
}

fn status(method: reqwest::Method, url: String, token: &str, body: Option<Json>) -> u16 {
    let mut request = http().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().unwrap().status().as_u16()
}

fn check(world: &World, tally: &mut Tally) {
    let url = &world.server.url;
    for (p, person) in world.people.iter().enumerate() {
        let token = world.server.token(&person.name, &format!("desk-{p}"));
        let who = format!("seed {} {}", world.seed, person.name);
        let readable: BTreeSet<String> =
            world.surveys.iter().filter(|s| world.may_read(p, s)).map(|s| s.id.clone()).collect();

        // The JSON list.
        let page: Json =
            http().get(format!("{url}/api/v1/surveys?limit=500")).bearer_auth(&token).send().unwrap().json().unwrap();
        let listed: BTreeSet<String> =
            page["items"].as_array().unwrap().iter().map(|i| i["survey_id"].as_str().unwrap().to_owned()).collect();
        tally.sets(&format!("{who} lists"), &readable, &listed);
        assert_eq!(page["total"].as_u64().unwrap() as usize, listed.len(), "{who}: the count agrees with the list");

        // Each survey: read, history, review, correction, assignment.
        for s in &world.surveys {
            let read = world.may_read(p, s);
            let review = read && world.reviews(p);
            let base = format!("{url}/api/v1/surveys/{}", s.id);
            tally.expect(
                format!("{who} reads {}", s.id),
                read,
                status(reqwest::Method::GET, base.clone(), &token, None) == 200,
            );
            let history = status(reqwest::Method::GET, format!("{base}/history?path=village"), &token, None);
            tally.expect(format!("{who} reads the history of {}", s.id), read, history == 200);
            let comment = json!({"action": "comment", "comment": format!("seen by {}", person.name)});
            let answer = status(reqwest::Method::POST, format!("{base}/review"), &token, Some(comment));
            tally.expect(format!("{who} comments on {}", s.id), review, answer == 204);
            assert!(answer == 204 || answer == if read { 403 } else { 404 }, "{who}: review answered {answer}");
            let fix = json!({"path": "head_name", "value": {"type": "text", "value": person.name}});
            let answer = status(reqwest::Method::PUT, format!("{base}/answers"), &token, Some(fix));
            tally.expect(format!("{who} corrects {}", s.id), review, answer == 204);
            let creator = json!({"user_id": world.people[s.creator].id});
            let answer = status(reqwest::Method::POST, format!("{base}/assignees"), &token, Some(creator));
            tally.expect(format!("{who} assigns {}", s.id), review, answer == 204);
        }

        // Exports: never enumerators; analysts, supervisors and admins of the form's project,
        // each with the surveys they may read.
        for (f, (form, project)) in world.forms.iter().enumerate() {
            let response = http()
                .get(format!("{url}/api/v1/forms/{form}/export?format=ndjson&review=any"))
                .bearer_auth(&token)
                .send()
                .unwrap();
            let code = response.status().as_u16();
            let may = person.role != Role::Enumerator
                && (person.role == Role::Admin || world.projects_of(p).contains(project));
            tally.expect(format!("{who} exports {form}"), may, code == 200);
            if code == 200 {
                let text = response.text().unwrap();
                let exported: BTreeSet<String> = text
                    .lines()
                    .map(|l| serde_json::from_str::<Json>(l).unwrap()["meta"]["survey_id"].as_str().unwrap().to_owned())
                    .collect();
                let expected: BTreeSet<String> = world
                    .surveys
                    .iter()
                    .filter(|s| s.form == f && world.may_read(p, s))
                    .map(|s| s.id.clone())
                    .collect();
                tally.sets(&format!("{who} exports {form}"), &expected, &exported);
            }
        }

        // The sync feed, from the start.
        let device = world.server.token(&person.name, &format!("sync-{p}"));
        let request = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor: 0,
            push: Vec::new(),
            want: Vec::new(),
            max_pull_bytes: 64 << 20,
            epoch: 0,
            push_entities: Vec::new(),
            want_entities: Vec::new(),
        };
        let response = sync_round(url, &device, &request);
        let pulled: BTreeSet<String> = response.pull.iter().map(|s| wire::survey_id_string(&s.survey)).collect();
        tally.sets(&format!("{who} pulls"), &readable, &pulled);

        // The dashboard's list and map, for those who use it.
        if person.role != Role::Enumerator {
            let client =
                reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
            let login = client
                .post(format!("{url}/login"))
                .form(&[("username", person.name.as_str()), ("password", PASSWORD)])
                .send()
                .unwrap();
            let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
            let cookie = format!("{cookie}; terrain_lang=en");
            let html = client
                .get(format!("{url}/surveys?limit=500"))
                .header("cookie", &cookie)
                .send()
                .unwrap()
                .text()
                .unwrap();
            let shown: BTreeSet<String> = html
                .split("href=\"/surveys/")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .filter(|id| id.len() == 36)
                .map(str::to_owned)
                .collect();
            tally.sets(&format!("{who} sees in the dashboard"), &readable, &shown);
            let map = client.get(format!("{url}/map")).header("cookie", &cookie).send().unwrap().text().unwrap();
            let total: usize = map
                .split(" shown of ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            tally.expect(format!("{who}'s map counts {total}, not {}", readable.len()), true, total == readable.len());
        }
    }
}

#[test]
fn every_endpoint_answers_exactly_what_the_rules_say() {
    let mut tally = Tally::default();
    let mut memberships = BTreeMap::new();
    for seed in [11, 12, 13] {
        let world = build(seed);
        // The property needs people in several projects at once: check the worlds have them.
        let multi = (0..world.people.len()).filter(|p| world.projects_of(*p).len() > 1).count();
        memberships.insert(seed, multi);
        check(&world, &mut tally);
    }
    assert!(memberships.values().sum::<usize>() >= 6, "too few people in several projects: {memberships:?}");
    assert!(tally.checks > 1_000, "only {} checks", tally.checks);
    assert!(
        tally.allowed_unexpectedly.is_empty() && tally.denied_unexpectedly.is_empty(),
        "{} checks; {} unexpected allows: {:#?}\n{} unexpected denials: {:#?}",
        tally.checks,
        tally.allowed_unexpectedly.len(),
        tally.allowed_unexpectedly,
        tally.denied_unexpectedly.len(),
        tally.denied_unexpectedly
    );
    eprintln!("{} checks, 0 unexpected allows, 0 unexpected denials", tally.checks);
}
