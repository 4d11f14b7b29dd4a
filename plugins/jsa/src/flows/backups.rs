//! `/backups`: create (every error code), the status lifecycle incl. MISSING, list
//! conventions, get and delete.

use backup_gateway_sdk::{HostError, Method, jobs::JobKind};
use serde_json::{Value, json};

use super::*;
use crate::backup_record::{BACKUPS, CANCEL_GRACE, NAMES};
use crate::manifest::{DELETE_BACKUP, GET_BACKUP, LIST_BACKUPS};
use crate::store::key_of;
use crate::testing::T0;
use backup_gateway_sdk::Host;
use backup_gateway_sdk::testing::Import;

fn get(store: &FakeHost, id: impl ToString) -> Response {
    Call::new(GET_BACKUP).id(id).send(store)
}

fn delete(store: &FakeHost, id: u64) -> Response {
    Call::new(DELETE_BACKUP)
        .method(Method::Delete)
        .id(id)
        .send(store)
}

fn status_of(store: &FakeHost, id: u64) -> Value {
    body(&get(store, id))["status"].clone()
}

#[test]
fn create_answers_201_with_the_backup_and_queues_an_exclusive_capture() {
    let store = deployment();
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "nightly", "configuration_id": 1, "description": "nightly_backup", "ignored": true}),
    );
    assert_eq!(resp.status, 201);
    assert_eq!(
        body(&resp),
        json!({
            "id": 1,
            "configuration_id": 1,
            "host_id": 53,
            "name": "nightly",
            "description": "nightly_backup",
            "type": "CONFIG",
            "version": "7.5.0",
            "build_version": "2021.6.5.20230322144215",
            "time_initiated": T0 / 1000,
            "time_completed": null,
            "initiated_by": "admin",
            "status": "INITIALIZING",
            "size_on_disk": 0,
            "content_file_path": null,
            "is_valid": false,
            "is_version_compatible": true,
        })
    );
    let spec = store.specs()[0].clone();
    assert_eq!(spec.kind, JobKind::Capture);
    assert_eq!(
        (spec.resource_kind.as_str(), spec.resource_id.as_str()),
        ("jsa-host", "53")
    );
    assert!(spec.exclusive && !spec.deduplicate && spec.source_backup.is_none());
    assert_eq!(
        spec.filename,
        "backup.nightly.53.20260427_100000.config.tgz"
    );
    assert_eq!(spec.media_type, "application/gzip");
    let metadata: Value = serde_json::from_str(&spec.metadata).expect("JSON");
    assert_eq!(metadata["jsa_id"], 1);
    assert_eq!(metadata["name"], "nightly");
    assert_eq!(metadata["type"], "CONFIG");
    assert_eq!(metadata["initiated_by"], "admin");
    assert_eq!(store.doc(NAMES, "nightly"), Some(json!({"id": 1})));

    // A DATA backup of a managed host records that host's versions; ids keep counting.
    let resp = create_backup(
        &store,
        "DATA",
        json!({"name": "data.1", "configuration_id": "1", "host_id": 104}),
    );
    assert_eq!(resp.status, 201, "{:?}", resp.body_json());
    let b = body(&resp);
    assert_eq!(
        (b["id"].as_u64(), b["host_id"].as_u64()),
        (Some(2), Some(104))
    );
    assert_eq!(
        (b["type"].as_str(), b["build_version"].as_str()),
        (Some("DATA"), Some("b104"))
    );
}

#[test]
fn create_projects_the_fields_header() {
    let store = deployment();
    let resp = Call::post(CREATE_BACKUP, &json!({"name": "n", "configuration_id": 1}))
        .header("backup_type", "CONFIG")
        .header("fields", "id, status")
        .send(&store);
    assert_eq!(resp.status, 201);
    assert_eq!(body(&resp), json!({"id": 1, "status": "INITIALIZING"}));
    // An unknown field is refused before anything is created.
    let resp = Call::post(CREATE_BACKUP, &json!({"name": "m", "configuration_id": 1}))
        .header("backup_type", "CONFIG")
        .header("fields", "id,nope")
        .send(&store);
    assert_error(&resp, 422, 30);
    assert_eq!(store.all_jobs().len(), 1);
}

