//! Per-org sequences (`ids.next-in-sequence`) and the `documents` table: a plugin's small
//! JSON records, with revisions for compare-and-swap.

use sqlx::Row;

use super::ingests::next_in_sequence;
use super::*;

/// What [`Db::delete_document`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentDeleted {
    /// The document is gone.
    Yes,
    /// There was no such document.
    Missing,
    /// The document exists with another revision; nothing was deleted.
    RevisionMismatch,
}

impl Scoped<'_> {
    /// The next value of a named per-org, per-provider counter.
    pub async fn next_in_sequence(&self, name: &str) -> Result<i64, DbError> {
        let mut conn = self.db.write().await?;
        let mut tx = conn.begin().await?;
        let v = next_in_sequence(&mut tx, self.org, self.provider, name).await?;
        tx.commit().await?;
        drop(conn);
        self.db.sync().await?;
        Ok(v)
    }

    /// A document.
    pub async fn document(
        &self,
        collection: &str,
        key: &str,
    ) -> Result<Option<DocumentRecord>, DbError> {
        let row = sqlx::query("SELECT key, value, revision FROM documents WHERE org = $1 AND provider = $2 AND collection = $3 AND key = $4")
            .bind(self.org)
            .bind(self.provider)
            .bind(collection)
            .bind(key)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(DocumentRecord {
                    key: r.try_get(0)?,
                    value: r.try_get(1)?,
                    revision: r.try_get(2)?,
                })
            })
            .transpose()?)
    }

    /// Write a document, optionally only if its revision is `expected` (0: must not exist).
    /// Returns the new revision, or None on a revision conflict.
    pub async fn put_document(
        &self,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<i64>,
    ) -> Result<Option<i64>, DbError> {
        let row = match expected {
            Some(0) => sqlx::query("INSERT INTO documents (org, provider, collection, key, value, revision) VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT DO NOTHING RETURNING revision")
                .bind(self.org).bind(self.provider).bind(collection).bind(key).bind(value)
                .fetch_optional(&mut *self.db.write().await?).await?,
            Some(rev) => sqlx::query("UPDATE documents SET value = $1, revision = revision + 1 WHERE org = $2 AND provider = $3 AND collection = $4 AND key = $5 AND revision = $6 RETURNING revision")
                .bind(value).bind(self.org).bind(self.provider).bind(collection).bind(key).bind(rev)
                .fetch_optional(&mut *self.db.write().await?).await?,
            None => sqlx::query("INSERT INTO documents (org, provider, collection, key, value, revision) VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (org, provider, collection, key) DO UPDATE SET value = excluded.value, revision = documents.revision + 1 RETURNING revision")
                .bind(self.org).bind(self.provider).bind(collection).bind(key).bind(value)
                .fetch_optional(&mut *self.db.write().await?).await?,
        };
        if row.is_some() {
            self.db.sync().await?;
        }
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Delete a document; with `expected`, only while its revision still equals it.
    pub async fn delete_document(
        &self,
        (collection, key): (&str, &str),
        expected: Option<i64>,
    ) -> Result<DocumentDeleted, DbError> {
        let mut w = self.db.write().await?;
        let r = sqlx::query(
            "DELETE FROM documents WHERE org = $1 AND provider = $2 AND collection = $3 AND key = $4 \
             AND (CAST($5 AS BIGINT) IS NULL OR revision = $5)",
        )
        .bind(self.org)
        .bind(self.provider)
        .bind(collection)
        .bind(key)
        .bind(expected)
        .execute(&mut *w)
        .await?;
        if r.rows_affected() > 0 {
            drop(w);
            self.db.sync().await?;
            return Ok(DocumentDeleted::Yes);
        }
        if expected.is_none() {
            return Ok(DocumentDeleted::Missing);
        }
        let exists = sqlx::query(
            "SELECT 1 FROM documents WHERE org = $1 AND provider = $2 AND collection = $3 AND key = $4",
        )
        .bind(self.org)
        .bind(self.provider)
        .bind(collection)
        .bind(key)
        .fetch_optional(&mut *w)
        .await?;
        Ok(match exists {
            Some(_) => DocumentDeleted::RevisionMismatch,
            None => DocumentDeleted::Missing,
        })
    }

    /// Documents of a collection by key after a cursor.
    pub async fn documents(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DocumentRecord>, DbError> {
        let rows = sqlx::query("SELECT key, value, revision FROM documents WHERE org = $1 AND provider = $2 AND collection = $3 AND key > $4 ORDER BY key LIMIT $5")
            .bind(self.org)
            .bind(self.provider)
            .bind(collection)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(DocumentRecord {
                    key: r.try_get(0)?,
                    value: r.try_get(1)?,
                    revision: r.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }
}
