//! `bycloud`: the backup-gateway plugin for ByCloud's block-storage volume backups
//! (`https://api.{region}.mycloud.com/v1/backups`), a Cinder-like API authenticated with
//! `Authorization: Bearer <token>` or `X-Api-Key: <access-key-id>:<secret-access-key>`.
//!
//! Routes (scope `backups:read` for GETs, `backups:write` for the rest):
//! - `POST /v1/backups` queues a capture of a volume → 202 `{backup}` (`creating`)
//! - `GET /v1/backups` lists backups: `limit`, `marker`, `name` (exact or `prefix*`),
//!   `status`, `volume_id` → `{backups, meta, links}` ([`listing`])
//! - `GET /v1/backups/{backup_id}` → `{backup}`
//! - `POST /v1/backups/{backup_id}/restore` (`{volume_id?, name?}`) → 202 `{volume_id}`
//! - `DELETE /v1/backups/{backup_id}` → 202
//!
//! Every error, including every host refusal, is `{"error": {code, message, details,
//! request_id}}` with `code` the HTTP status ([`errors`]).
//!
//! # Choices where ByCloud's documentation is silent
//!
//! - **Model.** Cinder's: statuses `creating` → `available` | `error`, plus `restoring` (a
//!   restore job of the backup is queued or running) and `deleting`; volumes are resources of
//!   kind `volume` whose state gates backups and restores like Cinder's volume status
//!   ([`volumes`]).
//! - **Ids.** A UUIDv4 minted at POST, stable from `creating` on; the record is a document
//!   keyed by it, and the capture job's metadata (hence the stored backup's) carries the same
//!   fields ([`record`]).
//! - **Deduplication.** Every capture is deduplicated (`deduplicate: true`), so a full
//!   backup's chunks are shared with later incremental ones and an incremental backup stores
//!   only what changed. An incremental backup's parent is the volume's newest backup whose
//!   data exists (`available`, or `restoring` from); with none, the POST is a 400 with
//!   Cinder's "No backups available to do an incremental backup." A parent shows
//!   `has_dependent_backups: true` while a backup that is not in `error` builds on it, and
//!   cannot be deleted (409) until those are.
//! - **`size`** is whole GB (GiB, rounded up, Cinder's unit) of the logical size for a full
//!   backup and of the bytes it newly stored for an incremental one; 0 until stored. Exact
//!   byte counts are not exposed: the documented object has no field for them, and the
//!   gateway's operator sees them in the host's records.
//! - **`fail_reason`** (Cinder's field) is added to backups in `error`, saying why.
//! - **`crn`** is `crn:{region}:storage:backup:{id}`; the region is the volume's `region`
//!   attribute, else `spo1` (the documented samples' region), recorded at creation.
//! - **`container`, `snapshot_id`, `metadata`, `description`** are recorded and echoed;
//!   `snapshot_id` does not change what is captured (the gateway has no snapshots).
//! - **Bodies** are read leniently: unknown fields are ignored and `null` means absent; wrong
//!   types, malformed JSON, non-UUID ids, over-long text and non-string metadata values are
//!   400s whose `details` name every offending field ([`validate`]).
//! - **Path ids** that are not UUIDs are 404s (no such backup), not 400s.
//! - **Delete** answers 202 with no body once the backup is gone (the gateway deletes
//!   synchronously; `deleting` only shows if a delete failed half-way).
//! - **Restore** without `volume_id` creates a volume named `name` or `restore_backup_<id>`;
//!   the target must be `available` (409 otherwise, as in Cinder).
//! - **Rate limit**: 300 requests a minute per credential (429 with `Retry-After`).
//!
//! Module map: [`manifest`] (routes, scopes, OpenAPI), [`errors`] (error envelope, problems),
//! [`validate`] (bodies, UUIDs), [`volumes`] (state gates, region), [`record`] (the stored
//! record, status derivation, the Backup object), [`catalog`] (loading and resolving records
//! against the host), [`listing`] (filters, marker paging, links), [`backups`] and
//! [`restore`] (the handlers), [`operations`] (dispatch), [`store`] (host calls behind a
//! trait; `fake` is the in-memory one for tests). This file only wires the exports.

mod backups;
mod catalog;
mod errors;
#[cfg(test)]
mod flows;
mod listing;
mod manifest;
mod operations;
mod record;
mod restore;
mod store;
#[cfg(test)]
mod testing;
mod validate;
mod volumes;

use backup_gateway_sdk::{Host, Manifest, Problem, Provider, Request, Response};

/// The exported provider.
struct ByCloud;

impl Provider for ByCloud {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn handle(host: &impl Host, req: Request) -> Response {
        operations::handle(host, &req)
    }

    // No upload routes: the SDK's defaults answer a stray ingest call with ByCloud's 404
    // (prepare) and 500 (complete).

    fn render_problem(problem: Problem, req: &Request) -> Response {
        errors::render_problem(&problem, req)
    }
}

backup_gateway_sdk::export_provider!(ByCloud);
