//! Retention after a commit: the oldest backups of a resource go once it holds more than its
//! slots or bytes allow, never the newest.

use crate::store::{BackupRecord, Db, Objects};

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
    let (items, _) = db.scoped(&newest.org, &newest.provider).backups(&q).await?;
    let (mut count, mut total) = (0u64, 0u64);
    for b in items {
        count += 1;
        total += u64::try_from(b.size).unwrap_or(0);
        let over = (slots > 0 && count > u64::from(slots)) || (bytes > 0 && total > bytes);
        if over && b.id != newest.id {
            if let Some(gone) = db
                .scoped(&b.org, &b.provider)
                .delete_backup(&b.id, "retention")
                .await?
            {
                let rec = &gone.record;
                tracing::info!(backup = %rec.id, resource = %rec.resource_id, "pruned by retention");
                objects.delete_unreferenced(&gone.objects).await;
            }
            count -= 1;
            total -= u64::try_from(b.size).unwrap_or(0);
        }
    }
    Ok(())
}
