//! The metadata database: one schema (`host/migrations`) on SQLite (default, WAL) or
//! PostgreSQL, through sqlx's Any driver. The queries over an org's data are methods of
//! [`Scoped`] (`db.scoped(org, provider)`), which carries the org and provider; what is left
//! on [`Db`] is the ingest pipeline's own bookkeeping and the node-wide sweeps.
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
//!
//! One file per table: `resources`, `backups`, `ingests` (reservations, the
//! quota and the commit of a backup), `documents` (with per-org sequences), `windows` (rate
//! windows), and the control plane's `orgs`, `org_limits`, `admin_tokens`, `credentials`, `audit` (the audit log and the
//! control version); the rows themselves in `types`. This file holds the connection, the writer, the
//! migrations, batches and the clock.

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Connection as _};

use super::batch::{Batch, Param, ResultShapes};
use super::durability::Durability;
use super::error::DbError;
use super::now_micros;

mod admin_tokens;
mod audit;
mod backups;
mod credentials;
mod documents;
pub use admin_tokens::AdminTokenRecord;
pub use audit::{AuditEntry, AuditQuery, AuditRecord};
pub use credentials::CredentialRecord;
pub use documents::DocumentDeleted;
pub use org_limits::OrgLimitsRecord;
pub use orgs::{OrgChange, OrgDeleted, OrgRecord, ProviderUsage};
mod ingests;
mod org_limits;
mod orgs;
mod resources;
mod scoped;
pub use scoped::Scoped;
mod types;
mod windows;

use types::*;
pub use types::{
    Admission, BackupQuery, BackupRecord, Deleted, DocumentRecord, Reservation, Reserved,
    ResourceRecord, StaleIngest,
};

/// Which engine the pool talks to (for the few statements that differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite: one node, one file.
    Sqlite,
    /// PostgreSQL: shared by any number of nodes.
    Postgres,
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
        include_str!(concat!("../../../migrations/", $file))
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
    (8, For::Both, migration!("0008_control.sql")),
    (9, For::Both, migration!("0009_credentials.sql")),
    (10, For::Both, migration!("0010_org_limits.sql")),
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
                Engine::Postgres => super::pool::postgres_options().after_connect(|conn, _| {
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

#[cfg(test)]
mod tests;
