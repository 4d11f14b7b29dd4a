//! ByCloud incremental chain at size: 5 backups of a 64 MiB volume with 1% of it rewritten
//! in place between backups (16 extents at random offsets). Each incremental backup must
//! store at most 3% of the volume (measured by the host's `stored_bytes` and printed), and
//! restoring any backup of the chain must reproduce the volume as it was at that backup,
//! byte for byte. Deleting the chain newest-first frees every stored byte.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use gateway_tests::{Rng, TestGateway, files_under, provider_plugin, sha256_hex};

const VOL: &str = "6f1d2c3b-0000-4000-8000-000000000001";
const SCRATCH: &str = "6f1d2c3b-0000-4000-8000-000000000002";
const TOKEN: &str = "chain-admin";
const VOLUME: usize = 64 * 1024 * 1024;
const EXTENTS: usize = 16;

async fn send(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = gw.client.request(method, gw.at(path)).bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let bytes = resp.bytes().await.expect("body");
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON")
    };
    (status, v)
}

/// Poll a backup until its status is no longer `from`.
async fn settle(gw: &TestGateway, id: &str, from: &str) -> Value {
    for _ in 0..1200 {
        let (status, b) = send(gw, reqwest::Method::GET, &format!("/v1/backups/{id}"), None).await;
        assert_eq!(status, 200, "{b}");
        if b["backup"]["status"] != from {
            return b["backup"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("backup {id} stayed {from}");
}

#[tokio::test]
async fn incremental_chain_of_a_64_mib_volume_stores_little_and_restores_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vol = dir.path().join("vol.img");
    let scratch = dir.path().join("scratch.img");
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut data = vec![0u8; VOLUME];
    rng.fill(&mut data);
    std::fs::write(&vol, &data).expect("volume");
    std::fs::write(&scratch, b"").expect("scratch");
    let extra = format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "bycloud"
scheme = "bearer"
key = "chain"
secret = "{TOKEN}"
scopes = ["backups:read", "backups:write"]

[[resources]]
org = "acme"
plugin = "bycloud"
kind = "volume"
id = "{VOL}"
name = "big"
source = {{ file = "{vol}" }}

[[resources]]
org = "acme"
plugin = "bycloud"
kind = "volume"
id = "{SCRATCH}"
name = "scratch"
source = {{ file = "{scratch}" }}
"#,
        org = super::ORG,
        vol = vol.display(),
        scratch = scratch.display(),
    );
    let gw = TestGateway::start(&[provider_plugin("bycloud")], &extra)
        .await
        .expect("gateway");

    let extent = VOLUME / 100 / EXTENTS;
    let mut chain: Vec<(String, String)> = Vec::new(); // (backup id, volume sha256 then)
    let mut report = Vec::new();
    for i in 0..5 {
        if i > 0 {
            for _ in 0..EXTENTS {
                let at = (rng.next_u64() as usize) % (VOLUME - extent);
                rng.fill(&mut data[at..at + extent]);
            }
            std::fs::write(&vol, &data).expect("volume");
        }
        let (status, created) = send(
            &gw,
            reqwest::Method::POST,
            "/v1/backups",
            Some(json!({ "volume_id": VOL, "name": format!("chain-{i}"), "incremental": i > 0 })),
        )
        .await;
        assert_eq!(status, 202, "{created}");
        let id = created["backup"]["id"].as_str().expect("id").to_owned();
        let b = settle(&gw, &id, "creating").await;
        assert_eq!(b["status"], "available", "{b}");
        assert_eq!(b["is_incremental"], i > 0, "{b}");
        chain.push((id, sha256_hex(&data)));
    }
    // the host's record of what each backup stored, oldest first
    let (records, _) = gw
        .gateway
        .services
        .db
        .scoped("acme", "bycloud")
        .backups(&backup_gateway::store::BackupQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("records");
    assert_eq!(records.len(), 5);
    for (i, r) in records.iter().enumerate() {
        assert!(r.chunked);
        assert_eq!(r.size, VOLUME as i64);
        assert_eq!(
            r.sha256, chain[i].1,
            "backup {i} hashed the volume as it was"
        );
        let share = r.stored_bytes as f64 / VOLUME as f64;
        report.push(format!(
            "backup {}: {} bytes ({:.2}%)",
            i + 1,
            r.stored_bytes,
            share * 100.0
        ));
        if i > 0 {
            assert!(
                share <= 0.03,
                "incremental {i} stored {:.2}% of the volume",
                share * 100.0
            );
        }
    }
    println!(
        "stored per backup of the 64 MiB chain: {}",
        report.join(", ")
    );
    // every parent shows its dependent
    for (id, _) in &chain[..4] {
        let b = settle(&gw, id, "restoring").await;
        assert_eq!(b["has_dependent_backups"], true, "{b}");
    }

    // restore each backup, newest first, into the scratch volume: exact bytes every time
    for (id, sha) in chain.iter().rev() {
        let (status, answer) = send(
            &gw,
            reqwest::Method::POST,
            &format!("/v1/backups/{id}/restore"),
            Some(json!({ "volume_id": SCRATCH })),
        )
        .await;
        assert_eq!(status, 202, "{answer}");
        let b = settle(&gw, id, "restoring").await;
        assert_eq!(b["status"], "available", "{b}");
        let restored = std::fs::read(&scratch).expect("restored volume");
        assert_eq!(restored.len(), VOLUME);
        assert_eq!(&sha256_hex(&restored), sha, "restore of {id}");
    }

    // one pack per backup (each stored something new)
    assert_eq!(
        files_under(&gw.path().join("objects").join("acme")).len(),
        5
    );

    // the chain goes newest first; a parent is refused while its child exists
    let (status, _) = send(
        &gw,
        reqwest::Method::DELETE,
        &format!("/v1/backups/{}", chain[0].0),
        None,
    )
    .await;
    assert_eq!(status, 409);
    for (id, _) in chain.iter().rev() {
        let (status, body) = send(
            &gw,
            reqwest::Method::DELETE,
            &format!("/v1/backups/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 202, "{body}");
        for _ in 0..600 {
            let (s, _) = send(
                &gw,
                reqwest::Method::GET,
                &format!("/v1/backups/{id}"),
                None,
            )
            .await;
            if s == 404 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let (used, reserved) = gw
        .gateway
        .services
        .db
        .scoped("acme", "bycloud")
        .usage()
        .await
        .expect("usage");
    assert_eq!((used, reserved), (0, 0), "every stored byte freed");
    let packs = files_under(&gw.path().join("objects").join("acme"));
    assert!(packs.is_empty(), "packs left behind: {packs:?}");
}
