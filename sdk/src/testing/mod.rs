//! A fake host for native tests (feature `testing`): [`FakeHost`] implements [`Host`] in
//! memory with the real host's semantics and wording — org scoping, the checks `jobs.create`
//! makes (metadata, resource, source, restore backup, exclusivity), compare-and-swap
//! documents (writes and deletes), the resource attribute and job kind filters, the conflict
//! and invalid texts — and adds what a test needs: seeding, error injection
//! ([`FakeHost::fail_next`]), a call journal, and driving jobs the plugin created as the
//! host's workers would ([`FakeHost::complete_capture`], [`FakeHost::fail_job`]).
//!
//! The `conformance` test plugin and `examples/harness/tests/fake_parity.rs` run the same
//! call sequences ([`crate::conformance`]) against this fake and the real host and compare
//! the transcripts, so the two cannot drift.
//!
//! ```
//! use backup_gateway_sdk::{Host, HostError, testing::{FakeHost, Import, resource}};
//! let host = FakeHost::new();
//! host.add_resource(resource("vps", "vps_1"));
//! assert!(matches!(host.resource("vps", "vps_1"), Ok(Some(_))));
//! host.fail_next(Import::ResourcesGet, 1, HostError::Unavailable);
//! assert!(matches!(host.resource("vps", "vps_1"), Err(HostError::Unavailable)));
//! host.fail_next(Import::DocumentsPut, 1, HostError::Unavailable);
//! assert!(matches!(host.put_document("c", "k", "{}", None), Err(HostError::Unavailable)));
//! assert!(host.put_document("c", "k", "{}", None).is_ok());
//! ```

mod faults;
mod fixtures;
mod imports;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::BTreeMap;

pub use faults::Import;
pub use fixtures::{T0, backup, job, request, resource};

use crate::{
    ByteRange, HostError,
    backups::Backup,
    jobs::{Job, JobSpec, JobStatus},
    log::Level,
    resources::Resource,
};

/// An in-memory host. Every call is scoped to the caller set with [`FakeHost::set_caller`]
/// (by default org `org-1`, subject `key-1`), as the real host scopes to the principal.
#[derive(Debug)]
pub struct FakeHost {
    state: RefCell<State>,
}

#[derive(Debug)]
struct State {
    caller: Option<(String, String)>,
    orgs: BTreeMap<String, Org>,
    faults: faults::Faults,
    now: u64,
    page_cap: u32,
    ids: Counters,
    logs: Vec<(Level, String)>,
    reads: Vec<(String, ByteRange)>,
    lookups: Vec<(String, String)>,
}

/// The fake's id counters: the `n`th UUIDv4 is `00000000-0000-4000-8000-{n:012x}`, the
/// `n`th UUIDv7 (job and backup ids too) `01900000-0000-7000-8000-{n:012x}`, the `n`th ULID
/// `01J` and `n` in 23 digits.
#[derive(Debug, Default)]
struct Counters {
    v4: u64,
    v7: u64,
    ulid: u64,
}

/// One org's data.
#[derive(Debug, Default)]
struct Org {
    resources: BTreeMap<(String, String), Resource>,
    backups: Vec<Kept>,
    jobs: Vec<JobRow>,
    documents: BTreeMap<(String, String), (String, u64)>,
    sequences: BTreeMap<String, u64>,
    job_seq: u64,
    backup_seq: u64,
}

/// A stored backup with its bytes.
#[derive(Debug)]
struct Kept {
    backup: Backup,
    content: Vec<u8>,
    present: bool,
}

/// A job with what only the host keeps of its spec.
#[derive(Debug)]
struct JobRow {
    job: Job,
    exclusive: bool,
    spec: Option<JobSpec>,
}

/// Whether a job is queued or running.
fn active(status: JobStatus) -> bool {
    matches!(status, JobStatus::Queued | JobStatus::InProgress)
}

