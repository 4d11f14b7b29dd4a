//! Test support: an in-memory [`Store`] that behaves like the host (exclusive jobs, restore
//! jobs needing their backup, compare-and-swap documents, object presence) and can be told to
//! fail, plus builders for hosts, configurations and requests, and helpers that play the
//! host's workers (start, complete, fail a job).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use backup_gateway_sdk::{
    HostError, Method, Principal, Request,
    backups::{Backup, Page, Query as BackupQuery},
    documents::Document,
    jobs::{Job, JobKind, JobSpec, JobStatus, Progress, Query as JobQuery},
    resources::Resource,
};
use serde_json::Value;

use crate::hosts::{CONFIG_KIND, HOST_KIND};
use crate::store::Store;

/// 2026-04-27T10:00:00Z in microseconds.
pub const T0: u64 = 1_777_284_000_000_000;

/// A host resource with attributes and a capture source.
pub fn jsa_host(id: u64, attributes: Value) -> Resource {
    Resource {
        kind: HOST_KIND.into(),
        id: id.to_string(),
        name: format!("host-{id}"),
        state: "active".into(),
        attributes: attributes.to_string(),
        has_source: true,
        created_at: T0,
    }
}

/// A backup configuration resource.
pub fn backup_config(id: u64, attributes: Value) -> Resource {
    Resource {
        kind: CONFIG_KIND.into(),
        id: id.to_string(),
        name: format!("config-{id}"),
        state: "active".into(),
        attributes: attributes.to_string(),
        has_source: false,
        created_at: T0,
    }
}

/// An authenticated GET request routed to `operation`.
pub fn request(operation: &str) -> Request {
    Request {
        operation: operation.into(),
        method: Method::Get,
        path: "/api/backup_and_restore/backups".into(),
        params: Vec::new(),
        query: Vec::new(),
        headers: vec![("version".into(), "20.0".into())],
        body: Vec::new(),
        principal: Some(Principal {
            org: "org-1".into(),
            subject: "admin".into(),
            scopes: Vec::new(),
        }),
        request_id: "req-1".into(),
        received_at: T0,
    }
}

/// An in-memory host.
pub struct FakeStore {
    /// Declared resources.
    pub resources: RefCell<Vec<Resource>>,
    /// Stored backups.
    pub backups: RefCell<Vec<Backup>>,
    /// Backup ids whose object vanished behind the gateway's back.
    pub vanished: RefCell<BTreeSet<String>>,
    /// Jobs.
    pub jobs: RefCell<Vec<Job>>,
    /// Which jobs were created exclusive.
    pub exclusive: RefCell<BTreeSet<String>>,
    /// Specs of the jobs created.
    pub created: RefCell<Vec<JobSpec>>,
    /// Documents by (collection, key): value and revision.
    pub docs: RefCell<BTreeMap<(String, String), (String, u64)>>,
    /// Named counters.
    pub sequences: RefCell<HashMap<String, u64>>,
    /// Now, in microseconds.
    pub clock: Cell<u64>,
    /// Warnings logged.
    pub warnings: RefCell<Vec<String>>,
    /// Returned by every job creation.
    pub create_error: RefCell<Option<HostError>>,
    /// Returned by every backup read (`backup`, `object_exists`, `backups`).
    pub backup_error: RefCell<Option<HostError>>,
    /// Returned by every backup delete.
    pub delete_error: RefCell<Option<HostError>>,
    /// Returned by every write to the named document collection.
    pub put_error: RefCell<Option<(&'static str, HostError)>>,
    /// The sequence call answers 0 (the host could not count).
    pub sequences_down: Cell<bool>,
}

impl Default for FakeStore {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeStore {
    /// An empty host.
    pub fn new() -> FakeStore {
        FakeStore {
            resources: RefCell::new(Vec::new()),
            backups: RefCell::new(Vec::new()),
            vanished: RefCell::new(BTreeSet::new()),
            jobs: RefCell::new(Vec::new()),
            exclusive: RefCell::new(BTreeSet::new()),
            created: RefCell::new(Vec::new()),
            docs: RefCell::new(BTreeMap::new()),
            sequences: RefCell::new(HashMap::new()),
            clock: Cell::new(T0),
            warnings: RefCell::new(Vec::new()),
            create_error: RefCell::new(None),
            backup_error: RefCell::new(None),
            delete_error: RefCell::new(None),
            put_error: RefCell::new(None),
            sequences_down: Cell::new(false),
        }
    }

    /// Declare a resource.
    pub fn add_resource(&self, resource: Resource) {
        self.resources.borrow_mut().push(resource);
    }

    /// Move the clock forward.
    pub fn advance(&self, micros: u64) {
        self.clock.set(self.clock.get() + micros);
    }

