//! The four operations of the Altostrat Backups API, each confined to one site of the
//! caller's org (the host scopes every lookup; a site of another org is simply not found):
//!
//! - `requestSiteBackup`: queue a capture of the site's configuration → 202;
//! - `listSiteBackups`: the site's backups, newest first, as `BackupFile` objects;
//! - `getSiteBackup`: one backup, in the representation the request headers choose;
//! - `listSiteSubnets`: the subnets configured in the site's latest backup.

use backup_gateway_sdk::{
    Body, Host, Problem, Request, Response,
    backups::Backup,
    jobs::{JobKind, JobSpec},
    resources::Resource,
    rfc3339,
};
use serde_json::{Value, json};

use crate::errors::{self, ApiError, Code};
use crate::format::{attachment_name, backup_file, human_size};
use crate::highlight::highlight;
use crate::manifest::{GET_BACKUP, LIST_BACKUPS, LIST_SUBNETS, REQUEST_BACKUP};
use crate::names;
use crate::store::{self, LoadError, SITE_KIND};
use crate::subnets;

/// Largest backup loaded for the JSON, `X-View` and `X-Highlight` representations (larger
/// ones are served with `X-Download: true` only).
pub const INLINE_LIMIT: u64 = 4 * 1024 * 1024;

/// Largest backup subnet discovery reads.
pub const SUBNET_SCAN_LIMIT: u64 = 8 * 1024 * 1024;

/// Largest body built in the plugin: the host's default response cap (8 MiB). A JSON or HTML
/// rendering that would be larger is refused as `backup_too_large` rather than failing in the
/// host.
pub const RESPONSE_BUDGET: usize = 8 * 1024 * 1024;

/// Media type of a captured export.
const SCRIPT_MEDIA_TYPE: &str = "text/plain";

/// An operation's answer.
type Answer = Result<Response, ApiError>;

/// Serve a routed request.
pub fn handle(host: &impl Host, req: &Request) -> Response {
    let answer = match req.operation.as_str() {
        REQUEST_BACKUP => request_backup(host, req),
        LIST_BACKUPS => list_backups(host, req),
        GET_BACKUP => get_backup(host, req),
        LIST_SUBNETS => list_subnets(host, req),
        _ => Err(errors::problem_error(Problem::NotFound, req)),
    };
    answer.unwrap_or_else(ApiError::into_response)
}

/// `POST /backup/{siteId}`: queue a capture named `<unix seconds>.rsc` (the second the request
/// was received, or the site's next unused one: [`names`]) → 202
/// `{"message": "Backup requested"}`.
fn request_backup(host: &impl Host, req: &Request) -> Answer {
    let site = site(host, req)?;
    if !site.has_source {
        return Err(ApiError::new(
            Code::BackupSourceMissing,
            format!(
                "Site '{}' has no configuration source to back up yet.",
                site.id
            ),
        ));
    }
    let spec = JobSpec {
        kind: JobKind::Capture,
        resource_kind: SITE_KIND.into(),
        resource_id: site.id.clone(),
        source_backup: None,
        deduplicate: false,
        exclusive: false,
        filename: names::reserve(host, &site, req.received_at)?,
        media_type: SCRIPT_MEDIA_TYPE.into(),
        metadata: "{}".into(),
    };
    host.create_job(&spec).map_err(|e| {
        let e = store::logged(host, &format!("creating a capture of site {}", site.id), e);
        ApiError::from_host(&e, ApiError::site_not_found(&site.id))
    })?;
    Ok(Response::json(
        202,
        &json!({ "message": "Backup requested" }),
    ))
}

/// `GET /backup/{siteId}`: every backup of the site, newest first.
fn list_backups(host: &impl Host, req: &Request) -> Answer {
    let site = site(host, req)?;
    let files: Vec<Value> = store::site_backups(host, &site)
        .map_err(|e| ApiError::from_host(&e, ApiError::site_not_found(&site.id)))?
        .iter()
        .map(|b| Value::Object(backup_file(b)))
        .collect();
    Ok(Response::json(200, &Value::Array(files)))
}

/// The representation a `GET /backup/{siteId}/{filename}` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Representation {
    /// `X-Download: true`.
    Download,
    /// `X-Highlight: true`.
    Highlight,
    /// `X-View: true`.
    View,
    /// None of them.
    Json,
}

/// The representation headers, read before anything is looked up. Each is a boolean, as the
/// API documents them: `true` or `false` (any case), or absent; any other value is 400
/// `parameter_invalid` naming the header, since guessing what `yes` or `1` meant could serve
/// a client the wrong thing. The first set one of `X-Download`, `X-Highlight`, `X-View` wins.
fn representation(req: &Request) -> Result<Representation, ApiError> {
    let download = boolean_header(req, "X-Download")?;
    let highlight = boolean_header(req, "X-Highlight")?;
    let view = boolean_header(req, "X-View")?;
    Ok(match (download, highlight, view) {
        (true, _, _) => Representation::Download,
        (_, true, _) => Representation::Highlight,
        (_, _, true) => Representation::View,
        _ => Representation::Json,
    })
}

/// A boolean request header: `true`, `false` (any case, surrounding blanks ignored) or absent.
fn boolean_header(req: &Request, name: &str) -> Result<bool, ApiError> {
    match req.header(&name.to_ascii_lowercase()).map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::new(
            Code::ParameterInvalid,
            format!(
                "The request is invalid: header '{name}' must be 'true' or 'false', not '{}'.",
                errors::clip(v)
            ),
        )),
    }
}

