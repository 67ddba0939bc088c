//! End-to-end tests: expressions parsed from text and evaluated against [`MapContext`].

use super::test_support::MapContext;
use super::*;
use chrono::NaiveDate;

fn ctx() -> MapContext {
    MapContext::new()
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn err(c: &MapContext, source: &str) -> EvalError {
    Expression::parse(source).unwrap().evaluate(c).expect_err(source)
}

#[test]
fn api_round_trip() {
    let e = Expression::parse("${a} + ${b} * ${a}").unwrap();
    assert_eq!(e.source(), "${a} + ${b} * ${a}");
    assert_eq!(e.references(), vec!["a", "b"]);
    assert_eq!(e.to_string(), e.source());
    let s: String = e.clone().into();
    assert_eq!(Expression::try_from(s).unwrap(), e);
    assert!(Expression::try_from("1 +".to_string()).is_err());
    assert_eq!("1".parse::<Expression>().unwrap().ast(), &Ast::Number(1.0));
}

#[test]
fn expression_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Expression>();
    check::<XValue>();
    check::<EvalError>();
    check::<ParseError>();
}

#[test]
fn references_in_order_of_appearance() {
    let e = Expression::parse(
        "if(${b} > 1, concat(${a}, jr:choice-name(${s}, '${s}')), indexed-repeat(${f}, ${r}, \
         position(..))) + count(${b}) + once(${c}) + uuid(${n})",
    )
    .unwrap();
    assert_eq!(e.references(), vec!["b", "a", "s", "f", "r", "c", "n"]);
    let e = Expression::parse("jr:choice-name(${x}, '${other}')").unwrap();
    assert_eq!(e.references(), vec!["x", "other"]);
    assert!(Expression::parse("1 + 2").unwrap().references().is_empty());
}

#[test]
fn literals_and_conversions() {
    let c = ctx();
    assert_eq!(c.eval("3"), XValue::Number(3.0));
    assert_eq!(c.eval(".5"), XValue::Number(0.5));
    assert_eq!(c.string("\"it's\""), "it's");
    assert_eq!(c.string("string(3)"), "3");
    assert_eq!(c.string("string(3.25)"), "3.25");
    assert_eq!(c.string("string(0 div 0)"), "NaN");
    assert_eq!(c.string("string(1 div 0)"), "Infinity");
    assert_eq!(c.string("string(-1 div 0)"), "-Infinity");
    assert_eq!(c.string("string(true())"), "true");
    assert_eq!(c.string("string(1 = 2)"), "false");
    assert_eq!(c.number("number('  42 ')"), 42.0);
    assert!(c.number("number('')").is_nan());
    assert!(c.number("number('abc')").is_nan());
    assert_eq!(c.number("number(true())"), 1.0);
    assert!(c.boolean("boolean('false')"));
    assert!(!c.boolean("boolean('')"));
    assert!(!c.boolean("boolean(0)"));
    assert!(!c.boolean("boolean(0 div 0)"));
    assert!(c.boolean("boolean(-0.5)"));
    assert!(c.boolean("boolean-from-string('TRUE')"));
    assert!(c.boolean("boolean-from-string('1')"));
    assert!(!c.boolean("boolean-from-string('yes')"));
}

#[test]
fn arithmetic_and_precedence() {
    let c = ctx().with("x", "5");
    assert_eq!(c.number("1 + 2 * 3"), 7.0);
    assert_eq!(c.number("(1 + 2) * 3"), 9.0);
    assert_eq!(c.number("10 - 4 - 3"), 3.0);
    assert_eq!(c.number("${x}-1"), 4.0);
    assert_eq!(c.number("${x} - 1"), 4.0);
    assert_eq!(c.number("${x}*-1"), -5.0);
    assert_eq!(c.number("-${x} div 2"), -2.5);
    assert_eq!(c.number("- - ${x}"), 5.0);
    assert_eq!(c.number("5 mod 2"), 1.0);
    assert_eq!(c.number("-5 mod 2"), -1.0);
    assert_eq!(c.number("5 mod -2"), 1.0);
    assert_eq!(c.number("5.5 mod 2"), 1.5);
    assert!(c.number("5 mod 0").is_nan());
    assert_eq!(c.number("1 div 0"), f64::INFINITY);
    assert_eq!(c.number("-1 div 0"), f64::NEG_INFINITY);
    assert!(c.number("0 div 0").is_nan());
    assert!(c.boolean("1 + 1 = 2 and 2 * 3 > 5"));
    assert!(c.boolean("1 < 2 = true()"));
}

