//! JSA (QRadar) backup and restore end to end: SEC-token and Basic auth, a CONFIG backup of
//! the console captured by a worker, Range paging with Content-Range, filter/sort/fields,
//! the documented error codes in QRadar's envelope, MISSING detection after the stored object
//! is removed behind the gateway's back, and the two-step restore into the console's source.

use std::time::Duration;

use serde_json::{Value, json};

use gateway_tests::{TestGateway, provider_plugin, sha256_hex};

const BASE: &str = "/api/backup_and_restore";

async fn gateway(dir: &std::path::Path) -> TestGateway {
    let console = dir.join("console-config.tgz");
    std::fs::write(&console, b"console configuration archive ".repeat(1000)).unwrap();
    let extra = format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "jsa"
scheme = "header"
header = "SEC"
key = "svc"
secret = "3c1b7a0e-jsa-token"

[[credentials]]
org = "acme"
plugin = "jsa"
scheme = "basic"
key = "admin"
secret = "qradar-pw"

[[resources]]
org = "acme"
plugin = "jsa"
kind = "jsa-host"
id = "53"
name = "console"
attributes = {{ is_console = true, stores_data = true, status = "Active", version = "7.5.0", build_version = "2022.6.0.20220610150537" }}
source = {{ file = "{console}" }}

[[resources]]
org = "acme"
plugin = "jsa"
kind = "jsa-host"
id = "104"
name = "event-processor"
attributes = {{ is_console = false, stores_data = false, status = "Active" }}
source = {{ file = "{console}" }}

[[resources]]
org = "acme"
plugin = "jsa"
kind = "backup-config"
id = "1"
attributes = {{ deployed = true }}
"#,
        org = super::ORG,
        console = console.display()
    );
    TestGateway::start(&[provider_plugin("jsa")], &extra)
        .await
        .unwrap()
}

fn sec(gw: &TestGateway, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    gw.client
        .request(method, gw.at(&format!("{BASE}{path}")))
        .header("SEC", "3c1b7a0e-jsa-token")
        .header("Version", "20.0")
}

async fn wait_status(gw: &TestGateway, path: &str, wanted: &str) -> Value {
    let mut v = Value::Null;
    for _ in 0..300 {
        v = sec(gw, reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["status"] == wanted {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never reached {wanted}: {v}");
}

fn assert_qradar_error(v: &Value, http: u16, code: u64) {
    assert_eq!(v["http_response"]["code"], http, "{v}");
    assert_eq!(v["code"], code, "{v}");
    for f in ["message", "description"] {
        assert!(v[f].is_string(), "{f}: {v}");
    }
    assert!(v["http_response"]["message"].is_string(), "{v}");
}

#[tokio::test]
async fn backup_list_missing_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path()).await;
    let create = |name: &str, ty: &str, extra: Value| {
        let mut body = json!({"name": name, "configuration_id": 1});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        sec(&gw, reqwest::Method::POST, "/backups")
            .header("backup_type", ty)
            .json(&body)
            .send()
    };
    let r = create(
        "nightly",
        "CONFIG",
        json!({"description": "nightly_backup"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.unwrap();
    let id = b["id"].as_u64().unwrap();
    assert_eq!(
        (b["type"].as_str(), b["host_id"].as_u64()),
        (Some("CONFIG"), Some(53))
    );
    assert_eq!(b["initiated_by"], "svc");
    let done = wait_status(&gw, &format!("/backups/{id}"), "SUCCESS").await;
    assert_eq!(done["size_on_disk"], 30_000);
    assert!(done["time_completed"].as_u64().unwrap() >= done["time_initiated"].as_u64().unwrap());

    // errors: duplicate name, CONFIG off the console, bad name, DATA on a host without data
    let r = create("nightly", "CONFIG", json!({})).await.unwrap();
    assert_eq!(r.status(), 409);
    assert_qradar_error(&r.json().await.unwrap(), 409, 1005);
    let r = create("ep", "CONFIG", json!({"host_id": 104}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_qradar_error(&r.json().await.unwrap(), 422, 1012);
    let r = create("bad name!", "CONFIG", json!({})).await.unwrap();
    assert_qradar_error(&r.json().await.unwrap(), 422, 1004);
    let r = create("ep-data", "DATA", json!({"host_id": 104}))
        .await
        .unwrap();
    assert_qradar_error(&r.json().await.unwrap(), 422, 1013);

    // a second backup, then paging, filter, sort, fields
    assert_eq!(
        create("weekly", "CONFIG", json!({}))
            .await
            .unwrap()
            .status(),
        201
    );
    wait_status(&gw, "/backups/2", "SUCCESS").await;
    let r = sec(
        &gw,
        reqwest::Method::GET,
        "/backups?sort=-id&fields=id,name",
    )
    .header("Range", "items=0-0")
    .send()
    .await
    .unwrap();
    assert_eq!(r.headers()["content-range"], "items 0-0/2");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([{"id": 2, "name": "weekly"}])
    );
    let r = sec(
        &gw,
        reqwest::Method::GET,
        "/backups?filter=name%3D%22nightly%22&fields=id",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!([{"id": 1}]));
    let r = sec(&gw, reqwest::Method::GET, "/backups?filter=name%3D%3D")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        422,
        "a malformed filter is a clear 422, never a 500"
    );
    let r = sec(&gw, reqwest::Method::GET, "/backups?sort=%2Bnope")
        .send()
        .await
        .unwrap();
    assert_qradar_error(&r.json().await.unwrap(), 422, 1018);

    // Basic auth works too; a wrong token is QRadar's 401
    let r = gw
        .client
        .get(gw.at(&format!("{BASE}/backups")))
        .basic_auth("admin", Some("qradar-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = gw
        .client
        .get(gw.at(&format!("{BASE}/backups")))
        .header("SEC", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // the two-step restore of backup 1 into the console
    let r = sec(&gw, reqwest::Method::POST, "/restores")
        .json(&json!({"backup_id": id, "groups": ["DEPLOYMENT_CONFIG"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let restore: Value = r.json().await.unwrap();
    assert_eq!(restore["status"], "PENDING");
    let rid = restore["id"].as_u64().unwrap();
    let r = sec(&gw, reqwest::Method::POST, &format!("/restores/{rid}"))
        .json(&json!({"status": "SUCCESS"}))
        .send()
        .await
        .unwrap();
    assert_qradar_error(&r.json().await.unwrap(), 422, 1013);
    std::fs::write(dir.path().join("console-config.tgz"), b"changed since").unwrap();
    let r = sec(&gw, reqwest::Method::POST, &format!("/restores/{rid}"))
        .json(&json!({"status": "REQUESTING"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_status(&gw, &format!("/restores/{rid}"), "SUCCESS").await;
    let restored = std::fs::read(dir.path().join("console-config.tgz")).unwrap();
    assert_eq!(
        sha256_hex(&restored),
        sha256_hex(&b"console configuration archive ".repeat(1000))
    );

    // MISSING: the stored object of backup 2 disappears behind the gateway's back
    let (items, _) = gw
        .gateway
        .services
        .db
        .backups(
            "acme",
            "jsa",
            &backup_gateway::store::BackupQuery {
                newest_first: true,
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let key = &items[0].object_key;
    std::fs::remove_file(gw.path().join("objects").join(key)).unwrap();
    let v: Value = sec(&gw, reqwest::Method::GET, "/backups/2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "MISSING", "{v}");

    // unknown ids
    let r = sec(&gw, reqwest::Method::GET, "/backups/999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_qradar_error(&r.json().await.unwrap(), 404, 1001);
}
