//! `/restores`: the two-step flow, every create and update error code, and the list.

use backup_gateway_sdk::{
    HostError, Method,
    jobs::{JobKind, JobSpec},
};
use serde_json::{Value, json};

use super::*;
use crate::manifest::{GET_RESTORE, LIST_RESTORES};
use crate::restore_record::{RESTORES, SLOT, SLOT_KEY};
use crate::store::key_of;
use crate::testing::T0;
use backup_gateway_sdk::Host;
use backup_gateway_sdk::testing::Import;

fn get(store: &FakeHost, id: impl ToString) -> Response {
    Call::new(GET_RESTORE).id(id).send(store)
}

fn status_of(store: &FakeHost, id: u64) -> Value {
    body(&get(store, id))["status"].clone()
}

fn groups(names: &[&str]) -> Value {
    json!(names)
}

const DEPLOYMENT: &[&str] = &["DEPLOYMENT_CONFIG"];

#[test]
fn the_two_step_restore() {
    let store = deployment();
    let (backup, stored) = finished_backup(&store, "nightly", 2048);

    // Step 1: PENDING, nothing runs.
    let resp = create_restore(
        &store,
        json!({"backup_id": backup, "groups": ["DEPLOYMENT_CONFIG", "INSTALLED_APPS_CONFIG", "DEPLOYMENT_CONFIG"]}),
    );
    assert_eq!(resp.status, 201, "{:?}", resp.body_json());
    assert_eq!(
        body(&resp),
        json!({
            "id": 1,
            "initiated_by": "admin",
            "host_id": 53,
            "time_initiated": T0 / 1000,
            "time_completed": null,
            "status": "PENDING",
            "groups": ["DEPLOYMENT_CONFIG", "INSTALLED_APPS_CONFIG"],
            "is_cross_deployment_restore": false,
            "backup_id": backup,
            "backup_name": "nightly",
            "backup_type": "CONFIG",
            "backup_version": "7.5.0",
            "backup_filename": "backup.nightly.53.20260427_100000.config.tgz",
        })
    );
    let jobs_before = store.all_jobs().len();
    assert_eq!(status_of(&store, 1), "PENDING");

    // Step 2: REQUESTING starts a restore job of the stored backup on the console.
    let resp = update_restore(&store, 1, json!({"status": "REQUESTING"}));
    assert_eq!(resp.status, 200, "{:?}", resp.body_json());
    assert_eq!(body(&resp)["status"], "REQUESTING");
    assert_eq!(store.all_jobs().len(), jobs_before + 1);
    let job = store.last_job().expect("a job");
    assert_eq!(job.kind, JobKind::Restore);
    assert_eq!(
        (job.resource_kind.as_str(), job.resource_id.as_str()),
        ("jsa-host", "53")
    );
    assert_eq!(job.source_backup.as_deref(), Some(stored.as_str()));
    let spec = store.last_spec().expect("spec");
    assert!(spec.exclusive);
    let metadata: Value = serde_json::from_str(&spec.metadata).expect("JSON");
    assert_eq!(metadata["restore_id"], 1);

    // Then the job's progress.
    assert_eq!(status_of(&store, 1), "INITIALIZING");
    store.start_job(&job.id, 10);
    assert_eq!(status_of(&store, 1), "IN_PROGRESS");
    store.advance(30_000_000);
    store.complete_job(&job.id);
    let b = body(&get(&store, 1));
    assert_eq!(b["status"], "SUCCESS");
    assert_eq!(b["time_completed"], (T0 + 30_000_000) / 1000);
    assert_eq!(
        store.doc(RESTORES, &key_of(1)).expect("record")["state"],
        "SUCCESS",
        "the outcome is cached"
    );

    // Only PENDING is updatable.
    let b = assert_error(
        &update_restore(&store, 1, json!({"status": "REQUESTING"})),
        422,
        1012,
    );
    assert_eq!(
        b["description"],
        "Only a restore with the status PENDING can be updated."
    );
    // The slot is free again.
    let resp = create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    assert_eq!(body(&resp)["id"], 2);
}

#[test]
fn a_failed_restore_job_fails_the_restore() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "b", 10);
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    update_restore(&store, 1, json!({"status": "REQUESTING"}));
    store.fail_job(&last_job_id(&store), "boom");
    assert_eq!(status_of(&store, 1), "FAILED");
    assert!(body(&get(&store, 1))["time_completed"].is_u64());
}

