//! The XLSForm importer against pyxform's own example forms.
//!
//! `tests/fixtures/pyxform-examples/` holds the XLSForms of pyxform's test suite (BSD
//! licence: `LICENSE-pyxform` there). Each has a verdict below — imported, or refused with
//! a message containing some text. The rule is pyxform's verdict (pyxform 4.5.0,
//! `xls2xform FILE out.xml`, which also runs ODK Validate): every form it converts imports,
//! and the forms it refuses, listed in [`PYXFORM_REFUSES`], are refused. Any change of
//! verdict fails the test.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use terrain_core::form::Form;
use terrain_core::form::expr::{EvalContext, Expression};
use terrain_core::form::model::{Node, QuestionType};
use terrain_xlsform::{ImportError, import_path};

#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// Imports.
    Ok,
    /// Refused; the error's text contains this.
    Refused(&'static str),
}

use Verdict::{Ok, Refused};

/// Every form of the corpus and our verdict, the same as pyxform's.
const CORPUS: &[(&str, Verdict)] = &[
    ("allow_comment_rows_test.xls", Ok),
    ("attribute_columns_test.xlsx", Ok),
    // pyxform converts it, then ODK Validate refuses: "Invalid calculate … Couldn't
    // understand the expression" (the calculation is plain English).
    ("bad_calc.xlsx", Refused("column \"calculation\": this expression cannot be read")),
    ("calculate.xls", Ok),
    ("cascading_select_test_equivalent.xls", Ok),
    // With an OpenMapKit (`osm`) question, imported as a file question.
    ("case_insensitivity.csv", Ok),
    ("case_insensitivity.xls", Ok),
    ("case_insensitivity.xlsx", Ok),
    ("choice_filter_test.xlsx", Ok),
    ("choice_name_as_type.xls", Ok),
    ("choice_name_same_as_select_name.xls", Ok),
    ("default_time_demo.xls", Ok),
    ("extra_columns.xlsx", Ok),
    ("extra_sheet_names.xlsx", Ok),
    ("field-list.xlsx", Ok),
    ("flat_xlsform_test.xlsx", Ok),
    // Not an XLSForm (a pulldata() data file). pyxform fails with an internal error
    // ("DefinitionData.__init__() got an unexpected keyword argument 'name_key'").
    ("fruits.csv", Refused("no sheet named \"survey\"")),
    // pyxform: "The survey element named 'location' has no label or hint."
    ("gps.csv", Refused("the question \"location\" has no label")),
    ("gps.xls", Ok),
    ("group.csv", Ok),
    ("group.xls", Ok),
    ("group.xlsx", Ok),
    ("hidden.xls", Ok),
    // pyxform: "This section has not been included." (the `include` type).
    ("include.csv", Refused("the include type")),
    ("include.xls", Refused("the include type")),
    ("include.xlsx", Refused("the include type")),
    ("include_json.csv", Refused("the include type")),
    ("include_json.xls", Refused("the include type")),
    ("include_json.xlsx", Refused("the include type")),
    // Loops (`begin loop over LIST`): one group per choice, questions renamed per choice.
    ("loop.csv", Ok),
    ("loop.xls", Ok),
    ("loop.xlsx", Ok),
    ("or_other.xlsx", Ok),
    // pulldata() from an attached CSV (none on the device yet: the value is '').
    ("pull_data.xlsx", Ok),
    ("repeat_date_test.xls", Ok),
    ("simple_loop.csv", Ok),
    ("simple_loop.xls", Ok),
    ("sms_info.xls", Ok),
    ("specify_other.csv", Ok),
    ("specify_other.xls", Ok),
    ("specify_other.xlsx", Ok),
    ("style_settings.xls", Ok),
    ("survey_no_name.xlsx", Ok),
    ("table-list.xls", Ok),
    ("text_and_integer.csv", Ok),
    ("text_and_integer.xls", Ok),
    ("text_and_integer.xlsx", Ok),
    // pyxform: "Headers that are different names for the same column were found:
    // 'bind:relevant', 'relevance'." We report that and its unknown types as well.
    (
        "unknown_question_type.xls",
        Refused("column \"relevance\": this column means the same as column \"bind:relevant\""),
    ),
    ("utf_csv.csv", Ok),
    ("xml_escaping.xls", Ok),
    ("yes_or_no_question.csv", Ok),
    ("yes_or_no_question.xls", Ok),
    ("yes_or_no_question.xlsx", Ok),
];

