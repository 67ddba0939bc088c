//! The `parameters` column: `key=value` pairs, and which keys each question type accepts.
//!
//! Parsing follows pyxform's `parsing/parameters.py`: pairs are separated by spaces,
//! commas or semicolons (`start=1 end=10`, `start=1,end=10`, `start=1; end=10`), keys are
//! lower-cased, and so are values except those of `label` and `value` (they name columns
//! of an attached file). The checks are pyxform's for the types it checks: unknown keys
//! and impossible values are refused, because ODK Collect would misbehave on them.

use std::collections::BTreeMap;

use super::names::{is_valid_name, references};
use super::text::yes_no;

/// Parses a `parameters` cell; the error is a message for the author.
pub(crate) fn parse(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in raw.chars() {
        if c == '=' || c == ',' || c == ';' || c.is_whitespace() {
            if !word.is_empty() {
                tokens.push(Some(std::mem::take(&mut word)));
            }
            if c == '=' {
                tokens.push(None);
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        tokens.push(Some(word));
    }
    let mut pairs = BTreeMap::new();
    for triple in tokens.chunks(3) {
        let [Some(key), None, Some(value)] = triple else {
            return Err("parameters must be written as key=value pairs separated by spaces, \
                        such as \"start=1 end=10 step=1\""
                .to_owned());
        };
        let key = key.to_lowercase();
        let value = if key == "label" || key == "value" { value.clone() } else { value.to_lowercase() };
        pairs.insert(key, value);
    }
    Ok(pairs)
}

/// The parameter keys pyxform accepts for a row type (`None`: pyxform does not check).
fn accepted(type_text: &str, is_select: bool, from_file: bool) -> Option<&'static [&'static str]> {
    if is_select {
        return Some(if from_file { &["label", "randomize", "seed", "value"] } else { &["randomize", "seed"] });
    }
    Some(match type_text {
        "text" => &["rows"],
        "image" | "photo" | "add image prompt" | "add photo prompt" => &["app", "max-pixels"],
        "audio" | "add audio prompt" => &["quality"],
        "range" => &["end", "placeholder", "start", "step", "tick_interval", "tick_labelset"],
        "geopoint" => &["allow-mock-accuracy", "capture-accuracy", "reference-geometry", "warning-accuracy"],
        "geoshape" | "geotrace" => &["allow-mock-accuracy", "incremental", "reference-geometry"],
        "audit" => &[
            "identify-user",
            "location-max-age",
            "location-min-interval",
            "location-priority",
            "track-changes",
            "track-changes-reasons",
        ],
        _ => return None,
    })
}

/// Checks the parameters of one row; returns a message per problem.
///
/// `type_text` is the row's type as written (pyxform checks by type spelling), `is_select`
/// and `from_file` describe select rows. For a `range`, missing `start`, `end` and `step`
/// are filled in with pyxform's defaults (1, 10 and 1) before checking.
pub(crate) fn check(
    type_text: &str,
    is_select: bool,
    from_file: bool,
    params: &mut BTreeMap<String, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(keys) = accepted(type_text, is_select, from_file) else {
        return problems;
    };
    let rejected: Vec<&str> = params.keys().map(String::as_str).filter(|k| !keys.contains(k)).collect();
    if !rejected.is_empty() {
        problems.push(format!(
            "the parameter(s) {} are not accepted for this question type; accepted: {}",
            quoted(&rejected),
            quoted(keys)
        ));
    }
    let get = |k: &str| params.get(k).map(String::as_str);
    if is_select {
        check_select(get("randomize"), get("seed"), &mut problems);
        for key in ["value", "label"] {
            if let Some(v) = get(key).filter(|v| !is_valid_name(v)) {
                problems.push(format!(
                    "the {key} parameter \"{v}\" must be a column name of the file (starting \
                     with a letter or underscore, then letters, digits, _ - or .)"
                ));
            }
        }
    }
    match type_text {
        "text" => integer(get("rows"), "rows", &mut problems),
        "image" | "photo" | "add image prompt" | "add photo prompt" => {
            integer(get("max-pixels"), "max-pixels", &mut problems);
        }
        "audio" | "add audio prompt" => {
            if let Some(q) = get("quality")
                && !["voice-only", "low", "normal", "external"].contains(&q)
            {
                problems.push(format!("quality \"{q}\" is not one of voice-only, low, normal, external"));
            }
        }
        "geopoint" => {
            for key in ["capture-accuracy", "warning-accuracy"] {
                if let Some(v) = get(key).filter(|v| v.parse::<f64>().is_err()) {
                    problems.push(format!("{key} must be a number, not \"{v}\""));
                }
            }
        }
        "geoshape" | "geotrace" => {
            if let Some(v) = get("incremental").filter(|v| yes_no(v) != Some(true)) {
                problems.push(format!("incremental may only be true, not \"{v}\""));
            }
        }
        "range" => {
            for (key, default) in [("start", "1"), ("end", "10"), ("step", "1")] {
                params.entry(key.to_owned()).or_insert_with(|| default.to_owned());
            }
            check_range(params, &mut problems);
        }
        "audit" => check_audit(params, &mut problems),
        _ => {}
    }
    problems
}

fn quoted(keys: &[&str]) -> String {
    keys.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ")
}

fn integer(value: Option<&str>, key: &str, problems: &mut Vec<String>) {
    if let Some(v) = value.filter(|v| v.parse::<i64>().is_err()) {
        problems.push(format!("{key} must be a whole number, not \"{v}\""));
    }
}

fn true_false(value: Option<&str>, key: &str, problems: &mut Vec<String>) {
    if let Some(v) = value.filter(|v| *v != "true" && *v != "false") {
        problems.push(format!("{key} must be true or false, not \"{v}\""));
    }
}

fn check_select(randomize: Option<&str>, seed: Option<&str>, problems: &mut Vec<String>) {
    true_false(randomize, "randomize", problems);
    match (randomize, seed) {
        (None, Some(_)) => problems.push("a seed needs randomize=true".to_owned()),
        (Some(_), Some(seed)) => {
            let is_reference = matches!(references(seed).as_slice(), [_]) && seed.starts_with("${");
            if seed.parse::<f64>().is_err() && !is_reference {
                problems.push(format!("seed must be a number or a ${{reference}} to a question, not \"{seed}\""));
            }
        }
        _ => {}
    }
}

fn check_range(params: &BTreeMap<String, String>, problems: &mut Vec<String>) {
    let number = |key: &str, problems: &mut Vec<String>| -> Option<f64> {
        let v = params.get(key)?;
        match v.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                problems.push(format!("the range parameter {key} must be a number, not \"{v}\""));
                None
            }
        }
    };
    let (Some(start), Some(end), Some(step)) =
        (number("start", problems), number("end", problems), number("step", problems))
    else {
        return;
    };
    let width = (end - start).abs();
    let multiple = |value: f64, of: f64| {
        let ratio = value / of;
        (ratio - ratio.round()).abs() < 1e-9
    };
    if step == 0.0 {
        problems.push("the range parameter step must not be 0".to_owned());
        return;
    }
    if step > width {
        problems.push("the range parameter step must not be larger than end - start".to_owned());
    }
    if let Some(tick) = number("tick_interval", problems) {
        if tick == 0.0 {
            problems.push("the range parameter tick_interval must not be 0".to_owned());
        } else if tick > width {
            problems.push("the range parameter tick_interval must not be larger than end - start".to_owned());
        } else if !multiple(tick, step) {
            problems.push("the range parameter tick_interval must be a multiple of step".to_owned());
        }
    }
    if let Some(placeholder) = number("placeholder", problems) {
        if !multiple(placeholder - start, step) {
            problems.push("the range parameter placeholder must be start plus a multiple of step".to_owned());
        } else if placeholder < start.min(end) || placeholder > start.max(end) {
            problems.push("the range parameter placeholder must lie between start and end".to_owned());
        }
    }
}

