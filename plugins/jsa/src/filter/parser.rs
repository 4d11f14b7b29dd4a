//! The filter parser: recursive descent over the lexer's tokens.
//!
//! ```text
//! expr      := and ( OR and )*
//! and       := unary ( AND unary )*
//! unary     := NOT unary | '(' expr ')' | predicate
//! predicate := FIELD cmp value
//!            | FIELD [NOT] IN '(' value ( ',' value )* ')'
//!            | FIELD [NOT] BETWEEN value AND value
//!            | FIELD IS [NOT] NULL
//! value     := quoted string | number | TRUE | FALSE | bare word (a string)
//! ```
//!
//! Keywords are case-insensitive. A field must be one the endpoint's objects have (a dotted
//! path reaches into nested objects; its first segment must be known). Nesting is limited to
//! [`MAX_DEPTH`] so a hostile filter cannot exhaust the stack.

use super::FilterError;
use super::lexer::{CmpOp, Tok, Token};

/// Deepest nesting of parentheses and `not`s accepted.
pub const MAX_DEPTH: usize = 64;

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A quoted string or a bare word.
    Str(String),
    /// A number, with its text (compared as text against string fields).
    Num(String, f64),
    /// `true` or `false`, with its text.
    Bool(String, bool),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Every one holds (a chain `a and b and c` is one node, so chains do not nest).
    And(Vec<Expr>),
    /// At least one holds.
    Or(Vec<Expr>),
    /// The inner one does not hold.
    Not(Box<Expr>),
    /// `field op value`.
    Cmp(String, CmpOp, Literal),
    /// `field [not] in (values)`.
    In(String, Vec<Literal>, bool),
    /// `field [not] between low and high`.
    Between(String, Literal, Literal, bool),
    /// `field is [not] null`.
    IsNull(String, bool),
}

/// Parse tokens into an expression, checking fields against `fields`. `end` is the
/// character length of the text (the position of "end of filter" errors).
pub fn parse(tokens: &[Token], fields: &[&str], end: usize) -> Result<Expr, FilterError> {
    if tokens.is_empty() {
        return Err(FilterError::new(0, "the filter is empty"));
    }
    let mut parser = Parser {
        tokens,
        i: 0,
        fields,
        end,
        depth: 0,
    };
    let expr = parser.or()?;
    match parser.peek() {
        None => Ok(expr),
        Some(t) => Err(FilterError::new(
            t.pos,
            format!(
                "unexpected {}; expected 'and', 'or' or the end of the filter",
                describe(&t.tok)
            ),
        )),
    }
}

/// How a token is named in messages.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Op(op) => format!("'{}'", op.symbol()),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Word(w) => format!("'{w}'"),
    }
}

