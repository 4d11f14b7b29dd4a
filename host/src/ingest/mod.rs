//! Streaming ingest: a request body (or a capture source) through SHA-256 and a byte counter
//! into a temporary object, made visible only when every byte declared has arrived and is
//! durable, then recorded together with its quota charge in one transaction.
//!
//! Order of checks for an upload (the reference collect service's, so a malformed request
//! never consumes a rate-limit slot): `Content-Length` present and non-zero (411) → not over
//! the per-upload cap (413) → rate limit (429) → the plugin's `prepare-ingest` → quota
//! reservation (413, or 503 when it cannot be read) → stream → length check (400) → commit →
//! retention → the plugin's `complete-ingest` (201).
//!
//! The work runs in its own task, so a client that disconnects mid-body cannot cancel the
//! cleanup: the temporary object is removed (or the multipart upload aborted) and the
//! reservation released. While it runs, a heartbeat renews the `ingests` row's lease; a
//! process killed mid-upload stops renewing, and once the lease has expired (by the
//! database's clock) [`reclaim`], run by any node, removes its temporary object or aborts its
//! multipart upload and releases its reservation. A local temporary file is opened while the
//! reservation commits, so a crash can leave one with no row: a single node removes those at
//! start-up, and every node's sweep once idle for a lease ([`remove_unrecorded`]).

mod idle;
mod staging;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::config::is_key_segment;
use crate::http::problem;
use crate::http::{Gateway, RouteEntry};
use crate::plugins::bindings::types::{self, Problem};
use crate::plugins::host::to_backup;
use crate::store::chunks::Dedup;
use crate::store::{BackupRecord, Db, ObjectError, Objects, now_micros};
pub use idle::IdleTimeout;
use staging::Stager;

/// Serve an upload on an ingest route (after authentication and the scope check).
pub async fn serve(
    gw: Arc<Gateway>,
    entry: Arc<RouteEntry>,
    call: types::Request,
    principal: Principal,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    let task = tokio::spawn(run(
        gw.clone(),
        entry.clone(),
        call.clone(),
        principal,
        parts,
        body,
    ));
    match task.await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "ingest task failed");
            problem::render(&gw, &entry.plugin, Problem::Internal, &call).await
        }
    }
}

async fn run(
    gw: Arc<Gateway>,
    entry: Arc<RouteEntry>,
    call: types::Request,
    principal: Principal,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    let plugin = &entry.plugin;
    let refuse = async |p: Problem| problem::render(&gw, plugin, p, &call).await;
    let quotas = gw
        .limits(&plugin.name)
        .map(|l| l.quotas)
        .unwrap_or_default();

    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if declared == 0 {
        return refuse(Problem::LengthRequired).await;
    }
    if quotas.upload_bytes > 0 && declared > quotas.upload_bytes {
        return refuse(Problem::PayloadTooLarge(quotas.upload_bytes)).await;
    }
    if let Err(p) = crate::http::rate_limit(&gw, &entry, &principal).await {
        return refuse(p).await;
    }

    let backup_id = uuid::Uuid::now_v7().to_string();
    let ctx = crate::http::call_context(&gw, plugin, &call);
    let (req, bid) = (call.clone(), backup_id.clone());
    let plan = match plugin
        .call(ctx, move |prov, store| {
            prov.call_prepare_ingest(store, &req, &bid)
        })
        .await
    {
        Ok(Ok(plan)) => plan,
        Ok(Err(resp)) => return crate::http::respond(&gw, plugin, &call, Ok(resp)).await,
        Err(fault) => return crate::http::respond(&gw, plugin, &call, Err(fault)).await,
    };
    let Some(extension) = clean_extension(&plan.extension) else {
        tracing::error!(plugin = %plugin.name, extension = %plan.extension, "prepare-ingest named an unsafe extension");
        return refuse(Problem::Internal).await;
    };
    let key = format!(
        "{}/{}/{backup_id}{extension}",
        principal.org,
        key_segment(&plan.resource_id)
    );
    let target = Target {
        org: principal.org.clone(),
        provider: plugin.name.to_string(),
        resource_kind: plan.resource_kind.clone(),
        resource_id: plan.resource_id.clone(),
        backup_id: backup_id.clone(),
        key,
        filename: clean_filename(&plan.filename),
        extension,
        media_type: plan.media_type.clone(),
        subject: principal.subject.clone(),
        metadata: if plan.metadata.trim().is_empty() {
            "{}".into()
        } else {
            plan.metadata.clone()
        },
        job_id: None,
        dedup: false,
    };
    let stream = IdleTimeout::new(
        body.into_data_stream()
            .map(|r| r.map_err(|e| std::io::Error::other(e.to_string()))),
        gw.body_idle_timeout,
    );
    let caps = Some(gw.upload_caps);
    let (db, objects) = (&gw.services.db, &gw.services.objects);
    let stored = match reserve(
        db,
        objects,
        target,
        Size::Exact(declared),
        quotas.org_bytes,
        caps,
    )
    .await
    {
        Ok(reserved) => reserved.write(stream).await,
        Err(e) => Err(e),
    };
    let stored = match stored {
        Ok(rec) => rec,
        Err(e) => {
            tracing::info!(plugin = %plugin.name, error = %e, "upload refused or failed");
            return refuse(e.problem()).await;
        }
    };
    // acknowledged below: durable first
    if let Err(e) = gw.services.db.sync().await {
        tracing::error!(error = %e, backup = %stored.id, "could not make a committed upload durable");
        return refuse(IngestError::StorageFailed(e.to_string()).problem()).await;
    }
    if let Err(e) = prune(
        &gw.services.db,
        &gw.services.objects,
        &stored,
        quotas.resource_slots,
        quotas.resource_bytes,
    )
    .await
    {
        tracing::warn!(error = %e, "retention pruning failed");
    }
    let ctx = crate::http::call_context(&gw, plugin, &call);
    let (req, backup) = (call.clone(), to_backup(stored));
    let result = plugin
        .call(ctx, move |prov, store| {
            prov.call_complete_ingest(store, &req, &backup)
        })
        .await;
    crate::http::respond(&gw, plugin, &call, result).await
}

