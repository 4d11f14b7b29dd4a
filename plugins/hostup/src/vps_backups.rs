//! The VPS backup routes: create (a host capture job, answered with an operation envelope),
//! list (backups plus quota and action gates) and delete.

use backup_gateway_sdk::{
    Host, HostError, Request, Response,
    backups::Backup,
    civil,
    jobs::{Job, JobKind, JobSpec, JobStatus},
    resources::Resource,
    rfc3339,
};
use serde_json::{Value, json};

use crate::gates::{self, Quota};
use crate::ids::{self, BACKUP_PREFIX, JOB_PREFIX};
use crate::problem::{ApiError, BACKUP_IN_PROGRESS, BACKUP_QUOTA_EXCEEDED};
use crate::store::{self, VPS_KIND};
use crate::validation;

/// Media type of a VPS disk image.
const IMAGE_MEDIA_TYPE: &str = "application/octet-stream";
/// `backupType` of backups made through this API (and of any without one recorded).
const MANUAL: &str = "manual";
/// Base of `pollUrl`; HostUp polls jobs outside `/api/v2`.
pub const JOBS_PATH: &str = "/api/jobs/";

/// The VPS the `{id}` path parameter names; 404 when the caller's org has none, 503 when
/// the host cannot tell.
pub fn find_vps(store: &impl Host, req: &Request) -> Result<Resource, ApiError> {
    let id = req
        .param("id")
        .filter(|id| !id.is_empty())
        .ok_or_else(ApiError::not_found)?;
    store
        .resource(VPS_KIND, id)
        .map_err(|e| ApiError::from_host(&store::logged(store, &format!("reading VPS {id}"), e)))?
        .ok_or_else(ApiError::not_found)
}

/// `POST /api/v2/vps/{id}/backups` → 202 operation envelope.
pub fn create(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let body = validation::create_backup(req)?;
    let vps = find_vps(store, req)?;
    let used = store::backup_count(store, &vps.id).map_err(|e| ApiError::from_host(&e))?;
    let quota = Quota::of(&vps, used);
    let in_flight = store::in_flight(store, &vps.id).map_err(|e| ApiError::from_host(&e))?;
    gates::can_create_backup(vps.has_source, in_flight, &quota).check()?;

    let spec = JobSpec {
        kind: JobKind::Capture,
        resource_kind: VPS_KIND.into(),
        resource_id: vps.id.clone(),
        source_backup: None,
        deduplicate: false,
        exclusive: true,
        filename: image_filename(&vps.id, req.received_at),
        media_type: IMAGE_MEDIA_TYPE.into(),
        metadata: json!({ "note": body.note, "backupType": MANUAL }).to_string(),
    };
    let job = store.create_job(&spec).map_err(|e| {
        create_failed(&store::logged(
            store,
            &format!("queueing a capture of {}", vps.id),
            e,
        ))
    })?;
    Ok(Response::json(202, &operation(store, &job)?))
}

/// `<vps id>-<YYYYMMDDTHHMMSSZ>.img`, stamped with when the request was received.
fn image_filename(vps_id: &str, at: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(at / 1_000_000);
    format!("{vps_id}-{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z.img")
}

/// A refused job creation: the host's conflict is a capture already queued, its quota refusal
/// the org's storage quota.
fn create_failed(error: &HostError) -> ApiError {
    match error {
        HostError::Conflict(_) => ApiError::conflict(
            BACKUP_IN_PROGRESS,
            "A backup is already in progress for this VPS.",
        ),
        HostError::QuotaExceeded => ApiError::conflict(
            BACKUP_QUOTA_EXCEEDED,
            "The organization's backup storage quota has been reached.",
        ),
        other => ApiError::from_host(other),
    }
}

/// `{"operation": {status, jobId, pollUrl, result: null}}` for a just-queued job.
fn operation(store: &impl Host, job: &Job) -> Result<Value, ApiError> {
    let job_id = ids::public_id(JOB_PREFIX, &job.id).ok_or_else(|| {
        store.warn(&format!("job id {} is not a UUID", job.id));
        ApiError::internal()
    })?;
    let status = match job.status {
        JobStatus::Queued => "queued",
        JobStatus::InProgress => "in_progress",
        JobStatus::Completed => "completed",
        JobStatus::Failed | JobStatus::Cancelled => "failed",
    };
    Ok(json!({
        "operation": {
            "status": status,
            "jobId": job_id,
            "pollUrl": format!("{JOBS_PATH}{job_id}"),
            "result": null,
        }
    }))
}

