//! HostUp's error format: RFC 7807 `application/problem+json` with `code`, `instance`,
//! `requestId` and `timestamp`, plus `errors[]` (JSON pointers) on `invalid_request`. Every
//! refusal the plugin makes is an [`ApiError`]; [`render_problem`] words every host-raised
//! problem in the same format.

use backup_gateway_sdk::{
    AuthFailure, FieldError, HostError, Problem, RateLimitState, Request, Response, rfc3339,
};
use serde_json::{Value, json};

use crate::ids;

/// Media type of every error.
pub const PROBLEM_JSON: &str = "application/problem+json";
/// Base of the `type` URI; the code is appended.
const TYPE_BASE: &str = "https://developer.hostup.se/errors/";

/// `code` of a validation failure.
pub const INVALID_REQUEST: &str = "invalid_request";
/// `code` of a field HostUp does not accept.
pub const UNSUPPORTED_FIELD: &str = "unsupported_field";
/// `code` when a capture of the VPS is queued or running.
pub const BACKUP_IN_PROGRESS: &str = "backup_in_progress";
/// `code` when the VPS's backup quota is used up.
pub const BACKUP_QUOTA_EXCEEDED: &str = "backup_quota_exceeded";
/// `code` when the VPS cannot be backed up at all (no capture source).
pub const BACKUP_NOT_AVAILABLE: &str = "backup_not_available";

/// `detail` of a body that failed validation (the seed's wording).
pub const BODY_INVALID: &str = "The request body failed validation.";
/// `detail` of query or path parameters that failed validation.
pub const PARAMS_INVALID: &str = "The request parameters failed validation.";

/// One entry of `errors[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointerError {
    /// JSON pointer to the offending member (`""` for the whole body).
    pub pointer: String,
    /// Human-readable reason.
    pub detail: String,
    /// Machine-readable reason.
    pub code: String,
}

impl PointerError {
    /// An entry with the given pointer, detail and code.
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>, code: &str) -> Self {
        PointerError {
            pointer: pointer.into(),
            detail: detail.into(),
            code: code.into(),
        }
    }
}

/// A refusal in HostUp's words, rendered against the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Machine-readable code (also the last segment of `type`).
    pub code: &'static str,
    /// Short summary of the status.
    pub title: &'static str,
    /// Human-readable explanation.
    pub detail: String,
    /// Field errors; only `invalid_request` carries them.
    pub errors: Option<Vec<PointerError>>,
    /// Extra response headers (the 429 rate-limit headers).
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    /// A problem with no field errors and no extra headers.
    pub fn new(
        status: u16,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            errors: None,
            headers: Vec::new(),
        }
    }

    /// 400 `invalid_request` with its field errors.
    pub fn invalid_request(detail: &str, errors: Vec<PointerError>) -> Self {
        ApiError {
            errors: Some(errors),
            ..Self::new(400, INVALID_REQUEST, "Invalid request", detail)
        }
    }

    /// 400 for one bad query parameter (named by a pointer such as `/limit`).
    pub fn invalid_param(pointer: &str, detail: &str) -> Self {
        Self::invalid_request(
            PARAMS_INVALID,
            vec![PointerError::new(pointer, detail, INVALID_REQUEST)],
        )
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "unauthorized",
            "Unauthorized",
            "Authentication is required.",
        )
    }

    /// 403; names the missing scope when there is one.
    pub fn forbidden(scope: &str) -> Self {
        let detail = if scope.is_empty() {
            "The caller lacks a required scope or does not own the resource.".to_string()
        } else {
            format!("The caller lacks the required scope `{scope}`.")
        };
        Self::new(403, "forbidden", "Forbidden", detail)
    }

    /// 404: a VPS, backup, job or route the caller does not have.
    pub fn not_found() -> Self {
        Self::new(
            404,
            "not_found",
            "Not found",
            "The requested resource could not be found.",
        )
    }

    /// 409 with one of the backup gate codes or `conflict`.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(409, code, "Conflict", detail)
    }

    /// 503: a backing service is unavailable.
    pub fn unavailable() -> Self {
        Self::new(
            503,
            "service_unavailable",
            "Service unavailable",
            "The service is temporarily unavailable. Retry later.",
        )
    }

    /// 500.
    pub fn internal() -> Self {
        Self::new(
            500,
            "internal_error",
            "Internal server error",
            "An unexpected error occurred. Retry later or contact support if the issue persists.",
        )
    }

    /// 429 with `Retry-After` and the `X-RateLimit-*` headers (reset as an ISO timestamp).
    pub fn rate_limited(state: &RateLimitState) -> Self {
        let mut error = Self::new(
            429,
            "rate_limit_exceeded",
            "Too many requests",
            "Too many requests. Retry after the limit resets.",
        );
        error.headers = vec![
            ("retry-after".into(), state.retry_after_seconds.to_string()),
            ("x-ratelimit-limit".into(), state.limit.to_string()),
            ("x-ratelimit-remaining".into(), state.remaining.to_string()),
            ("x-ratelimit-reset".into(), rfc3339(state.reset_at, 3)),
        ];
        error
    }

    /// A failed host call, for calls where `NotFound` means the thing named is gone:
    /// 404, 409 `conflict`, 503 when a backing service is down, else 500.
    pub fn from_host(error: &HostError) -> Self {
        match error {
            HostError::NotFound => Self::not_found(),
            HostError::Conflict(_) => Self::conflict(
                "conflict",
                "The request conflicts with the current state of the resource.",
            ),
            HostError::Unavailable => Self::unavailable(),
            HostError::QuotaExceeded | HostError::Invalid(_) => Self::internal(),
        }
    }

    /// The problem document for `req`: `instance` is the request path, `requestId` the
    /// public request id, `timestamp` when the request was received.
    pub fn to_json(&self, req: &Request) -> Value {
        let mut doc = json!({
            "type": format!("{TYPE_BASE}{}", self.code),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "instance": req.path,
            "requestId": ids::request_id(&req.request_id),
            "timestamp": rfc3339(req.received_at, 3),
        });
        if let Some(errors) = &self.errors {
            doc["errors"] = errors
                .iter()
                .map(|e| json!({ "pointer": e.pointer, "detail": e.detail, "code": e.code }))
                .collect();
        }
        doc
    }

    /// The response for `req`.
    pub fn render(&self, req: &Request) -> Response {
        let mut resp = Response::json_as(self.status, PROBLEM_JSON, &self.to_json(req));
        for (name, value) in &self.headers {
            resp = resp.with_header(name, value.clone());
        }
        resp
    }
}

