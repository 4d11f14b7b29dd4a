//! Tests of the operations against the in-memory host ([`crate::fake`]): every route, every
//! representation, and every error an operation answers itself.

use backup_gateway_sdk::{Body, ByteRange, HostError, Method, Principal, jobs::JobKind};
use serde_json::{Value, json};

use super::*;
use crate::testing::{EMPTY_SITE, SITE, WithBackup, backup_id, two_sites};
use backup_gateway_sdk::resources::Resource;
use backup_gateway_sdk::testing::{FakeHost, Import};

const HQ: &str = include_str!("../tests/fixtures/hq-rb5009.rsc");
const DC: &str = include_str!("../tests/fixtures/dc-ccr-ipv6.rsc");

/// 2024-11-25T20:50:00Z, the seed's example filename.
const UNIX: u64 = 1_732_567_800;

const MIB: usize = 1024 * 1024;

fn request(operation: &str, params: &[(&str, &str)], headers: &[(&str, &str)]) -> Request {
    let method = if operation == REQUEST_BACKUP {
        Method::Post
    } else {
        Method::Get
    };
    Request {
        operation: operation.into(),
        method,
        path: "/backup".into(),
        params: params
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        query: Vec::new(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        body: Vec::new(),
        principal: Some(Principal {
            org: "org-1".into(),
            subject: "token-1".into(),
            scopes: vec!["backup:read".into(), "backup:create".into()],
        }),
        request_id: "req-1".into(),
        // 2024-11-25T20:50:00.750Z
        received_at: UNIX * 1_000_000 + 750_000,
    }
}

fn on_site(operation: &str, site: &str) -> Request {
    request(operation, &[("siteId", site)], &[])
}

fn get(filename: &str, headers: &[(&str, &str)]) -> Request {
    request(
        GET_BACKUP,
        &[("siteId", SITE), ("filename", filename)],
        headers,
    )
}

fn body_text(resp: &Response) -> String {
    match &resp.body {
        Body::Bytes(b) => String::from_utf8(b.clone()).expect("UTF-8 body"),
        other => panic!("not a bytes body: {other:?}"),
    }
}

/// Assert an error response: status, type, code and content type; returns the message.
fn assert_error(resp: &Response, status: u16, kind: &str, code: &str) -> String {
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = resp.body_json().expect("JSON error");
    assert_eq!(
        (resp.status, body["type"].as_str(), body["code"].as_str()),
        (status, Some(kind), Some(code)),
        "{body}"
    );
    assert_eq!(
        body["doc_url"],
        json!(format!("https://docs.altostrat.io/errors/{code}"))
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(4), "{body}");
    body["message"].as_str().unwrap_or_default().to_string()
}

// ---- requestSiteBackup ----

#[test]
fn request_backup_queues_a_capture() {
    let host = two_sites();
    let resp = handle(&host, &on_site(REQUEST_BACKUP, SITE));
    assert_eq!(resp.status, 202);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(
        resp.body_json(),
        Some(json!({ "message": "Backup requested" }))
    );
    let jobs = host.specs();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.kind, JobKind::Capture);
    assert_eq!(job.resource_kind, "site");
    assert_eq!(job.resource_id, SITE);
    assert_eq!(job.filename, "1732567800.rsc");
    assert_eq!(job.media_type, "text/plain");
    assert_eq!(job.metadata, "{}");
    assert_eq!(job.source_backup, None);
    assert!(!job.deduplicate);
}

