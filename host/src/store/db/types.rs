//! What the database hands out and takes: the rows (resources, backups, documents), a
//! backup query, an ingest's reservation and its outcome, and the row mappings.

use sqlx::Row;
use sqlx::any::AnyRow;

/// A resource row.
#[derive(Debug, Clone)]
pub struct ResourceRecord {
    /// Kind.
    pub kind: String,
    /// Provider-visible id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Provider state.
    pub state: String,
    /// JSON object.
    pub attributes: String,
    /// JSON of the capture source, if any.
    pub source: Option<String>,
    /// µs since epoch.
    pub created_at: i64,
}

/// A backup row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRecord {
    /// Host id (UUIDv7).
    pub id: String,
    /// Owning org.
    pub org: String,
    /// Provider.
    pub provider: String,
    /// Per-org, per-provider sequence number.
    pub seq: i64,
    /// Resource kind.
    pub resource_kind: String,
    /// Resource id.
    pub resource_id: String,
    /// Object key in the store.
    pub object_key: String,
    /// User-facing filename.
    pub filename: String,
    /// Key extension.
    pub extension: String,
    /// Media type.
    pub media_type: String,
    /// Logical size.
    pub size: i64,
    /// Bytes this backup added to storage.
    pub stored_bytes: i64,
    /// Hex SHA-256.
    pub sha256: String,
    /// µs since epoch.
    pub created_at: i64,
    /// Uploader or requester.
    pub subject: String,
    /// Producing job.
    pub job_id: Option<String>,
    /// Plugin JSON.
    pub metadata: String,
    /// Stored as deduplicated chunks rather than one object.
    pub chunked: bool,
}

/// A deleted backup and the objects that went with it.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The record as it was.
    pub record: BackupRecord,
    /// Objects no longer referenced, for the caller to delete now that the record is gone.
    pub objects: Vec<String>,
}

/// Backups to list.
#[derive(Debug, Clone, Default)]
pub struct BackupQuery {
    /// Only this resource kind.
    pub resource_kind: Option<String>,
    /// Only this resource id.
    pub resource_id: Option<String>,
    /// Newest first.
    pub newest_first: bool,
    /// Skip.
    pub offset: i64,
    /// Take.
    pub limit: i64,
}

/// What an ingest reserves before its first byte ([`Db::reserve`]).
#[derive(Debug, Clone, Copy)]
pub struct Reservation<'a> {
    /// The ingest (and backup) id.
    pub ingest_id: &'a str,
    /// Org.
    pub org: &'a str,
    /// Plugin.
    pub provider: &'a str,
    /// Bytes to reserve.
    pub bytes: i64,
    /// The org's quota for this plugin (0: unlimited).
    pub quota: i64,
    /// Its temporary object.
    pub temp_key: &'a str,
    /// The key its object is published under.
    pub object_key: &'a str,
    /// The lease its writer renews.
    pub lease_micros: i64,
    /// A client upload's sender and caps; `None` for a capture (a worker's, already bounded
    /// by the worker count).
    pub admission: Option<Admission<'a>>,
}

#[cfg(test)]
impl<'a> Reservation<'a> {
    /// A capture's reservation (no admission caps), for tests.
    pub(crate) fn test(
        ingest_id: &'a str,
        org: &'a str,
        bytes: i64,
        quota: i64,
        (temp_key, object_key): (&'a str, &'a str),
        lease_micros: i64,
    ) -> Reservation<'a> {
        Reservation {
            ingest_id,
            org,
            provider: "p",
            bytes,
            quota,
            temp_key,
            object_key,
            lease_micros,
            admission: None,
        }
    }
}

/// A client upload's place among the uploads in flight.
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    /// The credential's subject.
    pub subject: &'a str,
    /// Uploads one subject may have in flight for one plugin (0: no cap).
    pub per_subject: u32,
    /// Uploads one org may have in flight, all plugins together (0: no cap).
    pub per_org: u32,
}

/// The outcome of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// Recorded and charged.
    Recorded,
    /// The quota would be exceeded.
    QuotaExceeded,
    /// The sender or its org already has this many uploads in flight.
    TooManyUploads(u32),
}

/// An in-flight ingest whose writer is presumed dead.
#[derive(Debug, Clone)]
pub struct StaleIngest {
    /// The ingest (and backup) id.
    pub id: String,
    /// Its temporary object (local) or final key (S3).
    pub temp_key: String,
    /// The key its object is published under.
    pub object_key: Option<String>,
    /// Its multipart upload on S3, once started.
    pub upload_id: Option<String>,
}

/// A document row.
#[derive(Debug, Clone)]
pub struct DocumentRecord {
    /// Key.
    pub key: String,
    /// JSON value.
    pub value: String,
    /// Revision.
    pub revision: i64,
}

pub(super) const BACKUP_COLUMNS: &str = "id, org, provider, seq, resource_kind, resource_id, object_key, \
    filename, extension, media_type, size, stored_bytes, sha256, created_at, subject, job_id, metadata, chunked";

/// A deadlock or serialization failure: the transaction can simply run again.
pub(super) fn is_transient(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40P01" || c == "40001")
}

pub(super) fn backup_from_row(r: &AnyRow) -> Result<BackupRecord, sqlx::Error> {
    Ok(BackupRecord {
        id: r.try_get(0)?,
        org: r.try_get(1)?,
        provider: r.try_get(2)?,
        seq: r.try_get(3)?,
        resource_kind: r.try_get(4)?,
        resource_id: r.try_get(5)?,
        object_key: r.try_get(6)?,
        filename: r.try_get(7)?,
        extension: r.try_get(8)?,
        media_type: r.try_get(9)?,
        size: r.try_get(10)?,
        stored_bytes: r.try_get(11)?,
        sha256: r.try_get(12)?,
        created_at: r.try_get(13)?,
        subject: r.try_get(14)?,
        job_id: r.try_get(15)?,
        metadata: r.try_get(16)?,
        chunked: r.try_get::<i64, _>(17)? != 0,
    })
}

pub(super) fn resource_from_row(r: &AnyRow) -> Result<ResourceRecord, sqlx::Error> {
    Ok(ResourceRecord {
        kind: r.try_get(0)?,
        id: r.try_get(1)?,
        name: r.try_get(2)?,
        state: r.try_get(3)?,
        attributes: r.try_get(4)?,
        source: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}