#[test]
fn backup_type_is_a_required_enum_header() {
    let store = deployment();
    let ok = json!({"name": "n", "configuration_id": 1});
    let resp = Call::post(CREATE_BACKUP, &ok).send(&store);
    let b = assert_error(&resp, 422, 8);
    assert_eq!(
        b["message"],
        "Missing required parameter \"backup_type\" from headers"
    );
    assert_eq!(b["description"], "");
    for bad in ["config", "FULL", ""] {
        let resp = create_backup(&store, bad, ok.clone());
        let b = assert_error(&resp, 422, 11);
        assert_eq!(
            b["message"],
            "Failed to transform user header parameter \"backup_type\" with a content type of \"TEXT_PLAIN\""
        );
    }
    assert!(store.all_jobs().is_empty());
}

#[test]
fn every_create_validation_code() {
    let store = deployment();
    let long_name = "n".repeat(101);
    let long_description = "d".repeat(256);
    let cases: Vec<(&str, Value, u64)> = vec![
        ("CONFIG", json!([1]), 11),
        ("CONFIG", json!({"name": 5, "configuration_id": 1}), 11),
        (
            "CONFIG",
            json!({"name": "n", "configuration_id": "one"}),
            11,
        ),
        ("CONFIG", json!({"name": "n", "configuration_id": 1.5}), 11),
        (
            "CONFIG",
            json!({"name": "n", "configuration_id": 1, "description": 7}),
            11,
        ),
        (
            "CONFIG",
            json!({"name": "n", "configuration_id": 1, "host_id": true}),
            11,
        ),
        ("CONFIG", json!({"configuration_id": 1}), 1002),
        ("CONFIG", json!({"name": null, "configuration_id": 1}), 1002),
        ("CONFIG", json!({"name": "", "configuration_id": 1}), 1002),
        (
            "CONFIG",
            json!({"name": long_name, "configuration_id": 1}),
            1003,
        ),
        (
            "CONFIG",
            json!({"name": "bad name", "configuration_id": 1}),
            1004,
        ),
        (
            "CONFIG",
            json!({"name": "ünï", "configuration_id": 1}),
            1004,
        ),
        (
            "CONFIG",
            json!({"name": "a/b", "configuration_id": 1}),
            1004,
        ),
        ("CONFIG", json!({"name": "n"}), 1006),
        (
            "CONFIG",
            json!({"name": "n", "configuration_id": null}),
            1006,
        ),
        ("CONFIG", json!({"name": "n", "configuration_id": ""}), 1006),
        (
            "CONFIG",
            json!({"name": "n", "configuration_id": 1, "description": long_description}),
            1008,
        ),
        ("CONFIG", json!({"name": "n", "configuration_id": 9}), 1007),
        ("CONFIG", json!({"name": "n", "configuration_id": 2}), 1007),
        ("CONFIG", json!({"name": "n", "configuration_id": -1}), 1007),
        (
            "CONFIG",
            json!({"name": "n", "configuration_id": 1, "host_id": 999}),
            1009,
        ),
        (
            "CONFIG",
            json!({"name": "n", "configuration_id": 1, "host_id": -5}),
            1009,
        ),
        (
            "DATA",
            json!({"name": "n", "configuration_id": 1, "host_id": 105}),
            1010,
        ),
        (
            "CONFIG",
            json!({"name": "n", "configuration_id": 1, "host_id": 104}),
            1012,
        ),
        (
            "DATA",
            json!({"name": "n", "configuration_id": 1, "host_id": 106}),
            1013,
        ),
        (
            "DATA",
            json!({"name": "n", "configuration_id": 1, "host_id": 107}),
            1014,
        ),
    ];
    for (kind, body_value, code) in cases {
        let resp = create_backup(&store, kind, body_value.clone());
        let b = assert_error(&resp, 422, code);
        if code >= 1000 {
            assert!(
                !b["description"].as_str().unwrap_or_default().is_empty(),
                "{body_value}"
            );
        }
    }
    // No body at all.
    let resp = Call::new(CREATE_BACKUP)
        .method(Method::Post)
        .header("backup_type", "CONFIG")
        .send(&store);
    let b = assert_error(&resp, 422, 8);
    assert_eq!(
        b["message"],
        "Missing required parameter \"backup\" from the request body"
    );
    let resp = Call::new(CREATE_BACKUP)
        .method(Method::Post)
        .header("backup_type", "CONFIG")
        .raw_body("{not json")
        .send(&store);
    assert_error(&resp, 422, 11);
    // The documented descriptions.
    let b = assert_error(
        &create_backup(&store, "CONFIG", json!({"name": "", "configuration_id": 1})),
        422,
        1002,
    );
    assert_eq!(
        b["description"],
        "The 'name' parameter value cannot be null or empty."
    );
    let b = assert_error(
        &create_backup(
            &store,
            "CONFIG",
            json!({"name": "n", "configuration_id": 1, "host_id": 104}),
        ),
        422,
        1012,
    );
    assert_eq!(
        b["description"],
        "The provided host_id corresponds to a host that is not the console and the backup type is CONFIG. A config backup can only take place on the console."
    );
    // Boundaries pass.
    let at_limit =
        json!({"name": "n".repeat(100), "configuration_id": 1, "description": "d".repeat(255)});
    assert_eq!(create_backup(&store, "CONFIG", at_limit).status, 201);
    assert_eq!(
        store.all_jobs().len(),
        1,
        "only the valid request queued a capture"
    );
}

