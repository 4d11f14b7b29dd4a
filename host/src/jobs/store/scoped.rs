//! The org's side of the job table: reading, listing, querying, cancelling and annotating
//! the jobs of one org and provider, as methods of [`Scoped`] so no query can miss the org.

use sqlx::AssertSqlSafe;

use super::{COLUMNS, JobKind, JobRecord, JobStatus, from_row};
use crate::store::{DbError, Scoped, now_micros};

/// What [`Scoped::query_jobs`] selects; an empty list of kinds or statuses selects any.
#[derive(Debug, Default, Clone, Copy)]
pub struct JobFilter<'a> {
    /// Only jobs on this resource kind.
    pub resource_kind: Option<&'a str>,
    /// Only jobs on this resource id.
    pub resource_id: Option<&'a str>,
    /// Only jobs of these kinds.
    pub kinds: &'a [JobKind],
    /// Only jobs in these states.
    pub statuses: &'a [JobStatus],
}

impl Scoped<'_> {
    /// A job of the org by id.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE org = $1 AND provider = $2 AND id = $3"
        )))
        .bind(self.org())
        .bind(self.provider())
        .bind(id)
        .fetch_optional(self.db().pool())
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// A job of the org by sequence number.
    pub async fn job_by_seq(&self, seq: i64) -> Result<Option<JobRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE org = $1 AND provider = $2 AND seq = $3"
        )))
        .bind(self.org())
        .bind(self.provider())
        .bind(seq)
        .fetch_optional(self.db().pool())
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Jobs of the org, newest first, optionally of one resource and in some statuses.
    pub async fn jobs(
        &self,
        resource: (Option<&str>, Option<&str>),
        statuses: &[JobStatus],
        limit: i64,
    ) -> Result<Vec<JobRecord>, DbError> {
        let filter = JobFilter {
            resource_kind: resource.0,
            resource_id: resource.1,
            kinds: &[],
            statuses,
        };
        self.query_jobs(&filter, limit).await
    }

    /// Jobs of an org and provider matching `filter`, newest first, at most `limit` (capped at
    /// 1000).
    pub async fn query_jobs(
        &self,
        filter: &JobFilter<'_>,
        limit: i64,
    ) -> Result<Vec<JobRecord>, DbError> {
        // placeholders only are interpolated: $6.. for the statuses, then the kinds
        let placeholders = |from: usize, n: usize| -> String {
            (from..from + n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut filters = String::new();
        if !filter.statuses.is_empty() {
            filters += &format!(
                " AND status IN ({})",
                placeholders(6, filter.statuses.len())
            );
        }
        if !filter.kinds.is_empty() {
            let from = 6 + filter.statuses.len();
            filters += &format!(" AND kind IN ({})", placeholders(from, filter.kinds.len()));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE org = $1 AND provider = $2 AND ($3 = '' OR resource_kind = $3) \
             AND ($4 = '' OR resource_id = $4) AND seq > $5{filters} ORDER BY seq DESC LIMIT {limit}",
            limit = limit.clamp(0, 1000)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(self.org())
            .bind(self.provider())
            .bind(filter.resource_kind.unwrap_or(""))
            .bind(filter.resource_id.unwrap_or(""))
            .bind(0i64);
        for s in filter.statuses {
            q = q.bind(s.as_str());
        }
        for k in filter.kinds {
            q = q.bind(k.as_str());
        }
        let rows = q.fetch_all(self.db().pool()).await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Cancel a queued or running job. `Ok(None)` when it does not exist, `Err(status)` when it
    /// already finished.
    pub async fn cancel_job(
        &self,
        id: &str,
    ) -> Result<Result<Option<JobRecord>, JobStatus>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'cancelled', finished_at = $1, message = 'cancelled', lease_owner = NULL \
             WHERE org = $2 AND provider = $3 AND id = $4 AND status IN ('queued', 'in_progress') RETURNING {COLUMNS}"
        )))
        .bind(now_micros())
        .bind(self.org())
        .bind(self.provider())
        .bind(id)
        .fetch_optional(&mut *self.db().write().await?)
        .await?;
        if let Some(row) = row {
            self.db().sync().await?;
            return Ok(Ok(Some(from_row(&row)?)));
        }
        Ok(match self.job(id).await? {
            Some(job) => Err(job.status),
            None => Ok(None),
        })
    }

    /// Replace a job's plugin metadata; false when it does not exist.
    pub async fn set_job_metadata(&self, id: &str, metadata: &str) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE jobs SET metadata = $1 WHERE org = $2 AND provider = $3 AND id = $4",
        )
        .bind(metadata)
        .bind(self.org())
        .bind(self.provider())
        .bind(id)
        .execute(&mut *self.db().write().await?)
        .await?;
        self.db().sync().await?;
        Ok(r.rows_affected() > 0)
    }
}
