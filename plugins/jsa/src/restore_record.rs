//! A JSA restore as the plugin keeps it (documents; ids from the plugin's `restore`
//! sequence), its status, and the single restore slot.
//!
//! **Status.** `PENDING` after creation; `REQUESTING` in the answer to the update that starts
//! it; then from the restore job on the console host: `INITIALIZING` while queued,
//! `IN_PROGRESS` while running, `SUCCESS` when completed, `FAILED` when it failed, was
//! cancelled or vanished. Terminal outcomes are written back to the record.
//!
//! **The slot.** QRadar runs one restore at a time and refuses a new one while another is
//! pending or running. The `restore_slot/current` document names the newest restore; a new
//! restore takes the slot with a compare-and-swap on its revision, so two racing creations
//! cannot both succeed. A slot whose restore finished (or vanished) is free.
//!
//! Every read answers the host's error when it fails (the handlers show JSA's 503): a
//! restore whose job cannot be read is not a vanished one, and a slot that cannot be read is
//! not a free one.

use backup_gateway_sdk::{Collection, Host, HostError, Stored, jobs::JobStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::fields::Field;
use crate::store::{self, millis};

/// Document collection of restore records.
pub const RESTORES: &str = "restores";
/// Document collection of the slot.
pub const SLOT: &str = "restore_slot";
/// The slot's key.
pub const SLOT_KEY: &str = "current";

/// `state` of a created restore.
pub const PENDING: &str = "PENDING";
/// `state` of a restore whose job was requested.
pub const REQUESTING: &str = "REQUESTING";
/// `state` of a restore that succeeded.
const SUCCESS: &str = "SUCCESS";
/// `state` of a restore that failed.
pub const FAILED: &str = "FAILED";
/// `state` of a restore being deleted: written (compare-and-swap) before its document is
/// removed, so an update racing the delete loses; such a record reads as absent.
const DELETED: &str = "DELETED";

/// The fields of a restore object, in the documented order.
pub const FIELDS: &[Field] = &[
    Field::scalar("id"),
    Field::scalar("initiated_by"),
    Field::scalar("host_id"),
    Field::scalar("time_initiated"),
    Field::scalar("time_completed"),
    Field::scalar("status"),
    Field::scalar("groups"),
    Field::scalar("is_cross_deployment_restore"),
    Field::scalar("backup_id"),
    Field::scalar("backup_name"),
    Field::scalar("backup_type"),
    Field::scalar("backup_version"),
    Field::scalar("backup_filename"),
];

/// The fields `GET /restores` can sort by (documented with code 1018).
pub const SORTABLE: &[&str] = &[
    "id",
    "initiated_by",
    "time_initiated",
    "time_completed",
    "is_cross_deployment_restore",
    "backup_name",
    "backup_type",
    "backup_version",
    "backup_filename",
];

/// The stored record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RestoreRecord {
    /// JSA id.
    pub id: u64,
    /// JSA id of the backup restored.
    pub backup_id: u64,
    /// The host's id of the stored backup.
    pub backup_ref: String,
    /// The backup's name.
    pub backup_name: String,
    /// The backup's type.
    pub backup_type: String,
    /// The backup's JSA version.
    pub backup_version: String,
    /// The backup's file name.
    pub backup_filename: String,
    /// Restore groups.
    pub groups: Vec<String>,
    /// Who asked for it.
    pub initiated_by: String,
    /// The console host it restores to.
    pub host_id: Option<u64>,
    /// When it was created (ms).
    pub time_initiated: u64,
    /// When it finished (ms).
    pub time_completed: Option<u64>,
    /// Restoring another deployment's backup (never, here).
    pub is_cross_deployment_restore: bool,
    /// `PENDING`, `REQUESTING`, `SUCCESS` or `FAILED`.
    pub state: String,
    /// The restore job, once requested.
    pub job_id: Option<String>,
}

/// A record and its document revision.
pub type StoredRestore = Stored<RestoreRecord>;

