//! `altostrat`: the backup-gateway plugin for the Altostrat (SDX) Backups API, where MikroTik
//! RouterOS configuration backups (`.rsc` exports) are kept per site.
//!
//! Routes, under `/backup/{siteId}` (Bearer tokens; `backup:create` to request, `backup:read`
//! to read):
//! - `POST` queues a capture of the site's configuration → 202 `{"message":"Backup requested"}`
//! - `GET` lists the site's backups, newest first
//! - `GET /{filename}` returns one as JSON, raw text, highlighted HTML or a download
//! - `GET /subnets` lists the subnets configured in the site's latest backup
//!
//! Every error, including every host refusal, is `{"type", "code", "message", "doc_url"}`.
//!
//! Module map: [`manifest`] (routes, scopes, OpenAPI), [`operations`] (the handlers), [`store`]
//! (host calls behind a trait), [`names`] (unique `<unix seconds>.rsc` filenames), [`format`]
//! (BackupFile fields), [`routeros`] (export parser), [`net`] (CIDR arithmetic), [`subnets`] (discovery), [`highlight`] (HTML rendering),
//! [`errors`] (error codes and problem rendering). This file only wires the exports to them.

mod errors;
#[cfg(test)]
mod fake;
mod format;
mod highlight;
mod manifest;
mod names;
mod net;
mod operations;
mod routeros;
mod store;
mod subnets;

use backup_gateway_sdk::{
    Guest, IngestPlan, Manifest, Problem, Request, Response, backups::Backup,
};

/// The exported provider.
struct Altostrat;

impl Guest for Altostrat {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn handle(req: Request) -> Response {
        operations::handle(&store::HostCalls, &req)
    }

    /// No route ingests; the host never calls this. Answered as an unknown route.
    fn prepare_ingest(req: Request, _backup_id: String) -> Result<IngestPlan, Response> {
        Err(errors::render(Problem::NotFound, &req))
    }

    /// No route ingests; the host never calls this. Answered as an unknown route.
    fn complete_ingest(req: Request, _stored: Backup) -> Response {
        errors::render(Problem::NotFound, &req)
    }

    fn render_problem(problem: Problem, req: Request) -> Response {
        errors::render(problem, &req)
    }
}

backup_gateway_sdk::export_provider!(Altostrat);
