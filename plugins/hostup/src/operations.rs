//! Dispatch: one function per operation id, each answering a response or an [`ApiError`],
//! rendered here against the request so every refusal carries its `instance`, `requestId`
//! and `timestamp`.

use backup_gateway_sdk::{Host, Request, Response};

use crate::manifest::{CREATE_VPS_BACKUP, DELETE_VPS_BACKUP, GET_JOB, LIST_VPS, LIST_VPS_BACKUPS};
use crate::problem::ApiError;
use crate::{job_poll, vps, vps_backups};

/// Serve a routed request.
pub fn handle(store: &impl Host, req: &Request) -> Response {
    let answer = match req.operation.as_str() {
        CREATE_VPS_BACKUP => vps_backups::create(store, req),
        LIST_VPS_BACKUPS => vps_backups::list(store, req),
        DELETE_VPS_BACKUP => vps_backups::delete(store, req),
        GET_JOB => job_poll::get_job(store, req),
        LIST_VPS => vps::list_vps(store, req).map(|body| Response::json(200, &body)),
        _ => Err(ApiError::not_found()),
    };
    answer.unwrap_or_else(|error| error.render(req))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{VPS, job, job_uuid, request, vps};
    use backup_gateway_sdk::HostError;
    use backup_gateway_sdk::jobs::{JobKind, JobStatus};
    use backup_gateway_sdk::testing::{FakeHost, Import};
    use serde_json::json;

    #[test]
    fn every_operation_is_dispatched() {
        let store = FakeHost::with_resources(vec![vps(VPS)]);
        let path = format!("/api/v2/vps/{VPS}/backups");
        let cases = [
            (LIST_VPS, 200),
            (LIST_VPS_BACKUPS, 200),
            (CREATE_VPS_BACKUP, 202),
            // An unknown backup and job.
            (DELETE_VPS_BACKUP, 404),
            (GET_JOB, 404),
        ];
        for (operation, status) in cases {
            let req = request(operation, &[("id", VPS)], &path);
            assert_eq!(handle(&store, &req).status, status, "{operation}");
        }
    }

    #[test]
    fn refusals_are_rendered_problems() {
        let store = FakeHost::with_resources(Vec::new());
        let mut req = request(
            LIST_VPS_BACKUPS,
            &[("id", "vps_x")],
            "/api/v2/vps/vps_x/backups",
        );
        req.request_id = "01563e3a-b5d3-d676-4c61-efb99302bd5b".into();
        let resp = handle(&store, &req);
        assert_eq!(resp.status, 404);
        assert_eq!(
            resp.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(
            resp.body_json(),
            Some(json!({
                "type": "https://developer.hostup.se/errors/not_found",
                "title": "Not found",
                "status": 404,
                "detail": "The requested resource could not be found.",
                "code": "not_found",
                "instance": "/api/v2/vps/vps_x/backups",
                "requestId": "req_01arz3ndektsv4rrffq69g5fav",
                "timestamp": "2026-04-27T11:00:00.000Z",
            }))
        );
        let unknown = handle(&store, &request("nope", &[], "/api/v2/nope"));
        assert_eq!(unknown.status, 404);
    }

    /// An operation, its path parameters and path, and the read that fails.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, Import);

    #[test]
    fn a_database_read_in_an_outage_is_the_503_problem() {
        let backups = format!("/api/v2/vps/{VPS}/backups");
        let job_id = crate::ids::public_id(crate::ids::JOB_PREFIX, &job_uuid(1)).expect("UUID");
        let job_path = format!("/api/jobs/{job_id}");
        let backup = [("id", VPS), ("backupId", "bak_x")];
        let cases: [Case; 6] = [
            (
                LIST_VPS_BACKUPS,
                &[("id", VPS)],
                &backups,
                Import::ResourcesGet,
            ),
            (LIST_VPS_BACKUPS, &[("id", VPS)], &backups, Import::JobsList),
            (
                CREATE_VPS_BACKUP,
                &[("id", VPS)],
                &backups,
                Import::JobsList,
            ),
            (DELETE_VPS_BACKUP, &backup, &backups, Import::ResourcesGet),
            (GET_JOB, &[("jobId", &job_id)], &job_path, Import::JobsGet),
            (LIST_VPS, &[], "/api/v2/vps", Import::ResourcesList),
        ];
        for (operation, params, path, import) in cases {
            let store = FakeHost::with_resources(vec![vps(VPS)]);
            store.add_job(job(1, VPS, JobKind::Capture, JobStatus::Queued));
            store.fail_always(import, HostError::Unavailable);
            let mut req = request(operation, params, path);
            req.request_id = "01563e3a-b5d3-d676-4c61-efb99302bd5b".into();
            let resp = handle(&store, &req);
            assert_eq!(
                (resp.status, resp.header("content-type")),
                (503, Some("application/problem+json")),
                "{operation} {import:?}"
            );
            assert_eq!(
                resp.body_json(),
                Some(json!({
                    "type": "https://developer.hostup.se/errors/service_unavailable",
                    "title": "Service unavailable",
                    "status": 503,
                    "detail": "The service is temporarily unavailable. Retry later.",
                    "code": "service_unavailable",
                    "instance": path,
                    "requestId": "req_01arz3ndektsv4rrffq69g5fav",
                    "timestamp": "2026-04-27T11:00:00.000Z",
                })),
                "{operation} {import:?}"
            );
            assert_eq!(store.specs().len(), 0, "{operation} queued a job");
            assert_eq!(store.warnings().len(), 1, "{operation} {import:?}");
        }
    }
}
