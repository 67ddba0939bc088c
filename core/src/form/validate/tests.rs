//! Tests of the evaluation rules on small forms written as JSON.

use chrono::DateTime;
use serde_json::{Value as Json, json};

use super::*;
use crate::survey::Answer;
use crate::value::Value;

pub(super) fn options(language: Option<&str>) -> EvalOptions {
    EvalOptions {
        language: language.map(str::to_owned),
        now: DateTime::parse_from_rfc3339("2026-11-28T10:00:00+00:00").unwrap(),
        seed: 7,
    }
}

fn form(children: Json, lists: Json) -> Form {
    let json = json!({
        "id": "t", "version": "1", "title": "T",
        "default_language": "English (en)", "languages": ["English (en)", "Français (fr)"],
        "children": children, "choice_lists": lists,
    });
    Form::from_json(&json.to_string()).unwrap()
}

/// A question node: `kind` is the type's kind, `extra` its other fields.
fn q(name: &str, kind: &str, extra: Json) -> Json {
    let mut node = json!({"node": "question", "name": name, "type": {"kind": kind}});
    if let (Some(node), Some(extra)) = (node.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            node.insert(k.clone(), v.clone());
        }
    }
    node
}

fn select(name: &str, list: &str, extra: Json) -> Json {
    let mut node = q(name, "select_one", extra);
    node["type"] = json!({"kind": "select_one", "list": list});
    node
}

fn group(name: &str, relevant: Option<&str>, children: Json) -> Json {
    let mut node = json!({"node": "group", "name": name, "children": children});
    if let Some(r) = relevant {
        node["relevant"] = json!(r);
    }
    node
}

fn repeat(name: &str, extra: Json, children: Json) -> Json {
    let mut node = json!({"node": "repeat", "name": name, "children": children});
    if let (Some(node), Some(extra)) = (node.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            node.insert(k.clone(), v.clone());
        }
    }
    node
}

/// Builds answers tersely.
#[derive(Default)]
pub(super) struct A(pub Answers);

impl A {
    pub fn new() -> A {
        A::default()
    }
    pub fn put(mut self, name: &str, value: Value) -> A {
        self.0.0.insert(name.to_owned(), Answer::Value(value));
        self
    }
    pub fn text(self, name: &str, v: &str) -> A {
        self.put(name, Value::Text(v.to_owned()))
    }
    pub fn int(self, name: &str, v: i64) -> A {
        self.put(name, Value::Integer(v))
    }
    pub fn dec(self, name: &str, v: f64) -> A {
        self.put(name, Value::Decimal(v))
    }
    pub fn choice(self, name: &str, v: &str) -> A {
        self.put(name, Value::Choice(v.to_owned()))
    }
    pub fn choices(self, name: &str, v: &[&str]) -> A {
        self.put(name, Value::Choices(v.iter().map(|s| s.to_string()).collect()))
    }
    pub fn repeat(mut self, name: &str, instances: Vec<A>) -> A {
        self.0.0.insert(name.to_owned(), Answer::Repeat(instances.into_iter().map(|a| a.0).collect()));
        self
    }
    pub fn remove(mut self, name: &str) -> A {
        self.0.0.remove(name);
        self
    }
}

