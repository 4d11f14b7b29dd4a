//! The job table: creating a job, and the worker side — claiming with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers), heartbeats that
//! renew it and report progress, and the final transitions, each conditional on the lease
//! still being held so a worker that lost its job cannot overwrite another's outcome.
//! Lease expiry is set and compared by the database's clock, never a node's, so nodes with
//! skewed clocks neither steal live jobs nor sit on dead ones. The org's side (reading,
//! listing, cancelling, annotating) is `scoped`: methods of [`crate::store::Scoped`].
//!
//! What a client is told about (a job created, cancelled, its metadata set) is durable when
//! these functions return; the worker's own transitions (claims, heartbeats, outcomes) are
//! not waited for: a claim lost to a power cut only runs the job again, and the worker has
//! the next group flush cover its outcome ([`Db::sync`]).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::store::batch::{Batch, Param};
use crate::store::{Db, DbError, Engine, now_micros};

mod scoped;
pub use scoped::JobFilter;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Stream the resource's source into a new backup.
    Capture,
    /// Write a backup's bytes to the resource's source.
    Restore,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Capture => "capture",
            JobKind::Restore => "restore",
        }
    }

    fn parse(s: &str) -> JobKind {
        if s == "restore" {
            JobKind::Restore
        } else {
            JobKind::Capture
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// Leased by a worker.
    InProgress,
    /// Done.
    Completed,
    /// Given up.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl JobStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::InProgress => "in_progress",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> JobStatus {
        match s {
            "in_progress" => JobStatus::InProgress,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => JobStatus::Queued,
        }
    }
}

/// A job row.
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// Host id (UUIDv7).
    pub id: String,
    /// Org.
    pub org: String,
    /// Provider.
    pub provider: String,
    /// Per-org, per-provider sequence.
    pub seq: i64,
    /// Capture or restore.
    pub kind: JobKind,
    /// Resource kind.
    pub resource_kind: String,
    /// Resource id.
    pub resource_id: String,
    /// For restores: the backup.
    pub source_backup: Option<String>,
    /// Status.
    pub status: JobStatus,
    /// Bytes processed.
    pub bytes_done: i64,
    /// Bytes expected.
    pub bytes_total: Option<i64>,
    /// Progress text.
    pub message: String,
    /// Times started.
    pub attempts: i64,
    /// The backup a completed capture produced.
    pub backup_id: Option<String>,
    /// Why it failed (safe to show).
    pub error: Option<String>,
    /// Requester.
    pub subject: String,
    /// Filename for the produced backup.
    pub filename: String,
    /// Media type for the produced backup.
    pub media_type: String,
    /// µs since epoch.
    pub created_at: i64,
    /// First start.
    pub started_at: Option<i64>,
    /// Final status reached.
    pub finished_at: Option<i64>,
    /// Plugin JSON.
    pub metadata: String,
    /// For captures: store the content as shared, SHA-256-addressed chunks.
    pub deduplicate: bool,
}

const COLUMNS: &str = "id, org, provider, seq, kind, resource_kind, resource_id, source_backup, status, \
    bytes_done, bytes_total, message, attempts, backup_id, error, subject, filename, media_type, \
    created_at, started_at, finished_at, metadata, deduplicate";

fn from_row(r: &AnyRow) -> Result<JobRecord, sqlx::Error> {
    Ok(JobRecord {
        id: r.try_get(0)?,
        org: r.try_get(1)?,
        provider: r.try_get(2)?,
        seq: r.try_get(3)?,
        kind: JobKind::parse(&r.try_get::<String, _>(4)?),
        resource_kind: r.try_get(5)?,
        resource_id: r.try_get(6)?,
        source_backup: r.try_get(7)?,
        status: JobStatus::parse(&r.try_get::<String, _>(8)?),
        bytes_done: r.try_get(9)?,
        bytes_total: r.try_get(10)?,
        message: r.try_get(11)?,
        attempts: r.try_get(12)?,
        backup_id: r.try_get(13)?,
        error: r.try_get(14)?,
        subject: r.try_get(15)?,
        filename: r.try_get(16)?,
        media_type: r.try_get(17)?,
        created_at: r.try_get(18)?,
        started_at: r.try_get(19)?,
        finished_at: r.try_get(20)?,
        metadata: r.try_get(21)?,
        deduplicate: r.try_get::<i64, _>(22)? != 0,
    })
}

