//! The guard against real sockets and byte-level head and chunk framing cases.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMITS: HeadLimits = HeadLimits {
    max_uri_bytes: 64,
    max_header_bytes: 256,
    max_headers: 4,
};

fn refused(bytes: &[u8]) -> Option<Reason> {
    match check_head(bytes, &LIMITS) {
        Check::Refuse(r) => Some(r.reason),
        _ => None,
    }
}

#[test]
fn heads_hyper_would_refuse_are_refused_first_with_a_reason() {
    let ok = b"POST /a?b=1 HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n";
    assert!(matches!(check_head(ok, &LIMITS), Check::Pass(n, State::Body(5)) if n == ok.len()));
    assert!(matches!(check_head(&ok[..20], &LIMITS), Check::Partial));
    // UTF-8 beyond ASCII passes, as hyper lets it
    assert!(matches!(
        check_head("GET /café HTTP/1.1\r\n\r\n".as_bytes(), &LIMITS),
        Check::Pass(..)
    ));
    let cases: &[(&[u8], Reason)] = &[
        (b"GET /\xff HTTP/1.1\r\n\r\n", Reason::InvalidTarget),
        (b"GET /a\x01 HTTP/1.1\r\n\r\n", Reason::InvalidTarget),
        (b"G(T / HTTP/1.1\r\n\r\n", Reason::Malformed),
        (b"GET / HTTP/9.1\r\n\r\n", Reason::Malformed),
        (b"GET / HTTP/1.1\r\nbad header\r\n\r\n", Reason::Malformed),
        (
            b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n",
            Reason::TooManyHeaders,
        ),
        (
            b"POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\n",
            Reason::InvalidContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\ncontent-length: 5, 5\r\n\r\n",
            Reason::InvalidContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\ncontent-length: +5\r\n\r\n",
            Reason::InvalidContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\ncontent-length: 99999999999999999999999\r\n\r\n",
            Reason::InvalidContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
            Reason::InvalidTransferEncoding,
        ),
        (
            b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n",
            Reason::InvalidTransferEncoding,
        ),
        (
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked, chunked\r\n\r\n",
            Reason::InvalidTransferEncoding,
        ),
        (
            b"POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
            Reason::InvalidTransferEncoding,
        ),
    ];
    for (head, reason) in cases {
        assert_eq!(
            refused(head),
            Some(*reason),
            "{}",
            String::from_utf8_lossy(head)
        );
    }
    // limits, whether or not the head is complete yet
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64));
    assert_eq!(refused(long.as_bytes()), Some(Reason::TargetTooLong));
    assert_eq!(refused(&long.as_bytes()[..70]), Some(Reason::TargetTooLong));
    let big = format!("GET / HTTP/1.1\r\nx: {}\r\n", "a".repeat(300));
    assert_eq!(refused(big.as_bytes()), Some(Reason::HeadTooLarge));
    // what is known of a refused head, for its owner
    let Check::Refuse(r) = check_head(b"GET /api/systems/\xff?x=1 HTTP/1.1\r\n\r\n", &LIMITS)
    else {
        panic!("refused")
    };
    assert_eq!(
        (r.method.as_deref(), r.path.as_str()),
        (Some("GET"), "/api/systems/\u{fffd}")
    );
}

#[test]
fn chunked_bodies_are_followed_to_their_end() {
    let body = b"5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\ntrailer: x\r\n\r\nNEXT";
    let mut c = Chunk::default();
    assert_eq!(c.advance(body), (body.len() - 4, Some(true)));
    // byte by byte, the same
    let mut c = Chunk::default();
    let mut at = 0;
    for (i, b) in body.iter().enumerate() {
        let (n, end) = c.advance(std::slice::from_ref(b));
        at += n;
        if end.is_some() {
            assert_eq!((i + 1, end), (body.len() - 4, Some(true)));
            break;
        }
    }
    assert_eq!(at, body.len() - 4);
    // framing it cannot follow is given up, not guessed
    let mut c = Chunk::default();
    assert_eq!(c.advance(b"3\r\nabcX"), (7, Some(false)));
}

/// Feed `input` through a guard in `piece`-byte writes; what hyper would read (up to the
/// end of the stream, or of the synthetic request after which nothing more comes), and
/// the refusal recorded.
async fn through(input: &[u8], piece: usize) -> (Vec<u8>, Option<Refusal>) {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let mut guard = Guard::new(server, LIMITS, Duration::from_secs(5));
    let refusals = guard.refusals();
    let input = input.to_vec();
    let writer = tokio::spawn(async move {
        for p in input.chunks(piece) {
            client.write_all(p).await.unwrap();
            tokio::task::yield_now().await;
        }
        client.shutdown().await.unwrap();
        client
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let synthetic = out
            .windows(TOKEN_HEADER.len())
            .position(|w| w == TOKEN_HEADER.as_bytes())
            .is_some_and(|at| out[at..].windows(4).any(|w| w == b"\r\n\r\n"));
        if synthetic {
            // after it, reads never complete
            let more = tokio::time::timeout(Duration::from_millis(100), guard.read(&mut buf));
            assert!(
                more.await.is_err(),
                "a read after the synthetic request completed"
            );
            break;
        }
        match guard.read(&mut buf).await.unwrap() {
            0 => break,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
    drop(writer.await.unwrap());
    let refusal = refusals.lock().unwrap().take();
    (out, refusal)
}

#[tokio::test]
async fn good_requests_pass_unchanged_and_a_bad_head_after_them_is_replaced() {
    let good = b"POST /a HTTP/1.1\r\ncontent-length: 4\r\n\r\nabcdGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nGE\r\n0\r\n\r\n";
    for piece in [1, 3, 1000] {
        let (out, refusal) = through(good, piece).await;
        assert_eq!(out, good.to_vec(), "piece {piece}");
        assert!(refusal.is_none());
    }
    let mut bad = good.to_vec();
    bad.extend_from_slice(b"GET /x\xff HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\n\r\n");
    for piece in [1, 7, 1000] {
        let (out, refusal) = through(&bad, piece).await;
        let out = String::from_utf8_lossy(&out).into_owned();
        assert!(
            out.starts_with(std::str::from_utf8(good).unwrap()),
            "piece {piece}: {out}"
        );
        let synthetic = &out[good.len()..];
        assert!(
            synthetic.starts_with("GET / HTTP/1.1\r\n") && synthetic.contains(TOKEN_HEADER),
            "{synthetic}"
        );
        assert!(
            !out.contains("/never"),
            "the client's later bytes are dropped"
        );
        let r = refusal.expect("recorded");
        assert_eq!(
            (r.reason, r.path.as_str()),
            (Reason::InvalidTarget, "/x\u{fffd}")
        );
    }
}

#[tokio::test]
async fn a_large_body_passes_through_whole() {
    let body = vec![7u8; 300_000];
    let mut input = format!(
        "PUT /big HTTP/1.1\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    input.extend_from_slice(&body);
    input.extend_from_slice(b"GET /after HTTP/1.1\r\n\r\n");
    let (out, refusal) = through(&input, 50_000).await;
    assert!(out == input && refusal.is_none());
}