#[test]
fn empty_answers() {
    let c = ctx().with("age", "");
    assert!(c.number("${age} + 1").is_nan());
    assert!(!c.boolean("${age} > 3"));
    assert!(!c.boolean("${age} < 3"));
    assert!(!c.boolean("${age} = 0"));
    assert!(c.boolean("${age} != 0"));
    assert!(c.boolean("${age} = ''"));
    assert!(!c.boolean("${age} != ''"));
    assert_eq!(c.string("concat('[', ${age}, ']')"), "[]");
    assert!(!c.boolean("boolean(${age})"));
    assert!(c.boolean("not(${age})"));
    assert_eq!(c.string("coalesce(${age}, 'none')"), "none");
    assert_eq!(c.string("string-length(${age})"), "0");
}

#[test]
fn comparisons() {
    let c = ctx().with("n", "10").with("s", "abc").with("b", "yes");
    // A number on either side compares numerically.
    assert!(c.boolean("${n} = 10"));
    assert!(c.boolean("${n} = '10'"));
    assert!(c.boolean("${n} = 10.0"));
    assert!(!c.boolean("${n} = '10.0'"));
    assert!(c.boolean("${n} > 9"));
    assert!(c.boolean("${n} > '9'"));
    assert!(!c.boolean("${s} > 1"));
    assert!(c.boolean("${s} = 'abc'"));
    assert!(c.boolean("${s} != 'abd'"));
    // Booleans compare as booleans.
    assert!(c.boolean("${b} = true()"));
    assert!(c.boolean("'' = false()"));
    assert!(c.boolean("0 = false()"));
    // ODK's tolerance.
    assert!(c.boolean("0.1 + 0.2 = 0.3"));
    // NaN compares false except with !=.
    assert!(!c.boolean("0 div 0 = 0 div 0"));
    assert!(c.boolean("0 div 0 != 0 div 0"));
    assert!(!c.boolean("0 div 0 < 1"));
}

#[test]
fn node_sets_from_repeats() {
    let c = ctx().with_all("child_age", &["3", "", "7"]).with_all("child", &["", "", ""]).with_all("none", &[]);
    assert_eq!(c.number("count(${child})"), 3.0);
    assert_eq!(c.number("count(${child_age})"), 3.0);
    assert_eq!(c.number("count-non-empty(${child_age})"), 2.0);
    assert_eq!(c.number("sum(${child_age})"), 10.0);
    assert_eq!(c.number("sum(${none})"), 0.0);
    assert_eq!(c.number("count(${none})"), 0.0);
    assert_eq!(c.number("max(${child_age})"), 7.0);
    assert_eq!(c.number("min(${child_age})"), 3.0);
    assert!(c.number("max(${none})").is_nan());
    assert_eq!(c.string("join(', ', ${child_age})"), "3, , 7");
    assert_eq!(c.string("concat(${child_age})"), "37");
    // Existential comparisons.
    assert!(c.boolean("${child_age} = 7"));
    assert!(c.boolean("${child_age} > 5"));
    assert!(!c.boolean("${child_age} > 7"));
    assert!(c.boolean("${child_age} != 3"));
    assert!(!c.boolean("${none} = ''"));
    assert!(!c.boolean("${none} != ''"));
    // Scalar contexts use the first node.
    assert_eq!(c.number("${child_age} + 1"), 4.0);
    assert!(c.boolean("boolean(${child})"));
    assert!(!c.boolean("boolean(${none})"));
    // The whole node-set comes back from a bare reference.
    assert_eq!(c.eval("${child_age}"), XValue::NodeSet(vec!["3".into(), "".into(), "7".into()]));
}

#[test]
fn inside_a_repeat() {
    // The context resolves a sibling to the current instance and gives the position.
    let c = ctx()
        .with("name", "Ana")
        .with_all("age", &["30", "4"])
        .at(2)
        .instance("name", &[("member", 1)], "Bo")
        .instance("name", &[("household", 2), ("member", 1)], "Cy");
    assert_eq!(c.number("position(..)"), 2.0);
    assert_eq!(c.string("concat(${name}, ' #', position(..))"), "Ana #2");
    assert_eq!(c.string("indexed-repeat(${name}, ${member}, 1)"), "Bo");
    assert_eq!(c.string("indexed-repeat(${name}, ${member}, position(..) - 1)"), "Bo");
    assert_eq!(c.string("indexed-repeat(${name}, ${member}, 0)"), "Bo");
    assert_eq!(c.string("indexed-repeat(${name}, ${member}, 3)"), "");
    assert_eq!(c.eval("indexed-repeat(${name}, ${member}, 3)"), XValue::NodeSet(vec![]));
    assert_eq!(c.string("indexed-repeat(${name}, ${household}, 2, ${member}, 1)"), "Cy");
    // Outside any repeat, position(..) is 1.
    assert_eq!(ctx().number("position(..)"), 1.0);
}

#[test]
fn unknown_reference_is_an_error() {
    let e = err(&ctx(), "${missing} + 1");
    assert_eq!(e, EvalError::UnknownReference { name: "missing".into() });
    assert_eq!(e.to_string(), "`${missing}` does not name a question of this form");
    // Not evaluated, not an error.
    assert!(!ctx().boolean("false() and ${missing}"));
    assert!(ctx().boolean("true() or ${missing}"));
    assert_eq!(ctx().number("if(true(), 1, ${missing})"), 1.0);
}

