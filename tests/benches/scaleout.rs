//! Scale-out figures, measured in one run on one machine:
//!
//! - with 1, 2 and 3 gateway processes sharing one PostgreSQL cluster and one Garage server
//!   (the release binary; requests spread round-robin over the nodes): large uploads
//!   (MiB/s), small uploads (uploads/s: per-request cost of the shared engines) and
//!   captures from the HostUp POST to completed (jobs/s), each as a ratio to one node.
//!   On a machine with few cores, more nodes cannot be faster — every process competes for
//!   the same cores, as do PostgreSQL and Garage; the ratios show what a node costs.
//! - a 1 GiB upload through one node to S3 (Garage, `data_fsync = true`) against the same
//!   upload to the local store (fsync'd), same disk, same PostgreSQL.
//!
//! Figures only; nothing here is a pass/fail threshold.
//!
//! Run: `scripts/ensure-garage && scripts/build-plugins && cargo build --release -p
//! backup-gateway && cargo bench -p gateway-tests --bench scaleout`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use backup_gateway::store::Db;
use gateway_tests::garage::Garage;
use gateway_tests::pg::PgCluster;
use gateway_tests::{GatewayProcess, provider_plugin};

const MIB: usize = 1024 * 1024;
const LARGE: (usize, usize, usize) = (32, 8 * MIB, 8); // uploads, bytes each, concurrency
const SMALL: (usize, usize, usize) = (400, 4096, 16);
const JOBS: usize = 150;
const POSTERS: usize = 16;

