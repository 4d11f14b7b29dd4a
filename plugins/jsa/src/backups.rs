//! `/api/backup_and_restore/backups`: list, create (a capture job of the host), get and
//! delete (cancel a running capture, or delete the stored backup).
//!
//! Create checks, in order: `fields` (422/30), `backup_type` (422/8 missing, 422/11 not
//! CONFIG|DATA — QRadar's framework codes for a required parameter that is absent or cannot
//! be transformed into its enum; the endpoint documents no code of its own for it), the body
//! (422/8, 422/11, then 1002–1004, 1006, 1008), the configuration (1007: missing or only
//! staged), the host (1009, 1010, 1012–1014), then the conflicts: 1005 (name), 1011
//! (staged changes), 1016 (a restore running), 1015 (a capture of the host queued or running;
//! also the host's answer when the exclusive job is refused).

use backup_gateway_sdk::{
    Host, HostError, PAGE_LIMIT, Request, Response, civil,
    jobs::{JobKind, JobSpec, JobStatus, Query as JobQuery},
};
use serde_json::json;

use crate::backup_record::{self as record, BackupRecord, FIELDS, SORTABLE, Status, StoredBackup};
use crate::errors::ApiError;
use crate::hosts::{self, HOST_KIND, JsaHost};
use crate::query;
use crate::restore_record;
use crate::store::{failed, millis};
use crate::validate::{self, Long};

/// Code: the backup name is taken.
pub const NAME_TAKEN: u32 = 1005;
/// Code: a capture of the host is queued or running.
pub const BACKUP_IN_PROGRESS: u32 = 1015;
/// Description of 1015.
pub const BACKUP_IN_PROGRESS_TEXT: &str = "A backup is already in progress on the host.";
/// Code: the backup cannot be deleted in its status.
pub const NOT_DELETABLE: u32 = 1017;
/// Description of 1017.
const NOT_DELETABLE_TEXT: &str = "A backup can only be deleted when its status is INITIALIZING, IN_PROGRESS, FAILED, SUCCESS or MISSING.";
/// Description of 404/1001.
const DOES_NOT_EXIST_TEXT: &str = "The backup does not exist.";
/// Longest name.
const MAX_NAME: usize = 100;
/// Longest description.
const MAX_DESCRIPTION: usize = 255;
/// Media type of a backup archive.
const ARCHIVE_MEDIA_TYPE: &str = "application/gzip";
/// Sequence of backup ids.
const BACKUP_SEQUENCE: &str = "backup";

/// The documented descriptions of the create errors.
mod text {
    pub const NAME_EMPTY: &str = "The 'name' parameter value cannot be null or empty.";
    pub const NAME_LONG: &str = "The 'name' parameter value must not exceed 100 characters.";
    pub const NAME_CHARS: &str =
        "The 'name' parameter must contain only alphanumerics and '_', '-' or '.'.";
    pub const NAME_TAKEN: &str = "The 'name' parameter value must be unique.";
    pub const CONFIG_NULL: &str = "The 'configuration_id' parameter value cannot be null or empty.";
    pub const CONFIG_MISSING: &str = "The backup configuration does not exist.";
    pub const DESCRIPTION_LONG: &str =
        "The 'description' parameter value must not exceed 255 characters.";
    pub const HOST_MISSING: &str = "The backup host does not exist.";
    pub const HOST_INACTIVE: &str = "The provided host_id corresponds to a host that is currently not active. For more information, see the following Hosts API: api/config/deployment/hosts";
    pub const STAGED: &str = "An undeployed configuration change has been detected. Deploy staged changes then try again.";
    pub const CONFIG_NOT_CONSOLE: &str = "The provided host_id corresponds to a host that is not the console and the backup type is CONFIG. A config backup can only take place on the console.";
    pub const NO_ARIEL_DATA: &str = "Data backups can only be done on hosts that store ariel data. For more information, see the following Hosts API: api/config/deployment/hosts";
    pub const DATA_NOT_CONFIGURED: &str = "The host is not configured for data backups. See the Backup Configuration API for more information: api/config/backup_and_restore/scheduled_backup_configurations";
    pub const RESTORE_RUNNING: &str = "A restore is currently in progress. No new backup or restore processes can be initiated while the current process is running.";
}

