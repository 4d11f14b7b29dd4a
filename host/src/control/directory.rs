//! What every request consults, kept in memory: the suspended orgs. A watcher polls the
//! database's control version and reloads the directory when it moved, on every node; a
//! failed poll keeps the last good state (logged) and tries again.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{Db, DbError};

/// How often each node asks whether the control plane changed.
pub const POLL: Duration = Duration::from_millis(250);

/// The control-plane state a node serves requests by.
#[derive(Debug, Default)]
pub struct Directory {
    suspended: RwLock<HashSet<String>>,
    version: RwLock<Option<i64>>,
}

impl Directory {
    /// Whether client requests of `org` are refused.
    pub fn is_suspended(&self, org: &str) -> bool {
        self.suspended
            .read()
            .map(|s| s.contains(org))
            .unwrap_or(false)
    }

    /// Reload from the database if its control version moved since the last load.
    pub async fn refresh(&self, db: &Db) -> Result<bool, DbError> {
        let version = db.control_version().await?;
        if self.version.read().is_ok_and(|v| *v == Some(version)) {
            return Ok(false);
        }
        let suspended: HashSet<String> = db
            .orgs()
            .await?
            .into_iter()
            .filter(|o| o.suspended)
            .map(|o| o.id)
            .collect();
        if let Ok(mut s) = self.suspended.write() {
            *s = suspended;
        }
        if let Ok(mut v) = self.version.write() {
            *v = Some(version);
        }
        Ok(true)
    }
}

/// Keep `directory` current until `stop`.
pub fn spawn_watcher(
    db: Db,
    directory: Arc<Directory>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            match directory.refresh(&db).await {
                Ok(_) if failing => {
                    tracing::info!("control-plane state readable again");
                    failing = false;
                }
                Ok(_) => {}
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "control-plane state unreadable; serving the last known");
                    failing = true;
                }
                Err(_) => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    })
}
