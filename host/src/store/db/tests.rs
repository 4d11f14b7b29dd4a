//! The database on SQLite: batches, its clock, rate windows, reservations and their caps,
//! ingest leases.

use sqlx::Row;

use super::*;

async fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(
        &format!("sqlite://{}/d.db?mode=rwc", dir.path().display()),
        None,
    )
    .await
    .unwrap();
    (dir, db)
}

#[tokio::test]
async fn a_batch_takes_effect_whole_or_not_at_all_and_never_holds_the_writer() {
    let (_d, db) = db().await;
    let seq = "INSERT INTO sequences (org, provider, name, value) VALUES (@org, 'p', 'n', 5)";
    let then = "UPDATE sequences SET value = value + 1 WHERE org = @org";
    // the second statement fails: the first is rolled back, the writer is usable
    let failing = Batch::new()
        .statement(seq)
        .statement(seq)
        .param("org", Param::Text("acme"));
    assert!(db.run_batch(&failing).await.is_err());
    assert_eq!(
        db.scoped("acme", "p").next_in_sequence("n").await.unwrap(),
        1
    );
    // abandoned after it was handed over: it ran whole or not at all, and the next
    // writer is not left inside its transaction
    let abandoned = Batch::new()
        .statement(seq)
        .statement(then)
        .result("SELECT value FROM sequences WHERE org = @org")
        .param("org", Param::Text("globex"));
    {
        let run = std::pin::pin!(db.run_batch(&abandoned));
        let _ = futures_util::poll!(run);
    }
    let next = db
        .scoped("globex", "p")
        .next_in_sequence("n")
        .await
        .unwrap();
    assert!(next == 1 || next == 7, "half a batch took effect: {next}");
    let seen: i64 = sqlx::query_scalar("SELECT value FROM sequences WHERE org = 'globex'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(seen, next, "committed, not held in an open transaction");
    // run to the end, a batch returns its result's rows
    let counted = Batch::new()
        .statement(then)
        .result("SELECT value FROM sequences WHERE org = @org")
        .param("org", Param::Text("acme"));
    let rows = db.run_batch(&counted).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].try_get::<i64, _>(0).unwrap(), 2);
}

#[tokio::test]
async fn the_database_clock_is_a_clock() {
    let (_d, db) = db().await;
    let (a, ours, b) = (
        db.now().await.unwrap(),
        now_micros(),
        db.now().await.unwrap(),
    );
    assert!(a <= b, "{a} then {b}");
    // the same machine's clock, to the database's (millisecond) resolution
    assert!((a - ours).abs() < 60_000_000, "{a} vs {ours}");
}

#[tokio::test]
async fn rate_windows_are_aligned_and_counted() {
    let (_d, db) = db().await;
    let (n1, start) = db.hit_window("k", 3600).await.unwrap();
    let (n2, again) = db.hit_window("k", 3600).await.unwrap();
    let (other, _) = db.hit_window("other", 3600).await.unwrap();
    assert_eq!(start % 3600, 0);
    assert_eq!((n1, n2, other), (1, 2, 1));
    // a second call can cross into the next hour only in its very first instant
    assert!(again == start || again == start + 3600);
}

async fn rsv(db: &Db, r: Reservation<'_>) -> Reserved {
    db.reserve(&r).await.unwrap()
}

#[tokio::test]
async fn a_reservation_keeps_the_caps_on_uploads_in_flight() {
    let (_d, db) = db().await;
    let upload = |id: &'static str, subject: &'static str, provider: &'static str| Reservation {
        provider,
        admission: Some(Admission {
            subject,
            per_subject: 2,
            per_org: 3,
        }),
        ..Reservation::test(id, "o", 10, 1000, (id, id), 60_000_000)
    };
    assert_eq!(rsv(&db, upload("a1", "A", "p")).await, Reserved::Recorded);
    assert_eq!(rsv(&db, upload("a2", "A", "p")).await, Reserved::Recorded);
    // the credential's cap, per plugin
    assert_eq!(
        rsv(&db, upload("a3", "A", "p")).await,
        Reserved::TooManyUploads(2)
    );
    // captures neither count nor are refused
    let capture = Reservation::test("c1", "o", 10, 1000, ("c1", "c1"), 60_000_000);
    assert_eq!(rsv(&db, capture).await, Reserved::Recorded);
    // the quota, where it is short
    let big = Reservation {
        bytes: 10_000,
        ..upload("x", "C", "p")
    };
    assert_eq!(rsv(&db, big).await, Reserved::QuotaExceeded);
    // another credential, then the org's cap, all plugins together
    assert_eq!(rsv(&db, upload("b1", "B", "p")).await, Reserved::Recorded);
    assert_eq!(
        rsv(&db, upload("b2", "B", "q")).await,
        Reserved::TooManyUploads(3)
    );
    // a place frees when an upload ends
    db.release("a1").await.unwrap();
    assert_eq!(rsv(&db, upload("a4", "A", "p")).await, Reserved::Recorded);
    assert_eq!(db.scoped("o", "p").usage().await.unwrap(), (0, 40));
}

#[tokio::test]
async fn ingest_leases_expire_by_the_database_clock() {
    let (_d, db) = db().await;
    assert!(
        db.reserve(&Reservation::test(
            "live",
            "o",
            10,
            0,
            ("k1", "o/k1"),
            60_000_000
        ))
        .await
        .unwrap()
            == Reserved::Recorded
    );
    assert!(
        db.reserve(&Reservation::test(
            "dead",
            "o",
            10,
            0,
            ("k2", "o/k2"),
            -1_000_000
        ))
        .await
        .unwrap()
            == Reserved::Recorded
    );
    db.set_ingest_upload("dead", "upload-1").await.unwrap();
    let stale = db.stale_ingests(false).await.unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(
        (stale[0].id.as_str(), stale[0].upload_id.as_deref()),
        ("dead", Some("upload-1"))
    );
    assert_eq!(db.stale_ingests(true).await.unwrap().len(), 2);
    // renewing a reclaimed ingest says so
    db.release("dead").await.unwrap();
    assert!(!db.renew_ingest("dead", 60_000_000).await.unwrap());
    assert!(db.renew_ingest("live", 60_000_000).await.unwrap());
    assert_eq!(db.scoped("o", "p").usage().await.unwrap(), (0, 10));
}
