//! Handler flows through [`operations::handle`] against the in-memory host: create → capture
//! → get/list → restore → delete, incremental chains, every refusal and how failed host calls
//! surface.

use backup_gateway_sdk::{
    Host, HostError, Method, Request, Response,
    jobs::{JobKind, JobStatus},
};
use serde_json::{Value, json};

use crate::manifest::{CREATE_BACKUP, DELETE_BACKUP, GET_BACKUP, LIST_BACKUPS, RESTORE_BACKUP};
use crate::operations;
use crate::record::GIB;
use crate::store::VOLUME_KIND;
use crate::testing::{T0, request, volume};
use backup_gateway_sdk::paging::{all_resources, resources_of};
use backup_gateway_sdk::testing::{FakeHost, Import};

const VOL: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const VOL_2: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const ATTACHED: &str = "cccccccc-0000-4000-8000-000000000003";

fn host() -> FakeHost {
    FakeHost::with_resources(vec![
        volume(VOL, "available"),
        volume(VOL_2, "available"),
        volume(ATTACHED, "in-use"),
    ])
}

fn call(store: &FakeHost, req: &Request) -> (u16, Value) {
    let resp: Response = operations::handle(store, req);
    let body = resp.body_json().unwrap_or(Value::Null);
    if resp.status >= 400 {
        assert_eq!(body["error"]["code"], resp.status, "{body}");
        assert_eq!(
            body["error"]["request_id"],
            "req-0196a0b0-0000-7000-8000-000000000001"
        );
    }
    (resp.status, body)
}

fn create(store: &FakeHost, body: Value) -> (u16, Value) {
    let mut r = request(CREATE_BACKUP, "/v1/backups");
    r.method = Method::Post;
    r.body = body.to_string().into_bytes();
    call(store, &r)
}

fn get(store: &FakeHost, id: &str) -> (u16, Value) {
    let r = Request {
        params: vec![("backup_id".into(), id.into())],
        ..request(GET_BACKUP, &format!("/v1/backups/{id}"))
    };
    call(store, &r)
}

fn list(store: &FakeHost, query: &[(&str, &str)]) -> (u16, Value) {
    let mut r = request(LIST_BACKUPS, "/v1/backups");
    r.query = query
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    call(store, &r)
}

fn delete(store: &FakeHost, id: &str) -> (u16, Value) {
    let r = Request {
        method: Method::Delete,
        params: vec![("backup_id".into(), id.into())],
        ..request(DELETE_BACKUP, &format!("/v1/backups/{id}"))
    };
    call(store, &r)
}

fn restore(store: &FakeHost, id: &str, body: Option<Value>) -> (u16, Value) {
    let r = Request {
        method: Method::Post,
        params: vec![("backup_id".into(), id.into())],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        ..request(RESTORE_BACKUP, &format!("/v1/backups/{id}/restore"))
    };
    call(store, &r)
}

/// Create a backup and play its capture to completion; returns its id.
fn available(store: &FakeHost, body: Value, size: u64, stored_bytes: u64) -> String {
    let (status, created) = create(store, body);
    assert_eq!(status, 202, "{created}");
    let id = created["backup"]["id"].as_str().expect("id").to_string();
    store.complete_capture(&last_job_id(store), size, stored_bytes);
    id
}

/// The capture job of the last create.
fn last_job_id(store: &FakeHost) -> String {
    store.last_job().map(|j| j.id).expect("a job")
}

fn details(body: &Value) -> &str {
    body["error"]["details"].as_str().unwrap_or_default()
}

