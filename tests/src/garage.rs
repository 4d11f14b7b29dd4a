//! A throwaway Garage server (S3-compatible object store) for tests: one node on loopback
//! ports in a temporary directory (`db_engine = "sqlite"`, `replication_factor = 1`), its
//! layout applied, one access key and one bucket; killed when dropped.
//!
//! The binary is `GARAGE_BIN`, by default `~/.cache/backup-gateway/tools/bin/garage`, where
//! `scripts/ensure-garage` (run by `scripts/test`) installs it. A missing binary fails the
//! test loudly: scale-out tests are never skipped.
//!
//! The bucket is inspected directly, not through the gateway: [`Garage::objects`] lists it,
//! [`Garage::multipart_uploads`] sends S3's ListMultipartUploads (signed by object_store), and
//! [`Garage::bucket_counters`] reads Garage's own counters of unfinished uploads and parts.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::signer::{SignedUrlOptions, Signer};

/// The Garage binary the tests run.
pub fn garage_bin() -> PathBuf {
    std::env::var_os("GARAGE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home =
                std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
            home.join(".cache/backup-gateway/tools/bin/garage")
        })
}

/// The region Garage is configured with (requests are signed for it).
pub const REGION: &str = "garage";

/// A running single-node Garage with a bucket and a key allowed on it.
pub struct Garage {
    dir: tempfile::TempDir,
    child: Child,
    /// S3 API on `127.0.0.1:{s3_port}`.
    pub s3_port: u16,
    /// The bucket the gateway writes to.
    pub bucket: String,
    /// Access key id.
    pub key_id: String,
    /// Secret access key.
    pub secret: String,
    s3: Arc<AmazonS3>,
}

/// Counters Garage keeps per bucket (admin API `GetBucketInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCounters {
    /// Visible objects.
    pub objects: i64,
    /// Multipart uploads neither completed nor aborted.
    pub unfinished_multipart_uploads: i64,
    /// Parts of those uploads.
    pub unfinished_multipart_upload_parts: i64,
    /// Bytes of those parts.
    pub unfinished_multipart_upload_bytes: i64,
}

impl Garage {
    /// Start Garage, apply a one-node layout, create `bucket` and a key allowed on it.
    /// Panics, saying what to do, when the binary is missing.
    pub async fn start(bucket: &str) -> anyhow::Result<Garage> {
        Self::start_with(bucket, "").await
    }

