//! Builds the syntax tree from tokens by precedence climbing, and checks what can be checked
//! before any answer exists: function names, argument counts, arguments that must be
//! references, literal regular expressions and literal `format-date` formats. All of these are
//! reported as [`ParseError`]s so that the form importer can show them to the author.

use super::ast::{Ast, BinaryOp, Function, InstancePath, Pattern};
use super::dates;
use super::error::ParseError;
use super::lexer::{Token, TokenKind, is_question_name, tokenize};

/// Nesting of parentheses, function calls and unary minus. Deeper expressions are rejected so
/// that neither the parser nor the evaluator can overflow the stack; real forms, even with long
/// `if(...)` chains, stay far below this.
pub(super) const MAX_NESTING: usize = 128;

/// Depth of the syntax tree, which also bounds operator chains such as `a + b + ... + z`
/// (the evaluator walks those iteratively, but dropping and comparing trees recurses).
pub(super) const MAX_DEPTH: usize = 1000;

/// `instance('…')` lookups in one expression: each walks a list of up to
/// `attachments::MAX_ROWS` items at every evaluation, so their number is what bounds an
/// expression's cost. Real forms use one or two.
pub(super) const MAX_LOOKUPS: usize = 16;

/// A subtree and its depth, so depth limits are checked while building, before a too-deep tree
/// exists.
struct Node {
    ast: Ast,
    depth: usize,
}

struct Parser<'s> {
    source: &'s str,
    /// Whether bare names are choice columns (choice filters) rather than mistakes.
    choice_filter: bool,
    tokens: Vec<Token>,
    next: usize,
    nesting: usize,
    random_sites: u32,
    lookups: usize,
}

/// Parses a whole expression; with `choice_filter`, bare names are choice columns.
pub(super) fn parse(source: &str, choice_filter: bool) -> Result<Ast, ParseError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser { source, choice_filter, tokens, next: 0, nesting: 0, random_sites: 0, lookups: 0 };
    if parser.peek() == &TokenKind::Eof {
        return Err(parser.error_here("the expression is empty"));
    }
    let node = parser.expression(0)?;
    match parser.peek() {
        TokenKind::Eof => Ok(node.ast),
        TokenKind::RParen => Err(parser.error_here("this `)` has no matching `(`")),
        TokenKind::Word(w) => Err(parser.error_here(unknown_operator_message(w))),
        TokenKind::Comma => Err(parser.error_here("unexpected `,` outside a function call")),
        other => {
            Err(parser
                .error_here(format!("expected an operator (such as `and`, `=` or `+`) before {}", other.describe())))
        }
    }
}

fn unknown_operator_message(word: &str) -> String {
    let lower = word.to_lowercase();
    if matches!(lower.as_str(), "and" | "or" | "div" | "mod") {
        format!("`{word}` is not an operator; operators are lowercase: `{lower}`")
    } else {
        format!("expected an operator (such as `and`, `=` or `+`) before `{word}`")
    }
}

fn path_shape_message(instance: &str) -> String {
    format!(
        "a list is read as instance('{instance}')/root/item[condition]/column, \
         e.g. instance('{instance}')/root/item[name = ${{village}}]/label"
    )
}

