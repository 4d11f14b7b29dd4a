//! Test support: an in-memory [`Store`] that behaves like the host (exclusive jobs, jobs
//! needing a volume with a source, restores needing their backup, compare-and-swap
//! documents) and can be told to fail, builders for volumes, records, jobs, backups and
//! requests, and helpers that play the host's workers (complete a capture, finish a job).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use backup_gateway_sdk::{
    HostError, Method, Principal, Request,
    backups::{Backup, Page, Query as BackupQuery},
    documents::Document,
    jobs::{Job, JobKind, JobSpec, JobStatus, Progress, Query as JobQuery},
    resources::Resource,
};
use serde_json::Value;

use crate::record::{BackupRecord, Fields};
use crate::store::{Store, VOLUME_KIND};

/// 2026-04-27T10:00:00Z in microseconds.
pub const T0: u64 = 1_777_284_000_000_000;

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

/// An in-memory host.
pub struct FakeStore {
    /// Volumes.
    pub volumes: RefCell<Vec<Resource>>,
    /// Stored backups.
    pub backups: RefCell<Vec<Backup>>,
    /// Jobs, and whether each was created exclusive.
    pub jobs: RefCell<Vec<(Job, bool)>>,
    /// Documents by (collection, key): value and revision.
    pub documents: RefCell<BTreeMap<(String, String), (String, u64)>>,
    /// Most items one list call returns (backups and documents).
    pub page_cap: usize,
    /// Whether volumes created by the plugin get a source (the contract says they do).
    pub created_volumes_have_source: bool,
    /// Whether `deduplicate` captures are accepted.
    pub dedup_supported: bool,
    /// Returned by every backup listing.
    pub backups_error: Option<HostError>,
    /// Returned by every backup lookup.
    pub backup_error: Option<HostError>,
    /// Returned by every backup deletion.
    pub delete_error: Option<HostError>,
    /// Returned by every job creation.
    pub create_error: Option<HostError>,
    /// Returned by every document write.
    pub put_error: Option<HostError>,
    /// Specs of the jobs created.
    pub created: RefCell<Vec<JobSpec>>,
    /// Job lookups made.
    pub job_calls: Cell<usize>,
    /// Warnings logged.
    pub warnings: RefCell<Vec<String>>,
    /// UUIDs handed out.
    pub uuids: Cell<u64>,
    /// Host ids handed out (jobs, backups).
    pub host_ids: Cell<u64>,
    /// The clock.
    pub clock: Cell<u64>,
}

impl FakeStore {
    /// An empty host.
    pub fn new() -> FakeStore {
        FakeStore {
            volumes: RefCell::new(Vec::new()),
            backups: RefCell::new(Vec::new()),
            jobs: RefCell::new(Vec::new()),
            documents: RefCell::new(BTreeMap::new()),
            page_cap: 1000,
            created_volumes_have_source: true,
            dedup_supported: true,
            backups_error: None,
            backup_error: None,
            delete_error: None,
            create_error: None,
            put_error: None,
            created: RefCell::new(Vec::new()),
            job_calls: Cell::new(0),
            warnings: RefCell::new(Vec::new()),
            uuids: Cell::new(0),
            host_ids: Cell::new(0),
            clock: Cell::new(T0),
        }
    }

    /// A host with these volumes.
    pub fn with_volumes(volumes: Vec<Resource>) -> FakeStore {
        let store = FakeStore::new();
        *store.volumes.borrow_mut() = volumes;
        store
    }

    /// Store a backup.
    pub fn add_backup(&self, backup: Backup) {
        self.backups.borrow_mut().push(backup);
    }

    fn next_host_id(&self, prefix: &str) -> String {
        let n = self.host_ids.get() + 1;
        self.host_ids.set(n);
        format!("0196{prefix}-0000-7000-8000-{n:012x}")
    }

    /// Record a job directly (not through `create_job`).
    pub fn insert_job(
        &self,
        kind: JobKind,
        volume_id: &str,
        source_backup: Option<&str>,
        status: JobStatus,
    ) -> Job {
        let mut j = job(&self.next_host_id("0b0b"), kind, status);
        j.resource_id = volume_id.into();
        j.source_backup = source_backup.map(str::to_string);
        self.jobs.borrow_mut().push((j.clone(), false));
        j
    }

