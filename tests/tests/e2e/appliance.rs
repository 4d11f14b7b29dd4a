//! The appliance collect API (NethServer/my `collect`) end to end: the seed's upload, list,
//! download and delete, every error in the `{code, message, data}` envelope, and the ingest
//! core's guarantees (nothing partial visible, quota exact, retention, tenant isolation).

use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use gateway_tests::{TestGateway, provider_plugin, sha256_hex};

const UPLOAD: &str = "/api/systems/backups";

fn config(extra: &str) -> String {
    format!(
        r#"{org}
[[credentials]]
org = "acme"
plugin = "appliance-collect"
scheme = "basic"
key = "NETH-A1"
secret = "my_secret_a1"

[[credentials]]
org = "acme"
plugin = "appliance-collect"
scheme = "basic"
key = "NETH-A2"
secret = "my_secret_a2"

[[credentials]]
org = "globex"
plugin = "appliance-collect"
scheme = "basic"
key = "NETH-G1"
secret = "my_secret_g1"

{extra}
"#,
        org = super::ORG
    )
}

pub(crate) async fn gateway(extra: &str) -> TestGateway {
    gateway_with("", extra).await
}

/// Like [`gateway`], with `server` lines in the `[server]` table.
pub(crate) async fn gateway_with(server: &str, extra: &str) -> TestGateway {
    TestGateway::start_with(
        &[provider_plugin("appliance_collect")],
        server,
        &config(extra),
    )
    .await
    .expect("gateway starts")
}

/// Rate limits out of the way for tests that upload a lot.
pub(crate) const NO_RATE: &str = r#"
[plugins.appliance-collect.rate_limits]
upload-minute = { window_seconds = 60, max_requests = 100000 }
upload-hour = { window_seconds = 3600, max_requests = 100000 }
"#;

pub(crate) async fn upload(
    gw: &TestGateway,
    who: (&str, &str),
    name: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut r = gw
        .client
        .post(gw.at(UPLOAD))
        .basic_auth(who.0, Some(who.1))
        .header("content-type", "application/octet-stream")
        .body(body);
    if let Some(n) = name {
        r = r.header("x-filename", n);
    }
    r.send().await.unwrap()
}

/// Committed and reserved bytes of org acme.
pub(crate) async fn usage(gw: &TestGateway) -> (i64, i64) {
    gw.gateway
        .services
        .db
        .scoped("acme", "appliance-collect")
        .usage()
        .await
        .unwrap()
}

/// The caller's list response.
pub(crate) async fn list(gw: &TestGateway, who: (&str, &str)) -> Value {
    gw.client
        .get(gw.at(UPLOAD))
        .basic_auth(who.0, Some(who.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(crate) const A1: (&str, &str) = ("NETH-A1", "my_secret_a1");
pub(crate) const A2: (&str, &str) = ("NETH-A2", "my_secret_a2");
const G1: (&str, &str) = ("NETH-G1", "my_secret_g1");

#[tokio::test]
async fn seed_upload_list_download_delete() {
    let gw = gateway("").await;
    let body = b"-----BEGIN PGP MESSAGE-----\nciphertext\n".repeat(1000);
    let r = upload(
        &gw,
        A1,
        Some("daily-backup-2026-04-12.tar.gz.gpg"),
        body.clone(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 201);
    assert_eq!(v["message"], "backup stored");
    let d = &v["data"];
    let id = d["id"].as_str().unwrap().to_owned();
    assert!(id.ends_with(".gpg"), "{id}");
    assert_eq!(&id[14..15], "7", "UUIDv7: {id}");
    assert_eq!(d["filename"], "daily-backup-2026-04-12.tar.gz.gpg");
    assert_eq!(d["size"], body.len());
    assert_eq!(d["sha256"], sha256_hex(&body));
    assert_eq!(d["mimetype"], "application/octet-stream");
    assert!(d["uploaded_at"].as_str().unwrap().ends_with('Z'));

    let page: Value = list(&gw, A1).await;
    assert_eq!(page["code"], 200);
    assert_eq!(page["data"]["backups"][0]["id"], id.as_str());

    let r = gw
        .client
        .get(gw.at(&format!("{UPLOAD}/{id}")))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        r.headers()["content-length"],
        body.len().to_string().as_str()
    );
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"daily-backup")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[..]);

    let r = gw
        .client
        .delete(gw.at(&format!("{UPLOAD}/{id}")))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 200, "message": "backup deleted", "data": {"id": id}})
    );
    let r = gw
        .client
        .get(gw.at(&format!("{UPLOAD}/{id}")))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "backup not found"
    );
    assert_eq!(usage(&gw).await, (0, 0));
}