pub(super) fn path(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

pub(super) fn paths(issues: &[Issue]) -> Vec<String> {
    issues.iter().map(|i| i.path.to_string()).collect()
}

fn eval(form: &Form, answers: A) -> Evaluation {
    Evaluator::new(form).evaluate(&answers.0, &options(None))
}

fn yes_no() -> Json {
    json!({"yn": [
        {"name": "yes", "label": {"English (en)": "Yes", "Français (fr)": "Oui"}},
        {"name": "no", "label": {"English (en)": "No", "Français (fr)": "Non"}}
    ]})
}

#[test]
fn relevance_of_questions_and_nested_groups() {
    let f = form(
        json!([
            select("adult", "yn", json!({})),
            group(
                "outer",
                Some("${adult} = 'yes'"),
                json!([
                    q("age", "integer", json!({"required": "true()"})),
                    group(
                        "inner",
                        Some("${age} >= 60"),
                        json!([q("pension", "integer", json!({"required": "true()", "constraint": ". > 0"})),])
                    ),
                    q("job", "text", json!({"relevant": "${age} < 60"})),
                ])
            ),
            q("echo", "calculate", json!({"calculation": "concat('[', ${pension}, ']')"})),
        ]),
        yes_no(),
    );
    let ev = Evaluator::new(&f);

    // Outer group hidden: everything in it is hidden, not required, and reads as ''.
    let hidden = A::new().choice("adult", "no").int("age", 70).int("pension", -5);
    let r = ev.evaluate(&hidden.0, &options(None));
    for p in ["outer", "age", "inner", "pension", "job"] {
        assert!(r.non_relevant.contains(&path(p)), "{p} should be hidden");
        assert!(!r.is_relevant(&path(p)));
    }
    assert!(r.is_relevant(&path("adult")));
    assert!(r.missing_required.is_empty(), "{:?}", r.missing_required);
    assert!(r.violations.is_empty(), "a hidden answer's constraint is not checked: {:?}", r.violations);
    assert_eq!(r.calculated[&path("echo")], "[]", "a hidden value reads as ''");
    assert!(r.is_complete());

    // Outer shown, inner shown (age 70): the pension is required, then checked.
    let r = ev.evaluate(&A::new().choice("adult", "yes").int("age", 70).0, &options(None));
    assert_eq!(paths(&r.missing_required), ["pension"]);
    assert!(r.non_relevant.contains(&path("job")));
    assert!(!r.non_relevant.contains(&path("inner")));
    let r = ev.evaluate(&A::new().choice("adult", "yes").int("age", 70).int("pension", -5).0, &options(None));
    assert_eq!(paths(&r.violations), ["pension"]);
    assert_eq!(r.calculated[&path("echo")], "[-5]");

    // Inner hidden by the question it depends on.
    let r = ev.evaluate(&A::new().choice("adult", "yes").int("age", 30).int("pension", 5).0, &options(None));
    assert!(r.non_relevant.contains(&path("inner")) && r.non_relevant.contains(&path("pension")));
    assert_eq!(r.calculated[&path("echo")], "[]");
    assert!(r.is_complete());
}

#[test]
fn required_missing_with_messages_and_defaults() {
    let f = form(
        json!([
            q(
                "name",
                "text",
                json!({"required": "true()",
                "required_message": {"English (en)": "Give a name.", "Français (fr)": "Donnez un nom."}})
            ),
            q("village", "text", json!({"required": "true()"})),
            q("phone", "text", json!({"required": "${village} = 'Kindia'"})),
            q("consent", "acknowledge", json!({"required": "true()"})),
            q("intro", "note", json!({"required": "true()"})),
            q("total", "calculate", json!({"required": "true()", "calculation": "''"})),
        ]),
        json!({}),
    );
    let ev = Evaluator::new(&f);
    let r = ev.evaluate(&Answers::default(), &options(None));
    assert_eq!(paths(&r.missing_required), ["name", "village", "consent"], "notes and calculates are never missing");
    assert_eq!(r.missing_required[0].message, "Give a name.");
    assert_eq!(r.missing_required[1].message, "This question is required.");
    assert!(!r.is_complete());

    for language in ["fr", "Français (fr)", "français", "FR"] {
        let r = ev.evaluate(&Answers::default(), &options(Some(language)));
        assert_eq!(r.missing_required[0].message, "Donnez un nom.", "{language}");
        assert_eq!(r.missing_required[1].message, "Cette question est obligatoire.", "{language}");
    }

    // A required expression; an empty text and an unticked acknowledge are unanswered.
    let answers = A::new().text("name", "").text("village", "Kindia").put("consent", Value::Boolean(false));
    let r = ev.evaluate(&answers.0, &options(None));
    assert_eq!(paths(&r.missing_required), ["name", "phone", "consent"]);
    let answers = A::new().text("name", "Awa").text("village", "Mamou").put("consent", Value::Boolean(true));
    assert!(ev.evaluate(&answers.0, &options(None)).is_complete());
}

#[test]
fn constraints_with_messages_in_each_language() {
    let f = form(
        json!([
            q(
                "age",
                "integer",
                json!({"constraint": ". >= 15 and . <= 100",
                "constraint_message": {"English (en)": "Between 15 and 100.", "Français (fr)": "Entre 15 et 100."}})
            ),
            q("code", "text", json!({"constraint": "regex(., '^[0-9]{4}$')"})),
            q("visit", "date", json!({"constraint": ". <= today()"})),
            q("other", "integer", json!({"constraint": ". > 0"})),
        ]),
        json!({}),
    );
    let ev = Evaluator::new(&f);
    let bad = A::new()
        .int("age", 12)
        .text("code", "12a4")
        .put("visit", Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()));
    let r = ev.evaluate(&bad.0, &options(None));
    assert_eq!(paths(&r.violations), ["age", "code", "visit"], "unanswered `other` is not checked");
    assert_eq!(r.violations[0].message, "Between 15 and 100.");
    assert_eq!(r.violations[1].message, "This answer is not valid.");
    let r = ev.evaluate(&bad.0, &options(Some("Français (fr)")));
    assert_eq!(r.violations[0].message, "Entre 15 et 100.");
    assert_eq!(r.violations[1].message, "Cette réponse n'est pas valide.");
    // A language the form lacks falls back to the default language's text.
    let r = ev.evaluate(&bad.0, &options(Some("pt")));
    assert_eq!(r.violations[0].message, "Between 15 and 100.");

    let good = A::new()
        .int("age", 40)
        .text("code", "0042")
        .put("visit", Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()));
    let r = ev.evaluate(&good.0, &options(None));
    assert!(r.is_complete(), "{r:?}");
}

