//! The same guarantees on PostgreSQL: a throwaway cluster per test (initdb + pg_ctl on a
//! loopback port), the gateway's metadata, quota accounting and rate windows in it.

use serde_json::Value;

use super::appliance::{A1, A2, NO_RATE, gateway_with, list, upload, usage};
use gateway_tests::pg::PgCluster;

#[tokio::test]
async fn appliance_flow_and_quota_race_on_postgres() {
    let pg = PgCluster::start();
    let url = pg.database("gw").await;
    // (ten uploads at once per system: no cap on uploads in flight)
    let gw = gateway_with(
        "max_uploads_per_credential = 0",
        &format!(
            "{NO_RATE}\n[plugins.appliance-collect]\norg_bytes = 100000\n\n[database]\nurl = \"{url}\"\n"
        ),
    )
    .await;
    let r = upload(&gw, A1, Some("pg.tar.gz"), b"on postgres".to_vec()).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.ends_with(".tar.gz"));
    assert_eq!(list(&gw, A1).await["data"]["backups"][0]["id"], id.as_str());
    assert_eq!(usage(&gw).await, (11, 0));
    // 20 racing uploads of 10 kB against the remaining 99 989 bytes: exactly 9 fit
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (c, url) = (gw.client.clone(), gw.at("/api/systems/backups"));
            let who = if i % 2 == 0 { A1 } else { A2 };
            tokio::spawn(async move {
                c.post(url)
                    .basic_auth(who.0, Some(who.1))
                    .body(vec![7u8; 10_000])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses = gateway_tests::joined(tasks).await;
    let ok = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(ok, 9);
    assert_eq!(usage(&gw).await, (90_011, 0));
    // each acknowledged upload waited on a group flush, on PostgreSQL a synchronous commit
    // of a mark (the transactions themselves commit asynchronously)
    let db = &gw.gateway.services.db;
    let marks: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM sync_marks")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(db.flushes() >= 10, "{} flushes", db.flushes());
    assert_eq!(u64::try_from(marks).unwrap(), db.flushes());
    let asynchronous: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(asynchronous, "off");
}

/// Connections are not pinged on every checkout, but one idle for a second is: after the
/// server dropped every session (a restart, a failover), the next query still succeeds.
#[tokio::test]
async fn connections_the_server_dropped_are_replaced_before_use() {
    use backup_gateway::store::Db;

    let pg = PgCluster::start();
    let url = pg.database("stale").await;
    let db = Db::connect(&url, Some(4)).await.unwrap();
    // several sessions open and back in the pool
    let held: Vec<_> = futures_util::future::join_all((0..4).map(|_| db.pool().acquire()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    drop(held);
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(killed >= 4, "only {killed} sessions dropped");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for _ in 0..8 {
        let one: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sequences")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(one, 0);
    }
}

/// The caps on uploads in flight, on PostgreSQL: per credential and plugin, per org across
/// plugins, captures neither counted nor refused, a place freed when an upload ends.
#[tokio::test]
async fn a_reservation_keeps_the_caps_on_uploads_in_flight_on_postgres() {
    use backup_gateway::store::{Admission, Db, Reservation, Reserved};
    let pg = PgCluster::start();
    let db = Db::connect(&pg.database("caps").await, Some(4))
        .await
        .unwrap();
    let reservation =
        |id: &'static str, subject: Option<&'static str>, provider: &'static str| Reservation {
            ingest_id: id,
            org: "o",
            provider,
            bytes: 10,
            quota: 1000,
            temp_key: id,
            object_key: id,
            lease_micros: 60_000_000,
            admission: subject.map(|subject| Admission {
                subject,
                per_subject: 2,
                per_org: 3,
            }),
        };
    // (ingest, subject — none for a capture —, provider, what the reservation answers);
    // "a1" is released before the last step
    let steps = [
        ("a1", Some("A"), "p", Reserved::Recorded),
        ("a2", Some("A"), "p", Reserved::Recorded),
        ("a3", Some("A"), "p", Reserved::TooManyUploads(2)),
        ("c1", None, "p", Reserved::Recorded),
        ("b1", Some("B"), "p", Reserved::Recorded),
        ("b2", Some("B"), "q", Reserved::TooManyUploads(3)),
        ("a4", Some("A"), "p", Reserved::Recorded),
    ];
    for (id, subject, provider, expected) in steps {
        if id == "a4" {
            db.release("a1").await.unwrap();
        }
        let got = db
            .reserve(&reservation(id, subject, provider))
            .await
            .unwrap();
        assert_eq!(got, expected, "reserving {id}");
    }
    assert_eq!(db.scoped("o", "p").usage().await.unwrap(), (0, 40));
}

/// A database outage while appliance collect lists backups is collect's own 503 envelope
/// (`{code, message, data}`), not the host's 500 after sqlx's 30 s connection timeout.
#[tokio::test]
async fn a_database_outage_during_a_list_is_collects_503_envelope() {
    let pg = PgCluster::start();
    let url = pg.database("outage").await;
    let gw = gateway_with("", &format!("{NO_RATE}\n[database]\nurl = \"{url}\"\n")).await;
    let r = upload(&gw, A1, Some("before.tar.gz"), b"kept".to_vec()).await;
    assert_eq!(r.status(), 201);
    pg.take_down();
    let r = gw
        .client
        .get(gw.at("/api/systems/backups"))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"code": 503, "message": "backup storage unavailable", "data": null})
    );
    pg.bring_back();
}

