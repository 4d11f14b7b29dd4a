//! The six call sequences: documents (compare-and-swap writes and deletes, listing),
//! resources (org scoping, states, creation, the attribute filter), jobs (the checks of
//! `jobs.create` in the host's order, exclusivity, cancelling, listing with filters),
//! backups (absent ones), ids, and every database import unscoped.

use super::{Transcript, job, outcome, resource, spec};
use crate::{
    Host,
    backups::Query as BackupQuery,
    jobs::{JobKind, JobStatus, Query as JobQuery},
    resources::{Query as ResourceQuery, Resource},
};

pub(super) fn documents(host: &impl Host, t: &mut Transcript) {
    let doc = |d: &crate::documents::Document| format!("{} rev={} {}", d.key, d.revision, d.value);
    let got = |d: &Option<crate::documents::Document>| format!("{:?}", d.as_ref().map(doc));
    t.say("get missing", outcome(&host.document("notes", "a"), got));
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
    t.say("get a", outcome(&host.document("notes", "a"), got));
    let keys = |ds: &Vec<crate::documents::Document>| {
        ds.iter()
            .map(|d| d.key.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    t.say("list 2", outcome(&host.documents("notes", None, 2), keys));
    t.say(
        "list after a",
        outcome(&host.documents("notes", Some("a"), 10), keys),
    );
    t.say(
        "list after c",
        outcome(&host.documents("notes", Some("c"), 10), keys),
    );
    t.say("list 0", outcome(&host.documents("notes", None, 0), keys));
    let deleted = |v: &bool| v.to_string();
    t.say(
        "delete b",
        outcome(&host.delete_document("notes", "b", None), deleted),
    );
    t.say(
        "delete b again",
        outcome(&host.delete_document("notes", "b", None), deleted),
    );
    t.say(
        "insert b after delete",
        outcome(&host.put_document("notes", "b", "2", Some(0)), doc),
    );
    // `a` is at revision 3 (inserted, replaced, upserted).
    let delete_at = |t: &mut Transcript, steps: &[(&str, &str, u64)]| {
        for (step, key, revision) in steps {
            let done = host.delete_document("notes", key, Some(*revision));
            t.say(step, outcome(&done, deleted));
        }
    };
    delete_at(
        t,
        &[
            ("delete a at a wrong revision", "a", 2),
            ("delete a at revision 0", "a", 0),
        ],
    );
    t.say(
        "a after refused deletes",
        outcome(&host.document("notes", "a"), got),
    );
    delete_at(
        t,
        &[
            ("delete a at its revision", "a", 3),
            ("delete a at its revision again", "a", 3),
            ("delete missing at revision 0", "nope", 0),
        ],
    );
    t.say("get deleted a", outcome(&host.document("notes", "a"), got));
    t.say(
        "list after deletes",
        outcome(&host.documents("notes", None, 10), keys),
    );
}

/// Resource ids, joined.
fn resource_ids(rs: &[Resource]) -> String {
    rs.iter()
        .map(|r| r.id.clone())
        .collect::<Vec<_>>()
        .join(",")
}

/// A `resources.list` query of kind `disk`.
fn disks(after: Option<&str>, limit: u32, attribute: Option<(&str, &str)>) -> ResourceQuery {
    ResourceQuery {
        kind: "disk".into(),
        after: after.map(str::to_string),
        limit,
        attribute: attribute.map(|(k, v)| (k.to_string(), v.to_string())),
    }
}

pub(super) fn resources(host: &impl Host, t: &mut Transcript) {
    let got = |r: &Option<Resource>| format!("{:?}", r.as_ref().map(resource));
    t.say("get d1", outcome(&host.resource("disk", "d1"), got));
    t.say(
        "get other org's",
        outcome(&host.resource("disk", "secret"), got),
    );
    t.say("get wrong kind", outcome(&host.resource("vps", "d1"), got));
    t.say(
        "list",
        outcome(&host.resources(&disks(None, 10, None)), |rs| {
            resource_ids(rs)
        }),
    );
    t.say(
        "list 1 after bare",
        outcome(&host.resources(&disks(Some("bare"), 1, None)), |rs| {
            resource_ids(rs)
        }),
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
    t.say("get d2", outcome(&host.resource("disk", "d2"), got));
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
    t.say(
        "list after create",
        outcome(&host.resources(&disks(None, 10, None)), |rs| {
            resource_ids(rs)
        }),
    );
    attribute_filter(host, t);
}

/// `resources.list` with an attribute filter: a top-level key with a string value, nothing
/// else (not a number, not a nested key), and the key's rule.
fn attribute_filter(host: &impl Host, t: &mut Transcript) {
    for (id, attributes) in [
        ("s12", r#"{"site":"12","rack":7,"dc.zone":"x"}"#),
        ("s12n", r#"{"site":12,"rack":"7","dc":{"zone":"x"}}"#),
        ("s7", r#"{"site":"7","tag":""}"#),
    ] {
        t.say(
            &format!("create {id}"),
            outcome(&host.create_resource("disk", id, id, attributes), resource),
        );
    }
    let list = |after: Option<&str>, limit: u32, key: &str, value: &str| {
        outcome(
            &host.resources(&disks(after, limit, Some((key, value)))),
            |rs| resource_ids(rs),
        )
    };
    t.say("site=12", list(None, 10, "site", "12"));
    t.say("site=7", list(None, 10, "site", "7"));
    t.say("rack=7 (a number in s12)", list(None, 10, "rack", "7"));
    t.say("tag is empty", list(None, 10, "tag", ""));
    t.say("dotted key, top level only", list(None, 10, "dc.zone", "x"));
    t.say("nested object", list(None, 10, "dc", "x"));
    t.say("no such key", list(None, 10, "zone", "x"));
    t.say(
        "create s12b",
        outcome(
            &host.create_resource("disk", "s12b", "s12b", r#"{"site":"12"}"#),
            resource,
        ),
    );
    t.say("site=12 limit 1", list(None, 1, "site", "12"));
    t.say("site=12 after s12", list(Some("s12"), 10, "site", "12"));
    t.say("empty key", list(None, 10, "", "x"));
    t.say("key with a space", list(None, 10, "site id", "12"));
    t.say("key with a slash", list(None, 10, "a/b", "12"));
    t.say("key of 64", list(None, 10, &"k".repeat(64), "x"));
    t.say("key of 65", list(None, 10, &"k".repeat(65), "x"));
    t.say("key of a dot", list(None, 10, ".", "x"));
    t.say("non-ASCII key", list(None, 10, "sité", "12"));
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
    let same = |j: &Option<crate::jobs::Job>| format!("{:?}", j.as_ref().map(|j| j.id == first.id));
    let got = |j: &Option<crate::jobs::Job>| format!("{:?}", j.as_ref().map(job));
    t.say("get", outcome(&host.job(&first.id), same));
    t.say(
        "get missing",
        outcome(&host.job("01900000-0000-7000-8000-00000000fffe"), got),
    );
    t.say("get by seq 1", outcome(&host.job_by_seq(1), same));
    t.say("get by seq 99", outcome(&host.job_by_seq(99), got));
    t.say(
        "get by seq beyond i64",
        outcome(&host.job_by_seq(u64::MAX), got),
    );
    let list = |q: &JobQuery| outcome(&host.jobs(q), |js| listed(js));
    let all = all_jobs(100);
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
    t.say(
        "list captures",
        list(&JobQuery {
            kinds: vec![JobKind::Capture],
            ..all.clone()
        }),
    );
    t.say(
        "list restores (none yet)",
        list(&JobQuery {
            kinds: vec![JobKind::Restore],
            ..all.clone()
        }),
    );
    t.say(
        "list restores on d1",
        list(&JobQuery {
            kinds: vec![JobKind::Restore],
            resource_id: Some("d1".into()),
            ..all.clone()
        }),
    );
}

/// A jobs query for every job, at most `limit`.
pub(super) fn all_jobs(limit: u32) -> JobQuery {
    JobQuery {
        kinds: Vec::new(),
        resource_kind: None,
        resource_id: None,
        statuses: Vec::new(),
        limit,
    }
}

/// Jobs as `#seq resource-id`, joined.
pub(super) fn listed(jobs: &[crate::jobs::Job]) -> String {
    jobs.iter()
        .map(|j| format!("#{} {:?} {}", j.seq, j.kind, j.resource_id))
        .collect::<Vec<_>>()
        .join(",")
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
    let n = |v: &u64| v.to_string();
    t.say("next a", outcome(&host.next_in_sequence("a"), n));
    t.say("next a", outcome(&host.next_in_sequence("a"), n));
    t.say("next b", outcome(&host.next_in_sequence("b"), n));
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

/// With no principal every database import answers `not-found`, the reads too (an
/// argument refused first, such as attributes that are no object, stays `invalid`).
pub(super) fn unscoped(host: &impl Host, t: &mut Transcript) {
    let count = |v: &Vec<Resource>| v.len().to_string();
    t.say(
        "resource",
        outcome(&host.resource("disk", "d1"), |r| {
            format!("{:?}", r.as_ref().map(resource))
        }),
    );
    t.say(
        "resources",
        outcome(&host.resources(&disks(None, 10, None)), count),
    );
    t.say(
        "resources by attribute",
        outcome(
            &host.resources(&disks(None, 10, Some(("site", "12")))),
            count,
        ),
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
    t.say("jobs", outcome(&host.jobs(&all_jobs(10)), |js| listed(js)));
    t.say(
        "job",
        outcome(&host.job("01900000-0000-7000-8000-000000000001"), |j| {
            format!("{:?}", j.as_ref().map(|j| j.seq))
        }),
    );
    t.say(
        "job by seq",
        outcome(&host.job_by_seq(1), |j| {
            format!("{:?}", j.as_ref().map(|j| j.seq))
        }),
    );
    t.say("cancel", outcome(&host.cancel_job("x"), job));
    t.say(
        "document",
        outcome(&host.document("notes", "b"), |d| {
            format!("{:?}", d.as_ref().map(|d| d.revision))
        }),
    );
    t.say(
        "documents",
        outcome(&host.documents("notes", None, 10), |ds| {
            ds.len().to_string()
        }),
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
        outcome(&host.delete_document("notes", "b", None), |v| v.to_string()),
    );
    t.say(
        "delete at a revision",
        outcome(&host.delete_document("notes", "b", Some(1)), |v| {
            v.to_string()
        }),
    );
    t.say(
        "next in sequence",
        outcome(&host.next_in_sequence("a"), |v| v.to_string()),
    );
}
