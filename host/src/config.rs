//! One typed configuration: a TOML file, overridden by `BACKUP_GATEWAY_*` environment
//! variables, overridden by command-line flags. See `examples/gateway.toml` for every key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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

/// HTTP server settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the default database, objects and compiled-plugin cache live.
    pub data_dir: PathBuf,
    /// Directory whose `*.wasm` components are loaded as plugins.
    pub plugins_dir: PathBuf,
    /// Largest body buffered for a JSON route, in bytes (413 beyond it).
    pub max_json_body: u64,
    /// Largest body a plugin may return itself, in bytes (stored objects are streamed apart).
    pub max_response_body: u64,
    /// Seconds in-flight requests get to finish on SIGINT/SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// Print ready-to-paste curl lines for the demo credentials at start-up.
    pub print_examples: bool,
    /// This node's name in job leases and logs (default: the host name). Each process adds
    /// a random suffix, so two processes never share a lease owner even with the same name.
    pub node_id: Option<String>,
    /// Seconds between housekeeping sweeps (reclaiming uploads whose lease expired,
    /// forgetting old rate-limit windows).
    pub sweep_seconds: u64,
    /// Seconds a connection has, from being ready for a request (accepted, or its last
    /// response sent), to deliver the whole request head; then it is closed. Also the
    /// longest an idle keep-alive connection stays open.
    pub header_timeout_seconds: u64,
    /// Seconds an upload, a JSON body or an HTTP capture source may go without a byte while
    /// the server waits for one; an upload is then ended like a disconnect (nothing stored,
    /// nothing reserved) and answered with the provider's error if the client still
    /// listens; a capture is retried like any failed read of its source.
    pub body_idle_timeout_seconds: u64,
    /// Seconds a client may leave a response unread (its socket accepting nothing) before
    /// the connection is dropped.
    pub send_timeout_seconds: u64,
    /// Uploads one credential may have in flight to one plugin at once (0: no cap); more
    /// are refused with the provider's 429.
    pub max_uploads_per_credential: u32,
    /// Uploads one org may have in flight at once, all its credentials and plugins
    /// together (0: no cap).
    pub max_uploads_per_org: u32,
    /// Longest request target (path and query), in bytes; longer ones are refused with the
    /// provider's 400.
    pub max_uri_bytes: usize,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Most header fields in one request.
    pub max_headers: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            plugins_dir: PathBuf::from("plugins-bin"),
            max_json_body: 1024 * 1024,
            max_response_body: 8 * 1024 * 1024,
            shutdown_grace_seconds: 30,
            print_examples: false,
            node_id: None,
            sweep_seconds: 30,
            header_timeout_seconds: 30,
            body_idle_timeout_seconds: 60,
            send_timeout_seconds: 60,
            max_uploads_per_credential: 4,
            max_uploads_per_org: 64,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// Limits applied to every plugin instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Wall-clock budget of one plugin call, in milliseconds.
    pub deadline_ms: u64,
    /// Largest linear memory of one instance, in bytes.
    pub max_memory_bytes: u64,
    /// Instances that may exist at once (the pooling allocator's slots).
    pub max_instances: u32,
    /// Epoch tick, in milliseconds: the deadline's granularity.
    pub epoch_tick_ms: u64,
    /// Directory for compiled components (default: `{data_dir}/cache`).
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            deadline_ms: 2_000,
            max_memory_bytes: 64 * 1024 * 1024,
            max_instances: 128,
            epoch_tick_ms: 10,
            cache_dir: None,
        }
    }
}

/// Metadata database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`; default `sqlite://{data_dir}/gateway.db`.
    pub url: Option<String>,
    /// Pool size (on SQLite: connections for reads; writes share one more).
    pub max_connections: Option<u32>,
}

/// Object storage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `file://PATH`, `s3://BUCKET[/PREFIX]`, `memory://`; default `file://{data_dir}/objects`.
    pub url: Option<String>,
    /// Call fsync on files and directories before an object becomes visible (local store).
    pub fsync: Option<bool>,
    /// Seconds an in-flight upload's lease lasts without renewal (its node renews it every
    /// third of that); once it has expired, any node reclaims the upload. Default 60.
    pub ingest_lease_seconds: Option<u64>,
    /// How an `s3://` store is reached; unset keys fall back to the `AWS_*` variables.
    pub s3: S3Config,
}

impl StorageConfig {
    /// The ingest lease (at least one second).
    pub fn ingest_lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ingest_lease_seconds.unwrap_or(60).max(1))
    }
}

/// An S3-compatible store. Every key is optional: what is unset here comes from the usual
/// `AWS_*` environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Endpoint of a self-hosted store (`http://127.0.0.1:3900`); unset for Amazon S3.
    pub endpoint: Option<String>,
    /// Region (the store's own name for self-hosted stores, e.g. `garage`).
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key (prefer `AWS_SECRET_ACCESS_KEY` or
    /// `BACKUP_GATEWAY_STORAGE__S3__SECRET_ACCESS_KEY` to keeping it in the file).
    pub secret_access_key: Option<String>,
    /// Session token for temporary credentials.
    pub session_token: Option<String>,
    /// `https://BUCKET.endpoint/key` instead of path-style `https://endpoint/BUCKET/key`
    /// (default false: path-style, what self-hosted stores expect).
    pub virtual_hosted_style: Option<bool>,
    /// Allow plain `http://` endpoints. Loopback endpoints are always allowed.
    pub allow_http: Option<bool>,
    /// Bytes per multipart part (at least 5 MiB, S3's minimum; default 8 MiB).
    pub part_size_bytes: Option<u64>,
    /// Parts of one upload sent at once (default 2): an upload buffers at most this many
    /// parts plus the one being filled.
    pub parts_in_flight: Option<u32>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("allow_http", &self.allow_http)
            .field("part_size_bytes", &self.part_size_bytes)
            .field("parts_in_flight", &self.parts_in_flight)
            .finish()
    }
}

/// Capture workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Jobs run at once by this node (0: it runs none, e.g. an API-only node; jobs wait
    /// for another node's workers).
    pub concurrency: u32,
    /// Seconds a claimed job's lease lasts without a heartbeat.
    pub lease_seconds: u64,
    /// Milliseconds between polls for new jobs when idle.
    pub poll_ms: u64,
    /// Attempts before a job is failed for good.
    pub max_attempts: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            lease_seconds: 30,
            poll_ms: 200,
            max_attempts: 3,
        }
    }
}

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
        let full = Config::from_toml(include_str!("../../examples/gateway.toml")).unwrap();
        assert_eq!(full.credentials.len(), 2);
        assert_eq!(full.plugins["appliance-collect"].resource_slots, Some(10));
        assert_eq!(full.server.sweep_seconds, 30);
        assert_eq!(
            full.storage.ingest_lease(),
            std::time::Duration::from_secs(60)
        );
        let demo = Config::from_toml(include_str!("../../examples/demo.toml")).unwrap();
        assert!(demo.server.print_examples);
        let node = Config::from_toml(include_str!("../../examples/scaleout.toml")).unwrap();
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
