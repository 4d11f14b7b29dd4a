//! Test support: HostUp's fixtures (VPSes, backups, jobs, requests) and the SDK's fake host
//! seeded with them.

use backup_gateway_sdk::{
    Method, Principal, Request,
    backups::Backup,
    jobs::{Job, JobKind, JobStatus, Progress},
    resources::Resource,
    testing::FakeHost,
};
use serde_json::json;

use crate::store::VPS_KIND;

/// The SDK's fake host with these resources declared (caller `org-1`, subject `key-1`).
pub fn host_with(resources: Vec<Resource>) -> FakeHost {
    let host = FakeHost::new();
    for r in resources {
        host.add_resource(r);
    }
    host
}

/// The VPS most tests use (the seed's example id).
pub const VPS: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// A SHA-256 in hex.
pub const SHA: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";
/// 2026-04-27T10:00:00Z.
pub const T0: u64 = 1_777_284_000_000_000;

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
        id: backup_uuid(seq),
        seq,
        resource_kind: VPS_KIND.into(),
        resource_id: vps_id.into(),
        filename: format!("{vps_id}-{seq}.img"),
        extension: ".img".into(),
        media_type: "application/octet-stream".into(),
        size: 12_400_000_000,
        stored_bytes: 12_400_000_000,
        sha256: SHA.into(),
        created_at: T0 + seq * 60_000_000,
        subject: "key-1".into(),
        job_id: None,
        metadata: json!({ "note": null, "backupType": "manual" }).to_string(),
    }
}

/// Job number `seq` on a VPS.
pub fn job(seq: u64, vps_id: &str, kind: JobKind, status: JobStatus) -> Job {
    let finished = matches!(
        status,
        JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
    );
    Job {
        id: job_uuid(seq),
        seq,
        kind,
        resource_kind: VPS_KIND.into(),
        resource_id: vps_id.into(),
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
        created_at: T0 + seq * 1_000_000,
        started_at: None,
        finished_at: finished.then_some(T0 + seq * 1_000_000 + 90_000_000),
        metadata: "{}".into(),
    }
}

/// An authenticated request routed to `operation` with path parameters.
pub fn request(operation: &str, params: &[(&str, &str)], path: &str) -> Request {
    Request {
        operation: operation.into(),
        method: Method::Get,
        path: path.into(),
        params: params
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
        principal: Some(Principal {
            org: "org-1".into(),
            subject: "key-1".into(),
            scopes: vec!["read:vm".into(), "backup:vm".into()],
        }),
        request_id: "gw-1".into(),
        received_at: T0 + 3_600_000_000,
    }
}
