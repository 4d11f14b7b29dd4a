//! `hostile`: a plugin that misbehaves on purpose, one operation per attack, so the host's
//! tests can show that a plugin cannot hurt it. Its error format is
//! `{"hostile_error": {"status": …, "kind": …}}`, so tests can tell that a 500 was rendered
//! by the plugin and not by the host's fallback.

use backup_gateway_sdk::{
    AuthScheme, Guest, IngestPlan, Manifest, Method, Problem, Request, Response, Route,
    backups::Backup,
};
use serde_json::json;

struct Hostile;

fn route(path: &str, op: &str) -> Route {
    Route::new(Method::Get, path, op)
}

impl Guest for Hostile {
    fn manifest() -> Manifest {
        Manifest::new(
            "hostile",
            "0.0.1",
            vec![AuthScheme::Bearer],
            vec![
                route("/hostile/ok", "ok"),
                route("/hostile/loop", "loop"),
                route("/hostile/hog", "hog"),
                route("/hostile/trap", "trap"),
                route("/hostile/big", "big"),
                route("/hostile/double-fault", "double-fault"),
                route("/hostile/bad-header", "bad-header"),
            ],
        )
    }

    fn handle(req: Request) -> Response {
        match req.operation.as_str() {
            "ok" => Response::json(200, &json!({ "ok": true })),
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" | "double-fault" => panic!("hostile plugin panics on purpose"),
            // 16 MiB, over the host's default 8 MiB response cap but under the memory limit
            "big" => Response {
                status: 200,
                headers: Vec::new(),
                body: backup_gateway_sdk::Body::Bytes(vec![b'x'; 16 * 1024 * 1024]),
            },
            "bad-header" => Response::json(200, &json!({})).with_header("bad header name", "x"),
            _ => Response::empty(404),
        }
    }

    fn prepare_ingest(_req: Request, _id: String) -> Result<IngestPlan, Response> {
        Err(Response::empty(404))
    }

    fn complete_ingest(_req: Request, _stored: Backup) -> Response {
        Response::empty(404)
    }

    fn render_problem(problem: Problem, req: Request) -> Response {
        if req.operation == "double-fault" {
            panic!("render-problem fails too");
        }
        let (status, kind) = match problem {
            Problem::Unauthenticated(_) => (401, "unauthenticated"),
            Problem::Forbidden(_) => (403, "forbidden"),
            Problem::NotFound => (404, "not_found"),
            Problem::MethodNotAllowed => (405, "method_not_allowed"),
            Problem::RateLimited(_) => (429, "rate_limited"),
            Problem::Internal => (500, "internal"),
            _ => (400, "other"),
        };
        Response::json(
            status,
            &json!({ "hostile_error": { "status": status, "kind": kind } }),
        )
    }
}

backup_gateway_sdk::export_provider!(Hostile);