/// The collection of restore records (key: [`store::key_of`] the id).
const RESTORE_RECORDS: Collection<RestoreRecord> = Collection::new(RESTORES);

/// A record at `revision` (0: not written yet), keyed by its id.
pub fn stored(record: RestoreRecord, revision: u64) -> StoredRestore {
    Stored {
        key: store::key_of(record.id),
        record,
        revision,
    }
}

/// A restore's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreStatus {
    /// Created, waiting for REQUESTING.
    Pending,
    /// Just requested.
    Requesting,
    /// Queued.
    Initializing,
    /// Running.
    InProgress,
    /// Done.
    Success,
    /// Failed.
    Failed,
}

impl RestoreStatus {
    /// QRadar's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreStatus::Pending => "PENDING",
            RestoreStatus::Requesting => "REQUESTING",
            RestoreStatus::Initializing => "INITIALIZING",
            RestoreStatus::InProgress => "IN_PROGRESS",
            RestoreStatus::Success => "SUCCESS",
            RestoreStatus::Failed => "FAILED",
        }
    }

    /// Requested and not finished.
    pub fn running(self) -> bool {
        matches!(
            self,
            RestoreStatus::Requesting | RestoreStatus::Initializing | RestoreStatus::InProgress
        )
    }

    /// Pending or running.
    pub fn open(self) -> bool {
        self == RestoreStatus::Pending || self.running()
    }
}

/// The record of a restore (none once it is being deleted).
pub fn load(store: &impl Host, id: u64) -> Result<Option<StoredRestore>, HostError> {
    Ok(RESTORE_RECORDS
        .load(store, &store::key_of(id))?
        .filter(|r: &StoredRestore| r.record.state != DELETED))
}

/// Every record, by id (those being deleted left out).
pub fn load_all(store: &impl Host) -> Result<Vec<StoredRestore>, HostError> {
    Ok(RESTORE_RECORDS
        .load_all(store)?
        .into_iter()
        .filter(|r: &StoredRestore| r.record.state != DELETED)
        .collect())
}

/// Delete a restore: mark it `DELETED` at its revision (a concurrent update or outcome write
/// makes this a `Conflict`, and the caller looks again), then remove its document. From the
/// mark on it reads as absent, so the slot it may hold is free (a slot naming no restore is);
/// the slot document itself is left for the next creation's compare-and-swap, since deleting
/// it here could delete a slot another restore has just taken.
pub fn remove(store: &impl Host, stored: &StoredRestore) -> Result<(), HostError> {
    let id = stored.record.id;
    let mut tombstone = stored.clone();
    tombstone.record.state = DELETED.into();
    save(store, &mut tombstone)?;
    // The tombstone as written: nothing else writes a record that reads as absent.
    if let Err(e) = RESTORE_RECORDS.delete_if_unchanged(store, &tombstone) {
        store.warn(&format!(
            "removing the record of deleted restore {id} failed: {e:?}"
        ));
    }
    Ok(())
}

/// Write a record back (compare-and-swap on its revision; 0 = new).
pub fn save(store: &impl Host, stored: &mut StoredRestore) -> Result<(), HostError> {
    RESTORE_RECORDS.save(store, stored)
}

/// Record a terminal outcome (best effort).
fn finish(store: &impl Host, stored: &mut StoredRestore, state: &str, at: Option<u64>) {
    stored.record.state = state.into();
    stored.record.time_completed = Some(millis(at.unwrap_or_else(|| store.now())));
    match save(store, stored) {
        Ok(()) | Err(HostError::Conflict(_)) => {}
        Err(e) => store.warn(&format!(
            "caching the outcome of restore {} failed: {e:?}",
            stored.record.id
        )),
    }
}

/// Record that a requested restore failed before its job could start.
pub fn fail(store: &impl Host, stored: &mut StoredRestore) -> Result<(), HostError> {
    stored.record.state = FAILED.into();
    stored.record.time_completed = Some(millis(store.now()));
    save(store, stored)
}

