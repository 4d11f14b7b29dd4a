//! The conformance mode (`--strict`): checks a plugin must pass beyond its scenarios'
//! expectations.
//!
//! 1. **Host problems in the plugin's own error format.** Every response with a host-problem
//!    status (401, 403, 404, 405, 413, 429, 500) on a path the plugin owns — from the
//!    scenario's steps, and from *probes*: the harness calls the plugin's `render-problem`
//!    directly for every such problem on every route, so 429 and 500 are checked even when no
//!    step can provoke them — must be in the plugin's declared error format:
//!    - with an OpenAPI document: the response the document gives for that status (on the
//!      route's operation, else on any operation; undocumented statuses are warnings) lists
//!      the response's media type, and the body passes the schema's shallow check (required
//!      top-level properties, top-level types; see [`crate::openapi`]);
//!    - without one: the body has the same JSON keys (every object level) as the plugin's own
//!      rendering of a 404;
//!    - always: the same media type as the plugin's other errors, and JSON that parses when
//!      that media type is JSON. A response that is the host's plain-JSON fallback (the
//!      plugin's `render-problem` trapped or answered nonsense) is named as such.
//! 2. **Coverage.** Every route of the manifest is hit by at least one step of the scenarios
//!    run together (judged per run of the CLI, or per [`crate::run_suite`]).
//! 3. **Manifest and OpenAPI agree** on paths, methods and operation ids (when the plugin
//!    ships a document).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use backup_gateway::http::Gateway;
use backup_gateway::plugins::bindings::types;
use backup_gateway::plugins::manifest::Segment;
use backup_gateway::plugins::{CallContext, Plugin};
use serde_json::Value;

use crate::openapi::{Media, OpenApi};

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
    /// The route it reached (index into [`routes`]), if any.
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
                route,
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

/// Findings of the error-format check: failures, and warnings that do not fail the run.
#[derive(Debug, Default)]
pub struct Findings {
    /// Conformance failures.
    pub failures: Vec<String>,
    /// Things worth knowing that do not fail the run (e.g. an undocumented status).
    pub warnings: Vec<String>,
}

/// Check every observed host-problem response against the plugin's declared error format.
pub fn check_errors(routes: &[Route], api: Option<&OpenApi>, observed: &[Observed]) -> Findings {
    let mut f = Findings::default();
    let relevant: Vec<&Observed> = observed
        .iter()
        .filter(|o| o.status >= 400 && (o.probe || owns(routes, &o.path)))
        .collect();
    // The plugin's error media type: the most common one among its errors.
    let mut counts: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    for o in &relevant {
        *counts.entry(o.media_type.as_deref()).or_default() += 1;
    }
    let reference_type = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .and_then(|(t, _)| *t)
        .map(str::to_string);
    // Without OpenAPI, the plugin's own 404 is its declared shape.
    let reference_shape = observed
        .iter()
        .find(|o| o.probe && o.status == 404 && o.route.is_none())
        .or_else(|| observed.iter().find(|o| o.probe && o.status == 404))
        .and_then(|o| serde_json::from_slice::<Value>(&o.body).ok())
        .map(|v| {
            let mut s = BTreeSet::new();
            shape(&v, "", &mut s);
            s
        });
    let mut undocumented = BTreeSet::new();
    for o in relevant
        .iter()
        .filter(|o| HOST_PROBLEM_STATUSES.contains(&o.status))
    {
        let what = format!("{}: {}", o.origin, o.status);
        let parsed = serde_json::from_slice::<Value>(&o.body);
        if let Ok(v) = &parsed
            && is_host_fallback(o.status, v)
            && !o.probe
        {
            f.failures.push(format!(
                "{what} is the host's plain-JSON fallback: the plugin's render-problem failed or answered an unusable response"
            ));
            continue;
        }
        if o.media_type != reference_type {
            f.failures.push(format!(
                "{what} answered with content-type {}, but the plugin's other errors use {}",
                o.media_type.as_deref().unwrap_or("(none)"),
                reference_type.as_deref().unwrap_or("(none)"),
            ));
        }
        let is_json = o.media_type.as_deref().is_some_and(|t| t.contains("json"));
        let body = match parsed {
            Ok(v) => v,
            Err(e) => {
                if is_json {
                    f.failures.push(format!(
                        "{what} body is not the JSON its content-type says: {e}"
                    ));
                }
                continue;
            }
        };
        let template = o.route.map(|i| routes[i].template.as_str());
        match api {
            Some(api) => match api.response(&o.method, template, o.status) {
                None => {
                    undocumented.insert(o.status);
                }
                Some((resp, at)) => match api.media(resp, o.media_type.as_deref().unwrap_or("")) {
                    Media::Undocumented | Media::Schema(None) => {}
                    Media::Other(listed) => f.failures.push(format!(
                        "{what} answered with {}, but the OpenAPI document ({at}) lists {}",
                        o.media_type.as_deref().unwrap_or("no content-type"),
                        listed.join(", ")
                    )),
                    Media::Schema(Some(schema)) => {
                        let mut errs = Vec::new();
                        api.check(schema, &body, &mut errs);
                        for e in errs {
                            f.failures
                                .push(format!("{what} does not fit the schema of {at}: {e}"));
                        }
                    }
                },
            },
            None => {
                if let Some(reference) = &reference_shape {
                    let mut s = BTreeSet::new();
                    shape(&body, "", &mut s);
                    if &s != reference {
                        let missing: Vec<_> = reference.difference(&s).cloned().collect();
                        let extra: Vec<_> = s.difference(reference).cloned().collect();
                        f.failures.push(format!(
                            "{what} has not the shape of the plugin's own 404 (its declared format without an OpenAPI document): missing {missing:?}, extra {extra:?}"
                        ));
                    }
                }
            }
        }
    }
    for status in undocumented {
        f.warnings.push(format!(
            "the OpenAPI document documents no {status} response anywhere; only the content-type was checked"
        ));
    }
    f
}

