//! `jsa`: the backup-gateway plugin for the JSA (Juniper Secure Analytics) backup and restore
//! REST API, which is IBM QRadar's `/api/backup_and_restore`, authenticated with a `SEC`
//! token header or HTTP Basic (the `Version` header is accepted and ignored).
//!
//! Routes, under `/api/backup_and_restore/`:
//! - `GET backups` (Range, filter, sort, fields) and `POST backups` (header `backup_type`;
//!   a capture job of the JSA host) → 201
//! - `GET backups/{id}`, `DELETE backups/{id}` → 202 (cancels or deletes)
//! - `GET restores`, `POST restores` → 201 `PENDING`
//! - `GET restores/{id}`, `POST restores/{id}` `{"status":"REQUESTING"}` → 200 (a restore job
//!   on the console host), `DELETE restores/{id}` → 204
//!
//! Every error, including every host refusal, is QRadar's
//! `{message, details, description, code, http_response{code, message}}`.
//!
//! Module map: [`manifest`] (routes, OpenAPI), [`errors`] (error format, problems),
//! [`filter`] (lexer, parser, evaluator), [`paging`] (`Range`), [`fields`], [`sort`],
//! [`query`] (the list conventions together), [`validate`] (bodies and path ids), [`hosts`]
//! (JSA hosts and backup configurations), [`backup_record`] and [`restore_record`] (state and
//! status), [`backups`] and [`restores`] (the handlers), [`operations`] (dispatch),
//! [`store`] (host calls behind a trait; `fake` is the in-memory one for tests). This file only
//! wires the exports.

mod backup_record;
mod backups;
mod errors;
#[cfg(test)]
mod fake;
mod fields;
mod filter;
#[cfg(test)]
mod flows;
mod hosts;
mod manifest;
mod operations;
mod paging;
mod query;
mod restore_record;
mod restores;
mod sort;
mod store;
mod validate;

use backup_gateway_sdk::{
    Guest, IngestPlan, Manifest, Problem, Request, Response, backups::Backup,
};

/// The exported provider.
struct Jsa;

impl Guest for Jsa {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn handle(req: Request) -> Response {
        operations::handle(&store::HostStore, &req)
    }

    /// JSA has no upload routes; the host never asks, and a stray call is refused.
    fn prepare_ingest(req: Request, _backup_id: String) -> Result<IngestPlan, Response> {
        Err(errors::problem_error(&Problem::NotFound, &req.operation).render())
    }

    /// Never called (no ingest routes); answers 500 rather than pretend success.
    fn complete_ingest(req: Request, _stored: Backup) -> Response {
        errors::problem_error(&Problem::Internal, &req.operation).render()
    }

    fn render_problem(problem: Problem, req: Request) -> Response {
        errors::render_problem(&problem, &req)
    }
}

backup_gateway_sdk::export_provider!(Jsa);
