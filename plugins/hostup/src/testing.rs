//! Test support: an in-memory [`Store`] that can be told to fail, and builders for VPSes,
//! backups, jobs and requests.

use std::cell::{Cell, RefCell};

use backup_gateway_sdk::{
    HostError, Method, Principal, Request,
    backups::{Backup, Page, Query as BackupQuery},
    jobs::{Job, JobKind, JobSpec, JobStatus, Progress, Query as JobQuery},
    resources::Resource,
};
use serde_json::json;

use crate::store::{Store, VPS_KIND};

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

/// An in-memory host.
pub struct FakeStore {
    /// Declared resources, any kind.
    pub resources: Vec<Resource>,
    /// Stored backups.
    pub backups: RefCell<Vec<Backup>>,
    /// Jobs, any status.
    pub jobs: RefCell<Vec<Job>>,
    /// Most items one list call returns (backups and resources).
    pub page_cap: usize,
    /// Returned by every backup listing.
    pub backups_error: Option<HostError>,
    /// Returned by every backup lookup.
    pub backup_error: Option<HostError>,
    /// Returned by every delete.
    pub delete_error: Option<HostError>,
    /// Returned by every job creation.
    pub create_error: Option<HostError>,
    /// Specs of the jobs created.
    pub created: RefCell<Vec<JobSpec>>,
    /// Resource list calls made.
    pub resource_calls: Cell<usize>,
}

impl FakeStore {
    /// A host with these resources and nothing else.
    pub fn new(resources: Vec<Resource>) -> FakeStore {
        FakeStore {
            resources,
            backups: RefCell::new(Vec::new()),
            jobs: RefCell::new(Vec::new()),
            page_cap: 1000,
            backups_error: None,
            backup_error: None,
            delete_error: None,
            create_error: None,
            created: RefCell::new(Vec::new()),
            resource_calls: Cell::new(0),
        }
    }

    /// Store a backup.
    pub fn add_backup(&self, backup: Backup) {
        self.backups.borrow_mut().push(backup);
    }

    /// Record a job.
    pub fn add_job(&self, job: Job) {
        self.jobs.borrow_mut().push(job);
    }
}

impl Store for FakeStore {
    fn resource(&self, kind: &str, id: &str) -> Option<Resource> {
        self.resources
            .iter()
            .find(|r| r.kind == kind && r.id == id)
            .cloned()
    }

    fn resources(&self, kind: &str, after: Option<&str>, limit: u32) -> Vec<Resource> {
        self.resource_calls.set(self.resource_calls.get() + 1);
        let mut matched: Vec<Resource> = self
            .resources
            .iter()
            .filter(|r| r.kind == kind && after.is_none_or(|a| r.id.as_str() > a))
            .cloned()
            .collect();
        matched.sort_by(|a, b| a.id.cmp(&b.id));
        matched.truncate((limit as usize).min(self.page_cap));
        matched
    }

    fn backups(&self, q: &BackupQuery) -> Result<Page, HostError> {
        if let Some(e) = &self.backups_error {
            return Err(e.clone());
        }
        let mut matched: Vec<Backup> = self
            .backups
            .borrow()
            .iter()
            .filter(|b| {
                q.resource_kind
                    .as_ref()
                    .is_none_or(|k| *k == b.resource_kind)
            })
            .filter(|b| q.resource_id.as_ref().is_none_or(|i| *i == b.resource_id))
            .cloned()
            .collect();
        matched.sort_by_key(|b| b.seq);
        if q.newest_first {
            matched.reverse();
        }
        let total = matched.len() as u64;
        let items = matched
            .into_iter()
            .skip(q.offset as usize)
            .take((q.limit as usize).min(self.page_cap))
            .collect();
        Ok(Page { items, total })
    }

    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError> {
        if let Some(e) = &self.backup_error {
            return Err(e.clone());
        }
        Ok(self.backups.borrow().iter().find(|b| b.id == id).cloned())
    }

    fn delete_backup(&self, id: &str) -> Result<bool, HostError> {
        if let Some(e) = &self.delete_error {
            return Err(e.clone());
        }
        let mut backups = self.backups.borrow_mut();
        let before = backups.len();
        backups.retain(|b| b.id != id);
        Ok(backups.len() < before)
    }

    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        if let Some(e) = &self.create_error {
            return Err(e.clone());
        }
        self.created.borrow_mut().push(spec.clone());
        let seq = self.jobs.borrow().len() as u64 + 100;
        let mut created = job(seq, &spec.resource_id, spec.kind, JobStatus::Queued);
        created.resource_kind = spec.resource_kind.clone();
        created.metadata = spec.metadata.clone();
        self.add_job(created.clone());
        Ok(created)
    }

    fn job(&self, id: &str) -> Option<Job> {
        self.jobs.borrow().iter().find(|j| j.id == id).cloned()
    }

    fn jobs(&self, q: &JobQuery) -> Vec<Job> {
        let mut matched: Vec<Job> = self
            .jobs
            .borrow()
            .iter()
            .filter(|j| {
                q.resource_kind
                    .as_ref()
                    .is_none_or(|k| *k == j.resource_kind)
            })
            .filter(|j| q.resource_id.as_ref().is_none_or(|i| *i == j.resource_id))
            .filter(|j| q.statuses.is_empty() || q.statuses.contains(&j.status))
            .cloned()
            .collect();
        matched.sort_by_key(|j| std::cmp::Reverse(j.seq));
        matched.truncate(q.limit as usize);
        matched
    }
}
