//! One typed configuration: a TOML file, overridden by `BACKUP_GATEWAY_*` environment
//! variables, overridden by command-line flags. See `examples/gateway.toml` for every key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod sections;
mod tenants;

pub use sections::*;
pub use tenants::*;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP server settings.
    #[serde(default)]
    pub server: ServerConfig,
    /// The admin listener.
    #[serde(default)]
    pub admin: AdminConfig,
    /// WebAssembly runtime limits.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// Metadata database.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Object storage for backup bytes.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Capture workers.
    #[serde(default)]
    pub jobs: JobsConfig,
    /// Organisations (tenants).
    #[serde(default)]
    pub orgs: Vec<OrgConfig>,
    /// Credentials, each valid for one plugin and one org.
    #[serde(default)]
    pub credentials: Vec<CredentialConfig>,
    /// Backup-able things of each org.
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
    /// Per-plugin settings, by provider name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
}

/// Command-line overrides (each also readable from a `BACKUP_GATEWAY_*` variable by clap).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--listen`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--plugins-dir`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins_dir: Option<PathBuf>,
    /// `--database-url`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--storage-url`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_url: Option<String>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or an override did not parse or has an unknown key.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// The values parse but contradict each other.
    #[error("invalid configuration: {0}")]
    Inconsistent(String),
}

impl Config {
    /// Load `file` (if given), then `BACKUP_GATEWAY_*` variables (`__` separates sections:
    /// `BACKUP_GATEWAY_SERVER__LISTEN`), then the command-line overrides.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::new();
        if let Some(file) = file {
            fig = fig.merge(Toml::file_exact(file));
        }
        fig = fig.merge(Env::prefixed("BACKUP_GATEWAY_").split("__").filter(|k| {
            // single-word variables are clap's flags, read below
            k.as_str().contains("__") || k.as_str().contains('.')
        }));
        let mut server = serde_json::Map::new();
        if let Some(v) = overrides.listen {
            server.insert("listen".into(), v.to_string().into());
        }
        if let Some(v) = &overrides.data_dir {
            server.insert("data_dir".into(), v.display().to_string().into());
        }
        if let Some(v) = &overrides.plugins_dir {
            server.insert("plugins_dir".into(), v.display().to_string().into());
        }
        if !server.is_empty() {
            fig = fig.merge(Serialized::default("server", server));
        }
        if let Some(v) = &overrides.database_url {
            fig = fig.merge(Serialized::default("database.url", v));
        }
        if let Some(v) = &overrides.storage_url {
            fig = fig.merge(Serialized::default("storage.url", v));
        }
        let config: Config = fig.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Parse a TOML string (tests and the harness).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = Figment::from(Toml::string(text))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        if !(256..=1024 * 1024).contains(&server.max_header_bytes)
            || server.max_uri_bytes + 64 > server.max_header_bytes
        {
            return Err(ConfigError::Inconsistent(format!(
                "server.max_header_bytes must be 256 to 1048576 and leave room for \
                 server.max_uri_bytes ({}) and a header",
                server.max_uri_bytes
            )));
        }
        if !(1..=65_000).contains(&server.max_uri_bytes) {
            return Err(ConfigError::Inconsistent(
                "server.max_uri_bytes must be 1 to 65000".into(),
            ));
        }
        if !(1..=1000).contains(&server.max_headers) {
            return Err(ConfigError::Inconsistent(
                "server.max_headers must be 1 to 1000".into(),
            ));
        }
        let orgs: std::collections::HashSet<&str> =
            self.orgs.iter().map(|o| o.id.as_str()).collect();
        for c in &self.credentials {
            if !orgs.contains(c.org.as_str()) {
                return Err(ConfigError::Inconsistent(format!(
                    "credential {:?} names unknown org {:?}",
                    c.key, c.org
                )));
            }
            if c.secret.is_none() == c.secret_sha256.is_none() {
                return Err(ConfigError::Inconsistent(format!(
                    "credential {:?} needs exactly one of secret or secret_sha256",
                    c.key
                )));
            }
            if c.scheme == SchemeConfig::Header && c.header.is_none() {
                return Err(ConfigError::Inconsistent(format!(
                    "credential {:?} uses the header scheme without `header`",
                    c.key
                )));
            }
        }
        for r in &self.resources {
            if !orgs.contains(r.org.as_str()) {
                return Err(ConfigError::Inconsistent(format!(
                    "resource {}/{} names unknown org {:?}",
                    r.kind, r.id, r.org
                )));
            }
        }
        for o in &self.orgs {
            if !is_key_segment(&o.id) {
                return Err(ConfigError::Inconsistent(format!(
                    "org id {:?} must be 1-64 characters of [A-Za-z0-9._-]",
                    o.id
                )));
            }
        }
        Ok(())
    }

    /// The database URL, defaulting to SQLite under the data directory.
    pub fn database_url(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.server.data_dir.join("gateway.db").display()
            )
        })
    }

    /// The object storage URL, defaulting to files under the data directory.
    pub fn storage_url(&self) -> String {
        self.storage
            .url
            .clone()
            .unwrap_or_else(|| format!("file://{}", self.server.data_dir.join("objects").display()))
    }

    /// This node's name: `server.node_id`, else the host name, else `node`.
    pub fn node_id(&self) -> String {
        self.server
            .node_id
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "node".into())
    }

    /// The compiled-component cache directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.runtime
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("cache"))
    }
}

