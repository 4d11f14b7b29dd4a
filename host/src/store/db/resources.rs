//! The `resources` table: the resources of an org and provider, declared by configuration
//! or created by plugins.

use super::*;

impl Scoped<'_> {
    /// Insert or refresh a resource declared in the config (state is kept if present). Not
    /// synced: the caller syncs once after declaring them all.
    pub async fn upsert_resource(&self, r: &ResourceRecord) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO resources (org, provider, kind, id, name, state, attributes, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (org, provider, kind, id) DO UPDATE SET name = excluded.name, \
             attributes = excluded.attributes, source = excluded.source",
        )
        .bind(self.org)
        .bind(self.provider)
        .bind(&r.kind)
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.state)
        .bind(&r.attributes)
        .bind(&r.source)
        .bind(r.created_at)
        .execute(&mut *self.db.write().await?)
        .await?;
        Ok(())
    }

    /// A resource of the org.
    pub async fn resource(&self, kind: &str, id: &str) -> Result<Option<ResourceRecord>, DbError> {
        let row = sqlx::query(
            "SELECT kind, id, name, state, attributes, source, created_at FROM resources \
             WHERE org = $1 AND provider = $2 AND kind = $3 AND id = $4",
        )
        .bind(self.org)
        .bind(self.provider)
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(resource_from_row).transpose()?)
    }

    /// Resources of a kind by id after a cursor, optionally only those whose attributes hold
    /// a top-level `key` with the JSON string `value`. The key is the caller's to check (the
    /// plugin import allows 1-64 of `[A-Za-z0-9._-]`); it is bound, never interpolated.
    pub async fn resources(
        &self,
        kind: &str,
        after: Option<&str>,
        attribute: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<ResourceRecord>, DbError> {
        let filter = match (attribute, self.db.engine) {
            (None, _) => "",
            (Some(_), Engine::Sqlite) => {
                " AND json_type(attributes, '$.\"' || $6 || '\"') = 'text' \
                 AND json_extract(attributes, '$.\"' || $6 || '\"') = $7"
            }
            (Some(_), Engine::Postgres) => {
                " AND jsonb_typeof(attributes::jsonb -> $6::text) = 'string' \
                 AND attributes::jsonb ->> $6::text = $7::text"
            }
        };
        let sql = format!(
            "SELECT kind, id, name, state, attributes, source, created_at FROM resources \
             WHERE org = $1 AND provider = $2 AND kind = $3 AND id > $4{filter} ORDER BY id LIMIT $5"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(self.org)
            .bind(self.provider)
            .bind(kind)
            .bind(after.unwrap_or(""))
            .bind(limit);
        if let Some((key, value)) = attribute {
            q = q.bind(key).bind(value);
        }
        let rows = q.fetch_all(&self.db.pool).await?;
        Ok(rows
            .iter()
            .map(resource_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Set a resource's state; false when it does not exist.
    pub async fn set_resource_state(
        &self,
        kind: &str,
        id: &str,
        state: &str,
    ) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE resources SET state = $1 WHERE org = $2 AND provider = $3 AND kind = $4 AND id = $5",
        )
        .bind(state)
        .bind(self.org)
        .bind(self.provider)
        .bind(kind)
        .bind(id)
        .execute(&mut *self.db.write().await?)
        .await?;
        self.db.sync().await?;
        Ok(r.rows_affected() > 0)
    }

    /// Insert a new resource; false when one with that kind and id exists.
    pub async fn insert_resource(&self, r: &ResourceRecord) -> Result<bool, DbError> {
        let res = sqlx::query(
            "INSERT INTO resources (org, provider, kind, id, name, state, attributes, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(self.org)
        .bind(self.provider)
        .bind(&r.kind)
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.state)
        .bind(&r.attributes)
        .bind(&r.source)
        .bind(r.created_at)
        .execute(&mut *self.db.write().await?)
        .await?;
        self.db.sync().await?;
        Ok(res.rows_affected() > 0)
    }
}
