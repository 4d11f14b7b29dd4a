//! Reserving an ingest: the quota (the `ingests` row, under its lease, admitted against the
//! caps on uploads in flight) and the temporary object, everything before the first byte.

use crate::lease::Lease;
use crate::limits::UploadCaps;
use crate::store::{BackupRecord, Db, ObjectError, Objects, TempObject};

use super::{IngestError, Size, Target};

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
    pub(super) db: Db,
    pub(super) objects: Objects,
    pub(super) target: Target,
    pub(super) size: Size,
    pub(super) temp_key: String,
    pub(super) temp: TempObject,
    pub(super) reservation_durable: tokio::task::JoinHandle<Result<(), crate::store::DbError>>,
    pub(super) lease: Lease,
}

/// Give back an ingest's reservation (logged when it cannot be: the lease sweep will).
pub(super) async fn release_reservation(db: &Db, ingest_id: &str) {
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
    let lease = keep_lease(db, &ingest_id);
    let temp = match open_temp(db, objects, opened, &ingest_id, &target.key).await {
        Ok(t) => t,
        Err(e) => {
            release_reservation(db, &ingest_id).await;
            return Err(IngestError::StorageUnavailable(e));
        }
    };
    Ok(Reserved {
        db: db.clone(),
        objects: objects.clone(),
        target,
        size,
        temp_key,
        temp,
        reservation_durable,
        lease,
    })
}

impl Reserved {
    /// Give up before writing: the temporary object goes and the reservation is released.
    pub async fn abandon(self) {
        let Reserved {
            db,
            target,
            temp,
            lease,
            ..
        } = self;
        drop(lease);
        temp.abort().await;
        release_reservation(&db, &target.backup_id).await;
    }
}

/// The temporary object (opened now unless it was opened beside the reservation), its
/// multipart upload recorded before any part is sent, so a crash never orphans bytes.
async fn open_temp(
    db: &Db,
    objects: &Objects,
    opened: Option<Result<TempObject, ObjectError>>,
    ingest_id: &str,
    key: &str,
) -> Result<TempObject, String> {
    let opened = match opened {
        Some(opened) => opened,
        None => objects.begin(ingest_id, key).await,
    };
    let temp = opened.map_err(|e| e.to_string())?;
    if let Some(upload) = temp.upload_id()
        && let Err(e) = async {
            db.set_ingest_upload(ingest_id, upload).await?;
            db.sync().await
        }
        .await
    {
        temp.abort().await;
        return Err(e.to_string());
    }
    Ok(temp)
}

/// Renew the `ingests` row's lease every third of its length while the ingest runs; lost
/// when the row is gone (a sweep reclaimed it), so the writer stops instead of committing.
fn keep_lease(db: &Db, ingest_id: &str) -> Lease {
    let micros = i64::try_from(db.ingest_lease().as_micros()).unwrap_or(i64::MAX);
    let (db, id) = (db.clone(), ingest_id.to_owned());
    let every = db.ingest_lease() / 3;
    Lease::keep(format!("ingest {id}"), every, move || {
        let (db, id) = (db.clone(), id.clone());
        async move { db.renew_ingest(&id, micros).await }
    })
}