fn binary_op(kind: &TokenKind) -> Option<BinaryOp> {
    Some(match kind {
        TokenKind::Or => BinaryOp::Or,
        TokenKind::And => BinaryOp::And,
        TokenKind::Eq => BinaryOp::Eq,
        TokenKind::Ne => BinaryOp::Ne,
        TokenKind::Lt => BinaryOp::Lt,
        TokenKind::Le => BinaryOp::Le,
        TokenKind::Gt => BinaryOp::Gt,
        TokenKind::Ge => BinaryOp::Ge,
        TokenKind::Plus => BinaryOp::Add,
        TokenKind::Minus => BinaryOp::Sub,
        TokenKind::Star => BinaryOp::Mul,
        TokenKind::Div => BinaryOp::Div,
        TokenKind::Mod => BinaryOp::Mod,
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &TokenKind {
        self.tokens.get(self.next).map_or(&TokenKind::Eof, |t| &t.kind)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.next).or(self.tokens.last()).map_or(1, |t| t.position)
    }

    fn advance(&mut self) -> Token {
        let token = self
            .tokens
            .get(self.next)
            .cloned()
            .unwrap_or(Token { kind: TokenKind::Eof, position: self.source.chars().count() + 1 });
        if self.next < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn error_at(&self, position: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(position, message, self.source)
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.position(), message)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error_here(format!(
                "the expression nests parentheses, function calls or minus signs more than \
                 {MAX_NESTING} deep; split it into several calculate questions"
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    fn node(&self, ast: Ast, depth: usize, position: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error_at(
                position,
                format!(
                    "the expression is too long (more than {MAX_DEPTH} operations in a chain); \
                     split it into several calculate questions"
                ),
            ));
        }
        Ok(Node { ast, depth })
    }

    // The functions from `expression` to `arguments` recurse into each other once per level
    // of nesting; they only steer, and leave building nodes and error messages to other
    // functions, so that each level costs little stack even in debug builds.

    /// Parses operators binding at least as tightly as `min_precedence`.
    fn expression(&mut self, min_precedence: u8) -> Result<Node, ParseError> {
        let mut lhs = self.unary()?;
        while let Some(op) = binary_op(self.peek()) {
            if op.precedence() < min_precedence {
                break;
            }
            let position = self.position();
            self.next += 1;
            // All XPath binary operators are left-associative.
            let rhs = self.expression(op.precedence() + 1)?;
            lhs = self.binary(op, lhs, rhs, position)?;
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        if self.peek() == &TokenKind::Minus {
            let position = self.position();
            self.next += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return self.negate(inner, position);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        match self.peek() {
            TokenKind::LParen => self.parenthesised(),
            TokenKind::Name(name)
                if name == "instance"
                    && self.tokens.get(self.next + 1).is_some_and(|t| t.kind == TokenKind::LParen) =>
            {
                self.instance_path()
            }
            TokenKind::Name(_) if self.tokens.get(self.next + 1).is_some_and(|t| t.kind == TokenKind::LParen) => {
                self.call()
            }
            _ => self.leaf(),
        }
    }

    /// `instance('name')/root/item[predicate]…/column`; predicates read bare names as the
    /// item's columns.
    fn instance_path(&mut self) -> Result<Node, ParseError> {
        let position = self.position();
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS {
            return Err(self.error_at(
                position,
                format!("more than {MAX_LOOKUPS} instance('…') lookups in one expression; split it into several calculate questions"),
            ));
        }
        self.next += 2;
        let instance = match self.advance().kind {
            TokenKind::String(name) if is_question_name(&name) => name,
            _ => return Err(self.error_at(position, "instance() takes a list's name in quotes: instance('villages')")),
        };
        if self.advance().kind != TokenKind::RParen {
            return Err(self.error_at(position, "instance() takes one list's name: instance('villages')"));
        }
        for step in ["root", "item"] {
            let (slash, name) = (self.advance().kind, self.advance().kind);
            if slash != TokenKind::Slash || name != TokenKind::Step(step.to_owned()) {
                return Err(self.error_at(position, path_shape_message(&instance)));
            }
        }
        let mut predicates = Vec::new();
        let mut depth = 1;
        while self.peek() == &TokenKind::LBracket {
            let open = self.position();
            self.next += 1;
            self.enter()?;
            let choice_filter = std::mem::replace(&mut self.choice_filter, true);
            let predicate = self.expression(0);
            self.choice_filter = choice_filter;
            let predicate = predicate?;
            self.leave();
            if self.advance().kind != TokenKind::RBracket {
                return Err(self.error_at(open, "this `[` is never closed with `]`"));
            }
            if let Some(inner) = super::collect_instances_of(&predicate.ast) {
                // Each item would look through the inner list: the cost of the two lists'
                // product, on a phone, at every answer.
                return Err(self.error_at(
                    open,
                    format!(
                        "a lookup in instance('{inner}') inside a condition of instance('{instance}') is not read; \
                         compute it in a calculate question first and compare with ${{that_question}}"
                    ),
                ));
            }
            depth = depth.max(predicate.depth + 1);
            predicates.push(predicate.ast);
        }
        let column = if self.peek() == &TokenKind::Slash {
            self.next += 1;
            match self.advance().kind {
                TokenKind::Step(column) if is_question_name(&column) => Some(column),
                _ => return Err(self.error_at(position, path_shape_message(&instance))),
            }
        } else {
            None
        };
        self.node(Ast::Instance(Box::new(InstancePath { instance, predicates, column })), depth, position)
    }

    fn parenthesised(&mut self) -> Result<Node, ParseError> {
        let open = self.position();
        self.next += 1;
        self.enter()?;
        let inner = self.expression(0)?;
        self.leave();
        self.expect_close(open, None)?;
        Ok(inner)
    }

    fn call(&mut self) -> Result<Node, ParseError> {
        let position = self.position();
        let function = self.function_name()?;
        if function == Function::Position {
            return self.position_call(position);
        }
        self.enter()?;
        let (args, arg_positions) = self.arguments(function)?;
        self.leave();
        self.finish_call(function, args, &arg_positions, position)
    }

    fn arguments(&mut self, function: Function) -> Result<(Vec<Node>, Vec<usize>), ParseError> {
        let open = self.position();
        self.next += 1;
        let mut args = Vec::new();
        let mut positions = Vec::new();
        if self.peek() == &TokenKind::RParen {
            self.next += 1;
            return Ok((args, positions));
        }
        loop {
            positions.push(self.position());
            args.push(self.expression(0)?);
            if self.peek() != &TokenKind::Comma {
                self.expect_close(open, Some(function))?;
                return Ok((args, positions));
            }
            self.next += 1;
            if self.peek() == &TokenKind::RParen {
                return Err(self.trailing_comma(function));
            }
        }
    }

    // Non-recursive helpers of the functions above.

    fn binary(&self, op: BinaryOp, lhs: Node, rhs: Node, position: usize) -> Result<Node, ParseError> {
        let depth = lhs.depth.max(rhs.depth) + 1;
        let ast = Ast::Binary { op, lhs: Box::new(lhs.ast), rhs: Box::new(rhs.ast) };
        self.node(ast, depth, position)
    }

    fn negate(&self, inner: Node, position: usize) -> Result<Node, ParseError> {
        let depth = inner.depth + 1;
        self.node(Ast::Negate(Box::new(inner.ast)), depth, position)
    }

    /// A literal, a reference, `.`, or the error for whatever else stands where a value
    /// should.
    fn leaf(&mut self) -> Result<Node, ParseError> {
        let token = self.advance();
        let leaf = |ast| Ok(Node { ast, depth: 1 });
        match token.kind {
            TokenKind::Number(n) => leaf(Ast::Number(n)),
            TokenKind::String(s) => leaf(Ast::String(s)),
            TokenKind::Reference(name) => leaf(Ast::Reference(name)),
            TokenKind::Dot => leaf(Ast::Current),
            TokenKind::Name(name) if self.choice_filter && is_question_name(&name) => leaf(Ast::ChoiceColumn(name)),
            TokenKind::DotDot => Err(self.error_at(
                token.position,
                "`..` can only be used as position(..); refer to other questions as ${name}",
            )),
            TokenKind::Name(name) => Err(self.error_at(token.position, bare_name_message(&name))),
            TokenKind::Eof => Err(self.error_at(token.position, "the expression ends where a value was expected")),
            other => Err(self.error_at(token.position, format!("expected a value but found {}", other.describe()))),
        }
    }

    /// Resolves the function name at the current token and steps over it.
    fn function_name(&mut self) -> Result<Function, ParseError> {
        let token = self.advance();
        let TokenKind::Name(name) = &token.kind else {
            return Err(self.error_at(token.position, "expected a function name"));
        };
        Function::from_name(name).ok_or_else(|| self.error_at(token.position, unknown_function_message(name)))
    }

    fn expect_close(&mut self, open: usize, function: Option<Function>) -> Result<(), ParseError> {
        if self.peek() == &TokenKind::RParen {
            self.next += 1;
            return Ok(());
        }
        let what = function.map_or("", Function::name);
        Err(match self.peek() {
            TokenKind::Eof => self.error_at(open, format!("this `{what}(` is never closed with `)`")),
            TokenKind::Word(w) => self.error_here(unknown_operator_message(w)),
            other => self.error_here(format!("expected `)` or an operator but found {}", other.describe())),
        })
    }

    fn trailing_comma(&self, function: Function) -> ParseError {
        self.error_here(format!("{}(): a `,` must be followed by another argument", function.name()))
    }

    fn finish_call(
        &mut self,
        function: Function,
        args: Vec<Node>,
        arg_positions: &[usize],
        position: usize,
    ) -> Result<Node, ParseError> {
        let name = function.name();
        let arity = function.arity();
        if !arity.accepts(args.len()) {
            return Err(
                self.error_at(position, format!("{name}() takes {} but was given {}", arity.describe(), args.len()))
            );
        }
        let depth = args.iter().map(|a| a.depth).max().unwrap_or(0) + 1;
        let args: Vec<Ast> = args.into_iter().map(|n| n.ast).collect();
        self.check_arguments(function, name, &args, arg_positions)?;
        let ast = self.build_call(function, args, arg_positions)?;
        self.node(ast, depth, position)
    }

    /// `position(..)` is the only form ODK forms use for "index of this repeat instance".
    fn position_call(&mut self, position: usize) -> Result<Node, ParseError> {
        // Step over `(`.
        self.next += 1;
        let ok = self.peek() == &TokenKind::DotDot
            && self.tokens.get(self.next + 1).is_some_and(|t| t.kind == TokenKind::RParen);
        if !ok {
            return Err(self.error_at(position, "write position(..) for the index of the current repeat instance"));
        }
        self.advance();
        self.advance();
        Ok(Node { ast: Ast::Call { function: Function::Position, args: Vec::new() }, depth: 1 })
    }

    /// Argument checks that do not need answers.
    fn check_arguments(
        &self,
        function: Function,
        name: &str,
        args: &[Ast],
        positions: &[usize],
    ) -> Result<(), ParseError> {
        let at = |i: usize| positions.get(i).copied().unwrap_or(1);
        match function {
            Function::Count | Function::Sum | Function::CountNonEmpty
                if !matches!(args.first(), Some(Ast::Reference(_) | Ast::Current | Ast::Instance(_))) =>
            {
                return Err(self.error_at(
                    at(0),
                    format!(
                        "{name}() needs a reference such as ${{field}}, ${{repeat}} or an instance('…') path as its \
                         argument"
                    ),
                ));
            }
            Function::IndexedRepeat => {
                for (i, arg) in args.iter().enumerate() {
                    let must_be_reference = i == 0 || i % 2 == 1;
                    if must_be_reference && !matches!(arg, Ast::Reference(_)) {
                        let what = if i == 0 { "the field to read, as ${field}" } else { "a repeat, as ${repeat}" };
                        return Err(
                            self.error_at(at(i), format!("indexed-repeat(): argument {} must be {what}", i + 1))
                        );
                    }
                }
            }
            Function::Selected | Function::SelectedAt if matches!(args.first(), Some(Ast::Number(_))) => {
                return Err(
                    self.error_at(at(0), format!("{name}(): the first argument should be a select_multiple question"))
                );
            }
            Function::Selected => {
                if let Some(Ast::Number(n)) = args.get(1) {
                    return Err(self.error_at(at(1), format!("selected(): put the choice name in quotes, like '{n}'")));
                }
            }
            Function::ChoiceName => {
                if let Some(Ast::String(s)) = args.get(1)
                    && choice_question_name(s).is_none()
                {
                    return Err(self.error_at(
                        at(1),
                        "jr:choice-name(): the second argument must be the select question's \
                         name in quotes, like '${question}'",
                    ));
                }
            }
            Function::FormatDate | Function::FormatDateTime => {
                if let Some(Ast::String(format)) = args.get(1)
                    && let Err(problem) = dates::check_format(format)
                {
                    return Err(self.error_at(at(1), format!("{name}(): {problem}")));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn build_call(&mut self, function: Function, mut args: Vec<Ast>, positions: &[usize]) -> Result<Ast, ParseError> {
        Ok(match function {
            Function::Regex => {
                if let Some(Ast::String(source)) = args.get(1) {
                    let pattern = Pattern::new(source).map_err(|problem| {
                        self.error_at(
                            positions.get(1).copied().unwrap_or(1),
                            format!("regex(): invalid regular expression: {problem}"),
                        )
                    })?;
                    args.truncate(1);
                    match args.pop() {
                        Some(subject) => Ast::Regex { subject: Box::new(subject), pattern },
                        None => Ast::Call { function, args },
                    }
                } else {
                    Ast::Call { function, args }
                }
            }
            Function::Random => Ast::Random { site: self.next_site() },
            Function::Uuid => Ast::Uuid { site: self.next_site(), length: args.pop().map(Box::new) },
            _ => Ast::Call { function, args },
        })
    }

    fn next_site(&mut self) -> u32 {
        let site = self.random_sites;
        self.random_sites = self.random_sites.saturating_add(1);
        site
    }
}

/// The question name in `jr:choice-name`'s second argument: `'${name}'` as XLSForm authors
/// write it, or a path such as `/data/name` as pyxform emits it.
pub(super) fn choice_question_name(text: &str) -> Option<&str> {
    let text = text.trim();
    let name = match text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
        Some(name) => name,
        None => text.rsplit('/').next().unwrap_or(text),
    };
    is_question_name(name).then_some(name)
}

fn bare_name_message(name: &str) -> String {
    match name {
        "true" | "false" => {
            format!("write `{name}()` for the boolean value, or '{name}' for the text")
        }
        "and" | "or" | "div" | "mod" => format!("`{name}` needs a value on its left"),
        _ if Function::from_name(name).is_some() => {
            format!("{name} is a function: call it with parentheses, like {name}(...)")
        }
        _ => format!(
            "unexpected name `{name}`: refer to a question as `${{name}}` and call functions \
             with parentheses"
        ),
    }
}

fn unknown_function_message(name: &str) -> String {
    let lower = name.to_lowercase();
    if lower != name && Function::from_name(&lower).is_some() {
        return format!("unknown function `{name}`; function names are lowercase: `{lower}`");
    }
    match name {
        "current" => "current() is not supported here; refer to questions as ${name}".to_owned(),
        "substring" => "unknown function `substring`; use substr(text, start, end) (0-based)".to_owned(),
        "geofence" => format!("{name}() (geo functions) is not supported yet"),
        "instance" | "digest" | "base64-decode" | "randomize" | "checklist" | "weighted-checklist" | "version"
        | "property" | "last" | "depend" => {
            format!("{name}() is not supported")
        }
        _ => format!("unknown function `{name}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Ast {
        parse(s, false).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn e(s: &str) -> ParseError {
        match parse(s, false) {
            Ok(ast) => panic!("{s} parsed as {ast:?}"),
            Err(e) => e,
        }
    }

    fn bin(op: BinaryOp, lhs: Ast, rhs: Ast) -> Ast {
        Ast::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
    }

    fn r(name: &str) -> Ast {
        Ast::Reference(name.into())
    }

    #[test]
    fn precedence_follows_xpath() {
        use BinaryOp::*;
        assert_eq!(p("1 + 2 * 3"), bin(Add, Ast::Number(1.0), bin(Mul, Ast::Number(2.0), Ast::Number(3.0))));
        assert_eq!(p("${a} or ${b} and ${c}"), bin(Or, r("a"), bin(And, r("b"), r("c"))));
        assert_eq!(p("${a} = 1 < 2"), bin(Eq, r("a"), bin(Lt, Ast::Number(1.0), Ast::Number(2.0))));
        assert_eq!(p("(1 + 2) * 3"), bin(Mul, bin(Add, Ast::Number(1.0), Ast::Number(2.0)), Ast::Number(3.0)));
    }

    #[test]
    fn operators_are_left_associative() {
        use BinaryOp::*;
        assert_eq!(p("10 - 4 - 3"), bin(Sub, bin(Sub, Ast::Number(10.0), Ast::Number(4.0)), Ast::Number(3.0)));
        assert_eq!(p("8 div 4 div 2"), bin(Div, bin(Div, Ast::Number(8.0), Ast::Number(4.0)), Ast::Number(2.0)));
    }

    #[test]
    fn unary_minus_binds_tightest() {
        use BinaryOp::*;
        assert_eq!(p("-2 * 3"), bin(Mul, Ast::Negate(Box::new(Ast::Number(2.0))), Ast::Number(3.0)));
        assert_eq!(p("${x}-1"), bin(Sub, r("x"), Ast::Number(1.0)));
        assert_eq!(p("${x} - -1"), bin(Sub, r("x"), Ast::Negate(Box::new(Ast::Number(1.0)))));
        assert_eq!(p("--1"), Ast::Negate(Box::new(Ast::Negate(Box::new(Ast::Number(1.0))))));
    }

    #[test]
    fn calls_and_special_forms() {
        assert_eq!(
            p("if(${a}, 'x', 'y')"),
            Ast::Call { function: Function::If, args: vec![r("a"), Ast::String("x".into()), Ast::String("y".into())] }
        );
        assert_eq!(p("position(..)"), Ast::Call { function: Function::Position, args: vec![] });
        assert!(matches!(p("regex(., '[0-9]+')"), Ast::Regex { .. }));
        assert!(matches!(p("regex(., ${pattern})"), Ast::Call { function: Function::Regex, .. }));
        assert_eq!(p("random() + random()").to_string(), "random() + random()");
        match p("random() + uuid(4)") {
            Ast::Binary { lhs, rhs, .. } => {
                assert_eq!(*lhs, Ast::Random { site: 0 });
                assert!(matches!(*rhs, Ast::Uuid { site: 1, length: Some(_) }));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p("jr:choice-name(${s}, '${s}')").to_string(), "jr:choice-name(${s}, '${s}')");
        assert_eq!(p("is-selected(${s}, 'a')").to_string(), "selected(${s}, 'a')");
    }

    #[test]
    fn arity_and_unknown_functions_are_parse_errors() {
        let err = e("1 + if(${a}, 2)");
        assert_eq!(err.position, 5);
        assert_eq!(err.message, "if() takes 3 arguments but was given 2");
        assert_eq!(err.to_string(), "if() takes 3 arguments but was given 2 at character 5 of `1 + if(${a}, 2)`");
        let err = e("foo(1)");
        assert_eq!((err.position, err.message.as_str()), (1, "unknown function `foo`"));
        assert!(e("IF(1, 2, 3)").message.contains("lowercase"));
        assert!(e("today(1)").message.contains("takes 0 arguments"));
        assert!(e("substr('a')").message.contains("2 or 3 arguments"));
        assert!(e("indexed-repeat(${a}, ${r})").message.contains("3, 5, 7, 9 or 11"));
        assert!(e("min()").message.contains("at least 1"));
        assert!(e("current()").message.contains("current()"));
    }

    #[test]
    fn argument_checks() {
        assert!(e("count('a')").message.contains("needs a reference"));
        assert!(e("sum(${a} + 1)").message.contains("needs a reference"));
        assert!(p("count(${r})") != Ast::Current);
        let err = e("indexed-repeat(${f}, 'r', 1)");
        assert_eq!(err.position, 22);
        assert!(err.message.contains("argument 2"));
        assert!(e("selected(${s}, 1)").message.contains("'1'"));
        let err = e("regex(., '(ab')");
        assert_eq!(err.position, 10);
        assert!(err.message.contains("invalid regular expression"), "{}", err.message);
        assert!(e("format-date(today(), '%Q')").message.contains("%Q"));
        assert!(e("jr:choice-name(${s}, 'not a name')").message.contains("in quotes"));
        assert!(p("jr:choice-name(${s}, '/data/s')") != Ast::Current);
        assert!(e("position()").message.contains("position(..)"));
        assert!(e("position(.)").message.contains("position(..)"));
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let err = e("${a} ${b}");
        assert_eq!(err.position, 6);
        assert!(err.message.contains("expected an operator"));
        let err = e("(1 + 2");
        assert_eq!(err.position, 1);
        assert!(err.message.contains("never closed"));
        assert_eq!(e("1 + 2)").position, 6);
        assert_eq!(e("1 +").position, 4);
        assert!(e("").message.contains("empty"));
        assert!(e("   ").message.contains("empty"));
        assert!(e("${a} AND ${b}").message.contains("lowercase"));
        assert!(e("age > 3").message.contains("${name}"));
        assert!(e("true").message.contains("true()"));
        assert!(e("concat('a',)").message.contains("another argument"));
        assert!(e("concat('a' 'b')").message.contains("expected `)`"));
        assert!(e("..").message.contains("position(..)"));
        assert!(e("1, 2").message.contains("`,`"));
    }

    #[test]
    fn nesting_and_length_limits() {
        let deep = format!("{}1{}", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
        assert!(e(&deep).message.contains("deep"));
        let ok = format!("{}1{}", "(".repeat(MAX_NESTING - 1), ")".repeat(MAX_NESTING - 1));
        assert_eq!(p(&ok), Ast::Number(1.0));
        let minus = format!("{}1", "-".repeat(MAX_NESTING + 1));
        assert!(e(&minus).message.contains("deep"));
        let long = vec!["1"; MAX_DEPTH + 2].join(" + ");
        assert!(e(&long).message.contains("too long"));
        let fine = vec!["${a}"; 500].join(" + ");
        assert!(matches!(p(&fine), Ast::Binary { .. }));
    }
}
