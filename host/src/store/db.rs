//! The metadata database: one schema (`host/migrations`) on SQLite (default, WAL) or
//! PostgreSQL, through sqlx's Any driver. Every query takes the org (and provider) it is
//! scoped to; nothing here can reach across tenants.
//!
//! Writes go through [`Db::write`]: on SQLite one connection held by whoever writes, so
//! writers queue in the process (first come, first served) instead of meeting SQLite's lock
//! and its busy-handler sleeps, and take it without a pool checkout (which costs sqlx a
//! spawned task and ~0.1 ms); on PostgreSQL a connection of the shared pool. Commits do not
//! wait for the disk; a method whose effect is reported to someone waits on the
//! group-commit barrier ([`Db::sync`], see
//! [`super::durability`]) before returning, and says so. The others (claims, leases, rate
//! windows, reservations) are made durable by the next barrier, which covers every earlier
//! commit; their callers sync where it matters.

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Connection as _, Row};

use super::batch::{Batch, Param, ResultShapes};
use super::durability::Durability;
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

/// The engines a migration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum For {
    /// Both: the schema is one.
    Both,
    /// PostgreSQL only (on SQLite the version is recorded and nothing runs).
    Postgres,
}

/// A migration's SQL, from `host/migrations`.
macro_rules! migration {
    ($file:literal) => {
        include_str!(concat!("../../migrations/", $file))
    };
}

const MIGRATIONS: &[(i64, For, &str)] = &[
    (1, For::Both, migration!("0001_core.sql")),
    (2, For::Both, migration!("0002_jobs.sql")),
    (3, For::Both, migration!("0003_chunks.sql")),
    (4, For::Both, migration!("0004_scaleout.sql")),
    (5, For::Both, migration!("0005_durability.sql")),
    (6, For::Both, migration!("0006_admission.sql")),
    (7, For::Postgres, migration!("0007_batch.pg.sql")),
];

/// Every SQLite connection's settings.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
    PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;";

/// Key of the PostgreSQL advisory lock that serialises migrations of nodes starting at once.
const MIGRATION_LOCK: i64 = 0x6267_6d69_6772_6174; // "bgmigrat"

/// The connection pool and engine.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    writer: Writer,
    durability: Durability,
    engine: Engine,
    ingest_lease: std::time::Duration,
    /// Held by every clone: SQLite's checkpointer stops once the last one is gone.
    alive: Arc<()>,
    /// PostgreSQL: the batches' result columns, described once.
    shapes: ResultShapes,
}

/// Where writes go.
#[derive(Clone)]
enum Writer {
    /// SQLite: one connection, taken in turn.
    One(Arc<tokio::sync::Mutex<SqliteWriter>>),
    /// PostgreSQL (or SQLite in memory): the pool.
    Pool(AnyPool),
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Writer::One(_) => "Writer::One",
            Writer::Pool(_) => "Writer::Pool",
        })
    }
}

/// SQLite's one writing connection.
pub struct SqliteWriter {
    conn: AnyConnection,
    /// A batch may have left a transaction open on it.
    unsettled: bool,
}

impl SqliteWriter {
    /// End the transaction a failed or abandoned batch may have left open ("no transaction
    /// is active" when it did not).
    async fn settle(&mut self) {
        if self.unsettled {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
            self.unsettled = false;
        }
    }
}

/// A connection to write with, this caller's until dropped. Never ask for another while
/// holding one: on SQLite there is only one.
pub enum WriteConn {
    /// The SQLite writer.
    One(tokio::sync::OwnedMutexGuard<SqliteWriter>),
    /// A pooled connection.
    Pool(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl std::ops::Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            WriteConn::One(c) => &c.conn,
            WriteConn::Pool(c) => c,
        }
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteConn::One(c) => &mut c.conn,
            WriteConn::Pool(c) => c,
        }
    }
}

/// How long an in-flight ingest's lease lasts without renewal, unless configured.
const DEFAULT_INGEST_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

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

