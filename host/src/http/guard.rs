//! The connection guard: every request head is checked before hyper sees it, so that a
//! request hyper would refuse on its own — with a bare status and no body — is refused in
//! the provider's own format instead, and a client that stops reading its response is let go.
//!
//! hyper answers a malformed head (a raw non-UTF-8 byte in the path, an oversized path or
//! header block, an invalid or doubled `Content-Length`) itself, with an empty body and no
//! `Content-Type`, and offers no hook. So [`Guard`] sits between the socket and hyper: it
//! withholds each request head until it is complete, checks it with the parser hyper uses
//! (httparse) plus the checks hyper adds after it and the gateway's own limits, and then
//! either releases it, or replaces it with a synthetic request carrying this connection's
//! secret token ([`Guard::token`]) and records the [`Refusal`], which the connection's service
//! renders through the plugin that owns the path (`serve.rs`); the client's remaining bytes
//! are discarded and the connection closes after that answer. To find where each head starts
//! it follows the framing of the body before it (`Content-Length`, or chunked).
//!
//! Writes that make no progress for the send timeout fail, so a client that reads nothing
//! of a download cannot hold its connection (and an open object) forever. Closing, the
//! guard lingers ([`Linger`]) so that an early answer survives the client's unread bytes. Reads are not
//! timed here: hyper's header-read timeout covers heads and idle keep-alive connections,
//! and the body idle timeout ([`crate::ingest::IdleTimeout`]) covers bodies.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Limits a request head must keep.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Longest request target, bytes.
    pub max_uri_bytes: usize,
    /// Largest head, bytes.
    pub max_header_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
}

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request line or a header is malformed.
    Malformed,
    /// The request target is not a URI (a byte that is not UTF-8, a control character).
    InvalidTarget,
    /// The request target is longer than the limit.
    TargetTooLong,
    /// The head is larger than the limit.
    HeadTooLarge,
    /// More header fields than the limit.
    TooManyHeaders,
    /// `Content-Length` is not one decimal number, or appears more than once.
    InvalidContentLength,
    /// `Transfer-Encoding` other than a final `chunked`, with `Content-Length`, or on
    /// HTTP/1.0.
    InvalidTransferEncoding,
}

/// A refused head: what is known of it, for the plugin that renders the answer.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Why.
    pub reason: Reason,
    /// The method, if the request line had one.
    pub method: Option<String>,
    /// The target's path, lossily decoded (for finding the plugin that owns it).
    pub path: String,
}

/// The most bytes read from the socket at once while a head or a chunked body's framing is
/// looked at.
const SCRATCH: usize = 16 * 1024;

/// How the bytes after the current head are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a head.
    Head,
    /// A body of this many bytes still to pass.
    Body(u64),
    /// A chunked body.
    Chunked(Chunk),
    /// Framing lost (a chunked body this guard could not follow): pass everything through,
    /// hyper's own checks apply.
    Untracked,
    /// A head was refused: after the synthetic request, nothing more is read.
    Closed,
}

/// A socket with its request heads checked (see the module docs).
pub struct Guard<IO> {
    io: IO,
    limits: HeadLimits,
    state: State,
    /// Bytes read but not yet looked at.
    pending: Vec<u8>,
    /// Bytes looked at and released, not yet read by hyper.
    ready: Vec<u8>,
    ready_at: usize,
    token: Arc<str>,
    refused: Arc<Mutex<Option<Refusal>>>,
    send_timeout: Duration,
    stalled_since: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Once the write side is shut: how long and how much more is read and discarded.
    linger: Option<Linger>,
}

/// A lingering close (nginx's `lingering_close`): after its last response the server shuts
/// its write side, then reads and discards what the client still sends for a moment before
/// closing. Closed at once with unread bytes in its buffer, the socket would answer them with
/// a reset, which can destroy the response before the client has read it — the 413, 429 or
/// 400 sent before an upload's body was read.
struct Linger {
    until: Pin<Box<tokio::time::Sleep>>,
    left: usize,
}

