//! Test support: start a real gateway (in-process, real HTTP on a loopback port, SQLite and
//! local files in a temporary directory) with chosen plugins, and talk to it with reqwest.
//!
//! Plugins are built by `scripts/build-plugins` into `target/plugins` and
//! `target/test-plugins`; a missing file fails the test with that instruction.

pub mod garage;
pub mod pg;

use std::path::{Path, PathBuf};

use backup_gateway::config::Config;

/// A free loopback port for another process (a gateway binary, PostgreSQL, Garage) to bind.
///
/// Picked below the kernel's ephemeral range (32768 and up), from a counter, so it never
/// races a port the kernel hands out for `bind(0)` (every in-process listener's) or another
/// pick of this process: picking with `bind(0)` and releasing it let a concurrent test grab
/// the same port before the child bound it ("Address already in use"). Each test process
/// starts at its own offset, so two suites running at once rarely meet; a port found taken
/// is skipped.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(97) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + n % SPAN).unwrap_or(20_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The workspace's target directory (respecting `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A built provider plugin, e.g. `appliance_collect`.
pub fn provider_plugin(name: &str) -> PathBuf {
    existing(target_dir().join("plugins").join(format!("{name}.wasm")))
}

/// A built test plugin, e.g. `hostile_plugin`.
pub fn test_plugin(name: &str) -> PathBuf {
    existing(
        target_dir()
            .join("test-plugins")
            .join(format!("{name}.wasm")),
    )
}

fn existing(p: PathBuf) -> PathBuf {
    assert!(
        p.exists(),
        "{} is missing: run scripts/build-plugins (the README's test command does)",
        p.display()
    );
    p
}

/// A running gateway and its throwaway data directory.
pub struct TestGateway {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The admin listener, `http://127.0.0.1:PORT` (bootstrap token [`ADMIN_TOKEN`]).
    pub admin_url: String,
    /// A client with no timeouts of its own beyond 60 s.
    pub client: reqwest::Client,
    dir: Option<tempfile::TempDir>,
    /// The shared state, for assertions on the database and objects.
    pub gateway: std::sync::Arc<backup_gateway::gateway::Gateway>,
    server: tokio::task::JoinHandle<()>,
    admin_server: tokio::task::JoinHandle<()>,
    /// Aborted when dropped.
    background: Option<backup_gateway::gateway::Background>,
    _runtime: std::sync::Arc<backup_gateway::plugins::PluginRuntime>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.server.abort();
        self.admin_server.abort();
    }
}

/// The config a test gateway runs with: `extra` TOML appended to the data and plugin dirs.
pub fn config_for(dir: &Path, extra: &str) -> String {
    config_with(dir, "", extra)
}

/// Like [`config_for`], with `server` lines added to the `[server]` table.
pub fn config_with(dir: &Path, server: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
plugins_dir = "{data}/plugins"
{server}

[admin]
bootstrap_token_sha256 = "{admin}"

[runtime]
deadline_ms = 1000
cache_dir = "{cache}"

[jobs]
poll_ms = 20
lease_seconds = 3

{extra}
"#,
        data = dir.display(),
        cache = target_dir().join("test-cache").display(),
        admin = sha256_hex(ADMIN_TOKEN.as_bytes()),
    )
}

/// Call `f` every 100 ms until it returns `want` (a change reaching a node within a poll,
/// a grace running out), for at most 10 s; what it last returned.
pub async fn eventually<T: PartialEq>(want: T, mut f: impl AsyncFnMut() -> T) -> T {
    let mut got = f().await;
    for _ in 0..100 {
        if got == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        got = f().await;
    }
    got
}

/// The bootstrap admin token every test gateway accepts on its admin listener.
pub const ADMIN_TOKEN: &str = "bgat_test-bootstrap-token";

