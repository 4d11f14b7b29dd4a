//! Workers: each loops claiming the oldest runnable job, runs it while a heartbeat renews its
//! lease and reports progress, and records the outcome — only while it still holds the lease.
//! A worker claims its next job while a capture's object is being published, and for a
//! capture prepares it too (source opened, quota reserved, temporary object opened), so that
//! work and the reservation's flush overlap the last job's syncs; it still writes one job's
//! bytes at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::capture::{Prepared, capture, prepare};
use super::restore::restore;
use super::store::{self, JobKind, JobRecord, Outcome};
use crate::config::JobsConfig;
use crate::lease::Lease;
use crate::limits::{EffectiveLimits, Quotas};
use crate::services::Services;

/// What workers need of the gateway: storage, each plugin's limits, and how long a source
/// may go without a byte.
#[derive(Clone)]
pub struct WorkerEnv {
    /// Database and object storage.
    pub services: Arc<Services>,
    /// Limits per plugin name.
    pub limits: Arc<HashMap<String, EffectiveLimits>>,
    /// Each org's quota overrides.
    pub org_quotas: Arc<crate::limits::OrgQuotas>,
    /// How long a source may go without a byte.
    pub body_idle_timeout: Duration,
}

impl WorkerEnv {
    /// The storage quotas in force for `org` with a plugin.
    pub(super) fn quotas(&self, org: &str, plugin: &str) -> Quotas {
        self.org_quotas.quotas(&self.limits, org, plugin)
    }
}

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
pub(super) enum JobError {
    /// Retrying cannot help; the text is shown to clients.
    #[error("{0}")]
    Fatal(String),
    /// Another attempt may succeed.
    #[error("{0}")]
    Retry(String),
}

/// The file or URL a job's resource captures from (and restores into).
pub(super) async fn resource_source(
    db: &crate::store::Db,
    job: &JobRecord,
) -> Result<crate::config::SourceConfig, JobError> {
    let resource = db
        .scoped(&job.org, &job.provider)
        .resource(&job.resource_kind, &job.resource_id)
        .await
        .map_err(|e| JobError::Retry(format!("temporary failure: {e}")))?
        .ok_or_else(|| JobError::Fatal("the resource no longer exists".into()))?;
    super::source::parse(resource.source.as_deref()).map_err(|e| JobError::Fatal(e.to_string()))
}

/// Start `config.concurrency` workers for this node. Each leases jobs as
/// `{node}/{process}-{i}`: the node's configured name (for people reading the jobs table)
/// and a random per-process part, so two processes never share an owner — not even a node
/// restarted under the same name, whose old leases must expire rather than be renewed.
/// Cancelling `stop` stops them gracefully: each cancels its running job and hands it, and
/// any job it claimed ahead, back to the queue ([`store::hand_back`]), then returns.
pub fn spawn(
    env: WorkerEnv,
    config: JobsConfig,
    node: &str,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let process = uuid::Uuid::new_v4().simple().to_string();
    (0..config.concurrency)
        .map(|i| {
            let owner = format!("{node}/{}-{i}", &process[..8]);
            tokio::spawn(run_worker(env.clone(), config.clone(), owner, stop.clone()))
        })
        .collect()
}

async fn run_worker(env: WorkerEnv, config: JobsConfig, owner: String, stop: CancellationToken) {
    let db = &env.services.db;
    let lease = i64::try_from(config.lease_seconds.max(1)).unwrap_or(30) * 1_000_000;
    let max_attempts = i64::from(config.max_attempts.max(1));
    let mut idle_rounds = 0u32;
    // the job claimed (and prepared) while the last one was being published
    let mut next: Option<Ahead> = None;
    loop {
        if stop.is_cancelled() {
            if let Some(ahead) = next.take() {
                hand_back(db, ahead.job, ahead.prepared, &owner).await;
            }
            return;
        }
        let claimed = match next.take() {
            Some(ahead) => fresh(db, ahead, &owner, lease).await,
            None => store::claim(db, &owner, lease, max_attempts)
                .await
                .map(|job| job.map(|job| (job, None))),
        };
        match claimed {
            Ok(Some((job, prepared))) => {
                idle_rounds = 0;
                next = run_job(&env, &config, &owner, &stop, job, prepared).await;
            }
            Ok(None) => {
                idle_rounds += 1;
                if idle_rounds % 50 == 1
                    && let Err(e) = store::fail_exhausted(db, max_attempts).await
                {
                    tracing::warn!(error = %e, "could not fail exhausted jobs");
                }
                // a job queued on this node wakes one worker at once; others' jobs are
                // found by polling
                let _ =
                    tokio::time::timeout(Duration::from_millis(config.poll_ms.max(10)), async {
                        tokio::select! {
                            () = env.services.jobs_queued.notified() => {}
                            () = stop.cancelled() => {}
                        }
                    })
                    .await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "job claim failed");
                tokio::time::sleep(Duration::from_millis(config.poll_ms.max(10) * 5)).await;
            }
        }
    }
}

