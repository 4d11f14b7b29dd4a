//! A node's background work: the job workers, the periodic housekeeping sweeps and the
//! control-plane watcher, and their graceful stop.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Gateway;
use crate::config::Config;
use crate::services::Services;
use crate::store::now_micros;

/// The background work of a node: job workers and periodic housekeeping. Dropped, it is
/// aborted; [`Background::stop`] stops it gracefully.
pub struct Background {
    stop: CancellationToken,
    workers: Vec<tokio::task::JoinHandle<()>>,
    sweeps: tokio::task::JoinHandle<()>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Background {
    /// A token that, cancelled, starts the workers' graceful stop (see [`Background::stop`]).
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stop: the sweeps at once; each worker cancels the job it runs (cleaned up: nothing
    /// stays stored or reserved) and hands it, and any job it claimed ahead, back to the
    /// queue without using up an attempt, so another node (or this one, restarted) takes it
    /// at once rather than after its lease. Workers still busy after `grace` are aborted.
    pub async fn stop(mut self, grace: Duration) {
        self.stop.cancel();
        self.sweeps.abort();
        self.watcher.abort();
        let aborts: Vec<_> = self.workers.iter().map(|h| h.abort_handle()).collect();
        let workers = futures_util::future::join_all(self.workers.iter_mut());
        if tokio::time::timeout(grace, workers).await.is_err() {
            tracing::warn!("job workers still busy after the grace period; aborted");
        }
        for a in aborts {
            a.abort();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.sweeps.abort();
        self.watcher.abort();
        for h in &self.workers {
            h.abort();
        }
    }
}

/// Start a node's background work: job workers, periodic housekeeping and the watcher that
/// keeps the control-plane directory current.
pub fn spawn_background(gw: Arc<Gateway>, config: &Config) -> Background {
    let node = config.node_id();
    tracing::info!(node = %node, "starting job workers and sweeps");
    let stop = CancellationToken::new();
    let workers = crate::jobs::worker::spawn(gw.worker_env(), config.jobs.clone(), &node, &stop);
    let watcher = crate::control::spawn_watcher(
        gw.services.db.clone(),
        gw.control.directory().clone(),
        stop.clone(),
    );
    Background {
        stop,
        workers,
        sweeps: spawn_sweeps(gw.services.clone(), config.server.sweep_seconds),
        watcher,
    }
}

/// Periodic housekeeping: reclaim abandoned uploads (whichever node's they were), remove
/// temporary objects no upload accounts for, forget old rate-limit windows. Every node
/// sweeps; the steps are idempotent, so sweeps may overlap.
fn spawn_sweeps(services: Arc<Services>, every_seconds: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every_seconds.max(1)));
        loop {
            tick.tick().await;
            let s = &services;
            if let Err(e) = crate::ingest::reclaim(&s.db, &s.objects, false).await {
                tracing::warn!(error = %e, "upload reclaim sweep failed");
            }
            if let Err(e) = crate::ingest::remove_unrecorded(&s.db, &s.objects).await {
                tracing::warn!(error = %e, "temporary object sweep failed");
            }
            let day_ago = (now_micros() / 1_000_000) - 86_400;
            if let Err(e) = s.db.prune_windows(day_ago).await {
                tracing::warn!(error = %e, "rate-window prune failed");
            }
        }
    })
}
