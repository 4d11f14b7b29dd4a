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
//! (what the host knows of a site), [`names`] (unique `<unix seconds>.rsc` filenames), [`format`]
//! (BackupFile fields), [`routeros`] (export parser), [`net`] (CIDR arithmetic), [`subnets`] (discovery), [`highlight`] (HTML rendering),
//! [`errors`] (error codes and problem rendering). This file only wires the exports to them.

mod errors;
mod format;
mod highlight;
mod manifest;
mod names;
mod net;
mod operations;
mod routeros;
mod store;
mod subnets;
#[cfg(test)]
mod testing;

use backup_gateway_sdk::{Host, Manifest, Problem, Provider, Request, Response};

/// The exported provider.
struct Altostrat;

impl Provider for Altostrat {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn handle(host: &impl Host, req: Request) -> Response {
        operations::handle(host, &req)
    }

    // No route ingests: the SDK's defaults answer a stray ingest call with Altostrat's 404
    // (prepare) and 500 (complete).

    fn render_problem(problem: Problem, req: &Request) -> Response {
        errors::render(problem, req)
    }
}

backup_gateway_sdk::export_provider!(Altostrat);
