//! Scale-out: two or three gateway processes (the release binary) sharing one throwaway
//! PostgreSQL cluster and one real Garage server (S3), all on loopback. Whatever node a
//! request reaches, the shared engines decide: an upload through one node is listed and
//! downloaded through another; the org quota and the rate windows hold under concurrent load
//! spread over the nodes; a capture job survives the SIGKILL of the node running it (another
//! node completes it, exactly one backup); and killed or cut-off uploads leave no object and
//! no multipart upload or part in the bucket, as S3 itself and Garage's counters report.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use backup_gateway::store::{Db, Objects};
use gateway_tests::garage::{self, Garage};
use gateway_tests::pg::PgCluster;
use gateway_tests::{GatewayProcess, provider_plugin, sha256_hex};

use super::appliance::{A1, A2, NO_RATE};

const UPLOAD: &str = "/api/systems/backups";
const MIB: usize = 1024 * 1024;
/// The bucket prefix the gateways write under.
const PREFIX: &str = "gw";

/// Nodes, and the engines they share (dropped in this order: nodes first).
struct Cluster {
    nodes: Vec<GatewayProcess>,
    garage: Garage,
    db: Db,
    _dirs: Vec<tempfile::TempDir>,
    _pg: PgCluster,
}

impl Cluster {
    /// `n` gateway processes named node-0, node-1, … with `plugins` and the same `extra`
    /// config, on one PostgreSQL database and one Garage bucket; sweeps every second, upload
    /// leases of 3 s and job leases of 3 s (the test config's), so dead nodes' work is
    /// reclaimed quickly.
    async fn start(n: usize, plugins: &[PathBuf], extra: &str) -> Cluster {
        let pg = PgCluster::start();
        let url = pg.database("gw").await;
        let garage = Garage::start("backups").await.expect("garage starts");
        let config = format!(
            "{extra}\n[database]\nurl = \"{url}\"\n{}",
            garage.storage_toml(PREFIX)
        );
        let (mut nodes, mut dirs) = (Vec::new(), Vec::new());
        for i in 0..n {
            let dir = tempfile::tempdir().unwrap();
            let name = format!("node-{i}");
            let node = GatewayProcess::start_with_env(
                dir.path(),
                plugins,
                &config,
                &[
                    ("BACKUP_GATEWAY_SERVER__NODE_ID", &name),
                    ("BACKUP_GATEWAY_SERVER__SWEEP_SECONDS", "1"),
                    // these tests race one system's uploads (rate windows, quota), not the
                    // cap on its uploads in flight (slow_clients.rs, postgres.rs)
                    ("BACKUP_GATEWAY_SERVER__MAX_UPLOADS_PER_CREDENTIAL", "0"),
                ],
            )
            .await
            .expect("gateway node starts");
            nodes.push(node);
            dirs.push(dir);
        }
        let db = Db::connect(&url, Some(2)).await.unwrap();
        Cluster {
            nodes,
            garage,
            db,
            _dirs: dirs,
            _pg: pg,
        }
    }

    fn url(&self, node: usize, path: &str) -> String {
        format!("{}{path}", self.nodes[node].url)
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(self.db.pool())
            .await
            .unwrap()
    }

