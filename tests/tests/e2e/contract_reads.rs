//! The store queries behind contract 1.1's new read options, on SQLite and on PostgreSQL:
//! `resources.list`'s attribute filter (a top-level key with a JSON string value; numbers,
//! nested values and other orgs never match), `jobs.query`'s kinds, and `documents.delete`
//! with an expected revision (a mismatch deletes nothing).

use backup_gateway::jobs::store::{self as jobs, JobFilter};
use backup_gateway::jobs::{JobKind, NewJob};
use backup_gateway::store::{Db, DocumentDeleted, ResourceRecord};
use gateway_tests::pg::PgCluster;

fn resource(id: &str, attributes: &str) -> ResourceRecord {
    ResourceRecord {
        kind: "vps".into(),
        id: id.into(),
        name: id.into(),
        state: "active".into(),
        attributes: attributes.into(),
        source: None,
        created_at: 1,
    }
}

fn job(kind: JobKind, resource_id: &str) -> NewJob {
    NewJob {
        org: "acme".into(),
        provider: "p".into(),
        kind,
        resource_kind: "vps".into(),
        resource_id: resource_id.into(),
        source_backup: None,
        subject: "s".into(),
        filename: "f".into(),
        media_type: "application/octet-stream".into(),
        metadata: "{}".into(),
        exclusive: false,
        deduplicate: false,
    }
}

async fn ids(db: &Db, org: &str, attribute: Option<(&str, &str)>) -> Vec<String> {
    let found = db
        .scoped(org, "p")
        .resources("vps", None, attribute, 100)
        .await
        .unwrap();
    found.into_iter().map(|r| r.id).collect()
}

async fn new_reads(url: &str) {
    let db = Db::connect(url, None).await.unwrap();
    let declared = [
        ("a", r#"{"site": "12", "zone": "eu"}"#),
        ("b", r#"{"site": 12}"#),
        ("c", r#"{"site": "12"}"#),
        ("d", r#"{"nested": {"site": "12"}}"#),
        ("e", r#"{"site": "12'; DROP TABLE resources; --"}"#),
    ];
    for (id, attributes) in declared {
        db.scoped("acme", "p")
            .upsert_resource(&resource(id, attributes))
            .await
            .unwrap();
    }
    db.scoped("other", "p")
        .upsert_resource(&resource("z", r#"{"site": "12"}"#))
        .await
        .unwrap();
    assert_eq!(ids(&db, "acme", Some(("site", "12"))).await, ["a", "c"]);
    assert_eq!(ids(&db, "acme", Some(("zone", "eu"))).await, ["a"]);
    assert_eq!(
        ids(&db, "acme", Some(("site", "13"))).await,
        Vec::<String>::new()
    );
    let hostile = "12'; DROP TABLE resources; --";
    assert_eq!(ids(&db, "acme", Some(("site", hostile))).await, ["e"]);
    assert_eq!(ids(&db, "acme", None).await, ["a", "b", "c", "d", "e"]);
    assert_eq!(ids(&db, "other", Some(("site", "12"))).await, ["z"]);

    for (kind, id) in [
        (JobKind::Capture, "a"),
        (JobKind::Restore, "a"),
        (JobKind::Capture, "c"),
    ] {
        jobs::insert(&db, &job(kind, id)).await.unwrap().unwrap();
    }
    let of = |kinds: &'static [JobKind], resource_id: Option<&'static str>| JobFilter {
        resource_id,
        kinds,
        ..JobFilter::default()
    };
    let count = async |f: JobFilter<'_>| {
        db.scoped("acme", "p")
            .query_jobs(&f, 100)
            .await
            .unwrap()
            .len()
    };
    assert_eq!(count(of(&[JobKind::Capture], None)).await, 2);
    assert_eq!(count(of(&[JobKind::Restore], None)).await, 1);
    assert_eq!(
        count(of(&[JobKind::Capture, JobKind::Restore], Some("a"))).await,
        2
    );
    assert_eq!(count(of(&[], None)).await, 3);

    let rev = db
        .scoped("acme", "p")
        .put_document("c", "k", "{}", Some(0))
        .await
        .unwrap()
        .unwrap();
    let key = ("c", "k");
    let wrong = db
        .scoped("acme", "p")
        .delete_document(key, Some(rev + 1))
        .await
        .unwrap();
    assert_eq!(wrong, DocumentDeleted::RevisionMismatch);
    assert!(
        db.scoped("acme", "p")
            .document("c", "k")
            .await
            .unwrap()
            .is_some(),
        "kept on a mismatch"
    );
    let right = db
        .scoped("acme", "p")
        .delete_document(key, Some(rev))
        .await
        .unwrap();
    assert_eq!(right, DocumentDeleted::Yes);
    let again = db
        .scoped("acme", "p")
        .delete_document(key, Some(rev))
        .await
        .unwrap();
    assert_eq!(again, DocumentDeleted::Missing);
    db.scoped("acme", "p")
        .put_document("c", "k", "{}", None)
        .await
        .unwrap();
    let any = db
        .scoped("acme", "p")
        .delete_document(key, None)
        .await
        .unwrap();
    assert_eq!(any, DocumentDeleted::Yes);
}

#[tokio::test]
async fn new_reads_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    new_reads(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await;
}

#[tokio::test]
async fn new_reads_on_postgres() {
    let pg = PgCluster::start();
    new_reads(&pg.database("reads").await).await;
}
