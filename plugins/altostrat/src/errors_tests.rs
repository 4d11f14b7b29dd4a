//! Tests of the error catalogue and of rendering every host problem.

use backup_gateway_sdk::{Method, Provider, RateLimitState};
use serde_json::Value;

use super::*;

fn request(operation: &str, method: Method, path: &str) -> Request {
    Request {
        operation: operation.into(),
        method,
        path: path.into(),
        params: Vec::new(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
        principal: None,
        request_id: "req-1".into(),
        received_at: 0,
    }
}

/// Status, error object and content type of a response.
fn parts(resp: &Response) -> (u16, Value) {
    assert_eq!(resp.header("content-type"), Some("application/json"));
    (resp.status, resp.body_json().expect("JSON body"))
}

fn assert_error(resp: &Response, status: u16, kind: &str, code: &str, message: &str) {
    let (got_status, body) = parts(resp);
    assert_eq!(
        (got_status, body),
        (
            status,
            json!({
                "type": kind,
                "code": code,
                "message": message,
                "doc_url": format!("https://docs.altostrat.io/errors/{code}"),
            })
        )
    );
}

#[test]
fn codes_are_unique_and_consistent() {
    let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Code::ALL.len());
    for code in Code::ALL {
        let expected = match code.status() {
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            500..=599 => "api_error",
            400..=499 => "invalid_request_error",
            other => panic!("unexpected status {other}"),
        };
        assert_eq!(code.error_type(), expected, "{code:?}");
    }
}

#[test]
fn every_auth_failure_is_a_401_with_a_bearer_challenge() {
    let req = request("listSiteBackups", Method::Get, "/backup/x");
    let cases = [
        (
            AuthFailure::Missing,
            "unauthenticated",
            "No API token provided. Send it as 'Authorization: Bearer <token>'.",
            r#"Bearer realm="altostrat""#,
        ),
        (
            AuthFailure::UnsupportedScheme,
            "unauthenticated",
            "Unsupported authorization scheme. Send the token as 'Authorization: Bearer <token>'.",
            r#"Bearer realm="altostrat""#,
        ),
        (
            AuthFailure::MalformedEncoding,
            "unauthenticated",
            "The bearer token could not be decoded.",
            r#"Bearer realm="altostrat", error="invalid_token""#,
        ),
        (
            AuthFailure::MalformedCredentials,
            "unauthenticated",
            "The bearer token is malformed.",
            r#"Bearer realm="altostrat", error="invalid_token""#,
        ),
        (
            AuthFailure::InvalidCredentials,
            "unauthenticated",
            "The API token is invalid or has been revoked.",
            r#"Bearer realm="altostrat", error="invalid_token""#,
        ),
        (
            AuthFailure::ExpiredCredentials,
            "token_expired",
            "The API token has expired or is not yet valid. Obtain a new token.",
            r#"Bearer realm="altostrat", error="invalid_token""#,
        ),
    ];
    for (failure, code, message, challenge) in cases {
        let resp = render(Problem::Unauthenticated(failure), &req);
        assert_error(&resp, 401, "authentication_error", code, message);
        assert_eq!(resp.header("www-authenticate"), Some(challenge));
    }
}

