//! Splits expression text into tokens.
//!
//! Follows the XPath 1.0 lexical rules, including its one context rule: after a value (a number,
//! string, `${...}`, `.`, `..` or `)`), a word can only be an operator (`and`, `or`, `div`,
//! `mod`) and `*` is multiplication. That rule is also what splits `${a}div-1` and `3 mod-2`
//! correctly even though names may contain `-`.
//!
//! XLSForm refers to questions as `${name}`, so bare names are only function names and
//! operators. The one path read is a lookup in a list, `instance('villages')/root/item[…]/label`,
//! whose `/`, steps and brackets are tokens only after `instance(…)`. Other paths
//! (`/data/age`, `../age`), predicates, axes and unions are rejected here or in the parser
//! with a message telling the author what to write instead.

use super::error::ParseError;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    Number(f64),
    String(String),
    Reference(String),
    /// A word in operand position: a function name, or a mistake the parser explains.
    Name(String),
    /// A word in operator position that is not an operator (the parser explains).
    Word(String),
    Dot,
    DotDot,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Div,
    Mod,
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `/` between the steps of an `instance('…')/root/item…` path (nowhere else).
    Slash,
    /// A step of an instance path: `root`, `item`, or the column read.
    Step(String),
    /// `[` opening a predicate of an instance path.
    LBracket,
    /// `]` closing it.
    RBracket,
    Eof,
}

/// A token and the 1-based character position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    pub(super) position: usize,
}

impl TokenKind {
    /// Whether this token ends a value, which makes the next word an operator.
    fn ends_operand(&self) -> bool {
        matches!(
            self,
            TokenKind::Number(_)
                | TokenKind::String(_)
                | TokenKind::Reference(_)
                | TokenKind::Dot
                | TokenKind::DotDot
                | TokenKind::RParen
                | TokenKind::Step(_)
                | TokenKind::RBracket
        )
    }

    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            TokenKind::Number(n) => format!("number `{n}`"),
            TokenKind::String(s) => format!("string '{s}'"),
            TokenKind::Reference(name) => format!("`${{{name}}}`"),
            TokenKind::Name(w) | TokenKind::Word(w) => format!("`{w}`"),
            TokenKind::Dot => "`.`".into(),
            TokenKind::DotDot => "`..`".into(),
            TokenKind::LParen => "`(`".into(),
            TokenKind::RParen => "`)`".into(),
            TokenKind::Comma => "`,`".into(),
            TokenKind::Plus => "`+`".into(),
            TokenKind::Minus => "`-`".into(),
            TokenKind::Star => "`*`".into(),
            TokenKind::Div => "`div`".into(),
            TokenKind::Mod => "`mod`".into(),
            TokenKind::And => "`and`".into(),
            TokenKind::Or => "`or`".into(),
            TokenKind::Eq => "`=`".into(),
            TokenKind::Ne => "`!=`".into(),
            TokenKind::Lt => "`<`".into(),
            TokenKind::Le => "`<=`".into(),
            TokenKind::Gt => "`>`".into(),
            TokenKind::Ge => "`>=`".into(),
            TokenKind::Slash => "`/`".into(),
            TokenKind::Step(step) => format!("`{step}`"),
            TokenKind::LBracket => "`[`".into(),
            TokenKind::RBracket => "`]`".into(),
            TokenKind::Eof => "the end of the expression".into(),
        }
    }
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

/// Whether `name` is a valid question name (an XML NCName, as pyxform requires).
pub(super) fn is_question_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

struct Lexer<'s> {
    source: &'s str,
    chars: Vec<char>,
    i: usize,
    tokens: Vec<Token>,
    /// Parentheses open at this point.
    parens: usize,
    /// The `parens` at which each `instance(` still open was opened.
    instances: Vec<usize>,
    /// Whether the lexer is in an instance path, where `/`, steps and `[` are read: after
    /// `instance('…')`, a step, or a predicate's `]`.
    in_path: bool,
    /// Predicates (`[`) open at this point.
    brackets: usize,
}