#[test]
fn no_console_means_no_default_host() {
    let store = FakeHost::new();
    store.add_resource(backup_config(1, json!({})));
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "n", "configuration_id": 1}),
    );
    assert_error(&resp, 422, 1009);
}

#[test]
fn create_conflicts() {
    let store = deployment();
    config_backup(&store, "first");
    // 1005: the name is taken (checked before anything else conflicts).
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "first", "configuration_id": 3}),
    );
    let b = assert_error(&resp, 409, 1005);
    assert_eq!(
        b["description"],
        "The 'name' parameter value must be unique."
    );
    // 1011: undeployed changes.
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "second", "configuration_id": 3}),
    );
    assert_error(&resp, 409, 1011);
    // 1015: a capture of the console is queued.
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "second", "configuration_id": 1}),
    );
    let b = assert_error(&resp, 409, 1015);
    assert_eq!(
        b["description"],
        "A backup is already in progress on the host."
    );
    // Another host is free.
    let resp = create_backup(
        &store,
        "DATA",
        json!({"name": "second", "configuration_id": 1, "host_id": 104}),
    );
    assert_eq!(resp.status, 201);
    // The host's own exclusive refusal is 1015 too, and releases the name.
    store.complete_capture(&last_job_id(&store), 1, 1);
    store.fail_always(Import::JobsCreate, HostError::Conflict("busy".into()));
    let resp = create_backup(
        &store,
        "DATA",
        json!({"name": "third", "configuration_id": 1, "host_id": 104}),
    );
    assert_error(&resp, 409, 1015);
    assert!(store.doc(NAMES, "third").is_none());
}

#[test]
fn create_refuses_while_a_restore_runs() {
    let store = deployment();
    let (id, _) = finished_backup(&store, "base", 10);
    assert_eq!(
        create_restore(
            &store,
            json!({"backup_id": id, "groups": ["DEPLOYMENT_CONFIG"]})
        )
        .status,
        201
    );
    // Pending does not block backups...
    let resp = create_backup(
        &store,
        "DATA",
        json!({"name": "d1", "configuration_id": 1, "host_id": 104}),
    );
    assert_eq!(resp.status, 201);
    store.complete_capture(&last_job_id(&store), 5, 5);
    // ...running does.
    assert_eq!(
        update_restore(&store, 1, json!({"status": "REQUESTING"})).status,
        200
    );
    let resp = create_backup(
        &store,
        "DATA",
        json!({"name": "d2", "configuration_id": 1, "host_id": 104}),
    );
    let b = assert_error(&resp, 409, 1016);
    assert_eq!(
        b["description"],
        "A restore is currently in progress. No new backup or restore processes can be initiated while the current process is running."
    );
}