/// A new job's fields.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Org.
    pub org: String,
    /// Provider.
    pub provider: String,
    /// Kind.
    pub kind: JobKind,
    /// Resource kind.
    pub resource_kind: String,
    /// Resource id.
    pub resource_id: String,
    /// For restores.
    pub source_backup: Option<String>,
    /// Requester.
    pub subject: String,
    /// Filename for the backup.
    pub filename: String,
    /// Media type for the backup.
    pub media_type: String,
    /// Plugin JSON.
    pub metadata: String,
    /// At most one exclusive job per resource may be queued or running.
    pub exclusive: bool,
    /// For captures: store the content as shared, SHA-256-addressed chunks.
    pub deduplicate: bool,
}

/// Insert a queued job; `Ok(None)` when it is exclusive and another exclusive job of the
/// resource is queued or running (the partial unique index decides, atomically).
pub async fn insert(db: &Db, new: &NewJob) -> Result<Option<JobRecord>, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    // The sequence row first (made if missing; on PostgreSQL locked until the commit), then
    // the job with the number after it, which takes that number only if the job went in
    let batch = Batch::new()
        .statement(
            "INSERT INTO sequences (org, provider, name, value) VALUES (@org, @provider, 'jobs', 0) \
             ON CONFLICT (org, provider, name) DO UPDATE SET value = sequences.value",
        )
        .statement(
            "INSERT INTO jobs (id, org, provider, seq, kind, resource_kind, resource_id, source_backup, status, \
             bytes_done, message, attempts, subject, filename, media_type, created_at, metadata, exclusive, deduplicate) \
             SELECT @id, @org, @provider, value + 1, @kind, @resource_kind, @resource_id, @source_backup, 'queued', \
             0, 'queued', 0, @subject, @filename, @media_type, @created_at, @metadata, @exclusive, @deduplicate \
             FROM sequences WHERE org = @org AND provider = @provider AND name = 'jobs' ON CONFLICT DO NOTHING",
        )
        .statement(
            "UPDATE sequences SET value = value + 1 WHERE org = @org AND provider = @provider AND name = 'jobs' \
             AND EXISTS (SELECT 1 FROM jobs WHERE id = @id)",
        )
        .result(format!("SELECT {COLUMNS} FROM jobs WHERE id = @id"))
        .param("id", Param::Text(&id))
        .param("org", Param::Text(&new.org))
        .param("provider", Param::Text(&new.provider))
        .param("kind", Param::Text(new.kind.as_str()))
        .param("resource_kind", Param::Text(&new.resource_kind))
        .param("resource_id", Param::Text(&new.resource_id))
        .param("source_backup", Param::MaybeText(new.source_backup.as_deref()))
        .param("subject", Param::Text(&new.subject))
        .param("filename", Param::Text(&new.filename))
        .param("media_type", Param::Text(&new.media_type))
        .param("created_at", Param::Int(now_micros()))
        .param("metadata", Param::Text(&new.metadata))
        .param("exclusive", Param::Int(i64::from(new.exclusive)))
        .param("deduplicate", Param::Int(i64::from(new.deduplicate)));
    let rows = db.run_batch(&batch).await?;
    let Some(row) = rows.first() else {
        // refused: another exclusive job of the resource is queued or running
        return Ok(None);
    };
    db.sync().await?;
    Ok(Some(from_row(row)?))
}