/// At most this long, and this many bytes, of a lingering close.
const LINGER: Duration = Duration::from_secs(3);
const LINGER_BYTES: usize = 4 * 1024 * 1024;

impl<IO> Guard<IO> {
    /// Guard `io`.
    pub fn new(io: IO, limits: HeadLimits, send_timeout: Duration) -> Guard<IO> {
        Guard {
            io,
            limits,
            state: State::Head,
            pending: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            token: uuid::Uuid::new_v4().simple().to_string().into(),
            refused: Arc::new(Mutex::new(None)),
            send_timeout,
            stalled_since: None,
            linger: None,
        }
    }

    /// The value of [`TOKEN_HEADER`] on this connection's synthetic request.
    pub fn token(&self) -> Arc<str> {
        self.token.clone()
    }

    /// Where a refusal is recorded for the synthetic request to find.
    pub fn refusals(&self) -> Arc<Mutex<Option<Refusal>>> {
        self.refused.clone()
    }

    /// Look at what is pending: release what may pass, or refuse a head. False when more
    /// bytes are needed.
    fn advance(&mut self) -> bool {
        match self.state {
            State::Head => match check_head(&self.pending, &self.limits) {
                Check::Partial => false,
                Check::Pass(len, next) => {
                    self.release(len);
                    self.state = next;
                    true
                }
                Check::Refuse(refusal) => {
                    self.refuse(refusal);
                    true
                }
            },
            State::Body(left) => {
                let n =
                    usize::try_from(left).map_or(self.pending.len(), |l| l.min(self.pending.len()));
                self.release(n);
                self.state = match left - n as u64 {
                    0 => State::Head,
                    rest => State::Body(rest),
                };
                n > 0
            }
            State::Chunked(mut chunk) => {
                let (n, end) = chunk.advance(&self.pending);
                self.release(n);
                self.state = match end {
                    Some(true) => State::Head,
                    Some(false) => State::Untracked,
                    None => State::Chunked(chunk),
                };
                n > 0 || end.is_some()
            }
            State::Untracked => {
                let n = self.pending.len();
                self.release(n);
                n > 0
            }
            State::Closed => {
                self.pending.clear();
                false
            }
        }
    }

    /// Move the first `n` pending bytes to the released ones.
    fn release(&mut self, n: usize) {
        if self.ready_at == self.ready.len() {
            self.ready.clear();
            self.ready_at = 0;
        }
        self.ready.extend(self.pending.drain(..n));
    }

    fn refuse(&mut self, refusal: Refusal) {
        tracing::info!(reason = ?refusal.reason, path = %refusal.path, "request head refused at the edge");
        if let Ok(mut slot) = self.refused.lock() {
            *slot = Some(refusal);
        }
        self.pending.clear();
        let synthetic = format!(
            "GET / HTTP/1.1\r\nhost: edge\r\n{TOKEN_HEADER}: {}\r\nconnection: close\r\n\r\n",
            self.token
        );
        self.ready.extend_from_slice(synthetic.as_bytes());
        self.state = State::Closed;
    }
}

/// The header naming a connection's synthetic request (the value is its secret token).
pub const TOKEN_HEADER: &str = "x-gateway-edge-refusal";

