//! Test support: ByCloud's fixtures (volumes, records, jobs, stored backups, requests) for
//! the SDK's fake host.

use backup_gateway_sdk::{
    Request,
    backups::Backup,
    jobs::{Job, JobKind, JobStatus},
    resources::Resource,
    testing::{self, FakeHost},
};

use crate::record::{BackupRecord, Fields};
use crate::store::VOLUME_KIND;

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

/// A job of volume `vol` (not stored anywhere).
pub fn job(id: &str, kind: JobKind, status: JobStatus) -> Job {
    testing::job(id, kind, status, (VOLUME_KIND, "vol"))
}

/// A stored backup of a volume.
pub fn stored_backup(id: &str, volume_id: &str, size: u64, stored_bytes: u64) -> Backup {
    Backup {
        filename: format!("backup-{id}.img"),
        extension: ".img".into(),
        size,
        stored_bytes,
        ..testing::backup(VOLUME_KIND, volume_id, id)
    }
}

/// An authenticated GET request routed to `operation`.
pub fn request(operation: &str, path: &str) -> Request {
    Request {
        request_id: "0196a0b0-0000-7000-8000-000000000001".into(),
        ..testing::request(operation, path, &["backups:read", "backups:write"])
    }
}
