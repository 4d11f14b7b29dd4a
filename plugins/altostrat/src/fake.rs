//! An in-memory [`Host`] for native tests: sites, backups with their bytes, recorded jobs and
//! reads, page and read caps like the real host's, and injectable failures.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use backup_gateway_sdk::{
    ByteRange, HostError,
    backups::{Backup, Page, Query},
    documents::Document,
    jobs::{Job, JobSpec, JobStatus, Progress},
    resources::Resource,
};

use crate::store::{Host, READ_CHUNK, SITE_KIND};

/// A site UUID used throughout the tests.
pub const SITE: &str = "a1b2c3d4-e5f6-7890-1234-567890abcdef";
/// A site of the same org with no backups.
pub const EMPTY_SITE: &str = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";

/// The fake host.
pub struct FakeHost {
    pub sites: Vec<Resource>,
    /// Backups (any order) with their bytes.
    pub backups: Vec<(Backup, Vec<u8>)>,
    /// Most backups one list call returns.
    pub page_cap: usize,
    pub list_error: Option<HostError>,
    pub read_error: Option<HostError>,
    pub job_error: Option<HostError>,
    /// Jobs created, in order.
    pub jobs: RefCell<Vec<JobSpec>>,
    /// Ranges read, in order.
    pub reads: RefCell<Vec<ByteRange>>,
    /// Resource ids looked up, in order.
    pub lookups: RefCell<Vec<String>>,
    /// Documents by (collection, key): value and revision.
    pub documents: RefCell<BTreeMap<(String, String), (String, u64)>>,
    /// The next this many document writes lose a (simulated) race.
    pub put_conflicts: Cell<usize>,
}

impl FakeHost {
    /// Two sites ([`SITE`] and [`EMPTY_SITE`]), no backups.
    pub fn new() -> FakeHost {
        FakeHost {
            sites: vec![site(SITE), site(EMPTY_SITE)],
            backups: Vec::new(),
            page_cap: 1000,
            list_error: None,
            read_error: None,
            job_error: None,
            jobs: RefCell::new(Vec::new()),
            reads: RefCell::new(Vec::new()),
            lookups: RefCell::new(Vec::new()),
            documents: RefCell::new(BTreeMap::new()),
            put_conflicts: Cell::new(0),
        }
    }

    /// Add a backup of `site` taken at `unix` seconds with this content.
    pub fn with_backup(mut self, site: &str, unix: u64, content: &[u8]) -> FakeHost {
        let seq = self.backups.len() as u64 + 1;
        self.backups.push((
            backup(seq, site, unix, content.len() as u64),
            content.to_vec(),
        ));
        self
    }
}

/// A site resource with a capture source.
pub fn site(id: &str) -> Resource {
    Resource {
        kind: SITE_KIND.into(),
        id: id.into(),
        name: "HQ".into(),
        state: "active".into(),
        attributes: "{}".into(),
        has_source: true,
        created_at: 1_700_000_000_000_000,
    }
}

/// Backup number `seq` of `site`, named `<unix>.rsc`, created 2.5 s after `unix`.
pub fn backup(seq: u64, site: &str, unix: u64, size: u64) -> Backup {
    Backup {
        id: format!("01934fab-bc33-7890-a1b2-{seq:012x}"),
        seq,
        resource_kind: SITE_KIND.into(),
        resource_id: site.into(),
        filename: format!("{unix}.rsc"),
        extension: ".rsc".into(),
        media_type: "text/plain".into(),
        size,
        stored_bytes: size,
        sha256: "0".repeat(64),
        created_at: unix * 1_000_000 + 2_500_000,
        subject: "token-1".into(),
        job_id: None,
        metadata: "{}".into(),
    }
}

impl Host for FakeHost {
    fn resource(&self, kind: &str, id: &str) -> Option<Resource> {
        self.lookups.borrow_mut().push(id.into());
        self.sites
            .iter()
            .find(|s| s.kind == kind && s.id == id)
            .cloned()
    }

    fn list_backups(&self, q: &Query) -> Result<Page, HostError> {
        if let Some(e) = &self.list_error {
            return Err(e.clone());
        }
        let mut matched: Vec<Backup> = self
            .backups
            .iter()
            .map(|(b, _)| b)
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
        let take = (q.limit as usize).min(self.page_cap);
        let items = matched
            .into_iter()
            .skip(q.offset as usize)
            .take(take)
            .collect();
        Ok(Page { items, total })
    }

    fn read_backup(&self, id: &str, range: ByteRange) -> Result<Vec<u8>, HostError> {
        self.reads.borrow_mut().push(range);
        if let Some(e) = &self.read_error {
            return Err(e.clone());
        }
        let (_, bytes) = self
            .backups
            .iter()
            .find(|(b, _)| b.id == id)
            .ok_or(HostError::NotFound)?;
        let size = bytes.len() as u64;
        let start = range.offset.min(size);
        let len = range.length.unwrap_or(READ_CHUNK).min(READ_CHUNK);
        let end = start.saturating_add(len).min(size);
        Ok(bytes[start as usize..end as usize].to_vec())
    }

    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        if let Some(e) = &self.job_error {
            return Err(e.clone());
        }
        self.jobs.borrow_mut().push(spec.clone());
        Ok(Job {
            id: "01934fab-0000-7000-8000-000000000001".into(),
            seq: self.jobs.borrow().len() as u64,
            kind: spec.kind,
            resource_kind: spec.resource_kind.clone(),
            resource_id: spec.resource_id.clone(),
            source_backup: None,
            status: JobStatus::Queued,
            progress: Progress {
                bytes_done: 0,
                bytes_total: None,
                message: "queued".into(),
            },
            attempts: 0,
            backup_id: None,
            error: None,
            subject: "token-1".into(),
            created_at: 1_732_567_800_000_000,
            started_at: None,
            finished_at: None,
            metadata: spec.metadata.clone(),
        })
    }

    fn document(&self, collection: &str, key: &str) -> Option<Document> {
        let docs = self.documents.borrow();
        let (value, revision) = docs.get(&(collection.into(), key.into()))?;
        Some(Document {
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
        if self.put_conflicts.get() > 0 {
            self.put_conflicts.set(self.put_conflicts.get() - 1);
            return Err(HostError::Conflict("revision mismatch".into()));
        }
        let mut docs = self.documents.borrow_mut();
        let slot = (collection.to_string(), key.to_string());
        let current = docs.get(&slot).map_or(0, |(_, r)| *r);
        if expected.is_some_and(|e| e != current) {
            return Err(HostError::Conflict("revision mismatch".into()));
        }
        docs.insert(slot, (value.into(), current + 1));
        Ok(Document {
            key: key.into(),
            value: value.into(),
            revision: current + 1,
        })
    }
}
