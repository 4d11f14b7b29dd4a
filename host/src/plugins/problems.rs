//! The host's problems from the plugin's side: the status each one is sent with, and the
//! *probes* — the plugin's `render-problem` called for every host problem (401 in each of its
//! wordings, 403, 404, 405, 413, 429, 500) on every route, as the host would call it — that
//! `backup-gateway check` and the harness's strict mode both run and judge by the plugin's
//! OpenAPI document ([`super::openapi::judge`]), so the two cannot disagree.
//!
//! A probe fails outright when the call faults (said on one line, see [`super::Fault`]), when
//! the rendering has another status than the host sends the problem with, or when it answers
//! with a stored backup.

use std::sync::Arc;

use http::StatusCode;

use super::bindings::types::{self, AuthFailure, Problem};
use super::manifest::{RouteSpec, Segment, wit_method};
use super::openapi::judge::Observed;
use super::{CallContext, Plugin};
use crate::services::Services;

/// The status a problem means: the one the host sends the plugin's rendering with.
pub fn status(p: &Problem) -> StatusCode {
    match p {
        Problem::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Problem::Forbidden(_) => StatusCode::FORBIDDEN,
        Problem::NotFound => StatusCode::NOT_FOUND,
        Problem::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Problem::Validation(_) | Problem::LengthMismatch(_) => StatusCode::BAD_REQUEST,
        Problem::LengthRequired => StatusCode::LENGTH_REQUIRED,
        Problem::PayloadTooLarge(_) | Problem::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
        Problem::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        Problem::Conflict(_) => StatusCode::CONFLICT,
        Problem::StorageUnavailable | Problem::QuotaUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Problem::StorageFailed => StatusCode::BAD_GATEWAY,
        Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The statuses of the probed problems.
pub const PROBED_STATUSES: [u16; 7] = [401, 403, 404, 405, 413, 429, 500];

/// The problems probed, by the name a finding gives them.
pub fn probed() -> Vec<(&'static str, Problem)> {
    use AuthFailure as A;
    let unauthenticated = [
        ("unauthenticated(missing)", A::Missing),
        ("unauthenticated(unsupported-scheme)", A::UnsupportedScheme),
        ("unauthenticated(malformed-encoding)", A::MalformedEncoding),
        (
            "unauthenticated(malformed-credentials)",
            A::MalformedCredentials,
        ),
        (
            "unauthenticated(invalid-credentials)",
            A::InvalidCredentials,
        ),
        (
            "unauthenticated(expired-credentials)",
            A::ExpiredCredentials,
        ),
    ];
    let rate = types::RateLimitState {
        class: "probe".into(),
        retry_after_seconds: 30,
        limit: 1,
        remaining: 0,
        reset_at: 1_775_960_130_000_000,
    };
    let mut out: Vec<(&'static str, Problem)> = unauthenticated
        .into_iter()
        .map(|(name, f)| (name, Problem::Unauthenticated(f)))
        .collect();
    out.extend([
        ("forbidden", Problem::Forbidden("probe:scope".into())),
        ("not-found", Problem::NotFound),
        ("method-not-allowed", Problem::MethodNotAllowed),
        ("payload-too-large", Problem::PayloadTooLarge(1024)),
        ("quota-exceeded", Problem::QuotaExceeded),
        ("rate-limited", Problem::RateLimited(rate)),
        ("internal", Problem::Internal),
    ]);
    out
}

/// What the probes saw: the renderings, and the probes that failed as `(origin, message)`
/// (for [`super::openapi::judge::Findings::grouped`]).
#[derive(Debug, Default)]
pub struct Probes {
    /// How many probes were sent.
    pub sent: usize,
    /// Every rendering that came back, to be judged.
    pub observed: Vec<Observed>,
    /// Probes that faulted, rendered another status, or answered a stored backup.
    pub failures: Vec<(String, String)>,
}

/// What a probe's calls may reach: the caller's org and, when there is a gateway behind the
/// run (the harness), its services for the imports. Without them (`check`) an import that
/// needs the database answers as if nothing were stored.
#[derive(Clone)]
pub struct ProbeHost {
    /// The org the principal of an authenticated probe belongs to.
    pub org: String,
    /// The services and the runtime the imports block on.
    pub services: Option<(Arc<Services>, tokio::runtime::Handle)>,
}

/// Where one round of probes is sent.
struct Target {
    /// The route (index into the manifest's routes); `None` for an unrouted path.
    route: Option<usize>,
    method: http::Method,
    path: String,
}

/// Every route, with a concrete path, and an unrouted path under the first route's first
/// literal segment (the host's 404 for a path the plugin owns but no route matches).
fn targets(routes: &[RouteSpec]) -> Vec<Target> {
    let mut out: Vec<Target> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| Target {
            route: Some(i),
            method: r.method.clone(),
            path: sample_path(r),
        })
        .collect();
    if let Some(Segment::Literal(first)) = routes.first().and_then(|r| r.segments.first()) {
        out.push(Target {
            route: None,
            method: http::Method::GET,
            path: format!("/{first}/probe-unrouted/x"),
        });
    }
    out
}

/// A concrete path for a route's template: every `{param}` becomes `probe`.
fn sample_path(r: &RouteSpec) -> String {
    let mut out = String::new();
    for s in &r.segments {
        out.push('/');
        match s {
            Segment::Literal(l) => out.push_str(l),
            Segment::Param(_) => out.push_str("probe"),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Call `plugin`'s `render-problem` for every probed problem on every target, each in a
/// fresh instance, on the current (blocking) thread.
pub fn probe(plugin: &Plugin, routes: &[RouteSpec], host: &ProbeHost) -> Probes {
    let mut out = Probes::default();
    for target in targets(routes) {
        let operation = target
            .route
            .map(|i| routes[i].operation.clone())
            .unwrap_or_default();
        for (name, problem) in probed() {
            out.sent += 1;
            probe_one(plugin, host, &target, &operation, name, problem, &mut out);
        }
    }
    out
}

/// One probe: the request the host would pass, the call, and what came back.
fn probe_one(
    plugin: &Plugin,
    host: &ProbeHost,
    target: &Target,
    operation: &str,
    name: &str,
    problem: Problem,
    out: &mut Probes,
) {
    // A 405 concerns the path, not a route's operation (as the host sends it).
    let not_allowed = matches!(problem, Problem::MethodNotAllowed);
    let operation = if not_allowed { "" } else { operation };
    let origin = if operation.is_empty() {
        format!("probe {name} on {} {}", target.method, target.path)
    } else {
        format!("probe {name} on {operation}")
    };
    let req = request(host, target, operation, &problem);
    let ctx = context(plugin, host, &req);
    let want = status(&problem).as_u16();
    let resp =
        match plugin.call_blocking(ctx, |g, store| g.call_render_problem(store, &problem, &req)) {
            Ok(resp) => resp,
            Err(fault) => {
                out.failures
                    .push((origin, format!("render-problem failed: {fault}")));
                return;
            }
        };
    if resp.status != want {
        out.failures.push((
            origin.clone(),
            format!(
                "rendered with status {}, but the host sends this problem as {want}",
                resp.status
            ),
        ));
    }
    let body = match resp.body {
        types::Body::Bytes(b) => b,
        types::Body::Empty => Vec::new(),
        types::Body::Backup(_) => {
            out.failures
                .push((origin, "answered with a stored backup".into()));
            return;
        }
    };
    out.observed.push(Observed {
        origin,
        method: target.method.as_str().to_string(),
        path: target.path.clone(),
        // A 405 answers a method the path does not have: no operation's.
        route: target.route.filter(|_| !not_allowed),
        status: resp.status,
        media_type: content_type(&resp.headers),
        body,
        probe: true,
    });
}

/// The request a probe passes: a principal unless the problem is that there is none.
fn request(host: &ProbeHost, target: &Target, operation: &str, p: &Problem) -> types::Request {
    let principal = (!matches!(p, Problem::Unauthenticated(_))).then(|| types::Principal {
        org: host.org.clone(),
        subject: "probe".into(),
        scopes: Vec::new(),
    });
    types::Request {
        operation: operation.to_string(),
        method: wit_method(&target.method),
        path: target.path.clone(),
        params: Vec::new(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
        principal,
        request_id: "0196a0b0-0000-4000-8000-000000000000".into(),
        received_at: 1_775_960_100_000_000,
    }
}

fn context(plugin: &Plugin, host: &ProbeHost, req: &types::Request) -> CallContext {
    CallContext {
        plugin: plugin.name.clone(),
        org: req.principal.as_ref().map(|p| p.org.clone()),
        subject: req.principal.as_ref().map(|p| p.subject.clone()),
        request_id: req.request_id.clone(),
        services: host.services.as_ref().map(|(s, _)| s.clone()),
        rt: host.services.as_ref().map(|(_, rt)| rt.clone()),
    }
}

/// The media type of a response's `content-type` (lower-case, without parameters).
fn content_type(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| media_type(v))
}

/// The media type of a `content-type` value: lower-case, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_probed_problem_has_a_probed_status() {
        let statuses: std::collections::BTreeSet<u16> =
            probed().iter().map(|(_, p)| status(p).as_u16()).collect();
        assert_eq!(statuses.into_iter().collect::<Vec<_>>(), PROBED_STATUSES);
        assert_eq!(probed().len(), 13);
    }

    #[test]
    fn media_types_lose_their_parameters() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            "application/json"
        );
        assert_eq!(media_type(""), "");
    }
}
