//! ByCloud's error envelope `{"error": {code, message, details, request_id}}` (`code` is the
//! HTTP status as an integer): the error value handlers return ([`ApiError`]), the mapping of
//! failed host calls, and the rendering of every host-raised [`Problem`].

use backup_gateway_sdk::{AuthFailure, FieldError, HostError, Problem, Request, Response};
use serde_json::{Value, json};

/// `WWW-Authenticate` challenge sent with every 401 (RFC 6750).
const CHALLENGE: &str = "Bearer realm=\"bycloud\"";

/// One error answer: status, summary, details and extra headers (e.g. `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status, also sent as `error.code`.
    pub status: u16,
    /// Short summary (`error.message`).
    pub message: &'static str,
    /// What exactly is wrong (`error.details`).
    pub details: String,
    /// Headers to send with it.
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    /// An error with no extra headers.
    pub fn new(status: u16, message: &'static str, details: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message,
            details: details.into(),
            headers: Vec::new(),
        }
    }

    /// Add a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> ApiError {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// 400 "Invalid request parameters".
    pub fn bad_request(details: impl Into<String>) -> ApiError {
        Self::new(400, "Invalid request parameters", details)
    }

    /// 404 for a backup id the caller's org does not have.
    pub fn backup_not_found(id: &str) -> ApiError {
        Self::new(
            404,
            "Backup not found",
            format!("Backup {} could not be found.", shown(id)),
        )
    }

    /// 404 for a volume id the caller's org does not have.
    pub fn volume_not_found(id: &str) -> ApiError {
        Self::new(
            404,
            "Volume not found",
            format!("Volume {} could not be found.", shown(id)),
        )
    }

    /// 404 for a path nobody serves.
    pub fn not_found() -> ApiError {
        Self::new(
            404,
            "Resource not found",
            "The requested resource could not be found.",
        )
    }

    /// 409 with the reason.
    pub fn conflict(message: &'static str, details: impl Into<String>) -> ApiError {
        Self::new(409, message, details)
    }

    /// 413 for the org's backup storage quota.
    pub fn quota_exceeded() -> ApiError {
        Self::new(
            413,
            "Backup quota exceeded",
            "The organization's backup storage quota has been reached.",
        )
    }

    /// 500.
    pub fn internal() -> ApiError {
        Self::new(
            500,
            "Internal server error",
            "An unexpected error occurred. Retry later or contact support.",
        )
    }

    /// 503.
    pub fn unavailable() -> ApiError {
        Self::new(
            503,
            "Service unavailable",
            "The service is temporarily unavailable. Retry later.",
        )
    }

    /// A failed host call with no more specific meaning where it happened.
    pub fn from_host(error: &HostError) -> ApiError {
        match error {
            HostError::NotFound => Self::not_found(),
            HostError::Conflict(reason) => Self::conflict("Conflict", reason.clone()),
            HostError::QuotaExceeded => Self::quota_exceeded(),
            HostError::Unavailable => Self::unavailable(),
            // An invalid argument is the plugin's bug (logged where it happened), not the
            // client's.
            HostError::Invalid(_) => Self::internal(),
        }
    }

    /// The envelope for `req`.
    pub fn to_json(&self, req: &Request) -> Value {
        json!({
            "error": {
                "code": self.status,
                "message": self.message,
                "details": self.details,
                "request_id": request_id(&req.request_id),
            }
        })
    }

    /// The response for `req`.
    pub fn render(&self, req: &Request) -> Response {
        let mut resp = Response::json(self.status, &self.to_json(req));
        for (name, value) in &self.headers {
            resp = resp.with_header(name, value.clone());
        }
        resp
    }
}

/// ByCloud's `req-<uuid>` form of the host's request id (kept as is when it already has it).
pub fn request_id(host_id: &str) -> String {
    if host_id.starts_with("req-") {
        host_id.to_string()
    } else {
        format!("req-{host_id}")
    }
}

/// An id as shown in a message: quoted, and cut short when a client sent something long.
fn shown(id: &str) -> String {
    let cut: String = id.chars().take(64).collect();
    if cut.len() < id.len() {
        format!("'{cut}…'")
    } else {
        format!("'{cut}'")
    }
}

/// Word a host-raised problem in ByCloud's format, with the status the host gives it (but
/// 503 for a storage failure: ByCloud documents no 502, and a retry may succeed).
pub fn render_problem(problem: &Problem, req: &Request) -> Response {
    problem_error(problem).render(req)
}

