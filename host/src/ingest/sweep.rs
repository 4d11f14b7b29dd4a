//! What dead writers leave behind: reservations whose lease expired, and temporary objects
//! no ingest record accounts for. Run at start-up and by every node's sweep; idempotent.

use crate::store::{Db, Objects};

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
