//! Reading request bodies and path ids the way QRadar's framework does: a body that is not a
//! JSON object, or a member of the wrong JSON type, "failed to transform" (422/11); a missing
//! body is a missing parameter (422/8). Long members accept JSON integers and digit strings
//! (as Jackson does); a negative or out-of-range integer is a well-typed id that cannot exist.

use backup_gateway_sdk::Request;
use serde_json::{Map, Value};

use crate::errors::ApiError;

/// The body as a JSON object; `param` is the body parameter's documented name.
pub fn body_object(req: &Request, param: &str) -> Result<Map<String, Value>, ApiError> {
    let untransformable = || ApiError::untransformable("body", param, "APPLICATION_JSON");
    match req.json_body() {
        Ok(Some(Value::Object(map))) => Ok(map),
        Ok(None) => Err(ApiError::missing_parameter(param, "the request body")),
        Ok(Some(_)) | Err(_) => Err(untransformable()),
    }
}

/// A Long member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Long {
    /// Absent, null or an empty string.
    Absent,
    /// A value.
    Value(u64),
    /// Well-typed but no id can have it (negative, too large).
    Impossible,
}

/// A Long member of `body` (`param` names the body in the error).
pub fn long(body: &Map<String, Value>, name: &str, param: &str) -> Result<Long, ApiError> {
    let untransformable = || ApiError::untransformable("body", param, "APPLICATION_JSON");
    match body.get(name) {
        None | Some(Value::Null) => Ok(Long::Absent),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(v), _) => Ok(Long::Value(v)),
            (None, Some(_)) => Ok(Long::Impossible),
            (None, None) => Err(untransformable()),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(Long::Absent);
            }
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(untransformable());
            }
            match s.parse::<u64>() {
                Ok(v) => Ok(Long::Value(v)),
                Err(_) => Ok(Long::Impossible),
            }
        }
        Some(_) => Err(untransformable()),
    }
}

/// A String member (`None` when absent or null).
pub fn string<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    param: &str,
) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ApiError::untransformable("body", param, "APPLICATION_JSON")),
    }
}

/// The numeric `{id}` path parameter (`None` when it is not a number).
pub fn path_id(req: &Request) -> Option<u64> {
    let raw = req.param("id")?;
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

/// The `{id}` path parameter as sent, for messages.
pub fn raw_id(req: &Request) -> String {
    req.param("id")
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::request;
    use serde_json::json;

    fn with_body(body: &str) -> Request {
        let mut req = request("createBackup");
        req.body = body.as_bytes().to_vec();
        req
    }

    #[test]
    fn bodies() {
        assert!(body_object(&with_body("{\"a\":1}"), "backup").is_ok());
        let e = body_object(&with_body(""), "backup").expect_err("missing");
        assert_eq!((e.status, e.code), (422, 8));
        assert_eq!(
            e.message,
            "Missing required parameter \"backup\" from the request body"
        );
        for bad in ["[1]", "not json", "\"x\"", "{"] {
            let e = body_object(&with_body(bad), "backup").expect_err(bad);
            assert_eq!((e.status, e.code), (422, 11), "{bad}");
            assert_eq!(
                e.message,
                "Failed to transform user body parameter \"backup\" with a content type of \"APPLICATION_JSON\""
            );
        }
    }

    #[test]
    fn longs() {
        let body = json!({
            "n": 5, "s": " 12 ", "neg": -1, "negs": "-3", "big": "99999999999999999999",
            "null": null, "empty": "", "float": 1.5, "word": "x", "bool": true, "minus": "-",
        });
        let map = body.as_object().expect("object");
        let l = |name: &str| long(map, name, "backup");
        assert_eq!(l("n"), Ok(Long::Value(5)));
        assert_eq!(l("s"), Ok(Long::Value(12)));
        assert_eq!(l("neg"), Ok(Long::Impossible));
        assert_eq!(l("negs"), Ok(Long::Impossible));
        assert_eq!(l("big"), Ok(Long::Impossible));
        assert_eq!(l("null"), Ok(Long::Absent));
        assert_eq!(l("absent"), Ok(Long::Absent));
        assert_eq!(l("empty"), Ok(Long::Absent));
        for bad in ["float", "word", "bool", "minus"] {
            assert_eq!(l(bad).expect_err(bad).code, 11, "{bad}");
        }
    }

    #[test]
    fn strings() {
        let body = json!({"a": "x", "n": null, "num": 3});
        let map = body.as_object().expect("object");
        assert_eq!(string(map, "a", "b"), Ok(Some("x")));
        assert_eq!(string(map, "n", "b"), Ok(None));
        assert_eq!(string(map, "missing", "b"), Ok(None));
        assert_eq!(string(map, "num", "b").expect_err("num").code, 11);
    }

    #[test]
    fn path_ids() {
        let mut req = request("getBackup");
        for (raw, id) in [
            ("7", Some(7)),
            ("007", Some(7)),
            ("", None),
            ("-1", None),
            ("x", None),
            ("1.0", None),
            ("99999999999999999999", None),
        ] {
            req.params = vec![("id".into(), raw.into())];
            assert_eq!(path_id(&req), id, "{raw}");
        }
        req.params = vec![("id".into(), "y".repeat(100))];
        assert_eq!(raw_id(&req).len(), 64);
    }
}
