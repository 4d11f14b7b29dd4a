//! [`Provider`]: what a plugin implements — the world's exports with the host passed in, and
//! defaults for the ingest pair — and the one bridge from it to the generated `Guest` trait.
//!
//! **The ingest defaults.** The host calls `prepare-ingest` and `complete-ingest` only for
//! routes declared with `BodyMode::Ingest`, so a provider without such routes never sees
//! them; if it does (a manifest that declares what the code does not serve), the answers are
//! the provider's own, rendered through its `render_problem`:
//! - `prepare_ingest` refuses with the provider's **404** (`Problem::NotFound`): as far as
//!   the provider is concerned no such upload route exists, and nothing was stored;
//! - `complete_ingest` answers the provider's **500** (`Problem::Internal`): the upload is
//!   already durable, so pretending success (2xx) or absence (404) would both be lies.
//!
//! Providers with ingest routes override both.

use crate::{
    Guest, Host, IngestPlan, Manifest, Problem, Request, Response, WasmHost, backups::Backup,
};

/// A provider plugin. Export it with `backup_gateway_sdk::export_provider!(MyProvider)`.
///
/// The handlers take the host as a parameter, so native tests call them with
/// `testing::FakeHost` and the exported plugin with [`WasmHost`].
pub trait Provider {
    /// Describe the plugin (called once at load).
    fn manifest() -> Manifest;

    /// Serve one request routed to one of the manifest's operations.
    fn handle(host: &impl Host, req: Request) -> Response;

    /// Render a host-raised problem in the provider's error format.
    fn render_problem(problem: Problem, req: &Request) -> Response;

    /// For `ingest` routes: name the upload or refuse. Default: the provider's 404.
    fn prepare_ingest(
        host: &impl Host,
        req: Request,
        backup_id: String,
    ) -> Result<IngestPlan, Response> {
        let _ = (host, backup_id);
        Err(Self::render_problem(Problem::NotFound, &req))
    }

    /// For `ingest` routes: the upload is durable; answer the client. Default: the
    /// provider's 500.
    fn complete_ingest(host: &impl Host, req: Request, stored: Backup) -> Response {
        let _ = (host, stored);
        Self::render_problem(Problem::Internal, &req)
    }
}

impl<P: Provider> Guest for P {
    fn manifest() -> Manifest {
        P::manifest()
    }

    fn handle(req: Request) -> Response {
        P::handle(&WasmHost, req)
    }

    fn prepare_ingest(req: Request, backup_id: String) -> Result<IngestPlan, Response> {
        P::prepare_ingest(&WasmHost, req, backup_id)
    }

    fn complete_ingest(req: Request, stored: Backup) -> Response {
        P::complete_ingest(&WasmHost, req, stored)
    }

    fn render_problem(problem: Problem, req: Request) -> Response {
        P::render_problem(problem, &req)
    }
}
