//! The fake host's imports: [`Host`] for [`FakeHost`], following the host's own
//! (`host/src/plugins/host`) and its job and document stores call by call — the order of the
//! checks, the errors and their wording.

use serde_json::{Map, Value};

use super::{FakeHost, Import, JobRow, Kept, Org, active};
use crate::{
    ByteRange, Host, HostError,
    backups::{Backup, Page, Query as BackupQuery},
    documents::Document,
    jobs::{Job, JobKind, JobSpec, JobStatus, Progress, Query as JobQuery},
    log::Level,
    resources::{Query as ResourceQuery, Resource},
};

/// Most bytes one `backups.read` returns.
const MAX_READ: u64 = 1024 * 1024;

/// The host's filename rule: `[A-Za-z0-9._-]`, others become `_`, at most 255.
pub(super) fn clean_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect()
}

/// The key extension the host's worker derives from a capture's filename.
pub(super) fn extension_of(filename: &str) -> String {
    let ext = match filename.rsplit_once('.') {
        Some((stem, e)) if !stem.is_empty() => format!(".{}", e.to_ascii_lowercase()),
        _ => return String::new(),
    };
    let ok = ext.len() <= 16
        && ext[1..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && ext.len() > 1;
    if ok { ext } else { String::new() }
}

fn is_object(json: &str) -> bool {
    serde_json::from_str::<Map<String, Value>>(json).is_ok()
}

fn is_json(json: &str) -> bool {
    serde_json::from_str::<Value>(json).is_ok()
}

/// The host's rule for the key of `resources.list`'s attribute filter.
const ATTRIBUTE_KEY_RULE: &str = "attribute key must be 1-64 of [A-Za-z0-9._-]";

fn is_attribute_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether a resource's attributes (a JSON object) hold `key` at the top level with the
/// string `value`: a number, a bool or anything else never matches, not even `12` for "12".
fn has_attribute(attributes: &str, (key, value): &(String, String)) -> bool {
    serde_json::from_str::<Map<String, Value>>(attributes)
        .ok()
        .and_then(|m| m.get(key).cloned())
        .is_some_and(|v| v.as_str() == Some(value.as_str()))
}

/// The host's query filter: none or an empty string matches anything.
fn matches(filter: &Option<String>, value: &str) -> bool {
    filter.as_deref().is_none_or(|f| f.is_empty() || f == value)
}

impl FakeHost {
    /// Run a call scoped to the caller's org: count it, fail it if a rule says so, and
    /// answer `not-found` without a principal (as the host's `with_db` does).
    fn scoped<T>(
        &self,
        import: Import,
        first_arg: &str,
        f: impl FnOnce(&mut Org, &Ctx) -> Result<T, HostError>,
    ) -> Result<T, HostError> {
        let mut state = self.state.borrow_mut();
        if let Some(e) = state.faults.call(import, first_arg) {
            return Err(e);
        }
        let Some((org, subject)) = state.caller.clone() else {
            return Err(HostError::NotFound);
        };
        let ctx = Ctx {
            now: state.now,
            cap: state.page_cap,
            subject,
        };
        f(state.orgs.entry(org).or_default(), &ctx)
    }
}

/// What a call knows besides the org's data.
struct Ctx {
    now: u64,
    cap: u32,
    subject: String,
}

impl Ctx {
    fn limit(&self, asked: u32) -> usize {
        asked.min(self.cap) as usize
    }
}

fn kept<'a>(org: &'a Org, id: &str) -> Option<&'a Kept> {
    org.backups.iter().find(|k| k.backup.id == id)
}

fn row_mut<'a>(org: &'a mut Org, id: &str) -> Option<&'a mut JobRow> {
    org.jobs.iter_mut().find(|r| r.job.id == id)
}

impl Host for FakeHost {
    fn resource(&self, kind: &str, id: &str) -> Result<Option<Resource>, HostError> {
        self.state
            .borrow_mut()
            .lookups
            .push((kind.into(), id.into()));
        self.scoped(Import::ResourcesGet, kind, |org, _| {
            Ok(org.resources.get(&(kind.into(), id.into())).cloned())
        })
    }

