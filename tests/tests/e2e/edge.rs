//! The edge (issue 24, items 3–5): requests hyper would refuse on its own are answered in
//! the owning provider's format; two credentials in one request are refused, and a
//! credential is accepted only the way it was issued; a declared body is waited for before
//! anything is acted on.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use gateway_tests::{RawResponse, TestGateway, provider_plugin};

use super::appliance::A1;

const UPLOAD: &str = "/api/systems/backups";

/// Send raw bytes and read the answer.
async fn raw(gw: &TestGateway, bytes: &[u8]) -> Option<RawResponse> {
    let addr = gw.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // the server may answer (and stop reading) before it has read everything
    let _ = s.write_all(bytes).await;
    gateway_tests::read_response(&mut s, Duration::from_secs(20)).await
}

fn basic(who: (&str, &str)) -> String {
    let pair = format!("{}:{}", who.0, who.1);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn collect() -> TestGateway {
    super::appliance::gateway("").await
}

/// Every malformed head hyper would answer with a bare 400/414/431 and no body comes out
/// as collect's envelope (with a Content-Type and a request id) when the path is collect's,
/// and as plain JSON with a Content-Type when it is nobody's.
#[tokio::test]
async fn malformed_heads_are_refused_in_the_owners_format() {
    let gw = collect().await;
    let auth = basic(A1);
    let long_path = format!("{UPLOAD}/{}", "a".repeat(64 * 1024));
    let huge_header = "x".repeat(500 * 1024);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "raw non-UTF-8 byte in the path",
            [
                format!("GET {UPLOAD}/").as_bytes(),
                &b"\xff\xfe"[..],
                &b" HTTP/1.1\r\nhost: x\r\n\r\n"[..],
            ]
            .concat(),
            "path",
        ),
        (
            "a 64 KiB path",
            format!("GET {long_path} HTTP/1.1\r\nhost: x\r\n\r\n").into_bytes(),
            "path",
        ),
        (
            "500 KiB of headers",
            format!("GET {UPLOAD} HTTP/1.1\r\nhost: x\r\nx-big: {huge_header}\r\n\r\n")
                .into_bytes(),
            "header",
        ),
        (
            "an invalid Content-Length",
            format!("POST {UPLOAD} HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ncontent-length: 12abc\r\n\r\n")
                .into_bytes(),
            "header",
        ),
        (
            "a doubled Content-Length",
            format!("POST {UPLOAD} HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n12345")
                .into_bytes(),
            "header",
        ),
        (
            "Content-Length beside Transfer-Encoding",
            format!("POST {UPLOAD} HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n")
                .into_bytes(),
            "header",
        ),
        (
            "a malformed header line",
            format!("GET {UPLOAD} HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n").into_bytes(),
            "request",
        ),
    ];
    for (what, bytes, location) in cases {
        let r = raw(&gw, &bytes)
            .await
            .unwrap_or_else(|| panic!("{what}: no answer"));
        let body = &r.body;
        assert_eq!(r.status, 400, "{what}: {body}");
        assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
        assert!(r.header("x-request-id").is_some(), "{what}");
        let v: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body:?}"));
        assert_eq!(v["code"], 400, "{what}: {v}");
        assert_eq!(v["message"], "validation failed", "{what}: {v}");
        let key = v["data"]["errors"][0]["key"].as_str().unwrap_or_default();
        assert!(key.starts_with(location), "{what}: {v}");
    }
    // nobody's path: plain JSON, still with a Content-Type
    let r = raw(&gw, b"GET /nobody/\xff HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("an answer");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{r:?}"
    );
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["error"]["status"], 400, "{v}");
    // a good request on the same connection before a bad one is served normally
    let addr = gw.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let pipelined = [
        format!("GET {UPLOAD} HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\n\r\n").as_bytes(),
        format!("GET {UPLOAD}/").as_bytes(),
        &b"\xff HTTP/1.1\r\nhost: x\r\n\r\n"[..],
    ]
    .concat();
    s.write_all(&pipelined).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the connection was not closed after the refusal"
    );
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.contains("backups listed") && out.contains("HTTP/1.1 400"),
        "{out}"
    );
    assert!(out.contains("validation failed"), "{out}");
    // nothing was stored by any of it
    let page = super::appliance::list(&gw, A1).await;
    assert_eq!(page["data"]["backups"], serde_json::json!([]));
}

