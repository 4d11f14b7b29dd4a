//! The Altostrat error object `{"type", "code", "message", "doc_url"}`: the catalogue of stable
//! codes ([`Code`]), the error value operations return ([`ApiError`]), and the rendering of
//! every host-raised [`Problem`] and failed host call in it.

use backup_gateway_sdk::{AuthFailure, FieldError, HostError, Problem, Request, Response};
use serde_json::json;

/// Where every `doc_url` points: this base plus the code.
pub const DOC_BASE: &str = "https://docs.altostrat.io/errors/";

/// `WWW-Authenticate` realm sent with 401s and 403s (RFC 6750).
const REALM: &str = "altostrat";

/// Every stable error code this provider sends. Each has one status and one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 400: `siteId` is not a UUID.
    InvalidSiteId,
    /// 400: a path parameter or the body could not be read (host validation).
    ParameterInvalid,
    /// 400: the body ended before, or ran past, its `Content-Length`.
    BodyLengthMismatch,
    /// 401: missing, malformed or unknown credentials.
    Unauthenticated,
    /// 401: a token that has expired (or is not yet valid).
    TokenExpired,
    /// 403: the token lacks the route's scope.
    InsufficientScope,
    /// 404: no such site, backup or endpoint.
    ResourceNotFound,
    /// 404: subnet discovery for a site with no backup yet.
    NoBackup,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: the request conflicts with current state.
    Conflict,
    /// 409: the site has no configuration source, so it cannot be backed up.
    BackupSourceMissing,
    /// 411: a body without `Content-Length`.
    LengthRequired,
    /// 413: the request body is over the limit.
    PayloadTooLarge,
    /// 413: the organization's backup storage quota is used up.
    QuotaExceeded,
    /// 422: the backup is too large to load inline (use `X-Download: true`).
    BackupTooLarge,
    /// 429: too many requests.
    RateLimited,
    /// 500: an unexpected failure.
    InternalError,
    /// 502: backup storage failed while reading or writing.
    StorageFailed,
    /// 503: a backing service is unavailable; retry later.
    ServiceUnavailable,
}

impl Code {
    /// Every code, in the order the OpenAPI document lists them.
    #[cfg(test)]
    pub const ALL: [Code; 19] = [
        Code::InvalidSiteId,
        Code::ParameterInvalid,
        Code::BodyLengthMismatch,
        Code::Unauthenticated,
        Code::TokenExpired,
        Code::InsufficientScope,
        Code::ResourceNotFound,
        Code::NoBackup,
        Code::MethodNotAllowed,
        Code::Conflict,
        Code::BackupSourceMissing,
        Code::LengthRequired,
        Code::PayloadTooLarge,
        Code::QuotaExceeded,
        Code::BackupTooLarge,
        Code::RateLimited,
        Code::InternalError,
        Code::StorageFailed,
        Code::ServiceUnavailable,
    ];

    /// The code as sent in `code` and at the end of `doc_url`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidSiteId => "invalid_site_id",
            Code::ParameterInvalid => "parameter_invalid",
            Code::BodyLengthMismatch => "body_length_mismatch",
            Code::Unauthenticated => "unauthenticated",
            Code::TokenExpired => "token_expired",
            Code::InsufficientScope => "insufficient_scope",
            Code::ResourceNotFound => "resource_not_found",
            Code::NoBackup => "no_backup",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Conflict => "conflict",
            Code::BackupSourceMissing => "backup_source_missing",
            Code::LengthRequired => "length_required",
            Code::PayloadTooLarge => "payload_too_large",
            Code::QuotaExceeded => "quota_exceeded",
            Code::BackupTooLarge => "backup_too_large",
            Code::RateLimited => "rate_limited",
            Code::InternalError => "internal_error",
            Code::StorageFailed => "storage_failed",
            Code::ServiceUnavailable => "service_unavailable",
        }
    }

    /// The HTTP status sent with this code.
    pub fn status(self) -> u16 {
        match self {
            Code::InvalidSiteId | Code::ParameterInvalid | Code::BodyLengthMismatch => 400,
            Code::Unauthenticated | Code::TokenExpired => 401,
            Code::InsufficientScope => 403,
            Code::ResourceNotFound | Code::NoBackup => 404,
            Code::MethodNotAllowed => 405,
            Code::Conflict | Code::BackupSourceMissing => 409,
            Code::LengthRequired => 411,
            Code::PayloadTooLarge | Code::QuotaExceeded => 413,
            Code::BackupTooLarge => 422,
            Code::RateLimited => 429,
            Code::InternalError => 500,
            Code::StorageFailed => 502,
            Code::ServiceUnavailable => 503,
        }
    }

    /// The broad category sent in `type`.
    pub fn error_type(self) -> &'static str {
        match self.status() {
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            500.. => "api_error",
            _ => "invalid_request_error",
        }
    }
}