#[test]
fn create_host_failures_are_500_or_503_with_the_documented_description() {
    let store = deployment();
    store.fail_always(Import::JobsCreate, HostError::Invalid("no source".into()));
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "n", "configuration_id": 1}),
    );
    let b = assert_error(&resp, 500, 1000);
    assert_eq!(
        b["description"],
        "An error occurred during the attempt to create the backup."
    );
    assert!(store.doc(NAMES, "n").is_none(), "the name is released");
    store.fail_always(Import::JobsCreate, HostError::Unavailable);
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "n", "configuration_id": 1}),
    );
    assert_error(&resp, 503, 1000);
    store.heal(Import::JobsCreate);
    store.fail_always(Import::IdsNextInSequence, HostError::Unavailable);
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "n", "configuration_id": 1}),
    );
    assert_error(&resp, 503, 1000);
    store.heal(Import::IdsNextInSequence);
    // The record cannot be written: the queued capture is cancelled again.
    store.fail_next_on(
        Import::DocumentsPut,
        BACKUPS,
        usize::MAX,
        HostError::Unavailable,
    );
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "x", "configuration_id": 1}),
    );
    assert_error(&resp, 503, 1000);
    store.heal(Import::DocumentsPut);
    assert_eq!(store.all_jobs().len(), 1);
    assert!(
        store
            .all_jobs()
            .iter()
            .all(|j| !crate::backup_record::job_active(j))
    );
    assert!(store.doc(NAMES, "x").is_none());
    // The name cannot be reserved.
    store.fail_next_on(
        Import::DocumentsPut,
        NAMES,
        usize::MAX,
        HostError::Unavailable,
    );
    let resp = create_backup(
        &store,
        "CONFIG",
        json!({"name": "x", "configuration_id": 1}),
    );
    assert_error(&resp, 503, 1000);
    store.heal(Import::DocumentsPut);
    assert_eq!(
        create_backup(
            &store,
            "CONFIG",
            json!({"name": "n", "configuration_id": 1})
        )
        .status,
        201
    );
}

#[test]
fn status_follows_the_capture() {
    let store = deployment();
    let id = config_backup(&store, "life");
    let job = store.last_job().expect("a job");
    assert_eq!(status_of(&store, id), "INITIALIZING");
    store.start_job(&job.id, 100);
    assert_eq!(status_of(&store, id), "IN_PROGRESS");
    store.advance(90_000_000);
    let stored_id = store.complete_capture(&job.id, 4096, 4096);
    let b = body(&get(&store, id));
    assert_eq!(b["status"], "SUCCESS");
    assert_eq!(b["size_on_disk"], 4096);
    assert_eq!(b["time_completed"], (T0 + 90_000_000) / 1000);
    assert_eq!(
        b["content_file_path"],
        "/store/backup/backup.life.53.20260427_100000.config.tgz"
    );
    assert_eq!(
        (
            b["is_valid"].as_bool(),
            b["is_version_compatible"].as_bool()
        ),
        (Some(true), Some(true))
    );
    // The outcome is cached: the job is no longer needed.
    let record = store.doc(BACKUPS, &key_of(id)).expect("record");
    assert_eq!(record["backup_id"], stored_id.as_str());
    for j in store.all_jobs() {
        store.forget_job(&j.id);
    }
    assert_eq!(status_of(&store, id), "SUCCESS");
    // An upgrade of the console makes it incompatible.
    upgrade_console(&store, "7.5.1");
    assert_eq!(body(&get(&store, id))["is_version_compatible"], false);
}

