//! Responses judged by the document, the one way `backup-gateway check` (the probes) and the
//! harness's strict mode (its scenarios' steps and the probes) both judge them: an
//! [`Observed`] response against the response the document gives for its status
//! ([`judge`]), and findings said once however many responses showed them
//! ([`Findings::grouped`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{Lookup, OpenApi};
use crate::plugins::manifest::RouteSpec;
use crate::plugins::problems::Probes;

/// One response to judge.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Where it came from: `step 3 (GET /x) of hello` or `probe not-found on greet`.
    pub origin: String,
    /// Method of the request, upper-case.
    pub method: String,
    /// Path of the request.
    pub path: String,
    /// The route whose operation answered (index into the manifest's routes): method and
    /// path matched. `None` for a path no route matches or a method the path does not have.
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

/// Findings: failures, and warnings that do not fail.
#[derive(Debug, Default)]
pub struct Findings {
    /// What fails the check, each said once.
    pub failures: Vec<String>,
    /// Things worth knowing that do not fail (e.g. a probe's status documented nowhere).
    pub warnings: Vec<String>,
}

impl Findings {
    /// One failure per distinct message: the same finding seen in several responses is said
    /// once, with where it was first seen and how many more saw it.
    pub fn grouped(found: Vec<(String, String)>) -> Vec<String> {
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

    /// What `backup-gateway check` says of the probes: their own failures and, with a
    /// document, each rendering judged by it.
    pub fn of_probes(api: Option<&OpenApi>, routes: &[RouteSpec], probes: Probes) -> Findings {
        let mut found = probes.failures;
        let mut warnings = BTreeSet::new();
        if let Some(api) = api {
            for o in &probes.observed {
                found.extend(judge(api, routes, o, &mut warnings));
            }
        }
        Findings {
            failures: Findings::grouped(found),
            warnings: warnings.into_iter().collect(),
        }
    }
}

/// One response against the document: what is wrong with it, as `(where, what)` pairs for
/// [`Findings::grouped`]. Where the response is documented is part of *where* (`probe
/// rate-limited on greet → 429 against GET /greet responses.default`), so the same violation
/// on several statuses or routes is one finding. Warnings go to `warnings`, each said once.
///
/// The document's response for the status is looked up on the request's operation (exact
/// code, range, `default`), else on another operation ([`OpenApi::response`]). A success
/// status its operation does not document fails; an error documented only on another
/// operation is judged by that one (a warning, for a step on a route); a status documented
/// nowhere fails for a step and is a warning for a probe (the host could send it, no step
/// did). HEAD responses are judged by their status only.
pub fn judge(
    api: &OpenApi,
    routes: &[RouteSpec],
    o: &Observed,
    warnings: &mut BTreeSet<String>,
) -> Vec<(String, String)> {
    let route = o.route.and_then(|i| routes.get(i));
    let operation = route.map_or_else(
        || format!("{} {}", o.method, o.path),
        |r| format!("{} {} ({})", r.method, r.template, r.operation),
    );
    let status = o.status;
    let fails = |message: String| vec![(o.origin.clone(), message)];
    let documented = match api.response(&o.method, route.map(|r| r.template.as_str()), status) {
        Lookup::Operation(d) => d,
        Lookup::Elsewhere(_) if status < 400 => {
            return fails(format!(
                "{status} is not a status its operation {operation} documents"
            ));
        }
        Lookup::Elsewhere(d) => {
            if route.is_some() && !o.probe {
                warnings.insert(format!(
                    "{operation} documents no {status} response; its {status} was checked against {}",
                    d.at
                ));
            }
            d
        }
        Lookup::Nowhere if o.probe => {
            warnings.insert(format!(
                "no operation of the OpenAPI document gives a {status} response (nor a range or a default); the host can send one"
            ));
            return Vec::new();
        }
        Lookup::Nowhere => {
            return fails(format!(
                "{status} is a status no operation of the OpenAPI document gives (nor a range or a default)"
            ));
        }
    };
    if o.method == "HEAD" {
        return Vec::new();
    }
    let place = format!("{} → {status} against {}", o.origin, documented.at);
    api.check_response(&documented, o.media_type.as_deref(), &o.body)
        .into_iter()
        .map(|m| (place.clone(), m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::BodyMode;
    use crate::plugins::manifest::Segment;

    fn route(template: &str, operation: &str) -> RouteSpec {
        RouteSpec {
            method: http::Method::GET,
            template: template.into(),
            segments: vec![Segment::Literal(template.trim_start_matches('/').into())],
            operation: operation.into(),
            authenticated: true,
            scope: None,
            body: BodyMode::None,
            rate_classes: Vec::new(),
        }
    }

    fn probe(origin: &str, route: usize, status: u16, body: &str) -> Observed {
        Observed {
            origin: origin.into(),
            method: "GET".into(),
            path: "/x".into(),
            route: Some(route),
            status,
            media_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
            probe: true,
        }
    }

    /// Two operations whose errors all go through one `default` requiring `code`.
    fn api() -> OpenApi {
        let error = r##"{"description": "e", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/E"}}}}"##;
        OpenApi::parse(&format!(
            r##"{{"openapi": "3.1.0", "paths": {{
                "/a": {{"get": {{"operationId": "a", "responses": {{"200": {{"description": "ok"}}, "default": {error}}}}}}},
                "/b": {{"get": {{"operationId": "b", "responses": {{"200": {{"description": "ok"}}, "default": {error}}}}}}}
            }}, "components": {{"schemas": {{"E": {{"type": "object", "required": ["code"]}}}}}}}}"##
        ))
        .expect("the test document parses")
    }

    #[test]
    fn the_same_violation_on_several_statuses_and_routes_is_one_finding() {
        let (api, routes) = (api(), [route("/a", "a"), route("/b", "b")]);
        let observed = [
            probe("probe not-found on a", 0, 404, "{}"),
            probe("probe internal on a", 0, 500, "{}"),
            probe("probe internal on b", 1, 500, "{}"),
            probe("probe forbidden on b", 1, 403, r#"{"code": 1}"#),
        ];
        let probes = Probes {
            observed: observed.to_vec(),
            failures: vec![(
                "probe rate-limited on a".into(),
                "render-problem failed: trap: x".into(),
            )],
            ..Probes::default()
        };
        let found = Findings::of_probes(Some(&api), &routes, probes);
        assert_eq!(
            found.failures,
            [
                "probe rate-limited on a: render-problem failed: trap: x",
                "probe not-found on a → 404 against GET /a responses.default (and 2 more like it): does not fit the schema: body: missing properties 'code'",
            ]
        );
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        // Without a document only the probes' own failures count.
        let alone = Findings::of_probes(
            None,
            &routes,
            Probes {
                observed: observed.to_vec(),
                ..Probes::default()
            },
        );
        assert!(alone.failures.is_empty(), "{:?}", alone.failures);
    }

    #[test]
    fn a_finding_seen_twice_is_said_once_with_a_count() {
        let grouped = Findings::grouped(vec![
            ("probe a".into(), "404: bad".into()),
            ("probe b".into(), "500: worse".into()),
            ("probe c".into(), "404: bad".into()),
            ("probe d".into(), "404: bad".into()),
        ]);
        assert_eq!(
            grouped,
            [
                "probe a (and 2 more like it): 404: bad",
                "probe b: 500: worse"
            ]
        );
    }
}
