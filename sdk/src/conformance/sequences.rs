//! The six call sequences: documents (compare-and-swap, listing), resources (org scoping,
//! states, creation), jobs (the checks of `jobs.create` in the host's order, exclusivity,
//! cancelling, listing), backups (absent ones), ids, and every database import unscoped.

use super::{Transcript, job, outcome, resource, spec};
use crate::{
    Host,
    backups::Query as BackupQuery,
    jobs::{JobKind, JobStatus, Query as JobQuery},
    resources::Resource,
};

pub(super) fn documents(host: &impl Host, t: &mut Transcript) {
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

pub(super) fn resources(host: &impl Host, t: &mut Transcript) {
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

pub(super) fn jobs(host: &impl Host, t: &mut Transcript) {
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

pub(super) fn backups(host: &impl Host, t: &mut Transcript) {
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

pub(super) fn ids(host: &impl Host, t: &mut Transcript) {
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
pub(super) fn unscoped(host: &impl Host, t: &mut Transcript) {
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