/// Whether `tok` is the keyword `kw` (case-insensitive).
fn is_kw(tok: &Tok, kw: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

/// Words that cannot name a field.
const KEYWORDS: [&str; 9] = [
    "and", "or", "not", "in", "between", "is", "null", "true", "false",
];

struct Parser<'a> {
    tokens: &'a [Token],
    i: usize,
    fields: &'a [&'a str],
    end: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.i)
    }

    /// Consume the keyword `kw` if it is next.
    fn eat_kw(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(t) if is_kw(&t.tok, kw) => {
                self.i += 1;
                true
            }
            _ => false,
        }
    }

    /// An error at the next token (or the end), saying what was expected.
    fn expected(&self, what: &str) -> FilterError {
        match self.peek() {
            Some(t) => FilterError::new(
                t.pos,
                format!("expected {what} but found {}", describe(&t.tok)),
            ),
            None => FilterError::new(self.end, format!("expected {what} but the filter ended")),
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.peek().map_or(self.end, |t| t.pos);
            return Err(FilterError::new(
                pos,
                format!("the filter is nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.and()?];
        while self.eat_kw("or") {
            terms.push(self.and()?);
        }
        Ok(match terms.len() {
            1 => terms.remove(0),
            _ => Expr::Or(terms),
        })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.unary()?];
        while self.eat_kw("and") {
            terms.push(self.unary()?);
        }
        Ok(match terms.len() {
            1 => terms.remove(0),
            _ => Expr::And(terms),
        })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        self.enter()?;
        let expr = if self.eat_kw("not") {
            Expr::Not(Box::new(self.unary()?))
        } else if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::LParen,
                ..
            })
        ) {
            self.i += 1;
            let inner = self.or()?;
            match self.peek() {
                Some(Token {
                    tok: Tok::RParen, ..
                }) => {
                    self.i += 1;
                    inner
                }
                _ => return Err(self.expected("')'")),
            }
        } else {
            self.predicate()?
        };
        self.depth -= 1;
        Ok(expr)
    }

    /// A field name the endpoint knows.
    fn field(&mut self) -> Result<String, FilterError> {
        let (name, pos) = match self.peek() {
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) if !KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => (w.clone(), *pos),
            _ => return Err(self.expected("a field name")),
        };
        let valid_path = name.split('.').all(|segment| {
            let mut chars = segment.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !valid_path {
            return Err(FilterError::new(
                pos,
                format!("'{name}' is not a field name"),
            ));
        }
        let top = name.split('.').next().unwrap_or_default();
        if !self.fields.contains(&top) {
            return Err(FilterError::new(
                pos,
                format!(
                    "unknown field '{top}'; the fields are: {}",
                    self.fields.join(", ")
                ),
            ));
        }
        self.i += 1;
        Ok(name)
    }

    fn predicate(&mut self) -> Result<Expr, FilterError> {
        let field = self.field()?;
        let Some(token) = self.peek() else {
            return Err(self.expected("an operator"));
        };
        if let Tok::Op(op) = token.tok {
            self.i += 1;
            let value = self.value()?;
            return Ok(Expr::Cmp(field, op, value));
        }
        if self.eat_kw("is") {
            let negated = self.eat_kw("not");
            if !self.eat_kw("null") {
                return Err(self.expected("'null'"));
            }
            return Ok(Expr::IsNull(field, negated));
        }
        let negated = self.eat_kw("not");
        if self.eat_kw("in") {
            return Ok(Expr::In(field, self.list()?, negated));
        }
        if self.eat_kw("between") {
            let low = self.value()?;
            if !self.eat_kw("and") {
                return Err(self.expected("'and' after the lower bound of 'between'"));
            }
            let high = self.value()?;
            return Ok(Expr::Between(field, low, high, negated));
        }
        Err(self.expected(if negated {
            "'in' or 'between' after 'not'"
        } else {
            "an operator (=, !=, <>, ^=, <, <=, >, >=, in, not in, between, not between, is null, is not null)"
        }))
    }

    /// `( value, … )`.
    fn list(&mut self) -> Result<Vec<Literal>, FilterError> {
        match self.peek() {
            Some(Token {
                tok: Tok::LParen, ..
            }) => self.i += 1,
            _ => return Err(self.expected("'(' to start the list")),
        }
        let mut values = vec![self.value()?];
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Comma) => {
                    self.i += 1;
                    values.push(self.value()?);
                }
                Some(Tok::RParen) => {
                    self.i += 1;
                    return Ok(values);
                }
                _ => return Err(self.expected("',' or ')' in the list")),
            }
        }
    }

    fn value(&mut self) -> Result<Literal, FilterError> {
        let (tok, pos) = match self.peek() {
            Some(t) => (t.tok.clone(), t.pos),
            None => return Err(self.expected("a value")),
        };
        let literal = match tok {
            Tok::Str(s) => Literal::Str(s),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => {
                return Err(FilterError::new(
                    pos,
                    "null is not a value; use 'is null' or 'is not null'",
                ));
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(w, true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(w, false),
            Tok::Word(w) if KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                return Err(self.expected("a value"));
            }
            Tok::Word(w) => match number(&w) {
                Some(n) => Literal::Num(w, n),
                None => Literal::Str(w),
            },
            _ => return Err(self.expected("a value")),
        };
        self.i += 1;
        Ok(literal)
    }
}

