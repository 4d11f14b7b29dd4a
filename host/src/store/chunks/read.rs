//! Reading chunked content: a backup's layout as segments of packs, sliced to a range, and
//! streamed.

use std::ops::Range;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::Row;

use super::*;

/// A contiguous piece of a chunked backup: `range` of the object `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Pack object.
    pub key: String,
    /// Bytes of it.
    pub range: Range<u64>,
}

/// A chunked backup's content as pack ranges in order, neighbours merged (a chain of
/// unchanged chunks of one pack reads as one range).
pub async fn layout(
    db: &Db,
    org: &str,
    provider: &str,
    backup_id: &str,
) -> Result<Vec<Segment>, DbError> {
    let rows = sqlx::query(
        "SELECT c.pack_key, c.pack_offset, bc.size FROM backup_chunks bc \
         JOIN chunks c ON c.org = $1 AND c.provider = $2 AND c.hash = bc.hash \
         WHERE bc.backup_id = $3 ORDER BY bc.idx",
    )
    .bind(org)
    .bind(provider)
    .bind(backup_id)
    .fetch_all(db.pool())
    .await?;
    let mut out: Vec<Segment> = Vec::new();
    for r in &rows {
        let key: String = r.try_get(0)?;
        let offset = u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0);
        let size = u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0);
        match out.last_mut() {
            Some(last) if last.key == key && last.range.end == offset => last.range.end += size,
            _ => out.push(Segment {
                key,
                range: offset..offset + size,
            }),
        }
    }
    Ok(out)
}

/// The pieces of `segments` that make up bytes `range` of the content.
pub fn slice(segments: &[Segment], range: Range<u64>) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    for s in segments {
        let len = s.range.end - s.range.start;
        let (start, end) = (pos, pos + len);
        pos = end;
        if end <= range.start {
            continue;
        }
        if start >= range.end {
            break;
        }
        let from = range.start.max(start) - start;
        let to = range.end.min(end) - start;
        out.push(Segment {
            key: s.key.clone(),
            range: s.range.start + from..s.range.start + to,
        });
    }
    out
}

/// Stream segments one after another.
pub fn stream_segments(
    objects: &Objects,
    segments: Vec<Segment>,
) -> BoxStream<'static, Result<Bytes, ObjectError>> {
    let objects = objects.clone();
    futures_util::stream::iter(segments)
        .then(move |s| {
            let objects = objects.clone();
            async move { objects.stream(&s.key, Some(s.range)).await }
        })
        .try_flatten()
        .boxed()
}
