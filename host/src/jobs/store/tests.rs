//! The job table on SQLite: transitions, leases and take-overs, exclusivity, cancellation.

use super::*;

async fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(
        &format!("sqlite://{}/j.db?mode=rwc", dir.path().display()),
        None,
    )
    .await
    .unwrap();
    (dir, db)
}

fn new_job(rid: &str) -> NewJob {
    NewJob {
        org: "acme".into(),
        provider: "p".into(),
        kind: JobKind::Capture,
        resource_kind: "vps".into(),
        resource_id: rid.into(),
        source_backup: None,
        subject: "k".into(),
        filename: "f.img".into(),
        media_type: "application/octet-stream".into(),
        metadata: "{}".into(),
        exclusive: false,
        deduplicate: false,
    }
}

#[tokio::test]
async fn lifecycle_and_lease_takeover() {
    let (_d, db) = db().await;
    let j = insert(&db, &new_job("v1")).await.unwrap().unwrap();
    assert_eq!((j.seq, j.status), (1, JobStatus::Queued));
    let far = 60_000_000;
    let c = claim(&db, "w1", far, 3).await.unwrap().unwrap();
    assert_eq!(
        (c.id.as_str(), c.attempts, c.status),
        (j.id.as_str(), 1, JobStatus::InProgress)
    );
    assert!(
        claim(&db, "w2", far, 3).await.unwrap().is_none(),
        "a held lease is not claimable"
    );
    // the lease expires: w2 takes over, w1's heartbeat and finish are refused
    // a lease that ended a second ago (by the database's clock)
    assert!(
        heartbeat(&db, &j.id, "w1", -1_000_000, 10, None)
            .await
            .unwrap()
    );
    let c2 = claim(&db, "w2", far, 3).await.unwrap().unwrap();
    assert_eq!(c2.attempts, 2);
    assert!(!heartbeat(&db, &j.id, "w1", far, 10, None).await.unwrap());
    assert!(
        !finish(&db, &j.id, "w1", Outcome::Failed("x"), (0, None))
            .await
            .unwrap()
    );
    assert!(
        finish(
            &db,
            &j.id,
            "w2",
            Outcome::Completed(Some("b1")),
            (5, Some(5))
        )
        .await
        .unwrap()
    );
    let done = db.scoped("acme", "p").job(&j.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.backup_id.as_deref()),
        (JobStatus::Completed, Some("b1"))
    );
    assert!(matches!(
        db.scoped("acme", "p").cancel_job(&j.id).await.unwrap(),
        Err(JobStatus::Completed)
    ));
}

#[tokio::test]
async fn exclusive_jobs_of_a_resource_do_not_overlap() {
    let (_d, db) = db().await;
    let ex = |rid: &str| NewJob {
        exclusive: true,
        ..new_job(rid)
    };
    let first = insert(&db, &ex("v1")).await.unwrap().unwrap();
    assert!(
        insert(&db, &ex("v1")).await.unwrap().is_none(),
        "second exclusive job refused"
    );
    assert!(
        insert(&db, &new_job("v1")).await.unwrap().is_some(),
        "non-exclusive jobs are not"
    );
    assert!(
        insert(&db, &ex("v2")).await.unwrap().is_some(),
        "other resources are not"
    );
    claim(&db, "w", 60_000_000, 3).await.unwrap();
    finish(&db, &first.id, "w", Outcome::Completed(None), (0, None))
        .await
        .unwrap();
    let again = insert(&db, &ex("v1")).await.unwrap().unwrap();
    assert_eq!(
        again.seq, 4,
        "the refused insert consumed no sequence number"
    );
}

#[tokio::test]
async fn exhausted_jobs_fail_and_cancelled_ones_are_not_claimed() {
    let (_d, db) = db().await;
    let a = insert(&db, &new_job("v1")).await.unwrap().unwrap();
    claim(&db, "w", -1_000_000, 1).await.unwrap().unwrap();
    assert!(
        claim(&db, "w", -1_000_000, 1).await.unwrap().is_none(),
        "no attempts left"
    );
    assert_eq!(fail_exhausted(&db, 1).await.unwrap(), 1);
    assert_eq!(
        db.scoped("acme", "p")
            .job(&a.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Failed
    );
    let b = insert(&db, &new_job("v2")).await.unwrap().unwrap();
    assert!(
        db.scoped("acme", "p")
            .cancel_job(&b.id)
            .await
            .unwrap()
            .unwrap()
            .is_some()
    );
    assert!(claim(&db, "w", -1_000_000, 3).await.unwrap().is_none());
    let listed = db
        .scoped("acme", "p")
        .jobs(
            (Some("vps"), None),
            &[JobStatus::Failed, JobStatus::Cancelled],
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, b.id, "newest first");
    assert!(
        db.scoped("globex", "p")
            .jobs((None, None), &[], 10)
            .await
            .unwrap()
            .is_empty()
    );
}
