//! The body of `POST /api/v2/vps/{id}/backups`: optional, at most `{"note": "…"}`. Every
//! problem is collected (not just the first) as an `errors[]` entry with a JSON pointer.

use backup_gateway_sdk::Request;
use serde_json::Value;

use crate::problem::{
    ApiError, BODY_INVALID, INVALID_REQUEST, PointerError, UNSUPPORTED_FIELD, escape_pointer,
};

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 255;

/// A valid create request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateBackup {
    /// The note to keep with the backup.
    pub note: Option<String>,
}

/// Validate the body: empty, `{}` or `{"note": "<at most 255 characters>"}`. Anything else
/// (suspend/stop `mode`s included) is refused field by field.
pub fn create_backup(req: &Request) -> Result<CreateBackup, ApiError> {
    let body = match req.json_body() {
        Ok(None) => return Ok(CreateBackup::default()),
        Ok(Some(Value::Object(map))) => map,
        Ok(Some(_)) => return Err(whole_body("The request body must be a JSON object.")),
        Err(_) => return Err(whole_body("The request body must be valid JSON.")),
    };
    let mut errors = Vec::new();
    let mut note = None;
    for (field, value) in &body {
        if field != "note" {
            errors.push(PointerError::new(
                format!("/{}", escape_pointer(field)),
                format!("`{field}` is not supported."),
                UNSUPPORTED_FIELD,
            ));
            continue;
        }
        match value.as_str() {
            Some(text) if text.chars().count() <= MAX_NOTE_CHARS => note = Some(text.to_string()),
            Some(_) => errors.push(PointerError::new(
                "/note",
                format!("`note` must be at most {MAX_NOTE_CHARS} characters."),
                INVALID_REQUEST,
            )),
            None => errors.push(PointerError::new(
                "/note",
                "`note` must be a string.",
                INVALID_REQUEST,
            )),
        }
    }
    if errors.is_empty() {
        Ok(CreateBackup { note })
    } else {
        Err(ApiError::invalid_request(BODY_INVALID, errors))
    }
}

/// 400 for a body that is not a JSON object at all (pointer `""`: the whole document).
fn whole_body(detail: &str) -> ApiError {
    ApiError::invalid_request(
        BODY_INVALID,
        vec![PointerError::new("", detail, INVALID_REQUEST)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::request;

    fn with_body(body: &str) -> Request {
        let mut r = request("createVpsBackup", &[], "/api/v2/vps/vps_1/backups");
        r.body = body.as_bytes().to_vec();
        r
    }

    /// The (pointer, code) pairs of a refusal.
    fn pointers(body: &str) -> Vec<(String, String)> {
        let error = create_backup(&with_body(body)).expect_err(body);
        assert_eq!(error.status, 400, "{body}");
        assert_eq!(error.code, "invalid_request");
        assert_eq!(error.detail, "The request body failed validation.");
        error
            .errors
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.pointer, e.code))
            .collect()
    }

    fn pair(pointer: &str, code: &str) -> (String, String) {
        (pointer.to_string(), code.to_string())
    }

    #[test]
    fn accepts_no_body_an_empty_object_or_a_note() {
        for body in ["", "  \n", "{}"] {
            assert_eq!(
                create_backup(&with_body(body)).expect(body),
                CreateBackup::default()
            );
        }
        assert_eq!(
            create_backup(&with_body(r#"{"note":"Before upgrade"}"#)).expect("note"),
            CreateBackup {
                note: Some("Before upgrade".into())
            }
        );
        let longest = format!(r#"{{"note":"{}"}}"#, "é".repeat(255));
        assert!(create_backup(&with_body(&longest)).is_ok());
    }

    #[test]
    fn whole_body_problems_point_at_the_root() {
        for body in ["not json", "{", "[]", "\"note\"", "42", "null"] {
            assert_eq!(pointers(body), [pair("", "invalid_request")], "{body}");
        }
    }

    #[test]
    fn bad_notes_point_at_note() {
        let long = format!(r#"{{"note":"{}"}}"#, "a".repeat(256));
        for body in [
            long.as_str(),
            r#"{"note":null}"#,
            r#"{"note":5}"#,
            r#"{"note":["a"]}"#,
        ] {
            assert_eq!(pointers(body), [pair("/note", "invalid_request")], "{body}");
        }
    }

    #[test]
    fn other_fields_are_unsupported_each_with_its_pointer() {
        assert_eq!(
            pointers(r#"{"mode":"suspend","note":7,"a/b":1,"stop~":true}"#),
            [
                pair("/mode", "unsupported_field"),
                pair("/note", "invalid_request"),
                pair("/a~1b", "unsupported_field"),
                pair("/stop~0", "unsupported_field"),
            ]
        );
        let error = create_backup(&with_body(r#"{"mode":"stop"}"#)).expect_err("mode");
        assert_eq!(
            error.errors.unwrap_or_default()[0].detail,
            "`mode` is not supported."
        );
    }
}
