//! `POST /v1/backups/{backup_id}/restore`: write a backup's bytes back to a volume, as an
//! exclusive host restore job on that volume → 202 `{volume_id}`.
//!
//! With `volume_id`, the volume must exist (404) and be `available` (409, see
//! [`crate::volumes`]). Without it, a new volume is created (`resources.create`, named
//! `name` or Cinder's `restore_backup_<id>`, its `size` the backup's in GB) and restored into.
//! The backup must be `available` (409 while `creating`, `restoring`, `deleting` or in
//! `error`), and the host refuses (409) a restore while a capture or restore of the target
//! volume is queued or running. The backup shows `restoring` until the job finishes. Restoring
//! an incremental backup needs nothing more: the host reassembles its chunks.

use backup_gateway_sdk::Host;
use backup_gateway_sdk::{
    HostError, Request, Response,
    jobs::{JobKind, JobSpec},
};
use serde_json::json;

use crate::backups::find;
use crate::catalog;
use crate::errors::ApiError;
use crate::record::{Entry, GIB, Status};
use crate::store::{VOLUME_KIND, find_volume};
use crate::validate;
use crate::volumes::{self, RESTORE_REFUSED};

/// Summary of a 409 refusing to restore a backup in the wrong status.
pub const BACKUP_NOT_RESTORABLE: &str = "Backup is not in a state that allows restore";

/// `POST /v1/backups/{backup_id}/restore` → 202 `{volume_id}`.
pub fn restore(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let body = validate::restore_body(req)?;
    let stored = find(store, req)?;
    let active = catalog::active_jobs(store)?;
    let entry = catalog::resolve(store, stored, &active, None)?;
    let backup = match (&entry.backup, entry.status) {
        (Some(b), Status::Available) => b.clone(),
        _ => {
            return Err(ApiError::conflict(
                BACKUP_NOT_RESTORABLE,
                format!(
                    "Backup '{}' is {}; only an available backup can be restored.",
                    entry.id(),
                    entry.status.as_str()
                ),
            ));
        }
    };

    let (volume_id, created) = match &body.volume_id {
        Some(id) => {
            let volume = find_volume(store, id)?;
            volumes::check_restore_target(&volume)?;
            (volume.id, false)
        }
        None => (new_volume(store, &entry, body.name.as_deref())?, true),
    };

    let spec = JobSpec {
        kind: JobKind::Restore,
        resource_kind: VOLUME_KIND.into(),
        resource_id: volume_id.clone(),
        source_backup: Some(backup.id.clone()),
        deduplicate: false,
        exclusive: true,
        filename: backup.filename.clone(),
        media_type: backup.media_type.clone(),
        metadata: json!({ "backup_id": entry.id() }).to_string(),
    };
    let job = match store.create_job(&spec) {
        Ok(job) => job,
        Err(e) => {
            if created
                && let Err(state) = store.set_resource_state(VOLUME_KIND, &volume_id, "error")
            {
                store.warn(&format!(
                    "marking new volume {volume_id} as error failed: {state:?}"
                ));
            }
            return Err(restore_refused(store, &entry, &volume_id, &e));
        }
    };

    // Remember the restore on the backup (best effort: its status comes from the job).
    let mut stored = entry.stored;
    stored.record.last_restore_job = Some(job.id);
    stored.record.updated_at = stored.record.updated_at.max(req.received_at);
    if let Err(e) = catalog::save(store, &mut stored) {
        store.warn(&format!(
            "recording the restore of backup {} failed: {e:?}",
            stored.record.fields.id
        ));
    }
    Ok(Response::json(202, &json!({ "volume_id": volume_id })))
}

/// Create the volume a restore without `volume_id` writes to.
fn new_volume(store: &impl Host, entry: &Entry, name: Option<&str>) -> Result<String, ApiError> {
    let id = store.uuid_v4();
    let name = name.map_or_else(|| format!("restore_backup_{}", entry.id()), str::to_string);
    let size = entry.backup.as_ref().map_or(0, |b| b.size.div_ceil(GIB));
    let attributes = json!({
        "size": size,
        "region": entry.fields().region,
        "restored_from_backup_id": entry.id(),
    });
    let volume = store
        .create_resource(VOLUME_KIND, &id, &name, &attributes.to_string())
        .map_err(|e| {
            store.warn(&format!("creating a volume to restore into failed: {e:?}"));
            ApiError::from_host(&e)
        })?;
    Ok(volume.id)
}

/// A refused restore job.
fn restore_refused(
    store: &impl Host,
    entry: &Entry,
    volume_id: &str,
    error: &HostError,
) -> ApiError {
    match error {
        HostError::Conflict(_) => ApiError::conflict(
            RESTORE_REFUSED,
            format!("Volume '{volume_id}' has a backup or restore in progress."),
        ),
        // The stored backup went between the status check and the job.
        HostError::NotFound => ApiError::backup_not_found(entry.id()),
        other => {
            store.warn(&format!(
                "queueing a restore of backup {} into volume {volume_id} failed: {other:?}",
                entry.id()
            ));
            ApiError::from_host(other)
        }
    }
}