/// Take the oldest runnable job (queued, or in progress with an expired lease and attempts
/// left) for `owner`, leased for `lease_micros` from the database's now.
pub async fn claim(
    db: &Db,
    owner: &str,
    lease_micros: i64,
    max_attempts: i64,
) -> Result<Option<JobRecord>, DbError> {
    let lock = match db.engine() {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let now = db.now_sql();
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE jobs SET status = 'in_progress', lease_owner = $1, lease_expires_at = {now} + $2, \
         attempts = attempts + 1, started_at = COALESCE(started_at, $3), message = 'running' \
         WHERE id = (SELECT id FROM jobs WHERE status IN ('queued', 'in_progress') \
         AND (status = 'queued' OR lease_expires_at < {now}) \
         AND attempts < $4 ORDER BY created_at LIMIT 1{lock}) RETURNING {COLUMNS}"
    )))
    .bind(owner)
    .bind(lease_micros)
    .bind(now_micros())
    .bind(max_attempts)
    .fetch_optional(&mut *db.write().await?)
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Renew a lease for `lease_micros` from the database's now and record progress; false when
/// the job is no longer this worker's (lease taken over, or cancelled).
pub async fn heartbeat(
    db: &Db,
    id: &str,
    owner: &str,
    lease_micros: i64,
    bytes_done: i64,
    bytes_total: Option<i64>,
) -> Result<bool, DbError> {
    let r = sqlx::query(AssertSqlSafe(format!(
        "UPDATE jobs SET lease_expires_at = {} + $1, bytes_done = $2, bytes_total = $3 \
         WHERE id = $4 AND lease_owner = $5 AND status = 'in_progress'",
        db.now_sql()
    )))
    .bind(lease_micros)
    .bind(bytes_done)
    .bind(bytes_total)
    .bind(id)
    .bind(owner)
    .execute(&mut *db.write().await?)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Give a job the worker `owner` holds back to the queue without counting the attempt
/// (its node is stopping): another worker takes it at once rather than once its lease has
/// expired. False when the job was no longer this worker's.
pub async fn hand_back(db: &Db, id: &str, owner: &str) -> Result<bool, DbError> {
    let r = sqlx::query(
        "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
         attempts = attempts - 1, bytes_done = 0, message = 'queued' \
         WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress'",
    )
    .bind(id)
    .bind(owner)
    .execute(&mut *db.write().await?)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Final transition by the lease holder: completed (with the backup a capture made), failed
/// (with a client-safe reason) or back to queued for another attempt. False when the lease
/// was lost.
pub async fn finish(
    db: &Db,
    id: &str,
    owner: &str,
    outcome: Outcome<'_>,
    bytes: (i64, Option<i64>),
) -> Result<bool, DbError> {
    let (bytes_done, bytes_total) = bytes;
    let (status, backup_id, error, finished) = match outcome {
        Outcome::Completed(b) => ("completed", b, None, Some(now_micros())),
        Outcome::Failed(e) => ("failed", None, Some(e), Some(now_micros())),
        Outcome::Retry(e) => ("queued", None, Some(e), None),
    };
    let r = sqlx::query(
        "UPDATE jobs SET status = $1, backup_id = $2, error = $3, finished_at = $4, bytes_done = $5, \
         bytes_total = COALESCE($6, bytes_total), lease_owner = NULL, lease_expires_at = NULL, message = $1 \
         WHERE id = $7 AND lease_owner = $8 AND status = 'in_progress'",
    )
    .bind(status)
    .bind(backup_id)
    .bind(error)
    .bind(finished)
    .bind(bytes_done)
    .bind(bytes_total)
    .bind(id)
    .bind(owner)
    .execute(&mut *db.write().await?)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// How a job ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// With the produced backup, for captures.
    Completed(Option<&'a str>),
    /// For good.
    Failed(&'a str),
    /// Worth another attempt.
    Retry(&'a str),
}

/// Fail jobs whose worker died on their last attempt (lease expired, no attempts left).
pub async fn fail_exhausted(db: &Db, max_attempts: i64) -> Result<u64, DbError> {
    let r = sqlx::query(AssertSqlSafe(format!(
        "UPDATE jobs SET status = 'failed', error = 'the job was interrupted too many times', \
         finished_at = $1, lease_owner = NULL, message = 'failed' \
         WHERE status = 'in_progress' AND lease_expires_at < {} AND attempts >= $2",
        db.now_sql()
    )))
    .bind(now_micros())
    .bind(max_attempts)
    .execute(&mut *db.write().await?)
    .await?;
    Ok(r.rows_affected())
}

#[cfg(test)]
mod tests;
