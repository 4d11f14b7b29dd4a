//! Writing a reserved ingest: the stream through the staging pipeline (which hashes it) into
//! the temporary object or the chunk store, checked against its size; then the object is
//! published once its reservation is durable, and recorded with its quota charge in one
//! transaction. On any failure nothing is visible and nothing stays charged.

use futures_util::{Stream, StreamExt};

use super::reserve::{Reserved, release_reservation};
use super::staging::Stager;
use super::{IngestError, Size, Target};
use crate::lease::Lease;
use crate::store::chunks::{ChunkPlan, Dedup};
use crate::store::{BackupRecord, Db, DbError, ObjectError, Objects, TempObject, now_micros};

impl Reserved {
    /// Stream `stream` in, hashing it, and on success publish the object and record it
    /// (with its quota charge) in one transaction. On any failure nothing is visible and
    /// nothing stays charged.
    ///
    /// The backup's commit is not waited for: a caller that acknowledges the backup syncs
    /// first ([`Db::sync`]).
    pub async fn write<S>(self, mut stream: S) -> Result<BackupRecord, IngestError>
    where
        S: Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
    {
        let Reserved {
            db,
            objects,
            target,
            size,
            temp_key,
            temp,
            reservation_durable,
            lease,
        } = self;
        let (db, objects, target) = (&db, &objects, &target);
        let release = async || release_reservation(db, &target.backup_id).await;
        let upload_id = temp.upload_id().map(str::to_owned);
        let mut sink = Sink::open(db, target, temp);
        let limit = match size {
            Size::Exact(n) | Size::AtMost(n) => n,
        };
        let mut stager = Stager::new(limit);
        let (outcome, received) = pump(&mut stream, &mut sink, &mut stager, size, &lease).await;
        let (outcome, digest) = drain(stager, &mut sink, outcome).await;
        let (temp, plan, outcome) = sink.finish(outcome).await;
        let Some(temp) = temp else {
            let _ = objects.remove_temp(&temp_key, upload_id.as_deref()).await;
            release().await;
            return Err(outcome.err().unwrap_or_else(|| {
                IngestError::StorageFailed("the chunk pipeline failed".into())
            }));
        };
        if let Err(e) = outcome {
            temp.abort().await;
            release().await;
            return Err(e);
        }
        if let Err(e) = publish(temp, reservation_durable).await {
            release().await;
            return Err(IngestError::StorageFailed(e.to_string()));
        }
        let mut rec = record(target, received, digest);
        drop(lease);
        if let Err(e) = commit(db, objects, target, &mut rec, plan.as_ref()).await {
            release().await;
            return Err(IngestError::StorageFailed(e.to_string()));
        }
        Ok(rec)
    }
}

/// Pull the stream through the stager into the sink until it ends, fails, runs past its
/// size, or the lease is lost. Answers the outcome and the bytes received.
async fn pump<S>(
    stream: &mut S,
    sink: &mut Sink,
    stager: &mut Stager,
    size: Size,
    lease: &Lease,
) -> (Result<(), IngestError>, u64)
where
    S: Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
{
    let declared = match size {
        Size::Exact(n) => n,
        Size::AtMost(_) => 0,
    };
    let mut received: u64 = 0;
    let outcome = loop {
        if lease.lost() {
            break Err(IngestError::StorageFailed(
                "the upload's lease was lost (reclaimed as abandoned)".into(),
            ));
        }
        // nothing more ready from the client: hand on a partly filled staging block rather
        // than hold it while the client is quiet
        let next = match futures_util::poll!(stream.next()) {
            std::task::Poll::Ready(next) => next,
            std::task::Poll::Pending => {
                if let Err(e) = flush(stager, sink).await {
                    break Err(IngestError::StorageFailed(e));
                }
                stream.next().await
            }
        };
        let chunk = match next {
            None => break Ok(()),
            Some(Err(e)) => {
                break Err(IngestError::Interrupted {
                    declared,
                    received,
                    reason: e.to_string(),
                });
            }
            Some(Ok(chunk)) => chunk,
        };
        received += chunk.len() as u64;
        match size {
            Size::Exact(n) if received > n => {
                break Err(IngestError::LengthMismatch { declared, received });
            }
            Size::AtMost(n) if n > 0 && received > n => break Err(IngestError::TooLarge(n)),
            _ => {}
        }
        if let Err(e) = stage(stager, sink, chunk).await {
            break Err(IngestError::StorageFailed(e));
        }
    };
    let outcome = match (outcome, size) {
        (Ok(()), Size::Exact(n)) if received != n => {
            Err(IngestError::LengthMismatch { declared, received })
        }
        (other, _) => other,
    };
    (outcome, received)
}

/// Hand on a partly filled staging block.
async fn flush(stager: &mut Stager, sink: &mut Sink) -> Result<(), String> {
    if let Some(partial) = stager.flush().await? {
        sink.write(partial).await?;
    }
    Ok(())
}

