//! Captures: a resource's source streamed through the ingest pipeline into a new backup.
//! [`prepare`] does everything before the first byte (the source opened, the target chosen,
//! the quota reserved), so a worker can prepare its next capture while the last one is
//! being published; [`capture`] streams it in and applies retention.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::source::{self, SourceError};
use super::store::JobRecord;
use super::worker::{JobError, Progress, WorkerEnv, resource_source};
use crate::ingest::{self, IngestError, Size, Target};
use crate::keys;
use crate::limits::Quotas;
use crate::store::Db;

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
pub(super) enum Prepared {
    /// A retried job whose earlier attempt committed (and then lost its lease): done.
    Done(String),
    /// Its source open and its backup's target chosen.
    Ready(Box<Ready>),
}

/// A capture ready for its bytes.
pub(super) struct Ready {
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
    pub(super) async fn give_back(prepared: Option<Result<Prepared, JobError>>) {
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
pub(super) async fn prepare(
    env: &WorkerEnv,
    job: &JobRecord,
    ahead: bool,
    cancel: &CancellationToken,
) -> Result<Prepared, JobError> {
    let (db, objects) = (&env.services.db, &env.services.objects);
    let retry = |e: &dyn std::fmt::Display| JobError::Retry(format!("temporary failure: {e}"));
    // a retried job whose earlier attempt committed (and then lost its lease) is done
    if job.attempts > 1
        && let Some(b) = db
            .scoped(&job.org, &job.provider)
            .backup_by_job(&job.id)
            .await
            .map_err(|e| retry(&e))?
    {
        return Ok(Prepared::Done(b.id));
    }
    let quotas = env.quotas(&job.org, &job.provider);
    let opened = open_source(env, db, job, quotas, cancel).await?;
    let target = target(job, opened.extension);
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

/// The job's resource's source, opened (refused when it declares more than the upload cap).
async fn open_source(
    env: &WorkerEnv,
    db: &Db,
    job: &JobRecord,
    quotas: Quotas,
    cancel: &CancellationToken,
) -> Result<source::Opened, JobError> {
    let src = resource_source(db, job).await?;
    let opened = tokio::select! {
        opened = source::open(&src, quotas.upload_bytes, env.body_idle_timeout) => opened.map_err(|e| match e {
            SourceError::Unreadable(m) => JobError::Retry(format!("cannot read the source: {m}")),
            other => JobError::Fatal(other.to_string()),
        })?,
        () = cancel.cancelled() => {
            return Err(JobError::Retry("stopped before the source answered".into()));
        }
    };
    if let Size::Exact(n) = opened.size
        && quotas.upload_bytes > 0
        && n > quotas.upload_bytes
    {
        return Err(JobError::Fatal(format!(
            "the source is larger than the {}-byte limit",
            quotas.upload_bytes
        )));
    }
    Ok(opened)
}

/// Where a capture's backup goes: the source's extension, else the job's filename's.
fn target(job: &JobRecord, source_extension: Option<&str>) -> Target {
    let filename = keys::clean_filename(&job.filename);
    let extension = source_extension
        .map(str::to_owned)
        .or_else(|| {
            std::path::Path::new(&filename).extension().and_then(|e| {
                keys::clean_extension(&format!(".{}", e.to_string_lossy().to_ascii_lowercase()))
            })
        })
        .unwrap_or_default();
    let backup_id = uuid::Uuid::now_v7().to_string();
    // a deduplicated capture's object is the pack of the chunks it adds
    let key_ext = if job.deduplicate { ".pack" } else { &extension };
    Target {
        org: job.org.clone(),
        provider: job.provider.clone(),
        resource_kind: job.resource_kind.clone(),
        resource_id: job.resource_id.clone(),
        key: keys::backup_key(&job.org, &job.resource_id, &backup_id, key_ext),
        backup_id,
        filename,
        extension,
        media_type: job.media_type.clone(),
        subject: job.subject.clone(),
        metadata: job.metadata.clone(),
        job_id: Some(job.id.clone()),
        dedup: job.deduplicate,
    }
}

/// A capture's ingest that failed: the job's outcome (a retry racing a slow first attempt
/// finds the other one's backup standing).
async fn ingest_failed(db: &Db, job: &JobRecord, e: IngestError) -> Result<String, JobError> {
    if let Ok(Some(b)) = db
        .scoped(&job.org, &job.provider)
        .backup_by_job(&job.id)
        .await
    {
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
pub(super) async fn capture(
    env: &WorkerEnv,
    job: &JobRecord,
    prepared: Prepared,
    progress: &Arc<Progress>,
    token: &CancellationToken,
    publishing: &Arc<tokio::sync::Notify>,
) -> Result<String, JobError> {
    let (db, objects) = (&env.services.db, &env.services.objects);
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
    if let Size::Exact(n) = opened.size {
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
