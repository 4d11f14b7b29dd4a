//! Persistent state: the metadata database ([`Db`], sqlx over SQLite or PostgreSQL with one
//! schema) and object storage for backup bytes ([`Objects`]), with deduplicated content as chunks in
//! packs ([`chunks`]) and one way to read a backup whatever its layout ([`content`]).
//! Commits are made durable in groups ([`durability`]).

pub mod batch;
pub mod chunks;
pub mod content;
mod db;
mod durability;
mod error;
mod objects;
mod pool;

pub use db::{
    AdminTokenRecord, Admission, AuditEntry, AuditQuery, AuditRecord, BackupQuery, BackupRecord,
    CredentialRecord, Db, Deleted, DocumentDeleted, DocumentRecord, Engine, OrgChange, OrgDeleted,
    OrgLimitsRecord, OrgRecord, ProviderUsage, Reservation, Reserved, ResourceRecord, Scoped,
    StaleIngest,
};
pub use error::DbError;
pub use objects::{ObjectError, Objects, TempObject};

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
