//! A ByCloud backup as the plugin keeps it, how its status is derived, and how it is shown.
//!
//! **Ids.** The backup `id` is a UUIDv4 the plugin mints when the POST arrives, so it is
//! known (and stable) from `creating` on. The record lives in the `backups` document
//! collection under that id; it names the capture job and, once the capture completed, the
//! host's stored backup. The capture job's metadata — which the host copies to the backup it
//! produces — carries the same [`Fields`], so the mapping can be read from the host side too.
//!
//! **Status** (Cinder's lifecycle): `deleting` while a DELETE is under way (or after one that
//! could not finish); otherwise `available` once the stored backup exists (`restoring` while
//! a restore job of it is queued or running); else from the capture job: `creating` while
//! queued or running, `error` when it failed, was cancelled or vanished, or completed but its
//! stored backup has since gone. Terminal outcomes are written back to the record (best
//! effort, compare-and-swap), so later reads skip the job.

use backup_gateway_sdk::{
    Collection, Stored,
    backups::Backup,
    jobs::{Job, JobKind, JobStatus},
    rfc3339,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Document collection of backup records (key: the backup id).
pub const COLLECTION: &str = "backups";

/// Bytes in the GB `size` is counted in (Cinder's GB are GiB).
pub const GIB: u64 = 1 << 30;

/// What a client chose for a backup (and what the plugin derived when it was created). Also
/// the capture job's metadata, and so the stored backup's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Fields {
    /// The ByCloud id (UUIDv4).
    pub id: String,
    /// The volume backed up.
    pub volume_id: String,
    /// Region in the CRN.
    pub region: String,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Container, recorded as given.
    pub container: Option<String>,
    /// Whether it is an incremental backup.
    pub incremental: bool,
    /// For an incremental backup: the backup it builds on.
    pub parent_id: Option<String>,
    /// Snapshot it was requested from, recorded as given.
    pub snapshot_id: Option<String>,
    /// Whether `force` was set.
    pub force: bool,
    /// Client metadata, echoed.
    pub metadata: Map<String, Value>,
    /// When the POST was received (µs).
    pub created_at: u64,
}

/// The stored record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupRecord {
    /// The client's fields.
    pub fields: Fields,
    /// The capture job.
    pub job_id: String,
    /// The host's stored backup, once the capture completed.
    pub backup_id: Option<String>,
    /// Why the capture failed, once it did.
    pub fail_reason: Option<String>,
    /// A DELETE is under way (or could not finish).
    pub deleting: bool,
    /// The latest restore job of this backup.
    pub last_restore_job: Option<String>,
    /// Last change the plugin made (µs).
    pub updated_at: u64,
}

/// A record and its document revision (key: the backup id).
pub type StoredRecord = Stored<BackupRecord>;

/// The collection of backup records.
pub const RECORDS: Collection<BackupRecord> = Collection::new(COLLECTION);

/// A record at `revision` (0: not written yet), keyed by its backup id.
pub fn stored(record: BackupRecord, revision: u64) -> StoredRecord {
    Stored {
        key: record.fields.id.clone(),
        record,
        revision,
    }
}

/// A backup's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The capture is queued or running.
    Creating,
    /// Stored and usable.
    Available,
    /// The capture failed (or its data is gone).
    Error,
    /// Being deleted.
    Deleting,
    /// A restore of it is queued or running.
    Restoring,
}

impl Status {
    /// Every status, in the order the OpenAPI document lists them.
    pub const ALL: [Status; 5] = [
        Status::Creating,
        Status::Available,
        Status::Error,
        Status::Deleting,
        Status::Restoring,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Available => "available",
            Status::Error => "error",
            Status::Deleting => "deleting",
            Status::Restoring => "restoring",
        }
    }

    /// The status a wire name names (case-insensitive).
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether the backup's data exists and can be read (a restore source, an incremental
    /// parent).
    pub fn has_data(self) -> bool {
        matches!(self, Status::Available | Status::Restoring)
    }
}

/// Why a backup is in `error`, as shown in `fail_reason`.
pub mod reasons {
    /// The stored backup was removed behind the plugin's back (e.g. retention).
    pub const DATA_GONE: &str = "The backup data no longer exists.";
    /// The capture job cannot be found.
    pub const JOB_GONE: &str = "The backup job no longer exists.";
    /// The capture was cancelled.
    pub const CANCELLED: &str = "The backup was cancelled.";
    /// The capture failed without a reason.
    pub const FAILED: &str = "The backup failed.";
}