#[tokio::test]
async fn authentication_errors_have_the_reference_messages() {
    let gw = gateway("").await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let cases = [
        (None, "authentication required"),
        (
            Some("Bearer abc".to_string()),
            "invalid authentication format",
        ),
        (
            Some("Basic ***".to_string()),
            "invalid authentication encoding",
        ),
        (
            Some(format!("Basic {}", b64("NETH-A1"))),
            "invalid credentials format",
        ),
        (
            Some(format!("Basic {}", b64("NETH-A1:nope"))),
            "invalid system credentials",
        ),
    ];
    for (auth, message) in cases {
        let mut r = gw.client.get(gw.at(UPLOAD));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()["www-authenticate"],
            "Basic realm=\"System Authentication\""
        );
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"code": 401, "message": message, "data": null})
        );
    }
}

#[tokio::test]
async fn upload_refusals_in_reference_order() {
    let gw = gateway(
        r#"
[plugins.appliance-collect]
upload_bytes = 1000
org_bytes = 1500
"#,
    )
    .await;
    // 413 from Content-Length alone, before the body
    let r = upload(&gw, A1, None, vec![0; 1001]).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 413, "message": "backup exceeds max upload size", "data": {"max_bytes": 1000}})
    );
    // 411: a chunked body has no Content-Length
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(
        bytes::Bytes::from_static(b"abc"),
    )]);
    let r = gw
        .client
        .post(gw.at(UPLOAD))
        .basic_auth(A1.0, Some(A1.1))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 411);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Content-Length required"
    );
    // quota: 1000 stored, then 600 more would pass 1500
    assert_eq!(upload(&gw, A1, None, vec![1; 1000]).await.status(), 201);
    let r = upload(&gw, A1, None, vec![2; 600]).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 413, "message": "organization backup quota exceeded", "data": null})
    );
    // none of the refusals above used a rate-limit slot: 6 per minute, 1 used so far
    for _ in 0..5 {
        let r = upload(&gw, A2, None, vec![3; 10]).await;
        assert_eq!(r.status(), 201);
    }
    let r = upload(&gw, A2, None, vec![3; 10]).await;
    assert_eq!(r.status(), 201, "the 6th upload of a minute is allowed");
    let r = upload(&gw, A2, None, vec![3; 10]).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], "upload rate limit exceeded");
    assert_eq!(v["data"]["retry_after_seconds"], retry);
}

#[tokio::test]
async fn download_and_delete_id_validation() {
    let gw = gateway("").await;
    for (path, status, message) in [
        (format!("{UPLOAD}/not-a-uuid"), 400, "invalid backup id"),
        (
            format!("{UPLOAD}/01934fab-bc33-4890-a1b2-c3d4e5f6a7b8"),
            400,
            "invalid backup id",
        ), // v4
        (
            format!("{UPLOAD}/01934fab-bc33-7890-a1b2-c3d4e5f6a7b8.exe"),
            400,
            "invalid backup id",
        ),
        (
            format!("{UPLOAD}/01934fab-bc33-7890-a1b2-c3d4e5f6a7b8.tar.gz"),
            404,
            "backup not found",
        ),
        (format!("{UPLOAD}/"), 400, "backup id required"),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let r = gw
                .client
                .request(method.clone(), gw.at(&path))
                .basic_auth(A1.0, Some(A1.1))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), status, "{method} {path}");
            assert_eq!(
                r.json::<Value>().await.unwrap()["message"],
                message,
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn other_systems_and_orgs_never_see_a_backup() {
    let gw = gateway("").await;
    let r = upload(&gw, A1, Some("a1.bin"), b"mine".to_vec()).await;
    let id = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for who in [A2, G1] {
        let page: Value = list(&gw, who).await;
        assert_eq!(page["data"]["backups"], json!([]), "{}", who.0);
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let r = gw
                .client
                .request(method, gw.at(&format!("{UPLOAD}/{id}")))
                .basic_auth(who.0, Some(who.1))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "{}", who.0);
        }
    }
    let r = gw
        .client
        .get(gw.at(&format!("{UPLOAD}/{id}")))
        .basic_auth(A1.0, Some(A1.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"mine");
}

