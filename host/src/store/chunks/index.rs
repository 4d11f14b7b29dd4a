//! The chunk index in the database: a capture's chunks and references committed with its
//! backup, and released with its delete (freeing chunks and emptying packs).

use std::collections::HashMap;

use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::*;

/// `($first, $first+1, …)` groups: `rows` groups of `width` placeholders.
pub(super) fn placeholders(first: usize, rows: usize, width: usize) -> String {
    let mut out = String::new();
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        if width > 1 {
            out.push('(');
        }
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * width + c).to_string());
        }
        if width > 1 {
            out.push(')');
        }
    }
    out
}

/// Record a chunked backup's content inside its commit transaction: new chunks (first
/// writer wins), references, positions and the pack's live count. Returns the bytes this
/// backup newly stored.
pub(in crate::store) async fn commit(
    tx: &mut Transaction<'_, Any>,
    org: &str,
    provider: &str,
    backup_id: &str,
    plan: &ChunkPlan,
) -> Result<i64, DbError> {
    // Every statement takes its row locks in hash order (and each batch follows the last),
    // so two transactions touching the same chunks wait for each other instead of
    // deadlocking on PostgreSQL.
    let mut new: Vec<&ChunkRef> = plan
        .chunks
        .iter()
        .filter(|c| c.new_offset.is_some())
        .collect();
    new.sort_unstable_by(|a, b| a.hash.cmp(&b.hash));
    let (mut stored, mut live) = (0i64, 0i64);
    for batch in new.chunks(ROWS_PER_STATEMENT / 2) {
        let sql = format!(
            "INSERT INTO chunks (org, provider, hash, size, pack_key, pack_offset, refs) VALUES {} \
             ON CONFLICT DO NOTHING RETURNING size",
            placeholders(1, batch.len(), 7)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for c in batch {
            q = q
                .bind(org)
                .bind(provider)
                .bind(&c.hash)
                .bind(c.size)
                .bind(&plan.pack_key)
                .bind(c.new_offset.unwrap_or(0))
                .bind(0i64);
        }
        for row in q.fetch_all(&mut **tx).await? {
            stored += row.try_get::<i64, _>(0)?;
            live += 1;
        }
    }
    // references: every position counts
    let mut counts: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for c in &plan.chunks {
        *counts.entry(c.hash.as_str()).or_default() += 1;
    }
    let counts: Vec<(&str, i64)> = counts.into_iter().collect();
    for batch in counts.chunks(ROWS_PER_STATEMENT / 2) {
        let n = add_refs(tx, org, provider, batch, 1).await?;
        if n != batch.len() as u64 {
            return Err(DbError::ChunkGone);
        }
    }
    for (b, batch) in plan.chunks.chunks(ROWS_PER_STATEMENT).enumerate() {
        let sql = format!(
            "INSERT INTO backup_chunks (backup_id, idx, hash, size) VALUES {}",
            placeholders(1, batch.len(), 4)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (i, c) in batch.iter().enumerate() {
            let idx = i64::try_from(b * ROWS_PER_STATEMENT + i).unwrap_or(i64::MAX);
            q = q.bind(backup_id).bind(idx).bind(&c.hash).bind(c.size);
        }
        q.execute(&mut **tx).await?;
    }
    if live > 0 {
        sqlx::query(
            "INSERT INTO packs (pack_key, org, provider, live_chunks) VALUES ($1, $2, $3, $4)",
        )
        .bind(&plan.pack_key)
        .bind(org)
        .bind(provider)
        .bind(live)
        .execute(&mut **tx)
        .await?;
    }
    Ok(stored)
}

/// Add `sign × n` to the reference count of each `(hash, n)` (sorted by hash) in one
/// statement; returns how many chunks were found.
pub(super) async fn add_refs(
    tx: &mut Transaction<'_, Any>,
    org: &str,
    provider: &str,
    batch: &[(&str, i64)],
    sign: i64,
) -> Result<u64, DbError> {
    let mut cases = String::new();
    for i in 0..batch.len() {
        let (h, n) = (3 + 2 * i, 4 + 2 * i);
        cases.push_str(&format!(" WHEN ${h} THEN ${n}"));
    }
    let hashes: Vec<String> = (0..batch.len())
        .map(|i| format!("${}", 3 + 2 * i))
        .collect();
    let sql = format!(
        "UPDATE chunks SET refs = refs + CASE hash{cases} ELSE 0 END \
         WHERE org = $1 AND provider = $2 AND hash IN ({})",
        hashes.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(org).bind(provider);
    for (hash, n) in batch {
        q = q.bind(*hash).bind(sign * n);
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}

/// Drop a chunked backup's references inside its delete transaction. Returns the bytes freed
/// (chunks left without a reference) and the packs left without a live chunk, whose
/// objects the caller deletes once the transaction commits.
pub(in crate::store) async fn release(
    tx: &mut Transaction<'_, Any>,
    org: &str,
    provider: &str,
    backup_id: &str,
) -> Result<(i64, Vec<String>), DbError> {
    let rows =
        sqlx::query("SELECT hash, COUNT(*) FROM backup_chunks WHERE backup_id = $1 GROUP BY hash")
            .bind(backup_id)
            .fetch_all(&mut **tx)
            .await?;
    let mut counts: Vec<(String, i64)> = rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    counts.sort_unstable();
    let counts: Vec<(&str, i64)> = counts.iter().map(|(h, n)| (h.as_str(), *n)).collect();
    for batch in counts.chunks(ROWS_PER_STATEMENT / 2) {
        add_refs(tx, org, provider, batch, -1).await?;
    }
    let dead = sqlx::query(
        "DELETE FROM chunks WHERE org = $1 AND provider = $2 AND refs <= 0 \
         AND hash IN (SELECT hash FROM backup_chunks WHERE backup_id = $3) \
         RETURNING size, pack_key",
    )
    .bind(org)
    .bind(provider)
    .bind(backup_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut freed = 0i64;
    let mut per_pack: HashMap<String, i64> = HashMap::new();
    for r in &dead {
        freed += r.try_get::<i64, _>(0)?;
        *per_pack.entry(r.try_get(1)?).or_default() += 1;
    }
    let mut empty = Vec::new();
    for (pack, n) in per_pack {
        let left: Option<i64> = sqlx::query_scalar(
            "UPDATE packs SET live_chunks = live_chunks - $1 WHERE pack_key = $2 RETURNING live_chunks",
        )
        .bind(n)
        .bind(&pack)
        .fetch_optional(&mut **tx)
        .await?;
        if left.is_some_and(|l| l <= 0) {
            sqlx::query("DELETE FROM packs WHERE pack_key = $1")
                .bind(&pack)
                .execute(&mut **tx)
                .await?;
            empty.push(pack);
        }
    }
    sqlx::query("DELETE FROM backup_chunks WHERE backup_id = $1")
        .bind(backup_id)
        .execute(&mut **tx)
        .await?;
    Ok((freed, empty))
}
