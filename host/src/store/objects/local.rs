//! Local writes: one writer thread per temporary file, fed a couple of blocks at a time,
//! which also syncs it, waits for the commit's go-ahead, renames it into place and syncs the
//! directory.

use std::path::{Path as FsPath, PathBuf};

use bytes::Bytes;

/// Chunks queued for a local writer thread (each is a body chunk, not a copy). Two are
/// enough to overlap hashing with writing; more only holds memory when the disk is slower
/// than the network (measured: 16 queued chunks let 32 uploads reach 300 MiB RSS).
pub(super) const LOCAL_QUEUE: usize = 2;

/// What a local writer thread is told.
pub(super) enum ToWriter {
    /// Append these bytes.
    Bytes(Bytes),
    /// Flush and (with fsync) sync the file, then wait for the go-ahead: on `true` rename it
    /// into place and (with fsync) sync its directory; on `false` (or none) discard it.
    Commit(tokio::sync::oneshot::Receiver<bool>),
}

/// Where a local writer's file is written and where it is published.
pub(super) struct LocalPaths {
    pub(super) temp: PathBuf,
    pub(super) dest: PathBuf,
}

/// The local writer thread: append bytes until told to commit (flush, sync, then publish on
/// the go-ahead) or until the queue closes without it (an abort: no sync). Everything after
/// the last byte — the file's sync, the rename, the directory's sync — happens on this one
/// thread, so a commit costs one hand-off to it and one back. Hashing on the request's task
/// and writing here run on different cores. On an error the caller removes the temporary
/// file.
pub(super) fn write_local(
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
pub(super) const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;

/// Start (not wait for) writeback of a written range, so the disk works while the upload
/// is still arriving; without it a large file's every byte is flushed only by the final
/// fsync, serially. Best effort: on failure the final fsync still makes the data durable.
#[cfg(target_os = "linux")]
pub(super) fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
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
pub(super) fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}