    /// Wait (up to a minute) until no ingest is in flight: every upload committed, aborted,
    /// or reclaimed by a sweep.
    async fn settled(&self) {
        for _ in 0..600 {
            if self.count("SELECT COUNT(*) FROM ingests").await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("ingests still in flight after a minute");
    }

    /// Assert the bucket holds exactly `expected` objects (keys under the prefix), no
    /// multipart upload in progress and, by Garage's own count, no unfinished part.
    async fn assert_bucket_clean(&self, expected: usize) {
        let objects = self.garage.objects().await.unwrap();
        assert_eq!(
            objects.len(),
            expected,
            "objects in the bucket: {objects:?}"
        );
        assert!(
            objects
                .iter()
                .all(|(k, _)| k.starts_with(&format!("{PREFIX}/acme/"))),
            "{objects:?}"
        );
        let uploads = self.garage.multipart_uploads().await.unwrap();
        assert!(uploads.is_empty(), "multipart uploads left: {uploads:?}");
        // Garage updates its counters asynchronously: wait for them to agree
        let mut counters = self.garage.bucket_counters().unwrap();
        for _ in 0..100 {
            if counters.unfinished_multipart_uploads == 0
                && counters.unfinished_multipart_upload_parts == 0
                && counters.objects == expected as i64
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            counters = self.garage.bucket_counters().unwrap();
        }
        assert_eq!(counters.unfinished_multipart_uploads, 0, "{counters:?}");
        assert_eq!(
            counters.unfinished_multipart_upload_parts, 0,
            "{counters:?}"
        );
        assert_eq!(
            counters.unfinished_multipart_upload_bytes, 0,
            "{counters:?}"
        );
        assert_eq!(counters.objects, expected as i64, "{counters:?}");
    }
}

fn appliance_config(extra: &str) -> String {
    format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "appliance-collect"
scheme = "basic"
key = "{a1}"
secret = "{s1}"

[[credentials]]
org = "acme"
plugin = "appliance-collect"
scheme = "basic"
key = "{a2}"
secret = "{s2}"

{extra}
"#,
        org = super::ORG,
        a1 = A1.0,
        s1 = A1.1,
        a2 = A2.0,
        s2 = A2.1,
    )
}

/// `len` bytes of a non-repeating pattern (so a misplaced part would change the hash).
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

async fn upload(url: String, who: (&str, &str), body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .basic_auth(who.0, Some(who.1))
        .header("x-filename", "nightly.tar.gz")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_upload_through_one_node_is_listed_and_downloaded_through_another() {
    let c = Cluster::start(
        2,
        &[provider_plugin("appliance_collect")],
        &appliance_config(NO_RATE),
    )
    .await;
    // three parts of 5 MiB, the last one short
    let body = pattern(12 * MIB + 12_345);
    let r = upload(c.url(0, UPLOAD), A1, body.clone()).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["data"]["sha256"], sha256_hex(&body));

    // listed and downloaded by the same system (collect lists per system), via node B
    let client = reqwest::Client::new();
    let page: Value = client
        .get(c.url(1, UPLOAD))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"]["backups"][0]["id"], id.as_str(), "{page}");
    assert_eq!(page["data"]["backups"][0]["size"], body.len());

    let r = client
        .get(c.url(1, &format!("{UPLOAD}/{id}")))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = r.bytes().await.unwrap();
    assert_eq!(got.len(), body.len());
    assert!(got.as_ref() == &body[..], "downloaded bytes differ");

    // the bytes are in Garage, under the prefix, whole; nothing else is
    let objects = c.garage.objects().await.unwrap();
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(objects[0].1, body.len() as u64);
    c.assert_bucket_clean(1).await;

    // deleted through node A: gone for node B and from the bucket
    let r = client
        .delete(c.url(0, &format!("{UPLOAD}/{id}")))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .get(c.url(1, &format!("{UPLOAD}/{id}")))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    c.assert_bucket_clean(0).await;
    assert_eq!(
        c.db.scoped("acme", "appliance-collect")
            .usage()
            .await
            .unwrap(),
        (0, 0)
    );
}

/// Twelve systems S00..S11 of org acme, each with its own credential (the upload rate limit
/// is per system).
fn twelve_systems(extra: &str) -> String {
    let mut c = format!("{}\n{extra}\n", super::ORG);
    for i in 0..12 {
        c.push_str(&format!(
            "[[credentials]]\norg = \"acme\"\nplugin = \"appliance-collect\"\nscheme = \"basic\"\n\
             key = \"S{i:02}\"\nsecret = \"secret-{i:02}\"\n\n"
        ));
    }
    c
}