/// The restore's status; the host's error when its job cannot be read.
pub fn resolve(store: &impl Host, stored: &mut StoredRestore) -> Result<RestoreStatus, HostError> {
    match stored.record.state.as_str() {
        PENDING => return Ok(RestoreStatus::Pending),
        SUCCESS => return Ok(RestoreStatus::Success),
        FAILED => return Ok(RestoreStatus::Failed),
        REQUESTING => {}
        other => {
            store.warn(&format!(
                "restore {} has an unknown state {other:?}",
                stored.record.id
            ));
            return Ok(RestoreStatus::Failed);
        }
    }
    let job = match stored.record.job_id.as_deref() {
        Some(id) => store.job(id)?,
        None => None,
    };
    Ok(match job {
        None => {
            finish(store, stored, FAILED, None);
            RestoreStatus::Failed
        }
        Some(job) => match job.status {
            JobStatus::Queued => RestoreStatus::Initializing,
            JobStatus::InProgress => RestoreStatus::InProgress,
            JobStatus::Completed => {
                finish(store, stored, SUCCESS, job.finished_at);
                RestoreStatus::Success
            }
            JobStatus::Failed | JobStatus::Cancelled => {
                finish(store, stored, FAILED, job.finished_at);
                RestoreStatus::Failed
            }
        },
    })
}

/// The restore object (all fields, in the documented order).
pub fn view(record: &RestoreRecord, status: RestoreStatus) -> Value {
    json!({
        "id": record.id,
        "initiated_by": record.initiated_by,
        "host_id": record.host_id,
        "time_initiated": record.time_initiated,
        "time_completed": record.time_completed,
        "status": status.as_str(),
        "groups": record.groups,
        "is_cross_deployment_restore": record.is_cross_deployment_restore,
        "backup_id": record.backup_id,
        "backup_name": record.backup_name,
        "backup_type": record.backup_type,
        "backup_version": record.backup_version,
        "backup_filename": record.backup_filename,
    })
}

/// The slot document's revision (0: never taken) and the restore id it names.
fn slot_holder(store: &impl Host) -> Result<(u64, Option<u64>), HostError> {
    let Some(doc) = store.document(SLOT, SLOT_KEY)? else {
        return Ok((0, None));
    };
    let id = serde_json::from_str::<Value>(&doc.value)
        .ok()
        .and_then(|v| v["restore_id"].as_u64());
    Ok((doc.revision, id))
}

/// The slot's revision (0: never taken) and the restore it names, if that restore still
/// exists.
pub fn slot(store: &impl Host) -> Result<(u64, Option<StoredRestore>), HostError> {
    let (revision, id) = slot_holder(store)?;
    let current = match id {
        Some(id) => load(store, id)?,
        None => None,
    };
    Ok((revision, current))
}

/// The restore holding the slot while it is pending or running, with its status.
pub fn open_restore(
    store: &impl Host,
) -> Result<Option<(StoredRestore, RestoreStatus)>, HostError> {
    let Some(mut current) = slot(store)?.1 else {
        return Ok(None);
    };
    let status = resolve(store, &mut current)?;
    Ok(status.open().then_some((current, status)))
}

/// Whether a restore is running (requested and not finished).
pub fn running(store: &impl Host) -> Result<bool, HostError> {
    Ok(open_restore(store)?.is_some_and(|(_, status)| status.running()))
}