#[test]
fn backups_requested_in_the_same_second_get_distinct_names() {
    let host = two_sites();
    for _ in 0..3 {
        assert_eq!(handle(&host, &on_site(REQUEST_BACKUP, SITE)).status, 202);
    }
    let names: Vec<String> = host.specs().iter().map(|j| j.filename.clone()).collect();
    assert_eq!(
        names,
        ["1732567800.rsc", "1732567801.rsc", "1732567802.rsc"]
    );
    // The site's name document says what was issued last.
    let doc = host
        .document(crate::names::COLLECTION, SITE)
        .expect("read")
        .expect("document");
    assert_eq!(doc.value, r#"{"last":1732567802}"#);
    // A request that cannot reserve a name (it keeps losing races) queues nothing.
    host.fail_next(
        Import::DocumentsPut,
        usize::MAX,
        HostError::Conflict("revision mismatch".into()),
    );
    let resp = handle(&host, &on_site(REQUEST_BACKUP, SITE));
    assert_error(&resp, 409, "invalid_request_error", "conflict");
    assert_eq!(host.specs().len(), 3);
}

#[test]
fn site_ids_are_case_insensitive() {
    let host = two_sites();
    let upper = SITE.to_ascii_uppercase();
    let resp = handle(&host, &on_site(REQUEST_BACKUP, &upper));
    assert_eq!(resp.status, 202);
    // Looked up (and captured) under the stored, lower-case id.
    assert_eq!(host.specs()[0].resource_id, SITE);
    assert_eq!(host.lookups().as_slice(), [SITE]);
    // A site stored with upper-case letters is still found as given.
    let host = FakeHost::new();
    host.add_resource(crate::testing::site(&upper));
    assert_eq!(handle(&host, &on_site(LIST_BACKUPS, &upper)).status, 200);
    assert_eq!(handle(&host, &on_site(LIST_BACKUPS, SITE)).status, 404);
}

#[test]
fn site_ids_must_be_uuids() {
    let bad = [
        "",
        "abc",
        "a1b2c3d4e5f6789012345678 90abcdef",
        "a1b2c3d4e5f67890123456789 0abcdef1234",
        "a1b2c3d4-e5f6-7890-1234-567890abcde",
        "a1b2c3d4-e5f6-7890-1234-567890abcdef0",
        "a1b2c3d4-e5f6-7890-1234_567890abcdef",
        "g1b2c3d4-e5f6-7890-1234-567890abcdef",
        "{a1b2c3d4-e5f6-7890-1234-567890abcdef}",
        "a1b2c3d4e5f678901234567890abcdef",
        "é1b2c3d4-e5f6-7890-1234-567890abcde",
    ];
    for id in bad {
        for op in [REQUEST_BACKUP, LIST_BACKUPS, LIST_SUBNETS] {
            let host = two_sites();
            let message = assert_error(
                &handle(&host, &on_site(op, id)),
                400,
                "invalid_request_error",
                "invalid_site_id",
            );
            assert!(message.starts_with("Invalid site ID"), "{message}");
            assert!(host.lookups().is_empty(), "{op} {id}");
            assert!(host.specs().is_empty());
        }
        let host = two_sites();
        let req = request(GET_BACKUP, &[("siteId", id), ("filename", "1.rsc")], &[]);
        assert_error(
            &handle(&host, &req),
            400,
            "invalid_request_error",
            "invalid_site_id",
        );
    }
    // Nil and version-less UUIDs are still UUIDs.
    assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
    assert!(is_uuid("A1B2C3D4-E5F6-7890-1234-567890ABCDEF"));
    // A missing parameter is treated as empty.
    let host = two_sites();
    assert_error(
        &handle(&host, &request(LIST_BACKUPS, &[], &[])),
        400,
        "invalid_request_error",
        "invalid_site_id",
    );
    // Long input is clipped in the message.
    let long = "x".repeat(500);
    let message = assert_error(
        &handle(&host, &on_site(LIST_BACKUPS, &long)),
        400,
        "invalid_request_error",
        "invalid_site_id",
    );
    assert!(message.len() < 250, "{message}");
}

#[test]
fn unknown_sites_are_404_for_every_operation() {
    let other = "11111111-2222-4333-8444-555555555555";
    for op in [REQUEST_BACKUP, LIST_BACKUPS, LIST_SUBNETS] {
        let host = two_sites().with_backup(other, UNIX, b"x");
        let message = assert_error(
            &handle(&host, &on_site(op, other)),
            404,
            "invalid_request_error",
            "resource_not_found",
        );
        assert_eq!(message, format!("No such site: '{other}'."));
        assert!(host.specs().is_empty());
    }
    let host = two_sites();
    let req = request(
        GET_BACKUP,
        &[("siteId", other), ("filename", "1732567800.rsc")],
        &[],
    );
    assert_error(
        &handle(&host, &req),
        404,
        "invalid_request_error",
        "resource_not_found",
    );
}

/// Altostrat's 503, as `ApiError::unavailable` words it.
const UNAVAILABLE: &str = "The backup service is temporarily unavailable. Try again later.";

#[test]
fn a_site_lookup_in_an_outage_is_503_for_every_operation_not_404() {
    for req in [
        on_site(REQUEST_BACKUP, SITE),
        on_site(LIST_BACKUPS, SITE),
        on_site(LIST_SUBNETS, SITE),
        get("1732567800.rsc", &[]),
    ] {
        let host = two_sites().with_backup(SITE, UNIX, b"x");
        host.fail_always(Import::ResourcesGet, HostError::Unavailable);
        let message = assert_error(
            &handle(&host, &req),
            503,
            "api_error",
            "service_unavailable",
        );
        assert_eq!(message, UNAVAILABLE, "{}", req.operation);
        assert!(host.specs().is_empty());
        assert_eq!(
            host.warnings(),
            [format!(
                "reading site {SITE} failed: HostError::Unavailable"
            )]
        );
    }
}

#[test]
fn an_unreadable_name_document_queues_nothing() {
    let host = two_sites();
    host.fail_always(Import::DocumentsGet, HostError::Unavailable);
    let message = assert_error(
        &handle(&host, &on_site(REQUEST_BACKUP, SITE)),
        503,
        "api_error",
        "service_unavailable",
    );
    assert_eq!(message, UNAVAILABLE);
    assert!(host.specs().is_empty());
    assert_eq!(host.calls(Import::DocumentsPut), 0);
}

#[test]
fn a_site_without_a_source_cannot_be_backed_up() {
    let host = two_sites();
    host.add_resource(Resource {
        has_source: false,
        ..crate::testing::site(SITE)
    });
    let message = assert_error(
        &handle(&host, &on_site(REQUEST_BACKUP, SITE)),
        409,
        "invalid_request_error",
        "backup_source_missing",
    );
    assert_eq!(
        message,
        format!("Site '{SITE}' has no configuration source to back up yet.")
    );
    assert!(host.specs().is_empty());
}

#[test]
fn job_failures_map_to_errors() {
    let cases = [
        (
            HostError::Unavailable,
            503,
            "api_error",
            "service_unavailable",
        ),
        (
            HostError::Conflict("a capture of this site is already queued".into()),
            409,
            "invalid_request_error",
            "conflict",
        ),
        (
            HostError::QuotaExceeded,
            413,
            "invalid_request_error",
            "quota_exceeded",
        ),
        (
            HostError::Invalid("filename rejected".into()),
            500,
            "api_error",
            "internal_error",
        ),
        (
            HostError::NotFound,
            404,
            "invalid_request_error",
            "resource_not_found",
        ),
    ];
    for (error, status, kind, code) in cases {
        let host = two_sites();
        host.fail_always(Import::JobsCreate, error);
        let message = assert_error(
            &handle(&host, &on_site(REQUEST_BACKUP, SITE)),
            status,
            kind,
            code,
        );
        assert!(!message.contains("filename rejected"));
        if code == "conflict" {
            assert_eq!(message, "A capture of this site is already queued.");
        }
    }
}

// ---- listSiteBackups ----

#[test]
fn list_is_newest_first_with_formatted_fields() {
    let host = two_sites()
        .with_backup(SITE, UNIX, &[b'a'; 12_595])
        .with_backup(EMPTY_SITE, UNIX + 50, b"other site")
        .with_backup(SITE, 1_761_742_200, &[b'b'; 3]);
    let resp = handle(&host, &on_site(LIST_BACKUPS, SITE));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(
        resp.body_json(),
        Some(json!([
            {
                "filename": "1761742200.rsc",
                "size": "3.0B",
                "date": "29/10/2025",
                "time": "12:50:02",
                "created_at": "2025-10-29T12:50:02.500000Z",
            },
            {
                "filename": "1732567800.rsc",
                "size": "12.3KB",
                "date": "25/11/2024",
                "time": "20:50:02",
                "created_at": "2024-11-25T20:50:02.500000Z",
            },
        ]))
    );
    // Nothing was read to list.
    assert!(host.reads().is_empty());
}

#[test]
fn list_pages_through_the_host() {
    let mut host = two_sites();
    for i in 0..7 {
        host = host.with_backup(SITE, UNIX + i, b"x");
    }
    host.set_page_cap(2);
    let body = handle(&host, &on_site(LIST_BACKUPS, SITE))
        .body_json()
        .expect("JSON");
    let names: Vec<&str> = body
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["filename"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "1732567806.rsc",
            "1732567805.rsc",
            "1732567804.rsc",
            "1732567803.rsc",
            "1732567802.rsc",
            "1732567801.rsc",
            "1732567800.rsc",
        ]
    );
}