/// Where and as what a stream is stored.
#[derive(Debug, Clone)]
pub struct Target {
    /// Org.
    pub org: String,
    /// Provider.
    pub provider: String,
    /// Resource kind.
    pub resource_kind: String,
    /// Resource id (as given).
    pub resource_id: String,
    /// The backup's id (UUIDv7).
    pub backup_id: String,
    /// Object key.
    pub key: String,
    /// Sanitised filename.
    pub filename: String,
    /// Checked extension.
    pub extension: String,
    /// Media type.
    pub media_type: String,
    /// Uploader.
    pub subject: String,
    /// Plugin metadata JSON.
    pub metadata: String,
    /// Producing job.
    pub job_id: Option<String>,
    /// Store as deduplicated chunks ([`crate::store::chunks`]); `key` is then the pack of
    /// the chunks this capture adds.
    pub dedup: bool,
}

/// Why an ingest did not produce a backup.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The org quota would be exceeded.
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The sender (or its org) already has this many uploads in flight.
    #[error("too many uploads in flight (at most {0})")]
    TooManyUploads(u32),
    /// The quota could not be read.
    #[error("quota unavailable: {0}")]
    QuotaUnavailable(String),
    /// Storage could not be reached.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// Storage failed during the write or the record could not be committed.
    #[error("storage failed: {0}")]
    StorageFailed(String),
    /// The stream failed before its end (a client that went away, a source that broke).
    #[error("stream interrupted after {received} bytes: {reason}")]
    Interrupted {
        /// Declared length (0 when unknown).
        declared: u64,
        /// Received before the failure.
        received: u64,
        /// What the stream said.
        reason: String,
    },
    /// A stream of unknown length ran past its bound.
    #[error("larger than the {0}-byte limit")]
    TooLarge(u64),
    /// The stream ended before, or ran past, the declared length.
    #[error("length mismatch: declared {declared}, received {received}")]
    LengthMismatch {
        /// Declared.
        declared: u64,
        /// Received (possibly partial).
        received: u64,
    },
}

impl IngestError {
    /// The provider-neutral problem.
    pub fn problem(&self) -> Problem {
        match self {
            IngestError::QuotaExceeded => Problem::QuotaExceeded,
            IngestError::QuotaUnavailable(_) => Problem::QuotaUnavailable,
            IngestError::StorageUnavailable(_) => Problem::StorageUnavailable,
            IngestError::StorageFailed(_) => Problem::StorageFailed,
            IngestError::LengthMismatch { declared, received }
            | IngestError::Interrupted {
                declared, received, ..
            } => Problem::LengthMismatch((*declared, *received)),
            IngestError::TooLarge(n) => Problem::PayloadTooLarge(*n),
            IngestError::TooManyUploads(n) => Problem::RateLimited(types::RateLimitState {
                class: "uploads-in-flight".into(),
                retry_after_seconds: IN_FLIGHT_RETRY_SECONDS,
                limit: *n,
                remaining: 0,
                reset_at: u64::try_from(now_micros()).unwrap_or(0)
                    + u64::from(IN_FLIGHT_RETRY_SECONDS) * 1_000_000,
            }),
        }
    }
}

/// What a client refused for having too many uploads in flight is told to wait: a place
/// frees when one of them ends, which the server cannot foresee.
const IN_FLIGHT_RETRY_SECONDS: u32 = 5;

/// Caps on a client's uploads in flight (0: none), checked when the quota is reserved: one
/// credential cannot hold its org's quota (or the node) with stalled uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadCaps {
    /// Uploads one credential may have in flight to one plugin.
    pub per_credential: u32,
    /// Uploads one org may have in flight, all its credentials and plugins together.
    pub per_org: u32,
}

/// How many bytes a stream will bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Exactly this many (an upload's `Content-Length`, a file's length).
    Exact(u64),
    /// Unknown, but at most this many (a directory's tar stream, a URL without a length);
    /// 0 means unbounded. The bound is reserved, the actual size charged.
    AtMost(u64),
}

/// Reserve the size's bytes, stream into a temporary object hashing as it goes, and on
/// success make it visible and record it (with its quota charge) in one transaction. On any
/// failure nothing is visible and nothing stays charged. [`reserve`], then
/// [`Reserved::write`].
pub async fn write<S>(
    db: &Db,
    objects: &Objects,
    target: &Target,
    size: Size,
    org_quota: u64,
    stream: S,
) -> Result<BackupRecord, IngestError>
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
{
    reserve(db, objects, target.clone(), size, org_quota, None)
        .await?
        .write(stream)
        .await
}

