//! The capabilities a plugin may call (the world's imports), implemented over the metadata
//! database and object storage. Every call is scoped to the org of the request's principal;
//! with no principal (manifest loading, unauthenticated requests) they see nothing.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{backups, clock, documents, ids, jobs, log, resources, types};
use crate::services::Services;
use crate::store::{BackupQuery, BackupRecord, Db, DbError, ResourceRecord, now_micros};

/// Who a plugin call runs for.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The plugin's provider name.
    pub plugin: Arc<str>,
    /// The principal's org, when authenticated.
    pub org: Option<String>,
    /// The principal's subject, when authenticated (recorded as a job's requester).
    pub subject: Option<String>,
    /// The request id, for logs.
    pub request_id: String,
    /// The services, absent while loading.
    pub services: Option<Arc<Services>>,
    /// The runtime the (blocking) call is made from, to run async queries on.
    pub rt: Option<tokio::runtime::Handle>,
}

impl CallContext {
    /// The context of a call made for `req` (its principal's org and subject, its request
    /// id), on the current runtime.
    pub fn for_request(plugin: Arc<str>, services: Arc<Services>, req: &types::Request) -> Self {
        CallContext {
            plugin,
            org: req.principal.as_ref().map(|p| p.org.clone()),
            subject: req.principal.as_ref().map(|p| p.subject.clone()),
            request_id: req.request_id.clone(),
            services: Some(services),
            rt: Some(tokio::runtime::Handle::current()),
        }
    }
}

/// The data of one plugin instance's `Store`: an empty WASI context (no preopens, no
/// environment, no network), the memory limiter and the call's scope.
pub struct InstanceState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: StoreLimits,
    pub(super) ctx: CallContext,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

const MAX_READ: u64 = 1024 * 1024;
const MAX_LIST: u32 = 1000;

impl InstanceState {
    /// The org, services and runtime, when the call is scoped to an org.
    fn scope(&self) -> Option<(&str, &Services, &tokio::runtime::Handle)> {
        match (&self.ctx.org, &self.ctx.services, &self.ctx.rt) {
            (Some(org), Some(s), Some(rt)) => Some((org.as_str(), s.as_ref(), rt)),
            _ => None,
        }
    }

    fn plugin(&self) -> &str {
        &self.ctx.plugin
    }

    /// Run a database call for the caller's org, mapping failures to `unavailable`.
    fn with_db<T>(
        &self,
        f: impl AsyncFnOnce(&Db, &str, &str) -> Result<T, DbError>,
    ) -> Result<T, types::HostError> {
        let (org, services, rt) = self.scope().ok_or(types::HostError::NotFound)?;
        rt.block_on(f(&services.db, org, self.plugin())).map_err(|e| {
            tracing::error!(plugin = self.plugin(), request_id = %self.ctx.request_id, error = %e, "capability call failed");
            types::HostError::Unavailable
        })
    }
}

impl types::Host for InstanceState {}

fn to_resource(r: ResourceRecord) -> resources::Resource {
    resources::Resource {
        kind: r.kind,
        id: r.id,
        name: r.name,
        state: r.state,
        attributes: r.attributes,
        has_source: r.source.is_some(),
        created_at: u64::try_from(r.created_at).unwrap_or(0),
    }
}

/// The WIT view of a backup record.
pub fn to_backup(r: BackupRecord) -> backups::Backup {
    backups::Backup {
        id: r.id,
        seq: u64::try_from(r.seq).unwrap_or(0),
        resource_kind: r.resource_kind,
        resource_id: r.resource_id,
        filename: r.filename,
        extension: r.extension,
        media_type: r.media_type,
        size: u64::try_from(r.size).unwrap_or(0),
        stored_bytes: u64::try_from(r.stored_bytes).unwrap_or(0),
        sha256: r.sha256,
        created_at: u64::try_from(r.created_at).unwrap_or(0),
        subject: r.subject,
        job_id: r.job_id,
        metadata: r.metadata,
    }
}

