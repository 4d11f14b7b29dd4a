//! `backups`: the caller's org's stored backups (`get`, `list`, `delete`, `read`), their bytes
//! read through `store::content` whatever the layout.

use super::{InstanceState, MAX_LIST, MAX_READ};
use crate::plugins::bindings::{backups, types};
use crate::store::{BackupQuery, BackupRecord};

/// The WIT view of a backup record.
pub fn to_backup(r: BackupRecord) -> backups::Backup {
    backups::Backup {
        id: r.id,
        seq: u64::try_from(r.seq).unwrap_or(0),
        resource_kind: r.resource_kind,
        resource_id: r.resource_id,
        filename: r.filename,
        extension: r.extension,
        media_type: r.media_type,
        size: u64::try_from(r.size).unwrap_or(0),
        stored_bytes: u64::try_from(r.stored_bytes).unwrap_or(0),
        sha256: r.sha256,
        created_at: u64::try_from(r.created_at).unwrap_or(0),
        subject: r.subject,
        job_id: r.job_id,
        metadata: r.metadata,
    }
}

impl backups::Host for InstanceState {
    fn list(&mut self, q: backups::Query) -> Result<backups::Page, types::HostError> {
        let query = BackupQuery {
            resource_kind: q.resource_kind,
            resource_id: q.resource_id,
            newest_first: q.newest_first,
            offset: i64::try_from(q.offset).unwrap_or(i64::MAX),
            limit: i64::from(q.limit.min(MAX_LIST)),
        };
        let (items, total) = self.with_db(async |s| s.backups(&query).await)?;
        Ok(backups::Page {
            items: items.into_iter().map(to_backup).collect(),
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn get(&mut self, id: String) -> Result<Option<backups::Backup>, types::HostError> {
        Ok(self.with_db(async |s| s.backup(&id).await)?.map(to_backup))
    }

    fn get_by_seq(&mut self, seq: u64) -> Result<Option<backups::Backup>, types::HostError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        Ok(self
            .with_db(async |s| s.backup_by_seq(seq).await)?
            .map(to_backup))
    }

    fn delete(&mut self, id: String) -> Result<bool, types::HostError> {
        let actor = format!(
            "client:{}/{}",
            self.ctx.org.as_deref().unwrap_or("-"),
            self.ctx.subject.as_deref().unwrap_or("-")
        );
        let Some(gone) = self.with_db(async |s| s.delete_backup(&id, &actor).await)? else {
            return Ok(false);
        };
        let (_, services, rt) = self.scope().ok_or(types::HostError::NotFound)?;
        rt.block_on(services.objects.delete_unreferenced(&gone.objects));
        Ok(true)
    }

    fn read(&mut self, id: String, range: types::ByteRange) -> Result<Vec<u8>, types::HostError> {
        let rec = self
            .with_db(async |s| s.backup(&id).await)?
            .ok_or(types::HostError::NotFound)?;
        let size = u64::try_from(rec.size).unwrap_or(0);
        let start = range.offset.min(size);
        let len = range.length.unwrap_or(MAX_READ).min(MAX_READ);
        let end = start.saturating_add(len).min(size);
        if start == end {
            return Ok(Vec::new());
        }
        let (_, services, rt) = self.scope().ok_or(types::HostError::NotFound)?;
        rt.block_on(crate::store::content::read_range(
            &services.db,
            &services.objects,
            &rec,
            start..end,
        ))
        .map(|b| b.to_vec())
        .map_err(|e| {
            tracing::warn!(key = %rec.object_key, error = %e, "backup read failed");
            match e {
                crate::store::ObjectError::NotFound => types::HostError::NotFound,
                _ => types::HostError::Unavailable,
            }
        })
    }

    fn object_exists(&mut self, id: String) -> Result<bool, types::HostError> {
        let rec = self
            .with_db(async |s| s.backup(&id).await)?
            .ok_or(types::HostError::NotFound)?;
        let (_, services, rt) = self.scope().ok_or(types::HostError::NotFound)?;
        rt.block_on(crate::store::content::exists(
            &services.db,
            &services.objects,
            &rec,
        ))
        .map_err(|_| types::HostError::Unavailable)
    }

    fn set_metadata(&mut self, id: String, metadata: String) -> Result<(), types::HostError> {
        if serde_json::from_str::<serde_json::Value>(&metadata).is_err() {
            return Err(types::HostError::Invalid("metadata must be JSON".into()));
        }
        match self.with_db(async |s| s.set_backup_metadata(&id, &metadata).await)? {
            true => Ok(()),
            false => Err(types::HostError::NotFound),
        }
    }
}
