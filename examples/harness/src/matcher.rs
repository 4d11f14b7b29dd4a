//! Matching an actual JSON value (a body, a header, a text) against a scenario's expectation,
//! with matchers for generated values, and collecting every mismatch with its path.
//!
//! An expectation is plain JSON (from TOML) where some strings and one-key objects are
//! matchers:
//!
//! | matcher | matches |
//! |---|---|
//! | `"$any"` | any value, but it must be present |
//! | `"$absent"` | the key (or header) must not be there |
//! | `"$null"` | `null` (TOML has no null) |
//! | `"$string"`, `"$number"`, `"$integer"`, `"$bool"`, `"$array"`, `"$object"` | any value of that JSON type |
//! | `"$uuid"` | a hyphenated UUID, any version, any case |
//! | `"$ulid"` | 26 Crockford base32 characters, any case |
//! | `"$sha256"` | 64 lower-case hex digits |
//! | `"$timestamp"` | an RFC 3339 date-time (`2026-04-12T02:15:00Z`, `…00.000+02:00`) |
//! | `{ "$oneOf" = [a, b] }` | any of the expectations (each may be a matcher) |
//! | `{ "$regex" = "^job_[0-9a-z]{26}$" }` | a string the pattern finds a match in (anchor it yourself) |
//! | `{ "$contains" = "text" }` | a string containing the text |
//! | `{ "$len" = 3 }` | an array (or string, in characters) of that length |
//!
//! A string starting with `$$` stands for the literal string with one `$` less. Objects match
//! exactly (no missing, no extra keys) unless they contain `"$partial" = true`, which allows
//! extra keys. Arrays match element by element and must have the same length. Numbers compare
//! by value (`5` equals `5.0`).

use std::sync::LazyLock;

use regex_automata::meta::Regex;
use serde_json::Value;

/// One difference between what a step expected and what it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where: `status`, `header x-foo`, `body/data/0/id`.
    pub at: String,
    /// What differs, with the expected and the actual value.
    pub message: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

static UUID: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .ok()
});
static ULID: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$").ok());
static SHA256: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[0-9a-f]{64}$").ok());
static TIMESTAMP: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$").ok()
});

/// Object keys that make a one-key object a matcher.
const OPERATORS: [&str; 4] = ["$oneOf", "$regex", "$contains", "$len"];

/// Match `actual` (`None`: absent) against `expected`, appending mismatches under `at`.
pub fn check(expected: &Value, actual: Option<&Value>, at: &str, out: &mut Vec<Mismatch>) {
    let push = |out: &mut Vec<Mismatch>, message: String| {
        out.push(Mismatch {
            at: at.to_string(),
            message,
        })
    };
    if let Value::String(s) = expected
        && let Some(name) = s.strip_prefix('$')
        && !name.starts_with('$')
    {
        match (name, actual) {
            ("absent", None) => {}
            ("absent", Some(a)) => push(out, format!("expected no value, got {}", show(a))),
            (_, None) => push(
                out,
                format!("expected {}, but it is missing", show(expected)),
            ),
            (_, Some(a)) => match named(name, a) {
                Ok(true) => {}
                Ok(false) => push(out, format!("expected {s}, got {}", show(a))),
                Err(e) => push(out, e),
            },
        }
        return;
    }
    let Some(actual) = actual else {
        push(
            out,
            format!("expected {}, but it is missing", show(expected)),
        );
        return;
    };
    match expected {
        Value::String(s) => {
            // `$$…` is the literal `$…`.
            let literal = s
                .strip_prefix('$')
                .filter(|r| r.starts_with('$'))
                .unwrap_or(s);
            if actual.as_str() != Some(literal) {
                push(
                    out,
                    format!("expected {}, got {}", show_str(literal), show(actual)),
                );
            }
        }
        Value::Number(n) => {
            let equal = match (n.as_f64(), actual.as_f64()) {
                (Some(e), Some(a)) => e == a,
                _ => false,
            };
            if !equal {
                push(out, format!("expected {n}, got {}", show(actual)));
            }
        }
        Value::Bool(_) | Value::Null => {
            if expected != actual {
                push(out, format!("expected {expected}, got {}", show(actual)));
            }
        }
        Value::Array(items) => match actual.as_array() {
            Some(got) if got.len() == items.len() => {
                for (i, (e, a)) in items.iter().zip(got).enumerate() {
                    check(e, Some(a), &format!("{at}/{i}"), out);
                }
            }
            Some(got) => push(
                out,
                format!(
                    "expected an array of {} items, got {} items: {}",
                    items.len(),
                    got.len(),
                    show(actual)
                ),
            ),
            None => push(out, format!("expected an array, got {}", show(actual))),
        },
        Value::Object(map) => {
            if map.len() == 1
                && let Some((op, arg)) = map.iter().next()
                && OPERATORS.contains(&op.as_str())
            {
                if let Err(message) = operator(op, arg, actual, at, out) {
                    push(out, message);
                }
                return;
            }
            let Some(got) = actual.as_object() else {
                push(out, format!("expected an object, got {}", show(actual)));
                return;
            };
            let partial = map.get("$partial") == Some(&Value::Bool(true));
            for (key, e) in map.iter().filter(|(k, _)| k.as_str() != "$partial") {
                check(e, got.get(key), &format!("{at}/{}", escape(key)), out);
            }
            if !partial {
                for (key, a) in got.iter().filter(|(k, _)| !map.contains_key(*k)) {
                    out.push(Mismatch {
                        at: format!("{at}/{}", escape(key)),
                        message: format!("unexpected key, value {}", show(a)),
                    });
                }
            }
        }
    }
}

