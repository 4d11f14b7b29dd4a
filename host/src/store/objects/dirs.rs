//! Which local directories are known durable, so an object renamed into one is as durable
//! as its own fsync says.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

/// Directories of the local store known to exist durably (their entry in their parent is on
/// disk). An object renamed into a directory is only as durable as the directory and its
/// ancestors: before publishing into a directory not known yet, the parent of it and of each
/// ancestor not known either is fsynced — also when they already exist, since another
/// writer may have created them and not finished syncing. The store's root counts as known;
/// directories found on disk count after their first use, at the price of their parents'
/// fsyncs once per process.
#[derive(Clone)]
pub(super) struct DurableDirs {
    pub(super) root: PathBuf,
    pub(super) known: Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
}

/// Directories remembered as durable at most (about one per resource).
pub(super) const MAX_KNOWN_DIRS: usize = 65_536;

impl DurableDirs {
    pub(super) fn new(root: &FsPath) -> DurableDirs {
        DurableDirs {
            root: root.to_path_buf(),
            known: Arc::default(),
        }
    }

    pub(super) fn known(&self, dir: &FsPath) -> bool {
        dir == self.root
            || self
                .known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(dir)
    }

    /// Make sure `dir` exists and (with `fsync`) will survive a crash.
    pub(super) async fn ensure(&self, dir: &FsPath, fsync: bool) -> std::io::Result<()> {
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