/// Where the manifest and the OpenAPI document disagree on paths, methods and operation ids.
pub fn agreement(routes: &[Route], api: &OpenApi) -> Vec<String> {
    let mut out = Vec::new();
    let ops = api.operations();
    let doc: BTreeMap<(String, String), Option<String>> = ops
        .iter()
        .map(|o| ((o.method.clone(), o.path.clone()), o.operation_id.clone()))
        .collect();
    let declared: BTreeMap<(String, String), String> = routes
        .iter()
        .map(|r| ((r.method.clone(), r.template.clone()), r.operation.clone()))
        .collect();
    for ((method, path), op) in &declared {
        match doc.get(&(method.clone(), path.clone())) {
            None => out.push(format!(
                "manifest route {method} {path} ({op}) is not in the OpenAPI document"
            )),
            Some(None) => out.push(format!(
                "OpenAPI {method} {path} has no operationId; the manifest says {op:?}"
            )),
            Some(Some(id)) if id != op => out.push(format!(
                "{method} {path}: the manifest's operation is {op:?}, the OpenAPI operationId is {id:?}"
            )),
            Some(Some(_)) => {}
        }
    }
    for ((method, path), id) in &doc {
        if !declared.contains_key(&(method.clone(), path.clone())) {
            out.push(format!(
                "OpenAPI operation {method} {path} ({}) is not a manifest route",
                id.as_deref().unwrap_or("no operationId")
            ));
        }
    }
    out
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
    fn manifest_and_openapi_agreement() {
        let api = OpenApi::parse(
            r#"{"paths": {"/a": {"get": {"operationId": "listA"}, "post": {"operationId": "makeA"}}, "/b": {"get": {}}}}"#,
        )
        .unwrap();
        let rs = [
            route("GET", "/a", "listA"),
            route("POST", "/a", "createA"),
            route("GET", "/c", "c"),
        ];
        let out = agreement(&rs, &api);
        assert_eq!(out.len(), 3, "{out:#?}");
        assert!(out[0].contains("GET /c"), "{out:#?}");
        assert!(out[1].contains("\"createA\""), "{out:#?}");
        assert!(out[2].contains("GET /b"), "{out:#?}");
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