#[test]
fn calculations_run_in_dependency_order() {
    // Written in the reverse of their dependency order.
    let f = form(
        json!([
            q("d", "calculate", json!({"calculation": "${c} * 10"})),
            q("show", "text", json!({"relevant": "${d} > 100", "required": "true()"})),
            q("c", "calculate", json!({"calculation": "${b} + 1"})),
            q("b", "calculate", json!({"calculation": "${a} * 2"})),
            q("a", "integer", json!({})),
            q("label", "calculate", json!({"calculation": "if(${d} > 100, 'big', 'small')"})),
        ]),
        json!({}),
    );
    let ev = Evaluator::new(&f);
    let r = ev.evaluate(&A::new().int("a", 5).0, &options(None));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.calculated[&path("b")], "10");
    assert_eq!(r.calculated[&path("c")], "11");
    assert_eq!(r.calculated[&path("d")], "110");
    assert_eq!(r.calculated[&path("label")], "big");
    assert_eq!(paths(&r.missing_required), ["show"], "calculated values are visible to relevance");

    let r = ev.evaluate(&A::new().int("a", 1).0, &options(None));
    assert_eq!(r.calculated[&path("d")], "30");
    assert!(r.non_relevant.contains(&path("show")));
    // Unanswered: '' is NaN in arithmetic, as in ODK.
    let r = ev.evaluate(&Answers::default(), &options(None));
    assert_eq!(r.calculated[&path("d")], "NaN");
}

