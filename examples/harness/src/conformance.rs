//! The conformance mode (`--strict`): checks a plugin must pass beyond its scenarios'
//! expectations.
//!
//! 1. **Every response against the plugin's OpenAPI document.** Every response on a path the
//!    plugin owns — each scenario step's, success or error, and each *probe*'s: the host's
//!    [`backup_gateway::plugins::problems::probe`] calls the plugin's `render-problem` for
//!    every host problem (401 in each wording, 403, 404, 405, 413, 429, 500) on every route,
//!    so 429 and 500 are checked even when no step can provoke them — is judged by the
//!    host's [`backup_gateway::plugins::openapi::judge`]: the response the document gives for
//!    its status (the operation's exact code, its range such as `4XX`, or its `default`),
//!    its media type, a body exactly when the document gives one, and the full schema. The
//!    probes and the judge are the ones `backup-gateway check` runs, so `check` and strict
//!    mode cannot disagree on them.
//! 2. **Without a document**, every error keeps the plugin's declared format: the media type
//!    of its other errors, JSON that parses when that type is JSON, and the same JSON keys
//!    (every object level) as its own rendering of a 404.
//! 3. **Always**: a step's error that is the host's plain-JSON fallback (the plugin's
//!    `render-problem` trapped or answered nonsense) fails, named as such; a probe that
//!    traps (said on one line) or renders another status than the host's fails.
//! 4. **Coverage.** Every route of the manifest is hit by at least one step of the scenarios
//!    run together (judged per run of the CLI, or per [`crate::run_suite`]).
//! 5. **The document itself**: it parses, its schemas compile, and its operations are exactly
//!    the manifest's routes (paths, methods, operation ids) — the findings of `backup-gateway
//!    check` ([`backup_gateway::plugins::openapi::Document`]).
//!
//! A finding seen in several responses is reported once, with the first place it was seen
//! and how many more showed it. A plugin that never loaded is not passed: its conformance is
//! "not checked".

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use backup_gateway::gateway::Gateway;
use backup_gateway::plugins::manifest::Segment;
use backup_gateway::plugins::openapi::OpenApi;
use backup_gateway::plugins::openapi::judge::{self, Findings};
use backup_gateway::plugins::problems::{self, ProbeHost, Probes};
use backup_gateway::plugins::{Plugin, RouteSpec};
use serde_json::Value;

pub use backup_gateway::plugins::openapi::judge::Observed;
pub use backup_gateway::plugins::problems::media_type;

/// A route as findings name it: `GET /hello/greetings/{name} (greet)`.
pub fn describe(r: &RouteSpec) -> String {
    format!("{} {} ({})", r.method, r.template, r.operation)
}

/// The route a request would reach: `method` must match when given; among templates matching
/// the path, literal segments win over parameters (as in the host's router).
pub fn match_route(routes: &[RouteSpec], method: Option<&str>, path: &str) -> Option<usize> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let fits = |r: &RouteSpec| {
        r.segments.len() == parts.len()
            && r.segments.iter().zip(&parts).all(|(s, p)| match s {
                Segment::Literal(l) => l == p,
                Segment::Param(_) => !p.is_empty(),
            })
    };
    let rank = |r: &RouteSpec| -> Vec<bool> {
        r.segments
            .iter()
            .map(|s| matches!(s, Segment::Literal(_)))
            .collect()
    };
    routes
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            method.is_none_or(|m| r.method.as_str().eq_ignore_ascii_case(m)) && fits(r)
        })
        .max_by(|(_, a), (_, b)| rank(a).cmp(&rank(b)))
        .map(|(i, _)| i)
}

/// Whether the host would let this plugin answer for `path`: a route shares its first literal
/// segment (the host answers paths nobody owns with its own plain JSON).
pub fn owns(routes: &[RouteSpec], path: &str) -> bool {
    let first = path
        .trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    routes
        .iter()
        .any(|r| matches!(r.segments.first(), Some(Segment::Literal(l)) if l == first))
}

/// The render-problem probes of the host ([`problems::probe`], the ones `backup-gateway check`
/// runs), with the scenario's gateway behind their imports.
pub async fn probe(gw: &Arc<Gateway>, plugin: &Arc<Plugin>, org: &str) -> Probes {
    let host = ProbeHost {
        org: org.to_string(),
        services: Some((gw.services.clone(), tokio::runtime::Handle::current())),
    };
    let plugin = plugin.clone();
    let run = move || problems::probe(&plugin, &plugin.manifest.routes, &host);
    tokio::task::spawn_blocking(run)
        .await
        .unwrap_or_else(|e| Probes {
            failures: vec![("the probes".into(), format!("did not finish: {e}"))],
            ..Probes::default()
        })
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

/// Check every observed response on the plugin's paths, steps' and probes' alike, with the
/// probes' own failures (`found`, as `(origin, message)`) said among them.
///
/// With an OpenAPI document each response is judged by it ([`judge::judge`], the judge
/// `backup-gateway check` uses). Without one, errors must keep the plugin's declared format
/// ([`DeclaredFormat`]). Either way a step's error that is the host's plain-JSON fallback
/// fails. Each finding is said once ([`Findings::grouped`]).
pub fn check_responses(
    routes: &[RouteSpec],
    api: Option<&OpenApi>,
    observed: &[Observed],
    mut found: Vec<(String, String)>,
) -> Findings {
    let relevant: Vec<&Observed> = observed
        .iter()
        .filter(|o| o.probe || owns(routes, &o.path))
        .collect();
    let declared = DeclaredFormat::of(&relevant);
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
        match api {
            Some(api) => found.extend(judge::judge(api, routes, o, &mut warnings)),
            None if o.status >= 400 => {
                found.extend(declared.check(o).into_iter().map(|m| (o.origin.clone(), m)));
            }
            None => {}
        }
    }
    Findings {
        failures: Findings::grouped(found),
        warnings: warnings.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, template: &str, op: &str) -> RouteSpec {
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
        RouteSpec {
            method: method.parse().expect("a method"),
            template: template.into(),
            segments,
            operation: op.into(),
            authenticated: true,
            scope: None,
            body: backup_gateway::plugins::BodyMode::None,
            rate_classes: Vec::new(),
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
