//! The `org_limits` table: one org's quotas with one plugin, overriding the plugin's
//! (a NULL column keeps the plugin's own). Each change is audited.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{AuditEntry, Outcome, Tx};
use super::*;

/// An org's quota override with a plugin (0: unlimited; none: the plugin's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrgLimitsRecord {
    /// The org.
    pub org: String,
    /// The plugin.
    pub plugin: String,
    /// Org bytes.
    pub org_bytes: Option<i64>,
    /// Per upload.
    pub upload_bytes: Option<i64>,
    /// Per resource, count.
    pub resource_slots: Option<i64>,
    /// Per resource, bytes.
    pub resource_bytes: Option<i64>,
}

const COLUMNS: &str = "org, plugin, org_bytes, upload_bytes, resource_slots, resource_bytes";

fn from_row(r: &AnyRow) -> Result<OrgLimitsRecord, sqlx::Error> {
    Ok(OrgLimitsRecord {
        org: r.try_get(0)?,
        plugin: r.try_get(1)?,
        org_bytes: r.try_get(2)?,
        upload_bytes: r.try_get(3)?,
        resource_slots: r.try_get(4)?,
        resource_bytes: r.try_get(5)?,
    })
}

async fn limits_in(
    tx: &mut Tx<'_>,
    org: &str,
    plugin: &str,
) -> Result<Option<OrgLimitsRecord>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM org_limits WHERE org = $1 AND plugin = $2"
    )))
    .bind(org)
    .bind(plugin)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

impl Db {
    /// Every org's overrides.
    pub async fn all_org_limits(&self) -> Result<Vec<OrgLimitsRecord>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM org_limits ORDER BY org, plugin"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Set (replace) an org's override with a plugin. Audited with before and after;
    /// durable on return.
    pub async fn set_org_limits(
        &self,
        rec: &OrgLimitsRecord,
        audit: AuditEntry,
    ) -> Result<OrgLimitsRecord, DbError> {
        self.audited(audit, async |tx| {
            let before = limits_in(tx, &rec.org, &rec.plugin).await?;
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO org_limits ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (org, plugin) DO UPDATE SET org_bytes = excluded.org_bytes, \
                 upload_bytes = excluded.upload_bytes, resource_slots = excluded.resource_slots, \
                 resource_bytes = excluded.resource_bytes"
            )))
            .bind(&rec.org)
            .bind(&rec.plugin)
            .bind(rec.org_bytes)
            .bind(rec.upload_bytes)
            .bind(rec.resource_slots)
            .bind(rec.resource_bytes)
            .execute(&mut **tx)
            .await?;
            Ok(Outcome::Changed {
                before: before.and_then(|b| serde_json::to_string(&b).ok()),
                after: serde_json::to_string(rec).ok(),
                value: rec.clone(),
            })
        })
        .await
    }

    /// Remove an org's override with a plugin (the plugin's quotas apply again); false when
    /// there was none. Audited; durable on return.
    pub async fn clear_org_limits(
        &self,
        org: &str,
        plugin: &str,
        audit: AuditEntry,
    ) -> Result<bool, DbError> {
        self.audited(audit, async |tx| {
            let Some(before) = limits_in(tx, org, plugin).await? else {
                return Ok(Outcome::Unchanged(false));
            };
            sqlx::query("DELETE FROM org_limits WHERE org = $1 AND plugin = $2")
                .bind(org)
                .bind(plugin)
                .execute(&mut **tx)
                .await?;
            Ok(Outcome::Changed {
                before: serde_json::to_string(&before).ok(),
                after: None,
                value: true,
            })
        })
        .await
    }
}
