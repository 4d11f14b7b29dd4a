//! `GET /api/jobs/{jobId}`: a VPS backup job in the v1-style envelope HostUp documents for job
//! polling (`{success, timestamp, requestId, data}`), mapped from the host's capture job.

use backup_gateway_sdk::{
    Host, HostError, Request, Response,
    backups::Backup,
    jobs::{Job, JobKind, JobStatus},
    rfc3339,
};
use serde_json::{Value, json};

use crate::ids::{self, BACKUP_PREFIX, JOB_PREFIX};
use crate::problem::ApiError;
use crate::store::{VPS_KIND, logged};

/// `queueType` of every VPS backup job.
const QUEUE_TYPE: &str = "vps-backup";
/// `type` of every VPS backup job and its result.
const JOB_TYPE: &str = "backup";
/// `jobName` of every VPS backup job.
const JOB_NAME: &str = "Create VPS backup";
/// `result.error` of a cancelled job.
const CANCELLED: &str = "cancelled";

/// How HostUp names a host job status.
struct Phase {
    /// Queue state: `waiting`, `active`, `completed`, `failed`.
    state: &'static str,
    /// Operation status: `queued`, `in_progress`, `completed`, `failed`.
    status: &'static str,
    /// `progressMessage` when the host recorded none.
    message: &'static str,
}

/// The phase of a host status; a cancelled job is a failed one.
fn phase(status: JobStatus) -> Phase {
    let (state, status, message) = match status {
        JobStatus::Queued => ("waiting", "queued", "Waiting in queue"),
        JobStatus::InProgress => ("active", "in_progress", "Creating backup"),
        JobStatus::Completed => ("completed", "completed", "Backup completed"),
        JobStatus::Failed => ("failed", "failed", "Backup failed"),
        JobStatus::Cancelled => ("failed", "failed", "Backup cancelled"),
    };
    Phase {
        state,
        status,
        message,
    }
}

/// `GET /api/jobs/{jobId}`. Anything but a `job_…` id of a capture job on a VPS is 404.
pub fn get_job(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let public = req.param("jobId").unwrap_or_default();
    let id = ids::host_id(JOB_PREFIX, public).ok_or_else(ApiError::not_found)?;
    let job = store
        .job(&id)
        .map_err(|e| ApiError::from_host(&logged(store, &format!("reading job {id}"), e)))?
        .filter(|j| j.kind == JobKind::Capture && j.resource_kind == VPS_KIND)
        .ok_or_else(ApiError::not_found)?;
    let backup = match (&job.status, &job.backup_id) {
        (JobStatus::Completed, Some(id)) => match store.backup(id) {
            Ok(found) => found,
            // Deleted since: the result still names it, without size or digest.
            Err(HostError::NotFound) => None,
            Err(e) => return Err(ApiError::from_host(&e)),
        },
        _ => None,
    };
    Ok(Response::json(200, &envelope(&job, backup.as_ref(), req)))
}

/// The envelope for a job; `backup` is the one a completed capture produced, if still stored.
fn envelope(job: &Job, backup: Option<&Backup>, req: &Request) -> Value {
    let phase = phase(job.status);
    let percentage = percentage(job);
    let message = if job.progress.message.is_empty() {
        phase.message
    } else {
        job.progress.message.as_str()
    };
    let finished_at = job.finished_at.map(|t| rfc3339(t, 3));
    json!({
        "success": true,
        "timestamp": rfc3339(req.received_at, 3),
        "requestId": ids::request_id(&req.request_id),
        "data": {
            "jobId": ids::public_id(JOB_PREFIX, &job.id),
            "queueType": QUEUE_TYPE,
            "type": JOB_TYPE,
            "state": phase.state,
            "status": phase.status,
            "progress": percentage,
            "progressTextKey": format!("job.progress.{}", phase.state),
            "progressDetails": {
                "percentage": percentage,
                "message": message,
                "current": job.progress.bytes_done,
                "total": job.progress.bytes_total,
            },
            "progressMessage": message,
            "result": result(job, backup, finished_at.as_deref()),
            "isCompleted": job.status == JobStatus::Completed,
            "isFailed": matches!(job.status, JobStatus::Failed | JobStatus::Cancelled),
            "isRunning": job.status == JobStatus::InProgress,
            "isWaiting": job.status == JobStatus::Queued,
            "createdAt": rfc3339(job.created_at, 3),
            "finishedAt": finished_at,
            "jobName": JOB_NAME,
            "vmId": job.resource_id,
            "isScheduled": false,
            "delay": 0,
            "statusKey": format!("job.status.{}", phase.status),
        }
    })
}

