//! QRadar's error format and every refusal the plugin makes.
//!
//! Every error body is
//! `{"message", "details", "description", "code", "http_response": {"code", "message"}}`:
//! `message` names this instance, `description` is the documented text of the
//! (endpoint, code) pair (empty for framework-level errors), `code` is the endpoint-unique code
//! and `http_response.message` the fixed sentence QRadar sends for the HTTP status.
//!
//! Codes at or above 1000 are the endpoints' documented codes. Codes below 1000 are QRadar's
//! framework codes, as a QRadar mock captured them: 8 (missing required parameter), 11 (a
//! parameter that could not be transformed), 18 (no credentials), 26 (insufficient
//! capabilities), 30 (unknown field in `fields`). Where no QRadar code is known (405, 411, 413,
//! 429) the plugin uses the HTTP status as the code; host and storage failures use the
//! endpoints' 1000.

use backup_gateway_sdk::{AuthFailure, HostError, Problem, RateLimitState, Request, Response};
use serde_json::{Value, json};

use crate::manifest::{
    CREATE_BACKUP, CREATE_RESTORE, DELETE_BACKUP, DELETE_RESTORE, GET_BACKUP, GET_RESTORE,
    LIST_BACKUPS, LIST_RESTORES, UPDATE_RESTORE,
};

/// Framework code: a required parameter is missing.
pub const MISSING_PARAMETER: u32 = 8;
/// Framework code: a parameter could not be transformed (malformed value, wrong type).
pub const INVALID_PARAMETER: u32 = 11;
/// Framework code: authentication failed.
pub const UNAUTHENTICATED: u32 = 18;
/// Framework code: the caller lacks a capability.
pub const FORBIDDEN: u32 = 26;
/// Framework code: `fields` names a field the endpoint does not have.
pub const UNKNOWN_FIELD: u32 = 30;
/// Endpoint code of an unexpected failure.
pub const SERVER_ERROR: u32 = 1000;
/// Endpoint code of a backup or restore that does not exist.
pub const DOES_NOT_EXIST: u32 = 1001;
/// Endpoint code of a sort field the endpoint cannot sort by.
pub const INVALID_SORT: u32 = 1018;

/// What QRadar's 401 says when no credentials arrived.
pub const NO_SEC_HEADER: &str = "No SEC header present in request. Please provide it via \"SEC: token\". You may also use BASIC authentication parameters if this host supports it. e.g. \"Authorization: Basic base64Encoding\"";

/// The fixed `http_response.message` for a status. 401, 403, 404 and 422 are the sentences
/// QRadar actually sends (shorter than the IBM table, and 403/422 without a final period);
/// the others are the IBM "API error messages" table's; 429 is not in that table.
pub fn http_message(status: u16) -> &'static str {
    match status {
        400 => "Invalid syntax for this request was provided.",
        401 => "You are unauthorized to access the requested resource.",
        403 => "Your account is not authorized to access the requested resource",
        404 => "We could not find the resource you requested.",
        405 => "This method type is not currently supported.",
        409 => {
            "The request could not be completed due to a conflict with the current state of the resource."
        }
        411 => "Length of the content is required, please include it with the request.",
        413 => "The request entity is larger than the server is willing or able to process.",
        422 => "The request was well-formed but was unable to be followed due to semantic errors",
        429 => "Too many requests have been sent in a given amount of time.",
        503 => "The server is currently unavailable.",
        _ => "Unexpected internal server error.",
    }
}

/// A refusal in QRadar's format.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Endpoint-unique (or framework) code.
    pub code: u32,
    /// This instance's message.
    pub message: String,
    /// The documented description of the code ("" for framework errors).
    pub description: String,
    /// Details and extra headers, for the few errors that have them (boxed: errors travel
    /// in `Result`s everywhere and should stay small).
    pub extra: Option<Box<Extra>>,
}