/// A record with everything derived from the host: status, stored backup, `updated_at`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The record as stored.
    pub stored: StoredRecord,
    /// Derived status.
    pub status: Status,
    /// The stored backup, when it exists.
    pub backup: Option<Backup>,
    /// Why it is in `error`.
    pub fail_reason: Option<String>,
    /// Latest change (µs).
    pub updated_at: u64,
}

impl Entry {
    /// The client's fields.
    pub fn fields(&self) -> &Fields {
        &self.stored.record.fields
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.stored.record.fields.id
    }

    /// The list order key: newest first, then by id (descending).
    pub fn sort_key(&self) -> (u64, &str) {
        (self.fields().created_at, self.id())
    }
}

/// Whether a job is queued or running.
pub fn job_active(job: &Job) -> bool {
    matches!(job.status, JobStatus::Queued | JobStatus::InProgress)
}

/// Whether one of `active` is a restore of the stored backup `host_id`.
pub fn restoring(active: &[Job], host_id: &str) -> bool {
    active.iter().any(|j| {
        j.kind == JobKind::Restore && job_active(j) && j.source_backup.as_deref() == Some(host_id)
    })
}

/// The status of a record from what the host knows: its capture job (when the record has no
/// outcome yet), its stored backup (when one is known) and whether a restore of it is active.
pub fn derive(
    record: &BackupRecord,
    job: Option<&Job>,
    backup: Option<&Backup>,
    restore_active: bool,
) -> (Status, Option<String>) {
    if record.deleting {
        return (Status::Deleting, None);
    }
    if backup.is_some() {
        let status = if restore_active {
            Status::Restoring
        } else {
            Status::Available
        };
        return (status, None);
    }
    if record.backup_id.is_some() {
        return (Status::Error, Some(reasons::DATA_GONE.into()));
    }
    if let Some(reason) = &record.fail_reason {
        return (Status::Error, Some(reason.clone()));
    }
    let Some(job) = job else {
        return (Status::Error, Some(reasons::JOB_GONE.into()));
    };
    match job.status {
        JobStatus::Queued | JobStatus::InProgress => (Status::Creating, None),
        // Completed, but the caller found no stored backup for it.
        JobStatus::Completed => (Status::Error, Some(reasons::DATA_GONE.into())),
        JobStatus::Failed => (
            Status::Error,
            Some(
                job.error
                    .clone()
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| reasons::FAILED.into()),
            ),
        ),
        JobStatus::Cancelled => (Status::Error, Some(reasons::CANCELLED.into())),
    }
}

/// The record with a finished capture's outcome written in, when the job has one the record
/// lacks (`None`: nothing to write back).
pub fn settled(record: &BackupRecord, job: &Job) -> Option<BackupRecord> {
    if record.backup_id.is_some() || record.fail_reason.is_some() {
        return None;
    }
    let mut next = record.clone();
    match (job.status, &job.backup_id) {
        (JobStatus::Completed, Some(id)) => next.backup_id = Some(id.clone()),
        (JobStatus::Completed, None) => next.fail_reason = Some(reasons::DATA_GONE.into()),
        (JobStatus::Failed | JobStatus::Cancelled, _) => {
            next.fail_reason = derive(record, Some(job), None, false).1;
        }
        (JobStatus::Queued | JobStatus::InProgress, _) => return None,
    }
    if let Some(finished) = job.finished_at {
        next.updated_at = next.updated_at.max(finished);
    }
    Some(next)
}

/// `size` in whole GB (GiB, rounded up) of the bytes a backup accounts for: its logical size
/// for a full backup, the bytes it newly stored for an incremental one; 0 until stored.
pub fn size_gb(incremental: bool, backup: Option<&Backup>) -> u64 {
    backup.map_or(0, |b| {
        let bytes = if incremental { b.stored_bytes } else { b.size };
        bytes.div_ceil(GIB)
    })
}

/// `crn:{region}:storage:backup:{id}`.
pub fn crn(region: &str, id: &str) -> String {
    format!("crn:{region}:storage:backup:{id}")
}

