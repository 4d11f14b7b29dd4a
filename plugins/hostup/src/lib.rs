//! `hostup`: the backup-gateway plugin for the HostUp API v2 VPS backups
//! (`https://cloud.hostup.se/api/v2`), authenticated with Bearer API keys.
//!
//! Routes:
//! - `GET /api/v2/vps` lists the caller's VPSes (cursor paging, `name` / `primaryIp` filters)
//! - `GET /api/v2/vps/{id}/backups` lists a VPS's backups with quota and action gates
//! - `POST /api/v2/vps/{id}/backups` queues a manual backup (a host capture job) → 202
//! - `DELETE /api/v2/vps/{id}/backups/{backupId}` → 204
//! - `GET /api/jobs/{jobId}` polls the backup job in the v1-style envelope
//!
//! Errors, including every host refusal, are RFC 7807 problems in HostUp's shape.
//! Public ids (`job_…`, `bkp_…`, `req_…`) are the host's UUIDs re-encoded as ULIDs.
//!
//! Module map: [`manifest`] (routes, limits, OpenAPI), [`ids`] and [`cursor`] (id and cursor
//! codecs), [`problem`] (error format), [`store`] (what the host knows of a VPS), [`gates`]
//! (quota and action gates), [`validation`] (the create body), [`vps`], [`vps_backups`] and
//! [`job_poll`] (the handlers), [`operations`] (dispatch). This file only wires the exports.

mod cursor;
mod gates;
mod ids;
mod job_poll;
mod manifest;
mod operations;
mod problem;
mod store;
#[cfg(test)]
mod testing;
mod validation;
mod vps;
mod vps_backups;

use backup_gateway_sdk::{Host, Manifest, Problem, Provider, Request, Response};

/// The exported provider.
struct HostUp;

impl Provider for HostUp {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn handle(host: &impl Host, req: Request) -> Response {
        operations::handle(host, &req)
    }

    // No upload routes: the SDK's defaults answer a stray ingest call with HostUp's 404
    // (prepare) and 500 (complete).

    fn render_problem(problem: Problem, req: &Request) -> Response {
        problem::render_problem(&problem, req)
    }
}

backup_gateway_sdk::export_provider!(HostUp);
