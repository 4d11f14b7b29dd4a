//! Assembling a gateway from its configuration: database, object store, credentials,
//! plugins (with collision checks), config-declared resources, and the background sweeps;
//! then serving it with graceful shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::auth::CredentialStore;
use crate::config::{Config, SourceConfig};
use crate::http::{EffectiveLimits, Gateway};
use crate::plugins::{PluginRuntime, Services, manifest};
use crate::store::{Db, Objects, ResourceRecord, now_micros};

/// A built gateway and what keeps it running.
pub struct Built {
    /// The shared state the router serves.
    pub gateway: Arc<Gateway>,
    /// The engine and its epoch ticker; dropping it stops the ticker.
    pub runtime: Arc<PluginRuntime>,
}

/// Build everything the router needs from a configuration.
pub async fn build(config: &Config) -> anyhow::Result<Built> {
    std::fs::create_dir_all(&config.server.data_dir)
        .with_context(|| format!("creating data dir {}", config.server.data_dir.display()))?;
    let db = Db::connect(&config.database_url(), config.database.max_connections)
        .await
        .context("opening the metadata database")?
        .with_ingest_lease(config.storage.ingest_lease());
    let objects = Objects::open_with(
        &config.storage_url(),
        config.storage.fsync.unwrap_or(true),
        &config.storage.s3,
    )
    .context("opening object storage")?;
    let mut credentials = CredentialStore::new(&config.credentials)?;
    let orgs: std::collections::HashSet<String> =
        config.orgs.iter().map(|o| o.id.clone()).collect();
    for (plugin, pc) in &config.plugins {
        if let Some(jwt) = &pc.jwt {
            let verifier = crate::auth::jwt::JwtVerifier::new(jwt, orgs.clone())
                .map_err(|e| anyhow::anyhow!("plugins.{plugin}.jwt: {e}"))?;
            credentials = credentials.with_jwt(plugin, verifier);
        }
    }
    let runtime =
        Arc::new(PluginRuntime::new(&config.runtime).map_err(|e| anyhow::anyhow!("{e:#}"))?);
    let rt = runtime.clone();
    let (dir, cache) = (config.server.plugins_dir.clone(), config.cache_dir());
    let mut plugins = tokio::task::spawn_blocking(move || rt.load_dir(&dir, &cache))
        .await?
        .context("loading plugins")?;
    plugins.retain(|p| {
        config
            .plugins
            .get(&*p.name)
            .and_then(|c| c.enabled)
            .unwrap_or(true)
    });
    let mut names = std::collections::HashSet::new();
    for p in &plugins {
        if !names.insert(p.name.clone()) {
            anyhow::bail!("two plugins are named {:?} ({})", p.name, p.path.display());
        }
        tracing::info!(plugin = %p.name, version = %p.manifest.version, routes = p.manifest.routes.len(), cached = p.cached, path = %p.path.display(), "plugin loaded");
    }
    manifest::check_collisions(plugins.iter().map(|p| &p.manifest))?;
    for c in &config.credentials {
        if !names.contains(c.plugin.as_str()) {
            tracing::warn!(credential = %c.key, plugin = %c.plugin, "credential for a plugin that is not loaded");
        }
    }
    for r in &config.resources {
        let rec = ResourceRecord {
            kind: r.kind.clone(),
            id: r.id.clone(),
            name: r.name.clone().unwrap_or_else(|| r.id.clone()),
            state: r.state.clone().unwrap_or_else(|| "active".into()),
            attributes: serde_json::Value::Object(r.attributes.clone()).to_string(),
            source: r.source.as_ref().map(source_json),
            created_at: now_micros(),
        };
        db.upsert_resource(&r.org, &r.plugin, &rec).await?;
    }
    db.sync().await?;
    let limits: HashMap<String, EffectiveLimits> = plugins
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                EffectiveLimits::new(p, config.plugins.get(&*p.name)),
            )
        })
        .collect();
    let services = Arc::new(Services {
        db,
        objects,
        jobs_queued: Arc::new(tokio::sync::Notify::new()),
        volumes_dir: config.server.data_dir.join("volumes"),
    });
    // A single SQLite file means a single node: every in-flight ingest at start-up belongs
    // to a process that is gone.
    let single_node = services.db.engine() == crate::store::Engine::Sqlite;
    let n = crate::ingest::reclaim(&services.db, &services.objects, single_node).await?;
    if n > 0 {
        tracing::info!(count = n, "reclaimed uploads interrupted by a previous run");
    }
    if single_node {
        let orphans = services.objects.clear_incoming().await?;
        if orphans > 0 {
            tracing::info!(
                count = orphans,
                "removed temporary objects of unrecorded uploads"
            );
        }
    }
    let gateway = Arc::new(Gateway {
        credentials,
        plugins,
        services,
        limits,
        max_json_body: config.server.max_json_body,
        max_response_body: config.server.max_response_body,
        body_idle_timeout: seconds_or_forever(config.server.body_idle_timeout_seconds),
        upload_caps: crate::ingest::UploadCaps {
            per_credential: config.server.max_uploads_per_credential,
            per_org: config.server.max_uploads_per_org,
        },
        edge: crate::http::EdgeLimits::new(&config.server),
    });
    Ok(Built { gateway, runtime })
}

/// A timeout of `n` seconds, 0 meaning none (about a century, which no timer reaches).
pub fn seconds_or_forever(n: u64) -> Duration {
    Duration::from_secs(if n == 0 { 100 * 365 * 86_400 } else { n })
}

fn source_json(s: &SourceConfig) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "null".into())
}

/// The background work of a node: job workers and periodic housekeeping. Dropped, it is
/// aborted; [`Background::stop`] stops it gracefully.
pub struct Background {
    stop: CancellationToken,
    workers: Vec<tokio::task::JoinHandle<()>>,
    sweeps: tokio::task::JoinHandle<()>,
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
        for h in &self.workers {
            h.abort();
        }
    }
}

/// Start a node's background work: job workers and periodic housekeeping.
pub fn spawn_background(gw: Arc<Gateway>, config: &Config) -> Background {
    let node = config.node_id();
    tracing::info!(node = %node, "starting job workers and sweeps");
    let stop = CancellationToken::new();
    let workers = crate::jobs::worker::spawn(gw.clone(), config.jobs.clone(), &node, &stop);
    Background {
        stop,
        workers,
        sweeps: spawn_sweeps(gw, config.server.sweep_seconds),
    }
}

/// Periodic housekeeping: reclaim abandoned uploads (whichever node's they were), remove
/// temporary objects no upload accounts for, forget old rate-limit windows. Every node
/// sweeps; the steps are idempotent, so sweeps may overlap.
fn spawn_sweeps(gw: Arc<Gateway>, every_seconds: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every_seconds.max(1)));
        loop {
            tick.tick().await;
            let s = &gw.services;
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

/// Serve until SIGINT or SIGTERM, then give in-flight requests `grace` to finish.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let built = build(&config).await?;
    let gw = built.gateway.clone();
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, plugins = gw.plugins.len(), "backup-gateway listening");
    if config.server.print_examples {
        crate::demo::print_examples(&config, &gw, addr);
    }
    let background = spawn_background(gw.clone(), &config);
    let stopping = background.stopping();
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = crate::http::serve(listener, gw, async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests, handing back jobs");
        // the workers wind down while the requests finish
        stopping.cancel();
        let _ = tx.send(());
    });
    tokio::select! {
        () = server => {}
        _ = async { let _ = rx.await; tokio::time::sleep(grace).await } => {
            tracing::warn!("grace period over; exiting with requests still in flight");
        }
    }
    background.stop(grace).await;
    drop(built);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