/// A named string matcher (`$uuid`, …) against a present value.
fn named(name: &str, a: &Value) -> Result<bool, String> {
    let pattern = |re: &LazyLock<Option<Regex>>| {
        a.as_str()
            .is_some_and(|s| re.as_ref().is_some_and(|re| re.is_match(s)))
    };
    Ok(match name {
        "any" => true,
        "null" => a.is_null(),
        "string" => a.is_string(),
        "number" => a.is_number(),
        "integer" => a.is_i64() || a.is_u64(),
        "bool" => a.is_boolean(),
        "array" => a.is_array(),
        "object" => a.is_object(),
        "uuid" => pattern(&UUID),
        "ulid" => pattern(&ULID),
        "sha256" => pattern(&SHA256),
        "timestamp" => pattern(&TIMESTAMP),
        other => {
            return Err(format!(
                "unknown matcher \"${other}\" (write \"$${other}\" for the literal text)"
            ));
        }
    })
}

/// A one-key object matcher. `Err` for a malformed matcher.
fn operator(
    op: &str,
    arg: &Value,
    actual: &Value,
    at: &str,
    out: &mut Vec<Mismatch>,
) -> Result<(), String> {
    let fail = |out: &mut Vec<Mismatch>, message: String| {
        out.push(Mismatch {
            at: at.to_string(),
            message,
        })
    };
    match op {
        "$oneOf" => {
            let options = arg
                .as_array()
                .ok_or("\"$oneOf\" takes an array of expectations")?;
            let any = options.iter().any(|o| {
                let mut scratch = Vec::new();
                check(o, Some(actual), at, &mut scratch);
                scratch.is_empty()
            });
            if !any {
                fail(
                    out,
                    format!("expected one of {}, got {}", show(arg), show(actual)),
                );
            }
        }
        "$regex" => {
            let pattern = arg.as_str().ok_or("\"$regex\" takes a string")?;
            let re = Regex::new(pattern).map_err(|e| format!("bad \"$regex\" {pattern:?}: {e}"))?;
            if !actual.as_str().is_some_and(|s| re.is_match(s)) {
                fail(
                    out,
                    format!(
                        "expected a string matching /{pattern}/, got {}",
                        show(actual)
                    ),
                );
            }
        }
        "$contains" => {
            let needle = arg.as_str().ok_or("\"$contains\" takes a string")?;
            if !actual.as_str().is_some_and(|s| s.contains(needle)) {
                fail(
                    out,
                    format!(
                        "expected a string containing {}, got {}",
                        show_str(needle),
                        show(actual)
                    ),
                );
            }
        }
        "$len" => {
            let want = arg
                .as_u64()
                .ok_or("\"$len\" takes a non-negative integer")?;
            let got = match actual {
                Value::Array(a) => Some(a.len() as u64),
                Value::String(s) => Some(s.chars().count() as u64),
                _ => None,
            };
            if got != Some(want) {
                fail(out, format!("expected length {want}, got {}", show(actual)));
            }
        }
        _ => return Err(format!("unknown matcher {op:?}")),
    }
    Ok(())
}