#[test]
fn create_validation_codes() {
    let store = deployment();
    let (good, _) = finished_backup(&store, "good", 10);
    // 1004: a DATA backup.
    let r = create_backup(
        &store,
        "DATA",
        json!({"name": "data", "configuration_id": 1, "host_id": 104}),
    );
    let data = body(&r)["id"].as_u64().expect("id");
    store.complete_capture(&last_job_id(&store), 10, 10);
    // 1005: still running.
    let running = config_backup(&store, "running");
    // 1006: an empty (invalid) archive.
    store.complete_capture(&last_job_id(&store), 0, 0);
    let empty = running;
    let running = {
        let r = create_backup(
            &store,
            "DATA",
            json!({"name": "running2", "configuration_id": 1, "host_id": 104}),
        );
        body(&r)["id"].as_u64().expect("id")
    };
    // 1003: a backup whose file is missing.
    let (missing, stored_missing) = finished_backup(&store, "missing", 10);
    store.lose_object(&stored_missing);

    let ok_groups = groups(DEPLOYMENT);
    let cases: Vec<(Value, u64)> = vec![
        (json!({"groups": ok_groups}), 1002),
        (json!({"backup_id": null, "groups": ok_groups}), 1002),
        (json!({"backup_id": "", "groups": ok_groups}), 1002),
        (json!({"backup_id": 999, "groups": ok_groups}), 1003),
        (json!({"backup_id": -1, "groups": ok_groups}), 1003),
        (json!({"backup_id": missing, "groups": ok_groups}), 1003),
        (json!({"backup_id": data, "groups": ok_groups}), 1004),
        (json!({"backup_id": running, "groups": ok_groups}), 1004),
        (json!({"backup_id": empty, "groups": ok_groups}), 1006),
        (json!({"backup_id": good}), 1008),
        (json!({"backup_id": good, "groups": null}), 1008),
        (json!({"backup_id": good, "groups": []}), 1008),
        (
            json!({"backup_id": good, "groups": ["INSTALLED_APPS_CONFIG"]}),
            1009,
        ),
        (json!({"backup_id": good, "groups": ["NOPE"]}), 1010),
        (
            json!({"backup_id": good, "groups": ["DEPLOYMENT_CONFIG", 5]}),
            1010,
        ),
        (
            json!({"backup_id": good, "groups": ["deployment_config"]}),
            1010,
        ),
        (json!({"backup_id": good, "groups": ["ASSETS_DATA"]}), 1019),
        (
            json!({"backup_id": good, "groups": ["USERS_CONFIG", "CUSTOM_RULES_CONFIG"]}),
            1019,
        ),
        (json!({"backup_id": good, "groups": "DOMAINS"}), 11),
        (json!({"backup_id": "x", "groups": ok_groups}), 11),
        (json!([good]), 11),
    ];
    for (request_body, code) in cases {
        let resp = create_restore(&store, request_body.clone());
        let b = assert_error(&resp, 422, code);
        if code >= 1000 {
            assert!(
                !b["description"].as_str().unwrap_or_default().is_empty(),
                "{request_body}"
            );
        }
    }
    assert_error(
        &Call::new(crate::manifest::CREATE_RESTORE)
            .method(Method::Post)
            .send(&store),
        422,
        8,
    );
    // 1005: a CONFIG backup that is still running.
    let console_running = config_backup(&store, "console-running");
    assert_error(
        &create_restore(
            &store,
            json!({"backup_id": console_running, "groups": ok_groups}),
        ),
        422,
        1005,
    );
    // Groups with their dependencies are fine.
    let resp = create_restore(
        &store,
        json!({"backup_id": good, "groups": ["ASSETS_DATA", "USERS_CONFIG", "DOMAINS", "OFFENSES_DATA"]}),
    );
    assert_eq!(resp.status, 201, "{:?}", resp.body_json());
    assert!(store.documents(RESTORES, None, 1000).expect("listed").len() == 1);
}