#[test]
fn create_queues_a_deduplicated_exclusive_capture_and_answers_creating() {
    let store = host();
    let (status, body) = create(
        &store,
        json!({
            "volume_id": VOL,
            "name": "backup-2024-01-15",
            "description": "Weekly backup",
            "container": "nightly",
            "snapshot_id": "550e8400-e29b-41d4-a716-446655440000",
            "metadata": { "environment": "production", "team": "backend" },
        }),
    );
    assert_eq!(status, 202);
    let id = "00000000-0000-4000-8000-000000000001";
    assert_eq!(
        body,
        json!({
            "backup": {
                "id": id,
                "crn": format!("crn:spo1:storage:backup:{id}"),
                "name": "backup-2024-01-15",
                "description": "Weekly backup",
                "status": "creating",
                "volume_id": VOL,
                "size": 0,
                "container": "nightly",
                "is_incremental": false,
                "has_dependent_backups": false,
                "snapshot_id": "550e8400-e29b-41d4-a716-446655440000",
                "metadata": { "environment": "production", "team": "backend" },
                "created_at": "2026-04-27T10:00:00Z",
                "updated_at": "2026-04-27T10:00:00Z",
            }
        })
    );
    let spec = store.last_spec().expect("a job");
    assert_eq!(spec.kind, JobKind::Capture);
    assert_eq!(
        (spec.resource_kind.as_str(), spec.resource_id.as_str()),
        ("volume", VOL)
    );
    assert!(spec.deduplicate, "every capture is chunked");
    assert!(spec.exclusive, "one capture or restore per volume");
    assert_eq!(spec.filename, format!("backup-{id}.img"));
    assert_eq!(spec.media_type, "application/octet-stream");
    let metadata: Value = serde_json::from_str(&spec.metadata).expect("JSON");
    assert_eq!(metadata["id"], id);
    assert_eq!(metadata["volume_id"], VOL);
    assert_eq!(metadata["container"], "nightly");
    assert_eq!(metadata["parent_id"], Value::Null);
    assert_eq!(metadata["metadata"]["team"], "backend");

    // The same backup, now from GET.
    let (status, got) = get(&store, id);
    assert_eq!(status, 200);
    assert_eq!(got, body);
}

#[test]
fn the_capture_settles_the_status() {
    let store = host();
    let id = available(
        &store,
        json!({ "volume_id": VOL, "name": "a" }),
        3 * GIB + 1,
        3 * GIB + 1,
    );
    store.set_now(T0 + 60_000_000);
    let (_, body) = get(&store, &id);
    assert_eq!(body["backup"]["status"], "available");
    assert_eq!(body["backup"]["size"], 4);
    assert_eq!(body["backup"]["updated_at"], "2026-04-27T10:00:00Z");

    let (_, created) = create(&store, json!({ "volume_id": VOL_2 }));
    let failed = created["backup"]["id"].as_str().expect("id").to_string();
    store.fail_job(&last_job_id(&store), "cannot read the source");
    let (_, body) = get(&store, &failed);
    assert_eq!(body["backup"]["status"], "error");
    assert_eq!(body["backup"]["fail_reason"], "cannot read the source");
    assert_eq!(body["backup"]["updated_at"], "2026-04-27T10:01:00Z");
    assert_eq!(body["backup"]["name"], Value::Null);
}

#[test]
fn create_refusals() {
    let store = host();
    let (status, body) = create(&store, json!({ "volume_id": "vol-1", "force": "yes" }));
    assert_eq!(status, 400);
    assert_eq!(
        details(&body),
        "Field 'volume_id' must be a UUID; Field 'force' must be a boolean"
    );
    let (status, body) = create(&store, json!({ "volume_id": VOL.replace('a', "d") }));
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some("Volume not found"))
    );
    let (status, body) = create(&store, json!({ "volume_id": ATTACHED }));
    assert_eq!(status, 409);
    assert_eq!(
        body["error"]["message"],
        "Volume is not in a state that allows backup"
    );
    assert!(store.specs().is_empty());

    let (status, _) = create(&store, json!({ "volume_id": ATTACHED, "force": true }));
    assert_eq!(status, 202);
    // A capture of the volume is queued: the host refuses the exclusive job.
    let (status, body) = create(&store, json!({ "volume_id": ATTACHED, "force": true }));
    assert_eq!(status, 409);
    assert_eq!(
        details(&body),
        format!("Volume '{ATTACHED}' has a backup or restore in progress.")
    );
    assert_eq!(
        store
            .documents(crate::record::COLLECTION, None, 1000)
            .expect("listed")
            .len(),
        1,
        "no record for refusals"
    );
}