/// 64 MiB of xorshift noise (incompressible: Garage compresses blocks), cycled.
fn pattern() -> bytes::Bytes {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(64 * MIB);
    while v.len() < 64 * MIB {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    bytes::Bytes::from(v)
}

/// `total` bytes of the pattern, in 1 MiB chunks, as a request body.
fn body(p: &bytes::Bytes, total: usize) -> reqwest::Body {
    let p = p.clone();
    let chunks = (0..total.div_ceil(MIB)).map(move |i| {
        let start = (i % 64) * MIB;
        let len = MIB.min(total - i * MIB);
        Ok::<_, std::io::Error>(p.slice(start..start + len))
    });
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

fn config(src: &std::path::Path, db: &str, storage: &str) -> String {
    let mut c = format!(
        r#"
[[orgs]]
id = "acme"
[[credentials]]
org = "acme"
plugin = "appliance-collect"
scheme = "basic"
key = "B1"
secret = "bench"
[[credentials]]
org = "acme"
plugin = "hostup"
scheme = "bearer"
key = "b"
secret = "bench"
scopes = ["read:vm", "backup:vm"]
[plugins.appliance-collect]
upload_bytes = 2147483648
rate_limits = {{ upload-minute = {{ window_seconds = 60, max_requests = 1000000 }}, upload-hour = {{ window_seconds = 3600, max_requests = 1000000 }} }}
[plugins.hostup]
rate_limits = {{ api = {{ window_seconds = 60, max_requests = 1000000 }} }}
[database]
url = "{db}"
{storage}
"#
    );
    for i in 0..JOBS {
        c.push_str(&format!(
            "[[resources]]\norg = \"acme\"\nplugin = \"hostup\"\nkind = \"vps\"\nid = \"vps_{i:026}\"\nsource = {{ file = \"{}\" }}\n",
            src.join(format!("src-{i}")).display()
        ));
    }
    c
}

struct Nodes {
    nodes: Vec<GatewayProcess>,
    _dirs: Vec<tempfile::TempDir>,
    db: Db,
}

async fn start_nodes(n: usize, config: &str, db: &str) -> anyhow::Result<Nodes> {
    let plugins = [
        provider_plugin("appliance_collect"),
        provider_plugin("hostup"),
    ];
    let (mut nodes, mut dirs) = (Vec::new(), Vec::new());
    for i in 0..n {
        let dir = tempfile::tempdir_in(gateway_tests::target_dir())?;
        let name = format!("bench-{i}");
        nodes.push(
            GatewayProcess::start_with_env(
                dir.path(),
                &plugins,
                config,
                &[
                    ("BACKUP_GATEWAY_SERVER__NODE_ID", &name),
                    // the benchmark's concurrent uploads share one credential: no cap on
                    // uploads in flight (the default would refuse most as 429s)
                    ("BACKUP_GATEWAY_SERVER__MAX_UPLOADS_PER_CREDENTIAL", "0"),
                    ("BACKUP_GATEWAY_SERVER__MAX_UPLOADS_PER_ORG", "0"),
                ],
            )
            .await?,
        );
        dirs.push(dir);
    }
    Ok(Nodes {
        nodes,
        _dirs: dirs,
        db: Db::connect(db, Some(2)).await?,
    })
}

/// `count` uploads of `size` bytes, `concurrency` at once, round-robin over the nodes;
/// returns the seconds taken.
async fn uploads(
    c: &Nodes,
    p: &bytes::Bytes,
    (count, size, concurrency): (usize, usize, usize),
) -> f64 {
    let client = reqwest::Client::new();
    let urls: Vec<String> = c
        .nodes
        .iter()
        .map(|n| format!("{}/api/systems/backups", n.url))
        .collect();
    let start = Instant::now();
    futures_util::stream::iter(0..count)
        .for_each_concurrent(concurrency, |i| {
            let (client, url) = (client.clone(), urls[i % urls.len()].clone());
            async move {
                let r = client
                    .post(url)
                    .basic_auth("B1", Some("bench"))
                    .header("content-length", size)
                    .body(body(p, size))
                    .send()
                    .await
                    .expect("upload");
                assert_eq!(r.status(), 201, "{:?}", r.text().await);
            }
        })
        .await;
    start.elapsed().as_secs_f64()
}

/// Post a capture for every VPS (round-robin over the nodes) and wait until all completed;
/// returns jobs per second.
async fn jobs(c: &Nodes) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    let start = Instant::now();
    futures_util::stream::iter(0..JOBS)
        .for_each_concurrent(POSTERS, |i| {
            let client = client.clone();
            let url = format!(
                "{}/api/v2/vps/vps_{i:026}/backups",
                c.nodes[i % c.nodes.len()].url
            );
            async move {
                let r = client
                    .post(url)
                    .bearer_auth("bench")
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), 202);
            }
        })
        .await;
    loop {
        let done =
            c.db.scoped("acme", "hostup")
                .jobs(
                    (None, None),
                    &[backup_gateway::jobs::JobStatus::Completed],
                    1000,
                )
                .await?
                .len();
        if done == JOBS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(JOBS as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let p = pattern();
    let src = tempfile::tempdir()?;
    for i in 0..JOBS {
        std::fs::write(
            src.path().join(format!("src-{i}")),
            vec![(i % 251) as u8; 4096],
        )?;
    }
    let pg = PgCluster::start();
    let garage = Garage::start_with("bench", "data_fsync = true\nmetadata_fsync = true").await?;

    let mut rows = Vec::new();
    for n in 1..=3 {
        let db = pg.database(&format!("nodes{n}")).await;
        let storage = garage
            .storage_toml(&format!("nodes{n}"))
            .replace("ingest_lease_seconds = 3", "ingest_lease_seconds = 60");
        let c = start_nodes(n, &config(src.path(), &db, &storage), &db).await?;
        let large = uploads(&c, &p, LARGE).await;
        let large = (LARGE.0 * LARGE.1) as f64 / MIB as f64 / large;
        let small = SMALL.0 as f64 / uploads(&c, &p, SMALL).await;
        let jobs = jobs(&c).await?;
        println!(
            "{n} node(s): large uploads {large:7.1} MiB/s | small uploads {small:7.1} /s | captures {jobs:6.1} jobs/s"
        );
        rows.push((n, large, small, jobs));
    }
    let (_, l1, s1, j1) = rows[0];
    for (n, l, s, j) in &rows[1..] {
        println!(
            "{n} nodes / 1 node: large uploads {:.2} | small uploads {:.2} | captures {:.2}",
            l / l1,
            s / s1,
            j / j1
        );
    }

    // 1 GiB through one node: S3 (Garage) against the local store
    let gib = 1024 * MIB;
    let db = pg.database("gib_s3").await;
    let storage = garage
        .storage_toml("gib")
        .replace("ingest_lease_seconds = 3", "ingest_lease_seconds = 60");
    let c = start_nodes(1, &config(src.path(), &db, &storage), &db).await?;
    let s3 = uploads(&c, &p, (1, gib, 1)).await;
    drop(c);
    let db = pg.database("gib_local").await;
    let c = start_nodes(
        1,
        &config(src.path(), &db, "[storage]\nfsync = true\n"),
        &db,
    )
    .await?;
    let local = uploads(&c, &p, (1, gib, 1)).await;
    drop(c);
    let rate = |secs: f64| gib as f64 / MIB as f64 / secs;
    println!(
        "1 GiB upload: S3 (Garage) {:.1} MiB/s | local store {:.1} MiB/s | S3 / local = {:.2}",
        rate(s3),
        rate(local),
        local / s3
    );
    Ok(())
}
