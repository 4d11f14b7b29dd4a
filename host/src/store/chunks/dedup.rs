//! [`Dedup`]: a capture's bytes cut into chunks on a blocking thread, looked up in batches,
//! and the new ones appended to the capture's pack.

use std::collections::HashSet;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use super::index::placeholders;
use super::*;

/// The chunking side of an ingest, as a pipeline beside the stream's own SHA-256: a
/// blocking thread cuts the bytes and hashes the chunks (the other core's work), and a task
/// asks the database which chunks the org already holds (in batches) and appends only the
/// others to the pack. The pack is the task's until [`Dedup::finish`] hands it back.
pub struct Dedup {
    input: Option<tokio::sync::mpsc::Sender<Bytes>>,
    consumer: tokio::task::JoinHandle<(TempObject, Result<ChunkPlan, DedupError>)>,
}

/// Hashed chunks handed from the chunking thread to the storing task.
pub(super) type Batch = Vec<(String, Bytes)>;

impl Dedup {
    /// Start deduplicating into `pack` (whose key is `pack_key`) for this org and provider.
    pub fn start(db: &Db, org: &str, provider: &str, pack_key: &str, pack: TempObject) -> Dedup {
        let (input, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let (batches, mut batch_rx) = tokio::sync::mpsc::channel::<Batch>(2);
        tokio::task::spawn_blocking(move || {
            let mut chunker = Chunker::default();
            let mut batch = Vec::with_capacity(LOOKUP_BATCH);
            let mut eof = false;
            loop {
                match rx.blocking_recv() {
                    Some(data) => chunker.push(&data),
                    None => eof = true,
                }
                while let Some(chunk) = chunker.next_chunk(eof) {
                    batch.push((hex::encode(Sha256::digest(&chunk)), chunk));
                    if batch.len() >= LOOKUP_BATCH
                        && batches.blocking_send(std::mem::take(&mut batch)).is_err()
                    {
                        return;
                    }
                }
                if eof {
                    if !batch.is_empty() {
                        let _ = batches.blocking_send(batch);
                    }
                    return;
                }
            }
        });
        let mut store = Storer {
            db: db.clone(),
            org: org.to_owned(),
            provider: provider.to_owned(),
            written: HashSet::new(),
            pack_len: 0,
            pack_buf: BytesMut::new(),
            pack,
            plan: ChunkPlan {
                pack_key: pack_key.to_owned(),
                chunks: Vec::new(),
            },
        };
        let consumer = tokio::spawn(async move {
            let mut result = Ok(());
            while let Some(batch) = batch_rx.recv().await {
                result = store.store(batch).await;
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() && !store.pack_buf.is_empty() {
                let rest = store.pack_buf.split().freeze();
                result = store.pack.write(rest).await.map_err(DedupError::Storage);
            }
            (store.pack, result.map(|()| store.plan))
        });
        Dedup {
            input: Some(input),
            consumer,
        }
    }

    /// Feed stream bytes. Fails only when the pipeline stopped (its error comes from
    /// [`Dedup::finish`]).
    pub async fn feed(&mut self, data: Bytes) -> Result<(), DedupError> {
        match &self.input {
            Some(tx) if tx.send(data).await.is_ok() => Ok(()),
            _ => Err(DedupError::Stopped),
        }
    }

    /// The stream ended (or failed): wait for the rest to be chunked and stored, and hand
    /// back the pack with the plan or the first error.
    pub async fn finish(mut self) -> (Option<TempObject>, Result<ChunkPlan, DedupError>) {
        self.input = None;
        match self.consumer.await {
            Ok((pack, result)) => (Some(pack), result),
            Err(e) => (
                None,
                Err(DedupError::Storage(ObjectError::Failed(format!(
                    "chunk pipeline: {e}"
                )))),
            ),
        }
    }
}

/// The storing end of the pipeline.
pub(super) struct Storer {
    db: Db,
    org: String,
    provider: String,
    written: HashSet<String>,
    pack_len: i64,
    pack_buf: BytesMut,
    pack: TempObject,
    plan: ChunkPlan,
}

impl Storer {
    async fn store(&mut self, batch: Batch) -> Result<(), DedupError> {
        let unknown: Vec<&str> = batch
            .iter()
            .map(|(h, _)| h.as_str())
            .filter(|h| !self.written.contains(*h))
            .collect();
        let held = existing(&self.db, &self.org, &self.provider, &unknown).await?;
        for (hash, bytes) in batch {
            let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
            let new_offset = if held.contains(&hash) || self.written.contains(&hash) {
                None
            } else {
                let offset = self.pack_len;
                self.pack_buf.extend_from_slice(&bytes);
                if self.pack_buf.len() >= PACK_WRITE {
                    let piece = self.pack_buf.split().freeze();
                    self.pack.write(piece).await.map_err(DedupError::Storage)?;
                }
                self.pack_len += size;
                self.written.insert(hash.clone());
                Some(offset)
            };
            self.plan.chunks.push(ChunkRef {
                hash,
                size,
                new_offset,
            });
        }
        Ok(())
    }
}

/// Which of `hashes` the org already holds.
pub(super) async fn existing(
    db: &Db,
    org: &str,
    provider: &str,
    hashes: &[&str],
) -> Result<HashSet<String>, DbError> {
    let mut held = HashSet::new();
    for batch in hashes.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT hash FROM chunks WHERE org = $1 AND provider = $2 AND hash IN ({})",
            placeholders(3, batch.len(), 1)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(org).bind(provider);
        for h in batch {
            q = q.bind(*h);
        }
        for row in q.fetch_all(db.pool()).await? {
            held.insert(row.try_get::<String, _>(0)?);
        }
    }
    Ok(held)
}
