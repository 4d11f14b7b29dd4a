//! QRadar's `sort` query parameter: comma-separated fields, each prefixed `+` (ascending, the
//! default) or `-` (descending), e.g. `sort=-time_initiated,+name`. A field the endpoint
//! cannot sort by is a 422 with the endpoint's code 1018.
//!
//! The host decodes `+` in a query string as a space, so a leading space also means
//! ascending. Ordering: numbers numerically, strings by code point, `false < true`; nulls
//! sort after every value ascending and before every value descending (PostgreSQL's default).
//! Ties keep the default order (by id), the sort is stable.

use std::cmp::Ordering;

use serde_json::Value;

use crate::errors::{ApiError, INVALID_SORT};

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The field.
    pub field: String,
    /// Largest first.
    pub descending: bool,
}

/// Parse a `sort` value; blank means no sorting.
pub fn parse(text: &str, sortable: &[&str]) -> Result<Vec<SortKey>, ApiError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|item| {
            let item = item.trim();
            let (descending, field) = match item.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, item.strip_prefix('+').unwrap_or(item)),
            };
            let field = field.trim();
            if sortable.contains(&field) {
                Ok(SortKey {
                    field: field.to_string(),
                    descending,
                })
            } else {
                Err(invalid(item, sortable))
            }
        })
        .collect()
}

/// 422/1018 naming the field and the sortable ones.
fn invalid(item: &str, sortable: &[&str]) -> ApiError {
    ApiError::unprocessable(
        INVALID_SORT,
        format!(
            "The sort field is not valid. The fields that can be sorted by are: {}.",
            sortable.join(", ")
        ),
        format!("The field \"{item}\" cannot be used to sort."),
    )
}

/// Sort objects by the keys (stable).
pub fn sort(items: &mut [Value], keys: &[SortKey]) {
    if keys.is_empty() {
        return;
    }
    items.sort_by(|a, b| {
        for key in keys {
            let (x, y) = (&a[key.field.as_str()], &b[key.field.as_str()]);
            let ordering = match (x.is_null(), y.is_null()) {
                // Nulls are "largest": last ascending, first descending.
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare(x, y),
            };
            let ordering = if key.descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
}

/// The order of two non-null values (mixed types by type: booleans, numbers, strings, others).
fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Bool(_) => 0,
            Value::Number(_) => 1,
            Value::String(_) => 2,
            _ => 3,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => x
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&y.as_f64().unwrap_or(0.0)),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SORTABLE: &[&str] = &["id", "name", "size", "valid"];

    fn ids(items: &[Value]) -> Vec<u64> {
        items.iter().filter_map(|v| v["id"].as_u64()).collect()
    }

    fn items() -> Vec<Value> {
        vec![
            json!({"id": 1, "name": "b", "size": 10, "valid": true}),
            json!({"id": 2, "name": "a", "size": null, "valid": false}),
            json!({"id": 3, "name": "c", "size": 10, "valid": true}),
            json!({"id": 4, "name": "a", "size": 5, "valid": true}),
        ]
    }

    fn sorted(spec: &str) -> Vec<u64> {
        let keys = parse(spec, SORTABLE).unwrap_or_else(|e| panic!("{spec}: {e:?}"));
        let mut v = items();
        sort(&mut v, &keys);
        ids(&v)
    }

    #[test]
    fn parses_prefixes() {
        assert_eq!(
            parse("-name,+id, size", SORTABLE).expect("parses"),
            [
                SortKey {
                    field: "name".into(),
                    descending: true
                },
                SortKey {
                    field: "id".into(),
                    descending: false
                },
                SortKey {
                    field: "size".into(),
                    descending: false
                },
            ]
        );
        assert_eq!(parse("", SORTABLE).expect("blank"), []);
        assert_eq!(parse("  ", SORTABLE).expect("blank"), []);
    }

    #[test]
    fn sorts() {
        assert_eq!(sorted("id"), [1, 2, 3, 4]);
        assert_eq!(sorted("-id"), [4, 3, 2, 1]);
        // `+` decoded to a space by the host
        assert_eq!(sorted(" name"), [2, 4, 1, 3]);
        assert_eq!(sorted("+name,-id"), [4, 2, 1, 3]);
        // nulls last ascending, first descending; ties stay in id order
        assert_eq!(sorted("size"), [4, 1, 3, 2]);
        assert_eq!(sorted("-size"), [2, 1, 3, 4]);
        assert_eq!(sorted("-valid,id"), [1, 3, 4, 2]);
    }

    #[test]
    fn mixed_types_and_floats() {
        let mut v = vec![
            json!({"id": 1, "size": "x"}),
            json!({"id": 2, "size": 1.5}),
            json!({"id": 3, "size": true}),
            json!({"id": 4, "size": 1}),
        ];
        sort(&mut v, &parse("size", SORTABLE).expect("parses"));
        assert_eq!(ids(&v), [3, 4, 2, 1]);
    }

    #[test]
    fn unsortable_fields_are_1018() {
        for bad in [
            "nope",
            "id,nope",
            "--id",
            "-",
            "id,",
            "+-id",
            "configuration_id",
        ] {
            let e = parse(bad, SORTABLE).expect_err(bad);
            assert_eq!((e.status, e.code), (422, 1018), "{bad}");
            assert_eq!(
                e.description,
                "The sort field is not valid. The fields that can be sorted by are: id, name, size, valid."
            );
        }
        let e = parse("id,-nope", SORTABLE).expect_err("nope");
        assert_eq!(e.message, "The field \"-nope\" cannot be used to sort.");
    }
}