#[test]
fn create_maps_host_failures() {
    let cases = [
        (HostError::QuotaExceeded, 413),
        (HostError::Unavailable, 503),
        (HostError::NotFound, 404),
        (
            HostError::Invalid("deduplicated captures are not available".into()),
            500,
        ),
    ];
    for (error, status) in cases {
        let store = host();
        store.fail_always(Import::JobsCreate, error.clone());
        let (got, body) = create(&store, json!({ "volume_id": VOL }));
        assert_eq!(got, status, "{error:?}");
        assert!(
            !details(&body).contains("deduplicated"),
            "internal detail stays in the log"
        );
        assert!(
            store
                .documents(crate::record::COLLECTION, None, 1000)
                .expect("listed")
                .is_empty()
        );
    }
    let store = host();
    store.fail_always(Import::JobsCreate, HostError::Invalid("boom".into()));
    create(&store, json!({ "volume_id": VOL }));
    assert!(store.warnings()[0].contains("queueing a capture of volume"));

    // The record cannot be written: the capture is cancelled.
    let store = host();
    store.fail_always(Import::DocumentsPut, HostError::Unavailable);
    let (status, _) = create(&store, json!({ "volume_id": VOL }));
    assert_eq!(status, 503);
    let job = store.all_jobs()[0].clone();
    assert_eq!(
        store.job(&job.id).expect("read").map(|j| j.status),
        Some(JobStatus::Cancelled)
    );
}