    /// Like [`Garage::start`], with extra top-level configuration lines (e.g.
    /// `data_fsync = true` for benchmarks that compare durable writes).
    pub async fn start_with(bucket: &str, extra: &str) -> anyhow::Result<Garage> {
        let bin = garage_bin();
        assert!(
            bin.exists(),
            "\n\n*** Garage not found at {} ***\n\
             run scripts/ensure-garage (scripts/test does) or set GARAGE_BIN; \
             the scale-out tests need a real S3-compatible store and are never skipped.\n",
            bin.display()
        );
        let dir = tempfile::Builder::new().prefix("bg-garage-").tempdir()?;
        let (s3_port, rpc_port, admin_port) =
            (crate::free_port(), crate::free_port(), crate::free_port());
        let secret: String = (0..4).map(|_| format!("{:016x}", random_u64())).collect();
        let config = format!(
            r#"metadata_dir = "{d}/meta"
data_dir = "{d}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secret}"
{extra}

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:{admin_port}"
admin_token = "{secret}"
"#,
            d = dir.path().display()
        );
        let cfg = dir.path().join("garage.toml");
        std::fs::write(&cfg, config)?;
        let log = std::fs::File::create(dir.path().join("garage.log"))?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&cfg)
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let mut g = Garage {
            dir,
            child,
            s3_port,
            bucket: bucket.to_owned(),
            key_id: String::new(),
            secret: String::new(),
            s3: Arc::new(AmazonS3Builder::new().with_bucket_name(bucket).build()?),
        };
        g.setup().await?;
        Ok(g)
    }

    fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(garage_bin())
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .args(args)
            .env("RUST_LOG", "warn")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "garage {args:?} failed: {}\n(server log: {})",
            String::from_utf8_lossy(&out.stderr),
            self.dir.path().join("garage.log").display()
        );
        Ok(String::from_utf8(out.stdout)?)
    }

    async fn setup(&mut self) -> anyhow::Result<()> {
        let mut up = false;
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "garage exited during start-up ({status}); see {}",
                    self.dir.path().join("garage.log").display()
                );
            }
            if self.cli(&["status"]).is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::ensure!(up, "garage never answered `garage status`");
        let node = self.cli(&["node", "id", "-q"])?;
        let node = node.trim().split('@').next().unwrap_or("").to_owned();
        self.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node])?;
        self.cli(&["layout", "apply", "--version", "1"])?;
        let key: serde_json::Value = serde_json::from_str(&self.cli(&[
            "json-api",
            "CreateKey",
            r#"{"name": "gateway"}"#,
        ])?)?;
        self.key_id = key["accessKeyId"].as_str().unwrap_or_default().to_owned();
        self.secret = key["secretAccessKey"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(!self.key_id.is_empty(), "garage made no key: {key}");
        self.cli(&["bucket", "create", &self.bucket])?;
        self.cli(&[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            &self.bucket,
            "--key",
            &self.key_id,
        ])?;
        self.s3 = Arc::new(
            AmazonS3Builder::new()
                .with_bucket_name(&self.bucket)
                .with_endpoint(self.endpoint())
                .with_region(REGION)
                .with_access_key_id(&self.key_id)
                .with_secret_access_key(&self.secret)
                .with_allow_http(true)
                .build()?,
        );
        // the layout takes effect asynchronously: wait until the bucket answers
        for _ in 0..300 {
            if self.objects().await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("garage's bucket never became usable")
    }

    /// `http://127.0.0.1:{s3_port}`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The gateway's `[storage]` section for this bucket under `prefix`.
    pub fn storage_toml(&self, prefix: &str) -> String {
        format!(
            r#"
[storage]
url = "s3://{bucket}/{prefix}"
ingest_lease_seconds = 3

[storage.s3]
endpoint = "{endpoint}"
region = "{REGION}"
access_key_id = "{key}"
secret_access_key = "{secret}"
part_size_bytes = 5242880
"#,
            bucket = self.bucket,
            endpoint = self.endpoint(),
            key = self.key_id,
            secret = self.secret,
        )
    }

    /// Every object in the bucket: key and size.
    pub async fn objects(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let list: Vec<_> = self.s3.list(None).try_collect().await?;
        Ok(list
            .into_iter()
            .map(|m| (m.location.to_string(), m.size))
            .collect())
    }

    /// The bucket's multipart uploads in progress (S3 ListMultipartUploads): key and id.
    pub async fn multipart_uploads(&self) -> anyhow::Result<Vec<(String, String)>> {
        let opts = SignedUrlOptions::new().with_query([("uploads", "")]);
        let url = self
            .s3
            .signed_url_opts(
                http::Method::GET,
                &object_store::path::Path::from(""),
                Duration::from_secs(300),
                &opts,
            )
            .await?;
        let resp = reqwest::get(url).await?;
        let status = resp.status();
        let body = resp.text().await?;
        anyhow::ensure!(
            status.is_success(),
            "ListMultipartUploads: {status}: {body}"
        );
        anyhow::ensure!(
            body.contains("<ListMultipartUploadsResult"),
            "not a ListMultipartUploads answer: {body}"
        );
        Ok(body
            .split("<Upload>")
            .skip(1)
            .map(|u| (element(u, "Key"), element(u, "UploadId")))
            .collect())
    }

    /// Garage's own counters for the bucket (they include parts of unfinished uploads, which
    /// S3's listings do not show).
    pub fn bucket_counters(&self) -> anyhow::Result<BucketCounters> {
        let arg = format!(r#"{{"globalAlias": "{}"}}"#, self.bucket);
        let v: serde_json::Value =
            serde_json::from_str(&self.cli(&["json-api", "GetBucketInfo", &arg])?)?;
        let n = |k: &str| v[k].as_i64().unwrap_or(-1);
        Ok(BucketCounters {
            objects: n("objects"),
            unfinished_multipart_uploads: n("unfinishedMultipartUploads"),
            unfinished_multipart_upload_parts: n("unfinishedMultipartUploadParts"),
            unfinished_multipart_upload_bytes: n("unfinishedMultipartUploadBytes"),
        })
    }
}

/// The text of the first `<name>` element in `xml` (keys are XML-escaped; ours need none).
fn element(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    xml.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&format!("</{name}>")))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_default()
}

/// A random number (std's per-process hasher keys are random), for a throwaway RPC secret.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
