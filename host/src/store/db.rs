//! The metadata database: one schema (`host/migrations`) on SQLite (default, WAL) or
//! PostgreSQL, through sqlx's Any driver. Every query takes the org (and provider) it is
//! scoped to; nothing here can reach across tenants.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use super::now_micros;

/// Which engine the pool talks to (for the few statements that differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite: one node, one file.
    Sqlite,
    /// PostgreSQL: shared by any number of nodes.
    Postgres,
}

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

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_core.sql")),
    (2, include_str!("../../migrations/0002_jobs.sql")),
    (3, include_str!("../../migrations/0003_chunks.sql")),
];

/// The connection pool and engine.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
}

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

const BACKUP_COLUMNS: &str = "id, org, provider, seq, resource_kind, resource_id, object_key, \
    filename, extension, media_type, size, stored_bytes, sha256, created_at, subject, job_id, metadata, chunked";

fn backup_from_row(r: &AnyRow) -> Result<BackupRecord, sqlx::Error> {
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

fn resource_from_row(r: &AnyRow) -> Result<ResourceRecord, sqlx::Error> {
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

impl Db {
    /// Connect and bring the schema up to date.
    pub async fn connect(url: &str, max_connections: Option<u32>) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let mut opts =
            AnyPoolOptions::new().max_connections(max_connections.unwrap_or(match engine {
                Engine::Sqlite => 8,
                Engine::Postgres => 16,
            }));
        if engine == Engine::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                         PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(url).await?;
        let db = Db { pool, engine };
        db.migrate().await?;
        Ok(db)
    }

    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, for modules that own their own tables (jobs).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), DbError> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(*version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_none() {
                sqlx::raw_sql(AssertSqlSafe(*sql)).execute(&mut *tx).await?;
                // Several nodes may race to migrate; the primary key lets only one record it.
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(*version)
                    .bind(now_micros())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    // ---- resources ---------------------------------------------------------------------

    /// Insert or refresh a resource declared in the config (state is kept if present).
    pub async fn upsert_resource(
        &self,
        org: &str,
        provider: &str,
        r: &ResourceRecord,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO resources (org, provider, kind, id, name, state, attributes, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (org, provider, kind, id) DO UPDATE SET name = excluded.name, \
             attributes = excluded.attributes, source = excluded.source",
        )
        .bind(org)
        .bind(provider)
        .bind(&r.kind)
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.state)
        .bind(&r.attributes)
        .bind(&r.source)
        .bind(r.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A resource of the org.
    pub async fn resource(
        &self,
        org: &str,
        provider: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<ResourceRecord>, DbError> {
        let row = sqlx::query(
            "SELECT kind, id, name, state, attributes, source, created_at FROM resources \
             WHERE org = $1 AND provider = $2 AND kind = $3 AND id = $4",
        )
        .bind(org)
        .bind(provider)
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(resource_from_row).transpose()?)
    }

    /// Resources of a kind, by id, after a cursor.
    pub async fn resources(
        &self,
        org: &str,
        provider: &str,
        kind: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ResourceRecord>, DbError> {
        let rows = sqlx::query(
            "SELECT kind, id, name, state, attributes, source, created_at FROM resources \
             WHERE org = $1 AND provider = $2 AND kind = $3 AND id > $4 ORDER BY id LIMIT $5",
        )
        .bind(org)
        .bind(provider)
        .bind(kind)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(resource_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Set a resource's state; false when it does not exist.
    pub async fn set_resource_state(
        &self,
        org: &str,
        provider: &str,
        kind: &str,
        id: &str,
        state: &str,
    ) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE resources SET state = $1 WHERE org = $2 AND provider = $3 AND kind = $4 AND id = $5",
        )
        .bind(state)
        .bind(org)
        .bind(provider)
        .bind(kind)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Insert a new resource; false when one with that kind and id exists.
    pub async fn insert_resource(
        &self,
        org: &str,
        provider: &str,
        r: &ResourceRecord,
    ) -> Result<bool, DbError> {
        let res = sqlx::query(
            "INSERT INTO resources (org, provider, kind, id, name, state, attributes, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(provider)
        .bind(&r.kind)
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.state)
        .bind(&r.attributes)
        .bind(&r.source)
        .bind(r.created_at)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() > 0)
    }

    // ---- backups -----------------------------------------------------------------------

    /// A backup of the org by id.
    pub async fn backup(
        &self,
        org: &str,
        provider: &str,
        id: &str,
    ) -> Result<Option<BackupRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE org = $1 AND provider = $2 AND id = $3"
        )))
        .bind(org)
        .bind(provider)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(backup_from_row).transpose()?)
    }

    /// The backup a job produced, if it committed one.
    pub async fn backup_by_job(
        &self,
        org: &str,
        provider: &str,
        job_id: &str,
    ) -> Result<Option<BackupRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE org = $1 AND provider = $2 AND job_id = $3"
        )))
        .bind(org)
        .bind(provider)
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(backup_from_row).transpose()?)
    }

    /// A backup of the org by sequence number.
    pub async fn backup_by_seq(
        &self,
        org: &str,
        provider: &str,
        seq: i64,
    ) -> Result<Option<BackupRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE org = $1 AND provider = $2 AND seq = $3"
        )))
        .bind(org)
        .bind(provider)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(backup_from_row).transpose()?)
    }

    /// Backups matching a query, and how many matched in all.
    pub async fn backups(
        &self,
        org: &str,
        provider: &str,
        q: &BackupQuery,
    ) -> Result<(Vec<BackupRecord>, i64), DbError> {
        let filter = "org = $1 AND provider = $2 AND ($3 = '' OR resource_kind = $3) \
                      AND ($4 = '' OR resource_id = $4)";
        let order = if q.newest_first { "DESC" } else { "ASC" };
        let kind = q.resource_kind.as_deref().unwrap_or("");
        let rid = q.resource_id.as_deref().unwrap_or("");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE {filter} ORDER BY seq {order} LIMIT $5 OFFSET $6"
        )))
        .bind(org)
        .bind(provider)
        .bind(kind)
        .bind(rid)
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM backups WHERE {filter}"
        )))
        .bind(org)
        .bind(provider)
        .bind(kind)
        .bind(rid)
        .fetch_one(&self.pool)
        .await?;
        let items = rows.iter().map(backup_from_row).collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    /// Replace a backup's plugin metadata; false when it does not exist.
    pub async fn set_backup_metadata(
        &self,
        org: &str,
        provider: &str,
        id: &str,
        metadata: &str,
    ) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE backups SET metadata = $1 WHERE org = $2 AND provider = $3 AND id = $4",
        )
        .bind(metadata)
        .bind(org)
        .bind(provider)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Remove a backup record and release its stored bytes from the quota, in one
    /// transaction (for a chunked backup: its chunk references, freeing chunks no other
    /// backup refers to). Returns the record and the objects left unreferenced, for the
    /// caller to delete.
    pub async fn delete_backup(
        &self,
        org: &str,
        provider: &str,
        id: &str,
    ) -> Result<Option<Deleted>, DbError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM backups WHERE org = $1 AND provider = $2 AND id = $3 RETURNING {BACKUP_COLUMNS}"
        )))
        .bind(org)
        .bind(provider)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(record) = row.as_ref().map(backup_from_row).transpose()? else {
            return Ok(None);
        };
        let (freed, objects) = if record.chunked {
            super::chunks::release(&mut tx, org, provider, id).await?
        } else {
            (record.stored_bytes, vec![record.object_key.clone()])
        };
        sqlx::query(
            "UPDATE quota_usage SET used_bytes = used_bytes - $1 WHERE org = $2 AND provider = $3",
        )
        .bind(freed)
        .bind(org)
        .bind(provider)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Deleted { record, objects }))
    }

    // ---- quota and in-flight ingests ---------------------------------------------------

    /// Reserve `bytes` of the org's quota for an ingest (one atomic statement, so concurrent
    /// reservations can never overshoot `limit`; 0 = unlimited). Records the ingest and its
    /// temporary key so a crashed writer's reservation and object can be reclaimed.
    /// Returns false when the quota would be exceeded.
    #[allow(clippy::too_many_arguments)]
    pub async fn reserve(
        &self,
        ingest_id: &str,
        org: &str,
        provider: &str,
        bytes: i64,
        limit: i64,
        temp_key: &str,
        lease_expires_at: i64,
    ) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO quota_usage (org, provider, used_bytes, reserved_bytes) VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING")
            .bind(org)
            .bind(provider)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query(
            "UPDATE quota_usage SET reserved_bytes = reserved_bytes + $1 \
             WHERE org = $2 AND provider = $3 AND ($4 = 0 OR used_bytes + reserved_bytes + $1 <= $4)",
        )
        .bind(bytes)
        .bind(org)
        .bind(provider)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO ingests (id, org, provider, reserved_bytes, temp_key, lease_expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(ingest_id)
            .bind(org)
            .bind(provider)
            .bind(bytes)
            .bind(temp_key)
            .bind(lease_expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Extend an in-flight ingest's lease.
    pub async fn renew_ingest(
        &self,
        ingest_id: &str,
        lease_expires_at: i64,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE ingests SET lease_expires_at = $1 WHERE id = $2")
            .bind(lease_expires_at)
            .bind(ingest_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Release an ingest's reservation without recording anything (failure or abort).
    pub async fn release(&self, ingest_id: &str) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "DELETE FROM ingests WHERE id = $1 RETURNING org, provider, reserved_bytes",
        )
        .bind(ingest_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let (org, provider, bytes): (String, String, i64) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            sqlx::query("UPDATE quota_usage SET reserved_bytes = reserved_bytes - $1 WHERE org = $2 AND provider = $3")
                .bind(bytes)
                .bind(&org)
                .bind(&provider)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Turn an ingest into a visible backup: release its reservation, charge the stored
    /// bytes and insert the record (with the next sequence number) in one transaction. A
    /// backup made by a job completes that job in the same transaction, and only while the
    /// job is still running: a backup is visible if and only if its job completed.
    /// A chunked capture's `chunks` are recorded in the same transaction, and
    /// `rec.stored_bytes` becomes what it newly stored.
    pub async fn commit_backup(
        &self,
        ingest_id: &str,
        rec: &mut BackupRecord,
        chunks: Option<&super::chunks::ChunkPlan>,
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        rec.chunked = chunks.is_some();
        if let Some(plan) = chunks {
            rec.stored_bytes =
                super::chunks::commit(&mut tx, &rec.org, &rec.provider, &rec.id, plan).await?;
        }
        let row = sqlx::query("DELETE FROM ingests WHERE id = $1 RETURNING reserved_bytes")
            .bind(ingest_id)
            .fetch_optional(&mut *tx)
            .await?;
        let reserved: i64 = match row {
            Some(r) => r.try_get(0)?,
            None => 0,
        };
        sqlx::query(
            "UPDATE quota_usage SET reserved_bytes = reserved_bytes - $1, used_bytes = used_bytes + $2 \
             WHERE org = $3 AND provider = $4",
        )
        .bind(reserved)
        .bind(rec.stored_bytes)
        .bind(&rec.org)
        .bind(&rec.provider)
        .execute(&mut *tx)
        .await?;
        rec.seq = next_in_sequence(&mut tx, &rec.org, &rec.provider, "backups").await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO backups ({BACKUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        )))
        .bind(&rec.id)
        .bind(&rec.org)
        .bind(&rec.provider)
        .bind(rec.seq)
        .bind(&rec.resource_kind)
        .bind(&rec.resource_id)
        .bind(&rec.object_key)
        .bind(&rec.filename)
        .bind(&rec.extension)
        .bind(&rec.media_type)
        .bind(rec.size)
        .bind(rec.stored_bytes)
        .bind(&rec.sha256)
        .bind(rec.created_at)
        .bind(&rec.subject)
        .bind(&rec.job_id)
        .bind(&rec.metadata)
        .bind(i64::from(rec.chunked))
        .execute(&mut *tx)
        .await?;
        if let Some(job) = &rec.job_id {
            let done = sqlx::query(
                "UPDATE jobs SET status = 'completed', backup_id = $1, finished_at = $2, bytes_done = $3, \
                 bytes_total = $3, error = NULL, message = 'completed', lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = $4 AND status = 'in_progress'",
            )
            .bind(&rec.id)
            .bind(rec.created_at)
            .bind(rec.size)
            .bind(job)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                // cancelled (or finished by another worker) meanwhile: keep nothing
                return Err(DbError::JobNotRunning);
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// In-flight ingests whose lease expired before `now` (all of them with `all`): their
    /// temporary keys, for the caller to delete before calling [`Db::release`].
    pub async fn stale_ingests(
        &self,
        now: i64,
        all: bool,
    ) -> Result<Vec<(String, String)>, DbError> {
        let rows =
            sqlx::query("SELECT id, temp_key FROM ingests WHERE $1 = 1 OR lease_expires_at < $2")
                .bind(i64::from(all))
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Committed and reserved bytes of an org for a provider.
    pub async fn usage(&self, org: &str, provider: &str) -> Result<(i64, i64), DbError> {
        let row = sqlx::query(
            "SELECT used_bytes, reserved_bytes FROM quota_usage WHERE org = $1 AND provider = $2",
        )
        .bind(org)
        .bind(provider)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (0, 0),
        })
    }

    // ---- sequences, documents, rate windows --------------------------------------------

    /// The next value of a named per-org, per-provider counter.
    pub async fn next_in_sequence(
        &self,
        org: &str,
        provider: &str,
        name: &str,
    ) -> Result<i64, DbError> {
        let mut tx = self.pool.begin().await?;
        let v = next_in_sequence(&mut tx, org, provider, name).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// A document.
    pub async fn document(
        &self,
        org: &str,
        provider: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<DocumentRecord>, DbError> {
        let row = sqlx::query("SELECT key, value, revision FROM documents WHERE org = $1 AND provider = $2 AND collection = $3 AND key = $4")
            .bind(org)
            .bind(provider)
            .bind(collection)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(DocumentRecord {
                    key: r.try_get(0)?,
                    value: r.try_get(1)?,
                    revision: r.try_get(2)?,
                })
            })
            .transpose()?)
    }

    /// Write a document, optionally only if its revision is `expected` (0: must not exist).
    /// Returns the new revision, or None on a revision conflict.
    pub async fn put_document(
        &self,
        org: &str,
        provider: &str,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<i64>,
    ) -> Result<Option<i64>, DbError> {
        let row = match expected {
            Some(0) => sqlx::query("INSERT INTO documents (org, provider, collection, key, value, revision) VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT DO NOTHING RETURNING revision")
                .bind(org).bind(provider).bind(collection).bind(key).bind(value)
                .fetch_optional(&self.pool).await?,
            Some(rev) => sqlx::query("UPDATE documents SET value = $1, revision = revision + 1 WHERE org = $2 AND provider = $3 AND collection = $4 AND key = $5 AND revision = $6 RETURNING revision")
                .bind(value).bind(org).bind(provider).bind(collection).bind(key).bind(rev)
                .fetch_optional(&self.pool).await?,
            None => sqlx::query("INSERT INTO documents (org, provider, collection, key, value, revision) VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (org, provider, collection, key) DO UPDATE SET value = excluded.value, revision = documents.revision + 1 RETURNING revision")
                .bind(org).bind(provider).bind(collection).bind(key).bind(value)
                .fetch_optional(&self.pool).await?,
        };
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Delete a document; false when it did not exist.
    pub async fn delete_document(
        &self,
        org: &str,
        provider: &str,
        collection: &str,
        key: &str,
    ) -> Result<bool, DbError> {
        let r = sqlx::query("DELETE FROM documents WHERE org = $1 AND provider = $2 AND collection = $3 AND key = $4")
            .bind(org)
            .bind(provider)
            .bind(collection)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Documents of a collection by key after a cursor.
    pub async fn documents(
        &self,
        org: &str,
        provider: &str,
        collection: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DocumentRecord>, DbError> {
        let rows = sqlx::query("SELECT key, value, revision FROM documents WHERE org = $1 AND provider = $2 AND collection = $3 AND key > $4 ORDER BY key LIMIT $5")
            .bind(org)
            .bind(provider)
            .bind(collection)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(DocumentRecord {
                    key: r.try_get(0)?,
                    value: r.try_get(1)?,
                    revision: r.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Count one request in a fixed window and return the count including it.
    pub async fn hit_window(&self, key: &str, window_start: i64) -> Result<i64, DbError> {
        let count: i64 = sqlx::query_scalar(
            "INSERT INTO rate_windows (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key, window_start) DO UPDATE SET count = rate_windows.count + 1 RETURNING count",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    /// Forget windows that started before `before`.
    pub async fn prune_windows(&self, before: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM rate_windows WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The next value of a named counter, inside a transaction.
pub async fn next_in_sequence(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: &str,
    provider: &str,
    name: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sequences (org, provider, name, value) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (org, provider, name) DO UPDATE SET value = sequences.value + 1 RETURNING value",
    )
    .bind(org)
    .bind(provider)
    .bind(name)
    .fetch_one(&mut **tx)
    .await
}