/// `GET /api/v2/vps/{id}/backups` → backups newest first, `quotaInfo` and `actions`.
pub fn list(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let vps = find_vps(store, req)?;
    let backups = store::vps_backups(store, &vps.id).map_err(|e| ApiError::from_host(&e))?;
    let in_flight = store::in_flight(store, &vps.id).map_err(|e| ApiError::from_host(&e))?;
    let quota = Quota::of(&vps, backups.len() as u64);
    let can_create = gates::can_create_backup(vps.has_source, in_flight, &quota);
    let can_restore = gates::can_restore(backups.len() as u64, in_flight);
    let items: Vec<Value> = backups
        .iter()
        .filter_map(|b| backup_item(store, b))
        .collect();
    Ok(Response::json(
        200,
        &json!({
            "backups": items,
            "quotaInfo": quota.to_json(),
            "actions": {
                "canCreateBackup": can_create.to_json(),
                "canRestore": can_restore.to_json(),
            },
        }),
    ))
}

/// One backup as HostUp lists it; `None` (logged) for a host id that is not a UUID, which
/// could not be named back.
fn backup_item(store: &impl Host, backup: &Backup) -> Option<Value> {
    let Some(id) = ids::public_id(BACKUP_PREFIX, &backup.id) else {
        store.warn(&format!("backup id {} is not a UUID", backup.id));
        return None;
    };
    let created_at = rfc3339(backup.created_at, 3);
    let metadata: Value = serde_json::from_str(&backup.metadata).unwrap_or(Value::Null);
    let backup_type = metadata
        .get("backupType")
        .and_then(Value::as_str)
        .unwrap_or(MANUAL);
    let note = metadata
        .get("note")
        .and_then(Value::as_str)
        .map_or(Value::Null, |n| Value::String(n.into()));
    Some(json!({
        "id": id,
        "displayId": format!("{created_at} ({})", backup.filename),
        "storageKey": backup.filename,
        "createdAt": created_at,
        "sizeGb": size_gb(backup.size),
        "backupType": backup_type,
        "note": note,
    }))
}

/// Bytes as decimal gigabytes rounded to one decimal.
fn size_gb(bytes: u64) -> f64 {
    (bytes as f64 / 1e8).round() / 10.0
}