#[test]
fn cycles_are_reported_not_looped() {
    let f = form(
        json!([
            q("a", "calculate", json!({"calculation": "${b} + 1"})),
            q("b", "calculate", json!({"calculation": "${a} + 1"})),
            q("after", "calculate", json!({"calculation": "concat('a=', ${a})"})),
            q("fine", "calculate", json!({"calculation": "1 + 1"})),
            q("self", "integer", json!({"relevant": "${self} > 0", "required": "true()"})),
        ]),
        json!({}),
    );
    let ev = Evaluator::new(&f);
    let r = ev.evaluate(&Answers::default(), &options(None));
    let messages: Vec<&str> = r.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(r.errors.len(), 2, "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains("calculation of `a` → calculation of `b` → calculation of `a`")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains("relevant of `self` → relevant of `self`")), "{messages:?}");
    assert_eq!(r.errors[0].path, path("a"));
    // The rest of the form still evaluates; the cycle's values are empty, its relevance false.
    assert_eq!(r.calculated[&path("fine")], "2");
    assert_eq!(r.calculated[&path("after")], "a=");
    assert!(r.non_relevant.contains(&path("self")));
    // Reported in every evaluation.
    assert_eq!(ev.evaluate(&Answers::default(), &options(None)).errors.len(), 2);

    // A group whose relevance reads a question inside it is a cycle too (the question's
    // relevance is inherited from the group).
    let f = form(json!([group("g", Some("${inside} = 1"), json!([q("inside", "integer", json!({}))]))]), json!({}));
    let r = eval(&f, A::new().int("inside", 1));
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert!(r.errors[0].message.contains("relevant of `g` → relevant of `inside` → relevant of `g`"), "{:?}", r.errors);
}

fn household() -> Form {
    form(
        json!([
            q("village", "text", json!({})),
            repeat(
                "member",
                json!({}),
                json!([
                    q("pos", "calculate", json!({"calculation": "position(..)"})),
                    q("name", "text", json!({"required": "true()"})),
                    q("age", "integer", json!({"required": "true()", "constraint": ". >= 0 and . <= 120"})),
                    q("adult", "calculate", json!({"calculation": "if(${age} >= 18, 1, 0)"})),
                    q("tag", "calculate", json!({"calculation": "concat(${village}, '/', ${name}, '#', ${pos})"})),
                    q("school", "text", json!({"relevant": "${age} >= 6 and ${age} <= 18", "required": "true()"})),
                    q("head_check", "integer", json!({"constraint": ". = count(${member})"})),
                    repeat(
                        "illness",
                        json!({}),
                        json!([
                            q("days", "integer", json!({})),
                            q("n_ill_here", "calculate", json!({"calculation": "count(${illness})"})),
                            q("ill_pos", "calculate", json!({"calculation": "position(..)"})),
                        ])
                    ),
                    q("member_days", "calculate", json!({"calculation": "sum(${days})"})),
                    q("first_days", "calculate", json!({"calculation": "indexed-repeat(${days}, ${illness}, 1)"})),
                ])
            ),
            q("n_members", "calculate", json!({"calculation": "count(${member})"})),
            q("n_names", "calculate", json!({"calculation": "count(${name})"})),
            q("n_adults", "calculate", json!({"calculation": "sum(${adult})"})),
            q("all_days", "calculate", json!({"calculation": "sum(${days})"})),
            q("second", "calculate", json!({"calculation": "indexed-repeat(${name}, ${member}, 2)"})),
            q("nested", "calculate", json!({"calculation": "indexed-repeat(${days}, ${member}, 1, ${illness}, 2)"})),
            q("missing", "calculate", json!({"calculation": "indexed-repeat(${name}, ${member}, 9)"})),
            q("names", "calculate", json!({"calculation": "join(', ', ${name})"})),
        ]),
        json!({}),
    )
}

fn household_answers() -> A {
    A::new().text("village", "Kindia").repeat(
        "member",
        vec![
            A::new()
                .text("name", "Awa")
                .int("age", 40)
                .int("head_check", 3)
                .repeat("illness", vec![A::new().int("days", 3), A::new().int("days", 4)]),
            A::new().text("name", "Binta").int("age", 12).text("school", "primary"),
            A::new().text("name", "Sekou").int("age", 20).repeat("illness", vec![A::new().int("days", 10)]),
        ],
    )
}

#[test]
fn repeats_siblings_aggregates_and_positions() {
    let f = household();
    let r = eval(&f, household_answers());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let calc = |p: &str| r.calculated.get(&path(p)).cloned().unwrap_or_else(|| panic!("no {p}"));
    assert_eq!(calc("n_members"), "3");
    assert_eq!(calc("n_names"), "3");
    assert_eq!(calc("n_adults"), "2");
    assert_eq!(calc("all_days"), "17");
    assert_eq!(calc("second"), "Binta");
    assert_eq!(calc("nested"), "4");
    assert_eq!(calc("missing"), "");
    assert_eq!(calc("names"), "Awa, Binta, Sekou");
    assert_eq!(calc("member[0]/adult"), "1");
    assert_eq!(calc("member[1]/adult"), "0");
    assert_eq!(calc("member[1]/pos"), "2");
    assert_eq!(calc("member[2]/tag"), "Kindia/Sekou#3");
    // From inside a member, a nested repeat's field is that member's instances only.
    assert_eq!(calc("member[0]/member_days"), "7");
    assert_eq!(calc("member[1]/member_days"), "0");
    assert_eq!(calc("member[2]/member_days"), "10");
    // indexed-repeat with the enclosing member taken from the current position.
    assert_eq!(calc("member[0]/first_days"), "3");
    assert_eq!(calc("member[1]/first_days"), "");
    assert_eq!(calc("member[2]/first_days"), "10");
    assert_eq!(calc("member[0]/illness[1]/ill_pos"), "2");
    assert_eq!(calc("member[0]/illness[1]/n_ill_here"), "2");
    assert_eq!(calc("member[2]/illness[0]/n_ill_here"), "1");
    // Sibling relevance per instance: only the 12-year-old is asked about school.
    assert!(r.non_relevant.contains(&path("member[0]/school")));
    assert!(!r.non_relevant.contains(&path("member[1]/school")));
    assert!(r.is_relevant(&path("member[1]/school")));
    // count(${member}) from inside the repeat counts every instance.
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert!(r.is_complete(), "{r:?}");

    // A missing sibling answer is reported at its instance path.
    let answers = household_answers().repeat("member", vec![A::new().text("name", "Awa"), A::new().int("age", 9)]);
    let r = eval(&f, answers);
    assert_eq!(paths(&r.missing_required), ["member[0]/age", "member[1]/name", "member[1]/school"]);
}

#[test]
fn repeat_count_fixes_the_instances() {
    let f = form(
        json!([
            q("n", "integer", json!({})),
            q("double", "calculate", json!({"calculation": "${n} * 2"})),
            group(
                "g",
                Some("${n} != 0"),
                json!([repeat(
                    "child",
                    json!({"repeat_count": "${double} div 2"}),
                    json!([
                        q("child_name", "text", json!({"required": "true()"})),
                        q("pos", "calculate", json!({"calculation": "position(..)"})),
                    ])
                ),])
            ),
            q("counted", "calculate", json!({"calculation": "count(${child})"})),
        ]),
        json!({}),
    );
    let ev = Evaluator::new(&f);
    let child = |name: &str| A::new().text("child_name", name);

    // Two instances in the survey, three asked for: the third is evaluated empty.
    let answers = A::new().int("n", 3).repeat("child", vec![child("Awa"), child("Binta")]);
    let r = ev.evaluate(&answers.0, &options(None));
    assert_eq!(r.repeat_counts[&path("child")], 3);
    assert_eq!(r.calculated[&path("counted")], "3");
    assert_eq!(r.calculated[&path("child[2]/pos")], "3");
    assert_eq!(paths(&r.missing_required), ["child[2]/child_name"]);

    // More instances than the count: the extra ones are ignored.
    let answers = A::new().int("n", 1).repeat("child", vec![child("Awa"), A::new()]);
    let r = ev.evaluate(&answers.0, &options(None));
    assert_eq!(r.repeat_counts[&path("child")], 1);
    assert_eq!(r.calculated[&path("counted")], "1");
    assert!(r.is_complete(), "{r:?}");
    assert!(!r.calculated.contains_key(&path("child[1]/pos")));

    // Empty count: no instances. Hidden repeat: no instances, no count, contents hidden.
    let r = ev.evaluate(&Answers::default(), &options(None));
    assert_eq!(r.repeat_counts[&path("child")], 0);
    assert_eq!(r.calculated[&path("counted")], "0");
    let answers = A::new().int("n", 0).repeat("child", vec![A::new()]);
    let r = ev.evaluate(&answers.0, &options(None));
    assert!(r.non_relevant.contains(&path("child")));
    assert!(!r.is_relevant(&path("child[0]/child_name")));
    assert!(r.repeat_counts.is_empty());
    assert_eq!(r.calculated[&path("counted")], "0");
    assert!(r.is_complete());

    // An absurd count is capped and reported.
    let r = ev.evaluate(&A::new().int("n", 1_000_000).0, &options(None));
    assert_eq!(r.repeat_counts[&path("child")], MAX_REPEAT_COUNT);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
}

fn regions() -> Json {
    json!({
        "region": [{"name": "conakry"}, {"name": "kindia"}],
        "prefecture": [
            {"name": "kaloum", "label": {"English (en)": "Kaloum", "Français (fr)": "Kaloum (commune)"}, "extra": {"region": "conakry"}},
            {"name": "ratoma", "extra": {"region": "conakry"}},
            {"name": "coyah", "label": {"English (en)": "Coyah", "Français (fr)": "Coyah"}, "extra": {"region": "kindia"}},
            {"name": "other", "extra": {"region": "any"}},
        ],
    })
}

#[test]
fn attached_files_offer_choices_and_answer_pulldata() {
    let mut village = q("village", "select_one_from_file", json!({"choice_filter": "region=${region}"}));
    village["type"] = json!({"kind": "select_one_from_file", "file": "villages.csv"});
    let f = form(
        json!([
            select("region", "region", json!({})),
            village,
            q("population", "calculate", json!({"calculation": "pulldata('census', 'pop', 'village', ${village})"})),
            q("name", "calculate", json!({"calculation": "jr:choice-name(${village}, '${village}')"})),
        ]),
        regions(),
    );
    let files: std::collections::BTreeMap<String, Vec<u8>> = [
        (
            "villages.csv",
            "name,label::English (en),label::Français (fr),region\n\
             kin1,Kindia one,Kindia un,kindia\n\
             kin2,Kindia two,Kindia deux,kindia\n\
             con1,Conakry one,Conakry un,conakry\n",
        ),
        ("census.csv", "village,pop\nkin2,860\nkin1,1200\n"),
    ]
    .into_iter()
    .map(|(n, b)| (n.to_owned(), b.as_bytes().to_vec()))
    .collect();
    let answers = A::new().choice("region", "kindia").choice("village", "kin1");

    // Without its files the form offers nothing and pulldata gives '', as before.
    let r = Evaluator::new(&f).evaluate(&answers.0, &options(None));
    assert!(!r.choices.contains_key(&path("village")));
    assert_eq!(r.calculated[&path("population")], "");

    let attached = crate::form::attachments::attach(&f, &files).unwrap();
    let ev = Evaluator::new(&attached);
    let r = ev.evaluate(&answers.0, &options(Some("fr")));
    assert_eq!(r.choices[&path("village")], ["kin1", "kin2"]);
    assert_eq!(r.calculated[&path("population")], "1200");
    assert_eq!(r.calculated[&path("name")], "Kindia un");
    assert!(r.is_complete(), "{:?}", r.violations);
    // A village of another region, and a code the file does not have.
    let r = ev.evaluate(&A::new().choice("region", "conakry").choice("village", "kin1").0, &options(None));
    assert_eq!(paths(&r.violations), ["village"]);
    assert!(r.violations[0].message.contains("no longer one of the choices"), "{:?}", r.violations);
    let r = ev.evaluate(&A::new().choice("region", "kindia").choice("village", "kin9").0, &options(None));
    assert!(r.violations[0].message.contains("\"kin9\" is not one of"), "{:?}", r.violations);
    assert_eq!(r.calculated[&path("population")], "");
}

#[test]
fn instance_paths_look_up_choice_lists_and_attached_files() {
    let calc = |name: &str, calculation: &str| q(name, "calculate", json!({"calculation": calculation}));
    let f = form(
        json!([
            select("region", "region", json!({})),
            q("village", "text", json!({})),
            calc("population", "instance('census')/root/item[village = ${village}]/pop"),
            calc("villages_here", "count(instance('census')/root/item[region = ${region}])"),
            calc("people_here", "sum(instance('census')/root/item[region = ${region}]/pop)"),
            calc("second", "instance('census')/root/item[region = 'kindia'][2]/village"),
            calc("pref_label", "instance('prefecture')/root/item[name = 'kaloum']/label"),
            calc("big", "instance('census')/root/item[pop > 1000 and region = ${region}]/village"),
            calc("facility", "instance('facilities')/root/item[name = 'cs_fria']/label"),
        ]),
        regions(),
    );
    // `census.csv` is needed because of the lookups; `prefecture` is the choices sheet's.
    let needed: Vec<String> = crate::form::attachments::needed_files(&f).into_iter().map(|n| n.name).collect();
    assert_eq!(needed, ["census.csv", "facilities.csv"]);
    let files: std::collections::BTreeMap<String, Vec<u8>> = [
        ("census.csv", "village,region,pop,label\nkin2,kindia,860,Kindia two\nkin1,kindia,1200,Kindia one\ncon1,conakry,5000,Conakry one\n"),
        ("facilities.csv", "name,label\ncs_fria,Centre de santé de Fria\n"),
    ]
    .into_iter()
    .map(|(n, b)| (n.to_owned(), b.as_bytes().to_vec()))
    .collect();
    let attached = crate::form::attachments::attach(&f, &files).unwrap();
    let r = Evaluator::new(&attached)
        .evaluate(&A::new().choice("region", "kindia").text("village", "kin1").0, &options(Some("fr")));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let value = |name: &str| r.calculated[&path(name)].as_str();
    assert_eq!(value("population"), "1200");
    assert_eq!(value("villages_here"), "2");
    assert_eq!(value("people_here"), "2060");
    assert_eq!(value("second"), "kin1", "a number keeps the item at that position among those kept");
    assert_eq!(value("pref_label"), "Kaloum (commune)", "a choice list's label in the survey's language");
    assert_eq!(value("big"), "kin1");
    assert_eq!(value("facility"), "Centre de santé de Fria");
    // A value the list does not have matches nothing, as in ODK.
    let r = Evaluator::new(&attached).evaluate(&A::new().text("village", "kin9").0, &options(None));
    assert_eq!(r.calculated[&path("population")], "");
    assert_eq!(r.calculated[&path("villages_here")], "0");
}

#[test]
fn choice_filters_offer_and_check_choices() {
    let pref = select("prefecture", "prefecture", json!({"choice_filter": "region=${region} or region='any'"}));
    let f = form(
        json!([
            select("region", "region", json!({})),
            pref,
            q("label", "calculate", json!({"calculation": "jr:choice-name(${prefecture}, '${prefecture}')"})),
        ]),
        regions(),
    );
    let ev = Evaluator::new(&f);
    let r = ev.evaluate(&A::new().choice("region", "kindia").0, &options(None));
    assert_eq!(r.choices[&path("prefecture")], ["coyah", "other"]);
    let r = ev.evaluate(&Answers::default(), &options(None));
    assert_eq!(r.choices[&path("prefecture")], ["other"]);

    let ok = A::new().choice("region", "conakry").choice("prefecture", "kaloum");
    let r = ev.evaluate(&ok.0, &options(Some("fr")));
    assert_eq!(r.choices[&path("prefecture")], ["kaloum", "ratoma", "other"]);
    assert_eq!(r.calculated[&path("label")], "Kaloum (commune)", "jr:choice-name in the chosen language");
    assert!(r.is_complete());
    let r = ev.evaluate(&ok.0, &options(None));
    assert_eq!(r.calculated[&path("label")], "Kaloum");

    // The region changed after the prefecture was chosen.
    let stale = A::new().choice("region", "kindia").choice("prefecture", "kaloum");
    let r = ev.evaluate(&stale.0, &options(Some("fr")));
    assert_eq!(paths(&r.violations), ["prefecture"]);
    assert_eq!(
        r.violations[0].message,
        "« Kaloum (commune) » ne fait plus partie des choix proposés : choisissez à nouveau."
    );
    let r = ev.evaluate(&stale.0, &options(None));
    assert_eq!(r.violations[0].message, "\"Kaloum\" is no longer one of the choices offered: choose again.");

    // A code that is not in the list at all.
    let r = ev.evaluate(&A::new().choice("region", "mars").0, &options(None));
    assert_eq!(paths(&r.violations), ["region"]);
    assert!(r.violations[0].message.contains("\"mars\" is not one of"), "{:?}", r.violations);
}

#[test]
fn runtime_errors_are_reported_never_panic() {
    let f = form(
        json!([
            q("when", "text", json!({"constraint": "date(.) < today()"})),
            q("unknown", "calculate", json!({"calculation": "${nowhere} + 1"})),
            q("shown", "text", json!({"relevant": "${nowhere} = 1", "required": "true()"})),
            q("pattern", "text", json!({})),
            q("matches", "calculate", json!({"calculation": "regex('abc', ${pattern})"})),
            q("after", "calculate", json!({"calculation": "concat('<', ${unknown}, '>')"})),
        ]),
        json!({}),
    );
    let answers = A::new().text("when", "not a date").text("pattern", "(unclosed");
    let r = eval(&f, answers);
    // Steps in dependency order (relevance first), then the checks.
    assert_eq!(paths(&r.errors), ["shown", "unknown", "matches", "when"], "{:?}", r.errors);
    assert!(r.errors[1].message.contains("`${nowhere}` does not name a question"), "{:?}", r.errors);
    assert!(r.errors[3].message.starts_with("constraint `date(.) < today()`"), "{:?}", r.errors);
    assert!(r.violations.is_empty(), "a failing constraint is an error, not a violation");
    assert_eq!(r.calculated[&path("unknown")], "");
    assert_eq!(r.calculated[&path("after")], "<>");
    assert!(r.non_relevant.contains(&path("shown")), "a failing relevant counts as false");
}

#[test]
fn unreadable_answers_are_violations() {
    let f = form(
        json!([
            q("age", "integer", json!({"constraint": ". > 0"})),
            q("age2", "calculate", json!({"calculation": "concat(${age}, '!')"}))
        ]),
        json!({}),
    );
    let mut answers = Answers::default();
    answers.0.insert("age".into(), Answer::Unreadable("forty".into()));
    let r = Evaluator::new(&f).evaluate(&answers, &options(Some("fr")));
    assert_eq!(paths(&r.violations), ["age"]);
    assert!(r.violations[0].message.contains("« forty »"), "{:?}", r.violations);
    assert_eq!(r.calculated[&path("age2")], "forty!", "expressions read the raw text");
}

#[test]
fn once_keeps_a_stored_value_and_random_is_stable() {
    let f = form(
        json!([
            q("draw", "calculate", json!({"calculation": "once(random())"})),
            q("other_draw", "calculate", json!({"calculation": "random()"})),
            q("id", "calculate", json!({"calculation": "once(uuid())"})),
        ]),
        json!({}),
    );
    let ev = Evaluator::new(&f);
    let first = ev.evaluate(&Answers::default(), &options(None));
    let again = ev.evaluate(&Answers::default(), &options(None));
    assert_eq!(first.calculated, again.calculated, "the same seed draws the same numbers");
    assert_ne!(first.calculated[&path("draw")], first.calculated[&path("other_draw")]);
    // Once the caller stores the value, once() keeps it.
    let stored = A::new().dec("draw", 0.25);
    assert_eq!(ev.evaluate(&stored.0, &options(None)).calculated[&path("draw")], "0.25");
    let mut other_seed = options(None);
    other_seed.seed = 8;
    assert_ne!(ev.evaluate(&Answers::default(), &other_seed).calculated[&path("id")], first.calculated[&path("id")]);
}

#[test]
fn household_fixture() {
    let f = Form::from_json(include_str!("../../../tests/fixtures/household.json")).unwrap();
    let ev = Evaluator::new(&f);
    let r = ev.evaluate(&Answers::default(), &options(Some("fr")));
    assert_eq!(paths(&r.missing_required), ["village"]);
    assert_eq!(r.missing_required[0].message, "Cette question est obligatoire.");
    let answers = A::new().text("village", "Béguédo").int("hh_size", 60).choice("water", "lake").repeat(
        "member",
        vec![A::new().text("member_name", "Awa").repeat("illness", vec![A::new().int("days_ill", 2)])],
    );
    let r = ev.evaluate(&answers.0, &options(None));
    assert_eq!(paths(&r.violations), ["hh_size", "water"]);
    assert!(r.missing_required.is_empty());
    assert!(r.errors.is_empty());
    let answers = answers.int("hh_size", 6).remove("water");
    assert!(ev.evaluate(&answers.0, &options(None)).is_complete());
}

#[test]
fn nested_repeat_counts_and_references_across_repeats() {
    let f = form(
        json!([
            repeat(
                "plot",
                json!({}),
                json!([
                    q("n_crops", "integer", json!({})),
                    repeat(
                        "crop",
                        json!({"repeat_count": "${n_crops}"}),
                        json!([
                            q("kg", "decimal", json!({"required": "true()"})),
                            q("plot_no", "calculate", json!({"calculation": "position(..)"})),
                        ])
                    ),
                    q("plot_kg", "calculate", json!({"calculation": "sum(${kg})"})),
                ])
            ),
            repeat("sale", json!({}), json!([q("sold", "decimal", json!({"constraint": ". <= sum(${kg})"})),])),
            q("crops", "calculate", json!({"calculation": "count(${crop})"})),
        ]),
        json!({}),
    );
    let crop = |kg: f64| A::new().dec("kg", kg);
    let answers = A::new()
        .repeat(
            "plot",
            vec![
                A::new().int("n_crops", 2).repeat("crop", vec![crop(100.0), crop(50.0)]),
                A::new().int("n_crops", 1).repeat("crop", vec![crop(20.0)]),
            ],
        )
        .repeat("sale", vec![A::new().dec("sold", 170.0), A::new().dec("sold", 171.0)]);
    let r = eval(&f, answers);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.repeat_counts[&path("plot[0]/crop")], 2);
    assert_eq!(r.repeat_counts[&path("plot[1]/crop")], 1);
    assert_eq!(r.calculated[&path("plot[0]/plot_kg")], "150");
    assert_eq!(r.calculated[&path("plot[1]/plot_kg")], "20");
    assert_eq!(r.calculated[&path("plot[1]/crop[0]/plot_no")], "1");
    assert_eq!(r.calculated[&path("crops")], "3");
    // From another repeat, a field is every instance of it.
    assert_eq!(paths(&r.violations), ["sale[1]/sold"]);
}