    fn resources(&self, q: &ResourceQuery) -> Result<Vec<Resource>, HostError> {
        if let Some((key, _)) = &q.attribute
            && !is_attribute_key(key)
        {
            return Err(HostError::Invalid(ATTRIBUTE_KEY_RULE.into()));
        }
        self.scoped(Import::ResourcesList, &q.kind, |org, ctx| {
            let after = q.after.as_deref().unwrap_or("");
            Ok(org
                .resources
                .values()
                .filter(|r| r.kind == q.kind && r.id.as_str() > after)
                .filter(|r| {
                    q.attribute
                        .as_ref()
                        .is_none_or(|a| has_attribute(&r.attributes, a))
                })
                .take(ctx.limit(q.limit))
                .cloned()
                .collect())
        })
    }

    fn set_resource_state(&self, kind: &str, id: &str, state: &str) -> Result<(), HostError> {
        self.scoped(Import::ResourcesSetState, kind, |org, _| {
            let r = org
                .resources
                .get_mut(&(kind.into(), id.into()))
                .ok_or(HostError::NotFound)?;
            r.state = state.into();
            Ok(())
        })
    }

    fn create_resource(
        &self,
        kind: &str,
        id: &str,
        name: &str,
        attributes: &str,
    ) -> Result<Resource, HostError> {
        if !is_object(attributes) {
            return Err(HostError::Invalid(
                "attributes must be a JSON object".into(),
            ));
        }
        self.scoped(Import::ResourcesCreate, kind, |org, ctx| {
            let key = (kind.to_string(), id.to_string());
            if org.resources.contains_key(&key) {
                return Err(HostError::Conflict("a resource with this id exists".into()));
            }
            let r = Resource {
                kind: kind.into(),
                id: id.into(),
                name: name.into(),
                state: "available".into(),
                attributes: attributes.into(),
                has_source: true,
                created_at: ctx.now,
            };
            org.resources.insert(key, r.clone());
            Ok(r)
        })
    }

    fn backups(&self, q: &BackupQuery) -> Result<Page, HostError> {
        let kind = q.resource_kind.clone().unwrap_or_default();
        self.scoped(Import::BackupsList, &kind, |org, ctx| {
            let mut matched: Vec<&Backup> = org
                .backups
                .iter()
                .map(|k| &k.backup)
                .filter(|b| matches(&q.resource_kind, &b.resource_kind))
                .filter(|b| matches(&q.resource_id, &b.resource_id))
                .collect();
            matched.sort_by_key(|b| b.seq);
            if q.newest_first {
                matched.reverse();
            }
            let total = matched.len() as u64;
            let items = matched
                .into_iter()
                .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
                .take(ctx.limit(q.limit))
                .cloned()
                .collect();
            Ok(Page { items, total })
        })
    }

    fn backup(&self, id: &str) -> Result<Option<Backup>, HostError> {
        self.scoped(Import::BackupsGet, id, |org, _| {
            Ok(kept(org, id).map(|k| k.backup.clone()))
        })
    }

    fn backup_by_seq(&self, seq: u64) -> Result<Option<Backup>, HostError> {
        if i64::try_from(seq).is_err() {
            return Ok(None);
        }
        self.scoped(Import::BackupsGetBySeq, &seq.to_string(), |org, _| {
            Ok(org
                .backups
                .iter()
                .find(|k| k.backup.seq == seq)
                .map(|k| k.backup.clone()))
        })
    }

    fn delete_backup(&self, id: &str) -> Result<bool, HostError> {
        self.scoped(Import::BackupsDelete, id, |org, _| {
            let before = org.backups.len();
            org.backups.retain(|k| k.backup.id != id);
            Ok(org.backups.len() < before)
        })
    }

    fn read_backup(&self, id: &str, range: ByteRange) -> Result<Vec<u8>, HostError> {
        self.state.borrow_mut().reads.push((id.into(), range));
        self.scoped(Import::BackupsRead, id, |org, _| {
            let k = kept(org, id).ok_or(HostError::NotFound)?;
            let size = k.backup.size;
            let start = range.offset.min(size);
            let len = range.length.unwrap_or(MAX_READ).min(MAX_READ);
            let end = start.saturating_add(len).min(size);
            if start == end {
                return Ok(Vec::new());
            }
            if !k.present {
                return Err(HostError::NotFound);
            }
            // The object may be shorter than its record says.
            let have = k.content.len() as u64;
            let (s, e) = (start.min(have) as usize, end.min(have) as usize);
            Ok(k.content[s..e].to_vec())
        })
    }

