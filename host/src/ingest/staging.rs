//! Where an upload's bytes wait between the socket and the disk, and who hashes them.
//!
//! A large upload runs as three stages on three threads: the request task reads the socket
//! and copies the bytes into fixed-size blocks, a hashing thread runs SHA-256 over each
//! block, and the object writer writes it — so the hash, the slowest stage (one core's
//! SHA-256 rate), never waits for the others. The blocks come from one process-wide pool
//! with a fixed budget ([`BUDGET`]): however many uploads run at once, the bytes they hold
//! in flight never exceed it, an upload that finds the pool empty waits for a block (its
//! client is slowed by TCP flow control), and a finished upload's blocks are reused rather
//! than returned to the allocator. Copying out of hyper's read buffer at once also means a
//! queued chunk never pins one of those buffers.
//!
//! Three rules keep the shared budget from starving anyone. An upload asks for a block only
//! when it holds no full block that has not been handed on. A partly filled block is handed
//! on as soon as the client has nothing more ready ([`Stager::flush`]): a slow or stalled
//! client holds no block while it is quiet. And whoever is handed a block lets go of it as
//! soon as it has used it — the hashing thread once hashed, the local writer once written,
//! the S3 writer once copied into its part buffer — so blocks in flight always drain and a
//! wait for one always ends. (The S3 writer used to gather blocks into a part without
//! copying: a slow client's partial blocks, or five fast uploads' full ones, then held the
//! whole pool until their parts filled, and every upload waiting for a block waited forever.)
//!
//! A small upload (a capture of a few KiB, most jobs) is hashed on the request task: a
//! thread hand-off costs more than hashing it.

use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// Size of one staging block.
pub const BLOCK: usize = 512 * 1024;
/// Bytes all uploads together may hold in staging blocks.
pub const BUDGET: usize = 32 * 1024 * 1024;
/// Uploads at least this large (declared or bounded) get a hashing thread.
pub const THREADED_FROM: u64 = 4 * 1024 * 1024;
/// Blocks queued for an upload's hashing thread.
const HASH_QUEUE: usize = 2;

/// The process-wide block pool.
static POOL: LazyLock<Arc<Pool>> = LazyLock::new(|| Arc::new(Pool::new(BUDGET / BLOCK)));

/// Reusable blocks under a count limit.
struct Pool {
    permits: Arc<Semaphore>,
    free: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    fn new(blocks: usize) -> Pool {
        Pool {
            permits: Arc::new(Semaphore::new(blocks.max(1))),
            free: Mutex::new(Vec::new()),
        }
    }

    /// An empty block, waiting while the budget is used up.
    async fn take(self: &Arc<Self>) -> Block {
        // (never closed, so this never fails; if it did, the block would go unbudgeted)
        let permit = self.permits.clone().acquire_owned().await.ok();
        let buf = self
            .free
            .lock()
            .ok()
            .and_then(|mut f| f.pop())
            .unwrap_or_else(|| Vec::with_capacity(BLOCK));
        Block {
            buf,
            pool: self.clone(),
            _permit: permit,
        }
    }
}

/// A block being filled or in flight; returns to the pool when the last [`Bytes`] made from
/// it is dropped.
struct Block {
    buf: Vec<u8>,
    pool: Arc<Pool>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if let Ok(mut free) = self.pool.free.lock() {
            free.push(buf);
        }
    }
}

/// Hashes an upload's bytes and stages them for the writer.
pub struct Stager(Mode);

enum Mode {
    /// Small: hashed on the caller's task, chunks passed through as they came.
    Inline(Sha256),
    /// Large: blocks from the pool, hashed on their own thread.
    Threaded {
        filling: Option<Block>,
        to_hasher: mpsc::Sender<Bytes>,
        hasher: tokio::task::JoinHandle<Sha256>,
    },
}

impl Stager {
    /// For an upload of `size` bytes at most (0: unknown).
    pub fn new(size: u64) -> Stager {
        if size != 0 && size < THREADED_FROM {
            return Stager(Mode::Inline(Sha256::new()));
        }
        let (to_hasher, mut rx) = mpsc::channel::<Bytes>(HASH_QUEUE);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut h = Sha256::new();
            while let Some(block) = rx.blocking_recv() {
                h.update(&block);
            }
            h
        });
        Stager(Mode::Threaded {
            filling: None,
            to_hasher,
            hasher,
        })
    }

    /// Take bytes from the front of `chunk`: all of them, or up to the end of a block. Returns
    /// what is ready for the writer (hashed, or on its way to the hasher), which the caller
    /// hands on before pushing the rest of `chunk`.
    pub async fn push(&mut self, chunk: &mut Bytes) -> Result<Option<Bytes>, String> {
        match &mut self.0 {
            Mode::Inline(h) => {
                h.update(&chunk[..]);
                Ok(Some(std::mem::take(chunk)).filter(|c| !c.is_empty()))
            }
            Mode::Threaded {
                filling, to_hasher, ..
            } => {
                if chunk.is_empty() {
                    return Ok(None);
                }
                let block = match filling {
                    Some(block) => block,
                    None => filling.insert(POOL.take().await),
                };
                let n = chunk.len().min(BLOCK - block.buf.len());
                block.buf.extend_from_slice(&chunk.split_to(n));
                if block.buf.len() < BLOCK {
                    return Ok(None);
                }
                hand_on(filling, to_hasher).await
            }
        }
    }

    /// The client has nothing more ready: hand on a partly filled block rather than hold it.
    pub async fn flush(&mut self) -> Result<Option<Bytes>, String> {
        match &mut self.0 {
            Mode::Inline(_) => Ok(None),
            Mode::Threaded {
                filling, to_hasher, ..
            } => hand_on(filling, to_hasher).await,
        }
    }

    /// The end of the stream: the last partial block for the writer, and the digest.
    pub async fn finish(self) -> Result<(Option<Bytes>, [u8; 32]), String> {
        match self.0 {
            Mode::Inline(h) => Ok((None, h.finalize().into())),
            Mode::Threaded {
                mut filling,
                to_hasher,
                hasher,
            } => {
                let last = hand_on(&mut filling, &to_hasher).await?;
                drop(to_hasher);
                let h = hasher.await.map_err(|e| format!("hashing failed: {e}"))?;
                Ok((last, h.finalize().into()))
            }
        }
    }
}