    fn job_index(&self, id: &str) -> Option<usize> {
        self.jobs.borrow().iter().position(|j| j.id == id)
    }

    fn update_job(&self, id: &str, f: impl FnOnce(&mut Job)) {
        if let Some(i) = self.job_index(id) {
            f(&mut self.jobs.borrow_mut()[i]);
        }
    }

    /// A worker picked the job up and processed `bytes`.
    pub fn start_job(&self, id: &str, bytes: u64) {
        let now = self.clock.get();
        self.update_job(id, |j| {
            j.status = JobStatus::InProgress;
            j.attempts += 1;
            j.started_at = Some(now);
            j.progress.bytes_done = bytes;
        });
    }

    /// A capture finished: store a backup of `size` bytes (metadata copied from the job) and
    /// complete the job. Returns the stored backup's id.
    pub fn complete_capture(&self, id: &str, size: u64) -> String {
        let Some(i) = self.job_index(id) else {
            return String::new();
        };
        let job = self.jobs.borrow()[i].clone();
        let spec = self
            .created
            .borrow()
            .iter()
            .find(|s| s.resource_id == job.resource_id && s.metadata == job.metadata)
            .cloned();
        let seq = self.backups.borrow().len() as u64 + 1;
        let backup_id = format!("bkp-{seq}");
        let filename = spec
            .as_ref()
            .map(|s| s.filename.clone())
            .unwrap_or_default();
        self.backups.borrow_mut().push(Backup {
            id: backup_id.clone(),
            seq,
            resource_kind: job.resource_kind.clone(),
            resource_id: job.resource_id.clone(),
            filename,
            extension: ".tgz".into(),
            media_type: "application/gzip".into(),
            size,
            stored_bytes: size,
            sha256: "00".repeat(32),
            created_at: self.clock.get(),
            subject: job.subject.clone(),
            job_id: Some(job.id.clone()),
            metadata: job.metadata.clone(),
        });
        let now = self.clock.get();
        self.update_job(id, |j| {
            j.status = JobStatus::Completed;
            j.backup_id = Some(backup_id.clone());
            j.finished_at = Some(now);
        });
        backup_id
    }

    /// A restore (or any job) finished successfully.
    pub fn complete_job(&self, id: &str) {
        let now = self.clock.get();
        self.update_job(id, |j| {
            j.status = JobStatus::Completed;
            j.finished_at = Some(now);
        });
    }

    /// A job gave up.
    pub fn fail_job(&self, id: &str, error: &str) {
        let now = self.clock.get();
        self.update_job(id, |j| {
            j.status = JobStatus::Failed;
            j.error = Some(error.into());
            j.finished_at = Some(now);
        });
    }

    /// The newest job created.
    pub fn last_job(&self) -> Job {
        self.jobs
            .borrow()
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("no job was created"))
    }

    /// A document's value as JSON.
    pub fn doc(&self, collection: &str, key: &str) -> Option<Value> {
        self.docs
            .borrow()
            .get(&(collection.to_string(), key.to_string()))
            .and_then(|(v, _)| serde_json::from_str(v).ok())
    }
}

fn active(status: JobStatus) -> bool {
    matches!(status, JobStatus::Queued | JobStatus::InProgress)
}

impl Store for FakeStore {
    fn resource(&self, kind: &str, id: &str) -> Option<Resource> {
        self.resources
            .borrow()
            .iter()
            .find(|r| r.kind == kind && r.id == id)
            .cloned()
    }

    fn resources(&self, kind: &str, after: Option<&str>, limit: u32) -> Vec<Resource> {
        let mut matched: Vec<Resource> = self
            .resources
            .borrow()
            .iter()
            .filter(|r| r.kind == kind && after.is_none_or(|a| r.id.as_str() > a))
            .cloned()
            .collect();
        matched.sort_by(|a, b| a.id.cmp(&b.id));
        matched.truncate(limit as usize);
        matched
    }