/// An ingest whose quota is reserved and whose temporary object is open, waiting for its
/// bytes ([`Reserved::write`]). The reservation's flush has started. Dropped unused, its
/// temporary object goes and its reservation waits for the lease sweep;
/// [`Reserved::abandon`] releases it at once.
pub struct Reserved {
    db: Db,
    objects: Objects,
    target: Target,
    size: Size,
    temp_key: String,
    temp: crate::store::TempObject,
    reservation_durable: tokio::task::JoinHandle<Result<(), crate::store::DbError>>,
    heartbeat: Heartbeat,
}

/// Give back an ingest's reservation (logged when it cannot be: the lease sweep will).
async fn release_reservation(db: &Db, ingest_id: &str) {
    if let Err(e) = db.release(ingest_id).await {
        tracing::error!(error = %e, ingest = %ingest_id, "could not release reservation; the lease sweep will");
    }
}

/// Reserve the size's bytes (the `ingests` row, under its lease) and open the temporary
/// object: everything an ingest does before its first byte. The reservation is made durable
/// from here on, beside whatever follows; the object waits for it to be published (a crash
/// then always leaves the record that reclaims it).
pub async fn reserve(
    db: &Db,
    objects: &Objects,
    target: Target,
    size: Size,
    org_quota: u64,
    caps: Option<UploadCaps>,
) -> Result<Reserved, IngestError> {
    let limit = match size {
        Size::Exact(n) | Size::AtMost(n) => n,
    };
    let ingest_id = target.backup_id.clone();
    let temp_key = objects.temp_key(&ingest_id, &target.key);
    let reservation = crate::store::Reservation {
        ingest_id: &ingest_id,
        org: &target.org,
        provider: &target.provider,
        bytes: i64::try_from(limit).unwrap_or(i64::MAX),
        quota: i64::try_from(org_quota).unwrap_or(i64::MAX),
        temp_key: &temp_key,
        object_key: &target.key,
        lease_micros: i64::try_from(db.ingest_lease().as_micros()).unwrap_or(i64::MAX),
        admission: caps.map(|c| crate::store::Admission {
            subject: &target.subject,
            per_subject: c.per_credential,
            per_org: c.per_org,
        }),
    };
    let reserve = db.reserve(&reservation);
    // A local temporary file is opened while the quota is reserved (a crash before the
    // reservation's record is durable leaves an unrecorded file, which start-up and the
    // sweeps remove); a remote store is not asked to start an upload that may be refused.
    let (reserved, opened) = if objects.is_local() {
        let (reserved, opened) = tokio::join!(reserve, objects.begin(&ingest_id, &target.key));
        (reserved, Some(opened))
    } else {
        (reserve.await, None)
    };
    let refused = match reserved {
        Ok(crate::store::Reserved::Recorded) => None,
        Ok(crate::store::Reserved::QuotaExceeded) => Some(IngestError::QuotaExceeded),
        Ok(crate::store::Reserved::TooManyUploads(n)) => Some(IngestError::TooManyUploads(n)),
        Err(e) => Some(IngestError::QuotaUnavailable(e.to_string())),
    };
    if let Some(refused) = refused {
        if let Some(Ok(temp)) = opened {
            temp.abort().await;
        }
        return Err(refused);
    }

    // the reservation's flush runs beside the write; the object waits for it to be published
    let reservation_durable = {
        let db = db.clone();
        tokio::spawn(async move { db.sync().await })
    };
    let heartbeat = Heartbeat::start(db, &ingest_id);
    let opened = match opened {
        Some(opened) => opened,
        None => objects.begin(&ingest_id, &target.key).await,
    };
    let temp = match opened {
        Ok(t) => t,
        Err(e) => {
            release_reservation(db, &ingest_id).await;
            return Err(IngestError::StorageUnavailable(e.to_string()));
        }
    };
    if let Some(upload) = temp.upload_id()
        && let Err(e) = async {
            db.set_ingest_upload(&ingest_id, upload).await?;
            db.sync().await
        }
        .await
    {
        // no part is sent before the upload is recorded, so a crash never orphans bytes
        temp.abort().await;
        release_reservation(db, &ingest_id).await;
        return Err(IngestError::StorageUnavailable(e.to_string()));
    }
    Ok(Reserved {
        db: db.clone(),
        objects: objects.clone(),
        target,
        size,
        temp_key,
        temp,
        reservation_durable,
        heartbeat,
    })
}

impl Reserved {
    /// Give up before writing: the temporary object goes and the reservation is released.
    pub async fn abandon(self) {
        let Reserved {
            db,
            target,
            temp,
            heartbeat,
            ..
        } = self;
        drop(heartbeat);
        temp.abort().await;
        release_reservation(&db, &target.backup_id).await;
    }

