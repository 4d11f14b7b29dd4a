//! The collect service's response envelope `{"code", "message", "data"}` and the rendering of
//! every host-raised problem in it, with the reference implementation's exact messages.

use backup_gateway_sdk::{AuthFailure, FieldError, HostError, Problem, Response};
use serde_json::{Value, json};

/// `WWW-Authenticate` value sent with every 401.
pub const BASIC_CHALLENGE: &str = r#"Basic realm="System Authentication""#;

/// 400 for a download or delete without an id.
pub const ID_REQUIRED: &str = "backup id required";
/// 400 for an id that is not `<uuidv7>[<extension>]`.
pub const INVALID_ID: &str = "invalid backup id";
/// 404 for an id the calling system does not have.
pub const BACKUP_NOT_FOUND: &str = "backup not found";
/// 503 when object storage cannot be reached.
pub const STORAGE_UNAVAILABLE: &str = "backup storage unavailable";
/// 502 when storage refused a delete.
pub const DELETE_FAILED: &str = "failed to delete backup";
/// 502 when storage failed while looking up or streaming a download.
pub const FETCH_FAILED: &str = "failed to fetch backup";
/// 502 when storage failed while listing.
pub const LIST_FAILED: &str = "failed to list backups";

/// A JSON response in the collect envelope.
pub fn envelope(status: u16, message: &str, data: Value) -> Response {
    Response::json(
        status,
        &json!({ "code": status, "message": message, "data": data }),
    )
}

/// An error response: the envelope with `data: null`.
pub fn error(status: u16, message: &str) -> Response {
    envelope(status, message, Value::Null)
}

/// A failed storage call: 503 when storage is unavailable, else 502 with `failed` (the
/// reference's wording for the operation it broke). Callers answer `HostError::NotFound`
/// themselves where it means a missing backup.
pub fn storage_failure(failure: &HostError, failed: &str) -> Response {
    match failure {
        HostError::Unavailable => error(503, STORAGE_UNAVAILABLE),
        _ => error(502, failed),
    }
}

/// A 401 with the collect wording for the failure and the Basic challenge.
pub fn unauthenticated(failure: AuthFailure) -> Response {
    let message = match failure {
        AuthFailure::Missing => "authentication required",
        AuthFailure::UnsupportedScheme => "invalid authentication format",
        AuthFailure::MalformedEncoding => "invalid authentication encoding",
        AuthFailure::MalformedCredentials => "invalid credentials format",
        AuthFailure::InvalidCredentials | AuthFailure::ExpiredCredentials => {
            "invalid system credentials"
        }
    };
    error(401, message).with_header("www-authenticate", BASIC_CHALLENGE)
}

/// Render a host-raised problem for a request routed to `operation` (empty when no route
/// matched).
pub fn render(problem: Problem, operation: &str) -> Response {
    match problem {
        Problem::Unauthenticated(failure) => unauthenticated(failure),
        Problem::Forbidden(_) => error(403, "forbidden"),
        Problem::NotFound if matches!(operation, "download" | "delete") => {
            error(404, BACKUP_NOT_FOUND)
        }
        Problem::NotFound => error(404, "not found"),
        Problem::MethodNotAllowed => error(405, "method not allowed"),
        Problem::Validation(errors) => validation_failed(&errors),
        Problem::LengthRequired => error(411, "Content-Length required"),
        Problem::PayloadTooLarge(max_bytes) => envelope(
            413,
            "backup exceeds max upload size",
            json!({ "max_bytes": max_bytes }),
        ),
        // Usage is deliberately not echoed, as in the reference.
        Problem::QuotaExceeded => error(413, "organization backup quota exceeded"),
        Problem::LengthMismatch(_) => error(400, "upload length mismatch"),
        Problem::RateLimited(state) => envelope(
            429,
            "upload rate limit exceeded",
            json!({ "retry_after_seconds": state.retry_after_seconds }),
        )
        .with_header("retry-after", state.retry_after_seconds.to_string()),
        Problem::Conflict(reason) if !reason.is_empty() => error(409, &reason),
        Problem::Conflict(_) => error(409, "conflict"),
        Problem::StorageUnavailable => error(503, STORAGE_UNAVAILABLE),
        Problem::QuotaUnavailable => error(503, "backup quota service unavailable, retry later"),
        // The reference words a storage failure after the operation it broke.
        Problem::StorageFailed => match operation {
            "download" => error(502, FETCH_FAILED),
            "delete" => error(502, DELETE_FAILED),
            _ => error(502, "backup upload failed"),
        },
        Problem::Internal => error(500, "internal server error"),
    }
}