/// Backup type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupType {
    /// Configuration backup (console only).
    Config,
    /// Data backup (hosts with Ariel data).
    Data,
}

impl BackupType {
    fn as_str(self) -> &'static str {
        match self {
            BackupType::Config => "CONFIG",
            BackupType::Data => "DATA",
        }
    }
}

/// A validated create body.
#[derive(Debug, Clone, PartialEq)]
struct NewBackup {
    name: String,
    description: Option<String>,
    configuration_id: Long,
    host_id: Long,
}

/// `GET /backups`.
pub fn list(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let params = query::list_params(req, FIELDS, SORTABLE)?;
    let version = hosts::version_now(store)?;
    let records =
        record::load_all(store).map_err(|e| failed(store, "listing backup records", &e))?;
    let mut items = Vec::new();
    for mut stored in records {
        if let Some(status) = record::resolve(store, &mut stored)? {
            items.push(record::view(&stored.record, status, &version));
        }
    }
    Ok(query::respond_list(items, &params))
}

/// The backup `{id}` names, with its status; 404/1001 when there is none.
fn find(store: &impl Host, req: &Request) -> Result<(StoredBackup, Status), ApiError> {
    let not_found = || {
        ApiError::not_found(
            DOES_NOT_EXIST_TEXT,
            format!(
                "The backup with id {} does not exist.",
                validate::raw_id(req)
            ),
        )
    };
    let id = validate::path_id(req).ok_or_else(not_found)?;
    let mut stored = record::load(store, id)
        .map_err(|e| failed(store, &format!("reading backup record {id}"), &e))?
        .ok_or_else(not_found)?;
    let status = record::resolve(store, &mut stored)?.ok_or_else(not_found)?;
    Ok((stored, status))
}

/// `GET /backups/{id}`.
pub fn get(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let fields = query::query_fields(req, FIELDS)?;
    let (stored, status) = find(store, req)?;
    let version = hosts::version_now(store)?;
    let view = record::view(&stored.record, status, &version);
    Ok(query::respond_one(200, &view, fields.as_deref()))
}