const BACKUP_COLUMNS: &str = "id, org, provider, seq, resource_kind, resource_id, object_key, \
    filename, extension, media_type, size, stored_bytes, sha256, created_at, subject, job_id, metadata, chunked";

/// A deadlock or serialization failure: the transaction can simply run again.
fn is_transient(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40P01" || c == "40001")
}

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

/// A PostgreSQL connection idle longer than this is pinged before it is handed out.
const PING_IF_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Pool options for PostgreSQL: a connection is pinged before use only when it has been idle
/// for [`PING_IF_IDLE`] (one that went stale during a server restart is then replaced
/// before it fails a query), not on every checkout, which cost every query a second round
/// trip (interleaved jobs bench runs on this VM's disk: 259–336 PostgreSQL jobs/s with the
/// ping, 305–381 without).
pub(super) fn postgres_pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
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
        let connections = max_connections.unwrap_or(match engine {
            Engine::Sqlite => 8,
            Engine::Postgres => 16,
        });
        let options = || {
            let opts = AnyPoolOptions::new();
            match engine {
                // a file cannot go stale under us: no ping round trip on every checkout
                Engine::Sqlite => opts.test_before_acquire(false).after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::raw_sql(SQLITE_PRAGMAS).execute(conn).await?;
                        Ok(())
                    })
                }),
                Engine::Postgres => postgres_pool_options().after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::raw_sql("SET synchronous_commit = off")
                            .execute(conn)
                            .await?;
                        Ok(())
                    })
                }),
            }
        };
        let pool = options().max_connections(connections).connect(url).await?;
        let (writer, durability) = match engine {
            Engine::Postgres => (Writer::Pool(pool.clone()), Durability::postgres(url)?),
            Engine::Sqlite => {
                let file: String = sqlx::query_scalar(
                    "SELECT COALESCE(file, '') FROM pragma_database_list WHERE name = 'main'",
                )
                .fetch_one(&pool)
                .await?;
                if file.is_empty() {
                    // in memory: every connection would be its own database
                    (Writer::Pool(pool.clone()), Durability::sqlite(""))
                } else {
                    let mut conn = AnyConnection::connect(url).await?;
                    sqlx::raw_sql(SQLITE_PRAGMAS).execute(&mut conn).await?;
                    // checkpoints run beside the writer (`spawn_checkpointer`), not inside
                    // whichever commit crosses the log's size limit
                    sqlx::raw_sql("PRAGMA wal_autocheckpoint=0")
                        .execute(&mut conn)
                        .await?;
                    let writer = Writer::One(Arc::new(tokio::sync::Mutex::new(SqliteWriter {
                        conn,
                        unsettled: false,
                    })));
                    (writer, Durability::sqlite(&file))
                }
            }
        };
        let db = Db {
            pool,
            writer,
            durability,
            engine,
            ingest_lease: DEFAULT_INGEST_LEASE,
            alive: Arc::new(()),
            shapes: ResultShapes::default(),
        };
        if matches!(db.writer, Writer::One(_)) {
            spawn_checkpointer(db.pool.clone(), Arc::downgrade(&db.alive));
        }
        db.migrate().await?;
        db.sync().await?;
        Ok(db)
    }

    /// The same database with another ingest lease length (`storage.ingest_lease_seconds`).
    pub fn with_ingest_lease(mut self, lease: std::time::Duration) -> Db {
        self.ingest_lease = lease.max(std::time::Duration::from_secs(1));
        self
    }

    /// How long an in-flight ingest's lease lasts without renewal.
    pub fn ingest_lease(&self) -> std::time::Duration {
        self.ingest_lease
    }

    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool for reads, for modules that own their own tables (jobs).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection to write with (the one connection on SQLite, waiting for it in turn),
    /// for this module and those that own their own tables. Never ask for another while
    /// holding it, and drop it before [`Db::sync`].
    pub async fn write(&self) -> Result<WriteConn, DbError> {
        Ok(match &self.writer {
            Writer::One(c) => {
                let mut w = c.clone().lock_owned().await;
                w.settle().await;
                WriteConn::One(w)
            }
            Writer::Pool(p) => WriteConn::Pool(p.acquire().await?),
        })
    }

    /// Run a [`Batch`] as one transaction and return its result's rows: on SQLite's single
    /// writer in one hand-off, on PostgreSQL in one round trip.
    pub async fn run_batch(&self, batch: &Batch<'_>) -> Result<Vec<AnyRow>, DbError> {
        let mut conn = self.write().await?;
        if let WriteConn::One(w) = &mut conn {
            // marked until it is known to have ended, so that a batch abandoned half-way
            // (its caller dropped) is rolled back by the connection's next user
            w.unsettled = true;
            let ran = batch.run_as_one(&mut w.conn).await;
            if ran.is_ok() {
                w.unsettled = false;
            } else {
                w.settle().await;
            }
            return Ok(ran?);
        }
        if self.engine == Engine::Postgres {
            return Ok(batch.run_as_call(&mut conn, &self.shapes).await?);
        }
        let mut tx = conn.begin().await?;
        batch.run_in(&mut tx).await?;
        tx.commit().await?;
        Ok(batch.fetch_result(&mut conn).await?)
    }

    /// Wait until every transaction committed before this call is durable (group commit:
    /// concurrent callers share one flush).
    pub async fn sync(&self) -> Result<(), DbError> {
        self.durability.sync().await
    }

    /// Make every transaction committed before this call durable within about `delay`,
    /// sharing a flush others start meanwhile (for commits nobody waits on).
    pub async fn sync_within(&self, delay: std::time::Duration) -> Result<(), DbError> {
        self.durability.sync_within(delay).await
    }

    /// Flushes [`Db::sync`] has done (each covering any number of commits).
    pub fn flushes(&self) -> u64 {
        self.durability.flushes()
    }

    /// The database's clock in µs since the epoch, as an SQL expression. Leases and rate
    /// windows are reckoned by it rather than by each node's clock, so nodes whose clocks
    /// disagree still agree on when a lease has expired and which window a request is in.
    pub fn now_sql(&self) -> &'static str {
        match self.engine {
            Engine::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT",
            Engine::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
        }
    }

    /// The database's clock, µs since the epoch.
    pub async fn now(&self) -> Result<i64, DbError> {
        Ok(
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT {}", self.now_sql())))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn migrate(&self) -> Result<(), DbError> {
        // One connection for the whole run: on PostgreSQL it holds an advisory lock, so nodes
        // starting together migrate one after the other (the lock dies with the session).
        let mut conn = self.write().await?;
        if self.engine == Engine::Postgres {
            // (counted, not selected: the Any driver cannot decode `void`)
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_lock($1)) AS l")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        let res = self.migrate_on(&mut conn).await;
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_unlock($1)) AS l")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        res
    }

    async fn migrate_on(&self, conn: &mut sqlx::AnyConnection) -> Result<(), DbError> {
        use sqlx::Connection as _;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        for &(version, engines, sql) in MIGRATIONS {
            let mut tx = conn.begin().await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_none() {
                if engines == For::Both || self.engine == Engine::Postgres {
                    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
                }
                // Several nodes may race to migrate; the primary key lets only one record it.
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(version)
                    .bind(now_micros())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    // ---- resources ---------------------------------------------------------------------

    /// Insert or refresh a resource declared in the config (state is kept if present). Not
    /// synced: the caller syncs once after declaring them all.
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
        .execute(&mut *self.write().await?)
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
        .execute(&mut *self.write().await?)
        .await?;
        self.sync().await?;
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
        .execute(&mut *self.write().await?)
        .await?;
        self.sync().await?;
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
        .execute(&mut *self.write().await?)
        .await?;
        self.sync().await?;
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
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
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
        drop(conn);
        // durable before the caller deletes the objects
        self.sync().await?;
        Ok(Some(Deleted { record, objects }))
    }

    // ---- quota and in-flight ingests ---------------------------------------------------

    /// Reserve an ingest's bytes of the org's quota (one atomic batch, so concurrent
    /// reservations can never overshoot the quota; 0 = unlimited) and, for a client upload,
    /// one of its sender's and its org's places for uploads in flight. Records the ingest and
    /// its temporary key so a crashed writer's reservation and object can be reclaimed. Not
    /// synced: sync before anything the ingest wrote becomes visible, so a crash always
    /// leaves a record to reclaim it by.
    pub async fn reserve(&self, r: &Reservation<'_>) -> Result<Reserved, DbError> {
        // The quota row first (made if missing; on PostgreSQL locked, so no reservation of
        // the same org and plugin commits between the check and the charge), then the ingest
        // is recorded only if its bytes fit and its sender has a place, and charged only if
        // it was recorded. (Uploads to the org's other plugins take other rows' locks, so on
        // PostgreSQL the per-org cap can be passed by one upload per plugin at once.)
        let batch = Batch::new()
            .statement(
                "INSERT INTO quota_usage (org, provider, used_bytes, reserved_bytes) VALUES (@org, @provider, 0, 0) \
                 ON CONFLICT (org, provider) DO UPDATE SET reserved_bytes = quota_usage.reserved_bytes",
            )
            .statement(format!(
                "INSERT INTO ingests (id, org, provider, reserved_bytes, temp_key, lease_expires_at, object_key, subject) \
                 SELECT @id, @org, @provider, @bytes, @temp_key, {} + @lease, @object_key, @subject FROM quota_usage \
                 WHERE org = @org AND provider = @provider \
                 AND (@quota = 0 OR used_bytes + reserved_bytes + @bytes <= @quota) \
                 AND (@per_org = 0 OR (SELECT COUNT(*) FROM ingests WHERE org = @org AND subject IS NOT NULL) < @per_org) \
                 AND (@per_subject = 0 OR (SELECT COUNT(*) FROM ingests \
                      WHERE org = @org AND provider = @provider AND subject = @subject) < @per_subject)",
                self.now_sql()
            ))
            .statement(
                "UPDATE quota_usage SET reserved_bytes = reserved_bytes + @bytes \
                 WHERE org = @org AND provider = @provider AND EXISTS (SELECT 1 FROM ingests WHERE id = @id)",
            )
            .result(
                "SELECT (SELECT COUNT(*) FROM ingests WHERE id = @id), \
                 (SELECT COUNT(*) FROM ingests WHERE org = @org AND subject IS NOT NULL), \
                 (SELECT COUNT(*) FROM ingests WHERE org = @org AND provider = @provider AND subject = @subject)",
            )
            .param("id", Param::Text(r.ingest_id))
            .param("org", Param::Text(r.org))
            .param("provider", Param::Text(r.provider))
            .param("bytes", Param::Int(r.bytes))
            .param("quota", Param::Int(r.quota))
            .param("temp_key", Param::Text(r.temp_key))
            .param("object_key", Param::Text(r.object_key))
            .param("lease", Param::Int(r.lease_micros))
            .param("subject", Param::MaybeText(r.admission.map(|a| a.subject)))
            .param("per_org", Param::Int(r.admission.map_or(0, |a| i64::from(a.per_org))))
            .param(
                "per_subject",
                Param::Int(r.admission.map_or(0, |a| i64::from(a.per_subject))),
            );
        let rows = self.run_batch(&batch).await?;
        let count = |i: usize| -> Result<i64, DbError> {
            Ok(match rows.first() {
                Some(row) => row.try_get(i)?,
                None => 0,
            })
        };
        if count(0)? > 0 {
            return Ok(Reserved::Recorded);
        }
        // refused: say why (read after the fact, so only the reason can be stale)
        let full = |n: i64, cap: u32| cap > 0 && n >= i64::from(cap);
        Ok(match r.admission {
            Some(a) if full(count(2)?, a.per_subject) => Reserved::TooManyUploads(a.per_subject),
            Some(a) if full(count(1)?, a.per_org) => Reserved::TooManyUploads(a.per_org),
            _ => Reserved::QuotaExceeded,
        })
    }

    /// Extend an in-flight ingest's lease to `lease_micros` from now (the database's now);
    /// false when the ingest is gone (reclaimed by a sweep that thought its writer dead).
    pub async fn renew_ingest(&self, ingest_id: &str, lease_micros: i64) -> Result<bool, DbError> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "UPDATE ingests SET lease_expires_at = {} + $1 WHERE id = $2",
            self.now_sql()
        )))
        .bind(lease_micros)
        .bind(ingest_id)
        .execute(&mut *self.write().await?)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Record the multipart upload an ingest writes to (S3), so that whoever reclaims the
    /// ingest can abort the upload and drop its parts. Not synced: sync before sending a part.
    pub async fn set_ingest_upload(&self, ingest_id: &str, upload_id: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE ingests SET upload_id = $1 WHERE id = $2")
            .bind(upload_id)
            .bind(ingest_id)
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }

    /// Release an ingest's reservation without recording anything (failure or abort). Not
    /// synced: lost to a crash, the ingest is reclaimed again.
    pub async fn release(&self, ingest_id: &str) -> Result<(), DbError> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
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
    /// `rec.stored_bytes` becomes what it newly stored. Not synced: the caller syncs before
    /// acknowledging the backup.
    pub async fn commit_backup(
        &self,
        ingest_id: &str,
        rec: &mut BackupRecord,
        chunks: Option<&super::chunks::ChunkPlan>,
    ) -> Result<(), DbError> {
        // PostgreSQL may pick this transaction as a deadlock victim (chunk rows shared with
        // a concurrent capture or delete); everything it needs is in hand, so run it again
        let mut attempt = 1;
        loop {
            match self.commit_backup_once(ingest_id, rec, chunks).await {
                Err(DbError::Sqlx(e)) if attempt < 5 && is_transient(&e) => {
                    tracing::warn!(error = %e, attempt, "backup commit retried");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn commit_backup_once(
        &self,
        ingest_id: &str,
        rec: &mut BackupRecord,
        chunks: Option<&super::chunks::ChunkPlan>,
    ) -> Result<(), DbError> {
        rec.chunked = chunks.is_some();
        let seq = match chunks {
            None => {
                let rows = self.run_batch(&backup_commit(ingest_id, rec)).await?;
                rows.first().map(|r| r.try_get::<i64, _>(0)).transpose()?
            }
            Some(plan) => {
                // the chunks' statements depend on what earlier ones returned: one by one,
                // with the backup's after them in the same transaction
                let mut conn = self.write().await?;
                let mut tx = conn.begin().await?;
                rec.stored_bytes =
                    super::chunks::commit(&mut tx, &rec.org, &rec.provider, &rec.id, plan).await?;
                let batch = backup_commit(ingest_id, rec);
                batch.run_in(&mut tx).await?;
                let rows = batch.fetch_result(&mut tx).await?;
                let seq = rows.first().map(|r| r.try_get::<i64, _>(0)).transpose()?;
                if seq.is_some() {
                    tx.commit().await?;
                }
                seq
            }
        };
        match seq {
            Some(seq) => {
                rec.seq = seq;
                Ok(())
            }
            // cancelled (or finished by another worker) meanwhile: nothing was kept
            None => Err(DbError::JobNotRunning),
        }
    }

    /// Whether an in-flight ingest has a record.
    pub async fn ingest_recorded(&self, ingest_id: &str) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ingests WHERE id = $1")
            .bind(ingest_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// In-flight ingests whose lease has expired by the database's clock (all of them with
    /// `all`), for the caller to clean up before calling [`Db::release`].
    pub async fn stale_ingests(&self, all: bool) -> Result<Vec<StaleIngest>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, temp_key, upload_id, object_key FROM ingests WHERE $1 = 1 OR lease_expires_at < {}",
            self.now_sql()
        )))
        .bind(i64::from(all))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(StaleIngest {
                    id: r.try_get(0)?,
                    temp_key: r.try_get(1)?,
                    upload_id: r.try_get(2)?,
                    object_key: r.try_get(3)?,
                })
            })
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
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let v = next_in_sequence(&mut tx, org, provider, name).await?;
        tx.commit().await?;
        drop(conn);
        self.sync().await?;
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
                .fetch_optional(&mut *self.write().await?).await?,
            Some(rev) => sqlx::query("UPDATE documents SET value = $1, revision = revision + 1 WHERE org = $2 AND provider = $3 AND collection = $4 AND key = $5 AND revision = $6 RETURNING revision")
                .bind(value).bind(org).bind(provider).bind(collection).bind(key).bind(rev)
                .fetch_optional(&mut *self.write().await?).await?,
            None => sqlx::query("INSERT INTO documents (org, provider, collection, key, value, revision) VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (org, provider, collection, key) DO UPDATE SET value = excluded.value, revision = documents.revision + 1 RETURNING revision")
                .bind(org).bind(provider).bind(collection).bind(key).bind(value)
                .fetch_optional(&mut *self.write().await?).await?,
        };
        if row.is_some() {
            self.sync().await?;
        }
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
            .execute(&mut *self.write().await?)
            .await?;
        self.sync().await?;
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

    /// Count one request in the current fixed window of `window_seconds` (by the database's
    /// clock, so every node agrees on the window) under `key`; returns the count including
    /// this request and the window's start in seconds since the epoch. Not synced: a count
    /// lost to a power cut lets a few requests more through.
    pub async fn hit_window(&self, key: &str, window_seconds: i64) -> Result<(i64, i64), DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO rate_windows (key, window_start, count) VALUES ($1, ({} / 1000000 / $2) * $2, 1) \
             ON CONFLICT (key, window_start) DO UPDATE SET count = rate_windows.count + 1 \
             RETURNING count, window_start",
            self.now_sql()
        )))
        .bind(key)
        .bind(window_seconds.max(1))
        .fetch_one(&mut *self.write().await?)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Forget windows that started before `before`.
    pub async fn prune_windows(&self, before: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM rate_windows WHERE window_start < $1")
            .bind(before)
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }
}

