//! Workers: each loops claiming the oldest runnable job, runs it while a heartbeat renews its
//! lease and reports progress, and records the outcome — only while it still holds the lease.
//! A worker claims its next job while a capture's object is being published, and for a
//! capture prepares it too (source opened, quota reserved, temporary object opened), so that
//! work and the reservation's flush overlap the last job's syncs; it still writes one job's
//! bytes at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::source::{self, SourceError};
use super::store::{self, JobKind, JobRecord, Outcome};
use crate::config::JobsConfig;
use crate::http::Gateway;
use crate::ingest::{self, IngestError, Target};
use crate::plugins::manifest::Quotas;

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
enum JobError {
    /// Retrying cannot help; the text is shown to clients.
    #[error("{0}")]
    Fatal(String),
    /// Another attempt may succeed.
    #[error("{0}")]
    Retry(String),
}

/// Start `config.concurrency` workers for this node. Each leases jobs as
/// `{node}/{process}-{i}`: the node's configured name (for people reading the jobs table)
/// and a random per-process part, so two processes never share an owner — not even a node
/// restarted under the same name, whose old leases must expire rather than be renewed.
/// Cancelling `stop` stops them gracefully: each cancels its running job and hands it, and
/// any job it claimed ahead, back to the queue ([`store::hand_back`]), then returns.
pub fn spawn(
    gw: Arc<Gateway>,
    config: JobsConfig,
    node: &str,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let process = uuid::Uuid::new_v4().simple().to_string();
    (0..config.concurrency)
        .map(|i| {
            let owner = format!("{node}/{}-{i}", &process[..8]);
            tokio::spawn(run_worker(gw.clone(), config.clone(), owner, stop.clone()))
        })
        .collect()
}

async fn run_worker(gw: Arc<Gateway>, config: JobsConfig, owner: String, stop: CancellationToken) {
    let db = &gw.services.db;
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
                next = run_job(&gw, &config, &owner, &stop, job, prepared).await;
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
                            () = gw.services.jobs_queued.notified() => {}
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
    gw: &Arc<Gateway>,
    owner: &str,
    stop: &CancellationToken,
    lease: i64,
    max_attempts: i64,
) -> Option<Ahead> {
    if stop.is_cancelled() {
        return None;
    }
    let job = match store::claim(&gw.services.db, owner, lease, max_attempts).await {
        Ok(job) => job?,
        Err(e) => {
            tracing::warn!(error = %e, "job claim failed");
            return None;
        }
    };
    let claimed_at = Instant::now();
    let prepared = match job.kind {
        JobKind::Capture => Some(prepare(gw, &job, true, stop).await),
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
struct Progress {
    done: AtomicU64,
    total: AtomicI64,
}

/// Run `job` (a capture with what was `prepared` for it, if it was claimed ahead) and record
/// its outcome. While a capture's object is being published (its bytes all written, the
/// syncs under way) the worker claims its next job and prepares it, so that work overlaps
/// the wait instead of following it; that job is returned, to run next. Only one job of a
/// worker writes its bytes at a time.
async fn run_job(
    gw: &Arc<Gateway>,
    config: &JobsConfig,
    owner: &str,
    stop: &CancellationToken,
    job: JobRecord,
    prepared: Option<Result<Prepared, JobError>>,
) -> Option<Ahead> {
    let db = gw.services.db.clone();
    let progress = Arc::new(Progress {
        done: AtomicU64::new(0),
        total: AtomicI64::new(-1),
    });
    // the lease lost; `cancel` also when the node stops
    let lost = CancellationToken::new();
    let cancel = stop.child_token();
    let lease = i64::try_from(config.lease_seconds.max(1)).unwrap_or(30) * 1_000_000;
    let beat = {
        let (db, id, owner, progress, lost, cancel) = (
            db.clone(),
            job.id.clone(),
            owner.to_owned(),
            progress.clone(),
            lost.clone(),
            cancel.clone(),
        );
        let every = Duration::from_millis((config.lease_seconds.max(1) * 1000 / 3).max(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let total = progress.total.load(Ordering::Relaxed);
                let done = i64::try_from(progress.done.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
                match store::heartbeat(&db, &id, &owner, lease, done, (total >= 0).then_some(total))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        // cancelled, or the lease went to another worker: stop working
                        lost.cancel();
                        cancel.cancel();
                        return;
                    }
                    Err(e) => tracing::warn!(job = %id, error = %e, "heartbeat failed"),
                }
            }
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
                    None => prepare(gw, &job, false, &cancel).await?,
                };
                capture(gw, &job, prepared, &progress, &cancel, &publishing).await
            };
            tokio::pin!(run);
            tokio::select! {
                biased;
                result = &mut run => (result.map(Some), None),
                () = publishing.notified() => {
                    // both to the end: a claim abandoned half-way would hold a job unrun
                    // until its lease expired
                    let (result, next) =
                        tokio::join!(run, claim_ahead(gw, owner, stop, lease, max_attempts));
                    (result.map(Some), next)
                }
            }
        }
        JobKind::Restore => (
            restore(gw, &job, &progress, &cancel).await.map(|()| None),
            None,
        ),
    };
    beat.abort();
    if lost.is_cancelled() {
        tracing::info!(job = %job.id, "job stopped: cancelled or taken over");
        return next;
    }
    if stop.is_cancelled() && result.is_err() {
        // stopped with the node: cleaned up by the ingest, and queued again at once
        hand_back(&db, job, None, owner).await;
        return next;
    }

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
        flush_soon(&db);
        return next;
    }
    match store::finish(&db, &job.id, owner, outcome, (done, total)).await {
        Ok(true) => {
            tracing::info!(job = %job.id, ?outcome, "job finished");
            flush_soon(&db);
        }
        Ok(false) => tracing::warn!(job = %job.id, "job outcome not recorded: the lease was lost"),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "could not record job outcome; the lease will expire and it will be retried")
        }
    }
    next
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