/// Splits `source` into tokens, ending with [`TokenKind::Eof`].
pub(super) fn tokenize(source: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        source,
        chars: source.chars().collect(),
        i: 0,
        tokens: Vec::new(),
        parens: 0,
        instances: Vec::new(),
        in_path: false,
        brackets: 0,
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn error(&self, position: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(position, message, self.source)
    }

    fn push(&mut self, kind: TokenKind, position: usize, len: usize) {
        self.tokens.push(Token { kind, position });
        self.i += len;
    }

    fn after_operand(&self) -> bool {
        self.tokens.last().is_some_and(|t| t.kind.ends_operand())
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let start = self.i;
        while self.peek(0).is_some_and(&f) {
            self.i += 1;
        }
        self.chars[start..self.i].iter().collect()
    }

    /// The tokens of instance paths (`instance('villages')/root/item[name = ${v}]/label`),
    /// which only exist there: whether `c` was one, pushed.
    fn path_token(&mut self, c: char, pos: usize) -> bool {
        match c {
            '(' => {
                if matches!(self.tokens.last(), Some(Token { kind: TokenKind::Name(n), .. }) if n == "instance") {
                    self.instances.push(self.parens);
                }
                self.parens += 1;
                self.push(TokenKind::LParen, pos, 1);
            }
            ')' => {
                self.parens = self.parens.saturating_sub(1);
                self.push(TokenKind::RParen, pos, 1);
                if self.instances.last() == Some(&self.parens) {
                    self.instances.pop();
                    self.in_path = true;
                    return true;
                }
            }
            '/' if self.in_path => {
                self.push(TokenKind::Slash, pos, 1);
                return true;
            }
            '[' if self.in_path => {
                self.brackets += 1;
                self.in_path = false;
                self.push(TokenKind::LBracket, pos, 1);
            }
            ']' if self.brackets > 0 => {
                self.brackets -= 1;
                self.push(TokenKind::RBracket, pos, 1);
                self.in_path = true;
                return true;
            }
            c if self.in_path
                && is_name_start(c)
                && matches!(self.tokens.last(), Some(t) if t.kind == TokenKind::Slash) =>
            {
                let step = self.take_while(is_name_char);
                self.tokens.push(Token { kind: TokenKind::Step(step), position: pos });
                return true;
            }
            _ => return false,
        }
        self.in_path = false;
        true
    }

    fn run(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek(0) {
            let pos = self.i + 1;
            if c.is_whitespace() {
                // Non-breaking spaces are common in spreadsheet cells; treat all Unicode
                // whitespace as XPath whitespace.
                self.i += 1;
                continue;
            }
            if self.path_token(c, pos) {
                continue;
            }
            self.in_path = false;
            match c {
                '$' => self.reference(pos)?,
                '\'' | '"' => self.string(c, pos)?,
                '0'..='9' => self.number(pos)?,
                '.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => self.number(pos)?,
                '.' if self.peek(1) == Some('.') => {
                    if self.peek(2) == Some('/') {
                        return Err(self.relative_path_error(pos));
                    }
                    self.push(TokenKind::DotDot, pos, 2)
                }
                '.' => {
                    if self.peek(1) == Some('/') {
                        return Err(self.relative_path_error(pos));
                    }
                    self.push(TokenKind::Dot, pos, 1)
                }
                ',' => self.push(TokenKind::Comma, pos, 1),
                '+' => self.push(TokenKind::Plus, pos, 1),
                '-' => self.push(TokenKind::Minus, pos, 1),
                '=' if self.peek(1) == Some('=') => {
                    return Err(self.error(pos, "use a single `=` to compare values"));
                }
                '=' => self.push(TokenKind::Eq, pos, 1),
                '!' if self.peek(1) == Some('=') => self.push(TokenKind::Ne, pos, 2),
                '!' => {
                    return Err(self.error(pos, "`!` is not an operator: use `!=` to compare, or not(...) to negate"));
                }
                '<' if self.peek(1) == Some('>') => {
                    return Err(self.error(pos, "use `!=` for \"not equal\""));
                }
                '<' if self.peek(1) == Some('=') => self.push(TokenKind::Le, pos, 2),
                '<' => self.push(TokenKind::Lt, pos, 1),
                '>' if self.peek(1) == Some('=') => self.push(TokenKind::Ge, pos, 2),
                '>' => self.push(TokenKind::Gt, pos, 1),
                '*' if self.after_operand() => self.push(TokenKind::Star, pos, 1),
                '*' => {
                    return Err(self.error(pos, "`*` multiplies two values and needs a value on its left"));
                }
                '/' => return Err(self.slash_error(pos)),
                '&' => return Err(self.error(pos, "use `and` to combine conditions")),
                '|' if self.peek(1) == Some('|') => {
                    return Err(self.error(pos, "use `or` to combine conditions"));
                }
                '|' => {
                    return Err(self.error(pos, "node-set unions (`|`) are not supported"));
                }
                '[' | ']' => {
                    return Err(self.error(
                        pos,
                        "predicates (`[...]`) are only read in instance('…')/root/item[…] paths; \
                         to read a field of another repeat instance use indexed-repeat()",
                    ));
                }
                '@' => return Err(self.error(pos, "attributes (`@`) are not supported")),
                '{' | '}' => {
                    return Err(self.error(pos, format!("unexpected `{c}`: refer to a question as ${{name}}")));
                }
                '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' => {
                    return Err(self.error(pos, "curly quotes do not delimit strings; use straight quotes ' or \""));
                }
                c if is_name_start(c) => self.word(pos),
                c => return Err(self.error(pos, format!("unexpected character `{c}`"))),
            }
        }
        let end = self.chars.len() + 1;
        self.tokens.push(Token { kind: TokenKind::Eof, position: end });
        Ok(())
    }

    fn reference(&mut self, pos: usize) -> Result<(), ParseError> {
        if self.peek(1) != Some('{') {
            return Err(self.error(pos, "a question is referred to as ${name}"));
        }
        let start = self.i + 2;
        let Some(close) = self.chars[start..].iter().position(|&c| c == '}') else {
            return Err(self.error(pos, "`${` is not closed with `}`"));
        };
        let name: String = self.chars[start..start + close].iter().collect();
        if name.is_empty() {
            return Err(self.error(pos, "`${}` needs a question name between the braces"));
        }
        if !is_question_name(&name) {
            return Err(self.error(
                pos + 2,
                format!(
                    "`{name}` is not a valid question name (names start with a letter or `_` \
                     and contain only letters, digits, `_`, `-` and `.`)"
                ),
            ));
        }
        self.push(TokenKind::Reference(name), pos, close + 3);
        Ok(())
    }

    fn string(&mut self, quote: char, pos: usize) -> Result<(), ParseError> {
        let start = self.i + 1;
        let Some(len) = self.chars[start..].iter().position(|&c| c == quote) else {
            return Err(self.error(pos, format!("this string is not closed with {quote}")));
        };
        let text: String = self.chars[start..start + len].iter().collect();
        self.push(TokenKind::String(text), pos, len + 2);
        Ok(())
    }

    fn number(&mut self, pos: usize) -> Result<(), ParseError> {
        let mut text = self.take_while(|c| c.is_ascii_digit());
        // `3.` is a valid XPath number, but `3..` is not a number followed by `..`-ish text.
        if self.peek(0) == Some('.') && self.peek(1) != Some('.') {
            self.i += 1;
            text.push('.');
            text.push_str(&self.take_while(|c| c.is_ascii_digit()));
        }
        let value: f64 = text.parse().map_err(|_| self.error(pos, format!("`{text}` is not a number")))?;
        if self.peek(0).is_some_and(|c| c == 'e' || c == 'E')
            && self.peek(1).is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+')
        {
            return Err(self.error(pos, "scientific notation is not supported in XPath; write the number out"));
        }
        self.tokens.push(Token { kind: TokenKind::Number(value), position: pos });
        Ok(())
    }

    fn word(&mut self, pos: usize) {
        if self.after_operand() {
            // Operator position: operators are plain letters, so stop at `-` or a digit and
            // let `div-1` be `div` followed by `-1`.
            let word = self.take_while(|c| c.is_alphabetic());
            let kind = match word.as_str() {
                "and" => TokenKind::And,
                "or" => TokenKind::Or,
                "div" => TokenKind::Div,
                "mod" => TokenKind::Mod,
                _ => {
                    let rest = self.take_while(is_name_char);
                    TokenKind::Word(word + &rest)
                }
            };
            self.tokens.push(Token { kind, position: pos });
        } else {
            let name = self.take_while(is_name_char);
            self.tokens.push(Token { kind: TokenKind::Name(name), position: pos });
        }
    }

    /// `/` is never valid: explain division or absolute paths, whichever the author meant.
    fn slash_error(&self, pos: usize) -> ParseError {
        if self.after_operand() {
            return self.error(pos, "`/` is not division in XPath; use `div`");
        }
        let path: String = self.chars[self.i..].iter().take_while(|&&c| c == '/' || is_name_char(c)).collect();
        match path.rsplit('/').next().filter(|last| is_question_name(last)) {
            Some(last) => self
                .error(pos, format!("paths like `{path}` are not supported; refer to the question as `${{{last}}}`")),
            None => self.error(pos, "paths are not supported; refer to a question as ${name}"),
        }
    }

    fn relative_path_error(&self, pos: usize) -> ParseError {
        let path: String = self.chars[self.i..].iter().take_while(|&&c| c == '/' || is_name_char(c)).collect();
        let last = path.rsplit('/').next().unwrap_or("");
        if is_question_name(last) {
            self.error(
                pos,
                format!(
                    "relative paths like `{path}` are not supported; refer to the question as \
                     `${{{last}}}` (inside a repeat it means the same instance)"
                ),
            )
        } else {
            self.error(
                pos,
                "relative paths are not supported; refer to a question as ${name}, and use \
                 position(..) for the current repeat instance's index",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TokenKind as T;
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        tokenize(s).unwrap().into_iter().map(|t| t.kind).filter(|k| *k != T::Eof).collect()
    }

    fn err(s: &str) -> ParseError {
        tokenize(s).unwrap_err()
    }

    #[test]
    fn references_and_literals() {
        assert_eq!(
            kinds("${age} >= 18.5 and 'x' = \"y\""),
            vec![
                T::Reference("age".into()),
                T::Ge,
                T::Number(18.5),
                T::And,
                T::String("x".into()),
                T::Eq,
                T::String("y".into()),
            ]
        );
        assert_eq!(kinds(".5"), vec![T::Number(0.5)]);
        assert_eq!(kinds("3."), vec![T::Number(3.0)]);
        assert_eq!(kinds(". .."), vec![T::Dot, T::DotDot]);
    }

    #[test]
    fn minus_after_a_value_is_subtraction() {
        assert_eq!(kinds("${x}-1"), vec![T::Reference("x".into()), T::Minus, T::Number(1.0)]);
        assert_eq!(kinds("5-1"), vec![T::Number(5.0), T::Minus, T::Number(1.0)]);
        assert_eq!(kinds("${a}div-1"), vec![T::Reference("a".into()), T::Div, T::Minus, T::Number(1.0)]);
        assert_eq!(kinds("3 mod-2"), vec![T::Number(3.0), T::Mod, T::Minus, T::Number(2.0)]);
    }

    #[test]
    fn names_keep_dashes_and_prefixes() {
        assert_eq!(
            kinds("format-date( jr:choice-name("),
            vec![T::Name("format-date".into()), T::LParen, T::Name("jr:choice-name".into()), T::LParen]
        );
    }

    #[test]
    fn star_depends_on_position() {
        assert_eq!(kinds("2*3"), vec![T::Number(2.0), T::Star, T::Number(3.0)]);
        assert!(err("*3").message.contains("needs a value on its left"));
    }

    #[test]
    fn positions_are_one_based_characters() {
        let toks = tokenize("é = ${b}").unwrap();
        assert_eq!(toks[0].position, 1);
        assert_eq!(toks[1].position, 3);
        assert_eq!(toks[2].position, 5);
        assert_eq!(toks[3].position, 9);
        let e = err("'é' = 'x");
        assert_eq!(e.position, 7);
    }

    #[test]
    fn helpful_errors() {
        let e = err("/data/group/age > 3");
        assert_eq!(e.position, 1);
        assert!(e.message.contains("${age}"), "{}", e.message);
        assert!(err("../age").message.contains("${age}"));
        assert!(err("${a} / 2").message.contains("div"));
        assert!(err("${a} == 2").message.contains("single `=`"));
        assert!(err("${a} && ${b}").message.contains("and"));
        assert!(err("${a} <> 2").message.contains("!="));
        assert!(err("${a").message.contains("not closed"));
        assert!(err("${}").message.contains("needs a question name"));
        assert!(err("${a b}").message.contains("not a valid question name"));
        assert!(err("\u{2018}x\u{2019}").message.contains("curly"));
        assert!(err("${r}[1]").message.contains("indexed-repeat"));
        assert!(err("1e5").message.contains("scientific"));
        assert!(err("$age").message.contains("${name}"));
    }
}