    /// Stream `stream` in, hashing it, and on success publish the object and record it
    /// (with its quota charge) in one transaction. On any failure nothing is visible and
    /// nothing stays charged.
    ///
    /// The backup's commit is not waited for: a caller that acknowledges the backup syncs
    /// first ([`Db::sync`]).
    pub async fn write<S>(self, mut stream: S) -> Result<BackupRecord, IngestError>
    where
        S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
    {
        let Reserved {
            db,
            objects,
            target,
            size,
            temp_key,
            temp,
            reservation_durable,
            heartbeat,
        } = self;
        let (db, objects, target) = (&db, &objects, &target);
        let (declared, limit) = match size {
            Size::Exact(n) => (n, n),
            Size::AtMost(n) => (0, n),
        };
        let ingest_id = target.backup_id.clone();
        let release = async || release_reservation(db, &ingest_id).await;
        let upload_id = temp.upload_id().map(str::to_owned);
        let mut sink = if target.dedup {
            Sink::Dedup(Dedup::start(
                db,
                &target.org,
                &target.provider,
                &target.key,
                temp,
            ))
        } else {
            Sink::Plain(temp)
        };
        let mut stager = Stager::new(limit);
        let mut received: u64 = 0;
        let outcome: Result<(), IngestError> = loop {
            if heartbeat.lost() {
                break Err(IngestError::StorageFailed(
                    "the upload's lease was lost (reclaimed as abandoned)".into(),
                ));
            }
            // nothing more ready from the client: hand on a partly filled staging block rather
            // than hold it while the client is quiet
            let next = match futures_util::poll!(stream.next()) {
                std::task::Poll::Ready(next) => next,
                std::task::Poll::Pending => {
                    let flushed = async {
                        if let Some(partial) = stager.flush().await? {
                            sink.write(partial).await?;
                        }
                        Ok::<_, String>(())
                    };
                    if let Err(e) = flushed.await {
                        break Err(IngestError::StorageFailed(e));
                    }
                    stream.next().await
                }
            };
            match next {
                None => break Ok(()),
                Some(Err(e)) => {
                    break Err(IngestError::Interrupted {
                        declared,
                        received,
                        reason: e.to_string(),
                    });
                }
                Some(Ok(chunk)) => {
                    received += chunk.len() as u64;
                    match size {
                        Size::Exact(n) if received > n => {
                            break Err(IngestError::LengthMismatch { declared, received });
                        }
                        Size::AtMost(n) if n > 0 && received > n => {
                            break Err(IngestError::TooLarge(n));
                        }
                        _ => {}
                    }
                    let written = async {
                        let mut chunk = chunk;
                        while !chunk.is_empty() {
                            if let Some(staged) = stager.push(&mut chunk).await? {
                                sink.write(staged).await?;
                            }
                        }
                        Ok::<_, String>(())
                    };
                    if let Err(e) = written.await {
                        break Err(IngestError::StorageFailed(e));
                    }
                }
            }
        };
        let outcome = match (outcome, size) {
            (Ok(()), Size::Exact(n)) if received != n => {
                Err(IngestError::LengthMismatch { declared, received })
            }
            (other, _) => other,
        };
        // the last partial block, and the digest once the hashing thread has caught up
        let (outcome, digest) = match stager.finish().await {
            Ok((last, digest)) => match (outcome, last) {
                (Ok(()), Some(last)) => (
                    sink.write(last).await.map_err(IngestError::StorageFailed),
                    digest,
                ),
                (outcome, _) => (outcome, digest),
            },
            Err(e) => (outcome.and(Err(IngestError::StorageFailed(e))), [0; 32]),
        };
        // the pipeline's own failure explains a refused write better than "stopped"
        let (temp, plan, outcome) = match sink {
            Sink::Plain(temp) => (Some(temp), None, outcome),
            Sink::Dedup(d) => match (d.finish().await, outcome) {
                ((temp, Ok(plan)), Ok(())) => (temp, Some(plan), Ok(())),
                ((temp, Err(e)), Ok(()) | Err(IngestError::StorageFailed(_))) => {
                    (temp, None, Err(IngestError::StorageFailed(e.to_string())))
                }
                ((temp, _), Err(e)) => (temp, None, Err(e)),
            },
        };
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
        let gate = async {
            match reservation_durable.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ObjectError::Failed(e.to_string())),
                Err(e) => Err(ObjectError::Failed(e.to_string())),
            }
        };
        if let Err(e) = temp.commit_after(gate).await {
            release().await;
            return Err(IngestError::StorageFailed(e.to_string()));
        }
        let size = i64::try_from(received).unwrap_or(i64::MAX);
        let mut rec = BackupRecord {
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
        };
        drop(heartbeat);
        if let Err(e) = db.commit_backup(&ingest_id, &mut rec, plan.as_ref()).await {
            if let Err(e) = objects.delete(&target.key).await {
                tracing::error!(key = %target.key, error = %e, "could not remove object of an uncommitted backup");
            }
            release().await;
            return Err(IngestError::StorageFailed(e.to_string()));
        }
        if rec.chunked && rec.stored_bytes == 0 {
            // every chunk was already held: the pack holds nothing anyone refers to
            if let Err(e) = objects.delete(&target.key).await {
                tracing::warn!(key = %target.key, error = %e, "could not remove an empty pack");
            }
        }
        Ok(rec)
    }
}

/// Where an ingest's bytes go: straight into the object, or through the chunk pipeline
/// into a pack.
enum Sink {
    Plain(crate::store::TempObject),
    Dedup(Dedup),
}

