//! `/v1/backups` and `/v1/backups/{backup_id}`: create (a deduplicated capture job), list,
//! get and delete.
//!
//! **Create** validates the body (400), finds the volume (404), checks its state (409, see
//! [`crate::volumes`]), picks an incremental backup's parent (400 when there is none), mints
//! the id, queues an exclusive, deduplicated capture (409 when a capture or restore of the
//! volume is already queued or running) and records the backup → 202 `{backup}` `creating`.
//!
//! **Delete** is refused (409) while the backup is `creating` or `restoring`, and while a
//! backup that is not in `error` builds on it. It marks the record `deleting` first (so no
//! new incremental backup or restore can start from it), checks again, then deletes the
//! stored backup and the record → 202 with no body. A delete that fails half-way leaves the
//! backup `deleting`; repeating the DELETE finishes it.

use backup_gateway_sdk::Host;
use backup_gateway_sdk::{
    HostError, Request, Response,
    jobs::{JobKind, JobSpec},
};
use serde_json::{Value, json};

use crate::catalog;
use crate::errors::ApiError;
use crate::listing::{self, ListQuery};
use crate::record::{self, BackupRecord, COLLECTION, Entry, Fields, Status, StoredRecord};
use crate::store::{self, VOLUME_KIND};
use crate::validate;
use crate::volumes::{self, BACKUP_REFUSED};

/// Media type of a volume image.
pub const IMAGE_MEDIA_TYPE: &str = "application/octet-stream";

/// The `details` of the 400 for an incremental backup without a parent (Cinder's wording).
pub const NO_PARENT: &str = "No backups available to do an incremental backup.";

/// The record `{backup_id}` names; 404 when the caller's org has none.
pub fn find(store: &impl Host, req: &Request) -> Result<StoredRecord, ApiError> {
    let raw = req.param("backup_id").unwrap_or_default();
    let id = validate::uuid(raw).ok_or_else(|| ApiError::backup_not_found(raw))?;
    catalog::load(store, &id)?.ok_or_else(|| ApiError::backup_not_found(raw))
}

/// `POST /v1/backups` → 202 `{backup}`.
pub fn create(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let body = validate::create_body(req)?;
    let volume = store::find_volume(store, &body.volume_id)?;
    volumes::check_backup(&volume, body.force)?;
    let parent_id = if body.incremental {
        Some(parent_of(store, &volume.id)?)
    } else {
        None
    };

    let fields = Fields {
        id: store.uuid_v4(),
        volume_id: volume.id.clone(),
        region: volumes::region_of(&volume),
        name: body.name,
        description: body.description,
        container: body.container,
        incremental: body.incremental,
        parent_id,
        snapshot_id: body.snapshot_id,
        force: body.force,
        metadata: body.metadata,
        created_at: req.received_at,
    };
    let metadata = serde_json::to_string(&fields).map_err(|e| {
        store.warn(&format!("backup fields do not serialise: {e}"));
        ApiError::internal()
    })?;
    let spec = JobSpec {
        kind: JobKind::Capture,
        resource_kind: VOLUME_KIND.into(),
        resource_id: volume.id.clone(),
        source_backup: None,
        // Every capture is chunked, so full backups share their chunks with later
        // incremental ones.
        deduplicate: true,
        exclusive: true,
        filename: format!("backup-{}.img", fields.id),
        media_type: IMAGE_MEDIA_TYPE.into(),
        metadata,
    };
    let job = store
        .create_job(&spec)
        .map_err(|e| capture_refused(store, &volume.id, &e))?;

    let mut stored = record::stored(
        BackupRecord {
            fields,
            job_id: job.id.clone(),
            updated_at: req.received_at,
            ..BackupRecord::default()
        },
        0,
    );
    if let Err(e) = catalog::save(store, &mut stored) {
        store.warn(&format!(
            "recording backup {} failed, cancelling its capture: {e:?}",
            stored.record.fields.id
        ));
        if let Err(cancel) = store.cancel_job(&job.id) {
            store.warn(&format!("cancelling capture {} failed: {cancel:?}", job.id));
        }
        return Err(ApiError::from_host(&e));
    }
    if let Some(parent) = &stored.record.fields.parent_id {
        still_a_parent(store, &stored, parent)?;
    }
    let entry = Entry {
        status: Status::Creating,
        backup: None,
        fail_reason: None,
        updated_at: req.received_at,
        stored,
    };
    Ok(Response::json(
        202,
        &json!({ "backup": record::to_json(&entry, false) }),
    ))
}

