//! The admin API's errors, as RFC 7807 problem documents (`application/problem+json`):
//! `type` names the problem (`/admin/v1/problems/<slug>`, described in the API's OpenAPI
//! document), `errors` points at the offending fields. [`ControlError`] is mapped here once.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::control::ControlError;

/// One field's fault.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer into the request body (or `query:<name>`, `path:<name>`).
    pub pointer: String,
    /// What is wrong.
    pub detail: String,
}

/// A problem document.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    #[serde(skip)]
    challenge: bool,
}

impl Problem {
    /// A problem of `slug` with `status`.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/admin/v1/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            challenge: false,
        }
    }

    /// 400 with one field's fault.
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Problem {
        let detail = detail.into();
        let pointer = pointer.into();
        Problem {
            errors: vec![FieldError {
                pointer: pointer.clone(),
                detail: detail.clone(),
            }],
            ..Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                format!("{pointer}: {detail}"),
            )
        }
    }

    /// 401, with the `WWW-Authenticate` challenge.
    pub fn unauthenticated(detail: &str) -> Problem {
        Problem {
            challenge: true,
            ..Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
        }
    }

    /// 403 for a token without `scope`.
    pub fn forbidden(scope: &str) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token lacks the {scope:?} scope"),
        )
    }

    /// 404 for a path the API does not have.
    pub fn no_route(path: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no admin endpoint {path}"),
        )
    }
}

impl From<ControlError> for Problem {
    fn from(e: ControlError) -> Problem {
        match e {
            ControlError::Invalid { pointer, detail } => Problem::invalid(pointer, detail),
            ControlError::NotFound(what) => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", format!("no {what}"))
            }
            ControlError::Conflict(detail) => {
                Problem::new(StatusCode::CONFLICT, "conflict", detail)
            }
            ControlError::Unavailable(err) => {
                tracing::error!(error = %err, "admin request: database unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the control plane's database is unavailable; retry later",
                )
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"backup-gateway admin\""),
            );
        }
        resp
    }
}