/// Send the block being filled (if it holds anything) to the hasher; it is then the writer's.
async fn hand_on(
    filling: &mut Option<Block>,
    to_hasher: &mpsc::Sender<Bytes>,
) -> Result<Option<Bytes>, String> {
    let Some(block) = filling.take().filter(|b| !b.buf.is_empty()) else {
        return Ok(None);
    };
    let block = Bytes::from_owner(block);
    to_hasher
        .send(block.clone())
        .await
        .map_err(|_| "the hashing thread stopped".to_owned())?;
    Ok(Some(block))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    async fn run(size: u64, data: &[u8], cut: usize) -> (Vec<u8>, [u8; 32], usize) {
        let mut s = Stager::new(size);
        let (mut out, mut pieces) = (Vec::new(), 0);
        for c in data.chunks(cut) {
            let mut c = Bytes::copy_from_slice(c);
            while !c.is_empty() {
                if let Some(b) = s.push(&mut c).await.unwrap() {
                    out.extend_from_slice(&b);
                    pieces += 1;
                }
            }
        }
        let (last, digest) = s.finish().await.unwrap();
        if let Some(b) = last {
            out.extend_from_slice(&b);
            pieces += 1;
        }
        (out, digest, pieces)
    }

    #[tokio::test]
    async fn both_ways_pass_every_byte_in_order_and_hash_them() {
        let data = noise(3 * BLOCK + 12_345);
        let want: [u8; 32] = Sha256::digest(&data).into();
        // large: whole blocks plus the tail, whatever the chunking
        for cut in [1000, BLOCK, BLOCK + 1, 7 * BLOCK] {
            let (out, digest, pieces) = run(0, &data, cut).await;
            assert!(out == data, "cut {cut}");
            assert_eq!(digest, want);
            assert_eq!(pieces, 4);
        }
        // small: chunks as they came
        let small = noise(10_000);
        let (out, digest, pieces) = run(10_000, &small, 3000).await;
        assert_eq!(out, small);
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&small)));
        assert_eq!(pieces, 4);
        // empty
        let (out, digest, _) = run(0, &[], 1).await;
        assert!(out.is_empty());
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest([])));
    }

    #[tokio::test]
    async fn a_quiet_client_holds_no_block_and_many_uploads_never_deadlock_the_budget() {
        let mut s = Stager::new(0);
        let mut c = Bytes::from(noise(1000));
        assert!(s.push(&mut c).await.unwrap().is_none());
        let partial = s.flush().await.unwrap().unwrap();
        assert_eq!(partial.len(), 1000);
        assert!(
            s.flush().await.unwrap().is_none(),
            "nothing left to hand on"
        );
        drop(partial);
        let (_, digest) = s.finish().await.unwrap();
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(noise(1000))));
        // three times as many uploads as the budget has blocks, each writing at once what
        // it is handed: all finish
        let uploads: Vec<_> = (0..3 * BUDGET / BLOCK)
            .map(|i| {
                tokio::spawn(async move {
                    let data = noise(2 * BLOCK + i);
                    run(0, &data, 100_000 + i).await.0 == data
                })
            })
            .collect();
        let all = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            let mut ok = 0;
            for u in uploads {
                ok += usize::from(u.await.unwrap());
            }
            ok
        })
        .await
        .expect("uploads waiting on staging blocks never finished");
        assert_eq!(all, 3 * BUDGET / BLOCK);
    }

    #[tokio::test]
    async fn the_budget_bounds_blocks_in_flight_and_they_are_reused() {
        let pool = Arc::new(Pool::new(2));
        let a = Bytes::from_owner(pool.take().await);
        let b = pool.take().await;
        // the third waits until one of the two is dropped (every clone of it)
        let a2 = a.clone();
        let mut third = Box::pin(pool.take());
        assert!(futures_util::poll!(&mut third).is_pending());
        drop(a);
        assert!(
            futures_util::poll!(&mut third).is_pending(),
            "a clone still holds it"
        );
        drop(a2);
        let c = third.await;
        assert_eq!(
            pool.free.lock().unwrap().len(),
            0,
            "the freed buffer was reused"
        );
        drop((b, c));
        assert_eq!(pool.free.lock().unwrap().len(), 2);
        assert_eq!(pool.permits.available_permits(), 2);
    }
}