/// How often SQLite's write-ahead log is checkpointed into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Checkpoint SQLite's write-ahead log every [`CHECKPOINT_EVERY`] on a reading connection,
/// while `alive` lives. SQLite's own automatic checkpoint runs inside the commit that crosses
/// its limit, with the single writer held through two syncs (of the log, then of the database
/// file) and the copy between: with a 2.5 ms sync every few hundred commits stalled every
/// writer behind them (jobs bench: 0.53–0.55 of the disk's rate with it, 0.59–0.64 without).
/// A passive checkpoint waits for nobody and nobody waits for it; the log is rewound from its
/// start by the first commit after a checkpoint that copied all of it.
fn spawn_checkpointer(pool: AnyPool, alive: std::sync::Weak<()>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 {
                return;
            }
            if let Err(e) = sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "write-ahead log checkpoint failed");
            }
        }
    });
}

/// The transaction that turns an ingest into a visible backup, completing its job (if any)
/// in the same breath: release the reservation, charge the stored bytes, take the next
/// sequence number and insert the record. Everything after the job's update is guarded by
/// it having taken effect (`@job` is NULL, or the job now names this backup), so a job that
/// was no longer running leaves the transaction without effect; the result is the new
/// backup's sequence number, no row when it was not recorded.
fn backup_commit<'a>(ingest_id: &'a str, rec: &'a BackupRecord) -> Batch<'a> {
    const DONE: &str =
        "(@job IS NULL OR EXISTS (SELECT 1 FROM jobs WHERE id = @job AND backup_id = @id))";
    Batch::new()
        .statement(
            "UPDATE jobs SET status = 'completed', backup_id = @id, finished_at = @created_at, \
             bytes_done = @size, bytes_total = @size, error = NULL, message = 'completed', \
             lease_owner = NULL, lease_expires_at = NULL WHERE id = @job AND status = 'in_progress'",
        )
        .statement(format!(
            "UPDATE quota_usage SET used_bytes = used_bytes + @stored_bytes, \
             reserved_bytes = reserved_bytes - COALESCE((SELECT reserved_bytes FROM ingests WHERE id = @ingest), 0) \
             WHERE org = @org AND provider = @provider AND {DONE}"
        ))
        .statement(format!("DELETE FROM ingests WHERE id = @ingest AND {DONE}"))
        .statement(format!(
            "INSERT INTO sequences (org, provider, name, value) SELECT @org, @provider, 'backups', 1 \
             WHERE {DONE} ON CONFLICT (org, provider, name) DO UPDATE SET value = sequences.value + 1"
        ))
        .statement(format!(
            "INSERT INTO backups ({BACKUP_COLUMNS}) SELECT @id, @org, @provider, \
             (SELECT value FROM sequences WHERE org = @org AND provider = @provider AND name = 'backups'), \
             @resource_kind, @resource_id, @object_key, @filename, @extension, @media_type, @size, \
             @stored_bytes, @sha256, @created_at, @subject, @job, @metadata, @chunked WHERE {DONE}"
        ))
        .result("SELECT seq FROM backups WHERE id = @id")
        .param("id", Param::Text(&rec.id))
        .param("ingest", Param::Text(ingest_id))
        .param("job", Param::MaybeText(rec.job_id.as_deref()))
        .param("org", Param::Text(&rec.org))
        .param("provider", Param::Text(&rec.provider))
        .param("resource_kind", Param::Text(&rec.resource_kind))
        .param("resource_id", Param::Text(&rec.resource_id))
        .param("object_key", Param::Text(&rec.object_key))
        .param("filename", Param::Text(&rec.filename))
        .param("extension", Param::Text(&rec.extension))
        .param("media_type", Param::Text(&rec.media_type))
        .param("size", Param::Int(rec.size))
        .param("stored_bytes", Param::Int(rec.stored_bytes))
        .param("sha256", Param::Text(&rec.sha256))
        .param("created_at", Param::Int(rec.created_at))
        .param("subject", Param::Text(&rec.subject))
        .param("metadata", Param::Text(&rec.metadata))
        .param("chunked", Param::Int(i64::from(rec.chunked)))
}

