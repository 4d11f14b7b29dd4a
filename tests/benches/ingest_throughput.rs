//! Ingest throughput against the machine's own limits, measured in one run:
//!
//! - (a) SHA-256 of the bytes in memory (this process, one core);
//! - (b) writing the same bytes to the same disk with fsync;
//! - (c) a 1 GiB upload over loopback through the appliance collect route of a real gateway
//!   process (streamed by the client, hashed and fsynced by the gateway);
//!
//! reported as c / min(a, b), with (a) and (b) the means of one measurement right before
//! and one right after (c) (this VM's disk swings with other load). Then the gateway's peak RSS (VmHWM) after 32 concurrent
//! 256 MiB uploads. Figures only; nothing here is a pass/fail threshold.
//!
//! Run: `scripts/build-plugins && cargo build --release -p backup-gateway &&
//! cargo bench -p gateway-tests --bench ingest_throughput`.

use std::io::Write;
use std::time::Instant;

use futures_util::StreamExt;
use sha2::Digest;

const GIB: usize = 1024 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

fn pattern() -> bytes::Bytes {
    // 64 MiB of xorshift noise, cycled
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(64 * CHUNK);
    while v.len() < 64 * CHUNK {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    bytes::Bytes::from(v)
}

fn chunks(p: &bytes::Bytes, total: usize) -> impl Iterator<Item = bytes::Bytes> + '_ {
    (0..total / CHUNK).map(move |i| p.slice((i % 64) * CHUNK..(i % 64 + 1) * CHUNK))
}

fn gbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e9
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// (a) the SHA-256 rate of 1 GiB of the pattern in memory and (b) the rate of writing it to
/// a file in `dir` and fsyncing it, in GB/s.
fn limits(p: &bytes::Bytes, dir: &std::path::Path) -> anyhow::Result<(f64, f64)> {
    let t = Instant::now();
    let mut h = sha2::Sha256::new();
    for c in chunks(p, GIB) {
        h.update(&c);
    }
    std::hint::black_box(h.finalize());
    let sha = gbps(GIB, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    for c in chunks(p, GIB) {
        f.write_all(&c)?;
    }
    f.sync_all()?;
    drop(f);
    let disk = gbps(GIB, t.elapsed().as_secs_f64());
    std::fs::remove_file(&path)?;
    Ok((sha, disk))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let p = pattern();
    let dir = tempfile::tempdir_in(gateway_tests::target_dir())?;

    // (a) and (b), measured before and after the upload: this VM's disk swings with other
    // load, and the upload is compared with their means
    let (sha_before, disk_before) = limits(&p, dir.path())?;

    // (c) the gateway
    let extra = r#"
[[orgs]]
id = "acme"
[[credentials]]
org = "acme"
plugin = "appliance-collect"
scheme = "basic"
key = "NETH-B"
secret = "bench"
[plugins.appliance-collect]
org_bytes = 0
resource_bytes = 0
resource_slots = 0
rate_limits = { upload-minute = { window_seconds = 60, max_requests = 100000 }, upload-hour = { window_seconds = 3600, max_requests = 100000 } }
"#;
    // no caps on uploads in flight: the RSS measurement below runs 32 at once
    let mut gateway = gateway_tests::GatewayProcess::start_with_env(
        dir.path(),
        &[gateway_tests::provider_plugin("appliance_collect")],
        extra,
        &[
            ("BACKUP_GATEWAY_SERVER__MAX_UPLOADS_PER_CREDENTIAL", "0"),
            ("BACKUP_GATEWAY_SERVER__MAX_UPLOADS_PER_ORG", "0"),
        ],
    )
    .await?;
    let url = format!("{}/api/systems/backups", gateway.url);
    let client = reqwest::Client::new();
    let upload = |size: usize| {
        let body = futures_util::stream::iter(
            chunks(&p, size)
                .map(Ok::<_, std::io::Error>)
                .collect::<Vec<_>>(),
        );
        client
            .post(&url)
            .basic_auth("NETH-B", Some("bench"))
            .header("content-length", size)
            .body(reqwest::Body::wrap_stream(body))
            .send()
    };
    let t = Instant::now();
    let r = upload(GIB).await?;
    anyhow::ensure!(r.status() == 201, "upload failed: {}", r.status());
    let gw = gbps(GIB, t.elapsed().as_secs_f64());
    let (sha_after, disk_after) = limits(&p, dir.path())?;
    let (sha, disk) = (
        (sha_before + sha_after) / 2.0,
        (disk_before + disk_after) / 2.0,
    );
    // (d) the loopback ceiling: the same client streaming into a server that only counts
    let drain = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let drain_url = format!("http://{}/drain", drain.local_addr()?);
    let app = axum::Router::new().route(
        "/drain",
        axum::routing::post(|body: axum::body::Body| async move {
            let mut n = 0usize;
            let mut s = body.into_data_stream();
            while let Some(Ok(c)) = s.next().await {
                n += c.len();
            }
            n.to_string()
        }),
    );
    let server = tokio::spawn(async move { axum::serve(drain, app).await });
    let body = futures_util::stream::iter(
        chunks(&p, GIB)
            .map(Ok::<_, std::io::Error>)
            .collect::<Vec<_>>(),
    );
    let t = Instant::now();
    let r = client
        .post(&drain_url)
        .header("content-length", GIB)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    anyhow::ensure!(r.text().await? == GIB.to_string(), "drain lost bytes");
    let ceiling = gbps(GIB, t.elapsed().as_secs_f64());
    server.abort();
    println!(
        "loopback ceiling (client -> counting server) {ceiling:.3} GB/s; upload / ceiling = {:.2}",
        gw / ceiling
    );
    let limit = sha.min(disk);
    println!(
        "sha256 {sha:.3} GB/s ({sha_before:.3} / {sha_after:.3} before/after) | fsync'd write {disk:.3} GB/s ({disk_before:.3} / {disk_after:.3}) | upload {gw:.3} GB/s"
    );
    println!(
        "upload / min(sha256, disk) = {:.2}  (upload / sha256 = {:.2}, upload / disk = {:.2})",
        gw / limit,
        gw / sha,
        gw / disk
    );

    // peak RSS under 32 concurrent 256 MiB uploads
    let before = vm_hwm_kib(gateway.child.id());
    let t = Instant::now();
    let results = futures_util::stream::iter((0..32).map(|_| upload(256 * 1024 * 1024)))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let ok = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status() == 201))
        .count();
    let after = vm_hwm_kib(gateway.child.id());
    println!(
        "32 x 256 MiB concurrent: {ok}/32 stored in {:.1} s; gateway peak RSS {:.1} MiB (after the 1 GiB upload: {:.1} MiB)",
        t.elapsed().as_secs_f64(),
        after as f64 / 1024.0,
        before as f64 / 1024.0
    );
    anyhow::ensure!(
        ok == 32,
        "only {ok} of the 32 concurrent uploads were stored"
    );
    gateway.kill()?;
    Ok(())
}