#[test]
fn missing_objects_and_pruned_records_are_missing() {
    let store = deployment();
    let (id, stored_id) = finished_backup(&store, "gone", 10);
    assert_eq!(status_of(&store, id), "SUCCESS");
    store.lose_object(&stored_id);
    let b = body(&get(&store, id));
    assert_eq!(b["status"], "MISSING");
    assert_eq!(b["is_valid"], false);
    assert_eq!(
        b["content_file_path"],
        "/store/backup/backup.gone.53.20260427_100000.config.tgz"
    );
    // The record itself pruned by the host.
    let (id2, stored2) = finished_backup(&store, "pruned", 10);
    assert_eq!(store.delete_backup(&stored2).ok(), Some(true));
    assert_eq!(status_of(&store, id2), "MISSING");
    // Presence cannot be checked: 503, not a guess.
    store.fail_always(Import::BackupsGet, HostError::Unavailable);
    store.fail_always(Import::BackupsObjectExists, HostError::Unavailable);
    store.fail_always(Import::BackupsList, HostError::Unavailable);
    let b = assert_error(&get(&store, id), 503, 1000);
    assert_eq!(
        b["description"],
        "An error occurred during the attempt to retrieve the backup."
    );
}

#[test]
fn failed_and_vanished_captures_are_failed() {
    let store = deployment();
    let id = config_backup(&store, "f");
    let job = store.last_job().expect("a job");
    store.advance(5_000_000);
    store.fail_job(&job.id, "source unreadable");
    let b = body(&get(&store, id));
    assert_eq!(b["status"], "FAILED");
    assert_eq!(b["time_completed"], (T0 + 5_000_000) / 1000);
    assert_eq!(b["content_file_path"], Value::Null);
    let id2 = config_backup(&store, "v");
    let job2 = store.last_job().expect("a job");
    store.forget_job(&job2.id);
    assert_eq!(status_of(&store, id2), "FAILED");
    // A completed capture without a backup is a failure too.
    let id3 = config_backup(&store, "w");
    let job3 = store.last_job().expect("a job");
    store.complete_job(&job3.id);
    assert_eq!(status_of(&store, id3), "FAILED");
}

#[test]
fn get_unknown_ids_is_404_1001() {
    let store = deployment();
    for id in ["1", "abc", "-1", "", "99999999999999999999"] {
        let b = assert_error(&get(&store, id), 404, 1001);
        assert_eq!(b["description"], "The backup does not exist.");
        assert_eq!(
            b["http_response"]["message"],
            "We could not find the resource you requested."
        );
    }
}

#[test]
fn get_projects_fields() {
    let store = deployment();
    let id = config_backup(&store, "p");
    let resp = Call::new(GET_BACKUP)
        .id(id)
        .query("fields", "name,status,id")
        .send(&store);
    assert_eq!(
        body(&resp),
        json!({"id": 1, "name": "p", "status": "INITIALIZING"})
    );
    // Subfields of a scalar and unknown fields are refused.
    for bad in ["name(first)", "host(id)", "id,"] {
        let resp = Call::new(GET_BACKUP)
            .id(id)
            .query("fields", bad)
            .send(&store);
        assert_error(&resp, 422, 30);
    }
}

fn list(store: &FakeHost, query: &[(&str, &str)], range: Option<&str>) -> Response {
    let mut call = Call::new(LIST_BACKUPS);
    for (k, v) in query {
        call = call.query(k, v);
    }
    if let Some(r) = range {
        call = call.header("range", r);
    }
    call.send(store)
}

fn ids(resp: &Response) -> Vec<u64> {
    body(resp)
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["id"].as_u64()).collect())
        .unwrap_or_default()
}

/// Five backups: 1 SUCCESS (console), 2 SUCCESS (104, DATA), 3 FAILED, 4 IN_PROGRESS (104),
/// 5 INITIALIZING (console).
fn five(store: &FakeHost) {
    finished_backup(store, "alpha", 300);
    let r = create_backup(
        store,
        "DATA",
        json!({"name": "bravo", "configuration_id": 1, "host_id": 104}),
    );
    assert_eq!(r.status, 201);
    let j = store.last_job().expect("a job");
    store.complete_capture(&j.id, 100, 100);
    config_backup(store, "charlie");
    store.fail_job(&last_job_id(store), "x");
    let r = create_backup(
        store,
        "DATA",
        json!({"name": "delta", "configuration_id": 1, "host_id": 104, "description": "d"}),
    );
    assert_eq!(r.status, 201);
    store.start_job(&last_job_id(store), 1);
    config_backup(store, "echo");
}

