//! The `audit_log` table (append-only: rows are inserted, never updated or deleted) and the
//! `control_version` counter that every audited change (the control plane's, and backup
//! deletes) bumps in its own transaction, so nodes polling it reload their caches (a reload
//! reads the small `orgs` table; at most one per poll).

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::*;

/// What happened, by whom, to what; `before`/`after` are JSON without secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// `admin:<token id>`, `client:<org>/<subject>`, or `config`.
    pub actor: String,
    /// The org the change concerns, if any.
    pub org: Option<String>,
    /// e.g. `org.create`, `org.update`, `admin-token.revoke`, `backup.delete`.
    pub action: String,
    /// What was changed, e.g. `org/acme`.
    pub target: String,
    /// JSON of the state before, if there was one.
    pub before: Option<String>,
    /// JSON of the state after, if there is one.
    pub after: Option<String>,
}

/// An entry as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// UUIDv7.
    pub id: String,
    /// The database's time, µs since the epoch.
    pub at: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Which entries [`Db::audit_entries`] returns: oldest first, after a cursor.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries about this org.
    pub org: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only entries at or after this time (µs).
    pub since: Option<i64>,
    /// Only entries before this time (µs).
    pub until: Option<i64>,
    /// Entries after this one (its `(at, id)`).
    pub after: Option<(i64, String)>,
    /// At most this many (capped at 1000).
    pub limit: i64,
}

const COLUMNS: &str = "id, at, actor, org, action, target, before, after";

fn from_row(r: &AnyRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        id: r.try_get(0)?,
        at: r.try_get(1)?,
        entry: AuditEntry {
            actor: r.try_get(2)?,
            org: r.try_get(3)?,
            action: r.try_get(4)?,
            target: r.try_get(5)?,
            before: r.try_get(6)?,
            after: r.try_get(7)?,
        },
    })
}

/// What a change run by [`Db::audited`] did.
pub(super) enum Outcome<T> {
    /// It changed something: record the entry with this before and after, commit, sync.
    Changed {
        /// The caller's result.
        value: T,
        /// JSON of the state before.
        before: Option<String>,
        /// JSON of the state after.
        after: Option<String>,
    },
    /// It changed nothing (or must not take effect): roll back.
    Unchanged(T),
}

impl<R: Serialize> Outcome<Option<R>> {
    /// A record made (`None`: nothing was).
    pub(super) fn created(after: Option<R>) -> Self {
        match after {
            Some(a) => Outcome::Changed {
                before: None,
                after: serde_json::to_string(&a).ok(),
                value: Some(a),
            },
            None => Outcome::Unchanged(None),
        }
    }

    /// A record changed from `before` to `after` (`None`: it vanished, nothing to record).
    pub(super) fn replaced(before: &R, after: Option<R>) -> Self {
        match after {
            Some(a) => Outcome::Changed {
                before: serde_json::to_string(before).ok(),
                after: serde_json::to_string(&a).ok(),
                value: Some(a),
            },
            None => Outcome::Unchanged(None),
        }
    }
}

/// The transaction a change runs in.
pub(super) type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

impl Db {
    /// Run `change` in a write transaction; when it changed something, record `entry` (with
    /// the before and after it reports) and bump the control version in the same
    /// transaction, commit, and wait until it is durable. No change without its entry.
    pub(super) async fn audited<T>(
        &self,
        entry: AuditEntry,
        change: impl AsyncFnOnce(&mut Tx<'_>) -> Result<Outcome<T>, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let (value, before, after) = match change(&mut tx).await? {
            Outcome::Unchanged(v) => return Ok(v),
            Outcome::Changed {
                value,
                before,
                after,
            } => (value, before, after),
        };
        let entry = AuditEntry {
            before,
            after,
            ..entry
        };
        self.audit_in(&mut tx, &entry).await?;
        tx.commit().await?;
        drop(conn);
        self.sync().await?;
        Ok(value)
    }

    /// Record `entry` and bump the control version inside `tx` (the change's own
    /// transaction: no change without its entry, no entry without its change).
    pub(super) async fn audit_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        entry: &AuditEntry,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, {}, $2, $3, $4, $5, $6, $7)",
            self.now_sql()
        )))
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&entry.actor)
        .bind(&entry.org)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.before)
        .bind(&entry.after)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE control_version SET version = version + 1 WHERE id = 1")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Entries matching `q`, oldest first.
    pub async fn audit_entries(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, DbError> {
        let (after_at, after_id) = q.after.clone().unwrap_or((i64::MIN, String::new()));
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_log WHERE ($1 = '' OR org = $1) AND ($2 = '' OR action = $2) \
             AND at >= $3 AND at < $4 AND (at > $5 OR (at = $5 AND id > $6)) \
             ORDER BY at, id LIMIT $7"
        )))
        .bind(q.org.as_deref().unwrap_or(""))
        .bind(q.action.as_deref().unwrap_or(""))
        .bind(q.since.unwrap_or(i64::MIN))
        .bind(q.until.unwrap_or(i64::MAX))
        .bind(after_at)
        .bind(after_id)
        .bind(q.limit.clamp(0, 1000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// The control version: moves on every control-plane change, on any node.
    pub async fn control_version(&self) -> Result<i64, DbError> {
        Ok(
            sqlx::query_scalar("SELECT version FROM control_version WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
