//! [`DbError`]: how a metadata-database call fails, shared by every part of the store.

/// A database failure (logged; clients see a provider-shaped 5xx).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The query failed or the database is unreachable.
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// A job's backup was about to be committed, but the job is no longer running.
    #[error("the job is no longer running")]
    JobNotRunning,
    /// A chunk a deduplicated capture reuses was freed before the capture committed
    /// (a concurrent delete); the capture must be retried.
    #[error("a shared chunk was freed meanwhile")]
    ChunkGone,
    /// The URL names an engine we do not support.
    #[error("unsupported database url {0:?} (use sqlite:// or postgres://)")]
    UnsupportedUrl(String),
}