impl resources::Host for InstanceState {
    fn get(&mut self, kind: String, id: String) -> Option<resources::Resource> {
        self.with_db(async |db, org, p| db.resource(org, p, &kind, &id).await)
            .ok()
            .flatten()
            .map(to_resource)
    }

    fn list(
        &mut self,
        kind: String,
        after: Option<String>,
        limit: u32,
    ) -> Vec<resources::Resource> {
        let limit = i64::from(limit.min(MAX_LIST));
        self.with_db(async |db, org, p| db.resources(org, p, &kind, after.as_deref(), limit).await)
            .unwrap_or_default()
            .into_iter()
            .map(to_resource)
            .collect()
    }

    fn set_state(
        &mut self,
        kind: String,
        id: String,
        state: String,
    ) -> Result<(), types::HostError> {
        match self
            .with_db(async |db, org, p| db.set_resource_state(org, p, &kind, &id, &state).await)?
        {
            true => Ok(()),
            false => Err(types::HostError::NotFound),
        }
    }

    fn create(
        &mut self,
        kind: String,
        id: String,
        name: String,
        attributes: String,
    ) -> Result<resources::Resource, types::HostError> {
        if serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&attributes).is_err()
        {
            return Err(types::HostError::Invalid(
                "attributes must be a JSON object".into(),
            ));
        }
        // the new resource's bytes live in a file the host names (never the plugin): an
        // empty file until a restore writes it
        let (org, services, _) = self.scope().ok_or(types::HostError::NotFound)?;
        let path = crate::keys::volume_path(&services.volumes_dir, org, self.plugin(), &kind, &id);
        let made = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map(drop)
            });
        if let Err(e) = made {
            tracing::error!(path = %path.display(), error = %e, "cannot create a resource's file");
            return Err(types::HostError::Unavailable);
        }
        let source = serde_json::to_string(&crate::config::SourceConfig::File(path))
            .map_err(|_| types::HostError::Unavailable)?;
        let rec = ResourceRecord {
            kind,
            id,
            name,
            state: "available".into(),
            attributes,
            source: Some(source),
            created_at: now_micros(),
        };
        match self.with_db(async |db, org, p| db.insert_resource(org, p, &rec).await)? {
            true => Ok(to_resource(rec)),
            false => Err(types::HostError::Conflict(
                "a resource with this id exists".into(),
            )),
        }
    }
}