#[test]
fn create_refuses_incompatible_versions() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "old", 10);
    upgrade_console(&store, "7.5.0.UP8");
    let b = assert_error(
        &create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})),
        422,
        1007,
    );
    assert!(
        b["message"]
            .as_str()
            .unwrap_or_default()
            .contains("7.5.0.UP8")
    );
}

#[test]
fn only_one_restore_may_be_open() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "b", 10);
    assert_eq!(
        create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})).status,
        201
    );
    let b = assert_error(
        &create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})),
        409,
        1011,
    );
    assert!(
        b["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Restore 1")
    );
    update_restore(&store, 1, json!({"status": "REQUESTING"}));
    assert_error(
        &create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})),
        409,
        1011,
    );
    // Once it finished, the slot is free.
    store.complete_job(&last_job_id(&store));
    assert_eq!(
        create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})).status,
        201
    );
}

#[test]
fn create_failures_release_the_slot() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "b", 10);
    store.fail_next_on(
        Import::DocumentsPut,
        RESTORES,
        usize::MAX,
        HostError::Unavailable,
    );
    let b = assert_error(
        &create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})),
        503,
        1000,
    );
    assert_eq!(
        b["description"],
        "An error occurred during the attempt to create the restore."
    );
    assert!(store.doc(SLOT, SLOT_KEY).is_none());
    store.heal(Import::DocumentsPut);
    store.fail_always(Import::IdsNextInSequence, HostError::Unavailable);
    assert_error(
        &create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})),
        503,
        1000,
    );
    store.heal(Import::IdsNextInSequence);
    assert_eq!(
        create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})).status,
        201
    );
}

#[test]
fn update_validation_codes() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "b", 10);
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    let b = assert_error(
        &update_restore(&store, 9, json!({"status": "REQUESTING"})),
        404,
        1001,
    );
    assert_eq!(b["description"], "The restore does not exist.");
    assert_error(
        &update_restore(&store, 1, json!({"status": "PENDING"})),
        422,
        1013,
    );
    assert_error(
        &update_restore(&store, 1, json!({"status": "requesting"})),
        422,
        1013,
    );
    let b = assert_error(&update_restore(&store, 1, json!({})), 422, 1013);
    assert_eq!(
        b["description"],
        "The status of a restore can only be updated to REQUESTING."
    );
    assert_error(&update_restore(&store, 1, json!({"status": 1})), 422, 11);
    assert_error(
        &Call::new(UPDATE_RESTORE)
            .method(Method::Post)
            .id(1)
            .send(&store),
        422,
        8,
    );
    assert_error(
        &Call::post(UPDATE_RESTORE, &json!({"status": "REQUESTING"}))
            .id(1)
            .header("fields", "nope")
            .send(&store),
        422,
        30,
    );
    assert_eq!(status_of(&store, 1), "PENDING", "nothing changed");
}

#[test]
fn update_conflicts() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "b", 10);
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    // 1015: a backup is running on any host.
    let r = create_backup(
        &store,
        "DATA",
        json!({"name": "d", "configuration_id": 1, "host_id": 104}),
    );
    assert_eq!(r.status, 201);
    let b = assert_error(
        &update_restore(&store, 1, json!({"status": "REQUESTING"})),
        409,
        1015,
    );
    assert!(
        b["description"]
            .as_str()
            .unwrap_or_default()
            .contains("backup")
    );
    store.complete_capture(&last_job_id(&store), 1, 1);
    // 1016: another restore job runs (started outside this restore).
    store
        .create_job(&JobSpec {
            kind: JobKind::Restore,
            resource_kind: "jsa-host".into(),
            resource_id: "104".into(),
            source_backup: store.stored_backups().first().map(|b| b.id.clone()),
            deduplicate: false,
            exclusive: true,
            filename: "x".into(),
            media_type: "application/gzip".into(),
            metadata: "{}".into(),
        })
        .expect("job");
    assert_error(
        &update_restore(&store, 1, json!({"status": "REQUESTING"})),
        409,
        1016,
    );
    store.complete_job(&last_job_id(&store));
    // The host refusing the exclusive job on the console is 1015.
    store.fail_always(Import::JobsCreate, HostError::Conflict("busy".into()));
    assert_error(
        &update_restore(&store, 1, json!({"status": "REQUESTING"})),
        409,
        1015,
    );
    store.fail_always(Import::JobsCreate, HostError::Invalid("no source".into()));
    let b = assert_error(
        &update_restore(&store, 1, json!({"status": "REQUESTING"})),
        500,
        1000,
    );
    assert_eq!(
        b["description"],
        "An error occurred during the attempt to update the restore."
    );
    store.heal(Import::JobsCreate);
    assert_eq!(status_of(&store, 1), "PENDING");
    assert_eq!(
        update_restore(&store, 1, json!({"status": "REQUESTING"})).status,
        200
    );
}

