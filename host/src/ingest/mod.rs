//! Streaming ingest: a request body (or a capture source) through SHA-256 and a byte counter
//! into a temporary object, made visible only when every byte declared has arrived and is
//! durable, then recorded together with its quota charge in one transaction.
//!
//! - [`reserve`]: the quota reservation (the `ingests` row, under its lease) and the
//!   temporary object, before the first byte;
//! - [`Reserved::write`] (`write.rs`): the stream through the staging pipeline into the
//!   object (or the chunk store), then publication and the record;
//! - [`prune`]: retention after a commit;
//! - [`reclaim`], [`remove_unrecorded`] (`sweep.rs`): what dead writers left behind.
//!
//! The HTTP half of uploads (checks, the plugin's `prepare-ingest`/`complete-ingest`) is
//! the HTTP layer's upload handler; captures are the job workers'. Callers run the work in its
//! own task, so a client that disconnects mid-body cannot cancel the cleanup: the temporary
//! object is removed (or the multipart upload aborted) and the reservation released. While
//! it runs, a lease ([`crate::lease`]) renews the `ingests` row; a process killed mid-upload
//! stops renewing, and once the lease has expired (by the database's clock) [`reclaim`], run
//! by any node, removes its temporary object or aborts its multipart upload and releases its
//! reservation. A local temporary file is opened while the reservation commits, so a crash
//! can leave one with no row: a single node removes those at start-up, and every node's
//! sweep once idle for a lease ([`remove_unrecorded`]).

mod idle;
mod prune;
mod reserve;
mod staging;
mod sweep;
mod write;

pub use idle::IdleTimeout;
pub use prune::prune;
pub use reserve::{Reserved, reserve, write};
pub use sweep::{reclaim, remove_unrecorded};

/// Where and as what a stream is stored.
#[derive(Debug, Clone)]
pub struct Target {
    /// Org.
    pub org: String,
    /// Provider.
    pub provider: String,
    /// Resource kind.
    pub resource_kind: String,
    /// Resource id (as given).
    pub resource_id: String,
    /// The backup's id (UUIDv7).
    pub backup_id: String,
    /// Object key.
    pub key: String,
    /// Sanitised filename.
    pub filename: String,
    /// Checked extension.
    pub extension: String,
    /// Media type.
    pub media_type: String,
    /// Uploader.
    pub subject: String,
    /// Plugin metadata JSON.
    pub metadata: String,
    /// Producing job.
    pub job_id: Option<String>,
    /// Store as deduplicated chunks ([`crate::store::chunks`]); `key` is then the pack of
    /// the chunks this capture adds.
    pub dedup: bool,
}

/// Why an ingest did not produce a backup.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The org quota would be exceeded.
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The sender (or its org) already has this many uploads in flight.
    #[error("too many uploads in flight (at most {0})")]
    TooManyUploads(u32),
    /// The quota could not be read.
    #[error("quota unavailable: {0}")]
    QuotaUnavailable(String),
    /// Storage could not be reached.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// Storage failed during the write or the record could not be committed.
    #[error("storage failed: {0}")]
    StorageFailed(String),
    /// The stream failed before its end (a client that went away, a source that broke).
    #[error("stream interrupted after {received} bytes: {reason}")]
    Interrupted {
        /// Declared length (0 when unknown).
        declared: u64,
        /// Received before the failure.
        received: u64,
        /// What the stream said.
        reason: String,
    },
    /// A stream of unknown length ran past its bound.
    #[error("larger than the {0}-byte limit")]
    TooLarge(u64),
    /// The stream ended before, or ran past, the declared length.
    #[error("length mismatch: declared {declared}, received {received}")]
    LengthMismatch {
        /// Declared.
        declared: u64,
        /// Received (possibly partial).
        received: u64,
    },
}

/// How many bytes a stream will bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Exactly this many (an upload's `Content-Length`, a file's length).
    Exact(u64),
    /// Unknown, but at most this many (a directory's tar stream, a URL without a length);
    /// 0 means unbounded. The bound is reserved, the actual size charged.
    AtMost(u64),
}

#[cfg(test)]
mod tests;