impl Sink {
    async fn write(&mut self, bytes: bytes::Bytes) -> Result<(), String> {
        match self {
            Sink::Plain(temp) => temp.write(bytes).await.map_err(|e| e.to_string()),
            Sink::Dedup(d) => d.feed(bytes).await.map_err(|e| e.to_string()),
        }
    }
}

/// Renews an in-flight ingest's lease every third of its length until dropped, and notes
/// when the row is gone (a sweep reclaimed it), so the writer stops instead of committing.
struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
    lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Heartbeat {
    fn start(db: &Db, ingest_id: &str) -> Heartbeat {
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (db, id, flag) = (db.clone(), ingest_id.to_owned(), lost.clone());
        let every = (db.ingest_lease() / 3).max(Duration::from_millis(100));
        let lease = i64::try_from(db.ingest_lease().as_micros()).unwrap_or(i64::MAX);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match db.renew_ingest(&id, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(ingest = %id, error = %e, "could not renew ingest lease")
                    }
                }
            }
        });
        Heartbeat { task, lost }
    }

    fn lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Keep at most `slots` backups and `bytes` bytes for the resource of `newest`, deleting
/// the oldest first; `newest` itself is never pruned (0 = no limit).
pub async fn prune(
    db: &Db,
    objects: &Objects,
    newest: &BackupRecord,
    slots: u32,
    bytes: u64,
) -> Result<(), crate::store::DbError> {
    if slots == 0 && bytes == 0 {
        return Ok(());
    }
    let q = crate::store::BackupQuery {
        resource_kind: Some(newest.resource_kind.clone()),
        resource_id: Some(newest.resource_id.clone()),
        newest_first: true,
        offset: 0,
        limit: 10_000,
    };
    let (items, _) = db.backups(&newest.org, &newest.provider, &q).await?;
    let (mut count, mut total) = (0u64, 0u64);
    for b in items {
        count += 1;
        total += u64::try_from(b.size).unwrap_or(0);
        let over = (slots > 0 && count > u64::from(slots)) || (bytes > 0 && total > bytes);
        if over && b.id != newest.id {
            if let Some(gone) = db.delete_backup(&b.org, &b.provider, &b.id).await? {
                let rec = &gone.record;
                tracing::info!(backup = %rec.id, resource = %rec.resource_id, "pruned by retention");
                delete_objects(objects, &gone.objects).await;
            }
            count -= 1;
            total -= u64::try_from(b.size).unwrap_or(0);
        }
    }
    Ok(())
}

/// Delete objects a committed delete left unreferenced (logged when one cannot be: the
/// record is gone, so nothing reaches it any more).
pub async fn delete_objects(objects: &Objects, keys: &[String]) {
    for key in keys {
        if let Err(e) = objects.delete(key).await {
            tracing::error!(key = %key, error = %e, "orphaned object after delete");
        }
    }
}

/// Release reservations and remove temporary objects (or abort multipart uploads) of ingests
/// whose writer died (lease expired; with `all`, every in-flight ingest — for a single-node
/// start-up, which also removes an object already published under the ingest's key: its
/// commit was lost). An ingest whose leftovers cannot be removed yet keeps its row, so the
/// next sweep tries again.
pub async fn reclaim(
    db: &Db,
    objects: &Objects,
    all: bool,
) -> Result<usize, crate::store::DbError> {
    let stale = db.stale_ingests(all).await?;
    let mut reclaimed = 0;
    for ingest in &stale {
        if let Err(e) = objects
            .remove_temp(&ingest.temp_key, ingest.upload_id.as_deref())
            .await
        {
            tracing::warn!(key = %ingest.temp_key, error = %e, "could not remove an abandoned upload; will retry");
            continue;
        }
        // At a single node's start-up no writer is alive, and an ingest row means its backup
        // never committed (the commit deletes the row): an object published under its key
        // belongs to a commit lost with the power. (A sweep of a running cluster leaves it:
        // a live but slow writer may be about to commit it.)
        if all
            && let Some(key) = ingest.object_key.as_deref()
            && let Err(e) = objects.delete(key).await
        {
            tracing::warn!(key, error = %e, "could not remove the object of an uncommitted upload; will retry");
            continue;
        }
        db.release(&ingest.id).await?;
        reclaimed += 1;
        tracing::info!(ingest = %ingest.id, "reclaimed abandoned upload");
    }
    Ok(reclaimed)
}

/// Remove the local store's temporary objects that no ingest record accounts for and that
/// nobody has written to for an ingest lease: a writer records its ingest within moments of
/// creating its temporary object and keeps the record while it lives, so such an object was
/// left by a process that died before its record was durable, or by a failed upload whose
/// cleanup could not remove it. A single node also clears them all at start-up; nodes that
/// share a database cannot (others are writing), and have only this sweep.
pub async fn remove_unrecorded(db: &Db, objects: &Objects) -> Result<usize, crate::store::DbError> {
    let idle = match objects.incoming(db.ingest_lease()).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "could not list temporary objects");
            return Ok(0);
        }
    };
    let mut unrecorded = Vec::new();
    for id in idle {
        if !db.ingest_recorded(&id).await? {
            unrecorded.push(id);
        }
    }
    if unrecorded.is_empty() {
        return Ok(0);
    }
    match objects.remove_incoming(unrecorded).await {
        Ok(n) => {
            tracing::info!(count = n, "removed temporary objects of unrecorded uploads");
            Ok(n)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not remove temporary objects of unrecorded uploads");
            Ok(0)
        }
    }
}