/// The corpus forms that pyxform 4.5.0 refuses (run with ODK Validate); every other one it
/// converts.
const PYXFORM_REFUSES: &[&str] = &[
    "bad_calc.xlsx",
    "fruits.csv",
    "gps.csv",
    "include.csv",
    "include.xls",
    "include.xlsx",
    "include_json.csv",
    "include_json.xls",
    "include_json.xlsx",
    "unknown_question_type.xls",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn corpus_file(name: &str) -> PathBuf {
    fixtures().join("pyxform-examples").join(name)
}

fn import_ok(path: &Path) -> Form {
    match import_path(path) {
        Result::Ok(form) => form,
        Err(e) => panic!("{} should import: {e}", path.display()),
    }
}

#[test]
fn every_corpus_file_has_a_verdict() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures().join("pyxform-examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "LICENSE-pyxform")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|(name, _)| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "the verdict table and the corpus directory differ");
}

#[test]
fn refusals_are_exactly_pyxforms() {
    let refused: Vec<&str> = CORPUS.iter().filter(|(_, v)| matches!(v, Refused(_))).map(|(name, _)| *name).collect();
    assert_eq!(refused, PYXFORM_REFUSES);
}

#[test]
fn corpus_verdicts_hold() {
    let mut wrong = Vec::new();
    for (name, verdict) in CORPUS {
        let result = import_path(&corpus_file(name));
        let expected = *verdict;
        match (&expected, &result) {
            (Ok, Result::Ok(_)) => {}
            (Refused(text), Err(ImportError::Invalid { .. } | ImportError::Read { .. }))
                if result.as_ref().err().is_some_and(|e| e.to_string().contains(text)) => {}
            (_, Result::Ok(_)) => wrong.push(format!("{name}: expected {expected:?}, but it imports")),
            (_, Err(e)) => wrong.push(format!("{name}: expected {expected:?}, got: {e}")),
        }
    }
    assert!(wrong.is_empty(), "verdicts changed:\n{}", wrong.join("\n"));
}

#[test]
fn imported_corpus_forms_round_trip_through_json() {
    let mut imported = 0;
    for (name, _) in CORPUS {
        let Result::Ok(form) = import_path(&corpus_file(name)) else {
            continue;
        };
        let json = form.to_json();
        let back = Form::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}\n{json}"));
        assert_eq!(back, form, "{name} changed through JSON");
        assert_eq!(back.to_json(), json, "{name}: JSON not stable");
        imported += 1;
    }
    let expected = CORPUS.iter().filter(|(_, v)| matches!(v, Ok)).count();
    assert_eq!(imported, expected);
}

#[test]
fn or_other_adds_the_other_choice_and_a_follow_up() {
    let form = import_ok(&corpus_file("specify_other.xlsx"));
    let names: Vec<&str> = form.children.iter().map(Node::name).collect();
    assert_eq!(names, ["sex", "sex_other"]);
    let Node::Question(sex) = &form.children[0] else { panic!() };
    assert_eq!(sex.kind, QuestionType::SelectOne { list: "sexes".into(), or_other: true });
    let codes: Vec<&str> = form.choice_lists["sexes"].iter().map(|c| c.name.as_str()).collect();
    assert_eq!(codes, ["male", "female", "other"]);
    let Node::Question(other) = &form.children[1] else { panic!() };
    assert_eq!(other.relevant.as_ref().map(Expression::source), Some("selected(${sex}, 'other')"));
}

#[test]
fn excel_cells_read_like_pyxform() {
    // A time-formatted default (Excel stores it as a day fraction).
    let form = import_ok(&corpus_file("default_time_demo.xls"));
    let Node::Question(q) = &form.children[0] else { panic!() };
    assert_eq!(q.default.as_deref(), Some("09:30:00"));
    assert_eq!(form.title, "Default TIme Demo");
    // A date label in a 1904-dated workbook; a note without name; 1.0 read as 1.
    let form = import_ok(&corpus_file("repeat_date_test.xls"));
    let Node::Question(note) = &form.children[0] else { panic!() };
    assert_eq!(note.name, "generated_note_name_2");
    assert_eq!(note.label.get(None, None), Some("2012-12-12 00:00:00"));
    let codes: Vec<&str> = form.choice_lists["list2"].iter().map(|c| c.name.as_str()).collect();
    assert_eq!(codes, ["1", "2", "3", "4", "5", "6", "7", "8"]);
    // A workbook with one sheet, not named survey.
    let form = import_ok(&corpus_file("survey_no_name.xlsx"));
    assert_eq!(form.children[0].name(), "state");
    // Comment rows and a column with no header are skipped.
    let form = import_ok(&corpus_file("allow_comment_rows_test.xls"));
    assert_eq!(form.children.len(), 1);
}