/// Word a host-raised problem in HostUp's format.
pub fn render_problem(problem: &Problem, req: &Request) -> Response {
    problem_error(problem).render(req)
}

/// The [`ApiError`] for a host-raised problem.
pub fn problem_error(problem: &Problem) -> ApiError {
    match problem {
        // HostUp documents one wording for every 401.
        Problem::Unauthenticated(
            AuthFailure::Missing
            | AuthFailure::UnsupportedScheme
            | AuthFailure::MalformedEncoding
            | AuthFailure::MalformedCredentials
            | AuthFailure::InvalidCredentials
            | AuthFailure::ExpiredCredentials,
        ) => ApiError::unauthorized(),
        Problem::Forbidden(scope) => ApiError::forbidden(scope),
        Problem::NotFound => ApiError::not_found(),
        Problem::MethodNotAllowed => ApiError::new(
            405,
            "method_not_allowed",
            "Method not allowed",
            "The method is not allowed for the requested resource.",
        ),
        Problem::Validation(errors) => ApiError::invalid_request(
            "The request failed validation.",
            errors.iter().map(field_error).collect(),
        ),
        Problem::LengthRequired => ApiError::new(
            411,
            "length_required",
            "Length required",
            "A Content-Length header is required.",
        ),
        Problem::PayloadTooLarge(limit) => ApiError::new(
            413,
            "payload_too_large",
            "Payload too large",
            format!("The request body exceeds the limit of {limit} bytes."),
        ),
        Problem::QuotaExceeded => ApiError::new(
            413,
            "payload_too_large",
            "Payload too large",
            "The organization's backup storage quota would be exceeded.",
        ),
        Problem::LengthMismatch((expected, received)) => ApiError::invalid_request(
            BODY_INVALID,
            vec![PointerError::new(
                "",
                format!(
                    "The request body has {received} bytes but Content-Length announced {expected}."
                ),
                INVALID_REQUEST,
            )],
        ),
        Problem::RateLimited(state) => ApiError::rate_limited(state),
        Problem::Conflict(reason) => ApiError::conflict(
            "conflict",
            if reason.is_empty() {
                "The request conflicts with the current state of the resource."
            } else {
                reason.as_str()
            },
        ),
        Problem::StorageUnavailable | Problem::QuotaUnavailable => ApiError::unavailable(),
        // HostUp documents no 502; a failed storage write or read is an internal error to
        // the client.
        Problem::StorageFailed | Problem::Internal => ApiError::internal(),
    }
}