#[test]
fn list_returns_everything_with_a_content_range() {
    let store = deployment();
    let resp = list(&store, &[], None);
    assert_eq!(resp.status, 200);
    assert_eq!(body(&resp), json!([]));
    assert_eq!(resp.header("content-range"), Some("items */0"));
    five(&store);
    let resp = list(&store, &[], None);
    assert_eq!(ids(&resp), [1, 2, 3, 4, 5]);
    assert_eq!(resp.header("content-range"), Some("items 0-4/5"));
    let statuses: Vec<Value> = body(&resp)
        .as_array()
        .expect("array")
        .iter()
        .map(|b| b["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [
            json!("SUCCESS"),
            json!("SUCCESS"),
            json!("FAILED"),
            json!("IN_PROGRESS"),
            json!("INITIALIZING")
        ]
    );
}

#[test]
fn list_range_edges() {
    let store = deployment();
    five(&store);
    let cases: &[(&str, &[u64], &str)] = &[
        ("items=0-1", &[1, 2], "items 0-1/5"),
        ("items=1-1", &[2], "items 1-1/5"),
        ("items=3-49", &[4, 5], "items 3-4/5"),
        ("items=4-4", &[5], "items 4-4/5"),
        ("items=5-9", &[], "items */5"),
        ("items=100-200", &[], "items */5"),
    ];
    for (range, expected, content_range) in cases {
        let resp = list(&store, &[], Some(range));
        assert_eq!(resp.status, 200, "{range}");
        assert_eq!(ids(&resp), *expected, "{range}");
        assert_eq!(
            resp.header("content-range"),
            Some(*content_range),
            "{range}"
        );
    }
    for bad in ["items=2-1", "items=a-b", "bytes=0-1", "items=0-", "0-1"] {
        let b = assert_error(&list(&store, &[], Some(bad)), 422, 11);
        assert!(
            b["message"]
                .as_str()
                .unwrap_or_default()
                .contains("items=x-y"),
            "{bad}"
        );
    }
}

