//! The gateway as a whole: its shared state ([`Gateway`], what every request and worker
//! reads), how it is assembled from a configuration ([`build`]), its background work
//! ([`spawn_background`]) and serving it until a signal ([`serve`]).

mod background;
mod build;
mod serve;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use background::{Background, spawn_background};
pub use build::{Built, build};
pub use serve::serve;

use crate::auth::CredentialStore;
use crate::control::Control;
use crate::http::EdgeLimits;
use crate::jobs::worker::WorkerEnv;
use crate::limits::{EffectiveLimits, Quotas, UploadCaps};
use crate::plugins::Plugin;
use crate::services::Services;

/// Everything a request needs, shared by all handlers.
pub struct Gateway {
    /// Who may call.
    pub credentials: CredentialStore,
    /// Orgs, admin tokens, the audit log, and this node's cache of them.
    pub control: Arc<Control>,
    /// Loaded plugins.
    pub plugins: Vec<Arc<Plugin>>,
    /// Database and object storage.
    pub services: Arc<Services>,
    /// Limits per plugin name.
    pub limits: Arc<HashMap<String, EffectiveLimits>>,
    /// Largest buffered JSON body.
    pub max_json_body: u64,
    /// Largest body a plugin may return itself.
    pub max_response_body: u64,
    /// How long a request body may go without a byte while it is waited on.
    pub body_idle_timeout: Duration,
    /// Caps on a client's uploads in flight.
    pub upload_caps: UploadCaps,
    /// Timeouts and head limits of the connections.
    pub edge: EdgeLimits,
}

impl Gateway {
    /// The limits in force for a plugin.
    pub fn limits(&self, plugin: &str) -> Option<&EffectiveLimits> {
        self.limits.get(plugin)
    }

    /// The storage quotas in force for `org` with a plugin: the plugin's (none for one not
    /// loaded) with the org's override.
    pub fn quotas(&self, org: &str, plugin: &str) -> Quotas {
        self.control
            .directory()
            .quotas()
            .quotas(&self.limits, org, plugin)
    }

    /// What the job workers need of the gateway: storage, limits, the source idle timeout.
    pub fn worker_env(&self) -> WorkerEnv {
        WorkerEnv {
            services: self.services.clone(),
            limits: self.limits.clone(),
            org_quotas: self.control.directory().quotas().clone(),
            body_idle_timeout: self.body_idle_timeout,
        }
    }
}

/// A timeout of `n` seconds, 0 meaning none (about a century, which no timer reaches).
pub fn seconds_or_forever(n: u64) -> Duration {
    Duration::from_secs(if n == 0 { 100 * 365 * 86_400 } else { n })
}