impl backups::Host for InstanceState {
    fn list(&mut self, q: backups::Query) -> Result<backups::Page, types::HostError> {
        let query = BackupQuery {
            resource_kind: q.resource_kind,
            resource_id: q.resource_id,
            newest_first: q.newest_first,
            offset: i64::try_from(q.offset).unwrap_or(i64::MAX),
            limit: i64::from(q.limit.min(MAX_LIST)),
        };
        let (items, total) = self.with_db(async |db, org, p| db.backups(org, p, &query).await)?;
        Ok(backups::Page {
            items: items.into_iter().map(to_backup).collect(),
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn get(&mut self, id: String) -> Result<Option<backups::Backup>, types::HostError> {
        Ok(self
            .with_db(async |db, org, p| db.backup(org, p, &id).await)?
            .map(to_backup))
    }

    fn get_by_seq(&mut self, seq: u64) -> Result<Option<backups::Backup>, types::HostError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        Ok(self
            .with_db(async |db, org, p| db.backup_by_seq(org, p, seq).await)?
            .map(to_backup))
    }

    fn delete(&mut self, id: String) -> Result<bool, types::HostError> {
        let Some(gone) = self.with_db(async |db, org, p| db.delete_backup(org, p, &id).await)?
        else {
            return Ok(false);
        };
        let (_, services, rt) = self.scope().ok_or(types::HostError::NotFound)?;
        rt.block_on(services.objects.delete_unreferenced(&gone.objects));
        Ok(true)
    }

    fn read(&mut self, id: String, range: types::ByteRange) -> Result<Vec<u8>, types::HostError> {
        let rec = self
            .with_db(async |db, org, p| db.backup(org, p, &id).await)?
            .ok_or(types::HostError::NotFound)?;
        let size = u64::try_from(rec.size).unwrap_or(0);
        let start = range.offset.min(size);
        let len = range.length.unwrap_or(MAX_READ).min(MAX_READ);
        let end = start.saturating_add(len).min(size);
        if start == end {
            return Ok(Vec::new());
        }
        let (_, services, rt) = self.scope().ok_or(types::HostError::NotFound)?;
        rt.block_on(crate::store::content::read_range(
            &services.db,
            &services.objects,
            &rec,
            start..end,
        ))
        .map(|b| b.to_vec())
        .map_err(|e| {
            tracing::warn!(key = %rec.object_key, error = %e, "backup read failed");
            match e {
                crate::store::ObjectError::NotFound => types::HostError::NotFound,
                _ => types::HostError::Unavailable,
            }
        })
    }

    fn object_exists(&mut self, id: String) -> Result<bool, types::HostError> {
        let rec = self
            .with_db(async |db, org, p| db.backup(org, p, &id).await)?
            .ok_or(types::HostError::NotFound)?;
        let (_, services, rt) = self.scope().ok_or(types::HostError::NotFound)?;
        rt.block_on(crate::store::content::exists(
            &services.db,
            &services.objects,
            &rec,
        ))
        .map_err(|_| types::HostError::Unavailable)
    }

    fn set_metadata(&mut self, id: String, metadata: String) -> Result<(), types::HostError> {
        if serde_json::from_str::<serde_json::Value>(&metadata).is_err() {
            return Err(types::HostError::Invalid("metadata must be JSON".into()));
        }
        match self
            .with_db(async |db, org, p| db.set_backup_metadata(org, p, &id, &metadata).await)?
        {
            true => Ok(()),
            false => Err(types::HostError::NotFound),
        }
    }
}

fn to_job(j: crate::jobs::JobRecord) -> jobs::Job {
    use crate::jobs::{JobKind, JobStatus};
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    jobs::Job {
        id: j.id,
        seq: u(j.seq),
        kind: match j.kind {
            JobKind::Capture => jobs::JobKind::Capture,
            JobKind::Restore => jobs::JobKind::Restore,
        },
        resource_kind: j.resource_kind,
        resource_id: j.resource_id,
        source_backup: j.source_backup,
        status: match j.status {
            JobStatus::Queued => jobs::JobStatus::Queued,
            JobStatus::InProgress => jobs::JobStatus::InProgress,
            JobStatus::Completed => jobs::JobStatus::Completed,
            JobStatus::Failed => jobs::JobStatus::Failed,
            JobStatus::Cancelled => jobs::JobStatus::Cancelled,
        },
        progress: jobs::Progress {
            bytes_done: u(j.bytes_done),
            bytes_total: j.bytes_total.map(u),
            message: j.message,
        },
        attempts: u32::try_from(j.attempts).unwrap_or(u32::MAX),
        backup_id: j.backup_id,
        error: j.error,
        subject: j.subject,
        created_at: u(j.created_at),
        started_at: j.started_at.map(u),
        finished_at: j.finished_at.map(u),
        metadata: j.metadata,
    }
}

fn job_status(s: jobs::JobStatus) -> crate::jobs::JobStatus {
    use crate::jobs::JobStatus;
    match s {
        jobs::JobStatus::Queued => JobStatus::Queued,
        jobs::JobStatus::InProgress => JobStatus::InProgress,
        jobs::JobStatus::Completed => JobStatus::Completed,
        jobs::JobStatus::Failed => JobStatus::Failed,
        jobs::JobStatus::Cancelled => JobStatus::Cancelled,
    }
}

impl jobs::Host for InstanceState {
    fn create(&mut self, spec: jobs::JobSpec) -> Result<jobs::Job, types::HostError> {
        use crate::jobs::{JobKind, NewJob, store};
        if serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&spec.metadata)
            .is_err()
        {
            return Err(types::HostError::Invalid(
                "metadata must be a JSON object".into(),
            ));
        }
        let subject = self.ctx.subject.clone().unwrap_or_default();
        let kind = match spec.kind {
            jobs::JobKind::Capture => JobKind::Capture,
            jobs::JobKind::Restore => JobKind::Restore,
        };
        let resource = self
            .with_db(async |db, org, p| {
                db.resource(org, p, &spec.resource_kind, &spec.resource_id)
                    .await
            })?
            .ok_or(types::HostError::NotFound)?;
        if resource.source.is_none() {
            return Err(types::HostError::Invalid(
                "the resource has no capture source".into(),
            ));
        }
        if kind == JobKind::Restore {
            let id = spec
                .source_backup
                .as_deref()
                .ok_or_else(|| types::HostError::Invalid("a restore needs source-backup".into()))?;
            self.with_db(async |db, org, p| db.backup(org, p, id).await)?
                .ok_or(types::HostError::NotFound)?;
        }
        let new = NewJob {
            org: String::new(),
            provider: String::new(),
            kind,
            resource_kind: spec.resource_kind,
            resource_id: spec.resource_id,
            source_backup: spec.source_backup,
            subject,
            filename: crate::keys::clean_filename(&spec.filename),
            media_type: spec.media_type,
            metadata: spec.metadata,
            exclusive: spec.exclusive,
            deduplicate: spec.deduplicate && kind == JobKind::Capture,
        };
        let job = self.with_db(async |db, org, p| {
            let new = NewJob {
                org: org.to_owned(),
                provider: p.to_owned(),
                ..new
            };
            store::insert(db, &new).await
        })?;
        if job.is_some()
            && let Some((_, services, _)) = self.scope()
        {
            services.jobs_queued.notify_one();
        }
        job.map(to_job).ok_or_else(|| {
            types::HostError::Conflict("another job of this resource is queued or running".into())
        })
    }

    fn get(&mut self, id: String) -> Option<jobs::Job> {
        self.with_db(async |db, org, p| crate::jobs::store::get(db, org, p, &id).await)
            .ok()
            .flatten()
            .map(to_job)
    }

    fn get_by_seq(&mut self, seq: u64) -> Option<jobs::Job> {
        let seq = i64::try_from(seq).ok()?;
        self.with_db(async |db, org, p| crate::jobs::store::get_by_seq(db, org, p, seq).await)
            .ok()
            .flatten()
            .map(to_job)
    }

    fn list(&mut self, q: jobs::Query) -> Vec<jobs::Job> {
        let statuses: Vec<_> = q.statuses.into_iter().map(job_status).collect();
        let limit = i64::from(q.limit.min(MAX_LIST));
        self.with_db(async |db, org, p| {
            crate::jobs::store::list(
                db,
                org,
                p,
                (q.resource_kind.as_deref(), q.resource_id.as_deref()),
                &statuses,
                limit,
            )
            .await
        })
        .unwrap_or_default()
        .into_iter()
        .map(to_job)
        .collect()
    }

    fn cancel(&mut self, id: String) -> Result<jobs::Job, types::HostError> {
        match self.with_db(async |db, org, p| crate::jobs::store::cancel(db, org, p, &id).await)? {
            Ok(Some(job)) => Ok(to_job(job)),
            Ok(None) => Err(types::HostError::NotFound),
            Err(status) => Err(types::HostError::Conflict(format!(
                "the job is {}",
                status.as_str()
            ))),
        }
    }

    fn set_metadata(&mut self, id: String, metadata: String) -> Result<(), types::HostError> {
        if serde_json::from_str::<serde_json::Value>(&metadata).is_err() {
            return Err(types::HostError::Invalid("metadata must be JSON".into()));
        }
        match self.with_db(async |db, org, p| {
            crate::jobs::store::set_metadata(db, org, p, &id, &metadata).await
        })? {
            true => Ok(()),
            false => Err(types::HostError::NotFound),
        }
    }
}

fn to_document(d: crate::store::DocumentRecord) -> documents::Document {
    documents::Document {
        key: d.key,
        value: d.value,
        revision: u64::try_from(d.revision).unwrap_or(0),
    }
}

impl documents::Host for InstanceState {
    fn get(&mut self, collection: String, key: String) -> Option<documents::Document> {
        self.with_db(async |db, org, p| db.document(org, p, &collection, &key).await)
            .ok()
            .flatten()
            .map(to_document)
    }