/// The parent of a new incremental backup of `volume_id`: its newest backup whose data
/// exists (`available`, or `restoring` from); 400 when it has none.
fn parent_of(store: &impl Host, volume_id: &str) -> Result<String, ApiError> {
    let active = catalog::active_jobs(store)?;
    let index: catalog::BackupIndex = store::volume_backups(store, Some(volume_id))
        .map_err(|e| ApiError::from_host(&e))?
        .into_iter()
        .map(|b| (b.id.clone(), b))
        .collect();
    let mut best: Option<Entry> = None;
    for stored in catalog::load_all(store)? {
        if stored.record.fields.volume_id != volume_id {
            continue;
        }
        let entry = catalog::resolve(store, stored, &active, Some(&index))?;
        if entry.status.has_data()
            && best
                .as_ref()
                .is_none_or(|b| entry.sort_key() > b.sort_key())
        {
            best = Some(entry);
        }
    }
    best.map(|e| e.id().to_string())
        .ok_or_else(|| ApiError::bad_request(NO_PARENT))
}

/// After recording an incremental backup: if its parent started being deleted meanwhile
/// (the delete checked for dependents before this record existed), withdraw it → 409. A
/// parent that cannot be read withdraws it too (→ the read's error, e.g. 503): an
/// incremental backup must never outlive its parent.
fn still_a_parent(store: &impl Host, child: &StoredRecord, parent: &str) -> Result<(), ApiError> {
    let alive = catalog::load(store, parent).map(|p| p.is_some_and(|p| !p.record.deleting));
    if alive == Ok(true) {
        return Ok(());
    }
    if let Err(e) = store.cancel_job(&child.record.job_id) {
        store.warn(&format!(
            "cancelling capture {} failed: {e:?}",
            child.record.job_id
        ));
    }
    // Whatever was written since (a settled outcome): the record goes with its capture.
    if let Err(e) = store.delete_document(COLLECTION, &child.record.fields.id, None) {
        store.warn(&format!(
            "withdrawing backup record {} failed: {e:?}",
            child.record.fields.id
        ));
    }
    Err(alive.err().unwrap_or_else(|| {
        ApiError::conflict(
            BACKUP_REFUSED,
            format!("The parent backup '{parent}' is being deleted; retry the incremental backup."),
        )
    }))
}

/// A refused capture job: the host's conflict is another capture or restore of the volume.
fn capture_refused(store: &impl Host, volume_id: &str, error: &HostError) -> ApiError {
    match error {
        HostError::Conflict(_) => ApiError::conflict(
            BACKUP_REFUSED,
            format!("Volume '{volume_id}' has a backup or restore in progress."),
        ),
        HostError::NotFound => ApiError::volume_not_found(volume_id),
        other => {
            store.warn(&format!(
                "queueing a capture of volume {volume_id} failed: {other:?}"
            ));
            ApiError::from_host(other)
        }
    }
}

/// `GET /v1/backups` → `{backups, meta, links}`.
pub fn list(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let query = ListQuery::parse(req)?;
    let active = catalog::active_jobs(store)?;
    let mut entries = catalog::resolve_all(store, &active)?;
    listing::sort(&mut entries);
    let parents = catalog::live_parents(&entries);
    let page = listing::page(&query, &entries)?;
    let backups: Vec<Value> = page
        .items
        .iter()
        .map(|e| record::to_json(e, parents.contains(e.id())))
        .collect();
    Ok(Response::json(
        200,
        &json!({ "backups": backups, "meta": page.meta, "links": page.links }),
    ))
}

/// `GET /v1/backups/{backup_id}` → `{backup}`.
pub fn get(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let stored = find(store, req)?;
    let active = catalog::active_jobs(store)?;
    let entry = catalog::resolve(store, stored, &active, None)?;
    let dependents = catalog::find_dependents(store, entry.id(), &active)?;
    Ok(Response::json(
        200,
        &json!({ "backup": record::to_json(&entry, dependents) }),
    ))
}

/// Summary of a 409 refusing a delete.
const DELETE_REFUSED: &str = "Backup is not in a state that allows deletion";

/// The 409 for deleting a backup others build on.
fn has_dependents(id: &str) -> ApiError {
    ApiError::conflict(
        DELETE_REFUSED,
        format!("Incremental backups exist for backup '{id}'; delete them first."),
    )
}