/// One JSON pointer reference token.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A value for a message, cut to a readable length.
pub fn show(v: &Value) -> String {
    clip(&v.to_string(), 200)
}

fn show_str(s: &str) -> String {
    show(&Value::String(s.to_string()))
}

/// `text` cut to `max` characters, with an ellipsis and the full length when cut.
pub fn clip(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({count} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expected: Value, actual: Value) -> Vec<String> {
        let mut out = Vec::new();
        check(&expected, Some(&actual), "body", &mut out);
        out.into_iter().map(|m| m.to_string()).collect()
    }

    #[test]
    fn exact_values_and_paths() {
        assert!(run(json!({"a": [1, "x"]}), json!({"a": [1.0, "x"]})).is_empty());
        assert_eq!(
            run(
                json!({"a": [1, "x"], "b": true}),
                json!({"a": [1, "y"], "c": 1})
            ),
            [
                "body/a/1: expected \"x\", got \"y\"",
                "body/b: expected true, but it is missing",
                "body/c: unexpected key, value 1",
            ]
        );
        assert_eq!(
            run(json!([1]), json!([1, 2])),
            ["body: expected an array of 1 items, got 2 items: [1,2]"]
        );
        assert!(run(json!({"$partial": true, "a": 1}), json!({"a": 1, "b": 2})).is_empty());
    }

    #[test]
    fn named_matchers() {
        let ok = json!({
            "id": "$uuid", "u": "$ulid", "s": "$sha256", "t": "$timestamp", "n": "$null",
            "any": "$any", "gone": "$absent", "i": "$integer", "lit": "$$any",
        });
        let actual = json!({
            "id": "01934FAB-bc33-7890-a1b2-c3d4e5f6a7b8",
            "u": "01arz3ndektsv4rrffq69g5fav",
            "s": "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b",
            "t": "2026-04-27T11:00:00.000Z",
            "n": null, "any": [1], "i": 3, "lit": "$any",
        });
        assert!(run(ok.clone(), actual).is_empty());
        let bad = json!({
            "id": "nope", "u": "8zzzzzzzzzzzzzzzzzzzzzzzzz", "s": "ABC", "t": "yesterday",
            "n": 0, "gone": 1, "i": 1.5, "lit": "x",
        });
        assert_eq!(run(ok, bad).len(), 9);
        assert_eq!(
            run(json!("$uuuid"), json!("x")),
            ["body: unknown matcher \"$uuuid\" (write \"$$uuuid\" for the literal text)"]
        );
    }

    #[test]
    fn operators() {
        let e = json!({
            "a": {"$oneOf": ["queued", "$null"]},
            "b": {"$regex": "^job_[0-9a-z]{26}$"},
            "c": {"$contains": "<span"},
            "d": {"$len": 2},
        });
        let ok =
            json!({"a": null, "b": "job_01arz3ndektsv4rrffq69g5fav", "c": "x<span>", "d": [0, 0]});
        assert!(run(e.clone(), ok).is_empty());
        let bad = json!({"a": "done", "b": "job_X", "c": "", "d": "abc"});
        assert_eq!(run(e, bad).len(), 4);
        assert_eq!(
            run(json!({"$regex": "("}), json!("x")).len(),
            1,
            "a bad pattern is reported, not a panic"
        );
    }
}