#[tokio::test]
async fn retention_keeps_ten_per_system_and_the_size_cap() {
    let gw = gateway(&format!(
        "{NO_RATE}\n[plugins.appliance-collect]\nresource_bytes = 5000\n"
    ))
    .await;
    let mut ids = Vec::new();
    for i in 0..11u8 {
        let r = upload(&gw, A1, Some(&format!("b{i}.bin")), vec![i; 100]).await;
        assert_eq!(r.status(), 201);
        ids.push(
            r.json::<Value>().await.unwrap()["data"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page: Value = list(&gw, A1).await;
    let listed: Vec<&str> = page["data"]["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = ids[1..].iter().rev().map(String::as_str).collect();
    assert_eq!(listed, expected, "newest first, the oldest pruned");
    assert_eq!(usage(&gw).await, (1000, 0));
    // the size cap: a 4.5 KB upload leaves room for nothing older
    let r = upload(&gw, A1, Some("big.bin"), vec![9; 4500]).await;
    assert_eq!(r.status(), 201);
    let page: Value = list(&gw, A1).await;
    let sizes: Vec<u64> = page["data"]["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [4500, 100, 100, 100, 100, 100]);
}

#[tokio::test]
async fn concurrent_uploads_never_exceed_the_org_quota() {
    // (ten uploads at once per system: no cap on uploads in flight)
    let gw = gateway_with(
        "max_uploads_per_credential = 0",
        &format!("{NO_RATE}\n[plugins.appliance-collect]\norg_bytes = 100000\n"),
    )
    .await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (c, url) = (gw.client.clone(), gw.at(UPLOAD));
            let who = if i % 2 == 0 { A1 } else { A2 };
            tokio::spawn(async move {
                c.post(url)
                    .basic_auth(who.0, Some(who.1))
                    .body(vec![7u8; 10_000])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses = gateway_tests::joined(tasks).await;
    let ok = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 413).count();
    assert_eq!(ok, 10, "{statuses:?}");
    assert_eq!(refused, 10, "{statuses:?}");
    assert_eq!(usage(&gw).await, (100_000, 0));
}

/// Send headers promising `declared` bytes, send `sent`, then close the connection.
async fn cut_off_upload(gw: &TestGateway, declared: usize, sent: usize) {
    let addr = gw.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("NETH-A1:my_secret_a1");
    let head = format!(
        "POST {UPLOAD} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Basic {auth}\r\ncontent-length: {declared}\r\nx-filename: cut.bin\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![5u8; sent]).await.unwrap();
    s.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(s);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_body_leaves_nothing() {
    let gw = gateway(NO_RATE).await;
    cut_off_upload(&gw, 10 * 1024 * 1024, 3 * 1024 * 1024).await;
    // the ingest task notices the broken stream and cleans up; give it a moment
    let mut charged = (-1, -1);
    for _ in 0..100 {
        charged = usage(&gw).await;
        if charged == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(charged, (0, 0), "no quota charged or reserved");
    let incoming: Vec<_> = std::fs::read_dir(gw.path().join("objects/.incoming"))
        .unwrap()
        .collect();
    assert!(incoming.is_empty(), "temporary object left: {incoming:?}");
    // (the directory it would have been published in may have been made meanwhile)
    let published = gateway_tests::files_under(&gw.path().join("objects/acme"));
    assert!(published.is_empty(), "object visible: {published:?}");
    let page: Value = list(&gw, A1).await;
    assert_eq!(page["data"]["backups"], json!([]));
}

#[tokio::test]
async fn a_short_body_is_a_length_mismatch() {
    let gw = gateway(NO_RATE).await;
    // half-close after a short body: the server sees the end of the stream early
    let addr = gw.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("NETH-A1:my_secret_a1");
    let head = format!(
        "POST {UPLOAD} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Basic {auth}\r\ncontent-length: 100\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[1u8; 40]).await.unwrap();
    s.shutdown().await.unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out)).await;
    // hyper may answer 400 before closing, or just close: either way nothing is stored
    if let Some(first) = out.lines().next() {
        assert!(first.contains("400"), "{out}");
        assert!(out.contains("upload length mismatch"), "{out}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(usage(&gw).await, (0, 0));
}

#[tokio::test]
async fn one_gibibyte_upload_hash_matches_an_independent_computation() {
    use sha2::Digest;
    let gw = gateway("").await;
    const SIZE: u64 = 1024 * 1024 * 1024;
    const CHUNK: usize = 1024 * 1024;
    // deterministic, incompressible-ish content generated on the fly; never held whole
    let chunk_at = |i: u64| -> bytes::Bytes {
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v = Vec::with_capacity(CHUNK);
        while v.len() < CHUNK {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        bytes::Bytes::from(v)
    };
    let mut expected = sha2::Sha256::new();
    for i in 0..SIZE / CHUNK as u64 {
        expected.update(chunk_at(i));
    }
    let expected = hex::encode(expected.finalize());
    let stream = futures_util::stream::iter(0..SIZE / CHUNK as u64)
        .map(move |i| Ok::<_, std::io::Error>(chunk_at(i)));
    let r = gw
        .client
        .post(gw.at(UPLOAD))
        .basic_auth(A1.0, Some(A1.1))
        .header("content-length", SIZE)
        .header("x-filename", "big.tar.zst")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["size"], SIZE);
    assert_eq!(v["data"]["sha256"], expected.as_str());
    assert!(v["data"]["id"].as_str().unwrap().ends_with(".tar.zst"));
}