#[test]
fn if_and_coalesce_are_lazy() {
    let c = ctx().with("a", "").with("b", "x");
    assert_eq!(c.string("if(${b} = 'x', 'yes', 'no')"), "yes");
    assert_eq!(c.string("if(${a}, 'yes', 'no')"), "no");
    assert_eq!(c.string("coalesce(${a}, ${b})"), "x");
    assert_eq!(c.string("coalesce(${b}, ${missing})"), "x");
    assert_eq!(c.string("coalesce(0 div 0, 'n')"), "n");
    // A long if chain, as forms write to map codes.
    let mut chain = String::from("'other'");
    for i in (0..100).rev() {
        chain = format!("if(${{n}} = {i}, 'v{i}', {chain})");
    }
    let c = ctx().with("n", "99");
    assert_eq!(c.string(&chain), "v99");
}

#[test]
fn long_operator_chains() {
    let names: Vec<String> = (0..600).map(|i| format!("q{i}")).collect();
    let mut c = ctx();
    for n in &names {
        c = c.with(n, "1");
    }
    let sum = names.iter().map(|n| format!("${{{n}}}")).collect::<Vec<_>>().join(" + ");
    assert_eq!(c.number(&sum), 600.0);
    let all = names.iter().map(|n| format!("${{{n}}} = 1")).collect::<Vec<_>>().join(" and ");
    assert!(c.boolean(&all));
    let minus = vec!["1"; 40].join(" - ");
    assert_eq!(c.number(&minus), -38.0);
}

#[test]
fn deep_nesting_fits_a_small_stack() {
    // The deepest accepted nesting of non-`if` calls and parentheses evaluates on a thread
    // with a 1 MiB stack, in a debug build.
    let depth = parser::MAX_NESTING - 1;
    let deep_calls = format!("{}'x'{}", "concat(".repeat(depth), ")".repeat(depth));
    let deep_parens = format!("{}1{}", "(1 + ".repeat(depth), ")".repeat(depth));
    let deep_minus = format!("{}1", "-".repeat(depth));
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let c = ctx();
            (c.string(&deep_calls), c.number(&deep_parens), c.number(&deep_minus))
        })
        .unwrap();
    let (s, n, m) = handle.join().unwrap();
    assert_eq!(s, "x");
    assert_eq!(n, (parser::MAX_NESTING) as f64);
    assert_eq!(m, -1.0);
}

#[test]
fn select_functions() {
    let c = ctx()
        .with("s", "a  c b")
        .with("one", "c")
        .with("none", "")
        .label("one", "c", "Cherry")
        .label("s", "a", "Apple");
    assert!(c.boolean("selected(${s}, 'b')"));
    assert!(c.boolean("selected(${s}, ' b ')"));
    assert!(!c.boolean("selected(${s}, 'd')"));
    assert!(!c.boolean("selected(${s}, '')"));
    assert!(!c.boolean("selected(${none}, 'a')"));
    assert!(c.boolean("is-selected(${s}, 'c')"));
    assert_eq!(c.number("count-selected(${s})"), 3.0);
    assert_eq!(c.number("count-selected(${none})"), 0.0);
    assert_eq!(c.string("selected-at(${s}, 0)"), "a");
    assert_eq!(c.string("selected-at(${s}, 2)"), "b");
    assert_eq!(c.string("selected-at(${s}, 3)"), "");
    assert_eq!(c.string("selected-at(${s}, -1)"), "");
    assert_eq!(c.string("jr:choice-name(${one}, '${one}')"), "Cherry");
    assert_eq!(c.string("jr:choice-name('a', '/data/s')"), "Apple");
    assert_eq!(c.string("jr:choice-name('zz', '${one}')"), "");
    assert_eq!(c.string("jr:choice-name(selected-at(${s}, 0), '${s}')"), "Apple");
}

