//! The `ingests` table and the quota: reserving an upload under its lease (admitted against
//! the caps on uploads in flight), renewing and releasing it, and committing it as a backup
//! (with its job's completion) in one batch; the sweeps' view of stale ingests.

use sqlx::Row;

use super::*;

impl Db {
    /// Reserve an ingest's bytes of the org's quota (one atomic batch, so concurrent
    /// reservations can never overshoot the quota; 0 = unlimited) and, for a client upload,
    /// one of its sender's and its org's places for uploads in flight. Records the ingest and
    /// its temporary key so a crashed writer's reservation and object can be reclaimed. Not
    /// synced: sync before anything the ingest wrote becomes visible, so a crash always
    /// leaves a record to reclaim it by.
    pub async fn reserve(&self, r: &Reservation<'_>) -> Result<Reserved, DbError> {
        // The quota row first (made if missing; on PostgreSQL locked, so no reservation of
        // the same org and plugin commits between the check and the charge), then the ingest
        // is recorded only if its bytes fit and its sender has a place, and charged only if
        // it was recorded. (Uploads to the org's other plugins take other rows' locks, so on
        // PostgreSQL the per-org cap can be passed by one upload per plugin at once.)
        let batch = Batch::new()
            .statement(
                "INSERT INTO quota_usage (org, provider, used_bytes, reserved_bytes) VALUES (@org, @provider, 0, 0) \
                 ON CONFLICT (org, provider) DO UPDATE SET reserved_bytes = quota_usage.reserved_bytes",
            )
            .statement(format!(
                "INSERT INTO ingests (id, org, provider, reserved_bytes, temp_key, lease_expires_at, object_key, subject) \
                 SELECT @id, @org, @provider, @bytes, @temp_key, {} + @lease, @object_key, @subject FROM quota_usage \
                 WHERE org = @org AND provider = @provider \
                 AND (@quota = 0 OR used_bytes + reserved_bytes + @bytes <= @quota) \
                 AND (@per_org = 0 OR (SELECT COUNT(*) FROM ingests WHERE org = @org AND subject IS NOT NULL) < @per_org) \
                 AND (@per_subject = 0 OR (SELECT COUNT(*) FROM ingests \
                      WHERE org = @org AND provider = @provider AND subject = @subject) < @per_subject)",
                self.now_sql()
            ))
            .statement(
                "UPDATE quota_usage SET reserved_bytes = reserved_bytes + @bytes \
                 WHERE org = @org AND provider = @provider AND EXISTS (SELECT 1 FROM ingests WHERE id = @id)",
            )
            .result(
                "SELECT (SELECT COUNT(*) FROM ingests WHERE id = @id), \
                 (SELECT COUNT(*) FROM ingests WHERE org = @org AND subject IS NOT NULL), \
                 (SELECT COUNT(*) FROM ingests WHERE org = @org AND provider = @provider AND subject = @subject)",
            )
            .param("id", Param::Text(r.ingest_id))
            .param("org", Param::Text(r.org))
            .param("provider", Param::Text(r.provider))
            .param("bytes", Param::Int(r.bytes))
            .param("quota", Param::Int(r.quota))
            .param("temp_key", Param::Text(r.temp_key))
            .param("object_key", Param::Text(r.object_key))
            .param("lease", Param::Int(r.lease_micros))
            .param("subject", Param::MaybeText(r.admission.map(|a| a.subject)))
            .param("per_org", Param::Int(r.admission.map_or(0, |a| i64::from(a.per_org))))
            .param(
                "per_subject",
                Param::Int(r.admission.map_or(0, |a| i64::from(a.per_subject))),
            );
        let rows = self.run_batch(&batch).await?;
        let count = |i: usize| -> Result<i64, DbError> {
            Ok(match rows.first() {
                Some(row) => row.try_get(i)?,
                None => 0,
            })
        };
        if count(0)? > 0 {
            return Ok(Reserved::Recorded);
        }
        // refused: say why (read after the fact, so only the reason can be stale)
        let full = |n: i64, cap: u32| cap > 0 && n >= i64::from(cap);
        Ok(match r.admission {
            Some(a) if full(count(2)?, a.per_subject) => Reserved::TooManyUploads(a.per_subject),
            Some(a) if full(count(1)?, a.per_org) => Reserved::TooManyUploads(a.per_org),
            _ => Reserved::QuotaExceeded,
        })
    }