#[test]
fn a_restore_whose_backup_vanished_fails_at_once() {
    let store = deployment();
    let (backup, stored) = finished_backup(&store, "b", 10);
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    store.lose_object(&stored);
    let jobs = store.all_jobs().len();
    let resp = update_restore(&store, 1, json!({"status": "REQUESTING"}));
    assert_eq!(resp.status, 200);
    assert_eq!(body(&resp)["status"], "FAILED");
    assert_eq!(store.all_jobs().len(), jobs, "no job was queued");
    assert_eq!(status_of(&store, 1), "FAILED");
    // The slot is free for a new restore.
    let (other, _) = finished_backup(&store, "c", 10);
    assert_eq!(
        create_restore(&store, json!({"backup_id": other, "groups": DEPLOYMENT})).status,
        201
    );
}

#[test]
fn get_and_list_restores() {
    let store = deployment();
    assert_error(&get(&store, 1), 404, 1001);
    assert_error(&get(&store, "x"), 404, 1001);
    let (a, _) = finished_backup(&store, "alpha", 10);
    create_restore(&store, json!({"backup_id": a, "groups": DEPLOYMENT}));
    update_restore(&store, 1, json!({"status": "REQUESTING"}));
    store.complete_job(&last_job_id(&store));
    let (b, _) = finished_backup(&store, "bravo", 10);
    create_restore(
        &store,
        json!({"backup_id": b, "groups": ["DOMAINS", "USERS_CONFIG"]}),
    );

    let resp = Call::new(LIST_RESTORES).send(&store);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-range"), Some("items 0-1/2"));
    let statuses: Vec<Value> = body(&resp)
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses, [json!("SUCCESS"), json!("PENDING")]);

    let resp = Call::new(LIST_RESTORES)
        .query("filter", "groups = USERS_CONFIG")
        .query("fields", "id,backup_name")
        .send(&store);
    assert_eq!(body(&resp), json!([{"id": 2, "backup_name": "bravo"}]));
    let resp = Call::new(LIST_RESTORES)
        .query("sort", "-backup_name")
        .header("range", "items=1-5")
        .send(&store);
    assert_eq!(resp.header("content-range"), Some("items 1-1/2"));
    assert_eq!(body(&resp)[0]["backup_name"], "alpha");
    let resp = Call::new(LIST_RESTORES)
        .header("range", "items=2-3")
        .send(&store);
    assert_eq!(
        (body(&resp), resp.header("content-range")),
        (json!([]), Some("items */2"))
    );
    // status is not sortable for restores.
    let b = assert_error(
        &Call::new(LIST_RESTORES)
            .query("sort", "status")
            .send(&store),
        422,
        1018,
    );
    assert!(
        b["description"]
            .as_str()
            .unwrap_or_default()
            .contains("backup_filename")
    );
    assert_error(
        &Call::new(LIST_RESTORES)
            .query("filter", "status = ")
            .send(&store),
        422,
        11,
    );
    let resp = Call::new(GET_RESTORE)
        .id(2)
        .query("fields", "status,groups")
        .send(&store);
    assert_eq!(
        body(&resp),
        json!({"status": "PENDING", "groups": ["DOMAINS", "USERS_CONFIG"]})
    );
}

fn delete(store: &FakeHost, id: impl ToString) -> Response {
    Call::new(crate::manifest::DELETE_RESTORE)
        .method(Method::Delete)
        .id(id)
        .send(store)
}

