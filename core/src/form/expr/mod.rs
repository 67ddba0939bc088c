//! Temporary stand-in for the expression engine (being written separately).
#![allow(missing_docs)]

#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    source: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at character {position} of `{source_text}`")]
pub struct ParseError {
    pub position: usize,
    pub message: String,
    pub source_text: String,
}

impl Expression {
    pub fn parse(source: &str) -> Result<Expression, ParseError> {
        Ok(Expression {
            source: source.to_owned(),
        })
    }
    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn references(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl TryFrom<String> for Expression {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Expression::parse(&s)
    }
}

impl From<Expression> for String {
    fn from(e: Expression) -> String {
        e.source
    }
}
