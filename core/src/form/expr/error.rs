//! Errors of the expression engine.
//!
//! A [`ParseError`] is what the form importer shows to the form author, so it always carries the
//! position and the text it is about. An [`EvalError`] happens while a survey is being filled
//! in; its message names the question, function or value at fault so that the author can fix the
//! form.

/// An expression that could not be parsed, with the place where the problem was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at character {position} of `{source_text}`")]
pub struct ParseError {
    /// 1-based character (not byte) offset into `source_text`; one past the end for problems
    /// found at the end of the expression.
    pub position: usize,
    /// What is wrong, phrased for a form author.
    pub message: String,
    /// The whole expression as written in the form.
    pub source_text: String,
}

impl ParseError {
    pub(super) fn new(position: usize, message: impl Into<String>, source_text: &str) -> Self {
        ParseError { position, message: message.into(), source_text: source_text.to_owned() }
    }
}

/// A problem found while evaluating an expression that parsed correctly.
///
/// Most runtime problems are not errors: as in ODK, an empty answer becomes `NaN` or `''`,
/// dividing by zero gives `Infinity` or `NaN`, and so on. Only problems that the form author has
/// to fix are reported here.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// `${name}` where the form has no question, group or repeat called `name`.
    #[error("`${{{name}}}` does not name a question of this form")]
    UnknownReference {
        /// The name written between `${` and `}`.
        name: String,
    },
    /// A function called with a number of arguments it does not take.
    ///
    /// The parser already reports this as a [`ParseError`], so it is only produced for syntax
    /// trees that did not come from [`Expression::parse`](super::Expression::parse).
    #[error("{function}() takes {expected} but was given {got}")]
    WrongArity {
        /// The function's name as written in XLSForm.
        function: &'static str,
        /// The accepted argument counts, in words (for example "2 or 3 arguments").
        expected: String,
        /// The number of arguments given.
        got: usize,
    },
    /// A regular expression, computed while filling in the form, that does not compile.
    ///
    /// A literal pattern (`regex(., '^[0-9]+$')`) is compiled, and reported, when the form is
    /// imported.
    #[error("regex(): `{pattern}` is not a valid regular expression: {message}")]
    BadRegex {
        /// The pattern as computed.
        pattern: String,
        /// Why it does not compile.
        message: String,
    },
    /// A date function was given a value that is not a date, a dateTime, a time or a number of
    /// days (ODK Collect fails in the same way).
    #[error("{function}(): the value `{value}` can't be converted to a date")]
    NotADate {
        /// The function that needed a date.
        function: &'static str,
        /// The offending value, as a string.
        value: String,
    },
    /// Any other argument that a function cannot work with.
    #[error("{function}(): {message}")]
    InvalidArgument {
        /// The function's name as written in XLSForm.
        function: &'static str,
        /// What is wrong with the argument.
        message: String,
    },
}