    /// Change a job's status.
    pub fn set_job_status(&self, id: &str, status: JobStatus) {
        for (j, _) in self.jobs.borrow_mut().iter_mut() {
            if j.id == id {
                j.status = status;
                if !matches!(status, JobStatus::Queued | JobStatus::InProgress) {
                    j.finished_at = Some(self.clock.get());
                }
            }
        }
    }

    /// Fail a job with a reason.
    pub fn fail_job(&self, id: &str, reason: &str) {
        self.set_job_status(id, JobStatus::Failed);
        for (j, _) in self.jobs.borrow_mut().iter_mut() {
            if j.id == id {
                j.error = Some(reason.into());
            }
        }
    }

    /// Play the worker: complete capture `job_id` with a stored backup of `size` logical
    /// bytes of which `stored_bytes` are new. Returns the stored backup's id.
    pub fn complete_capture(&self, job_id: &str, size: u64, stored_bytes: u64) -> String {
        let host_id = self.next_host_id("bacc");
        let mut jobs = self.jobs.borrow_mut();
        let Some((j, _)) = jobs.iter_mut().find(|(j, _)| j.id == job_id) else {
            panic!("no job {job_id}");
        };
        j.status = JobStatus::Completed;
        j.backup_id = Some(host_id.clone());
        j.finished_at = Some(self.clock.get());
        let mut b = stored_backup(&host_id, &j.resource_id, size, stored_bytes);
        b.job_id = Some(j.id.clone());
        b.metadata = j.metadata.clone();
        b.created_at = self.clock.get();
        self.backups.borrow_mut().push(b);
        host_id
    }

    /// The spec of the last job created.
    pub fn last_spec(&self) -> Option<JobSpec> {
        self.created.borrow().last().cloned()
    }

    /// The job with this id.
    pub fn job_by_id(&self, id: &str) -> Option<Job> {
        self.jobs
            .borrow()
            .iter()
            .find(|(j, _)| j.id == id)
            .map(|(j, _)| j.clone())
    }
}

impl Store for FakeStore {
    fn volume(&self, id: &str) -> Option<Resource> {
        self.volumes.borrow().iter().find(|r| r.id == id).cloned()
    }

    fn create_volume(&self, id: &str, name: &str, attributes: &str) -> Result<Resource, HostError> {
        if self.volume(id).is_some() {
            return Err(HostError::Conflict("a resource with this id exists".into()));
        }
        if serde_json::from_str::<serde_json::Map<String, Value>>(attributes).is_err() {
            return Err(HostError::Invalid(
                "attributes must be a JSON object".into(),
            ));
        }
        let r = Resource {
            kind: VOLUME_KIND.into(),
            id: id.into(),
            name: name.into(),
            state: "available".into(),
            attributes: attributes.into(),
            has_source: self.created_volumes_have_source,
            created_at: self.clock.get(),
        };
        self.volumes.borrow_mut().push(r.clone());
        Ok(r)
    }

    fn set_volume_state(&self, id: &str, state: &str) -> Result<(), HostError> {
        let mut volumes = self.volumes.borrow_mut();
        let v = volumes
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or(HostError::NotFound)?;
        v.state = state.into();
        Ok(())
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
        if spec.deduplicate && !self.dedup_supported {
            return Err(HostError::Invalid(
                "deduplicated captures are not available in this build".into(),
            ));
        }
        if serde_json::from_str::<serde_json::Map<String, Value>>(&spec.metadata).is_err() {
            return Err(HostError::Invalid("metadata must be a JSON object".into()));
        }
        let volume = self
            .volume(&spec.resource_id)
            .filter(|_| spec.resource_kind == VOLUME_KIND)
            .ok_or(HostError::NotFound)?;
        if !volume.has_source {
            return Err(HostError::Invalid(
                "the resource has no capture source".into(),
            ));
        }
        if spec.kind == JobKind::Restore {
            let id = spec
                .source_backup
                .as_deref()
                .ok_or_else(|| HostError::Invalid("a restore needs source-backup".into()))?;
            if !self.backups.borrow().iter().any(|b| b.id == id) {
                return Err(HostError::NotFound);
            }
        }
        if spec.exclusive
            && self.jobs.borrow().iter().any(|(j, exclusive)| {
                *exclusive
                    && j.resource_id == spec.resource_id
                    && matches!(j.status, JobStatus::Queued | JobStatus::InProgress)
            })
        {
            return Err(HostError::Conflict(
                "another job of this resource is queued or running".into(),
            ));
        }
        self.created.borrow_mut().push(spec.clone());
        let mut j = job(&self.next_host_id("0b0b"), spec.kind, JobStatus::Queued);
        j.resource_kind = spec.resource_kind.clone();
        j.resource_id = spec.resource_id.clone();
        j.source_backup = spec.source_backup.clone();
        j.metadata = spec.metadata.clone();
        j.created_at = self.clock.get();
        self.jobs.borrow_mut().push((j.clone(), spec.exclusive));
        Ok(j)
    }