/// A stream that fails (rather than ends) when `token` is cancelled, so the ingest
/// pipeline cleans up instead of committing a truncated capture.
fn cancellable<S>(
    stream: S,
    token: &CancellationToken,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin + use<S>
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin + Send + 'static,
{
    let check = token.clone();
    stream
        .take_until(token.clone().cancelled_owned())
        .chain(
            futures_util::stream::once(async move { check.is_cancelled() }).filter_map(
                |c| async move { c.then(|| Err(std::io::Error::other("job cancelled"))) },
            ),
        )
        .boxed()
}

/// What a capture has ready before its first byte.
enum Prepared {
    /// A retried job whose earlier attempt committed (and then lost its lease): done.
    Done(String),
    /// Its source open and its backup's target chosen.
    Ready(Box<Ready>),
}

/// A capture ready for its bytes.
struct Ready {
    source: source::Opened,
    quotas: Quotas,
    /// Reserved unless it was prepared ahead and the reservation failed (the last job's
    /// retention may yet free the quota: it is tried again when the job runs).
    ingest: Ingest,
}

/// A prepared capture's ingest.
#[expect(
    clippy::large_enum_variant,
    reason = "only ever inside a boxed `Ready`"
)]
enum Ingest {
    /// Not reserved yet.
    Unreserved(Target),
    /// Quota reserved, temporary object open.
    Reserved(ingest::Reserved),
}

impl Prepared {
    /// Give back what was reserved for a job claimed ahead that will not run (anything
    /// but a reserved capture holds nothing).
    async fn give_back(prepared: Option<Result<Prepared, JobError>>) {
        if let Some(Ok(Prepared::Ready(ready))) = prepared
            && let Ingest::Reserved(reserved) = ready.ingest
        {
            reserved.abandon().await;
        }
    }
}