#[test]
fn string_functions() {
    let c = ctx().with("t", "  Hello   World ").current("abcdef");
    assert_eq!(c.number("string-length('héllo')"), 5.0);
    assert_eq!(c.number("string-length()"), 6.0);
    assert_eq!(c.string("concat('a', 1, true(), ${t})"), "a1true  Hello   World ");
    assert_eq!(c.string("concat()"), "");
    assert_eq!(c.string("substr('abcdef', 2)"), "cdef");
    assert_eq!(c.string("substr('abcdef', 1, 3)"), "bc");
    assert_eq!(c.string("substr('abcdef', -2)"), "ef");
    assert_eq!(c.string("substr('abcdef', 0, -1)"), "abcde");
    assert_eq!(c.string("substr('abcdef', 4, 2)"), "");
    assert_eq!(c.string("substr('abcdef', 10)"), "");
    assert_eq!(c.string("substr('héllo', 1, 2)"), "é");
    assert_eq!(c.string("substr('abc', 0 div 0)"), "abc");
    assert_eq!(c.string("substring-before('2024-03-15', '-')"), "2024");
    assert_eq!(c.string("substring-after('2024-03-15', '-')"), "03-15");
    assert_eq!(c.string("substring-before('abc', 'x')"), "");
    assert_eq!(c.string("substring-after('abc', '')"), "abc");
    assert!(c.boolean("contains('abc', 'b')"));
    assert!(c.boolean("starts-with('abc', 'ab')"));
    assert!(c.boolean("ends-with('abc', 'bc')"));
    assert!(!c.boolean("ends-with('abc', 'b')"));
    assert_eq!(c.string("translate('bar', 'abc', 'ABC')"), "BAr");
    assert_eq!(c.string("translate('--aaa--', 'abc-', 'ABC')"), "AAA");
    assert_eq!(c.string("normalize-space(${t})"), "Hello World");
    assert_eq!(ctx().current("  a  b ").string("normalize-space()"), "a b");
    assert_eq!(c.string("join('-', 'a', 1, 'c')"), "a-1-c");
    assert_eq!(c.string("join('-', 'a')"), "a");
    assert_eq!(c.string("join('-')"), "");
    assert_eq!(c.string("string(${t})"), "  Hello   World ");
}

#[test]
fn regex_matches_whole_string() {
    let c = ctx().with("phone", "0712345678").with("pattern", "[0-9]{10}").with("bad", "(");
    assert!(c.boolean("regex(${phone}, '[0-9]{10}')"));
    assert!(c.boolean("regex(${phone}, '^07[0-9]+$')"));
    assert!(!c.boolean("regex(${phone}, '[0-9]{3}')"));
    assert!(c.boolean("regex(${phone}, ${pattern})"));
    assert!(c.boolean("regex('', '.*')"));
    assert!(matches!(err(&c, "regex(${phone}, ${bad})"), EvalError::BadRegex { .. }));
    let e = Expression::parse("regex(., '(?<=a)b')").unwrap_err();
    assert!(e.message.contains("invalid regular expression"), "{e}");
}

#[test]
fn number_functions() {
    let c = ctx();
    assert_eq!(c.number("int(3.7)"), 3.0);
    assert_eq!(c.number("int(-3.7)"), -3.0);
    assert_eq!(c.string("int(-0.5)"), "0");
    assert!(c.number("int('')").is_nan());
    assert_eq!(c.number("round(2.5)"), 3.0);
    assert_eq!(c.number("round(-2.5)"), -2.0);
    assert_eq!(c.number("round(-2.6)"), -3.0);
    assert_eq!(c.number("round(2.4)"), 2.0);
    assert_eq!(c.number("round(4.56789, 3)"), 4.568);
    assert_eq!(c.number("round(1.005, 2)"), 1.01);
    assert_eq!(c.number("round(-1.005, 2)"), -1.0);
    assert_eq!(c.number("round(2.675, 2)"), 2.68);
    assert_eq!(c.number("round(9.995, 2)"), 10.0);
    assert_eq!(c.number("round(0.5)"), 1.0);
    assert_eq!(c.number("round(1234.5678, -2)"), 1200.0);
    assert_eq!(c.number("round(-35, -1)"), -30.0);
    assert_eq!(c.number("round(-36, -1)"), -40.0);
    assert_eq!(c.number("round(12, 3)"), 12.0);
    assert!(c.number("round(1, 31)").is_nan());
    assert!(c.number("round('')").is_nan());
    assert_eq!(c.number("round(1 div 0)"), f64::INFINITY);
    assert_eq!(c.number("floor(-1.5)"), -2.0);
    assert_eq!(c.number("ceiling(1.2)"), 2.0);
    assert_eq!(c.number("abs(-4)"), 4.0);
    assert_eq!(c.number("pow(2, 10)"), 1024.0);
    assert_eq!(c.number("pow(4, 0.5)"), 2.0);
    assert_eq!(c.number("sqrt(16)"), 4.0);
    assert!(c.number("sqrt(-1)").is_nan());
    assert_eq!(c.number("exp10(2)"), 100.0);
    assert!(approx(c.number("log10(1000)"), 3.0));
    assert!(approx(c.number("log(exp(2))"), 2.0));
    assert!((c.number("pi()") - std::f64::consts::PI).abs() < 1e-15);
    assert!(approx(c.number("atan2(1, 1) * 4"), std::f64::consts::PI));
    assert_eq!(c.number("min(3, 1, '2')"), 1.0);
    assert_eq!(c.number("max(3, '', 7)"), 7.0);
    assert_eq!(c.number("max(-3, -7)"), -3.0);
    assert!(c.number("max('')").is_nan());
    assert_eq!(c.number("max(5)"), 5.0);
}

