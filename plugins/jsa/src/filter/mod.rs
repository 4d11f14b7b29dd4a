//! QRadar's `filter` query parameter: a [`lexer`], a recursive-descent [`parser`] and an
//! evaluator ([`eval`]) over the JSON objects an endpoint returns.
//!
//! Supported: `=`, `!=`/`<>`/`^=`, `<`, `>`, `<=`, `>=`, `in (…)`, `not in (…)`,
//! `between x and y`, `not between x and y`, `is null`, `is not null`, `and`, `or`, `not`,
//! parentheses, double- or single-quoted strings (backslash escapes), numbers, booleans and
//! bare words as string values. A malformed filter is a [`FilterError`] with the character
//! position and the reason, rendered as a 422.

pub mod eval;
pub mod lexer;
pub mod parser;

pub use parser::Expr;

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 0-based character index where the problem is.
    pub position: usize,
    /// What is wrong.
    pub reason: String,
}

impl FilterError {
    /// An error at `position`.
    pub fn new(position: usize, reason: impl Into<String>) -> Self {
        FilterError {
            position,
            reason: reason.into(),
        }
    }

    /// The client-facing message (positions counted from 1).
    pub fn message(&self) -> String {
        format!(
            "Invalid filter: {} (at character {})",
            self.reason,
            self.position + 1
        )
    }
}

/// Parse a filter over objects whose fields are `fields`.
pub fn parse(text: &str, fields: &[&str]) -> Result<Expr, FilterError> {
    let tokens = lexer::tokenize(text)?;
    parser::parse(&tokens, fields, text.chars().count())
}

/// Whether `object` matches the filter.
pub fn matches(expr: &Expr, object: &serde_json::Value) -> bool {
    eval::matches(expr, object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_count_from_one() {
        let e = parse("id = ", &["id"]).expect_err("no value");
        assert_eq!(
            e.message(),
            "Invalid filter: expected a value but the filter ended (at character 6)"
        );
        let e = parse("nope = 1", &["id"]).expect_err("unknown");
        assert_eq!(
            e.message(),
            "Invalid filter: unknown field 'nope'; the fields are: id (at character 1)"
        );
    }

    #[test]
    fn lexer_errors_surface_through_parse() {
        let e = parse("id = 'x", &["id"]).expect_err("unterminated");
        assert_eq!(e.position, 5);
    }
}
