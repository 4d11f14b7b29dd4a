//! ByCloud volume backups end to end, over Bearer tokens and `X-Api-Key` access keys: create
//! → poll until available → get → list → restore into an existing volume (its bytes become
//! the backup's) → restore into a new volume → delete; filters and marker paging by the
//! links; an incremental backup on a deduplicated full one (parent shows dependents and
//! cannot be deleted first; each restores its own bytes); tenant isolation; and every error
//! status in ByCloud's envelope, with the wire format pinned by snapshots.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use gateway_tests::{TestGateway, provider_plugin};

const BASE: &str = "/v1/backups";
/// acme's volumes: A and B available, C attached.
const VOL_A: &str = "550e8400-e29b-41d4-a716-446655440001";
const VOL_B: &str = "550e8400-e29b-41d4-a716-446655440002";
const VOL_C: &str = "550e8400-e29b-41d4-a716-446655440003";
/// globex's volume.
const VOL_G: &str = "550e8400-e29b-41d4-a716-446655440009";

const ADMIN: &str = "bc-admin-token";
const VIEWER: &str = "bc-viewer-token";
const GLOBEX: &str = "bc-globex-token";
const API_KEY: &str = "AKBC0000000000000001:s3cr3t-access-key";

/// A volume's bytes: deterministic, distinct per seed, a few chunks long.
fn volume_bytes(seed: u32, len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| {
            (i.wrapping_add(seed.wrapping_mul(7919))
                .wrapping_mul(2_654_435_761)
                >> 13) as u8
        })
        .collect()
}

/// The test's volumes on disk.
struct Volumes {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
}

fn volumes() -> Volumes {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("vol-a.img");
    let b = dir.path().join("vol-b.img");
    std::fs::write(&a, volume_bytes(1, 1_500_000)).unwrap();
    std::fs::write(&b, volume_bytes(2, 700_000)).unwrap();
    for name in ["vol-c.img", "vol-g.img"] {
        std::fs::write(dir.path().join(name), volume_bytes(3, 10_000)).unwrap();
    }
    Volumes { _dir: dir, a, b }
}

fn config(v: &Volumes, extra: &str) -> String {
    let dir = v.a.parent().unwrap_or(Path::new("."));
    format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "bycloud"
scheme = "bearer"
key = "console-user"
secret = "{ADMIN}"
scopes = ["backups:read", "backups:write"]

[[credentials]]
org = "acme"
plugin = "bycloud"
scheme = "header"
header = "X-Api-Key"
key = "AKBC0000000000000001"
secret = "{API_KEY}"
scopes = ["backups:read", "backups:write"]

[[credentials]]
org = "acme"
plugin = "bycloud"
scheme = "bearer"
key = "viewer"
secret = "{VIEWER}"
scopes = ["backups:read"]

[[credentials]]
org = "globex"
plugin = "bycloud"
scheme = "bearer"
key = "globex-user"
secret = "{GLOBEX}"
scopes = ["backups:read", "backups:write"]

[[resources]]
org = "acme"
plugin = "bycloud"
kind = "volume"
id = "{VOL_A}"
name = "db-data"
state = "available"
source = {{ file = "{a}" }}

[[resources]]
org = "acme"
plugin = "bycloud"
kind = "volume"
id = "{VOL_B}"
name = "scratch"
state = "available"
attributes = {{ region = "sto2" }}
source = {{ file = "{b}" }}

[[resources]]
org = "acme"
plugin = "bycloud"
kind = "volume"
id = "{VOL_C}"
name = "web-root"
state = "in-use"
source = {{ file = "{dir}/vol-c.img" }}

[[resources]]
org = "globex"
plugin = "bycloud"
kind = "volume"
id = "{VOL_G}"
name = "globex-db"
source = {{ file = "{dir}/vol-g.img" }}

{extra}
"#,
        org = super::ORG,
        a = v.a.display(),
        b = v.b.display(),
        dir = dir.display(),
    )
}

async fn gateway(v: &Volumes) -> TestGateway {
    TestGateway::start(&[provider_plugin("bycloud")], &config(v, ""))
        .await
        .unwrap()
}

