//! `appliance-collect`: the backup-gateway plugin for the appliance collect service (the
//! NethServer MY `collect` API), where NS8 clusters and NethSecurity firewalls push encrypted
//! configuration backups over HTTP Basic (`system_key:system_secret`).
//!
//! Routes, under `/api/systems/backups`:
//! - `POST` streams an upload (host ingest) → 201 `backup stored`
//! - `GET` lists the calling system's backups, newest first
//! - `GET /{id}` streams one back as an attachment; `DELETE /{id}` deletes it
//!
//! Every response, including every host refusal, uses the collect envelope
//! `{"code", "message", "data"}`.
//!
//! Module map: [`manifest`] (routes, limits, OpenAPI), [`names`] (filename, extension and id
//! rules), [`operations`] (the handlers, over the SDK's `Host`), [`errors`] (envelope and
//! problem rendering). This file only wires the exports to them.

mod errors;
mod manifest;
mod names;
mod operations;

use backup_gateway_sdk::{
    Host, IngestPlan, Manifest, Problem, Provider, Request, Response, backups::Backup,
};

/// The exported provider.
struct ApplianceCollect;

impl Provider for ApplianceCollect {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn handle(host: &impl Host, req: Request) -> Response {
        operations::handle(host, &req)
    }

    fn prepare_ingest(
        _host: &impl Host,
        req: Request,
        backup_id: String,
    ) -> Result<IngestPlan, Response> {
        operations::prepare_ingest(&req, &backup_id)
    }

    fn complete_ingest(_host: &impl Host, _req: Request, stored: Backup) -> Response {
        operations::complete_ingest(&stored)
    }

    fn render_problem(problem: Problem, req: &Request) -> Response {
        errors::render(problem, &req.operation)
    }
}

backup_gateway_sdk::export_provider!(ApplianceCollect);
