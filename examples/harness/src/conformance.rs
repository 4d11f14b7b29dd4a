//! The conformance mode (`--strict`): checks a plugin must pass beyond its scenarios'
//! expectations.
//!
//! 1. **Every response against the plugin's OpenAPI document.** Every response on a path the
//!    plugin owns — each scenario step's, success or error, and each *probe*'s: the harness
//!    calls the plugin's `render-problem` directly for every host problem (401, 403, 404, 405,
//!    413, 429, 500) on every route, so 429 and 500 are checked even when no step can provoke
//!    them — is compared with the response the document gives for its status (the
//!    operation's exact code, its range such as `4XX`, or its `default`): the media type must
//!    be listed, a body present exactly when the document gives one, and a JSON body must
//!    validate against the full schema (nested objects, `required`, `enum`, formats, `oneOf`
//!    …; see [`backup_gateway::plugins::openapi`]). A step's success status its operation
//!    does not document fails, and so does a step's error status documented nowhere; an
//!    error documented only on another operation is checked against that one, with a
//!    warning; a probe's status documented nowhere is a warning.
//! 2. **Without a document**, every error keeps the plugin's declared format: the media type
//!    of its other errors, JSON that parses when that type is JSON, and the same JSON keys
//!    (every object level) as its own rendering of a 404.
//! 3. **Always**: a step's error that is the host's plain-JSON fallback (the plugin's
//!    `render-problem` trapped or answered nonsense) fails, named as such; a probe that
//!    traps or renders another status than the host's fails.
//! 4. **Coverage.** Every route of the manifest is hit by at least one step of the scenarios
//!    run together (judged per run of the CLI, or per [`crate::run_suite`]).
//! 5. **The document itself**: it parses, its schemas compile, and its operations are exactly
//!    the manifest's routes (paths, methods, operation ids) — the same findings as
//!    `backup-gateway check`.
//!
//! A finding seen in several responses is reported once, with the first place it was seen.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use backup_gateway::gateway::Gateway;
use backup_gateway::plugins::bindings::types;
use backup_gateway::plugins::manifest::Segment;
use backup_gateway::plugins::{CallContext, Plugin};
use serde_json::Value;

use backup_gateway::plugins::openapi::{Lookup, OpenApi};

/// Statuses of host-raised problems whose rendering the conformance mode checks.
pub const HOST_PROBLEM_STATUSES: [u16; 7] = [401, 403, 404, 405, 413, 429, 500];

/// A route of the plugin's manifest.
#[derive(Debug, Clone)]
pub struct Route {
    /// Method, upper-case.
    pub method: String,
    /// Path template as declared.
    pub template: String,
    /// Operation id.
    pub operation: String,
    segments: Vec<Segment>,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.template, self.operation)
    }
}

/// The manifest's routes.
pub fn routes(plugin: &Plugin) -> Vec<Route> {
    plugin
        .manifest
        .routes
        .iter()
        .map(|r| Route {
            method: r.method.as_str().to_string(),
            template: r.template.clone(),
            operation: r.operation.clone(),
            segments: r.segments.clone(),
        })
        .collect()
}

/// The route a request would reach: `method` must match when given; among templates matching
/// the path, literal segments win over parameters (as in the host's router).
pub fn match_route(routes: &[Route], method: Option<&str>, path: &str) -> Option<usize> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let fits = |r: &Route| {
        r.segments.len() == parts.len()
            && r.segments.iter().zip(&parts).all(|(s, p)| match s {
                Segment::Literal(l) => l == p,
                Segment::Param(_) => !p.is_empty(),
            })
    };
    let rank = |r: &Route| -> Vec<bool> {
        r.segments
            .iter()
            .map(|s| matches!(s, Segment::Literal(_)))
            .collect()
    };
    routes
        .iter()
        .enumerate()
        .filter(|(_, r)| method.is_none_or(|m| r.method.eq_ignore_ascii_case(m)) && fits(r))
        .max_by(|(_, a), (_, b)| rank(a).cmp(&rank(b)))
        .map(|(i, _)| i)
}