/// Whether `s` can stand as one segment of an object key.
pub fn is_key_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_gets_defaults() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.server.listen.port(), 8080);
        assert_eq!(c.runtime.deadline_ms, 2000);
        assert!(c.database_url().starts_with("sqlite://data/gateway.db"));
    }

    #[test]
    fn unknown_keys_and_dangling_orgs_are_refused() {
        assert!(Config::from_toml("[server]\nlisten_on = 1").is_err());
        let e = Config::from_toml(
            r#"[[credentials]]
org = "nope"
plugin = "hello"
scheme = "bearer"
key = "k"
secret = "s""#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown org"), "{e}");
    }

    #[test]
    fn shipped_example_files_parse() {
        let full = Config::from_toml(include_str!("../../../examples/gateway.toml")).unwrap();
        assert_eq!(full.credentials.len(), 2);
        assert_eq!(full.plugins["appliance-collect"].resource_slots, Some(10));
        assert_eq!(full.server.sweep_seconds, 30);
        assert_eq!(
            full.storage.ingest_lease(),
            std::time::Duration::from_secs(60)
        );
        let demo = Config::from_toml(include_str!("../../../examples/demo.toml")).unwrap();
        assert!(demo.server.print_examples);
        assert_eq!(
            demo.admin.bootstrap_digest().unwrap(),
            Some(crate::control::hash_token(crate::demo::DEMO_ADMIN_TOKEN))
        );
        let node = Config::from_toml(include_str!("../../../examples/scaleout.toml")).unwrap();
        assert!(node.database_url().starts_with("postgres://"));
        assert_eq!(node.storage_url(), "s3://backups/gateway");
        assert_eq!(node.storage.s3.region.as_deref(), Some("garage"));
        assert_eq!(node.storage.s3.part_size_bytes, Some(8 * 1024 * 1024));
    }

    #[test]
    fn s3_secrets_are_not_printed() {
        let c = Config::from_toml(
            "[storage.s3]\naccess_key_id = \"GK1\"\nsecret_access_key = \"s3cr3t\"\n",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("GK1") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    #[test]
    fn key_segments() {
        assert!(is_key_segment("NETH-1234.a_b"));
        assert!(!is_key_segment(".."));
        assert!(!is_key_segment("a/b"));
        assert!(!is_key_segment(""));
    }
}
