//! `/api/backup_and_restore/restores`: QRadar's two-step restore. `POST /restores` creates a
//! `PENDING` restore of a CONFIG backup (no work starts); `POST /restores/{id}` with
//! `{"status": "REQUESTING"}` — the only update there is — starts it as a host restore job on
//! the console host (`source-backup` = the stored backup), answered with `REQUESTING`; the
//! job's progress then shows through `GET`.
//!
//! Create checks: `fields` (422/30), the body (422/8, 422/11), `backup_id` (1002 missing,
//! 1003 no such backup or its file is missing, 1004 not CONFIG, 1005 not SUCCESS, 1006 not
//! valid, 1007 not compatible), `groups` (1008 empty, 1010 unknown, 1009
//! INSTALLED_APPS_CONFIG without DEPLOYMENT_CONFIG, 1019 ASSETS_DATA or USERS_CONFIG without
//! DOMAINS), then 409/1011 when another restore is pending or running. Update checks: 404/1001,
//! `fields`, the body, 1012 (not PENDING), 1013 (status other than REQUESTING), 409/1015 (a
//! backup running anywhere; also the host's refusal of the exclusive job), 409/1016 (another
//! restore job running). If the backup's stored file is gone by then, the restore is recorded
//! `FAILED` and answered 200 with that status.
//!
//! `DELETE /restores/{id}` removes a restore that is not running (204, no body; 422/1017 while
//! it runs), so a `PENDING` restore no longer holds the single restore slot forever.

use backup_gateway_sdk::{
    Host, HostError, PAGE_LIMIT, Request, Response,
    jobs::{Job, JobKind, JobSpec, JobStatus, Query as JobQuery},
};
use serde_json::{Value, json};

use crate::backup_record::{self, Status};
use crate::errors::ApiError;
use crate::fields::Selected;
use crate::hosts::{self, HOST_KIND};
use crate::query;
use crate::restore_record::{
    self as record, FIELDS, PENDING, REQUESTING, RestoreRecord, RestoreStatus, SORTABLE,
    StoredRestore,
};
use crate::store::{failed, millis};
use crate::validate::{self, Long};

/// Code: another restore is pending or in progress.
pub const RESTORE_EXISTS: u32 = 1011;
/// Description of 1011.
pub const RESTORE_EXISTS_TEXT: &str = "Another restore is pending or in progress. Only one restore can be pending or in progress at a time.";
/// Code (update): a restore is running.
pub const UPDATE_RESTORE_RUNNING: u32 = 1016;
/// Description of update's 1016.
pub const UPDATE_RESTORE_RUNNING_TEXT: &str = "A restore is currently in progress. No new backup or restore processes can be initiated while the current process is running.";
/// Restore groups QRadar knows.
pub const GROUPS: &[&str] = &[
    "CUSTOM_RULES_CONFIG",
    "DEPLOYMENT_CONFIG",
    "USERS_CONFIG",
    "LICENSE_CONFIG",
    "QVM_CONFIG",
    "INSTALLED_APPS_CONFIG",
    "REPORT_TEMPLATES",
    "ASSETS_DATA",
    "OFFENSES_DATA",
    "DOMAINS",
];
/// Code (delete): the restore is running.
pub const NOT_DELETABLE: u32 = 1017;
/// Sequence of restore ids.
const RESTORE_SEQUENCE: &str = "restore";
/// Attempts of a delete whose compare-and-swap lost to a concurrent write of the record.
const DELETE_ATTEMPTS: usize = 3;

