//! A database read the host cannot answer (the fake's `Unavailable`) is JSA's 503 on every
//! route that makes it — `{message, details, description, code: 1000, http_response}` with
//! the operation's description — and leaves nothing behind: no job, no record, no status
//! derived from the outage.

use backup_gateway_sdk::testing::{FakeHost, Import};
use backup_gateway_sdk::{HostError, Method, Response};
use serde_json::json;

use super::{Call, create_backup, create_restore, deployment, finished_backup, update_restore};
use crate::backup_record::NAMES;
use crate::errors::internal_description;
use crate::manifest::{
    CREATE_BACKUP, CREATE_RESTORE, DELETE_BACKUP, DELETE_RESTORE, GET_BACKUP, GET_RESTORE,
    LIST_BACKUPS, LIST_RESTORES, UPDATE_RESTORE,
};
use crate::restore_record::{RESTORES, SLOT};

/// Assert JSA's 503 for `operation`, body and all.
fn assert_unavailable(resp: &Response, operation: &str) {
    assert_eq!(
        (resp.status, resp.header("content-type")),
        (503, Some("application/json")),
        "{operation}: {:?}",
        resp.body_json()
    );
    assert_eq!(
        resp.body_json(),
        Some(json!({
            "message": "The backup and restore service is temporarily unavailable. Retry later.",
            "details": {},
            "description": internal_description(operation),
            "code": 1000,
            "http_response": { "code": 503, "message": "The server is currently unavailable." },
        })),
        "{operation}"
    );
}

/// The backup as `GET /backups/{id}` shows it, healed.
fn status_of(store: &FakeHost, id: u64) -> serde_json::Value {
    super::body(&Call::new(GET_BACKUP).id(id).send(store))["status"].clone()
}

#[test]
fn backup_routes_answer_503_when_a_read_fails() {
    let store = deployment();
    let (done, _) = finished_backup(&store, "done", 10);
    // A capture still queued: reading it looks its job up.
    let queued = super::config_backup(&store, "queued");
    let cases = [
        (LIST_BACKUPS, Call::new(LIST_BACKUPS), Import::DocumentsList),
        // The console, for `is_version_compatible`.
        (LIST_BACKUPS, Call::new(LIST_BACKUPS), Import::ResourcesList),
        (
            GET_BACKUP,
            Call::new(GET_BACKUP).id(done),
            Import::DocumentsGet,
        ),
        (
            GET_BACKUP,
            Call::new(GET_BACKUP).id(queued),
            Import::JobsGet,
        ),
        (
            DELETE_BACKUP,
            Call::new(DELETE_BACKUP).method(Method::Delete).id(done),
            Import::DocumentsGet,
        ),
    ];
    for (operation, call, import) in cases {
        store.fail_always(import, HostError::Unavailable);
        let resp = call.send(&store);
        store.heal(import);
        assert_unavailable(&resp, operation);
    }
    // Nothing was derived from the outages: the queued capture is not FAILED, both stay.
    assert_eq!(status_of(&store, queued), "INITIALIZING");
    assert_eq!(status_of(&store, done), "SUCCESS");
}

#[test]
fn a_backup_is_not_created_on_reads_that_failed() {
    let body = json!({"name": "nightly", "configuration_id": 1});
    for import in [
        // The configuration and the host.
        Import::ResourcesGet,
        // The name reservation.
        Import::DocumentsGet,
        // A capture of the host in flight.
        Import::JobsList,
        // The id.
        Import::IdsNextInSequence,
    ] {
        let store = deployment();
        store.fail_always(import, HostError::Unavailable);
        let resp = create_backup(&store, "CONFIG", body.clone());
        assert_unavailable(&resp, CREATE_BACKUP);
        assert!(store.all_jobs().is_empty(), "{import:?}");
        assert!(store.doc(NAMES, "nightly").is_none(), "{import:?}");
    }
}

#[test]
fn restore_routes_answer_503_when_a_read_fails() {
    let store = deployment();
    let (backup, _) = finished_backup(&store, "cfg", 10);
    let groups = json!({"backup_id": backup, "groups": ["DEPLOYMENT_CONFIG"]});
    for import in [Import::DocumentsGet, Import::ResourcesList] {
        store.fail_always(import, HostError::Unavailable);
        let resp = create_restore(&store, groups.clone());
        store.heal(import);
        assert_unavailable(&resp, CREATE_RESTORE);
    }
    assert!(store.doc(SLOT, "current").is_none(), "the slot is free");
    let created = create_restore(&store, groups);
    assert_eq!(created.status, 201, "{:?}", created.body_json());
    let id = super::body(&created)["id"].as_u64().expect("id");

    // Updating needs the active jobs; the restore stays PENDING when they cannot be read.
    store.fail_always(Import::JobsList, HostError::Unavailable);
    let resp = update_restore(&store, id, json!({"status": "REQUESTING"}));
    store.heal(Import::JobsList);
    assert_unavailable(&resp, UPDATE_RESTORE);
    let get = Call::new(GET_RESTORE).id(id);
    assert_eq!(super::body(&get.send(&store))["status"], "PENDING");

    // Requested: its status comes from its job, which cannot be read.
    let requested = update_restore(&store, id, json!({"status": "REQUESTING"}));
    assert_eq!(requested.status, 200, "{:?}", requested.body_json());
    for (operation, call) in [
        (GET_RESTORE, Call::new(GET_RESTORE).id(id)),
        (LIST_RESTORES, Call::new(LIST_RESTORES)),
        (
            DELETE_RESTORE,
            Call::new(DELETE_RESTORE).method(Method::Delete).id(id),
        ),
    ] {
        store.fail_always(Import::JobsGet, HostError::Unavailable);
        let resp = call.send(&store);
        store.heal(Import::JobsGet);
        assert_unavailable(&resp, operation);
    }
    store.fail_always(Import::DocumentsList, HostError::Unavailable);
    assert_unavailable(&Call::new(LIST_RESTORES).send(&store), LIST_RESTORES);
    store.heal(Import::DocumentsList);
    // Still running, not FAILED; its record is still there.
    assert_eq!(super::body(&get.send(&store))["status"], "INITIALIZING");
    assert!(store.doc(RESTORES, &crate::store::key_of(id)).is_some());
}