#[test]
fn deleting_a_pending_restore_frees_the_slot() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "b", 10);
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    assert_error(
        &create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT})),
        409,
        1011,
    );
    let resp = delete(&store, 1);
    assert_eq!(resp.status, 204, "{:?}", resp.body_json());
    assert!(resp.body_json().is_none(), "no content");
    assert!(store.doc(RESTORES, &key_of(1)).is_none());
    assert_error(&get(&store, 1), 404, 1001);
    assert_error(&delete(&store, 1), 404, 1001);
    assert_error(
        &update_restore(&store, 1, json!({"status": "REQUESTING"})),
        404,
        1001,
    );
    let list = Call::new(LIST_RESTORES).send(&store);
    assert_eq!(
        (body(&list), list.header("content-range")),
        (json!([]), Some("items */0"))
    );
    // The slot is free: a new restore is created, with the next id.
    let resp = create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    assert_eq!((resp.status, body(&resp)["id"].clone()), (201, json!(2)));
}

#[test]
fn a_running_restore_cannot_be_deleted_a_finished_one_can() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "b", 10);
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    update_restore(&store, 1, json!({"status": "REQUESTING"}));
    let job = store.last_job().expect("a job");
    let b = assert_error(&delete(&store, 1), 422, 1017);
    assert_eq!(
        b["description"],
        "A restore can only be deleted when its status is PENDING, SUCCESS or FAILED."
    );
    assert!(
        b["message"]
            .as_str()
            .unwrap_or_default()
            .contains("INITIALIZING")
    );
    store.start_job(&job.id, 1);
    assert_error(&delete(&store, 1), 422, 1017);
    assert_eq!(status_of(&store, 1), "IN_PROGRESS", "nothing changed");
    store.complete_job(&job.id);
    assert_eq!(delete(&store, 1).status, 204);
    assert_error(&get(&store, 1), 404, 1001);
    // A failed one too.
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    update_restore(&store, 2, json!({"status": "REQUESTING"}));
    store.fail_job(&last_job_id(&store), "boom");
    assert_eq!(delete(&store, 2).status, 204);
}

#[test]
fn delete_refusals_and_host_failures() {
    let store = deployment();
    assert_error(&delete(&store, 7), 404, 1001);
    assert_error(&delete(&store, "x"), 404, 1001);
    let (backup, _) = finished_backup(&store, "b", 10);
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    store.fail_next_on(
        Import::DocumentsPut,
        RESTORES,
        usize::MAX,
        HostError::Unavailable,
    );
    let b = assert_error(&delete(&store, 1), 503, 1000);
    assert_eq!(
        b["description"],
        "An error occurred during the attempt to delete the restore."
    );
    store.heal(Import::DocumentsPut);
    assert_eq!(status_of(&store, 1), "PENDING", "nothing was removed");
    // A write that races the delete (here: every write conflicts) ends in a clear 422.
    store.fail_next_on(
        Import::DocumentsPut,
        RESTORES,
        usize::MAX,
        HostError::Conflict("raced".into()),
    );
    let b = assert_error(&delete(&store, 1), 422, 1017);
    assert!(
        b["message"]
            .as_str()
            .unwrap_or_default()
            .contains("try again")
    );
    store.heal(Import::DocumentsPut);
    assert_eq!(delete(&store, 1).status, 204);
}

#[test]
fn the_documents_examples_are_accepted() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "nightly", 10);
    create_restore(&store, json!({"backup_id": backup, "groups": DEPLOYMENT}));
    let doc: Value = serde_json::from_str(include_str!("../openapi.json")).expect("JSON");
    let mut checked = 0;
    for item in doc["paths"].as_object().expect("paths").values() {
        let Some(op) = item.get("get") else { continue };
        let mut call = Call::new(op["operationId"].as_str().expect("operationId"));
        if op["operationId"] == "getBackup" || op["operationId"] == "getRestore" {
            call = call.id(1);
        }
        for param in op["parameters"].as_array().expect("parameters") {
            let pointer = param["$ref"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('#');
            let param = doc.pointer(pointer).unwrap_or(param);
            let (Some(name), Some(example)) =
                (param["name"].as_str(), param["schema"]["example"].as_str())
            else {
                continue;
            };
            call = match param["in"].as_str() {
                Some("query") => call.query(name, example),
                _ => call.header(&name.to_ascii_lowercase(), example),
            };
            checked += 1;
        }
        let resp = call.send(&store);
        assert_eq!(
            resp.status,
            200,
            "{}: {:?}",
            op["operationId"],
            resp.body_json()
        );
    }
    assert!(checked >= 10, "{checked} examples");
}