#[test]
fn incremental_chain_parents_and_sizes() {
    let store = host();
    // No backup to build on yet.
    let (status, body) = create(&store, json!({ "volume_id": VOL, "incremental": true }));
    assert_eq!(status, 400);
    assert_eq!(
        details(&body),
        "No backups available to do an incremental backup."
    );

    let full = available(
        &store,
        json!({ "volume_id": VOL, "name": "full" }),
        5 * GIB,
        5 * GIB,
    );
    // A failed backup and another volume's backup are never parents.
    let (_, other) = create(&store, json!({ "volume_id": VOL_2 }));
    store.complete_capture(&last_job_id(&store), GIB, GIB);
    store.set_now(T0 + 1_000_000);
    let mut r = request(CREATE_BACKUP, "/v1/backups");
    r.received_at = T0 + 1_000_000;
    r.body = json!({ "volume_id": VOL }).to_string().into_bytes();
    operations::handle(&store, &r);
    store.fail_job(&last_job_id(&store), "disk");

    r.received_at = T0 + 2_000_000;
    r.body = json!({ "volume_id": VOL, "incremental": true, "name": "inc-1" })
        .to_string()
        .into_bytes();
    let (status, body) = call(&store, &r);
    assert_eq!(status, 202, "{body}");
    let inc = body["backup"]["id"].as_str().expect("id").to_string();
    assert_eq!(body["backup"]["is_incremental"], true);
    let metadata: Value =
        serde_json::from_str(&store.last_spec().expect("spec").metadata).expect("JSON");
    assert_eq!(metadata["parent_id"], full.as_str());
    assert_eq!(metadata["incremental"], true);
    store.complete_capture(&last_job_id(&store), 5 * GIB, 1000);

    // The next incremental builds on the newest available one.
    r.received_at = T0 + 3_000_000;
    r.body = json!({ "volume_id": VOL, "incremental": true })
        .to_string()
        .into_bytes();
    let (_, body) = call(&store, &r);
    let inc_2 = body["backup"]["id"].as_str().expect("id").to_string();
    let metadata: Value =
        serde_json::from_str(&store.last_spec().expect("spec").metadata).expect("JSON");
    assert_eq!(metadata["parent_id"], inc.as_str());

    let (_, body) = get(&store, &full);
    assert_eq!(body["backup"]["has_dependent_backups"], true);
    assert_eq!(body["backup"]["size"], 5);
    let (_, body) = get(&store, &inc);
    assert_eq!(
        body["backup"]["has_dependent_backups"], true,
        "inc-2 is creating"
    );
    assert_eq!(body["backup"]["size"], 1, "1000 new bytes round up to 1 GB");
    let (_, body) = get(&store, &inc_2);
    assert_eq!(body["backup"]["has_dependent_backups"], false);
    let (_, body) = get(&store, other["backup"]["id"].as_str().expect("id"));
    assert_eq!(body["backup"]["has_dependent_backups"], false);

    let (_, listed) = list(&store, &[("volume_id", VOL), ("status", "available")]);
    let flags: Vec<(&str, bool)> = listed["backups"]
        .as_array()
        .expect("array")
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap_or("-"),
                b["has_dependent_backups"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(flags, [("inc-1", true), ("full", true)]);

    // Deleting a parent waits for its children, newest first.
    store.complete_capture(&last_job_id(&store), 5 * GIB, 0);
    let (status, body) = delete(&store, &full);
    assert_eq!(status, 409);
    assert_eq!(
        details(&body),
        format!("Incremental backups exist for backup '{full}'; delete them first.")
    );
    assert_eq!(delete(&store, &inc).0, 409);
    assert_eq!(delete(&store, &inc_2).0, 202);
    assert_eq!(delete(&store, &inc).0, 202);
    let (_, body) = get(&store, &full);
    assert_eq!(body["backup"]["has_dependent_backups"], false);
    assert_eq!(delete(&store, &full).0, 202);
    assert_eq!(get(&store, &full).0, 404);
}

#[test]
fn a_failed_child_does_not_hold_its_parent() {
    let store = host();
    let full = available(&store, json!({ "volume_id": VOL }), 10, 10);
    let (status, _) = create(&store, json!({ "volume_id": VOL, "incremental": true }));
    assert_eq!(status, 202);
    store.fail_job(&last_job_id(&store), "disk");
    let (_, body) = get(&store, &full);
    assert_eq!(body["backup"]["has_dependent_backups"], false);
    assert_eq!(delete(&store, &full).0, 202);
}

#[test]
fn get_and_delete_unknown_ids() {
    let store = host();
    for id in ["00000000-0000-4000-8000-00000000ffff", "not-a-uuid", ""] {
        let (status, body) = get(&store, id);
        assert_eq!(status, 404, "{id}");
        assert_eq!(body["error"]["message"], "Backup not found");
        assert_eq!(delete(&store, id).0, 404);
        assert_eq!(restore(&store, id, None).0, 404);
    }
    let (status, _) = call(&store, &request("nope", "/v1/nope"));
    assert_eq!(status, 404);
}

#[test]
fn delete_refuses_busy_backups_and_finishes_after_a_failure() {
    let store = host();
    let (_, created) = create(&store, json!({ "volume_id": VOL }));
    let id = created["backup"]["id"].as_str().expect("id").to_string();
    let (status, body) = delete(&store, &id);
    assert_eq!(status, 409);
    assert_eq!(
        details(&body),
        format!("Backup '{id}' is creating; only an available or error backup can be deleted.")
    );
    let host_id = store.complete_capture(&last_job_id(&store), 10, 10);

    store.fail_always(Import::BackupsDelete, HostError::Unavailable);
    assert_eq!(delete(&store, &id).0, 503);
    let (_, body) = get(&store, &id);
    assert_eq!(body["backup"]["status"], "deleting");
    let (_, listed) = list(&store, &[("status", "deleting")]);
    assert_eq!(listed["meta"]["total"], 1);
    // Deleting backups can be neither restored nor built on.
    assert_eq!(restore(&store, &id, None).0, 409);
    let (status, _) = create(&store, json!({ "volume_id": VOL, "incremental": true }));
    assert_eq!(status, 400);

    store.heal(Import::BackupsDelete);
    let (status, body) = delete(&store, &id);
    assert_eq!((status, body), (202, Value::Null));
    assert!(store.stored_backups().iter().all(|b| b.id != host_id));
    assert!(
        store
            .documents(crate::record::COLLECTION, None, 1000)
            .expect("listed")
            .is_empty()
    );
    assert_eq!(delete(&store, &id).0, 404);
}

#[test]
fn error_backups_can_be_deleted() {
    let store = host();
    let (_, created) = create(&store, json!({ "volume_id": VOL }));
    let id = created["backup"]["id"].as_str().expect("id").to_string();
    store.set_job_status(&last_job_id(&store), JobStatus::Cancelled);
    let (_, body) = get(&store, &id);
    assert_eq!(body["backup"]["status"], "error");
    assert_eq!(body["backup"]["fail_reason"], "The backup was cancelled.");
    assert_eq!(delete(&store, &id).0, 202);
}

#[test]
fn restore_into_an_existing_volume() {
    let store = host();
    let id = available(&store, json!({ "volume_id": VOL }), 10, 10);
    let host_id = store.stored_backups()[0].id.clone();
    store.set_now(T0 + 30_000_000);
    let (status, body) = restore(&store, &id, Some(json!({ "volume_id": VOL_2 })));
    assert_eq!((status, body), (202, json!({ "volume_id": VOL_2 })));
    let spec = store.last_spec().expect("restore job");
    assert_eq!(spec.kind, JobKind::Restore);
    assert_eq!(spec.resource_id, VOL_2);
    assert_eq!(spec.source_backup.as_deref(), Some(host_id.as_str()));
    assert!(spec.exclusive && !spec.deduplicate);

    // While it runs the backup is restoring: no second restore, no delete.
    let (_, body) = get(&store, &id);
    assert_eq!(body["backup"]["status"], "restoring");
    let (status, body) = restore(&store, &id, Some(json!({ "volume_id": VOL })));
    assert_eq!(status, 409);
    assert_eq!(
        body["error"]["message"],
        "Backup is not in a state that allows restore"
    );
    assert_eq!(delete(&store, &id).0, 409);
    // It can still be an incremental parent.
    assert_eq!(
        create(&store, json!({ "volume_id": VOL, "incremental": true })).0,
        202
    );

    store.set_job_status(&last_job_id(&store), JobStatus::Completed);
    let restore_job = store.all_jobs()[1].id.clone();
    store.set_job_status(&restore_job, JobStatus::Completed);
    let (_, body) = get(&store, &id);
    assert_eq!(body["backup"]["status"], "available");
    assert_eq!(body["backup"]["updated_at"], "2026-04-27T10:00:00Z");
    let record = crate::catalog::load(&store, &id)
        .expect("read")
        .expect("record");
    assert_eq!(
        record.record.last_restore_job.as_deref(),
        Some(restore_job.as_str())
    );
}

#[test]
fn restore_refusals() {
    let store = host();
    let id = available(&store, json!({ "volume_id": VOL }), 10, 10);
    let (status, body) = restore(&store, &id, Some(json!({ "volume_id": "x" })));
    assert_eq!(
        (status, details(&body)),
        (400, "Field 'volume_id' must be a UUID")
    );
    let missing = VOL.replace('a', "e");
    let (status, body) = restore(&store, &id, Some(json!({ "volume_id": missing })));
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some("Volume not found"))
    );
    let (status, body) = restore(&store, &id, Some(json!({ "volume_id": ATTACHED })));
    assert_eq!(status, 409);
    assert_eq!(
        body["error"]["message"],
        "Volume is not in a state that allows restore"
    );
    // A capture of the target is running: the host refuses the exclusive restore.
    assert_eq!(create(&store, json!({ "volume_id": VOL_2 })).0, 202);
    let (status, body) = restore(&store, &id, Some(json!({ "volume_id": VOL_2 })));
    assert_eq!(status, 409);
    assert_eq!(
        details(&body),
        format!("Volume '{VOL_2}' has a backup or restore in progress.")
    );
    // A backup that is still creating.
    let (_, creating) = create(&store, json!({ "volume_id": VOL }));
    let creating = creating["backup"]["id"].as_str().expect("id").to_string();
    let (status, body) = restore(&store, &creating, None);
    assert_eq!(status, 409);
    assert_eq!(
        details(&body),
        format!("Backup '{creating}' is creating; only an available backup can be restored.")
    );
}

