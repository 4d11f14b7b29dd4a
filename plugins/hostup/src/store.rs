//! What the operations need from the host (VPS resources, their backups and capture jobs),
//! behind a trait so the operations are tested natively against an in-memory fake;
//! [`HostStore`] is the real one, over the host's capabilities.

use backup_gateway_sdk::{
    HostError,
    backups::{self, Backup, Page, Query as BackupQuery},
    jobs::{self, Job, JobKind, JobSpec, JobStatus, Query as JobQuery},
    log,
    resources::{self, Resource},
};

/// Resource kind of every HostUp VPS.
pub const VPS_KIND: &str = "vps";

/// Largest page the host serves for backups and jobs.
const HOST_PAGE_LIMIT: u32 = 1000;

/// The host calls the operations make.
pub trait Store {
    /// The resource of this kind and id, if the caller's org has it.
    fn resource(&self, kind: &str, id: &str) -> Option<Resource>;
    /// Resources of a kind ordered by id, after `after`, at most `limit`.
    fn resources(&self, kind: &str, after: Option<&str>, limit: u32) -> Vec<Resource>;
    /// A page of backups.
    fn backups(&self, query: &BackupQuery) -> Result<Page, HostError>;
    /// A backup by host id.
    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError>;
    /// Delete a backup; false when it did not exist.
    fn delete_backup(&self, id: &str) -> Result<bool, HostError>;
    /// Queue a job.
    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError>;
    /// A job by host id.
    fn job(&self, id: &str) -> Option<Job>;
    /// Jobs matching the query, newest first.
    fn jobs(&self, query: &JobQuery) -> Vec<Job>;
}

/// The host's capabilities. Failures are logged here; clients only see HostUp's wording.
pub struct HostStore;

impl Store for HostStore {
    fn resource(&self, kind: &str, id: &str) -> Option<Resource> {
        resources::get(kind, id)
    }

    fn resources(&self, kind: &str, after: Option<&str>, limit: u32) -> Vec<Resource> {
        resources::list(kind, after, limit)
    }

    fn backups(&self, query: &BackupQuery) -> Result<Page, HostError> {
        backups::list(query).inspect_err(|e| warn(&format!("listing backups failed: {e:?}")))
    }

    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError> {
        backups::get(id).inspect_err(|e| warn(&format!("reading backup {id} failed: {e:?}")))
    }

    fn delete_backup(&self, id: &str) -> Result<bool, HostError> {
        backups::delete(id).inspect_err(|e| warn(&format!("deleting backup {id} failed: {e:?}")))
    }

    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        jobs::create(spec).inspect_err(|e| {
            warn(&format!(
                "queueing a capture of {} failed: {e:?}",
                spec.resource_id
            ))
        })
    }

    fn job(&self, id: &str) -> Option<Job> {
        jobs::get(id)
    }

    fn jobs(&self, query: &JobQuery) -> Vec<Job> {
        jobs::list(query)
    }
}

/// Log a failed host call into the host's trace.
pub fn warn(message: &str) {
    log::log(log::Level::Warn, message);
}

/// Whether a backup belongs to the VPS `vps_id`.
pub fn belongs_to(backup: &Backup, vps_id: &str) -> bool {
    backup.resource_kind == VPS_KIND && backup.resource_id == vps_id
}

/// Every backup of a VPS, newest first, paging through the host's cap. The first host error
/// ends the listing.
pub fn vps_backups(store: &impl Store, vps_id: &str) -> Result<Vec<Backup>, HostError> {
    let mut all: Vec<Backup> = Vec::new();
    loop {
        let page = store.backups(&backup_query(vps_id, all.len() as u64, HOST_PAGE_LIMIT))?;
        let fetched = page.items.len();
        all.extend(page.items);
        if fetched == 0 || all.len() as u64 >= page.total {
            break;
        }
    }
    // The host filters already; never show another resource's backup even if it did not.
    all.retain(|b| belongs_to(b, vps_id));
    Ok(all)
}

/// How many backups a VPS has (one host call: the page total).
pub fn backup_count(store: &impl Store, vps_id: &str) -> Result<u64, HostError> {
    store
        .backups(&backup_query(vps_id, 0, 1))
        .map(|page| page.total)
}

/// The query for a VPS's backups, newest first.
fn backup_query(vps_id: &str, offset: u64, limit: u32) -> BackupQuery {
    BackupQuery {
        resource_kind: Some(VPS_KIND.into()),
        resource_id: Some(vps_id.into()),
        newest_first: true,
        offset,
        limit,
    }
}

/// The jobs of a VPS that are queued or running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InFlight {
    /// A capture (backup) is queued or running.
    pub capture: bool,
    /// Any job (capture or restore) is queued or running.
    pub any: bool,
}

/// Which jobs of a VPS are queued or running.
pub fn in_flight(store: &impl Store, vps_id: &str) -> InFlight {
    let jobs = store.jobs(&JobQuery {
        resource_kind: Some(VPS_KIND.into()),
        resource_id: Some(vps_id.into()),
        statuses: vec![JobStatus::Queued, JobStatus::InProgress],
        limit: HOST_PAGE_LIMIT,
    });
    // The host filters already; check again rather than trust it with a gate.
    let active = jobs.iter().filter(|j| {
        j.resource_kind == VPS_KIND
            && j.resource_id == vps_id
            && matches!(j.status, JobStatus::Queued | JobStatus::InProgress)
    });
    let mut state = InFlight::default();
    for job in active {
        state.any = true;
        state.capture |= job.kind == JobKind::Capture;
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeStore, VPS, backup, job, vps};

    #[test]
    fn vps_backups_pages_newest_first_and_stays_on_the_vps() {
        let mut store = FakeStore::new(vec![vps(VPS)]);
        for seq in 1..=7 {
            store.add_backup(backup(seq, VPS));
        }
        store.add_backup(backup(8, "vps_other"));
        store.page_cap = 3;
        let all = vps_backups(&store, VPS).expect("listed");
        let seqs: Vec<u64> = all.iter().map(|b| b.seq).collect();
        assert_eq!(seqs, [7, 6, 5, 4, 3, 2, 1]);
        assert!(matches!(backup_count(&store, VPS), Ok(7)));
    }

    #[test]
    fn vps_backups_fails_on_any_page() {
        let mut store = FakeStore::new(vec![vps(VPS)]);
        store.backups_error = Some(HostError::Unavailable);
        assert!(matches!(
            vps_backups(&store, VPS),
            Err(HostError::Unavailable)
        ));
        assert!(matches!(
            backup_count(&store, VPS),
            Err(HostError::Unavailable)
        ));
    }

    #[test]
    fn in_flight_distinguishes_captures_from_restores() {
        let store = FakeStore::new(vec![vps(VPS)]);
        assert_eq!(in_flight(&store, VPS), InFlight::default());

        store.add_job(job(1, VPS, JobKind::Restore, JobStatus::InProgress));
        store.add_job(job(2, VPS, JobKind::Capture, JobStatus::Completed));
        store.add_job(job(3, "vps_other", JobKind::Capture, JobStatus::Queued));
        assert_eq!(
            in_flight(&store, VPS),
            InFlight {
                capture: false,
                any: true
            }
        );

        store.add_job(job(4, VPS, JobKind::Capture, JobStatus::Queued));
        assert_eq!(
            in_flight(&store, VPS),
            InFlight {
                capture: true,
                any: true
            }
        );
    }
}
