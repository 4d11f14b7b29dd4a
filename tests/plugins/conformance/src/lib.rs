//! `conformance`: runs one of the SDK's conformance call sequences
//! (`backup_gateway_sdk::conformance`) against the real host and answers its transcript as a
//! JSON array of lines. `GET /conformance/{sequence}` runs as the caller;
//! `GET /conformance-public/{sequence}` is public, so the host scopes it to no org.

use backup_gateway_sdk::{
    AuthScheme, Host, Manifest, Method, Problem, Provider, Request, Response, Route, conformance,
};
use serde_json::json;

struct Conformance;

impl Provider for Conformance {
    fn manifest() -> Manifest {
        Manifest::new(
            "conformance",
            "0.0.1",
            vec![AuthScheme::Bearer],
            vec![
                Route::new(Method::Get, "/conformance/{sequence}", "run"),
                Route::new(Method::Get, "/conformance-public/{sequence}", "run-public").public(),
            ],
        )
    }

    fn handle(host: &impl Host, req: Request) -> Response {
        let name = req.param("sequence").unwrap_or_default();
        match conformance::run(host, name) {
            Some(lines) => Response::json(200, &json!(lines)),
            None => Self::render_problem(Problem::NotFound, &req),
        }
    }

    fn render_problem(problem: Problem, _req: &Request) -> Response {
        Response::json(500, &json!({ "problem": format!("{problem:?}") }))
    }
}

backup_gateway_sdk::export_provider!(Conformance);