#[test]
fn all_problems_of_a_refused_corpus_form_are_listed() {
    let Err(ImportError::Invalid { errors, .. }) = import_path(&corpus_file("unknown_question_type.xls")) else {
        panic!("unknown_question_type.xls should be refused");
    };
    let found: Vec<String> = errors.iter().map(ToString::to_string).collect();
    // The duplicate header pyxform stops at, and the three unknown types after it (the
    // expression engine may add the form's `../zone` paths, which it does not take).
    for expected in [
        "survey, row 1, column \"relevance\": this column means the same as column \"bind:relevant\"",
        "survey, row 2, column \"type\": \"set form title\" is not a question type",
        "survey, row 3, column \"type\": \"set form id\" is not a question type",
        "survey, row 52, column \"type\": \"unknown\" is not a question type",
    ] {
        assert!(found.iter().any(|f| f.starts_with(expected)), "missing {expected:?} in {found:#?}");
    }
}

#[test]
fn case_insensitive_sheets_headers_and_settings() {
    for name in ["case_insensitivity.csv", "case_insensitivity.xls", "case_insensitivity.xlsx"] {
        let form = import_ok(&corpus_file(name));
        assert_eq!((form.id.as_str(), form.title.as_str()), ("YesNo", "Yes or no"), "{name}");
        assert_eq!(form.default_language.as_deref(), Some("EN"));
        assert_eq!(form.languages, ["EN"]);
        let Node::Question(q2) = &form.children[1] else { panic!() };
        assert_eq!(q2.kind, QuestionType::SelectOne { list: "external_choices:c1".into(), or_other: false });
        assert_eq!(q2.choice_filter.as_ref().map(Expression::source), Some("YES_NO=${q1}"));
        assert_eq!(form.choice_lists["external_choices:c1"][0].extra["YES_NO"], "yes");
        assert_eq!(form.choice_lists["c1"][0].label.get(Some("EN"), None), Some("l1-c"));
        // The OpenMapKit question: a file, with the tags of the OSM sheet's list c1, which
        // pyxform writes as <tag key="n1-o"><label>l1-o</label></tag>.
        let Node::Question(q3) = &form.children[2] else { panic!() };
        assert_eq!(q3.kind, QuestionType::File);
        assert_eq!(q3.extra["type"], "osm");
        assert_eq!(q3.extra["osm_tags"], "osm:c1");
        let tags: Vec<(&str, Option<&str>)> =
            form.choice_lists["osm:c1"].iter().map(|c| (c.name.as_str(), c.label.get(None, None))).collect();
        assert_eq!(tags, [("n1-o", Some("l1-o")), ("n2-o", Some("l2-o"))]);
        // The ENTITIES sheet, its DATASET and LABEL headers in capitals; the label `l1` is
        // plain text, which Terrain takes as the label itself.
        let [entity] = form.entities.as_slice() else { panic!("{name}: {:?}", form.entities) };
        assert_eq!(entity.list, "e1", "{name}");
        assert_eq!(entity.label.as_ref().map(Expression::source), Some("'l1'"));
    }
}