#[test]
fn an_empty_site_lists_nothing() {
    let host = two_sites().with_backup(SITE, UNIX, b"x");
    let resp = handle(&host, &on_site(LIST_BACKUPS, EMPTY_SITE));
    assert_eq!((resp.status, resp.body_json()), (200, Some(json!([]))));
}

#[test]
fn list_failures_map_to_errors() {
    for (error, status, code) in [
        (HostError::Unavailable, 503, "service_unavailable"),
        (HostError::Invalid("limit".into()), 500, "internal_error"),
    ] {
        let host = two_sites();
        host.fail_always(Import::BackupsList, error);
        for op in [LIST_BACKUPS, LIST_SUBNETS] {
            assert_error(
                &handle(&host, &on_site(op, SITE)),
                status,
                "api_error",
                code,
            );
        }
        assert_error(
            &handle(&host, &get("1732567800.rsc", &[])),
            status,
            "api_error",
            code,
        );
    }
}

// ---- getSiteBackup ----

#[test]
fn get_defaults_to_json_with_content() {
    let host = two_sites().with_backup(SITE, UNIX, HQ.as_bytes());
    let resp = handle(&host, &get("1732567800.rsc", &[]));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = resp.body_json().expect("JSON");
    assert_eq!(
        body,
        json!({
            "filename": "1732567800.rsc",
            "size": "3.5KB",
            "date": "25/11/2024",
            "time": "20:50:02",
            "created_at": "2024-11-25T20:50:02.500000Z",
            "content": HQ,
        })
    );
}

