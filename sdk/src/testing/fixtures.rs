//! Builders for what tests seed and send: resources, backups, jobs and requests, with plain
//! defaults a test overrides with struct update syntax (`Resource { state: …, ..resource(…) }`).

use crate::{
    Method, Principal, Request,
    backups::Backup,
    jobs::{Job, JobKind, JobStatus, Progress},
    resources::Resource,
};

/// 2026-04-27T10:00:00Z in microseconds: the fake host's clock at start.
pub const T0: u64 = 1_777_284_000_000_000;

/// An `active` resource with a capture source and no attributes, declared at [`T0`].
pub fn resource(kind: &str, id: &str) -> Resource {
    Resource {
        kind: kind.into(),
        id: id.into(),
        name: format!("{kind}-{id}"),
        state: "active".into(),
        attributes: "{}".into(),
        has_source: true,
        created_at: T0,
    }
}

/// A stored backup `id` of resource `kind`/`resource_id` (seq 1, no bytes, made at [`T0`]).
pub fn backup(kind: &str, resource_id: &str, id: &str) -> Backup {
    Backup {
        id: id.into(),
        seq: 1,
        resource_kind: kind.into(),
        resource_id: resource_id.into(),
        filename: format!("{id}.bin"),
        extension: ".bin".into(),
        media_type: "application/octet-stream".into(),
        size: 0,
        stored_bytes: 0,
        sha256: "0".repeat(64),
        created_at: T0,
        subject: "key-1".into(),
        job_id: None,
        metadata: "{}".into(),
    }
}

/// Job `id` (seq 1) of resource `kind`/`resource_id`, requested at [`T0`].
pub fn job(id: &str, kind: JobKind, status: JobStatus, resource: (&str, &str)) -> Job {
    Job {
        id: id.into(),
        seq: 1,
        kind,
        resource_kind: resource.0.into(),
        resource_id: resource.1.into(),
        source_backup: None,
        status,
        progress: Progress {
            bytes_done: 0,
            bytes_total: None,
            message: String::new(),
        },
        attempts: 0,
        backup_id: None,
        error: None,
        subject: "key-1".into(),
        created_at: T0,
        started_at: None,
        finished_at: None,
        metadata: "{}".into(),
    }
}

/// An authenticated `GET path` routed to `operation`, from org `org-1`, subject `key-1`
/// with `scopes`, received at [`T0`].
pub fn request(operation: &str, path: &str, scopes: &[&str]) -> Request {
    Request {
        operation: operation.into(),
        method: Method::Get,
        path: path.into(),
        params: Vec::new(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
        principal: Some(Principal {
            org: "org-1".into(),
            subject: "key-1".into(),
            scopes: scopes.iter().map(|s| (*s).to_string()).collect(),
        }),
        request_id: "req-1".into(),
        received_at: T0,
    }
}
