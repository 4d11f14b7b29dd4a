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
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::config::S3Config;

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

/// Open `s3://BUCKET[/PREFIX]`: the `AWS_*` variables first, then the configured keys.
fn open_s3(rest: &str, cfg: &S3Config) -> Result<Objects, ObjectError> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_matches('/');
    if bucket.is_empty() {
        return Err(ObjectError::Unavailable(
            "storage url s3:// names no bucket (use s3://BUCKET/PREFIX)".into(),
        ));
    }
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(v) = &cfg.endpoint {
        b = b.with_endpoint(v);
    }
    if let Some(v) = &cfg.region {
        b = b.with_region(v);
    }
    if let Some(v) = &cfg.access_key_id {
        b = b.with_access_key_id(v);
    }
    if let Some(v) = &cfg.secret_access_key {
        b = b.with_secret_access_key(v);
    }
    if let Some(v) = &cfg.session_token {
        b = b.with_token(v);
    }
    // path-style unless asked otherwise (here or by AWS_VIRTUAL_HOSTED_STYLE_REQUEST): what
    // self-hosted stores (Garage, MinIO…) expect
    if let Some(v) = cfg.virtual_hosted_style {
        b = b.with_virtual_hosted_style_request(v);
    }
    let endpoint = b.get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint);
    if cfg.allow_http == Some(true) || endpoint.as_deref().is_some_and(is_loopback_http) {
        b = b.with_allow_http(true);
    }
    let part_size = cfg.part_size_bytes.unwrap_or(MULTIPART_CHUNK as u64);
    if part_size < S3_MIN_PART {
        return Err(ObjectError::Unavailable(format!(
            "storage.s3.part_size_bytes must be at least {S3_MIN_PART} (S3's smallest part)"
        )));
    }
    let s3 = b
        .build()
        .map_err(|e| ObjectError::Unavailable(e.to_string()))?;
    let store = Arc::new(PrefixStore::new(s3, prefix));
    Ok(Objects {
        store: store.clone(),
        backend: Backend::S3 {
            multipart: store,
            part_size: usize::try_from(part_size).unwrap_or(MULTIPART_CHUNK),
            parts_in_flight: usize::try_from(cfg.parts_in_flight.unwrap_or(2).max(1)).unwrap_or(2),
        },
        fsync: false,
    })
}