impl Default for FakeHost {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeHost {
    /// An empty host: caller `org-1`/`key-1`, the clock at [`T0`], the real page cap (1000).
    pub fn new() -> FakeHost {
        FakeHost {
            state: RefCell::new(State {
                caller: Some(("org-1".into(), "key-1".into())),
                orgs: BTreeMap::new(),
                faults: faults::Faults::default(),
                now: T0,
                page_cap: crate::PAGE_LIMIT,
                ids: Counters::default(),
                logs: Vec::new(),
                reads: Vec::new(),
                lookups: Vec::new(),
            }),
        }
    }

    /// An empty host with these resources declared in the caller's org.
    pub fn with_resources(resources: impl IntoIterator<Item = Resource>) -> FakeHost {
        let host = FakeHost::new();
        for r in resources {
            host.add_resource(r);
        }
        host
    }

    // ---- the caller, the clock, the cap ----

    /// Calls from now on run for this org and subject (seeding too).
    pub fn set_caller(&self, org: &str, subject: &str) {
        self.state.borrow_mut().caller = Some((org.into(), subject.into()));
    }

    /// Calls from now on run with no principal: like the host's, they see nothing.
    pub fn set_unauthenticated(&self) {
        self.state.borrow_mut().caller = None;
    }

    /// Set the clock (µs since the epoch).
    pub fn set_now(&self, micros: u64) {
        self.state.borrow_mut().now = micros;
    }

    /// Move the clock forward.
    pub fn advance(&self, micros: u64) {
        self.state.borrow_mut().now += micros;
    }

    /// Serve at most `cap` items a list call (the real host: 1000), to exercise paging.
    pub fn set_page_cap(&self, cap: u32) {
        self.state.borrow_mut().page_cap = cap.clamp(1, crate::PAGE_LIMIT);
    }

    // ---- error injection and the journal ----

    /// Fail the next `times` calls of `import` with `error`: every import that touches the
    /// database can, the reads included (`resources.get`, `jobs.list`, `documents.get`,
    /// `ids.next-in-sequence`, …), as the host's answer `unavailable` when its database is
    /// down. A call refused for its arguments first (e.g. an invalid attribute key) neither
    /// counts nor fails.
    pub fn fail_next(&self, import: Import, times: usize, error: HostError) {
        self.state
            .borrow_mut()
            .faults
            .add(import, None, (0, times), error);
    }

    /// Let the next `ok` calls of `import` through, then fail `times` calls with `error`
    /// (e.g. a listing whose second page fails).
    pub fn fail_later(&self, import: Import, ok: usize, times: usize, error: HostError) {
        self.state
            .borrow_mut()
            .faults
            .add(import, None, (ok, times), error);
    }

    /// [`FakeHost::fail_next`] for calls whose first argument (a collection, a kind, an id)
    /// is `on`.
    pub fn fail_next_on(&self, import: Import, on: &str, times: usize, error: HostError) {
        self.state
            .borrow_mut()
            .faults
            .add(import, Some(on), (0, times), error);
    }

    /// Fail every call of `import` until [`FakeHost::heal`].
    pub fn fail_always(&self, import: Import, error: HostError) {
        self.fail_next(import, usize::MAX, error);
    }

    /// Forget the failures set for `import`.
    pub fn heal(&self, import: Import) {
        self.state.borrow_mut().faults.clear(import);
    }

    /// How many times `import` was called.
    pub fn calls(&self, import: Import) -> usize {
        self.state.borrow().faults.count(import)
    }

    /// The ranges `backups.read` was called with, in order.
    pub fn reads(&self) -> Vec<ByteRange> {
        self.state.borrow().reads.iter().map(|(_, r)| *r).collect()
    }

    /// The ids `resources.get` was called with, in order.
    pub fn lookups(&self) -> Vec<String> {
        self.state
            .borrow()
            .lookups
            .iter()
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Every message logged, with its level.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state.borrow().logs.clone()
    }

