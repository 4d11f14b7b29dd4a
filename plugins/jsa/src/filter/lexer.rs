//! The filter lexer: punctuation, comparison operators, quoted strings and words. A word is
//! any run of characters that are not whitespace, punctuation, operator characters or quotes;
//! the parser decides whether it is a field, a keyword, a number or a bare string value.

use super::FilterError;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`, `<>` or `^=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// How the operator is written (its canonical form).
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// A comparison operator.
    Op(CmpOp),
    /// A quoted string, unescaped.
    Str(String),
    /// A bare word: field, keyword, number or unquoted value.
    Word(String),
}

/// A token and where it starts (0-based character index).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Character index of its first character.
    pub pos: usize,
}

/// Characters that end a word.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '(' | ')' | ',' | '=' | '<' | '>' | '!' | '^' | '"' | '\''
        )
}

/// Split a filter into tokens.
pub fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i;
        let next = chars.get(i + 1).copied();
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '=' => (Tok::Op(CmpOp::Eq), 1),
            '<' => match next {
                Some('=') => (Tok::Op(CmpOp::Le), 2),
                Some('>') => (Tok::Op(CmpOp::Ne), 2),
                _ => (Tok::Op(CmpOp::Lt), 1),
            },
            '>' => match next {
                Some('=') => (Tok::Op(CmpOp::Ge), 2),
                _ => (Tok::Op(CmpOp::Gt), 1),
            },
            '!' | '^' => match next {
                Some('=') => (Tok::Op(CmpOp::Ne), 2),
                _ => {
                    return Err(FilterError::new(
                        pos,
                        format!("'{c}' must be followed by '='"),
                    ));
                }
            },
            '"' | '\'' => {
                let (value, len) = quoted(&chars, pos)?;
                (Tok::Str(value), len)
            }
            _ => {
                let len = chars[pos..]
                    .iter()
                    .take_while(|c| !is_delimiter(**c))
                    .count();
                (Tok::Word(chars[pos..pos + len].iter().collect()), len)
            }
        };
        tokens.push(Token { tok, pos });
        i += len;
    }
    Ok(tokens)
}

/// A string quoted with `chars[start]` (`"` or `'`), with `\` escaping the quote and itself.
/// Returns the unescaped value and the number of characters consumed.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let quote = chars[start];
    let mut value = String::new();
    let mut i = start + 1;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => match chars.get(i + 1) {
                Some(&escaped) => {
                    value.push(escaped);
                    i += 2;
                }
                None => break,
            },
            c if c == quote => return Ok((value, i + 1 - start)),
            c => {
                value.push(c);
                i += 1;
            }
        }
    }
    Err(FilterError::new(start, "unterminated quoted string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text)
            .expect("tokenizes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    fn word(s: &str) -> Tok {
        Tok::Word(s.into())
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("= != <> ^= < <= > >="),
            [
                Tok::Op(CmpOp::Eq),
                Tok::Op(CmpOp::Ne),
                Tok::Op(CmpOp::Ne),
                Tok::Op(CmpOp::Ne),
                Tok::Op(CmpOp::Lt),
                Tok::Op(CmpOp::Le),
                Tok::Op(CmpOp::Gt),
                Tok::Op(CmpOp::Ge),
            ]
        );
        assert_eq!(CmpOp::Ne.symbol(), "!=");
    }

    #[test]
    fn words_need_no_spaces_around_operators() {
        assert_eq!(
            toks("status=SUCCESS"),
            [word("status"), Tok::Op(CmpOp::Eq), word("SUCCESS")]
        );
        assert_eq!(toks("id>=-5"), [word("id"), Tok::Op(CmpOp::Ge), word("-5")]);
        assert_eq!(
            toks("id in (1,2)"),
            [
                word("id"),
                word("in"),
                Tok::LParen,
                word("1"),
                Tok::Comma,
                word("2"),
                Tok::RParen
            ]
        );
        assert_eq!(
            toks("name=nightly-1.bak"),
            [word("name"), Tok::Op(CmpOp::Eq), word("nightly-1.bak")]
        );
    }

    #[test]
    fn quoted_strings_unescape() {
        assert_eq!(
            toks(r#"name = "a \"b\" \\ c""#),
            [
                word("name"),
                Tok::Op(CmpOp::Eq),
                Tok::Str(r#"a "b" \ c"#.into())
            ]
        );
        assert_eq!(
            toks("'it''s'"),
            [Tok::Str("it".into()), Tok::Str("s".into())]
        );
        assert_eq!(toks(r#""x(y), z""#), [Tok::Str("x(y), z".into())]);
        assert_eq!(toks("\"\""), [Tok::Str(String::new())]);
        assert_eq!(toks("'ünï'"), [Tok::Str("ünï".into())]);
    }

    #[test]
    fn positions_are_character_indexes() {
        let t = tokenize("ä = 'b'  )").expect("tokenizes");
        let positions: Vec<usize> = t.iter().map(|t| t.pos).collect();
        assert_eq!(positions, [0, 2, 4, 9]);
    }

    #[test]
    fn errors() {
        let e = tokenize("name = \"open").expect_err("unterminated");
        assert_eq!(e.position, 7);
        assert!(e.reason.contains("unterminated"));
        assert!(tokenize("name = 'a\\").is_err());
        assert_eq!(tokenize("id ! 3").expect_err("bang").position, 3);
        assert!(tokenize("id ^ 3").is_err());
        assert!(tokenize("").expect("empty").is_empty());
    }
}
