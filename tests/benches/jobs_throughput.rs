//! Job throughput: captures of small (4 KiB) sources from `POST /api/v2/vps/{id}/backups` to
//! completed, on SQLite and on PostgreSQL, against the rate at which this machine durably
//! writes the same number of 4 KiB files at the same concurrency (write, fsync, rename,
//! fsync the directory), measured in the same run. Also p50/p99 of the POST under load.
//! Figures only.
//!
//! Run: `scripts/build-plugins && cargo bench -p gateway-tests --bench jobs_throughput`.
//!
//! The bench runs twice: on this machine's disk, then on the disk the target assumes, where a
//! sequential durable small write takes about 5 ms (this VM's disk needs well under a
//! millisecond, so on it durability is not the limit and the job store is): every `fsync`
//! and `fdatasync` takes 2.5 ms longer. The second run is this bench again with
//! `slow_sync.c` preloaded, which sleeps after those two calls only, for the gateway, the
//! PostgreSQL server and the peer alike. (Tracing the calls with `strace` instead made every
//! other call slower too: an indexed SELECT took 3.2 ms instead of 0.2.)
//! `BENCH_FSYNC_DELAY_MS=0` runs the first only, `=N` the second only, N ms per sync.

use std::time::{Duration, Instant};

use gateway_tests::pg::PgCluster;
use gateway_tests::{TestGateway, provider_plugin};

const JOBS: usize = 300;
const POSTERS: usize = 16;

