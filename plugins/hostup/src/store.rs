//! What the operations read from the host about a VPS — its backups, how many, and which of
//! its jobs are in flight — over the SDK's [`Host`].

use backup_gateway_sdk::{
    Host, HostError,
    backups::{Backup, Query as BackupQuery},
    jobs::{JobKind, JobStatus, Query as JobQuery},
    paging::{self, PAGE_LIMIT},
};

/// Resource kind of every HostUp VPS.
pub const VPS_KIND: &str = "vps";

/// Whether a backup belongs to the VPS `vps_id`.
pub fn belongs_to(backup: &Backup, vps_id: &str) -> bool {
    backup.resource_kind == VPS_KIND && backup.resource_id == vps_id
}

/// A failed host call, logged into the host's trace (clients only see HostUp's wording).
pub fn logged(host: &impl Host, what: &str, e: HostError) -> HostError {
    host.warn(&format!("{what} failed: {e:?}"));
    e
}

/// Every backup of a VPS, newest first, paging through the host's cap. The first host error
/// ends the listing.
pub fn vps_backups(host: &impl Host, vps_id: &str) -> Result<Vec<Backup>, HostError> {
    let mut all = paging::all_backups(host, &paging::backups_of(VPS_KIND, Some(vps_id), true))
        .map_err(|e| logged(host, "listing backups", e))?;
    // The host filters already; never show another resource's backup even if it did not.
    all.retain(|b| belongs_to(b, vps_id));
    Ok(all)
}

/// How many backups a VPS has (one host call: the page total).
pub fn backup_count(host: &impl Host, vps_id: &str) -> Result<u64, HostError> {
    let query = BackupQuery {
        limit: 1,
        ..paging::backups_of(VPS_KIND, Some(vps_id), true)
    };
    host.backups(&query)
        .map(|page| page.total)
        .map_err(|e| logged(host, "counting backups", e))
}

/// The jobs of a VPS that are queued or running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InFlight {
    /// A capture (backup) is queued or running.
    pub capture: bool,
    /// Any job (capture or restore) is queued or running.
    pub any: bool,
}

/// Which jobs of a VPS are queued or running. A failed lookup is logged and returned: a
/// gate never opens on jobs it could not see.
pub fn in_flight(host: &impl Host, vps_id: &str) -> Result<InFlight, HostError> {
    let jobs = host
        .jobs(&JobQuery {
            kinds: Vec::new(),
            resource_kind: Some(VPS_KIND.into()),
            resource_id: Some(vps_id.into()),
            statuses: vec![JobStatus::Queued, JobStatus::InProgress],
            limit: PAGE_LIMIT,
        })
        .map_err(|e| logged(host, "listing jobs", e))?;
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
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{VPS, backup, job, vps};
    use backup_gateway_sdk::testing::FakeHost;
    use backup_gateway_sdk::testing::Import;

    #[test]
    fn vps_backups_pages_newest_first_and_stays_on_the_vps() {
        let host = FakeHost::with_resources(vec![vps(VPS)]);
        for seq in 1..=7 {
            host.add_backup(backup(seq, VPS));
        }
        host.add_backup(backup(8, "vps_other"));
        host.set_page_cap(3);
        let all = vps_backups(&host, VPS).expect("listed");
        let seqs: Vec<u64> = all.iter().map(|b| b.seq).collect();
        assert_eq!(seqs, [7, 6, 5, 4, 3, 2, 1]);
        assert!(matches!(backup_count(&host, VPS), Ok(7)));
    }

    #[test]
    fn vps_backups_fails_on_any_page() {
        let host = FakeHost::with_resources(vec![vps(VPS)]);
        host.fail_always(Import::BackupsList, HostError::Unavailable);
        assert!(matches!(
            vps_backups(&host, VPS),
            Err(HostError::Unavailable)
        ));
        assert!(matches!(
            backup_count(&host, VPS),
            Err(HostError::Unavailable)
        ));
        assert_eq!(host.warnings().len(), 2);
    }

    #[test]
    fn in_flight_distinguishes_captures_from_restores() {
        let host = FakeHost::with_resources(vec![vps(VPS)]);
        assert_eq!(in_flight(&host, VPS), Ok(InFlight::default()));

        host.add_job(job(1, VPS, JobKind::Restore, JobStatus::InProgress));
        host.add_job(job(2, VPS, JobKind::Capture, JobStatus::Completed));
        host.add_job(job(3, "vps_other", JobKind::Capture, JobStatus::Queued));
        assert_eq!(
            in_flight(&host, VPS),
            Ok(InFlight {
                capture: false,
                any: true
            })
        );

        host.add_job(job(4, VPS, JobKind::Capture, JobStatus::Queued));
        assert_eq!(
            in_flight(&host, VPS),
            Ok(InFlight {
                capture: true,
                any: true
            })
        );
        host.fail_next(Import::JobsList, 1, HostError::Unavailable);
        assert_eq!(in_flight(&host, VPS), Err(HostError::Unavailable));
    }
}
