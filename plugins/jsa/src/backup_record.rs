//! A JSA backup as the plugin keeps it, and how its status is derived.
//!
//! **Ids.** A backup's JSA id comes from the plugin's own `backup` sequence
//! (`ids.next-in-sequence`), so it is known when the backup is created, before any stored
//! backup (and its host `seq`) exists. The record lives in the `backups` document collection
//! under the id (20 zero-padded digits, so key order is id order); it names the capture job
//! and, once the capture completed, the host's stored backup. The capture job's metadata (and
//! so the stored backup's) carries `jsa_id` too, so the mapping can be read both ways. The
//! host `seq` is not shown.
//!
//! **Status.** `CANCELLING` when a DELETE cancelled the capture; otherwise from the stored
//! backup when there is one (`SUCCESS`, or `MISSING` when `object-exists` says the object is
//! gone or the record was pruned), else from the job (`INITIALIZING` queued, `IN_PROGRESS`
//! running, `FAILED` failed, cancelled, vanished or completed without a backup). Terminal
//! outcomes are written back to the record (best effort), so later reads skip the job.
//! `DELETING` only appears in the answer to a DELETE: the record is gone right after.
//!
//! **Cancelled backups** stay visible as `CANCELLING` for [`CANCEL_GRACE`] after the job
//! stopped; each read meanwhile deletes any backup the capture still managed to store. Then
//! the record is removed and the id answers 404.
//!
//! **Reads fail loudly.** A record, name reservation or job the host cannot read is an error
//! (JSA's 503 when the database is down), never a missing record or a vanished job: a status
//! derived from an outage would be cached as `FAILED` for good.

use backup_gateway_sdk::{
    Collection, Host, HostError, Stored,
    backups::Query as BackupQuery,
    jobs::{Job, JobStatus},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::fields::Field;
use crate::hosts::HOST_KIND;
use crate::store::{failed, key_of, millis};

/// Document collection of backup records.
pub const BACKUPS: &str = "backups";
/// Document collection reserving backup names (key: the name, value: `{"id": n}`).
pub const NAMES: &str = "backup_names";
/// How long a cancelled backup stays visible after its job stopped (µs).
pub const CANCEL_GRACE: u64 = 60_000_000;
/// Directory of `content_file_path`.
pub const BACKUP_DIR: &str = "/store/backup/";

/// The fields of a backup object, in the documented order.
pub const FIELDS: &[Field] = &[
    Field::scalar("id"),
    Field::scalar("configuration_id"),
    Field::scalar("host_id"),
    Field::scalar("name"),
    Field::scalar("description"),
    Field::scalar("type"),
    Field::scalar("version"),
    Field::scalar("build_version"),
    Field::scalar("time_initiated"),
    Field::scalar("time_completed"),
    Field::scalar("initiated_by"),
    Field::scalar("status"),
    Field::scalar("size_on_disk"),
    Field::scalar("content_file_path"),
    Field::scalar("is_valid"),
    Field::scalar("is_version_compatible"),
];

/// The fields `GET /backups` can sort by (documented with code 1018).
pub const SORTABLE: &[&str] = &[
    "id",
    "host_id",
    "name",
    "description",
    "type",
    "version",
    "time_initiated",
    "time_completed",
    "initiated_by",
    "status",
    "size_on_disk",
    "content_file_path",
];

/// `state` of a backup whose capture a DELETE cancelled.
const CANCELLING: &str = "CANCELLING";
/// `outcome` of a backup whose capture failed.
const FAILED: &str = "FAILED";

/// The stored record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupRecord {
    /// JSA id.
    pub id: u64,
    /// Name (unique).
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// `CONFIG` or `DATA`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Backup configuration id.
    pub configuration_id: u64,
    /// QRadar host id.
    pub host_id: u64,
    /// JSA version of the host at creation.
    pub version: String,
    /// JSA build version of the host at creation.
    pub build_version: String,
    /// Who asked for it.
    pub initiated_by: String,
    /// When (ms since the epoch).
    pub time_initiated: u64,
    /// The backup file's name.
    pub filename: String,
    /// The capture job.
    pub job_id: String,
    /// The stored backup, once the capture completed.
    pub backup_id: Option<String>,
    /// `FAILED` once the capture failed.
    pub outcome: Option<String>,
    /// When the capture finished (ms).
    pub time_completed: Option<u64>,
    /// Bytes of the stored backup.
    pub size_on_disk: u64,
    /// `CANCELLING` after a DELETE cancelled the capture.
    pub state: Option<String>,
    /// When it was cancelled (µs).
    pub cancelled_at: Option<u64>,
}