/// `DELETE /api/v2/vps/{id}/backups/{backupId}` → 204. A backup of another VPS is as unknown
/// as a missing one.
pub fn delete(store: &impl Host, req: &Request) -> Result<Response, ApiError> {
    let vps = find_vps(store, req)?;
    let host_id = req
        .param("backupId")
        .and_then(|p| ids::host_id(BACKUP_PREFIX, p))
        .ok_or_else(ApiError::not_found)?;
    match store.backup(&host_id) {
        Ok(Some(b)) if store::belongs_to(&b, &vps.id) => {}
        Ok(_) => return Err(ApiError::not_found()),
        Err(e) => {
            let e = store::logged(store, &format!("reading backup {host_id}"), e);
            return Err(ApiError::from_host(&e));
        }
    }
    match store.delete_backup(&host_id) {
        Ok(true) => Ok(Response::empty(204)),
        Ok(false) => Err(ApiError::not_found()),
        Err(e) => {
            let e = store::logged(store, &format!("deleting backup {host_id}"), e);
            Err(ApiError::from_host(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{VPS, backup, backup_uuid, job, request, vps, vps_with};
    use backup_gateway_sdk::Body;
    use backup_gateway_sdk::testing::FakeHost;
    use backup_gateway_sdk::testing::Import;

    const OTHER: &str = "vps_other";

    fn create_request(vps_id: &str, body: &str) -> Request {
        let path = format!("/api/v2/vps/{vps_id}/backups");
        let mut r = request("createVpsBackup", &[("id", vps_id)], &path);
        r.body = body.as_bytes().to_vec();
        r
    }

    fn list_request(vps_id: &str) -> Request {
        let path = format!("/api/v2/vps/{vps_id}/backups");
        request("listVpsBackups", &[("id", vps_id)], &path)
    }

    fn delete_request(vps_id: &str, backup_id: &str) -> Request {
        let path = format!("/api/v2/vps/{vps_id}/backups/{backup_id}");
        request(
            "deleteVpsBackup",
            &[("id", vps_id), ("backupId", backup_id)],
            &path,
        )
    }

    fn public_backup(seq: u64) -> String {
        ids::public_id(BACKUP_PREFIX, &backup_uuid(seq)).expect("UUID")
    }

    fn code(error: &ApiError) -> (u16, &str) {
        (error.status, error.code)
    }

    #[test]
    fn create_queues_a_capture_and_answers_the_operation() {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        let resp =
            create(&store, &create_request(VPS, r#"{"note":"Before upgrade"}"#)).expect("queued");
        assert_eq!(resp.status, 202);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        let created = store.specs();
        let spec = created.first().expect("one job");
        assert_eq!(spec.kind, JobKind::Capture);
        assert_eq!(spec.resource_kind, "vps");
        assert_eq!(spec.resource_id, VPS);
        assert_eq!(spec.source_backup, None);
        assert!(!spec.deduplicate);
        assert!(spec.exclusive, "one capture per VPS at a time");
        // Received at T0 + 1 h = 2026-04-27T11:00:00Z.
        assert_eq!(spec.filename, format!("{VPS}-20260427T110000Z.img"));
        assert_eq!(spec.media_type, "application/octet-stream");
        assert_eq!(
            serde_json::from_str::<Value>(&spec.metadata).ok(),
            Some(json!({ "note": "Before upgrade", "backupType": "manual" }))
        );
        let job_id = ids::public_id(JOB_PREFIX, &store.all_jobs()[0].id).expect("UUID");
        assert_eq!(
            resp.body_json(),
            Some(json!({
                "operation": {
                    "status": "queued",
                    "jobId": job_id,
                    "pollUrl": format!("/api/jobs/{job_id}"),
                    "result": null,
                }
            }))
        );
    }

    #[test]
    fn create_without_a_body_records_a_null_note() {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        assert_eq!(
            create(&store, &create_request(VPS, "")).map(|r| r.status),
            Ok(202)
        );
        let metadata = &store.specs()[0].metadata;
        assert_eq!(
            serde_json::from_str::<Value>(metadata).ok(),
            Some(json!({ "note": null, "backupType": "manual" }))
        );
    }

    #[test]
    fn create_validates_before_looking_up_the_vps() {
        let store = FakeHost::with_resources(Vec::new());
        let error =
            create(&store, &create_request(VPS, r#"{"mode":"suspend"}"#)).expect_err("invalid");
        assert_eq!(code(&error), (400, "invalid_request"));
        let error = create(&store, &create_request(VPS, "{}")).expect_err("unknown");
        assert_eq!(code(&error), (404, "not_found"));
        assert!(store.specs().is_empty());
    }

    #[test]
    fn create_enforces_the_gates() {
        // No capture source.
        let mut sourceless = vps(VPS);
        sourceless.has_source = false;
        let store = FakeHost::with_resources(vec![sourceless]);
        let error = create(&store, &create_request(VPS, "")).expect_err("gate");
        assert_eq!(code(&error), (409, "backup_not_available"));
        assert_eq!(error.title, "Conflict");

        // A capture already queued (a restore alone does not block).
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        store.add_job(job(1, VPS, JobKind::Restore, JobStatus::InProgress));
        assert!(create(&store, &create_request(VPS, "")).is_ok());
        let error = create(&store, &create_request(VPS, "")).expect_err("gate");
        assert_eq!(code(&error), (409, "backup_in_progress"));

        // Quota: 2 allowed, 2 used.
        let store = FakeHost::with_resources(vec![vps_with(VPS, json!({ "backupQuota": 2 }))]);
        store.add_backup(backup(1, VPS));
        store.add_backup(backup(2, VPS));
        store.add_backup(backup(3, OTHER));
        let error = create(&store, &create_request(VPS, "")).expect_err("gate");
        assert_eq!(code(&error), (409, "backup_quota_exceeded"));
        assert!(store.specs().is_empty());
    }

    #[test]
    fn create_maps_host_refusals() {
        let cases = [
            (
                HostError::Conflict("busy".into()),
                409,
                "backup_in_progress",
            ),
            (HostError::QuotaExceeded, 409, "backup_quota_exceeded"),
            (HostError::NotFound, 404, "not_found"),
            (HostError::Unavailable, 503, "service_unavailable"),
            (
                HostError::Invalid("no source".into()),
                500,
                "internal_error",
            ),
        ];
        for (host_error, status, expected) in cases {
            let store = FakeHost::with_resources(vec![vps(VPS)]);
            store.fail_always(Import::JobsCreate, host_error);
            let error = create(&store, &create_request(VPS, "")).expect_err("refused");
            assert_eq!(code(&error), (status, expected));
        }
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        store.fail_always(Import::BackupsList, HostError::Unavailable);
        let error = create(&store, &create_request(VPS, "")).expect_err("refused");
        assert_eq!(code(&error), (503, "service_unavailable"));
    }

    #[test]
    fn list_shows_backups_quota_and_actions() {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        let mut noted = backup(2, VPS);
        noted.metadata = json!({ "note": "Before upgrade", "backupType": "scheduled" }).to_string();
        noted.size = 1_049_999_999;
        store.add_backup(backup(1, VPS));
        store.add_backup(noted);
        store.add_backup(backup(3, OTHER));
        let mut bare = backup(4, VPS);
        bare.metadata = "{}".into();
        bare.size = 0;
        store.add_backup(bare);

        let resp = list(&store, &list_request(VPS)).expect("listed");
        assert_eq!(resp.status, 200);
        let body = resp.body_json().expect("JSON");
        assert_eq!(
            body["backups"][1],
            json!({
                "id": public_backup(2),
                "displayId": format!("2026-04-27T10:02:00.000Z ({VPS}-2.img)"),
                "storageKey": format!("{VPS}-2.img"),
                "createdAt": "2026-04-27T10:02:00.000Z",
                "sizeGb": 1.0,
                "backupType": "scheduled",
                "note": "Before upgrade",
            })
        );
        let ids: Vec<&str> = body["backups"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|b| b["id"].as_str())
            .collect();
        let expected = [public_backup(4), public_backup(2), public_backup(1)];
        assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(body["backups"][0]["sizeGb"], json!(0.0));
        assert_eq!(body["backups"][0]["backupType"], "manual");
        assert_eq!(body["backups"][0]["note"], Value::Null);
        assert_eq!(body["backups"][2]["sizeGb"], json!(12.4));
        assert_eq!(
            body["quotaInfo"],
            json!({ "used": 3, "limit": 3, "remaining": 0 })
        );
        assert_eq!(
            body["actions"],
            json!({
                "canCreateBackup": {
                    "allowed": false,
                    "reason": "The backup quota for this VPS has been reached. Delete a backup before creating a new one.",
                    "code": "backup_quota_exceeded",
                },
                "canRestore": { "allowed": true, "reason": null, "code": null },
            })
        );
    }

    #[test]
    fn list_of_an_idle_vps_without_backups() {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        let body = list(&store, &list_request(VPS))
            .expect("listed")
            .body_json()
            .expect("JSON");
        assert_eq!(
            body,
            json!({
                "backups": [],
                "quotaInfo": { "used": 0, "limit": 3, "remaining": 3 },
                "actions": {
                    "canCreateBackup": { "allowed": true, "reason": null, "code": null },
                    "canRestore": {
                        "allowed": false,
                        "reason": "This VPS has no backups to restore.",
                        "code": "no_backups",
                    },
                },
            })
        );
    }

    #[test]
    fn list_reports_in_flight_jobs_and_missing_sources() {
        let mut sourceless = vps(OTHER);
        sourceless.has_source = false;
        let store = FakeHost::with_resources(vec![vps(VPS), sourceless]);
        store.add_backup(backup(1, VPS));
        store.add_job(job(1, VPS, JobKind::Capture, JobStatus::InProgress));
        let body = list(&store, &list_request(VPS))
            .expect("listed")
            .body_json()
            .expect("JSON");
        assert_eq!(
            body["actions"]["canCreateBackup"]["code"],
            "backup_in_progress"
        );
        assert_eq!(body["actions"]["canRestore"]["code"], "backup_in_progress");

        let body = list(&store, &list_request(OTHER))
            .expect("listed")
            .body_json()
            .expect("JSON");
        assert_eq!(
            body["actions"]["canCreateBackup"]["code"],
            "backup_not_available"
        );
    }

    #[test]
    fn list_refusals() {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        let error = list(&store, &list_request("vps_unknown")).expect_err("unknown");
        assert_eq!(code(&error), (404, "not_found"));
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        store.fail_always(Import::BackupsList, HostError::Unavailable);
        let error = list(&store, &list_request(VPS)).expect_err("down");
        assert_eq!(code(&error), (503, "service_unavailable"));
    }

    #[test]
    fn delete_removes_the_vps_backup() {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        store.add_backup(backup(1, VPS));
        let resp = delete(&store, &delete_request(VPS, &public_backup(1))).expect("deleted");
        assert_eq!(resp.status, 204);
        assert!(matches!(resp.body, Body::Empty));
        assert!(resp.headers.is_empty());
        assert!(store.stored_backups().is_empty());
        let again = delete(&store, &delete_request(VPS, &public_backup(1))).expect_err("gone");
        assert_eq!(code(&again), (404, "not_found"));
    }

    #[test]
    fn delete_hides_foreign_missing_and_malformed_backups() {
        let store = FakeHost::with_resources(vec![vps(VPS), vps(OTHER)]);
        store.add_backup(backup(1, OTHER));
        let mut volume_backup = backup(2, VPS);
        volume_backup.resource_kind = "volume".into();
        store.add_backup(volume_backup);
        let cases = [
            (VPS, public_backup(1)),       // another VPS's backup
            (VPS, public_backup(2)),       // same id, another kind
            (VPS, public_backup(9)),       // unknown
            (VPS, backup_uuid(1)),         // host id, not a public one
            (VPS, "bkp_nope".to_string()), // malformed
            ("vps_unknown", public_backup(1)),
        ];
        for (vps_id, backup_id) in cases {
            let error = delete(&store, &delete_request(vps_id, &backup_id)).expect_err("404");
            assert_eq!(code(&error), (404, "not_found"), "{vps_id} {backup_id}");
        }
        assert_eq!(store.stored_backups().len(), 2);
    }

    #[test]
    fn delete_maps_host_errors() {
        let cases = [
            (HostError::Unavailable, 503, "service_unavailable"),
            (HostError::NotFound, 404, "not_found"),
            (HostError::Conflict("restoring".into()), 409, "conflict"),
            (HostError::Invalid("x".into()), 500, "internal_error"),
        ];
        for (host_error, status, expected) in cases {
            let store = FakeHost::with_resources(vec![vps(VPS)]);
            store.add_backup(backup(1, VPS));
            store.fail_always(Import::BackupsDelete, host_error.clone());
            let error = delete(&store, &delete_request(VPS, &public_backup(1))).expect_err("x");
            assert_eq!(code(&error), (status, expected));

            let store = FakeHost::with_resources(vec![vps(VPS)]);
            store.add_backup(backup(1, VPS));
            store.fail_always(Import::BackupsGet, host_error);
            let error = delete(&store, &delete_request(VPS, &public_backup(1))).expect_err("x");
            assert_eq!(code(&error), (status, expected));
            assert_eq!(store.stored_backups().len(), 1);
        }
    }

    #[test]
    fn sizes_round_to_one_decimal_gigabyte() {
        assert_eq!(size_gb(0), 0.0);
        assert_eq!(size_gb(12_400_000_000), 12.4);
        assert_eq!(size_gb(12_449_999_999), 12.4);
        assert_eq!(size_gb(12_450_000_000), 12.5);
        assert_eq!(size_gb(49_999_999), 0.0);
        assert_eq!(size_gb(50_000_000), 0.1);
    }
}
