//! Slow and stalled clients (issue 24, items 1 and 2): uploads and capture sources that
//! arrive in small pieces finish byte-exact on local files and on S3 (Garage) while
//! full-speed uploads go on beside them; stalled uploads are capped per credential, ended by
//! their idle timeout, and leave the quota equal to what is stored.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use gateway_tests::garage::Garage;
use gateway_tests::{TestGateway, joined, provider_plugin, sha256_hex};

use super::appliance::{A1, A2, NO_RATE};

const UPLOAD: &str = "/api/systems/backups";
const MIB: usize = 1024 * 1024;
/// Large enough for the staging pipeline (4 MiB and more) and for more than one S3 part.
const SIZE: usize = 6 * MIB;

/// Collect credentials (A1, A2 of acme), a HostUp admin token, two VPSs whose capture
/// sources are `source_base`/a and /b, two workers, no upload rate limits.
fn config(source_base: &str, extra: &str) -> String {
    let mut cfg = format!("concurrency = 2\n{org}{NO_RATE}{extra}\n", org = super::ORG);
    for (key, secret) in [A1, A2] {
        cfg.push_str(&format!(
            "[[credentials]]\norg = \"acme\"\nplugin = \"appliance-collect\"\nscheme = \"basic\"\nkey = \"{key}\"\nsecret = \"{secret}\"\n"
        ));
    }
    cfg.push_str(
        "[[credentials]]\norg = \"acme\"\nplugin = \"hostup\"\nscheme = \"bearer\"\nkey = \"admin\"\n\
         secret = \"hu-admin\"\nscopes = [\"read:vm\", \"backup:vm\"]\n",
    );
    for vps in ["a", "b"] {
        let source = format!("url = \"{source_base}/{vps}\"");
        cfg.push_str(&super::hostup::vps_resource(vps, &source));
    }
    cfg
}

/// Deterministic bytes, different per `seed`.
fn content(seed: u64, len: usize) -> Arc<Vec<u8>> {
    Arc::new(gateway_tests::Rng(seed | 1).bytes(len))
}

/// `body` as a stream of `piece`-byte pieces, `pause` apart.
fn trickle(
    body: Arc<Vec<u8>>,
    piece: usize,
    pause: Duration,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    let pieces = body.len().div_ceil(piece);
    futures_util::stream::iter(0..pieces).then(move |i| {
        let body = body.clone();
        async move {
            tokio::time::sleep(pause).await;
            let end = ((i + 1) * piece).min(body.len());
            Ok(bytes::Bytes::copy_from_slice(&body[i * piece..end]))
        }
    })
}

