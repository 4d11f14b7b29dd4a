//! [`Host`]: every capability of the provider world (its imports) behind one trait, so a
//! plugin's handlers take `&impl Host` and run unchanged against the real host
//! ([`WasmHost`]) and, in native tests, against the fake one (`testing::FakeHost`).
//!
//! One method per import, in the order of `wit/provider@1.1.0/capabilities.wit`; the WIT's
//! doc comments are the contract, repeated here in short. Every call is scoped by the host to
//! the org of the request's principal and to this plugin: with no principal every database
//! import answers `not-found`. Every call that touches the database can answer
//! `unavailable` (the database or object storage is down; retry later), the reads included.

use crate::HostError;
use crate::{
    ByteRange,
    backups::{self, Backup, Page, Query as BackupQuery},
    clock,
    documents::{self, Document},
    ids,
    jobs::{self, Job, JobSpec, Query as JobQuery},
    log::{self, Level},
    resources::{self, Query as ResourceQuery, Resource},
};

/// The host's capabilities, as a plugin's handlers call them.
pub trait Host {
    // ---- resources ----
    /// The resource of this kind and id (`Ok(None)` when the caller's org has none).
    fn resource(&self, kind: &str, id: &str) -> Result<Option<Resource>, HostError>;
    /// Resources of a kind ordered by id, after `after`, at most `limit` (capped at 1000);
    /// with `attribute: Some((key, value))` only those whose attributes hold that top-level
    /// key with that *string* value (the key is 1-64 of `[A-Za-z0-9._-]`, else `invalid`).
    fn resources(&self, query: &ResourceQuery) -> Result<Vec<Resource>, HostError>;
    /// Change a resource's state; `not-found` when it does not exist.
    fn set_resource_state(&self, kind: &str, id: &str, state: &str) -> Result<(), HostError>;
    /// Create a resource with a file source the host chooses (state `available`).
    fn create_resource(
        &self,
        kind: &str,
        id: &str,
        name: &str,
        attributes: &str,
    ) -> Result<Resource, HostError>;

    // ---- backups ----
    /// A page of the org's backups and the total that matched.
    fn backups(&self, query: &BackupQuery) -> Result<Page, HostError>;
    /// A backup by host id.
    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError>;
    /// A backup by per-org sequence number.
    fn backup_by_seq(&self, seq: u64) -> Result<Option<Backup>, HostError>;
    /// Delete a backup and its object; false when it did not exist.
    fn delete_backup(&self, id: &str) -> Result<bool, HostError>;
    /// Up to 1 MiB of a backup's bytes.
    fn read_backup(&self, id: &str, range: ByteRange) -> Result<Vec<u8>, HostError>;
    /// Whether a backup's stored object is still present.
    fn object_exists(&self, id: &str) -> Result<bool, HostError>;
    /// Replace the plugin's metadata (JSON) of a backup.
    fn set_backup_metadata(&self, id: &str, metadata: &str) -> Result<(), HostError>;

    // ---- jobs ----
    /// Queue a job (the resource must exist and have a source; see `JobSpec`).
    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError>;
    /// A job by host id (`Ok(None)` when the caller's org has none).
    fn job(&self, id: &str) -> Result<Option<Job>, HostError>;
    /// A job by per-org sequence number.
    fn job_by_seq(&self, seq: u64) -> Result<Option<Job>, HostError>;
    /// Jobs matching the query (`kinds` empty: any kind), newest first (capped at 1000).
    fn jobs(&self, query: &JobQuery) -> Result<Vec<Job>, HostError>;
    /// Cancel a queued or running job; a finished one is a conflict.
    fn cancel_job(&self, id: &str) -> Result<Job, HostError>;
    /// Replace the plugin's metadata (JSON) of a job.
    fn set_job_metadata(&self, id: &str, metadata: &str) -> Result<(), HostError>;

    // ---- documents ----
    /// A document by collection and key (`Ok(None)` when there is none).
    fn document(&self, collection: &str, key: &str) -> Result<Option<Document>, HostError>;
    /// Write a document; with `expected`, only if the stored revision still equals it (0: it
    /// must not exist yet), else a conflict.
    fn put_document(
        &self,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<u64>,
    ) -> Result<Document, HostError>;
    /// Delete a document; false when it did not exist. With `expected`, only while the
    /// stored revision still equals it, else a conflict (and nothing is deleted).
    fn delete_document(
        &self,
        collection: &str,
        key: &str,
        expected: Option<u64>,
    ) -> Result<bool, HostError>;
    /// Documents of a collection ordered by key, after `after`, at most `limit` (capped at 1000).
    fn documents(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Document>, HostError>;

    // ---- ids, clock, log ----
    /// A random UUID (version 4), lower-case hyphenated.
    fn uuid_v4(&self) -> String;
    /// A time-ordered UUID (version 7), lower-case hyphenated.
    fn uuid_v7(&self) -> String;
    /// A ULID: 26 Crockford base32 characters, upper-case.
    fn ulid(&self) -> String;
    /// The next value (from 1) of a named counter of the caller's org and this plugin.
    fn next_in_sequence(&self, name: &str) -> Result<u64, HostError>;
    /// Now, in microseconds since the Unix epoch, UTC.
    fn now(&self) -> u64;
    /// Log one message into the host's trace.
    fn log(&self, level: Level, message: &str);

    /// Log a warning (a shorthand for [`Host::log`]).
    fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }
}