    fn job(&self, id: &str) -> Option<Job> {
        self.job_calls.set(self.job_calls.get() + 1);
        self.job_by_id(id)
    }

    fn jobs(&self, q: &JobQuery) -> Vec<Job> {
        let mut matched: Vec<Job> = self
            .jobs
            .borrow()
            .iter()
            .map(|(j, _)| j)
            .filter(|j| {
                q.resource_kind
                    .as_ref()
                    .is_none_or(|k| *k == j.resource_kind)
            })
            .filter(|j| q.resource_id.as_ref().is_none_or(|i| *i == j.resource_id))
            .filter(|j| q.statuses.is_empty() || q.statuses.contains(&j.status))
            .cloned()
            .collect();
        matched.reverse();
        matched.truncate(q.limit as usize);
        matched
    }

    fn cancel_job(&self, id: &str) -> Result<Job, HostError> {
        let found = self.job_by_id(id).ok_or(HostError::NotFound)?;
        if !matches!(found.status, JobStatus::Queued | JobStatus::InProgress) {
            return Err(HostError::Conflict("the job is finished".into()));
        }
        self.set_job_status(id, JobStatus::Cancelled);
        self.job_by_id(id).ok_or(HostError::NotFound)
    }

    fn document(&self, collection: &str, key: &str) -> Option<Document> {
        self.documents
            .borrow()
            .get(&(collection.to_string(), key.to_string()))
            .map(|(value, revision)| Document {
                key: key.into(),
                value: value.clone(),
                revision: *revision,
            })
    }

    fn put_document(
        &self,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<u64>,
    ) -> Result<Document, HostError> {
        if let Some(e) = &self.put_error {
            return Err(e.clone());
        }
        if serde_json::from_str::<Value>(value).is_err() {
            return Err(HostError::Invalid("value must be JSON".into()));
        }
        let mut docs = self.documents.borrow_mut();
        let k = (collection.to_string(), key.to_string());
        let current = docs.get(&k).map_or(0, |(_, r)| *r);
        if expected.is_some_and(|e| e != current) {
            return Err(HostError::Conflict("revision mismatch".into()));
        }
        let revision = current + 1;
        docs.insert(k, (value.into(), revision));
        Ok(Document {
            key: key.into(),
            value: value.into(),
            revision,
        })
    }

    fn delete_document(&self, collection: &str, key: &str) -> Result<bool, HostError> {
        Ok(self
            .documents
            .borrow_mut()
            .remove(&(collection.to_string(), key.to_string()))
            .is_some())
    }

    fn documents(&self, collection: &str, after: Option<&str>, limit: u32) -> Vec<Document> {
        self.documents
            .borrow()
            .iter()
            .filter(|((c, k), _)| c == collection && after.is_none_or(|a| k.as_str() > a))
            .take((limit as usize).min(self.page_cap))
            .map(|((_, k), (v, r))| Document {
                key: k.clone(),
                value: v.clone(),
                revision: *r,
            })
            .collect()
    }

    fn uuid_v4(&self) -> String {
        let n = self.uuids.get() + 1;
        self.uuids.set(n);
        format!("00000000-0000-4000-8000-{n:012x}")
    }

    fn warn(&self, message: &str) {
        self.warnings.borrow_mut().push(message.into());
    }
}
