//! What every request consults, kept in memory: the suspended orgs, each org's quota
//! overrides and the credentials
//! issued at runtime (as a [`CredentialStore`]: authenticating costs no database round
//! trip). A watcher polls the
//! database's control version and reloads the directory when it moved, on every node; a
//! failed poll keeps the last good state (logged) and tries again.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::{CredentialStore, Issued};
use crate::config::SchemeConfig;
use crate::limits::{OrgQuotas, QuotaOverride};
use crate::store::{CredentialRecord, Db, DbError};

/// How often each node asks whether the control plane changed.
pub const POLL: Duration = Duration::from_millis(250);

/// The control-plane state a node serves requests by.
#[derive(Debug, Default)]
pub struct Directory {
    suspended: RwLock<HashSet<String>>,
    quotas: Arc<OrgQuotas>,
    issued: RwLock<Arc<CredentialStore>>,
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

    /// Every org's quota overrides (shared with the job workers).
    pub fn quotas(&self) -> &Arc<OrgQuotas> {
        &self.quotas
    }

    /// The credentials issued at runtime, as of the last reload.
    pub fn issued(&self) -> Arc<CredentialStore> {
        self.issued.read().map(|s| s.clone()).unwrap_or_default()
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
        let issued: Vec<Issued> = db
            .credentials(None, true)
            .await?
            .iter()
            .filter_map(issued)
            .collect();
        let overrides = db
            .all_org_limits()
            .await?
            .into_iter()
            .map(|l| ((l.org.clone(), l.plugin.clone()), quota_override(&l)))
            .collect();
        self.quotas.replace(overrides);
        if let Ok(mut s) = self.suspended.write() {
            *s = suspended;
        }
        if let Ok(mut s) = self.issued.write() {
            *s = Arc::new(CredentialStore::issued(&issued));
        }
        if let Ok(mut v) = self.version.write() {
            *v = Some(version);
        }
        Ok(true)
    }
}

/// A stored override as the core takes it (a negative number, which the API never
/// writes, reads as unlimited).
pub fn quota_override(l: &crate::store::OrgLimitsRecord) -> QuotaOverride {
    let bytes = |v: Option<i64>| v.map(|n| u64::try_from(n).unwrap_or(0));
    QuotaOverride {
        org_bytes: bytes(l.org_bytes),
        upload_bytes: bytes(l.upload_bytes),
        resource_slots: l.resource_slots.map(|n| u32::try_from(n).unwrap_or(0)),
        resource_bytes: bytes(l.resource_bytes),
    }
}

/// A stored credential as the authenticator takes it (`None`, logged, if its row is not
/// one this version wrote).
fn issued(c: &CredentialRecord) -> Option<Issued> {
    let digest = |h: &str| <[u8; 32]>::try_from(hex::decode(h).ok()?).ok();
    let scheme = match c.scheme.as_str() {
        "basic" => SchemeConfig::Basic,
        "bearer" => SchemeConfig::Bearer,
        "header" => SchemeConfig::Header,
        _ => {
            tracing::warn!(credential = %c.id, scheme = %c.scheme, "unknown scheme; credential left out");
            return None;
        }
    };
    let previous = match (&c.previous_sha256, c.previous_until) {
        (Some(h), Some(until)) => digest(h).map(|d| (d, until)),
        _ => None,
    };
    Some(Issued {
        org: c.org.clone(),
        plugin: c.plugin.clone(),
        scheme,
        header: c.header.clone(),
        key: c.key.clone(),
        subject: c.subject.clone(),
        scopes: c.scopes.clone(),
        expires_at: c.expires_at,
        digest: digest(&c.secret_sha256)?,
        previous,
    })
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