/// The rarely used parts of an [`ApiError`].
#[derive(Debug, Clone, PartialEq)]
pub struct Extra {
    /// Additional information (an object).
    pub details: Value,
    /// Extra response headers (`Retry-After` on 429).
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    /// An error with empty details and no extra headers.
    pub fn new(
        status: u16,
        code: u32,
        description: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            description: description.into(),
            extra: None,
        }
    }

    /// 409 with an endpoint code.
    pub fn conflict(code: u32, description: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(409, code, description, message)
    }

    /// 422 with an endpoint code.
    pub fn unprocessable(
        code: u32,
        description: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(422, code, description, message)
    }

    /// 404/1001 with the endpoint's description.
    pub fn not_found(description: &str, message: impl Into<String>) -> Self {
        Self::new(404, DOES_NOT_EXIST, description, message)
    }

    /// 500/1000 with the endpoint's description.
    pub fn internal(description: &str) -> Self {
        Self::new(
            500,
            SERVER_ERROR,
            description,
            "An unexpected error occurred. Retry the request; contact the administrator if the problem persists.",
        )
    }

    /// 503/1000: a backing service is down; retry later.
    pub fn unavailable(description: &str) -> Self {
        Self::new(
            503,
            SERVER_ERROR,
            description,
            "The backup and restore service is temporarily unavailable. Retry later.",
        )
    }

    /// 422/8: a required parameter is missing (`from` e.g. "headers", "the request body").
    pub fn missing_parameter(name: &str, from: &str) -> Self {
        Self::new(
            422,
            MISSING_PARAMETER,
            "",
            format!("Missing required parameter \"{name}\" from {from}"),
        )
    }

    /// 422/11: a parameter could not be transformed into its type.
    pub fn untransformable(kind: &str, name: &str, content_type: &str) -> Self {
        Self::new(
            422,
            INVALID_PARAMETER,
            "",
            format!(
                "Failed to transform user {kind} parameter \"{name}\" with a content type of \"{content_type}\""
            ),
        )
    }

    /// 422/11 with a specific message (malformed `filter` or `Range`).
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(422, INVALID_PARAMETER, "", message)
    }

    /// 422/30: `fields` names something the endpoint does not have, or cannot be parsed.
    pub fn unknown_field(field: &str) -> Self {
        Self::new(
            422,
            UNKNOWN_FIELD,
            "",
            format!(
                "Specified field \"{field}\" is not recognized by this endpoint for media type \"application/json\""
            ),
        )
    }

    /// A failed host call: 503 when a backing service is down, else 500 (both code 1000;
    /// dispatch fills in the operation's description).
    pub fn from_host(error: &HostError) -> Self {
        match error {
            HostError::Unavailable => Self::unavailable(""),
            _ => Self::internal(""),
        }
    }

    /// The error body.
    pub fn to_json(&self) -> Value {
        json!({
            "message": self.message,
            "details": self.extra.as_ref().map_or_else(|| json!({}), |e| e.details.clone()),
            "description": self.description,
            "code": self.code,
            "http_response": { "code": self.status, "message": http_message(self.status) },
        })
    }

    /// The response.
    pub fn render(&self) -> Response {
        let mut resp = Response::json(self.status, &self.to_json());
        for (name, value) in self.extra.iter().flat_map(|e| &e.headers) {
            resp = resp.with_header(name, value.clone());
        }
        resp
    }
}

/// The documented 500 description of an operation.
pub fn internal_description(operation: &str) -> &'static str {
    match operation {
        CREATE_BACKUP => "An error occurred during the attempt to create the backup.",
        LIST_BACKUPS => "An error occurred during the attempt to retrieve the backups.",
        GET_BACKUP => "An error occurred during the attempt to retrieve the backup.",
        DELETE_BACKUP => "An error occurred during the attempt to delete the backup.",
        CREATE_RESTORE => "An error occurred during the attempt to create the restore.",
        LIST_RESTORES => "An error occurred during the attempt to retrieve the restores.",
        GET_RESTORE => "An error occurred during the attempt to retrieve the restore.",
        UPDATE_RESTORE => "An error occurred during the attempt to update the restore.",
        DELETE_RESTORE => "An error occurred during the attempt to delete the restore.",
        _ => "An error occurred during the attempt to process the request.",
    }
}

/// Word a host-raised problem in QRadar's format.
pub fn render_problem(problem: &Problem, req: &Request) -> Response {
    problem_error(problem, &req.operation).render()
}

