//! Group commit. Transactions commit without waiting for the disk (SQLite WAL with
//! `synchronous=NORMAL`, PostgreSQL with `synchronous_commit=off`): a commit is visible at
//! once and survives a crash of the gateway, but not yet a power cut or an OS crash (nor, on
//! PostgreSQL, a crash of the server). Whatever must survive those — anything acknowledged to
//! a client, and the record of an upload before its object is published — then waits on
//! [`Durability::sync`], a barrier that makes every commit finished before the call durable.
//!
//! Both engines keep one sequential log, so a flush covers every commit finished before it
//! started: concurrent callers share flushes instead of paying one each. A caller takes a
//! ticket and waits for a flush that started after it (one already started covers every
//! ticket taken before it began). Flushes overlap, up to [`MAX_FLUSHING`] at once, so a
//! caller arriving while one runs starts the next at once instead of queueing behind it:
//! with a slow disk (a 5 ms flush) that cuts the wait from up to two flushes to one. Only
//! when every slot is busy do callers queue, and then the next flush covers all of them.
//!
//! SQLite: `fdatasync` of the `-wal` file, whose frames SQLite has already written (a
//! checkpoint that moved them into the database file synced that file first). PostgreSQL: a
//! one-row write committed with `synchronous_commit=on` (one statement, on connections of
//! its own), which flushes the WAL up to itself.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::AnyPool;

use super::error::DbError;

/// How a flush is done.
#[derive(Debug)]
enum Flush {
    /// `fdatasync` the SQLite write-ahead log at this path.
    SqliteWal(PathBuf),
    /// A one-row commit on PostgreSQL through `pool`, whose sessions commit synchronously;
    /// successive flushes take successive rows of `sync_marks` from `first_row`, so flushes
    /// running at once do not queue on one row's lock.
    Postgres {
        pool: AnyPool,
        first_row: u64,
        next: AtomicU64,
    },
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
    /// Which tickets are durable or being made durable, and how many flushes run.
    state: Mutex<State>,
    /// Woken whenever a flush ends, well or not.
    ended: tokio::sync::Notify,
    /// Flushes done (for tests and benchmarks).
    flushes: AtomicU64,
}

/// Rows of `sync_marks` a PostgreSQL flush may write.
const SYNC_MARK_ROWS: u64 = 64;

/// Flushes that may run at once. Two let a caller start its flush while an earlier one is
/// still running; more only multiply flushes (jobs bench with every fsync delayed 5 ms:
/// two slots 1.25 flushes per job at 126-129 jobs/s, four 1.48-1.51 at 127-129).
pub const MAX_FLUSHING: usize = 2;

#[derive(Debug, Default)]
struct State {
    /// Every ticket up to this one is durable.
    synced: u64,
    /// Every ticket up to this one is covered by a flush that has started (and has not
    /// failed).
    started: u64,
    /// Flushes running.
    flushing: usize,
}

/// A running flush's slot: gives the slot back however the flush ends — also when the
/// caller is dropped mid-flush, which must not leave waiters counting on it.
struct Slot<'a> {
    inner: &'a Inner,
    covers: u64,
    done: bool,
}

