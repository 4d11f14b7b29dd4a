//! One request through the fixed pipeline: authenticate (scheme from the manifest) → scope →
//! body (bounded) → rate limit → plugin `handle` in a fresh instance → response. Ingest routes
//! hand over to [`super::upload`] after the scope check. Every refusal goes through the
//! plugin's `render-problem`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::response::Response;
use futures_util::StreamExt;

use super::guard::Refusal;
use super::{REQUEST_ID, convert, problem};
use crate::auth::{AuthError, AuthFailure, Principal};
use crate::gateway::Gateway;
use crate::plugins::bindings::types::{self, Problem};
use crate::plugins::manifest::Segment;
use crate::plugins::{BodyMode, CallContext, Fault, Plugin, RouteSpec};

/// A mounted route: the plugin and the route it declared.
pub struct RouteEntry {
    /// The owning plugin.
    pub plugin: Arc<Plugin>,
    /// The route.
    pub spec: RouteSpec,
    params: Vec<String>,
}

impl RouteEntry {
    /// Bind a route to its plugin.
    pub fn new(plugin: Arc<Plugin>, spec: RouteSpec) -> RouteEntry {
        let params = spec.param_names();
        RouteEntry {
            plugin,
            spec,
            params,
        }
    }
}

fn request_id(parts: &http::request::Parts) -> String {
    parts
        .headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

/// Serve a request for a mounted route.
pub async fn dispatch(gw: Arc<Gateway>, entry: Arc<RouteEntry>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let rid = request_id(&parts);
    let plugin = &entry.plugin;
    let raw = RawPathParams::from_request_parts(&mut parts, &()).await;
    let mut call = convert::request(plugin, &entry.spec.operation, &parts, Vec::new(), &rid);
    match path_params(&entry, raw) {
        Ok(params) => call.params = params,
        Err(p) => return problem::render(&gw, plugin, p, &call).await,
    }

    // 1. authentication and 2. scope
    let principal = match authenticate(&gw, &entry, &parts.headers) {
        Ok(p) => p,
        Err(p) => return problem::render(&gw, plugin, p, &call).await,
    };
    call.principal = principal.as_ref().map(convert::principal);
    if let (Some(scope), Some(p)) = (&entry.spec.scope, &principal)
        && !p.has_scope(scope)
    {
        return problem::render(&gw, plugin, Problem::Forbidden(scope.clone()), &call).await;
    }

    match entry.spec.body {
        BodyMode::Ingest => {
            let Some(p) = principal else {
                return problem::render(&gw, plugin, Problem::Internal, &call).await;
            };
            return super::upload::serve(gw.clone(), entry.clone(), call, p, parts, body).await;
        }
        // 3. body, bounded before it is read; a route that takes none still waits for a
        // body the client declared (and then ignores it): nothing is acted on half-sent
        BodyMode::Buffered | BodyMode::None => {
            match read_body(&parts, body, gw.max_json_body, gw.body_idle_timeout).await {
                Ok(bytes) if entry.spec.body == BodyMode::Buffered => call.body = bytes,
                Ok(_) => {}
                Err(p) => return problem::render(&gw, plugin, p, &call).await,
            }
        }
    }

    // 4. rate limit
    if let Some(p) = &principal
        && let Err(p) = rate_limit(&gw, &entry, p).await
    {
        return problem::render(&gw, plugin, p, &call).await;
    }

    // 5. the plugin
    let ctx = CallContext::for_request(plugin.name.clone(), gw.services.clone(), &call);
    let req = call.clone();
    let result = plugin
        .call(ctx, move |prov, store| prov.call_handle(store, &req))
        .await;
    respond(&gw, plugin, &call, result).await
}

/// The route's path parameters by name (axum names them `p0`, `p1`, … in the mounted path).
fn path_params(
    entry: &RouteEntry,
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
) -> Result<Vec<(String, String)>, Problem> {
    let Ok(raw) = raw else {
        return Err(Problem::Validation(vec![types::FieldError {
            location: "path".into(),
            code: "invalid_encoding".into(),
            message: "a path parameter is not valid percent-encoded UTF-8".into(),
            value: None,
        }]));
    };
    Ok(raw
        .iter()
        .filter_map(|(k, v)| {
            let i: usize = k.strip_prefix('p')?.parse().ok()?;
            Some((entry.params.get(i)?.clone(), v.to_owned()))
        })
        .collect())
}

/// The caller, on an authenticated route (`None` on an open one), or the problem that
/// refuses it (a suspended org's credentials are refused as invalid).
fn authenticate(
    gw: &Gateway,
    entry: &RouteEntry,
    headers: &http::HeaderMap,
) -> Result<Option<Principal>, Problem> {
    if !entry.spec.authenticated {
        return Ok(None);
    }
    let plugin = &entry.plugin;
    let (name, schemes) = (&plugin.name, &plugin.manifest.auth);
    let found = match gw.credentials.authenticate(name, schemes, headers) {
        // not one of the file's: perhaps one issued at runtime
        Err(AuthError::Failed(AuthFailure::InvalidCredentials)) => gw
            .control
            .directory()
            .issued()
            .authenticate(name, schemes, headers),
        other => other,
    };
    match found {
        Ok(p) if gw.control.directory().is_suspended(&p.org) => {
            // refused as the provider refuses a disabled account: its 401
            tracing::info!(org = %p.org, plugin = %plugin.name, "request of a suspended org refused");
            Err(Problem::Unauthenticated(
                types::AuthFailure::InvalidCredentials,
            ))
        }
        Ok(p) => Ok(Some(p)),
        Err(AuthError::Failed(f)) => Err(Problem::Unauthenticated(problem::auth_failure(f))),
        Err(AuthError::Ambiguous(header)) => Err(Problem::Validation(vec![types::FieldError {
            location: format!("header:{header}"),
            code: "ambiguous_credentials".into(),
            message: format!(
                "more than one credential in the request ({header}): send exactly one"
            ),
            value: None,
        }])),
    }
}

/// Turn a plugin call's outcome into the HTTP response, rendering faults and unusable
/// responses as a 500 in the plugin's format.
pub async fn respond(
    gw: &Arc<Gateway>,
    plugin: &Arc<Plugin>,
    call: &types::Request,
    result: Result<types::Response, Fault>,
) -> Response {
    let org = call.principal.as_ref().map(|p| p.org.as_str());
    match result {
        Ok(resp) => match convert::response(gw, plugin, org, resp).await {
            Ok(out) => out,
            Err(convert::ResponseError::BackupNotFound) => {
                problem::render(gw, plugin, Problem::NotFound, call).await
            }
            Err(convert::ResponseError::Storage(e)) => {
                tracing::error!(plugin = %plugin.name, error = %e, "cannot stream stored object");
                problem::render(gw, plugin, Problem::StorageUnavailable, call).await
            }
            Err(e) => {
                tracing::error!(plugin = %plugin.name, operation = %call.operation, error = %e, "unusable plugin response");
                problem::render(gw, plugin, Problem::Internal, call).await
            }
        },
        Err(fault) => {
            tracing::error!(plugin = %plugin.name, operation = %call.operation, %fault, "plugin call failed");
            problem::render(gw, plugin, Problem::Internal, call).await
        }
    }
}

/// Count the request against the route's rate classes.
pub async fn rate_limit(gw: &Gateway, entry: &RouteEntry, p: &Principal) -> Result<(), Problem> {
    if entry.spec.rate_classes.is_empty() {
        return Ok(());
    }
    let Some(limits) = gw.limits(&entry.plugin.name) else {
        return Ok(());
    };
    let classes: Vec<_> = entry
        .spec
        .rate_classes
        .iter()
        .filter_map(|c| limits.rates.get(c))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::ratelimit::hit(&gw.services.db, &entry.plugin.name, &classes, p, now)
        .await
        .map_err(|r| {
            Problem::RateLimited(types::RateLimitState {
                class: r.class,
                retry_after_seconds: r.retry_after_seconds,
                limit: r.limit,
                remaining: r.remaining,
                reset_at: r.reset_at_micros,
            })
        })
}

/// The whole body, refused beyond `limit` bytes (413) and when the client stops sending it
/// for `idle` or breaks it off (400): a request is acted on only once it has fully arrived.
async fn read_body(
    parts: &http::request::Parts,
    body: Body,
    limit: u64,
    idle: std::time::Duration,
) -> Result<Vec<u8>, Problem> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Problem::PayloadTooLarge(limit));
    }
    let stream = body
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other));
    let mut stream = crate::ingest::IdleTimeout::new(stream, idle);
    let mut out = Vec::new();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| {
            tracing::info!(error = %e, "request body unreadable");
            Problem::Validation(vec![types::FieldError {
                location: "body".into(),
                code: "unreadable".into(),
                message: "the request body could not be read to its end".into(),
                value: None,
            }])
        })?;
        if (out.len() + piece.len()) as u64 > limit {
            return Err(Problem::PayloadTooLarge(limit));
        }
        out.extend_from_slice(&piece);
    }
    Ok(out)
}