#[test]
fn logic_functions() {
    let c = ctx();
    assert!(c.boolean("true()"));
    assert!(!c.boolean("false()"));
    assert!(c.boolean("not(false())"));
    assert!(c.boolean("boolean(1)"));
    assert!(c.boolean("true() and not(false() or false())"));
}

#[test]
fn once_keeps_the_current_value() {
    assert_eq!(ctx().current("kept").string("once(random())"), "kept");
    assert_eq!(ctx().string("once('first')"), "first");
}

#[test]
fn random_and_uuid_are_deterministic() {
    let c = ctx();
    let r1 = c.number("random()");
    assert!((0.0..1.0).contains(&r1));
    assert_eq!(c.number("random()"), r1);
    // Two call sites draw differently.
    let e = Expression::parse("random() - random()").unwrap();
    assert_ne!(e.evaluate(&c).unwrap(), XValue::Number(0.0));
    // Another seed draws differently.
    let mut other = ctx();
    other.seed = 7;
    assert_ne!(other.number("random()"), r1);
    let id = c.string("uuid()");
    assert_eq!(id.len(), 36);
    assert_eq!(id.as_bytes()[14], b'4');
    assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{id}");
    assert_eq!(c.string("uuid()"), id);
    let short = c.string("uuid(8)");
    assert_eq!(short.len(), 8);
    assert!(short.chars().all(|ch| ch.is_ascii_alphanumeric()));
    assert_eq!(c.string("uuid(-1)"), "");
    assert!(matches!(err(&c, "uuid(100000)"), EvalError::InvalidArgument { .. }));
}