/// A job claimed while the worker's last one was being published, with what was prepared
/// for it meanwhile (for a capture).
struct Ahead {
    job: JobRecord,
    claimed_at: Instant,
    prepared: Option<Result<Prepared, JobError>>,
}

/// Claim the next job and, for a capture, prepare it; `None` when there is none, the worker
/// is stopping, or the claim failed (which the worker's own next claim will meet again).
async fn claim_ahead(
    env: &WorkerEnv,
    owner: &str,
    stop: &CancellationToken,
    lease: i64,
    max_attempts: i64,
) -> Option<Ahead> {
    if stop.is_cancelled() {
        return None;
    }
    let job = match store::claim(&env.services.db, owner, lease, max_attempts).await {
        Ok(job) => job?,
        Err(e) => {
            tracing::warn!(error = %e, "job claim failed");
            return None;
        }
    };
    let claimed_at = Instant::now();
    let prepared = match job.kind {
        JobKind::Capture => Some(prepare(env, &job, true, stop).await),
        JobKind::Restore => None,
    };
    Some(Ahead {
        job,
        claimed_at,
        prepared,
    })
}

/// A job claimed ahead, still this worker's to run: a lease older than a third of its
/// length (the publication it overlapped took that long) is renewed first, and a job lost
/// meanwhile (cancelled, or taken over) is skipped, its reservation given back.
async fn fresh(
    db: &crate::store::Db,
    ahead: Ahead,
    owner: &str,
    lease: i64,
) -> Result<Option<(JobRecord, Option<Result<Prepared, JobError>>)>, crate::store::DbError> {
    let Ahead {
        job,
        claimed_at,
        prepared,
    } = ahead;
    let third = Duration::from_micros(u64::try_from(lease / 3).unwrap_or(0));
    if claimed_at.elapsed() < third {
        return Ok(Some((job, prepared)));
    }
    match store::heartbeat(db, &job.id, owner, lease, 0, None).await {
        Ok(true) => Ok(Some((job, prepared))),
        kept => {
            Prepared::give_back(prepared).await;
            kept.map(|_| None)
        }
    }
}

/// Give a job back to the queue as the node stops (with what was prepared for it, given
/// back first), its attempt not counted; one no longer this worker's is left alone.
async fn hand_back(
    db: &crate::store::Db,
    job: JobRecord,
    prepared: Option<Result<Prepared, JobError>>,
    owner: &str,
) {
    Prepared::give_back(prepared).await;
    match store::hand_back(db, &job.id, owner).await {
        Ok(true) => {
            tracing::info!(job = %job.id, "job handed back: the node is stopping");
            flush_soon(db);
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "could not hand a job back; it is retried once its lease expires")
        }
    }
}

/// Progress shared between the running job and its heartbeat.
#[derive(Default)]
pub(super) struct Progress {
    /// Bytes moved so far.
    pub(super) done: AtomicU64,
    /// Bytes in all, -1 while unknown.
    pub(super) total: AtomicI64,
}

