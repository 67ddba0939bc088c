//! Addresses of answers inside a survey, through repeat instances: `member[2]/age`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The address of an answer, or of a repeat's list of instances.
///
/// Question names are unique across a form, so a path only has to say which instance of
/// each enclosing repeat it goes through. Instance indexes are 0-based. The text form is
/// `household_member[2]/child[0]/age`; a top-level question is just its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AnswerPath {
    /// The repeat instances passed through, outermost first.
    pub instances: Vec<(String, usize)>,
    /// The question (or repeat) name at the end.
    pub name: String,
}

impl AnswerPath {
    /// The path of a question outside any repeat.
    pub fn top(name: impl Into<String>) -> Self {
        AnswerPath { instances: Vec::new(), name: name.into() }
    }

    /// The path of `name` inside instance `index` of this path's repeat.
    ///
    /// `AnswerPath::top("member").child(2, "age")` is `member[2]/age`.
    pub fn child(&self, index: usize, name: impl Into<String>) -> Self {
        let mut instances = self.instances.clone();
        instances.push((self.name.clone(), index));
        AnswerPath { instances, name: name.into() }
    }
}

impl fmt::Display for AnswerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (repeat, index) in &self.instances {
            write!(f, "{repeat}[{index}]/")?;
        }
        f.write_str(&self.name)
    }
}

/// A path that is not of the form `repeat[0]/name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` is not an answer path: {reason} (write it like `member[0]/age`)")]
pub struct PathSyntaxError {
    /// The text that was given.
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for AnswerPath {
    type Err = PathSyntaxError;

    fn from_str(text: &str) -> Result<Self, PathSyntaxError> {
        let err = |reason| PathSyntaxError { path: text.to_owned(), reason };
        let mut steps: Vec<&str> = text.split('/').collect();
        let name = steps.pop().unwrap_or_default();
        if !is_name(name) {
            return Err(err("the last step must be a question name"));
        }
        let instances = steps
            .into_iter()
            .map(|step| {
                let (repeat, rest) = step.split_once('[').ok_or(err("a repeat step needs [index]"))?;
                let index = rest.strip_suffix(']').ok_or(err("missing `]`"))?;
                let index = index.parse().map_err(|_| err("an index must be a whole number"))?;
                if !is_name(repeat) {
                    return Err(err("a repeat step must start with the repeat's name"));
                }
                Ok((repeat.to_owned(), index))
            })
            .collect::<Result<_, _>>()?;
        Ok(AnswerPath { instances, name: name.to_owned() })
    }
}

impl TryFrom<String> for AnswerPath {
    type Error = PathSyntaxError;
    fn try_from(s: String) -> Result<Self, PathSyntaxError> {
        s.parse()
    }
}

impl From<AnswerPath> for String {
    fn from(p: AnswerPath) -> String {
        p.to_string()
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(['[', ']', '/']) && !s.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_through_text() {
        for text in ["age", "member[2]/age", "plot[0]/crop[11]/harvest_kg"] {
            let path: AnswerPath = text.parse().unwrap();
            assert_eq!(path.to_string(), text);
        }
        let built = AnswerPath::top("member").child(2, "age");
        assert_eq!(built, "member[2]/age".parse().unwrap());
    }

    #[test]
    fn malformed_paths_are_refused() {
        for text in ["", "member/age", "member[x]/age", "member[1/age", "member[1]/", "[1]/a"] {
            assert!(text.parse::<AnswerPath>().is_err(), "{text} was accepted");
        }
    }
}