/// The descriptions of the restore errors.
mod text {
    pub const DOES_NOT_EXIST: &str = "The restore does not exist.";
    pub const BACKUP_ID_EMPTY: &str = "The 'backup_id' parameter value cannot be null or empty.";
    pub const BACKUP_MISSING: &str = "The backup does not exist or its file is missing.";
    pub const NOT_CONFIG: &str = "The backup type must be CONFIG.";
    pub const NOT_SUCCESS: &str = "The backup status must be SUCCESS.";
    pub const NOT_VALID: &str = "The backup must be valid.";
    pub const NOT_COMPATIBLE: &str = "The backup version must be compatible with the system.";
    pub const GROUPS_EMPTY: &str = "The 'groups' parameter value cannot be null or empty.";
    pub const APPS_NEED_DEPLOYMENT: &str =
        "The DEPLOYMENT_CONFIG group is required when the INSTALLED_APPS_CONFIG group is restored.";
    pub const UNKNOWN_GROUP: &str = "The 'groups' parameter contains an invalid restore group.";
    pub const NEED_DOMAINS: &str =
        "The DOMAINS group is required when the ASSETS_DATA or USERS_CONFIG group is restored.";
    pub const ONLY_PENDING: &str = "Only a restore with the status PENDING can be updated.";
    pub const ONLY_REQUESTING: &str = "The status of a restore can only be updated to REQUESTING.";
    pub const BACKUP_RUNNING: &str =
        "A backup is currently in progress. A restore cannot be started while a backup is running.";
    pub const NOT_DELETABLE: &str =
        "A restore can only be deleted when its status is PENDING, SUCCESS or FAILED.";
}