/// Two `Authorization` headers — one valid and one not, or two systems' — are a 400 in
/// collect's envelope, whichever comes first.
#[tokio::test]
async fn two_credentials_in_one_request_are_refused() {
    let gw = collect().await;
    let pairs = [
        (basic(A1), basic(("NETH-A1", "wrong"))),
        (basic(("NETH-A1", "wrong")), basic(A1)),
        (basic(A1), basic(super::appliance::A2)),
    ];
    for (first, second) in pairs {
        let r = gw
            .client
            .get(gw.at(UPLOAD))
            .header("authorization", &first)
            .header("authorization", &second)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["message"], "validation failed", "{v}");
        assert_eq!(v["data"]["errors"][0]["key"], "header:authorization", "{v}");
    }
    // one is fine
    let r = gw
        .client
        .get(gw.at(UPLOAD))
        .header("authorization", basic(A1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// ByCloud takes console users' OAuth tokens as `Authorization: Bearer` and service
/// accounts' access keys as `X-Api-Key`: each only that way, and never both at once.
#[tokio::test]
async fn a_credential_is_accepted_only_the_way_it_was_issued() {
    let extra = format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "bycloud"
scheme = "bearer"
key = "console-user"
secret = "bc-console-token"
scopes = ["backups:read"]

[[credentials]]
org = "acme"
plugin = "bycloud"
scheme = "header"
header = "X-Api-Key"
key = "AKBC1"
secret = "AKBC1:access-secret"
scopes = ["backups:read"]
"#,
        org = super::ORG
    );
    let gw = TestGateway::start(&[provider_plugin("bycloud")], &extra)
        .await
        .unwrap();
    let get = |h: &'static str, v: &'static str| gw.client.get(gw.at("/v1/backups")).header(h, v);
    let status = async |r: reqwest::RequestBuilder| r.send().await.unwrap().status().as_u16();
    assert_eq!(
        status(get("authorization", "Bearer bc-console-token")).await,
        200
    );
    assert_eq!(status(get("x-api-key", "AKBC1:access-secret")).await, 200);
    assert_eq!(status(get("x-api-key", "bc-console-token")).await, 401);
    assert_eq!(
        status(get("authorization", "Bearer AKBC1:access-secret")).await,
        401
    );
    let both =
        get("authorization", "Bearer bc-console-token").header("x-api-key", "AKBC1:access-secret");
    let r = both.send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 400, "{v}");
}

/// Altostrat's backup request takes no body; one that is declared but not sent in full is
/// still waited for, so a half-sent request queues nothing.
#[tokio::test]
async fn a_declared_body_that_never_arrives_in_full_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("hq.rsc");
    std::fs::write(&export, "/system identity set name=hq\n").unwrap();
    let site = "a1b2c3d4-e5f6-7890-1234-567890abcdef";
    let token = "sdx-edge-token";
    let extra = format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "altostrat"
scheme = "bearer"
key = "sdx"
secret = "{token}"
scopes = ["backup:read", "backup:create"]

[[resources]]
org = "acme"
plugin = "altostrat"
kind = "site"
id = "{site}"
source = {{ file = "{src}" }}
"#,
        org = super::ORG,
        src = export.display()
    );
    let gw = TestGateway::start(&[provider_plugin("altostrat")], &extra)
        .await
        .unwrap();
    let addr = gw.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /backup/{site} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-length: 1000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[b'x'; 10]).await.unwrap();
    s.shutdown().await.unwrap();
    let r = gateway_tests::read_response(&mut s, Duration::from_secs(20))
        .await
        .expect("an answer");
    assert_eq!(r.status, 400, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    assert_eq!(v["code"], "parameter_invalid", "{v}");
    assert!(v["type"].is_string() && v["doc_url"].is_string(), "{v}");
    let jobs = gw
        .gateway
        .services
        .db
        .scoped("acme", "altostrat")
        .jobs((None, None), &[], 10)
        .await
        .unwrap();
    assert!(jobs.is_empty(), "a capture was queued: {jobs:?}");
}
