//! Evaluating a parsed filter against one JSON object.
//!
//! - A missing field is null. Every comparison with null is false (also `!=`, `in`,
//!   `not in`, `between`, `not between`), as in SQL; only `is null` matches it. `not` is plain
//!   negation, so `not (x = 1)` matches a null `x`.
//! - Numbers compare numerically; a quoted literal that reads as a number compares numerically
//!   against a number field.
//! - Strings compare by code point (case-sensitive); a number or boolean literal compares by
//!   its text against a string field.
//! - Booleans compare with `true`/`false` (quoted or not); `false < true`.
//! - An array field matches when any element matches (`!=` and `not in`: when none equals).
//! - Values that cannot be compared (an object, a boolean against `5`) are unequal: `!=`
//!   matches, everything else does not.

use std::cmp::Ordering;

use serde_json::Value;

use super::lexer::CmpOp;
use super::parser::{Expr, Literal};

/// Whether `object` matches `expr`.
pub fn matches(expr: &Expr, object: &Value) -> bool {
    match expr {
        Expr::And(terms) => terms.iter().all(|t| matches(t, object)),
        Expr::Or(terms) => terms.iter().any(|t| matches(t, object)),
        Expr::Not(inner) => !matches(inner, object),
        Expr::Cmp(field, op, literal) => compare(lookup(object, field), *op, literal),
        Expr::In(field, values, negated) => {
            let value = lookup(object, field);
            if value.is_null() {
                return false;
            }
            let found = values.iter().any(|v| compare(value, CmpOp::Eq, v));
            found != *negated
        }
        Expr::Between(field, low, high, negated) => {
            let value = lookup(object, field);
            if value.is_null() {
                return false;
            }
            let inside = match value {
                Value::Array(items) => items.iter().any(|item| between(item, low, high)),
                other => between(other, low, high),
            };
            inside != *negated
        }
        Expr::IsNull(field, negated) => lookup(object, field).is_null() != *negated,
    }
}

/// `low <= value <= high`.
fn between(value: &Value, low: &Literal, high: &Literal) -> bool {
    compare(value, CmpOp::Ge, low) && compare(value, CmpOp::Le, high)
}

/// The value at a dotted path (null when any step is missing).
fn lookup<'a>(object: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .try_fold(object, |v, key| v.get(key))
        .unwrap_or(&Value::Null)
}

/// `value op literal`.
fn compare(value: &Value, op: CmpOp, literal: &Literal) -> bool {
    match value {
        Value::Null => false,
        Value::Array(items) => match op {
            CmpOp::Ne => !items.is_empty() && !items.iter().any(|i| compare(i, CmpOp::Eq, literal)),
            _ => items.iter().any(|i| compare(i, op, literal)),
        },
        other => match order(other, literal) {
            Some(ordering) => holds(op, ordering),
            None => op == CmpOp::Ne,
        },
    }
}

/// Whether an ordering satisfies the operator.
fn holds(op: CmpOp, ordering: Ordering) -> bool {
    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
    }
}