    fn backups(&self, q: &BackupQuery) -> Result<Page, HostError> {
        if let Some(e) = self.backup_error.borrow().clone() {
            return Err(e);
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
            .take(q.limit as usize)
            .collect();
        Ok(Page { items, total })
    }

    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError> {
        if let Some(e) = self.backup_error.borrow().clone() {
            return Err(e);
        }
        Ok(self.backups.borrow().iter().find(|b| b.id == id).cloned())
    }

    fn delete_backup(&self, id: &str) -> Result<bool, HostError> {
        if let Some(e) = self.delete_error.borrow().clone() {
            return Err(e);
        }
        let mut backups = self.backups.borrow_mut();
        let before = backups.len();
        backups.retain(|b| b.id != id);
        Ok(backups.len() < before)
    }

    fn object_exists(&self, id: &str) -> Result<bool, HostError> {
        if let Some(e) = self.backup_error.borrow().clone() {
            return Err(e);
        }
        if !self.backups.borrow().iter().any(|b| b.id == id) {
            return Err(HostError::NotFound);
        }
        Ok(!self.vanished.borrow().contains(id))
    }

    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        if let Some(e) = self.create_error.borrow().clone() {
            return Err(e);
        }
        let resource = self
            .resource(&spec.resource_kind, &spec.resource_id)
            .ok_or(HostError::NotFound)?;
        if !resource.has_source {
            return Err(HostError::Invalid(
                "the resource has no capture source".into(),
            ));
        }
        if spec.kind == JobKind::Restore {
            let source = spec
                .source_backup
                .as_deref()
                .ok_or_else(|| HostError::Invalid("a restore needs source-backup".into()))?;
            if !self.backups.borrow().iter().any(|b| b.id == source) {
                return Err(HostError::NotFound);
            }
        }
        if spec.exclusive {
            let exclusive = self.exclusive.borrow();
            let busy = self.jobs.borrow().iter().any(|j| {
                j.resource_kind == spec.resource_kind
                    && j.resource_id == spec.resource_id
                    && active(j.status)
                    && exclusive.contains(&j.id)
            });
            if busy {
                return Err(HostError::Conflict(
                    "another job of this resource is queued or running".into(),
                ));
            }
        }
        let seq = self.jobs.borrow().len() as u64 + 1;
        let job = Job {
            id: format!("job-{seq}"),
            seq,
            kind: spec.kind,
            resource_kind: spec.resource_kind.clone(),
            resource_id: spec.resource_id.clone(),
            source_backup: spec.source_backup.clone(),
            status: JobStatus::Queued,
            progress: Progress {
                bytes_done: 0,
                bytes_total: None,
                message: "queued".into(),
            },
            attempts: 0,
            backup_id: None,
            error: None,
            subject: "admin".into(),
            created_at: self.clock.get(),
            started_at: None,
            finished_at: None,
            metadata: spec.metadata.clone(),
        };
        if spec.exclusive {
            self.exclusive.borrow_mut().insert(job.id.clone());
        }
        self.created.borrow_mut().push(spec.clone());
        self.jobs.borrow_mut().push(job.clone());
        Ok(job)
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

    fn cancel_job(&self, id: &str) -> Result<Job, HostError> {
        let job = self.job(id).ok_or(HostError::NotFound)?;
        if !active(job.status) {
            return Err(HostError::Conflict(format!("the job is {:?}", job.status)));
        }
        let now = self.clock.get();
        self.update_job(id, |j| {
            j.status = JobStatus::Cancelled;
            j.finished_at = Some(now);
        });
        self.job(id).ok_or(HostError::NotFound)
    }

    fn document(&self, collection: &str, key: &str) -> Option<Document> {
        self.docs
            .borrow()
            .get(&(collection.to_string(), key.to_string()))
            .map(|(value, revision)| Document {
                key: key.to_string(),
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
        if let Some((failing, e)) = self.put_error.borrow().clone()
            && failing == collection
        {
            return Err(e);
        }
        if serde_json::from_str::<Value>(value).is_err() {
            return Err(HostError::Invalid("value must be JSON".into()));
        }
        let mut docs = self.docs.borrow_mut();
        let k = (collection.to_string(), key.to_string());
        let current = docs.get(&k).map_or(0, |(_, r)| *r);
        if expected.is_some_and(|e| e != current) {
            return Err(HostError::Conflict("revision mismatch".into()));
        }
        let revision = current + 1;
        docs.insert(k, (value.to_string(), revision));
        Ok(Document {
            key: key.to_string(),
            value: value.to_string(),
            revision,
        })
    }

    fn delete_document(&self, collection: &str, key: &str) -> Result<bool, HostError> {
        Ok(self
            .docs
            .borrow_mut()
            .remove(&(collection.to_string(), key.to_string()))
            .is_some())
    }

    fn documents(&self, collection: &str, after: Option<&str>, limit: u32) -> Vec<Document> {
        self.docs
            .borrow()
            .iter()
            .filter(|((c, k), _)| c == collection && after.is_none_or(|a| k.as_str() > a))
            .take(limit as usize)
            .map(|((_, k), (v, r))| Document {
                key: k.clone(),
                value: v.clone(),
                revision: *r,
            })
            .collect()
    }

    fn next_in_sequence(&self, name: &str) -> u64 {
        if self.sequences_down.get() {
            return 0;
        }
        let mut sequences = self.sequences.borrow_mut();
        let next = sequences.entry(name.to_string()).or_insert(0);
        *next += 1;
        *next
    }

    fn now(&self) -> u64 {
        self.clock.get()
    }

    fn warn(&self, message: &str) {
        self.warnings.borrow_mut().push(message.to_string());
    }
}