/// Whether the host would let this plugin answer for `path`: a route shares its first literal
/// segment (the host answers paths nobody owns with its own plain JSON).
pub fn owns(routes: &[Route], path: &str) -> bool {
    let first = path
        .trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    routes
        .iter()
        .any(|r| matches!(r.segments.first(), Some(Segment::Literal(l)) if l == first))
}

/// One response the conformance mode looks at.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Where it came from: `step 3 (GET /x)` or `probe not-found on getJob`.
    pub origin: String,
    /// Method of the request, upper-case.
    pub method: String,
    /// Path of the request.
    pub path: String,
    /// The route whose operation answered (index into [`routes`]): method and path matched.
    /// `None` for a path no route matches or a method the path does not have (404, 405).
    pub route: Option<usize>,
    /// Status code.
    pub status: u16,
    /// Media type, lower-case, without parameters.
    pub media_type: Option<String>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Whether this is a probe (a direct `render-problem` call).
    pub probe: bool,
}

/// The media type of a `content-type` value.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The problems probed, by name.
fn problems() -> Vec<(&'static str, types::Problem)> {
    use types::{AuthFailure as A, Problem as P};
    vec![
        ("unauthenticated(missing)", P::Unauthenticated(A::Missing)),
        (
            "unauthenticated(unsupported-scheme)",
            P::Unauthenticated(A::UnsupportedScheme),
        ),
        (
            "unauthenticated(malformed-encoding)",
            P::Unauthenticated(A::MalformedEncoding),
        ),
        (
            "unauthenticated(malformed-credentials)",
            P::Unauthenticated(A::MalformedCredentials),
        ),
        (
            "unauthenticated(invalid-credentials)",
            P::Unauthenticated(A::InvalidCredentials),
        ),
        (
            "unauthenticated(expired-credentials)",
            P::Unauthenticated(A::ExpiredCredentials),
        ),
        ("forbidden", P::Forbidden("harness:scope".into())),
        ("not-found", P::NotFound),
        ("method-not-allowed", P::MethodNotAllowed),
        ("payload-too-large", P::PayloadTooLarge(1024)),
        ("quota-exceeded", P::QuotaExceeded),
        (
            "rate-limited",
            P::RateLimited(types::RateLimitState {
                class: "harness".into(),
                retry_after_seconds: 30,
                limit: 1,
                remaining: 0,
                reset_at: 1_775_960_130_000_000,
            }),
        ),
        ("internal", P::Internal),
    ]
}

/// The status the host sends a problem with (`backup_gateway::http::problem::status`).
fn problem_status(p: &types::Problem) -> u16 {
    backup_gateway::http::problem::status(p).as_u16()
}

