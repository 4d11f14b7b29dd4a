//! Orgs through the control plane: create, list, read with usage, rename, suspend and
//! resume, delete (refused while the org holds anything), and their quota overrides per
//! plugin. Each change is audited in its own
//! transaction and reaches every node's [`super::Directory`] within a poll.

use std::collections::HashMap;

use serde::Serialize;

use super::{Actor, Control, ControlError, audit};
use crate::config::is_key_segment;
use crate::limits::{EffectiveLimits, QuotaOverride};
use crate::store::{OrgChange, OrgDeleted, OrgLimitsRecord, OrgRecord, ProviderUsage};

/// An org to create.
#[derive(Debug, Clone)]
pub struct NewOrg {
    /// Id: 1-64 of `[A-Za-z0-9._-]` (it appears in object keys).
    pub id: String,
    /// Display name (default: the id).
    pub name: Option<String>,
}

/// A change to an org; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct OrgUpdate {
    /// New display name.
    pub name: Option<String>,
    /// Suspend (`true`) or resume (`false`).
    pub suspended: Option<bool>,
}

/// An org with what it stores, per provider, against its quota there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgView {
    /// The org.
    #[serde(flatten)]
    pub org: OrgRecord,
    /// Per provider it used.
    pub usage: Vec<UsageView>,
}

/// One provider's usage by an org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageView {
    /// Bytes used, reserved and the backup count.
    #[serde(flatten)]
    pub usage: ProviderUsage,
    /// The org quota in force with this provider (0: none).
    pub limit_bytes: u64,
}

fn check_name(name: &str) -> Result<(), ControlError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(ControlError::invalid("/name", "must be 1-200 characters"));
    }
    Ok(())
}

impl Control {
    /// Create an org.
    pub async fn create_org(&self, actor: &Actor, new: NewOrg) -> Result<OrgRecord, ControlError> {
        if !is_key_segment(&new.id) {
            return Err(ControlError::invalid(
                "/id",
                "must be 1-64 characters of [A-Za-z0-9._-], not . or ..",
            ));
        }
        let name = new.name.unwrap_or_else(|| new.id.clone());
        check_name(&name)?;
        let entry = audit(
            actor,
            Some(&new.id),
            "org.create",
            format!("org/{}", new.id),
        );
        self.db
            .insert_org(&new.id, name.trim(), entry)
            .await?
            .ok_or_else(|| ControlError::Conflict(format!("org {:?} exists", new.id)))
    }

    /// Every org.
    pub async fn orgs(&self) -> Result<Vec<OrgRecord>, ControlError> {
        Ok(self.db.orgs().await?)
    }

    /// One org with its usage against the quotas in `limits`.
    pub async fn org(
        &self,
        id: &str,
        limits: &HashMap<String, EffectiveLimits>,
    ) -> Result<OrgView, ControlError> {
        let org = self
            .db
            .org(id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("org {id:?}")))?;
        let usage = self
            .db
            .org_usage(id)
            .await?
            .into_iter()
            .map(|usage| UsageView {
                limit_bytes: self
                    .directory
                    .quotas()
                    .quotas(limits, id, &usage.provider)
                    .org_bytes,
                usage,
            })
            .collect();
        Ok(OrgView { org, usage })
    }

    /// Rename, suspend or resume an org.
    pub async fn update_org(
        &self,
        actor: &Actor,
        id: &str,
        update: OrgUpdate,
    ) -> Result<OrgRecord, ControlError> {
        if let Some(name) = &update.name {
            check_name(name)?;
        }
        let action = match update.suspended {
            Some(true) => "org.suspend",
            Some(false) => "org.resume",
            None => "org.update",
        };
        let change = OrgChange {
            name: update.name.map(|n| n.trim().to_owned()),
            suspended: update.suspended,
        };
        let entry = audit(actor, Some(id), action, format!("org/{id}"));
        self.db
            .update_org(id, &change, entry)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("org {id:?}")))
    }

    /// Delete an org that holds no backups, resources or uploads in flight.
    pub async fn delete_org(&self, actor: &Actor, id: &str) -> Result<OrgRecord, ControlError> {
        let entry = audit(actor, Some(id), "org.delete", format!("org/{id}"));
        match self.db.delete_org(id, entry).await? {
            OrgDeleted::Yes(rec) => Ok(rec),
            OrgDeleted::Missing => Err(ControlError::NotFound(format!("org {id:?}"))),
            OrgDeleted::NotEmpty(n) => Err(ControlError::Conflict(format!(
                "org {id:?} still holds {n} backup(s), resource(s) or upload(s) in flight: delete them first"
            ))),
        }
    }

    /// Set an org's quotas with a plugin (each given field replaces the plugin's; 0 is
    /// unlimited); applies to the next upload or capture on every node within a poll.
    pub async fn set_org_limits(
        &self,
        actor: &Actor,
        org: &str,
        plugin: &str,
        limits: QuotaOverride,
    ) -> Result<OrgLimitsRecord, ControlError> {
        if self.db.org(org).await?.is_none() {
            return Err(ControlError::NotFound(format!("org {org:?}")));
        }
        let big = |v: Option<u64>, pointer: &str| match v.map(i64::try_from) {
            Some(Err(_)) => Err(ControlError::invalid(pointer, "too large")),
            Some(Ok(n)) => Ok(Some(n)),
            None => Ok(None),
        };
        let rec = OrgLimitsRecord {
            org: org.to_owned(),
            plugin: plugin.to_owned(),
            org_bytes: big(limits.org_bytes, "/org_bytes")?,
            upload_bytes: big(limits.upload_bytes, "/upload_bytes")?,
            resource_slots: limits.resource_slots.map(i64::from),
            resource_bytes: big(limits.resource_bytes, "/resource_bytes")?,
        };
        let entry = audit(
            actor,
            Some(org),
            "org.limits.set",
            format!("org/{org}/limits/{plugin}"),
        );
        Ok(self.db.set_org_limits(&rec, entry).await?)
    }

    /// Remove an org's override with a plugin: the plugin's quotas apply again.
    pub async fn clear_org_limits(
        &self,
        actor: &Actor,
        org: &str,
        plugin: &str,
    ) -> Result<(), ControlError> {
        let entry = audit(
            actor,
            Some(org),
            "org.limits.clear",
            format!("org/{org}/limits/{plugin}"),
        );
        match self.db.clear_org_limits(org, plugin, entry).await? {
            true => Ok(()),
            false => Err(ControlError::NotFound(format!(
                "limits of org {org:?} with {plugin:?}"
            ))),
        }
    }
}
