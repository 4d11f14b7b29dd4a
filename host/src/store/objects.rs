//! Object storage for backup bytes, through `object_store`: `file://` (default), `memory://`.
//!
//! Writes go to a temporary object that becomes visible only on [`TempObject::commit`]: on
//! the local filesystem the bytes are written under `.incoming/`, fsynced, renamed into place
//! and the directory fsynced (restic's rest-server recipe); on other stores a multipart upload
//! is completed, or aborted on failure. Reads, ranges and deletes go through `object_store`.

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

/// An object-storage failure.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The object does not exist.
    #[error("object not found")]
    NotFound,
    /// The store could not be configured or reached.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// A read or write failed.
    #[error("object store: {0}")]
    Failed(String),
}

impl From<object_store::Error> for ObjectError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => ObjectError::NotFound,
            other => ObjectError::Failed(other.to_string()),
        }
    }
}

impl From<std::io::Error> for ObjectError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            ObjectError::NotFound
        } else {
            ObjectError::Failed(e.to_string())
        }
    }
}

/// The configured object store.
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// Root directory when the store is the local filesystem (durable writes bypass
    /// object_store's own multipart emulation so they can fsync).
    local_root: Option<PathBuf>,
    fsync: bool,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects")
            .field("store", &self.store.to_string())
            .field("fsync", &self.fsync)
            .finish()
    }
}

const INCOMING: &str = ".incoming";
const MULTIPART_CHUNK: usize = 8 * 1024 * 1024;

impl Objects {
    /// Open `file://PATH` or `memory://`.
    pub fn open(url: &str, fsync: bool) -> Result<Objects, ObjectError> {
        if let Some(path) = url.strip_prefix("file://") {
            let root = PathBuf::from(path);
            std::fs::create_dir_all(root.join(INCOMING))?;
            let root = root.canonicalize()?;
            let store = LocalFileSystem::new_with_prefix(&root)?;
            Ok(Objects {
                store: Arc::new(store),
                local_root: Some(root),
                fsync,
            })
        } else if url == "memory://" || url == "memory:" {
            Ok(Objects {
                store: Arc::new(InMemory::new()),
                local_root: None,
                fsync: false,
            })
        } else {
            Err(ObjectError::Unavailable(format!(
                "unsupported storage url {url:?} (use file://PATH or memory://)"
            )))
        }
    }

    /// The temporary key recorded for an in-flight write (for crash cleanup).
    pub fn temp_key(&self, ingest_id: &str, final_key: &str) -> String {
        match self.local_root {
            Some(_) => format!("{INCOMING}/{ingest_id}"),
            None => final_key.to_owned(),
        }
    }

    /// Start writing `final_key`; nothing is visible until `commit`.
    pub async fn begin(&self, ingest_id: &str, final_key: &str) -> Result<TempObject, ObjectError> {
        let writer = match &self.local_root {
            Some(root) => {
                let temp = root.join(INCOMING).join(ingest_id);
                let file = tokio::fs::File::create(&temp).await?.into_std().await;
                let (tx, rx) = tokio::sync::mpsc::channel(LOCAL_QUEUE);
                let fsync = self.fsync;
                Writer::Local {
                    tx: Some(tx),
                    worker: tokio::task::spawn_blocking(move || write_local(file, rx, fsync)),
                    temp,
                    dest: root.join(final_key),
                }
            }
            None => {
                let upload = self.store.put_multipart(&Path::from(final_key)).await?;
                Writer::Multipart(WriteMultipart::new_with_chunk_size(upload, MULTIPART_CHUNK))
            }
        };
        Ok(TempObject {
            writer,
            fsync: self.fsync,
        })
    }