/// The [`ApiError`] for a host-raised problem on `operation` ("" when no route matched).
pub fn problem_error(problem: &Problem, operation: &str) -> ApiError {
    match problem {
        Problem::Unauthenticated(AuthFailure::Missing | AuthFailure::UnsupportedScheme) => {
            ApiError::new(401, UNAUTHENTICATED, "", NO_SEC_HEADER)
        }
        Problem::Unauthenticated(
            AuthFailure::MalformedEncoding
            | AuthFailure::MalformedCredentials
            | AuthFailure::InvalidCredentials
            | AuthFailure::ExpiredCredentials,
        ) => ApiError::new(
            401,
            UNAUTHENTICATED,
            "",
            "Authentication failed. The SEC token or the BASIC credentials provided are not valid.",
        ),
        Problem::Forbidden(_) => ApiError::new(
            403,
            FORBIDDEN,
            "",
            "User has insufficient capabilities to access this endpoint resource",
        ),
        Problem::NotFound => ApiError::not_found(
            "The requested resource does not exist.",
            "The requested resource does not exist.",
        ),
        Problem::MethodNotAllowed => ApiError::new(
            405,
            405,
            "",
            "The HTTP method is not supported by this endpoint resource.",
        ),
        Problem::Validation(errors) => {
            let mut error = ApiError::invalid_parameter(match errors.first() {
                Some(first) if !first.message.is_empty() => {
                    format!("Invalid parameter {}: {}", first.location, first.message)
                }
                _ => "The request could not be read.".to_string(),
            });
            error.extra = Some(Box::new(Extra {
                details: json!({
                    "errors": errors.iter().map(|e| json!({
                        "location": e.location,
                        "code": e.code,
                        "message": e.message,
                    })).collect::<Vec<_>>()
                }),
                headers: Vec::new(),
            }));
            error
        }
        Problem::LengthRequired => ApiError::new(
            411,
            411,
            "",
            "A Content-Length header is required for this request.",
        ),
        Problem::PayloadTooLarge(limit) => ApiError::new(
            413,
            413,
            "",
            format!("The request body exceeds the limit of {limit} bytes."),
        ),
        Problem::QuotaExceeded => {
            ApiError::new(413, 413, "", "The backup storage quota would be exceeded.")
        }
        Problem::LengthMismatch((expected, received)) => ApiError::invalid_parameter(format!(
            "The request body has {received} bytes but Content-Length announced {expected}."
        )),
        Problem::RateLimited(state) => rate_limited(state),
        Problem::Conflict(reason) => conflict(operation, reason),
        Problem::StorageUnavailable | Problem::QuotaUnavailable => {
            ApiError::unavailable(internal_description(operation))
        }
        Problem::StorageFailed | Problem::Internal => {
            ApiError::internal(internal_description(operation))
        }
    }
}

/// 429 with `Retry-After`.
fn rate_limited(state: &RateLimitState) -> ApiError {
    let mut error = ApiError::new(
        429,
        429,
        "",
        format!(
            "Too many requests. Retry after {} seconds.",
            state.retry_after_seconds
        ),
    );
    error.extra = Some(Box::new(Extra {
        details: json!({}),
        headers: vec![("retry-after".into(), state.retry_after_seconds.to_string())],
    }));
    error
}

