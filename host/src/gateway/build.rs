//! Assembling a gateway from its configuration: database, object store, credentials,
//! plugins (with collision checks), config-declared resources, and the recovery of uploads
//! a previous run left behind.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;

use super::Gateway;
use crate::auth::CredentialStore;
use crate::config::{Config, SourceConfig};
use crate::control::{Control, Directory};
use crate::limits::{EffectiveLimits, UploadCaps};
use crate::plugins::{Plugin, PluginRuntime, manifest};
use crate::services::Services;
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
    let credentials = credentials(config)?;
    let runtime =
        Arc::new(PluginRuntime::new(&config.runtime).map_err(|e| anyhow::anyhow!("{e:#}"))?);
    let plugins = load_plugins(config, &runtime).await?;
    let control = control(config, &db).await?;
    seed_resources(config, &db).await?;
    let limits: HashMap<String, EffectiveLimits> = plugins
        .iter()
        .map(|p| {
            let m = &p.manifest;
            let overrides = config.plugins.get(&*p.name);
            (
                p.name.to_string(),
                EffectiveLimits::new(m.quotas, &m.rate_limits, overrides),
            )
        })
        .collect();
    let services = Arc::new(Services {
        db,
        objects,
        jobs_queued: Arc::new(tokio::sync::Notify::new()),
        volumes_dir: config.server.data_dir.join("volumes"),
    });
    recover(&services).await?;
    let gateway = Arc::new(Gateway {
        credentials,
        control,
        plugins,
        services,
        limits: Arc::new(limits),
        max_json_body: config.server.max_json_body,
        max_response_body: config.server.max_response_body,
        body_idle_timeout: super::seconds_or_forever(config.server.body_idle_timeout_seconds),
        upload_caps: UploadCaps {
            per_credential: config.server.max_uploads_per_credential,
            per_org: config.server.max_uploads_per_org,
        },
        edge: crate::http::EdgeLimits::new(&config.server),
    });
    Ok(Built { gateway, runtime })
}

/// The control plane: the file's orgs written to the database (those it lacks), the
/// bootstrap admin token, and this node's directory loaded once before serving.
async fn control(config: &Config, db: &Db) -> anyhow::Result<Arc<Control>> {
    let orgs: Vec<(String, String)> = config
        .orgs
        .iter()
        .map(|o| (o.id.clone(), o.name.clone().unwrap_or_else(|| o.id.clone())))
        .collect();
    db.seed_orgs(&orgs)
        .await
        .context("writing the configured orgs")?;
    let bootstrap = config
        .admin
        .bootstrap_digest()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let directory = Arc::new(Directory::default());
    directory
        .refresh(db)
        .await
        .context("reading the control plane's state")?;
    Ok(Arc::new(Control::new(db.clone(), bootstrap, directory)))
}

/// The configured credentials, with each plugin's JWT verifier.
fn credentials(config: &Config) -> anyhow::Result<CredentialStore> {
    let mut credentials = CredentialStore::new(&config.credentials)?;
    let orgs: HashSet<String> = config.orgs.iter().map(|o| o.id.clone()).collect();
    for (plugin, pc) in &config.plugins {
        if let Some(jwt) = &pc.jwt {
            let verifier = crate::auth::jwt::JwtVerifier::new(jwt, orgs.clone())
                .map_err(|e| anyhow::anyhow!("plugins.{plugin}.jwt: {e}"))?;
            credentials = credentials.with_jwt(plugin, verifier);
        }
    }
    Ok(credentials)
}

/// The plugins of the plugins directory that are enabled, checked for clashing names and
/// routes; credentials naming a plugin that is not loaded are warned about.
async fn load_plugins(
    config: &Config,
    runtime: &Arc<PluginRuntime>,
) -> anyhow::Result<Vec<Arc<Plugin>>> {
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
    let mut names = HashSet::new();
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
    Ok(plugins)
}

/// The resources the configuration declares, written (or updated) and made durable.
async fn seed_resources(config: &Config, db: &Db) -> anyhow::Result<()> {
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
        db.scoped(&r.org, &r.plugin).upsert_resource(&rec).await?;
    }
    db.sync().await?;
    Ok(())
}

/// Uploads a previous run left behind: reclaimed once their lease has expired, and on a
/// single node (one SQLite file) at once, with the temporary objects no upload accounts for.
async fn recover(services: &Services) -> anyhow::Result<()> {
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
    Ok(())
}

fn source_json(s: &SourceConfig) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "null".into())
}