/// Percent done, 0–100: 100 only once completed, bytes done over bytes expected before that
/// (capped at 99), 0 while the total is unknown.
fn percentage(job: &Job) -> u64 {
    if job.status == JobStatus::Completed {
        return 100;
    }
    match job.progress.bytes_total {
        Some(total) if total > 0 => {
            let pct = u128::from(job.progress.bytes_done) * 100 / u128::from(total);
            pct.min(99) as u64
        }
        _ => 0,
    }
}

/// `null` until the job finished; then what it produced or why it did not.
fn result(job: &Job, backup: Option<&Backup>, finished_at: Option<&str>) -> Value {
    match job.status {
        JobStatus::Queued | JobStatus::InProgress => Value::Null,
        JobStatus::Completed => json!({
            "success": true,
            "type": JOB_TYPE,
            "result": {
                "backupId": job.backup_id.as_deref().and_then(|id| ids::public_id(BACKUP_PREFIX, id)),
                "sizeBytes": backup.map(|b| b.size),
                "sha256": backup.map(|b| b.sha256.as_str()),
            },
            "timestamp": finished_at,
        }),
        JobStatus::Failed => json!({
            "success": false,
            "type": JOB_TYPE,
            "error": job.error.as_deref().unwrap_or("Backup failed"),
            "timestamp": finished_at,
        }),
        JobStatus::Cancelled => json!({
            "success": false,
            "type": JOB_TYPE,
            "error": CANCELLED,
            "timestamp": finished_at,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SHA, VPS, backup, backup_uuid, job, job_uuid, request, vps};
    use backup_gateway_sdk::testing::{FakeHost, Import};

    fn poll(store: &FakeHost, public: &str) -> Result<Value, ApiError> {
        let path = format!("/api/jobs/{public}");
        let mut req = request("getJob", &[("jobId", public)], &path);
        req.request_id = "01563e3a-b5d3-d676-4c61-efb99302bd5b".into();
        get_job(store, &req).map(|r| {
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("application/json"));
            r.body_json().unwrap_or_default()
        })
    }

    fn public_job(seq: u64) -> String {
        ids::public_id(JOB_PREFIX, &job_uuid(seq)).expect("UUID")
    }

    fn store_with(j: Job) -> FakeHost {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        store.add_job(j);
        store
    }

    #[test]
    fn a_queued_job_in_full() {
        let store = store_with(job(1, VPS, JobKind::Capture, JobStatus::Queued));
        let body = poll(&store, &public_job(1)).expect("found");
        assert_eq!(
            body,
            json!({
                "success": true,
                "timestamp": "2026-04-27T11:00:00.000Z",
                "requestId": "req_01arz3ndektsv4rrffq69g5fav",
                "data": {
                    "jobId": public_job(1),
                    "queueType": "vps-backup",
                    "type": "backup",
                    "state": "waiting",
                    "status": "queued",
                    "progress": 0,
                    "progressTextKey": "job.progress.waiting",
                    "progressDetails": {
                        "percentage": 0,
                        "message": "Waiting in queue",
                        "current": 0,
                        "total": null,
                    },
                    "progressMessage": "Waiting in queue",
                    "result": null,
                    "isCompleted": false,
                    "isFailed": false,
                    "isRunning": false,
                    "isWaiting": true,
                    "createdAt": "2026-04-27T10:00:01.000Z",
                    "finishedAt": null,
                    "jobName": "Create VPS backup",
                    "vmId": VPS,
                    "isScheduled": false,
                    "delay": 0,
                    "statusKey": "job.status.queued",
                }
            })
        );
    }

    #[test]
    fn a_running_job_reports_byte_progress() {
        let mut j = job(1, VPS, JobKind::Capture, JobStatus::InProgress);
        j.progress.bytes_done = 512;
        j.progress.bytes_total = Some(2048);
        j.progress.message = "copying disk".into();
        let data = poll(&store_with(j), &public_job(1)).expect("found")["data"].clone();
        assert_eq!(data["state"], "active");
        assert_eq!(data["status"], "in_progress");
        assert_eq!(data["progress"], 25);
        assert_eq!(
            data["progressDetails"],
            json!({ "percentage": 25, "message": "copying disk", "current": 512, "total": 2048 })
        );
        assert_eq!(data["progressMessage"], "copying disk");
        assert_eq!(data["statusKey"], "job.status.in_progress");
        assert_eq!(
            (data["isRunning"].clone(), data["isWaiting"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(data["result"], Value::Null);
    }

    #[test]
    fn progress_never_reads_100_before_completion() {
        let mut j = job(1, VPS, JobKind::Capture, JobStatus::InProgress);
        j.progress.bytes_done = 5000;
        j.progress.bytes_total = Some(4096);
        assert_eq!(percentage(&j), 99);
        j.progress.bytes_total = Some(0);
        assert_eq!(percentage(&j), 0);
        j.progress.bytes_done = u64::MAX;
        j.progress.bytes_total = Some(u64::MAX);
        assert_eq!(percentage(&j), 99);
        j.status = JobStatus::Completed;
        j.progress.bytes_total = None;
        assert_eq!(percentage(&j), 100);
    }

    #[test]
    fn a_completed_job_names_its_backup() {
        let mut j = job(1, VPS, JobKind::Capture, JobStatus::Completed);
        j.backup_id = Some(backup_uuid(7));
        let store = store_with(j);
        store.add_backup(backup(7, VPS));
        let data = poll(&store, &public_job(1)).expect("found")["data"].clone();
        assert_eq!(data["state"], "completed");
        assert_eq!(data["status"], "completed");
        assert_eq!(data["progress"], 100);
        assert_eq!(data["progressMessage"], "Backup completed");
        assert_eq!(data["isCompleted"], true);
        assert_eq!(data["finishedAt"], "2026-04-27T10:01:31.000Z");
        assert_eq!(
            data["result"],
            json!({
                "success": true,
                "type": "backup",
                "result": {
                    "backupId": ids::public_id(BACKUP_PREFIX, &backup_uuid(7)),
                    "sizeBytes": 12_400_000_000_u64,
                    "sha256": SHA,
                },
                "timestamp": "2026-04-27T10:01:31.000Z",
            })
        );

        // The backup deleted since: still named, without size and digest.
        assert_eq!(store.delete_backup(&backup_uuid(7)).ok(), Some(true));
        let data = poll(&store, &public_job(1)).expect("found")["data"].clone();
        assert_eq!(
            data["result"]["result"],
            json!({
                "backupId": ids::public_id(BACKUP_PREFIX, &backup_uuid(7)),
                "sizeBytes": null,
                "sha256": null,
            })
        );
    }

    #[test]
    fn a_completed_job_when_storage_is_down() {
        let mut j = job(1, VPS, JobKind::Capture, JobStatus::Completed);
        j.backup_id = Some(backup_uuid(7));
        let store = store_with(j);
        store.fail_always(Import::BackupsGet, HostError::Unavailable);
        let error = poll(&store, &public_job(1)).expect_err("down");
        assert_eq!(error.status, 503);
        store.heal(Import::BackupsGet);
        store.fail_always(Import::BackupsGet, HostError::NotFound);
        assert!(poll(&store, &public_job(1)).is_ok());
    }

    #[test]
    fn failed_and_cancelled_jobs() {
        let mut failed = job(1, VPS, JobKind::Capture, JobStatus::Failed);
        failed.error = Some("source unreadable".into());
        let store = store_with(failed);
        store.add_job(job(2, VPS, JobKind::Capture, JobStatus::Cancelled));
        store.add_job(job(3, VPS, JobKind::Capture, JobStatus::Failed));
        let expectations = [
            (1, "source unreadable", "Backup failed"),
            (2, "cancelled", "Backup cancelled"),
            (3, "Backup failed", "Backup failed"),
        ];
        for (seq, error, message) in expectations {
            let data = poll(&store, &public_job(seq)).expect("found")["data"].clone();
            assert_eq!(data["state"], "failed", "{seq}");
            assert_eq!(data["status"], "failed");
            assert_eq!(data["statusKey"], "job.status.failed");
            assert_eq!(data["isFailed"], true);
            assert_eq!(data["isCompleted"], false);
            assert_eq!(data["progressMessage"], message);
            assert_eq!(
                data["result"],
                json!({
                    "success": false,
                    "type": "backup",
                    "error": error,
                    "timestamp": data["finishedAt"],
                })
            );
        }
    }

    #[test]
    fn anything_but_a_vps_capture_job_is_not_found() {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        store.add_job(job(1, VPS, JobKind::Restore, JobStatus::Queued));
        let mut volume = job(2, "vol-1", JobKind::Capture, JobStatus::Queued);
        volume.resource_kind = "volume".into();
        store.add_job(volume);
        store.add_job(job(3, VPS, JobKind::Capture, JobStatus::Queued));
        let cases = [
            public_job(1),
            public_job(2),
            public_job(9),
            job_uuid(3),
            format!("bkp_{}", &public_job(3)[4..]),
            "job_".to_string(),
            "job_01ARZ3NDEKTSV4RRFFQ69G5FAV".to_string(),
            String::new(),
        ];
        for case in cases {
            let error = poll(&store, &case).expect_err(&case);
            assert_eq!((error.status, error.code), (404, "not_found"));
        }
        assert!(poll(&store, &public_job(3)).is_ok());
    }
}