    /// Extend an in-flight ingest's lease to `lease_micros` from now (the database's now);
    /// false when the ingest is gone (reclaimed by a sweep that thought its writer dead).
    pub async fn renew_ingest(&self, ingest_id: &str, lease_micros: i64) -> Result<bool, DbError> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "UPDATE ingests SET lease_expires_at = {} + $1 WHERE id = $2",
            self.now_sql()
        )))
        .bind(lease_micros)
        .bind(ingest_id)
        .execute(&mut *self.write().await?)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Record the multipart upload an ingest writes to (S3), so that whoever reclaims the
    /// ingest can abort the upload and drop its parts. Not synced: sync before sending a part.
    pub async fn set_ingest_upload(&self, ingest_id: &str, upload_id: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE ingests SET upload_id = $1 WHERE id = $2")
            .bind(upload_id)
            .bind(ingest_id)
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }

    /// Release an ingest's reservation without recording anything (failure or abort). Not
    /// synced: lost to a crash, the ingest is reclaimed again.
    pub async fn release(&self, ingest_id: &str) -> Result<(), DbError> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let row = sqlx::query(
            "DELETE FROM ingests WHERE id = $1 RETURNING org, provider, reserved_bytes",
        )
        .bind(ingest_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let (org, provider, bytes): (String, String, i64) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            sqlx::query("UPDATE quota_usage SET reserved_bytes = reserved_bytes - $1 WHERE org = $2 AND provider = $3")
                .bind(bytes)
                .bind(&org)
                .bind(&provider)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Turn an ingest into a visible backup: release its reservation, charge the stored
    /// bytes and insert the record (with the next sequence number) in one transaction. A
    /// backup made by a job completes that job in the same transaction, and only while the
    /// job is still running: a backup is visible if and only if its job completed.
    /// A chunked capture's `chunks` are recorded in the same transaction, and
    /// `rec.stored_bytes` becomes what it newly stored. Not synced: the caller syncs before
    /// acknowledging the backup.
    pub async fn commit_backup(
        &self,
        ingest_id: &str,
        rec: &mut BackupRecord,
        chunks: Option<&crate::store::chunks::ChunkPlan>,
    ) -> Result<(), DbError> {
        // PostgreSQL may pick this transaction as a deadlock victim (chunk rows shared with
        // a concurrent capture or delete); everything it needs is in hand, so run it again
        let mut attempt = 1;
        loop {
            match self.commit_backup_once(ingest_id, rec, chunks).await {
                Err(DbError::Sqlx(e)) if attempt < 5 && is_transient(&e) => {
                    tracing::warn!(error = %e, attempt, "backup commit retried");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn commit_backup_once(
        &self,
        ingest_id: &str,
        rec: &mut BackupRecord,
        chunks: Option<&crate::store::chunks::ChunkPlan>,
    ) -> Result<(), DbError> {
        rec.chunked = chunks.is_some();
        let seq = match chunks {
            None => {
                let rows = self.run_batch(&backup_commit(ingest_id, rec)).await?;
                rows.first().map(|r| r.try_get::<i64, _>(0)).transpose()?
            }
            Some(plan) => {
                // the chunks' statements depend on what earlier ones returned: one by one,
                // with the backup's after them in the same transaction
                let mut conn = self.write().await?;
                let mut tx = conn.begin().await?;
                rec.stored_bytes =
                    crate::store::chunks::commit(&mut tx, &rec.org, &rec.provider, &rec.id, plan)
                        .await?;
                let batch = backup_commit(ingest_id, rec);
                batch.run_in(&mut tx).await?;
                let rows = batch.fetch_result(&mut tx).await?;
                let seq = rows.first().map(|r| r.try_get::<i64, _>(0)).transpose()?;
                if seq.is_some() {
                    tx.commit().await?;
                }
                seq
            }
        };
        match seq {
            Some(seq) => {
                rec.seq = seq;
                Ok(())
            }
            // cancelled (or finished by another worker) meanwhile: nothing was kept
            None => Err(DbError::JobNotRunning),
        }
    }

    /// Whether an in-flight ingest has a record.
    pub async fn ingest_recorded(&self, ingest_id: &str) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ingests WHERE id = $1")
            .bind(ingest_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// In-flight ingests whose lease has expired by the database's clock (all of them with
    /// `all`), for the caller to clean up before calling [`Db::release`].
    pub async fn stale_ingests(&self, all: bool) -> Result<Vec<StaleIngest>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, temp_key, upload_id, object_key FROM ingests WHERE $1 = 1 OR lease_expires_at < {}",
            self.now_sql()
        )))
        .bind(i64::from(all))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(StaleIngest {
                    id: r.try_get(0)?,
                    temp_key: r.try_get(1)?,
                    upload_id: r.try_get(2)?,
                    object_key: r.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }
}

impl Scoped<'_> {
    /// Committed and reserved bytes of an org for a provider.
    pub async fn usage(&self) -> Result<(i64, i64), DbError> {
        let row = sqlx::query(
            "SELECT used_bytes, reserved_bytes FROM quota_usage WHERE org = $1 AND provider = $2",
        )
        .bind(self.org)
        .bind(self.provider)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(match row {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (0, 0),
        })
    }
}

/// The transaction that turns an ingest into a visible backup, completing its job (if any)
/// in the same breath: release the reservation, charge the stored bytes, take the next
/// sequence number and insert the record. Everything after the job's update is guarded by
/// it having taken effect (`@job` is NULL, or the job now names this backup), so a job that
/// was no longer running leaves the transaction without effect; the result is the new
/// backup's sequence number, no row when it was not recorded.
fn backup_commit<'a>(ingest_id: &'a str, rec: &'a BackupRecord) -> Batch<'a> {
    const DONE: &str =
        "(@job IS NULL OR EXISTS (SELECT 1 FROM jobs WHERE id = @job AND backup_id = @id))";
    Batch::new()
        .statement(
            "UPDATE jobs SET status = 'completed', backup_id = @id, finished_at = @created_at, \
             bytes_done = @size, bytes_total = @size, error = NULL, message = 'completed', \
             lease_owner = NULL, lease_expires_at = NULL WHERE id = @job AND status = 'in_progress'",
        )
        .statement(format!(
            "UPDATE quota_usage SET used_bytes = used_bytes + @stored_bytes, \
             reserved_bytes = reserved_bytes - COALESCE((SELECT reserved_bytes FROM ingests WHERE id = @ingest), 0) \
             WHERE org = @org AND provider = @provider AND {DONE}"
        ))
        .statement(format!("DELETE FROM ingests WHERE id = @ingest AND {DONE}"))
        .statement(format!(
            "INSERT INTO sequences (org, provider, name, value) SELECT @org, @provider, 'backups', 1 \
             WHERE {DONE} ON CONFLICT (org, provider, name) DO UPDATE SET value = sequences.value + 1"
        ))
        .statement(format!(
            "INSERT INTO backups ({BACKUP_COLUMNS}) SELECT @id, @org, @provider, \
             (SELECT value FROM sequences WHERE org = @org AND provider = @provider AND name = 'backups'), \
             @resource_kind, @resource_id, @object_key, @filename, @extension, @media_type, @size, \
             @stored_bytes, @sha256, @created_at, @subject, @job, @metadata, @chunked WHERE {DONE}"
        ))
        .result("SELECT seq FROM backups WHERE id = @id")
        .param("id", Param::Text(&rec.id))
        .param("ingest", Param::Text(ingest_id))
        .param("job", Param::MaybeText(rec.job_id.as_deref()))
        .param("org", Param::Text(&rec.org))
        .param("provider", Param::Text(&rec.provider))
        .param("resource_kind", Param::Text(&rec.resource_kind))
        .param("resource_id", Param::Text(&rec.resource_id))
        .param("object_key", Param::Text(&rec.object_key))
        .param("filename", Param::Text(&rec.filename))
        .param("extension", Param::Text(&rec.extension))
        .param("media_type", Param::Text(&rec.media_type))
        .param("size", Param::Int(rec.size))
        .param("stored_bytes", Param::Int(rec.stored_bytes))
        .param("sha256", Param::Text(&rec.sha256))
        .param("created_at", Param::Int(rec.created_at))
        .param("subject", Param::Text(&rec.subject))
        .param("metadata", Param::Text(&rec.metadata))
        .param("chunked", Param::Int(i64::from(rec.chunked)))
}

/// The next value of a named counter, inside a transaction.
pub(super) async fn next_in_sequence(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: &str,
    provider: &str,
    name: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO sequences (org, provider, name, value) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (org, provider, name) DO UPDATE SET value = sequences.value + 1 RETURNING value",
    )
    .bind(org)
    .bind(provider)
    .bind(name)
    .fetch_one(&mut **tx)
    .await
}