/// Run `job` (a capture with what was `prepared` for it, if it was claimed ahead) and record
/// its outcome. While a capture's object is being published (its bytes all written, the
/// syncs under way) the worker claims its next job and prepares it, so that work overlaps
/// the wait instead of following it; that job is returned, to run next. Only one job of a
/// worker writes its bytes at a time.
async fn run_job(
    env: &WorkerEnv,
    config: &JobsConfig,
    owner: &str,
    stop: &CancellationToken,
    job: JobRecord,
    prepared: Option<Result<Prepared, JobError>>,
) -> Option<Ahead> {
    let db = env.services.db.clone();
    let progress = Arc::new(Progress {
        done: AtomicU64::new(0),
        total: AtomicI64::new(-1),
    });
    let lease = i64::try_from(config.lease_seconds.max(1)).unwrap_or(30) * 1_000_000;
    let every = Duration::from_millis(config.lease_seconds.max(1) * 1000 / 3);
    let kept = keep_lease(&db, &job, owner, lease, every, &progress);
    // `cancel` when the lease is lost (cancelled, or taken over) and when the node stops
    let cancel = stop.child_token();
    let lost = kept.lost_token();
    let stop_on_loss = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            lost.cancelled().await;
            cancel.cancel();
        })
    };
    tracing::info!(job = %job.id, kind = ?job.kind, resource = %job.resource_id, attempt = job.attempts, "job started");
    let max_attempts = i64::from(config.max_attempts.max(1));
    let publishing = Arc::new(tokio::sync::Notify::new());
    let (result, next) = match job.kind {
        JobKind::Capture => {
            let run = async {
                let prepared = match prepared {
                    Some(prepared) => prepared?,
                    None => prepare(env, &job, false, &cancel).await?,
                };
                capture(env, &job, prepared, &progress, &cancel, &publishing).await
            };
            tokio::pin!(run);
            tokio::select! {
                biased;
                result = &mut run => (result.map(Some), None),
                () = publishing.notified() => {
                    // both to the end: a claim abandoned half-way would hold a job unrun
                    // until its lease expired
                    let (result, next) =
                        tokio::join!(run, claim_ahead(env, owner, stop, lease, max_attempts));
                    (result.map(Some), next)
                }
            }
        }
        JobKind::Restore => (
            restore(env, &job, &progress, &cancel).await.map(|()| None),
            None,
        ),
    };
    let lost = kept.lost();
    drop(kept);
    stop_on_loss.abort();
    if lost {
        tracing::info!(job = %job.id, "job stopped: cancelled or taken over");
        return next;
    }
    if stop.is_cancelled() && result.is_err() {
        // stopped with the node: cleaned up by the ingest, and queued again at once
        hand_back(&db, job, None, owner).await;
        return next;
    }
    record_outcome(&db, &job, owner, max_attempts, &progress, result).await;
    next
}

/// Renew a running job's lease, reporting its progress, every `every`; lost when the job
/// is no longer this worker's (cancelled, or its lease taken over).
fn keep_lease(
    db: &crate::store::Db,
    job: &JobRecord,
    owner: &str,
    lease: i64,
    every: Duration,
    progress: &Arc<Progress>,
) -> Lease {
    let (db, id, owner, progress) = (
        db.clone(),
        job.id.clone(),
        owner.to_owned(),
        progress.clone(),
    );
    Lease::keep(format!("job {id}"), every, move || {
        let (db, id, owner) = (db.clone(), id.clone(), owner.clone());
        let total = progress.total.load(Ordering::Relaxed);
        let done = i64::try_from(progress.done.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        async move {
            store::heartbeat(&db, &id, &owner, lease, done, (total >= 0).then_some(total)).await
        }
    })
}

/// Record a job's outcome (a capture's completion was recorded with its backup already),
/// only while this worker still holds its lease.
async fn record_outcome(
    db: &crate::store::Db,
    job: &JobRecord,
    owner: &str,
    max_attempts: i64,
    progress: &Progress,
    result: Result<Option<String>, JobError>,
) {
    let done = i64::try_from(progress.done.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
    let total = progress.total.load(Ordering::Relaxed);
    // a completed capture of unknown length now knows it
    let total = if total < 0 && result.is_ok() {
        Some(done)
    } else {
        (total >= 0).then_some(total)
    };
    let outcome = match &result {
        Ok(backup) => Outcome::Completed(backup.as_deref()),
        Err(JobError::Fatal(e)) => Outcome::Failed(e),
        Err(JobError::Retry(e)) if job.attempts >= max_attempts => Outcome::Failed(e),
        Err(JobError::Retry(e)) => Outcome::Retry(e),
    };
    if let Outcome::Completed(Some(_)) = outcome {
        // a capture's completion was recorded with its backup, in one transaction
        tracing::info!(job = %job.id, ?outcome, "job finished");
        flush_soon(db);
        return;
    }
    match store::finish(db, &job.id, owner, outcome, (done, total)).await {
        Ok(true) => {
            tracing::info!(job = %job.id, ?outcome, "job finished");
            flush_soon(db);
        }
        Ok(false) => tracing::warn!(job = %job.id, "job outcome not recorded: the lease was lost"),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "could not record job outcome; the lease will expire and it will be retried")
        }
    }
}

/// How soon a finished job's outcome is durable at the latest.
const OUTCOME_FLUSH_WITHIN: Duration = Duration::from_millis(20);

/// Make a finished job's outcome durable without holding up the worker: nobody waits on
/// it (clients poll), so it rides on a flush someone else starts within
/// [`OUTCOME_FLUSH_WITHIN`] (under load, always) and pays for one only when nobody does.
fn flush_soon(db: &crate::store::Db) {
    let db = db.clone();
    tokio::spawn(async move {
        if let Err(e) = db.sync_within(OUTCOME_FLUSH_WITHIN).await {
            tracing::error!(error = %e, "could not make a job's outcome durable");
        }
    });
}