/// `POST /backups` → 201.
pub fn create(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let fields = query::header_fields(req, FIELDS)?;
    let kind = backup_type(req)?;
    let body = parse_body(req)?;

    let config = match body.configuration_id {
        Long::Value(id) => hosts::config(store, id)
            .map_err(|e| failed(store, &format!("reading backup configuration {id}"), &e))?
            .filter(|c| c.deployed),
        Long::Absent | Long::Impossible => None,
    }
    .ok_or_else(|| {
        ApiError::unprocessable(
            1007,
            text::CONFIG_MISSING,
            "The backup configuration does not exist or is not deployed.",
        )
    })?;
    let host = check_host(store, &body, kind)?;

    if record::name_taken(store, &body.name)
        .map_err(|e| failed(store, "looking a backup name up", &e))?
    {
        return Err(name_taken(&body.name));
    }
    if config.staged_changes {
        return Err(ApiError::conflict(
            1011,
            text::STAGED,
            format!("Backup configuration {} has undeployed changes.", config.id),
        ));
    }
    if restore_record::running(store)
        .map_err(|e| failed(store, "looking for a running restore", &e))?
    {
        return Err(ApiError::conflict(
            1016,
            text::RESTORE_RUNNING,
            "A restore is in progress.",
        ));
    }
    if capture_in_flight(store, &host)? {
        return Err(backup_in_progress(host.id));
    }

    let id = store
        .next_in_sequence(BACKUP_SEQUENCE)
        .map_err(|e| failed(store, "drawing a backup id", &e))?;
    match record::reserve_name(store, &body.name, id) {
        Ok(true) => {}
        Ok(false) => return Err(name_taken(&body.name)),
        Err(e) => {
            store.warn(&format!("reserving backup name failed: {e:?}"));
            return Err(ApiError::from_host(&e));
        }
    }
    let initiated_by = req
        .principal()
        .map(|p| p.subject.clone())
        .unwrap_or_default();
    let mut stored = crate::backup_record::stored(
        BackupRecord {
            id,
            name: body.name.clone(),
            description: body.description.clone(),
            kind: kind.as_str().into(),
            configuration_id: config.id,
            host_id: host.id,
            version: host.version.clone(),
            build_version: host.build_version.clone(),
            initiated_by,
            time_initiated: millis(req.received_at),
            filename: filename(&body.name, host.id, kind, req.received_at),
            ..BackupRecord::default()
        },
        0,
    );
    let job = store
        .create_job(&capture_spec(&stored.record, &host))
        .map_err(|e| {
            record::release_name(store, &body.name, id);
            create_failed(store, &e, host.id)
        })?;
    stored.record.job_id = job.id.clone();
    if let Err(e) = record::save(store, &mut stored) {
        store.warn(&format!("recording backup {id} failed: {e:?}"));
        if let Err(e) = store.cancel_job(&job.id) {
            store.warn(&format!(
                "cancelling orphan capture {} failed: {e:?}",
                job.id
            ));
        }
        record::release_name(store, &body.name, id);
        return Err(ApiError::from_host(&e));
    }
    let status = match job.status {
        JobStatus::InProgress => Status::InProgress,
        _ => Status::Initializing,
    };
    let version = hosts::version_now(store)?;
    let view = record::view(&stored.record, status, &version);
    Ok(query::respond_one(201, &view, fields.as_deref()))
}

/// The required `backup_type` header.
fn backup_type(req: &Request) -> Result<BackupType, ApiError> {
    let value = req
        .header("backup_type")
        .ok_or_else(|| ApiError::missing_parameter("backup_type", "headers"))?;
    match value.trim() {
        "CONFIG" => Ok(BackupType::Config),
        "DATA" => Ok(BackupType::Data),
        _ => Err(ApiError::untransformable(
            "header",
            "backup_type",
            "TEXT_PLAIN",
        )),
    }
}

/// The create body: types first (422/11), then the documented checks in code order.
fn parse_body(req: &Request) -> Result<NewBackup, ApiError> {
    let body = validate::body_object(req, "backup")?;
    let name = validate::string(&body, "name", "backup")?;
    let configuration_id = validate::long(&body, "configuration_id", "backup")?;
    let description = validate::string(&body, "description", "backup")?;
    let host_id = validate::long(&body, "host_id", "backup")?;

    let name = match name {
        None | Some("") => {
            return Err(ApiError::unprocessable(
                1002,
                text::NAME_EMPTY,
                "The backup name is missing.",
            ));
        }
        Some(name) => name,
    };
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::unprocessable(
            1003,
            text::NAME_LONG,
            format!("The backup name has {} characters.", name.chars().count()),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ApiError::unprocessable(
            1004,
            text::NAME_CHARS,
            format!("The backup name \"{name}\" contains characters that are not allowed."),
        ));
    }
    if configuration_id == Long::Absent {
        return Err(ApiError::unprocessable(
            1006,
            text::CONFIG_NULL,
            "The backup configuration id is missing.",
        ));
    }
    if let Some(description) = description {
        let length = description.chars().count();
        if length > MAX_DESCRIPTION {
            return Err(ApiError::unprocessable(
                1008,
                text::DESCRIPTION_LONG,
                format!("The backup description has {length} characters."),
            ));
        }
    }
    Ok(NewBackup {
        name: name.to_string(),
        description: description.map(str::to_string),
        configuration_id,
        host_id,
    })
}

