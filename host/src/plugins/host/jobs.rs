//! `jobs`: creating, reading, listing and cancelling the caller's org's jobs, checked as the
//! host checks them (the resource exists, has a source, no exclusive job overlaps).

use super::{InstanceState, MAX_LIST};
use crate::plugins::bindings::{jobs, types};

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

fn job_kind(k: jobs::JobKind) -> crate::jobs::JobKind {
    match k {
        jobs::JobKind::Capture => crate::jobs::JobKind::Capture,
        jobs::JobKind::Restore => crate::jobs::JobKind::Restore,
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
        let kind = job_kind(spec.kind);
        let resource = self
            .with_db(async |s| s.resource(&spec.resource_kind, &spec.resource_id).await)?
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
            self.with_db(async |s| s.backup(id).await)?
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
        let job = self.with_db(async |s| {
            let new = NewJob {
                org: s.org().to_owned(),
                provider: s.provider().to_owned(),
                ..new
            };
            store::insert(s.db(), &new).await
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

    fn get(&mut self, id: String) -> Result<Option<jobs::Job>, types::HostError> {
        self.with_db(async |s| s.job(&id).await)
            .map(|j| j.map(to_job))
    }

    fn get_by_seq(&mut self, seq: u64) -> Result<Option<jobs::Job>, types::HostError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        self.with_db(async |s| s.job_by_seq(seq).await)
            .map(|j| j.map(to_job))
    }

    fn list(&mut self, q: jobs::Query) -> Result<Vec<jobs::Job>, types::HostError> {
        let statuses: Vec<_> = q.statuses.into_iter().map(job_status).collect();
        let kinds: Vec<_> = q.kinds.into_iter().map(job_kind).collect();
        let filter = crate::jobs::store::JobFilter {
            resource_kind: q.resource_kind.as_deref(),
            resource_id: q.resource_id.as_deref(),
            kinds: &kinds,
            statuses: &statuses,
        };
        let limit = i64::from(q.limit.min(MAX_LIST));
        let rows = self.with_db(async |s| s.query_jobs(&filter, limit).await)?;
        Ok(rows.into_iter().map(to_job).collect())
    }

    fn cancel(&mut self, id: String) -> Result<jobs::Job, types::HostError> {
        match self.with_db(async |s| s.cancel_job(&id).await)? {
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
        match self.with_db(async |s| s.set_job_metadata(&id, &metadata).await)? {
            true => Ok(()),
            false => Err(types::HostError::NotFound),
        }
    }
}
