//! Reading and writing backup records, and resolving them against the host (capture job,
//! stored backup, active restores) into [`Entry`]s with a status.
//!
//! A listing resolves every record with three kinds of host calls whatever the number of
//! backups: the records (documents, 1000 a call), the stored volume backups (1000 a call) and
//! the active jobs (one call); only records whose capture has not settled yet cost a job
//! lookup each. Any of these reads failing is logged and answered as the host error it was
//! ([`ApiError::from_host`]: an outage is ByCloud's 503), never as an absent record or job.

use std::collections::{HashMap, HashSet};

use backup_gateway_sdk::{
    Host, HostError, PAGE_LIMIT,
    backups::Backup,
    jobs::{Job, JobStatus, Query as JobQuery},
};

use crate::errors::ApiError;
use crate::record::{self, Entry, RECORDS, Status, StoredRecord};
use crate::store::{self, failed};

/// Stored backups by host id.
pub type BackupIndex = HashMap<String, Backup>;

/// The record of backup `id` (`None`, logged, when it does not parse).
pub fn load(store: &impl Host, id: &str) -> Result<Option<StoredRecord>, ApiError> {
    RECORDS
        .load(store, id)
        .map_err(|e| failed(store, &format!("reading backup record {id}"), &e))
}

/// Every readable record.
pub fn load_all(store: &impl Host) -> Result<Vec<StoredRecord>, ApiError> {
    RECORDS
        .load_all(store)
        .map_err(|e| failed(store, "listing backup records", &e))
}

/// Delete a record that was read, only while it is as read (a conflict otherwise); false
/// when it is gone already.
pub fn delete(store: &impl Host, stored: &StoredRecord) -> Result<bool, HostError> {
    RECORDS.delete_if_unchanged(store, stored)
}

/// Write a record over the revision it was read at (0: it must not exist yet); on success
/// `stored.revision` is the new one.
pub fn save(store: &impl Host, stored: &mut StoredRecord) -> Result<(), HostError> {
    RECORDS.save(store, stored)
}

/// The org's queued and running jobs of this plugin (captures and restores).
pub fn active_jobs(store: &impl Host) -> Result<Vec<Job>, ApiError> {
    let jobs = store
        .jobs(&JobQuery {
            kinds: Vec::new(),
            resource_kind: None,
            resource_id: None,
            statuses: vec![JobStatus::Queued, JobStatus::InProgress],
            limit: PAGE_LIMIT,
        })
        .map_err(|e| failed(store, "listing active jobs", &e))?;
    Ok(jobs.into_iter().filter(record::job_active).collect())
}

/// Every stored volume backup, by host id.
pub fn backup_index(store: &impl Host) -> Result<BackupIndex, ApiError> {
    let all = store::volume_backups(store, None)
        .map_err(|e| failed(store, "listing stored backups", &e))?;
    Ok(all.into_iter().map(|b| (b.id.clone(), b)).collect())
}

/// A stored backup by host id: from the index when it has it, else from the host (a capture
/// may have completed after the index was read).
fn stored_backup(
    store: &impl Host,
    index: Option<&BackupIndex>,
    id: &str,
) -> Result<Option<Backup>, ApiError> {
    if let Some(found) = index.and_then(|i| i.get(id)) {
        return Ok(Some(found.clone()));
    }
    store
        .backup(id)
        .map_err(|e| failed(store, &format!("reading stored backup {id}"), &e))
}

/// Resolve one record: look up what its status depends on, derive it, and write a settled
/// capture's outcome back (best effort).
pub fn resolve(
    store: &impl Host,
    mut stored: StoredRecord,
    active: &[Job],
    index: Option<&BackupIndex>,
) -> Result<Entry, ApiError> {
    let rec = &stored.record;
    let unsettled = rec.backup_id.is_none() && rec.fail_reason.is_none();
    let job = if unsettled {
        store
            .job(&rec.job_id)
            .map_err(|e| failed(store, &format!("reading capture job {}", rec.job_id), &e))?
    } else {
        None
    };
    let host_id = rec.backup_id.clone().or_else(|| {
        job.as_ref()
            .filter(|j| j.status == JobStatus::Completed)
            .and_then(|j| j.backup_id.clone())
    });
    let backup = match &host_id {
        Some(id) => stored_backup(store, index, id)?,
        None => None,
    };
    let restore_active = backup
        .as_ref()
        .is_some_and(|b| record::restoring(active, &b.id));
    let (status, fail_reason) = record::derive(rec, job.as_ref(), backup.as_ref(), restore_active);
    let mut updated_at = rec.updated_at;
    if let Some(j) = &job {
        updated_at = updated_at.max(j.finished_at.unwrap_or(0));
        if let Some(next) = record::settled(rec, j) {
            let before = std::mem::replace(&mut stored.record, next);
            if let Err(e) = save(store, &mut stored) {
                // Someone else wrote it meanwhile; the next read settles it.
                store.warn(&format!(
                    "writing back the outcome of backup {} failed: {e:?}",
                    before.fields.id
                ));
                stored.record = before;
            }
        }
    }
    if let Some(b) = &backup {
        updated_at = updated_at.max(b.created_at);
    }
    Ok(Entry {
        stored,
        status,
        backup,
        fail_reason,
        updated_at,
    })
}