#[test]
fn list_filters() {
    let store = deployment();
    five(&store);
    let cases: &[(&str, &[u64])] = &[
        ("status=SUCCESS", &[1, 2]),
        ("status = \"SUCCESS\" and type = DATA", &[2]),
        ("host_id = 104 or name = alpha", &[1, 2, 4]),
        ("not (host_id = 104)", &[1, 3, 5]),
        ("id in (1, 3, 5)", &[1, 3, 5]),
        ("id not in (1, 3, 5)", &[2, 4]),
        ("id between 2 and 4", &[2, 3, 4]),
        ("id not between 2 and 4", &[1, 5]),
        ("size_on_disk > 150", &[1]),
        ("size_on_disk >= 100 and size_on_disk <= 300", &[1, 2]),
        ("description is not null", &[4]),
        ("description is null", &[1, 2, 3, 5]),
        ("time_completed is null", &[4, 5]),
        ("is_valid = true", &[1, 2]),
        ("status != SUCCESS and status <> FAILED", &[4, 5]),
        ("status ^= INITIALIZING", &[1, 2, 3, 4]),
        ("name < c", &[1, 2]),
        ("content_file_path is not null", &[1, 2]),
        (
            "(type = CONFIG and status = SUCCESS) or (type = DATA and status = IN_PROGRESS)",
            &[1, 4],
        ),
    ];
    for (filter, expected) in cases {
        let resp = list(&store, &[("filter", filter)], None);
        assert_eq!(resp.status, 200, "{filter}: {:?}", resp.body_json());
        assert_eq!(ids(&resp), *expected, "{filter}");
        let n = expected.len();
        let content_range = if n == 0 {
            "items */0".to_string()
        } else {
            format!("items 0-{}/{n}", n - 1)
        };
        assert_eq!(
            resp.header("content-range"),
            Some(content_range.as_str()),
            "{filter}"
        );
    }
    // Double URL-encoded (the host decoded once).
    let resp = list(&store, &[("filter", "status%3DFAILED")], None);
    assert_eq!(ids(&resp), [3]);
    // Malformed filters are 422 with a clear message, never 500.
    for (bad, says) in [
        ("status=", "expected a value"),
        ("status SUCCESS", "expected an operator"),
        ("nope = 1", "unknown field 'nope'"),
        ("(id = 1", "expected ')'"),
        ("id in 1,2", "expected '('"),
        ("name = \"open", "unterminated"),
        ("id = 1 and", "expected a field name"),
        ("name = null", "is null"),
    ] {
        let b = assert_error(&list(&store, &[("filter", bad)], None), 422, 11);
        let message = b["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("Invalid filter: "), "{bad}: {message}");
        assert!(message.contains(says), "{bad}: {message}");
    }
}

#[test]
fn list_sorts_and_projects() {
    let store = deployment();
    five(&store);
    let resp = list(&store, &[("sort", "-size_on_disk,id")], None);
    assert_eq!(ids(&resp), [1, 2, 3, 4, 5]);
    let resp = list(&store, &[("sort", "+host_id,-name")], None);
    assert_eq!(ids(&resp), [5, 3, 1, 4, 2]);
    // `+` arrives as a space.
    let resp = list(&store, &[("sort", " status")], None);
    assert_eq!(ids(&resp), [3, 5, 4, 1, 2]);
    let resp = list(&store, &[("sort", "-time_completed")], None);
    assert_eq!(&ids(&resp)[..2], [4, 5], "nulls first descending");
    for bad in [
        "configuration_id",
        "is_valid",
        "build_version",
        "nope",
        "id,,name",
    ] {
        let b = assert_error(&list(&store, &[("sort", bad)], None), 422, 1018);
        assert!(
            b["description"]
                .as_str()
                .unwrap_or_default()
                .contains("host_id"),
            "{bad}"
        );
    }
    let resp = list(
        &store,
        &[
            ("fields", "id,status"),
            ("filter", "type=DATA"),
            ("sort", "-id"),
        ],
        Some("items=0-0"),
    );
    assert_eq!(body(&resp), json!([{"id": 4, "status": "IN_PROGRESS"}]));
    assert_eq!(resp.header("content-range"), Some("items 0-0/2"));
    assert_error(&list(&store, &[("fields", "id(x)")], None), 422, 30);
}

#[test]
fn delete_cancels_a_capture_in_flight() {
    let store = deployment();
    let id = config_backup(&store, "c");
    let job = store.last_job().expect("a job");
    store.start_job(&job.id, 10);
    let resp = delete(&store, id);
    assert_eq!(resp.status, 202);
    let b = body(&resp);
    assert_eq!(
        (b["id"].as_u64(), b["status"].as_str()),
        (Some(id), Some("CANCELLING"))
    );
    assert_eq!(
        store.job(&job.id).expect("read").map(|j| j.status),
        Some(backup_gateway_sdk::jobs::JobStatus::Cancelled)
    );
    assert_eq!(status_of(&store, id), "CANCELLING");
    // Not deletable while cancelling.
    let b = assert_error(&delete(&store, id), 422, 1017);
    assert!(
        b["description"]
            .as_str()
            .unwrap_or_default()
            .contains("INITIALIZING")
    );
    // A backup the capture committed anyway is removed while cancelling...
    let stray = store.complete_capture(&job.id, 5, 5);
    store.update_job(&job.id, |j| {
        j.status = backup_gateway_sdk::jobs::JobStatus::Cancelled;
        j.backup_id = None;
    });
    assert_eq!(status_of(&store, id), "CANCELLING");
    assert!(store.stored_backups().iter().all(|b| b.id != stray));
    // ...and after the grace period the backup is gone.
    store.advance(CANCEL_GRACE + 1);
    assert_error(&get(&store, id), 404, 1001);
    assert_eq!(ids(&list(&store, &[], None)), Vec::<u64>::new());
    assert!(store.doc(NAMES, "c").is_none());
    assert_eq!(config_backup(&store, "c"), 2, "the name is free again");
}

#[test]
fn delete_removes_finished_backups() {
    let store = deployment();
    let (id, stored) = finished_backup(&store, "s", 10);
    let resp = Call::new(DELETE_BACKUP)
        .method(Method::Delete)
        .id(id)
        .query("fields", "id,status")
        .send(&store);
    assert_eq!(resp.status, 202);
    assert_eq!(body(&resp), json!({"id": id, "status": "DELETING"}));
    assert!(store.stored_backups().iter().all(|b| b.id != stored));
    assert_error(&get(&store, id), 404, 1001);
    assert_error(&delete(&store, id), 404, 1001);
    // FAILED and MISSING are deletable too.
    let failed = config_backup(&store, "f");
    store.fail_job(&last_job_id(&store), "x");
    assert_eq!(body(&delete(&store, failed))["status"], "DELETING");
    let (missing, stored) = finished_backup(&store, "m", 10);
    store.lose_object(&stored);
    assert_eq!(body(&delete(&store, missing))["status"], "DELETING");
    assert!(
        store
            .documents(BACKUPS, None, 1000)
            .expect("listed")
            .is_empty()
    );
}

#[test]
fn a_backup_a_pending_restore_uses_is_deletable_and_the_restore_then_fails() {
    let store = deployment();
    let (id, stored) = finished_backup(&store, "r", 10);
    let restore = create_restore(
        &store,
        json!({"backup_id": id, "groups": ["LICENSE_CONFIG"]}),
    );
    assert_eq!(restore.status, 201);
    let resp = delete(&store, id);
    assert_eq!(resp.status, 202, "{:?}", resp.body_json());
    assert_eq!(body(&resp)["status"], "DELETING");
    assert!(store.stored_backups().iter().all(|b| b.id != stored));
    let jobs = store.all_jobs().len();
    let resp = update_restore(&store, 1, json!({"status": "REQUESTING"}));
    assert_eq!(
        (resp.status, body(&resp)["status"].clone()),
        (200, json!("FAILED"))
    );
    assert_eq!(
        store.all_jobs().len(),
        jobs,
        "no restore job reads a deleted backup"
    );
}

#[test]
fn a_backup_a_running_restore_uses_is_deletable_and_the_job_settles_the_restore() {
    let store = deployment();
    let (id, stored) = finished_backup(&store, "r", 10);
    create_restore(
        &store,
        json!({"backup_id": id, "groups": ["LICENSE_CONFIG"]}),
    );
    assert_eq!(
        update_restore(&store, 1, json!({"status": "REQUESTING"})).status,
        200
    );
    let job = store.last_job().expect("a job");
    assert_eq!(job.kind, JobKind::Restore);
    store.start_job(&job.id, 5);
    let resp = delete(&store, id);
    assert_eq!(resp.status, 202, "{:?}", resp.body_json());
    assert!(store.stored_backups().iter().all(|b| b.id != stored));
    assert_error(&get(&store, id), 404, 1001);
    // The job that holds the object finishes; the restore shows its outcome.
    store.complete_job(&job.id);
    let restore = body(&Call::new(crate::manifest::GET_RESTORE).id(1).send(&store));
    assert_eq!(
        (restore["status"].clone(), restore["backup_id"].clone()),
        (json!("SUCCESS"), json!(id))
    );
}

#[test]
fn delete_refusals() {
    let store = deployment();
    let (other, _) = finished_backup(&store, "o", 10);
    store.fail_always(Import::BackupsDelete, HostError::Unavailable);
    let b = assert_error(&delete(&store, other), 503, 1000);
    assert_eq!(
        b["description"],
        "An error occurred during the attempt to delete the backup."
    );
    assert_eq!(status_of(&store, other), "SUCCESS", "nothing was removed");
    assert_error(
        &Call::new(DELETE_BACKUP)
            .id(other)
            .query("fields", "x")
            .send(&store),
        422,
        30,
    );
}
