//! The ingest pipeline against a real SQLite database and local object store: charges,
//! failures that leave nothing behind, deduplication, retention and the sweeps.

use sha2::{Digest, Sha256};

use super::*;
use crate::store::{BackupRecord, Db, Objects};

async fn fixture() -> (tempfile::TempDir, Db, Objects) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(
        &format!("sqlite://{}/t.db?mode=rwc", dir.path().display()),
        None,
    )
    .await
    .unwrap();
    let objects = Objects::open(&format!("file://{}/o", dir.path().display()), true).unwrap();
    (dir, db, objects)
}

fn target(id: &str) -> Target {
    Target {
        org: "acme".into(),
        provider: "p".into(),
        resource_kind: "system".into(),
        resource_id: "S1".into(),
        backup_id: id.into(),
        key: format!("acme/S1/{id}.bin"),
        filename: "f.bin".into(),
        extension: ".bin".into(),
        media_type: "application/octet-stream".into(),
        subject: "S1".into(),
        metadata: "{}".into(),
        job_id: None,
        dedup: false,
    }
}

async fn chunked(db: &Db, objects: &Objects, id: &str, data: &[u8]) -> BackupRecord {
    let t = Target {
        dedup: true,
        key: format!("acme/S1/{id}.pack"),
        ..target(id)
    };
    let body: Vec<std::io::Result<bytes::Bytes>> = data
        .chunks(100_000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    write(
        db,
        objects,
        &t,
        Size::Exact(data.len() as u64),
        0,
        futures_util::stream::iter(body),
    )
    .await
    .unwrap()
}

async fn content_of(db: &Db, objects: &Objects, rec: &BackupRecord) -> Vec<u8> {
    use futures_util::TryStreamExt;
    let parts: Vec<bytes::Bytes> = crate::store::content::stream(db, objects, rec, None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    parts.concat()
}

#[tokio::test]
async fn a_reservation_holds_quota_until_written_or_abandoned() {
    let (dir, db, objects) = fixture().await;
    let root = dir.path().join("o");
    let one = reserve(&db, &objects, target("one"), Size::Exact(600), 1000, None)
        .await
        .unwrap();
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (0, 600));
    // the quota is held: a second reservation that would pass it is refused
    assert!(matches!(
        reserve(&db, &objects, target("two"), Size::Exact(600), 1000, None).await,
        Err(IngestError::QuotaExceeded)
    ));
    assert_eq!(walk(&root).len(), 1, "one temporary file open");
    // given back: nothing charged, nothing left on disk
    one.abandon().await;
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (0, 0));
    assert!(walk(&root).is_empty(), "{:?}", walk(&root));
    // room again; written, the reservation becomes the backup's charge
    let two = reserve(&db, &objects, target("two"), Size::Exact(600), 1000, None)
        .await
        .unwrap();
    let data = vec![3u8; 600];
    let stream = futures_util::stream::iter([Ok(bytes::Bytes::from(data.clone()))]);
    let rec = two.write(stream).await.unwrap();
    assert_eq!(rec.sha256, hex::encode(Sha256::digest(&data)));
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (600, 0));
    assert_eq!(walk(&root), vec![root.join("acme/S1/two.bin")]);
}