#[test]
fn forbidden_names_the_scope() {
    let req = request("requestSiteBackup", Method::Post, "/backup/x");
    let resp = render(Problem::Forbidden("backup:create".into()), &req);
    assert_error(
        &resp,
        403,
        "permission_error",
        "insufficient_scope",
        "This request requires the 'backup:create' scope, which your token does not have.",
    );
    assert_eq!(
        resp.header("www-authenticate"),
        Some(r#"Bearer realm="altostrat", error="insufficient_scope", scope="backup:create""#)
    );
}

#[test]
fn not_found_depends_on_the_route() {
    let unrouted = request("", Method::Get, "/backup");
    assert_error(
        &render(Problem::NotFound, &unrouted),
        404,
        "invalid_request_error",
        "resource_not_found",
        "Unrecognized request URL (GET /backup).",
    );
    let download = request("getSiteBackup", Method::Get, "/backup/x/1.rsc");
    assert_error(
        &render(Problem::NotFound, &download),
        404,
        "invalid_request_error",
        "resource_not_found",
        "No such backup.",
    );
    let list = request("listSiteBackups", Method::Get, "/backup/x");
    assert_error(
        &render(Problem::NotFound, &list),
        404,
        "invalid_request_error",
        "resource_not_found",
        "The requested resource does not exist.",
    );
}

#[test]
fn method_not_allowed_names_the_method_and_lists_the_allowed_ones() {
    let site = "/backup/a1b2c3d4-e5f6-7890-1234-567890abcdef";
    // OPTIONS reaches the plugin as `other` since contract 1.1 (as GET before).
    for (method, name) in [
        (Method::Delete, "DELETE"),
        (Method::Other("OPTIONS".into()), "OPTIONS"),
    ] {
        let req = request("", method, site);
        let resp = crate::Altostrat::render_problem(Problem::MethodNotAllowed, &req);
        assert_error(
            &resp,
            405,
            "invalid_request_error",
            "method_not_allowed",
            &format!("The {name} method is not allowed on this endpoint."),
        );
        assert_eq!(resp.header("allow"), Some("GET, POST"));
    }
    let req = request("", Method::Post, "/backup/x/subnets");
    assert_eq!(
        render(Problem::MethodNotAllowed, &req).header("allow"),
        Some("GET")
    );
    let req = request("", Method::Put, "/elsewhere");
    assert_eq!(
        render(Problem::MethodNotAllowed, &req).header("allow"),
        None
    );
}

#[test]
fn extension_methods_are_named_as_received_and_clipped() {
    let long = "X".repeat(150);
    let req = request("", Method::Other(long.clone()), "/backup/x/subnets");
    let (_, body) = parts(&render(Problem::MethodNotAllowed, &req));
    assert_eq!(
        body["message"],
        format!(
            "The {}… method is not allowed on this endpoint.",
            &long[..100]
        )
    );
    let req = request("", Method::Other("TRACE".into()), "/nowhere");
    let (_, body) = parts(&render(Problem::NotFound, &req));
    assert_eq!(
        body["message"],
        "Unrecognized request URL (TRACE /nowhere)."
    );
}

#[test]
fn validation_names_the_fields() {
    let req = request("getSiteBackup", Method::Get, "/backup/x/y");
    let fields = vec![
        FieldError {
            location: "path".into(),
            code: "invalid_encoding".into(),
            message: "a path parameter is not valid percent-encoded UTF-8".into(),
            value: None,
        },
        FieldError {
            location: String::new(),
            code: "unreadable".into(),
            message: String::new(),
            value: None,
        },
    ];
    assert_error(
        &render(Problem::Validation(fields), &req),
        400,
        "invalid_request_error",
        "parameter_invalid",
        "The request is invalid: a path parameter is not valid percent-encoded UTF-8 (path); unreadable.",
    );
    assert_error(
        &render(Problem::Validation(Vec::new()), &req),
        400,
        "invalid_request_error",
        "parameter_invalid",
        "The request is invalid.",
    );
}

#[test]
fn rate_limited_sets_retry_after() {
    let req = request("requestSiteBackup", Method::Post, "/backup/x");
    let state = RateLimitState {
        class: "any".into(),
        retry_after_seconds: 17,
        limit: 10,
        remaining: 0,
        reset_at: 1_775_960_117_000_000,
    };
    let resp = render(Problem::RateLimited(state), &req);
    assert_error(
        &resp,
        429,
        "rate_limit_error",
        "rate_limited",
        "Too many requests. Retry after 17 seconds.",
    );
    assert_eq!(resp.header("retry-after"), Some("17"));
}

#[test]
fn the_remaining_problems() {
    let req = request("requestSiteBackup", Method::Post, "/backup/x");
    let cases = [
        (
            Problem::LengthRequired,
            411,
            "invalid_request_error",
            "length_required",
            "A request body needs a Content-Length header.",
        ),
        (
            Problem::PayloadTooLarge(1_048_576),
            413,
            "invalid_request_error",
            "payload_too_large",
            "The request body is larger than the 1048576-byte limit.",
        ),
        (
            Problem::QuotaExceeded,
            413,
            "invalid_request_error",
            "quota_exceeded",
            "The organization's backup storage quota is exhausted.",
        ),
        (
            Problem::LengthMismatch((10, 4)),
            400,
            "invalid_request_error",
            "body_length_mismatch",
            "The request body was 4 bytes, but Content-Length said 10.",
        ),
        (
            Problem::Conflict("a capture of this site is already running".into()),
            409,
            "invalid_request_error",
            "conflict",
            "A capture of this site is already running.",
        ),
        (
            Problem::Conflict(String::new()),
            409,
            "invalid_request_error",
            "conflict",
            "The request conflicts with the current state of the site.",
        ),
        (
            Problem::StorageUnavailable,
            503,
            "api_error",
            "service_unavailable",
            "The backup service is temporarily unavailable. Try again later.",
        ),
        (
            Problem::QuotaUnavailable,
            503,
            "api_error",
            "service_unavailable",
            "The backup service is temporarily unavailable. Try again later.",
        ),
        (
            Problem::StorageFailed,
            502,
            "api_error",
            "storage_failed",
            "Backup storage failed while handling the request. Try again later.",
        ),
        (
            Problem::Internal,
            500,
            "api_error",
            "internal_error",
            "An unexpected error occurred on our side. Try again later.",
        ),
    ];
    for (problem, status, kind, code, message) in cases {
        let resp = render(problem, &req);
        assert_error(&resp, status, kind, code, message);
        assert_eq!(resp.header("www-authenticate"), None);
        assert_eq!(resp.header("retry-after"), None);
    }
}

#[test]
fn host_errors_map_to_codes() {
    let not_found = ApiError::site_not_found("s");
    let cases = [
        (HostError::NotFound, Code::ResourceNotFound),
        (HostError::Conflict("busy".into()), Code::Conflict),
        (HostError::QuotaExceeded, Code::QuotaExceeded),
        (
            HostError::Invalid("bad filename".into()),
            Code::InternalError,
        ),
        (HostError::Unavailable, Code::ServiceUnavailable),
    ];
    for (error, code) in cases {
        assert_eq!(ApiError::from_host(&error, not_found.clone()).code, code);
    }
    // The host's reason for an invalid call is never shown.
    let invalid = ApiError::from_host(&HostError::Invalid("secret".into()), not_found);
    assert!(!invalid.message.contains("secret"));
}

#[test]
fn echoed_text_is_clipped() {
    assert_eq!(clip("short"), "short");
    let long = "é".repeat(150);
    let clipped = clip(&long);
    assert_eq!(clipped.chars().count(), 101);
    assert!(clipped.ends_with('…'));
}