/// A request with a Bearer token.
fn bearer(gw: &TestGateway, method: Method, path: &str, token: &str) -> RequestBuilder {
    gw.client.request(method, gw.at(path)).bearer_auth(token)
}

/// A request with the access key.
fn api_key(gw: &TestGateway, method: Method, path: &str) -> RequestBuilder {
    gw.client
        .request(method, gw.at(path))
        .header("X-Api-Key", API_KEY)
}

/// Send, and return the status and the JSON body (`Null` for an empty one).
async fn send(req: RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{status}: not JSON ({e})"))
    };
    (status, body)
}

/// Send a request that must fail, check ByCloud's envelope (with `request_id` matching the
/// response's `x-request-id`) and return the error object.
async fn refused(req: RequestBuilder, status: u16) -> Value {
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), status);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "only `error`: {body}"
    );
    assert_eq!(error["code"], status, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        error["details"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert_eq!(error["request_id"], format!("req-{request_id}"), "{body}");
    error.clone()
}

async fn create(gw: &TestGateway, token: &str, body: Value) -> Value {
    let (status, created) = send(bearer(gw, Method::POST, BASE, token).json(&body)).await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["backup"]["status"], "creating", "{created}");
    created["backup"].clone()
}

async fn get(gw: &TestGateway, id: &str) -> Value {
    let (status, body) = send(bearer(gw, Method::GET, &format!("{BASE}/{id}"), ADMIN)).await;
    assert_eq!(status, 200, "{body}");
    body["backup"].clone()
}

