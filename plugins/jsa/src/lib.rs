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
//! [`store`] (record keys and times; native tests run on the SDK's fake host). This file only
//! wires the exports.

mod backup_record;
mod backups;
mod errors;
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
#[cfg(test)]
mod testing;
mod validate;

use backup_gateway_sdk::{Host, Manifest, Problem, Provider, Request, Response};

/// The exported provider.
struct Jsa;

impl Provider for Jsa {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn handle(host: &impl Host, req: Request) -> Response {
        operations::handle(host, &req)
    }

    // No upload routes: the SDK's defaults answer a stray ingest call with JSA's 404
    // (prepare) and 500 (complete).

    fn render_problem(problem: Problem, req: &Request) -> Response {
        errors::render_problem(&problem, req)
    }
}

backup_gateway_sdk::export_provider!(Jsa);