#[test]
fn restore_without_a_volume_creates_one() {
    let store = host();
    let id = available(&store, json!({ "volume_id": VOL }), 2 * GIB + 5, 10);
    let (status, body) = restore(&store, &id, None);
    assert_eq!(status, 202);
    let new_id = body["volume_id"].as_str().expect("volume id").to_string();
    let created = store
        .resource(VOLUME_KIND, &new_id)
        .expect("read")
        .expect("created");
    assert_eq!(created.name, format!("restore_backup_{id}"));
    let attributes: Value = serde_json::from_str(&created.attributes).expect("JSON");
    assert_eq!(
        attributes,
        json!({ "size": 3, "region": "spo1", "restored_from_backup_id": id })
    );
    assert_eq!(store.last_spec().map(|s| s.resource_id), Some(new_id));

    store.set_job_status(&last_job_id(&store), JobStatus::Completed);
    let (status, body) = restore(&store, &id, Some(json!({ "name": "copy" })));
    assert_eq!(status, 202);
    let named = body["volume_id"].as_str().expect("volume id");
    assert_eq!(
        store
            .resource(VOLUME_KIND, named)
            .expect("read")
            .map(|v| v.name)
            .as_deref(),
        Some("copy")
    );
}

#[test]
fn a_new_volume_the_host_cannot_restore_into_is_marked_error() {
    let store = host();
    let id = available(&store, json!({ "volume_id": VOL }), 10, 10);
    // The host refuses the restore job into the volume it just created.
    store.fail_next(
        Import::JobsCreate,
        1,
        HostError::Invalid("the resource has no capture source".into()),
    );
    let (status, body) = restore(&store, &id, None);
    assert_eq!(status, 500);
    assert_eq!(body["error"]["message"], "Internal server error");
    let new_volume = all_resources(&store, &resources_of(VOLUME_KIND))
        .expect("listed")
        .into_iter()
        .find(|v| ![VOL, VOL_2, ATTACHED].contains(&v.id.as_str()))
        .expect("created");
    assert_eq!(new_volume.state, "error");
    assert!(
        store
            .warnings()
            .iter()
            .any(|w| w.contains("queueing a restore"))
    );
}