/// A resource id as one object-key segment: itself when safe, else a hash of it.
pub fn key_segment(id: &str) -> String {
    if is_key_segment(id) {
        id.to_owned()
    } else {
        format!("h-{}", &hex::encode(Sha256::digest(id.as_bytes()))[..32])
    }
}

/// `[A-Za-z0-9._-]`, everything else `_`, at most 255 bytes.
pub fn clean_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect()
}

/// An extension is empty or dot-separated lower-case alphanumerics, at most 16 bytes.
pub fn clean_extension(ext: &str) -> Option<String> {
    if ext.is_empty() {
        return Some(String::new());
    }
    let ok = ext.len() <= 16
        && ext.starts_with('.')
        && ext[1..].split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    ok.then(|| ext.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_and_names() {
        assert_eq!(clean_extension(".tar.gz").as_deref(), Some(".tar.gz"));
        assert_eq!(clean_extension("").as_deref(), Some(""));
        assert_eq!(clean_extension(".."), None);
        assert_eq!(clean_extension("/../x"), None);
        assert_eq!(clean_extension(".TAR"), None);
        assert_eq!(clean_filename("a b/c.tgz"), "a_b_c.tgz");
        assert_eq!(key_segment("NETH-1"), "NETH-1");
        assert!(key_segment("../../etc").starts_with("h-"));
    }

    async fn fixture() -> (tempfile::TempDir, Db, Objects) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(
            &format!("sqlite://{}/t.db?mode=rwc", dir.path().display()),
            None,
        )
        .await
        .unwrap();
        let objects = Objects::open(&format!("file://{}/o", dir.path().display()), true).unwrap();
        (dir, db, objects)
    }

    fn target(id: &str) -> Target {
        Target {
            org: "acme".into(),
            provider: "p".into(),
            resource_kind: "system".into(),
            resource_id: "S1".into(),
            backup_id: id.into(),
            key: format!("acme/S1/{id}.bin"),
            filename: "f.bin".into(),
            extension: ".bin".into(),
            media_type: "application/octet-stream".into(),
            subject: "S1".into(),
            metadata: "{}".into(),
            job_id: None,
            dedup: false,
        }
    }

    async fn chunked(db: &Db, objects: &Objects, id: &str, data: &[u8]) -> BackupRecord {
        let t = Target {
            dedup: true,
            key: format!("acme/S1/{id}.pack"),
            ..target(id)
        };
        let body: Vec<std::io::Result<bytes::Bytes>> = data
            .chunks(100_000)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        write(
            db,
            objects,
            &t,
            Size::Exact(data.len() as u64),
            0,
            futures_util::stream::iter(body),
        )
        .await
        .unwrap()
    }

    async fn content_of(db: &Db, objects: &Objects, rec: &BackupRecord) -> Vec<u8> {
        use futures_util::TryStreamExt;
        let parts: Vec<bytes::Bytes> = crate::store::content::stream(db, objects, rec, None)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        parts.concat()
    }

    #[tokio::test]
    async fn a_reservation_holds_quota_until_written_or_abandoned() {
        let (dir, db, objects) = fixture().await;
        let root = dir.path().join("o");
        let one = reserve(&db, &objects, target("one"), Size::Exact(600), 1000, None)
            .await
            .unwrap();
        assert_eq!(db.usage("acme", "p").await.unwrap(), (0, 600));
        // the quota is held: a second reservation that would pass it is refused
        assert!(matches!(
            reserve(&db, &objects, target("two"), Size::Exact(600), 1000, None).await,
            Err(IngestError::QuotaExceeded)
        ));
        assert_eq!(walk(&root).len(), 1, "one temporary file open");
        // given back: nothing charged, nothing left on disk
        one.abandon().await;
        assert_eq!(db.usage("acme", "p").await.unwrap(), (0, 0));
        assert!(walk(&root).is_empty(), "{:?}", walk(&root));
        // room again; written, the reservation becomes the backup's charge
        let two = reserve(&db, &objects, target("two"), Size::Exact(600), 1000, None)
            .await
            .unwrap();
        let data = vec![3u8; 600];
        let stream = futures_util::stream::iter([Ok(bytes::Bytes::from(data.clone()))]);
        let rec = two.write(stream).await.unwrap();
        assert_eq!(rec.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(db.usage("acme", "p").await.unwrap(), (600, 0));
        assert_eq!(walk(&root), vec![root.join("acme/S1/two.bin")]);
    }

    #[tokio::test]
    async fn deduplicated_captures_store_only_new_chunks_and_free_them_with_the_last_reference() {
        let (dir, db, objects) = fixture().await;
        let v1 = crate::store::chunks::tests::pseudo_random(2 * 1024 * 1024, 5);
        let mut v2 = v1.clone();
        v2[1_000_000..1_004_000]
            .copy_from_slice(&crate::store::chunks::tests::pseudo_random(4000, 9));

        let a = chunked(&db, &objects, "a", &v1).await;
        assert!(a.chunked);
        assert_eq!(a.size, v1.len() as i64);
        assert_eq!(
            a.stored_bytes,
            v1.len() as i64,
            "first capture stores everything"
        );
        assert_eq!(a.sha256, hex::encode(Sha256::digest(&v1)));

        let b = chunked(&db, &objects, "b", &v2).await;
        assert_eq!(b.size, v2.len() as i64);
        assert!(
            b.stored_bytes > 0 && b.stored_bytes <= 4 * i64::from(crate::store::chunks::MAX_CHUNK),
            "an edit of 4000 bytes stored {} bytes",
            b.stored_bytes
        );
        assert_eq!(
            db.usage("acme", "p").await.unwrap(),
            (a.stored_bytes + b.stored_bytes, 0),
            "quota counts each chunk once"
        );
        assert_eq!(content_of(&db, &objects, &a).await, v1);
        assert_eq!(content_of(&db, &objects, &b).await, v2);
        let range = crate::store::content::read_range(&db, &objects, &b, 999_990..1_000_010)
            .await
            .unwrap();
        assert_eq!(&range[..], &v2[999_990..1_000_010]);

        // the same content again adds nothing, and its empty pack is not kept
        let c = chunked(&db, &objects, "c", &v2).await;
        assert_eq!(c.stored_bytes, 0);
        assert!(!objects.exists(&c.object_key).await.unwrap());
        assert_eq!(content_of(&db, &objects, &c).await, v2);

        // deleting the first keeps the chunks the others share, frees the rest
        let gone = db.delete_backup("acme", "p", "a").await.unwrap().unwrap();
        assert!(
            gone.objects.is_empty(),
            "a's pack still holds shared chunks"
        );
        let (used, _) = db.usage("acme", "p").await.unwrap();
        assert!(used < a.stored_bytes + b.stored_bytes && used >= v2.len() as i64 - 4 * 131072);
        assert_eq!(content_of(&db, &objects, &b).await, v2);
        assert!(
            crate::store::content::exists(&db, &objects, &b)
                .await
                .unwrap()
        );

        db.delete_backup("acme", "p", "c").await.unwrap().unwrap();
        let gone = db.delete_backup("acme", "p", "b").await.unwrap().unwrap();
        let mut keys = gone.objects.clone();
        keys.sort();
        assert_eq!(
            keys,
            vec!["acme/S1/a.pack".to_owned(), "acme/S1/b.pack".to_owned()]
        );
        delete_objects(&objects, &gone.objects).await;
        assert_eq!(db.usage("acme", "p").await.unwrap(), (0, 0));
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chunks")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(left, 0);
        let files = walk(&dir.path().join("o").join("acme"));
        assert!(files.is_empty(), "left behind: {files:?}");
    }

    fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
        let Ok(rd) = std::fs::read_dir(p) else {
            return Vec::new();
        };
        rd.flatten()
            .flat_map(|e| {
                if e.path().is_dir() {
                    walk(&e.path())
                } else {
                    vec![e.path()]
                }
            })
            .collect()
    }

    fn chunks(
        parts: Vec<std::io::Result<&'static [u8]>>,
    ) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin {
        futures_util::stream::iter(parts.into_iter().map(|r| r.map(bytes::Bytes::from_static)))
    }

    #[tokio::test]
    async fn start_up_removes_the_object_of_a_commit_lost_with_the_power() {
        let (_d, db, objects) = fixture().await;
        let kept = write(
            &db,
            &objects,
            &target("b1"),
            Size::Exact(4),
            100,
            chunks(vec![Ok(b"kept")]),
        )
        .await
        .unwrap();
        // what a power cut leaves after the object was published: the (flushed) reservation,
        // the object, no backup row
        let key = "acme/sys/b2.bin";
        assert!(
            db.reserve(&crate::store::Reservation::test(
                "b2",
                "acme",
                5,
                100,
                (&objects.temp_key("b2", key), key),
                60_000_000
            ))
            .await
            .unwrap()
                == crate::store::Reserved::Recorded
        );
        let mut t = objects.begin("b2", key).await.unwrap();
        t.write(bytes::Bytes::from_static(b"stray")).await.unwrap();
        t.commit().await.unwrap();
        // a running cluster's sweep leaves a live ingest alone
        assert_eq!(reclaim(&db, &objects, false).await.unwrap(), 0);
        assert!(objects.exists(key).await.unwrap());
        // a single node starting up reclaims it, object included
        assert_eq!(reclaim(&db, &objects, true).await.unwrap(), 1);
        assert!(!objects.exists(key).await.unwrap());
        assert!(objects.exists(&kept.object_key).await.unwrap());
        assert_eq!(db.usage("acme", "p").await.unwrap(), (4, 0));
    }

    #[tokio::test]
    async fn success_commits_and_charges_exactly_once() {
        let (_d, db, objects) = fixture().await;
        let rec = write(
            &db,
            &objects,
            &target("b1"),
            Size::Exact(11),
            100,
            chunks(vec![Ok(b"hello "), Ok(b"world")]),
        )
        .await
        .unwrap();
        assert_eq!(rec.sha256, hex::encode(Sha256::digest(b"hello world")));
        assert_eq!(rec.seq, 1);
        assert_eq!(db.usage("acme", "p").await.unwrap(), (11, 0));
        assert!(objects.exists(&rec.object_key).await.unwrap());
    }

    #[tokio::test]
    async fn failures_leave_nothing_behind() {
        let (d, db, objects) = fixture().await;
        // short body, long body, broken stream
        let cases: Vec<(u64, Vec<std::io::Result<&'static [u8]>>)> = vec![
            (20, vec![Ok(b"short")]),
            (3, vec![Ok(b"too long")]),
            (
                10,
                vec![Ok(b"abc"), Err(std::io::Error::other("client went away"))],
            ),
        ];
        for (i, (declared, parts)) in cases.into_iter().enumerate() {
            let t = target(&format!("x{i}"));
            let err = write(&db, &objects, &t, Size::Exact(declared), 0, chunks(parts))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    IngestError::LengthMismatch { .. } | IngestError::Interrupted { .. }
                ),
                "{err}"
            );
            assert!(!objects.exists(&t.key).await.unwrap());
        }
        assert_eq!(db.usage("acme", "p").await.unwrap(), (0, 0));
        let left: Vec<_> = std::fs::read_dir(d.path().join("o/.incoming"))
            .unwrap()
            .collect();
        assert!(left.is_empty());
        let (items, total) = db
            .backups(
                "acme",
                "p",
                &crate::store::BackupQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(items.is_empty() && total == 0);
    }

    #[tokio::test]
    async fn unknown_sizes_reserve_the_bound_and_charge_the_actual() {
        let (_d, db, objects) = fixture().await;
        let rec = write(
            &db,
            &objects,
            &target("u1"),
            Size::AtMost(100),
            0,
            chunks(vec![Ok(b"abc")]),
        )
        .await
        .unwrap();
        assert_eq!(rec.size, 3);
        assert_eq!(db.usage("acme", "p").await.unwrap(), (3, 0));
        let err = write(
            &db,
            &objects,
            &target("u2"),
            Size::AtMost(4),
            0,
            chunks(vec![Ok(b"abc"), Ok(b"de")]),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, IngestError::TooLarge(4)), "{err}");
        assert_eq!(db.usage("acme", "p").await.unwrap(), (3, 0));
    }

    #[tokio::test]
    async fn quota_is_never_exceeded() {
        let (_d, db, objects) = fixture().await;
        write(
            &db,
            &objects,
            &target("a"),
            Size::Exact(6),
            10,
            chunks(vec![Ok(b"123456")]),
        )
        .await
        .unwrap();
        let err = write(
            &db,
            &objects,
            &target("b"),
            Size::Exact(5),
            10,
            chunks(vec![Ok(b"12345")]),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, IngestError::QuotaExceeded));
        write(
            &db,
            &objects,
            &target("c"),
            Size::Exact(4),
            10,
            chunks(vec![Ok(b"1234")]),
        )
        .await
        .unwrap();
        assert_eq!(db.usage("acme", "p").await.unwrap(), (10, 0));
    }

    #[tokio::test]
    async fn retention_prunes_oldest_but_never_the_newest() {
        let (_d, db, objects) = fixture().await;
        let mut last = None;
        for i in 0..4 {
            let rec = write(
                &db,
                &objects,
                &target(&format!("r{i}")),
                Size::Exact(4),
                0,
                chunks(vec![Ok(b"abcd")]),
            )
            .await
            .unwrap();
            prune(&db, &objects, &rec, 2, 0).await.unwrap();
            last = Some(rec);
        }
        let q = crate::store::BackupQuery {
            newest_first: true,
            limit: 10,
            ..Default::default()
        };
        let (items, _) = db.backups("acme", "p", &q).await.unwrap();
        let ids: Vec<_> = items.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["r3", "r2"]);
        assert!(!objects.exists("acme/S1/r0.bin").await.unwrap());
        assert_eq!(db.usage("acme", "p").await.unwrap(), (8, 0));
        // a size cap smaller than the newest backup keeps only the newest
        let newest = last.unwrap();
        prune(&db, &objects, &newest, 0, 1).await.unwrap();
        let (items, _) = db.backups("acme", "p", &q).await.unwrap();
        assert_eq!(items.len(), 1);
    }

    #[tokio::test]
    async fn the_sweep_removes_only_idle_unrecorded_temporary_objects() {
        let (dir, db, objects) = fixture().await;
        let incoming = dir.path().join("o/.incoming");
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for id in ["orphan", "fresh", "recorded"] {
            let f = std::fs::File::create(incoming.join(id)).unwrap();
            if id != "fresh" {
                f.set_modified(an_hour_ago).unwrap();
            }
        }
        // a stalled upload: idle for longer than a lease, but its record says it is alive
        let key = "acme/sys/r.bin";
        let temp = objects.temp_key("recorded", key);
        assert!(
            db.reserve(&crate::store::Reservation::test(
                "recorded",
                "acme",
                5,
                0,
                (&temp, key),
                60_000_000
            ))
            .await
            .unwrap()
                == crate::store::Reserved::Recorded
        );
        assert_eq!(remove_unrecorded(&db, &objects).await.unwrap(), 1);
        assert!(!incoming.join("orphan").exists());
        assert!(incoming.join("fresh").exists());
        assert!(incoming.join("recorded").exists());
        assert_eq!(remove_unrecorded(&db, &objects).await.unwrap(), 0);
    }
}
