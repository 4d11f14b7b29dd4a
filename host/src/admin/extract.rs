//! Request parts of the admin API, refused as problems: a JSON body (`application/json`,
//! at most 64 KiB, an object, unknown fields refused, a pointer to the faulty field), query
//! parameters, path segments.

use axum::extract::{FromRequest, FromRequestParts, Request};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// The largest admin request body.
const MAX_BODY: usize = 64 * 1024;

/// A JSON body.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the body as application/json",
            ));
        }
        let req = req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, MAX_BODY)));
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    format!("the body is larger than {MAX_BODY} bytes or was cut short"),
                )
            })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::invalid("/", format!("not JSON: {e}")))?;
        if !value.is_object() {
            // (serde would take an array for a struct, field by field)
            return Err(Problem::invalid("/", "the body must be a JSON object"));
        }
        serde_path_to_error::deserialize(value)
            .map(Body)
            .map_err(|e| Problem::invalid(pointer(e.path()), e.inner().to_string()))
    }
}

/// The JSON pointer of a serde path (`/` for the whole body).
fn pointer(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p == "." {
        return "/".into();
    }
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        out += &segment.to_string().replace('~', "~0").replace('/', "~1");
    }
    out
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let name = e.path().to_string();
                Problem::invalid(format!("query:{name}"), e.inner().to_string())
            })
    }
}