/// `GET /restores`.
pub fn list(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let params = query::list_params(req, FIELDS, SORTABLE)?;
    let items = record::load_all(store)
        .map_err(|e| failed(store, "listing restore records", &e))?
        .into_iter()
        .map(|mut stored| {
            let status = resolve(store, &mut stored)?;
            Ok(record::view(&stored.record, status))
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(query::respond_list(items, &params))
}

/// A restore's status; its job that cannot be read is JSA's 503 (or 500).
fn resolve(store: &impl Host, stored: &mut StoredRestore) -> Result<RestoreStatus, ApiError> {
    record::resolve(store, stored).map_err(|e| {
        let what = format!("reading the job of restore {}", stored.record.id);
        failed(store, &what, &e)
    })
}

/// The restore `{id}` names; 404/1001 when there is none.
fn find(store: &impl Host, req: &Request) -> Result<StoredRestore, ApiError> {
    let not_found = || {
        ApiError::not_found(
            text::DOES_NOT_EXIST,
            format!(
                "The restore with id {} does not exist.",
                validate::raw_id(req)
            ),
        )
    };
    let id = validate::path_id(req).ok_or_else(not_found)?;
    record::load(store, id)
        .map_err(|e| failed(store, &format!("reading restore record {id}"), &e))?
        .ok_or_else(not_found)
}

/// `GET /restores/{id}`.
pub fn get(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let fields = query::query_fields(req, FIELDS)?;
    let mut stored = find(store, req)?;
    let status = resolve(store, &mut stored)?;
    let view = record::view(&stored.record, status);
    Ok(query::respond_one(200, &view, fields.as_deref()))
}

/// `POST /restores` → 201 `PENDING`.
pub fn create(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let fields = query::header_fields(req, FIELDS)?;
    let body = validate::body_object(req, "restore")?;
    let backup_id = validate::long(&body, "backup_id", "restore")?;
    let groups = body.get("groups");
    if groups.is_some_and(|g| !g.is_null() && !g.is_array()) {
        return Err(ApiError::untransformable(
            "body",
            "restore",
            "APPLICATION_JSON",
        ));
    }

    let backup = check_backup(store, backup_id)?;
    let groups = check_groups(groups)?;

    let slot =
        |store: &_| record::slot(store).map_err(|e| failed(store, "reading the restore slot", &e));
    let (slot_revision, current) = slot(store)?;
    if let Some(mut current) = current
        && resolve(store, &mut current)?.open()
    {
        return Err(restore_exists(current.record.id));
    }
    let console =
        hosts::console(store).map_err(|e| failed(store, "reading the console host", &e))?;
    let id = store
        .next_in_sequence(RESTORE_SEQUENCE)
        .map_err(|e| failed(store, "drawing a restore id", &e))?;
    match record::claim_slot(store, id, slot_revision) {
        Ok(true) => {}
        Ok(false) => {
            let holder = slot(store)?.1.map_or(0, |r| r.record.id);
            return Err(restore_exists(holder));
        }
        Err(e) => {
            store.warn(&format!("claiming the restore slot failed: {e:?}"));
            return Err(ApiError::from_host(&e));
        }
    }
    let mut stored = crate::restore_record::stored(
        RestoreRecord {
            id,
            backup_id: backup.record.id,
            backup_ref: backup.record.backup_id.clone().unwrap_or_default(),
            backup_name: backup.record.name.clone(),
            backup_type: backup.record.kind.clone(),
            backup_version: backup.record.version.clone(),
            backup_filename: backup.record.filename.clone(),
            groups,
            initiated_by: req
                .principal()
                .map(|p| p.subject.clone())
                .unwrap_or_default(),
            host_id: console.map(|c| c.id),
            time_initiated: millis(req.received_at),
            time_completed: None,
            is_cross_deployment_restore: false,
            state: PENDING.into(),
            job_id: None,
        },
        0,
    );
    if let Err(e) = record::save(store, &mut stored) {
        store.warn(&format!("recording restore {id} failed: {e:?}"));
        record::release_slot(store, id);
        return Err(ApiError::from_host(&e));
    }
    let view = record::view(&stored.record, RestoreStatus::Pending);
    Ok(query::respond_one(201, &view, fields.as_deref()))
}

fn restore_exists(holder: u64) -> ApiError {
    ApiError::conflict(
        RESTORE_EXISTS,
        RESTORE_EXISTS_TEXT,
        format!("Restore {holder} is pending or in progress."),
    )
}

/// The backup to restore: exists with its file, CONFIG, SUCCESS, valid, compatible.
fn check_backup(
    store: &impl Host,
    backup_id: Long,
) -> Result<backup_record::StoredBackup, ApiError> {
    let refuse = |code, description: &str, message: String| {
        Err(ApiError::unprocessable(code, description, message))
    };
    let id = match backup_id {
        Long::Absent => {
            return refuse(
                1002,
                text::BACKUP_ID_EMPTY,
                "The backup id is missing.".into(),
            );
        }
        Long::Impossible => {
            return refuse(
                1003,
                text::BACKUP_MISSING,
                "The backup does not exist.".into(),
            );
        }
        Long::Value(id) => id,
    };
    let found = backup_record::load(store, id)
        .map_err(|e| failed(store, &format!("reading backup record {id}"), &e))?;
    let Some(mut stored) = found else {
        return refuse(
            1003,
            text::BACKUP_MISSING,
            format!("Backup {id} does not exist."),
        );
    };
    let status = backup_record::resolve(store, &mut stored)?;
    let Some(status) = status else {
        return refuse(
            1003,
            text::BACKUP_MISSING,
            format!("Backup {id} does not exist."),
        );
    };
    if status == Status::Missing {
        return refuse(
            1003,
            text::BACKUP_MISSING,
            format!("The file of backup {id} is missing."),
        );
    }
    if stored.record.kind != "CONFIG" {
        return refuse(
            1004,
            text::NOT_CONFIG,
            format!("Backup {id} is a {} backup.", stored.record.kind),
        );
    }
    if status != Status::Success {
        return refuse(
            1005,
            text::NOT_SUCCESS,
            format!("Backup {id} is {}.", status.as_str()),
        );
    }
    let version = hosts::version_now(store)?;
    let view = backup_record::view(&stored.record, status, &version);
    if view["is_valid"] != Value::Bool(true) {
        return refuse(1006, text::NOT_VALID, format!("Backup {id} is not valid."));
    }
    if view["is_version_compatible"] != Value::Bool(true) {
        return refuse(
            1007,
            text::NOT_COMPATIBLE,
            format!(
                "Backup {id} was made on version {}; the system runs {version}.",
                stored.record.version
            ),
        );
    }
    Ok(stored)
}

/// The restore groups (deduplicated, in order).
fn check_groups(groups: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let items = groups
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        return Err(ApiError::unprocessable(
            1008,
            text::GROUPS_EMPTY,
            "No restore groups were given.",
        ));
    }
    let mut chosen: Vec<String> = Vec::new();
    for item in &items {
        match item.as_str().filter(|g| GROUPS.contains(g)) {
            Some(group) if chosen.iter().any(|c| c == group) => {}
            Some(group) => chosen.push(group.to_string()),
            None => {
                return Err(ApiError::unprocessable(
                    1010,
                    text::UNKNOWN_GROUP,
                    format!(
                        "{item} is not a restore group. The groups are: {}.",
                        GROUPS.join(", ")
                    ),
                ));
            }
        }
    }
    let has = |g: &str| chosen.iter().any(|c| c == g);
    if has("INSTALLED_APPS_CONFIG") && !has("DEPLOYMENT_CONFIG") {
        return Err(ApiError::unprocessable(
            1009,
            text::APPS_NEED_DEPLOYMENT,
            "INSTALLED_APPS_CONFIG was requested without DEPLOYMENT_CONFIG.",
        ));
    }
    for needs_domains in ["ASSETS_DATA", "USERS_CONFIG"] {
        if has(needs_domains) && !has("DOMAINS") {
            return Err(ApiError::unprocessable(
                1019,
                text::NEED_DOMAINS,
                format!("{needs_domains} was requested without DOMAINS."),
            ));
        }
    }
    Ok(chosen)
}

/// `POST /restores/{id}` with `{"status": "REQUESTING"}` → 200.
pub fn update(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let mut stored = find(store, req)?;
    let fields = query::header_fields(req, FIELDS)?;
    let body = validate::body_object(req, "restore")?;
    let requested = validate::string(&body, "status", "restore")?;
    let id = stored.record.id;

    let status = resolve(store, &mut stored)?;
    if status != RestoreStatus::Pending {
        return Err(ApiError::unprocessable(
            1012,
            text::ONLY_PENDING,
            format!("Restore {id} is {}.", status.as_str()),
        ));
    }
    if requested != Some(REQUESTING) {
        return Err(ApiError::unprocessable(
            1013,
            text::ONLY_REQUESTING,
            match requested {
                Some(other) => format!("The status cannot be changed to \"{other}\"."),
                None => "No status was given.".to_string(),
            },
        ));
    }
    let active = active_jobs(store, None)?;
    if active.iter().any(|j| j.kind == JobKind::Capture) {
        return Err(backup_running());
    }
    if active.iter().any(|j| j.kind == JobKind::Restore) {
        return Err(ApiError::conflict(
            UPDATE_RESTORE_RUNNING,
            UPDATE_RESTORE_RUNNING_TEXT,
            "Another restore is in progress.",
        ));
    }

    // The backup must still be stored; if it is not, the restore fails right away (but not
    // when the host cannot tell: that is a 503, and the restore stays PENDING).
    let backup_id = stored.record.backup_id;
    let backup = backup_record::load(store, backup_id)
        .map_err(|e| failed(store, &format!("reading backup record {backup_id}"), &e))?;
    let backup_ref = match backup {
        Some(mut b) => match backup_record::resolve(store, &mut b)? {
            Some(Status::Success) => b.record.backup_id,
            _ => None,
        },
        None => None,
    };
    let Some(backup_ref) = backup_ref else {
        return fail_now(store, &mut stored, fields, "its backup is no longer stored");
    };
    let console =
        hosts::console(store).map_err(|e| failed(store, "reading the console host", &e))?;
    let Some(console) = console else {
        store.warn(&format!("restore {id}: no console host is declared"));
        return Err(ApiError::internal(""));
    };
    let spec = JobSpec {
        kind: JobKind::Restore,
        resource_kind: HOST_KIND.into(),
        resource_id: console.resource_id.clone(),
        source_backup: Some(backup_ref.clone()),
        deduplicate: false,
        exclusive: true,
        filename: stored.record.backup_filename.clone(),
        media_type: "application/gzip".into(),
        metadata: json!({ "restore_id": id, "groups": stored.record.groups }).to_string(),
    };
    let job = match store.create_job(&spec) {
        Ok(job) => job,
        Err(HostError::Conflict(_)) => return Err(console_busy(store, &console.resource_id)),
        Err(HostError::NotFound) => {
            return fail_now(
                store,
                &mut stored,
                fields,
                "its backup or the console is gone",
            );
        }
        Err(e) => {
            store.warn(&format!("queueing restore {id} failed: {e:?}"));
            return Err(ApiError::from_host(&e));
        }
    };
    stored.record.state = REQUESTING.into();
    stored.record.job_id = Some(job.id.clone());
    stored.record.backup_ref = backup_ref;
    stored.record.host_id = Some(console.id);
    if let Err(e) = record::save(store, &mut stored) {
        if let Err(e) = store.cancel_job(&job.id) {
            store.warn(&format!(
                "cancelling orphan restore job {} failed: {e:?}",
                job.id
            ));
        }
        return Err(match e {
            HostError::Conflict(_) => ApiError::unprocessable(
                1012,
                text::ONLY_PENDING,
                format!("Restore {id} was updated by another request."),
            ),
            other => {
                store.warn(&format!("recording restore {id} failed: {other:?}"));
                ApiError::from_host(&other)
            }
        });
    }
    let view = record::view(&stored.record, RestoreStatus::Requesting);
    Ok(query::respond_one(200, &view, fields.as_deref()))
}

/// `DELETE /restores/{id}` → 204 with no body (QRadar's text/plain answer): a `PENDING`,
/// `SUCCESS` or `FAILED` restore is removed (a pending one frees the restore slot); a
/// requested one that has not finished is 422/1017, since its job is restoring the console.
pub fn delete(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let mut stored = find(store, req)?;
    let id = stored.record.id;
    for _ in 0..DELETE_ATTEMPTS {
        let status = resolve(store, &mut stored)?;
        if status.running() {
            return Err(ApiError::unprocessable(
                NOT_DELETABLE,
                text::NOT_DELETABLE,
                format!("Restore {id} is {}.", status.as_str()),
            ));
        }
        match record::remove(store, &stored) {
            Ok(()) => return Ok(Response::empty(204)),
            // Written meanwhile (requested, or its outcome recorded): look again.
            Err(HostError::Conflict(_)) => stored = find(store, req)?,
            Err(e) => {
                store.warn(&format!("deleting restore {id} failed: {e:?}"));
                return Err(ApiError::from_host(&e));
            }
        }
    }
    Err(ApiError::unprocessable(
        NOT_DELETABLE,
        text::NOT_DELETABLE,
        format!("Restore {id} kept changing while it was being deleted; try again."),
    ))
}

/// The queued and running jobs of JSA hosts (of `host` only, when given).
fn active_jobs(store: &impl Host, host: Option<&str>) -> Result<Vec<Job>, ApiError> {
    store
        .jobs(&JobQuery {
            kinds: Vec::new(),
            resource_kind: Some(HOST_KIND.into()),
            resource_id: host.map(str::to_string),
            statuses: vec![JobStatus::Queued, JobStatus::InProgress],
            limit: PAGE_LIMIT,
        })
        .map_err(|e| failed(store, "listing the active jobs", &e))
}

/// The host refused the exclusive restore job: a restore job of the console (1016, e.g. a
/// concurrent update of this restore) or else a capture of it (1015).
fn console_busy(store: &impl Host, console: &str) -> ApiError {
    let jobs = match active_jobs(store, Some(console)) {
        Ok(jobs) => jobs,
        Err(e) => return e,
    };
    if jobs.iter().any(|j| j.kind == JobKind::Restore) {
        ApiError::conflict(
            UPDATE_RESTORE_RUNNING,
            UPDATE_RESTORE_RUNNING_TEXT,
            "Another restore is in progress.",
        )
    } else {
        backup_running()
    }
}

fn backup_running() -> ApiError {
    ApiError::conflict(1015, text::BACKUP_RUNNING, "A backup is in progress.")
}

/// Record the restore as failed and answer 200 with it.
fn fail_now(
    store: &impl Host,
    stored: &mut StoredRestore,
    fields: Option<Vec<Selected>>,
    why: &str,
) -> Result<Response, ApiError> {
    store.warn(&format!("restore {} failed: {why}", stored.record.id));
    record::fail(store, stored).map_err(|e| ApiError::from_host(&e))?;
    let view = record::view(&stored.record, RestoreStatus::Failed);
    Ok(query::respond_one(200, &view, fields.as_deref()))
}