    fn object_exists(&self, id: &str) -> Result<bool, HostError> {
        self.scoped(Import::BackupsObjectExists, id, |org, _| {
            kept(org, id).map(|k| k.present).ok_or(HostError::NotFound)
        })
    }

    fn set_backup_metadata(&self, id: &str, metadata: &str) -> Result<(), HostError> {
        if !is_json(metadata) {
            return Err(HostError::Invalid("metadata must be JSON".into()));
        }
        self.scoped(Import::BackupsSetMetadata, id, |org, _| {
            let k = org
                .backups
                .iter_mut()
                .find(|k| k.backup.id == id)
                .ok_or(HostError::NotFound)?;
            k.backup.metadata = metadata.into();
            Ok(())
        })
    }

    fn create_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        if !is_object(&spec.metadata) {
            return Err(HostError::Invalid("metadata must be a JSON object".into()));
        }
        let id = self.next_uuid_v7();
        self.scoped(Import::JobsCreate, &spec.resource_kind, |org, ctx| {
            let resource = org
                .resources
                .get(&(spec.resource_kind.clone(), spec.resource_id.clone()))
                .ok_or(HostError::NotFound)?;
            if !resource.has_source {
                return Err(HostError::Invalid(
                    "the resource has no capture source".into(),
                ));
            }
            if spec.kind == JobKind::Restore {
                let id = spec
                    .source_backup
                    .as_deref()
                    .ok_or_else(|| HostError::Invalid("a restore needs source-backup".into()))?;
                kept(org, id).ok_or(HostError::NotFound)?;
            }
            let busy = spec.exclusive
                && org.jobs.iter().any(|r| {
                    r.exclusive
                        && active(r.job.status)
                        && r.job.resource_kind == spec.resource_kind
                        && r.job.resource_id == spec.resource_id
                });
            if busy {
                return Err(HostError::Conflict(
                    "another job of this resource is queued or running".into(),
                ));
            }
            org.job_seq += 1;
            let job = Job {
                id,
                seq: org.job_seq,
                kind: spec.kind,
                resource_kind: spec.resource_kind.clone(),
                resource_id: spec.resource_id.clone(),
                source_backup: spec.source_backup.clone(),
                status: JobStatus::Queued,
                progress: Progress {
                    bytes_done: 0,
                    bytes_total: None,
                    message: "queued".into(),
                },
                attempts: 0,
                backup_id: None,
                error: None,
                subject: ctx.subject.clone(),
                created_at: ctx.now,
                started_at: None,
                finished_at: None,
                metadata: spec.metadata.clone(),
            };
            org.jobs.push(JobRow {
                job: job.clone(),
                exclusive: spec.exclusive,
                spec: Some(spec.clone()),
            });
            Ok(job)
        })
    }

    fn job(&self, id: &str) -> Result<Option<Job>, HostError> {
        self.scoped(Import::JobsGet, id, |org, _| {
            Ok(org
                .jobs
                .iter()
                .find(|r| r.job.id == id)
                .map(|r| r.job.clone()))
        })
    }

    fn job_by_seq(&self, seq: u64) -> Result<Option<Job>, HostError> {
        if i64::try_from(seq).is_err() {
            return Ok(None);
        }
        self.scoped(Import::JobsGetBySeq, &seq.to_string(), |org, _| {
            Ok(org
                .jobs
                .iter()
                .find(|r| r.job.seq == seq)
                .map(|r| r.job.clone()))
        })
    }

    fn jobs(&self, q: &JobQuery) -> Result<Vec<Job>, HostError> {
        let kind = q.resource_kind.clone().unwrap_or_default();
        self.scoped(Import::JobsList, &kind, |org, ctx| {
            let mut matched: Vec<&Job> = org
                .jobs
                .iter()
                .map(|r| &r.job)
                .filter(|j| q.kinds.is_empty() || q.kinds.contains(&j.kind))
                .filter(|j| matches(&q.resource_kind, &j.resource_kind))
                .filter(|j| matches(&q.resource_id, &j.resource_id))
                .filter(|j| q.statuses.is_empty() || q.statuses.contains(&j.status))
                .collect();
            matched.sort_by_key(|j| std::cmp::Reverse(j.seq));
            Ok(matched
                .into_iter()
                .take(ctx.limit(q.limit))
                .cloned()
                .collect())
        })
    }

    fn cancel_job(&self, id: &str) -> Result<Job, HostError> {
        self.scoped(Import::JobsCancel, id, |org, ctx| {
            let row = row_mut(org, id).ok_or(HostError::NotFound)?;
            if !active(row.job.status) {
                return Err(HostError::Conflict(format!(
                    "the job is {}",
                    status_text(row.job.status)
                )));
            }
            row.job.status = JobStatus::Cancelled;
            row.job.finished_at = Some(ctx.now);
            row.job.progress.message = "cancelled".into();
            Ok(row.job.clone())
        })
    }

    fn set_job_metadata(&self, id: &str, metadata: &str) -> Result<(), HostError> {
        if !is_json(metadata) {
            return Err(HostError::Invalid("metadata must be JSON".into()));
        }
        self.scoped(Import::JobsSetMetadata, id, |org, _| {
            let row = row_mut(org, id).ok_or(HostError::NotFound)?;
            row.job.metadata = metadata.into();
            Ok(())
        })
    }

    fn document(&self, collection: &str, key: &str) -> Result<Option<Document>, HostError> {
        self.scoped(Import::DocumentsGet, collection, |org, _| {
            Ok(org
                .documents
                .get(&(collection.into(), key.into()))
                .map(|(value, revision)| Document {
                    key: key.into(),
                    value: value.clone(),
                    revision: *revision,
                }))
        })
    }

    fn put_document(
        &self,
        collection: &str,
        key: &str,
        value: &str,
        expected: Option<u64>,
    ) -> Result<Document, HostError> {
        if !is_json(value) {
            return Err(HostError::Invalid("value must be JSON".into()));
        }
        self.scoped(Import::DocumentsPut, collection, |org, _| {
            let slot = (collection.to_string(), key.to_string());
            let current = org.documents.get(&slot).map(|(_, r)| *r);
            let revision = match (expected, current) {
                (None, c) => c.unwrap_or(0) + 1,
                (Some(0), None) => 1,
                (Some(e), Some(c)) if e == c && e != 0 => c + 1,
                _ => return Err(HostError::Conflict("revision mismatch".into())),
            };
            org.documents.insert(slot, (value.into(), revision));
            Ok(Document {
                key: key.into(),
                value: value.into(),
                revision,
            })
        })
    }

    fn delete_document(
        &self,
        collection: &str,
        key: &str,
        expected: Option<u64>,
    ) -> Result<bool, HostError> {
        self.scoped(Import::DocumentsDelete, collection, |org, _| {
            let slot = (collection.to_string(), key.to_string());
            // A missing document is `false` whatever revision was expected.
            let Some((_, current)) = org.documents.get(&slot) else {
                return Ok(false);
            };
            if expected.is_some_and(|e| e != *current) {
                return Err(HostError::Conflict("revision mismatch".into()));
            }
            org.documents.remove(&slot);
            Ok(true)
        })
    }

    fn documents(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Document>, HostError> {
        self.scoped(Import::DocumentsList, collection, |org, ctx| {
            let after = after.unwrap_or("");
            Ok(org
                .documents
                .iter()
                .filter(|((c, k), _)| c == collection && k.as_str() > after)
                .take(ctx.limit(limit))
                .map(|((_, k), (v, r))| Document {
                    key: k.clone(),
                    value: v.clone(),
                    revision: *r,
                })
                .collect())
        })
    }

    fn uuid_v4(&self) -> String {
        let mut state = self.state.borrow_mut();
        state.ids.v4 += 1;
        format!("00000000-0000-4000-8000-{:012x}", state.ids.v4)
    }

    fn uuid_v7(&self) -> String {
        self.next_uuid_v7()
    }

    fn ulid(&self) -> String {
        let mut state = self.state.borrow_mut();
        state.ids.ulid += 1;
        format!("01J{:023}", state.ids.ulid)
    }

    fn next_in_sequence(&self, name: &str) -> Result<u64, HostError> {
        self.scoped(Import::IdsNextInSequence, name, |org, _| {
            let next = org.sequences.entry(name.to_string()).or_insert(0);
            *next += 1;
            Ok(*next)
        })
    }

    fn now(&self) -> u64 {
        self.state.borrow().now
    }

    fn log(&self, level: Level, message: &str) {
        self.state.borrow_mut().logs.push((level, message.into()));
    }
}

/// A job status as the host words it in conflicts (`in_progress`, …).
pub fn status_text(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Queued => "queued",
        JobStatus::InProgress => "in_progress",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
        JobStatus::Cancelled => "cancelled",
    }
}