/// An error an operation answers with: a code, a message safe to show, extra headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The stable code (which fixes status and type).
    pub code: Code,
    /// Human-readable text.
    pub message: String,
    /// Headers to send besides `content-type` (`retry-after`, `www-authenticate`, `allow`).
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// Add a response header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> ApiError {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The JSON error response.
    pub fn into_response(self) -> Response {
        let code = self.code.as_str();
        let body = json!({
            "type": self.code.error_type(),
            "code": code,
            "message": self.message,
            "doc_url": format!("{DOC_BASE}{code}"),
        });
        self.headers.into_iter().fold(
            Response::json(self.code.status(), &body),
            |resp, (name, value)| resp.with_header(&name, value),
        )
    }

    /// 404 for a site the caller's org does not have (or that does not exist at all).
    pub fn site_not_found(site_id: &str) -> ApiError {
        ApiError::new(
            Code::ResourceNotFound,
            format!("No such site: '{site_id}'."),
        )
    }

    /// 404 for a backup filename the site does not have.
    pub fn backup_not_found(filename: &str) -> ApiError {
        ApiError::new(
            Code::ResourceNotFound,
            format!("No such backup: '{}'.", clip(filename)),
        )
    }

    /// 500 for a failure the client cannot act on (details are logged, never sent).
    pub fn internal() -> ApiError {
        ApiError::new(
            Code::InternalError,
            "An unexpected error occurred on our side. Try again later.",
        )
    }

    /// 503 for a backing service that is down.
    pub fn unavailable() -> ApiError {
        ApiError::new(
            Code::ServiceUnavailable,
            "The backup service is temporarily unavailable. Try again later.",
        )
    }

    /// A failed host call. `not_found` is the error to answer when the host says the thing
    /// named does not exist.
    pub fn from_host(error: &HostError, not_found: ApiError) -> ApiError {
        match error {
            HostError::NotFound => not_found,
            HostError::Conflict(reason) => conflict(reason),
            HostError::QuotaExceeded => quota_exceeded(),
            // The plugin passed something the host refused: our bug, not the client's.
            HostError::Invalid(_) => ApiError::internal(),
            HostError::Unavailable => ApiError::unavailable(),
        }
    }
}

/// Render a host-raised problem for a request (its `operation` is empty when no route matched).
pub fn render(problem: Problem, req: &Request) -> Response {
    problem_error(problem, req).into_response()
}

