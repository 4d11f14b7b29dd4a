//! HostUp VPS backups end to end, on SQLite and on PostgreSQL: create → poll the job until
//! completed → the list shows the backup with its size → the stored object's SHA-256 equals
//! the source's; validation pointers, scopes, tenant isolation, deletion; and a job whose
//! gateway is killed mid-capture completes after restart with exactly one backup.

use std::time::Duration;

use serde_json::{Value, json};

use gateway_tests::pg::PgCluster;
use gateway_tests::{GatewayProcess, TestGateway, provider_plugin, sha256_hex};

const VPS: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
const OTHER_VPS: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2zz";

/// Config: acme owns VPS (with a file source) and globex owns OTHER_VPS; tokens with and
/// without the backup scope.
fn config(source: &std::path::Path, db_url: Option<&str>) -> String {
    let db = db_url
        .map(|u| format!("[database]\nurl = \"{u}\"\n"))
        .unwrap_or_default();
    format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "hostup"
scheme = "bearer"
key = "admin"
secret = "hu-admin"
scopes = ["read:vm", "backup:vm"]

[[credentials]]
org = "acme"
plugin = "hostup"
scheme = "bearer"
key = "viewer"
secret = "hu-viewer"
scopes = ["read:vm"]

[[credentials]]
org = "globex"
plugin = "hostup"
scheme = "bearer"
key = "g"
secret = "hu-globex"
scopes = ["read:vm", "backup:vm"]

[[resources]]
org = "acme"
plugin = "hostup"
kind = "vps"
id = "{VPS}"
name = "web-1"
state = "active"
attributes = {{ primaryIp = "192.0.2.10", powerState = "running", backupQuota = 5 }}
source = {{ file = "{src}" }}

[[resources]]
org = "globex"
plugin = "hostup"
kind = "vps"
id = "{OTHER_VPS}"
name = "db-1"
source = {{ file = "{src}" }}

{db}
"#,
        org = super::ORG,
        src = source.display(),
    )
}

