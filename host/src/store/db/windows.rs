//! The `rate_windows` table: fixed windows counted by the database's clock.

use sqlx::Row;

use super::*;

impl Db {
    /// Count one request in the current fixed window of `window_seconds` (by the database's
    /// clock, so every node agrees on the window) under `key`; returns the count including
    /// this request and the window's start in seconds since the epoch. Not synced: a count
    /// lost to a power cut lets a few requests more through.
    pub async fn hit_window(&self, key: &str, window_seconds: i64) -> Result<(i64, i64), DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO rate_windows (key, window_start, count) VALUES ($1, ({} / 1000000 / $2) * $2, 1) \
             ON CONFLICT (key, window_start) DO UPDATE SET count = rate_windows.count + 1 \
             RETURNING count, window_start",
            self.now_sql()
        )))
        .bind(key)
        .bind(window_seconds.max(1))
        .fetch_one(&mut *self.write().await?)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Forget windows that started before `before`.
    pub async fn prune_windows(&self, before: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM rate_windows WHERE window_start < $1")
            .bind(before)
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }
}
