//! Test support: ByCloud's fixtures (volumes, records, jobs, stored backups, requests) and
//! the SDK's fake host seeded with them.

use backup_gateway_sdk::{
    Method, Principal, Request,
    backups::Backup,
    jobs::{Job, JobKind, JobStatus, Progress},
    resources::Resource,
    testing::FakeHost,
};

use crate::record::{BackupRecord, Fields};
use crate::store::VOLUME_KIND;

/// The fake host with these volumes.
pub fn with_volumes(volumes: Vec<Resource>) -> FakeHost {
    let store = FakeHost::new();
    for v in volumes {
        store.add_resource(v);
    }
    store
}

/// Record a job of `volume_id` as it is (not through `jobs.create`). Returns it.
pub fn insert_job(
    store: &FakeHost,
    kind: JobKind,
    volume_id: &str,
    source_backup: Option<&str>,
    status: JobStatus,
) -> Job {
    let n = store.all_jobs().len() as u64 + 1;
    let mut j = job(&format!("0196000b-0000-7000-8000-{n:012x}"), kind, status);
    j.seq = n;
    j.resource_id = volume_id.into();
    j.source_backup = source_backup.map(str::to_string);
    store.add_job(j.clone());
    j
}

pub use backup_gateway_sdk::testing::T0;

/// A volume with a capture source, in `state`.
pub fn volume(id: &str, state: &str) -> Resource {
    Resource {
        kind: VOLUME_KIND.into(),
        id: id.into(),
        name: format!("vol-{}", &id[..id.len().min(8)]),
        state: state.into(),
        attributes: "{}".into(),
        has_source: true,
        created_at: T0,
    }
}

/// A record of backup `id` of `volume_id`, created at `created_at`, its job `job-{id}`.
pub fn record(id: &str, volume_id: &str, created_at: u64) -> BackupRecord {
    BackupRecord {
        fields: Fields {
            id: id.into(),
            volume_id: volume_id.into(),
            region: "spo1".into(),
            created_at,
            ..Fields::default()
        },
        job_id: format!("job-{id}"),
        updated_at: created_at,
        ..BackupRecord::default()
    }
}

/// A job (not stored anywhere).
pub fn job(id: &str, kind: JobKind, status: JobStatus) -> Job {
    Job {
        id: id.into(),
        seq: 1,
        kind,
        resource_kind: VOLUME_KIND.into(),
        resource_id: "vol".into(),
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

/// A stored backup of a volume.
pub fn stored_backup(id: &str, volume_id: &str, size: u64, stored_bytes: u64) -> Backup {
    Backup {
        id: id.into(),
        seq: 1,
        resource_kind: VOLUME_KIND.into(),
        resource_id: volume_id.into(),
        filename: format!("backup-{id}.img"),
        extension: ".img".into(),
        media_type: "application/octet-stream".into(),
        size,
        stored_bytes,
        sha256: "0".repeat(64),
        created_at: T0,
        subject: "key-1".into(),
        job_id: None,
        metadata: "{}".into(),
    }
}

/// An authenticated GET request routed to `operation`.
pub fn request(operation: &str, path: &str) -> Request {
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
            scopes: vec!["backups:read".into(), "backups:write".into()],
        }),
        request_id: "0196a0b0-0000-7000-8000-000000000001".into(),
        received_at: T0,
    }
}
