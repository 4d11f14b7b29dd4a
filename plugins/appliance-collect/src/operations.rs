//! The collect operations: upload (prepare and complete an ingest), list, download and delete,
//! each answering in the collect envelope. Every operation is confined to the calling system:
//! the principal's subject (its system key) is the resource id of everything it stores and sees.

use backup_gateway_sdk::{
    AuthFailure, Host, HostError, IngestPlan, Request, Response, backups::Backup, paging, rfc3339,
};
use serde_json::{Value, json};

use crate::errors::{
    self, BACKUP_NOT_FOUND, DELETE_FAILED, FETCH_FAILED, ID_REQUIRED, INVALID_ID, LIST_FAILED,
};
use crate::names::{BackupId, UploadName, sanitize_filename};

/// Resource kind every collect backup belongs to; its id is the uploading system's key.
pub const SYSTEM_KIND: &str = "system";

/// Media type recorded when the upload names none.
const DEFAULT_MEDIA_TYPE: &str = "application/octet-stream";

/// An operation's answer; the error side is a ready response too, so `?` can short-circuit.
type Answer = Result<Response, Response>;

/// Serve a routed request (every route but the ingest one).
pub fn handle(host: &impl Host, req: &Request) -> Response {
    let answer = match req.operation.as_str() {
        "list" => list(host, req),
        "download" => download(host, req),
        "delete" => delete(host, req),
        "download-empty" | "delete-empty" => Err(errors::error(400, ID_REQUIRED)),
        _ => Err(errors::error(404, "not found")),
    };
    answer.unwrap_or_else(|refusal| refusal)
}

/// Name an upload: it belongs to the calling system, is named from `X-Filename` (or
/// `backup-<backup_id>`, the UUIDv7 the host will give the backup), and records the request's
/// `Content-Type`.
pub fn prepare_ingest(req: &Request, backup_id: &str) -> Result<IngestPlan, Response> {
    let system = system_key(req)?;
    let name = UploadName::from_header(req.header("x-filename"), backup_id);
    let media_type = req
        .header("content-type")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_MEDIA_TYPE);
    Ok(IngestPlan {
        resource_kind: SYSTEM_KIND.into(),
        resource_id: system.into(),
        filename: name.filename,
        extension: name.extension.into(),
        media_type: media_type.into(),
        metadata: "{}".into(),
    })
}

/// 201 with the stored backup's metadata.
pub fn complete_ingest(stored: &Backup) -> Response {
    errors::envelope(201, "backup stored", backup_metadata(stored))
}

/// `GET /api/systems/backups`: the calling system's backups, newest first. A storage failure on
/// any page fails the whole listing (never a partial one).
fn list(host: &impl Host, req: &Request) -> Answer {
    let system = system_key(req)?;
    let backups: Vec<Value> = system_backups(host, system)
        .map_err(|e| failure(host, "listing backups", &e, LIST_FAILED))?
        .iter()
        .map(backup_metadata)
        .collect();
    Ok(errors::envelope(
        200,
        "backups listed",
        json!({ "backups": backups }),
    ))
}

/// `GET /api/systems/backups/{id}`: the bytes, streamed by the host, as an attachment.
fn download(host: &impl Host, req: &Request) -> Answer {
    let (_, backup) = owned_backup(host, req, FETCH_FAILED)?;
    let mut resp = Response::backup(&backup.id, None)
        .with_header("content-type", "application/octet-stream")
        .with_header("x-content-type-options", "nosniff");
    // Sanitised at ingest; again here in case a record came from elsewhere.
    let filename = sanitize_filename(&backup.filename);
    if !filename.is_empty() {
        resp = resp.with_header(
            "content-disposition",
            format!("attachment; filename=\"{filename}\""),
        );
    }
    Ok(resp)
}

/// `DELETE /api/systems/backups/{id}`.
fn delete(host: &impl Host, req: &Request) -> Answer {
    let (given, backup) = owned_backup(host, req, DELETE_FAILED)?;
    match host.delete_backup(&backup.id) {
        Ok(true) => Ok(errors::envelope(
            200,
            "backup deleted",
            json!({ "id": given }),
        )),
        Ok(false) | Err(HostError::NotFound) => Err(errors::error(404, BACKUP_NOT_FOUND)),
        Err(e) => Err(failure(host, "deleting a backup", &e, DELETE_FAILED)),
    }
}