/// A record and its document revision.
pub type StoredBackup = Stored<BackupRecord>;

/// The collection of backup records (key: [`key_of`] the id).
const BACKUP_RECORDS: Collection<BackupRecord> = Collection::new(BACKUPS);

/// A record at `revision` (0: not written yet), keyed by its id.
pub fn stored(record: BackupRecord, revision: u64) -> StoredBackup {
    Stored {
        key: key_of(record.id),
        record,
        revision,
    }
}

/// A backup's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Queued.
    Initializing,
    /// Running.
    InProgress,
    /// Failed.
    Failed,
    /// Stored.
    Success,
    /// Its capture is being cancelled.
    Cancelling,
    /// Being deleted.
    Deleting,
    /// Its file is gone.
    Missing,
}

impl Status {
    /// QRadar's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Initializing => "INITIALIZING",
            Status::InProgress => "IN_PROGRESS",
            Status::Failed => "FAILED",
            Status::Success => "SUCCESS",
            Status::Cancelling => "CANCELLING",
            Status::Deleting => "DELETING",
            Status::Missing => "MISSING",
        }
    }

    /// The capture is queued or running.
    pub fn in_flight(self) -> bool {
        matches!(self, Status::Initializing | Status::InProgress)
    }
}

/// Whether a job is queued or running.
pub fn job_active(job: &Job) -> bool {
    matches!(job.status, JobStatus::Queued | JobStatus::InProgress)
}

/// The record of a backup.
pub fn load(store: &impl Host, id: u64) -> Result<Option<StoredBackup>, HostError> {
    BACKUP_RECORDS.load(store, &key_of(id))
}

/// Every record, by id.
pub fn load_all(store: &impl Host) -> Result<Vec<StoredBackup>, HostError> {
    BACKUP_RECORDS.load_all(store)
}

/// Write a record back (compare-and-swap on its revision; 0 = new).
pub fn save(store: &impl Host, stored: &mut StoredBackup) -> Result<(), HostError> {
    BACKUP_RECORDS.save(store, stored)
}

/// Write a derived outcome back; losing a race or failing only costs a later recomputation.
fn cache(store: &impl Host, stored: &mut StoredBackup) {
    match save(store, stored) {
        Ok(()) | Err(HostError::Conflict(_)) => {}
        Err(e) => store.warn(&format!(
            "caching the outcome of backup {} failed: {e:?}",
            stored.record.id
        )),
    }
}

/// Remove a record and release its name. The record goes whatever was cached into it
/// since it was read (outcomes are derived, and the caller has decided): no revision check.
pub fn remove(store: &impl Host, record: &BackupRecord) -> Result<(), HostError> {
    store.delete_document(BACKUPS, &key_of(record.id), None)?;
    release_name(store, &record.name, record.id);
    Ok(())
}

/// The backup id a name reservation points to, and the reservation's revision.
fn reserved_by(store: &impl Host, name: &str) -> Result<Option<(u64, u64)>, HostError> {
    let Some(doc) = store.document(NAMES, name)? else {
        return Ok(None);
    };
    let id = serde_json::from_str::<Value>(&doc.value)
        .ok()
        .and_then(|v| v["id"].as_u64());
    Ok(id.map(|id| (id, doc.revision)))
}

/// Whether a backup already has this name (a reservation whose record is gone is free).
pub fn name_taken(store: &impl Host, name: &str) -> Result<bool, HostError> {
    match reserved_by(store, name)? {
        Some((id, _)) => Ok(load(store, id)?.is_some()),
        None => Ok(false),
    }
}