/// `DELETE /v1/backups/{backup_id}` → 202.
pub fn delete(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let stored = find(store, req)?;
    let active = catalog::active_jobs(store)?;
    let entry = catalog::resolve(store, stored, &active, None)?;
    let id = entry.id().to_string();
    if matches!(entry.status, Status::Creating | Status::Restoring) {
        return Err(ApiError::conflict(
            DELETE_REFUSED,
            format!(
                "Backup '{id}' is {}; only an available or error backup can be deleted.",
                entry.status.as_str()
            ),
        ));
    }
    if catalog::find_dependents(store, &id, &active)? {
        return Err(has_dependents(&id));
    }

    let mut stored = entry.stored.clone();
    if !stored.record.deleting {
        stored.record.deleting = true;
        stored.record.updated_at = stored.record.updated_at.max(req.received_at);
        catalog::save(store, &mut stored).map_err(|e| changed_while_deleting(&id, e))?;
        // A restore or an incremental backup that started before the mark.
        let active = catalog::active_jobs(store)?;
        let restoring = entry
            .backup
            .as_ref()
            .is_some_and(|b| record::restoring(&active, &b.id));
        let dependents = catalog::find_dependents(store, &id, &active)?;
        if restoring || dependents {
            stored.record.deleting = false;
            if let Err(e) = catalog::save(store, &mut stored) {
                store.warn(&format!("unmarking backup {id} as deleting failed: {e:?}"));
            }
            if dependents {
                return Err(has_dependents(&id));
            }
            return Err(ApiError::conflict(
                DELETE_REFUSED,
                format!(
                    "Backup '{id}' is restoring; only an available or error backup can be deleted."
                ),
            ));
        }
    }

    if let Some(backup) = &entry.backup {
        store.delete_backup(&backup.id).map_err(|e| {
            store.warn(&format!(
                "deleting stored backup {} failed: {e:?}",
                backup.id
            ));
            ApiError::from_host(&e)
        })?;
    }
    // At the revision marked (or read): a record written since is someone else's news.
    catalog::delete(store, &stored).map_err(|e| {
        store.warn(&format!("deleting backup record {id} failed: {e:?}"));
        changed_while_deleting(&id, e)
    })?;
    Ok(Response::empty(202))
}

/// A failed write of a record being deleted: its conflict is a change since it was read.
fn changed_while_deleting(id: &str, e: HostError) -> ApiError {
    match e {
        HostError::Conflict(_) => ApiError::conflict(
            DELETE_REFUSED,
            format!("Backup '{id}' changed while it was being deleted; retry."),
        ),
        other => ApiError::from_host(&other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{T0, record, volume};
    use backup_gateway_sdk::jobs::JobStatus;
    use backup_gateway_sdk::testing::{FakeHost, Import};

    const VOL: &str = "aaaaaaaa-0000-4000-8000-000000000001";

    /// A parent record, and a child whose capture is queued and whose record is saved.
    fn parent_and_child(store: &FakeHost) -> (StoredRecord, StoredRecord) {
        let mut parent = record::stored(record("parent", VOL, T0), 0);
        catalog::save(store, &mut parent).expect("saved");
        let job = crate::testing::insert_job(store, JobKind::Capture, VOL, None, JobStatus::Queued);
        let mut child = record::stored(record("child", VOL, T0 + 1), 0);
        child.record.job_id = job.id;
        child.record.fields.parent_id = Some("parent".into());
        catalog::save(store, &mut child).expect("saved");
        (parent, child)
    }

    #[test]
    fn a_live_parent_keeps_its_new_child() {
        let store = FakeHost::with_resources(vec![volume(VOL, "available")]);
        let (_, child) = parent_and_child(&store);
        assert_eq!(still_a_parent(&store, &child, "parent"), Ok(()));
        assert!(catalog::load(&store, "child").expect("read").is_some());
    }

    #[test]
    fn a_child_of_a_parent_being_deleted_is_withdrawn() {
        let store = FakeHost::with_resources(vec![volume(VOL, "available")]);
        let (mut parent, child) = parent_and_child(&store);
        parent.record.deleting = true;
        catalog::save(&store, &mut parent).expect("marked");
        let error = still_a_parent(&store, &child, "parent").expect_err("withdrawn");
        assert_eq!((error.status, error.message), (409, BACKUP_REFUSED));
        assert_eq!(
            error.details,
            "The parent backup 'parent' is being deleted; retry the incremental backup."
        );
        assert!(catalog::load(&store, "child").expect("read").is_none());
        assert_eq!(
            store
                .job(&child.record.job_id)
                .expect("read")
                .map(|j| j.status),
            Some(JobStatus::Cancelled)
        );
        // A parent that is gone altogether withdraws it too.
        store
            .delete_document(COLLECTION, "parent", None)
            .expect("deleted");
        let (_, orphan) = parent_and_child(&store);
        store
            .delete_document(COLLECTION, "parent", None)
            .expect("deleted");
        assert!(still_a_parent(&store, &orphan, "parent").is_err());
    }

    #[test]
    fn a_parent_that_cannot_be_read_withdraws_the_child_as_503() {
        let store = FakeHost::with_resources(vec![volume(VOL, "available")]);
        let (_, child) = parent_and_child(&store);
        store.fail_next_on(Import::DocumentsGet, COLLECTION, 1, HostError::Unavailable);
        let error = still_a_parent(&store, &child, "parent").expect_err("withdrawn");
        assert_eq!(error.status, 503);
        assert!(catalog::load(&store, "child").expect("read").is_none());
    }
}