/// A host-raised conflict, in the words of the operation's documented conflict.
fn conflict(operation: &str, reason: &str) -> ApiError {
    let message = if reason.is_empty() {
        "The request conflicts with the current state of the resource."
    } else {
        reason
    };
    match operation {
        CREATE_BACKUP => ApiError::conflict(
            crate::backups::BACKUP_IN_PROGRESS,
            crate::backups::BACKUP_IN_PROGRESS_TEXT,
            message,
        ),
        CREATE_RESTORE => ApiError::conflict(
            crate::restores::RESTORE_EXISTS,
            crate::restores::RESTORE_EXISTS_TEXT,
            message,
        ),
        UPDATE_RESTORE => ApiError::conflict(
            crate::restores::UPDATE_RESTORE_RUNNING,
            crate::restores::UPDATE_RESTORE_RUNNING_TEXT,
            message,
        ),
        _ => ApiError::conflict(SERVER_ERROR, "", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_gateway_sdk::FieldError;

    fn body(problem: Problem, operation: &str) -> (u16, Value, Response) {
        let resp = problem_error(&problem, operation).render();
        let body = resp.body_json().expect("JSON body");
        (resp.status, body, resp)
    }

    #[test]
    fn the_error_shape_is_qradars() {
        let e = ApiError::not_found("The backup does not exist.", "No backup with id 7.");
        assert_eq!(
            e.to_json(),
            json!({
                "message": "No backup with id 7.",
                "details": {},
                "description": "The backup does not exist.",
                "code": 1001,
                "http_response": { "code": 404, "message": "We could not find the resource you requested." },
            })
        );
        let resp = e.render();
        assert_eq!(resp.status, 404);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        // Key order is the documented one.
        let text = match &resp.body {
            backup_gateway_sdk::Body::Bytes(b) => String::from_utf8(b.clone()).expect("UTF-8"),
            _ => panic!("bytes body"),
        };
        let order: Vec<usize> = [
            "\"message\"",
            "\"details\"",
            "\"description\"",
            "\"code\"",
            "\"http_response\"",
        ]
        .iter()
        .map(|k| text.find(k).expect("key"))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn every_auth_failure_is_a_401_with_code_18() {
        for (failure, no_header) in [
            (AuthFailure::Missing, true),
            (AuthFailure::UnsupportedScheme, true),
            (AuthFailure::MalformedEncoding, false),
            (AuthFailure::MalformedCredentials, false),
            (AuthFailure::InvalidCredentials, false),
            (AuthFailure::ExpiredCredentials, false),
        ] {
            let (status, body, _) = body(Problem::Unauthenticated(failure), "");
            assert_eq!(status, 401);
            assert_eq!(body["code"], 18);
            assert_eq!(
                body["http_response"],
                json!({"code": 401, "message": "You are unauthorized to access the requested resource."})
            );
            assert_eq!(body["message"] == NO_SEC_HEADER, no_header, "{failure:?}");
        }
    }

    #[test]
    fn every_problem_has_a_status_code_and_sentence() {
        let state = RateLimitState {
            class: "api".into(),
            retry_after_seconds: 12,
            limit: 10,
            remaining: 0,
            reset_at: 0,
        };
        let cases: Vec<(Problem, u16, u32)> = vec![
            (Problem::Forbidden("x".into()), 403, 26),
            (Problem::NotFound, 404, 1001),
            (Problem::MethodNotAllowed, 405, 405),
            (Problem::Validation(Vec::new()), 422, 11),
            (Problem::LengthRequired, 411, 411),
            (Problem::PayloadTooLarge(1024), 413, 413),
            (Problem::QuotaExceeded, 413, 413),
            (Problem::LengthMismatch((10, 4)), 422, 11),
            (Problem::RateLimited(state), 429, 429),
            (Problem::Conflict(String::new()), 409, 1000),
            (Problem::StorageUnavailable, 503, 1000),
            (Problem::QuotaUnavailable, 503, 1000),
            (Problem::StorageFailed, 500, 1000),
            (Problem::Internal, 500, 1000),
        ];
        for (problem, status, code) in cases {
            let (got, body, resp) = body(problem.clone(), LIST_BACKUPS);
            assert_eq!(
                (got, body["code"].as_u64()),
                (status, Some(u64::from(code))),
                "{problem:?}"
            );
            assert_eq!(body["http_response"]["code"], status);
            assert_eq!(body["http_response"]["message"], http_message(status));
            assert!(body["details"].is_object());
            if status == 429 {
                assert_eq!(resp.header("retry-after"), Some("12"));
            }
        }
        let (_, body, _) = body(Problem::Internal, LIST_BACKUPS);
        assert_eq!(
            body["description"],
            "An error occurred during the attempt to retrieve the backups."
        );
        assert_eq!(http_message(500), "Unexpected internal server error.");
        assert_eq!(
            http_message(403),
            "Your account is not authorized to access the requested resource"
        );
    }

    #[test]
    fn validation_lists_the_field_errors() {
        let errors = vec![FieldError {
            location: "path:id".into(),
            code: "invalid_encoding".into(),
            message: "not valid UTF-8".into(),
            value: None,
        }];
        let (status, body, _) = body(Problem::Validation(errors), GET_BACKUP);
        assert_eq!(status, 422);
        assert_eq!(
            body["message"],
            "Invalid parameter path:id: not valid UTF-8"
        );
        assert_eq!(
            body["details"],
            json!({"errors": [{"location": "path:id", "code": "invalid_encoding", "message": "not valid UTF-8"}]})
        );
    }

    #[test]
    fn conflicts_take_the_operations_documented_code() {
        let cases = [
            (CREATE_BACKUP, 1015),
            (CREATE_RESTORE, 1011),
            (UPDATE_RESTORE, 1016),
            (DELETE_BACKUP, 1000),
        ];
        for (operation, code) in cases {
            let (status, body, _) = body(Problem::Conflict("busy".into()), operation);
            assert_eq!(
                (status, body["code"].as_u64()),
                (409, Some(code)),
                "{operation}"
            );
            assert_eq!(body["message"], "busy");
        }
    }

    #[test]
    fn internal_descriptions_cover_every_operation() {
        for op in [
            CREATE_BACKUP,
            LIST_BACKUPS,
            GET_BACKUP,
            DELETE_BACKUP,
            CREATE_RESTORE,
            LIST_RESTORES,
            GET_RESTORE,
            UPDATE_RESTORE,
        ] {
            assert_ne!(internal_description(op), internal_description(""), "{op}");
        }
    }
}