/// A mounted path with a method no plugin declared for it: 405 from the path's owner, with
/// `Allow` listing the methods the path serves (unless the plugin set it).
pub async fn wrong_method(
    gw: Arc<Gateway>,
    owner: Arc<RouteEntry>,
    allow: Arc<str>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let call = convert::request(&owner.plugin, "", &parts, Vec::new(), &request_id(&parts));
    let mut resp = problem::render(&gw, &owner.plugin, Problem::MethodNotAllowed, &call).await;
    if let Ok(v) = http::HeaderValue::from_str(&allow) {
        resp.headers_mut().entry(http::header::ALLOW).or_insert(v);
    }
    resp
}

/// No route matched: 404 rendered by the plugin whose routes share the longest literal prefix
/// with the path (when exactly one does), else plain JSON.
pub async fn no_route(gw: Arc<Gateway>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    match owner(&gw, parts.uri.path()) {
        Some(plugin) => {
            let call = convert::request(plugin, "", &parts, Vec::new(), &request_id(&parts));
            problem::render(&gw, plugin, Problem::NotFound, &call).await
        }
        None => problem::fallback(&Problem::NotFound),
    }
}

/// The plugin whose routes share the longest literal prefix with `path`, when exactly one
/// does.
fn owner<'g>(gw: &'g Gateway, path: &str) -> Option<&'g Arc<Plugin>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let score = |plugin: &Plugin| {
        plugin
            .manifest
            .routes
            .iter()
            .map(|r| {
                r.segments
                    .iter()
                    .zip(&segments)
                    .take_while(|(s, p)| matches!(s, Segment::Literal(l) if l == *p))
                    .count()
            })
            .max()
            .unwrap_or(0)
    };
    let scored: Vec<(usize, &Arc<Plugin>)> = gw.plugins.iter().map(|p| (score(p), p)).collect();
    let top = scored.iter().map(|(s, _)| *s).max().unwrap_or(0);
    let mut leaders = scored.iter().filter(|(s, _)| *s == top && top > 0);
    match (leaders.next(), leaders.next()) {
        (Some((_, plugin)), None) => Some(plugin),
        _ => None,
    }
}