/// Take the slot for restore `id`, if its revision is still `revision`. `Ok(false)` when
/// another request took it first.
pub fn claim_slot(store: &impl Host, id: u64, revision: u64) -> Result<bool, HostError> {
    let value = json!({ "restore_id": id }).to_string();
    match store.put_document(SLOT, SLOT_KEY, &value, Some(revision)) {
        Ok(_) => Ok(true),
        Err(HostError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Give the slot up (after a failed creation) if restore `id` still holds it, at the
/// revision read: a restore that took it meanwhile keeps it. Best effort: a slot left naming
/// a restore that was never written is free anyway.
pub fn release_slot(store: &impl Host, id: u64) {
    let released = match slot_holder(store) {
        Ok((revision, Some(holder))) if holder == id => store
            .delete_document(SLOT, SLOT_KEY, Some(revision))
            .map(drop),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    match released {
        Ok(()) | Err(HostError::Conflict(_)) => {}
        Err(e) => store.warn(&format!("releasing the restore slot failed: {e:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_gateway_sdk::testing::{FakeHost, Import};

    fn pending(id: u64) -> StoredRestore {
        crate::restore_record::stored(
            RestoreRecord {
                id,
                backup_id: 1,
                groups: vec!["DEPLOYMENT_CONFIG".into()],
                state: PENDING.into(),
                ..RestoreRecord::default()
            },
            0,
        )
    }

    #[test]
    fn statuses() {
        let all = [
            (RestoreStatus::Pending, "PENDING", true, false),
            (RestoreStatus::Requesting, "REQUESTING", true, true),
            (RestoreStatus::Initializing, "INITIALIZING", true, true),
            (RestoreStatus::InProgress, "IN_PROGRESS", true, true),
            (RestoreStatus::Success, "SUCCESS", false, false),
            (RestoreStatus::Failed, "FAILED", false, false),
        ];
        for (status, name, open, running) in all {
            assert_eq!(
                (status.as_str(), status.open(), status.running()),
                (name, open, running)
            );
        }
    }

    #[test]
    fn unknown_states_and_vanished_jobs_are_failures() {
        let store = FakeHost::new();
        let mut odd = pending(1);
        odd.record.state = "WEIRD".into();
        assert_eq!(resolve(&store, &mut odd), Ok(RestoreStatus::Failed));
        let mut lost = pending(2);
        lost.record.state = REQUESTING.into();
        lost.record.job_id = Some("job-404".into());
        save(&store, &mut lost).expect("saved");
        // A job that cannot be read is not a vanished one: nothing is recorded.
        store.fail_next(Import::JobsGet, 1, HostError::Unavailable);
        assert_eq!(resolve(&store, &mut lost), Err(HostError::Unavailable));
        let unchanged = load(&store, 2).expect("read").expect("record");
        assert_eq!(unchanged.record.state, REQUESTING);
        assert_eq!(resolve(&store, &mut lost), Ok(RestoreStatus::Failed));
        let failed = load(&store, 2).expect("read").expect("record");
        assert_eq!(failed.record.state, FAILED);
    }

    #[test]
    fn the_slot_is_taken_with_compare_and_swap() {
        let store = FakeHost::new();
        assert_eq!(slot(&store), Ok((0, None)));
        assert_eq!(open_restore(&store), Ok(None));
        assert!(matches!(claim_slot(&store, 1, 0), Ok(true)));
        assert!(matches!(claim_slot(&store, 2, 0), Ok(false)));
        // The slot names a restore that was never written: free.
        assert_eq!(slot(&store), Ok((1, None)));
        let mut r = pending(1);
        save(&store, &mut r).expect("saved");
        let (rev, current) = slot(&store).expect("read");
        assert_eq!((rev, current.map(|c| c.record.id)), (1, Some(1)));
        assert_eq!(
            open_restore(&store).map(|o| o.map(|(r, s)| (r.record.id, s))),
            Ok(Some((1, RestoreStatus::Pending)))
        );
        assert_eq!(running(&store), Ok(false));
        // A slot that cannot be read is not a free one.
        store.fail_next_on(Import::DocumentsGet, SLOT, 1, HostError::Unavailable);
        assert_eq!(running(&store), Err(HostError::Unavailable));
        release_slot(&store, 2);
        assert!(store.doc(SLOT, SLOT_KEY).is_some());
        release_slot(&store, 1);
        assert!(store.doc(SLOT, SLOT_KEY).is_none());
    }

    #[test]
    fn view_has_every_field_in_order() {
        let v = view(&pending(4).record, RestoreStatus::Pending);
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let expected: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(keys, expected);
        assert_eq!(v["status"], "PENDING");
        assert_eq!(v["groups"], json!(["DEPLOYMENT_CONFIG"]));
    }
}