/// The backup the `{id}` path parameter names, as given and as stored, if the calling system
/// owns it. An id with an extension must carry the one the backup was stored with. A storage
/// failure while looking it up is answered with `failed` (the operation's wording) or 503.
fn owned_backup<'r>(
    host: &impl Host,
    req: &'r Request,
    failed: &str,
) -> Result<(&'r str, Backup), Response> {
    let system = system_key(req)?;
    let given = req.param("id").unwrap_or_default();
    if given.is_empty() {
        return Err(errors::error(400, ID_REQUIRED));
    }
    let id = BackupId::parse(given).ok_or_else(|| errors::error(400, INVALID_ID))?;
    match host.backup(&id.uuid) {
        Ok(Some(b)) if belongs_to(&b, system) && id.matches_extension(&b.extension) => {
            Ok((given, b))
        }
        Ok(_) | Err(HostError::NotFound) => Err(errors::error(404, BACKUP_NOT_FOUND)),
        Err(e) => Err(failure(host, "reading a backup", &e, failed)),
    }
}

/// A storage failure, logged into the host's trace (the client sees only the wording).
fn failure(host: &impl Host, what: &str, e: &HostError, wording: &str) -> Response {
    host.warn(&format!("{what} failed: {e:?}"));
    errors::storage_failure(e, wording)
}

/// Whether a backup was uploaded by the system `subject`.
fn belongs_to(backup: &Backup, subject: &str) -> bool {
    backup.resource_kind == SYSTEM_KIND && backup.resource_id == subject
}

/// Every backup of the system `subject`, newest first. The first host error ends the listing.
fn system_backups(host: &impl Host, subject: &str) -> Result<Vec<Backup>, HostError> {
    let mut all = paging::all_backups(host, &paging::backups_of(SYSTEM_KIND, Some(subject), true))?;
    // The host filters already; never show another system's backup even if it did not.
    all.retain(|b| belongs_to(b, subject));
    Ok(all)
}

/// The calling system's key (the principal's subject); every collect route is authenticated,
/// so its absence is answered as missing credentials.
fn system_key(req: &Request) -> Result<&str, Response> {
    req.principal()
        .map(|p| p.subject.as_str())
        .ok_or_else(|| errors::unauthenticated(AuthFailure::Missing))
}

/// BackupMetadata as the collect API shows it; the id is the host id plus the key extension.
fn backup_metadata(backup: &Backup) -> Value {
    json!({
        "id": format!("{}{}", backup.id, backup.extension),
        "filename": backup.filename,
        "size": backup.size,
        "sha256": backup.sha256,
        "mimetype": backup.media_type,
        "uploaded_at": rfc3339(backup.created_at, 0),
    })
}

#[cfg(test)]
mod tests {
    use backup_gateway_sdk::testing::{FakeHost, Import};
    use backup_gateway_sdk::{Body, Method, Principal};

    use super::*;
    use crate::errors::STORAGE_UNAVAILABLE;

    const SYSTEM: &str = "NETH-0A1B-2C3D";
    const OTHER: &str = "NETH-FFFF-0000";
    const SHA: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";

    /// The fake host storing these backups.
    fn host_with(backups: Vec<Backup>) -> FakeHost {
        let host = FakeHost::new();
        host.set_caller("org-1", SYSTEM);
        for b in backups {
            host.add_backup(b);
        }
        host
    }

    /// The UUIDv7 of backup number `seq`.
    fn uuid(seq: u64) -> String {
        format!("01934fab-bc33-7890-a1b2-{seq:012x}")
    }

    fn backup(seq: u64, system: &str, extension: &str) -> Backup {
        Backup {
            id: uuid(seq),
            seq,
            resource_kind: SYSTEM_KIND.into(),
            resource_id: system.into(),
            filename: format!("daily-{seq}{extension}"),
            extension: extension.into(),
            media_type: "application/octet-stream".into(),
            size: 82_944_000,
            stored_bytes: 82_944_000,
            sha256: SHA.into(),
            created_at: 1_775_960_100_000_000 + seq * 1_000_000,
            subject: system.into(),
            job_id: None,
            metadata: "{}".into(),
        }
    }

