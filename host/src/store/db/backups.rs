//! The `backups` table: reading, listing, annotating and deleting an org's backups (a
//! delete frees their quota and, deduplicated, their chunks in the same transaction).

use super::audit::{AuditEntry, Outcome};
use super::*;

/// What the audit log keeps of a deleted backup.
fn backup_json(b: &BackupRecord) -> String {
    serde_json::json!({
        "id": b.id,
        "provider": b.provider,
        "seq": b.seq,
        "resource_kind": b.resource_kind,
        "resource_id": b.resource_id,
        "filename": b.filename,
        "size": b.size,
        "sha256": b.sha256,
        "created_at": b.created_at,
        "subject": b.subject,
    })
    .to_string()
}

impl Scoped<'_> {
    /// A backup of the org by id.
    pub async fn backup(&self, id: &str) -> Result<Option<BackupRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE org = $1 AND provider = $2 AND id = $3"
        )))
        .bind(self.org)
        .bind(self.provider)
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(backup_from_row).transpose()?)
    }

    /// The backup a job produced, if it committed one.
    pub async fn backup_by_job(&self, job_id: &str) -> Result<Option<BackupRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE org = $1 AND provider = $2 AND job_id = $3"
        )))
        .bind(self.org)
        .bind(self.provider)
        .bind(job_id)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(backup_from_row).transpose()?)
    }

    /// A backup of the org by sequence number.
    pub async fn backup_by_seq(&self, seq: i64) -> Result<Option<BackupRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE org = $1 AND provider = $2 AND seq = $3"
        )))
        .bind(self.org)
        .bind(self.provider)
        .bind(seq)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(backup_from_row).transpose()?)
    }

    /// Backups matching a query, and how many matched in all.
    pub async fn backups(&self, q: &BackupQuery) -> Result<(Vec<BackupRecord>, i64), DbError> {
        let filter = "org = $1 AND provider = $2 AND ($3 = '' OR resource_kind = $3) \
                      AND ($4 = '' OR resource_id = $4)";
        let order = if q.newest_first { "DESC" } else { "ASC" };
        let kind = q.resource_kind.as_deref().unwrap_or("");
        let rid = q.resource_id.as_deref().unwrap_or("");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE {filter} ORDER BY seq {order} LIMIT $5 OFFSET $6"
        )))
        .bind(self.org)
        .bind(self.provider)
        .bind(kind)
        .bind(rid)
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(&self.db.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM backups WHERE {filter}"
        )))
        .bind(self.org)
        .bind(self.provider)
        .bind(kind)
        .bind(rid)
        .fetch_one(&self.db.pool)
        .await?;
        let items = rows.iter().map(backup_from_row).collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    /// Replace a backup's plugin metadata; false when it does not exist.
    pub async fn set_backup_metadata(&self, id: &str, metadata: &str) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE backups SET metadata = $1 WHERE org = $2 AND provider = $3 AND id = $4",
        )
        .bind(metadata)
        .bind(self.org)
        .bind(self.provider)
        .bind(id)
        .execute(&mut *self.db.write().await?)
        .await?;
        self.db.sync().await?;
        Ok(r.rows_affected() > 0)
    }

    /// Remove a backup record and release its stored bytes from the quota, in one
    /// transaction (for a chunked backup: its chunk references, freeing chunks no other
    /// backup refers to) with an audit entry by `actor` (`backup.delete`, the record as it
    /// was). Returns the record and the objects left unreferenced, for the caller to delete.
    pub async fn delete_backup(&self, id: &str, actor: &str) -> Result<Option<Deleted>, DbError> {
        let audit = AuditEntry {
            actor: actor.to_owned(),
            org: Some(self.org.to_owned()),
            action: "backup.delete".into(),
            target: format!("backup/{}/{id}", self.provider),
            before: None,
            after: None,
        };
        // durable before the caller deletes the objects
        self.db
            .audited(audit, async |tx| {
                let row = sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM backups WHERE org = $1 AND provider = $2 AND id = $3 RETURNING {BACKUP_COLUMNS}"
                )))
                .bind(self.org)
                .bind(self.provider)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
                let Some(record) = row.as_ref().map(backup_from_row).transpose()? else {
                    return Ok(Outcome::Unchanged(None));
                };
                let (freed, objects) = if record.chunked {
                    crate::store::chunks::release(tx, self.org, self.provider, id).await?
                } else {
                    (record.stored_bytes, vec![record.object_key.clone()])
                };
                sqlx::query(
                    "UPDATE quota_usage SET used_bytes = used_bytes - $1 WHERE org = $2 AND provider = $3",
                )
                .bind(freed)
                .bind(self.org)
                .bind(self.provider)
                .execute(&mut **tx)
                .await?;
                Ok(Outcome::Changed {
                    before: Some(backup_json(&record)),
                    after: None,
                    value: Some(Deleted { record, objects }),
                })
            })
            .await
    }
}