    /// The messages logged at `warn`.
    pub fn warnings(&self) -> Vec<String> {
        self.state
            .borrow()
            .logs
            .iter()
            .filter(|(l, _)| *l == Level::Warn)
            .map(|(_, m)| m.clone())
            .collect()
    }

    // ---- seeding (into the caller's org) ----

    fn with_org<T>(&self, f: impl FnOnce(&mut Org, u64) -> T) -> T {
        let mut state = self.state.borrow_mut();
        let now = state.now;
        let org = state
            .caller
            .as_ref()
            .map_or("", |(o, _)| o.as_str())
            .to_owned();
        f(state.orgs.entry(org).or_default(), now)
    }

    /// Declare a resource (replacing one of the same kind and id).
    pub fn add_resource(&self, resource: Resource) {
        self.with_org(|org, _| {
            org.resources
                .insert((resource.kind.clone(), resource.id.clone()), resource);
        });
    }

    /// Store a backup with no bytes (its `seq` is kept; later ones number after it).
    pub fn add_backup(&self, backup: Backup) {
        self.add_backup_with_content(backup, Vec::new());
    }

    /// Store a backup whose object holds `content` (its `size` is left as given).
    pub fn add_backup_with_content(&self, backup: Backup, content: impl Into<Vec<u8>>) {
        self.with_org(|org, _| {
            org.backup_seq = org.backup_seq.max(backup.seq);
            org.backups.push(Kept {
                backup,
                content: content.into(),
                present: true,
            });
        });
    }

    /// Change a stored backup's record (e.g. a size its object does not have).
    pub fn update_backup(&self, id: &str, f: impl FnOnce(&mut Backup)) {
        self.with_org(|org, _| {
            if let Some(k) = org.backups.iter_mut().find(|k| k.backup.id == id) {
                f(&mut k.backup);
            }
        });
    }

    /// Make a backup's object vanish behind the gateway's back (its record stays).
    pub fn lose_object(&self, id: &str) {
        self.with_org(|org, _| {
            if let Some(k) = org.backups.iter_mut().find(|k| k.backup.id == id) {
                k.present = false;
            }
        });
    }

    /// Record a job as it is (not through `jobs.create`; not exclusive).
    pub fn add_job(&self, job: Job) {
        self.with_org(|org, _| {
            org.job_seq = org.job_seq.max(job.seq);
            org.jobs.push(JobRow {
                job,
                exclusive: false,
                spec: None,
            });
        });
    }

    // ---- what the plugin left ----

    /// The caller's org's stored backups, in the order they were stored.
    pub fn stored_backups(&self) -> Vec<Backup> {
        self.with_org(|org, _| org.backups.iter().map(|k| k.backup.clone()).collect())
    }

    /// The caller's org's jobs, oldest first.
    pub fn all_jobs(&self) -> Vec<Job> {
        self.with_org(|org, _| org.jobs.iter().map(|r| r.job.clone()).collect())
    }

    /// The newest job.
    pub fn last_job(&self) -> Option<Job> {
        self.all_jobs().pop()
    }

    /// The specs of the jobs `jobs.create` accepted, oldest first.
    pub fn specs(&self) -> Vec<JobSpec> {
        self.with_org(|org, _| org.jobs.iter().filter_map(|r| r.spec.clone()).collect())
    }

    /// The spec of the newest job `jobs.create` accepted.
    pub fn last_spec(&self) -> Option<JobSpec> {
        self.specs().pop()
    }

    /// A document's value, parsed.
    pub fn doc(&self, collection: &str, key: &str) -> Option<serde_json::Value> {
        self.with_org(|org, _| {
            org.documents
                .get(&(collection.to_string(), key.to_string()))
                .and_then(|(v, _)| serde_json::from_str(v).ok())
        })
    }

    // ---- driving jobs, as the host's workers do ----