    fn put(
        &mut self,
        collection: String,
        key: String,
        value: String,
        expected_revision: Option<u64>,
    ) -> Result<documents::Document, types::HostError> {
        if serde_json::from_str::<serde_json::Value>(&value).is_err() {
            return Err(types::HostError::Invalid("value must be JSON".into()));
        }
        let expected = expected_revision.map(|r| i64::try_from(r).unwrap_or(i64::MAX));
        let rev = self.with_db(async |db, org, p| {
            db.put_document(org, p, &collection, &key, &value, expected)
                .await
        })?;
        match rev {
            Some(revision) => Ok(documents::Document {
                key,
                value,
                revision: u64::try_from(revision).unwrap_or(0),
            }),
            None => Err(types::HostError::Conflict("revision mismatch".into())),
        }
    }

    fn delete(&mut self, collection: String, key: String) -> Result<bool, types::HostError> {
        self.with_db(async |db, org, p| db.delete_document(org, p, &collection, &key).await)
    }

    fn list(
        &mut self,
        collection: String,
        after: Option<String>,
        limit: u32,
    ) -> Vec<documents::Document> {
        let limit = i64::from(limit.min(MAX_LIST));
        self.with_db(async |db, org, p| {
            db.documents(org, p, &collection, after.as_deref(), limit)
                .await
        })
        .unwrap_or_default()
        .into_iter()
        .map(to_document)
        .collect()
    }
}

impl ids::Host for InstanceState {
    fn uuid_v4(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn uuid_v7(&mut self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    fn ulid(&mut self) -> String {
        ulid_from(uuid::Uuid::now_v7())
    }

    fn next_in_sequence(&mut self, name: String) -> u64 {
        self.with_db(async |db, org, p| db.next_in_sequence(org, p, &name).await)
            .map(|v| u64::try_from(v).unwrap_or(0))
            .unwrap_or(0)
    }
}

/// A ULID from a UUIDv7's bits: 48-bit millisecond time then randomness, in Crockford base32.
pub fn ulid_from(u: uuid::Uuid) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let n = u.as_u128();
    (0..26)
        .rev()
        .map(|i| ALPHABET[((n >> (i * 5)) & 0x1f) as usize] as char)
        .collect()
}

impl clock::Host for InstanceState {
    fn now(&mut self) -> u64 {
        u64::try_from(now_micros()).unwrap_or(0)
    }
}

impl log::Host for InstanceState {
    fn log(&mut self, level: log::Level, message: String) {
        let mut message = message;
        if message.len() > 2048 {
            let mut cut = 2048;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let plugin = self.plugin();
        let rid = &self.ctx.request_id;
        match level {
            log::Level::Debug => tracing::debug!(plugin, request_id = %rid, "{message}"),
            log::Level::Info => tracing::info!(plugin, request_id = %rid, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, request_id = %rid, "{message}"),
            log::Level::Error => tracing::error!(plugin, request_id = %rid, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulid_is_26_crockford_chars_and_time_ordered() {
        let a = ulid_from(uuid::Uuid::now_v7());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ulid_from(uuid::Uuid::now_v7());
        assert_eq!(a.len(), 26);
        assert!(
            a.chars()
                .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c))
        );
        assert!(a < b);
    }
}