/// Poll a backup until its status is not `from`; returns it.
async fn settle(gw: &TestGateway, id: &str, from: &str) -> Value {
    for _ in 0..600 {
        let b = get(gw, id).await;
        if b["status"] != from {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("backup {id} stayed {from}");
}

/// Create a backup and wait until it is available.
async fn available(gw: &TestGateway, body: Value) -> Value {
    let id = create(gw, ADMIN, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = settle(gw, &id, "creating").await;
    assert_eq!(b["status"], "available", "{b}");
    b
}

/// Restore and wait until the backup is no longer restoring.
async fn restore(gw: &TestGateway, id: &str, body: Option<Value>) -> String {
    let mut req = api_key(gw, Method::POST, &format!("{BASE}/{id}/restore"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let (status, answer) = send(req).await;
    assert_eq!(status, 202, "{answer}");
    let volume = answer["volume_id"].as_str().unwrap().to_owned();
    assert_eq!(answer, json!({ "volume_id": volume }));
    let b = settle(gw, id, "restoring").await;
    assert_eq!(b["status"], "available", "{b}");
    volume
}

/// The file a volume's source names.
async fn source_file(gw: &TestGateway, org: &str, volume: &str) -> PathBuf {
    let r = gw
        .gateway
        .services
        .db
        .scoped(org, "bycloud")
        .resource("volume", volume)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("volume {volume} exists"));
    let source: Value = serde_json::from_str(r.source.as_deref().expect("a source")).unwrap();
    PathBuf::from(source["file"].as_str().expect("a file source"))
}

/// The stored backups of the org, as the host records them.
async fn stored(gw: &TestGateway, org: &str) -> Vec<backup_gateway::store::BackupRecord> {
    gw.gateway
        .services
        .db
        .scoped(org, "bycloud")
        .backups(&backup_gateway::store::BackupQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .0
}

fn list_ids(body: &Value) -> Vec<String> {
    body["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Redactions for generated values in snapshots.
fn redacted(mut v: Value, ids: &[(&str, &str)]) -> Value {
    let mut text = v.to_string();
    for (id, name) in ids {
        text = text.replace(id, name);
    }
    v = serde_json::from_str(&text).unwrap();
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if matches!(k.as_str(), "created_at" | "updated_at")
                        && child.as_str().is_some_and(|s| s.ends_with('Z'))
                    {
                        *child = json!("[timestamp]");
                    } else if k == "request_id" {
                        *child = json!("[request id]");
                    } else {
                        walk(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[tokio::test]
async fn lifecycle_create_get_list_restore_delete() {
    let v = volumes();
    let gw = gateway(&v).await;
    let original_a = std::fs::read(&v.a).unwrap();

    let created = create(
        &gw,
        ADMIN,
        json!({
            "volume_id": VOL_A,
            "name": "backup-2024-01-15",
            "description": "Weekly backup",
            "container": "nightly",
            "snapshot_id": "550e8400-e29b-41d4-a716-446655440000",
            "metadata": { "environment": "production", "team": "backend" },
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    insta::assert_json_snapshot!(
        "bycloud_created",
        redacted(json!({ "backup": created }), &[(&id, "[backup id]")])
    );

    let backup = settle(&gw, &id, "creating").await;
    assert_eq!(backup["status"], "available", "{backup}");
    assert_eq!(backup["created_at"], created["created_at"]);
    insta::assert_json_snapshot!(
        "bycloud_available",
        redacted(json!({ "backup": backup }), &[(&id, "[backup id]")])
    );
    // The host stored the volume's bytes, deduplicated.
    let records = stored(&gw, "acme").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].size as usize, original_a.len());
    assert_eq!(records[0].sha256, gateway_tests::sha256_hex(&original_a));
    assert!(records[0].stored_bytes > 0);

    // Read through both schemes and the read-only credential.
    let (status, listed) = send(bearer(&gw, Method::GET, BASE, VIEWER)).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!(
        "bycloud_list",
        redacted(listed.clone(), &[(&id, "[backup id]")])
    );
    let (status, via_key) = send(api_key(&gw, Method::GET, &format!("{BASE}/{id}"))).await;
    assert_eq!((status, &via_key["backup"]), (StatusCode::OK, &backup));

    // Restore into volume B: its file becomes volume A's bytes.
    assert_ne!(std::fs::read(&v.b).unwrap(), original_a);
    let target = restore(&gw, &id, Some(json!({ "volume_id": VOL_B }))).await;
    assert_eq!(target, VOL_B);
    assert_eq!(std::fs::read(&v.b).unwrap(), original_a);

    // Delete: 202 with no body, then 404 everywhere.
    let (status, body) = send(bearer(&gw, Method::DELETE, &format!("{BASE}/{id}"), ADMIN)).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, Value::Null));
    refused(
        bearer(&gw, Method::GET, &format!("{BASE}/{id}"), ADMIN),
        404,
    )
    .await;
    refused(
        bearer(&gw, Method::DELETE, &format!("{BASE}/{id}"), ADMIN),
        404,
    )
    .await;
    assert!(stored(&gw, "acme").await.is_empty());
    let (_, listed) = send(bearer(&gw, Method::GET, BASE, ADMIN)).await;
    assert_eq!(listed["meta"]["total"], 0);
}

#[tokio::test]
async fn restore_without_a_volume_creates_one() {
    let v = volumes();
    let gw = gateway(&v).await;
    let original_a = std::fs::read(&v.a).unwrap();
    let backup = available(&gw, json!({ "volume_id": VOL_A })).await;
    let id = backup["id"].as_str().unwrap();

    let volume = restore(&gw, id, Some(json!({ "name": "db-copy" }))).await;
    assert!(![VOL_A, VOL_B, VOL_C].contains(&volume.as_str()));
    let record = gw
        .gateway
        .services
        .db
        .scoped("acme", "bycloud")
        .resource("volume", &volume)
        .await
        .unwrap()
        .expect("the new volume is a resource of acme");
    assert_eq!(record.name, "db-copy");
    assert_eq!(
        std::fs::read(source_file(&gw, "acme", &volume).await).unwrap(),
        original_a
    );
    // The new volume is an ordinary volume: it can be backed up in turn.
    let copy = available(&gw, json!({ "volume_id": volume })).await;
    assert_eq!(copy["volume_id"], volume.as_str());

    // Without a name: Cinder's `restore_backup_<id>`.
    let unnamed = restore(&gw, id, None).await;
    let record = gw
        .gateway
        .services
        .db
        .scoped("acme", "bycloud")
        .resource("volume", &unnamed)
        .await
        .unwrap()
        .expect("created");
    assert_eq!(record.name, format!("restore_backup_{id}"));
    // Another org cannot see either new volume.
    refused(
        bearer(&gw, Method::POST, BASE, GLOBEX).json(&json!({ "volume_id": volume })),
        404,
    )
    .await;
}

#[tokio::test]
async fn filters_and_marker_paging_with_links() {
    let v = volumes();
    let gw = gateway(&v).await;
    // Five backups, oldest first: daily-0..2 of A, weekly-0..1 of B.
    let mut ids = Vec::new();
    for (volume, name) in [
        (VOL_A, "daily-0"),
        (VOL_B, "weekly-0"),
        (VOL_A, "daily-1"),
        (VOL_B, "weekly-1"),
        (VOL_A, "daily-2"),
    ] {
        let b = available(&gw, json!({ "volume_id": volume, "name": name })).await;
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let list = |path: String| list_at(&gw, path);
    let all = list(BASE.to_string()).await;
    assert_eq!(list_ids(&all), newest_first);
    assert_eq!(
        all["meta"],
        json!({ "total": 5, "limit": 20, "marker": null, "has_more": false })
    );

    // Follow `next` two at a time, then walk back with `previous`.
    let mut pages = Vec::new();
    let mut link = Some(format!("{BASE}?limit=2"));
    while let Some(path) = link {
        let page = list(path).await;
        link = page["links"]["next"].as_str().map(str::to_owned);
        assert_eq!(page["meta"]["has_more"], link.is_some());
        assert_eq!(page["meta"]["total"], 5);
        pages.push(page);
    }
    let walked: Vec<String> = pages.iter().flat_map(list_ids).collect();
    assert_eq!(walked, newest_first);
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0]["links"]["previous"], Value::Null);
    assert_eq!(pages[2]["meta"]["marker"], ids[1].as_str());
    let back = list(pages[2]["links"]["previous"].as_str().unwrap().to_owned()).await;
    assert_eq!(list_ids(&back), list_ids(&pages[1]));
    let first = list(back["links"]["previous"].as_str().unwrap().to_owned()).await;
    assert_eq!(list_ids(&first), list_ids(&pages[0]));
    assert_eq!(first["links"]["self"], "/v1/backups?limit=2");

    // Filters, alone and together, with paging.
    let names = |body: &Value| -> Vec<String> {
        body["backups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&list(format!("{BASE}?name=daily-1")).await),
        ["daily-1"]
    );
    assert_eq!(
        names(&list(format!("{BASE}?name=daily*")).await),
        ["daily-2", "daily-1", "daily-0"]
    );
    assert_eq!(
        names(&list(format!("{BASE}?name=daily")).await),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&list(format!("{BASE}?volume_id={VOL_B}")).await),
        ["weekly-1", "weekly-0"]
    );
    assert_eq!(
        list(format!("{BASE}?status=available")).await["meta"]["total"],
        5
    );
    assert_eq!(
        list(format!("{BASE}?status=error")).await["meta"]["total"],
        0
    );
    let page = list(format!("{BASE}?name=daily*&volume_id={VOL_A}&limit=1")).await;
    assert_eq!(names(&page), ["daily-2"]);
    let next = page["links"]["next"].as_str().unwrap();
    assert!(
        next.contains("name=daily%2A") && next.contains(VOL_A),
        "{next}"
    );
    assert_eq!(names(&list(next.to_owned()).await), ["daily-1"]);

    // A backup that is creating shows under status=creating until it settles.
    let creating = create(&gw, ADMIN, json!({ "volume_id": VOL_B, "name": "late" })).await;
    let late = creating["id"].as_str().unwrap();
    let snapshot = list(format!("{BASE}?status=creating")).await;
    assert!(list_ids(&snapshot).iter().all(|i| i == late), "{snapshot}");
    settle(&gw, late, "creating").await;
    assert_eq!(
        list(format!("{BASE}?status=creating")).await["meta"]["total"],
        0
    );
}

#[tokio::test]
async fn incremental_backups_depend_on_their_parent() {
    let v = volumes();
    let gw = gateway(&v).await;
    let original_a = std::fs::read(&v.a).unwrap();

    // Incremental with nothing to build on.
    let e = refused(
        bearer(&gw, Method::POST, BASE, ADMIN)
            .json(&json!({ "volume_id": VOL_A, "incremental": true })),
        400,
    )
    .await;
    assert_eq!(
        e["details"],
        "No backups available to do an incremental backup."
    );

    let full = available(&gw, json!({ "volume_id": VOL_A, "name": "full" })).await;
    let full_id = full["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (full["size"].clone(), full["is_incremental"].clone()),
        (json!(1), json!(false))
    );

    // Change 4 KiB in the middle of the volume, then back it up incrementally.
    let mut changed = original_a.clone();
    changed[700_000..704_096].fill(0xAB);
    std::fs::write(&v.a, &changed).unwrap();
    let inc = available(
        &gw,
        json!({ "volume_id": VOL_A, "name": "inc", "incremental": true }),
    )
    .await;
    let inc_id = inc["id"].as_str().unwrap().to_owned();
    assert_eq!(inc["is_incremental"], true);
    assert_eq!(inc["has_dependent_backups"], false);
    assert_eq!(
        inc["size"], 1,
        "the changed chunks, rounded up to a whole GB"
    );
    assert_eq!(get(&gw, &full_id).await["has_dependent_backups"], true);

    // The host stored only the changed chunks for it.
    let records = stored(&gw, "acme").await;
    let inc_record = records
        .iter()
        .find(|r| r.metadata.contains(&inc_id))
        .expect("the incremental backup's record");
    assert_eq!(inc_record.size as usize, changed.len());
    assert!(
        inc_record.stored_bytes > 0 && inc_record.stored_bytes < 300_000,
        "stored {} of {}",
        inc_record.stored_bytes,
        inc_record.size
    );

    // The parent cannot go first.
    let e = refused(
        bearer(&gw, Method::DELETE, &format!("{BASE}/{full_id}"), ADMIN),
        409,
    )
    .await;
    assert_eq!(
        e["details"],
        format!("Incremental backups exist for backup '{full_id}'; delete them first.")
    );

    // Each restores its own bytes.
    restore(&gw, &full_id, Some(json!({ "volume_id": VOL_B }))).await;
    assert_eq!(std::fs::read(&v.b).unwrap(), original_a);
    restore(&gw, &inc_id, Some(json!({ "volume_id": VOL_B }))).await;
    assert_eq!(std::fs::read(&v.b).unwrap(), changed);

    // Child, then parent.
    let (status, _) = send(api_key(&gw, Method::DELETE, &format!("{BASE}/{inc_id}"))).await;
    assert_eq!(status, 202);
    assert_eq!(get(&gw, &full_id).await["has_dependent_backups"], false);
    let (status, _) = send(api_key(&gw, Method::DELETE, &format!("{BASE}/{full_id}"))).await;
    assert_eq!(status, 202);
    assert!(stored(&gw, "acme").await.is_empty());
}

#[tokio::test]
async fn both_auth_schemes_and_tenant_isolation() {
    let v = volumes();
    let gw = gateway(&v).await;
    // Write over the access key, read over a token, and the other way round.
    let (status, created) = send(
        api_key(&gw, Method::POST, BASE).json(&json!({ "volume_id": VOL_A, "name": "by-key" })),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    let id = created["backup"]["id"].as_str().unwrap().to_owned();
    settle(&gw, &id, "creating").await;
    let (status, _) = send(bearer(&gw, Method::GET, &format!("{BASE}/{id}"), VIEWER)).await;
    assert_eq!(status, 200);
    let (status, listed) = send(api_key(&gw, Method::GET, BASE)).await;
    assert_eq!(
        (status, list_ids(&listed)),
        (StatusCode::OK, vec![id.clone()])
    );
    // The key's secret alone, or its id alone, is not the key.
    for wrong in [
        "s3cr3t-access-key",
        "AKBC0000000000000001",
        "AKBC0000000000000001:nope",
    ] {
        let e = refused(gw.client.get(gw.at(BASE)).header("X-Api-Key", wrong), 401).await;
        assert_eq!(e["message"], "Invalid token");
    }

    // globex sees nothing of acme's, and acme nothing of globex's.
    let globex = |method: Method, path: String| bearer(&gw, method, &path, GLOBEX);
    refused(globex(Method::GET, format!("{BASE}/{id}")), 404).await;
    refused(globex(Method::DELETE, format!("{BASE}/{id}")), 404).await;
    refused(
        globex(Method::POST, format!("{BASE}/{id}/restore")).json(&json!({ "volume_id": VOL_G })),
        404,
    )
    .await;
    let e = refused(
        globex(Method::POST, BASE.into()).json(&json!({ "volume_id": VOL_A })),
        404,
    )
    .await;
    assert_eq!(e["message"], "Volume not found");
    let (_, listed) = send(globex(Method::GET, BASE.into())).await;
    assert_eq!(listed["meta"]["total"], 0);
    let g = available_as(&gw, GLOBEX, json!({ "volume_id": VOL_G })).await;
    refused(bearer(&gw, Method::GET, &format!("{BASE}/{g}"), ADMIN), 404).await;
    refused(
        bearer(&gw, Method::POST, &format!("{BASE}/{id}/restore"), ADMIN)
            .json(&json!({ "volume_id": VOL_G })),
        404,
    )
    .await;
    let (_, listed) = send(bearer(&gw, Method::GET, BASE, ADMIN)).await;
    assert_eq!(list_ids(&listed), vec![id]);
}

/// `GET path` as the viewer; must be a 200.
async fn list_at(gw: &TestGateway, path: String) -> Value {
    let (status, body) = send(bearer(gw, Method::GET, &path, VIEWER)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Create a backup with `token` and wait until it settles; returns its id.
async fn available_as(gw: &TestGateway, token: &str, body: Value) -> String {
    let id = create(gw, token, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, b) = send(bearer(gw, Method::GET, &format!("{BASE}/{id}"), token)).await;
    assert_eq!(status, 200, "{b}");
    for _ in 0..600 {
        let (_, b) = send(bearer(gw, Method::GET, &format!("{BASE}/{id}"), token)).await;
        if b["backup"]["status"] != "creating" {
            assert_eq!(b["backup"]["status"], "available", "{b}");
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("backup {id} stayed creating");
}

#[tokio::test]
async fn every_error_status_in_the_bycloud_envelope() {
    let v = volumes();
    let gw = gateway(&v).await;
    let post = |token: &str| bearer(&gw, Method::POST, BASE, token);

    // 400
    let e = refused(
        post(ADMIN)
            .header("content-type", "application/json")
            .body("{\"volume_id\":"),
        400,
    )
    .await;
    insta::assert_json_snapshot!("bycloud_error_400", redacted(json!({ "error": e }), &[]));
    let e = refused(
        post(ADMIN).json(&json!({ "volume_id": "vol-a", "force": "yes", "metadata": [] })),
        400,
    )
    .await;
    assert_eq!(
        e["details"],
        "Field 'volume_id' must be a UUID; Field 'force' must be a boolean; Field 'metadata' must be an object"
    );
    refused(post(ADMIN).json(&json!([VOL_A])), 400).await;
    refused(
        bearer(&gw, Method::GET, &format!("{BASE}?limit=-1"), ADMIN),
        400,
    )
    .await;
    refused(
        bearer(&gw, Method::GET, &format!("{BASE}?marker={VOL_A}"), ADMIN),
        400,
    )
    .await;

    // 401, each way, with the challenge.
    for req in [
        gw.client.get(gw.at(BASE)),
        gw.client.get(gw.at(BASE)).bearer_auth("nope"),
        gw.client
            .get(gw.at(BASE))
            .basic_auth("console-user", Some(ADMIN)),
        gw.client
            .get(gw.at(BASE))
            .header("X-Api-Key", "AKBC0000000000000001:wrong"),
    ] {
        let resp = req.try_clone().unwrap().send().await.unwrap();
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer realm=\"bycloud\""
        );
        refused(req, 401).await;
    }
    let e = refused(gw.client.get(gw.at(BASE)), 401).await;
    insta::assert_json_snapshot!("bycloud_error_401", redacted(json!({ "error": e }), &[]));

    // 403
    let e = refused(post(VIEWER).json(&json!({ "volume_id": VOL_A })), 403).await;
    assert_eq!(
        e["details"],
        "The credential lacks the scope 'backups:write' this operation requires."
    );

    // 404: unknown volume, unknown backup, a path nobody serves.
    let nobody = "00000000-0000-4000-8000-000000000000";
    let e = refused(post(ADMIN).json(&json!({ "volume_id": nobody })), 404).await;
    assert_eq!(e["message"], "Volume not found");
    refused(
        bearer(&gw, Method::GET, &format!("{BASE}/{nobody}"), ADMIN),
        404,
    )
    .await;
    refused(
        bearer(&gw, Method::GET, &format!("{BASE}/not-a-uuid"), ADMIN),
        404,
    )
    .await;
    refused(bearer(&gw, Method::GET, "/v1/volumes", ADMIN), 404).await;

    // 405, with Allow.
    let resp = bearer(&gw, Method::PUT, BASE, ADMIN).send().await.unwrap();
    assert_eq!(resp.headers()["allow"], "GET, POST");
    refused(
        bearer(&gw, Method::PATCH, &format!("{BASE}/{nobody}"), ADMIN),
        405,
    )
    .await;

    // 409: an attached volume without force; a restore into it; a parent with children.
    let e = refused(post(ADMIN).json(&json!({ "volume_id": VOL_C })), 409).await;
    assert_eq!(e["message"], "Volume is not in a state that allows backup");
    let full = available(&gw, json!({ "volume_id": VOL_C, "force": true })).await;
    let full_id = full["id"].as_str().unwrap();
    let e = refused(
        bearer(
            &gw,
            Method::POST,
            &format!("{BASE}/{full_id}/restore"),
            ADMIN,
        )
        .json(&json!({ "volume_id": VOL_C })),
        409,
    )
    .await;
    assert_eq!(e["message"], "Volume is not in a state that allows restore");
    available(
        &gw,
        json!({ "volume_id": VOL_C, "force": true, "incremental": true }),
    )
    .await;
    let e = refused(
        bearer(&gw, Method::DELETE, &format!("{BASE}/{full_id}"), ADMIN),
        409,
    )
    .await;
    insta::assert_json_snapshot!(
        "bycloud_error_409",
        redacted(json!({ "error": e }), &[(full_id, "[backup id]")])
    );

    // 413: a body over the gateway's JSON limit (1 MiB by default).
    let big = json!({ "volume_id": VOL_A, "description": "x".repeat(1_100_000) });
    let e = refused(post(ADMIN).json(&big), 413).await;
    assert_eq!(e["message"], "Request entity too large");
}

#[tokio::test]
async fn rate_limited_requests_say_when_to_retry() {
    let v = volumes();
    let extra =
        "[plugins.bycloud]\nrate_limits = { api = { window_seconds = 86400, max_requests = 2 } }\n";
    let gw = TestGateway::start(&[provider_plugin("bycloud")], &config(&v, extra))
        .await
        .unwrap();
    for _ in 0..2 {
        let (status, _) = send(bearer(&gw, Method::GET, BASE, VIEWER)).await;
        assert_eq!(status, 200);
    }
    let resp = bearer(&gw, Method::GET, BASE, VIEWER).send().await.unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    assert_eq!(resp.headers()["x-ratelimit-limit"], "2");
    let e = refused(bearer(&gw, Method::GET, BASE, VIEWER), 429).await;
    assert_eq!(e["message"], "Too many requests");
    // The access key is another credential, with its own window.
    let (status, _) = send(api_key(&gw, Method::GET, BASE)).await;
    assert_eq!(status, 200);
}