/// The host the backup is for (the console by default) and whether it can take this type.
fn check_host(store: &impl Host, body: &NewBackup, kind: BackupType) -> Result<JsaHost, ApiError> {
    let host = match body.host_id {
        Long::Value(id) => hosts::host(store, id),
        Long::Absent => hosts::console(store),
        Long::Impossible => Ok(None),
    }
    .map_err(|e| failed(store, "reading the backup host", &e))?
    .ok_or_else(|| {
        ApiError::unprocessable(1009, text::HOST_MISSING, "The backup host does not exist.")
    })?;
    let refuse = |code, description, message: String| {
        Err(ApiError::unprocessable(code, description, message))
    };
    if !host.active {
        return refuse(
            1010,
            text::HOST_INACTIVE,
            format!("Host {} is not active.", host.id),
        );
    }
    match kind {
        BackupType::Config if !host.is_console => refuse(
            1012,
            text::CONFIG_NOT_CONSOLE,
            format!("Host {} is not the console.", host.id),
        ),
        BackupType::Data if !host.stores_data => refuse(
            1013,
            text::NO_ARIEL_DATA,
            format!("Host {} does not store ariel data.", host.id),
        ),
        BackupType::Data if !host.data_backups_configured => refuse(
            1014,
            text::DATA_NOT_CONFIGURED,
            format!("Host {} is not configured for data backups.", host.id),
        ),
        _ => Ok(host),
    }
}

fn name_taken(name: &str) -> ApiError {
    ApiError::conflict(
        NAME_TAKEN,
        text::NAME_TAKEN,
        format!("A backup named \"{name}\" already exists."),
    )
}

fn backup_in_progress(host_id: u64) -> ApiError {
    ApiError::conflict(
        BACKUP_IN_PROGRESS,
        BACKUP_IN_PROGRESS_TEXT,
        format!("A backup is already in progress on host {host_id}."),
    )
}

/// Whether a capture of the host is queued or running.
fn capture_in_flight(store: &impl Host, host: &JsaHost) -> Result<bool, ApiError> {
    let jobs = store
        .jobs(&JobQuery {
            kinds: vec![JobKind::Capture],
            resource_kind: Some(HOST_KIND.into()),
            resource_id: Some(host.resource_id.clone()),
            statuses: vec![JobStatus::Queued, JobStatus::InProgress],
            limit: PAGE_LIMIT,
        })
        .map_err(|e| failed(store, &format!("listing the jobs of host {}", host.id), &e))?;
    // The host filters already; check again rather than trust it with a gate.
    Ok(jobs
        .iter()
        .any(|j| j.kind == JobKind::Capture && record::job_active(j)))
}

/// `backup.<name>.<host id>.<yyyymmdd_hhmmss>.<config|data>.tgz`, after QRadar's naming.
fn filename(name: &str, host_id: u64, kind: BackupType, at: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(at / 1_000_000);
    format!(
        "backup.{name}.{host_id}.{y:04}{mo:02}{d:02}_{h:02}{mi:02}{s:02}.{}.tgz",
        kind.as_str().to_ascii_lowercase()
    )
}

/// The exclusive capture job of the host; its metadata is copied to the stored backup.
fn capture_spec(record: &BackupRecord, host: &JsaHost) -> JobSpec {
    JobSpec {
        kind: JobKind::Capture,
        resource_kind: HOST_KIND.into(),
        resource_id: host.resource_id.clone(),
        source_backup: None,
        deduplicate: false,
        exclusive: true,
        filename: record.filename.clone(),
        media_type: ARCHIVE_MEDIA_TYPE.into(),
        metadata: json!({
            "jsa_id": record.id,
            "name": record.name,
            "description": record.description,
            "type": record.kind,
            "configuration_id": record.configuration_id,
            "host_id": record.host_id,
            "initiated_by": record.initiated_by,
            "version": record.version,
            "build_version": record.build_version,
        })
        .to_string(),
    }
}