impl<IO: AsyncRead + Unpin> AsyncRead for Guard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_at < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.ready_at);
                buf.put_slice(&this.ready[this.ready_at..this.ready_at + n]);
                this.ready_at += n;
                return Poll::Ready(Ok(()));
            }
            match this.state {
                // nothing more, ever: not an end of stream, which hyper would take for the
                // client going away and drop the synthetic request unanswered
                State::Closed => return Poll::Pending,
                // the bulk of a body goes straight into hyper's buffer
                State::Untracked if this.pending.is_empty() => {
                    return Pin::new(&mut this.io).poll_read(cx, buf);
                }
                State::Body(left)
                    if this.pending.is_empty() && (buf.remaining() as u64) <= left =>
                {
                    let before = buf.filled().len();
                    ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
                    let n = (buf.filled().len() - before) as u64;
                    this.state = if n == left {
                        State::Head
                    } else {
                        State::Body(left - n)
                    };
                    return Poll::Ready(Ok(()));
                }
                _ => {}
            }
            if !this.pending.is_empty() && this.advance() {
                continue;
            }
            // more bytes to look at
            let mut scratch = [0u8; SCRATCH];
            let mut sbuf = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut sbuf))?;
            if sbuf.filled().is_empty() {
                // end of stream: whatever is pending goes to hyper, which sees the truncation
                let n = this.pending.len();
                this.release(n);
                if this.ready_at == this.ready.len() {
                    return Poll::Ready(Ok(()));
                }
                this.state = State::Untracked;
                continue;
            }
            this.pending.extend_from_slice(sbuf.filled());
            this.advance();
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Guard<IO> {
    /// A write's outcome under the send timeout: pending writes start (or keep) a clock,
    /// which fails the write once it reaches the timeout.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.stalled_since = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.send_timeout;
                let clock = self
                    .stalled_since
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match clock.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client read nothing of its response for the send timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, data);
        this.timed(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.timed(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_flush(cx);
        this.timed(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            // between requests with nothing unread, there is nothing to linger for
            if this.state == State::Head && this.pending.is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.linger = Some(Linger {
                until: Box::pin(tokio::time::sleep(LINGER)),
                left: LINGER_BYTES,
            });
        }
        let Some(linger) = this.linger.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let mut scratch = [0u8; SCRATCH];
        while linger.left > 0 {
            let mut sbuf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut sbuf) {
                Poll::Ready(Ok(())) if !sbuf.filled().is_empty() => {
                    linger.left = linger.left.saturating_sub(sbuf.filled().len());
                }
                // the client's end, or an error: nothing more to wait for
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return linger.until.as_mut().poll(cx).map(Ok),
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// What a look at a (possibly partial) head decides.
#[derive(Debug)]
enum Check {
    /// Incomplete, within the limits: read more.
    Partial,
    /// A head of this many bytes, and how what follows it is framed.
    Pass(usize, State),
    /// Refused.
    Refuse(Refusal),
}

/// Check the head at the start of `bytes` as hyper would parse it, under `limits`.
fn check_head(bytes: &[u8], limits: &HeadLimits) -> Check {
    let refuse = |reason| Check::Refuse(refusal(bytes, reason));
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            let target = request_line(bytes).map_or(0, |(_, target, _)| target.len());
            return if target > limits.max_uri_bytes {
                refuse(Reason::TargetTooLong)
            } else if bytes.len() > limits.max_header_bytes {
                refuse(Reason::HeadTooLarge)
            } else {
                Check::Partial
            };
        }
        Err(httparse::Error::TooManyHeaders) => return refuse(Reason::TooManyHeaders),
        Err(httparse::Error::Token) if req.method.is_some() && req.path.is_none() => {
            return refuse(Reason::InvalidTarget);
        }
        Err(_) => return refuse(Reason::Malformed),
    };
    if len > limits.max_header_bytes {
        return refuse(Reason::HeadTooLarge);
    }
    let target = req.path.unwrap_or_default();
    if target.len() > limits.max_uri_bytes {
        return refuse(Reason::TargetTooLong);
    }
    if http::Uri::try_from(target).is_err() {
        return refuse(Reason::InvalidTarget);
    }
    match framing(req.headers, req.version == Some(1)) {
        Ok(next) => Check::Pass(len, next),
        Err(reason) => refuse(reason),
    }
}

/// How the body after a head is framed, by hyper's rules, and stricter where two readers
/// of the same bytes could disagree (request smuggling): one `Content-Length` only, never
/// beside `Transfer-Encoding`.
fn framing(headers: &[httparse::Header<'_>], http11: bool) -> Result<State, Reason> {
    let mut length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(h.value).map_err(|_| Reason::InvalidContentLength)?;
            let value = value.trim_matches([' ', '\t']);
            if length.is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Reason::InvalidContentLength);
            }
            length = Some(value.parse().map_err(|_| Reason::InvalidContentLength)?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let value =
                std::str::from_utf8(h.value).map_err(|_| Reason::InvalidTransferEncoding)?;
            codings.extend(value.split(',').map(|c| c.trim().to_ascii_lowercase()));
        }
    }
    if codings.is_empty() {
        return Ok(match length {
            Some(n) if n > 0 => State::Body(n),
            _ => State::Head,
        });
    }
    let chunked_last = codings.last().is_some_and(|c| c == "chunked")
        && codings.iter().filter(|c| *c == "chunked").count() == 1;
    if length.is_some() || !http11 || !chunked_last {
        return Err(Reason::InvalidTransferEncoding);
    }
    Ok(State::Chunked(Chunk::default()))
}