    /// Change a job in place (no checks).
    pub fn update_job(&self, id: &str, f: impl FnOnce(&mut Job)) {
        self.with_org(|org, _| {
            if let Some(r) = org.jobs.iter_mut().find(|r| r.job.id == id) {
                f(&mut r.job);
            }
        });
    }

    /// Forget a job, as if the host had pruned it (later lookups find nothing).
    pub fn forget_job(&self, id: &str) {
        self.with_org(|org, _| org.jobs.retain(|r| r.job.id != id));
    }

    /// A worker picked the job up (attempts + 1) and has processed `bytes_done`.
    pub fn start_job(&self, id: &str, bytes_done: u64) {
        let now = self.state.borrow().now;
        self.update_job(id, |j| {
            j.status = JobStatus::InProgress;
            j.attempts += 1;
            j.started_at = j.started_at.or(Some(now));
            j.progress.bytes_done = bytes_done;
            j.progress.message = "running".into();
        });
    }

    /// Set a job's status (a final one also sets `finished-at`).
    pub fn set_job_status(&self, id: &str, status: JobStatus) {
        let now = self.state.borrow().now;
        self.update_job(id, |j| {
            j.status = status;
            if !active(status) {
                j.finished_at = Some(now);
            }
        });
    }

    /// A restore (or any job) finished successfully.
    pub fn complete_job(&self, id: &str) {
        self.set_job_status(id, JobStatus::Completed);
        self.update_job(id, |j| j.progress.message = "completed".into());
    }

    /// A job gave up with `error`.
    pub fn fail_job(&self, id: &str, error: &str) {
        self.set_job_status(id, JobStatus::Failed);
        self.update_job(id, |j| {
            j.error = Some(error.into());
            j.progress.message = "failed".into();
        });
    }

    /// A capture finished: store a backup of `size` bytes of which `stored_bytes` were new,
    /// as the host's worker does (the job's resource, metadata and subject; the spec's
    /// filename, sanitised, its extension and media type), and complete the job. Returns
    /// the stored backup's id.
    ///
    /// Panics when the caller's org has no such job (a mistake in the test).
    pub fn complete_capture(&self, job_id: &str, size: u64, stored_bytes: u64) -> String {
        let id = self.next_uuid_v7();
        let done = self.with_org(|org, now| {
            let row = org.jobs.iter_mut().find(|r| r.job.id == job_id)?;
            org.backup_seq += 1;
            let (filename, media_type) = row.spec.as_ref().map_or_else(
                || (String::new(), "application/octet-stream".to_string()),
                |s| (imports::clean_filename(&s.filename), s.media_type.clone()),
            );
            let backup = Backup {
                id: id.clone(),
                seq: org.backup_seq,
                resource_kind: row.job.resource_kind.clone(),
                resource_id: row.job.resource_id.clone(),
                extension: imports::extension_of(&filename),
                filename,
                media_type,
                size,
                stored_bytes,
                sha256: "0".repeat(64),
                created_at: now,
                subject: row.job.subject.clone(),
                job_id: Some(job_id.to_string()),
                metadata: row.job.metadata.clone(),
            };
            row.job.status = JobStatus::Completed;
            row.job.backup_id = Some(id.clone());
            row.job.finished_at = Some(now);
            row.job.progress.bytes_done = size;
            // A source of known size: the worker records the total it expected.
            row.job.progress.bytes_total = Some(size);
            row.job.progress.message = "completed".into();
            org.backups.push(Kept {
                backup,
                content: Vec::new(),
                present: true,
            });
            Some(())
        });
        assert!(done.is_some(), "complete_capture: no job {job_id}");
        id
    }

    pub(super) fn next_uuid_v7(&self) -> String {
        let mut state = self.state.borrow_mut();
        state.ids.v7 += 1;
        format!("01900000-0000-7000-8000-{:012x}", state.ids.v7)
    }
}
