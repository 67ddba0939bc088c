//! Hostile XLSForm expressions: grammar-shaped (operators of every precedence, `${name}`
//! references, `.`, literals, calls of the real functions with right and wrong argument
//! counts), pushed to extremes (nesting thousands deep, chains of a hundred thousand
//! operators, hundreds of arguments, literals of megabytes), and mutated character by
//! character for what the grammar would not produce.

use crate::dice::Dice;

/// Functions the parser knows (and a few it must refuse), with plausible argument counts.
const FUNCTIONS: &[(&str, usize)] = &[
    ("if", 3),
    ("concat", 4),
    ("selected", 2),
    ("count-selected", 1),
    ("selected-at", 2),
    ("jr:choice-name", 2),
    ("count", 1),
    ("sum", 1),
    ("max", 1),
    ("min", 1),
    ("regex", 2),
    ("substr", 3),
    ("substring-before", 2),
    ("string-length", 1),
    ("contains", 2),
    ("starts-with", 2),
    ("translate", 3),
    ("normalize-space", 1),
    ("coalesce", 2),
    ("join", 2),
    ("round", 2),
    ("pow", 2),
    ("int", 1),
    ("number", 1),
    ("string", 1),
    ("boolean", 1),
    ("not", 1),
    ("true", 0),
    ("false", 0),
    ("today", 0),
    ("now", 0),
    ("date", 1),
    ("date-time", 1),
    ("decimal-date-time", 1),
    ("format-date", 2),
    ("format-date-time", 2),
    ("once", 1),
    ("random", 0),
    ("uuid", 1),
    ("position", 1),
    ("indexed-repeat", 3),
    ("area", 1),
    ("distance", 1),
    ("pulldata", 4),
    ("digest", 2),
    ("instance", 1),
    ("current", 0),
    ("log10", 1),
    ("sqrt", 1),
    ("exp", 1),
];

const OPERATORS: &[&str] = &["or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod", "|"];

const NAMES: &[&str] = &["age", "village", "hh_size", "member", "crops", "visit_date", "gps", "plot", "a", "x_1"];

attacks! {
    "One shape of hostile expression.";
    /// A random expression of the grammar, a few levels deep.
    Grammar => "grammar";
    /// Parentheses nested 100 to 20,000 deep.
    DeepParens => "deep-parens";
    /// Calls nested 100 to 20,000 deep.
    DeepCalls => "deep-calls";
    /// Unary minus repeated 100 to 20,000 times.
    DeepMinus => "deep-minus";
    /// A chain of 1,000 to 200,000 binary operators.
    LongChain => "long-chain";
    /// A call with hundreds or thousands of arguments.
    ManyArguments => "many-arguments";
    /// A string, number or name literal of up to megabytes.
    LongLiteral => "long-literal";
    /// Literal regular expressions and date formats that are costly or wrong.
    Patterns => "patterns";
    /// Grammar, then characters inserted, removed and replaced.
    Mutated => "mutated";
}

/// Any hostile expression, as UTF-8 bytes (now and then not UTF-8).
pub fn generate(dice: &mut Dice) -> Vec<u8> {
    let attack = *dice.pick(Attack::ALL).unwrap_or(&Attack::Grammar);
    generate_with(dice, attack)
}

/// An expression of one shape.
pub fn generate_with(dice: &mut Dice, attack: Attack) -> Vec<u8> {
    let deep = |dice: &mut Dice| {
        let n = *dice.pick(&[100, 127, 128, 129, 1_000, 1_001, 20_000]).unwrap_or(&100);
        n + dice.below(3) - 1
    };
    let text = match attack {
        Attack::Grammar => expr(dice, 4),
        Attack::DeepParens => {
            let n = deep(dice);
            format!("{}{}{}", "(".repeat(n), expr(dice, 1), ")".repeat(if dice.percent(90) { n } else { n - 1 }))
        }
        Attack::DeepCalls => {
            let n = deep(dice);
            let name = *dice.pick(&["not", "string", "once", "number", "concat", "if"]).unwrap_or(&"not");
            let inner = if name == "if" { "1, 2, 3".to_owned() } else { expr(dice, 1) };
            format!("{}{inner}{}", format!("{name}(").repeat(n), ")".repeat(n))
        }
        Attack::DeepMinus => format!("{}{}", "-".repeat(deep(dice)), expr(dice, 1)),
        Attack::LongChain => {
            let n = *dice.pick(&[999, 1_000, 1_001, 10_000, 200_000]).unwrap_or(&1_000);
            let op = *dice.pick(OPERATORS).unwrap_or(&"+");
            let operand = leaf(dice);
            vec![operand; n + 1].join(&format!(" {op} "))
        }
        Attack::ManyArguments => {
            let (name, _) = *dice.pick(FUNCTIONS).unwrap_or(&("concat", 1));
            let n = *dice.pick(&[50, 255, 256, 1_000, 10_000]).unwrap_or(&50);
            format!("{name}({})", vec![leaf(dice); n].join(", "))
        }
        Attack::LongLiteral => {
            let n = 1 << dice.between(10, 22);
            match dice.below(4) {
                0 => format!("'{}'", "a".repeat(n)),
                1 => "9".repeat(n),
                2 => format!("1.{}e308", "0".repeat(n)),
                _ => format!("${{{}}}", "n".repeat(n)),
            }
        }
        Attack::Patterns => {
            let pattern = *dice
                .pick(&[
                    "(a+)+$",
                    "((((((((((a))))))))))*",
                    "[",
                    "\\\\",
                    "a{1000000}",
                    "(?<x>a)\\k<x>",
                    "\\p{Greek}+",
                    ".*.*.*.*.*.*=.*",
                ])
                .unwrap_or(&"[");
            let format = *dice.pick(&["%Y-%m-%d", "%", "%Q", "%e %b %Y %H:%M:%S", "%%%%", "%3"]).unwrap_or(&"%");
            match dice.below(3) {
                0 => format!("regex(${{village}}, '{pattern}')"),
                1 => format!("format-date(today(), '{format}')"),
                _ => format!("regex('{}', '{pattern}')", "a".repeat(dice.below(5000))),
            }
        }
        Attack::Mutated => {
            let mut chars: Vec<char> = expr(dice, 3).chars().collect();
            for _ in 0..=dice.below(6) {
                let at = dice.below(chars.len() + 1);
                let c = *dice
                    .pick(&['(', ')', ',', '$', '{', '}', '\'', '"', '.', '/', '[', ']', '-', ' ', 'é', '\0'])
                    .unwrap_or(&'(');
                match dice.below(3) {
                    0 => chars.insert(at, c),
                    1 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ if at < chars.len() => chars[at] = c,
                    _ => chars.push(c),
                }
            }
            let mut bytes = chars.into_iter().collect::<String>().into_bytes();
            if dice.percent(5) {
                bytes.push(0xff);
            }
            return bytes;
        }
    };
    text.into_bytes()
}