/// The next value of a named counter, inside a transaction.
async fn next_in_sequence(
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(
            &format!("sqlite://{}/d.db?mode=rwc", dir.path().display()),
            None,
        )
        .await
        .unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn a_batch_takes_effect_whole_or_not_at_all_and_never_holds_the_writer() {
        let (_d, db) = db().await;
        let seq = "INSERT INTO sequences (org, provider, name, value) VALUES (@org, 'p', 'n', 5)";
        let then = "UPDATE sequences SET value = value + 1 WHERE org = @org";
        // the second statement fails: the first is rolled back, the writer is usable
        let failing = Batch::new()
            .statement(seq)
            .statement(seq)
            .param("org", Param::Text("acme"));
        assert!(db.run_batch(&failing).await.is_err());
        assert_eq!(db.next_in_sequence("acme", "p", "n").await.unwrap(), 1);
        // abandoned after it was handed over: it ran whole or not at all, and the next
        // writer is not left inside its transaction
        let abandoned = Batch::new()
            .statement(seq)
            .statement(then)
            .result("SELECT value FROM sequences WHERE org = @org")
            .param("org", Param::Text("globex"));
        {
            let run = std::pin::pin!(db.run_batch(&abandoned));
            let _ = futures_util::poll!(run);
        }
        let next = db.next_in_sequence("globex", "p", "n").await.unwrap();
        assert!(next == 1 || next == 7, "half a batch took effect: {next}");
        let seen: i64 = sqlx::query_scalar("SELECT value FROM sequences WHERE org = 'globex'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(seen, next, "committed, not held in an open transaction");
        // run to the end, a batch returns its result's rows
        let counted = Batch::new()
            .statement(then)
            .result("SELECT value FROM sequences WHERE org = @org")
            .param("org", Param::Text("acme"));
        let rows = db.run_batch(&counted).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].try_get::<i64, _>(0).unwrap(), 2);
    }

    #[tokio::test]
    async fn the_database_clock_is_a_clock() {
        let (_d, db) = db().await;
        let (a, ours, b) = (
            db.now().await.unwrap(),
            now_micros(),
            db.now().await.unwrap(),
        );
        assert!(a <= b, "{a} then {b}");
        // the same machine's clock, to the database's (millisecond) resolution
        assert!((a - ours).abs() < 60_000_000, "{a} vs {ours}");
    }

    #[tokio::test]
    async fn rate_windows_are_aligned_and_counted() {
        let (_d, db) = db().await;
        let (n1, start) = db.hit_window("k", 3600).await.unwrap();
        let (n2, again) = db.hit_window("k", 3600).await.unwrap();
        let (other, _) = db.hit_window("other", 3600).await.unwrap();
        assert_eq!(start % 3600, 0);
        assert_eq!((n1, n2, other), (1, 2, 1));
        // a second call can cross into the next hour only in its very first instant
        assert!(again == start || again == start + 3600);
    }

    async fn rsv(db: &Db, r: Reservation<'_>) -> Reserved {
        db.reserve(&r).await.unwrap()
    }

    #[tokio::test]
    async fn a_reservation_keeps_the_caps_on_uploads_in_flight() {
        let (_d, db) = db().await;
        let upload =
            |id: &'static str, subject: &'static str, provider: &'static str| Reservation {
                provider,
                admission: Some(Admission {
                    subject,
                    per_subject: 2,
                    per_org: 3,
                }),
                ..Reservation::test(id, "o", 10, 1000, (id, id), 60_000_000)
            };
        assert_eq!(rsv(&db, upload("a1", "A", "p")).await, Reserved::Recorded);
        assert_eq!(rsv(&db, upload("a2", "A", "p")).await, Reserved::Recorded);
        // the credential's cap, per plugin
        assert_eq!(
            rsv(&db, upload("a3", "A", "p")).await,
            Reserved::TooManyUploads(2)
        );
        // captures neither count nor are refused
        let capture = Reservation::test("c1", "o", 10, 1000, ("c1", "c1"), 60_000_000);
        assert_eq!(rsv(&db, capture).await, Reserved::Recorded);
        // the quota, where it is short
        let big = Reservation {
            bytes: 10_000,
            ..upload("x", "C", "p")
        };
        assert_eq!(rsv(&db, big).await, Reserved::QuotaExceeded);
        // another credential, then the org's cap, all plugins together
        assert_eq!(rsv(&db, upload("b1", "B", "p")).await, Reserved::Recorded);
        assert_eq!(
            rsv(&db, upload("b2", "B", "q")).await,
            Reserved::TooManyUploads(3)
        );
        // a place frees when an upload ends
        db.release("a1").await.unwrap();
        assert_eq!(rsv(&db, upload("a4", "A", "p")).await, Reserved::Recorded);
        assert_eq!(db.usage("o", "p").await.unwrap(), (0, 40));
    }

    #[tokio::test]
    async fn ingest_leases_expire_by_the_database_clock() {
        let (_d, db) = db().await;
        assert!(
            db.reserve(&Reservation::test(
                "live",
                "o",
                10,
                0,
                ("k1", "o/k1"),
                60_000_000
            ))
            .await
            .unwrap()
                == Reserved::Recorded
        );
        assert!(
            db.reserve(&Reservation::test(
                "dead",
                "o",
                10,
                0,
                ("k2", "o/k2"),
                -1_000_000
            ))
            .await
            .unwrap()
                == Reserved::Recorded
        );
        db.set_ingest_upload("dead", "upload-1").await.unwrap();
        let stale = db.stale_ingests(false).await.unwrap();
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert_eq!(
            (stale[0].id.as_str(), stale[0].upload_id.as_deref()),
            ("dead", Some("upload-1"))
        );
        assert_eq!(db.stale_ingests(true).await.unwrap().len(), 2);
        // renewing a reclaimed ingest says so
        db.release("dead").await.unwrap();
        assert!(!db.renew_ingest("dead", 60_000_000).await.unwrap());
        assert!(db.renew_ingest("live", 60_000_000).await.unwrap());
        assert_eq!(db.usage("o", "p").await.unwrap(), (0, 10));
    }
}
