//! The call sequences that hold the fake host equal to the real one (feature
//! `conformance`): each runs a fixed series of imports against any [`Host`] and writes down
//! what came back, without the values only one side can know (ids, times). The test plugin
//! `tests/plugins/conformance` runs them inside the real host; the test
//! `examples/harness/tests/fake_parity.rs` runs them against `testing::FakeHost` seeded with
//! [`RESOURCES`] and compares the transcripts line by line.
//!
//! Run them in [`SEQUENCES`] order on one host: later ones see what earlier ones left.

mod captures;
mod sequences;
#[cfg(all(test, feature = "testing"))]
mod tests;

use captures::captures;
use sequences::{backups, documents, ids, jobs, resources, unscoped};

use crate::{
    Host, HostError,
    jobs::{Job, JobKind, JobSpec},
    resources::Resource,
};

/// The sequences, in the order they are run.
pub const SEQUENCES: &[&str] = &[
    "documents",
    "resources",
    "jobs",
    "backups",
    "ids",
    "captures",
    "unscoped",
];

/// A resource both hosts are seeded with.
#[derive(Debug, Clone, Copy)]
pub struct Seed {
    /// The org that owns it.
    pub org: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Id.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Whether it has a capture source.
    pub source: bool,
}

/// The org the sequences run as (the caller's).
pub const ORG: &str = "acme";
/// The subject they run as.
pub const SUBJECT: &str = "runner";

/// The resources both hosts are seeded with (state `active`, no attributes).
pub const RESOURCES: &[Seed] = &[
    Seed {
        org: ORG,
        kind: "disk",
        id: "d1",
        name: "Disk one",
        source: true,
    },
    Seed {
        org: ORG,
        kind: "disk",
        id: "d2",
        name: "Disk two",
        source: true,
    },
    Seed {
        org: ORG,
        kind: "disk",
        id: "bare",
        name: "No source",
        source: false,
    },
    Seed {
        org: "other",
        kind: "disk",
        id: "secret",
        name: "Another org's",
        source: true,
    },
];

/// A fake host seeded with [`RESOURCES`] (each in its org) and calling as [`ORG`]/[`SUBJECT`],
/// as the parity scenario seeds the real one.
#[cfg(feature = "testing")]
pub fn seeded_fake() -> crate::testing::FakeHost {
    let fake = crate::testing::FakeHost::new();
    for seed in RESOURCES {
        fake.set_caller(seed.org, SUBJECT);
        fake.add_resource(Resource {
            kind: seed.kind.into(),
            id: seed.id.into(),
            name: seed.name.into(),
            state: "active".into(),
            attributes: "{}".into(),
            has_source: seed.source,
            created_at: crate::testing::T0,
        });
    }
    fake.set_caller(ORG, SUBJECT);
    fake
}

/// Every sequence's transcript on [`seeded_fake`], in [`SEQUENCES`] order, run as the real
/// host runs them: `unscoped` with no principal, and before `captures` the fake plays the
/// host's one worker, running each queued job oldest first on a source of `source_size`
/// bytes (`start_job`, `complete_capture`).
#[cfg(feature = "testing")]
pub fn fake_transcripts(source_size: u64) -> Vec<(&'static str, Vec<String>)> {
    let fake = seeded_fake();
    SEQUENCES
        .iter()
        .map(|&name| {
            if name == "unscoped" {
                fake.set_unauthenticated();
            }
            if name == "captures" {
                for job in fake.all_jobs() {
                    if job.status == crate::jobs::JobStatus::Queued {
                        fake.start_job(&job.id, 0);
                        fake.complete_capture(&job.id, source_size, source_size);
                    }
                }
            }
            (name, run(&fake, name).unwrap_or_default())
        })
        .collect()
}

/// The transcript of sequence `name` (`None`: no such sequence). `unscoped` expects a host
/// called with no principal; the others the caller [`ORG`]/[`SUBJECT`]. `captures` expects
/// the host's workers to have run the jobs the earlier sequences queued, oldest first.
pub fn run(host: &impl Host, name: &str) -> Option<Vec<String>> {
    let mut t = Transcript(Vec::new());
    match name {
        "documents" => documents(host, &mut t),
        "resources" => resources(host, &mut t),
        "jobs" => jobs(host, &mut t),
        "backups" | "unscoped" => backups(host, &mut t),
        "ids" => ids(host, &mut t),
        "captures" => captures(host, &mut t),
        _ => return None,
    }
    if name == "unscoped" {
        unscoped(host, &mut t);
    }
    Some(t.0)
}

/// What a sequence saw, one line a call.
struct Transcript(Vec<String>);

impl Transcript {
    /// Write down one step and its outcome.
    fn say(&mut self, step: &str, outcome: impl Into<String>) {
        self.0.push(format!("{step} -> {}", outcome.into()));
    }
}

fn error(e: &HostError) -> String {
    match e {
        HostError::NotFound => "not-found".into(),
        HostError::Conflict(m) => format!("conflict: {m}"),
        HostError::QuotaExceeded => "quota-exceeded".into(),
        HostError::Invalid(m) => format!("invalid: {m}"),
        HostError::Unavailable => "unavailable".into(),
    }
}

fn outcome<T>(r: &Result<T, HostError>, ok: impl FnOnce(&T) -> String) -> String {
    match r {
        Ok(v) => format!("ok {}", ok(v)),
        Err(e) => error(e),
    }
}

fn resource(r: &Resource) -> String {
    format!(
        "{}/{} {:?} state={} source={} attributes={}",
        r.kind, r.id, r.name, r.state, r.has_source, r.attributes
    )
}

fn job(j: &Job) -> String {
    format!(
        "{:?} {}/{} #{} {:?} attempts={} message={:?} subject={} source={:?} backup={:?} error={:?} started={} finished={} metadata={}",
        j.kind,
        j.resource_kind,
        j.resource_id,
        j.seq,
        j.status,
        j.attempts,
        j.progress.message,
        j.subject,
        j.source_backup.is_some(),
        j.backup_id,
        j.error,
        j.started_at.is_some(),
        j.finished_at.is_some(),
        j.metadata
    )
}

fn spec(kind: JobKind, resource_id: &str, exclusive: bool) -> JobSpec {
    JobSpec {
        kind,
        resource_kind: "disk".into(),
        resource_id: resource_id.into(),
        source_backup: None,
        deduplicate: false,
        exclusive,
        filename: "disk image.img".into(),
        media_type: "application/octet-stream".into(),
        metadata: r#"{"n":1}"#.into(),
    }
}