#[tokio::test]
async fn quota_and_rate_limits_hold_across_nodes_under_concurrent_load() {
    // the plugin's own rate limits (6 uploads a minute per system); 1 000 060 bytes of quota
    let c = Cluster::start(
        3,
        &[provider_plugin("appliance_collect")],
        &twelve_systems("[plugins.appliance-collect]\norg_bytes = 1000060\n"),
    )
    .await;

    // Rate: seven uploads of one system at once, spread over the three nodes. Six pass and
    // the seventh is refused, whichever node it reached. (Start early in a minute by the
    // database's clock, so the seven land in one window.)
    let second = c.db.now().await.unwrap() / 1_000_000 % 60;
    if second > 40 {
        tokio::time::sleep(Duration::from_secs(61 - second as u64)).await;
    }
    let tasks: Vec<_> = (0..7)
        .map(|i| {
            let url = c.url(i % 3, UPLOAD);
            tokio::spawn(async move {
                upload(url, ("S00", "secret-00"), vec![1u8; 10])
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = gateway_tests::joined(tasks).await;
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [201, 201, 201, 201, 201, 201, 429],
        "{statuses:?}"
    );
    // an eighth through yet another node: still refused
    let r = upload(c.url(2, UPLOAD), ("S00", "secret-00"), vec![1u8; 10]).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // Quota: 60 bytes used, exactly 1 000 000 left. Thirty uploads of 100 kB by ten systems
    // (three each, within their rate limit) raced over the three nodes: exactly ten fit.
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let url = c.url(i % 3, UPLOAD);
            let system = 1 + i / 3;
            tokio::spawn(async move {
                let (key, secret) = (format!("S{system:02}"), format!("secret-{system:02}"));
                upload(url, (&key, &secret), pattern(100_000))
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses = gateway_tests::joined(tasks).await;
    let ok = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 413).count();
    assert_eq!((ok, refused), (10, 20), "{statuses:?}");
    c.settled().await;
    assert_eq!(
        c.db.scoped("acme", "appliance-collect")
            .usage()
            .await
            .unwrap(),
        (1_000_060, 0),
        "used exactly the quota, nothing left reserved"
    );
    // the refused uploads never started an upload; the accepted ones are whole objects
    c.assert_bucket_clean(16).await;
    let sizes: Vec<u64> = c
        .garage
        .objects()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), 1_000_060, "{sizes:?}");
}

const VPS: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";

pub fn hostup_config(source_url: &str) -> String {
    format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "hostup"
scheme = "bearer"
key = "admin"
secret = "hu-admin"
scopes = ["read:vm", "backup:vm"]

[[resources]]
org = "acme"
plugin = "hostup"
kind = "vps"
id = "{VPS}"
name = "web-1"
state = "active"
attributes = {{ primaryIp = "192.0.2.10", powerState = "running", backupQuota = 5 }}
source = {{ url = "{source_url}" }}
"#,
        org = super::ORG,
    )
}

/// An HTTP source whose first response sends `stall_after` bytes of `body` and then stalls
/// for ever (until its reader dies); later responses send the whole body.
pub async fn stalling_source(body: Bytes, stall_after: usize) -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let app = axum::Router::new().route(
        "/disk.img",
        axum::routing::get(move || {
            let (body, seen) = (body.clone(), seen.clone());
            async move {
                let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
                let len = body.len();
                let stream = if first {
                    let head = body.slice(..stall_after);
                    futures_util::stream::iter([Ok::<_, std::io::Error>(head)])
                        .chain(futures_util::stream::pending())
                        .boxed()
                } else {
                    futures_util::stream::iter([Ok::<_, std::io::Error>(body)]).boxed()
                };
                (
                    [(http::header::CONTENT_LENGTH, len.to_string())],
                    axum::body::Body::from_stream(stream),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/disk.img", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, requests)
}

async fn job_status(client: &reqwest::Client, base: &str, job_id: &str) -> Value {
    let r = client
        .get(format!("{base}/api/jobs/{job_id}"))
        .bearer_auth("hu-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_capture_job_survives_the_death_of_the_node_running_it() {
    let body = Bytes::from(pattern(8 * MIB + 1234));
    // the first attempt stalls after 6 MiB: one 5 MiB part is in the bucket by then
    let (source, requests) = stalling_source(body.clone(), 6 * MIB).await;
    let mut c = Cluster::start(2, &[provider_plugin("hostup")], &hostup_config(&source)).await;
    let client = reqwest::Client::new();
    let r = client
        .post(c.url(0, &format!("/api/v2/vps/{VPS}/backups")))
        .bearer_auth("hu-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let op: Value = r.json().await.unwrap();
    let job_id = op["operation"]["jobId"].as_str().unwrap().to_owned();

    // wait until a worker of some node holds the job and has sent a part to Garage
    let mut owner = None;
    for _ in 0..600 {
        let row: Option<(Option<String>, String)> =
            sqlx::query_as("SELECT lease_owner, status FROM jobs")
                .fetch_optional(c.db.pool())
                .await
                .unwrap();
        let parts = c
            .garage
            .bucket_counters()
            .unwrap()
            .unfinished_multipart_upload_parts;
        if let Some((Some(o), status)) = row
            && status == "in_progress"
            && parts >= 1
        {
            owner = Some(o);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let owner = owner.expect("a node runs the capture and has uploaded a part");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    // lease owners name their node: "node-N/<process>-<worker>"
    let victim: usize = owner
        .strip_prefix("node-")
        .and_then(|r| r.split('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("lease owner {owner:?} names no node"));
    let survivor = 1 - victim;
    c.nodes[victim].kill().unwrap(); // SIGKILL, mid-capture

    let mut done = Value::Null;
    for _ in 0..600 {
        done = job_status(&client, &c.nodes[survivor].url, &job_id).await;
        if done["data"]["isCompleted"] == true || done["data"]["isFailed"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["data"]["isCompleted"], true, "{done}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "one more read of the source"
    );
    let (attempts, final_owner): (i64, Option<String>) =
        sqlx::query_as("SELECT attempts, lease_owner FROM jobs")
            .fetch_one(c.db.pool())
            .await
            .unwrap();
    assert_eq!(attempts, 2, "taken over once");
    assert_eq!(final_owner, None);

    // exactly one backup, whole, listed by the surviving node
    let list: Value = client
        .get(c.url(survivor, &format!("/api/v2/vps/{VPS}/backups")))
        .bearer_auth("hu-admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["backups"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(c.count("SELECT COUNT(*) FROM backups").await, 1);
    let (items, _) =
        c.db.scoped("acme", "hostup")
            .backups(&backup_gateway::store::BackupQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(items[0].sha256, sha256_hex(&body));
    // the dead attempt's multipart upload was aborted by the survivor's sweep
    c.settled().await;
    c.assert_bucket_clean(1).await;
    assert_eq!(
        c.db.scoped("acme", "hostup").usage().await.unwrap(),
        (body.len() as i64, 0)
    );
}

/// Send headers promising `declared` bytes and then `sent` bytes; the connection stays open
/// until the returned stream is dropped.
async fn start_upload(
    node: &GatewayProcess,
    declared: usize,
    sent: usize,
) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", node.port))
        .await
        .unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", A1.0, A1.1));
    let head = format!(
        "POST {UPLOAD} HTTP/1.1\r\nhost: x\r\nauthorization: Basic {auth}\r\ncontent-length: {declared}\r\nx-filename: cut.bin\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&pattern(sent)).await.unwrap();
    s.flush().await.unwrap();
    s
}

#[tokio::test]
async fn killed_and_cut_off_uploads_leave_no_object_and_no_part() {
    let mut c = Cluster::start(
        3,
        &[provider_plugin("appliance_collect")],
        &appliance_config(NO_RATE),
    )
    .await;
    let kept = upload(c.url(2, UPLOAD), A2, pattern(100_000)).await;
    assert_eq!(kept.status(), 201);

    // two 64 MiB uploads, 12 MiB into each: two parts of each are in the bucket
    let on_victim = start_upload(&c.nodes[0], 64 * MIB, 12 * MIB).await;
    let on_node_1 = start_upload(&c.nodes[1], 64 * MIB, 12 * MIB).await;
    let mut in_flight = (0, 0);
    for _ in 0..600 {
        in_flight = (
            c.garage.multipart_uploads().await.unwrap().len(),
            c.garage
                .bucket_counters()
                .unwrap()
                .unfinished_multipart_upload_parts,
        );
        if in_flight.0 == 2 && in_flight.1 >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(in_flight.0 == 2 && in_flight.1 >= 4, "{in_flight:?}");
    assert_eq!(
        c.count("SELECT COUNT(*) FROM ingests WHERE upload_id IS NOT NULL")
            .await,
        2,
        "each in-flight upload recorded its multipart upload id"
    );

    c.nodes[0].kill().unwrap(); // SIGKILL: node 0 cannot clean up
    drop(on_victim);
    drop(on_node_1); // a client cut off: node 1 aborts its own upload

    // node 0's upload is reclaimed by another node's sweep once its lease has expired
    c.settled().await;
    c.assert_bucket_clean(1).await;
    assert_eq!(
        c.db.scoped("acme", "appliance-collect")
            .usage()
            .await
            .unwrap(),
        (100_000, 0)
    );

    // the killed node comes back and sees the same state
    c.nodes[0].restart().await.unwrap();
    let page: Value = reqwest::Client::new()
        .get(c.url(0, UPLOAD))
        .basic_auth(A2.0, Some(A2.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["data"]["backups"].as_array().unwrap().len(),
        1,
        "{page}"
    );
}

#[tokio::test]
async fn the_s3_store_writes_parts_reads_ranges_and_aborts() {
    let g = Garage::start("lib").await.expect("garage starts");
    let s3 = backup_gateway::config::S3Config {
        endpoint: Some(g.endpoint()),
        region: Some(garage::REGION.into()),
        access_key_id: Some(g.key_id.clone()),
        secret_access_key: Some(g.secret.clone()),
        part_size_bytes: Some(5 * MIB as u64),
        ..Default::default()
    };
    let objects = Objects::open_with("s3://lib/some/prefix", false, &s3).unwrap();

    // 11 MiB + 7 in odd-sized chunks: two full parts and a short one
    let body = Bytes::from(pattern(11 * MIB + 7));
    let mut t = objects.begin("i1", "acme/s/a.bin").await.unwrap();
    assert!(t.upload_id().is_some_and(|id| !id.is_empty()));
    for chunk in body.chunks(MIB + 3) {
        t.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert!(
        !objects.exists("acme/s/a.bin").await.unwrap(),
        "invisible until commit"
    );
    t.commit().await.unwrap();
    let listed = g.objects().await.unwrap();
    assert_eq!(
        listed,
        [("some/prefix/acme/s/a.bin".to_owned(), body.len() as u64)]
    );
    let edge = 5 * MIB as u64;
    assert_eq!(
        objects
            .read_range("acme/s/a.bin", edge - 3..edge + 5)
            .await
            .unwrap(),
        body.slice(5 * MIB - 3..5 * MIB + 5)
    );
    let mut streamed = Vec::new();
    let mut s = objects
        .stream("acme/s/a.bin", Some(edge - 10..2 * edge + 10))
        .await
        .unwrap();
    while let Some(c) = s.next().await {
        streamed.extend_from_slice(&c.unwrap());
    }
    assert!(streamed[..] == body[5 * MIB - 10..10 * MIB + 10]);

    // an empty object (a capture of an empty file)
    let t = objects.begin("i2", "acme/s/empty.bin").await.unwrap();
    t.commit().await.unwrap();
    assert!(objects.exists("acme/s/empty.bin").await.unwrap());

    // aborted after a part was sent: nothing visible, no upload left
    let mut t = objects.begin("i3", "acme/s/aborted.bin").await.unwrap();
    t.write(Bytes::from(pattern(6 * MIB))).await.unwrap();
    t.abort().await;
    assert!(!objects.exists("acme/s/aborted.bin").await.unwrap());
    assert!(g.multipart_uploads().await.unwrap().is_empty());

    // a writer that vanished (its process died): the recorded upload id is enough to abort
    let t = objects.begin("i4", "acme/s/dead.bin").await.unwrap();
    let id = t.upload_id().unwrap().to_owned();
    drop(t);
    assert_eq!(g.multipart_uploads().await.unwrap().len(), 1);
    objects
        .remove_temp("acme/s/dead.bin", Some(&id))
        .await
        .unwrap();
    assert!(g.multipart_uploads().await.unwrap().is_empty());
    // and again (two sweeps racing): already gone is fine
    objects
        .remove_temp("acme/s/dead.bin", Some(&id))
        .await
        .unwrap();

    objects.delete("acme/s/a.bin").await.unwrap();
    objects.delete("acme/s/empty.bin").await.unwrap();
    assert!(g.objects().await.unwrap().is_empty());
    assert!(
        objects.delete("acme/s/a.bin").await.is_ok(),
        "missing is fine"
    );
}
