//! Between HTTP and the WIT shapes: building a plugin's `request` from an incoming request,
//! and turning a plugin's `response` into an HTTP response (headers checked, bodies capped,
//! stored objects streamed by the host).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use super::Gateway;
use crate::auth::{Principal, Scheme};
use crate::plugins::Plugin;
use crate::plugins::bindings::types;
use crate::plugins::manifest::wit_method;
use crate::store::now_micros;

/// Headers a plugin never sees: credentials.
fn is_credential(name: &HeaderName, plugin: &Plugin) -> bool {
    name == header::AUTHORIZATION
        || name == header::COOKIE
        || plugin
            .manifest
            .auth
            .iter()
            .any(|s| matches!(s, Scheme::Header(h) if h == name.as_str()))
}

/// The WIT request for a matched route (body and principal filled in later).
pub fn request(
    plugin: &Plugin,
    operation: &str,
    parts: &http::request::Parts,
    params: Vec<(String, String)>,
    request_id: &str,
) -> types::Request {
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| !is_credential(k, plugin))
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    types::Request {
        operation: operation.to_owned(),
        method: wit_method(&parts.method),
        path: parts.uri.path().to_owned(),
        params,
        query,
        headers,
        body: Vec::new(),
        principal: None,
        request_id: request_id.to_owned(),
        received_at: u64::try_from(now_micros()).unwrap_or(0),
    }
}

/// The WIT principal.
pub fn principal(p: &Principal) -> types::Principal {
    types::Principal {
        org: p.org.clone(),
        subject: p.subject.clone(),
        scopes: p.scopes.clone(),
    }
}

/// Why a plugin's response cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// Not an HTTP status.
    #[error("invalid status {0}")]
    Status(u16),
    /// A header name or value that is not valid HTTP.
    #[error("invalid header {0:?}")]
    Header(String),
    /// Bytes over the response cap.
    #[error("body of {0} bytes over the response cap")]
    TooLarge(usize),
    /// The referenced backup does not exist in the caller's org.
    #[error("referenced backup not found")]
    BackupNotFound,
    /// The store failed to open the object.
    #[error("object store: {0}")]
    Storage(String),
}

/// Headers the host owns.
fn host_owned(name: &HeaderName) -> bool {
    name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::CONNECTION
        || name == super::REQUEST_ID
}

fn headers(list: &[(String, String)]) -> Result<HeaderMap, ResponseError> {
    let mut map = HeaderMap::new();
    for (k, v) in list {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|_| ResponseError::Header(k.clone()))?;
        let value = HeaderValue::from_str(v).map_err(|_| ResponseError::Header(k.clone()))?;
        if !host_owned(&name) {
            map.append(name, value);
        }
    }
    Ok(map)
}

/// Turn a plugin response into HTTP. Stored-backup bodies are looked up in the principal's
/// org and streamed from object storage.
pub async fn response(
    gw: &Gateway,
    plugin: &Plugin,
    org: Option<&str>,
    resp: types::Response,
) -> Result<Response, ResponseError> {
    let status =
        StatusCode::from_u16(resp.status).map_err(|_| ResponseError::Status(resp.status))?;
    if !(200..=599).contains(&resp.status) {
        return Err(ResponseError::Status(resp.status));
    }
    let headers = headers(&resp.headers)?;
    let (body, length) = match resp.body {
        types::Body::Empty => (Body::empty(), 0),
        types::Body::Bytes(b) => {
            if b.len() as u64 > gw.max_response_body {
                return Err(ResponseError::TooLarge(b.len()));
            }
            let n = b.len() as u64;
            (Body::from(b), n)
        }
        types::Body::Backup((id, range)) => {
            let org = org.ok_or(ResponseError::BackupNotFound)?;
            let rec = gw
                .services
                .db
                .scoped(org, &plugin.name)
                .backup(&id)
                .await
                .map_err(|e| ResponseError::Storage(e.to_string()))?
                .ok_or(ResponseError::BackupNotFound)?;
            let size = u64::try_from(rec.size).unwrap_or(0);
            let range = range.map(|r| {
                let start = r.offset.min(size);
                let end = r.length.map_or(size, |l| start.saturating_add(l).min(size));
                start..end
            });
            let length = range.as_ref().map_or(size, |r| r.end - r.start);
            let stream = if length == 0 {
                None
            } else {
                Some(
                    crate::store::content::stream(
                        &gw.services.db,
                        &gw.services.objects,
                        &rec,
                        range,
                    )
                    .await
                    .map_err(|e| match e {
                        crate::store::ObjectError::NotFound => ResponseError::BackupNotFound,
                        other => ResponseError::Storage(other.to_string()),
                    })?,
                )
            };
            (stream.map_or_else(Body::empty, Body::from_stream), length)
        }
    };
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
        out.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(out)
}