#[tokio::test]
async fn deduplicated_captures_store_only_new_chunks_and_free_them_with_the_last_reference() {
    let (dir, db, objects) = fixture().await;
    let v1 = crate::store::chunks::tests::pseudo_random(2 * 1024 * 1024, 5);
    let mut v2 = v1.clone();
    v2[1_000_000..1_004_000].copy_from_slice(&crate::store::chunks::tests::pseudo_random(4000, 9));

    let a = chunked(&db, &objects, "a", &v1).await;
    assert!(a.chunked);
    assert_eq!(a.size, v1.len() as i64);
    assert_eq!(
        a.stored_bytes,
        v1.len() as i64,
        "first capture stores everything"
    );
    assert_eq!(a.sha256, hex::encode(Sha256::digest(&v1)));

    let b = chunked(&db, &objects, "b", &v2).await;
    assert_eq!(b.size, v2.len() as i64);
    assert!(
        b.stored_bytes > 0 && b.stored_bytes <= 4 * i64::from(crate::store::chunks::MAX_CHUNK),
        "an edit of 4000 bytes stored {} bytes",
        b.stored_bytes
    );
    assert_eq!(
        db.scoped("acme", "p").usage().await.unwrap(),
        (a.stored_bytes + b.stored_bytes, 0),
        "quota counts each chunk once"
    );
    assert_eq!(content_of(&db, &objects, &a).await, v1);
    assert_eq!(content_of(&db, &objects, &b).await, v2);
    let range = crate::store::content::read_range(&db, &objects, &b, 999_990..1_000_010)
        .await
        .unwrap();
    assert_eq!(&range[..], &v2[999_990..1_000_010]);

    // the same content again adds nothing, and its empty pack is not kept
    let c = chunked(&db, &objects, "c", &v2).await;
    assert_eq!(c.stored_bytes, 0);
    assert!(!objects.exists(&c.object_key).await.unwrap());
    assert_eq!(content_of(&db, &objects, &c).await, v2);

    // deleting the first keeps the chunks the others share, frees the rest
    let gone = db
        .scoped("acme", "p")
        .delete_backup("a", "test")
        .await
        .unwrap()
        .unwrap();
    assert!(
        gone.objects.is_empty(),
        "a's pack still holds shared chunks"
    );
    let (used, _) = db.scoped("acme", "p").usage().await.unwrap();
    assert!(used < a.stored_bytes + b.stored_bytes && used >= v2.len() as i64 - 4 * 131072);
    assert_eq!(content_of(&db, &objects, &b).await, v2);
    assert!(
        crate::store::content::exists(&db, &objects, &b)
            .await
            .unwrap()
    );

    db.scoped("acme", "p")
        .delete_backup("c", "test")
        .await
        .unwrap()
        .unwrap();
    let gone = db
        .scoped("acme", "p")
        .delete_backup("b", "test")
        .await
        .unwrap()
        .unwrap();
    let mut keys = gone.objects.clone();
    keys.sort();
    assert_eq!(
        keys,
        vec!["acme/S1/a.pack".to_owned(), "acme/S1/b.pack".to_owned()]
    );
    objects.delete_unreferenced(&gone.objects).await;
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (0, 0));
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chunks")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    let files = walk(&dir.path().join("o").join("acme"));
    assert!(files.is_empty(), "left behind: {files:?}");
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(p) else {
        return Vec::new();
    };
    rd.flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

fn chunks(
    parts: Vec<std::io::Result<&'static [u8]>>,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin {
    futures_util::stream::iter(parts.into_iter().map(|r| r.map(bytes::Bytes::from_static)))
}

#[tokio::test]
async fn start_up_removes_the_object_of_a_commit_lost_with_the_power() {
    let (_d, db, objects) = fixture().await;
    let kept = write(
        &db,
        &objects,
        &target("b1"),
        Size::Exact(4),
        100,
        chunks(vec![Ok(b"kept")]),
    )
    .await
    .unwrap();
    // what a power cut leaves after the object was published: the (flushed) reservation,
    // the object, no backup row
    let key = "acme/sys/b2.bin";
    assert!(
        db.reserve(&crate::store::Reservation::test(
            "b2",
            "acme",
            5,
            100,
            (&objects.temp_key("b2", key), key),
            60_000_000
        ))
        .await
        .unwrap()
            == crate::store::Reserved::Recorded
    );
    let mut t = objects.begin("b2", key).await.unwrap();
    t.write(bytes::Bytes::from_static(b"stray")).await.unwrap();
    t.commit().await.unwrap();
    // a running cluster's sweep leaves a live ingest alone
    assert_eq!(reclaim(&db, &objects, false).await.unwrap(), 0);
    assert!(objects.exists(key).await.unwrap());
    // a single node starting up reclaims it, object included
    assert_eq!(reclaim(&db, &objects, true).await.unwrap(), 1);
    assert!(!objects.exists(key).await.unwrap());
    assert!(objects.exists(&kept.object_key).await.unwrap());
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (4, 0));
}

#[tokio::test]
async fn success_commits_and_charges_exactly_once() {
    let (_d, db, objects) = fixture().await;
    let rec = write(
        &db,
        &objects,
        &target("b1"),
        Size::Exact(11),
        100,
        chunks(vec![Ok(b"hello "), Ok(b"world")]),
    )
    .await
    .unwrap();
    assert_eq!(rec.sha256, hex::encode(Sha256::digest(b"hello world")));
    assert_eq!(rec.seq, 1);
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (11, 0));
    assert!(objects.exists(&rec.object_key).await.unwrap());
}

