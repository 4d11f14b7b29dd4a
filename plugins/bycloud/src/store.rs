//! What the handlers need from the host — volumes (resources of kind `volume`), stored
//! backups, capture and restore jobs, the document store, ids and the log — behind
//! a trait, so the handlers are tested natively against [`crate::fake::FakeStore`];
//! [`HostStore`] is the real one, over the host's capabilities.

use backup_gateway_sdk::{
    HostError,
    backups::{self, Backup, Page, Query as BackupQuery},
    documents::{self, Document},
    ids,
    jobs::{self, Job, JobSpec, Query as JobQuery},
    log,
    resources::{self, Resource},
};

/// Resource kind of every ByCloud volume.
pub const VOLUME_KIND: &str = "volume";

/// Largest page the host serves for lists.
pub const HOST_PAGE_LIMIT: u32 = 1000;

/// The host calls the handlers make.
pub trait Store {
    /// The volume with this id, if the caller's org has it.
    fn volume(&self, id: &str) -> Option<Resource>;
    /// Create a volume (the host chooses where its bytes live).
    fn create_volume(&self, id: &str, name: &str, attributes: &str) -> Result<Resource, HostError>;
    /// Change a volume's state.
    fn set_volume_state(&self, id: &str, state: &str) -> Result<(), HostError>;

    /// A page of stored backups.
    fn backups(&self, query: &BackupQuery) -> Result<Page, HostError>;
    /// A stored backup by host id.
    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError>;
    /// Delete a stored backup; false when it did not exist.
    fn delete_backup(&self, id: &str) -> Result<bool, HostError>;

    /// Queue a job.
    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError>;
    /// A job by host id.
    fn job(&self, id: &str) -> Option<Job>;
    /// Jobs matching the query, newest first.
    fn jobs(&self, query: &JobQuery) -> Vec<Job>;
    /// Cancel a queued or running job.
    fn cancel_job(&self, id: &str) -> Result<Job, HostError>;

    /// A document.
    fn document(&self, collection: &str, key: &str) -> Option<Document>;
    /// Write a document (compare-and-swap on `expected`, 0 = must not exist).
    fn put_document(
        &self,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<u64>,
    ) -> Result<Document, HostError>;
    /// Delete a document; false when it did not exist.
    fn delete_document(&self, collection: &str, key: &str) -> Result<bool, HostError>;
    /// Documents of a collection ordered by key, after `after`, at most `limit`.
    fn documents(&self, collection: &str, after: Option<&str>, limit: u32) -> Vec<Document>;

    /// A random UUID (version 4), lower-case.
    fn uuid_v4(&self) -> String;
    /// Log a warning into the host's trace.
    fn warn(&self, message: &str);
}

/// The host's capabilities.
pub struct HostStore;

impl Store for HostStore {
    fn volume(&self, id: &str) -> Option<Resource> {
        resources::get(VOLUME_KIND, id)
    }

    fn create_volume(&self, id: &str, name: &str, attributes: &str) -> Result<Resource, HostError> {
        resources::create(VOLUME_KIND, id, name, attributes)
    }

    fn set_volume_state(&self, id: &str, state: &str) -> Result<(), HostError> {
        resources::set_state(VOLUME_KIND, id, state)
    }

    fn backups(&self, query: &BackupQuery) -> Result<Page, HostError> {
        backups::list(query)
    }

    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError> {
        backups::get(id)
    }

    fn delete_backup(&self, id: &str) -> Result<bool, HostError> {
        backups::delete(id)
    }

    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        jobs::create(spec)
    }

    fn job(&self, id: &str) -> Option<Job> {
        jobs::get(id)
    }

    fn jobs(&self, query: &JobQuery) -> Vec<Job> {
        jobs::list(query)
    }

    fn cancel_job(&self, id: &str) -> Result<Job, HostError> {
        jobs::cancel(id)
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
        documents::put(collection, key, value, expected)
    }

    fn delete_document(&self, collection: &str, key: &str) -> Result<bool, HostError> {
        documents::delete(collection, key)
    }

    fn documents(&self, collection: &str, after: Option<&str>, limit: u32) -> Vec<Document> {
        documents::list(collection, after, limit)
    }

    fn uuid_v4(&self) -> String {
        ids::uuid_v4()
    }

    fn warn(&self, message: &str) {
        log::log(log::Level::Warn, message);
    }
}

/// Every document of a collection, in key order, paging through the host's cap.
pub fn all_documents(store: &impl Store, collection: &str) -> Vec<Document> {
    let mut all: Vec<Document> = Vec::new();
    loop {
        let after = all.last().map(|d| d.key.clone());
        let page = store.documents(collection, after.as_deref(), HOST_PAGE_LIMIT);
        let fetched = page.len();
        all.extend(page);
        if fetched < HOST_PAGE_LIMIT as usize {
            break;
        }
    }
    all
}

/// Every stored backup of a volume (any volume when `volume` is `None`), paging through the
/// host's cap. The first host error ends the listing.
pub fn volume_backups(store: &impl Store, volume: Option<&str>) -> Result<Vec<Backup>, HostError> {
    let mut all: Vec<Backup> = Vec::new();
    loop {
        let page = store.backups(&BackupQuery {
            resource_kind: Some(VOLUME_KIND.into()),
            resource_id: volume.map(str::to_string),
            newest_first: false,
            offset: all.len() as u64,
            limit: HOST_PAGE_LIMIT,
        })?;
        let fetched = page.items.len();
        all.extend(page.items);
        if fetched == 0 || all.len() as u64 >= page.total {
            break;
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeStore, stored_backup};

    #[test]
    fn all_documents_pages_through_the_cap() {
        let store = FakeStore::new();
        for i in 0..2500u32 {
            store
                .put_document("c", &format!("{i:05}"), "{}", None)
                .expect("put");
        }
        let all = all_documents(&store, "c");
        assert_eq!(all.len(), 2500);
        assert_eq!(all[0].key, "00000");
        assert_eq!(all[2499].key, "02499");
    }

    #[test]
    fn volume_backups_pages_and_filters() {
        let mut store = FakeStore::new();
        store.page_cap = 3;
        for i in 0..7 {
            store.add_backup(stored_backup(&format!("b{i}"), "vol-a", 10, 10));
        }
        store.add_backup(stored_backup("other", "vol-b", 10, 10));
        assert_eq!(
            volume_backups(&store, Some("vol-a")).expect("listed").len(),
            7
        );
        assert_eq!(volume_backups(&store, None).expect("listed").len(), 8);
        store.backups_error = Some(HostError::Unavailable);
        assert!(matches!(
            volume_backups(&store, None),
            Err(HostError::Unavailable)
        ));
    }
}