/// A concrete path for a template: every `{param}` becomes `probe`.
fn sample_path(r: &Route) -> String {
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

fn wit_method(m: &str) -> types::Method {
    match m {
        "HEAD" => types::Method::Head,
        "POST" => types::Method::Post,
        "PUT" => types::Method::Put,
        "PATCH" => types::Method::Patch,
        "DELETE" => types::Method::Delete,
        _ => types::Method::Get,
    }
}

/// Call the plugin's `render-problem` for every host problem on every route (and on an
/// unrouted path under the plugin's first route), as the host would. Calls that fault are
/// reported as failures.
pub async fn probe(
    gw: &Arc<Gateway>,
    plugin: &Arc<Plugin>,
    routes: &[Route],
    org: &str,
) -> (Vec<Observed>, Vec<String>) {
    let mut targets: Vec<(Option<usize>, String, String)> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| (Some(i), r.method.clone(), sample_path(r)))
        .collect();
    if let Some(Segment::Literal(first)) = routes.first().and_then(|r| r.segments.first()) {
        targets.push((None, "GET".into(), format!("/{first}/harness-unrouted/x")));
    }
    let mut observed = Vec::new();
    let mut failures = Vec::new();
    for (route, method, path) in targets {
        let operation = route
            .map(|i| routes[i].operation.clone())
            .unwrap_or_default();
        for (name, problem) in problems() {
            let status = problem_status(&problem);
            if !HOST_PROBLEM_STATUSES.contains(&status) {
                continue;
            }
            // A 405 concerns the path, not a route's operation (as the host sends it).
            let operation = if matches!(problem, types::Problem::MethodNotAllowed) {
                String::new()
            } else {
                operation.clone()
            };
            let principal = (!matches!(problem, types::Problem::Unauthenticated(_))).then(|| {
                types::Principal {
                    org: org.into(),
                    subject: "harness".into(),
                    scopes: Vec::new(),
                }
            });
            let req = types::Request {
                operation: operation.clone(),
                method: wit_method(&method),
                path: path.clone(),
                params: Vec::new(),
                query: Vec::new(),
                headers: Vec::new(),
                body: Vec::new(),
                principal,
                request_id: "0196a0b0-0000-4000-8000-000000000000".into(),
                received_at: 1_775_960_100_000_000,
            };
            let ctx = CallContext {
                plugin: plugin.name.clone(),
                org: req.principal.as_ref().map(|p| p.org.clone()),
                subject: req.principal.as_ref().map(|p| p.subject.clone()),
                request_id: req.request_id.clone(),
                services: Some(gw.services.clone()),
                rt: Some(tokio::runtime::Handle::current()),
            };
            let (p, r) = (problem.clone(), req.clone());
            let origin = format!(
                "probe {name} on {}",
                if operation.is_empty() {
                    format!("{method} {path}")
                } else {
                    operation.clone()
                }
            );
            let result = plugin
                .call(ctx, move |prov, store| {
                    prov.call_render_problem(store, &p, &r)
                })
                .await;
            let resp = match result {
                Ok(resp) => resp,
                Err(fault) => {
                    failures.push(format!("{origin}: render-problem failed: {fault}"));
                    continue;
                }
            };
            if resp.status != status {
                failures.push(format!(
                    "{origin}: rendered with status {}, but the host sends this problem as {status}",
                    resp.status
                ));
            }
            let content_type = resp
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| media_type(v));
            let body = match resp.body {
                types::Body::Bytes(b) => b,
                types::Body::Empty => Vec::new(),
                types::Body::Backup(_) => {
                    failures.push(format!("{origin}: answered with a stored backup"));
                    continue;
                }
            };
            observed.push(Observed {
                origin,
                method: method.clone(),
                path: path.clone(),
                // A 405 answers a method the path does not have: no operation's.
                route: route.filter(|_| !matches!(problem, types::Problem::MethodNotAllowed)),
                status: resp.status,
                media_type: content_type,
                body,
                probe: true,
            });
        }
    }
    (observed, failures)
}

/// The key paths of every object level of a JSON value (arrays' contents are not looked at).
fn shape(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(map) = v {
        for (k, child) in map {
            let path = format!("{prefix}/{k}");
            shape(child, &path, out);
            out.insert(path);
        }
    }
}

/// The body the host sends when the plugin cannot render a problem.
fn is_host_fallback(status: u16, body: &Value) -> bool {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error");
    *body == serde_json::json!({ "error": { "status": status, "message": reason } })
}

/// Findings of the response checks: failures, and warnings that do not fail the run.
#[derive(Debug, Default)]
pub struct Findings {
    /// Conformance failures.
    pub failures: Vec<String>,
    /// Things worth knowing that do not fail the run (e.g. a probe status documented nowhere).
    pub warnings: Vec<String>,
}

