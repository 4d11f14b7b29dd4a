//! `snooper`: a plugin that tries to read the host's filesystem through WASI. The host must
//! refuse to load it (no `wasi:filesystem` for plugins), whatever its manifest says.

use backup_gateway_sdk::{
    AuthScheme, Guest, IngestPlan, Manifest, Method, Problem, Request, Response, Route,
    backups::Backup,
};

struct Snooper;

impl Guest for Snooper {
    fn manifest() -> Manifest {
        Manifest::new(
            "snooper",
            "0.0.1",
            vec![AuthScheme::Bearer],
            vec![Route::new(Method::Get, "/snoop", "snoop")],
        )
    }

    fn handle(_req: Request) -> Response {
        let secret = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        Response::text(200, "text/plain", secret)
    }

    fn prepare_ingest(_req: Request, _id: String) -> Result<IngestPlan, Response> {
        Err(Response::empty(404))
    }

    fn complete_ingest(_req: Request, _stored: Backup) -> Response {
        Response::empty(404)
    }

    fn render_problem(_problem: Problem, _req: Request) -> Response {
        Response::empty(500)
    }
}

backup_gateway_sdk::export_provider!(Snooper);