/// Two nodes on one PostgreSQL database: an org suspended through node A's admin API is
/// refused on node B (which learns of it by polling the control version), in collect's own
/// format, and served again on both once resumed; a credential issued on A authenticates on
/// B and, revoked on B, is refused on both; an org created on B is listed by A.
#[tokio::test]
async fn a_control_plane_change_on_one_node_reaches_the_other() {
    use super::admin::{list_status, until_list_status};
    use gateway_tests::ADMIN_TOKEN;
    let pg = PgCluster::start();
    let url = pg.database("control").await;
    let extra = format!("{NO_RATE}\n[database]\nurl = \"{url}\"\n");
    let (a, b) = (
        gateway_with("", &extra).await,
        gateway_with("", &extra).await,
    );
    let suspend = async |on: bool| {
        let r = a
            .admin(reqwest::Method::PATCH, "/orgs/acme", ADMIN_TOKEN)
            .json(&serde_json::json!({ "suspended": on }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    assert_eq!(list_status(&b).await, 200);
    suspend(true).await;
    assert_eq!(
        until_list_status(&b, 401).await,
        serde_json::json!({"code": 401, "message": "invalid system credentials", "data": null})
    );
    suspend(false).await;
    until_list_status(&b, 200).await;
    // a credential issued on A authenticates on B; revoked on B, it is refused on A
    let issued: Value = a
        .admin(reqwest::Method::POST, "/credentials", ADMIN_TOKEN)
        .json(
            &serde_json::json!({"org": "acme", "plugin": "appliance-collect",
                                  "scheme": "basic", "key": "NETH-PG"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = issued["secret"].as_str().unwrap();
    let on = async |gw: &gateway_tests::TestGateway, want: u16| {
        super::admin::until_as(gw, ("NETH-PG", secret), want).await
    };
    assert_eq!(on(&b, 200).await, 200);
    let id = issued["id"].as_str().unwrap();
    let r = b
        .admin(
            reqwest::Method::DELETE,
            &format!("/credentials/{id}"),
            ADMIN_TOKEN,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(on(&a, 401).await, 401);
    assert_eq!(on(&b, 401).await, 401);
    let made = b
        .admin(reqwest::Method::POST, "/orgs", ADMIN_TOKEN)
        .json(&serde_json::json!({ "id": "initech" }))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let listed: Value = a
        .admin(reqwest::Method::GET, "/orgs", ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["orgs"].as_array().unwrap().len(), 3, "{listed}");
}
