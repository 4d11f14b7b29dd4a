//! The call sequences that hold the fake host equal to the real one (feature
//! `conformance`): each runs a fixed series of imports against any [`Host`] and writes down
//! what came back, without the values only one side can know (ids, times). The test plugin
//! `tests/plugins/conformance` runs them inside the real host; the test
//! `examples/harness/tests/fake_parity.rs` runs them against `testing::FakeHost` seeded with
//! [`RESOURCES`] and compares the transcripts line by line.
//!
//! Run them in [`SEQUENCES`] order on one host: later ones see what earlier ones left.

use crate::{
    Host, HostError,
    backups::Query as BackupQuery,
    jobs::{Job, JobKind, JobSpec, JobStatus, Query as JobQuery},
    resources::Resource,
};

/// The sequences, in the order they are run.
pub const SEQUENCES: &[&str] = &[
    "documents",
    "resources",
    "jobs",
    "backups",
    "ids",
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

/// The transcript of sequence `name` (`None`: no such sequence). `unscoped` expects a host
/// called with no principal; the others the caller [`ORG`]/[`SUBJECT`].
pub fn run(host: &impl Host, name: &str) -> Option<Vec<String>> {
    let mut t = Transcript(Vec::new());
    match name {
        "documents" => documents(host, &mut t),
        "resources" => resources(host, &mut t),
        "jobs" => jobs(host, &mut t),
        "backups" | "unscoped" => backups(host, &mut t),
        "ids" => ids(host, &mut t),
        _ => return None,
    }
    if name == "unscoped" {
        unscoped(host, &mut t);
    }
    Some(t.0)
}

struct Transcript(Vec<String>);

impl Transcript {
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
        j.source_backup,
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

fn documents(host: &impl Host, t: &mut Transcript) {
    let doc = |d: &crate::documents::Document| format!("{} rev={} {}", d.key, d.revision, d.value);
    t.say(
        "get missing",
        format!("{:?}", host.document("notes", "a").map(|d| doc(&d))),
    );
    t.say(
        "insert a",
        outcome(&host.put_document("notes", "a", r#"{"v":1}"#, Some(0)), doc),
    );
    t.say(
        "insert a again",
        outcome(&host.put_document("notes", "a", "{}", Some(0)), doc),
    );
    t.say(
        "replace a at 1",
        outcome(&host.put_document("notes", "a", r#"{"v":2}"#, Some(1)), doc),
    );
    t.say(
        "replace a at 1 again",
        outcome(&host.put_document("notes", "a", "{}", Some(1)), doc),
    );
    t.say(
        "replace a at 9",
        outcome(&host.put_document("notes", "a", "{}", Some(9)), doc),
    );
    t.say(
        "upsert a",
        outcome(&host.put_document("notes", "a", r#"[3]"#, None), doc),
    );
    t.say(
        "upsert b",
        outcome(&host.put_document("notes", "b", r#""b""#, None), doc),
    );
    t.say(
        "replace missing c",
        outcome(&host.put_document("notes", "c", "{}", Some(1)), doc),
    );
    t.say(
        "not JSON",
        outcome(&host.put_document("notes", "c", "{nope", None), doc),
    );
    t.say(
        "insert c",
        outcome(&host.put_document("notes", "c", "null", Some(0)), doc),
    );
    t.say(
        "other collection",
        outcome(&host.put_document("other", "a", "1", None), doc),
    );
    t.say(
        "get a",
        format!("{:?}", host.document("notes", "a").map(|d| doc(&d))),
    );
    let keys = |ds: Vec<crate::documents::Document>| {
        ds.iter()
            .map(|d| d.key.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    t.say("list 2", keys(host.documents("notes", None, 2)));
    t.say("list after a", keys(host.documents("notes", Some("a"), 10)));
    t.say("list after c", keys(host.documents("notes", Some("c"), 10)));
    t.say("list 0", keys(host.documents("notes", None, 0)));
    t.say(
        "delete b",
        outcome(&host.delete_document("notes", "b"), |v| v.to_string()),
    );
    t.say(
        "delete b again",
        outcome(&host.delete_document("notes", "b"), |v| v.to_string()),
    );
    t.say(
        "insert b after delete",
        outcome(&host.put_document("notes", "b", "2", Some(0)), doc),
    );
}

fn resources(host: &impl Host, t: &mut Transcript) {
    t.say(
        "get d1",
        format!("{:?}", host.resource("disk", "d1").map(|r| resource(&r))),
    );
    t.say(
        "get other org's",
        format!(
            "{:?}",
            host.resource("disk", "secret").map(|r| resource(&r))
        ),
    );
    t.say(
        "get wrong kind",
        format!("{:?}", host.resource("vps", "d1").map(|r| resource(&r))),
    );
    let ids = |rs: Vec<Resource>| {
        rs.iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    t.say("list", ids(host.resources("disk", None, 10)));
    t.say(
        "list 1 after bare",
        ids(host.resources("disk", Some("bare"), 1)),
    );
    t.say(
        "set state",
        outcome(&host.set_resource_state("disk", "d2", "restoring"), |_| {
            String::new()
        }),
    );
    t.say(
        "set state missing",
        outcome(&host.set_resource_state("disk", "nope", "x"), |_| {
            String::new()
        }),
    );
    t.say(
        "set state other org's",
        outcome(&host.set_resource_state("disk", "secret", "x"), |_| {
            String::new()
        }),
    );
    t.say(
        "get d2",
        format!("{:?}", host.resource("disk", "d2").map(|r| resource(&r))),
    );
    t.say(
        "create bad attributes",
        outcome(&host.create_resource("disk", "new", "New", "[1]"), resource),
    );
    t.say(
        "create",
        outcome(
            &host.create_resource("disk", "new", "New", r#"{"size":1}"#),
            resource,
        ),
    );
    t.say(
        "create again",
        outcome(
            &host.create_resource("disk", "new", "Again", "{}"),
            resource,
        ),
    );
    t.say(
        "create over a declared one",
        outcome(&host.create_resource("disk", "d1", "X", "{}"), resource),
    );
    t.say("list after create", ids(host.resources("disk", None, 10)));
}

fn jobs(host: &impl Host, t: &mut Transcript) {
    let mut bad = spec(JobKind::Capture, "d1", true);
    bad.metadata = "[1]".into();
    t.say(
        "metadata not an object",
        outcome(&host.create_job(&bad), job),
    );
    t.say(
        "missing resource",
        outcome(&host.create_job(&spec(JobKind::Capture, "nope", true)), job),
    );
    t.say(
        "other org's resource",
        outcome(
            &host.create_job(&spec(JobKind::Capture, "secret", true)),
            job,
        ),
    );
    t.say(
        "no source",
        outcome(&host.create_job(&spec(JobKind::Capture, "bare", true)), job),
    );
    t.say(
        "restore without backup",
        outcome(&host.create_job(&spec(JobKind::Restore, "d1", true)), job),
    );
    let mut unknown = spec(JobKind::Restore, "d1", true);
    unknown.source_backup = Some("01900000-0000-7000-8000-00000000ffff".into());
    t.say(
        "restore of an unknown backup",
        outcome(&host.create_job(&unknown), job),
    );
    let first = host.create_job(&spec(JobKind::Capture, "d1", true));
    t.say("exclusive capture", outcome(&first, job));
    t.say(
        "second exclusive",
        outcome(&host.create_job(&spec(JobKind::Capture, "d1", true)), job),
    );
    t.say(
        "non-exclusive",
        outcome(&host.create_job(&spec(JobKind::Capture, "d1", false)), job),
    );
    t.say(
        "exclusive on d2",
        outcome(&host.create_job(&spec(JobKind::Capture, "d2", true)), job),
    );
    let Ok(first) = first else { return };
    t.say(
        "get",
        format!("{:?}", host.job(&first.id).map(|j| j.id == first.id)),
    );
    t.say(
        "get missing",
        format!(
            "{:?}",
            host.job("01900000-0000-7000-8000-00000000fffe")
                .map(|j| job(&j))
        ),
    );
    t.say(
        "get by seq 1",
        format!("{:?}", host.job_by_seq(1).map(|j| j.id == first.id)),
    );
    t.say(
        "get by seq 99",
        format!("{:?}", host.job_by_seq(99).map(|j| job(&j))),
    );
    t.say(
        "get by seq beyond i64",
        format!("{:?}", host.job_by_seq(u64::MAX).map(|j| job(&j))),
    );
    let list = |q: &JobQuery| {
        host.jobs(q)
            .iter()
            .map(|j| format!("#{} {}", j.seq, j.resource_id))
            .collect::<Vec<_>>()
            .join(",")
    };
    let all = JobQuery {
        resource_kind: None,
        resource_id: None,
        statuses: Vec::new(),
        limit: 100,
    };
    t.say("list", list(&all));
    t.say(
        "list 2",
        list(&JobQuery {
            limit: 2,
            ..all.clone()
        }),
    );
    t.say(
        "list d2",
        list(&JobQuery {
            resource_id: Some("d2".into()),
            ..all.clone()
        }),
    );
    t.say(
        "list empty filters",
        list(&JobQuery {
            resource_kind: Some(String::new()),
            resource_id: Some(String::new()),
            ..all.clone()
        }),
    );
    t.say(
        "set metadata not JSON",
        outcome(&host.set_job_metadata(&first.id, "{x"), |_| String::new()),
    );
    t.say(
        "set metadata",
        outcome(&host.set_job_metadata(&first.id, "[2]"), |_| String::new()),
    );
    t.say(
        "set metadata missing",
        outcome(&host.set_job_metadata("nope", "{}"), |_| String::new()),
    );
    t.say("cancel", outcome(&host.cancel_job(&first.id), job));
    t.say("cancel again", outcome(&host.cancel_job(&first.id), job));
    t.say("cancel missing", outcome(&host.cancel_job("nope"), job));
    t.say(
        "list cancelled",
        list(&JobQuery {
            statuses: vec![JobStatus::Cancelled],
            ..all.clone()
        }),
    );
    t.say(
        "list active",
        list(&JobQuery {
            statuses: vec![JobStatus::Queued, JobStatus::InProgress],
            ..all.clone()
        }),
    );
    t.say(
        "exclusive after cancel",
        outcome(&host.create_job(&spec(JobKind::Capture, "d1", true)), job),
    );
}

fn backups(host: &impl Host, t: &mut Transcript) {
    let page = host.backups(&BackupQuery {
        resource_kind: Some("disk".into()),
        resource_id: None,
        newest_first: true,
        offset: 0,
        limit: 10,
    });
    t.say(
        "list",
        outcome(&page, |p| {
            format!("total={} items={}", p.total, p.items.len())
        }),
    );
    let id = "01900000-0000-7000-8000-00000000fffd";
    t.say(
        "get",
        outcome(&host.backup(id), |b| {
            format!("{:?}", b.as_ref().map(|b| &b.id))
        }),
    );
    t.say(
        "get by seq",
        outcome(&host.backup_by_seq(1), |b| {
            format!("{:?}", b.as_ref().map(|b| &b.id))
        }),
    );
    t.say(
        "get by seq beyond i64",
        outcome(&host.backup_by_seq(u64::MAX), |b| {
            format!("{:?}", b.as_ref().map(|b| &b.id))
        }),
    );
    t.say(
        "delete",
        outcome(&host.delete_backup(id), |v| v.to_string()),
    );
    let range = crate::ByteRange {
        offset: 0,
        length: Some(10),
    };
    t.say(
        "read",
        outcome(&host.read_backup(id, range), |b| b.len().to_string()),
    );
    t.say(
        "object exists",
        outcome(&host.object_exists(id), |v| v.to_string()),
    );
    t.say(
        "set metadata not JSON",
        outcome(&host.set_backup_metadata(id, "{x"), |_| String::new()),
    );
    t.say(
        "set metadata",
        outcome(&host.set_backup_metadata(id, "{}"), |_| String::new()),
    );
}

fn ids(host: &impl Host, t: &mut Transcript) {
    t.say("next a", host.next_in_sequence("a").to_string());
    t.say("next a", host.next_in_sequence("a").to_string());
    t.say("next b", host.next_in_sequence("b").to_string());
    let v4 = host.uuid_v4();
    t.say(
        "uuid v4",
        format!("len={} version={:?}", v4.len(), v4.chars().nth(14)),
    );
    let v7 = host.uuid_v7();
    t.say(
        "uuid v7",
        format!(
            "len={} version={:?} lower={}",
            v7.len(),
            v7.chars().nth(14),
            v7 == v7.to_lowercase()
        ),
    );
    let ulid = host.ulid();
    let crockford = ulid
        .chars()
        .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c));
    t.say("ulid", format!("len={} crockford={crockford}", ulid.len()));
    t.say("ulids differ", (host.ulid() != ulid).to_string());
    t.say(
        "clock after 2020",
        (host.now() > 1_577_836_800_000_000).to_string(),
    );
}

/// With no principal every database import sees nothing.
fn unscoped(host: &impl Host, t: &mut Transcript) {
    t.say(
        "resource",
        format!("{:?}", host.resource("disk", "d1").map(|r| resource(&r))),
    );
    t.say(
        "resources",
        host.resources("disk", None, 10).len().to_string(),
    );
    t.say(
        "set state",
        outcome(&host.set_resource_state("disk", "d1", "x"), |_| {
            String::new()
        }),
    );
    t.say(
        "create",
        outcome(&host.create_resource("disk", "x", "X", "{}"), resource),
    );
    t.say(
        "create bad attributes",
        outcome(&host.create_resource("disk", "x", "X", "1"), resource),
    );
    t.say(
        "create job",
        outcome(&host.create_job(&spec(JobKind::Capture, "d1", false)), job),
    );
    t.say(
        "jobs",
        host.jobs(&JobQuery {
            resource_kind: None,
            resource_id: None,
            statuses: Vec::new(),
            limit: 10,
        })
        .len()
        .to_string(),
    );
    t.say(
        "job by seq",
        format!("{:?}", host.job_by_seq(1).map(|j| j.seq)),
    );
    t.say("cancel", outcome(&host.cancel_job("x"), job));
    t.say(
        "document",
        format!("{:?}", host.document("notes", "a").map(|d| d.revision)),
    );
    t.say(
        "documents",
        host.documents("notes", None, 10).len().to_string(),
    );
    t.say(
        "put",
        outcome(&host.put_document("notes", "z", "{}", None), |d| {
            d.revision.to_string()
        }),
    );
    t.say(
        "put not JSON",
        outcome(&host.put_document("notes", "z", "{", None), |d| {
            d.revision.to_string()
        }),
    );
    t.say(
        "delete",
        outcome(&host.delete_document("notes", "a"), |v| v.to_string()),
    );
    t.say("next in sequence", host.next_in_sequence("a").to_string());
}
