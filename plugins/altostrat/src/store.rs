//! What the operations need from the host (sites, backup records and bytes, capture jobs),
//! behind a small trait so the operations are tested natively against an in-memory fake;
//! [`HostCalls`] is the real one. Also the paging and chunked-read helpers built on it.

use backup_gateway_sdk::{
    ByteRange, HostError,
    backups::{self, Backup, Page, Query},
    documents::{self, Document},
    jobs::{self, Job, JobSpec},
    log,
    resources::{self, Resource},
};

/// Resource kind of an Altostrat site; its id is the site UUID.
pub const SITE_KIND: &str = "site";

/// Most bytes one `backups.read` returns.
pub const READ_CHUNK: u64 = 1024 * 1024;

/// Largest page the host serves.
const PAGE_LIMIT: u32 = 1000;

/// The host capabilities this plugin uses.
pub trait Host {
    /// A resource of the caller's org.
    fn resource(&self, kind: &str, id: &str) -> Option<Resource>;
    /// A page of the org's backups.
    fn list_backups(&self, query: &Query) -> Result<Page, HostError>;
    /// Up to [`READ_CHUNK`] bytes of a backup.
    fn read_backup(&self, id: &str, range: ByteRange) -> Result<Vec<u8>, HostError>;
    /// Queue a job.
    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError>;
    /// A document of the caller's org.
    fn document(&self, collection: &str, key: &str) -> Option<Document>;
    /// Write a document, if its revision is still `expected` (0: it must not exist yet).
    fn put_document(
        &self,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<u64>,
    ) -> Result<Document, HostError>;
}

/// The host's capabilities. Failures are logged here; clients see only the provider's wording.
pub struct HostCalls;

impl Host for HostCalls {
    fn resource(&self, kind: &str, id: &str) -> Option<Resource> {
        resources::get(kind, id)
    }

    fn list_backups(&self, query: &Query) -> Result<Page, HostError> {
        backups::list(query).inspect_err(|e| warn(&format!("listing backups failed: {e:?}")))
    }

    fn read_backup(&self, id: &str, range: ByteRange) -> Result<Vec<u8>, HostError> {
        backups::read(id, range)
            .inspect_err(|e| warn(&format!("reading backup {id} failed: {e:?}")))
    }

    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        jobs::create(spec).inspect_err(|e| {
            warn(&format!(
                "creating a capture of site {} failed: {e:?}",
                spec.resource_id
            ))
        })
    }

    fn document(&self, collection: &str, key: &str) -> Option<Document> {
        documents::get(collection, key)
    }

    fn put_document(
        &self,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<u64>,
    ) -> Result<Document, HostError> {
        documents::put(collection, key, value, expected).inspect_err(|e| {
            if !matches!(e, HostError::Conflict(_)) {
                warn(&format!(
                    "writing document {collection}/{key} failed: {e:?}"
                ));
            }
        })
    }
}

/// Log a host failure into the host's trace.
fn warn(message: &str) {
    log::log(log::Level::Warn, message);
}

/// The site a path's `siteId` names, if the caller's org has it. UUIDs are compared without
/// regard to case: the lower-case form is tried first, then the id as given.
pub fn find_site(host: &impl Host, site_id: &str) -> Option<Resource> {
    let lower = site_id.to_ascii_lowercase();
    host.resource(SITE_KIND, &lower).or_else(|| {
        (lower != site_id)
            .then(|| host.resource(SITE_KIND, site_id))
            .flatten()
    })
}

/// Whether a backup belongs to the site (the host filters already; this guards the listing).
fn of_site(backup: &Backup, site: &Resource) -> bool {
    backup.resource_kind == SITE_KIND && backup.resource_id == site.id
}

/// Visit the site's backups newest first, page by page, until `visit` returns `false` or
/// none are left. The first host error ends the walk.
fn walk_backups(
    host: &impl Host,
    site: &Resource,
    mut visit: impl FnMut(Backup) -> bool,
) -> Result<(), HostError> {
    let mut offset = 0u64;
    loop {
        let page = host.list_backups(&Query {
            resource_kind: Some(SITE_KIND.into()),
            resource_id: Some(site.id.clone()),
            newest_first: true,
            offset,
            limit: PAGE_LIMIT,
        })?;
        let fetched = page.items.len() as u64;
        for backup in page.items {
            if of_site(&backup, site) && !visit(backup) {
                return Ok(());
            }
        }
        offset += fetched;
        if fetched == 0 || offset >= page.total {
            return Ok(());
        }
    }
}

/// Every backup of the site, newest first.
pub fn site_backups(host: &impl Host, site: &Resource) -> Result<Vec<Backup>, HostError> {
    let mut all = Vec::new();
    walk_backups(host, site, |b| {
        all.push(b);
        true
    })?;
    Ok(all)
}

/// The site's newest backup named `filename`. Names are unique ([`crate::names`]); only
/// backups taken before names were reserved can share one, and then the newer one wins.
pub fn find_backup(
    host: &impl Host,
    site: &Resource,
    filename: &str,
) -> Result<Option<Backup>, HostError> {
    let mut found = None;
    walk_backups(host, site, |b| {
        if b.filename == filename {
            found = Some(b);
            false
        } else {
            true
        }
    })?;
    Ok(found)
}

/// The site's newest backup.
pub fn latest_backup(host: &impl Host, site: &Resource) -> Result<Option<Backup>, HostError> {
    let mut latest = None;
    walk_backups(host, site, |b| {
        latest = Some(b);
        false
    })?;
    Ok(latest)
}

/// Why a backup's bytes could not be loaded.
#[derive(Debug, Clone)]
pub enum LoadError {
    /// The backup is larger than the caller's limit (nothing was read).
    TooLarge,
    /// A host call failed.
    Host(HostError),
}

/// A backup's bytes, read in [`READ_CHUNK`] pieces, if its recorded size is at most `limit`.
/// A read that returns nothing ends early (the object is shorter than its record).
pub fn load(host: &impl Host, backup: &Backup, limit: u64) -> Result<Vec<u8>, LoadError> {
    if backup.size > limit {
        return Err(LoadError::TooLarge);
    }
    let size = backup.size;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    while (bytes.len() as u64) < size {
        let offset = bytes.len() as u64;
        let chunk = host
            .read_backup(
                &backup.id,
                ByteRange {
                    offset,
                    length: Some(READ_CHUNK.min(size - offset)),
                },
            )
            .map_err(LoadError::Host)?;
        if chunk.is_empty() {
            break;
        }
        let room = usize::try_from(size - offset).unwrap_or(usize::MAX);
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(bytes)
}