fn config(dir: &std::path::Path, db: Option<&str>, workers: usize) -> String {
    // `config_for` appends this right after its own `[jobs]` table, so a bare key lands there
    let mut c = format!("concurrency = {workers}\n");
    c.push_str(
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

async fn run(label: &str, db: Option<&str>, workers: usize) -> anyhow::Result<f64> {
    let src = tempfile::tempdir()?;
    let mut gw = TestGateway::start(
        &[provider_plugin("hostup")],
        &config(src.path(), db, workers),
    )
    .await?;
    let flushes = gw.gateway.services.db.flushes();
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
    let posted = start.elapsed();
    let mut lat: Vec<Duration> = latencies.into_iter().flatten().collect();
    let rate = if workers == 0 {
        // no workers: how fast the POST path alone queues jobs
        let rate = JOBS as f64 / posted.as_secs_f64();
        println!(
            "{label:10} POST only: {rate:7.1} jobs queued/s | POST p50 {:.2} ms p99 {:.2} ms",
            pct(&mut lat, 50),
            pct(&mut lat, 99)
        );
        rate
    } else {
        let db = &gw.gateway.services.db;
        // counted, not listed: the bench must not spend the CPU it measures on its own polling
        loop {
            let done: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'completed'")
                    .fetch_one(db.pool())
                    .await?;
            if done == JOBS as i64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let rate = JOBS as f64 / start.elapsed().as_secs_f64();
        let flushes = db.flushes() - flushes;
        println!(
            "{label:10} {rate:7.1} jobs/s | all posted after {:.0} ms | {:.2} group flushes per job | POST p50 {:.2} ms p99 {:.2} ms ({POSTERS} concurrent posters)",
            posted.as_secs_f64() * 1e3,
            flushes as f64 / JOBS as f64,
            pct(&mut lat, 50),
            pct(&mut lat, 99)
        );
        rate
    };
    keep(src);
    if let Some(dir) = gw.take_dir() {
        keep(dir);
    }
    Ok(rate)
}

/// Files the bench wrote, deleted only once it has finished (a re-run on the slow disk
/// included): on this VM's ext4, which has no journal, creating a file scans past the inodes
/// deleted in the last minutes (`recently_deleted` and the buffer lookups it makes: 16% of
/// the CPU time in a profile of a run that deleted as it went, 8% when it kept its files).
static LEFT: std::sync::Mutex<Vec<tempfile::TempDir>> = std::sync::Mutex::new(Vec::new());

fn keep(dir: tempfile::TempDir) {
    LEFT.lock().unwrap_or_else(|e| e.into_inner()).push(dir);
}

fn durable_small_writes(concurrency: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir_in(gateway_tests::target_dir())?;
    let start = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let writers: Vec<_> = (0..concurrency)
            .map(|t| {
                let dir = dir.path().to_owned();
                s.spawn(move || -> std::io::Result<()> {
                    use std::io::Write;
                    for i in (t..JOBS).step_by(concurrency) {
                        let tmp = dir.join(format!(".tmp-{i}"));
                        let mut f = std::fs::File::create(&tmp)?;
                        f.write_all(&[7u8; 4096])?;
                        f.sync_all()?;
                        std::fs::rename(&tmp, dir.join(format!("f-{i}")))?;
                        std::fs::File::open(&dir)?.sync_all()?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in writers {
            w.join().map_err(|_| anyhow::anyhow!("writer panicked"))??;
        }
        Ok(())
    })?;
    let rate = JOBS as f64 / start.elapsed().as_secs_f64();
    keep(dir);
    Ok(rate)
}

/// The durable-write peer, measured right before and right after a run (this VM's fsync
/// cost swings by 10x with other load); the run is compared with their mean. With workers,
/// the POST path alone is timed first on a database of its own (`post_db`): no run can
/// complete jobs faster than they are queued, so that rate over the peer's bounds the ratio
/// whatever the workers do.
async fn compare(
    label: &str,
    db: Option<&str>,
    post_db: Option<&str>,
    workers: usize,
) -> anyhow::Result<f64> {
    let queued = if workers > 0 {
        Some(run(label, post_db, 0).await?)
    } else {
        None
    };
    let before = durable_small_writes(workers.max(1))?;
    let rate = run(label, db, workers).await?;
    let after = durable_small_writes(workers.max(1))?;
    let disk = (before + after) / 2.0;
    println!(
        "{label:10} {workers} workers: {rate:.1} jobs/s; durable 4 KiB writes at concurrency {workers}: {before:.0} / {after:.0} files/s (before/after, {:.2} ms each) -> ratio {:.2}",
        workers.max(1) as f64 / disk * 1e3,
        rate / disk
    );
    if let Some(queued) = queued {
        println!(
            "{label:10} the POST path alone queues {queued:.0} jobs/s: ratio ceiling {:.2}",
            queued / disk
        );
    }
    Ok(rate)
}

/// Run this bench again with every fsync and fdatasync taking `ms` longer (`slow_sync.c`,
/// built here with the C compiler and preloaded; the PostgreSQL server the bench starts
/// inherits it).
fn run_with_slow_sync(ms: f64) -> anyhow::Result<()> {
    println!("\n== every fsync and fdatasync delayed by {ms} ms (LD_PRELOAD slow_sync.c) ==");
    // outside the target directory, which may sit under a home the `postgres` user cannot
    // read (as root the bench's PostgreSQL server runs as that user, and must load it too)
    let dir = std::env::temp_dir().join("backup-gateway-slow-sync");
    std::fs::create_dir_all(&dir)?;
    let lib = dir.join("libslow_sync.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = std::process::Command::new(&cc)
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/slow_sync.c"))
        .arg("-ldl")
        .status()
        .map_err(|e| anyhow::anyhow!("a C compiler ({cc}) is needed for slow syncs: {e}"))?;
    anyhow::ensure!(built.success(), "building slow_sync.c: {built}");
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env("LD_PRELOAD", &lib)
        .env("SLOW_SYNC_US", format!("{:.0}", ms * 1000.0))
        .status()?;
    anyhow::ensure!(status.success(), "bench with slow syncs: {status}");
    Ok(())
}

/// The disk the target assumes, on which a sequential durable small write takes about 5 ms:
/// two syncs of 2.5 ms (the write and the rename add about 0.3 ms on this VM).
const PREMISE_SYNC_MS: f64 = 2.5;

/// By default the bench runs on this machine's disk, then again on the assumed slow disk.
/// `BENCH_FSYNC_DELAY_MS=0` runs the first only, `=N` the second only with N ms per sync.
fn main() -> anyhow::Result<()> {
    let done = run_all();
    LEFT.lock().unwrap_or_else(|e| e.into_inner()).clear();
    done
}

fn run_all() -> anyhow::Result<()> {
    if std::env::var_os("SLOW_SYNC_US").is_some() {
        // the re-run, slow disk preloaded
        return bench();
    }
    match std::env::var("BENCH_FSYNC_DELAY_MS")
        .ok()
        .map(|v| v.parse::<f64>())
    {
        None => {
            println!("== this machine's disk ==");
            bench()?;
            run_with_slow_sync(PREMISE_SYNC_MS)
        }
        Some(Ok(ms)) if ms <= 0.0 => bench(),
        Some(Ok(ms)) => run_with_slow_sync(ms),
        Some(Err(e)) => anyhow::bail!("BENCH_FSYNC_DELAY_MS: {e}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn bench() -> anyhow::Result<()> {
    // BENCH_WORKERS=2,8 compares worker counts (default: the gateway's default, 2); 0 times
    // the POST path alone (jobs queued, none run)
    let counts: Vec<usize> = std::env::var("BENCH_WORKERS")
        .unwrap_or_else(|_| "2".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    // BENCH_SQLITE_ONLY=1 skips PostgreSQL (for profiling one backend)
    if std::env::var_os("BENCH_SQLITE_ONLY").is_some() {
        for workers in counts {
            compare("sqlite", None, None, workers).await?;
        }
        return Ok(());
    }
    let pg = PgCluster::start();
    for workers in counts {
        let sqlite = compare("sqlite", None, None, workers).await?;
        let url = pg.database(&format!("bench{workers}")).await;
        let post_url = pg.database(&format!("post{workers}")).await;
        let postgres = compare("postgres", Some(&url), Some(&post_url), workers).await?;
        println!(
            "{workers} workers: postgres / sqlite = {:.2}",
            postgres / sqlite
        );
    }
    Ok(())
}