/// `GET /backup/{siteId}/{filename}`, in the [`representation`] the headers choose:
/// `X-Download` (the bytes as an attachment, streamed by the host), `X-Highlight` (an HTML
/// fragment), `X-View` (the raw script); with none, JSON: the `BackupFile` fields plus
/// `content`.
fn get_backup(host: &impl Host, req: &Request) -> Answer {
    let wanted = representation(req)?;
    let site = site(host, req)?;
    let filename = req.param("filename").unwrap_or_default();
    let backup = store::find_backup(host, &site, filename)
        .map_err(|e| ApiError::from_host(&e, ApiError::site_not_found(&site.id)))?
        .ok_or_else(|| ApiError::backup_not_found(filename))?;
    if wanted == Representation::Download {
        return Ok(download(&backup));
    }
    let script = load_script(host, &backup, INLINE_LIMIT, "that can be shown inline")?;
    if wanted == Representation::Highlight {
        let html = highlight(&script, RESPONSE_BUDGET).map_err(|_| renders_too_large(&backup))?;
        return Ok(Response::text(200, "text/html; charset=utf-8", html)
            .with_header("x-content-type-options", "nosniff"));
    }
    if wanted == Representation::View {
        return Ok(Response::text(200, "text/plain; charset=utf-8", script));
    }
    let mut file = backup_file(&backup);
    file.insert("content".into(), script.into());
    let resp = Response::json(200, &Value::Object(file));
    match &resp.body {
        Body::Bytes(b) if b.len() > RESPONSE_BUDGET => Err(renders_too_large(&backup)),
        _ => Ok(resp),
    }
}

/// The stored bytes as an attachment named after the backup.
fn download(backup: &Backup) -> Response {
    Response::backup(&backup.id, None)
        .with_header("content-type", "application/octet-stream")
        .with_header(
            "content-disposition",
            format!(
                "attachment; filename=\"{}\"",
                attachment_name(&backup.filename)
            ),
        )
        .with_header("x-content-type-options", "nosniff")
}

/// `GET /backup/{siteId}/subnets`: the subnets configured in the site's newest backup; 404
/// `no_backup` when it has none yet.
fn list_subnets(host: &impl Host, req: &Request) -> Answer {
    let site = site(host, req)?;
    let latest = store::latest_backup(host, &site)
        .map_err(|e| ApiError::from_host(&e, ApiError::site_not_found(&site.id)))?
        .ok_or_else(|| {
            ApiError::new(
                Code::NoBackup,
                format!(
                    "Site '{0}' has no backup yet, so there is no configuration to discover \
                     subnets from. Request one with POST /backup/{0} and retry once it is listed.",
                    site.id
                ),
            )
        })?;
    let script = load_script(
        host,
        &latest,
        SUBNET_SCAN_LIMIT,
        "that subnet discovery reads",
    )?;
    Ok(Response::json(
        200,
        &json!({
            "site_id": site.id,
            "backup": latest.filename,
            "created_at": rfc3339(latest.created_at, 6),
            "subnets": subnets::from_export(&script),
        }),
    ))
}

/// The site named by the `siteId` path parameter: 400 unless it is a UUID, 404 unless the
/// caller's org has it.
fn site(host: &impl Host, req: &Request) -> Result<Resource, ApiError> {
    let id = req.param("siteId").unwrap_or_default();
    if !is_uuid(id) {
        return Err(ApiError::new(
            Code::InvalidSiteId,
            format!(
                "Invalid site ID '{}': expected a UUID such as a1b2c3d4-e5f6-7890-1234-567890abcdef.",
                errors::clip(id)
            ),
        ));
    }
    store::find_site(host, id)
        .map_err(|e| ApiError::from_host(&e, ApiError::site_not_found(id)))?
        .ok_or_else(|| ApiError::site_not_found(id))
}

/// A hyphenated UUID of any version, in either case.
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A backup's script as text (invalid UTF-8 replaced by U+FFFD), if it is at most `limit`
/// bytes; otherwise `backup_too_large` naming the limit (`what` says what it bounds).
fn load_script(
    host: &impl Host,
    backup: &Backup,
    limit: u64,
    what: &str,
) -> Result<String, ApiError> {
    let bytes = store::load(host, backup, limit).map_err(|e| match e {
        LoadError::TooLarge => too_large(backup, limit, what),
        LoadError::Host(e) => ApiError::from_host(&e, ApiError::backup_not_found(&backup.filename)),
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// 422 `backup_too_large`: the backup is over a load limit.
fn too_large(backup: &Backup, limit: u64, what: &str) -> ApiError {
    ApiError::new(
        Code::BackupTooLarge,
        format!(
            "Backup '{}' is {}, more than the {} {what}. Download it with 'X-Download: true'.",
            backup.filename,
            human_size(backup.size),
            human_size(limit)
        ),
    )
}

/// 422 `backup_too_large`: the rendering would be over [`RESPONSE_BUDGET`].
fn renders_too_large(backup: &Backup) -> ApiError {
    ApiError::new(
        Code::BackupTooLarge,
        format!(
            "Backup '{}' renders to more than {}, the largest response built inline. \
             Download it with 'X-Download: true'.",
            backup.filename,
            human_size(RESPONSE_BUDGET as u64)
        ),
    )
}

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
