//! Limits: the storage quotas and rate windows a plugin's manifest declares, the operator's
//! overrides merged over them ([`EffectiveLimits`]), each org's own quota overrides
//! ([`OrgQuotas`], set through the control plane), and the caps on a client's uploads in
//! flight. Provider-neutral: the manifest parses into these, the core enforces them.

use std::collections::{BTreeMap, HashMap};

use crate::config::PluginConfig;

/// A validated rate-limit window.
#[derive(Debug, Clone)]
pub struct RateSpec {
    /// Class name.
    pub class: String,
    /// Counted per org rather than per subject.
    pub per_org: bool,
    /// Window length.
    pub window_seconds: u32,
    /// Requests per window.
    pub max_requests: u32,
}

/// Storage limits (0 = unlimited).
#[derive(Debug, Clone, Copy, Default)]
pub struct Quotas {
    /// Org bytes.
    pub org_bytes: u64,
    /// Per upload.
    pub upload_bytes: u64,
    /// Per resource, count.
    pub resource_slots: u32,
    /// Per resource, bytes.
    pub resource_bytes: u64,
}

/// Limits in force for one plugin: its manifest's defaults with the operator's overrides.
#[derive(Debug, Clone, Default)]
pub struct EffectiveLimits {
    /// Storage limits.
    pub quotas: Quotas,
    /// Rate limits by class.
    pub rates: BTreeMap<String, RateSpec>,
}

impl EffectiveLimits {
    /// Merge a manifest's defaults with a plugin's config section: a quota set there
    /// replaces the manifest's, a rate override changes a class the manifest declares (and
    /// cannot add one).
    pub fn new(
        quotas: Quotas,
        rates: &BTreeMap<String, RateSpec>,
        overrides: Option<&PluginConfig>,
    ) -> EffectiveLimits {
        let mut quotas = quotas;
        let mut rates = rates.clone();
        if let Some(o) = overrides {
            quotas.org_bytes = o.org_bytes.unwrap_or(quotas.org_bytes);
            quotas.upload_bytes = o.upload_bytes.unwrap_or(quotas.upload_bytes);
            quotas.resource_slots = o.resource_slots.unwrap_or(quotas.resource_slots);
            quotas.resource_bytes = o.resource_bytes.unwrap_or(quotas.resource_bytes);
            for (class, r) in &o.rate_limits {
                if let Some(spec) = rates.get_mut(class) {
                    spec.window_seconds = r.window_seconds.max(1);
                    spec.max_requests = r.max_requests;
                }
            }
        }
        EffectiveLimits { quotas, rates }
    }
}

/// The storage quotas in force for `plugin` (none for one not loaded).
pub fn quotas_of(limits: &HashMap<String, EffectiveLimits>, plugin: &str) -> Quotas {
    limits.get(plugin).map(|l| l.quotas).unwrap_or_default()
}

/// One org's quotas with one plugin, set through the control plane; each field given
/// replaces the plugin's (0 = unlimited), each absent one leaves it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuotaOverride {
    /// Org bytes.
    pub org_bytes: Option<u64>,
    /// Per upload.
    pub upload_bytes: Option<u64>,
    /// Per resource, count.
    pub resource_slots: Option<u32>,
    /// Per resource, bytes.
    pub resource_bytes: Option<u64>,
}

impl QuotaOverride {
    /// `base` with this override's fields.
    pub fn over(&self, base: Quotas) -> Quotas {
        Quotas {
            org_bytes: self.org_bytes.unwrap_or(base.org_bytes),
            upload_bytes: self.upload_bytes.unwrap_or(base.upload_bytes),
            resource_slots: self.resource_slots.unwrap_or(base.resource_slots),
            resource_bytes: self.resource_bytes.unwrap_or(base.resource_bytes),
        }
    }
}

/// Every org's quota overrides, by (org, plugin): shared by the requests and the workers of
/// a node, replaced whole when the control plane changes.
#[derive(Debug, Default)]
pub struct OrgQuotas(std::sync::RwLock<HashMap<(String, String), QuotaOverride>>);

impl OrgQuotas {
    /// The quotas in force for `org` with `plugin`: the plugin's, with the org's override.
    pub fn quotas(
        &self,
        limits: &HashMap<String, EffectiveLimits>,
        org: &str,
        plugin: &str,
    ) -> Quotas {
        let base = quotas_of(limits, plugin);
        self.0
            .read()
            .ok()
            .and_then(|m| m.get(&(org.to_owned(), plugin.to_owned())).copied())
            .map_or(base, |o| o.over(base))
    }

    /// Replace every override.
    pub fn replace(&self, all: HashMap<(String, String), QuotaOverride>) {
        if let Ok(mut m) = self.0.write() {
            *m = all;
        }
    }
}

/// Caps on a client's uploads in flight (0: none), checked when the quota is reserved: one
/// credential cannot hold its org's quota (or the node) with stalled uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UploadCaps {
    /// Uploads one credential may have in flight to one plugin.
    pub per_credential: u32,
    /// Uploads one org may have in flight, all its credentials and plugins together.
    pub per_org: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateOverride;

    fn rate(class: &str) -> RateSpec {
        RateSpec {
            class: class.into(),
            per_org: false,
            window_seconds: 60,
            max_requests: 10,
        }
    }

    #[test]
    fn overrides_replace_what_they_set_and_cannot_add_classes() {
        let quotas = Quotas {
            org_bytes: 100,
            upload_bytes: 10,
            resource_slots: 3,
            resource_bytes: 50,
        };
        let rates = BTreeMap::from([("upload".to_owned(), rate("upload"))]);
        let mut o = PluginConfig {
            org_bytes: Some(7),
            ..PluginConfig::default()
        };
        o.rate_limits.insert(
            "upload".into(),
            RateOverride {
                window_seconds: 0,
                max_requests: 2,
            },
        );
        o.rate_limits.insert(
            "other".into(),
            RateOverride {
                window_seconds: 5,
                max_requests: 5,
            },
        );
        let l = EffectiveLimits::new(quotas, &rates, Some(&o));
        assert_eq!(l.quotas.org_bytes, 7);
        assert_eq!(l.quotas.upload_bytes, 10);
        assert_eq!(l.quotas.resource_slots, 3);
        let up = &l.rates["upload"];
        assert_eq!(
            (up.window_seconds, up.max_requests),
            (1, 2),
            "a 0 s window is 1 s"
        );
        assert!(!l.rates.contains_key("other"));
        let plain = EffectiveLimits::new(quotas, &rates, None);
        assert_eq!(plain.quotas.org_bytes, 100);
        assert_eq!(plain.rates["upload"].max_requests, 10);
    }
}