/// The [`ApiError`] for a host-raised problem.
pub fn problem_error(problem: &Problem) -> ApiError {
    match problem {
        Problem::Unauthenticated(failure) => unauthenticated(*failure),
        Problem::Forbidden(scope) => ApiError::new(
            403,
            "Permission denied",
            if scope.is_empty() {
                "The credential is not allowed to perform this operation.".to_string()
            } else {
                format!("The credential lacks the scope '{scope}' this operation requires.")
            },
        ),
        Problem::NotFound => ApiError::not_found(),
        Problem::MethodNotAllowed => ApiError::new(
            405,
            "Method not allowed",
            "The method is not allowed for the requested resource.",
        ),
        Problem::Validation(errors) => ApiError::bad_request(field_errors(errors)),
        Problem::LengthRequired => ApiError::new(
            411,
            "Length required",
            "A Content-Length header is required.",
        ),
        Problem::PayloadTooLarge(limit) => ApiError::new(
            413,
            "Request entity too large",
            format!("The request body exceeds the limit of {limit} bytes."),
        ),
        Problem::QuotaExceeded => ApiError::quota_exceeded(),
        Problem::LengthMismatch((expected, received)) => ApiError::bad_request(format!(
            "The request body has {received} bytes but Content-Length announced {expected}."
        )),
        Problem::RateLimited(state) => ApiError::new(
            429,
            "Too many requests",
            format!(
                "Rate limit of {} requests exceeded; retry after {} seconds.",
                state.limit, state.retry_after_seconds
            ),
        )
        .with_header("retry-after", state.retry_after_seconds.to_string())
        .with_header("x-ratelimit-limit", state.limit.to_string())
        .with_header("x-ratelimit-remaining", state.remaining.to_string())
        .with_header(
            "x-ratelimit-reset",
            (state.reset_at / 1_000_000).to_string(),
        ),
        Problem::Conflict(reason) => ApiError::conflict(
            "Conflict",
            if reason.is_empty() {
                "The request conflicts with the current state of the resource."
            } else {
                reason.as_str()
            },
        ),
        Problem::StorageUnavailable | Problem::QuotaUnavailable | Problem::StorageFailed => {
            ApiError::unavailable()
        }
        Problem::Internal => ApiError::internal(),
    }
}

/// The 401 for an authentication failure.
fn unauthenticated(failure: AuthFailure) -> ApiError {
    let (message, details) = match failure {
        AuthFailure::Missing => (
            "Authentication required",
            "Send an access token (Authorization: Bearer <token>) or an API key (X-Api-Key: <access-key-id>:<secret-access-key>).",
        ),
        AuthFailure::UnsupportedScheme => (
            "Authentication required",
            "Unsupported authorization scheme: use Authorization: Bearer <token> or X-Api-Key.",
        ),
        AuthFailure::MalformedEncoding | AuthFailure::MalformedCredentials => {
            ("Invalid token", "The credentials are malformed.")
        }
        AuthFailure::InvalidCredentials => {
            ("Invalid token", "The access token or API key is invalid.")
        }
        AuthFailure::ExpiredCredentials => ("Token expired", "The access token has expired."),
    };
    ApiError::new(401, message, details).with_header("www-authenticate", CHALLENGE)
}

