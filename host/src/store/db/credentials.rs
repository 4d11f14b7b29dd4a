//! The `credentials` table: client credentials issued at runtime (the configuration file's
//! stay in the file), the SHA-256 of the secret only, with expiry, revocation and rotation
//! (the previous secret's digest valid until a grace time). Each change is audited.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{AuditEntry, Outcome, Tx};
use super::*;

/// A credential as stored; its digests are never serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRecord {
    /// Id (UUIDv7).
    pub id: String,
    /// The org it acts for.
    pub org: String,
    /// The plugin it is valid for.
    pub plugin: String,
    /// `basic`, `bearer` or `header`.
    pub scheme: String,
    /// The header of the `header` scheme.
    pub header: Option<String>,
    /// Basic: the user name; others: a label.
    pub key: String,
    /// The subject the plugin sees.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When it stops working (µs), if ever.
    pub expires_at: Option<i64>,
    /// When the previous secret stops working (µs), after a rotation.
    pub previous_until: Option<i64>,
    /// µs since the epoch.
    pub created_at: i64,
    /// When it was revoked (µs).
    pub revoked_at: Option<i64>,
    /// Hex SHA-256 of the secret.
    #[serde(skip)]
    pub secret_sha256: String,
    /// Hex SHA-256 of the secret before the last rotation.
    #[serde(skip)]
    pub previous_sha256: Option<String>,
}

const COLUMNS: &str = "id, org, plugin, scheme, header, key, subject, scopes, expires_at, \
    previous_until, created_at, revoked_at, secret_sha256, previous_sha256";

fn from_row(r: &AnyRow) -> Result<CredentialRecord, sqlx::Error> {
    let scopes: String = r.try_get(7)?;
    Ok(CredentialRecord {
        id: r.try_get(0)?,
        org: r.try_get(1)?,
        plugin: r.try_get(2)?,
        scheme: r.try_get(3)?,
        header: r.try_get(4)?,
        key: r.try_get(5)?,
        subject: r.try_get(6)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        expires_at: r.try_get(8)?,
        previous_until: r.try_get(9)?,
        created_at: r.try_get(10)?,
        revoked_at: r.try_get(11)?,
        secret_sha256: r.try_get(12)?,
        previous_sha256: r.try_get(13)?,
    })
}

async fn credential_in(tx: &mut Tx<'_>, id: &str) -> Result<Option<CredentialRecord>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM credentials WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

impl Db {
    /// Store a new credential. Audited; durable on return.
    pub async fn insert_credential(
        &self,
        rec: &CredentialRecord,
        audit: AuditEntry,
    ) -> Result<(), DbError> {
        self.audited(audit, async |tx| {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO credentials ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, NULL, $11, NULL)"
            )))
            .bind(&rec.id)
            .bind(&rec.org)
            .bind(&rec.plugin)
            .bind(&rec.scheme)
            .bind(&rec.header)
            .bind(&rec.key)
            .bind(&rec.subject)
            .bind(serde_json::to_string(&rec.scopes).unwrap_or_else(|_| "[]".into()))
            .bind(rec.expires_at)
            .bind(rec.created_at)
            .bind(&rec.secret_sha256)
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

    /// One credential.
    pub async fn credential(&self, id: &str) -> Result<Option<CredentialRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM credentials WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Credentials, of one org or all, oldest first; `live` leaves out revoked ones.
    pub async fn credentials(
        &self,
        org: Option<&str>,
        live: bool,
    ) -> Result<Vec<CredentialRecord>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM credentials WHERE ($1 = '' OR org = $1) \
             AND ($2 = 0 OR revoked_at IS NULL) ORDER BY created_at, id"
        )))
        .bind(org.unwrap_or(""))
        .bind(i64::from(live))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Revoke a credential (again keeps the first time); `None` when there is none.
    /// Audited; durable on return.
    pub async fn revoke_credential(
        &self,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<CredentialRecord>, DbError> {
        let sql = format!(
            "UPDATE credentials SET revoked_at = COALESCE(revoked_at, {}) WHERE id = $1",
            self.now_sql()
        );
        self.audited(audit, async |tx| {
            let Some(before) = credential_in(tx, id).await? else {
                return Ok(Outcome::Unchanged(None));
            };
            sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .execute(&mut **tx)
                .await?;
            Ok(Outcome::replaced(&before, credential_in(tx, id).await?))
        })
        .await
    }

    /// Give a live credential a new secret (digest `sha256_hex`), the current one staying
    /// valid until `grace_until` (µs); `None` when there is no live one. Audited; durable on
    /// return.
    pub async fn rotate_credential(
        &self,
        id: &str,
        sha256_hex: &str,
        grace_until: i64,
        audit: AuditEntry,
    ) -> Result<Option<CredentialRecord>, DbError> {
        self.audited(audit, async |tx| {
            let Some(before) = credential_in(tx, id).await? else {
                return Ok(Outcome::Unchanged(None));
            };
            let r = sqlx::query(
                "UPDATE credentials SET previous_sha256 = secret_sha256, secret_sha256 = $2, \
                 previous_until = $3 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(sha256_hex)
            .bind(grace_until)
            .execute(&mut **tx)
            .await?;
            if r.rows_affected() == 0 {
                return Ok(Outcome::Unchanged(None));
            }
            Ok(Outcome::replaced(&before, credential_in(tx, id).await?))
        })
        .await
    }
}