#[test]
fn list_pages_through_backups_with_filters() {
    let store = host();
    let mut ids = Vec::new();
    for n in 0..5u64 {
        let mut r = request(CREATE_BACKUP, "/v1/backups");
        r.received_at = T0 + n * 1_000_000;
        let volume = if n % 2 == 0 { VOL } else { VOL_2 };
        r.body = json!({ "volume_id": volume, "name": format!("daily-{n}") })
            .to_string()
            .into_bytes();
        let (status, body) = call(&store, &r);
        assert_eq!(status, 202);
        ids.push(body["backup"]["id"].as_str().expect("id").to_string());
        store.complete_capture(&last_job_id(&store), 10, 10);
    }
    let (status, page) = list(&store, &[("limit", "2")]);
    assert_eq!(status, 200);
    let got: Vec<&str> = page["backups"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(got, [ids[4].as_str(), ids[3].as_str()]);
    assert_eq!(
        page["meta"],
        json!({ "total": 5, "limit": 2, "marker": null, "has_more": true })
    );
    assert_eq!(
        page["links"]["next"],
        format!("/v1/backups?limit=2&marker={}", ids[3])
    );
    let (_, page) = list(&store, &[("limit", "2"), ("marker", &ids[1])]);
    assert_eq!(page["backups"][0]["id"], ids[0].as_str());
    assert_eq!(page["meta"]["has_more"], false);
    let (_, page) = list(&store, &[("volume_id", VOL_2), ("name", "daily-*")]);
    assert_eq!(page["meta"]["total"], 2);
    let (status, body) = list(&store, &[("marker", VOL)]);
    assert_eq!(status, 400);
    assert_eq!(
        details(&body),
        format!("Marker '{VOL}' could not be found.")
    );
    let (status, _) = list(&store, &[("limit", "0")]);
    assert_eq!(status, 400);

    let broken = host();
    broken.fail_always(Import::BackupsList, HostError::Unavailable);
    assert_eq!(list(&broken, &[]).0, 503);
}

/// A call of one route, answering its status and body.
type Route<'a> = dyn Fn(&FakeHost) -> (u16, Value) + 'a;

#[test]
fn a_database_read_in_an_outage_is_the_503_envelope_on_every_route() {
    let store = host();
    let id = available(&store, json!({ "volume_id": VOL }), 10, 10);
    // A second backup whose capture has not settled: reading it looks its job up.
    let (_, pending) = create(&store, json!({ "volume_id": VOL_2 }));
    let pending = pending["backup"]["id"].as_str().expect("id").to_string();
    let create_on_vol_2 = |s: &FakeHost| create(s, json!({ "volume_id": VOL_2 }));
    let into_vol_2 = Some(json!({ "volume_id": VOL_2 }));
    let cases: [(&str, Import, &Route); 8] = [
        ("create", Import::ResourcesGet, &create_on_vol_2),
        ("list", Import::DocumentsList, &|s| list(s, &[])),
        ("list", Import::JobsList, &|s| list(s, &[])),
        ("get", Import::DocumentsGet, &|s| get(s, &id)),
        ("get", Import::JobsGet, &|s| get(s, &pending)),
        ("delete", Import::DocumentsGet, &|s| delete(s, &id)),
        ("restore", Import::JobsList, &|s| restore(s, &id, None)),
        ("restore", Import::ResourcesGet, &|s| {
            restore(s, &id, into_vol_2.clone())
        }),
    ];
    for (route, import, call) in cases {
        let jobs = store.all_jobs().len();
        store.fail_always(import, HostError::Unavailable);
        let (status, body) = call(&store);
        store.heal(import);
        assert_eq!(
            (status, body),
            (
                503,
                json!({
                    "error": {
                        "code": 503,
                        "message": "Service unavailable",
                        "details": "The service is temporarily unavailable. Retry later.",
                        "request_id": "req-0196a0b0-0000-7000-8000-000000000001",
                    }
                })
            ),
            "{route} {import:?}"
        );
        assert_eq!(store.all_jobs().len(), jobs, "{route} queued a job");
    }
    // Nothing was lost: healed, every backup is still there.
    assert_eq!(get(&store, &id).0, 200);
    assert_eq!(list(&store, &[]).1["meta"]["total"], 2);
}

#[test]
fn a_record_changed_while_it_is_deleted_stays() {
    let store = host();
    let id = available(&store, json!({ "volume_id": VOL }), 10, 10);
    // Someone writes the record between the delete's mark and its removal.
    store.fail_next(
        Import::DocumentsDelete,
        1,
        HostError::Conflict("revision mismatch".into()),
    );
    let (status, body) = delete(&store, &id);
    assert_eq!(status, 409);
    assert_eq!(
        details(&body),
        format!("Backup '{id}' changed while it was being deleted; retry.")
    );
    // A repeated DELETE finishes it.
    assert_eq!(delete(&store, &id).0, 202);
    assert_eq!(get(&store, &id).0, 404);
}
