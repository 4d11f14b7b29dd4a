//! Job throughput: captures of small (4 KiB) sources from `POST /api/v2/vps/{id}/backups` to
//! completed, on SQLite and on PostgreSQL, against the rate at which this machine durably
//! writes the same number of 4 KiB files at the same concurrency (write, fsync, rename,
//! fsync the directory), measured in the same run. Also p50/p99 of the POST under load.
//! Figures only.
//!
//! Run: `scripts/build-plugins && cargo bench -p gateway-tests --bench jobs_throughput`.

use std::time::{Duration, Instant};

use gateway_tests::pg::PgCluster;
use gateway_tests::{TestGateway, provider_plugin};

const JOBS: usize = 300;
const CONCURRENCY: usize = 2; // the gateway's default job workers
const POSTERS: usize = 16;

fn config(dir: &std::path::Path, db: Option<&str>) -> String {
    let mut c = String::from(
        r#"
[[orgs]]
id = "acme"
[[credentials]]
org = "acme"
plugin = "hostup"
scheme = "bearer"
key = "b"
secret = "bench"
scopes = ["read:vm", "backup:vm"]
[plugins.hostup]
rate_limits = { api = { window_seconds = 60, max_requests = 1000000 } }
"#,
    );
    for i in 0..JOBS {
        let src = dir.join(format!("src-{i}"));
        std::fs::write(&src, vec![(i % 251) as u8; 4096]).expect("source");
        c.push_str(&format!(
            "[[resources]]\norg = \"acme\"\nplugin = \"hostup\"\nkind = \"vps\"\nid = \"vps_{i:026}\"\nsource = {{ file = \"{}\" }}\n",
            src.display()
        ));
    }
    if let Some(url) = db {
        c.push_str(&format!("[database]\nurl = \"{url}\"\n"));
    }
    c
}

fn pct(v: &mut [Duration], p: usize) -> f64 {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)].as_secs_f64() * 1e3
}

async fn run(label: &str, db: Option<&str>) -> anyhow::Result<f64> {
    let src = tempfile::tempdir()?;
    let gw = TestGateway::start(&[provider_plugin("hostup")], &config(src.path(), db)).await?;
    let start = Instant::now();
    let latencies = futures_util::future::join_all((0..POSTERS).map(|w| {
        let (c, base) = (gw.client.clone(), gw.url.clone());
        async move {
            let mut lat = Vec::new();
            for i in (w..JOBS).step_by(POSTERS) {
                let t = Instant::now();
                let r = c
                    .post(format!("{base}/api/v2/vps/vps_{i:026}/backups"))
                    .bearer_auth("bench")
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), 202);
                lat.push(t.elapsed());
            }
            lat
        }
    }))
    .await;
    let mut lat: Vec<Duration> = latencies.into_iter().flatten().collect();
    let db = &gw.gateway.services.db;
    loop {
        let done = backup_gateway::jobs::store::list(
            db,
            "acme",
            "hostup",
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
    let rate = JOBS as f64 / start.elapsed().as_secs_f64();
    println!(
        "{label:10} {rate:7.1} jobs/s | POST p50 {:.2} ms p99 {:.2} ms ({POSTERS} concurrent posters)",
        pct(&mut lat, 50),
        pct(&mut lat, 99)
    );
    Ok(rate)
}

fn durable_small_writes() -> anyhow::Result<f64> {
    let dir = tempfile::tempdir_in(gateway_tests::target_dir())?;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..CONCURRENCY {
            let dir = dir.path().to_owned();
            s.spawn(move || -> std::io::Result<()> {
                use std::io::Write;
                for i in (t..JOBS).step_by(CONCURRENCY) {
                    let tmp = dir.join(format!(".tmp-{i}"));
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(&[7u8; 4096])?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, dir.join(format!("f-{i}")))?;
                    std::fs::File::open(&dir)?.sync_all()?;
                }
                Ok(())
            });
        }
    });
    Ok(JOBS as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let disk = durable_small_writes()?;
    println!("durable 4 KiB writes at concurrency {CONCURRENCY}: {disk:.1} files/s");
    let sqlite = run("sqlite", None).await?;
    let pg = PgCluster::start();
    let url = pg.database("bench").await;
    let postgres = run("postgres", Some(&url)).await?;
    println!(
        "sqlite / durable writes = {:.2} | postgres / durable writes = {:.2} | postgres / sqlite = {:.2}",
        sqlite / disk,
        postgres / disk,
        postgres / sqlite
    );
    Ok(())
}
