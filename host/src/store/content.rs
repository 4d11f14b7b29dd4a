//! A backup's bytes, whatever their layout: one object, or chunks in packs
//! ([`super::chunks`]). Every reader (downloads, restores, `backups.read`) goes through here.

use std::ops::Range;

use bytes::Bytes;
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;

use super::chunks;
use super::{BackupRecord, Db, ObjectError, Objects};

fn unavailable(e: super::DbError) -> ObjectError {
    ObjectError::Unavailable(e.to_string())
}

/// Stream a backup's content, or a range of it (clamped by the caller to its size).
pub async fn stream(
    db: &Db,
    objects: &Objects,
    rec: &BackupRecord,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, ObjectError>>, ObjectError> {
    if !rec.chunked {
        return objects.stream(&rec.object_key, range).await;
    }
    let segments = chunks::layout(db, &rec.org, &rec.provider, &rec.id)
        .await
        .map_err(unavailable)?;
    let total: u64 = segments.iter().map(|s| s.range.end - s.range.start).sum();
    if total != u64::try_from(rec.size).unwrap_or(0) {
        return Err(ObjectError::Failed(format!(
            "chunk index of backup {} covers {total} of {} bytes",
            rec.id, rec.size
        )));
    }
    let segments = match range {
        Some(r) => chunks::slice(&segments, r),
        None => segments,
    };
    Ok(chunks::stream_segments(objects, segments))
}

/// Read a (small) range of a backup's content.
pub async fn read_range(
    db: &Db,
    objects: &Objects,
    rec: &BackupRecord,
    range: Range<u64>,
) -> Result<Bytes, ObjectError> {
    if !rec.chunked {
        return objects.read_range(&rec.object_key, range).await;
    }
    let parts: Vec<Bytes> = stream(db, objects, rec, Some(range))
        .await?
        .try_collect()
        .await?;
    Ok(parts.concat().into())
}

/// Whether every object the backup's content lives in is present.
pub async fn exists(db: &Db, objects: &Objects, rec: &BackupRecord) -> Result<bool, ObjectError> {
    if !rec.chunked {
        return objects.exists(&rec.object_key).await;
    }
    let segments = chunks::layout(db, &rec.org, &rec.provider, &rec.id)
        .await
        .map_err(unavailable)?;
    let mut keys: Vec<&str> = segments.iter().map(|s| s.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        if !objects.exists(key).await? {
            return Ok(false);
        }
    }
    Ok(true)
}