#[test]
fn malformed_answers_are_tolerated() {
    let f = household();
    let mut answers = Answers::default();
    answers.0.insert("village".into(), Answer::Repeat(vec![Answers::default()]));
    answers.0.insert("member".into(), Answer::Value(Value::Integer(3)));
    answers.0.insert("not_in_form".into(), Answer::Value(Value::Text("x".into())));
    let r = Evaluator::new(&f).evaluate(&answers, &options(None));
    assert_eq!(r.calculated[&path("n_members")], "0");
    assert!(r.is_complete());
    // An empty form.
    let empty = form(json!([]), json!({}));
    assert_eq!(Evaluator::new(&empty).evaluate(&Answers::default(), &options(Some("fr"))), Evaluation::default());
}

#[test]
fn long_dependency_chains_do_not_exhaust_the_stack() {
    // Ordering is iterative (Tarjan with an explicit stack), so a chain of thousands of
    // calculations is fine.
    let mut children = vec![q("c0", "calculate", json!({"calculation": "1"}))];
    for i in 1..5000 {
        children.push(q(&format!("c{i}"), "calculate", json!({"calculation": format!("${{c{}}} + 1", i - 1)})));
    }
    children.reverse();
    let f = form(Json::Array(children), json!({}));
    let r = eval(&f, A::new());
    assert_eq!(r.calculated[&path("c4999")], "5000");
}

