//! Handler tests through [`crate::operations::handle`] over the fake host: a small JSA
//! deployment, a request builder and assertions on QRadar's error shape.

mod backups;
mod outages;
mod restores;

use backup_gateway_sdk::{Method, Request, Response};
use serde_json::{Value, json};

use crate::errors::http_message;
use crate::manifest::{CREATE_BACKUP, CREATE_RESTORE, UPDATE_RESTORE};
use crate::operations::handle;
use crate::testing::{backup_config, jsa_host, request};
use backup_gateway_sdk::testing::FakeHost;

/// The console.
pub const CONSOLE: u64 = 53;
/// A managed host that stores data.
pub const DATA_HOST: u64 = 104;
/// An offline host.
pub const OFFLINE: u64 = 105;
/// A host without Ariel data.
pub const NO_DATA: u64 = 106;
/// A host not configured for data backups.
pub const UNCONFIGURED: u64 = 107;

/// The newest job's id.
pub fn last_job_id(store: &FakeHost) -> String {
    store.last_job().map(|j| j.id).expect("a job")
}

/// The console now reports `version` (e.g. after an upgrade).
pub fn upgrade_console(store: &FakeHost, version: &str) {
    store.add_resource(jsa_host(
        CONSOLE,
        json!({"is_console": true, "version": version}),
    ));
}

/// A deployment: the console and four managed hosts; configuration 1 (deployed), 2 (only
/// staged) and 3 (with undeployed changes).
pub fn deployment() -> FakeHost {
    let store = FakeHost::new();
    store.add_resource(jsa_host(
        CONSOLE,
        json!({"is_console": true, "stores_data": true, "status": "Active"}),
    ));
    store.add_resource(jsa_host(
        DATA_HOST,
        json!({"stores_data": true, "version": "7.5.0", "build_version": "b104"}),
    ));
    store.add_resource(jsa_host(
        OFFLINE,
        json!({"stores_data": true, "status": "Offline"}),
    ));
    store.add_resource(jsa_host(NO_DATA, json!({})));
    store.add_resource(jsa_host(
        UNCONFIGURED,
        json!({"stores_data": true, "data_backups_configured": false}),
    ));
    store.add_resource(backup_config(1, json!({"deployed": true})));
    store.add_resource(backup_config(2, json!({"deployed": false})));
    store.add_resource(backup_config(3, json!({"staged_changes": true})));
    store
}

/// A request under construction.
pub struct Call(pub Request);

impl Call {
    /// A GET of `operation`.
    pub fn new(operation: &str) -> Call {
        Call(request(operation))
    }

    /// A POST of `operation` with a JSON body.
    pub fn post(operation: &str, body: &Value) -> Call {
        Call::new(operation)
            .method(Method::Post)
            .raw_body(&body.to_string())
    }

    /// Set the method.
    pub fn method(mut self, method: Method) -> Call {
        self.0.method = method;
        self
    }

    /// Set the `{id}` path parameter.
    pub fn id(mut self, id: impl ToString) -> Call {
        self.0.params = vec![("id".into(), id.to_string())];
        self
    }

    /// Add a query parameter (as the host decoded it).
    pub fn query(mut self, name: &str, value: &str) -> Call {
        self.0.query.push((name.into(), value.into()));
        self
    }

    /// Add a header (lower-case name, as the host passes it).
    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.0.headers.push((name.into(), value.into()));
        self
    }

    /// Set the body bytes.
    pub fn raw_body(mut self, body: &str) -> Call {
        self.0.body = body.as_bytes().to_vec();
        self
    }

    /// Serve it.
    pub fn send(&self, store: &FakeHost) -> Response {
        handle(store, &self.0)
    }
}

/// `POST /backups` with `backup_type` and a body.
pub fn create_backup(store: &FakeHost, kind: &str, body: Value) -> Response {
    Call::post(CREATE_BACKUP, &body)
        .header("backup_type", kind)
        .send(store)
}

/// A CONFIG backup named `name` on the console, configuration 1; its id.
pub fn config_backup(store: &FakeHost, name: &str) -> u64 {
    let resp = create_backup(
        store,
        "CONFIG",
        json!({"name": name, "configuration_id": 1}),
    );
    assert_eq!(resp.status, 201, "{:?}", resp.body_json());
    body(&resp)["id"].as_u64().expect("id")
}

/// A CONFIG backup whose capture completed with `size` bytes; its id and the stored id.
pub fn finished_backup(store: &FakeHost, name: &str, size: u64) -> (u64, String) {
    let id = config_backup(store, name);
    let job = store.last_job().expect("a job");
    store.start_job(&job.id, 1);
    (id, store.complete_capture(&job.id, size, size))
}

/// `POST /restores`.
pub fn create_restore(store: &FakeHost, body: Value) -> Response {
    Call::post(CREATE_RESTORE, &body).send(store)
}

/// `POST /restores/{id}`.
pub fn update_restore(store: &FakeHost, id: u64, body: Value) -> Response {
    Call::post(UPDATE_RESTORE, &body).id(id).send(store)
}

/// The response body.
pub fn body(resp: &Response) -> Value {
    resp.body_json().unwrap_or(Value::Null)
}

/// Assert a QRadar error with this status and code; returns the body.
pub fn assert_error(resp: &Response, status: u16, code: u64) -> Value {
    let body = body(resp);
    assert_eq!(
        (resp.status, body["code"].as_u64()),
        (status, Some(code)),
        "{body}"
    );
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(
        body["http_response"],
        json!({"code": status, "message": http_message(status)})
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["description"].is_string(), "{body}");
    assert!(body["details"].is_object(), "{body}");
    body
}

#[test]
fn unknown_operations_are_404() {
    let store = deployment();
    let resp = Call::new("nope").send(&store);
    assert_error(&resp, 404, 1001);
}