/// The error a host-raised problem is answered with.
pub fn problem_error(problem: Problem, req: &Request) -> ApiError {
    match problem {
        Problem::Unauthenticated(failure) => unauthenticated(failure),
        Problem::Forbidden(scope) => ApiError::new(
            Code::InsufficientScope,
            format!("This request requires the '{scope}' scope, which your token does not have."),
        )
        .with_header(
            "www-authenticate",
            format!(r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}""#),
        ),
        Problem::NotFound => match req.operation.as_str() {
            "" => ApiError::new(
                Code::ResourceNotFound,
                format!(
                    "Unrecognized request URL ({} {}).",
                    clip(req.method.name()),
                    clip(&req.path)
                ),
            ),
            "getSiteBackup" => ApiError::new(Code::ResourceNotFound, "No such backup."),
            _ => ApiError::new(
                Code::ResourceNotFound,
                "The requested resource does not exist.",
            ),
        },
        Problem::MethodNotAllowed => {
            let allowed = crate::manifest::allowed_methods(&req.path);
            let mut err = ApiError::new(
                Code::MethodNotAllowed,
                format!(
                    "The {} method is not allowed on this endpoint.",
                    clip(req.method.name())
                ),
            );
            if !allowed.is_empty() {
                err = err.with_header("allow", allowed.join(", "));
            }
            err
        }
        Problem::Validation(fields) => validation(&fields),
        Problem::LengthRequired => ApiError::new(
            Code::LengthRequired,
            "A request body needs a Content-Length header.",
        ),
        Problem::PayloadTooLarge(limit) => ApiError::new(
            Code::PayloadTooLarge,
            format!("The request body is larger than the {limit}-byte limit."),
        ),
        Problem::QuotaExceeded => quota_exceeded(),
        Problem::LengthMismatch((expected, received)) => ApiError::new(
            Code::BodyLengthMismatch,
            format!("The request body was {received} bytes, but Content-Length said {expected}."),
        ),
        Problem::RateLimited(state) => ApiError::new(
            Code::RateLimited,
            format!(
                "Too many requests. Retry after {} seconds.",
                state.retry_after_seconds
            ),
        )
        .with_header("retry-after", state.retry_after_seconds.to_string()),
        Problem::Conflict(reason) => conflict(&reason),
        Problem::StorageUnavailable | Problem::QuotaUnavailable => ApiError::unavailable(),
        Problem::StorageFailed => ApiError::new(
            Code::StorageFailed,
            "Backup storage failed while handling the request. Try again later.",
        ),
        Problem::Internal => ApiError::internal(),
    }
}

/// 401 with the wording for the failure and a Bearer challenge (`error="invalid_token"` once
/// credentials were sent, per RFC 6750).
fn unauthenticated(failure: AuthFailure) -> ApiError {
    let (code, message, invalid) = match failure {
        AuthFailure::Missing => (
            Code::Unauthenticated,
            "No API token provided. Send it as 'Authorization: Bearer <token>'.",
            false,
        ),
        AuthFailure::UnsupportedScheme => (
            Code::Unauthenticated,
            "Unsupported authorization scheme. Send the token as 'Authorization: Bearer <token>'.",
            false,
        ),
        AuthFailure::MalformedEncoding => (
            Code::Unauthenticated,
            "The bearer token could not be decoded.",
            true,
        ),
        AuthFailure::MalformedCredentials => (
            Code::Unauthenticated,
            "The bearer token is malformed.",
            true,
        ),
        AuthFailure::InvalidCredentials => (
            Code::Unauthenticated,
            "The API token is invalid or has been revoked.",
            true,
        ),
        AuthFailure::ExpiredCredentials => (
            Code::TokenExpired,
            "The API token has expired or is not yet valid. Obtain a new token.",
            true,
        ),
    };
    let challenge = if invalid {
        format!(r#"Bearer realm="{REALM}", error="invalid_token""#)
    } else {
        format!(r#"Bearer realm="{REALM}""#)
    };
    ApiError::new(code, message).with_header("www-authenticate", challenge)
}

/// 409 with the host's reason (worded to be shown to clients), or a generic one.
fn conflict(reason: &str) -> ApiError {
    if reason.trim().is_empty() {
        ApiError::new(
            Code::Conflict,
            "The request conflicts with the current state of the site.",
        )
    } else {
        ApiError::new(Code::Conflict, sentence(reason))
    }
}

/// 413 for an exhausted storage quota.
fn quota_exceeded() -> ApiError {
    ApiError::new(
        Code::QuotaExceeded,
        "The organization's backup storage quota is exhausted.",
    )
}

/// 400 naming each field that failed the host's validation.
fn validation(fields: &[FieldError]) -> ApiError {
    let details: Vec<String> = fields
        .iter()
        .map(|f| {
            let text = if f.message.is_empty() {
                &f.code
            } else {
                &f.message
            };
            if f.location.is_empty() {
                text.clone()
            } else {
                format!("{} ({})", text, f.location)
            }
        })
        .collect();
    let message = if details.is_empty() {
        "The request is invalid.".to_string()
    } else {
        format!("The request is invalid: {}.", details.join("; "))
    };
    ApiError::new(Code::ParameterInvalid, message)
}

/// A reason as a sentence: capitalised, ending in a full stop.
fn sentence(reason: &str) -> String {
    let mut chars = reason.trim().chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Client-supplied text echoed in a message, cut to 100 characters.
pub fn clip(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
#[path = "errors_tests.rs"]
mod tests;