/// Everything a capture does before its first byte: the resource read, the source opened,
/// the backup's target chosen and its quota reserved. `ahead` (the last job still being
/// published) leaves a failed reservation to be tried again when the job runs. Cancelled,
/// it stops waiting for the source to answer (an HTTP source may take its time).
async fn prepare(
    gw: &Arc<Gateway>,
    job: &JobRecord,
    ahead: bool,
    cancel: &CancellationToken,
) -> Result<Prepared, JobError> {
    let (db, objects) = (&gw.services.db, &gw.services.objects);
    let retry = |e: &dyn std::fmt::Display| JobError::Retry(format!("temporary failure: {e}"));
    // a retried job whose earlier attempt committed (and then lost its lease) is done
    if job.attempts > 1
        && let Some(b) = db
            .backup_by_job(&job.org, &job.provider, &job.id)
            .await
            .map_err(|e| retry(&e))?
    {
        return Ok(Prepared::Done(b.id));
    }
    let resource = db
        .resource(
            &job.org,
            &job.provider,
            &job.resource_kind,
            &job.resource_id,
        )
        .await
        .map_err(|e| retry(&e))?
        .ok_or_else(|| JobError::Fatal("the resource no longer exists".into()))?;
    let quotas = gw
        .limits(&job.provider)
        .map(|l| l.quotas)
        .unwrap_or_default();
    let src =
        source::parse(resource.source.as_deref()).map_err(|e| JobError::Fatal(e.to_string()))?;
    let opened = tokio::select! {
        opened = source::open(&src, quotas.upload_bytes, gw.body_idle_timeout) => opened.map_err(|e| match e {
            SourceError::Unreadable(m) => JobError::Retry(format!("cannot read the source: {m}")),
            other => JobError::Fatal(other.to_string()),
        })?,
        () = cancel.cancelled() => {
            return Err(JobError::Retry("stopped before the source answered".into()));
        }
    };
    if let ingest::Size::Exact(n) = opened.size
        && quotas.upload_bytes > 0
        && n > quotas.upload_bytes
    {
        return Err(JobError::Fatal(format!(
            "the source is larger than the {}-byte limit",
            quotas.upload_bytes
        )));
    }
    let filename = ingest::clean_filename(&job.filename);
    let extension = opened
        .extension
        .map(str::to_owned)
        .or_else(|| {
            std::path::Path::new(&filename).extension().and_then(|e| {
                ingest::clean_extension(&format!(".{}", e.to_string_lossy().to_ascii_lowercase()))
            })
        })
        .unwrap_or_default();
    let backup_id = uuid::Uuid::now_v7().to_string();
    // a deduplicated capture's object is the pack of the chunks it adds
    let key_ext = if job.deduplicate { ".pack" } else { &extension };
    let target = Target {
        org: job.org.clone(),
        provider: job.provider.clone(),
        resource_kind: job.resource_kind.clone(),
        resource_id: job.resource_id.clone(),
        key: format!(
            "{}/{}/{backup_id}{key_ext}",
            job.org,
            ingest::key_segment(&job.resource_id)
        ),
        backup_id,
        filename,
        extension,
        media_type: job.media_type.clone(),
        subject: job.subject.clone(),
        metadata: job.metadata.clone(),
        job_id: Some(job.id.clone()),
        dedup: job.deduplicate,
    };
    let ingest = match ingest::reserve(
        db,
        objects,
        target.clone(),
        opened.size,
        quotas.org_bytes,
        None,
    )
    .await
    {
        Ok(reserved) => Ingest::Reserved(reserved),
        Err(e) if ahead => {
            tracing::debug!(job = %job.id, error = %e, "reservation ahead refused; tried again when the job runs");
            Ingest::Unreserved(target)
        }
        Err(e) => return ingest_failed(db, job, e).await.map(Prepared::Done),
    };
    Ok(Prepared::Ready(Box::new(Ready {
        source: opened,
        quotas,
        ingest,
    })))
}

/// A capture's ingest that failed: the job's outcome (a retry racing a slow first attempt
/// finds the other one's backup standing).
async fn ingest_failed(
    db: &crate::store::Db,
    job: &JobRecord,
    e: IngestError,
) -> Result<String, JobError> {
    if let Ok(Some(b)) = db.backup_by_job(&job.org, &job.provider, &job.id).await {
        return Ok(b.id);
    }
    Err(match e {
        IngestError::QuotaExceeded => JobError::Fatal("the backup quota is used up".into()),
        IngestError::TooLarge(n) => {
            JobError::Fatal(format!("the source is larger than the {n}-byte limit"))
        }
        IngestError::LengthMismatch { .. } => {
            JobError::Retry("the source changed while it was read".into())
        }
        other => JobError::Retry(format!("temporary failure: {other}")),
    })
}

