//! The `captures` sequence: what the host's workers left after running the queued jobs —
//! the backups, the jobs' outcomes — and what a plugin can do with such a backup.

use super::sequences::{all_jobs, listed};
use super::{Transcript, job, outcome, spec};
use crate::{
    Host,
    backups::Query as BackupQuery,
    jobs::{JobKind, Query as JobQuery},
};

/// After the host's workers ran the queued captures (the fake: `start_job` then
/// `complete_capture` of each, oldest first): the backups they made, the jobs' outcomes,
/// and what can be done with a backup. Content digests and bytes are not compared (the
/// fake stores none).
pub(super) fn captures(host: &impl Host, t: &mut Transcript) {
    let query = BackupQuery {
        resource_kind: Some("disk".into()),
        resource_id: None,
        newest_first: false,
        offset: 0,
        limit: 100,
    };
    let stored = host.backups(&query).map(|p| p.items).unwrap_or_default();
    t.say("backups", stored.len().to_string());
    for b in &stored {
        t.say(
            &format!("backup #{}", b.seq),
            format!(
                "{}/{} {} ext={} media={} size={} stored={} subject={} metadata={} by-job={}",
                b.resource_kind,
                b.resource_id,
                b.filename,
                b.extension,
                b.media_type,
                b.size,
                b.stored_bytes,
                b.subject,
                b.metadata,
                match b.job_id.as_deref().map(|j| host.job(j)) {
                    Some(Ok(j)) => j
                        .is_some_and(|j| j.backup_id.as_deref() == Some(b.id.as_str()))
                        .to_string(),
                    Some(Err(e)) => super::error(&e),
                    None => false.to_string(),
                }
            ),
        );
    }
    let all = all_jobs(100);
    let jobs = host.jobs(&all);
    if let Err(e) = &jobs {
        t.say("jobs", super::error(e));
    }
    for j in jobs.iter().flatten().rev() {
        t.say(
            &format!("job #{}", j.seq),
            format!(
                "{:?} message={:?} attempts={} done={} total={:?} backup={} error={:?} started={} finished={}",
                j.status,
                j.progress.message,
                j.attempts,
                j.progress.bytes_done,
                j.progress.bytes_total,
                j.backup_id.is_some(),
                j.error,
                j.started_at.is_some(),
                j.finished_at.is_some()
            ),
        );
    }
    let Some(first) = stored.first() else { return };
    let id = first.id.as_str();
    t.say(
        "object exists",
        outcome(&host.object_exists(id), |v| v.to_string()),
    );
    t.say(
        "by seq",
        outcome(&host.backup_by_seq(first.seq), |b| {
            format!("{:?}", b.as_ref().map(|b| b.id == id))
        }),
    );
    t.say(
        "set metadata",
        outcome(&host.set_backup_metadata(id, r#"{"k":"v"}"#), |_| {
            String::new()
        }),
    );
    t.say(
        "metadata",
        outcome(&host.backup(id), |b| {
            format!("{:?}", b.as_ref().map(|b| b.metadata.clone()))
        }),
    );
    let mut restore = spec(JobKind::Restore, "d2", false);
    restore.source_backup = Some(id.to_string());
    t.say("restore other org's", {
        let mut r = restore.clone();
        r.resource_id = "secret".into();
        outcome(&host.create_job(&r), job)
    });
    t.say(
        "delete",
        outcome(&host.delete_backup(id), |v| v.to_string()),
    );
    t.say(
        "delete again",
        outcome(&host.delete_backup(id), |v| v.to_string()),
    );
    t.say(
        "get deleted",
        outcome(&host.backup(id), |b| {
            format!("{:?}", b.as_ref().map(|b| &b.id))
        }),
    );
    t.say(
        "restore of the deleted",
        outcome(&host.create_job(&restore), job),
    );
    if let Some(second) = stored.get(1) {
        restore.source_backup = Some(second.id.clone());
        t.say("restore", outcome(&host.create_job(&restore), job));
    }
    let of = |kinds: Vec<JobKind>| {
        outcome(
            &host.jobs(&JobQuery {
                kinds,
                ..all.clone()
            }),
            |js| listed(js),
        )
    };
    t.say("list restores", of(vec![JobKind::Restore]));
    t.say("list captures", of(vec![JobKind::Capture]));
    t.say(
        "list captures and restores",
        of(vec![JobKind::Capture, JobKind::Restore]),
    );
}