/// A request head the connection guard refused (one hyper would have answered with a bare
/// status): a 400 rendered by the plugin owning its path, else plain JSON; the connection
/// closes after it.
pub async fn refused_head(gw: Arc<Gateway>, refusal: Refusal) -> Response {
    let p = refusal_problem(&gw.edge.head, &refusal.reason);
    let rid = uuid::Uuid::now_v7().to_string();
    let mut resp = match owner(&gw, &refusal.path) {
        Some(plugin) => {
            let method = refusal
                .method
                .as_deref()
                .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok())
                .unwrap_or(http::Method::GET);
            let (mut parts, ()) = http::Request::builder()
                .method(method)
                .body(())
                .unwrap_or_default()
                .into_parts();
            parts.headers.insert(
                REQUEST_ID,
                http::HeaderValue::from_str(&rid).unwrap_or(http::HeaderValue::from_static("-")),
            );
            let mut call = convert::request(plugin, "", &parts, Vec::new(), &rid);
            call.path = refusal.path.clone();
            problem::render(&gw, plugin, p, &call).await
        }
        None => problem::fallback(&p),
    };
    let headers = resp.headers_mut();
    if let Ok(v) = http::HeaderValue::from_str(&rid) {
        headers.insert(REQUEST_ID, v);
    }
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    resp
}

/// The 400 a refused request head gets: where, a code, and a message naming the limit.
fn refusal_problem(limits: &super::HeadLimits, reason: &super::guard::Reason) -> Problem {
    use super::guard::Reason;
    let (location, code, message) = match reason {
        Reason::Malformed => (
            "request",
            "malformed",
            "the request line or a header is malformed".to_owned(),
        ),
        Reason::InvalidTarget => (
            "path",
            "invalid_encoding",
            "the request target is not a valid URI (percent-encode bytes outside ASCII)".to_owned(),
        ),
        Reason::TargetTooLong => (
            "path",
            "too_long",
            format!(
                "the request target is longer than {} bytes",
                limits.max_uri_bytes
            ),
        ),
        Reason::HeadTooLarge => (
            "header",
            "too_large",
            format!(
                "the request headers are larger than {} bytes",
                limits.max_header_bytes
            ),
        ),
        Reason::TooManyHeaders => (
            "header",
            "too_many",
            format!(
                "the request has more than {} header fields",
                limits.max_headers
            ),
        ),
        Reason::InvalidContentLength => (
            "header:content-length",
            "invalid_content_length",
            "Content-Length must be given once, as one decimal number".to_owned(),
        ),
        Reason::InvalidTransferEncoding => (
            "header:transfer-encoding",
            "invalid_transfer_encoding",
            "Transfer-Encoding must end in chunked, without Content-Length, on HTTP/1.1".to_owned(),
        ),
    };
    Problem::Validation(vec![types::FieldError {
        location: location.into(),
        code: code.into(),
        message,
        value: None,
    }])
}