#[tokio::test]
async fn failures_leave_nothing_behind() {
    let (d, db, objects) = fixture().await;
    // short body, long body, broken stream
    let cases: Vec<(u64, Vec<std::io::Result<&'static [u8]>>)> = vec![
        (20, vec![Ok(b"short")]),
        (3, vec![Ok(b"too long")]),
        (
            10,
            vec![Ok(b"abc"), Err(std::io::Error::other("client went away"))],
        ),
    ];
    for (i, (declared, parts)) in cases.into_iter().enumerate() {
        let t = target(&format!("x{i}"));
        let err = write(&db, &objects, &t, Size::Exact(declared), 0, chunks(parts))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                IngestError::LengthMismatch { .. } | IngestError::Interrupted { .. }
            ),
            "{err}"
        );
        assert!(!objects.exists(&t.key).await.unwrap());
    }
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (0, 0));
    let left: Vec<_> = std::fs::read_dir(d.path().join("o/.incoming"))
        .unwrap()
        .collect();
    assert!(left.is_empty());
    let (items, total) = db
        .scoped("acme", "p")
        .backups(&crate::store::BackupQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(items.is_empty() && total == 0);
}

#[tokio::test]
async fn unknown_sizes_reserve_the_bound_and_charge_the_actual() {
    let (_d, db, objects) = fixture().await;
    let rec = write(
        &db,
        &objects,
        &target("u1"),
        Size::AtMost(100),
        0,
        chunks(vec![Ok(b"abc")]),
    )
    .await
    .unwrap();
    assert_eq!(rec.size, 3);
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (3, 0));
    let err = write(
        &db,
        &objects,
        &target("u2"),
        Size::AtMost(4),
        0,
        chunks(vec![Ok(b"abc"), Ok(b"de")]),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, IngestError::TooLarge(4)), "{err}");
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (3, 0));
}

#[tokio::test]
async fn quota_is_never_exceeded() {
    let (_d, db, objects) = fixture().await;
    write(
        &db,
        &objects,
        &target("a"),
        Size::Exact(6),
        10,
        chunks(vec![Ok(b"123456")]),
    )
    .await
    .unwrap();
    let err = write(
        &db,
        &objects,
        &target("b"),
        Size::Exact(5),
        10,
        chunks(vec![Ok(b"12345")]),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, IngestError::QuotaExceeded));
    write(
        &db,
        &objects,
        &target("c"),
        Size::Exact(4),
        10,
        chunks(vec![Ok(b"1234")]),
    )
    .await
    .unwrap();
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (10, 0));
}

#[tokio::test]
async fn retention_prunes_oldest_but_never_the_newest() {
    let (_d, db, objects) = fixture().await;
    let mut last = None;
    for i in 0..4 {
        let rec = write(
            &db,
            &objects,
            &target(&format!("r{i}")),
            Size::Exact(4),
            0,
            chunks(vec![Ok(b"abcd")]),
        )
        .await
        .unwrap();
        prune(&db, &objects, &rec, 2, 0).await.unwrap();
        last = Some(rec);
    }
    let q = crate::store::BackupQuery {
        newest_first: true,
        limit: 10,
        ..Default::default()
    };
    let (items, _) = db.scoped("acme", "p").backups(&q).await.unwrap();
    let ids: Vec<_> = items.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["r3", "r2"]);
    assert!(!objects.exists("acme/S1/r0.bin").await.unwrap());
    assert_eq!(db.scoped("acme", "p").usage().await.unwrap(), (8, 0));
    // a size cap smaller than the newest backup keeps only the newest
    let newest = last.unwrap();
    prune(&db, &objects, &newest, 0, 1).await.unwrap();
    let (items, _) = db.scoped("acme", "p").backups(&q).await.unwrap();
    assert_eq!(items.len(), 1);
}

#[tokio::test]
async fn the_sweep_removes_only_idle_unrecorded_temporary_objects() {
    let (dir, db, objects) = fixture().await;
    let incoming = dir.path().join("o/.incoming");
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for id in ["orphan", "fresh", "recorded"] {
        let f = std::fs::File::create(incoming.join(id)).unwrap();
        if id != "fresh" {
            f.set_modified(an_hour_ago).unwrap();
        }
    }
    // a stalled upload: idle for longer than a lease, but its record says it is alive
    let key = "acme/sys/r.bin";
    let temp = objects.temp_key("recorded", key);
    assert!(
        db.reserve(&crate::store::Reservation::test(
            "recorded",
            "acme",
            5,
            0,
            (&temp, key),
            60_000_000
        ))
        .await
        .unwrap()
            == crate::store::Reserved::Recorded
    );
    assert_eq!(remove_unrecorded(&db, &objects).await.unwrap(), 1);
    assert!(!incoming.join("orphan").exists());
    assert!(incoming.join("fresh").exists());
    assert!(incoming.join("recorded").exists());
    assert_eq!(remove_unrecorded(&db, &objects).await.unwrap(), 0);
}