/// How a scalar value orders against a literal, when they can be compared.
fn order(value: &Value, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (Value::Number(n), Literal::Num(_, l)) => n.as_f64()?.partial_cmp(l),
        (Value::Number(n), Literal::Str(s)) => {
            let l: f64 = s.trim().parse().ok().filter(|l: &f64| l.is_finite())?;
            n.as_f64()?.partial_cmp(&l)
        }
        (Value::String(s), Literal::Str(l) | Literal::Num(l, _) | Literal::Bool(l, _)) => {
            Some(s.as_str().cmp(l.as_str()))
        }
        (Value::Bool(b), Literal::Bool(_, l)) => Some(b.cmp(l)),
        (Value::Bool(b), Literal::Str(s)) => {
            let l = match s.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            Some(b.cmp(&l))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use serde_json::json;

    const FIELDS: &[&str] = &[
        "id",
        "name",
        "status",
        "size",
        "valid",
        "description",
        "groups",
        "host",
        "ratio",
    ];

    fn object() -> Value {
        json!({
            "id": 7,
            "name": "nightly-1",
            "status": "SUCCESS",
            "size": 1500,
            "valid": true,
            "description": null,
            "groups": ["DOMAINS", "USERS_CONFIG"],
            "host": {"id": 53, "name": "console"},
            "ratio": 0.5,
        })
    }

    fn eval(filter: &str) -> bool {
        let expr = parse(filter, FIELDS).unwrap_or_else(|e| panic!("{filter}: {e:?}"));
        matches(&expr, &object())
    }

    #[test]
    fn numbers() {
        for (filter, expected) in [
            ("id = 7", true),
            ("id = 7.0", true),
            ("id != 7", false),
            ("id <> 8", true),
            ("id ^= 8", true),
            ("id < 8", true),
            ("id <= 7", true),
            ("id > 7", false),
            ("id >= 7", true),
            ("id > -1", true),
            ("id = '7'", true),
            ("id = \" 7 \"", true),
            ("id = 'seven'", false),
            ("id != 'seven'", true),
            ("id = true", false),
            ("ratio < 1", true),
            ("size between 1000 and 2000", true),
            ("size between 1500 and 1500", true),
            ("size between 1501 and 2000", false),
            ("size not between 1501 and 2000", true),
            ("size between 2000 and 1000", false),
            ("id in (1, 7, 9)", true),
            ("id in (1, 9)", false),
            ("id not in (1, 9)", true),
            ("id not in (7)", false),
            ("id in ('7')", true),
        ] {
            assert_eq!(eval(filter), expected, "{filter}");
        }
    }

    #[test]
    fn strings_and_booleans() {
        for (filter, expected) in [
            ("status = SUCCESS", true),
            ("status = success", false),
            ("status = \"SUCCESS\"", true),
            ("status != FAILED", true),
            ("name = nightly-1", true),
            ("name > nightly", true),
            ("name < o", true),
            ("name between a and z", true),
            ("status in (FAILED, SUCCESS)", true),
            ("status not in (FAILED, MISSING)", true),
            ("name = 7", false),
            ("valid = true", true),
            ("valid = TRUE", true),
            ("valid = 'true'", true),
            ("valid = \"False\"", false),
            ("valid != false", true),
            ("valid > false", true),
            ("valid = 1", false),
            ("valid != 1", true),
            ("valid = yes", false),
        ] {
            assert_eq!(eval(filter), expected, "{filter}");
        }
    }

    #[test]
    fn nulls_and_missing_fields() {
        for (filter, expected) in [
            ("description is null", true),
            ("description is not null", false),
            ("name is null", false),
            ("name is not null", true),
            ("description = x", false),
            ("description != x", false),
            ("description < x", false),
            ("description in (x)", false),
            ("description not in (x)", false),
            ("description between a and z", false),
            ("description not between a and z", false),
            ("not description = x", true),
            ("host.missing is null", true),
            ("id.deeper is null", true),
        ] {
            assert_eq!(eval(filter), expected, "{filter}");
        }
    }

    #[test]
    fn nested_objects_and_arrays() {
        for (filter, expected) in [
            ("host.id = 53", true),
            ("host.name = console", true),
            ("host = console", false),
            ("host != console", true),
            ("groups = DOMAINS", true),
            ("groups = ASSETS_DATA", false),
            ("groups != ASSETS_DATA", true),
            ("groups != DOMAINS", false),
            ("groups in (ASSETS_DATA, USERS_CONFIG)", true),
            ("groups not in (ASSETS_DATA)", true),
            ("groups not in (DOMAINS)", false),
            ("groups > E", true),
            ("groups between A and E", true),
        ] {
            assert_eq!(eval(filter), expected, "{filter}");
        }
    }

    #[test]
    fn logic() {
        for (filter, expected) in [
            ("id = 7 and status = SUCCESS", true),
            ("id = 7 and status = FAILED", false),
            ("id = 8 or status = SUCCESS", true),
            ("id = 8 or status = FAILED", false),
            ("not id = 8", true),
            ("not (id = 7 and valid = true)", false),
            ("id = 8 or id = 7 and valid = false", false),
            ("(id = 8 or id = 7) and valid = true", true),
            ("id = 8 or (id = 7 and valid = true)", true),
            ("not not id = 7", true),
            ("ID = 7 AND NOT STATUS = FAILED", false),
        ] {
            // Field names are case-sensitive; keywords are not.
            let parsed = parse(filter, FIELDS);
            if filter.starts_with("ID") {
                assert!(parsed.is_err());
                continue;
            }
            assert_eq!(eval(filter), expected, "{filter}");
        }
    }

    #[test]
    fn empty_arrays_match_nothing() {
        let expr = parse("groups != x", FIELDS).expect("parses");
        assert!(!matches(&expr, &json!({"groups": []})));
        let expr = parse("groups = x", FIELDS).expect("parses");
        assert!(!matches(&expr, &json!({"groups": []})));
    }
}