/// A host field error as an `errors[]` entry: `path:x` and `query:x` become the pointer
/// `/x` (HostUp names parameters with JSON pointers too); pointers and `header:` locations
/// are kept as they are.
fn field_error(error: &FieldError) -> PointerError {
    let pointer = match error
        .location
        .strip_prefix("path:")
        .or_else(|| error.location.strip_prefix("query:"))
    {
        Some(name) => format!("/{}", escape_pointer(name)),
        None => error.location.clone(),
    };
    let code = if error.code.is_empty() {
        INVALID_REQUEST
    } else {
        error.code.as_str()
    };
    PointerError::new(pointer, error.message.clone(), code)
}

/// One JSON pointer reference token (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::request;

    /// Received 2026-04-27T12:34:56.000Z.
    const RECEIVED: u64 = 1_777_293_296_000_000;

    fn req() -> Request {
        let mut r = request("listVps", &[], "/api/v2/vps/vps_1/backups");
        r.request_id = "01563e3a-b5d3-d676-4c61-efb99302bd5b".into();
        r.received_at = RECEIVED;
        r
    }

    fn problem_doc(status: u16, code: &str, title: &str, detail: &str) -> Value {
        json!({
            "type": format!("https://developer.hostup.se/errors/{code}"),
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
            "instance": "/api/v2/vps/vps_1/backups",
            "requestId": "req_01arz3ndektsv4rrffq69g5fav",
            "timestamp": "2026-04-27T12:34:56.000Z",
        })
    }

    fn assert_problem(resp: &Response, status: u16, code: &str, title: &str, detail: &str) {
        assert_eq!(resp.status, status);
        assert_eq!(resp.header("content-type"), Some(PROBLEM_JSON));
        assert_eq!(
            resp.body_json(),
            Some(problem_doc(status, code, title, detail))
        );
    }

    #[test]
    fn every_auth_failure_is_the_documented_401() {
        for failure in [
            AuthFailure::Missing,
            AuthFailure::UnsupportedScheme,
            AuthFailure::MalformedEncoding,
            AuthFailure::MalformedCredentials,
            AuthFailure::InvalidCredentials,
            AuthFailure::ExpiredCredentials,
        ] {
            let resp = render_problem(&Problem::Unauthenticated(failure), &req());
            assert_problem(
                &resp,
                401,
                "unauthorized",
                "Unauthorized",
                "Authentication is required.",
            );
        }
    }

    #[test]
    fn simple_problems() {
        let internal =
            "An unexpected error occurred. Retry later or contact support if the issue persists.";
        let unavailable = "The service is temporarily unavailable. Retry later.";
        let cases: Vec<(Problem, u16, &str, &str, String)> = vec![
            (
                Problem::Forbidden("backup:vm".into()),
                403,
                "forbidden",
                "Forbidden",
                "The caller lacks the required scope `backup:vm`.".into(),
            ),
            (
                Problem::Forbidden(String::new()),
                403,
                "forbidden",
                "Forbidden",
                "The caller lacks a required scope or does not own the resource.".into(),
            ),
            (
                Problem::NotFound,
                404,
                "not_found",
                "Not found",
                "The requested resource could not be found.".into(),
            ),
            (
                Problem::MethodNotAllowed,
                405,
                "method_not_allowed",
                "Method not allowed",
                "The method is not allowed for the requested resource.".into(),
            ),
            (
                Problem::LengthRequired,
                411,
                "length_required",
                "Length required",
                "A Content-Length header is required.".into(),
            ),
            (
                Problem::PayloadTooLarge(1_048_576),
                413,
                "payload_too_large",
                "Payload too large",
                "The request body exceeds the limit of 1048576 bytes.".into(),
            ),
            (
                Problem::QuotaExceeded,
                413,
                "payload_too_large",
                "Payload too large",
                "The organization's backup storage quota would be exceeded.".into(),
            ),
            (
                Problem::Conflict("backup is being restored".into()),
                409,
                "conflict",
                "Conflict",
                "backup is being restored".into(),
            ),
            (
                Problem::Conflict(String::new()),
                409,
                "conflict",
                "Conflict",
                "The request conflicts with the current state of the resource.".into(),
            ),
            (
                Problem::StorageUnavailable,
                503,
                "service_unavailable",
                "Service unavailable",
                unavailable.into(),
            ),
            (
                Problem::QuotaUnavailable,
                503,
                "service_unavailable",
                "Service unavailable",
                unavailable.into(),
            ),
            (
                Problem::StorageFailed,
                500,
                "internal_error",
                "Internal server error",
                internal.into(),
            ),
            (
                Problem::Internal,
                500,
                "internal_error",
                "Internal server error",
                internal.into(),
            ),
        ];
        for (problem, status, code, title, detail) in cases {
            let resp = render_problem(&problem, &req());
            assert_problem(&resp, status, code, title, &detail);
            assert_eq!(resp.headers.len(), 1, "{problem:?}: only content-type");
        }
    }

    #[test]
    fn rate_limited_carries_the_documented_headers() {
        let state = RateLimitState {
            class: "api".into(),
            retry_after_seconds: 17,
            limit: 120,
            remaining: 0,
            reset_at: RECEIVED + 17_000_000,
        };
        let resp = render_problem(&Problem::RateLimited(state), &req());
        assert_problem(
            &resp,
            429,
            "rate_limit_exceeded",
            "Too many requests",
            "Too many requests. Retry after the limit resets.",
        );
        assert_eq!(resp.header("retry-after"), Some("17"));
        assert_eq!(resp.header("x-ratelimit-limit"), Some("120"));
        assert_eq!(resp.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(
            resp.header("x-ratelimit-reset"),
            Some("2026-04-27T12:35:13.000Z")
        );
    }

    #[test]
    fn validation_maps_locations_to_pointers() {
        let errors = vec![
            FieldError {
                location: "path:id".into(),
                code: "invalid_encoding".into(),
                message: "not valid UTF-8".into(),
                value: None,
            },
            FieldError {
                location: "query:a/b~c".into(),
                code: String::new(),
                message: "bad".into(),
                value: Some("x".into()),
            },
            FieldError {
                location: "/note".into(),
                code: "too_long".into(),
                message: "too long".into(),
                value: None,
            },
            FieldError {
                location: "header:content-type".into(),
                code: "unsupported".into(),
                message: "not JSON".into(),
                value: None,
            },
        ];
        let resp = render_problem(&Problem::Validation(errors), &req());
        let mut expected = problem_doc(
            400,
            "invalid_request",
            "Invalid request",
            "The request failed validation.",
        );
        expected["errors"] = json!([
            { "pointer": "/id", "detail": "not valid UTF-8", "code": "invalid_encoding" },
            { "pointer": "/a~1b~0c", "detail": "bad", "code": "invalid_request" },
            { "pointer": "/note", "detail": "too long", "code": "too_long" },
            { "pointer": "header:content-type", "detail": "not JSON", "code": "unsupported" },
        ]);
        assert_eq!(resp.status, 400);
        assert_eq!(resp.header("content-type"), Some(PROBLEM_JSON));
        assert_eq!(resp.body_json(), Some(expected));

        // No field errors still yields an (empty) errors array on invalid_request.
        let empty = render_problem(&Problem::Validation(Vec::new()), &req());
        assert_eq!(empty.body_json().expect("JSON")["errors"], json!([]));
    }

    #[test]
    fn length_mismatch_is_an_invalid_body() {
        let resp = render_problem(&Problem::LengthMismatch((100, 40)), &req());
        let body = resp.body_json().expect("JSON");
        assert_eq!(resp.status, 400);
        assert_eq!(body["code"], "invalid_request");
        assert_eq!(body["detail"], BODY_INVALID);
        assert_eq!(
            body["errors"],
            json!([{
                "pointer": "",
                "detail": "The request body has 40 bytes but Content-Length announced 100.",
                "code": "invalid_request",
            }])
        );
    }

    #[test]
    fn raw_request_ids_pass_through() {
        let mut r = req();
        r.request_id = "gw-42".into();
        let body = render_problem(&Problem::NotFound, &r)
            .body_json()
            .expect("JSON");
        assert_eq!(body["requestId"], "gw-42");
    }

    #[test]
    fn host_errors_map_to_problems() {
        let cases = [
            (HostError::NotFound, 404, "not_found"),
            (HostError::Conflict("x".into()), 409, "conflict"),
            (HostError::Unavailable, 503, "service_unavailable"),
            (HostError::QuotaExceeded, 500, "internal_error"),
            (HostError::Invalid("x".into()), 500, "internal_error"),
        ];
        for (error, status, code) in cases {
            let e = ApiError::from_host(&error);
            assert_eq!((e.status, e.code), (status, code), "{error:?}");
            assert!(e.errors.is_none());
        }
    }
}