/// Reserve a name for backup `id`, atomically. `Ok(false)` when another backup has it.
pub fn reserve_name(store: &impl Host, name: &str, id: u64) -> Result<bool, HostError> {
    let value = json!({ "id": id }).to_string();
    match store.put_document(NAMES, name, &value, Some(0)) {
        Ok(_) => Ok(true),
        Err(HostError::Conflict(_)) => match reserved_by(store, name)? {
            // A stale reservation (its record is gone): take it over, still atomically.
            Some((other, revision)) if load(store, other)?.is_none() => {
                match store.put_document(NAMES, name, &value, Some(revision)) {
                    Ok(_) => Ok(true),
                    Err(HostError::Conflict(_)) => Ok(false),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(false),
        },
        Err(e) => Err(e),
    }
}

/// Release a name if backup `id` holds it, at the revision read: a backup that took the
/// reservation over meanwhile keeps it. Best effort: a reservation left behind is stale
/// (its record is gone) and [`reserve_name`] takes it over.
pub fn release_name(store: &impl Host, name: &str, id: u64) {
    let released = match reserved_by(store, name) {
        Ok(Some((holder, revision))) if holder == id => {
            store.delete_document(NAMES, name, Some(revision)).map(drop)
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    match released {
        Ok(()) | Err(HostError::Conflict(_)) => {}
        Err(e) => store.warn(&format!("releasing backup name {name} failed: {e:?}")),
    }
}

/// The backup's status; `None` when a cancelled backup has now disappeared.
pub fn resolve(store: &impl Host, stored: &mut StoredBackup) -> Result<Option<Status>, ApiError> {
    if stored.record.state.as_deref() == Some(CANCELLING) {
        return settle_cancelled(store, stored);
    }
    if let Some(backup_id) = stored.record.backup_id.clone() {
        return presence(store, &backup_id).map(Some);
    }
    if stored.record.outcome.as_deref() == Some(FAILED) {
        return Ok(Some(Status::Failed));
    }
    let job = store.job(&stored.record.job_id).map_err(|e| {
        failed(
            store,
            &format!("reading capture job {}", stored.record.job_id),
            &e,
        )
    })?;
    let Some(job) = job else {
        store.warn(&format!(
            "capture job {} of backup {} is gone",
            stored.record.job_id, stored.record.id
        ));
        record_failure(store, stored, None);
        return Ok(Some(Status::Failed));
    };
    match (job.status, job.backup_id.clone()) {
        (JobStatus::Queued, _) => Ok(Some(Status::Initializing)),
        (JobStatus::InProgress, _) => Ok(Some(Status::InProgress)),
        (JobStatus::Completed, Some(backup_id)) => {
            record_success(store, stored, &job, &backup_id)?;
            presence(store, &backup_id).map(Some)
        }
        (JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled, _) => {
            record_failure(store, stored, job.finished_at);
            Ok(Some(Status::Failed))
        }
    }
}

/// `SUCCESS` or `MISSING` for a stored backup.
fn presence(store: &impl Host, backup_id: &str) -> Result<Status, ApiError> {
    match store.object_exists(backup_id) {
        Ok(true) => Ok(Status::Success),
        Ok(false) | Err(HostError::NotFound) => Ok(Status::Missing),
        Err(e) => {
            store.warn(&format!("checking backup {backup_id} failed: {e:?}"));
            Err(ApiError::from_host(&e))
        }
    }
}

/// Note the stored backup a completed capture produced.
fn record_success(
    store: &impl Host,
    stored: &mut StoredBackup,
    job: &Job,
    backup_id: &str,
) -> Result<(), ApiError> {
    let backup = store.backup(backup_id).map_err(|e| {
        store.warn(&format!("reading backup {backup_id} failed: {e:?}"));
        ApiError::from_host(&e)
    })?;
    let record = &mut stored.record;
    record.backup_id = Some(backup_id.to_string());
    record.size_on_disk = backup.as_ref().map_or(0, |b| b.size);
    record.time_completed = job
        .finished_at
        .or(backup.as_ref().map(|b| b.created_at))
        .map(millis);
    cache(store, stored);
    Ok(())
}

/// Note that the capture failed (at `finished_at`, µs).
fn record_failure(store: &impl Host, stored: &mut StoredBackup, finished_at: Option<u64>) {
    stored.record.outcome = Some(FAILED.into());
    stored.record.time_completed = Some(millis(finished_at.unwrap_or_else(|| store.now())));
    cache(store, stored);
}

/// Mark a backup whose capture was just cancelled.
pub fn mark_cancelling(store: &impl Host, stored: &mut StoredBackup) -> Result<(), HostError> {
    stored.record.state = Some(CANCELLING.into());
    stored.record.cancelled_at = Some(store.now());
    save(store, stored)
}

/// A cancelled backup: still `CANCELLING` while its job runs or within the grace period
/// (deleting anything the capture stored), then gone. A job that cannot be read is an error:
/// nothing is deleted on a guess.
fn settle_cancelled(store: &impl Host, stored: &StoredBackup) -> Result<Option<Status>, ApiError> {
    let record = &stored.record;
    let job = store
        .job(&record.job_id)
        .map_err(|e| failed(store, &format!("reading capture job {}", record.job_id), &e))?;
    if job.as_ref().is_some_and(job_active) {
        return Ok(Some(Status::Cancelling));
    }
    if let Some(backup_id) = job.as_ref().and_then(|j| j.backup_id.as_deref()) {
        discard(store, backup_id);
    }
    discard_strays(store, record);
    let stopped = job
        .and_then(|j| j.finished_at)
        .or(record.cancelled_at)
        .unwrap_or(0);
    if store.now() < stopped.saturating_add(CANCEL_GRACE) {
        return Ok(Some(Status::Cancelling));
    }
    match remove(store, record) {
        Ok(()) => Ok(None),
        Err(e) => {
            store.warn(&format!(
                "removing cancelled backup {} failed: {e:?}",
                record.id
            ));
            Ok(Some(Status::Cancelling))
        }
    }
}

/// Delete a stored backup, logging failures.
fn discard(store: &impl Host, backup_id: &str) {
    match store.delete_backup(backup_id) {
        Ok(_) | Err(HostError::NotFound) => {}
        Err(e) => store.warn(&format!(
            "deleting cancelled backup {backup_id} failed: {e:?}"
        )),
    }
}

/// Backups a cancelled capture stored anyway (committed just before the cancel landed).
fn discard_strays(store: &impl Host, record: &BackupRecord) {
    let query = BackupQuery {
        resource_kind: Some(HOST_KIND.into()),
        resource_id: Some(record.host_id.to_string()),
        newest_first: true,
        offset: 0,
        limit: 100,
    };
    match store.backups(&query) {
        Ok(page) => page
            .items
            .iter()
            .filter(|b| b.job_id.as_deref() == Some(record.job_id.as_str()))
            .for_each(|b| discard(store, &b.id)),
        Err(e) => store.warn(&format!(
            "listing backups of host {} failed: {e:?}",
            record.host_id
        )),
    }
}

/// The backup object (all fields, in the documented order).
pub fn view(record: &BackupRecord, status: Status, current_version: &str) -> Value {
    json!({
        "id": record.id,
        "configuration_id": record.configuration_id,
        "host_id": record.host_id,
        "name": record.name,
        "description": record.description,
        "type": record.kind,
        "version": record.version,
        "build_version": record.build_version,
        "time_initiated": record.time_initiated,
        "time_completed": record.time_completed,
        "initiated_by": record.initiated_by,
        "status": status.as_str(),
        "size_on_disk": record.size_on_disk,
        "content_file_path": record
            .backup_id
            .as_ref()
            .map(|_| format!("{BACKUP_DIR}{}", record.filename)),
        "is_valid": status == Status::Success && record.size_on_disk > 0,
        "is_version_compatible": record.version == current_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_gateway_sdk::testing::{FakeHost, Import};

    fn record(id: u64) -> BackupRecord {
        BackupRecord {
            id,
            name: format!("b{id}"),
            kind: "CONFIG".into(),
            configuration_id: 1,
            host_id: 53,
            version: "7.5.0".into(),
            build_version: "b".into(),
            initiated_by: "admin".into(),
            time_initiated: 1,
            filename: format!("f{id}.tgz"),
            job_id: "job-x".into(),
            ..BackupRecord::default()
        }
    }

    #[test]
    fn records_round_trip_and_tolerate_missing_members() {
        let store = FakeHost::new();
        let mut stored = crate::backup_record::stored(record(3), 0);
        save(&store, &mut stored).expect("saved");
        assert_eq!(stored.revision, 1);
        assert_eq!(load(&store, 3), Ok(Some(stored.clone())));
        let doc = store.doc(BACKUPS, &key_of(3)).expect("doc");
        assert_eq!(doc["type"], "CONFIG");
        // A stale revision is refused.
        let mut stale = crate::backup_record::stored(record(3), 0);
        assert!(matches!(
            save(&store, &mut stale),
            Err(HostError::Conflict(_))
        ));
        // Older documents without newer members still load.
        store
            .put_document(BACKUPS, &key_of(4), r#"{"id":4,"name":"x"}"#, None)
            .expect("put");
        store
            .put_document(BACKUPS, &key_of(5), "\"x\"", None)
            .expect("put");
        let all = load_all(&store).expect("listed");
        assert_eq!(all.iter().map(|s| s.record.id).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(store.warnings().len(), 1);
    }

    #[test]
    fn names_are_reserved_atomically_and_stale_ones_taken_over() {
        let store = FakeHost::new();
        assert_eq!(name_taken(&store, "n"), Ok(false));
        assert!(matches!(reserve_name(&store, "n", 1), Ok(true)));
        // Reserved but the record does not exist yet: stale, so not taken...
        assert_eq!(name_taken(&store, "n"), Ok(false));
        let mut stored = crate::backup_record::stored(
            BackupRecord {
                name: "n".into(),
                ..record(1)
            },
            0,
        );
        save(&store, &mut stored).expect("saved");
        assert_eq!(name_taken(&store, "n"), Ok(true));
        assert!(matches!(reserve_name(&store, "n", 2), Ok(false)));
        // ...and a stale one is taken over.
        assert!(matches!(reserve_name(&store, "m", 7), Ok(true)));
        assert!(matches!(reserve_name(&store, "m", 8), Ok(true)));
        assert_eq!(store.doc(NAMES, "m").expect("doc")["id"], 8);
        // Only the holder releases.
        release_name(&store, "n", 2);
        assert_eq!(name_taken(&store, "n"), Ok(true));
        remove(&store, &stored.record).expect("removed");
        assert_eq!(name_taken(&store, "n"), Ok(false));
        assert!(store.doc(NAMES, "n").is_none());
        // A name that cannot be looked up is an error, not free.
        store.fail_next_on(Import::DocumentsGet, NAMES, 1, HostError::Unavailable);
        assert_eq!(name_taken(&store, "n"), Err(HostError::Unavailable));
        reserve_name(&store, "k", 3).expect("reserved");
        store.fail_next_on(Import::DocumentsGet, BACKUPS, 1, HostError::Unavailable);
        assert_eq!(name_taken(&store, "k"), Err(HostError::Unavailable));
    }

    #[test]
    fn a_release_keeps_a_reservation_taken_over_meanwhile() {
        let store = FakeHost::new();
        assert!(matches!(reserve_name(&store, "n", 1), Ok(true)));
        // Backup 2 takes the stale reservation over between 1's read and its delete.
        store.fail_next_on(
            Import::DocumentsDelete,
            NAMES,
            1,
            HostError::Conflict("revision mismatch".into()),
        );
        release_name(&store, "n", 1);
        assert!(store.doc(NAMES, "n").is_some());
        assert!(store.warnings().is_empty(), "{:?}", store.warnings());
        release_name(&store, "n", 1);
        assert!(store.doc(NAMES, "n").is_none());
    }

    #[test]
    fn an_unreadable_capture_job_is_an_error_not_a_failed_backup() {
        let store = FakeHost::new();
        let mut stored = crate::backup_record::stored(record(3), 0);
        save(&store, &mut stored).expect("saved");
        store.fail_next(Import::JobsGet, 1, HostError::Unavailable);
        let error = resolve(&store, &mut stored).expect_err("unavailable");
        assert_eq!(error.status, 503);
        assert_eq!(stored.record.outcome, None, "nothing cached");
        // The job really is gone: now it is a failed backup.
        assert_eq!(resolve(&store, &mut stored), Ok(Some(Status::Failed)));
    }

    #[test]
    fn view_has_every_field_in_order() {
        let mut r = record(9);
        r.backup_id = Some("bkp-1".into());
        r.size_on_disk = 10;
        let v = view(&r, Status::Success, "7.5.0");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let expected: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(keys, expected);
        assert_eq!(v["content_file_path"], "/store/backup/f9.tgz");
        assert_eq!(v["is_valid"], true);
        assert_eq!(v["is_version_compatible"], true);
        assert_eq!(view(&r, Status::Missing, "7.5.1")["is_valid"], false);
        assert_eq!(
            view(&r, Status::Missing, "7.5.1")["is_version_compatible"],
            false
        );
        r.size_on_disk = 0;
        assert_eq!(view(&r, Status::Success, "7.5.0")["is_valid"], false);
        r.backup_id = None;
        assert_eq!(
            view(&r, Status::Initializing, "7.5.0")["content_file_path"],
            Value::Null
        );
    }

    #[test]
    fn status_names() {
        let all = [
            (Status::Initializing, "INITIALIZING"),
            (Status::InProgress, "IN_PROGRESS"),
            (Status::Failed, "FAILED"),
            (Status::Success, "SUCCESS"),
            (Status::Cancelling, "CANCELLING"),
            (Status::Deleting, "DELETING"),
            (Status::Missing, "MISSING"),
        ];
        for (status, name) in all {
            assert_eq!(status.as_str(), name);
            assert_eq!(
                status.in_flight(),
                matches!(status, Status::Initializing | Status::InProgress)
            );
        }
    }
}
