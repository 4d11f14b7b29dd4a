//! Deduplicated captures: an incremental chain of 5 backups of a 64 MiB volume with 1% of
//! it rewritten between backups (16 extents at random offsets, in place, as a block device
//! sees writes).
//!
//! Reports, per backup, the bytes stored through the host's real ingest path (FastCDC,
//! SHA-256-addressed chunks in packs, SQLite + fsync'd local store) as a fraction of the
//! volume, checks every version reads back byte for byte, and compares the throughput of a
//! deduplicated capture with a plain one of the same bytes in the same run. Then, to justify
//! the chunker, the same chain under other chunkers (content-defined at other sizes, and
//! fixed-size blocks), computed in memory. Figures only.
//!
//! Run: `cargo bench -p gateway-tests --bench dedup`.

use std::collections::HashSet;
use std::time::Instant;

use backup_gateway::ingest::{self, Size, Target};
use backup_gateway::store::{BackupRecord, Db, Objects, chunks, content};
use futures_util::TryStreamExt;
use gateway_tests::Rng;
use sha2::{Digest, Sha256};

const VOLUME: usize = 64 * 1024 * 1024;
const VERSIONS: usize = 5;
const EXTENTS: usize = 16;

/// Version 0 and four successors, each with 1% of the bytes rewritten.
fn versions() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut v = vec![0u8; VOLUME];
    rng.fill(&mut v);
    let mut out = vec![v];
    let extent = VOLUME / 100 / EXTENTS;
    for _ in 1..VERSIONS {
        let mut next = out[out.len() - 1].clone();
        for _ in 0..EXTENTS {
            let at = (rng.next_u64() as usize) % (VOLUME - extent);
            rng.fill(&mut next[at..at + extent]);
        }
        out.push(next);
    }
    out
}

fn target(id: &str, dedup: bool) -> Target {
    Target {
        org: "acme".into(),
        provider: "bench".into(),
        resource_kind: "volume".into(),
        resource_id: "vol".into(),
        backup_id: id.into(),
        key: format!("acme/vol/{id}.{}", if dedup { "pack" } else { "img" }),
        filename: "vol.img".into(),
        extension: ".img".into(),
        media_type: "application/octet-stream".into(),
        subject: "bench".into(),
        metadata: "{}".into(),
        job_id: None,
        dedup,
    }
}