/// Every record, resolved.
pub fn resolve_all(store: &impl Host, active: &[Job]) -> Result<Vec<Entry>, ApiError> {
    let index = backup_index(store)?;
    load_all(store)?
        .into_iter()
        .map(|stored| resolve(store, stored, active, Some(&index)))
        .collect()
}

/// The ids other backups that are not in `error` build on (among resolved entries): those
/// have dependent backups.
pub fn live_parents(entries: &[Entry]) -> HashSet<&str> {
    entries
        .iter()
        .filter(|e| e.status != Status::Error)
        .filter_map(|e| e.fields().parent_id.as_deref())
        .collect()
}

/// Whether another backup that is not in `error` builds on `id` (resolving only the records
/// that name it as their parent).
pub fn find_dependents(store: &impl Host, id: &str, active: &[Job]) -> Result<bool, ApiError> {
    for stored in load_all(store)? {
        if stored.record.fields.parent_id.as_deref() != Some(id) {
            continue;
        }
        if resolve(store, stored, active, None)?.status != Status::Error {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::COLLECTION;
    use crate::record::reasons;
    use crate::testing::{T0, record, stored_backup};
    use backup_gateway_sdk::jobs::JobKind;
    use backup_gateway_sdk::testing::{FakeHost, Import};

    const VOL: &str = "aaaaaaaa-0000-4000-8000-000000000001";

    /// A record whose capture job exists in `store` with `status`.
    fn with_job(store: &FakeHost, id: &str, status: JobStatus) -> StoredRecord {
        let job = crate::testing::insert_job(store, JobKind::Capture, VOL, None, status);
        let mut r = record(id, VOL, T0);
        r.job_id = job.id;
        let mut stored = record::stored(r, 0);
        save(store, &mut stored).expect("saved");
        stored
    }

    #[test]
    fn save_is_compare_and_swap() {
        let store = FakeHost::new();
        let mut a = record::stored(record("id-1", VOL, T0), 0);
        save(&store, &mut a).expect("created");
        assert_eq!(a.revision, 1);
        let mut stale = record::stored(record("id-1", VOL, T0), 0);
        assert!(matches!(
            save(&store, &mut stale),
            Err(HostError::Conflict(_))
        ));
        save(&store, &mut a).expect("updated");
        assert_eq!(a.revision, 2);
        assert_eq!(
            load(&store, "id-1").expect("read").map(|s| s.revision),
            Some(2)
        );
    }

    #[test]
    fn unreadable_records_are_skipped_and_logged() {
        let store = FakeHost::new();
        store
            .put_document(COLLECTION, "bad", "[1,2]", None)
            .expect("put");
        assert!(load(&store, "bad").expect("read").is_none());
        assert!(load_all(&store).expect("listed").is_empty());
        assert!(store.warnings()[0].contains("unreadable record backups/bad"));
    }

    #[test]
    fn a_completed_capture_is_settled_once() {
        let store = FakeHost::new();
        let stored = with_job(&store, "id-1", JobStatus::InProgress);
        let entry = resolve(&store, stored.clone(), &[], None).expect("resolved");
        assert_eq!(entry.status, Status::Creating);
        assert_eq!(entry.stored.revision, 1, "nothing to write back");

        let host = store.complete_capture(&stored.record.job_id, 4096, 4096);
        let entry = resolve(&store, stored.clone(), &[], None).expect("resolved");
        assert_eq!(entry.status, Status::Available);
        assert_eq!(
            entry.backup.as_ref().map(|b| b.id.as_str()),
            Some(host.as_str())
        );
        assert_eq!(entry.stored.revision, 2, "written back");
        let reloaded = load(&store, "id-1").expect("read").expect("record");
        assert_eq!(reloaded.record.backup_id.as_deref(), Some(host.as_str()));

        // Settled records need no job lookup.
        let calls = store.calls(Import::JobsGet);
        let entry = resolve(&store, reloaded, &[], None).expect("resolved");
        assert_eq!(entry.status, Status::Available);
        assert_eq!(store.calls(Import::JobsGet), calls);
    }

    #[test]
    fn a_lost_write_back_is_logged_and_the_status_still_shown() {
        let store = FakeHost::new();
        let stored = with_job(&store, "id-1", JobStatus::InProgress);
        store.complete_capture(&stored.record.job_id, 10, 10);
        let mut stale = stored.clone();
        stale.revision = 0;
        let entry = resolve(&store, stale, &[], None).expect("resolved");
        assert_eq!(entry.status, Status::Available);
        assert_eq!(entry.stored.record.backup_id, None, "not written");
        assert!(
            store
                .warnings()
                .iter()
                .any(|w| w.contains("writing back the outcome of backup id-1"))
        );
    }

    #[test]
    fn the_index_is_used_and_missed_captures_are_looked_up() {
        let store = FakeHost::new();
        let stored = with_job(&store, "id-1", JobStatus::InProgress);
        let index = backup_index(&store).expect("index");
        let host = store.complete_capture(&stored.record.job_id, 10, 10);
        let entry = resolve(&store, stored, &[], Some(&index)).expect("resolved");
        assert_eq!(entry.status, Status::Available);
        assert_eq!(entry.backup.map(|b| b.id), Some(host));
    }

    #[test]
    fn pruned_data_and_failed_lookups() {
        let store = FakeHost::new();
        let stored = with_job(&store, "id-1", JobStatus::InProgress);
        let host = store.complete_capture(&stored.record.job_id, 10, 10);
        assert_eq!(store.delete_backup(&host).ok(), Some(true));
        let entry = resolve(&store, stored.clone(), &[], None).expect("resolved");
        assert_eq!(entry.status, Status::Error);
        assert_eq!(entry.fail_reason.as_deref(), Some(reasons::DATA_GONE));

        let broken = FakeHost::new();
        let stored = with_job(&broken, "id-2", JobStatus::Completed);
        broken.add_backup(stored_backup("b", VOL, 1, 1));
        broken.fail_always(Import::BackupsGet, HostError::Unavailable);
        broken.complete_capture(&stored.record.job_id, 1, 1);
        let error = resolve(&broken, stored, &[], None).expect_err("unavailable");
        assert_eq!(error.status, 503);
    }

    #[test]
    fn unreadable_records_and_jobs_are_503_not_absent() {
        let store = FakeHost::new();
        let stored = with_job(&store, "id-1", JobStatus::InProgress);
        store.fail_next(Import::JobsGet, 1, HostError::Unavailable);
        let error = resolve(&store, stored, &[], None).expect_err("unavailable");
        assert_eq!(error.status, 503);
        for import in [
            Import::DocumentsGet,
            Import::DocumentsList,
            Import::JobsList,
        ] {
            store.fail_next(import, 1, HostError::Unavailable);
            let status = match import {
                Import::DocumentsGet => load(&store, "id-1").err(),
                Import::DocumentsList => load_all(&store).err(),
                _ => active_jobs(&store).err(),
            }
            .map(|e| e.status);
            assert_eq!(status, Some(503), "{import:?}");
        }
        assert_eq!(store.warnings().len(), 4, "{:?}", store.warnings());
    }

    #[test]
    fn restores_show_and_dependents_count_unless_in_error() {
        let store = FakeHost::new();
        let parent = with_job(&store, "parent", JobStatus::InProgress);
        let host = store.complete_capture(&parent.record.job_id, 10, 10);
        let restore = crate::testing::insert_job(
            &store,
            JobKind::Restore,
            VOL,
            Some(&host),
            JobStatus::Queued,
        );
        let active = active_jobs(&store).expect("listed");
        assert_eq!(active.len(), 1);
        let entry = resolve(&store, parent.clone(), &active, None).expect("resolved");
        assert_eq!(entry.status, Status::Restoring);
        store.set_job_status(&restore.id, JobStatus::Completed);
        let active = active_jobs(&store).expect("listed");
        let entry = resolve(&store, entry.stored, &active, None).expect("resolved");
        assert_eq!(entry.status, Status::Available);

        assert!(!find_dependents(&store, "parent", &[]).expect("looked"));
        let mut child = with_job(&store, "child", JobStatus::Failed);
        assert!(!find_dependents(&store, "parent", &[]).expect("looked"));
        child = load(&store, "child").expect("read").unwrap_or(child);
        child.record.fields.parent_id = Some("parent".into());
        save(&store, &mut child).expect("saved");
        assert!(
            !find_dependents(&store, "parent", &[]).expect("looked"),
            "in error"
        );
        let mut live = with_job(&store, "child-2", JobStatus::Queued);
        live.record.fields.parent_id = Some("parent".into());
        save(&store, &mut live).expect("saved");
        assert!(find_dependents(&store, "parent", &[]).expect("looked"));

        let entries = resolve_all(&store, &[]).expect("all");
        assert_eq!(entries.len(), 3);
        let parents = live_parents(&entries);
        assert!(parents.contains("parent"));
        assert_eq!(parents.len(), 1);
    }
}