fn check_audit(params: &BTreeMap<String, String>, problems: &mut Vec<String>) {
    let get = |k: &str| params.get(k).map(String::as_str);
    true_false(get("track-changes"), "track-changes", problems);
    true_false(get("identify-user"), "identify-user", problems);
    if let Some(v) = get("track-changes-reasons").filter(|v| *v != "on-form-edit") {
        problems.push(format!("track-changes-reasons may only be on-form-edit, not \"{v}\""));
    }
    let location = ["location-priority", "location-min-interval", "location-max-age"];
    let given = location.iter().filter(|k| params.contains_key(**k)).count();
    if given == 0 {
        return;
    }
    if given < location.len() {
        problems.push(
            "audit location needs all three of location-priority, location-min-interval and \
             location-max-age"
                .to_owned(),
        );
        return;
    }
    if let Some(p) = get("location-priority")
        && !["no-power", "low-power", "balanced", "high-accuracy"].contains(&p)
    {
        problems.push(format!("location-priority \"{p}\" is not one of no-power, low-power, balanced, high-accuracy"));
    }
    let whole = |key: &str, problems: &mut Vec<String>| -> Option<i64> {
        let v = get(key)?;
        match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                problems.push(format!("{key} must be a whole number of zero or more, not \"{v}\""));
                None
            }
        }
    };
    let min = whole("location-min-interval", problems);
    let max = whole("location-max-age", problems);
    if let (Some(min), Some(max)) = (min, max)
        && max < min
    {
        problems.push("location-max-age must be at least location-min-interval".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(raw: &str) -> BTreeMap<String, String> {
        parse(raw).unwrap()
    }

    #[test]
    fn parses_pairs_with_any_separator() {
        let expected: BTreeMap<String, String> = [("start", "1"), ("end", "10"), ("step", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(p("start=1 end=10 step=2"), expected);
        assert_eq!(p("start=1,end=10;step=2"), expected);
        assert_eq!(p(" start = 1 ;  end=10, step=2 "), expected);
        assert_eq!(p("Randomize=TRUE")["randomize"], "true");
        assert_eq!(p("value=Code label=Name")["value"], "Code");
        assert!(parse("start").is_err());
        assert!(parse("start=").is_err());
        assert!(parse("=1").is_err());
        assert!(p("").is_empty());
    }

    #[test]
    fn checks_keys_and_values_by_type() {
        let mut params = p("foo=1");
        assert_eq!(check("text", false, false, &mut params).len(), 1);
        let mut params = p("rows=x");
        assert_eq!(check("text", false, false, &mut params).len(), 1);
        let mut params = p("seed=3");
        assert_eq!(check("select_one x", true, false, &mut params).len(), 1);
        let mut params = p("randomize=true seed=${q}");
        assert!(check("select_one x", true, false, &mut params).is_empty());
        let mut params = p("foo=1");
        assert!(check("note", false, false, &mut params).is_empty());
    }

    #[test]
    fn range_defaults_and_checks() {
        let mut params = p("");
        assert!(check("range", false, false, &mut params).is_empty());
        assert_eq!(params["start"], "1");
        assert_eq!(params["end"], "10");
        assert_eq!(params["step"], "1");
        let mut params = p("start=0 end=1 step=0");
        assert_eq!(check("range", false, false, &mut params).len(), 1);
        let mut params = p("start=0 end=10 step=2 tick_interval=3");
        assert_eq!(check("range", false, false, &mut params).len(), 1);
        let mut params = p("start=0 end=10 step=20");
        assert_eq!(check("range", false, false, &mut params).len(), 1);
    }
}