pub(crate) async fn poll_until_done(
    client: &reqwest::Client,
    base: &str,
    job_id: &str,
    token: &str,
) -> Value {
    for _ in 0..600 {
        let r = client
            .get(format!("{base}/api/jobs/{job_id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        if v["data"]["isCompleted"] == true || v["data"]["isFailed"] == true {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {job_id} never finished");
}

async fn full_flow(gw: &TestGateway, source: &[u8]) {
    let (c, base) = (&gw.client, gw.url.as_str());
    // create
    let r = c
        .post(format!("{base}/api/v2/vps/{VPS}/backups"))
        .bearer_auth("hu-admin")
        .json(&json!({"note": "Before upgrade"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let op: Value = r.json().await.unwrap();
    let job_id = op["operation"]["jobId"].as_str().unwrap().to_owned();
    assert!(job_id.starts_with("job_") && job_id.len() == 30, "{job_id}");
    assert_eq!(op["operation"]["pollUrl"], format!("/api/jobs/{job_id}"));
    assert_eq!(op["operation"]["status"], "queued");
    // poll
    let done = poll_until_done(c, base, &job_id, "hu-viewer").await;
    assert_eq!(done["data"]["isCompleted"], true, "{done}");
    assert_eq!(done["data"]["vmId"], VPS);
    let backup_id = done["data"]["result"]["result"]["backupId"]
        .as_str()
        .unwrap()
        .to_owned();
    // list
    let list: Value = c
        .get(format!("{base}/api/v2/vps/{VPS}/backups"))
        .bearer_auth("hu-viewer")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["backups"].as_array().unwrap().len(), 1, "{list}");
    let b = &list["backups"][0];
    assert_eq!(b["id"], backup_id.as_str());
    assert_eq!(b["note"], "Before upgrade");
    assert_eq!(b["backupType"], "manual");
    assert_eq!(
        list["quotaInfo"],
        json!({"used": 1, "limit": 5, "remaining": 4})
    );
    assert_eq!(list["actions"]["canCreateBackup"]["allowed"], true);
    // the stored bytes are the source's
    let (items, _) = gw
        .gateway
        .services
        .db
        .scoped("acme", "hostup")
        .backups(&backup_gateway::store::BackupQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].sha256, sha256_hex(source));
    assert_eq!(items[0].size as usize, source.len());
    // another org sees neither the VPS nor the job
    let r = c
        .get(format!("{base}/api/v2/vps/{VPS}/backups"))
        .bearer_auth("hu-globex")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = c
        .get(format!("{base}/api/jobs/{job_id}"))
        .bearer_auth("hu-globex")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // delete: 204, then 404
    let del = |token: &'static str| {
        c.delete(format!("{base}/api/v2/vps/{VPS}/backups/{backup_id}"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(del("hu-viewer").await.unwrap().status(), 403);
    assert_eq!(del("hu-admin").await.unwrap().status(), 204);
    assert_eq!(del("hu-admin").await.unwrap().status(), 404);
}

fn source_file(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = dir.join("vps-disk.img");
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

#[tokio::test]
async fn create_poll_list_delete_on_sqlite() {
    let src = tempfile::tempdir().unwrap();
    let (path, bytes) = source_file(src.path());
    let gw = TestGateway::start(&[provider_plugin("hostup")], &config(&path, None))
        .await
        .unwrap();
    full_flow(&gw, &bytes).await;
}

#[tokio::test]
async fn create_poll_list_delete_on_postgres() {
    let pg = PgCluster::start();
    let (gw, bytes, _src) = on_postgres(&pg, "hostup").await;
    full_flow(&gw, &bytes).await;
}

/// A gateway with HostUp on a database `name` of `pg`: the gateway, the VPS source's bytes
/// and the directory holding them.
async fn on_postgres(pg: &PgCluster, name: &str) -> (TestGateway, Vec<u8>, tempfile::TempDir) {
    let url = pg.database(name).await;
    let src = tempfile::tempdir().unwrap();
    let (path, bytes) = source_file(src.path());
    let gw = TestGateway::start(&[provider_plugin("hostup")], &config(&path, Some(&url)))
        .await
        .unwrap();
    (gw, bytes, src)
}

#[tokio::test]
async fn validation_scopes_and_errors_are_problem_documents() {
    let src = tempfile::tempdir().unwrap();
    let (path, _) = source_file(src.path());
    let gw = TestGateway::start(&[provider_plugin("hostup")], &config(&path, None))
        .await
        .unwrap();
    let (c, base) = (&gw.client, gw.url.as_str());
    let r = c
        .post(format!("{base}/api/v2/vps/{VPS}/backups"))
        .bearer_auth("hu-admin")
        .json(&json!({"note": 5, "mode": "suspend"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        p["type"],
        "https://developer.hostup.se/errors/invalid_request"
    );
    assert_eq!(p["instance"], format!("/api/v2/vps/{VPS}/backups"));
    let pointers: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/note") && pointers.contains(&"/mode"),
        "{p}"
    );
    // missing scope
    let r = c
        .post(format!("{base}/api/v2/vps/{VPS}/backups"))
        .bearer_auth("hu-viewer")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "forbidden");
    assert!(p["detail"].as_str().unwrap().contains("backup:vm"), "{p}");
    // unauthenticated, unknown VPS, unknown job: problem documents, never a 5xx
    let r = c.get(format!("{base}/api/v2/vps")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    for path in [
        "/api/v2/vps/vps_nope/backups",
        "/api/jobs/job_nope",
        "/api/jobs/job_01hxa3b4c5d6e7f8g9h0j1k2m3",
    ] {
        let r = c
            .get(format!("{base}{path}"))
            .bearer_auth("hu-admin")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_found");
    }
    // the VPS list with cursor paging
    let r: Value = c
        .get(format!("{base}/api/v2/vps?limit=1"))
        .bearer_auth("hu-viewer")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"][0]["id"], VPS);
    assert_eq!(r["data"][0]["primaryIp"], "192.0.2.10");
    assert_eq!(r["nextCursor"], Value::Null, "acme has one VPS");
    let r = c
        .get(format!("{base}/api/v2/vps?limit=0"))
        .bearer_auth("hu-viewer")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// Create a capture of [`VPS`] on `gw` and wait until it is in flight (its temporary file
/// exists under `dir`); the job's public id.
async fn capture_in_flight(
    c: &reqwest::Client,
    gw: &GatewayProcess,
    dir: &std::path::Path,
) -> String {
    let op: Value = c
        .post(format!("{}/api/v2/vps/{VPS}/backups", gw.url))
        .bearer_auth("hu-admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let incoming = dir.join("objects/.incoming");
    for _ in 0..500 {
        if std::fs::read_dir(&incoming).map(|d| d.count()).unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        std::fs::read_dir(&incoming).unwrap().count(),
        1,
        "the capture is in flight"
    );
    op["operation"]["jobId"].as_str().unwrap().to_owned()
}

/// The database of a gateway that ran in `dir`.
async fn database_in(dir: &std::path::Path) -> backup_gateway::store::Db {
    backup_gateway::store::Db::connect(&format!("sqlite://{}/gateway.db", dir.display()), Some(1))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_interrupted_by_killing_the_gateway_completes_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = source_file(dir.path());
    // a slow source: a large file makes the capture take long enough to be killed mid-way
    let big: Vec<u8> = bytes
        .iter()
        .cycle()
        .take(400 * 1024 * 1024)
        .copied()
        .collect();
    std::fs::write(&path, &big).unwrap();
    drop(bytes);
    let extra = config(&path, None);
    let mut gw = GatewayProcess::start(dir.path(), &[provider_plugin("hostup")], &extra)
        .await
        .unwrap();
    let c = reqwest::Client::new();
    // wait until the capture is running, then kill the node
    let job_id = capture_in_flight(&c, &gw, dir.path()).await;
    let incoming = dir.path().join("objects/.incoming");
    gw.kill().unwrap();
    gw.restart().await.unwrap();
    let done = poll_until_done(&c, &gw.url, &job_id, "hu-admin").await;
    assert_eq!(done["data"]["isCompleted"], true, "{done}");
    let list: Value = c
        .get(format!("{}/api/v2/vps/{VPS}/backups", gw.url))
        .bearer_auth("hu-admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["backups"].as_array().unwrap().len(),
        1,
        "exactly one backup: {list}"
    );
    assert_eq!(
        std::fs::read_dir(&incoming).unwrap().count(),
        0,
        "the interrupted attempt's temp file is gone"
    );
    let db = database_in(dir.path()).await;
    let (items, _) = db
        .scoped("acme", "hostup")
        .backups(&backup_gateway::store::BackupQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(items[0].sha256, sha256_hex(&big));
    assert_eq!(
        db.scoped("acme", "hostup").usage().await.unwrap(),
        (big.len() as i64, 0)
    );
}

/// A gateway stopped by SIGTERM while a capture runs cancels it, cleans it up and hands the
/// job back to the queue without using up an attempt (another node, or this one restarted,
/// takes it at once rather than after its lease); restarted, it runs the job to completion.
#[tokio::test]
async fn a_capture_running_when_the_gateway_stops_is_handed_back_and_runs_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let body = bytes::Bytes::from(vec![5u8; 3 * 1024 * 1024 + 17]);
    // the first read of the source stalls after 1 MiB
    let (source, requests) = super::scaleout::stalling_source(body.clone(), 1024 * 1024).await;
    let mut gw = GatewayProcess::start(
        dir.path(),
        &[provider_plugin("hostup")],
        &super::scaleout::hostup_config(&source),
    )
    .await
    .unwrap();
    let c = reqwest::Client::new();
    // wait until the capture is running, then stop the node
    let job_id = capture_in_flight(&c, &gw, dir.path()).await;
    let incoming = dir.path().join("objects/.incoming");
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let mut exited = None;
    for _ in 0..300 {
        exited = gw.child.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        exited.is_some_and(|s| s.success()),
        "the gateway exits cleanly: {exited:?}"
    );

    let db = database_in(dir.path()).await;
    let job: (String, i64, Option<String>, i64) =
        sqlx::query_as("SELECT status, attempts, lease_owner, bytes_done FROM jobs")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(job, ("queued".into(), 0, None, 0), "handed back");
    assert_eq!(
        db.scoped("acme", "hostup").usage().await.unwrap(),
        (0, 0),
        "nothing reserved"
    );
    let ingests: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ingests")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(ingests, 0);
    assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
    drop(db);

    gw.restart().await.unwrap();
    let done = poll_until_done(&c, &gw.url, &job_id, "hu-admin").await;
    assert_eq!(done["data"]["isCompleted"], true, "{done}");
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
    let db = database_in(dir.path()).await;
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM jobs")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 1, "the stopped run did not count");
    let rec = db
        .scoped("acme", "hostup")
        .backup_by_job(&{
            let id: String = sqlx::query_scalar("SELECT id FROM jobs")
                .fetch_one(db.pool())
                .await
                .unwrap();
            id
        })
        .await
        .unwrap()
        .expect("its backup");
    assert_eq!(rec.sha256, sha256_hex(&body));
    assert_eq!(
        db.scoped("acme", "hostup").usage().await.unwrap(),
        (body.len() as i64, 0)
    );
}

#[tokio::test]
async fn racing_creates_for_one_vps_queue_exactly_one_capture() {
    let src = tempfile::tempdir().unwrap();
    let (path, _) = source_file(src.path());
    let gw = TestGateway::start(&[provider_plugin("hostup")], &config(&path, None))
        .await
        .unwrap();
    let posts: Vec<_> = (0..8)
        .map(|_| {
            let (c, url) = (
                gw.client.clone(),
                gw.at(&format!("/api/v2/vps/{VPS}/backups")),
            );
            tokio::spawn(async move { c.post(url).bearer_auth("hu-admin").send().await.unwrap() })
        })
        .collect();
    let mut statuses = Vec::new();
    for p in posts {
        let r = p.await.unwrap();
        let status = r.status().as_u16();
        if status == 409 {
            assert_eq!(
                r.json::<Value>().await.unwrap()["code"],
                "backup_in_progress"
            );
        }
        statuses.push(status);
    }
    // the first job may already have finished when a late request arrives, so more than one
    // may be accepted over time; what may never happen is two queued or running at once
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&202));
    let acme = gw.gateway.services.db.scoped("acme", "hostup");
    let jobs = acme.jobs((None, None), &[], 100).await.unwrap();
    assert_eq!(jobs.len(), statuses.iter().filter(|s| **s == 202).count());
    // wait for them to finish, then check no two were ever queued or running at once
    let mut jobs = jobs;
    for _ in 0..400 {
        if jobs.iter().all(|j| j.finished_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        jobs = acme.jobs((None, None), &[], 100).await.unwrap();
    }
    jobs.sort_by_key(|j| j.created_at);
    for pair in jobs.windows(2) {
        let finished = pair[0].finished_at.expect("finished");
        assert!(
            pair[1].created_at >= finished,
            "two captures of one VPS overlapped: {pair:?}"
        );
    }
}

/// A worker claims its next job while the last one's object is being published, and still
/// runs every job exactly once: one worker, captures queued back to back.
#[tokio::test]
async fn a_worker_claims_its_next_job_while_publishing_and_runs_each_once() {
    const N: usize = 6;
    let src = tempfile::tempdir().unwrap();
    let mut cfg = one_worker_config();
    for i in 0..N {
        let path = src.path().join(format!("disk-{i}"));
        std::fs::write(&path, vec![i as u8; 4096]).unwrap();
        cfg.push_str(&vps_resource(
            &i.to_string(),
            &format!("file = \"{}\"", path.display()),
        ));
    }
    let gw = TestGateway::start(&[provider_plugin("hostup")], &cfg)
        .await
        .unwrap();
    let posts: Vec<_> = (0..N)
        .map(|i| {
            let (c, url) = (
                gw.client.clone(),
                gw.at(&format!("/api/v2/vps/vps_{i:026}/backups")),
            );
            tokio::spawn(async move { c.post(url).bearer_auth("hu-admin").send().await.unwrap() })
        })
        .collect();
    for p in posts {
        assert_eq!(p.await.unwrap().status(), 202);
    }
    let db = &gw.gateway.services.db;
    let mut jobs = Vec::new();
    for _ in 0..400 {
        jobs = db
            .scoped("acme", "hostup")
            .jobs((None, None), &[], 100)
            .await
            .unwrap();
        if jobs.iter().all(|j| j.finished_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(jobs.len(), N);
    for j in &jobs {
        assert_eq!(
            (j.status, j.attempts),
            (backup_gateway::jobs::store::JobStatus::Completed, 1),
            "{j:?}"
        );
        let b = db
            .scoped("acme", "hostup")
            .backup_by_job(&j.id)
            .await
            .unwrap()
            .expect("its backup");
        assert_eq!(b.size, 4096);
    }
    // in the order they ran: each job that was already queued when the one before started
    // was claimed before that one had finished (while its object was being published)
    jobs.sort_by_key(|j| j.started_at);
    let mut overlapped = 0;
    for pair in jobs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.created_at < a.started_at.unwrap_or(i64::MAX) {
            assert!(
                b.started_at < a.finished_at,
                "claimed only after the one before finished: {a:?} then {b:?}"
            );
            overlapped += 1;
        }
    }
    assert!(overlapped > 0, "no job was queued behind another");
}

/// A capture prepared while the job before it is published reserves its quota then; when
/// only that job's retention will free the room, the reservation is tried again when the
/// capture runs instead of failing it. VPS A (8 MiB, one slot kept) and B (4 KiB) in an org
/// quota of two A backups and one B: each new A fills it until the older A is pruned.
#[tokio::test]
async fn a_capture_prepared_ahead_runs_when_the_last_jobs_retention_frees_its_quota() {
    const A: usize = 8 << 20;
    const B: usize = 4096;
    let src = tempfile::tempdir().unwrap();
    let mut cfg = one_worker_config();
    cfg.push_str(&format!(
        "[plugins.hostup]\norg_bytes = {}\nresource_slots = 1\n",
        2 * A + B
    ));
    for (vps, size) in [("a", A), ("b", B)] {
        let path = src.path().join(vps);
        std::fs::write(&path, vec![7u8; size]).unwrap();
        cfg.push_str(&vps_resource(
            vps,
            &format!("file = \"{}\"", path.display()),
        ));
    }
    let gw = TestGateway::start(&[provider_plugin("hostup")], &cfg)
        .await
        .unwrap();
    let db = &gw.gateway.services.db;
    let create = async |vps: &str| -> String {
        post_capture(&gw, vps).await;
        // the store's id of the job just queued: the VPS's newest
        let jobs = db
            .scoped("acme", "hostup")
            .jobs((None, None), &[], 100)
            .await
            .unwrap();
        jobs.into_iter()
            .filter(|j| j.resource_id == format!("vps_{vps:0>26}"))
            .max_by_key(|j| j.created_at)
            .expect("the job")
            .id
    };
    let finished = async |id: &str| -> backup_gateway::jobs::store::JobRecord {
        for _ in 0..800 {
            let job = db.scoped("acme", "hostup").job(id).await.unwrap().unwrap();
            if job.finished_at.is_some() {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("job {id} did not finish");
    };
    // one backup of each: the quota then holds one more A, and B's next only once the
    // older A is pruned
    for vps in ["a", "b"] {
        let id = create(vps).await;
        finished(&id).await;
    }
    let mut ahead = 0;
    for _ in 0..10 {
        let (a, b) = (create("a").await, create("b").await);
        let (a, b) = (finished(&a).await, finished(&b).await);
        for job in [&a, &b] {
            assert_eq!(
                job.status,
                backup_gateway::jobs::store::JobStatus::Completed,
                "{job:?}"
            );
        }
        // B claimed (and its reservation tried) while A was still being written
        if b.started_at < a.finished_at {
            ahead += 1;
            if ahead == 3 {
                break;
            }
        }
    }
    assert!(ahead > 0, "B was never claimed while A ran");
    // retention runs after a capture's commit (which is what marks its job finished), so
    // the last job's pruning may still be under way
    let expected = ((A + B) as i64, 0);
    let mut usage = db.scoped("acme", "hostup").usage().await.unwrap();
    for _ in 0..400 {
        if usage == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        usage = db.scoped("acme", "hostup").usage().await.unwrap();
    }
    assert_eq!(
        usage, expected,
        "one backup of each charged, nothing left reserved"
    );
}

/// A job claimed ahead (while the worker's last capture was being published) is handed
/// back too when the node stops, its attempt not counted, even while its source has not
/// answered: the stopping worker stops waiting for it rather than for the grace period to
/// end. One worker; VPS A's source trickles in over about half a second, so B is queued
/// behind it; B's source never answers, so B is still being prepared, claimed, when A
/// completes and the node is stopped.
#[tokio::test]
async fn a_job_claimed_ahead_is_handed_back_when_the_node_stops() {
    use futures_util::StreamExt;
    let app = axum::Router::new()
        .route(
            "/a",
            axum::routing::get(|| async {
                let pieces = futures_util::stream::iter(0..5).then(|_| async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, std::io::Error>(bytes::Bytes::from(vec![1u8; 1000]))
                });
                (
                    [(http::header::CONTENT_LENGTH, "5000")],
                    axum::body::Body::from_stream(pieces),
                )
            }),
        )
        .route("/b", axum::routing::get(std::future::pending::<Vec<u8>>));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut cfg = one_worker_config();
    for vps in ["a", "b"] {
        cfg.push_str(&vps_resource(vps, &format!("url = \"{base}/{vps}\"")));
    }
    let gw = TestGateway::start(&[provider_plugin("hostup")], &cfg)
        .await
        .unwrap();
    for vps in ["a", "b"] {
        post_capture(&gw, vps).await;
    }
    let db = gw.gateway.services.db.clone();
    let jobs = async || {
        let mut jobs = db
            .scoped("acme", "hostup")
            .jobs((None, None), &[], 10)
            .await
            .unwrap();
        jobs.sort_by(|x, y| x.resource_id.cmp(&y.resource_id));
        jobs
    };
    use backup_gateway::jobs::store::JobStatus;
    // A done and B claimed (its source still silent)
    let mut ready = false;
    for _ in 0..300 {
        let j = jobs().await;
        if j[0].status == JobStatus::Completed && j[1].status == JobStatus::InProgress {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ready, "A completed while B was claimed: {:?}", jobs().await);
    // short enough that a worker left waiting for B's silent source fails the test
    let _dir = gw.shut_down(Duration::from_secs(5)).await;
    let j = jobs().await;
    assert_eq!(
        (j[1].status, j[1].attempts, j[1].bytes_done),
        (JobStatus::Queued, 0, 0),
        "{:?}",
        j[1]
    );
    assert_eq!(
        db.scoped("acme", "hostup").usage().await.unwrap(),
        (5000, 0),
        "A charged, nothing reserved for B"
    );
}

/// One worker, the test org and its admin key; resources to be appended.
fn one_worker_config() -> String {
    format!(
        "concurrency = 1\n{}[[credentials]]\norg = \"acme\"\nplugin = \"hostup\"\nscheme = \"bearer\"\n\
         key = \"admin\"\nsecret = \"hu-admin\"\nscopes = [\"read:vm\", \"backup:vm\"]\n",
        super::ORG
    )
}

/// A VPS of the test org, `vps_{name}` zero-padded to a VPS id, with `source` (the inside
/// of the source table: `file = "…"` or `url = "…"`).
pub(crate) fn vps_resource(name: &str, source: &str) -> String {
    format!(
        "[[resources]]\norg = \"acme\"\nplugin = \"hostup\"\nkind = \"vps\"\nid = \"vps_{name:0>26}\"\nsource = {{ {source} }}\n"
    )
}

/// Create a capture of `vps_{vps}` (zero-padded to a VPS id) as the admin key; it must be
/// accepted. Its job id.
pub(crate) async fn post_capture(gw: &TestGateway, vps: &str) -> String {
    let r = gw
        .client
        .post(gw.at(&format!("/api/v2/vps/vps_{vps:0>26}/backups")))
        .bearer_auth("hu-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    v["operation"]["jobId"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A stalled database (the server's processes stopped: connections open, queries never
/// answered) while HostUp lists a VPS's backups is HostUp's own 503 problem, within the
/// plugin's deadline: the rate-limit window gives up after its budget and lets the request
/// through, the read gives up after half the deadline (without them the request hung until
/// the client gave up); once the database is back the same request succeeds.
#[tokio::test]
async fn a_stalled_database_during_a_read_is_hostups_503_problem() {
    let pg = PgCluster::start();
    let (gw, _, _src) = on_postgres(&pg, "outage").await;
    let list = || {
        gw.client
            .get(gw.at(&format!("/api/v2/vps/{VPS}/backups")))
            .bearer_auth("hu-viewer")
            .send()
    };
    assert_eq!(list().await.unwrap().status(), 200);
    pg.freeze();
    let r = list().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["type"], "https://developer.hostup.se/errors/service_unavailable",
        "{body}"
    );
    assert_eq!(body["status"], 503, "{body}");
    assert_eq!(
        body["instance"],
        format!("/api/v2/vps/{VPS}/backups"),
        "{body}"
    );
    pg.thaw();
    let mut status = 0;
    for _ in 0..50 {
        status = list().await.unwrap().status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status, 200, "the database is back");
}
