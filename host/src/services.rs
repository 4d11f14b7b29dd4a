//! What the core works with on every node: the metadata database, the object store, the
//! wake-up of idle job workers and where resources' files live. Built once by
//! [`crate::gateway`], shared by requests, plugin calls and workers.

use std::sync::Arc;

use crate::store::{Db, Objects};

/// The node's storage and signals.
#[derive(Debug, Clone)]
pub struct Services {
    /// Metadata.
    pub db: Db,
    /// Backup bytes.
    pub objects: Objects,
    /// Wakes this node's idle job workers when a job is queued here (other nodes' workers
    /// find it by polling).
    pub jobs_queued: Arc<tokio::sync::Notify>,
    /// Where resources that plugins create get their file source (`resources.create`).
    pub volumes_dir: std::path::PathBuf,
}