    fn request(operation: &str, params: &[(&str, &str)], headers: &[(&str, &str)]) -> Request {
        Request {
            operation: operation.into(),
            method: Method::Get,
            path: "/api/systems/backups".into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            query: Vec::new(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            body: Vec::new(),
            principal: Some(Principal {
                org: "org-1".into(),
                subject: SYSTEM.into(),
                scopes: Vec::new(),
            }),
            request_id: "req-1".into(),
            received_at: 1_775_960_100_000_000,
        }
    }

    fn with_id(operation: &str, id: &str) -> Request {
        request(operation, &[("id", id)], &[])
    }

    fn message(resp: &Response) -> String {
        resp.body_json().unwrap_or_default()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Host errors other than `Unavailable` and `NotFound`, which every operation words alike.
    fn failing_host_errors() -> [HostError; 3] {
        [
            HostError::Conflict("busy".into()),
            HostError::Invalid("bad".into()),
            HostError::QuotaExceeded,
        ]
    }

    /// An envelope error with `data: null`.
    fn assert_error(resp: &Response, status: u16, text: &str) {
        assert_eq!(
            (resp.status, resp.body_json()),
            (
                status,
                Some(json!({ "code": status, "message": text, "data": null }))
            )
        );
        assert_eq!(resp.header("content-type"), Some("application/json"));
    }

    #[test]
    fn prepare_ingest_names_the_upload() {
        let req = request(
            "upload",
            &[],
            &[
                ("content-type", "application/gzip"),
                ("x-filename", "/var/backups/daily backup.TAR.GZ"),
            ],
        );
        let plan = prepare_ingest(&req, &uuid(1)).expect("plan");
        assert_eq!(plan.resource_kind, "system");
        assert_eq!(plan.resource_id, SYSTEM);
        assert_eq!(plan.filename, "daily_backup.TAR.GZ");
        assert_eq!(plan.extension, ".tar.gz");
        assert_eq!(plan.media_type, "application/gzip");
        assert_eq!(plan.metadata, "{}");
    }

    #[test]
    fn prepare_ingest_defaults() {
        let req = request("upload", &[], &[]);
        let backup_id = "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8";
        let plan = prepare_ingest(&req, backup_id).expect("plan");
        assert_eq!(plan.filename, "backup-01934fab-bc33-7890-a1b2-c3d4e5f6a7b8");
        assert_eq!(plan.extension, ".bin");
        assert_eq!(plan.media_type, "application/octet-stream");
    }

    #[test]
    fn prepare_ingest_without_principal_is_401() {
        let mut req = request("upload", &[], &[]);
        req.principal = None;
        let refusal = prepare_ingest(&req, &uuid(1)).expect_err("refused");
        assert_eq!(refusal.status, 401);
        assert_eq!(message(&refusal), "authentication required");
    }

    #[test]
    fn complete_ingest_renders_backup_stored() {
        let mut stored = backup(1, SYSTEM, ".tar.gz");
        stored.id = "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8".into();
        stored.filename = "daily-backup-2026-04-12.tar.gz".into();
        stored.media_type = "application/gzip".into();
        stored.created_at = 1_775_960_100_123_456;
        let resp = complete_ingest(&stored);
        assert_eq!(resp.status, 201);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(
            resp.body_json(),
            Some(json!({
                "code": 201,
                "message": "backup stored",
                "data": {
                    "id": "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8.tar.gz",
                    "filename": "daily-backup-2026-04-12.tar.gz",
                    "size": 82_944_000,
                    "sha256": SHA,
                    "mimetype": "application/gzip",
                    "uploaded_at": "2026-04-12T02:15:00Z",
                },
            }))
        );
    }

    #[test]
    fn list_shows_only_the_callers_backups_newest_first() {
        let host = host_with(vec![
            backup(1, SYSTEM, ".gpg"),
            backup(2, OTHER, ".gpg"),
            backup(3, SYSTEM, ".tar.gz"),
        ]);
        let resp = handle(&host, &request("list", &[], &[]));
        assert_eq!(resp.status, 200);
        let body = resp.body_json().expect("JSON body");
        assert_eq!(body["code"], 200);
        assert_eq!(body["message"], "backups listed");
        let ids: Vec<&str> = body["data"]["backups"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|b| b["id"].as_str())
            .collect();
        assert_eq!(
            ids,
            [format!("{}.tar.gz", uuid(3)), format!("{}.gpg", uuid(1))]
        );
    }

    #[test]
    fn list_of_nothing_is_an_empty_array() {
        let host = host_with(Vec::new());
        let body = handle(&host, &request("list", &[], &[]))
            .body_json()
            .expect("JSON body");
        assert_eq!(body["data"], json!({ "backups": [] }));
    }

    #[test]
    fn list_pages_through_the_host_cap() {
        let host = host_with((1..=7).map(|s| backup(s, SYSTEM, ".gpg")).collect());
        host.set_page_cap(3);
        let body = handle(&host, &request("list", &[], &[]))
            .body_json()
            .expect("JSON body");
        let backups = body["data"]["backups"].as_array().expect("array");
        assert_eq!(backups.len(), 7);
        assert_eq!(backups[0]["id"], format!("{}.gpg", uuid(7)));
        assert_eq!(backups[6]["id"], format!("{}.gpg", uuid(1)));
        assert_eq!(host.calls(Import::BackupsList), 3);
    }

    #[test]
    fn list_maps_host_errors() {
        let mut cases = vec![
            (HostError::Unavailable, 503, STORAGE_UNAVAILABLE),
            (HostError::NotFound, 502, LIST_FAILED),
        ];
        cases.extend(failing_host_errors().map(|e| (e, 502, LIST_FAILED)));
        for (error, status, text) in cases {
            let host = host_with(vec![backup(1, SYSTEM, ".gpg")]);
            host.fail_always(Import::BackupsList, error.clone());
            let resp = handle(&host, &request("list", &[], &[]));
            assert_error(&resp, status, text);
            assert_eq!(host.calls(Import::BackupsList), 1, "{error:?}");
            assert_eq!(host.warnings().len(), 1, "{error:?}");
        }
    }

    #[test]
    fn list_failing_on_a_later_page_fails_the_whole_listing() {
        let host = host_with((1..=7).map(|s| backup(s, SYSTEM, ".gpg")).collect());
        host.set_page_cap(3);
        host.fail_later(Import::BackupsList, 1, usize::MAX, HostError::Unavailable);
        let resp = handle(&host, &request("list", &[], &[]));
        assert_error(&resp, 503, STORAGE_UNAVAILABLE);
        assert_eq!(host.calls(Import::BackupsList), 2);

        host.heal(Import::BackupsList);
        host.fail_later(
            Import::BackupsList,
            1,
            usize::MAX,
            HostError::Invalid("offset".into()),
        );
        let resp = handle(&host, &request("list", &[], &[]));
        assert_error(&resp, 502, LIST_FAILED);
    }

    #[test]
    fn download_streams_the_backup_as_an_attachment() {
        let host = host_with(vec![backup(5, SYSTEM, ".tar.gz")]);
        let id = format!("{}.TAR.GZ", uuid(5).to_uppercase());
        let resp = handle(&host, &with_id("download", &id));
        assert_eq!(resp.status, 200);
        assert!(
            matches!(&resp.body, Body::Backup((id, None)) if *id == uuid(5)),
            "{:?}",
            resp.body
        );
        assert_eq!(
            resp.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            resp.header("content-disposition"),
            Some("attachment; filename=\"daily-5.tar.gz\"")
        );
        // By UUID alone too.
        let bare = handle(&host, &with_id("download", &uuid(5)));
        assert_eq!(bare.status, 200);
    }

    #[test]
    fn download_maps_host_errors() {
        let mut cases = vec![
            (HostError::Unavailable, 503, STORAGE_UNAVAILABLE),
            (HostError::NotFound, 404, BACKUP_NOT_FOUND),
        ];
        cases.extend(failing_host_errors().map(|e| (e, 502, FETCH_FAILED)));
        for (error, status, text) in cases {
            let host = host_with(vec![backup(5, SYSTEM, ".gpg")]);
            host.fail_always(Import::BackupsGet, error);
            let resp = handle(&host, &with_id("download", &format!("{}.gpg", uuid(5))));
            assert_error(&resp, status, text);
            assert!(!matches!(resp.body, Body::Backup(_)));
        }
    }

    #[test]
    fn download_sanitises_the_recorded_filename() {
        let mut stored = backup(5, SYSTEM, ".gpg");
        stored.filename = "evil\"\r\nname.gpg".into();
        let host = host_with(vec![stored]);
        let resp = handle(&host, &with_id("download", &uuid(5)));
        assert_eq!(
            resp.header("content-disposition"),
            Some("attachment; filename=\"evil___name.gpg\"")
        );
    }

    #[test]
    fn download_and_delete_refuse_bad_ids() {
        let host = host_with(vec![backup(5, SYSTEM, ".gpg")]);
        for op in ["download", "delete"] {
            let bad = handle(&host, &with_id(op, "../../etc/passwd"));
            assert_eq!((bad.status, message(&bad)), (400, INVALID_ID.to_string()));
            let empty = handle(&host, &with_id(op, ""));
            assert_eq!(
                (empty.status, message(&empty)),
                (400, ID_REQUIRED.to_string())
            );
            let route = handle(&host, &request(&format!("{op}-empty"), &[], &[]));
            assert_eq!(
                (route.status, message(&route)),
                (400, ID_REQUIRED.to_string())
            );
            assert_eq!(route.body_json().expect("JSON body")["data"], Value::Null);
        }
        assert_eq!(host.stored_backups().len(), 1);
    }

    #[test]
    fn download_and_delete_hide_missing_and_foreign_backups() {
        let host = host_with(vec![backup(5, SYSTEM, ".gpg"), backup(6, OTHER, ".gpg")]);
        let cases = [
            uuid(9),                       // unknown
            format!("{}.gpg", uuid(6)),    // another system's
            format!("{}.tar.gz", uuid(5)), // own, wrong extension
        ];
        for op in ["download", "delete"] {
            for id in &cases {
                let resp = handle(&host, &with_id(op, id));
                assert_eq!(resp.status, 404, "{op} {id}");
                assert_eq!(
                    resp.body_json(),
                    Some(json!({ "code": 404, "message": "backup not found", "data": null }))
                );
            }
        }
        assert_eq!(host.stored_backups().len(), 2);
    }

    #[test]
    fn delete_removes_the_backup_and_echoes_the_id() {
        let host = host_with(vec![backup(5, SYSTEM, ".gpg")]);
        let id = format!("{}.GPG", uuid(5));
        let resp = handle(&host, &with_id("delete", &id));
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.body_json(),
            Some(json!({ "code": 200, "message": "backup deleted", "data": { "id": id } }))
        );
        assert!(host.stored_backups().is_empty());
        let again = handle(&host, &with_id("delete", &id));
        assert_eq!(again.status, 404);
    }

    #[test]
    fn delete_maps_host_errors() {
        let mut cases = vec![
            (HostError::Unavailable, 503, STORAGE_UNAVAILABLE),
            (HostError::NotFound, 404, BACKUP_NOT_FOUND),
        ];
        cases.extend(failing_host_errors().map(|e| (e, 502, DELETE_FAILED)));
        for (error, status, text) in cases {
            let host = host_with(vec![backup(5, SYSTEM, ".gpg")]);
            host.fail_always(Import::BackupsDelete, error);
            let resp = handle(&host, &with_id("delete", &uuid(5)));
            assert_error(&resp, status, text);
        }
    }

    #[test]
    fn delete_lookup_failures_map_host_errors() {
        let mut cases = vec![
            (HostError::Unavailable, 503, STORAGE_UNAVAILABLE),
            (HostError::NotFound, 404, BACKUP_NOT_FOUND),
        ];
        cases.extend(failing_host_errors().map(|e| (e, 502, DELETE_FAILED)));
        for (error, status, text) in cases {
            let host = host_with(vec![backup(5, SYSTEM, ".gpg")]);
            host.fail_always(Import::BackupsGet, error);
            let resp = handle(&host, &with_id("delete", &uuid(5)));
            assert_error(&resp, status, text);
            // Nothing was deleted without a successful lookup.
            assert_eq!(host.stored_backups().len(), 1);
        }
    }

    #[test]
    fn unknown_operation_is_404() {
        let host = host_with(Vec::new());
        let resp = handle(&host, &request("nope", &[], &[]));
        assert_eq!(
            (resp.status, message(&resp)),
            (404, "not found".to_string())
        );
    }
}
