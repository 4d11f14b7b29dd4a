//! Who and what the gateway serves: orgs, credentials, resources (with their capture
//! sources) and each plugin's overrides (limits, JWT verification).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// Org id; appears in object keys.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// How a credential is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemeConfig {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: Basic base64(key:secret)`.
    Basic,
    /// A token in a named header (`header = "SEC"`).
    Header,
}

/// A credential: who may call which plugin, as whom, with which scopes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// Org the credential acts for.
    pub org: String,
    /// Provider (plugin) name the credential is valid for.
    pub plugin: String,
    /// How it is presented.
    pub scheme: SchemeConfig,
    /// Basic: the user name (e.g. an appliance's system key). Bearer/header: a label.
    pub key: String,
    /// The secret (basic password or whole token) in clear; hashed at load, never kept.
    #[serde(default)]
    pub secret: Option<String>,
    /// Hex SHA-256 of the secret, for config files that must not hold it in clear.
    #[serde(default)]
    pub secret_sha256: Option<String>,
    /// Header name for the `header` scheme.
    #[serde(default)]
    pub header: Option<String>,
    /// Subject shown to the plugin (default: `key`).
    #[serde(default)]
    pub subject: Option<String>,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// A backup-able thing of an org.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// Owning org.
    pub org: String,
    /// Provider name.
    pub plugin: String,
    /// Kind, e.g. `site`, `vps`, `volume`.
    pub kind: String,
    /// Provider-visible id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Initial provider state.
    #[serde(default)]
    pub state: Option<String>,
    /// Provider attributes (any TOML table).
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Where a capture reads from.
    #[serde(default)]
    pub source: Option<SourceConfig>,
}

/// A capture source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SourceConfig {
    /// A file, captured as is.
    File(PathBuf),
    /// A directory, captured as a tar stream.
    Dir(PathBuf),
    /// An http(s) URL, streamed.
    Url(String),
}

/// Operator overrides for one plugin.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginConfig {
    /// Load the plugin (default true).
    pub enabled: Option<bool>,
    /// Org quota in bytes (0 = unlimited).
    pub org_bytes: Option<u64>,
    /// Largest single upload or capture in bytes.
    pub upload_bytes: Option<u64>,
    /// Backups kept per resource.
    pub resource_slots: Option<u32>,
    /// Bytes kept per resource.
    pub resource_bytes: Option<u64>,
    /// Rate-limit overrides by class: `{ window_seconds, max_requests }`.
    pub rate_limits: BTreeMap<String, RateOverride>,
    /// Accept JWT bearer tokens for this plugin, verified with these keys.
    pub jwt: Option<JwtConfig>,
}

/// How JWT bearer tokens are verified for a plugin. `exp` and `nbf` are always honoured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// Shared secret for HS256 tokens.
    pub hs256_secret: Option<String>,
    /// PEM public keys for RS256 tokens (any may match).
    pub rs256_public_keys: Vec<String>,
    /// Claim naming the org (must be a configured org); default `org`.
    pub org_claim: Option<String>,
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// Required `aud`, if set.
    pub audience: Option<String>,
}

/// A rate-limit override.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateOverride {
    /// Window length.
    pub window_seconds: u32,
    /// Requests per window.
    pub max_requests: u32,
}
