//! Test support: HostUp's fixtures (VPSes, backups, jobs, requests) for the SDK's fake host.

use backup_gateway_sdk::{
    Request,
    backups::Backup,
    jobs::{Job, JobKind, JobStatus},
    resources::Resource,
    testing,
};
use serde_json::json;

use crate::store::VPS_KIND;

/// The VPS most tests use (the seed's example id).
pub const VPS: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// A SHA-256 in hex.
pub const SHA: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";
pub use backup_gateway_sdk::testing::T0;

/// The host id (a UUIDv7) of backup number `seq`.
pub fn backup_uuid(seq: u64) -> String {
    format!("01934fab-bc33-7890-a1b2-{seq:012x}")
}

/// The host id (a UUIDv7) of job number `seq`.
pub fn job_uuid(seq: u64) -> String {
    format!("01934fab-bc33-7890-b000-{seq:012x}")
}

/// An active VPS with a capture source and no attributes.
pub fn vps(id: &str) -> Resource {
    Resource {
        kind: VPS_KIND.into(),
        id: id.into(),
        name: format!("name-of-{id}"),
        state: "active".into(),
        attributes: "{}".into(),
        has_source: true,
        created_at: T0,
    }
}

/// A VPS with the given attributes.
pub fn vps_with(id: &str, attributes: serde_json::Value) -> Resource {
    Resource {
        attributes: attributes.to_string(),
        ..vps(id)
    }
}

/// Backup number `seq` of a VPS: 12.4 GB, made one minute after the previous one.
pub fn backup(seq: u64, vps_id: &str) -> Backup {
    Backup {
        seq,
        filename: format!("{vps_id}-{seq}.img"),
        extension: ".img".into(),
        size: 12_400_000_000,
        stored_bytes: 12_400_000_000,
        sha256: SHA.into(),
        created_at: T0 + seq * 60_000_000,
        metadata: json!({ "note": null, "backupType": "manual" }).to_string(),
        ..testing::backup(VPS_KIND, vps_id, &backup_uuid(seq))
    }
}

/// Job number `seq` on a VPS.
pub fn job(seq: u64, vps_id: &str, kind: JobKind, status: JobStatus) -> Job {
    let finished = matches!(
        status,
        JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
    );
    Job {
        seq,
        created_at: T0 + seq * 1_000_000,
        finished_at: finished.then_some(T0 + seq * 1_000_000 + 90_000_000),
        ..testing::job(&job_uuid(seq), kind, status, (VPS_KIND, vps_id))
    }
}

/// An authenticated request routed to `operation` with path parameters.
pub fn request(operation: &str, params: &[(&str, &str)], path: &str) -> Request {
    Request {
        params: params
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        request_id: "gw-1".into(),
        received_at: T0 + 3_600_000_000,
        ..testing::request(operation, path, &["read:vm", "backup:vm"])
    }
}