/// The real host: each method calls the import of the same name.
///
/// Outside WebAssembly (a native `cargo test`) the imports do not exist; a call then panics
/// with a message naming the fake host instead of aborting the whole test binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasmHost;

/// Call an import in WebAssembly; natively, fail the calling test with a readable panic.
macro_rules! import {
    ($call:expr) => {
        if cfg!(target_family = "wasm") {
            $call
        } else {
            native_call(stringify!($call))
        }
    };
}

#[cold]
fn native_call(call: &str) -> ! {
    panic!(
        "WasmHost called outside WebAssembly ({call}): native tests pass \
         `backup_gateway_sdk::testing::FakeHost` (feature `testing`) instead"
    )
}

impl Host for WasmHost {
    fn resource(&self, kind: &str, id: &str) -> Result<Option<Resource>, HostError> {
        import!(resources::get(kind, id))
    }
    fn resources(&self, query: &ResourceQuery) -> Result<Vec<Resource>, HostError> {
        import!(resources::list(query))
    }
    fn set_resource_state(&self, kind: &str, id: &str, state: &str) -> Result<(), HostError> {
        import!(resources::set_state(kind, id, state))
    }
    fn create_resource(
        &self,
        kind: &str,
        id: &str,
        name: &str,
        attributes: &str,
    ) -> Result<Resource, HostError> {
        import!(resources::create(kind, id, name, attributes))
    }
    fn backups(&self, query: &BackupQuery) -> Result<Page, HostError> {
        import!(backups::list(query))
    }
    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError> {
        import!(backups::get(id))
    }
    fn backup_by_seq(&self, seq: u64) -> Result<Option<Backup>, HostError> {
        import!(backups::get_by_seq(seq))
    }
    fn delete_backup(&self, id: &str) -> Result<bool, HostError> {
        import!(backups::delete(id))
    }
    fn read_backup(&self, id: &str, range: ByteRange) -> Result<Vec<u8>, HostError> {
        import!(backups::read(id, range))
    }
    fn object_exists(&self, id: &str) -> Result<bool, HostError> {
        import!(backups::object_exists(id))
    }
    fn set_backup_metadata(&self, id: &str, metadata: &str) -> Result<(), HostError> {
        import!(backups::set_metadata(id, metadata))
    }
    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        import!(jobs::create(spec))
    }
    fn job(&self, id: &str) -> Result<Option<Job>, HostError> {
        import!(jobs::get(id))
    }
    fn job_by_seq(&self, seq: u64) -> Result<Option<Job>, HostError> {
        import!(jobs::get_by_seq(seq))
    }
    fn jobs(&self, query: &JobQuery) -> Result<Vec<Job>, HostError> {
        import!(jobs::list(query))
    }
    fn cancel_job(&self, id: &str) -> Result<Job, HostError> {
        import!(jobs::cancel(id))
    }
    fn set_job_metadata(&self, id: &str, metadata: &str) -> Result<(), HostError> {
        import!(jobs::set_metadata(id, metadata))
    }
    fn document(&self, collection: &str, key: &str) -> Result<Option<Document>, HostError> {
        import!(documents::get(collection, key))
    }
    fn put_document(
        &self,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<u64>,
    ) -> Result<Document, HostError> {
        import!(documents::put(collection, key, value, expected))
    }
    fn delete_document(
        &self,
        collection: &str,
        key: &str,
        expected: Option<u64>,
    ) -> Result<bool, HostError> {
        import!(documents::delete(collection, key, expected))
    }
    fn documents(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Document>, HostError> {
        import!(documents::list(collection, after, limit))
    }
    fn uuid_v4(&self) -> String {
        import!(ids::uuid_v4())
    }
    fn uuid_v7(&self) -> String {
        import!(ids::uuid_v7())
    }
    fn ulid(&self) -> String {
        import!(ids::ulid())
    }
    fn next_in_sequence(&self, name: &str) -> Result<u64, HostError> {
        import!(ids::next_in_sequence(name))
    }
    fn now(&self) -> u64 {
        import!(clock::now())
    }
    fn log(&self, level: Level, message: &str) {
        import!(log::log(level, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_native_call_is_a_readable_panic_not_an_abort() {
        let caught = std::panic::catch_unwind(|| WasmHost.now());
        let message = caught
            .err()
            .and_then(|p| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(message.contains("FakeHost"), "{message}");
    }
}