fn date(y: i32, m: u32, d: u32) -> XValue {
    XValue::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

#[test]
fn today_and_now() {
    let c = ctx();
    assert_eq!(c.eval("today()"), date(2024, 3, 15));
    assert_eq!(c.string("today()"), "2024-03-15");
    assert_eq!(c.string("now()"), "2024-03-15T10:30:45.123+02:00");
    assert_eq!(c.number("today() + 1"), 19798.0);
    assert_eq!(c.eval("date(today() + 1)"), date(2024, 3, 16));
    assert_eq!(c.number("now() - today()"), 0.0);
    assert!(c.boolean("boolean(today())"));
    // The local date follows the context's offset.
    let late = ctx().now("2024-03-15T23:30:00-05:00");
    assert_eq!(late.string("today()"), "2024-03-15");
}

#[test]
fn date_arithmetic_and_comparison() {
    let c = ctx()
        .with("d1", "2024-01-15")
        .with("d2", "2024-03-01")
        .with("dt", "2024-03-14T23:00:00.000+02:00")
        .with("empty", "")
        .with("t1", "09:30:00.000+02:00")
        .with("t2", "17:15:00.000+02:00");
    assert_eq!(c.number("${d2} - ${d1}"), 46.0);
    assert_eq!(c.number("${d1} + 0"), 19737.0);
    assert!(c.boolean("${d2} > ${d1}"));
    assert!(c.boolean("${d1} < today()"));
    assert!(c.boolean("${d1} <= '2024-01-15'"));
    assert!(c.boolean("${d1} = date('2024-01-15')"));
    assert!(c.boolean("${d1} = '2024-01-15'"));
    assert!(c.boolean("today() - ${d1} > 30"));
    assert!(!c.boolean("${empty} < today()"));
    assert!(c.number("today() - ${empty}").is_nan());
    // A dateTime used as a number is its local date.
    assert_eq!(c.number("today() - ${dt}"), 1.0);
    assert!(c.boolean("${dt} < now()"));
    // Times compare by time of day.
    assert!(c.boolean("${t1} < ${t2}"));
    assert!(approx(c.number("(${t2} - ${t1}) * 24"), 7.75));
    // Age in years, as forms write it.
    let age = ctx().with("dob", "1990-06-15");
    assert_eq!(age.number("int((today() - date(${dob})) div 365.25)"), 33.0);
}

#[test]
fn date_conversions() {
    let c = ctx()
        .with("d", "2024-01-15")
        .with("dt", "2024-01-15T12:00:00.000+02:00")
        .with("naive", "2024-01-15T12:00")
        .with("t", "06:00")
        .with("days", "19737")
        .with("empty", "")
        .with("junk", "next week");
    assert_eq!(c.eval("date(19737)"), date(2024, 1, 15));
    assert_eq!(c.eval("date(19737.9)"), date(2024, 1, 15));
    assert_eq!(c.eval("date(-1)"), date(1969, 12, 31));
    assert_eq!(c.eval("date(${d})"), date(2024, 1, 15));
    assert_eq!(c.eval("date(${dt})"), date(2024, 1, 15));
    assert_eq!(c.eval("date(${days})"), date(2024, 1, 15));
    assert_eq!(c.eval("date(${empty})").to_xpath_string(), "");
    assert!(c.eval("date(0 div 0)").to_number().is_nan());
    assert_eq!(err(&c, "date(${junk})"), EvalError::NotADate { function: "date", value: "next week".into() });
    assert!(matches!(err(&c, "date(${t})"), EvalError::NotADate { .. }));
    assert!(matches!(err(&c, "date(1 div 0)"), EvalError::NotADate { .. }));
    assert!(matches!(err(&c, "date(true())"), EvalError::NotADate { .. }));
    assert_eq!(c.string("date-time(${dt})"), "2024-01-15T12:00:00.000+02:00");
    // Without an offset, the context's offset is assumed.
    assert_eq!(c.string("date-time(${naive})"), "2024-01-15T12:00:00.000+02:00");
    assert_eq!(c.string("date-time(${d})"), "2024-01-15T00:00:00.000+02:00");
    assert_eq!(c.string("date-time(19737.5)"), "2024-01-15T14:00:00.000+02:00");
    assert_eq!(c.string("date-time(${empty})"), "");
    // decimal-date-time is the exact instant since the epoch.
    assert!(approx(c.number("decimal-date-time(${dt})"), 19737.0 + 10.0 / 24.0));
    assert_eq!(c.number("decimal-date-time(19737.25)"), 19737.25);
    assert_eq!(c.number("decimal-date-time(date-time(19737.25))"), 19737.25);
    assert!(approx(
        c.number("decimal-date-time(now()) - decimal-date-time(today())"),
        (10.0 * 3600.0 + 30.0 * 60.0 + 45.123) / 86400.0
    ));
    assert_eq!(c.string("decimal-date-time(${empty})"), "");
    assert_eq!(c.number("decimal-time(${t})"), 0.25);
    assert_eq!(c.number("decimal-time(${dt})"), 0.5);
    assert_eq!(c.number("decimal-time(1.75)"), 0.75);
}

#[test]
fn format_date() {
    let c = ctx()
        .with("d", "2024-01-05")
        .with("dt", "2024-01-05T08:04:09.007-03:00")
        .with("t", "14:30:00.000+02:00")
        .with("fmt", "%d/%m/%Y")
        .with("empty", "");
    assert_eq!(c.string("format-date(${d}, '%Y-%m-%d %H:%M %b %a %e %n %y')"), "2024-01-05 00:00 Jan Fri 5 1 24");
    assert_eq!(c.string("format-date-time(${dt}, '%e/%n/%Y %h:%M:%S.%3')"), "5/1/2024 8:04:09.007");
    assert_eq!(c.string("format-date(${t}, '%H:%M')"), "14:30");
    assert_eq!(c.string("format-date(today(), ${fmt})"), "15/03/2024");
    assert_eq!(c.string("format-date(now(), '%H:%M:%S')"), "10:30:45");
    assert_eq!(c.string("format-date(19737, '%Y-%m-%d')"), "2024-01-15");
    assert_eq!(c.string("format-date(${empty}, '%Y')"), "");
    assert_eq!(c.string("format-date(0 div 0, '%Y')"), "");
    assert!(matches!(err(&c, "format-date('soon', '%Y')"), EvalError::NotADate { function: "format-date", .. }));
}

#[test]
fn current_value_in_constraints() {
    let c = ctx().current("17").with("min", "18");
    assert!(!c.boolean(". >= ${min}"));
    assert!(c.boolean(". < 100 and . != ''"));
    assert!(c.boolean("regex(., '[0-9]+')"));
    assert_eq!(c.number("count(.)"), 1.0);
    assert_eq!(c.number("sum(.)"), 17.0);
    let e = Expression::parse(". > 10").unwrap();
    assert!(e.evaluate_bool(&c).unwrap());
    assert_eq!(e.evaluate_string(&c).unwrap(), "true");
}

#[test]
fn evaluate_helpers() {
    let c = ctx().with_all("x", &["a", "b"]).with("n", "4");
    let e = Expression::parse("${x}").unwrap();
    assert_eq!(e.evaluate_string(&c).unwrap(), "a");
    assert!(e.evaluate_bool(&c).unwrap());
    let e = Expression::parse("${n} * 2").unwrap();
    assert_eq!(e.evaluate_string(&c).unwrap(), "8");
    assert_eq!(
        Expression::parse("${nope}").unwrap().evaluate_bool(&c),
        Err(EvalError::UnknownReference { name: "nope".into() })
    );
}

#[test]
fn choice_filters() {
    let filter =
        Expression::parse_choice_filter("region = ${region} and not(selected(${exclude}, name)) and ${age} > min_age")
            .unwrap();
    assert_eq!(filter.references(), vec!["region", "exclude", "age"]);
    assert_eq!(filter.choice_columns(), vec!["region", "name", "min_age"]);
    let survey = ctx().with("region", "north").with("exclude", "b").with("age", "30");
    let offered: Vec<&str> = [("a", "north", "18"), ("b", "north", "18"), ("c", "south", "18"), ("d", "north", "40")]
        .into_iter()
        .filter(|(name, region, min_age)| {
            let mut c = survey.clone();
            c.choice = [("name", *name), ("region", *region), ("min_age", *min_age)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            filter.evaluate_bool(&c).unwrap()
        })
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(offered, vec!["a"]);
    // A column the choice lacks reads as ''.
    let e = Expression::parse_choice_filter("missing = ''").unwrap();
    assert!(e.evaluate_bool(&survey).unwrap());
    // Ordinary expressions still reject bare names, and parse the same in both modes.
    assert!(Expression::parse("region = ${region}").is_err());
    let e = Expression::parse("${a} + 1").unwrap();
    assert_eq!(Expression::parse_choice_filter("${a} + 1").unwrap().ast(), e.ast());
    assert!(e.choice_columns().is_empty());
}

#[test]
fn area_and_distance_of_answers() {
    // A square of 0.001° at the equator: 111.319 m a side (JavaRosa's sphere, see geo.rs).
    let square = "0 0 0 0; 0 0.001 0 0; 0.001 0.001 0 0; 0.001 0 0 0; 0 0 0 0;";
    let c = ctx().with("shape", square).with("line", "0 0 0 0; 0 1 0 0").with("empty", "");
    assert!((c.number("area(${shape})") - 12_391.885).abs() < 1e-3);
    assert!((c.number("enclosed-area(${shape})") - 12_391.885).abs() < 1e-3);
    assert!((c.number("distance(${shape})") - 4.0 * 111.318_845).abs() < 1e-3);
    assert!((c.number("distance(${line})") - 111_318.845).abs() < 1e-3);
    assert!((c.number("round(area(${shape}) div 10000, 2)") - 1.24).abs() < 1e-9);
    // An unanswered shape has no points.
    assert_eq!(c.number("area(${empty})"), 0.0);
    assert_eq!(c.number("distance(${empty})"), 0.0);
    // A geopoint inside a repeat, referenced from outside: one point per instance.
    let c = c.with_all("point", &["0 0 0 0", "0 1 0 0", "", "0 2 0 0"]);
    assert!((c.number("distance(${point})") - 2.0 * 111_318.845).abs() < 1e-3);
    assert!((c.number("area(${point})")).abs() < 1e-6);
    // A literal works too.
    assert!((c.number("distance('0 0; 1 0')") - 111_318.845).abs() < 1e-3);
}

#[test]
fn geo_functions_refuse_what_is_not_a_location() {
    let c = ctx().with("text", "near the well").with_all("points", &["0 0", "north"]);
    for source in ["area(${text})", "distance(${text})", "distance(${points})", "area('1 2 3 4 5')"] {
        match err(&c, source) {
            EvalError::InvalidArgument { function, message } => {
                assert!(function == "area" || function == "distance", "{source}: {function}");
                assert!(message.contains("is not a GPS location"), "{source}: {message}");
            }
            other => panic!("{source}: {other:?}"),
        }
    }
    // One argument, as in ODK.
    assert!(Expression::parse("area(${a}, ${b})").is_err());
    assert!(Expression::parse("distance()").is_err());
}

#[test]
fn pulldata_without_attached_files_is_empty() {
    let e = Expression::parse("pulldata('fruits', 'name', 'name_key', 'mango')").unwrap();
    assert_eq!(e.references(), Vec::<&str>::new());
    // MapContext keeps the default EvalContext::pulldata.
    assert_eq!(e.evaluate(&ctx()).unwrap(), XValue::String(String::new()));
    assert_eq!(ctx().with("k", "1").string("concat('[', pulldata('f', 'c', 'k', ${k}), ']')"), "[]");
    let parse_error = Expression::parse("pulldata('fruits', 'name', 'mango')").unwrap_err();
    assert!(parse_error.message.contains("4 arguments"), "{parse_error}");
}

#[test]
fn pulldata_asks_the_context() {
    /// A context with one attached CSV, `fruits`, and nothing else.
    struct Fruits(MapContext);
    impl EvalContext for Fruits {
        fn resolve(&self, name: &str) -> Option<std::borrow::Cow<'_, [String]>> {
            self.0.resolve(name)
        }
        fn current(&self) -> std::borrow::Cow<'_, str> {
            EvalContext::current(&self.0)
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
            self.0.now
        }
        fn random_seed(&self) -> u64 {
            0
        }
        fn pulldata(&self, file: &str, column: &str, key_column: &str, key: &str) -> Option<std::borrow::Cow<'_, str>> {
            let row = [("name_key", "mango"), ("name", "Mango"), ("colour", "orange")];
            let matches = file == "fruits" && row.iter().any(|(c, v)| *c == key_column && *v == key);
            matches.then(|| row.iter().find(|(c, _)| *c == column)).flatten().map(|(_, v)| (*v).into())
        }
    }
    let c = Fruits(ctx().with("fruit", "mango"));
    let eval = |source: &str| Expression::parse(source).unwrap().evaluate_string(&c).unwrap();
    assert_eq!(eval("pulldata('fruits', 'colour', 'name_key', ${fruit})"), "orange");
    assert_eq!(eval("pulldata('fruits', 'name', 'name_key', 'mango')"), "Mango");
    assert_eq!(eval("pulldata('fruits', 'name', 'name_key', 'kiwi')"), "");
    assert_eq!(eval("pulldata('veg', 'name', 'name_key', 'mango')"), "");
}