impl Findings {
    /// One failure per distinct message: the same finding seen in several responses is said
    /// once, with where it was first seen and how many saw it.
    fn grouped(found: Vec<(String, String)>) -> Vec<String> {
        let mut order: Vec<String> = Vec::new();
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (origin, message) in found {
            let origins = seen.entry(message.clone()).or_default();
            if origins.is_empty() {
                order.push(message);
            }
            origins.push(origin);
        }
        order
            .into_iter()
            .map(|message| {
                let origins = &seen[&message];
                match origins.len() {
                    1 => format!("{}: {message}", origins[0]),
                    n => format!("{} (and {} more like it): {message}", origins[0], n - 1),
                }
            })
            .collect()
    }
}

/// What the plugin's errors look like when it ships no OpenAPI document: the media type most
/// of them use, and the JSON key paths of its own rendering of a 404.
struct DeclaredFormat {
    media_type: Option<String>,
    shape: Option<BTreeSet<String>>,
}

impl DeclaredFormat {
    fn of(observed: &[&Observed]) -> DeclaredFormat {
        let mut counts: BTreeMap<Option<&str>, usize> = BTreeMap::new();
        for o in observed.iter().filter(|o| o.status >= 400) {
            *counts.entry(o.media_type.as_deref()).or_default() += 1;
        }
        let media_type = counts
            .iter()
            .max_by_key(|(_, n)| **n)
            .and_then(|(t, _)| *t)
            .map(str::to_string);
        let shape = observed
            .iter()
            .find(|o| o.probe && o.status == 404 && o.route.is_none())
            .or_else(|| observed.iter().find(|o| o.probe && o.status == 404))
            .and_then(|o| serde_json::from_slice::<Value>(&o.body).ok())
            .map(|v| {
                let mut s = BTreeSet::new();
                shape(&v, "", &mut s);
                s
            });
        DeclaredFormat { media_type, shape }
    }

    /// An error response against the declared format (no document to judge it by).
    fn check(&self, o: &Observed) -> Vec<String> {
        let mut out = Vec::new();
        if o.media_type != self.media_type {
            out.push(format!(
                "{} answered with content-type {}, but the plugin's other errors use {}",
                o.status,
                o.media_type.as_deref().unwrap_or("(none)"),
                self.media_type.as_deref().unwrap_or("(none)"),
            ));
        }
        let is_json = o.media_type.as_deref().is_some_and(|t| t.contains("json"));
        match serde_json::from_slice::<Value>(&o.body) {
            Err(e) if is_json => out.push(format!(
                "{} body is not the JSON its content-type says: {e}",
                o.status
            )),
            Err(_) => {}
            Ok(body) => {
                if let Some(reference) = &self.shape {
                    let mut s = BTreeSet::new();
                    shape(&body, "", &mut s);
                    if &s != reference {
                        let missing: Vec<_> = reference.difference(&s).cloned().collect();
                        let extra: Vec<_> = s.difference(reference).cloned().collect();
                        out.push(format!(
                            "{} has not the shape of the plugin's own 404 (its declared format without an OpenAPI document): missing {missing:?}, extra {extra:?}",
                            o.status
                        ));
                    }
                }
            }
        }
        out
    }
}

/// Check every observed response on the plugin's paths, steps' and probes' alike.
///
/// With an OpenAPI document, each response is compared with the one the document gives for
/// its status ([`OpenApi::response`]: the operation's exact code, range or `default`, else
/// another operation's), media type and full schema. A step's success status its operation
/// does not document fails; so does a step's error status the document describes nowhere
/// (a probe's is a warning: the host could send it, no step did). An error the operation
/// does not document but another operation does is checked against that one, with a warning.
/// Without a document, errors must keep the plugin's declared format ([`DeclaredFormat`]).
/// Either way a step's error that is the host's plain-JSON fallback fails.
pub fn check_responses(routes: &[Route], api: Option<&OpenApi>, observed: &[Observed]) -> Findings {
    let relevant: Vec<&Observed> = observed
        .iter()
        .filter(|o| o.probe || owns(routes, &o.path))
        .collect();
    let declared = DeclaredFormat::of(&relevant);
    let mut found: Vec<(String, String)> = Vec::new();
    let mut warnings = BTreeSet::new();
    for o in relevant {
        if o.status >= 400
            && !o.probe
            && serde_json::from_slice::<Value>(&o.body)
                .is_ok_and(|v| is_host_fallback(o.status, &v))
        {
            found.push((
                o.origin.clone(),
                format!("{} is the host's plain-JSON fallback: the plugin's render-problem failed or answered an unusable response", o.status),
            ));
            continue;
        }
        let messages = match api {
            Some(api) => against_document(api, routes, o, &mut warnings),
            None if o.status >= 400 => declared.check(o),
            None => Vec::new(),
        };
        found.extend(messages.into_iter().map(|m| (o.origin.clone(), m)));
    }
    Findings {
        failures: Findings::grouped(found),
        warnings: warnings.into_iter().collect(),
    }
}