impl TestGateway {
    /// Take the gateway's files (database, objects) out of its hands, so they outlive it:
    /// a benchmark deletes them when it has finished measuring, not in between.
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self.dir.take()
    }

    /// Start a gateway serving `plugins` with the config `extra` (orgs, credentials...).
    pub async fn start(plugins: &[PathBuf], extra: &str) -> anyhow::Result<TestGateway> {
        let dir = tempfile::tempdir()?;
        Self::start_in(dir, plugins, extra).await
    }

    /// Like [`TestGateway::start`], with `server` lines in the `[server]` table.
    pub async fn start_with(
        plugins: &[PathBuf],
        server: &str,
        extra: &str,
    ) -> anyhow::Result<TestGateway> {
        let dir = tempfile::tempdir()?;
        let config = Config::from_toml(&config_with(dir.path(), server, extra))?;
        Self::start_config(dir, plugins, config).await
    }

    /// Like [`TestGateway::start`], in a given directory (to restart on the same data).
    pub async fn start_in(
        dir: tempfile::TempDir,
        plugins: &[PathBuf],
        extra: &str,
    ) -> anyhow::Result<TestGateway> {
        let config = Config::from_toml(&config_for(dir.path(), extra))?;
        Self::start_config(dir, plugins, config).await
    }

    async fn start_config(
        dir: tempfile::TempDir,
        plugins: &[PathBuf],
        config: Config,
    ) -> anyhow::Result<TestGateway> {
        let pdir = dir.path().join("plugins");
        std::fs::create_dir_all(&pdir)?;
        for p in plugins {
            let name = p
                .file_name()
                .ok_or_else(|| anyhow::anyhow!("bad plugin path"))?;
            std::fs::copy(p, pdir.join(name))?;
        }
        let built = backup_gateway::gateway::build(&config).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let gw = built.gateway.clone();
        let server = tokio::spawn(async move {
            backup_gateway::http::serve(listener, gw, std::future::pending()).await;
        });
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let admin_url = format!("http://{}", admin.local_addr()?);
        let admin_gw = built.gateway.clone();
        let admin_server = tokio::spawn(async move {
            let _ = backup_gateway::admin::serve(admin, admin_gw, std::future::pending()).await;
        });
        let background = backup_gateway::gateway::spawn_background(built.gateway.clone(), &config);
        Ok(TestGateway {
            url,
            admin_url,
            admin_server,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()?,
            dir: Some(dir),
            gateway: built.gateway,
            server,
            background: Some(background),
            _runtime: built.runtime,
        })
    }

    /// `{url}{path}`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// A request to the admin API at `path` (under `/admin/v1`), with `token`.
    pub fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/admin/v1{path}", self.admin_url))
            .bearer_auth(token)
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .map_or(Path::new("/nonexistent"), |d| d.path())
    }

    /// Stop serving and hand back the data directory (to restart on the same data).
    pub fn stop(mut self) -> tempfile::TempDir {
        self.server.abort();
        self.background.take();
        self.dir
            .take()
            .unwrap_or_else(|| unreachable!("the directory is taken only here"))
    }

    /// Stop the way a signalled gateway does: no more requests, and the job workers stopped
    /// gracefully within `grace` ([`backup_gateway::gateway::Background::stop`]); hands back
    /// the data directory.
    pub async fn shut_down(mut self, grace: std::time::Duration) -> tempfile::TempDir {
        self.server.abort();
        if let Some(background) = self.background.take() {
            background.stop(grace).await;
        }
        self.dir
            .take()
            .unwrap_or_else(|| unreachable!("the directory is taken only here"))
    }
}

/// The results of spawned tasks, in spawn order (a task that panicked fails the test).
pub async fn joined<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("a spawned task panicked"));
    }
    out
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A gateway running as its own process (the release binary), for tests and benchmarks that
/// kill it or measure it from outside.
pub struct GatewayProcess {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    /// The running process.
    pub child: std::process::Child,
    config: PathBuf,
    env: Vec<(String, String)>,
}

impl GatewayProcess {
    /// Copy `plugins` into `dir/plugins`, write a config (with `extra`) on a free loopback
    /// port, start the binary and wait until it answers.
    pub async fn start(
        dir: &Path,
        plugins: &[PathBuf],
        extra: &str,
    ) -> anyhow::Result<GatewayProcess> {
        Self::start_with_env(dir, plugins, extra, &[]).await
    }

    /// Like [`GatewayProcess::start`], with extra environment variables (e.g.
    /// `BACKUP_GATEWAY_SERVER__NODE_ID` for keys of sections the test config already has).
    pub async fn start_with_env(
        dir: &Path,
        plugins: &[PathBuf],
        extra: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<GatewayProcess> {
        let pdir = dir.join("plugins");
        std::fs::create_dir_all(&pdir)?;
        for p in plugins {
            let name = p
                .file_name()
                .ok_or_else(|| anyhow::anyhow!("bad plugin path"))?;
            std::fs::copy(p, pdir.join(name))?;
        }
        let port = free_port();
        let config = dir.join("gateway.toml");
        std::fs::write(
            &config,
            config_for(dir, extra).replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
        )?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = Self::spawn(&config, &env)?;
        let mut gw = GatewayProcess {
            url: format!("http://127.0.0.1:{port}"),
            port,
            child,
            config,
            env,
        };
        gw.wait_healthy().await?;
        Ok(gw)
    }

    fn spawn(config: &Path, env: &[(String, String)]) -> anyhow::Result<std::process::Child> {
        let bin = target_dir().join("release/backup-gateway");
        anyhow::ensure!(
            bin.exists(),
            "{} is missing: run scripts/test",
            bin.display()
        );
        Ok(std::process::Command::new(bin)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null())
            .spawn()?)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("the gateway exited during start-up: {status}");
            }
            let r = client
                .get(format!("{}/_gateway/health", self.url))
                .send()
                .await;
            if r.is_ok_and(|r| r.status() == 200) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        anyhow::bail!("gateway at {} never became healthy", self.url)
    }

    /// SIGKILL the process and reap it.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Start the binary again on the same configuration and data.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.child = Self::spawn(&self.config, &self.env)?;
        self.wait_healthy().await
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small deterministic xorshift generator: reproducible test data without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fill `buf` with pseudo-random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }

    /// `len` pseudo-random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }
}

/// Every file below `dir` (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                files_under(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

/// A response read off a raw socket.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes of it).
    pub body: String,
}

impl RawResponse {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Read one response (head, then `Content-Length` bytes of body) from a raw socket within
/// `wait`; `None` if none came (or the connection closed first). Does not wait for the
/// server to close the connection.
pub async fn read_response(
    s: &mut tokio::net::TcpStream,
    wait: std::time::Duration,
) -> Option<RawResponse> {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut buf = Vec::new();
        let mut piece = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut piece).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&piece[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.lines();
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let n = s.read(&mut piece).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&piece[..n]);
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
        Some(RawResponse {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}