#[test]
fn evaluator_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Evaluator<'static>>();
    shareable::<Evaluation>();
}

#[test]
fn an_inspection_reports_every_node_and_agrees_with_the_evaluation() {
    let f = form(
        json!([
            q(
                "age",
                "integer",
                json!({"required": "true()", "constraint": ". < 120", "constraint_message": {"English (en)": "Too old"}})
            ),
            q("adult", "calculate", json!({"calculation": "if(${age} >= 18, 'yes', 'no')"})),
            q("locked", "text", json!({"read_only": "${age} > 50"})),
            group("work", Some("${adult} = 'yes'"), json!([q("job", "text", json!({"required": "true()"}))])),
            select("region", "region", json!({})),
            select("prefecture", "prefecture", json!({"choice_filter": "region=${region} or region='any'"})),
            repeat("child", json!({"repeat_count": "2"}), json!([q("child_name", "text", json!({}))])),
        ]),
        regions(),
    );
    let ev = Evaluator::new(&f);
    let cases = [
        A::new().int("age", 130).choice("region", "kindia"),
        A::new().int("age", 12),
        A::new().int("age", 60).text("job", "farmer").choice("region", "kindia").choice("prefecture", "kaloum"),
    ];
    for answers in &cases {
        let inspection = ev.inspect(&answers.0, &options(None));
        assert_eq!(inspection.evaluation, ev.evaluate(&answers.0, &options(None)), "the same evaluation");
        let hidden: BTreeSet<AnswerPath> =
            inspection.nodes.iter().filter(|n| !n.relevant).map(|n| n.path.clone()).collect();
        assert_eq!(hidden, inspection.evaluation.non_relevant, "hidden nodes are the non-relevant ones");
    }

    let too_old = ev.inspect(&cases[0].0, &options(None));
    let node = |i: &Inspection, p: &str| i.node(&p.parse().unwrap()).cloned().unwrap();
    let age = node(&too_old, "age");
    assert_eq!((age.kind, age.required, age.value.as_deref()), ("integer", true, Some("130")));
    assert_eq!((age.constraint, age.message.as_deref()), (Check::Failed, Some("Too old")));
    assert!(node(&too_old, "locked").read_only);
    assert_eq!(node(&too_old, "adult").value.as_deref(), Some("yes"));
    assert_eq!(node(&too_old, "prefecture").choices, Some(vec!["coyah".to_owned(), "other".to_owned()]));
    assert_eq!(node(&too_old, "region").constraint, Check::Passed);
    assert_eq!(node(&too_old, "child").instances, Some(2));
    assert_eq!(node(&too_old, "child[1]/child_name").value, None);
    let job = node(&too_old, "job");
    assert!(job.relevant && job.required && job.message.is_some(), "{job:?}");
    assert!(!too_old.is_finalizable());
    let blocking: Vec<(BlockKind, String)> = too_old.blocking().map(|(k, i)| (k, i.path.to_string())).collect();
    assert_eq!(blocking, [(BlockKind::Required, "job".to_owned()), (BlockKind::Violation, "age".to_owned())]);

    let child = ev.inspect(&cases[1].0, &options(None));
    assert!(!node(&child, "job").relevant, "the group's relevance is inherited");
    assert!(!node(&child, "work").relevant);
    assert!(!node(&child, "locked").read_only);
    assert_eq!(node(&child, "age").constraint, Check::Passed);

    let stale = ev.inspect(&cases[2].0, &options(None));
    let prefecture = node(&stale, "prefecture");
    assert_eq!(prefecture.constraint, Check::Failed, "a choice no longer offered fails");
    assert!(prefecture.message.is_some_and(|m| m.contains("no longer one of the choices")));
}
