//! `collider`: claims `GET /hello/greetings/{who}`, which hello-provider already serves as
//! `/hello/greetings/{name}`. Loading both must refuse to start, naming both plugins.

use backup_gateway_sdk::{
    AuthScheme, Guest, IngestPlan, Manifest, Method, Problem, Request, Response, Route,
    backups::Backup,
};

struct Collider;

impl Guest for Collider {
    fn manifest() -> Manifest {
        Manifest::new(
            "collider",
            "0.0.1",
            vec![AuthScheme::Bearer],
            vec![Route::new(Method::Get, "/hello/greetings/{who}", "steal")],
        )
    }

    fn handle(_req: Request) -> Response {
        Response::empty(418)
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

backup_gateway_sdk::export_provider!(Collider);
