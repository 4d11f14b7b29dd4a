//! The chunk store under the host's real ingest path, on SQLite and on PostgreSQL: shared
//! chunks are stored and charged once, racing captures of the same content agree, deletes
//! free exactly the chunks no backup refers to any more, and no object is left behind.

use backup_gateway::ingest::{self, Size, Target};
use backup_gateway::store::{BackupRecord, Db, Objects, content};
use futures_util::TryStreamExt;
use gateway_tests::pg::PgCluster;
use gateway_tests::{Rng, files_under, sha256_hex};

fn noise(len: usize, seed: u64) -> Vec<u8> {
    Rng(seed | 1).bytes(len)
}

fn target(id: &str) -> Target {
    Target {
        org: "acme".into(),
        provider: "p".into(),
        resource_kind: "volume".into(),
        resource_id: "vol".into(),
        backup_id: id.into(),
        key: format!("acme/vol/{id}.pack"),
        filename: "vol.img".into(),
        extension: ".img".into(),
        media_type: "application/octet-stream".into(),
        subject: "t".into(),
        metadata: "{}".into(),
        job_id: None,
        dedup: true,
    }
}

async fn capture(db: &Db, objects: &Objects, id: &str, data: &[u8]) -> BackupRecord {
    let body: Vec<std::io::Result<bytes::Bytes>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    ingest::write(
        db,
        objects,
        &target(id),
        Size::Exact(data.len() as u64),
        0,
        futures_util::stream::iter(body),
    )
    .await
    .expect("capture")
}

async fn read_back(db: &Db, objects: &Objects, rec: &BackupRecord) -> Vec<u8> {
    let parts: Vec<bytes::Bytes> = content::stream(db, objects, rec, None)
        .await
        .expect("stream")
        .try_collect()
        .await
        .expect("read");
    parts.concat()
}

async fn chain_and_races(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(url, None).await.unwrap();
    let objects = Objects::open(&format!("file://{}/o", dir.path().display()), true).unwrap();
    let base = noise(3 * 1024 * 1024, 1);

    // eight captures of the same new content race: each reads back whole, the org is
    // charged for one copy, and the losers' duplicate copies go with their packs
    let recs = futures_util::future::join_all((0..8).map(|i| {
        let (db, objects, data) = (db.clone(), objects.clone(), base.clone());
        async move { capture(&db, &objects, &format!("r{i}"), &data).await }
    }))
    .await;
    let charged: i64 = recs.iter().map(|r| r.stored_bytes).sum();
    assert_eq!(charged, base.len() as i64, "one copy charged");
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (charged, 0));
    for r in &recs {
        assert_eq!(r.sha256, sha256_hex(&base));
        assert_eq!(read_back(&db, &objects, r).await, base);
    }

    // captures of different edits of it race too (overlapping sets of new and shared
    // chunks, taken in different orders): all commit, each reads back its own bytes
    let edits: Vec<Vec<u8>> = (0..6u64)
        .map(|i| {
            let mut v = base.clone();
            let at = 100_000 + i as usize * 450_000;
            v[at..at + 30_000].copy_from_slice(&noise(30_000, 500 + i));
            v[2_900_000..2_910_000].copy_from_slice(&noise(10_000, 900 + i % 2));
            v
        })
        .collect();
    let raced = futures_util::future::join_all(edits.iter().enumerate().map(|(i, data)| {
        let (db, objects, data) = (db.clone(), objects.clone(), data.clone());
        async move { capture(&db, &objects, &format!("e{i}"), &data).await }
    }))
    .await;
    for (r, data) in raced.iter().zip(&edits) {
        assert_eq!(read_back(&db, &objects, r).await, *data);
    }

    // a chain of edits: each stores a little
    let mut v = base.clone();
    let mut chain = Vec::new();
    for i in 0..4u64 {
        let at = 200_000 + i as usize * 700_000;
        v[at..at + 10_000].copy_from_slice(&noise(10_000, 100 + i));
        let r = capture(&db, &objects, &format!("c{i}"), &v).await;
        assert!(
            r.stored_bytes > 0 && r.stored_bytes < 200_000,
            "edit {i} stored {}",
            r.stored_bytes
        );
        chain.push((r, v.clone()));
    }
    for (r, data) in &chain {
        assert_eq!(read_back(&db, &objects, r).await, *data);
    }

    // delete everything in an order unrelated to creation; quota follows, nothing remains
    let mut all: Vec<BackupRecord> = recs;
    all.extend(raced);
    all.extend(chain.into_iter().map(|(r, _)| r));
    all.sort_by(|a, b| b.sha256.cmp(&a.sha256));
    for (n, r) in all.iter().enumerate() {
        let gone = db
            .scoped("acme", "p")
            .delete_backup(&r.id, "test")
            .await
            .unwrap()
            .unwrap();
        objects.delete_unreferenced(&gone.objects).await;
        for left in &all[n + 1..] {
            assert!(content::exists(&db, &objects, left).await.unwrap());
        }
    }
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (0, 0));
    let left = files_under(&dir.path().join("o").join("acme"));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
async fn chunk_store_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    chain_and_races(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await;
}

#[tokio::test]
async fn chunk_store_on_postgres() {
    let pg = PgCluster::start();
    chain_and_races(&pg.database("chunks").await).await;
}