/// A refused capture: the host's conflict is another exclusive job of the host (1015), its
/// not-found a host that vanished (1009).
fn create_failed(store: &impl Host, error: &HostError, host_id: u64) -> ApiError {
    match error {
        HostError::Conflict(_) => backup_in_progress(host_id),
        HostError::NotFound => {
            ApiError::unprocessable(1009, text::HOST_MISSING, "The backup host does not exist.")
        }
        other => {
            store.warn(&format!(
                "queueing a capture of host {host_id} failed: {other:?}"
            ));
            ApiError::from_host(other)
        }
    }
}

/// `DELETE /backups/{id}` → 202: cancels a queued or running capture (`CANCELLING`) or
/// deletes the stored backup (`DELETING`; the record is gone afterwards).
///
/// A restore of the backup does not hold the delete up: QRadar documents a SUCCESS backup as
/// deletable, and its restore is settled by the host's restore job. A restore still
/// `PENDING` fails when it is requested (its backup is gone); one requested whose job has not
/// opened the backup yet fails (`FAILED`, the target untouched); one whose job is reading it
/// finishes on the object it opened (the host streams from the open object) or, where the
/// store cannot serve the rest, fails with the target untouched: the host writes a restore
/// to a temporary file renamed into place only when complete.
pub fn delete(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let fields = query::query_fields(req, FIELDS)?;
    let (mut stored, mut status) = find(store, req)?;
    let id = stored.record.id;
    if status.in_flight() {
        match store.cancel_job(&stored.record.job_id) {
            Ok(_) => {
                if let Err(e) = record::mark_cancelling(store, &mut stored) {
                    store.warn(&format!("marking backup {id} cancelling failed: {e:?}"));
                }
                return answer(store, &stored.record, Status::Cancelling, fields);
            }
            // It finished (or vanished) in the meantime: delete what it left.
            Err(HostError::Conflict(_) | HostError::NotFound) => {
                status = record::resolve(store, &mut stored)?.unwrap_or(Status::Failed);
            }
            Err(e) => {
                store.warn(&format!("cancelling capture of backup {id} failed: {e:?}"));
                return Err(ApiError::from_host(&e));
            }
        }
    }
    match status {
        Status::Success | Status::Failed | Status::Missing => {}
        other => {
            return Err(ApiError::unprocessable(
                NOT_DELETABLE,
                NOT_DELETABLE_TEXT,
                format!("Backup {id} is {}.", other.as_str()),
            ));
        }
    }
    if let Some(backup_id) = &stored.record.backup_id {
        match store.delete_backup(backup_id) {
            Ok(_) | Err(HostError::NotFound) => {}
            Err(e) => {
                store.warn(&format!("deleting stored backup {backup_id} failed: {e:?}"));
                return Err(ApiError::from_host(&e));
            }
        }
    }
    record::remove(store, &stored.record).map_err(|e| {
        store.warn(&format!("removing backup record {id} failed: {e:?}"));
        ApiError::from_host(&e)
    })?;
    answer(store, &stored.record, Status::Deleting, fields)
}

/// The 202 answer to a DELETE.
fn answer(
    store: &impl Host,
    record: &BackupRecord,
    status: Status,
    fields: Option<Vec<crate::fields::Selected>>,
) -> Result<Response, ApiError> {
    let version = hosts::version_now(store)?;
    let view = record::view(record, status, &version);
    Ok(query::respond_one(202, &view, fields.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_follow_qradar() {
        // 2026-04-27T10:00:00Z
        assert_eq!(
            filename("nightly", 53, BackupType::Config, crate::testing::T0),
            "backup.nightly.53.20260427_100000.config.tgz"
        );
        assert_eq!(
            filename("n", 1, BackupType::Data, crate::testing::T0 + 61_000_000),
            "backup.n.1.20260427_100101.data.tgz"
        );
    }
}