/// A word as a number, when it is written as one (`12`, `-3.5`, `1e3`; not `inf` or `NaN`).
fn number(word: &str) -> Option<f64> {
    let digits = word.strip_prefix(['-', '+']).unwrap_or(word);
    let starts_numeric = digits
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    let numeric_chars = digits
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    if !starts_numeric || !numeric_chars {
        return None;
    }
    word.parse::<f64>().ok().filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    const FIELDS: &[&str] = &["id", "name", "status", "size_on_disk", "is_valid", "host"];

    fn p(text: &str) -> Result<Expr, FilterError> {
        let tokens = tokenize(text)?;
        parse(&tokens, FIELDS, text.chars().count())
    }

    fn ok(text: &str) -> Expr {
        p(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    fn num(n: i64) -> Literal {
        Literal::Num(n.to_string(), n as f64)
    }

    fn s(v: &str) -> Literal {
        Literal::Str(v.into())
    }

    fn cmp(field: &str, op: CmpOp, value: Literal) -> Expr {
        Expr::Cmp(field.into(), op, value)
    }

    #[test]
    fn comparisons() {
        assert_eq!(ok("id = 3"), cmp("id", CmpOp::Eq, num(3)));
        assert_eq!(ok("status=SUCCESS"), cmp("status", CmpOp::Eq, s("SUCCESS")));
        assert_eq!(ok("name = \"a b\""), cmp("name", CmpOp::Eq, s("a b")));
        assert_eq!(ok("name = '42'"), cmp("name", CmpOp::Eq, s("42")));
        assert_eq!(ok("id <> -2"), cmp("id", CmpOp::Ne, num(-2)));
        assert_eq!(
            ok("size_on_disk >= 1.5e3"),
            cmp(
                "size_on_disk",
                CmpOp::Ge,
                Literal::Num("1.5e3".into(), 1500.0)
            )
        );
        assert_eq!(
            ok("is_valid = TRUE"),
            cmp("is_valid", CmpOp::Eq, Literal::Bool("TRUE".into(), true))
        );
        assert_eq!(
            ok("is_valid != false"),
            cmp("is_valid", CmpOp::Ne, Literal::Bool("false".into(), false))
        );
        assert_eq!(ok("host.name = x"), cmp("host.name", CmpOp::Eq, s("x")));
        // Not numbers: kept as strings.
        assert_eq!(ok("name = inf"), cmp("name", CmpOp::Eq, s("inf")));
        assert_eq!(ok("name = 1-2"), cmp("name", CmpOp::Eq, s("1-2")));
        assert_eq!(ok("name = 7.5.0"), cmp("name", CmpOp::Eq, s("7.5.0")));
    }

    #[test]
    fn lists_ranges_and_nulls() {
        assert_eq!(
            ok("id in (1, 2,3)"),
            Expr::In("id".into(), vec![num(1), num(2), num(3)], false)
        );
        assert_eq!(
            ok("status NOT IN (FAILED, 'MISSING')"),
            Expr::In("status".into(), vec![s("FAILED"), s("MISSING")], true)
        );
        assert_eq!(
            ok("id between 0 and 3"),
            Expr::Between("id".into(), num(0), num(3), false)
        );
        assert_eq!(
            ok("id not between 30 and 31"),
            Expr::Between("id".into(), num(30), num(31), true)
        );
        assert_eq!(ok("name is null"), Expr::IsNull("name".into(), false));
        assert_eq!(ok("name IS NOT NULL"), Expr::IsNull("name".into(), true));
    }

    #[test]
    fn precedence_and_grouping() {
        let a = || cmp("id", CmpOp::Eq, num(1));
        let b = || cmp("id", CmpOp::Eq, num(2));
        let c = || cmp("id", CmpOp::Eq, num(3));
        // and binds tighter than or
        assert_eq!(
            ok("id=1 or id=2 and id=3"),
            Expr::Or(vec![a(), Expr::And(vec![b(), c()])])
        );
        assert_eq!(
            ok("(id=1 or id=2) and id=3"),
            Expr::And(vec![Expr::Or(vec![a(), b()]), c()])
        );
        // chains are flat
        assert_eq!(ok("id=1 or id=2 or id=3"), Expr::Or(vec![a(), b(), c()]));
        assert_eq!(ok("id=1 AnD id=2 and id=3"), Expr::And(vec![a(), b(), c()]));
        assert_eq!(ok("not id=1"), Expr::Not(Box::new(a())));
        assert_eq!(
            ok("NOT (id=1 AND id=2)"),
            Expr::Not(Box::new(Expr::And(vec![a(), b()])))
        );
        assert_eq!(
            ok("not not id=1"),
            Expr::Not(Box::new(Expr::Not(Box::new(a()))))
        );
        // between's and is not a conjunction
        assert_eq!(
            ok("id between 1 and 2 and id = 3"),
            Expr::And(vec![Expr::Between("id".into(), num(1), num(2), false), c()])
        );
        assert_eq!(ok("((id=1))"), a());
    }

    #[test]
    fn malformed_filters_say_where() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty"),
            ("   ", 0, "empty"),
            ("id", 2, "expected an operator but the filter ended"),
            ("id =", 4, "expected a value but the filter ended"),
            (
                "id = 1 and",
                10,
                "expected a field name but the filter ended",
            ),
            ("id = 1 id = 2", 7, "unexpected 'id'"),
            ("= 1", 0, "expected a field name"),
            ("foo = 1", 0, "unknown field 'foo'"),
            ("foo.bar = 1", 0, "unknown field 'foo'"),
            ("id. = 1", 0, "is not a field name"),
            ("1id = 1", 0, "is not a field name"),
            ("and = 1", 0, "expected a field name"),
            ("(id = 1", 7, "expected ')'"),
            ("id = 1)", 6, "unexpected ')'"),
            ("id in 1", 6, "expected '(' to start the list"),
            ("id in ()", 7, "expected a value"),
            ("id in (1 2)", 9, "expected ',' or ')'"),
            ("id in (1,", 9, "expected a value but the filter ended"),
            (
                "id in (1",
                8,
                "expected ',' or ')' in the list but the filter ended",
            ),
            ("id between 1", 12, "expected 'and'"),
            ("id between 1 or 2", 13, "expected 'and'"),
            ("id not = 1", 7, "expected 'in' or 'between' after 'not'"),
            ("id is 1", 6, "expected 'null'"),
            ("id is not", 9, "expected 'null'"),
            ("name = null", 7, "use 'is null'"),
            ("id = and", 5, "expected a value"),
            ("id = (1)", 5, "expected a value"),
            ("id like 'a%'", 3, "expected an operator"),
            ("id == 1", 4, "expected a value"),
        ];
        for (text, position, reason) in cases {
            let e = p(text).expect_err(text);
            assert_eq!(e.position, *position, "{text}: {e:?}");
            assert!(e.reason.contains(reason), "{text}: {e:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!(
            "{}id=1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(p(&deep).expect_err("too deep").reason.contains("nested"));
        let nots = format!("{}id=1", "not ".repeat(MAX_DEPTH + 5));
        assert!(p(&nots).is_err());
        let fine = format!(
            "{}id=1{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(p(&fine).is_ok());
        // Long flat chains are not nesting.
        let long = vec!["id=1"; 5000].join(" or ");
        assert!(p(&long).is_ok());
    }

    #[test]
    fn numbers() {
        assert_eq!(number("12"), Some(12.0));
        assert_eq!(number("-3.5"), Some(-3.5));
        assert_eq!(number("+4"), Some(4.0));
        assert_eq!(number(".5"), Some(0.5));
        assert_eq!(number("1e3"), Some(1000.0));
        for not in ["inf", "NaN", "-", "e3", "1x", "0x10", "1e999", "", "1.2.3"] {
            assert_eq!(number(not), None, "{not}");
        }
    }
}
