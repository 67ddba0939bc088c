//! Expressions and `${name}` references: parsing expression cells, and checking — once
//! every name in the form is known — that each `${name}` anywhere names something.
//!
//! Like pyxform, every cell is checked, not only expression columns: a `${name}` in a
//! label, hint, message, default or unknown column is shown or evaluated by the client,
//! and a wrong name there fails just as surely.

use std::collections::{HashMap, HashSet};

use super::error::{At, Issues};
use super::names::{Reference, references};
use terrain_core::form::expr::{Expression, ParseError};

/// A `${name}` waiting for all names to be known.
#[derive(Debug, Clone)]
struct Pending {
    sheet: String,
    row: usize,
    column: String,
    name: String,
}

/// Collects references while a form is read, then checks them.
#[derive(Debug, Default)]
pub(crate) struct References {
    pending: Vec<Pending>,
}

impl References {
    /// Notes the `${…}` in a text cell, reporting malformed ones now.
    pub fn scan_text(&mut self, at: At<'_>, text: &str, issues: &mut Issues) {
        for reference in references(text) {
            match reference {
                Reference::Name(name) => self.note(at, name),
                Reference::Malformed(bad) => malformed(at, bad, issues),
            }
        }
    }

    /// Parses an expression cell, noting its references; reports a cell that does not
    /// parse and returns `None` for it.
    ///
    /// The names are those the expression engine finds plus those a plain text scan finds,
    /// as pyxform scans expressions as text: the checks then hold whatever the engine's
    /// view of `${…}` inside string literals, and with the stand-in engine too.
    pub fn expression(&mut self, at: At<'_>, text: &str, issues: &mut Issues) -> Option<Expression> {
        self.parsed(at, text, Expression::parse(text), issues)
    }

    /// As [`References::expression`], for a `choice_filter`, where bare names are columns
    /// of the choices sheet.
    pub fn choice_filter(&mut self, at: At<'_>, text: &str, issues: &mut Issues) -> Option<Expression> {
        self.parsed(at, text, Expression::parse_choice_filter(text), issues)
    }

    fn parsed(
        &mut self,
        at: At<'_>,
        text: &str,
        parsed: Result<Expression, ParseError>,
        issues: &mut Issues,
    ) -> Option<Expression> {
        match parsed {
            Ok(expression) => {
                let mut names: Vec<&str> =
                    expression.references().into_iter().map(|n| n.strip_prefix("last-saved#").unwrap_or(n)).collect();
                for reference in references(text) {
                    match reference {
                        Reference::Name(name) => names.push(name),
                        Reference::Malformed(bad) => malformed(at, bad, issues),
                    }
                }
                let mut seen = HashSet::new();
                for name in names {
                    if seen.insert(name) {
                        self.note(at, name);
                    }
                }
                Some(expression)
            }
            Err(e) => {
                issues.add(
                    at,
                    format!(
                        "this expression cannot be read: {} (at character {} of \"{}\")",
                        e.message, e.position, e.source_text
                    ),
                );
                None
            }
        }
    }

    fn note(&mut self, at: At<'_>, name: &str) {
        self.pending.push(Pending {
            sheet: at.sheet.to_owned(),
            row: at.row.unwrap_or(0),
            column: at.column.unwrap_or_default().to_owned(),
            name: name.to_owned(),
        });
    }

    /// Reports every reference to a name that is not in `known`. `in_loops` holds the names
    /// written inside loops, which are not in the form as such (each has a copy per choice),
    /// with the loop's name and one copy's name, to say so.
    pub fn check(self, known: &HashSet<String>, in_loops: &HashMap<String, (String, String)>, issues: &mut Issues) {
        for p in self.pending {
            if known.contains(&p.name) {
                continue;
            }
            let at = At {
                sheet: &p.sheet,
                row: (p.row > 0).then_some(p.row),
                column: (!p.column.is_empty()).then_some(p.column.as_str()),
            };
            let message = match in_loops.get(&p.name) {
                Some((loop_name, copy)) => format!(
                    "${{{}}} is inside the loop \"{loop_name}\", which has a copy of it for each \
                     choice; outside the loop, refer to one copy, such as ${{{copy}}}",
                    p.name
                ),
                None => format!(
                    "${{{}}} refers to no question, group or repeat: there is none named \"{}\" \
                     on the survey sheet",
                    p.name, p.name
                ),
            };
            issues.add(at, message);
        }
    }
}

fn malformed(at: At<'_>, bad: &str, issues: &mut Issues) {
    issues.add(
        at,
        format!(
            "\"{bad}\" is not a valid reference: write ${{ then a question name, then }}, as \
             in ${{age}}"
        ),
    );
}
