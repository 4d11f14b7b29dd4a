//! The fake's error injection reaches every import that touches the database, the reads
//! that only became fallible in 1.1 included.

use super::{FakeHost, Import, job, resource};
use crate::jobs::{JobKind, JobStatus};
use crate::{Host, HostError, paging};

/// A read whose answer the test ignores but for its error.
type Read<'a> = &'a dyn Fn() -> Result<(), HostError>;

#[test]
fn every_database_read_can_be_made_unavailable() {
    let host = FakeHost::new();
    host.add_resource(resource("vps", "v1"));
    host.add_job(job(
        "j1",
        JobKind::Capture,
        JobStatus::Queued,
        ("vps", "v1"),
    ));
    host.put_document("c", "k", "{}", None).expect("put");
    let reads: [(Import, Read); 8] = [
        (Import::ResourcesGet, &|| {
            host.resource("vps", "v1").map(drop)
        }),
        (Import::ResourcesList, &|| {
            host.resources(&paging::resources_of("vps")).map(drop)
        }),
        (Import::JobsGet, &|| host.job("j1").map(drop)),
        (Import::JobsGetBySeq, &|| host.job_by_seq(1).map(drop)),
        (Import::JobsList, &|| {
            host.jobs(&crate::jobs::Query {
                kinds: Vec::new(),
                resource_kind: None,
                resource_id: None,
                statuses: Vec::new(),
                limit: 10,
            })
            .map(drop)
        }),
        (Import::DocumentsGet, &|| host.document("c", "k").map(drop)),
        (Import::DocumentsList, &|| {
            host.documents("c", None, 10).map(drop)
        }),
        (Import::IdsNextInSequence, &|| {
            host.next_in_sequence("n").map(drop)
        }),
    ];
    for (import, read) in reads {
        host.fail_next(import, 1, HostError::Unavailable);
        assert!(
            matches!(read(), Err(HostError::Unavailable)),
            "{import:?} did not fail"
        );
        assert!(read().is_ok(), "{import:?} failed twice");
        assert_eq!(host.calls(import), 2, "{import:?}");
    }
}

#[test]
fn an_invalid_attribute_key_is_refused_before_any_fault() {
    let host = FakeHost::new();
    host.fail_always(Import::ResourcesList, HostError::Unavailable);
    let query = crate::resources::Query {
        attribute: Some(("no spaces".into(), "x".into())),
        ..paging::resources_of("vps")
    };
    assert!(matches!(
        host.resources(&query),
        Err(HostError::Invalid(m)) if m == "attribute key must be 1-64 of [A-Za-z0-9._-]"
    ));
    assert_eq!(host.calls(Import::ResourcesList), 0);
}
