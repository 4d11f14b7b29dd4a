//! Group commit. Transactions commit without waiting for the disk (SQLite WAL with
//! `synchronous=NORMAL`, PostgreSQL with `synchronous_commit=off`): a commit is visible at
//! once and survives a crash of the gateway, but not yet a power cut or an OS crash (nor, on
//! PostgreSQL, a crash of the server). Whatever must survive those — anything acknowledged to
//! a client, and the record of an upload before its object is published — then waits on
//! [`Durability::sync`], a barrier that makes every commit finished before the call durable.
//!
//! Both engines keep one sequential log, so a flush covers every earlier commit: concurrent
//! callers share one flush instead of paying one each. A caller takes a ticket; the flush
//! that starts after it covers it, and a caller whose ticket a finished flush already
//! covered returns without flushing. SQLite: `fdatasync` of the `-wal` file, whose frames
//! SQLite has already written (a checkpoint that moved them into the database file synced
//! that file first). PostgreSQL: a one-row write committed with `synchronous_commit=on`,
//! which flushes the WAL up to itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::AnyPool;

use super::DbError;

/// How a flush is done.
#[derive(Debug)]
enum Flush {
    /// `fdatasync` the SQLite write-ahead log at this path.
    SqliteWal(PathBuf),
    /// A synchronous one-row commit on PostgreSQL, on this row of `sync_marks`.
    Postgres(i64),
    /// An in-memory database: nothing to flush.
    Nothing,
    /// Tests: each flush takes one permit, so a test decides when flushes finish.
    #[cfg(test)]
    Gated(Arc<tokio::sync::Semaphore>),
}

/// The group-commit barrier of one database handle (shared by its clones).
#[derive(Debug, Clone)]
pub struct Durability {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    flush: Flush,
    /// Tickets handed out.
    issued: AtomicU64,
    /// Every ticket up to this one is durable.
    synced: AtomicU64,
    /// One flush at a time; waiters queue here and usually find their ticket covered.
    running: tokio::sync::Mutex<()>,
    /// Flushes done (for tests and benchmarks).
    flushes: AtomicU64,
}

impl Durability {
    /// For the SQLite database whose main file is `db_file` (empty: in memory).
    pub fn sqlite(db_file: &str) -> Durability {
        let flush = if db_file.is_empty() {
            Flush::Nothing
        } else {
            Flush::SqliteWal(PathBuf::from(format!("{db_file}-wal")))
        };
        Self::new(flush)
    }

    /// For PostgreSQL: flushes commit to a row of `sync_marks` picked at random, so nodes
    /// rarely queue on each other's row.
    pub fn postgres() -> Durability {
        let row = i64::from(uuid::Uuid::new_v4().as_bytes()[0] % 64);
        Self::new(Flush::Postgres(row))
    }

    fn new(flush: Flush) -> Durability {
        Durability {
            inner: Arc::new(Inner {
                flush,
                issued: AtomicU64::new(0),
                synced: AtomicU64::new(0),
                running: tokio::sync::Mutex::new(()),
                flushes: AtomicU64::new(0),
            }),
        }
    }

    /// Return once every transaction committed before this call is durable.
    pub async fn sync(&self, pool: &AnyPool) -> Result<(), DbError> {
        let inner = &self.inner;
        let ticket = inner.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = inner.running.lock().await;
        if inner.synced.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // every ticket issued so far belongs to a commit that finished before this flush
        let covers = inner.issued.load(Ordering::SeqCst);
        match &inner.flush {
            Flush::Nothing => {}
            #[cfg(test)]
            Flush::Gated(gate) => {
                gate.acquire()
                    .await
                    .map_err(|e| DbError::Sqlx(sqlx::Error::Io(std::io::Error::other(e))))?
                    .forget();
            }
            Flush::SqliteWal(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || match std::fs::File::open(&path) {
                    Ok(f) => f.sync_data(),
                    // checkpointed and removed: the database file was synced first
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                })
                .await
                .map_err(|e| DbError::Sqlx(sqlx::Error::Io(std::io::Error::other(e))))?
                .map_err(|e| DbError::Sqlx(sqlx::Error::Io(e)))?;
            }
            Flush::Postgres(row) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET LOCAL synchronous_commit = on")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO sync_marks (id, n) VALUES ($1, 1) \
                     ON CONFLICT (id) DO UPDATE SET n = sync_marks.n + 1",
                )
                .bind(*row)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }
        inner.synced.fetch_max(covers, Ordering::SeqCst);
        inner.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Flushes done so far.
    pub fn flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pool() -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn callers_waiting_on_a_flush_share_the_next_one() {
        let pool = pool().await;
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let d = Durability::new(Flush::Gated(gate.clone()));
        // the first caller's flush is in progress (held at the gate)...
        let first = tokio::spawn({
            let (d, pool) = (d.clone(), pool.clone());
            async move { d.sync(&pool).await }
        });
        while d.inner.running.try_lock().is_ok() {
            tokio::task::yield_now().await;
        }
        // ...when eight more commit and ask: they queue behind it
        let waiting: Vec<_> = (0..8)
            .map(|_| {
                let (d, pool) = (d.clone(), pool.clone());
                tokio::spawn(async move { d.sync(&pool).await })
            })
            .collect();
        while d.inner.issued.load(Ordering::SeqCst) < 9 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        first.await.unwrap().unwrap();
        assert_eq!(d.flushes(), 1);
        // one flush covers all eight; it cannot be the first, which started before they asked
        gate.add_permits(1);
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        assert_eq!(d.flushes(), 2, "the eight shared one flush");
        assert_eq!(gate.available_permits(), 0);
        // a later caller is never covered by an earlier flush
        gate.add_permits(1);
        d.sync(&pool).await.unwrap();
        assert_eq!(d.flushes(), 3);
    }

    #[tokio::test]
    async fn sqlite_flushes_the_write_ahead_log_and_tolerates_its_absence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.db");
        let pool = pool().await;
        let d = Durability::sqlite(&file.display().to_string());
        // no log yet (never written, or checkpointed away): nothing to flush, no error
        d.sync(&pool).await.unwrap();
        std::fs::write(dir.path().join("m.db-wal"), b"frames").unwrap();
        d.sync(&pool).await.unwrap();
        assert_eq!(d.flushes(), 2);
        // a log where one cannot be is an error, not silently skipped
        let d = Durability::sqlite(&dir.path().join("m.db/none").display().to_string());
        std::fs::write(dir.path().join("m.db"), b"").unwrap();
        assert!(d.sync(&pool).await.is_err());
    }
}