/// The request line's method and target (as far as it goes), and whether the target is
/// complete; `None` before the method's end.
fn request_line(bytes: &[u8]) -> Option<(&[u8], &[u8], bool)> {
    let start = bytes.iter().position(|b| !matches!(b, b'\r' | b'\n'))?;
    let line = &bytes[start..];
    let sp = line.iter().position(|&b| b == b' ')?;
    let rest = &line[sp + 1..];
    Some(
        match rest
            .iter()
            .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        {
            Some(end) => (&line[..sp], &rest[..end], true),
            None => (&line[..sp], rest, false),
        },
    )
}

/// What is known of a refused head.
fn refusal(bytes: &[u8], reason: Reason) -> Refusal {
    let (method, target) = match request_line(bytes) {
        Some((m, t, _)) => (Some(m), t),
        None => (None, &[][..]),
    };
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    // enough of the path to find its owner, never a huge string
    let path = String::from_utf8_lossy(&path[..path.len().min(1024)]).into_owned();
    let method = method
        .filter(|m| !m.is_empty() && m.iter().all(u8::is_ascii_alphabetic))
        .map(|m| String::from_utf8_lossy(m).into_owned());
    Refusal {
        reason,
        method,
        path,
    }
}

/// Where a chunked body's framing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Chunk {
    phase: Phase,
    /// Data bytes left in the current chunk, or the size being read.
    n: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// The size's hex digits.
    #[default]
    Size,
    /// After the size: extensions, up to the end of the line.
    Extension,
    /// The data.
    Data,
    /// The line end after the data.
    DataEnd,
    /// A trailer line (or the final empty line), at its start.
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
}

impl Chunk {
    /// Follow `bytes`: how many belong to this body, and whether it ended there (`Some(true)`)
    /// or its framing could not be followed (`Some(false)`, every byte given up to hyper).
    fn advance(&mut self, bytes: &[u8]) -> (usize, Option<bool>) {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match self.phase {
                Phase::Size => match (b as char).to_digit(16) {
                    Some(d) => match self.n.checked_mul(16) {
                        Some(n) => self.n = n + u64::from(d),
                        None => return (bytes.len(), Some(false)),
                    },
                    None if b == b'\n' => self.end_of_size_line(),
                    None => self.phase = Phase::Extension,
                },
                Phase::Extension => {
                    if b == b'\n' {
                        self.end_of_size_line();
                    }
                }
                Phase::Data => {
                    let take =
                        usize::try_from(self.n).map_or(bytes.len() - i, |n| n.min(bytes.len() - i));
                    self.n -= take as u64;
                    i += take;
                    if self.n == 0 {
                        self.phase = Phase::DataEnd;
                    }
                    continue;
                }
                Phase::DataEnd => {
                    if b == b'\n' {
                        self.phase = Phase::Size;
                    } else if b != b'\r' {
                        return (bytes.len(), Some(false));
                    }
                }
                Phase::TrailerStart => match b {
                    b'\n' => return (i + 1, Some(true)),
                    b'\r' => {}
                    _ => self.phase = Phase::Trailer,
                },
                Phase::Trailer => {
                    if b == b'\n' {
                        self.phase = Phase::TrailerStart;
                    }
                }
            }
            i += 1;
        }
        (i, None)
    }

    fn end_of_size_line(&mut self) {
        self.phase = if self.n == 0 {
            Phase::TrailerStart
        } else {
            Phase::Data
        };
    }
}

#[cfg(test)]
mod tests {
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
}