/// 400 with the API's ErrorData: `{"type": "validation_error", "errors": [{key, message,
/// value}]}`. `message` carries the machine-readable code (as in the seed's `"required"`),
/// `value` the offending value or `""`; `errors` is omitted when empty, as the reference does.
fn validation_failed(errors: &[FieldError]) -> Response {
    let mut data = json!({ "type": "validation_error" });
    if !errors.is_empty() {
        let errors: Vec<Value> = errors
            .iter()
            .map(|e| {
                let message = if e.code.is_empty() {
                    &e.message
                } else {
                    &e.code
                };
                json!({
                    "key": e.location,
                    "message": message,
                    "value": e.value.as_deref().unwrap_or_default(),
                })
            })
            .collect();
        data["errors"] = Value::Array(errors);
    }
    envelope(400, "validation failed", data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_gateway_sdk::RateLimitState;

    fn assert_envelope(resp: &Response, status: u16, message: &str, data: Value) {
        assert_eq!(resp.status, status);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(
            resp.body_json(),
            Some(json!({ "code": status, "message": message, "data": data }))
        );
    }

    #[test]
    fn every_auth_failure_is_a_401_with_the_basic_challenge() {
        let cases = [
            (AuthFailure::Missing, "authentication required"),
            (
                AuthFailure::UnsupportedScheme,
                "invalid authentication format",
            ),
            (
                AuthFailure::MalformedEncoding,
                "invalid authentication encoding",
            ),
            (
                AuthFailure::MalformedCredentials,
                "invalid credentials format",
            ),
            (
                AuthFailure::InvalidCredentials,
                "invalid system credentials",
            ),
            (
                AuthFailure::ExpiredCredentials,
                "invalid system credentials",
            ),
        ];
        for (failure, message) in cases {
            let resp = render(Problem::Unauthenticated(failure), "upload");
            assert_envelope(&resp, 401, message, Value::Null);
            assert_eq!(
                resp.header("www-authenticate"),
                Some(r#"Basic realm="System Authentication""#)
            );
        }
    }

    #[test]
    fn simple_problems_use_the_reference_messages() {
        let cases = [
            (Problem::Forbidden("x".into()), 403, "forbidden"),
            (Problem::NotFound, 404, "not found"),
            (Problem::MethodNotAllowed, 405, "method not allowed"),
            (Problem::LengthRequired, 411, "Content-Length required"),
            (
                Problem::QuotaExceeded,
                413,
                "organization backup quota exceeded",
            ),
            (
                Problem::LengthMismatch((10, 4)),
                400,
                "upload length mismatch",
            ),
            (
                Problem::Conflict("already gone".into()),
                409,
                "already gone",
            ),
            (Problem::Conflict(String::new()), 409, "conflict"),
            (
                Problem::StorageUnavailable,
                503,
                "backup storage unavailable",
            ),
            (
                Problem::QuotaUnavailable,
                503,
                "backup quota service unavailable, retry later",
            ),
            (Problem::StorageFailed, 502, "backup upload failed"),
            (Problem::Internal, 500, "internal server error"),
        ];
        for (problem, status, message) in cases {
            let resp = render(problem, "upload");
            assert_envelope(&resp, status, message, Value::Null);
            assert_eq!(resp.header("www-authenticate"), None);
        }
    }

    #[test]
    fn not_found_speaks_of_backups_on_backup_routes() {
        for op in ["download", "delete"] {
            assert_envelope(
                &render(Problem::NotFound, op),
                404,
                "backup not found",
                Value::Null,
            );
        }
        assert_envelope(
            &render(Problem::NotFound, ""),
            404,
            "not found",
            Value::Null,
        );
        assert_envelope(
            &render(Problem::NotFound, "list"),
            404,
            "not found",
            Value::Null,
        );
    }

    #[test]
    fn storage_failures_name_the_operation() {
        let cases = [
            ("upload", "backup upload failed"),
            ("download", "failed to fetch backup"),
            ("delete", "failed to delete backup"),
        ];
        for (op, message) in cases {
            assert_envelope(
                &render(Problem::StorageFailed, op),
                502,
                message,
                Value::Null,
            );
        }
    }

    #[test]
    fn payload_too_large_echoes_the_limit() {
        let resp = render(Problem::PayloadTooLarge(2 * 1024 * 1024 * 1024), "upload");
        assert_envelope(
            &resp,
            413,
            "backup exceeds max upload size",
            json!({ "max_bytes": 2_147_483_648_u64 }),
        );
    }

    #[test]
    fn rate_limited_sets_retry_after() {
        let state = RateLimitState {
            class: "upload-minute".into(),
            retry_after_seconds: 42,
            limit: 6,
            remaining: 0,
            reset_at: 1_775_960_142_000_000,
        };
        let resp = render(Problem::RateLimited(state), "upload");
        assert_envelope(
            &resp,
            429,
            "upload rate limit exceeded",
            json!({ "retry_after_seconds": 42 }),
        );
        assert_eq!(resp.header("retry-after"), Some("42"));
    }

    #[test]
    fn validation_renders_error_data() {
        let errors = vec![
            FieldError {
                location: "path:id".into(),
                code: "invalid_encoding".into(),
                message: "not valid UTF-8".into(),
                value: None,
            },
            FieldError {
                location: "header:x-filename".into(),
                code: String::new(),
                message: "too long".into(),
                value: Some("abc".into()),
            },
        ];
        let resp = render(Problem::Validation(errors), "download");
        assert_envelope(
            &resp,
            400,
            "validation failed",
            json!({
                "type": "validation_error",
                "errors": [
                    { "key": "path:id", "message": "invalid_encoding", "value": "" },
                    { "key": "header:x-filename", "message": "too long", "value": "abc" },
                ],
            }),
        );
        let empty = render(Problem::Validation(Vec::new()), "list");
        assert_envelope(
            &empty,
            400,
            "validation failed",
            json!({ "type": "validation_error" }),
        );
    }
}
