//! Object storage for backup bytes, through `object_store`: `file://` (default), `s3://`
//! (any S3-compatible store), `memory://`.
//!
//! Writes go to a temporary object that becomes visible only on [`TempObject::commit`]: on
//! the local filesystem the bytes are written under `.incoming/`, fsynced, renamed into place
//! and the directory fsynced (restic's rest-server recipe); on S3 a multipart upload whose id
//! the caller records (so a sweep can abort it if this process dies) is completed, or aborted
//! on failure; on other stores a multipart upload is completed or aborted. Reads, ranges and
//! deletes go through `object_store`.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::config::S3Config;

mod dirs;
mod local;
mod s3;
mod temp;

use dirs::DurableDirs;
use local::{LOCAL_QUEUE, LocalPaths, ToWriter, write_local};
use s3::{S3Upload, abort_upload, open_s3};
pub use temp::TempObject;
use temp::Writer;

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
    backend: Backend,
    fsync: bool,
}

/// How writes reach the store.
#[derive(Clone)]
enum Backend {
    /// Durable local writes bypass object_store's own multipart emulation so they can fsync.
    Local { root: PathBuf, dirs: DurableDirs },
    /// Multipart uploads driven part by part, so their id can be recorded and aborted later.
    S3 {
        multipart: Arc<dyn MultipartStore>,
        part_size: usize,
        parts_in_flight: usize,
    },
    /// object_store's generic multipart writer (`memory://`).
    Other,
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
/// S3's smallest part (every part but the last).
const S3_MIN_PART: u64 = 5 * 1024 * 1024;

impl Objects {
    /// Open `file://PATH`, `memory://`, or `s3://BUCKET[/PREFIX]` configured from the
    /// `AWS_*` environment variables alone.
    pub fn open(url: &str, fsync: bool) -> Result<Objects, ObjectError> {
        Self::open_with(url, fsync, &S3Config::default())
    }

    /// Open a store; `s3` says how an `s3://` URL is reached (unset keys come from `AWS_*`).
    pub fn open_with(url: &str, fsync: bool, s3: &S3Config) -> Result<Objects, ObjectError> {
        if let Some(path) = url.strip_prefix("file://") {
            let root = PathBuf::from(path);
            std::fs::create_dir_all(root.join(INCOMING))?;
            let root = root.canonicalize()?;
            let store = LocalFileSystem::new_with_prefix(&root)?;
            Ok(Objects {
                store: Arc::new(store),
                backend: Backend::Local {
                    dirs: DurableDirs::new(&root),
                    root,
                },
                fsync,
            })
        } else if let Some(rest) = url.strip_prefix("s3://") {
            open_s3(rest, s3)
        } else if url == "memory://" || url == "memory:" {
            Ok(Objects {
                store: Arc::new(InMemory::new()),
                backend: Backend::Other,
                fsync: false,
            })
        } else {
            Err(ObjectError::Unavailable(format!(
                "unsupported storage url {url:?} (use file://PATH, s3://BUCKET/PREFIX or memory://)"
            )))
        }
    }

    /// The temporary key recorded for an in-flight write (for crash cleanup).
    pub fn temp_key(&self, ingest_id: &str, final_key: &str) -> String {
        match self.backend {
            Backend::Local { .. } => format!("{INCOMING}/{ingest_id}"),
            Backend::S3 { .. } | Backend::Other => final_key.to_owned(),
        }
    }

    /// Whether this is the local filesystem store.
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }

    /// Start writing `final_key`; nothing is visible until `commit`.
    pub async fn begin(&self, ingest_id: &str, final_key: &str) -> Result<TempObject, ObjectError> {
        let writer = match &self.backend {
            Backend::Local { root, dirs } => {
                let temp = root.join(INCOMING).join(ingest_id);
                let dest = root.join(final_key);
                // the directory it will be published in is seen to while it is written
                let dir = dest.parent().unwrap_or(FsPath::new("/")).to_path_buf();
                let placed = (!dirs.known(&dir)).then(|| {
                    let (dirs, fsync) = (dirs.clone(), self.fsync);
                    tokio::spawn(async move { dirs.ensure(&dir, fsync).await })
                });
                let (tx, rx) = tokio::sync::mpsc::channel(LOCAL_QUEUE);
                let fsync = self.fsync;
                // the writer's thread creates the file and says whether it could: one
                // hand-off to a blocking thread instead of two
                let (created_tx, created) = tokio::sync::oneshot::channel();
                let paths = LocalPaths {
                    temp: temp.clone(),
                    dest: dest.clone(),
                };
                let worker = tokio::task::spawn_blocking(move || {
                    let file = std::fs::File::create(&paths.temp);
                    let _ = created_tx.send(
                        file.as_ref()
                            .map(|_| ())
                            .map_err(|e| std::io::Error::new(e.kind(), e.to_string())),
                    );
                    let file = file?;
                    let written = write_local(file, rx, fsync, &paths);
                    if written.is_err() {
                        // nothing was published: the temporary file goes (a crash before
                        // this is the sweeps' to clear, and so is a file that would not go)
                        match std::fs::remove_file(&paths.temp) {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                                tracing::warn!(path = %paths.temp.display(), error = %e, "could not remove temporary object");
                            }
                            _ => {}
                        }
                    }
                    written
                });
                created
                    .await
                    .map_err(|_| ObjectError::Failed("the object writer stopped".into()))??;
                Writer::Local {
                    tx: Some(tx),
                    worker,
                    temp,
                    placed,
                }
            }
            Backend::S3 {
                multipart,
                part_size,
                parts_in_flight,
            } => {
                let path = Path::from(final_key);
                let upload_id = multipart.create_multipart(&path).await?;
                Writer::S3(S3Upload {
                    store: multipart.clone(),
                    plain: self.store.clone(),
                    path,
                    upload_id,
                    part_size: *part_size,
                    parts_in_flight: *parts_in_flight,
                    pending: Vec::new(),
                    sending: VecDeque::new(),
                    parts: Vec::new(),
                })
            }
            Backend::Other => {
                let upload = self.store.put_multipart(&Path::from(final_key)).await?;
                Writer::Multipart(WriteMultipart::new_with_chunk_size(upload, MULTIPART_CHUNK))
            }
        };
        Ok(TempObject { writer })
    }

    /// Remove what a dead writer left: its temporary file, or its multipart upload and
    /// every part sent to it (`upload_id` as [`TempObject::upload_id`] gave it). Missing is
    /// fine.
    pub async fn remove_temp(
        &self,
        temp_key: &str,
        upload_id: Option<&str>,
    ) -> Result<(), ObjectError> {
        match (&self.backend, upload_id) {
            (Backend::Local { root, .. }, _) => {
                match tokio::fs::remove_file(root.join(temp_key)).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                    _ => Ok(()),
                }
            }
            (Backend::S3 { multipart, .. }, Some(id)) => {
                abort_upload(multipart.as_ref(), &Path::from(temp_key), id).await
            }
            // Not started yet (no upload id recorded), or an in-memory store: nothing to remove.
            _ => Ok(()),
        }
    }

    /// Remove every temporary object of the local store, for a single node starting up after
    /// it has reclaimed every recorded ingest: what is left was written by a process that
    /// died before its ingest's record reached the disk. Returns how many were removed.
    pub async fn clear_incoming(&self) -> Result<usize, ObjectError> {
        let all = self.incoming(std::time::Duration::ZERO).await?;
        self.remove_incoming(all).await
    }

    /// Remove the local store's temporary objects of these ingests (missing ones are fine);
    /// returns how many there were.
    pub async fn remove_incoming(&self, ids: Vec<String>) -> Result<usize, ObjectError> {
        let Backend::Local { root, .. } = &self.backend else {
            return Ok(0);
        };
        let dir = root.join(INCOMING);
        tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
            for id in &ids {
                match std::fs::remove_file(dir.join(id)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            Ok(ids.len())
        })
        .await
        .map_err(|e| ObjectError::Failed(e.to_string()))?
        .map_err(ObjectError::from)
    }

    /// The ingest ids of the local store's temporary objects (each is named after its
    /// ingest) not written to for `idle` or longer; none for other stores.
    pub async fn incoming(&self, idle: std::time::Duration) -> Result<Vec<String>, ObjectError> {
        let Backend::Local { root, .. } = &self.backend else {
            return Ok(Vec::new());
        };
        let dir = root.join(INCOMING);
        let ids = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
            let mut ids = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let meta = match entry.metadata() {
                    Ok(meta) => meta,
                    // published or removed since it was listed
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let age = meta.modified()?.elapsed().unwrap_or_default();
                if meta.is_file()
                    && age >= idle
                    && let Ok(id) = entry.file_name().into_string()
                {
                    ids.push(id);
                }
            }
            Ok(ids)
        })
        .await
        .map_err(|e| ObjectError::Failed(e.to_string()))??;
        Ok(ids)
    }

    /// Delete an object (missing is fine).
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete objects a committed delete left unreferenced (logged when one cannot be: the
    /// record is gone, so nothing reaches it any more).
    pub async fn delete_unreferenced(&self, keys: &[String]) {
        for key in keys {
            if let Err(e) = self.delete(key).await {
                tracing::error!(key = %key, error = %e, "orphaned object after delete");
            }
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

#[cfg(test)]
mod tests;