/// Stream a prepared capture's source in, then apply the resource's retention.
async fn capture(
    gw: &Arc<Gateway>,
    job: &JobRecord,
    prepared: Prepared,
    progress: &Arc<Progress>,
    token: &CancellationToken,
    publishing: &Arc<tokio::sync::Notify>,
) -> Result<String, JobError> {
    let (db, objects) = (&gw.services.db, &gw.services.objects);
    let Ready {
        source: opened,
        quotas,
        ingest,
    } = match prepared {
        Prepared::Done(id) => return Ok(id),
        Prepared::Ready(ready) => *ready,
    };
    let reserved = match ingest {
        Ingest::Reserved(reserved) => reserved,
        Ingest::Unreserved(target) => {
            match ingest::reserve(db, objects, target, opened.size, quotas.org_bytes, None).await {
                Ok(reserved) => reserved,
                Err(e) => return ingest_failed(db, job, e).await,
            }
        }
    };
    if let ingest::Size::Exact(n) = opened.size {
        progress
            .total
            .store(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
    let counter = progress.clone();
    let written = publishing.clone();
    let stream = opened
        .stream
        .inspect(move |r| {
            if let Ok(c) = r {
                counter.done.fetch_add(c.len() as u64, Ordering::Relaxed);
            }
        })
        // the source's end: what is left is the ingest's publishing and recording
        .chain(
            futures_util::stream::once(futures_util::future::lazy(move |_| written.notify_one()))
                .filter_map(|()| futures_util::future::ready(None)),
        );
    let stored = match reserved.write(cancellable(stream, token)).await {
        Ok(rec) => rec,
        Err(e) => return ingest_failed(db, job, e).await,
    };
    if let Err(e) = ingest::prune(
        db,
        objects,
        &stored,
        quotas.resource_slots,
        quotas.resource_bytes,
    )
    .await
    {
        tracing::warn!(error = %e, "retention pruning after capture failed");
    }
    Ok(stored.id)
}

async fn restore(
    gw: &Arc<Gateway>,
    job: &JobRecord,
    progress: &Arc<Progress>,
    token: &CancellationToken,
) -> Result<(), JobError> {
    let (db, objects) = (&gw.services.db, &gw.services.objects);
    let retry = |e: &dyn std::fmt::Display| JobError::Retry(format!("temporary failure: {e}"));
    let backup_id = job
        .source_backup
        .as_deref()
        .ok_or_else(|| JobError::Fatal("no backup to restore".into()))?;
    let backup = db
        .backup(&job.org, &job.provider, backup_id)
        .await
        .map_err(|e| retry(&e))?
        .ok_or_else(|| JobError::Fatal("the backup no longer exists".into()))?;
    let resource = db
        .resource(
            &job.org,
            &job.provider,
            &job.resource_kind,
            &job.resource_id,
        )
        .await
        .map_err(|e| retry(&e))?
        .ok_or_else(|| JobError::Fatal("the resource no longer exists".into()))?;
    let target =
        source::parse(resource.source.as_deref()).map_err(|e| JobError::Fatal(e.to_string()))?;
    progress.total.store(backup.size, Ordering::Relaxed);
    let counter = progress.clone();
    let stream = crate::store::content::stream(db, objects, &backup, None)
        .await
        .map_err(|e| retry(&e))?
        .inspect(move |r| {
            if let Ok(c) = r {
                counter.done.fetch_add(c.len() as u64, Ordering::Relaxed);
            }
        })
        .take_until(token.clone().cancelled_owned())
        .boxed();
    let expected = u64::try_from(backup.size).unwrap_or(0);
    source::restore_into(&target, stream, expected)
        .await
        .map_err(|e| match e {
            SourceError::Unsupported(m) => JobError::Fatal(m),
            other => retry(&other),
        })?;
    Ok(())
}