    /// Remove a leftover temporary object of a dead writer (missing is fine).
    pub async fn remove_temp(&self, temp_key: &str) -> Result<(), ObjectError> {
        match &self.local_root {
            Some(root) => match tokio::fs::remove_file(root.join(temp_key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            },
            // An uncompleted multipart upload is invisible; stores expire abandoned parts.
            None => Ok(()),
        }
    }

    /// Delete an object (missing is fine).
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        match self.store.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Read a byte range.
    pub async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, ObjectError> {
        Ok(self.store.get_range(&Path::from(key), range).await?)
    }

    /// Stream an object (or a range of it) for a response.
    pub async fn stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, ObjectError>>, ObjectError> {
        let opts = object_store::GetOptions {
            range: range.map(object_store::GetRange::Bounded),
            ..Default::default()
        };
        let result = self.store.get_opts(&Path::from(key), opts).await?;
        Ok(result.into_stream().map_err(ObjectError::from).boxed())
    }
}

/// Chunks queued for a local writer thread (each is a body chunk, not a copy). Two are
/// enough to overlap hashing with writing; more only holds memory when the disk is slower
/// than the network (measured: 16 queued chunks let 32 uploads reach 300 MiB RSS).
const LOCAL_QUEUE: usize = 2;

/// The local writer thread: append chunks until an empty chunk says "commit" (then flush and,
/// with `fsync`, sync the file) or the queue closes without it (an abort: no sync).
/// Hashing on the request's task and writing here run on different cores.
fn write_local(
    file: std::fs::File,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
    fsync: bool,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
    let (mut written, mut flushed_to) = (0u64, 0u64);
    while let Some(chunk) = rx.blocking_recv() {
        if chunk.is_empty() {
            let file = out.into_inner().map_err(|e| e.into_error())?;
            if fsync {
                file.sync_all()?;
            }
            return Ok(());
        }
        out.write_all(&chunk)?;
        written += chunk.len() as u64;
        if fsync && written - flushed_to >= WRITEBACK_EVERY {
            out.flush()?;
            start_writeback(out.get_ref(), flushed_to, written - flushed_to);
            flushed_to = written;
        }
    }
    Err(std::io::Error::other("write aborted"))
}

/// Bytes after which a local writer asks the kernel to start writing back what it has
/// written so far, so the final fsync waits for little.
const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;

/// Start (not wait for) writeback of a written range, so the disk works while the upload
/// is still arriving; without it a large file's every byte is flushed only by the final
/// fsync, serially. Best effort: on failure the final fsync still makes the data durable.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd as _;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is open for the duration of the call (we hold `file`), and
    // sync_file_range only reads its integer arguments.
    let _ = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

enum Writer {
    Local {
        tx: Option<tokio::sync::mpsc::Sender<Bytes>>,
        worker: tokio::task::JoinHandle<std::io::Result<()>>,
        temp: PathBuf,
        dest: PathBuf,
    },
    Multipart(WriteMultipart),
}

/// An object being written; dropped without `commit`, it must be `abort`ed.
pub struct TempObject {
    writer: Writer,
    fsync: bool,
}

impl TempObject {
    /// Append bytes.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), ObjectError> {
        if chunk.is_empty() {
            return Ok(());
        }
        match &mut self.writer {
            Writer::Local { tx, .. } => {
                let sent = match tx {
                    Some(tx) => tx.send(chunk).await.is_ok(),
                    None => false,
                };
                if !sent {
                    // the writer thread stopped: its error surfaces on commit
                    return Err(ObjectError::Failed("local writer stopped".into()));
                }
            }
            Writer::Multipart(w) => {
                w.wait_for_capacity(4).await?;
                w.write(&chunk);
            }
        }
        Ok(())
    }

    /// Make the object durable and visible under its final key.
    pub async fn commit(self) -> Result<(), ObjectError> {
        match self.writer {
            Writer::Local {
                tx,
                worker,
                temp,
                dest,
            } => {
                let res: Result<(), ObjectError> = async {
                    if let Some(tx) = tx {
                        // an empty chunk asks the writer to flush and sync
                        let _ = tx.send(Bytes::new()).await;
                    }
                    worker
                        .await
                        .map_err(|e| ObjectError::Failed(e.to_string()))??;
                    let dir = dest.parent().unwrap_or(FsPath::new("/")).to_path_buf();
                    tokio::fs::create_dir_all(&dir).await?;
                    tokio::fs::rename(&temp, &dest).await?;
                    if self.fsync {
                        sync_dir(dir).await?;
                    }
                    Ok(())
                }
                .await;
                if res.is_err() {
                    let _ = tokio::fs::remove_file(&temp).await;
                }
                res
            }
            Writer::Multipart(w) => {
                w.finish().await?;
                Ok(())
            }
        }
    }

    /// Discard everything written.
    pub async fn abort(self) {
        match self.writer {
            Writer::Local {
                tx, worker, temp, ..
            } => {
                drop(tx);
                let _ = worker.await;
                if let Err(e) = tokio::fs::remove_file(&temp).await {
                    tracing::warn!(path = %temp.display(), error = %e, "could not remove temporary object");
                }
            }
            Writer::Multipart(w) => {
                if let Err(e) = w.abort().await {
                    tracing::warn!(error = %e, "could not abort multipart upload");
                }
            }
        }
    }
}

async fn sync_dir(dir: PathBuf) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_object_is_invisible_until_commit_and_gone_after_abort() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Objects::open(&format!("file://{}", dir.path().display()), true).unwrap();
        let mut t = objects.begin("i1", "org/sys/a.bin").await.unwrap();
        t.write(Bytes::from_static(b"hello ")).await.unwrap();
        t.write(Bytes::from_static(b"world")).await.unwrap();
        assert!(!objects.exists("org/sys/a.bin").await.unwrap());
        t.commit().await.unwrap();
        assert_eq!(
            objects.read_range("org/sys/a.bin", 6..11).await.unwrap(),
            Bytes::from_static(b"world")
        );
        let mut t = objects.begin("i2", "org/sys/b.bin").await.unwrap();
        t.write(Bytes::from_static(b"partial")).await.unwrap();
        t.abort().await;
        assert!(!objects.exists("org/sys/b.bin").await.unwrap());
        let incoming: Vec<_> = std::fs::read_dir(dir.path().join(INCOMING))
            .unwrap()
            .collect();
        assert!(incoming.is_empty(), "temporary files left: {incoming:?}");
    }

    #[tokio::test]
    async fn memory_store_round_trip() {
        let objects = Objects::open("memory://", false).unwrap();
        let mut t = objects.begin("i", "k/x").await.unwrap();
        t.write(Bytes::from(vec![7u8; 10])).await.unwrap();
        t.commit().await.unwrap();
        assert!(objects.exists("k/x").await.unwrap());
        objects.delete("k/x").await.unwrap();
        assert!(!objects.exists("k/x").await.unwrap());
    }
}
