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
        .scoped("acme", "jsa")
        .backups(&backup_gateway::store::BackupQuery {
            newest_first: true,
            limit: 1,
            ..Default::default()
        })
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

/// `Range` header, then the list with `filter` and `fields` as a QRadar client sends them
/// (filter values URL-encoded twice).
async fn listed(gw: &TestGateway, path: &str, range: &str) -> (String, Value) {
    let r = sec(gw, reqwest::Method::GET, path)
        .header("Range", range)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let range = r.headers()["content-range"].to_str().unwrap().to_string();
    (range, r.json().await.unwrap())
}

/// `filter=VALUE` URL-encoded twice, as QRadar asks.
fn filter(value: &str) -> String {
    let once: String = url_encode(value);
    url_encode(&once)
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn create_config_backup(gw: &TestGateway, name: &str) -> u64 {
    let r = sec(gw, reqwest::Method::POST, "/backups")
        .header("backup_type", "CONFIG")
        .json(&json!({"name": name, "configuration_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    wait_status(gw, &format!("/backups/{id}"), "SUCCESS").await;
    id
}

async fn create_restore(gw: &TestGateway, backup: u64) -> reqwest::Response {
    sec(gw, reqwest::Method::POST, "/restores")
        .json(&json!({"backup_id": backup, "groups": ["DEPLOYMENT_CONFIG"]}))
        .send()
        .await
        .unwrap()
}

async fn request_restore(gw: &TestGateway, restore: u64) -> Value {
    let r = sec(gw, reqwest::Method::POST, &format!("/restores/{restore}"))
        .json(&json!({"status": "REQUESTING"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Issue 24, point 6: a SUCCESS backup is deletable (202) whatever restore uses it, at once
/// (no window in which a restore makes it 422/1017), and the restore never leaves a partly
/// written console: it finishes on what it holds, or fails with the file untouched.
#[tokio::test]
async fn a_backup_a_restore_uses_is_deleted_at_once_and_the_restore_never_tears_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path()).await;
    let console = dir.path().join("console-config.tgz");
    let original = std::fs::read(&console).unwrap();

    // A requested restore, its backup deleted the instant after (the 0 ms case).
    let backup = create_config_backup(&gw, "nightly").await;
    let restore = create_restore(&gw, backup)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let rid = restore["id"].as_u64().unwrap();
    std::fs::write(&console, b"changed since the backup").unwrap();
    assert_eq!(request_restore(&gw, rid).await["status"], "REQUESTING");
    let r = sec(
        &gw,
        reqwest::Method::DELETE,
        &format!("/backups/{backup}?fields=id,status"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 202, "deletable while a restore uses it");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"id": backup, "status": "DELETING"})
    );
    let r = sec(&gw, reqwest::Method::GET, &format!("/backups/{backup}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The restore ends, SUCCESS or FAILED, seen through the list as a client polls it.
    let path = format!(
        "/restores?filter={}&fields=id,status,backup_id",
        filter(&format!("id={rid} and status in (SUCCESS, FAILED)"))
    );
    let mut outcome = Value::Null;
    for _ in 0..300 {
        let (range, items) = listed(&gw, &path, "items=0-9").await;
        if let Some(item) = items.as_array().and_then(|a| a.first()) {
            assert_eq!(range, "items 0-0/1");
            outcome = item.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(outcome["backup_id"], backup, "the restore ended: {outcome}");
    let now = std::fs::read(&console).unwrap();
    match outcome["status"].as_str() {
        Some("SUCCESS") => assert_eq!(sha256_hex(&now), sha256_hex(&original)),
        Some("FAILED") => assert_eq!(now, b"changed since the backup"),
        other => panic!("unexpected outcome {other:?}"),
    }

    // A pending restore whose backup is deleted fails when requested, queueing nothing.
    let backup = create_config_backup(&gw, "weekly").await;
    let r = create_restore(&gw, backup).await;
    assert_eq!(r.status(), 201);
    let rid = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let r = sec(&gw, reqwest::Method::DELETE, &format!("/backups/{backup}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let requested = request_restore(&gw, rid).await;
    assert_eq!(requested["status"], "FAILED", "{requested}");
    assert_eq!(
        std::fs::read(&console).unwrap(),
        now,
        "the console is untouched"
    );
}

/// Point 6, the mechanism: a restore job that has opened a backup's object reads all of it
/// even when the backup is deleted under it (the host streams from the open object), so the
/// restore finishes on what it holds, byte for byte.
#[tokio::test]
async fn an_opened_backup_is_read_to_the_end_after_its_delete() {
    let dir = tempfile::tempdir().unwrap();
    let console = dir.path().join("console-config.tgz");
    let gw = gateway(dir.path()).await;
    // Larger than one read, so the stream is part-way when the delete lands.
    let content = gateway_tests::Rng(7).bytes(3 * 1024 * 1024 + 17);
    std::fs::write(&console, &content).unwrap();
    let backup = create_config_backup(&gw, "big").await;
    let services = &gw.gateway.services;
    let (records, _) = services
        .db
        .scoped("acme", "jsa")
        .backups(&backup_gateway::store::BackupQuery {
            newest_first: true,
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let record = records.into_iter().next().unwrap();
    let mut stream =
        backup_gateway::store::content::stream(&services.db, &services.objects, &record, None)
            .await
            .unwrap();
    use futures_util::StreamExt;
    let mut read = stream.next().await.unwrap().unwrap().to_vec();
    assert!(read.len() < content.len());
    let r = sec(&gw, reqwest::Method::DELETE, &format!("/backups/{backup}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        !services.objects.exists(&record.object_key).await.unwrap(),
        "the object is gone from the store"
    );
    while let Some(chunk) = stream.next().await {
        read.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(sha256_hex(&read), sha256_hex(&content));
}

/// Issue 24, point 7: `DELETE /restores/{id}` clears a PENDING restore (204, no body), which
/// then no longer blocks new restores; a running one is 422/1017; a finished one is deleted.
#[tokio::test]
async fn restores_are_deleted_as_qradar_clients_do() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path()).await;
    let backup = create_config_backup(&gw, "nightly").await;
    assert_eq!(create_restore(&gw, backup).await.status(), 201);
    let r = create_restore(&gw, backup).await;
    assert_eq!(r.status(), 409);
    assert_qradar_error(&r.json().await.unwrap(), 409, 1011);

    let r = sec(&gw, reqwest::Method::DELETE, "/restores/1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty(), "no content");
    let r = sec(&gw, reqwest::Method::GET, "/restores/1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_qradar_error(&r.json().await.unwrap(), 404, 1001);
    let (range, items) = listed(&gw, "/restores?fields=id,status", "items=0-49").await;
    assert_eq!((range.as_str(), items), ("items */0", json!([])));

    // The slot is free: the next restore is created, requested and cannot be deleted while
    // it runs; once finished it can.
    let r = create_restore(&gw, backup).await;
    assert_eq!(r.status(), 201);
    let rid = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    assert_eq!(rid, 2);
    request_restore(&gw, rid).await;
    let r = sec(&gw, reqwest::Method::DELETE, &format!("/restores/{rid}"))
        .send()
        .await
        .unwrap();
    // The restore of a 30 kB file may already have finished on a fast machine.
    if r.status() == 422 {
        assert_qradar_error(&r.json().await.unwrap(), 422, 1017);
        wait_status(&gw, &format!("/restores/{rid}"), "SUCCESS").await;
        let r = sec(&gw, reqwest::Method::DELETE, &format!("/restores/{rid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    } else {
        assert_eq!(r.status(), 204);
    }
    let (range, items) = listed(&gw, "/restores?fields=id", "items=0-0").await;
    assert_eq!((range.as_str(), items), ("items */0", json!([])));
    let r = sec(&gw, reqwest::Method::DELETE, &format!("/restores/{rid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Issue 24, point 8: every example the document gives for `filter`, `fields`, `sort` and
/// `Range` is accepted by the operation it is given for, and the restore examples select
/// what they say.
#[tokio::test]
async fn the_documents_examples_work_as_a_client_sends_them() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path()).await;
    let backup = create_config_backup(&gw, "nightly").await;
    let rid = create_restore(&gw, backup)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    request_restore(&gw, rid).await;
    wait_status(&gw, &format!("/restores/{rid}"), "SUCCESS").await;

    let doc: Value =
        serde_json::from_str(include_str!("../../../plugins/jsa/src/openapi.json")).unwrap();
    let mut sent = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        let path = path.replace("{id}", "1");
        let mut query = Vec::new();
        let mut range = None;
        for p in op["parameters"].as_array().unwrap() {
            let p = doc
                .pointer(
                    p["$ref"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('#'),
                )
                .unwrap_or(p);
            let Some(example) = p["schema"]["example"].as_str() else {
                continue;
            };
            match (p["in"].as_str(), p["name"].as_str()) {
                (Some("query"), Some("filter")) => {
                    query.push(format!("filter={}", filter(example)))
                }
                (Some("query"), Some(name)) => {
                    query.push(format!("{name}={}", url_encode(example)))
                }
                (Some("header"), Some("Range")) => range = Some(example),
                _ => continue,
            }
            sent += 1;
        }
        let url = gw.at(&format!("{path}?{}", query.join("&")));
        let mut req = gw.client.get(&url).header("SEC", "3c1b7a0e-jsa-token");
        if let Some(range) = range {
            req = req.header("Range", range);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}: {}", r.text().await.unwrap());
    }
    assert!(sent >= 10, "{sent} examples sent");

    // The restore examples, as a client writes them.
    let path = format!(
        "/restores?fields=id,backup_name,status&filter={}",
        filter("status=SUCCESS and backup_type=CONFIG")
    );
    let (range, items) = listed(&gw, &path, "items=0-49").await;
    assert_eq!(range, "items 0-0/1");
    assert_eq!(
        items,
        json!([{"id": rid, "backup_name": "nightly", "status": "SUCCESS"}])
    );
}
