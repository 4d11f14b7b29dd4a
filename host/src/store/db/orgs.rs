//! The `orgs` table: the tenants, created from the configuration file at start-up or through
//! the admin API, each change recorded in the audit log in its own transaction.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{AuditEntry, Outcome, Tx};
use super::*;

/// An org row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgRecord {
    /// Id; appears in object keys.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Every client request of a suspended org is refused.
    pub suspended: bool,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch.
    pub updated_at: i64,
}

/// A change to an org; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrgChange {
    /// New display name.
    pub name: Option<String>,
    /// Suspend or resume.
    pub suspended: Option<bool>,
}

/// What [`Db::delete_org`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgDeleted {
    /// Gone, with what it was.
    Yes(OrgRecord),
    /// No such org.
    Missing,
    /// It still holds backups (this many), resources or uploads in flight; nothing changed.
    NotEmpty(i64),
}

/// What one org stores with one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderUsage {
    /// Provider (plugin) name.
    pub provider: String,
    /// Committed bytes.
    pub used_bytes: i64,
    /// Bytes reserved by uploads in flight.
    pub reserved_bytes: i64,
    /// Visible backups.
    pub backups: i64,
}

const COLUMNS: &str = "id, name, suspended, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<OrgRecord, sqlx::Error> {
    Ok(OrgRecord {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        suspended: r.try_get::<i64, _>(2)? != 0,
        created_at: r.try_get(3)?,
        updated_at: r.try_get(4)?,
    })
}

async fn org_in(tx: &mut Tx<'_>, id: &str) -> Result<Option<OrgRecord>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM orgs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

impl Db {
    /// Every org, by id.
    pub async fn orgs(&self) -> Result<Vec<OrgRecord>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM orgs ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// One org.
    pub async fn org(&self, id: &str) -> Result<Option<OrgRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM orgs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Create an org; `None` when one with its id exists. Audited as `audit` (with the org
    /// as its `after`); durable on return.
    pub async fn insert_org(
        &self,
        id: &str,
        name: &str,
        audit: AuditEntry,
    ) -> Result<Option<OrgRecord>, DbError> {
        self.audited(audit, async |tx| {
            let now = now_micros();
            let inserted = sqlx::query(
                "INSERT INTO orgs (id, name, suspended, created_at, updated_at) \
                 VALUES ($1, $2, 0, $3, $3) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Ok(Outcome::Unchanged(None));
            }
            Ok(Outcome::created(org_in(tx, id).await?))
        })
        .await
    }

    /// Apply `change` to an org; `None` when it does not exist. Audited with its before and
    /// after; durable on return.
    pub async fn update_org(
        &self,
        id: &str,
        change: &OrgChange,
        audit: AuditEntry,
    ) -> Result<Option<OrgRecord>, DbError> {
        self.audited(audit, async |tx| {
            let Some(before) = org_in(tx, id).await? else {
                return Ok(Outcome::Unchanged(None));
            };
            sqlx::query(
                "UPDATE orgs SET name = COALESCE($1, name), suspended = COALESCE($2, suspended), \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(change.name.as_deref())
            .bind(change.suspended.map(i64::from))
            .bind(now_micros())
            .bind(id)
            .execute(&mut **tx)
            .await?;
            Ok(Outcome::replaced(&before, org_in(tx, id).await?))
        })
        .await
    }

    /// Delete an org that holds nothing (no backups, resources or uploads in flight; its
    /// documents, jobs and usage rows go with it, its issued credentials are revoked).
    /// Audited; durable on return.
    pub async fn delete_org(&self, id: &str, audit: AuditEntry) -> Result<OrgDeleted, DbError> {
        self.audited(audit, async |tx| {
            let Some(before) = org_in(tx, id).await? else {
                return Ok(Outcome::Unchanged(OrgDeleted::Missing));
            };
            let held: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM backups WHERE org = $1) \
                 + (SELECT COUNT(*) FROM resources WHERE org = $1) \
                 + (SELECT COUNT(*) FROM ingests WHERE org = $1)",
            )
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
            if held > 0 {
                return Ok(Outcome::Unchanged(OrgDeleted::NotEmpty(held)));
            }
            // its credentials stop working with it (kept, revoked, for the audit trail)
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE credentials SET revoked_at = {} WHERE org = $1 AND revoked_at IS NULL",
                self.now_sql()
            )))
            .bind(id)
            .execute(&mut **tx)
            .await?;
            for (table, column) in [
                ("documents", "org"),
                ("jobs", "org"),
                ("quota_usage", "org"),
                ("sequences", "org"),
                ("orgs", "id"),
            ] {
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE {column} = $1"
                )))
                .bind(id)
                .execute(&mut **tx)
                .await?;
            }
            Ok(Outcome::Changed {
                before: serde_json::to_string(&before).ok(),
                after: None,
                value: OrgDeleted::Yes(before),
            })
        })
        .await
    }

    /// Write the configuration file's orgs that the database lacks (an org changed through
    /// the API keeps its changes). Audited as `config`.
    pub async fn seed_orgs(&self, orgs: &[(String, String)]) -> Result<(), DbError> {
        for (id, name) in orgs {
            let audit = AuditEntry {
                actor: "config".into(),
                org: Some(id.clone()),
                action: "org.create".into(),
                target: format!("org/{id}"),
                ..AuditEntry::default()
            };
            self.insert_org(id, name, audit).await?;
        }
        Ok(())
    }

    /// What an org stores with each provider (providers it never used are absent).
    pub async fn org_usage(&self, org: &str) -> Result<Vec<ProviderUsage>, DbError> {
        let rows = sqlx::query(
            "SELECT q.provider, q.used_bytes, q.reserved_bytes, \
             (SELECT COUNT(*) FROM backups b WHERE b.org = q.org AND b.provider = q.provider) \
             FROM quota_usage q WHERE q.org = $1 ORDER BY q.provider",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        let usage = rows
            .iter()
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(ProviderUsage {
                    provider: r.try_get(0)?,
                    used_bytes: r.try_get(1)?,
                    reserved_bytes: r.try_get(2)?,
                    backups: r.try_get(3)?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(usage)
    }
}