/// `http://` to a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`), where plain HTTP
/// never leaves the machine.
fn is_loopback_http(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Abort a multipart upload, dropping every part sent to it; an upload that is already gone
/// (completed or aborted by someone else) is fine.
async fn abort_upload(
    store: &dyn MultipartStore,
    path: &Path,
    upload_id: &str,
) -> Result<(), ObjectError> {
    match store.abort_multipart(path, &upload_id.to_owned()).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Chunks queued for a local writer thread (each is a body chunk, not a copy). Two are
/// enough to overlap hashing with writing; more only holds memory when the disk is slower
/// than the network (measured: 16 queued chunks let 32 uploads reach 300 MiB RSS).
const LOCAL_QUEUE: usize = 2;

/// What a local writer thread is told.
enum ToWriter {
    /// Append these bytes.
    Bytes(Bytes),
    /// Flush and (with fsync) sync the file, then wait for the go-ahead: on `true` rename it
    /// into place and (with fsync) sync its directory; on `false` (or none) discard it.
    Commit(tokio::sync::oneshot::Receiver<bool>),
}

/// Where a local writer's file is written and where it is published.
struct LocalPaths {
    temp: PathBuf,
    dest: PathBuf,
}

/// The local writer thread: append bytes until told to commit (flush, sync, then publish on
/// the go-ahead) or until the queue closes without it (an abort: no sync). Everything after
/// the last byte — the file's sync, the rename, the directory's sync — happens on this one
/// thread, so a commit costs one hand-off to it and one back. Hashing on the request's task
/// and writing here run on different cores. On an error the caller removes the temporary
/// file.
fn write_local(
    file: std::fs::File,
    mut rx: tokio::sync::mpsc::Receiver<ToWriter>,
    fsync: bool,
    paths: &LocalPaths,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
    let (mut written, mut flushed_to) = (0u64, 0u64);
    while let Some(msg) = rx.blocking_recv() {
        let chunk = match msg {
            ToWriter::Bytes(chunk) => chunk,
            ToWriter::Commit(go) => {
                let file = out.into_inner().map_err(|e| e.into_error())?;
                if fsync {
                    file.sync_all()?;
                }
                drop(file);
                if go.blocking_recv() != Ok(true) {
                    return Err(std::io::Error::other("publication called off"));
                }
                std::fs::rename(&paths.temp, &paths.dest)?;
                if fsync {
                    let dir = paths.dest.parent().unwrap_or(FsPath::new("/"));
                    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
                        // not durable, so not published: nothing may refer to it
                        let _ = std::fs::remove_file(&paths.dest);
                        return Err(e);
                    }
                }
                return Ok(());
            }
        };
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
        tx: Option<tokio::sync::mpsc::Sender<ToWriter>>,
        worker: tokio::task::JoinHandle<std::io::Result<()>>,
        temp: PathBuf,
        /// Making the destination's directory durable, unless it was known to be.
        placed: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    },
    S3(S3Upload),
    Multipart(WriteMultipart),
}

/// A part being sent.
type PartTask = tokio::task::JoinHandle<Result<PartId, object_store::Error>>;

/// An S3 multipart upload driven part by part: body chunks are copied into a part buffer of
/// exactly `part_size` bytes, each full part sent by its own task, at most `parts_in_flight`
/// at once; the part ids are collected in order for completion.
///
/// The copy is what keeps a slow upload from starving every other: the chunks come from the
/// staging pool's blocks ([`crate::ingest`]), and a part gathered from them without copying
/// pinned every block — mostly empty ones, when a slow client's partial blocks were handed
/// on — until the part filled, so a few slow uploads (or five fast ones) held the whole pool
/// and every upload waiting for a block waited forever. Copied, a block goes back to the pool
/// as soon as it is written here, and an upload holds in memory just the bytes it has
/// received and not yet sent (at most one part, plus the parts in flight). The buffer is
/// reserved at its full size but only touched as it fills, so a quiet client's part costs
/// the bytes it sent, not `part_size`.
struct S3Upload {
    store: Arc<dyn MultipartStore>,
    /// For the one object a multipart upload cannot make: an empty one.
    plain: Arc<dyn ObjectStore>,
    path: Path,
    upload_id: String,
    part_size: usize,
    parts_in_flight: usize,
    /// The part being gathered (empty, with no allocation, between parts).
    pending: Vec<u8>,
    sending: VecDeque<PartTask>,
    parts: Vec<PartId>,
}

impl S3Upload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), ObjectError> {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if self.pending.capacity() == 0 {
                self.pending = Vec::with_capacity(self.part_size);
            }
            let n = rest.len().min(self.part_size - self.pending.len());
            self.pending.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.pending.len() == self.part_size {
                self.send_pending().await?;
            }
        }
        Ok(())
    }

    /// Send the gathered bytes as the next part, first waiting for the oldest part in
    /// flight when the window is full.
    async fn send_pending(&mut self) -> Result<(), ObjectError> {
        while self.sending.len() >= self.parts_in_flight {
            self.wait_oldest().await?;
        }
        let payload = PutPayload::from(Bytes::from(std::mem::take(&mut self.pending)));
        let (store, path, id) = (
            self.store.clone(),
            self.path.clone(),
            self.upload_id.clone(),
        );
        let idx = self.parts.len() + self.sending.len();
        self.sending.push_back(tokio::spawn(async move {
            store.put_part(&path, &id, idx, payload).await
        }));
        Ok(())
    }

    async fn wait_oldest(&mut self) -> Result<(), ObjectError> {
        if let Some(task) = self.sending.pop_front() {
            let part = task
                .await
                .map_err(|e| ObjectError::Failed(format!("part upload task: {e}")))??;
            self.parts.push(part);
        }
        Ok(())
    }

    async fn commit(mut self) -> Result<(), ObjectError> {
        let res = async {
            if !self.pending.is_empty() {
                self.send_pending().await?;
            }
            while !self.sending.is_empty() {
                self.wait_oldest().await?;
            }
            if self.parts.is_empty() {
                // S3 stores refuse empty parts (Garage does): an empty object is a plain PUT
                self.plain.put(&self.path, PutPayload::default()).await?;
                if let Err(e) =
                    abort_upload(self.store.as_ref(), &self.path, &self.upload_id).await
                {
                    tracing::warn!(key = %self.path, error = %e, "could not abort an unused (partless) multipart upload");
                }
                return Ok(());
            }
            let parts = std::mem::take(&mut self.parts);
            self.store
                .complete_multipart(&self.path, &self.upload_id, parts)
                .await?;
            Ok(())
        }
        .await;
        if res.is_err() {
            self.abort().await;
        }
        res
    }

    /// Abort the upload. Parts still in flight are waited for first (never cancelled
    /// mid-request): a part that lands after the abort would otherwise survive it.
    async fn abort(mut self) {
        while let Some(task) = self.sending.pop_front() {
            let _ = task.await;
        }
        if let Err(e) = abort_upload(self.store.as_ref(), &self.path, &self.upload_id).await {
            tracing::warn!(key = %self.path, error = %e, "could not abort multipart upload; the reclaim sweep will retry");
        }
    }
}

