//! The backup records this plugin reads and deletes, behind a small trait so the operations can
//! be tested natively against an in-memory fake; [`HostStore`] is the real one (the host's
//! `backups` capability).

use backup_gateway_sdk::{
    HostError,
    backups::{self, Backup, Page, Query},
    log,
};

/// Resource kind every collect backup belongs to; its id is the uploading system's key.
pub const SYSTEM_KIND: &str = "system";

/// Largest page the host serves.
const PAGE_LIMIT: u32 = 1000;

/// What the operations need from backup storage.
pub trait Store {
    /// A page of the org's backups matching the query.
    fn list(&self, query: &Query) -> Result<Page, HostError>;
    /// A backup by host id; `Ok(None)` when the org has no such backup.
    fn get(&self, id: &str) -> Result<Option<Backup>, HostError>;
    /// Delete a backup by host id; false when it did not exist.
    fn delete(&self, id: &str) -> Result<bool, HostError>;
}

/// The host's `backups` capability. Failures are logged here (the client sees only the
/// provider's wording).
pub struct HostStore;

impl Store for HostStore {
    fn list(&self, query: &Query) -> Result<Page, HostError> {
        backups::list(query).inspect_err(|e| warn(&format!("listing backups failed: {e:?}")))
    }

    fn get(&self, id: &str) -> Result<Option<Backup>, HostError> {
        backups::get(id).inspect_err(|e| warn(&format!("reading backup {id} failed: {e:?}")))
    }

    fn delete(&self, id: &str) -> Result<bool, HostError> {
        backups::delete(id).inspect_err(|e| warn(&format!("deleting backup {id} failed: {e:?}")))
    }
}

/// Log a storage failure into the host's trace.
fn warn(message: &str) {
    log::log(log::Level::Warn, message);
}

/// Whether a backup was uploaded by the system `subject`.
pub fn belongs_to(backup: &Backup, subject: &str) -> bool {
    backup.resource_kind == SYSTEM_KIND && backup.resource_id == subject
}

/// Every backup of the system `subject`, newest first, paging through the host's cap. The
/// first host error ends the listing.
pub fn system_backups(store: &impl Store, subject: &str) -> Result<Vec<Backup>, HostError> {
    let mut all: Vec<Backup> = Vec::new();
    loop {
        let page = store.list(&Query {
            resource_kind: Some(SYSTEM_KIND.into()),
            resource_id: Some(subject.into()),
            newest_first: true,
            offset: all.len() as u64,
            limit: PAGE_LIMIT,
        })?;
        let fetched = page.items.len();
        all.extend(page.items);
        if fetched == 0 || all.len() as u64 >= page.total {
            break;
        }
    }
    // The host filters already; never show another system's backup even if it did not.
    all.retain(|b| belongs_to(b, subject));
    Ok(all)
}
