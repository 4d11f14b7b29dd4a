//! `hello-provider`: the smallest complete backup-gateway plugin.
//!
//! Two routes and an error format of its own:
//! - `GET /hello/greetings/{name}` (scope `hello:read`) → `{"greeting": "Hello, {name}!"}`
//! - `POST /hello/echo` (scope `hello:write`) → the JSON body back, under `{"echo": …}`
//! - every error → `{"error": {"status": 404, "reason": "not_found", "message": "…"}}`
//!
//! Copy this crate to start a provider: rename it, declare your routes in `manifest`, answer
//! them in `handle` (the host's capabilities come in as `host`, so native tests pass the
//! SDK's fake host), render the host's problems in your provider's format in
//! `render_problem`, and describe it all in `src/openapi.json`, which the manifest carries
//! (`manifest.openapi`): the harness's strict mode checks every response against it, and
//! `backup-gateway check` that it lists exactly the manifest's routes and that
//! `render_problem`'s renderings fit it. Findings cannot name this file (the manifest carries
//! the document as a string): they say "manifest.openapi, src/openapi.json in the template".
//! Without upload routes
//! the SDK's defaults answer `prepare_ingest`/`complete_ingest` (your 404 and 500). See
//! `examples/README.md`.

use backup_gateway_sdk::{
    AuthScheme, Host, Manifest, Method, Problem, Provider, Request, Response, Route, log::Level,
};
use serde_json::json;

struct Hello;

/// The provider's OpenAPI document: every route, success body and error, in one file.
const OPENAPI: &str = include_str!("openapi.json");

impl Provider for Hello {
    fn manifest() -> Manifest {
        let mut manifest = Manifest::new(
            "hello",
            env!("CARGO_PKG_VERSION"),
            vec![AuthScheme::Bearer],
            vec![
                Route::new(Method::Get, "/hello/greetings/{name}", "greet").scope("hello:read"),
                Route::new(Method::Post, "/hello/echo", "echo").scope("hello:write"),
            ],
        );
        manifest.openapi = Some(OPENAPI.into());
        manifest
    }

    fn handle(host: &impl Host, req: Request) -> Response {
        match req.operation.as_str() {
            "greet" => {
                let name = req.param("name").unwrap_or_default();
                Response::json(200, &json!({ "greeting": format!("Hello, {name}!") }))
            }
            "echo" => match req.json_body() {
                Ok(Some(body)) => {
                    host.log(Level::Debug, &format!("echoing {} bytes", req.body.len()));
                    Response::json(200, &json!({ "echo": body }))
                }
                Ok(None) => error(400, "invalid_body", "a JSON body is required"),
                Err(e) => error(400, "invalid_body", &format!("the body is not JSON: {e}")),
            },
            _ => error(404, "not_found", "no such operation"),
        }
    }

    fn render_problem(problem: Problem, _req: &Request) -> Response {
        let (status, reason, message) = match problem {
            Problem::Unauthenticated(_) => {
                (401, "unauthenticated", "valid credentials are required")
            }
            Problem::Forbidden(_) => (403, "forbidden", "the credential lacks a required scope"),
            Problem::NotFound => (404, "not_found", "no such resource"),
            Problem::MethodNotAllowed => (405, "method_not_allowed", "method not allowed"),
            Problem::Validation(_) | Problem::LengthMismatch(_) => {
                (400, "invalid_request", "the request is malformed")
            }
            Problem::LengthRequired => (411, "length_required", "Content-Length is required"),
            Problem::PayloadTooLarge(_) | Problem::QuotaExceeded => {
                (413, "too_large", "the request is too large")
            }
            Problem::RateLimited(_) => (429, "rate_limited", "too many requests"),
            Problem::Conflict(_) => (409, "conflict", "the request conflicts with current state"),
            Problem::StorageUnavailable | Problem::QuotaUnavailable => {
                (503, "unavailable", "try again later")
            }
            Problem::StorageFailed => (502, "bad_gateway", "storage failed"),
            Problem::Internal => (500, "internal", "internal error"),
        };
        error(status, reason, message)
    }
}

/// The provider's error format.
fn error(status: u16, reason: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({ "error": { "status": status, "reason": reason, "message": message } }),
    )
}

backup_gateway_sdk::export_provider!(Hello);

/// Native unit tests: the handlers against the SDK's fake host (`cargo test -p hello-provider`).
#[cfg(test)]
mod tests {
    use super::*;
    use backup_gateway_sdk::testing::{FakeHost, request};

    fn greet(name: &str) -> Request {
        let mut req = request(
            "greet",
            &format!("/hello/greetings/{name}"),
            &["hello:read"],
        );
        req.params.push(("name".into(), name.into()));
        req
    }

    #[test]
    fn greets_by_name() {
        let resp = Hello::handle(&FakeHost::new(), greet("Ada"));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body_json(), Some(json!({ "greeting": "Hello, Ada!" })));
    }

    #[test]
    fn echoes_json_and_logs_through_the_host() {
        let host = FakeHost::new();
        let mut req = request("echo", "/hello/echo", &["hello:write"]);
        req.body = br#"{"a":1}"#.to_vec();
        let resp = Hello::handle(&host, req.clone());
        assert_eq!(resp.body_json(), Some(json!({ "echo": { "a": 1 } })));
        assert_eq!(host.logs(), [(Level::Debug, "echoing 7 bytes".to_string())]);

        req.body = b"{".to_vec();
        let refused = Hello::handle(&host, req);
        assert_eq!(refused.status, 400);
        assert_eq!(
            refused.body_json().map(|b| b["error"]["reason"].clone()),
            Some(json!("invalid_body"))
        );
    }

    #[test]
    fn uploads_are_refused_in_the_providers_format() {
        let host = FakeHost::new();
        let refused = Hello::prepare_ingest(&host, greet("x"), String::new());
        assert_eq!(refused.err().map(|r| r.status), Some(404));
        let stored = backup_gateway_sdk::testing::backup("thing", "t1", "b1");
        let answer = Hello::complete_ingest(&host, greet("x"), stored);
        assert_eq!(answer.status, 500);
        assert_eq!(
            answer.body_json().map(|b| b["error"]["reason"].clone()),
            Some(json!("internal"))
        );
    }
}