/// One response against the document; warnings go to `warnings` (each said once).
fn against_document(
    api: &OpenApi,
    routes: &[Route],
    o: &Observed,
    warnings: &mut BTreeSet<String>,
) -> Vec<String> {
    let route = o.route.map(|i| &routes[i]);
    let operation = route.map_or_else(
        || format!("{} {}", o.method, o.path),
        |r| format!("{} {} ({})", r.method, r.template, r.operation),
    );
    let documented = match api.response(&o.method, route.map(|r| r.template.as_str()), o.status) {
        Lookup::Operation(d) => d,
        Lookup::Elsewhere(_) if o.status < 400 => {
            return vec![format!(
                "{} is not a status its operation {operation} documents",
                o.status
            )];
        }
        Lookup::Elsewhere(d) => {
            if route.is_some() && !o.probe {
                warnings.insert(format!(
                    "{operation} documents no {} response; its {} was checked against {}",
                    o.status, o.status, d.at
                ));
            }
            d
        }
        Lookup::Nowhere if o.probe => {
            warnings.insert(format!(
                "the OpenAPI document documents no {} response anywhere (nor a range or a default); the host can send one",
                o.status
            ));
            return Vec::new();
        }
        Lookup::Nowhere => {
            return vec![format!(
                "{} is a status the OpenAPI document describes nowhere (no operation documents it, a range or a default)",
                o.status
            )];
        }
    };
    if o.method == "HEAD" {
        return Vec::new();
    }
    api.check_response(&documented, o.media_type.as_deref(), &o.body)
        .into_iter()
        .map(|m| format!("{}: {m}", o.status))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, template: &str, op: &str) -> Route {
        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(p) => Segment::Param(p.into()),
                    None => Segment::Literal(s.into()),
                },
            )
            .collect();
        Route {
            method: method.into(),
            template: template.into(),
            operation: op.into(),
            segments,
        }
    }

    #[test]
    fn literal_segments_win() {
        let rs = [
            route("GET", "/backup/{site}/{file}", "get"),
            route("GET", "/backup/{site}/subnets", "subnets"),
            route("GET", "/backup/{site}", "list"),
            route("GET", "/api/backups/", "empty"),
        ];
        assert_eq!(match_route(&rs, Some("GET"), "/backup/s/subnets"), Some(1));
        assert_eq!(
            match_route(&rs, Some("GET"), "/backup/s/x.rsc?y=1"),
            Some(0)
        );
        assert_eq!(match_route(&rs, Some("POST"), "/backup/s"), None);
        assert_eq!(match_route(&rs, None, "/backup/s"), Some(2));
        assert_eq!(match_route(&rs, None, "/backup/"), None);
        assert_eq!(match_route(&rs, None, "/api/backups/"), Some(3));
        assert!(owns(&rs, "/backup/nothing/here/at/all"));
        assert!(!owns(&rs, "/nobody/home"));
    }

    #[test]
    fn fallback_is_recognised() {
        assert!(is_host_fallback(
            404,
            &serde_json::json!({"error": {"status": 404, "message": "Not Found"}})
        ));
        assert!(!is_host_fallback(
            404,
            &serde_json::json!({"error": {"status": 404, "reason": "not_found", "message": "Not Found"}})
        ));
    }
}
