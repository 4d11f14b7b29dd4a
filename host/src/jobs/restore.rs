//! Restores: a backup's bytes (verified as they are read) written back to its resource's
//! file source.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::source::{self, SourceError};
use super::store::JobRecord;
use super::worker::{JobError, Progress, WorkerEnv, resource_source};

/// Write the job's backup into its resource's file source.
pub(super) async fn restore(
    env: &WorkerEnv,
    job: &JobRecord,
    progress: &Arc<Progress>,
    token: &CancellationToken,
) -> Result<(), JobError> {
    let (db, objects) = (&env.services.db, &env.services.objects);
    let retry = |e: &dyn std::fmt::Display| JobError::Retry(format!("temporary failure: {e}"));
    let backup_id = job
        .source_backup
        .as_deref()
        .ok_or_else(|| JobError::Fatal("no backup to restore".into()))?;
    let backup = db
        .scoped(&job.org, &job.provider)
        .backup(backup_id)
        .await
        .map_err(|e| retry(&e))?
        .ok_or_else(|| JobError::Fatal("the backup no longer exists".into()))?;
    let target = resource_source(db, job).await?;
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