/// Host field errors as one `details` text: `where: what` joined by `; `.
fn field_errors(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return "The request could not be read.".into();
    }
    errors
        .iter()
        .map(|e| {
            let place = e
                .location
                .strip_prefix("path:")
                .or_else(|| e.location.strip_prefix("query:"))
                .or_else(|| e.location.strip_prefix('/'))
                .unwrap_or(&e.location);
            format!("Field '{place}': {}", e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::request;
    use backup_gateway_sdk::RateLimitState;

    fn req() -> Request {
        let mut r = request("getBackup", "/v1/backups/x");
        r.request_id = "0196a0b0-0000-7000-8000-000000000001".into();
        r
    }

    fn envelope(status: u16, message: &str, details: &str) -> Value {
        json!({
            "error": {
                "code": status,
                "message": message,
                "details": details,
                "request_id": "req-0196a0b0-0000-7000-8000-000000000001",
            }
        })
    }

    #[test]
    fn renders_the_documented_envelope() {
        let resp = ApiError::backup_not_found("abc").render(&req());
        assert_eq!(resp.status, 404);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(
            resp.body_json(),
            Some(envelope(
                404,
                "Backup not found",
                "Backup 'abc' could not be found."
            ))
        );
    }

    #[test]
    fn long_ids_are_cut_in_messages() {
        let long = "x".repeat(300);
        let e = ApiError::volume_not_found(&long);
        assert_eq!(
            e.details,
            format!("Volume '{}…' could not be found.", "x".repeat(64))
        );
    }

    #[test]
    fn request_ids_keep_a_req_prefix_once() {
        assert_eq!(request_id("abc"), "req-abc");
        assert_eq!(request_id("req-abc"), "req-abc");
    }

    #[test]
    fn every_auth_failure_is_a_401_with_a_challenge() {
        let cases = [
            (AuthFailure::Missing, "Authentication required"),
            (AuthFailure::UnsupportedScheme, "Authentication required"),
            (AuthFailure::MalformedEncoding, "Invalid token"),
            (AuthFailure::MalformedCredentials, "Invalid token"),
            (AuthFailure::InvalidCredentials, "Invalid token"),
            (AuthFailure::ExpiredCredentials, "Token expired"),
        ];
        for (failure, message) in cases {
            let resp = render_problem(&Problem::Unauthenticated(failure), &req());
            assert_eq!(resp.status, 401, "{failure:?}");
            assert_eq!(resp.header("www-authenticate"), Some(CHALLENGE));
            let body = resp.body_json().expect("JSON");
            assert_eq!(body["error"]["code"], 401);
            assert_eq!(body["error"]["message"], message, "{failure:?}");
            assert!(
                body["error"]["details"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty())
            );
        }
    }

    #[test]
    fn problems_keep_the_host_status_but_storage_failure() {
        let cases: Vec<(Problem, u16, &str)> = vec![
            (
                Problem::Forbidden("backups:write".into()),
                403,
                "Permission denied",
            ),
            (Problem::NotFound, 404, "Resource not found"),
            (Problem::MethodNotAllowed, 405, "Method not allowed"),
            (
                Problem::Validation(Vec::new()),
                400,
                "Invalid request parameters",
            ),
            (Problem::LengthRequired, 411, "Length required"),
            (
                Problem::PayloadTooLarge(64),
                413,
                "Request entity too large",
            ),
            (Problem::QuotaExceeded, 413, "Backup quota exceeded"),
            (
                Problem::LengthMismatch((10, 4)),
                400,
                "Invalid request parameters",
            ),
            (Problem::Conflict("busy".into()), 409, "Conflict"),
            (Problem::StorageUnavailable, 503, "Service unavailable"),
            (Problem::QuotaUnavailable, 503, "Service unavailable"),
            (Problem::StorageFailed, 503, "Service unavailable"),
            (Problem::Internal, 500, "Internal server error"),
        ];
        for (problem, status, message) in cases {
            let resp = render_problem(&problem, &req());
            assert_eq!(resp.status, status, "{problem:?}");
            let body = resp.body_json().expect("JSON");
            assert_eq!(body["error"]["code"], status, "{problem:?}");
            assert_eq!(body["error"]["message"], message, "{problem:?}");
            assert_eq!(
                body["error"]["request_id"],
                "req-0196a0b0-0000-7000-8000-000000000001"
            );
        }
        let forbidden = problem_error(&Problem::Forbidden("backups:write".into()));
        assert_eq!(
            forbidden.details,
            "The credential lacks the scope 'backups:write' this operation requires."
        );
        let mismatch = problem_error(&Problem::LengthMismatch((10, 4)));
        assert_eq!(
            mismatch.details,
            "The request body has 4 bytes but Content-Length announced 10."
        );
        let conflict = problem_error(&Problem::Conflict(String::new()));
        assert_eq!(
            conflict.details,
            "The request conflicts with the current state of the resource."
        );
    }

    #[test]
    fn rate_limited_carries_retry_after() {
        let state = RateLimitState {
            class: "api".into(),
            retry_after_seconds: 17,
            limit: 300,
            remaining: 0,
            reset_at: 1_777_284_017_000_000,
        };
        let resp = render_problem(&Problem::RateLimited(state), &req());
        assert_eq!(resp.status, 429);
        assert_eq!(resp.header("retry-after"), Some("17"));
        assert_eq!(resp.header("x-ratelimit-limit"), Some("300"));
        assert_eq!(resp.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(resp.header("x-ratelimit-reset"), Some("1777284017"));
        assert_eq!(
            resp.body_json(),
            Some(envelope(
                429,
                "Too many requests",
                "Rate limit of 300 requests exceeded; retry after 17 seconds."
            ))
        );
    }

    #[test]
    fn validation_names_every_field() {
        let errors = vec![
            FieldError {
                location: "path:backup_id".into(),
                code: "invalid_encoding".into(),
                message: "not valid UTF-8".into(),
                value: None,
            },
            FieldError {
                location: "query:limit".into(),
                code: String::new(),
                message: "bad".into(),
                value: None,
            },
            FieldError {
                location: "/name".into(),
                code: String::new(),
                message: "too long".into(),
                value: None,
            },
        ];
        let e = problem_error(&Problem::Validation(errors));
        assert_eq!(
            e.details,
            "Field 'backup_id': not valid UTF-8; Field 'limit': bad; Field 'name': too long"
        );
    }

    #[test]
    fn host_errors_map_to_statuses() {
        let cases = [
            (HostError::NotFound, 404),
            (HostError::Conflict("x".into()), 409),
            (HostError::QuotaExceeded, 413),
            (HostError::Unavailable, 503),
            (HostError::Invalid("bug".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(ApiError::from_host(&error).status, status, "{error:?}");
        }
        assert_eq!(
            ApiError::from_host(&HostError::Invalid("secret detail".into())).details,
            ApiError::internal().details,
            "internal detail is not sent"
        );
    }
}