#[test]
fn loops_become_a_group_per_choice() {
    // pyxform: /data/loop_toilet_types/{pit_latrine_with_slab, open_pit_latrine,
    // bucket_system, other}/number, "other" being added to the list by the or_other select.
    for name in ["loop.csv", "loop.xls", "loop.xlsx"] {
        let form = import_ok(&corpus_file(name));
        let Node::Group(lp) = &form.children[2] else { panic!("{name}: {:?}", form.children[2]) };
        assert_eq!(lp.name, "loop_toilet_types");
        let groups: Vec<&str> = lp.children.iter().map(Node::name).collect();
        assert_eq!(
            groups,
            [
                "loop_toilet_types_pit_latrine_with_slab",
                "loop_toilet_types_open_pit_latrine",
                "loop_toilet_types_bucket_system",
                "loop_toilet_types_other"
            ],
            "{name}"
        );
        let Node::Group(bucket) = &lp.children[2] else { panic!() };
        assert_eq!(bucket.label.get(Some("english"), None), Some("Bucket system"));
        let Node::Question(number) = &bucket.children[0] else { panic!() };
        assert_eq!(number.name, "number_bucket_system");
        assert_eq!(number.kind, QuestionType::Integer);
        assert_eq!(number.label.get(Some("english"), None), Some("How many Bucket system are on the premises?"));
        assert_eq!(number.extra["loop_question"], "number");
        assert_eq!(number.extra["loop_choice"], "bucket_system");
    }
    for name in ["simple_loop.csv", "simple_loop.xls"] {
        let form = import_ok(&corpus_file(name));
        let names: Vec<&str> = form.questions().into_iter().map(|(q, _)| q.name.as_str()).collect();
        assert_eq!(names, ["count_col1", "count_col2"], "{name}");
        let Node::Group(table) = &form.children[0] else { panic!() };
        assert_eq!(table.label.get(Some("English"), None), Some("My Table"));
    }
}

#[test]
fn pulldata_imports_and_gives_nothing_without_the_file() {
    let form = import_ok(&corpus_file("pull_data.xlsx"));
    let Node::Question(fruit) = &form.children[0] else { panic!() };
    let calculation = fruit.calculation.as_ref().unwrap();
    assert_eq!(calculation.source(), "pulldata('fruits', 'name','name', 'mango')");
    assert_eq!(calculation.evaluate_string(&NoAnswers).unwrap(), "");
}

/// A survey with no answers, and the default `pulldata` (no attached files).
struct NoAnswers;

impl EvalContext for NoAnswers {
    fn resolve(&self, _: &str) -> Option<std::borrow::Cow<'_, [String]>> {
        None
    }
    fn current(&self) -> std::borrow::Cow<'_, str> {
        "".into()
    }
    fn position(&self) -> Option<usize> {
        None
    }
    fn indexed(&self, _: &str, _: &[(&str, usize)]) -> Option<std::borrow::Cow<'_, str>> {
        None
    }
    fn choice_label(&self, _: &str, _: &str) -> Option<std::borrow::Cow<'_, str>> {
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
fn damaged_xlsx_and_csv_files_are_refused_not_fatal() {
    // Truncated and bit-flipped copies must give an answer, never a panic. (Damaged .xls
    // files are not tried: calamine may abort the process on them; see the module docs.)
    use terrain_xlsform::import_bytes;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in ["attribute_columns_test.xlsx", "choice_filter_test.xlsx", "loop.csv"] {
        let bytes = std::fs::read(corpus_file(name)).unwrap();
        for round in 0..100 {
            let mut damaged = bytes.clone();
            if round % 4 == 0 {
                damaged.truncate(next() as usize % bytes.len());
            } else {
                for _ in 0..=round % 8 {
                    let at = next() as usize % damaged.len();
                    damaged[at] ^= (next() as u8) | 1;
                }
            }
            // Any answer will do; what matters is that there is one.
            let _ = import_bytes(name, &damaged);
        }
    }
}

/// Every form of the corpus that imports also evaluates, with no spurious cycle or error.
#[test]
fn every_importable_corpus_form_evaluates() {
    use terrain_core::form::{EvalOptions, Evaluator};
    let options = EvalOptions {
        language: Some("fr".into()),
        now: chrono::DateTime::parse_from_rfc3339("2026-11-28T10:00:00+00:00").unwrap(),
        seed: 7,
    };
    let mut evaluated = 0;
    for entry in std::fs::read_dir(fixtures().join("pyxform-examples")).unwrap() {
        let file = entry.unwrap().path();
        let std::result::Result::Ok(form) = import_path(&file) else { continue };
        let r = Evaluator::new(&form).evaluate(&terrain_core::survey::Answers::default(), &options);
        assert!(r.errors.is_empty(), "{}: {:?}", file.display(), r.errors);
        evaluated += 1;
    }
    assert!(evaluated > 20);
}