/// An object being written; dropped without `commit`, it must be `abort`ed.
pub struct TempObject {
    writer: Writer,
}

impl TempObject {
    /// The multipart upload id on S3, to record so that a sweep can abort the upload (and
    /// drop its parts) if this process dies before `commit` or `abort`.
    pub fn upload_id(&self) -> Option<&str> {
        match &self.writer {
            Writer::S3(u) => Some(&u.upload_id),
            Writer::Local { .. } | Writer::Multipart(_) => None,
        }
    }

    /// Append bytes.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), ObjectError> {
        if chunk.is_empty() {
            return Ok(());
        }
        match &mut self.writer {
            Writer::Local { tx, .. } => {
                let sent = match tx {
                    Some(tx) => tx.send(ToWriter::Bytes(chunk)).await.is_ok(),
                    None => false,
                };
                if !sent {
                    // the writer thread stopped: its error surfaces on commit
                    return Err(ObjectError::Failed("local writer stopped".into()));
                }
            }
            Writer::S3(u) => u.write(chunk).await?,
            Writer::Multipart(w) => {
                w.wait_for_capacity(4).await?;
                w.write(&chunk);
            }
        }
        Ok(())
    }

    /// Make the object durable and visible under its final key.
    pub async fn commit(self) -> Result<(), ObjectError> {
        self.commit_after(async { Ok(()) }).await
    }

    /// Make the object durable, wait for `gate` (while the object's own flush runs, the
    /// caller's record of it can be made durable), then make it visible under its final
    /// key; a failed gate discards the object.
    pub async fn commit_after<G>(self, gate: G) -> Result<(), ObjectError>
    where
        G: std::future::Future<Output = Result<(), ObjectError>>,
    {
        match self.writer {
            Writer::Local {
                tx,
                worker,
                temp,
                placed,
            } => {
                // the writer syncs the file while the caller's gate and the directory
                // are seen to, then waits for the go-ahead to publish
                let (go, go_rx) = tokio::sync::oneshot::channel();
                let asked = match tx {
                    Some(tx) => tx.send(ToWriter::Commit(go_rx)).await.is_ok(),
                    None => false,
                };
                let placed = async {
                    match placed {
                        Some(task) => task.await.map_err(std::io::Error::other)?,
                        None => Ok(()),
                    }
                };
                let (gated, placed) = tokio::join!(gate, placed);
                let _ = go.send(asked && gated.is_ok() && placed.is_ok());
                let written = match worker.await {
                    Ok(written) => written,
                    Err(died) => {
                        // a writer that fails removes its file itself; one that died cannot
                        let _ = tokio::fs::remove_file(&temp).await;
                        return Err(ObjectError::Failed(died.to_string()));
                    }
                };
                gated?;
                placed?;
                Ok(written?)
            }
            Writer::S3(u) => match gate.await {
                Ok(()) => u.commit().await,
                Err(e) => {
                    u.abort().await;
                    Err(e)
                }
            },
            Writer::Multipart(w) => {
                if let Err(e) = gate.await {
                    let _ = w.abort().await;
                    return Err(e);
                }
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
                // the writer, seeing its queue closed without a commit, removes its file
                drop(tx);
                if worker.await.is_err() {
                    let _ = tokio::fs::remove_file(&temp).await;
                }
            }
            Writer::S3(u) => u.abort().await,
            Writer::Multipart(w) => {
                if let Err(e) = w.abort().await {
                    tracing::warn!(error = %e, "could not abort multipart upload");
                }
            }
        }
    }
}

/// Directories of the local store known to exist durably (their entry in their parent is on
/// disk). An object renamed into a directory is only as durable as the directory and its
/// ancestors: before publishing into a directory not known yet, the parent of it and of each
/// ancestor not known either is fsynced — also when they already exist, since another
/// writer may have created them and not finished syncing. The store's root counts as known;
/// directories found on disk count after their first use, at the price of their parents'
/// fsyncs once per process.
#[derive(Clone)]
struct DurableDirs {
    root: PathBuf,
    known: Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
}

/// Directories remembered as durable at most (about one per resource).
const MAX_KNOWN_DIRS: usize = 65_536;

impl DurableDirs {
    fn new(root: &FsPath) -> DurableDirs {
        DurableDirs {
            root: root.to_path_buf(),
            known: Arc::default(),
        }
    }

    fn known(&self, dir: &FsPath) -> bool {
        dir == self.root
            || self
                .known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(dir)
    }