impl Slot<'_> {
    fn succeeded(mut self) {
        self.done = true;
        let mut st = self.inner.state();
        st.synced = st.synced.max(self.covers);
        st.flushing -= 1;
        drop(st);
        self.inner.flushes.fetch_add(1, Ordering::Relaxed);
        self.inner.ended.notify_waiters();
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // failed or abandoned: whoever counted on it starts a flush of their own
        let mut st = self.inner.state();
        st.flushing -= 1;
        st.started = st.synced;
        drop(st);
        self.inner.ended.notify_waiters();
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // a few counters, each updated in one statement: a panic elsewhere cannot leave
        // them half-written
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
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

    /// For PostgreSQL at `url`: flushes are single-statement commits on a few connections of
    /// their own with `synchronous_commit=on` (one round trip each), on rows of `sync_marks`
    /// starting from one picked at random, so nodes rarely queue on each other's rows.
    pub fn postgres(url: &str) -> Result<Durability, DbError> {
        let pool = super::pool::postgres_options()
            .max_connections(MAX_FLUSHING as u32)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql("SET synchronous_commit = on")
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            })
            .connect_lazy(url)?;
        Ok(Self::new(Flush::Postgres {
            pool,
            first_row: u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % SYNC_MARK_ROWS,
            next: AtomicU64::new(0),
        }))
    }

    fn new(flush: Flush) -> Durability {
        Durability {
            inner: Arc::new(Inner {
                flush,
                issued: AtomicU64::new(0),
                state: Mutex::new(State::default()),
                ended: tokio::sync::Notify::new(),
                flushes: AtomicU64::new(0),
            }),
        }
    }

    /// Return once every transaction committed before this call is durable.
    pub async fn sync(&self) -> Result<(), DbError> {
        let ticket = self.ticket();
        self.wait(ticket).await
    }

    /// Like [`Durability::sync`] for commits nobody waits on: the commits before the call
    /// become durable within about `delay`, by whatever flush others start meanwhile, or by
    /// one of its own if nobody does. Under load this costs no flush at all.
    pub async fn sync_within(&self, delay: std::time::Duration) -> Result<(), DbError> {
        let ticket = self.ticket();
        tokio::time::sleep(delay).await;
        self.wait(ticket).await
    }

    fn ticket(&self) -> u64 {
        self.inner.issued.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Return once `ticket` is durable, flushing if no started flush covers it.
    async fn wait(&self, ticket: u64) -> Result<(), DbError> {
        let inner = &*self.inner;
        loop {
            // registered before looking, so a flush ending in between still wakes us
            let ended = inner.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let slot = {
                let mut st = inner.state();
                if st.synced >= ticket {
                    return Ok(());
                }
                if st.started < ticket && st.flushing < MAX_FLUSHING {
                    // every ticket issued so far belongs to a commit that finished before
                    // this flush starts
                    let covers = inner.issued.load(Ordering::SeqCst);
                    st.started = covers;
                    st.flushing += 1;
                    Some(Slot {
                        inner,
                        covers,
                        done: false,
                    })
                } else {
                    // a started flush covers us, or every slot is busy: wait for one to end
                    None
                }
            };
            match slot {
                None => ended.await,
                Some(slot) => {
                    self.flush().await?;
                    slot.succeeded();
                    return Ok(());
                }
            }
        }
    }

    /// One flush of everything committed so far.
    async fn flush(&self) -> Result<(), DbError> {
        match &self.inner.flush {
            Flush::Nothing => {}
            #[cfg(test)]
            Flush::Gated(gate) => gate.acquire().await.map_err(io_error)?.forget(),
            Flush::SqliteWal(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || match std::fs::File::open(&path) {
                    Ok(f) => f.sync_data(),
                    // checkpointed and removed: the database file was synced first
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                })
                .await
                .map_err(io_error)?
                .map_err(|e| DbError::Sqlx(sqlx::Error::Io(e)))?;
            }
            Flush::Postgres {
                pool,
                first_row,
                next,
            } => {
                let row = (first_row + next.fetch_add(1, Ordering::Relaxed)) % SYNC_MARK_ROWS;
                sqlx::query(
                    "INSERT INTO sync_marks (id, n) VALUES ($1, 1) \
                     ON CONFLICT (id) DO UPDATE SET n = sync_marks.n + 1",
                )
                .bind(i64::try_from(row).unwrap_or(0))
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Flushes done so far.
    pub fn flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }
}

/// A failure around a flush (a lost blocking task, a closed test gate) as a database error.
fn io_error(e: impl std::error::Error + Send + Sync + 'static) -> DbError {
    DbError::Sqlx(sqlx::Error::Io(std::io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A barrier whose flushes each wait for a permit of the returned gate.
    fn gated() -> (Durability, Arc<tokio::sync::Semaphore>) {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        (Durability::new(Flush::Gated(gate.clone())), gate)
    }

    fn caller(d: &Durability) -> tokio::task::JoinHandle<Result<(), DbError>> {
        let d = d.clone();
        tokio::spawn(async move { d.sync().await })
    }

    /// Yield until `cond` holds of the barrier's state.
    async fn until(d: &Durability, cond: impl Fn(&State, u64) -> bool) {
        while !cond(&d.inner.state(), d.inner.issued.load(Ordering::SeqCst)) {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_caller_starts_its_flush_without_waiting_for_a_running_one() {
        let (d, gate) = gated();
        let first = caller(&d);
        until(&d, |st, _| st.flushing == 1).await;
        // the first flush has not ended when the second caller commits and asks: it cannot
        // count on it, and starts its own at once rather than queueing behind it
        let second = caller(&d);
        until(&d, |st, _| st.flushing == 2).await;
        gate.add_permits(2);
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(d.flushes(), 2);
        // a later caller is never covered by an earlier flush
        gate.add_permits(1);
        d.sync().await.unwrap();
        assert_eq!(d.flushes(), 3);
        assert_eq!(gate.available_permits(), 0);
    }

    #[tokio::test]
    async fn callers_share_one_flush_when_every_slot_is_busy() {
        let (d, gate) = gated();
        let busy: Vec<_> = (0..MAX_FLUSHING).map(|_| caller(&d)).collect();
        until(&d, |st, _| st.flushing == MAX_FLUSHING).await;
        // eight more commit and ask while every slot is taken: they wait
        let waiting: Vec<_> = (0..8).map(|_| caller(&d)).collect();
        until(&d, |_, issued| issued == (MAX_FLUSHING + 8) as u64).await;
        assert_eq!(d.inner.state().flushing, MAX_FLUSHING);
        gate.add_permits(MAX_FLUSHING);
        for b in busy {
            b.await.unwrap().unwrap();
        }
        // the first of them to find a free slot starts a flush that covers all eight
        until(&d, |st, _| st.flushing == 1).await;
        gate.add_permits(1);
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        assert_eq!(
            d.flushes(),
            MAX_FLUSHING as u64 + 1,
            "the eight shared one flush"
        );
        assert_eq!(gate.available_permits(), 0);
    }

    #[tokio::test]
    async fn an_abandoned_flush_gives_its_slot_back() {
        let (d, gate) = gated();
        let busy: Vec<_> = (0..MAX_FLUSHING).map(|_| caller(&d)).collect();
        until(&d, |st, _| st.flushing == MAX_FLUSHING).await;
        let waiter = caller(&d);
        until(&d, |_, issued| issued == MAX_FLUSHING as u64 + 1).await;
        // their callers go away mid-flush (a client disconnected): the waiter is not
        // stranded, it flushes for itself
        for b in &busy {
            b.abort();
        }
        until(&d, |st, _| st.flushing == 1).await;
        gate.add_permits(1);
        waiter.await.unwrap().unwrap();
        assert_eq!(d.flushes(), 1);
        for b in busy {
            assert!(b.await.unwrap_err().is_cancelled());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_commit_nobody_waits_on_rides_on_the_next_flush() {
        let (d, gate) = gated();
        let later = {
            let d = d.clone();
            tokio::spawn(async move { d.sync_within(std::time::Duration::from_millis(20)).await })
        };
        until(&d, |_, issued| issued == 1).await;
        // someone else's flush starts within the delay and covers it
        gate.add_permits(1);
        d.sync().await.unwrap();
        later.await.unwrap().unwrap();
        assert_eq!(d.flushes(), 1, "no flush of its own");
        // alone, it pays for one after the delay
        gate.add_permits(1);
        d.sync_within(std::time::Duration::from_millis(20))
            .await
            .unwrap();
        assert_eq!(d.flushes(), 2);
    }

    #[tokio::test]
    async fn sqlite_flushes_the_write_ahead_log_and_tolerates_its_absence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.db");
        let d = Durability::sqlite(&file.display().to_string());
        // no log yet (never written, or checkpointed away): nothing to flush, no error
        d.sync().await.unwrap();
        std::fs::write(dir.path().join("m.db-wal"), b"frames").unwrap();
        d.sync().await.unwrap();
        assert_eq!(d.flushes(), 2);
        // a log where one cannot be is an error, not silently skipped
        let d = Durability::sqlite(&dir.path().join("m.db/none").display().to_string());
        std::fs::write(dir.path().join("m.db"), b"").unwrap();
        assert!(d.sync().await.is_err());
    }
}
