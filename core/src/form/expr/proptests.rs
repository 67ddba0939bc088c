//! Property tests, with a fixed seed so that runs are reproducible: parsing arbitrary text and
//! evaluating arbitrary trees against arbitrary contexts never panics, and a parsed tree
//! prints back to text that parses to the same tree.

use super::Expression;
use super::ast::{Ast, BinaryOp, Function, InstancePath, Pattern};
use super::eval::Evaluator;
use super::test_support::MapContext;
use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x7e44_a1f0),
        // Regression files would land in the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

const NAMES: &[&str] = &["a", "b", "rep", "s", "d"];

const STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "1",
    "-1",
    "2.5",
    ".5",
    "1e3",
    "abc",
    "a b  c",
    "true",
    "NaN",
    "Infinity",
    "2024-01-15",
    "2024-02-30",
    "1970-01-01T00:00:00.000Z",
    "2024-01-15T10:20:30.123+02:00",
    "2024-01-15T10:20",
    "10:30",
    "23:59:59.999-05:00",
    "99999-12-31",
    "%Y-%m-%d %H:%M %b %a",
    "%Q%",
    "%",
    "${a}",
    "/data/s",
    "[0-9]+",
    "(",
    "é😀",
    "'",
    "\"",
    "99999999999",
];

const TOKENS: &[&str] = &[
    "${a}",
    "${b}",
    "${rep}",
    "(",
    ")",
    ",",
    "'x'",
    "\"y\"",
    "1",
    ".5",
    "3.",
    "+",
    "-",
    "*",
    "div",
    "mod",
    "and",
    "or",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "if(",
    "concat(",
    "count(",
    ".",
    "..",
    "position(",
    "regex(",
    "'[0-9]+'",
    "'(('",
    "format-date(",
    "'%Y-%m'",
    "'%Q'",
    "today()",
    "now()",
    "/",
    "[",
    " ",
    "${",
    "'",
    "\"",
    "random()",
    "uuid(",
    "jr:choice-name(",
    "'${s}'",
    "indexed-repeat(",
    "substr(",
    "round(",
    "date(",
    "sum(",
    "selected(",
    "-1",
    "x-1",
    "date-time(",
    "decimal-date-time(",
    "min(",
    "join(",
    "coalesce(",
    "once(",
    "not(",
    "AND",
    "é",
    "1e5",
    "==",
    "'2024-01-15'",
];

const PATTERNS: &[&str] = &["[0-9]+", "a|b", ".*", "^x$", "\\d{2,3}", ""];

const OPS: &[BinaryOp] = &[
    BinaryOp::Or,
    BinaryOp::And,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
];

fn leaf() -> impl Strategy<Value = Ast> {
    prop_oneof![
        any::<f64>().prop_map(Ast::Number),
        (-40_000.0f64..40_000.0).prop_map(Ast::Number),
        prop::sample::select(STRINGS).prop_map(|s| Ast::String(s.to_owned())),
        prop::sample::select(NAMES).prop_map(|n| Ast::Reference(n.to_owned())),
        Just(Ast::Reference("missing".to_owned())),
        Just(Ast::Current),
        Just(Ast::ChoiceColumn("name".to_owned())),
        (0u32..3).prop_map(|site| Ast::Random { site }),
    ]
}

/// Any tree, including calls with the wrong number of arguments, which only hand-built trees
/// can have.
fn tree() -> impl Strategy<Value = Ast> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| Ast::Negate(Box::new(a))),
            (prop::sample::select(OPS), inner.clone(), inner.clone())
                .prop_map(|(op, l, r)| { Ast::Binary { op, lhs: Box::new(l), rhs: Box::new(r) } }),
            (prop::sample::select(Function::ALL), prop::collection::vec(inner.clone(), 0..5))
                .prop_map(|(function, args)| Ast::Call { function, args }),
            (inner.clone(), prop::sample::select(PATTERNS)).prop_map(|(subject, p)| {
                Ast::Regex { subject: Box::new(subject), pattern: Pattern::new(p).unwrap() }
            }),
            (0u32..3, proptest::option::of(inner.clone()))
                .prop_map(|(site, length)| Ast::Uuid { site, length: length.map(Box::new) }),
            (prop::collection::vec(inner, 0..3), proptest::option::of(prop::sample::select(&["label", "pop"][..])))
                .prop_map(|(predicates, column)| {
                    Ast::Instance(Box::new(InstancePath {
                        instance: "villages".to_owned(),
                        predicates,
                        column: column.map(str::to_owned),
                    }))
                }),
        ]
    })
}

fn context() -> impl Strategy<Value = MapContext> {
    let values = prop::collection::vec(
        proptest::option::of(prop::collection::vec(prop::sample::select(STRINGS), 0..4)),
        NAMES.len(),
    );
    (
        values,
        prop::sample::select(STRINGS),
        proptest::option::of(1usize..5),
        -5_000_000_000i64..5_000_000_000,
        -14i32..=14,
        any::<u64>(),
        prop::sample::select(STRINGS),
    )
        .prop_map(|(values, current, position, seconds, hours, seed, other)| {
            let mut ctx = MapContext::new();
            for (name, vals) in NAMES.iter().zip(values) {
                if let Some(vals) = vals {
                    ctx = ctx.with_all(name, &vals);
                }
            }
            let offset = FixedOffset::east_opt(hours * 3600).unwrap();
            ctx.now = DateTime::from_timestamp(seconds, 0).unwrap().with_timezone(&offset);
            ctx.position = position;
            ctx.seed = seed;
            ctx.current(current).instance("a", &[("rep", 1)], other).label("s", "a", other)
        })
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn parsing_arbitrary_text_never_panics(source in any::<String>()) {
        let _ = Expression::parse(&source);
    }
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn token_soup_parses_evaluates_and_prints_back(
        tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..12),
        ctx in context(),
    ) {
        let source = tokens.concat();
        if let Ok(expression) = Expression::parse(&source) {
            let _ = expression.evaluate(&ctx);
            let printed = expression.ast().to_string();
            let reparsed = Expression::parse(&printed);
            prop_assert!(reparsed.is_ok(), "{source} printed as {printed}: {reparsed:?}");
            if let Ok(reparsed) = reparsed {
                prop_assert_eq!(reparsed.ast(), expression.ast(), "{} printed as {}", source, printed);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn evaluating_arbitrary_trees_never_panics(ast in tree(), ctx in context()) {
        let evaluator = Evaluator::new(&ctx);
        let _ = evaluator.eval(&ast);
        // Whatever the tree, its printed form either fails to parse or evaluates cleanly,
        // and once parsed prints back to the same tree.
        let printed = ast.to_string();
        if let Ok(expression) = Expression::parse_choice_filter(&printed) {
            let _ = expression.evaluate(&ctx);
            let _ = expression.references();
            let again = expression.ast().to_string();
            let reparsed = Expression::parse_choice_filter(&again);
            prop_assert!(reparsed.is_ok(), "{printed} printed as {again}: {reparsed:?}");
            if let Ok(reparsed) = reparsed {
                prop_assert_eq!(reparsed.ast(), expression.ast(), "{}", again);
            }
        }
    }
}