    /// Make sure `dir` exists and (with `fsync`) will survive a crash.
    async fn ensure(&self, dir: &FsPath, fsync: bool) -> std::io::Result<()> {
        // `dir` and its ancestors up to the first known one
        let mut unknown = Vec::new();
        let mut p = dir;
        while p.starts_with(&self.root) && !self.known(p) {
            unknown.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let unknown = tokio::task::spawn_blocking(move || {
            // `unknown[0]` is `dir`, the deepest
            std::fs::create_dir_all(&unknown[0])?;
            if fsync {
                for d in &unknown {
                    if let Some(parent) = d.parent() {
                        std::fs::File::open(parent)?.sync_all()?;
                    }
                }
            }
            Ok::<_, std::io::Error>(unknown)
        })
        .await
        .map_err(std::io::Error::other)??;
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() + unknown.len() > MAX_KNOWN_DIRS {
            // forgetting costs a few parent fsyncs the next time, nothing else
            known.clear();
        }
        known.extend(unknown);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_publish_into_new_directories_and_remember_them() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Objects::open(&format!("file://{}", dir.path().display()), true).unwrap();
        for (id, key) in [("i1", "org/a/b/one.bin"), ("i2", "org/a/b/two.bin")] {
            let mut t = objects.begin(id, key).await.unwrap();
            t.write(Bytes::from_static(b"x")).await.unwrap();
            t.commit().await.unwrap();
            assert_eq!(std::fs::read(dir.path().join(key)).unwrap(), b"x");
        }
        let Backend::Local { root, dirs } = &objects.backend else {
            panic!("local store expected");
        };
        // the directory and its new ancestors are remembered, the store's root always was
        assert!(dirs.known(&root.join("org/a/b")));
        assert!(dirs.known(&root.join("org/a")));
        assert!(dirs.known(root));
        assert!(!dirs.known(&root.join("org/c")));
        // a directory another writer made (here: by hand) is still synced and remembered
        std::fs::create_dir_all(root.join("org/c/d")).unwrap();
        dirs.ensure(&root.join("org/c/d"), true).await.unwrap();
        assert!(dirs.known(&root.join("org/c")) && dirs.known(&root.join("org/c/d")));
    }

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

    #[test]
    fn plain_http_is_allowed_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:3900",
            "http://127.8.0.1/",
            "http://localhost:9000/x",
            "http://[::1]:3900",
        ] {
            assert!(is_loopback_http(ok), "{ok}");
        }
        for no in [
            "https://127.0.0.1:3900",
            "http://10.0.0.1:3900",
            "http://s3.example.com",
            "http://localhost.example.com",
            "http://[::2]:3900",
        ] {
            assert!(!is_loopback_http(no), "{no}");
        }
    }

    #[test]
    fn s3_urls_need_a_bucket_and_parts_of_at_least_5_mib() {
        let e = Objects::open("s3://", false).unwrap_err();
        assert!(e.to_string().contains("no bucket"), "{e}");
        let cfg = S3Config {
            part_size_bytes: Some(1024),
            ..Default::default()
        };
        let e = Objects::open_with("s3://b/p", false, &cfg).unwrap_err();
        assert!(e.to_string().contains("part_size_bytes"), "{e}");
        assert!(Objects::open("ftp://x", false).is_err());
    }

    #[tokio::test]
    async fn a_failed_gate_discards_the_object_and_start_up_clears_orphaned_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Objects::open(&format!("file://{}", dir.path().display()), true).unwrap();
        let mut t = objects.begin("i1", "org/sys/a.bin").await.unwrap();
        t.write(Bytes::from_static(b"bytes")).await.unwrap();
        let refused = t
            .commit_after(async { Err(ObjectError::Failed("record not durable".into())) })
            .await;
        assert!(refused.is_err());
        assert!(!objects.exists("org/sys/a.bin").await.unwrap());
        assert!(!dir.path().join(INCOMING).join("i1").exists());
        // a temporary whose ingest record never reached the disk, beside a published object
        let mut t = objects.begin("i2", "org/sys/b.bin").await.unwrap();
        t.write(Bytes::from_static(b"kept")).await.unwrap();
        t.commit_after(async { Ok(()) }).await.unwrap();
        std::fs::write(dir.path().join(INCOMING).join("i3"), b"orphan").unwrap();
        assert_eq!(objects.clear_incoming().await.unwrap(), 1);
        assert!(!dir.path().join(INCOMING).join("i3").exists());
        assert!(objects.exists("org/sys/b.bin").await.unwrap());
        assert_eq!(objects.clear_incoming().await.unwrap(), 0);
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