/// The Backup object: the documented fields in the documented order, plus `fail_reason` on
/// a backup in `error`.
pub fn to_json(entry: &Entry, has_dependent_backups: bool) -> Value {
    let f = entry.fields();
    let mut doc = json!({
        "id": f.id,
        "crn": crn(&f.region, &f.id),
        "name": f.name,
        "description": f.description,
        "status": entry.status.as_str(),
        "volume_id": f.volume_id,
        "size": size_gb(f.incremental, entry.backup.as_ref()),
        "container": f.container,
        "is_incremental": f.incremental,
        "has_dependent_backups": has_dependent_backups,
        "snapshot_id": f.snapshot_id,
        "metadata": f.metadata,
        "created_at": rfc3339(f.created_at, 0),
        "updated_at": rfc3339(entry.updated_at.max(f.created_at), 0),
    });
    if entry.status == Status::Error {
        doc["fail_reason"] = json!(entry.fail_reason);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{T0, job, record, stored_backup};

    fn entry(status: Status, backup: Option<Backup>) -> Entry {
        let mut r = record("11111111-1111-4111-8111-111111111111", "vol", T0);
        r.fields.name = Some("nightly".into());
        r.fields.metadata = json!({ "team": "backend" })
            .as_object()
            .cloned()
            .unwrap_or_default();
        Entry {
            stored: stored(r, 1),
            status,
            backup,
            fail_reason: None,
            updated_at: T0 + 90_000_000,
        }
    }

    #[test]
    fn statuses_round_trip_their_wire_names() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(Status::parse(&s.as_str().to_uppercase()), Some(s));
        }
        assert_eq!(Status::parse("ACTIVE"), None);
        assert!(Status::Restoring.has_data() && Status::Available.has_data());
        assert!(!Status::Creating.has_data() && !Status::Error.has_data());
    }

    #[test]
    fn derive_follows_the_cinder_lifecycle() {
        let r = record("id", "vol", T0);
        let b = stored_backup("host-b", "vol", 100, 100);
        let queued = job("j", JobKind::Capture, JobStatus::Queued);
        let running = job("j", JobKind::Capture, JobStatus::InProgress);
        let mut failed = job("j", JobKind::Capture, JobStatus::Failed);
        failed.error = Some("cannot read the source".into());
        let cancelled = job("j", JobKind::Capture, JobStatus::Cancelled);
        let completed = job("j", JobKind::Capture, JobStatus::Completed);

        let s = |job: Option<&Job>, backup: Option<&Backup>, restoring: bool| {
            derive(&r, job, backup, restoring)
        };
        assert_eq!(s(Some(&queued), None, false), (Status::Creating, None));
        assert_eq!(s(Some(&running), None, false), (Status::Creating, None));
        assert_eq!(
            s(Some(&completed), Some(&b), false),
            (Status::Available, None)
        );
        assert_eq!(s(None, Some(&b), true), (Status::Restoring, None));
        assert_eq!(
            s(Some(&failed), None, false),
            (Status::Error, Some("cannot read the source".into()))
        );
        assert_eq!(
            s(Some(&cancelled), None, false),
            (Status::Error, Some(reasons::CANCELLED.into()))
        );
        assert_eq!(
            s(Some(&completed), None, false),
            (Status::Error, Some(reasons::DATA_GONE.into()))
        );
        assert_eq!(
            s(None, None, false),
            (Status::Error, Some(reasons::JOB_GONE.into()))
        );

        let mut failed_silently = failed.clone();
        failed_silently.error = Some(String::new());
        assert_eq!(
            s(Some(&failed_silently), None, false).1.as_deref(),
            Some(reasons::FAILED)
        );

        // Outcomes written back win over the job.
        let mut known = r.clone();
        known.backup_id = Some("host-b".into());
        assert_eq!(derive(&known, None, Some(&b), false).0, Status::Available);
        assert_eq!(
            derive(&known, None, None, false),
            (Status::Error, Some(reasons::DATA_GONE.into()))
        );
        let mut failed_record = r.clone();
        failed_record.fail_reason = Some("disk".into());
        assert_eq!(
            derive(&failed_record, Some(&queued), None, false),
            (Status::Error, Some("disk".into()))
        );
        let mut deleting = known.clone();
        deleting.deleting = true;
        assert_eq!(derive(&deleting, None, Some(&b), true).0, Status::Deleting);
    }

    #[test]
    fn settled_writes_back_terminal_outcomes_only() {
        let r = record("id", "vol", T0);
        let mut completed = job("j", JobKind::Capture, JobStatus::Completed);
        completed.backup_id = Some("host-b".into());
        completed.finished_at = Some(T0 + 5_000_000);
        let next = settled(&r, &completed).expect("written back");
        assert_eq!(next.backup_id.as_deref(), Some("host-b"));
        assert_eq!(next.updated_at, T0 + 5_000_000);
        assert_eq!(settled(&next, &completed), None, "already settled");

        let mut failed = job("j", JobKind::Capture, JobStatus::Failed);
        failed.error = Some("boom".into());
        assert_eq!(
            settled(&r, &failed).and_then(|n| n.fail_reason).as_deref(),
            Some("boom")
        );
        let cancelled = job("j", JobKind::Capture, JobStatus::Cancelled);
        assert_eq!(
            settled(&r, &cancelled)
                .and_then(|n| n.fail_reason)
                .as_deref(),
            Some(reasons::CANCELLED)
        );
        assert_eq!(
            settled(&r, &job("j", JobKind::Capture, JobStatus::InProgress)),
            None
        );
    }

    #[test]
    fn restoring_means_an_active_restore_of_that_stored_backup() {
        let mut restore = job("r", JobKind::Restore, JobStatus::InProgress);
        restore.source_backup = Some("host-b".into());
        assert!(restoring(std::slice::from_ref(&restore), "host-b"));
        assert!(!restoring(std::slice::from_ref(&restore), "host-c"));
        restore.status = JobStatus::Completed;
        assert!(!restoring(&[restore], "host-b"));
        let mut capture = job("c", JobKind::Capture, JobStatus::Queued);
        capture.source_backup = Some("host-b".into());
        assert!(!restoring(&[capture], "host-b"));
    }

    #[test]
    fn size_is_whole_gib_rounded_up_of_logical_or_new_bytes() {
        let b = stored_backup("b", "vol", 3 * GIB + 1, 1000);
        assert_eq!(size_gb(false, Some(&b)), 4);
        assert_eq!(size_gb(true, Some(&b)), 1);
        let unchanged = stored_backup("b", "vol", 5 * GIB, 0);
        assert_eq!(size_gb(true, Some(&unchanged)), 0);
        assert_eq!(size_gb(false, Some(&unchanged)), 5);
        assert_eq!(size_gb(false, None), 0);
        let exact = stored_backup("b", "vol", GIB, GIB);
        assert_eq!(size_gb(false, Some(&exact)), 1);
    }

    #[test]
    fn backup_object_has_the_documented_fields_in_order() {
        let e = entry(
            Status::Available,
            Some(stored_backup("host-b", "vol", 100, 100)),
        );
        let doc = to_json(&e, true);
        let keys: Vec<&str> = doc
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "id",
                "crn",
                "name",
                "description",
                "status",
                "volume_id",
                "size",
                "container",
                "is_incremental",
                "has_dependent_backups",
                "snapshot_id",
                "metadata",
                "created_at",
                "updated_at"
            ]
        );
        assert_eq!(
            doc,
            json!({
                "id": "11111111-1111-4111-8111-111111111111",
                "crn": "crn:spo1:storage:backup:11111111-1111-4111-8111-111111111111",
                "name": "nightly",
                "description": null,
                "status": "available",
                "volume_id": "vol",
                "size": 1,
                "container": null,
                "is_incremental": false,
                "has_dependent_backups": true,
                "snapshot_id": null,
                "metadata": { "team": "backend" },
                "created_at": "2026-04-27T10:00:00Z",
                "updated_at": "2026-04-27T10:01:30Z",
            })
        );
    }

    #[test]
    fn error_backups_say_why() {
        let mut e = entry(Status::Error, None);
        e.fail_reason = Some("cannot read the source".into());
        let doc = to_json(&e, false);
        assert_eq!(doc["fail_reason"], "cannot read the source");
        assert_eq!(doc["size"], 0);
        let creating = to_json(&entry(Status::Creating, None), false);
        assert!(creating.get("fail_reason").is_none());
    }

    #[test]
    fn records_tolerate_missing_fields() {
        let parsed: BackupRecord =
            serde_json::from_str(r#"{"fields":{"id":"x"},"job_id":"j"}"#).expect("parses");
        assert_eq!(parsed.fields.id, "x");
        assert_eq!(parsed.job_id, "j");
        assert!(!parsed.deleting && parsed.backup_id.is_none());
        assert!(parsed.fields.metadata.is_empty());
    }
}