async fn capture(
    db: &Db,
    objects: &Objects,
    id: &str,
    data: &[u8],
    dedup: bool,
) -> (BackupRecord, f64) {
    let body: Vec<std::io::Result<bytes::Bytes>> = data
        .chunks(256 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let start = Instant::now();
    let rec = ingest::write(
        db,
        objects,
        &target(id, dedup),
        Size::Exact(data.len() as u64),
        0,
        futures_util::stream::iter(body),
    )
    .await
    .expect("capture");
    (rec, start.elapsed().as_secs_f64())
}

/// Bytes each version adds under a chunker, given as a function from data to chunk lengths.
fn simulate(versions: &[Vec<u8>], cut: impl Fn(&[u8]) -> Vec<usize>) -> (Vec<f64>, usize) {
    let mut held: HashSet<[u8; 32]> = HashSet::new();
    let mut fractions = Vec::new();
    let mut count = 0;
    for v in versions {
        let mut pos = 0;
        let mut new = 0usize;
        let lens = cut(v);
        count = lens.len();
        for len in lens {
            let h: [u8; 32] = Sha256::digest(&v[pos..pos + len]).into();
            if held.insert(h) {
                new += len;
            }
            pos += len;
        }
        fractions.push(new as f64 / v.len() as f64);
    }
    (fractions, count)
}

fn cdc(min: u32, avg: u32, max: u32) -> impl Fn(&[u8]) -> Vec<usize> {
    move |d| {
        fastcdc::v2020::FastCDC::new(d, min, avg, max)
            .map(|c| c.length)
            .collect()
    }
}

fn fixed(size: usize) -> impl Fn(&[u8]) -> Vec<usize> {
    move |d| {
        let mut v = vec![size; d.len() / size];
        if d.len() % size != 0 {
            v.push(d.len() % size);
        }
        v
    }
}

fn pct(f: &[f64]) -> String {
    f.iter()
        .map(|x| format!("{:.2}%", x * 100.0))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let versions = versions();
    let dir = tempfile::tempdir()?;
    let db = Db::connect(
        &format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
        None,
    )
    .await?;
    let objects = Objects::open(&format!("file://{}/objects", dir.path().display()), true)?;

    println!(
        "chain of {VERSIONS} backups of a {} MiB volume, 1% rewritten between backups ({EXTENTS} extents of {} KiB); host chunker FastCDC min/avg/max {}/{}/{} KiB",
        VOLUME >> 20,
        VOLUME / 100 / EXTENTS / 1024,
        chunks::MIN_CHUNK / 1024,
        chunks::AVG_CHUNK / 1024,
        chunks::MAX_CHUNK / 1024
    );
    let mut dedup_secs = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let (rec, secs) = capture(&db, &objects, &format!("d{i}"), v, true).await;
        dedup_secs.push(secs);
        let back: Vec<bytes::Bytes> = content::stream(&db, &objects, &rec, None)
            .await?
            .try_collect()
            .await?;
        let back = back.concat();
        assert_eq!(
            hex::encode(Sha256::digest(&back)),
            hex::encode(Sha256::digest(v))
        );
        assert_eq!(rec.sha256, hex::encode(Sha256::digest(v)));
        println!(
            "  backup {}: stored {:>9} bytes = {:.2}% of the volume ({:.0} MB/s); reads back byte for byte",
            i + 1,
            rec.stored_bytes,
            rec.stored_bytes as f64 * 100.0 / VOLUME as f64,
            VOLUME as f64 / secs / 1e6
        );
    }
    let (used, _) = db.scoped("acme", "bench").usage().await?;
    println!(
        "  quota charged for the chain: {used} bytes = {:.3} x one volume",
        used as f64 / VOLUME as f64
    );

    // plain vs deduplicated capture of the same new bytes, same run
    let mut plain = Vec::new();
    let mut fresh = Vec::new();
    for round in 0..3 {
        let mut v = vec![0u8; VOLUME];
        Rng(1000 + round).fill(&mut v);
        plain.push(
            capture(&db, &objects, &format!("p{round}"), &v, false)
                .await
                .1,
        );
        Rng(2000 + round).fill(&mut v);
        fresh.push(
            capture(&db, &objects, &format!("f{round}"), &v, true)
                .await
                .1,
        );
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, f) = (med(&mut plain), med(&mut fresh));
    let inc = med(&mut dedup_secs[1..].to_vec());
    println!(
        "throughput, median of 3: plain capture {:.0} MB/s; deduplicated, all chunks new {:.0} MB/s (ratio {:.2}); incremental (1% new) {:.0} MB/s (ratio {:.2})",
        VOLUME as f64 / p / 1e6,
        VOLUME as f64 / f / 1e6,
        p / f,
        VOLUME as f64 / inc / 1e6,
        p / inc
    );

    println!("other chunkers on the same chain (bytes added per backup, chunks per volume):");
    let host = (chunks::MIN_CHUNK, chunks::AVG_CHUNK, chunks::MAX_CHUNK);
    for (label, f) in [
        (
            format!(
                "FastCDC {}/{}/{} KiB (host)",
                host.0 / 1024,
                host.1 / 1024,
                host.2 / 1024
            ),
            Box::new(cdc(host.0, host.1, host.2)) as Box<dyn Fn(&[u8]) -> Vec<usize>>,
        ),
        (
            "FastCDC 16/64/256 KiB".into(),
            Box::new(cdc(16384, 65536, 262144)),
        ),
        (
            "FastCDC 4/16/64 KiB".into(),
            Box::new(cdc(4096, 16384, 65536)),
        ),
        ("fixed 64 KiB".into(), Box::new(fixed(65536))),
        ("fixed 32 KiB".into(), Box::new(fixed(32768))),
        ("fixed 4 KiB".into(), Box::new(fixed(4096))),
    ] {
        let (fr, n) = simulate(&versions, f);
        println!("  {label:<28} {} ({n} chunks)", pct(&fr[1..]));
    }
    // an insertion (a file grown in the middle of a filesystem image) shifts every later
    // byte: fixed blocks lose all of them, content-defined chunks resynchronise
    let mut shifted = versions[0].clone();
    shifted.splice(VOLUME / 3..VOLUME / 3, [7u8; 1000]);
    let pair = vec![versions[0].clone(), shifted];
    println!("after inserting 1000 bytes at a third of the volume:");
    for (label, f) in [
        (
            "FastCDC (host)",
            Box::new(cdc(host.0, host.1, host.2)) as Box<dyn Fn(&[u8]) -> Vec<usize>>,
        ),
        ("fixed 32 KiB", Box::new(fixed(32768))),
    ] {
        let (fr, _) = simulate(&pair, f);
        println!("  {label:<28} {}", pct(&fr[1..]));
    }
    Ok(())
}