#[test]
fn display_round_trips_through_the_parser() {
    for source in [
        "${a} + 1 * 2",
        "(${a} + 1) * 2",
        "-(${a} - 1)",
        "if(${a} = 'x', concat('it', \"'s\"), position(..))",
        "regex(., '[a-z]+')",
        "random() + uuid() + uuid(3)",
        "10 - (4 - 3)",
        "${a} or ${b} and not(${c})",
    ] {
        let first = Expression::parse(source).unwrap();
        let printed = first.ast().to_string();
        let second = Expression::parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(first.ast(), second.ast(), "{source} -> {printed}");
    }
}

#[test]
fn hand_built_trees_with_wrong_arity_fail_cleanly() {
    use eval::Evaluator;
    let c = ctx();
    let ev = Evaluator::new(&c);
    for function in Function::ALL {
        for n in 0..4 {
            let ast = Ast::Call { function: *function, args: vec![Ast::Number(1.0); n] };
            // Any result is fine; a panic is not.
            let _ = ev.eval(&ast);
        }
    }
    let ast = Ast::Call { function: Function::If, args: vec![] };
    assert!(matches!(ev.eval(&ast), Err(EvalError::WrongArity { .. })));
}

/// Timing of typical expressions; run with
/// `cargo test timing -- --ignored --nocapture` (add `CARGO_PROFILE_TEST_OPT_LEVEL=3` for
/// numbers close to a release build).
#[test]
#[ignore]
fn timing() {
    let mut c = ctx()
        .with("age", "34")
        .with("s", "a b c")
        .with("x", "no")
        .with("a", "12")
        .with("first", "Ana")
        .with("last", "Lima")
        .with("dob", "1990-06-15")
        .with("d", "2024-01-15")
        .with_all("rep_field", &["1"; 20])
        .current("0712345678");
    for i in 0..500 {
        c = c.with(&format!("q{i}"), "1");
    }
    let cases = [
        "${age} >= 18 and ${age} < 65",
        "selected(${s}, 'b') or ${x} = 'yes'",
        "if(${a} = '', 0, ${a} * 2 + 1)",
        "concat(${first}, ' ', ${last})",
        "sum(${rep_field}) > 10",
        "regex(., '[0-9]{10}')",
        ". != ''",
        "count-selected(${s}) <= 3",
        "today() - ${dob} > 365 * 18",
        "format-date(${d}, '%d %b %Y')",
    ];
    for source in cases {
        let e = Expression::parse(source).unwrap();
        let n = 200_000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(e.evaluate(std::hint::black_box(&c)).unwrap());
        }
        let per = start.elapsed().as_nanos() as f64 / f64::from(n);
        eprintln!("{per:>8.0} ns  {source}");
    }
    let start = std::time::Instant::now();
    for source in cases {
        for _ in 0..10_000 {
            std::hint::black_box(Expression::parse(source).unwrap());
        }
    }
    let per = start.elapsed().as_nanos() as f64 / 100_000.0;
    eprintln!("{per:>8.0} ns  parse (average)");
}