/// A lookup in a list, well formed or nearly: predicates on columns, positions, chains of
/// predicates, a lookup inside a condition, odd steps.
fn instance_path(dice: &mut Dice) -> String {
    let list = *dice.pick(&["villages", "census", "missing", "", "a b"]).unwrap_or(&"villages");
    let predicate = match dice.below(6) {
        0 => format!("name = ${{{}}}", dice.pick(NAMES).unwrap_or(&"village")),
        1 => dice.pick(&["1", "2", "0", "-1", "1e308", "NaN"]).unwrap_or(&"1").to_string(),
        2 => "pop > 10 and region != ''".to_owned(),
        3 => "name = instance('villages')/root/item[1]/name".to_owned(),
        4 => String::new(),
        _ => "true()".to_owned(),
    };
    let predicates = "[".to_owned() + &predicate + "]";
    let predicates = predicates.repeat(dice.between(0, 3) as usize);
    let steps =
        *dice.pick(&["/root/item", "/root/item", "/root", "/data/item", "/root/item/"]).unwrap_or(&"/root/item");
    let column = *dice.pick(&["", "/label", "/pop", "/name", "/", "/1"]).unwrap_or(&"");
    format!("instance('{list}'){steps}{predicates}{column}")
}

/// A random expression of the grammar, at most `depth` levels deep.
fn expr(dice: &mut Dice, depth: usize) -> String {
    if depth == 0 {
        return leaf(dice);
    }
    match dice.below(6) {
        0 | 1 => {
            let op = *dice.pick(OPERATORS).unwrap_or(&"+");
            format!("{} {op} {}", expr(dice, depth - 1), expr(dice, depth - 1))
        }
        2 => format!("({})", expr(dice, depth - 1)),
        3 => format!("-{}", expr(dice, depth - 1)),
        4 => {
            let (name, arity) = *dice.pick(FUNCTIONS).unwrap_or(&("concat", 1));
            // Mostly the right number of arguments, sometimes one too few or too many.
            let n = match dice.below(10) {
                0 => arity.saturating_sub(1),
                1 => arity + 1,
                _ => arity,
            };
            let args: Vec<String> = (0..n).map(|_| expr(dice, depth - 1)).collect();
            format!("{name}({})", args.join(", "))
        }
        _ => leaf(dice),
    }
}

fn leaf(dice: &mut Dice) -> String {
    if dice.percent(8) {
        return instance_path(dice);
    }
    match dice.below(7) {
        0 => format!("${{{}}}", dice.pick(NAMES).unwrap_or(&"age")),
        1 => ".".to_owned(),
        2 => {
            dice.pick(&["0", "1", "-1", "0.5", "1e308", "1e-400", "NaN", "007", "1.", ".5"]).unwrap_or(&"1").to_string()
        }
        3 => format!("'{}'", super::docs::text(dice, 12).replace('\'', "")),
        4 => format!("\"{}\"", dice.pick(&["yes", "2024-02-29", "a b c", "", "1 2 3 4;5 6 7 8"]).unwrap_or(&"")),
        5 => dice.pick(&["true()", "false()", "today()", "now()", "random()"]).unwrap_or(&"true()").to_string(),
        _ => format!("${{{}}}", dice.pick(&["", "1x", "a b", "é", "a-b.c"]).unwrap_or(&"")),
    }
}