/// A capture source serving `SIZE` bytes per path in 64 KiB pieces, 2 ms apart.
async fn trickling_source() -> String {
    let app = axum::Router::new().route(
        "/{name}",
        axum::routing::get(
            |axum::extract::Path(name): axum::extract::Path<String>| async move {
                let body = content(source_seed(&name), SIZE);
                (
                    [(http::header::CONTENT_LENGTH, SIZE.to_string())],
                    axum::body::Body::from_stream(trickle(
                        body,
                        64 * 1024,
                        Duration::from_millis(2),
                    )),
                )
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

fn source_seed(name: &str) -> u64 {
    1000 + u64::from(name.as_bytes().first().copied().unwrap_or(0))
}

/// Upload `body` as `who`, streamed as `stream`; the answer's status and JSON.
async fn upload<S>(gw: &TestGateway, who: (&str, &str), len: usize, stream: S) -> (u16, Value)
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
{
    let r = gw
        .client
        .post(gw.at(UPLOAD))
        .basic_auth(who.0, Some(who.1))
        .header("content-length", len)
        .header("x-filename", "slow.tar.gz")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The stored bytes of a collect backup, downloaded.
async fn download(gw: &TestGateway, who: (&str, &str), id: &str) -> Vec<u8> {
    let r = gw
        .client
        .get(gw.at(&format!("{UPLOAD}/{id}")))
        .basic_auth(who.0, Some(who.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

/// Four uploads trickled in 16 KiB pieces, two captures from a source sending 64 KiB pieces,
/// and four full-speed uploads, all at once: every one completes, byte-exact.
async fn slow_and_fast_side_by_side(storage: &str) {
    let base = trickling_source().await;
    let gw = TestGateway::start(
        &[
            provider_plugin("appliance_collect"),
            provider_plugin("hostup"),
        ],
        &config(&base, storage),
    )
    .await
    .expect("gateway starts");
    let gw = Arc::new(gw);
    let mut uploads = Vec::new();
    for i in 0..8u64 {
        let gw = gw.clone();
        uploads.push(tokio::spawn(async move {
            let body = content(i, SIZE);
            let who = if i % 2 == 0 { A1 } else { A2 };
            let (status, v) = if i < 4 {
                let s = trickle(body.clone(), 16 * 1024, Duration::from_millis(1));
                upload(&gw, who, SIZE, s).await
            } else {
                let whole = futures_util::stream::iter([Ok(bytes::Bytes::from(body.to_vec()))]);
                upload(&gw, who, SIZE, whole).await
            };
            assert_eq!(status, 201, "upload {i}: {v}");
            assert_eq!(v["data"]["sha256"], sha256_hex(&body), "upload {i}");
            let id = v["data"]["id"].as_str().unwrap().to_owned();
            assert!(
                download(&gw, who, &id).await == *body,
                "upload {i}: the stored bytes are not the ones sent"
            );
        }));
    }
    let mut jobs = Vec::new();
    for vps in ["a", "b"] {
        jobs.push((vps, super::hostup::post_capture(&gw, vps).await));
    }
    let all = tokio::time::timeout(Duration::from_secs(120), joined(uploads)).await;
    assert!(
        all.is_ok(),
        "uploads still unfinished after 120 s: the node is wedged"
    );
    for (vps, job) in jobs {
        let done = super::hostup::poll_until_done(&gw.client, &gw.url, &job, "hu-admin").await;
        assert_eq!(done["data"]["isCompleted"], true, "{done}");
        let want = sha256_hex(&content(source_seed(vps), SIZE));
        let items = backup_gateway::store::BackupQuery {
            resource_kind: None,
            resource_id: Some(format!("vps_{vps:0>26}")),
            newest_first: true,
            offset: 0,
            limit: 10,
        };
        let (items, _) = gw
            .gateway
            .services
            .db
            .scoped("acme", "hostup")
            .backups(&items)
            .await
            .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].sha256, want, "capture of {vps}");
        let mut stored = gw
            .gateway
            .services
            .objects
            .stream(&items[0].object_key, None)
            .await
            .unwrap();
        let mut bytes = Vec::new();
        while let Some(piece) = stored.next().await {
            bytes.extend_from_slice(&piece.unwrap());
        }
        assert_eq!(sha256_hex(&bytes), want, "stored capture of {vps}");
    }
}

#[tokio::test]
async fn trickled_uploads_and_captures_finish_beside_fast_ones_on_local_files() {
    slow_and_fast_side_by_side("").await;
}

#[tokio::test]
async fn trickled_uploads_and_captures_finish_beside_fast_ones_on_s3() {
    let garage = Garage::start("slow").await.expect("garage starts");
    slow_and_fast_side_by_side(&garage.storage_toml("gw")).await;
}

/// A raw HTTP/1.1 exchange: `head` (without its final blank line) and `body`, then silence;
/// the connection, to read the answer from when the server gives one.
async fn stalled(gw: &TestGateway, head: &str, body: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = gw.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("{head}\r\nhost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    s.write_all(body).await.unwrap();
    s.flush().await.unwrap();
    s
}

/// The answer the server gives within `wait`: status and body.
async fn answer(s: &mut tokio::net::TcpStream, wait: Duration) -> Option<(u16, String)> {
    gateway_tests::read_response(s, wait)
        .await
        .map(|r| (r.status, r.body))
}

fn basic(who: (&str, &str)) -> String {
    use base64::Engine as _;
    let pair = format!("{}:{}", who.0, who.1);
    format!(
        "authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The attack: 50 uploads from one system, each declaring 2 GiB, sending 10 bytes
/// and going silent. Only the credential's cap (4) of them are admitted, the rest refused
/// at once with collect's 429; another system of the org uploads meanwhile; the admitted
/// ones are ended by the body idle timeout with collect's 400, leaving the quota equal to
/// what is stored.
#[tokio::test]
async fn fifty_stalled_uploads_are_capped_and_ended_while_another_system_uploads() {
    const DECLARED: i64 = 2_147_483_648;
    let cfg = config("http://127.0.0.1:9", "");
    let gw = TestGateway::start_with(
        &[provider_plugin("appliance_collect")],
        "body_idle_timeout_seconds = 5\nmax_uploads_per_credential = 4",
        &cfg,
    )
    .await
    .expect("gateway starts");
    let head = format!(
        "POST {UPLOAD} HTTP/1.1\r\n{}\r\ncontent-length: {DECLARED}\r\nx-filename: stall.bin",
        basic(A1)
    );
    let mut held = Vec::new();
    for _ in 0..50 {
        held.push(stalled(&gw, &head, &[7u8; 10]).await);
    }
    // the refused are answered at once; the admitted stay open, unanswered
    let looked = joined(
        held.into_iter()
            .map(|mut s| {
                tokio::spawn(async move {
                    let a = answer(&mut s, Duration::from_secs(1)).await;
                    (s, a)
                })
            })
            .collect(),
    )
    .await;
    let (mut open, mut refused) = (Vec::new(), 0);
    for (s, a) in looked {
        match a {
            Some((status, body)) => {
                assert_eq!(status, 429, "{body}");
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["message"], "upload rate limit exceeded", "{v}");
                assert!(v["data"]["retry_after_seconds"].as_u64().is_some(), "{v}");
                refused += 1;
            }
            None => open.push(s),
        }
    }
    assert_eq!((open.len(), refused), (4, 46));
    let usage = async || {
        gw.gateway
            .services
            .db
            .scoped("acme", "appliance-collect")
            .usage()
            .await
            .unwrap()
    };
    assert_eq!(
        usage().await,
        (0, 4 * DECLARED),
        "four admitted, their bytes reserved"
    );
    // another system of the org is not shut out of its quota
    let five = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"12345"))]);
    let (status, v) = upload(&gw, A2, 5, five).await;
    assert_eq!(status, 201, "{v}");
    // the admitted ones are ended by their timeout, and answered
    let ended = joined(
        open.into_iter()
            .map(|mut s| tokio::spawn(async move { answer(&mut s, Duration::from_secs(60)).await }))
            .collect(),
    )
    .await;
    for a in &ended {
        let (status, body) = a.as_ref().expect("answered, then closed");
        assert_eq!(*status, 400, "{body}");
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["message"], "upload length mismatch", "{v}");
    }
    // (the answer goes out while the upload is cleaned up: give the cleanup a moment)
    let mut left = (-1, -1);
    for _ in 0..100 {
        left = usage().await;
        if left == (5, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, (5, 0), "the quota is what is stored");
    let incoming: Vec<_> = std::fs::read_dir(gw.path().join("objects/.incoming"))
        .unwrap()
        .collect();
    assert!(incoming.is_empty(), "temporary objects left: {incoming:?}");
}

/// A head that never completes, and a declared JSON body that never arrives: each ended by
/// its timeout (the head's connection closed; the body answered with the provider's 400).
#[tokio::test]
async fn a_stalled_head_and_a_stalled_body_are_ended_by_their_timeouts() {
    use tokio::io::AsyncWriteExt;
    let cfg = config("http://127.0.0.1:9", "");
    let gw = TestGateway::start_with(
        &[provider_plugin("appliance_collect")],
        "header_timeout_seconds = 2\nbody_idle_timeout_seconds = 2",
        &cfg,
    )
    .await
    .expect("gateway starts");
    let addr = gw.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {UPLOAD} HTTP/1.1\r\nhost: {addr}\r\nx-partial").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut out),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(_))),
        "the connection of a stalled head is closed"
    );
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    // a declared body on a route that takes none is still waited for, then given up on
    let head = format!(
        "GET {UPLOAD} HTTP/1.1\r\n{}\r\ncontent-length: 100",
        basic(A1)
    );
    let mut s = stalled(&gw, &head, b"0123456789").await;
    let (status, body) = answer(&mut s, Duration::from_secs(30))
        .await
        .expect("answered");
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], 400, "{v}");
    assert_eq!(v["data"]["errors"][0]["key"], "body", "{v}");
}