#[test]
fn instance_paths_parse_print_and_explain_their_shape() {
    let e = Expression::parse("instance('villages')/root/item[name = ${v} and pop > 3][1]/label").unwrap();
    assert_eq!(e.instances(), ["villages"]);
    assert_eq!(e.references(), ["v"], "a predicate's references are the expression's");
    assert_eq!(e.ast().to_string(), "instance('villages')/root/item[(name = ${v}) and (pop > 3)][1]/label");
    let two = Expression::parse("count(instance('a')/root/item[x = 1]) div 2 + instance('b')/root/item[1]/x").unwrap();
    assert_eq!(two.instances(), ["a", "b"]);
    for (source, message) in [
        ("instance('villages')/data/item", "instance('villages')/root/item[condition]/column"),
        ("instance(${v})/root/item", "a list's name in quotes"),
        ("instance('v')/root/item[name = 1", "never closed"),
        ("${a}[1]", "only read in instance"),
        ("/data/age", "paths like"),
        ("instance('a')/root/item[x = instance('b')/root/item[y = 1]/x]", "compute it in a calculate question first"),
        (&vec!["instance('a')/root/item[1]/x"; 17].join(" + "), "more than 16 instance('…') lookups"),
    ] {
        let error = Expression::parse(source).unwrap_err().to_string();
        assert!(error.contains(message), "{source}: {error}");
    }
}
