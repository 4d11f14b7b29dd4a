//! The `admin_tokens` table: admin API tokens as the SHA-256 of the token, with scopes and
//! an optional expiry; revoked tokens stay (revocation is a time, for the audit trail).

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{AuditEntry, Outcome, Tx};
use super::*;

/// An admin token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminTokenRecord {
    /// Id (UUIDv7), named in audit entries as the actor.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Granted scopes (`read`, `write`, `plugins`).
    pub scopes: Vec<String>,
    /// µs since the epoch, when it stops working.
    pub expires_at: Option<i64>,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch, when it was revoked.
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, name, scopes, expires_at, created_at, revoked_at";

fn from_row(r: &AnyRow) -> Result<AdminTokenRecord, sqlx::Error> {
    let scopes: String = r.try_get(2)?;
    Ok(AdminTokenRecord {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        expires_at: r.try_get(3)?,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}

impl Db {
    /// Store a new token by the hex SHA-256 of its secret. Audited; durable on return.
    pub async fn insert_admin_token(
        &self,
        rec: &AdminTokenRecord,
        sha256_hex: &str,
        audit: AuditEntry,
    ) -> Result<(), DbError> {
        self.audited(audit, async |tx| {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO admin_tokens ({COLUMNS}, sha256) VALUES ($1, $2, $3, $4, $5, NULL, $6)"
            )))
            .bind(&rec.id)
            .bind(&rec.name)
            .bind(serde_json::to_string(&rec.scopes).unwrap_or_else(|_| "[]".into()))
            .bind(rec.expires_at)
            .bind(rec.created_at)
            .bind(sha256_hex)
            .execute(&mut **tx)
            .await?;
            Ok(Outcome::Changed {
                value: (),
                before: None,
                after: serde_json::to_string(rec).ok(),
            })
        })
        .await
    }

    /// The token whose secret hashes to `sha256_hex`, revoked or not.
    pub async fn admin_token_by_hash(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<AdminTokenRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM admin_tokens WHERE sha256 = $1"
        )))
        .bind(sha256_hex)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Every token, oldest first.
    pub async fn admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM admin_tokens ORDER BY created_at, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Revoke a token (again is a no-op that keeps the first time); `None` when there is no
    /// such token. Audited; durable on return.
    pub async fn revoke_admin_token(
        &self,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<AdminTokenRecord>, DbError> {
        self.audited(audit, async |tx| {
            let Some(before) = token_in(tx, id).await? else {
                return Ok(Outcome::Unchanged(None));
            };
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, {}) WHERE id = $1",
                self.now_sql()
            )))
            .bind(id)
            .execute(&mut **tx)
            .await?;
            Ok(Outcome::replaced(&before, token_in(tx, id).await?))
        })
        .await
    }
}

async fn token_in(tx: &mut Tx<'_>, id: &str) -> Result<Option<AdminTokenRecord>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM admin_tokens WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}