#[test]
fn x_view_is_the_raw_script() {
    let host = two_sites().with_backup(SITE, UNIX, HQ.as_bytes());
    let resp = handle(&host, &get("1732567800.rsc", &[("x-view", "true")]));
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(body_text(&resp), HQ);
}

#[test]
fn x_highlight_is_an_html_fragment() {
    let host = two_sites().with_backup(SITE, UNIX, HQ.as_bytes());
    let resp = handle(&host, &get("1732567800.rsc", &[("x-highlight", "true")]));
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    let html = body_text(&resp);
    assert!(html.starts_with(r#"<pre class="rsc"><code><span class="rsc-comment"># 2025-10-29"#));
    assert!(html.ends_with("</code></pre>"));
    assert!(html.contains(r#"<span class="rsc-section">/ip address</span>"#));
    assert!(html.contains(
        r#"<span class="rsc-key">comment</span>=<span class="rsc-string">&quot;Staff LAN&quot;</span>"#
    ));
}

#[test]
fn x_download_streams_the_stored_bytes() {
    let host = two_sites().with_backup(SITE, UNIX, HQ.as_bytes());
    let resp = handle(&host, &get("1732567800.rsc", &[("x-download", "true")]));
    assert_eq!(resp.status, 200);
    match &resp.body {
        Body::Backup((id, range)) => {
            assert_eq!(id, "01934fab-bc33-7890-a1b2-000000000001");
            assert!(range.is_none());
        }
        other => panic!("expected a streamed backup, got {other:?}"),
    }
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        resp.header("content-disposition"),
        Some(r#"attachment; filename="1732567800.rsc""#)
    );
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    // The host streams it; the plugin read nothing.
    assert!(host.reads().is_empty());
}

#[test]
fn representation_precedence() {
    let host = two_sites().with_backup(SITE, UNIX, b"/ip address\n");
    let kind = |headers: &[(&str, &str)]| {
        let resp = handle(&host, &get("1732567800.rsc", headers));
        match resp.body {
            Body::Backup(_) => "download".to_string(),
            _ => resp.header("content-type").unwrap_or_default().to_string(),
        }
    };
    let all = [
        ("x-view", "true"),
        ("x-highlight", "true"),
        ("x-download", "true"),
    ];
    assert_eq!(kind(&all), "download");
    assert_eq!(kind(&all[..2]), "text/html; charset=utf-8");
    assert_eq!(kind(&all[..1]), "text/plain; charset=utf-8");
    assert_eq!(kind(&[]), "application/json");
    // The headers are booleans: true or false, in any case.
    assert_eq!(kind(&[("x-view", " TRUE ")]), "text/plain; charset=utf-8");
    assert_eq!(
        kind(&[("x-download", "false"), ("x-view", "True")]),
        "text/plain; charset=utf-8"
    );
    assert_eq!(kind(&[("x-highlight", "false")]), "application/json");
}

#[test]
fn representation_headers_that_are_not_booleans_are_400() {
    let host = two_sites().with_backup(SITE, UNIX, b"/ip address\n");
    for (name, value) in [
        ("x-view", "1"),
        ("x-view", "yes"),
        ("x-highlight", "0"),
        ("x-download", ""),
        ("x-download", "on"),
    ] {
        // Also beside a valid one that would otherwise win.
        let winner = if name == "x-download" {
            "x-view"
        } else {
            "x-download"
        };
        for headers in [vec![(name, value)], vec![(winner, "true"), (name, value)]] {
            let resp = handle(&host, &get("1732567800.rsc", &headers));
            let message = assert_error(&resp, 400, "invalid_request_error", "parameter_invalid");
            let display = match name {
                "x-view" => "X-View",
                "x-highlight" => "X-Highlight",
                _ => "X-Download",
            };
            assert_eq!(
                message,
                format!(
                    "The request is invalid: header '{display}' must be 'true' or 'false', not '{value}'."
                )
            );
        }
    }
    // Checked before anything is looked up: even for an unknown backup.
    let resp = handle(&host, &get("1.rsc", &[("x-view", "yes")]));
    assert_eq!(resp.status, 400);
}

#[test]
fn get_finds_only_the_sites_own_filenames() {
    let host =
        two_sites()
            .with_backup(SITE, UNIX, b"mine")
            .with_backup(EMPTY_SITE, UNIX + 1, b"not mine");
    for filename in [
        "1732567801.rsc",
        "1732567800",
        "1732567800.RSC",
        "",
        "../1732567800.rsc",
    ] {
        let message = assert_error(
            &handle(&host, &get(filename, &[])),
            404,
            "invalid_request_error",
            "resource_not_found",
        );
        assert_eq!(message, format!("No such backup: '{filename}'."));
    }
}

#[test]
fn the_newest_of_two_same_named_backups_wins() {
    let host = two_sites()
        .with_backup(SITE, UNIX, b"older")
        .with_backup(SITE, UNIX, b"newer");
    let resp = handle(&host, &get("1732567800.rsc", &[("x-view", "true")]));
    assert_eq!(body_text(&resp), "newer");
}

#[test]
fn content_is_read_in_one_mib_pieces() {
    let content = "# big\n".repeat(2 * MIB / 6 + MIB / 12); // about 2.5 MiB
    let host = two_sites().with_backup(SITE, UNIX, content.as_bytes());
    let resp = handle(&host, &get("1732567800.rsc", &[("x-view", "true")]));
    assert_eq!(body_text(&resp), content);
    let size = content.len() as u64;
    let mib = MIB as u64;
    let reads: Vec<(u64, Option<u64>)> = host
        .reads()
        .iter()
        .map(|r: &ByteRange| (r.offset, r.length))
        .collect();
    assert_eq!(
        reads,
        [
            (0, Some(mib)),
            (mib, Some(mib)),
            (2 * mib, Some(size - 2 * mib))
        ]
    );
}

#[test]
fn an_object_shorter_than_its_record_ends_the_read() {
    let host = two_sites().with_backup(SITE, UNIX, b"short");
    host.update_backup(&backup_id(1), |b| b.size = 5000);
    let resp = handle(&host, &get("1732567800.rsc", &[("x-view", "true")]));
    assert_eq!(body_text(&resp), "short");
    assert_eq!(host.reads().len(), 2);
}

#[test]
fn invalid_utf8_is_replaced() {
    let host = two_sites().with_backup(SITE, UNIX, b"# caf\xe9\n/ip address\n");
    let resp = handle(&host, &get("1732567800.rsc", &[]));
    assert_eq!(
        resp.body_json().expect("JSON")["content"],
        json!("# caf\u{fffd}\n/ip address\n")
    );
}

#[test]
fn large_backups_are_download_only() {
    let big = vec![b'#'; INLINE_LIMIT as usize + 1];
    let host = two_sites().with_backup(SITE, UNIX, &big);
    for headers in [
        &[][..],
        &[("x-view", "true")][..],
        &[("x-highlight", "true")][..],
    ] {
        let message = assert_error(
            &handle(&host, &get("1732567800.rsc", headers)),
            422,
            "invalid_request_error",
            "backup_too_large",
        );
        assert_eq!(
            message,
            "Backup '1732567800.rsc' is 4.0MB, more than the 4.0MB that can be shown inline. \
             Download it with 'X-Download: true'."
        );
    }
    // Nothing was read before refusing; the download still works.
    assert!(host.reads().is_empty());
    let resp = handle(&host, &get("1732567800.rsc", &[("x-download", "true")]));
    assert!(matches!(resp.body, Body::Backup(_)));
    // Exactly at the limit is fine.
    let host = two_sites().with_backup(SITE, UNIX, &big[1..]);
    assert_eq!(
        handle(&host, &get("1732567800.rsc", &[("x-view", "true")])).status,
        200
    );
}

#[test]
fn renderings_over_the_response_budget_are_refused() {
    // Highlighting multiplies the size of a dense script ...
    let dense = "add x=1\n".repeat(MIB / 8);
    let host = two_sites().with_backup(SITE, UNIX, dense.as_bytes());
    let message = assert_error(
        &handle(&host, &get("1732567800.rsc", &[("x-highlight", "true")])),
        422,
        "invalid_request_error",
        "backup_too_large",
    );
    assert!(message.contains("renders to more than 8.0MB"), "{message}");
    assert_eq!(handle(&host, &get("1732567800.rsc", &[])).status, 200);
    // ... and JSON escapes control characters six-fold.
    let control = vec![1u8; 2 * MIB];
    let host = two_sites().with_backup(SITE, UNIX, &control);
    assert_error(
        &handle(&host, &get("1732567800.rsc", &[])),
        422,
        "invalid_request_error",
        "backup_too_large",
    );
    assert_eq!(
        handle(&host, &get("1732567800.rsc", &[("x-view", "true")])).status,
        200
    );
}

#[test]
fn read_failures_map_to_errors() {
    for (error, status, kind, code) in [
        (
            HostError::NotFound,
            404,
            "invalid_request_error",
            "resource_not_found",
        ),
        (
            HostError::Unavailable,
            503,
            "api_error",
            "service_unavailable",
        ),
    ] {
        let host = two_sites().with_backup(SITE, UNIX, HQ.as_bytes());
        host.fail_always(Import::BackupsRead, error);
        assert_error(
            &handle(&host, &get("1732567800.rsc", &[])),
            status,
            kind,
            code,
        );
        assert_error(
            &handle(&host, &on_site(LIST_SUBNETS, SITE)),
            status,
            kind,
            code,
        );
    }
}

// ---- listSiteSubnets ----

#[test]
fn subnets_come_from_the_latest_backup() {
    let host = two_sites()
        .with_backup(SITE, UNIX - 86_400, DC.as_bytes())
        .with_backup(SITE, UNIX, HQ.as_bytes());
    let resp = handle(&host, &on_site(LIST_SUBNETS, SITE));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = resp.body_json().expect("JSON");
    assert_eq!(body["site_id"], json!(SITE));
    assert_eq!(body["backup"], json!("1732567800.rsc"));
    assert_eq!(body["created_at"], json!("2024-11-25T20:50:02.500000Z"));
    let subnets = body["subnets"].as_array().expect("subnets");
    assert_eq!(subnets.len(), 16);
    assert_eq!(
        subnets[0],
        json!({
            "subnet": "10.10.10.0/24",
            "address": "10.10.10.1/24",
            "gateway": null,
            "interface": "vlan10-staff",
            "bridge": "bridge",
            "vlan_id": 10,
            "family": "ipv4",
            "source": "address",
            "disabled": false,
            "comment": "Staff LAN",
        })
    );
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["site_id", "backup", "created_at", "subnets"]);
}

#[test]
fn subnets_of_an_export_without_addresses_are_empty() {
    let host = two_sites().with_backup(SITE, UNIX, b"# empty\n/system identity\nset name=x\n");
    let body = handle(&host, &on_site(LIST_SUBNETS, SITE))
        .body_json()
        .expect("JSON");
    assert_eq!(body["subnets"], json!([]));
}

#[test]
fn subnets_need_a_backup() {
    let host = two_sites().with_backup(SITE, UNIX, HQ.as_bytes());
    let message = assert_error(
        &handle(&host, &on_site(LIST_SUBNETS, EMPTY_SITE)),
        404,
        "invalid_request_error",
        "no_backup",
    );
    assert_eq!(
        message,
        format!(
            "Site '{EMPTY_SITE}' has no backup yet, so there is no configuration to discover \
             subnets from. Request one with POST /backup/{EMPTY_SITE} and retry once it is listed."
        )
    );
}

#[test]
fn subnets_of_a_huge_backup_are_refused() {
    let host = two_sites().with_backup(SITE, UNIX, b"x");
    host.update_backup(&backup_id(1), |b| b.size = SUBNET_SCAN_LIMIT + 1);
    let message = assert_error(
        &handle(&host, &on_site(LIST_SUBNETS, SITE)),
        422,
        "invalid_request_error",
        "backup_too_large",
    );
    assert!(
        message.contains("more than the 8.0MB that subnet discovery reads"),
        "{message}"
    );
    assert!(host.reads().is_empty());
}

// ---- routing ----

#[test]
fn unknown_operations_are_404() {
    let host = two_sites();
    let resp = handle(&host, &request("deleteSiteBackup", &[], &[]));
    let message = assert_error(&resp, 404, "invalid_request_error", "resource_not_found");
    assert_eq!(message, "The requested resource does not exist.");
    let value: Value = resp.body_json().expect("JSON");
    assert!(value.get("message").is_some());
}