/// Stage one chunk, handing on every block it fills.
async fn stage(
    stager: &mut Stager,
    sink: &mut Sink,
    mut chunk: bytes::Bytes,
) -> Result<(), String> {
    while !chunk.is_empty() {
        if let Some(staged) = stager.push(&mut chunk).await? {
            sink.write(staged).await?;
        }
    }
    Ok(())
}

/// The last partial block, and the digest once the hashing thread has caught up.
async fn drain(
    stager: Stager,
    sink: &mut Sink,
    outcome: Result<(), IngestError>,
) -> (Result<(), IngestError>, [u8; 32]) {
    match stager.finish().await {
        Ok((last, digest)) => match (outcome, last) {
            (Ok(()), Some(last)) => (
                sink.write(last).await.map_err(IngestError::StorageFailed),
                digest,
            ),
            (outcome, _) => (outcome, digest),
        },
        Err(e) => (outcome.and(Err(IngestError::StorageFailed(e))), [0; 32]),
    }
}

/// Publish the temporary object once the reservation's record is durable (a crash then
/// always leaves the record that reclaims it).
async fn publish(
    temp: TempObject,
    reservation_durable: tokio::task::JoinHandle<Result<(), DbError>>,
) -> Result<(), ObjectError> {
    let gate = async {
        match reservation_durable.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ObjectError::Failed(e.to_string())),
            Err(e) => Err(ObjectError::Failed(e.to_string())),
        }
    };
    temp.commit_after(gate).await
}

/// The record of a backup of `received` bytes with `digest`.
fn record(target: &Target, received: u64, digest: [u8; 32]) -> BackupRecord {
    let size = i64::try_from(received).unwrap_or(i64::MAX);
    BackupRecord {
        id: target.backup_id.clone(),
        org: target.org.clone(),
        provider: target.provider.clone(),
        seq: 0,
        resource_kind: target.resource_kind.clone(),
        resource_id: target.resource_id.clone(),
        object_key: target.key.clone(),
        filename: target.filename.clone(),
        extension: target.extension.clone(),
        media_type: target.media_type.clone(),
        size,
        stored_bytes: size,
        sha256: hex::encode(digest),
        created_at: now_micros(),
        subject: target.subject.clone(),
        job_id: target.job_id.clone(),
        metadata: target.metadata.clone(),
        chunked: false,
    }
}

/// Record the published object (with its quota charge and, deduplicated, its chunks); on
/// failure the object goes again. A pack that holds nothing new goes too.
async fn commit(
    db: &Db,
    objects: &Objects,
    target: &Target,
    rec: &mut BackupRecord,
    plan: Option<&ChunkPlan>,
) -> Result<(), DbError> {
    if let Err(e) = db.commit_backup(&target.backup_id, rec, plan).await {
        if let Err(e) = objects.delete(&target.key).await {
            tracing::error!(key = %target.key, error = %e, "could not remove object of an uncommitted backup");
        }
        return Err(e);
    }
    if rec.chunked && rec.stored_bytes == 0 {
        // every chunk was already held: the pack holds nothing anyone refers to
        if let Err(e) = objects.delete(&target.key).await {
            tracing::warn!(key = %target.key, error = %e, "could not remove an empty pack");
        }
    }
    Ok(())
}

/// Where an ingest's bytes go: straight into the object, or through the chunk pipeline
/// into a pack.
enum Sink {
    Plain(TempObject),
    Dedup(Dedup),
}

impl Sink {
    fn open(db: &Db, target: &Target, temp: TempObject) -> Sink {
        if target.dedup {
            Sink::Dedup(Dedup::start(
                db,
                &target.org,
                &target.provider,
                &target.key,
                temp,
            ))
        } else {
            Sink::Plain(temp)
        }
    }

    async fn write(&mut self, bytes: bytes::Bytes) -> Result<(), String> {
        match self {
            Sink::Plain(temp) => temp.write(bytes).await.map_err(|e| e.to_string()),
            Sink::Dedup(d) => d.feed(bytes).await.map_err(|e| e.to_string()),
        }
    }

    /// The temporary object back (unless the chunk pipeline lost it), the chunk plan of a
    /// deduplicated ingest, and the outcome: the pipeline's own failure explains a refused
    /// write better than "stopped".
    async fn finish(
        self,
        outcome: Result<(), IngestError>,
    ) -> (
        Option<TempObject>,
        Option<ChunkPlan>,
        Result<(), IngestError>,
    ) {
        match self {
            Sink::Plain(temp) => (Some(temp), None, outcome),
            Sink::Dedup(d) => match (d.finish().await, outcome) {
                ((temp, Ok(plan)), Ok(())) => (temp, Some(plan), Ok(())),
                ((temp, Err(e)), Ok(()) | Err(IngestError::StorageFailed(_))) => {
                    (temp, None, Err(IngestError::StorageFailed(e.to_string())))
                }
                ((temp, _), Err(e)) => (temp, None, Err(e)),
            },
        }
    }
}
