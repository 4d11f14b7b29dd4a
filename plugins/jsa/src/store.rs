//! What the handlers need from the host — JSA hosts and backup configurations (resources),
//! stored backups, capture and restore jobs, the document store, id sequences, the clock and
//! the log — behind a trait, so the handlers are tested natively against
//! [`crate::fake::FakeStore`]; [`HostStore`] is the real one, over the host's capabilities.

use backup_gateway_sdk::{
    HostError,
    backups::{self, Backup, Page, Query as BackupQuery},
    clock,
    documents::{self, Document},
    ids,
    jobs::{self, Job, JobSpec, Query as JobQuery},
    log,
    resources::{self, Resource},
};

/// Largest page the host serves for lists.
pub const HOST_PAGE_LIMIT: u32 = 1000;

/// The host calls the handlers make.
pub trait Store {
    /// The resource of this kind and id, if the caller's org has it.
    fn resource(&self, kind: &str, id: &str) -> Option<Resource>;
    /// Resources of a kind ordered by id, after `after`, at most `limit`.
    fn resources(&self, kind: &str, after: Option<&str>, limit: u32) -> Vec<Resource>;

    /// A page of stored backups.
    fn backups(&self, query: &BackupQuery) -> Result<Page, HostError>;
    /// A stored backup by host id.
    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError>;
    /// Delete a stored backup; false when it did not exist.
    fn delete_backup(&self, id: &str) -> Result<bool, HostError>;
    /// Whether a stored backup's object is still present.
    fn object_exists(&self, id: &str) -> Result<bool, HostError>;

    /// Queue a job.
    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError>;
    /// A job by host id.
    fn job(&self, id: &str) -> Option<Job>;
    /// Jobs matching the query, newest first.
    fn jobs(&self, query: &JobQuery) -> Vec<Job>;
    /// Cancel a queued or running job (a finished one is a conflict).
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

    /// The next value (from 1) of a named counter; 0 when the host could not answer.
    fn next_in_sequence(&self, name: &str) -> u64;
    /// Now, in microseconds since the epoch.
    fn now(&self) -> u64;
    /// Log a warning into the host's trace.
    fn warn(&self, message: &str);
}

/// The host's capabilities.
pub struct HostStore;

impl Store for HostStore {
    fn resource(&self, kind: &str, id: &str) -> Option<Resource> {
        resources::get(kind, id)
    }

    fn resources(&self, kind: &str, after: Option<&str>, limit: u32) -> Vec<Resource> {
        resources::list(kind, after, limit)
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

    fn object_exists(&self, id: &str) -> Result<bool, HostError> {
        backups::object_exists(id)
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

    fn next_in_sequence(&self, name: &str) -> u64 {
        ids::next_in_sequence(name)
    }

    fn now(&self) -> u64 {
        clock::now()
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

/// A plugin record kept as a JSON document, with the revision its next write must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<R> {
    /// The record.
    pub record: R,
    /// Revision for compare-and-swap (0: not written yet).
    pub revision: u64,
}

/// A record from a document (`None`, logged, when it does not parse).
fn parse_record<R: serde::de::DeserializeOwned>(
    store: &impl Store,
    doc: &Document,
    what: &str,
) -> Option<Stored<R>> {
    match serde_json::from_str::<R>(&doc.value) {
        Ok(record) => Some(Stored {
            record,
            revision: doc.revision,
        }),
        Err(e) => {
            store.warn(&format!("unreadable {what} record: {e}"));
            None
        }
    }
}

/// The record with numeric id `id` in `collection`.
pub fn load_record<R: serde::de::DeserializeOwned>(
    store: &impl Store,
    collection: &str,
    id: u64,
    what: &str,
) -> Option<Stored<R>> {
    parse_record(store, &store.document(collection, &key_of(id))?, what)
}

/// Every readable record of `collection`, by id.
pub fn load_records<R: serde::de::DeserializeOwned>(
    store: &impl Store,
    collection: &str,
    what: &str,
) -> Vec<Stored<R>> {
    all_documents(store, collection)
        .iter()
        .filter_map(|doc| parse_record(store, doc, what))
        .collect()
}

/// Write a record back under numeric id `id` (compare-and-swap on its revision; 0 = new).
pub fn save_record<R: serde::Serialize>(
    store: &impl Store,
    collection: &str,
    id: u64,
    stored: &mut Stored<R>,
) -> Result<(), HostError> {
    let value =
        serde_json::to_string(&stored.record).map_err(|e| HostError::Invalid(e.to_string()))?;
    let doc = store.put_document(collection, &key_of(id), &value, Some(stored.revision))?;
    stored.revision = doc.revision;
    Ok(())
}

/// Every resource of a kind, in id order, paging through the host's cap.
pub fn all_resources(store: &impl Store, kind: &str) -> Vec<Resource> {
    let mut all: Vec<Resource> = Vec::new();
    loop {
        let after = all.last().map(|r| r.id.clone());
        let page = store.resources(kind, after.as_deref(), HOST_PAGE_LIMIT);
        let fetched = page.len();
        all.extend(page);
        if fetched < HOST_PAGE_LIMIT as usize {
            break;
        }
    }
    all
}

/// The document key of a numeric id: 20 zero-padded digits, so key order is id order.
pub fn key_of(id: u64) -> String {
    format!("{id:020}")
}

/// Milliseconds since the epoch from the host's microseconds.
pub fn millis(micros: u64) -> u64 {
    micros / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeStore;

    #[test]
    fn keys_sort_like_ids() {
        assert_eq!(key_of(7), "00000000000000000007");
        assert!(key_of(9) < key_of(10));
        assert_eq!(key_of(u64::MAX).len(), 20);
        assert_eq!(millis(1_700_000_000_123_456), 1_700_000_000_123);
    }

    #[test]
    fn all_documents_pages_through_the_cap() {
        let store = FakeStore::new();
        for i in 1..=2500u64 {
            store
                .put_document("c", &key_of(i), "{}", None)
                .expect("put");
        }
        let all = all_documents(&store, "c");
        assert_eq!(all.len(), 2500);
        assert_eq!(all[0].key, key_of(1));
        assert_eq!(all[2499].key, key_of(2500));
    }
}
