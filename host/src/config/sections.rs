//! The node's own settings: the HTTP server, the admin listener, the plugin runtime, the
//! database, object storage (local or S3) and the job workers.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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

/// The admin listener (the control plane's API).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Where the admin API listens, e.g. `127.0.0.1:9090`; none: no admin listener.
    pub listen: Option<SocketAddr>,
    /// Hex SHA-256 of the bootstrap admin token (all scopes). Only the hash is configured
    /// (also as `BACKUP_GATEWAY_ADMIN__BOOTSTRAP_TOKEN_SHA256`).
    pub bootstrap_token_sha256: Option<String>,
}

impl AdminConfig {
    /// The bootstrap token's digest, if one is configured and well-formed.
    pub fn bootstrap_digest(&self) -> Result<Option<[u8; 32]>, String> {
        self.bootstrap_token_sha256
            .as_deref()
            .map(|h| {
                hex::decode(h.trim())
                    .ok()
                    .and_then(|v| <[u8; 32]>::try_from(v).ok())
                    .ok_or_else(|| "admin.bootstrap_token_sha256 must be 64 hex digits".to_owned())
            })
            .transpose()
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
