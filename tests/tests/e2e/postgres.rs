//! The same guarantees on PostgreSQL: a throwaway cluster per test (initdb + pg_ctl on a
//! loopback port), the gateway's metadata, quota accounting and rate windows in it.

use serde_json::Value;

use super::appliance::{A1, A2, NO_RATE, gateway, list, upload, usage};
use gateway_tests::pg::PgCluster;

#[tokio::test]
async fn appliance_flow_and_quota_race_on_postgres() {
    let pg = PgCluster::start();
    let url = pg.database("gw").await;
    let gw = gateway(&format!(
        "{NO_RATE}\n[plugins.appliance-collect]\norg_bytes = 100000\n\n[database]\nurl = \"{url}\"\n"
    ))
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
